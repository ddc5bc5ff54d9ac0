//! What a medium should hold according to a wipe result file: the final pass's pattern, with the
//! seed and stream that regenerate it, for `massho verify --result`.
//!
//! A result file is hostile input (anyone can hand one over), so everything it says is checked
//! before use: that it is a massho result at all, that its last pass completed, that its pattern,
//! stream and seed are well formed, and that it describes the device being verified (same size,
//! same serial when it recorded one). A wrong expectation would only ever make verification fail,
//! never pass, but an operator deserves to hear "wrong file" rather than "every byte differs".

use std::path::Path;

use crate::device::DeviceInfo;
use crate::pattern::{Pattern, Prng, Seed};
use crate::result::{WipeResult, RESULT_SCHEMA};
use crate::text::{path_safe, terminal_safe};

/// Longest fixed pattern accepted from a result (custom methods allow at most this many bytes).
const MAX_PATTERN_LEN: usize = 4096;

/// The pattern a wipe left on the medium, ready to regenerate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub pattern: Pattern,
    pub prng: Prng,
    pub seed: Seed,
    /// 1-based number of the pass that wrote it.
    pub pass: u32,
    pub method: String,
}

/// Why a result file cannot say what the medium should hold.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExpectedError {
    #[error("{path} is not a massho wipe result ({detail}); name a file written by `massho wipe --result-dir`")]
    NotAResult { path: String, detail: String },
    #[error("{path}: {detail}; the result file is damaged or was edited")]
    Malformed { path: String, detail: String },
    #[error("{path}: the last recorded pass ({pass}) did not complete, so the medium is not expected to hold its pattern; verify with --expect instead")]
    Incomplete { path: String, pass: u32 },
    #[error("{path} describes a different medium: {what} is {in_result} in the result but {on_device} on {device}; name the result of this device's wipe")]
    OtherMedium {
        path: String,
        device: String,
        what: &'static str,
        in_result: String,
        on_device: String,
    },
}

/// Read what `result` (the bytes of the file at `path`) says `device` should hold.
pub fn from_result(
    path: &Path,
    bytes: &[u8],
    device: &DeviceInfo,
) -> Result<Expected, ExpectedError> {
    let shown = path_safe(path);
    let result: WipeResult =
        serde_json::from_slice(bytes).map_err(|e| ExpectedError::NotAResult {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
    if result.schema != RESULT_SCHEMA {
        return Err(ExpectedError::NotAResult {
            path: shown,
            detail: format!(
                "schema {:?}, expected {RESULT_SCHEMA:?}",
                terminal_safe(&result.schema)
            ),
        });
    }
    check_identity(&shown, &result, device)?;
    let malformed = |detail: String| ExpectedError::Malformed {
        path: shown.clone(),
        detail,
    };
    let prng = match result.prng.as_str() {
        "aes-ctr" => Prng::AesCtr,
        "chacha20" => Prng::Chacha20,
        other => {
            return Err(malformed(format!(
                "unknown prng {:?}",
                terminal_safe(other)
            )))
        }
    };
    let seed = parse_seed(&result.seed)
        .ok_or_else(|| malformed("the seed is not 64 hexadecimal digits".to_owned()))?;
    let last = result
        .passes
        .last()
        .ok_or_else(|| malformed("it records no pass".to_owned()))?;
    if !last.completed {
        return Err(ExpectedError::Incomplete {
            path: shown,
            pass: last.index,
        });
    }
    let patterns: Vec<&str> = result.passes.iter().map(|p| p.pattern.as_str()).collect();
    let pattern = last_pattern(&patterns).map_err(malformed)?;
    Ok(Expected {
        pattern,
        prng,
        seed,
        pass: last.index,
        method: result.method,
    })
}

fn check_identity(
    shown: &str,
    result: &WipeResult,
    device: &DeviceInfo,
) -> Result<(), ExpectedError> {
    let differ = |what, in_result: String, on_device: String| ExpectedError::OtherMedium {
        path: shown.to_owned(),
        device: path_safe(&device.path),
        what,
        in_result,
        on_device,
    };
    if result.size_bytes != device.size_bytes {
        return Err(differ(
            "the size",
            format!("{} bytes", result.size_bytes),
            format!("{} bytes", device.size_bytes),
        ));
    }
    if let Some(serial) = &result.serial {
        if device.serial.as_deref() != Some(serial.as_str()) {
            return Err(differ(
                "the serial number",
                terminal_safe(serial).into_owned(),
                device
                    .serial
                    .as_deref()
                    .map_or("not reported".to_owned(), |s| terminal_safe(s).into_owned()),
            ));
        }
    }
    Ok(())
}

fn parse_seed(hex_text: &str) -> Option<Seed> {
    let bytes = hex::decode(hex_text).ok()?;
    Some(Seed(bytes.try_into().ok()?))
}

/// The pattern of the last of `passes` (as results print them: `0x00`, `0x92 0x49 0x24`,
/// `random`, `complement of random`). Random streams are numbered 1, 2, ... in pass order, as
/// `method::plan` numbers them; a complement of random uses the stream of the pass before it.
fn last_pattern(passes: &[&str]) -> Result<Pattern, String> {
    let mut streams = 0u32;
    let mut previous: Option<Pattern> = None;
    for (i, text) in passes.iter().enumerate() {
        let pattern = match *text {
            "random" => {
                streams += 1;
                Pattern::Random {
                    stream: streams,
                    inverted: false,
                }
            }
            "complement of random" => match &previous {
                Some(p @ Pattern::Random { .. }) => p.complement(),
                _ => {
                    return Err(format!(
                        "pass {} is a complement of random but pass {} was not random",
                        i + 1,
                        i
                    ))
                }
            },
            fixed => Pattern::Fixed(parse_fixed(fixed).ok_or_else(|| {
                format!(
                    "pass {}: {:?} is not a pattern",
                    i + 1,
                    terminal_safe(fixed)
                )
            })?),
        };
        previous = Some(pattern);
    }
    previous.ok_or_else(|| "it records no pass".to_owned())
}

/// `0x92 0x49 0x24` → the bytes; `None` unless every word is `0xNN`.
fn parse_fixed(text: &str) -> Option<Vec<u8>> {
    let bytes: Option<Vec<u8>> = text
        .split(' ')
        .map(|w| {
            let digits = w.strip_prefix("0x")?;
            (digits.len() == 2)
                .then(|| u8::from_str_radix(digits, 16).ok())
                .flatten()
        })
        .collect();
    bytes.filter(|b| !b.is_empty() && b.len() <= MAX_PATTERN_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_read_back_as_the_plan_made_them() {
        let r = |stream, inverted| Pattern::Random { stream, inverted };
        assert_eq!(last_pattern(&["0x00", "0xFF", "random"]), Ok(r(1, false)));
        assert_eq!(
            last_pattern(&["random", "random", "complement of random"]),
            Ok(r(2, true))
        );
        assert_eq!(
            last_pattern(&["0x00", "0xFF", "0x92 0x49 0x24"]),
            Ok(Pattern::Fixed(vec![0x92, 0x49, 0x24]))
        );
        for bad in [
            &["complement of random"][..],
            &["0x0"],
            &["0x00 "],
            &["0x00  0x01"],
            &["0xZZ"],
            &["\u{1b}[2J"],
            &[],
        ] {
            assert!(last_pattern(bad).is_err(), "{bad:?}");
        }
        let e = last_pattern(&["\u{1b}[2J"]).unwrap_err();
        assert!(!e.contains('\u{1b}'), "{e}");
    }
}
