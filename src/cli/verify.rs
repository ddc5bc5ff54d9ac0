//! `massho verify`: read a device or image back, read-only, and compare it with a pattern.

use indicatif::HumanBytes;
use serde::Serialize;

use super::args::{ExpectArg, VerifyArgs};
use std::sync::Arc;

use super::render::{interrupt_flag, Console, InterruptOnly, Style};
use super::{Exit, ExitError};
use crate::device::io::{Access, BlockTarget, DeviceTarget};
use crate::engine::{self, EngineConfig, ErrorRange, Observer, PassVerification, Status};
use crate::method::VerifyKind;
use crate::pattern::{Pattern, Seed};

/// The JSON object `massho verify --json` prints.
#[derive(Debug, Serialize)]
struct VerifyOutput<'a> {
    device: String,
    expect: String,
    mode: &'static str,
    bytes_verified: u64,
    seconds: f64,
    throughput_bps: f64,
    mismatched_bytes: u64,
    mismatches: &'a [engine::ByteRange],
    errors: &'a [ErrorRange],
    direct_io: bool,
    /// Seed of the sampling layout, to reproduce which ranges were read.
    sample_seed: Option<String>,
    status: Status,
}

pub fn run(args: &VerifyArgs) -> anyhow::Result<Exit> {
    let ExpectArg::Byte(byte) = args.expect;
    let expected = Pattern::byte(byte);
    if !args.device.exists() {
        return Err(ExitError::usage(format!(
            "{}: no such device or file; run `massho devices` to list the devices",
            args.device.display()
        )));
    }
    let target =
        DeviceTarget::open(&args.device, Access::ReadOnly).map_err(ExitError::from_open)?;
    let style = if args.json {
        Style::Json
    } else {
        Style::choose(false)
    };
    let interrupted = interrupt_flag()?;
    let console = Console::new(style, Arc::clone(&interrupted));
    let seed = Seed::generate();
    let kind = if args.sample {
        VerifyKind::Sampled
    } else {
        VerifyKind::Full
    };
    let label = args.device.display().to_string();
    // Progress is for the terminal only; with --json the output is one object.
    let silent = InterruptOnly(Arc::clone(&interrupted));
    let observer: &dyn Observer = if args.json { &silent } else { &console };
    let config = EngineConfig::from_env();
    let check = engine::check_medium(&target, &expected, kind, &seed, &label, &config, observer);
    let v: &PassVerification = &check.verification;
    if args.json {
        console.json(&VerifyOutput {
            device: label,
            expect: expected.to_string(),
            mode: if args.sample { "sample" } else { "full" },
            bytes_verified: v.bytes_verified,
            seconds: v.seconds,
            throughput_bps: v.throughput_bps,
            mismatched_bytes: v.mismatched_bytes,
            mismatches: &v.mismatches,
            errors: &check.errors,
            direct_io: check.direct_io,
            sample_seed: args.sample.then(|| seed.to_hex()),
            status: check.status,
        });
    } else {
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
        for m in v.mismatches.iter().take(50) {
            outln!(
                "  mismatch: {} bytes at offset {} (LBA {})",
                m.length,
                m.offset,
                m.offset / u64::from(target.sector_size())
            );
        }
        for e in &check.errors {
            outln!(
                "  {:?} error: LBA {}-{}: {}",
                e.kind,
                e.first_lba,
                e.last_lba,
                e.message
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
    }
    Ok(super::wipe::exit_for([check.status]))
}
