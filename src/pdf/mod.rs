//! A small PDF writer for printed records: A4 pages, one embedded Japanese font, text with line
//! breaking, rules, filled rectangles and QR codes drawn as vectors.
//!
//! Just what certificates and batch summaries need, on `pdf-writer`. Coordinates are in points
//! measured from the **top-left** corner (layout code thinks top-down; the PDF's bottom-up
//! origin stays in here). Text is written as 2-byte glyph ids of a subset CID font with a
//! ToUnicode CMap, so that it can be searched and copied; a character the font lacks refuses the
//! whole document instead of printing a blank box.

pub mod font;
pub mod pades;
mod signed;
mod syntax;
pub mod update;

use pdf_writer::types::{
    AnnotationFlags, CidFontType, FieldType, FontFlags, SigFlags, SystemInfo, UnicodeCmap,
};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use sha2::{Digest, Sha256};

pub use font::{Font, FontFile};
pub use signed::{verify_signed_pdf, PdfSignature, SignedPdf};

/// A4 portrait, in points.
pub const A4_PORTRAIT: (f32, f32) = (595.0, 842.0);
/// A4 landscape, in points.
pub const A4_LANDSCAPE: (f32, f32) = (842.0, 595.0);

/// Points per millimetre.
pub const MM: f32 = 72.0 / 25.4;

/// Errors making a PDF: finding or using the font, encoding the QR code.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(
        "cannot read font {path}: {error}; name a Japanese TrueType/OpenType font with \
         --font FILE (or MASSHO_FONT), or install one: apt-get install fonts-ipaexfont-gothic"
    )]
    FontRead {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error(
        "no Japanese font found (tried {tried}); install one with \
         `apt-get install fonts-ipaexfont-gothic` (or fonts-noto-cjk), or name a font file with \
         --font FILE (or MASSHO_FONT)"
    )]
    NoFont { tried: String },
    #[error("{path} is not a usable TrueType/OpenType font: {reason}; choose another with --font")]
    FontParse {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error(
        "the licence flags of {path} forbid embedding it in documents; choose another font with \
         --font (IPAex Gothic and Noto Sans CJK may be embedded)"
    )]
    NotEmbeddable { path: std::path::PathBuf },
    #[error(
        "font {path} has no glyph for {chars}, which the document's own labels need; use a \
         font that covers Japanese (IPAex Gothic, Noto Sans CJK) with --font"
    )]
    MissingGlyphs {
        path: std::path::PathBuf,
        chars: String,
    },
    #[error("cannot subset font {path}: {reason}; choose another font with --font")]
    Subset {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot encode the QR code: {0}")]
    Qr(String),
}

/// Whether `c` is drawn at all: control characters and invisible formatting characters
/// (zero-width spaces and joiners, bidirectional overrides, byte-order marks) are not.
pub fn drawable(c: char) -> bool {
    !crate::text::is_hidden(c)
}

/// What `c` is drawn as on one line: line breaks and tabs as a space, other characters that
/// are not [`drawable`] not at all.
pub fn as_drawn(c: char) -> Option<char> {
    match c {
        '\n' | '\r' | '\t' => Some(' '),
        c if drawable(c) => Some(c),
        _ => None,
    }
}

/// Up to eight characters as `'x' (U+0078)`, and how many more.
pub fn describe_chars(chars: &std::collections::BTreeSet<char>) -> String {
    const SHOWN: usize = 8;
    let mut text = chars
        .iter()
        .take(SHOWN)
        .map(|c| format!("{c:?} (U+{:04X})", u32::from(*c)))
        .collect::<Vec<_>>()
        .join(", ");
    if chars.len() > SHOWN {
        text.push_str(&format!(" and {} more", chars.len() - SHOWN));
    }
    text
}

/// A fill or stroke colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Color {
    Gray(f32),
    Rgb(f32, f32, f32),
}

pub const BLACK: Color = Color::Gray(0.0);

/// A document being laid out: pages of one size, drawn into in any order.
pub struct Document<'a> {
    font: Font<'a>,
    size: (f32, f32),
    pages: Vec<Content>,
    current: usize,
    title: String,
    signature: Option<SignatureSlot>,
}

/// A visible signature field waiting for its signature: where it is, what it shows, and the
/// signature dictionary [`pades::sign`] fills in.
struct SignatureSlot {
    page: usize,
    rect: Rect,
    appearance: Content,
    placeholder: pades::Placeholder,
}

impl<'a> Document<'a> {
    /// An empty document of `size` (see [`A4_PORTRAIT`]) titled `title`, writing in `font`.
    pub fn new(font: &'a FontFile, size: (f32, f32), title: &str) -> Result<Self, PdfError> {
        Ok(Document {
            font: Font::new(font)?,
            size,
            pages: Vec::new(),
            current: 0,
            title: title.to_owned(),
            signature: None,
        })
    }

    pub fn width(&self) -> f32 {
        self.size.0
    }

    pub fn height(&self) -> f32 {
        self.size.1
    }

    /// Start a new page; drawing goes there from now on.
    pub fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.current = self.pages.len() - 1;
    }

    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Draw on page `index` (0-based) from now on, e.g. to add "page n of N" at the end.
    pub fn select_page(&mut self, index: usize) {
        if index < self.pages.len() {
            self.current = index;
        }
    }

    fn content(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.new_page();
        }
        &mut self.pages[self.current]
    }

    /// Height above the baseline of the font's tallest glyphs at `size`.
    pub fn ascent(&self, size: f32) -> f32 {
        self.font.vertical_metrics().0 * size / 1000.0
    }

    /// Width of `s` at `size` points.
    pub fn text_width(&mut self, s: &str, size: f32) -> f32 {
        self.font.width(s, size)
    }

    /// Draw `s` on one line with its baseline at (`x`, `baseline`).
    pub fn text(&mut self, x: f32, baseline: f32, size: f32, color: Color, s: &str) {
        let mut bytes = Vec::with_capacity(s.len() * 2);
        for c in s.chars().filter_map(as_drawn) {
            let (gid, _) = self.font.glyph(c);
            bytes.extend_from_slice(&gid.to_be_bytes());
        }
        let y = self.size.1 - baseline;
        let content = self.content();
        content.begin_text();
        set_fill(content, color);
        content
            .set_font(Name(b"F1"), size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    /// `s`, cut with "…" so that it is at most `width` wide at `size`.
    pub fn ellipsize(&mut self, s: &str, size: f32, width: f32) -> String {
        if self.text_width(s, size) <= width {
            return s.to_owned();
        }
        let room = width - self.text_width("…", size);
        let mut out = String::new();
        for c in s.chars() {
            out.push(c);
            if self.text_width(&out, size) > room {
                out.pop();
                break;
            }
        }
        out.push('…');
        out
    }

    /// Draw `s` with its right end at `right`.
    pub fn text_right(&mut self, right: f32, baseline: f32, size: f32, color: Color, s: &str) {
        let w = self.text_width(s, size);
        self.text(right - w, baseline, size, color, s);
    }

    /// The largest size from `max` down to `min` (in steps of 0.25 pt) at which `s` fits in
    /// `width` on one line; `min` if none does.
    pub fn fit(&mut self, s: &str, max: f32, min: f32, width: f32) -> f32 {
        let at_one = self.text_width(s, 1.0);
        if at_one <= 0.0 {
            return max;
        }
        let fitting = (width / at_one * 4.0).floor() / 4.0;
        fitting.clamp(min, max)
    }

    /// Break `s` into lines no wider than `width` at `size`: at spaces, after `-/,;_`, between
    /// CJK characters, and inside a word only when the word alone is too wide. `\n` always
    /// breaks; other control characters count as spaces.
    pub fn wrap(&mut self, s: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in s.split('\n') {
            let mut line = String::new();
            let mut line_w = 0.0;
            for token in tokens(para) {
                let token_w = self.text_width(&token, size);
                if line_w + token_w <= width {
                    line.push_str(&token);
                    line_w += token_w;
                } else if token == " " {
                    push_line(&mut lines, &mut line, &mut line_w);
                } else if token_w > width {
                    for c in token.chars() {
                        let cw = self.text_width(c.encode_utf8(&mut [0; 4]), size);
                        if line_w + cw > width && !line.is_empty() {
                            push_line(&mut lines, &mut line, &mut line_w);
                        }
                        line.push(c);
                        line_w += cw;
                    }
                } else {
                    push_line(&mut lines, &mut line, &mut line_w);
                    line.push_str(&token);
                    line_w = token_w;
                }
            }
            push_line(&mut lines, &mut line, &mut line_w);
        }
        lines
    }

    /// A straight rule from (`x1`, `y1`) to (`x2`, `y2`).
    pub fn line(&mut self, (x1, y1): (f32, f32), (x2, y2): (f32, f32), width: f32, color: Color) {
        let h = self.size.1;
        let content = self.content();
        content.save_state();
        set_stroke(content, color);
        content
            .set_line_width(width)
            .move_to(x1, h - y1)
            .line_to(x2, h - y2)
            .stroke()
            .restore_state();
    }

    /// A filled rectangle with its top-left corner at (`x`, `y`).
    pub fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Color) {
        let page_h = self.size.1;
        let content = self.content();
        content.save_state();
        set_fill(content, color);
        content
            .rect(x, page_h - y - h, w, h)
            .fill_nonzero()
            .restore_state();
    }

    /// `payload` as a QR code (error correction level M) of side `side` points with its
    /// top-left corner at (`x`, `y`). Keep 4 modules of white around it (the quiet zone);
    /// returns the module size so the caller can.
    pub fn qr(&mut self, payload: &str, x: f32, y: f32, side: f32) -> Result<f32, PdfError> {
        let code =
            qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
                .map_err(|e| PdfError::Qr(e.to_string()))?;
        let n = code.width();
        let module = side / n as f32;
        let colors = code.to_colors();
        let page_h = self.size.1;
        let content = self.content();
        content.save_state();
        set_fill(content, BLACK);
        for row in 0..n {
            // One rectangle per horizontal run of dark modules.
            let mut col = 0;
            while col < n {
                if colors[row * n + col] == qrcode::Color::Dark {
                    let start = col;
                    while col < n && colors[row * n + col] == qrcode::Color::Dark {
                        col += 1;
                    }
                    let top = y + row as f32 * module;
                    content.rect(
                        x + start as f32 * module,
                        page_h - top - module,
                        (col - start) as f32 * module,
                        module,
                    );
                } else {
                    col += 1;
                }
            }
        }
        content.fill_nonzero().restore_state();
        Ok(module)
    }

    /// A signature field whose box has its top-left corner at (`x`, `y`) on the current page,
    /// showing `lines` (text, size, colour) on a light ground: the signer's name and reason
    /// visible where the signature is. [`Document::finish`] then writes the signature dictionary
    /// with the placeholders of `placeholder`, for [`pades::sign`] to fill. The text is drawn in
    /// the widget's appearance stream, not the page: a reader shows it as the signature itself
    /// (click it for the signature panel), and it prints (the widget's Print flag).
    pub fn signature_field(
        &mut self,
        (x, y, w, h): (f32, f32, f32, f32),
        lines: &[(String, f32, Color)],
        placeholder: pades::Placeholder,
    ) {
        if self.pages.is_empty() {
            self.new_page();
        }
        let mut appearance = Content::new();
        appearance.save_state();
        set_fill(&mut appearance, Color::Gray(0.96));
        set_stroke(&mut appearance, Color::Gray(0.55));
        appearance
            .set_line_width(0.6)
            .rect(0.3, 0.3, w - 0.6, h - 0.6)
            .fill_nonzero_and_stroke()
            .restore_state();
        let mut top = 6.0;
        for (text, size, color) in lines {
            let baseline = top + self.ascent(*size);
            let mut bytes = Vec::with_capacity(text.len() * 2);
            for c in text.chars().filter_map(as_drawn) {
                let (gid, _) = self.font.glyph(c);
                bytes.extend_from_slice(&gid.to_be_bytes());
            }
            appearance.begin_text();
            set_fill(&mut appearance, *color);
            appearance
                .set_font(Name(b"F1"), *size)
                .next_line(6.0, h - baseline)
                .show(Str(&bytes))
                .end_text();
            top += size * 1.35;
        }
        let page_h = self.size.1;
        self.signature = Some(SignatureSlot {
            page: self.current,
            rect: Rect::new(x, page_h - y - h, x + w, page_h - y),
            appearance,
            placeholder,
        });
    }

    /// Refuse a font that cannot draw `s` (the document's own labels): a certificate whose
    /// headings are marks is no certificate.
    pub fn require(&self, s: &str) -> Result<(), PdfError> {
        let missing: std::collections::BTreeSet<char> = s
            .chars()
            .filter(|&c| drawable(c) && !c.is_whitespace() && !self.font.covers(c))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(PdfError::MissingGlyphs {
            path: self.font.file.path.clone(),
            chars: describe_chars(&missing),
        })
    }

    /// Characters drawn so far that the font lacks (drawn as 〓 or `?`).
    pub fn substituted(&self) -> Vec<char> {
        self.font.missing.iter().copied().collect()
    }

    /// The finished PDF file.
    pub fn finish(mut self) -> Result<Vec<u8>, PdfError> {
        if self.pages.is_empty() {
            self.new_page();
        }
        let signature = self.signature.take();
        let font = &self.font;
        let program = font.subset()?;

        let mut next = 0;
        let mut alloc = || {
            next += 1;
            Ref::new(next)
        };
        let catalog_id = alloc();
        let tree_id = alloc();
        let info_id = alloc();
        let type0_id = alloc();
        let cid_id = alloc();
        let descriptor_id = alloc();
        let cmap_id = alloc();
        let program_id = alloc();
        let page_ids: Vec<(Ref, Ref)> = self.pages.iter().map(|_| (alloc(), alloc())).collect();
        // The signature field (a widget merged with its field), its appearance, its value.
        let signature_ids = signature.as_ref().map(|_| (alloc(), alloc(), alloc()));

        let mut pdf = Pdf::new();
        let mut catalog = pdf.catalog(catalog_id);
        catalog.pages(tree_id).lang(TextStr("ja"));
        if let Some((field_id, _, _)) = signature_ids {
            // PDF 32000-1 §12.7.2: the document holds signatures and is changed only by
            // appending (an incremental update) from now on.
            catalog
                .form()
                .fields([field_id])
                .sig_flags(SigFlags::SIGNATURES_EXIST | SigFlags::APPEND_ONLY);
        }
        catalog.finish();
        pdf.pages(tree_id)
            .kids(page_ids.iter().map(|(p, _)| *p))
            .count(page_ids.len() as i32);
        pdf.document_info(info_id)
            .title(TextStr(&self.title))
            .producer(TextStr(concat!("massho ", env!("CARGO_PKG_VERSION"))));

        let base_font = format!("{}+{}", subset_tag(font), font.postscript_name());
        let system_info = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        pdf.type0_font(type0_id)
            .base_font(Name(base_font.as_bytes()))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_id)
            .to_unicode(cmap_id);
        let mut cid = pdf.cid_font(cid_id);
        cid.subtype(match font.outlines {
            font::Outlines::TrueType => CidFontType::Type2,
            font::Outlines::Cff => CidFontType::Type0,
        })
        .base_font(Name(base_font.as_bytes()))
        .system_info(system_info)
        .font_descriptor(descriptor_id)
        .default_width(0.0);
        cid.widths().consecutive(0, font.subset_widths());
        if font.outlines == font::Outlines::TrueType {
            cid.cid_to_gid_map_predefined(Name(b"Identity"));
        }
        cid.finish();

        let (ascent, descent, cap) = font.vertical_metrics();
        let [x0, y0, x1, y1] = font.bbox();
        let mut descriptor = pdf.font_descriptor(descriptor_id);
        descriptor
            .name(Name(base_font.as_bytes()))
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(x0, y0, x1, y1))
            .italic_angle(0.0)
            .ascent(ascent)
            .descent(descent)
            .cap_height(cap)
            .stem_v(80.0);
        match font.outlines {
            font::Outlines::TrueType => descriptor.font_file2(program_id),
            font::Outlines::Cff => descriptor.font_file3(program_id),
        };
        descriptor.finish();

        let mut cmap = UnicodeCmap::new(Name(b"Custom"), system_info);
        let mut mapped: Vec<(&u16, &char)> = font.text_of.iter().collect();
        mapped.sort();
        for (gid, c) in mapped {
            cmap.pair(*gid, *c);
        }
        let cmap = deflate(cmap.finish().as_slice());
        pdf.cmap(cmap_id, &cmap).filter(Filter::FlateDecode);

        let packed = deflate(&program);
        let mut stream = pdf.stream(program_id, &packed);
        stream.filter(Filter::FlateDecode);
        match font.outlines {
            font::Outlines::TrueType => {
                stream.pair(Name(b"Length1"), program.len() as i32);
            }
            font::Outlines::Cff => {
                stream.pair(Name(b"Subtype"), Name(b"CIDFontType0C"));
            }
        }
        stream.finish();

        let signed_page = signature.as_ref().map(|s| s.page);
        if let (Some(slot), Some((field_id, appearance_id, value_id))) = (signature, signature_ids)
        {
            let mut field = pdf.form_field(field_id);
            field
                .field_type(FieldType::Signature)
                .partial_name(TextStr("massho-signature"))
                .pair(Name(b"V"), value_id);
            let mut widget = field.into_annotation();
            widget
                .rect(slot.rect)
                .page(page_ids[slot.page].0)
                .flags(AnnotationFlags::PRINT | AnnotationFlags::LOCKED);
            widget.appearance().normal().stream(appearance_id);
            widget.finish();
            let appearance = deflate(&slot.appearance.finish());
            let mut form = pdf.form_xobject(appearance_id, &appearance);
            form.bbox(Rect::new(
                0.0,
                0.0,
                slot.rect.x2 - slot.rect.x1,
                slot.rect.y2 - slot.rect.y1,
            ));
            form.filter(Filter::FlateDecode);
            form.resources().fonts().pair(Name(b"F1"), type0_id);
            form.finish();
            slot.placeholder.write(&mut pdf, value_id);
        }

        let (w, h) = self.size;
        for (i, (content, (page_id, content_id))) in
            self.pages.into_iter().zip(&page_ids).enumerate()
        {
            let mut page = pdf.page(*page_id);
            page.parent(tree_id)
                .media_box(Rect::new(0.0, 0.0, w, h))
                .contents(*content_id);
            page.resources().fonts().pair(Name(b"F1"), type0_id);
            if let (Some((field_id, _, _)), Some(true)) =
                (signature_ids, signed_page.map(|p| p == i))
            {
                page.annotations([field_id]);
            }
            page.finish();
            let packed = deflate(&content.finish());
            pdf.stream(*content_id, &packed).filter(Filter::FlateDecode);
        }
        Ok(pdf.finish())
    }
}

fn set_fill(content: &mut Content, color: Color) {
    match color {
        Color::Gray(g) => content.set_fill_gray(g),
        Color::Rgb(r, g, b) => content.set_fill_rgb(r, g, b),
    };
}

fn set_stroke(content: &mut Content, color: Color) {
    match color {
        Color::Gray(g) => content.set_stroke_gray(g),
        Color::Rgb(r, g, b) => content.set_stroke_rgb(r, g, b),
    };
}

fn push_line(lines: &mut Vec<String>, line: &mut String, width: &mut f32) {
    lines.push(line.trim_end().to_owned());
    line.clear();
    *width = 0.0;
}

/// Characters between which a line may break without a space: CJK scripts and full-width
/// forms.
fn breaks_around(c: char) -> bool {
    matches!(u32::from(c), 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

/// Split a paragraph into the pieces [`Document::wrap`] may break between.
fn tokens(para: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in para.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' || breaks_around(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else {
            word.push(c);
            if matches!(c, '-' | '/' | ',' | ';' | '_') {
                out.push(std::mem::take(&mut word));
            }
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The six capital letters before a subset font's name, derived from the glyphs in it, so the
/// same content gives the same bytes.
fn subset_tag(font: &Font) -> String {
    let mut h = Sha256::new();
    for g in font.remapper.remapped_gids() {
        h.update(g.to_be_bytes());
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_break_at_spaces_punctuation_and_between_cjk() {
        assert_eq!(
            tokens("ab cd-ef/g 消去方式x"),
            ["ab", " ", "cd-", "ef/", "g", " ", "消", "去", "方", "式", "x"]
        );
        assert_eq!(tokens("a\tb"), ["a", " ", "b"]);
    }

    /// IPAex Gothic, which the tests require (packaging/install-deps.sh installs it).
    fn ipaex() -> FontFile {
        let path = font::candidates(None).remove(0);
        FontFile {
            data: std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{}: {e}; run packaging/install-deps.sh", path.display())
            }),
            path,
            index: 0,
        }
    }

    #[test]
    fn wrapped_lines_fit_and_lose_nothing_but_spaces() {
        let file = ipaex();
        let mut doc = Document::new(&file, A4_PORTRAIT, "t").unwrap();
        let samples = [
            "リース返却 lease return: 東京センチュリーリース株式会社 情報機器事業部, 契約 contract L-2026-117",
            "6e83580b2fe89ac2ae39eace0eaf61b0082a954287097bc027a648b8ed81ccea6e83580b2fe89ac2ae39",
            "short",
            "",
            "two\nparagraphs   with   spaces",
        ];
        for s in samples {
            for width in [40.0, 120.0, 361.0] {
                let lines = doc.wrap(s, 9.0, width);
                assert!(!lines.is_empty());
                for l in &lines {
                    let w = doc.text_width(l, 9.0);
                    // Only a single character wider than the column may exceed it.
                    assert!(
                        w <= width || l.chars().count() == 1,
                        "{l:?} is {w} > {width}"
                    );
                }
                let strip = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
                assert_eq!(strip(&lines.concat()), strip(s), "{lines:?}");
            }
        }
        assert_eq!(doc.wrap("two\nlines", 9.0, 300.0), ["two", "lines"]);
        assert_eq!(doc.wrap("a b", 9.0, 300.0), ["a b"]);
    }

    #[test]
    fn a_character_the_font_lacks_is_drawn_as_a_mark_and_reported() {
        let file = ipaex();
        let mut doc = Document::new(&file, A4_PORTRAIT, "t").unwrap();
        doc.text(10.0, 10.0, 9.0, BLACK, "ok \u{1F600}");
        assert_eq!(doc.substituted(), ['\u{1F600}']);
        assert_eq!(
            doc.text_width("\u{1F600}", 10.0),
            doc.text_width("\u{3013}", 10.0)
        );
        let err = doc.require("証明書 \u{1F600}").unwrap_err().to_string();
        assert!(err.contains("U+1F600") && !err.contains("U+8A3C"), "{err}");
        // Controls and invisible formatting take no room and need no glyph.
        assert_eq!(
            doc.text_width("a\n\u{1b}\u{200B}\u{202E}b", 10.0),
            doc.text_width("a b", 10.0)
        );
        assert!(doc.substituted().len() == 1);
        doc.finish().unwrap();
    }

    #[test]
    fn fit_shrinks_to_the_width_within_bounds() {
        let file = ipaex();
        let mut doc = Document::new(&file, A4_PORTRAIT, "t").unwrap();
        let s = "Certificate of Data Sanitization";
        let size = doc.fit(s, 12.0, 4.0, 100.0);
        assert!(size < 12.0 && doc.text_width(s, size) <= 100.0, "{size}");
        assert_eq!(doc.fit(s, 12.0, 4.0, 10_000.0), 12.0);
        assert_eq!(doc.fit(s, 12.0, 4.0, 1.0), 4.0);
    }
}
