//! Batch summaries: one row per certificate, the same row for CSV, JSON and the printed table.
//!
//! A row's contents are what the file says; only a row whose signature was checked against a
//! trusted key ([`Signature::Verified`]) counts towards the totals' passed, failed, aborted and
//! unverified wipes. The others are counted apart, as not checked or rejected, so a summary made
//! without keys can never read as a batch of passed wipes.

use std::path::Path;

use serde::Serialize;

use super::Certificate;
use crate::engine::Status;

/// One row of a batch summary.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryRow {
    pub certificate_id: String,
    pub issued_at: String,
    pub status: String,
    /// `verified` (by a trusted key), `not checked` (no keys given) or `rejected: <why>`.
    pub signature: String,
    /// The timestamp token's time once a TSA certificate verified it; otherwise what is known
    /// about it ("unverified timestamp ..."), or empty without a token.
    pub timestamp: String,
    pub device: String,
    pub vendor: String,
    pub model: String,
    pub serial: String,
    pub size_bytes: u64,
    pub method: String,
    pub nist_category: String,
    pub verify_mode: String,
    pub bytes_verified: u64,
    pub mismatched_bytes: u64,
    pub error_ranges: u64,
    /// When the wipe ended, in the wiping host's local time (RFC 3339 with its offset).
    pub finished_at: String,
    pub operator: String,
    pub organization: String,
    pub asset_tag: String,
    pub purpose: String,
    pub signer: String,
    pub file: String,
}

impl SummaryRow {
    /// The row of `cert`, read from `file`, whose `.minisig` claims key id `signer`, with the
    /// verdict on that signature and what is known of its timestamp.
    pub fn new(
        cert: &Certificate,
        signer: Option<&str>,
        file: &Path,
        signature: &Signature,
        timestamp: String,
    ) -> SummaryRow {
        let w = &cert.wipe;
        SummaryRow {
            certificate_id: cert.certificate_id.clone(),
            issued_at: cert.issued_at.clone(),
            status: cert.status.name().into(),
            signature: signature.to_string(),
            timestamp,
            device: w.device.display().to_string(),
            vendor: w.media.vendor.clone().unwrap_or_default(),
            model: w.media.model.clone().unwrap_or_default(),
            serial: w.serial.clone().unwrap_or_default(),
            size_bytes: w.size_bytes,
            method: w.method.clone(),
            nist_category: w.sanitization.nist_category.clone(),
            verify_mode: w.verify_mode.name().into(),
            bytes_verified: w.verification.bytes_verified,
            mismatched_bytes: w.verification.mismatched_bytes,
            error_ranges: w.errors.len() as u64 + w.errors_truncated,
            finished_at: w.finished_at_local.clone(),
            operator: cert.operator.clone(),
            organization: cert.organization.clone().unwrap_or_default(),
            asset_tag: cert.asset_tag.clone().unwrap_or_default(),
            purpose: cert.disposition.name().into(),
            signer: signer.unwrap_or_default().to_owned(),
            file: file.display().to_string(),
        }
    }
}

/// The verdict on a row's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// Checked against a trusted key and genuine.
    Verified,
    /// No trusted keys were given: the row is what the file claims.
    NotChecked,
    /// Checked and refused, with the reason.
    Rejected(String),
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signature::Verified => f.write_str(VERIFIED),
            Signature::NotChecked => f.write_str(NOT_CHECKED),
            Signature::Rejected(why) => write!(f, "{REJECTED}{why}"),
        }
    }
}

const VERIFIED: &str = "verified";
const NOT_CHECKED: &str = "not checked";
const REJECTED: &str = "rejected: ";

impl SummaryRow {
    /// Whether this row's signature was checked and found genuine.
    pub fn verified(&self) -> bool {
        self.signature == VERIFIED
    }

    /// Whether no key was given to check this row's signature.
    pub fn not_checked(&self) -> bool {
        self.signature == NOT_CHECKED
    }
}

/// The counts of a summary. The wipe outcomes count only rows whose signature was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub certificates: usize,
    pub passed: usize,
    pub unverified: usize,
    pub failed: usize,
    pub aborted: usize,
    /// Rows whose signature no key was given to check.
    pub not_checked: usize,
    /// Rows whose signature was checked and refused (or misnamed, duplicated, bad timestamp).
    pub rejected: usize,
}

impl Totals {
    pub fn of(rows: &[SummaryRow]) -> Totals {
        let mut t = Totals {
            certificates: rows.len(),
            ..Totals::default()
        };
        for r in rows {
            if r.not_checked() {
                t.not_checked += 1;
            } else if !r.verified() {
                t.rejected += 1;
            } else if r.status == Status::Passed.name() {
                t.passed += 1;
            } else if r.status == Status::Unverified.name() {
                t.unverified += 1;
            } else if r.status == Status::Failed.name() {
                t.failed += 1;
            } else if r.status == Status::Aborted.name() {
                t.aborted += 1;
            }
        }
        t
    }

    /// One line for people, in English.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} certificate(s); signature verified: {} passed, {} unverified (nothing read back), {} failed, {} aborted",
            self.certificates, self.passed, self.unverified, self.failed, self.aborted
        );
        if self.rejected > 0 {
            s.push_str(&format!(
                "; {} REJECTED (see the signature column)",
                self.rejected
            ));
        }
        if self.not_checked > 0 {
            s.push_str(&format!(
                "; {} not checked (no trusted key given: pass --pubkey or --trusted)",
                self.not_checked
            ));
        }
        s
    }
}
