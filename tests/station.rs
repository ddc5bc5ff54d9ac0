//! `massho station` against loop devices this test attaches while it runs. The policy only
//! admits loop devices whose backing files lie in this test's own directory
//! (`loop_files_under`), so no other device — nor another test's loop device — is touched.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::pipeline::Throttle;
use common::tmux::Tmux;
use common::{keypair, massho, LoopDevice};
use serde_json::Value;

const MIB: u64 = 1 << 20;

struct Station {
    child: Child,
    events: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Station {
    fn start(policy: &Path) -> Station {
        let mut child = massho()
            .args(["station", "--json", "--interval-ms", "300", "--policy"])
            .arg(policy)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start massho station");
        let stdout = child.stdout.take().expect("station stdout");
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Station {
            child,
            events,
            seen: Vec::new(),
        }
    }

    /// Wait for the first event matching `pred`, up to 60 s.
    fn expect(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            match self.events.recv_timeout(Duration::from_millis(200)) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("no {what} event; saw:\n{:#?}", self.seen);
    }

    fn stop(mut self) -> (std::process::ExitStatus, Vec<Value>) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let status = self.child.wait().expect("wait for the station");
        self.seen.extend(self.events.try_iter());
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn image(dir: &Path, name: &str, fill: u8) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, vec![fill; (8 * MIB) as usize]).unwrap();
    p
}

#[test]
fn a_disk_attached_after_the_station_started_is_wiped_certified_and_the_others_are_not() {
    common::require_root();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "station");
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let policy = dir.path().join("station.toml");
    std::fs::write(
        &policy,
        format!(
            "method = \"zero\"\nverify = \"all\"\nresult_dir = \"{}\"\ncert_dir = \"{}\"\nkey = \"{}\"\noperator = \"Bench\"\nloop_files_under = \"{}\"\n",
            dir.path().join("results").display(),
            dir.path().join("certs").display(),
            key.display(),
            images.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("results")).unwrap();
    std::fs::create_dir_all(dir.path().join("certs")).unwrap();
    // Present before the station starts: never touched.
    let before = LoopDevice::over(&image(&images, "before.img", 0x11), 512);
    // Attached later but outside the allowed directory: ignored.
    let elsewhere_dir = tempfile::tempdir().unwrap();
    let mut station = Station::start(&policy);
    let started = station.expect("station", |v| v["event"] == "station");
    let present: Vec<&str> = started["ignoring_present"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        present.contains(&before.path().to_str().unwrap()),
        "{started:#}"
    );
    let foreign = LoopDevice::over(&image(elsewhere_dir.path(), "foreign.img", 0x22), 512);
    let ignored = station.expect("ignored", |v| {
        v["event"] == "ignored" && v["device"] == foreign.path().to_str().unwrap()
    });
    assert!(
        ignored["reason"]
            .as_str()
            .unwrap()
            .contains("loop_files_under"),
        "{ignored:#}"
    );
    let new = LoopDevice::over(&image(&images, "new.img", 0x33), 4096);
    let new_path = new.path().to_str().unwrap().to_owned();
    station.expect("attached", |v| {
        v["event"] == "attached" && v["device"] == new_path.as_str()
    });
    let finished = station.expect("recorded", |v| {
        v["event"] == "recorded" && v["device"] == new_path.as_str()
    });
    assert_eq!(finished["status"], "passed", "{finished:#}");
    let cert = finished["certificate"]
        .as_str()
        .unwrap_or_else(|| panic!("no certificate: {finished:#}"));
    let (status, events) = station.stop();
    assert!(status.success(), "station exit: {status}");
    assert!(
        events.iter().any(|v| v["event"] == "stopped"),
        "{events:#?}"
    );
    // What the disks hold, judged from their backing files.
    assert!(
        new.backing_bytes().iter().all(|b| *b == 0),
        "the new disk is not all zeros"
    );
    assert!(
        before.backing_bytes().iter().all(|b| *b == 0x11),
        "a disk present at start was written"
    );
    assert!(
        foreign.backing_bytes().iter().all(|b| *b == 0x22),
        "a foreign loop device was written"
    );
    // The certificate verifies with the policy's key.
    let out = massho()
        .args(["cert", "verify", "--pubkey"])
        .arg(&public)
        .arg(cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_malformed_policy_is_a_usage_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("bad.toml");
    std::fs::write(&policy, "method = \"zero\"\nverifi = \"all\"\n").unwrap();
    let out = massho()
        .args(["station", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 2") && stderr.contains("verifi"),
        "{stderr}"
    );
}

/// A wipe killed mid-pass, then its drive attached to a running station: the station recognises
/// it from the journal (same backing file and size) and resumes it instead of starting over.
#[test]
fn the_station_resumes_an_interrupted_wipe_of_a_drive_it_recognises() {
    common::require_root();
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    let journal = dir.path().join("journal");
    let results = dir.path().join("results");
    for d in [&images, &journal, &results] {
        std::fs::create_dir_all(d).unwrap();
    }
    let file = image(&images, "bay.img", 0x44);
    {
        let dev = LoopDevice::over(&file, 512);
        common::pipeline::kill_when(&dev, &journal, "random", |e| {
            e["checkpoint"]["flushed_bytes"].as_u64().unwrap_or(0) >= MIB
        });
    } // detached: the drive is pulled
    let policy = dir.path().join("station.toml");
    std::fs::write(
        &policy,
        format!(
            "method = \"zero\"\nresult_dir = \"{}\"\njournal_dir = \"{}\"\nloop_files_under = \"{}\"\n",
            results.display(),
            journal.display(),
            images.display()
        ),
    )
    .unwrap();
    let mut station = Station::start(&policy);
    station.expect("station", |v| v["event"] == "station");
    let dev = LoopDevice::over(&file, 512); // plugged in again
    let path = dev.path().to_str().unwrap().to_owned();
    let resuming = station.expect("resuming", |v| {
        v["event"] == "resuming" && v["device"] == path.as_str()
    });
    assert_eq!(resuming["step"], 1, "{resuming:#}");
    let recorded = station.expect("recorded", |v| {
        v["event"] == "recorded" && v["device"] == path.as_str()
    });
    assert_eq!(recorded["status"], "passed", "{recorded:#}");
    let (status, _) = station.stop();
    assert!(status.success());
    let result: Value =
        serde_json::from_slice(&std::fs::read(recorded["result_file"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(
        result["method"], "random",
        "the interrupted wipe's plan, not the policy's"
    );
    assert!(
        result["resumed"]["offset"].as_u64().unwrap() >= MIB,
        "{result:#}"
    );
    // The medium holds the random stream of the recorded seed, start to end.
    let out = massho()
        .args(["verify", "--result"])
        .arg(recorded["result_file"].as_str().unwrap())
        .arg(dev.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The station in a 100×30 tmux session (a terminal): its dashboard. `procs` is a blkio
/// group's `cgroup.procs`, which the station's shell joins before it starts.
fn station_on_a_terminal(dir: &Path, policy: &Path, procs: &Path) -> Tmux {
    // Hermetic: none of the developer's MASSHO_* or XDG_* settings reach it. The exit status
    // is written by the shell (tmux does not always reap a pane's process).
    let script = format!(
        "echo $$ > '{}'\nenv -i PATH=\"$PATH\" TERM=screen HOME='{}' LANG=C.UTF-8 MASSHO_JOURNAL_DIR='{}' '{}' station --interval-ms 300 --policy '{}'\necho $? > '{}'\n",
        procs.display(),
        dir.display(),
        dir.join("journal").display(),
        massho().get_program().to_string_lossy(),
        policy.display(),
        dir.join("exit").display()
    );
    let file = dir.join("station.sh");
    std::fs::write(&file, script).unwrap();
    Tmux::start(&file, 100, 30)
}

fn wait_exit(dir: &Path, t: &Tmux) -> i32 {
    let start = Instant::now();
    loop {
        if let Ok(code) = std::fs::read_to_string(dir.join("exit")) {
            if let Ok(code) = code.trim().parse() {
                return code;
            }
        }
        assert!(
            start.elapsed() < LONG,
            "the station did not exit; screen:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

const LONG: Duration = Duration::from_secs(90);

/// A policy with every record under `dir` (results, certs, journal) that admits loop devices
/// over files in `dir/images` only.
fn terminal_policy(dir: &Path, key: &Path) -> PathBuf {
    for d in ["images", "results", "certs", "journal"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let policy = dir.join("station.toml");
    std::fs::write(
        &policy,
        format!(
            "method = \"zero\"\nverify = \"all\"\nresult_dir = \"{}\"\ncert_dir = \"{}\"\nkey = \"{}\"\noperator = \"Bench\"\njournal_dir = \"{}\"\nloop_files_under = \"{}\"\n",
            dir.join("results").display(),
            dir.join("certs").display(),
            key.display(),
            dir.join("journal").display(),
            dir.join("images").display()
        ),
    )
    .unwrap();
    policy
}

/// A loop device this test put `file` under (`swap_backing`): the harness detaches only its own
/// file, so this detaches the swapped-in one on drop, also when the test fails (while open,
/// the kernel detaches it when the last user closes it).
struct SwappedIn {
    device: PathBuf,
    file: PathBuf,
}

impl SwappedIn {
    /// Put `file` into a throttled bay: `bay` (a loop device over `spare`, a file outside the
    /// policy's directory, so never wiped), detached and attached again with `file`, which the
    /// station sees as a new disk (a new disk sequence number) limited by `throttle`. Another
    /// test may take the bay's number between the two steps; then another bay is tried.
    fn into_bay(
        mut bay: LoopDevice,
        spare: &Path,
        throttle: &Throttle,
        rate: u64,
        file: &Path,
    ) -> (LoopDevice, SwappedIn) {
        for _ in 0..5 {
            if bay.swap_backing(file) == (true, true) {
                let swapped = SwappedIn {
                    device: bay.path().to_owned(),
                    file: std::fs::canonicalize(file).unwrap(),
                };
                return (bay, swapped);
            }
            // The old bay first: the new one may get its number, and the old one's drop
            // (same path, same backing file) would then unregister and detach the new one.
            drop(bay);
            bay = LoopDevice::over(spare, 512);
            throttle.also(&bay, rate);
        }
        panic!("could not swap {} into a bay", file.display());
    }
}

impl Drop for SwappedIn {
    fn drop(&mut self) {
        let name = self.device.file_name().unwrap_or_default();
        let backing = Path::new("/sys/block").join(name).join("loop/backing_file");
        let now = std::fs::read_to_string(backing).unwrap_or_default();
        let now = now.trim_end();
        if Path::new(now.strip_suffix(" (deleted)").unwrap_or(now)) == self.file {
            let _ = std::process::Command::new("losetup")
                .arg("-d")
                .arg(&self.device)
                .status();
        }
    }
}

/// The journal entries under `dir/journal`.
fn journal_entries(dir: &Path) -> Vec<Value> {
    std::fs::read_dir(dir.join("journal"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
        .collect()
}

/// On a terminal the station shows the console's dashboard: a disk attached while it runs gets
/// a row and is wiped, its row shows its certificate; a second (throttled) disk stopped alone
/// with `s`/`y` is recorded aborted; `q`/`y` quits with every record written.
#[test]
fn on_a_terminal_the_station_shows_the_dashboard_and_a_drive_can_be_stopped_alone() {
    common::require_root();
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "station");
    let images = dir.path().join("images");
    let policy = terminal_policy(dir.path(), &key);
    // A bay whose disk is present at start (ignored), throttled by its device number; the
    // disk swapped into it later (`losetup -d` + `losetup`, a new disk sequence number) is
    // new to the station and is wiped slowly enough to be stopped.
    // Outside the policy's directory: never wiped, whatever happens to the bay.
    let spare = image(dir.path(), "present.img", 0x11);
    let bay = LoopDevice::over(&spare, 512);
    let throttle = Throttle::new(&bay, MIB);
    let t = station_on_a_terminal(dir.path(), &policy, &throttle.procs_file());
    t.wait_for("watching for new disks", LONG);
    t.wait_for("Station", LONG);
    let name = |d: &LoopDevice| d.path().file_name().unwrap().to_string_lossy().into_owned();

    // The slow drive first: its wipe runs (1 MiB/s) while the next one is attached.
    let swapped = images.join("swapped.img");
    std::fs::write(&swapped, vec![0xAA; (16 * MIB) as usize]).unwrap();
    let (slow, _swapped_in) = SwappedIn::into_bay(bay, &spare, &throttle, MIB, &swapped);
    let slow_name = name(&slow);
    t.wait_for(&format!("{slow_name}: attached"), LONG);
    t.wait_for("1/1 write", LONG);

    let fast = LoopDevice::over(&image(&images, "fast.img", 0x33), 4096);
    let fast_name = name(&fast);
    t.wait_for(&format!("{fast_name}: attached"), LONG);
    let screen = t.wait_for("PASSED cert", LONG);
    let certs = |status: &str| -> Vec<(String, PathBuf)> {
        std::fs::read_dir(dir.path().join("certs"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .filter_map(|p| {
                let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                (v["status"] == status).then(|| (v.to_string(), p))
            })
            .collect()
    };
    let passed = certs("passed");
    assert_eq!(passed.len(), 1, "{passed:?}");
    let (cert_text, cert_file) = &passed[0];
    let cert: Value = serde_json::from_str(cert_text).unwrap();
    let id = cert["certificate_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no certificate id in {cert:#}"));
    let row_of = |screen: &str, device: &str| {
        screen
            .lines()
            .find(|l| l.contains(&format!(" {device} ")))
            .unwrap_or_else(|| panic!("no row for {device}:\n{screen}"))
            .to_owned()
    };
    let row = row_of(&screen, &fast_name);
    assert!(
        row.contains("PASSED") && row.contains(&id[..8]),
        "the row does not show certificate {id}:\n{screen}"
    );
    assert!(
        row_of(&screen, &slow_name).contains("running"),
        "the first drive goes on while the second is wiped:\n{screen}"
    );

    // The cursor is on the first row: the slow drive, stopped alone.
    t.keys(&["s"]);
    t.wait_for("only? The others go on", LONG);
    t.keys(&["y"]);
    // The certificate is written after the wipe ends; the row shows it then.
    t.wait_for("ABORTED cert", LONG);
    assert_eq!(certs("aborted").len(), 1, "the stopped drive's certificate");
    // Quitting asks first; a "no" keeps the station.
    t.keys(&["q"]);
    t.wait_for("Stop every wipe and quit?", LONG);
    t.keys(&["n"]);
    t.wait_for("not stopped", LONG);
    t.keys(&["q"]);
    t.wait_for("Stop every wipe and quit?", LONG);
    t.keys(&["y"]);
    assert_eq!(wait_exit(dir.path(), &t), 0);
    // The scrollback keeps each drive's end.
    let screen = t.scrollback();
    assert!(
        screen.contains(&format!("/dev/{fast_name}: PASSED cert")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("/dev/{slow_name}: ABORTED")),
        "{screen}"
    );
    // Judged from the media and the records, not the screen.
    assert!(fast.backing_bytes().iter().all(|b| *b == 0));
    assert!(
        std::fs::read(&swapped).unwrap().iter().any(|b| *b != 0),
        "the stopped drive was finished"
    );
    assert!(
        std::fs::read(&spare).unwrap().iter().all(|b| *b == 0x11),
        "the disk present at start was written"
    );
    for e in std::fs::read_dir(dir.path().join("journal"))
        .unwrap()
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "json") {
            let v: Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            assert!(v["closed"].is_object(), "an open journal entry: {v:#}");
        }
    }
    let out = massho()
        .args(["cert", "verify", "--pubkey"])
        .arg(&public)
        .arg(cert_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A dropped SSH session while the station's dashboard shows a wipe: the terminal hangs up
/// (SIGHUP), the wipe is recorded aborted with its journal entry closed, and the station exits
/// on its own.
#[test]
fn a_dropped_session_stops_the_station_dashboard_and_records_the_wipe() {
    common::require_root();
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keypair(dir.path(), "station");
    let policy = terminal_policy(dir.path(), &key);
    let images = dir.path().join("images");
    let spare = image(dir.path(), "present.img", 0x11);
    let bay = LoopDevice::over(&spare, 512);
    let throttle = Throttle::new(&bay, MIB);
    let t = station_on_a_terminal(dir.path(), &policy, &throttle.procs_file());
    t.wait_for("watching for new disks", LONG);
    let swapped = images.join("swapped.img");
    std::fs::write(&swapped, vec![0xAA; (16 * MIB) as usize]).unwrap();
    let (_bay, _swapped_in) = SwappedIn::into_bay(bay, &spare, &throttle, MIB, &swapped);
    t.wait_for("1/1 write", LONG);
    let mark = policy.to_string_lossy().into_owned();
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                let mut args = c.split('\0');
                args.next().is_some_and(|a| a.ends_with("/massho"))
                    && args.next() == Some("station")
                    && c.contains(&mark)
            })
        })
        .expect("the station's process");
    t.hang_up();
    let start = Instant::now();
    // SAFETY: kill(pid, 0) only asks whether the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 {
        assert!(
            start.elapsed() < LONG,
            "the station still runs after SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let journal = journal_entries(dir.path());
    assert_eq!(journal.len(), 1, "{journal:#?}");
    assert_eq!(
        journal[0]["closed"]["status"], "aborted",
        "{:#}",
        journal[0]
    );
    let result = journal[0]["closed"]["result_file"].as_str().unwrap();
    assert!(Path::new(result).exists(), "{result}");
    assert!(
        std::fs::read(&swapped).unwrap().iter().any(|b| *b != 0),
        "the wipe cannot have finished at 1 MiB/s"
    );
}
