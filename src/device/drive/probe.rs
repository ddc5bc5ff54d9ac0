//! Asking a drive about itself through whichever transport reaches it.
//!
//! [`probe_ata`], [`probe_nvme`] and [`probe_scsi`] work on the transport traits, so tests run
//! them against the fakes; [`probe_disk`] picks and opens the real transport for a whole disk
//! from its sysfs node. Devices with no firmware to ask (loop devices, image files, virtio and
//! MMC disks, partitions) get an empty report without opening anything.

use std::path::Path;
use std::time::Duration;

use super::ata::{self, AtaIdentify, AtaSanitizeStatus, AtaSmartAttributes};
use super::nvme::{self, NvmeIdentifyController, NvmeSanitizeLog, NvmeSanitizeState, NvmeSmartLog};
use super::scsi::{self, ScsiInquiry};
use super::{
    DriveHealth, DriveIdentity, DriveReport, HiddenArea, HiddenState, IdentitySource,
    PurgeBlocker, PurgeTechnique, SanitizeSupport,
};
use crate::device::sysfs::BlockNode;
use crate::device::transport::ata::AtaOverScsi;
use crate::device::transport::sgio::{NvmeController, SgIo};
use crate::device::transport::{
    AtaOutcome, AtaTransport, DataDir, NvmeAdmin, ScsiTransport, TransportError,
};
use crate::device::Transport;

/// Reporting commands answer in milliseconds; a drive that takes longer is not worth waiting
/// for while listing devices.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

fn some_text(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn percent(progress: u16) -> u8 {
    (u32::from(progress) * 100 / 65536) as u8
}

/// Ask a whole disk: NVMe namespaces through their controller, SATA/SAS/USB/SCSI disks through
/// SG_IO (ATA through SAT first, plain SCSI when no SAT layer answers).
pub fn probe_disk(node: &BlockNode, transport: Transport) -> Result<DriveReport, TransportError> {
    match transport {
        Transport::Nvme => {
            let (mut ctrl, _nsid) = NvmeController::for_namespace(&node.sys)?;
            probe_nvme(&mut ctrl)
        }
        Transport::Sata | Transport::Ata | Transport::Sas | Transport::Scsi | Transport::Usb => {
            probe_sg(&node.node)
        }
        Transport::Mmc | Transport::Virtio | Transport::Loop | Transport::File | Transport::Unknown => {
            Ok(DriveReport::default())
        }
    }
}

/// ATA through SAT on `path`, falling back to SCSI when the path has no SAT layer.
pub fn probe_sg(path: &Path) -> Result<DriveReport, TransportError> {
    let mut ata = AtaOverScsi::new(SgIo::open(path)?, path);
    match probe_ata(&mut ata) {
        Ok(r) if r.identity.is_some() => Ok(r),
        Ok(_) | Err(TransportError::Unsupported { .. }) => probe_scsi(&mut ata.scsi),
        Err(e) => Err(e),
    }
}

/// IDENTIFY DEVICE, then the sanitize status, the native max address and SMART, each only
/// when IDENTIFY says the feature exists. An IDENTIFY that fails leaves the report empty.
pub fn probe_ata<T: AtaTransport>(t: &mut T) -> Result<DriveReport, TransportError> {
    let mut buf = vec![0u8; 512];
    let out = t.ata(&ata::identify_device(), DataDir::In(&mut buf), PROBE_TIMEOUT)?;
    if out.is_error() {
        return Ok(DriveReport::default());
    }
    let Ok(id) = AtaIdentify::parse(&buf) else {
        return Ok(DriveReport::default());
    };
    Ok(DriveReport {
        identity: Some(DriveIdentity {
            source: IdentitySource::AtaIdentify,
            model: some_text(id.model.clone()),
            serial: some_text(id.serial.clone()),
            firmware: some_text(id.firmware.clone()),
        }),
        sanitize: Some(ata_sanitize(t, &id)),
        hidden: Some(ata_hidden(t, &id)),
        health: id.smart_supported.then(|| ata_health(t)),
    })
}

fn registers_or_reason(
    what: &str,
    r: Result<AtaOutcome, TransportError>,
) -> Result<crate::device::transport::AtaRegisters, String> {
    match r {
        Ok(AtaOutcome {
            registers: Some(regs),
            ..
        }) => Ok(regs),
        Ok(_) => Err(format!("{what}: the transport returned no ATA registers")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

fn ata_sanitize<T: AtaTransport>(t: &mut T, id: &AtaIdentify) -> SanitizeSupport {
    let mut s = SanitizeSupport::default();
    let bits = id.sanitize;
    for (on, tech) in [
        (bits.crypto, PurgeTechnique::AtaSanitizeCrypto),
        (bits.block, PurgeTechnique::AtaSanitizeBlock),
        (bits.overwrite, PurgeTechnique::AtaSanitizeOverwrite),
    ] {
        if on {
            s.techniques.push(tech);
        }
    }
    let sec = id.security;
    if sec.supported {
        if sec.enhanced_supported {
            s.techniques.push(PurgeTechnique::AtaSecurityEraseEnhanced {
                minutes: sec.enhanced_erase.minutes(),
            });
        }
        s.techniques.push(PurgeTechnique::AtaSecurityErase {
            minutes: sec.erase.minutes(),
        });
        for (on, b) in [
            (sec.frozen, PurgeBlocker::SecurityFrozen),
            (sec.locked, PurgeBlocker::SecurityLocked),
            (sec.count_expired, PurgeBlocker::SecurityAttemptsExhausted),
            (sec.enabled, PurgeBlocker::SecurityEnabled),
        ] {
            if on {
                s.blocked_by.push(b);
            }
        }
    }
    if bits.supported {
        let out = t.ata(&ata::sanitize_status(), DataDir::None, PROBE_TIMEOUT);
        match registers_or_reason("SANITIZE STATUS EXT", out) {
            // The drive aborts SANITIZE STATUS EXT after a failed sanitize (ACS-4 §7.32.10).
            Ok(r) if r.aborted() => s.blocked_by.push(PurgeBlocker::SanitizeFailed),
            Ok(r) if r.is_error() => s.unknown.push(format!(
                "SANITIZE STATUS EXT failed (status {:#04x}, error {:#04x})",
                r.status, r.error
            )),
            Ok(r) if r.high_bytes_missing => s.unknown.push(
                "sanitize state: the kernel returned fixed-format sense, which has no room for \
                 COUNT(15:8) where the state is"
                    .into(),
            ),
            Ok(r) => {
                let st = AtaSanitizeStatus::from_registers(r.count, r.lba);
                if st.frozen {
                    s.blocked_by.push(PurgeBlocker::SanitizeFrozen);
                }
                if st.in_progress {
                    s.blocked_by.push(PurgeBlocker::SanitizeInProgress {
                        percent: percent(st.progress),
                    });
                }
            }
            Err(reason) => s.unknown.push(reason),
        }
    }
    s
}

fn ata_hidden<T: AtaTransport>(t: &mut T, id: &AtaIdentify) -> HiddenArea {
    let mut area = HiddenArea {
        state: HiddenState::Unknown,
        accessible_sectors: id.sectors,
        native_sectors: None,
        reason: None,
    };
    if !id.hpa_supported {
        area.state = HiddenState::None;
        area.reason = Some("the drive has no HPA feature set (IDENTIFY word 82 bit 10)".into());
        return area;
    }
    let cmd = if id.lba48 {
        ata::read_native_max_address_ext()
    } else {
        ata::read_native_max_address()
    };
    let out = t.ata(&cmd, DataDir::None, PROBE_TIMEOUT);
    match registers_or_reason("READ NATIVE MAX ADDRESS", out) {
        Ok(r) if r.is_error() => {
            area.reason = Some(format!(
                "the drive refused READ NATIVE MAX ADDRESS (status {:#04x}, error {:#04x})",
                r.status, r.error
            ));
        }
        Ok(r) if r.high_bytes_missing => {
            area.reason = Some(
                "READ NATIVE MAX ADDRESS EXT: the kernel returned fixed-format sense, which \
                 has no room for LBA(47:24)"
                    .into(),
            );
        }
        Ok(r) => {
            let max_lba = if id.lba48 {
                r.lba & 0xffff_ffff_ffff
            } else {
                (r.lba & 0x00ff_ffff) | u64::from(r.device & 0x0f) << 24
            };
            let native = max_lba.saturating_add(1);
            area.native_sectors = Some(native);
            area.state = if native > id.sectors {
                HiddenState::Hidden
            } else {
                HiddenState::None
            };
        }
        Err(reason) => area.reason = Some(reason),
    }
    area
}

fn ata_health<T: AtaTransport>(t: &mut T) -> DriveHealth {
    let mut h = DriveHealth::default();
    if let Ok(r) = registers_or_reason(
        "SMART RETURN STATUS",
        t.ata(&ata::smart_return_status(), DataDir::None, PROBE_TIMEOUT),
    ) {
        if !r.is_error() {
            h.passed = ata::smart_status_passed(r.lba);
        }
    }
    let mut buf = vec![0u8; 512];
    if let Ok(out) = t.ata(&ata::smart_read_data(), DataDir::In(&mut buf), PROBE_TIMEOUT) {
        if !out.is_error() {
            if let Some(a) = AtaSmartAttributes::parse(&buf) {
                h.power_on_hours = a.power_on_hours;
                h.reallocated_sectors = a.reallocated;
                h.pending_sectors = a.pending;
                h.uncorrectable_sectors = a.uncorrectable;
            }
        }
    }
    h
}

/// Identify Controller, the sanitize log when Sanitize is supported, and the SMART log.
pub fn probe_nvme<T: NvmeAdmin>(t: &mut T) -> Result<DriveReport, TransportError> {
    let mut buf = vec![0u8; nvme::IDENTIFY_LEN];
    let c = t.admin(&nvme::identify_controller(), DataDir::In(&mut buf), PROBE_TIMEOUT)?;
    let Some(id) = c
        .is_success()
        .then(|| NvmeIdentifyController::parse(&buf))
        .flatten()
    else {
        return Ok(DriveReport::default());
    };
    let mut s = SanitizeSupport::default();
    let format = id.format_supported();
    let crypto_format = format && id.fna & 0x04 != 0;
    for (on, tech) in [
        (id.sanicap & 0x1 != 0, PurgeTechnique::NvmeSanitizeCrypto),
        (crypto_format, PurgeTechnique::NvmeFormatCrypto),
        (id.sanicap & 0x2 != 0, PurgeTechnique::NvmeSanitizeBlock),
        (format, PurgeTechnique::NvmeFormatUserData),
        (id.sanicap & 0x4 != 0, PurgeTechnique::NvmeSanitizeOverwrite),
    ] {
        if on {
            s.techniques.push(tech);
        }
    }
    if id.sanicap & 0x7 != 0 {
        let mut log = vec![0u8; 512];
        let cmd = nvme::get_log_page(nvme::LOG_SANITIZE, nvme::NSID_ALL, log.len());
        match t.admin(&cmd, DataDir::In(&mut log), PROBE_TIMEOUT) {
            Ok(c) if c.is_success() => match NvmeSanitizeLog::parse(&log).map(|l| (l.state, l.progress)) {
                Some((NvmeSanitizeState::InProgress, p)) => s
                    .blocked_by
                    .push(PurgeBlocker::SanitizeInProgress { percent: percent(p) }),
                Some((NvmeSanitizeState::Failed, _)) => {
                    s.blocked_by.push(PurgeBlocker::SanitizeFailed)
                }
                _ => {}
            },
            Ok(c) => s.unknown.push(format!(
                "sanitize status log: the controller answered status {:#06x}",
                c.status
            )),
            Err(e) => s.unknown.push(format!("sanitize status log: {e}")),
        }
    }
    let mut health = None;
    let mut log = vec![0u8; 512];
    let cmd = nvme::get_log_page(nvme::LOG_SMART, nvme::NSID_ALL, log.len());
    if let Ok(c) = t.admin(&cmd, DataDir::In(&mut log), PROBE_TIMEOUT) {
        if let Some(l) = c.is_success().then(|| NvmeSmartLog::parse(&log)).flatten() {
            health = Some(DriveHealth {
                passed: Some(l.critical_warning == 0),
                power_on_hours: Some(l.power_on_hours),
                nvme_critical_warning: Some(l.critical_warning),
                percentage_used: Some(l.percentage_used),
                media_errors: Some(l.media_errors),
                ..DriveHealth::default()
            });
        }
    }
    Ok(DriveReport {
        identity: Some(DriveIdentity {
            source: IdentitySource::NvmeIdentify,
            model: some_text(id.model),
            serial: some_text(id.serial),
            firmware: some_text(id.firmware),
        }),
        sanitize: Some(s),
        // NVMe has no host protected area.
        hidden: None,
        health,
    })
}

/// INQUIRY, the unit serial number page, and whether SANITIZE's service actions are supported.
pub fn probe_scsi<T: ScsiTransport>(t: &mut T) -> Result<DriveReport, TransportError> {
    let mut buf = vec![0u8; 96];
    let out = t.scsi(&scsi::inquiry(96), DataDir::In(&mut buf), PROBE_TIMEOUT)?;
    let Some(inq) = out.is_good().then(|| ScsiInquiry::parse(&buf)).flatten() else {
        return Ok(DriveReport::default());
    };
    let mut vpd = vec![0u8; 252];
    let serial = match t.scsi(
        &scsi::inquiry_vpd(scsi::VPD_UNIT_SERIAL, 252),
        DataDir::In(&mut vpd),
        PROBE_TIMEOUT,
    ) {
        Ok(o) if o.is_good() => scsi::parse_unit_serial(&vpd),
        _ => None,
    };
    let mut s = SanitizeSupport::default();
    for (sa, tech) in [
        (scsi::SANITIZE_CRYPTO_ERASE, PurgeTechnique::ScsiSanitizeCrypto),
        (scsi::SANITIZE_BLOCK_ERASE, PurgeTechnique::ScsiSanitizeBlock),
        (scsi::SANITIZE_OVERWRITE, PurgeTechnique::ScsiSanitizeOverwrite),
    ] {
        let mut answer = vec![0u8; 32];
        let cdb = scsi::report_supported_operation(scsi::SANITIZE, sa, 32);
        match t.scsi(&cdb, DataDir::In(&mut answer), PROBE_TIMEOUT) {
            Ok(o) if o.is_good() => {
                if scsi::operation_supported(&answer) {
                    s.techniques.push(tech);
                }
            }
            Ok(o) => {
                let why = o
                    .decoded_sense()
                    .map_or_else(|| format!("SCSI status {:#04x}", o.status), |s| s.summary());
                s.unknown.push(format!(
                    "REPORT SUPPORTED OPERATION CODES is not answered ({why}): SCSI SANITIZE \
                     support unknown"
                ));
                break;
            }
            Err(e) => {
                s.unknown.push(format!("REPORT SUPPORTED OPERATION CODES: {e}"));
                break;
            }
        }
    }
    let model = format!("{} {}", inq.vendor, inq.product).trim().to_owned();
    Ok(DriveReport {
        identity: Some(DriveIdentity {
            source: IdentitySource::ScsiInquiry,
            model: some_text(model),
            serial,
            firmware: some_text(inq.revision),
        }),
        sanitize: Some(s),
        hidden: None,
        health: None,
    })
}
