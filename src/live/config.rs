//! `massho/live.toml`: the live stick's configuration, parsed strictly. Every error names the
//! line it is about; an unknown key is an error (a misspelt `mode` must not silently leave the
//! stick interactive, a misspelt `exclude` must not silently wipe a drive meant to be kept).

use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// What the live system does after boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Show the drives and the help; the technician wipes by hand.
    Interactive,
    /// Wipe every wipeable, not excluded drive with the configured method, then stop.
    Auto,
}

/// How a wipe reads the medium back (as `massho wipe --verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    None,
    Last,
    All,
    Sample,
}

/// The signing key on the stick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyConfig {
    /// Relative to the `massho` folder of the MASSHO partition.
    pub path: PathBuf,
    /// Create the key at the first boot when it does not exist.
    pub generate: bool,
}

/// The parsed configuration. Paths are relative to the `massho` folder of the MASSHO partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    pub mode: Mode,
    /// A built-in method name, or a method TOML file (a path ending in `.toml`).
    pub method: String,
    /// Line of `method`, for errors found when the method is resolved.
    pub method_line: Option<usize>,
    pub verify: Option<Verify>,
    /// Seconds shown on screen before an automatic wipe starts.
    pub countdown_s: u32,
    /// Power off when an automatic wipe ended.
    pub poweroff: bool,
    pub operator: Option<String>,
    pub organisation: Option<String>,
    pub key: Option<KeyConfig>,
    pub ledger: Option<PathBuf>,
    pub exclude_serials: Vec<String>,
    pub exclude_models: Vec<String>,
}

impl Default for LiveConfig {
    /// What a stick without live.toml does: nothing on its own.
    fn default() -> Self {
        LiveConfig {
            mode: Mode::Interactive,
            method: "nist-clear".into(),
            method_line: None,
            verify: None,
            countdown_s: DEFAULT_COUNTDOWN_S,
            poweroff: false,
            operator: None,
            organisation: None,
            key: None,
            ledger: None,
            exclude_serials: Vec::new(),
            exclude_models: Vec::new(),
        }
    }
}

pub const DEFAULT_COUNTDOWN_S: u32 = 10;
const MAX_COUNTDOWN_S: i64 = 3600;
const DEFAULT_KEY_PATH: &str = "keys/massho.key";

/// A malformed live.toml: the line (1-based, when known) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "live.toml line {line}: {}", self.message),
            None => write!(f, "live.toml: {}", self.message),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    mode: Option<Spanned<String>>,
    method: Option<Spanned<String>>,
    verify: Option<Spanned<String>>,
    countdown: Option<Spanned<i64>>,
    poweroff: Option<bool>,
    operator: Option<Spanned<String>>,
    organisation: Option<Spanned<String>>,
    key: Option<Spanned<RawKey>>,
    ledger: Option<Spanned<RawLedger>>,
    exclude: Option<RawExclude>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    path: Option<Spanned<String>>,
    generate: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLedger {
    path: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclude {
    serials: Option<Vec<Spanned<String>>>,
    models: Option<Vec<Spanned<String>>>,
}

impl LiveConfig {
    /// Parse live.toml. Nothing is read from disk: `method` is checked by name only when it is
    /// not a file (the caller resolves files on the stick).
    pub fn parse(text: &str) -> Result<LiveConfig, ConfigError> {
        let at = |span: Range<usize>, message: String| ConfigError {
            line: Some(line_of(text, span.start)),
            message,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError {
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().replace("unknown field", "unknown key"),
        })?;
        let mut cfg = LiveConfig::default();
        if let Some(mode) = raw.mode {
            cfg.mode = match mode.get_ref().as_str() {
                "interactive" => Mode::Interactive,
                "auto" => Mode::Auto,
                other => {
                    return Err(at(
                        mode.span(),
                        format!("mode = \"{other}\": expected \"interactive\" or \"auto\""),
                    ))
                }
            };
        }
        if let Some(method) = raw.method {
            let name = method.get_ref().trim();
            if name.is_empty() {
                return Err(at(method.span(), "method is empty".into()));
            }
            if name.ends_with(".toml") {
                relative(name, "method").map_err(|m| at(method.span(), m))?;
            } else if crate::method::resolve(name).is_err() {
                return Err(at(
                    method.span(),
                    format!("unknown method \"{name}\": see `massho methods`, or name a method file ending in .toml"),
                ));
            }
            cfg.method = name.to_owned();
            cfg.method_line = Some(line_of(text, method.span().start));
        }
        if let Some(verify) = raw.verify {
            cfg.verify = Some(match verify.get_ref().as_str() {
                "none" => Verify::None,
                "last" => Verify::Last,
                "all" => Verify::All,
                "sample" => Verify::Sample,
                other => {
                    return Err(at(
                        verify.span(),
                        format!(
                        "verify = \"{other}\": expected \"last\", \"all\", \"sample\" or \"none\""
                    ),
                    ))
                }
            });
        }
        if let Some(countdown) = raw.countdown {
            let s = *countdown.get_ref();
            cfg.countdown_s = u32::try_from(s)
                .ok()
                .filter(|s| i64::from(*s) <= MAX_COUNTDOWN_S)
                .ok_or_else(|| {
                    at(
                        countdown.span(),
                        format!("countdown = {s}: expected 0 to {MAX_COUNTDOWN_S} seconds"),
                    )
                })?;
        }
        cfg.poweroff = raw.poweroff.unwrap_or(false);
        cfg.operator = non_empty(raw.operator, "operator").map_err(|(s, m)| at(s, m))?;
        cfg.organisation =
            non_empty(raw.organisation, "organisation").map_err(|(s, m)| at(s, m))?;
        if let Some(key) = raw.key {
            let span = key.span();
            let key = key.into_inner();
            let path = match key.path {
                Some(p) => {
                    relative(p.get_ref(), "key path").map_err(|m| at(p.span(), m))?;
                    PathBuf::from(p.get_ref())
                }
                None => PathBuf::from(DEFAULT_KEY_PATH),
            };
            if path.extension().is_none_or(|e| e != "key") {
                return Err(at(
                    span,
                    format!(
                        "key path {}: a secret key file ends in .key",
                        path.display()
                    ),
                ));
            }
            if cfg.operator.is_none() {
                return Err(at(
                    span,
                    "a signing key makes certificates, which need `operator = \"NAME\"` (who performs the wipes)".into(),
                ));
            }
            cfg.key = Some(KeyConfig {
                path,
                generate: key.generate.unwrap_or(false),
            });
        }
        if let Some(ledger) = raw.ledger {
            let span = ledger.span();
            let path = ledger.into_inner().path;
            relative(path.get_ref(), "ledger path").map_err(|m| at(path.span(), m))?;
            if cfg.key.is_none() {
                return Err(at(
                    span,
                    "the ledger records certified wipes: add a [key] section (and operator)".into(),
                ));
            }
            cfg.ledger = Some(PathBuf::from(path.get_ref()));
        }
        if let Some(exclude) = raw.exclude {
            cfg.exclude_serials = values(exclude.serials, "serial").map_err(|(s, m)| at(s, m))?;
            cfg.exclude_models = values(exclude.models, "model").map_err(|(s, m)| at(s, m))?;
        }
        Ok(cfg)
    }

    /// Why the drive with this serial and model must be left alone, if live.toml excludes it.
    /// Matched exactly after trimming (serials as `massho devices` shows them), models also
    /// without regard to case.
    pub fn exclusion(&self, serial: Option<&str>, model: Option<&str>) -> Option<String> {
        if let Some(s) = serial.map(str::trim) {
            if self.exclude_serials.iter().any(|x| x == s) {
                return Some(format!("excluded by serial {s} in live.toml"));
            }
        }
        if let Some(m) = model.map(str::trim) {
            if self
                .exclude_models
                .iter()
                .any(|x| x.eq_ignore_ascii_case(m))
            {
                return Some(format!("excluded by model {m} in live.toml"));
            }
        }
        None
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A path on the stick must stay inside the massho folder.
fn relative(path: &str, what: &str) -> Result<(), String> {
    let p = Path::new(path);
    let inside = !path.trim().is_empty()
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if inside {
        Ok(())
    } else {
        Err(format!(
            "{what} \"{path}\" must be relative to the massho folder of the MASSHO partition, without \"..\""
        ))
    }
}

type SpanError = (Range<usize>, String);

fn non_empty(value: Option<Spanned<String>>, key: &str) -> Result<Option<String>, SpanError> {
    match value {
        None => Ok(None),
        Some(v) if v.get_ref().trim().is_empty() => Err((v.span(), format!("{key} is empty"))),
        Some(v) => Ok(Some(v.get_ref().trim().to_owned())),
    }
}

fn values(list: Option<Vec<Spanned<String>>>, what: &str) -> Result<Vec<String>, SpanError> {
    list.unwrap_or_default()
        .into_iter()
        .map(|v| {
            let s = v.get_ref().trim();
            if s.is_empty() {
                Err((v.span(), format!("an empty {what} would match nothing")))
            } else {
                Ok(s.to_owned())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"# a comment
mode = "auto"
method = "nist-clear"
verify = "sample"
countdown = 0
poweroff = true
operator = "Yamada Taro"
organisation = "ABC 健康保険組合"

[key]
path = "keys/station.key"
generate = true

[ledger]
path = "ledger.sqlite"

[exclude]
serials = ["WD-123", " S2 "]
models = ["Samsung SSD 870"]
"#;

    fn err(text: &str) -> ConfigError {
        match LiveConfig::parse(text) {
            Ok(cfg) => panic!("parsed {cfg:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn full_file() {
        let cfg = LiveConfig::parse(FULL).unwrap();
        assert_eq!(cfg.mode, Mode::Auto);
        assert_eq!(cfg.method, "nist-clear");
        assert_eq!(cfg.method_line, Some(3));
        assert_eq!(cfg.verify, Some(Verify::Sample));
        assert_eq!(cfg.countdown_s, 0);
        assert!(cfg.poweroff);
        assert_eq!(cfg.operator.as_deref(), Some("Yamada Taro"));
        assert_eq!(cfg.organisation.as_deref(), Some("ABC 健康保険組合"));
        assert_eq!(
            cfg.key,
            Some(KeyConfig {
                path: "keys/station.key".into(),
                generate: true
            })
        );
        assert_eq!(cfg.ledger, Some(PathBuf::from("ledger.sqlite")));
        assert_eq!(cfg.exclude_serials, ["WD-123", "S2"]);
        assert_eq!(cfg.exclude_models, ["Samsung SSD 870"]);
    }

    #[test]
    fn empty_file_is_interactive_and_wipes_nothing() {
        let cfg = LiveConfig::parse("").unwrap();
        assert_eq!(cfg, LiveConfig::default());
        assert_eq!(cfg.mode, Mode::Interactive);
        assert!(!cfg.poweroff);
        assert_eq!(cfg.countdown_s, DEFAULT_COUNTDOWN_S);
    }

    #[test]
    fn unknown_keys_are_errors_with_their_line() {
        let e = err("mode = \"auto\"\npowerof = true\n");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("unknown key `powerof`"), "{e}");
        assert!(e.to_string().starts_with("live.toml line 2: "), "{e}");
        let e = err("[exclude]\nserials = []\nserial = [\"X\"]\n");
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("unknown key `serial`"), "{e}");
        let e = err("operator = \"a\"\n[key]\npath = \"keys/a.key\"\ngenrate = true\n");
        assert_eq!(e.line, Some(4), "{e}");
        let e = err("[network]\nenabled = true\n");
        assert_eq!(e.line, Some(1), "{e}");
    }

    #[test]
    fn malformed_toml_names_the_line() {
        let e = err("mode = \"auto\"\n\nmethod = nist-clear\n");
        assert_eq!(e.line, Some(3), "{e}");
        let e = err("countdown = \"ten\"\n");
        assert_eq!(e.line, Some(1), "{e}");
        let e = err("poweroff = yes\n");
        assert_eq!(e.line, Some(1), "{e}");
    }

    #[test]
    fn bad_values_name_their_line() {
        let cases: [(&str, usize, &str); 11] = [
            (
                "\nmode = \"automatic\"\n",
                2,
                "expected \"interactive\" or \"auto\"",
            ),
            ("method = \"shred-9\"\n", 1, "unknown method \"shred-9\""),
            ("method = \"../m.toml\"\n", 1, "without \"..\""),
            ("verify = \"full\"\n", 1, "expected \"last\""),
            ("countdown = -1\n", 1, "expected 0 to 3600"),
            ("countdown = 100000\n", 1, "expected 0 to 3600"),
            ("operator = \"  \"\n", 1, "operator is empty"),
            ("\n\n[key]\ngenerate = true\n", 3, "need `operator"),
            (
                "operator = \"a\"\n[key]\npath = \"/etc/k.key\"\n",
                3,
                "must be relative",
            ),
            ("[ledger]\npath = \"l.sqlite\"\n", 1, "add a [key] section"),
            ("[exclude]\nmodels = [\"ok\",\n \"\"]\n", 3, "empty model"),
        ];
        for (text, line, msg) in cases {
            let e = err(text);
            assert_eq!(e.line, Some(line), "{text:?}: {e}");
            assert!(e.message.contains(msg), "{text:?}: {e}");
        }
    }

    #[test]
    fn key_defaults_and_method_files() {
        let cfg =
            LiveConfig::parse("operator = \"a\"\nmethod = \"methods/site.toml\"\n[key]\n").unwrap();
        assert_eq!(cfg.key.unwrap().path, PathBuf::from("keys/massho.key"));
        assert_eq!(cfg.method, "methods/site.toml");
        let e = err("operator = \"a\"\n[key]\npath = \"keys/massho.pub\"\n");
        assert!(e.message.contains("ends in .key"), "{e}");
    }

    #[test]
    fn exclusions_by_serial_and_model() {
        let cfg = LiveConfig::parse(FULL).unwrap();
        assert_eq!(
            cfg.exclusion(Some("WD-123"), Some("WDC")).as_deref(),
            Some("excluded by serial WD-123 in live.toml")
        );
        assert!(cfg.exclusion(Some(" S2"), None).is_some());
        assert_eq!(
            cfg.exclusion(Some("OTHER"), Some("samsung ssd 870"))
                .as_deref(),
            Some("excluded by model samsung ssd 870 in live.toml")
        );
        assert_eq!(
            cfg.exclusion(Some("WD-1234"), Some("Samsung SSD 870 EVO")),
            None
        );
        assert_eq!(cfg.exclusion(None, None), None);
    }

    #[test]
    fn random_mutations_never_panic() {
        let bytes = FULL.as_bytes();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            let mut b = bytes.to_vec();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state % b.len() as u64) as usize;
                b[i] = (state >> 32) as u8;
            }
            if let Ok(text) = std::str::from_utf8(&b) {
                if let Err(e) = LiveConfig::parse(text) {
                    assert!(e.line.is_some_and(|l| l >= 1), "{e}");
                }
            }
        }
    }
}
