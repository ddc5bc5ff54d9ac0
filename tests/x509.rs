//! X.509 (CAdES) signatures against real OpenSSL, both ways: `openssl cms -verify` accepts what
//! massho signs (RSA from a PKCS#12 bundle, P-256 from PEM, encrypted or not), massho accepts
//! what `openssl cms -sign -cades` signs, and both refuse a one-byte change. Expired signers,
//! keys that may not sign, unknown CAs and tampered bytes are each named. A real wipe of a loop
//! device with `--x509-key` writes a `.p7s` that OpenSSL verifies.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::Digest as _;

use common::pki::Pki;
use common::tsa;
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

// ---- CAdES-B-T, validation data and revocation ----

/// `massho cert sign-x509 JSON --x509-key BUNDLE` with more arguments.
fn sign_x509_with(pki: &Pki, json: &Path, bundle: &str, passphrase: bool, more: &[&str]) -> Output {
    let mut cmd = massho();
    cmd.args(["cert", "sign-x509"])
        .arg(json)
        .arg("--x509-key")
        .arg(pki.path(bundle))
        .args(more);
    if passphrase {
        cmd.env("MASSHO_PASSPHRASE_FILE", pki.path("passphrase.txt"));
    }
    run(&mut cmd)
}

/// `massho cert verify --json --ca CA JSON` with more arguments.
fn verify_with(pki: &Pki, json: &Path, cas: &[&str], more: &[&str]) -> Output {
    let mut cmd = massho();
    cmd.args(["cert", "verify", "--json"]);
    for ca in cas {
        cmd.arg("--ca").arg(pki.path(ca));
    }
    run(cmd.args(more).arg(json))
}

/// A second copy of the example certificate in its own directory.
fn copy_of(json: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(json.file_name().unwrap());
    std::fs::copy(json, &copy).unwrap();
    (dir, copy)
}

/// Whether OpenSSL's own CMS parser sees a signature timestamp among the unsigned attributes.
fn openssl_sees_timestamp(pki: &Pki, json: &Path) -> bool {
    let out = pki.openssl(&format!(
        "cms -cmsout -print -inform DER -in {}",
        p7s_of(json).display()
    ));
    let unsigned = out.split("unsignedAttrs").nth(1).unwrap_or("");
    unsigned.contains("id-smime-aa-timeStampToken")
}

#[test]
fn b_t_over_http_is_accepted_by_massho_and_openssl_and_one_changed_byte_breaks_both() {
    let pki = Pki::new();
    let url = tsa::serve_http(pki.dir.path(), "tsa_trusted", false);
    let chunked_url = tsa::serve_http(pki.dir.path(), "tsa_trusted", true);
    for (bundle, passphrase, url) in [
        ("rsa.p12", true, &url),
        ("ec-bundle.pem", false, &chunked_url),
    ] {
        let (_dir, json) = example_certificate();
        let out = sign_x509_with(&pki, &json, bundle, passphrase, &["--tsa-url", url]);
        assert_exit(&out, 0);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("signature timestamp (CAdES-B-T)"), "{err}");
        assert!(openssl_sees_timestamp(&pki, &json), "{bundle}");

        let out = openssl_verifies(&pki, &json, "ca.pem");
        assert!(out.status.success(), "{bundle}: {}", describe_output(&out));
        let out = verify_with(&pki, &json, &["ca.pem"], &[]);
        assert_exit(&out, 0);
        let v = verdict(&out);
        let stamped = v["x509_timestamp"].as_str().unwrap_or_default().to_owned();
        assert!(!stamped.is_empty(), "{bundle}: {v}");
        assert_eq!(v["x509_tsa"], "CN=massho test TSA", "{v}");
        // The path was checked at the timestamp's time, not now.
        assert_eq!(v["x509_checked_at"].as_str(), Some(stamped.as_str()), "{v}");

        // The library sees the same token at the same place.
        let p7s = std::fs::read(p7s_of(&json)).unwrap();
        assert_eq!(
            massho::x509::signature_timestamp_tokens(&p7s)
                .unwrap()
                .len(),
            1
        );

        // One changed byte of the JSON: both refuse.
        flip(&json, 10);
        let out = openssl_verifies(&pki, &json, "ca.pem");
        assert!(!out.status.success(), "openssl accepted a changed file");
        let p = problem(&verify_with(&pki, &json, &["ca.pem"], &[]));
        assert!(p.contains("TAMPERED"), "{p}");
    }
}

#[test]
fn a_timestamp_from_an_untrusted_tsa_is_named() {
    let pki = Pki::new();
    let url = tsa::serve_http(pki.dir.path(), "tsa_untrusted", false);
    let (_dir, json) = example_certificate();
    assert_exit(
        &sign_x509_with(&pki, &json, "ec-bundle.pem", false, &["--tsa-url", &url]),
        0,
    );
    let p = problem(&verify_with(&pki, &json, &["ca.pem"], &[]));
    assert!(
        p.contains("untrusted TSA") && p.contains("CN=untrusted TSA"),
        "{p}"
    );
    // Trusting the TSA's CA, or the TSA certificate itself, makes it good.
    assert_exit(
        &verify_with(&pki, &json, &["ca.pem", "other-ca.pem"], &[]),
        0,
    );
    let out = verify_with(
        &pki,
        &json,
        &["ca.pem"],
        &["--tsa-cert", pki.path("other-tsa.pem").to_str().unwrap()],
    );
    assert_exit(&out, 0);
    assert_eq!(verdict(&out)["x509_tsa"], "CN=untrusted TSA");
    // A TSA certificate given for a B-B signature: the X.509-only auditor expects B-T.
    let (_dir2, plain) = example_certificate();
    assert_exit(&sign_x509(&pki, &plain, "ec-bundle.pem", false), 0);
    let p = problem(&verify_with(
        &pki,
        &plain,
        &["ca.pem"],
        &["--tsa-cert", pki.path("tsa.pem").to_str().unwrap()],
    ));
    assert!(p.contains("no signature timestamp"), "{p}");
}

#[test]
fn offline_two_steps_add_a_timestamp_to_a_p7s() {
    let pki = Pki::new();
    let (dir, json) = example_certificate();
    assert_exit(&sign_x509(&pki, &json, "ec-bundle.pem", false), 0);
    let before = std::fs::read(p7s_of(&json)).unwrap();
    let out = run(massho()
        .args(["cert", "timestamp-request", "--x509"])
        .arg(&json));
    assert_exit(&out, 0);
    let tsq = PathBuf::from(format!("{}.tsq", p7s_of(&json).display()));
    assert!(tsq.is_file());
    let tsr = dir.path().join("reply.tsr");
    pki.openssl(&format!(
        "ts -reply -config openssl.cnf -section tsa_trusted -queryfile {} -out {}",
        tsq.display(),
        tsr.display()
    ));

    // OpenSSL agrees on what is stamped: SHA-256 of the SignerInfo's signature value, which in
    // a B-B .p7s is its last OCTET STRING.
    let parsed = pki.openssl(&format!(
        "asn1parse -inform DER -in {}",
        p7s_of(&json).display()
    ));
    let last = parsed
        .lines()
        .rev()
        .find(|l| l.contains("OCTET STRING"))
        .unwrap();
    let signature_hex = last.rsplit(':').next().unwrap().trim();
    let signature = hex::decode(signature_hex).unwrap();
    let digest = hex::encode(sha2::Sha256::digest(&signature));
    assert_eq!(
        digest,
        hex::encode(massho::x509::signature_timestamp_imprint(&before).unwrap())
    );
    let ossl_tsq = dir.path().join("openssl.tsq");
    pki.openssl(&format!(
        "ts -query -digest {digest} -sha256 -cert -out {}",
        ossl_tsq.display()
    ));
    let massho_tsq_text = pki.openssl(&format!("ts -query -in {} -text", tsq.display()));
    let ossl_tsq_text = pki.openssl(&format!("ts -query -in {} -text", ossl_tsq.display()));
    let imprint_of = |text: &str| {
        text.split("Message data:")
            .nth(1)
            .and_then(|t| t.split("Policy OID").next())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(imprint_of(&massho_tsq_text), imprint_of(&ossl_tsq_text));
    assert!(!imprint_of(&ossl_tsq_text).is_empty(), "{ossl_tsq_text}");

    // A reply for another signature is refused and the .p7s kept.
    let (_other_dir, other) = copy_of(&json);
    assert_exit(&sign_x509(&pki, &other, "rsa.p12", true), 0);
    let out = run(massho()
        .args(["cert", "timestamp-attach", "--x509"])
        .arg(&other)
        .arg(&tsr));
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not stamp this signature"), "{err}");

    let out = run(massho()
        .args(["cert", "timestamp-attach", "--x509"])
        .arg(&json)
        .arg(&tsr));
    assert_exit(&out, 0);
    let after = std::fs::read(p7s_of(&json)).unwrap();
    assert_ne!(before, after);
    assert!(openssl_sees_timestamp(&pki, &json));
    assert!(openssl_verifies(&pki, &json, "ca.pem").status.success());
    let out = verify_with(&pki, &json, &["ca.pem"], &[]);
    assert_exit(&out, 0);
    assert!(verdict(&out)["x509_timestamp"].is_string());
    // And `openssl ts -verify` accepts the token over that digest.
    let out = pki.openssl_status(
        &format!(
            "ts -verify -digest {digest} -in {} -CAfile {}",
            tsr.display(),
            pki.path("ca.pem").display()
        ),
        dir.path(),
    );
    assert!(out.status.success(), "{}", describe_output(&out));
    // A second timestamp is refused, the file kept.
    let out = run(massho()
        .args(["cert", "timestamp-attach", "--x509"])
        .arg(&json)
        .arg(&tsr));
    assert_exit(&out, 2);
    assert_eq!(std::fs::read(p7s_of(&json)).unwrap(), after);
}

#[test]
fn a_revoked_signer_fails_unless_the_timestamp_predates_the_revocation() {
    let pki = Pki::new();
    let url = tsa::serve_http(pki.dir.path(), "tsa_trusted", false);
    let (_d1, stamped) = example_certificate();
    assert_exit(
        &sign_x509_with(
            &pki,
            &stamped,
            "revoked-bundle.pem",
            false,
            &["--tsa-url", &url],
        ),
        0,
    );
    let (_d2, plain) = copy_of(&stamped);
    assert_exit(&sign_x509(&pki, &plain, "revoked-bundle.pem", false), 0);
    // Revocation dates have whole seconds: revoke strictly after the timestamp's second.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    pki.revoke("revoked");
    pki.crls();
    let crl = pki.path("inter.crl");
    let crl = crl.to_str().unwrap();

    // Without the CRL, revocation is reported as not checked.
    let out = verify_with(&pki, &stamped, &["ca.pem"], &[]);
    assert_exit(&out, 0);
    let r = verdict(&out)["x509_revocation"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(r.contains("not checked"), "{r}");

    // The timestamp proves the signature existed before the revocation.
    let out = verify_with(&pki, &stamped, &["ca.pem"], &["--crl", crl]);
    assert_exit(&out, 0);
    let r = verdict(&out)["x509_revocation"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(r.contains("after the timestamp"), "{r}");

    // Without a timestamp nothing does.
    let p = problem(&verify_with(&pki, &plain, &["ca.pem"], &["--crl", crl]));
    assert!(
        p.contains("REVOKED") && p.contains("CN=revoked signer"),
        "{p}"
    );

    // Signed and timestamped after the revocation: REVOKED, naming the date.
    let (_d3, late) = copy_of(&stamped);
    assert_exit(
        &sign_x509_with(
            &pki,
            &late,
            "revoked-bundle.pem",
            false,
            &["--tsa-url", &url],
        ),
        0,
    );
    let p = problem(&verify_with(&pki, &late, &["ca.pem"], &["--crl", crl]));
    assert!(
        p.contains("REVOKED") && p.contains("not after the timestamp"),
        "{p}"
    );

    // A CRL whose signature was altered is refused, not believed.
    let der = pki.openssl(&format!("crl -in {crl} -outform DER -out bad.crl"));
    assert!(der.is_empty());
    let bad = pki.path("bad.crl");
    let mut bytes = std::fs::read(&bad).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&bad, &bytes).unwrap();
    let p = problem(&verify_with(
        &pki,
        &stamped,
        &["ca.pem"],
        &["--crl", bad.to_str().unwrap()],
    ));
    assert!(
        p.contains("revocation data") && p.contains("not signed"),
        "{p}"
    );
}

#[test]
fn validation_data_is_embedded_checked_and_read_by_openssl() {
    let pki = Pki::new();
    pki.revoke("revoked");
    pki.crls();
    let vd = pki.path("validation");
    std::fs::create_dir(&vd).unwrap();
    std::fs::copy(pki.path("inter.crl"), vd.join("inter.crl")).unwrap();
    std::fs::copy(pki.path("ca.crl"), vd.join("ca.crl")).unwrap();
    // The root's CRL is checked against the root's certificate, collected with it.
    std::fs::copy(pki.path("ca.pem"), vd.join("ca.pem")).unwrap();
    let vd_arg = vd.to_str().unwrap();

    let (_d1, good) = example_certificate();
    assert_exit(
        &sign_x509_with(
            &pki,
            &good,
            "ec-bundle.pem",
            false,
            &["--validation-data", vd_arg],
        ),
        0,
    );
    // The CRLs travel inside: massho checks revocation with nothing else given.
    let out = verify_with(&pki, &good, &["ca.pem"], &[]);
    assert_exit(&out, 0);
    let r = verdict(&out)["x509_revocation"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        r.starts_with("checked") && !r.contains("not checked"),
        "{r}"
    );
    // OpenSSL reads them too: with -crl_check it accepts the good signer...
    let dir = good.parent().unwrap();
    let crl_check = |json: &Path| {
        pki.openssl_status(
            &format!(
                "cms -verify -binary -inform DER -content {} -in {} -CAfile {} -purpose any -crl_check -out /dev/null",
                json.display(),
                p7s_of(json).display(),
                pki.path("ca.pem").display()
            ),
            dir,
        )
    };
    let out = crl_check(&good);
    assert!(out.status.success(), "{}", describe_output(&out));

    // ...and refuses the revoked one, as massho does.
    let (_d2, revoked) = copy_of(&good);
    assert_exit(
        &sign_x509_with(
            &pki,
            &revoked,
            "revoked-bundle.pem",
            false,
            &["--validation-data", vd_arg],
        ),
        0,
    );
    let out = crl_check(&revoked);
    assert!(
        !out.status.success(),
        "openssl -crl_check accepted a revoked signer"
    );
    let p = problem(&verify_with(&pki, &revoked, &["ca.pem"], &[]));
    assert!(p.contains("REVOKED"), "{p}");

    // Validation data whose CRL no CA of the chain signed is refused before signing.
    let foreign = pki.path("foreign");
    std::fs::create_dir(&foreign).unwrap();
    pki.openssl(
        "req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout stranger.key -out stranger.pem -days 1 -subj /CN=massho\\ test\\ intermediate -config openssl.cnf -extensions ca_ext",
    );
    // A CRL named after the intermediate but signed by a stranger's key.
    let cfg = std::fs::read_to_string(pki.path("openssl.cnf"))
        .unwrap()
        .replace("$dir/inter.pem", "$dir/stranger.pem")
        .replace("$dir/inter.key", "$dir/stranger.key");
    pki.write("stranger.cnf", cfg.as_bytes());
    pki.openssl("ca -batch -config stranger.cnf -gencrl -crldays 1 -out foreign/forged.crl");
    let (_d3, json) = example_certificate();
    let out = sign_x509_with(
        &pki,
        &json,
        "ec-bundle.pem",
        false,
        &["--validation-data", foreign.to_str().unwrap()],
    );
    assert_exit(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing was signed") && err.contains("CRL"),
        "{err}"
    );
    assert!(!p7s_of(&json).exists());
}

#[test]
fn an_expired_signer_is_valid_at_its_timestamp_and_expired_without() {
    let pki = Pki::new();
    let url = tsa::serve_http(pki.dir.path(), "tsa_trusted", false);
    let not_after = pki.short_lived("brief", 20);
    let (_d1, stamped) = example_certificate();
    assert_exit(
        &sign_x509_with(
            &pki,
            &stamped,
            "brief-bundle.pem",
            false,
            &["--tsa-url", &url],
        ),
        0,
    );
    let (_d2, plain) = copy_of(&stamped);
    assert_exit(&sign_x509(&pki, &plain, "brief-bundle.pem", false), 0);
    // Both are good while the certificate is valid; the timestamp must predate its expiry.
    let out = verify_with(&pki, &stamped, &["ca.pem"], &[]);
    assert_exit(&out, 0);
    let stamped_at = verdict(&out)["x509_timestamp"].as_str().unwrap().to_owned();
    let stamped_at =
        time::OffsetDateTime::parse(&stamped_at, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!(
        stamped_at < not_after,
        "the machine was too slow: timestamped at {stamped_at}, after the certificate expired at {not_after}"
    );
    // Wait until the certificate has expired.
    while time::OffsetDateTime::now_utc() <= not_after + time::Duration::seconds(1) {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let out = verify_with(&pki, &stamped, &["ca.pem"], &[]);
    assert_exit(&out, 0);
    let p = problem(&verify_with(&pki, &plain, &["ca.pem"], &[]));
    assert!(
        p.contains("expired") && p.contains("CN=short-lived signer"),
        "{p}"
    );
}

#[test]
fn a_wipe_keeps_its_records_when_the_tsa_is_down_and_timestamps_when_it_is_up() {
    let pki = Pki::new();
    let up = tsa::serve_http(pki.dir.path(), "tsa_trusted", false);
    let dev = LoopDevice::new(8 * MIB, 512);
    let dir = tempfile::tempdir().unwrap();
    let (secret, _public) = keypair(dir.path(), "operator");
    for (url, stamped) in [(tsa::down_url(), false), (up, true)] {
        let certs = dir.path().join(format!("certs-{stamped}"));
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
            .arg(pki.path("ec-bundle.pem"))
            .arg("--tsa-url")
            .arg(&url)
            .arg(dev.path()));
        assert_exit(&out, 0);
        let err = String::from_utf8_lossy(&out.stderr);
        let json: PathBuf = std::fs::read_dir(&certs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .expect("a certificate");
        assert!(openssl_verifies(&pki, &json, "ca.pem").status.success());
        let out = verify_with(&pki, &json, &["ca.pem"], &[]);
        assert_exit(&out, 0);
        if stamped {
            assert!(!err.contains("warning"), "{err}");
            assert!(verdict(&out)["x509_timestamp"].is_string());
        } else {
            assert!(
                err.contains("warning")
                    && err.contains(&url)
                    && err.contains("timestamp-request --x509"),
                "{err}"
            );
            assert!(verdict(&out)["x509_timestamp"].is_null());
        }
    }
}

#[test]
fn a_crl_covers_the_timestamp_it_postdates_and_an_expired_or_future_crl_is_refused() {
    let pki = Pki::new();
    let url = tsa::serve_http(pki.dir.path(), "tsa_trusted", false);
    let (_d1, stamped) = example_certificate();
    assert_exit(
        &sign_x509_with(&pki, &stamped, "ec-bundle.pem", false, &["--tsa-url", &url]),
        0,
    );
    let (_d2, plain) = copy_of(&stamped);
    assert_exit(&sign_x509(&pki, &plain, "ec-bundle.pem", false), 0);
    let out = verify_with(&pki, &stamped, &["ca.pem"], &[]);
    let t = time::OffsetDateTime::parse(
        verdict(&out)["x509_timestamp"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // A CRL issued one second after the timestamp and expired one second later.
    while time::OffsetDateTime::now_utc() < t + time::Duration::seconds(3) {
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let second = time::Duration::seconds(1);
    pki.crl_dated(t + second, t + second + second, "late.crl");
    let late = pki.path("late.crl");
    let late = late.to_str().unwrap();
    // It speaks for the timestamp's time...
    let out = verify_with(&pki, &stamped, &["ca.pem"], &["--crl", late]);
    assert_exit(&out, 0);
    let r = verdict(&out)["x509_revocation"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(r.starts_with("checked (CN=P-256 signer)"), "{r}");
    // ...but not for now, which a signature without a timestamp is checked at.
    let p = problem(&verify_with(&pki, &plain, &["ca.pem"], &["--crl", late]));
    assert!(
        p.contains("revocation data") && p.contains("unknown"),
        "{p}"
    );
    // A CRL dated tomorrow is refused.
    let now = time::OffsetDateTime::now_utc();
    pki.crl_dated(
        now + time::Duration::days(1),
        now + time::Duration::days(2),
        "future.crl",
    );
    let p = problem(&verify_with(
        &pki,
        &plain,
        &["ca.pem"],
        &["--crl", pki.path("future.crl").to_str().unwrap()],
    ));
    assert!(p.contains("in the future"), "{p}");
}

#[test]
fn a_timestamp_goes_into_what_openssl_signs_too() {
    let pki = Pki::new();
    let (dir, json) = example_certificate();
    openssl_signs(&pki, &json, "rsa");
    assert_exit(
        &run(massho()
            .args(["cert", "timestamp-request", "--x509"])
            .arg(&json)),
        0,
    );
    let tsr = dir.path().join("reply.tsr");
    pki.openssl(&format!(
        "ts -reply -config openssl.cnf -section tsa_trusted -queryfile {}.p7s.tsq -out {}",
        json.display(),
        tsr.display()
    ));
    assert_exit(
        &run(massho()
            .args(["cert", "timestamp-attach", "--x509"])
            .arg(&json)
            .arg(&tsr)),
        0,
    );
    assert!(openssl_sees_timestamp(&pki, &json));
    assert!(openssl_verifies(&pki, &json, "ca.pem").status.success());
    let out = verify_with(&pki, &json, &["ca.pem"], &[]);
    assert_exit(&out, 0);
    assert_eq!(verdict(&out)["x509_tsa"], "CN=massho test TSA");
}

/// Attack: the TSA's key is compromised and its certificate revoked; the thief writes tokens
/// with a genTime before the revocation. The genTime is only the TSA's word, so a revocation of
/// the TSA, whatever its date, refuses the token (unlike a signer revoked after a verified
/// timestamp). Before the fix, the token's own time excused the TSA's revocation.
#[test]
fn a_revoked_tsa_is_refused_even_when_revoked_after_its_own_gen_time() {
    let pki = Pki::new();
    let url = tsa::serve_http(pki.dir.path(), "tsa_trusted", false);
    let (_d, json) = example_certificate();
    assert_exit(
        &sign_x509_with(&pki, &json, "ec-bundle.pem", false, &["--tsa-url", &url]),
        0,
    );
    // The root's CRL, revoking nothing yet: the TSA is checked and good.
    pki.crls();
    let out = verify_with(
        &pki,
        &json,
        &["ca.pem"],
        &["--crl", pki.path("ca.crl").to_str().unwrap()],
    );
    assert_exit(&out, 0);
    // Revoked strictly after the token's second, in the root's database.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    pki.openssl(
        "ca -batch -config openssl.cnf -name root_ca -revoke tsa.pem -crl_reason keyCompromise",
    );
    pki.openssl("ca -batch -config openssl.cnf -name root_ca -gencrl -crldays 1 -out ca.crl");
    let p = problem(&verify_with(
        &pki,
        &json,
        &["ca.pem"],
        &["--crl", pki.path("ca.crl").to_str().unwrap()],
    ));
    assert!(
        p.contains("CN=massho test TSA") && p.contains("revoked"),
        "{p}"
    );
    assert!(
        p.contains("cannot show its tokens predate") && !p.contains("the signature has no"),
        "{p}"
    );
    // Trusting the revoked TSA's certificate directly does not un-revoke it: with --tsa-cert,
    // or given among the --ca files, the root's CRL still speaks for it.
    let p = problem(&verify_with(
        &pki,
        &json,
        &["ca.pem"],
        &[
            "--crl",
            pki.path("ca.crl").to_str().unwrap(),
            "--tsa-cert",
            pki.path("tsa.pem").to_str().unwrap(),
        ],
    ));
    assert!(
        p.contains("CN=massho test TSA") && p.contains("revoked"),
        "{p}"
    );
    let p = problem(&verify_with(
        &pki,
        &json,
        &["ca.pem", "tsa.pem"],
        &["--crl", pki.path("ca.crl").to_str().unwrap()],
    ));
    assert!(
        p.contains("CN=massho test TSA") && p.contains("revoked"),
        "{p}"
    );
}

/// Attack: a TSA certificate the auditor trusts directly (`--tsa-cert`, or among the `--ca`
/// files) signs tokens outside its validity period. Trusted as given does not mean valid at any
/// time: refused however the certificate is trusted (this held before the review too).
#[test]
fn a_directly_trusted_tsa_certificate_must_be_valid_at_the_tokens_time() {
    let pki = Pki::new();
    // The TSA's certificate replaced by one for the same key that expired in 2020.
    pki.openssl(
        "ca -batch -config openssl.cnf -name root_ca -notext -startdate 20200101000000Z \
         -enddate 20200201000000Z -extfile openssl.cnf -extensions tsa_ext -in tsa.csr -out tsa.pem",
    );
    let url = tsa::serve_http(pki.dir.path(), "tsa_trusted", false);
    let (_d, json) = example_certificate();
    let out = sign_x509_with(&pki, &json, "ec-bundle.pem", false, &["--tsa-url", &url]);
    if out.status.success() {
        // Chained to the root: the path is checked at the token's time and refused.
        let p = problem(&verify_with(&pki, &json, &["ca.pem"], &[]));
        assert!(p.contains("outside the TSA certificate's validity"), "{p}");
        // Given itself, with --tsa-cert or as a CA file: still refused.
        let p = problem(&verify_with(
            &pki,
            &json,
            &["ca.pem"],
            &["--tsa-cert", pki.path("tsa.pem").to_str().unwrap()],
        ));
        assert!(p.contains("outside the TSA certificate's validity"), "{p}");
        let p = problem(&verify_with(&pki, &json, &["ca.pem", "tsa.pem"], &[]));
        assert!(p.contains("outside the TSA certificate's validity"), "{p}");
    } else {
        // massho refused the token when signing: nothing expired was accepted.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("validity"), "{err}");
    }
}

/// Attacks with crafted issuers, each refused: a contractor's own (non-CA) signing certificate
/// issuing a certificate for a second key, and a CRL that is named after the intermediate but
/// signed by an impostor's key (the impostor CA has the intermediate's exact name), which a
/// revoked contractor would slip in to look unrevoked.
#[test]
fn a_path_through_a_non_ca_and_a_crl_from_a_namesake_ca_are_refused() {
    let pki = Pki::new();
    // The P-256 signer (CA:false, no keyCertSign) issues a certificate for the encipher key.
    pki.openssl(
        "req -new -key encipher.key -out sub.csr -subj /CN=sub\\ signer -config openssl.cnf",
    );
    pki.openssl(
        "x509 -req -in sub.csr -CA ec.pem -CAkey ec.key -CAcreateserial -out sub.pem -days 30 \
         -extfile openssl.cnf -extensions signer_ext",
    );
    pki.write("sub.key", &pki.read("encipher.key"));
    pki.concat_pub("chain.pem", &["ec.pem", "inter.pem"]);
    let (_d, json) = example_certificate();
    pki.openssl(&format!(
        "cms -sign -binary -md sha256 -cades -outform DER -signer sub.pem -inkey sub.key \
         -certfile chain.pem -in {} -out {}",
        json.display(),
        p7s_of(&json).display()
    ));
    let p = problem(&verify_with(&pki, &json, &["ca.pem"], &[]));
    assert!(
        p.contains("not a CA") && p.contains("CN=P-256 signer"),
        "{p}"
    );

    // The impostor: a self-made CA named exactly like the intermediate, and its CRL (from the
    // intermediate's database before any revocation, so it lists nobody).
    pki.openssl(
        "req -x509 -new -newkey rsa:2048 -nodes -keyout fake.key \
         -out fake.pem -days 30 -subj /CN=massho\\ test\\ intermediate -config openssl.cnf \
         -extensions inter_ext",
    );
    pki.openssl(
        "ca -batch -config openssl.cnf -gencrl -crldays 1 -cert fake.pem -keyfile fake.key -out fake.crl",
    );
    let (_d2, signed) = example_certificate();
    assert_exit(&sign_x509(&pki, &signed, "revoked-bundle.pem", false), 0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    pki.revoke("revoked");
    pki.crls();
    // The genuine CRL: REVOKED.
    let p = problem(&verify_with(
        &pki,
        &signed,
        &["ca.pem"],
        &["--crl", pki.path("inter.crl").to_str().unwrap()],
    ));
    assert!(p.contains("REVOKED"), "{p}");
    // The namesake's CRL alone, or beside the genuine one: refused, never taken as "not listed".
    for crls in [
        &["fake.crl"][..],
        &["fake.crl", "inter.crl"],
        &["inter.crl", "fake.crl"],
    ] {
        let mut args = Vec::new();
        for c in crls {
            args.push("--crl".to_owned());
            args.push(pki.path(c).to_str().unwrap().to_owned());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let p = problem(&verify_with(&pki, &signed, &["ca.pem"], &args));
        assert!(p.contains("not signed by that CA's key"), "{p}");
    }
}

/// `p7s` with its SignerInfo's unsigned attributes replaced by one signature-timestamp
/// attribute holding `tokens` (as a forger with a hex editor would splice them in).
fn with_tokens(p7s: &[u8], tokens: &[&[u8]]) -> Vec<u8> {
    use der::{Decode, Encode};
    let info = cms::content_info::ContentInfo::from_der(p7s).unwrap();
    let mut sd: cms::signed_data::SignedData = info.content.decode_as().unwrap();
    let mut signers: Vec<cms::signed_data::SignerInfo> =
        sd.signer_infos.0.iter().cloned().collect();
    let values: Vec<der::Any> = tokens
        .iter()
        .map(|t| der::Any::from_der(t).unwrap())
        .collect();
    let attr = x509_cert::attr::Attribute {
        oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14"),
        values: der::asn1::SetOfVec::try_from(values).unwrap(),
    };
    signers[0].unsigned_attrs = Some(der::asn1::SetOfVec::try_from(vec![attr]).unwrap());
    sd.signer_infos =
        cms::signed_data::SignerInfos(der::asn1::SetOfVec::try_from(signers).unwrap());
    let info = cms::content_info::ContentInfo {
        content_type: info.content_type,
        content: der::Any::encode_from(&sd).unwrap(),
    };
    info.to_der().unwrap()
}

/// Attacks on the signature timestamp of a `.p7s`: a genuine token of the trusted TSA taken from
/// another signature (over the same document, by another key), and two tokens where massho checks
/// one. A revoked contractor would use the first to backdate a signature made after the
/// revocation. Both are refused, and the untouched `.p7s` still verifies.
#[test]
fn a_token_for_another_signature_or_two_tokens_are_refused() {
    let pki = Pki::new();
    let url = tsa::serve_http(pki.dir.path(), "tsa_trusted", false);
    let (_d1, early) = example_certificate();
    assert_exit(
        &sign_x509_with(&pki, &early, "ec-bundle.pem", false, &["--tsa-url", &url]),
        0,
    );
    let early_token =
        massho::x509::signature_timestamp_tokens(&std::fs::read(p7s_of(&early)).unwrap())
            .unwrap()
            .remove(0);
    // The same document signed with the other key: another signature value. (massho's ECDSA is
    // deterministic, so the same key over the same bytes would give the same value, which the
    // early token then rightly stamps.)
    let (_d2, late) = copy_of(&early);
    assert_exit(
        &sign_x509_with(&pki, &late, "rsa.p12", true, &["--tsa-url", &url]),
        0,
    );
    let late_p7s = std::fs::read(p7s_of(&late)).unwrap();
    let late_token = massho::x509::signature_timestamp_tokens(&late_p7s)
        .unwrap()
        .remove(0);
    assert_ne!(early_token, late_token);
    // Re-encoding with the token it had changes nothing that matters: it still verifies.
    std::fs::write(p7s_of(&late), with_tokens(&late_p7s, &[&late_token])).unwrap();
    assert_exit(&verify_with(&pki, &late, &["ca.pem"], &[]), 0);

    std::fs::write(p7s_of(&late), with_tokens(&late_p7s, &[&early_token])).unwrap();
    let p = problem(&verify_with(&pki, &late, &["ca.pem"], &[]));
    assert!(p.contains("not this signature"), "{p}");

    std::fs::write(
        p7s_of(&late),
        with_tokens(&late_p7s, &[&late_token, &early_token]),
    )
    .unwrap();
    let p = problem(&verify_with(&pki, &late, &["ca.pem"], &[]));
    assert!(
        p.contains("signature timestamps") || p.contains("one value"),
        "{p}"
    );
}

/// Attack: a contractor's key is stolen and the certificate revoked, then it expires; CAs drop
/// expired certificates from their CRLs (RFC 5280 §3.3). A signature timestamped while the
/// certificate was valid is shown with a CRL issued after the expiry, which no longer lists
/// it. Such a CRL proves nothing about the certificate: the status is unknown, refused (before
/// the fix it was taken as "checked, not revoked"). A CRL issued while the certificate was valid
/// still speaks for it.
#[test]
fn a_crl_issued_after_the_signer_expired_says_nothing_about_it() {
    let pki = Pki::new();
    let url = tsa::serve_http(pki.dir.path(), "tsa_trusted", false);
    let not_after = pki.short_lived("brief", 20);
    let (_d, stamped) = example_certificate();
    assert_exit(
        &sign_x509_with(
            &pki,
            &stamped,
            "brief-bundle.pem",
            false,
            &["--tsa-url", &url],
        ),
        0,
    );
    // A CRL from while it was valid (after the timestamp).
    pki.crls();
    let out = verify_with(
        &pki,
        &stamped,
        &["ca.pem"],
        &["--crl", pki.path("inter.crl").to_str().unwrap()],
    );
    assert_exit(&out, 0);
    let stamped_at = verdict(&out)["x509_timestamp"].as_str().unwrap().to_owned();
    let stamped_at =
        time::OffsetDateTime::parse(&stamped_at, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!(
        stamped_at < not_after,
        "the machine was too slow: timestamped at {stamped_at}, after the certificate expired at {not_after}"
    );
    while time::OffsetDateTime::now_utc() <= not_after + time::Duration::seconds(1) {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let now = time::OffsetDateTime::now_utc();
    pki.crl_dated(now, now + time::Duration::days(1), "after.crl");
    let p = problem(&verify_with(
        &pki,
        &stamped,
        &["ca.pem"],
        &["--crl", pki.path("after.crl").to_str().unwrap()],
    ));
    assert!(
        p.contains("unknown")
            && p.contains("CN=short-lived signer")
            && p.contains("after it expired"),
        "{p}"
    );
    // The CRL from while it was valid, alone or beside the later one: good.
    for more in [
        vec!["--crl", pki.path("inter.crl").to_str().unwrap()],
        vec![
            "--crl",
            pki.path("inter.crl").to_str().unwrap(),
            "--crl",
            pki.path("after.crl").to_str().unwrap(),
        ],
    ] {
        let out = verify_with(&pki, &stamped, &["ca.pem"], &more);
        assert_exit(&out, 0);
    }
}

/// Attack: a certificate whose validity starts tomorrow signs today (OpenSSL does not stop it),
/// and the trusted TSA stamps the signature today. The path is checked at the timestamp's time,
/// when the certificate was not yet valid: refused, naming it.
#[test]
fn a_signer_valid_only_after_its_timestamp_is_refused() {
    let pki = Pki::new();
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    pki.openssl(
        "req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout future.key \
         -out future.csr -subj /CN=future\\ signer -config openssl.cnf",
    );
    pki.openssl(&format!(
        "ca -batch -config openssl.cnf -notext -startdate {} -enddate {} -extfile openssl.cnf \
         -extensions signer_ext -in future.csr -out future.pem",
        (now + time::Duration::days(1)).format(&fmt).unwrap(),
        (now + time::Duration::days(30)).format(&fmt).unwrap()
    ));
    let (dir, json) = example_certificate();
    openssl_signs(&pki, &json, "future");
    let out = run(massho()
        .args(["cert", "timestamp-request", "--x509"])
        .arg(&json));
    assert_exit(&out, 0);
    let tsq = PathBuf::from(format!("{}.tsq", p7s_of(&json).display()));
    let tsr = dir.path().join("reply.tsr");
    pki.openssl(&format!(
        "ts -reply -config openssl.cnf -section tsa_trusted -queryfile {} -out {}",
        tsq.display(),
        tsr.display()
    ));
    assert_exit(
        &run(massho()
            .args(["cert", "timestamp-attach", "--x509"])
            .arg(&json)
            .arg(&tsr)),
        0,
    );
    let p = problem(&verify_with(&pki, &json, &["ca.pem"], &[]));
    assert!(
        p.contains("CN=future signer") && p.contains("not valid before"),
        "{p}"
    );
}
