//! Incremental updates (ISO 32000-1 §7.5.6) to a signed PDF massho wrote: new and replaced
//! objects appended after `%%EOF` with their own cross-reference section and a trailer pointing
//! back, so that no byte the signature covers moves. PAdES uses them for what may follow a
//! signature: validation data (a DSS dictionary, B-LT) and document timestamps (B-LTA).

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::pades::{self, PadesError, Stamper};
use super::syntax::{object_headers, Dict, Object, Parser};
use crate::x509::ValidationData;

/// Write `o` in PDF syntax.
fn write_object(o: &Object, out: &mut Vec<u8>) {
    match o {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Object::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Object::Real(f) => out.extend_from_slice(format!("{f}").as_bytes()),
        Object::Name(n) => {
            out.push(b'/');
            for &b in n {
                if b.is_ascii_alphanumeric() || b"-_.+".contains(&b) {
                    out.push(b);
                } else {
                    out.extend_from_slice(format!("#{b:02X}").as_bytes());
                }
            }
        }
        Object::Str { bytes, .. } => {
            out.push(b'<');
            out.extend_from_slice(hex::encode_upper(bytes).as_bytes());
            out.push(b'>');
        }
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_object(item, out);
            }
            out.push(b']');
        }
        Object::Dict(d) => write_dict(d, out),
        Object::Ref(n, g) => out.extend_from_slice(format!("{n} {g} R").as_bytes()),
    }
}

fn write_dict(d: &Dict, out: &mut Vec<u8>) {
    out.extend_from_slice(b"<<");
    for (i, (k, v)) in d.0.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_object(&Object::Name(k.clone()), out);
        out.push(b' ');
        write_object(v, out);
    }
    out.extend_from_slice(b">>");
}

fn set(d: &mut Dict, key: &[u8], value: Object) {
    d.0.retain(|(k, _)| k != key);
    d.0.push((key.to_vec(), value));
}

/// What the last revision of a PDF massho wrote says about itself.
struct Revision {
    startxref: usize,
    size: u32,
    root: (u32, u16),
    info: Option<Object>,
    catalog: Dict,
}

const NOT_OURS: &str = "a PDF massho did not write (no readable trailer and catalog)";

fn last_revision(pdf: &[u8]) -> Result<Revision, PadesError> {
    let bad = || PadesError::Placeholder(NOT_OURS);
    let at = pdf
        .windows(9)
        .rposition(|w| w == b"startxref")
        .ok_or_else(bad)?;
    let mut p = Parser::new(pdf, at + 9);
    let Ok(Object::Int(startxref)) = p.object() else {
        return Err(bad());
    };
    let trailer_at = pdf
        .windows(7)
        .rposition(|w| w == b"trailer")
        .ok_or_else(bad)?;
    let Ok(Object::Dict(trailer)) = Parser::new(pdf, trailer_at + 7).object() else {
        return Err(bad());
    };
    let (Some(Object::Int(size)), Some(Object::Ref(n, g))) =
        (trailer.get(b"Size"), trailer.get(b"Root"))
    else {
        return Err(bad());
    };
    let headers = object_headers(pdf, 0..pdf.len());
    let body = headers
        .iter()
        .rev()
        .find(|h| h.0 == *n && h.1 == *g)
        .ok_or_else(bad)?
        .3;
    let Ok(Object::Dict(catalog)) = Parser::new(pdf, body).object() else {
        return Err(bad());
    };
    Ok(Revision {
        startxref: usize::try_from(startxref).map_err(|_| bad())?,
        size: u32::try_from(*size).map_err(|_| bad())?,
        root: (*n, *g),
        info: trailer.get(b"Info").cloned(),
        catalog,
    })
}

/// `pdf` with `objects` (number, body bytes; generation 0) appended as one incremental update.
fn append(pdf: &[u8], revision: &Revision, objects: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let mut offsets = Vec::new();
    for (n, body) in objects {
        offsets.push((*n, out.len()));
        out.extend_from_slice(format!("{n} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut table = String::from("xref\n");
    offsets.sort();
    for (n, offset) in &offsets {
        let _ = write!(table, "{n} 1\n{offset:010} 00000 n\r\n");
    }
    let size = objects
        .iter()
        .map(|(n, _)| n + 1)
        .max()
        .unwrap_or(0)
        .max(revision.size);
    let mut trailer = Dict::default();
    set(&mut trailer, b"Size", Object::Int(i64::from(size)));
    set(
        &mut trailer,
        b"Root",
        Object::Ref(revision.root.0, revision.root.1),
    );
    if let Some(info) = &revision.info {
        set(&mut trailer, b"Info", info.clone());
    }
    set(
        &mut trailer,
        b"Prev",
        Object::Int(revision.startxref as i64),
    );
    out.extend_from_slice(table.as_bytes());
    out.extend_from_slice(b"trailer\n");
    write_dict(&trailer, &mut out);
    out.extend_from_slice(format!("\nstartxref\n{xref}\n%%EOF\n").as_bytes());
    out
}

fn stream(data: &[u8]) -> Vec<u8> {
    let mut body = format!("<</Length {}>>\nstream\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\nendstream");
    body
}

/// PAdES B-LT: `pdf` with a DSS dictionary holding `data`'s certificates and CRLs, in an
/// incremental update (the catalog gains /DSS, nothing else changes).
pub fn add_dss(pdf: &[u8], data: &ValidationData) -> Result<Vec<u8>, PadesError> {
    let revision = last_revision(pdf)?;
    let mut next = revision.size;
    let mut objects = Vec::new();
    let mut refs = |items: Vec<&[u8]>, objects: &mut Vec<(u32, Vec<u8>)>| -> Vec<Object> {
        items
            .into_iter()
            .map(|der| {
                let n = next;
                next += 1;
                objects.push((n, stream(der)));
                Object::Ref(n, 0)
            })
            .collect()
    };
    let certs = refs(
        data.certificates.iter().map(|c| c.der.as_slice()).collect(),
        &mut objects,
    );
    let crls = refs(
        data.crls.iter().map(|c| c.der.as_slice()).collect(),
        &mut objects,
    );
    let dss_id = next;
    let mut dss = Dict::default();
    set(&mut dss, b"Type", Object::Name(b"DSS".to_vec()));
    if !certs.is_empty() {
        set(&mut dss, b"Certs", Object::Array(certs));
    }
    if !crls.is_empty() {
        set(&mut dss, b"CRLs", Object::Array(crls));
    }
    let mut body = Vec::new();
    write_dict(&dss, &mut body);
    objects.push((dss_id, body));
    let mut catalog = revision.catalog.clone();
    set(&mut catalog, b"DSS", Object::Ref(dss_id, 0));
    let mut body = Vec::new();
    write_dict(&catalog, &mut body);
    objects.push((revision.root.0, body));
    Ok(append(pdf, &revision, &objects))
}

/// Room for a document timestamp token with its TSA's chain.
const DOC_TIMESTAMP_CAPACITY: usize = 16 << 10;

/// PAdES B-LTA: `pdf` with a document timestamp (/Type /DocTimeStamp, /SubFilter
/// /ETSI.RFC3161) in an incremental update: an invisible signature field whose value's
/// /Contents is an RFC 3161 token over SHA-256 of the whole file but that token.
pub fn add_document_timestamp(pdf: &[u8], stamper: Stamper) -> Result<Vec<u8>, PadesError> {
    let revision = last_revision(pdf)?;
    let (field_id, value_id) = (revision.size, revision.size + 1);

    let mut value = Vec::new();
    value.extend_from_slice(
        b"<</Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161 /ByteRange ",
    );
    value.extend_from_slice(pades::BYTE_RANGE_TEXT);
    value.extend_from_slice(b" /Contents <");
    value.extend(std::iter::repeat_n(b'0', DOC_TIMESTAMP_CAPACITY * 2));
    value.extend_from_slice(b">>>");
    let field = format!(
        "<</FT /Sig /T (massho-document-timestamp) /V {value_id} 0 R /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132>>"
    )
    .into_bytes();

    let mut catalog = revision.catalog.clone();
    let mut form = match catalog.get(b"AcroForm") {
        Some(Object::Dict(d)) => d.clone(),
        _ => Dict::default(),
    };
    let mut fields = match form.get(b"Fields") {
        Some(Object::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    fields.push(Object::Ref(field_id, 0));
    set(&mut form, b"Fields", Object::Array(fields));
    set(&mut form, b"SigFlags", Object::Int(3));
    set(&mut catalog, b"AcroForm", Object::Dict(form));
    let mut catalog_body = Vec::new();
    write_dict(&catalog, &mut catalog_body);

    let mut out = append(
        pdf,
        &revision,
        &[
            (revision.root.0, catalog_body),
            (field_id, field),
            (value_id, value),
        ],
    );
    // The new /Contents is the last hex string of zeros after the new /ByteRange.
    let range_at = out
        .windows(pades::BYTE_RANGE_TEXT.len())
        .rposition(|w| w == pades::BYTE_RANGE_TEXT)
        .ok_or(PadesError::Placeholder("no document timestamp /ByteRange"))?;
    let start = range_at
        + out[range_at..]
            .windows(11)
            .position(|w| w == b"/Contents <")
            .ok_or(PadesError::Placeholder("no document timestamp /Contents"))?
        + 10;
    let end = start + 1 + DOC_TIMESTAMP_CAPACITY * 2 + 1;
    let len = out.len();
    pades::fill_byte_range(&mut out, range_at, [0, start, end, len - end])?;

    let mut hasher = Sha256::new();
    hasher.update(&out[..start]);
    hasher.update(&out[end..]);
    let imprint: [u8; 32] = hasher.finalize().into();
    let reply = stamper(&imprint).map_err(PadesError::Timestamp)?;
    let token = crate::timestamp::token_from_response(&reply)
        .or_else(|_| crate::timestamp::check_token(&reply, &imprint).map(|_| reply.clone()))
        .map_err(|e| PadesError::Timestamp(e.to_string()))?;
    crate::timestamp::check_token(&token, &imprint).map_err(|e| {
        PadesError::Timestamp(format!("the TSA's token does not stamp this PDF ({e})"))
    })?;
    if token.len() > DOC_TIMESTAMP_CAPACITY {
        return Err(PadesError::TooLarge {
            needed: token.len(),
            room: DOC_TIMESTAMP_CAPACITY,
        });
    }
    let hex = hex::encode_upper(&token);
    out[start + 1..start + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_written_back_as_they_were_read() {
        let text = b"<</Type /Catalog /Pages 2 0 R /Lang <6A61> /AcroForm <</Fields [11 0 R] /SigFlags 3>> /N#20x /R /F -1.5 /B true /Z null>>";
        let Ok(o) = Parser::new(text, 0).object() else {
            panic!("unparsable")
        };
        let mut out = Vec::new();
        write_object(&o, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(text));
    }
}
