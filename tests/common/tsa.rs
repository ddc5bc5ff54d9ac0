//! A real RFC 3161 time-stamping authority for tests: `openssl ts -reply`, with a throw-away CA
//! and TSAs (RSA 2048 and ECDSA P-256, critical timeStamping usage) made by `openssl` in a
//! temporary directory.
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use massho::timestamp::{message_digest, request, token_path};

pub const CONFIG: &str = r#"
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
pub const EC: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256";

/// A CA, two TSAs it certified, and a third "other" TSA, in a temporary directory.
pub struct Tsa {
    pub dir: tempfile::TempDir,
}

impl Tsa {
    pub fn new() -> Tsa {
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

    pub fn issue_tsa(&self, name: &str, newkey: &str, cn: &str, serial: u32) {
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

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// Run `openssl LINE` (split on whitespace) in the fixture directory; it must succeed.
    /// Returns stdout.
    pub fn openssl(&self, line: &str) -> String {
        self.openssl_args(&[], line)
    }

    /// Like [`Tsa::openssl`], with `more` arguments (which may hold spaces) appended.
    pub fn openssl_args(&self, more: &[&str], line: &str) -> String {
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
    pub fn certificate(&self, json: &[u8], minisig: &[u8]) -> (PathBuf, PathBuf) {
        let cert = self.path("cert.json");
        let sig = self.path("cert.json.minisig");
        fs::write(&cert, json).expect("write cert.json");
        fs::write(&sig, minisig).expect("write cert.json.minisig");
        (cert, sig)
    }

    /// massho makes the request, OpenSSL's TSA (config section `section`) answers it. Returns
    /// the digest, the nonce and the response bytes; the files are `q.tsq` and `cert.json.tsr`.
    pub fn stamp(&self, section: &str) -> ([u8; 32], u64, Vec<u8>) {
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
    pub fn openssl_field(&self, text: &str, label: &str) -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label:?} in openssl output:\n{text}"))
            .trim()
            .to_string()
    }
}

/// A local RFC 3161 TSA over HTTP on 127.0.0.1: a thread accepting connections, each request's
/// body handed to `openssl ts -reply -config openssl.cnf -section SECTION` run in `dir`, the
/// reply sent back as `application/timestamp-reply` (chunked when `chunked`, else with a
/// Content-Length). Returns the URL; the thread lives as long as the test process.
pub fn serve_http(dir: &std::path::Path, section: &str, chunked: bool) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("http://{}/tsa", listener.local_addr().expect("address"));
    let dir = dir.to_path_buf();
    let section = section.to_string();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut len = 0usize;
            let mut request_line = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if request_line.is_empty() {
                    request_line = line.clone();
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() || !request_line.starts_with("POST ") {
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                continue;
            }
            let query = dir.join(format!("http-{n}.tsq"));
            let reply = dir.join(format!("http-{n}.tsr"));
            std::fs::write(&query, &body).expect("write query");
            let status = Command::new("openssl")
                .args([
                    "ts",
                    "-reply",
                    "-config",
                    "openssl.cnf",
                    "-section",
                    &section,
                ])
                .arg("-queryfile")
                .arg(&query)
                .arg("-out")
                .arg(&reply)
                .current_dir(&dir)
                .output()
                .expect("run openssl ts -reply");
            let Ok(tsr) = std::fs::read(&reply).map_err(|_| status) else {
                let _ = stream
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
                continue;
            };
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nConnection: close\r\n";
            let mut out = head.as_bytes().to_vec();
            if chunked {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                for piece in tsr.chunks(100) {
                    out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    out.extend_from_slice(piece);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            } else {
                out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", tsr.len()).as_bytes());
                out.extend_from_slice(&tsr);
            }
            let _ = stream.write_all(&out);
        }
    });
    url
}

/// An http:// URL where nothing listens (a port just released): a TSA that is down.
pub fn down_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/tsa")
}
