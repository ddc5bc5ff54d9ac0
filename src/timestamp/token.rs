//! Reading what a TSA sends back: the response status, the token inside it, and the TSTInfo the
//! token signs (time, serial, policy, imprint).

use cms::content_info::ContentInfo;
use der::{Decode, Encode};
use time::format_description::well_known::Rfc3339;
use x509_cert::ext::pkix::name::GeneralName;

use super::asn1::{SignedData, TimeStampResp, TstInfo, ID_CT_TSTINFO, ID_SHA256, ID_SIGNED_DATA};
use super::TimestampError;

/// What a token says, once its imprint has been checked against a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The TSA's time, RFC 3339 in UTC (`2026-01-01T12:00:00Z`, fractional seconds if the TSA
    /// sent them).
    pub gen_time: String,
    /// The token's serial number, lowercase hex as encoded (the TSA's unique id for it).
    pub serial: String,
    /// The TSA policy the token was issued under, dotted OID.
    pub policy: String,
    /// The TSA's name if the token carries one (RFC 4514 for a directory name).
    pub tsa_name: Option<String>,
    /// The imprint matched the certificate. [`check_token`] reports a mismatch as
    /// [`TimestampError::ImprintMismatch`], so this is true whenever it returns `Ok`; it is kept
    /// so that a caller printing a `TokenInfo` prints what was checked.
    pub imprint_ok: bool,
}

/// Parse a TimeStampResp (.tsr) and return the token (ContentInfo DER) if status is
/// granted/grantedWithMods; a clear error with the PKIStatus/failInfo otherwise.
pub fn token_from_response(tsr: &[u8]) -> Result<Vec<u8>, TimestampError> {
    let resp = TimeStampResp::from_der(tsr).map_err(|e| TimestampError::Malformed {
        what: "TimeStampResp",
        detail: e.to_string(),
    })?;
    let status = status_name(resp.status.status);
    if resp.status.status > 1 {
        let mut detail = String::new();
        if let Some(bits) = &resp.status.fail_info {
            let names: Vec<String> = bits
                .bits()
                .enumerate()
                .filter(|&(_, set)| set)
                .map(|(bit, _)| fail_info_name(bit))
                .collect();
            if !names.is_empty() {
                detail.push_str(&format!(", failInfo {}", names.join(", ")));
            }
        }
        if let Some(text) = &resp.status.status_string {
            detail.push_str(&format!(", TSA says \"{}\"", text.join(" ")));
        }
        return Err(TimestampError::Rejected { status, detail });
    }
    let token = resp
        .time_stamp_token
        .ok_or(TimestampError::NoToken { status })?;
    token.to_der().map_err(|e| TimestampError::Malformed {
        what: "timestamp token",
        detail: e.to_string(),
    })
}

/// Parse a token (or a whole .tsr), check its messageImprint equals `digest` (algorithm SHA-256),
/// return its info. Mismatch → TimestampError::ImprintMismatch.
pub fn check_token(token_or_tsr: &[u8], digest: &[u8; 32]) -> Result<TokenInfo, TimestampError> {
    let token = Token::parse(token_or_tsr)?;
    let tst = &token.tst_info;
    let gen_time = rfc3339(tst.gen_time.time());
    let imprint = &tst.message_imprint;
    if imprint.hash_algorithm.oid != ID_SHA256 {
        return Err(TimestampError::ImprintAlgorithm {
            oid: imprint.hash_algorithm.oid.to_string(),
        });
    }
    let found = imprint.hashed_message.as_bytes();
    if found != digest {
        return Err(TimestampError::ImprintMismatch {
            expected: hex::encode(digest),
            found: hex::encode(found),
            gen_time,
        });
    }
    Ok(TokenInfo {
        gen_time,
        serial: hex::encode(tst.serial_number.as_bytes()),
        policy: tst.policy.to_string(),
        tsa_name: tst.tsa.as_ref().map(general_name),
        imprint_ok: true,
    })
}

/// The message imprint a token (or a whole .tsr) carries, without checking anything else: to
/// find which request a reply answers. Only SHA-256 imprints are read.
pub fn token_imprint(token_or_tsr: &[u8]) -> Result<[u8; 32], TimestampError> {
    let token = Token::parse(token_or_tsr)?;
    let imprint = &token.tst_info.message_imprint;
    if imprint.hash_algorithm.oid != ID_SHA256 {
        return Err(TimestampError::ImprintAlgorithm {
            oid: imprint.hash_algorithm.oid.to_string(),
        });
    }
    <[u8; 32]>::try_from(imprint.hashed_message.as_bytes()).map_err(|_| TimestampError::Malformed {
        what: "timestamp token",
        detail: format!(
            "its SHA-256 imprint has {} bytes, not 32",
            imprint.hashed_message.as_bytes().len()
        ),
    })
}

/// The time a token (or a whole .tsr) states, without checking anything else.
pub fn token_time(token_or_tsr: &[u8]) -> Result<time::OffsetDateTime, TimestampError> {
    Ok(Token::parse(token_or_tsr)?.tst_info.gen_time.time())
}

/// Whether the token answers the request that carried `nonce` (RFC 3161 §2.4.2: the TSA must
/// copy the request's nonce). A token without a nonce, or with another, does not.
pub fn token_has_nonce(token_or_tsr: &[u8], nonce: u64) -> Result<bool, TimestampError> {
    let token = Token::parse(token_or_tsr)?;
    let Some(found) = token.tst_info.nonce else {
        return Ok(false);
    };
    let bytes = found.as_bytes();
    // INTEGER contents are big-endian two's complement: strip the sign octet of a large value.
    let bytes = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    };
    Ok(bytes.len() <= 8 && {
        let mut be = [0u8; 8];
        be[8 - bytes.len()..].copy_from_slice(bytes);
        u64::from_be_bytes(be) == nonce
    })
}

/// The certificates a token carries (the TSA's, when the request asked for it), as DER.
pub fn token_certificates(token_or_tsr: &[u8]) -> Result<Vec<Vec<u8>>, TimestampError> {
    let token = Token::parse(token_or_tsr)?;
    token
        .signed_data
        .certificates
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(|c| {
            c.to_der()
                .map_err(|e| malformed("certificate in the token", e))
        })
        .collect()
}

/// A token taken apart: the SignedData, the exact TSTInfo bytes it signs, and those parsed.
pub(super) struct Token {
    pub signed_data: SignedData,
    pub tst_info_der: Vec<u8>,
    pub tst_info: TstInfo,
}

impl Token {
    /// Accept either a bare token (ContentInfo) or a whole response, which is what sits on disk.
    pub fn parse(token_or_tsr: &[u8]) -> Result<Token, TimestampError> {
        let content_info = match ContentInfo::from_der(token_or_tsr) {
            Ok(ci) => ci,
            Err(_) => {
                let token = token_from_response(token_or_tsr)?;
                ContentInfo::from_der(&token).map_err(|e| malformed("timestamp token", e))?
            }
        };
        if content_info.content_type != ID_SIGNED_DATA {
            return Err(TimestampError::Malformed {
                what: "timestamp token",
                detail: format!(
                    "content type {} is not signedData",
                    content_info.content_type
                ),
            });
        }
        let signed_data: SignedData = content_info
            .content
            .decode_as()
            .map_err(|e| malformed("timestamp token (CMS SignedData)", e))?;
        let encap = &signed_data.encap_content_info;
        if encap.econtent_type != ID_CT_TSTINFO {
            return Err(TimestampError::Malformed {
                what: "timestamp token",
                detail: format!("signed content type {} is not TSTInfo", encap.econtent_type),
            });
        }
        let econtent = encap.econtent.as_ref().ok_or(TimestampError::Malformed {
            what: "timestamp token",
            detail: "the signed TSTInfo is missing".into(),
        })?;
        // eContent is an OCTET STRING whose contents are the DER TSTInfo the TSA signed.
        let octets: der::asn1::OctetString = econtent
            .decode_as()
            .map_err(|e| malformed("timestamp token (eContent)", e))?;
        let tst_info_der = octets.into_bytes();
        let tst_info =
            TstInfo::from_der(&tst_info_der).map_err(|e| malformed("TSTInfo in the token", e))?;
        Ok(Token {
            signed_data,
            tst_info_der,
            tst_info,
        })
    }
}

fn malformed(what: &'static str, e: der::Error) -> TimestampError {
    TimestampError::Malformed {
        what,
        detail: e.to_string(),
    }
}

pub(super) fn rfc3339(t: time::OffsetDateTime) -> String {
    // Formatting a UTC time with Rfc3339 cannot fail for years 0..=9999, which is all a
    // GeneralizedTime can hold; fall back to the Display form rather than panic.
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn status_name(status: u8) -> String {
    let name = match status {
        0 => "granted",
        1 => "grantedWithMods",
        2 => "rejection",
        3 => "waiting",
        4 => "revocationWarning",
        5 => "revocationNotification",
        _ => "unknown",
    };
    format!("{name} ({status})")
}

/// RFC 3161 §2.4.2 PKIFailureInfo bit names.
fn fail_info_name(bit: usize) -> String {
    let name = match bit {
        0 => "badAlg (unrecognized or unsupported algorithm)",
        2 => "badRequest (transaction not permitted or supported)",
        5 => "badDataFormat (the data submitted has the wrong format)",
        14 => "timeNotAvailable (the TSA's time source is not available)",
        15 => "unacceptedPolicy (the requested TSA policy is not supported)",
        16 => "unacceptedExtension (the requested extension is not supported)",
        17 => "addInfoNotAvailable (the additional information requested is not available)",
        25 => "systemFailure (the TSA failed internally; try again later)",
        other => return format!("bit {other}"),
    };
    name.to_string()
}

fn general_name(name: &GeneralName) -> String {
    match name {
        GeneralName::DirectoryName(dn) => dn.to_string(),
        GeneralName::DnsName(s) => format!("DNS:{}", s.as_str()),
        GeneralName::Rfc822Name(s) => format!("email:{}", s.as_str()),
        GeneralName::UniformResourceIdentifier(s) => format!("URI:{}", s.as_str()),
        GeneralName::RegisteredId(oid) => format!("OID:{oid}"),
        GeneralName::IpAddress(ip) => format!("IP:{}", hex::encode(ip.as_bytes())),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SEQUENCE { PKIStatusInfo { status, failInfo } }` as a TSA sends it when it refuses.
    fn rejection(status: u8, fail_info: &[u8]) -> Vec<u8> {
        let mut info = vec![0x02, 0x01, status];
        if !fail_info.is_empty() {
            info.push(0x03);
            info.push(fail_info.len() as u8);
            info.extend_from_slice(fail_info);
        }
        let mut status_info = vec![0x30, info.len() as u8];
        status_info.extend(info);
        let mut resp = vec![0x30, status_info.len() as u8];
        resp.extend(status_info);
        resp
    }

    #[test]
    fn a_rejection_names_status_and_reason() {
        // failInfo badAlg: bit 0 → one byte 0x80 with 7 unused bits.
        let err = token_from_response(&rejection(2, &[0x07, 0x80])).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, TimestampError::Rejected { .. }), "{msg}");
        assert!(msg.contains("rejection (2)"), "{msg}");
        assert!(msg.contains("badAlg"), "{msg}");
    }

    #[test]
    fn granted_without_token_is_an_error() {
        let err = token_from_response(&rejection(0, &[])).unwrap_err();
        assert!(matches!(err, TimestampError::NoToken { .. }), "{err}");
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bytes in [&b""[..], b"\x30", b"\x30\x80\x00\x00", b"not a tsr at all"] {
            let err = token_from_response(bytes).unwrap_err();
            assert!(matches!(err, TimestampError::Malformed { .. }), "{err}");
            assert!(check_token(bytes, &[0; 32]).is_err());
        }
    }
}
