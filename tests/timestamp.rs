//! RFC 3161 timestamps against a real TSA: `openssl ts -reply`, with a throw-away CA and TSAs
//! (RSA 2048 and ECDSA P-256) made by `openssl` in a temporary directory for each test.
//!
//! Interop both ways: OpenSSL answers massho's requests, massho reads and verifies OpenSSL's
//! responses, and `openssl ts -verify` accepts the same files, including with the message defined
//! as the certificate followed by its signature.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::tsa::Tsa;

use massho::timestamp::{
    check_token, message_digest, token_from_response, token_path, verify_tsa_signature,
    TimestampError,
};

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
