//! What a drive says about itself through its firmware: identity, purge capabilities and the
//! states that block them, hidden areas, and health.
//!
//! Discovery asks, never changes: every command sent here only reports (IDENTIFY, READ NATIVE
//! MAX, SANITIZE STATUS, SMART, NVMe Identify and Get Log Page with RAE set, INQUIRY). Each
//! answer that does not come is recorded as unknown, never as "none": a drive that does not
//! answer READ NATIVE MAX may still have a hidden area.

pub mod ata;
pub mod nvme;
pub mod probe;
pub mod scsi;

use serde::{Deserialize, Serialize};

/// A space-padded ASCII field of a drive's answer (NVMe Identify, SCSI INQUIRY), trimmed; bytes
/// that are not printable ASCII are dropped, and a field past the end of a short answer is empty.
fn ascii_field(buf: &[u8], range: std::ops::Range<usize>) -> String {
    buf.get(range)
        .unwrap_or(&[])
        .iter()
        .filter(|c| c.is_ascii_graphic() || **c == b' ')
        .map(|c| char::from(*c))
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Who the drive says it is (as opposed to what the kernel or a USB bridge reports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DriveIdentity {
    /// Which command answered: `ata_identify`, `nvme_identify`, `scsi_inquiry`.
    pub source: IdentitySource,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub firmware: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    AtaIdentify,
    NvmeIdentify,
    ScsiInquiry,
}

/// A firmware purge technique this drive reports it supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "technique", rename_all = "snake_case")]
pub enum PurgeTechnique {
    AtaSanitizeCrypto,
    AtaSanitizeBlock,
    AtaSanitizeOverwrite,
    /// SECURITY ERASE UNIT, normal mode; the drive's time estimate (IDENTIFY word 89).
    AtaSecurityErase {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minutes: Option<u32>,
    },
    /// SECURITY ERASE UNIT, enhanced mode (word 90).
    AtaSecurityEraseEnhanced {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minutes: Option<u32>,
    },
    NvmeSanitizeCrypto,
    NvmeSanitizeBlock,
    NvmeSanitizeOverwrite,
    /// Format NVM with SES=1 (user data erase).
    NvmeFormatUserData,
    /// Format NVM with SES=2 (cryptographic erase): FNA bit 2.
    NvmeFormatCrypto,
    ScsiSanitizeCrypto,
    ScsiSanitizeBlock,
    ScsiSanitizeOverwrite,
}

impl PurgeTechnique {
    /// The method-style name (`ata-sanitize-crypto`), for tables.
    pub fn name(self) -> &'static str {
        match self {
            PurgeTechnique::AtaSanitizeCrypto => "ata-sanitize-crypto",
            PurgeTechnique::AtaSanitizeBlock => "ata-sanitize-block",
            PurgeTechnique::AtaSanitizeOverwrite => "ata-sanitize-overwrite",
            PurgeTechnique::AtaSecurityErase { .. } => "ata-secure-erase",
            PurgeTechnique::AtaSecurityEraseEnhanced { .. } => "ata-secure-erase-enhanced",
            PurgeTechnique::NvmeSanitizeCrypto => "nvme-sanitize-crypto",
            PurgeTechnique::NvmeSanitizeBlock => "nvme-sanitize-block",
            PurgeTechnique::NvmeSanitizeOverwrite => "nvme-sanitize-overwrite",
            PurgeTechnique::NvmeFormatUserData => "nvme-format-user-data",
            PurgeTechnique::NvmeFormatCrypto => "nvme-format-crypto",
            PurgeTechnique::ScsiSanitizeCrypto => "scsi-sanitize-crypto",
            PurgeTechnique::ScsiSanitizeBlock => "scsi-sanitize-block",
            PurgeTechnique::ScsiSanitizeOverwrite => "scsi-sanitize-overwrite",
        }
    }
}

/// A state of the drive that stops a purge now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PurgeBlocker {
    /// ATA security is frozen (usually by the BIOS at boot): no SECURITY command until a
    /// power cycle or a suspend/resume.
    SecurityFrozen,
    /// ATA security is locked: a password is set and the drive was not unlocked.
    SecurityLocked,
    /// Too many wrong passwords: no more attempts until a power cycle.
    SecurityAttemptsExhausted,
    /// A password is set (security enabled): massho's erase needs to know it.
    SecurityEnabled,
    /// SANITIZE FREEZE LOCK was issued: no SANITIZE until a power cycle.
    SanitizeFrozen,
    /// A sanitize operation is running; progress in percent.
    SanitizeInProgress { percent: u8 },
    /// The last sanitize failed: the drive is in the sanitize failure state until a successful
    /// sanitize (or EXIT FAILURE MODE when it was started with AUSE).
    SanitizeFailed,
}

/// Purge capabilities and blocking states, as the drive reports them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SanitizeSupport {
    /// Techniques the drive reports, strongest family first (crypto, block, overwrite).
    pub techniques: Vec<PurgeTechnique>,
    /// What stops them right now; empty when nothing does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<PurgeBlocker>,
    /// Questions the drive did not answer (e.g. the sanitize status), so the lists above may
    /// be incomplete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// Whether a host protected area hides sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HiddenState {
    /// The native maximum equals the accessible maximum.
    None,
    /// Sectors beyond the accessible maximum exist.
    Hidden,
    /// The drive could not be asked (see `reason`).
    Unknown,
}

/// Sectors the drive hides from the host: a host protected area (HPA) or ACS-3 accessible max
/// address below the native maximum, and a device configuration overlay (DCO) below the factory
/// capacity. `state` is `hidden` when either hides sectors, `unknown` when neither does but
/// one could not be asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HiddenArea {
    pub state: HiddenState,
    /// Logical sectors the host can address now (IDENTIFY).
    pub accessible_sectors: u64,
    /// Logical sectors the drive has (native max address + 1), when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_sectors: Option<u64>,
    /// Which command gave `native_sectors`: `read_native_max_address(_ext)` or the ACS-3
    /// `get_native_max_address_ext`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_from: Option<String>,
    /// Logical sectors the DCO allows (DEVICE CONFIGURATION IDENTIFY max LBA + 1, checksum
    /// verified), when the drive has a DCO and answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dco_sectors: Option<u64>,
    /// Why part of it is unknown, or why there is nothing to ask.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl HiddenArea {
    /// Sectors beyond what the host can address, by the largest capacity the drive admitted.
    pub fn hidden_sectors(&self) -> Option<u64> {
        let largest = self.native_sectors.max(self.dco_sectors)?;
        Some(largest.saturating_sub(self.accessible_sectors))
    }
}

/// Drive health as the drive reports it. Every field is absent when not reported.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DriveHealth {
    /// ATA SMART RETURN STATUS (no threshold exceeded), or NVMe critical warning == 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_on_hours: Option<u64>,
    /// ATA SMART attribute 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reallocated_sectors: Option<u64>,
    /// ATA SMART attribute 197.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_sectors: Option<u64>,
    /// ATA SMART attribute 198.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncorrectable_sectors: Option<u64>,
    /// NVMe SMART log byte 0 (bit 0 spare, 1 temperature, 2 reliability, 3 read-only,
    /// 4 volatile backup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvme_critical_warning: Option<u8>,
    /// NVMe endurance used, percent (may exceed 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage_used: Option<u8>,
    /// NVMe media and data integrity errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_errors: Option<u64>,
}

impl DriveHealth {
    pub fn is_empty(&self) -> bool {
        *self == DriveHealth::default()
    }

    /// What was reported, as short phrases for tables and screens (`passed`, `31000 h`,
    /// `8 reallocated`, `critical warning 0x04`, ...); empty when nothing was.
    pub fn phrases(&self) -> Vec<String> {
        let mut bits = Vec::new();
        match self.passed {
            Some(true) => bits.push("passed".to_owned()),
            Some(false) => bits.push("FAILING".to_owned()),
            None => {}
        }
        if let Some(v) = self.power_on_hours {
            bits.push(format!("{v} h"));
        }
        for (v, what) in [
            (self.reallocated_sectors, "reallocated"),
            (self.pending_sectors, "pending"),
            (self.uncorrectable_sectors, "uncorrectable"),
            (self.media_errors, "media errors"),
        ] {
            if let Some(v) = v {
                bits.push(format!("{v} {what}"));
            }
        }
        if let Some(p) = self.percentage_used {
            bits.push(format!("{p}% used"));
        }
        if let Some(w) = self.nvme_critical_warning.filter(|w| *w != 0) {
            bits.push(format!("critical warning {w:#04x}"));
        }
        bits
    }
}

/// Everything one probe learned. Each part is `None` when the drive could not be asked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DriveReport {
    pub identity: Option<DriveIdentity>,
    pub sanitize: Option<SanitizeSupport>,
    pub hidden: Option<HiddenArea>,
    pub health: Option<DriveHealth>,
}
