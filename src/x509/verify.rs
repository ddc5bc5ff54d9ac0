//! Checking a detached CAdES signature (`.p7s`) over a file's bytes against the auditor's trust
//! anchors, in the order a forger would have to get past the checks: the CMS structure, the
//! message digest over the exact bytes, the signature over the signed attributes, the
//! signing-certificate-v2 binding of the signer's certificate, then the certification path to a
//! trust anchor and each certificate on it (validity, key usage, CA constraints), at the time of
//! a verified signature timestamp when there is one, and revocation from the CRLs at hand.

use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::algorithms::{verify_signature, DigestAlg, VerifyError, ID_SHA256};
use super::cades::{signature_timestamp_tokens_of, ValidationData, MAX_CRLS};
use super::cms::{
    SignedData, SigningCertificateV2, ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA,
    ID_SIGNING_CERTIFICATE, ID_SIGNING_CERTIFICATE_V2,
};
use super::path::{self, Cert, TrustAnchors, MAX_CERTIFICATES};
use super::revocation::{self, Crl, RevocationReport};
use super::timestamp_check::{self, SignatureTimestamp, TsaTrust};
use super::Failure;

/// What a good signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signer's subject (RFC 4514).
    pub signer: String,
    /// Subjects from the signer to the trust anchor.
    pub path: Vec<String>,
    /// SHA-256 of the signer's certificate, lowercase hex.
    pub signer_certificate_sha256: String,
    /// The instant the path was checked at (RFC 3339): the timestamp's time, or now.
    pub checked_at: String,
    /// The verified signature timestamp, if the `.p7s` has one.
    pub timestamp: Option<SignatureTimestamp>,
    /// What the CRLs said about the path.
    pub revocation: RevocationReport,
}

/// What a `.p7s` is checked against besides the content.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// The CAs the auditor trusts (`--ca`), for the signer and for a TSA.
    pub anchors: &'a TrustAnchors,
    /// Now: the time the path is checked at when no verified timestamp says otherwise, and the
    /// limit past which a CRL is dated in the future.
    pub at: time::OffsetDateTime,
    /// TSA certificates trusted as they are (`--tsa-cert`).
    pub tsa_certs: &'a [Cert],
    /// Certificates and CRLs the auditor adds (`--validation-data`, `--crl`).
    pub validation: &'a ValidationData,
}

/// Verify the DER (or PEM) `.p7s` `p7s` as a detached signature over `content`, with the
/// certification path valid at `at`. A signature timestamp, if any, must chain to `anchors`.
pub fn verify_detached(
    content: &[u8],
    p7s: &[u8],
    anchors: &TrustAnchors,
    at: time::OffsetDateTime,
) -> Result<Verified, Failure> {
    verify_detached_with(
        content,
        p7s,
        &VerifyOptions {
            anchors,
            at,
            tsa_certs: &[],
            validation: &ValidationData::default(),
        },
    )
}

/// Verify the DER (or PEM) `.p7s` `p7s` as a detached signature over `content` (see the module
/// documentation for the order of the checks). With a signature timestamp, the token is checked
/// first and the signer's path is then checked at the token's time instead of `options.at`;
/// revocation is checked from the CRLs in the `.p7s` and in `options.validation`.
pub fn verify_detached_with(
    content: &[u8],
    p7s: &[u8],
    options: &VerifyOptions<'_>,
) -> Result<Verified, Failure> {
    let anchors = options.anchors;
    let malformed = |what: &str, e: der::Error| Failure::Malformed(format!("{what} ({e})"));
    let der = pem_or_der(p7s)?;
    let signed = signed_data(&der)?;
    if signed.encap_content_info.econtent_type != ID_DATA {
        return Err(Failure::Malformed(format!(
            "it signs content of type {}, not data",
            signed.encap_content_info.econtent_type
        )));
    }
    if signed.encap_content_info.econtent.is_some() {
        return Err(Failure::Malformed(
            "it is not detached: it carries its own content, and massho checks a signature over the certificate file beside it".into(),
        ));
    }
    let certificates = signed.certificates.as_deref().unwrap_or(&[]);
    if certificates.len() > MAX_CERTIFICATES {
        return Err(Failure::Malformed(format!(
            "more than {MAX_CERTIFICATES} certificates"
        )));
    }
    let certificates: Vec<Cert> = certificates
        .iter()
        .map(|any| {
            let der = any
                .to_der()
                .map_err(|e| Failure::Malformed(format!("a certificate ({e})")))?;
            Cert::from_der(&der).map_err(|e| Failure::Malformed(format!("a certificate: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let signers: Vec<&SignerInfo> = signed.signer_infos.0.iter().collect();
    let [signer_info] = signers.as_slice() else {
        return Err(Failure::Malformed(format!(
            "{} signers; massho checks signatures with exactly one",
            signers.len()
        )));
    };
    // The version numbers and the digest list are not signed: check them against what RFC 5652
    // §5.1/§5.3 fix, so that no byte of the .p7s can change unnoticed.
    let (signer_version, data_version) = match signer_info.sid {
        SignerIdentifier::IssuerAndSerialNumber(_) => (CmsVersion::V1, 1),
        SignerIdentifier::SubjectKeyIdentifier(_) => (CmsVersion::V3, 3),
    };
    if signer_info.version != signer_version || signed.version != data_version {
        return Err(Failure::Malformed(format!(
            "version numbers SignedData {} / SignerInfo {:?} that RFC 5652 does not allow for this signer (expected {data_version} / {signer_version:?})",
            signed.version, signer_info.version
        )));
    }
    let digests: SetOfVec<AlgorithmIdentifierOwned> = signed
        .digest_algorithms
        .decode_as()
        .map_err(|e| malformed("unreadable digestAlgorithms", e))?;
    if !digests.iter().any(|d| d.oid == signer_info.digest_alg.oid) {
        return Err(Failure::Malformed(
            "the digestAlgorithms list does not name the signer's digest".into(),
        ));
    }
    let signer = certificates
        .iter()
        .find(|c| sid_names(&signer_info.sid, c))
        .ok_or_else(|| {
            Failure::Malformed(
                "the signer's certificate is not in the .p7s; sign with the certificate included"
                    .into(),
            )
        })?;

    let hash = DigestAlg::from_identifier(&signer_info.digest_alg).ok_or_else(|| {
        Failure::Unsupported(format!("digest algorithm {}", signer_info.digest_alg.oid))
    })?;
    let attrs = signer_info.signed_attrs.as_ref().ok_or_else(|| {
        Failure::Malformed("no signed attributes, which a CAdES signature must have".into())
    })?;
    let single = |oid: ObjectIdentifier, name: &str| -> Result<Option<der::Any>, Failure> {
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        match (found.next(), found.next()) {
            (None, _) => Ok(None),
            (Some(a), None) if a.values.len() == 1 => Ok(a.values.get(0).cloned()),
            _ => Err(Failure::Malformed(format!(
                "the {name} attribute must appear once with one value"
            ))),
        }
    };
    let content_type: ObjectIdentifier = single(ID_CONTENT_TYPE, "content-type")?
        .ok_or_else(|| Failure::Malformed("no content-type attribute".into()))?
        .decode_as()
        .map_err(|e| malformed("content-type attribute", e))?;
    if content_type != ID_DATA {
        return Err(Failure::Malformed(format!(
            "the signed content-type is {content_type}, not data"
        )));
    }
    let digest: OctetString = single(ID_MESSAGE_DIGEST, "message-digest")?
        .ok_or_else(|| Failure::Malformed("no message-digest attribute".into()))?
        .decode_as()
        .map_err(|e| malformed("message-digest attribute", e))?;
    if digest.as_bytes() != hash.digest(content).as_slice() {
        return Err(Failure::Tampered(
            "the file's bytes do not match the signed message digest: the file was changed after signing, or the .p7s belongs to another file".into(),
        ));
    }

    // RFC 5652 §5.4: the signature covers the attributes' DER as a SET OF.
    let attrs_der = attrs
        .to_der()
        .map_err(|e| malformed("cannot encode the signed attributes", e))?;
    verify_signature(
        &signer.cert.tbs_certificate.subject_public_key_info,
        &signer_info.signature_algorithm,
        hash,
        &hash.digest(&attrs_der),
        signer_info.signature.as_bytes(),
    )
    .map_err(|e| match e {
        VerifyError::Invalid => Failure::Tampered(
            "the signature over the signed attributes does not verify: the .p7s was altered".into(),
        ),
        other => Failure::Unsupported(format!("the signer's signature: {other}")),
    })?;

    let ess = single(ID_SIGNING_CERTIFICATE_V2, "signing-certificate-v2")?;
    let Some(ess) = ess else {
        return Err(Failure::SigningCertificate(
            if single(ID_SIGNING_CERTIFICATE, "signing-certificate")?.is_some() {
                "only the SHA-1 signing-certificate attribute; CAdES needs signing-certificate-v2"
                    .into()
            } else {
                "no signing-certificate-v2 attribute: not a CAdES signature (sign with `openssl cms -sign -cades` or massho)".into()
            },
        ));
    };
    check_signing_certificate(&ess, signer)?;

    // Validation material: what the .p7s carries, then what the auditor adds.
    let carried = ValidationData {
        certificates: certificates.clone(),
        crls: signed
            .crls
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .take(MAX_CRLS + 1)
            .map(|any| {
                let der = any
                    .to_der()
                    .map_err(|e| Failure::Malformed(format!("a CRL ({e})")))?;
                Crl::from_der(&der)
                    .map_err(|e| Failure::Malformed(format!("a CRL in the .p7s: {e}")))
            })
            .collect::<Result<_, _>>()?,
    };
    if carried.crls.len() > MAX_CRLS {
        return Err(Failure::Malformed(format!("more than {MAX_CRLS} CRLs")));
    }
    let material = carried.merged(options.validation);

    let tokens = signature_timestamp_tokens_of(signer_info)?;
    let timestamp = match tokens.as_slice() {
        [] => None,
        [token] => Some(timestamp_check::check(
            token,
            signer_info.signature.as_bytes(),
            &TsaTrust {
                anchors,
                tsa_certs: options.tsa_certs,
                intermediates: &material.certificates,
                crls: &material.crls,
                now: options.at,
            },
        )?),
        more => {
            return Err(Failure::Malformed(format!(
                "{} signature timestamps; massho checks one",
                more.len()
            )))
        }
    };
    let at = timestamp.as_ref().map_or(options.at, |t| t.time);
    let path = path::validate(signer, &material.certificates, anchors, at)?;
    let revocation = revocation::check_path(
        &path,
        &material.crls,
        at.unix_timestamp(),
        timestamp.is_some(),
        options.at.unix_timestamp(),
    )?;
    Ok(Verified {
        signer: signer.subject(),
        path: path.iter().map(Cert::subject).collect(),
        signer_certificate_sha256: hex::encode(Sha256::digest(&signer.der)),
        checked_at: revocation::show(at.unix_timestamp()),
        timestamp,
        revocation,
    })
}

/// The SignedData of a DER CMS ContentInfo.
pub(crate) fn signed_data(der: &[u8]) -> Result<SignedData, Failure> {
    let malformed = |what: &str, e: der::Error| Failure::Malformed(format!("{what} ({e})"));
    let info = ContentInfo::from_der(der).map_err(|e| malformed("not a DER CMS ContentInfo", e))?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(Failure::Malformed(format!(
            "content type {}, not signedData",
            info.content_type
        )));
    }
    info.content
        .decode_as()
        .map_err(|e| malformed("unreadable SignedData", e))
}

/// A `.p7s` as DER, also accepted as PEM (`CMS` or `PKCS7` block).
pub(crate) fn pem_or_der(p7s: &[u8]) -> Result<Vec<u8>, Failure> {
    let Some(text) = std::str::from_utf8(p7s)
        .ok()
        .filter(|t| t.trim_start().starts_with("-----BEGIN"))
    else {
        return Ok(p7s.to_vec());
    };
    let blocks = super::material::pem_blocks(text).map_err(Failure::Malformed)?;
    blocks
        .into_iter()
        .find(|(label, _)| label == "CMS" || label == "PKCS7")
        .map(|(_, der)| der)
        .ok_or_else(|| Failure::Malformed("a PEM file without a CMS or PKCS7 block".into()))
}

/// Whether the SignerInfo's identifier names `cert`.
fn sid_names(sid: &SignerIdentifier, cert: &Cert) -> bool {
    let tbs = &cert.cert.tbs_certificate;
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            id.issuer == tbs.issuer && id.serial_number == tbs.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            cert.subject_key_identifier().as_ref() == Some(ski)
        }
    }
}

/// The first ESSCertIDv2 must be the signer's certificate (its hash, and its issuer and serial
/// when given): another certificate with the same key cannot be passed off as the signer.
fn check_signing_certificate(value: &der::Any, signer: &Cert) -> Result<(), Failure> {
    let ess: SigningCertificateV2 = value.decode_as().map_err(|e| {
        Failure::Malformed(format!("unreadable signing-certificate-v2 attribute ({e})"))
    })?;
    let first = ess.certs.first().ok_or_else(|| {
        Failure::SigningCertificate("signing-certificate-v2 names no certificate".into())
    })?;
    let alg = first.hash_algorithm.as_ref().map_or(ID_SHA256, |a| a.oid);
    let hash = DigestAlg::from_oid(&alg).ok_or_else(|| {
        Failure::Unsupported(format!("signing-certificate-v2 hash algorithm {alg}"))
    })?;
    if first.cert_hash.as_bytes() != hash.digest(&signer.der).as_slice() {
        return Err(Failure::SigningCertificate(format!(
            "signing-certificate-v2 names the certificate with hash {}, not the signer's certificate {} in the .p7s",
            hex::encode(first.cert_hash.as_bytes()),
            signer.subject()
        )));
    }
    if let Some(issuer_serial) = &first.issuer_serial {
        let tbs = &signer.cert.tbs_certificate;
        let issuer_named = issuer_serial.issuer.iter().any(|n| {
            matches!(n, x509_cert::ext::pkix::name::GeneralName::DirectoryName(name) if *name == tbs.issuer)
        });
        if !issuer_named || issuer_serial.serial_number != tbs.serial_number {
            return Err(Failure::SigningCertificate(format!(
                "signing-certificate-v2's issuer and serial do not name the signer's certificate {}",
                signer.subject()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for fuzzing the reader: garbage, truncations and bit flips of a minimal
    /// SignedData are refused with a reason, never a panic.
    #[test]
    fn garbage_is_refused_not_a_panic() {
        let anchors = TrustAnchors::default();
        let at = time::OffsetDateTime::now_utc();
        for bytes in [
            &b""[..],
            b"\x30\x00",
            b"\x30\x80\x00\x00",
            b"-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n",
            b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        ] {
            assert!(verify_detached(b"x", bytes, &anchors, at).is_err());
        }
        // id-signedData with an empty SignedData, then every prefix and single-byte change.
        let minimal = [
            0x30, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0,
            0x02, 0x30, 0x00,
        ];
        for len in 0..minimal.len() {
            assert!(verify_detached(b"x", &minimal[..len], &anchors, at).is_err());
        }
        for at_byte in 0..minimal.len() {
            let mut changed = minimal;
            changed[at_byte] ^= 0x5a;
            let e = verify_detached(b"x", &changed, &anchors, at).unwrap_err();
            assert!(matches!(e, Failure::Malformed(_)), "{e}");
        }
    }
}
