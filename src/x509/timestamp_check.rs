//! Checking a signature timestamp (CAdES-B-T) inside a `.p7s`: the token stamps SHA-256 of this
//! very signature value, the TSA's signature on it verifies with a certificate carrying the
//! critical timeStamping usage, and that certificate is trusted: given directly (`--tsa-cert`)
//! or chaining to the trust anchors (`--ca`) at the token's time (any TSA certificate is held to
//! its validity period there, `timestamp::verify_tsa_signature`), and not revoked at all according to the CRLs at
//! hand: the genTime is the TSA's own claim, so a revocation of the TSA dated after it does not
//! stand aside as a signer's revocation after a verified timestamp does.

use sha2::{Digest, Sha256};

use super::path::{self, Cert, LeafUse, TrustAnchors};
use super::revocation::{self, Crl};
use super::Failure;
use crate::timestamp::{self, TimestampError};

/// A signature timestamp that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureTimestamp {
    /// The TSA's time (genTime).
    pub time: time::OffsetDateTime,
    /// The same, RFC 3339 as the TSA wrote it.
    pub time_text: String,
    /// The subject of the TSA's certificate (RFC 4514).
    pub tsa: String,
    /// The token's serial number, lowercase hex.
    pub serial: String,
}

/// Where trust in a TSA can come from.
pub(crate) struct TsaTrust<'a> {
    pub anchors: &'a TrustAnchors,
    /// TSA certificates trusted as they are (`--tsa-cert`).
    pub tsa_certs: &'a [Cert],
    /// Certificates that may complete the TSA's path (the `.p7s`'s, the validation data's).
    pub intermediates: &'a [Cert],
    pub crls: &'a [Crl],
    pub now: time::OffsetDateTime,
}

/// Check `token` as the timestamp of the signature whose value is `signature_value`.
pub(crate) fn check(
    token: &[u8],
    signature_value: &[u8],
    trust: &TsaTrust<'_>,
) -> Result<SignatureTimestamp, Failure> {
    let imprint: [u8; 32] = Sha256::digest(signature_value).into();
    let info = timestamp::check_token(token, &imprint).map_err(|e| match e {
        TimestampError::ImprintMismatch { found, gen_time, .. } => Failure::Timestamp(format!(
            "the token of {gen_time} stamps SHA-256 {found}, not this signature (SHA-256 {}): the signature or its timestamp was changed",
            hex::encode(imprint)
        )),
        other => Failure::Timestamp(other.to_string()),
    })?;
    let gen_time = timestamp::token_time(token).map_err(|e| Failure::Timestamp(e.to_string()))?;
    let carried: Vec<Cert> = timestamp::token_certificates(token)
        .map_err(|e| Failure::Timestamp(e.to_string()))?
        .iter()
        .filter_map(|der| Cert::from_der(der).ok())
        .collect();

    // The TSA's certificate: the one whose key signed the token.
    let mut first_error: Option<TimestampError> = None;
    let mut tsa: Option<Cert> = None;
    for candidate in carried.iter().chain(trust.tsa_certs) {
        match timestamp::verify_tsa_signature(token, &candidate.der) {
            Ok(()) => {
                tsa = Some(candidate.clone());
                break;
            }
            Err(e @ TimestampError::SignerMismatch { .. }) => {
                first_error.get_or_insert(e);
            }
            // Anything else is about the certificate that signed it: the most telling error.
            Err(e) => first_error = Some(e),
        }
    }
    let Some(tsa) = tsa else {
        return Err(match first_error {
            Some(e @ TimestampError::NotTimestampingCert { .. }) => {
                Failure::UntrustedTsa(e.to_string())
            }
            Some(TimestampError::SignerMismatch { .. }) | None => Failure::Timestamp(
                "the certificate of the TSA that signed the token is neither in the token nor given; pass it with --tsa-cert".into(),
            ),
            Some(e) => Failure::Timestamp(e.to_string()),
        });
    };

    let mut pool: Vec<Cert> = carried.clone();
    pool.extend(trust.intermediates.iter().cloned());
    // A TSA certificate given itself (--tsa-cert, or among the --ca files) is trusted as it is.
    let path = if trust.tsa_certs.iter().any(|c| c.der == tsa.der) || trust.anchors.contains(&tsa) {
        // Trusted as given; but when it also chains to the anchors, its issuer's CRLs at hand
        // still speak for it: trusting a certificate directly does not un-revoke it.
        path::validate_for(&tsa, &pool, trust.anchors, gen_time, LeafUse::Timestamping)
            .unwrap_or_else(|_| vec![tsa.clone()])
    } else {
        path::validate_for(&tsa, &pool, trust.anchors, gen_time, LeafUse::Timestamping).map_err(
            |e| {
                Failure::UntrustedTsa(format!(
                    "the timestamp was signed by {} (issuer {}), which is not trusted: {e}; pass the TSA's CA with --ca or its certificate with --tsa-cert",
                    tsa.subject(),
                    tsa.cert.tbs_certificate.issuer
                ))
            },
        )?
    };
    // The genTime is the TSA's own word: a TSA whose key was revoked (perhaps compromised) can
    // write any time before its revocation. So the TSA's path gets no benefit of a timestamp:
    // any revocation listed for it refuses the token, whatever its date.
    revocation::check_path(
        &path,
        trust.crls,
        gen_time.unix_timestamp(),
        false,
        trust.now.unix_timestamp(),
    )
    .map_err(|e| match e {
        Failure::Revoked(detail) => Failure::UntrustedTsa(format!(
            "the TSA's {}; a TSA's own time cannot show its tokens predate that (its key may have been stolen), so none of its tokens is trusted",
            detail.trim_end_matches(revocation::NO_TIMESTAMP)
        )),
        other => other,
    })?;
    Ok(SignatureTimestamp {
        time: gen_time,
        time_text: info.gen_time,
        tsa: tsa.subject(),
        serial: info.serial,
    })
}
