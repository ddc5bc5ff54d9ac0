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
    if std::env::var_os("MASSHO_UPDATE_SNAPSHOTS").is_some() {
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
}
