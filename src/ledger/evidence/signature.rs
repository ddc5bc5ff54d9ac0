//! A received document's signature, checked while its certificates are valid (Art. 30), and what
//! the ledger keeps of that check.
//!
//! A detached `.p7s` is checked with [`crate::x509::verify_detached`], a signed PDF with
//! [`crate::pdf::verify_signed_pdf`] (every signature dictionary, nothing but validation data
//! after a signed range), both against the trust anchors given with `--ca`, at the time of
//! recording. A signature that does not check out is not recorded as evidence at all.

use der::{Decode, Encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::x509;

/// What the signature check found, as recorded in the `evidence_added` event.
// A record made once per evidence file and serialized into its event: its size is of no
// consequence, and boxing the large variant would only complicate every construction.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SignatureCheck {
    /// No signature came with the file (a scan, a photo).
    Unsigned,
    /// The signature checked out against a trust anchor at `verified_at`.
    Verified {
        /// `p7s` (a detached CMS signature beside the file) or `pdf` (inside it).
        format: String,
        /// The `.p7s` as stored in the evidence store (none for a signature inside the file).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature_sha256: Option<String>,
        /// The signer's subject (RFC 4514); several signers of a PDF joined by "; ".
        signer: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signer_certificate_sha256: Option<String>,
        /// Subjects from the signer up to the trust anchor (a `.p7s`; a PDF's check names only
        /// the signer).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        path: Vec<String>,
        /// The signing time the signer claims (CMS signingTime, a PDF's /M), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signing_time: Option<String>,
        /// When massho checked it (UTC): the certificates were valid then.
        verified_at: String,
        /// A signature timestamp inside the `.p7s` (CAdES-B-T), checked: the TSA's time and
        /// name. The signer's path was then checked at that time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature_timestamp: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature_timestamp_tsa: Option<String>,
        /// The CA certificates it was checked against, kept in the evidence store: the anchor
        /// the path ended in (a `.p7s`), or every CA given with `--ca` (a PDF).
        trust_anchors_sha256: Vec<String>,
        /// What the CRLs at hand (the signature's own, a PDF's DSS, `--validation-data`,
        /// `--crl`) said about the signer's path.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revocation: Option<String>,
        /// The certificates and CRLs given with `--validation-data` / `--crl`, kept in the
        /// evidence store: the validation data the check used, for checking it again later.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        validation_data_sha256: Vec<String>,
    },
    /// A signature is there but was not checked (the reason says why).
    NotChecked {
        format: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature_sha256: Option<String>,
        reason: String,
    },
}

impl SignatureCheck {
    /// The store files it names (the `.p7s`, the trust anchor).
    pub fn blobs(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        match self {
            SignatureCheck::Unsigned => {}
            SignatureCheck::Verified {
                signature_sha256,
                trust_anchors_sha256,
                validation_data_sha256,
                ..
            } => {
                if let Some(s) = signature_sha256 {
                    out.push(("signature", s.as_str()));
                }
                for a in trust_anchors_sha256 {
                    out.push(("trust anchor", a.as_str()));
                }
                for v in validation_data_sha256 {
                    out.push(("validation data", v.as_str()));
                }
            }
            SignatureCheck::NotChecked {
                signature_sha256, ..
            } => {
                if let Some(s) = signature_sha256 {
                    out.push(("signature", s.as_str()));
                }
            }
        }
        out
    }

    /// One line for `media show`.
    pub fn describe(&self) -> String {
        match self {
            SignatureCheck::Unsigned => "unsigned".into(),
            SignatureCheck::Verified {
                format,
                signer,
                signing_time,
                verified_at,
                path,
                signature_timestamp,
                revocation,
                ..
            } => format!(
                "signature ({format}) verified at {verified_at}: signer {signer}{}{}{}{}",
                signing_time
                    .as_deref()
                    .map(|t| format!(", signed {t}"))
                    .unwrap_or_default(),
                signature_timestamp
                    .as_deref()
                    .map(|t| format!(", timestamped {t}"))
                    .unwrap_or_default(),
                path.last()
                    .map(|ca| format!(", CA {ca}"))
                    .unwrap_or_default(),
                revocation
                    .as_deref()
                    .map(|r| format!(", revocation: {r}"))
                    .unwrap_or_default()
            ),
            SignatureCheck::NotChecked { format, reason, .. } => {
                format!("signature ({format}) NOT CHECKED: {reason}")
            }
        }
    }
}

/// A `.p7s` that checked out: what [`x509::verify_detached`] vouches for, the signing time it
/// carries, and the trust anchor's certificate (validation data to keep).
#[derive(Debug, Clone)]
pub struct CheckedP7s {
    pub verified: x509::Verified,
    pub signing_time: Option<String>,
    pub anchor_der: Vec<u8>,
}

/// Check the detached signature `p7s` over `content` against `options` (trust anchors, TSA
/// certificates, validation data, the time).
pub fn check_p7s(
    content: &[u8],
    p7s: &[u8],
    options: &x509::VerifyOptions<'_>,
) -> Result<CheckedP7s, x509::Failure> {
    let verified = x509::verify_detached_with(content, p7s, options)?;
    let anchor_subject = verified.path.last().cloned().unwrap_or_default();
    let anchor_der = options
        .anchors
        .certificates()
        .iter()
        .find(|c| c.subject() == anchor_subject)
        .map(|c| c.der.clone())
        .ok_or_else(|| {
            x509::Failure::UnknownCa(format!(
                "the path ends in {anchor_subject}, which is not among the given CA certificates"
            ))
        })?;
    Ok(CheckedP7s {
        signing_time: signing_time(p7s),
        verified,
        anchor_der,
    })
}

/// The CMS signingTime attribute of a DER `.p7s`, if it has one (as the ledger writes times).
/// It is the signer's claim, recorded as such; the time evidence is the archive timestamp.
pub fn signing_time(p7s: &[u8]) -> Option<String> {
    let info = cms::content_info::ContentInfo::from_der(p7s).ok()?;
    let signed: x509::cms::SignedData = info.content.decode_as().ok()?;
    let signer = signed.signer_infos.0.iter().next()?;
    let attr = signer
        .signed_attrs
        .as_ref()?
        .iter()
        .find(|a| a.oid == x509::cms::ID_SIGNING_TIME)?;
    let value = attr.values.iter().next()?;
    let t = x509_cert::time::Time::from_der(&value.to_der().ok()?).ok()?;
    let secs = i64::try_from(t.to_unix_duration().as_secs()).ok()?;
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    crate::ledger::try_utc_string(t)
}

/// Whether `bytes` look like a PDF carrying a signature (a signature dictionary's /ByteRange).
pub fn is_signed_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-") && bytes.windows(10).any(|w| w == b"/ByteRange")
}

/// A signed PDF whose every signature checked out.
#[derive(Debug, Clone)]
pub struct CheckedPdf {
    /// The signers' subjects, joined by "; ".
    pub signer: String,
    /// The first signature's /M, as it claims it.
    pub claimed_time: Option<String>,
    /// The first verified signature timestamp (B-T), as "TIME (TSA ...)".
    pub timestamp: Option<String>,
    /// What the CRLs said, per signature, joined by " / ".
    pub revocation: Option<String>,
}

/// Check every signature of a signed PDF against `options`; `Err` says why it does not check
/// out (a bad signature, a change after signing, an unknown CA, a revoked signer...).
pub fn check_pdf(pdf: &[u8], options: &x509::VerifyOptions<'_>) -> Result<CheckedPdf, String> {
    let signed = crate::pdf::verify_signed_pdf(pdf, options)?;
    if let Some(problem) = signed.problem() {
        return Err(problem);
    }
    let signers: Vec<String> = signed
        .signatures
        .iter()
        .filter_map(|s| s.signer.clone())
        .collect();
    if signers.is_empty() {
        return Err("no signature in it names a verified signer".into());
    }
    Ok(CheckedPdf {
        signer: signers.join("; "),
        claimed_time: signed
            .signatures
            .iter()
            .find_map(|s| s.claimed_time.clone()),
        timestamp: signed.signatures.iter().find_map(|s| s.timestamp.clone()),
        revocation: Some(
            signed
                .signatures
                .iter()
                .filter_map(|s| s.revocation.clone())
                .collect::<Vec<_>>()
                .join(" / "),
        )
        .filter(|r| !r.is_empty()),
    })
}

/// SHA-256 of a DER certificate, lower-case hex.
pub fn der_sha256(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}
