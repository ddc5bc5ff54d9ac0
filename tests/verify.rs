//! `massho verify` against real loop devices, FIFOs and files: what it refuses, how it lists
//! mismatches, and re-verifying a random or multi-byte final pass from a wipe result file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_exit, describe_output, massho, run, LoopDevice};
use serde_json::Value;

/// Run `cmd`, killing it if it has not finished within `limit` (a FIFO must never hang verify).
fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn massho");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait for massho").is_some() {
            return child.wait_with_output().expect("collect output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "{cmd:?} still running after {limit:?}: it hung\n{}",
                describe_output(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn what_is_not_a_device_is_a_usage_error_naming_it_and_never_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let empty = dir.path().join("empty.img");
    std::fs::write(&empty, b"").unwrap();
    let cases: [(&Path, &str); 4] = [
        (&fifo, "is a FIFO (named pipe)"),
        (dir.path(), "is a directory"),
        (Path::new("/dev/null"), "is a character device"),
        (&empty, "is empty (0 bytes); nothing to verify"),
    ];
    for (path, says) in cases {
        let out = run_with_timeout(
            massho().arg("verify").arg(path).args(["--expect", "zero"]),
            Duration::from_secs(20),
        );
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(says), "{}: {err}", path.display());
    }
}

/// `(offset, length)` ranges sorted and with touching ones joined.
fn merged(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (o, n) in ranges {
        match out.last_mut() {
            Some((lo, ln)) if *lo + *ln >= o => *ln = (*ln).max(o + n - *lo),
            _ => out.push((o, n)),
        }
    }
    out
}

fn verify_json(dev: &LoopDevice) -> Value {
    let out = run(massho()
        .arg("verify")
        .arg(dev.path())
        .args(["--expect", "zero", "--json"])
        // Small chunks and many workers: chunks finish in a different order on every run.
        .env("MASSHO_CHUNK_KIB", "64")
        .env("MASSHO_WORKERS", "8"));
    assert_exit(&out, 1);
    serde_json::from_slice(&out.stdout).expect("verify --json prints one object")
}

#[test]
fn mismatch_lists_are_ascending_merged_identical_on_every_run_and_counted() {
    const SIZE: u64 = 48 << 20;
    let dev = LoopDevice::new(SIZE, 512);
    // Far more scattered bad bytes than any list keeps (1000 ranges), some of them straddling
    // the 64 KiB chunk boundaries, some touching each other.
    let mut written = Vec::new();
    for i in 0..6000u64 {
        written.push((i * 7919 + i % 13, 1 + i % 5));
    }
    for k in 1..300u64 {
        written.push((k * 65536 - 3, 6));
    }
    let mut image = vec![0u8; SIZE as usize];
    for &(o, n) in &written {
        image[o as usize..(o + n) as usize].fill(0xA5);
    }
    dev.write_backing_at(0, &image);
    let all = merged(written);
    let bytes: u64 = all.iter().map(|r| r.1).sum();

    let first = verify_json(&dev);
    let second = verify_json(&dev);
    let list = |v: &Value| -> Vec<(u64, u64)> {
        v["mismatches"]
            .as_array()
            .expect("mismatches")
            .iter()
            .map(|m| (m["offset"].as_u64().unwrap(), m["length"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(
        list(&first),
        list(&second),
        "two runs listed different ranges"
    );
    assert_eq!(list(&first), all[..1000].to_vec());
    let listed: u64 = all[..1000].iter().map(|r| r.1).sum();
    for v in [&first, &second] {
        assert_eq!(v["mismatched_bytes"], bytes);
        assert_eq!(v["mismatches_unlisted_ranges"], (all.len() - 1000) as u64);
        assert_eq!(v["mismatches_unlisted_bytes"], bytes - listed);
    }

    let out = run(massho()
        .arg("verify")
        .arg(dev.path())
        .args(["--expect", "zero"]));
    assert_exit(&out, 1);
    let text = stdout(&out);
    let (o, n) = all[0];
    assert!(
        text.contains(&format!(
            "  mismatch: {n} bytes at offset {o} (LBA {})\n",
            o / 512
        )),
        "{text}"
    );
    let shown: u64 = all[..50].iter().map(|r| r.1).sum();
    assert!(
        text.contains(&format!(
            "  ... and {} more ranges ({} bytes) not listed\n",
            all.len() - 50,
            bytes - shown
        )),
        "{text}"
    );
}

/// Wipe `dev` with `method`, storing the result in `dir`; the result file's path.
fn wipe_with_result(dev: &LoopDevice, method: &str, dir: &Path) -> PathBuf {
    let out = common::wipe(
        &[dev],
        &["--method", method, "--result-dir", dir.to_str().unwrap()],
    );
    assert_exit(&out, 0);
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn verify_result(dev: &LoopDevice, result: &Path) -> Output {
    run_with_timeout(
        massho()
            .arg("verify")
            .arg(dev.path())
            .arg("--result")
            .arg(result),
        Duration::from_secs(120),
    )
}

/// Flip every bit of one byte of the device, through the device, with dd.
fn flip_byte_with_dd(dev: &LoopDevice, offset: u64) {
    let old = dev.backing_bytes()[offset as usize];
    let dir = tempfile::tempdir().unwrap();
    let byte = dir.path().join("byte");
    std::fs::write(&byte, [!old]).unwrap();
    common::run_ok(
        Command::new("dd")
            .arg(format!("if={}", byte.display()))
            .arg(format!("of={}", dev.path().display()))
            .args([
                "bs=1",
                &format!("seek={offset}"),
                "count=1",
                "conv=notrunc,fsync",
            ])
            .arg("status=none"),
    );
}

fn reverify_after_wipe(method: &str, expect_line: &str) {
    let dev = LoopDevice::new(8 << 20, 512);
    let dir = tempfile::tempdir().unwrap();
    let result = wipe_with_result(&dev, method, dir.path());
    let out = verify_result(&dev, &result);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains(expect_line),
        "{}",
        describe_output(&out)
    );

    let middle = (8 << 20) / 2 + 12_345;
    flip_byte_with_dd(&dev, middle);
    let out = verify_result(&dev, &result);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains(&format!("mismatch: 1 bytes at offset {middle} (LBA")),
        "{}",
        describe_output(&out)
    );
}

#[test]
fn a_random_final_pass_is_reverified_from_the_result_file() {
    // dod-7's last pass is its second random stream, after a complement of the first.
    reverify_after_wipe("dod-7", "every byte read is random");
}

#[test]
fn a_multi_byte_final_pass_is_reverified_from_the_result_file() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("acme.toml");
    std::fs::write(
        &toml,
        "name = \"acme\"\n[[pass]]\nrandom = true\n[[pass]]\ncomplement = true\n[[pass]]\npattern = [0x92, 0x49, 0x24]\n",
    )
    .unwrap();
    reverify_after_wipe(toml.to_str().unwrap(), "every byte read is 0x92 0x49 0x24");
}

#[test]
fn a_result_of_another_medium_or_not_a_result_is_refused() {
    let dev = LoopDevice::new(8 << 20, 512);
    let other = LoopDevice::new(12 << 20, 512);
    let dir = tempfile::tempdir().unwrap();
    let result = wipe_with_result(&dev, "random", dir.path());

    let out = verify_result(&other, &result);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("describes a different medium"), "{err}");
    assert!(
        err.contains(&format!("{} bytes in the result", 8 << 20)),
        "{err}"
    );
    assert!(
        err.contains(&format!("{} bytes on {}", 12 << 20, other.path().display())),
        "{err}"
    );

    let text: Value = serde_json::from_slice(&std::fs::read(&result).unwrap()).unwrap();
    let mut renamed = text.clone();
    renamed["schema"] = "someone.else.v1".into();
    let fake = dir.path().join("fake.json");
    std::fs::write(&fake, serde_json::to_vec(&renamed).unwrap()).unwrap();
    let toml = dir.path().join("m.toml");
    std::fs::write(&toml, "name = \"m\"\n[[pass]]\nbyte = 0\n").unwrap();
    for not_result in [&fake, &toml] {
        let out = verify_result(&dev, not_result);
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("is not a massho wipe result"),
            "{}",
            describe_output(&out)
        );
    }

    let fifo = dir.path().join("result.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let out = verify_result(&dev, &fifo);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("FIFO"), "{}", describe_output(&out));
}
