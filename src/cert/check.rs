//! Checking certificates on the auditor's machine: is it genuine, unaltered, by a trusted
//! signer, well-formed, and does it say `passed`?
//!
//! A certificate's files (the JSON, its `.minisig`, its `.tsr`) are read once into a
//! [`CertFiles`] through [`crate::input::read_regular`]; every check, and whatever the caller
//! records afterwards, uses those same bytes, so a file swapped mid-way cannot be recorded
//! unchecked. Each certificate is checked on its own (so thousands go in parallel) and yields
//! one [`Checked`] line; the first problem found is the one reported, in the order a forger would
//! have to get past them: signature file present, signer trusted, signature valid, trusted
//! comment consistent with the document, document well-formed, file named after its id, status
//! `passed`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use super::{signature_path, Certificate, CERT_SCHEMA};
use crate::engine::Status;
use crate::input::{self, limit, InputError};
use crate::sign::{self, PublicKey};
use crate::text::{path_safe, terminal_safe};
use crate::timestamp;
use crate::x509::{self, TrustAnchors};

/// Why a certificate does not check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file or its signature cannot be read.
    Unreadable(String),
    /// No `.minisig` beside it.
    Unsigned,
    /// Signed by a key that is not among the trusted ones.
    UnknownSigner { key_id: String },
    /// Two different trusted keys claim the signer's key id: which one vouches is undecidable.
    AmbiguousSigner {
        key_id: String,
        origins: Vec<String>,
    },
    /// The signature does not match the bytes: the file (or its trusted comment) was altered.
    Tampered(String),
    /// Signed correctly but not a certificate this massho understands.
    Malformed(String),
    /// Genuine, but the file is not named `<certificate id>.json`.
    Misnamed { certificate_id: String },
    /// Genuine, but another file holds the same certificate id.
    Duplicate {
        certificate_id: String,
        other: PathBuf,
    },
    /// Genuine, but the wipe it certifies did not pass.
    NotPassed(Status),
    /// The timestamp token is missing (when a TSA certificate was given), does not cover this
    /// certificate and its signature, or is not signed by the given TSA.
    Timestamp(String),
    /// X.509 trust anchors were given, and there is no `.p7s` beside the certificate.
    X509Unsigned,
    /// The `.p7s` does not check out against the trust anchors.
    X509(x509::Failure),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key ids, ids and reasons can quote a hostile file: shown escaped, never run.
        match self {
            Problem::Unreadable(e) => write!(f, "unreadable: {}", terminal_safe(e)),
            Problem::Unsigned => f.write_str("unsigned: no .minisig signature file beside it"),
            Problem::UnknownSigner { key_id } => write!(
                f,
                "unknown signer: key {} is not trusted (pass its public key with --pubkey or put it in the --trusted directory)",
                terminal_safe(key_id)
            ),
            Problem::AmbiguousSigner { key_id, origins } => write!(
                f,
                "ambiguous signer: the trusted keys {} all claim key id {}; keep only the one the signer gave you",
                origins.iter().map(|o| terminal_safe(o).into_owned()).collect::<Vec<_>>().join(" and "),
                terminal_safe(key_id)
            ),
            Problem::Tampered(e) => write!(f, "TAMPERED: {}", terminal_safe(e)),
            Problem::Malformed(e) => write!(f, "malformed: {}", terminal_safe(e)),
            Problem::Misnamed { certificate_id } => write!(
                f,
                "misnamed: it holds certificate {0}, so it must be named {0}.json; a copy under another name can be counted twice",
                terminal_safe(certificate_id)
            ),
            Problem::Duplicate {
                certificate_id,
                other,
            } => write!(
                f,
                "duplicate: {} holds the same certificate {}; count it once",
                path_safe(other),
                terminal_safe(certificate_id)
            ),
            Problem::NotPassed(s) => write!(f, "genuine, but the wipe status is {}", s.name()),
            Problem::Timestamp(e) => write!(f, "timestamp: {}", terminal_safe(e)),
            Problem::X509Unsigned => f.write_str(
                "unsigned (X.509): no .p7s signature beside it; sign it with `massho cert sign-x509`",
            ),
            Problem::X509(e) => write!(f, "X.509 signature: {}", terminal_safe(&e.to_string())),
        }
    }
}

/// A certificate's files, each read once, whole, and only if it is a regular file of a sane
/// size. What was read here is what is checked and what the caller may record.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate file, `<id>.json`.
    pub path: PathBuf,
    pub json: Vec<u8>,
    /// `<id>.json.minisig`; `None` when there is none.
    pub minisig: Option<Vec<u8>>,
    /// `<id>.json.tsr`; `None` when there is none.
    pub token: Option<Vec<u8>>,
    /// `<id>.json.p7s`, the X.509 signature; `None` when there is none.
    pub p7s: Option<Vec<u8>>,
}

impl CertFiles {
    /// Read the certificate at `path` and the signatures and timestamp token beside it. A missing
    /// signature or token is not an error here (the check reports it); a FIFO, device, directory
    /// or oversized file in any of those places is.
    pub fn read(path: &Path) -> Result<CertFiles, InputError> {
        let json = input::read_regular(path, "certificate", limit::CERTIFICATE)?;
        let optional = |p: PathBuf, what, max| match input::read_regular(&p, what, max) {
            Ok(b) => Ok(Some(b)),
            Err(InputError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        Ok(CertFiles {
            minisig: optional(signature_path(path), "signature file", limit::SIGNATURE)?,
            token: optional(
                timestamp::token_path(path),
                "timestamp token",
                limit::TIMESTAMP,
            )?,
            p7s: optional(x509::signature_path(path), "X.509 signature", limit::X509)?,
            path: path.to_owned(),
            json,
        })
    }
}

/// A timestamp token that covers the certificate and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// The TSA's time as the token states it.
    pub time: String,
    /// Whether the token's signature was verified against the TSA certificate given. Without
    /// that, anyone could have made the token: its time is a claim, not evidence.
    pub tsa_verified: bool,
}

impl Timestamp {
    /// How the timestamp is shown to people: the time only once a TSA vouched for it.
    pub fn describe(&self) -> String {
        if self.tsa_verified {
            terminal_safe(&self.time).into_owned()
        } else {
            "unverified timestamp: check it with --tsa-cert TSA.pem".to_owned()
        }
    }
}

/// The verdict on one certificate file.
#[derive(Debug, Clone)]
pub struct Checked {
    pub path: PathBuf,
    /// Present once the signature has been verified.
    pub certificate: Option<Certificate>,
    /// SHA-256 of the certificate bytes that were checked (lower-case hex), once read.
    pub json_sha256: Option<String>,
    /// Key id of the signer, once known.
    pub signer: Option<String>,
    /// A timestamp token that covers this certificate and its signature.
    pub timestamp: Option<Timestamp>,
    /// The X.509 signer's subject, once its `.p7s` has been verified against trust anchors.
    pub x509_signer: Option<String>,
    /// Everything the verified `.p7s` vouches for (its timestamp, the time its path was
    /// checked at, what the CRLs said).
    pub x509: Option<x509::Verified>,
    pub problem: Option<Problem>,
}

impl Checked {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }

    /// Whether everything but the wipe's status checks out: signed by a trusted key, well-formed,
    /// named after its id, the only file with that id, its timestamp (if any) in order. Such a
    /// certificate's status may be counted; the status itself may still be bad.
    pub fn genuine(&self) -> bool {
        self.certificate.is_some() && matches!(self.problem, None | Some(Problem::NotPassed(_)))
    }
}

/// What a certificate is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// Trusted minisign keys. When empty and X.509 anchors are given, the `.minisig` is not
    /// checked (an X.509-only auditor); otherwise it must be signed by one of them.
    pub keys: &'a [PublicKey],
    /// With a TSA certificate, every certificate must carry a timestamp token signed by it.
    pub tsa_cert: Option<&'a [u8]>,
    /// With X.509 trust anchors, every certificate must carry a `.p7s` whose signer chains to one.
    pub anchors: Option<&'a TrustAnchors>,
    /// When the X.509 certification path must be valid (unless a verified signature timestamp
    /// in the `.p7s` names an earlier time).
    pub at: time::OffsetDateTime,
    /// TSA certificates trusted as they are, for the `.p7s`'s signature timestamp.
    pub tsa_certs: &'a [x509::Cert],
    /// Certificates and CRLs the auditor adds for X.509 paths and revocation.
    pub validation: Option<&'a x509::ValidationData>,
}

impl<'a> Trust<'a> {
    /// Minisign keys only.
    pub fn minisign(keys: &'a [PublicKey]) -> Trust<'a> {
        Trust {
            keys,
            tsa_cert: None,
            anchors: None,
            at: time::OffsetDateTime::now_utc(),
            tsa_certs: &[],
            validation: None,
        }
    }

    /// X.509 validation material besides the anchors: TSA certificates trusted as they are,
    /// and certificates and CRLs.
    pub fn with_x509_material(
        self,
        tsa_certs: &'a [x509::Cert],
        validation: Option<&'a x509::ValidationData>,
    ) -> Trust<'a> {
        Trust {
            tsa_certs,
            validation,
            ..self
        }
    }

    pub fn with_tsa(self, tsa_cert: Option<&'a [u8]>) -> Trust<'a> {
        Trust { tsa_cert, ..self }
    }

    pub fn with_anchors(self, anchors: Option<&'a TrustAnchors>) -> Trust<'a> {
        Trust { anchors, ..self }
    }

    fn minisign_checked(&self) -> bool {
        !self.keys.is_empty() || self.anchors.is_none()
    }
}

/// Check every certificate in `files` against `trust`, in parallel, in input order. Two files
/// holding one certificate id are both reported: counted once, not twice.
pub fn check_all(files: &[CertFiles], trust: &Trust<'_>) -> Vec<Checked> {
    let mut checked: Vec<Checked> = files.par_iter().map(|f| check_files(f, trust)).collect();
    let mut first_of: HashMap<String, usize> = HashMap::new();
    for i in 0..checked.len() {
        let Some(id) = checked[i]
            .certificate
            .as_ref()
            .map(|c| c.certificate_id.clone())
        else {
            continue;
        };
        match first_of.get(&id) {
            None => {
                first_of.insert(id, i);
            }
            Some(&first) => {
                let (a, b) = (checked[first].path.clone(), checked[i].path.clone());
                for (at, other) in [(first, b), (i, a)] {
                    let dup = Problem::Duplicate {
                        certificate_id: id.clone(),
                        other,
                    };
                    // A worse problem (misnamed, not passed) stays the one reported.
                    if checked[at].problem.is_none() {
                        checked[at].problem = Some(dup);
                    }
                }
            }
        }
    }
    checked
}

/// Check one certificate's files, already read.
pub fn check_files(files: &CertFiles, trust: &Trust<'_>) -> Checked {
    let mut out = Checked {
        path: files.path.clone(),
        certificate: None,
        json_sha256: Some(hex::encode(Sha256::digest(&files.json))),
        signer: None,
        timestamp: None,
        x509_signer: None,
        x509: None,
        problem: None,
    };
    out.problem = check_into(files, trust, &mut out).err();
    out
}

/// Read and check one certificate file.
pub fn check(path: &Path, trust: &Trust<'_>) -> Checked {
    match CertFiles::read(path) {
        Ok(files) => check_files(&files, trust),
        Err(e) => Checked {
            path: path.to_owned(),
            certificate: None,
            json_sha256: None,
            signer: None,
            timestamp: None,
            x509_signer: None,
            x509: None,
            problem: Some(Problem::Unreadable(e.to_string())),
        },
    }
}

/// The timestamp token of `files`, if any: its time, after checking that it covers the
/// certificate and its signature and, with `tsa_cert`, that the TSA signed it.
pub fn check_timestamp(
    files: &CertFiles,
    tsa_cert: Option<&[u8]>,
) -> Result<Option<Timestamp>, Problem> {
    let token_path = timestamp::token_path(&files.path);
    let (Some(token), Some(minisig)) = (&files.token, &files.minisig) else {
        return match tsa_cert {
            Some(_) => Err(Problem::Timestamp(format!(
                "no token {}; request one with `massho cert timestamp-request`",
                path_safe(&token_path)
            ))),
            None => Ok(None),
        };
    };
    let digest = timestamp::message_digest(&files.json, minisig);
    let info = timestamp::check_token(token, &digest)
        .map_err(|e| Problem::Timestamp(format!("{}: {e}", path_safe(&token_path))))?;
    if let Some(cert) = tsa_cert {
        timestamp::verify_tsa_signature(token, cert)
            .map_err(|e| Problem::Timestamp(format!("{}: {e}", path_safe(&token_path))))?;
    }
    Ok(Some(Timestamp {
        time: info.gen_time,
        tsa_verified: tsa_cert.is_some(),
    }))
}

/// The trusted key for `key_id`: one key, however often it was given; two different keys with
/// one id are refused rather than tried in turn (the wrong one would report a false TAMPERED).
fn signer_key<'k>(trusted: &'k [PublicKey], key_id: &str) -> Result<&'k PublicKey, Problem> {
    let mut matching = trusted.iter().filter(|k| k.key_id() == key_id);
    let Some(first) = matching.next() else {
        return Err(Problem::UnknownSigner {
            key_id: key_id.to_owned(),
        });
    };
    let others: Vec<&PublicKey> = matching.filter(|k| *k != first).collect();
    if others.is_empty() {
        return Ok(first);
    }
    Err(Problem::AmbiguousSigner {
        key_id: key_id.to_owned(),
        origins: std::iter::once(first)
            .chain(others)
            .map(|k| k.origin().to_owned())
            .collect(),
    })
}

fn check_into(files: &CertFiles, trust: &Trust<'_>, out: &mut Checked) -> Result<(), Problem> {
    let bytes = &files.json;
    let mut signed_comment = None;
    if trust.minisign_checked() {
        let minisig = files.minisig.as_deref().ok_or(Problem::Unsigned)?;
        let minisig = std::str::from_utf8(minisig)
            .map_err(|_| Problem::Malformed("signature file: not text".into()))?;
        let key_id = sign::signature_key_id(minisig)
            .map_err(|e| Problem::Malformed(format!("signature file: {e}")))?;
        out.signer = Some(key_id.clone());
        let key = signer_key(trust.keys, &key_id)?;
        let verified =
            sign::verify(key, bytes, minisig).map_err(|e| Problem::Tampered(e.to_string()))?;
        signed_comment = Some(verified.trusted_comment);
    }
    if let Some(anchors) = trust.anchors {
        let p7s = files.p7s.as_deref().ok_or(Problem::X509Unsigned)?;
        let none = x509::ValidationData::default();
        let verified = x509::verify_detached_with(
            bytes,
            p7s,
            &x509::VerifyOptions {
                anchors,
                at: trust.at,
                tsa_certs: trust.tsa_certs,
                validation: trust.validation.unwrap_or(&none),
            },
        )
        .map_err(Problem::X509)?;
        // An X.509-only auditor who names a TSA expects a B-T signature.
        if !trust.minisign_checked() && trust.tsa_cert.is_some() && verified.timestamp.is_none() {
            return Err(Problem::X509(x509::Failure::Timestamp(
                "the .p7s has no signature timestamp; add one with `massho cert timestamp-request --x509` and `timestamp-attach --x509`".into(),
            )));
        }
        out.x509_signer = Some(verified.signer.clone());
        out.x509 = Some(verified);
    }
    let cert: Certificate = serde_json::from_slice(bytes)
        .map_err(|e| Problem::Malformed(format!("not a massho certificate: {e}")))?;
    if cert.schema != CERT_SCHEMA {
        return Err(Problem::Malformed(format!(
            "schema {:?}; this massho reads {CERT_SCHEMA}",
            cert.schema
        )));
    }
    if let Some(comment) = signed_comment {
        if comment != cert.trusted_comment() {
            return Err(Problem::Tampered(format!(
                "the signed comment {comment:?} does not describe this document"
            )));
        }
    }
    if cert.status != cert.wipe.status {
        return Err(Problem::Malformed(
            "status disagrees with the wipe's status".into(),
        ));
    }
    let status = cert.status;
    let id = cert.certificate_id.clone();
    out.certificate = Some(cert);
    let expected_name = format!("{id}.json");
    if files.path.file_name() != Some(std::ffi::OsStr::new(&expected_name)) {
        return Err(Problem::Misnamed { certificate_id: id });
    }
    // The .tsr stamps the .minisig: its TSA is checked only when the .minisig is; an X.509-only
    // auditor's --tsa-cert is for the .p7s's own signature timestamp.
    let tsa_cert = trust.tsa_cert.filter(|_| trust.minisign_checked());
    out.timestamp = check_timestamp(files, tsa_cert)?;
    match status {
        Status::Passed => Ok(()),
        other => Err(Problem::NotPassed(other)),
    }
}

/// The certificate files named on the command line: files as given, directories expanded to
/// the `*.json` entries directly inside them, sorted. Entries that are not regular files are
/// kept, so that reading them reports them instead of skipping them silently.
pub fn expand(args: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(arg)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
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
        let path = dir.join(format!("{}.json", cert.certificate_id));
        std::fs::write(&path, &bytes).unwrap();
        std::fs::write(signature_path(&path), sig).unwrap();
        (path, key.public_key())
    }

    #[test]
    fn the_untouched_example_checks_out() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = signed_example(dir.path());
        let c = check(&path, &Trust::minisign(&[key]));
        assert!(c.ok(), "{:?}", c.problem);
        assert_eq!(c.signer.as_deref(), Some("0807060504030201"));
    }

    /// What is checked is what was read: the file changing on disk afterwards changes neither
    /// the verdict nor the SHA-256 handed back, so a caller records exactly what was verified.
    #[test]
    fn the_bytes_read_once_are_the_bytes_checked_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = signed_example(dir.path());
        let files = CertFiles::read(&path).unwrap();
        let original = std::fs::read(&path).unwrap();
        std::fs::write(&path, b"{\"swapped\": true}\n").unwrap();
        let c = check_files(&files, &Trust::minisign(std::slice::from_ref(&key)));
        assert!(c.ok(), "{:?}", c.problem);
        assert_eq!(
            c.json_sha256.as_deref(),
            Some(hex::encode(Sha256::digest(&original)).as_str())
        );
        assert_eq!(files.json, original);
        // Read afresh, the swapped file is refused.
        assert!(!check(&path, &Trust::minisign(&[key])).ok());
    }

    #[test]
    fn fifos_beside_a_certificate_are_refused_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = signed_example(dir.path());
        let token = timestamp::token_path(&path);
        nix::unistd::mkfifo(&token, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = CertFiles::read(&path).unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("FIFO"), "{e}");
        assert!(e.to_string().contains("timestamp token"), "{e}");
    }

    #[test]
    fn a_copy_under_another_name_and_a_second_copy_are_problems() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = signed_example(dir.path());
        let copy = dir.path().join("copy.json");
        std::fs::copy(&path, &copy).unwrap();
        std::fs::copy(signature_path(&path), signature_path(&copy)).unwrap();
        let c = check(&copy, &Trust::minisign(std::slice::from_ref(&key)));
        assert!(
            matches!(c.problem, Some(Problem::Misnamed { .. })),
            "{:?}",
            c.problem
        );
        assert!(c.certificate.is_some() && !c.genuine());

        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let twin = other.join(path.file_name().unwrap());
        std::fs::copy(&path, &twin).unwrap();
        std::fs::copy(signature_path(&path), signature_path(&twin)).unwrap();
        let files: Vec<CertFiles> = [&path, &twin]
            .iter()
            .map(|p| CertFiles::read(p).unwrap())
            .collect();
        let all = check_all(&files, &Trust::minisign(&[key]));
        for (c, other) in all.iter().zip([&twin, &path]) {
            match &c.problem {
                Some(Problem::Duplicate { other: o, .. }) => assert_eq!(o, other),
                p => panic!("{}: {p:?}", c.path.display()),
            }
        }
    }

    #[test]
    fn two_trusted_keys_with_one_id_are_ambiguous_not_tampered() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = signed_example(dir.path());
        // Same key id as the signer's, different key.
        let impostor =
            SecretKey::from_seed_for_tests([9; 32], [1, 2, 3, 4, 5, 6, 7, 8]).public_key();
        assert_eq!(impostor.key_id(), key.key_id());
        let c = check(&path, &Trust::minisign(&[impostor.clone(), key.clone()]));
        match &c.problem {
            Some(p @ Problem::AmbiguousSigner { .. }) => {
                assert!(!p.to_string().contains("TAMPERED"), "{p}")
            }
            p => panic!("{p:?}"),
        }
        // The same key twice is harmless.
        assert!(check(&path, &Trust::minisign(&[key.clone(), key])).ok());
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
            let c = check(&path, &Trust::minisign(&keys));
            assert!(
                c.problem.is_some(),
                "round {round}: a mutated {} was accepted",
                target.display()
            );
            std::fs::write(target, original).unwrap();
        }
    }
}
