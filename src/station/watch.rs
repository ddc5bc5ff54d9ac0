//! Which whole disks are attached, and which appeared or went away since the last look.
//!
//! A look is a sysfs scan (`/sys/block`: name, `dev`, `diskseq`, size, a loop device's backing
//! file) — cheap, no device opened, nothing asked of a drive that may be busy being wiped. The
//! kernel's uevents (a `NETLINK_KOBJECT_UEVENT` socket) only wake the watcher early; when the
//! socket cannot be opened the watcher still notices every change at the next interval.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What makes a disk this disk: its device number and the kernel's disk sequence number
/// (a new medium in the same bay, or a loop device re-attached, gets a new one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DiskKey {
    pub dev: String,
    pub diskseq: Option<u64>,
}

/// A disk seen in a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub name: String,
    pub path: PathBuf,
    pub key: DiskKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(Seen),
    Removed(Seen),
}

/// Whole disks (and attached loop devices) under a `/sys/block`-shaped directory.
pub fn scan(sys_block: &Path) -> Vec<Seen> {
    let Ok(entries) = std::fs::read_dir(sys_block) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // Optical, floppy and network block devices are not bay disks either.
        if crate::device::discover::is_skipped_name(&name)
            || ["sr", "fd", "nbd"].iter().any(|p| name.starts_with(p))
        {
            continue;
        }
        let dir = e.path();
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .ok()
                .map(|s| s.trim().to_owned())
        };
        let size: u64 = read("size").and_then(|s| s.parse().ok()).unwrap_or(0);
        let Some(dev) = read("dev") else { continue };
        if size == 0 {
            continue;
        }
        if name.starts_with("loop") && !dir.join("loop/backing_file").exists() {
            continue;
        }
        out.push(Seen {
            path: PathBuf::from("/dev").join(&name),
            key: DiskKey {
                dev,
                diskseq: read("diskseq").and_then(|s| s.parse().ok()),
            },
            name,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// What changed from `before` to `now`, by name and key: a name whose key changed is a
/// removal and an addition.
pub fn diff(before: &[Seen], now: &[Seen]) -> Vec<Change> {
    let old: BTreeMap<&DiskKey, &Seen> = before.iter().map(|s| (&s.key, s)).collect();
    let new: BTreeMap<&DiskKey, &Seen> = now.iter().map(|s| (&s.key, s)).collect();
    let mut out: Vec<Change> = before
        .iter()
        .filter(|s| !new.contains_key(&s.key))
        .map(|s| Change::Removed(s.clone()))
        .collect();
    out.extend(
        now.iter()
            .filter(|s| !old.contains_key(&s.key))
            .map(|s| Change::Added(s.clone())),
    );
    out
}

/// Watches `/sys/block` for disks that come and go.
pub struct Watcher {
    sys_block: PathBuf,
    current: Vec<Seen>,
    uevents: Option<OwnedFd>,
}

fn uevent_socket() -> Option<OwnedFd> {
    use nix::sys::socket::{
        bind, socket, AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType,
    };
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        SockProtocol::NetlinkKObjectUEvent,
    )
    .ok()?;
    // Group 1: the kernel's own uevents (udev's rebroadcasts are group 2).
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &NetlinkAddr::new(0, 1),
    )
    .ok()?;
    Some(fd)
}

impl Watcher {
    /// Start watching; what is attached now is [`Watcher::present`].
    pub fn new(sys_block: &Path) -> Watcher {
        Watcher {
            sys_block: sys_block.to_owned(),
            current: scan(sys_block),
            uevents: uevent_socket(),
        }
    }

    /// Disks attached when the watcher started (or at the last look).
    pub fn present(&self) -> &[Seen] {
        &self.current
    }

    /// Whether kernel uevents wake the watcher (else it relies on the interval alone).
    pub fn has_uevents(&self) -> bool {
        self.uevents.is_some()
    }

    /// Wait up to `interval` (less when a block uevent arrives), then look again.
    pub fn wait(&mut self, interval: Duration) -> Vec<Change> {
        if let Some(fd) = &self.uevents {
            use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
            let ms = u16::try_from(interval.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            if let Ok(n) = poll(&mut fds, PollTimeout::from(ms)) {
                if n > 0 {
                    // Drain what came; the scan below is what counts. A moment for the rest
                    // of a burst (a disk brings its partitions) to arrive.
                    let mut buf = [0u8; 8192];
                    std::thread::sleep(Duration::from_millis(150));
                    while nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(fd), &mut buf)
                        .is_ok_and(|n| n > 0)
                    {}
                }
            }
        } else {
            std::thread::sleep(interval);
        }
        let now = scan(&self.sys_block);
        let changes = diff(&self.current, &now);
        self.current = now;
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(root: &Path, name: &str, dev: &str, seq: u64, size: u64) {
        let d = root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("dev"), format!("{dev}\n")).unwrap();
        std::fs::write(d.join("diskseq"), format!("{seq}\n")).unwrap();
        std::fs::write(d.join("size"), format!("{size}\n")).unwrap();
    }

    #[test]
    fn a_new_medium_in_the_same_bay_is_a_new_disk() {
        let t = tempfile::tempdir().unwrap();
        disk(t.path(), "sda", "8:0", 1, 1000);
        disk(t.path(), "sdb", "8:16", 2, 1000);
        disk(t.path(), "ram0", "1:0", 3, 1000);
        disk(t.path(), "loop0", "7:0", 4, 0);
        let before = scan(t.path());
        assert_eq!(
            before.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["sda", "sdb"]
        );
        // sdb pulled, another drive pushed in: same name and number, new sequence number.
        disk(t.path(), "sdb", "8:16", 7, 2000);
        disk(t.path(), "sdc", "8:32", 8, 500);
        let now = scan(t.path());
        let changes = diff(&before, &now);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(
            matches!(&changes[0], Change::Removed(s) if s.name == "sdb" && s.key.diskseq == Some(2))
        );
        assert!(changes
            .iter()
            .any(|c| matches!(c, Change::Added(s) if s.name == "sdb" && s.key.diskseq == Some(7))));
        assert!(changes
            .iter()
            .any(|c| matches!(c, Change::Added(s) if s.name == "sdc")));
        // A loop device counts once it has a backing file.
        std::fs::create_dir_all(t.path().join("loop0/loop")).unwrap();
        std::fs::write(t.path().join("loop0/loop/backing_file"), "/tmp/x\n").unwrap();
        std::fs::write(t.path().join("loop0/size"), "8\n").unwrap();
        let later = scan(t.path());
        assert!(matches!(diff(&now, &later)[..], [Change::Added(ref s)] if s.name == "loop0"));
    }
}
