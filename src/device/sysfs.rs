//! The kernel's view of block devices, read from `/sys`.
//!
//! sysfs is the one source that works without root and without udev (containers, rescue
//! systems), so identity and safety checks are built on it. This module only knows how to find a
//! block device's sysfs directory and read its attributes; what they mean is decided by
//! `identity` and `safety`.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::DeviceError;

/// Every whole-disk block device the kernel knows, one symlink each.
pub const SYS_BLOCK: &str = "/sys/block";
/// `MAJ:MIN` symlinks to every block device, disks and partitions alike.
const SYS_DEV_BLOCK: &str = "/sys/dev/block";

/// A device number, as `MAJ:MIN` in mountinfo and sysfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DevNum {
    pub major: u64,
    pub minor: u64,
}

impl DevNum {
    pub fn from_dev_t(dev: u64) -> DevNum {
        DevNum {
            major: nix::sys::stat::major(dev),
            minor: nix::sys::stat::minor(dev),
        }
    }

    /// Parse the `MAJ:MIN` text of sysfs `dev` files and mountinfo's third field.
    pub fn parse(s: &str) -> Option<DevNum> {
        let (major, minor) = s.trim().split_once(':')?;
        Some(DevNum {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }

    /// Anonymous devices (major 0) back tmpfs, proc, overlayfs and btrfs subvolumes: they
    /// name no block device.
    pub fn is_anonymous(self) -> bool {
        self.major == 0
    }
}

impl fmt::Display for DevNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// One block device (disk or partition) as sysfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockNode {
    /// Kernel name: `sda`, `sda1`, `nvme0n1p2`, `loop3`.
    pub name: String,
    /// The resolved sysfs directory, e.g. `/sys/devices/pci0000:00/.../block/sda`. Its path
    /// tells how the device is attached.
    pub sys: PathBuf,
    pub dev: DevNum,
    /// The device node, `/dev/` + udev's `DEVNAME`.
    pub node: PathBuf,
}

impl BlockNode {
    /// The block device with device number `dev`, if the kernel has one.
    pub fn from_devnum(dev: DevNum) -> Option<BlockNode> {
        let link = Path::new(SYS_DEV_BLOCK).join(dev.to_string());
        BlockNode::from_sys(&link).ok()
    }

    /// The block device whose sysfs directory (or a symlink to it) is `sys`.
    pub fn from_sys(sys: &Path) -> Result<BlockNode, DeviceError> {
        let sys = fs::canonicalize(sys).map_err(|source| DeviceError::Read {
            path: sys.to_owned(),
            source,
        })?;
        let name = sys
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dev_file = sys.join("dev");
        let dev_text = fs::read_to_string(&dev_file).map_err(|source| DeviceError::Read {
            path: dev_file.clone(),
            source,
        })?;
        let dev = DevNum::parse(&dev_text).ok_or_else(|| DeviceError::Parse {
            path: dev_file,
            content: dev_text.trim().to_owned(),
            what: "expected MAJ:MIN",
        })?;
        // DEVNAME differs from the kernel name for a few drivers (`cciss!c0d0` is
        // `/dev/cciss/c0d0`); the uevent file has the real one.
        let devname = fs::read_to_string(sys.join("uevent"))
            .ok()
            .and_then(|u| uevent_value(&u, "DEVNAME").map(str::to_owned))
            .unwrap_or_else(|| name.replace('!', "/"));
        Ok(BlockNode {
            node: Path::new("/dev").join(devname),
            name,
            sys,
            dev,
        })
    }

    pub fn is_partition(&self) -> bool {
        self.sys.join("partition").exists()
    }

    /// The whole disk a partition belongs to: its parent directory in sysfs.
    pub fn parent_disk(&self) -> Option<BlockNode> {
        if !self.is_partition() {
            return None;
        }
        BlockNode::from_sys(self.sys.parent()?).ok()
    }

    /// A disk's partitions, sorted by name. Empty for a partition.
    pub fn partitions(&self) -> Vec<BlockNode> {
        let mut parts: Vec<BlockNode> = subdirs(&self.sys)
            .filter(|d| d.join("partition").exists())
            .filter_map(|d| BlockNode::from_sys(&d).ok())
            .collect();
        parts.sort_by(|a, b| a.name.cmp(&b.name));
        parts
    }

    /// Devices stacked on this one (`holders/`): dm, md, bcache.
    pub fn holders(&self) -> Vec<BlockNode> {
        linked_nodes(&self.sys.join("holders"))
    }

    /// Devices this one is stacked on (`slaves/`).
    pub fn slaves(&self) -> Vec<BlockNode> {
        linked_nodes(&self.sys.join("slaves"))
    }

    /// An attribute below the sysfs directory, e.g. `queue/rotational`.
    pub fn attr(&self, rel: &str) -> Option<String> {
        read_attr(&self.sys, rel)
    }

    pub fn flag(&self, rel: &str) -> bool {
        self.attr(rel).as_deref() == Some("1")
    }

    /// For an attached loop device, the file behind it.
    pub fn loop_backing_file(&self) -> Option<PathBuf> {
        self.attr("loop/backing_file").map(PathBuf::from)
    }
}

/// A trimmed sysfs attribute; `None` when missing, unreadable or blank.
pub fn read_attr(dir: &Path, rel: &str) -> Option<String> {
    let text = fs::read(dir.join(rel)).ok()?;
    clean(&String::from_utf8_lossy(&text))
}

/// Trim whitespace (and the NUL padding some firmware leaves); blank means absent.
pub fn clean(s: &str) -> Option<String> {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!t.is_empty()).then(|| t.to_owned())
}

/// The value of `KEY=` in a uevent file.
pub fn uevent_value<'a>(uevent: &'a str, key: &str) -> Option<&'a str> {
    uevent
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

fn subdirs(dir: &Path) -> impl Iterator<Item = PathBuf> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
}

fn linked_nodes(dir: &Path) -> Vec<BlockNode> {
    let mut nodes: Vec<BlockNode> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| BlockNode::from_sys(&e.path()).ok())
        .collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
}

/// The block device a path names, by its device number; `None` for anything else.
pub fn block_node_of_path(path: &Path) -> Option<BlockNode> {
    use std::os::unix::fs::FileTypeExt;
    let meta = fs::metadata(path).ok()?;
    if !meta.file_type().is_block_device() {
        return None;
    }
    BlockNode::from_devnum(DevNum::from_dev_t(meta.rdev()))
}

/// Whether an I/O error means "it is not there" (vanished device, missing attribute).
pub fn is_not_found(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENODEV))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devnum_parses_sysfs_text() {
        assert_eq!(
            DevNum::parse("259:3\n"),
            Some(DevNum {
                major: 259,
                minor: 3
            })
        );
        assert_eq!(DevNum::parse("8"), None);
        assert_eq!(DevNum::parse("a:b"), None);
        assert!(DevNum::parse("0:27").is_some_and(DevNum::is_anonymous));
    }

    #[test]
    fn uevent_devname() {
        let u = "MAJOR=104\nMINOR=0\nDEVNAME=cciss/c0d0\nDEVTYPE=disk\n";
        assert_eq!(uevent_value(u, "DEVNAME"), Some("cciss/c0d0"));
        assert_eq!(uevent_value(u, "DEV"), None);
    }

    #[test]
    fn clean_treats_blank_as_absent() {
        assert_eq!(
            clean("  ST4000DM004-2CV1  \n"),
            Some("ST4000DM004-2CV1".into())
        );
        assert_eq!(clean(" \n\0\0"), None);
    }
}
