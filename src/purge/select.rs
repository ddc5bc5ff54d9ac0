//! Which firmware technique a step uses on a given drive, decided before anything is written.
//!
//! `purge` takes the strongest technique the drive reports and nothing blocks, in this order
//! (docs/firmware.md, "Why this order"):
//!
//! 1. **crypto erase** (NVMe/ATA/SCSI sanitize crypto, then NVMe Format SES=2): the drive
//!    replaces its media encryption key, so every copy of every block — spare, remapped and
//!    over-provisioned included — becomes unreadable at once, in seconds, without wear;
//! 2. **block erase** (sanitize block erase): every physical block, spare included, is erased;
//! 3. **NVMe Format user-data erase** (SES=1): its reach is the namespace's user data as the
//!    vendor defines it, and it is not resumed after a power loss as a sanitize is;
//! 4. **overwrite sanitize**: reaches spare blocks too but takes as long as an overwrite and
//!    wears flash;
//! 5. **ATA SECURITY ERASE UNIT**, enhanced then normal: the oldest mechanism, blocking for
//!    hours, with a password that a failure can leave set, and (normal mode) a reach limited to
//!    user-addressable sectors on many drives.
//!
//! A technique is refused, never silently replaced, when the drive does not report it, when a
//! state blocks it (frozen, locked, a sanitize running or failed), or, for the security erase,
//! when a USB bridge stands between massho and the drive (unless the operator allows it).

use crate::device::drive::{PurgeBlocker, PurgeTechnique};
use crate::device::{DeviceInfo, Transport};

/// What a method's firmware step asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// The strongest technique this drive supports.
    Purge,
    /// Exactly this technique.
    Technique(PurgeTechnique),
}

impl Requested {
    pub fn name(self) -> &'static str {
        match self {
            Requested::Purge => "purge",
            Requested::Technique(t) => t.name(),
        }
    }
}

/// Every technique by name, for method files and `massho methods`.
pub const TECHNIQUES: [PurgeTechnique; 13] = [
    PurgeTechnique::NvmeSanitizeCrypto,
    PurgeTechnique::AtaSanitizeCrypto,
    PurgeTechnique::ScsiSanitizeCrypto,
    PurgeTechnique::NvmeFormatCrypto,
    PurgeTechnique::NvmeSanitizeBlock,
    PurgeTechnique::AtaSanitizeBlock,
    PurgeTechnique::ScsiSanitizeBlock,
    PurgeTechnique::NvmeFormatUserData,
    PurgeTechnique::NvmeSanitizeOverwrite,
    PurgeTechnique::AtaSanitizeOverwrite,
    PurgeTechnique::ScsiSanitizeOverwrite,
    PurgeTechnique::AtaSecurityEraseEnhanced { minutes: None },
    PurgeTechnique::AtaSecurityErase { minutes: None },
];

/// The technique named `name` (`nvme-sanitize-crypto`), if any.
pub fn technique_named(name: &str) -> Option<PurgeTechnique> {
    TECHNIQUES.iter().copied().find(|t| t.name() == name)
}

/// Rank in the `purge` order above (lower is stronger).
fn rank(t: PurgeTechnique) -> usize {
    TECHNIQUES
        .iter()
        .position(|k| k.name() == t.name())
        .unwrap_or(TECHNIQUES.len())
}

/// One line a technique's family gets in descriptions.
pub fn describe(t: PurgeTechnique) -> &'static str {
    match t {
        PurgeTechnique::NvmeSanitizeCrypto => "NVMe Sanitize, crypto erase: the drive replaces its media encryption key",
        PurgeTechnique::NvmeSanitizeBlock => "NVMe Sanitize, block erase: every physical block, spare included, is erased",
        PurgeTechnique::NvmeSanitizeOverwrite => "NVMe Sanitize, overwrite: the drive overwrites all media, spare included, with zeros",
        PurgeTechnique::NvmeFormatCrypto => "NVMe Format NVM with SES=2: cryptographic erase of the namespace",
        PurgeTechnique::NvmeFormatUserData => "NVMe Format NVM with SES=1: user data erase of the namespace",
        PurgeTechnique::AtaSanitizeCrypto => "ATA SANITIZE, CRYPTO SCRAMBLE: the drive replaces its encryption key",
        PurgeTechnique::AtaSanitizeBlock => "ATA SANITIZE, BLOCK ERASE: every physical block, spare included, is erased",
        PurgeTechnique::AtaSanitizeOverwrite => "ATA SANITIZE, OVERWRITE: the drive overwrites all media, spare included, with zeros",
        PurgeTechnique::AtaSecurityErase { .. } => "ATA SECURITY ERASE UNIT, normal: user data areas written with zeros or ones (massho sets and removes a temporary password)",
        PurgeTechnique::AtaSecurityEraseEnhanced { .. } => "ATA SECURITY ERASE UNIT, enhanced: all user data areas including reallocated sectors, with a vendor pattern",
        PurgeTechnique::ScsiSanitizeCrypto => "SCSI SANITIZE, CRYPTOGRAPHIC ERASE",
        PurgeTechnique::ScsiSanitizeBlock => "SCSI SANITIZE, BLOCK ERASE",
        PurgeTechnique::ScsiSanitizeOverwrite => "SCSI SANITIZE, OVERWRITE with zeros",
    }
}

fn is_security_erase(t: PurgeTechnique) -> bool {
    matches!(
        t,
        PurgeTechnique::AtaSecurityErase { .. } | PurgeTechnique::AtaSecurityEraseEnhanced { .. }
    )
}

fn is_ata_sanitize(t: PurgeTechnique) -> bool {
    matches!(
        t,
        PurgeTechnique::AtaSanitizeCrypto
            | PurgeTechnique::AtaSanitizeBlock
            | PurgeTechnique::AtaSanitizeOverwrite
    )
}

/// Whether `blocker` stops `t`, and what the operator can do about it.
fn blocks(blocker: PurgeBlocker, t: PurgeTechnique) -> Option<&'static str> {
    match blocker {
        PurgeBlocker::SecurityFrozen if is_security_erase(t) => Some(
            "ATA security is frozen (usually by the BIOS at boot): run `massho unfreeze` (a suspend-to-RAM and resume cycle), or hot-plug the drive after boot",
        ),
        PurgeBlocker::SecurityLocked if is_security_erase(t) || is_ata_sanitize(t) => Some(
            "the drive is locked with a password: if massho set it, run `massho unlock DEVICE`; otherwise unlock it with its owner's password (hdparm --security-unlock)",
        ),
        PurgeBlocker::SecurityAttemptsExhausted if is_security_erase(t) => {
            Some("too many wrong passwords were tried: power-cycle the drive")
        }
        PurgeBlocker::SecurityEnabled if is_security_erase(t) => Some(
            "a user password is already set and massho does not know it: remove it with its owner's password first",
        ),
        PurgeBlocker::SanitizeFrozen if is_ata_sanitize(t) => {
            Some("SANITIZE FREEZE LOCK was issued: power-cycle the drive")
        }
        PurgeBlocker::SanitizeInProgress { .. } => Some(
            "a sanitize is already running in the drive: wait for it to finish (`massho devices` shows its progress)",
        ),
        PurgeBlocker::SanitizeFailed if !is_security_erase(t) => Some(
            "the drive's last sanitize failed: it must complete a new sanitize; massho will not start one over an unexplained failure — check the drive's health first",
        ),
        _ => None,
    }
}

fn blocker_name(b: PurgeBlocker) -> String {
    match b {
        PurgeBlocker::SecurityFrozen => "security frozen".into(),
        PurgeBlocker::SecurityLocked => "security locked".into(),
        PurgeBlocker::SecurityAttemptsExhausted => "password attempts exhausted".into(),
        PurgeBlocker::SecurityEnabled => "a user password is set".into(),
        PurgeBlocker::SanitizeFrozen => "sanitize frozen".into(),
        PurgeBlocker::SanitizeInProgress { percent } => {
            format!("sanitize in progress ({percent}%)")
        }
        PurgeBlocker::SanitizeFailed => "last sanitize failed".into(),
    }
}

/// Why a firmware step cannot run on a drive. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{device}: {why}. Alternatives: an overwrite (`-m nist-clear`) reaches only the user-addressable sectors, which is NIST SP 800-88 Clear; for Purge, {remedy}")]
pub struct Refused {
    pub device: String,
    pub why: String,
    pub remedy: String,
}

/// The technique `requested` uses on `device`, and why; refused before anything is written.
pub fn choose(
    device: &DeviceInfo,
    requested: Requested,
    allow_bridge: bool,
) -> Result<(PurgeTechnique, String), Refused> {
    let name = crate::text::path_safe(&device.path).to_string();
    let refuse = |why: String, remedy: &str| Refused {
        device: name.clone(),
        why,
        remedy: remedy.to_owned(),
    };
    let destroy = "destroy the medium (shred, disintegrate, or have a certified destruction service do it and keep their certificate with `massho media evidence`)";
    let Some(support) = &device.sanitize else {
        let why = match &device.firmware_unknown {
            Some(reason) => format!(
                "{} was asked for, but the drive's firmware could not be asked which purge techniques it supports ({reason})",
                requested.name()
            ),
            None => format!(
                "{} was asked for, but this {} has no firmware purge massho can reach",
                requested.name(),
                format!("{:?}", device.transport).to_lowercase()
            ),
        };
        return Err(refuse(why, destroy));
    };
    let mut offered: Vec<PurgeTechnique> = support.techniques.clone();
    offered.sort_by_key(|t| rank(*t));
    let candidates: Vec<PurgeTechnique> = match requested {
        Requested::Purge => offered.clone(),
        Requested::Technique(want) => match offered.iter().find(|t| t.name() == want.name()) {
            Some(t) => vec![*t],
            None => {
                let have: Vec<&str> = offered.iter().map(|t| t.name()).collect();
                let why = if have.is_empty() {
                    format!(
                        "{} was asked for, but the drive reports no firmware purge technique",
                        want.name()
                    )
                } else {
                    format!(
                        "{} was asked for, but the drive does not report it; it reports {}",
                        want.name(),
                        have.join(", ")
                    )
                };
                let remedy = if have.is_empty() {
                    destroy.to_owned()
                } else {
                    format!(
                        "use `-m purge` (picks {}) or one of the techniques it reports",
                        have[0]
                    )
                };
                return Err(refuse(why, &remedy));
            }
        },
    };
    if candidates.is_empty() {
        return Err(refuse(
            "purge was asked for, but the drive reports no firmware purge technique".into(),
            destroy,
        ));
    }
    let mut stopped: Vec<String> = Vec::new();
    for t in candidates {
        let blocked: Vec<(PurgeBlocker, &str)> = support
            .blocked_by
            .iter()
            .filter_map(|b| blocks(*b, t).map(|fix| (*b, fix)))
            .collect();
        if let Some((b, fix)) = blocked.first() {
            stopped.push(format!("{}: {} ({fix})", t.name(), blocker_name(*b)));
            continue;
        }
        if is_security_erase(t) && device.transport == Transport::Usb && !allow_bridge {
            stopped.push(format!(
                "{}: the drive sits behind a USB bridge, which times out long commands and can leave the drive locked (connect it to SATA, or pass --allow-bridge to take the risk)",
                t.name()
            ));
            continue;
        }
        let reason = match requested {
            Requested::Purge => {
                let others: Vec<&str> = offered
                    .iter()
                    .filter(|o| o.name() != t.name())
                    .map(|o| o.name())
                    .collect();
                let mut r = format!("the strongest technique the drive reports: {}", describe(t));
                if !others.is_empty() {
                    r.push_str(&format!("; it also reports {}", others.join(", ")));
                }
                if !stopped.is_empty() {
                    r.push_str(&format!("; passed over: {}", stopped.join("; ")));
                }
                r
            }
            Requested::Technique(_) => format!("as the method asks: {}", describe(t)),
        };
        return Ok((t, reason));
    }
    Err(refuse(
        format!(
            "{} cannot run now: {}",
            requested.name(),
            stopped.join("; ")
        ),
        "clear the state named above and run massho again, or destroy the medium",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::drive::SanitizeSupport;
    use crate::device::{DeviceKind, MediaClass};

    fn drive(
        transport: Transport,
        techniques: Vec<PurgeTechnique>,
        blocked: Vec<PurgeBlocker>,
    ) -> DeviceInfo {
        let mut d = crate::device::sample(DeviceKind::Disk, transport, MediaClass::Flash);
        d.sanitize = Some(SanitizeSupport {
            techniques,
            blocked_by: blocked,
            unknown: Vec::new(),
        });
        d
    }

    #[test]
    fn purge_prefers_crypto_then_block_then_format_then_overwrite_then_security_erase() {
        let all = vec![
            PurgeTechnique::AtaSecurityErase { minutes: Some(2) },
            PurgeTechnique::NvmeFormatUserData,
            PurgeTechnique::NvmeSanitizeOverwrite,
            PurgeTechnique::NvmeSanitizeBlock,
            PurgeTechnique::NvmeFormatCrypto,
            PurgeTechnique::NvmeSanitizeCrypto,
        ];
        let mut pool = all.clone();
        let mut order = Vec::new();
        while !pool.is_empty() {
            let (t, _) = choose(
                &drive(Transport::Nvme, pool.clone(), vec![]),
                Requested::Purge,
                false,
            )
            .unwrap();
            order.push(t.name());
            pool.retain(|p| p.name() != t.name());
        }
        assert_eq!(
            order,
            [
                "nvme-sanitize-crypto",
                "nvme-format-crypto",
                "nvme-sanitize-block",
                "nvme-format-user-data",
                "nvme-sanitize-overwrite",
                "ata-secure-erase"
            ]
        );
    }

    #[test]
    fn a_drive_with_nothing_is_refused_naming_clear_and_destruction() {
        let e = choose(
            &drive(Transport::Sata, vec![], vec![]),
            Requested::Purge,
            false,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("no firmware purge technique"), "{text}");
        assert!(text.contains("NIST SP 800-88 Clear"), "{text}");
        assert!(text.contains("destroy the medium"), "{text}");
        let mut unknown = drive(Transport::Sata, vec![], vec![]);
        unknown.sanitize = None;
        unknown.firmware_unknown = Some("SG_IO: permission denied".into());
        let text = choose(&unknown, Requested::Purge, false)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("could not be asked") && text.contains("permission denied"),
            "{text}"
        );
    }

    #[test]
    fn a_technique_the_drive_lacks_is_refused_naming_what_it_has() {
        let d = drive(
            Transport::Nvme,
            vec![PurgeTechnique::NvmeFormatUserData],
            vec![],
        );
        let e = choose(
            &d,
            Requested::Technique(PurgeTechnique::NvmeFormatCrypto),
            false,
        )
        .unwrap_err();
        assert!(e.why.contains("reports nvme-format-user-data"), "{e}");
        assert!(e.remedy.contains("-m purge"), "{e}");
    }

    #[test]
    fn blockers_pass_over_the_techniques_they_block_and_refuse_when_all_are_blocked() {
        let d = drive(
            Transport::Sata,
            vec![
                PurgeTechnique::AtaSanitizeBlock,
                PurgeTechnique::AtaSecurityErase { minutes: None },
            ],
            vec![PurgeBlocker::SanitizeFrozen],
        );
        let (t, why) = choose(&d, Requested::Purge, false).unwrap();
        assert_eq!(t.name(), "ata-secure-erase");
        assert!(
            why.contains("passed over: ata-sanitize-block: sanitize frozen"),
            "{why}"
        );
        let frozen = drive(
            Transport::Sata,
            vec![PurgeTechnique::AtaSecurityErase { minutes: None }],
            vec![PurgeBlocker::SecurityFrozen],
        );
        let e = choose(&frozen, Requested::Purge, false).unwrap_err();
        assert!(e.why.contains("massho unfreeze"), "{e}");
    }

    #[test]
    fn security_erase_behind_a_usb_bridge_needs_allow_bridge() {
        let d = drive(
            Transport::Usb,
            vec![PurgeTechnique::AtaSecurityErase { minutes: None }],
            vec![],
        );
        let e = choose(&d, Requested::Purge, false).unwrap_err();
        assert!(e.why.contains("--allow-bridge"), "{e}");
        assert!(choose(&d, Requested::Purge, true).is_ok());
    }

    #[test]
    fn every_technique_has_a_distinct_name_that_resolves() {
        for t in TECHNIQUES {
            assert_eq!(technique_named(t.name()).map(|k| k.name()), Some(t.name()));
        }
        let mut names: Vec<_> = TECHNIQUES.iter().map(|t| t.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TECHNIQUES.len());
    }
}
