//! Evidence from outside in the media ledger, end to end through the `massho` binary: a
//! contractor's `.p7s`-signed certificate (made by real `openssl cms -sign -cades` under a real
//! openssl PKI) and an unsigned scan stored; a store file altered and one deleted afterwards,
//! named by `ledger verify`; a forged evidence row caught; a disposal refused without the
//! evidence the policy demands; and archive timestamps answered by OpenSSL's TSA
//! (`openssl ts -reply`), which `openssl ts -verify` accepts over the message massho prints.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::pki::Pki;
use common::tsa::Tsa;
use common::{assert_exit, describe_output, keypair, massho, run};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A scratch ledger in its own directory.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().unwrap(),
        };
        s.ok(&["ledger", "init"]);
        s
    }

    fn ledger(&self) -> PathBuf {
        self.dir.path().join("ledger.sqlite")
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        fs::write(&p, bytes).unwrap();
        p
    }

    fn m(&self, args: &[&str]) -> Output {
        run(massho()
            .args(args)
            .arg("--ledger")
            .arg(self.ledger())
            .env("USER", "tester")
            .env_remove("SUDO_USER"))
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

    fn events(&self) -> u64 {
        self.json(&["ledger", "verify"])["events"].as_u64().unwrap()
    }

    /// Where the store keeps a file with this content.
    fn stored(&self, bytes: &[u8]) -> PathBuf {
        let sha = hex::encode(Sha256::digest(bytes));
        self.dir
            .path()
            .join("ledger.sqlite.evidence/sha256")
            .join(&sha[..2])
            .join(sha)
    }

    fn sql(&self, sql: &str) {
        let out = run(Command::new("sqlite3").arg(self.ledger()).arg(sql));
        assert!(
            out.status.success(),
            "sqlite3 {sql}: {}",
            describe_output(&out)
        );
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A contractor's certificate signed by the PKI's RSA signer: a detached CAdES `.p7s` made by
/// OpenSSL, with the intermediate included.
fn contractor_certificate(pki: &Pki, s: &Scratch, name: &str, body: &[u8]) -> PathBuf {
    let doc = s.file(name, body);
    let p7s = PathBuf::from(format!("{}.p7s", doc.display()));
    let out = pki.openssl_status(
        &format!(
            "cms -sign -cades -binary -md sha256 -in {} -signer rsa.pem -inkey rsa.key -certfile inter.pem -outform DER -out {}",
            doc.display(),
            p7s.display()
        ),
        pki.dir.path(),
    );
    assert!(
        out.status.success(),
        "openssl cms -sign: {}",
        describe_output(&out)
    );
    doc
}

fn make_writable(p: &Path) {
    fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn a_signed_certificate_and_an_unsigned_scan_are_kept_and_verify_names_altered_and_missing_files() {
    let pki = Pki::new();
    let s = Scratch::new();
    s.ok(&[
        "media", "register", "HDD-1", "--kind", "hdd", "--serial", "S-1",
    ]);
    let body = "消去証明書 HDD-1 S-1: 3-pass overwrite, verified.\n".as_bytes();
    let doc = contractor_certificate(&pki, &s, "erasure-certificate.txt", body);
    let ca = pki.path("ca.pem");
    let ca = ca.to_str().unwrap();
    let doc_arg = doc.to_str().unwrap();

    // Signed, but no CA to check it against: a usage error, nothing stored or recorded.
    let out = s.m(&[
        "media",
        "evidence",
        "HDD-1",
        doc_arg,
        "--kind",
        "contractor-certificate",
    ]);
    assert_exit(&out, 2);
    assert!(text(&out).contains("--ca"), "{}", text(&out));
    // Checked against someone else's root: refused, nothing recorded or stored.
    let other = pki.path("other-ca.pem");
    let out = s.m(&[
        "media",
        "evidence",
        "HDD-1",
        doc_arg,
        "--kind",
        "contractor-certificate",
        "--ca",
        other.to_str().unwrap(),
    ]);
    assert_exit(&out, 3);
    assert!(
        text(&out).contains("nothing was recorded"),
        "{}",
        text(&out)
    );
    assert_eq!(s.events(), 1);
    assert!(!s.stored(body).exists());
    // A document changed after it was signed: refused as tampered.
    let forged = s.file("forged.txt", b"not what the contractor signed\n");
    fs::copy(
        format!("{doc_arg}.p7s"),
        format!("{}.p7s", forged.display()),
    )
    .unwrap();
    let out = s.m(&[
        "media",
        "evidence",
        "HDD-1",
        forged.to_str().unwrap(),
        "--kind",
        "contractor-certificate",
        "--ca",
        ca,
    ]);
    assert_exit(&out, 3);
    assert!(text(&out).contains("TAMPERED"), "{}", text(&out));

    // The real thing: verified against the root, the anchor and the .p7s kept with it.
    let out = s.ok(&[
        "media",
        "evidence",
        "HDD-1",
        doc_arg,
        "--kind",
        "contractor-certificate",
        "--ca",
        ca,
        "--note",
        "handed over by the contractor",
    ]);
    assert!(out.contains("signer CN=RSA signer"), "{out}");
    let scan = b"\xff\xd8\xff\xe0 a JPEG scan of the destruction\n";
    let scan_path = s.file("destruction.jpg", scan);
    let out = s.ok(&[
        "media",
        "evidence",
        "HDD-1",
        scan_path.to_str().unwrap(),
        "--kind",
        "destruction-photo",
    ]);
    assert!(out.contains("unsigned"), "{out}");

    let shown = s.json(&["media", "show", "HDD-1"]);
    assert_eq!(
        shown["medium"]["evidence"],
        serde_json::json!(["contractor-certificate", "destruction-photo"])
    );
    let events = shown["events"].as_array().unwrap();
    let signed = events
        .iter()
        .find(|e| e["kind"] == "evidence_added" && e["evidence_kind"] == "contractor-certificate")
        .expect("the evidence event");
    assert_eq!(signed["sha256"], hex::encode(Sha256::digest(body)));
    assert_eq!(signed["size"], body.len() as u64);
    assert_eq!(signed["file_name"], "erasure-certificate.txt");
    let sig = &signed["signature"];
    assert_eq!(sig["outcome"], "verified");
    assert_eq!(sig["signer"], "CN=RSA signer");
    assert_eq!(
        sig["path"],
        serde_json::json!([
            "CN=RSA signer",
            "CN=massho test intermediate",
            "CN=massho test root"
        ])
    );
    // OpenSSL writes a signingTime; it is recorded as the signer's claim.
    assert!(
        sig["signing_time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{sig}"
    );
    // The validation data is in the store: the .p7s as received, the root as DER.
    let p7s = fs::read(format!("{doc_arg}.p7s")).unwrap();
    assert_eq!(sig["signature_sha256"], hex::encode(Sha256::digest(&p7s)));
    let root_der = pki.openssl_status("x509 -in ca.pem -outform DER", pki.dir.path());
    assert!(root_der.status.success());
    let root_der = root_der.stdout;
    assert_eq!(
        sig["trust_anchors_sha256"],
        serde_json::json!([hex::encode(Sha256::digest(&root_der))])
    );
    for bytes in [body, &p7s[..], &root_der[..], &scan[..]] {
        let p = s.stored(bytes);
        assert_eq!(fs::read(&p).unwrap(), bytes, "{}", p.display());
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o444
        );
    }
    let unsigned = events
        .iter()
        .find(|e| e["evidence_kind"] == "destruction-photo")
        .unwrap();
    assert_eq!(unsigned["signature"]["outcome"], "unsigned");
    let human = s.ok(&["media", "show", "HDD-1"]);
    assert!(human.contains("evidence contractor-certificate"), "{human}");
    assert!(
        human.contains(&s.stored(scan).display().to_string()),
        "{human}"
    );

    let out = s.ok(&["ledger", "verify"]);
    assert!(
        out.contains("evidence: 2 document(s), 4 store file(s) re-hashed"),
        "{out}"
    );

    // Altered afterwards: named with its medium, kind, path and the hash the ledger expects.
    let scan_stored = s.stored(scan);
    make_writable(&scan_stored);
    fs::write(&scan_stored, b"another picture").unwrap();
    // Deleted afterwards.
    fs::remove_file(s.stored(&p7s)).unwrap();
    let out = s.m(&["ledger", "verify"]);
    assert_exit(&out, 1);
    let t = text(&out);
    let altered = format!(
        "medium HDD-1: evidence destruction-photo \"destruction.jpg\" (event 3): its file {} was ALTERED",
        scan_stored.display()
    );
    assert!(t.contains(&altered), "{t}");
    assert!(
        t.contains(&format!(
            "the ledger recorded {}",
            hex::encode(Sha256::digest(scan))
        )),
        "{t}"
    );
    let missing = format!(
        "medium HDD-1: evidence contractor-certificate \"erasure-certificate.txt\" (event 2): its signature {} is MISSING (expected SHA-256 {})",
        s.stored(&p7s).display(),
        hex::encode(Sha256::digest(&p7s))
    );
    assert!(t.contains(&missing), "{t}");
    let v = s.m(&["ledger", "verify", "--json"]);
    assert_exit(&v, 1);
    let v: Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(
        v["evidence"]["problems"].as_array().unwrap().len(),
        2,
        "{v}"
    );

    // Put back, all is well again; a stray file (an interrupted recording) is only noted.
    fs::remove_file(&scan_stored).unwrap();
    fs::write(&scan_stored, scan).unwrap();
    fs::write(s.stored(&p7s), &p7s).unwrap();
    let stray = s.stored(b"stored, then the power went out");
    fs::create_dir_all(stray.parent().unwrap()).unwrap();
    fs::write(&stray, b"stored, then the power went out").unwrap();
    let out = s.ok(&["ledger", "verify"]);
    assert!(
        out.contains(&format!(
            "note: evidence store file {} is named by no event",
            stray.display()
        )),
        "{out}"
    );
}

/// A PAdES-signed PDF as a contractor's tool would send it: the shipped example certificate
/// rendered and signed by `massho cert render --x509-key` with the PKI's P-256 signer.
fn signed_pdf(pki: &Pki, s: &Scratch) -> PathBuf {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/examples");
    let json = fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let copy = s.dir.path().join(json.file_name().unwrap());
    fs::copy(&json, &copy).unwrap();
    let pdf = s.dir.path().join("contractor-certificate.pdf");
    let out = run(massho()
        .args(["cert", "render", "--format", "pdf", "--x509-key"])
        .arg(pki.path("ec-bundle.pem"))
        .arg("-o")
        .arg(&pdf)
        .arg(&copy));
    assert_exit(&out, 0);
    pdf
}

#[test]
fn a_signed_pdf_is_verified_and_one_changed_after_signing_is_refused() {
    let pki = Pki::new();
    let s = Scratch::new();
    s.ok(&["media", "register", "USB-1", "--kind", "usb-flash"]);
    let pdf = signed_pdf(&pki, &s);
    let ca = pki.path("ca.pem");
    let (pdf_arg, ca_arg) = (pdf.to_str().unwrap(), ca.to_str().unwrap());
    let out = s.m(&[
        "media",
        "evidence",
        "USB-1",
        pdf_arg,
        "--kind",
        "contractor-certificate",
    ]);
    assert_exit(&out, 2);
    assert!(text(&out).contains("is a signed PDF"), "{}", text(&out));

    // One byte changed inside the signed range: refused, nothing recorded.
    let mut bytes = fs::read(&pdf).unwrap();
    let at = bytes
        .windows(7)
        .position(|w| w == b"/Author")
        .unwrap_or(200);
    bytes[at + 1] ^= 0x20;
    let changed = s.file("changed.pdf", &bytes);
    let out = s.m(&[
        "media",
        "evidence",
        "USB-1",
        changed.to_str().unwrap(),
        "--kind",
        "contractor-certificate",
        "--ca",
        ca_arg,
    ]);
    assert_exit(&out, 3);
    assert!(text(&out).contains("does not check out"), "{}", text(&out));
    assert_eq!(s.events(), 1);

    let out = s.ok(&[
        "media",
        "evidence",
        "USB-1",
        pdf_arg,
        "--kind",
        "contractor-certificate",
        "--ca",
        ca_arg,
    ]);
    assert!(out.contains("signature (pdf) verified"), "{out}");
    let shown = s.json(&["media", "show", "USB-1"]);
    let sig = &shown["events"][1]["signature"];
    assert_eq!(sig["outcome"], "verified", "{sig}");
    assert_eq!(sig["format"], "pdf");
    assert_eq!(sig["signer"], "CN=P-256 signer");
    let root_der = pki.openssl_status("x509 -in ca.pem -outform DER", pki.dir.path());
    assert_eq!(
        sig["trust_anchors_sha256"],
        serde_json::json!([hex::encode(Sha256::digest(&root_der.stdout))])
    );
    assert!(s.stored(&root_der.stdout).exists());
    assert_eq!(
        fs::read(s.stored(&fs::read(&pdf).unwrap())).unwrap(),
        fs::read(&pdf).unwrap()
    );
    s.ok(&["ledger", "verify"]);
}

#[test]
fn forged_evidence_rows_and_store_names_are_caught() {
    let s = Scratch::new();
    s.ok(&["media", "register", "HDD-1", "--kind", "hdd"]);
    let scan = s.file("scan.png", b"PNG scan");
    s.ok(&[
        "media",
        "evidence",
        "HDD-1",
        scan.to_str().unwrap(),
        "--kind",
        "other",
    ]);
    s.ok(&["ledger", "verify"]);
    let good = fs::read(s.ledger()).unwrap();

    // An evidence event inserted by hand after the head, pointing at a file an insider put
    // into the store: its hash cannot be made without rewriting the chain.
    let planted = b"a certificate nobody issued";
    let planted_path = s.stored(planted);
    fs::create_dir_all(planted_path.parent().unwrap()).unwrap();
    fs::write(&planted_path, planted).unwrap();
    let sha = hex::encode(Sha256::digest(planted));
    let body = format!(
        r#"{{"v":1,"seq":3,"time":"2026-12-01T00:00:00Z","offset":"+09:00","actor":"insider","medium":"HDD-1","kind":"evidence_added","evidence_kind":"contractor-certificate","sha256":"{sha}","size":27,"file_name":"c.pdf","signature":{{"outcome":"unsigned"}}}}"#
    );
    s.sql(&format!(
        "INSERT INTO events (seq, time, kind, medium, cabinet, body, prev, hash) \
         SELECT 3, '2026-12-01T00:00:00Z', 'evidence_added', 'HDD-1', NULL, '{body}', hash, '{}' FROM events WHERE seq = 2",
        "ab".repeat(32)
    ));
    let out = s.m(&["ledger", "verify"]);
    assert_exit(&out, 1);
    assert!(
        text(&out).contains("event 3: its content does not match its hash"),
        "{}",
        text(&out)
    );

    // An existing evidence row edited to name another file: the same.
    fs::write(s.ledger(), &good).unwrap();
    s.sql(&format!(
        "UPDATE events SET body = replace(body, '{}', '{sha}') WHERE seq = 2",
        hex::encode(Sha256::digest(b"PNG scan"))
    ));
    let out = s.m(&["ledger", "verify"]);
    assert_exit(&out, 1);
    assert!(
        text(&out).contains("event 2: its content does not match its hash"),
        "{}",
        text(&out)
    );
}

#[test]
fn disposal_is_refused_without_the_evidence_the_policy_demands() {
    let s = Scratch::new();
    for tag in ["HDD-1", "HDD-2", "HDD-3"] {
        s.ok(&["media", "register", tag, "--kind", "hdd"]);
    }
    s.ok(&[
        "ledger",
        "policy",
        "--require",
        "destroyed=destruction-photo",
        "--require-outsourced",
        "dispose=contractor-certificate",
        "--note",
        "Art. 18-4",
    ]);
    let policy = s.ok(&["ledger", "policy"]);
    assert!(
        policy.contains("destroyed needs destruction-photo"),
        "{policy}"
    );
    assert!(
        policy.contains("disposed needs contractor-certificate (when a contractor is named)"),
        "{policy}"
    );

    // No photo: the destruction is refused, exit 3, naming the medium and the remedy.
    let out = s.m(&["media", "destroy", "HDD-1", "--method", "shredding"]);
    assert_exit(&out, 3);
    let t = text(&out);
    assert!(
        t.contains("medium HDD-1: the ledger's evidence policy demands destruction-photo"),
        "{t}"
    );
    assert!(
        t.contains("massho media evidence HDD-1 FILE --kind destruction-photo"),
        "{t}"
    );
    let photo = s.file("photo.jpg", b"JPEG shredded HDD-1");
    s.ok(&[
        "media",
        "evidence",
        "HDD-1",
        photo.to_str().unwrap(),
        "--kind",
        "destruction-photo",
    ]);
    s.ok(&["media", "destroy", "HDD-1", "--method", "shredding"]);

    // An outsourced disposal needs the contractor's certificate; an in-house one does not.
    let out = s.m(&[
        "media",
        "dispose",
        "HDD-1",
        "--method",
        "recycling",
        "--contractor",
        "クリーン処理",
    ]);
    assert_exit(&out, 3);
    assert!(
        text(&out).contains("demands contractor-certificate"),
        "{}",
        text(&out)
    );
    let cert = s.file(
        "contractor.pdf",
        b"%PDF-1.4 unsigned scan of the certificate",
    );
    s.ok(&[
        "media",
        "evidence",
        "HDD-1",
        cert.to_str().unwrap(),
        "--kind",
        "contractor-certificate",
    ]);
    s.ok(&[
        "media",
        "dispose",
        "HDD-1",
        "--method",
        "recycling",
        "--contractor",
        "クリーン処理",
    ]);
    // A lessor's receipt may still arrive after the record closed.
    let receipt = s.file("receipt.pdf", b"receipt");
    s.ok(&[
        "media",
        "evidence",
        "HDD-1",
        receipt.to_str().unwrap(),
        "--kind",
        "lessor-receipt",
    ]);

    // Overridden with a reason, which is stored in the event.
    s.ok(&[
        "media",
        "destroy",
        "HDD-2",
        "--method",
        "degaussing",
        "--force",
        "--reason",
        "photo lost; witness signed",
    ]);
    let shown = s.json(&["media", "show", "HDD-2"]);
    assert_eq!(shown["events"][1]["forced"], "photo lost; witness signed");

    // Dropping the policy is an event too, on the record with who did it.
    s.ok(&["ledger", "policy", "--clear", "--operator", "insider"]);
    s.ok(&["media", "destroy", "HDD-3", "--method", "crushing"]);
    let log = s.ok(&["ledger", "log", "--kind", "evidence_policy"]);
    assert!(log.contains("no evidence required any more"), "{log}");
    assert!(log.contains("insider"), "{log}");
    s.ok(&["ledger", "verify"]);

    // Deleting the policy change from SQLite does not drop it silently: the chain breaks.
    s.sql("DELETE FROM events WHERE kind = 'evidence_policy' AND body LIKE '%insider%'");
    let out = s.m(&["ledger", "verify"]);
    assert_exit(&out, 1);
    assert!(text(&out).contains("is missing"), "{}", text(&out));
}

/// OpenSSL's TSA answers `tsq`, with section `section`; returns the reply's path.
fn tsa_reply(tsa: &Tsa, tsq: &Path, name: &str) -> PathBuf {
    tsa.openssl(&format!(
        "ts -reply -config openssl.cnf -section tsa_rsa -queryfile {} -out {name}",
        tsq.display()
    ));
    tsa.path(name)
}

#[test]
fn archive_timestamps_cover_the_evidence_and_the_chain_and_openssl_agrees() {
    let tsa = Tsa::new();
    let s = Scratch::new();
    s.ok(&["media", "register", "HDD-1", "--kind", "hdd"]);
    let scan = s.file("scan.jpg", b"JPEG destruction photo");
    s.ok(&[
        "media",
        "evidence",
        "HDD-1",
        scan.to_str().unwrap(),
        "--kind",
        "destruction-photo",
    ]);

    // Offline, two steps: the request, then the TSA's reply attached.
    let tsq = s.dir.path().join("archive.tsq");
    s.ok(&["evidence", "timestamp", "--request", tsq.to_str().unwrap()]);
    // Events recorded meanwhile do not stop the reply from finding its place.
    s.ok(&["media", "register", "HDD-2", "--kind", "hdd"]);
    let tsr = tsa_reply(&tsa, &tsq, "archive.tsr");
    let out = s.ok(&["evidence", "timestamp", "--attach", tsr.to_str().unwrap()]);
    assert!(
        out.contains("archive timestamp over events 1–2 and 1 evidence file(s)"),
        "{out}"
    );

    // OpenSSL itself agrees that the token covers the message massho prints for those events.
    let message = s.ok(&["evidence", "message", "--events", "2"]);
    assert!(
        message.starts_with("massho evidence archive v1\nledger "),
        "{message}"
    );
    assert!(message.contains(&format!(
        "evidence {}\n",
        hex::encode(Sha256::digest(b"JPEG destruction photo"))
    )));
    let data = s.file("archive-message.txt", message.as_bytes());
    tsa.openssl(&format!(
        "ts -verify -in {} -data {} -CAfile ca.pem -untrusted tsa-rsa.pem",
        tsr.display(),
        data.display()
    ));

    let tsa_cert = tsa.path("tsa-rsa.pem");
    let out = s.ok(&["ledger", "verify", "--tsa-cert", tsa_cert.to_str().unwrap()]);
    assert!(out.contains("1 archive timestamp(s)"), "{out}");
    let out = s.ok(&["ledger", "verify"]);
    assert!(out.contains("TSA signatures not checked"), "{out}");
    // Another TSA's certificate does not vouch for it.
    let other = tsa.path("tsa-other.pem");
    let out = s.m(&["ledger", "verify", "--tsa-cert", other.to_str().unwrap()]);
    assert_exit(&out, 1);
    assert!(
        text(&out).contains("archive timestamp (event 4) over events 1–2"),
        "{}",
        text(&out)
    );

    // A seal timestamped in the same way: the request covers the chain up to the seal.
    let (key, public) = keypair(s.dir.path(), "station");
    let tsq2 = s.dir.path().join("seal.tsq");
    let out = s.ok(&[
        "ledger",
        "seal",
        "--key",
        key.to_str().unwrap(),
        "--timestamp-request",
        tsq2.to_str().unwrap(),
    ]);
    assert!(
        out.contains("archive timestamp request for events 1–5 (up to this seal)"),
        "{out}"
    );
    let tsr2 = tsa_reply(&tsa, &tsq2, "seal.tsr");
    s.ok(&["evidence", "timestamp", "--attach", tsr2.to_str().unwrap()]);
    // The second message lists the first token among the evidence: renewals cover the old ones.
    let message2 = s.ok(&["evidence", "message", "--events", "5"]);
    assert!(message2.contains(&format!(
        "evidence {}\n",
        hex::encode(Sha256::digest(fs::read(&tsr).unwrap()))
    )));
    s.ok(&["ledger", "seal", "--key", key.to_str().unwrap()]);
    let out = s.ok(&[
        "ledger",
        "verify",
        "--pubkey",
        public.to_str().unwrap(),
        "--tsa-cert",
        tsa_cert.to_str().unwrap(),
    ]);
    assert!(out.contains("2 archive timestamp(s)"), "{out}");

    // A reply for something else is refused, and nothing is recorded.
    let (_, _, foreign) = tsa.stamp("tsa_rsa");
    let foreign_path = s.file("foreign.tsr", &foreign);
    let before = s.events();
    let out = s.m(&[
        "evidence",
        "timestamp",
        "--attach",
        foreign_path.to_str().unwrap(),
    ]);
    assert_exit(&out, 3);
    assert!(
        text(&out).contains("answers no request for this ledger"),
        "{}",
        text(&out)
    );
    assert_eq!(s.events(), before);

    // The token altered in the store: named.
    let stored = s.stored(&fs::read(&tsr).unwrap());
    make_writable(&stored);
    let mut bytes = fs::read(&stored).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&stored, bytes).unwrap();
    let out = s.m(&["ledger", "verify"]);
    assert_exit(&out, 1);
    assert!(
        text(&out).contains(&format!(
            "archive timestamp (event 4) over events 1–2: its token {} was ALTERED",
            stored.display()
        )),
        "{}",
        text(&out)
    );
}

/// A one-thread HTTP TSA in front of OpenSSL's: answers `replies` POSTs with `openssl ts -reply`
/// over the posted request. Returns its URL.
fn http_tsa(tsa: &Tsa, replies: usize) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsa", listener.local_addr().unwrap());
    let dir = tsa.dir.path().to_path_buf();
    let handle = std::thread::spawn(move || {
        for i in 0..replies {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut tsq = vec![0u8; length];
            reader.read_exact(&mut tsq).unwrap();
            let (q, r) = (format!("http-{i}.tsq"), format!("http-{i}.tsr"));
            fs::write(dir.join(&q), &tsq).unwrap();
            let out = Command::new("openssl")
                .args([
                    "ts",
                    "-reply",
                    "-config",
                    "openssl.cnf",
                    "-section",
                    "tsa_rsa",
                ])
                .args(["-queryfile", &q, "-out", &r])
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let body = fs::read(dir.join(&r)).unwrap();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .unwrap();
            stream.write_all(&body).unwrap();
        }
    });
    (url, handle)
}

#[test]
fn archive_timestamps_from_a_tsa_over_http_in_one_step() {
    let tsa = Tsa::new();
    let s = Scratch::new();
    s.ok(&["media", "register", "HDD-1", "--kind", "hdd"]);
    let scan = s.file("scan.jpg", b"JPEG");
    s.ok(&[
        "media",
        "evidence",
        "HDD-1",
        scan.to_str().unwrap(),
        "--kind",
        "destruction-photo",
    ]);
    let (url, server) = http_tsa(&tsa, 2);
    let out = s.ok(&["evidence", "timestamp", "--tsa-url", &url]);
    assert!(out.contains("archive timestamp over events 1–2"), "{out}");
    let (key, public) = keypair(s.dir.path(), "station");
    let out = s.ok(&[
        "ledger",
        "seal",
        "--key",
        key.to_str().unwrap(),
        "--timestamp",
        "--tsa-url",
        &url,
    ]);
    assert!(out.contains("archive timestamp over events 1–4"), "{out}");
    server.join().unwrap();
    // The timestamp after the seal is one more event: seal again so a key's demand is met.
    s.ok(&["ledger", "seal", "--key", key.to_str().unwrap()]);
    let tsa_cert = tsa.path("tsa-rsa.pem");
    let out = s.ok(&[
        "ledger",
        "verify",
        "--pubkey",
        public.to_str().unwrap(),
        "--tsa-cert",
        tsa_cert.to_str().unwrap(),
    ]);
    assert!(out.contains("2 archive timestamp(s)"), "{out}");
}

#[test]
fn a_p7s_with_a_signature_timestamp_records_the_tsas_time() {
    let pki = Pki::new();
    let tsa = Tsa::new();
    let s = Scratch::new();
    s.ok(&["media", "register", "HDD-1", "--kind", "hdd"]);
    let doc = contractor_certificate(&pki, &s, "erasure.txt", b"erased HDD-1\n");
    // CAdES-B-T: the contractor's TSA stamps the signature value (OpenSSL's TSA here).
    let p7s_path = PathBuf::from(format!("{}.p7s", doc.display()));
    let p7s = fs::read(&p7s_path).unwrap();
    let imprint = massho::x509::signature_timestamp_imprint(&p7s).unwrap();
    let (tsq, _) = massho::timestamp::request(&imprint).unwrap();
    let tsq_path = s.file("sig.tsq", &tsq);
    let tsr = tsa_reply(&tsa, &tsq_path, "sig.tsr");
    let stamped = massho::x509::attach_signature_timestamp(&p7s, &fs::read(tsr).unwrap()).unwrap();
    fs::write(&p7s_path, &stamped).unwrap();

    // The TSA must chain to a trusted anchor too: both CAs are given.
    let (ca, tsa_ca) = (pki.path("ca.pem"), tsa.path("ca.pem"));
    let out = s.ok(&[
        "media",
        "evidence",
        "HDD-1",
        doc.to_str().unwrap(),
        "--kind",
        "contractor-certificate",
        "--ca",
        ca.to_str().unwrap(),
        "--ca",
        tsa_ca.to_str().unwrap(),
    ]);
    assert!(out.contains(", timestamped "), "{out}");
    let shown = s.json(&["media", "show", "HDD-1"]);
    let sig = &shown["events"][1]["signature"];
    assert!(
        sig["signature_timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{sig}"
    );
    assert_eq!(
        sig["signature_timestamp_tsa"],
        "CN=massho test TSA RSA,O=massho test"
    );
    assert_eq!(
        sig["signature_sha256"],
        hex::encode(Sha256::digest(&stamped))
    );
    s.ok(&["ledger", "verify"]);
}

/// A signer with --validation-data a CA's CRL: a revoked contractor's certificate is refused as
/// REVOKED (nothing recorded); a good one is recorded with what the CRLs said, and the CRLs the
/// check used are kept in the store beside it.
#[test]
fn a_revoked_contractors_signature_is_refused_and_the_crls_used_are_kept() {
    let pki = Pki::new();
    let s = Scratch::new();
    s.ok(&[
        "media", "register", "HDD-2", "--kind", "hdd", "--serial", "S-2",
    ]);
    pki.revoke("revoked");
    pki.crls();
    let crls: Vec<PathBuf> = ["inter.crl", "ca.crl"]
        .iter()
        .map(|n| pki.path(n))
        .collect();
    let ca = pki.path("ca.pem");
    let ca = ca.to_str().unwrap();

    let body = b"erasure certificate HDD-2 S-2, by a signer revoked since\n";
    let doc = s.file("revoked.txt", body);
    let out = pki.openssl_status(
        &format!(
            "cms -sign -cades -binary -md sha256 -in {} -signer revoked.pem -inkey revoked.key -certfile inter.pem -outform DER -out {}.p7s",
            doc.display(),
            doc.display()
        ),
        pki.dir.path(),
    );
    assert!(out.status.success(), "{}", describe_output(&out));
    let mut args = vec![
        "media",
        "evidence",
        "HDD-2",
        doc.to_str().unwrap(),
        "--kind",
        "contractor-certificate",
        "--ca",
        ca,
    ];
    for c in &crls {
        args.extend(["--crl", c.to_str().unwrap()]);
    }
    let out = s.m(&args);
    assert_exit(&out, 3);
    assert!(text(&out).contains("REVOKED"), "{}", text(&out));
    assert!(!s.stored(body).exists());
    assert_eq!(s.events(), 1);

    // The same CRLs, a signer in good standing: recorded, the CRLs kept as validation data.
    let body = "消去証明書 HDD-2 S-2\n".as_bytes();
    let doc = contractor_certificate(&pki, &s, "good.txt", body);
    let mut args = vec![
        "media",
        "evidence",
        "HDD-2",
        doc.to_str().unwrap(),
        "--kind",
        "contractor-certificate",
        "--ca",
        ca,
        "--validation-data",
    ];
    let dir = s.dir.path().join("collected");
    fs::create_dir(&dir).unwrap();
    for c in &crls {
        fs::copy(c, dir.join(c.file_name().unwrap())).unwrap();
    }
    args.push(dir.to_str().unwrap());
    let out = s.ok(&args);
    assert!(out.contains("revocation: checked"), "{out}");
    for name in ["inter.crl", "ca.crl"] {
        pki.openssl(&format!("crl -in {name} -outform DER -out {name}.der"));
        let der = pki.read(&format!("{name}.der"));
        assert!(s.stored(&der).exists(), "{name} kept in the store");
    }
    let listed = s.ok(&["evidence", "list"]);
    assert!(listed.contains("revocation: checked"), "{listed}");
    // The chain, the state and every stored file check out.
    s.ok(&["ledger", "verify"]);
}

/// Attack: an insider with write access to the store replaces a stored file with something
/// that is not a stored file: a symbolic link to a copy with the same bytes (which the insider
/// can change at any later time), a FIFO (a reader waits for a writer forever), a link to
/// /dev/zero (never ends), a directory. `ledger verify` names each and exits 1; before the
/// review a link to a same-content copy passed as intact, and a FIFO made verify hang.
#[test]
fn a_stored_file_swapped_for_a_link_a_fifo_or_a_directory_is_named_not_followed() {
    let s = Scratch::new();
    s.ok(&["media", "register", "HDD-1", "--kind", "hdd"]);
    let bytes = b"PNG scan of the shredder receipt";
    let scan = s.file("receipt.png", bytes);
    s.ok(&[
        "media",
        "evidence",
        "HDD-1",
        scan.to_str().unwrap(),
        "--kind",
        "other",
    ]);
    s.ok(&["ledger", "verify"]);
    let stored = s.stored(bytes);
    make_writable(&stored);
    fs::remove_file(&stored).unwrap();

    let expect_problem = |what: &str| {
        let out = s.m(&["ledger", "verify"]);
        assert_exit(&out, 1);
        let t = text(&out);
        assert!(
            t.contains("receipt.png") && t.contains("cannot be read") && t.contains(what),
            "{t}"
        );
    };
    std::os::unix::fs::symlink(&scan, &stored).unwrap();
    expect_problem("symbolic link");
    fs::remove_file(&stored).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &stored).unwrap();
    expect_problem("symbolic link");
    fs::remove_file(&stored).unwrap();
    let mkfifo = run(Command::new("mkfifo").arg(&stored));
    assert!(mkfifo.status.success(), "{}", describe_output(&mkfifo));
    expect_problem("not a regular file");
    fs::remove_file(&stored).unwrap();
    fs::create_dir(&stored).unwrap();
    expect_problem("not a regular file");
    // The same bytes put back as a file: intact again.
    fs::remove_dir(&stored).unwrap();
    fs::write(&stored, bytes).unwrap();
    s.ok(&["ledger", "verify"]);
}

/// Attack: replay the TSA's reply for one ledger's archive request into another ledger that
/// records the very same evidence (a second station, or a rebuilt copy of the history). The
/// archive message names the ledger id and the head, so the reply answers no request there:
/// refused (exit 3), nothing recorded; the ledger it was asked for takes it.
#[test]
fn an_archive_reply_for_another_ledger_with_the_same_evidence_is_refused() {
    let tsa = Tsa::new();
    let a = Scratch::new();
    let b = Scratch::new();
    for s in [&a, &b] {
        s.ok(&["media", "register", "HDD-1", "--kind", "hdd"]);
        let scan = s.file("scan.jpg", b"JPEG destruction photo");
        s.ok(&[
            "media",
            "evidence",
            "HDD-1",
            scan.to_str().unwrap(),
            "--kind",
            "destruction-photo",
        ]);
    }
    let tsq = a.dir.path().join("archive.tsq");
    a.ok(&["evidence", "timestamp", "--request", tsq.to_str().unwrap()]);
    let tsr = tsa_reply(&tsa, &tsq, "archive.tsr");
    let before = b.events();
    let out = b.m(&["evidence", "timestamp", "--attach", tsr.to_str().unwrap()]);
    assert_exit(&out, 3);
    assert!(
        text(&out).contains("answers no request for this ledger"),
        "{}",
        text(&out)
    );
    assert_eq!(b.events(), before);
    b.ok(&["ledger", "verify"]);
    a.ok(&["evidence", "timestamp", "--attach", tsr.to_str().unwrap()]);
    a.ok(&["ledger", "verify"]);
}

/// Huge files: evidence larger than the store accepts (a sparse file, so the test costs no
/// disk) is refused before anything is recorded; a stored file an insider grows past that size
/// is named by `ledger verify` without being read to the end.
#[test]
fn huge_evidence_is_refused_and_a_stored_file_grown_huge_is_named() {
    let s = Scratch::new();
    s.ok(&["media", "register", "HDD-1", "--kind", "hdd"]);
    let huge = s.dir.path().join("huge.jpg");
    fs::File::create(&huge)
        .unwrap()
        .set_len((256 << 20) + 1)
        .unwrap();
    let before = s.events();
    let out = s.m(&[
        "media",
        "evidence",
        "HDD-1",
        huge.to_str().unwrap(),
        "--kind",
        "other",
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(s.events(), before);

    let bytes = b"a small scan";
    let scan = s.file("small.png", bytes);
    s.ok(&[
        "media",
        "evidence",
        "HDD-1",
        scan.to_str().unwrap(),
        "--kind",
        "other",
    ]);
    let stored = s.stored(bytes);
    make_writable(&stored);
    fs::OpenOptions::new()
        .write(true)
        .open(&stored)
        .unwrap()
        .set_len(1 << 32)
        .unwrap();
    let out = s.m(&["ledger", "verify"]);
    assert_exit(&out, 1);
    assert!(
        text(&out).contains("small.png") && text(&out).contains("more than evidence may have"),
        "{}",
        text(&out)
    );
}
