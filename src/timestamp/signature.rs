//! Checking the TSA's CMS signature on a token against the TSA's certificate (RFC 5652 §5.4,
//! RFC 3161 §2.3 and §2.4.2). Chain building to a trusted root is not done here: that is a trust
//! decision the auditor makes with their own store (`openssl ts -verify -CAfile`).

use cms::signed_data::{SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectKeyIdentifier};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

use super::asn1::ID_CT_TSTINFO;
use super::token::{rfc3339, Token};
use super::TimestampError;

const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");

/// Verify the CMS SignedData signature of the token with the TSA certificate (PEM or DER file
/// contents): signer identified by the cert, signed attributes' messageDigest == SHA-256(eContent
/// TSTInfo DER), signature valid over the DER of the signed attributes (SET OF), for RSA PKCS#1
/// v1.5 with SHA-256 and ECDSA P-256/SHA-256 at least; also check the cert has extendedKeyUsage
/// timeStamping (critical per RFC 3161).
///
/// Also checked: the signed content type is TSTInfo, an ESS signingCertificateV2 attribute (when
/// present) names this certificate's hash, and the token's time lies within the certificate's
/// validity. SHA-384 and SHA-512 are accepted as well as SHA-256.
pub fn verify_tsa_signature(token_or_tsr: &[u8], tsa_cert: &[u8]) -> Result<(), TimestampError> {
    let token = Token::parse(token_or_tsr)?;
    let cert_der = certificate_der(tsa_cert)?;
    let cert = Certificate::from_der(&cert_der).map_err(|e| TimestampError::TsaCert {
        detail: format!("not an X.509 certificate ({e})"),
    })?;
    check_timestamping_usage(&cert)?;

    let signer = find_signer(&token, &cert)?;
    let hash = DigestAlg::from_oid(&signer.digest_alg.oid)?;
    let signed_attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| bad("the signer has no signed attributes, which RFC 3161 requires"))?;

    let mut content_type_ok = false;
    let mut message_digest_ok = false;
    for attr in signed_attrs.iter() {
        let mut values = attr.values.iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(bad(&format!("attribute {} must have one value", attr.oid)));
        };
        if attr.oid == ID_CONTENT_TYPE {
            let oid: ObjectIdentifier = value
                .decode_as()
                .map_err(|e| bad(&format!("content-type attribute: {e}")))?;
            content_type_ok = oid == ID_CT_TSTINFO;
        } else if attr.oid == ID_MESSAGE_DIGEST {
            let digest: OctetString = value
                .decode_as()
                .map_err(|e| bad(&format!("message-digest attribute: {e}")))?;
            message_digest_ok = digest.as_bytes() == hash.digest(&token.tst_info_der).as_slice();
        } else if attr.oid == ID_SIGNING_CERTIFICATE_V2 {
            check_signing_certificate(value, &cert_der, &cert)?;
        }
    }
    if !content_type_ok {
        return Err(bad(
            "the signed content-type attribute is missing or not TSTInfo",
        ));
    }
    if !message_digest_ok {
        return Err(bad(
            "the signed message digest does not match the TSTInfo (its time, serial or imprint \
             was changed after signing)",
        ));
    }

    // RFC 5652 §5.4: the signature covers the DER encoding of the attributes as a SET OF
    // (tag 0x31), not the [0] IMPLICIT form they travel in. `SetOfVec` encodes in DER order.
    let attrs_der = signed_attrs
        .to_der()
        .map_err(|e| bad(&format!("cannot encode the signed attributes: {e}")))?;
    let attrs_hash = hash.digest(&attrs_der);
    verify_signature(
        &cert,
        &signer.signature_algorithm,
        hash,
        &attrs_hash,
        signer.signature.as_bytes(),
    )?;

    check_validity(&cert, token.tst_info.gen_time.time())
}

fn bad(detail: &str) -> TimestampError {
    TimestampError::BadSignature {
        detail: detail.to_string(),
    }
}

/// The certificate's DER from PEM (the first CERTIFICATE block, so a chain file works) or DER.
fn certificate_der(input: &[u8]) -> Result<Vec<u8>, TimestampError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let Some(text) = std::str::from_utf8(input)
        .ok()
        .filter(|t| t.contains("-----BEGIN"))
    else {
        return Ok(input.to_vec());
    };
    let block = text
        .find(BEGIN)
        .and_then(|start| {
            let end = start + text[start..].find(END)? + END.len();
            Some(&text[start..end])
        })
        .ok_or_else(|| TimestampError::TsaCert {
            detail: "a PEM file without a CERTIFICATE block".into(),
        })?;
    let (_, der) = der::pem::decode_vec(block.as_bytes()).map_err(|e| TimestampError::TsaCert {
        detail: format!("bad PEM ({e})"),
    })?;
    Ok(der)
}

fn subject(cert: &Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

/// RFC 3161 §2.3: exactly one extendedKeyUsage extension, critical, with only timeStamping.
fn check_timestamping_usage(cert: &Certificate) -> Result<(), TimestampError> {
    let not_tsa = |detail: &str| TimestampError::NotTimestampingCert {
        subject: subject(cert),
        detail: detail.to_string(),
    };
    let extensions = cert.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
    let mut eku = extensions
        .iter()
        .filter(|e| e.extn_id == ID_CE_EXT_KEY_USAGE);
    let ext = match (eku.next(), eku.next()) {
        (Some(ext), None) => ext,
        (None, _) => return Err(not_tsa("it has no extendedKeyUsage extension")),
        (Some(_), Some(_)) => return Err(not_tsa("it has two extendedKeyUsage extensions")),
    };
    if !ext.critical {
        return Err(not_tsa("its extendedKeyUsage is not marked critical"));
    }
    let usages = ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
        .map_err(|e| not_tsa(&format!("unreadable extendedKeyUsage ({e})")))?;
    if usages.0.as_slice() != [ID_KP_TIME_STAMPING] {
        let list: Vec<String> = usages.0.iter().map(|o| o.to_string()).collect();
        return Err(not_tsa(&format!(
            "its extendedKeyUsage is [{}], not only timeStamping (1.3.6.1.5.5.7.3.8)",
            list.join(", ")
        )));
    }
    Ok(())
}

/// RFC 3161 requires exactly one signer; it must be the certificate given.
fn find_signer<'t>(token: &'t Token, cert: &Certificate) -> Result<&'t SignerInfo, TimestampError> {
    let signers: Vec<&SignerInfo> = token.signed_data.signer_infos.0.iter().collect();
    let [signer] = signers.as_slice() else {
        return Err(bad(&format!(
            "the token has {} signers; RFC 3161 allows exactly one",
            signers.len()
        )));
    };
    let tbs = &cert.tbs_certificate;
    let (matches, signer_name) = match &signer.sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => (
            id.issuer == tbs.issuer && id.serial_number == tbs.serial_number,
            format!("issuer {}, serial {}", id.issuer, id.serial_number),
        ),
        SignerIdentifier::SubjectKeyIdentifier(ski) => (
            subject_key_identifier(cert).as_ref() == Some(ski),
            format!("key id {}", hex::encode(ski.0.as_bytes())),
        ),
    };
    if !matches {
        return Err(TimestampError::SignerMismatch {
            signer: signer_name,
            cert: format!(
                "{} (issuer {}, serial {})",
                subject(cert),
                tbs.issuer,
                tbs.serial_number
            ),
        });
    }
    Ok(signer)
}

fn subject_key_identifier(cert: &Certificate) -> Option<SubjectKeyIdentifier> {
    let ext = cert
        .tbs_certificate
        .extensions
        .as_deref()?
        .iter()
        .find(|e| e.extn_id == ID_CE_SUBJECT_KEY_IDENTIFIER)?;
    SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes()).ok()
}

/// ```text
/// SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }
/// ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT {id-sha256},
///                            certHash OCTET STRING, issuerSerial IssuerSerial OPTIONAL }
/// ```
#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

#[derive(Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// The ESS attribute binds the signature to one certificate (RFC 5816), so a second certificate
/// with the same key and issuer/serial cannot be passed off as the signer.
fn check_signing_certificate(
    value: &Any,
    cert_der: &[u8],
    cert: &Certificate,
) -> Result<(), TimestampError> {
    let signing: SigningCertificateV2 = value
        .decode_as()
        .map_err(|e| bad(&format!("signingCertificateV2 attribute: {e}")))?;
    let first = signing
        .certs
        .first()
        .ok_or_else(|| bad("signingCertificateV2 names no certificate"))?;
    let alg = first.hash_algorithm.as_ref().map_or(ID_SHA256, |a| a.oid);
    let hash = DigestAlg::from_oid(&alg)?;
    if first.cert_hash.as_bytes() != hash.digest(cert_der).as_slice() {
        return Err(TimestampError::SignerMismatch {
            signer: format!(
                "certificate with hash {}",
                hex::encode(first.cert_hash.as_bytes())
            ),
            cert: subject(cert),
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DigestAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    fn from_oid(oid: &ObjectIdentifier) -> Result<DigestAlg, TimestampError> {
        match *oid {
            ID_SHA256 => Ok(DigestAlg::Sha256),
            ID_SHA384 => Ok(DigestAlg::Sha384),
            ID_SHA512 => Ok(DigestAlg::Sha512),
            other => Err(TimestampError::UnsupportedAlgorithm {
                what: format!("digest algorithm {other}"),
            }),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            DigestAlg::Sha256 => Sha256::digest(data).to_vec(),
            DigestAlg::Sha384 => Sha384::digest(data).to_vec(),
            DigestAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

fn verify_signature(
    cert: &Certificate,
    signature_algorithm: &AlgorithmIdentifierOwned,
    hash: DigestAlg,
    hashed: &[u8],
    signature: &[u8],
) -> Result<(), TimestampError> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let spki_der = spki.to_der().map_err(|e| TimestampError::TsaCert {
        detail: format!("unreadable public key ({e})"),
    })?;
    let sig_oid = signature_algorithm.oid;
    let unsupported = || TimestampError::UnsupportedAlgorithm {
        what: format!(
            "signature algorithm {sig_oid} with a {} key",
            spki.algorithm.oid
        ),
    };
    let mismatch = || {
        bad(&format!(
            "signature algorithm {sig_oid} does not go with digest {hash:?}"
        ))
    };
    if spki.algorithm.oid == RSA_ENCRYPTION {
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
        let key = rsa::RsaPublicKey::from_public_key_der(&spki_der).map_err(|e| {
            TimestampError::TsaCert {
                detail: format!("unreadable RSA public key ({e})"),
            }
        })?;
        let scheme = match hash {
            DigestAlg::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
            DigestAlg::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
            DigestAlg::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
        };
        key.verify(scheme, hashed, signature)
            .map_err(|_| bad("the RSA signature over the signed attributes is invalid"))
    } else if spki.algorithm.oid == ID_EC_PUBLIC_KEY {
        let curve: Option<ObjectIdentifier> = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as().ok());
        if curve != Some(PRIME256V1) {
            return Err(unsupported());
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
        let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der).map_err(|e| {
            TimestampError::TsaCert {
                detail: format!("unreadable P-256 public key ({e})"),
            }
        })?;
        let sig = p256::ecdsa::Signature::from_der(signature)
            .map_err(|_| bad("the ECDSA signature is not a valid DER ECDSA-Sig-Value"))?;
        key.verify_prehash(hashed, &sig)
            .map_err(|_| bad("the ECDSA signature over the signed attributes is invalid"))
    } else {
        Err(unsupported())
    }
}

/// A TSA key signs only while its certificate is valid; a time outside that window means the
/// wrong certificate or a forged token.
fn check_validity(
    cert: &Certificate,
    gen_time: time::OffsetDateTime,
) -> Result<(), TimestampError> {
    let validity = &cert.tbs_certificate.validity;
    let to_time = |t: &x509_cert::time::Time| {
        let secs = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        time::OffsetDateTime::from_unix_timestamp(secs).ok()
    };
    let (Some(not_before), Some(not_after)) =
        (to_time(&validity.not_before), to_time(&validity.not_after))
    else {
        return Err(TimestampError::TsaCert {
            detail: "its validity dates are out of range".into(),
        });
    };
    if gen_time < not_before || gen_time > not_after {
        return Err(TimestampError::OutsideValidity {
            gen_time: rfc3339(gen_time),
            not_before: rfc3339(not_before),
            not_after: rfc3339(not_after),
        });
    }
    Ok(())
}
