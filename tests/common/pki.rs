//! A throw-away PKI made by real `openssl` in a temporary directory: a root CA, an intermediate,
//! signers under it (RSA 2048 and ECDSA P-256), an expired signer, a signer whose key may not
//! sign documents, a second unrelated root, and the bundles massho reads (PKCS#12 with a
//! passphrase, PEM with key, certificate and chain, PEM with an encrypted PKCS#8 key).
//!
//! For timestamps and revocation: a TSA certified by the root (critical timeStamping usage) and
//! an untrusted TSA certified by the unrelated root, both answering as `openssl ts -reply`
//! (config sections `tsa_trusted` and `tsa_untrusted`, served over HTTP by
//! [`super::tsa::serve_http`]); a signer to revoke, CRLs from the intermediate and the root
//! (`openssl ca -revoke` / `-gencrl`), and signers valid for a few seconds.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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

[ inter_ext ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ signer_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

# A TLS-style key: it may encipher keys, not sign documents.
[ encipher_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, keyEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

# `openssl ca` for the expired signer: x509 -req in OpenSSL 3.0 cannot backdate.
[ ca ]
default_ca = inter_ca
[ inter_ca ]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/issued
serial = $dir/ca-serial
certificate = $dir/inter.pem
private_key = $dir/inter.key
default_md = sha256
policy = any_policy
copy_extensions = none
unique_subject = no
[ any_policy ]
commonName = supplied

# The root's database, for its CRL over the intermediate.
[ root_ca ]
dir = .
database = $dir/root-index.txt
new_certs_dir = $dir/issued
serial = $dir/ca-serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = any_policy

[ tsa_ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ tsa ]
default_tsa = tsa_trusted

[ tsa_trusted ]
dir = .
serial = $dir/tsa-serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
certs = $dir/tsa.pem
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256

[ tsa_untrusted ]
dir = .
serial = $dir/tsa-serial
crypto_device = builtin
signer_cert = $dir/other-tsa.pem
signer_key = $dir/other-tsa.key
certs = $dir/other-tsa.pem
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"#;

/// Passphrase of `rsa.p12` and `ec-encrypted.pem`.
pub const PASSPHRASE: &str = "correct horse 電池 staple";

/// The PKI's directory. Files: `ca.pem` (root), `inter.pem`/`.key`, `rsa.pem`/`.key`,
/// `ec.pem`/`.key`, `expired.pem`/`.key`, `encipher.pem`/`.key`, `other-ca.pem`; bundles
/// `rsa.p12` (PASSPHRASE), `ec-bundle.pem` (key, certificate, intermediate),
/// `ec-encrypted.pem` (the same with the key encrypted under PASSPHRASE), `expired-bundle.pem`,
/// `encipher-bundle.pem`; `passphrase.txt` for MASSHO_PASSPHRASE_FILE.
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        pki.write("openssl.cnf", CONFIG.as_bytes());
        pki.write("passphrase.txt", format!("{PASSPHRASE}\n").as_bytes());
        pki.write("index.txt", b"");
        pki.write("ca-serial", b"1000\n");
        pki.write("root-index.txt", b"");
        pki.write("tsa-serial", b"01\n");
        fs::create_dir(pki.path("issued")).expect("issued dir");
        const RSA: &str = "-newkey rsa:2048";
        const EC: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256";
        pki.root("ca", "massho test root");
        pki.root("other-ca", "someone else's root");
        pki.issued("inter", RSA, "massho test intermediate", "ca", "inter_ext");
        pki.issued("rsa", RSA, "RSA signer", "inter", "signer_ext");
        pki.issued("ec", EC, "P-256 signer", "inter", "signer_ext");
        pki.issued("encipher", EC, "encipher-only key", "inter", "encipher_ext");
        pki.issued("revoked", EC, "revoked signer", "inter", "signer_ext");
        pki.issued("tsa", EC, "massho test TSA", "ca", "tsa_ext");
        pki.issued("other-tsa", EC, "untrusted TSA", "other-ca", "tsa_ext");
        pki.openssl(&format!(
            "req -new {EC} -nodes -keyout expired.key -out expired.csr -subj /CN=expired\\ signer -config openssl.cnf"
        ));
        pki.openssl(
            "ca -batch -config openssl.cnf -notext -startdate 20200101000000Z -enddate 20200201000000Z \
             -extfile openssl.cnf -extensions signer_ext -in expired.csr -out expired.pem",
        );
        pki.openssl(
            "pkcs12 -export -inkey rsa.key -in rsa.pem -certfile inter.pem -out rsa.p12 -passout file:passphrase.txt",
        );
        pki.openssl(
            "pkcs8 -topk8 -v2 aes-256-cbc -in ec.key -out ec-encrypted.key -passout file:passphrase.txt",
        );
        pki.concat("ec-bundle.pem", &["ec.key", "ec.pem", "inter.pem"]);
        pki.concat(
            "ec-encrypted.pem",
            &["ec-encrypted.key", "ec.pem", "inter.pem"],
        );
        pki.concat(
            "expired-bundle.pem",
            &["expired.key", "expired.pem", "inter.pem"],
        );
        pki.concat(
            "encipher-bundle.pem",
            &["encipher.key", "encipher.pem", "inter.pem"],
        );
        pki.concat(
            "revoked-bundle.pem",
            &["revoked.key", "revoked.pem", "inter.pem"],
        );
        pki
    }

    /// Revoke `NAME.pem` (issued by the intermediate) now, in the intermediate's database.
    pub fn revoke(&self, name: &str) {
        self.openssl(&format!("ca -batch -config openssl.cnf -revoke {name}.pem"));
    }

    /// `inter.crl` (PEM, next update in a day) from the intermediate's database, and
    /// `ca.crl` (the root's, revoking nothing) over the intermediate.
    pub fn crls(&self) {
        self.openssl("ca -batch -config openssl.cnf -gencrl -crldays 1 -out inter.crl");
        self.openssl("ca -batch -config openssl.cnf -name root_ca -gencrl -crldays 1 -out ca.crl");
    }

    /// A CRL from the intermediate with the given thisUpdate and nextUpdate, written to `out`.
    pub fn crl_dated(
        &self,
        this_update: time::OffsetDateTime,
        next_update: time::OffsetDateTime,
        out: &str,
    ) {
        let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
        self.openssl(&format!(
            "ca -batch -config openssl.cnf -gencrl -crl_lastupdate {} -crl_nextupdate {} -out {out}",
            this_update.format(&fmt).expect("format"),
            next_update.format(&fmt).expect("format")
        ));
    }

    /// A P-256 signer `NAME` under the intermediate, valid from an hour ago until `seconds`
    /// from now; `NAME-bundle.pem` holds its key, certificate and the intermediate. Returns
    /// its notAfter.
    pub fn short_lived(&self, name: &str, seconds: i64) -> time::OffsetDateTime {
        let now = time::OffsetDateTime::now_utc();
        let not_after = now + time::Duration::seconds(seconds);
        let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
        let start = (now - time::Duration::hours(1))
            .format(&fmt)
            .expect("format");
        let end = not_after.format(&fmt).expect("format");
        self.openssl(&format!(
            "req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {name}.key -out {name}.csr -subj /CN=short-lived\\ signer -config openssl.cnf"
        ));
        self.openssl(&format!(
            "ca -batch -config openssl.cnf -notext -startdate {start} -enddate {end} \
             -extfile openssl.cnf -extensions signer_ext -in {name}.csr -out {name}.pem"
        ));
        self.concat(
            &format!("{name}-bundle.pem"),
            &[&format!("{name}.key"), &format!("{name}.pem"), "inter.pem"],
        );
        not_after.replace_nanosecond(0).expect("whole seconds")
    }

    fn root(&self, name: &str, cn: &str) {
        self.openssl(&format!(
            "req -x509 -new -newkey rsa:2048 -nodes -keyout {name}.key -out {name}.pem -days 30 \
             -subj /CN={} -config openssl.cnf -extensions ca_ext",
            cn.replace(' ', "\\ ")
        ));
    }

    fn issued(&self, name: &str, newkey: &str, cn: &str, issuer: &str, ext: &str) {
        self.openssl(&format!(
            "req -new {newkey} -nodes -keyout {name}.key -out {name}.csr -subj /CN={} -config openssl.cnf",
            cn.replace(' ', "\\ ")
        ));
        self.openssl(&format!(
            "x509 -req -in {name}.csr -CA {issuer}.pem -CAkey {issuer}.key -CAcreateserial \
             -out {name}.pem -days 30 -extfile openssl.cnf -extensions {ext}"
        ));
    }

    /// Concatenate the files `from` into `to` (PEM chains for a test's own signing).
    pub fn concat_pub(&self, to: &str, from: &[&str]) {
        self.concat(to, from);
    }

    fn concat(&self, to: &str, from: &[&str]) {
        let mut all = Vec::new();
        for f in from {
            all.extend(self.read(f));
        }
        self.write(to, &all);
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    pub fn write(&self, name: &str, bytes: &[u8]) {
        fs::write(self.path(name), bytes).unwrap_or_else(|e| panic!("write {name}: {e}"));
    }

    /// Run `openssl ARGS` (split on unescaped spaces) in the PKI directory; panics on failure.
    pub fn openssl(&self, args: &str) -> String {
        let out = self.openssl_status(args, self.dir.path());
        assert!(
            out.status.success(),
            "openssl {args} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run `openssl ARGS` in `dir`, whatever the outcome.
    pub fn openssl_status(&self, args: &str, dir: &Path) -> std::process::Output {
        Command::new("openssl")
            .args(split(args))
            .current_dir(dir)
            .output()
            .expect("run openssl")
    }
}

/// Split on spaces, keeping `\ ` as a space inside an argument.
fn split(args: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = args.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                chars.next();
                out.last_mut().expect("one").push(' ');
            }
            ' ' => {
                if !out.last().expect("one").is_empty() {
                    out.push(String::new());
                }
            }
            c => out.last_mut().expect("one").push(c),
        }
    }
    out.retain(|a| !a.is_empty());
    out
}
