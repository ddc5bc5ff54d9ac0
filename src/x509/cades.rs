//! CAdES-B-T and validation data on CMS bytes (ETSI EN 319 122-1): the signature timestamp in a
//! SignerInfo's unsigned attributes, and certificates and CRLs added to the SignedData.
//!
//! Everything here takes and returns DER CMS `ContentInfo` bytes, so that any CMS massho makes
//! (a detached `.p7s`, the CMS inside a PAdES PDF) can be extended the same way:
//!
//! ```text
//! imprint = signature_timestamp_imprint(cms)       -- SHA-256 of the SignerInfo's signature value
//! token   = TSA(imprint)                            -- RFC 3161, over HTTP or in two offline steps
//! cms'    = attach_signature_timestamp(cms, token)  -- id-aa-signatureTimeStampToken, unsigned
//! cms''   = embed_validation_data(cms', &data)      -- SignedData certificates / crls
//! ```
//!
//! None of these touch a signed byte: the unsigned attributes, the certificates and the CRLs lie
//! outside what the signer signed, so `openssl cms -verify` still accepts the result. To make
//! sure of it, a CMS is only extended when it re-encodes to exactly the bytes it was read from
//! (DER, as massho and OpenSSL write it); anything else is refused rather than silently changed.

use std::path::PathBuf;

use cms::content_info::ContentInfo;
use der::asn1::{ObjectIdentifier, SetOfVec};
use der::{Any, Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::attr::Attribute;

use super::cms::{SignedData, ID_SIGNED_DATA};
use super::path::{Cert, MAX_CERTIFICATES};
use super::revocation::Crl;
use super::{Failure, X509Error};
use crate::input;

/// `id-aa-signatureTimeStampToken` (RFC 3161 Appendix A, ETSI EN 319 122-1 §5.3).
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");

/// At most this many CRLs in one CMS or in the validation data given.
pub(crate) const MAX_CRLS: usize = 64;

/// The SHA-256 a TSA must stamp for a B-T signature: the hash of the (single) SignerInfo's
/// signature value, the contents octets of its `signature` OCTET STRING.
pub fn signature_timestamp_imprint(cms: &[u8]) -> Result<[u8; 32], Failure> {
    let signed = Extendable::read(cms)?;
    Ok(Sha256::digest(signed.signer()?.signature.as_bytes()).into())
}

/// `cms` with `token` (an RFC 3161 token, or the whole TimeStampResp as a TSA returns it) as
/// the SignerInfo's signature timestamp. Refused when the token does not stamp this signature
/// (its imprint is not [`signature_timestamp_imprint`]), or when the signature has a timestamp
/// already. The TSA's signature on the token is not judged here: that is the verifier's job,
/// against the verifier's trust anchors.
pub fn attach_signature_timestamp(cms: &[u8], token: &[u8]) -> Result<Vec<u8>, Failure> {
    let mut signed = Extendable::read(cms)?;
    let imprint: [u8; 32] = Sha256::digest(signed.signer()?.signature.as_bytes()).into();
    let token = crate::timestamp::token_from_response(token)
        .or_else(|_| {
            // A bare token (ContentInfo) rather than a whole response.
            ContentInfo::from_der(token).map(|_| token.to_vec())
        })
        .map_err(|_| {
            Failure::Timestamp(
                "the timestamp reply is neither a granted RFC 3161 TimeStampResp nor a timestamp token".into(),
            )
        })?;
    crate::timestamp::check_token(&token, &imprint).map_err(|e| {
        Failure::Timestamp(format!(
            "the token does not stamp this signature ({e}); request a timestamp over this very .p7s"
        ))
    })?;
    let token_any =
        Any::from_der(&token).map_err(|e| Failure::Timestamp(format!("the token ({e})")))?;
    signed.with_signer(|signer| {
        let mut unsigned = signer.unsigned_attrs.take().unwrap_or_default();
        if unsigned
            .iter()
            .any(|a| a.oid == ID_AA_SIGNATURE_TIME_STAMP_TOKEN)
        {
            return Err(Failure::Timestamp(
                "the signature has a timestamp already; it is kept as it is".into(),
            ));
        }
        let attribute = Attribute {
            oid: ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
            values: SetOfVec::try_from(vec![token_any]).map_err(encoding)?,
        };
        unsigned.insert(attribute).map_err(encoding)?;
        signer.unsigned_attrs = Some(unsigned);
        Ok(())
    })?;
    signed.write()
}

/// The signature timestamp tokens in the SignerInfo's unsigned attributes, as DER ContentInfo.
pub fn signature_timestamp_tokens(cms: &[u8]) -> Result<Vec<Vec<u8>>, Failure> {
    let signed = Extendable::read(cms)?;
    signature_timestamp_tokens_of(signed.signer()?)
}

pub(crate) fn signature_timestamp_tokens_of(
    signer: &cms::signed_data::SignerInfo,
) -> Result<Vec<Vec<u8>>, Failure> {
    let mut tokens = Vec::new();
    for attr in signer.unsigned_attrs.iter().flat_map(|a| a.iter()) {
        if attr.oid == ID_AA_SIGNATURE_TIME_STAMP_TOKEN {
            for value in attr.values.iter() {
                tokens.push(value.to_der().map_err(|e| {
                    Failure::Malformed(format!("a signature timestamp token ({e})"))
                })?);
            }
        }
    }
    Ok(tokens)
}

/// Certificates and CRLs an operator collected so that a signature can be checked years later
/// without a network (`--validation-data DIR`, `--crl FILE`).
#[derive(Debug, Clone, Default)]
pub struct ValidationData {
    pub certificates: Vec<Cert>,
    pub crls: Vec<Crl>,
}

impl ValidationData {
    /// Read every certificate and CRL in `paths`: files as given, directories expanded to their
    /// `*.pem`, `*.crt`, `*.cer`, `*.der` and `*.crl` entries. PEM files may hold several
    /// CERTIFICATE and X509 CRL blocks; a DER file is one certificate or one CRL.
    pub fn load(paths: &[PathBuf]) -> Result<ValidationData, X509Error> {
        let mut data = ValidationData::default();
        for path in paths {
            let files = if path.is_dir() {
                let listing = std::fs::read_dir(path).map_err(|e| X509Error::Format {
                    path: path.clone(),
                    detail: format!("cannot list the directory ({e})"),
                })?;
                let mut files: Vec<PathBuf> = listing
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.extension()
                            .and_then(|x| x.to_str())
                            .is_some_and(|x| matches!(x, "pem" | "crt" | "cer" | "der" | "crl"))
                    })
                    .collect();
                files.sort();
                files
            } else {
                vec![path.clone()]
            };
            let before = (data.certificates.len(), data.crls.len());
            for file in files {
                let bytes = input::read_regular(&file, "validation data", input::limit::X509)?;
                let bad = |detail: String| X509Error::Format {
                    path: file.clone(),
                    detail,
                };
                data.add(&bytes).map_err(bad)?;
                if data.certificates.len() > MAX_CERTIFICATES || data.crls.len() > MAX_CRLS {
                    return Err(bad(format!(
                        "more than {MAX_CERTIFICATES} certificates or {MAX_CRLS} CRLs in all"
                    )));
                }
            }
            if (data.certificates.len(), data.crls.len()) == before {
                return Err(X509Error::Format {
                    path: path.clone(),
                    detail: "no certificate or CRL found (PEM or DER, *.pem *.crt *.cer *.der *.crl in a directory)".into(),
                });
            }
        }
        Ok(data)
    }

    /// Add the certificates and CRLs of one file's bytes.
    fn add(&mut self, bytes: &[u8]) -> Result<(), String> {
        let pem = std::str::from_utf8(bytes)
            .ok()
            .filter(|t| t.contains("-----BEGIN"));
        if let Some(text) = pem {
            for (label, der) in super::material::pem_blocks(text)? {
                match label.as_str() {
                    "CERTIFICATE" => self.certificates.push(Cert::from_der(&der)?),
                    "X509 CRL" => self.crls.push(Crl::from_der(&der)?),
                    _ => {}
                }
            }
            return Ok(());
        }
        match Cert::from_der(bytes) {
            Ok(cert) => self.certificates.push(cert),
            Err(as_cert) => match Crl::from_der(bytes) {
                Ok(crl) => self.crls.push(crl),
                Err(as_crl) => return Err(format!("{as_cert}; {as_crl}")),
            },
        }
        Ok(())
    }

    /// Before embedding at signing time: every CRL must be signed by a certificate among the
    /// signer's chain and these certificates, and must not be dated in the future.
    pub fn check_for_signing(
        &self,
        chain: &[Cert],
        now: time::OffsetDateTime,
    ) -> Result<(), Failure> {
        let mut issuers: Vec<Cert> = chain.to_vec();
        issuers.extend(self.certificates.iter().cloned());
        for crl in &self.crls {
            super::revocation::check_crl_issued_by_one_of(crl, &issuers)?;
            if crl.this_update() > now.unix_timestamp() {
                return Err(Failure::Crl(format!(
                    "the CRL from {} is dated in the future; check the clock of this machine",
                    crl.issuer()
                )));
            }
        }
        Ok(())
    }

    /// Both sets together (the `.p7s`'s own and the auditor's).
    pub fn merged(&self, other: &ValidationData) -> ValidationData {
        let mut out = self.clone();
        for c in &other.certificates {
            if !out.certificates.iter().any(|x| x.der == c.der) {
                out.certificates.push(c.clone());
            }
        }
        for c in &other.crls {
            if !out.crls.iter().any(|x| x.der == c.der) {
                out.crls.push(c.clone());
            }
        }
        out
    }
}

/// `cms` with `data`'s certificates and CRLs added to the SignedData `certificates` and `crls`
/// sets (RFC 5652 §5.1), those already present kept once. These sets are not signed, and
/// `openssl cms -verify` reads them (and checks the CRLs with `-crl_check`).
pub fn embed_validation_data(cms: &[u8], data: &ValidationData) -> Result<Vec<u8>, Failure> {
    let mut signed = Extendable::read(cms)?;
    let sd = &mut signed.signed_data;
    let mut certificates = sd.certificates.take().unwrap_or_default();
    for cert in &data.certificates {
        let any = Any::from_der(&cert.der).map_err(encoding)?;
        if !certificates.contains(&any) {
            certificates.push(any);
        }
    }
    if certificates.len() > MAX_CERTIFICATES {
        return Err(Failure::Malformed(format!(
            "more than {MAX_CERTIFICATES} certificates"
        )));
    }
    let mut crls = sd.crls.take().unwrap_or_default();
    for crl in &data.crls {
        let any = Any::from_der(&crl.der).map_err(encoding)?;
        if !crls.contains(&any) {
            crls.push(any);
        }
    }
    if crls.len() > MAX_CRLS {
        return Err(Failure::Malformed(format!("more than {MAX_CRLS} CRLs")));
    }
    sd.certificates = (!certificates.is_empty()).then_some(certificates);
    sd.crls = (!crls.is_empty()).then_some(crls);
    signed.write()
}

fn encoding(e: der::Error) -> Failure {
    Failure::Malformed(format!("cannot encode the extended CMS ({e})"))
}

/// A CMS SignedData read for extension: exactly one SignerInfo, DER that re-encodes to itself.
struct Extendable {
    signed_data: SignedData,
}

impl Extendable {
    fn read(cms: &[u8]) -> Result<Extendable, Failure> {
        let der = super::verify::pem_or_der(cms)?;
        let signed_data = super::verify::signed_data(&der)?;
        let this = Extendable { signed_data };
        if this.write()? != der {
            return Err(Failure::Malformed(
                "the CMS is not in the DER form massho writes (it would not re-encode to the same bytes), so it cannot be extended without risk to its signature".into(),
            ));
        }
        this.signer()?;
        Ok(this)
    }

    fn signer(&self) -> Result<&cms::signed_data::SignerInfo, Failure> {
        let mut signers = self.signed_data.signer_infos.0.iter();
        match (signers.next(), signers.next()) {
            (Some(one), None) => Ok(one),
            _ => Err(Failure::Malformed(format!(
                "{} signers; massho handles signatures with exactly one",
                self.signed_data.signer_infos.0.len()
            ))),
        }
    }

    /// Change the one SignerInfo (`SetOfVec` has no mutable access: take it out, put it back).
    fn with_signer(
        &mut self,
        change: impl FnOnce(&mut cms::signed_data::SignerInfo) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        let infos = std::mem::take(&mut self.signed_data.signer_infos.0);
        let mut infos = infos.into_vec();
        let [one] = infos.as_mut_slice() else {
            return Err(Failure::Malformed(format!(
                "{} signers; massho handles signatures with exactly one",
                infos.len()
            )));
        };
        change(one)?;
        self.signed_data.signer_infos.0 = SetOfVec::try_from(infos).map_err(encoding)?;
        Ok(())
    }

    fn write(&self) -> Result<Vec<u8>, Failure> {
        ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&self.signed_data).map_err(encoding)?,
        }
        .to_der()
        .map_err(encoding)
    }
}
