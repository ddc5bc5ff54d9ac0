//! Key pairs on disk: loading public and secret keys, creating a new pair without ever
//! overwriting one, and where keys live by default.
//!
//! Default directory: `$XDG_CONFIG_HOME/massho/keys` when that variable holds an absolute path
//! (the XDG Base Directory rule), else `$HOME/.config/massho/keys`, else the passwd entry's home.
//! Plain environment logic rather than the `dirs` crate: it is the whole rule on Linux, which is
//! the only platform massho wipes on.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::format::{self, KeyId, Minisig, PublicKeyBlob, SecretKeyBlob};
use super::SignError;

/// An Ed25519 public key with minisign's key id.
#[derive(Clone)]
pub struct PublicKey {
    key_id: KeyId,
    key: VerifyingKey,
    /// Where it came from (a path, or what the caller called it), for error messages.
    origin: String,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.key_id == other.key_id && self.key == other.key
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_id", &self.key_id())
            .field("origin", &self.origin)
            .finish()
    }
}

impl PublicKey {
    /// Read a `.pub` file once, through [`crate::input::read_regular`]: a FIFO, device or
    /// directory named as a key is refused, never waited on.
    pub fn from_file(path: &Path) -> Result<PublicKey, SignError> {
        let origin = path.display().to_string();
        let bytes =
            crate::input::read_regular(path, "public key", crate::input::limit::KEY_OR_SEAL)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| SignError::BadPublicKey {
            origin: origin.clone(),
            reason: "the file is not text".into(),
        })?;
        PublicKey::parse(text, &origin)
    }

    /// Parse a `.pub` file's text, or the bare base64 line (as `minisign -P` takes it).
    pub fn parse(text: &str, origin: &str) -> Result<PublicKey, SignError> {
        let bad = |reason: String| SignError::BadPublicKey {
            origin: origin.to_string(),
            reason,
        };
        let (_, line) = format::key_file_lines(text).map_err(|r| bad(r.to_string()))?;
        let blob = PublicKeyBlob::from_base64(line).map_err(bad)?;
        let key = VerifyingKey::from_bytes(&blob.key)
            .map_err(|_| bad("the key bytes are not a point on Ed25519".into()))?;
        if key.is_weak() {
            return Err(bad("the key is a weak (small-order) Ed25519 key".into()));
        }
        Ok(PublicKey {
            key_id: blob.key_id,
            key,
            origin: origin.to_string(),
        })
    }

    /// 16 upper-case hex digits, as minisign prints it.
    pub fn key_id(&self) -> String {
        format::key_id_hex(&self.key_id)
    }

    /// The key id in groups of four, for reading out loud.
    pub fn key_id_grouped(&self) -> String {
        group4(&self.key_id())
    }

    /// SHA-256 of the public key blob, first 128 bits in groups of four hex digits. Unlike the
    /// key id (random, chosen by whoever made the key), this is bound to the key itself: it is
    /// what to compare over the phone before trusting a `.pub` file.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.blob().to_bytes());
        group4(&hex::encode_upper(&digest[..16]))
    }

    /// The whole `.pub` file, as `minisign -G` writes it.
    pub fn to_file_text(&self) -> String {
        self.blob().to_file_text()
    }

    /// Where the key was loaded from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub(crate) fn key_id_bytes(&self) -> &KeyId {
        &self.key_id
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    fn blob(&self) -> PublicKeyBlob {
        PublicKeyBlob {
            key_id: self.key_id,
            key: self.key.to_bytes(),
        }
    }
}

fn group4(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An Ed25519 signing key with minisign's key id. The key material is wiped on drop
/// (ed25519-dalek's `zeroize` feature); a clone (one per station disk's records) is wiped too.
#[derive(Clone)]
pub struct SecretKey {
    key_id: KeyId,
    signing: SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("key_id", &format::key_id_hex(&self.key_id))
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// Load a minisign secret key. `passphrase` is called only when the key is encrypted.
    pub fn from_file(
        path: &Path,
        passphrase: &dyn Fn() -> Result<String, SignError>,
    ) -> Result<SecretKey, SignError> {
        let bad = |reason: String| SignError::BadSecretKey {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = Zeroizing::new(crate::input::read_regular(
            path,
            "secret key",
            crate::input::limit::KEY_OR_SEAL,
        )?);
        let text = std::str::from_utf8(&bytes).map_err(|_| bad("the file is not text".into()))?;
        let (_, line) = format::key_file_lines(text).map_err(|r| bad(r.to_string()))?;
        let mut blob = SecretKeyBlob::from_base64(line).map_err(bad)?;
        if blob.is_encrypted() {
            let pass = Zeroizing::new(passphrase()?);
            let stream =
                format::kdf_stream(pass.as_bytes(), &blob.salt, blob.opslimit, blob.memlimit)
                    .map_err(bad)?;
            format::xor_in_place(&mut blob.keynum_sk, &stream);
        }
        let parts = format::split_keynum_sk(&blob.keynum_sk);
        let expected = format::checksum(&parts.key_id, &parts.secret);
        if parts.checksum != expected {
            if blob.is_encrypted() {
                return Err(SignError::WrongPassphrase {
                    path: path.to_path_buf(),
                });
            }
            // `minisign -W` leaves the checksum of an unencrypted key zero; anything else must
            // match.
            if parts.checksum != [0; 32] {
                return Err(bad(
                    "its checksum does not match: the file is damaged".into()
                ));
            }
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&parts.secret[..32]);
        let signing = SigningKey::from_bytes(&seed);
        if signing.verifying_key().as_bytes()[..] != parts.secret[32..] {
            return Err(bad(
                "its public half does not belong to its secret half: the file is damaged".into(),
            ));
        }
        Ok(SecretKey {
            key_id: parts.key_id,
            signing,
        })
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key_id: self.key_id,
            key: self.signing.verifying_key(),
            origin: format!("secret key {}", format::key_id_hex(&self.key_id)),
        }
    }

    /// The whole `.minisig` text for `data`: prehashed ("ED"), as minisign 0.11 signs by default.
    pub fn sign(
        &self,
        data: &[u8],
        untrusted_comment: &str,
        trusted_comment: &str,
    ) -> Result<String, SignError> {
        let bad = |reason: String| SignError::BadComment {
            key_id: format::key_id_hex(&self.key_id),
            reason,
        };
        format::check_comment(
            untrusted_comment,
            format::MAX_UNTRUSTED_COMMENT,
            "untrusted",
        )
        .map_err(bad)?;
        format::check_comment(trusted_comment, format::MAX_TRUSTED_COMMENT, "trusted")
            .map_err(bad)?;
        let signature = self.signing.sign(&format::prehash(data)).to_bytes();
        let global_signature = self
            .signing
            .sign(&Minisig::global_message(&signature, trusted_comment))
            .to_bytes();
        Ok(Minisig {
            untrusted_comment: untrusted_comment.to_string(),
            alg: format::SIG_ALG_PREHASHED,
            key_id: self.key_id,
            signature,
            trusted_comment: trusted_comment.to_string(),
            global_signature,
        }
        .to_text())
    }

    /// The `.key` file text: scrypt-encrypted with minisign's default limits, or unencrypted
    /// (kdf `[0, 0]`, zero salt and limits, as `minisign -W` writes it).
    fn to_file_text(&self, passphrase: Option<&str>) -> Result<Zeroizing<String>, SignError> {
        let mut secret = Zeroizing::new([0u8; 64]);
        secret.copy_from_slice(&self.signing.to_keypair_bytes());
        let mut keynum_sk = format::join_keynum_sk(&self.key_id, &secret);
        let key_id = format::key_id_hex(&self.key_id);
        let (blob, comment) = match passphrase {
            Some(pass) => {
                let mut salt = [0u8; 32];
                fill_random(&mut salt)?;
                let stream = format::kdf_stream(
                    pass.as_bytes(),
                    &salt,
                    format::OPSLIMIT_SENSITIVE,
                    format::MEMLIMIT_SENSITIVE,
                )
                .map_err(|reason| SignError::Kdf { reason })?;
                format::xor_in_place(&mut keynum_sk, &stream);
                let blob = SecretKeyBlob {
                    kdf_alg: format::KDF_SCRYPT,
                    salt,
                    opslimit: format::OPSLIMIT_SENSITIVE,
                    memlimit: format::MEMLIMIT_SENSITIVE,
                    keynum_sk,
                };
                (
                    blob,
                    format!("massho secret key {key_id}, passphrase-protected"),
                )
            }
            None => {
                let blob = SecretKeyBlob {
                    kdf_alg: format::KDF_NONE,
                    salt: [0; 32],
                    opslimit: 0,
                    memlimit: 0,
                    keynum_sk,
                };
                (blob, format!("massho secret key {key_id}, UNENCRYPTED"))
            }
        };
        Ok(Zeroizing::new(format!(
            "{}{comment}\n{}\n",
            format::UNTRUSTED_PREFIX,
            format::encode_base64(blob.to_bytes().as_slice())
        )))
    }

    fn random() -> Result<SecretKey, SignError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        fill_random(seed.as_mut_slice())?;
        let mut key_id = [0u8; format::KEY_ID_LEN];
        fill_random(&mut key_id)?;
        Ok(SecretKey {
            key_id,
            signing: SigningKey::from_bytes(&seed),
        })
    }

    #[cfg(test)]
    pub(crate) fn from_seed_for_tests(seed: [u8; 32], key_id: KeyId) -> SecretKey {
        SecretKey {
            key_id,
            signing: SigningKey::from_bytes(&seed),
        }
    }

    #[cfg(test)]
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing
    }
}

fn fill_random(buf: &mut [u8]) -> Result<(), SignError> {
    OsRng.try_fill_bytes(buf).map_err(|e| SignError::Random {
        reason: e.to_string(),
    })
}

/// Default key directory: `$XDG_CONFIG_HOME/massho/keys` or `~/.config/massho/keys`.
pub fn default_key_dir() -> Option<PathBuf> {
    key_dir_from(
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
        || {
            let passwd = fs::read_to_string("/etc/passwd").ok()?;
            home_in_passwd(&passwd, nix::unistd::getuid().as_raw())
        },
    )
}

/// The home directory of `uid` in the text of `/etc/passwd`. Read directly rather than through
/// getpwuid(3): the release binary is statically linked against glibc, whose NSS would try to
/// load the running system's `libnss_*.so` modules, built for another glibc (docs/release.md).
fn home_in_passwd(passwd: &str, uid: u32) -> Option<PathBuf> {
    passwd.lines().find_map(|line| {
        // name:password:uid:gid:gecos:home:shell
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [_, _, id, _, _, home, ..] if id.parse() == Ok(uid) && !home.is_empty() => {
                Some(PathBuf::from(home))
            }
            _ => None,
        }
    })
}

/// The XDG rule: a relative or empty `XDG_CONFIG_HOME` is ignored, as is a relative `HOME`.
fn key_dir_from(
    xdg_config_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
    passwd_home: impl FnOnce() -> Option<PathBuf>,
) -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| {
        let p = PathBuf::from(v);
        p.is_absolute().then_some(p)
    };
    let config = xdg_config_home.and_then(absolute).or_else(|| {
        home.and_then(absolute)
            .or_else(passwd_home)
            .map(|home| home.join(".config"))
    })?;
    Some(config.join("massho").join("keys"))
}

/// The paths `generate` would write, or why it would refuse. Lets a caller refuse before
/// asking for a passphrase.
pub fn check_can_generate(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), SignError> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(SignError::BadKeyName {
            name: name.to_string(),
        });
    }
    let pub_path = dir.join(format!("{name}.pub"));
    let key_path = dir.join(format!("{name}.key"));
    for path in [&key_path, &pub_path] {
        // symlink_metadata: a dangling symlink is in the way too.
        if fs::symlink_metadata(path).is_ok() {
            return Err(SignError::KeyExists { path: path.clone() });
        }
    }
    Ok((pub_path, key_path))
}

/// Create a key pair: DIR/NAME.pub and DIR/NAME.key (0600), each written to a temporary file,
/// fsynced and renamed into place without replacing anything, then the directory fsynced.
/// With `passphrase` None the secret key is stored unencrypted.
pub fn generate(
    dir: &Path,
    name: &str,
    passphrase: Option<&str>,
) -> Result<(PublicKey, PathBuf, PathBuf), SignError> {
    if passphrase == Some("") {
        return Err(SignError::EmptyPassphrase);
    }
    check_can_generate(dir, name)?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| SignError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    let (pub_path, key_path) = check_can_generate(dir, name)?;
    let secret = SecretKey::random()?;
    let key_text = secret.to_file_text(passphrase)?;
    let public = secret.public_key();
    drop(secret);

    let key_tmp = write_temp(dir, key_text.as_bytes(), 0o600)?;
    let pub_tmp = write_temp(dir, public.to_file_text().as_bytes(), 0o644)?;
    persist_new(key_tmp, &key_path)?;
    if let Err(e) = persist_new(pub_tmp, &pub_path) {
        // Someone created NAME.pub meanwhile: take back our half so no orphan key is left.
        let _ = fs::remove_file(&key_path);
        return Err(e);
    }
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| SignError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    let public = PublicKey {
        origin: pub_path.display().to_string(),
        ..public
    };
    Ok((public, pub_path, key_path))
}

fn write_temp(dir: &Path, bytes: &[u8], mode: u32) -> Result<tempfile::NamedTempFile, SignError> {
    let io_err = |source| SignError::Write {
        path: dir.to_path_buf(),
        source,
    };
    // tempfile creates the file 0600, so the secret is never readable by others, even briefly.
    let mut tmp = tempfile::Builder::new()
        .prefix(".massho-key-")
        .tempfile_in(dir)
        .map_err(io_err)?;
    tmp.write_all(bytes).map_err(io_err)?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    Ok(tmp)
}

fn persist_new(tmp: tempfile::NamedTempFile, path: &Path) -> Result<(), SignError> {
    // persist_noclobber fails rather than replace an existing file (renameat2 NOREPLACE or
    // link + unlink); the temporary file is removed on failure when `tmp` drops.
    tmp.persist_noclobber(path).map(|_| ()).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            SignError::KeyExists {
                path: path.to_path_buf(),
            }
        } else {
            SignError::Write {
                path: path.to_path_buf(),
                source: e.error,
            }
        }
    })
}

/// Load every `*.pub` in a directory: the trusted signers. A malformed file is an error, not
/// skipped: a trust store that silently drops a key hides a problem the operator must fix. So is
/// a `*.pub` entry that is not a regular file (a FIFO would hang the reader).
pub fn load_trusted_dir(dir: &Path) -> Result<Vec<PublicKey>, SignError> {
    let read_err = |source| SignError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().is_some_and(|e| e == "pub") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut keys = Vec::new();
    for path in paths {
        add_trusted(&mut keys, PublicKey::from_file(&path)?)?;
    }
    if keys.is_empty() {
        return Err(SignError::NoTrustedKeys {
            dir: dir.to_path_buf(),
        });
    }
    Ok(keys)
}

/// The signers an auditor trusts: every `pubkeys` file and every `*.pub` in `dir`, each read
/// once. The same key given twice counts once; two different keys claiming one key id are an
/// error naming both files, since a verifier could not tell which one a signature names.
pub fn trusted_keys(pubkeys: &[PathBuf], dir: Option<&Path>) -> Result<Vec<PublicKey>, SignError> {
    let mut keys = Vec::new();
    for p in pubkeys {
        add_trusted(&mut keys, PublicKey::from_file(p)?)?;
    }
    if let Some(dir) = dir {
        for key in load_trusted_dir(dir)? {
            add_trusted(&mut keys, key)?;
        }
    }
    Ok(keys)
}

fn add_trusted(keys: &mut Vec<PublicKey>, key: PublicKey) -> Result<(), SignError> {
    match keys.iter().find(|k| k.key_id == key.key_id) {
        Some(seen) if *seen == key => Ok(()),
        Some(seen) => Err(SignError::ConflictingKeyId {
            key_id: key.key_id(),
            first: PathBuf::from(&seen.origin),
            second: PathBuf::from(&key.origin),
        }),
        None => {
            keys.push(key);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unencrypted_key_file_round_trips() {
        let sk = SecretKey::from_seed_for_tests([3; 32], [0xaa; 8]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        fs::write(&path, sk.to_file_text(None).unwrap().as_bytes()).unwrap();
        let never = || -> Result<String, SignError> { panic!("unencrypted: no passphrase") };
        let loaded = SecretKey::from_file(&path, &never).unwrap();
        assert_eq!(loaded.public_key(), sk.public_key());
        assert_eq!(loaded.signing.to_bytes(), sk.signing.to_bytes());
    }

    #[test]
    fn damaged_unencrypted_key_is_caught() {
        let sk = SecretKey::from_seed_for_tests([3; 32], [0xaa; 8]);
        let text = sk.to_file_text(None).unwrap();
        let (comment, line) = text.split_once('\n').unwrap();
        let mut blob = SecretKeyBlob::from_base64(line).unwrap();
        blob.keynum_sk[20] ^= 1; // a seed byte
        let damaged = format!(
            "{comment}\n{}\n",
            format::encode_base64(blob.to_bytes().as_slice())
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        fs::write(&path, damaged).unwrap();
        let err = SecretKey::from_file(&path, &|| Ok(String::new()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("checksum does not match"), "{err}");
        assert!(err.contains("k.key"), "{err}");
    }

    #[test]
    fn public_key_text_and_fingerprint() {
        let pk = SecretKey::from_seed_for_tests([3; 32], [1, 0, 0, 0, 0, 0, 0, 0x80]).public_key();
        assert_eq!(pk.key_id(), "8000000000000001");
        assert_eq!(pk.key_id_grouped(), "8000 0000 0000 0001");
        let text = pk.to_file_text();
        assert!(text.starts_with("untrusted comment: minisign public key 8000000000000001\n"));
        assert_eq!(PublicKey::parse(&text, "t").unwrap(), pk);
        assert_eq!(pk.fingerprint().len(), 32 + 7);
        let garbage = PublicKey::parse("untrusted comment: x\nnot base64!\n", "garbage.pub")
            .unwrap_err()
            .to_string();
        assert!(
            garbage.contains("garbage.pub") && garbage.contains("base64"),
            "{garbage}"
        );
    }

    #[test]
    fn key_names_are_plain_file_names() {
        let dir = Path::new("/nonexistent");
        for bad in ["", ".hidden", "a/b", "../x", "a b"] {
            assert!(matches!(
                check_can_generate(dir, bad),
                Err(SignError::BadKeyName { .. })
            ));
        }
        assert!(check_can_generate(dir, "station-1.2_a").is_ok());
    }

    #[test]
    fn default_dir_follows_xdg() {
        let os = |s: &str| Some(std::ffi::OsString::from(s));
        let none = || None;
        assert_eq!(
            key_dir_from(os("/x/conf"), os("/home/op"), none),
            Some(PathBuf::from("/x/conf/massho/keys"))
        );
        assert_eq!(
            key_dir_from(os("relative"), os("/home/op"), none),
            Some(PathBuf::from("/home/op/.config/massho/keys"))
        );
        assert_eq!(
            key_dir_from(os(""), None, || Some(PathBuf::from("/root"))),
            Some(PathBuf::from("/root/.config/massho/keys"))
        );
        assert_eq!(key_dir_from(None, os("rel"), none), None);
    }

    #[test]
    fn home_from_passwd_text() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      # not an entry\n\
                      op:x:1000:1000:Operator,,,:/home/op:/bin/sh\n\
                      nohome:x:1001:1001:::/bin/sh\n";
        assert_eq!(home_in_passwd(passwd, 0), Some(PathBuf::from("/root")));
        assert_eq!(
            home_in_passwd(passwd, 1000),
            Some(PathBuf::from("/home/op"))
        );
        assert_eq!(home_in_passwd(passwd, 1001), None);
        assert_eq!(home_in_passwd(passwd, 4242), None);
        assert_eq!(home_in_passwd("", 0), None);
    }
}
