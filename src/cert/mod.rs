//! Signed certificates of sanitization: issuing them after a wipe, checking them anywhere.
//!
//! A certificate is two files in a directory: `<id>.json`, the [`Certificate`] document, and
//! `<id>.json.minisig`, a minisign signature over its exact bytes, so an auditor can check it
//! with massho or with the stock `minisign -V`. An X.509 (CAdES) signature over the same bytes
//! may sit beside them as `<id>.json.p7s` (see [`crate::x509`]), and an RFC 3161 timestamp
//! token as `<id>.json.tsr`. Nothing here knows how bytes were written to a disk: it certifies the
//! [`crate::result::WipeResult`] it is handed.

pub mod check;
pub mod document;
pub mod pdf;
pub mod render;
pub mod summary;

use std::path::{Path, PathBuf};

pub use document::{Certificate, Disposition, IssueContext, ToolBuild, CERT_SCHEMA};

use crate::sign::{SecretKey, SignError};
use crate::x509::{SignerMaterial, X509Error};

/// Errors issuing or reading certificates.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot encode certificate {id}: {source}")]
    Encode {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot sign certificate {id}: {source}")]
    Sign {
        id: String,
        #[source]
        source: SignError,
    },
    #[error("cannot sign certificate {id} with the X.509 key: {source}")]
    X509Sign {
        id: String,
        #[source]
        source: X509Error,
    },
    #[error("cannot write {path}: {source}; the certificate was not issued")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The files of an issued certificate.
#[derive(Debug, Clone)]
pub struct Issued {
    pub json: PathBuf,
    pub signature: PathBuf,
    /// `<id>.json.p7s`, when an X.509 key signed it too.
    pub x509_signature: Option<PathBuf>,
    /// Why the `.p7s` has no signature timestamp although a TSA was asked (it stays B-B).
    pub x509_timestamp_problem: Option<String>,
}

/// `<dir>/<id>.json` and the signature beside it.
pub fn paths(dir: &Path, id: &str) -> Issued {
    let json = dir.join(format!("{id}.json"));
    Issued {
        signature: signature_path(&json),
        x509_signature: None,
        x509_timestamp_problem: None,
        json,
    }
}

/// `FILE.minisig`, where minisign looks for the signature of FILE.
pub fn signature_path(json: &Path) -> PathBuf {
    let mut s = json.as_os_str().to_owned();
    s.push(".minisig");
    PathBuf::from(s)
}

/// Sign `cert` with `key` and write both files into `dir`, never over an existing file. The
/// signature file is written first: a `.json` without its `.minisig` never appears.
pub fn issue(cert: &Certificate, key: &SecretKey, dir: &Path) -> Result<Issued, CertError> {
    issue_bytes(cert, key, None, dir).map(|(files, _)| files)
}

/// [`issue`], also signing with an X.509 key when given (`<id>.json.p7s`, written before the
/// JSON like the `.minisig`), and returning the exact JSON bytes that were signed and written.
pub fn issue_bytes(
    cert: &Certificate,
    key: &SecretKey,
    x509: Option<&SignerMaterial>,
    dir: &Path,
) -> Result<(Issued, Vec<u8>), CertError> {
    let options = crate::x509::SigningOptions::default();
    issue_bytes_with(cert, key, x509.map(|s| (s, &options)), dir)
}

/// [`issue_bytes`] with the X.509 signature made as `options` say (a TSA for B-T, validation
/// data to embed). A TSA that gives no timestamp leaves the `.p7s` B-B and says why in
/// [`Issued::x509_timestamp_problem`]; the certificate is issued all the same.
pub fn issue_bytes_with(
    cert: &Certificate,
    key: &SecretKey,
    x509: Option<(&SignerMaterial, &crate::x509::SigningOptions)>,
    dir: &Path,
) -> Result<(Issued, Vec<u8>), CertError> {
    let id = cert.certificate_id.clone();
    let mut json = serde_json::to_vec_pretty(cert).map_err(|source| CertError::Encode {
        id: id.clone(),
        source,
    })?;
    json.push(b'\n');
    let untrusted = format!("massho certificate {id}; verify: minisign -Vm {id}.json -p KEY.pub");
    let minisig = key
        .sign(&json, &untrusted, &cert.trusted_comment())
        .map_err(|source| CertError::Sign {
            id: id.clone(),
            source,
        })?;
    let signed = x509
        .map(|(signer, options)| crate::x509::sign_cades(&json, signer, options))
        .transpose()
        .map_err(|source| CertError::X509Sign {
            id: id.clone(),
            source,
        })?;
    let mut files = paths(dir, &id);
    files.x509_timestamp_problem = signed
        .as_ref()
        .and_then(|s| s.timestamp_problem.as_ref())
        .map(ToString::to_string);
    let p7s = signed.map(|s| s.p7s);
    files.x509_signature = p7s
        .as_ref()
        .map(|_| crate::x509::signature_path(&files.json));
    let mut writes: Vec<(&PathBuf, &[u8])> = vec![(&files.signature, minisig.as_bytes())];
    if let (Some(path), Some(p7s)) = (&files.x509_signature, &p7s) {
        writes.push((path, p7s));
    }
    writes.push((&files.json, &json));
    for (path, bytes) in writes {
        crate::atomic::create_new(path, bytes, None).map_err(|source| CertError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok((files, json))
}
