//! Plain-text tables for the terminal: columns padded to their widest cell, measured in
//! terminal columns (a Japanese character takes two), the last column unpadded.

use unicode_width::UnicodeWidthStr;

/// Render `headers` and `rows` as aligned columns, one line each, with a trailing newline.
pub fn render<S: AsRef<str>>(headers: &[&str], rows: &[Vec<S>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.as_ref().width());
        }
    }
    let mut out = String::new();
    let header: Vec<&str> = headers.to_vec();
    let lines = std::iter::once(header).chain(
        rows.iter()
            .map(|r| r.iter().map(AsRef::as_ref).collect::<Vec<&str>>()),
    );
    for r in lines {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_take_two_columns() {
        let t = render(&["A", "B"], &[vec!["総務課", "x"], vec!["ab", "y"]]);
        assert_eq!(t, "A       B\n総務課  x\nab      y\n");
    }
}
