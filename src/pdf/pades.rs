//! PAdES baseline B-B signatures (ETSI EN 319 142-1) on the PDFs massho writes.
//!
//! The document is written once with a signature dictionary whose /ByteRange and /Contents are
//! placeholders of fixed width ([`Placeholder`], written by [`crate::pdf::Document::finish`]);
//! [`sign`] then fills the /ByteRange with the file's two ranges around the /Contents hex
//! string, signs exactly those bytes with [`crate::x509::sign_detached`] (a CAdES detached
//! signature: content-type, message-digest, signing-certificate-v2, no signing-time — PAdES
//! forbids it in the CMS and takes the time from /M or a timestamp) and writes the CMS into the
//! hex string, padded with zeros. Nothing else moves, so the ByteRange covers the whole file.
//!
//! B-T: with a [`Stamper`], the CMS gets a signature timestamp (an RFC 3161 token over its
//! signature value, in the SignerInfo's unsigned attributes) before it goes into /Contents.

use pdf_writer::{Date, Name, Pdf, Ref, Str, TextStr};

use crate::x509::{SignerMaterial, X509Error};

/// Why a PDF could not be signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PadesError {
    #[error(
        "the PDF has no signature placeholder ({0}); this is a bug in massho, please report it"
    )]
    Placeholder(&'static str),
    #[error(
        "the signature is {needed} bytes but the PDF reserved {room}; this is a bug in massho \
         (the reserve is computed from the certificates), please report it"
    )]
    TooLarge { needed: usize, room: usize },
    #[error(transparent)]
    Sign(#[from] X509Error),
    #[error("cannot timestamp the signature: {0}; nothing was written")]
    Timestamp(String),
}

/// Asks a TSA to stamp an imprint (SHA-256 of the signature value, for B-T): the TSA's reply,
/// a TimeStampResp or a bare token.
pub type Stamper<'a> = &'a dyn Fn(&[u8; 32]) -> Result<Vec<u8>, String>;

/// Width-fixed stand-ins: ten digits each, so that any real offset fits once padded.
const BYTE_RANGE_PLACEHOLDER: [i32; 4] = [0, 1_111_111_111, 1_111_111_111, 1_111_111_111];
pub(crate) const BYTE_RANGE_TEXT: &[u8] = b"[0 1111111111 1111111111 1111111111]";
/// A non-ASCII byte, so that pdf-writer writes the placeholder as a hex string `<8080…>`.
const CONTENTS_FILL: u8 = 0x80;

/// Room in /Contents beyond the certificates: the signed attributes and the signature (a few
/// hundred bytes), and an RFC 3161 timestamp token with its TSA's chain for B-T.
const CONTENTS_SLACK: usize = 12 << 10;

/// What the signature dictionary says besides the signature: who, why, when (the claimed time,
/// /M: not evidence; a timestamp is), and how many bytes of CMS it has room for.
#[derive(Debug, Clone)]
pub struct Placeholder {
    pub name: String,
    pub reason: String,
    pub time: time::OffsetDateTime,
    pub capacity: usize,
}

impl Placeholder {
    /// For a signature by `signer`, with room for its certificates and a timestamp.
    pub fn for_signer(signer: &SignerMaterial, reason: &str, time: time::OffsetDateTime) -> Self {
        let certificates: usize = std::iter::once(signer.signer())
            .chain(signer.chain())
            .map(|c| c.der.len())
            .sum();
        Placeholder {
            name: signer_name(signer),
            reason: reason.to_owned(),
            time,
            capacity: certificates + CONTENTS_SLACK,
        }
    }

    /// The signature dictionary as object `id`.
    pub(crate) fn write(&self, pdf: &mut Pdf, id: Ref) {
        let placeholder = vec![CONTENTS_FILL; self.capacity];
        let mut dict = pdf.indirect(id).dict();
        dict.pair(Name(b"Type"), Name(b"Sig"))
            .pair(Name(b"Filter"), Name(b"Adobe.PPKLite"))
            .pair(Name(b"SubFilter"), Name(b"ETSI.CAdES.detached"));
        dict.insert(Name(b"ByteRange"))
            .array()
            .items(BYTE_RANGE_PLACEHOLDER);
        dict.pair(Name(b"Contents"), Str(&placeholder))
            .pair(Name(b"M"), pdf_date(self.time))
            .pair(Name(b"Name"), TextStr(&self.name))
            .pair(Name(b"Reason"), TextStr(&self.reason));
    }
}

/// The signer's common name, else the whole subject: what the page and /Name show.
pub fn signer_name(signer: &SignerMaterial) -> String {
    const ID_CN: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("2.5.4.3");
    let subject = &signer.signer().cert.tbs_certificate.subject;
    subject
        .0
        .iter()
        .rev()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == ID_CN)
        .and_then(|atv| {
            atv.value.decode_as::<String>().ok().or_else(|| {
                atv.value
                    .decode_as::<der::asn1::PrintableStringRef>()
                    .ok()
                    .map(|s| s.as_str().to_owned())
            })
        })
        .unwrap_or_else(|| signer.subject())
}

fn pdf_date(t: time::OffsetDateTime) -> Date {
    let offset = t.offset();
    Date::new(t.year().clamp(0, 9999) as u16)
        .month(t.month() as u8)
        .day(t.day())
        .hour(t.hour())
        .minute(t.minute())
        .second(t.second())
        .utc_offset_hour(offset.whole_hours())
        .utc_offset_minute(offset.minutes_past_hour().unsigned_abs())
}

/// Sign the PDF `unsigned` (written with a [`Placeholder`]) as `signer`, the signature
/// timestamped by `stamper` if given: the finished file.
pub fn sign(
    unsigned: &[u8],
    signer: &SignerMaterial,
    stamper: Option<Stamper>,
) -> Result<Vec<u8>, PadesError> {
    let (contents, capacity) = find_contents(unsigned)?;
    let byte_range_at = find_once(unsigned, BYTE_RANGE_TEXT)
        .ok_or(PadesError::Placeholder("no single /ByteRange placeholder"))?;
    let mut pdf = unsigned.to_vec();
    let len = pdf.len();
    let byte_range = [0, contents.start, contents.end, len - contents.end];
    let mut text = format!(
        "[{} {} {} {}",
        byte_range[0], byte_range[1], byte_range[2], byte_range[3]
    )
    .into_bytes();
    if text.len() + 1 > BYTE_RANGE_TEXT.len() {
        return Err(PadesError::Placeholder(
            "a file too large for its /ByteRange",
        ));
    }
    text.resize(BYTE_RANGE_TEXT.len() - 1, b' ');
    text.push(b']');
    pdf[byte_range_at..byte_range_at + text.len()].copy_from_slice(&text);

    let mut signed = Vec::with_capacity(len - contents.len());
    signed.extend_from_slice(&pdf[..contents.start]);
    signed.extend_from_slice(&pdf[contents.end..]);
    let mut cms = crate::x509::sign_detached(&signed, signer)?;
    if let Some(stamp) = stamper {
        let timestamp = |e: crate::x509::Failure| PadesError::Timestamp(e.to_string());
        let imprint = crate::x509::signature_timestamp_imprint(&cms).map_err(timestamp)?;
        let reply = stamp(&imprint).map_err(PadesError::Timestamp)?;
        cms = crate::x509::attach_signature_timestamp(&cms, &reply).map_err(timestamp)?;
    }
    if cms.len() > capacity {
        return Err(PadesError::TooLarge {
            needed: cms.len(),
            room: capacity,
        });
    }
    let mut hex = hex::encode_upper(&cms).into_bytes();
    hex.resize(capacity * 2, b'0');
    pdf[contents.start + 1..contents.end - 1].copy_from_slice(&hex);
    Ok(pdf)
}

/// Write `range` over the /ByteRange placeholder at `at`, padded to its width.
pub(crate) fn fill_byte_range(
    pdf: &mut [u8],
    at: usize,
    range: [usize; 4],
) -> Result<(), PadesError> {
    let mut text = format!("[{} {} {} {}", range[0], range[1], range[2], range[3]).into_bytes();
    if text.len() + 1 > BYTE_RANGE_TEXT.len() {
        return Err(PadesError::Placeholder(
            "a file too large for its /ByteRange",
        ));
    }
    text.resize(BYTE_RANGE_TEXT.len() - 1, b' ');
    text.push(b']');
    pdf.get_mut(at..at + text.len())
        .ok_or(PadesError::Placeholder("the /ByteRange placeholder is cut"))?
        .copy_from_slice(&text);
    Ok(())
}

/// The span of the placeholder hex string `<8080…>` (delimiters included) and its capacity in
/// bytes.
fn find_contents(pdf: &[u8]) -> Result<(std::ops::Range<usize>, usize), PadesError> {
    let marker = b"<80808080808080808080808080808080";
    let start =
        find_once(pdf, marker).ok_or(PadesError::Placeholder("no single /Contents placeholder"))?;
    let hex_len = pdf[start + 1..]
        .chunks(2)
        .take_while(|pair| *pair == b"80")
        .count()
        * 2;
    let end = start + 1 + hex_len;
    if pdf.get(end) != Some(&b'>') {
        return Err(PadesError::Placeholder(
            "the /Contents placeholder is not closed",
        ));
    }
    Ok((start..end + 1, hex_len / 2))
}

/// Where `needle` occurs in `haystack`, if it occurs exactly once.
fn find_once(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut found = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i);
    match (found.next(), found.next()) {
        (Some(i), None) => Some(i),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_once_and_measured() {
        let pdf = b"x /ByteRange [0 1111111111 1111111111 1111111111] /Contents <80808080808080808080808080808080808080> y";
        let (span, capacity) = find_contents(pdf).unwrap();
        assert_eq!(pdf[span.start], b'<');
        assert_eq!(pdf[span.end - 1], b'>');
        assert_eq!(capacity, 19);
        assert!(find_once(pdf, BYTE_RANGE_TEXT).is_some());
        let twice = [&pdf[..], &pdf[..]].concat();
        assert!(find_contents(&twice).is_err());
        assert!(find_once(&twice, BYTE_RANGE_TEXT).is_none());
    }
}
