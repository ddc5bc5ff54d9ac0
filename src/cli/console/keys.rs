//! The console's keyboard: bytes from the terminal to [`Key`]s. The console reads the terminal
//! itself (after poll(2) says there is something) instead of through crossterm's event reader,
//! which loops forever on a hung-up terminal; the sequences are the ones every terminal,
//! SSH client and serial console sends in raw mode.

use super::model::Key;

/// The keys in `input`. Unknown escape sequences (function keys, Home, ...) are dropped; a
/// lone ESC is Esc. A barcode scanner's line ends in CR, LF or CR LF: one Enter each.
pub fn decode(input: &[u8]) -> Vec<Key> {
    let text = String::from_utf8_lossy(input);
    let mut keys = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let key = match c {
            '\x1b' => match chars.peek() {
                Some('[') | Some('O') => {
                    chars.next();
                    let mut seq = String::new();
                    for n in chars.by_ref() {
                        seq.push(n);
                        if ('\x40'..='\x7e').contains(&n) {
                            break;
                        }
                    }
                    match seq.as_str() {
                        "A" => Key::Up,
                        "B" => Key::Down,
                        "C" => Key::Right,
                        "D" => Key::Left,
                        "Z" => Key::BackTab,
                        _ => continue,
                    }
                }
                _ => Key::Esc,
            },
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                Key::Enter
            }
            '\n' => Key::Enter,
            '\t' => Key::Tab,
            '\x7f' | '\x08' => Key::Backspace,
            '\x03' => Key::CtrlC,
            c if c.is_control() => continue,
            c => Key::Char(c),
        };
        keys.push(key);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_terminal_bytes() {
        assert_eq!(
            decode(b"\x1b[A\x1b[B\x1bOC\x1b[D\x1b[Z"),
            [Key::Up, Key::Down, Key::Right, Key::Left, Key::BackTab]
        );
        assert_eq!(decode(b"\x1b"), [Key::Esc]);
        assert_eq!(decode(b"\x03"), [Key::CtrlC]);
        assert_eq!(
            decode(b" \t\x7f"),
            [Key::Char(' '), Key::Tab, Key::Backspace]
        );
        // F5 and Home are not keys the console uses.
        assert_eq!(decode(b"\x1b[15~\x1b[Hq"), [Key::Char('q')]);
        assert_eq!(
            decode("山田".as_bytes()),
            [Key::Char('山'), Key::Char('田')]
        );
    }

    #[test]
    fn a_scanned_line_is_its_characters_and_one_enter() {
        for end in ["\r", "\n", "\r\n"] {
            let line = format!("PC-42{end}");
            assert_eq!(
                decode(line.as_bytes()),
                [
                    Key::Char('P'),
                    Key::Char('C'),
                    Key::Char('-'),
                    Key::Char('4'),
                    Key::Char('2'),
                    Key::Enter
                ],
                "{end:?}"
            );
        }
    }
}
