//! The live USB image (packaging/live/, docs/live.md), booted in QEMU.
//!
//! `live_image_boots_wipes_and_keeps_records` runs packaging/live/test.sh: one image build with
//! the binary cargo built for this test run, then four boots (USB stick under BIOS and UEFI, SATA
//! disk under BIOS, and a malformed live.toml), each judged on the host from the backing files,
//! the stick's MASSHO partition read back with mtools and `massho cert verify`.
//!
//! `stick_named_on_the_command_line_is_refused_unmounted` boots the QEMU rig with the kernel
//! parameter the stick's boot loader passes and nothing mounted: the refusal must come from the
//! GPT disk GUID alone. The guest touches no disk of this host: its disks are files here.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::require_root;

/// One VM at a time: two cores, and TCG keeps one busy per guest.
static VM: Mutex<()> = Mutex::new(());

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A command with the hermetic environment of the VM tests: no MASSHO_* setting of the
/// developer passes, except the rig's cache, kernel pin and accelerator.
fn hermetic(program: PathBuf) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("MASSHO_") && !key.starts_with("MASSHO_VM_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("MASSHO_BIN", env!("CARGO_BIN_EXE_massho"));
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn live_image_boots_wipes_and_keeps_records() {
    require_root();
    let _one = VM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = hermetic(repo().join("packaging/live/test.sh"))
        // A debug build without its debug sections: 25 MB instead of 100 in the initramfs.
        .env("MASSHO_LIVE_STRIP_DEBUG", "1")
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("cannot run packaging/live/test.sh");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        // Keep what the boots left for a look.
        let kept = dir.keep();
        panic!(
            "packaging/live/test.sh failed; its files are in {}\n{}",
            kept.display(),
            text(&out)
        );
    }
}

const GUID: &str = "6D617373-686F-4C69-B665-000000000001";
const DISK_SIZE: u64 = 32 << 20;
const FILL: u8 = 0x5A;

/// A disk image of DISK_SIZE bytes filled with FILL and a GPT with the given disk GUID and one
/// partition.
fn gpt_disk(path: &Path, guid: &str) {
    std::fs::write(path, vec![FILL; DISK_SIZE as usize]).unwrap();
    let mut child = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sfdisk (util-linux fdisk)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            format!("label: gpt\nlabel-id: {guid}\nstart=2048, size=16384, type=L\n").as_bytes(),
        )
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "sfdisk failed on {}",
        path.display()
    );
}

#[test]
fn stick_named_on_the_command_line_is_refused_unmounted() {
    require_root();
    let _one = VM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    gpt_disk(&dir.path().join("disk-LIVE-STICK.img"), GUID);
    gpt_disk(
        &dir.path().join("disk-OTHER-GPT.img"),
        "6D617373-686F-4C69-B665-000000000002",
    );
    let stick_before = std::fs::read(dir.path().join("disk-LIVE-STICK.img")).unwrap();
    let out = hermetic(repo().join("packaging/vm/run.sh"))
        .env("MASSHO_VM_APPEND", format!("massho.medium={GUID}"))
        .arg("--out")
        .arg(dir.path())
        .args(["--timeout", "240"])
        .args(["--disk", &format!("usb:{DISK_SIZE}:LIVE-STICK")])
        .args(["--disk", &format!("sata:{DISK_SIZE}:OTHER-GPT")])
        .arg("--")
        .arg(repo().join("tests/vm/live_medium_refused.sh"))
        .output()
        .expect("cannot run packaging/vm/run.sh");
    let read = |name: &str| {
        std::fs::read_to_string(dir.path().join("out").join(name))
            .unwrap_or_else(|e| panic!("the guest left no {name}: {e}\n{}", text(&out)))
    };
    assert!(out.status.success(), "{}", text(&out));
    assert!(read("cmdline").contains(&format!("massho.medium={GUID}")));
    let stick = read("stick-node").trim().to_owned();
    let other = read("other-node").trim().to_owned();
    let devices: serde_json::Value = serde_json::from_str(&read("devices.json")).unwrap();
    let find = |node: &str| {
        devices
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["path"] == node)
            .unwrap_or_else(|| panic!("{node} not listed: {devices:#}"))
            .clone()
    };
    let refusals = find(&stick)["refusals"].clone();
    let refusals = refusals.as_array().unwrap();
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert_eq!(refusals[0]["reason"], "boot_medium");
    assert!(
        refusals[0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("the massho live stick: GPT disk {GUID}")),
        "{refusals:#?}"
    );
    assert_eq!(find(&other)["refusals"], serde_json::json!([]));
    // Named explicitly, the stick is refused and left as it was; the other disk is wiped.
    assert_eq!(
        read("wipe-stick.rc").trim(),
        "3",
        "{}",
        read("wipe-stick.out")
    );
    assert!(
        read("wipe-stick.out").contains("is the medium this system booted from"),
        "{}",
        read("wipe-stick.out")
    );
    assert_eq!(
        read("wipe-other.rc").trim(),
        "0",
        "{}",
        read("wipe-other.out")
    );
    assert!(
        std::fs::read(dir.path().join("disk-LIVE-STICK.img")).unwrap() == stick_before,
        "the refused stick was written to"
    );
    let other_after = std::fs::read(dir.path().join("disk-OTHER-GPT.img")).unwrap();
    assert!(
        other_after.iter().all(|&b| b == 0),
        "the other disk was not wiped"
    );
}

/// `massho live wipe` on a workstation-like setup: a directory standing for the mounted MASSHO
/// partition, an image file as the target. The stick's method, key (generated) and record
/// folders are used; a malformed live.toml refuses before anything is written.
#[test]
fn live_wipe_uses_the_sticks_settings_and_refuses_a_malformed_config() {
    let dir = tempfile::tempdir().unwrap();
    let medium = dir.path().join("medium");
    let folder = medium.join("massho");
    std::fs::create_dir_all(&folder).unwrap();
    let image = dir.path().join("disk.img");
    std::fs::write(&image, vec![FILL; 1 << 20]).unwrap();
    let live = |args: &[&str]| {
        hermetic(PathBuf::from(env!("CARGO_BIN_EXE_massho")))
            .env("MASSHO_JOURNAL_DIR", dir.path().join("unused-journal"))
            .arg("live")
            .arg("wipe")
            .arg("--medium")
            .arg(&medium)
            .args(args)
            .arg(&image)
            .output()
            .unwrap()
    };

    std::fs::write(
        folder.join("live.toml"),
        "method = \"zero\"\noperator = \"Bench\"\n[key]\ngenerate = true\n[exclude]\nserials = [\"X\"]\nmodel = []\n",
    )
    .unwrap();
    let out = live(&["--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("live.toml line 7: unknown key `model`"),
        "{}",
        text(&out)
    );
    assert!(std::fs::read(&image).unwrap().iter().all(|&b| b == FILL));
    assert!(
        !folder.join("keys").exists(),
        "nothing may be created for a malformed file"
    );

    std::fs::write(
        folder.join("live.toml"),
        "method = \"zero\"\noperator = \"Bench\"\n[key]\ngenerate = true\n",
    )
    .unwrap();
    let out = live(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(std::fs::read(&image).unwrap().iter().all(|&b| b == 0));
    assert!(folder.join("keys/massho.pub").exists(), "{}", text(&out));
    let count = |sub: &str| std::fs::read_dir(folder.join(sub)).map_or(0, |d| d.count());
    assert_eq!(count("results"), 1, "{}", text(&out));
    assert_eq!(count("certificates"), 2, "{}", text(&out)); // ID.json and ID.json.minisig
    assert!(
        count("journal") >= 1,
        "the journal goes to the stick: {}",
        text(&out)
    );
    assert!(!dir.path().join("unused-journal").exists());
    let verify = Command::new(env!("CARGO_BIN_EXE_massho"))
        .args(["cert", "verify"])
        .arg(folder.join("certificates"))
        .arg("--pubkey")
        .arg(folder.join("keys/massho.pub"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
}
