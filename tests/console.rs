//! `massho console` driven as an operator drives it: in a tmux session (keys in, screen out),
//! against loop devices this test creates. Verdicts come from the backing files, the journal
//! and the certificates, not from what the screen says.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::pipeline::Throttle;
use common::tmux::Tmux;
use common::{keypair, massho, require_root, run, LoopDevice, Mount};

const MIB: u64 = 1 << 20;
const LONG: Duration = Duration::from_secs(90);

/// A scratch directory with a signing key; every record of the test goes under it.
struct Bench {
    dir: tempfile::TempDir,
    key: PathBuf,
    public: PathBuf,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let (key, public) = keypair(dir.path(), "bench");
        Bench { dir, key, public }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Start the console on `devices` in a 100×30 tmux session, its options filling in the
    /// certificate details; `throttle` slows its I/O to the devices it names.
    fn console(&self, devices: &[&LoopDevice], throttle: Option<&Throttle>) -> Tmux {
        self.console_with(devices, throttle, &[])
    }

    /// As [`Bench::console`], with more options.
    fn console_with(
        &self,
        devices: &[&LoopDevice],
        throttle: Option<&Throttle>,
        extra: &[String],
    ) -> Tmux {
        let mut args: Vec<String> = devices
            .iter()
            .map(|d| d.path().display().to_string())
            .collect();
        for (opt, value) in [
            ("--journal-dir", self.path("journal")),
            ("--result-dir", self.path("results")),
            ("--cert-dir", self.path("certs")),
            ("--key", self.key.clone()),
        ] {
            args.push(opt.into());
            args.push(value.display().to_string());
        }
        args.push("--operator".into());
        args.push("Tester".into());
        args.extend_from_slice(extra);
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let mut script = String::new();
        if let Some(t) = throttle {
            script.push_str(&format!("echo $$ > '{}'\n", t.procs_file().display()));
        }
        // Hermetic: none of the developer's MASSHO_* or XDG_* settings reach it. The exit
        // status is written by the shell (tmux does not always reap a pane's process).
        script.push_str(&format!(
            "env -i PATH=\"$PATH\" TERM=screen HOME='{}' LANG=C.UTF-8 '{}' console {}\necho $? > '{}'\n",
            self.dir.path().display(),
            massho().get_program().to_string_lossy(),
            quoted.join(" "),
            self.path("exit").display()
        ));
        let file = self.path("console.sh");
        std::fs::write(&file, script).unwrap();
        Tmux::start(&file, 100, 30)
    }

    fn files(&self, sub: &str) -> Vec<PathBuf> {
        match std::fs::read_dir(self.path(sub)) {
            Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn certificates(&self) -> Vec<serde_json::Value> {
        self.files("certs")
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    fn journal(&self) -> Vec<serde_json::Value> {
        self.files("journal")
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// The console's process: the one whose command line names this bench's directory.
    fn pid(&self) -> i32 {
        let mark = self.dir.path().to_string_lossy().into_owned();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .find(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    let c = String::from_utf8_lossy(&c);
                    let mut args = c.split('\0');
                    args.next().is_some_and(|a| a.ends_with("/massho"))
                        && args.next() == Some("console")
                        && c.contains(&mark)
                })
            })
            .expect("the console's process")
    }

    /// The console's exit status, once it has exited.
    fn wait_exit(&self, t: &Tmux) -> i32 {
        let start = std::time::Instant::now();
        loop {
            if let Ok(code) = std::fs::read_to_string(self.path("exit")) {
                if let Ok(code) = code.trim().parse() {
                    return code;
                }
            }
            assert!(
                start.elapsed() < LONG,
                "massho did not exit; screen:\n{}",
                t.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn kernel_name(d: &LoopDevice) -> String {
    d.path().file_name().unwrap().to_string_lossy().into_owned()
}

fn all_bytes_are(path: &Path, byte: u8) -> bool {
    std::fs::read(path).unwrap().iter().all(|b| *b == byte)
}

/// Select the drives at these list rows (in increasing order) and go through the details
/// form to the confirmation screen.
fn to_confirmation(t: &Tmux, rows: &[usize]) {
    let mut at = 0;
    for &r in rows {
        for _ in at..r {
            t.keys(&["Down"]);
        }
        at = r;
        t.keys(&["Space"]);
    }
    t.keys(&["Enter"]);
    t.wait_for("Wipe details", LONG);
    for _ in 0..20 {
        t.keys(&["Tab"]);
    }
    t.keys(&["Enter"]);
    t.wait_for("WILL BE DESTROYED", LONG);
}

#[test]
fn the_list_shows_sizes_and_why_a_mounted_drive_cannot_be_selected() {
    require_root();
    let mounted = LoopDevice::new(32 * MIB, 512);
    let _mount = Mount::ext4(&mounted);
    let free = LoopDevice::new(16 * MIB, 512);
    let bench = Bench::new();
    let t = bench.console(&[&mounted, &free], None);
    let screen = t.wait_for("WIPE?", LONG);
    assert!(
        screen.contains("33.6 MB") && screen.contains("16.8 MB"),
        "{screen}"
    );
    assert!(screen.contains("NO: mounted"), "{screen}");
    // The cursor is on the mounted drive: the details say why in full.
    let why = format!("{} is mounted at", mounted.path().display());
    assert!(
        screen.contains(&format!("REFUSED (cannot be selected): {why}")),
        "{screen}"
    );
    t.keys(&["Space"]);
    let screen = t.wait_for("cannot be selected:", LONG);
    assert!(screen.contains("selected: 0"), "{screen}");
    // At 80x24 the same facts are there.
    t.resize(80, 24);
    let screen = t.wait_for("Enter next  q quit", LONG);
    assert!(
        screen.contains("NO: mounted") && screen.contains("16.8 MB"),
        "{screen}"
    );
    t.keys(&["q"]);
    assert_eq!(bench.wait_exit(&t), 0);
}

#[test]
fn a_selected_drive_is_wiped_after_the_confirmation_and_its_certificate_verifies() {
    require_root();
    let dev = LoopDevice::new(16 * MIB, 512);
    dev.fill_backing(0xAA);
    let bench = Bench::new();
    let t = bench.console(&[&dev], None);
    t.wait_for("WIPE?", LONG);
    t.keys(&["Space", "Enter"]);
    t.wait_for("Wipe details", LONG);
    // The asset tag comes from a barcode scanner: a line of text and Enter.
    for _ in 0..10 {
        t.keys(&["Tab"]);
    }
    t.type_text("PC-0042");
    t.keys(&["Enter", "Enter"]);
    let screen = t.wait_for("WILL BE DESTROYED", LONG);
    assert!(screen.contains("asset tag PC-0042"), "{screen}");
    assert!(screen.contains("16777216 bytes"), "{screen}");
    t.type_text(&kernel_name(&dev));
    t.keys(&["Enter"]);
    let screen = t.wait_for("Batch ended: 1 PASSED", LONG);
    let certs = bench.certificates();
    assert_eq!(certs.len(), 1, "{screen}");
    let id = certs[0]["certificate_id"].as_str().unwrap();
    assert!(screen.contains(&format!("certificate {id}")), "{screen}");
    assert_eq!(certs[0]["status"], "passed");
    assert!(
        certs[0].to_string().contains("PC-0042"),
        "the asset tag is certified: {}",
        certs[0]
    );
    let out = run(massho()
        .args(["cert", "verify"])
        .arg(bench.path("certs"))
        .arg("--pubkey")
        .arg(&bench.public));
    common::assert_exit(&out, 0);
    assert!(all_bytes_are(dev.backing(), 0), "the medium holds zeros");
    assert_eq!(bench.files("results").len(), 1);
    t.keys(&["q"]);
    assert_eq!(bench.wait_exit(&t), 0);
}

#[test]
fn a_wrong_confirmation_wipes_nothing() {
    require_root();
    let dev = LoopDevice::new(8 * MIB, 512);
    dev.fill_backing(0xAA);
    let bench = Bench::new();
    let t = bench.console(&[&dev], None);
    t.wait_for("WIPE?", LONG);
    to_confirmation(&t, &[0]);
    t.type_text("loop-nothing");
    t.keys(&["Enter"]);
    let screen = t.wait_for("did not match", LONG);
    assert!(screen.contains("nothing was written"), "{screen}");
    assert!(screen.contains("WIPE?"), "back on the drive list: {screen}");
    assert!(
        all_bytes_are(dev.backing(), 0xAA),
        "the medium is untouched"
    );
    assert!(
        bench.journal().is_empty(),
        "no journal entry: nothing started"
    );
    assert!(bench.certificates().is_empty());
    // The drive was released: another program can open it exclusively.
    let out = run(massho()
        .args(["wipe", "--dry-run", "--yes"])
        .arg(dev.path()));
    common::assert_exit(&out, 0);
    t.keys(&["q"]);
    assert_eq!(bench.wait_exit(&t), 0);
}

#[test]
fn stopping_one_of_two_drives_aborts_it_and_the_other_passes() {
    require_root();
    let slow = LoopDevice::new(64 * MIB, 512);
    let other = LoopDevice::new(8 * MIB, 512);
    slow.fill_backing(0xAA);
    other.fill_backing(0xAA);
    // Both run for seconds: the stop happens while both are running.
    let throttle = Throttle::new(&slow, 2 * MIB);
    throttle.also(&other, 2 * MIB);
    let bench = Bench::new();
    let t = bench.console(&[&slow, &other], Some(&throttle));
    t.wait_for("WIPE?", LONG);
    to_confirmation(&t, &[0, 1]);
    t.type_text("destroy 2 drives");
    t.keys(&["Enter"]);
    t.wait_for("Wiping 2 drive(s)", LONG);
    t.wait_for("1/1 write", LONG);
    // The cursor is on the first (slow) drive.
    t.keys(&["s"]);
    t.wait_for("only? The others go on", LONG);
    t.keys(&["y"]);
    let screen = t.wait_for("ABORTED", LONG);
    assert!(
        screen.contains("running"),
        "the other drive goes on: {screen}"
    );
    let screen = t.wait_for("Batch ended", LONG);
    assert!(
        screen.contains("1 ABORTED") && screen.contains("1 PASSED"),
        "{screen}"
    );
    let certs = bench.certificates();
    let status_of = |d: &LoopDevice| {
        certs
            .iter()
            .find(|c| c.to_string().contains(&*d.path().to_string_lossy()))
            .map(|c| c["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status_of(&slow).as_deref(), Some("aborted"), "{certs:?}");
    assert_eq!(status_of(&other).as_deref(), Some("passed"), "{certs:?}");
    assert!(all_bytes_are(other.backing(), 0));
    assert!(
        !all_bytes_are(slow.backing(), 0),
        "the stopped drive was not finished"
    );
    t.keys(&["q"]);
    // The worst outcome decides: aborted.
    assert_eq!(bench.wait_exit(&t), 4);
}

/// Every journal entry is closed with the given status, and a result file exists per drive.
fn assert_recorded(bench: &Bench, drives: usize, status: &str) {
    let journal = bench.journal();
    assert_eq!(journal.len(), drives, "{journal:?}");
    for e in &journal {
        assert_eq!(e["closed"]["status"], status, "{e}");
        let file = e["closed"]["result_file"].as_str().unwrap();
        assert!(Path::new(file).exists(), "{file}");
    }
    assert_eq!(bench.files("results").len(), drives);
}

#[test]
fn ctrl_c_mid_wipe_leaves_closed_journal_entries_and_result_files() {
    require_root();
    let dev = LoopDevice::new(64 * MIB, 512);
    let throttle = Throttle::new(&dev, MIB);
    let bench = Bench::new();
    let t = bench.console(&[&dev], Some(&throttle));
    t.wait_for("WIPE?", LONG);
    to_confirmation(&t, &[0]);
    t.type_text(&kernel_name(&dev));
    t.keys(&["Enter"]);
    t.wait_for("1/1 write", LONG);
    // A resize while wiping redraws; nothing else changes.
    t.resize(80, 24);
    t.wait_for("Ctrl-C stop all", LONG);
    t.keys(&["C-c"]);
    let screen = t.wait_for("Batch ended: 1 ABORTED", LONG);
    assert!(screen.contains("partly overwritten"), "{screen}");
    assert_recorded(&bench, 1, "aborted");
    assert_eq!(bench.certificates()[0]["status"], "aborted");
    t.keys(&["q"]);
    assert_eq!(bench.wait_exit(&t), 4);
}

#[test]
fn a_dropped_session_mid_wipe_is_recorded_as_aborted() {
    require_root();
    let dev = LoopDevice::new(64 * MIB, 512);
    let throttle = Throttle::new(&dev, MIB);
    let bench = Bench::new();
    let t = bench.console(&[&dev], Some(&throttle));
    t.wait_for("WIPE?", LONG);
    to_confirmation(&t, &[0]);
    t.type_text(&kernel_name(&dev));
    t.keys(&["Enter"]);
    t.wait_for("1/1 write", LONG);
    let pid = bench.pid();
    // The terminal goes away (SIGHUP): massho stops, records, and exits on its own.
    t.hang_up();
    let start = std::time::Instant::now();
    // SAFETY: kill(pid, 0) only asks whether the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 {
        assert!(
            start.elapsed() < LONG,
            "massho is still running after SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_recorded(&bench, 1, "aborted");
}

/// The options of a run chosen on the list: a custom method from `--methods-dir`, two rounds,
/// every pass read back. The result and the certificate carry them, and the medium holds the
/// custom method's last pattern.
#[test]
fn a_custom_method_rounds_and_verification_chosen_on_the_list_are_what_runs() {
    require_root();
    let dev = LoopDevice::new(8 * MIB, 512);
    dev.fill_backing(0xAA);
    let bench = Bench::new();
    let methods = bench.path("methods");
    std::fs::create_dir_all(&methods).unwrap();
    std::fs::write(
        methods.join("site.toml"),
        "name = \"site-5a\"\ndescription = \"Our policy: ones, then 0x5A\"\n[[pass]]\nbyte = 0xFF\n[[pass]]\nbyte = 0x5A\n",
    )
    .unwrap();
    // Not a method: ignored, as is anything without .toml.
    std::fs::write(methods.join("README"), "site methods").unwrap();
    let t = bench.console_with(
        &[&dev],
        None,
        &["--methods-dir".into(), methods.display().to_string()],
    );
    t.wait_for("WIPE?", LONG);
    // One key at a time, each waited for: the console draws at most a few frames a second,
    // so keys sent faster are taken together and a method could be stepped over unseen.
    let method_line = |screen: &str| {
        screen
            .lines()
            .find(|l| l.starts_with("Method: "))
            .unwrap_or_default()
            .to_owned()
    };
    let mut found = false;
    for _ in 0..40 {
        let before = method_line(&t.screen());
        if before.contains("Method: site-5a - NIST Clear") {
            found = true;
            break;
        }
        t.keys(&["M"]);
        let start = std::time::Instant::now();
        while method_line(&t.screen()) == before && start.elapsed() < LONG {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert!(found, "the custom method is not offered:\n{}", t.screen());
    t.keys(&["+"]);
    t.wait_for("rounds: 2", LONG);
    t.keys(&["v", "v"]);
    t.wait_for("verify: every pass, in full", LONG);
    to_confirmation(&t, &[0]);
    let screen = t.wait_for("method site-5a", LONG);
    assert!(screen.contains("verify all"), "{screen}");
    t.type_text(&kernel_name(&dev));
    t.keys(&["Enter"]);
    t.wait_for("Batch ended: 1 PASSED", LONG);
    let results = bench.files("results");
    assert_eq!(results.len(), 1);
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&results[0]).unwrap()).unwrap();
    assert_eq!(result["method"], "site-5a", "{result:#}");
    assert_eq!(result["rounds"], 2, "{result:#}");
    assert_eq!(result["passes"].as_array().unwrap().len(), 4, "{result:#}");
    assert_eq!(result["verify_mode"], "all", "{result:#}");
    assert_eq!(bench.certificates()[0]["status"], "passed");
    assert!(
        all_bytes_are(dev.backing(), 0x5A),
        "the last pass's pattern"
    );
    t.keys(&["q"]);
    assert_eq!(bench.wait_exit(&t), 0);
}

/// A malformed method file in the methods directory stops the console at start (a usage
/// error naming the file), before any drive is offered.
#[test]
fn a_malformed_method_in_the_methods_directory_is_refused_at_start() {
    require_root();
    let bench = Bench::new();
    let methods = bench.path("methods");
    std::fs::create_dir_all(&methods).unwrap();
    std::fs::write(methods.join("bad.toml"), "name = \"x\"\n").unwrap();
    let dev = LoopDevice::new(MIB, 512);
    let t = bench.console_with(
        &[&dev],
        None,
        &["--methods-dir".into(), methods.display().to_string()],
    );
    assert_eq!(bench.wait_exit(&t), 2, "{}", t.scrollback());
    let screen = t.scrollback();
    assert!(
        screen.contains("bad.toml") && screen.contains("methods directory"),
        "{screen}"
    );
}
