//! Custom methods from a TOML file.
//!
//! ```toml
//! name = "acme-3"
//! description = "Our policy: zeros, ones, random"
//! verify = "last"            # none | last | all | sample (optional)
//!
//! [[pass]]
//! byte = 0x00
//! [[pass]]
//! complement = true          # bitwise complement of the previous pass
//! [[pass]]
//! pattern = [0x92, 0x49, 0x24]
//! [[pass]]
//! random = true
//! verify = true              # always read this pass back
//! [[pass]]
//! firmware = "purge"         # the drive's strongest purge technique, or one by name
//! ```

use std::path::Path;

use serde::Deserialize;

use super::{Method, MethodError, MethodPass, PassTemplate, Requested, VerifyMode};

/// Longest repeated byte pattern a method may use.
const MAX_PATTERN_LEN: usize = 4096;
/// Most passes a method may have.
const MAX_PASSES: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MethodFile {
    name: Option<String>,
    description: Option<String>,
    verify: Option<VerifyMode>,
    #[serde(default)]
    pass: Vec<PassFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PassFile {
    byte: Option<u8>,
    pattern: Option<Vec<u8>>,
    random: Option<bool>,
    complement: Option<bool>,
    /// `purge` or a technique name (`nvme-sanitize-crypto`, ...).
    firmware: Option<String>,
    verify: Option<bool>,
}

/// Read a method from a TOML file.
pub fn load_file(path: &Path) -> Result<Method, MethodError> {
    let shown = path.display().to_string();
    // A method file is a few lines of TOML; a FIFO must not hang massho.
    let bytes = crate::input::read_regular(path, "method file", 1 << 20)?;
    let text = String::from_utf8(bytes).map_err(|_| MethodError::Invalid {
        path: shown.clone(),
        detail: "not UTF-8 text".into(),
    })?;
    parse(&text, &shown)
}

/// Parse method TOML; `origin` names the file in errors.
pub fn parse(text: &str, origin: &str) -> Result<Method, MethodError> {
    let invalid = |detail: String| MethodError::Invalid {
        path: origin.to_owned(),
        detail,
    };
    let file: MethodFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    if file.pass.is_empty() {
        return Err(invalid("no passes: add at least one [[pass]] table".into()));
    }
    if file.pass.len() > MAX_PASSES {
        return Err(invalid(format!(
            "{} passes; at most {MAX_PASSES} are allowed",
            file.pass.len()
        )));
    }
    let mut passes = Vec::with_capacity(file.pass.len());
    for (i, p) in file.pass.iter().enumerate() {
        let n = i + 1;
        let mut kinds = Vec::new();
        if let Some(b) = p.byte {
            kinds.push(PassTemplate::Fixed(vec![b]));
        }
        if let Some(bytes) = &p.pattern {
            if bytes.is_empty() || bytes.len() > MAX_PATTERN_LEN {
                return Err(invalid(format!(
                    "pass {n}: pattern must have 1 to {MAX_PATTERN_LEN} bytes"
                )));
            }
            kinds.push(PassTemplate::Fixed(bytes.clone()));
        }
        if p.random == Some(true) {
            kinds.push(PassTemplate::Random);
        }
        if p.complement == Some(true) {
            if !file.pass[..i].iter().any(|q| q.firmware.is_none()) {
                return Err(invalid(format!(
                    "pass {n}: complement needs a previous overwrite pass"
                )));
            }
            kinds.push(PassTemplate::Complement);
        }
        if let Some(name) = &p.firmware {
            let requested = match (name.as_str(), crate::purge::select::technique_named(name)) {
                ("purge", _) => Requested::Purge,
                (_, Some(t)) => Requested::Technique(t),
                (_, None) => {
                    let names: Vec<&str> = crate::purge::select::TECHNIQUES
                        .iter()
                        .map(|t| t.name())
                        .collect();
                    return Err(invalid(format!(
                        "pass {n}: unknown firmware technique {:?}; use \"purge\" or one of {}",
                        crate::text::terminal_safe(name),
                        names.join(", ")
                    )));
                }
            };
            kinds.push(PassTemplate::Firmware(requested));
        }
        let template = match kinds.len() {
            1 => kinds.remove(0),
            0 => {
                return Err(invalid(format!(
                    "pass {n}: say what to write: byte = 0xNN, pattern = [..], random = true, complement = true or firmware = \"purge\""
                )))
            }
            _ => {
                return Err(invalid(format!(
                    "pass {n}: give only one of byte, pattern, random, complement, firmware"
                )))
            }
        };
        passes.push(MethodPass {
            template,
            verify: p.verify.unwrap_or(false),
        });
    }
    let stem = Path::new(origin)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "custom".into());
    Ok(Method {
        name: file.name.unwrap_or(stem),
        description: file
            .description
            .unwrap_or_else(|| format!("custom method from {origin}")),
        passes,
        default_verify: file.verify.unwrap_or(VerifyMode::Last),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_pass_kind() {
        let m = parse(
            "name = \"acme\"\nverify = \"all\"\n[[pass]]\nbyte = 0x00\n[[pass]]\ncomplement = true\n[[pass]]\npattern = [0x92, 0x49, 0x24]\n[[pass]]\nrandom = true\nverify = true\n",
            "acme.toml",
        )
        .unwrap();
        assert_eq!(m.name, "acme");
        assert_eq!(m.default_verify, VerifyMode::All);
        assert_eq!(
            m.passes
                .iter()
                .map(|p| p.template.clone())
                .collect::<Vec<_>>(),
            vec![
                PassTemplate::Fixed(vec![0]),
                PassTemplate::Complement,
                PassTemplate::Fixed(vec![0x92, 0x49, 0x24]),
                PassTemplate::Random
            ]
        );
        assert!(m.passes[3].verify);
    }

    #[test]
    fn errors_name_the_file_and_pass() {
        for (text, needle) in [
            ("", "no passes"),
            ("[[pass]]\n", "pass 1: say what to write"),
            (
                "[[pass]]\nbyte = 1\nrandom = true\n",
                "pass 1: give only one",
            ),
            ("[[pass]]\ncomplement = true\n", "pass 1: complement needs"),
            (
                "[[pass]]\nfirmware = \"purge\"\n[[pass]]\ncomplement = true\n",
                "pass 2: complement needs a previous overwrite",
            ),
            (
                "[[pass]]\nfirmware = \"nvme-melt\"\n",
                "pass 1: unknown firmware technique",
            ),
            ("[[pass]]\nbyte = 300\n", "m.toml"),
            ("[[pass]]\nbite = 1\n", "unknown field"),
            ("[[pass]]\npattern = []\n", "pass 1: pattern must have"),
        ] {
            let e = parse(text, "m.toml").unwrap_err().to_string();
            assert!(
                e.contains(needle) && e.contains("m.toml"),
                "{text:?} -> {e}"
            );
        }
    }

    /// A cheap stand-in for fuzzing: thousands of mutations of a valid file must each give a
    /// method or an error, never a panic.
    #[test]
    fn mutated_files_never_panic() {
        let valid = b"name = \"m\"\nverify = \"all\"\n[[pass]]\nbyte = 0x00\n[[pass]]\ncomplement = true\n[[pass]]\npattern = [1, 2, 3]\n[[pass]]\nrandom = true\nverify = true\n";
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"[]=\"\n 0x19abfpasbytecomplementrandomverify.,#-";
        for _ in 0..5000 {
            let mut bytes = valid.to_vec();
            for _ in 0..(next() % 6 + 1) {
                let at = (next() % bytes.len() as u64) as usize;
                match next() % 3 {
                    0 => bytes[at] = alphabet[(next() % alphabet.len() as u64) as usize],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, alphabet[(next() % alphabet.len() as u64) as usize]),
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse(&text, "fuzz.toml");
        }
    }
}
