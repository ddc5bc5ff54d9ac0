//! Snapshot tests of what the operator reads: `--help` texts, the method list, usage errors.
//!
//! A snapshot changes only on purpose: run with `MASSHO_UPDATE_SNAPSHOTS=1` to rewrite them, then
//! review the diff like code.

mod common;

use std::path::PathBuf;

fn snapshot(name: &str, args: &[&str], expect_code: i32) {
    let out = common::run(common::massho().args(args).env("COLUMNS", "100"));
    assert_eq!(
        out.status.code(),
        Some(expect_code),
        "massho {args:?}: stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    // Never under CI: there a stale snapshot must fail, not be rewritten.
    if std::env::var_os("MASSHO_UPDATE_SNAPSHOTS").is_some() && std::env::var_os("CI").is_none() {
        std::fs::write(&path, &text).expect("write snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "missing snapshot {}: {e}; run with MASSHO_UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    assert_eq!(
        text,
        want,
        "output of massho {args:?} differs from {}",
        path.display()
    );
}

#[test]
fn help_texts() {
    snapshot("help", &["--help"], 0);
    snapshot("wipe-help", &["wipe", "--help"], 0);
    snapshot("verify-help", &["verify", "--help"], 0);
    snapshot("devices-help", &["devices", "--help"], 0);
    snapshot("cert-render-help", &["cert", "render", "--help"], 0);
    snapshot("cert-summary-help", &["cert", "summary", "--help"], 0);
    snapshot("ledger-help", &["ledger", "--help"], 0);
    snapshot("media-help", &["media", "--help"], 0);
    snapshot("media-register-help", &["media", "register", "--help"], 0);
    snapshot("cabinet-help", &["cabinet", "--help"], 0);
    snapshot("report-help", &["report", "--help"], 0);
}

#[test]
fn method_list() {
    snapshot("methods", &["methods"], 0);
}

#[test]
fn usage_errors_say_what_to_do() {
    snapshot(
        "unknown-method",
        &["wipe", "--method", "dod-9", "/nonexistent"],
        2,
    );
    snapshot("missing-device", &["wipe", "--yes", "/nonexistent/disk"], 2);
    snapshot(
        "bad-expect",
        &["verify", "/nonexistent", "--expect", "two"],
        2,
    );
    snapshot("no-device", &["wipe"], 2);
    snapshot(
        "verify-not-a-device",
        &["verify", "/dev/null", "--expect", "zero"],
        2,
    );
    snapshot("verify-directory", &["verify", "/", "--expect", "zero"], 2);
    snapshot(
        "verify-missing-device",
        &["verify", "/nonexistent/disk", "--expect", "zero"],
        2,
    );
    snapshot("verify-nothing-expected", &["verify", "/dev/null"], 2);
    snapshot(
        "verify-expect-and-result",
        &[
            "verify",
            "/dev/null",
            "--expect",
            "zero",
            "--result",
            "r.json",
        ],
        2,
    );
}

/// `massho demo` shows the whole flow without root: run it as `nobody` when the suite runs as
/// root (as in CI), directly otherwise.
#[test]
fn demo_runs_without_root() {
    let bin = env!("CARGO_BIN_EXE_massho");
    let mut cmd = if nix::unistd::geteuid().is_root() {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
        c
    } else {
        std::process::Command::new(bin)
    };
    let out = common::run(cmd.arg("demo").env("TMPDIR", "/tmp").env("HOME", "/tmp"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "holds: vfat",
        "status: \"passed\"",
        "0 mismatched, direct I/O true",
        "   0 non-zero bytes",
        "1 certificate(s): 1 ok, 0 not",
        "データ消去証明書",
        "消去後の内容 / Found after: なし none",
        "資産番号 / Asset tag: DEMO-001",
        "medium DEMO-001, wipe recorded as event 5",
        "status disposed since",
        "disposed     DEMO-001",
        "6 events, key",
        "signature good",
        "OK: the chain, the derived state and the seals check out",
        "Scratch directory removed",
    ] {
        assert!(
            text.contains(needle),
            "demo output lacks {needle:?}:\n{text}"
        );
    }
}

/// The example shipped in certs/examples verifies with massho and with stock minisign, so it
/// always matches the current certificate format.
#[test]
fn the_shipped_example_certificate_verifies() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs/examples");
    let out = common::run(
        common::massho()
            .args(["cert", "verify"])
            .arg(&examples)
            .arg("--pubkey")
            .arg(examples.join("demo.pub")),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        common::describe_output(&out)
    );
    let json = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let peer = common::run(
        std::process::Command::new("minisign")
            .arg("-Vm")
            .arg(&json)
            .arg("-p")
            .arg(examples.join("demo.pub")),
    );
    assert_eq!(
        peer.status.code(),
        Some(0),
        "{}",
        common::describe_output(&peer)
    );
}

/// An independent JSON Schema validator (Debian's python3-jsonschema) accepts the shipped
/// example against certs/certificate.schema.json and rejects it with an unknown field.
#[test]
fn the_published_schema_validates_the_example_independently() {
    let script = r#"
import glob, json, sys, jsonschema
root = sys.argv[1]
schema = json.load(open(root + "/certs/certificate.schema.json"))
validator = jsonschema.Draft202012Validator(schema)
for path in glob.glob(root + "/certs/examples/*.json"):
    cert = json.load(open(path))
    validator.validate(cert)
    print("valid")
    cert["wipe"]["passes"][0]["pattern"] = 7
    print("rejected" if not validator.is_valid(cert) else "accepted a wrong type")
"#;
    let out = common::run(
        std::process::Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(script)
            .arg(env!("CARGO_MANIFEST_DIR")),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        common::describe_output(&out)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "valid\nrejected\n");
}
