//! The certificate half of `massho wipe`: checked and prepared before anything is written (so
//! a missing key or a wrong passphrase never surfaces after hours of wiping), issued per device
//! once the wipes are done.

use std::path::PathBuf;

use anyhow::Context;

use super::args::{CertIssueArgs, PurposeArg};
use super::ExitError;
use crate::cert::{self, Certificate, Disposition, IssueContext};
use crate::result::WipeResult;
use crate::sign::{self, SecretKey};

/// Everything needed to issue certificates after the wipe.
pub struct Certifier {
    dir: PathBuf,
    key: SecretKey,
    context: IssueContext,
    /// Asset tags in device order (empty: none given).
    assets: Vec<String>,
}

/// What to tell the operator when certificates were asked for but cannot be signed.
pub const NO_KEY_WARNING: &str = "NO SIGNED CERTIFICATE WILL BE PRODUCED: no signing key. Create one with `massho key generate`, or pass --key KEY";

/// Validate the certificate options and load the signing key. `Ok(None)` when no certificate
/// was asked for, or when no key exists (the caller warns loudly and wipes anyway).
pub fn prepare(args: &CertIssueArgs, devices: usize) -> anyhow::Result<Option<Certifier>> {
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
            _ => {
                eprintln!("massho: warning: {NO_KEY_WARNING}");
                return Ok(None);
            }
        },
    };
    let prompt = format!("Passphrase for {}: ", key_path.display());
    let key = SecretKey::from_file(&key_path, &|| sign::passphrase_from_env_or_tty(&prompt))
        .map_err(|e| ExitError::usage(e.to_string()))?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create certificate directory {}", dir.display()))?;
    Ok(Some(Certifier {
        dir: dir.clone(),
        key,
        context: IssueContext {
            organization: args.org.clone(),
            operator,
            witness: args.witness.clone(),
            asset_tag: None,
            disposition,
        },
        assets: args.asset.clone(),
    }))
}

impl Certifier {
    /// Use these asset tags (one per device, in order), e.g. as the ledger knows them.
    pub fn set_assets(&mut self, assets: Vec<String>) {
        self.assets = assets;
    }

    pub fn operator(&self) -> &str {
        &self.context.operator
    }

    /// Issue the certificate for the `index`-th device's result.
    pub fn issue(
        &self,
        index: usize,
        result: &WipeResult,
        local_offset: time::UtcOffset,
    ) -> anyhow::Result<(Certificate, cert::Issued)> {
        let mut context = self.context.clone();
        context.asset_tag = self.assets.get(index).cloned();
        // Read the medium again, now that the wipe has released it: what is left on it?
        let after = crate::device::signatures::probe(&result.device).ok();
        let certificate = Certificate::new(result.clone(), &context, after, local_offset);
        let files = cert::issue(&certificate, &self.key, &self.dir)?;
        Ok((certificate, files))
    }
}
