//! Test harness: loop devices and mounts that the tests create themselves, and always tear down.
//!
//! Every test that writes to a block device gets it from [`LoopDevice::new`]. The harness keeps a
//! registry of the devices it attached; [`LoopDevice::path`] is the only way to get a path, and
//! [`guard`] refuses any path that is not in the registry, so a typo can never point a test at
//! `/dev/vda` or `/dev/sd*`. Devices are detached and mounts unmounted in `Drop`, which also runs
//! when a test panics.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

pub mod faulty;
pub mod pipeline;
pub mod pki;
pub mod tmux;
pub mod tsa;

static ATTACHED: Mutex<Registry> = Mutex::new(Registry::new());

struct Registry(Option<HashSet<PathBuf>>);

impl Registry {
    const fn new() -> Self {
        Registry(None)
    }
    fn set(&mut self) -> &mut HashSet<PathBuf> {
        self.0.get_or_insert_with(HashSet::new)
    }
}

/// Panics unless `path` is a loop device this harness attached and has not yet detached.
pub fn guard(path: &Path) {
    let reg = ATTACHED.lock().unwrap_or_else(|e| e.into_inner());
    let ok = reg.0.as_ref().is_some_and(|s| s.contains(path));
    assert!(
        ok,
        "test harness refuses {}: not a loop device this test created",
        path.display()
    );
}

/// Tests that attach loop devices, mount filesystems or open block devices need root. CI runs as
/// root; anywhere else they fail loudly rather than pass without testing anything.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (loop devices, mounts); run the suite as root: packaging/test.sh"
    );
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A loop device over a sparse file in a private temporary directory.
pub struct LoopDevice {
    path: PathBuf,
    backing: PathBuf,
    pub size: u64,
    pub sector_size: u32,
    _dir: Option<tempfile::TempDir>,
}

/// A sparse file of `size` bytes in a new private temporary directory.
fn sparse_backing_file(size: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("massho-test-")
        .tempdir_in(std::env::temp_dir())
        .expect("create temp dir");
    let backing = dir.path().join("disk.img");
    let f = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&backing)
        .expect("create backing file");
    f.set_len(size).expect("size backing file");
    (dir, backing)
}

impl LoopDevice {
    /// A new loop device of `size` bytes with `sector_size`-byte logical sectors (512 or 4096),
    /// over a sparse file in the temporary directory ($TMPDIR, else /tmp; a disk filesystem on
    /// the CI machine, so the loop device really goes through a filesystem's page cache).
    pub fn new(size: u64, sector_size: u32) -> LoopDevice {
        let (dir, backing) = sparse_backing_file(size);
        let mut dev = Self::attach(&backing, sector_size);
        dev.size = size;
        dev._dir = Some(dir);
        dev
    }

    /// A loop device over `file`, which the calling test created (e.g. on its FUSE mount).
    pub fn over(file: &Path, sector_size: u32) -> LoopDevice {
        let size = std::fs::metadata(file).expect("stat backing file").len();
        let mut dev = Self::attach(file, sector_size);
        dev.size = size;
        dev
    }

    fn attach(file: &Path, sector_size: u32) -> LoopDevice {
        require_root();
        let out = run_ok(
            Command::new("losetup")
                .arg("--find")
                .arg("--show")
                .arg("--sector-size")
                .arg(sector_size.to_string())
                .arg(file),
        );
        let path = PathBuf::from(out.trim());
        assert!(
            path.to_string_lossy().starts_with("/dev/loop"),
            "losetup returned {path:?}"
        );
        ATTACHED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set()
            .insert(path.clone());
        LoopDevice {
            path,
            backing: file.to_owned(),
            size: 0,
            sector_size,
            _dir: None,
        }
    }

    /// The device node, after checking it is ours.
    pub fn path(&self) -> &Path {
        guard(&self.path);
        &self.path
    }

    pub fn backing(&self) -> &Path {
        &self.backing
    }

    /// Read the whole backing file (what is really on the "medium").
    pub fn backing_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.backing).expect("read backing file")
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        ATTACHED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set()
            .remove(&self.path);
        // Already gone (a test detached it, or the kernel did when its last user closed it),
        // and perhaps reused by another test for another file: leave it alone then.
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let backing_now = name.and_then(|n| {
            std::fs::read_to_string(
                std::path::Path::new("/sys/block")
                    .join(n)
                    .join("loop/backing_file"),
            )
            .ok()
        });
        let ours = std::fs::canonicalize(&self.backing).unwrap_or_else(|_| self.backing.clone());
        let is_ours = |b: &str| {
            let b = b.trim_end();
            let b = b.strip_suffix(" (deleted)").unwrap_or(b);
            std::path::Path::new(b) == ours
        };
        if backing_now.is_none_or(|b| !is_ours(&b)) {
            return;
        }
        // udev or a just-finished process can hold it for a moment.
        for _ in 0..50 {
            let ok = Command::new("losetup")
                .arg("-d")
                .arg(&self.path)
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        eprintln!("warning: could not detach {}", self.path.display());
    }
}

/// A filesystem mounted by the test; unmounted (lazily if need be) on drop.
pub struct Mount {
    pub dir: tempfile::TempDir,
}

impl Mount {
    /// `mkfs.ext4` the loop device, mount it, and write a file on it.
    pub fn ext4(dev: &LoopDevice) -> Mount {
        run_ok(
            Command::new("mkfs.ext4")
                .arg("-q")
                .arg("-F")
                .arg(dev.path()),
        );
        let dir = tempfile::tempdir().expect("mount dir");
        run_ok(Command::new("mount").arg(dev.path()).arg(dir.path()));
        std::fs::write(dir.path().join("payroll.csv"), b"name,salary\nyamada,1\n")
            .expect("write file on mounted fs");
        Mount { dir }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Panics, showing the output, unless the process exited with `code`.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", describe_output(out));
}

/// A key pair made by `massho key generate --no-passphrase` in `dir`: (secret, public).
pub fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let out = run(massho()
        .args([
            "key",
            "generate",
            "--no-passphrase",
            "--name",
            name,
            "--out",
        ])
        .arg(dir));
    assert_exit(&out, 0);
    (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    )
}

/// The massho binary under test, hermetic: none of the developer's `MASSHO_*` or `XDG_*`
/// settings reach it, and its journal of running wipes lives in this test process's own
/// directory (never /var/lib/massho).
pub fn massho() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_massho"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("MASSHO_") || k.starts_with("XDG_") {
            cmd.env_remove(&*k);
        }
    }
    cmd.env("MASSHO_JOURNAL_DIR", journal_dir());
    cmd
}

/// The journal directory every `massho` of this test process uses.
pub fn journal_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory for the journal"))
        .path()
        .to_owned()
}

/// `massho wipe --yes ARGS... DEVICES...` on devices this harness created.
pub fn wipe(devices: &[&LoopDevice], args: &[&str]) -> Output {
    let mut cmd = massho();
    cmd.arg("wipe").arg("--yes").args(args);
    for d in devices {
        cmd.arg(d.path());
    }
    run(&mut cmd)
}

/// Parse NDJSON output into values.
pub fn ndjson(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad NDJSON line {l:?}: {e}")))
        .collect()
}

/// The `result` objects among NDJSON events.
pub fn results(out: &[u8]) -> Vec<serde_json::Value> {
    ndjson(out)
        .into_iter()
        .filter(|v| v["event"] == "result")
        .collect()
}

impl LoopDevice {
    /// A new loop device attached with `losetup --partscan` and then partitioned by `sfdisk`
    /// with `script` (e.g. `"label: gpt\n,,L\n"`), so the kernel has the partition devices
    /// (`/dev/loopNp1`, ...). sfdisk runs on the loop device, so it uses its sector size.
    pub fn new_partitioned(size: u64, sector_size: u32, script: &str) -> LoopDevice {
        use std::io::Write;
        require_root();
        let (dir, backing) = sparse_backing_file(size);
        let out = run_ok(
            Command::new("losetup")
                .arg("--find")
                .arg("--show")
                .arg("--partscan")
                .arg("--sector-size")
                .arg(sector_size.to_string())
                .arg(&backing),
        );
        let path = PathBuf::from(out.trim());
        assert!(
            path.to_string_lossy().starts_with("/dev/loop"),
            "losetup returned {path:?}"
        );
        ATTACHED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set()
            .insert(path.clone());
        let dev = LoopDevice {
            path,
            backing,
            size,
            sector_size,
            _dir: Some(dir),
        };
        let mut child = Command::new("sfdisk")
            .arg("--quiet")
            .arg(dev.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run sfdisk (Debian package fdisk): {e}"));
        child
            .stdin
            .take()
            .expect("sfdisk stdin")
            .write_all(script.as_bytes())
            .expect("write sfdisk script");
        assert!(
            child.wait().expect("wait for sfdisk").success(),
            "sfdisk failed"
        );
        // Kernels built without partition-table parsers ignore sfdisk's re-read; partx
        // parses the table in user space and adds the partitions through BLKPG.
        run_ok(Command::new("partx").arg("--update").arg(dev.path()));
        dev
    }

    /// The node of partition `n` of this (partitioned) loop device, once the kernel has made it.
    pub fn partition_path(&self, n: u32) -> PathBuf {
        let part = PathBuf::from(format!("{}p{n}", self.path().display()));
        for _ in 0..50 {
            if part.exists() {
                return part;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{} did not appear", part.display());
    }
}

impl Mount {
    /// `mkfs.ext4` partition `n` of the loop device and mount it.
    pub fn ext4_partition(dev: &LoopDevice, n: u32) -> Mount {
        let part = dev.partition_path(n);
        run_ok(Command::new("mkfs.ext4").arg("-q").arg("-F").arg(&part));
        let dir = tempfile::tempdir().expect("mount dir");
        run_ok(Command::new("mount").arg(&part).arg(dir.path()));
        Mount { dir }
    }
}

/// Exit code, stdout and stderr of a finished command, for assertion messages.
pub fn describe_output(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl LoopDevice {
    /// Write `bytes` into the backing file at `offset` with ordinary buffered I/O and fsync: what
    /// the medium holds from now on, changed behind the block device's own page cache. The file
    /// is neither truncated nor extended.
    pub fn write_backing_at(&self, offset: u64, bytes: &[u8]) {
        use std::os::unix::fs::FileExt;
        assert!(
            offset + bytes.len() as u64 <= self.size,
            "write of {} bytes at {offset} runs past the end of the {}-byte medium",
            bytes.len(),
            self.size
        );
        let f = OpenOptions::new()
            .write(true)
            .open(&self.backing)
            .expect("open backing file");
        f.write_all_at(bytes, offset)
            .and_then(|_| f.sync_all())
            .expect("write backing file");
    }

    /// Fill the whole medium with `byte` (old content that a wipe must overwrite).
    pub fn fill_backing(&self, byte: u8) {
        self.write_backing_at(0, &vec![byte; self.size as usize]);
    }
}
