//! `massho verify`: read a device or image back, read-only, and compare it with a pattern: one
//! byte (`--expect`), or whatever a wipe result file says its last pass left (`--result`).
//!
//! The path is inspected like `wipe` inspects it before anything is opened, so a directory, a
//! FIFO (which would block the open forever) or a character device is named for what it is.

use std::path::Path;
use std::sync::Arc;

use indicatif::HumanBytes;
use serde::Serialize;

use super::args::{ExpectArg, VerifyArgs};
use super::render::{interrupt_flag, Console, InterruptOnly, Style};
use super::{Exit, ExitError};
use crate::device::io::{Access, BlockTarget, DeviceTarget};
use crate::device::{self, DeviceError, DeviceInfo};
use crate::engine::{self, EngineConfig, ErrorRange, Observer, PassVerification, Status};
use crate::expected;
use crate::input;
use crate::method::VerifyKind;
use crate::pattern::{Pattern, PatternSource, Prng, Seed};
use crate::text::{path_safe, terminal_safe};

/// How many mismatch ranges the terminal output lists; the JSON lists every recorded one.
const SHOWN_MISMATCHES: usize = 50;

/// The JSON object `massho verify --json` prints.
#[derive(Debug, Serialize)]
struct VerifyOutput<'a> {
    device: String,
    expect: String,
    /// With `--result`: the file, the method and the pass whose pattern was expected.
    result: Option<ResultSource>,
    mode: &'static str,
    bytes_verified: u64,
    seconds: f64,
    throughput_bps: f64,
    mismatched_bytes: u64,
    mismatches: &'a [engine::ByteRange],
    mismatches_unlisted_ranges: u64,
    mismatches_unlisted_bytes: u64,
    errors: &'a [ErrorRange],
    direct_io: bool,
    /// Seed of the sampling layout, to reproduce which ranges were read.
    sample_seed: Option<String>,
    status: Status,
}

#[derive(Debug, Serialize)]
struct ResultSource {
    file: String,
    method: String,
    pass: u32,
}

/// What the medium should hold, ready for the engine.
struct Expectation {
    source: PatternSource,
    /// `0x00`, `random`, `0x92 0x49 0x24`.
    text: String,
    result: Option<ResultSource>,
}

pub fn run(args: &VerifyArgs) -> anyhow::Result<Exit> {
    let info = inspect(&args.device)?;
    let expectation = expectation(args, &info)?;
    let target =
        DeviceTarget::open(&args.device, Access::ReadOnly).map_err(ExitError::from_open)?;
    let style = if args.json {
        Style::Json
    } else {
        Style::choose(false)
    };
    let interrupted = interrupt_flag()?;
    let console = Console::new(style, Arc::clone(&interrupted));
    let layout_seed = Seed::generate();
    let kind = if args.sample {
        VerifyKind::Sampled
    } else {
        VerifyKind::Full
    };
    let label = path_safe(&args.device);
    // Progress is for the terminal only; with --json the output is one object.
    let silent = InterruptOnly(Arc::clone(&interrupted));
    let observer: &dyn Observer = if args.json { &silent } else { &console };
    let config = EngineConfig::from_env();
    let check = engine::check_medium(
        &target,
        &expectation.source,
        kind,
        &layout_seed,
        &label,
        &config,
        observer,
    );
    let v: &PassVerification = &check.verification;
    let expected = &expectation.text;
    if args.json {
        console.json(&VerifyOutput {
            device: label,
            expect: expected.clone(),
            result: expectation.result,
            mode: if args.sample { "sample" } else { "full" },
            bytes_verified: v.bytes_verified,
            seconds: v.seconds,
            throughput_bps: v.throughput_bps,
            mismatched_bytes: v.mismatched_bytes,
            mismatches: &v.mismatches,
            mismatches_unlisted_ranges: v.mismatches_unlisted_ranges,
            mismatches_unlisted_bytes: v.mismatches_unlisted_bytes,
            errors: &check.errors,
            direct_io: check.direct_io,
            sample_seed: args.sample.then(|| layout_seed.to_hex()),
            status: check.status,
        });
        return Ok(super::wipe::exit_for([check.status]));
    }
    if let Some(r) = &expectation.result {
        outln!(
            "{label}: expecting {expected}, pass {} of {} in {}",
            r.pass,
            r.method,
            r.file
        );
    }
    outln!(
        "{label}: {} read {} in {:.1}s ({}/s){}",
        if args.sample { "sampled" } else { "full" },
        HumanBytes(v.bytes_verified),
        v.seconds,
        HumanBytes(v.throughput_bps as u64),
        if check.direct_io {
            ""
        } else {
            " [page cache dropped; O_DIRECT not available]"
        }
    );
    for line in mismatch_lines(v, target.sector_size()) {
        outln!("{line}");
    }
    for e in &check.errors {
        outln!(
            "  {:?} error: LBA {}-{}: {}",
            e.kind,
            e.first_lba,
            e.last_lba,
            terminal_safe(&e.message)
        );
    }
    match check.status {
        Status::Passed => outln!("{label}: every byte read is {expected}"),
        Status::Failed => outln!(
            "{label}: {} byte(s) differ from {expected}, {} unreadable range(s)",
            v.mismatched_bytes,
            check.errors.len()
        ),
        Status::Aborted => outln!("{label}: verification interrupted"),
        Status::Unverified => outln!("{label}: nothing was read"),
    }
    Ok(super::wipe::exit_for([check.status]))
}

/// The first [`SHOWN_MISMATCHES`] ranges, then how many more ranges and bytes differ.
fn mismatch_lines(v: &PassVerification, sector_size: u32) -> Vec<String> {
    let mut out: Vec<String> = v
        .mismatches
        .iter()
        .take(SHOWN_MISMATCHES)
        .map(|m| {
            format!(
                "  mismatch: {} bytes at offset {} (LBA {})",
                m.length,
                m.offset,
                m.offset / u64::from(sector_size.max(1))
            )
        })
        .collect();
    let hidden = v.mismatches.get(SHOWN_MISMATCHES..).unwrap_or_default();
    let ranges = hidden.len() as u64 + v.mismatches_unlisted_ranges;
    let bytes = hidden.iter().map(|m| m.length).sum::<u64>() + v.mismatches_unlisted_bytes;
    if ranges > 0 {
        out.push(format!(
            "  ... and {ranges} more ranges ({bytes} bytes) not listed"
        ));
    }
    out
}

/// The path as `wipe` sees it; anything that is not a disk, partition, loop device or non-empty
/// image file is a usage error naming what it is.
fn inspect(path: &Path) -> anyhow::Result<DeviceInfo> {
    let shown = path_safe(path);
    match device::inspect(path) {
        Ok(info) if info.size_bytes == 0 => Err(ExitError::usage(format!(
            "{shown} is empty (0 bytes); nothing to verify"
        ))),
        Ok(info) => Ok(info),
        Err(DeviceError::NotFound { .. }) => Err(ExitError::usage(format!(
            "{shown}: no such device or file; run `massho devices` to list the devices"
        ))),
        Err(DeviceError::NotADevice { .. }) => {
            let kind = std::fs::metadata(path)
                .map_or("not a device", |m| input::file_kind(&m.file_type()));
            Err(ExitError::usage(format!(
                "{shown} is {kind}, not a block device or image file; name a disk, partition, \
                 loop device or image file (`massho devices` lists them)"
            )))
        }
        Err(other) => Err(anyhow::Error::new(other).context(format!("cannot inspect {shown}"))),
    }
}

fn expectation(args: &VerifyArgs, info: &DeviceInfo) -> anyhow::Result<Expectation> {
    match (&args.expect, &args.result) {
        (Some(ExpectArg::Byte(b)), _) => {
            let pattern = Pattern::byte(*b);
            Ok(Expectation {
                // A fixed pattern uses neither stream nor seed.
                source: PatternSource::new(&pattern, Prng::AesCtr, &Seed([0; 32])),
                text: pattern.to_string(),
                result: None,
            })
        }
        (None, Some(path)) => {
            let bytes =
                input::read_regular(path, "result file", input::limit::RESULT).map_err(|e| {
                    if e.is_usage() {
                        ExitError::usage(e.to_string())
                    } else {
                        e.into()
                    }
                })?;
            let e = expected::from_result(path, &bytes, info)
                .map_err(|e| ExitError::usage(e.to_string()))?;
            Ok(Expectation {
                source: PatternSource::new(&e.pattern, e.prng, &e.seed),
                text: e.pattern.to_string(),
                result: Some(ResultSource {
                    file: path_safe(path),
                    method: terminal_safe(&e.method).into_owned(),
                    pass: e.pass,
                }),
            })
        }
        (None, None) => Err(ExitError::usage(
            "say what the medium should hold: --expect zero|one|byte:0xNN, or --result FILE",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ByteRange;

    #[test]
    fn unlisted_mismatches_are_counted_in_one_line() {
        let v = PassVerification {
            pass: 1,
            kind: VerifyKind::Full,
            bytes_verified: 1 << 20,
            seconds: 1.0,
            throughput_bps: 1.0,
            mismatched_bytes: 60 * 2 + 7,
            mismatches: (0..60)
                .map(|i| ByteRange {
                    offset: i * 4096,
                    length: 2,
                })
                .collect(),
            mismatches_unlisted_ranges: 3,
            mismatches_unlisted_bytes: 7,
            sampled_ranges: None,
            completed: true,
        };
        let lines = mismatch_lines(&v, 512);
        assert_eq!(lines.len(), SHOWN_MISMATCHES + 1, "{lines:?}");
        assert_eq!(lines[1], "  mismatch: 2 bytes at offset 4096 (LBA 8)");
        assert_eq!(
            lines[SHOWN_MISMATCHES],
            "  ... and 13 more ranges (27 bytes) not listed"
        );
    }
}
