//! The ledger's import and export through the `massho` binary: media lists from Excel (UTF-8 or
//! Shift_JIS, English or Japanese headers) go in all or nothing, every refusal names the line of
//! the file; exports (JSON lines and CSV) verify on their own, and a changed byte, a removed line
//! or a cut tail is caught. No root and no device needed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_exit, massho, run};
use serde_json::Value;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A scratch ledger with two cabinets, in its own directory.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().unwrap(),
        };
        s.ok(&["ledger", "init"]);
        s.ok(&["cabinet", "add", "CAB-1", "--room", "サーバ室"]);
        s.ok(&["cabinet", "add", "CAB-2", "--room", "書庫"]);
        s
    }

    fn ledger(&self) -> PathBuf {
        self.dir.path().join("ledger.sqlite")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.file(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn m(&self, args: &[&str]) -> Output {
        let mut c = massho();
        c.args(args)
            .arg("--ledger")
            .arg(self.ledger())
            .env("USER", "tester")
            .env_remove("SUDO_USER")
            .env_remove("MASSHO_LEDGER");
        run(&mut c)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.m(args);
        assert_exit(&out, 0);
        stdout(&out)
    }

    fn import(&self, file: &Path, extra: &[&str]) -> Output {
        let mut a = vec!["ledger", "import", file.to_str().unwrap()];
        a.extend_from_slice(extra);
        self.m(&a)
    }

    fn events(&self) -> u64 {
        let conn = rusqlite::Connection::open(self.ledger()).unwrap();
        conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
            .unwrap() as u64
    }

    fn media(&self) -> Vec<Value> {
        let v: Value = serde_json::from_str(&self.ok(&["media", "list", "--json"])).unwrap();
        v.as_array().unwrap().clone()
    }

    fn medium(&self, tag: &str) -> Value {
        self.media()
            .into_iter()
            .find(|m| m["asset_tag"] == tag)
            .unwrap_or_else(|| panic!("no medium {tag}"))
    }

    /// `ledger verify --export FILE`: exit code and stdout.
    fn verify_export(&self, file: &Path) -> (i32, String) {
        let out = run(massho()
            .args(["ledger", "verify", "--export"])
            .arg(file)
            .env_remove("MASSHO_LEDGER"));
        (out.status.code().unwrap_or(-1), stdout(&out))
    }
}

const ENGLISH: &str = "\u{FEFF}Asset Tag,Kind,Vendor,Model,Serial,Capacity,Department,Personal Info,Lessor,Contract,Return Due,Cabinet,Slot,Note\r\n\
USB-001,usb-flash,Kioxia,U301,SN-U1,32GiB,総務課,yes,,,,CAB-1,A-1,\r\n\
HDD-002,hdd,Seagate,ST2000,SN-H2,2T,経理課,no,Tokyo Lease,L-77,2027-03-31,CAB-2,,\"leased, 3 years\"\r\n\
SSD-003,SSD,Samsung,870 EVO,SN-S3,500G,,0,,,,,,\r\n";

#[test]
fn a_utf8_csv_with_english_headers_registers_and_stores_every_medium() {
    let s = Scratch::new();
    let file = s.write("media.csv", ENGLISH.as_bytes());
    let before = s.events();
    let out = s.import(&file, &[]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("registered 3 media from")
            && stdout(&out).contains("(UTF-8), 2 of them stored in cabinets"),
        "{}",
        stdout(&out)
    );
    // Three registrations and two storages, in one go.
    assert_eq!(s.events(), before + 5);
    let usb = s.medium("USB-001");
    assert_eq!(usb["kind"], "usb-flash");
    assert_eq!(usb["capacity_bytes"], 32u64 << 30);
    assert_eq!(usb["department"], "総務課");
    assert_eq!(usb["personal_info"], true);
    assert_eq!(usb["status"], "in_cabinet");
    assert_eq!(usb["cabinet"], "CAB-1");
    assert_eq!(usb["slot"], "A-1");
    let hdd = s.medium("HDD-002");
    assert_eq!(hdd["leased"], true);
    assert_eq!(hdd["lessor"], "Tokyo Lease");
    assert_eq!(hdd["return_due"], "2027-03-31");
    assert_eq!(hdd["capacity_bytes"], 2_000_000_000_000u64);
    let ssd = s.medium("SSD-003");
    assert_eq!(ssd["kind"], "ssd");
    assert_eq!(ssd["status"], "in_use");
    assert_eq!(ssd["personal_info"], false);
    // The note and the recorder are in the registration event.
    let show: Value = serde_json::from_str(&s.ok(&["media", "show", "HDD-002", "--json"])).unwrap();
    assert_eq!(show["events"][0]["note"], "leased, 3 years");
    assert_eq!(show["events"][0]["actor"], "tester");
    s.ok(&["ledger", "verify"]);
}

#[test]
fn a_shift_jis_csv_with_japanese_headers_is_read_as_excel_writes_it() {
    let s = Scratch::new();
    let text = "管理番号,媒体種別,メーカー,型番,製造番号,容量,所管部署,個人情報,リース会社,契約番号,返却予定日,保管庫,棚,備考\r\n\
                T-001,テープ,HPE,LTO-8,SN-T1,12T,総務課,○,東京リース,契約-9,2027/3/1,CAB-1,2段目,㈱セキュア運用\r\n\
                T-002,テープ,HPE,LTO-8,SN-T2,12T,総務課,×,,,,,,\r\n";
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&sjis).is_err(), "not UTF-8 any more");
    let file = s.write("台帳.csv", &sjis);
    let out = s.import(&file, &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("(Shift_JIS)"), "{}", stdout(&out));
    let t1 = s.medium("T-001");
    assert_eq!(t1["kind"], "tape");
    assert_eq!(t1["department"], "総務課");
    assert_eq!(t1["personal_info"], true);
    assert_eq!(t1["lessor"], "東京リース");
    assert_eq!(t1["contract"], "契約-9");
    assert_eq!(t1["return_due"], "2027-03-01");
    assert_eq!(t1["cabinet"], "CAB-1");
    assert_eq!(t1["slot"], "2段目");
    let t2 = s.medium("T-002");
    assert_eq!(t2["personal_info"], false);
    assert_eq!(t2["status"], "in_use");
    let show: Value = serde_json::from_str(&s.ok(&["media", "show", "T-001", "--json"])).unwrap();
    assert_eq!(show["events"][0]["note"], "㈱セキュア運用");

    // Forcing UTF-8 on Shift_JIS bytes is refused, naming the line.
    let s2 = Scratch::new();
    let out = s2.import(&file, &["--encoding", "utf-8"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("line 1 is not valid UTF-8"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_malformed_row_names_its_line_column_and_value_and_nothing_is_written() {
    let s = Scratch::new();
    let before = s.events();
    let csv = "asset_tag,kind,capacity,return_due,lessor,contract\n\
               A-1,hdd,1T,,,\n\
               A-2,ssd,500G,,,\n\
               A-3,floppy,1T,,,\n\
               A-4,hdd,1T,2027/02/30,Lease Co,C-1\n";
    let file = s.write("bad.csv", csv.as_bytes());
    let out = s.import(&file, &[]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("line 4, column kind: \"floppy\": not a kind of medium"),
        "{err}"
    );
    assert!(
        err.contains("line 5, column return_due: \"2027/02/30\": not a date"),
        "{err}"
    );
    assert!(err.contains("nothing was recorded"), "{err}");
    assert_eq!(s.events(), before);
    assert!(s.media().is_empty());

    // An unknown column is refused by name; a #-column is skipped on purpose.
    let file = s.write(
        "extra.csv",
        "asset_tag,kind,colour\nA-1,hdd,red\n".as_bytes(),
    );
    let out = s.import(&file, &[]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("unknown column(s) \"colour\""),
        "{}",
        stderr(&out)
    );
    let file = s.write(
        "skip.csv",
        "asset_tag,kind,#colour\nA-1,hdd,red\n".as_bytes(),
    );
    assert_exit(&s.import(&file, &[]), 0);
    assert_eq!(s.events(), before + 1);
}

#[test]
fn a_row_the_rules_refuse_is_named_by_its_line_and_nothing_is_written() {
    let s = Scratch::new();
    s.ok(&["media", "register", "DUP-1", "--kind", "hdd"]);
    let before = s.events();
    // A tag already in the ledger, at line 3.
    let csv = "asset_tag,kind,cabinet\nNEW-1,hdd,CAB-1\nDUP-1,ssd,\nNEW-2,sd,\n";
    let file = s.write("dup.csv", csv.as_bytes());
    let out = s.import(&file, &[]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("line 3 (asset DUP-1)"), "{err}");
    assert!(err.contains("registered already"), "{err}");
    assert!(err.contains("nothing was recorded"), "{err}");
    assert_eq!(s.events(), before);
    // A dry run finds it too, and records nothing either way.
    let out = s.import(&file, &["--dry-run"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("line 3 (asset DUP-1)"));
    assert_eq!(s.events(), before);

    // A cabinet that does not exist: its line, and how to add it.
    let csv = "asset_tag,kind,cabinet\nNEW-1,hdd,CAB-1\nNEW-2,hdd,CAB-9\n";
    let file = s.write("cab.csv", csv.as_bytes());
    let out = s.import(&file, &[]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("line 3 (asset NEW-2): no cabinet CAB-9"),
        "{err}"
    );
    assert!(err.contains("massho cabinet add CAB-9"), "{err}");
    assert_eq!(s.events(), before);

    // A duplicate serial within the file: the rules see the rows before it.
    let csv = "asset_tag,kind,serial\nNEW-1,hdd,SN-9\nNEW-2,hdd,SN-9\n";
    let file = s.write("serial.csv", csv.as_bytes());
    let out = s.import(&file, &["--dry-run"]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("line 3 (asset NEW-2): serial number SN-9"),
        "{}",
        stderr(&out)
    );

    // A good file, dry run: every check passes, nothing recorded.
    let csv = "asset_tag,kind,cabinet\nNEW-1,hdd,CAB-1\nNEW-2,sd,\n";
    let file = s.write("good.csv", csv.as_bytes());
    let out = s.import(&file, &["--dry-run"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("dry run: 2 media"),
        "{}",
        stdout(&out)
    );
    assert_eq!(s.events(), before);
    assert_exit(&s.import(&file, &[]), 0);
    assert_eq!(s.events(), before + 3);
}

/// A ledger with a little history: imported media, a checkout, a handover, a backup.
fn with_history() -> Scratch {
    let s = Scratch::new();
    let file = s.write("media.csv", ENGLISH.as_bytes());
    assert_exit(&s.import(&file, &[]), 0);
    s.ok(&[
        "media",
        "check-out",
        "USB-001",
        "--by",
        "佐藤",
        "--purpose",
        "監査",
        "--approver",
        "部長",
    ]);
    s.ok(&[
        "media",
        "backup",
        "HDD-002",
        "--set",
        "nightly",
        "--system",
        "会計",
        "--generation",
        "1",
        "--retain-until",
        "2030-03-31",
    ]);
    s
}

/// Change one byte inside the body of event `seq` in an export (JSON lines or CSV).
fn tamper_body(text: &str, seq: u64, csv: bool) -> String {
    let needle = if csv {
        format!("\"\"seq\"\":{seq},")
    } else {
        format!("\\\"seq\\\":{seq},")
    };
    let at = text.find(&needle).expect("event in export") + needle.len();
    let actor = text[at..].find("tester").expect("actor in body") + at;
    let mut bytes = text.as_bytes().to_vec();
    bytes[actor] = b'j';
    String::from_utf8(bytes).unwrap()
}

#[test]
fn exports_verify_on_their_own_and_any_change_is_caught() {
    let s = with_history();
    let events = s.events();
    for format in ["jsonl", "csv"] {
        let file = s.file(&format!("export.{format}"));
        let out = s.ok(&[
            "ledger",
            "export",
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
        ]);
        assert!(out.contains(&format!("exported {events} events")), "{out}");
        // Never replaces a file.
        assert_exit(
            &s.m(&[
                "ledger",
                "export",
                "--format",
                format,
                "-o",
                file.to_str().unwrap(),
            ]),
            2,
        );
        let (code, text) = s.verify_export(&file);
        assert_eq!(code, 0, "{format}: {text}");
        assert!(text.contains(&format!("events: {events}")), "{text}");
        assert!(text.contains("media: 3, cabinets: 2"), "{text}");

        let original = std::fs::read_to_string(&file).unwrap();
        // One byte of one body.
        let changed = s.write(
            &format!("changed.{format}"),
            tamper_body(&original, 4, format == "csv").as_bytes(),
        );
        let (code, text) = s.verify_export(&changed);
        assert_eq!(code, 1, "{format}: {text}");
        assert!(
            text.contains("event 4: its content does not match its hash"),
            "{format}: {text}"
        );
        // One line removed from the middle (event 5 is on line 6 after the header).
        let lines: Vec<&str> = original.split_inclusive('\n').collect();
        let without: String = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 5)
            .map(|(_, l)| *l)
            .collect();
        let gap = s.write(&format!("gap.{format}"), without.as_bytes());
        let (code, text) = s.verify_export(&gap);
        assert_eq!(code, 1, "{format}: {text}");
        assert!(text.contains("event 5 is missing"), "{format}: {text}");
        // A malformed line is named by its number.
        let mut broken = lines.clone();
        broken[3] = "{\"seq\": 3, oops\n";
        let broken = s.write(&format!("broken.{format}"), broken.concat().as_bytes());
        let (code, text) = s.verify_export(&broken);
        assert_eq!(code, 1, "{format}: {text}");
        assert!(text.contains("line 4"), "{format}: {text}");
    }

    // The last line of a JSON-lines export removed: the header's count says so.
    let original = std::fs::read_to_string(s.file("export.jsonl")).unwrap();
    let lines: Vec<&str> = original.split_inclusive('\n').collect();
    let cut = s.write("cut.jsonl", lines[..lines.len() - 1].concat().as_bytes());
    let (code, text) = s.verify_export(&cut);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!(
            "header says {events} events ending in {}",
            &lines[0].split("\"head\":\"").nth(1).unwrap()[..12]
        )) && text.contains(&format!("holds only {}", events - 1))
            && text.contains("truncated"),
        "{text}"
    );

    // Standard output carries the same events.
    let out = s.m(&["ledger", "export"]);
    assert_exit(&out, 0);
    let piped = stdout(&out);
    assert_eq!(piped.lines().count(), lines.len());
    assert_eq!(piped.lines().nth(3), original.lines().nth(3));
}

#[test]
fn an_export_of_another_ledger_spliced_in_is_caught() {
    let a = with_history();
    let b = with_history();
    let fa = a.file("a.csv");
    let fb = b.file("b.csv");
    a.ok(&[
        "ledger",
        "export",
        "--format",
        "csv",
        "-o",
        fa.to_str().unwrap(),
    ]);
    b.ok(&[
        "ledger",
        "export",
        "--format",
        "csv",
        "-o",
        fb.to_str().unwrap(),
    ]);
    let ta = std::fs::read_to_string(&fa).unwrap();
    let tb = std::fs::read_to_string(&fb).unwrap();
    // The first three events of A, then the rest of B: B's rows name another ledger.
    let mut rows: Vec<&str> = ta.split_inclusive('\n').take(4).collect();
    rows.extend(tb.split_inclusive('\n').skip(4));
    let spliced = a.write("spliced.csv", rows.concat().as_bytes());
    let (code, text) = a.verify_export(&spliced);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("line 5: ledger_id"), "{text}");
}

/// Run massho, killing it (and failing) if it does not finish in 20 seconds: a FIFO must be
/// refused, never waited on.
fn run_bounded(s: &Scratch, args: &[&str]) -> Output {
    use std::process::Stdio;
    let mut c = massho();
    c.args(args)
        .arg("--ledger")
        .arg(s.ledger())
        .env("USER", "tester")
        .env_remove("SUDO_USER")
        .env_remove("MASSHO_LEDGER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("massho {args:?} hung (still running after 20 s)");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn fifos_and_directories_handed_to_the_ledger_are_usage_errors_not_hangs() {
    let s = Scratch::new();
    let fifo = s.file("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let fifo = fifo.to_str().unwrap();
    let dir = s.dir.path().to_str().unwrap();
    for args in [
        vec!["ledger", "import", fifo],
        vec!["ledger", "verify", "--export", fifo],
        vec!["ledger", "verify", "--seal", fifo],
        vec!["cabinet", "check", "CAB-1", "--found", fifo],
        vec!["ledger", "import", dir],
        vec!["ledger", "verify", "--export", dir],
    ] {
        let out = run_bounded(&s, &args);
        assert_exit(&out, 2);
        let err = stderr(&out);
        let named = if args.contains(&fifo) { fifo } else { dir };
        assert!(err.contains(named), "{args:?}: {err}");
        assert!(
            err.contains("a FIFO (named pipe), not a regular file")
                || err.contains("a directory, not a regular file"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_csv_that_reads_as_both_utf8_and_shift_jis_asks_for_its_encoding() {
    let s = Scratch::new();
    // ﾃｽ (half-width katakana) in Shift_JIS is C3 BD, which is also UTF-8 for ý.
    let (sjis, _, unmappable) =
        encoding_rs::SHIFT_JIS.encode("asset_tag,kind,note\r\nT-1,tape,ﾃｽ\r\n");
    assert!(!unmappable);
    assert_eq!(
        std::str::from_utf8(&sjis).unwrap(),
        "asset_tag,kind,note\r\nT-1,tape,ý\r\n"
    );
    let file = s.write("ambiguous.csv", &sjis);
    let before = s.events();
    let out = s.import(&file, &[]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains(file.to_str().unwrap()), "{err}");
    assert!(
        err.contains("valid both as UTF-8 and as Shift_JIS (line 2 reads \"T-1,tape,ý\" as UTF-8 but \"T-1,tape,ﾃｽ\" as Shift_JIS): say which it is with --encoding utf-8 or --encoding shift_jis"),
        "{err}"
    );
    assert_eq!(s.events(), before, "nothing recorded");
    let out = s.import(&file, &["--encoding", "shift_jis"]);
    assert_exit(&out, 0);
    let show: Value = serde_json::from_str(&s.ok(&["media", "show", "T-1", "--json"])).unwrap();
    assert_eq!(show["events"][0]["note"], "ﾃｽ");
    // Plain ASCII, or UTF-8 with a byte-order mark (Excel's "CSV UTF-8"), is not ambiguous.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice("asset_tag,kind,note\r\nT-2,tape,ý\r\n".as_bytes());
    let file = s.write("bom.csv", &bom);
    assert_exit(&s.import(&file, &[]), 0);
}

#[test]
fn csv_cells_that_look_like_formulas_are_escaped_reversibly_and_still_verify() {
    let s = Scratch::new();
    let formula = "=HYPERLINK(\"http://evil.invalid/\",\"click\")";
    // Registered from a CSV whose cells were escaped for a spreadsheet: one ' is dropped.
    let csv = format!(
        "asset_tag,kind,department,note\r\n\"'{}\",tape,'-2+3,''quoted\r\n'-2+3,tape,\"'{}\",'@SUM(1)\r\n''quoted,tape,,\r\n",
        formula.replace('"', "\"\""),
        formula.replace('"', "\"\"")
    );
    let file = s.write("escaped.csv", format!("\u{FEFF}{csv}").as_bytes());
    assert_exit(&s.import(&file, &[]), 0);
    let m = s.medium(formula);
    assert_eq!(m["department"], "-2+3");
    let m = s.medium("-2+3");
    assert_eq!(m["department"], formula);
    let show: Value = serde_json::from_str(&s.ok(&["media", "show", formula, "--json"])).unwrap();
    assert_eq!(show["events"][0]["note"], "'quoted");
    s.medium("'quoted");

    // The media list for a spreadsheet: every risky cell, and a cell starting with ', gets one '.
    let listed = s.ok(&["media", "list", "--csv"]);
    let mut reader = csv::Reader::from_reader(listed.as_bytes());
    let cells: Vec<String> = reader
        .records()
        .flat_map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(cells.contains(&format!("'{formula}")), "{listed}");
    assert!(cells.contains(&"'-2+3".to_owned()), "{listed}");
    assert!(cells.contains(&"''quoted".to_owned()), "{listed}");

    // The export: no cell a spreadsheet would run, and yet the chain verifies.
    let export = s.file("export.csv");
    s.ok(&[
        "ledger",
        "export",
        "--format",
        "csv",
        "-o",
        export.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&export).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.trim_start_matches('\u{FEFF}').as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            let risky = cell.starts_with(['=', '+', '@', '\t', '\r'])
                || (cell.starts_with('-') && cell.len() > 1 && cell[1..].parse::<f64>().is_err());
            assert!(!risky, "cell {cell:?} would run as a formula:\n{text}");
        }
    }
    assert!(
        text.contains(&format!("\"'{}\"", formula.replace('"', "\"\""))),
        "{text}"
    );
    assert!(text.contains(",'-2+3,"), "{text}");
    assert!(text.contains(",''quoted,"), "{text}");
    let (code, out) = s.verify_export(&export);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("events: {}", s.events())), "{out}");

    // A CSV export cut after any row fails as truncated: its end row holds the count.
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let no_end = s.write("no-end.csv", lines[..lines.len() - 1].concat().as_bytes());
    let (code, out) = s.verify_export(&no_end);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the export has no end row"), "{out}");
    let mut short = lines[..lines.len() - 2].to_vec();
    short.push(lines[lines.len() - 1]);
    let short = s.write("short.csv", short.concat().as_bytes());
    let (code, out) = s.verify_export(&short);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("the end row says {} events", s.events())),
        "{out}"
    );
}

#[test]
fn an_export_is_checked_against_a_kept_seal() {
    let s = with_history();
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = common::keypair(keys.path(), "station");
    let seal = s.file("seal.json");
    s.ok(&[
        "ledger",
        "seal",
        "--key",
        key.to_str().unwrap(),
        "--out",
        seal.to_str().unwrap(),
    ]);
    let export = s.file("export.jsonl");
    s.ok(&["ledger", "export", "-o", export.to_str().unwrap()]);
    let seal = seal.to_str().unwrap();
    let public = public.to_str().unwrap();
    let verify = |file: &Path, extra: &[&str]| {
        let mut a = vec!["ledger", "verify", "--export", file.to_str().unwrap()];
        a.extend_from_slice(extra);
        let out = s.m(&a);
        (out.status.code().unwrap_or(-1), stdout(&out))
    };
    let (code, out) = verify(&export, &["--seal", seal, "--pubkey", public]);
    assert_eq!(code, 0, "{out}");

    // A forger cuts the export's newest events (the seal among them) and fixes its header: the
    // chain alone cannot tell, the seal kept apart can.
    let text = std::fs::read_to_string(&export).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let kept = &lines[1..lines.len() - 2];
    let last: Value = serde_json::from_str(kept[kept.len() - 1]).unwrap();
    let mut header: Value = serde_json::from_str(lines[0]).unwrap();
    header["events"] = last["seq"].clone();
    header["head"] = last["hash"].clone();
    let forged = format!("{}\n{}", header, kept.concat());
    let forged = s.write("forged.jsonl", forged.as_bytes());
    let (code, out) = verify(&forged, &[]);
    assert_eq!(code, 0, "the chain alone cannot tell: {out}");
    let (code, out) = verify(&forged, &["--seal", seal]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the seal covers") && out.contains("events were removed"),
        "{out}"
    );
    // With the key, the missing seal shows too.
    let (code, out) = verify(&forged, &["--pubkey", public]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no seal signed by the given key(s) vouches"),
        "{out}"
    );

    // Another ledger's seal does not vouch for this export.
    let other = with_history();
    let other_seal = other.file("other-seal.json");
    other.ok(&[
        "ledger",
        "seal",
        "--key",
        key.to_str().unwrap(),
        "--out",
        other_seal.to_str().unwrap(),
    ]);
    let (code, out) = verify(&export, &["--seal", other_seal.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the seal is for ledger"), "{out}");
}
