//! Raw I/O on the medium: O_DIRECT, O_EXCL, aligned buffers, positional reads and writes.
//!
//! The engine writes and reads through the [`BlockTarget`] trait so that it never sees a file
//! descriptor, and so that tests can put a faulty target behind it. [`DeviceTarget`] is the real
//! thing: a block device opened `O_DIRECT | O_EXCL` (the kernel refuses `O_EXCL` while anything
//! has the device mounted or claimed), or a regular image file opened `O_DIRECT` where the
//! filesystem allows it. Reads go to the medium, never to the page cache, so a verification
//! cannot be satisfied by cached pages.

use std::alloc::{self, Layout};
use std::fs::{File, OpenOptions};
use std::io;
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Alignment of every I/O buffer: a page, which satisfies any logical sector size up to 4 KiB
/// and the DMA alignment of every block driver we know.
pub const BUFFER_ALIGN: usize = 4096;

/// A destination the engine can overwrite and read back.
///
/// Offsets and lengths passed in are multiples of [`BlockTarget::sector_size`], except that the
/// last I/O may end at [`BlockTarget::size`].
pub trait BlockTarget: Send + Sync {
    /// Bytes addressable on the target.
    fn size(&self) -> u64;
    /// The unit of failure and retry: the logical sector size (512 or 4096).
    fn sector_size(&self) -> u32;
    /// Write all of `buf` at `offset`.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Fill all of `buf` from `offset`.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Make every completed write durable (fdatasync).
    fn sync(&self) -> io::Result<()>;
    /// Forget any cached copy before a verification read (no-op for O_DIRECT targets).
    fn drop_cache(&self) -> io::Result<()> {
        Ok(())
    }
    /// Whether reads bypass the page cache.
    fn direct_io(&self) -> bool;
}

/// Errors opening a target.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("{path} is busy: another program has it open exclusively or it is mounted; unmount it and stop whatever holds it")]
    Busy { path: PathBuf },
    #[error("permission denied opening {path}; run massho as root")]
    Permission { path: PathBuf },
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot query {what} of {path}: {source}")]
    Query {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path} is empty (0 bytes); nothing to wipe")]
    Empty { path: PathBuf },
}

/// How a target is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Write and read back (wipe). Block devices are claimed exclusively.
    ReadWrite,
    /// Read only (verify, inspection).
    ReadOnly,
}

/// A real block device or image file.
pub struct DeviceTarget {
    path: PathBuf,
    /// Descriptor for aligned I/O: O_DIRECT when the filesystem or driver supports it.
    aligned: File,
    /// Buffered descriptor for a regular file's unaligned tail (image sizes need not be a
    /// multiple of the sector size). `None` for block devices.
    tail: Option<File>,
    direct: bool,
    size: u64,
    sector_size: u32,
}

// Block-device ioctls (linux/fs.h).
nix::ioctl_read!(blk_getsize64, 0x12, 114, u64);
nix::ioctl_read_bad!(blk_sszget, 0x1268, libc::c_int);
nix::ioctl_read_bad!(blk_pbszget, 0x127B, libc::c_uint);

/// Logical and physical sector size and size in bytes of an open block device.
pub fn block_geometry(file: &File) -> io::Result<(u64, u32, u32)> {
    let fd = file.as_raw_fd();
    let mut size: u64 = 0;
    let mut logical: libc::c_int = 0;
    let mut physical: libc::c_uint = 0;
    // SAFETY: `fd` is an open block device for the duration of these calls and each ioctl
    // writes exactly one integer of the declared type into the pointed-to local.
    unsafe {
        blk_getsize64(fd, &mut size).map_err(io::Error::from)?;
        blk_sszget(fd, &mut logical).map_err(io::Error::from)?;
        blk_pbszget(fd, &mut physical).map_err(io::Error::from)?;
    }
    let logical = u32::try_from(logical).unwrap_or(512).max(512);
    Ok((size, logical, physical.max(logical)))
}

impl DeviceTarget {
    /// Open `path` for the engine. Block devices get `O_DIRECT | O_EXCL`; regular files get
    /// `O_DIRECT` when their filesystem supports it and buffered I/O with cache dropping when not.
    pub fn open(path: &Path, access: Access) -> Result<DeviceTarget, IoError> {
        let meta = std::fs::metadata(path).map_err(|e| open_error(path, e))?;
        let is_block = meta.file_type().is_block_device();
        let mut opts = OpenOptions::new();
        opts.read(true).write(access == Access::ReadWrite);
        // O_NONBLOCK: a FIFO swapped in for the path after inspection must not hang the open;
        // it is refused below from the descriptor's own type.
        let mut flags = libc::O_DIRECT | libc::O_CLOEXEC | libc::O_NONBLOCK;
        if is_block && access == Access::ReadWrite {
            flags |= libc::O_EXCL;
        }
        opts.custom_flags(flags);
        let (aligned, direct) = match opts.open(path) {
            Ok(f) => (f, true),
            // Some filesystems (older tmpfs, some FUSE mounts) refuse O_DIRECT on files.
            Err(e) if !is_block && e.raw_os_error() == Some(libc::EINVAL) => {
                let mut buffered = OpenOptions::new();
                buffered
                    .read(true)
                    .write(access == Access::ReadWrite)
                    .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK);
                (buffered.open(path).map_err(|e| open_error(path, e))?, false)
            }
            Err(e) => return Err(open_error(path, e)),
        };
        // What was opened must be what was inspected: judge the descriptor, not the name.
        let opened = aligned.metadata().map_err(|e| open_error(path, e))?;
        let kind_ok = if is_block {
            opened.file_type().is_block_device()
        } else {
            opened.file_type().is_file()
        };
        if !kind_ok {
            return Err(IoError::Open {
                path: path.to_owned(),
                source: io::Error::other(format!(
                    "it is no longer the {} it was when inspected; name it again",
                    if is_block {
                        "block device"
                    } else {
                        "regular file"
                    }
                )),
            });
        }
        clear_nonblock(&aligned).map_err(|e| open_error(path, e))?;
        let (size, sector_size, tail) = if is_block {
            let (size, logical, _) = block_geometry(&aligned).map_err(|source| IoError::Query {
                path: path.to_owned(),
                what: "size and sector size",
                source,
            })?;
            (size, logical, None)
        } else {
            // The same open file, buffered: reopened through /proc, never by name again.
            let tail = OpenOptions::new()
                .read(true)
                .write(access == Access::ReadWrite)
                .custom_flags(libc::O_CLOEXEC)
                .open(format!("/proc/self/fd/{}", aligned.as_raw_fd()))
                .map_err(|e| open_error(path, e))?;
            (opened.len(), BUFFER_ALIGN as u32, Some(tail))
        };
        if size == 0 {
            return Err(IoError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(DeviceTarget {
            path: path.to_owned(),
            aligned,
            tail,
            direct,
            size,
            sector_size,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The identity of the medium this descriptor refers to (see [`super::binding`]).
    pub fn identity(&self) -> io::Result<super::binding::MediumIdentity> {
        super::binding::MediumIdentity::of_file(&self.aligned)
    }

    /// The descriptor to use for an I/O at `offset` of `len` bytes.
    fn file_for(&self, offset: u64, len: usize) -> &File {
        let sector = u64::from(self.sector_size);
        match &self.tail {
            Some(tail) if offset % sector != 0 || len as u64 % sector != 0 => tail,
            _ => &self.aligned,
        }
    }
}

/// Back to blocking I/O once the descriptor is known to be a disk or a file.
fn clear_nonblock(file: &File) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(file.as_raw_fd(), FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = OFlag::from_bits_truncate(flags) & !OFlag::O_NONBLOCK;
    fcntl(file.as_raw_fd(), FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    Ok(())
}

fn open_error(path: &Path, e: io::Error) -> IoError {
    match e.raw_os_error() {
        Some(libc::EBUSY) => IoError::Busy {
            path: path.to_owned(),
        },
        Some(libc::EACCES) | Some(libc::EPERM) => IoError::Permission {
            path: path.to_owned(),
        },
        _ => IoError::Open {
            path: path.to_owned(),
            source: e,
        },
    }
}

impl BlockTarget for DeviceTarget {
    fn size(&self) -> u64 {
        self.size
    }

    fn sector_size(&self) -> u32 {
        self.sector_size
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file_for(offset, buf.len()).write_all_at(buf, offset)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let len = buf.len();
        self.file_for(offset, len).read_exact_at(buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        nix::unistd::fdatasync(self.aligned.as_raw_fd()).map_err(io::Error::from)
    }

    fn drop_cache(&self) -> io::Result<()> {
        // The buffered tail (and a file without O_DIRECT) goes through the page cache: write
        // back and evict it so the verification reads come from the medium.
        if self.tail.is_some() {
            self.sync()?;
            nix::fcntl::posix_fadvise(
                self.aligned.as_raw_fd(),
                0,
                0,
                nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
            )
            .map_err(io::Error::from)?;
        }
        Ok(())
    }

    fn direct_io(&self) -> bool {
        self.direct
    }
}

/// A zero-initialised heap buffer aligned to [`BUFFER_ALIGN`], as O_DIRECT requires.
pub struct AlignedBuf {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: AlignedBuf owns its allocation exclusively, like Vec<u8>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only hands out `&[u8]`, like Vec<u8>.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// Allocate `len` zeroed bytes (`len` > 0) aligned to [`BUFFER_ALIGN`].
    pub fn new(len: usize) -> AlignedBuf {
        let len = len.max(1);
        let layout = Self::layout(len);
        // SAFETY: the layout has non-zero size; a null return is handled below.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let Some(ptr) = std::ptr::NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        AlignedBuf { ptr, len }
    }

    fn layout(len: usize) -> Layout {
        match Layout::from_size_align(len, BUFFER_ALIGN) {
            Ok(l) => l,
            // Only reachable for lengths near usize::MAX, which no caller asks for.
            Err(_) => alloc::handle_alloc_error(Layout::new::<u8>()),
        }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr points to `len` initialised (zeroed at allocation) bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with exactly this layout and not freed before.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
    }
}

/// Whether `path` is a block device (as opposed to a regular file).
pub fn is_block_device(path: &Path) -> io::Result<bool> {
    Ok(std::fs::metadata(path)?.file_type().is_block_device())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buf_is_aligned_and_zeroed() {
        let b = AlignedBuf::new(3 * 4096 + 7);
        assert_eq!(b.as_ptr() as usize % BUFFER_ALIGN, 0);
        assert_eq!(b.len(), 3 * 4096 + 7);
        assert!(b.iter().all(|&x| x == 0));
    }

    #[test]
    fn image_file_round_trip_with_unaligned_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img");
        std::fs::write(&p, vec![7u8; 10_000]).unwrap();
        let t = DeviceTarget::open(&p, Access::ReadWrite).unwrap();
        assert_eq!(t.size(), 10_000);
        let mut buf = AlignedBuf::new(8192);
        buf.fill(1);
        t.write_at(&buf, 0).unwrap();
        t.write_at(&[2u8; 10_000 - 8192], 8192).unwrap();
        t.sync().unwrap();
        t.drop_cache().unwrap();
        let mut back = AlignedBuf::new(8192);
        t.read_at(&mut back, 0).unwrap();
        assert!(back.iter().all(|&x| x == 1));
        let mut tail = vec![0u8; 10_000 - 8192];
        t.read_at(&mut tail, 8192).unwrap();
        assert!(tail.iter().all(|&x| x == 2));
    }
}
