//! What a pass writes, and how to regenerate it for verification.
//!
//! A pass writes either a fixed byte sequence repeated from offset 0 (`0x00`, `0xFF`,
//! `0x92 0x49 0x24`, ...) or a keyed cryptographic stream. Both are pure functions of the byte
//! offset, so any chunk can be produced on any core in any order, and the verifier can regenerate
//! exactly what should be on the medium without keeping a copy. The random stream is AES-128-CTR
//! (counter = offset / 16) or ChaCha20 (word position = offset / 4), keyed per pass from a 256-bit
//! seed that the result records.

use std::fmt;

use aes::cipher::array::Array;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Size of the reference block used to fill and compare fixed patterns (a multiple of every
/// pattern length up to 16 is not needed: the phase is handled per slice).
const REFERENCE_LEN: usize = 64 * 1024;

/// The cryptographic stream behind random passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prng {
    /// AES-128 in counter mode; uses AES-NI / ARMv8 AES when the CPU has it.
    AesCtr,
    /// ChaCha20, the fast choice on CPUs without AES instructions.
    Chacha20,
}

impl Prng {
    /// The fastest strong stream on this CPU.
    pub fn fastest() -> Prng {
        if cpu_has_aes() {
            Prng::AesCtr
        } else {
            Prng::Chacha20
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Prng::AesCtr => "aes-ctr",
            Prng::Chacha20 => "chacha20",
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn cpu_has_aes() -> bool {
    std::arch::is_x86_feature_detected!("aes")
}

#[cfg(target_arch = "aarch64")]
fn cpu_has_aes() -> bool {
    std::arch::is_aarch64_feature_detected!("aes")
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn cpu_has_aes() -> bool {
    false
}

/// A 256-bit seed from which every random pass of one wipe derives its key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl Seed {
    /// A fresh seed from the operating system's CSPRNG.
    pub fn generate() -> Seed {
        let mut s = [0u8; 32];
        rand_core::OsRng.fill_bytes(&mut s);
        Seed(s)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Independent 256-bit key for one purpose (a pass's stream, the sampling layout).
    pub fn derive(&self, purpose: &str, index: u32) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"massho/v1/");
        h.update(purpose.as_bytes());
        h.update(index.to_be_bytes());
        h.update(self.0);
        h.finalize().into()
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seed({})", self.to_hex())
    }
}

/// What one pass writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// These bytes, repeated from offset 0 of the medium.
    Fixed(Vec<u8>),
    /// The keyed stream number `stream`; `inverted` is its bitwise complement.
    Random { stream: u32, inverted: bool },
}

impl Pattern {
    pub fn byte(b: u8) -> Pattern {
        Pattern::Fixed(vec![b])
    }

    /// The bitwise complement of this pattern.
    pub fn complement(&self) -> Pattern {
        match self {
            Pattern::Fixed(bytes) => Pattern::Fixed(bytes.iter().map(|b| !b).collect()),
            Pattern::Random { stream, inverted } => Pattern::Random {
                stream: *stream,
                inverted: !inverted,
            },
        }
    }

    pub fn is_random(&self) -> bool {
        matches!(self, Pattern::Random { .. })
    }
}

/// `0x00`, `0x92 0x49 0x24`, `random`, `complement of random`.
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Fixed(bytes) => {
                let parts: Vec<String> = bytes.iter().map(|b| format!("0x{b:02X}")).collect();
                f.write_str(&parts.join(" "))
            }
            Pattern::Random {
                inverted: false, ..
            } => f.write_str("random"),
            Pattern::Random { inverted: true, .. } => f.write_str("complement of random"),
        }
    }
}

/// Produces and checks the bytes of one pass at any offset. Cheap to share between threads.
pub struct PatternSource {
    kind: SourceKind,
}

enum SourceKind {
    /// The fixed pattern repeated over `REFERENCE_LEN + period` bytes, so that any phase can be
    /// sliced out of it.
    Fixed {
        period: usize,
        reference: Vec<u8>,
    },
    Random {
        stream: Stream,
        inverted: bool,
    },
}

/// A keyed stream, ready to produce bytes at any offset.
enum Stream {
    /// The expanded AES-128 key (expanding it per chunk would cost more than it saves).
    Aes(Box<aes::Aes128>),
    Chacha20([u8; 32]),
}

impl PatternSource {
    pub fn new(pattern: &Pattern, prng: Prng, seed: &Seed) -> PatternSource {
        let kind = match pattern {
            Pattern::Fixed(bytes) => {
                let period = bytes.len().max(1);
                let reference = bytes
                    .iter()
                    .copied()
                    .cycle()
                    .take(REFERENCE_LEN + period)
                    .collect();
                SourceKind::Fixed { period, reference }
            }
            Pattern::Random { stream, inverted } => {
                let key = seed.derive("pass-stream", *stream);
                let stream = match prng {
                    Prng::AesCtr => {
                        let mut aes_key = [0u8; 16];
                        aes_key.copy_from_slice(&key[..16]);
                        Stream::Aes(Box::new(aes::Aes128::new(&Array::from(aes_key))))
                    }
                    Prng::Chacha20 => Stream::Chacha20(key),
                };
                SourceKind::Random {
                    stream,
                    inverted: *inverted,
                }
            }
        };
        PatternSource { kind }
    }

    /// For a single repeated byte, that byte: such a buffer never needs refilling.
    pub fn constant_byte(&self) -> Option<u8> {
        match &self.kind {
            SourceKind::Fixed {
                period: 1,
                reference,
            } => reference.first().copied(),
            _ => None,
        }
    }

    /// Whether producing or checking bytes costs real CPU work (a keyed stream), as opposed to
    /// a memset or memcmp against a cached reference block.
    pub fn is_generated(&self) -> bool {
        matches!(self.kind, SourceKind::Random { .. })
    }

    /// Whether a buffer filled for one offset holds the right bytes for another offset.
    pub fn is_offset_invariant(&self) -> bool {
        self.constant_byte().is_some()
    }

    /// Fill `buf` with the pattern's bytes for medium offset `offset`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        match &self.kind {
            SourceKind::Fixed { period, reference } => {
                if *period == 1 {
                    buf.fill(reference[0]);
                    return;
                }
                let mut pos = 0;
                while pos < buf.len() {
                    let phase = ((offset + pos as u64) % *period as u64) as usize;
                    let n = (buf.len() - pos).min(REFERENCE_LEN);
                    buf[pos..pos + n].copy_from_slice(&reference[phase..phase + n]);
                    pos += n;
                }
            }
            SourceKind::Random { stream, inverted } => {
                match stream {
                    Stream::Aes(cipher) => fill_aes_ctr(cipher, offset, buf),
                    Stream::Chacha20(key) => fill_chacha20(key, offset, buf),
                }
                if *inverted {
                    buf.iter_mut().for_each(|b| *b = !*b);
                }
            }
        }
    }

    /// Compare `data`, read from medium offset `offset`, against the pattern. Returns the byte
    /// ranges `(offset, length)` that differ, merged, in order.
    pub fn mismatches(&self, offset: u64, data: &[u8]) -> Vec<(u64, u64)> {
        let mut ranges = Vec::new();
        match &self.kind {
            SourceKind::Fixed { period, reference } => {
                let mut pos = 0;
                while pos < data.len() {
                    let phase = ((offset + pos as u64) % *period as u64) as usize;
                    let n = (data.len() - pos).min(REFERENCE_LEN);
                    let expected = &reference[phase..phase + n];
                    let actual = &data[pos..pos + n];
                    if actual != expected {
                        diff_ranges(offset + pos as u64, actual, expected, &mut ranges);
                    }
                    pos += n;
                }
            }
            SourceKind::Random { .. } => {
                // Regenerate in cache-sized pieces and compare each while it is still hot,
                // instead of writing a whole chunk of expected bytes out to memory first.
                let mut expected = vec![0u8; REFERENCE_LEN.min(data.len())];
                for (i, actual) in data.chunks(REFERENCE_LEN).enumerate() {
                    let at = offset + (i * REFERENCE_LEN) as u64;
                    let expected = &mut expected[..actual.len()];
                    self.fill(at, expected);
                    if actual != &*expected {
                        diff_ranges(at, actual, expected, &mut ranges);
                    }
                }
            }
        }
        ranges
    }
}

/// Append the differing byte runs of two equal-length slices, merging with the last range.
fn diff_ranges(base: u64, actual: &[u8], expected: &[u8], out: &mut Vec<(u64, u64)>) {
    // Compare 64-byte blocks first so that mostly-equal data is skipped quickly.
    const BLOCK: usize = 64;
    for (bi, (a, e)) in actual.chunks(BLOCK).zip(expected.chunks(BLOCK)).enumerate() {
        if a == e {
            continue;
        }
        for (i, (x, y)) in a.iter().zip(e).enumerate() {
            if x != y {
                let at = base + (bi * BLOCK + i) as u64;
                match out.last_mut() {
                    Some((start, len)) if *start + *len == at => *len += 1,
                    _ => out.push((at, 1)),
                }
            }
        }
    }
}

/// AES-128 in counter mode, block `n` of the stream being AES(key, n as a big-endian u128).
/// The counter blocks are written straight into the buffer and encrypted in place, which is
/// about a fifth faster than XORing a keystream onto a zeroed buffer.
fn fill_aes_ctr(cipher: &aes::Aes128, offset: u64, buf: &mut [u8]) {
    let block_of = |n: u64| {
        let mut b = Array::from(u128::from(n).to_be_bytes());
        cipher.encrypt_block(&mut b);
        b
    };
    let mut counter = offset / 16;
    let mut pos = 0;
    let skip = (offset % 16) as usize;
    if skip != 0 {
        let b = block_of(counter);
        let n = (16 - skip).min(buf.len());
        buf[..n].copy_from_slice(&b[skip..skip + n]);
        pos = n;
        counter += 1;
    }
    let (blocks, tail) = Array::<u8, _>::slice_as_chunks_mut(&mut buf[pos..]);
    for (i, block) in blocks.iter_mut().enumerate() {
        *block = Array::from(u128::from(counter + i as u64).to_be_bytes());
    }
    cipher.encrypt_blocks(blocks);
    if !tail.is_empty() {
        let b = block_of(counter + blocks.len() as u64);
        let n = tail.len();
        tail.copy_from_slice(&b[..n]);
    }
}

fn fill_chacha20(key: &[u8; 32], offset: u64, buf: &mut [u8]) {
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(*key);
    rng.set_word_pos(u128::from(offset / 4));
    let skip = (offset % 4) as usize;
    let mut pos = 0;
    if skip != 0 {
        // The stream is word-addressed: produce the partial first word and use its tail.
        let mut word = [0u8; 4];
        rng.fill_bytes(&mut word);
        let n = (4 - skip).min(buf.len());
        buf[..n].copy_from_slice(&word[skip..skip + n]);
        pos = n;
    }
    rng.fill_bytes(&mut buf[pos..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Seed {
        Seed([7u8; 32])
    }

    #[test]
    fn fixed_pattern_is_phase_correct_at_any_offset() {
        let src = PatternSource::new(
            &Pattern::Fixed(vec![0x92, 0x49, 0x24]),
            Prng::AesCtr,
            &seed(),
        );
        let mut whole = vec![0u8; 200_000];
        src.fill(0, &mut whole);
        for (i, b) in whole.iter().enumerate() {
            assert_eq!(*b, [0x92, 0x49, 0x24][i % 3]);
        }
        let mut part = vec![0u8; 70_001];
        src.fill(12_345, &mut part);
        assert_eq!(&part[..], &whole[12_345..12_345 + 70_001]);
    }

    #[test]
    fn random_streams_are_seekable_and_distinct() {
        for prng in [Prng::AesCtr, Prng::Chacha20] {
            let a = PatternSource::new(
                &Pattern::Random {
                    stream: 1,
                    inverted: false,
                },
                prng,
                &seed(),
            );
            let mut whole = vec![0u8; 100_000];
            a.fill(0, &mut whole);
            for start in [0usize, 4, 16, 512, 4097, 99_999] {
                let mut part = vec![0u8; whole.len() - start];
                a.fill(start as u64, &mut part);
                assert_eq!(&part[..], &whole[start..], "{prng:?} at {start}");
            }
            let b = PatternSource::new(
                &Pattern::Random {
                    stream: 2,
                    inverted: false,
                },
                prng,
                &seed(),
            );
            let mut other = vec![0u8; 100_000];
            b.fill(0, &mut other);
            assert_ne!(whole, other);
            let zeros = whole.iter().filter(|&&x| x == 0).count();
            assert!(
                zeros < 1000,
                "{prng:?} stream looks non-random: {zeros} zero bytes"
            );
        }
    }

    #[test]
    fn different_seeds_give_different_streams() {
        let p = Pattern::Random {
            stream: 1,
            inverted: false,
        };
        let mut a = vec![0u8; 4096];
        let mut b = vec![0u8; 4096];
        PatternSource::new(&p, Prng::AesCtr, &Seed([1; 32])).fill(0, &mut a);
        PatternSource::new(&p, Prng::AesCtr, &Seed([2; 32])).fill(0, &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn complement_inverts_every_byte() {
        let p = Pattern::Random {
            stream: 3,
            inverted: false,
        };
        let mut a = vec![0u8; 8192];
        let mut b = vec![0u8; 8192];
        PatternSource::new(&p, Prng::Chacha20, &seed()).fill(512, &mut a);
        PatternSource::new(&p.complement(), Prng::Chacha20, &seed()).fill(512, &mut b);
        assert!(a.iter().zip(&b).all(|(x, y)| *x == !*y));
        assert_eq!(Pattern::byte(0x55).complement(), Pattern::byte(0xAA));
    }

    #[test]
    fn mismatches_are_located_exactly() {
        for pattern in [
            Pattern::byte(0),
            Pattern::Fixed(vec![1, 2, 3]),
            Pattern::Random {
                stream: 1,
                inverted: false,
            },
        ] {
            let src = PatternSource::new(&pattern, Prng::AesCtr, &seed());
            let mut data = vec![0u8; 300_000];
            src.fill(4096, &mut data);
            assert!(src.mismatches(4096, &data).is_empty());
            data[10] ^= 1;
            for b in &mut data[70_000..70_100] {
                *b = !*b;
            }
            data[299_999] ^= 0x80;
            assert_eq!(
                src.mismatches(4096, &data),
                vec![(4106, 1), (74_096, 100), (4096 + 299_999, 1)],
                "{pattern}"
            );
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(Pattern::byte(0).to_string(), "0x00");
        assert_eq!(
            Pattern::Fixed(vec![0x92, 0x49, 0x24]).to_string(),
            "0x92 0x49 0x24"
        );
        assert_eq!(
            Pattern::Random {
                stream: 1,
                inverted: true
            }
            .to_string(),
            "complement of random"
        );
    }
}
