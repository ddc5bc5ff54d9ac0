//! The evidence store: a content-addressed directory beside the ledger.
//!
//! `LEDGER.evidence/sha256/ab/abcdef…` holds the file whose SHA-256 is `abcdef…`, byte for byte
//! as it was handed in, read-only (0444). A name is its content's hash, so a file is stored once
//! however often it is recorded, an altered file no longer matches its name, and nothing in the
//! store needs the ledger to say what it is. Files are written to a temporary name, fsynced,
//! renamed into place and their directory fsynced ([`crate::atomic`]) **before** the event that
//! names them is appended: a crash in between leaves a file no event names (which `ledger verify`
//! lists, and recording it again adopts), never an event that names no file.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Permissions of a stored file: anyone may read it, nobody writes it.
pub const READ_ONLY: u32 = 0o444;

/// The largest file accepted as evidence (a scan or a photo; a video is not evidence here).
pub const MAX_EVIDENCE: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("evidence store {}: {source}; check that the directory beside the ledger can be written (and the disk is not full); nothing was recorded", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("evidence store file {} does not hash to its name (it holds {actual}): it was altered; run `massho ledger verify` and restore the file from a backup", path.display())]
    Altered { path: PathBuf, actual: String },
}

/// What `ledger verify` finds at a stored file's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    Intact,
    Missing,
    /// It hashes to something else (the hash it has).
    Altered(String),
    Unreadable(String),
}

/// The evidence directory of one ledger.
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    root: PathBuf,
}

impl EvidenceStore {
    /// `LEDGER.evidence` beside the ledger file `ledger`.
    pub fn beside(ledger: &Path) -> EvidenceStore {
        let mut root = ledger.as_os_str().to_owned();
        root.push(".evidence");
        EvidenceStore {
            root: PathBuf::from(root),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the file with this SHA-256 (lower-case hex) lives.
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        let fan = sha256.get(..2).unwrap_or("__");
        self.root.join("sha256").join(fan).join(sha256)
    }

    /// Store `bytes` (durably, read-only) and return their SHA-256. A file already there with
    /// the same content is kept as it is; one there with other content is an error.
    pub fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let sha = hex::encode(Sha256::digest(bytes));
        let path = self.path_of(&sha);
        if self.adopt(&path, &sha)? {
            return Ok(sha);
        }
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        self.make_dirs(&dir)?;
        match crate::atomic::create_new(&path, bytes, Some(READ_ONLY)) {
            Ok(()) => Ok(sha),
            // Another process stored the same file meanwhile.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if self.adopt(&path, &sha)? {
                    Ok(sha)
                } else {
                    Err(StoreError::Io { path, source: e })
                }
            }
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    /// Whether a file is already stored at `path` with content `sha` (an interrupted earlier
    /// recording, or the same document recorded for another medium).
    fn adopt(&self, path: &Path, sha: &str) -> Result<bool, StoreError> {
        match self.check(sha) {
            FileState::Intact => Ok(true),
            FileState::Missing => Ok(false),
            FileState::Altered(actual) => Err(StoreError::Altered {
                path: path.to_path_buf(),
                actual,
            }),
            FileState::Unreadable(why) => Err(StoreError::Io {
                path: path.to_path_buf(),
                source: io::Error::other(why),
            }),
        }
    }

    /// Create `dir` and the directories above it up to the store, each fsynced into its parent,
    /// so that a stored file's name survives a power cut with it.
    fn make_dirs(&self, dir: &Path) -> Result<(), StoreError> {
        let mut missing = Vec::new();
        let mut d = dir.to_path_buf();
        while !d.exists() {
            missing.push(d.clone());
            match d.parent() {
                Some(p) if !p.as_os_str().is_empty() => d = p.to_path_buf(),
                _ => break,
            }
        }
        for d in missing.iter().rev() {
            match fs::create_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        path: d.clone(),
                        source,
                    })
                }
            }
            // A store beside a ledger named relative to the working directory: that is its parent.
            let parent = match d.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            fsync_dir(parent).map_err(|source| StoreError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        Ok(())
    }

    /// Open the stored file `sha256` for reading: never through a symbolic link (the store holds
    /// files, and a link could later point elsewhere), without waiting on a FIFO an insider put
    /// in its place, and only if it is a regular file of at most [`MAX_EVIDENCE`] bytes.
    fn open_stored(&self, sha256: &str) -> Result<fs::File, FileState> {
        use std::os::unix::fs::OpenOptionsExt;
        // A name from an edited ledger row ("../../etc/passwd") never leaves the store.
        if !super::is_sha256_hex(sha256) {
            return Err(FileState::Unreadable(format!(
                "{sha256:?} is not a SHA-256, so it names no stored file"
            )));
        }
        let path = self.path_of(sha256);
        let file = match fs::File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(FileState::Missing),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(FileState::Unreadable(
                    "a symbolic link, not a stored file".into(),
                ))
            }
            Err(e) => return Err(FileState::Unreadable(e.to_string())),
        };
        match file.metadata() {
            Ok(m) if m.is_file() && m.len() <= MAX_EVIDENCE => Ok(file),
            Ok(m) if m.is_file() => Err(FileState::Unreadable(format!(
                "{} bytes, more than evidence may have ({MAX_EVIDENCE})",
                m.len()
            ))),
            Ok(_) => Err(FileState::Unreadable("not a regular file".into())),
            Err(e) => Err(FileState::Unreadable(e.to_string())),
        }
    }

    /// Re-hash the stored file `sha256`.
    pub fn check(&self, sha256: &str) -> FileState {
        let file = match self.open_stored(sha256) {
            Ok(f) => f,
            Err(state) => return state,
        };
        match hash_reader(file.take(MAX_EVIDENCE + 1)) {
            Ok(actual) if actual == sha256 => FileState::Intact,
            Ok(actual) => FileState::Altered(actual),
            Err(e) => FileState::Unreadable(e.to_string()),
        }
    }

    /// Read the stored file `sha256`, checked against its name (and opened as [`Self::check`]
    /// does: no link, no FIFO, no device, not larger than evidence may be).
    pub fn read(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(sha256);
        let file = self.open_stored(sha256).map_err(|state| StoreError::Io {
            path: path.clone(),
            source: match state {
                FileState::Missing => io::Error::from(io::ErrorKind::NotFound),
                FileState::Unreadable(why) => io::Error::other(why),
                FileState::Intact | FileState::Altered(_) => io::Error::other("unexpected state"),
            },
        })?;
        let mut bytes = Vec::new();
        file.take(MAX_EVIDENCE + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != sha256 {
            return Err(StoreError::Altered { path, actual });
        }
        Ok(bytes)
    }

    /// Every name under `sha256/` (files and anything else), for finding files no event names.
    pub fn names(&self) -> Result<Vec<(String, PathBuf)>, StoreError> {
        let top = self.root.join("sha256");
        let mut out = Vec::new();
        let list = |dir: &Path| -> Result<Vec<fs::DirEntry>, StoreError> {
            match fs::read_dir(dir) {
                Ok(entries) => {
                    entries
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|source| StoreError::Io {
                            path: dir.to_path_buf(),
                            source,
                        })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(source) => Err(StoreError::Io {
                    path: dir.to_path_buf(),
                    source,
                }),
            }
        };
        for fan in list(&top)? {
            if !fan.path().is_dir() {
                out.push((fan.file_name().to_string_lossy().into_owned(), fan.path()));
                continue;
            }
            for f in list(&fan.path())? {
                out.push((f.file_name().to_string_lossy().into_owned(), f.path()));
            }
        }
        out.sort();
        Ok(out)
    }
}

fn hash_reader(mut r: impl Read) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_stored_once_under_its_hash_read_only_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceStore::beside(&dir.path().join("ledger.sqlite"));
        let sha = store.put(b"certificate of erasure").unwrap();
        let path = store.path_of(&sha);
        assert!(path.starts_with(dir.path().join("ledger.sqlite.evidence/sha256")));
        assert_eq!(path.parent().unwrap().file_name().unwrap(), &sha[..2]);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            READ_ONLY
        );
        // Stored again: the same file, adopted.
        assert_eq!(store.put(b"certificate of erasure").unwrap(), sha);
        assert_eq!(store.check(&sha), FileState::Intact);
        assert_eq!(store.names().unwrap().len(), 1);
        assert_eq!(store.check(&"0".repeat(64)), FileState::Missing);

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&path, b"certificate of erasure, edited").unwrap();
        assert!(matches!(store.check(&sha), FileState::Altered(a) if a != sha));
        assert!(matches!(
            store.put(b"certificate of erasure"),
            Err(StoreError::Altered { .. })
        ));
        assert!(store.read(&sha).is_err());
    }

    /// An insider with write access to the store puts a symbolic link (to a copy with the same
    /// content, which could be changed later, or to /dev/zero), a FIFO or a directory where a
    /// stored file should be: each is reported, none is read through or waited on.
    #[test]
    fn links_fifos_devices_and_directories_in_the_store_are_refused_not_followed() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceStore::beside(&dir.path().join("ledger.sqlite"));
        let sha = store.put(b"scan of the shredder receipt").unwrap();
        let path = store.path_of(&sha);
        let copy = dir.path().join("copy");
        fs::write(&copy, b"scan of the shredder receipt").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        fs::remove_file(&path).unwrap();

        symlink(&copy, &path).unwrap();
        assert!(
            matches!(store.check(&sha), FileState::Unreadable(w) if w.contains("symbolic link"))
        );
        assert!(store.read(&sha).is_err());

        fs::remove_file(&path).unwrap();
        symlink("/dev/zero", &path).unwrap();
        assert!(matches!(store.check(&sha), FileState::Unreadable(_)));
        assert!(store.read(&sha).is_err());

        fs::remove_file(&path).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        assert!(
            matches!(store.check(&sha), FileState::Unreadable(w) if w.contains("not a regular file"))
        );
        assert!(store.read(&sha).is_err());

        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        assert!(matches!(store.check(&sha), FileState::Unreadable(_)));
        assert!(store.read(&sha).is_err());

        // A name that is not a hash does not leave the store.
        assert!(matches!(
            store.check("../../../../etc/passwd"),
            FileState::Unreadable(w) if w.contains("not a SHA-256")
        ));
        assert!(store.read("../../../../etc/passwd").is_err());
    }
}
