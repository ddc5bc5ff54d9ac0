//! The data behind a fake drive: a regular file a test created, rewritten when a fake's erase
//! completes, so that purge verification reads back what a real drive would leave.
//!
//! Only regular files are ever opened (never created, never followed through a symlink): a fake
//! cannot be pointed at a block device by mistake.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;

/// What an erase leaves on the medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediumEffect {
    /// Every byte 0x00 (block erase on most drives; Format with DLFEAT "reads zeros").
    Zeros,
    /// Every byte 0xFF (block erase on drives whose erased flash reads as ones).
    Ones,
    /// What a crypto erase leaves: the old ciphertext read with a new key, here deterministic
    /// pseudo-random bytes from this seed (see [`MediumEffect::fill`]).
    Random(u64),
    /// A drive that lies: it reports the erase as successful and changes nothing.
    Untouched,
}

impl MediumEffect {
    /// The bytes this effect leaves at `offset..offset + buf.len()` of the medium. `Random`
    /// depends only on the seed and the byte offset, never on how the medium is chunked.
    /// `Untouched` leaves `buf` as it is.
    pub fn fill(self, offset: u64, buf: &mut [u8]) {
        match self {
            MediumEffect::Zeros => buf.fill(0x00),
            MediumEffect::Ones => buf.fill(0xff),
            MediumEffect::Untouched => {}
            MediumEffect::Random(seed) => {
                for (k, b) in buf.iter_mut().enumerate() {
                    let at = offset + k as u64;
                    *b = splitmix64(seed ^ (at / 8).wrapping_mul(0x9e37_79b9_7f4a_7c15))
                        .to_le_bytes()[(at % 8) as usize];
                }
            }
        }
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The file a fake drive's user data lives in, and what an erase does to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMedium {
    /// A regular file the test created (in a temp dir); its length is the medium's size.
    pub path: PathBuf,
    pub effect: MediumEffect,
}

/// Rewrites go out in 1 MiB pwrites.
const CHUNK: usize = 1 << 20;

impl FakeMedium {
    pub fn new(path: impl Into<PathBuf>, effect: MediumEffect) -> FakeMedium {
        FakeMedium {
            path: path.into(),
            effect,
        }
    }

    /// Rewrite the whole file with the effect (1 MiB pwrites, then fsync). `Untouched` writes
    /// nothing. Refuses anything but an existing regular file.
    pub fn apply(&self) -> io::Result<()> {
        let meta = std::fs::symlink_metadata(&self.path)?;
        if !meta.file_type().is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: a fake medium must be a regular file a test created",
                    self.path.display()
                ),
            ));
        }
        if self.effect == MediumEffect::Untouched {
            return Ok(());
        }
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path)?;
        let len = file.metadata()?.len();
        let mut buf = vec![0u8; CHUNK];
        let mut offset = 0u64;
        while offset < len {
            let n = usize::try_from(len - offset).map_or(CHUNK, |left| left.min(CHUNK));
            let chunk = &mut buf[..n];
            self.effect.fill(offset, chunk);
            file.write_all_at(chunk, offset)?;
            offset += n as u64;
        }
        file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn medium_file(len: usize, byte: u8) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("medium.img");
        std::fs::write(&path, vec![byte; len]).unwrap();
        (dir, path)
    }

    #[test]
    fn effects_rewrite_the_whole_file() {
        // Just over two chunks, so the last pwrite is a partial one.
        let len = 2 * CHUNK + 4097;
        for (effect, expect) in [(MediumEffect::Zeros, 0x00u8), (MediumEffect::Ones, 0xff)] {
            let (_dir, path) = medium_file(len, 0x5a);
            FakeMedium::new(&path, effect).apply().unwrap();
            let data = std::fs::read(&path).unwrap();
            assert_eq!(data.len(), len);
            assert!(data.iter().all(|b| *b == expect), "{effect:?}");
        }
        let (_dir, path) = medium_file(len, 0x5a);
        FakeMedium::new(&path, MediumEffect::Untouched)
            .apply()
            .unwrap();
        assert!(std::fs::read(&path).unwrap().iter().all(|b| *b == 0x5a));
    }

    #[test]
    fn random_is_deterministic_and_independent_of_chunking() {
        let len = CHUNK + 13;
        let (_dir, path) = medium_file(len, 0);
        FakeMedium::new(&path, MediumEffect::Random(7))
            .apply()
            .unwrap();
        let data = std::fs::read(&path).unwrap();
        let mut expected = vec![0u8; len];
        MediumEffect::Random(7).fill(0, &mut expected);
        assert_eq!(data, expected);
        // Any window computed on its own matches.
        let mut window = [0u8; 18];
        MediumEffect::Random(7).fill(CHUNK as u64 - 5, &mut window);
        assert_eq!(&window[..], &data[CHUNK - 5..CHUNK + 13]);
        // Not zeros, and another seed differs.
        assert!(data.iter().filter(|b| **b == 0).count() < len / 100);
        let mut other = vec![0u8; 64];
        MediumEffect::Random(8).fill(0, &mut other);
        assert_ne!(&other[..], &data[..64]);
    }

    #[test]
    fn refuses_anything_but_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = FakeMedium::new(dir.path().join("absent"), MediumEffect::Zeros);
        assert!(missing.apply().is_err());
        assert!(!dir.path().join("absent").exists(), "never created");
        let not_a_file = FakeMedium::new(dir.path(), MediumEffect::Zeros);
        assert!(not_a_file.apply().is_err());
        let target = dir.path().join("target");
        std::fs::write(&target, [1u8; 16]).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(FakeMedium::new(&link, MediumEffect::Zeros).apply().is_err());
        assert_eq!(std::fs::read(&target).unwrap(), [1u8; 16]);
        // /dev/null is a character device: refused before any open for writing.
        assert!(FakeMedium::new("/dev/null", MediumEffect::Zeros)
            .apply()
            .is_err());
    }
}
