//! minisign's file formats, byte for byte, with no I/O and no policy.
//!
//! Layouts follow minisign 0.11 (`src/minisign.h`, `src/minisign.c`): every binary blob is
//! standard base64 with padding on its own line, under an `untrusted comment: ` line.
//!
//! - public key: `"Ed"` ‖ key id (8) ‖ Ed25519 public key (32)
//! - secret key: `"Ed"` ‖ kdf `"Sc"` or `[0, 0]` ‖ `"B2"` ‖ salt (32) ‖ opslimit (u64 LE) ‖
//!   memlimit (u64 LE) ‖ keynum_sk, where keynum_sk = key id (8) ‖ seed ‖ public key (64) ‖
//!   BLAKE2b-256 checksum (32), XORed with 104 bytes of scrypt output when encrypted
//! - signature: `"ED"` (prehashed: Ed25519 over BLAKE2b-512 of the data) or legacy `"Ed"` ‖
//!   key id (8) ‖ signature (64); then `trusted comment: …` and the global signature over
//!   signature ‖ trusted comment bytes.
//!
//! The key id is random, not derived from the key; minisign prints it as the little-endian u64
//! in upper-case hex (zero-padded to 16 digits since minisign 0.12; 0.11 drops leading zeros in
//! the `.pub` comment, which no reader parses). Errors here are plain reasons; `sign` adds which
//! file and what to do.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Blake2b512, Digest};
use zeroize::Zeroizing;

pub const SIG_ALG: [u8; 2] = *b"Ed";
pub const SIG_ALG_PREHASHED: [u8; 2] = *b"ED";
pub const KDF_SCRYPT: [u8; 2] = *b"Sc";
pub const KDF_NONE: [u8; 2] = [0, 0];
pub const CHK_BLAKE2B: [u8; 2] = *b"B2";

pub const KEY_ID_LEN: usize = 8;
pub const PUBLIC_KEY_BLOB_LEN: usize = 2 + KEY_ID_LEN + 32;
/// key id ‖ secret key (seed ‖ public key) ‖ checksum: the part scrypt output is XORed onto.
pub const KEYNUM_SK_LEN: usize = KEY_ID_LEN + 64 + 32;
pub const SECRET_KEY_BLOB_LEN: usize = 2 + 2 + 2 + 32 + 8 + 8 + KEYNUM_SK_LEN;
pub const SIGNATURE_BLOB_LEN: usize = 2 + KEY_ID_LEN + 64;

/// libsodium's `crypto_pwhash_scryptsalsa208sha256_{OPS,MEM}LIMIT_SENSITIVE`, minisign's
/// defaults: scrypt N = 2^20, r = 8, p = 1 (1 GiB, a few seconds).
pub const OPSLIMIT_SENSITIVE: u64 = 33_554_432;
pub const MEMLIMIT_SENSITIVE: u64 = 1_073_741_824;
/// Most scrypt work a key file may ask of us: minisign never writes more than N = 2^20, p = 1;
/// a hostile file must not make us allocate or spin without bound.
const MAX_SCRYPT_LOG_N: u8 = 20;
const MAX_SCRYPT_P: u32 = 4;

pub const UNTRUSTED_PREFIX: &str = "untrusted comment: ";
pub const TRUSTED_PREFIX: &str = "trusted comment: ";
/// minisign reads each comment line with `fgets` into 1024- and 8192-byte buffers and fails
/// when the newline does not fit; longer comments would sign fine and never verify.
pub const MAX_UNTRUSTED_COMMENT: usize = 1024 - 2 - UNTRUSTED_PREFIX.len();
pub const MAX_TRUSTED_COMMENT: usize = 8192 - 2 - TRUSTED_PREFIX.len();

pub type KeyId = [u8; KEY_ID_LEN];

/// As minisign prints it: the little-endian u64, 16 upper-case hex digits.
pub fn key_id_hex(id: &KeyId) -> String {
    format!("{:016X}", u64::from_le_bytes(*id))
}

pub fn encode_base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// Decode one base64 line into exactly `N` bytes.
fn decode_exact<const N: usize>(line: &str, what: &str) -> Result<[u8; N], String> {
    let bytes = Zeroizing::new(
        BASE64
            .decode(line.trim())
            .map_err(|e| format!("the {what} line is not valid base64 ({e})"))?,
    );
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "the {what} line decodes to {} bytes, a minisign {what} has {N}",
            bytes.len()
        )
    })
}

/// BLAKE2b-512 of the data: what a prehashed ("ED") signature signs.
pub fn prehash(data: &[u8]) -> [u8; 64] {
    Blake2b512::digest(data).into()
}

/// The secret key checksum: BLAKE2b-256 (unkeyed, 32-byte output parameter, not a truncated
/// BLAKE2b-512) of sig_alg ‖ key id ‖ secret key.
pub fn checksum(key_id: &KeyId, secret: &[u8; 64]) -> [u8; 32] {
    let mut h = Blake2b::<U32>::new();
    h.update(SIG_ALG);
    h.update(key_id);
    h.update(secret);
    h.finalize().into()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyBlob {
    pub key_id: KeyId,
    pub key: [u8; 32],
}

impl PublicKeyBlob {
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_BLOB_LEN] {
        let mut out = [0u8; PUBLIC_KEY_BLOB_LEN];
        out[..2].copy_from_slice(&SIG_ALG);
        out[2..10].copy_from_slice(&self.key_id);
        out[10..].copy_from_slice(&self.key);
        out
    }

    pub fn from_base64(line: &str) -> Result<PublicKeyBlob, String> {
        let trimmed = line.trim();
        if let Ok(bytes) = BASE64.decode(trimmed) {
            if bytes.len() == SECRET_KEY_BLOB_LEN {
                return Err("this is a minisign secret key, not a public key".into());
            }
        }
        let raw: [u8; PUBLIC_KEY_BLOB_LEN] = decode_exact(trimmed, "public key")?;
        if raw[..2] != SIG_ALG {
            return Err(format!(
                "unsupported signature algorithm {:?} (minisign public keys start with \"Ed\")",
                String::from_utf8_lossy(&raw[..2])
            ));
        }
        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(&raw[2..10]);
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[10..]);
        Ok(PublicKeyBlob { key_id, key })
    }

    /// The whole `.pub` file, as `minisign -G` writes it.
    pub fn to_file_text(&self) -> String {
        format!(
            "{UNTRUSTED_PREFIX}minisign public key {}\n{}\n",
            key_id_hex(&self.key_id),
            encode_base64(&self.to_bytes())
        )
    }
}

/// Split a key file into (comment, base64 line). A bare base64 line is accepted too.
pub fn key_file_lines(text: &str) -> Result<(Option<&str>, &str), String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().ok_or("the file is empty")?;
    let (comment, key_line) = if let Some(comment) = first.strip_prefix(UNTRUSTED_PREFIX.trim_end())
    {
        let key_line = lines
            .next()
            .ok_or("there is a comment line but no key line after it")?;
        (Some(comment.trim()), key_line)
    } else {
        (None, first)
    };
    if lines.next().is_some() {
        return Err("there is more than a comment line and a key line".into());
    }
    Ok((comment, key_line))
}

/// The secret key file's blob. `keynum_sk` is as stored: still encrypted when kdf is scrypt.
pub struct SecretKeyBlob {
    pub kdf_alg: [u8; 2],
    pub salt: [u8; 32],
    pub opslimit: u64,
    pub memlimit: u64,
    pub keynum_sk: Zeroizing<[u8; KEYNUM_SK_LEN]>,
}

impl SecretKeyBlob {
    pub fn to_bytes(&self) -> Zeroizing<[u8; SECRET_KEY_BLOB_LEN]> {
        let mut out = Zeroizing::new([0u8; SECRET_KEY_BLOB_LEN]);
        out[0..2].copy_from_slice(&SIG_ALG);
        out[2..4].copy_from_slice(&self.kdf_alg);
        out[4..6].copy_from_slice(&CHK_BLAKE2B);
        out[6..38].copy_from_slice(&self.salt);
        out[38..46].copy_from_slice(&self.opslimit.to_le_bytes());
        out[46..54].copy_from_slice(&self.memlimit.to_le_bytes());
        out[54..].copy_from_slice(self.keynum_sk.as_slice());
        out
    }

    pub fn from_base64(line: &str) -> Result<SecretKeyBlob, String> {
        let trimmed = line.trim();
        if let Ok(bytes) = BASE64.decode(trimmed) {
            if bytes.len() == PUBLIC_KEY_BLOB_LEN {
                return Err("this is a minisign public key, not a secret key".into());
            }
        }
        let raw: Zeroizing<[u8; SECRET_KEY_BLOB_LEN]> =
            Zeroizing::new(decode_exact(trimmed, "secret key")?);
        if raw[0..2] != SIG_ALG {
            return Err(
                "unsupported signature algorithm (minisign secret keys start with \"Ed\")".into(),
            );
        }
        if raw[4..6] != CHK_BLAKE2B {
            return Err("unsupported checksum algorithm (expected \"B2\", BLAKE2b)".into());
        }
        let kdf_alg = [raw[2], raw[3]];
        if kdf_alg != KDF_SCRYPT && kdf_alg != KDF_NONE {
            return Err(
                "unsupported key derivation function (expected \"Sc\", scrypt, or none)".into(),
            );
        }
        let mut salt = [0u8; 32];
        salt.copy_from_slice(&raw[6..38]);
        let mut le = [0u8; 8];
        le.copy_from_slice(&raw[38..46]);
        let opslimit = u64::from_le_bytes(le);
        le.copy_from_slice(&raw[46..54]);
        let memlimit = u64::from_le_bytes(le);
        let mut keynum_sk = Zeroizing::new([0u8; KEYNUM_SK_LEN]);
        keynum_sk.copy_from_slice(&raw[54..]);
        Ok(SecretKeyBlob {
            kdf_alg,
            salt,
            opslimit,
            memlimit,
            keynum_sk,
        })
    }

    pub fn is_encrypted(&self) -> bool {
        self.kdf_alg == KDF_SCRYPT
    }
}

/// The plaintext keynum_sk, split into its three fields.
pub struct KeynumSk {
    pub key_id: KeyId,
    /// libsodium's secret key: Ed25519 seed ‖ public key.
    pub secret: Zeroizing<[u8; 64]>,
    pub checksum: [u8; 32],
}

pub fn split_keynum_sk(bytes: &[u8; KEYNUM_SK_LEN]) -> KeynumSk {
    let mut parts = KeynumSk {
        key_id: [0; KEY_ID_LEN],
        secret: Zeroizing::new([0; 64]),
        checksum: [0; 32],
    };
    parts.key_id.copy_from_slice(&bytes[..KEY_ID_LEN]);
    parts
        .secret
        .copy_from_slice(&bytes[KEY_ID_LEN..KEY_ID_LEN + 64]);
    parts.checksum.copy_from_slice(&bytes[KEY_ID_LEN + 64..]);
    parts
}

pub fn join_keynum_sk(key_id: &KeyId, secret: &[u8; 64]) -> Zeroizing<[u8; KEYNUM_SK_LEN]> {
    let mut out = Zeroizing::new([0u8; KEYNUM_SK_LEN]);
    out[..KEY_ID_LEN].copy_from_slice(key_id);
    out[KEY_ID_LEN..KEY_ID_LEN + 64].copy_from_slice(secret);
    out[KEY_ID_LEN + 64..].copy_from_slice(&checksum(key_id, secret));
    out
}

/// libsodium's `pickparams` for `crypto_pwhash_scryptsalsa208sha256`: turn the opslimit and
/// memlimit stored in the file into scrypt's (log2 N, r, p). r is always 8.
pub fn pick_scrypt_params(opslimit: u64, memlimit: u64) -> (u32, u32, u32) {
    let opslimit = opslimit.max(32_768);
    let r: u32 = 8;
    let mut n_log2: u32 = 1;
    if opslimit < memlimit / 32 {
        let max_n = opslimit / (u64::from(r) * 4);
        while n_log2 < 63 && (1u64 << n_log2) <= max_n / 2 {
            n_log2 += 1;
        }
        (n_log2, r, 1)
    } else {
        let max_n = memlimit / (u64::from(r) * 128);
        while n_log2 < 63 && (1u64 << n_log2) <= max_n / 2 {
            n_log2 += 1;
        }
        let max_rp = ((opslimit / 4) / (1u64 << n_log2)).min(0x3fff_ffff);
        // max_rp <= 0x3fffffff, so the cast is lossless.
        (n_log2, r, max_rp as u32 / r)
    }
}

/// scrypt(passphrase, salt) stretched to the 104 bytes XORed onto keynum_sk.
pub fn kdf_stream(
    passphrase: &[u8],
    salt: &[u8; 32],
    opslimit: u64,
    memlimit: u64,
) -> Result<Zeroizing<[u8; KEYNUM_SK_LEN]>, String> {
    let (n_log2, r, p) = pick_scrypt_params(opslimit, memlimit);
    if n_log2 > u32::from(MAX_SCRYPT_LOG_N) || p > MAX_SCRYPT_P {
        return Err(format!(
            "its scrypt parameters (N = 2^{n_log2}, r = {r}, p = {p}) ask for more work than \
             minisign ever uses (N = 2^{MAX_SCRYPT_LOG_N}, p = 1)"
        ));
    }
    let n_log2 = u8::try_from(n_log2).map_err(|_| "scrypt N out of range".to_string())?;
    // The output-length argument of Params only matters for PHC strings; 104 bytes are fine for
    // the raw function.
    let params = scrypt::Params::new(n_log2, r, p, scrypt::Params::RECOMMENDED_LEN)
        .map_err(|e| format!("invalid scrypt parameters N = 2^{n_log2}, r = {r}, p = {p}: {e}"))?;
    let mut out = Zeroizing::new([0u8; KEYNUM_SK_LEN]);
    scrypt::scrypt(passphrase, salt, &params, out.as_mut_slice())
        .map_err(|e| format!("scrypt failed: {e}"))?;
    Ok(out)
}

pub fn xor_in_place(buf: &mut [u8; KEYNUM_SK_LEN], stream: &[u8; KEYNUM_SK_LEN]) {
    for (b, s) in buf.iter_mut().zip(stream.iter()) {
        *b ^= s;
    }
}

/// A parsed `.minisig` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minisig {
    pub untrusted_comment: String,
    pub alg: [u8; 2],
    pub key_id: KeyId,
    pub signature: [u8; 64],
    pub trusted_comment: String,
    pub global_signature: [u8; 64],
}

/// A comment must stay on one line and read back identically through minisign's C strings.
pub fn check_comment(comment: &str, max: usize, which: &str) -> Result<(), String> {
    if comment.contains(['\n', '\r', '\0']) {
        return Err(format!(
            "the {which} comment contains a line break or NUL byte"
        ));
    }
    if comment.len() > max {
        return Err(format!(
            "the {which} comment is {} bytes, minisign accepts at most {max}",
            comment.len()
        ));
    }
    Ok(())
}

impl Minisig {
    /// The data (or its BLAKE2b-512) is signed by the caller; this only lays out the text.
    pub fn to_text(&self) -> String {
        let mut block = [0u8; SIGNATURE_BLOB_LEN];
        block[..2].copy_from_slice(&self.alg);
        block[2..10].copy_from_slice(&self.key_id);
        block[10..].copy_from_slice(&self.signature);
        format!(
            "{UNTRUSTED_PREFIX}{}\n{}\n{TRUSTED_PREFIX}{}\n{}\n",
            self.untrusted_comment,
            encode_base64(&block),
            self.trusted_comment,
            encode_base64(&self.global_signature)
        )
    }

    /// What the global signature covers: the signature ‖ the trusted comment's bytes.
    pub fn global_message(signature: &[u8; 64], trusted_comment: &str) -> Vec<u8> {
        let mut m = Vec::with_capacity(64 + trusted_comment.len());
        m.extend_from_slice(signature);
        m.extend_from_slice(trusted_comment.as_bytes());
        m
    }

    /// Parse the four lines. Stricter than minisign where minisign would read something other
    /// than what the bytes say (a `\r` or NUL inside a comment truncates it there in C).
    pub fn parse(text: &str) -> Result<Minisig, String> {
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let mut next = |what: &str| {
            lines
                .next()
                .filter(|l| !l.is_empty())
                .ok_or_else(|| format!("it ends before the {what} line (truncated?)"))
        };
        let untrusted = next("untrusted comment")?;
        let untrusted_comment = untrusted
            .strip_prefix(UNTRUSTED_PREFIX)
            .ok_or("the first line does not start with \"untrusted comment: \"")?;
        check_comment(untrusted_comment, MAX_UNTRUSTED_COMMENT, "untrusted")?;
        let block: [u8; SIGNATURE_BLOB_LEN] = decode_exact(next("signature")?, "signature")?;
        let trusted = next("trusted comment")?;
        let trusted_comment = trusted
            .strip_prefix(TRUSTED_PREFIX)
            .ok_or("the third line does not start with \"trusted comment: \"")?;
        check_comment(trusted_comment, MAX_TRUSTED_COMMENT, "trusted")?;
        let global_signature: [u8; 64] =
            decode_exact(next("global signature")?, "global signature")?;
        if lines.any(|l| !l.trim().is_empty()) {
            return Err("there is more text after the fourth line".into());
        }
        let alg = [block[0], block[1]];
        if alg != SIG_ALG_PREHASHED && alg != SIG_ALG {
            return Err(format!(
                "unsupported signature algorithm {:?} (expected \"ED\" or legacy \"Ed\")",
                String::from_utf8_lossy(&alg)
            ));
        }
        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(&block[2..10]);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&block[10..]);
        Ok(Minisig {
            untrusted_comment: untrusted_comment.to_string(),
            alg,
            key_id,
            signature,
            trusted_comment: trusted_comment.to_string(),
            global_signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A key made by `minisign -G -W` (minisign 0.11): unencrypted, so salt, limits and
    // checksum are all zero.
    const MINISIGN_W_PUB: &str = "untrusted comment: minisign public key 658E6CC6E98FF59C\n\
                                  RWSc9Y/pxmyOZewzy78elC19pjKF+y3XSUY3zRhwL5hU+Mh34b6tdiwu\n";
    const MINISIGN_W_KEY: &str = "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAnPWP6cZsjmWh96CP/baiD1n9Wt3DP2cTLRO7JVxvmx1WIzTzMR7jRuwzy78elC19pjKF+y3XSUY3zRhwL5hU+Mh34b6tdiwuAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    #[test]
    fn layout_sizes() {
        assert_eq!(PUBLIC_KEY_BLOB_LEN, 42);
        assert_eq!(KEYNUM_SK_LEN, 104);
        assert_eq!(SECRET_KEY_BLOB_LEN, 158);
        assert_eq!(SIGNATURE_BLOB_LEN, 74);
        // minisign: comment_len >= COMMENTMAXBYTES - sizeof COMMENT_PREFIX warns, and the
        // trusted comment must be < TRUSTEDCOMMENTMAXBYTES - sizeof TRUSTED_COMMENT_PREFIX.
        assert_eq!(MAX_UNTRUSTED_COMMENT, 1003);
        assert_eq!(MAX_TRUSTED_COMMENT, 8173);
    }

    #[test]
    fn key_id_is_little_endian_upper_hex() {
        let id = [0x75, 0xcb, 0xca, 0x61, 0xe1, 0x9d, 0x38, 0xc4];
        assert_eq!(key_id_hex(&id), "C4389DE161CACB75");
    }

    #[test]
    fn public_key_round_trips_minisign_text() {
        let (comment, line) = key_file_lines(MINISIGN_W_PUB).unwrap();
        assert_eq!(comment, Some("minisign public key 658E6CC6E98FF59C"));
        let blob = PublicKeyBlob::from_base64(line).unwrap();
        assert_eq!(key_id_hex(&blob.key_id), "658E6CC6E98FF59C");
        assert_eq!(blob.to_file_text(), MINISIGN_W_PUB);
        // Bare line accepted too.
        assert_eq!(key_file_lines(line).unwrap(), (None, line));
    }

    #[test]
    fn secret_key_layout_matches_minisign() {
        let blob = SecretKeyBlob::from_base64(MINISIGN_W_KEY).unwrap();
        assert!(!blob.is_encrypted());
        assert_eq!(blob.opslimit, 0);
        assert_eq!(blob.memlimit, 0);
        let parts = split_keynum_sk(&blob.keynum_sk);
        assert_eq!(key_id_hex(&parts.key_id), "658E6CC6E98FF59C");
        // The public key sits in the second half of the 64-byte secret key.
        let pubkey = PublicKeyBlob::from_base64(key_file_lines(MINISIGN_W_PUB).unwrap().1).unwrap();
        assert_eq!(&parts.secret[32..], &pubkey.key);
        // minisign -W leaves the checksum zero.
        assert_eq!(parts.checksum, [0u8; 32]);
        assert_eq!(encode_base64(blob.to_bytes().as_slice()), MINISIGN_W_KEY);
    }

    #[test]
    fn public_and_secret_keys_are_told_apart() {
        let pub_line = key_file_lines(MINISIGN_W_PUB).unwrap().1;
        assert!(SecretKeyBlob::from_base64(pub_line)
            .err()
            .unwrap()
            .contains("public key, not a secret key"));
        assert!(PublicKeyBlob::from_base64(MINISIGN_W_KEY)
            .unwrap_err()
            .contains("secret key, not a public key"));
    }

    #[test]
    fn pickparams_matches_libsodium() {
        // minisign's defaults: N = 2^20, r = 8, p = 1.
        assert_eq!(
            pick_scrypt_params(OPSLIMIT_SENSITIVE, MEMLIMIT_SENSITIVE),
            (20, 8, 1)
        );
        // minisign halves both when memory is short.
        assert_eq!(
            pick_scrypt_params(OPSLIMIT_SENSITIVE / 2, MEMLIMIT_SENSITIVE / 2),
            (19, 8, 1)
        );
        // libsodium's INTERACTIVE limits (524288, 16 MiB): N = 2^14, r = 8, p = 1.
        assert_eq!(pick_scrypt_params(524_288, 16_777_216), (14, 8, 1));
        // opslimit binding: p = 1, N from opslimit/(4r), opslimit clamped up to 32768.
        assert_eq!(pick_scrypt_params(0, 1 << 40), (10, 8, 1));
        // memlimit binding with spare ops: p grows.
        assert_eq!(pick_scrypt_params(1 << 30, 1 << 24), (14, 8, 2048));
    }

    #[test]
    fn kdf_refuses_runaway_parameters() {
        let salt = [0u8; 32];
        assert!(kdf_stream(b"x", &salt, 1 << 40, 1 << 40)
            .err()
            .unwrap()
            .contains("more work"));
        assert!(kdf_stream(b"x", &salt, 1 << 30, 1 << 24).is_err());
        assert!(kdf_stream(b"x", &salt, 32_768, 1 << 20).is_ok());
    }

    #[test]
    fn scrypt_matches_rfc7914_vector() {
        // RFC 7914 §12, N = 16, r = 1, p = 1 (first 16 bytes): checks the raw scrypt call we
        // depend on, independently of pickparams.
        let params = scrypt::Params::new(4, 1, 1, 32).unwrap();
        let mut out = [0u8; 64];
        scrypt::scrypt(b"", b"", &params, &mut out).unwrap();
        assert_eq!(hex::encode(&out[..16]), "77d6576238657b203b19ca42c18a0497");
    }

    #[test]
    fn checksum_is_blake2b_256_not_truncated_512() {
        let id = [1u8; 8];
        let sk = [2u8; 64];
        let c = checksum(&id, &sk);
        let mut m = Vec::new();
        m.extend_from_slice(b"Ed");
        m.extend_from_slice(&id);
        m.extend_from_slice(&sk);
        let long = Blake2b512::digest(&m);
        assert_ne!(&c[..], &long[..32]);
        assert_eq!(c, <[u8; 32]>::from(Blake2b::<U32>::digest(&m)));
    }

    #[test]
    fn blake2b512_known_answer() {
        // BLAKE2b-512("abc"), RFC 7693 Appendix A.
        assert_eq!(
            hex::encode(prehash(b"abc")),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
             7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        );
    }

    #[test]
    fn minisig_round_trip_and_rejections() {
        let sig = Minisig {
            untrusted_comment: "u".into(),
            alg: SIG_ALG_PREHASHED,
            key_id: [9; 8],
            signature: [7; 64],
            trusted_comment: "t\tx".into(),
            global_signature: [5; 64],
        };
        let text = sig.to_text();
        assert_eq!(text.lines().count(), 4);
        assert_eq!(Minisig::parse(&text).unwrap(), sig);
        assert_eq!(Minisig::parse(&text.replace('\n', "\r\n")).unwrap(), sig);

        let lines: Vec<&str> = text.lines().collect();
        assert!(Minisig::parse(&lines[..3].join("\n"))
            .unwrap_err()
            .contains("truncated"));
        assert!(Minisig::parse("").unwrap_err().contains("truncated"));
        assert!(
            Minisig::parse(&text.replace("trusted comment: t", "trusted comment: t\rX"))
                .unwrap_err()
                .contains("line break")
        );
        assert!(Minisig::parse(&format!("{text}extra\n"))
            .unwrap_err()
            .contains("more text"));
        let mut other = sig.clone();
        other.alg = *b"XX";
        assert!(Minisig::parse(&other.to_text())
            .unwrap_err()
            .contains("unsupported signature algorithm"));
        assert!(Minisig::parse(&text.replacen("untrusted", "distrusted", 1))
            .unwrap_err()
            .contains("first line"));
        let short = format!(
            "{}\n{}\n{}\n{}\n",
            lines[0],
            &lines[1][..20],
            lines[2],
            lines[3]
        );
        assert!(Minisig::parse(&short).unwrap_err().contains("bytes"));
    }

    #[test]
    fn comments_are_checked() {
        assert!(check_comment("ok", 10, "trusted").is_ok());
        assert!(check_comment("a\nb", 10, "trusted").is_err());
        assert!(check_comment("a\0b", 10, "trusted").is_err());
        assert!(check_comment(&"x".repeat(11), 10, "trusted").is_err());
    }
}
