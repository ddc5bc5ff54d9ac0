//! Listing devices and inspecting one path: where a [`DeviceInfo`] is put together.
//!
//! `discover` is what `massho devices` shows; `inspect` is what `wipe` and `verify` call on the
//! path the operator typed, which may be a `/dev/disk/by-id` link, a partition or an image file.
//! Both combine sysfs identity, libblkid signatures, the safety checks and, for whole disks, what
//! the drive's firmware reports (`drive::probe`), so a device looks the
//! same whichever way it was reached.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::drive::probe::probe_disk;
use super::drive::DriveReport;
use super::identity::{by_id_link, identify};
use super::safety::{file_on_read_only_fs, SystemState};
use super::signatures::probe_or_unknown;
use super::sysfs::{self, BlockNode, DevNum};
use super::{DeviceError, DeviceInfo, DeviceKind, MediaClass, Transport};

/// Every whole-disk block device and every attached loop device, sorted by name.
///
/// Left out: RAM disks (`ram*`, `zram*`), stacked virtual devices (`dm-*`, `md*`; wipe the
/// disks under them), detached loop devices, and empty optical, floppy and nbd drives. Stacked
/// devices still show up as the reason their disks are refused.
pub fn discover() -> Result<Vec<DeviceInfo>, DeviceError> {
    let state = SystemState::load()?;
    let entries = fs::read_dir(sysfs::SYS_BLOCK).map_err(|source| DeviceError::Read {
        path: sysfs::SYS_BLOCK.into(),
        source,
    })?;
    let mut devices = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DeviceError::Read {
            path: sysfs::SYS_BLOCK.into(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_skipped_name(&name) {
            continue;
        }
        let node = match BlockNode::from_sys(&entry.path()) {
            Ok(n) => n,
            // Unplugged while we were listing.
            Err(DeviceError::Read { source, .. }) if sysfs::is_not_found(&source) => continue,
            Err(e) => return Err(e),
        };
        let size = sectors_to_bytes(&node);
        let empty_drive = ["sr", "fd", "nbd"].iter().any(|p| name.starts_with(p)) && size == 0;
        let detached_loop = name.starts_with("loop") && node.loop_backing_file().is_none();
        // NVMe multipath paths (`nvme0c0n1`) have no device node; the namespace is listed.
        if empty_drive || detached_loop || node.flag("hidden") {
            continue;
        }
        let path = node.node.clone();
        devices.push(describe_block(&state, path, &node));
    }
    devices.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(devices)
}

/// Kernel names that are never disks to wipe: RAM disks, zram, device-mapper and md devices.
pub(crate) fn is_skipped_name(name: &str) -> bool {
    ["ram", "zram", "dm-", "md"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Inspect one path the operator named: a whole disk, a partition, a loop device or a file.
/// Symlinks are followed; `path` in the result stays as given.
pub fn inspect(path: &Path) -> Result<DeviceInfo, DeviceError> {
    let meta = fs::metadata(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => DeviceError::NotFound {
            path: path.to_owned(),
        },
        _ => DeviceError::Read {
            path: path.to_owned(),
            source,
        },
    })?;
    let state = SystemState::load()?;
    if meta.file_type().is_block_device() {
        let node = BlockNode::from_devnum(DevNum::from_dev_t(meta.rdev())).ok_or_else(|| {
            // A stale node in /dev for a device the kernel no longer has.
            DeviceError::NotFound {
                path: path.to_owned(),
            }
        })?;
        Ok(describe_block(&state, path.to_owned(), &node))
    } else if meta.is_file() {
        Ok(describe_file(&state, path, &meta))
    } else {
        Err(DeviceError::NotADevice {
            path: path.to_owned(),
        })
    }
}

fn sectors_to_bytes(node: &BlockNode) -> u64 {
    // sysfs `size` is in 512-byte units whatever the logical sector size.
    node.attr("size")
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(0, |s| s.saturating_mul(512))
}

/// A disk, partition or loop device. Partitions carry their disk's identity (model, serial,
/// transport) but their own size and read-only flag.
fn describe_block(state: &SystemState, path: PathBuf, node: &BlockNode) -> DeviceInfo {
    let parent = node.parent_disk();
    let disk = parent.as_ref().unwrap_or(node);
    let id = identify(disk);
    let kind = if parent.is_some() {
        DeviceKind::Partition
    } else if node.name.starts_with("loop") {
        DeviceKind::Loop
    } else {
        DeviceKind::Disk
    };
    let size_bytes = sectors_to_bytes(node);
    // An empty card reader or drive has nothing to probe, and opening it may wait for the
    // medium.
    let (signatures, signatures_unknown) = if size_bytes > 0 {
        probe_or_unknown(&node.node)
    } else {
        (Vec::new(), None)
    };
    let firmware = if kind == DeviceKind::Disk && size_bytes > 0 {
        probe_disk(node, id.transport)
    } else {
        Ok(DriveReport::default())
    };
    let (report, firmware_unknown) = match firmware {
        Ok(r) => (r, None),
        Err(e) => (DriveReport::default(), Some(e.to_string())),
    };
    DeviceInfo {
        path,
        name: node.name.clone(),
        kind,
        by_id: by_id_link(&node.node),
        vendor: id.vendor,
        model: id.model,
        serial: id.serial,
        wwn: id.wwn,
        firmware: id.firmware,
        size_bytes,
        logical_sector_size: id.logical_sector_size,
        physical_sector_size: id.physical_sector_size,
        transport: id.transport,
        rotational: id.rotational,
        removable: id.removable,
        read_only: node.flag("ro"),
        media_class: id.media_class,
        backing_file: disk.loop_backing_file(),
        parent: parent.as_ref().map(|p| p.node.clone()),
        signatures,
        signatures_unknown,
        refusals: state.block_refusals(node),
        drive_identity: report.identity,
        sanitize: report.sanitize,
        hidden: report.hidden,
        health: report.health,
        firmware_unknown,
    }
}

fn describe_file(state: &SystemState, path: &Path, meta: &fs::Metadata) -> DeviceInfo {
    let (signatures, signatures_unknown) = probe_or_unknown(path);
    DeviceInfo {
        path: path.to_owned(),
        name: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        kind: DeviceKind::File,
        by_id: None,
        vendor: None,
        model: None,
        serial: None,
        wwn: None,
        firmware: None,
        size_bytes: meta.len(),
        // Image files are written, retried and reported in page-sized units: the O_DIRECT
        // alignment that every filesystem accepts (see `io::DeviceTarget`).
        logical_sector_size: super::io::BUFFER_ALIGN as u32,
        physical_sector_size: super::io::BUFFER_ALIGN as u32,
        transport: Transport::File,
        rotational: false,
        removable: false,
        read_only: file_on_read_only_fs(path),
        media_class: MediaClass::Virtual,
        backing_file: None,
        parent: None,
        signatures,
        signatures_unknown,
        refusals: state.file_refusals(path, meta),
        drive_identity: None,
        sanitize: None,
        hidden: None,
        health: None,
        firmware_unknown: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_names() {
        for n in ["ram0", "zram0", "dm-3", "md127"] {
            assert!(is_skipped_name(n), "{n}");
        }
        for n in ["sda", "nvme0n1", "loop3", "vda", "mmcblk0", "sr0"] {
            assert!(!is_skipped_name(n), "{n}");
        }
    }

    #[test]
    fn missing_path_is_not_found() {
        let e = inspect(Path::new("/nonexistent/massho-disk")).unwrap_err();
        assert!(matches!(e, DeviceError::NotFound { .. }), "{e}");
    }

    #[test]
    fn directory_and_char_device_are_not_devices() {
        for p in ["/tmp", "/dev/null"] {
            let e = inspect(Path::new(p)).unwrap_err();
            assert!(matches!(e, DeviceError::NotADevice { .. }), "{p}: {e}");
        }
    }

    #[test]
    fn image_file_is_inspected() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("disk.img");
        fs::write(&img, vec![0u8; 10_000]).unwrap();
        let info = inspect(&img).unwrap();
        assert_eq!(info.kind, DeviceKind::File);
        assert_eq!(info.name, "disk.img");
        assert_eq!(info.size_bytes, 10_000);
        assert_eq!(info.transport, Transport::File);
        assert_eq!(info.media_class, MediaClass::Virtual);
        assert!(info.wipeable(), "{:?}", info.refusals);
    }

    #[test]
    fn discovery_lists_disks_sorted() {
        let all = discover().unwrap();
        let names: Vec<&str> = all.iter().map(|d| d.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(all.iter().all(|d| !is_skipped_name(&d.name)));
    }
}
