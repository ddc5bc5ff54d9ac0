//! X.509 (CAdES) signatures against real OpenSSL, both ways: `openssl cms -verify` accepts what
//! massho signs (RSA from a PKCS#12 bundle, P-256 from PEM, encrypted or not), massho accepts
//! what `openssl cms -sign -cades` signs, and both refuse a one-byte change. Expired signers,
//! keys that may not sign, unknown CAs and tampered bytes are each named. A real wipe of a loop
//! device with `--x509-key` writes a `.p7s` that OpenSSL verifies.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::pki::Pki;
use common::{assert_exit, describe_output, keypair, massho, run, LoopDevice};
use massho::x509::{verify_detached, Failure, TrustAnchors};

const MIB: u64 = 1 << 20;

/// The shipped example certificate, copied as `<id>.json` into a fresh directory.
fn example_certificate() -> (tempfile::TempDir, PathBuf) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/examples");
    let json = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(json.file_name().unwrap());
    std::fs::copy(&json, &copy).unwrap();
    (dir, copy)
}

fn p7s_of(json: &Path) -> PathBuf {
    PathBuf::from(format!("{}.p7s", json.display()))
}

/// `massho cert sign-x509 JSON --x509-key BUNDLE`, the passphrase (if any) from a file.
fn sign_x509(pki: &Pki, json: &Path, bundle: &str, passphrase: bool) -> Output {
    let mut cmd = massho();
    cmd.args(["cert", "sign-x509"])
        .arg(json)
        .arg("--x509-key")
        .arg(pki.path(bundle));
    if passphrase {
        cmd.env("MASSHO_PASSPHRASE_FILE", pki.path("passphrase.txt"));
    }
    run(&mut cmd)
}

/// `openssl cms -verify` of a detached DER signature over `json`, trusting `ca`.
fn openssl_verifies(pki: &Pki, json: &Path, ca: &str) -> Output {
    let dir = json.parent().unwrap();
    pki.openssl_status(
        &format!(
            "cms -verify -binary -inform DER -content {} -in {} -CAfile {} -purpose any -out /dev/null",
            json.display(),
            p7s_of(json).display(),
            pki.path(ca).display()
        ),
        dir,
    )
}

/// `openssl cms -sign -cades`: a detached CAdES signature over `json` by `signer`.
fn openssl_signs(pki: &Pki, json: &Path, signer: &str) {
    pki.openssl(&format!(
        "cms -sign -binary -md sha256 -cades -outform DER -signer {signer}.pem -inkey {signer}.key \
         -certfile inter.pem -in {} -out {}",
        json.display(),
        p7s_of(json).display()
    ));
}

fn cert_verify_ca(json: &Path, ca: &Path) -> Output {
    run(massho()
        .args(["cert", "verify", "--json", "--ca"])
        .arg(ca)
        .arg(json))
}

/// The one verdict line of `cert verify --json`.
fn verdict(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .next()
        .unwrap_or_else(|| panic!("{}", describe_output(out)));
    serde_json::from_str(line).unwrap()
}

fn problem(out: &Output) -> String {
    assert_exit(out, 1);
    verdict(out)["problem"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn flip(path: &Path, at: usize) -> Vec<u8> {
    let original = std::fs::read(path).unwrap();
    let mut changed = original.clone();
    changed[at] ^= 0x01;
    std::fs::write(path, &changed).unwrap();
    original
}

#[test]
fn openssl_verifies_what_massho_signs_with_rsa_and_p256_keys() {
    let pki = Pki::new();
    let version = pki.openssl("version");
    eprintln!("{}", version.trim());
    for (bundle, passphrase, signer) in [
        ("rsa.p12", true, "CN=RSA signer"),
        ("ec-bundle.pem", false, "CN=P-256 signer"),
        ("ec-encrypted.pem", true, "CN=P-256 signer"),
    ] {
        let (_dir, json) = example_certificate();
        let out = sign_x509(&pki, &json, bundle, passphrase);
        assert_exit(&out, 0);
        assert!(p7s_of(&json).is_file(), "{bundle}: no .p7s");

        let out = openssl_verifies(&pki, &json, "ca.pem");
        assert!(
            out.status.success(),
            "{bundle}: openssl refused massho's signature: {}",
            describe_output(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Verification successful"),
            "{}",
            describe_output(&out)
        );
        let out = cert_verify_ca(&json, &pki.path("ca.pem"));
        assert_exit(&out, 0);
        assert_eq!(verdict(&out)["x509_signer"], signer, "{bundle}");

        // What massho signed: content-type, message-digest, signing-certificate-v2, and no
        // signing-time.
        let printed = pki.openssl(&format!(
            "cms -cmsout -print -inform DER -in {}",
            p7s_of(&json).display()
        ));
        for attribute in [
            "contentType",
            "messageDigest",
            "id-smime-aa-signingCertificateV2",
        ] {
            assert!(printed.contains(attribute), "{bundle}: no {attribute}");
        }
        assert!(!printed.contains("signingTime"), "{bundle}: a signing-time");

        // One byte of the certificate changed: OpenSSL and massho both refuse it.
        let original = flip(&json, 40);
        let out = openssl_verifies(&pki, &json, "ca.pem");
        assert!(
            !out.status.success(),
            "{bundle}: openssl accepted a changed file"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Verification failure"),
            "{}",
            describe_output(&out)
        );
        let p = problem(&cert_verify_ca(&json, &pki.path("ca.pem")));
        assert!(p.starts_with("X.509 signature: TAMPERED"), "{p}");
        std::fs::write(&json, original).unwrap();
    }
}

/// Every single-byte change of a `.p7s` is refused, and the untouched one still verifies.
#[test]
fn every_one_byte_change_of_a_p7s_is_refused() {
    let pki = Pki::new();
    let anchors = TrustAnchors::load(&[pki.path("ca.pem")]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    for bundle in ["rsa.p12", "ec-bundle.pem"] {
        let (_dir, json) = example_certificate();
        assert_exit(&sign_x509(&pki, &json, bundle, true), 0);
        let content = std::fs::read(&json).unwrap();
        let p7s = std::fs::read(p7s_of(&json)).unwrap();
        verify_detached(&content, &p7s, &anchors, now).expect("the untouched signature");
        for at in 0..p7s.len() {
            let mut changed = p7s.clone();
            changed[at] ^= 0x01;
            assert!(
                verify_detached(&content, &changed, &anchors, now).is_err(),
                "{bundle}: byte {at} of {} changed and still accepted",
                p7s.len()
            );
        }
        for at in [0, content.len() / 2, content.len() - 1] {
            let mut changed = content.clone();
            changed[at] ^= 0x01;
            assert!(matches!(
                verify_detached(&changed, &p7s, &anchors, now),
                Err(Failure::Tampered(_))
            ));
        }
    }
}

#[test]
fn massho_verifies_what_openssl_signs_with_cades() {
    let pki = Pki::new();
    for (signer, subject) in [("rsa", "CN=RSA signer"), ("ec", "CN=P-256 signer")] {
        let (_dir, json) = example_certificate();
        openssl_signs(&pki, &json, signer);
        let out = cert_verify_ca(&json, &pki.path("ca.pem"));
        assert_exit(&out, 0);
        let v = verdict(&out);
        assert_eq!(v["x509_signer"], subject);
        assert_eq!(v["ok"], true);

        // The trust anchors as a directory work the same.
        let cas = tempfile::tempdir().unwrap();
        std::fs::copy(pki.path("ca.pem"), cas.path().join("root.crt")).unwrap();
        assert_exit(&cert_verify_ca(&json, cas.path()), 0);

        let original = flip(&json, 100);
        let p = problem(&cert_verify_ca(&json, &pki.path("ca.pem")));
        assert!(
            p.contains("TAMPERED") && p.contains("message digest"),
            "{p}"
        );
        std::fs::write(&json, original).unwrap();

        // The end of the .p7s is the signature value: changed, the signature is TAMPERED.
        let p7s = p7s_of(&json);
        let len = std::fs::read(&p7s).unwrap().len();
        flip(&p7s, len - 3);
        let p = problem(&cert_verify_ca(&json, &pki.path("ca.pem")));
        assert!(p.contains("TAMPERED"), "{p}");
    }
}

#[test]
fn expired_wrong_usage_unknown_ca_and_missing_signatures_are_named() {
    let pki = Pki::new();

    let (_dir, json) = example_certificate();
    openssl_signs(&pki, &json, "expired");
    let p = problem(&cert_verify_ca(&json, &pki.path("ca.pem")));
    assert!(
        p.starts_with("X.509 signature: expired: certificate CN=expired signer expired at 2020-02-01T00:00:00Z"),
        "{p}"
    );
    // At a time inside its validity (what a verified signature timestamp will give), the same
    // signature holds.
    let anchors = TrustAnchors::load(&[pki.path("ca.pem")]).unwrap();
    let then = time::macros::datetime!(2020-01-15 00:00 UTC);
    let (content, p7s) = (
        std::fs::read(&json).unwrap(),
        std::fs::read(p7s_of(&json)).unwrap(),
    );
    // ...except that the CAs of this test PKI were made today: they were not valid then.
    match verify_detached(&content, &p7s, &anchors, then) {
        Err(Failure::NotYetValid(m)) => assert!(m.contains("massho test"), "{m}"),
        other => panic!("{other:?}"),
    }

    let (_dir, json) = example_certificate();
    openssl_signs(&pki, &json, "encipher");
    let p = problem(&cert_verify_ca(&json, &pki.path("ca.pem")));
    assert!(p.starts_with("X.509 signature: wrong key usage: certificate CN=encipher-only key allows neither digitalSignature nor nonRepudiation"), "{p}");

    let (_dir, json) = example_certificate();
    openssl_signs(&pki, &json, "rsa");
    let p = problem(&cert_verify_ca(&json, &pki.path("other-ca.pem")));
    assert!(
        p.starts_with(
            "X.509 signature: unknown CA: no trusted CA issued CN=massho test intermediate"
        ),
        "{p}"
    );
    // OpenSSL agrees.
    assert!(!openssl_verifies(&pki, &json, "other-ca.pem")
        .status
        .success());

    // With --ca, a certificate without a .p7s is unsigned for X.509.
    let (_dir, json) = example_certificate();
    let p = problem(&cert_verify_ca(&json, &pki.path("ca.pem")));
    assert!(p.starts_with("unsigned (X.509)"), "{p}");

    // A non-CAdES signature (no signing-certificate-v2) is named as such.
    let (_dir, json) = example_certificate();
    pki.openssl(&format!(
        "cms -sign -binary -md sha256 -outform DER -signer rsa.pem -inkey rsa.key -certfile inter.pem -in {} -out {}",
        json.display(),
        p7s_of(&json).display()
    ));
    let p = problem(&cert_verify_ca(&json, &pki.path("ca.pem")));
    assert!(p.contains("no signing-certificate-v2"), "{p}");
}

#[test]
fn unusable_signing_material_is_refused_before_signing() {
    let pki = Pki::new();
    let cases: [(&str, bool, &str); 4] = [
        ("expired-bundle.pem", false, "expired at 2020-02-01"),
        (
            "encipher-bundle.pem",
            false,
            "neither digitalSignature nor nonRepudiation",
        ),
        ("ca.pem", false, "holds no private key"),
        ("rsa.key", false, "holds a private key but no certificate"),
    ];
    for (bundle, passphrase, expected) in cases {
        let (_dir, json) = example_certificate();
        let out = sign_x509(&pki, &json, bundle, passphrase);
        assert_exit(&out, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{bundle}: {err}");
        assert!(err.contains("nothing was signed"), "{err}");
        assert!(!p7s_of(&json).exists());
    }

    // The wrong passphrase, and none at all without a terminal.
    let (_dir, json) = example_certificate();
    pki.write("wrong.txt", b"not it\n");
    let out = run(massho()
        .args(["cert", "sign-x509"])
        .arg(&json)
        .arg("--x509-key")
        .arg(pki.path("rsa.p12"))
        .env("MASSHO_PASSPHRASE_FILE", pki.path("wrong.txt")));
    assert_exit(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"),
        "{}",
        describe_output(&out)
    );
    let out = run(massho()
        .args(["cert", "sign-x509"])
        .arg(&json)
        .arg("--x509-key")
        .arg(pki.path("rsa.p12"))
        .stdin(std::process::Stdio::null()));
    assert_exit(&out, 2);
    assert!(!p7s_of(&json).exists());

    // A key and someone else's certificate.
    let mut mismatched = pki.read("ec.key");
    mismatched.extend(pki.read("rsa.pem"));
    pki.write("mismatched.pem", &mismatched);
    let out = sign_x509(&pki, &json, "mismatched.pem", false);
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("belongs to none of its certificates"));

    // An existing .p7s is never overwritten.
    assert_exit(&sign_x509(&pki, &json, "ec-bundle.pem", false), 0);
    let first = std::fs::read(p7s_of(&json)).unwrap();
    assert_exit(&sign_x509(&pki, &json, "ec-bundle.pem", false), 3);
    assert_eq!(std::fs::read(p7s_of(&json)).unwrap(), first);
}

#[test]
fn a_wipe_with_x509_key_writes_a_p7s_that_openssl_verifies() {
    let pki = Pki::new();
    let dev = LoopDevice::new(8 * MIB, 512);
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = keypair(dir.path(), "operator");
    let certs = dir.path().join("certs");
    let out = run(massho()
        .args([
            "wipe",
            "--yes",
            "--json",
            "--method",
            "zero",
            "--operator",
            "Yamada Taro",
        ])
        .arg("--key")
        .arg(&secret)
        .arg("--cert-dir")
        .arg(&certs)
        .arg("--x509-key")
        .arg(pki.path("rsa.p12"))
        .env("MASSHO_PASSPHRASE_FILE", pki.path("passphrase.txt"))
        .arg(dev.path()));
    assert_exit(&out, 0);
    let mut jsons: Vec<PathBuf> = std::fs::read_dir(&certs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(jsons.len(), 1, "{jsons:?}");
    let json = jsons.remove(0);
    assert!(PathBuf::from(format!("{}.minisig", json.display())).is_file());

    let out = openssl_verifies(&pki, &json, "ca.pem");
    assert!(out.status.success(), "{}", describe_output(&out));

    // massho checks both signatures when given both trusts.
    let out = run(massho()
        .args(["cert", "verify", "--pubkey"])
        .arg(&public)
        .arg("--ca")
        .arg(pki.path("ca.pem"))
        .arg(&json));
    assert_exit(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("x509=\"CN=RSA signer\""), "{text}");

    // A wipe whose X.509 key cannot be used does not start.
    let out = run(massho()
        .args([
            "wipe",
            "--yes",
            "--method",
            "zero",
            "--operator",
            "Yamada Taro",
        ])
        .arg("--key")
        .arg(&secret)
        .arg("--cert-dir")
        .arg(&certs)
        .arg("--x509-key")
        .arg(pki.path("expired-bundle.pem"))
        .arg(dev.path()));
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("expired") && err.contains("nothing was written"),
        "{err}"
    );
}
