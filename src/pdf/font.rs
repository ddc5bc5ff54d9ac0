//! The one font a printed record embeds: a Japanese (CJK) TrueType/OpenType font shipped by a
//! Debian package, found on disk, measured for line breaking, and subset to the glyphs used.
//!
//! Search order: `--font FILE` / `MASSHO_FONT` if given (and then only that file), else IPAex
//! Gothic, else Noto Sans CJK, in their Debian locations or in the directories that
//! `MASSHO_FONT_DIRS` names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId};

use super::PdfError;

/// Environment variable naming the font file, as `--font` does.
pub const FONT_ENV: &str = "MASSHO_FONT";
/// Environment variable with a `:`-separated list of directories to search for the known font
/// files instead of the Debian locations (other distributions keep them elsewhere).
pub const FONT_DIRS_ENV: &str = "MASSHO_FONT_DIRS";

/// The fonts looked for, in order: (Debian directory, file name, Debian package).
pub const KNOWN_FONTS: [(&str, &str, &str); 2] = [
    (
        "/usr/share/fonts/opentype/ipaexfont-gothic",
        "ipaexg.ttf",
        "fonts-ipaexfont-gothic",
    ),
    (
        "/usr/share/fonts/opentype/noto",
        "NotoSansCJK-Regular.ttc",
        "fonts-noto-cjk",
    ),
];

/// A font file read into memory; `index` selects the face in a collection (`.ttc`).
pub struct FontFile {
    pub path: PathBuf,
    pub data: Vec<u8>,
    pub index: u32,
}

/// The paths searched when no font is named: each known file in each directory of `dirs`
/// (`:`-separated; the value of [`FONT_DIRS_ENV`]), else in its Debian directory.
pub fn candidates(dirs: Option<&str>) -> Vec<PathBuf> {
    match dirs {
        Some(dirs) => KNOWN_FONTS
            .iter()
            .flat_map(|(_, file, _)| {
                dirs.split(':')
                    .filter(|d| !d.is_empty())
                    .map(move |d| Path::new(d).join(file))
            })
            .collect(),
        None => KNOWN_FONTS
            .iter()
            .map(|(dir, file, _)| Path::new(dir).join(file))
            .collect(),
    }
}

/// Read `explicit` if given, else the first of `candidates` that exists.
pub fn locate(explicit: Option<&Path>, candidates: &[PathBuf]) -> Result<FontFile, PdfError> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map(|data| FontFile {
                path: path.to_owned(),
                data,
                index: 0,
            })
            .map_err(|error| PdfError::FontRead {
                path: path.to_owned(),
                error,
            })
    };
    if let Some(path) = explicit {
        return read(path);
    }
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => read(path),
        None => Err(PdfError::NoFont {
            tried: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// How the font's outlines are stored, which decides how the PDF embeds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outlines {
    /// `glyf`: CIDFontType2, FontFile2.
    TrueType,
    /// `CFF `: CIDFontType0, FontFile3 /CIDFontType0C.
    Cff,
}

/// A parsed font plus the glyphs a document has used so far. Glyph ids written into content
/// streams are already the ids of the subset: [`GlyphRemapper`] numbers glyphs in order of
/// first use and never renumbers them.
pub struct Font<'a> {
    pub(super) file: &'a FontFile,
    pub(super) face: Face<'a>,
    pub(super) outlines: Outlines,
    pub(super) remapper: GlyphRemapper,
    /// Subset glyph id → the text it stands for (for the ToUnicode CMap).
    pub(super) text_of: HashMap<u16, char>,
    /// Per character: subset glyph id and advance in 1/1000 em.
    cache: HashMap<char, (u16, f32)>,
    /// Characters the font lacks: drawn as [`Font::substitute`] and reported.
    pub(super) missing: std::collections::BTreeSet<char>,
    /// What a missing character is drawn as: the geta mark 〓 (the Japanese typesetter's sign
    /// for a character the type case lacks), else `?`, else the font's `.notdef`.
    substitute: Option<char>,
}

impl<'a> Font<'a> {
    pub fn new(file: &'a FontFile) -> Result<Font<'a>, PdfError> {
        let bad = |reason: String| PdfError::FontParse {
            path: file.path.clone(),
            reason,
        };
        let face = Face::parse(&file.data, file.index).map_err(|e| bad(e.to_string()))?;
        let outlines = if face.tables().glyf.is_some() {
            Outlines::TrueType
        } else if face.tables().cff.is_some() {
            Outlines::Cff
        } else {
            return Err(bad("it has neither TrueType (glyf) nor CFF outlines".into()));
        };
        if face.permissions() == Some(ttf_parser::Permissions::Restricted)
            || !face.is_subsetting_allowed()
        {
            return Err(PdfError::NotEmbeddable {
                path: file.path.clone(),
            });
        }
        let substitute = ['\u{3013}', '?']
            .into_iter()
            .find(|&c| face.glyph_index(c).is_some());
        Ok(Font {
            substitute,
            file,
            face,
            outlines,
            remapper: GlyphRemapper::new(),
            text_of: HashMap::new(),
            cache: HashMap::new(),
            missing: Default::default(),
        })
    }

    fn units_to_milli(&self, v: f32) -> f32 {
        v * 1000.0 / f32::from(self.face.units_per_em())
    }

    /// Whether the font has a glyph for `c`.
    pub fn covers(&self, c: char) -> bool {
        self.face.glyph_index(c).is_some()
    }

    /// The subset glyph id of `c` and its advance in 1/1000 em. A character the font lacks is
    /// noted (see [`Font::missing`]) and drawn as the substitute mark.
    pub fn glyph(&mut self, c: char) -> (u16, f32) {
        if let Some(&g) = self.cache.get(&c) {
            return g;
        }
        let found = self.face.glyph_index(c);
        if found.is_none() {
            self.missing.insert(c);
            if let Some(sub) = self.substitute.filter(|&s| s != c) {
                let g = self.glyph(sub);
                self.cache.insert(c, g);
                return g;
            }
        }
        let old = found.unwrap_or(GlyphId(0));
        let advance = self.face.glyph_hor_advance(old).unwrap_or(0);
        let new = self.remapper.remap(old.0);
        if found.is_some() {
            self.text_of.entry(new).or_insert(c);
        }
        let g = (new, self.units_to_milli(f32::from(advance)));
        self.cache.insert(c, g);
        g
    }

    /// Width of `s` at `size` points.
    pub fn width(&mut self, s: &str, size: f32) -> f32 {
        s.chars()
            .filter_map(super::as_drawn)
            .map(|c| self.glyph(c).1)
            .sum::<f32>()
            * size
            / 1000.0
    }

    /// Ascender, descender (negative) and cap height in 1/1000 em.
    pub fn vertical_metrics(&self) -> (f32, f32, f32) {
        let ascent = self.units_to_milli(f32::from(self.face.ascender()));
        let descent = self.units_to_milli(f32::from(self.face.descender()));
        let cap = self
            .face
            .capital_height()
            .map(|c| self.units_to_milli(f32::from(c)))
            .unwrap_or(ascent * 0.8);
        (ascent, descent, cap)
    }

    /// Bounding box of all glyphs in 1/1000 em: (x_min, y_min, x_max, y_max).
    pub fn bbox(&self) -> [f32; 4] {
        let b = self.face.global_bounding_box();
        [
            self.units_to_milli(f32::from(b.x_min)),
            self.units_to_milli(f32::from(b.y_min)),
            self.units_to_milli(f32::from(b.x_max)),
            self.units_to_milli(f32::from(b.y_max)),
        ]
    }

    /// Advance of subset glyph ids 0.. in 1/1000 em, in subset order.
    pub fn subset_widths(&self) -> Vec<f32> {
        self.remapper
            .remapped_gids()
            .map(|old| {
                let adv = self.face.glyph_hor_advance(GlyphId(old)).unwrap_or(0);
                self.units_to_milli(f32::from(adv))
            })
            .collect()
    }

    /// The font's PostScript name (name id 6), reduced to what a PDF name may hold.
    pub fn postscript_name(&self) -> String {
        let name = self
            .face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .unwrap_or_else(|| "MasshoFont".into());
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if clean.is_empty() {
            "MasshoFont".into()
        } else {
            clean
        }
    }

    /// The subset font program as the PDF embeds it: a TrueType file for FontFile2, or the bare
    /// CFF table for FontFile3 (/CIDFontType0C). Glyph ids are those handed out by
    /// [`Font::glyph`]; the subsetter turns CFF fonts into CID-keyed ones with CID = glyph id.
    pub fn subset(&self) -> Result<Vec<u8>, PdfError> {
        let failed = |reason: String| PdfError::Subset {
            path: self.file.path.clone(),
            reason,
        };
        let data = subsetter::subset(&self.file.data, self.file.index, &self.remapper)
            .map_err(|e| failed(e.to_string()))?;
        match self.outlines {
            Outlines::TrueType => Ok(data),
            Outlines::Cff => {
                let face =
                    ttf_parser::RawFace::parse(&data, 0).map_err(|e| failed(e.to_string()))?;
                face.table(ttf_parser::Tag::from_bytes(b"CFF "))
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| failed("the subset has no CFF table".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_the_search_dirs() {
        let default = candidates(None);
        assert_eq!(
            default[0],
            Path::new("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")
        );
        assert_eq!(
            default[1],
            Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
        );
        let custom = candidates(Some("/a:/b"));
        assert_eq!(
            custom,
            [
                "/a/ipaexg.ttf",
                "/b/ipaexg.ttf",
                "/a/NotoSansCJK-Regular.ttc",
                "/b/NotoSansCJK-Regular.ttc"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn no_font_names_every_path_tried() {
        let dir = tempfile::tempdir().unwrap();
        let list = candidates(dir.path().to_str());
        let err = locate(None, &list).err().unwrap().to_string();
        for p in &list {
            assert!(err.contains(&p.display().to_string()), "{err}");
        }
        assert!(
            err.contains("apt-get install fonts-ipaexfont-gothic"),
            "{err}"
        );
        assert!(err.contains("--font"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_a_font_is_refused_without_panic() {
        let file = FontFile {
            path: "junk.ttf".into(),
            data: b"\x00\x01\x00\x00 definitely not a font".to_vec(),
            index: 0,
        };
        let err = Font::new(&file).err().unwrap().to_string();
        assert!(err.contains("junk.ttf"), "{err}");
    }
}
