//! Reading a PKCS#12 bundle (RFC 7292): its MAC checked with the password first, then its
//! (PBES2-encrypted) private key and its certificates taken out.
//!
//! What is read: password integrity (an HMAC-SHA-256/384/512 MacData, as OpenSSL 3 and current
//! Windows write it), data and encryptedData safes, keyBag, pkcs8ShroudedKeyBag and certBag.
//! What is refused, saying how to convert: the legacy PKCS#12 ciphers (RC2, 3DES with the
//! PKCS#12 KDF) and the SHA-1 MAC of OpenSSL 1.x and old Windows exports; public-key integrity.
//! KDF costs are bounded so that a hostile file cannot make massho spin or exhaust memory.

use std::path::Path;

use der::asn1::{ContextSpecific, OctetString};
use der::{Any, Decode, Encode};
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};
use x509_cert::spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

use super::algorithms::DigestAlg;
use super::cms::ID_DATA;
use super::material::PassphraseSource;
use super::X509Error;

const ID_ENCRYPTED_DATA: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
const ID_SHA1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.14.3.2.26");

/// PBKDF2 and PKCS#12-KDF iteration counts above this are refused (OpenSSL writes 2048).
const MAX_ITERATIONS: u32 = 10_000_000;
/// scrypt above N·r = 2^23 (1 GiB of memory) is refused.
const MAX_SCRYPT_MEMORY_UNITS: u64 = 1 << 23;
/// At most this many bags.
const MAX_BAGS: usize = 256;

/// What a bundle holds: one private key (PKCS#8 DER) and the certificates (DER).
pub(super) struct Bundle {
    pub key_pkcs8: Zeroizing<Vec<u8>>,
    pub certificates: Vec<Vec<u8>>,
}

pub(super) fn read(
    path: &Path,
    der: &[u8],
    passphrase: PassphraseSource<'_>,
) -> Result<Bundle, X509Error> {
    let format = |detail: String| X509Error::Format {
        path: path.to_owned(),
        detail,
    };
    let pfx = ::pkcs12::pfx::Pfx::from_der(der).map_err(|e| {
        format(format!(
            "neither a PEM file nor a PKCS#12 (.p12/.pfx) bundle ({e})"
        ))
    })?;
    if pfx.auth_safe.content_type != ID_DATA {
        return Err(X509Error::Legacy {
            path: path.to_owned(),
            detail: format!(
                "a PKCS#12 bundle protected by a public key (content type {}), not by a password",
                pfx.auth_safe.content_type
            ),
        });
    }
    let safe: OctetString = pfx
        .auth_safe
        .content
        .decode_as()
        .map_err(|e| format(format!("unreadable PKCS#12 authSafe ({e})")))?;
    let password = match &pfx.mac_data {
        Some(mac) => {
            // An empty password (OpenSSL's -passout pass:) needs no prompt.
            if mac_matches(path, mac, safe.as_bytes(), Some(""))?
                || mac_matches(path, mac, safe.as_bytes(), None)?
            {
                Zeroizing::new(String::new())
            } else {
                let password = Zeroizing::new(passphrase()?);
                if !mac_matches(path, mac, safe.as_bytes(), Some(&password))? {
                    return Err(X509Error::WrongPassphrase {
                        path: path.to_owned(),
                    });
                }
                password
            }
        }
        None => Zeroizing::new(passphrase()?),
    };

    let contents: Vec<cms::content_info::ContentInfo> = Vec::from_der(safe.as_bytes())
        .map_err(|e| format(format!("unreadable PKCS#12 AuthenticatedSafe ({e})")))?;
    let mut key: Option<Zeroizing<Vec<u8>>> = None;
    let mut certificates = Vec::new();
    let mut bags = 0usize;
    for content in contents {
        let plain: Zeroizing<Vec<u8>> = if content.content_type == ID_DATA {
            let octets: OctetString = content
                .content
                .decode_as()
                .map_err(|e| format(format!("unreadable PKCS#12 safe ({e})")))?;
            Zeroizing::new(octets.as_bytes().to_vec())
        } else if content.content_type == ID_ENCRYPTED_DATA {
            let encrypted: cms::encrypted_data::EncryptedData = content
                .content
                .decode_as()
                .map_err(|e| format(format!("unreadable PKCS#12 encrypted safe ({e})")))?;
            let info = encrypted.enc_content_info;
            let ciphertext = info
                .encrypted_content
                .ok_or_else(|| format("an encrypted safe without content".into()))?;
            decrypt_pbes2(
                path,
                &info.content_enc_alg,
                ciphertext.as_bytes(),
                password.as_bytes(),
            )?
        } else {
            return Err(format(format!(
                "a PKCS#12 safe of content type {}",
                content.content_type
            )));
        };
        let safe_bags: Vec<::pkcs12::safe_bag::SafeBag> = Vec::from_der(&plain)
            .map_err(|e| format(format!("unreadable PKCS#12 SafeContents ({e})")))?;
        for bag in safe_bags {
            bags += 1;
            if bags > MAX_BAGS {
                return Err(format(format!("more than {MAX_BAGS} PKCS#12 bags")));
            }
            // The crate keeps bagValue with its [0] EXPLICIT wrapper.
            let value = ContextSpecific::<Any>::from_der(&bag.bag_value)
                .map(|c| c.value)
                .map_err(|e| format(format!("unreadable PKCS#12 bag ({e})")))?;
            let value_der = Zeroizing::new(
                value
                    .to_der()
                    .map_err(|e| format(format!("unreadable PKCS#12 bag ({e})")))?,
            );
            let found = match bag.bag_id {
                ::pkcs12::PKCS_12_CERT_BAG_OID => {
                    let cert = ::pkcs12::cert_type::CertBag::from_der(&value_der)
                        .map_err(|e| format(format!("unreadable certBag ({e})")))?;
                    if cert.cert_id == ::pkcs12::PKCS_12_X509_CERT_OID {
                        certificates.push(cert.cert_value.as_bytes().to_vec());
                    }
                    None
                }
                ::pkcs12::PKCS_12_KEY_BAG_OID => Some(value_der),
                ::pkcs12::PKCS_12_PKCS8_KEY_BAG_OID => {
                    let info = ::pkcs12::pbe_params::EncryptedPrivateKeyInfo::from_der(&value_der)
                        .map_err(|e| format(format!("unreadable shrouded key bag ({e})")))?;
                    Some(decrypt_pbes2(
                        path,
                        &info.encryption_algorithm,
                        info.encrypted_data.as_bytes(),
                        password.as_bytes(),
                    )?)
                }
                // CRLs, secrets and nested safes are not needed to sign.
                _ => None,
            };
            if let Some(found) = found {
                if key.replace(found).is_some() {
                    return Err(format(
                        "the PKCS#12 bundle holds two private keys; export only the signing key"
                            .into(),
                    ));
                }
            }
        }
    }
    let key_pkcs8 = key.ok_or_else(|| {
        format("the PKCS#12 bundle holds no private key; export it with its key".into())
    })?;
    Ok(Bundle {
        key_pkcs8,
        certificates,
    })
}

/// Whether `mac` is the HMAC of `data` under `password` (`None`: the absent password some
/// tools use for "no password", as against the empty one).
fn mac_matches(
    path: &Path,
    mac: &::pkcs12::mac_data::MacData,
    data: &[u8],
    password: Option<&str>,
) -> Result<bool, X509Error> {
    let oid = mac.mac.algorithm.oid;
    let iterations = mac.iterations;
    if iterations < 1 || iterations as u32 > MAX_ITERATIONS {
        return Err(X509Error::Format {
            path: path.to_owned(),
            detail: format!("an unreasonable MAC iteration count {iterations}"),
        });
    }
    let Some(digest) = DigestAlg::from_oid(&oid) else {
        let detail = if oid == ID_SHA1 {
            "a legacy PKCS#12 bundle (SHA-1 MAC)".to_owned()
        } else {
            format!("a PKCS#12 MAC with digest {oid}")
        };
        return Err(X509Error::Legacy {
            path: path.to_owned(),
            detail,
        });
    };
    let salt = mac.mac_salt.as_bytes();
    let expected = mac.mac.digest.as_bytes();
    use ::pkcs12::kdf::{derive_key, derive_key_utf8, Pkcs12KeyType};
    macro_rules! check {
        ($d:ty, $len:expr) => {{
            let key = Zeroizing::new(match password {
                Some(p) => derive_key_utf8::<$d>(p, salt, Pkcs12KeyType::Mac, iterations, $len)
                    .map_err(|e| X509Error::Format {
                        path: path.to_owned(),
                        detail: format!("the passphrase cannot be used for PKCS#12 ({e})"),
                    })?,
                None => derive_key::<$d>(&[], salt, Pkcs12KeyType::Mac, iterations, $len),
            });
            let mut hmac =
                <Hmac<$d> as Mac>::new_from_slice(&key).map_err(|e| X509Error::Format {
                    path: path.to_owned(),
                    detail: format!("MAC key ({e})"),
                })?;
            hmac.update(data);
            Ok(hmac.verify_slice(expected).is_ok())
        }};
    }
    match digest {
        DigestAlg::Sha256 => check!(Sha256, 32),
        DigestAlg::Sha384 => check!(Sha384, 48),
        DigestAlg::Sha512 => check!(Sha512, 64),
    }
}

/// Decrypt PBES2 content (an encrypted key or safe) after bounding the KDF's cost. A padding
/// failure means the wrong password.
pub(super) fn decrypt_pbes2(
    path: &Path,
    algorithm: &AlgorithmIdentifierOwned,
    ciphertext: &[u8],
    password: &[u8],
) -> Result<Zeroizing<Vec<u8>>, X509Error> {
    let alg_der = algorithm.to_der().map_err(|e| X509Error::Format {
        path: path.to_owned(),
        detail: format!("unreadable encryption algorithm ({e})"),
    })?;
    let scheme =
        pkcs5::EncryptionScheme::try_from(alg_der.as_slice()).map_err(|_| X509Error::Legacy {
            path: path.to_owned(),
            detail: format!("encryption algorithm {}", algorithm.oid),
        })?;
    let Some(params) = scheme.pbes2() else {
        return Err(X509Error::Legacy {
            path: path.to_owned(),
            detail: format!("PBES1 encryption ({})", algorithm.oid),
        });
    };
    let too_costly = |what: String| X509Error::Format {
        path: path.to_owned(),
        detail: format!("{what}; refusing a key-derivation this costly"),
    };
    if let Some(p) = params.kdf.pbkdf2() {
        if p.iteration_count > MAX_ITERATIONS {
            return Err(too_costly(format!(
                "PBKDF2 with {} iterations",
                p.iteration_count
            )));
        }
    }
    if let Some(s) = params.kdf.scrypt() {
        let units = s.cost_parameter.saturating_mul(u64::from(s.block_size));
        if units > MAX_SCRYPT_MEMORY_UNITS || s.parallelization > 16 {
            return Err(too_costly(format!(
                "scrypt with N={} r={} p={}",
                s.cost_parameter, s.block_size, s.parallelization
            )));
        }
    }
    scheme
        .decrypt(password, ciphertext)
        .map(Zeroizing::new)
        .map_err(|e| match e {
            pkcs5::Error::DecryptFailed => X509Error::WrongPassphrase {
                path: path.to_owned(),
            },
            other => X509Error::Legacy {
                path: path.to_owned(),
                detail: format!("encryption it cannot undo ({other})"),
            },
        })
}
