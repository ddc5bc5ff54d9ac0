//! Revocation from CRLs (RFC 5280 §5, §6.3, the subset massho needs): no network, only the CRLs
//! the `.p7s` carries and those the auditor hands over (`--validation-data DIR`, `--crl FILE`).
//!
//! For each certificate on a path below the trust anchor, the CRLs that speak for it are those
//! named after its issuer and signed by the issuer's key (the next certificate on the path), whose
//! issuer may sign CRLs (keyUsage cRLSign when keyUsage is present), and that are not dated in the
//! future. A CRL is evidence about the instant `t` (the verified timestamp's time, or now) when it
//! was issued at or after `t`, or when `t` lies between its thisUpdate and nextUpdate; and, for a
//! certificate it does not list, only when it was issued before that certificate expired (or
//! declares expiredCertsOnCRL): a CA may drop expired certificates from its CRLs.
//!
//! The rule: a certificate listed with revocationDate ≤ `t` is REVOKED; listed with a later date,
//! the signature is good because the timestamp proves it existed before the revocation (reported,
//! not hidden). A certificate with CRLs from its issuer none of which covers `t` has an unknown
//! status, which is a failure (the auditor collects a fresher CRL). A certificate for whose
//! issuer no CRL was given at all is reported as not checked.

use der::asn1::{BitString, ObjectIdentifier};
use der::{Decode, Sequence};
use x509_cert::crl::RevokedCert;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
use x509_cert::ext::Extensions;
use x509_cert::name::Name;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

use super::algorithms::{verify_signature, DigestAlg, VerifyError};
use super::path::Cert;
use super::Failure;

const ID_CE_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const ID_CE_DELTA_CRL_INDICATOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.27");
const ID_CE_ISSUING_DISTRIBUTION_POINT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.28");
const ID_CE_CRL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.20");
const ID_CE_AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const ID_CE_CRL_REASONS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.21");
const ID_CE_INVALIDITY_DATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.24");
/// expiredCertsOnCRL (X.509 (2019) §9.6.2.9): the CRL keeps revoked certificates that expired at
/// or after its date.
const ID_CE_EXPIRED_CERTS_ON_CRL: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.60");

/// `CertificateList` (RFC 5280 §5.1). Defined here because x509-cert 0.2's `TbsCertList`
/// requires the version, which a v1 CRL (no extensions, as `openssl ca -gencrl` writes without a
/// crlnumber file) omits.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct CertificateList {
    pub tbs_cert_list: TbsCertList,
    pub signature_algorithm: AlgorithmIdentifierOwned,
    pub signature: BitString,
}

/// `TBSCertList` with `version` OPTIONAL, as RFC 5280 has it.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TbsCertList {
    #[asn1(optional = "true")]
    pub version: Option<x509_cert::Version>,
    pub signature: AlgorithmIdentifierOwned,
    pub issuer: Name,
    pub this_update: Time,
    #[asn1(optional = "true")]
    pub next_update: Option<Time>,
    #[asn1(optional = "true")]
    pub revoked_certificates: Option<Vec<RevokedCert>>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub crl_extensions: Option<Extensions>,
}

/// One CRL: its DER as received, the to-be-signed part exactly as signed, parsed.
#[derive(Debug, Clone)]
pub struct Crl {
    pub der: Vec<u8>,
    tbs_der: Vec<u8>,
    pub crl: CertificateList,
}

impl Crl {
    pub fn from_der(der: &[u8]) -> Result<Crl, String> {
        let crl = CertificateList::from_der(der).map_err(|e| format!("not an X.509 CRL ({e})"))?;
        let tbs_der =
            super::path::signed_part(der).map_err(|e| format!("not an X.509 CRL ({e})"))?;
        if crl.signature_algorithm != crl.tbs_cert_list.signature {
            return Err(
                "not an X.509 CRL (its signatureAlgorithm differs from the signed one)".into(),
            );
        }
        Ok(Crl {
            der: der.to_vec(),
            tbs_der,
            crl,
        })
    }

    /// The issuer as RFC 4514 text.
    pub fn issuer(&self) -> String {
        self.crl.tbs_cert_list.issuer.to_string()
    }

    pub fn this_update(&self) -> i64 {
        unix(&self.crl.tbs_cert_list.this_update)
    }

    pub fn next_update(&self) -> Option<i64> {
        self.crl.tbs_cert_list.next_update.as_ref().map(unix)
    }

    /// Whether `issuer` signed this CRL and may sign CRLs.
    pub(crate) fn check_signed_by(&self, issuer: &Cert) -> Result<(), Failure> {
        if issuer.cert.tbs_certificate.subject != self.crl.tbs_cert_list.issuer {
            return Err(Failure::Crl(format!(
                "the CRL from {} is not named after {}",
                self.issuer(),
                issuer.subject()
            )));
        }
        let alg = &self.crl.signature_algorithm;
        let hash = DigestAlg::of_signature_algorithm(&alg.oid)
            .ok_or_else(|| Failure::Unsupported(format!("CRL signature algorithm {}", alg.oid)))?;
        let signature = self
            .crl
            .signature
            .as_bytes()
            .ok_or_else(|| Failure::Crl("a CRL's signature is not whole bytes".into()))?;
        verify_signature(
            &issuer.cert.tbs_certificate.subject_public_key_info,
            alg,
            hash,
            &hash.digest(&self.tbs_der),
            signature,
        )
        .map_err(|e| match e {
            VerifyError::Invalid => Failure::Crl(format!(
                "the CRL from {} (thisUpdate {}) is not signed by that CA's key: it was altered or comes from another CA with the same name",
                self.issuer(),
                show(self.this_update())
            )),
            other => Failure::Unsupported(format!("the CRL from {}: {other}", self.issuer())),
        })?;
        if let Some(ext) = issuer
            .cert
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .find(|e| e.extn_id == ID_CE_KEY_USAGE)
        {
            let usage = KeyUsage::from_der(ext.extn_value.as_bytes()).map_err(|e| {
                Failure::Crl(format!("{}: unreadable keyUsage ({e})", issuer.subject()))
            })?;
            if !usage.0.contains(KeyUsages::CRLSign) {
                return Err(Failure::Crl(format!(
                    "{} may not sign CRLs (its keyUsage lacks cRLSign)",
                    issuer.subject()
                )));
            }
        }
        // A delta CRL or one scoped by an issuing distribution point says nothing about the
        // certificates outside it; massho reads only complete CRLs.
        for ext in self
            .crl
            .tbs_cert_list
            .crl_extensions
            .as_deref()
            .unwrap_or(&[])
        {
            if ext.extn_id == ID_CE_DELTA_CRL_INDICATOR
                || ext.extn_id == ID_CE_ISSUING_DISTRIBUTION_POINT
            {
                return Err(Failure::Unsupported(format!(
                    "the CRL from {} is a delta or partitioned CRL ({}); pass the issuer's complete CRL",
                    self.issuer(),
                    ext.extn_id
                )));
            }
            if ext.critical
                && ext.extn_id != ID_CE_CRL_NUMBER
                && ext.extn_id != ID_CE_AUTHORITY_KEY_IDENTIFIER
            {
                return Err(Failure::Unsupported(format!(
                    "the CRL from {} has a critical extension {} that massho does not process",
                    self.issuer(),
                    ext.extn_id
                )));
            }
        }
        Ok(())
    }

    /// The revocation date of `cert` if this CRL lists it.
    fn revocation_of(&self, cert: &Cert) -> Result<Option<i64>, Failure> {
        let serial = &cert.cert.tbs_certificate.serial_number;
        for entry in self
            .crl
            .tbs_cert_list
            .revoked_certificates
            .as_deref()
            .unwrap_or(&[])
        {
            if &entry.serial_number != serial {
                continue;
            }
            for ext in entry.crl_entry_extensions.as_deref().unwrap_or(&[]) {
                if ext.critical
                    && ext.extn_id != ID_CE_CRL_REASONS
                    && ext.extn_id != ID_CE_INVALIDITY_DATE
                {
                    return Err(Failure::Unsupported(format!(
                        "the CRL from {} lists {} with a critical entry extension {} that massho does not process",
                        self.issuer(),
                        cert.subject(),
                        ext.extn_id
                    )));
                }
            }
            return Ok(Some(unix(&entry.revocation_date)));
        }
        Ok(None)
    }

    /// Whether this CRL is evidence about the instant `t` for `cert`. A CA may drop a
    /// certificate from its CRLs once the certificate has expired (RFC 5280 §3.3), so a CRL
    /// issued after `cert`'s notAfter, which does not list it, says nothing about it: unless
    /// the CRL declares with expiredCertsOnCRL that it keeps certificates that expired then.
    fn covers(&self, t: i64, cert: &Cert) -> bool {
        let (_, not_after) = cert.validity();
        let keeps_it = self.this_update() <= not_after
            || self.expired_certs_on_crl().is_some_and(|d| d <= not_after);
        keeps_it && (self.this_update() >= t || self.next_update().is_none_or(|next| t <= next))
    }

    /// The date of the expiredCertsOnCRL extension, if the CRL has a readable one.
    fn expired_certs_on_crl(&self) -> Option<i64> {
        let ext = self
            .crl
            .tbs_cert_list
            .crl_extensions
            .as_deref()?
            .iter()
            .find(|e| e.extn_id == ID_CE_EXPIRED_CERTS_ON_CRL)?;
        let date = der::asn1::GeneralizedTime::from_der(ext.extn_value.as_bytes()).ok()?;
        i64::try_from(date.to_unix_duration().as_secs()).ok()
    }
}

/// How a revocation without a verified timestamp ends its message (replaced for a TSA, whose
/// own time never excuses its revocation).
pub(crate) const NO_TIMESTAMP: &str =
    "; the signature has no verified timestamp proving it was made before";

/// What the CRLs said about one certification path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevocationReport {
    /// Certificates whose status a CRL covering the verification time gave.
    pub checked: Vec<String>,
    /// Certificates for whose issuer no CRL was given: their status is unknown to massho.
    pub not_checked: Vec<String>,
    /// Certificates revoked after the verified timestamp, which therefore does not affect this
    /// signature: "SUBJECT revoked at DATE, after the timestamp".
    pub revoked_after_timestamp: Vec<String>,
}

impl RevocationReport {
    /// One phrase for what the CRLs said (`cert verify`, signed PDFs, the evidence ledger).
    pub fn phrase(&self) -> String {
        let mut parts = Vec::new();
        if !self.checked.is_empty() {
            parts.push(format!("checked ({})", self.checked.join("; ")));
        }
        if !self.not_checked.is_empty() {
            parts.push(format!(
                "not checked, no CRL given ({})",
                self.not_checked.join("; ")
            ));
        }
        parts.extend(self.revoked_after_timestamp.iter().cloned());
        parts.join("; ")
    }
}

/// Check each certificate of `path` (leaf first, anchor last) against `crls` at `t` (Unix
/// seconds). `timestamped` says whether `t` is a verified timestamp's time, which lets a
/// revocation after `t` stand aside; `now` refuses CRLs dated in the future.
pub(crate) fn check_path(
    path: &[Cert],
    crls: &[Crl],
    t: i64,
    timestamped: bool,
    now: i64,
) -> Result<RevocationReport, Failure> {
    let mut report = RevocationReport::default();
    // The anchor is trusted as given; every certificate below it is checked by its issuer's CRLs.
    for pair in path.windows(2) {
        let [cert, issuer] = pair else { continue };
        let from_issuer: Vec<&Crl> = crls
            .iter()
            .filter(|c| c.crl.tbs_cert_list.issuer == cert.cert.tbs_certificate.issuer)
            .collect();
        if from_issuer.is_empty() {
            report.not_checked.push(cert.subject());
            continue;
        }
        let mut usable = Vec::new();
        for crl in from_issuer {
            crl.check_signed_by(issuer)?;
            if crl.this_update() > now {
                return Err(Failure::Crl(format!(
                    "the CRL from {} is dated {}, in the future; check the clock of this machine",
                    crl.issuer(),
                    show(crl.this_update())
                )));
            }
            usable.push(crl);
        }
        // Any CRL listing the certificate proves its revocation, whatever its own dates.
        let mut revoked: Option<i64> = None;
        for crl in &usable {
            if let Some(date) = crl.revocation_of(cert)? {
                revoked = Some(revoked.map_or(date, |d| d.min(date)));
            }
        }
        match revoked {
            Some(date) if !timestamped || date <= t => {
                return Err(Failure::Revoked(format!(
                    "certificate {} (serial {}) was revoked at {} by {}{}",
                    cert.subject(),
                    cert.cert.tbs_certificate.serial_number,
                    show(date),
                    cert.cert.tbs_certificate.issuer,
                    if timestamped {
                        format!(", not after the timestamp {}", show(t))
                    } else {
                        String::from(NO_TIMESTAMP)
                    }
                )));
            }
            Some(date) => {
                report.revoked_after_timestamp.push(format!(
                    "{} revoked at {}, after the timestamp {}",
                    cert.subject(),
                    show(date),
                    show(t)
                ));
            }
            None => {}
        }
        if revoked.is_none() && !usable.iter().any(|c| c.covers(t, cert)) {
            let latest = usable.iter().map(|c| c.this_update()).max().unwrap_or(0);
            let (_, not_after) = cert.validity();
            let why = if latest > not_after {
                format!(
                    "the CRLs from {} not listing it were issued after it expired ({}), when a CA may have dropped it from its CRLs; pass a CRL issued between {} and {}",
                    cert.cert.tbs_certificate.issuer,
                    show(not_after),
                    show(t),
                    show(not_after)
                )
            } else {
                format!(
                    "the newest CRL from {} (thisUpdate {}) had expired by then; collect the CA's current CRL",
                    cert.cert.tbs_certificate.issuer,
                    show(latest)
                )
            };
            return Err(Failure::Crl(format!(
                "revocation status of {} unknown at {}: {why}, and pass it with --crl or --validation-data",
                cert.subject(),
                show(t),
            )));
        }
        report.checked.push(cert.subject());
    }
    Ok(report)
}

/// Check a CRL found in validation data against the certificates that may have issued it.
pub(crate) fn check_crl_issued_by_one_of(crl: &Crl, issuers: &[Cert]) -> Result<(), Failure> {
    let named: Vec<&Cert> = issuers
        .iter()
        .filter(|c| c.cert.tbs_certificate.subject == crl.crl.tbs_cert_list.issuer)
        .collect();
    if named.is_empty() {
        return Err(Failure::Crl(format!(
            "no certificate of {} is in the chain or the validation data, so its CRL cannot be checked; add that CA's certificate",
            crl.issuer()
        )));
    }
    let mut first_error = None;
    for issuer in named {
        match crl.check_signed_by(issuer) {
            Ok(()) => return Ok(()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| Failure::Crl(format!("the CRL from {}", crl.issuer()))))
}

fn unix(t: &Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

pub(crate) fn show(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}
