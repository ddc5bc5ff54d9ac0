//! One sweep over the medium — writing a pass or reading it back — spread over worker threads.
//!
//! Workers take chunk indexes from a shared counter, so the in-flight I/O is `workers` chunks deep
//! and every worker generates its own pattern bytes: pattern generation runs in parallel with the
//! other workers' writes, and a random pass costs no more wall time than a zero pass as long as
//! the stream is faster than the device. A failed chunk is retried sector by sector so that the
//! exact unwritable or unreadable LBAs are known; the rest of the medium is still processed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::events::{Control, Observer, Phase, WipeEvent};
use super::mismatch::{Collector, MismatchList};
use super::report::MAX_RECORDED_RANGES;
use super::EngineConfig;
use crate::device::io::{AlignedBuf, BlockTarget};
use crate::pattern::PatternSource;

/// The pieces of the medium a sweep covers.
pub(super) enum WorkList {
    /// Everything, in chunks of `chunk` bytes.
    Whole { size: u64, chunk: u64 },
    /// Selected `(offset, length)` pieces, each at most one chunk long.
    Pieces(Vec<(u64, u64)>),
}

impl WorkList {
    /// `ranges` cut into pieces of at most `chunk` bytes.
    pub(super) fn from_ranges(ranges: &[(u64, u64)], chunk: u64) -> WorkList {
        let mut pieces = Vec::new();
        for &(offset, length) in ranges {
            let mut at = offset;
            while at < offset + length {
                let n = chunk.min(offset + length - at);
                pieces.push((at, n));
                at += n;
            }
        }
        WorkList::Pieces(pieces)
    }

    fn get(&self, i: usize) -> Option<(u64, usize)> {
        match self {
            WorkList::Whole { size, chunk } => {
                let offset = (i as u64).checked_mul(*chunk)?;
                (offset < *size).then(|| (offset, (*chunk).min(*size - offset) as usize))
            }
            WorkList::Pieces(p) => p.get(i).map(|&(o, n)| (o, n as usize)),
        }
    }

    fn total_bytes(&self) -> u64 {
        match self {
            WorkList::Whole { size, .. } => *size,
            WorkList::Pieces(p) => p.iter().map(|r| r.1).sum(),
        }
    }
}

/// A run of bad sectors found during a sweep.
#[derive(Debug, Clone)]
pub(super) struct BadRun {
    pub first_lba: u64,
    pub sectors: u64,
    pub message: String,
}

/// What a sweep found.
#[derive(Debug, Default)]
pub(super) struct SweepOutcome {
    /// Bytes written or read (and, for reads, compared) successfully.
    pub bytes_ok: u64,
    pub bad: Vec<BadRun>,
    pub mismatched_bytes: u64,
    pub mismatches: MismatchList,
    pub seconds: f64,
    /// False when the sweep was stopped or abandoned before the end.
    pub completed: bool,
    /// Why the sweep gave up on the medium, if it did.
    pub abandoned: Option<String>,
}

/// A failing medium is given up on after this many bad sectors in one sweep: retrying every
/// sector of a dead drive one by one would take days and tell nothing more.
pub(super) const MAX_BAD_SECTORS: u64 = 65_536;

/// Errors that mean the device itself is gone (unplugged, reset, removed by the kernel).
fn device_gone(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENODEV) | Some(libc::ENXIO) | Some(libc::ESHUTDOWN)
    )
}

/// Counters and collections the workers of one sweep share.
struct SweepState {
    next: AtomicUsize,
    done: AtomicU64,
    ok: AtomicU64,
    mismatched: AtomicU64,
    bad_sectors: AtomicU64,
    shared: Mutex<Shared>,
    mismatches: Collector,
    slots: Slots,
    /// Set with the reason when the sweep gives up on the medium.
    abandoned: Mutex<Option<String>>,
    halted: AtomicBool,
}

impl SweepState {
    fn abandon(&self, reason: String) {
        let mut slot = self.abandoned.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
        }
        self.halted.store(true, Ordering::SeqCst);
    }
}

/// Everything a sweep needs, borrowed from the caller.
pub(super) struct Sweep<'a> {
    pub target: &'a dyn BlockTarget,
    pub source: &'a PatternSource,
    pub work: WorkList,
    pub phase: Phase,
    pub pass: u32,
    pub passes: u32,
    pub label: &'a str,
    pub config: &'a EngineConfig,
    pub observer: &'a dyn Observer,
    /// Set when the observer asks to stop; shared across the passes of one wipe.
    pub stop: &'a AtomicBool,
}

/// Limits how many workers generate pattern bytes at once.
///
/// Generating a random chunk is CPU work; if every worker did it at once they would take the
/// CPU from whatever moves the data (a loop device's kernel worker, a USB bridge's driver
/// thread, the page-copy of a slow bus), and a random pass would run slower than a zero pass.
/// One or two generators at ~10 GB/s each are more than any single device can absorb, while the
/// other workers keep I/O in flight.
pub(super) struct Slots {
    free: Mutex<usize>,
    returned: Condvar,
}

impl Slots {
    pub(super) fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new(n.max(1)),
            returned: Condvar::new(),
        }
    }

    /// Run `f` holding a slot when `needed`, directly otherwise.
    fn run<T>(&self, needed: bool, f: impl FnOnce() -> T) -> T {
        if !needed {
            return f();
        }
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.returned.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        drop(free);
        let out = f();
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.returned.notify_one();
        out
    }
}

#[derive(Default)]
struct Shared {
    bad: Vec<BadRun>,
}

impl Sweep<'_> {
    pub(super) fn run(&self) -> SweepOutcome {
        let started = Instant::now();
        let state = SweepState {
            next: AtomicUsize::new(0),
            done: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            mismatched: AtomicU64::new(0),
            bad_sectors: AtomicU64::new(0),
            shared: Mutex::new(Shared::default()),
            mismatches: Collector::new(MAX_RECORDED_RANGES),
            slots: Slots::new(self.config.generators),
            abandoned: Mutex::new(None),
            halted: AtomicBool::new(false),
        };
        let done = &state.done;
        let finished_workers = AtomicUsize::new(0);
        let workers = self.config.workers.max(1);
        let total = self.work.total_bytes();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    self.worker(&state);
                    finished_workers.fetch_add(1, Ordering::Release);
                });
            }
            let mut last_emit = Instant::now();
            while finished_workers.load(Ordering::Acquire) < workers {
                std::thread::sleep(Duration::from_millis(10));
                if last_emit.elapsed() >= self.config.progress_interval {
                    last_emit = Instant::now();
                    let bytes_done = done.load(Ordering::Relaxed);
                    let secs = started.elapsed().as_secs_f64();
                    let event = WipeEvent::Progress {
                        device: self.label.to_owned(),
                        phase: self.phase,
                        pass: self.pass,
                        passes: self.passes,
                        bytes_done,
                        bytes_total: total,
                        rate_bps: if secs > 0.0 {
                            bytes_done as f64 / secs
                        } else {
                            0.0
                        },
                    };
                    if self.observer.event(&event) == Control::Stop {
                        self.stop.store(true, Ordering::SeqCst);
                    }
                }
            }
        });
        let abandoned = state
            .abandoned
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        let shared = state.shared.into_inner().unwrap_or_else(|e| e.into_inner());
        let completed = !self.stop.load(Ordering::SeqCst)
            && abandoned.is_none()
            && state.done.load(Ordering::Relaxed) == total;
        SweepOutcome {
            bytes_ok: state.ok.into_inner(),
            bad: merge_bad(shared.bad),
            mismatched_bytes: state.mismatched.into_inner(),
            mismatches: state.mismatches.finish(),
            seconds: started.elapsed().as_secs_f64(),
            completed,
            abandoned,
        }
    }

    fn running(&self, state: &SweepState) -> bool {
        !self.stop.load(Ordering::Relaxed) && !state.halted.load(Ordering::Relaxed)
    }

    fn worker(&self, state: &SweepState) {
        let chunk = self.config.chunk_size;
        let mut buf = AlignedBuf::new(chunk);
        let mut filled_constant = false;
        let sector = self.target.sector_size() as usize;
        let slots = &state.slots;
        while self.running(state) {
            let i = state.next.fetch_add(1, Ordering::Relaxed);
            let Some((offset, len)) = self.work.get(i) else {
                break;
            };
            let mut bad = Vec::new();
            let mut found = Vec::new();
            let good = match self.phase {
                Phase::Write => {
                    if !(filled_constant && self.source.is_offset_invariant()) {
                        let n = if self.source.is_offset_invariant() {
                            buf.len()
                        } else {
                            len
                        };
                        slots.run(self.source.is_generated(), || {
                            self.source.fill(offset, &mut buf[..n])
                        });
                        filled_constant = true;
                    }
                    self.write_chunk(&buf[..len], offset, sector, state, &mut bad)
                }
                Phase::Verify => {
                    self.verify_chunk(&mut buf[..len], offset, sector, state, &mut bad, &mut found)
                }
            };
            state.ok.fetch_add(good, Ordering::Relaxed);
            if !bad.is_empty() || !found.is_empty() {
                let sectors: u64 = bad.iter().map(|r| r.sectors).sum();
                let total_bad = state.bad_sectors.fetch_add(sectors, Ordering::Relaxed) + sectors;
                if total_bad > MAX_BAD_SECTORS {
                    state.abandon(format!(
                        "more than {MAX_BAD_SECTORS} bad sectors in pass {}: the medium is failing; the remaining sectors were not attempted",
                        self.pass
                    ));
                }
                state.mismatched.fetch_add(
                    found.iter().map(|r: &(u64, u64)| r.1).sum(),
                    Ordering::Relaxed,
                );
                state
                    .shared
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .bad
                    .extend(bad);
                state.mismatches.record(offset, offset + len as u64, found);
            }
            state.done.fetch_add(len as u64, Ordering::Relaxed);
        }
    }

    /// Record a failed sector; give up on the whole medium if the device is gone.
    fn sector_failed(
        &self,
        state: &SweepState,
        bad: &mut Vec<BadRun>,
        lba: u64,
        e: &std::io::Error,
    ) {
        push_bad(bad, lba, e);
        if device_gone(e) {
            state.abandon(format!("the device stopped responding: {e}"));
        }
    }

    /// Write one chunk; on failure, sector by sector. Returns the bytes written.
    fn write_chunk(
        &self,
        data: &[u8],
        offset: u64,
        sector: usize,
        state: &SweepState,
        bad: &mut Vec<BadRun>,
    ) -> u64 {
        if self.target.write_at(data, offset).is_ok() {
            return data.len() as u64;
        }
        let mut good = 0;
        for (i, piece) in data.chunks(sector).enumerate() {
            if state.halted.load(Ordering::Relaxed) {
                break;
            }
            let at = offset + (i * sector) as u64;
            match self.target.write_at(piece, at) {
                Ok(()) => good += piece.len() as u64,
                Err(e) => self.sector_failed(state, bad, at / sector as u64, &e),
            }
        }
        good
    }

    /// Read one chunk and compare it; on a read failure, sector by sector. Returns the bytes
    /// read and compared.
    fn verify_chunk(
        &self,
        buf: &mut [u8],
        offset: u64,
        sector: usize,
        state: &SweepState,
        bad: &mut Vec<BadRun>,
        found: &mut Vec<(u64, u64)>,
    ) -> u64 {
        let slots = &state.slots;
        if self.target.read_at(buf, offset).is_ok() {
            found.extend(slots.run(self.source.is_generated(), || {
                self.source.mismatches(offset, buf)
            }));
            return buf.len() as u64;
        }
        let mut good = 0;
        for (i, piece) in buf.chunks_mut(sector).enumerate() {
            if state.halted.load(Ordering::Relaxed) {
                break;
            }
            let at = offset + (i * sector) as u64;
            match self.target.read_at(piece, at) {
                Ok(()) => {
                    found.extend(slots.run(self.source.is_generated(), || {
                        self.source.mismatches(at, piece)
                    }));
                    good += piece.len() as u64;
                }
                Err(e) => self.sector_failed(state, bad, at / sector as u64, &e),
            }
        }
        good
    }
}

fn push_bad(bad: &mut Vec<BadRun>, lba: u64, e: &std::io::Error) {
    let message = e.to_string();
    match bad.last_mut() {
        Some(run) if run.first_lba + run.sectors == lba && run.message == message => {
            run.sectors += 1
        }
        _ => bad.push(BadRun {
            first_lba: lba,
            sectors: 1,
            message,
        }),
    }
}

/// Sort and join adjacent runs (chunks finish out of order).
fn merge_bad(mut runs: Vec<BadRun>) -> Vec<BadRun> {
    runs.sort_by_key(|r| r.first_lba);
    let mut out: Vec<BadRun> = Vec::with_capacity(runs.len());
    for r in runs {
        match out.last_mut() {
            Some(last)
                if last.first_lba + last.sectors == r.first_lba && last.message == r.message =>
            {
                last.sectors += r.sectors
            }
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_list_covers_ragged_end() {
        let w = WorkList::Whole {
            size: 10_000,
            chunk: 4096,
        };
        assert_eq!(w.get(0), Some((0, 4096)));
        assert_eq!(w.get(2), Some((8192, 10_000 - 8192)));
        assert_eq!(w.get(3), None);
        let p = WorkList::from_ranges(&[(0, 512), (8192, 9000)], 4096);
        assert_eq!(p.total_bytes(), 9512);
        assert_eq!(p.get(3), Some((16384, 9000 - 8192)));
    }

    #[test]
    fn runs_merge_across_chunks() {
        let runs = merge_bad(vec![
            BadRun {
                first_lba: 10,
                sectors: 2,
                message: "EIO".into(),
            },
            BadRun {
                first_lba: 8,
                sectors: 2,
                message: "EIO".into(),
            },
            BadRun {
                first_lba: 20,
                sectors: 1,
                message: "EIO".into(),
            },
        ]);
        assert_eq!(
            runs.iter()
                .map(|r| (r.first_lba, r.sectors))
                .collect::<Vec<_>>(),
            [(8, 4), (20, 1)]
        );
    }
}
