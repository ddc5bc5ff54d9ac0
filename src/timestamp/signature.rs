//! Checking the TSA's CMS signature on a token against the TSA's certificate (RFC 5652 §5.4,
//! RFC 3161 §2.3 and §2.4.2). Chain building to a trusted root is not done here: that is a trust
//! decision the auditor makes with their own store (`openssl ts -verify -CAfile`).

use cms::signed_data::{SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode};
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectKeyIdentifier};
use x509_cert::Certificate;

use super::asn1::ID_CT_TSTINFO;
use super::token::{rfc3339, Token};
use super::TimestampError;
use crate::x509::algorithms::{self, DigestAlg, VerifyError, ID_SHA256};
use crate::x509::cms::{
    SigningCertificateV2, ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNING_CERTIFICATE_V2,
};

const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

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
    let hash = digest_alg(&signer.digest_alg.oid)?;
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
    algorithms::verify_signature(
        &cert.tbs_certificate.subject_public_key_info,
        &signer.signature_algorithm,
        hash,
        &attrs_hash,
        signer.signature.as_bytes(),
    )
    .map_err(|e| match e {
        VerifyError::Unsupported(what) => TimestampError::UnsupportedAlgorithm { what },
        VerifyError::BadKey(detail) => TimestampError::TsaCert {
            detail: format!("unreadable public key ({detail})"),
        },
        VerifyError::Inconsistent(detail) => bad(&detail),
        VerifyError::Invalid => bad("the signature over the signed attributes is invalid"),
    })?;

    check_validity(&cert, token.tst_info.gen_time.time())
}

fn digest_alg(oid: &ObjectIdentifier) -> Result<DigestAlg, TimestampError> {
    DigestAlg::from_oid(oid).ok_or_else(|| TimestampError::UnsupportedAlgorithm {
        what: format!("digest algorithm {oid}"),
    })
}

fn bad(detail: &str) -> TimestampError {
    TimestampError::BadSignature {
        detail: detail.to_string(),
    }
}

/// The certificate's DER from PEM (the first CERTIFICATE block, so a chain file works) or DER.
fn certificate_der(input: &[u8]) -> Result<Vec<u8>, TimestampError> {
    crate::x509::certificates_in(input)
        .map_err(|detail| TimestampError::TsaCert { detail })?
        .into_iter()
        .next()
        .map(|c| c.der)
        .ok_or_else(|| TimestampError::TsaCert {
            detail: "a PEM file without a CERTIFICATE block".into(),
        })
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
    let hash = digest_alg(&alg)?;
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
