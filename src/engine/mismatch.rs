//! The list of byte ranges a verification sweep found different from the pattern: ascending,
//! merged across chunk boundaries, bounded, and the same on every run over the same medium.
//!
//! Workers finish chunks in whatever order the device answers, so a list that kept "the first N
//! ranges found" would name different ranges on every run. The collector instead keeps exactly
//! the mismatched bytes below a cutoff offset, lowering the cutoff (dropping the highest range)
//! whenever more than the bound would be kept; what lies above is only counted. A summary of the
//! edges of every chunk (how far a mismatch runs in from its start and back from its end) makes
//! the count of merged ranges exact and lets the last listed range be completed past the cutoff.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The mismatches of one sweep: the lowest ranges, and how much is not listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MismatchList {
    /// `(offset, length)`, ascending, merged, at most the collector's bound.
    pub ranges: Vec<(u64, u64)>,
    /// Merged ranges found beyond the listed ones.
    pub unlisted_ranges: u64,
    /// Mismatched bytes in those ranges.
    pub unlisted_bytes: u64,
}

/// How the mismatches of one chunk meet its edges.
#[derive(Debug, Clone, Copy)]
struct Edges {
    end: u64,
    /// Length of the mismatch starting at the chunk's first byte (0 if none).
    head: u64,
    /// Length of the mismatch ending at the chunk's last byte (0 if none).
    tail: u64,
    ranges: u64,
}

#[derive(Default)]
struct Inner {
    /// Every mismatched byte below `cutoff`, as merged ranges `start -> length`.
    kept: BTreeMap<u64, u64>,
    /// Offsets at or above this are counted, not kept (`None`: everything is kept).
    cutoff: Option<u64>,
    /// Per chunk with a mismatch, keyed by the chunk's first offset.
    chunks: BTreeMap<u64, Edges>,
    bytes: u64,
}

/// Shared by the workers of one sweep.
pub(super) struct Collector {
    bound: usize,
    inner: Mutex<Inner>,
}

impl Collector {
    /// A collector that lists at most `bound` ranges.
    pub(super) fn new(bound: usize) -> Collector {
        Collector {
            bound,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Record the mismatches found in the chunk `start..end` (each chunk once, in any order).
    pub(super) fn record(&self, start: u64, end: u64, mut found: Vec<(u64, u64)>) {
        if found.is_empty() {
            return;
        }
        // The sector-by-sector retry path compares sector by sector: join what touches.
        found = merge_ranges(found);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let first = found[0];
        let last = found[found.len() - 1];
        inner.chunks.insert(
            start,
            Edges {
                end,
                head: if first.0 == start { first.1 } else { 0 },
                tail: if last.0 + last.1 == end { last.1 } else { 0 },
                ranges: found.len() as u64,
            },
        );
        inner.bytes += found.iter().map(|r| r.1).sum::<u64>();
        for (offset, length) in found {
            let stop = inner.cutoff.unwrap_or(u64::MAX).min(offset + length);
            if offset < stop {
                insert(&mut inner.kept, offset, stop - offset);
            }
        }
        // One range beyond the bound is kept, so the last listed one is known to end.
        while inner.kept.len() > self.bound + 1 {
            if let Some((start, _)) = inner.kept.pop_last() {
                inner.cutoff = Some(start);
            }
        }
    }

    /// The final list, once every chunk has been recorded.
    pub(super) fn finish(self) -> MismatchList {
        let inner = self.inner.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut total = 0u64;
        let mut previous: Option<Edges> = None;
        for (&start, e) in &inner.chunks {
            total += e.ranges;
            // A mismatch running off the end of one chunk into the next is one range.
            if previous.is_some_and(|p| p.tail > 0 && e.head > 0 && p.end == start) {
                total -= 1;
            }
            previous = Some(*e);
        }
        let mut ranges: Vec<(u64, u64)> = inner
            .kept
            .iter()
            .take(self.bound)
            .map(|(&o, &n)| (o, n))
            .collect();
        if let (Some(last), Some(cutoff)) = (ranges.last_mut(), inner.cutoff) {
            if last.0 + last.1 == cutoff {
                last.1 += run_from(&inner.chunks, cutoff);
            }
        }
        let listed_bytes: u64 = ranges.iter().map(|r| r.1).sum();
        MismatchList {
            unlisted_ranges: total.saturating_sub(ranges.len() as u64),
            unlisted_bytes: inner.bytes.saturating_sub(listed_bytes),
            ranges,
        }
    }
}

/// How far the mismatch that starts at `offset` (a chunk boundary) runs, across chunks.
fn run_from(chunks: &BTreeMap<u64, Edges>, mut offset: u64) -> u64 {
    let mut length = 0;
    while let Some(e) = chunks.get(&offset) {
        length += e.head;
        if e.head < e.end - offset {
            break;
        }
        offset = e.end;
    }
    length
}

/// Add `start..start+length` to a map of merged ranges.
fn insert(kept: &mut BTreeMap<u64, u64>, mut start: u64, length: u64) {
    let mut end = start + length;
    if let Some((&s, &n)) = kept.range(..=start).next_back() {
        if s + n >= start {
            start = s;
            end = end.max(s + n);
            kept.remove(&s);
        }
    }
    while let Some((&s, &n)) = kept.range(start..=end).next() {
        end = end.max(s + n);
        kept.remove(&s);
    }
    kept.insert(start, end - start);
}

/// Sort and join touching byte ranges.
pub(super) fn merge_ranges(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (o, n) in ranges {
        match out.last_mut() {
            Some((lo, ln)) if *lo + *ln >= o => *ln = (*ln).max(o + n - *lo),
            _ => out.push((o, n)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator, so the test needs no seed handling.
    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *state >> 33
    }

    /// One chunk's `start`, `end` and the ranges found in it.
    type Chunk = (u64, u64, Vec<(u64, u64)>);

    /// Chunks of 64 bytes; some mismatches run across chunk edges, some fill whole chunks.
    fn scattered(seed: u64) -> Vec<Chunk> {
        let mut s = seed;
        let mut chunks = Vec::new();
        for c in 0..200u64 {
            let start = c * 64;
            let mut found = Vec::new();
            match lcg(&mut s) % 5 {
                0 => {}
                1 => found.push((start, 64)),
                _ => {
                    let mut at = start + lcg(&mut s) % 8;
                    while at < start + 64 {
                        let n = (1 + lcg(&mut s) % 6).min(start + 64 - at);
                        found.push((at, n));
                        at += n + 1 + lcg(&mut s) % 12;
                    }
                    if lcg(&mut s) % 2 == 0 {
                        found.push((start + 60, 4));
                    }
                }
            }
            chunks.push((start, start + 64, found));
        }
        chunks
    }

    #[test]
    fn any_arrival_order_gives_the_lowest_ranges_and_exact_counts() {
        for seed in 1..40 {
            let chunks = scattered(seed);
            let all = merge_ranges(chunks.iter().flat_map(|c| c.2.clone()).collect());
            let bytes: u64 = all.iter().map(|r| r.1).sum();
            for bound in [1, 3, 10, 50, 10_000] {
                let mut order: Vec<usize> = (0..chunks.len()).collect();
                let mut s = seed * 7919 + bound as u64;
                for i in (1..order.len()).rev() {
                    order.swap(i, (lcg(&mut s) % (i as u64 + 1)) as usize);
                }
                let c = Collector::new(bound);
                for &i in &order {
                    let (start, end, found) = &chunks[i];
                    c.record(*start, *end, found.clone());
                }
                let list = c.finish();
                let want: Vec<(u64, u64)> = all.iter().copied().take(bound).collect();
                assert_eq!(list.ranges, want, "seed {seed} bound {bound}");
                let listed: u64 = want.iter().map(|r| r.1).sum();
                assert_eq!(
                    (list.unlisted_ranges, list.unlisted_bytes),
                    ((all.len() - want.len()) as u64, bytes - listed),
                    "seed {seed} bound {bound}"
                );
            }
        }
    }

    /// The range listed last was cut at the cutoff when a higher range was dropped, and only
    /// later arrivals joined it up to there: its length is completed from the chunk edges.
    #[test]
    fn the_last_listed_range_runs_on_past_the_cutoff() {
        let c = Collector::new(2);
        c.record(0, 64, vec![(60, 4)]);
        c.record(128, 192, vec![(128, 4), (188, 4)]);
        c.record(256, 320, vec![(256, 64)]);
        c.record(320, 384, vec![(320, 3)]);
        c.record(64, 128, vec![(64, 64)]);
        c.record(192, 256, vec![(192, 64)]);
        let list = c.finish();
        assert_eq!(list.ranges, [(60, 72), (188, 135)]);
        assert_eq!((list.unlisted_ranges, list.unlisted_bytes), (0, 0));
    }

    #[test]
    fn touching_ranges_merge() {
        assert_eq!(
            merge_ranges(vec![(100, 10), (0, 5), (5, 10), (110, 1)]),
            [(0, 15), (100, 11)]
        );
    }

    #[test]
    fn a_mismatch_over_the_whole_medium_is_one_range() {
        let c = Collector::new(2);
        for i in (0..100u64).rev() {
            c.record(i * 10, i * 10 + 10, vec![(i * 10, 10)]);
        }
        let list = c.finish();
        assert_eq!(list.ranges, [(0, 1000)]);
        assert_eq!((list.unlisted_ranges, list.unlisted_bytes), (0, 0));
    }
}
