//! Batch summaries: one row per certificate, the same row for CSV, JSON and the printed table.

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
    /// The row of `cert`, read from `file` and signed by `signer` (a key id) if known.
    pub fn new(cert: &Certificate, signer: Option<&str>, file: &Path) -> SummaryRow {
        let w = &cert.wipe;
        SummaryRow {
            certificate_id: cert.certificate_id.clone(),
            issued_at: cert.issued_at.clone(),
            status: cert.status.name().into(),
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

/// How many of `rows` passed, failed and were aborted.
pub fn totals(rows: &[SummaryRow]) -> (usize, usize, usize) {
    let count = |s: Status| rows.iter().filter(|r| r.status == s.name()).count();
    (
        count(Status::Passed),
        count(Status::Failed),
        count(Status::Aborted),
    )
}
