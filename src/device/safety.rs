//! Whether a device may be wiped: every reason it must not be, as [`Refusal`]s.
//!
//! A wipe of the wrong disk cannot be undone, so this module looks for use the way the kernel
//! sees it rather than trusting names: mounts and swap are matched by device number, stacked
//! devices by sysfs `holders/`, and the root and boot filesystems are followed down through
//! device-mapper, md and loop devices to the disks under them. A whole disk is refused when any
//! of its partitions is in use. The system-wide facts are read once into a [`SystemState`] and
//! then checked against each device; the file parsers are pure so they can be tested on samples.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::live_medium;
use super::sysfs::{self, BlockNode, DevNum};
use super::{DeviceError, Refusal};

const MOUNTINFO: &str = "/proc/self/mountinfo";
const SWAPS: &str = "/proc/swaps";

/// Mount points that mean "the system booted from here" (boot partitions and the media live
/// systems run from; `/run/massho/medium` is the massho live stick's MASSHO partition).
const BOOT_MOUNTPOINTS: [&str; 9] = [
    "/boot",
    "/boot/efi",
    "/efi",
    "/run/live/medium",
    "/lib/live/mount/medium",
    "/run/initramfs/live",
    "/run/archiso/bootmnt",
    "/cdrom",
    "/run/massho/medium",
];

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Field 3: the device of the mounted filesystem; anonymous (0:N) for btrfs, tmpfs, ...
    pub dev: DevNum,
    pub mountpoint: PathBuf,
    pub fstype: String,
    /// What was mounted, as given to mount(8): `/dev/sda1`, `tmpfs`, `server:/export`.
    pub source: String,
}

/// Parse mountinfo (proc(5)): `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE
/// SOURCE SUPEROPTIONS`. Malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (head, tail) = line.split_once(" - ")?;
            let head: Vec<&str> = head.split(' ').collect();
            let mut tail = tail.split(' ');
            let fstype = tail.next()?;
            let source = tail.next()?;
            Some(MountEntry {
                dev: DevNum::parse(head.get(2)?)?,
                mountpoint: PathBuf::from(std::ffi::OsStr::from_bytes(&unescape_octal(
                    head.get(4)?,
                ))),
                fstype: String::from_utf8_lossy(&unescape_octal(fstype)).into_owned(),
                source: String::from_utf8_lossy(&unescape_octal(source)).into_owned(),
            })
        })
        .collect()
}

/// Parse `/proc/swaps`: the first column of every line after the header.
pub fn parse_swaps(text: &str) -> Vec<PathBuf> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(|f| {
            let raw = unescape_octal(f);
            // A swap file that was deleted while active is listed with this suffix.
            let raw = raw.strip_suffix(b" (deleted)").unwrap_or(&raw).to_vec();
            PathBuf::from(std::ffi::OsStr::from_bytes(&raw))
        })
        .collect()
}

/// Undo the kernel's escaping of space, tab, newline and backslash as `\ooo` in paths.
pub fn unescape_octal(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let digits = &b[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// A mounted filesystem with the block device under it, when it has one.
#[derive(Debug, Clone)]
struct Mounted {
    entry: MountEntry,
    /// The block device behind the mount: field 3, or the source node for filesystems that
    /// report an anonymous device (btrfs).
    block: Option<DevNum>,
}

/// An active swap area.
#[derive(Debug, Clone)]
struct SwapArea {
    /// For swap partitions and devices.
    block: Option<DevNum>,
    /// For swap files: (st_dev, st_ino).
    file: Option<(u64, u64)>,
}

/// An attached loop device and where its backing file lives.
#[derive(Debug, Clone)]
struct LoopBacking {
    node: PathBuf,
    dev: DevNum,
    /// (st_dev, st_ino) of the backing file, when it can be stat'ed.
    file: Option<(u64, u64)>,
    /// Every block device the backing file's filesystem is stored on.
    lower: HashSet<DevNum>,
}

/// The system-wide facts every device is checked against, read once.
#[derive(Debug, Clone)]
pub struct SystemState {
    mounts: Vec<Mounted>,
    swaps: Vec<SwapArea>,
    loops: Vec<LoopBacking>,
    /// Every block device the running root filesystem is stored on.
    root: HashSet<DevNum>,
    /// Block devices under the boot mounts, with "mounted at /boot".
    boot: Vec<(DevNum, String)>,
}

impl SystemState {
    /// Read mounts, swaps and loop devices. Failing to read the mount table is an error: without
    /// it nothing can be declared safe to wipe.
    pub fn load() -> Result<SystemState, DeviceError> {
        let mountinfo = fs::read(MOUNTINFO).map_err(|source| DeviceError::Read {
            path: MOUNTINFO.into(),
            source,
        })?;
        let swaps = match fs::read(SWAPS) {
            Ok(t) => t,
            // Kernels built without swap have no /proc/swaps: nothing can be swap.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(DeviceError::Read {
                    path: SWAPS.into(),
                    source,
                })
            }
        };
        let mounts: Vec<Mounted> = parse_mountinfo(&String::from_utf8_lossy(&mountinfo))
            .into_iter()
            .map(|entry| Mounted {
                block: mount_block_device(&entry),
                entry,
            })
            .collect();
        let swaps = parse_swaps(&String::from_utf8_lossy(&swaps))
            .into_iter()
            .map(|path| {
                let meta = fs::metadata(&path).ok();
                SwapArea {
                    block: meta
                        .as_ref()
                        .filter(|m| m.file_type().is_block_device())
                        .map(|m| DevNum::from_dev_t(m.rdev())),
                    file: meta
                        .as_ref()
                        .filter(|m| m.is_file())
                        .map(|m| (m.dev(), m.ino())),
                }
            })
            .collect();
        let mut state = SystemState {
            mounts,
            swaps,
            loops: Vec::new(),
            root: HashSet::new(),
            boot: Vec::new(),
        };
        state.loops = attached_loops()
            .into_iter()
            .map(|(node, backing)| {
                let meta = fs::metadata(&backing).ok();
                let lower = meta
                    .as_ref()
                    .and_then(|m| state.fs_block_device(m.dev()))
                    .map(|d| state.lower_devices(d))
                    .unwrap_or_default();
                LoopBacking {
                    dev: node.dev,
                    node: node.node,
                    file: meta.map(|m| (m.dev(), m.ino())),
                    lower,
                }
            })
            .collect();
        // The last mount at a path is the one in effect.
        if let Some(root) = state
            .mounts
            .iter()
            .rev()
            .find(|m| m.entry.mountpoint == Path::new("/"))
            .and_then(|m| m.block)
        {
            state.root = state.lower_devices(root);
        }
        for m in state.mounts.iter().rev() {
            let at_boot_path = BOOT_MOUNTPOINTS
                .iter()
                .any(|p| m.entry.mountpoint == Path::new(p));
            if let (true, Some(block)) = (at_boot_path, m.block) {
                let detail = format!("mounted at {}", m.entry.mountpoint.display());
                for d in state.lower_devices(block) {
                    state.boot.push((d, detail.clone()));
                }
            }
        }
        // In the massho live system nothing under `/` (an initramfs) leads to the stick, and its
        // MASSHO partition may not be mounted: the boot loader names the stick's disk GUID.
        if let Some(guid) = live_medium::medium_guid_from_cmdline() {
            let detail = format!(
                "the massho live stick: GPT disk {guid}, named by {} on the kernel command line",
                live_medium::CMDLINE_MEDIUM
            );
            for disk in live_medium::disks_with_guid(&guid) {
                state.boot.push((disk.dev, detail.clone()));
            }
        }
        Ok(state)
    }

    /// The block device holding the filesystem with device number `st_dev` (from stat).
    fn fs_block_device(&self, st_dev: u64) -> Option<DevNum> {
        let dev = DevNum::from_dev_t(st_dev);
        if !dev.is_anonymous() {
            return Some(dev);
        }
        self.mounts
            .iter()
            .find(|m| m.entry.dev == dev)
            .and_then(|m| m.block)
    }

    /// `dev` and every block device below it: through `slaves/` (dm, md) and through loop
    /// devices to the device holding their backing file.
    fn lower_devices(&self, dev: DevNum) -> HashSet<DevNum> {
        let mut seen = HashSet::new();
        let mut todo = vec![dev];
        while let Some(d) = todo.pop() {
            if !seen.insert(d) {
                continue;
            }
            if let Some(node) = BlockNode::from_devnum(d) {
                todo.extend(node.slaves().iter().map(|s| s.dev));
                if let Some(lower) = node
                    .loop_backing_file()
                    .and_then(|f| fs::metadata(f).ok())
                    .and_then(|m| self.fs_block_device(m.dev()))
                {
                    todo.push(lower);
                }
            }
        }
        seen
    }

    /// Every reason the block device `target` (disk, partition or loop device) must not be
    /// wiped. A disk is checked together with all its partitions.
    pub fn block_refusals(&self, target: &BlockNode) -> Vec<Refusal> {
        let mut members = vec![target.clone()];
        members.extend(target.partitions());
        let mut out = Vec::new();
        for m in &members {
            for mount in &self.mounts {
                if mount.entry.dev == m.dev || mount.block == Some(m.dev) {
                    out.push(Refusal::Mounted {
                        device: m.node.clone(),
                        mountpoint: mount.entry.mountpoint.clone(),
                    });
                }
            }
            if self.swaps.iter().any(|s| s.block == Some(m.dev)) {
                out.push(Refusal::Swap {
                    device: m.node.clone(),
                });
            }
            for h in m.holders() {
                out.push(Refusal::Held {
                    device: m.node.clone(),
                    holder: describe_holder(&h),
                });
            }
        }
        for m in &members {
            if self.root.contains(&m.dev) {
                out.push(Refusal::RootFilesystem {
                    device: m.node.clone(),
                });
            }
            for (_, detail) in self.boot.iter().filter(|(d, _)| *d == m.dev) {
                out.push(Refusal::BootMedium {
                    device: m.node.clone(),
                    detail: detail.clone(),
                });
            }
            for l in self.loops.iter().filter(|l| l.dev != m.dev) {
                if l.lower.contains(&m.dev) {
                    out.push(Refusal::BacksLoop {
                        device: m.node.clone(),
                        loop_device: l.node.clone(),
                    });
                }
            }
        }
        if target.flag("ro") {
            out.push(Refusal::ReadOnly {
                device: target.node.clone(),
            });
        }
        dedup(out)
    }

    /// Every reason the regular file at `path` must not be wiped: it is an active swap file,
    /// the backing file of a loop device, or on a read-only filesystem.
    pub fn file_refusals(&self, path: &Path, meta: &fs::Metadata) -> Vec<Refusal> {
        let id = Some((meta.dev(), meta.ino()));
        let mut out = Vec::new();
        if self.swaps.iter().any(|s| s.file == id) {
            out.push(Refusal::Swap {
                device: path.to_owned(),
            });
        }
        for l in self.loops.iter().filter(|l| l.file == id) {
            out.push(Refusal::Held {
                device: path.to_owned(),
                holder: format!("loop device {}", l.node.display()),
            });
        }
        if file_on_read_only_fs(path) {
            out.push(Refusal::ReadOnly {
                device: path.to_owned(),
            });
        }
        out
    }
}

/// Whether the filesystem holding `path` is mounted read-only.
pub fn file_on_read_only_fs(path: &Path) -> bool {
    nix::sys::statvfs::statvfs(path)
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// The block device a mount stands on: its own device number when it is a real one, else the
/// device node named as its source (btrfs reports an anonymous device per subvolume).
fn mount_block_device(entry: &MountEntry) -> Option<DevNum> {
    if !entry.dev.is_anonymous() {
        return Some(entry.dev);
    }
    // Only device nodes: stat'ing other sources (network paths, FUSE names) could hang or
    // name something unrelated.
    if !entry.source.starts_with("/dev/") {
        return None;
    }
    sysfs::block_node_of_path(Path::new(&entry.source)).map(|n| n.dev)
}

/// Attached loop devices with their backing files.
fn attached_loops() -> Vec<(BlockNode, PathBuf)> {
    fs::read_dir(sysfs::SYS_BLOCK)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("loop"))
        .filter_map(|e| BlockNode::from_sys(&e.path()).ok())
        .filter_map(|n| {
            let backing = n.loop_backing_file()?;
            Some((n, backing))
        })
        .collect()
}

/// `dm-0 (vg-root)`, `md0 (raid1)`: the kernel name and what an operator knows it by.
fn describe_holder(h: &BlockNode) -> String {
    let alias = h.attr("dm/name").or_else(|| h.attr("md/level"));
    match alias {
        Some(a) => format!("{} ({a})", h.name),
        None => h.name.clone(),
    }
}

fn dedup(refusals: Vec<Refusal>) -> Vec<Refusal> {
    let mut out: Vec<Refusal> = Vec::with_capacity(refusals.len());
    for r in refusals {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
29 27 8:1 / /boot/efi rw,relatime shared:7 master:1 - vfat /dev/sda1 rw,fmask=0022
30 27 0:45 /@home /home rw,relatime shared:8 - btrfs /dev/mapper/vg-home rw,space_cache=v2
31 27 7:3 / /mnt/my\\040disk\\011x rw,relatime - ext4 /dev/loop3 rw
32 27 0:50 / /srv/back\\134slash rw - fuse.sshfs user@host:/data\\040dir rw
garbage line without separator
";

    #[test]
    fn mountinfo_fields_and_optional_fields() {
        let m = parse_mountinfo(MOUNTINFO_SAMPLE);
        assert_eq!(m.len(), 6);
        assert_eq!(
            m[1].dev,
            DevNum {
                major: 254,
                minor: 0
            }
        );
        assert_eq!(m[1].mountpoint, Path::new("/"));
        assert_eq!(m[1].source, "/dev/vda");
        assert_eq!(m[2].mountpoint, Path::new("/boot/efi"));
        assert_eq!(m[2].fstype, "vfat");
        assert_eq!(m[2].source, "/dev/sda1");
        assert!(m[3].dev.is_anonymous());
        assert_eq!(m[3].source, "/dev/mapper/vg-home");
    }

    #[test]
    fn mountinfo_unescapes_paths() {
        let m = parse_mountinfo(MOUNTINFO_SAMPLE);
        assert_eq!(m[4].mountpoint, Path::new("/mnt/my disk\tx"));
        assert_eq!(m[4].dev, DevNum { major: 7, minor: 3 });
        assert_eq!(m[5].mountpoint, Path::new("/srv/back\\slash"));
        assert_eq!(m[5].source, "user@host:/data dir");
    }

    #[test]
    fn unescape_leaves_other_backslashes() {
        assert_eq!(unescape_octal("a\\040b"), b"a b");
        assert_eq!(unescape_octal("a\\9b"), b"a\\9b");
        assert_eq!(unescape_octal("end\\04"), b"end\\04");
        assert_eq!(unescape_octal("\\"), b"\\");
        assert_eq!(unescape_octal("\\777"), b"\\777");
    }

    #[test]
    fn swaps_names() {
        let text = "\
Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority
/dev/dm-1                               partition\t8388604\t\t0\t\t-2
/swap\\040file                          file\t\t1048572\t\t0\t\t-3
/old.swap\\040(deleted)                 file\t\t1048572\t\t0\t\t-4
";
        assert_eq!(
            parse_swaps(text),
            vec![
                PathBuf::from("/dev/dm-1"),
                PathBuf::from("/swap file"),
                PathBuf::from("/old.swap")
            ]
        );
        assert!(parse_swaps("Filename\tType\tSize\tUsed\tPriority\n").is_empty());
    }

    #[test]
    fn system_state_loads_here() {
        let state = SystemState::load().unwrap();
        assert!(!state.mounts.is_empty());
    }
}
