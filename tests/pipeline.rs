//! The wipe pipeline as a technician meets it: the disk wiped is the disk confirmed, records
//! that cannot be kept refuse the wipe before it starts, stops are honest and quick, and an
//! interrupted wipe leaves a trace. Real loop devices, a real blkio throttle, real signals.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::pipeline::{kill_when, Running, Throttle};
use common::{assert_exit, massho, ndjson, require_root, LoopDevice};
use serde_json::Value;

const MIB: u64 = 1 << 20;

fn all_bytes_are(path: &Path, byte: u8) -> bool {
    std::fs::read(path)
        .expect("read backing file")
        .iter()
        .all(|&b| b == byte)
}

fn confirmation_prompt() -> &'static str {
    "to confirm: "
}

/// The token a loop device's confirmation asks for: it has no serial, so its kernel name.
fn token(dev: &LoopDevice) -> String {
    dev.path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn a_medium_swapped_while_the_operator_confirms_is_refused_and_not_written() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let dev = LoopDevice::new(8 * MIB, 512);
    dev.fill_backing(0xAA);
    let newcomer = dir.path().join("newcomer.img");
    std::fs::write(&newcomer, vec![0xBBu8; 8 * MIB as usize]).unwrap();
    let mut cmd = massho();
    cmd.arg("wipe").arg(dev.path());
    let mut run = Running::spawn(cmd);
    run.wait_for(confirmation_prompt(), Duration::from_secs(30));
    // The medium behind the name is replaced while massho waits (a re-plugged stick).
    let (detached, attached) = dev.swap_backing(&newcomer);
    run.write_stdin(&format!("{}\n", token(&dev)));
    let (code, _) = run.finish(Duration::from_secs(60));
    if attached {
        let _ = Command::new("losetup").arg("-d").arg(dev.path()).status();
    }
    assert_eq!(
        code,
        3,
        "detached {detached}, attached {attached}\n{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains("the medium changed while waiting for confirmation"),
        "{}",
        run.stderr()
    );
    assert!(all_bytes_are(&newcomer, 0xBB), "the newcomer was written");
    assert!(
        all_bytes_are(dev.backing(), 0xAA),
        "the original was written"
    );
}

#[test]
fn an_image_file_replaced_while_the_operator_confirms_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("disk.img");
    std::fs::write(&image, vec![0xAAu8; MIB as usize]).unwrap();
    let mut run = Running::spawn({
        let mut c = massho();
        c.arg("wipe").arg(&image);
        c
    });
    run.wait_for(confirmation_prompt(), Duration::from_secs(30));
    let other = dir.path().join("other.img");
    std::fs::write(&other, vec![0xCCu8; MIB as usize]).unwrap();
    std::fs::rename(&other, &image).unwrap();
    run.write_stdin("disk.img\n");
    let (code, _) = run.finish(Duration::from_secs(60));
    assert_eq!(code, 3, "{}", run.stderr());
    assert!(run.stderr().contains("inode"), "{}", run.stderr());
    assert!(
        all_bytes_are(&image, 0xCC),
        "the file now at the path was written"
    );
}

#[test]
fn the_result_names_the_identity_that_was_written_through() {
    require_root();
    let dev = LoopDevice::new(MIB, 512);
    let out = common::wipe(&[&dev], &["--json"]);
    assert_exit(&out, 0);
    let results = common::results(&out.stdout);
    let identity = &results[0]["identity"];
    assert_eq!(
        identity["device_number"],
        common::pipeline::devnum(dev.path())
    );
    let seq: u64 = std::fs::read_to_string(format!("/sys/block/{}/diskseq", token(&dev)))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(identity["diskseq"], seq);
    assert_eq!(identity["size_bytes"], MIB);
}

#[test]
fn a_wipe_nothing_read_back_is_unverified_not_passed() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = common::keypair(dir.path(), "k");
    let dev = LoopDevice::new(MIB, 512);
    let certs = dir.path().join("certs");
    let out = common::wipe(
        &[&dev],
        &[
            "--json",
            "--verify",
            "none",
            "--cert-dir",
            certs.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--operator",
            "t",
        ],
    );
    assert_exit(&out, 6);
    let results = common::results(&out.stdout);
    assert_eq!(results[0]["status"], "unverified");
    let cert_event = ndjson(&out.stdout)
        .into_iter()
        .find(|e| e["event"] == "certificate")
        .expect("a certificate event");
    assert_eq!(cert_event["status"], "unverified");
}

#[test]
fn records_that_cannot_be_kept_refuse_the_wipe_before_it_writes() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = common::keypair(dir.path(), "k");
    let dev = LoopDevice::new(MIB, 512);
    dev.fill_backing(0x5A);
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let inside_file = not_a_dir.join("sub");
    let key = key.to_str().unwrap();
    let nokeys = dir.path().join("nokeys");
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        // No signing key: certificates were asked for and cannot be signed.
        (
            vec![
                "--cert-dir",
                dir.path().to_str().unwrap(),
                "--operator",
                "t",
            ],
            2,
            "no signing key",
        ),
        (
            vec![
                "--cert-dir",
                inside_file.to_str().unwrap(),
                "--operator",
                "t",
                "--key",
                key,
            ],
            3,
            "cannot write certificates",
        ),
        (
            vec!["--result-dir", inside_file.to_str().unwrap()],
            3,
            "cannot write results",
        ),
        (vec!["--operator", "t"], 2, "--cert-dir"),
        (vec!["--asset", "PC-1"], 2, "--cert-dir"),
    ];
    for (args, code, says) in cases {
        let out = {
            let mut c = massho();
            c.env("HOME", &nokeys)
                .arg("wipe")
                .arg("--yes")
                .args(&args)
                .arg(dev.path());
            common::run(&mut c)
        };
        assert_exit(&out, code);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            all_bytes_are(dev.backing(), 0x5A),
            "{args:?} wrote to the device"
        );
    }
    // The journal must be writable too.
    let mut c = massho();
    c.env("MASSHO_JOURNAL_DIR", &inside_file)
        .arg("wipe")
        .arg("--yes")
        .arg(dev.path());
    let out = common::run(&mut c);
    assert_exit(&out, 3);
    assert!(all_bytes_are(dev.backing(), 0x5A));
}

#[test]
fn results_of_two_media_with_the_same_name_each_get_their_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let results = dir.path().join("results");
    for d in [&a, &b] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join("disk.img"), vec![1u8; 64 << 10]).unwrap();
    }
    for _ in 0..2 {
        let out = common::run(
            massho()
                .arg("wipe")
                .arg("--yes")
                .arg("--result-dir")
                .arg(&results)
                .arg(a.join("disk.img"))
                .arg(b.join("disk.img")),
        );
        assert_exit(&out, 0);
    }
    assert_eq!(std::fs::read_dir(&results).unwrap().count(), 4);
}

#[test]
fn a_disk_and_its_own_partition_in_one_command_is_a_usage_error() {
    require_root();
    let dev = LoopDevice::new_partitioned(8 * MIB, 512, "label: dos\n,2MiB\n,\n");
    let out = common::run(
        massho()
            .arg("wipe")
            .arg("--dry-run")
            .arg(dev.path())
            .arg(dev.partition_path(2)),
    );
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is a partition of"), "{stderr}");
}

#[test]
fn json_mode_reports_refusals_and_plans_as_objects_and_times_every_event() {
    require_root();
    let dev = LoopDevice::new(MIB, 512);
    let out = common::run(
        massho()
            .args(["wipe", "--json", "--dry-run"])
            .arg(dev.path()),
    );
    assert_exit(&out, 0);
    let events = ndjson(&out.stdout);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "dry_run");
    assert_eq!(events[0]["devices"][0]["method"], "nist-clear");
    let out = common::wipe(&[&dev], &["--json"]);
    assert_exit(&out, 0);
    for e in ndjson(&out.stdout) {
        let t = e["time"].as_str().unwrap_or_default();
        assert!(t.starts_with("20") && t.ends_with('Z'), "no time in {e}");
    }
    // The person at the terminal still sees each device's outcome.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}: PASSED", dev.path().display())),
        "{stderr}"
    );
    let mounted = LoopDevice::new(8 * MIB, 512);
    let _m = common::Mount::ext4(&mounted);
    let out = common::run(
        massho()
            .args(["wipe", "--json", "--yes"])
            .arg(mounted.path()),
    );
    assert_exit(&out, 3);
    let events = ndjson(&out.stdout);
    assert_eq!(events[0]["event"], "refused", "{events:?}");
    assert_eq!(events[0]["devices"][0]["refusals"][0]["reason"], "mounted");
    // Every other way the command stops is an object too, with its exit code.
    assert_eq!(events.last().unwrap()["exit"], 3, "{events:?}");
    let out = common::run(
        massho()
            .args(["wipe", "--json", "--yes", "-m", "no-such-method"])
            .arg(dev.path()),
    );
    assert_exit(&out, 2);
    let events = ndjson(&out.stdout);
    assert_eq!(events[0]["event"], "error", "{events:?}");
    assert_eq!(events[0]["exit"], 2);
    assert!(events[0]["message"]
        .as_str()
        .unwrap()
        .contains("no-such-method"));
}

/// Start `massho wipe --yes ARGS DEVICE` throttled to `bps` on `dev`.
fn throttled_wipe(dev: &LoopDevice, bps: u64, args: &[&str]) -> (Running, Throttle) {
    let throttle = Throttle::new(dev, bps);
    let mut cmd = massho();
    cmd.arg("wipe").arg("--yes").args(args).arg(dev.path());
    let run = Running::spawn(throttle.command(cmd));
    (run, throttle)
}

/// The MiB a stop acknowledgement says are in flight.
fn in_flight_mib(stderr: &str) -> f64 {
    let at = stderr
        .find(" MiB still in flight")
        .unwrap_or_else(|| panic!("no acknowledgement in {stderr}"));
    let start = stderr[..at].rfind(' ').map_or(0, |i| i + 1);
    stderr[start..at].parse().expect("a number of MiB")
}

#[test]
fn a_stop_on_a_slow_device_is_acknowledged_and_waits_for_about_a_second_of_writes() {
    require_root();
    let dev = LoopDevice::new(64 * MIB, 512);
    let dir = tempfile::tempdir().unwrap();
    let (mut run, _throttle) =
        throttled_wipe(&dev, MIB, &["--result-dir", dir.path().to_str().unwrap()]);
    // Plain output (not a terminal): timestamped lines with an h:m:s ETA.
    run.wait_for("pass 1/1 write", Duration::from_secs(30));
    // Long enough for a second progress line (every 5 s) with a measured rate.
    std::thread::sleep(Duration::from_secs(6));
    run.signal(libc::SIGINT);
    run.wait_for("still in flight", Duration::from_secs(5));
    let (code, waited) = run.finish(Duration::from_secs(60));
    assert_eq!(code, 4, "{}", run.stderr());
    // About one second of a 1 MiB/s device, not 4 × 4 MiB chunks.
    let mib = in_flight_mib(&run.stderr());
    assert!(mib <= 2.5, "{mib} MiB in flight at 1 MiB/s");
    assert!(
        waited < Duration::from_secs(10),
        "the stop waited {waited:?} for a 1 MiB/s device"
    );
    let stdout = run.stdout();
    let progress = stdout
        .lines()
        .find(|l| l.contains("pass 1/1 write") && !l.contains("ETA ?"))
        .unwrap_or_else(|| panic!("a progress line with an ETA in {stdout}"));
    assert!(progress.starts_with("[20"), "{progress}");
    assert!(progress.contains("ETA 0:"), "{progress}");
    assert!(progress.contains("(all passes 0:"), "{progress}");
    let result: Value = serde_json::from_slice(
        &std::fs::read(
            std::fs::read_dir(dir.path())
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(result["status"], "aborted");
}

#[test]
fn a_dropped_session_is_an_abort_that_is_recorded_even_when_a_record_cannot_be() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = common::keypair(dir.path(), "k");
    let (certs, results) = (dir.path().join("certs"), dir.path().join("results"));
    let dev = LoopDevice::new(64 * MIB, 512);
    let (mut run, _throttle) = throttled_wipe(
        &dev,
        2 * MIB,
        &[
            "--result-dir",
            results.to_str().unwrap(),
            "--cert-dir",
            certs.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--operator",
            "t",
        ],
    );
    run.wait_for("pass 1/1 write", Duration::from_secs(30));
    // The result directory disappears under massho's feet: the result file cannot be kept.
    std::fs::remove_dir(&results).unwrap();
    std::fs::write(&results, b"not a directory").unwrap();
    run.signal(libc::SIGHUP);
    let (code, _) = run.finish(Duration::from_secs(60));
    // The wipe's own outcome decides the exit code, not the lost record (that would be 5).
    assert_eq!(code, 4, "{}", run.stderr());
    let stderr = run.stderr();
    assert!(stderr.contains("SIGHUP"), "{stderr}");
    assert!(stderr.contains("NO RESULT FILE"), "{stderr}");
    assert!(stderr.contains("what was kept"), "{stderr}");
    let certs: Vec<_> = std::fs::read_dir(&certs)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(certs.len(), 1);
    let cert: Value = serde_json::from_slice(&std::fs::read(certs[0].path()).unwrap()).unwrap();
    assert_eq!(cert["status"], "aborted");
}

#[test]
fn a_second_signal_stops_waiting_and_records_the_device_as_aborted() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let dev = LoopDevice::new(64 * MIB, 512);
    // A journal of its own: the shared one holds other tests' entries for the same loop name.
    let journal = tempfile::tempdir().unwrap();
    let (mut run, _throttle) = throttled_wipe(
        &dev,
        256 << 10,
        &[
            "--json",
            "--result-dir",
            dir.path().to_str().unwrap(),
            "--journal-dir",
            journal.path().to_str().unwrap(),
        ],
    );
    run.wait_for("\"progress\"", Duration::from_secs(30));
    run.signal(libc::SIGTERM);
    run.wait_for("still in flight", Duration::from_secs(5));
    run.signal(libc::SIGTERM);
    let (code, _) = run.finish(Duration::from_secs(30));
    assert_eq!(code, 4, "{}", run.stderr());
    assert!(run.stderr().contains("not waiting"), "{}", run.stderr());
    let result = common::results(run.stdout().as_bytes())
        .pop()
        .expect("a result");
    assert_eq!(result["status"], "aborted");
    assert!(
        result["warnings"].to_string().contains("second signal"),
        "{result}"
    );
    // The journal entry is closed, saying how.
    let out = common::run(
        massho()
            .args(["journal", "--all", "--json", "--journal-dir"])
            .arg(journal.path()),
    );
    let entries: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["device"], dev.path().to_str().unwrap());
    assert_eq!(entry["state"], "closed");
    assert!(entry["closed"]["note"]
        .as_str()
        .unwrap()
        .contains("without waiting"));
}

#[test]
fn a_killed_wipe_leaves_an_interrupted_journal_entry_that_massho_reports() {
    require_root();
    let journal = tempfile::tempdir().unwrap();
    let dev = LoopDevice::new(64 * MIB, 512);
    let throttle = Throttle::new(&dev, MIB);
    let mut cmd = massho();
    cmd.env("MASSHO_JOURNAL_DIR", journal.path())
        .args(["wipe", "--yes", "-m", "random"])
        .arg(dev.path());
    let mut run = Running::spawn(throttle.command(cmd));
    run.wait_for("pass 1/1 write", Duration::from_secs(30));
    run.signal(libc::SIGKILL);
    let _ = run.finish(Duration::from_secs(10));
    let out = common::run(
        massho()
            .env("MASSHO_JOURNAL_DIR", journal.path())
            .args(["journal", "--json"]),
    );
    assert_exit(&out, 0);
    let entries: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = &entries[0];
    assert_eq!(entry["state"], "interrupted", "{entries}");
    assert_eq!(entry["device"], dev.path().to_str().unwrap());
    assert_eq!(entry["method"], "random");
    assert_eq!(entry["seed"].as_str().unwrap().len(), 64);
    assert_eq!(
        entry["identity"]["device_number"],
        common::pipeline::devnum(dev.path())
    );
    // Every later massho says so.
    let out = common::run(
        massho()
            .env("MASSHO_JOURNAL_DIR", journal.path())
            .arg("devices"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("an interrupted wipe"), "{stderr}");
    assert!(stderr.contains(dev.path().to_str().unwrap()), "{stderr}");
    let out = common::run(
        massho()
            .env("MASSHO_JOURNAL_DIR", journal.path())
            .args(["journal"]),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("INTERRUPTED"));
}

#[test]
fn each_certificate_is_written_as_soon_as_its_device_finishes() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = common::keypair(dir.path(), "k");
    let certs = dir.path().join("certs");
    let fast = LoopDevice::new(MIB, 512);
    let slow = LoopDevice::new(64 * MIB, 512);
    let throttle = Throttle::new(&slow, MIB);
    let mut cmd = massho();
    cmd.args(["wipe", "--yes", "--cert-dir"])
        .arg(&certs)
        .arg("--key")
        .arg(&key)
        .args(["--operator", "t"])
        .arg(fast.path())
        .arg(slow.path());
    let mut run = Running::spawn(throttle.command(cmd));
    run.wait_for(
        &format!("{}: certificate", fast.path().display()),
        Duration::from_secs(30),
    );
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "the slow device should still be running"
    );
    run.signal(libc::SIGINT);
    let (code, _) = run.finish(Duration::from_secs(60));
    assert_eq!(code, 4, "{}", run.stderr());
}

#[test]
fn a_method_file_that_is_a_fifo_is_a_usage_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("method.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let image = dir.path().join("disk.img");
    std::fs::write(&image, vec![1u8; 4096]).unwrap();
    let mut cmd = massho();
    cmd.args(["wipe", "--yes", "--dry-run", "-m"])
        .arg(&fifo)
        .arg(&image);
    let mut run = Running::spawn(cmd);
    let (code, _) = run.finish(Duration::from_secs(20));
    assert_eq!(code, 2, "{}", run.stderr());
    assert!(run.stderr().contains("FIFO"), "{}", run.stderr());
}

#[test]
fn a_loop_device_grown_under_a_running_wipe_is_failed_not_passed() {
    require_root();
    let dev = LoopDevice::new(4 * MIB, 512);
    dev.fill_backing(0xAA);
    let (mut run, _throttle) = throttled_wipe(&dev, 2 * MIB, &["--json", "--method", "zero"]);
    run.wait_for("\"progress\"", Duration::from_secs(30));
    // The backing file grows and the loop device re-reads its capacity (`losetup -c`) while
    // massho writes: the new 4 MiB are never written, and the verification reads only the old
    // extent.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(dev.backing())
        .unwrap();
    f.set_len(8 * MIB).unwrap();
    drop(f);
    let status = Command::new("losetup")
        .arg("-c")
        .arg(dev.path())
        .status()
        .unwrap();
    assert!(status.success(), "losetup -c failed");
    let (code, _) = run.finish(Duration::from_secs(60));
    let result = common::results(run.stdout().as_bytes())
        .pop()
        .unwrap_or_else(|| panic!("a result\n{}", run.stderr()));
    assert_eq!(result["status"], "failed", "{}", run.stderr());
    assert!(
        result["warnings"]
            .to_string()
            .contains("changed during the wipe"),
        "{result}"
    );
    // The engine's own end event says the same, never "passed" first.
    let finished: Vec<Value> = ndjson(run.stdout().as_bytes())
        .into_iter()
        .filter(|v| v["event"] == "finished")
        .collect();
    assert_eq!(finished.len(), 1, "{}", run.stdout());
    assert_eq!(finished[0]["status"], "failed");
    assert_eq!(code, 1, "{}", run.stderr());
}

#[test]
fn a_loop_device_re_pointed_at_another_part_of_its_file_while_confirming_is_refused() {
    require_root();
    let dev = LoopDevice::new(4 * MIB, 512);
    dev.fill_backing(0xAA);
    // The backing file holds a second 4 MiB region the operator never confirmed.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(dev.backing())
            .unwrap();
        f.seek(SeekFrom::Start(4 * MIB)).unwrap();
        f.write_all(&vec![0xBBu8; 4 * MIB as usize]).unwrap();
    }
    let mut cmd = massho();
    cmd.arg("wipe").arg(dev.path());
    let mut run = Running::spawn(cmd);
    run.wait_for(confirmation_prompt(), Duration::from_secs(30));
    // Same name, device number, diskseq, size and backing file: only the offset moved.
    dev.set_offset(4 * MIB);
    run.write_stdin(&format!("{}\n", token(&dev)));
    let (code, _) = run.finish(Duration::from_secs(60));
    let backing = dev.backing_bytes();
    assert!(
        backing[4 * MIB as usize..].iter().all(|&b| b == 0xBB),
        "the region that was never confirmed was written"
    );
    assert_eq!(code, 3, "{}", run.stderr());
    assert!(run.stderr().contains("offset"), "{}", run.stderr());
}

#[test]
fn a_journal_that_cannot_be_closed_is_not_listed_as_kept() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let dev = LoopDevice::new(64 * MIB, 512);
    let (mut run, _throttle) =
        throttled_wipe(&dev, 2 * MIB, &["--journal-dir", journal.to_str().unwrap()]);
    run.wait_for("pass 1/1 write", Duration::from_secs(30));
    // The journal directory disappears under massho's feet: its entry cannot be closed.
    std::fs::remove_dir_all(&journal).unwrap();
    std::fs::write(&journal, b"not a directory").unwrap();
    run.signal(libc::SIGINT);
    let (code, _) = run.finish(Duration::from_secs(60));
    assert_eq!(code, 4, "{}", run.stderr());
    let stderr = run.stderr();
    assert!(stderr.contains("NO JOURNAL CLOSE"), "{stderr}");
    let kept = stderr
        .split("what was kept:")
        .nth(1)
        .unwrap_or_else(|| panic!("no list of what was kept in {stderr}"));
    let line = kept
        .lines()
        .find(|l| l.contains(dev.path().to_str().unwrap()))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(!line.contains("journal"), "{line}");
}

#[test]
fn a_record_failure_never_prints_the_device_name_raw() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let dev = LoopDevice::new(64 * MIB, 512);
    // A name that would recolour the terminal (and could retitle it) if printed as it is.
    let link = dir.path().join("\u{1b}[31mRED");
    std::os::unix::fs::symlink(dev.path(), &link).unwrap();
    let throttle = Throttle::new(&dev, 2 * MIB);
    let mut cmd = massho();
    cmd.args(["wipe", "--yes", "--result-dir"])
        .arg(&results)
        .arg(&link);
    let mut run = Running::spawn(throttle.command(cmd));
    run.wait_for("pass 1/1 write", Duration::from_secs(30));
    std::fs::remove_dir(&results).unwrap();
    std::fs::write(&results, b"not a directory").unwrap();
    run.signal(libc::SIGINT);
    let (code, _) = run.finish(Duration::from_secs(60));
    assert_eq!(code, 4, "{}", run.stderr());
    assert!(run.stderr().contains("NO RESULT FILE"), "{}", run.stderr());
    for (name, text) in [("stdout", run.stdout()), ("stderr", run.stderr())] {
        assert!(!text.contains('\u{1b}'), "{name} has a raw ESC:\n{text:?}");
    }
}

#[test]
fn one_image_file_under_two_hard_links_is_named_twice() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("a.img");
    std::fs::write(&image, vec![0xAAu8; MIB as usize]).unwrap();
    let link = dir.path().join("b.img");
    std::fs::hard_link(&image, &link).unwrap();
    // Two wipes of one file at once: two certificates for one medium, or each failing the
    // other's verification.
    let out = common::run(
        massho()
            .args(["wipe", "--yes", "--method", "zero"])
            .arg(&image)
            .arg(&link),
    );
    assert_exit(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("named twice"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all_bytes_are(&image, 0xAA), "the image was written");
}

#[test]
fn one_block_device_under_a_second_device_node_is_named_twice() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let dev = LoopDevice::new(4 * MIB, 512);
    dev.fill_backing(0xAA);
    // A second node with the same device number (mknod), not a symlink: canonical paths differ.
    let alias = dir.path().join("alias");
    let rdev = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dev.path()).unwrap().rdev()
    };
    let c = std::ffi::CString::new(alias.to_str().unwrap()).unwrap();
    // SAFETY: mknod on a NUL-terminated path in our own temporary directory.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFBLK | 0o600, rdev) };
    assert_eq!(rc, 0, "mknod: {}", std::io::Error::last_os_error());
    let out = common::run(massho().args(["wipe", "--yes"]).arg(dev.path()).arg(&alias));
    assert_exit(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("named twice"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all_bytes_are(dev.backing(), 0xAA), "the device was written");
}

/// A wipe killed with SIGKILL (a power cut, as far as massho can tell) after a checkpoint is
/// resumed with `--resume`: the same plan and seed from the journal, continued where the last
/// flush reached, verified over the whole medium; the result records the resumption, the old
/// entry is closed, and an independent check of the medium against the result passes.
#[test]
fn a_killed_wipe_resumes_from_its_last_checkpoint_and_verifies_the_whole_medium() {
    require_root();
    let journal = tempfile::tempdir().unwrap();
    let results = tempfile::tempdir().unwrap();
    let dev = LoopDevice::new(16 * MIB, 4096);
    dev.fill_backing(0xA5);
    kill_when(&dev, journal.path(), "random", |e| {
        e["checkpoint"]["flushed_bytes"].as_u64().unwrap_or(0) >= 2 * MIB
    });
    // A device that is not the one in the journal is never resumed.
    let other = LoopDevice::new(16 * MIB, 4096);
    let out = common::run(
        massho()
            .env("MASSHO_JOURNAL_DIR", journal.path())
            .args(["wipe", "--resume", "--yes"])
            .arg(other.path()),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        common::describe_output(&out)
    );
    // The resume.
    let out = common::run(
        massho()
            .env("MASSHO_JOURNAL_DIR", journal.path())
            .args(["wipe", "--resume", "--yes", "--json", "--result-dir"])
            .arg(results.path())
            .arg(dev.path()),
    );
    assert_exit(&out, 0);
    let result = common::results(&out.stdout).pop().expect("a result");
    assert_eq!(result["status"], "passed", "{result:#}");
    assert_eq!(result["method"], "random");
    let resumed = &result["resumed"];
    assert_eq!(resumed["step"], 1, "{result:#}");
    let offset = resumed["offset"].as_u64().unwrap();
    assert!((2 * MIB..16 * MIB).contains(&offset), "{resumed}");
    assert_eq!(
        result["verification"]["bytes_verified"],
        16 * MIB,
        "{result:#}"
    );
    assert_eq!(result["passes"][0]["bytes_written"], 16 * MIB - offset);
    assert!(
        result["warnings"].to_string().contains("resumed at step 1"),
        "{result:#}"
    );
    // The journal: the interrupted entry closed as resumed, nothing left to resume.
    let out = common::run(
        massho()
            .env("MASSHO_JOURNAL_DIR", journal.path())
            .args(["journal", "--all", "--json"]),
    );
    let entries: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"] == "closed"),
        "{entries:#}"
    );
    assert!(
        entries.to_string().contains("resumed as journal entry"),
        "{entries:#}"
    );
    // Independently: the medium holds exactly the random stream of the recorded seed, start
    // to end (the part written before the kill and the part after).
    let file = std::fs::read_dir(results.path())
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let out = common::run(
        massho()
            .args(["verify", "--result"])
            .arg(&file)
            .arg(dev.path()),
    );
    assert_exit(&out, 0);
    let out = common::run(
        massho()
            .env("MASSHO_JOURNAL_DIR", journal.path())
            .args(["wipe", "--resume", "--yes"])
            .arg(dev.path()),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "nothing left to resume: {}",
        common::describe_output(&out)
    );
}

/// Killed right after its first pass ended: the resume continues with the second pass, and the
/// medium ends holding the method's final pattern.
#[test]
fn a_wipe_killed_between_passes_resumes_with_the_next_pass() {
    require_root();
    let journal = tempfile::tempdir().unwrap();
    let results = tempfile::tempdir().unwrap();
    let dev = LoopDevice::new(4 * MIB, 512);
    dev.fill_backing(0xA5);
    kill_when(&dev, journal.path(), "dod-3", |e| {
        e["passes_done"].as_array().is_some_and(|p| p.len() == 1)
    });
    let out = common::run(
        massho()
            .env("MASSHO_JOURNAL_DIR", journal.path())
            .args(["wipe", "--resume", "--yes", "--json", "--result-dir"])
            .arg(results.path())
            .arg(dev.path()),
    );
    assert_exit(&out, 0);
    let result = common::results(&out.stdout).pop().expect("a result");
    assert_eq!(result["status"], "passed", "{result:#}");
    assert_eq!(result["resumed"]["step"], 2, "{result:#}");
    // Three passes in the result: the one the killed run finished, and the two after.
    let patterns: Vec<&str> = result["passes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(patterns, ["0x00", "0xFF", "random"], "{result:#}");
    let file = std::fs::read_dir(results.path())
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let out = common::run(
        massho()
            .args(["verify", "--result"])
            .arg(&file)
            .arg(dev.path()),
    );
    assert_exit(&out, 0);
}

/// After the kill, another medium is attached under the same name (a drive swapped into the
/// bay): the journal's wipe is not resumed on it, and it is not written.
#[test]
fn a_different_medium_under_the_same_name_is_never_resumed() {
    require_root();
    let journal = tempfile::tempdir().unwrap();
    let dev = LoopDevice::new(8 * MIB, 512);
    kill_when(&dev, journal.path(), "random", |e| {
        e["checkpoint"]["flushed_bytes"].as_u64().unwrap_or(0) > 0
    });
    let other_dir = tempfile::tempdir().unwrap();
    let other = other_dir.path().join("other.img");
    std::fs::write(&other, vec![0x3Cu8; (8 * MIB) as usize]).unwrap();
    let (detached, attached) = dev.swap_backing(&other);
    assert!(
        detached && attached,
        "could not put another medium under {}",
        dev.path().display()
    );
    let out = common::run(
        massho()
            .env("MASSHO_JOURNAL_DIR", journal.path())
            .args(["wipe", "--resume", "--yes"])
            .arg(dev.path()),
    );
    // The swapped-in medium is this test's to detach (the harness only detaches its own file).
    let _ = Command::new("losetup").arg("-d").arg(dev.path()).status();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("is not the drive journal entry"),
        "{stderr}"
    );
    assert!(
        std::fs::read(&other).unwrap().iter().all(|b| *b == 0x3C),
        "the other medium was written"
    );
}
