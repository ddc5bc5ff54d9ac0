//! massho in a QEMU guest, against the real Linux drivers of emulated NVMe, SATA (AHCI), SCSI
//! (virtio-scsi), USB (usb-storage) and virtio-blk disks, through `packaging/vm/run.sh`.
//!
//! The tests build nothing themselves: the rig puts the binary cargo built for this test run
//! (`CARGO_BIN_EXE_massho`, via `MASSHO_BIN`) into the guest. The disks are sparse files in a
//! temporary directory of the test, filled here with a non-zero pattern before the boot, and
//! judged here from those files after the guest powered off, never from massho's own report. The
//! guest touches no disk of this host: its only disks are the ones QEMU emulates over those files.
//!
//! Without the kernel package (no registry) these tests fail, loudly: CI must be able to run them.
//! See docs/testing.md ("The QEMU guest rig").

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::require_root;

const DISK_SIZE: u64 = 32 << 20;
/// Past 2^24 sectors of 512 bytes (8 GiB): a max LBA fixed-format sense cannot carry.
const BIG: u64 = 16 << 30;
const FILL: u8 = 0xA5;
/// Every disk kind the rig emulates, with the serial the test gives it.
const DISKS: [(&str, &str); 5] = [
    ("nvme", "vm-nvme-1"),
    ("sata", "vm-sata-1"),
    ("scsi", "vm-scsi-1"),
    ("usb", "vm-usb-1"),
    ("virtio", "vm-virtio-1"),
];

/// One VM at a time: the machines running CI have two cores and TCG keeps one busy per guest.
static VM: Mutex<()> = Mutex::new(());

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the rig with the given disks and guest script, output into `dir`.
fn run_vm(dir: &Path, disks: &[(&str, &str)], script: &str, timeout_s: u32) -> Output {
    run_vm_with(dir, disks, &[], script, timeout_s)
}

fn run_vm_with(
    dir: &Path,
    disks: &[(&str, &str)],
    tools: &[&str],
    script: &str,
    timeout_s: u32,
) -> Output {
    let sized: Vec<(&str, u64, &str)> = disks.iter().map(|(k, s)| (*k, DISK_SIZE, *s)).collect();
    run_vm_sized(dir, &sized, tools, script, timeout_s)
}

/// Disks as (kind, size in bytes, serial).
fn run_vm_sized(
    dir: &Path,
    disks: &[(&str, u64, &str)],
    tools: &[&str],
    script: &str,
    timeout_s: u32,
) -> Output {
    require_root();
    let _one_at_a_time = VM.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new(repo().join("packaging/vm/run.sh"));
    cmd.arg("--out").arg(dir);
    cmd.arg("--timeout").arg(timeout_s.to_string());
    for (kind, size, serial) in disks {
        cmd.arg("--disk").arg(format!("{kind}:{size}:{serial}"));
    }
    for tool in tools {
        cmd.arg("--tool").arg(tool);
    }
    cmd.arg("--").arg(repo().join("tests/vm").join(script));
    // Hermetic: only the rig's own settings (cache, kernel pin, accelerator) pass through.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("MASSHO_") && !key.starts_with("MASSHO_VM_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("MASSHO_BIN", env!("CARGO_BIN_EXE_massho"));
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run packaging/vm/run.sh: {e}"))
}

/// What the rig printed and the guest's console, for a failure message.
fn describe(dir: &Path, out: &Output) -> String {
    let console = std::fs::read_to_string(dir.join("console.log")).unwrap_or_default();
    let tail: Vec<&str> = console.lines().rev().take(60).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!(
        "run.sh exited with {}\nvm-status: {}\nrun.sh stderr:\n{}\nconsole.log (last 60 lines):\n{}",
        out.status,
        std::fs::read_to_string(dir.join("vm-status")).unwrap_or_else(|_| "(none)".into()),
        String::from_utf8_lossy(&out.stderr),
        tail.join("\n")
    )
}

fn backing_file(dir: &Path, serial: &str) -> PathBuf {
    dir.join(format!("disk-{serial}.img"))
}

/// Whether every byte of the file equals `byte` (read in 1 MiB pieces).
fn all_bytes_are(path: &Path, byte: u8) -> bool {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if n == 0 {
            return true;
        }
        if buf[..n].iter().any(|&b| b != byte) {
            return false;
        }
    }
}

fn read_out(dir: &Path, name: &str) -> String {
    let path = dir.join("out").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the guest left no {}: {e}", path.display()))
}

/// serial -> /dev node, as the rig selected it from sysfs in the guest.
fn selected_devices(dir: &Path) -> BTreeMap<String, String> {
    read_out(dir, "disks.txt")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(s, d)| (s.to_string(), d.to_string()))
        .collect()
}

/// One boot carries both checks (a boot under TCG costs 10-20 s): identity first, then the wipe.
#[test]
fn guest_lists_and_certifiably_overwrites_every_disk_kind() {
    let dir = tempfile::Builder::new()
        .prefix("massho-vm-test.")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
    for (_, serial) in DISKS {
        let fill = vec![FILL; DISK_SIZE as usize];
        std::fs::write(backing_file(dir.path(), serial), fill)
            .unwrap_or_else(|e| panic!("cannot fill the backing file of {serial}: {e}"));
    }
    let out = run_vm(dir.path(), &DISKS, "identity_and_wipe.sh", 900);
    let failure = (!out.status.success()).then(|| describe(dir.path(), &out));
    // The listing is made before the wipe: judge it even if the wipe failed.
    check_identity(dir.path(), failure.as_deref());
    if let Some(failure) = &failure {
        panic!("the guest run failed:\n{failure}");
    }
    check_certified_overwrite(dir.path());
}

/// `massho devices --json` in the guest lists every disk kind with the serial QEMU was given.
fn check_identity(dir: &Path, failure: Option<&str>) {
    let context = failure.unwrap_or("");
    assert!(
        dir.join("out/devices.json").is_file(),
        "the guest left no devices.json\n{context}"
    );
    let listing: serde_json::Value = serde_json::from_str(&read_out(dir, "devices.json"))
        .unwrap_or_else(|e| panic!("devices.json from the guest is not JSON: {e}\n{context}"));
    let listing = listing.as_array().expect("devices --json prints an array");
    let selected = selected_devices(dir);
    for (kind, serial) in DISKS {
        let entry = listing
            .iter()
            .find(|d| d["serial"] == serial)
            .unwrap_or_else(|| panic!("massho devices --json in the guest does not list the {kind} disk with serial {serial}: {listing:#?}\n{context}"));
        assert_eq!(
            entry["path"].as_str(),
            selected.get(serial).map(String::as_str),
            "{kind} disk {serial}: massho's path differs from the one the rig found by sysfs serial"
        );
        assert_eq!(entry["size_bytes"], DISK_SIZE, "{kind} disk {serial}: size");
        let transports: &[&str] = match kind {
            "nvme" => &["nvme"],
            "sata" => &["sata"],
            "usb" => &["usb"],
            "virtio" => &["virtio"],
            // scsi-hd behind virtio-scsi: the bus is SCSI, the host adapter virtio.
            _ => &["scsi", "virtio"],
        };
        let transport = entry["transport"].as_str().unwrap_or("(none)");
        assert!(
            transports.contains(&transport),
            "{kind} disk {serial}: transport {transport}, expected one of {transports:?}"
        );
        assert_eq!(
            entry["refusals"].as_array().map(Vec::len),
            Some(0),
            "{kind} disk {serial} should be wipeable: {entry:#}"
        );
        check_firmware_answers(kind, serial, entry);
    }
}

/// What the real Linux drivers in the guest carried back from QEMU's emulated firmware: the
/// drive's own identity, the purge techniques it reports, hidden areas and health — through
/// SG_IO ATA PASS-THROUGH (libata), SG_IO SCSI (usb-storage) and the NVMe admin ioctl.
fn check_firmware_answers(kind: &str, serial: &str, entry: &serde_json::Value) {
    let own = &entry["drive_identity"];
    match kind {
        "nvme" => {
            assert_eq!(own["source"], "nvme_identify", "{entry:#}");
            assert_eq!(own["serial"], serial, "{entry:#}");
            // QEMU: Format NVM supported (OACS bit 1), SANICAP 0, FNA 0 (no crypto erase).
            let techniques = entry["sanitize"]["techniques"].to_string();
            assert!(techniques.contains("nvme_format_user_data"), "{entry:#}");
            assert!(!techniques.contains("crypto"), "{entry:#}");
            assert!(!techniques.contains("nvme_sanitize"), "{entry:#}");
            assert_eq!(entry["health"]["passed"], true, "{entry:#}");
            assert_eq!(entry["health"]["media_errors"], 0, "{entry:#}");
        }
        "sata" => {
            assert_eq!(own["source"], "ata_identify", "{entry:#}");
            assert_eq!(own["serial"], serial, "{entry:#}");
            // QEMU's AHCI disk answers READ NATIVE MAX ADDRESS EXT with its full size: no HPA.
            assert_eq!(entry["hidden"]["state"], "none", "{entry:#}");
            assert_eq!(
                entry["hidden"]["native_sectors"], entry["hidden"]["accessible_sectors"],
                "{entry:#}"
            );
            assert_eq!(
                entry["hidden"]["accessible_sectors"],
                DISK_SIZE / 512,
                "{entry:#}"
            );
            // No SANITIZE or SECURITY feature set is claimed by QEMU's IDENTIFY.
            assert_eq!(
                entry["sanitize"]["techniques"],
                serde_json::json!([]),
                "{entry:#}"
            );
            assert_eq!(entry["health"]["passed"], true, "{entry:#}");
        }
        // usb-storage and virtio-scsi: plain SCSI (QEMU's scsi-hd has no SAT layer).
        "usb" | "scsi" => {
            assert_eq!(own["source"], "scsi_inquiry", "{entry:#}");
            assert_eq!(own["serial"], serial, "{entry:#}");
        }
        _ => {}
    }
}

/// Every disk's certificate verifies on the host, and every backing file is all zeros.
fn check_certified_overwrite(dir: &Path) {
    // Certificates signed in the guest, verified here by the host's massho.
    let certs = dir.join("out/certs");
    let verify = Command::new(env!("CARGO_BIN_EXE_massho"))
        .args(["cert", "verify", "--pubkey"])
        .arg(dir.join("out/key/vm.pub"))
        .arg(&certs)
        .output()
        .unwrap_or_else(|e| panic!("cannot run massho cert verify: {e}"));
    let verdicts = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "massho cert verify on the guest's certificates: {}\n{verdicts}{}",
        verify.status,
        String::from_utf8_lossy(&verify.stderr)
    );
    let certified: BTreeSet<&str> = verdicts
        .lines()
        .filter(|l| l.starts_with("OK ") && l.contains(" status=passed"))
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("serial=")))
        .collect();
    let expected: BTreeSet<&str> = DISKS.iter().map(|(_, s)| *s).collect();
    assert_eq!(certified, expected, "certified serials:\n{verdicts}");
    // The wipe ran with --hidden restore: nothing was hidden, so nothing was restored.
    let results = std::fs::read_dir(dir.join("out/results"))
        .unwrap_or_else(|e| panic!("the guest left no results directory: {e}"));
    let mut judged = 0;
    for file in results.flatten() {
        judged += 1;
        let text = std::fs::read_to_string(file.path()).unwrap_or_default();
        let r: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.path().display()));
        assert!(r.get("hidden_restore").is_none(), "{r:#}");
        assert_eq!(r["sanitization"]["nist_category"], "clear", "{r:#}");
    }
    assert_eq!(judged, DISKS.len(), "one result per disk");
    for (kind, serial) in DISKS {
        let file = backing_file(dir, serial);
        assert!(
            all_bytes_are(&file, 0),
            "the {kind} disk {serial}: its backing file {} is not all zeros after the wipe",
            file.display()
        );
    }
}

#[test]
fn rig_returns_the_guest_exit_code_copies_out_back_and_adds_tools() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let out = run_vm_with(dir.path(), &[], &["/usr/sbin/blkid"], "exit_code.sh", 300);
    assert_eq!(out.status.code(), Some(7), "{}", describe(dir.path(), &out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("vm-status"))
            .ok()
            .as_deref(),
        Some("exit 7\n")
    );
    let hello = read_out(dir.path(), "nested/hello.txt");
    assert!(hello.starts_with("hello from 6.1.0-"), "{hello}");
    assert_eq!(read_out(dir.path(), "massho-path").trim(), "/bin/massho");
    let blkid = read_out(dir.path(), "blkid-version");
    assert!(
        blkid.contains("util-linux"),
        "--tool /usr/sbin/blkid in the guest: {blkid}"
    );
}

#[test]
fn rig_tells_timeouts_and_setup_failures_from_guest_failures() {
    // A guest that cannot boot in 2 s: 124 and "timeout", whatever the script would have done.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let out = run_vm(dir.path(), &[], "exit_code.sh", 2);
    assert_eq!(
        out.status.code(),
        Some(124),
        "{}",
        describe(dir.path(), &out)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("vm-status"))
            .ok()
            .as_deref(),
        Some("timeout\n")
    );
    // A disk kind the rig does not know: 125 before anything boots, naming the kinds.
    let out = run_vm(dir.path(), &[("floppy", "f1")], "exit_code.sh", 300);
    assert_eq!(
        out.status.code(),
        Some(125),
        "{}",
        describe(dir.path(), &out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown kind floppy"), "{stderr}");
    assert!(!dir.path().join("disk-f1.img").exists());
}

/// Firmware purge against QEMU's emulation through the real drivers: refused where the drive
/// offers nothing (SATA, SCSI) or not the technique asked for (crypto on QEMU's NVMe, whose
/// Format would silently ignore SES=2), with the data untouched; the NVMe Format user-data
/// erase end to end, judged from the backing file.
#[test]
fn guest_purges_nvme_by_format_and_refuses_what_a_drive_cannot_do() {
    let dir = tempfile::Builder::new()
        .prefix("massho-vm-purge.")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
    let disks = [
        ("nvme", "vm-nvme-p"),
        ("sata", "vm-sata-p"),
        ("scsi", "vm-scsi-p"),
    ];
    for (_, serial) in disks {
        std::fs::write(
            backing_file(dir.path(), serial),
            vec![FILL; DISK_SIZE as usize],
        )
        .unwrap_or_else(|e| panic!("cannot fill the backing file of {serial}: {e}"));
    }
    // And a sparse 16 GiB AHCI disk, only listed: its native max LBA needs more than 24 bits,
    // read through the real libata. (This guest kernel answers CK_COND pass-through in
    // descriptor format already; where a kernel answers in fixed format, the probe switches
    // the Control mode page's D_SENSE, which only the fakes exercise.)
    let mut sized: Vec<(&str, u64, &str)> =
        disks.iter().map(|(k, s)| (*k, DISK_SIZE, *s)).collect();
    sized.push(("sata", BIG, "vm-sata-big"));
    let out = run_vm_sized(dir.path(), &sized, &[], "purge.sh", 900);
    assert!(out.status.success(), "{}", describe(dir.path(), &out));
    let exit = |name: &str| {
        read_out(dir.path(), &format!("{name}.exit"))
            .trim()
            .to_owned()
    };
    // 1. Nothing to purge with on the AHCI and virtio-SCSI disks: refused, exit 3, untouched.
    for (kind, serial) in [("sata", "vm-sata-p"), ("scsi", "vm-scsi-p")] {
        let stderr = read_out(dir.path(), &format!("purge-{kind}.stderr"));
        assert_eq!(exit(&format!("purge-{kind}")), "3", "{kind}: {stderr}");
        assert!(
            stderr.contains("no firmware purge technique")
                && stderr.contains("NIST SP 800-88 Clear"),
            "{kind}: the refusal names why and the alternatives: {stderr}"
        );
        let json = read_out(dir.path(), &format!("purge-{kind}.ndjson"));
        assert!(json.contains("\"event\":\"refused\""), "{kind}: {json}");
        assert!(
            all_bytes_are(&backing_file(dir.path(), serial), FILL),
            "the {kind} disk was written although its purge was refused"
        );
    }
    // 2. Crypto erase asked of a controller that does not report it: refused before sending.
    let crypto = read_out(dir.path(), "crypto-nvme.stderr");
    assert_eq!(exit("crypto-nvme"), "3", "{crypto}");
    assert!(
        crypto.contains("nvme-format-crypto was asked for")
            && crypto.contains("it reports nvme-format-user-data"),
        "{crypto}"
    );
    // 3./4. The overwrite with ones (not read back: exit 6, unverified), then the purge: exit
    // 0, the disk all zeros.
    assert_eq!(
        exit("ones-nvme"),
        "6",
        "{}",
        read_out(dir.path(), "ones-nvme.stderr")
    );
    let stderr = read_out(dir.path(), "purge-nvme.stderr");
    assert_eq!(exit("purge-nvme"), "0", "{stderr}");
    let nvme = backing_file(dir.path(), "vm-nvme-p");
    assert!(
        all_bytes_are(&nvme, 0),
        "the NVMe disk {} is not all zeros after its Format",
        nvme.display()
    );
    // The result names the command sent and what verification found.
    let results: Vec<PathBuf> = std::fs::read_dir(dir.path().join("out/results"))
        .unwrap_or_else(|e| panic!("no results from the guest: {e}"))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    let result: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&results[0]).unwrap_or_else(|e| panic!("result: {e}")),
    )
    .unwrap_or_else(|e| panic!("result JSON: {e}"));
    assert_eq!(result["status"], "passed", "{result:#}");
    assert_eq!(
        result["sanitization"]["nist_category"], "purge",
        "{result:#}"
    );
    let fw = &result["firmware"][0];
    assert_eq!(fw["technique"], "nvme-format-user-data", "{result:#}");
    assert_eq!(fw["requested"], "purge", "{result:#}");
    assert_eq!(fw["outcome"], "completed", "{result:#}");
    let format = fw["commands"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "format_nvm"))
        .unwrap_or_else(|| panic!("no format_nvm command recorded: {result:#}"));
    let sent = format["sent"].as_str().unwrap_or_default();
    // Opcode 0x80, namespace 1, CDW10: SES=1 in bits 11:9 (0x200), LBA format 0.
    assert!(
        sent.starts_with("opcode=0x80 nsid=0x1 cdw10=0x00000200"),
        "{sent}"
    );
    assert_eq!(format["answer"], "success", "{result:#}");
    assert!(
        fw["check"]["method"] == "read_back" || fw["check"]["method"] == "fingerprints",
        "{result:#}"
    );
    assert_eq!(result["verification"]["mismatched_bytes"], 0, "{result:#}");
    // The certificate of the purge verifies on the host and says Purge.
    let verify = Command::new(env!("CARGO_BIN_EXE_massho"))
        .args(["cert", "verify", "--pubkey"])
        .arg(dir.path().join("out/key/vm.pub"))
        .arg(dir.path().join("out/certs"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run massho cert verify: {e}"));
    let verdicts = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "{verdicts}");
    assert!(
        verdicts.contains("serial=vm-nvme-p") && verdicts.contains("status=passed"),
        "{verdicts}"
    );
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&read_out(dir.path(), "devices.json"))
            .unwrap_or_else(|e| panic!("devices.json: {e}"));
    let big = listed
        .iter()
        .find(|d| d["drive_identity"]["serial"] == "vm-sata-big")
        .unwrap_or_else(|| panic!("the 16 GiB disk is not listed: {listed:#?}"));
    assert_eq!(big["hidden"]["state"], "none", "{big:#}");
    assert_eq!(big["hidden"]["native_sectors"], BIG / 512, "{big:#}");
    assert_eq!(big["hidden"]["accessible_sectors"], BIG / 512, "{big:#}");
    // For the benchmark notes: printed, never asserted.
    eprintln!(
        "timings (guest uptime seconds):\n{}",
        read_out(dir.path(), "timings.txt")
    );
}

/// A disk pulled from the station mid-wipe, for real: in the guest, the station (NDJSON) sees a
/// virtio-SCSI disk hot-plugged (a SCSI rescan), starts wiping it, and the disk is then removed
/// from the kernel (`/sys/block/sdX/device/delete`, what a hot-unplug does); its writes then fail
/// with ENOSPC, not ENODEV. The station must say `detached`, record the drive *aborted* (not
/// failed, not finished) with the removal as the reason, and go on to wipe the next disk
/// plugged in, which the host finds all zeros.
#[test]
fn station_records_a_disk_pulled_mid_wipe_as_aborted_and_wipes_the_next() {
    let dir = tempfile::Builder::new()
        .prefix("massho-vm-station.")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
    // The pulled disk is big (sparse) so that its wipe is still writing when it is pulled; the
    // next one is filled, to be judged.
    std::fs::write(
        backing_file(dir.path(), "vm-scsi-next"),
        vec![FILL; DISK_SIZE as usize],
    )
    .unwrap_or_else(|e| panic!("cannot fill the backing file: {e}"));
    let disks = [
        ("scsi", 2 << 30, "vm-scsi-pull"),
        ("scsi", DISK_SIZE, "vm-scsi-next"),
    ];
    let out = run_vm_sized(dir.path(), &disks, &[], "station_detach.sh", 900);
    assert!(out.status.success(), "{}", describe(dir.path(), &out));
    let context = || {
        format!(
            "station stderr:\n{}\n{}",
            read_out(dir.path(), "station.stderr"),
            describe(dir.path(), &out)
        )
    };
    assert_eq!(
        read_out(dir.path(), "station.exit").trim(),
        "0",
        "{}",
        context()
    );
    let events: Vec<serde_json::Value> = read_out(dir.path(), "station.ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let attached: BTreeMap<String, String> = read_out(dir.path(), "disks.txt")
        .lines()
        .filter_map(|l| l.strip_prefix("attached "))
        .filter_map(|l| l.split_once(' '))
        .map(|(s, d)| (s.to_owned(), d.to_owned()))
        .collect();
    let pulled = attached
        .get("vm-scsi-pull")
        .unwrap_or_else(|| panic!("the pulled disk never came back: {}", context()));
    // Events of the first wipe: those before the second disk's `attached`.
    let second = events
        .iter()
        .position(|e| e["event"] == "attached" && e["serial"] == "vm-scsi-next")
        .unwrap_or_else(|| panic!("the next disk was never attached: {events:#?}"));
    let first = &events[..second];
    assert!(
        first.iter().any(|e| e["event"] == "detached"
            && e["device"] == pulled.as_str()
            && e["while_wiping"] == true),
        "no `detached` event while wiping {pulled}: {first:#?}"
    );
    assert!(
        first.iter().any(|e| e["event"] == "progress"),
        "the wipe was not running when the disk was pulled"
    );
    let finished = first
        .iter()
        .find(|e| e["event"] == "finished")
        .unwrap_or_else(|| panic!("no `finished` for the pulled disk: {first:#?}"));
    assert_eq!(finished["status"], "aborted", "{finished:#}");
    let recorded = first
        .iter()
        .find(|e| e["event"] == "recorded")
        .unwrap_or_else(|| panic!("the pulled disk was not recorded: {first:#?}"));
    assert_eq!(recorded["status"], "aborted", "{recorded:#}");
    // Its result and journal entry, as the guest wrote them.
    // A path the guest printed (under its mount of the out disk), by its file name.
    let file_name = |guest: &serde_json::Value| {
        let path = guest
            .as_str()
            .unwrap_or_else(|| panic!("not a path: {guest}"));
        Path::new(path)
            .file_name()
            .unwrap_or_else(|| panic!("no file name in {path}"))
            .to_string_lossy()
            .into_owned()
    };
    let result_name = file_name(&recorded["result_file"]);
    let result: serde_json::Value =
        serde_json::from_str(&read_out(dir.path(), &format!("results/{result_name}")))
            .expect("the result is JSON");
    assert_eq!(result["status"], "aborted", "{result:#}");
    assert_eq!(result["serial"], "vm-scsi-pull", "{result:#}");
    assert!(
        result["abandoned"]
            .as_str()
            .is_some_and(|a| a.contains("removed while it was being wiped")),
        "the reason does not name the removal: {result:#}"
    );
    let journal: Vec<serde_json::Value> = std::fs::read_dir(dir.path().join("out/journal"))
        .unwrap_or_else(|e| panic!("no journal from the guest: {e}"))
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
        .collect();
    let entry = journal
        .iter()
        .find(|e| e["serial"] == "vm-scsi-pull")
        .unwrap_or_else(|| panic!("no journal entry for the pulled disk: {journal:#?}"));
    assert_eq!(entry["closed"]["status"], "aborted", "{entry:#}");
    // The station went on: the next disk passed, is all zeros, and its certificate verifies.
    let next = events[second..]
        .iter()
        .find(|e| e["event"] == "recorded")
        .unwrap_or_else(|| panic!("the next disk was not recorded: {events:#?}"));
    assert_eq!(next["status"], "passed", "{next:#}");
    assert!(
        all_bytes_are(&backing_file(dir.path(), "vm-scsi-next"), 0),
        "the next disk is not all zeros"
    );
    let cert = dir
        .path()
        .join("out/certs")
        .join(file_name(&next["certificate"]));
    let verify = Command::new(env!("CARGO_BIN_EXE_massho"))
        .args(["cert", "verify", "--pubkey"])
        .arg(dir.path().join("out/key/vm.pub"))
        .arg(&cert)
        .output()
        .unwrap_or_else(|e| panic!("cannot run massho cert verify: {e}"));
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    assert!(
        events.last().is_some_and(|e| e["event"] == "stopped"),
        "the station did not stop cleanly: {:#?}",
        events.last()
    );
}
