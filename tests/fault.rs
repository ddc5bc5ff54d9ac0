//! Bad sectors, for real: a loop device over a FUSE-served file that answers EIO for a byte
//! range (see `common::faulty`).
//!
//! The first group proves the faulty device itself behaves like a disk with bad sectors, using
//! only `dd` and plain O_DIRECT reads, so that a failure in the second group points at massho and
//! not at the harness. The second group runs `massho wipe` against it and checks that the result
//! names exactly the bad sectors, that everything else was overwritten, and that one bad device
//! does not fail its healthy neighbour.

mod common;

use std::fs::OpenOptions;
use std::ops::Range;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::process::Command;

use common::faulty::{Faults, FaultyDisk};
use common::{require_root, results, run, wipe, LoopDevice};
use massho::device::io::AlignedBuf;
use serde_json::Value;

const MIB: u64 = 1 << 20;
/// What the medium held before the wipe, so that "overwritten" can be told from "never touched".
const OLD: u8 = 0xA5;

/// The bad range the wipe tests use: not aligned to 4096 at either end, and 512-aligned.
fn wipe_bad_range() -> Range<u64> {
    10 * MIB + 4096..10 * MIB + 3 * 4096 + 512
}

/// Sectors (inclusive LBAs) of `sector_size` bytes that overlap the byte range `bad`.
fn bad_lbas(bad: &Range<u64>, sector_size: u64) -> (u64, u64) {
    (bad.start / sector_size, bad.end.div_ceil(sector_size) - 1)
}

fn open_direct(dev: &LoopDevice, write: bool) -> std::fs::File {
    OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_DIRECT)
        .open(dev.path())
        .unwrap_or_else(|e| panic!("open {} O_DIRECT: {e}", dev.path().display()))
}

fn assert_eio(res: std::io::Result<()>, what: &str) {
    match res {
        Ok(()) => panic!("{what}: succeeded, expected EIO"),
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EIO), "{what}: {e}"),
    }
}

/// Index of the first byte in `data[range]` that differs from `want`, as an absolute offset.
fn first_not(data: &[u8], range: Range<u64>, want: u8) -> Option<u64> {
    data[range.start as usize..range.end as usize]
        .iter()
        .position(|&b| b != want)
        .map(|i| range.start + i as u64)
}

// ---------------------------------------------------------------------------------------------
// The faulty device on its own.
// ---------------------------------------------------------------------------------------------

#[test]
fn dd_stops_exactly_at_the_bad_range() {
    require_root();
    let size = 8 * MIB;
    let bad = MIB + 3 * 4096 + 512..MIB + 5 * 4096;
    let disk = FaultyDisk::new(size, bad.clone(), 512);

    // A non-zero source, so the store shows what dd really wrote.
    let src = tempfile::NamedTempFile::new().expect("source file");
    std::fs::write(src.path(), vec![0x5Au8; size as usize]).expect("write source");

    let out = run(Command::new("dd")
        .env("LC_ALL", "C")
        .arg(format!("if={}", src.path().display()))
        .arg(format!("of={}", disk.loopdev().path().display()))
        .args(["bs=4096", "oflag=direct"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "dd succeeded over a bad range: {stderr}"
    );
    assert!(
        stderr.contains("Input/output error"),
        "dd failed for another reason: {stderr}"
    );
    let copied: u64 = stderr
        .lines()
        .find(|l| l.contains("bytes") && l.contains("copied"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in dd's output: {stderr}"));
    assert_eq!(copied, bad.start / 4096 * 4096, "dd output: {stderr}");

    let stored = disk.stored_bytes();
    assert_eq!(first_not(&stored, 0..copied, 0x5A), None);
    assert_eq!(
        first_not(&stored, copied..size, 0),
        None,
        "stored past the failure"
    );
    assert!(disk.stats().write_errors >= 1);
}

#[test]
fn direct_reads_fail_inside_the_bad_range_only() {
    require_root();
    let bad = 2 * MIB + 4096..2 * MIB + 2 * 4096;
    let disk = FaultyDisk::new(4 * MIB, bad.clone(), 512);
    disk.fill_store(0, &vec![OLD; 4 * MIB as usize]);
    let dev = open_direct(disk.loopdev(), false);

    let mut buf = AlignedBuf::new(4096);
    dev.read_exact_at(&mut buf, bad.start - 4096)
        .expect("read the block before the bad range");
    assert!(buf.iter().all(|&b| b == OLD), "read wrong data");
    dev.read_exact_at(&mut buf, bad.end)
        .expect("read the block after the bad range");
    assert_eio(dev.read_exact_at(&mut buf, bad.start), "read inside");

    // A single 512-byte sector just before the range still reads (512-byte logical sectors).
    let mut sector = AlignedBuf::new(512);
    dev.read_exact_at(&mut sector, bad.start - 512)
        .expect("read the sector before the bad range");
    assert!(disk.stats().read_errors >= 1);
}

/// massho writes and reads in large chunks; a large request that only partly overlaps the bad
/// range must fail as a whole, never report success over sectors that were not stored.
#[test]
fn large_direct_io_across_the_bad_range_fails() {
    require_root();
    let size = 16 * MIB;
    // Near the end of a 4 MiB chunk, so a kernel that splits the request would reach it late.
    let bad = 4 * MIB + 3 * MIB + 512 * 1024..4 * MIB + 3 * MIB + 512 * 1024 + 512;
    let disk = FaultyDisk::new(size, bad.clone(), 512);
    let dev = open_direct(disk.loopdev(), true);

    let mut chunk = AlignedBuf::new(4 * MIB as usize);
    chunk.fill(0x11);
    dev.write_all_at(&chunk, 0).expect("write a healthy chunk");
    assert_eio(dev.write_all_at(&chunk, 4 * MIB), "4 MiB write across");
    assert_eio(dev.read_exact_at(&mut chunk, 4 * MIB), "4 MiB read across");
    // The healthy chunk reads back.
    dev.read_exact_at(&mut chunk, 0)
        .expect("read a healthy chunk");
    assert!(chunk.iter().all(|&b| b == 0x11));

    // Healing the medium makes the same write go through.
    disk.set_faults(Faults::none());
    chunk.fill(0x22);
    dev.write_all_at(&chunk, 4 * MIB)
        .expect("write after healing");
    let stored = disk.stored_bytes();
    assert_eq!(first_not(&stored, 4 * MIB..8 * MIB, 0x22), None);
    eprintln!("server stats: {:?}", disk.stats());
}

/// What an engine retrying sector by sector will find: exactly the sectors overlapping the bad
/// byte range fail, for writes and for reads, at either sector size.
#[test]
fn single_sector_io_fails_exactly_on_the_bad_sectors() {
    require_root();
    for sector_size in [512u64, 4096] {
        let bad = wipe_bad_range();
        let disk = FaultyDisk::new(16 * MIB, bad.clone(), sector_size as u32);
        let dev = open_direct(disk.loopdev(), true);
        let (first, last) = bad_lbas(&bad, sector_size);
        let mut buf = AlignedBuf::new(sector_size as usize);
        let (mut bad_writes, mut bad_reads) = (Vec::new(), Vec::new());
        for lba in first - 3..=last + 3 {
            if dev.write_all_at(&buf, lba * sector_size).is_err() {
                bad_writes.push(lba);
            }
            if dev.read_exact_at(&mut buf, lba * sector_size).is_err() {
                bad_reads.push(lba);
            }
        }
        let want: Vec<u64> = (first..=last).collect();
        assert_eq!(
            bad_writes, want,
            "failed writes, {sector_size}-byte sectors"
        );
        assert_eq!(bad_reads, want, "failed reads, {sector_size}-byte sectors");
    }
}

#[test]
fn sync_fault_fails_fdatasync() {
    require_root();
    let disk = FaultyDisk::with_faults(
        4 * MIB,
        Faults {
            sync: true,
            ..Faults::none()
        },
        4096,
    );
    let dev = open_direct(disk.loopdev(), true);
    let mut buf = AlignedBuf::new(4096);
    buf.fill(0x33);
    dev.write_all_at(&buf, 0).expect("write");
    assert_eio(dev.sync_data(), "fdatasync");
    disk.set_faults(Faults::none());
    dev.sync_data().expect("fdatasync after healing");
}

// ---------------------------------------------------------------------------------------------
// massho wipe against it (contract: NDJSON events, one `result` object per device).
// ---------------------------------------------------------------------------------------------

fn result_for<'a>(results: &'a [Value], dev: &LoopDevice) -> &'a Value {
    let path = dev.path().to_str().expect("utf-8 device path");
    results
        .iter()
        .find(|r| r["device"] == path)
        .unwrap_or_else(|| panic!("no result for {path} in {results:#?}"))
}

fn describe(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn wipe_zero_verify_last(devices: &[&LoopDevice]) -> std::process::Output {
    wipe(devices, &["--json", "--method", "zero", "--verify", "last"])
}

/// Every NDJSON line is an event.
fn assert_all_events(out: &std::process::Output) {
    for v in common::ndjson(&out.stdout) {
        assert!(v["event"].is_string(), "line without \"event\": {v}");
    }
}

/// The checks shared by the 512- and 4096-byte sector tests.
fn check_failed_result(result: &Value, disk: &FaultyDisk, bad: &Range<u64>, sector_size: u64) {
    assert_eq!(result["status"], "failed", "{result:#}");
    assert_eq!(result["size_bytes"], disk.size(), "{result:#}");
    assert_eq!(result["verification"]["direct_io"], true, "{result:#}");

    let errors = result["errors"].as_array().expect("errors array");
    let (first, last) = bad_lbas(bad, sector_size);
    let writes: Vec<&Value> = errors.iter().filter(|e| e["kind"] == "write").collect();
    assert_eq!(
        writes.len(),
        1,
        "want one merged write error range, sectors {first}..={last}: {result:#}"
    );
    let w = writes[0];
    assert_eq!(w["first_lba"], first, "{w:#}");
    assert_eq!(w["last_lba"], last, "{w:#}");
    assert_eq!(w["sector_size"], sector_size, "{w:#}");
    assert_eq!(w["offset"], first * sector_size, "{w:#}");
    assert_eq!(w["length"], (last - first + 1) * sector_size, "{w:#}");
    assert!(w["message"].is_string(), "{w:#}");

    // No phantom errors: whatever else is reported (reads during verification) is on the bad
    // sectors too.
    for e in errors {
        let kind = e["kind"].as_str().unwrap_or_default();
        assert!(["write", "read", "sync"].contains(&kind), "{e:#}");
        if kind == "sync" {
            continue;
        }
        let (f, l) = (e["first_lba"].as_u64(), e["last_lba"].as_u64());
        let (f, l) = (f.expect("first_lba"), l.expect("last_lba"));
        assert!(
            f <= last && first <= l,
            "error outside the bad sectors: {e:#}"
        );
    }

    // On the medium: every sector that does not touch the bad range is zero now; the bad byte
    // range still holds the old content (the medium refused every write there).
    let stored = disk.stored_bytes();
    let bad_sectors = first * sector_size..(last + 1) * sector_size;
    assert_eq!(first_not(&stored, 0..bad_sectors.start, 0), None);
    assert_eq!(first_not(&stored, bad_sectors.end..disk.size(), 0), None);
    assert_eq!(first_not(&stored, bad.clone(), OLD), None);
}

fn wipe_reports_exact_bad_sectors(sector_size: u32) {
    require_root();
    let size = 64 * MIB;
    let bad = wipe_bad_range();
    let disk = FaultyDisk::new(size, bad.clone(), sector_size);
    disk.fill_store(0, &vec![OLD; size as usize]);

    let out = wipe_zero_verify_last(&[disk.loopdev()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_all_events(&out);
    let results = results(&out.stdout);
    assert_eq!(results.len(), 1, "{}", describe(&out));
    check_failed_result(
        result_for(&results, disk.loopdev()),
        &disk,
        &bad,
        u64::from(sector_size),
    );
    assert!(disk.stats().write_errors >= 1);
}

#[test]
fn wipe_reports_exact_bad_sectors_512() {
    // (10 MiB + 4096) / 512 = 20488 ..= ceil((10 MiB + 3*4096 + 512) / 512) - 1 = 20504
    assert_eq!(bad_lbas(&wipe_bad_range(), 512), (20488, 20504));
    wipe_reports_exact_bad_sectors(512);
}

#[test]
fn wipe_reports_exact_bad_sectors_4096() {
    // 4096-byte sectors 2561 ..= 2563 cover the range.
    assert_eq!(bad_lbas(&wipe_bad_range(), 4096), (2561, 2563));
    wipe_reports_exact_bad_sectors(4096);
}

#[test]
fn one_bad_device_does_not_fail_its_neighbour() {
    require_root();
    let size = 64 * MIB;
    let bad = wipe_bad_range();
    let faulty = FaultyDisk::new(size, bad.clone(), 512);
    faulty.fill_store(0, &vec![OLD; size as usize]);
    let healthy = LoopDevice::new(size, 512);
    // Old content on the healthy medium too (its backing file, which the loop device reads
    // through the same page cache).
    std::fs::write(healthy.backing(), vec![OLD; size as usize]).expect("fill healthy backing");

    let out = wipe_zero_verify_last(&[faulty.loopdev(), &healthy]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_all_events(&out);
    let results = results(&out.stdout);
    assert_eq!(results.len(), 2, "{}", describe(&out));

    let good = result_for(&results, &healthy);
    assert_eq!(good["status"], "passed", "{good:#}");
    assert_eq!(good["errors"].as_array().map(Vec::len), Some(0), "{good:#}");
    assert_eq!(good["verification"]["mismatched_bytes"], 0, "{good:#}");
    assert_eq!(good["verification"]["bytes_verified"], size, "{good:#}");
    let passes = good["passes"].as_array().expect("passes array");
    assert!(!passes.is_empty(), "{good:#}");
    assert!(passes.iter().all(|p| p["completed"] == true), "{good:#}");
    assert!(
        passes.iter().all(|p| p["bytes_written"] == size),
        "{good:#}"
    );
    let medium = healthy.backing_bytes();
    assert_eq!(
        first_not(&medium, 0..size, 0),
        None,
        "healthy medium not zeroed"
    );

    check_failed_result(result_for(&results, faulty.loopdev()), &faulty, &bad, 512);
}

/// A wipe that fails on real bad sectors still gets its certificate (saying `failed`), the
/// ledger records it, and the ledger then refuses the medium's disposal.
#[test]
fn a_failed_wipe_is_certified_recorded_and_blocks_disposal() {
    require_root();
    let size = 16 * MIB;
    let bad = wipe_bad_range();
    let disk = FaultyDisk::new(size, bad.clone(), 512);
    let dir = tempfile::tempdir().expect("scratch dir");
    let ledger = dir.path().join("ledger.sqlite");
    let certs = dir.path().join("certs");
    let m = |args: &[&str]| {
        run(common::massho()
            .args(args)
            .arg("--ledger")
            .arg(&ledger)
            .env("USER", "tester"))
    };
    assert!(m(&["ledger", "init"]).status.success());
    assert!(m(&["media", "register", "HDD-BAD", "--kind", "other"])
        .status
        .success());
    let keys = dir.path().join("keys");
    let out = run(common::massho()
        .args(["key", "generate", "--no-passphrase", "--out"])
        .arg(&keys));
    assert!(out.status.success(), "{}", describe(&out));
    let out = run(common::massho()
        .args(["wipe", "--yes", "--method", "zero", "--operator", "Yamada"])
        .arg("--key")
        .arg(keys.join("massho.key"))
        .arg("--cert-dir")
        .arg(&certs)
        .arg("--ledger")
        .arg(&ledger)
        .args(["--asset", "HDD-BAD"])
        .arg(disk.loopdev().path()));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let show = m(&["media", "show", "HDD-BAD", "--json"]);
    let v: Value = serde_json::from_slice(&show.stdout).expect("media show JSON");
    assert_eq!(v["medium"]["last_wipe_status"], "failed");
    let id = v["medium"]["last_wipe_certificate"]
        .as_str()
        .expect("certificate id");
    let cert: Value = serde_json::from_slice(
        &std::fs::read(certs.join(format!("{id}.json"))).expect("certificate file"),
    )
    .expect("certificate JSON");
    assert_eq!(cert["status"], "failed");
    let (first, last) = bad_lbas(&bad, 512);
    let write = cert["wipe"]["errors"]
        .as_array()
        .expect("errors in the certificate")
        .iter()
        .find(|e| e["kind"] == "write")
        .expect("a write error range in the certificate")
        .clone();
    assert_eq!(write["first_lba"], first, "{write:#}");
    assert_eq!(write["last_lba"], last, "{write:#}");
    let out = m(&["media", "dispose", "HDD-BAD", "--method", "recycling"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("its latest wipe failed"));
}

#[test]
fn a_pass_that_hit_bad_sectors_says_so_on_its_own_line() {
    require_root();
    let size = 16 * MIB;
    let bad = wipe_bad_range();
    let disk = FaultyDisk::new(size, bad, 512);
    // Plain output (stdout is not a terminal): one line per pass.
    let out = wipe(&[disk.loopdev()], &["--method", "zero", "--verify", "last"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains(": pass 1 (0x00) "))
        .unwrap_or_else(|| panic!("no pass line in {stdout}"));
    assert!(
        line.contains("FAILED: ") && line.contains("sector(s) could not be written"),
        "{line}"
    );
    assert!(!line.contains(" done:"), "{line}");
}

#[test]
fn a_medium_that_cannot_be_probed_has_unknown_signatures_not_none() {
    require_root();
    // The first sectors answer EIO: libblkid cannot read the partition table area.
    let disk = FaultyDisk::new(16 * MIB, 0..MIB, 512);
    let out = common::run(
        common::massho()
            .args(["wipe", "--dry-run", "--json"])
            .arg(disk.loopdev().path()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let plan = &common::ndjson(&out.stdout)[0];
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("holds: unknown (the medium could not be probed"),
        "{plan}\n{stderr}"
    );
}
