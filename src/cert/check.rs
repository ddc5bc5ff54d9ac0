//! Checking certificates on the auditor's machine: is it genuine, unaltered, by a trusted
//! signer, well-formed, and does it say `passed`?
//!
//! Each certificate is checked on its own (so thousands go in parallel) and yields one
//! [`Checked`] line; the first problem found is the one reported, in the order a forger would
//! have to get past them: signature file present, signer trusted, signature valid, trusted
//! comment consistent with the document, document well-formed, status `passed`.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{signature_path, Certificate, CERT_SCHEMA};
use crate::engine::Status;
use crate::sign::{self, PublicKey};

/// Why a certificate does not check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file or its signature cannot be read.
    Unreadable(String),
    /// No `.minisig` beside it.
    Unsigned,
    /// Signed by a key that is not among the trusted ones.
    UnknownSigner { key_id: String },
    /// The signature does not match the bytes: the file (or its trusted comment) was altered.
    Tampered(String),
    /// Signed correctly but not a certificate this massho understands.
    Malformed(String),
    /// Genuine, but the wipe it certifies did not pass.
    NotPassed(Status),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unreadable(e) => write!(f, "unreadable: {e}"),
            Problem::Unsigned => f.write_str("unsigned: no .minisig signature file beside it"),
            Problem::UnknownSigner { key_id } => write!(
                f,
                "unknown signer: key {key_id} is not trusted (pass its public key with --pubkey or put it in the --trusted directory)"
            ),
            Problem::Tampered(e) => write!(f, "TAMPERED: {e}"),
            Problem::Malformed(e) => write!(f, "malformed: {e}"),
            Problem::NotPassed(s) => write!(f, "genuine, but the wipe status is {}", s.name()),
        }
    }
}

/// The verdict on one certificate file.
#[derive(Debug, Clone)]
pub struct Checked {
    pub path: PathBuf,
    /// Present once the signature has been verified.
    pub certificate: Option<Certificate>,
    /// Key id of the signer, once known.
    pub signer: Option<String>,
    pub problem: Option<Problem>,
}

impl Checked {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Check every certificate in `files` against the `trusted` keys, in parallel, in input order.
pub fn check_all(files: &[PathBuf], trusted: &[PublicKey]) -> Vec<Checked> {
    files.par_iter().map(|f| check(f, trusted)).collect()
}

/// Check one certificate file.
pub fn check(path: &Path, trusted: &[PublicKey]) -> Checked {
    let mut out = Checked {
        path: path.to_owned(),
        certificate: None,
        signer: None,
        problem: None,
    };
    out.problem = check_into(path, trusted, &mut out).err();
    out
}

fn check_into(path: &Path, trusted: &[PublicKey], out: &mut Checked) -> Result<(), Problem> {
    let bytes = std::fs::read(path).map_err(|e| Problem::Unreadable(e.to_string()))?;
    let sig_path = signature_path(path);
    let minisig = match std::fs::read_to_string(&sig_path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Problem::Unsigned),
        Err(e) => return Err(Problem::Unreadable(format!("{}: {e}", sig_path.display()))),
    };
    let key_id = sign::signature_key_id(&minisig)
        .map_err(|e| Problem::Malformed(format!("signature file: {e}")))?;
    out.signer = Some(key_id.clone());
    let key = trusted
        .iter()
        .find(|k| k.key_id() == key_id)
        .ok_or(Problem::UnknownSigner { key_id })?;
    let verified =
        sign::verify(key, &bytes, &minisig).map_err(|e| Problem::Tampered(e.to_string()))?;
    let cert: Certificate = serde_json::from_slice(&bytes)
        .map_err(|e| Problem::Malformed(format!("not a massho certificate: {e}")))?;
    if cert.schema != CERT_SCHEMA {
        return Err(Problem::Malformed(format!(
            "schema {:?}; this massho reads {CERT_SCHEMA}",
            cert.schema
        )));
    }
    if verified.trusted_comment != cert.trusted_comment() {
        return Err(Problem::Tampered(format!(
            "the signed comment {:?} does not describe this document",
            verified.trusted_comment
        )));
    }
    if cert.status != cert.wipe.status {
        return Err(Problem::Malformed(
            "status disagrees with the wipe's status".into(),
        ));
    }
    let status = cert.status;
    out.certificate = Some(cert);
    match status {
        Status::Passed => Ok(()),
        other => Err(Problem::NotPassed(other)),
    }
}

/// The certificate files named on the command line: files as given, directories expanded to
/// the `*.json` files directly inside them, sorted.
pub fn expand(args: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(arg)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(arg.clone());
        }
    }
    Ok(files)
}
