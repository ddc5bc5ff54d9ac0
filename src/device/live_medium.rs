//! The massho live stick, as the running system finds it: the disk whose GPT disk GUID the boot
//! loader named on the kernel command line (`massho.medium=GUID`), and on it the FAT partition
//! labelled `MASSHO` where the configuration and records live.
//!
//! Inside the live system the root filesystem is an initramfs, so nothing under `/` leads to the
//! stick, and its only mount (the `MASSHO` partition) may be missing when that filesystem is
//! damaged. The GUID on the command line still identifies it: [`super::safety::SystemState`]
//! refuses that disk as the boot medium whether or not anything on it is mounted.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::signatures;
use super::sysfs::{self, BlockNode};
use super::SignatureKind;

/// The kernel command line parameter naming the live stick's GPT disk GUID.
pub const CMDLINE_MEDIUM: &str = "massho.medium";
/// The label of the records partition.
pub const RECORDS_LABEL: &str = "MASSHO";

const CMDLINE: &str = "/proc/cmdline";

/// The value of `key=value` on a kernel command line (the last one wins, as in the kernel).
pub fn cmdline_value<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline
        .split_whitespace()
        .filter_map(|word| word.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .next_back()
}

/// The stick's disk GUID from this boot's command line, upper case; `None` outside the live
/// system (or when the parameter is not a GUID).
pub fn medium_guid_from_cmdline() -> Option<String> {
    let cmdline = fs::read_to_string(CMDLINE).ok()?;
    cmdline_value(&cmdline, CMDLINE_MEDIUM)
        .filter(|v| is_guid(v))
        .map(str::to_ascii_uppercase)
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The disk GUID of a GPT header (the sector at LBA 1), upper case, or `None` when `header`
/// is not a GPT header. Only the signature is checked: a damaged header of the live stick must
/// still be recognised.
pub fn gpt_header_disk_guid(header: &[u8]) -> Option<String> {
    if header.len() < 72 || &header[..8] != b"EFI PART" {
        return None;
    }
    let g = &header[56..72];
    Some(format!(
        "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
        g[14], g[15]
    ))
}

/// The GPT disk GUID of a whole disk, read from its device node (read-only, through the page
/// cache) at LBA 1 for its logical sector size; `None` when it has none or cannot be read.
pub fn disk_guid(disk: &BlockNode) -> Option<String> {
    let sector: u64 = disk
        .attr("queue/logical_block_size")
        .and_then(|s| s.parse().ok())
        .filter(|s: &u64| s.is_power_of_two() && *s >= 512)
        .unwrap_or(512);
    let file = File::open(&disk.node).ok()?;
    let mut header = [0u8; 92];
    file.read_exact_at(&mut header, sector).ok()?;
    gpt_header_disk_guid(&header)
}

/// Whole disks (no partitions, loop, RAM or stacked devices) that carry the GPT disk GUID
/// `guid`.
pub fn disks_with_guid(guid: &str) -> Vec<BlockNode> {
    whole_disks()
        .into_iter()
        .filter(|d| disk_guid(d).is_some_and(|g| g.eq_ignore_ascii_case(guid)))
        .collect()
}

fn whole_disks() -> Vec<BlockNode> {
    let mut disks: Vec<BlockNode> = fs::read_dir(sysfs::SYS_BLOCK)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !["loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd"]
                .iter()
                .any(|p| name.starts_with(p))
        })
        .filter_map(|e| BlockNode::from_sys(&e.path()).ok())
        .collect();
    disks.sort_by(|a, b| a.name.cmp(&b.name));
    disks
}

/// Why the records partition could not be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediumError {
    #[error("no disk carries the GPT disk GUID {guid} named by {CMDLINE_MEDIUM} on the kernel command line (the stick may still be starting up)")]
    NoDisk { guid: String },
    #[error("{count} disks carry the GPT disk GUID {guid}: unplug the other massho sticks made from the same image")]
    SeveralDisks { guid: String, count: usize },
    #[error("the live stick {disk} has no FAT partition labelled {RECORDS_LABEL}")]
    NoPartition { disk: PathBuf },
    #[error("no partition is labelled {RECORDS_LABEL}, and {CMDLINE_MEDIUM} is not on the kernel command line")]
    NoLabel,
    #[error("{count} partitions are labelled {RECORDS_LABEL} and {CMDLINE_MEDIUM} is not on the kernel command line to tell them apart: unplug the others")]
    SeveralLabels { count: usize },
}

/// The live stick's `MASSHO` partition: on the disk named by `guid` when given, else the only
/// partition of any disk with that label.
pub fn find_records_partition(guid: Option<&str>) -> Result<PathBuf, MediumError> {
    let disks = match guid {
        Some(guid) => {
            let disks = disks_with_guid(guid);
            match disks.len() {
                0 => {
                    return Err(MediumError::NoDisk {
                        guid: guid.to_owned(),
                    })
                }
                1 => disks,
                count => {
                    return Err(MediumError::SeveralDisks {
                        guid: guid.to_owned(),
                        count,
                    })
                }
            }
        }
        None => whole_disks(),
    };
    let labelled: Vec<PathBuf> = disks
        .iter()
        .flat_map(BlockNode::partitions)
        .filter(|p| is_records_partition(&p.node))
        .map(|p| p.node)
        .collect();
    match (labelled.as_slice(), guid) {
        ([one], _) => Ok(one.clone()),
        ([], Some(_)) => Err(MediumError::NoPartition {
            disk: disks.first().map(|d| d.node.clone()).unwrap_or_default(),
        }),
        ([], None) => Err(MediumError::NoLabel),
        (several, _) => Err(MediumError::SeveralLabels {
            count: several.len(),
        }),
    }
}

fn is_records_partition(node: &Path) -> bool {
    signatures::probe(node).is_ok_and(|sigs| {
        sigs.iter().any(|s| {
            s.kind == SignatureKind::Filesystem
                && s.type_name == "vfat"
                && s.label.as_deref() == Some(RECORDS_LABEL)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_values() {
        let line = "rdinit=/init console=ttyS0,115200 console=tty0 massho.medium=4A1B2C3D-0000-4000-8000-00000000000A quiet\n";
        assert_eq!(
            cmdline_value(line, "massho.medium"),
            Some("4A1B2C3D-0000-4000-8000-00000000000A")
        );
        assert_eq!(cmdline_value(line, "console"), Some("tty0"));
        assert_eq!(cmdline_value(line, "quiet"), None);
        assert_eq!(cmdline_value(line, "massho.auto"), None);
        assert!(is_guid("4a1b2c3d-0000-4000-8000-00000000000a"));
        assert!(!is_guid("4a1b2c3d-0000-4000-8000-00000000000"));
        assert!(!is_guid("4a1b2c3d00004000800000000000000a"));
        assert!(!is_guid("xa1b2c3d-0000-4000-8000-00000000000a"));
    }

    #[test]
    fn gpt_disk_guid_is_mixed_endian() {
        let mut header = vec![0u8; 92];
        header[..8].copy_from_slice(b"EFI PART");
        // What sfdisk writes for label-id 00112233-4455-6677-8899-AABBCCDDEEFF.
        header[56..72].copy_from_slice(&[
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD,
            0xEE, 0xFF,
        ]);
        assert_eq!(
            gpt_header_disk_guid(&header).as_deref(),
            Some("00112233-4455-6677-8899-AABBCCDDEEFF")
        );
        header[0] = b'X';
        assert_eq!(gpt_header_disk_guid(&header), None);
        assert_eq!(gpt_header_disk_guid(b"EFI PART"), None);
    }
}
