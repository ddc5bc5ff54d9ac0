//! Current state, derived from events: where each medium is, what it is, what became of it.
//!
//! [`apply`] is the one place that knows the rules (a medium checked in must have been checked
//! out, a medium whose last wipe failed cannot be disposed of...). Appending an event runs it
//! against the stored state; `ledger verify` runs it over the whole log from scratch and compares
//! the result with the stored state, so the two can never disagree unnoticed.

use serde::{Deserialize, Serialize};

use super::event::{Event, EventData, MediumKind, Ownership};
use super::evidence::{self, EvidenceKind, EvidenceRule};

/// Where a medium is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediumStatus {
    InUse,
    InCabinet,
    CheckedOut,
    HandedOver,
    Wiped,
    Destroyed,
    ReturnedToLessor,
    Disposed,
    Lost,
}

impl MediumStatus {
    pub fn name(self) -> &'static str {
        match self {
            MediumStatus::InUse => "in_use",
            MediumStatus::InCabinet => "in_cabinet",
            MediumStatus::CheckedOut => "checked_out",
            MediumStatus::HandedOver => "handed_over",
            MediumStatus::Wiped => "wiped",
            MediumStatus::Destroyed => "destroyed",
            MediumStatus::ReturnedToLessor => "returned_to_lessor",
            MediumStatus::Disposed => "disposed",
            MediumStatus::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<MediumStatus> {
        [
            MediumStatus::InUse,
            MediumStatus::InCabinet,
            MediumStatus::CheckedOut,
            MediumStatus::HandedOver,
            MediumStatus::Wiped,
            MediumStatus::Destroyed,
            MediumStatus::ReturnedToLessor,
            MediumStatus::Disposed,
            MediumStatus::Lost,
        ]
        .into_iter()
        .find(|x| x.name() == s)
    }

    /// Its record is closed: nothing more can happen to it.
    pub fn closed(self) -> bool {
        matches!(
            self,
            MediumStatus::ReturnedToLessor | MediumStatus::Disposed
        )
    }
}

/// One medium's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Medium {
    pub asset_tag: String,
    pub kind: MediumKind,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub capacity_bytes: Option<u64>,
    pub department: Option<String>,
    pub personal_info: bool,
    pub leased: bool,
    pub lessor: Option<String>,
    pub contract: Option<String>,
    pub return_due: Option<String>,
    pub status: MediumStatus,
    /// Since when it has had that status (UTC).
    pub status_since: String,
    /// The cabinet it is in, or belongs back in when it is out.
    pub cabinet: Option<String>,
    pub slot: Option<String>,
    /// Who has it, when it is out of its cabinet.
    pub holder: Option<String>,
    /// When it is due back, if checked out with a due date.
    pub due_back: Option<String>,
    /// The latest backup on it, and the latest date until which any backup on it must be kept.
    pub backup_set: Option<String>,
    pub retention_until: Option<String>,
    pub last_wipe_status: Option<String>,
    pub last_wipe_certificate: Option<String>,
    /// Wiped with a passing certificate (and not written to since), or destroyed.
    pub sanitized: bool,
    pub registered_at: String,
    /// The last event about this medium.
    pub last_seq: u64,
    /// When that event happened (UTC): a medium's events are recorded in the order they happened.
    #[serde(default)]
    pub last_time: String,
    /// When the latest backup was written to it (UTC): an older certificate cannot vouch for it.
    #[serde(default)]
    pub last_backup_at: Option<String>,
    /// The kinds of evidence on record for it (contractor's certificate, photo, receipt), which
    /// the evidence policy may demand before a destruction, disposal or return.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<EvidenceKind>,
}

/// A cabinet's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cabinet {
    pub id: String,
    pub room: String,
    pub lockable: bool,
    pub last_inventory: Option<String>,
}

/// What [`apply`] needs to look up.
pub trait View {
    fn medium(&self, tag: &str) -> Result<Option<Medium>, super::LedgerError>;
    fn cabinet(&self, id: &str) -> Result<Option<Cabinet>, super::LedgerError>;
    /// The asset tag of a medium (not closed) with this serial number, if any.
    fn serial_owner(&self, serial: &str) -> Result<Option<String>, super::LedgerError>;
    /// The medium a certificate is already recorded for, if any.
    fn certificate_owner(&self, id: &str) -> Result<Option<String>, super::LedgerError>;
    /// When a medium was last used: the time of its newest event of a [`USE_KINDS`] kind.
    fn last_use(&self, tag: &str) -> Result<Option<String>, super::LedgerError>;
    /// The evidence policy in force: the rules of the newest `evidence_policy` event.
    fn evidence_policy(&self) -> Result<Vec<EvidenceRule>, super::LedgerError>;
}

/// The events that put a medium to use (or in someone's hands): a wipe certificate older than
/// the newest of them does not vouch for the medium as it is now.
pub const USE_KINDS: &[&str] = &[
    "registered",
    "checked_out",
    "checked_in",
    "handed_over",
    "backup_written",
];

/// How far ahead of its recording an event may be dated (clock skew between stations).
const FUTURE_SLACK: time::Duration = time::Duration::minutes(5);

/// An event's time: a real time, not before 1970, not after it was recorded.
fn check_time(event: &Event) -> Result<(), ApplyError> {
    // Times are stored in one form (RFC 3339, UTC, whole seconds): the common case, an event
    // recorded as it happened, needs no parsing beyond its year.
    let year = event.time.get(..4).and_then(|y| y.parse::<i32>().ok());
    if year.is_none_or(|y| y < 1970) {
        return reject(format!(
            "event time {:?} is not a time from 1970 on; give the real date",
            event.time
        ));
    }
    let Some(recorded) = event.recorded.as_deref() else {
        return Ok(());
    };
    match (super::parse_time(&event.time), super::parse_time(recorded)) {
        (Some(t), Some(r)) if t > r + FUTURE_SLACK => reject(format!(
            "event time {} is after it was recorded ({recorded}): the ledger records what has happened",
            event.time
        )),
        (Some(_), Some(_)) => Ok(()),
        _ => reject(format!(
            "event time {:?} or its recording time {recorded:?} is not a time",
            event.time
        )),
    }
}

/// The state an event changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Medium(Box<Medium>),
    Cabinet(Cabinet),
    Nothing,
}

/// Why an event cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub String);

fn reject<T>(msg: impl Into<String>) -> Result<T, ApplyError> {
    Err(ApplyError::Rejected(Rejection(msg.into())))
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Ledger(#[from] super::LedgerError),
}

/// Check `event` against the current state and return what it changes.
pub fn apply(view: &dyn View, event: &Event) -> Result<Change, ApplyError> {
    let time = &event.time;
    check_time(event)?;
    match &event.data {
        EventData::CabinetAdded {
            cabinet,
            room,
            lockable,
        } => {
            if cabinet.trim().is_empty() {
                return reject("a cabinet needs an id");
            }
            if view.cabinet(cabinet)?.is_some() {
                return reject(format!("cabinet {cabinet} exists already"));
            }
            Ok(Change::Cabinet(Cabinet {
                id: cabinet.clone(),
                room: room.clone(),
                lockable: *lockable,
                last_inventory: None,
            }))
        }
        EventData::InventoryChecked { cabinet, .. } => {
            let Some(mut c) = view.cabinet(cabinet)? else {
                return reject(format!(
                    "no cabinet {cabinet} in the ledger; add it with `massho cabinet add`"
                ));
            };
            c.last_inventory = Some(time.clone());
            Ok(Change::Cabinet(c))
        }
        EventData::Sealed { .. } => Ok(Change::Nothing),
        EventData::EvidencePolicy { rules } => {
            no_medium(event)?;
            for r in rules {
                if !evidence::GUARDED_EVENTS.contains(&r.event.as_str()) {
                    return reject(format!(
                        "an evidence policy guards {}, not {:?}",
                        evidence::GUARDED_EVENTS.join(", "),
                        r.event
                    ));
                }
            }
            Ok(Change::Nothing)
        }
        EventData::EvidenceTimestamped(stamp) => {
            no_medium(event)?;
            if stamp.events == 0
                || stamp.events >= event.seq
                || !evidence::is_sha256_hex(&stamp.head)
                || !evidence::is_sha256_hex(&stamp.imprint)
                || !evidence::is_sha256_hex(&stamp.token_sha256)
            {
                return reject(format!(
                    "an archive timestamp recorded as event {} must cover events before it, with SHA-256 hashes for head, imprint and token",
                    event.seq
                ));
            }
            Ok(Change::Nothing)
        }
        EventData::Registered(r) => {
            let Some(tag) = event.medium.as_deref() else {
                return reject("a registration needs an asset tag");
            };
            if tag.trim().is_empty() || tag.trim() != tag || tag.chars().any(char::is_control) {
                return reject(format!(
                    "asset tag {tag:?} is empty, has spaces around it or control characters in it"
                ));
            }
            if view.medium(tag)?.is_some() {
                return reject(format!(
                    "asset tag {tag} is registered already; choose another tag, or see `massho media show {tag}`"
                ));
            }
            if let Some(serial) = &r.serial {
                if serial.trim().is_empty()
                    || serial.trim() != serial
                    || serial.chars().any(char::is_control)
                {
                    return reject(format!(
                        "serial number {serial:?} is empty, has spaces around it or control characters in it"
                    ));
                }
                if let Some(other) = view.serial_owner(serial)? {
                    return reject(format!(
                        "serial number {serial} is registered already as {other}; one medium, one record"
                    ));
                }
            }
            let (leased, lessor, contract, return_due) = match &r.ownership {
                Ownership::Owned => (false, None, None, None),
                Ownership::Leased {
                    lessor,
                    contract,
                    return_due,
                } => (
                    true,
                    Some(lessor.clone()),
                    Some(contract.clone()),
                    return_due.clone(),
                ),
            };
            Ok(Change::Medium(Box::new(Medium {
                asset_tag: tag.to_owned(),
                kind: r.kind,
                vendor: r.vendor.clone(),
                model: r.model.clone(),
                serial: r.serial.clone(),
                capacity_bytes: r.capacity_bytes,
                department: r.department.clone(),
                personal_info: r.personal_info,
                leased,
                lessor,
                contract,
                return_due,
                status: MediumStatus::InUse,
                status_since: time.clone(),
                cabinet: None,
                slot: None,
                holder: None,
                due_back: None,
                backup_set: None,
                retention_until: None,
                last_wipe_status: None,
                last_wipe_certificate: None,
                sanitized: false,
                registered_at: time.clone(),
                last_seq: event.seq,
                last_time: time.clone(),
                last_backup_at: None,
                evidence: Vec::new(),
            })))
        }
        data => {
            let Some(tag) = event.medium.as_deref() else {
                return reject(format!("a {} event needs a medium", data.kind()));
            };
            let Some(mut m) = view.medium(tag)? else {
                return reject(format!(
                    "no medium {tag} in the ledger; register it first with `massho media register {tag} ...`"
                ));
            };
            // Evidence may arrive after the record closed: a lessor's receipt follows the return.
            let evidence_event = matches!(data, EventData::EvidenceAdded(_));
            if m.status.closed() && !evidence_event {
                return reject(format!(
                    "medium {tag} is {} since {}: its record is closed",
                    m.status.name(),
                    m.status_since
                ));
            }
            if time.as_str() < m.last_time.as_str() {
                return reject(format!(
                    "medium {tag}'s last event is dated {}; a {} dated {time} would come before it. Record a medium's events in the order they happened",
                    m.last_time,
                    data.kind()
                ));
            }
            only_what_can_follow(&m, data)?;
            let status = status_after(&m, data);
            medium_event(view, &mut m, data, time)?;
            set_status(&mut m, status, time);
            m.last_seq = event.seq;
            m.last_time = time.clone();
            Ok(Change::Medium(Box::new(m)))
        }
    }
}

/// A lost medium is found before anything else happens to it (or written off: disposed of or
/// returned with --force); a destroyed one can only be handed over, lost, disposed of or
/// returned.
fn only_what_can_follow(m: &Medium, data: &EventData) -> Result<(), ApplyError> {
    let forced = |f: &Option<String>| f.as_deref().is_some_and(|r| !r.trim().is_empty());
    if matches!(data, EventData::EvidenceAdded(_)) {
        // Keeping a document changes nothing about the medium itself.
        return Ok(());
    }
    match m.status {
        MediumStatus::Lost => match data {
            EventData::Found { .. } => Ok(()),
            EventData::Disposed { forced: f, .. } | EventData::Returned { forced: f, .. }
                if forced(f) =>
            {
                Ok(())
            }
            _ => reject(format!(
                "medium {} is lost since {}: record where it turned up with `massho media found` first (or write it off: dispose --force --reason)",
                m.asset_tag, m.status_since
            )),
        },
        MediumStatus::Destroyed => match data {
            EventData::HandedOver { .. }
            | EventData::Lost { .. }
            | EventData::Disposed { .. }
            | EventData::Returned { .. } => Ok(()),
            other => reject(format!(
                "medium {} was destroyed on {}: a {} cannot follow; only its handover (to the disposal contractor), loss, disposal or return",
                m.asset_tag,
                m.status_since,
                other.kind()
            )),
        },
        _ => Ok(()),
    }
}

fn set_status(m: &mut Medium, status: MediumStatus, time: &str) {
    if m.status != status {
        m.status = status;
        m.status_since = time.to_owned();
    }
}

fn need_cabinet(view: &dyn View, cabinet: &str) -> Result<(), ApplyError> {
    if view.cabinet(cabinet)?.is_none() {
        return reject(format!(
            "no cabinet {cabinet} in the ledger; add it with `massho cabinet add {cabinet} --room ROOM`"
        ));
    }
    Ok(())
}

/// Whether a medium may leave the organisation (disposal, return to lessor).
fn may_leave(m: &Medium, forced: &Option<String>, what: &str) -> Result<(), ApplyError> {
    let problem = match (&m.last_wipe_status, m.sanitized) {
        (Some(s), false) if s != "passed" => Some(format!(
            "its latest wipe {} ({})",
            s,
            m.last_wipe_certificate.as_deref().unwrap_or("-")
        )),
        (Some(_), false) => Some(format!(
            "nothing on record shows it sanitized since its last use: its latest wipe ({}) was not read back (--verify none), or data was written to it afterwards",
            m.last_wipe_certificate.as_deref().unwrap_or("-")
        )),
        (None, false) => Some("it has no passing wipe or destruction on record".to_owned()),
        _ => None,
    };
    match (problem, forced) {
        (None, _) => Ok(()),
        (Some(_), Some(reason)) if !reason.trim().is_empty() => Ok(()),
        (Some(p), _) => reject(format!(
            "medium {} cannot be {what}: {p}. Wipe it (massho wipe --ledger) or record its destruction first; to override, pass --force --reason TEXT",
            m.asset_tag
        )),
    }
}

/// It has left the organisation: no cabinet, no holder.
fn leave(m: &mut Medium) {
    m.cabinet = None;
    m.slot = None;
    m.holder = None;
    m.due_back = None;
}

fn medium_event(
    view: &dyn View,
    m: &mut Medium,
    data: &EventData,
    time: &str,
) -> Result<(), ApplyError> {
    match data {
        EventData::Stored { cabinet, slot } => {
            if m.status == MediumStatus::CheckedOut {
                return reject(format!(
                    "medium {} is checked out by {}; record its return with `massho media check-in`",
                    m.asset_tag,
                    m.holder.as_deref().unwrap_or("someone")
                ));
            }
            if m.status == MediumStatus::Lost {
                return reject(format!(
                    "medium {} is lost; record where it turned up with `massho media found`",
                    m.asset_tag
                ));
            }
            need_cabinet(view, cabinet)?;
            m.cabinet = Some(cabinet.clone());
            m.slot = slot.clone();
            m.holder = None;
            m.due_back = None;
        }
        EventData::CheckedOut { by, due, .. } => {
            if m.status != MediumStatus::InCabinet {
                return reject(format!(
                    "medium {} is {}, not in a cabinet: only a medium in its cabinet can be checked out",
                    m.asset_tag,
                    m.status.name()
                ));
            }
            m.holder = Some(by.clone());
            m.due_back = due.clone();
        }
        EventData::CheckedIn { cabinet, slot, .. } => {
            if m.status != MediumStatus::CheckedOut {
                return reject(format!(
                    "medium {} is {}, not checked out: there is nothing to check in",
                    m.asset_tag,
                    m.status.name()
                ));
            }
            need_cabinet(view, cabinet)?;
            m.cabinet = Some(cabinet.clone());
            m.slot = slot.clone();
            m.holder = None;
            m.due_back = None;
        }
        EventData::HandedOver { from, to, .. } => {
            if matches!(m.status, MediumStatus::InCabinet | MediumStatus::Lost) {
                return reject(format!(
                    "medium {} is {}: check it out of its cabinet (or record it found) before handing it over",
                    m.asset_tag,
                    m.status.name()
                ));
            }
            if let Some(holder) = &m.holder {
                if holder != from {
                    return reject(format!(
                        "medium {} is held by {holder}, not {from}: a handover starts from the current holder",
                        m.asset_tag
                    ));
                }
            }
            if from == to {
                return reject("a handover needs two different parties");
            }
            m.holder = Some(to.clone());
        }
        EventData::BackupWritten {
            backup_set,
            retention_until,
            ..
        } => {
            m.backup_set = Some(backup_set.clone());
            m.last_backup_at = Some(time.to_owned());
            if m.retention_until
                .as_deref()
                .is_none_or(|r| r < retention_until.as_str())
            {
                m.retention_until = Some(retention_until.clone());
            }
            // Data was written to it again.
            m.sanitized = false;
        }
        EventData::Wiped {
            certificate_id,
            status,
            issued_at,
            serial,
            verification,
            asset_tag,
            device_kind,
            ..
        } => {
            // The certificate must name this medium: its serial number, or, for a medium
            // without one, its asset tag. An image file's certificate vouches for no drive.
            // A medium registered without a serial cannot take a certificate for a drive the
            // ledger knows under another tag.
            if let (None, Some(theirs)) = (&m.serial, serial) {
                if let Some(owner) = view
                    .serial_owner(theirs)?
                    .filter(|owner| *owner != m.asset_tag)
                {
                    return reject(format!(
                        "certificate {certificate_id} is for serial number {theirs}, which belongs to medium {owner}, not to {} (registered without a serial): record it for {owner}, or check which drive was wiped",
                        m.asset_tag
                    ));
                }
            }
            match (&m.serial, serial, asset_tag) {
                (Some(ours), Some(theirs), _) if ours != theirs => {
                    return reject(format!(
                        "certificate {certificate_id} is for serial number {theirs}, but medium {} has serial {ours}",
                        m.asset_tag
                    ))
                }
                (Some(ours), None, _) => {
                    return reject(format!(
                        "certificate {certificate_id} names no serial number, and medium {} has serial {ours}: it was not issued for this medium",
                        m.asset_tag
                    ))
                }
                (None, _, Some(tag)) if *tag != m.asset_tag => {
                    return reject(format!(
                        "certificate {certificate_id} is for asset {tag}, not {}",
                        m.asset_tag
                    ))
                }
                (None, _, None) => {
                    return reject(format!(
                        "certificate {certificate_id} names neither a serial number nor asset {}: it cannot be tied to this medium",
                        m.asset_tag
                    ))
                }
                _ => {}
            }
            if issued_at.is_none() {
                return reject(format!(
                    "certificate {certificate_id} has no issue time that can be read: it cannot be placed before or after the medium's use; check the certificate"
                ));
            }
            if device_kind.as_deref() == Some("partition") {
                return reject(format!(
                    "certificate {certificate_id} is for a partition: it does not sanitize the whole medium {}",
                    m.asset_tag
                ));
            }
            if matches!(device_kind.as_deref(), Some("file" | "loop"))
                && m.kind != super::event::MediumKind::Other
            {
                return reject(format!(
                    "certificate {certificate_id} is for an image file or loop device, but medium {} is a {}: wipe the drive itself",
                    m.asset_tag,
                    m.kind.name()
                ));
            }
            if let (Some(issued), Some(when)) = (
                issued_at.as_deref().and_then(super::parse_time),
                super::parse_time(time),
            ) {
                if when + FUTURE_SLACK < issued {
                    return reject(format!(
                        "the wipe is dated {time}, before its certificate {certificate_id} was issued ({})",
                        issued_at.as_deref().unwrap_or("-")
                    ));
                }
            }
            if let Some(other) = view.certificate_owner(certificate_id)? {
                return reject(format!(
                    "certificate {certificate_id} is already recorded for medium {other}: one certificate, one medium"
                ));
            }
            if let (Some(issued), Some(backup)) = (issued_at, &m.last_backup_at) {
                if issued < backup {
                    return reject(format!(
                        "certificate {certificate_id} was issued at {issued}, before the backup written to medium {} at {backup}: it cannot vouch for that data",
                        m.asset_tag
                    ));
                }
            }
            if let (Some(issued), Some(used)) = (issued_at, view.last_use(&m.asset_tag)?) {
                if *issued < used {
                    return reject(format!(
                        "certificate {certificate_id} is stale: it was issued at {issued}, before medium {}'s last recorded use at {used} (registration, check-out or check-in, handover or backup); wipe the medium again and record that certificate",
                        m.asset_tag
                    ));
                }
            }
            m.last_wipe_status = Some(status.clone());
            m.last_wipe_certificate = Some(certificate_id.clone());
            // NIST SP 800-88: sanitization is verified. A wipe nobody read back does not count.
            m.sanitized = status == "passed" && verification.as_deref() != Some("none");
            if m.sanitized {
                // Nothing on it any more needs keeping.
                m.retention_until = None;
                m.backup_set = None;
            }
        }
        EventData::EvidenceAdded(e) => {
            if !evidence::is_sha256_hex(&e.sha256)
                || e.blobs()
                    .iter()
                    .any(|(_, sha)| !evidence::is_sha256_hex(sha))
            {
                return reject(format!(
                    "evidence for medium {} must name its files by SHA-256 (64 lower-case hex digits)",
                    m.asset_tag
                ));
            }
            if let Some(problem) = evidence::file_name_problem(&e.file_name) {
                return reject(problem);
            }
            if !m.evidence.contains(&e.evidence_kind) {
                m.evidence.push(e.evidence_kind);
            }
        }
        EventData::Destroyed {
            contractor, forced, ..
        } => {
            evidence_required(view, m, data, contractor.as_deref(), forced)?;
            // What is left of it is no longer in a cabinet, nor lent to anyone.
            m.cabinet = None;
            m.slot = None;
            m.holder = None;
            m.due_back = None;
            m.sanitized = true;
            m.retention_until = None;
            m.backup_set = None;
        }
        EventData::Returned { forced, .. } => {
            if !m.leased {
                return reject(format!(
                    "medium {} is owned, not leased: record its disposal instead",
                    m.asset_tag
                ));
            }
            may_leave(m, forced, "returned to its lessor")?;
            evidence_required(view, m, data, None, forced)?;
            leave(m);
        }
        EventData::Disposed {
            forced, contractor, ..
        } => {
            may_leave(m, forced, "disposed of")?;
            evidence_required(view, m, data, contractor.as_deref(), forced)?;
            leave(m);
        }
        EventData::Lost { .. } => {}
        EventData::Found { cabinet, slot } => {
            if m.status != MediumStatus::Lost {
                return reject(format!("medium {} is not lost", m.asset_tag));
            }
            need_cabinet(view, cabinet)?;
            m.cabinet = Some(cabinet.clone());
            m.slot = slot.clone();
            m.holder = None;
            m.due_back = None;
        }
        EventData::CabinetAdded { .. }
        | EventData::InventoryChecked { .. }
        | EventData::Sealed { .. }
        | EventData::EvidencePolicy { .. }
        | EventData::EvidenceTimestamped(_)
        | EventData::Registered(_) => {}
    }
    Ok(())
}

/// Events about the ledger as a whole name no medium.
fn no_medium(event: &Event) -> Result<(), ApplyError> {
    match &event.medium {
        Some(m) => reject(format!(
            "a {} event is about the ledger, not medium {m}",
            event.data.kind()
        )),
        None => Ok(()),
    }
}

/// The evidence policy: the evidence it demands before `data` (a destruction, disposal or
/// return) must be on record for the medium, unless overridden with --force --reason.
fn evidence_required(
    view: &dyn View,
    m: &Medium,
    data: &EventData,
    contractor: Option<&str>,
    forced: &Option<String>,
) -> Result<(), ApplyError> {
    if forced.as_deref().is_some_and(|r| !r.trim().is_empty()) {
        return Ok(());
    }
    let outsourced = contractor.is_some_and(|c| !c.trim().is_empty());
    let missing: Vec<&'static str> = view
        .evidence_policy()?
        .iter()
        .filter(|r| r.event == data.kind() && (outsourced || !r.outsourced_only))
        .map(|r| r.evidence_kind)
        .filter(|k| !m.evidence.contains(k))
        .map(EvidenceKind::name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    reject(format!(
        "medium {}: the ledger's evidence policy demands {} before it is {}, and none is on record. Store it first with `massho media evidence {} FILE --kind {}`; to override, pass --force --reason TEXT",
        m.asset_tag,
        missing.join(" and "),
        data.kind(),
        m.asset_tag,
        missing[0]
    ))
}

/// The status a medium has after `data` (given that [`medium_event`] accepted it).
fn status_after(m: &Medium, data: &EventData) -> MediumStatus {
    match data {
        EventData::Stored { .. } | EventData::CheckedIn { .. } | EventData::Found { .. } => {
            MediumStatus::InCabinet
        }
        EventData::CheckedOut { .. } => MediumStatus::CheckedOut,
        EventData::HandedOver { .. } => match m.status {
            MediumStatus::CheckedOut | MediumStatus::Destroyed => m.status,
            _ => MediumStatus::HandedOver,
        },
        // Status says where a medium is; `sanitized` whether it is. A wipe leaves a medium in
        // its cabinet or with its holder as it was; one that is neither (a drive pulled from a
        // machine) becomes `wiped` when the wipe sanitized it, and `in_use` again when a later
        // wipe did not.
        EventData::Wiped {
            status,
            verification,
            ..
        } if m.status == MediumStatus::InUse || m.status == MediumStatus::Wiped => {
            if status == "passed" && verification.as_deref() != Some("none") {
                MediumStatus::Wiped
            } else {
                MediumStatus::InUse
            }
        }
        // Written to again: in use.
        EventData::BackupWritten { .. } if m.status == MediumStatus::Wiped => MediumStatus::InUse,
        EventData::Destroyed { .. } => MediumStatus::Destroyed,
        EventData::Returned { .. } => MediumStatus::ReturnedToLessor,
        EventData::Disposed { .. } => MediumStatus::Disposed,
        EventData::Lost { .. } => MediumStatus::Lost,
        _ => m.status,
    }
}
