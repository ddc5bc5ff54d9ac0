//! Wipe methods (named pass sequences) and the plan a wipe follows.
//!
//! A [`Method`] is a recipe: built-in ones (NIST Clear, DoD, Gutmann, ...) or a TOML file. A
//! [`WipePlan`] is the recipe made concrete for one run: rounds expanded, "complement of the
//! previous pass" resolved, Gutmann's fixed patterns shuffled, each random pass given its own
//! stream, and the verification decided pass by pass. The engine runs a plan and nothing else.

mod builtin;
mod custom;

use std::path::Path;

use serde::Serialize;

use crate::device::drive::PurgeTechnique;
use crate::pattern::{Pattern, Prng, Seed};
pub use crate::purge::select::Requested;

pub use builtin::{builtin, BUILTIN};
pub use custom::load_file;

/// One step of a method before it is made concrete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassTemplate {
    /// A fixed byte sequence repeated over the medium (one byte for most passes).
    Fixed(Vec<u8>),
    /// A fresh pseudorandom stream.
    Random,
    /// The bitwise complement of the previous pass.
    Complement,
    /// Gutmann's 27 fixed patterns, in an order shuffled for each run.
    GutmannShuffled,
    /// A firmware purge step: `purge` (the strongest technique the drive reports) or one named
    /// technique. Which command runs is decided per drive ([`WipePlan::resolve`]).
    Firmware(Requested),
}

/// A named sequence of passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    pub name: String,
    pub description: String,
    pub passes: Vec<MethodPass>,
    /// Verification when the operator does not choose one.
    pub default_verify: VerifyMode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodPass {
    pub template: PassTemplate,
    /// The method itself requires this pass to be read back (HMG IS5 Enhanced).
    pub verify: bool,
}

/// How much of the medium is read back.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VerifyMode {
    None,
    Last,
    All,
    Sample,
}

impl VerifyMode {
    pub fn name(self) -> &'static str {
        match self {
            VerifyMode::None => "none",
            VerifyMode::Last => "last",
            VerifyMode::All => "all",
            VerifyMode::Sample => "sample",
        }
    }
}

/// How one pass is read back.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VerifyKind {
    /// Every byte.
    Full,
    /// NIST SP 800-88 §4.7 sampling.
    Sampled,
}

/// One concrete pass of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassSpec {
    /// 1-based position in the plan.
    pub number: u32,
    pub pattern: Pattern,
    pub verify: Option<VerifyKind>,
}

/// One firmware step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareSpec {
    /// 1-based position in the plan (shared with overwrite passes).
    pub number: u32,
    pub requested: Requested,
    /// The technique chosen for this drive, and why; `None` until [`WipePlan::resolve`].
    pub technique: Option<(PurgeTechnique, String)>,
    /// How the firmware's work is read back; `None` only with `--verify none`.
    pub verify: Option<VerifyKind>,
}

/// One step of a plan, in the order it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Overwrite(PassSpec),
    Firmware(FirmwareSpec),
}

impl Step {
    pub fn number(&self) -> u32 {
        match self {
            Step::Overwrite(p) => p.number,
            Step::Firmware(f) => f.number,
        }
    }

    /// How the step is shown: the pattern (`0x00`, `random`) or the firmware request.
    pub fn describe(&self) -> String {
        match self {
            Step::Overwrite(p) => p.pattern.to_string(),
            Step::Firmware(f) => match &f.technique {
                Some((t, _)) if f.requested == Requested::Purge => format!("purge: {}", t.name()),
                Some((t, _)) => t.name().to_owned(),
                None => f.requested.name().to_owned(),
            },
        }
    }
}

/// Everything the engine needs to wipe one target.
#[derive(Debug, Clone)]
pub struct WipePlan {
    pub method: String,
    pub steps: Vec<Step>,
    pub verify: VerifyMode,
    pub prng: Prng,
    pub seed: Seed,
    pub rounds: u32,
    pub blank: bool,
    /// Continue an interrupted wipe: skip the steps before this one and start this one at this
    /// byte offset (from the journal's last checkpoint). `None` for a fresh wipe.
    pub resume: Option<(u32, u64)>,
}

/// The operator's choices that shape a plan.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub verify: Option<VerifyMode>,
    pub rounds: u32,
    pub blank: bool,
    pub prng: Option<Prng>,
    pub seed: Seed,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            verify: None,
            rounds: 1,
            blank: false,
            prng: None,
            seed: Seed::generate(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MethodError {
    #[error("unknown method {name:?}; run `massho methods` for the list, or pass a TOML file")]
    Unknown { name: String },
    /// Not a readable regular file of sane size (a FIFO, a directory, missing, huge).
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
    #[error("method file {path}: {detail}")]
    Invalid { path: String, detail: String },
}

impl WipePlan {
    /// The overwrite passes, in order.
    pub fn passes(&self) -> impl Iterator<Item = &PassSpec> {
        self.steps.iter().filter_map(|s| match s {
            Step::Overwrite(p) => Some(p),
            Step::Firmware(_) => None,
        })
    }

    /// The firmware steps, in order.
    pub fn firmware_steps(&self) -> impl Iterator<Item = &FirmwareSpec> {
        self.steps.iter().filter_map(|s| match s {
            Step::Firmware(f) => Some(f),
            Step::Overwrite(_) => None,
        })
    }

    pub fn has_firmware(&self) -> bool {
        self.firmware_steps().next().is_some()
    }

    /// Choose each firmware step's technique for `device`; refused (nothing written) when a
    /// step cannot run on it.
    pub fn resolve(
        &mut self,
        device: &crate::device::DeviceInfo,
        allow_bridge: bool,
    ) -> Result<(), crate::purge::Refused> {
        for step in &mut self.steps {
            if let Step::Firmware(f) = step {
                f.technique = Some(crate::purge::choose(device, f.requested, allow_bridge)?);
            }
        }
        Ok(())
    }
}

/// Find a method by built-in name, or load it from a TOML file when `name_or_path` names one.
pub fn resolve(name_or_path: &str) -> Result<Method, MethodError> {
    if let Some(m) = builtin(name_or_path) {
        return Ok(m);
    }
    let path = Path::new(name_or_path);
    if name_or_path.ends_with(".toml") || path.exists() {
        return load_file(path);
    }
    Err(MethodError::Unknown {
        name: name_or_path.to_owned(),
    })
}

/// Make `method` concrete for one run.
pub fn plan(method: &Method, opts: &PlanOptions) -> WipePlan {
    let verify = opts.verify.unwrap_or(method.default_verify);
    // `None` pattern: a firmware step.
    let mut passes: Vec<(Option<Pattern>, bool, Option<Requested>)> = Vec::new();
    let mut next_stream = 1u32;
    let mut gutmann_order = 0u32;
    for _ in 0..opts.rounds.max(1) {
        for mp in &method.passes {
            match &mp.template {
                PassTemplate::Fixed(bytes) => {
                    passes.push((Some(Pattern::Fixed(bytes.clone())), mp.verify, None))
                }
                PassTemplate::Random => {
                    passes.push((
                        Some(Pattern::Random {
                            stream: next_stream,
                            inverted: false,
                        }),
                        mp.verify,
                        None,
                    ));
                    next_stream += 1;
                }
                PassTemplate::Complement => {
                    // Validation guarantees a previous overwrite pass; a complement with none
                    // before it acts on zeros.
                    let previous = passes
                        .iter()
                        .rev()
                        .find_map(|(p, _, _)| p.clone())
                        .unwrap_or(Pattern::byte(0));
                    passes.push((Some(previous.complement()), mp.verify, None));
                }
                PassTemplate::GutmannShuffled => {
                    for bytes in builtin::gutmann_shuffled(&opts.seed, gutmann_order) {
                        passes.push((Some(Pattern::Fixed(bytes)), mp.verify, None));
                    }
                    gutmann_order += 1;
                }
                PassTemplate::Firmware(requested) => passes.push((None, true, Some(*requested))),
            }
        }
    }
    if opts.blank {
        passes.push((Some(Pattern::byte(0)), false, None));
    }
    let last = passes.len();
    let specs = passes
        .into_iter()
        .enumerate()
        .map(|(i, (pattern, required, firmware))| {
            let is_last = i + 1 == last;
            let Some(pattern) = pattern else {
                // What a firmware did is always checked (NIST: never trust the status alone),
                // unless the operator turned verification off.
                return Step::Firmware(FirmwareSpec {
                    number: i as u32 + 1,
                    requested: firmware.unwrap_or(Requested::Purge),
                    technique: None,
                    verify: match verify {
                        VerifyMode::None => None,
                        VerifyMode::Sample => Some(VerifyKind::Sampled),
                        VerifyMode::Last | VerifyMode::All => Some(VerifyKind::Full),
                    },
                });
            };
            let verify = match verify {
                // A pass the method itself requires to be read back (HMG IS5 Enhanced) is
                // read back even with --verify none: otherwise the result would name a method
                // that was not followed.
                VerifyMode::None => required.then_some(VerifyKind::Full),
                VerifyMode::All => Some(VerifyKind::Full),
                VerifyMode::Last => (is_last || required).then_some(VerifyKind::Full),
                VerifyMode::Sample => (is_last || required).then_some(VerifyKind::Sampled),
            };
            Step::Overwrite(PassSpec {
                number: i as u32 + 1,
                pattern,
                verify,
            })
        })
        .collect();
    WipePlan {
        method: method.name.clone(),
        steps: specs,
        verify,
        prng: opts.prng.unwrap_or_else(Prng::fastest),
        seed: opts.seed,
        rounds: opts.rounds.max(1),
        blank: opts.blank,
        resume: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> PlanOptions {
        PlanOptions {
            seed: Seed([9; 32]),
            ..PlanOptions::default()
        }
    }

    fn ps(p: &WipePlan) -> Vec<PassSpec> {
        p.passes().cloned().collect()
    }

    fn patterns(p: &WipePlan) -> Vec<String> {
        ps(p).iter().map(|s| s.pattern.to_string()).collect()
    }

    #[test]
    fn nist_clear_is_one_verified_zero_pass() {
        let p = plan(&resolve("nist-clear").unwrap(), &opts());
        assert_eq!(patterns(&p), ["0x00"]);
        assert_eq!(ps(&p)[0].verify, Some(VerifyKind::Full));
    }

    #[test]
    fn dod_short_is_byte_complement_random() {
        let p = plan(&resolve("dod-3").unwrap(), &opts());
        assert_eq!(patterns(&p), ["0x00", "0xFF", "random"]);
        assert_eq!(ps(&p).iter().filter(|s| s.verify.is_some()).count(), 1);
    }

    #[test]
    fn rounds_and_blank_expand_and_streams_are_distinct() {
        let o = PlanOptions {
            rounds: 2,
            blank: true,
            ..opts()
        };
        let p = plan(&resolve("dod-3").unwrap(), &o);
        assert_eq!(
            patterns(&p),
            ["0x00", "0xFF", "random", "0x00", "0xFF", "random", "0x00"]
        );
        assert_ne!(ps(&p)[2].pattern, ps(&p)[5].pattern);
        assert_eq!(ps(&p).last().unwrap().verify, Some(VerifyKind::Full));
    }

    #[test]
    fn verify_modes() {
        let m = resolve("schneier").unwrap();
        let all = plan(
            &m,
            &PlanOptions {
                verify: Some(VerifyMode::All),
                ..opts()
            },
        );
        assert!(all.passes().all(|s| s.verify == Some(VerifyKind::Full)));
        let none = plan(
            &m,
            &PlanOptions {
                verify: Some(VerifyMode::None),
                ..opts()
            },
        );
        assert!(ps(&none).iter().all(|s| s.verify.is_none()));
        let sample = plan(
            &m,
            &PlanOptions {
                verify: Some(VerifyMode::Sample),
                ..opts()
            },
        );
        assert_eq!(
            ps(&sample).last().unwrap().verify,
            Some(VerifyKind::Sampled)
        );
    }

    #[test]
    fn hmg_random_pass_is_always_verified() {
        let p = plan(&resolve("hmg-is5-enhanced").unwrap(), &opts());
        assert_eq!(patterns(&p), ["0x00", "0xFF", "random"]);
        let with_blank = plan(
            &resolve("hmg-is5-enhanced").unwrap(),
            &PlanOptions {
                blank: true,
                ..opts()
            },
        );
        assert_eq!(ps(&with_blank)[2].verify, Some(VerifyKind::Full));
        assert_eq!(ps(&with_blank)[3].verify, Some(VerifyKind::Full));
        let none = plan(
            &resolve("hmg-is5-enhanced").unwrap(),
            &PlanOptions {
                verify: Some(VerifyMode::None),
                ..opts()
            },
        );
        let verified: Vec<_> = ps(&none).iter().map(|s| s.verify).collect();
        assert_eq!(verified, [None, None, Some(VerifyKind::Full)]);
    }

    #[test]
    fn gutmann_has_35_passes_with_all_27_patterns_shuffled_per_seed() {
        let a = plan(&resolve("gutmann").unwrap(), &opts());
        assert_eq!(ps(&a).len(), 35);
        assert!(ps(&a)[..4].iter().all(|s| s.pattern.is_random()));
        assert!(ps(&a)[31..].iter().all(|s| s.pattern.is_random()));
        let mut fixed: Vec<_> = patterns(&a)[4..31].to_vec();
        let b = plan(
            &resolve("gutmann").unwrap(),
            &PlanOptions {
                seed: Seed([1; 32]),
                ..opts()
            },
        );
        assert_ne!(
            patterns(&a)[4..31],
            patterns(&b)[4..31],
            "order should depend on the seed"
        );
        fixed.sort();
        fixed.dedup();
        assert_eq!(fixed.len(), 22, "27 patterns, 22 distinct");
    }

    #[test]
    fn unknown_method_names_the_fix() {
        let e = resolve("dod-9").unwrap_err().to_string();
        assert!(e.contains("massho methods"), "{e}");
    }
}
