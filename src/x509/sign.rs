//! Making a detached CAdES signature (ETSI EN 319 122-1 baseline B, RFC 5652 SignedData) over a
//! file's exact bytes.
//!
//! ```text
//! ContentInfo { signedData:
//!   SignedData { version 1, digestAlgorithms { sha256 },
//!     encapContentInfo { id-data }                       -- detached: no eContent
//!     certificates { signer, chain... },
//!     signerInfos { SignerInfo { version 1, sid issuerAndSerialNumber, sha256,
//!       signedAttrs { content-type id-data, message-digest SHA-256(file),
//!                     signing-certificate-v2 { SHA-256(signer certificate) } },
//!       rsaEncryption | ecdsa-with-SHA256, signature } } } }
//! ```
//!
//! No signing-time attribute: a clock on the signing machine is not evidence, and the issue time
//! is in the certificate itself; an RFC 3161 timestamp is the time evidence.

use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo, SignerInfos};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::attr::{Attribute, Attributes};
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::algorithms::ID_SHA256;
use super::cms::{
    EssCertIdV2, SignedData, SigningCertificateV2, ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST,
    ID_SIGNED_DATA, ID_SIGNING_CERTIFICATE_V2,
};
use super::{SignerMaterial, X509Error};

/// The DER `.p7s` for `content`, signed by `signer`.
pub fn sign_detached(content: &[u8], signer: &SignerMaterial) -> Result<Vec<u8>, X509Error> {
    let encode = |e: der::Error| X509Error::Sign(format!("cannot encode the signature ({e})"));
    let attrs = signed_attributes(content, signer).map_err(encode)?;
    // RFC 5652 §5.4: the signature covers the attributes' DER as a SET OF (tag 0x31).
    let digest: [u8; 32] = Sha256::digest(attrs.to_der().map_err(encode)?).into();
    let (signature_algorithm, signature) = signer.sign_sha256(&digest)?;
    assemble(signer, attrs, signature_algorithm, signature).map_err(encode)
}

fn sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ID_SHA256,
        parameters: None,
    }
}

fn attribute(oid: der::asn1::ObjectIdentifier, value: Any) -> der::Result<Attribute> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

fn signed_attributes(content: &[u8], signer: &SignerMaterial) -> der::Result<Attributes> {
    let ess = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: None, // DEFAULT id-sha256
            cert_hash: OctetString::new(Sha256::digest(&signer.signer().der).to_vec())?,
            issuer_serial: None,
        }],
        policies: None,
    };
    SetOfVec::try_from(vec![
        attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA)?)?,
        attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(Sha256::digest(content).to_vec())?)?,
        )?,
        attribute(ID_SIGNING_CERTIFICATE_V2, Any::encode_from(&ess)?)?,
    ])
}

fn assemble(
    signer: &SignerMaterial,
    attrs: Attributes,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: Vec<u8>,
) -> der::Result<Vec<u8>> {
    let tbs = &signer.signer().cert.tbs_certificate;
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer.clone(),
            serial_number: tbs.serial_number.clone(),
        }),
        digest_alg: sha256(),
        signed_attrs: Some(attrs),
        signature_algorithm,
        signature: OctetString::new(signature)?,
        unsigned_attrs: None,
    };
    // The certificates exactly as issued (a re-encoding could break their issuers' signatures
    // and the signing-certificate-v2 hash), in DER SET OF order.
    let mut certificates: Vec<Vec<u8>> = std::iter::once(signer.signer())
        .chain(signer.chain())
        .map(|c| c.der.clone())
        .collect();
    certificates.sort();
    let signed_data = SignedData {
        version: 1,
        digest_algorithms: Any::encode_from(&SetOfVec::try_from(vec![sha256()])?)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(
            certificates
                .iter()
                .map(|der| Any::from_der(der))
                .collect::<der::Result<Vec<_>>>()?,
        ),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data)?,
    }
    .to_der()
}
