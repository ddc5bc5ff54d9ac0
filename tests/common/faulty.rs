//! A real block device with bad sectors: a loop device over a file that a FUSE filesystem in this
//! test process serves, answering EIO to any request that touches a configured byte range.
//!
//! device-mapper (`dm-error`, `dm-flakey`), scsi_debug and null_blk are not available in the
//! kernels we test on, but loop and FUSE are. The file is opened with `FOPEN_DIRECT_IO`, so the
//! kernel keeps no page cache for it and every request the loop device issues reaches the server
//! thread here, which stores it in a sparse temporary file (the "medium") or refuses it. A refused
//! write stores nothing. Tests read the medium directly with [`FaultyDisk::stored_bytes`], not
//! through the device, so a bad range cannot hide what was (not) written around it.
//!
//! The server runs on fuser's own background thread; the loop device's kernel worker calls into
//! it while the test thread waits on massho, so nothing in the test thread may hold the server's
//! lock across device I/O. Teardown order matters: the loop device holds the FUSE file open, so
//! it is detached first, then the filesystem is unmounted, then the session and store go.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::consts::FOPEN_DIRECT_IO;
use fuser::{
    FileAttr, FileType, Filesystem, KernelConfig, MountOption, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow,
};

use super::LoopDevice;

const ROOT_INO: u64 = 1;
const DISK_INO: u64 = 2;
const DISK_NAME: &str = "disk";
/// Attributes never change behind the kernel's back, but keep the cache short anyway.
const ATTR_TTL: Duration = Duration::from_secs(1);
/// Largest write the server accepts in one request (the kernel may lower it; see
/// [`fuse_request_limit`]).
const MAX_WRITE: u32 = 1 << 20;

/// Which requests the server refuses with EIO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Writes overlapping this byte range fail and store nothing.
    pub write: Option<Range<u64>>,
    /// Reads overlapping this byte range fail.
    pub read: Option<Range<u64>>,
    /// fsync (the loop device's flush, i.e. the caller's fdatasync) fails.
    pub sync: bool,
}

impl Faults {
    /// No faults: a healthy medium.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Bad sectors: both reads and writes touching `bad` fail.
    pub fn bad_range(bad: Range<u64>) -> Faults {
        Faults {
            write: Some(bad.clone()),
            read: Some(bad),
            sync: false,
        }
    }
}

/// What the server saw, so a test can check that it exercised the path it meant to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub writes: u64,
    pub write_errors: u64,
    pub largest_write: u64,
    pub reads: u64,
    pub read_errors: u64,
    pub syncs: u64,
    pub sync_errors: u64,
}

#[derive(Default)]
struct State {
    faults: Faults,
    stats: Stats,
}

type Shared = Arc<Mutex<State>>;

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

fn overlaps(bad: &Option<Range<u64>>, offset: u64, len: u64) -> bool {
    bad.as_ref()
        .is_some_and(|b| len > 0 && offset < b.end && b.start < offset + len)
}

/// The FUSE filesystem: a root directory holding one regular file, `disk`.
struct FaultyFs {
    store: File,
    size: u64,
    shared: Shared,
    uid: u32,
    gid: u32,
}

impl FaultyFs {
    fn attr(&self, ino: u64) -> FileAttr {
        let (kind, perm, size, nlink) = if ino == ROOT_INO {
            (FileType::Directory, 0o755, 0, 2)
        } else {
            (FileType::RegularFile, 0o600, self.size, 1)
        };
        let now = SystemTime::now();
        FileAttr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: now,
            mtime: now,
            ctime: now,
            crtime: now,
            kind,
            perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }
}

impl Filesystem for FaultyFs {
    fn init(&mut self, _req: &Request<'_>, config: &mut KernelConfig) -> Result<(), libc::c_int> {
        config.set_max_write(MAX_WRITE).map_err(|_| libc::EINVAL)?;
        Ok(())
    }

    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        if parent == ROOT_INO && name == DISK_NAME {
            reply.entry(&ATTR_TTL, &self.attr(DISK_INO), 0);
        } else {
            reply.error(libc::ENOENT);
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match ino {
            ROOT_INO | DISK_INO => reply.attr(&ATTR_TTL, &self.attr(ino)),
            _ => reply.error(libc::ENOENT),
        }
    }

    /// Timestamps and modes are accepted and forgotten; the size is fixed, like a disk's.
    fn setattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<u64>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<u32>,
        reply: ReplyAttr,
    ) {
        if size.is_some_and(|s| s != self.size) {
            reply.error(libc::EPERM);
        } else {
            reply.attr(&ATTR_TTL, &self.attr(ino));
        }
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, _flags: i32, reply: ReplyOpen) {
        if ino == DISK_INO {
            // No page cache for the file: every loop request reaches `read`/`write` below.
            reply.opened(0, FOPEN_DIRECT_IO);
        } else {
            reply.error(libc::EISDIR);
        }
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyData,
    ) {
        let offset = offset.max(0) as u64;
        let len = u64::from(size).min(self.size.saturating_sub(offset));
        {
            let mut st = lock(&self.shared);
            st.stats.reads += 1;
            if overlaps(&st.faults.read, offset, len) {
                st.stats.read_errors += 1;
                drop(st);
                reply.error(libc::EIO);
                return;
            }
        }
        let mut buf = vec![0u8; len as usize];
        match self.store.read_exact_at(&mut buf, offset) {
            Ok(()) => reply.data(&buf),
            Err(e) => reply.error(e.raw_os_error().unwrap_or(libc::EIO)),
        }
    }

    fn write(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        offset: i64,
        data: &[u8],
        _write_flags: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyWrite,
    ) {
        let offset = offset.max(0) as u64;
        let len = data.len() as u64;
        if offset + len > self.size {
            // A disk does not grow.
            reply.error(libc::ENOSPC);
            return;
        }
        {
            let mut st = lock(&self.shared);
            st.stats.writes += 1;
            st.stats.largest_write = st.stats.largest_write.max(len);
            if overlaps(&st.faults.write, offset, len) {
                st.stats.write_errors += 1;
                drop(st);
                reply.error(libc::EIO);
                return;
            }
        }
        match self.store.write_all_at(data, offset) {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(e.raw_os_error().unwrap_or(libc::EIO)),
        }
    }

    fn flush(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _owner: u64, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fsync(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _data: bool, reply: ReplyEmpty) {
        let mut st = lock(&self.shared);
        st.stats.syncs += 1;
        if st.faults.sync {
            st.stats.sync_errors += 1;
            drop(st);
            reply.error(libc::EIO);
        } else {
            drop(st);
            reply.ok();
        }
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        if ino != ROOT_INO {
            reply.error(libc::ENOTDIR);
            return;
        }
        let entries = [
            (ROOT_INO, FileType::Directory, "."),
            (ROOT_INO, FileType::Directory, ".."),
            (DISK_INO, FileType::RegularFile, DISK_NAME),
        ];
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset.max(0) as usize) {
            // The offset handed back is that of the *next* entry.
            if reply.add(*ino, i as i64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

const PAGE: u64 = 4096;

/// The largest request the kernel sends the server in one piece: our `max_write`, capped by
/// `fs.fuse.max_pages_limit` pages (256 by default, i.e. 1 MiB).
fn fuse_request_limit() -> u64 {
    let pages: u64 = std::fs::read_to_string("/proc/sys/fs/fuse/max_pages_limit")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32); // kernels before 6.12: FUSE_MAX_MAX_PAGES is 256, the default 32
    u64::from(MAX_WRITE).min(pages * PAGE)
}

/// Cap the loop device's requests at `bytes` so each reaches the server as ONE FUSE request.
///
/// Why it matters: when the kernel splits a direct write into several FUSE requests and a later
/// piece fails, FUSE returns a short count, and the loop driver completes a short *write* as a
/// success (checked on 6.18). The device would then silently drop sectors instead of failing
/// like a disk. One page is left as slack for a buffer that does not start on a page boundary.
/// Returns the previous setting, which outlives the attachment and so is put back on drop.
fn limit_requests(dev: &LoopDevice, bytes: u64) -> String {
    let knob = max_sectors_knob(dev);
    let before = std::fs::read_to_string(&knob).unwrap_or_else(|e| panic!("read {knob}: {e}"));
    let kib = (bytes / 1024).max(4);
    std::fs::write(&knob, kib.to_string()).unwrap_or_else(|e| panic!("write {kib} to {knob}: {e}"));
    let now: u64 = std::fs::read_to_string(&knob)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX);
    assert!(now <= kib, "{knob} is {now} KiB after writing {kib}");
    before.trim().to_owned()
}

fn max_sectors_knob(dev: &LoopDevice) -> String {
    let name = dev
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("loop device name");
    format!("/sys/block/{name}/queue/max_sectors_kb")
}

/// A loop device whose medium has bad sectors. Dropping it detaches the loop device, unmounts the
/// FUSE filesystem and deletes the store, in that order.
pub struct FaultyDisk {
    // Drop order is spelled out in `Drop`; fields are declared in the same order.
    loopdev: Option<LoopDevice>,
    mountpoint: PathBuf,
    session: Option<fuser::BackgroundSession>,
    shared: Shared,
    store_path: PathBuf,
    size: u64,
    max_sectors_kb_before: Option<String>,
    _dir: tempfile::TempDir,
}

impl FaultyDisk {
    /// A `size`-byte device with `sector_size`-byte logical sectors on which reads and writes
    /// touching the byte range `bad` fail with EIO.
    pub fn new(size: u64, bad: Range<u64>, sector_size: u32) -> FaultyDisk {
        Self::with_faults(size, Faults::bad_range(bad), sector_size)
    }

    /// A `size`-byte device with the given faults (change them later with [`Self::set_faults`]).
    pub fn with_faults(size: u64, faults: Faults, sector_size: u32) -> FaultyDisk {
        super::require_root();
        assert!(
            Path::new("/dev/fuse").exists(),
            "/dev/fuse is missing: load the fuse module (modprobe fuse) and install fuse3"
        );
        let dir = tempfile::Builder::new()
            .prefix("massho-faulty-")
            .tempdir_in(std::env::temp_dir())
            .expect("create temp dir");
        let store_path = dir.path().join("medium.img");
        let store = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&store_path)
            .expect("create store file");
        store.set_len(size).expect("size store file");
        let mountpoint = dir.path().join("mnt");
        std::fs::create_dir(&mountpoint).expect("create mountpoint");

        let shared: Shared = Arc::new(Mutex::new(State {
            faults,
            stats: Stats::default(),
        }));
        let fs = FaultyFs {
            store,
            size,
            shared: Arc::clone(&shared),
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        };
        let options = [
            MountOption::FSName("massho-faulty".into()),
            MountOption::Subtype("massho-faulty".into()),
            // If the test process dies, fusermount3 still unmounts.
            MountOption::AutoUnmount,
            MountOption::RW,
        ];
        let session = fuser::spawn_mount2(fs, &mountpoint, &options)
            .unwrap_or_else(|e| panic!("cannot mount FUSE at {}: {e}", mountpoint.display()));

        let mut disk = FaultyDisk {
            loopdev: None,
            mountpoint,
            session: Some(session),
            shared,
            store_path,
            size,
            max_sectors_kb_before: None,
            _dir: dir,
        };
        let file = disk.mountpoint.join(DISK_NAME);
        let loopdev = LoopDevice::over(&file, sector_size);
        disk.max_sectors_kb_before = Some(limit_requests(&loopdev, fuse_request_limit() - PAGE));
        disk.loopdev = Some(loopdev);
        disk
    }

    pub fn loopdev(&self) -> &LoopDevice {
        self.loopdev.as_ref().expect("loop device attached")
    }

    /// Replace the faults; takes effect for the next request the server answers.
    pub fn set_faults(&self, faults: Faults) {
        lock(&self.shared).faults = faults;
    }

    pub fn stats(&self) -> Stats {
        lock(&self.shared).stats.clone()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The whole medium, read from the store behind the server, not through the device.
    pub fn stored_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.store_path).expect("read store file")
    }

    /// Write `data` at `offset` straight into the medium (e.g. old content that a wipe must
    /// replace), bypassing the device and the faults.
    pub fn fill_store(&self, offset: u64, data: &[u8]) {
        let f = OpenOptions::new()
            .write(true)
            .open(&self.store_path)
            .expect("open store file");
        f.write_all_at(data, offset).expect("write store file");
    }
}

impl Drop for FaultyDisk {
    fn drop(&mut self) {
        // 1. The loop device holds the FUSE file; detaching it sends the last release while the
        //    server still answers.
        if let (Some(dev), Some(before)) = (&self.loopdev, &self.max_sectors_kb_before) {
            let _ = std::fs::write(max_sectors_knob(dev), before);
        }
        let backing_sysfs = self.loopdev.as_ref().and_then(|d| {
            let name = d.path().file_name()?.to_str()?.to_owned();
            Some(PathBuf::from(format!(
                "/sys/block/{name}/loop/backing_file"
            )))
        });
        drop(self.loopdev.take());
        // `losetup -d` on a device someone still has open only marks it for autoclear; wait for
        // the kernel to let go of the file so the unmount below is clean.
        if let Some(p) = backing_sysfs {
            for _ in 0..50 {
                if !p.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        // 2. Unmount; lazily if something still holds the file (the server thread keeps serving
        //    until the kernel drops the connection, so a late release cannot deadlock).
        let ok = Command::new("umount")
            .arg(&self.mountpoint)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.mountpoint)
                .status();
        }
        // 3. Closing the session lets fusermount3 exit; its thread ends when the kernel says
        //    ENODEV. Not joined: a lazy unmount could keep it alive for a while.
        drop(self.session.take());
    }
}
