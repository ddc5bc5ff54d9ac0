//! Just enough of the PDF object syntax (ISO 32000-1 §7.2–7.3) to read signature dictionaries
//! back from a file a stranger hands us: numbers, names, strings, arrays, dictionaries and
//! references, with the byte span of every string (a signature's /Contents must be exactly the
//! gap in its /ByteRange). Every read is bounds-checked and nesting is capped; anything else is
//! an error, never a panic.

use std::ops::Range;

/// Deeper nesting than any signature or catalog needs.
const MAX_DEPTH: usize = 32;

/// A parsed PDF object.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Name(Vec<u8>),
    /// A literal or hex string: its bytes, and where it stands in the file (delimiters included).
    Str {
        bytes: Vec<u8>,
        span: Range<usize>,
    },
    Array(Vec<Object>),
    Dict(Dict),
    Ref(u32, u16),
}

/// A dictionary's entries in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dict(pub Vec<(Vec<u8>, Object)>);

impl Dict {
    /// The value of `/key`; `None` when it is missing or given more than once (an ambiguity a
    /// forger could use: one reader takes the first, another the last).
    pub fn get(&self, key: &[u8]) -> Option<&Object> {
        let mut found = self.0.iter().filter(|(k, _)| k == key);
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Some(v),
            _ => None,
        }
    }

    pub fn name(&self, key: &[u8]) -> Option<&[u8]> {
        match self.get(key) {
            Some(Object::Name(n)) => Some(n),
            _ => None,
        }
    }

    pub fn has(&self, key: &[u8]) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.0.iter().map(|(k, _)| k.as_slice())
    }
}

fn is_white(b: u8) -> bool {
    matches!(b, 0 | b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(b: u8) -> bool {
    !is_white(b) && !is_delimiter(b)
}

/// A reader positioned in a file's bytes.
pub struct Parser<'a> {
    data: &'a [u8],
    pub pos: usize,
}

impl<'a> Parser<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        Parser { data, pos }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Skip white space and comments.
    pub fn skip_white(&mut self) {
        while let Some(b) = self.peek() {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(b) = self.peek() {
                    if b == b'\n' || b == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// A run of regular characters (a keyword or number), not consumed past.
    fn token(&self) -> &'a [u8] {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let len = rest.iter().take_while(|b| is_regular(**b)).count();
        &rest[..len]
    }

    /// Consume `keyword` (followed by a delimiter, white space or the end) if it is next.
    pub fn keyword(&mut self, keyword: &[u8]) -> bool {
        self.skip_white();
        if self.token() == keyword {
            self.pos += keyword.len();
            true
        } else {
            false
        }
    }

    /// `N G obj` at the current position: the object number and generation.
    pub fn object_header(&mut self) -> Option<(u32, u16)> {
        let start = self.pos;
        let header = (|| {
            let n = self.unsigned()?;
            let g = self.unsigned()?;
            self.keyword(b"obj").then_some(())?;
            Some((u32::try_from(n).ok()?, u16::try_from(g).ok()?))
        })();
        if header.is_none() {
            self.pos = start;
        }
        header
    }

    /// A non-negative integer of at most ten digits.
    pub fn unsigned(&mut self) -> Option<u64> {
        self.skip_white();
        let t = self.token();
        if t.is_empty() || t.len() > 10 || !t.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += t.len();
        std::str::from_utf8(t).ok()?.parse().ok()
    }

    /// The next object.
    pub fn object(&mut self) -> Result<Object, String> {
        self.object_at_depth(0)
    }

    fn object_at_depth(&mut self, depth: usize) -> Result<Object, String> {
        if depth > MAX_DEPTH {
            return Err(format!("objects nested deeper than {MAX_DEPTH} levels"));
        }
        self.skip_white();
        let at = self.pos;
        let b = self
            .peek()
            .ok_or_else(|| "the file ends inside an object".to_owned())?;
        match b {
            b'/' => {
                self.pos += 1;
                Ok(Object::Name(self.name_body()))
            }
            b'(' => self.literal_string(),
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                let mut dict = Dict::default();
                loop {
                    self.skip_white();
                    match self.peek() {
                        Some(b'>') if self.data.get(self.pos + 1) == Some(&b'>') => {
                            self.pos += 2;
                            return Ok(Object::Dict(dict));
                        }
                        Some(b'/') => {
                            self.pos += 1;
                            let key = self.name_body();
                            let value = self.object_at_depth(depth + 1)?;
                            dict.0.push((key, value));
                        }
                        _ => return Err(format!("a dictionary key expected at byte {}", self.pos)),
                    }
                }
            }
            b'<' => self.hex_string(),
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_white();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        return Ok(Object::Array(items));
                    }
                    items.push(self.object_at_depth(depth + 1)?);
                }
            }
            _ => {
                let t = self.token();
                if t.is_empty() {
                    return Err(format!("unexpected byte 0x{b:02x} at byte {at}"));
                }
                self.pos += t.len();
                match t {
                    b"null" => Ok(Object::Null),
                    b"true" => Ok(Object::Bool(true)),
                    b"false" => Ok(Object::Bool(false)),
                    _ => self.number_or_ref(t, at),
                }
            }
        }
    }

    fn number_or_ref(&mut self, t: &[u8], at: usize) -> Result<Object, String> {
        let text = std::str::from_utf8(t).map_err(|_| format!("not a number at byte {at}"))?;
        if let Ok(n) = text.parse::<i64>() {
            // `N G R`: look ahead without consuming unless it is one.
            let save = self.pos;
            if let (Ok(num), Some(g)) = (u32::try_from(n), self.unsigned()) {
                if let Ok(g) = u16::try_from(g) {
                    if self.keyword(b"R") {
                        return Ok(Object::Ref(num, g));
                    }
                }
            }
            self.pos = save;
            return Ok(Object::Int(n));
        }
        text.parse::<f64>()
            .ok()
            .filter(|f| {
                f.is_finite()
                    && text
                        .bytes()
                        .all(|c| c.is_ascii_digit() || c == b'.' || c == b'-' || c == b'+')
            })
            .map(Object::Real)
            .ok_or_else(|| format!("unexpected {:?} at byte {at}", String::from_utf8_lossy(t)))
    }

    /// A name after its `/`, with `#xx` escapes decoded.
    fn name_body(&mut self) -> Vec<u8> {
        let raw = self.token();
        self.pos += raw.len();
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'#' {
                if let Some(v) = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(raw[i]);
            i += 1;
        }
        out
    }

    fn hex_string(&mut self) -> Result<Object, String> {
        let start = self.pos;
        self.pos += 1;
        let mut nibbles = Vec::new();
        loop {
            let b = self
                .peek()
                .ok_or_else(|| format!("the hex string at byte {start} is not closed"))?;
            self.pos += 1;
            match b {
                b'>' => break,
                b if is_white(b) => {}
                b => {
                    let v = (b as char).to_digit(16).ok_or_else(|| {
                        format!("a non-hex byte in the hex string at byte {start}")
                    })?;
                    nibbles.push(v as u8);
                }
            }
        }
        if nibbles.len() % 2 == 1 {
            nibbles.push(0);
        }
        let bytes = nibbles.chunks(2).map(|p| p[0] << 4 | p[1]).collect();
        Ok(Object::Str {
            bytes,
            span: start..self.pos,
        })
    }

    fn literal_string(&mut self) -> Result<Object, String> {
        let start = self.pos;
        self.pos += 1;
        let mut depth = 1usize;
        let mut bytes = Vec::new();
        let unclosed = || format!("the string at byte {start} is not closed");
        loop {
            let b = self.peek().ok_or_else(unclosed)?;
            self.pos += 1;
            match b {
                b'\\' => {
                    let e = self.peek().ok_or_else(unclosed)?;
                    self.pos += 1;
                    match e {
                        b'n' => bytes.push(b'\n'),
                        b'r' => bytes.push(b'\r'),
                        b't' => bytes.push(b'\t'),
                        b'b' => bytes.push(8),
                        b'f' => bytes.push(12),
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            bytes.push((v & 0xff) as u8);
                        }
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        other => bytes.push(other),
                    }
                }
                b'(' => {
                    depth += 1;
                    bytes.push(b);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    bytes.push(b);
                }
                other => bytes.push(other),
            }
        }
        Ok(Object::Str {
            bytes,
            span: start..self.pos,
        })
    }
}

/// A PDF text string (UTF-16BE with a byte-order mark, UTF-8 with one, else PDFDocEncoding,
/// read as Latin-1) as Rust text.
pub fn text_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Some(rest) = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

/// Every `N G obj` header in `data[range]`: (number, generation, offset of the header,
/// offset just after `obj`). Binary stream data can hold the same bytes by chance: callers
/// parse what follows and treat what does not fit as unknown, never as trusted.
pub fn object_headers(data: &[u8], range: Range<usize>) -> Vec<(u32, u16, usize, usize)> {
    let mut found = Vec::new();
    let end = range.end.min(data.len());
    let mut i = range.start;
    while i + 3 <= end {
        if &data[i..i + 3] == b"obj"
            && (i + 3 == data.len() || !is_regular(data[i + 3]))
            && i > 0
            && is_white(data[i - 1])
        {
            if let Some(start) = header_start(data, i) {
                if start >= range.start {
                    let mut p = Parser::new(data, start);
                    if let Some((n, g)) = p.object_header() {
                        found.push((n, g, start, p.pos));
                    }
                }
            }
        }
        i += 1;
    }
    found
}

/// The offset of the first `obj` keyword in `data` that follows digits, as an object header
/// does, but that [`object_headers`] does not read (a number past `u32`, a generation past
/// `u16`, no white space before `obj`): a lenient reader may still take it for an object.
pub fn unreadable_header(data: &[u8]) -> Option<usize> {
    let found = object_headers(data, 0..data.len());
    let mut i = 0;
    while i + 3 <= data.len() {
        if &data[i..i + 3] == b"obj"
            && (i + 3 == data.len() || !is_regular(data[i + 3]))
            && i > 0
            && (is_white(data[i - 1]) || data[i - 1].is_ascii_digit())
        {
            let before = data[..i]
                .iter()
                .rposition(|b| !is_white(*b))
                .map_or(i, |p| p + 1);
            let digits = data[..before]
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 && found.binary_search_by_key(&(i + 3), |h| h.3).is_err() {
                return Some(before - digits);
            }
        }
        i += 1;
    }
    None
}

/// Where `N G ` before the `obj` at `obj_at` begins, if it is there.
fn header_start(data: &[u8], obj_at: usize) -> Option<usize> {
    let mut i = obj_at;
    for _ in 0..2 {
        while i > 0 && is_white(data[i - 1]) {
            i -= 1;
        }
        let digits_end = i;
        while i > 0 && data[i - 1].is_ascii_digit() {
            i -= 1;
        }
        if i == digits_end {
            return None;
        }
    }
    (i == 0 || !is_regular(data[i - 1])).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_dictionary_parses_with_the_span_of_its_contents() {
        let data = b"7 0 obj\n<</Type/Sig/ByteRange [0 10 20 30]/Contents <3082 00>/Name (A \\(b\\) \\351)/M(D:2026)/X 3 0 R/F -1.5>>\nendobj";
        let headers = object_headers(data, 0..data.len());
        assert_eq!(headers.len(), 1);
        let (n, g, start, after) = headers[0];
        assert_eq!((n, g, start), (7, 0, 0));
        let Object::Dict(d) = Parser::new(data, after).object().unwrap() else {
            panic!("not a dict")
        };
        assert_eq!(d.name(b"Type"), Some(&b"Sig"[..]));
        let Some(Object::Str { bytes, span }) = d.get(b"Contents") else {
            panic!("no contents")
        };
        assert_eq!(bytes, &[0x30, 0x82, 0x00]);
        assert_eq!(&data[span.clone()], b"<3082 00>");
        let Some(Object::Str { bytes, span }) = d.get(b"Name") else {
            panic!("no name")
        };
        assert_eq!(bytes, b"A (b) \xe9");
        assert_eq!(&data[span.clone()], br"(A \(b\) \351)");
        assert_eq!(d.get(b"X"), Some(&Object::Ref(3, 0)));
        assert_eq!(d.get(b"F"), Some(&Object::Real(-1.5)));
        assert_eq!(
            d.get(b"ByteRange"),
            Some(&Object::Array(vec![
                Object::Int(0),
                Object::Int(10),
                Object::Int(20),
                Object::Int(30)
            ]))
        );
    }

    #[test]
    fn garbage_and_truncations_are_errors_not_panics() {
        let good = b"<</A [1 2 <41> (x) /N 3 0 R] /B <</C true>>>>";
        for len in 0..good.len() {
            let _ = Parser::new(&good[..len], 0).object();
        }
        for at in 0..good.len() {
            let mut bad = good.to_vec();
            bad[at] ^= 0x41;
            let _ = Parser::new(&bad, 0).object();
        }
        let deep = "[".repeat(1000);
        assert!(Parser::new(deep.as_bytes(), 0).object().is_err());
        let keys = b"<</A>>";
        assert!(Parser::new(keys, 0).object().is_err());
        assert_eq!(text_string(b"\xfe\xff\x30\x7b"), "\u{307b}");
        assert_eq!(text_string(b"\xfe\xff\x30"), "\u{3000}");
        assert!(object_headers(b"obj 1 obj", 0..9).is_empty());
    }

    #[test]
    fn headers_massho_cannot_read_are_found() {
        assert_eq!(unreadable_header(b"1 0 obj\n<<>>\nendobj\n"), None);
        assert!(unreadable_header(b"x\n5 70000 obj\n<<>>").is_some());
        assert!(unreadable_header(b"x\n99999999999 0 obj <<>>").is_some());
        assert!(unreadable_header(b"x 5 0obj <<>>").is_some());
        assert_eq!(unreadable_header(b"<</A 1>> endobj"), None);
    }

    #[test]
    fn duplicate_keys_are_ambiguous() {
        let Object::Dict(d) = Parser::new(b"<</A 1/A 2>>", 0).object().unwrap() else {
            panic!()
        };
        assert_eq!(d.get(b"A"), None);
    }
}
