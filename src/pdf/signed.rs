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

use super::syntax::{object_headers, text_string, unreadable_header, Dict, Object, Parser};
use crate::x509::{
    check_timestamp_token, verify_detached_with, Cert, Crl, Failure, TsaTrust, ValidationData,
    VerifyOptions,
};

/// More signatures than any certificate carries: past it, the file is refused.
const MAX_SIGNATURES: usize = 16;
/// A CMS signature with its chain, a timestamp and revocation data.
const MAX_CONTENTS: usize = 1 << 20;
/// One certificate or CRL of the DSS, decompressed.
const MAX_DSS_ITEM: usize = 4 << 20;
/// Certificates and CRLs read from the DSS.
const MAX_DSS_ITEMS: usize = 256;

/// One signature dictionary and what came of checking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfSignature {
    /// `/Sig` or `/DocTimeStamp`.
    pub kind: String,
    /// `/SubFilter`, e.g. `ETSI.CAdES.detached`.
    pub sub_filter: String,
    /// The verified signer's subject (RFC 4514).
    pub signer: Option<String>,
    /// The verified signature timestamp (B-T): its time and the TSA.
    pub timestamp: Option<String>,
    /// What the CRLs at hand (the CMS's, the DSS's) said, once verified.
    pub revocation: Option<String>,
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

/// The objects of a file, found by their `N G obj` headers. Each is parsed no further than the
/// next header, so that reading every object of a hostile file stays linear in its size.
struct Objects<'a> {
    pdf: &'a [u8],
    headers: Vec<(u32, u16, usize, usize)>,
}

impl<'a> Objects<'a> {
    fn new(pdf: &'a [u8]) -> Self {
        Objects {
            pdf,
            headers: object_headers(pdf, 0..pdf.len()),
        }
    }

    /// The parser for object `i`, bounded by the next header.
    fn parser(&self, i: usize) -> Option<Parser<'a>> {
        let &(_, _, _, body) = self.headers.get(i)?;
        let end = self.headers.get(i + 1).map_or(self.pdf.len(), |h| h.2);
        Some(Parser::new(self.pdf.get(..end)?, body))
    }

    fn dict(&self, i: usize) -> Option<Dict> {
        match self.parser(i)?.object() {
            Ok(Object::Dict(d)) => Some(d),
            _ => None,
        }
    }

    /// The index of the last object starting before byte `offset`.
    fn before(&self, offset: usize) -> Option<usize> {
        self.headers
            .partition_point(|h| h.2 < offset)
            .checked_sub(1)
    }

    /// The index of the last definition of object `n g`.
    fn find(&self, n: u32, g: u16) -> Option<usize> {
        self.headers.iter().rposition(|h| h.0 == n && h.1 == g)
    }
}

/// Check every signature in `pdf` against `options` (the auditor's trust anchors, TSA
/// certificates and validation data; certification paths valid at `options.at` unless a
/// verified timestamp says otherwise). `Err` only when the file is not a PDF at all.
pub fn verify_signed_pdf(pdf: &[u8], options: &VerifyOptions<'_>) -> Result<SignedPdf, String> {
    if !pdf.starts_with(b"%PDF-") {
        return Err("not a PDF (it does not start with %PDF-)".into());
    }
    let objects = Objects::new(pdf);
    // The DSS's certificates and CRLs, and the auditor's own.
    let validation = dss_validation_data(&objects).merged(options.validation);
    let options = VerifyOptions {
        validation: &validation,
        ..*options
    };
    let mut seen = std::collections::HashSet::new();
    let mut signatures = Vec::new();
    for at_key in occurrences(pdf, b"/ByteRange") {
        // The object the key stands in: the last header before it.
        let Some(i) = objects.before(at_key) else {
            continue;
        };
        if !seen.insert(i) {
            continue;
        }
        let Some(dict) = objects.dict(i) else {
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
        signatures.push(check_signature(&objects, &dict, &options));
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

fn check_signature(objects: &Objects, dict: &Dict, options: &VerifyOptions<'_>) -> PdfSignature {
    let pdf = objects.pdf;
    let name = |n: Option<&[u8]>| String::from_utf8_lossy(n.unwrap_or(b"?")).into_owned();
    let mut sig = PdfSignature {
        kind: name(dict.name(b"Type")),
        sub_filter: name(dict.name(b"SubFilter")),
        signer: None,
        timestamp: None,
        revocation: None,
        name: text(dict, b"Name"),
        reason: text(dict, b"Reason"),
        claimed_time: text(dict, b"M").map(|m| readable_date(&m)),
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
        sig.after = Some(classify_appended(objects, second.end));
    }
    let mut signed = Vec::with_capacity(first.len() + second.len());
    signed.extend_from_slice(&pdf[first]);
    signed.extend_from_slice(&pdf[second]);
    match (sig.kind.as_str(), sig.sub_filter.as_str()) {
        ("Sig", "ETSI.CAdES.detached" | "adbe.pkcs7.detached") => {
            match verify_detached_with(&signed, &cms, options) {
                Ok(v) => {
                    sig.signer = Some(v.signer);
                    sig.timestamp = v.timestamp.map(|t| {
                        format!("{} (TSA \"{}\", serial {})", t.time_text, t.tsa, t.serial)
                    });
                    sig.revocation = Some(v.revocation.phrase());
                }
                Err(f) => sig.problem = Some(describe_failure(&f)),
            }
        }
        ("DocTimeStamp", "ETSI.RFC3161") => {
            // The token stamps SHA-256 of the signed bytes, as a signature timestamp stamps
            // SHA-256 of a signature value: the same check.
            let trust = TsaTrust {
                anchors: options.anchors,
                tsa_certs: options.tsa_certs,
                intermediates: &options.validation.certificates,
                crls: &options.validation.crls,
                now: options.at,
            };
            match check_timestamp_token(&cms, &signed, &trust) {
                Ok(t) => {
                    sig.signer = Some(t.tsa.clone());
                    sig.timestamp = Some(format!(
                        "{} (TSA \"{}\", serial {})",
                        t.time_text, t.tsa, t.serial
                    ));
                }
                Err(f) => sig.problem = Some(f.to_string()),
            }
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

/// A PDF date `D:YYYYMMDDHHmmSS+HH'mm'` (or `Z`) as `YYYY-MM-DDTHH:mm:SS+HH:mm`; anything else
/// as it is.
fn readable_date(m: &str) -> String {
    let d: Vec<char> = m.strip_prefix("D:").unwrap_or(m).chars().collect();
    if d.len() < 14 || !d[..14].iter().all(char::is_ascii_digit) {
        return m.to_owned();
    }
    let part = |r: std::ops::Range<usize>| d[r].iter().collect::<String>();
    let zone = match d.get(14) {
        Some('Z') | None => "Z".to_owned(),
        Some(sign @ ('+' | '-')) if d.len() >= 20 => {
            format!("{sign}{}:{}", part(15..17), part(18..20))
        }
        _ => return m.to_owned(),
    };
    format!(
        "{}-{}-{}T{}:{}:{}{zone}",
        part(0..4),
        part(4..6),
        part(6..8),
        part(8..10),
        part(10..12),
        part(12..14)
    )
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
    let cms = crate::x509::without_zero_padding(bytes).map_err(|f| {
        format!("its /Contents is not a DER signature followed only by zero padding ({f})")
    })?;
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

/// The certificates and CRLs of the file's DSS (PAdES B-LT), for checking paths and revocation;
/// empty when there is none. Entries that do not parse are left out: they can only fail to help.
fn dss_validation_data(objects: &Objects) -> ValidationData {
    let mut data = ValidationData::default();
    let Some(dss) = (0..objects.headers.len())
        .rev()
        .filter_map(|i| objects.dict(i))
        .find(|d| d.name(b"Type") == Some(b"DSS"))
    else {
        return data;
    };
    let refs = |key: &[u8]| -> Vec<(u32, u16)> {
        match dss.get(key) {
            Some(Object::Array(items)) => items
                .iter()
                .take(MAX_DSS_ITEMS)
                .filter_map(|o| match o {
                    Object::Ref(n, g) => Some((*n, *g)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    for r in refs(b"Certs") {
        if let Some(cert) = stream_of(objects, r).and_then(|d| Cert::from_der(&d).ok()) {
            data.certificates.push(cert);
        }
    }
    for r in refs(b"CRLs") {
        if let Some(crl) = stream_of(objects, r).and_then(|d| Crl::from_der(&d).ok()) {
            data.crls.push(crl);
        }
    }
    data
}

/// The data of stream object `(n, g)` (its last definition in the file), unfiltered or
/// FlateDecode, within the size caps.
fn stream_of(objects: &Objects, (n, g): (u32, u16)) -> Option<Vec<u8>> {
    stream_at(objects, objects.find(n, g)?)
}

/// The data of the stream that is object `i`, as [`stream_of`].
fn stream_at(objects: &Objects, i: usize) -> Option<Vec<u8>> {
    let pdf = objects.pdf;
    let mut p = objects.parser(i)?;
    let Ok(Object::Dict(d)) = p.object() else {
        return None;
    };
    if !p.keyword(b"stream") {
        return None;
    }
    // The keyword is followed by CRLF or LF, then the data (ISO 32000-1 §7.3.8.1).
    let mut start = p.pos;
    if pdf.get(start) == Some(&b'\r') {
        start += 1;
    }
    if pdf.get(start) != Some(&b'\n') {
        return None;
    }
    start += 1;
    let Some(Object::Int(len)) = d.get(b"Length") else {
        return None;
    };
    let len = usize::try_from(*len).ok().filter(|l| *l <= MAX_DSS_ITEM)?;
    let raw = pdf.get(start..start.checked_add(len)?)?;
    match d.get(b"Filter") {
        None => Some(raw.to_vec()),
        Some(Object::Name(f)) if f == b"FlateDecode" => {
            miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(raw, MAX_DSS_ITEM).ok()
        }
        _ => None,
    }
}

/// What the signed revision (the bytes before `from`) says about itself: its catalog's
/// reference and dictionary, the trailer's /Info, and where its cross-reference section is.
struct SignedRevision {
    root: Option<(u32, u16)>,
    catalog: Option<Dict>,
    /// Object numbers defined in the signed bytes: an update may redefine none but the catalog.
    numbers: std::collections::HashSet<u32>,
    /// Where the signed revision's cross-reference section is (its last `startxref`).
    startxref: Option<u64>,
    /// Where the update begins: a /Prev may also name a section inside it.
    from: u64,
    /// The trailer's /Size: a new object's number must be at least this, or it may stand for an
    /// object of the signed revision that a reader finds and massho does not (in an object
    /// stream, or a reference left dangling on purpose).
    size: Option<u64>,
    /// Why what follows the signed revision cannot be judged, when it cannot.
    unreadable: Option<String>,
}

/// More trailers after a signature than any PAdES update needs: past it, refused.
const MAX_UPDATE_TRAILERS: usize = 64;

/// The first reference in `o` to an object numbered `size` or more.
fn reference_past(o: &Object, size: u64) -> Option<u32> {
    match o {
        Object::Ref(n, _) if u64::from(*n) >= size => Some(*n),
        Object::Array(items) => items.iter().find_map(|i| reference_past(i, size)),
        Object::Dict(d) => d.0.iter().find_map(|(_, v)| reference_past(v, size)),
        _ => None,
    }
}

fn signed_revision(objects: &Objects, from: usize, first: usize) -> SignedRevision {
    let pdf = objects.pdf;
    let signed = &pdf[..from];
    // The root as the signed revision's last trailer (or XRef stream) names it.
    let trailer_root = signed
        .windows(7)
        .rposition(|w| w == b"trailer")
        .and_then(|at| match Parser::new(signed, at + 7).object() {
            Ok(Object::Dict(d)) => Some(d),
            _ => None,
        });
    let xref_stream_root = || {
        (0..first)
            .rev()
            .filter_map(|i| objects.dict(i))
            .find(|d| d.name(b"Type") == Some(b"XRef"))
    };
    let last_trailer = trailer_root.or_else(xref_stream_root);
    let root = last_trailer.as_ref().and_then(|d| match d.get(b"Root") {
        Some(Object::Ref(n, g)) => Some((*n, *g)),
        _ => None,
    });
    let size = last_trailer.as_ref().and_then(|d| match d.get(b"Size") {
        Some(Object::Int(n)) => u64::try_from(*n).ok(),
        _ => None,
    });
    let mut unreadable = None;
    for i in 0..first {
        let Some(d) = objects.dict(i) else { continue };
        if d.name(b"Type") == Some(b"ObjStm") {
            unreadable = Some(format!(
                "cannot check: the signed revision keeps objects in an object stream (object {}), which massho does not read, so an update after it cannot be told apart from a change",
                objects.headers[i].0
            ));
            break;
        }
        if let Some(n) = size.and_then(|size| reference_past(&Object::Dict(d), size)) {
            unreadable = Some(format!(
                "cannot check: the signed revision refers to object {n}, past its /Size, which an update could define"
            ));
            break;
        }
    }
    if size.is_none() {
        unreadable =
            Some("cannot check: the signed revision's trailer has no readable /Size".into());
    }
    if let Some(at) = unreadable_header(&pdf[from..]) {
        unreadable = Some(format!(
            "cannot check: an object header massho cannot read at byte {}",
            from + at
        ));
    }
    let catalog = root.and_then(|(n, g)| {
        objects.headers[..first]
            .iter()
            .rposition(|h| h.0 == n && h.1 == g)
            .and_then(|i| objects.dict(i))
    });
    let numbers = objects.headers[..first].iter().map(|h| h.0).collect();
    // The signed revision's own `startxref N` (bytes in the update could name any other).
    let startxref = signed
        .windows(9)
        .rposition(|w| w == b"startxref")
        .and_then(|at| Parser::new(signed, at + 9).unsigned());
    SignedRevision {
        root,
        catalog,
        numbers,
        startxref,
        from: from as u64,
        size,
        unreadable,
    }
}

/// What the objects after byte `from` are, and whether PAdES allows them after a signature:
/// new objects that are a DSS dictionary (and the streams of certificates and CRLs it points
/// to), a document timestamp with its invisible field, and cross-references; the signed
/// catalog redefined only to add them. Any other object, and any redefinition of an object of
/// the signed revision (whatever its generation), is a change: a reader would show it.
fn classify_appended(objects: &Objects, from: usize) -> Appended {
    let mut holds = Vec::new();
    let mut allowed = true;
    let mut changes = 0usize;
    let first = objects.headers.partition_point(|h| h.2 < from);
    let signed = signed_revision(objects, from, first);
    for i in first..objects.headers.len() {
        let (n, g, _, _) = objects.headers[i];
        let dict = objects.dict(i);
        let what = if signed.numbers.contains(&n) {
            // Only the catalog may be redefined, under its own number and generation.
            dict.filter(|_| signed.root == Some((n, g)))
                .and_then(|d| catalog_update(&d, &signed))
        } else if signed.size.is_none_or(|size| u64::from(n) < size) {
            // A number the signed revision's cross-reference covers: not a new object.
            None
        } else {
            dict.and_then(|d| kind_of_appended(&d, &signed))
        };
        match what {
            Some(kind) => {
                if !holds.contains(&kind.to_owned()) {
                    holds.push(kind.to_owned());
                }
            }
            None => {
                allowed = false;
                changes += 1;
                if changes <= 8 {
                    holds.push(if signed.numbers.contains(&n) {
                        format!("object {n}, which redefines an object of the signed revision")
                    } else if signed.size.is_none_or(|size| u64::from(n) < size) {
                        format!("object {n}, a number the signed revision already covers")
                    } else {
                        format!("object {n}, which changes the document")
                    });
                }
            }
        }
    }
    if changes > 8 {
        holds.push(format!("{} more changed objects", changes - 8));
    }
    // The update's cross-references may only point to its own objects: an entry pointing into
    // the signed revision would swap one signed object for another.
    if let Some(problem) = foreign_references(objects, from, first) {
        allowed = false;
        holds.push(problem);
    }
    if let Some(problem) = changed_trailer(objects.pdf, from, &signed) {
        allowed = false;
        holds.push(problem);
    }
    if let Some(problem) = &signed.unreadable {
        allowed = false;
        holds.push(problem.clone());
    }
    if first == objects.headers.len() {
        // Bytes that are no PDF object (a trailer alone, or anything at all): a reader may
        // still act on them.
        allowed = false;
    }
    Appended {
        bytes: (objects.pdf.len() - from) as u64,
        allowed,
        holds,
    }
}

/// The first trailer after byte `from` that a reader would take to another document: another
/// /Root, an /Encrypt, a /Prev into anything but the signed revision's (or an update's)
/// cross-reference section, or one that cannot be read.
fn changed_trailer(pdf: &[u8], from: usize, signed: &SignedRevision) -> Option<String> {
    for (count, k) in occurrences(&pdf[from..], b"trailer").enumerate() {
        let at = from + k;
        if count == MAX_UPDATE_TRAILERS {
            return Some(format!(
                "more than {MAX_UPDATE_TRAILERS} trailers, which massho does not read"
            ));
        }
        let Ok(Object::Dict(d)) = Parser::new(pdf, at + 7).object() else {
            return Some(format!("an unreadable trailer at byte {at}"));
        };
        if let Some(problem) = changed_trailer_dict(&d, signed) {
            return Some(format!("a trailer at byte {at} with {problem}"));
        }
    }
    None
}

/// What in a trailer (or XRef stream) dictionary of an update departs from the signed
/// revision, if anything.
fn changed_trailer_dict(d: &Dict, signed: &SignedRevision) -> Option<String> {
    let known = [
        &b"Size"[..],
        b"Root",
        b"Info",
        b"Prev",
        b"ID",
        b"Type",
        b"W",
        b"Index",
        b"Length",
        b"Filter",
        b"DecodeParms",
    ];
    if let Some(k) = d.keys().find(|k| !known.contains(k)) {
        return Some(format!("/{}", String::from_utf8_lossy(k)));
    }
    match (d.get(b"Root"), signed.root) {
        (Some(Object::Ref(n, g)), Some(root)) if (*n, *g) == root => {}
        _ => return Some("another /Root than the signed revision's".into()),
    }
    match d.get(b"Prev") {
        Some(Object::Int(p))
            if u64::try_from(*p).is_ok_and(|p| Some(p) == signed.startxref || p >= signed.from) =>
        {
            None
        }
        _ => Some("a /Prev that is not the signed revision's cross-reference section".into()),
    }
}

/// Whether object `num gen` has its header at byte `offset`, after byte `from`.
fn defined_at(objects: &Objects, from: usize, num: u64, gen: u64, offset: u64) -> bool {
    usize::try_from(offset).is_ok_and(|offset| {
        offset >= from
            && objects
                .headers
                .binary_search_by_key(&offset, |h| h.2)
                .is_ok_and(|i| {
                    u64::from(objects.headers[i].0) == num && u64::from(objects.headers[i].1) == gen
                })
    })
}

/// The first cross-reference entry after byte `from` (in `xref` tables, and in the XRef
/// streams among the objects from index `first`) that does not point to an object of the
/// update itself, or that cannot be read.
fn foreign_references(objects: &Objects, from: usize, first: usize) -> Option<String> {
    let pdf = objects.pdf;
    let mut at = from;
    while let Some(found) = pdf[at..].windows(4).position(|w| w == b"xref") {
        let start = at + found;
        at = start + 4;
        // `startxref` is not a table.
        if start >= 5 && &pdf[start - 5..start] == b"start" {
            continue;
        }
        let mut p = Parser::new(pdf, at);
        loop {
            p.skip_white();
            if p.keyword(b"trailer") {
                break;
            }
            let (Some(base), Some(count)) = (p.unsigned(), p.unsigned()) else {
                return Some(format!(
                    "an unreadable cross-reference table at byte {start}"
                ));
            };
            for k in 0..count {
                let (Some(offset), Some(gen)) = (p.unsigned(), p.unsigned()) else {
                    return Some(format!(
                        "an unreadable cross-reference table at byte {start}"
                    ));
                };
                if p.keyword(b"f") {
                    continue;
                }
                if !p.keyword(b"n") {
                    return Some(format!(
                        "an unreadable cross-reference table at byte {start}"
                    ));
                }
                if !defined_at(objects, from, base + k, gen, offset) {
                    return Some(format!(
                        "a cross-reference pointing object {} to byte {offset}, outside the update",
                        base + k
                    ));
                }
            }
        }
        at = p.pos;
    }
    for i in first..objects.headers.len() {
        let Some(d) = objects.dict(i).filter(|d| d.name(b"Type") == Some(b"XRef")) else {
            continue;
        };
        let unreadable = || {
            Some(format!(
                "an unreadable XRef stream (object {})",
                objects.headers[i].0
            ))
        };
        let Some(data) = stream_at(objects, i) else {
            return unreadable();
        };
        let widths: Vec<usize> = match d.get(b"W") {
            Some(Object::Array(w)) => w
                .iter()
                .filter_map(|o| match o {
                    Object::Int(n) => usize::try_from(*n).ok().filter(|n| *n <= 8),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let [w0, w1, w2] = widths[..] else {
            return unreadable();
        };
        let row = w0 + w1 + w2;
        if row == 0 {
            return unreadable();
        }
        let index: Vec<u64> = match d.get(b"Index") {
            Some(Object::Array(a)) => a
                .iter()
                .filter_map(|o| match o {
                    Object::Int(n) => u64::try_from(*n).ok(),
                    _ => None,
                })
                .collect(),
            _ => match d.get(b"Size") {
                Some(Object::Int(n)) => vec![0, u64::try_from(*n).unwrap_or(0)],
                _ => return unreadable(),
            },
        };
        let field = |bytes: &[u8]| bytes.iter().fold(0u64, |v, b| v << 8 | u64::from(*b));
        let mut rows = data.chunks_exact(row);
        for pair in index.chunks(2) {
            let [base, count] = pair else {
                return unreadable();
            };
            for k in 0..*count {
                let Some(r) = rows.next() else {
                    return unreadable();
                };
                let kind = if w0 == 0 { 1 } else { field(&r[..w0]) };
                let (f1, f2) = (field(&r[w0..w0 + w1]), field(&r[w0 + w1..]));
                match kind {
                    0 => {}
                    1 if defined_at(objects, from, base + k, f2, f1) => {}
                    _ => {
                        return Some(format!(
                            "a cross-reference stream entry for object {} outside the update",
                            base + k
                        ))
                    }
                }
            }
        }
    }
    None
}

/// Whether every key of `d` is one of `keys`.
fn only_keys(d: &Dict, keys: &[&[u8]]) -> bool {
    d.keys().all(|k| keys.contains(&k))
}

/// Two objects alike but for where their strings stand in the file.
fn same(a: &Object, b: &Object) -> bool {
    match (a, b) {
        (Object::Str { bytes: x, .. }, Object::Str { bytes: y, .. }) => x == y,
        (Object::Array(x), Object::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Object::Dict(x), Object::Dict(y)) => same_dict(x, y, &[]),
        _ => a == b,
    }
}

/// Two dictionaries alike but for the keys in `except` (every entry compared, duplicates too).
fn same_dict(x: &Dict, y: &Dict, except: &[&[u8]]) -> bool {
    let entries = |d: &'_ Dict| -> Vec<(Vec<u8>, Object)> {
        let mut e: Vec<_> =
            d.0.iter()
                .filter(|(k, _)| !except.contains(&k.as_slice()))
                .cloned()
                .collect();
        e.sort_by(|a, b| a.0.cmp(&b.0));
        e
    };
    let (a, b) = (entries(x), entries(y));
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
}

/// The signed catalog redefined to add a DSS or a document timestamp's field: every other
/// entry as signed (pages, names, actions, optional content, outlines...), and its form only
/// gaining fields that are new objects (each judged on its own as an invisible signature field).
fn catalog_update(d: &Dict, signed: &SignedRevision) -> Option<&'static str> {
    let old = signed.catalog.as_ref()?;
    if !same_dict(d, old, &[b"DSS", b"AcroForm", b"Version", b"Extensions"]) {
        return None;
    }
    if !matches!(d.get(b"DSS"), None | Some(Object::Ref(..))) {
        return None;
    }
    match (d.get(b"AcroForm"), old.get(b"AcroForm")) {
        (None, None) => {}
        (Some(new), Some(was)) if same(new, was) => {}
        (Some(Object::Dict(form)), was) => {
            let was_form = match was {
                Some(Object::Dict(f)) => f.clone(),
                None => Dict::default(),
                Some(_) => return None,
            };
            if !same_dict(form, &was_form, &[b"Fields", b"SigFlags"])
                || !matches!(form.get(b"SigFlags"), None | Some(Object::Int(_)))
            {
                return None;
            }
            let fields = |f: &Dict| match f.get(b"Fields") {
                Some(Object::Array(a)) => Some(a.clone()),
                None => Some(Vec::new()),
                Some(_) => None,
            };
            let (new_fields, old_fields) = (fields(form)?, fields(&was_form)?);
            // The signed fields all kept; any other is a new object.
            let kept = old_fields
                .iter()
                .all(|o| new_fields.iter().any(|n| same(n, o)));
            let added_new = new_fields.iter().all(|f| {
                old_fields.iter().any(|o| same(f, o))
                    || matches!(f, Object::Ref(n, _) if !signed.numbers.contains(n))
            });
            if !kept || !added_new {
                return None;
            }
        }
        _ => return None,
    }
    Some("an updated catalog (only /DSS or a timestamp's field added)")
}

/// The name of a new object PAdES allows after a signature, `None` for anything else.
fn kind_of_appended(d: &Dict, signed: &SignedRevision) -> Option<&'static str> {
    let data_keys = [&b"Length"[..], b"Filter", b"DecodeParms"];
    match d.name(b"Type") {
        Some(b"DSS") if only_keys(d, &[b"Type", b"Certs", b"CRLs", b"OCSPs", b"VRI"]) => {
            Some("validation data (DSS)")
        }
        Some(b"VRI") if only_keys(d, &[b"Type", b"Cert", b"CRL", b"OCSP", b"TU", b"TS"]) => {
            Some("validation data (VRI)")
        }
        Some(b"DocTimeStamp")
            if only_keys(
                d,
                &[
                    b"Type",
                    b"Filter",
                    b"SubFilter",
                    b"ByteRange",
                    b"Contents",
                    b"M",
                    b"Name",
                    b"Reason",
                    b"Location",
                    b"ContactInfo",
                    b"Prop_Build",
                ],
            ) =>
        {
            Some("a document timestamp")
        }
        Some(b"XRef") if changed_trailer_dict(d, signed).is_none() => {
            Some("a cross-reference stream")
        }
        // An invisible signature field for a document timestamp: no appearance, no action,
        // no kids.
        None | Some(b"Annot")
            if d.name(b"FT") == Some(b"Sig")
                && invisible(d)
                && matches!(d.name(b"Subtype"), None | Some(b"Widget"))
                && only_keys(
                    d,
                    &[
                        b"FT", b"T", b"V", b"Type", b"Subtype", b"Rect", b"F", b"P", b"TU", b"Ff",
                        b"Lock", b"SV",
                    ],
                ) =>
        {
            Some("an invisible signature field")
        }
        // A certificate or CRL stream of the DSS: data, no type.
        None if only_keys(d, &data_keys) && d.has(b"Length") => Some("validation data streams"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_dates_read_as_rfc_3339() {
        assert_eq!(readable_date("D:20261201052513Z"), "2026-12-01T05:25:13Z");
        assert_eq!(
            readable_date("D:20261201142513+09'00'"),
            "2026-12-01T14:25:13+09:00"
        );
        assert_eq!(readable_date("D:2026"), "D:2026");
        assert_eq!(readable_date("D:20261201142513+0"), "D:20261201142513+0");
        assert_eq!(readable_date("ｘ"), "ｘ");
    }

    /// A signed revision massho cannot see whole (objects in an object stream, a reference
    /// past /Size) makes any update after it "cannot check", even one that looks like a DSS;
    /// so does a new object under a number the signed cross-reference already covers.
    #[test]
    fn updates_after_what_massho_cannot_read_are_not_allowed() {
        let update = "5 0 obj\n<</Type /DSS>>\nendobj\nxref\n0 1\n0000000000 65535 f \ntrailer\n<</Size 6 /Root 1 0 R /Prev 40>>\nstartxref\n0\n%%EOF\n";
        let judge = |signed: &str, update: &str| {
            let pdf = format!("{signed}{update}");
            classify_appended(&Objects::new(pdf.as_bytes()), signed.len())
        };
        let plain = "%PDF-1.7\n1 0 obj\n<</Type /Catalog /Pages 2 0 R>>\nendobj\n2 0 obj\n<</Type /Pages /Kids [] /Count 0>>\nendobj\nxref\ntrailer\n<</Size 5 /Root 1 0 R>>\nstartxref\n40\n%%EOF\n";
        let ok = judge(plain, update);
        assert!(ok.allowed, "{ok:?}");
        let in_stream = plain.replace(
            "2 0 obj\n<</Type /Pages",
            "3 0 obj\n<</Type /ObjStm /N 0 /First 0 /Length 0>>\nstream\n\nendstream\nendobj\n2 0 obj\n<</Type /Pages",
        );
        let dangling = plain.replace("/Kids []", "/Kids [9 0 R]");
        for (signed, update, wants) in [
            (in_stream.as_str(), update, "object stream"),
            (dangling.as_str(), update, "refers to object 9"),
            (
                plain,
                &update.replace("5 0 obj", "4 0 obj"),
                "already covers",
            ),
            (
                plain,
                &update.replace("/Root 1 0 R", "/Root 5 0 R"),
                "another /Root",
            ),
        ] {
            let verdict = judge(signed, update);
            assert!(
                !verdict.allowed && verdict.holds.join("; ").contains(wants),
                "{wants}: {verdict:?}"
            );
        }
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
        let anchors = crate::x509::TrustAnchors::default();
        let none = ValidationData::default();
        let options = VerifyOptions {
            anchors: &anchors,
            at: time::OffsetDateTime::now_utc(),
            tsa_certs: &[],
            validation: &none,
        };
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
            // Two /ByteRange keys: readers disagree on which counts.
            (
                format!("0 {start} {end} {}]/ByteRange [0 1 2 3", len - end),
                "not one array",
            ),
            (
                format!("0 {start} {end} 99999999999999999999"),
                "non-negative integers",
            ),
            (format!("0 {start} {end} -1"), "non-negative integers"),
            (
                format!("0 {start} {end} {}", len - end - 4),
                "not the end of a revision",
            ),
        ] {
            // Keep the digits' width so the offsets stay right.
            let pdf = make(&format!("{range:<40}"));
            let report = verify_signed_pdf(pdf.as_bytes(), &options).unwrap();
            assert_eq!(report.signatures.len(), 1, "{range}");
            let problem = report.problem().unwrap_or_default();
            assert!(
                !report.ok() && problem.contains(wants),
                "{range}: {problem}"
            );
        }
        assert!(verify_signed_pdf(b"hello", &options).is_err());
        let unsigned = verify_signed_pdf(b"%PDF-1.7\n%%EOF\n", &options).unwrap();
        assert!(
            !unsigned.ok()
                && unsigned
                    .problem()
                    .unwrap_or_default()
                    .contains("no signature")
        );
    }
}
