//! Storage devices and image files: what they are, whether they may be wiped, and raw I/O.
//!
//! Everything that touches `/sys`, `/proc`, libblkid or a device node lives below this module;
//! the engine sees only the [`io::BlockTarget`] trait. Discovery fills a [`DeviceInfo`], whose
//! `refusals` list every reason the device must not be wiped. `wipe` refuses on any of them, with
//! or without `--yes`.

pub mod binding;
pub mod discover;
pub mod drive;
pub mod identity;
pub mod io;
pub mod live_medium;
pub mod power;
pub mod safety;
pub mod signatures;
pub mod sysfs;
pub mod transport;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use discover::{discover, inspect};

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A whole disk (`/dev/sda`, `/dev/nvme0n1`, `/dev/mmcblk0`, `/dev/vdb`).
    Disk,
    /// A partition of a disk.
    Partition,
    /// An attached loop device (whole device).
    Loop,
    /// A regular file, e.g. a disk image.
    File,
}

/// How the device is attached to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Sata,
    Ata,
    Sas,
    Scsi,
    Nvme,
    Usb,
    Mmc,
    Virtio,
    Loop,
    File,
    Unknown,
}

/// What the storage medium is physically, which decides what overwriting can achieve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaClass {
    /// Rotating magnetic media: an overwrite of every LBA reaches the data.
    Magnetic,
    /// Flash (SSD, NVMe, USB stick, SD/MMC): overwriting cannot reach spare and remapped blocks,
    /// so it is NIST "Clear" only; "Purge" needs firmware sanitize or crypto erase.
    Flash,
    /// A loop device or a regular file: the bytes land on another filesystem's storage.
    Virtual,
}

/// A partition table or filesystem signature found by libblkid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Signature {
    /// `partition_table` or `filesystem` (libblkid's "superblock" probes: filesystems, RAID
    /// members, LVM PVs, swap, crypto containers).
    pub kind: SignatureKind,
    /// libblkid's name for it: `gpt`, `dos`, `ext4`, `vfat`, `swap`, `LVM2_member`, ...
    pub type_name: String,
    /// Byte offset of the magic on the device, when libblkid reports it.
    pub offset: Option<u64>,
    pub label: Option<String>,
    pub uuid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureKind {
    PartitionTable,
    Filesystem,
}

/// Why a device must not be wiped. Every variant names the device it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// The device, or one of its partitions, is mounted.
    Mounted {
        device: PathBuf,
        mountpoint: PathBuf,
    },
    /// The device, or one of its partitions, is an active swap area.
    Swap { device: PathBuf },
    /// Another block device is stacked on it (device-mapper, md RAID, LVM, bcache, ...).
    Held { device: PathBuf, holder: String },
    /// It holds the running system's root filesystem (directly or under dm/md/LVM).
    RootFilesystem { device: PathBuf },
    /// It is the medium the running system booted from (live USB, /boot, /boot/efi).
    BootMedium { device: PathBuf, detail: String },
    /// The kernel reports it read-only.
    ReadOnly { device: PathBuf },
    /// A loop device whose backing file lives on a filesystem that is itself on this device.
    BacksLoop {
        device: PathBuf,
        loop_device: PathBuf,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Mounted { device, mountpoint } => write!(
                f,
                "{} is mounted at {}",
                device.display(),
                mountpoint.display()
            ),
            Refusal::Swap { device } => write!(f, "{} is an active swap area", device.display()),
            Refusal::Held { device, holder } => {
                write!(f, "{} is in use by {holder}", device.display())
            }
            Refusal::RootFilesystem { device } => write!(
                f,
                "{} holds the running system's root filesystem",
                device.display()
            ),
            Refusal::BootMedium { device, detail } => write!(
                f,
                "{} is the medium this system booted from ({detail})",
                device.display()
            ),
            Refusal::ReadOnly { device } => write!(f, "{} is read-only", device.display()),
            Refusal::BacksLoop {
                device,
                loop_device,
            } => write!(
                f,
                "{} holds the backing file of {}",
                device.display(),
                loop_device.display()
            ),
        }
    }
}

/// Everything massho knows about one device or image file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeviceInfo {
    /// The path the operator named, or `/dev/NAME` from discovery.
    pub path: PathBuf,
    /// Kernel name (`sda`, `nvme0n1`, `loop3`); the file name for regular files.
    pub name: String,
    pub kind: DeviceKind,
    /// A stable `/dev/disk/by-id/...` link to this device, when udev made one.
    pub by_id: Option<PathBuf>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub wwn: Option<String>,
    pub firmware: Option<String>,
    pub size_bytes: u64,
    pub logical_sector_size: u32,
    pub physical_sector_size: u32,
    pub transport: Transport,
    pub rotational: bool,
    pub removable: bool,
    pub read_only: bool,
    pub media_class: MediaClass,
    /// For loop devices: the file behind it.
    pub backing_file: Option<PathBuf>,
    /// For partitions: the whole disk it belongs to.
    pub parent: Option<PathBuf>,
    /// Partition table and filesystem signatures found on it.
    pub signatures: Vec<Signature>,
    /// Set when the medium could not be probed: its signatures are unknown (not "none"), and
    /// this says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures_unknown: Option<String>,
    /// Every reason it must not be wiped; empty means wipeable.
    pub refusals: Vec<Refusal>,
    /// Who the drive's firmware says it is (ATA IDENTIFY, NVMe Identify, SCSI INQUIRY); may
    /// differ from `model`/`serial` when a USB bridge stands in between.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive_identity: Option<drive::DriveIdentity>,
    /// Firmware purge techniques the drive reports, and what blocks them now. Absent when the
    /// drive could not be asked (loop devices, files, virtio, or see `firmware_unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitize: Option<drive::SanitizeSupport>,
    /// Sectors hidden by a host protected area. Absent when the drive could not be asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<drive::HiddenArea>,
    /// SMART / NVMe health. Absent when the drive could not be asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<drive::DriveHealth>,
    /// Set when the drive's firmware could not be asked: `sanitize`, `hidden` and `health`
    /// are unknown (not "none"), and this says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_unknown: Option<String>,
}

impl DeviceInfo {
    /// The drive reported sectors beyond what the host can address.
    pub fn has_hidden_sectors(&self) -> bool {
        self.hidden
            .as_ref()
            .is_some_and(|h| h.state == drive::HiddenState::Hidden)
    }

    pub fn wipeable(&self) -> bool {
        self.refusals.is_empty()
    }

    /// What the operator types to confirm a wipe: the serial number, or the kernel name when
    /// the device has none.
    pub fn confirmation_token(&self) -> &str {
        match &self.serial {
            Some(s) if !s.trim().is_empty() => s.trim(),
            _ => &self.name,
        }
    }
}

/// Errors from discovery and inspection.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("{path}: no such device or file; run `massho devices` to list the devices")]
    NotFound { path: PathBuf },
    #[error("{path} is neither a block device nor a regular file")]
    NotADevice { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: unexpected content {content:?} ({what})")]
    Parse {
        path: PathBuf,
        content: String,
        what: &'static str,
    },
    #[error("libblkid could not probe {path}: {detail}")]
    Probe { path: PathBuf, detail: String },
}

/// A device for unit tests: /dev/sdz, model Stick, serial S123, 1 GiB.
#[cfg(test)]
pub(crate) fn sample(
    kind: DeviceKind,
    transport: Transport,
    media_class: MediaClass,
) -> DeviceInfo {
    DeviceInfo {
        path: "/dev/sdz".into(),
        name: "sdz".into(),
        kind,
        by_id: None,
        vendor: None,
        model: Some("Stick".into()),
        serial: Some("S123".into()),
        wwn: None,
        firmware: None,
        size_bytes: 1 << 30,
        logical_sector_size: 512,
        physical_sector_size: 512,
        transport,
        rotational: false,
        removable: true,
        read_only: false,
        media_class,
        backing_file: None,
        parent: None,
        signatures: vec![],
        signatures_unknown: None,
        refusals: vec![],
        drive_identity: None,
        sanitize: None,
        hidden: None,
        health: None,
        firmware_unknown: None,
    }
}

/// Decimal units, as drive makers label capacity ("500.1 GB").
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod firmware_field_tests {
    use super::*;

    #[test]
    fn results_written_before_the_firmware_fields_still_parse() {
        let d = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        let json = serde_json::to_value(&d).unwrap();
        for key in [
            "drive_identity",
            "sanitize",
            "hidden",
            "health",
            "firmware_unknown",
        ] {
            assert!(json.get(key).is_none(), "{key} written when absent");
        }
        let back: DeviceInfo = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);
        assert!(!back.has_hidden_sectors());
    }

    #[test]
    fn firmware_fields_round_trip() {
        let mut d = sample(DeviceKind::Disk, Transport::Nvme, MediaClass::Flash);
        d.sanitize = Some(drive::SanitizeSupport {
            techniques: vec![
                drive::PurgeTechnique::NvmeSanitizeCrypto,
                drive::PurgeTechnique::AtaSecurityErase { minutes: Some(4) },
            ],
            blocked_by: vec![drive::PurgeBlocker::SanitizeInProgress { percent: 7 }],
            unknown: vec![],
        });
        d.hidden = Some(drive::HiddenArea {
            state: drive::HiddenState::Hidden,
            accessible_sectors: 10,
            native_sectors: Some(12),
            native_from: None,
            dco_sectors: None,
            notes: vec![],
        });
        let json = serde_json::to_string(&d).unwrap();
        assert!(
            json.contains(r#"{"technique":"ata_security_erase","minutes":4}"#),
            "{json}"
        );
        assert!(
            json.contains(r#"{"state":"sanitize_in_progress","percent":7}"#),
            "{json}"
        );
        let back: DeviceInfo = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        assert!(back.has_hidden_sectors());
    }
}

#[cfg(test)]
mod size_tests {
    use super::human_size;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_000), "1.0 kB");
        assert_eq!(human_size(500_107_862_016), "500.1 GB");
        assert_eq!(human_size(4_000_787_030_016), "4.0 TB");
    }
}
