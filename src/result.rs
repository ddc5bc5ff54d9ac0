//! The per-device result of a wipe: identity of the medium, the plan, and the engine's report,
//! in one serde object. It is what `--json` prints, what `--result-dir` stores, and what a
//! certificate is issued over.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::UtcOffset;

use crate::device::{DeviceInfo, MediaClass};
use crate::engine::{ErrorRange, PassRecord, Status, VerificationSummary, WipeReport};
use crate::method::{VerifyMode, WipePlan};

/// Identifies the result format; bumped on incompatible changes.
pub const RESULT_SCHEMA: &str = "massho.wipe-result.v1";

/// NIST SP 800-88 classification of what was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sanitization {
    /// What was achieved, derived from the steps that ran and what verification found
    /// ([`sanitization`]): `purge` only when a firmware purge completed *and* its read-back
    /// confirmed it; `clear` for an overwrite of every user-addressable location; `none` when
    /// neither was achieved (a failed or refused firmware step with nothing else done, or an
    /// overwrite that did not reach the end).
    pub nist_category: String,
    pub technique: String,
    pub note: String,
}

/// Everything about one wiped device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WipeResult {
    pub schema: String,
    /// The device path as given.
    pub device: PathBuf,
    pub serial: Option<String>,
    pub size_bytes: u64,
    /// The medium as discovery saw it before the wipe: identity, geometry, transport, and in
    /// `signatures` the partition tables and filesystems that were on it.
    pub media: DeviceInfo,
    /// The medium as read from the open descriptor that was written through (device number,
    /// the kernel's disk sequence number, size, serial): the identity checked after the
    /// confirmation and before the first write. Absent in results of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<crate::device::binding::MediumIdentity>,
    /// Set when this wipe continued an interrupted one (after a power cut or a kill): which
    /// journal entry, and the step and byte offset it continued from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<crate::job::resume::Resumed>,
    pub sanitization: Sanitization,
    pub method: String,
    pub rounds: u32,
    pub blank: bool,
    pub prng: String,
    /// Seed of the random streams, so the final random pattern can be re-verified.
    pub seed: String,
    pub verify_mode: VerifyMode,
    pub status: Status,
    pub passes: Vec<PassRecord>,
    pub verification: VerificationSummary,
    /// The firmware steps: the exact commands sent, the drive's answers, the sanitize log and
    /// what the read-back found. Empty for overwrite-only methods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firmware: Vec<crate::purge::FirmwareRecord>,
    /// Hidden sectors (HPA, accessible max address, DCO) exposed before the wipe with
    /// `--hidden restore`: the capacities before and after, each change (volatile or
    /// permanent) and every command sent. `media` is the drive as it was after the restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_restore: Option<crate::purge::hidden::HiddenRestore>,
    pub errors: Vec<ErrorRange>,
    pub errors_truncated: u64,
    /// Why the wipe gave up on the medium before the end, if it did.
    pub abandoned: Option<String>,
    /// UTC, RFC 3339.
    pub started_at: String,
    pub finished_at: String,
    /// The same instants in the host's local time (e.g. `+09:00`).
    pub started_at_local: String,
    pub finished_at_local: String,
    pub duration_seconds: f64,
    pub warnings: Vec<String>,
    pub tool: ToolInfo,
    pub host: HostInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HostInfo {
    pub hostname: String,
    pub kernel: String,
}

impl HostInfo {
    pub fn current() -> HostInfo {
        let uts = nix::sys::utsname::uname().ok();
        let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uts.as_ref()
                .map(|u| f(u).to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        HostInfo {
            hostname: field(|u| u.nodename()),
            kernel: format!("{} {}", field(|u| u.sysname()), field(|u| u.release())),
        }
    }
}

/// What overwriting means for this class of medium; shown as a warning and kept in the result.
pub fn sanitization_for(media: MediaClass) -> Sanitization {
    let note = match media {
        MediaClass::Magnetic => "overwrite of every user-addressable sector; NIST SP 800-88 Clear. HPA/DCO areas are not reached by an overwrite",
        MediaClass::Flash => "flash medium: overwriting cannot reach spare, remapped or over-provisioned blocks, so this is NIST SP 800-88 Clear only; Purge needs firmware sanitize or crypto erase, or destroy the medium",
        MediaClass::Virtual => "loop device or image file: the bytes were overwritten through the host filesystem; on a journaling or copy-on-write filesystem old copies may remain on the underlying disk",
    };
    Sanitization {
        nist_category: "clear".into(),
        technique: "overwrite".into(),
        note: note.into(),
    }
}

/// What a wipe achieved: derived from the firmware records and the overwrite passes, never
/// taken from the method's name.
pub fn sanitization(media: MediaClass, report: &WipeReport) -> Sanitization {
    let purged: Vec<&crate::purge::FirmwareRecord> =
        report.firmware.iter().filter(|f| f.purged()).collect();
    let overwritten = !report.passes.is_empty() && report.passes.iter().all(|p| p.completed);
    let failed = report.status == Status::Failed || report.status == Status::Aborted;
    let unconfirmed: Vec<String> = report
        .firmware
        .iter()
        .filter(|f| !f.purged())
        .map(|f| {
            format!(
                "step {} {} ({:?}: {}; check: {})",
                f.step,
                f.technique,
                f.outcome,
                f.detail,
                match &f.check {
                    crate::purge::FirmwareCheck::None { reason } => reason.clone(),
                    other if !other.passed() => "FAILED".into(),
                    _ => "passed".into(),
                }
            )
        })
        .collect();
    if !purged.is_empty() && !failed && unconfirmed.is_empty() {
        let techniques: Vec<&str> = purged.iter().map(|f| f.technique.as_str()).collect();
        let mut note = format!(
            "firmware purge by the drive ({}), each confirmed by reading the medium back after the drive reported success",
            techniques.join(", ")
        );
        if purged
            .iter()
            .any(|f| f.technique == "nvme-format-user-data")
        {
            note.push_str("; NVMe Format user-data erase reaches what the vendor defines as the namespace's user data: NIST SP 800-88 counts it as Purge when the vendor documents that it reaches all of it");
        }
        if overwritten {
            note.push_str("; the overwrite passes that followed completed");
        }
        return Sanitization {
            nist_category: "purge".into(),
            technique: techniques.join(" + "),
            note,
        };
    }
    if !report.firmware.is_empty() {
        let clear = overwritten && !failed;
        return Sanitization {
            nist_category: if clear { "clear" } else { "none" }.into(),
            technique: if clear { "overwrite" } else { "none" }.into(),
            note: format!(
                "the firmware purge was not achieved: {}{}",
                unconfirmed.join("; "),
                if clear {
                    "; the overwrite passes completed, which is NIST SP 800-88 Clear"
                } else {
                    ""
                }
            ),
        };
    }
    let mut s = sanitization_for(media);
    if !overwritten {
        s.nist_category = "none".into();
        s.note = format!(
            "the overwrite did not reach the end of the medium; {}",
            s.note
        );
    }
    s
}

/// A drive that still hides sectors was not sanitized as a whole, whatever was done to the
/// part the host could address: the category is `none`, and the note says what was reached.
fn hidden_left(device: &DeviceInfo, mut s: Sanitization) -> Sanitization {
    let Some(area) = device
        .hidden
        .as_ref()
        .filter(|_| device.has_hidden_sectors())
    else {
        return s;
    };
    s.note = format!(
        "{} hidden sector(s) (HPA/DCO/accessible max address) beyond the {} the host could address were not reached, so the medium as a whole is not sanitized; what was done to the addressable part would be NIST SP 800-88 {}: {}",
        area.hidden_sectors()
            .map_or("some".to_owned(), |n| n.to_string()),
        area.accessible_sectors,
        s.nist_category,
        s.note
    );
    s.nist_category = "none".into();
    s
}

impl WipeResult {
    /// Attach what `--hidden restore` did before the wipe, and say it in the note.
    pub fn with_hidden_restore(
        mut self,
        restore: Option<crate::purge::hidden::HiddenRestore>,
    ) -> WipeResult {
        if let Some(r) = &restore {
            let changes: Vec<&str> = r.changes.iter().map(|c| c.describe()).collect();
            self.sanitization.note.push_str(&format!(
                "; before the wipe the drive's hidden sectors were exposed ({}): {} accessible sectors before, {} after, all of them in the block device that was wiped",
                changes.join(", "),
                r.before.accessible_sectors,
                r.after.accessible_sectors
            ));
        }
        self.hidden_restore = restore;
        self
    }
}

fn rfc3339(t: time::OffsetDateTime, offset: UtcOffset) -> String {
    t.to_offset(offset)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl WipeResult {
    /// Compose a result from what discovery saw, the plan, and what the engine reported.
    pub fn new(
        device: &DeviceInfo,
        plan: &WipePlan,
        report: WipeReport,
        warnings: Vec<String>,
        local_offset: UtcOffset,
    ) -> WipeResult {
        let duration = (report.finished_at - report.started_at).as_seconds_f64();
        WipeResult {
            schema: RESULT_SCHEMA.into(),
            device: device.path.clone(),
            serial: device.serial.clone(),
            size_bytes: device.size_bytes,
            media: device.clone(),
            identity: None,
            resumed: None,
            sanitization: hidden_left(device, sanitization(device.media_class, &report)),
            method: plan.method.clone(),
            rounds: plan.rounds,
            blank: plan.blank,
            prng: plan.prng.name().into(),
            seed: plan.seed.to_hex(),
            verify_mode: plan.verify,
            status: report.status,
            started_at: rfc3339(report.started_at, UtcOffset::UTC),
            finished_at: rfc3339(report.finished_at, UtcOffset::UTC),
            started_at_local: rfc3339(report.started_at, local_offset),
            finished_at_local: rfc3339(report.finished_at, local_offset),
            duration_seconds: duration,
            passes: report.passes,
            verification: report.verification,
            firmware: report.firmware,
            hidden_restore: None,
            errors: report.errors,
            errors_truncated: report.errors_truncated,
            abandoned: report.abandoned,
            warnings,
            tool: ToolInfo {
                name: env!("CARGO_PKG_NAME").into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            host: HostInfo::current(),
        }
    }
}
