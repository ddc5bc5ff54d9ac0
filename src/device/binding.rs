//! Which medium a path names, and whether it is still the one the operator confirmed.
//!
//! Between "inspect /dev/sdb" and "write to /dev/sdb" a person waits at the confirmation prompt,
//! and on a real bench a drive can be swapped in a hot-swap bay, a USB stick re-plugged and given
//! the same name, a loop device re-pointed at another file. So massho opens the device *before*
//! asking (with `O_EXCL`, which also keeps others from claiming it), reads a [`MediumIdentity`]
//! from the open descriptor, and compares it with what the path names and with what was
//! inspected — after the confirmation and again just before the first write. The kernel's disk
//! sequence number (`diskseq`, Linux 5.15+) changes whenever a disk is re-created or a loop
//! device gets a new backing file, even when the name and device number are reused.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sysfs::{BlockNode, DevNum};

/// What identifies a medium: read from an open descriptor ([`MediumIdentity::of_file`]) or
/// from a path and sysfs ([`MediumIdentity::of_path`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MediumIdentity {
    /// `MAJ:MIN` of a block device; for an image file, the `MAJ:MIN` of its filesystem.
    pub device_number: String,
    /// The image file's inode number (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    /// The kernel's disk sequence number of the (whole) disk, where the kernel has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diskseq: Option<u64>,
    pub size_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// For a loop device: the file behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing_file: Option<PathBuf>,
    /// For a loop device: where in its backing file it starts. `LOOP_SET_STATUS64` can move
    /// it while the device is held open, keeping the name, device number, disk sequence
    /// number, size and backing file: the same loop device then maps other bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_offset: Option<u64>,
    /// For a loop device: a detach was requested and happens when the last user closes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub detaching: bool,
}

// BLKGETDISKSEQ = _IOR(0x12, 128, __u64) (linux/fs.h, Linux 5.15).
nix::ioctl_read!(blk_getdiskseq, 0x12, 128, u64);

/// The disk sequence number of the disk an open block device belongs to; `None` on kernels
/// without it.
fn diskseq_of(file: &File) -> io::Result<Option<u64>> {
    let mut seq: u64 = 0;
    // SAFETY: `file` is an open block device for the duration of the call and the ioctl writes
    // exactly one u64 into the pointed-to local.
    match unsafe { blk_getdiskseq(file.as_raw_fd(), &mut seq) } {
        Ok(_) => Ok(Some(seq)),
        Err(nix::errno::Errno::ENOTTY | nix::errno::Errno::EINVAL) => Ok(None),
        Err(e) => Err(io::Error::from(e)),
    }
}

impl MediumIdentity {
    /// The identity of what `file` (an open block device or regular file) refers to. For a
    /// block device the device number, disk sequence number and size come from the descriptor
    /// itself; serial, model and a loop device's backing file from sysfs for that device number.
    /// A device that has gone away answers with an error (`ENODEV`, `ENXIO`).
    pub fn of_file(file: &File) -> io::Result<MediumIdentity> {
        let meta = file.metadata()?;
        if meta.file_type().is_block_device() {
            let dev = DevNum::from_dev_t(meta.rdev());
            let (size_bytes, _, _) = super::io::block_geometry(file)?;
            let diskseq = diskseq_of(file)?;
            Ok(Self::block(dev, diskseq, size_bytes))
        } else {
            Ok(Self::file(&meta))
        }
    }

    /// The identity of what `path` names now, from `stat` and sysfs only.
    pub fn of_path(path: &Path) -> io::Result<MediumIdentity> {
        let meta = std::fs::metadata(path)?;
        if meta.file_type().is_block_device() {
            let dev = DevNum::from_dev_t(meta.rdev());
            let node = BlockNode::from_devnum(dev).ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("no block device {dev}"))
            })?;
            let disk = node.parent_disk().unwrap_or_else(|| node.clone());
            let diskseq = disk.attr("diskseq").and_then(|s| s.parse().ok());
            // sysfs `size` is in 512-byte units whatever the logical sector size.
            let size_bytes = node
                .attr("size")
                .and_then(|s| s.parse::<u64>().ok())
                .map_or(0, |s| s.saturating_mul(512));
            Ok(Self::block(dev, diskseq, size_bytes))
        } else {
            Ok(Self::file(&meta))
        }
    }

    fn block(dev: DevNum, diskseq: Option<u64>, size_bytes: u64) -> MediumIdentity {
        let node = BlockNode::from_devnum(dev);
        let disk = node
            .as_ref()
            .map(|n| n.parent_disk().unwrap_or_else(|| n.clone()));
        let id = disk.as_ref().map(super::identity::identify);
        MediumIdentity {
            device_number: dev.to_string(),
            inode: None,
            diskseq,
            size_bytes,
            serial: id.as_ref().and_then(|i| i.serial.clone()),
            model: id.as_ref().and_then(|i| i.model.clone()),
            backing_file: disk.as_ref().and_then(BlockNode::loop_backing_file),
            loop_offset: disk
                .as_ref()
                .filter(|d| d.attr("loop/backing_file").is_some())
                .and_then(|d| d.attr("loop/offset"))
                .and_then(|s| s.parse().ok()),
            detaching: disk
                .as_ref()
                .is_some_and(|d| d.attr("loop/backing_file").is_some() && d.flag("loop/autoclear")),
        }
    }

    fn file(meta: &std::fs::Metadata) -> MediumIdentity {
        MediumIdentity {
            device_number: DevNum::from_dev_t(meta.dev()).to_string(),
            inode: Some(meta.ino()),
            diskseq: None,
            size_bytes: meta.len(),
            serial: None,
            model: None,
            backing_file: None,
            loop_offset: None,
            detaching: false,
        }
    }

    /// Every way `now` differs from `self`, as phrases for an error message; empty when it is
    /// the same medium. A loop device whose detach was requested counts as changed: someone is
    /// taking it away.
    pub fn changes(&self, now: &MediumIdentity) -> Vec<String> {
        let mut out = Vec::new();
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        if self.device_number != now.device_number {
            out.push(format!(
                "device number {} → {}",
                self.device_number, now.device_number
            ));
        }
        if self.inode != now.inode {
            out.push(format!(
                "inode {} → {} (another file now has this name)",
                self.inode.map_or("none".into(), |i| i.to_string()),
                now.inode.map_or("none".into(), |i| i.to_string())
            ));
        }
        if self.diskseq != now.diskseq {
            out.push(format!(
                "disk sequence number {} → {} (the kernel re-created the disk: another medium, or the same one re-attached)",
                self.diskseq.map_or("none".into(), |i| i.to_string()),
                now.diskseq.map_or("none".into(), |i| i.to_string())
            ));
        }
        if self.size_bytes != now.size_bytes {
            out.push(format!(
                "size {} → {} bytes",
                self.size_bytes, now.size_bytes
            ));
        }
        if self.serial != now.serial {
            out.push(format!(
                "serial {} → {}",
                show(&self.serial),
                show(&now.serial)
            ));
        }
        if self.model != now.model {
            out.push(format!(
                "model {} → {}",
                show(&self.model),
                show(&now.model)
            ));
        }
        if self.backing_file != now.backing_file {
            let p = |v: &Option<PathBuf>| {
                v.as_ref()
                    .map_or("none".into(), |p| crate::text::path_safe(p))
            };
            out.push(format!(
                "backing file {} → {}",
                p(&self.backing_file),
                p(&now.backing_file)
            ));
        }
        if self.loop_offset != now.loop_offset {
            out.push(format!(
                "loop offset {} → {} (the loop device now maps another part of its backing file)",
                self.loop_offset.map_or("none".into(), |o| o.to_string()),
                now.loop_offset.map_or("none".into(), |o| o.to_string())
            ));
        }
        if now.detaching && !self.detaching {
            out.push("the loop device is being detached".into());
        }
        out
    }
}

impl fmt::Display for MediumIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "device {}", self.device_number)?;
        if let Some(seq) = self.diskseq {
            write!(f, ", diskseq {seq}")?;
        }
        if let Some(ino) = self.inode {
            write!(f, ", inode {ino}")?;
        }
        write!(f, ", {} bytes", self.size_bytes)?;
        if let Some(s) = &self.serial {
            write!(f, ", serial {}", crate::text::terminal_safe(s))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_file_is_known_by_its_inode() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.img");
        std::fs::write(&a, vec![0u8; 8192]).unwrap();
        let open = File::open(&a).unwrap();
        let at_open = MediumIdentity::of_file(&open).unwrap();
        assert_eq!(at_open, MediumIdentity::of_path(&a).unwrap());
        assert!(at_open
            .changes(&MediumIdentity::of_path(&a).unwrap())
            .is_empty());
        // Another file renamed over the name: the path names another medium.
        let b = dir.path().join("b.img");
        std::fs::write(&b, vec![0u8; 8192]).unwrap();
        std::fs::rename(&b, &a).unwrap();
        let changes = at_open.changes(&MediumIdentity::of_path(&a).unwrap());
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(changes[0].starts_with("inode"), "{changes:?}");
    }
}
