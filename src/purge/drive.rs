//! Running a firmware technique on a drive, through the transport traits.
//!
//! [`run_nvme`], [`run_ata`] and [`run_scsi`] are generic over the transports so that tests run
//! them against the spec-faithful fakes; [`DriveFirmware`] opens the real transport for a
//! device and keeps the journal informed. Every command sent and every answer is recorded.
//!
//! Decisions (docs/firmware.md):
//! - Sanitize is started with AUSE=0 (restricted failure mode): if it fails, the drive refuses
//!   reads and writes until a sanitize succeeds, so a failed purge cannot hand back readable
//!   data. The record says so.
//! - Overwrite sanitize writes one pass of zeros, so the result can be read back as zeros.
//! - ATA SECURITY ERASE UNIT: a fresh random user password is written to the journal *before*
//!   it is set, the erase runs on its own thread while the drive's estimate drives the progress
//!   bar, and the password is removed afterwards whatever happened (an erase that succeeded
//!   removes it by itself; one that failed or was cut off by a bridge is unlocked and disabled).
//!   A drive massho cannot unlock is reported with `massho unlock DEVICE`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{
    CommandRecord, Expect, Firmware, FirmwareCheck, FirmwareOutcome, FirmwareProgress,
    FirmwareRecord,
};
use crate::device::drive::ata::{self, AtaIdentify, AtaSanitizeStatus};
use crate::device::drive::nvme::{
    self, DeallocatedReads, NvmeIdentifyNamespace, NvmeSanitizeAction, NvmeSanitizeLog,
    NvmeSanitizeState,
};
use crate::device::drive::{scsi, PurgeTechnique};
use crate::device::transport::ata::AtaOverScsi;
use crate::device::transport::sense::{self, Sense};
use crate::device::transport::sgio::{NvmeController, SgIo};
use crate::device::transport::{
    AtaCommand, AtaOutcome, AtaTransport, DataDir, NvmeAdmin, NvmeAdminCommand, NvmeCompletion,
    ScsiTransport, TransportError,
};
use crate::device::{DeviceInfo, Transport};
use crate::engine::Control;

/// Commands that only report answer at once.
const SHORT: Duration = Duration::from_secs(30);
/// Format NVM is synchronous; nvme-cli allows 600 s, large drives take longer.
const FORMAT_TIMEOUT: Duration = Duration::from_secs(3 * 3600);
/// The flag every sanitize records: it is started with AUSE=0.
const RESTRICTED_FAILURE_MODE: &str = "failure_mode=restricted (AUSE=0): a failed sanitize leaves the drive unusable until a sanitize succeeds";
/// When a drive gives no estimate, how long a sanitize may run before massho stops waiting.
const SANITIZE_NO_ESTIMATE: Duration = Duration::from_secs(48 * 3600);

/// What the journal is told while a step runs; see [`DriveFirmware::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A temporary ATA user password is about to be set (hex); kept until it is removed.
    PasswordSet { step: u32, password: String },
    /// The temporary password is gone (the erase removed it, or massho disabled it).
    PasswordRemoved { step: u32 },
    /// Fingerprints of the sampled sectors, before the step.
    Fingerprints {
        step: u32,
        sectors: Vec<(u64, String)>,
    },
}

/// Records every command and answer of one step.
pub struct Log {
    pub commands: Vec<CommandRecord>,
    pub flags: Vec<String>,
}

impl Log {
    fn new() -> Log {
        Log {
            commands: Vec::new(),
            flags: Vec::new(),
        }
    }

    fn push(&mut self, name: &str, sent: String, answer: String, ok: bool) {
        self.commands.push(CommandRecord {
            name: name.into(),
            sent,
            answer,
            ok,
        });
    }
}

/// How a step ended, before the engine's check.
pub struct Ended {
    pub outcome: FirmwareOutcome,
    pub detail: String,
}

fn ended(outcome: FirmwareOutcome, detail: impl Into<String>) -> Ended {
    Ended {
        outcome,
        detail: detail.into(),
    }
}

/// Waits between polls, and reports the drive's progress; `Err(())` when the front end asked
/// to stop waiting or the time limit passed.
pub struct Poller<'a> {
    pub interval: Duration,
    pub limit: Duration,
    pub progress: &'a mut dyn FnMut(FirmwareProgress) -> Control,
    started: Instant,
}

impl<'a> Poller<'a> {
    pub fn new(
        interval: Duration,
        progress: &'a mut dyn FnMut(FirmwareProgress) -> Control,
    ) -> Poller<'a> {
        Poller {
            interval,
            limit: SANITIZE_NO_ESTIMATE,
            progress,
            started: Instant::now(),
        }
    }

    /// Report, then sleep one interval. `Some(why)` when waiting must end.
    fn tick(&mut self, fraction: Option<f64>, estimate: Option<f64>) -> Option<String> {
        let p = FirmwareProgress {
            fraction,
            estimate_seconds: estimate,
        };
        if (self.progress)(p) == Control::Stop {
            return Some("stopped by the operator while the drive was still working; the operation continues inside the drive (a sanitize resumes after a power cycle until it completes)".into());
        }
        if self.started.elapsed() > self.limit {
            return Some(format!(
                "no completion after {} s; the drive may still be working",
                self.started.elapsed().as_secs()
            ));
        }
        std::thread::sleep(self.interval);
        None
    }
}

// ---------------------------------------------------------------------------------------
// NVMe

fn nvme_sent(c: &NvmeAdminCommand) -> String {
    format!(
        "opcode={:#04x} nsid={:#x} cdw10={:#010x} cdw11={:#010x}",
        c.opcode, c.nsid, c.cdw10, c.cdw11
    )
}

fn nvme_answer(r: &Result<NvmeCompletion, TransportError>) -> (String, bool) {
    match r {
        Ok(c) if c.is_success() => ("success".into(), true),
        Ok(c) => (
            format!(
                "status {:#06x}{}{}",
                c.status,
                match c.code() {
                    0x0001 => " invalid opcode",
                    0x0002 => " invalid field in command",
                    0x000b => " invalid namespace or format",
                    0x001d => " sanitize failed",
                    0x001e => " sanitize in progress",
                    0x010a => " invalid format",
                    0x0115 => " sanitize prohibited while persistent memory region is enabled",
                    _ => "",
                },
                if c.status & crate::device::transport::NVME_DNR != 0 {
                    " (do not retry)"
                } else {
                    ""
                }
            ),
            false,
        ),
        Err(e) => (format!("no answer: {e}"), false),
    }
}

fn nvme_send<T: NvmeAdmin + ?Sized>(
    t: &mut T,
    log: &mut Log,
    name: &str,
    cmd: &NvmeAdminCommand,
    data: DataDir<'_>,
    timeout: Duration,
) -> Result<NvmeCompletion, String> {
    let r = t.admin(cmd, data, timeout);
    let (answer, ok) = nvme_answer(&r);
    log.push(name, nvme_sent(cmd), answer.clone(), ok);
    match r {
        Ok(c) if ok => Ok(c),
        _ => Err(format!("{name}: {answer}")),
    }
}

/// Read the sanitize status log (LID 0x81). Not recorded per poll: the last one is.
fn nvme_sanitize_log<T: NvmeAdmin + ?Sized>(t: &mut T) -> Result<NvmeSanitizeLog, String> {
    let mut buf = vec![0u8; nvme::SANITIZE_LOG_LEN];
    let cmd = nvme::sanitize_log();
    match t.admin(&cmd, DataDir::In(&mut buf), SHORT) {
        Ok(c) if c.is_success() => NvmeSanitizeLog::parse(&buf)
            .ok_or_else(|| "the sanitize status log was too short".to_owned()),
        r => Err(format!("sanitize status log: {}", nvme_answer(&r).0)),
    }
}

/// The namespace facts a Format needs: the LBA format in use and what deallocated blocks read.
pub fn nvme_namespace<T: NvmeAdmin + ?Sized>(
    t: &mut T,
    nsid: u32,
) -> Result<NvmeIdentifyNamespace, String> {
    let mut buf = vec![0u8; nvme::IDENTIFY_LEN];
    let r = t.admin(
        &nvme::identify_namespace(nsid),
        DataDir::In(&mut buf),
        SHORT,
    );
    match r {
        Ok(c) if c.is_success() => NvmeIdentifyNamespace::parse(&buf)
            .ok_or_else(|| "Identify Namespace answered too short".to_owned()),
        r => Err(format!("Identify Namespace: {}", nvme_answer(&r).0)),
    }
}

/// Run an NVMe technique on namespace `nsid`.
pub fn run_nvme<T: NvmeAdmin + ?Sized>(
    t: &mut T,
    nsid: u32,
    technique: PurgeTechnique,
    poller: &mut Poller<'_>,
    log: &mut Log,
) -> Ended {
    let action = match technique {
        PurgeTechnique::NvmeFormatUserData | PurgeTechnique::NvmeFormatCrypto => {
            let ses = if technique == PurgeTechnique::NvmeFormatCrypto {
                2
            } else {
                1
            };
            let ns = match nvme_namespace(t, nsid) {
                Ok(ns) => ns,
                Err(e) => return ended(FirmwareOutcome::NotStarted, e),
            };
            // The format in use, so that the block size the kernel knows does not change.
            let cmd = nvme::format_nvm(nsid, ns.flbas_index, ses);
            (poller.progress)(FirmwareProgress {
                fraction: None,
                estimate_seconds: None,
            });
            return match nvme_send(t, log, "format_nvm", &cmd, DataDir::None, FORMAT_TIMEOUT) {
                Ok(_) => ended(
                    FirmwareOutcome::Completed,
                    format!("Format NVM with SES={ses} completed on namespace {nsid}"),
                ),
                Err(e) => ended(FirmwareOutcome::Failed, e),
            };
        }
        PurgeTechnique::NvmeSanitizeCrypto => NvmeSanitizeAction::CryptoErase,
        PurgeTechnique::NvmeSanitizeBlock => NvmeSanitizeAction::BlockErase,
        PurgeTechnique::NvmeSanitizeOverwrite => NvmeSanitizeAction::Overwrite,
        other => {
            return ended(
                FirmwareOutcome::NotStarted,
                format!("{} is not an NVMe technique", other.name()),
            )
        }
    };
    // The estimate for this action, from the log before starting.
    let before = nvme_sanitize_log(t).ok();
    let estimate = before.and_then(|l| match action {
        NvmeSanitizeAction::CryptoErase => l.estimate_crypto,
        NvmeSanitizeAction::BlockErase => l.estimate_block,
        _ => l.estimate_overwrite,
    });
    if let Some(s) = estimate {
        log.flags.push(format!("drive_estimate_seconds={s}"));
        poller.limit = Duration::from_secs(u64::from(s) * 4 + 600);
    }
    let cmd = nvme::sanitize(action, false, false, 1, 0);
    log.flags.push(RESTRICTED_FAILURE_MODE.into());
    if let Err(e) = nvme_send(t, log, "sanitize", &cmd, DataDir::None, SHORT) {
        return ended(FirmwareOutcome::Failed, e);
    }
    let estimate = estimate.map(f64::from);
    let mut last_error = None;
    loop {
        match nvme_sanitize_log(t) {
            Ok(l) => {
                last_error = None;
                let state = l.state;
                let finished = |what: &str| {
                    format!(
                        "{what}; sanitize log: SSTAT={:?}, SPROG={}, overwrite passes={}, global data erased={}",
                        l.state, l.progress, l.overwrite_passes, l.global_data_erased
                    )
                };
                match state {
                    NvmeSanitizeState::InProgress => {}
                    NvmeSanitizeState::Succeeded | NvmeSanitizeState::SucceededNoDeallocate => {
                        log.push(
                            "get_log_page(sanitize_status)",
                            nvme_sent(&nvme::sanitize_log()),
                            format!("SSTAT={state:?} SPROG={:#06x}", l.progress),
                            true,
                        );
                        if state == NvmeSanitizeState::SucceededNoDeallocate {
                            log.flags.push("no_deallocate: the drive completed the sanitize but did not deallocate the media".into());
                        }
                        if l.global_data_erased {
                            log.flags.push("global_data_erased".into());
                        }
                        return ended(FirmwareOutcome::Completed, finished("sanitize completed"));
                    }
                    NvmeSanitizeState::Failed => {
                        log.push(
                            "get_log_page(sanitize_status)",
                            nvme_sent(&nvme::sanitize_log()),
                            "SSTAT=Failed".into(),
                            false,
                        );
                        return ended(
                            FirmwareOutcome::Failed,
                            finished("the drive reports the sanitize failed; it stays in restricted failure mode until a sanitize succeeds"),
                        );
                    }
                    other => {
                        // Right after the command a controller may still show the previous
                        // operation's state for a moment; anything else is not a success.
                        if poller.started.elapsed() > Duration::from_secs(60) {
                            return ended(
                                FirmwareOutcome::Failed,
                                finished(&format!(
                                    "the sanitize log never showed the operation (state {other:?})"
                                )),
                            );
                        }
                    }
                }
                let fraction = f64::from(l.progress) / 65536.0;
                if let Some(why) = poller.tick(Some(fraction), estimate) {
                    return ended(FirmwareOutcome::LeftRunning, why);
                }
            }
            Err(e) => {
                // A drive busy sanitizing may refuse the log for a moment; give up after a run
                // of failures.
                let n = last_error.map_or(1, |(n, _)| n + 1);
                if n >= 30 {
                    return ended(
                        FirmwareOutcome::LeftRunning,
                        format!("the sanitize status log could not be read ({e}); the sanitize may still be running"),
                    );
                }
                last_error = Some((n, e));
                if let Some(why) = poller.tick(None, estimate) {
                    return ended(FirmwareOutcome::LeftRunning, why);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// ATA

pub(super) fn ata_sent(c: &AtaCommand) -> String {
    format!(
        "command={:#04x} features={:#06x} count={:#06x} lba={:#014x} device={:#04x}{}",
        c.command,
        c.features,
        c.count,
        c.lba,
        c.device,
        if c.extended { " (48-bit)" } else { "" }
    )
}

pub(super) fn ata_answer(r: &Result<AtaOutcome, TransportError>) -> (String, bool) {
    match r {
        Ok(o) if !o.is_error() => match o.registers {
            Some(reg) => (
                format!(
                    "ok, status {:#04x} count {:#06x} lba {:#014x}",
                    reg.status, reg.count, reg.lba
                ),
                true,
            ),
            None => ("ok".into(), true),
        },
        Ok(o) => {
            let regs = o.registers.map(|reg| {
                format!(
                    "{}error {:#04x} status {:#04x} lba {:#x}",
                    if reg.aborted() { "ABRT, " } else { "" },
                    reg.error,
                    reg.status,
                    reg.lba
                )
            });
            let sense = o.sense.as_ref().map(Sense::summary);
            (
                [regs, sense]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; "),
                false,
            )
        }
        Err(e) => (format!("no answer: {e}"), false),
    }
}

fn ata_send<T: AtaTransport + ?Sized>(
    t: &mut T,
    log: &mut Log,
    name: &str,
    cmd: &AtaCommand,
    data: DataDir<'_>,
    timeout: Duration,
) -> Result<AtaOutcome, String> {
    let r = t.ata(cmd, data, timeout);
    let (answer, ok) = ata_answer(&r);
    log.push(name, ata_sent(cmd), answer.clone(), ok);
    match r {
        Ok(o) if ok => Ok(o),
        _ => Err(format!("{name}: {answer}")),
    }
}

fn ata_identify<T: AtaTransport + ?Sized>(t: &mut T) -> Result<AtaIdentify, String> {
    let mut buf = vec![0u8; 512];
    match t.ata(&ata::identify_device(), DataDir::In(&mut buf), SHORT) {
        Ok(o) if !o.is_error() => {
            AtaIdentify::parse(&buf).map_err(|e| format!("IDENTIFY DEVICE: {e}"))
        }
        r => Err(format!("IDENTIFY DEVICE: {}", ata_answer(&r).0)),
    }
}

/// Run an ATA technique. `journal` keeps the temporary password of a security erase.
pub fn run_ata<T: AtaTransport + Send + ?Sized>(
    t: &mut T,
    step: u32,
    technique: PurgeTechnique,
    capacity_bytes: u64,
    poller: &mut Poller<'_>,
    log: &mut Log,
    journal: &mut dyn FnMut(Note) -> Result<(), String>,
) -> Ended {
    match technique {
        PurgeTechnique::AtaSanitizeCrypto
        | PurgeTechnique::AtaSanitizeBlock
        | PurgeTechnique::AtaSanitizeOverwrite => ata_sanitize(t, technique, poller, log),
        PurgeTechnique::AtaSecurityErase { .. } => {
            ata_security_erase(t, step, false, capacity_bytes, poller, log, journal)
        }
        PurgeTechnique::AtaSecurityEraseEnhanced { .. } => {
            ata_security_erase(t, step, true, capacity_bytes, poller, log, journal)
        }
        other => ended(
            FirmwareOutcome::NotStarted,
            format!("{} is not an ATA technique", other.name()),
        ),
    }
}

fn ata_sanitize<T: AtaTransport + ?Sized>(
    t: &mut T,
    technique: PurgeTechnique,
    poller: &mut Poller<'_>,
    log: &mut Log,
) -> Ended {
    let cmd = match technique {
        PurgeTechnique::AtaSanitizeCrypto => ata::sanitize_crypto_scramble(false),
        PurgeTechnique::AtaSanitizeBlock => ata::sanitize_block_erase(false),
        _ => ata::sanitize_overwrite(false, 0, 1, false),
    };
    log.flags.push(RESTRICTED_FAILURE_MODE.into());
    // SANITIZE STATUS EXT answers in COUNT(15:8), which fixed-format sense cannot carry: ask
    // the SAT layer (libata) for descriptor sense first, and put it back afterwards.
    let restore = match t.set_descriptor_sense(true) {
        Ok(was_on) => {
            if !was_on {
                log.flags
                    .push("descriptor_sense: switched on for the status polls (Control mode page D_SENSE), restored afterwards".into());
            }
            !was_on
        }
        Err(e) => {
            log.flags
                .push(format!("descriptor_sense: could not be switched on ({e})"));
            false
        }
    };
    let end = ata_sanitize_poll(t, &cmd, poller, log);
    if restore {
        if let Err(e) = t.set_descriptor_sense(false) {
            log.flags.push(format!(
                "descriptor_sense: could not be restored ({e}); it stays on until the next reset"
            ));
        }
    }
    end
}

fn ata_sanitize_poll<T: AtaTransport + ?Sized>(
    t: &mut T,
    cmd: &AtaCommand,
    poller: &mut Poller<'_>,
    log: &mut Log,
) -> Ended {
    if let Err(e) = ata_send(t, log, "sanitize_device", cmd, DataDir::None, SHORT) {
        return ended(FirmwareOutcome::Failed, e);
    }
    let status = ata::sanitize_status();
    // Polls are not recorded one by one: the one that ends the wait is, with its answer.
    let record_last = |log: &mut Log, r: &Result<AtaOutcome, TransportError>, ok: bool| {
        let (answer, _) = ata_answer(r);
        log.push("sanitize_status_ext", ata_sent(&status), answer.clone(), ok);
        answer
    };
    let mut failures = 0;
    loop {
        let r = t.ata(&status, DataDir::None, SHORT);
        match &r {
            Ok(o) if !o.is_error() => {
                failures = 0;
                let Some(reg) = o.registers else {
                    return ended(
                        FirmwareOutcome::Failed,
                        "SANITIZE STATUS EXT answered without its output registers; the outcome cannot be read",
                    );
                };
                if reg.high_bytes_missing {
                    // Fixed-format sense has no room for COUNT(15:8), where the completion and
                    // in-progress bits are: the outcome cannot be read on this path.
                    record_last(log, &r, false);
                    return ended(
                        FirmwareOutcome::LeftRunning,
                        "SANITIZE STATUS EXT came back in fixed-format sense, which cannot carry its completion bits (COUNT 15:8): whether the sanitize completed is unknown; check it with another tool (hdparm --sanitize-status) before trusting the drive",
                    );
                }
                let s = AtaSanitizeStatus::from_registers(reg.count, reg.lba);
                if s.in_progress {
                    if let Some(why) = poller.tick(Some(f64::from(s.progress) / 65536.0), None) {
                        return ended(FirmwareOutcome::LeftRunning, why);
                    }
                    continue;
                }
                record_last(log, &r, s.completed_without_error);
                return if s.completed_without_error {
                    ended(
                        FirmwareOutcome::Completed,
                        "SANITIZE STATUS EXT: sanitize completed without error",
                    )
                } else {
                    ended(
                        FirmwareOutcome::Failed,
                        "SANITIZE STATUS EXT: neither in progress nor completed without error",
                    )
                };
            }
            Ok(o) if o.aborted() => {
                record_last(log, &r, false);
                let reason = o.registers.map_or(0, |reg| reg.lba & 0xff);
                return ended(
                    FirmwareOutcome::Failed,
                    format!(
                        "the drive reports the sanitize failed (reason {reason:#x}{}); it stays in failure mode until a sanitize succeeds",
                        if reason == 1 { ": sanitize command unsuccessful" } else { "" }
                    ),
                );
            }
            _ => {
                failures += 1;
                if failures >= 30 {
                    let answer = record_last(log, &r, false);
                    return ended(
                        FirmwareOutcome::LeftRunning,
                        format!("SANITIZE STATUS EXT kept failing ({answer}); the sanitize may still be running"),
                    );
                }
                if let Some(why) = poller.tick(None, None) {
                    return ended(FirmwareOutcome::LeftRunning, why);
                }
            }
        }
    }
}

/// A temporary password: printable, so an operator can type it into another tool if needed.
fn temporary_password() -> [u8; 32] {
    use rand_core::RngCore;
    let mut p = [b' '; 32];
    let tag = b"massho-";
    p[..tag.len()].copy_from_slice(tag);
    let mut random = [0u8; 8];
    rand_core::OsRng.fill_bytes(&mut random);
    let digits = hex::encode(random);
    p[tag.len()..tag.len() + digits.len()].copy_from_slice(digits.as_bytes());
    p
}

/// The password as the journal keeps it (trailing spaces trimmed; ASCII).
pub fn password_text(p: &[u8; 32]) -> String {
    String::from_utf8_lossy(p).trim_end().to_owned()
}

/// The 32-byte field for a password the journal kept.
pub fn password_field(text: &str) -> [u8; 32] {
    let mut p = [b' '; 32];
    for (d, s) in p.iter_mut().zip(text.bytes()) {
        *d = s;
    }
    p
}

fn ata_security_erase<T: AtaTransport + Send + ?Sized>(
    t: &mut T,
    step: u32,
    enhanced: bool,
    capacity_bytes: u64,
    poller: &mut Poller<'_>,
    log: &mut Log,
    journal: &mut dyn FnMut(Note) -> Result<(), String>,
) -> Ended {
    let id = match ata_identify(t) {
        Ok(id) => id,
        Err(e) => return ended(FirmwareOutcome::NotStarted, e),
    };
    let s = id.security;
    let blocked = if !s.supported {
        Some("the drive does not support the Security feature set")
    } else if s.frozen {
        Some("security is frozen: run `massho unfreeze` or hot-plug the drive")
    } else if s.locked {
        Some("the drive is locked")
    } else if s.enabled {
        Some("a user password is already set")
    } else if s.count_expired {
        Some("the password attempt counter has expired: power-cycle the drive")
    } else if enhanced && !s.enhanced_supported {
        Some("the drive does not support the enhanced erase")
    } else {
        None
    };
    if let Some(why) = blocked {
        return ended(
            FirmwareOutcome::NotStarted,
            format!("IDENTIFY DEVICE: {why}; nothing was sent"),
        );
    }
    let timeout = ata::security_erase_timeout(&id, enhanced, capacity_bytes);
    let estimate = if enhanced { s.enhanced_erase } else { s.erase }
        .minutes()
        .map(|m| f64::from(m) * 60.0);
    if let Some(e) = estimate {
        log.flags.push(format!("drive_estimate_seconds={e:.0}"));
    }
    log.flags
        .push(format!("timeout_seconds={}", timeout.as_secs()));
    let password = temporary_password();
    if let Err(e) = journal(Note::PasswordSet {
        step,
        password: password_text(&password),
    }) {
        return ended(
            FirmwareOutcome::NotStarted,
            format!("the temporary password could not be written to the journal ({e}); nothing was sent"),
        );
    }
    let (cmd, block) = ata::security_set_password(&password);
    if let Err(e) = ata_send(
        t,
        log,
        "security_set_password (user)",
        &cmd,
        DataDir::Out(&block),
        SHORT,
    ) {
        // Nothing changed on the drive.
        let _ = journal(Note::PasswordRemoved { step });
        return ended(FirmwareOutcome::Failed, e);
    }
    log.flags.push("temporary_user_password_set".into());
    let erase = (|| {
        ata_send(
            t,
            log,
            "security_erase_prepare",
            &ata::security_erase_prepare(),
            DataDir::None,
            SHORT,
        )?;
        let (cmd, block) = ata::security_erase_unit(&password, enhanced);
        // The erase blocks for as long as the drive takes: run it on its own thread and drive
        // the progress bar from the drive's estimate meanwhile.
        let started = Instant::now();
        let stop_note = std::sync::atomic::AtomicBool::new(false);
        let result = std::thread::scope(|scope| {
            let handle = scope.spawn(|| {
                let r = t.ata(&cmd, DataDir::Out(&block), timeout);
                stop_note.store(true, std::sync::atomic::Ordering::SeqCst);
                r
            });
            while !stop_note.load(std::sync::atomic::Ordering::SeqCst) {
                let fraction = estimate.map(|e| (started.elapsed().as_secs_f64() / e).min(0.99));
                // A stop cannot interrupt a security erase: keep waiting and say so.
                let _ = (poller.progress)(FirmwareProgress {
                    fraction,
                    estimate_seconds: estimate,
                });
                std::thread::sleep(poller.interval.min(Duration::from_millis(500)));
            }
            handle.join()
        });
        let r = match result {
            Ok(r) => r,
            Err(_) => return Err("security_erase_unit: the erase thread panicked".to_owned()),
        };
        let (answer, ok) = ata_answer(&r);
        log.push(
            if enhanced {
                "security_erase_unit (enhanced)"
            } else {
                "security_erase_unit (normal)"
            },
            ata_sent(&cmd),
            answer.clone(),
            ok,
        );
        if ok {
            Ok(())
        } else {
            Err(format!("security_erase_unit: {answer}"))
        }
    })();
    // Whatever happened, the drive must not be left with massho's password.
    let leftover = leave_unlocked(t, &password, log);
    match leftover {
        Ok(()) => {
            let _ = journal(Note::PasswordRemoved { step });
        }
        Err(e) => {
            let detail = format!(
                "{}; the drive may be left LOCKED with massho's temporary password ({e}): run `massho unlock DEVICE` (the password is in the journal)",
                erase.err().unwrap_or_else(|| "the erase completed".into())
            );
            return ended(FirmwareOutcome::Failed, detail);
        }
    }
    match erase {
        Ok(()) => ended(
            FirmwareOutcome::Completed,
            "SECURITY ERASE UNIT completed; the temporary password is removed",
        ),
        Err(e) => ended(
            FirmwareOutcome::Failed,
            format!("{e}; the temporary password is removed"),
        ),
    }
}

/// Make sure the drive does not keep `password`: IDENTIFY, then UNLOCK and DISABLE PASSWORD as
/// its state needs.
pub fn leave_unlocked<T: AtaTransport + ?Sized>(
    t: &mut T,
    password: &[u8; 32],
    log: &mut Log,
) -> Result<(), String> {
    let id = ata_identify(t)?;
    if !id.security.enabled && !id.security.locked {
        return Ok(());
    }
    if id.security.locked {
        let (cmd, block) = ata::security_unlock(password);
        ata_send(
            t,
            log,
            "security_unlock (user)",
            &cmd,
            DataDir::Out(&block),
            SHORT,
        )?;
    }
    let (cmd, block) = ata::security_disable_password(password);
    ata_send(
        t,
        log,
        "security_disable_password (user)",
        &cmd,
        DataDir::Out(&block),
        SHORT,
    )?;
    let id = ata_identify(t)?;
    if id.security.enabled || id.security.locked {
        return Err("IDENTIFY DEVICE still reports a password set after DISABLE PASSWORD".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// SCSI

fn scsi_answer(
    r: &Result<crate::device::transport::ScsiOutcome, TransportError>,
) -> (String, bool) {
    match r {
        Ok(o) if o.is_good() => ("GOOD".into(), true),
        Ok(o) => (
            o.decoded_sense()
                .map_or_else(|| format!("status {:#04x}", o.status), |s| s.summary()),
            false,
        ),
        Err(e) => (format!("no answer: {e}"), false),
    }
}

/// Run a SCSI SANITIZE (IMMED) and poll REQUEST SENSE for its progress.
pub fn run_scsi<T: ScsiTransport + ?Sized>(
    t: &mut T,
    technique: PurgeTechnique,
    sector_size: u32,
    poller: &mut Poller<'_>,
    log: &mut Log,
) -> Ended {
    let (action, params) = match technique {
        PurgeTechnique::ScsiSanitizeCrypto => (scsi::SANITIZE_CRYPTO_ERASE, Vec::new()),
        PurgeTechnique::ScsiSanitizeBlock => (scsi::SANITIZE_BLOCK_ERASE, Vec::new()),
        PurgeTechnique::ScsiSanitizeOverwrite => {
            // One pass of a 4-byte zero pattern (never longer than a logical block).
            let len = 4.min(sector_size as usize).max(1);
            (
                scsi::SANITIZE_OVERWRITE,
                scsi::sanitize_overwrite_parameters(&vec![0u8; len], 1, false),
            )
        }
        other => {
            return ended(
                FirmwareOutcome::NotStarted,
                format!("{} is not a SCSI technique", other.name()),
            )
        }
    };
    let cdb = scsi::sanitize(action as u8, true, false, params.len() as u16);
    log.flags.push(RESTRICTED_FAILURE_MODE.into());
    let data = if params.is_empty() {
        DataDir::None
    } else {
        DataDir::Out(&params)
    };
    let r = t.scsi(&cdb, data, SHORT);
    let (answer, ok) = scsi_answer(&r);
    log.push("sanitize", super::hex(&cdb), answer.clone(), ok);
    if !ok {
        return ended(FirmwareOutcome::Failed, format!("SANITIZE: {answer}"));
    }
    let mut failures = 0;
    loop {
        let mut buf = vec![0u8; 252];
        let cdb = scsi::request_sense(252);
        let r = t.scsi(&cdb, DataDir::In(&mut buf), SHORT);
        match &r {
            Ok(o) if o.is_good() => {
                failures = 0;
                let s = Sense::parse(&buf);
                match s {
                    Some(s) if s.key == sense::NOT_READY && s.asc == 0x04 && s.ascq == 0x1b => {
                        let fraction = s.progress().map(|p| f64::from(p) / 65536.0);
                        if let Some(why) = poller.tick(fraction, None) {
                            return ended(FirmwareOutcome::LeftRunning, why);
                        }
                    }
                    Some(s) if s.key == sense::NO_SENSE || s.key == sense::RECOVERED_ERROR => {
                        // Progress may still be reported under NO SENSE while the operation runs.
                        if let Some(p) = s.progress() {
                            if let Some(why) = poller.tick(Some(f64::from(p) / 65536.0), None) {
                                return ended(FirmwareOutcome::LeftRunning, why);
                            }
                            continue;
                        }
                        log.push("request_sense", super::hex(&cdb), s.summary(), true);
                        return ended(
                            FirmwareOutcome::Completed,
                            "REQUEST SENSE: no sense; the sanitize completed",
                        );
                    }
                    None => {
                        log.push(
                            "request_sense",
                            super::hex(&cdb),
                            "no sense data".into(),
                            true,
                        );
                        return ended(
                            FirmwareOutcome::Completed,
                            "REQUEST SENSE: no sense data; the sanitize completed",
                        );
                    }
                    Some(s) => {
                        log.push("request_sense", super::hex(&cdb), s.summary(), false);
                        return ended(
                            FirmwareOutcome::Failed,
                            format!(
                                "REQUEST SENSE: {}{}",
                                s.summary(),
                                if s.asc == 0x31 && s.ascq == 0x03 {
                                    " (sanitize command failed)"
                                } else {
                                    ""
                                }
                            ),
                        );
                    }
                }
            }
            _ => {
                failures += 1;
                if failures >= 30 {
                    let (answer, _) = scsi_answer(&r);
                    log.push("request_sense", super::hex(&cdb), answer.clone(), false);
                    return ended(
                        FirmwareOutcome::LeftRunning,
                        format!("REQUEST SENSE kept failing ({answer}); the sanitize may still be running"),
                    );
                }
                if let Some(why) = poller.tick(None, None) {
                    return ended(FirmwareOutcome::LeftRunning, why);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The real drive

/// The transport a device's firmware is reached through.
pub enum Access<'a> {
    Nvme {
        admin: Box<dyn NvmeAdmin + Send + 'a>,
        nsid: u32,
        dlfeat: DeallocatedReads,
    },
    Ata {
        ata: Box<dyn AtaTransport + Send + 'a>,
    },
    Scsi {
        scsi: Box<dyn ScsiTransport + Send + 'a>,
    },
}

/// A drive's firmware, with the journal hook that keeps passwords and fingerprints.
pub struct DriveFirmware<'a> {
    pub access: Access<'a>,
    pub capacity_bytes: u64,
    pub sector_size: u32,
    pub poll_interval: Duration,
    pub journal: Box<dyn FnMut(Note) -> Result<(), String> + Send + 'a>,
}

impl<'a> DriveFirmware<'a> {
    /// Open the transport that reaches `device`'s firmware (the NVMe controller of its
    /// namespace, or SG_IO on the disk).
    pub fn open(
        device: &DeviceInfo,
        journal: Box<dyn FnMut(Note) -> Result<(), String> + Send + 'a>,
    ) -> Result<DriveFirmware<'a>, TransportError> {
        let access = match device.transport {
            Transport::Nvme => {
                let sys = PathBuf::from("/sys/class/block").join(&device.name);
                let (mut ctrl, nsid) = NvmeController::for_namespace(&sys)?;
                let dlfeat = nvme_namespace(&mut ctrl, nsid)
                    .map(|ns| ns.deallocated_reads())
                    .unwrap_or(DeallocatedReads::NotReported);
                Access::Nvme {
                    admin: Box::new(ctrl),
                    nsid,
                    dlfeat,
                }
            }
            _ => {
                let sg = SgIo::open(&device.path)?;
                let ata_drive = device
                    .drive_identity
                    .as_ref()
                    .is_some_and(|i| i.source == crate::device::drive::IdentitySource::AtaIdentify);
                if ata_drive {
                    Access::Ata {
                        ata: Box::new(AtaOverScsi::new(sg, device.path.clone())),
                    }
                } else {
                    Access::Scsi { scsi: Box::new(sg) }
                }
            }
        };
        Ok(DriveFirmware {
            access,
            capacity_bytes: device.size_bytes,
            sector_size: device.logical_sector_size,
            poll_interval: Duration::from_secs(1),
            journal,
        })
    }

    fn transport_name(&self) -> &'static str {
        match self.access {
            Access::Nvme { .. } => "nvme-admin",
            Access::Ata { .. } => "ata-pass-through",
            Access::Scsi { .. } => "scsi",
        }
    }
}

impl Firmware for DriveFirmware<'_> {
    fn expect(&self, technique: PurgeTechnique) -> Expect {
        expect_for(
            technique,
            match &self.access {
                Access::Nvme { dlfeat, .. } => *dlfeat,
                _ => DeallocatedReads::NotReported,
            },
        )
    }

    fn remember(&mut self, step: u32, fingerprints: &[(u64, String)]) -> Result<(), String> {
        (self.journal)(Note::Fingerprints {
            step,
            sectors: fingerprints.to_vec(),
        })
    }

    fn execute(
        &mut self,
        step: u32,
        technique: PurgeTechnique,
        progress: &mut dyn FnMut(FirmwareProgress) -> Control,
    ) -> FirmwareRecord {
        let started = Instant::now();
        let mut log = Log::new();
        let transport = self.transport_name().to_owned();
        let mut poller = Poller::new(self.poll_interval, progress);
        let end = match &mut self.access {
            Access::Nvme { admin, nsid, .. } => {
                run_nvme(&mut **admin, *nsid, technique, &mut poller, &mut log)
            }
            Access::Ata { ata } => run_ata(
                &mut **ata,
                step,
                technique,
                self.capacity_bytes,
                &mut poller,
                &mut log,
                &mut *self.journal,
            ),
            Access::Scsi { scsi } => run_scsi(
                &mut **scsi,
                technique,
                self.sector_size,
                &mut poller,
                &mut log,
            ),
        };
        record(step, technique, transport, log, end, started.elapsed())
    }
}

/// A record from a step's log and end; the engine fills in `requested`, `reason` and `check`.
pub fn record(
    step: u32,
    technique: PurgeTechnique,
    transport: String,
    log: Log,
    end: Ended,
    elapsed: Duration,
) -> FirmwareRecord {
    FirmwareRecord {
        step,
        requested: String::new(),
        technique: technique.name().into(),
        reason: String::new(),
        transport,
        commands: log.commands,
        outcome: end.outcome,
        detail: end.detail,
        flags: log.flags,
        seconds: elapsed.as_secs_f64(),
        check: FirmwareCheck::None {
            reason: "not checked yet".into(),
        },
    }
}

/// What the medium reads after `technique`, by the standards and the drive's own report.
pub fn expect_for(technique: PurgeTechnique, dlfeat: DeallocatedReads) -> Expect {
    match technique {
        // One pass of zeros, not inverted: the medium reads zeros.
        PurgeTechnique::AtaSanitizeOverwrite
        | PurgeTechnique::NvmeSanitizeOverwrite
        | PurgeTechnique::ScsiSanitizeOverwrite => Expect::Byte(0x00),
        // Block erase and user-data format deallocate: what deallocated blocks read is what
        // the namespace reports in DLFEAT; crypto erase leaves ciphertext under a new key
        // unless the drive also deallocates, so it is checked by fingerprints either way.
        PurgeTechnique::NvmeFormatUserData | PurgeTechnique::NvmeSanitizeBlock => match dlfeat {
            DeallocatedReads::Zeros => Expect::Byte(0x00),
            DeallocatedReads::Ones => Expect::Byte(0xff),
            DeallocatedReads::NotReported => Expect::Changed,
        },
        _ => Expect::Changed,
    }
}

/// Remove the temporary password massho left on a drive: the newest journal entry for
/// `serial` that records a password not known to be removed is used, the drive is unlocked
/// and its password disabled, and the entry is updated. Returns the commands sent.
pub fn unlock_from_journal<T: AtaTransport + ?Sized>(
    t: &mut T,
    journal: &crate::job::journal::Journal,
    serial: &str,
) -> Result<Vec<CommandRecord>, String> {
    let (entries, _) = journal.entries().map_err(|e| e.to_string())?;
    let mut entry = entries
        .into_iter()
        .map(|(e, _)| e)
        .rfind(|e| {
            e.serial.as_deref().map(str::trim) == Some(serial.trim()) && e.password_left().is_some()
        })
        .ok_or_else(|| {
            format!(
                "the journal in {} records no password massho set on the drive with serial {:?} that is not already removed; if the drive is locked with another password, unlock it with that password (hdparm --security-unlock)",
                journal.dir().display(),
                crate::text::terminal_safe(serial)
            )
        })?;
    let password = password_field(entry.password_left().unwrap_or_default());
    let mut log = Log::new();
    leave_unlocked(t, &password, &mut log).map_err(|e| {
        format!(
            "{e}; commands sent: {}",
            log.commands
                .iter()
                .map(|c| format!("{} -> {}", c.name, c.answer))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let steps: Vec<u32> = entry
        .firmware
        .iter()
        .filter(|n| n.password.is_some() && !n.password_removed)
        .map(|n| n.step)
        .collect();
    for step in steps {
        entry.note(Note::PasswordRemoved { step });
    }
    journal
        .write(&entry)
        .map_err(|e| format!("the drive is unlocked, but the journal could not be updated: {e}"))?;
    Ok(log.commands)
}
