//! Strings that came from outside (a drive's model and serial, a certificate, a CSV row, the
//! ledger, a file name) made safe for the two places they can do harm: a terminal, which runs
//! escape sequences and honours carriage returns and bidirectional overrides, and a spreadsheet,
//! which runs a cell that looks like a formula.

use std::borrow::Cow;

/// Whether `c` would be invisible or act on the terminal instead of being shown: control
/// characters (C0, DEL, C1, which include ESC and CSI) and invisible formatting characters
/// (zero-width spaces and joiners, bidirectional embeddings, overrides and isolates, byte-order
/// marks, interlinear annotation marks, the soft hyphen).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// `s` as it may be printed on a terminal: every [`is_hidden`] character is shown visibly as an
/// escape (`\n`, `\t`, `\u{1b}`, `\u{202e}`), and so is a backslash that would make such an
/// escape ambiguous. Strings without such characters are returned unchanged, without copying.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`terminal_safe`] for a path (file and device names come from outside too); a name that is
/// not UTF-8 is shown lossily.
pub fn path_safe(p: &std::path::Path) -> String {
    terminal_safe(&p.to_string_lossy()).into_owned()
}

/// A cell a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`, `@`, a tab,
/// a carriage return or a line feed gets a leading `'` (how Excel marks text). A plain number
/// (`-12`, `-1.5`) is left alone, since a spreadsheet reads it as the number it is and runs
/// nothing, and neither is a lone `-` (an empty value).
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    let risky = match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'@' | b'\t' | b'\r' | b'\n') => true,
        Some(b'-') => cell.len() > 1 && !is_plain_number(&cell[1..]),
        _ => false,
    };
    if risky {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Digits with at most one decimal point, nothing else (no `e`, no operators).
fn is_plain_number(s: &str) -> bool {
    let mut dots = 0;
    !s.is_empty()
        && s.chars().all(|c| {
            if c == '.' {
                dots += 1;
                dots == 1
            } else {
                c.is_ascii_digit()
            }
        })
        && s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_shown_not_run() {
        assert!(matches!(terminal_safe("WD-1234 日本"), Cow::Borrowed(_)));
        assert_eq!(terminal_safe("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(terminal_safe("ok\rFAILED"), "ok\\rFAILED");
        assert_eq!(terminal_safe("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(terminal_safe("a\u{200b}b"), "a\\u{200b}b");
        assert_eq!(terminal_safe("\u{9b}31m"), "\\u{9b}31m");
    }

    #[test]
    fn formulas_are_defused_and_numbers_left_alone() {
        for risky in ["=1+1", "+1", "-1+2", "-A1", "@SUM(A1)", "\tx", "\rx", "\nx"] {
            assert!(spreadsheet_safe(risky).starts_with('\''), "{risky:?}");
        }
        for plain in ["-", "-12", "-1.5", "12", "WD-1234", "", "2026-11-30"] {
            assert_eq!(spreadsheet_safe(plain), plain, "{plain:?}");
        }
    }
}
