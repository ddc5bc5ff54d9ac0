//! The reports an auditor asks for, answered from the derived state's indexed columns (media
//! out, backups past retention, leases due, cabinet contents) or the events' kind/time index
//! (disposal register, a medium's history).

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::event::{Event, EventData};
use super::state::{Medium, MediumStatus};
use super::{Ledger, LedgerError};

/// A medium out of its cabinet.
#[derive(Debug, Clone, Serialize)]
pub struct Out {
    pub asset_tag: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub holder: Option<String>,
    pub since: String,
    pub days_out: i64,
    pub due_back: Option<String>,
    pub overdue: bool,
    pub cabinet: Option<String>,
    pub personal_info: bool,
}

/// Whole days from a stored UTC time to a date.
fn days_between(since: &str, as_of: time::Date) -> i64 {
    super::parse_time(since)
        .map(|t| (as_of - t.date()).whole_days())
        .unwrap_or(0)
}

/// Media checked out or handed over (out of their cabinet), longest out first.
pub fn out_of_cabinet(ledger: &Ledger, as_of: time::Date) -> Result<Vec<Out>, LedgerError> {
    let day = as_of.to_string();
    let mut rows: Vec<Out> = ledger
        .media_where("status IN ('checked_out', 'handed_over')", &[])?
        .into_iter()
        .map(|m| Out {
            days_out: days_between(&m.status_since, as_of),
            overdue: m.due_back.as_deref().is_some_and(|d| d < day.as_str()),
            kind: m.kind.name(),
            status: m.status.name(),
            asset_tag: m.asset_tag,
            holder: m.holder,
            since: m.status_since,
            due_back: m.due_back,
            cabinet: m.cabinet,
            personal_info: m.personal_info,
        })
        .collect();
    rows.sort_by(|a, b| a.since.cmp(&b.since).then(a.asset_tag.cmp(&b.asset_tag)));
    Ok(rows)
}

/// A medium whose backups are past retention.
#[derive(Debug, Clone, Serialize)]
pub struct Expired {
    pub asset_tag: String,
    pub kind: &'static str,
    pub backup_set: Option<String>,
    pub retention_until: String,
    pub days_past: i64,
    pub status: &'static str,
    pub cabinet: Option<String>,
    pub personal_info: bool,
}

/// Media holding backups kept past their retention date (due to be made unrecoverable),
/// oldest first. A wipe or destruction clears the retention.
pub fn past_retention(ledger: &Ledger, as_of: time::Date) -> Result<Vec<Expired>, LedgerError> {
    let day = as_of.to_string();
    let mut rows: Vec<Expired> = ledger
        .media_where(
            "retention_until IS NOT NULL AND retention_until < ?1",
            &[&day],
        )?
        .into_iter()
        .filter(|m| !m.status.closed())
        .filter_map(|m| {
            let until = m.retention_until.clone()?;
            let days_past = super::parse_date(&until)
                .map(|d| (as_of - d).whole_days())
                .unwrap_or(0);
            Some(Expired {
                kind: m.kind.name(),
                status: m.status.name(),
                asset_tag: m.asset_tag,
                backup_set: m.backup_set,
                retention_until: until,
                days_past,
                cabinet: m.cabinet,
                personal_info: m.personal_info,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        a.retention_until
            .cmp(&b.retention_until)
            .then(a.asset_tag.cmp(&b.asset_tag))
    });
    Ok(rows)
}

/// A leased medium due back.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseDue {
    pub asset_tag: String,
    pub kind: &'static str,
    pub serial: Option<String>,
    pub lessor: Option<String>,
    pub contract: Option<String>,
    pub return_due: String,
    /// Negative: overdue by that many days.
    pub days_left: i64,
    pub status: &'static str,
    /// Wiped with a passing certificate (or destroyed): ready to go back.
    pub sanitized: bool,
    pub last_wipe_certificate: Option<String>,
}

/// Leased media not yet returned whose return is due by `as_of + within` days, soonest first.
pub fn leases_due(
    ledger: &Ledger,
    as_of: time::Date,
    within: u32,
) -> Result<Vec<LeaseDue>, LedgerError> {
    let limit = as_of
        .checked_add(time::Duration::days(i64::from(within)))
        .unwrap_or(time::Date::MAX)
        .to_string();
    let mut rows: Vec<LeaseDue> = ledger
        .media_where(
            "leased = 1 AND return_due IS NOT NULL AND return_due <= ?1
             AND status NOT IN ('returned_to_lessor', 'disposed')",
            &[&limit],
        )?
        .into_iter()
        .filter_map(|m| {
            let due = m.return_due.clone()?;
            let days_left = super::parse_date(&due)
                .map(|d| (d - as_of).whole_days())
                .unwrap_or(0);
            Some(LeaseDue {
                kind: m.kind.name(),
                status: m.status.name(),
                asset_tag: m.asset_tag,
                serial: m.serial,
                lessor: m.lessor,
                contract: m.contract,
                return_due: due,
                days_left,
                sanitized: m.sanitized,
                last_wipe_certificate: m.last_wipe_certificate,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        a.return_due
            .cmp(&b.return_due)
            .then(a.asset_tag.cmp(&b.asset_tag))
    });
    Ok(rows)
}

/// One line of the disposal register.
#[derive(Debug, Clone, Serialize)]
pub struct Disposal {
    pub seq: u64,
    pub time: String,
    pub asset_tag: String,
    pub serial: Option<String>,
    pub kind: &'static str,
    /// wiped, destroyed, returned, disposed
    pub event: &'static str,
    /// The wipe's status, the destruction or disposal method...
    pub detail: String,
    /// Certificate id (wipe) or the contractor's certificate file (destruction).
    pub certificate: Option<String>,
    pub certificate_sha256: Option<String>,
    pub contractor: Option<String>,
    pub actor: String,
    /// The sanitization rule was overridden, with this reason.
    pub forced: Option<String>,
}

/// Wipes, destructions, returns and disposals from `from` to `to` (both days included).
pub fn disposals(
    ledger: &Ledger,
    from: time::Date,
    to: time::Date,
) -> Result<Vec<Disposal>, LedgerError> {
    let start = format!("{from}T00:00:00Z");
    let end = match to.next_day() {
        Some(d) => format!("{d}T00:00:00Z"),
        None => "9999-12-31T23:59:60Z".to_owned(),
    };
    let events = ledger.events_where(
        "kind IN ('wiped', 'destroyed', 'returned', 'disposed') AND time >= ?1 AND time < ?2",
        &[&start, &end],
    )?;
    let mut media: HashMap<String, Option<Medium>> = HashMap::new();
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        let Some(tag) = e.medium.clone() else {
            continue;
        };
        if !media.contains_key(&tag) {
            let m = ledger.medium(&tag)?;
            media.insert(tag.clone(), m);
        }
        let m = media.get(&tag).and_then(Option::as_ref);
        let mut row = Disposal {
            seq: e.seq,
            time: e.time.clone(),
            serial: m.and_then(|m| m.serial.clone()),
            kind: m.map_or("-", |m| m.kind.name()),
            asset_tag: tag,
            event: e.data.kind(),
            detail: String::new(),
            certificate: None,
            certificate_sha256: None,
            contractor: None,
            actor: e.actor.clone(),
            forced: None,
        };
        match e.data {
            EventData::Wiped {
                certificate_id,
                certificate_sha256,
                status,
                method,
                ..
            } => {
                row.detail = match method {
                    Some(m) => format!("{status} ({m})"),
                    None => status,
                };
                row.certificate = Some(certificate_id);
                row.certificate_sha256 = Some(certificate_sha256);
            }
            EventData::Destroyed {
                method,
                contractor,
                certificate_file,
                certificate_sha256,
                witness,
                forced,
            } => {
                row.detail = match witness {
                    Some(w) => format!("{method}, witness {w}"),
                    None => method,
                };
                row.contractor = contractor;
                row.certificate = certificate_file;
                row.certificate_sha256 = certificate_sha256;
                row.forced = forced;
            }
            EventData::Returned {
                lessor,
                contract,
                receipt,
                forced,
            } => {
                row.detail = format!("to {lessor}, contract {contract}");
                row.certificate = receipt;
                row.forced = forced;
            }
            EventData::Disposed {
                method,
                contractor,
                receipt,
                forced,
            } => {
                row.detail = method;
                row.contractor = contractor;
                row.certificate = receipt;
                row.forced = forced;
            }
            _ => {}
        }
        rows.push(row);
    }
    Ok(rows)
}

/// What a cabinet should hold.
pub fn inventory(ledger: &Ledger, cabinet: &str) -> Result<Vec<Medium>, LedgerError> {
    ledger.media_where("cabinet = ?1 AND status = 'in_cabinet'", &[&cabinet])
}

/// The outcome of reconciling a cabinet against the asset tags found in it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reconciliation {
    pub cabinet: String,
    pub expected: u64,
    pub found: u64,
    /// The ledger says they are here; they were not found.
    pub missing: Vec<String>,
    /// Found here, unknown to the ledger.
    pub unexpected: Vec<String>,
    /// Found here, but the ledger has them elsewhere: (tag, where the ledger says it is).
    pub misplaced: Vec<(String, String)>,
}

impl Reconciliation {
    pub fn clean(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.misplaced.is_empty()
    }
}

/// Compare what the ledger says is in `cabinet` with the tags found there.
pub fn reconcile(
    ledger: &Ledger,
    cabinet: &str,
    found: &[String],
) -> Result<Reconciliation, LedgerError> {
    let expected: BTreeSet<String> = inventory(ledger, cabinet)?
        .into_iter()
        .map(|m| m.asset_tag)
        .collect();
    let found_set: BTreeSet<String> = found.iter().cloned().collect();
    let mut r = Reconciliation {
        cabinet: cabinet.to_owned(),
        expected: expected.len() as u64,
        found: found_set.len() as u64,
        missing: expected.difference(&found_set).cloned().collect(),
        ..Reconciliation::default()
    };
    for tag in found_set.difference(&expected) {
        match ledger.medium(tag)? {
            None => r.unexpected.push(tag.clone()),
            Some(m) => {
                let place = match (m.status, &m.cabinet) {
                    (MediumStatus::InCabinet, Some(c)) => format!("in cabinet {c}"),
                    (MediumStatus::CheckedOut | MediumStatus::HandedOver, _) => format!(
                        "{} by {}",
                        m.status.name(),
                        m.holder.as_deref().unwrap_or("?")
                    ),
                    (s, _) => s.name().to_owned(),
                };
                r.misplaced.push((tag.clone(), place));
            }
        }
    }
    Ok(r)
}

/// Every event about a medium, oldest first.
pub fn history(ledger: &Ledger, tag: &str) -> Result<Vec<Event>, LedgerError> {
    ledger.history(tag)
}

/// A one-line description of what an event says, for tables.
pub fn describe(e: &Event) -> String {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_owned());
    match &e.data {
        EventData::CabinetAdded {
            cabinet,
            room,
            lockable,
        } => format!(
            "cabinet {cabinet} in {room}{}",
            if *lockable { "" } else { " (not lockable)" }
        ),
        EventData::Registered(r) => format!(
            "{} {} {} serial {}{}{}",
            r.kind.name(),
            opt(&r.vendor),
            opt(&r.model),
            opt(&r.serial),
            r.department
                .as_deref()
                .map(|d| format!(", {d}"))
                .unwrap_or_default(),
            match &r.ownership {
                super::Ownership::Owned => String::new(),
                super::Ownership::Leased {
                    lessor, contract, ..
                } => format!(", leased from {lessor} ({contract})"),
            }
        ),
        EventData::Stored { cabinet, slot } => format!(
            "into cabinet {cabinet}{}",
            slot.as_deref()
                .map(|s| format!(" slot {s}"))
                .unwrap_or_default()
        ),
        EventData::CheckedOut {
            by,
            purpose,
            approver,
            due,
        } => format!(
            "by {by} for {purpose}, approved by {approver}{}",
            due.as_deref()
                .map(|d| format!(", due {d}"))
                .unwrap_or_default()
        ),
        EventData::CheckedIn { by, cabinet, .. } => format!("by {by} into cabinet {cabinet}"),
        EventData::HandedOver {
            from,
            to,
            purpose,
            method,
            receipt,
        } => format!(
            "{from} → {to} for {purpose}, {method}{}",
            receipt
                .as_deref()
                .map(|r| format!(", receipt {r}"))
                .unwrap_or_default()
        ),
        EventData::BackupWritten {
            backup_set,
            system,
            generation,
            retention_until,
        } => format!("{system} set {backup_set} gen {generation}, keep until {retention_until}"),
        EventData::Wiped {
            certificate_id,
            status,
            method,
            ..
        } => format!("{status} by {}, certificate {certificate_id}", opt(method)),
        EventData::Destroyed {
            method,
            contractor,
            witness,
            ..
        } => format!("{method} by {}, witness {}", opt(contractor), opt(witness)),
        EventData::Returned {
            lessor,
            contract,
            forced,
            ..
        } => format!(
            "to {lessor}, contract {contract}{}",
            forced
                .as_deref()
                .map(|f| format!(" (FORCED: {f})"))
                .unwrap_or_default()
        ),
        EventData::Disposed {
            method,
            contractor,
            forced,
            ..
        } => format!(
            "{method} by {}{}",
            opt(contractor),
            forced
                .as_deref()
                .map(|f| format!(" (FORCED: {f})"))
                .unwrap_or_default()
        ),
        EventData::Lost { description } => description.clone(),
        EventData::Found { cabinet, .. } => format!("back in cabinet {cabinet}"),
        EventData::InventoryChecked {
            expected,
            found,
            missing,
            unexpected,
            misplaced,
            ..
        } => format!(
            "expected {expected}, found {found}; missing {}, unexpected {}, misplaced {}",
            missing.len(),
            unexpected.len(),
            misplaced.len()
        ),
        EventData::Sealed { events, key_id, .. } => {
            format!("{events} events signed by key {key_id}")
        }
        EventData::EvidenceAdded(ev) => format!(
            "{} {:?}, {} bytes, sha256 {}; {}",
            ev.evidence_kind.name(),
            ev.file_name,
            ev.size,
            ev.sha256,
            ev.signature.describe()
        ),
        EventData::EvidencePolicy { rules } if rules.is_empty() => {
            "no evidence required any more".to_owned()
        }
        EventData::EvidencePolicy { rules } => rules
            .iter()
            .map(super::evidence::EvidenceRule::describe)
            .collect::<Vec<_>>()
            .join("; "),
        EventData::EvidenceTimestamped(s) => format!(
            "events 1–{} and {} evidence file(s), TSA time {}",
            s.events, s.evidence_files, s.gen_time
        ),
    }
}
