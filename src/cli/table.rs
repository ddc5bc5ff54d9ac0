//! Tables: plain text for the terminal (columns padded to their widest cell, measured in
//! terminal columns: a Japanese character takes two; the last column unpadded), and CSV for
//! spreadsheets, where no cell may run as a formula.
//!
//! Cells come from drives (model, serial), the ledger and files people hand over, so every cell
//! is made [`terminal_safe`] here, once, for every table: an escape sequence or a carriage return
//! in a serial number is shown, not run, and widths are measured on what is shown.

use std::borrow::Cow;

use unicode_width::UnicodeWidthStr;

use crate::text::terminal_safe;

/// Render `headers` and `rows` as aligned columns, one line each, with a trailing newline.
pub fn render<S: AsRef<str>>(headers: &[&str], rows: &[Vec<S>]) -> String {
    let header: Vec<Cow<'_, str>> = headers.iter().map(|h| terminal_safe(h)).collect();
    let rows: Vec<Vec<Cow<'_, str>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| terminal_safe(c.as_ref())).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.width());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < r.len() {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(cell.width());
                line.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub use crate::text::spreadsheet_safe;

/// Rows serialized as CSV (header row from the field names), every cell [`spreadsheet_safe`].
pub fn csv_for_spreadsheets<T: serde::Serialize>(rows: &[T]) -> Result<Vec<u8>, csv::Error> {
    let mut raw = csv::Writer::from_writer(Vec::new());
    for r in rows {
        raw.serialize(r)?;
    }
    let bytes = raw
        .into_inner()
        .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[..]);
    let mut out = csv::Writer::from_writer(Vec::new());
    for record in reader.records() {
        out.write_record(record?.iter().map(|c| spreadsheet_safe(c).into_owned()))?;
    }
    out.into_inner()
        .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_would_act_on_the_terminal_are_shown_escaped_and_still_aligned() {
        let t = render(
            &["MODEL", "SERIAL", "X"],
            &[
                vec!["evil\x1b[2J", "ok\rFAILED", "a"],
                vec!["x\u{202e}gpj", "Z1", "b"],
            ],
        );
        assert!(!t.contains(['\x1b', '\r', '\u{202e}']), "{t:?}");
        assert_eq!(
            t,
            "MODEL          SERIAL      X\n\
             evil\\u{1b}[2J  ok\\rFAILED  a\n\
             x\\u{202e}gpj   Z1          b\n"
        );
    }

    #[test]
    fn wide_characters_take_two_columns() {
        let t = render(&["A", "B"], &[vec!["総務課", "x"], vec!["ab", "y"]]);
        assert_eq!(t, "A       B\n総務課  x\nab      y\n");
    }

    #[test]
    fn formulas_are_defused_and_numbers_left_alone() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("+81 3"), "'+81 3");
        assert_eq!(spreadsheet_safe("-cmd"), "'-cmd");
        assert_eq!(spreadsheet_safe("-5"), "-5");
        assert_eq!(spreadsheet_safe("-"), "-");
        assert_eq!(spreadsheet_safe("USB-001"), "USB-001");
        assert_eq!(spreadsheet_safe("2026-11-25"), "2026-11-25");
    }

    #[test]
    fn serialized_rows_get_defused_cells_and_keep_their_header() {
        #[derive(serde::Serialize)]
        struct Row {
            serial: String,
            size: u64,
        }
        let csv = csv_for_spreadsheets(&[Row {
            serial: "=cmd|' /C calc'!A0".into(),
            size: 512,
        }])
        .unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "serial,size\n'=cmd|' /C calc'!A0,512\n"
        );
    }
}
