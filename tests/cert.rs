//! Certificates end to end: a real wipe of a loop device issues a signed certificate that massho
//! and the stock `minisign` both accept, and both reject once a byte changes; signer trust,
//! malformed files, failed wipes, lease returns, timestamps from a real TSA (`openssl ts`),
//! rendering and batch summaries.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{assert_exit, describe_output, keypair, massho, run, tsa::Tsa, LoopDevice, Mount};
use serde_json::Value;

const MIB: u64 = 1 << 20;

/// `massho wipe --yes --json --method zero` with certificate options; returns the output.
fn wipe_certified(devices: &[&Path], key: &Path, certs: &Path, extra: &[&str]) -> Output {
    let mut cmd = massho();
    cmd.args([
        "wipe",
        "--yes",
        "--json",
        "--method",
        "zero",
        "--operator",
        "Yamada Taro",
    ])
    .arg("--key")
    .arg(key)
    .arg("--cert-dir")
    .arg(certs)
    .args(extra)
    .args(devices);
    run(&mut cmd)
}

/// The certificate files in `dir`.
fn certificates(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn cert_verify(paths: &[&Path], args: &[&str]) -> Output {
    run(massho().args(["cert", "verify"]).args(paths).args(args))
}

fn minisign_verify(file: &Path, public: &Path) -> Output {
    run(Command::new("minisign")
        .arg("-Vm")
        .arg(file)
        .arg("-p")
        .arg(public))
}

fn sig_of(json: &Path) -> PathBuf {
    PathBuf::from(format!("{}.minisig", json.display()))
}

/// One wiped loop device, its certificate, and the keys.
struct Issued {
    _dev: LoopDevice,
    dir: tempfile::TempDir,
    public: PathBuf,
    cert: PathBuf,
}

fn issue_one(extra: &[&str]) -> Issued {
    let dev = LoopDevice::new(8 * MIB, 512);
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = keypair(dir.path(), "operator");
    let certs = dir.path().join("certs");
    let out = wipe_certified(&[dev.path()], &secret, &certs, extra);
    assert_exit(&out, 0);
    let found = certificates(&certs);
    assert_eq!(found.len(), 1, "{found:?}");
    Issued {
        cert: found[0].clone(),
        _dev: dev,
        dir,
        public,
    }
}

#[test]
fn a_wipe_issues_a_certificate_that_massho_and_minisign_accept() {
    let dev = LoopDevice::new(16 * MIB, 4096);
    let mount = Mount::ext4(&dev);
    drop(mount);
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = keypair(dir.path(), "operator");
    let certs = dir.path().join("certs");
    let out = wipe_certified(
        &[dev.path()],
        &secret,
        &certs,
        &[
            "--org",
            "健康保険組合",
            "--asset",
            "PC-0042",
            "--purpose",
            "lease-return",
            "--lessor",
            "Tokyo Lease",
            "--contract",
            "L-2026-117",
            "--witness",
            "Sato Hanako",
        ],
    );
    assert_exit(&out, 0);
    let events = common::ndjson(&out.stdout);
    let issued: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "certificate")
        .collect();
    assert_eq!(issued.len(), 1, "{events:?}");
    let file = PathBuf::from(issued[0]["file"].as_str().unwrap());
    let c = read_json(&file);
    let id = c["certificate_id"].as_str().unwrap();
    assert_eq!(
        file.file_name().unwrap().to_string_lossy(),
        format!("{id}.json")
    );
    assert_eq!(c["schema"], "massho.certificate.v1");
    assert_eq!(c["status"], "passed");
    assert_eq!(c["operator"], "Yamada Taro");
    assert_eq!(c["organization"], "健康保険組合");
    assert_eq!(c["witness"], "Sato Hanako");
    assert_eq!(c["asset_tag"], "PC-0042");
    assert_eq!(
        c["disposition"],
        serde_json::json!({"purpose": "lease-return", "lessor": "Tokyo Lease", "contract": "L-2026-117"})
    );
    assert_eq!(c["wipe"]["device"], dev.path().to_str().unwrap());
    assert_eq!(c["wipe"]["size_bytes"], 16 * MIB);
    assert_eq!(c["wipe"]["media"]["logical_sector_size"], 4096);
    let before: Vec<&str> = c["wipe"]["media"]["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["type_name"].as_str())
        .collect();
    assert_eq!(before, ["ext4"], "{c:#}");
    assert_eq!(c["signatures_after"], serde_json::json!([]), "{c:#}");
    assert_eq!(c["wipe"]["sanitization"]["nist_category"], "clear");
    assert_eq!(c["tool"]["name"], "massho");
    assert_eq!(c["tool"]["binary_sha256"].as_str().unwrap().len(), 64);
    assert!(!c["tool"]["git_commit"].as_str().unwrap().is_empty());
    assert!(!c["wipe"]["host"]["kernel"].as_str().unwrap().is_empty());

    let ok = cert_verify(&[&certs], &["--pubkey", public.to_str().unwrap()]);
    assert_exit(&ok, 0);
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(
        said.contains(&format!("OK   {id}")) && said.contains("status=passed"),
        "{said}"
    );

    let peer = minisign_verify(&file, &public);
    assert_exit(&peer, 0);
    let said = String::from_utf8_lossy(&peer.stdout);
    assert!(
        said.contains(&format!(
            "Trusted comment: massho certificate {id} serial=none status=passed issued="
        )),
        "minisign said: {said}"
    );
}

#[test]
fn one_changed_byte_is_rejected_by_massho_and_by_minisign() {
    let i = issue_one(&[]);
    let mut bytes = std::fs::read(&i.cert).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&i.cert, &bytes).unwrap();
    let out = cert_verify(&[&i.cert], &["--pubkey", i.public.to_str().unwrap()]);
    assert_exit(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("TAMPERED"),
        "{}",
        describe_output(&out)
    );
    let peer = minisign_verify(&i.cert, &i.public);
    assert_ne!(peer.status.code(), Some(0), "{}", describe_output(&peer));
}

#[test]
fn a_signature_by_an_untrusted_key_is_rejected() {
    let i = issue_one(&[]);
    let (_, stranger) = keypair(i.dir.path(), "stranger");
    let out = cert_verify(&[&i.cert], &["--pubkey", stranger.to_str().unwrap()]);
    assert_exit(&out, 1);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("unknown signer"), "{said}");
    // A trusted directory with both keys accepts it.
    let trusted = i.dir.path().join("trusted");
    std::fs::create_dir(&trusted).unwrap();
    std::fs::copy(&i.public, trusted.join("operator.pub")).unwrap();
    std::fs::copy(&stranger, trusted.join("stranger.pub")).unwrap();
    let out = cert_verify(&[&i.cert], &["--trusted", trusted.to_str().unwrap()]);
    assert_exit(&out, 0);
}

#[test]
fn missing_truncated_and_garbage_files_give_clear_errors() {
    let i = issue_one(&[]);
    let pubkey = ["--pubkey", i.public.to_str().unwrap()];
    let sig = sig_of(&i.cert);
    let original = std::fs::read(&sig).unwrap();

    std::fs::write(&sig, b"this is not a signature\n").unwrap();
    let out = cert_verify(&[&i.cert], &pubkey);
    assert_exit(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("malformed"),
        "{}",
        describe_output(&out)
    );

    std::fs::write(&sig, &original[..original.len() / 2]).unwrap();
    let out = cert_verify(&[&i.cert], &pubkey);
    assert_exit(&out, 1);

    std::fs::remove_file(&sig).unwrap();
    let out = cert_verify(&[&i.cert], &pubkey);
    assert_exit(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("unsigned"),
        "{}",
        describe_output(&out)
    );

    let garbage = i.dir.path().join("garbage.json");
    std::fs::write(&garbage, b"\x00\x01 not json").unwrap();
    let out = cert_verify(&[&garbage], &pubkey);
    assert_exit(&out, 1);

    let out = cert_verify(&[&i.cert], &[]);
    assert_exit(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--pubkey"),
        "{}",
        describe_output(&out)
    );
}

/// Sign `data` as `path` (+ `.minisig`) with the operator's own key, through the library.
fn sign_as_operator(i: &Issued, path: &Path, data: &[u8], trusted_comment: &str) {
    let key = massho::sign::SecretKey::from_file(&i.dir.path().join("operator.key"), &|| {
        panic!("the test key has no passphrase")
    })
    .unwrap();
    std::fs::write(path, data).unwrap();
    let sig = key.sign(data, "test", trusted_comment).unwrap();
    std::fs::write(sig_of(path), sig).unwrap();
}

/// Signed by the trusted key and still refused: a document that is not a certificate is
/// malformed; a certificate edited and re-signed, but whose signed comment no longer describes
/// it, is tampered.
#[test]
fn a_genuine_signature_over_the_wrong_content_is_refused() {
    let i = issue_one(&[]);
    let pubkey = ["--pubkey", i.public.to_str().unwrap()];
    let other = i.dir.path().join("other.json");
    sign_as_operator(
        &i,
        &other,
        b"{\"schema\": \"something else\"}\n",
        "whatever",
    );
    let out = cert_verify(&[&other], &pubkey);
    assert_exit(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("malformed"),
        "{}",
        describe_output(&out)
    );

    let original = std::fs::read(&i.cert).unwrap();
    let minisig = std::fs::read_to_string(sig_of(&i.cert)).unwrap();
    let comment = minisig
        .lines()
        .find_map(|l| l.strip_prefix("trusted comment: "))
        .unwrap()
        .to_owned();
    let edited = String::from_utf8(original)
        .unwrap()
        .replace(
            "\"operator\": \"Yamada Taro\"",
            "\"operator\": \"Someone Else\"",
        )
        .replace("\"status\": \"passed\"", "\"status\": \"aborted\"");
    let forged = i.dir.path().join("forged.json");
    sign_as_operator(&i, &forged, edited.as_bytes(), &comment);
    let out = cert_verify(&[&forged], &pubkey);
    assert_exit(&out, 1);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("TAMPERED") && said.contains("does not describe"),
        "{said}"
    );
}

#[test]
fn lease_return_needs_lessor_and_contract() {
    let dev = LoopDevice::new(8 * MIB, 512);
    let dir = tempfile::tempdir().unwrap();
    let (secret, _) = keypair(dir.path(), "operator");
    let out = wipe_certified(
        &[dev.path()],
        &secret,
        &dir.path().join("certs"),
        &["--purpose", "lease-return", "--lessor", "Tokyo Lease"],
    );
    assert_exit(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--contract"),
        "{}",
        describe_output(&out)
    );
    let out = run(massho()
        .args(["wipe", "--yes", "--cert-dir"])
        .arg(dir.path())
        .arg(dev.path()));
    assert_exit(&out, 2);
}

#[test]
fn without_a_key_a_certified_wipe_is_refused_before_it_writes() {
    let dev = LoopDevice::new(8 * MIB, 512);
    dev.fill_backing(0x77);
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let out = run(massho()
        .args([
            "wipe",
            "--yes",
            "--method",
            "zero",
            "--operator",
            "Yamada",
            "--cert-dir",
        ])
        .arg(&certs)
        .arg(dev.path())
        .env("XDG_CONFIG_HOME", dir.path().join("no-config")));
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no signing key") && err.contains("nothing was written"),
        "{}",
        describe_output(&out)
    );
    assert!(!certs.exists() || certificates(&certs).is_empty());
    assert!(dev.backing_bytes().iter().all(|&b| b == 0x77));
}

#[test]
fn a_failed_wipe_gets_a_certificate_that_says_failed() {
    let disk = common::faulty::FaultyDisk::new(16 * MIB, (5 * MIB)..(5 * MIB + 4096), 512);
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = keypair(dir.path(), "operator");
    let certs = dir.path().join("certs");
    let out = wipe_certified(&[disk.loopdev().path()], &secret, &certs, &[]);
    assert_exit(&out, 1);
    let found = certificates(&certs);
    assert_eq!(found.len(), 1);
    let c = read_json(&found[0]);
    assert_eq!(c["status"], "failed");
    assert!(!c["wipe"]["errors"].as_array().unwrap().is_empty());
    let v = cert_verify(&[&found[0]], &["--pubkey", public.to_str().unwrap()]);
    assert_exit(&v, 1);
    assert!(
        String::from_utf8_lossy(&v.stdout).contains("genuine, but the wipe status is failed"),
        "{}",
        describe_output(&v)
    );
    let peer = minisign_verify(&found[0], &public);
    assert_exit(&peer, 0);
    assert!(String::from_utf8_lossy(&peer.stdout).contains("status=failed"));
}

#[test]
fn several_devices_get_one_certificate_each_with_their_asset_tags() {
    let a = LoopDevice::new(8 * MIB, 512);
    let b = LoopDevice::new(8 * MIB, 4096);
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = keypair(dir.path(), "operator");
    let certs = dir.path().join("certs");
    let out = wipe_certified(
        &[a.path(), b.path()],
        &secret,
        &certs,
        &["--asset", "HDD-1", "--asset", "HDD-2"],
    );
    assert_exit(&out, 0);
    let found = certificates(&certs);
    assert_eq!(found.len(), 2);
    let mut tags: Vec<(String, String)> = found
        .iter()
        .map(|f| {
            let c = read_json(f);
            (
                c["wipe"]["device"].as_str().unwrap().to_owned(),
                c["asset_tag"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    tags.sort();
    let mut want = vec![
        (a.path().display().to_string(), "HDD-1".to_owned()),
        (b.path().display().to_string(), "HDD-2".to_owned()),
    ];
    want.sort();
    assert_eq!(tags, want);
    let v = cert_verify(&[&certs], &["--pubkey", public.to_str().unwrap()]);
    assert_exit(&v, 0);
    assert!(String::from_utf8_lossy(&v.stdout).contains("2 certificate(s): 2 ok, 0 not"));
    // Asset tags must match the devices one to one.
    let out = wipe_certified(
        &[a.path(), b.path()],
        &secret,
        &certs,
        &["--asset", "HDD-1"],
    );
    assert_exit(&out, 2);
}

#[test]
fn a_timestamp_from_a_real_tsa_round_trips_and_a_tampered_token_fails() {
    let i = issue_one(&[]);
    let tsa = Tsa::new();
    let pubkey = i.public.to_str().unwrap().to_owned();
    let out = run(massho().args(["cert", "timestamp-request"]).arg(&i.cert));
    assert_exit(&out, 0);
    let tsq = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let tsr = i.dir.path().join("response.tsr");
    tsa.openssl(&format!(
        "ts -reply -config openssl.cnf -section tsa_rsa -queryfile {} -out {}",
        tsq.display(),
        tsr.display()
    ));
    let out = run(massho()
        .args(["cert", "timestamp-attach"])
        .arg(&i.cert)
        .arg(&tsr));
    assert_exit(&out, 0);
    let token = PathBuf::from(format!("{}.tsr", i.cert.display()));
    assert_eq!(std::fs::read(&token).unwrap(), std::fs::read(&tsr).unwrap());
    // Attaching again never replaces the stored token.
    assert_exit(
        &run(massho()
            .args(["cert", "timestamp-attach"])
            .arg(&i.cert)
            .arg(&tsr)),
        3,
    );

    let tsa_cert = tsa.path("tsa-rsa.pem");
    let out = cert_verify(
        &[&i.cert],
        &[
            "--pubkey",
            &pubkey,
            "--tsa-cert",
            tsa_cert.to_str().unwrap(),
        ],
    );
    assert_exit(&out, 0);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(" timestamp=20"), "{said}");

    // Another TSA's certificate does not verify this token.
    let other = tsa.path("tsa-other.pem");
    let out = cert_verify(
        &[&i.cert],
        &["--pubkey", &pubkey, "--tsa-cert", other.to_str().unwrap()],
    );
    assert_exit(&out, 1);
    assert!(String::from_utf8_lossy(&out.stdout).contains("timestamp:"));

    // A token for other content does not cover this certificate.
    let mut bad = std::fs::read(&token).unwrap();
    let len = bad.len();
    bad[len - 40] ^= 0xFF;
    std::fs::write(&token, &bad).unwrap();
    let out = cert_verify(
        &[&i.cert],
        &[
            "--pubkey",
            &pubkey,
            "--tsa-cert",
            tsa_cert.to_str().unwrap(),
        ],
    );
    assert_exit(&out, 1);

    // openssl agrees with the definition of the timestamped message.
    std::fs::write(&token, std::fs::read(&tsr).unwrap()).unwrap();
    let both = i.dir.path().join("both");
    let mut data = std::fs::read(&i.cert).unwrap();
    data.extend(std::fs::read(sig_of(&i.cert)).unwrap());
    std::fs::write(&both, data).unwrap();
    tsa.openssl(&format!(
        "ts -verify -in {} -data {} -CAfile ca.pem -untrusted tsa-rsa.pem",
        token.display(),
        both.display()
    ));
}

#[test]
fn render_and_summary_show_the_key_facts() {
    let i = issue_one(&["--asset", "USB-7"]);
    let c = read_json(&i.cert);
    let id = c["certificate_id"].as_str().unwrap();
    let out = run(massho().args(["cert", "render"]).arg(&i.cert));
    assert_exit(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "データ消去証明書",
        "合格 PASSED",
        "Yamada Taro",
        "USB-7",
        id,
        "Witness signature",
    ] {
        assert!(text.contains(needle), "render lacks {needle:?}:\n{text}");
    }
    let html = i.dir.path().join("c.html");
    let out = run(massho()
        .args(["cert", "render", "--format", "html", "-o"])
        .arg(&html)
        .arg(&i.cert));
    assert_exit(&out, 0);
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("<html lang=\"ja\">"));
    let out = run(massho()
        .args(["cert", "summary", "--format", "csv"])
        .arg(i.cert.parent().unwrap()));
    assert_exit(&out, 0);
    let csv = String::from_utf8_lossy(&out.stdout);
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("certificate_id,issued_at,status,"));
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(id) && row.contains(",passed,") && row.contains("USB-7"),
        "{row}"
    );
    assert_eq!(lines.next(), None);
}
