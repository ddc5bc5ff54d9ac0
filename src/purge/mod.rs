//! Firmware purge: asking the drive itself to sanitize all of its media, including the spare,
//! remapped and over-provisioned blocks an overwrite never reaches (NIST SP 800-88 Purge).
//!
//! Three parts:
//! - [`select`] decides, per drive and before anything is written, which technique a plan's
//!   firmware step uses (`purge` = the strongest the drive offers) or why it cannot run;
//! - [`drive`] sends the commands through the transport traits (NVMe admin, ATA over SAT,
//!   SCSI), polls the drive's own progress, and records every command and answer;
//! - the engine ([`crate::engine`]) runs a firmware step between overwrite passes and checks
//!   what the firmware did: it never trusts the status alone (see [`Expect`]).
//!
//! The record ([`FirmwareRecord`]) says what was sent (opcode, CDW10/11, taskfile or CDB
//! bytes), what the drive answered, and what verification found; the NIST category of the
//! whole wipe is derived from it (`crate::result::sanitization_for`).

pub mod drive;
pub mod hidden;
pub mod select;

use serde::{Deserialize, Serialize};

use crate::device::drive::PurgeTechnique;
use crate::engine::Control;

pub use select::{choose, Refused};

/// One command sent to the drive, as the certificate records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommandRecord {
    /// `format_nvm`, `sanitize`, `security_erase_unit`, `sanitize_status_ext`, ...
    pub name: String,
    /// What was sent: NVMe `opcode=0x80 nsid=1 cdw10=0x00000200 cdw11=0x00000000`, an ATA
    /// taskfile `command=0xb4 features=0x0012 count=0x0000 lba=0x0000426b4572`, or a SCSI CDB
    /// in hex. Passwords are never recorded.
    pub sent: String,
    /// What came back, decoded (`success`, `status 0x4002 invalid field (do not retry)`,
    /// `ABRT, status 0x51`, sense key/ASC/ASCQ).
    pub answer: String,
    /// Whether the drive accepted it.
    pub ok: bool,
}

/// How a firmware step ended, as far as the drive said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FirmwareOutcome {
    /// The drive reported the operation complete and successful.
    Completed,
    /// The drive refused or reported failure; see `detail`.
    Failed,
    /// The operation was started and is still running in the drive (massho stopped waiting:
    /// an operator's stop, or the drive's time limit passed). A sanitize continues across
    /// power cycles until it completes.
    LeftRunning,
    /// Nothing was sent that changes the medium (no firmware access, or a pre-check refused).
    NotStarted,
}

/// What the engine checked after the firmware step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum FirmwareCheck {
    /// The medium was read back (`full` or NIST `sampled`) and compared with the byte the
    /// drive documents for what it leaves behind.
    ReadBack {
        expected: String,
        kind: crate::method::VerifyKind,
        bytes_verified: u64,
        mismatched_bytes: u64,
    },
    /// Sectors sampled before the step (their SHA-256 fingerprints kept in the journal, never
    /// their data; sectors holding one repeated byte were first given a random marker) were
    /// read again after it: none may read the same.
    Fingerprints {
        sectors: u64,
        unchanged: u64,
        unreadable: u64,
    },
    /// Nothing was read back (`--verify none`, or the step did not complete).
    None { reason: String },
}

impl FirmwareCheck {
    pub fn passed(&self) -> bool {
        match self {
            FirmwareCheck::ReadBack {
                bytes_verified,
                mismatched_bytes,
                ..
            } => *bytes_verified > 0 && *mismatched_bytes == 0,
            FirmwareCheck::Fingerprints {
                sectors,
                unchanged,
                unreadable,
            } => *sectors > 0 && *unchanged == 0 && *unreadable == 0,
            FirmwareCheck::None { .. } => false,
        }
    }
}

/// One firmware step of a wipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FirmwareRecord {
    /// Its position among the plan's steps (1-based, shared with overwrite passes).
    pub step: u32,
    /// What the method asked for: `purge`, or a technique name.
    pub requested: String,
    /// The technique that ran (`nvme-format-user-data`); why it was chosen is in `reason`.
    pub technique: String,
    pub reason: String,
    /// How the commands reached the drive: `nvme-admin`, `ata-pass-through`, `scsi`.
    pub transport: String,
    /// Every command sent, in order, with its answer.
    pub commands: Vec<CommandRecord>,
    pub outcome: FirmwareOutcome,
    /// Why it failed or what the drive reported in the end (sanitize log, status registers).
    pub detail: String,
    /// Drive-reported flags worth keeping: `no_deallocate`, `failure_mode_on_error`
    /// (AUSE=0: a failed sanitize leaves the drive unusable until a sanitize succeeds),
    /// `global_data_erased`, the drive's own time estimate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    pub seconds: f64,
    pub check: FirmwareCheck,
}

impl FirmwareRecord {
    /// The firmware reported success and the read-back confirmed it.
    pub fn purged(&self) -> bool {
        self.outcome == FirmwareOutcome::Completed && self.check.passed()
    }
}

/// What the medium must read after a technique, as the drive documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Every byte reads this value.
    Byte(u8),
    /// The old content is gone, but what replaces it is not documented (crypto erase, vendor
    /// block-erase patterns): compare fingerprints taken before.
    Changed,
}

/// Progress of a running firmware operation, as the drive reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FirmwareProgress {
    /// 0.0 to 1.0, when the drive reports it.
    pub fraction: Option<f64>,
    /// The drive's own estimate of the whole operation, in seconds.
    pub estimate_seconds: Option<f64>,
}

/// Runs firmware techniques on one drive. The engine calls it for each firmware step; the
/// implementation for real drives is [`drive::DriveFirmware`], tests substitute fakes.
pub trait Firmware: Send {
    /// What the medium must read after `technique` completes on this drive.
    fn expect(&self, technique: PurgeTechnique) -> Expect;
    /// Keep what must survive a crash before the step starts (the fingerprints of the sampled
    /// sectors) — in the journal. An error stops the step before anything is sent.
    fn remember(&mut self, step: u32, fingerprints: &[(u64, String)]) -> Result<(), String>;
    /// Run `technique` to the end, reporting the drive's progress. `progress` returning
    /// [`Control::Stop`] stops *waiting* (a started sanitize cannot be stopped).
    fn execute(
        &mut self,
        step: u32,
        technique: PurgeTechnique,
        progress: &mut dyn FnMut(FirmwareProgress) -> Control,
    ) -> FirmwareRecord;
}

/// Hex of a byte string, for CDBs.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
