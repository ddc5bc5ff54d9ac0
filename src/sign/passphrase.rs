//! Where passphrases come from: a file named by an environment variable (automation, tests),
//! else the controlling terminal with echo off. Never from an argument, which `ps` would show.

use std::path::PathBuf;

use super::{read_small_text, SignError, SmallTextError};

/// Names a file whose first line is the passphrase.
pub const PASSPHRASE_FILE_ENV: &str = "MASSHO_PASSPHRASE_FILE";

/// Passphrase source for the CLI: `$MASSHO_PASSPHRASE_FILE` (first line of that file) for
/// automation and tests, else a prompt on the terminal; without a terminal, a clear error.
pub fn passphrase_from_env_or_tty(prompt: &str) -> Result<String, SignError> {
    if let Some(path) = std::env::var_os(PASSPHRASE_FILE_ENV) {
        let path = PathBuf::from(path);
        let text = read_small_text(&path, 64 * 1024).map_err(|e| {
            let source = match e {
                SmallTextError::Io(e) => e,
                SmallTextError::TooLarge => std::io::Error::other("the file is larger than 64 KiB"),
                SmallTextError::NotText => std::io::Error::other("the file is not UTF-8 text"),
            };
            SignError::PassphraseFile { path, source }
        })?;
        let text = zeroize::Zeroizing::new(text);
        let line = text.lines().next().unwrap_or("");
        return Ok(line.strip_suffix('\r').unwrap_or(line).to_string());
    }
    // rpassword reads /dev/tty; check it first so the error says what is missing.
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|source| SignError::NoTerminal { source })?;
    rpassword::prompt_password(prompt).map_err(|source| SignError::NoTerminal { source })
}
