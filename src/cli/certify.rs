//! The certificate options of `massho wipe`, checked before anything is written: the signing
//! key is loaded (a missing key or a wrong passphrase never surfaces after hours of wiping) and
//! the certificate directory proven writable.

use super::args::{CertIssueArgs, PurposeArg, X509SigningArgs};
use super::ExitError;
use crate::cert::{Disposition, IssueContext};
use crate::job::certify::{ensure_writable_dir, Certifier};
use crate::sign::{self, SecretKey};
use crate::x509::{SignerMaterial, SigningOptions, ValidationData, X509Error};

/// Validate the certificate options and load the signing key. `Ok(None)` when no certificate
/// was asked for. Asking for certificates without a usable key or directory is refused: a wipe
/// that was meant to be certified does not start uncertified.
pub fn prepare(args: &CertIssueArgs, devices: usize) -> anyhow::Result<Option<Certifier>> {
    prepare_with(args, devices, &|prompt: &str| {
        sign::passphrase_from_env_or_tty(prompt)
    })
}

/// [`prepare`], asking for the key's passphrase (when it has one) through `passphrase`, which
/// gets the prompt: the console has its own field for it, the terminal is its screen.
pub fn prepare_with(
    args: &CertIssueArgs,
    devices: usize,
    passphrase: &dyn Fn(&str) -> Result<String, sign::SignError>,
) -> anyhow::Result<Option<Certifier>> {
    let Some(dir) = &args.cert_dir else {
        return Ok(None);
    };
    let disposition = match args.purpose {
        PurposeArg::LeaseReturn => match (&args.lessor, &args.contract) {
            (Some(lessor), Some(contract)) => Disposition::LeaseReturn {
                lessor: lessor.clone(),
                contract: contract.clone(),
            },
            _ => {
                return Err(ExitError::usage(
                    "--purpose lease-return needs --lessor NAME and --contract NO",
                ))
            }
        },
        _ if args.lessor.is_some() || args.contract.is_some() => {
            return Err(ExitError::usage(
                "--lessor and --contract go with --purpose lease-return",
            ))
        }
        PurposeArg::Disposal => Disposition::Disposal,
        PurposeArg::Reuse => Disposition::Reuse,
    };
    if !args.asset.is_empty() && args.asset.len() != devices {
        return Err(ExitError::usage(format!(
            "{} --asset tag(s) for {devices} device(s): give one per device, in the same order",
            args.asset.len()
        )));
    }
    let operator = match args.operator.as_deref().map(str::trim) {
        Some(o) if !o.is_empty() => o.to_owned(),
        _ => return Err(ExitError::usage("--cert-dir needs --operator NAME")),
    };
    let key_path = match &args.key {
        Some(k) => k.clone(),
        None => match sign::default_key_dir().map(|d| d.join("massho.key")) {
            Some(k) if k.exists() => k,
            other => {
                return Err(ExitError::usage(format!(
                    "--cert-dir asks for signed certificates, and there is no signing key{}: create one with `massho key generate`, or pass --key KEY; nothing was written",
                    other.map_or(String::new(), |k| format!(" ({})", k.display()))
                )))
            }
        },
    };
    let prompt = format!("Passphrase for {}: ", key_path.display());
    let key = SecretKey::from_file(&key_path, &|| passphrase(&prompt))
        .map_err(|e| ExitError::usage(format!("{e}; nothing was written")))?;
    let x509 = args
        .x509_key
        .as_deref()
        .map(load_x509_signer)
        .transpose()
        .map_err(|e| ExitError::usage(format!("{e}; nothing was written")))?;
    ensure_writable_dir(dir).map_err(|e| {
        ExitError::refused(format!(
            "cannot write certificates into {}: {e}; choose a writable --cert-dir; nothing was written",
            dir.display()
        ))
    })?;
    let certifier = Certifier::new(
        dir.clone(),
        key,
        IssueContext {
            organization: args.org.clone(),
            operator,
            witness: args.witness.clone(),
            asset_tag: None,
            disposition,
        },
    );
    Ok(Some(match x509 {
        Some(signer) => {
            let options = x509_signing_options(&args.x509, &signer)
                .map_err(|e| ExitError::usage(format!("{e:#}; nothing was written")))?;
            certifier.with_x509(signer).with_x509_options(options)
        }
        None => certifier,
    }))
}

/// How `signer`'s `.p7s` files are made beyond B-B: the TSA URL checked, the validation data
/// read and its CRLs checked against the signer's chain, before anything is signed or wiped.
pub fn x509_signing_options(
    args: &X509SigningArgs,
    signer: &SignerMaterial,
) -> anyhow::Result<SigningOptions> {
    if let Some(url) = &args.tsa_url {
        crate::timestamp::http::check_url(url)?;
    }
    let validation = if args.validation_data.is_empty() {
        ValidationData::default()
    } else {
        let data = ValidationData::load(&args.validation_data)?;
        let mut chain = vec![signer.signer().clone()];
        chain.extend(signer.chain().iter().cloned());
        let given: Vec<String> = args
            .validation_data
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        data.check_for_signing(&chain, time::OffsetDateTime::now_utc())
            .map_err(|e| anyhow::anyhow!("--validation-data {}: {e}", given.join(", ")))?;
        data
    };
    Ok(SigningOptions {
        tsa_url: args.tsa_url.clone(),
        validation,
    })
}

/// The organisation's X.509 signing key, certificate and chain, with the passphrase asked for
/// as the minisign key's is (terminal, or $MASSHO_PASSPHRASE_FILE), never from an argument.
pub fn load_x509_signer(path: &std::path::Path) -> Result<SignerMaterial, X509Error> {
    let prompt = format!("Passphrase for {}: ", path.display());
    SignerMaterial::load(path, &|| {
        sign::passphrase_from_env_or_tty(&prompt).map_err(|e| X509Error::Passphrase(e.to_string()))
    })
}
