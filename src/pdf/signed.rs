//! Reading a signed PDF back, as an auditor's tool: every signature dictionary, its /ByteRange
//! checked against the file (starts at 0, the gap is exactly its own /Contents hex string, the
//! signed range ends a revision), its CMS verified over exactly those bytes against the
//! auditor's trust anchors, and what stands after the signed range: nothing (the signature
//! covers the whole file), an incremental update that only adds validation data (a DSS) or a
//! document timestamp (allowed, and named), or anything else ("modified after signing").
//!
//! The file is a stranger's: offsets are checked against its length, sizes are capped, and a
//! PDF this reader cannot follow is refused with the reason, never trusted.

use std::ops::Range;

use super::syntax::{object_headers, text_string, Dict, Object, Parser};
use crate::x509::{verify_detached, Failure, TrustAnchors};

/// More signatures than any certificate carries: past it, the file is refused.
const MAX_SIGNATURES: usize = 16;
/// A CMS signature with its chain, a timestamp and revocation data.
const MAX_CONTENTS: usize = 1 << 20;

/// One signature dictionary and what came of checking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfSignature {
    /// `/Sig` or `/DocTimeStamp`.
    pub kind: String,
    /// `/SubFilter`, e.g. `ETSI.CAdES.detached`.
    pub sub_filter: String,
    /// The verified signer's subject (RFC 4514).
    pub signer: Option<String>,
    /// /Name, /Reason and /M as the dictionary claims them (not evidence).
    pub name: Option<String>,
    pub reason: Option<String>,
    pub claimed_time: Option<String>,
    /// Bytes from the start of the file that the signature covers.
    pub signed_len: u64,
    /// The signed range reaches the end of the file.
    pub covers_whole_file: bool,
    /// What stands after the signed range, when something does.
    pub after: Option<Appended>,
    /// Why the signature does not check out; `None` when it does.
    pub problem: Option<String>,
}

impl PdfSignature {
    pub fn ok(&self) -> bool {
        self.problem.is_none() && self.after.as_ref().is_none_or(|a| a.allowed)
    }
}

/// Bytes after a signature's signed range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub bytes: u64,
    /// Only validation data (DSS) and document timestamps, which PAdES allows after a signature.
    pub allowed: bool,
    /// What they hold, for the report: "a DSS", "a document timestamp", "object 12 (a page)".
    pub holds: Vec<String>,
}

impl Appended {
    pub fn describe(&self) -> String {
        if self.allowed {
            format!(
                "{} bytes appended after the signed range hold only {} (allowed)",
                self.bytes,
                self.holds.join(", ")
            )
        } else {
            format!(
                "MODIFIED AFTER SIGNING: {} bytes appended after the signed range ({})",
                self.bytes,
                if self.holds.is_empty() {
                    "no PDF objects".to_owned()
                } else {
                    self.holds.join(", ")
                }
            )
        }
    }
}

/// Every signature of a PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPdf {
    pub signatures: Vec<PdfSignature>,
    pub len: u64,
}

impl SignedPdf {
    /// At least one signature, every one good, nothing but allowed updates after any of them.
    pub fn ok(&self) -> bool {
        !self.signatures.is_empty() && self.signatures.iter().all(PdfSignature::ok)
    }

    /// The first reason the file is not ok.
    pub fn problem(&self) -> Option<String> {
        if self.signatures.is_empty() {
            return Some("no signature dictionary (/ByteRange) found: not a signed PDF".into());
        }
        self.signatures.iter().find(|s| !s.ok()).map(|s| {
            let mut parts = Vec::new();
            if let Some(p) = &s.problem {
                parts.push(p.clone());
            }
            if let Some(a) = s.after.as_ref().filter(|a| !a.allowed) {
                parts.push(a.describe());
            }
            format!(
                "signature /{} ({}): {}",
                s.kind,
                s.sub_filter,
                parts.join("; ")
            )
        })
    }
}

/// Check every signature in `pdf` against `anchors`, with certification paths valid at `at`.
/// `Err` only when the file is not a PDF at all.
pub fn verify_signed_pdf(
    pdf: &[u8],
    anchors: &TrustAnchors,
    at: time::OffsetDateTime,
) -> Result<SignedPdf, String> {
    if !pdf.starts_with(b"%PDF-") {
        return Err("not a PDF (it does not start with %PDF-)".into());
    }
    let headers = object_headers(pdf, 0..pdf.len());
    let mut seen = Vec::new();
    let mut signatures = Vec::new();
    for at_key in occurrences(pdf, b"/ByteRange") {
        // The object the key stands in: the last header before it.
        let Some(&(_, _, start, body)) = headers.iter().rev().find(|h| h.2 < at_key) else {
            continue;
        };
        if seen.contains(&start) {
            continue;
        }
        seen.push(start);
        let Ok(Object::Dict(dict)) = Parser::new(pdf, body).object() else {
            continue;
        };
        if !dict.has(b"ByteRange") {
            continue;
        }
        if signatures.len() == MAX_SIGNATURES {
            return Err(format!(
                "more than {MAX_SIGNATURES} signature dictionaries; massho does not check this file"
            ));
        }
        signatures.push(check_signature(pdf, &dict, &headers, anchors, at));
    }
    Ok(SignedPdf {
        signatures,
        len: pdf.len() as u64,
    })
}

fn occurrences<'a>(haystack: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(i, _)| i)
}

fn text(dict: &Dict, key: &[u8]) -> Option<String> {
    match dict.get(key) {
        Some(Object::Str { bytes, .. }) => Some(text_string(bytes)),
        _ => None,
    }
}

fn check_signature(
    pdf: &[u8],
    dict: &Dict,
    headers: &[(u32, u16, usize, usize)],
    anchors: &TrustAnchors,
    at: time::OffsetDateTime,
) -> PdfSignature {
    let name = |n: Option<&[u8]>| String::from_utf8_lossy(n.unwrap_or(b"?")).into_owned();
    let mut sig = PdfSignature {
        kind: name(dict.name(b"Type")),
        sub_filter: name(dict.name(b"SubFilter")),
        signer: None,
        name: text(dict, b"Name"),
        reason: text(dict, b"Reason"),
        claimed_time: text(dict, b"M"),
        signed_len: 0,
        covers_whole_file: false,
        after: None,
        problem: None,
    };
    let ranges = match signed_ranges(pdf, dict) {
        Ok(r) => r,
        Err(p) => {
            sig.problem = Some(p);
            return sig;
        }
    };
    let SignedRanges { first, second, cms } = ranges;
    sig.signed_len = second.end as u64;
    sig.covers_whole_file = second.end == pdf.len();
    if !sig.covers_whole_file {
        sig.after = Some(classify_appended(pdf, second.end, headers));
    }
    let mut signed = Vec::with_capacity(first.len() + second.len());
    signed.extend_from_slice(&pdf[first]);
    signed.extend_from_slice(&pdf[second]);
    match (sig.kind.as_str(), sig.sub_filter.as_str()) {
        ("Sig", "ETSI.CAdES.detached" | "adbe.pkcs7.detached") => {
            match verify_detached(&signed, &cms, anchors, at) {
                Ok(v) => sig.signer = Some(v.signer),
                Err(f) => sig.problem = Some(describe_failure(&f)),
            }
        }
        ("DocTimeStamp", "ETSI.RFC3161") => {
            sig.problem = Some(
                "a document timestamp, which this massho cannot check yet; check it with pdfsig"
                    .into(),
            )
        }
        (kind, sub_filter) => {
            sig.problem = Some(format!(
                "a /{kind} signature of /SubFilter /{sub_filter}, which massho does not check"
            ))
        }
    }
    sig
}

fn describe_failure(f: &Failure) -> String {
    match f {
        Failure::Tampered(_) => {
            "TAMPERED: the signed bytes of the PDF do not match its signature (the file was changed after signing)".into()
        }
        other => other.to_string(),
    }
}

/// What a /ByteRange signs, and the signature over it.
struct SignedRanges {
    first: Range<usize>,
    second: Range<usize>,
    cms: Vec<u8>,
}

/// The two signed ranges of `dict`'s /ByteRange, checked against the file, and the CMS DER
/// from its /Contents (the zero padding after the DER removed).
fn signed_ranges(pdf: &[u8], dict: &Dict) -> Result<SignedRanges, String> {
    let Some(Object::Array(items)) = dict.get(b"ByteRange") else {
        return Err("its /ByteRange is not one array".into());
    };
    let numbers: Vec<usize> = items
        .iter()
        .map(|o| match o {
            Object::Int(n) => usize::try_from(*n).ok(),
            _ => None,
        })
        .collect::<Option<_>>()
        .ok_or("its /ByteRange holds something other than non-negative integers")?;
    let [a, b, c, d] = numbers[..] else {
        return Err(format!(
            "its /ByteRange has {} numbers; PAdES allows exactly one gap (4 numbers)",
            numbers.len()
        ));
    };
    if a != 0 {
        return Err(format!(
            "its /ByteRange starts at byte {a}, not at the start of the file"
        ));
    }
    let Some(Object::Str { bytes, span }) = dict.get(b"Contents") else {
        return Err("no single /Contents string".into());
    };
    if span.start != b || span.end != c || pdf.get(span.start) != Some(&b'<') {
        return Err(format!(
            "its /ByteRange leaves out bytes {b}..{c}, which are not exactly its own /Contents hex string (bytes {}..{}): the signed bytes are not the document",
            span.start, span.end
        ));
    }
    let end = c
        .checked_add(d)
        .filter(|e| *e <= pdf.len())
        .ok_or_else(|| {
            format!(
                "its /ByteRange reaches byte {}, past the end of the file ({} bytes): the file was cut",
                c.saturating_add(d),
                pdf.len()
            )
        })?;
    if !ends_revision(&pdf[..end]) {
        return Err(format!(
            "its signed range ends at byte {end}, which is not the end of a revision (%%EOF)"
        ));
    }
    if bytes.len() > MAX_CONTENTS {
        return Err(format!(
            "its /Contents is {} bytes, more than the {MAX_CONTENTS} massho reads",
            bytes.len()
        ));
    }
    let cms = der_prefix(bytes)
        .ok_or("its /Contents is not a DER signature followed only by zero padding")?;
    Ok(SignedRanges {
        first: 0..b,
        second: c..end,
        cms: cms.to_vec(),
    })
}

/// Whether `signed` ends with `%%EOF` and at most an end-of-line.
fn ends_revision(signed: &[u8]) -> bool {
    let trimmed = signed
        .strip_suffix(b"\r\n")
        .or_else(|| signed.strip_suffix(b"\n"))
        .or_else(|| signed.strip_suffix(b"\r"))
        .unwrap_or(signed);
    trimmed.ends_with(b"%%EOF")
}

/// The DER SEQUENCE at the start of `bytes`, if everything after it is zero.
fn der_prefix(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.first() != Some(&0x30) {
        return None;
    }
    let first = *bytes.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = len << 8 | usize::from(*bytes.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let total = header.checked_add(len)?;
    let (der, padding) = (bytes.get(..total)?, bytes.get(total..)?);
    padding.iter().all(|b| *b == 0).then_some(der)
}

/// What the objects after byte `from` are, and whether PAdES allows them after a signature:
/// a DSS dictionary (and the streams of certificates and CRLs it points to), a document
/// timestamp with its invisible field, a catalog that adds them, and the cross-reference.
fn classify_appended(pdf: &[u8], from: usize, headers: &[(u32, u16, usize, usize)]) -> Appended {
    let mut holds = Vec::new();
    let mut allowed = true;
    let mut seen_objects = false;
    for &(n, _, _, body) in headers.iter().filter(|h| h.2 >= from) {
        seen_objects = true;
        let what = match Parser::new(pdf, body).object() {
            Ok(Object::Dict(d)) => kind_of_appended(&d, pdf, body),
            _ => None,
        };
        match what {
            Some(kind) => {
                if !holds.contains(&kind.to_owned()) {
                    holds.push(kind.to_owned());
                }
            }
            None => {
                allowed = false;
                holds.push(format!("object {n}, which changes the document"));
            }
        }
    }
    if !seen_objects {
        // Bytes that are no PDF object (a trailer alone, or anything at all): a reader may
        // still act on them.
        allowed = false;
    }
    Appended {
        bytes: (pdf.len() - from) as u64,
        allowed,
        holds,
    }
}

/// The name of an object PAdES allows after a signature, `None` for anything else.
fn kind_of_appended(d: &Dict, pdf: &[u8], body: usize) -> Option<&'static str> {
    let data_keys = [&b"Length"[..], b"Filter", b"DecodeParms"];
    match d.name(b"Type") {
        Some(b"DSS") => Some("validation data (DSS)"),
        Some(b"VRI") => Some("validation data (VRI)"),
        Some(b"DocTimeStamp") => Some("a document timestamp"),
        Some(b"XRef") => Some("a cross-reference stream"),
        // A catalog that only gains the DSS and the timestamp's field: its pages stay those
        // of the signed revision (checked against the one before `body`).
        Some(b"Catalog")
            if d.keys().all(|k| {
                [
                    &b"Type"[..],
                    b"Pages",
                    b"DSS",
                    b"AcroForm",
                    b"Lang",
                    b"Version",
                    b"Extensions",
                ]
                .contains(&k)
            }) =>
        {
            same_pages_as_before(d, pdf, body).then_some("an updated catalog (same pages)")
        }
        // An invisible signature field for a document timestamp.
        _ if d.name(b"FT") == Some(b"Sig") && invisible(d) => Some("an invisible signature field"),
        // A certificate or CRL stream of the DSS: data, no type.
        None if d.keys().all(|k| data_keys.contains(&k)) && d.has(b"Length") => {
            Some("validation data streams")
        }
        _ => None,
    }
}

fn invisible(d: &Dict) -> bool {
    match d.get(b"Rect") {
        None => true,
        Some(Object::Array(r)) => {
            let v: Vec<f64> = r
                .iter()
                .filter_map(|o| match o {
                    Object::Int(i) => Some(*i as f64),
                    Object::Real(f) => Some(*f),
                    _ => None,
                })
                .collect();
            v.len() == 4 && (v[0] == v[2] || v[1] == v[3])
        }
        _ => false,
    }
}

/// Whether catalog `d` names the same /Pages as the last catalog before byte `body`.
fn same_pages_as_before(d: &Dict, pdf: &[u8], body: usize) -> bool {
    let earlier = object_headers(pdf, 0..body.saturating_sub(1))
        .into_iter()
        .rev()
        .filter_map(|(_, _, _, b)| match Parser::new(pdf, b).object() {
            Ok(Object::Dict(c)) if c.name(b"Type") == Some(b"Catalog") => Some(c),
            _ => None,
        })
        .next();
    matches!((earlier, d.get(b"Pages")), (Some(c), Some(p @ Object::Ref(..))) if c.get(b"Pages") == Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_is_cut_from_its_zero_padding() {
        assert_eq!(
            der_prefix(&[0x30, 2, 5, 5, 0, 0]),
            Some(&[0x30, 2, 5, 5][..])
        );
        assert_eq!(
            der_prefix(&[0x30, 0x81, 1, 7, 0]),
            Some(&[0x30, 0x81, 1, 7][..])
        );
        assert_eq!(der_prefix(&[0x30, 2, 5, 5, 0, 1]), None);
        assert_eq!(der_prefix(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(der_prefix(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(der_prefix(&[]), None);
        assert_eq!(der_prefix(&[0x31, 0]), None);
    }

    #[test]
    fn a_revision_ends_at_eof() {
        assert!(ends_revision(b"x\n%%EOF"));
        assert!(ends_revision(b"x\n%%EOF\r\n"));
        assert!(!ends_revision(b"x\n%%EOF\n\n"));
        assert!(!ends_revision(b"x"));
    }

    /// A hand-made file whose /ByteRange does not match its /Contents, or points outside the
    /// file, is refused with the reason.
    #[test]
    fn byte_ranges_that_do_not_fit_the_file_are_refused() {
        let anchors = TrustAnchors::default();
        let now = time::OffsetDateTime::now_utc();
        let make = |range: &str| {
            format!("%PDF-1.7\n1 0 obj\n<</Type/Sig/SubFilter/ETSI.CAdES.detached/ByteRange [{range}]/Contents <3000>>>\nendobj\n%%EOF\n")
        };
        let base = make(&" ".repeat(40));
        let start = base.find("<3000>").unwrap_or(0);
        let end = start + 6;
        let len = base.len();
        for (range, wants) in [
            (format!("0 {start} {end} {}", len - end), "malformed"),
            (
                format!("0 {} {end} {}", start + 1, len - end),
                "not exactly its own /Contents",
            ),
            (
                format!("0 {start} {end} {}", len),
                "past the end of the file",
            ),
            (
                format!("1 {start} {end} {}", len - end - 1),
                "starts at byte 1",
            ),
            (format!("0 {start} {end}"), "3 numbers"),
            (
                format!("0 {start} {end} {}", len - end - 4),
                "not the end of a revision",
            ),
        ] {
            // Keep the digits' width so the offsets stay right.
            let pdf = make(&format!("{range:<40}"));
            let report = verify_signed_pdf(pdf.as_bytes(), &anchors, now).unwrap();
            assert_eq!(report.signatures.len(), 1, "{range}");
            let problem = report.problem().unwrap_or_default();
            assert!(
                !report.ok() && problem.contains(wants),
                "{range}: {problem}"
            );
        }
        assert!(verify_signed_pdf(b"hello", &anchors, now).is_err());
        let unsigned = verify_signed_pdf(b"%PDF-1.7\n%%EOF\n", &anchors, now).unwrap();
        assert!(
            !unsigned.ok()
                && unsigned
                    .problem()
                    .unwrap_or_default()
                    .contains("no signature")
        );
    }
}
