//! `massho devices`: what is attached, who it is, what is on it, and whether it may be wiped.
//!
//! The table is what an operator reads before choosing a device, so every row says plainly why a
//! device is not wipeable; `--json` hands the same [`DeviceInfo`]s to scripts. Model, serial,
//! vendor, firmware and paths are whatever the drive or the filesystem says, so every one is
//! printed [`terminal_safe`] (the table does it for its cells, the detail lines here).

use anyhow::Context;

use super::args::DevicesArgs;
use super::Exit;
use crate::device::drive::{HiddenState, PurgeBlocker};
use crate::device::{self, DeviceInfo, Transport};
use crate::text::{path_safe, terminal_safe};

pub fn run(args: &DevicesArgs) -> anyhow::Result<Exit> {
    let devices = device::discover().context("cannot list block devices")?;
    super::wipe::report_interrupted(&crate::job::journal::Journal::locate(
        args.journal_dir.as_deref(),
    ));
    if args.json {
        let json = serde_json::to_string_pretty(&devices)
            .context("cannot encode the device list as JSON")?;
        outln!("{json}");
    } else {
        print!("{}", render_table(&devices));
        if !nix::unistd::geteuid().is_root() {
            outln!(
                "\nNot running as root: signatures, some serial numbers and some in-use checks \
                 (loop backing files) could not be read; run `sudo massho devices` for the full \
                 picture."
            );
        }
    }
    Ok(Exit::Passed)
}

const HEADERS: [&str; 10] = [
    "PATH",
    "SIZE",
    "HIDDEN",
    "TRAN",
    "ROT",
    "RM",
    "MODEL",
    "SERIAL",
    "SIGNATURES",
    "WIPEABLE",
];

pub(crate) fn render_table(devices: &[DeviceInfo]) -> String {
    if devices.is_empty() {
        return "No disks or attached loop devices found.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = devices.iter().map(|d| row(d).to_vec()).collect();
    let mut out = super::table::render(&HEADERS, &rows);
    out.push('\n');
    for d in devices {
        out.push_str(&details(d));
        out.push('\n');
    }
    out
}

fn row(d: &DeviceInfo) -> [String; 10] {
    let flag = |b: bool| if b { "1" } else { "0" }.to_owned();
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".to_owned());
    let sigs: Vec<&str> = d.signatures.iter().map(|s| s.type_name.as_str()).collect();
    let wipeable = if d.wipeable() {
        "yes".to_owned()
    } else {
        let reasons: Vec<String> = d.refusals.iter().map(ToString::to_string).collect();
        format!("NO: {}", reasons.join("; "))
    };
    [
        d.path.display().to_string(),
        device::human_size(d.size_bytes),
        hidden_cell(d),
        transport_name(d.transport).to_owned(),
        flag(d.rotational),
        flag(d.removable),
        dash(&d.model),
        dash(&d.serial),
        if d.signatures_unknown.is_some() {
            "unknown".to_owned()
        } else if sigs.is_empty() {
            "-".to_owned()
        } else {
            sigs.join(",")
        },
        wipeable,
    ]
}

/// `HPA!` when the drive hides sectors, `?` when it could not be asked, `-` when it hides none
/// or has no firmware to ask.
pub(super) fn hidden_cell(d: &DeviceInfo) -> String {
    match &d.hidden {
        Some(h) => match h.state {
            HiddenState::Hidden => "HPA!".to_owned(),
            HiddenState::Unknown => "?".to_owned(),
            HiddenState::None => "-".to_owned(),
        },
        None if d.firmware_unknown.is_some() => "?".to_owned(),
        None => "-".to_owned(),
    }
}

/// The firmware's own account: purge techniques and blockers, hidden sectors, health.
pub(super) fn firmware_details(d: &DeviceInfo) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(id) = &d.drive_identity {
        let differs = id.serial.is_some() && id.serial != d.serial;
        if differs || d.serial.is_none() {
            let both = [&id.model, &id.serial]
                .iter()
                .filter_map(|s| s.as_deref())
                .map(terminal_safe)
                .collect::<Vec<_>>()
                .join(" ");
            parts.push(format!("drive reports {both}"));
        }
    }
    if let Some(why) = &d.firmware_unknown {
        parts.push(format!(
            "firmware not asked ({}): purge support, hidden areas and health unknown",
            terminal_safe(why)
        ));
    }
    if let Some(s) = &d.sanitize {
        if s.techniques.is_empty() {
            parts.push("purge: none reported".to_owned());
        } else {
            let names: Vec<&str> = s.techniques.iter().map(|t| t.name()).collect();
            parts.push(format!("purge: {}", names.join(" ")));
        }
        if !s.blocked_by.is_empty() {
            let why: Vec<String> = s.blocked_by.iter().map(blocker_text).collect();
            parts.push(format!("purge blocked: {}", why.join(", ")));
        }
        for u in &s.unknown {
            parts.push(format!("unknown: {}", terminal_safe(u)));
        }
    }
    if let Some(h) = &d.hidden {
        match (h.state, h.hidden_sectors()) {
            (HiddenState::Hidden, Some(n)) => {
                let by: Vec<&str> = [(h.native_sectors, "HPA/AMA"), (h.dco_sectors, "DCO")]
                    .iter()
                    .filter(|(s, _)| s.is_some_and(|s| s > h.accessible_sectors))
                    .map(|(_, w)| *w)
                    .collect();
                parts.push(format!(
                    "HIDDEN: {n} sectors beyond the accessible {} ({})",
                    h.accessible_sectors,
                    by.join(", ")
                ))
            }
            (HiddenState::Unknown, _) => parts.push(format!(
                "hidden area unknown ({})",
                terminal_safe(&h.notes.join("; "))
            )),
            _ => {}
        }
    }
    if let Some(h) = &d.health {
        let bits = h.phrases();
        if !bits.is_empty() {
            parts.push(format!("health {}", bits.join(", ")));
        }
    }
    parts
}

fn blocker_text(b: &PurgeBlocker) -> String {
    match b {
        PurgeBlocker::SecurityFrozen => "security frozen (suspend/resume or power-cycle it)".into(),
        PurgeBlocker::SecurityLocked => "security locked".into(),
        PurgeBlocker::SecurityAttemptsExhausted => {
            "password attempts exhausted (power-cycle it)".into()
        }
        PurgeBlocker::SecurityEnabled => "a security password is set".into(),
        PurgeBlocker::SanitizeFrozen => "sanitize frozen (power-cycle it)".into(),
        PurgeBlocker::SanitizeInProgress { percent } => {
            format!("sanitize in progress ({percent}%)")
        }
        PurgeBlocker::SanitizeFailed => "the last sanitize failed".into(),
    }
}

/// What does not fit the table: stable identifiers, sector sizes, what overwriting can reach.
fn details(d: &DeviceInfo) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &d.by_id {
        parts.push(format!("by-id {}", path_safe(p)));
    }
    if let Some(v) = &d.vendor {
        parts.push(format!("vendor {}", terminal_safe(v)));
    }
    if let Some(w) = &d.wwn {
        parts.push(format!("wwn {}", terminal_safe(w)));
    }
    if let Some(f) = &d.firmware {
        parts.push(format!("firmware {}", terminal_safe(f)));
    }
    if let Some(b) = &d.backing_file {
        parts.push(format!("backing file {}", path_safe(b)));
    }
    let sectors = if d.logical_sector_size == d.physical_sector_size {
        format!("{}-byte sectors", d.logical_sector_size)
    } else {
        format!(
            "{}/{}-byte logical/physical sectors",
            d.logical_sector_size, d.physical_sector_size
        )
    };
    parts.push(sectors);
    let media = match d.media_class {
        device::MediaClass::Magnetic => "magnetic",
        device::MediaClass::Flash => "flash: overwriting is NIST Clear only",
        device::MediaClass::Virtual => "virtual",
    };
    parts.push(media.to_owned());
    parts.extend(firmware_details(d));
    format!("{}: {}", path_safe(&d.path), parts.join(", "))
}

pub(super) fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Sata => "sata",
        Transport::Ata => "ata",
        Transport::Sas => "sas",
        Transport::Scsi => "scsi",
        Transport::Nvme => "nvme",
        Transport::Usb => "usb",
        Transport::Mmc => "mmc",
        Transport::Virtio => "virtio",
        Transport::Loop => "loop",
        Transport::File => "file",
        Transport::Unknown => "-",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceKind, MediaClass, Refusal};
    use std::path::PathBuf;

    fn sample() -> DeviceInfo {
        DeviceInfo {
            path: PathBuf::from("/dev/sda"),
            name: "sda".into(),
            kind: DeviceKind::Disk,
            by_id: Some(PathBuf::from("/dev/disk/by-id/ata-ST500_Z1")),
            vendor: Some("ATA".into()),
            model: Some("ST500".into()),
            serial: Some("Z1".into()),
            wwn: None,
            firmware: Some("CC45".into()),
            size_bytes: 500_107_862_016,
            logical_sector_size: 512,
            physical_sector_size: 4096,
            transport: Transport::Sata,
            rotational: true,
            removable: false,
            read_only: false,
            media_class: MediaClass::Magnetic,
            backing_file: None,
            parent: None,
            signatures: vec![],
            signatures_unknown: None,
            refusals: vec![],
            drive_identity: None,
            sanitize: None,
            hidden: None,
            health: None,
            firmware_unknown: None,
        }
    }

    #[test]
    fn table_says_why_not_wipeable() {
        let mut d = sample();
        d.refusals.push(Refusal::Mounted {
            device: "/dev/sda1".into(),
            mountpoint: "/mnt/x".into(),
        });
        d.refusals.push(Refusal::ReadOnly {
            device: "/dev/sda".into(),
        });
        let t = render_table(&[d, sample()]);
        assert!(t.starts_with("PATH "), "{t}");
        assert!(
            t.contains("NO: /dev/sda1 is mounted at /mnt/x; /dev/sda is read-only"),
            "{t}"
        );
        assert!(t.contains("500.1 GB"), "{t}");
        assert!(t.lines().nth(2).is_some_and(|l| l.ends_with("yes")), "{t}");
        assert!(t.contains("by-id /dev/disk/by-id/ata-ST500_Z1"), "{t}");
    }

    #[test]
    fn hidden_sectors_are_marked_and_purge_techniques_listed() {
        use crate::device::drive::{
            DriveHealth, HiddenArea, HiddenState, PurgeBlocker, PurgeTechnique, SanitizeSupport,
        };
        let mut d = sample();
        d.hidden = Some(HiddenArea {
            state: HiddenState::Hidden,
            accessible_sectors: 1000,
            native_sectors: Some(1100),
            native_from: None,
            dco_sectors: None,
            notes: vec![],
        });
        d.sanitize = Some(SanitizeSupport {
            techniques: vec![
                PurgeTechnique::AtaSanitizeCrypto,
                PurgeTechnique::AtaSecurityErase { minutes: Some(60) },
            ],
            blocked_by: vec![PurgeBlocker::SecurityFrozen],
            unknown: vec![],
        });
        d.health = Some(DriveHealth {
            passed: Some(true),
            power_on_hours: Some(42),
            ..DriveHealth::default()
        });
        let mut unknown = sample();
        unknown.firmware_unknown = Some("cannot open /dev/sda".into());
        let t = render_table(&[d, unknown, sample()]);
        let rows: Vec<&str> = t.lines().collect();
        assert!(rows[0].contains(" HIDDEN "), "{t}");
        assert!(rows[1].contains(" HPA! "), "{t}");
        assert!(rows[2].contains(" ? "), "{t}");
        assert!(rows[3].contains(" - "), "{t}");
        assert!(
            t.contains("purge: ata-sanitize-crypto ata-secure-erase"),
            "{t}"
        );
        assert!(t.contains("purge blocked: security frozen"), "{t}");
        assert!(
            t.contains("HIDDEN: 100 sectors beyond the accessible 1000 (HPA/AMA)"),
            "{t}"
        );
        assert!(t.contains("health passed, 42 h"), "{t}");
        assert!(
            t.contains("firmware not asked (cannot open /dev/sda)"),
            "{t}"
        );
    }

    #[test]
    fn what_a_drive_says_about_itself_is_shown_not_run() {
        let mut d = sample();
        d.model = Some("ST500\x1b[2J".into());
        d.serial = Some("Z1\rWIPED OK".into());
        d.vendor = Some("ATA\u{202e}".into());
        d.firmware = Some("\x1b]0;title\x07".into());
        d.by_id = Some(PathBuf::from("/dev/disk/by-id/ata-\x1b[31m"));
        d.backing_file = Some(PathBuf::from("/tmp/\u{9b}2J.img"));
        let t = render_table(&[d]);
        assert!(
            !t.chars().any(|c| crate::text::is_hidden(c) && c != '\n'),
            "{t:?}"
        );
        for shown in [
            "ST500\\u{1b}[2J",
            "Z1\\rWIPED OK",
            "vendor ATA\\u{202e}",
            "firmware \\u{1b}]0;title\\u{7}",
            "by-id /dev/disk/by-id/ata-\\u{1b}[31m",
            "backing file /tmp/\\u{9b}2J.img",
        ] {
            assert!(t.contains(shown), "{shown} in {t}");
        }
    }
}
