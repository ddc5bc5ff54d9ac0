//! The digest and public-key algorithms massho checks X.509 and CMS signatures with: SHA-256/384/512,
//! RSA PKCS#1 v1.5 and ECDSA P-256. One place for both users, the RFC 3161 token check
//! (`timestamp`) and the CAdES signatures and certificate paths of this module.

use der::asn1::ObjectIdentifier;
use der::Encode;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

pub(crate) const ID_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub(crate) const ID_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
pub(crate) const ID_SHA512: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

pub(crate) const RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub(crate) const SHA256_WITH_RSA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
pub(crate) const ID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(crate) const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub(crate) const ECDSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");

/// A digest massho accepts in a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigestAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    pub(crate) fn from_oid(oid: &ObjectIdentifier) -> Option<DigestAlg> {
        match *oid {
            ID_SHA256 => Some(DigestAlg::Sha256),
            ID_SHA384 => Some(DigestAlg::Sha384),
            ID_SHA512 => Some(DigestAlg::Sha512),
            _ => None,
        }
    }

    /// The digest a combined signature algorithm (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`,
    /// as a certificate names its issuer's signature) implies.
    pub(crate) fn of_signature_algorithm(oid: &ObjectIdentifier) -> Option<DigestAlg> {
        match *oid {
            SHA256_WITH_RSA | ECDSA_WITH_SHA256 => Some(DigestAlg::Sha256),
            SHA384_WITH_RSA | ECDSA_WITH_SHA384 => Some(DigestAlg::Sha384),
            SHA512_WITH_RSA | ECDSA_WITH_SHA512 => Some(DigestAlg::Sha512),
            _ => None,
        }
    }

    /// The digest an AlgorithmIdentifier names, with absent or NULL parameters only.
    pub(crate) fn from_identifier(alg: &AlgorithmIdentifierOwned) -> Option<DigestAlg> {
        let params_ok = alg
            .parameters
            .as_ref()
            .is_none_or(|p| *p == der::Any::null());
        params_ok.then(|| DigestAlg::from_oid(&alg.oid)).flatten()
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            DigestAlg::Sha256 => Sha256::digest(data).to_vec(),
            DigestAlg::Sha384 => Sha384::digest(data).to_vec(),
            DigestAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// Why a signature did not verify. Callers word it for their file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VerifyError {
    /// An algorithm or key type massho does not verify (named).
    Unsupported(String),
    /// The public key cannot be read.
    BadKey(String),
    /// The signature algorithm names another digest than the one used.
    Inconsistent(String),
    /// Well-formed, and wrong: the signed bytes or the signature were changed.
    Invalid,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::Unsupported(what) => write!(
                f,
                "{what} is not supported (massho verifies RSA PKCS#1 v1.5 and ECDSA P-256 with SHA-256/384/512)"
            ),
            VerifyError::BadKey(e) => write!(f, "unreadable public key ({e})"),
            VerifyError::Inconsistent(e) => f.write_str(e),
            VerifyError::Invalid => f.write_str("the signature does not verify"),
        }
    }
}

/// Verify `signature` over `hashed` (the `hash` digest of the signed bytes) with the public key
/// `spki`, under `signature_algorithm` (a bare `rsaEncryption` as CMS writes it, or a combined
/// OID that must agree with `hash`).
pub(crate) fn verify_signature(
    spki: &SubjectPublicKeyInfoOwned,
    signature_algorithm: &AlgorithmIdentifierOwned,
    hash: DigestAlg,
    hashed: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    let spki_der = spki
        .to_der()
        .map_err(|e| VerifyError::BadKey(e.to_string()))?;
    let sig_oid = signature_algorithm.oid;
    let unsupported = || {
        VerifyError::Unsupported(format!(
            "signature algorithm {sig_oid} with a {} key",
            spki.algorithm.oid
        ))
    };
    let mismatch = || {
        VerifyError::Inconsistent(format!(
            "signature algorithm {sig_oid} does not go with digest {hash:?}"
        ))
    };
    // The parameters are not covered by every signature that names them (a certificate's outer
    // signatureAlgorithm, a SignerInfo's): only the forms the RFCs define are accepted.
    let null_or_absent = signature_algorithm
        .parameters
        .as_ref()
        .is_none_or(|p| *p == der::Any::null());
    if spki.algorithm.oid == RSA_ENCRYPTION {
        if !null_or_absent {
            return Err(VerifyError::Inconsistent(format!(
                "signature algorithm {sig_oid} with parameters other than NULL"
            )));
        }
        // rsaEncryption alone is the usual CMS form; the combined OIDs must agree with the digest.
        let consistent = match sig_oid {
            RSA_ENCRYPTION => true,
            SHA256_WITH_RSA => hash == DigestAlg::Sha256,
            SHA384_WITH_RSA => hash == DigestAlg::Sha384,
            SHA512_WITH_RSA => hash == DigestAlg::Sha512,
            _ => return Err(unsupported()),
        };
        if !consistent {
            return Err(mismatch());
        }
        let key = rsa::RsaPublicKey::from_public_key_der(&spki_der)
            .map_err(|e| VerifyError::BadKey(format!("RSA: {e}")))?;
        let scheme = match hash {
            DigestAlg::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
            DigestAlg::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
            DigestAlg::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
        };
        key.verify(scheme, hashed, signature)
            .map_err(|_| VerifyError::Invalid)
    } else if spki.algorithm.oid == ID_EC_PUBLIC_KEY {
        let curve: Option<ObjectIdentifier> = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as().ok());
        if curve != Some(PRIME256V1) {
            return Err(VerifyError::Unsupported(format!(
                "an EC key on curve {}",
                curve.map_or("(unnamed)".to_owned(), |c| c.to_string())
            )));
        }
        if signature_algorithm.parameters.is_some() && sig_oid != ID_EC_PUBLIC_KEY {
            return Err(VerifyError::Inconsistent(format!(
                "signature algorithm {sig_oid} with parameters (RFC 5758: absent)"
            )));
        }
        let consistent = match sig_oid {
            ECDSA_WITH_SHA256 => hash == DigestAlg::Sha256,
            ECDSA_WITH_SHA384 => hash == DigestAlg::Sha384,
            ECDSA_WITH_SHA512 => hash == DigestAlg::Sha512,
            ID_EC_PUBLIC_KEY => true,
            _ => return Err(unsupported()),
        };
        if !consistent {
            return Err(mismatch());
        }
        let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der)
            .map_err(|e| VerifyError::BadKey(format!("P-256: {e}")))?;
        let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| VerifyError::Invalid)?;
        key.verify_prehash(hashed, &sig)
            .map_err(|_| VerifyError::Invalid)
    } else {
        Err(unsupported())
    }
}
