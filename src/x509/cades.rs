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
    // A bare token (ContentInfo), or a whole response whose status must be granted.
    let token = match ContentInfo::from_der(token) {
        Ok(_) => token.to_vec(),
        Err(_) => crate::timestamp::token_from_response(token)
            .map_err(|e| Failure::Timestamp(e.to_string()))?,
    };
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

/// The DER CMS at the start of `contents` when it is followed only by zero bytes, as in a PDF
/// signature's `/Contents`, which is reserved larger than the CMS and padded with zeros. The
/// functions of this module take the CMS itself, not the padding.
pub fn without_zero_padding(contents: &[u8]) -> Result<&[u8], Failure> {
    let mut reader = der::SliceReader::new(contents)
        .map_err(|e| Failure::Malformed(format!("not a DER CMS ({e})")))?;
    let header = der::Header::decode(&mut reader)
        .map_err(|e| Failure::Malformed(format!("not a DER CMS ({e})")))?;
    let total = header
        .encoded_len()
        .and_then(|h| h + header.length)
        .map_err(|e| Failure::Malformed(format!("not a DER CMS ({e})")))?;
    let end =
        usize::try_from(total).map_err(|e| Failure::Malformed(format!("not a DER CMS ({e})")))?;
    let (cms, padding) = contents
        .split_at_checked(end)
        .ok_or_else(|| Failure::Malformed("the CMS is cut short".into()))?;
    if padding.iter().any(|&b| b != 0) {
        return Err(Failure::Malformed(
            "bytes other than zero padding follow the CMS".into(),
        ));
    }
    Ok(cms)
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

/// How a `.p7s` is made beyond CAdES-B-B.
#[derive(Debug, Clone, Default)]
pub struct SigningOptions {
    /// Ask this RFC 3161 TSA (`http://` only, see [`crate::timestamp::http`]) for a signature
    /// timestamp: B-T.
    pub tsa_url: Option<String>,
    /// Certificates and CRLs to embed, checked first ([`ValidationData::check_for_signing`]).
    pub validation: ValidationData,
}

/// A `.p7s` made by [`sign_cades`].
#[derive(Debug)]
pub struct Signed {
    /// The DER `.p7s`.
    pub p7s: Vec<u8>,
    /// The time the TSA stamped, when the signature got its timestamp.
    pub timestamp: Option<String>,
    /// Why the TSA gave no timestamp, when one was asked for: the `.p7s` is then B-B, complete
    /// and valid, and the timestamp can be added later in two offline steps.
    pub timestamp_problem: Option<X509Error>,
}

/// Sign `content` (CAdES-B-B), embed `options.validation`, and ask `options.tsa_url` for a
/// signature timestamp. A TSA that cannot be reached or answers wrongly does not make signing
/// fail: the result says why it stayed B-B ([`Signed::timestamp_problem`]).
pub fn sign_cades(
    content: &[u8],
    signer: &super::SignerMaterial,
    options: &SigningOptions,
) -> Result<Signed, X509Error> {
    let unusable = |e: Failure| X509Error::Sign(format!("{e}"));
    let mut chain = vec![signer.signer().clone()];
    chain.extend(signer.chain().iter().cloned());
    options
        .validation
        .check_for_signing(&chain, time::OffsetDateTime::now_utc())
        .map_err(unusable)?;
    let mut p7s = super::sign_detached(content, signer)?;
    if !options.validation.certificates.is_empty() || !options.validation.crls.is_empty() {
        p7s = embed_validation_data(&p7s, &options.validation).map_err(unusable)?;
    }
    let Some(url) = &options.tsa_url else {
        return Ok(Signed {
            p7s,
            timestamp: None,
            timestamp_problem: None,
        });
    };
    Ok(match timestamp_over_http(&p7s, url) {
        Ok((stamped, time)) => Signed {
            p7s: stamped,
            timestamp: Some(time),
            timestamp_problem: None,
        },
        Err(problem) => Signed {
            p7s,
            timestamp: None,
            timestamp_problem: Some(problem),
        },
    })
}

/// `cms` with a signature timestamp from the TSA at `url`, and the TSA's time. The reply must be
/// granted, answer this request (its nonce) and stamp this signature; the TSA's own signature is
/// judged by the verifier against its trust anchors.
pub fn timestamp_over_http(cms: &[u8], url: &str) -> Result<(Vec<u8>, String), X509Error> {
    let tsa = |detail: String| X509Error::Tsa {
        url: url.to_string(),
        detail: format!("{url}: {detail}"),
    };
    let imprint = signature_timestamp_imprint(cms).map_err(|e| tsa(e.to_string()))?;
    let (request, nonce) = crate::timestamp::request(&imprint).map_err(|e| tsa(e.to_string()))?;
    // The HTTP errors name the URL themselves.
    let reply = crate::timestamp::http::fetch(url, &request).map_err(|e| X509Error::Tsa {
        url: url.to_string(),
        detail: e.to_string(),
    })?;
    let token = crate::timestamp::token_from_response(&reply).map_err(|e| tsa(e.to_string()))?;
    if !crate::timestamp::token_has_nonce(&token, nonce).map_err(|e| tsa(e.to_string()))? {
        return Err(tsa(
            "the reply does not carry the request's nonce: it answers another request".into(),
        ));
    }
    let info = crate::timestamp::check_token(&token, &imprint).map_err(|e| tsa(e.to_string()))?;
    let stamped = attach_signature_timestamp(cms, &token).map_err(|e| tsa(e.to_string()))?;
    Ok((stamped, info.gen_time))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// id-signedData with an empty SignedData: readable as ContentInfo, not as a signature.
    const MINIMAL: [u8; 17] = [
        0x30, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x02,
        0x30, 0x00,
    ];

    #[test]
    fn garbage_is_refused_by_every_entry_point_not_a_panic() {
        let data = ValidationData::default();
        for bytes in [&b""[..], b"\x30\x00", b"\x30\x80\x00\x00", &MINIMAL] {
            assert!(signature_timestamp_imprint(bytes).is_err());
            assert!(signature_timestamp_tokens(bytes).is_err());
            assert!(attach_signature_timestamp(bytes, bytes).is_err());
            assert!(embed_validation_data(bytes, &data).is_err());
        }
        for len in 0..MINIMAL.len() {
            assert!(signature_timestamp_imprint(&MINIMAL[..len]).is_err());
        }
        for at in 0..MINIMAL.len() {
            let mut changed = MINIMAL;
            changed[at] ^= 0x5a;
            assert!(signature_timestamp_imprint(&changed).is_err());
            assert!(attach_signature_timestamp(&changed, &MINIMAL).is_err());
        }
    }

    #[test]
    fn zero_padding_after_the_cms_is_taken_off_and_nothing_else() {
        let mut padded = MINIMAL.to_vec();
        padded.extend([0u8; 100]);
        assert_eq!(without_zero_padding(&padded).unwrap(), &MINIMAL);
        assert_eq!(without_zero_padding(&MINIMAL).unwrap(), &MINIMAL);
        padded[50] = 1;
        assert!(without_zero_padding(&padded).is_err());
        assert!(without_zero_padding(&MINIMAL[..10]).is_err());
        assert!(without_zero_padding(b"").is_err());
    }

    #[test]
    fn validation_data_files_hold_certificates_or_crls_only() {
        let mut data = ValidationData::default();
        assert!(data.add(b"not DER at all").is_err());
        assert!(data
            .add(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
            .is_err());
        // PEM blocks of other kinds are ignored, not an error.
        assert!(data
            .add(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
            .is_ok());
        assert!(data.certificates.is_empty() && data.crls.is_empty());
    }
}
