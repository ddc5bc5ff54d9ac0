//! Ledger events: what happened to a medium or a cabinet, and how an event is hashed into the
//! chain.
//!
//! An event is stored as its *body*: one line of JSON whose exact bytes are hashed. The body is
//! produced once, by serde_json from the types below (fixed field order, no maps, no floats), and
//! never re-serialized afterwards: verification hashes the stored bytes, so a different JSON
//! library on an auditor's machine cannot change the outcome. The queryable columns next to the
//! body (kind, medium, time) are copies that verification compares with the body.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version tag of event bodies; part of every body.
pub const BODY_VERSION: u32 = 1;

/// The hash that precedes the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What kind of medium it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MediumKind {
    Hdd,
    Ssd,
    Nvme,
    #[value(alias = "usb")]
    UsbFlash,
    Sd,
    Optical,
    Tape,
    Other,
}

impl MediumKind {
    pub fn name(self) -> &'static str {
        match self {
            MediumKind::Hdd => "hdd",
            MediumKind::Ssd => "ssd",
            MediumKind::Nvme => "nvme",
            MediumKind::UsbFlash => "usb-flash",
            MediumKind::Sd => "sd",
            MediumKind::Optical => "optical",
            MediumKind::Tape => "tape",
            MediumKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<MediumKind> {
        let s = s.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        Some(match s.as_str() {
            "hdd" | "disk" | "ハードディスク" => MediumKind::Hdd,
            "ssd" => MediumKind::Ssd,
            "nvme" => MediumKind::Nvme,
            "usb-flash" | "usb" | "usbメモリ" => MediumKind::UsbFlash,
            "sd" | "sdカード" => MediumKind::Sd,
            "optical" | "cd" | "dvd" | "bd" | "光ディスク" => MediumKind::Optical,
            "tape" | "lto" | "テープ" => MediumKind::Tape,
            "other" | "その他" => MediumKind::Other,
            _ => return None,
        })
    }
}

/// Owned by the organisation, or leased (and then due back to the lessor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ownership", rename_all = "kebab-case")]
pub enum Ownership {
    Owned,
    Leased {
        lessor: String,
        contract: String,
        /// YYYY-MM-DD
        return_due: Option<String>,
    },
}

/// A medium's description at registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Serialized as `medium_kind`: `kind` names the event.
    #[serde(rename = "medium_kind")]
    pub kind: MediumKind,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub capacity_bytes: Option<u64>,
    pub department: Option<String>,
    pub personal_info: bool,
    #[serde(flatten)]
    pub ownership: Ownership,
}

/// What happened. The variant name is the event's kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventData {
    /// A cabinet (a locked place where media are kept) was set up.
    CabinetAdded {
        cabinet: String,
        room: String,
        lockable: bool,
    },
    /// A medium enters the ledger.
    Registered(Registration),
    /// Put into a cabinet (or moved between cabinets or slots).
    Stored {
        cabinet: String,
        slot: Option<String>,
    },
    /// Taken out of its cabinet by someone, for a purpose, with someone's approval.
    CheckedOut {
        by: String,
        purpose: String,
        approver: String,
        /// YYYY-MM-DD, when it should be back.
        due: Option<String>,
    },
    /// Brought back to a cabinet.
    CheckedIn {
        by: String,
        cabinet: String,
        slot: Option<String>,
    },
    /// Handed from one person or organisation to another (授受).
    HandedOver {
        from: String,
        to: String,
        purpose: String,
        /// How it travelled: in person, registered mail, courier...
        method: String,
        receipt: Option<String>,
    },
    /// A backup was written to the medium.
    BackupWritten {
        backup_set: String,
        system: String,
        generation: String,
        /// YYYY-MM-DD: keep until then, dispose after.
        retention_until: String,
    },
    /// Overwritten by massho (or another tool), proven by a certificate.
    Wiped {
        certificate_id: String,
        certificate_sha256: String,
        status: String,
        method: Option<String>,
        /// When the certificate was issued (UTC): it cannot vouch for data written later.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issued_at: Option<String>,
        /// The serial number the certificate names: it must be this medium's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serial: Option<String>,
        /// How the wipe was read back (none, last, all, sample).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verification: Option<String>,
        /// The asset tag the certificate names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        asset_tag: Option<String>,
        /// What was wiped: disk, partition, loop or file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device_kind: Option<String>,
    },
    /// Physically destroyed (shredded, degaussed, ...), usually by a contractor.
    Destroyed {
        method: String,
        contractor: Option<String>,
        certificate_file: Option<String>,
        certificate_sha256: Option<String>,
        witness: Option<String>,
        /// Set when the evidence policy was overridden, with the operator's reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        forced: Option<String>,
    },
    /// Returned to its lessor at the end of the lease.
    Returned {
        lessor: String,
        contract: String,
        receipt: Option<String>,
        /// Set when the sanitization rule was overridden, with the operator's reason.
        forced: Option<String>,
    },
    /// Disposed of (handed to a disposal contractor, recycled...).
    Disposed {
        method: String,
        contractor: Option<String>,
        receipt: Option<String>,
        forced: Option<String>,
    },
    /// Lost, or involved in an incident.
    Lost { description: String },
    /// Found again after being reported lost.
    Found {
        cabinet: String,
        slot: Option<String>,
    },
    /// A cabinet was checked against what the ledger says is in it (棚卸し).
    InventoryChecked {
        cabinet: String,
        expected: u64,
        found: u64,
        missing: Vec<String>,
        unexpected: Vec<String>,
        misplaced: Vec<String>,
    },
    /// A document received from outside (a contractor's erasure certificate, a photo of the
    /// destruction, a lessor's receipt) was put into the evidence store beside the ledger.
    EvidenceAdded(super::evidence::Evidence),
    /// The evidence the ledger demands before a destruction, disposal or return; replaces the
    /// policy before it (an empty list drops it, on the record).
    EvidencePolicy {
        rules: Vec<super::evidence::EvidenceRule>,
    },
    /// An RFC 3161 archive timestamp over the evidence and the chain up to `events`.
    EvidenceTimestamped(super::evidence::ArchiveStamp),
    /// A seal: the ledger's first `events` events ending in `head`, signed.
    Sealed {
        events: u64,
        head: String,
        key_id: String,
        /// The minisign signature over [`seal_message`].
        signature: String,
    },
}

/// Every event kind, as [`EventData::kind`] names them.
pub const KINDS: &[&str] = &[
    "cabinet_added",
    "registered",
    "stored",
    "checked_out",
    "checked_in",
    "handed_over",
    "backup_written",
    "wiped",
    "destroyed",
    "returned",
    "disposed",
    "lost",
    "found",
    "inventory_checked",
    "sealed",
    "evidence_added",
    "evidence_policy",
    "evidence_timestamped",
];

impl EventData {
    /// The `wiped` event for a massho certificate whose file holds `bytes`.
    pub fn wiped(cert: &crate::cert::Certificate, bytes: &[u8]) -> EventData {
        EventData::Wiped {
            certificate_id: cert.certificate_id.clone(),
            certificate_sha256: hex::encode(Sha256::digest(bytes)),
            status: cert.status.name().to_owned(),
            method: Some(cert.wipe.method.clone()),
            // A time that cannot be read stays absent, and the rules refuse the event.
            issued_at: super::parse_time(&cert.issued_at).and_then(super::try_utc_string),
            serial: cert.wipe.serial.clone(),
            verification: Some(cert.wipe.verify_mode.name().to_owned()),
            asset_tag: cert.asset_tag.clone(),
            device_kind: Some(device_kind_name(cert.wipe.media.kind).to_owned()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            EventData::CabinetAdded { .. } => "cabinet_added",
            EventData::Registered(_) => "registered",
            EventData::Stored { .. } => "stored",
            EventData::CheckedOut { .. } => "checked_out",
            EventData::CheckedIn { .. } => "checked_in",
            EventData::HandedOver { .. } => "handed_over",
            EventData::BackupWritten { .. } => "backup_written",
            EventData::Wiped { .. } => "wiped",
            EventData::Destroyed { .. } => "destroyed",
            EventData::Returned { .. } => "returned",
            EventData::Disposed { .. } => "disposed",
            EventData::Lost { .. } => "lost",
            EventData::Found { .. } => "found",
            EventData::InventoryChecked { .. } => "inventory_checked",
            EventData::Sealed { .. } => "sealed",
            EventData::EvidenceAdded(_) => "evidence_added",
            EventData::EvidencePolicy { .. } => "evidence_policy",
            EventData::EvidenceTimestamped(_) => "evidence_timestamped",
        }
    }

    /// The cabinet this event is about, if any (for the cabinet column).
    pub fn cabinet(&self) -> Option<&str> {
        match self {
            EventData::CabinetAdded { cabinet, .. }
            | EventData::Stored { cabinet, .. }
            | EventData::CheckedIn { cabinet, .. }
            | EventData::Found { cabinet, .. }
            | EventData::InventoryChecked { cabinet, .. } => Some(cabinet),
            _ => None,
        }
    }
}

/// One event as hashed: its body is the JSON serialization of this struct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub v: u32,
    /// Position in the ledger, from 1, without gaps.
    pub seq: u64,
    /// When it happened, UTC, RFC 3339 to the second ("2026-11-25T04:40:00Z").
    pub time: String,
    /// The local offset of the station that recorded it ("+09:00").
    pub offset: String,
    /// When it was recorded, if that differs from `time` (entries made after the fact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<String>,
    /// Who recorded it.
    pub actor: String,
    /// The medium's asset tag; none for cabinet and ledger events.
    pub medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(flatten)]
    pub data: EventData,
}

impl Event {
    /// The exact bytes that are stored and hashed. Serializing these types should not fail (no
    /// maps, no floats); if it ever does, the event is refused rather than hashed as "".
    pub fn body(&self) -> Result<String, super::LedgerError> {
        serde_json::to_string(self).map_err(|e| super::LedgerError::Serialize {
            what: format!("event {} ({})", self.seq, self.data.kind()),
            cause: e.to_string(),
        })
    }
}

/// How a certificate names what was wiped, as the `wiped` event stores it (the certificate's own
/// spelling). Spelled out, not derived from serde at run time: hashed bytes never come from a
/// fallback.
fn device_kind_name(kind: crate::device::DeviceKind) -> &'static str {
    use crate::device::DeviceKind;
    match kind {
        DeviceKind::Disk => "disk",
        DeviceKind::Partition => "partition",
        DeviceKind::Loop => "loop",
        DeviceKind::File => "file",
    }
}

/// The chain hash of an event: SHA-256 over the ledger's id, the previous hash and the body,
/// lower-case hex. The ledger id keeps events of one ledger from being spliced into another.
pub fn chain_hash(ledger_id: &str, prev: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"massho-ledger-v1\n");
    h.update(ledger_id.as_bytes());
    h.update(b"\n");
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

/// The text a seal signs: which ledger, how many events, the head hash, when (the seal event's
/// time, UTC).
pub fn seal_message(ledger_id: &str, events: u64, head: &str, time: &str) -> String {
    format!(
        "massho ledger seal v1\nledger {ledger_id}\nevents {events}\nhead {head}\ntime {time}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event {
            v: BODY_VERSION,
            seq: 1,
            time: "2026-11-25T04:40:00Z".into(),
            offset: "+09:00".into(),
            recorded: None,
            actor: "yamada".into(),
            medium: Some("USB-001".into()),
            note: None,
            data: EventData::Registered(Registration {
                kind: MediumKind::UsbFlash,
                vendor: Some("Kioxia".into()),
                model: None,
                serial: Some("S1".into()),
                capacity_bytes: Some(32_000_000_000),
                department: Some("総務課".into()),
                personal_info: true,
                ownership: Ownership::Owned,
            }),
        }
    }

    #[test]
    fn a_body_round_trips_and_names_its_kind() {
        let e = sample();
        let body = e.body().unwrap();
        assert!(body.contains(r#""kind":"registered""#), "{body}");
        assert!(body.contains(r#""ownership":"owned""#), "{body}");
        let back: Event = serde_json::from_str(&body).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.body().unwrap(), body);
    }

    #[test]
    fn the_hash_depends_on_ledger_previous_hash_and_every_byte() {
        let body = sample().body().unwrap();
        let h = chain_hash("L", GENESIS, &body);
        assert_eq!(h.len(), 64);
        assert_ne!(h, chain_hash("M", GENESIS, &body));
        assert_ne!(h, chain_hash("L", &"1".repeat(64), &body));
        assert_ne!(h, chain_hash("L", GENESIS, &body.replace("S1", "S2")));
    }

    #[test]
    fn kinds_parse_from_english_and_japanese_names() {
        assert_eq!(MediumKind::parse("USB"), Some(MediumKind::UsbFlash));
        assert_eq!(MediumKind::parse("usb_flash"), Some(MediumKind::UsbFlash));
        assert_eq!(MediumKind::parse("テープ"), Some(MediumKind::Tape));
        assert_eq!(MediumKind::parse("floppy"), None);
    }

    #[test]
    fn device_kinds_are_spelled_as_certificates_spell_them() {
        use crate::device::DeviceKind;
        for k in [
            DeviceKind::Disk,
            DeviceKind::Partition,
            DeviceKind::Loop,
            DeviceKind::File,
        ] {
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::from(device_kind_name(k))
            );
        }
    }
}
