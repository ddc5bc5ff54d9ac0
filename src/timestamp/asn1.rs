//! The RFC 3161 structures massho reads and writes, as `der` types.
//!
//! Defined here rather than taken from `x509-tsp` 0.1 because its `TstInfo` decodes `genTime` with
//! der's RFC 5280 `GeneralizedTime`, which rejects the fractional seconds RFC 3161 §2.4.2 allows
//! and that real TSAs send (OpenSSL with `clock_precision_digits`). The rest is a handful of
//! plain SEQUENCEs. The CMS pieces of a token (ContentInfo, SignerInfo) come from the `cms` crate,
//! but not its `SignedData`: see [`crate::x509::cms::SignedData`].

use der::asn1::{BitString, Int, ObjectIdentifier, OctetString};
use der::{
    DecodeValue, EncodeValue, ErrorKind, FixedTag, Header, Length, Reader, Sequence, Tag, Writer,
};
use time::{Date, Month, OffsetDateTime, Time};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::Extensions;
use x509_cert::spki::AlgorithmIdentifierOwned;

/// `id-sha256`, the only imprint algorithm massho asks for and accepts.
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// `id-ct-TSTInfo`, the content type of the signed content inside a token.
pub const ID_CT_TSTINFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// `id-signedData`, the content type of a token.
pub use crate::x509::cms::{SignedData, ID_SIGNED_DATA};

/// ```text
/// MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub hashed_message: OctetString,
}

/// ```text
/// TimeStampReq ::= SEQUENCE {
///    version INTEGER { v1(1) }, messageImprint MessageImprint, reqPolicy TSAPolicyId OPTIONAL,
///    nonce INTEGER OPTIONAL, certReq BOOLEAN DEFAULT FALSE, extensions [0] IMPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampReq {
    pub version: u8,
    pub message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    pub nonce: Option<u64>,
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// ```text
/// PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL,
///                              failInfo PKIFailureInfo OPTIONAL }
/// PKIFreeText ::= SEQUENCE SIZE (1..MAX) OF UTF8String
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo {
    pub status: u8,
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

/// ```text
/// TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }
/// TimeStampToken ::= ContentInfo
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampResp {
    pub status: PkiStatusInfo,
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<cms::content_info::ContentInfo>,
}

/// ```text
/// TSTInfo ::= SEQUENCE {
///    version INTEGER { v1(1) }, policy TSAPolicyId, messageImprint MessageImprint,
///    serialNumber INTEGER, genTime GeneralizedTime, accuracy Accuracy OPTIONAL,
///    ordering BOOLEAN DEFAULT FALSE, nonce INTEGER OPTIONAL, tsa [0] GeneralName OPTIONAL,
///    extensions [1] IMPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    pub version: u8,
    pub policy: ObjectIdentifier,
    pub message_imprint: MessageImprint,
    pub serial_number: Int,
    pub gen_time: GenTime,
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// ```text
/// Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER (1..999) OPTIONAL,
///                         micros [1] INTEGER (1..999) OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Accuracy {
    #[asn1(optional = "true")]
    pub seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

/// RFC 3161 `genTime`: `YYYYMMDDhhmmss[.s...]Z`, always UTC, fraction optional without trailing
/// zeros. Keeps the bytes as received so re-encoding is exact.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct GenTime {
    raw: Vec<u8>,
    time: OffsetDateTime,
}

impl GenTime {
    pub fn time(&self) -> OffsetDateTime {
        self.time
    }

    fn parse(raw: &[u8]) -> Option<OffsetDateTime> {
        let text = std::str::from_utf8(raw).ok()?.strip_suffix('Z')?;
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let field = |range: std::ops::Range<usize>| whole.get(range)?.parse::<u32>().ok();
        let year = i32::try_from(field(0..4)?).ok()?;
        let month = Month::try_from(u8::try_from(field(4..6)?).ok()?).ok()?;
        let day = u8::try_from(field(6..8)?).ok()?;
        let (hour, minute, second) = (field(8..10)?, field(10..12)?, field(12..14)?);
        let nanos = match fraction {
            None => 0,
            // RFC 3161: no trailing zeros, and no bare dot.
            Some(f) if f.is_empty() || f.len() > 9 || f.ends_with('0') => return None,
            Some(f) if !f.bytes().all(|b| b.is_ascii_digit()) => return None,
            Some(f) => f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32),
        };
        let date = Date::from_calendar_date(year, month, day).ok()?;
        let time = Time::from_hms_nano(
            u8::try_from(hour).ok()?,
            u8::try_from(minute).ok()?,
            u8::try_from(second).ok()?,
            nanos,
        )
        .ok()?;
        Some(date.with_time(time).assume_utc())
    }
}

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for GenTime {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let raw = reader.read_vec(header.length)?;
        let time = Self::parse(&raw).ok_or_else(|| der::Error::from(ErrorKind::DateTime))?;
        Ok(GenTime { raw, time })
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.raw.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::GenTime;

    fn parse(s: &str) -> Option<String> {
        let t = GenTime::parse(s.as_bytes())?;
        Some(format!("{t}"))
    }

    #[test]
    fn gen_time_accepts_whole_and_fractional_seconds() {
        assert_eq!(
            parse("20260101120000Z").as_deref(),
            Some("2026-01-01 12:00:00.0 +00:00:00")
        );
        assert_eq!(
            parse("20260101120000.125Z").as_deref(),
            Some("2026-01-01 12:00:00.125 +00:00:00")
        );
    }

    #[test]
    fn gen_time_rejects_what_rfc_3161_forbids() {
        for bad in [
            "20260101120000",             // no Z
            "20260101120000.Z",           // bare dot
            "20260101120000.50Z",         // trailing zero
            "202601011200Z",              // no seconds
            "20261301120000Z",            // month 13
            "20260101120000+0900",        // offset instead of Z
            "2026010112000aZ",            // not a digit
            "20260101120000.1234567890Z", // finer than nanoseconds
        ] {
            assert!(parse(bad).is_none(), "{bad} should be rejected");
        }
    }
}
