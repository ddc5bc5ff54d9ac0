//! X.509 signatures beside minisign: a detached CAdES signature `<id>.json.p7s` (CMS SignedData,
//! SHA-256, RSA PKCS#1 v1.5 or ECDSA P-256, signing-certificate-v2, the chain included) over the
//! exact bytes of a certificate, made with an organisation's certificate from a CA, so that an
//! auditor's own tools (`openssl cms -verify`, and later PDF readers) accept it.
//!
//! Why beside minisign and not instead: minisign is what anyone can check offline with one small
//! tool and one public key; an X.509 signature is what the records regulation asks of a document
//! standing in for a seal (Art. 30: an electronic signature with a certificate from a
//! certification authority). Both sign the same bytes.
//!
//! [`SignerMaterial`] loads the key, certificate and chain (PKCS#12 or PEM); [`sign_detached`]
//! makes the `.p7s`; [`verify_detached`] checks one against [`TrustAnchors`] at a given time.
//! [`signature_timestamp_imprint`] / [`attach_signature_timestamp`] make it CAdES-B-T (an RFC 3161
//! token in the unsigned attributes) and [`embed_validation_data`] adds certificates and CRLs;
//! [`verify_detached_with`] checks the timestamp, the path at the timestamp's time, and
//! revocation from CRLs. Not done here: OCSP, archive timestamps (B-LTA), PAdES PDFs.

pub(crate) mod algorithms;
mod cades;
pub mod cms;
mod material;
mod path;
mod pkcs12;
mod revocation;
mod sign;
mod timestamp_check;
mod verify;

use std::path::{Path, PathBuf};

pub use cades::{
    attach_signature_timestamp, embed_validation_data, signature_timestamp_imprint,
    signature_timestamp_tokens, ValidationData, ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
};
pub use material::{PassphraseSource, SignerMaterial};
pub use path::{certificates_in, AnchorError, Cert, TrustAnchors};
pub use revocation::{Crl, RevocationReport};
pub use sign::sign_detached;
pub use timestamp_check::SignatureTimestamp;
// A PAdES document timestamp is checked like a signature timestamp (src/pdf/signed.rs).
pub(crate) use timestamp_check::{check as check_timestamp_token, TsaTrust};
pub use verify::{verify_detached, verify_detached_with, Verified, VerifyOptions};

/// `FILE.p7s`, where `openssl cms -verify -content FILE` users look for FILE's signature.
pub fn signature_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".p7s");
    PathBuf::from(s)
}

/// Why signing material cannot be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum X509Error {
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("{}: {detail}", path.display())]
    Format { path: PathBuf, detail: String },
    #[error("{}: {detail}, which massho does not read; convert it with OpenSSL 3: `openssl pkcs12 -legacy -in OLD.p12 -nodes -out bundle.pem`, then `openssl pkcs12 -export -in bundle.pem -out NEW.p12` (AES-256, SHA-256 MAC) or pass bundle.pem itself (delete it afterwards: it holds the key unencrypted)", path.display())]
    Legacy { path: PathBuf, detail: String },
    #[error("wrong passphrase for {} (its integrity check or decryption failed); try again, the passphrase is case-sensitive", path.display())]
    WrongPassphrase { path: PathBuf },
    #[error("{}: the private key belongs to none of its certificates ({}); put the signer's own certificate beside its key", path.display(), subjects.join("; "))]
    KeyMismatch {
        path: PathBuf,
        subjects: Vec<String>,
    },
    #[error("{}: {what}; massho signs with RSA or ECDSA P-256 keys", path.display())]
    UnsupportedKey { path: PathBuf, what: String },
    #[error("{}: {detail}; nothing was signed", path.display())]
    Unusable { path: PathBuf, detail: String },
    #[error("{0}")]
    Passphrase(String),
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// Why a `.p7s` does not check out. The message names what failed; the CLI adds the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// Not a readable detached CMS signature.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The signed bytes, the signature or a certificate were changed.
    #[error("TAMPERED: {0}")]
    Tampered(String),
    /// No path from the signer to a trust anchor.
    #[error("unknown CA: {0}")]
    UnknownCa(String),
    /// A certificate on the path had expired at the verification time.
    #[error("expired: {0}")]
    Expired(String),
    /// A certificate on the path was not yet valid at the verification time.
    #[error("not yet valid: {0}")]
    NotYetValid(String),
    /// The signer's certificate may not sign documents.
    #[error("wrong key usage: {0}")]
    KeyUsage(String),
    /// An issuer on the path is not allowed to issue certificates.
    #[error("not a CA: {0}")]
    NotCa(String),
    /// The signing-certificate-v2 attribute is missing or names another certificate.
    #[error("signing certificate: {0}")]
    SigningCertificate(String),
    /// An algorithm, key or extension massho does not process.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A certificate on the path was revoked before the signature is proven to exist.
    #[error("REVOKED: {0}")]
    Revoked(String),
    /// A CRL given or carried cannot be relied on (bad signature, expired, wrong issuer).
    #[error("revocation data: {0}")]
    Crl(String),
    /// The signature timestamp is unreadable, does not stamp this signature, or its TSA's
    /// signature does not verify.
    #[error("timestamp: {0}")]
    Timestamp(String),
    /// The timestamp was signed by a TSA that chains to no trust anchor given.
    #[error("untrusted TSA: {0}")]
    UntrustedTsa(String),
}
