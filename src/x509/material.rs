//! The organisation's signing material: a private key, its certificate and the chain above it,
//! from a PKCS#12 bundle (`.p12`/`.pfx`) or a PEM file holding all three.
//!
//! The key must belong to one of the certificates (compared by public key), which becomes the
//! signer; every other certificate is the chain sent with each signature. Keys are RSA or ECDSA
//! P-256. Encrypted keys are PBES2 (PBKDF2 or scrypt with AES-CBC), what OpenSSL 3 writes by
//! default; the passphrase is asked for only when something is encrypted, through the same
//! source as the minisign key's (terminal, or `MASSHO_PASSPHRASE_FILE`).

use std::path::{Path, PathBuf};

use der::asn1::ObjectIdentifier;
use der::{Any, Decode, Encode};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use x509_cert::spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

use super::algorithms::{ECDSA_WITH_SHA256, ID_EC_PUBLIC_KEY, PRIME256V1, RSA_ENCRYPTION};
use super::path::{Cert, MAX_CERTIFICATES};
use super::{pkcs12, X509Error};
use crate::input;

/// A source of the passphrase, called at most once, only when the bundle is encrypted.
pub type PassphraseSource<'a> = &'a dyn Fn() -> Result<String, X509Error>;

/// The private key, RSA (signing PKCS#1 v1.5) or ECDSA P-256. Both wipe themselves on drop.
#[derive(Clone)]
enum SigningKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
}

impl SigningKey {
    fn public_key_der(&self) -> Option<Vec<u8>> {
        match self {
            SigningKey::Rsa(k) => k
                .to_public_key()
                .to_public_key_der()
                .ok()
                .map(|d| d.into_vec()),
            SigningKey::P256(k) => k
                .verifying_key()
                .to_public_key_der()
                .ok()
                .map(|d| d.into_vec()),
        }
    }
}

/// A signer: key, certificate, chain. `Debug` shows the certificate, never the key.
#[derive(Clone)]
pub struct SignerMaterial {
    signer: Cert,
    chain: Vec<Cert>,
    key: SigningKey,
    origin: PathBuf,
}

impl std::fmt::Debug for SignerMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerMaterial")
            .field("signer", &self.signer.subject())
            .field("chain", &self.chain.len())
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl SignerMaterial {
    /// Read the bundle at `path` (PKCS#12, or PEM with the key and certificates), asking
    /// `passphrase` only if it is encrypted, and check that the certificate may sign now.
    pub fn load(
        path: &Path,
        passphrase: PassphraseSource<'_>,
    ) -> Result<SignerMaterial, X509Error> {
        let bytes = Zeroizing::new(input::read_regular(
            path,
            "X.509 signing key",
            input::limit::X509,
        )?);
        let pem = std::str::from_utf8(&bytes)
            .ok()
            .filter(|t| t.contains("-----BEGIN"));
        let (key, certificates) = match pem {
            Some(text) => from_pem(path, text, passphrase)?,
            None => {
                let bundle = pkcs12::read(path, &bytes, passphrase)?;
                let key = private_key_from_pkcs8(path, &bundle.key_pkcs8)?;
                let certs = bundle
                    .certificates
                    .iter()
                    .map(|der| Cert::from_der(der))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|detail| X509Error::Format {
                        path: path.to_owned(),
                        detail: format!("a certificate in the PKCS#12 bundle: {detail}"),
                    })?;
                (key, certs)
            }
        };
        let material = assemble(path, key, certificates)?;
        material.check_usable(time::OffsetDateTime::now_utc())?;
        Ok(material)
    }

    /// The signer's certificate.
    pub fn signer(&self) -> &Cert {
        &self.signer
    }

    /// The certificates sent with each signature after the signer's.
    pub fn chain(&self) -> &[Cert] {
        &self.chain
    }

    /// The signer's subject, RFC 4514.
    pub fn subject(&self) -> String {
        self.signer.subject()
    }

    /// A certificate that has expired, is not yet valid or may not sign documents would make
    /// signatures every verifier rejects: refuse it before anything is signed.
    pub fn check_usable(&self, at: time::OffsetDateTime) -> Result<(), X509Error> {
        let unusable = |failure: super::Failure| X509Error::Unusable {
            path: self.origin.clone(),
            detail: failure.to_string(),
        };
        self.signer.check_validity(at).map_err(unusable)?;
        self.signer.check_signer_usage().map_err(unusable)
    }

    /// Sign a SHA-256 digest: (signatureAlgorithm, signature value) for the SignerInfo.
    pub(crate) fn sign_sha256(
        &self,
        digest: &[u8; 32],
    ) -> Result<(AlgorithmIdentifierOwned, Vec<u8>), X509Error> {
        match &self.key {
            SigningKey::Rsa(key) => {
                // Blinded: the random factor hides the private exponent's timing.
                let signature = key
                    .sign_with_rng(
                        &mut rand_core::OsRng,
                        rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                        digest,
                    )
                    .map_err(|e| X509Error::Sign(format!("RSA: {e}")))?;
                // rsaEncryption with NULL parameters, as OpenSSL and most CMS signers write it.
                let alg = AlgorithmIdentifierOwned {
                    oid: RSA_ENCRYPTION,
                    parameters: Some(Any::null()),
                };
                Ok((alg, signature))
            }
            SigningKey::P256(key) => {
                let signature: p256::ecdsa::Signature = key
                    .sign_prehash(digest)
                    .map_err(|e| X509Error::Sign(format!("ECDSA: {e}")))?;
                let alg = AlgorithmIdentifierOwned {
                    oid: ECDSA_WITH_SHA256,
                    parameters: None,
                };
                Ok((alg, signature.to_der().as_bytes().to_vec()))
            }
        }
    }
}

/// The signer is the certificate whose public key is the key's; the others are its chain.
fn assemble(
    path: &Path,
    key: SigningKey,
    certificates: Vec<Cert>,
) -> Result<SignerMaterial, X509Error> {
    if certificates.is_empty() {
        return Err(X509Error::Format {
            path: path.to_owned(),
            detail: "it holds a private key but no certificate; add the signer's certificate and its chain".into(),
        });
    }
    let public = key.public_key_der().ok_or_else(|| X509Error::Format {
        path: path.to_owned(),
        detail: "cannot derive the public key of its private key".into(),
    })?;
    let matches = |c: &Cert| {
        c.cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .is_ok_and(|d| d == public)
    };
    let Some(at) = certificates.iter().position(matches) else {
        return Err(X509Error::KeyMismatch {
            path: path.to_owned(),
            subjects: certificates.iter().map(Cert::subject).collect(),
        });
    };
    let mut chain = certificates;
    let signer = chain.remove(at);
    // A chain file that repeats the signer or a CA: each certificate is sent once.
    let mut unique: Vec<Cert> = Vec::new();
    for c in chain {
        if c.der != signer.der && !unique.iter().any(|u| u.der == c.der) {
            unique.push(c);
        }
    }
    Ok(SignerMaterial {
        signer,
        chain: unique,
        key,
        origin: path.to_owned(),
    })
}

/// The PEM blocks of `text` as (label, DER), in order. Text between blocks (OpenSSL's "Bag
/// Attributes", comments) is skipped.
pub(crate) fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    const BEGIN: &str = "-----BEGIN ";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let label = after
            .split_once("-----")
            .map(|(l, _)| l.to_owned())
            .ok_or("a PEM BEGIN line without its closing dashes")?;
        let end_marker = format!("-----END {label}-----");
        let end = rest[start..]
            .find(&end_marker)
            .ok_or_else(|| format!("a PEM {label} block without its END line"))?
            + start
            + end_marker.len();
        let block = &rest[start..end];
        if block.contains("Proc-Type:") {
            return Err(format!(
                "the {label} block is encrypted in OpenSSL's legacy PEM format (Proc-Type: 4,ENCRYPTED), which massho does not read; convert it to PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD.pem -out NEW.pem`"
            ));
        }
        let (_, der) = der::pem::decode_vec(block.as_bytes())
            .map_err(|e| format!("a PEM {label} block that does not decode ({e})"))?;
        blocks.push((label, der));
        if blocks.len() > MAX_CERTIFICATES {
            return Err(format!("more than {MAX_CERTIFICATES} PEM blocks"));
        }
        rest = &rest[end..];
    }
    Ok(blocks)
}

fn from_pem(
    path: &Path,
    text: &str,
    passphrase: PassphraseSource<'_>,
) -> Result<(SigningKey, Vec<Cert>), X509Error> {
    let format = |detail: String| X509Error::Format {
        path: path.to_owned(),
        detail,
    };
    let mut key = None;
    let mut certificates = Vec::new();
    for (label, der) in pem_blocks(text).map_err(format)? {
        let der = Zeroizing::new(der);
        let found = match label.as_str() {
            "CERTIFICATE" => {
                certificates.push(Cert::from_der(&der).map_err(format)?);
                continue;
            }
            "PRIVATE KEY" => private_key_from_pkcs8(path, &der)?,
            "ENCRYPTED PRIVATE KEY" => {
                let info = ::pkcs12::pbe_params::EncryptedPrivateKeyInfo::from_der(&der)
                    .map_err(|e| format(format!("unreadable ENCRYPTED PRIVATE KEY ({e})")))?;
                let password = Zeroizing::new(passphrase()?);
                let pkcs8 = pkcs12::decrypt_pbes2(
                    path,
                    &info.encryption_algorithm,
                    info.encrypted_data.as_bytes(),
                    password.as_bytes(),
                )?;
                private_key_from_pkcs8(path, &pkcs8)?
            }
            "RSA PRIVATE KEY" => SigningKey::Rsa(Box::new(
                rsa::RsaPrivateKey::from_pkcs1_der(&der)
                    .map_err(|e| format(format!("unreadable RSA PRIVATE KEY ({e})")))?,
            )),
            "EC PRIVATE KEY" => SigningKey::P256(
                p256::SecretKey::from_sec1_der(&der)
                    .map_err(|e| X509Error::UnsupportedKey {
                        path: path.to_owned(),
                        what: format!("an EC PRIVATE KEY that is not a P-256 key ({e})"),
                    })?
                    .into(),
            ),
            // OpenSSL writes the curve's parameters before an EC key; they are implied by it.
            "EC PARAMETERS" => continue,
            other => return Err(format(format!("an unexpected PEM block {other}"))),
        };
        if key.replace(found).is_some() {
            return Err(format(
                "it holds two private keys; keep only the signing key".into(),
            ));
        }
    }
    let key = key.ok_or_else(|| {
        format("it holds no private key; put the signing key (PRIVATE KEY or ENCRYPTED PRIVATE KEY), its certificate and the chain in one PEM file, or use a PKCS#12 (.p12) file".into())
    })?;
    Ok((key, certificates))
}

/// A PKCS#8 PrivateKeyInfo: RSA, or EC on P-256.
fn private_key_from_pkcs8(path: &Path, der: &[u8]) -> Result<SigningKey, X509Error> {
    let info = rsa::pkcs8::PrivateKeyInfo::try_from(der).map_err(|e| X509Error::Format {
        path: path.to_owned(),
        detail: format!("unreadable private key ({e})"),
    })?;
    let unsupported = |what: String| X509Error::UnsupportedKey {
        path: path.to_owned(),
        what,
    };
    let alg: ObjectIdentifier = info.algorithm.oid;
    if alg == RSA_ENCRYPTION {
        let key = rsa::RsaPrivateKey::from_pkcs8_der(der)
            .map_err(|e| unsupported(format!("an unreadable RSA key ({e})")))?;
        return Ok(SigningKey::Rsa(Box::new(key)));
    }
    if alg == ID_EC_PUBLIC_KEY {
        let curve: Option<ObjectIdentifier> = info.algorithm.parameters_oid().ok();
        if curve != Some(PRIME256V1) {
            return Err(unsupported(format!(
                "an EC key on curve {}",
                curve.map_or("(unnamed)".to_owned(), |c| c.to_string())
            )));
        }
        let key = p256::SecretKey::from_pkcs8_der(der)
            .map_err(|e| unsupported(format!("an unreadable P-256 key ({e})")))?;
        return Ok(SigningKey::P256(key.into()));
    }
    Err(unsupported(format!("a key of algorithm {alg}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_skip_text_between_them_and_refuse_legacy_encryption() {
        let text = "Bag Attributes\n    localKeyID: 01\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\nsubject=CN x\n-----BEGIN PRIVATE KEY-----\nBAUG\n-----END PRIVATE KEY-----\n";
        let blocks = pem_blocks(text).unwrap();
        assert_eq!(
            blocks,
            vec![
                ("CERTIFICATE".to_owned(), vec![1, 2, 3]),
                ("PRIVATE KEY".to_owned(), vec![4, 5, 6])
            ]
        );
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAQID\n-----END RSA PRIVATE KEY-----\n";
        let e = pem_blocks(legacy).unwrap_err();
        assert!(e.contains("openssl pkcs8 -topk8"), "{e}");
        assert!(pem_blocks("-----BEGIN CERTIFICATE-----\nAQID\n").is_err());
    }
}
