//! RFC 3161 trusted timestamps over a signed certificate.
//!
//! Why: the records regulation massho serves (Art. 30) and the MHLW guideline (Ver.6.0 §14.2) want
//! a signature *plus* a timestamp from an accredited time-stamping authority over the whole
//! document, signature included; a PC clock is not evidence. A timestamp token proves the certificate and its signature existed, unchanged,
//! no later than the TSA's time.
//!
//! **What is timestamped.** A certificate is two files, `ID.json` and `ID.json.minisig`. The
//! timestamped message is their concatenation, and the imprint sent to the TSA is
//!
//! ```text
//! SHA-256( bytes of ID.json || bytes of ID.json.minisig )
//! ```
//!
//! with no separator, no normalisation, exactly the bytes on disk ([`message_digest`]). So anyone
//! can re-check a token with stock OpenSSL:
//!
//! ```text
//! openssl ts -verify -in ID.json.tsr -data <(cat ID.json ID.json.minisig) -CAfile tsa-ca.pem
//! ```
//!
//! **The files.** [`request`] makes a DER `TimeStampReq` (the `.tsq` handed to the TSA); the TSA's
//! whole `TimeStampResp` is stored beside the certificate as `ID.json.tsr` ([`token_path`]), as
//! returned, so OpenSSL can read it too. [`token_from_response`] accepts only a granted response;
//! [`check_token`] checks that a token covers a given certificate; [`verify_tsa_signature`] checks
//! the TSA's CMS signature with the TSA's certificate. Checking that certificate's chain to an
//! accredited root is left to the auditor's trust store (`openssl ts -verify -CAfile`).
//!
//! The ASN.1 lives in `asn1`, the signature check in `signature`. [`http`] asks a TSA over
//! HTTP (`--tsa-url`). The same tokens also go inside an X.509 signature as its signature
//! timestamp (CAdES-B-T, see [`crate::x509::attach_signature_timestamp`]); there the TSA's
//! chain *is* checked, against the verifier's `--ca` anchors.

mod asn1;
pub mod http;
mod resolve;
mod signature;
mod token;

use std::path::{Path, PathBuf};

use der::asn1::OctetString;
use der::{Any, Encode};
use rand_core::RngCore;
use sha2::{Digest, Sha256};
use x509_cert::spki::AlgorithmIdentifierOwned;

pub use signature::verify_tsa_signature;
pub use token::{
    check_token, token_certificates, token_from_response, token_has_nonce, token_imprint,
    token_time, TokenInfo,
};

/// What can go wrong with a timestamp. The CLI adds the path of the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum TimestampError {
    #[error(
        "could not draw a random nonce for the timestamp request: {0}; check that the system \
         random source works (getrandom)"
    )]
    Random(String),

    #[error("could not encode the timestamp request: {0} (a bug in massho; please report it)")]
    Encode(der::Error),

    #[error(
        "the timestamp response (.tsr) is not a readable RFC 3161 {what}: {detail}; pass the \
         binary .tsr exactly as the TSA returned it (not the .tsq, not base64 or PEM text)"
    )]
    Malformed { what: &'static str, detail: String },

    #[error(
        "the TSA refused the timestamp request: status {status}{detail}; fix what the TSA names \
         and send a fresh request (.tsq)"
    )]
    Rejected { status: String, detail: String },

    #[error(
        "the TSA answered {status} but the response (.tsr) holds no timestamp token; ask the TSA \
         again with the same .tsq"
    )]
    NoToken { status: String },

    #[error(
        "the timestamp token's imprint uses hash algorithm {oid}, not SHA-256; massho only \
         requests SHA-256 — make a new request (.tsq) with massho and send that to the TSA"
    )]
    ImprintAlgorithm { oid: String },

    #[error(
        "the timestamp token (.tsr) does not cover this certificate: it stamps SHA-256 {found}, \
         but the certificate and its .minisig hash to {expected}; one of the two files changed \
         after {gen_time}, or the .tsr belongs to another certificate — do not rely on this \
         certificate until you know which"
    )]
    ImprintMismatch {
        expected: String,
        found: String,
        gen_time: String,
    },

    #[error(
        "cannot read the TSA certificate: {detail}; pass the TSA's signing certificate as a PEM \
         or DER file (the one the TSA publishes)"
    )]
    TsaCert { detail: String },

    #[error(
        "the TSA certificate ({subject}) is not a timestamping certificate: {detail}; RFC 3161 \
         requires a critical extendedKeyUsage with only timeStamping — pass the TSA's signing \
         certificate, not its CA"
    )]
    NotTimestampingCert { subject: String, detail: String },

    #[error(
        "the timestamp token (.tsr) was not signed by this TSA certificate (token signer: \
         {signer}; certificate given: {cert}); pass the certificate of the TSA that issued it"
    )]
    SignerMismatch { signer: String, cert: String },

    #[error(
        "the timestamp token (.tsr) uses {what}, which massho cannot verify (it verifies RSA \
         PKCS#1 v1.5 and ECDSA P-256 with SHA-256/384/512); check it with `openssl ts -verify`"
    )]
    UnsupportedAlgorithm { what: String },

    #[error(
        "the TSA signature on the timestamp token (.tsr) does not verify: {detail}; the .tsr was \
         altered or damaged — do not rely on its time, and request a new timestamp if the \
         certificate itself still verifies"
    )]
    BadSignature { detail: String },

    #[error(
        "the timestamp time {gen_time} is outside the TSA certificate's validity ({not_before} \
         to {not_after}); check that you passed the TSA certificate in force at that time"
    )]
    OutsideValidity {
        gen_time: String,
        not_before: String,
        not_after: String,
    },
}

/// SHA-256 over the certificate bytes followed by its signature bytes.
pub fn message_digest(cert: &[u8], minisig: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(cert);
    hasher.update(minisig);
    hasher.finalize().into()
}

/// DER TimeStampReq (version 1, SHA-256 messageImprint, a random 64-bit nonce, certReq TRUE).
/// Returns (der, nonce).
///
/// certReq is set so the TSA puts its certificate in the token: an auditor then needs only the
/// CA certificate. No policy is requested; the TSA uses its default.
pub fn request(digest: &[u8; 32]) -> Result<(Vec<u8>, u64), TimestampError> {
    let mut nonce_bytes = [0u8; 8];
    rand_core::OsRng
        .try_fill_bytes(&mut nonce_bytes)
        .map_err(|e| TimestampError::Random(e.to_string()))?;
    let nonce = u64::from_be_bytes(nonce_bytes);
    let req = asn1::TimeStampReq {
        version: 1,
        message_imprint: asn1::MessageImprint {
            hash_algorithm: sha256_algorithm(),
            hashed_message: OctetString::new(digest.to_vec()).map_err(TimestampError::Encode)?,
        },
        req_policy: None,
        nonce: Some(nonce),
        cert_req: true,
        extensions: None,
    };
    let der = req.to_der().map_err(TimestampError::Encode)?;
    Ok((der, nonce))
}

/// Where the token lives beside a certificate: `ID.json.tsr` (store the full response as returned
/// by the TSA — openssl can re-verify it: `openssl ts -verify -in ID.json.tsr -data <(cat ID.json
/// ID.json.minisig) -CAfile ...`).
pub fn token_path(cert_path: &Path) -> PathBuf {
    let mut name = cert_path.as_os_str().to_os_string();
    name.push(".tsr");
    PathBuf::from(name)
}

/// SHA-256 with explicit NULL parameters, as OpenSSL writes it.
fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: asn1::ID_SHA256,
        parameters: Some(Any::null()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Decode;

    #[test]
    fn digest_is_sha256_of_the_concatenation() {
        let cert = b"{\"id\":1}\n";
        let sig = b"untrusted comment: x\nRWQ...\n";
        let mut both = cert.to_vec();
        both.extend_from_slice(sig);
        let expected: [u8; 32] = Sha256::digest(&both).into();
        assert_eq!(message_digest(cert, sig), expected);
        // The boundary matters only through the bytes: moving it does not change the digest,
        // which is why the definition is "the concatenation" and nothing more.
        assert_eq!(message_digest(&both[..3], &both[3..]), expected);
    }

    #[test]
    fn request_round_trips_and_carries_the_nonce() {
        let digest = [7u8; 32];
        let (der, nonce) = request(&digest).expect("request");
        let req = asn1::TimeStampReq::from_der(&der).expect("decode");
        assert_eq!(req.version, 1);
        assert_eq!(req.nonce, Some(nonce));
        assert!(req.cert_req);
        assert_eq!(req.message_imprint.hash_algorithm.oid, asn1::ID_SHA256);
        assert_eq!(req.message_imprint.hashed_message.as_bytes(), &digest);
        let (_, other) = request(&digest).expect("request");
        assert_ne!(nonce, other, "nonces must be fresh");
    }

    #[test]
    fn token_sits_beside_the_certificate() {
        assert_eq!(
            token_path(Path::new("/certs/abc.json")),
            PathBuf::from("/certs/abc.json.tsr")
        );
    }
}
