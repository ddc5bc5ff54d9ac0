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
    DriveHealth, DriveIdentity, DriveReport, HiddenArea, HiddenState, IdentitySource, PurgeBlocker,
    PurgeTechnique, SanitizeSupport,
};
use crate::device::sysfs::BlockNode;
use crate::device::transport::ata::{AtaOverScsi, PassThrough};
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
        // virtio-scsi: a SCSI disk (sd) behind a virtio host adapter answers SCSI commands;
        // virtio-blk has no command set to ask.
        Transport::Virtio if behind_scsi_host(&node.sys) => probe_sg(&node.node),
        Transport::Mmc
        | Transport::Virtio
        | Transport::Loop
        | Transport::File
        | Transport::Unknown => Ok(DriveReport::default()),
    }
}

/// Whether a disk's sysfs path runs through a SCSI host and target (`.../host2/target2:0:0/...`).
fn behind_scsi_host(sys: &Path) -> bool {
    let mut host = false;
    for c in sys.components() {
        let c = c.as_os_str().to_string_lossy();
        if c.strip_prefix("host")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            host = true;
        } else if host && c.starts_with("target") {
            return true;
        }
    }
    false
}

/// ATA through SAT on `path`, falling back to SCSI when the path has no SAT layer.
pub fn probe_sg(path: &Path) -> Result<DriveReport, TransportError> {
    probe_sat_or_scsi(SgIo::open(path)?, path)
}

/// ATA through SAT on `scsi`; plain SCSI when the SAT layer rejects ATA PASS-THROUGH or the
/// drive does not answer IDENTIFY.
pub fn probe_sat_or_scsi<S: ScsiTransport>(
    scsi: S,
    path: &Path,
) -> Result<DriveReport, TransportError> {
    let mut ata = AtaOverScsi::new(scsi, path);
    let mut answer = probe_ata(&mut ata);
    if matches!(answer, Err(TransportError::Unsupported { .. })) {
        // Some USB bridges know only ATA PASS-THROUGH (12): 28-bit commands get through; the
        // 48-bit ones are then reported as unknown.
        ata.variant = PassThrough::Twelve;
        answer = probe_ata(&mut ata);
    }
    match answer {
        Ok(r) if r.identity.is_some() => Ok(r),
        Ok(_) | Err(TransportError::Unsupported { .. }) => probe_scsi(&mut ata.scsi),
        Err(e) => Err(e),
    }
}

/// IDENTIFY DEVICE, then the sanitize status, the native max address and SMART, each only
/// when IDENTIFY says the feature exists. An IDENTIFY that fails leaves the report empty.
pub fn probe_ata<T: AtaTransport>(t: &mut T) -> Result<DriveReport, TransportError> {
    let mut buf = vec![0u8; 512];
    let out = t.ata(
        &ata::identify_device(),
        DataDir::In(&mut buf),
        PROBE_TIMEOUT,
    )?;
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

/// Send a non-data command whose answer needs the 48-bit output registers. When the SAT layer
/// answered in fixed-format sense, which cannot carry COUNT(15:8) or LBA(47:24), ask it for
/// descriptor sense (the Control mode page's D_SENSE: a setting of the kernel's SATL, not of
/// the drive), ask again, and put the setting back.
pub(crate) fn whole_registers<T: AtaTransport + ?Sized>(
    t: &mut T,
    cmd: &crate::device::transport::AtaCommand,
) -> Result<AtaOutcome, TransportError> {
    let first = t.ata(cmd, DataDir::None, PROBE_TIMEOUT)?;
    if !first.registers.is_some_and(|r| r.high_bytes_missing) {
        return Ok(first);
    }
    match t.set_descriptor_sense(true) {
        Ok(false) => {
            let again = t.ata(cmd, DataDir::None, PROBE_TIMEOUT);
            let _ = t.set_descriptor_sense(false);
            again
        }
        _ => Ok(first),
    }
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
        let out = whole_registers(t, &ata::sanitize_status());
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

/// The native maximum (ACS-3 GET NATIVE MAX when the drive has AMA, else READ NATIVE MAX
/// (EXT)) and the DCO maximum. Both are asked even when IDENTIFY does not claim the feature
/// (they only report, and some drives answer anyway); an abort then means "not present".
pub(crate) fn ata_hidden<T: AtaTransport + ?Sized>(t: &mut T, id: &AtaIdentify) -> HiddenArea {
    let mut area = HiddenArea {
        state: HiddenState::Unknown,
        accessible_sectors: id.sectors,
        native_sectors: None,
        native_from: None,
        dco_sectors: None,
        notes: Vec::new(),
    };
    let (cmd, name) = if id.ama_supported {
        (
            ata::get_native_max_address_ext(),
            "get_native_max_address_ext",
        )
    } else if id.lba48 {
        (
            ata::read_native_max_address_ext(),
            "read_native_max_address_ext",
        )
    } else {
        (ata::read_native_max_address(), "read_native_max_address")
    };
    let claimed = id.hpa_supported || id.ama_supported;
    let mut native_known = false;
    let out = whole_registers(t, &cmd);
    match registers_or_reason("READ NATIVE MAX ADDRESS", out) {
        Ok(r) if r.is_error() && !claimed => {
            native_known = true;
            area.notes.push(
                "no HPA or accessible max address feature (IDENTIFY words 82, 119), and the \
                 drive aborted READ NATIVE MAX ADDRESS"
                    .into(),
            );
        }
        Ok(r) if r.is_error() => area.notes.push(format!(
            "the drive refused {name} (status {:#04x}, error {:#04x})",
            r.status, r.error
        )),
        Ok(r) if r.high_bytes_missing => area.notes.push(format!(
            "{name}: the kernel returned fixed-format sense, which has no room for LBA(47:24)"
        )),
        Ok(r) => {
            let max_lba = if cmd.extended {
                r.lba & 0xffff_ffff_ffff
            } else {
                (r.lba & 0x00ff_ffff) | u64::from(r.device & 0x0f) << 24
            };
            native_known = true;
            area.native_sectors = Some(max_lba.saturating_add(1));
            area.native_from = Some(name.into());
        }
        Err(reason) => area.notes.push(reason),
    }
    let mut dco_known = false;
    let mut buf = vec![0u8; 512];
    match t.ata(&ata::dco_identify(), DataDir::In(&mut buf), PROBE_TIMEOUT) {
        Ok(out) if out.is_error() && !id.dco_supported => dco_known = true,
        Ok(out) if out.is_error() => area
            .notes
            .push("the drive refused DEVICE CONFIGURATION IDENTIFY".into()),
        Ok(_) => match ata::parse_dco_max_lba(&buf) {
            Some(max) => {
                dco_known = true;
                area.dco_sectors = Some(max.saturating_add(1));
            }
            None => area
                .notes
                .push("DEVICE CONFIGURATION IDENTIFY data fails its checksum: not believed".into()),
        },
        Err(e) => area
            .notes
            .push(format!("DEVICE CONFIGURATION IDENTIFY: {e}")),
    }
    let hidden = area.hidden_sectors().is_some_and(|n| n > 0);
    area.state = if hidden {
        HiddenState::Hidden
    } else if native_known && dco_known {
        HiddenState::None
    } else {
        HiddenState::Unknown
    };
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
    if let Ok(out) = t.ata(
        &ata::smart_read_data(),
        DataDir::In(&mut buf),
        PROBE_TIMEOUT,
    ) {
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
    let c = t.admin(
        &nvme::identify_controller(),
        DataDir::In(&mut buf),
        PROBE_TIMEOUT,
    )?;
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
            Ok(c) if c.is_success() => {
                match NvmeSanitizeLog::parse(&log).map(|l| (l.state, l.progress)) {
                    Some((NvmeSanitizeState::InProgress, p)) => {
                        s.blocked_by.push(PurgeBlocker::SanitizeInProgress {
                            percent: percent(p),
                        })
                    }
                    Some((NvmeSanitizeState::Failed, _)) => {
                        s.blocked_by.push(PurgeBlocker::SanitizeFailed)
                    }
                    _ => {}
                }
            }
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
        (
            scsi::SANITIZE_CRYPTO_ERASE,
            PurgeTechnique::ScsiSanitizeCrypto,
        ),
        (
            scsi::SANITIZE_BLOCK_ERASE,
            PurgeTechnique::ScsiSanitizeBlock,
        ),
        (
            scsi::SANITIZE_OVERWRITE,
            PurgeTechnique::ScsiSanitizeOverwrite,
        ),
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
                s.unknown
                    .push(format!("REPORT SUPPORTED OPERATION CODES: {e}"));
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

#[cfg(test)]
mod tests {

    #[test]
    fn virtio_scsi_disks_are_asked_and_virtio_blk_disks_are_not() {
        let scsi = Path::new(
            "/sys/devices/pci0000:00/0000:00:03.0/virtio2/host2/target2:0:0/2:0:0:0/block/sdb",
        );
        let blk = Path::new("/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda");
        assert!(behind_scsi_host(scsi));
        assert!(!behind_scsi_host(blk));
        assert!(!behind_scsi_host(Path::new(
            "/sys/devices/virtual/block/loop0"
        )));
    }
    use super::*;
    use crate::device::transport::fake::{
        FakeAtaDrive, FakeNvmeController, FakeSanitizeLog, SanitizeState, SecurityState, SenseStyle,
    };
    use crate::device::transport::{sense, AtaCommand, AtaProtocol, NvmeAdminCommand, ScsiOutcome};

    fn ata(drive: &mut FakeAtaDrive) -> DriveReport {
        probe_ata(&mut AtaOverScsi::new(drive, "/dev/fake")).unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn ata_probe_sends_exactly_these_cdbs() {
        let mut d = FakeAtaDrive {
            sense: SenseStyle::Descriptor,
            ..FakeAtaDrive::default()
        };
        ata(&mut d);
        // Written from SAT-4 table 173 and the ACS-4 command tables, not from our encoder.
        let expected = [
            "85 08 0e 00 00 00 01 00 00 00 00 00 00 00 ec 00", // IDENTIFY DEVICE
            "85 07 20 00 00 00 00 00 00 00 00 00 00 40 b4 00", // SANITIZE STATUS EXT
            "85 07 20 00 00 00 00 00 00 00 00 00 00 40 27 00", // READ NATIVE MAX ADDRESS EXT
            "85 08 0e 00 c2 00 01 00 00 00 00 00 00 00 b1 00", // DEVICE CONFIGURATION IDENTIFY
            "85 06 20 00 da 00 00 00 00 00 4f 00 c2 00 b0 00", // SMART RETURN STATUS
            "85 08 0e 00 d0 00 01 00 00 00 4f 00 c2 00 b0 00", // SMART READ DATA
        ];
        let expected: Vec<Vec<u8>> = expected.iter().map(|s| hex(s)).collect();
        assert_eq!(d.received, expected);
    }

    #[test]
    fn ata_identity_techniques_health() {
        for style in [
            SenseStyle::Descriptor,
            SenseStyle::LibataFixed,
            SenseStyle::LibataLegacy,
        ] {
            let mut d = FakeAtaDrive {
                sense: style,
                erase_time_word: 0x001e,
                enhanced_erase_time_word: 0x8100,
                ..FakeAtaDrive::default()
            };
            let r = ata(&mut d);
            let id = r.identity.unwrap();
            assert_eq!(id.source, IdentitySource::AtaIdentify);
            assert_eq!(id.model.as_deref(), Some("FAKE SSD 1TB"));
            assert_eq!(id.serial.as_deref(), Some("FAKE0001"));
            assert_eq!(id.firmware.as_deref(), Some("FW01"));
            let s = r.sanitize.unwrap();
            assert_eq!(
                s.techniques,
                [
                    PurgeTechnique::AtaSanitizeCrypto,
                    PurgeTechnique::AtaSanitizeBlock,
                    PurgeTechnique::AtaSecurityEraseEnhanced { minutes: Some(512) },
                    PurgeTechnique::AtaSecurityErase { minutes: Some(60) },
                ],
                "{style:?}"
            );
            assert!(
                s.blocked_by.is_empty() && s.unknown.is_empty(),
                "{style:?} {s:?}"
            );
            let h = r.health.unwrap();
            assert_eq!(h.passed, Some(true));
            assert_eq!(h.power_on_hours, Some(1234));
            assert_eq!(h.reallocated_sectors, Some(0));
        }
    }

    #[test]
    fn hpa_is_found_and_fixed_sense_that_cannot_carry_it_is_unknown() {
        let hpa = |style| FakeAtaDrive {
            sense: style,
            native_sectors: 1_953_525_168,
            accessible_sectors: 1_953_520_000,
            ..FakeAtaDrive::default()
        };
        for style in [SenseStyle::Descriptor, SenseStyle::LibataLegacy] {
            let h = ata(&mut hpa(style)).hidden.unwrap();
            assert_eq!(h.state, HiddenState::Hidden, "{style:?}");
            assert_eq!(h.native_sectors, Some(1_953_525_168));
            assert_eq!(h.hidden_sectors(), Some(5168));
        }
        // Fixed format has room for LBA(23:0) only; this drive's max LBA needs 31 bits. libata
        // switches to descriptor sense when asked (Control mode page D_SENSE): the probe asks,
        // reads the whole LBA, and puts the setting back.
        let mut fixed = hpa(SenseStyle::LibataFixed);
        let h = ata(&mut fixed).hidden.unwrap();
        assert_eq!(h.state, HiddenState::Hidden, "{h:?}");
        assert_eq!(h.native_sectors, Some(1_953_525_168));
        assert_eq!(
            fixed.sense,
            SenseStyle::LibataFixed,
            "the sense format is put back"
        );
        // A SATL that cannot switch: unknown, never "none".
        let mut stuck = FakeAtaDrive {
            control_page: false,
            ..hpa(SenseStyle::LibataFixed)
        };
        let h = ata(&mut stuck).hidden.unwrap();
        assert_eq!(h.state, HiddenState::Unknown);
        assert!(h.notes[0].contains("fixed-format"), "{h:?}");
        // A drive below 2^24 sectors fits: no HPA, known.
        let mut small = FakeAtaDrive {
            native_sectors: 0x00ff_0000,
            accessible_sectors: 0x00ff_0000,
            ..FakeAtaDrive::default()
        };
        let h = ata(&mut small).hidden.unwrap();
        assert_eq!(
            (h.state, h.native_sectors),
            (HiddenState::None, Some(0x00ff_0000))
        );
    }

    #[test]
    fn a_28_bit_drive_reads_the_native_max_with_f8() {
        let mut d = FakeAtaDrive {
            lba48: false,
            native_sectors: 0x0a00_0000,
            accessible_sectors: 0x0900_0000,
            ..FakeAtaDrive::default()
        };
        let h = ata(&mut d).hidden.unwrap();
        assert_eq!(h.state, HiddenState::Hidden);
        assert_eq!(h.native_sectors, Some(0x0a00_0000));
        assert!(d.received.iter().any(|c| c[14] == 0xf8 && c[1] == 0x06));
    }

    #[test]
    fn no_hpa_feature_and_an_abort_means_no_hpa() {
        let mut d = FakeAtaDrive {
            hpa_supported: false,
            ..FakeAtaDrive::default()
        };
        let h = ata(&mut d).hidden.unwrap();
        assert_eq!(h.state, HiddenState::None, "{h:?}");
        assert!(h.notes[0].contains("no HPA"), "{h:?}");
        // Asked anyway: the abort path runs (as on QEMU's AHCI disk, which answers).
        assert!(d.received.iter().any(|c| c[14] == 0x27));
        // With the feature claimed, the same abort is unknown, not "none".
        let mut d = FakeAtaDrive {
            refuse_native_max: true,
            ..FakeAtaDrive::default()
        };
        assert_eq!(ata(&mut d).hidden.unwrap().state, HiddenState::Unknown);
    }

    #[test]
    fn acs3_accessible_max_address_is_asked_with_get_native_max() {
        let mut d = FakeAtaDrive {
            hpa_supported: false,
            ama_supported: true,
            native_sectors: 0x0100_0000,
            accessible_sectors: 0x00f0_0000,
            ..FakeAtaDrive::default()
        };
        let h = ata(&mut d).hidden.unwrap();
        assert_eq!(h.state, HiddenState::Hidden);
        assert_eq!(h.native_from.as_deref(), Some("get_native_max_address_ext"));
        assert!(d
            .received
            .contains(&hex("85 07 20 00 00 00 00 00 00 00 00 00 00 40 78 00")));
    }

    #[test]
    fn a_dco_restriction_is_hidden_even_without_hpa() {
        let mut d = FakeAtaDrive {
            dco_sectors: Some(0x0100_0000),
            native_sectors: 0x00f0_0000,
            accessible_sectors: 0x00f0_0000,
            ..FakeAtaDrive::default()
        };
        let h = ata(&mut d).hidden.unwrap();
        assert_eq!(h.state, HiddenState::Hidden, "{h:?}");
        assert_eq!(
            (h.native_sectors, h.dco_sectors),
            (Some(0x00f0_0000), Some(0x0100_0000))
        );
        assert_eq!(h.hidden_sectors(), Some(0x0010_0000));
        // Same capacity in the DCO: nothing hidden.
        d.dco_sectors = Some(0x00f0_0000);
        assert_eq!(ata(&mut d).hidden.unwrap().state, HiddenState::None);
        // A DCO answer with a bad checksum is not believed.
        d.dco_bad_checksum = true;
        let h = ata(&mut d).hidden.unwrap();
        assert_eq!(h.state, HiddenState::Unknown);
        assert!(h.notes[0].contains("checksum"), "{h:?}");
    }

    fn send(
        d: &mut FakeAtaDrive,
        command: u8,
        protocol: AtaProtocol,
        data: DataDir<'_>,
    ) -> AtaOutcome {
        let cmd = AtaCommand {
            command,
            features: 0,
            count: u16::from(protocol != AtaProtocol::NonData),
            lba: 0,
            device: 0x40,
            protocol,
            extended: false,
        };
        AtaOverScsi::new(d, "/dev/fake")
            .ata(&cmd, data, Duration::from_secs(1))
            .unwrap()
    }

    fn password_block(pw: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[2..2 + pw.len()].copy_from_slice(pw);
        b
    }

    #[test]
    fn security_states_block_purge() {
        let mut d = FakeAtaDrive::default();
        // FREEZE LOCK -> frozen; SET PASSWORD then aborts, and the abort decodes from libata's
        // fixed-format sense as ABRT with DRDY|ERR.
        assert!(!send(&mut d, 0xf5, AtaProtocol::NonData, DataDir::None).is_error());
        let out = send(
            &mut d,
            0xf1,
            AtaProtocol::PioOut,
            DataDir::Out(&password_block(b"x")),
        );
        assert!(out.aborted());
        let regs = out.registers.unwrap();
        assert_eq!((regs.error, regs.status), (0x04, 0x41));
        assert_eq!(out.sense.unwrap().key, sense::ABORTED_COMMAND);
        let s = ata(&mut d).sanitize.unwrap();
        assert_eq!(s.blocked_by, [PurgeBlocker::SecurityFrozen]);

        // Password set, power cycle: locked and enabled.
        d.power_cycle();
        let pw = password_block(b"massho");
        assert!(!send(&mut d, 0xf1, AtaProtocol::PioOut, DataDir::Out(&pw)).is_error());
        d.power_cycle();
        assert_eq!(d.security, SecurityState::Locked);
        let s = ata(&mut d).sanitize.unwrap();
        assert_eq!(
            s.blocked_by,
            [PurgeBlocker::SecurityLocked, PurgeBlocker::SecurityEnabled]
        );
        // Five wrong passwords: attempts exhausted; the right one is refused too.
        let wrong = password_block(b"guess");
        for _ in 0..5 {
            assert!(send(&mut d, 0xf2, AtaProtocol::PioOut, DataDir::Out(&wrong)).aborted());
        }
        assert!(send(&mut d, 0xf2, AtaProtocol::PioOut, DataDir::Out(&pw)).aborted());
        let s = ata(&mut d).sanitize.unwrap();
        assert!(s
            .blocked_by
            .contains(&PurgeBlocker::SecurityAttemptsExhausted));
        // After a power cycle the right password unlocks.
        d.power_cycle();
        assert!(!send(&mut d, 0xf2, AtaProtocol::PioOut, DataDir::Out(&pw)).is_error());
        assert_eq!(d.security, SecurityState::Enabled);
    }

    #[test]
    fn security_erase_needs_prepare_immediately_before() {
        let mut d = FakeAtaDrive::default();
        let pw = password_block(b"massho");
        assert!(!send(&mut d, 0xf1, AtaProtocol::PioOut, DataDir::Out(&pw)).is_error());
        // Without ERASE PREPARE, and with IDENTIFY in between: aborted.
        assert!(send(&mut d, 0xf4, AtaProtocol::PioOut, DataDir::Out(&pw)).aborted());
        assert!(!send(&mut d, 0xf3, AtaProtocol::NonData, DataDir::None).is_error());
        let mut id = vec![0u8; 512];
        assert!(!send(&mut d, 0xec, AtaProtocol::PioIn, DataDir::In(&mut id)).is_error());
        assert!(send(&mut d, 0xf4, AtaProtocol::PioOut, DataDir::Out(&pw)).aborted());
        assert_eq!(d.security, SecurityState::Enabled);
        // PREPARE then ERASE UNIT: erased, security disabled, password gone.
        assert!(!send(&mut d, 0xf3, AtaProtocol::NonData, DataDir::None).is_error());
        assert!(!send(&mut d, 0xf4, AtaProtocol::PioOut, DataDir::Out(&pw)).is_error());
        assert_eq!(d.security, SecurityState::Disabled);
        assert_eq!(d.password, [0; 32]);
        // A buffer that does not match the CDB's transfer length is refused by the SATL.
        let short = [0u8; 100];
        let cmd = ata::identify_device();
        let e = AtaOverScsi::new(&mut d, "/dev/fake")
            .ata(&cmd, DataDir::Out(&short), PROBE_TIMEOUT)
            .unwrap_err();
        assert!(matches!(e, TransportError::Unsupported { .. }), "{e}");
    }

    #[test]
    fn sanitize_states() {
        // In progress at 50 %: descriptor sense carries COUNT(15:8).
        let mut d = FakeAtaDrive {
            sense: SenseStyle::Descriptor,
            sanitize: SanitizeState::InProgress { progress: 0x8000 },
            ..FakeAtaDrive::default()
        };
        let s = ata(&mut d).sanitize.unwrap();
        assert_eq!(
            s.blocked_by,
            [PurgeBlocker::SanitizeInProgress { percent: 50 }]
        );
        // Fixed-format sense loses COUNT(15:8): the probe switches to descriptor sense; where
        // the SATL cannot, unknown, not "idle".
        d.sense = SenseStyle::LibataFixed;
        let s = ata(&mut d).sanitize.unwrap();
        assert_eq!(
            s.blocked_by,
            [PurgeBlocker::SanitizeInProgress { percent: 50 }]
        );
        d.control_page = false;
        let s = ata(&mut d).sanitize.unwrap();
        assert!(s.blocked_by.is_empty());
        assert!(s.unknown[0].contains("COUNT(15:8)"), "{s:?}");
        // Failed: SANITIZE STATUS EXT aborts, whatever the sense format.
        for style in [
            SenseStyle::LibataFixed,
            SenseStyle::LibataLegacy,
            SenseStyle::Descriptor,
        ] {
            let mut d = FakeAtaDrive {
                sense: style,
                sanitize: SanitizeState::Failed,
                ..FakeAtaDrive::default()
            };
            let s = ata(&mut d).sanitize.unwrap();
            assert_eq!(s.blocked_by, [PurgeBlocker::SanitizeFailed], "{style:?}");
        }
        // Frozen by SANITIZE FREEZE LOCK.
        let mut d = FakeAtaDrive {
            sense: SenseStyle::Descriptor,
            sanitize_frozen: true,
            ..FakeAtaDrive::default()
        };
        assert_eq!(
            ata(&mut d).sanitize.unwrap().blocked_by,
            [PurgeBlocker::SanitizeFrozen]
        );
    }

    #[test]
    fn smart_threshold_exceeded_fails_health() {
        let mut d = FakeAtaDrive {
            smart: Some((true, vec![(5, 812), (197, 9), (198, 4)])),
            ..FakeAtaDrive::default()
        };
        let h = ata(&mut d).health.unwrap();
        assert_eq!(h.passed, Some(false));
        assert_eq!(
            (
                h.reallocated_sectors,
                h.pending_sectors,
                h.uncorrectable_sectors
            ),
            (Some(812), Some(9), Some(4))
        );
        assert_eq!(h.power_on_hours, None);
        d.smart = None;
        assert!(ata(&mut d).health.is_none());
    }

    /// A SCSI disk as QEMU's scsi-hd answers: INQUIRY and VPD 0x80, invalid opcode for ATA
    /// PASS-THROUGH and REPORT SUPPORTED OPERATION CODES.
    struct ScsiDisk;

    impl ScsiTransport for ScsiDisk {
        fn scsi(
            &mut self,
            cdb: &[u8],
            data: DataDir<'_>,
            _: Duration,
        ) -> Result<ScsiOutcome, TransportError> {
            let page: &[u8] = match (cdb[0], cdb[1] & 1, cdb[2]) {
                (0x12, 0, _) => b"\x00\x00\x05\x02\x1f\x00\x00\x00QEMU    QEMU HARDDISK   2.5+",
                (0x12, 1, 0x80) => b"\x00\x80\x00\x05SCSI1",
                _ => {
                    return Ok(ScsiOutcome {
                        status: 0x02,
                        sense: vec![
                            0x70, 0, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0,
                        ],
                        residual: 0,
                    })
                }
            };
            if let DataDir::In(b) = data {
                let n = b.len().min(page.len());
                b[..n].copy_from_slice(&page[..n]);
            }
            Ok(ScsiOutcome::good())
        }
    }

    #[test]
    fn a_scsi_disk_without_sat_falls_back_to_inquiry() {
        let r = probe_sat_or_scsi(ScsiDisk, Path::new("/dev/fake")).unwrap();
        let id = r.identity.unwrap();
        assert_eq!(id.source, IdentitySource::ScsiInquiry);
        assert_eq!(id.model.as_deref(), Some("QEMU QEMU HARDDISK"));
        assert_eq!(id.serial.as_deref(), Some("SCSI1"));
        let s = r.sanitize.unwrap();
        assert!(s.techniques.is_empty());
        assert!(
            s.unknown[0].contains("05/20") || s.unknown[0].contains("ASC/ASCQ 20/00"),
            "{s:?}"
        );
        assert!(r.hidden.is_none() && r.health.is_none());
    }

    #[test]
    fn a_bridge_with_only_pass_through_12_still_identifies_the_drive() {
        let mut d = FakeAtaDrive {
            accepts_16: false,
            ..FakeAtaDrive::default()
        };
        let r = probe_sat_or_scsi(&mut d, Path::new("/dev/fake")).unwrap();
        let id = r.identity.unwrap();
        assert_eq!(id.source, IdentitySource::AtaIdentify);
        assert_eq!(id.serial.as_deref(), Some("FAKE0001"));
        assert!(d
            .received
            .contains(&hex("a1 08 0e 00 01 00 00 00 00 ec 00 00")));
        // 48-bit questions cannot be carried: unknown, with the reason, never "none".
        let s = r.sanitize.unwrap();
        assert!(s.unknown[0].contains("(12)"), "{s:?}");
        let h = r.hidden.unwrap();
        assert_eq!(h.state, HiddenState::Unknown);
        // SMART is 28-bit and gets through.
        assert_eq!(r.health.unwrap().passed, Some(true));
    }

    #[test]
    fn a_bridge_without_pass_through_is_asked_with_inquiry() {
        // libata's INQUIRY through the fake when ATA is not reachable: the SAT answers ATA.
        let mut d = FakeAtaDrive::default();
        let r = probe_scsi(&mut d).unwrap();
        assert_eq!(r.identity.unwrap().serial.as_deref(), Some("FAKE0001"));
    }

    #[test]
    fn nvme_as_qemu_reports_it() {
        let mut c = FakeNvmeController::qemu("NVME0001");
        let r = probe_nvme(&mut c).unwrap();
        let id = r.identity.unwrap();
        assert_eq!(id.serial.as_deref(), Some("NVME0001"));
        assert_eq!(id.model.as_deref(), Some("QEMU NVMe Ctrl"));
        let s = r.sanitize.unwrap();
        assert_eq!(s.techniques, [PurgeTechnique::NvmeFormatUserData]);
        assert!(s.blocked_by.is_empty() && s.unknown.is_empty());
        assert!(r.hidden.is_none());
        assert_eq!(r.health.unwrap().passed, Some(true));
        // Identify Controller, then the SMART log; no sanitize log when SANICAP is 0.
        let sent: Vec<(u8, u32, u32)> = c
            .received
            .iter()
            .map(|c| (c.opcode, c.nsid, c.cdw10))
            .collect();
        assert_eq!(sent, [(0x06, 0, 0x1), (0x02, 0xffff_ffff, 0x007f_8002)]);
    }

    #[test]
    fn nvme_with_sanitize_and_crypto_format() {
        let mut c = FakeNvmeController::full("N2");
        c.critical_warning = 0x04;
        c.percentage_used = 103;
        c.media_errors = 7;
        let r = probe_nvme(&mut c).unwrap();
        assert_eq!(
            r.sanitize.unwrap().techniques,
            [
                PurgeTechnique::NvmeSanitizeCrypto,
                PurgeTechnique::NvmeFormatCrypto,
                PurgeTechnique::NvmeSanitizeBlock,
                PurgeTechnique::NvmeFormatUserData,
                PurgeTechnique::NvmeSanitizeOverwrite,
            ]
        );
        let h = r.health.unwrap();
        assert_eq!(h.passed, Some(false));
        assert_eq!(
            (h.nvme_critical_warning, h.percentage_used, h.media_errors),
            (Some(4), Some(103), Some(7))
        );
        assert!(c
            .received
            .iter()
            .any(|x| x.opcode == 0x02 && x.cdw10 == 0x007f_8081));
        // A sanitize started through the admin interface shows as in progress; a failed one
        // blocks.
        let start = NvmeAdminCommand {
            opcode: 0x84,
            cdw10: 0x4,
            ..NvmeAdminCommand::default()
        };
        assert!(c
            .admin(&start, DataDir::None, PROBE_TIMEOUT)
            .unwrap()
            .is_success());
        c.sanitize_log.sprog = 0x4000;
        assert_eq!(
            probe_nvme(&mut c).unwrap().sanitize.unwrap().blocked_by,
            [PurgeBlocker::SanitizeInProgress { percent: 25 }]
        );
        c.sanitize_log = FakeSanitizeLog {
            sprog: 0xffff,
            sstat: 3,
        };
        assert_eq!(
            probe_nvme(&mut c).unwrap().sanitize.unwrap().blocked_by,
            [PurgeBlocker::SanitizeFailed]
        );
    }

    #[test]
    fn nvme_fake_answers_like_qemu_for_what_qemu_lacks() {
        let mut c = FakeNvmeController::qemu("Q");
        let sanitize = NvmeAdminCommand {
            opcode: 0x84,
            cdw10: 0x2,
            ..NvmeAdminCommand::default()
        };
        assert_eq!(
            c.admin(&sanitize, DataDir::None, PROBE_TIMEOUT)
                .unwrap()
                .status,
            0x4001
        );
        let mut log = vec![0u8; 512];
        let get = nvme::get_log_page(nvme::LOG_SANITIZE, nvme::NSID_ALL, 512);
        assert_eq!(
            c.admin(&get, DataDir::In(&mut log), PROBE_TIMEOUT)
                .unwrap()
                .status,
            0x4002
        );
    }

    #[test]
    fn disks_without_firmware_to_ask_are_not_opened() {
        let node = BlockNode {
            name: "loop9".into(),
            sys: "/nonexistent".into(),
            dev: crate::device::sysfs::DevNum { major: 7, minor: 9 },
            node: "/nonexistent/loop9".into(),
        };
        for t in [
            Transport::Loop,
            Transport::Virtio,
            Transport::Mmc,
            Transport::File,
            Transport::Unknown,
        ] {
            assert_eq!(probe_disk(&node, t).unwrap(), DriveReport::default());
        }
        // The rest do open, and say so when they cannot.
        assert!(matches!(
            probe_disk(&node, Transport::Sata),
            Err(TransportError::Open { .. })
        ));
        assert!(matches!(
            probe_disk(&node, Transport::Nvme),
            Err(TransportError::NoController { .. })
        ));
    }
}
