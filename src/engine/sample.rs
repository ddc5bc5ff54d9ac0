//! NIST SP 800-88 Rev.1 §4.7 sampled verification layout.
//!
//! The LBA space is split into at least [`SUBSECTIONS`] equal subsections; in each, two
//! non-overlapping windows of at least 5 % of the subsection are placed pseudorandomly (so at
//! least 10 % of the medium is read), and the first and last LBA are always included. The
//! positions come from the wipe's seed, so the layout is reproducible from the result.

use rand_chacha::rand_core::{RngCore, SeedableRng};

use super::mismatch::merge_ranges;
use crate::pattern::Seed;

/// Minimum number of subsections.
pub const SUBSECTIONS: u64 = 1000;
/// Each window covers at least this share of its subsection, in percent.
const WINDOW_PERCENT: u64 = 5;
/// Below this many sectors per subsection the two windows cannot be placed meaningfully; such
/// small media are verified in full instead.
const MIN_SECTORS_PER_SUBSECTION: u64 = 20;

/// Byte ranges `(offset, length)` to read, sorted, merged, within `size`. Returns a single range
/// covering everything when the medium is too small to sample.
pub fn layout(size: u64, sector_size: u32, seed: &Seed) -> Vec<(u64, u64)> {
    let sector = u64::from(sector_size.max(1));
    let sectors = size.div_ceil(sector);
    if sectors < SUBSECTIONS * MIN_SECTORS_PER_SUBSECTION {
        return vec![(0, size)];
    }
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed.derive("sample-layout", 0));
    let mut ranges: Vec<(u64, u64)> = Vec::with_capacity(2 * SUBSECTIONS as usize + 2);
    // First and last LBA.
    ranges.push((0, 1));
    ranges.push((sectors - 1, 1));
    for i in 0..SUBSECTIONS {
        let start = i * sectors / SUBSECTIONS;
        let end = (i + 1) * sectors / SUBSECTIONS;
        let len = end - start;
        let window = (len * WINDOW_PERCENT).div_ceil(100).max(1);
        // Two starts in [0, len - 2*window], sorted; the second window is shifted past the first.
        let free = len - 2 * window;
        let mut a = rng.next_u64() % (free + 1);
        let mut b = rng.next_u64() % (free + 1);
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        ranges.push((start + a, window));
        ranges.push((start + b + window, window));
    }
    let bytes = ranges
        .into_iter()
        .map(|(s, l)| {
            let offset = s * sector;
            (offset, (l * sector).min(size - offset))
        })
        .collect();
    merge_ranges(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_at_least_ten_percent_first_and_last_lba() {
        for (size, sector) in [
            (64u64 << 20, 512u32),
            (1u64 << 40, 4096),
            ((1 << 30) + 512, 512),
        ] {
            let l = layout(size, sector, &Seed([3; 32]));
            let covered: u64 = l.iter().map(|r| r.1).sum();
            assert!(covered * 10 >= size, "{size}: covered {covered}");
            assert_eq!(l[0].0, 0);
            let last = l.last().unwrap();
            assert_eq!(last.0 + last.1, size, "last LBA included");
            for w in l.windows(2) {
                assert!(w[0].0 + w[0].1 < w[1].0, "sorted, disjoint, merged");
            }
            for r in &l {
                assert_eq!(r.0 % u64::from(sector), 0);
            }
            // At least two windows in each of the 1000 subsections.
            let sectors = size.div_ceil(u64::from(sector));
            for i in 0..SUBSECTIONS {
                let (s, e) = (
                    i * sectors / SUBSECTIONS * u64::from(sector),
                    (i + 1) * sectors / SUBSECTIONS * u64::from(sector),
                );
                let inside: u64 = l
                    .iter()
                    .map(|&(o, n)| (o + n).min(e).saturating_sub(o.max(s)))
                    .sum();
                assert!(
                    inside * 10 >= e - s,
                    "subsection {i} has {inside} of {}",
                    e - s
                );
            }
        }
    }

    #[test]
    fn reproducible_from_seed_and_differs_between_seeds() {
        let a = layout(1 << 30, 512, &Seed([1; 32]));
        assert_eq!(a, layout(1 << 30, 512, &Seed([1; 32])));
        assert_ne!(a, layout(1 << 30, 512, &Seed([2; 32])));
    }

    #[test]
    fn small_media_are_read_in_full() {
        assert_eq!(layout(1 << 20, 512, &Seed([1; 32])), vec![(0, 1 << 20)]);
    }
}
