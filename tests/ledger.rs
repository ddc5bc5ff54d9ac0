//! The media ledger end to end, through the `massho` binary: the rules refuse what must not be
//! recorded (and record nothing), `ledger verify` catches every kind of tampering made with the
//! stock `sqlite3` tool, seals catch a rewritten history, concurrent writers lose nothing,
//! `wipe --ledger` links a real wipe of a loop device to its certificate, and the reports and
//! the cabinet check say what an auditor needs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{assert_exit, describe_output, keypair, massho, run, LoopDevice};
use serde_json::Value;

const MIB: u64 = 1 << 20;

/// A scratch ledger in its own directory.
struct Scratch {
    dir: tempfile::TempDir,
    /// The station's key pair (secret, public), which signs the test certificates.
    key: (PathBuf, PathBuf),
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let key = keypair(dir.path(), "station");
        let s = Scratch { dir, key };
        assert_exit(&s.m(&["ledger", "init"]), 0);
        s
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("ledger.sqlite")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = massho();
        c.args(args)
            .arg("--ledger")
            .arg(self.path())
            .env("USER", "tester")
            .env_remove("SUDO_USER")
            .env_remove("MASSHO_LEDGER");
        c
    }

    /// Run massho with `--ledger` on this ledger.
    fn m(&self, args: &[&str]) -> Output {
        run(&mut self.cmd(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.m(args);
        assert_exit(&out, 0);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    /// A certificate document like massho writes (from the shipped example) for medium `tag`
    /// (a whole disk with the medium's serial number), with this id and status, issued now and
    /// signed with the station key.
    fn certificate(&self, tag: &str, id: &str, status: &str) -> PathBuf {
        let medium = self.json(&["media", "show", tag]);
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        self.certificate_naming(tag, id, status, medium["medium"]["serial"].clone(), &now)
    }

    /// A certificate like [`Scratch::certificate`] naming asset `tag` and this serial number,
    /// issued at `issued`.
    fn certificate_naming(
        &self,
        tag: &str,
        id: &str,
        status: &str,
        serial: Value,
        issued: &str,
    ) -> PathBuf {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/examples");
        let example = std::fs::read_dir(examples)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .unwrap();
        let mut v: Value = serde_json::from_slice(&std::fs::read(example).unwrap()).unwrap();
        v["certificate_id"] = id.into();
        v["status"] = status.into();
        v["wipe"]["status"] = status.into();
        v["asset_tag"] = tag.into();
        v["wipe"]["serial"] = serial.clone();
        v["wipe"]["media"]["serial"] = serial;
        v["wipe"]["media"]["kind"] = "disk".into();
        v["issued_at"] = issued.into();
        let bytes = serde_json::to_vec_pretty(&v).unwrap();
        let cert: massho::cert::Certificate = serde_json::from_slice(&bytes).unwrap();
        let key = massho::sign::SecretKey::from_file(&self.key.0, &|| Ok(String::new())).unwrap();
        let sig = key.sign(&bytes, "test", &cert.trusted_comment()).unwrap();
        let p = self.dir.path().join(format!("{id}.json"));
        std::fs::write(&p, &bytes).unwrap();
        std::fs::write(massho::cert::signature_path(&p), sig).unwrap();
        p
    }

    /// `massho media wiped TAG --certificate FILE --pubkey STATION`.
    fn wiped(&self, tag: &str, certificate: &Path) {
        self.ok(&[
            "media",
            "wiped",
            tag,
            "--certificate",
            certificate.to_str().unwrap(),
            "--pubkey",
            self.key.1.to_str().unwrap(),
        ]);
    }

    fn sqlite(&self, sql: &str) {
        let out = run(Command::new("sqlite3").arg(self.path()).arg(sql));
        assert!(
            out.status.success(),
            "sqlite3 {sql}: {}",
            describe_output(&out)
        );
    }

    fn events(&self) -> u64 {
        let conn = rusqlite::Connection::open(self.path()).unwrap();
        conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
            .unwrap() as u64
    }

    /// `ledger verify` output (stdout), asserting the exit code.
    fn verify(&self, code: i32, extra: &[&str]) -> String {
        let mut a = vec!["ledger", "verify"];
        a.extend_from_slice(extra);
        let out = self.m(&a);
        assert_exit(&out, code);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A copy of the ledger file to restore after a tampering experiment.
    fn snapshot(&self) -> Vec<u8> {
        // Fold the WAL into the main file first, so one file is the whole ledger.
        self.sqlite("PRAGMA wal_checkpoint(TRUNCATE);");
        std::fs::read(self.path()).unwrap()
    }

    fn restore(&self, bytes: &[u8]) {
        let _ = std::fs::remove_file(self.dir.path().join("ledger.sqlite-wal"));
        let _ = std::fs::remove_file(self.dir.path().join("ledger.sqlite-shm"));
        std::fs::write(self.path(), bytes).unwrap();
    }
}

/// A cabinet and two media, one checked out and handed over.
fn populated() -> Scratch {
    let s = Scratch::new();
    s.ok(&["cabinet", "add", "C1", "--room", "サーバ室"]);
    s.ok(&["cabinet", "add", "C2", "--room", "書庫"]);
    s.ok(&[
        "media",
        "register",
        "USB-001",
        "--kind",
        "usb-flash",
        "--serial",
        "SN-A",
        "--department",
        "総務課",
        "--personal-info",
        "--cabinet",
        "C1",
        "--slot",
        "1",
        "--at",
        "2026-10-01",
    ]);
    s.ok(&[
        "media",
        "register",
        "HDD-002",
        "--kind",
        "hdd",
        "--serial",
        "SN-B",
        "--capacity",
        "2T",
        "--lessor",
        "Tokyo Lease",
        "--contract",
        "L-77",
        "--return-due",
        "2026-12-31",
        "--cabinet",
        "C2",
    ]);
    s.ok(&[
        "media",
        "check-out",
        "USB-001",
        "--by",
        "tanaka",
        "--purpose",
        "restore test",
        "--approver",
        "suzuki",
        "--at",
        "2026-11-01T09:00:00+09:00",
        "--due",
        "2026-11-10",
    ]);
    s.ok(&[
        "media",
        "handover",
        "USB-001",
        "--from",
        "tanaka",
        "--to",
        "sato",
        "--purpose",
        "audit",
        "--method",
        "in person",
        "--receipt",
        "R-9",
    ]);
    s
}

#[test]
fn the_rules_refuse_bad_events_and_record_nothing() {
    let s = populated();
    let before = s.events();
    let refused = |args: &[&str], needle: &str| {
        let out = s.m(args);
        assert_exit(&out, 3);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.contains("nothing was recorded"), "{err}");
    };
    refused(
        &["media", "check-in", "HDD-002", "--by", "x"],
        "not checked out",
    );
    refused(
        &["media", "register", "USB-001", "--kind", "ssd"],
        "asset tag USB-001 is registered already",
    );
    refused(
        &[
            "media", "register", "USB-009", "--kind", "ssd", "--serial", "SN-A",
        ],
        "serial number SN-A is registered already as USB-001",
    );
    refused(
        &["media", "store", "NOPE-1", "--cabinet", "C1"],
        "no medium NOPE-1",
    );
    refused(
        &["media", "store", "HDD-002", "--cabinet", "C9"],
        "no cabinet C9",
    );
    refused(
        &[
            "media",
            "handover",
            "USB-001",
            "--from",
            "tanaka",
            "--to",
            "kato",
            "--purpose",
            "x",
            "--method",
            "mail",
        ],
        "held by sato, not tanaka",
    );
    refused(
        &["media", "dispose", "HDD-002", "--method", "recycling"],
        "no passing wipe or destruction",
    );
    refused(&["media", "return", "USB-001"], "owned, not leased");
    // A register that also stores into a missing cabinet: the registration is not kept either.
    refused(
        &[
            "media",
            "register",
            "SD-003",
            "--kind",
            "sd",
            "--cabinet",
            "C9",
        ],
        "no cabinet C9",
    );
    assert_eq!(s.events(), before, "a refused command recorded something");
    // Bad arguments are usage errors.
    let out = s.m(&[
        "media",
        "check-out",
        "HDD-002",
        "--by",
        "a",
        "--purpose",
        "b",
        "--approver",
        "c",
        "--due",
        "31/12/2026",
    ]);
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("YYYY-MM-DD"));
    let out = s.m(&[
        "media",
        "lost",
        "HDD-002",
        "--description",
        "x",
        "--at",
        "2099-01-01",
    ]);
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("in the future"));
    assert_eq!(s.events(), before);
    s.verify(0, &[]);
}

#[test]
fn state_follows_the_events() {
    let s = populated();
    let usb = s.json(&["media", "show", "USB-001"]);
    assert_eq!(usb["medium"]["status"], "checked_out");
    assert_eq!(usb["medium"]["holder"], "sato");
    assert_eq!(usb["medium"]["cabinet"], "C1");
    assert_eq!(usb["medium"]["department"], "総務課");
    let kinds: Vec<&str> = usb["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["registered", "stored", "checked_out", "handed_over"]
    );
    assert_eq!(usb["events"][2]["time"], "2026-11-01T00:00:00Z");
    assert_eq!(usb["events"][2]["actor"], "tester");
    let hdd = s.json(&["media", "show", "HDD-002"]);
    assert_eq!(hdd["medium"]["capacity_bytes"], 2_000_000_000_000u64);
    assert_eq!(hdd["medium"]["leased"], true);
    s.ok(&["media", "check-in", "USB-001", "--by", "sato"]);
    let usb = s.json(&["media", "show", "USB-001"]);
    assert_eq!(usb["medium"]["status"], "in_cabinet");
    assert_eq!(usb["medium"]["holder"], Value::Null);
    let listed = s.json(&["media", "list", "--cabinet", "C1"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let csv = s.ok(&["media", "list", "--csv"]);
    assert!(csv.starts_with("ASSET,KIND,"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
}

/// Each tampering, made with stock sqlite3 on a copy of a good ledger, and what verify says.
#[test]
fn verify_names_the_first_tampered_event_or_row() {
    let s = populated();
    s.verify(0, &[]);
    let good = s.snapshot();
    let cases: &[(&str, &str)] = &[
        (
            "UPDATE events SET body = replace(body, 'tanaka', 'tanaku') WHERE seq = 7",
            "event 7: its content does not match its hash",
        ),
        (
            "DELETE FROM events WHERE seq = 4",
            "event 4 is missing",
        ),
        (
            "UPDATE events SET seq = 100 WHERE seq = 3",
            "event 3 is missing",
        ),
        (
            "UPDATE events SET kind = 'lost' WHERE seq = 6",
            "event 6: its stored columns",
        ),
        (
            "UPDATE events SET time = '2020-01-01T00:00:00Z' WHERE seq = 2",
            "event 2: its stored columns",
        ),
        (
            "UPDATE events SET prev = (SELECT prev FROM events WHERE seq = 2) WHERE seq = 3",
            "event 3: its link to the previous event does not match",
        ),
        (
            "UPDATE media SET state = replace(state, 'checked_out', 'in_cabinet') WHERE asset_tag = 'USB-001'",
            "medium USB-001: its current state in the media table differs",
        ),
        (
            "UPDATE media SET status = 'in_cabinet' WHERE asset_tag = 'USB-001'",
            "medium USB-001: the media table's columns differ",
        ),
        (
            "DELETE FROM media WHERE asset_tag = 'HDD-002'",
            "missing from the media table",
        ),
        (
            "DELETE FROM cabinets WHERE id = 'C2'",
            "cabinets added by events are missing",
        ),
        (
            "UPDATE cabinets SET id = 'C9' WHERE id = 'C2'",
            "cabinet C9: the cabinets table differs",
        ),
        (
            "INSERT INTO media SELECT 'T9', serial, status, status_since, cabinet, leased, return_due, retention_until, state FROM media WHERE asset_tag = 'USB-001'",
            "row T9 holds the state of medium USB-001",
        ),
        (
            "UPDATE media SET state = '{}' WHERE asset_tag = 'HDD-002'",
            "does not hold a valid state",
        ),
        (
            "UPDATE events SET body = CAST(body AS BLOB) WHERE seq = 2",
            "event row 2 cannot be read",
        ),
        (
            "DELETE FROM meta WHERE key = 'ledger_id'",
            "it has no ledger id",
        ),
        ("PRAGMA user_version = 0", "not a massho ledger"),
        // Objects massho did not create: the reports and appends run through the schema.
        (
            "CREATE TRIGGER hide AFTER INSERT ON events BEGIN DELETE FROM media WHERE 0; END",
            "the database holds trigger hide on events",
        ),
        (
            "CREATE VIEW media_all AS SELECT * FROM media",
            "the database holds view media_all",
        ),
        (
            "CREATE INDEX media_extra ON media (status)",
            "the database holds index media_extra on media",
        ),
        (
            "DROP INDEX media_status; CREATE INDEX media_status ON media (status)",
            "the database's index media_status on media is defined as",
        ),
        ("DROP INDEX media_cabinet", "the database lacks index media_cabinet on media"),
        // Derived columns compared exactly as massho writes them, named with row and column.
        (
            "UPDATE media SET leased = 2 WHERE asset_tag = 'HDD-002'",
            "medium HDD-002: the media table's columns differ from its state: column leased holds the integer 2 where massho writes the integer 1",
        ),
        (
            "UPDATE media SET leased = 'yes' WHERE asset_tag = 'HDD-002'",
            "column leased holds the text \"yes\" where massho writes the integer 1",
        ),
        (
            "UPDATE media SET serial = CAST(serial AS BLOB) WHERE asset_tag = 'HDD-002'",
            "column serial holds a blob of 4 bytes where massho writes the text \"SN-B\"",
        ),
        (
            "UPDATE cabinets SET state = CAST(state AS BLOB) WHERE id = 'C2'",
            "the cabinets table's row 2 holds the text \"C2\" as its id and a blob of",
        ),
        (
            "UPDATE cabinets SET id = CAST(id AS BLOB) WHERE id = 'C2'",
            "the cabinets table's row 2 holds a blob of 2 bytes as its id",
        ),
    ];
    for (sql, expected) in cases {
        s.restore(&good);
        s.sqlite(sql);
        let out = s.verify(1, &[]);
        assert!(out.contains(expected), "after {sql}:\n{out}");
        assert!(out.contains("FAILED"), "{out}");
    }
    // An index whose entries no longer match its table (built under another definition, the
    // definition then put back): `WHERE serial = ...` finds the wrong media. The schema text is
    // massho's; SQLite's integrity check sees the damage.
    s.restore(&good);
    s.sqlite("PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = 'CREATE INDEX media_serial ON media (status)' WHERE name = 'media_serial'");
    s.sqlite("REINDEX media_serial");
    s.sqlite("PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = 'CREATE INDEX media_serial ON media (serial)' WHERE name = 'media_serial'");
    let out = s.verify(1, &[]);
    assert!(
        out.contains("the database is damaged (SQLite's integrity check: row 1 missing from index media_serial"),
        "{out}"
    );
    s.restore(&good);
    s.verify(0, &[]);
}

/// Recompute every hash from `from_seq` on, as a forger with write access but no key would,
/// after changing an event.
fn rechain(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let id: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'ledger_id'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT seq, body FROM events ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut prev = massho::ledger::event::GENESIS.to_owned();
    for (seq, body) in rows {
        let hash = massho::ledger::event::chain_hash(&id, &prev, &body);
        conn.execute(
            "UPDATE events SET prev = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![prev, hash, seq],
        )
        .unwrap();
        prev = hash;
    }
}

#[test]
fn seals_catch_a_rewritten_history_and_a_removed_tail() {
    let s = populated();
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keypair(keys.path(), "auditor");
    let (_, other_public) = keypair(keys.path(), "other");
    let seal_file = s.dir.path().join("seal-1.json");
    let out = s.ok(&[
        "ledger",
        "seal",
        "--key",
        key.to_str().unwrap(),
        "--out",
        seal_file.to_str().unwrap(),
    ]);
    assert!(out.contains("sealed ledger"), "{out}");
    let at_first_seal = s.snapshot();
    s.ok(&["media", "check-in", "USB-001", "--by", "sato"]);
    let pubkey = public.to_str().unwrap();
    // A key given means something signed must vouch for the head: an event after the newest
    // seal fails, named.
    let unsealed = s.verify(1, &["--pubkey", pubkey]);
    assert!(unsealed.contains("signature good"), "{unsealed}");
    assert!(
        unsealed.contains("event 10 after the newest seal (event 9) is not covered by any seal: seal the ledger, or find out who appended them"),
        "{unsealed}"
    );
    // Without a key, the chain alone still checks out, and says what is unsigned.
    let chain_only = s.verify(0, &[]);
    assert!(
        chain_only.contains("1 event(s) after the last seal"),
        "{chain_only}"
    );
    // Someone else's key does not vouch for the seal.
    let bad = s.verify(1, &["--pubkey", other_public.to_str().unwrap()]);
    assert!(bad.contains("not among the trusted keys"), "{bad}");
    assert!(
        bad.contains("no seal signed by the given key(s) vouches"),
        "{bad}"
    );
    // Sealed again, the head is covered; the older seal file kept apart matches too.
    let seal_file_2 = s.dir.path().join("seal-2.json");
    s.ok(&[
        "ledger",
        "seal",
        "--key",
        key.to_str().unwrap(),
        "--out",
        seal_file_2.to_str().unwrap(),
    ]);
    s.verify(0, &["--pubkey", pubkey]);
    s.verify(
        0,
        &["--pubkey", pubkey, "--seal", seal_file.to_str().unwrap()],
    );
    // What a forger who can write the file can still do, and what stops it: cutting the
    // ledger back to an earlier seal (every later event and seal deleted, the derived state
    // put back: the file as it was then) leaves a ledger whose newest seal covers its head;
    // only the later seal kept apart shows the cut.
    let before_cut = s.snapshot();
    s.restore(&at_first_seal);
    s.verify(0, &["--pubkey", pubkey]);
    let cut = s.verify(
        1,
        &["--pubkey", pubkey, "--seal", seal_file_2.to_str().unwrap()],
    );
    assert!(
        cut.contains("the seal covers 10 events but the ledger has fewer (9): events were removed"),
        "{cut}"
    );
    s.restore(&before_cut);
    // The seal's time is signed too: a seal file re-dated does not check out.
    let mut redated: Value = serde_json::from_slice(&std::fs::read(&seal_file).unwrap()).unwrap();
    redated["time"] = "2020-01-01T00:00:00Z".into();
    let redated_file = s.dir.path().join("seal-redated.json");
    std::fs::write(&redated_file, serde_json::to_vec(&redated).unwrap()).unwrap();
    let out = s.verify(
        1,
        &["--pubkey", pubkey, "--seal", redated_file.to_str().unwrap()],
    );
    assert!(
        out.contains("does not verify with the trusted keys"),
        "{out}"
    );

    // A forger edits an old event and recomputes every hash: the chain is whole again, but the
    // seal's signed head no longer matches.
    let good = s.snapshot();
    s.sqlite("UPDATE events SET body = replace(body, 'restore test', 'routine') WHERE seq = 7");
    rechain(&s.path());
    let out = s.verify(1, &["--pubkey", pubkey]);
    assert!(
        out.contains("seal at event 9 says it covers 8 events ending in"),
        "{out}"
    );
    assert!(out.contains("but the chain there is 8 events"), "{out}");
    // Without the seal the forgery would pass: the chain itself is whole.
    assert!(!out.contains("does not match its hash"), "{out}");

    // The newest sealed event removed together with the seal and what followed: the chain
    // alone cannot tell, the seal file kept apart can.
    s.restore(&good);
    s.sqlite("DELETE FROM events WHERE seq >= 8");
    let out = s.m(&[
        "ledger",
        "verify",
        "--pubkey",
        pubkey,
        "--seal",
        seal_file.to_str().unwrap(),
    ]);
    assert_exit(&out, 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("the seal covers 8 events but the ledger has fewer (7): events were removed"),
        "{text}"
    );
}

#[test]
fn concurrent_writers_lose_nothing() {
    let s = Scratch::new();
    s.ok(&["cabinet", "add", "C1", "--room", "R"]);
    let writers = 6;
    let per_writer = 15;
    let children: Vec<_> = (0..writers)
        .map(|w| {
            let script = (0..per_writer)
                .map(|i| {
                    format!(
                        "\"$M\" media register W{w}-{i} --kind usb-flash --cabinet C1 --ledger \"$L\" >/dev/null || exit 1"
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Command::new("bash")
                .arg("-c")
                .arg(script)
                .env("M", env!("CARGO_BIN_EXE_massho"))
                .env("L", s.path())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a writer failed");
    }
    assert_eq!(s.events(), 1 + (writers * per_writer * 2) as u64);
    let inventory = s.json(&["cabinet", "inventory", "C1"]);
    assert_eq!(inventory.as_array().unwrap().len(), writers * per_writer);
    s.verify(0, &[]);
}

#[test]
fn cabinet_check_reports_missing_unexpected_and_misplaced() {
    let s = populated();
    s.ok(&[
        "media",
        "register",
        "T-1",
        "--kind",
        "tape",
        "--cabinet",
        "C1",
    ]);
    s.ok(&[
        "media",
        "register",
        "T-2",
        "--kind",
        "tape",
        "--cabinet",
        "C1",
    ]);
    s.ok(&[
        "media",
        "register",
        "T-3",
        "--kind",
        "tape",
        "--cabinet",
        "C2",
    ]);
    let inv = s.json(&["cabinet", "inventory", "C1"]);
    let tags: Vec<&str> = inv
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["asset_tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["T-1", "T-2"], "USB-001 is checked out, not in C1");
    let found = s.dir.path().join("found.txt");
    std::fs::write(&found, "asset_tag\nT-1\nT-3\nX-404\nUSB-001\n\n").unwrap();
    let before = s.events();
    let out = s.m(&[
        "cabinet",
        "check",
        "C1",
        "--found",
        found.to_str().unwrap(),
        "--json",
    ]);
    assert_exit(&out, 1);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["missing"], serde_json::json!(["T-2"]));
    assert_eq!(r["unexpected"], serde_json::json!(["X-404"]));
    assert_eq!(r["misplaced"][0][0], "T-3");
    assert_eq!(r["misplaced"][0][1], "in cabinet C2");
    assert_eq!(r["misplaced"][1][0], "USB-001");
    assert!(r["misplaced"][1][1].as_str().unwrap().contains("sato"));
    assert_eq!(s.events(), before + 1, "the check is recorded");
    let log = s.json(&["ledger", "log", "--kind", "inventory_checked"]);
    assert_eq!(log[0]["missing"], serde_json::json!(["T-2"]));
    // A clean check exits 0.
    std::fs::write(&found, "T-1\nT-2\n").unwrap();
    s.ok(&[
        "cabinet",
        "check",
        "C1",
        "--found",
        found.to_str().unwrap(),
        "--dry-run",
    ]);
    assert_eq!(s.events(), before + 1, "--dry-run records nothing");
}

#[test]
fn a_failed_wipe_blocks_disposal_and_return_unless_forced_with_a_reason() {
    let s = populated();
    let failed = s.certificate("HDD-002", "11111111-2222-3333-4444-555555555555", "failed");
    s.wiped("HDD-002", &failed);
    let out = s.m(&["media", "return", "HDD-002"]);
    assert_exit(&out, 3);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("its latest wipe failed"),
        "{}",
        describe_output(&out)
    );
    // --force needs --reason (clap), and the reason is kept.
    assert_exit(&s.m(&["media", "return", "HDD-002", "--force"]), 2);
    s.ok(&[
        "media",
        "return",
        "HDD-002",
        "--force",
        "--reason",
        "lessor erases under contract clause 12",
        "--receipt",
        "TL-555",
    ]);
    let hdd = s.json(&["media", "show", "HDD-002"]);
    assert_eq!(hdd["medium"]["status"], "returned_to_lessor");
    let last = hdd["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["forced"], "lessor erases under contract clause 12");
    assert_eq!(last["lessor"], "Tokyo Lease");
    // The record is closed.
    let out = s.m(&["media", "store", "HDD-002", "--cabinet", "C1"]);
    assert_exit(&out, 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("its record is closed"));

    // A passing wipe after a failed one allows disposal without force.
    s.ok(&["media", "check-in", "USB-001", "--by", "sato"]);
    let failed2 = s.certificate("USB-001", "aaaaaaaa-2222-3333-4444-555555555555", "failed");
    let passed = s.certificate("USB-001", "bbbbbbbb-2222-3333-4444-555555555555", "passed");
    s.wiped("USB-001", &failed2);
    assert_exit(
        &s.m(&["media", "dispose", "USB-001", "--method", "shredder"]),
        3,
    );
    s.wiped("USB-001", &passed);
    s.ok(&[
        "media",
        "dispose",
        "USB-001",
        "--method",
        "shredder",
        "--contractor",
        "ACME",
    ]);

    let today = time::OffsetDateTime::now_utc().date().to_string();
    let register = s.json(&[
        "report",
        "disposals",
        "--from",
        "2026-01-01",
        "--to",
        &today,
    ]);
    let rows = register.as_array().unwrap();
    let events: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["asset_tag"].as_str().unwrap(),
                r["event"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("HDD-002", "wiped"),
            ("HDD-002", "returned"),
            ("USB-001", "wiped"),
            ("USB-001", "wiped"),
            ("USB-001", "disposed")
        ]
    );
    assert_eq!(
        rows[0]["certificate"],
        "11111111-2222-3333-4444-555555555555"
    );
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(&failed).unwrap()))
    };
    assert_eq!(rows[0]["certificate_sha256"], sha);
    assert_eq!(rows[1]["forced"], "lessor erases under contract clause 12");
    // A period before all of it is empty.
    let none = s.json(&[
        "report",
        "disposals",
        "--from",
        "2020-01-01",
        "--to",
        "2020-12-31",
    ]);
    assert_eq!(none.as_array().unwrap().len(), 0);
    s.verify(0, &[]);
}

#[test]
fn reports_answer_what_an_auditor_asks() {
    let s = populated();
    s.ok(&[
        "media",
        "register",
        "LTO-1",
        "--kind",
        "tape",
        "--cabinet",
        "C2",
    ]);
    s.ok(&[
        "media",
        "backup",
        "LTO-1",
        "--set",
        "weekly",
        "--system",
        "レセプト",
        "--generation",
        "2024-W01",
        "--retain-until",
        "2025-12-31",
    ]);
    s.ok(&[
        "media",
        "register",
        "LTO-2",
        "--kind",
        "tape",
        "--cabinet",
        "C2",
    ]);
    s.ok(&[
        "media",
        "backup",
        "LTO-2",
        "--set",
        "weekly",
        "--system",
        "レセプト",
        "--generation",
        "2026-W40",
        "--retain-until",
        "2031-12-31",
    ]);
    let out = s.json(&["report", "out", "--as-of", "2026-11-15"]);
    assert_eq!(out.as_array().unwrap().len(), 1);
    assert_eq!(out[0]["asset_tag"], "USB-001");
    assert_eq!(out[0]["holder"], "sato");
    assert_eq!(out[0]["days_out"], 14);
    assert_eq!(out[0]["overdue"], true);
    let expired = s.json(&["report", "retention", "--as-of", "2026-11-15"]);
    let tags: Vec<&str> = expired
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["asset_tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["LTO-1"]);
    assert_eq!(expired[0]["days_past"], 319);
    // A passing wipe clears what had to be kept.
    let passed = s.certificate("LTO-1", "cccccccc-2222-3333-4444-555555555555", "passed");
    s.wiped("LTO-1", &passed);
    let expired = s.json(&["report", "retention", "--as-of", "2026-11-15"]);
    assert_eq!(expired.as_array().unwrap().len(), 0);
    // Leases: due within 60 days of 2026-11-15, not wiped yet; not due within 30 days.
    let leases = s.json(&[
        "report",
        "leases",
        "--as-of",
        "2026-11-15",
        "--within",
        "60",
    ]);
    assert_eq!(leases[0]["asset_tag"], "HDD-002");
    assert_eq!(leases[0]["days_left"], 46);
    assert_eq!(leases[0]["sanitized"], false);
    let leases = s.json(&[
        "report",
        "leases",
        "--as-of",
        "2026-11-15",
        "--within",
        "30",
    ]);
    assert_eq!(leases.as_array().unwrap().len(), 0);
    let text = s.ok(&["report", "leases", "--as-of", "2027-01-05"]);
    assert!(
        text.contains("5 OVERDUE") && text.contains("NOT WIPED"),
        "{text}"
    );
    let history = s.ok(&["report", "history", "USB-001"]);
    assert!(history.contains("tanaka → sato for audit"), "{history}");
    let csv = s.ok(&["report", "history", "USB-001", "--csv"]);
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert_exit(&s.m(&["report", "history", "NOPE"]), 3);
}

#[test]
fn a_missing_ledger_is_not_created_by_a_typo() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.sqlite");
    let out = run(massho().args(["media", "list", "--ledger"]).arg(&path));
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("massho ledger init"));
    assert!(!path.exists());
    // MASSHO_LEDGER names the ledger when --ledger is not given.
    run(massho()
        .args(["ledger", "init"])
        .env("MASSHO_LEDGER", &path));
    let out = run(massho()
        .args(["cabinet", "list"])
        .env("MASSHO_LEDGER", &path));
    assert_exit(&out, 0);
}

/// `massho wipe --ledger` on a real loop device: the medium is found by asset tag, the wipe is
/// recorded with the certificate's id and SHA-256, and an unknown medium is registered.
#[test]
fn wipe_records_its_certificate_in_the_ledger() {
    let s = Scratch::new();
    s.ok(&["cabinet", "add", "C1", "--room", "R"]);
    s.ok(&[
        "media",
        "register",
        "DISK-1",
        "--kind",
        "other",
        "--cabinet",
        "C1",
    ]);
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keypair(keys.path(), "station");
    let certs = s.dir.path().join("certs");
    let a = LoopDevice::new(8 * MIB, 512);
    let b = LoopDevice::new(8 * MIB, 4096);
    let out = run(massho()
        .args(["wipe", "--yes", "--method", "zero", "--operator", "Yamada"])
        .arg("--key")
        .arg(&key)
        .arg("--cert-dir")
        .arg(&certs)
        .arg("--ledger")
        .arg(s.path())
        .args(["--asset", "DISK-1", "--asset", "DISK-NEW"])
        .arg(a.path())
        .arg(b.path()));
    assert_exit(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("medium DISK-1, wipe recorded"), "{stdout}");
    let d1 = s.json(&["media", "show", "DISK-1"]);
    assert_eq!(
        d1["medium"]["status"], "in_cabinet",
        "a wipe does not move it"
    );
    assert_eq!(d1["medium"]["sanitized"], true);
    assert_eq!(d1["medium"]["last_wipe_status"], "passed");
    let wiped = d1["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(wiped["kind"], "wiped");
    let cert_id = wiped["certificate_id"].as_str().unwrap();
    let cert_file = certs.join(format!("{cert_id}.json"));
    let bytes = std::fs::read(&cert_file).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    assert_eq!(wiped["certificate_sha256"], sha);
    let cert: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(cert["asset_tag"], "DISK-1");
    // The second device was unknown: registered from its identity, then wiped.
    let d2 = s.json(&["media", "show", "DISK-NEW"]);
    assert_eq!(d2["medium"]["capacity_bytes"], 8 * MIB);
    assert_eq!(d2["medium"]["kind"], "other");
    assert_eq!(d2["events"][0]["kind"], "registered");
    // The certificate verifies, and the medium can now be disposed of.
    let out = run(massho()
        .args(["cert", "verify"])
        .arg(&cert_file)
        .arg("--pubkey")
        .arg(&public));
    assert_exit(&out, 0);
    s.ok(&["media", "dispose", "DISK-1", "--method", "shredder"]);

    // A loop device cannot stand in for a registered hard disk: refused before writing.
    s.ok(&["media", "register", "DISK-HDD", "--kind", "hdd"]);
    b.fill_backing(0xAB);
    let out = run(massho()
        .args(["wipe", "--yes", "--method", "zero", "--operator", "Yamada"])
        .arg("--key")
        .arg(&key)
        .arg("--cert-dir")
        .arg(&certs)
        .arg("--ledger")
        .arg(s.path())
        .args(["--asset", "DISK-HDD"])
        .arg(b.path()));
    assert_exit(&out, 3);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a hdd"),
        "{}",
        describe_output(&out)
    );
    assert!(
        b.backing_bytes().iter().all(|&x| x == 0xAB),
        "refused, yet written"
    );

    // A disposed medium cannot be wiped into the ledger again under its old tag: refused before
    // anything is written.
    b.fill_backing(0xAB);
    let out = run(massho()
        .args(["wipe", "--yes", "--method", "zero", "--operator", "Yamada"])
        .arg("--key")
        .arg(&key)
        .arg("--cert-dir")
        .arg(&certs)
        .arg("--ledger")
        .arg(s.path())
        .args(["--asset", "DISK-1"])
        .arg(b.path()));
    assert_exit(&out, 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("its record is closed"));
    assert!(
        b.backing_bytes().iter().all(|&x| x == 0xAB),
        "refused, yet written"
    );
    s.verify(0, &[]);
}

/// What the review of the first version found, each pinned: a certificate belongs to one
/// medium, a lost medium is found before anything else, a wipe of a held medium leaves it held,
/// events of a medium keep their order.
#[test]
fn certificates_belong_to_one_medium_and_lost_media_stay_lost() {
    let s = populated();
    let before = s.events();
    let refused = |args: &[&str], needle: &str| {
        let out = s.m(args);
        assert_exit(&out, 3);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    };
    let pubkey = s.key.1.to_str().unwrap().to_owned();
    let cert = s.certificate("HDD-002", "dddddddd-2222-3333-4444-555555555555", "passed");
    let cert_arg = cert.to_str().unwrap().to_owned();
    // Without the signer's key there is nothing to check the certificate against.
    let out = s.m(&["media", "wiped", "HDD-002", "--certificate", &cert_arg]);
    assert_exit(&out, 2);
    // Someone else's key: refused.
    let keys = tempfile::tempdir().unwrap();
    let (_, other) = keypair(keys.path(), "other");
    refused(
        &[
            "media",
            "wiped",
            "HDD-002",
            "--certificate",
            &cert_arg,
            "--pubkey",
            other.to_str().unwrap(),
        ],
        "unknown signer",
    );
    // A certificate naming another asset.
    let mut v: Value = serde_json::from_slice(&std::fs::read(&cert).unwrap()).unwrap();
    v["asset_tag"] = "PC-77".into();
    let other_asset = s.dir.path().join("other-asset.json");
    std::fs::write(&other_asset, serde_json::to_vec(&v).unwrap()).unwrap();
    std::fs::copy(
        massho::cert::signature_path(&cert),
        massho::cert::signature_path(&other_asset),
    )
    .unwrap();
    refused(
        &[
            "media",
            "wiped",
            "HDD-002",
            "--certificate",
            other_asset.to_str().unwrap(),
            "--pubkey",
            &pubkey,
        ],
        "TAMPERED",
    );
    // One certificate, one medium.
    s.wiped("HDD-002", &cert);
    refused(
        &[
            "media",
            "wiped",
            "HDD-002",
            "--certificate",
            &cert_arg,
            "--pubkey",
            &pubkey,
        ],
        "already recorded for medium HDD-002",
    );
    // Another medium's certificate, genuine and signed, is not this one's.
    refused(
        &[
            "media",
            "wiped",
            "USB-001",
            "--certificate",
            &cert_arg,
            "--pubkey",
            &pubkey,
        ],
        "is for asset HDD-002, not USB-001",
    );
    // A certificate older than the last backup cannot vouch for it.
    let old = s.certificate("HDD-002", "eeeeeeee-2222-3333-4444-555555555555", "passed");
    // Event times have whole seconds: let the backup come a second later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s.ok(&[
        "media",
        "backup",
        "HDD-002",
        "--set",
        "s",
        "--system",
        "x",
        "--generation",
        "1",
        "--retain-until",
        "2030-01-01",
    ]);
    let hdd = s.json(&["media", "show", "HDD-002"]);
    assert_eq!(
        hdd["medium"]["status"], "in_cabinet",
        "a wipe does not move it"
    );
    assert_eq!(hdd["medium"]["sanitized"], false);
    refused(
        &[
            "media",
            "wiped",
            "HDD-002",
            "--certificate",
            old.to_str().unwrap(),
            "--pubkey",
            &pubkey,
        ],
        "before the backup written",
    );

    // A wipe nobody read back does not make a medium disposable.
    let unverified = s.certificate("HDD-002", "99999999-2222-3333-4444-555555555555", "passed");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&unverified).unwrap()).unwrap();
    v["wipe"]["verify_mode"] = "none".into();
    std::fs::write(&unverified, serde_json::to_vec(&v).unwrap()).unwrap();
    let key = massho::sign::SecretKey::from_file(&s.key.0, &|| Ok(String::new())).unwrap();
    let cert: massho::cert::Certificate = serde_json::from_value(v).unwrap();
    let bytes = std::fs::read(&unverified).unwrap();
    std::fs::write(
        massho::cert::signature_path(&unverified),
        key.sign(&bytes, "test", &cert.trusted_comment()).unwrap(),
    )
    .unwrap();
    s.wiped("HDD-002", &unverified);
    refused(
        &["media", "return", "HDD-002"],
        "was not read back (--verify none)",
    );

    // A checked-out medium wiped stays with its holder, and comes back by check-in.
    let held = s.certificate("USB-001", "ffffffff-2222-3333-4444-555555555555", "passed");
    s.wiped("USB-001", &held);
    let usb = s.json(&["media", "show", "USB-001"]);
    assert_eq!(usb["medium"]["status"], "checked_out");
    assert_eq!(usb["medium"]["sanitized"], true);
    s.ok(&["media", "check-in", "USB-001", "--by", "sato"]);

    // Lost: nothing but found (or a forced write-off) can follow.
    s.ok(&[
        "media",
        "lost",
        "USB-001",
        "--description",
        "left on a train",
    ]);
    refused(
        &["media", "lost", "USB-001", "--description", "again"],
        "is lost since",
    );
    refused(
        &["media", "dispose", "USB-001", "--method", "x"],
        "is lost since",
    );
    refused(
        &["media", "store", "USB-001", "--cabinet", "C1"],
        "is lost since",
    );
    s.ok(&["media", "found", "USB-001", "--cabinet", "C2"]);
    let usb = s.json(&["media", "show", "USB-001"]);
    assert_eq!(usb["medium"]["status"], "in_cabinet");
    assert_eq!(usb["medium"]["cabinet"], "C2");

    // A medium's events keep their order.
    refused(
        &[
            "media",
            "check-out",
            "USB-001",
            "--by",
            "a",
            "--purpose",
            "b",
            "--approver",
            "c",
            "--at",
            "2026-10-15",
        ],
        "would come before it",
    );
    assert!(s.events() > before);
    // The replay applies the same rules: sealed with the station key, the ledger checks out.
    s.ok(&["ledger", "seal", "--key", s.key.0.to_str().unwrap()]);
    s.verify(0, &["--pubkey", &pubkey]);
}

#[test]
fn the_ledger_refuses_foreign_files_and_bad_arguments_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("app.sqlite");
    run(Command::new("sqlite3")
        .arg(&foreign)
        .arg("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('x');"));
    let before = std::fs::read(&foreign).unwrap();
    let out = run(massho().args(["ledger", "init", "--ledger"]).arg(&foreign));
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a massho ledger"));
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        before,
        "init changed a foreign file"
    );
    let out = run(massho()
        .args(["ledger", "verify", "--ledger"])
        .arg(&foreign));
    assert_exit(&out, 1);

    let s = populated();
    assert_exit(&s.m(&["ledger", "log", "--kind", "bogus"]), 2);
    // Dates at the end of the calendar do not crash a report.
    s.ok(&["report", "leases", "--within", "4294967295"]);
    s.ok(&["report", "leases", "--as-of", "9999-12-31"]);
    s.ok(&[
        "report",
        "disposals",
        "--from",
        "2020-01-01",
        "--to",
        "9999-12-31",
    ]);
    // A time in the future is refused, even a minute ahead.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_exit(
        &s.m(&[
            "media",
            "lost",
            "USB-001",
            "--description",
            "x",
            "--at",
            &soon,
        ]),
        2,
    );
    s.ok(&[
        "media", "register", "U-9", "--kind", "usb", "--serial", " SN-Z ",
    ]);
    let u = s.json(&["media", "show", "U-9"]);
    assert_eq!(u["medium"]["kind"], "usb-flash");
    assert_eq!(u["medium"]["serial"], "SN-Z");
    let out = s.m(&[
        "media", "register", "U-10", "--kind", "usb", "--serial", "SN-Z",
    ]);
    assert_exit(&out, 3);
    // A seal file is never overwritten, and then no seal is recorded either.
    let seal = s.dir.path().join("seal.json");
    std::fs::write(&seal, "keep me").unwrap();
    let before = s.events();
    let out = s.m(&[
        "ledger",
        "seal",
        "--key",
        s.key.0.to_str().unwrap(),
        "--out",
        seal.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert_eq!(s.events(), before);
    assert_eq!(std::fs::read_to_string(&seal).unwrap(), "keep me");
    // Seals present but no key given: said plainly.
    s.ok(&["ledger", "seal", "--key", s.key.0.to_str().unwrap()]);
    let out = s.verify(0, &[]);
    assert!(out.contains("SEALS WERE NOT CHECKED"), "{out}");
}

/// An auditor's copy in a read-only directory, read by an unprivileged user: reports and
/// verification work and change nothing.
#[test]
fn a_read_only_copy_can_be_verified_and_reported_on() {
    let s = populated();
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("audit.sqlite");
    s.sqlite(&format!("VACUUM INTO '{}'", copy.display()));
    let bytes = std::fs::read(&copy).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(copy_dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let as_nobody = |args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_massho"))
            .args(args)
            .arg("--ledger")
            .arg(&copy)
            .env("HOME", "/tmp");
        run(&mut c)
    };
    for args in [
        &["ledger", "verify"][..],
        &["report", "out", "--as-of", "2026-11-15"],
        &["media", "show", "USB-001"],
        &["cabinet", "inventory", "C1"],
        &["ledger", "log", "--last", "3"],
    ] {
        let out = as_nobody(args);
        assert_exit(&out, 0);
    }
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        bytes,
        "a read changed the file"
    );
    std::fs::set_permissions(copy_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    // A copy taken with its write-ahead log (newest events not yet in the main file) cannot be
    // read in a read-only directory without the log: refused, not read as an older ledger.
    // A second connection keeps the log from being folded in when massho closes.
    let holder = rusqlite::Connection::open(s.path()).unwrap();
    let _: i64 = holder
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    s.ok(&["media", "register", "LATE-1", "--kind", "tape"]);
    let wal_dir = tempfile::tempdir().unwrap();
    let wal_copy = wal_dir.path().join("audit.sqlite");
    std::fs::copy(s.path(), &wal_copy).unwrap();
    let mut wal = s.path().into_os_string();
    wal.push("-wal");
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "no write-ahead log to copy"
    );
    std::fs::copy(&wal, wal_dir.path().join("audit.sqlite-wal")).unwrap();
    drop(holder);
    std::fs::set_permissions(wal_dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let out = run(Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_massho"))
        .args(["ledger", "verify", "--ledger"])
        .arg(&wal_copy));
    std::fs::set_permissions(wal_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_exit(&out, 5);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("write-ahead log"),
        "{}",
        describe_output(&out)
    );
}

/// Two devices wiped together; the ledger refuses the second one's record. The first is
/// recorded, both get their certificates, and the error names the command that records the
/// second later.
#[test]
fn one_refused_record_does_not_cost_the_other_devices_their_certificates() {
    let s = Scratch::new();
    s.ok(&["media", "register", "D-1", "--kind", "other"]);
    s.ok(&["media", "register", "D-2", "--kind", "other"]);
    s.ok(&["media", "register", "D-3", "--kind", "other"]);
    s.ok(&["media", "lost", "D-3", "--description", "gone"]);
    let certs = s.dir.path().join("certs");
    let a = LoopDevice::new(4 * MIB, 512);
    let b = LoopDevice::new(4 * MIB, 512);
    let wipe = |assets: &[&str], devices: &[&LoopDevice]| {
        let mut c = massho();
        c.args(["wipe", "--yes", "--method", "zero", "--operator", "Yamada"])
            .arg("--key")
            .arg(&s.key.0)
            .arg("--cert-dir")
            .arg(&certs)
            .arg("--ledger")
            .arg(s.path());
        for t in assets {
            c.args(["--asset", t]);
        }
        for d in devices {
            c.arg(d.path());
        }
        run(&mut c)
    };
    // A lost medium is refused before anything is written.
    a.fill_backing(0x5A);
    let out = wipe(&["D-3"], &[&a]);
    assert_exit(&out, 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("massho media found"));
    assert!(a.backing_bytes().iter().all(|&x| x == 0x5A));

    // The database refuses D-2's record (a trigger stands for a write that fails: a full disk,
    // a lock held too long).
    s.sqlite(
        "CREATE TRIGGER refuse_d2 BEFORE INSERT ON events WHEN NEW.medium = 'D-2' \
         BEGIN SELECT RAISE(ABORT, 'test refuses D-2'); END;",
    );
    let out = wipe(&["D-1", "D-2"], &[&a, &b]);
    s.sqlite("DROP TRIGGER refuse_d2;");
    assert_exit(&out, 5);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("medium D-1, wipe recorded"), "{text}");
    assert!(text.contains("test refuses D-2"), "{text}");
    assert!(
        text.contains("massho media wiped D-2 --certificate"),
        "{text}"
    );
    let files: Vec<_> = std::fs::read_dir(&certs)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .collect();
    assert_eq!(files.len(), 2, "both devices have their certificates");
    let d1 = s.json(&["media", "show", "D-1"]);
    assert_eq!(d1["medium"]["status"], "wiped");
    assert_eq!(d1["medium"]["sanitized"], true);
    assert_eq!(
        s.json(&["media", "show", "D-2"])["medium"]["status"],
        "in_use"
    );
    s.verify(0, &[]);
}

#[test]
fn a_certificate_for_another_mediums_serial_or_older_than_the_last_use_is_refused() {
    let s = populated();
    let pubkey = s.key.1.to_str().unwrap().to_owned();
    s.ok(&["media", "register", "NOSN-1", "--kind", "usb-flash"]);
    let before = s.events();
    // NOSN-1 has no serial; a certificate naming it but for USB-001's drive (SN-A) is not its.
    let foreign = s.certificate_naming(
        "NOSN-1",
        "c0000000-0000-4000-8000-00000000000a",
        "passed",
        "SN-A".into(),
        &massho::ledger::now_utc(),
    );
    let out = s.m(&[
        "media",
        "wiped",
        "NOSN-1",
        "--certificate",
        foreign.to_str().unwrap(),
        "--pubkey",
        &pubkey,
    ]);
    assert_exit(&out, 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is for serial number SN-A, which belongs to medium USB-001, not to NOSN-1"),
        "{err}"
    );
    // USB-001 was handed over just now: a certificate issued before that is stale.
    let stale = s.certificate_naming(
        "USB-001",
        "c0000000-0000-4000-8000-00000000000b",
        "passed",
        "SN-A".into(),
        "2026-11-05T00:00:00Z",
    );
    let out = s.m(&[
        "media",
        "wiped",
        "USB-001",
        "--certificate",
        stale.to_str().unwrap(),
        "--pubkey",
        &pubkey,
    ]);
    assert_exit(&out, 3);
    let err = String::from_utf8_lossy(&out.stderr);
    let handover = s.json(&["media", "show", "USB-001"])["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["time"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        err.contains(&format!(
            "certificate c0000000-0000-4000-8000-00000000000b is stale: it was issued at 2026-11-05T00:00:00Z, before medium USB-001's last recorded use at {handover}"
        )),
        "{err}"
    );
    assert_eq!(s.events(), before, "nothing recorded");
    s.verify(0, &[]);
}

#[test]
fn ledger_values_cannot_repaint_the_terminal() {
    let s = Scratch::new();
    s.ok(&[
        "media",
        "register",
        "EVIL-1",
        "--kind",
        "hdd",
        "--department",
        "\u{202e}lanigiro",
        "--note",
        "wipe\x1b[2Jdone \u{202e}txt.exe",
        "--at",
        "2026-10-01",
    ]);
    s.ok(&[
        "media",
        "backup",
        "EVIL-1",
        "--set",
        "\x1b]0;pwned\x07",
        "--system",
        "erp",
        "--generation",
        "1",
        "--retain-until",
        "2020-01-01",
    ]);
    for args in [
        vec!["media", "show", "EVIL-1"],
        vec!["report", "history", "EVIL-1"],
        vec!["media", "list"],
        vec!["report", "retention", "--as-of", "2026-11-01"],
    ] {
        let out = s.ok(&args);
        assert!(
            !out.contains('\x1b') && !out.contains('\u{202e}') && !out.contains('\x07'),
            "{args:?} printed a raw control or bidi character:\n{out:?}"
        );
    }
    let shown = s.ok(&["media", "show", "EVIL-1"]);
    assert!(shown.contains("lanigiro"), "{shown}");
    assert!(shown.contains("2Jdone"), "{shown}");
}

#[test]
fn a_tampered_position_is_never_wrapped_into_the_next_events_hash() {
    let s = Scratch::new();
    s.ok(&["cabinet", "add", "C1", "--room", "r"]);
    s.sqlite("UPDATE events SET seq = -1");
    let out = s.m(&["cabinet", "add", "C2", "--room", "r"]);
    assert_ne!(out.status.code(), Some(0), "{}", describe_output(&out));
    assert_ne!(
        out.status.code(),
        Some(101),
        "a panic: {}",
        describe_output(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("its newest event has position -1"), "{err}");
    assert_eq!(s.events(), 1, "nothing recorded");
}
