//! What a wipe did, in plain serde data: the engine's half of the per-device result.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::method::{VerifyKind, VerifyMode};

/// Outcome of a wipe. Never `Passed` unless every pass completed and was flushed, and the
/// medium was read back (in full or NIST-sampled) and held exactly the expected bytes. A wipe
/// that completed without errors but that nothing read back (`--verify none`) is `Unverified`:
/// NIST SP 800-88 asks for verification, so it is not a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Unverified,
    Failed,
    Aborted,
}

impl Status {
    /// Every status, best first.
    pub const ALL: [Status; 4] = [
        Status::Passed,
        Status::Unverified,
        Status::Failed,
        Status::Aborted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Unverified => "unverified",
            Status::Failed => "failed",
            Status::Aborted => "aborted",
        }
    }
}

/// One write pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PassRecord {
    /// 1-based pass number.
    pub index: u32,
    /// `0x00`, `0x92 0x49 0x24`, `random`, `complement of random`.
    pub pattern: String,
    /// Bytes written and flushed (fdatasync succeeded); unwritable sectors are not counted.
    pub bytes_written: u64,
    pub seconds: f64,
    /// `bytes_written / seconds`.
    pub throughput_bps: f64,
    /// Whether the pass reached the end of the medium (false when aborted).
    pub completed: bool,
}

/// A byte range, for mismatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ByteRange {
    pub offset: u64,
    pub length: u64,
}

/// The read-back of one pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PassVerification {
    pub pass: u32,
    pub kind: VerifyKind,
    /// Bytes read back and compared.
    pub bytes_verified: u64,
    pub seconds: f64,
    pub throughput_bps: f64,
    /// Bytes that differed from what the pass wrote.
    pub mismatched_bytes: u64,
    /// Where they differ: the [`MAX_RECORDED_RANGES`] lowest ranges, ascending, touching ranges
    /// joined; the same list on every run over the same medium.
    pub mismatches: Vec<ByteRange>,
    /// Differing ranges beyond those listed in `mismatches` (counted, not listed).
    #[serde(default)]
    pub mismatches_unlisted_ranges: u64,
    /// Differing bytes in those unlisted ranges.
    #[serde(default)]
    pub mismatches_unlisted_bytes: u64,
    /// For sampled verification: how many separate ranges were read.
    pub sampled_ranges: Option<u64>,
    pub completed: bool,
}

/// How many mismatch or error ranges a record keeps; counts stay exact beyond it.
pub const MAX_RECORDED_RANGES: usize = 1000;

/// What kind of I/O failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Write,
    Read,
    Sync,
}

/// A contiguous run of sectors that could not be written or read, or a failed flush.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorRange {
    pub kind: ErrorKind,
    pub pass: u32,
    pub offset: u64,
    pub length: u64,
    /// First and last (inclusive) logical sector of the range.
    pub first_lba: u64,
    pub last_lba: u64,
    pub sector_size: u32,
    pub message: String,
}

/// All verification of a wipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VerificationSummary {
    pub mode: VerifyMode,
    pub bytes_verified: u64,
    pub mismatched_bytes: u64,
    /// Mismatches of every verified pass, merged: the [`MAX_RECORDED_RANGES`] lowest ranges,
    /// ascending.
    pub mismatches: Vec<ByteRange>,
    /// Ranges found by some pass that `mismatches` does not list (a range found by two passes
    /// counts twice, as in `mismatched_bytes`).
    #[serde(default)]
    pub mismatches_unlisted_ranges: u64,
    /// Differing bytes in those unlisted ranges.
    #[serde(default)]
    pub mismatches_unlisted_bytes: u64,
    /// Whether reads bypassed the page cache (O_DIRECT).
    pub direct_io: bool,
    pub passes: Vec<PassVerification>,
}

/// The engine's account of one wipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WipeReport {
    pub status: Status,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub passes: Vec<PassRecord>,
    pub verification: VerificationSummary,
    pub errors: Vec<ErrorRange>,
    /// Error ranges beyond [`MAX_RECORDED_RANGES`] that were counted but not listed.
    pub errors_truncated: u64,
    /// Why the engine gave up on the medium (device gone, too many bad sectors); the passes
    /// after it were not run. Always with status `failed`.
    pub abandoned: Option<String>,
    /// The firmware steps that ran (or were refused), with what the drive answered and what
    /// the read-back found.
    #[serde(default)]
    pub firmware: Vec<crate::purge::FirmwareRecord>,
}
