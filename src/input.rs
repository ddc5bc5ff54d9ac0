//! Files massho judges (certificates, signatures, timestamp replies, seals, public keys, ledger
//! imports and exports) are read here, once, into memory.
//!
//! Every check and every record then uses those same bytes, so a file swapped between "verify the
//! signature" and "record its hash" cannot make massho record something it never checked. Only
//! regular files are accepted: a FIFO would hang the reader, a device could be gigabytes, a
//! directory is a typo. The size is bounded per kind of file, and the bound is checked on the open
//! descriptor, not on a path that may change.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Upper bounds, generous by orders of magnitude for what a genuine file of each kind holds.
pub mod limit {
    /// A certificate JSON is a few KiB (a failed wipe lists at most a bounded number of ranges).
    pub const CERTIFICATE: u64 = 4 << 20;
    /// A minisign signature file: four short lines.
    pub const SIGNATURE: u64 = 64 << 10;
    /// An RFC 3161 timestamp reply with its certificate chain.
    pub const TIMESTAMP: u64 = 1 << 20;
    /// An X.509 certificate or chain, a PKCS#12 bundle, a CMS (.p7s) signature with its chain.
    pub const X509: u64 = 1 << 20;
    /// A signed PDF certificate: one or a few A4 pages with a font subset, a signature and its
    /// validation data.
    pub const PDF: u64 = 64 << 20;
    /// A public key file or a seal file.
    pub const KEY_OR_SEAL: u64 = 64 << 10;
    /// A result file (one device's wipe result).
    pub const RESULT: u64 = 16 << 20;
    /// A CSV import of an existing ledger, or a list of scanned asset tags.
    pub const IMPORT: u64 = 512 << 20;
    /// A ledger export (JSONL or CSV): a million events are a few hundred MiB.
    pub const EXPORT: u64 = 4 << 30;
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("{what} {path}: no such file; check the path")]
    NotFound { what: &'static str, path: PathBuf },
    #[error("{what} {path} is {kind}, not a regular file; name the file itself")]
    NotRegular {
        what: &'static str,
        path: PathBuf,
        kind: &'static str,
    },
    #[error("{what} {path} is larger than {limit} bytes, far more than a genuine one; check that this is the right file")]
    TooLarge {
        what: &'static str,
        path: PathBuf,
        limit: u64,
    },
    #[error("cannot read {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl InputError {
    /// Whether the operator named the wrong thing (exit 2) rather than the system failing.
    pub fn is_usage(&self) -> bool {
        !matches!(self, InputError::Io { .. })
    }
}

/// Read the regular file at `path` into memory, at most `limit` bytes. `what` names the kind of
/// file in errors ("certificate", "seal file").
///
/// The file is opened with `O_NONBLOCK` so that opening a FIFO does not wait for a writer, and
/// its type is checked on the open descriptor before a byte is read.
pub fn read_regular(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>, InputError> {
    let (file, len) = open_regular(path, what, limit)?;
    let io = |source| InputError::Io {
        what,
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::with_capacity(len as usize);
    // The file may grow between fstat and read: never read past the limit.
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            what,
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

/// Open the regular file at `path` for a reader that streams it (a ledger export too big to
/// hold): the same checks as [`read_regular`] on the one open descriptor, which is returned with
/// its size. The caller reads at most `limit` bytes from it (`Read::take`).
pub fn open_regular(
    path: &Path,
    what: &'static str,
    limit: u64,
) -> Result<(File, u64), InputError> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => InputError::NotFound {
                what,
                path: path.to_owned(),
            },
            _ => InputError::Io {
                what,
                path: path.to_owned(),
                source,
            },
        })?;
    let io = |source| InputError::Io {
        what,
        path: path.to_owned(),
        source,
    };
    let meta = file.metadata().map_err(io)?;
    let ft = meta.file_type();
    if !ft.is_file() {
        return Err(InputError::NotRegular {
            what,
            path: path.to_owned(),
            kind: file_kind(&ft),
        });
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge {
            what,
            path: path.to_owned(),
            limit,
        });
    }
    Ok((file, meta.len()))
}

/// What a file type is, for messages: "a directory", "a FIFO (named pipe)", ...
pub fn file_kind(ft: &std::fs::FileType) -> &'static str {
    if ft.is_file() {
        "a regular file"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        std::fs::write(&p, b"hello").unwrap();
        assert_eq!(read_regular(&p, "test file", 5).unwrap(), b"hello");
        assert!(matches!(
            read_regular(&p, "test file", 4),
            Err(InputError::TooLarge { limit: 4, .. })
        ));
    }

    #[test]
    fn fifos_directories_and_devices_are_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = read_regular(&fifo, "certificate", 10).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        assert!(e.is_usage());
        let e = read_regular(dir.path(), "certificate", 10).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
        let e = read_regular(Path::new("/dev/null"), "certificate", 10).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let e = read_regular(&dir.path().join("none"), "certificate", 10).unwrap_err();
        assert!(matches!(e, InputError::NotFound { .. }), "{e}");
    }
}
