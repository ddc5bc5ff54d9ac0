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
    /// Everything from `start` (0, or where a resumed wipe continues), in chunks of `chunk`
    /// bytes.
    Whole { start: u64, size: u64, chunk: u64 },
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
            WorkList::Whole { start, size, chunk } => {
                let offset = (i as u64).checked_mul(*chunk)?.checked_add(*start)?;
                (offset < *size).then(|| (offset, (*chunk).min(*size - offset) as usize))
            }
            WorkList::Pieces(p) => p.get(i).map(|&(o, n)| (o, n as usize)),
        }
    }

    pub(super) fn total_bytes(&self) -> u64 {
        match self {
            WorkList::Whole { start, size, .. } => size.saturating_sub(*start),
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

/// The smallest in-flight budget: enough to keep a slow device's queue non-empty.
const IN_FLIGHT_FLOOR: u64 = 256 << 10;

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
    in_flight: InFlight,
    /// Chunks finished, as (every chunk below this index is done, those done above it): the
    /// first gives the prefix of the medium a checkpoint may call written.
    finished: Mutex<(usize, std::collections::BTreeSet<usize>)>,
}

impl SweepState {
    fn chunk_done(&self, i: usize) {
        let mut f = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        let (below, above) = &mut *f;
        above.insert(i);
        while above.remove(below) {
            *below += 1;
        }
    }

    fn chunks_done_below(&self) -> usize {
        self.finished.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

/// The device's throughput, smoothed, from the bytes a sweep has done so far.
///
/// Sampled every 50 ms: the first window's rate is taken as it is, so a fast device gets its
/// full in-flight budget after 50 ms; later windows are blended in with a time constant of half
/// a second, so a slow device whose pieces complete in bursts gets a steady estimate.
struct RateEstimate {
    last: Instant,
    last_done: u64,
    estimate: Option<f64>,
}

impl RateEstimate {
    const WINDOW: Duration = Duration::from_millis(50);
    const TIME_CONSTANT_SECONDS: f64 = 0.5;

    fn new() -> RateEstimate {
        RateEstimate {
            last: Instant::now(),
            last_done: 0,
            estimate: None,
        }
    }

    /// A new estimate when a window has passed.
    fn sample(&mut self, done: u64) -> Option<f64> {
        let dt = self.last.elapsed();
        if dt < Self::WINDOW {
            return None;
        }
        let dt = dt.as_secs_f64();
        let window_rate = done.saturating_sub(self.last_done) as f64 / dt;
        let blended = match self.estimate {
            None => window_rate,
            Some(r) => {
                let alpha = 1.0 - (-dt / Self::TIME_CONSTANT_SECONDS).exp();
                r + alpha * (window_rate - r)
            }
        };
        self.estimate = Some(blended);
        self.last = Instant::now();
        self.last_done = done;
        Some(blended)
    }
}

/// The bytes of I/O a sweep may have in flight at once.
///
/// A write that has been submitted cannot be taken back: when the operator stops a wipe, massho
/// waits for what is in flight. With whole chunks in flight that is `workers × chunk` (16 MiB):
/// a quarter of a minute on a 1 MB/s USB stick. So the budget follows the device's measured
/// throughput — about one second of it — between a floor that keeps slow devices busy and the
/// full `workers × chunk` that fast devices need; chunks are cut into pieces to fit.
pub(super) struct InFlight {
    limit: AtomicU64,
    used: Mutex<u64>,
    freed: Condvar,
    floor: u64,
    ceiling: u64,
}

impl InFlight {
    /// One second's worth is the target.
    const WINDOW_SECONDS: f64 = 1.0;

    pub(super) fn new(floor: u64, ceiling: u64) -> InFlight {
        let ceiling = ceiling.max(floor);
        InFlight {
            // Start low and let the first measurement open it up: a slow device stopped in
            // its first seconds must not have the full budget queued.
            limit: AtomicU64::new((4 * floor).min(ceiling)),
            used: Mutex::new(0),
            freed: Condvar::new(),
            floor,
            ceiling,
        }
    }

    /// Set the budget from a measured rate in bytes per second.
    pub(super) fn follow_rate(&self, rate_bps: f64) {
        let target = (rate_bps * Self::WINDOW_SECONDS) as u64;
        self.limit
            .store(target.clamp(self.floor, self.ceiling), Ordering::Relaxed);
        self.freed.notify_all();
    }

    pub(super) fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Bytes in flight now.
    pub(super) fn used(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The size of the next piece of a chunk with `left` bytes left: a share of the budget
    /// per worker, whole sectors, at least one sector.
    fn piece(&self, sector: usize, left: usize, workers: usize) -> usize {
        let share = (self.limit() / workers.max(1) as u64) as usize;
        let share = (share / sector).max(1) * sector;
        share.min(left)
    }

    /// Wait until `n` more bytes fit the budget (one piece always fits when nothing else is in
    /// flight), then count them as in flight.
    fn acquire(&self, n: u64) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && *used + n > self.limit() {
            used = self
                .freed
                .wait_timeout(used, Duration::from_millis(50))
                .map_or_else(|e| e.into_inner().0, |r| r.0);
        }
        *used += n;
    }

    fn release(&self, n: u64) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(n);
        drop(used);
        self.freed.notify_all();
    }
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
    /// Bytes of the wipe's earlier sweeps, and of all its sweeps (0: only this one).
    pub overall: (u64, u64),
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
            in_flight: InFlight::new(
                IN_FLIGHT_FLOOR,
                (self.config.workers.max(1) * self.config.chunk_size) as u64,
            ),
            finished: Mutex::new((0, std::collections::BTreeSet::new())),
        };
        let mut last_checkpoint = Instant::now();
        let mut checkpointed = 0u64;
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
            let mut rate = RateEstimate::new();
            while finished_workers.load(Ordering::Acquire) < workers {
                std::thread::sleep(Duration::from_millis(10));
                if let Some(estimate) = rate.sample(done.load(Ordering::Relaxed)) {
                    state.in_flight.follow_rate(estimate);
                }
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
                        in_flight_bytes: state.in_flight.used(),
                        overall_done: self.overall.0 + bytes_done,
                        overall_total: if self.overall.1 > 0 {
                            self.overall.1
                        } else {
                            total
                        },
                    };
                    if self.observer.event(&event) == Control::Stop {
                        self.stop.store(true, Ordering::SeqCst);
                    }
                }
                if let Some(flushed) = self.checkpoint(&state, &mut last_checkpoint, checkpointed) {
                    checkpointed = flushed;
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

    /// Every `checkpoint_interval` of a whole-medium write: flush, then tell the observer how
    /// far from the start every byte is written and durable (`None`: not due, or nothing new).
    fn checkpoint(&self, state: &SweepState, last: &mut Instant, before: u64) -> Option<u64> {
        let interval = self.config.checkpoint_interval;
        if self.phase != Phase::Write || interval.is_zero() || last.elapsed() < interval {
            return None;
        }
        *last = Instant::now();
        let WorkList::Whole { start, size, chunk } = &self.work else {
            return None;
        };
        let below = state.chunks_done_below() as u64;
        let flushed = below
            .checked_mul(*chunk)
            .and_then(|b| b.checked_add(*start))
            .map_or(*size, |b| b.min(*size));
        // Only chunks written without error count: a chunk with bad sectors ends the prefix
        // (its sectors are not written), and the final verification reads everything anyway.
        if flushed <= before || self.target.sync().is_err() {
            return None;
        }
        self.observer.event(&WipeEvent::Checkpoint {
            device: self.label.to_owned(),
            pass: self.pass,
            flushed_bytes: flushed,
        });
        Some(flushed)
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
            if self.phase == Phase::Write && !(filled_constant && self.source.is_offset_invariant())
            {
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
            // The chunk goes out in pieces no larger than the in-flight budget allows, so a
            // stop request waits for about a second of the device's I/O, not for whole chunks.
            let (mut good, mut at) = (0, 0);
            while at < len {
                if at > 0 && !self.running(state) {
                    break;
                }
                let n = state.in_flight.piece(sector, len - at, self.config.workers);
                state.in_flight.acquire(n as u64);
                good += match self.phase {
                    Phase::Write => self.write_chunk(
                        &buf[at..at + n],
                        offset + at as u64,
                        sector,
                        state,
                        &mut bad,
                    ),
                    // A sweep writes or reads back; firmware progress never runs a sweep.
                    Phase::Verify | Phase::Firmware => self.verify_chunk(
                        &mut buf[at..at + n],
                        offset + at as u64,
                        sector,
                        state,
                        &mut bad,
                        &mut found,
                    ),
                };
                state.in_flight.release(n as u64);
                state.done.fetch_add(n as u64, Ordering::Relaxed);
                at += n;
            }
            if at >= len && good == len as u64 {
                state.chunk_done(i);
            }
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
            state.abandon(format!("{}: {e}", super::DEVICE_GONE));
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
    fn the_in_flight_budget_follows_about_a_second_of_throughput() {
        let budget = InFlight::new(IN_FLIGHT_FLOOR, 16 << 20);
        // It starts small, so an early stop on a slow device waits little.
        assert_eq!(budget.limit(), 1 << 20);
        budget.follow_rate(1_000_000.0);
        assert_eq!(budget.limit(), 1_000_000);
        // Four workers share it in whole sectors.
        assert_eq!(budget.piece(512, 4 << 20, 4), 249_856);
        budget.follow_rate(100.0);
        assert_eq!(budget.limit(), IN_FLIGHT_FLOOR);
        budget.follow_rate(5e9);
        assert_eq!(budget.limit(), 16 << 20);
        // A fast device gets whole chunks: no splitting, no cost.
        assert_eq!(budget.piece(4096, 4 << 20, 4), 4 << 20);
        // One piece always goes, even when larger than the budget.
        budget.follow_rate(0.0);
        budget.acquire(1 << 20);
        assert_eq!(budget.used(), 1 << 20);
        budget.release(1 << 20);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn work_list_covers_ragged_end() {
        let w = WorkList::Whole {
            start: 0,
            size: 10_000,
            chunk: 4096,
        };
        assert_eq!(w.get(0), Some((0, 4096)));
        assert_eq!(w.get(2), Some((8192, 10_000 - 8192)));
        assert_eq!(w.get(3), None);
        // A resumed sweep starts at its checkpoint.
        let r = WorkList::Whole {
            start: 4096,
            size: 10_000,
            chunk: 4096,
        };
        assert_eq!(r.total_bytes(), 10_000 - 4096);
        assert_eq!(r.get(0), Some((4096, 4096)));
        assert_eq!(r.get(1), Some((8192, 10_000 - 8192)));
        assert_eq!(r.get(2), None);
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
