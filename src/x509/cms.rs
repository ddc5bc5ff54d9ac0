//! The CMS (RFC 5652) and ESS (RFC 5035) structures massho reads and writes beyond what the `cms`
//! crate offers: a lenient `SignedData` for reading, and the signing-certificate-v2 attribute.

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Any, Sequence};
use x509_cert::spki::AlgorithmIdentifierOwned;

/// `id-signedData`.
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `id-data`: the content type of a detached signature over a file's bytes.
pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// `id-contentType` signed attribute.
pub const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// `id-messageDigest` signed attribute.
pub const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// `id-signingTime` signed attribute (massho writes none: the timestamp is the time evidence).
pub const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
/// `id-aa-signingCertificateV2` (RFC 5035), the CAdES binding of the signer's certificate.
pub const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// `id-aa-signingCertificate` (RFC 2634, SHA-1): recognised only to name it.
pub const ID_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");

/// CMS `SignedData` (RFC 5652 §5.1) with the certificate and CRL sets kept as raw elements.
///
/// `cms::signed_data::SignedData` decodes `certificates` as a DER SET OF and refuses duplicates,
/// but OpenSSL's TSA (certReq plus a `certs` file holding the signer) sends the TSA certificate
/// twice, and a signer's chain file often repeats the signer. Readers take the certificates they
/// need from the raw elements themselves.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SignedData {
    pub version: u8,
    pub digest_algorithms: Any,
    pub encap_content_info: cms::signed_data::EncapsulatedContentInfo,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub certificates: Option<Vec<Any>>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub crls: Option<Vec<Any>>,
    pub signer_infos: cms::signed_data::SignerInfos,
}

/// ```text
/// SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    pub policies: Option<Any>,
}

/// ```text
/// ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT {id-sha256},
///                            certHash OCTET STRING, issuerSerial IssuerSerial OPTIONAL }
/// ```
/// `hash_algorithm` is `None` for the DEFAULT (SHA-256), which DER omits.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// ```text
/// IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    pub issuer: Vec<x509_cert::ext::pkix::name::GeneralName>,
    pub serial_number: x509_cert::serial_number::SerialNumber,
}
