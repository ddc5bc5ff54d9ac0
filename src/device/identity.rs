//! Who a disk is: vendor, model, serial, WWN, firmware, how it is attached and what its medium is.
//!
//! The serial number is what the operator types to confirm a wipe and what the certificate
//! names, so it must be the drive's own, not a guess. Everything comes from sysfs (no ioctls, so
//! it works without root), topped up from udev's database when udev is running, because udev
//! knows serials behind USB bridges that sysfs does not show. The parsers are pure functions so
//! that odd firmware strings can be tested without the hardware.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::sysfs::{clean, read_attr, BlockNode};
use super::{MediaClass, Transport};

/// Where udev keeps the properties it collected for each block device.
const UDEV_DATA: &str = "/run/udev/data";
/// Where udev makes the stable links the operator should use.
const BY_ID: &str = "/dev/disk/by-id";

/// The identity of a whole disk. Partitions share their disk's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub wwn: Option<String>,
    pub firmware: Option<String>,
    pub transport: Transport,
    pub rotational: bool,
    pub removable: bool,
    pub logical_sector_size: u32,
    pub physical_sector_size: u32,
    pub media_class: MediaClass,
}

/// Read the identity of the whole disk `disk`.
pub fn identify(disk: &BlockNode) -> Identity {
    let udev = udev_properties(disk);
    let udev_get = |key: &str| udev.get(key).and_then(|v| clean(v));
    let transport = transport_from_sysfs(
        &disk.name,
        &disk.sys.to_string_lossy(),
        scsi_host_driver(&disk.sys).as_deref(),
    );
    let rotational = disk.flag("queue/rotational");
    // MMC cards call their model "name"; NVMe and virtio put the serial beside the disk
    // instead of on the SCSI device.
    let model = disk
        .attr("device/model")
        .or_else(|| disk.attr("device/name"))
        .or_else(|| udev_get("ID_MODEL"));
    let serial = disk
        .attr("device/serial")
        .or_else(|| disk.attr("serial"))
        .or_else(|| {
            fs::read(disk.sys.join("device/vpd_pg80"))
                .ok()
                .and_then(|b| parse_vpd_pg80(&b))
        })
        .or_else(|| udev_get("ID_SERIAL_SHORT"))
        .or_else(|| usb_serial(&disk.sys));
    let wwn = udev_get("ID_WWN")
        .or_else(|| disk.attr("wwid"))
        .or_else(|| disk.attr("device/wwid"));
    let firmware = disk
        .attr("device/rev")
        .or_else(|| disk.attr("device/firmware_rev"))
        .or_else(|| disk.attr("device/fwrev"))
        .or_else(|| udev_get("ID_REVISION"));
    let logical = sector_size(disk.attr("queue/logical_block_size"));
    let physical = sector_size(disk.attr("queue/physical_block_size")).max(logical);
    Identity {
        vendor: disk.attr("device/vendor").or_else(|| udev_get("ID_VENDOR")),
        model,
        serial,
        wwn,
        firmware,
        transport,
        rotational,
        removable: disk.flag("removable"),
        logical_sector_size: logical,
        physical_sector_size: physical,
        media_class: media_class(transport, rotational),
    }
}

fn sector_size(attr: Option<String>) -> u32 {
    attr.and_then(|s| s.parse().ok())
        .filter(|&n: &u32| n >= 512)
        .unwrap_or(512)
}

/// What overwriting can reach on this medium. Only rotating disks on a real bus are magnetic;
/// anything that might be flash is treated as flash, because claiming more than Clear for
/// flash would be wrong.
pub fn media_class(transport: Transport, rotational: bool) -> MediaClass {
    match transport {
        // A virtio disk's bytes land on the host's storage, whatever `rotational` says.
        Transport::Loop | Transport::File | Transport::Virtio => MediaClass::Virtual,
        Transport::Nvme | Transport::Mmc | Transport::Usb => MediaClass::Flash,
        _ if !rotational => MediaClass::Flash,
        _ => MediaClass::Magnetic,
    }
}

/// How a disk is attached, from its kernel name, its resolved sysfs path (e.g.
/// `/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda`) and the
/// driver of its SCSI host, when it has one (`/sys/class/scsi_host/hostN/proc_name`).
pub fn transport_from_sysfs(
    name: &str,
    sys_path: &str,
    scsi_host_driver: Option<&str>,
) -> Transport {
    let driver = scsi_host_driver.unwrap_or("");
    if name.starts_with("loop") {
        Transport::Loop
    } else if name.starts_with("nvme") || sys_path.contains("/nvme") {
        Transport::Nvme
    } else if name.starts_with("mmcblk") || sys_path.contains("/mmc_host/") {
        Transport::Mmc
    } else if sys_path.contains("/usb") {
        // Before ATA and SCSI: a USB-SATA bridge shows a SCSI host below the USB device.
        Transport::Usb
    } else if sys_path.contains("/virtio") {
        Transport::Virtio
    } else if sys_path.contains("/end_device-") || driver.contains("sas") {
        Transport::Sas
    } else if path_has_component(sys_path, "ata") {
        if driver.starts_with("pata_") {
            Transport::Ata
        } else {
            Transport::Sata
        }
    } else if path_has_component(sys_path, "host") {
        Transport::Scsi
    } else {
        Transport::Unknown
    }
}

/// Whether some component of `path` is `prefix` followed by a number (`ata1`, `host0`).
fn path_has_component(path: &str, prefix: &str) -> bool {
    path.split('/').any(|c| {
        c.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The driver of the SCSI host the disk hangs off (`ahci`, `mpt3sas`, `usb-storage`).
fn scsi_host_driver(sys: &Path) -> Option<String> {
    let host = sys
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .find(|c| path_has_component(c, "host"))?;
    read_attr(
        Path::new("/sys/class/scsi_host").join(host).as_path(),
        "proc_name",
    )
}

/// The unit serial number from SCSI VPD page 0x80 as sysfs hands it over: a 4-byte header
/// (peripheral byte, page code 0x80, big-endian page length) and then the serial in ASCII,
/// often padded with spaces or NULs.
pub fn parse_vpd_pg80(page: &[u8]) -> Option<String> {
    let header = page.get(..4)?;
    if header[1] != 0x80 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let body = &page[4..];
    let body = &body[..len.min(body.len())];
    // Bridges that do not implement the page return garbage; refuse anything unprintable
    // rather than put it on a certificate.
    if !body
        .iter()
        .all(|&b| b == 0 || b == b' ' || b.is_ascii_graphic())
    {
        return None;
    }
    clean(&String::from_utf8_lossy(body))
}

/// udev's properties for the device (`E:KEY=VALUE` lines); empty when udev is not running.
fn udev_properties(node: &BlockNode) -> HashMap<String, String> {
    let path = Path::new(UDEV_DATA).join(format!("b{}", node.dev));
    fs::read_to_string(path)
        .map(|t| parse_udev_data(&t))
        .unwrap_or_default()
}

/// Parse a udev database file: `E:` lines are properties, the rest (links, tags) is ignored.
pub fn parse_udev_data(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("E:")?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The iSerial of the USB device a disk is on: the nearest ancestor with `idVendor`.
fn usb_serial(sys: &Path) -> Option<String> {
    sys.ancestors()
        .take_while(|p| p.starts_with("/sys/devices") && p.as_os_str() != "/sys/devices")
        .find(|p| p.join("idVendor").exists())
        .and_then(|usb| read_attr(usb, "serial"))
}

/// The preferred `/dev/disk/by-id` link that resolves to `node`.
pub fn by_id_link(node: &Path) -> Option<PathBuf> {
    let target = fs::canonicalize(node).ok()?;
    let names: Vec<String> = fs::read_dir(BY_ID)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| fs::canonicalize(e.path()).is_ok_and(|p| p == target))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    choose_by_id(&names).map(|n| Path::new(BY_ID).join(n))
}

/// Pick the link an operator recognises: bus-model-serial names (`ata-`, `nvme-`, `usb-`,
/// `scsi-`) over bare identifiers (`nvme-eui.`, `scsi-3…`), and `wwn-` last. Ties go to the
/// alphabetically first name so the choice is stable.
pub fn choose_by_id(names: &[String]) -> Option<&String> {
    fn rank(name: &str) -> u8 {
        const READABLE: [&str; 6] = ["ata-", "nvme-", "usb-", "mmc-", "virtio-", "scsi-"];
        let opaque = name.starts_with("nvme-eui.")
            || name.starts_with("nvme-nvme.")
            || name.starts_with("scsi-3")
            || name.starts_with("scsi-2")
            || name.starts_with("scsi-0QEMU");
        if name.starts_with("wwn-") {
            3
        } else if READABLE.iter().any(|p| name.starts_with(p)) && !opaque {
            0
        } else if opaque {
            2
        } else {
            1
        }
    }
    names
        .iter()
        .min_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpd_pg80_serial() {
        let mut page = vec![0x00, 0x80, 0x00, 0x15];
        page.extend_from_slice(b"      WD-WCC4N1234567");
        assert_eq!(parse_vpd_pg80(&page).as_deref(), Some("WD-WCC4N1234567"));
    }

    #[test]
    fn vpd_pg80_length_and_padding() {
        // Page length shorter than the buffer: the rest is not part of the serial.
        let mut page = vec![0x00, 0x80, 0x00, 0x08];
        page.extend_from_slice(b"S3Z9NB0K\0\0\0\0junk");
        assert_eq!(parse_vpd_pg80(&page).as_deref(), Some("S3Z9NB0K"));
        // NUL padding only: no serial.
        assert_eq!(parse_vpd_pg80(&[0, 0x80, 0, 4, 0, 0, 0, 0]), None);
    }

    #[test]
    fn vpd_pg80_rejects_other_pages_and_garbage() {
        assert_eq!(parse_vpd_pg80(&[0, 0x83, 0, 2, b'A', b'B']), None);
        assert_eq!(parse_vpd_pg80(&[0, 0x80]), None);
        assert_eq!(parse_vpd_pg80(&[0, 0x80, 0, 3, 0xff, 0x01, b'A']), None);
    }

    #[test]
    fn transports() {
        let t = transport_from_sysfs;
        assert_eq!(
            t(
                "sda",
                "/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda",
                Some("ahci")
            ),
            Transport::Sata
        );
        assert_eq!(
            t(
                "sdb",
                "/sys/devices/pci0000:00/0000:00:1f.1/ata3/host2/target2:0:0/2:0:0:0/block/sdb",
                Some("pata_amd")
            ),
            Transport::Ata
        );
        assert_eq!(
            t(
                "sdc",
                "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdc",
                Some("uas")
            ),
            Transport::Usb
        );
        assert_eq!(
            t(
                "sdd",
                "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/host0/port-0:0/end_device-0:0/target0:0:0/0:0:0:0/block/sdd",
                Some("mpt3sas")
            ),
            Transport::Sas
        );
        assert_eq!(
            t(
                "nvme0n1",
                "/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1",
                None
            ),
            Transport::Nvme
        );
        assert_eq!(
            t(
                "mmcblk0",
                "/sys/devices/platform/fe320000.mmc/mmc_host/mmc1/mmc1:59b4/block/mmcblk0",
                None
            ),
            Transport::Mmc
        );
        assert_eq!(
            t(
                "vda",
                "/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda",
                None
            ),
            Transport::Virtio
        );
        assert_eq!(
            t("loop3", "/sys/devices/virtual/block/loop3", None),
            Transport::Loop
        );
        assert_eq!(
            t(
                "sde",
                "/sys/devices/platform/host3/session1/target3:0:0/3:0:0:0/block/sde",
                Some("iscsi_tcp")
            ),
            Transport::Scsi
        );
        assert_eq!(
            t("zram0", "/sys/devices/virtual/block/zram0", None),
            Transport::Unknown
        );
    }

    #[test]
    fn media_classes() {
        assert_eq!(media_class(Transport::Sata, true), MediaClass::Magnetic);
        assert_eq!(media_class(Transport::Sata, false), MediaClass::Flash);
        assert_eq!(media_class(Transport::Usb, true), MediaClass::Flash);
        assert_eq!(media_class(Transport::Loop, true), MediaClass::Virtual);
    }

    #[test]
    fn by_id_prefers_readable_names_and_wwn_last() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let n = names(&[
            "wwn-0x5000c500a1b2c3d4",
            "scsi-35000c500a1b2c3d4",
            "ata-ST4000DM004-2CV104_ZFN0ABCD",
            "scsi-SATA_ST4000DM004-2CV1_ZFN0ABCD",
        ]);
        assert_eq!(
            choose_by_id(&n).map(String::as_str),
            Some("ata-ST4000DM004-2CV104_ZFN0ABCD")
        );
        let n = names(&[
            "nvme-eui.0025388b91b2c3d4",
            "nvme-Samsung_SSD_970_EVO_1TB_S467NX0M123456",
            "wwn-0x0025388b91b2c3d4",
        ]);
        assert_eq!(
            choose_by_id(&n).map(String::as_str),
            Some("nvme-Samsung_SSD_970_EVO_1TB_S467NX0M123456")
        );
        let n = names(&["wwn-0x5000", "nvme-eui.0025"]);
        assert_eq!(choose_by_id(&n).map(String::as_str), Some("nvme-eui.0025"));
        assert_eq!(choose_by_id(&[]), None);
    }

    #[test]
    fn udev_data_properties() {
        let text = "S:disk/by-id/ata-X_Y\nI:123\nE:ID_SERIAL_SHORT=ZFN0ABCD\nE:ID_WWN=0x5000c500a1b2c3d4\nG:systemd\n";
        let p = parse_udev_data(text);
        assert_eq!(
            p.get("ID_SERIAL_SHORT").map(String::as_str),
            Some("ZFN0ABCD")
        );
        assert_eq!(
            p.get("ID_WWN").map(String::as_str),
            Some("0x5000c500a1b2c3d4")
        );
        assert_eq!(p.len(), 2);
    }
}
