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
use crate::timestamp;

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
    /// The timestamp token is missing (when a TSA certificate was given), does not cover this
    /// certificate and its signature, or is not signed by the given TSA.
    Timestamp(String),
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
            Problem::Timestamp(e) => write!(f, "timestamp: {e}"),
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
    /// The TSA's time from a timestamp token that covers this certificate and its signature.
    pub timestamp: Option<String>,
    pub problem: Option<Problem>,
}

impl Checked {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Check every certificate in `files` against the `trusted` keys, in parallel, in input order.
/// With `tsa_cert`, every certificate must also carry a timestamp token signed by that TSA.
pub fn check_all(
    files: &[PathBuf],
    trusted: &[PublicKey],
    tsa_cert: Option<&[u8]>,
) -> Vec<Checked> {
    files
        .par_iter()
        .map(|f| check(f, trusted, tsa_cert))
        .collect()
}

/// Check one certificate file.
pub fn check(path: &Path, trusted: &[PublicKey], tsa_cert: Option<&[u8]>) -> Checked {
    let mut out = Checked {
        path: path.to_owned(),
        certificate: None,
        signer: None,
        timestamp: None,
        problem: None,
    };
    out.problem = check_into(path, trusted, tsa_cert, &mut out).err();
    out
}

/// The timestamp token beside `path`, if any: its time, after checking that it covers the
/// certificate and its signature and, with `tsa_cert`, that the TSA signed it.
fn check_timestamp(
    path: &Path,
    json: &[u8],
    minisig: &str,
    tsa_cert: Option<&[u8]>,
) -> Result<Option<String>, Problem> {
    let token_path = timestamp::token_path(path);
    let token = match std::fs::read(&token_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match tsa_cert {
                Some(_) => Err(Problem::Timestamp(format!(
                    "no token {}; request one with `massho cert timestamp-request`",
                    token_path.display()
                ))),
                None => Ok(None),
            }
        }
        Err(e) => return Err(Problem::Timestamp(format!("{}: {e}", token_path.display()))),
    };
    let digest = timestamp::message_digest(json, minisig.as_bytes());
    let info = timestamp::check_token(&token, &digest)
        .map_err(|e| Problem::Timestamp(format!("{}: {e}", token_path.display())))?;
    if let Some(cert) = tsa_cert {
        timestamp::verify_tsa_signature(&token, cert)
            .map_err(|e| Problem::Timestamp(format!("{}: {e}", token_path.display())))?;
    }
    Ok(Some(info.gen_time))
}

fn check_into(
    path: &Path,
    trusted: &[PublicKey],
    tsa_cert: Option<&[u8]>,
    out: &mut Checked,
) -> Result<(), Problem> {
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
    out.timestamp = check_timestamp(path, &bytes, &minisig, tsa_cert)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::SecretKey;

    /// The shipped example certificate, signed here with a test key.
    fn signed_example(dir: &Path) -> (PathBuf, PublicKey) {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/examples");
        let json = std::fs::read_dir(&examples)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .unwrap();
        let bytes = std::fs::read(&json).unwrap();
        let cert: Certificate = serde_json::from_slice(&bytes).unwrap();
        let key = SecretKey::from_seed_for_tests([7; 32], [1, 2, 3, 4, 5, 6, 7, 8]);
        let sig = key.sign(&bytes, "test", &cert.trusted_comment()).unwrap();
        let path = dir.join("c.json");
        std::fs::write(&path, &bytes).unwrap();
        std::fs::write(signature_path(&path), sig).unwrap();
        (path, key.public_key())
    }

    #[test]
    fn the_untouched_example_checks_out() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = signed_example(dir.path());
        let c = check(&path, &[key], None);
        assert!(c.ok(), "{:?}", c.problem);
        assert_eq!(c.signer.as_deref(), Some("0807060504030201"));
    }

    /// A cheap stand-in for fuzzing the certificate reader: every mutation of the signed file
    /// or of its signature is refused with a reason, and nothing panics.
    #[test]
    fn every_mutation_is_refused_and_nothing_panics() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = signed_example(dir.path());
        let keys = [key];
        let json = std::fs::read(&path).unwrap();
        let sig_path = signature_path(&path);
        let sig = std::fs::read(&sig_path).unwrap();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..400 {
            let (target, original) = if round % 2 == 0 {
                (&path, &json)
            } else {
                (&sig_path, &sig)
            };
            // minisign's first line, the untrusted comment, is by design not signed.
            let signed_from = if round % 2 == 0 {
                0
            } else {
                sig.iter().position(|&b| b == b'\n').unwrap() + 1
            };
            let mut bytes = original.clone();
            for _ in 0..(next() % 3 + 1) {
                if bytes.len() <= signed_from {
                    break;
                }
                let span = (bytes.len() - signed_from) as u64;
                let at = signed_from + (next() % span) as usize;
                match next() % 3 {
                    0 => bytes[at] ^= (next() % 255 + 1) as u8,
                    1 => {
                        bytes.truncate(at);
                    }
                    _ => bytes.insert(at, next() as u8),
                }
            }
            if &bytes == original {
                continue;
            }
            std::fs::write(target, &bytes).unwrap();
            let c = check(&path, &keys, None);
            assert!(
                c.problem.is_some(),
                "round {round}: a mutated {} was accepted",
                target.display()
            );
            std::fs::write(target, original).unwrap();
        }
    }
}
