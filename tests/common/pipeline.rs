//! Helpers for tests of a running wipe: a blkio cgroup that throttles one of our loop devices,
//! a massho child whose output is collected while it runs, and swapping a loop device's backing
//! file the way a re-plugged drive swaps a medium.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::LoopDevice;

const BLKIO: &str = "/sys/fs/cgroup/blkio";

/// A blkio (cgroup v1) group whose members' I/O to one loop device is throttled; removed on
/// drop (after its processes have ended).
pub struct Throttle {
    dir: PathBuf,
}

impl Throttle {
    /// Limit writes and reads to `dev` to `bytes_per_second` for processes started through
    /// [`Throttle::command`].
    pub fn new(dev: &LoopDevice, bytes_per_second: u64) -> Throttle {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = Path::new(BLKIO).join(format!("massho-test-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "cannot create blkio cgroup {}: {e} (needs cgroup v1 blkio, as root)",
                dir.display()
            )
        });
        let devnum = devnum(dev.path());
        for file in [
            "blkio.throttle.write_bps_device",
            "blkio.throttle.read_bps_device",
        ] {
            std::fs::write(dir.join(file), format!("{devnum} {bytes_per_second}"))
                .unwrap_or_else(|e| panic!("cannot write {file}: {e}"));
        }
        Throttle { dir }
    }

    /// Throttle `dev` too, for the same processes.
    pub fn also(&self, dev: &LoopDevice, bytes_per_second: u64) {
        let devnum = devnum(dev.path());
        for file in [
            "blkio.throttle.write_bps_device",
            "blkio.throttle.read_bps_device",
        ] {
            std::fs::write(self.dir.join(file), format!("{devnum} {bytes_per_second}"))
                .unwrap_or_else(|e| panic!("cannot write {file}: {e}"));
        }
    }

    /// The file a process writes its pid into to join the group (a shell: `echo $$ > FILE`).
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// `cmd`, made to join this group before it runs.
    pub fn command(&self, mut cmd: Command) -> Command {
        let procs = self.dir.join("cgroup.procs");
        // SAFETY: the closure runs in the child between fork and exec; it only writes the
        // string "0" (the calling process) to a file, which is async-signal-safe enough for a
        // test and touches no lock of the parent.
        unsafe {
            cmd.pre_exec(move || std::fs::write(&procs, b"0"));
        }
        cmd
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("warning: could not remove cgroup {}", self.dir.display());
    }
}

/// `MAJ:MIN` of a block device node.
pub fn devnum(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let rdev = std::fs::metadata(path).expect("stat device").rdev();
    format!("{}:{}", libc::major(rdev), libc::minor(rdev))
}

/// A running massho whose stdout and stderr are collected as they come.
pub struct Running {
    pub child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Spawn `cmd` with piped stdin, stdout and stderr.
    pub fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn massho");
        let stdout = collect(child.stdout.take().expect("stdout"));
        let stderr = collect(child.stderr.take().expect("stderr"));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    pub fn stdout(&self) -> String {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Wait until stdout or stderr contains `text`; panics after `timeout` (the child is
    /// killed so that the test's devices can be cleaned up).
    pub fn wait_for(&mut self, text: &str, timeout: Duration) {
        let start = Instant::now();
        while !self.stdout().contains(text) && !self.stderr().contains(text) {
            if start.elapsed() > timeout || self.child.try_wait().ok().flatten().is_some() {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "massho did not print {text:?} within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send `signal` (e.g. `libc::SIGINT`).
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid, which has not been waited for yet.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill({}, {signal})", self.child.id());
    }

    pub fn write_stdin(&mut self, text: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Wait for the exit code, killing the child after `timeout`; returns the code and how long
    /// the wait took.
    pub fn finish(&mut self, timeout: Duration) -> (i32, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(100));
                return (status.code().unwrap_or(-1), start.elapsed());
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "massho did not exit within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut pipe = pipe;
        let mut buf = [0u8; 8192];
        let mut pending = Vec::new();
        // Whatever is there, as soon as it is there (a prompt has no newline).
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    // Keep an incomplete UTF-8 sequence for the next read.
                    let valid = match std::str::from_utf8(&pending) {
                        Ok(s) => s.len(),
                        Err(e) => e.valid_up_to(),
                    };
                    let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
                    pending.drain(..valid);
                    sink.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push_str(&text);
                }
            }
        }
    });
    text
}

impl LoopDevice {
    /// Detach this loop device and attach `file` under the same name, as a re-plugged drive
    /// comes back under its old name. Either step may fail when someone holds the device open
    /// (the kernel then detaches it when the last user closes it); both outcomes are returned.
    pub fn swap_backing(&self, file: &Path) -> (bool, bool) {
        let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
        let detached = ok(Command::new("losetup").arg("-d").arg(self.path()));
        let attached = ok(Command::new("losetup")
            .arg("--sector-size")
            .arg(self.sector_size.to_string())
            .arg(self.path())
            .arg(file));
        (detached, attached)
    }
}

impl LoopDevice {
    /// Re-point this loop device at another part of its backing file (`LOOP_SET_STATUS64` with
    /// a new `lo_offset`), as a hostile insider can while massho holds it open: the name,
    /// device number, disk sequence number and backing file stay the same.
    pub fn set_offset(&self, offset: u64) {
        use std::os::unix::io::AsRawFd;
        const LOOP_SET_STATUS64: libc::c_ulong = 0x4C04;
        const LOOP_GET_STATUS64: libc::c_ulong = 0x4C05;
        // struct loop_info64: lo_offset is the fourth u64.
        let mut info = [0u8; 232];
        let f = std::fs::File::open(self.path()).expect("open loop device");
        // SAFETY: the kernel reads or writes exactly sizeof(struct loop_info64) = 232 bytes of
        // `info`, which lives for both calls.
        unsafe {
            assert_eq!(
                libc::ioctl(f.as_raw_fd(), LOOP_GET_STATUS64, info.as_mut_ptr()),
                0,
                "LOOP_GET_STATUS64: {}",
                std::io::Error::last_os_error()
            );
            info[24..32].copy_from_slice(&offset.to_ne_bytes());
            assert_eq!(
                libc::ioctl(f.as_raw_fd(), LOOP_SET_STATUS64, info.as_ptr()),
                0,
                "LOOP_SET_STATUS64: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Runs `massho wipe -m METHOD` on `dev` (throttled) until `ready` holds for its journal entry,
/// then kills it with SIGKILL.
pub fn kill_when(
    dev: &LoopDevice,
    journal: &Path,
    method: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) {
    let throttle = Throttle::new(dev, 2 << 20);
    let mut cmd = super::massho();
    cmd.env("MASSHO_JOURNAL_DIR", journal)
        .env("MASSHO_CHECKPOINT_MS", "200")
        .env("MASSHO_CHUNK_KIB", "256")
        .args(["wipe", "--yes", "-m", method])
        .arg(dev.path());
    let mut run = Running::spawn(throttle.command(cmd));
    let until = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        assert!(
            std::time::Instant::now() < until,
            "the journal never got there: {}",
            run.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
        // Only entries: a `.massho-tmp-*` file seen before its rename may be killed with it,
        // leaving the entry at its previous checkpoint.
        let hit = std::fs::read_dir(journal).unwrap().flatten().any(|f| {
            f.path().extension().is_some_and(|e| e == "json")
                && serde_json::from_slice::<serde_json::Value>(
                    &std::fs::read(f.path()).unwrap_or_default(),
                )
                .is_ok_and(|e| ready(&e))
        });
        if hit {
            break;
        }
    }
    run.signal(libc::SIGKILL);
    let _ = run.finish(Duration::from_secs(10));
}
