//! `massho devices` and `device::inspect` against real loop devices, mounts and the running
//! system's own root disk (read only).

mod common;

use std::path::{Path, PathBuf};

use common::{massho, require_root, run_ok, LoopDevice, Mount};
use massho::device::{inspect, DeviceKind, Refusal, SignatureKind, Transport};
use serde_json::Value;

/// `massho devices --json`, parsed.
fn devices_json() -> Vec<Value> {
    let out = run_ok(massho().args(["devices", "--json"]));
    match serde_json::from_str(&out) {
        Ok(Value::Array(a)) => a,
        other => panic!("devices --json is not an array: {other:?}\n{out}"),
    }
}

/// The entry for `dev` in `massho devices --json`.
fn listed(dev: &Path) -> Value {
    let all = devices_json();
    all.iter()
        .find(|d| d["path"] == dev.to_str().unwrap())
        .cloned()
        .unwrap_or_else(|| panic!("{} not listed in {all:#?}", dev.display()))
}

fn reasons(d: &Value) -> Vec<String> {
    d["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .collect()
}

fn signature_types(d: &Value) -> Vec<String> {
    d["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type_name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn fresh_loop_devices_are_listed_and_wipeable() {
    for sector in [512u32, 4096] {
        let dev = LoopDevice::new(64 << 20, sector);
        let d = listed(dev.path());
        assert_eq!(d["size_bytes"], 64u64 << 20, "{d:#}");
        assert_eq!(d["logical_sector_size"], sector, "{d:#}");
        assert_eq!(d["transport"], "loop");
        assert_eq!(d["kind"], "loop");
        assert_eq!(d["media_class"], "virtual");
        assert_eq!(d["backing_file"], dev.backing().to_str().unwrap(), "{d:#}");
        assert_eq!(d["refusals"], serde_json::json!([]), "{d:#}");
        assert_eq!(d["signatures"], serde_json::json!([]), "{d:#}");
    }
}

#[test]
fn a_backing_file_name_with_escape_sequences_is_shown_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("disk\x1b[2J\x1b]0;owned\x07.img");
    std::fs::File::create(&file)
        .and_then(|f| f.set_len(8 << 20))
        .unwrap();
    let dev = LoopDevice::over(&file, 512);
    let table = run_ok(massho().arg("devices"));
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("{}: ", dev.path().display())))
        .unwrap_or_else(|| panic!("no detail line for {}:\n{table}", dev.path().display()));
    assert!(
        line.contains("backing file ") && line.contains("disk\\u{1b}[2J\\u{1b}]0;owned\\u{7}.img"),
        "{line:?}"
    );
    assert!(!table.contains(['\x1b', '\x07']), "{table:?}");
}

#[test]
fn mounted_loop_device_is_refused_until_unmounted() {
    let dev = LoopDevice::new(64 << 20, 512);
    let mount = Mount::ext4(&dev);
    let d = listed(dev.path());
    let refusals = d["refusals"].as_array().unwrap();
    assert!(
        refusals.iter().any(|r| r["reason"] == "mounted"
            && r["device"] == dev.path().to_str().unwrap()
            && r["mountpoint"] == mount.dir.path().to_str().unwrap()),
        "{d:#}"
    );
    assert!(signature_types(&d).contains(&"ext4".to_owned()), "{d:#}");

    // The table says why, in words.
    let table = run_ok(massho().arg("devices"));
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("{} ", dev.path().display())))
        .unwrap_or_else(|| panic!("no row for {} in\n{table}", dev.path().display()));
    assert!(
        line.contains(&format!(
            "NO: {} is mounted at {}",
            dev.path().display(),
            mount.dir.path().display()
        )),
        "{line}"
    );
    assert!(line.contains("ext4"), "{line}");

    drop(mount);
    let d = listed(dev.path());
    assert_eq!(d["refusals"], serde_json::json!([]), "{d:#}");
}

#[test]
fn gpt_disk_is_refused_when_a_partition_is_mounted() {
    let dev = LoopDevice::new_partitioned(64 << 20, 512, "label: gpt\n,32M,L\n,,L\n");
    let d = listed(dev.path());
    assert_eq!(d["kind"], "loop");
    assert!(signature_types(&d).contains(&"gpt".to_owned()), "{d:#}");
    assert!(
        d["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "partition_table" && s["uuid"].is_string()),
        "{d:#}"
    );
    assert_eq!(d["refusals"], serde_json::json!([]), "{d:#}");

    let mount = Mount::ext4_partition(&dev, 2);
    let part = dev.partition_path(2);
    let d = listed(dev.path());
    let refusals = d["refusals"].as_array().unwrap();
    assert!(
        refusals.iter().any(|r| r["reason"] == "mounted"
            && r["device"] == part.to_str().unwrap()
            && r["mountpoint"] == mount.dir.path().to_str().unwrap()),
        "{d:#}"
    );

    // The partition itself: kind, parent, its own size, the disk's transport, and refused.
    let p = inspect(&part).unwrap();
    assert_eq!(p.kind, DeviceKind::Partition);
    assert_eq!(p.parent.as_deref(), Some(dev.path()));
    assert_eq!(p.transport, Transport::Loop);
    assert_eq!(p.backing_file.as_deref(), Some(dev.backing()));
    assert!(p.size_bytes > 0 && p.size_bytes < 64 << 20, "{p:?}");
    assert!(p
        .signatures
        .iter()
        .any(|s| s.kind == SignatureKind::Filesystem && s.type_name == "ext4"));
    assert!(
        p.refusals.contains(&Refusal::Mounted {
            device: part.clone(),
            mountpoint: mount.dir.path().to_owned(),
        }),
        "{:?}",
        p.refusals
    );
    // The other partition is not in use.
    assert!(inspect(&dev.partition_path(1)).unwrap().wipeable());

    drop(mount);
    assert!(inspect(dev.path()).unwrap().wipeable());
}

#[test]
fn inspect_follows_a_by_id_style_symlink() {
    let dev = LoopDevice::new(32 << 20, 4096);
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-Massho_Test_Disk_0000001");
    std::os::unix::fs::symlink(dev.path(), &link).unwrap();

    let direct = inspect(dev.path()).unwrap();
    let via_link = inspect(&link).unwrap();
    assert_eq!(
        via_link.path, link,
        "the path stays as the operator typed it"
    );
    assert_eq!(via_link.name, direct.name);
    assert_eq!(via_link.kind, DeviceKind::Loop);
    assert_eq!(via_link.size_bytes, 32 << 20);
    assert_eq!(via_link.logical_sector_size, 4096);
    assert_eq!(via_link.backing_file.as_deref(), Some(dev.backing()));
    assert_eq!(via_link.refusals, direct.refusals);
}

#[test]
fn image_file_that_backs_a_loop_device_is_refused() {
    let dev = LoopDevice::new(16 << 20, 512);
    let info = inspect(dev.backing()).unwrap();
    assert_eq!(info.kind, DeviceKind::File);
    assert_eq!(info.size_bytes, 16 << 20);
    assert_eq!(
        info.refusals,
        vec![Refusal::Held {
            device: dev.backing().to_owned(),
            holder: format!("loop device {}", dev.path().display()),
        }]
    );
}

#[test]
fn disk_holding_the_root_filesystem_is_not_wipeable() {
    require_root();
    let root_disks = root_disk_names();
    assert!(
        !root_disks.is_empty(),
        "cannot find the disk under / in /proc/self/mountinfo"
    );
    let all = devices_json();
    for name in &root_disks {
        let d = all
            .iter()
            .find(|d| d["name"] == name.as_str())
            .unwrap_or_else(|| panic!("root disk {name} not listed: {all:#?}"));
        let r = reasons(d);
        assert!(r.iter().any(|r| r == "root_filesystem"), "{d:#}");
        assert_eq!(d["kind"], "disk");
    }
}

/// The whole disks under `/`, found independently of massho: mountinfo's device number, then
/// sysfs `slaves/` down and partitions up.
fn root_disk_names() -> Vec<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = mountinfo
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .expect("no mount at /");
    let devnum = root.split(' ').nth(2).unwrap();
    let mut todo = vec![std::fs::canonicalize(format!("/sys/dev/block/{devnum}"))
        .unwrap_or_else(|e| panic!("/ is on {devnum}, which is not a block device: {e}"))];
    let mut disks = Vec::new();
    while let Some(sys) = todo.pop() {
        let slaves: Vec<PathBuf> = std::fs::read_dir(sys.join("slaves"))
            .map(|rd| {
                rd.map(|e| std::fs::canonicalize(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        if !slaves.is_empty() {
            todo.extend(slaves);
            continue;
        }
        let disk = if sys.join("partition").exists() {
            sys.parent().unwrap().to_owned()
        } else {
            sys
        };
        disks.push(disk.file_name().unwrap().to_string_lossy().into_owned());
    }
    disks
}

/// `swapoff` on drop, so a failing test does not leave its loop device busy as swap.
struct SwapOn(PathBuf);

impl Drop for SwapOn {
    fn drop(&mut self) {
        let _ = std::process::Command::new("swapoff").arg(&self.0).status();
    }
}

#[test]
fn active_swap_is_refused() {
    let dev = LoopDevice::new(32 << 20, 512);
    run_ok(std::process::Command::new("mkswap").arg(dev.path()));
    let d = inspect(dev.path()).unwrap();
    assert!(d.wipeable(), "{:?}", d.refusals);
    assert!(d.signatures.iter().any(|s| s.type_name == "swap"));

    run_ok(std::process::Command::new("swapon").arg(dev.path()));
    let swap = SwapOn(dev.path().to_owned());
    let d = listed(dev.path());
    assert_eq!(reasons(&d), vec!["swap"], "{d:#}");
    drop(swap);
    assert!(inspect(dev.path()).unwrap().wipeable());
}

#[test]
fn disk_holding_a_loop_backing_file_is_refused() {
    let outer = LoopDevice::new(64 << 20, 512);
    let mount = Mount::ext4(&outer);
    let image = mount.dir.path().join("inner.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let inner = LoopDevice::over(&image, 512);

    let o = inspect(outer.path()).unwrap();
    assert!(
        o.refusals.contains(&Refusal::BacksLoop {
            device: outer.path().to_owned(),
            loop_device: inner.path().to_owned(),
        }),
        "{:?}",
        o.refusals
    );
    assert!(inspect(inner.path()).unwrap().wipeable());
    drop(inner);
    assert!(!inspect(outer.path())
        .unwrap()
        .refusals
        .iter()
        .any(|r| matches!(r, Refusal::BacksLoop { .. })));
}

#[test]
fn read_only_device_is_refused() {
    let dev = LoopDevice::new(16 << 20, 512);
    run_ok(
        std::process::Command::new("blockdev")
            .arg("--setro")
            .arg(dev.path()),
    );
    let d = inspect(dev.path()).unwrap();
    run_ok(
        std::process::Command::new("blockdev")
            .arg("--setrw")
            .arg(dev.path()),
    );
    assert!(d.read_only);
    assert_eq!(
        d.refusals,
        vec![Refusal::ReadOnly {
            device: dev.path().to_owned()
        }]
    );
    assert!(inspect(dev.path()).unwrap().wipeable());
}

/// A loop device has no firmware: discovery must not ask it, must not fail, must not wait, and
/// must leave purge support, hidden areas and health absent (never "none found"). SG_IO on the
/// real loop driver is refused by the kernel at once.
#[test]
fn loop_devices_have_no_firmware_to_ask() {
    let dev = LoopDevice::new(16 << 20, 512);
    let start = std::time::Instant::now();
    let info = inspect(dev.path()).unwrap();
    let took = start.elapsed();
    assert!(
        took < std::time::Duration::from_secs(2),
        "inspect took {took:?}"
    );
    assert_eq!(info.kind, DeviceKind::Loop);
    assert!(info.sanitize.is_none() && info.hidden.is_none() && info.health.is_none());
    assert!(info.drive_identity.is_none() && info.firmware_unknown.is_none());
    let d = listed(dev.path());
    for key in [
        "sanitize",
        "hidden",
        "health",
        "drive_identity",
        "firmware_unknown",
    ] {
        assert!(d.get(key).is_none(), "{key} in {d:#}");
    }

    // Asked anyway, the real SG_IO path fails fast with a typed error, not a hang.
    let start = std::time::Instant::now();
    let e = massho::device::drive::probe::probe_sg(dev.path()).unwrap_err();
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
    assert!(
        matches!(
            e,
            massho::device::transport::TransportError::Ioctl { what: "SG_IO", .. }
        ),
        "{e}"
    );
}

/// On a machine where no drive is frozen (this one: virtio and loop devices, no ATA security),
/// `massho unfreeze` says so and never suspends the machine, even with --yes.
#[test]
fn unfreeze_with_no_frozen_drive_does_nothing() {
    // Never suspend a test machine: only run where no drive is frozen.
    let any_frozen = devices_json().iter().any(|d| {
        d["sanitize"]["blocked_by"].as_array().is_some_and(|b| {
            b.iter()
                .any(|x| x["state"].as_str().unwrap_or("").ends_with("frozen"))
        })
    });
    if any_frozen {
        eprintln!("a drive of this machine is frozen: not running `massho unfreeze` here");
        return;
    }
    let out = massho().args(["unfreeze", "--yes"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("nothing to do"), "{stdout}");
}
