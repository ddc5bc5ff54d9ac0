//! Issuing a device's certificate as soon as its wipe ends: the signing key, loaded and checked
//! before anything is written, and who signs, why and for which asset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cert::{self, Certificate, IssueContext};
use crate::device::binding::MediumIdentity;
use crate::result::WipeResult;
use crate::sign::SecretKey;
use crate::x509::{SignerMaterial, SigningOptions};

/// Everything needed to issue certificates.
#[derive(Clone)]
pub struct Certifier {
    dir: PathBuf,
    key: SecretKey,
    /// The organisation's X.509 signer: each certificate also gets a `.p7s`.
    x509: Option<Arc<SignerMaterial>>,
    /// How the `.p7s` is made beyond B-B (a TSA, validation data).
    x509_options: Arc<SigningOptions>,
    context: IssueContext,
}

/// A certificate as issued: the document, where its files are, and the exact JSON bytes that
/// were signed and written (what a ledger records a hash of).
pub struct IssuedCertificate {
    pub certificate: Certificate,
    pub files: cert::Issued,
    pub json: Vec<u8>,
}

impl Certifier {
    /// A certifier writing into `dir`, which must exist and be writable (see
    /// [`ensure_writable_dir`]).
    pub fn new(dir: PathBuf, key: SecretKey, context: IssueContext) -> Certifier {
        Certifier {
            dir,
            key,
            x509: None,
            x509_options: Arc::new(SigningOptions::default()),
            context,
        }
    }

    /// Also sign every certificate with `signer` (a detached CAdES `<id>.json.p7s`).
    pub fn with_x509(self, signer: SignerMaterial) -> Certifier {
        Certifier {
            x509: Some(Arc::new(signer)),
            ..self
        }
    }

    /// Make every `.p7s` as `options` say: B-T from a TSA, validation data embedded.
    pub fn with_x509_options(self, options: SigningOptions) -> Certifier {
        Certifier {
            x509_options: Arc::new(options),
            ..self
        }
    }

    pub fn operator(&self) -> &str {
        &self.context.operator
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Issue the certificate for `result`, naming `asset` as the medium's asset tag.
    pub fn issue(
        &self,
        result: &WipeResult,
        asset: Option<&str>,
        local_offset: time::UtcOffset,
    ) -> Result<IssuedCertificate, cert::CertError> {
        let mut context = self.context.clone();
        context.asset_tag = asset.map(str::to_owned);
        // Read the medium again, now that the wipe has released it: what is left on it? A
        // probe that fails is recorded as unknown (`None`), never as "no signatures".
        let after = probe_same_medium(result);
        let certificate = Certificate::new(result.clone(), &context, after, local_offset);
        let x509 = self.x509.as_deref().map(|s| (s, &*self.x509_options));
        let (files, json) = cert::issue_bytes_with(&certificate, &self.key, x509, &self.dir)?;
        Ok(IssuedCertificate {
            certificate,
            files,
            json,
        })
    }
}

/// What libblkid finds on `result`'s medium now, read by its name: `None` (unknown) unless
/// the name still names the medium that was written through, before and after the probe. Once
/// the wipe has released it, a hot-swap bay or a renamed image can put another medium under
/// the name, and its contents must not be signed as what the wipe left.
fn probe_same_medium(result: &WipeResult) -> Option<Vec<crate::device::Signature>> {
    let same = || match &result.identity {
        Some(bound) => {
            MediumIdentity::of_path(&result.device).is_ok_and(|now| bound.changes(&now).is_empty())
        }
        // A result without an identity (older front ends) cannot be compared.
        None => true,
    };
    if !same() {
        return None;
    }
    let found = crate::device::signatures::probe(&result.device).ok()?;
    same().then_some(found)
}

/// Create `dir` if needed and prove that a file can be written, fsynced and removed there:
/// a certificate or result directory that cannot be written is found before a wipe, not after.
pub fn ensure_writable_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".massho-probe-{}", uuid::Uuid::new_v4().simple()));
    crate::atomic::create_new(&probe, b"", None)?;
    std::fs::remove_file(&probe)
}
