//! Files massho judges (certificates, signatures, timestamp replies, public keys, TSA
//! certificates) are read once, as regular files only: a FIFO is refused with exit 2, never
//! waited on. What is printed from them is escaped for the terminal; what is counted in a batch
//! is only what a trusted signature vouches for.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_exit, describe_output, massho, run, tsa::Tsa};
use massho::cert::Certificate;
use massho::engine::Status;
use massho::sign::SecretKey;

/// A fresh key pair made by `massho key generate` in `dir`: (secret key loaded, .pub path).
fn key(dir: &Path, name: &str) -> (SecretKey, PathBuf) {
    let (secret, public) = common::keypair(dir, name);
    let secret =
        SecretKey::from_file(&secret, &|| panic!("the test key has no passphrase")).unwrap();
    (secret, public)
}

fn example() -> Certificate {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/examples");
    let file = std::fs::read_dir(examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

/// `cert` signed with `key` into `dir` under a fresh id: its `<id>.json`.
fn issue(mut cert: Certificate, key: &SecretKey, dir: &Path) -> PathBuf {
    cert.certificate_id = uuid::Uuid::new_v4().to_string();
    std::fs::create_dir_all(dir).unwrap();
    massho::cert::issue(&cert, key, dir).unwrap().json
}

fn fifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::S_IRWXU).unwrap();
}

/// Run `cmd`, failing the test if it has not finished within ten seconds (a reader blocked on
/// a FIFO would wait for ever).
fn run_within_10s(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} hung (waiting on a FIFO?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 2, and stderr names `path` and says it is a FIFO.
fn refused_as_fifo(out: &Output, path: &Path) {
    assert_exit(out, 2);
    let err = stderr(out);
    assert!(
        err.contains("FIFO") && err.contains(&path.display().to_string()),
        "{}",
        describe_output(out)
    );
}

#[test]
fn fifos_named_as_judged_files_are_usage_errors_not_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = key(dir.path(), "station");
    let good = issue(example(), &secret, &dir.path().join("good"));

    // A FIFO as the certificate itself.
    let pipe = dir.path().join("pipe.json");
    fifo(&pipe);
    let out = run_within_10s(
        massho()
            .args(["cert", "verify"])
            .arg(&pipe)
            .arg("--pubkey")
            .arg(&public),
    );
    refused_as_fifo(&out, &pipe);
    for format in ["text", "pdf"] {
        let out = run_within_10s(
            massho()
                .args(["cert", "render", "--format", format, "-o"])
                .arg(dir.path().join("out"))
                .arg(&pipe),
        );
        refused_as_fifo(&out, &pipe);
    }
    // ... found in a directory: reported, not skipped.
    let listed = dir.path().join("listed");
    std::fs::create_dir(&listed).unwrap();
    std::fs::copy(&good, listed.join(good.file_name().unwrap())).unwrap();
    fifo(&listed.join("x.json"));
    let out = run_within_10s(massho().args(["cert", "summary"]).arg(&listed));
    refused_as_fifo(&out, &listed.join("x.json"));

    // A FIFO as the certificate's .minisig.
    let other = issue(example(), &secret, &dir.path().join("other"));
    let sig = massho::cert::signature_path(&other);
    std::fs::remove_file(&sig).unwrap();
    fifo(&sig);
    let out = run_within_10s(
        massho()
            .args(["cert", "verify"])
            .arg(&other)
            .arg("--pubkey")
            .arg(&public),
    );
    refused_as_fifo(&out, &sig);
    let out = run_within_10s(massho().args(["cert", "timestamp-request"]).arg(&other));
    refused_as_fifo(&out, &sig);

    // A FIFO as the trusted public key, given or in the trusted directory.
    let pub_pipe = dir.path().join("pipe.pub");
    fifo(&pub_pipe);
    let out = run_within_10s(
        massho()
            .args(["cert", "verify"])
            .arg(&good)
            .arg("--pubkey")
            .arg(&pub_pipe),
    );
    refused_as_fifo(&out, &pub_pipe);
    let out = run_within_10s(
        massho()
            .args(["cert", "verify"])
            .arg(&good)
            .arg("--trusted")
            .arg(dir.path()),
    );
    refused_as_fifo(&out, &pub_pipe);
    let out = run_within_10s(massho().args(["key", "show", "--key"]).arg(&pub_pipe));
    refused_as_fifo(&out, &pub_pipe);

    // A FIFO as the timestamp reply, handed over or lying beside the certificate.
    let tsr_pipe = dir.path().join("reply.tsr");
    fifo(&tsr_pipe);
    let out = run_within_10s(
        massho()
            .args(["cert", "timestamp-attach"])
            .arg(&good)
            .arg(&tsr_pipe),
    );
    refused_as_fifo(&out, &tsr_pipe);
    let token = massho::timestamp::token_path(&good);
    fifo(&token);
    let out = run_within_10s(
        massho()
            .args(["cert", "verify"])
            .arg(&good)
            .arg("--pubkey")
            .arg(&public),
    );
    refused_as_fifo(&out, &token);

    // A FIFO, or a directory, as the TSA certificate.
    std::fs::remove_file(&token).unwrap();
    for tsa in [tsr_pipe.as_path(), dir.path()] {
        let out = run_within_10s(
            massho()
                .args(["cert", "verify"])
                .arg(&good)
                .arg("--pubkey")
                .arg(&public)
                .arg("--tsa-cert")
                .arg(tsa),
        );
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("TSA certificate"),
            "{}",
            describe_output(&out)
        );
    }
}

#[test]
fn an_oversized_certificate_is_refused_with_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = key(dir.path(), "station");
    let big = dir.path().join("big.json");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(massho::input::limit::CERTIFICATE + 1).unwrap();
    let out = run(massho()
        .args(["cert", "verify"])
        .arg(&big)
        .arg("--pubkey")
        .arg(&public));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("larger than"),
        "{}",
        describe_output(&out)
    );
}

#[test]
fn a_directory_counts_each_certificate_once_under_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = key(dir.path(), "station");
    let certs = dir.path().join("certs");
    let a = issue(example(), &secret, &certs);
    let _b = issue(example(), &secret, &certs);
    // The same certificate under another name: still genuine, but counted twice if believed.
    let copy = certs.join("copy.json");
    std::fs::copy(&a, &copy).unwrap();
    std::fs::copy(
        massho::cert::signature_path(&a),
        massho::cert::signature_path(&copy),
    )
    .unwrap();
    let out = run(massho()
        .args(["cert", "verify"])
        .arg(&certs)
        .arg("--pubkey")
        .arg(&public));
    assert_exit(&out, 1);
    let said = stdout(&out);
    assert!(said.contains("3 certificate(s): 1 ok, 2 not"), "{said}");
    assert!(
        said.contains(&format!("FAIL {}: misnamed", copy.display())),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "FAIL {}: duplicate: {}",
            a.display(),
            copy.display()
        )),
        "{said}"
    );

    // The same name in two directories: one certificate, two files.
    std::fs::remove_file(&copy).unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let twin = elsewhere.join(a.file_name().unwrap());
    std::fs::copy(&a, &twin).unwrap();
    std::fs::copy(
        massho::cert::signature_path(&a),
        massho::cert::signature_path(&twin),
    )
    .unwrap();
    let out = run(massho()
        .args(["cert", "verify"])
        .arg(&certs)
        .arg(&elsewhere)
        .arg("--pubkey")
        .arg(&public));
    assert_exit(&out, 1);
    let said = stdout(&out);
    assert!(said.contains("3 certificate(s): 1 ok, 2 not"), "{said}");
    assert_eq!(said.matches(": duplicate: ").count(), 2, "{said}");
}

fn blob(public: &Path) -> massho::sign::format::PublicKeyBlob {
    let text = std::fs::read_to_string(public).unwrap();
    let (_, line) = massho::sign::format::key_file_lines(&text).unwrap();
    massho::sign::format::PublicKeyBlob::from_base64(line).unwrap()
}

/// `public` rewritten to claim the key id of `victim`: another key under the same id.
fn impostor(public: &Path, victim: &Path, out: &Path) {
    let mut b = blob(public);
    b.key_id = blob(victim).key_id;
    std::fs::write(out, b.to_file_text()).unwrap();
}

#[test]
fn two_trusted_keys_with_one_key_id_are_an_error_naming_both_never_a_false_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = key(dir.path(), "station");
    let (_, stranger) = key(dir.path(), "stranger");
    let cert = issue(example(), &secret, &dir.path().join("certs"));
    let fake = dir.path().join("fake.pub");
    impostor(&stranger, &public, &fake);

    for args in [
        vec![
            "--pubkey",
            fake.to_str().unwrap(),
            "--pubkey",
            public.to_str().unwrap(),
        ],
        vec![
            "--pubkey",
            public.to_str().unwrap(),
            "--pubkey",
            fake.to_str().unwrap(),
        ],
    ] {
        let out = run(massho().args(["cert", "verify"]).arg(&cert).args(&args));
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(
            err.contains(fake.to_str().unwrap()) && err.contains(public.to_str().unwrap()),
            "{}",
            describe_output(&out)
        );
        assert!(
            !stdout(&out).contains("TAMPERED"),
            "{}",
            describe_output(&out)
        );
    }
    // --pubkey and --trusted together are one set of keys too.
    let trusted = dir.path().join("trusted");
    std::fs::create_dir(&trusted).unwrap();
    std::fs::copy(&public, trusted.join("station.pub")).unwrap();
    let out = run(massho()
        .args(["cert", "verify"])
        .arg(&cert)
        .arg("--pubkey")
        .arg(&fake)
        .arg("--trusted")
        .arg(&trusted));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("fake.pub"),
        "{}",
        describe_output(&out)
    );

    // The same key twice, or given and in the directory, is harmless.
    std::fs::copy(&public, trusted.join("copy-of-station.pub")).unwrap();
    let out = run(massho()
        .args(["cert", "verify"])
        .arg(&cert)
        .arg("--pubkey")
        .arg(&public)
        .arg("--pubkey")
        .arg(&public)
        .arg("--trusted")
        .arg(&trusted));
    assert_exit(&out, 0);
}

/// A real TSA's token attached to `cert`.
fn timestamped(tsa: &Tsa, cert: &Path) {
    let out = run(massho().args(["cert", "timestamp-request"]).arg(cert));
    assert_exit(&out, 0);
    let tsq = PathBuf::from(stdout(&out).trim());
    let tsr = tsa.path("reply.tsr");
    tsa.openssl(&format!(
        "ts -reply -config openssl.cnf -section tsa_rsa -queryfile {} -out {}",
        tsq.display(),
        tsr.display()
    ));
    let out = run(massho()
        .args(["cert", "timestamp-attach"])
        .arg(cert)
        .arg(&tsr));
    assert_exit(&out, 0);
}

#[test]
fn a_timestamp_no_tsa_certificate_verified_is_never_shown_as_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = key(dir.path(), "station");
    let cert = issue(example(), &secret, &dir.path().join("certs"));
    let tsa = Tsa::new();
    timestamped(&tsa, &cert);
    let tsa_cert = tsa.path("tsa-rsa.pem");
    let pubkey = ["--pubkey", public.to_str().unwrap()];

    let out = run(massho().args(["cert", "verify"]).arg(&cert).args(pubkey));
    assert_exit(&out, 0);
    let said = stdout(&out);
    assert!(!said.contains("timestamp=20"), "{said}");
    assert!(said.contains("unverified timestamp"), "{said}");
    let out = run(massho()
        .args(["cert", "verify", "--json"])
        .arg(&cert)
        .args(pubkey));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["timestamp"], serde_json::Value::Null, "{line}");
    assert!(line["unverified_timestamp"]
        .as_str()
        .unwrap()
        .starts_with("20"));

    let out = run(massho()
        .args(["cert", "verify"])
        .arg(&cert)
        .args(pubkey)
        .arg("--tsa-cert")
        .arg(&tsa_cert));
    assert_exit(&out, 0);
    assert!(stdout(&out).contains(" timestamp=20"), "{}", stdout(&out));

    // The rendered certificate, as text and as HTML.
    let row = "Timestamp (RFC 3161): ";
    let out = run(massho().args(["cert", "render"]).arg(&cert));
    assert_exit(&out, 0);
    let text = stdout(&out);
    let shown = text.lines().find_map(|l| l.split_once(row)).map(|x| x.1);
    assert!(shown.unwrap().starts_with("unverified timestamp"), "{text}");
    let out = run(massho()
        .args(["cert", "render", "--tsa-cert"])
        .arg(&tsa_cert)
        .arg(&cert));
    let text = stdout(&out);
    let shown = text.lines().find_map(|l| l.split_once(row)).map(|x| x.1);
    assert!(shown.unwrap().starts_with("20"), "{text}");
    let out = run(massho()
        .args(["cert", "render", "--format", "html"])
        .arg(&cert));
    assert!(stdout(&out).contains("unverified timestamp"));
    // Another TSA's certificate does not make it verified.
    let out = run(massho()
        .args(["cert", "render", "--tsa-cert"])
        .arg(tsa.path("tsa-other.pem"))
        .arg(&cert));
    let text = stdout(&out);
    let shown = text.lines().find_map(|l| l.split_once(row)).map(|x| x.1);
    assert!(shown.unwrap().starts_with("NOT VERIFIED"), "{text}");

    // The summary, in every format.
    let out = run(massho()
        .args(["cert", "summary", "--format", "json"])
        .arg(&cert)
        .args(pubkey));
    assert_exit(&out, 0);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows[0]["timestamp"]
        .as_str()
        .unwrap()
        .starts_with("unverified timestamp"));
    let out = run(massho()
        .args(["cert", "summary", "--format", "csv", "--tsa-cert"])
        .arg(&tsa_cert)
        .arg(&cert)
        .args(pubkey));
    let csv = stdout(&out);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == "timestamp").unwrap();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(row[at].starts_with("20"), "{csv}");
}

#[test]
fn a_summary_counts_as_passed_only_what_a_trusted_signature_vouches_for() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = key(dir.path(), "station");
    let certs = dir.path().join("certs");
    let passed = issue(example(), &secret, &certs);
    let mut c = example();
    c.status = Status::Unverified;
    c.wipe.status = Status::Unverified;
    issue(c, &secret, &certs);
    // A forged "passed" certificate: the bytes changed after signing.
    let forged = issue(example(), &secret, &certs);
    let text = std::fs::read_to_string(&forged).unwrap();
    let c: Certificate = serde_json::from_str(&text).unwrap();
    std::fs::write(&forged, text.replace(&c.operator, "Someone Else")).unwrap();

    // Without keys: nothing is counted as passed, and the totals say why.
    let out = run(massho()
        .args(["cert", "summary", "--format", "json"])
        .arg(&certs));
    assert_exit(&out, 0);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for r in rows.as_array().unwrap() {
        assert_eq!(r["signature"], "not checked", "{r}");
    }
    let err = stderr(&out);
    assert!(
        err.contains("0 passed") && err.contains("3 not checked"),
        "{err}"
    );

    let out = run(massho()
        .args(["cert", "summary", "--format", "csv", "--pubkey"])
        .arg(&public)
        .arg(&certs));
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("1 passed, 1 unverified") && err.contains("1 REJECTED"),
        "{err}"
    );
    assert!(!err.contains("not checked"), "{err}");
    let csv = stdout(&out);
    let forged_row = csv.lines().find(|l| l.contains(&c.certificate_id)).unwrap();
    assert!(forged_row.contains("rejected: TAMPERED"), "{csv}");
    let passed_id = passed.file_stem().unwrap().to_str().unwrap();
    let passed_row = csv.lines().find(|l| l.contains(passed_id)).unwrap();
    assert!(passed_row.contains(",passed,verified,"), "{csv}");

    // The printed summary says the same.
    let pdf = dir.path().join("summary.pdf");
    let out = run(massho()
        .args(["cert", "summary", "--format", "pdf", "--pubkey"])
        .arg(&public)
        .arg("-o")
        .arg(&pdf)
        .arg(&certs));
    assert_exit(&out, 0);
    let text = run(Command::new("pdftotext").arg(&pdf).arg("-"));
    let text = stdout(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "Passed: 1",
        "Unverified: 1",
        "Rejected: 1",
        "Not checked: 0",
        "SIGNATURE REJECTED",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

/// Hidden characters a certificate can carry, and how they must show.
const HOSTILE: [(&str, &str); 3] = [
    ("\x1b[31m", "\\u{1b}[31m"),
    ("\r", "\\r"),
    ("\u{202e}", "\\u{202e}"),
];

fn no_raw_hidden(s: &str) {
    assert!(
        !s.chars().any(|c| massho::text::is_hidden(c) && c != '\n'),
        "raw control or formatting characters in {s:?}"
    );
}

#[test]
fn what_a_certificate_or_a_file_name_says_is_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = key(dir.path(), "station");
    let mut c = example();
    c.wipe.serial = Some("SN\x1b[31m1".into());
    c.wipe.media.model = Some("Disk\x1b[31m\r\u{202e}X".into());
    c.operator = "Yamada\x1b[31m\rTaro\u{202e}".into();
    let certs = dir.path().join("certs");
    let cert = issue(c, &secret, &certs);
    let pubkey = ["--pubkey", public.to_str().unwrap()];

    let out = run(massho().args(["cert", "verify"]).arg(&cert).args(pubkey));
    assert_exit(&out, 0);
    let said = stdout(&out);
    no_raw_hidden(&said);
    assert!(said.contains("serial=SN\\u{1b}[31m1"), "{said}");

    let out = run(massho()
        .args(["cert", "verify", "--json"])
        .arg(&cert)
        .args(pubkey));
    no_raw_hidden(&stdout(&out));

    let out = run(massho().args(["cert", "render"]).arg(&cert));
    assert_exit(&out, 0);
    let text = stdout(&out);
    no_raw_hidden(&text);
    for (_, shown) in HOSTILE {
        assert!(text.contains(shown), "{shown}: {text}");
    }

    let out = run(massho()
        .args(["cert", "summary", "--format", "json"])
        .arg(&certs));
    assert_exit(&out, 0);
    no_raw_hidden(&stdout(&out));
    no_raw_hidden(&stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows[0]["operator"], "Yamada\x1b[31m\rTaro\u{202e}",
        "JSON keeps values"
    );

    // A file name with an escape in it: in the verdict line and in error messages.
    let named = certs.join("\x1b[2Jevil.json");
    std::fs::copy(&cert, &named).unwrap();
    std::fs::copy(
        massho::cert::signature_path(&cert),
        massho::cert::signature_path(&named),
    )
    .unwrap();
    let out = run(massho().args(["cert", "verify"]).arg(&named).args(pubkey));
    assert_exit(&out, 1);
    no_raw_hidden(&stdout(&out));
    assert!(
        stdout(&out).contains("\\u{1b}[2Jevil.json: misnamed"),
        "{}",
        stdout(&out)
    );
    let pipe = certs.join("\x1b[2Jpipe.json");
    fifo(&pipe);
    for args in [
        vec!["cert".as_ref(), "render".as_ref(), pipe.as_os_str()],
        vec![
            "key".as_ref(),
            "show".as_ref(),
            "--key".as_ref(),
            pipe.as_os_str(),
        ],
        vec![
            "cert".as_ref(),
            "verify".as_ref(),
            pipe.as_os_str(),
            "--pubkey".as_ref(),
            public.as_os_str(),
        ],
    ] {
        let out = run_within_10s(massho().args(&args));
        assert_exit(&out, 2);
        no_raw_hidden(&stderr(&out));
        assert!(
            stderr(&out).contains("\\u{1b}[2Jpipe.json"),
            "{}",
            describe_output(&out)
        );
    }
    let missing = certs.join("\x1b[2Jmissing.pub");
    let out = run(massho().args(["key", "show", "--key"]).arg(&missing));
    assert_exit(&out, 2);
    no_raw_hidden(&stderr(&out));
}
