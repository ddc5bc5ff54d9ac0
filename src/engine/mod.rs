//! The wipe engine: runs a [`WipePlan`] against a [`BlockTarget`], pass by pass.
//!
//! Each pass is a parallel sweep over the medium ([`pass`]), ends with `fdatasync`, and counts
//! a byte as written only after the flush succeeded. Passes the plan marks for verification are
//! read back with O_DIRECT from the medium and compared with the regenerated pattern. Progress
//! and results leave the engine only as [`WipeEvent`]s pushed to an [`Observer`]; the returned
//! [`WipeReport`] says exactly what happened — `passed` only when every pass completed, flushed
//! and (where asked) verified without a single differing byte.

pub mod events;
mod firmware;
mod mismatch;
mod pass;
pub mod report;
pub mod sample;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

pub use events::{Control, Observer, Phase, Quiet, WipeEvent};
pub use report::{
    ByteRange, ErrorKind, ErrorRange, PassRecord, PassVerification, Status, VerificationSummary,
    WipeReport, MAX_RECORDED_RANGES,
};

use crate::device::io::BlockTarget;
use crate::method::{Step, VerifyKind, VerifyMode, WipePlan};
use crate::pattern::{PatternSource, Seed};
use crate::purge::{Firmware, FirmwareRecord};
use mismatch::merge_ranges;
use pass::{BadRun, Sweep, SweepOutcome, WorkList};

/// How an abandonment because the device itself went away (ENODEV, ENXIO, ESHUTDOWN) begins.
pub const DEVICE_GONE: &str = "the device stopped responding";

/// Tuning of the I/O loop. Memory per device is about `workers × chunk_size` (one aligned
/// buffer per worker) plus 64 KiB per worker while a random pass is verified.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Bytes per I/O request.
    pub chunk_size: usize,
    /// Requests in flight (one worker thread each).
    pub workers: usize,
    /// Workers that may generate or compare pattern bytes at the same time (see `pass::Slots`).
    pub generators: usize,
    /// How often a running sweep reports progress (and can be stopped).
    pub progress_interval: Duration,
    /// How often a write pass flushes and reports a [`WipeEvent::Checkpoint`] (zero: never).
    pub checkpoint_interval: Duration,
}

impl Default for EngineConfig {
    /// 4 MiB requests, 4 in flight, one pattern generator per two cores: measured with
    /// `packaging/bench.sh` on a tmpfs loop device, larger or more requests gained nothing and
    /// more generators slowed the device's own data mover (see docs/architecture.md).
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        EngineConfig {
            chunk_size: 4 << 20,
            workers: 4,
            generators: (cores / 2).max(1),
            progress_interval: Duration::from_millis(200),
            checkpoint_interval: Duration::from_secs(10),
        }
    }
}

impl EngineConfig {
    /// The defaults, overridden by `MASSHO_CHUNK_KIB` (64 to 65536), `MASSHO_WORKERS` (1 to 64)
    /// and `MASSHO_GENERATORS` (1 to 64) when set to a number in range: tuning knobs for
    /// unusual devices and for benchmarks. Values out of range are ignored.
    pub fn from_env() -> EngineConfig {
        let get = |key: &str, lo: usize, hi: usize| {
            std::env::var(key)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|v| (lo..=hi).contains(v))
        };
        let mut c = EngineConfig::default();
        if let Some(kib) = get("MASSHO_CHUNK_KIB", 64, 65536) {
            c.chunk_size = kib << 10;
        }
        if let Some(n) = get("MASSHO_WORKERS", 1, 64) {
            c.workers = n;
        }
        if let Some(n) = get("MASSHO_GENERATORS", 1, 64) {
            c.generators = n;
        }
        if let Some(ms) = get("MASSHO_CHECKPOINT_MS", 0, 3_600_000) {
            c.checkpoint_interval = Duration::from_millis(ms as u64);
        }
        c
    }

    /// Chunk size rounded to a multiple of the target's sector size (and at least one sector).
    fn chunk_for(&self, target: &dyn BlockTarget) -> u64 {
        let sector = u64::from(target.sector_size().max(512));
        ((self.chunk_size as u64) / sector).max(1) * sector
    }
}

/// Overwrite `target` as `plan` says. `label` names the device in events. A plan with firmware
/// steps needs [`run_with_firmware`]: here they fail as "no access to the firmware".
pub fn run(
    plan: &WipePlan,
    target: &dyn BlockTarget,
    label: &str,
    config: &EngineConfig,
    observer: &dyn Observer,
) -> WipeReport {
    run_with_firmware(plan, target, label, config, observer, None)
}

/// Run every step of `plan`: overwrite passes through `target`, firmware steps through
/// `firmware`, each followed by its verification.
pub fn run_with_firmware(
    plan: &WipePlan,
    target: &dyn BlockTarget,
    label: &str,
    config: &EngineConfig,
    observer: &dyn Observer,
    mut firmware: Option<&mut (dyn Firmware + '_)>,
) -> WipeReport {
    let started_at = OffsetDateTime::now_utc();
    let stop = AtomicBool::new(false);
    let passes_total = plan.steps.len() as u32;
    if observer.event(&WipeEvent::Started {
        device: label.to_owned(),
        size_bytes: target.size(),
        method: plan.method.clone(),
        passes: passes_total,
    }) == Control::Stop
    {
        stop.store(true, Ordering::SeqCst);
    }
    let mut acc = Accumulator::new(target);
    let read_back = |kind: Option<VerifyKind>| match kind {
        Some(VerifyKind::Full) => target.size(),
        Some(VerifyKind::Sampled) => {
            sample::layout(target.size(), target.sector_size(), &plan.seed)
                .iter()
                .map(|r| r.1)
                .sum()
        }
        None => 0,
    };
    // A resumed wipe skips the steps the journal says were done and continues the interrupted
    // one where its last checkpoint reached.
    let (resume_step, resume_offset) = plan.resume.unwrap_or((0, 0));
    let resume_offset = resume_offset.min(target.size());
    let todo = |step: &Step| step.number() >= resume_step;
    acc.overall_total = plan
        .steps
        .iter()
        .filter(|s| todo(s))
        .map(|step| match step {
            Step::Overwrite(p) => target.size() + read_back(p.verify),
            Step::Firmware(f) => firmware::overall_bytes(f, read_back(f.verify), target.size()),
        })
        .sum::<u64>()
        .saturating_sub(if resume_step > 0 { resume_offset } else { 0 });
    for step in plan.steps.iter().filter(|s| todo(s)) {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let spec = match step {
            Step::Overwrite(spec) => spec,
            Step::Firmware(f) => {
                let record = firmware::run_step(
                    f,
                    firmware.as_deref_mut(),
                    target,
                    &plan.seed,
                    passes_total,
                    label,
                    config,
                    observer,
                    &stop,
                    &mut acc,
                );
                let completed = record.outcome == crate::purge::FirmwareOutcome::Completed;
                acc.firmware.push(record);
                // A step that did not complete ends the wipe: what follows was planned on top
                // of it (an overwrite after a purge, a second purge).
                if !completed || acc.abandoned.is_some() {
                    break;
                }
                continue;
            }
        };
        let source = PatternSource::new(&spec.pattern, plan.prng, &plan.seed);
        let sweep = Sweep {
            target,
            source: &source,
            work: WorkList::Whole {
                start: if spec.number == resume_step {
                    // Sector-aligned, as every write is.
                    let sector = u64::from(target.sector_size().max(512));
                    resume_offset / sector * sector
                } else {
                    0
                },
                size: target.size(),
                chunk: config.chunk_for(target),
            },
            phase: Phase::Write,
            pass: spec.number,
            passes: passes_total,
            label,
            config,
            observer,
            stop: &stop,
            overall: (acc.overall_base, acc.overall_total),
        };
        let outcome = sweep.run();
        acc.overall_base += target.size();
        let bad_sectors = outcome.bad.iter().map(|r| r.sectors).sum();
        acc.add_bad(ErrorKind::Write, spec.number, &outcome.bad);
        acc.note_abandoned(&outcome);
        // Flush even when stopping: what was written should reach the medium.
        let flushed = match target.sync() {
            Ok(()) => true,
            Err(e) => {
                acc.add_sync_error(spec.number, &e);
                false
            }
        };
        let bytes_written = if flushed { outcome.bytes_ok } else { 0 };
        let record = PassRecord {
            index: spec.number,
            pattern: spec.pattern.to_string(),
            bytes_written,
            seconds: outcome.seconds,
            throughput_bps: rate(bytes_written, outcome.seconds),
            completed: outcome.completed && flushed,
        };
        if !outcome.completed && outcome.abandoned.is_none() {
            acc.incomplete = true;
        }
        observer.event(&WipeEvent::PassDone {
            device: label.to_owned(),
            pass: record.clone(),
            bad_sectors,
        });
        acc.passes.push(record);
        if stop.load(Ordering::SeqCst) || acc.abandoned.is_some() {
            break;
        }
        if let Some(kind) = spec.verify {
            let verification = verify_sweep(
                target,
                &source,
                kind,
                &plan.seed,
                spec.number,
                passes_total,
                label,
                config,
                observer,
                &stop,
                &mut acc,
            );
            observer.event(&WipeEvent::VerifyDone {
                device: label.to_owned(),
                verification: verification.clone(),
                read_error_sectors: acc.last_read_error_sectors,
            });
            acc.verifications.push(verification);
            if acc.abandoned.is_some() {
                break;
            }
        }
    }
    let stopped = stop.load(Ordering::SeqCst);
    let report = acc.finish(plan.verify, target.direct_io(), stopped, started_at);
    observer.event(&WipeEvent::Finished {
        device: label.to_owned(),
        status: report.status,
    });
    report
}

/// The outcome of a read-only check of a medium (`massho verify`).
#[derive(Debug, Clone)]
pub struct MediumCheck {
    pub verification: PassVerification,
    pub errors: Vec<ErrorRange>,
    pub direct_io: bool,
    pub status: Status,
}

/// Read `target` (all of it, or a NIST sample laid out from `layout_seed`) and compare it with
/// `expected`. The layout seed is separate from the pattern's: re-verifying a random pass reads
/// a fresh sample, not the one the wipe read.
pub fn check_medium(
    target: &dyn BlockTarget,
    expected: &PatternSource,
    kind: VerifyKind,
    layout_seed: &Seed,
    label: &str,
    config: &EngineConfig,
    observer: &dyn Observer,
) -> MediumCheck {
    let stop = AtomicBool::new(false);
    let mut acc = Accumulator::new(target);
    let verification = verify_sweep(
        target,
        expected,
        kind,
        layout_seed,
        1,
        1,
        label,
        config,
        observer,
        &stop,
        &mut acc,
    );
    let stopped = stop.load(Ordering::SeqCst);
    let status = if stopped {
        Status::Aborted
    } else if acc.errors.is_empty() && verification.mismatched_bytes == 0 {
        Status::Passed
    } else {
        Status::Failed
    };
    MediumCheck {
        verification,
        errors: acc.errors,
        direct_io: target.direct_io(),
        status,
    }
}

#[allow(clippy::too_many_arguments)]
fn verify_sweep(
    target: &dyn BlockTarget,
    source: &PatternSource,
    kind: VerifyKind,
    seed: &Seed,
    pass: u32,
    passes: u32,
    label: &str,
    config: &EngineConfig,
    observer: &dyn Observer,
    stop: &AtomicBool,
    acc: &mut Accumulator,
) -> PassVerification {
    let chunk = config.chunk_for(target);
    if let Err(e) = target.drop_cache() {
        acc.add_sync_error(pass, &e);
    }
    let size = target.size();
    let sample = match kind {
        VerifyKind::Sampled => Some(sample::layout(size, target.sector_size(), seed)),
        VerifyKind::Full => None,
    };
    // Media too small to sample come back as one range covering everything: recorded as the
    // full read they are.
    let (kind, work, sampled_ranges) = match sample {
        Some(ranges) if ranges != [(0, size)] => (
            VerifyKind::Sampled,
            WorkList::from_ranges(&ranges, chunk),
            Some(ranges.len() as u64),
        ),
        _ => (
            VerifyKind::Full,
            WorkList::Whole {
                start: 0,
                size,
                chunk,
            },
            None,
        ),
    };
    let sweep_bytes = work.total_bytes();
    let outcome = Sweep {
        overall: (acc.overall_base, acc.overall_total),
        target,
        source,
        work,
        phase: Phase::Verify,
        pass,
        passes,
        label,
        config,
        observer,
        stop,
    }
    .run();
    acc.overall_base += sweep_bytes;
    acc.last_read_error_sectors = outcome.bad.iter().map(|r| r.sectors).sum();
    acc.add_bad(ErrorKind::Read, pass, &outcome.bad);
    acc.note_abandoned(&outcome);
    verification_record(pass, kind, sampled_ranges, outcome)
}

fn verification_record(
    pass: u32,
    kind: VerifyKind,
    sampled_ranges: Option<u64>,
    outcome: SweepOutcome,
) -> PassVerification {
    PassVerification {
        pass,
        kind,
        bytes_verified: outcome.bytes_ok,
        seconds: outcome.seconds,
        throughput_bps: rate(outcome.bytes_ok, outcome.seconds),
        mismatched_bytes: outcome.mismatched_bytes,
        mismatches: outcome
            .mismatches
            .ranges
            .iter()
            .map(|&(offset, length)| ByteRange { offset, length })
            .collect(),
        mismatches_unlisted_ranges: outcome.mismatches.unlisted_ranges,
        mismatches_unlisted_bytes: outcome.mismatches.unlisted_bytes,
        sampled_ranges,
        completed: outcome.completed,
    }
}

fn rate(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 / seconds
    } else {
        0.0
    }
}

/// Collects passes, verifications and errors into the final report.
struct Accumulator {
    size: u64,
    sector_size: u32,
    passes: Vec<PassRecord>,
    verifications: Vec<PassVerification>,
    errors: Vec<ErrorRange>,
    errors_truncated: u64,
    incomplete: bool,
    abandoned: Option<String>,
    /// Bytes of the sweeps already run, and of all sweeps planned (0: just the current one),
    /// for progress across passes.
    overall_base: u64,
    overall_total: u64,
    /// Unreadable sectors found by the latest verification sweep.
    last_read_error_sectors: u64,
    firmware: Vec<FirmwareRecord>,
}

impl Accumulator {
    fn new(target: &dyn BlockTarget) -> Accumulator {
        Accumulator {
            size: target.size(),
            sector_size: target.sector_size(),
            passes: Vec::new(),
            verifications: Vec::new(),
            errors: Vec::new(),
            errors_truncated: 0,
            incomplete: false,
            abandoned: None,
            overall_base: 0,
            overall_total: 0,
            last_read_error_sectors: 0,
            firmware: Vec::new(),
        }
    }

    fn push(&mut self, e: ErrorRange) {
        if self.errors.len() < MAX_RECORDED_RANGES {
            self.errors.push(e);
        } else {
            self.errors_truncated += 1;
        }
    }

    fn note_abandoned(&mut self, outcome: &SweepOutcome) {
        if self.abandoned.is_none() {
            self.abandoned.clone_from(&outcome.abandoned);
        }
    }

    fn add_bad(&mut self, kind: ErrorKind, pass: u32, runs: &[BadRun]) {
        let sector = u64::from(self.sector_size);
        for r in runs {
            let offset = r.first_lba * sector;
            let length = (r.sectors * sector).min(self.size - offset);
            self.push(ErrorRange {
                kind,
                pass,
                offset,
                length,
                first_lba: r.first_lba,
                last_lba: r.first_lba + r.sectors - 1,
                sector_size: self.sector_size,
                message: r.message.clone(),
            });
        }
    }

    /// A failed flush leaves the whole pass's durability unknown: the range is the medium.
    fn add_sync_error(&mut self, pass: u32, e: &std::io::Error) {
        let sector = u64::from(self.sector_size);
        self.push(ErrorRange {
            kind: ErrorKind::Sync,
            pass,
            offset: 0,
            length: self.size,
            first_lba: 0,
            last_lba: self.size.div_ceil(sector).saturating_sub(1),
            sector_size: self.sector_size,
            message: format!("flush (fdatasync) failed: {e}"),
        });
    }

    fn finish(
        self,
        mode: VerifyMode,
        direct_io: bool,
        stopped: bool,
        started_at: OffsetDateTime,
    ) -> WipeReport {
        let mismatched_bytes: u64 = self.verifications.iter().map(|v| v.mismatched_bytes).sum();
        let all: Vec<(u64, u64)> = self
            .verifications
            .iter()
            .flat_map(|v| v.mismatches.iter().map(|m| (m.offset, m.length)))
            .collect();
        let merged = merge_ranges(all);
        let cut = merged.get(MAX_RECORDED_RANGES..).unwrap_or_default();
        let mismatches_unlisted_ranges = cut.len() as u64
            + self
                .verifications
                .iter()
                .map(|v| v.mismatches_unlisted_ranges)
                .sum::<u64>();
        let mismatches_unlisted_bytes = cut.iter().map(|r| r.1).sum::<u64>()
            + self
                .verifications
                .iter()
                .map(|v| v.mismatches_unlisted_bytes)
                .sum::<u64>();
        let mismatches = merged
            .iter()
            .take(MAX_RECORDED_RANGES)
            .map(|&(offset, length)| ByteRange { offset, length })
            .collect();
        use crate::purge::{FirmwareCheck, FirmwareOutcome};
        let firmware_unfinished = self
            .firmware
            .iter()
            .any(|f| f.outcome == FirmwareOutcome::LeftRunning);
        let firmware_failed = self.firmware.iter().any(|f| {
            matches!(
                f.outcome,
                FirmwareOutcome::Failed | FirmwareOutcome::NotStarted
            ) || (!matches!(f.check, FirmwareCheck::None { .. }) && !f.check.passed())
        });
        let firmware_unchecked = self
            .firmware
            .iter()
            .any(|f| matches!(f.check, FirmwareCheck::None { .. }));
        let status = if self.abandoned.is_some() || firmware_failed {
            Status::Failed
        } else if stopped || self.incomplete || firmware_unfinished {
            Status::Aborted
        } else if !self.errors.is_empty()
            || mismatched_bytes > 0
            || self.passes.iter().any(|p| !p.completed)
            || self.verifications.iter().any(|v| !v.completed)
        {
            Status::Failed
        } else if firmware_unchecked || (self.verifications.is_empty() && self.firmware.is_empty())
        {
            Status::Unverified
        } else {
            Status::Passed
        };
        WipeReport {
            status,
            started_at,
            finished_at: OffsetDateTime::now_utc(),
            verification: VerificationSummary {
                mode,
                bytes_verified: self.verifications.iter().map(|v| v.bytes_verified).sum(),
                mismatched_bytes,
                mismatches,
                mismatches_unlisted_ranges,
                mismatches_unlisted_bytes,
                direct_io,
                passes: self.verifications,
            },
            passes: self.passes,
            errors: self.errors,
            errors_truncated: self.errors_truncated,
            abandoned: self.abandoned,
            firmware: self.firmware,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The engine against an in-memory target that can fail writes, corrupt reads, vanish or
    //! be slow; the real-device versions of these cases live in tests/ (loop devices, FUSE).

    use std::ops::Range;
    use std::sync::atomic::AtomicU64;
    use std::sync::Mutex;

    use super::*;
    use crate::method::{self, PlanOptions};
    use crate::pattern::{Pattern, Prng};

    struct MemTarget {
        data: Mutex<Vec<u8>>,
        sector: u32,
        /// Writes touching this byte range fail with EIO.
        bad: Range<u64>,
        /// Reads return these bytes flipped.
        flip_on_read: Vec<u64>,
        /// Every I/O at or after this many calls fails with ENODEV.
        gone_after: Option<u64>,
        calls: AtomicU64,
        delay: Duration,
    }

    impl MemTarget {
        fn new(size: usize, sector: u32) -> MemTarget {
            MemTarget {
                data: Mutex::new(vec![0xA5; size]),
                sector,
                bad: 0..0,
                flip_on_read: Vec::new(),
                gone_after: None,
                calls: AtomicU64::new(0),
                delay: Duration::ZERO,
            }
        }

        fn check(&self, offset: u64, len: usize, writing: bool) -> std::io::Result<()> {
            std::thread::sleep(self.delay);
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if self.gone_after.is_some_and(|g| n >= g) {
                return Err(std::io::Error::from_raw_os_error(libc::ENODEV));
            }
            let end = offset + len as u64;
            if writing && offset < self.bad.end && self.bad.start < end {
                return Err(std::io::Error::from_raw_os_error(libc::EIO));
            }
            Ok(())
        }

        fn bytes(&self) -> Vec<u8> {
            self.data.lock().unwrap().clone()
        }
    }

    impl BlockTarget for MemTarget {
        fn size(&self) -> u64 {
            self.data.lock().unwrap().len() as u64
        }
        fn sector_size(&self) -> u32 {
            self.sector
        }
        fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
            self.check(offset, buf.len(), true)?;
            let o = offset as usize;
            self.data.lock().unwrap()[o..o + buf.len()].copy_from_slice(buf);
            Ok(())
        }
        fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
            self.check(offset, buf.len(), false)?;
            let o = offset as usize;
            buf.copy_from_slice(&self.data.lock().unwrap()[o..o + buf.len()]);
            let end = offset + buf.len() as u64;
            let from = self.flip_on_read.partition_point(|&f| f < offset);
            for &f in self.flip_on_read[from..].iter().take_while(|&&f| f < end) {
                buf[(f - offset) as usize] ^= 0xFF;
            }
            Ok(())
        }
        fn sync(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn direct_io(&self) -> bool {
            true
        }
    }

    fn small_config() -> EngineConfig {
        EngineConfig {
            chunk_size: 64 << 10,
            workers: 3,
            generators: 1,
            progress_interval: Duration::from_millis(1),
            checkpoint_interval: Duration::ZERO,
        }
    }

    fn plan_for(name: &str, verify: Option<VerifyMode>) -> WipePlan {
        let opts = PlanOptions {
            verify,
            seed: Seed([5; 32]),
            ..PlanOptions::default()
        };
        method::plan(&method::resolve(name).unwrap(), &opts)
    }

    #[test]
    fn zero_wipe_of_ragged_size_passes() {
        let t = MemTarget::new(1_000_000 - 1_000_000 % 512 + 512 * 3, 512);
        let r = run(
            &plan_for("nist-clear", None),
            &t,
            "mem",
            &small_config(),
            &Quiet,
        );
        assert_eq!(r.status, Status::Passed);
        assert!(t.bytes().iter().all(|&b| b == 0));
        assert_eq!(r.passes[0].bytes_written, t.size());
        assert_eq!(r.verification.bytes_verified, t.size());
    }

    #[test]
    fn multi_byte_patterns_stay_in_phase_across_chunks() {
        let t = MemTarget::new(300 * 1024, 512);
        let mut p = plan_for("zero", Some(VerifyMode::All));
        if let Some(Step::Overwrite(first)) = p.steps.first_mut() {
            first.pattern = Pattern::Fixed(vec![0x92, 0x49, 0x24]);
        }
        let r = run(&p, &t, "mem", &small_config(), &Quiet);
        assert_eq!(r.status, Status::Passed, "{r:?}");
        for (i, b) in t.bytes().iter().enumerate() {
            assert_eq!(*b, [0x92, 0x49, 0x24][i % 3], "byte {i}");
        }
    }

    #[test]
    fn write_errors_give_exact_lba_ranges_and_fail() {
        let mut t = MemTarget::new(1 << 20, 4096);
        t.bad = (300 * 1024 + 100)..(300 * 1024 + 5000);
        let r = run(
            &plan_for("zero", Some(VerifyMode::None)),
            &t,
            "mem",
            &small_config(),
            &Quiet,
        );
        assert_eq!(r.status, Status::Failed);
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        let e = &r.errors[0];
        assert_eq!(
            (e.kind, e.first_lba, e.last_lba),
            (ErrorKind::Write, 75, 76)
        );
        assert_eq!((e.offset, e.length), (75 * 4096, 2 * 4096));
        assert_eq!(r.passes[0].bytes_written, (1 << 20) - 2 * 4096);
        let bytes = t.bytes();
        assert!(bytes[..75 * 4096].iter().all(|&b| b == 0));
        assert!(bytes[75 * 4096..77 * 4096].iter().all(|&b| b == 0xA5));
        assert!(bytes[77 * 4096..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_flipped_byte_on_read_back_is_reported_where_it_is() {
        let mut t = MemTarget::new(512 * 1024, 512);
        t.flip_on_read = vec![123_457];
        for name in ["zero", "random"] {
            let r = run(&plan_for(name, None), &t, "mem", &small_config(), &Quiet);
            assert_eq!(r.status, Status::Failed, "{name}");
            assert_eq!(r.verification.mismatched_bytes, 1);
            assert_eq!(
                r.verification.mismatches,
                vec![ByteRange {
                    offset: 123_457,
                    length: 1
                }]
            );
        }
    }

    /// More scattered bad bytes than a list keeps (and than the old bounded collection held):
    /// the report lists the lowest ranges, the same ones on every run, and counts the rest.
    #[test]
    fn the_wipe_report_lists_the_lowest_mismatches_and_counts_the_rest() {
        let mut t = MemTarget::new(4 << 20, 512);
        // Sorted, two bytes apart at least, a pair touching every 100th.
        t.flip_on_read = (0..6000u64)
            .flat_map(|i| {
                let at = i * 699 + i % 3;
                if i % 100 == 0 {
                    vec![at, at + 1]
                } else {
                    vec![at]
                }
            })
            .collect();
        let flips = t.flip_on_read.len() as u64;
        let mut config = small_config();
        config.workers = 8;
        let mut lists = Vec::new();
        for _ in 0..3 {
            let r = run(&plan_for("zero", None), &t, "mem", &config, &Quiet);
            assert_eq!(r.status, Status::Failed);
            let v = &r.verification;
            assert_eq!(v.mismatched_bytes, flips);
            assert_eq!(v.mismatches.len(), MAX_RECORDED_RANGES);
            assert!(v
                .mismatches
                .windows(2)
                .all(|w| w[0].offset + w[0].length < w[1].offset));
            assert_eq!(
                v.mismatches[0],
                ByteRange {
                    offset: 0,
                    length: 2
                }
            );
            assert_eq!(
                v.mismatches[1],
                ByteRange {
                    offset: 700,
                    length: 1
                }
            );
            let listed: u64 = v.mismatches.iter().map(|m| m.length).sum();
            assert_eq!(
                v.mismatches_unlisted_ranges,
                6000 - MAX_RECORDED_RANGES as u64
            );
            assert_eq!(v.mismatches_unlisted_bytes, flips - listed);
            assert_eq!(v.passes[0].mismatches, v.mismatches);
            assert_eq!(
                v.passes[0].mismatches_unlisted_ranges,
                v.mismatches_unlisted_ranges
            );
            lists.push(v.mismatches.clone());
        }
        assert!(lists.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn a_vanished_device_is_given_up_on_quickly() {
        let mut t = MemTarget::new(4 << 20, 512);
        t.gone_after = Some(5);
        let r = run(&plan_for("dod-7", None), &t, "mem", &small_config(), &Quiet);
        assert_eq!(r.status, Status::Failed);
        assert!(r
            .abandoned
            .as_deref()
            .unwrap_or("")
            .contains("stopped responding"));
        assert_eq!(r.passes.len(), 1, "later passes are not attempted");
        assert!(!r.passes[0].completed);
        // Far fewer calls than one per sector of the medium.
        assert!(t.calls.load(Ordering::SeqCst) < 100);
    }

    #[test]
    fn a_failing_medium_is_given_up_on_after_too_many_bad_sectors() {
        let mut t = MemTarget::new(40 << 20, 512);
        t.bad = 0..(36 << 20);
        let r = run(&plan_for("dod-3", None), &t, "mem", &small_config(), &Quiet);
        assert_eq!(r.status, Status::Failed);
        assert!(r
            .abandoned
            .as_deref()
            .unwrap_or("")
            .contains("more than 65536 bad sectors"));
        assert_eq!(r.passes.len(), 1);
    }

    #[test]
    fn stopping_gives_aborted_never_passed() {
        struct StopOnProgress;
        impl Observer for StopOnProgress {
            fn event(&self, e: &WipeEvent) -> Control {
                match e {
                    WipeEvent::Progress { .. } => Control::Stop,
                    _ => Control::Continue,
                }
            }
        }
        let mut t = MemTarget::new(8 << 20, 512);
        t.delay = Duration::from_millis(2);
        let r = run(
            &plan_for("dod-3", None),
            &t,
            "mem",
            &small_config(),
            &StopOnProgress,
        );
        assert_eq!(r.status, Status::Aborted);
        assert_eq!(r.passes.len(), 1);
        assert!(!r.passes[0].completed);
        assert!(r.passes[0].bytes_written < 8 << 20);
        assert!(r.verification.passes.is_empty());
    }

    #[test]
    fn sampled_check_reads_first_and_last_lba() {
        let t = MemTarget::new(16 << 20, 512);
        {
            let mut d = t.data.lock().unwrap();
            d.fill(0);
            d[3] = 1;
            let last = d.len() - 1;
            d[last] = 1;
        }
        let c = check_medium(
            &t,
            &PatternSource::new(&Pattern::byte(0), Prng::AesCtr, &Seed([1; 32])),
            VerifyKind::Sampled,
            &Seed([1; 32]),
            "mem",
            &small_config(),
            &Quiet,
        );
        assert_eq!(c.status, Status::Failed);
        assert_eq!(c.verification.mismatched_bytes, 2);
        assert!(c.verification.bytes_verified * 10 >= 16 << 20);
        assert!(c.verification.bytes_verified < 16 << 20);
    }
}
