//! `massho wipe --ledger`: find each wiped medium in the ledger (by `--asset`, else by serial),
//! register it if it is unknown, and append a `wiped` event linked to its certificate.
//!
//! Everything that can refuse (a closed record, an asset tag that belongs to another serial, a
//! device without a serial and no tag) is checked before the first byte is written.

use std::path::Path;

use super::from_ledger;
use crate::cert::Certificate;
use crate::cli::ExitError;
use crate::device::{DeviceInfo, Transport};
use crate::ledger::{EventData, Ledger, MediumKind, NewEvent, Ownership, Registration};

/// The ledger and, per device, its asset tag and whether it must be registered first.
pub struct WipeLedger {
    ledger: Ledger,
    operator: String,
    media: Vec<Planned>,
}

struct Planned {
    tag: String,
    register: Option<Registration>,
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

impl WipeLedger {
    /// Open the ledger and decide every device's record; `assets` are the --asset tags (none,
    /// or one per device).
    pub fn prepare(
        path: &Path,
        devices: &[&DeviceInfo],
        assets: &[String],
        operator: &str,
    ) -> anyhow::Result<WipeLedger> {
        let ledger = Ledger::open(path).map_err(from_ledger)?;
        let mut media = Vec::new();
        for (i, d) in devices.iter().enumerate() {
            let serial = d.serial.as_deref().filter(|s| !s.trim().is_empty());
            let tag = match (assets.get(i), serial) {
                (Some(tag), _) => tag.clone(),
                (None, Some(serial)) => {
                    let found = ledger.media_by_serial(serial).map_err(from_ledger)?;
                    match found.iter().find(|m| !m.status.closed()) {
                        Some(m) => m.asset_tag.clone(),
                        None => serial.to_owned(),
                    }
                }
                (None, None) => {
                    return Err(ExitError::usage(format!(
                        "{} has no serial number to find it in the ledger by; give its asset tag with --asset TAG",
                        d.path.display()
                    )))
                }
            };
            let register = match ledger.medium(&tag).map_err(from_ledger)? {
                Some(m) if m.status.closed() => {
                    return Err(ExitError::refused(format!(
                        "{}: medium {tag} is {} in the ledger: its record is closed; if this is another medium, give it a new tag with --asset",
                        d.path.display(),
                        m.status.name()
                    )))
                }
                Some(m)
                    if matches!(
                        m.status,
                        crate::ledger::MediumStatus::Lost | crate::ledger::MediumStatus::Destroyed
                    ) =>
                {
                    return Err(ExitError::refused(format!(
                        "{}: medium {tag} is {} in the ledger; {}",
                        d.path.display(),
                        m.status.name(),
                        if m.status == crate::ledger::MediumStatus::Lost {
                            "record where it turned up with `massho media found` first"
                        } else {
                            "a destroyed medium is not wiped; if this is another medium, give it its own tag with --asset"
                        }
                    )))
                }
                Some(m) => {
                    let today = time::OffsetDateTime::now_utc().date().to_string();
                    if let Some(until) = m.retention_until.as_deref().filter(|u| *u >= today.as_str()) {
                        eprintln!(
                            "massho: WARNING: medium {tag} holds backup set {} that is to be kept until {until}; wiping it destroys data the retention rule says to keep",
                            m.backup_set.as_deref().unwrap_or("-")
                        );
                    }
                    match (m.serial.as_deref(), serial) {
                        (Some(a), Some(b)) if a != b => {
                            return Err(ExitError::refused(format!(
                                "{}: asset {tag} has serial {a} in the ledger, but this device's serial is {b}: is it the right device and the right tag?",
                                d.path.display()
                            )));
                        }
                        (Some(a), None) => {
                            return Err(ExitError::refused(format!(
                                "{}: asset {tag} has serial {a} in the ledger, but this device reports no serial number: its certificate could not be tied to that drive",
                                d.path.display()
                            )));
                        }
                        _ => {}
                    }
                    if matches!(d.kind, crate::device::DeviceKind::Loop | crate::device::DeviceKind::File)
                        && m.kind != MediumKind::Other
                    {
                        return Err(ExitError::refused(format!(
                            "{}: medium {tag} is a {} in the ledger; a loop device or image file cannot stand for it (its certificate would vouch for a file, not the drive)",
                            d.path.display(),
                            m.kind.name()
                        )));
                    }
                    if d.kind == crate::device::DeviceKind::Partition {
                        return Err(ExitError::refused(format!(
                            "{}: a partition's wipe does not sanitize medium {tag}; wipe the whole disk to record it",
                            d.path.display()
                        )));
                    }
                    if m.last_time > crate::ledger::now_utc() {
                        return Err(ExitError::refused(format!(
                            "{}: medium {tag}'s last event is dated {}, after now: the wipe could not be recorded after it; correct the clock or wait",
                            d.path.display(),
                            m.last_time
                        )));
                    }
                    None
                }
                None => {
                    if let Some(owner) = serial
                        .map(|sn| ledger.media_by_serial(sn))
                        .transpose()
                        .map_err(from_ledger)?
                        .and_then(|found| found.into_iter().find(|m| !m.status.closed()))
                    {
                        return Err(ExitError::refused(format!(
                            "{}: its serial number is registered as medium {}, not {tag}: give --asset {} (or no --asset)",
                            d.path.display(),
                            owner.asset_tag,
                            owner.asset_tag
                        )));
                    }
                    Some(Registration {
                    kind: kind_of(d),
                    vendor: d.vendor.clone(),
                    model: d.model.clone(),
                    serial: serial.map(str::to_owned),
                    capacity_bytes: Some(d.size_bytes),
                    department: None,
                    personal_info: false,
                    ownership: Ownership::Owned,
                })
                }
            };
            media.push(Planned { tag, register });
        }
        Ok(WipeLedger {
            ledger,
            operator: operator.to_owned(),
            media,
        })
    }

    /// The asset tag of the `index`-th device.
    pub fn asset(&self, index: usize) -> &str {
        self.media.get(index).map_or("TAG", |m| m.tag.as_str())
    }

    /// The asset tag of each device, in order (for the certificates).
    pub fn assets(&self) -> Vec<String> {
        self.media.iter().map(|m| m.tag.clone()).collect()
    }

    /// Record the `index`-th device's certificate: register the medium if it is new, then the
    /// `wiped` event, in one transaction. Returns the asset tag and the event's position.
    pub fn record(
        &mut self,
        index: usize,
        cert: &Certificate,
        bytes: &[u8],
    ) -> anyhow::Result<(String, u64)> {
        let planned = self
            .media
            .get_mut(index)
            .ok_or_else(|| anyhow::anyhow!("no ledger plan for device {index}"))?;
        let mut events = Vec::new();
        // Registered by someone else while the wipe ran: record against that registration.
        if planned.register.is_some()
            && self
                .ledger
                .medium(&planned.tag)
                .map_err(from_ledger)?
                .is_some()
        {
            planned.register = None;
        }
        if let Some(r) = planned.register.take() {
            events.push(NewEvent {
                medium: Some(planned.tag.clone()),
                actor: self.operator.clone(),
                time: None,
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
        let recorded = self.ledger.append_all(events).map_err(from_ledger)?;
        let seq = recorded.last().map_or(0, |r| r.event.seq);
        Ok((planned.tag.clone(), seq))
    }

    pub fn path(&self) -> &Path {
        self.ledger.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{sample, DeviceKind, MediaClass};
    use crate::ledger::{EventData, NewEvent, Registration};

    fn ledger() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite");
        Ledger::create_or_open(&path).unwrap();
        (dir, path)
    }

    fn register(path: &Path, tag: &str, serial: &str) {
        let mut l = Ledger::open(path).unwrap();
        l.append(NewEvent {
            medium: Some(tag.into()),
            actor: "t".into(),
            time: None,
            note: None,
            data: EventData::Registered(Registration {
                kind: MediumKind::UsbFlash,
                vendor: None,
                model: None,
                serial: Some(serial.into()),
                capacity_bytes: None,
                department: None,
                personal_info: false,
                ownership: Ownership::Owned,
            }),
        })
        .unwrap();
    }

    #[test]
    fn a_known_serial_finds_its_asset_tag_and_an_unknown_one_is_registered_under_it() {
        let (_d, path) = ledger();
        let usb = sample(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        let plan = WipeLedger::prepare(&path, &[&usb], &[], "op").unwrap();
        assert_eq!(plan.assets(), ["S123"]);
        assert_eq!(
            plan.media[0].register.as_ref().map(|r| r.kind),
            Some(MediumKind::UsbFlash)
        );
        register(&path, "USB-7", "S123");
        let plan = WipeLedger::prepare(&path, &[&usb], &[], "op").unwrap();
        assert_eq!(plan.assets(), ["USB-7"]);
        assert!(plan.media[0].register.is_none());
    }

    #[test]
    fn a_tag_with_another_serial_or_no_way_to_find_the_medium_is_refused() {
        let (_d, path) = ledger();
        register(&path, "USB-7", "OTHER");
        let usb = sample(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        let e = WipeLedger::prepare(&path, &[&usb], &["USB-7".into()], "op")
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("has serial OTHER in the ledger"),
            "{e}"
        );
        let mut anonymous = usb.clone();
        anonymous.serial = None;
        let e = WipeLedger::prepare(&path, &[&anonymous], &[], "op")
            .err()
            .unwrap();
        assert!(e.to_string().contains("--asset TAG"), "{e}");
        // A new tag for a drive whose serial another open record holds.
        register(&path, "USB-8", "S123");
        let e = WipeLedger::prepare(&path, &[&usb], &["NEW-1".into()], "op")
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("registered as medium USB-8, not NEW-1"),
            "{e}"
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
