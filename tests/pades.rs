//! PAdES-signed PDF certificates against a real peer: `pdfsig` (poppler, NSS) says the signature
//! massho made is valid and, with the test CA in an NSS database made here, trusted; massho's
//! own `cert verify FILE.pdf --ca` agrees. A one-byte change inside the signed range breaks
//! both; bytes appended after the signed range are reported by massho (an update that only adds
//! validation data is allowed and named); a CA that did not issue the signer is refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::pki::Pki;
use common::{assert_exit, describe_output, massho, run};

/// The shipped example certificate, copied into a fresh directory.
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

/// `massho cert render JSON --format pdf --x509-key BUNDLE -o OUT`.
fn render_signed(pki: &Pki, json: &Path, bundle: &str, out: &Path) -> Output {
    run(massho()
        .args(["cert", "render", "--format", "pdf", "--x509-key"])
        .arg(pki.path(bundle))
        .arg("-o")
        .arg(out)
        .arg(json)
        .env("MASSHO_PASSPHRASE_FILE", pki.path("passphrase.txt")))
}

/// A signed PDF of the example certificate by `bundle`, in its own directory.
fn signed_pdf(pki: &Pki, bundle: &str) -> (tempfile::TempDir, PathBuf) {
    let (dir, json) = example_certificate();
    let pdf = dir.path().join("signed.pdf");
    let out = render_signed(pki, &json, bundle, &pdf);
    assert_exit(&out, 0);
    (dir, pdf)
}

fn verify_pdf(pdf: &Path, ca: &Path) -> Output {
    run(massho()
        .args(["cert", "verify", "--json", "--ca"])
        .arg(ca)
        .arg(pdf))
}

fn verdict(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .next()
        .unwrap_or_else(|| panic!("{}", describe_output(out)));
    serde_json::from_str(line).unwrap()
}

/// An NSS database in a temp dir trusting `ca` for signing, as an auditor sets up pdfsig.
fn nss_trusting(ca: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sql:{}", dir.path().display());
    for args in [
        vec!["-N", "-d", &db, "--empty-password"],
        vec!["-A", "-d", &db, "-n", "ca", "-t", "CT,C,C", "-i"],
    ] {
        let mut cmd = Command::new("certutil");
        cmd.args(&args);
        if args[0] == "-A" {
            cmd.arg(ca);
        }
        let out = cmd
            .output()
            .expect("certutil (apt-get install libnss3-tools; see packaging/install-deps.sh)");
        assert!(out.status.success(), "certutil: {}", describe_output(&out));
    }
    dir
}

/// `pdfsig -nssdir sql:DIR FILE`'s report.
fn pdfsig(nss: &Path, pdf: &Path) -> String {
    let out = Command::new("pdfsig")
        .arg("-nssdir")
        .arg(format!("sql:{}", nss.display()))
        .arg(pdf)
        .output()
        .expect("pdfsig (apt-get install poppler-utils)");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The offset of `needle` in `haystack` (first occurrence).
fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(needle)))
}

/// The /ByteRange massho wrote: [0, a, b, c].
fn byte_range(pdf: &[u8]) -> [usize; 4] {
    let at = find(pdf, b"/ByteRange [") + b"/ByteRange [".len();
    let end = at + find(&pdf[at..], b"]");
    let numbers: Vec<usize> = std::str::from_utf8(&pdf[at..end])
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    numbers.try_into().unwrap()
}

#[test]
fn massho_and_pdfsig_accept_what_massho_signs_with_rsa_and_p256_keys() {
    let pki = Pki::new();
    let nss = nss_trusting(&pki.path("ca.pem"));
    for (bundle, signer) in [
        ("rsa.p12", "CN=RSA signer"),
        ("ec-bundle.pem", "CN=P-256 signer"),
    ] {
        let (_dir, pdf) = signed_pdf(&pki, bundle);
        let bytes = std::fs::read(&pdf).unwrap();
        let [zero, a, b, c] = byte_range(&bytes);
        assert_eq!(
            (zero, b + c),
            (0, bytes.len()),
            "{bundle}: the range must end the file"
        );
        assert_eq!(bytes[a], b'<');
        assert_eq!(bytes[b - 1], b'>');

        let out = verify_pdf(&pdf, &pki.path("ca.pem"));
        assert_exit(&out, 0);
        let v = verdict(&out);
        assert_eq!(v["ok"], true);
        let sig = &v["signatures"][0];
        assert_eq!(sig["signer"], signer, "{bundle}");
        assert_eq!(sig["sub_filter"], "ETSI.CAdES.detached");
        assert_eq!(sig["covers_whole_file"], true);
        assert_eq!(sig["signed_bytes"], bytes.len());

        let report = pdfsig(nss.path(), &pdf);
        for wants in [
            "Signature Validation: Signature is Valid.",
            "Certificate Validation: Certificate is Trusted.",
            "Total document signed",
            "Signature Type: ETSI.CAdES.detached",
        ] {
            assert!(report.contains(wants), "{bundle}: pdfsig: {report}");
        }
        let cn = signer.trim_start_matches("CN=");
        assert!(
            report.contains(&format!("Signer Certificate Common Name: {cn}")),
            "{report}"
        );

        // The page itself still reads as the certificate, the signer's name in the field.
        let text = Command::new("pdftotext")
            .arg(&pdf)
            .arg("-")
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&text.stdout).contains("Certificate of Data Sanitization"));
        let widget = find(&bytes, b"/FT /Sig");
        assert!(
            find(&bytes[widget..], b"/AP") < 400,
            "the field has an appearance"
        );
    }
}

#[test]
fn a_one_byte_change_inside_the_signed_range_breaks_massho_and_pdfsig() {
    let pki = Pki::new();
    let nss = nss_trusting(&pki.path("ca.pem"));
    let (dir, pdf) = signed_pdf(&pki, "ec-bundle.pem");
    let original = std::fs::read(&pdf).unwrap();
    let [_, a, b, _] = byte_range(&original);
    // One byte in the document's info (before the signature), one after the /Contents.
    let producer = find(&original, b"(massho ") + 2;
    for at in [producer, b + 1, a / 2] {
        assert!(at < a || at >= b);
        let mut changed = original.clone();
        changed[at] ^= 0x01;
        let path = dir.path().join(format!("changed-{at}.pdf"));
        std::fs::write(&path, &changed).unwrap();

        let out = verify_pdf(&path, &pki.path("ca.pem"));
        assert_exit(&out, 1);
        let problem = verdict(&out)["problem"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            problem.contains("TAMPERED") || problem.contains("/ByteRange"),
            "byte {at}: {problem}"
        );
        let report = pdfsig(nss.path(), &path);
        assert!(
            !report.contains("Signature is Valid."),
            "pdfsig accepted a change at byte {at}: {report}"
        );
    }
    // A change of the signature value itself (the last bytes of the CMS, before its zero
    // padding) is no better.
    let hex_end = a
        + 1
        + original[a + 1..b - 1]
            .iter()
            .rposition(|&h| h != b'0')
            .unwrap();
    let at = hex_end - 4;
    let mut changed = original.clone();
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    let path = dir.path().join("changed-signature.pdf");
    std::fs::write(&path, &changed).unwrap();
    assert_exit(&verify_pdf(&path, &pki.path("ca.pem")), 1);
    assert!(!pdfsig(nss.path(), &path).contains("Signature is Valid."));
}

#[test]
fn bytes_appended_after_the_signed_range_are_reported_unless_they_only_add_validation_data() {
    let pki = Pki::new();
    let (dir, pdf) = signed_pdf(&pki, "ec-bundle.pem");
    let original = std::fs::read(&pdf).unwrap();
    let ca = pki.path("ca.pem");

    // Junk after %%EOF.
    let junk = dir.path().join("junk.pdf");
    std::fs::write(&junk, [&original[..], b"% more\n"].concat()).unwrap();
    let out = verify_pdf(&junk, &ca);
    assert_exit(&out, 1);
    let v = verdict(&out);
    assert!(
        v["problem"]
            .as_str()
            .unwrap_or_default()
            .contains("MODIFIED AFTER SIGNING: 7 bytes"),
        "{v}"
    );
    assert_eq!(v["signatures"][0]["covers_whole_file"], false);
    // The signature itself is still good: the report says so and names the appended bytes.
    assert!(v["signatures"][0]["problem"].is_null(), "{v}");
    assert_eq!(v["signatures"][0]["appended_bytes"], 7);

    // An incremental update that replaces the page (a "shadow" change a reader would show).
    let page = format!(
        "\n6 0 obj\n<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 99 0 R>>\nendobj\n\
         99 0 obj\n<</Length 0>>\nstream\n\nendstream\nendobj\nxref\n0 1\n0000000000 65535 f \n\
         trailer\n<</Size 100 /Root 1 0 R /Prev {}>>\nstartxref\n{}\n%%EOF\n",
        startxref(&original),
        original.len() + 1
    );
    let shadow = dir.path().join("shadow.pdf");
    std::fs::write(&shadow, [&original[..], page.as_bytes()].concat()).unwrap();
    let out = verify_pdf(&shadow, &ca);
    assert_exit(&out, 1);
    let problem = verdict(&out)["problem"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        problem.contains("MODIFIED AFTER SIGNING") && problem.contains("object 6"),
        "{problem}"
    );

    // An update that only adds a DSS (certificates for long-term validation) and a catalog
    // pointing to it, same pages: allowed, and named.
    let cert_der = pki.openssl("x509 -in ca.pem -outform PEM");
    let catalog = catalog_of(&original);
    let dss = format!(
        "\n1 0 obj\n{}\nendobj\n90 0 obj\n<</Type /DSS /Certs [91 0 R]>>\nendobj\n\
         91 0 obj\n<</Length {}>>\nstream\n{cert_der}\nendstream\nendobj\n\
         xref\n0 1\n0000000000 65535 f \ntrailer\n<</Size 92 /Root 1 0 R /Prev {}>>\n\
         startxref\n{}\n%%EOF\n",
        catalog
            .trim_end()
            .strip_suffix(">>")
            .map(|open| format!("{open} /DSS 90 0 R>>"))
            .unwrap(),
        cert_der.len(),
        startxref(&original),
        original.len() + 1
    );
    let with_dss = dir.path().join("dss.pdf");
    std::fs::write(&with_dss, [&original[..], dss.as_bytes()].concat()).unwrap();
    let out = verify_pdf(&with_dss, &ca);
    assert_exit(&out, 0);
    let v = verdict(&out);
    let appended = v["signatures"][0]["appended"].as_str().unwrap_or_default();
    assert!(
        appended.contains("validation data (DSS)") && appended.contains("(allowed)"),
        "{v}"
    );

    // The same update whose cross-reference also points the page tree (object 2) at another
    // object of the signed revision: a swap of signed objects, refused.
    let elsewhere = find(&original, b"\n3 0 obj") + 1;
    let swapped = dss.replace(
        "xref\n0 1\n0000000000 65535 f \n",
        &format!("xref\n0 1\n0000000000 65535 f \n2 1\n{elsewhere:010} 00000 n \n"),
    );
    assert_ne!(swapped, dss);
    let with_swap = dir.path().join("swap.pdf");
    std::fs::write(&with_swap, [&original[..], swapped.as_bytes()].concat()).unwrap();
    let out = verify_pdf(&with_swap, &ca);
    assert_exit(&out, 1);
    let problem = verdict(&out)["problem"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        problem.contains("cross-reference pointing object 2"),
        "{problem}"
    );

    let text = run(massho()
        .args(["cert", "verify", "--ca"])
        .arg(&ca)
        .arg(&junk));
    assert_exit(&text, 1);
    assert!(String::from_utf8_lossy(&text.stdout).contains("FAIL"));
}

/// The number after the last `startxref`.
fn startxref(pdf: &[u8]) -> usize {
    let at = pdf.windows(9).rposition(|w| w == b"startxref").unwrap();
    std::str::from_utf8(&pdf[at + 9..])
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The catalog dictionary (object 1) as massho wrote it, `<<...>>`.
fn catalog_of(pdf: &[u8]) -> String {
    let at = find(pdf, b"1 0 obj\n") + 8;
    let end = at + find(&pdf[at..], b"\nendobj");
    String::from_utf8_lossy(&pdf[at..end]).into_owned()
}

#[test]
fn a_ca_that_did_not_issue_the_signer_is_refused_by_massho_and_not_trusted_by_pdfsig() {
    let pki = Pki::new();
    let (_dir, pdf) = signed_pdf(&pki, "rsa.p12");
    let out = verify_pdf(&pdf, &pki.path("other-ca.pem"));
    assert_exit(&out, 1);
    let problem = verdict(&out)["problem"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(problem.contains("unknown CA"), "{problem}");

    let nss = nss_trusting(&pki.path("other-ca.pem"));
    let report = pdfsig(nss.path(), &pdf);
    assert!(report.contains("Signature is Valid."), "{report}");
    assert!(!report.contains("Certificate is Trusted."), "{report}");
}

#[test]
fn usage_errors_name_what_is_missing() {
    let pki = Pki::new();
    let (dir, json) = example_certificate();
    let out = run(massho()
        .args(["cert", "render", "--format", "html", "--x509-key"])
        .arg(pki.path("ec-bundle.pem"))
        .arg(&json));
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format pdf"));

    let (_d, pdf) = signed_pdf(&pki, "ec-bundle.pem");
    let out = run(massho()
        .args(["cert", "verify", "--pubkey"])
        .arg(dir.path().join("none.pub"))
        .arg(&pdf));
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ca"));

    // A wrong passphrase writes nothing.
    let out_pdf = dir.path().join("never.pdf");
    let wrong = dir.path().join("wrong.txt");
    std::fs::write(&wrong, "wrong\n").unwrap();
    let out = run(massho()
        .args(["cert", "render", "--format", "pdf", "--x509-key"])
        .arg(pki.path("rsa.p12"))
        .arg("-o")
        .arg(&out_pdf)
        .arg(&json)
        .env("MASSHO_PASSPHRASE_FILE", &wrong));
    assert_exit(&out, 2);
    assert!(!out_pdf.exists());

    // A TSA address massho cannot use is refused before anything is signed; a TSA that does
    // not answer fails the command and writes nothing.
    let render_with_tsa = |url: &str| {
        run(massho()
            .args(["cert", "render", "--format", "pdf", "--x509-key"])
            .arg(pki.path("ec-bundle.pem"))
            .args(["--tsa-url", url, "-o"])
            .arg(&out_pdf)
            .arg(&json))
    };
    let out = render_with_tsa("ftp://tsa.example/");
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tsa-url"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsa", closed.local_addr().unwrap());
    drop(closed);
    let out = render_with_tsa(&url);
    assert!(!out.status.success(), "{}", describe_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("timestamp"),
        "{}",
        describe_output(&out)
    );
    assert!(!out_pdf.exists());
}

/// The test TSA (P-256) over HTTP on 127.0.0.1.
fn http_tsa(tsa: &common::tsa::Tsa) -> String {
    common::tsa::serve_http(tsa.dir.path(), "tsa_ec", false)
}

#[test]
fn a_signature_timestamp_from_a_tsa_makes_it_b_t_and_is_verified() {
    let pki = Pki::new();
    let tsa = common::tsa::Tsa::new();
    let url = http_tsa(&tsa);
    let (dir, json) = example_certificate();
    let pdf = dir.path().join("stamped.pdf");
    let out = run(massho()
        .args(["cert", "render", "--format", "pdf", "--x509-key"])
        .arg(pki.path("ec-bundle.pem"))
        .args(["--tsa-url", &url, "-o"])
        .arg(&pdf)
        .arg(&json));
    assert_exit(&out, 0);

    let out = run(massho()
        .args(["cert", "verify", "--json", "--ca"])
        .arg(pki.path("ca.pem"))
        .arg("--ca")
        .arg(tsa.path("ca.pem"))
        .arg(&pdf));
    assert_exit(&out, 0);
    let v = verdict(&out);
    let stamp = v["signatures"][0]["timestamp"].as_str().unwrap_or_default();
    assert!(stamp.contains("massho test TSA EC"), "{v}");

    // Without the TSA's CA the timestamp is not trusted, and that is said.
    let out = verify_pdf(&pdf, &pki.path("ca.pem"));
    assert_exit(&out, 1);
    let problem = verdict(&out)["problem"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(problem.to_lowercase().contains("timestamp"), "{problem}");

    let nss = nss_trusting(&pki.path("ca.pem"));
    let report = pdfsig(nss.path(), &pdf);
    assert!(report.contains("Signature is Valid."), "{report}");
    assert!(report.contains("Certificate is Trusted."), "{report}");
}

#[test]
fn validation_data_and_a_document_timestamp_make_it_b_lta_and_both_verify() {
    let pki = Pki::new();
    let tsa = common::tsa::Tsa::new();
    let url = http_tsa(&tsa);
    // What an operator collected for long-term validation: the root, and a CRL of the
    // intermediate that issued the signer.
    // A v2 CRL (with an extension), as CAs issue them.
    pki.write(
        "openssl.cnf",
        format!(
            "{}\n[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n",
            common::pki::CONFIG
        )
        .as_bytes(),
    );
    pki.openssl("ca -gencrl -config openssl.cnf -crlexts crl_ext -crldays 7 -out inter.crl");
    let collected = tempfile::tempdir().unwrap();
    for (from, to) in [
        (pki.path("ca.pem"), "ca.pem"),
        (pki.path("inter.crl"), "inter.crl"),
        (tsa.path("ca.pem"), "tsa-ca.pem"),
    ] {
        std::fs::copy(from, collected.path().join(to)).unwrap();
    }
    let (dir, json) = example_certificate();
    let pdf = dir.path().join("lta.pdf");
    let out = run(massho()
        .args(["cert", "render", "--format", "pdf", "--x509-key"])
        .arg(pki.path("rsa.p12"))
        .env("MASSHO_PASSPHRASE_FILE", pki.path("passphrase.txt"))
        .args(["--tsa-url", &url, "--doc-timestamp", "--validation-data"])
        .arg(collected.path())
        .arg("-o")
        .arg(&pdf)
        .arg(&json));
    assert_exit(&out, 0);
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(find(&bytes, b"/Type /DSS") > 0);

    let verify = |file: &Path| {
        run(massho()
            .args(["cert", "verify", "--json", "--ca"])
            .arg(pki.path("ca.pem"))
            .arg("--ca")
            .arg(tsa.path("ca.pem"))
            .arg(file))
    };
    let out = verify(&pdf);
    assert_exit(&out, 0);
    let v = verdict(&out);
    let sigs = v["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 2, "{v}");
    let (signature, document) = (&sigs[0], &sigs[1]);
    assert_eq!(signature["type"], "Sig");
    assert_eq!(signature["covers_whole_file"], false);
    let appended = signature["appended"].as_str().unwrap_or_default();
    for holds in ["validation data (DSS)", "a document timestamp", "(allowed)"] {
        assert!(appended.contains(holds), "{appended}");
    }
    assert!(
        signature["timestamp"]
            .as_str()
            .unwrap_or_default()
            .contains("massho test TSA EC"),
        "{v}"
    );
    // The intermediate's CRL, from the DSS, said the signer is not revoked.
    let revocation = signature["revocation"].as_str().unwrap_or_default();
    assert!(
        revocation.starts_with("checked (CN=RSA signer)")
            && !revocation.contains("no CRL given (CN=RSA signer"),
        "{v}"
    );
    assert_eq!(document["type"], "DocTimeStamp");
    assert_eq!(document["sub_filter"], "ETSI.RFC3161");
    assert_eq!(document["covers_whole_file"], true);
    assert!(document["timestamp"]
        .as_str()
        .unwrap_or_default()
        .contains("massho test TSA EC"));

    // A byte changed in the DSS breaks the document timestamp, not the signature under it.
    let mut changed = bytes.clone();
    let dss = find(&bytes, b"/Type /DSS");
    changed[dss + 7] = b'X';
    let tampered = dir.path().join("tampered.pdf");
    std::fs::write(&tampered, &changed).unwrap();
    let out = verify(&tampered);
    assert_exit(&out, 1);
    let v = verdict(&out);
    assert!(v["signatures"][0]["problem"].is_null(), "{v}");
    assert!(!v["signatures"][1]["problem"].is_null(), "{v}");

    // Bytes after the document timestamp are reported like any others.
    let junk = dir.path().join("junk.pdf");
    std::fs::write(&junk, [&bytes[..], b"%junk\n"].concat()).unwrap();
    let out = verify(&junk);
    assert_exit(&out, 1);
    assert!(verdict(&out)["problem"]
        .as_str()
        .unwrap_or_default()
        .contains("MODIFIED AFTER SIGNING"));

    // pdfsig reads both, and the signature stays valid and trusted under the update.
    let nss = nss_trusting(&pki.path("ca.pem"));
    let report = pdfsig(nss.path(), &pdf);
    eprintln!("{report}");
    assert!(report.contains("Signature #2"), "{report}");
    let first = report.split("Signature #2").next().unwrap_or_default();
    assert!(first.contains("Signature is Valid."), "{report}");
    assert!(first.contains("Certificate is Trusted."), "{report}");
}

/// A stand-in for fuzzing the PDF reader: every truncation step and single-byte change of a
/// real signed PDF is judged (refused, or a signature that does not check out), never a panic
/// and never "ok" unless the change fell outside what a signature covers.
#[test]
fn truncated_and_bit_flipped_signed_pdfs_are_refused_without_panic() {
    let pki = Pki::new();
    let (_dir, pdf) = signed_pdf(&pki, "ec-bundle.pem");
    let bytes = std::fs::read(&pdf).unwrap();
    let [_, a, b, _] = byte_range(&bytes);
    let anchors = massho::x509::TrustAnchors::load(&[pki.path("ca.pem")]).unwrap();
    let none = massho::x509::ValidationData::default();
    let options = massho::x509::VerifyOptions {
        anchors: &anchors,
        at: time::OffsetDateTime::now_utc(),
        tsa_certs: &[],
        validation: &none,
    };
    let judge = |data: &[u8]| massho::pdf::verify_signed_pdf(data, &options);
    assert!(judge(&bytes).unwrap().ok());
    for len in (0..bytes.len()).step_by(997) {
        let verdict = judge(&bytes[..len]);
        assert!(
            verdict.map_or(true, |v| !v.ok()),
            "truncated to {len} and ok"
        );
    }
    for at in (0..bytes.len()).step_by(211) {
        let mut changed = bytes.clone();
        changed[at] ^= 0x20;
        let verdict = judge(&changed);
        // Only /Contents is not signed, and there flipping 0x20 turns a hex digit A-F into
        // a-f: the same signature. Anything else must not pass.
        let same_hex = at > a && at < b && bytes[at].is_ascii_uppercase();
        if let Ok(v) = verdict {
            assert!(!v.ok() || same_hex, "byte {at} changed and still ok");
        }
    }
}

/// `pdf` with an incremental update holding `objects` (number, generation, body), a
/// cross-reference table pointing to exactly those objects and a trailer with `root`.
fn with_update(pdf: &[u8], objects: &[(u32, u16, String)], root: &str) -> Vec<u8> {
    let mut out = pdf.to_vec();
    out.push(b'\n');
    let mut table = String::from("xref\n0 1\n0000000000 65535 f \n");
    for (n, g, body) in objects {
        table.push_str(&format!("{n} 1\n{:010} {g:05} n \n", out.len()));
        out.extend_from_slice(format!("{n} {g} obj\n{body}\nendobj\n").as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!(
            "{table}trailer\n<</Size 200 /Root {root} /Prev {}>>\nstartxref\n{xref}\n%%EOF\n",
            startxref(pdf)
        )
        .as_bytes(),
    );
    out
}

fn stream_object(data: &str) -> String {
    format!("<</Length {}>>\nstream\n{data}\nendstream", data.len())
}

/// The object number in `/key N 0 R` of the first dictionary holding `marker`.
fn object_of(pdf: &[u8], marker: &[u8]) -> (u32, String) {
    let at = find(pdf, marker);
    let start = pdf[..at].windows(4).rposition(|w| w == b"obj\n").unwrap();
    let header_start = pdf[..start].iter().rposition(|b| *b == b'\n').unwrap() + 1;
    let n: u32 = std::str::from_utf8(&pdf[header_start..start])
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let end = start + find(&pdf[start..], b"\nendobj");
    (
        n,
        String::from_utf8_lossy(&pdf[start + 4..end]).into_owned(),
    )
}

/// Shadow and incremental-saving attacks on a massho-signed PDF: updates that a reader would
/// show as different content while each piece looks like validation data, a document
/// timestamp's field or an updated catalog. Every one is "modified after signing".
#[test]
fn updates_that_change_what_is_shown_are_not_taken_for_validation_data() {
    let pki = Pki::new();
    let (_dir, pdf) = signed_pdf(&pki, "ec-bundle.pem");
    let original = std::fs::read(&pdf).unwrap();
    let anchors = massho::x509::TrustAnchors::load(&[pki.path("ca.pem")]).unwrap();
    let none = massho::x509::ValidationData::default();
    let options = massho::x509::VerifyOptions {
        anchors: &anchors,
        at: time::OffsetDateTime::now_utc(),
        tsa_certs: &[],
        validation: &none,
    };
    let judge = |data: &[u8]| massho::pdf::verify_signed_pdf(data, &options).unwrap();
    assert!(judge(&original).ok());
    let (page, page_dict) = object_of(&original, b"/Type /Page\n");
    let contents: u32 = {
        let at = find(page_dict.as_bytes(), b"/Contents ") + 10;
        page_dict[at..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let catalog = catalog_of(&original);
    let catalog_plus = |extra: &str| {
        catalog
            .trim_end()
            .strip_suffix(">>")
            .map(|open| format!("{open} {extra}>>"))
            .unwrap()
    };
    let forged = stream_object("BT /F1 24 Tf 72 700 Td (NOTHING WAS ERASED) Tj ET");
    let new_page = page_dict.replace(
        &format!("/Contents {contents} 0 R"),
        "/Contents 150 0 R /FT /Sig",
    );
    assert_ne!(new_page, page_dict);
    let attacks: Vec<(&str, Vec<u8>)> = vec![
        (
            "the page's content stream redefined (a plain stream, like a DSS certificate)",
            with_update(&original, &[(contents, 0, forged.clone())], "1 0 R"),
        ),
        (
            "the page's content stream redefined with another generation",
            with_update(&original, &[(contents, 1, forged.clone())], "1 0 R"),
        ),
        (
            "the page redefined with /FT /Sig and no /Rect (an 'invisible signature field')",
            with_update(
                &original,
                &[(page, 0, new_page.clone()), (150, 0, forged.clone())],
                "1 0 R",
            ),
        ),
        (
            "the catalog gains an XFA form through /AcroForm",
            with_update(
                &original,
                &[
                    (1, 0, catalog_plus("/AcroForm <</Fields [] /XFA 150 0 R>>")),
                    (150, 0, stream_object("<xdp:xdp/>")),
                ],
                "1 0 R",
            ),
        ),
        (
            "the trailer's /Root moved to a new 'DSS' with an /OpenAction",
            with_update(
                &original,
                &[(
                    150,
                    0,
                    "<</Type /DSS /Pages 2 0 R /OpenAction <</S /JavaScript /JS (app.alert\\(1\\))>>>>"
                        .into(),
                )],
                "150 0 R",
            ),
        ),
        (
            "a new invisible signature field with a JavaScript action, listed in the form",
            with_update(
                &original,
                &[
                    (1, 0, catalog_plus("/AcroForm <</Fields [150 0 R] /SigFlags 3>>")),
                    (
                        150,
                        0,
                        "<</FT /Sig /T (x) /Rect [0 0 0 0] /AA <</K <</S /JavaScript /JS (1)>>>>>>"
                            .into(),
                    ),
                ],
                "1 0 R",
            ),
        ),
        (
            "an object stream",
            with_update(
                &original,
                &[(150, 0, format!("<</Type /ObjStm /N 1 /First 6 /Length 12>>\nstream\n{contents} 0 <<>>\nendstream"))],
                "1 0 R",
            ),
        ),
    ];
    // The honest update (a DSS and the catalog pointing to it), and variants of it.
    let honest = with_update(
        &original,
        &[
            (1, 0, catalog_plus("/DSS 150 0 R")),
            (150, 0, "<</Type /DSS /Certs [151 0 R]>>".into()),
            (151, 0, stream_object("not a certificate")),
        ],
        "1 0 R",
    );
    let honest_text = String::from_utf8_lossy(&honest[original.len()..]).into_owned();
    let varied = |from: &str, to: &str| {
        assert!(honest_text.contains(from), "{from}");
        [&original[..], honest_text.replacen(from, to, 1).as_bytes()].concat()
    };
    let prev = format!("/Prev {}", startxref(&original));
    let lang = catalog.find("/Lang").map(|at| {
        let end = at + catalog[at..].find(')').or(catalog[at..].find('>')).unwrap() + 1;
        catalog[at..end].to_owned()
    });
    let mut attacks = attacks;
    attacks.extend([
        (
            "the update's /Prev pointing to another cross-reference section",
            varied(&prev, "/Prev 9"),
        ),
        (
            "the update's /Prev pointing elsewhere, with a decoy startxref in a DSS stream",
            [
                &original[..],
                honest_text
                    .replacen(&prev, "/Prev 9", 1)
                    .replacen(
                        &stream_object("not a certificate"),
                        &stream_object("startxref\n9\n%%EOF"),
                        1,
                    )
                    .as_bytes(),
            ]
            .concat(),
        ),
        (
            "the update's trailer adding /Encrypt",
            varied("/Root 1 0 R", "/Root 1 0 R /Encrypt 150 0 R"),
        ),
        (
            "the catalog gaining an /OpenAction",
            varied("/Type /Catalog", "/Type /Catalog /OpenAction [3 0 R /Fit]"),
        ),
        (
            "an object header massho does not read (generation past 65535) redefining the content",
            [
                &honest[..honest.len() - 6],
                format!(
                    "
{contents} 70000 obj
{forged}
endobj
%%EOF
"
                )
                .as_bytes(),
            ]
            .concat(),
        ),
    ]);
    if let Some(lang) = lang {
        attacks.push(("the catalog losing its /Lang", varied(&lang, "")));
    }
    let mut accepted = Vec::new();
    for (attack, bytes) in attacks {
        let report = judge(&bytes);
        let problem = report.problem().unwrap_or_default();
        if report.ok() || !problem.contains("MODIFIED AFTER SIGNING") {
            accepted.push(format!("{attack}: {problem}"));
        }
    }
    assert!(accepted.is_empty(), "{accepted:#?}");
    // The honest update still passes.
    let report = judge(&honest);
    assert!(report.ok(), "{:?}", report.problem());
}
