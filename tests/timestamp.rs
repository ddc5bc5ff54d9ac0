//! RFC 3161 timestamps against a real TSA: `openssl ts -reply`, with a throw-away CA and TSAs
//! (RSA 2048 and ECDSA P-256) made by `openssl` in a temporary directory for each test.
//!
//! Interop both ways: OpenSSL answers massho's requests, massho reads and verifies OpenSSL's
//! responses, and `openssl ts -verify` accepts the same files, including with the message defined
//! as the certificate followed by its signature.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use massho::timestamp::{
    check_token, message_digest, request, token_from_response, token_path, verify_tsa_signature,
    TimestampError,
};

const CONFIG: &str = r#"
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused

[ ca_ext ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ tsa_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ tsa ]
default_tsa = tsa_rsa

[ tsa_rsa ]
dir = .
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa-rsa.pem
signer_key = $dir/tsa-rsa.key
certs = $dir/tsa-rsa.pem
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256

# The second algorithm, with milliseconds in genTime (RFC 3161 allows a fraction).
[ tsa_ec ]
dir = .
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa-ec.pem
signer_key = $dir/tsa-ec.key
certs = $dir/tsa-ec.pem
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
clock_precision_digits = 3
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"#;

/// How `openssl req` makes a P-256 key.
const EC: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256";

/// A CA, two TSAs it certified, and a third "other" TSA, in a temporary directory.
struct Tsa {
    dir: tempfile::TempDir,
}

impl Tsa {
    fn new() -> Tsa {
        let dir = tempfile::tempdir().expect("tempdir");
        let tsa = Tsa { dir };
        fs::write(tsa.path("openssl.cnf"), CONFIG).expect("write openssl.cnf");
        fs::write(tsa.path("serial"), "01\n").expect("write serial");
        // The CA's key type does not matter to massho (it does not build chains); P-256 is fast.
        tsa.openssl_args(
            &["-subj", "/CN=massho test CA"],
            &format!(
                "req -x509 {EC} -nodes -keyout ca.key -out ca.pem -days 2 -config openssl.cnf \
             -extensions ca_ext"
            ),
        );
        tsa.issue_tsa("tsa-rsa", "-newkey rsa:2048", "massho test TSA RSA", 2);
        tsa.issue_tsa("tsa-ec", EC, "massho test TSA EC", 3);
        tsa.issue_tsa("tsa-other", EC, "some other TSA", 4);
        tsa
    }

    fn issue_tsa(&self, name: &str, newkey: &str, cn: &str, serial: u32) {
        let subj = format!("/O=massho test/CN={cn}");
        self.openssl_args(
            &["-subj", &subj],
            &format!(
                "req -new {newkey} -nodes -keyout {name}.key -out {name}.csr -config openssl.cnf"
            ),
        );
        self.openssl(&format!(
            "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -set_serial {serial} -days 2 \
             -extfile openssl.cnf -extensions tsa_ext -out {name}.pem"
        ));
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// Run `openssl LINE` (split on whitespace) in the fixture directory; it must succeed.
    /// Returns stdout.
    fn openssl(&self, line: &str) -> String {
        self.openssl_args(&[], line)
    }

    /// Like [`Tsa::openssl`], with `more` arguments (which may hold spaces) appended.
    fn openssl_args(&self, more: &[&str], line: &str) -> String {
        let args: Vec<&str> = line
            .split_whitespace()
            .chain(more.iter().copied())
            .collect();
        let out = Command::new("openssl")
            .args(&args)
            .current_dir(self.dir.path())
            .output()
            .expect("run openssl (install the openssl package)");
        assert!(
            out.status.success(),
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Write a signed certificate's two files and return their paths.
    fn certificate(&self, json: &[u8], minisig: &[u8]) -> (PathBuf, PathBuf) {
        let cert = self.path("cert.json");
        let sig = self.path("cert.json.minisig");
        fs::write(&cert, json).expect("write cert.json");
        fs::write(&sig, minisig).expect("write cert.json.minisig");
        (cert, sig)
    }

    /// massho makes the request, OpenSSL's TSA (config section `section`) answers it. Returns
    /// the digest, the nonce and the response bytes; the files are `q.tsq` and `cert.json.tsr`.
    fn stamp(&self, section: &str) -> ([u8; 32], u64, Vec<u8>) {
        let (cert, sig) = self.certificate(
            b"{\"id\":\"8c1f\",\"status\":\"passed\"}\n",
            b"untrusted comment: signature from massho secret key\nRWQ...\n",
        );
        let digest = message_digest(&fs::read(&cert).unwrap(), &fs::read(&sig).unwrap());
        let (tsq, nonce) = request(&digest).expect("request");
        fs::write(self.path("q.tsq"), &tsq).expect("write q.tsq");
        let tsr_path = token_path(&cert);
        assert_eq!(tsr_path, self.path("cert.json.tsr"));
        self.openssl(&format!(
            "ts -reply -config openssl.cnf -section {section} -queryfile q.tsq -out cert.json.tsr"
        ));
        (digest, nonce, fs::read(&tsr_path).expect("read .tsr"))
    }

    /// The value of `Label: value` in `openssl ts -reply -in cert.json.tsr -text`.
    fn openssl_field(&self, text: &str, label: &str) -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label:?} in openssl output:\n{text}"))
            .trim()
            .to_string()
    }
}

/// OpenSSL prints `Nov 25 11:09:21.123 2026 GMT`; massho `2026-11-25T11:09:21.123Z`.
fn openssl_time_to_rfc3339(s: &str) -> String {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [month, day, clock, year, "GMT"] = parts.as_slice() else {
        panic!("unexpected openssl time {s:?}");
    };
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| m == month).expect("month") + 1;
    let day: u32 = day.parse().expect("day");
    format!("{year}-{month:02}-{day:02}T{clock}Z")
}

fn round_trip(section: &str, tsa_cert: &str) {
    let tsa = Tsa::new();
    let (digest, nonce, tsr) = tsa.stamp(section);

    let token = token_from_response(&tsr).expect("granted response");
    let info = check_token(&tsr, &digest).expect("token covers the certificate");
    assert_eq!(
        check_token(&token, &digest).expect("bare token"),
        info,
        "a bare token and the whole response read the same"
    );
    assert!(info.imprint_ok);
    assert_eq!(info.policy, "1.2.3.4.1");

    // What OpenSSL reads from the same response.
    let text = tsa.openssl("ts -reply -in cert.json.tsr -text");
    assert_eq!(tsa.openssl_field(&text, "Status: "), "Granted.");
    let openssl_time = openssl_time_to_rfc3339(&tsa.openssl_field(&text, "Time stamp:"));
    assert_eq!(info.gen_time, openssl_time);
    let serial = tsa.openssl_field(&text, "Serial number: 0x");
    assert_eq!(
        u128::from_str_radix(&info.serial, 16).expect("hex serial"),
        u128::from_str_radix(&serial, 16).expect("openssl serial")
    );
    let openssl_nonce = tsa.openssl_field(&text, "Nonce: 0x");
    assert_eq!(u64::from_str_radix(&openssl_nonce, 16), Ok(nonce));
    let tsa_name = info.tsa_name.as_deref().expect("tsa_name = yes");
    assert!(tsa_name.contains("massho test TSA"), "{tsa_name}");

    // The TSA's signature, with the certificate as PEM and as DER, over the response or the token.
    let pem = tsa.read(&format!("{tsa_cert}.pem"));
    verify_tsa_signature(&tsr, &pem).expect("signature (PEM cert, .tsr)");
    verify_tsa_signature(&token, &pem).expect("signature (PEM cert, bare token)");
    tsa.openssl(&format!(
        "x509 -in {tsa_cert}.pem -outform DER -out {tsa_cert}.der"
    ));
    verify_tsa_signature(&tsr, &tsa.read(&format!("{tsa_cert}.der")))
        .expect("signature (DER cert)");

    // OpenSSL agrees: massho's .tsq is a valid request, and the token covers exactly
    // cert.json || cert.json.minisig.
    let trust = format!("-CAfile ca.pem -untrusted {tsa_cert}.pem");
    tsa.openssl(&format!(
        "ts -verify -queryfile q.tsq -in cert.json.tsr {trust}"
    ));
    let mut both = tsa.read("cert.json");
    both.extend(tsa.read("cert.json.minisig"));
    fs::write(tsa.path("message"), both).expect("write message");
    tsa.openssl(&format!(
        "ts -verify -data message -in cert.json.tsr {trust}"
    ));
}

#[test]
fn rsa_tsa_round_trip_agrees_with_openssl() {
    round_trip("tsa_rsa", "tsa-rsa");
}

#[test]
fn ecdsa_p256_tsa_round_trip_agrees_with_openssl() {
    round_trip("tsa_ec", "tsa-ec");
}

#[test]
fn a_changed_certificate_or_signature_no_longer_matches_the_token() {
    let tsa = Tsa::new();
    let (_, _, tsr) = tsa.stamp("tsa_rsa");
    let cert = tsa.read("cert.json");
    let sig = tsa.read("cert.json.minisig");

    let mut changed = cert.clone();
    changed[2] ^= 0x01;
    let err = check_token(&tsr, &message_digest(&changed, &sig)).unwrap_err();
    assert!(
        matches!(err, TimestampError::ImprintMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(".minisig"), "{err}");

    let mut changed_sig = sig.clone();
    changed_sig.push(b'\n');
    let err = check_token(&tsr, &message_digest(&cert, &changed_sig)).unwrap_err();
    assert!(
        matches!(err, TimestampError::ImprintMismatch { .. }),
        "{err}"
    );

    // The certificate alone is not what was stamped.
    let err = check_token(&tsr, &message_digest(&cert, b"")).unwrap_err();
    assert!(
        matches!(err, TimestampError::ImprintMismatch { .. }),
        "{err}"
    );
}

/// Where genTime's 14 digits start inside the TSTInfo (tag 0x18, not the UTCTime signing-time).
fn gen_time_offset(tsr: &[u8]) -> usize {
    tsr.windows(16)
        .position(|w| w[0] == 0x18 && w[2..16].iter().all(u8::is_ascii_digit))
        .expect("genTime in the response")
        + 2
}

#[test]
fn a_tampered_token_fails_the_signature_check() {
    for (section, cert) in [("tsa_rsa", "tsa-rsa"), ("tsa_ec", "tsa-ec")] {
        let tsa = Tsa::new();
        let (digest, _, tsr) = tsa.stamp(section);
        let pem = tsa.read(&format!("{cert}.pem"));
        verify_tsa_signature(&tsr, &pem).expect("untouched token verifies");

        // One minute later: still a well-formed token with the right imprint, but not what the
        // TSA signed.
        let mut later = tsr.clone();
        let minute_units = gen_time_offset(&later) + 11;
        later[minute_units] = b'0' + (later[minute_units] - b'0' + 1) % 10;
        let info = check_token(&later, &digest).expect("imprint is untouched");
        assert_ne!(info.gen_time, check_token(&tsr, &digest).unwrap().gen_time);
        let err = verify_tsa_signature(&later, &pem).unwrap_err();
        assert!(matches!(err, TimestampError::BadSignature { .. }), "{err}");
        assert!(err.to_string().contains("message digest"), "{err}");

        // The signature itself damaged (it is the last thing in OpenSSL's response).
        let mut bad_sig = tsr.clone();
        let last = bad_sig.len() - 1;
        bad_sig[last] ^= 0x01;
        let err = verify_tsa_signature(&bad_sig, &pem).unwrap_err();
        assert!(matches!(err, TimestampError::BadSignature { .. }), "{err}");
    }
}

#[test]
fn the_wrong_certificate_is_refused() {
    let tsa = Tsa::new();
    let (_, _, tsr) = tsa.stamp("tsa_rsa");

    // Another TSA of the same CA did not sign this token.
    let err = verify_tsa_signature(&tsr, &tsa.read("tsa-other.pem")).unwrap_err();
    assert!(
        matches!(err, TimestampError::SignerMismatch { .. }),
        "{err}"
    );
    // Nor did the EC TSA, whatever the algorithm.
    let err = verify_tsa_signature(&tsr, &tsa.read("tsa-ec.pem")).unwrap_err();
    assert!(
        matches!(err, TimestampError::SignerMismatch { .. }),
        "{err}"
    );
    // The CA certificate is not a timestamping certificate.
    let err = verify_tsa_signature(&tsr, &tsa.read("ca.pem")).unwrap_err();
    assert!(
        matches!(err, TimestampError::NotTimestampingCert { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("massho test CA"), "{err}");
    // Not a certificate at all.
    for junk in [
        &b"hello"[..],
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ] {
        let err = verify_tsa_signature(&tsr, junk).unwrap_err();
        assert!(matches!(err, TimestampError::TsaCert { .. }), "{err}");
    }
}

#[test]
fn a_tsa_certificate_without_critical_timestamping_usage_is_refused() {
    let tsa = Tsa::new();
    let (_, _, tsr) = tsa.stamp("tsa_rsa");
    // Same key, same issuer and serial, but a non-critical EKU: RFC 3161 §2.3 says no.
    fs::write(
        tsa.path("weak.cnf"),
        "[ weak ]\nextendedKeyUsage = timeStamping\nsubjectKeyIdentifier = hash\n",
    )
    .unwrap();
    tsa.openssl(
        "x509 -req -in tsa-rsa.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 \
         -extfile weak.cnf -extensions weak -out weak.pem",
    );
    let err = verify_tsa_signature(&tsr, &tsa.read("weak.pem")).unwrap_err();
    assert!(
        matches!(err, TimestampError::NotTimestampingCert { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("critical"), "{err}");
}

#[test]
fn a_twin_certificate_with_the_same_key_and_serial_is_not_the_signer() {
    let tsa = Tsa::new();
    let (_, _, tsr) = tsa.stamp("tsa_rsa");
    // Same key, issuer, serial and extensions, other validity: the RSA signature and the
    // issuer/serial match, only the ESS signingCertificateV2 hash tells the two apart.
    tsa.openssl(
        "x509 -req -in tsa-rsa.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 3 \
         -extfile openssl.cnf -extensions tsa_ext -out twin.pem",
    );
    assert_ne!(tsa.read("twin.pem"), tsa.read("tsa-rsa.pem"));
    let err = verify_tsa_signature(&tsr, &tsa.read("twin.pem")).unwrap_err();
    assert!(
        matches!(err, TimestampError::SignerMismatch { .. }),
        "{err}"
    );
}

#[test]
fn garbage_and_truncated_responses_give_clear_errors() {
    let tsa = Tsa::new();
    let (digest, _, tsr) = tsa.stamp("tsa_rsa");
    let tsq = tsa.read("q.tsq");
    let pem = tsa.read("tsa-rsa.pem");
    let cases: [(&str, &[u8]); 5] = [
        ("empty", b""),
        ("text", b"this is not a timestamp response\n"),
        ("truncated", &tsr[..tsr.len() / 2]),
        ("one byte short", &tsr[..tsr.len() - 1]),
        ("the request instead", &tsq),
    ];
    for (what, bytes) in cases {
        let err = token_from_response(bytes).unwrap_err();
        assert!(
            matches!(err, TimestampError::Malformed { .. }),
            "{what}: {err}"
        );
        assert!(err.to_string().contains(".tsr"), "{what}: {err}");
        let err = check_token(bytes, &digest).unwrap_err();
        assert!(
            matches!(err, TimestampError::Malformed { .. }),
            "{what}: {err}"
        );
        let err = verify_tsa_signature(bytes, &pem).unwrap_err();
        assert!(
            matches!(err, TimestampError::Malformed { .. }),
            "{what}: {err}"
        );
    }
}

#[test]
fn a_rejection_names_the_status_and_the_reason() {
    let tsa = Tsa::new();
    // This TSA accepts only SHA-256; OpenSSL's own SHA-1 request is refused with badAlg.
    fs::write(tsa.path("data"), b"anything").unwrap();
    tsa.openssl("ts -query -data data -sha1 -out sha1.tsq");
    tsa.openssl("ts -reply -config openssl.cnf -queryfile sha1.tsq -out sha1.tsr");
    let tsr = tsa.read("sha1.tsr");
    let err = token_from_response(&tsr).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, TimestampError::Rejected { .. }), "{msg}");
    assert!(msg.contains("rejection (2)"), "{msg}");
    assert!(msg.contains("badAlg"), "{msg}");
    assert!(msg.contains("not supported"), "the TSA's own text: {msg}");
    let err = check_token(&tsr, &[0; 32]).unwrap_err();
    assert!(matches!(err, TimestampError::Rejected { .. }), "{err}");
}

#[test]
fn token_path_is_beside_the_certificate() {
    assert_eq!(
        token_path(Path::new("certs/0b6e.json")),
        PathBuf::from("certs/0b6e.json.tsr")
    );
}
