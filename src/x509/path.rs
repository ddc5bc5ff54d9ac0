//! Certificates, trust anchors and certification paths (RFC 5280 §6, the subset massho needs).
//!
//! A path runs from the signer's certificate through the intermediates the `.p7s` carries to a
//! trust anchor the auditor named with `--ca`. Each link is a name match and a verified signature;
//! then every certificate on the path is checked at one instant: its validity period, the CA
//! flag and keyCertSign of issuers (and their path-length limits), digitalSignature or
//! nonRepudiation of the signer, and no critical extension massho does not process. Revocation
//! (CRLs) is checked afterwards on the path found, in `revocation`.

use std::path::PathBuf;

use der::asn1::ObjectIdentifier;
use der::{Decode, Reader as _, SliceReader};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::Certificate;

use super::algorithms::{verify_signature, DigestAlg, VerifyError};
use super::Failure;
use crate::input::{self, InputError};

const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const ID_CE_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const ID_CE_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const ID_CE_CERTIFICATE_POLICIES: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.32");
const ID_CE_AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");

/// Extensions whose meaning massho applies (or that do not restrict a signature's validity), so
/// that marking them critical does not make a certificate unusable. Any other critical extension
/// (name constraints, policy constraints, ...) makes the certificate refused: RFC 5280 §4.2.
const PROCESSED: [ObjectIdentifier; 7] = [
    ID_CE_SUBJECT_KEY_IDENTIFIER,
    ID_CE_KEY_USAGE,
    ID_CE_SUBJECT_ALT_NAME,
    ID_CE_BASIC_CONSTRAINTS,
    ID_CE_CERTIFICATE_POLICIES,
    ID_CE_AUTHORITY_KEY_IDENTIFIER,
    ID_CE_EXT_KEY_USAGE,
];

/// At most this many CAs between the signer and the anchor.
const MAX_DEPTH: usize = 8;
/// At most this many signature checks while looking for a path: a `.p7s` full of certificates
/// with one name cannot make path building take forever.
const MAX_SIGNATURE_CHECKS: usize = 64;
/// At most this many certificates in one `.p7s` or in the trust anchors given.
pub(crate) const MAX_CERTIFICATES: usize = 256;

/// One X.509 certificate: its DER as received, the to-be-signed part exactly as signed, parsed.
#[derive(Debug, Clone)]
pub struct Cert {
    pub der: Vec<u8>,
    tbs_der: Vec<u8>,
    pub cert: Certificate,
}

impl Cert {
    pub fn from_der(der: &[u8]) -> Result<Cert, String> {
        let cert =
            Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate ({e})"))?;
        // The issuer signed the TBSCertificate bytes as they are in the file, which a re-encoding
        // of the parsed value need not reproduce.
        let tbs_der = signed_part(der).map_err(|e| format!("not an X.509 certificate ({e})"))?;
        // RFC 5280 §4.1.1.2: the outer signatureAlgorithm, which the issuer's signature does
        // not cover, must be the signed one.
        if cert.signature_algorithm != cert.tbs_certificate.signature {
            return Err(
                "not an X.509 certificate (its signatureAlgorithm differs from the signed one)"
                    .into(),
            );
        }
        Ok(Cert {
            der: der.to_vec(),
            tbs_der,
            cert,
        })
    }

    /// The subject as RFC 4514 text.
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    fn issuer(&self) -> String {
        self.cert.tbs_certificate.issuer.to_string()
    }

    pub(crate) fn subject_key_identifier(&self) -> Option<SubjectKeyIdentifier> {
        let ext = self.extension(ID_CE_SUBJECT_KEY_IDENTIFIER)?;
        SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes()).ok()
    }

    fn extension(&self, oid: ObjectIdentifier) -> Option<&x509_cert::ext::Extension> {
        self.cert
            .tbs_certificate
            .extensions
            .as_deref()?
            .iter()
            .find(|e| e.extn_id == oid)
    }

    /// Whether `issuer`'s key signed this certificate.
    fn signed_by(&self, issuer: &Cert) -> Result<(), VerifyError> {
        let alg = &self.cert.signature_algorithm;
        let hash = DigestAlg::of_signature_algorithm(&alg.oid).ok_or_else(|| {
            VerifyError::Unsupported(format!("certificate signature algorithm {}", alg.oid))
        })?;
        let signature = self.cert.signature.as_bytes().ok_or(VerifyError::Invalid)?;
        verify_signature(
            &issuer.cert.tbs_certificate.subject_public_key_info,
            alg,
            hash,
            &hash.digest(&self.tbs_der),
            signature,
        )
    }

    /// The validity period as Unix seconds.
    pub(crate) fn validity(&self) -> (i64, i64) {
        let v = &self.cert.tbs_certificate.validity;
        let secs = |t: &x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        (secs(&v.not_before), secs(&v.not_after))
    }

    /// Refuse a certificate outside its validity at `at`.
    pub(crate) fn check_validity(&self, at: time::OffsetDateTime) -> Result<(), Failure> {
        let (not_before, not_after) = self.validity();
        let now = at.unix_timestamp();
        let show = |secs: i64| {
            time::OffsetDateTime::from_unix_timestamp(secs)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| secs.to_string())
        };
        if now > not_after {
            return Err(Failure::Expired(format!(
                "certificate {} expired at {}, before the verification time {}",
                self.subject(),
                show(not_after),
                show(now)
            )));
        }
        if now < not_before {
            return Err(Failure::NotYetValid(format!(
                "certificate {} is not valid before {}, after the verification time {}",
                self.subject(),
                show(not_before),
                show(now)
            )));
        }
        Ok(())
    }

    fn key_usage(&self) -> Result<Option<KeyUsage>, Failure> {
        self.extension(ID_CE_KEY_USAGE)
            .map(|e| {
                KeyUsage::from_der(e.extn_value.as_bytes()).map_err(|e| {
                    Failure::KeyUsage(format!(
                        "certificate {}: unreadable keyUsage ({e})",
                        self.subject()
                    ))
                })
            })
            .transpose()
    }

    /// A document signer's certificate: keyUsage present with digitalSignature or
    /// nonRepudiation (contentCommitment).
    pub(crate) fn check_signer_usage(&self) -> Result<(), Failure> {
        let usage = self.key_usage()?.ok_or_else(|| {
            Failure::KeyUsage(format!(
                "certificate {} has no keyUsage extension; a signing certificate must allow digitalSignature or nonRepudiation",
                self.subject()
            ))
        })?;
        if usage.0.contains(KeyUsages::DigitalSignature)
            || usage.0.contains(KeyUsages::NonRepudiation)
        {
            Ok(())
        } else {
            Err(Failure::KeyUsage(format!(
                "certificate {} allows neither digitalSignature nor nonRepudiation (its keyUsage is {:?}); it may not sign documents",
                self.subject(),
                usage.0
            )))
        }
    }

    /// An issuer on the path: basicConstraints cA, keyCertSign if keyUsage is present, and a
    /// path-length limit that allows the `below` CAs under it.
    fn check_ca(&self, below: usize) -> Result<(), Failure> {
        let not_ca = |why: String| Failure::NotCa(format!("certificate {} {why}", self.subject()));
        let bc = self.extension(ID_CE_BASIC_CONSTRAINTS).ok_or_else(|| {
            not_ca("issued a certificate but has no basicConstraints extension".into())
        })?;
        let bc = BasicConstraints::from_der(bc.extn_value.as_bytes())
            .map_err(|e| not_ca(format!("has an unreadable basicConstraints ({e})")))?;
        if !bc.ca {
            return Err(not_ca(
                "issued a certificate but is not a CA (basicConstraints cA is false)".into(),
            ));
        }
        if let Some(limit) = bc.path_len_constraint {
            if below > usize::from(limit) {
                return Err(not_ca(format!(
                    "allows {limit} CA(s) below it (pathLenConstraint) but the path has {below}"
                )));
            }
        }
        if let Some(usage) = self.key_usage()? {
            if !usage.0.contains(KeyUsages::KeyCertSign) {
                return Err(not_ca(
                    "issued a certificate but its keyUsage lacks keyCertSign".into(),
                ));
            }
        }
        Ok(())
    }

    fn check_critical_extensions(&self) -> Result<(), Failure> {
        for ext in self
            .cert
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or(&[])
        {
            if ext.critical && !PROCESSED.contains(&ext.extn_id) {
                return Err(Failure::Unsupported(format!(
                    "certificate {} has a critical extension {} that massho does not process",
                    self.subject(),
                    ext.extn_id
                )));
            }
        }
        Ok(())
    }
}

/// The first element inside the outer SEQUENCE of a signed structure (a certificate's
/// TBSCertificate, a CRL's TBSCertList), exactly as its bytes stand in `der`: what the issuer
/// signed, which a re-encoding of the parsed value need not reproduce.
pub(crate) fn signed_part(der: &[u8]) -> der::Result<Vec<u8>> {
    let mut reader = SliceReader::new(der)?;
    der::Header::decode(&mut reader)?;
    reader.tlv_bytes().map(<[u8]>::to_vec)
}

/// Every certificate in a PEM text (each CERTIFICATE block, other blocks ignored) or, if it is
/// not PEM, the one DER certificate.
pub fn certificates_in(bytes: &[u8]) -> Result<Vec<Cert>, String> {
    let pem = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| t.contains("-----BEGIN"));
    let Some(text) = pem else {
        return Ok(vec![Cert::from_der(bytes)?]);
    };
    let mut found = Vec::new();
    for (label, der) in super::material::pem_blocks(text)? {
        if label == "CERTIFICATE" {
            if found.len() >= MAX_CERTIFICATES {
                return Err(format!("more than {MAX_CERTIFICATES} certificates"));
            }
            found.push(Cert::from_der(&der)?);
        }
    }
    Ok(found)
}

/// The CA certificates an auditor trusts (`--ca FILE|DIR`).
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    anchors: Vec<Cert>,
}

/// Why the trust anchors cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("cannot list {}: {source}", path.display())]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {detail}; pass CA certificates as PEM or DER files", path.display())]
    Bad { path: PathBuf, detail: String },
    #[error("no CA certificate found in {}; pass the CA certificates (PEM or DER, *.pem *.crt *.cer *.der in a directory)", path.display())]
    Empty { path: PathBuf },
}

impl TrustAnchors {
    /// The anchors, as read (the evidence store keeps the one a path ended in).
    pub fn certificates(&self) -> &[Cert] {
        &self.anchors
    }

    /// Read every CA certificate in `paths`: files as given (PEM with one or more certificates,
    /// or DER), directories expanded to their `*.pem`, `*.crt`, `*.cer` and `*.der` entries.
    pub fn load(paths: &[PathBuf]) -> Result<TrustAnchors, AnchorError> {
        let mut anchors = Vec::new();
        for path in paths {
            let files = if path.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|source| AnchorError::List {
                        path: path.clone(),
                        source,
                    })?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.extension()
                            .and_then(|x| x.to_str())
                            .is_some_and(|x| matches!(x, "pem" | "crt" | "cer" | "der"))
                    })
                    .collect();
                files.sort();
                files
            } else {
                vec![path.clone()]
            };
            let before = anchors.len();
            for file in files {
                let bytes = input::read_regular(&file, "CA certificate", input::limit::X509)?;
                let found = certificates_in(&bytes).map_err(|detail| AnchorError::Bad {
                    path: file.clone(),
                    detail,
                })?;
                anchors.extend(found);
                if anchors.len() > MAX_CERTIFICATES {
                    return Err(AnchorError::Bad {
                        path: file,
                        detail: format!("more than {MAX_CERTIFICATES} CA certificates in all"),
                    });
                }
            }
            if anchors.len() == before {
                return Err(AnchorError::Empty { path: path.clone() });
            }
        }
        Ok(TrustAnchors { anchors })
    }

    /// Whether `cert` itself (these exact bytes) was given as a trust anchor.
    pub fn contains(&self, cert: &Cert) -> bool {
        self.anchors.iter().any(|a| a.der == cert.der)
    }
}

/// The path from `leaf` to a trust anchor, leaf first and anchor last, checked at `at`.
pub(crate) fn validate(
    leaf: &Cert,
    intermediates: &[Cert],
    anchors: &TrustAnchors,
    at: time::OffsetDateTime,
) -> Result<Vec<Cert>, Failure> {
    validate_for(leaf, intermediates, anchors, at, LeafUse::Document)
}

/// What the leaf certificate of a path is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafUse {
    /// Signing documents: digitalSignature or nonRepudiation.
    Document,
    /// A TSA's certificate: its timeStamping extended key usage is checked with the token
    /// (`timestamp::verify_tsa_signature`), so keyUsage is not required here.
    Timestamping,
}

/// [`validate`] for a leaf used as `leaf_use`.
pub(crate) fn validate_for(
    leaf: &Cert,
    intermediates: &[Cert],
    anchors: &TrustAnchors,
    at: time::OffsetDateTime,
    leaf_use: LeafUse,
) -> Result<Vec<Cert>, Failure> {
    let mut search = Search {
        intermediates,
        anchors: &anchors.anchors,
        checks: 0,
        bad_link: None,
        furthest: None,
        furthest_len: 0,
    };
    let mut path = vec![leaf.clone()];
    if !search.extend(&mut path) {
        return Err(search.bad_link.unwrap_or_else(|| {
            let last = search.furthest.as_ref().unwrap_or(leaf);
            Failure::UnknownCa(format!(
                "no trusted CA issued {} (issuer {}); pass that CA's certificate with --ca, or the signer is not one you trust",
                last.subject(),
                last.issuer()
            ))
        }));
    }
    for cert in &path {
        cert.check_critical_extensions()?;
    }
    for cert in &path {
        cert.check_validity(at)?;
    }
    if leaf_use == LeafUse::Document {
        leaf.check_signer_usage()?;
    }
    // path[1] is the leaf's issuer; path[i] has i - 1 CAs below it (the leaf is not a CA).
    for (i, ca) in path.iter().enumerate().skip(1) {
        ca.check_ca(i - 1)?;
    }
    Ok(path)
}

struct Search<'a> {
    intermediates: &'a [Cert],
    anchors: &'a [Cert],
    checks: usize,
    /// A certificate whose issuer was found by name but whose signature did not verify.
    bad_link: Option<Failure>,
    /// The end of the longest chain found, to name where it stops.
    furthest: Option<Cert>,
    furthest_len: usize,
}

impl Search<'_> {
    /// Extend `path` (ending at a certificate not yet linked) to an anchor; true when found.
    fn extend(&mut self, path: &mut Vec<Cert>) -> bool {
        let Some(current) = path.last().cloned() else {
            return false;
        };
        if path.len() > self.furthest_len {
            self.furthest_len = path.len();
            self.furthest = Some(current.clone());
        }
        // A certificate that is itself trusted ends the path.
        if path.len() > 1 && self.anchors.iter().any(|a| a.der == current.der) {
            return true;
        }
        let issuer = &current.cert.tbs_certificate.issuer;
        for anchor in self
            .anchors
            .iter()
            .filter(|a| &a.cert.tbs_certificate.subject == issuer)
        {
            if self.link(&current, anchor) {
                path.push(anchor.clone());
                return true;
            }
        }
        if path.len() > MAX_DEPTH {
            return false;
        }
        for next in self.intermediates {
            if &next.cert.tbs_certificate.subject != issuer
                || path.iter().any(|p| p.der == next.der)
            {
                continue;
            }
            if self.link(&current, next) {
                path.push(next.clone());
                if self.extend(path) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }

    fn link(&mut self, child: &Cert, issuer: &Cert) -> bool {
        if self.checks >= MAX_SIGNATURE_CHECKS {
            return false;
        }
        self.checks += 1;
        match child.signed_by(issuer) {
            Ok(()) => true,
            Err(e) => {
                let failure = match e {
                    VerifyError::Invalid => Failure::Tampered(format!(
                        "the signature of {} by {} does not verify: a certificate was altered",
                        child.subject(),
                        issuer.subject()
                    )),
                    other => Failure::Unsupported(format!(
                        "certificate {} signed by {}: {other}",
                        child.subject(),
                        issuer.subject()
                    )),
                };
                self.bad_link.get_or_insert(failure);
                false
            }
        }
    }
}
