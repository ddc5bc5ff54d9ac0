//! Partition tables and filesystem signatures on a device, as `wipefs --no-act` lists them.
//!
//! The operator should see what a wipe will destroy ("gpt, ext4, LVM2_member") before typing the
//! serial number. libblkid is the reference for this (wipefs, lsblk and udev all use it), so
//! we ask it directly through `libblkid-rs` rather than guess from magic numbers ourselves. The
//! device is opened read-only; probing never writes.

use std::path::Path;

use libblkid_rs::{BlkidProbe, BlkidProbeRet, BlkidSublks, BlkidSublksFlags};

use super::{DeviceError, Signature, SignatureKind};

/// Every signature libblkid finds on `path` (block device or image file), in probing order:
/// filesystems and other superblocks first, then the partition table.
///
/// Offsets of partition tables are not reported: libblkid only records `PTMAGIC_OFFSET` when
/// `BLKID_PARTS_MAGIC` is set, and libblkid-rs 0.4 has no binding for
/// `blkid_probe_set_partitions_flags`.
pub fn probe(path: &Path) -> Result<Vec<Signature>, DeviceError> {
    let err = |detail: String| DeviceError::Probe {
        path: path.to_owned(),
        detail,
    };
    let mut pr = BlkidProbe::new_from_filename(path)
        .map_err(|e| err(format!("cannot open for probing: {e}")))?;
    pr.enable_superblocks(true)
        .and_then(|()| {
            pr.set_superblock_flags(BlkidSublksFlags::new(vec![
                BlkidSublks::Magic,
                BlkidSublks::Type,
                BlkidSublks::Label,
                BlkidSublks::Uuid,
                // A filesystem with a bad checksum is still data on the disk.
                BlkidSublks::Badcsum,
            ]))
        })
        .and_then(|()| pr.enable_partitions(true))
        .map_err(|e| err(format!("cannot set up the probe: {e}")))?;

    let mut found = Vec::new();
    // Each do_probe() call reports one match and moves on, so looping lists every signature,
    // including several superblocks on one device (e.g. a stale swap under a new ext4).
    // Bounded so a misbehaving library cannot spin forever.
    for _ in 0..64 {
        match pr.do_probe() {
            Ok(BlkidProbeRet::Success) => {}
            Ok(BlkidProbeRet::Done) => break,
            // A read error part-way (e.g. a bad sector where a backup header lives) should
            // not hide what was already found.
            Err(_) if !found.is_empty() => break,
            Err(e) => return Err(err(format!("probe failed: {e}"))),
        }
        let value = |name: &str| {
            pr.lookup_value(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        // The superblock chain's values are cleared when the partition chain runs, so TYPE
        // present means this match is a superblock (wipefs does the same).
        let sig = if let Some(type_name) = value("TYPE") {
            Signature {
                kind: SignatureKind::Filesystem,
                type_name,
                offset: value("SBMAGIC_OFFSET").and_then(|o| o.parse().ok()),
                label: value("LABEL"),
                uuid: value("UUID"),
            }
        } else if let Some(type_name) = value("PTTYPE") {
            Signature {
                kind: SignatureKind::PartitionTable,
                type_name,
                offset: value("PTMAGIC_OFFSET").and_then(|o| o.parse().ok()),
                label: None,
                uuid: value("PTUUID"),
            }
        } else {
            continue;
        };
        if !found.contains(&sig) {
            found.push(sig);
        }
    }
    Ok(found)
}

/// [`probe`] for listing: a device that cannot be read (no permission, no medium) shows no
/// signatures rather than failing the whole listing.
///
/// A probe that fails (an unreadable first sector, a medium that went away) is not "no
/// signatures": the second value says why the signatures are unknown.
pub fn probe_or_unknown(path: &Path) -> (Vec<Signature>, Option<String>) {
    match probe(path) {
        Ok(s) => (s, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn blank_image_has_no_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("blank.img");
        std::fs::write(&img, vec![0u8; 1 << 20]).unwrap();
        assert_eq!(probe(&img).unwrap(), vec![]);
    }

    #[test]
    fn ext4_image_is_found_with_label_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("fs.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(8 << 20)
            .unwrap();
        let ok = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "payroll"])
            .arg(&img)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfs.ext4 failed");
        let sigs = probe(&img).unwrap();
        assert_eq!(sigs.len(), 1, "{sigs:?}");
        assert_eq!(sigs[0].kind, SignatureKind::Filesystem);
        assert_eq!(sigs[0].type_name, "ext4");
        assert_eq!(sigs[0].label.as_deref(), Some("payroll"));
        assert_eq!(sigs[0].offset, Some(0x438));
        assert!(sigs[0].uuid.is_some());
    }

    #[test]
    fn gpt_image_is_a_partition_table() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("gpt.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(8 << 20)
            .unwrap();
        let mut child = Command::new("sfdisk")
            .arg("--quiet")
            .arg(&img)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"label: gpt\n,,L\n")
            .unwrap();
        assert!(child.wait().unwrap().success());
        let sigs = probe(&img).unwrap();
        assert!(
            sigs.iter()
                .any(|s| s.kind == SignatureKind::PartitionTable && s.type_name == "gpt"),
            "{sigs:?}"
        );
    }

    #[test]
    fn missing_file_is_a_probe_error() {
        assert!(probe(Path::new("/nonexistent/massho.img")).is_err());
        let (found, unknown) = probe_or_unknown(Path::new("/nonexistent/massho.img"));
        assert!(found.is_empty());
        assert!(
            unknown.is_some(),
            "a failed probe must not read as 'no signatures'"
        );
    }
}
