//! Keys and signatures against the reference implementation: stock `minisign` (Debian 0.11)
//! must accept what massho signs, with massho's keys, and massho must accept minisign's keys and
//! signatures. Every tampering is checked on both sides.
//!
//! minisign reads passphrases from stdin when it is not a terminal, so encrypted keys are
//! exercised by piping the passphrase in. Each encrypted key costs one scrypt at minisign's
//! N = 2^20 (1 GiB, about 2 s optimised).

mod common;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{massho, run};
use massho::sign::{self, PublicKey, SecretKey, SignError};

const TRUSTED: &str = "id:7d3c\tserial:WD-123\tstatus:passed\ttime:2026-11-20T10:00:00+09:00";

/// `minisign ARGS`, with `stdin` piped in.
fn minisign(args: &[&str], stdin: &str, dir: &Path) -> Output {
    let mut child = Command::new("minisign")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run minisign (install the minisign package): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn minisign_verifies(dir: &Path, file: &str, pubkey: &str) -> Output {
    minisign(&["-V", "-m", file, "-p", pubkey], "", dir)
}

fn passphrase(p: &'static str) -> impl Fn() -> Result<String, SignError> {
    move || Ok(p.to_string())
}

fn no_passphrase() -> Result<String, SignError> {
    panic!("an unencrypted key must not ask for a passphrase")
}

/// `massho key ARGS` with the passphrase (if any) in a file named by MASSHO_PASSPHRASE_FILE.
/// Run under `setsid`, without a controlling terminal, so a missing passphrase is an error and
/// never a prompt that hangs the suite.
fn massho_key(dir: &Path, args: &[&str], pass: Option<&str>) -> Output {
    let mut cmd = Command::new("setsid");
    cmd.arg(massho().get_program())
        .arg("key")
        .args(args)
        .stdin(Stdio::null())
        .env_remove(sign::PASSPHRASE_FILE_ENV);
    if let Some(pass) = pass {
        let file = dir.join("passphrase.txt");
        fs::write(&file, format!("{pass}\n")).unwrap();
        cmd.env(sign::PASSPHRASE_FILE_ENV, &file);
    }
    run(&mut cmd)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn massho_key_signs_and_minisign_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let keys = dir.join("keys");
    let out = massho_key(
        dir,
        &[
            "generate",
            "--out",
            keys.to_str().unwrap(),
            "--name",
            "station",
        ],
        Some("correct horse battery"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pub_path = keys.join("station.pub");
    let key_path = keys.join("station.key");
    assert_eq!(mode(&key_path), 0o600);
    assert_eq!(mode(&keys), 0o700);
    let public = PublicKey::from_file(&pub_path).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&public.key_id_grouped()), "{stdout}");
    assert!(stdout.contains(&public.fingerprint()), "{stdout}");
    // Never the secret: no base64 blob of a secret key's length on the terminal.
    let secret_line = fs::read_to_string(&key_path)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(!stdout.contains(&secret_line[..40]));

    let secret = SecretKey::from_file(&key_path, &passphrase("correct horse battery")).unwrap();
    assert_eq!(secret.public_key(), public);
    let cert = dir.join("cert.json");
    let data = br#"{"id":"7d3c","status":"passed"}"#.to_vec();
    fs::write(&cert, &data).unwrap();
    let sig = secret.sign(&data, "massho certificate", TRUSTED).unwrap();
    fs::write(dir.join("cert.json.minisig"), &sig).unwrap();

    let out = minisign_verifies(dir, "cert.json", pub_path.to_str().unwrap());
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("Trusted comment: {TRUSTED}")),
        "{stdout}"
    );
    // -H: minisign insists on a prehashed signature, which is what massho writes.
    let out = minisign(
        &[
            "-V",
            "-H",
            "-m",
            "cert.json",
            "-p",
            pub_path.to_str().unwrap(),
        ],
        "",
        dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let verified = sign::verify(&public, &data, &sig).unwrap();
    assert_eq!(verified.trusted_comment, TRUSTED);
    assert_eq!(verified.key_id, public.key_id());

    // One byte changed: both refuse.
    let mut tampered = data.clone();
    tampered[8] ^= 0x01;
    fs::write(&cert, &tampered).unwrap();
    let out = minisign_verifies(dir, "cert.json", pub_path.to_str().unwrap());
    assert!(!out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Signature verification failed"));
    let err = sign::verify(&public, &tampered, &sig).unwrap_err();
    assert!(matches!(err, SignError::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("changed after signing"), "{err}");

    // minisign can sign with massho's encrypted key, too.
    fs::write(&cert, &data).unwrap();
    let out = minisign(
        &[
            "-S",
            "-s",
            key_path.to_str().unwrap(),
            "-m",
            "cert.json",
            "-t",
            "by minisign",
        ],
        "correct horse battery\n",
        dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let sig = fs::read_to_string(dir.join("cert.json.minisig")).unwrap();
    assert_eq!(
        sign::verify(&public, &data, &sig).unwrap().trusted_comment,
        "by minisign"
    );
}

#[test]
fn minisign_unencrypted_key_works_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = minisign(&["-G", "-W", "-p", "x.pub", "-s", "x.key"], "", dir);
    assert!(out.status.success(), "{}", text(&out));
    let secret = SecretKey::from_file(&dir.join("x.key"), &no_passphrase).unwrap();
    let public = PublicKey::from_file(&dir.join("x.pub")).unwrap();
    assert_eq!(secret.public_key(), public);
    // Our .pub key line is minisign's, byte for byte. (The comment may differ: minisign 0.11
    // prints the key id without leading zeros, later versions and massho pad it to 16 digits.)
    let theirs = fs::read_to_string(dir.join("x.pub")).unwrap();
    assert_eq!(public.to_file_text().lines().nth(1), theirs.lines().nth(1));
    let their_id = theirs.lines().next().unwrap().rsplit(' ').next().unwrap();
    assert_eq!(
        format!("{:0>16}", their_id),
        public.key_id(),
        "key id as minisign prints it"
    );

    fs::write(dir.join("a.json"), b"{}\n").unwrap();
    let sig = secret.sign(b"{}\n", "massho", TRUSTED).unwrap();
    fs::write(dir.join("a.json.minisig"), sig).unwrap();
    let out = minisign_verifies(dir, "a.json", "x.pub");
    assert!(out.status.success(), "{}", text(&out));

    let out = minisign(
        &["-S", "-s", "x.key", "-m", "a.json", "-t", "trusted"],
        "",
        dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let sig = fs::read_to_string(dir.join("a.json.minisig")).unwrap();
    let v = sign::verify(&public, b"{}\n", &sig).unwrap();
    assert_eq!(v.trusted_comment, "trusted");
    assert_eq!(v.key_id, public.key_id());
    // The bare base64 line is a public key too (what `minisign -P` takes).
    let bare = fs::read_to_string(dir.join("x.pub")).unwrap();
    let bare = bare.lines().nth(1).unwrap();
    assert_eq!(PublicKey::parse(bare, "inline").unwrap(), public);

    // Legacy (non-prehashed) signatures from `minisign -S -l` verify as well.
    let out = minisign(
        &["-S", "-l", "-s", "x.key", "-m", "a.json", "-t", "legacy"],
        "",
        dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let sig = fs::read_to_string(dir.join("a.json.minisig")).unwrap();
    assert!(
        sig.lines().nth(1).unwrap().starts_with("RW"), // base64 of "Ed"
        "legacy \"Ed\" expected: {sig}"
    );
    assert_eq!(
        sign::verify(&public, b"{}\n", &sig)
            .unwrap()
            .trusted_comment,
        "legacy"
    );
    assert!(sign::verify(&public, b"{}\r\n", &sig).is_err());
}

#[test]
fn minisign_encrypted_key_loads_and_wrong_passphrase_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = minisign(
        &["-G", "-p", "e.pub", "-s", "e.key"],
        "s3cret pass\ns3cret pass\n",
        dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let key_path = dir.join("e.key");
    let public = PublicKey::from_file(&dir.join("e.pub")).unwrap();

    let err = SecretKey::from_file(&key_path, &passphrase("s3cret pasS")).unwrap_err();
    assert!(matches!(err, SignError::WrongPassphrase { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("wrong passphrase") && msg.contains("checksum mismatch"),
        "{msg}"
    );
    assert!(msg.contains(key_path.to_str().unwrap()), "{msg}");

    let secret = SecretKey::from_file(&key_path, &passphrase("s3cret pass")).unwrap();
    assert_eq!(secret.public_key(), public);
    fs::write(dir.join("b.json"), b"[1]").unwrap();
    fs::write(
        dir.join("b.json.minisig"),
        secret.sign(b"[1]", "massho", TRUSTED).unwrap(),
    )
    .unwrap();
    let out = minisign_verifies(dir, "b.json", "e.pub");
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(TRUSTED));
}

#[test]
fn key_show_wrong_passphrase_and_derived_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = minisign(
        &["-G", "-p", "k.pub", "-s", "k.key"],
        "pw one\npw one\n",
        dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let public = PublicKey::from_file(&dir.join("k.pub")).unwrap();
    let key = dir.join("k.key");

    // With the .pub beside it, no passphrase is needed.
    let out = massho_key(dir, &["show", "--key", key.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&public.to_file_text()));

    // Without it, the public key is decrypted out of the secret key.
    fs::rename(dir.join("k.pub"), dir.join("elsewhere.pub")).unwrap();
    let out = massho_key(
        dir,
        &["show", "--key", key.to_str().unwrap()],
        Some("pw two"),
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("wrong passphrase for the secret key"),
        "{stderr}"
    );
    assert!(stderr.contains(key.to_str().unwrap()), "{stderr}");
    let out = massho_key(
        dir,
        &["show", "--key", key.to_str().unwrap()],
        Some("pw one"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&public.to_file_text()), "{stdout}");
    assert!(stdout.contains(&public.key_id_grouped()), "{stdout}");

    // Without a passphrase source and without a terminal: a usage error that says what to do.
    let out = massho_key(dir, &["show", "--key", key.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no terminal") && stderr.contains("MASSHO_PASSPHRASE_FILE"),
        "{stderr}"
    );
}

#[test]
fn generate_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let args = [
        "generate",
        "--out",
        dir.to_str().unwrap(),
        "--no-passphrase",
    ];
    let out = massho_key(tmp.path(), &args, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNENCRYPTED"));
    let key_path = dir.join("massho.key");
    let pub_path = dir.join("massho.pub");
    assert_eq!(mode(&key_path), 0o600);
    assert_eq!(mode(&pub_path), 0o644);
    assert_eq!(listing(&dir), ["massho.key", "massho.pub"]);
    let before = (fs::read(&key_path).unwrap(), fs::read(&pub_path).unwrap());

    let out = massho_key(tmp.path(), &args, None);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to overwrite"), "{stderr}");
    let after = (fs::read(&key_path).unwrap(), fs::read(&pub_path).unwrap());
    assert_eq!(before, after);
    assert_eq!(listing(&dir), ["massho.key", "massho.pub"]);

    // Only one half present still refuses, before any passphrase is asked for.
    fs::remove_file(&key_path).unwrap();
    let out = massho_key(
        tmp.path(),
        &["generate", "--out", dir.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(listing(&dir), ["massho.pub"]);

    // The library refuses the same way.
    let err = sign::generate(&dir, "massho", None).unwrap_err();
    assert!(matches!(err, SignError::KeyExists { .. }), "{err}");

    // An empty passphrase is refused unless --no-passphrase says so.
    let out = massho_key(
        tmp.path(),
        &[
            "generate",
            "--out",
            dir.to_str().unwrap(),
            "--name",
            "other",
        ],
        Some(""),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-passphrase"));
    assert_eq!(listing(&dir), ["massho.pub"]);

    // The unencrypted key is a minisign -W key: minisign signs with it without a password.
    let pub_only = dir.join("massho.pub");
    let (public, p, k) = sign::generate(tmp.path(), "second", None).unwrap();
    assert_eq!(
        listing(tmp.path()),
        ["keys", "passphrase.txt", "second.key", "second.pub"]
    );
    fs::write(tmp.path().join("c.json"), b"c").unwrap();
    let out = minisign(
        &["-S", "-s", k.to_str().unwrap(), "-m", "c.json"],
        "",
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = minisign_verifies(tmp.path(), "c.json", p.to_str().unwrap());
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(PublicKey::from_file(&pub_only).unwrap(), public);
}

#[test]
fn broken_inputs_give_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (public, pub_path, key_path) = sign::generate(dir, "a", None).unwrap();
    let (other, other_path, _) = sign::generate(dir, "b", None).unwrap();
    let secret = SecretKey::from_file(&key_path, &no_passphrase).unwrap();
    let data = b"certificate bytes";
    let sig = secret.sign(data, "massho", TRUSTED).unwrap();
    fs::write(dir.join("d"), data).unwrap();

    // Wrong key: names both key ids and the key that was tried.
    let err = sign::verify(&other, data, &sig).unwrap_err().to_string();
    assert!(
        err.contains(&public.key_id()) && err.contains(&other.key_id()),
        "{err}"
    );
    assert!(err.contains(other_path.to_str().unwrap()), "{err}");
    fs::write(dir.join("d.minisig"), &sig).unwrap();
    let out = minisign_verifies(dir, "d", other_path.to_str().unwrap());
    assert!(!out.status.success(), "{}", text(&out));

    // Tampered trusted comment: the data signature still holds, the comment's does not.
    let forged = sig.replace("status:passed", "status:failed");
    assert_ne!(forged, sig);
    let err = sign::verify(&public, data, &forged).unwrap_err();
    assert!(matches!(err, SignError::BadTrustedComment { .. }), "{err}");
    assert!(
        err.to_string().contains("trusted comment was altered"),
        "{err}"
    );
    fs::write(dir.join("d.minisig"), &forged).unwrap();
    let out = minisign_verifies(dir, "d", pub_path.to_str().unwrap());
    assert!(!out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Comment signature verification failed"));

    // Truncated and garbage signatures.
    let lines: Vec<&str> = sig.lines().collect();
    for (broken, fragment) in [
        (lines[..2].join("\n") + "\n", "truncated"),
        (lines[..3].join("\n") + "\n", "truncated"),
        (sig[..sig.len() - 20].to_string(), "not valid base64"),
        (String::new(), "truncated"),
        ("\u{0}\u{1}garbage\n".to_string(), "untrusted comment"),
        (sig.replacen(&lines[1][5..15], "!!!!!!!!!!", 1), "base64"),
    ] {
        let err = sign::verify(&public, data, &broken).unwrap_err();
        assert!(
            matches!(err, SignError::MalformedSignature { .. }),
            "{broken:?}: {err}"
        );
        let msg = err.to_string();
        assert!(msg.contains(fragment), "{broken:?}: {msg}");
        assert!(msg.contains("get a fresh copy"), "{msg}");
    }

    // Garbage public keys name the file.
    let garbage = dir.join("garbage.pub");
    fs::write(&garbage, "untrusted comment: hi\nAAAA\n").unwrap();
    let msg = PublicKey::from_file(&garbage).unwrap_err().to_string();
    assert!(
        msg.contains("garbage.pub") && msg.contains("ask the signer"),
        "{msg}"
    );
    fs::write(&garbage, [0xff, 0xfe, 0x00]).unwrap();
    let msg = PublicKey::from_file(&garbage).unwrap_err().to_string();
    assert!(
        msg.contains("garbage.pub") && msg.contains("not text"),
        "{msg}"
    );
    let msg = PublicKey::from_file(&key_path).unwrap_err().to_string();
    assert!(
        msg.contains("a.key") && msg.contains("secret key, not a public key"),
        "{msg}"
    );
    let msg = PublicKey::from_file(&dir.join("missing.pub"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("missing.pub") && msg.contains("no such file"),
        "{msg}"
    );
    let msg = SecretKey::from_file(&pub_path, &no_passphrase)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("a.pub") && msg.contains("public key, not a secret key"),
        "{msg}"
    );

    // Trusted directory: every *.pub, and a broken one is an error, not skipped.
    let trusted = dir.join("trusted");
    fs::create_dir(&trusted).unwrap();
    let err = sign::load_trusted_dir(&trusted).unwrap_err().to_string();
    assert!(err.contains("no trusted public keys"), "{err}");
    fs::copy(&pub_path, trusted.join("a.pub")).unwrap();
    fs::copy(&other_path, trusted.join("b.pub")).unwrap();
    fs::write(trusted.join("notes.txt"), "not a key").unwrap();
    let keys = sign::load_trusted_dir(&trusted).unwrap();
    assert_eq!(keys, vec![public.clone(), other.clone()]);
    fs::write(trusted.join("c.pub"), "junk").unwrap();
    let err = sign::load_trusted_dir(&trusted).unwrap_err().to_string();
    assert!(err.contains("c.pub"), "{err}");
}

/// The temporary files of key generation are never left behind, even on refusal.
#[test]
fn no_temp_files_left() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sign::generate(dir, "k", None).unwrap();
    fs::write(dir.join("j.pub"), "someone else's").unwrap();
    assert!(sign::generate(dir, "j", None).is_err());
    let names: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(listing(dir), ["j.pub", "k.key", "k.pub"]);
}
