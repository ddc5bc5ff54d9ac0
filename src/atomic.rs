//! Durable file writes: a record that massho says it wrote is on disk, whole, or not there.
//!
//! Every file that must survive a crash or a power cut (results, certificates, signatures,
//! keys) is written to a temporary file in the same directory, fsynced, renamed into place and
//! the directory fsynced. A reader never sees half a file, and `create_new` never replaces one.

use std::io::{self, Write};
use std::path::Path;

/// Permissions of records (results, certificates, signatures, timestamps): anyone may read them.
pub const RECORD_MODE: u32 = 0o644;

/// Write `bytes` to `path`, which must not exist yet (an existing file is an
/// `AlreadyExists` error and is left untouched). `mode` sets the permissions; `None` means
/// [`RECORD_MODE`].
pub fn create_new(path: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    write(path, bytes, mode, false)
}

/// Write `bytes` to `path` with [`RECORD_MODE`], atomically replacing whatever is there.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write(path, bytes, None, true)
}

/// Like [`create_new`] with [`RECORD_MODE`], for a file too big to hold in memory (a ledger
/// export): `fill` writes it through a buffer. If `fill` fails, nothing is left behind.
pub fn create_new_streamed<T, E: From<io::Error>>(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<T, E> {
    write_with(path, None, false, fill)
}

fn write(path: &Path, bytes: &[u8], mode: Option<u32>, overwrite: bool) -> io::Result<()> {
    write_with(path, mode, overwrite, |w| w.write_all(bytes))
}

fn write_with<T, E: From<io::Error>>(
    path: &Path,
    mode: Option<u32>,
    overwrite: bool,
    fill: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<T, E> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".massho-tmp-")
        .tempfile_in(dir)?;
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode.unwrap_or(RECORD_MODE)))?;
    let value = {
        let mut w = io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        let value = fill(&mut w)?;
        w.flush()?;
        value
    };
    tmp.as_file().sync_all()?;
    if overwrite {
        tmp.persist(path).map_err(|e| e.error)?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| e.error)?;
    }
    std::fs::File::open(dir)?.sync_all()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_new_never_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        create_new(&p, b"one", Some(0o600)).unwrap();
        let e = create_new(&p, b"two", None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        replace(&p, b"three").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"three");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            RECORD_MODE
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_streamed_file_that_fails_half_way_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("export.jsonl");
        let e = create_new_streamed(&p, |w| {
            w.write_all(b"half")?;
            Err::<(), _>(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        create_new_streamed(&p, |w| w.write_all(b"whole")).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"whole");
        let e = create_new_streamed(&p, |w| w.write_all(b"again")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"whole");
    }
}
