//! Signing keys and detached signatures in minisign's formats.
//!
//! Certificates are signed so that an auditor can check them offline with stock `minisign -V`
//! as well as with massho; so keys and signatures are minisign's, byte for byte
//! ([`format`] holds the layouts). Ed25519 is ed25519-dalek; the secret key is protected with
//! scrypt exactly as minisign does it, so either tool can use the other's keys.
//!
//! This module signs and verifies bytes; what a certificate contains, and which signers are
//! trusted for what, is `cert`'s business. [`verify`] does not know which file the signature
//! came from: callers add that to the error they report.

pub mod format;
mod keys;
mod passphrase;

use std::io;
use std::path::{Path, PathBuf};

pub use keys::{
    check_can_generate, default_key_dir, generate, load_trusted_dir, trusted_keys, PublicKey,
    SecretKey,
};
pub use passphrase::{passphrase_from_env_or_tty, PASSPHRASE_FILE_ENV};

use format::Minisig;

/// What a good signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signer's key id, 16 upper-case hex digits as minisign prints it.
    pub key_id: String,
    /// The trusted comment exactly as signed.
    pub trusted_comment: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A key file that is missing, not a regular file, or too large.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("cannot read {}: {source}; check the path and its permissions", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}; check that the directory is writable and has space", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{origin} is not a usable minisign public key: {reason}; ask the signer for their .pub file again")]
    BadPublicKey { origin: String, reason: String },
    #[error("{} is not a usable minisign secret key: {reason}; restore the key file from its backup", path.display())]
    BadSecretKey { path: PathBuf, reason: String },
    #[error("wrong passphrase for the secret key {} (checksum mismatch after decryption); try again, the passphrase is case-sensitive", path.display())]
    WrongPassphrase { path: PathBuf },
    #[error("not a valid minisign signature: {reason}; the .minisig file is truncated or damaged, get a fresh copy from the signer")]
    MalformedSignature { reason: String },
    #[error("signed by key {signed_by}, but the public key {origin} is key {expected}; verify with the signer's public key, or treat the signer as unknown")]
    WrongKey {
        signed_by: String,
        expected: String,
        origin: String,
    },
    #[error("the signature by key {key_id} does not match the data: the file was changed after signing, or the .minisig belongs to another file; do not trust its contents")]
    BadSignature { key_id: String },
    #[error("the trusted comment's signature by key {key_id} does not verify: the trusted comment was altered after signing; do not trust this file")]
    BadTrustedComment { key_id: String },
    #[error("cannot sign with {key_id}: {reason}; keep the comment on one line and shorter")]
    BadComment { key_id: String, reason: String },
    #[error("refusing to overwrite {}: a key already exists there; choose another --name or --out, or move the old key away yourself", path.display())]
    KeyExists { path: PathBuf },
    #[error("cannot use {name:?} as a key name: use letters, digits, '-', '_' and '.', not starting with '.'")]
    BadKeyName { name: String },
    #[error("an empty passphrase would leave the secret key unprotected; type a passphrase, or use --no-passphrase for an unattended, locked-down station")]
    EmptyPassphrase,
    #[error("no terminal to ask for the passphrase ({source}); run massho from a terminal, or set {PASSPHRASE_FILE_ENV} to a file whose first line is the passphrase")]
    NoTerminal { source: io::Error },
    #[error("cannot read the passphrase from {PASSPHRASE_FILE_ENV}={}: {source}; check that the file exists and is readable", path.display())]
    PassphraseFile { path: PathBuf, source: io::Error },
    #[error("no trusted public keys (*.pub) in {}; copy the signers' .pub files there", dir.display())]
    NoTrustedKeys { dir: PathBuf },
    #[error("{} and {} both claim key id {key_id} with different keys; keep only the one the signer gave you", crate::text::path_safe(first), crate::text::path_safe(second))]
    ConflictingKeyId {
        key_id: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("cannot derive the key-encryption key: {reason}; no key was written")]
    Kdf { reason: String },
    #[error("the operating system's random number generator failed ({reason}); no key was written, try again")]
    Random { reason: String },
}

/// The key id a `.minisig` text claims to be signed with (16 upper-case hex digits), before any
/// verification: lets a verifier pick the right key among the trusted ones, or name the stranger.
pub fn signature_key_id(minisig: &str) -> Result<String, SignError> {
    let sig = Minisig::parse(minisig).map_err(|reason| SignError::MalformedSignature { reason })?;
    Ok(format::key_id_hex(&sig.key_id))
}

/// Check a `.minisig` text against `data` and `key`: the key id, the signature over the data
/// (prehashed "ED", or legacy "Ed" over the raw bytes, as `minisign -V` accepts both) and the
/// signature over the trusted comment. Only then is the trusted comment returned.
pub fn verify(key: &PublicKey, data: &[u8], minisig: &str) -> Result<Verified, SignError> {
    let sig = Minisig::parse(minisig).map_err(|reason| SignError::MalformedSignature { reason })?;
    let signed_by = format::key_id_hex(&sig.key_id);
    if sig.key_id != *key.key_id_bytes() {
        return Err(SignError::WrongKey {
            signed_by,
            expected: key.key_id(),
            origin: key.origin().to_string(),
        });
    }
    let signature = ed25519_dalek::Signature::from_bytes(&sig.signature);
    let outcome = if sig.alg == format::SIG_ALG_PREHASHED {
        key.verifying_key()
            .verify_strict(&format::prehash(data), &signature)
    } else {
        key.verifying_key().verify_strict(data, &signature)
    };
    if outcome.is_err() {
        return Err(SignError::BadSignature { key_id: signed_by });
    }
    let global = ed25519_dalek::Signature::from_bytes(&sig.global_signature);
    let message = Minisig::global_message(&sig.signature, &sig.trusted_comment);
    if key
        .verifying_key()
        .verify_strict(&message, &global)
        .is_err()
    {
        return Err(SignError::BadTrustedComment { key_id: signed_by });
    }
    Ok(Verified {
        key_id: signed_by,
        trusted_comment: sig.trusted_comment,
    })
}

/// Read a file that should be small (keys, passphrase files); bound what a wrong path costs.
fn read_small_text(path: &Path, limit: u64) -> Result<String, SmallTextError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(SmallTextError::Io)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(SmallTextError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(SmallTextError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| SmallTextError::NotText)
}

enum SmallTextError {
    Io(io::Error),
    TooLarge,
    NotText,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_pair() -> (SecretKey, PublicKey) {
        let sk = SecretKey::from_seed_for_tests([42; 32], [1, 2, 3, 4, 5, 6, 7, 8]);
        let pk = sk.public_key();
        (sk, pk)
    }

    #[test]
    fn sign_then_verify() {
        let (sk, pk) = key_pair();
        let text = sk.sign(b"data", "u", "id:1\tserial:X").unwrap();
        let v = verify(&pk, b"data", &text).unwrap();
        assert_eq!(v.key_id, "0807060504030201");
        assert_eq!(v.trusted_comment, "id:1\tserial:X");
        assert!(matches!(
            verify(&pk, b"datb", &text),
            Err(SignError::BadSignature { .. })
        ));
        let altered = text.replace("id:1", "id:2");
        assert!(matches!(
            verify(&pk, b"data", &altered),
            Err(SignError::BadTrustedComment { .. })
        ));
        // The untrusted comment is not covered, by design.
        assert!(verify(&pk, b"data", &text.replacen("u\n", "v\n", 1)).is_ok());
    }

    #[test]
    fn legacy_signatures_verify_over_raw_data() {
        use ed25519_dalek::Signer as _;
        let (sk, pk) = key_pair();
        let mut sig = Minisig::parse(&sk.sign(b"data", "u", "t").unwrap()).unwrap();
        sig.alg = format::SIG_ALG;
        sig.signature = sk.signing_key().sign(b"data").to_bytes();
        sig.global_signature = sk
            .signing_key()
            .sign(&Minisig::global_message(&sig.signature, "t"))
            .to_bytes();
        assert_eq!(
            verify(&pk, b"data", &sig.to_text())
                .unwrap()
                .trusted_comment,
            "t"
        );
        // A legacy signature is not accepted over the BLAKE2b-512 of the data, nor vice versa.
        sig.signature = sk.signing_key().sign(&format::prehash(b"data")).to_bytes();
        assert!(verify(&pk, b"data", &sig.to_text()).is_err());
    }

    #[test]
    fn comments_are_refused_when_minisign_would_misread_them() {
        let (sk, _) = key_pair();
        assert!(matches!(
            sk.sign(b"d", "u", "two\nlines"),
            Err(SignError::BadComment { .. })
        ));
        assert!(sk
            .sign(b"d", "u", &"x".repeat(format::MAX_TRUSTED_COMMENT))
            .is_ok());
        assert!(sk
            .sign(b"d", "u", &"x".repeat(format::MAX_TRUSTED_COMMENT + 1))
            .is_err());
        assert!(sk
            .sign(b"d", &"x".repeat(format::MAX_UNTRUSTED_COMMENT + 1), "t")
            .is_err());
    }

    #[test]
    fn wrong_key_is_named() {
        let (sk, _) = key_pair();
        let other = SecretKey::from_seed_for_tests([7; 32], [9; 8]).public_key();
        let text = sk.sign(b"data", "u", "t").unwrap();
        let err = verify(&other, b"data", &text).unwrap_err().to_string();
        assert!(err.contains("signed by key 0807060504030201"), "{err}");
        assert!(err.contains("0909090909090909"), "{err}");
    }
}
