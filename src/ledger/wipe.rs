//! The ledger's part in a wipe: before anything is written, find each device's medium (by its
//! asset tag, else by its serial number) and decide whether it may be wiped and recorded; after
//! the wipe, record the certificate exactly as it was written.
//!
//! Everything here is a decision, returned as data: a refusal or a usage error is a typed
//! [`WipeLedgerError`], a warning (a medium whose backups must still be kept) a
//! [`LedgerWarning`]. Front ends (the console's `massho wipe --ledger`, a station) print them
//! as they see fit; nothing here prints.

use std::fmt;
use std::path::{Path, PathBuf};

use super::event::{EventData, MediumKind, Ownership, Registration};
use super::state::MediumStatus;
use super::{Ledger, LedgerError, NewEvent};
use crate::cert::Certificate;
use crate::device::{DeviceInfo, DeviceKind, Transport};

/// Why a wipe cannot be recorded in the ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WipeLedgerError {
    /// The ledger's rules say no (a closed or lost record, the wrong drive for a tag): the
    /// operator must decide what the medium is.
    #[error("{}: {reason}", crate::text::path_safe(device))]
    Refused { device: PathBuf, reason: String },
    /// The command cannot say which medium a device is (no serial number and no tag).
    #[error("{}: {reason}", crate::text::path_safe(device))]
    Usage { device: PathBuf, reason: String },
    /// The ledger itself (a file that cannot be read, a rule refusing the record).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Something the operator should know before the wipe, which does not stop it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LedgerWarning {
    /// The medium holds backups whose retention date has not passed.
    RetentionNotPassed {
        device: PathBuf,
        asset_tag: String,
        backup_set: Option<String>,
        until: String,
    },
}

impl fmt::Display for LedgerWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerWarning::RetentionNotPassed {
                device,
                asset_tag,
                backup_set,
                until,
            } => write!(
                f,
                "{}: medium {} holds backup set {} that is to be kept until {until}; wiping it destroys data the retention rule says to keep",
                crate::text::path_safe(device),
                crate::text::terminal_safe(asset_tag),
                crate::text::terminal_safe(backup_set.as_deref().unwrap_or("-"))
            ),
        }
    }
}

/// The medium kind a device's identity suggests.
pub fn kind_of(d: &DeviceInfo) -> MediumKind {
    match d.transport {
        Transport::Nvme => MediumKind::Nvme,
        Transport::Mmc => MediumKind::Sd,
        Transport::Usb if !d.rotational => MediumKind::UsbFlash,
        Transport::Loop | Transport::File | Transport::Virtio => MediumKind::Other,
        _ if d.rotational => MediumKind::Hdd,
        _ => MediumKind::Ssd,
    }
}

/// The ledger and, per device, its asset tag and whether it must be registered first.
pub struct WipeRecords {
    ledger: Ledger,
    operator: String,
    media: Vec<Planned>,
    warnings: Vec<LedgerWarning>,
}

#[derive(Debug)]
struct Planned {
    tag: String,
    register: Option<Registration>,
}

impl WipeRecords {
    /// Open the ledger at `path` and decide every device's record; `assets` are the asset tags
    /// given (none, or one per device, in order). Nothing is written.
    pub fn prepare(
        path: &Path,
        devices: &[&DeviceInfo],
        assets: &[String],
        operator: &str,
    ) -> Result<WipeRecords, WipeLedgerError> {
        let ledger = Ledger::open(path)?;
        let mut media = Vec::new();
        let mut warnings = Vec::new();
        for (i, d) in devices.iter().enumerate() {
            let planned = plan(&ledger, d, assets.get(i), &mut warnings)?;
            media.push(planned);
        }
        Ok(WipeRecords {
            ledger,
            operator: operator.to_owned(),
            media,
            warnings,
        })
    }

    /// What the operator should know before the wipe.
    pub fn warnings(&self) -> &[LedgerWarning] {
        &self.warnings
    }

    /// The asset tag of the `index`-th device.
    pub fn asset(&self, index: usize) -> Option<&str> {
        self.media.get(index).map(|m| m.tag.as_str())
    }

    /// The asset tag of each device, in order (for the certificates).
    pub fn assets(&self) -> Vec<String> {
        self.media.iter().map(|m| m.tag.clone()).collect()
    }

    pub fn path(&self) -> &Path {
        self.ledger.path()
    }

    /// Record the `index`-th device's certificate, `bytes` being its JSON exactly as written
    /// (their SHA-256 is what the ledger keeps): register the medium if it is new, then the
    /// `wiped` event, in one transaction. Returns the asset tag and the event's position.
    pub fn record(
        &mut self,
        index: usize,
        cert: &Certificate,
        bytes: &[u8],
    ) -> Result<(String, u64), WipeLedgerError> {
        let Some(planned) = self.media.get_mut(index) else {
            return Err(WipeLedgerError::Usage {
                device: PathBuf::from(format!("device #{index}")),
                reason: "was not prepared for the ledger".into(),
            });
        };
        // Registered by someone else while the wipe ran: record against that registration.
        if planned.register.is_some() && self.ledger.medium(&planned.tag)?.is_some() {
            planned.register = None;
        }
        let mut events = Vec::new();
        if let Some(r) = planned.register.take() {
            events.push(NewEvent {
                medium: Some(planned.tag.clone()),
                actor: self.operator.clone(),
                // Registered as of the certificate: a certificate older than a medium's
                // registration would be stale.
                time: super::parse_time(&cert.issued_at),
                note: Some("registered by massho wipe".into()),
                data: EventData::Registered(r),
            });
        }
        events.push(NewEvent {
            medium: Some(planned.tag.clone()),
            actor: self.operator.clone(),
            time: None,
            note: None,
            data: EventData::wiped(cert, bytes),
        });
        let recorded = self.ledger.append_all(events)?;
        let seq = recorded.last().map_or(0, |r| r.event.seq);
        Ok((planned.tag.clone(), seq))
    }
}

/// One device's medium: its tag, and its registration if the ledger does not know it.
fn plan(
    ledger: &Ledger,
    d: &DeviceInfo,
    asset: Option<&String>,
    warnings: &mut Vec<LedgerWarning>,
) -> Result<Planned, WipeLedgerError> {
    let refuse = |reason: String| WipeLedgerError::Refused {
        device: d.path.clone(),
        reason,
    };
    let serial = d.serial.as_deref().filter(|s| !s.trim().is_empty());
    let tag = match (asset, serial) {
        (Some(tag), _) => tag.clone(),
        (None, Some(serial)) => {
            let found = ledger.media_by_serial(serial)?;
            match found.iter().find(|m| !m.status.closed()) {
                Some(m) => m.asset_tag.clone(),
                None => serial.to_owned(),
            }
        }
        (None, None) => {
            return Err(WipeLedgerError::Usage {
                device: d.path.clone(),
                reason: "it has no serial number to find it in the ledger by; give its asset tag with --asset TAG".into(),
            })
        }
    };
    let Some(m) = ledger.medium(&tag)? else {
        if let Some(serial) = serial {
            let found = ledger.media_by_serial(serial)?;
            if let Some(owner) = found.into_iter().find(|m| !m.status.closed()) {
                return Err(refuse(format!(
                    "its serial number is registered as medium {}, not {tag}: give --asset {} (or no --asset)",
                    owner.asset_tag, owner.asset_tag
                )));
            }
        }
        let register = Registration {
            kind: kind_of(d),
            vendor: d.vendor.clone(),
            model: d.model.clone(),
            serial: serial.map(str::to_owned),
            capacity_bytes: Some(d.size_bytes),
            department: None,
            personal_info: false,
            ownership: Ownership::Owned,
        };
        return Ok(Planned {
            tag,
            register: Some(register),
        });
    };
    match m.status {
        s if s.closed() => {
            return Err(refuse(format!(
                "medium {tag} is {} in the ledger: its record is closed; if this is another medium, give it a new tag with --asset",
                s.name()
            )))
        }
        MediumStatus::Lost => {
            return Err(refuse(format!(
                "medium {tag} is lost in the ledger; record where it turned up with `massho media found` first"
            )))
        }
        MediumStatus::Destroyed => {
            return Err(refuse(format!(
                "medium {tag} is destroyed in the ledger; a destroyed medium is not wiped; if this is another medium, give it its own tag with --asset"
            )))
        }
        _ => {}
    }
    match (m.serial.as_deref(), serial) {
        (Some(a), Some(b)) if a != b => {
            return Err(refuse(format!(
                "asset {tag} has serial {a} in the ledger, but this device's serial is {b}: is it the right device and the right tag?"
            )));
        }
        (Some(a), None) => {
            return Err(refuse(format!(
                "asset {tag} has serial {a} in the ledger, but this device reports no serial number: its certificate could not be tied to that drive"
            )));
        }
        (None, Some(b)) => {
            if let Some(owner) = ledger
                .media_by_serial(b)?
                .into_iter()
                .find(|o| !o.status.closed() && o.asset_tag != tag)
            {
                return Err(refuse(format!(
                    "this device's serial number {b} is registered as medium {}, and asset {tag} has no serial: give --asset {}",
                    owner.asset_tag, owner.asset_tag
                )));
            }
        }
        _ => {}
    }
    if matches!(d.kind, DeviceKind::Loop | DeviceKind::File) && m.kind != MediumKind::Other {
        return Err(refuse(format!(
            "medium {tag} is a {} in the ledger; a loop device or image file cannot stand for it (its certificate would vouch for a file, not the drive)",
            m.kind.name()
        )));
    }
    if d.kind == DeviceKind::Partition {
        return Err(refuse(format!(
            "a partition's wipe does not sanitize medium {tag}; wipe the whole disk to record it"
        )));
    }
    if m.last_time > super::now_utc() {
        return Err(refuse(format!(
            "medium {tag}'s last event is dated {}, after now: the wipe could not be recorded after it; correct the clock or wait",
            m.last_time
        )));
    }
    let today = time::OffsetDateTime::now_utc().date().to_string();
    if let Some(until) = m
        .retention_until
        .as_deref()
        .filter(|u| *u >= today.as_str())
    {
        warnings.push(LedgerWarning::RetentionNotPassed {
            device: d.path.clone(),
            asset_tag: tag.clone(),
            backup_set: m.backup_set.clone(),
            until: until.to_owned(),
        });
    }
    Ok(Planned {
        tag,
        register: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{sample, MediaClass};

    fn ledger() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite");
        Ledger::create_or_open(&path).unwrap();
        (dir, path)
    }

    fn append(path: &Path, tag: &str, data: EventData) {
        let mut l = Ledger::open(path).unwrap();
        l.append(NewEvent {
            medium: Some(tag.into()),
            actor: "t".into(),
            time: None,
            note: None,
            data,
        })
        .unwrap();
    }

    fn register(path: &Path, tag: &str, serial: &str) {
        append(
            path,
            tag,
            EventData::Registered(Registration {
                kind: MediumKind::UsbFlash,
                vendor: None,
                model: None,
                serial: Some(serial.into()),
                capacity_bytes: None,
                department: None,
                personal_info: false,
                ownership: Ownership::Owned,
            }),
        );
    }

    #[test]
    fn a_known_serial_finds_its_asset_tag_and_an_unknown_one_is_registered_under_it() {
        let (_d, path) = ledger();
        let usb = sample(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        let plan = WipeRecords::prepare(&path, &[&usb], &[], "op").unwrap();
        assert_eq!(plan.assets(), ["S123"]);
        assert_eq!(
            plan.media[0].register.as_ref().map(|r| r.kind),
            Some(MediumKind::UsbFlash)
        );
        register(&path, "USB-7", "S123");
        let plan = WipeRecords::prepare(&path, &[&usb], &[], "op").unwrap();
        assert_eq!(plan.assets(), ["USB-7"]);
        assert!(plan.media[0].register.is_none());
    }

    #[test]
    fn refusals_and_usage_errors_are_typed() {
        let (_d, path) = ledger();
        register(&path, "USB-7", "OTHER");
        let usb = sample(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        let e = WipeRecords::prepare(&path, &[&usb], &["USB-7".into()], "op")
            .err()
            .unwrap();
        assert!(
            matches!(&e, WipeLedgerError::Refused { reason, .. } if reason.contains("has serial OTHER in the ledger")),
            "{e}"
        );
        let mut anonymous = usb.clone();
        anonymous.serial = None;
        let e = WipeRecords::prepare(&path, &[&anonymous], &[], "op")
            .err()
            .unwrap();
        assert!(
            matches!(&e, WipeLedgerError::Usage { reason, .. } if reason.contains("--asset TAG")),
            "{e}"
        );
        // A new tag for a drive whose serial another open record holds.
        register(&path, "USB-8", "S123");
        let e = WipeRecords::prepare(&path, &[&usb], &["NEW-1".into()], "op")
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("registered as medium USB-8, not NEW-1"),
            "{e}"
        );
    }

    #[test]
    fn a_retention_date_ahead_is_a_warning_returned_not_printed() {
        let (_d, path) = ledger();
        register(&path, "USB-7", "S123");
        append(
            &path,
            "USB-7",
            EventData::BackupWritten {
                backup_set: "nightly".into(),
                system: "erp".into(),
                generation: "1".into(),
                retention_until: "2999-12-31".into(),
            },
        );
        let usb = sample(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        let plan = WipeRecords::prepare(&path, &[&usb], &[], "op").unwrap();
        assert_eq!(
            plan.warnings(),
            [LedgerWarning::RetentionNotPassed {
                device: usb.path.clone(),
                asset_tag: "USB-7".into(),
                backup_set: Some("nightly".into()),
                until: "2999-12-31".into(),
            }]
        );
        assert!(plan.warnings()[0]
            .to_string()
            .contains("kept until 2999-12-31"));
    }

    /// The shipped example certificate, made out for `serial` and `tag`, issued now.
    fn certificate(serial: &str, tag: &str) -> Certificate {
        let example = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("certs/examples/74b4cc29-289e-4bf3-8975-d1d920ef0aeb.json");
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(example).unwrap()).unwrap();
        v["asset_tag"] = tag.into();
        v["wipe"]["serial"] = serial.into();
        v["wipe"]["media"]["serial"] = serial.into();
        v["wipe"]["media"]["kind"] = "disk".into();
        v["issued_at"] = crate::ledger::now_utc().into();
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn record_hashes_the_bytes_it_is_given_and_reads_no_file() {
        use sha2::Digest;
        let (_d, path) = ledger();
        let usb = sample(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        let mut plan = WipeRecords::prepare(&path, &[&usb], &[], "op").unwrap();
        let cert = certificate("S123", "S123");
        let bytes = b"{\"the certificate\": \"exactly as written\"}\n";
        let (tag, seq) = plan.record(0, &cert, bytes).unwrap();
        assert_eq!((tag.as_str(), seq), ("S123", 2));
        let ledger = Ledger::open(&path).unwrap();
        let history = ledger.history("S123").unwrap();
        match &history[1].data {
            EventData::Wiped {
                certificate_sha256, ..
            } => assert_eq!(
                *certificate_sha256,
                hex::encode(sha2::Sha256::digest(bytes))
            ),
            other => panic!("not a wipe: {other:?}"),
        }
        // Registered as of the certificate, so the certificate is not older than the medium.
        assert_eq!(
            history[0].time,
            crate::ledger::utc_string(crate::ledger::parse_time(&cert.issued_at).unwrap())
        );
    }

    #[test]
    fn kinds_follow_the_transport() {
        let mut d = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        d.rotational = true;
        assert_eq!(kind_of(&d), MediumKind::Hdd);
        d.rotational = false;
        assert_eq!(kind_of(&d), MediumKind::Ssd);
        d.transport = Transport::Nvme;
        assert_eq!(kind_of(&d), MediumKind::Nvme);
        d.transport = Transport::Mmc;
        assert_eq!(kind_of(&d), MediumKind::Sd);
    }
}
