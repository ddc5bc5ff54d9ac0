//! Firmware steps end to end against the spec-faithful fakes: the engine runs the plan through a
//! real image file (the "medium" each fake rewrites when its erase completes), checks the
//! firmware's work by read-back or fingerprints, and the result's category is derived from it.
//! A drive that reports success and changes nothing must never be certified.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::drive::{Access, DriveFirmware, Note};
use super::{FirmwareCheck, FirmwareOutcome};
use crate::device::drive::nvme::DeallocatedReads;
use crate::device::drive::PurgeTechnique;
use crate::device::io::{self, DeviceTarget};
use crate::device::transport::ata::AtaOverScsi;
use crate::device::transport::fake::{
    FakeAtaDrive, FakeMedium, FakeNvmeController, FakeScsiDisk, MediumEffect, SecurityState,
    SenseStyle,
};
use crate::engine::{self, Control, EngineConfig, Observer, Status, WipeEvent, WipeReport};
use crate::method::{self, PlanOptions, Step, VerifyMode};
use crate::pattern::Seed;

const SIZE: usize = 4 << 20;
const OLD: u8 = 0x5A;

fn image(dir: &Path, fill: u8) -> PathBuf {
    let path = dir.join("disk.img");
    std::fs::write(&path, vec![fill; SIZE]).unwrap();
    path
}

/// `method`'s plan with every firmware step set to `technique`.
fn plan(method: &str, technique: PurgeTechnique, verify: Option<VerifyMode>) -> method::WipePlan {
    let mut p = method::plan(
        &method::resolve(method).unwrap(),
        &PlanOptions {
            verify,
            seed: Seed([7; 32]),
            ..PlanOptions::default()
        },
    );
    for s in &mut p.steps {
        if let Step::Firmware(f) = s {
            f.technique = Some((technique, "chosen by the test".into()));
        }
    }
    p
}

type Notes = Arc<Mutex<Vec<Note>>>;

fn firmware(access: Access<'_>) -> (DriveFirmware<'_>, Notes) {
    let notes: Notes = Arc::default();
    let sink = Arc::clone(&notes);
    (
        DriveFirmware {
            access,
            capacity_bytes: SIZE as u64,
            sector_size: 512,
            poll_interval: Duration::from_millis(1),
            journal: Box::new(move |n| {
                sink.lock().unwrap().push(n);
                Ok(())
            }),
        },
        notes,
    )
}

fn run(
    path: &Path,
    plan: &method::WipePlan,
    fw: &mut DriveFirmware<'_>,
    observer: &dyn Observer,
) -> WipeReport {
    let target = DeviceTarget::open(path, io::Access::ReadWrite).unwrap();
    engine::run_with_firmware(
        plan,
        &target,
        "img",
        &EngineConfig::default(),
        observer,
        Some(fw),
    )
}

fn category(report: &WipeReport) -> String {
    crate::result::sanitization(crate::device::MediaClass::Flash, report).nist_category
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn nvme_crypto_sanitize_is_purge_when_no_sampled_sector_reads_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    let mut nvme = FakeNvmeController::full("N1");
    nvme.sanitize_polls = 3;
    nvme.medium = Some(FakeMedium::new(&path, MediumEffect::Random(9)));
    let (mut fw, notes) = firmware(Access::Nvme {
        admin: Box::new(&mut nvme),
        nsid: 1,
        dlfeat: DeallocatedReads::NotReported,
    });
    let r = run(
        &path,
        &plan("purge", PurgeTechnique::NvmeSanitizeCrypto, None),
        &mut fw,
        &engine::Quiet,
    );
    drop(fw);
    assert_eq!(r.status, Status::Passed, "{:#?}", r.firmware);
    assert_eq!(category(&r), "purge");
    let f = &r.firmware[0];
    assert_eq!(f.technique, "nvme-sanitize-crypto");
    assert_eq!(f.outcome, FirmwareOutcome::Completed);
    // SANACT=4 (crypto), AUSE=0: restricted failure mode, as recorded.
    assert!(
        f.commands
            .iter()
            .any(|c| c.name == "sanitize" && c.sent.contains("cdw10=0x00000004")),
        "{:#?}",
        f.commands
    );
    assert!(f.flags.iter().any(|x| x.contains("AUSE=0")));
    match &f.check {
        FirmwareCheck::Fingerprints {
            sectors,
            unchanged,
            unreadable,
        } => {
            assert_eq!((*sectors, *unchanged, *unreadable), (256, 0, 0));
        }
        other => panic!("crypto erase must be checked by fingerprints: {other:?}"),
    }
    // The fingerprints went to the journal before the command; the data never did.
    let notes = notes.lock().unwrap();
    assert!(matches!(&notes[0], Note::Fingerprints { sectors, .. } if sectors.len() == 256));
    assert_eq!(nvme.erases_completed, 1);
}

#[test]
fn a_drive_that_reports_success_and_changes_nothing_is_never_certified() {
    for technique in [
        PurgeTechnique::NvmeSanitizeCrypto,
        PurgeTechnique::NvmeSanitizeBlock,
        PurgeTechnique::NvmeFormatUserData,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = image(dir.path(), OLD);
        let mut nvme = FakeNvmeController::full("N1");
        nvme.sanitize_polls = 2;
        nvme.medium = Some(FakeMedium::new(&path, MediumEffect::Untouched));
        let (mut fw, _) = firmware(Access::Nvme {
            admin: Box::new(&mut nvme),
            nsid: 1,
            dlfeat: DeallocatedReads::Zeros,
        });
        let r = run(
            &path,
            &plan("purge", technique, None),
            &mut fw,
            &engine::Quiet,
        );
        assert_eq!(
            r.status,
            Status::Failed,
            "{}: {:#?}",
            technique.name(),
            r.firmware
        );
        assert_eq!(category(&r), "none", "{}", technique.name());
        assert_eq!(
            r.firmware[0].outcome,
            FirmwareOutcome::Completed,
            "the drive said it worked"
        );
        assert!(!r.firmware[0].check.passed());
    }
}

#[test]
fn a_block_erase_on_a_namespace_that_reads_zeros_is_read_back_as_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    let mut nvme = FakeNvmeController::full("N1");
    nvme.sanitize_polls = 2;
    nvme.medium = Some(FakeMedium::new(&path, MediumEffect::Zeros));
    let (mut fw, _) = firmware(Access::Nvme {
        admin: Box::new(&mut nvme),
        nsid: 1,
        dlfeat: DeallocatedReads::Zeros,
    });
    let r = run(
        &path,
        &plan("purge", PurgeTechnique::NvmeSanitizeBlock, None),
        &mut fw,
        &engine::Quiet,
    );
    assert_eq!(r.status, Status::Passed, "{:#?}", r.firmware);
    match &r.firmware[0].check {
        FirmwareCheck::ReadBack {
            expected,
            bytes_verified,
            mismatched_bytes,
            ..
        } => {
            assert_eq!(
                (expected.as_str(), *bytes_verified, *mismatched_bytes),
                ("0x00", SIZE as u64, 0)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.verification.bytes_verified, SIZE as u64);
}

#[test]
fn purge_then_zeros_runs_both_steps_and_stays_purge() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    let mut nvme = FakeNvmeController::full("N1");
    nvme.medium = Some(FakeMedium::new(&path, MediumEffect::Random(3)));
    let (mut fw, _) = firmware(Access::Nvme {
        admin: Box::new(&mut nvme),
        nsid: 1,
        dlfeat: DeallocatedReads::NotReported,
    });
    let r = run(
        &path,
        &plan("purge-zero", PurgeTechnique::NvmeFormatCrypto, None),
        &mut fw,
        &engine::Quiet,
    );
    assert_eq!(r.status, Status::Passed, "{:#?}", r.firmware);
    assert_eq!(category(&r), "purge");
    assert_eq!(r.passes.len(), 1);
    assert_eq!(r.passes[0].index, 2, "the overwrite is step 2");
    assert!(bytes(&path).iter().all(|b| *b == 0));
    // SES=2 on namespace 1 with its format index 0.
    assert!(
        r.firmware[0]
            .commands
            .iter()
            .any(|c| c.sent.starts_with("opcode=0x80 nsid=0x1 cdw10=0x00000400")),
        "{:#?}",
        r.firmware[0].commands
    );
}

#[test]
fn a_failed_sanitize_ends_the_wipe_failed_and_nothing_after_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    let mut nvme = FakeNvmeController::full("N1");
    nvme.sanitize_polls = 2;
    nvme.fail_sanitize = true;
    nvme.medium = Some(FakeMedium::new(&path, MediumEffect::Zeros));
    let (mut fw, _) = firmware(Access::Nvme {
        admin: Box::new(&mut nvme),
        nsid: 1,
        dlfeat: DeallocatedReads::Zeros,
    });
    let r = run(
        &path,
        &plan("purge-zero", PurgeTechnique::NvmeSanitizeBlock, None),
        &mut fw,
        &engine::Quiet,
    );
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.firmware[0].outcome, FirmwareOutcome::Failed);
    assert!(
        r.firmware[0].detail.contains("restricted failure mode"),
        "{}",
        r.firmware[0].detail
    );
    assert!(
        r.passes.is_empty(),
        "the overwrite after a failed purge must not run"
    );
    assert_eq!(category(&r), "none");
    assert!(bytes(&path).iter().all(|b| *b == OLD));
}

#[test]
fn a_stop_while_the_drive_sanitizes_leaves_it_running_and_aborts() {
    struct StopOnFirmware;
    impl Observer for StopOnFirmware {
        fn event(&self, e: &WipeEvent) -> Control {
            match e {
                WipeEvent::Progress {
                    phase: engine::Phase::Firmware,
                    ..
                } => Control::Stop,
                _ => Control::Continue,
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    let mut nvme = FakeNvmeController::full("N1");
    nvme.sanitize_polls = 0; // runs until finished by hand
    let (mut fw, _) = firmware(Access::Nvme {
        admin: Box::new(&mut nvme),
        nsid: 1,
        dlfeat: DeallocatedReads::Zeros,
    });
    let r = run(
        &path,
        &plan("purge", PurgeTechnique::NvmeSanitizeBlock, None),
        &mut fw,
        &StopOnFirmware,
    );
    assert_eq!(r.status, Status::Aborted);
    assert_eq!(r.firmware[0].outcome, FirmwareOutcome::LeftRunning);
    assert!(
        r.firmware[0].detail.contains("continues inside the drive"),
        "{}",
        r.firmware[0].detail
    );
    assert_ne!(category(&r), "purge");
}

#[test]
fn ata_sanitize_block_erase_polls_status_until_done() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    let mut drive = FakeAtaDrive {
        sanitize_block: true,
        sanitize_polls: 4,
        sense: SenseStyle::Descriptor,
        medium: Some(FakeMedium::new(&path, MediumEffect::Ones)),
        ..FakeAtaDrive::default()
    };
    let (mut fw, _) = firmware(Access::Ata {
        ata: Box::new(AtaOverScsi::new(&mut drive, "fake")),
    });
    let r = run(
        &path,
        &plan("purge", PurgeTechnique::AtaSanitizeBlock, None),
        &mut fw,
        &engine::Quiet,
    );
    drop(fw);
    assert_eq!(r.status, Status::Passed, "{:#?}", r.firmware);
    let f = &r.firmware[0];
    // SANITIZE DEVICE, BLOCK ERASE, key "BkEr".
    assert!(
        f.commands[0]
            .sent
            .starts_with("command=0xb4 features=0x0012")
            && f.commands[0].sent.contains("426b4572"),
        "{:#?}",
        f.commands
    );
    assert!(matches!(
        f.check,
        FirmwareCheck::Fingerprints { unchanged: 0, .. }
    ));
    assert_eq!(drive.erases_completed, 1);
}

#[test]
fn ata_sanitize_on_libata_switches_to_descriptor_sense_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    let mut drive = FakeAtaDrive {
        sanitize_block: true,
        sanitize_polls: 2,
        sense: SenseStyle::LibataFixed,
        medium: Some(FakeMedium::new(&path, MediumEffect::Ones)),
        ..FakeAtaDrive::default()
    };
    let (mut fw, _) = firmware(Access::Ata {
        ata: Box::new(AtaOverScsi::new(&mut drive, "fake")),
    });
    let r = run(
        &path,
        &plan("purge", PurgeTechnique::AtaSanitizeBlock, None),
        &mut fw,
        &engine::Quiet,
    );
    drop(fw);
    assert_eq!(r.status, Status::Passed, "{:#?}", r.firmware);
    assert!(
        r.firmware[0]
            .flags
            .iter()
            .any(|f| f.starts_with("descriptor_sense: switched on")),
        "{:?}",
        r.firmware[0].flags
    );
    assert_eq!(
        drive.sense,
        SenseStyle::LibataFixed,
        "the sense format is put back"
    );
    // MODE SENSE, MODE SELECT on, SANITIZE, the polls, MODE SENSE, MODE SELECT off.
    let modes: Vec<u8> = drive
        .received
        .iter()
        .map(|c| c[0])
        .filter(|op| matches!(op, 0x55 | 0x5a))
        .collect();
    assert_eq!(modes, [0x5a, 0x55, 0x5a, 0x55]);
}

#[test]
fn ata_sanitize_status_in_fixed_sense_is_never_taken_for_success() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    // A SATL that cannot switch its sense format (no Control mode page).
    let mut drive = FakeAtaDrive {
        sanitize_block: true,
        sanitize_polls: 2,
        sense: SenseStyle::LibataFixed,
        control_page: false,
        medium: Some(FakeMedium::new(&path, MediumEffect::Ones)),
        ..FakeAtaDrive::default()
    };
    let (mut fw, _) = firmware(Access::Ata {
        ata: Box::new(AtaOverScsi::new(&mut drive, "fake")),
    });
    let r = run(
        &path,
        &plan("purge", PurgeTechnique::AtaSanitizeBlock, None),
        &mut fw,
        &engine::Quiet,
    );
    assert_ne!(r.status, Status::Passed, "{:#?}", r.firmware);
    assert_ne!(category(&r), "purge");
    assert!(
        r.firmware[0].detail.contains("fixed-format sense"),
        "{}",
        r.firmware[0].detail
    );
}

#[test]
fn ata_security_erase_sets_a_journaled_password_erases_and_leaves_the_drive_unlocked() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    let mut drive = FakeAtaDrive {
        security_supported: true,
        enhanced_erase_supported: true,
        sense: SenseStyle::Descriptor,
        medium: Some(FakeMedium::new(&path, MediumEffect::Zeros)),
        ..FakeAtaDrive::default()
    };
    let (mut fw, notes) = firmware(Access::Ata {
        ata: Box::new(AtaOverScsi::new(&mut drive, "fake")),
    });
    let r = run(
        &path,
        &plan(
            "purge",
            PurgeTechnique::AtaSecurityEraseEnhanced { minutes: None },
            None,
        ),
        &mut fw,
        &engine::Quiet,
    );
    drop(fw);
    assert_eq!(r.status, Status::Passed, "{:#?}", r.firmware);
    let names: Vec<&str> = r.firmware[0]
        .commands
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "security_set_password (user)",
            "security_erase_prepare",
            "security_erase_unit (enhanced)"
        ]
    );
    // The password was journaled before it was set, and marked removed at the end; no
    // command record carries it.
    let notes = notes.lock().unwrap();
    let set = notes
        .iter()
        .position(|n| matches!(n, Note::PasswordSet { .. }))
        .unwrap();
    let removed = notes
        .iter()
        .position(|n| matches!(n, Note::PasswordRemoved { .. }))
        .unwrap();
    assert!(set < removed);
    if let Note::PasswordSet { password, .. } = &notes[set] {
        assert!(password.starts_with("massho-"));
        assert!(!serde_json::to_string(&r.firmware)
            .unwrap()
            .contains(password.as_str()));
    }
    assert_eq!(drive.security, SecurityState::Disabled);
}

#[test]
fn a_bridge_that_drops_the_erase_leaves_no_password_behind_and_no_purge() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    let mut drive = FakeAtaDrive {
        security_supported: true,
        sense: SenseStyle::Descriptor,
        bridge_drops_long_commands: true,
        medium: Some(FakeMedium::new(&path, MediumEffect::Zeros)),
        ..FakeAtaDrive::default()
    };
    let (mut fw, notes) = firmware(Access::Ata {
        ata: Box::new(AtaOverScsi::new(&mut drive, "fake")),
    });
    let r = run(
        &path,
        &plan(
            "purge",
            PurgeTechnique::AtaSecurityErase { minutes: None },
            None,
        ),
        &mut fw,
        &engine::Quiet,
    );
    drop(fw);
    assert_eq!(r.status, Status::Failed);
    assert_eq!(category(&r), "none");
    let f = &r.firmware[0];
    assert!(
        f.detail.contains("temporary password is removed"),
        "{}",
        f.detail
    );
    let names: Vec<&str> = f.commands.iter().map(|c| c.name.as_str()).collect();
    assert!(
        names.contains(&"security_unlock (user)")
            && names.contains(&"security_disable_password (user)"),
        "{names:?}"
    );
    assert_eq!(
        drive.security,
        SecurityState::Disabled,
        "massho must not leave its password on the drive"
    );
    assert!(notes
        .lock()
        .unwrap()
        .iter()
        .any(|n| matches!(n, Note::PasswordRemoved { .. })));
    // Untouched by the erase: only the sampled sectors that held one repeated byte were given
    // their fingerprint markers.
    let kept = bytes(&path).iter().filter(|b| **b == OLD).count();
    assert!(kept >= SIZE - 256 * 4096, "{kept}");
}

#[test]
fn scsi_sanitize_polls_request_sense_progress_until_done() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    let mut refusing = FakeScsiDisk::default();
    let (mut fw, _) = firmware(Access::Scsi {
        scsi: Box::new(&mut refusing),
    });
    let r = run(
        &path,
        &plan("purge", PurgeTechnique::ScsiSanitizeOverwrite, None),
        &mut fw,
        &engine::Quiet,
    );
    assert_eq!(r.status, Status::Failed);
    assert_eq!(
        r.firmware[0].detail,
        "SANITIZE: sense key 0x5, ASC/ASCQ 24/00"
    );
    drop(fw);
    let mut disk = FakeScsiDisk {
        sanitize_actions: vec![1, 2, 3, 0x1f],
        sanitize_polls: 3,
        medium: Some(FakeMedium::new(&path, MediumEffect::Zeros)),
        ..FakeScsiDisk::default()
    };
    let (mut fw, _) = firmware(Access::Scsi {
        scsi: Box::new(&mut disk),
    });
    let r = run(
        &path,
        &plan("purge", PurgeTechnique::ScsiSanitizeOverwrite, None),
        &mut fw,
        &engine::Quiet,
    );
    drop(fw);
    assert_eq!(r.status, Status::Passed, "{:#?}", r.firmware);
    // SANITIZE, IMMED, OVERWRITE (service action 01), an 8-byte parameter list.
    assert_eq!(
        r.firmware[0].commands[0].sent,
        "48 81 00 00 00 00 00 00 08 00"
    );
    assert!(matches!(
        r.firmware[0].check,
        FirmwareCheck::ReadBack {
            mismatched_bytes: 0,
            ..
        }
    ));
    assert_eq!(disk.erases_completed, 1);
}

#[test]
fn verify_none_runs_the_firmware_but_never_claims_purge() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(dir.path(), OLD);
    let mut nvme = FakeNvmeController::full("N1");
    nvme.medium = Some(FakeMedium::new(&path, MediumEffect::Random(1)));
    let (mut fw, _) = firmware(Access::Nvme {
        admin: Box::new(&mut nvme),
        nsid: 1,
        dlfeat: DeallocatedReads::NotReported,
    });
    let r = run(
        &path,
        &plan(
            "purge",
            PurgeTechnique::NvmeFormatCrypto,
            Some(VerifyMode::None),
        ),
        &mut fw,
        &engine::Quiet,
    );
    assert_eq!(r.status, Status::Unverified);
    assert_eq!(r.firmware[0].outcome, FirmwareOutcome::Completed);
    assert_ne!(category(&r), "purge");
}

#[test]
fn unlock_takes_the_password_from_the_journal_and_marks_it_removed() {
    use crate::job::journal::{Entry, Journal};
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::locate(Some(&dir.path().join("journal")));
    journal.ensure_writable().unwrap();
    let password = "massho-0123456789abcdef";
    let entry: Entry = serde_json::from_value(serde_json::json!({
        "schema": crate::job::journal::JOURNAL_SCHEMA,
        "id": "e1", "device": "/dev/sdz", "serial": "ATA-1", "model": null,
        "identity": {"device_number": "8:0", "inode": null, "diskseq": 1, "size_bytes": 4096,
                     "serial": "ATA-1", "model": null, "backing_file": null,
                     "loop_offset": null, "detaching": false},
        "method": "purge", "passes_planned": 1, "verify_mode": "last", "prng": "aes-ctr",
        "seed": "00", "started_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00Z",
        "host": "h", "pid": 1, "boot_id": null, "passes_done": [],
        "firmware": [{"step": 1, "password": password}],
        "closed": null
    }))
    .unwrap();
    journal.write(&entry).unwrap();
    // The drive as a bridge left it: locked with massho's password.
    let mut drive = FakeAtaDrive {
        security_supported: true,
        sense: SenseStyle::Descriptor,
        security: SecurityState::Locked,
        password: super::drive::password_field(password),
        ..FakeAtaDrive::default()
    };
    // Another serial has nothing to unlock: nothing is sent.
    let mut ata = AtaOverScsi::new(&mut drive, "fake");
    let e = super::drive::unlock_from_journal(&mut ata, &journal, "OTHER").unwrap_err();
    assert!(e.contains("records no password"), "{e}");
    let sent = super::drive::unlock_from_journal(&mut ata, &journal, "ATA-1").unwrap();
    let names: Vec<&str> = sent.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["security_unlock (user)", "security_disable_password (user)"]
    );
    drop(ata);
    assert_eq!(drive.security, SecurityState::Disabled);
    let (entries, _) = journal.entries().unwrap();
    assert!(
        entries[0].0.password_left().is_none(),
        "the journal still offers the password"
    );
    // A second run finds nothing left to do.
    let mut ata = AtaOverScsi::new(&mut drive, "fake");
    assert!(super::drive::unlock_from_journal(&mut ata, &journal, "ATA-1").is_err());
}
