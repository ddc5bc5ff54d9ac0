//! Verification: recompute the chain, replay the rules, compare the derived state, check seals.
//!
//! What is caught, and how:
//! - an edited event (body, or a queried column such as kind or time): its hash, or the column
//!   no longer matching the body;
//! - a deleted or reordered event: a gap in `seq`, or `prev` not naming the event before;
//! - an edited or deleted row of the derived state (`media`, `cabinets`): the state replayed
//!   from the log differs;
//! - history rewritten with every hash recomputed: the seals, whose signatures cover the head
//!   hash, no longer match (and the attacker cannot re-sign without the key);
//! - events inserted that the rules refuse (a check-in that had no check-out): the replay.
//!
//! Not caught by the database alone: the newest events removed together with any seal after
//! them. Keep seal files (`ledger seal --out`) apart from the ledger, and check them with
//! `ledger verify --seal FILE`.

use std::collections::HashMap;
use std::path::Path;

use super::event::{chain_hash, seal_message, Event, EventData, GENESIS};
use super::state::{self, ApplyError, Cabinet, Change, Medium, View};
use super::{Ledger, LedgerError};
use crate::sign::{self, PublicKey};

/// One stored event as verification sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub seq: u64,
    pub time: String,
    pub kind: String,
    pub medium: Option<String>,
    pub cabinet: Option<String>,
    pub body: String,
    pub prev: String,
    pub hash: String,
}

/// A seal found in the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SealCheck {
    /// The seal's own position in the chain.
    pub seq: u64,
    pub time: String,
    /// How many events it covers.
    pub events: u64,
    pub key_id: String,
    /// `Some(true)`: signature good with a trusted key; `Some(false)`: bad or unknown signer;
    /// `None`: not checked (no public key given).
    pub signature_ok: Option<bool>,
    pub problem: Option<String>,
}

/// The outcome of `ledger verify`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Verification {
    pub ledger_id: String,
    pub events: u64,
    pub head: String,
    pub media: u64,
    pub cabinets: u64,
    pub seals: Vec<SealCheck>,
    /// Events after the last good seal, covered by the chain but by no signature.
    pub unsealed_events: u64,
    /// The first problem found, naming the event (or row) where it is.
    pub problems: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The rules' view of the state while replaying.
#[derive(Default)]
struct Replay {
    media: HashMap<String, Medium>,
    cabinets: HashMap<String, Cabinet>,
    serials: HashMap<String, Vec<String>>,
    /// Certificate id → the medium it is recorded for.
    certificates: HashMap<String, String>,
}

impl View for Replay {
    fn certificate_owner(&self, id: &str) -> Result<Option<String>, LedgerError> {
        Ok(self.certificates.get(id).cloned())
    }

    fn medium(&self, tag: &str) -> Result<Option<Medium>, LedgerError> {
        Ok(self.media.get(tag).cloned())
    }

    fn cabinet(&self, id: &str) -> Result<Option<Cabinet>, LedgerError> {
        Ok(self.cabinets.get(id).cloned())
    }

    fn serial_owner(&self, serial: &str) -> Result<Option<String>, LedgerError> {
        Ok(self.serials.get(serial).and_then(|tags| {
            tags.iter()
                .find(|t| self.media.get(*t).is_some_and(|m| !m.status.closed()))
                .cloned()
        }))
    }
}

impl Replay {
    fn take(&mut self, change: Change) {
        match change {
            Change::Nothing => {}
            Change::Cabinet(c) => {
                self.cabinets.insert(c.id.clone(), c);
            }
            Change::Medium(m) => {
                if let Some(serial) = &m.serial {
                    let tags = self.serials.entry(serial.clone()).or_default();
                    if !tags.contains(&m.asset_tag) {
                        tags.push(m.asset_tag.clone());
                    }
                }
                self.media.insert(m.asset_tag.clone(), *m);
            }
        }
    }
}

/// The stored derived state: (key column, document) per row of `media` and of `cabinets`.
pub type StoredState = (Vec<(String, Medium)>, Vec<(String, Cabinet)>);

/// Walks the chain one row at a time.
pub struct Checker<'k> {
    ledger_id: String,
    keys: &'k [PublicKey],
    replay: Replay,
    out: Verification,
    prev: String,
    /// Stop at the first broken link: everything after it is unverifiable.
    broken: bool,
}

impl<'k> Checker<'k> {
    pub fn new(ledger_id: &str, keys: &'k [PublicKey]) -> Checker<'k> {
        Checker {
            ledger_id: ledger_id.to_owned(),
            keys,
            replay: Replay::default(),
            out: Verification {
                ledger_id: ledger_id.to_owned(),
                head: GENESIS.to_owned(),
                ..Verification::default()
            },
            prev: GENESIS.to_owned(),
            broken: false,
        }
    }

    fn fail(&mut self, what: String) {
        self.out.problems.push(what);
        self.broken = true;
    }

    /// Check the next row; returns false once the chain is broken.
    pub fn row(&mut self, row: &Row) -> bool {
        if self.broken {
            return false;
        }
        let expected = self.out.events + 1;
        if row.seq != expected {
            self.fail(format!(
                "event {expected} is missing (the next stored event is {}): events were deleted or reordered",
                row.seq
            ));
            return false;
        }
        if row.prev != self.prev {
            self.fail(format!(
                "event {}: its link to the previous event does not match (prev {} but event {} hashes to {}): history before it was changed, deleted or reordered",
                row.seq,
                short(&row.prev),
                row.seq - 1,
                short(&self.prev)
            ));
            return false;
        }
        let hash = chain_hash(&self.ledger_id, &row.prev, &row.body);
        if hash != row.hash {
            self.fail(format!(
                "event {}: its content does not match its hash: the event was altered after it was recorded",
                row.seq
            ));
            return false;
        }
        let event: Event = match serde_json::from_str(&row.body) {
            Ok(e) => e,
            Err(e) => {
                self.fail(format!(
                    "event {}: its body is not a valid event: {e}",
                    row.seq
                ));
                return false;
            }
        };
        if event.seq != row.seq
            || event.time != row.time
            || event.data.kind() != row.kind
            || event.medium != row.medium
            || event.data.cabinet().map(str::to_owned) != row.cabinet
        {
            self.fail(format!(
                "event {}: its stored columns (seq, time, kind, medium, cabinet) differ from its hashed body: the table was edited",
                row.seq
            ));
            return false;
        }
        if let EventData::Sealed {
            events,
            head,
            key_id,
            signature,
        } = &event.data
        {
            let check = self.seal(&event, *events, head, key_id, signature);
            self.out.seals.push(check);
        }
        match state::apply(&self.replay, &event) {
            Ok(change) => {
                if let (EventData::Wiped { certificate_id, .. }, Some(m)) =
                    (&event.data, &event.medium)
                {
                    self.replay
                        .certificates
                        .insert(certificate_id.clone(), m.clone());
                }
                self.replay.take(change)
            }
            Err(ApplyError::Rejected(r)) => {
                self.fail(format!(
                    "event {} ({}): the rules refuse it: {r}; it was inserted or the events before it were changed",
                    row.seq, row.kind
                ));
                return false;
            }
            Err(ApplyError::Ledger(e)) => {
                self.fail(format!("event {}: {e}", row.seq));
                return false;
            }
        }
        self.out.events = row.seq;
        self.out.head = row.hash.clone();
        self.prev = row.hash.clone();
        true
    }

    fn seal(
        &self,
        event: &Event,
        events: u64,
        head: &str,
        key_id: &str,
        signature: &str,
    ) -> SealCheck {
        let mut check = SealCheck {
            seq: event.seq,
            time: event.time.clone(),
            events,
            key_id: key_id.to_owned(),
            signature_ok: None,
            problem: None,
        };
        if event.seq.checked_sub(1) != Some(events) || head != self.prev {
            check.problem = Some(format!(
                "seal at event {} says it covers {events} events ending in {}, but the chain there is {} events ending in {}",
                event.seq,
                short(head),
                event.seq - 1,
                short(&self.prev)
            ));
            check.signature_ok = Some(false);
            return check;
        }
        if self.keys.is_empty() {
            return check;
        }
        let message = seal_message(&self.ledger_id, events, head, &event.time);
        let verdicts: Vec<_> = self
            .keys
            .iter()
            .map(|k| sign::verify(k, message.as_bytes(), signature))
            .collect();
        if verdicts.iter().any(Result::is_ok) {
            check.signature_ok = Some(true);
        } else {
            check.signature_ok = Some(false);
            check.problem = Some(match verdicts.into_iter().find_map(|v| match v {
                Err(sign::SignError::WrongKey { .. }) | Ok(_) => None,
                Err(e) => Some(e),
            }) {
                Some(e) => format!("seal at event {}: {e}", event.seq),
                None => format!(
                    "seal at event {} is signed by key {key_id}, which is not among the trusted keys",
                    event.seq
                ),
            });
        }
        check
    }

    /// The outcome, once every row was given. `state`: the stored derived state to compare
    /// with the replay (none for an export).
    /// Record a problem that stops the walk (a row that cannot even be read).
    pub fn broken(&mut self, what: String) {
        self.fail(what);
    }

    pub fn finish(mut self, state: Option<StoredState>) -> Verification {
        let last_good_seal = self
            .out
            .seals
            .iter()
            .filter(|s| s.problem.is_none())
            .map(|s| s.seq)
            .max()
            .unwrap_or(0);
        self.out.unsealed_events = self.out.events.saturating_sub(last_good_seal);
        for s in &self.out.seals {
            if let Some(p) = &s.problem {
                self.out.problems.push(p.clone());
            }
        }
        self.out.media = self.replay.media.len() as u64;
        self.out.cabinets = self.replay.cabinets.len() as u64;
        if let (Some((media, cabinets)), false) = (state, self.broken) {
            compare_state(&mut self.out, &self.replay, media, cabinets);
        }
        self.out
    }
}

/// Compare the stored derived state (key column and document per row) with the replay.
fn compare_state(
    out: &mut Verification,
    replay: &Replay,
    media: Vec<(String, Medium)>,
    cabinets: Vec<(String, Cabinet)>,
) {
    let mut seen = std::collections::HashSet::new();
    for (key, m) in media {
        if key != m.asset_tag {
            out.problems.push(format!(
                "the media table's row {key} holds the state of medium {}: the table was edited",
                m.asset_tag
            ));
            return;
        }
        match replay.media.get(&key) {
            Some(r) if *r == m => {
                seen.insert(key);
            }
            Some(_) => {
                out.problems.push(format!(
                    "medium {key}: its current state in the media table differs from what its events say: the table was edited"
                ));
                return;
            }
            None => {
                out.problems.push(format!(
                    "medium {key} is in the media table but no event registers it: the table was edited"
                ));
                return;
            }
        }
    }
    let mut missing: Vec<&String> = replay.media.keys().filter(|k| !seen.contains(*k)).collect();
    if !missing.is_empty() {
        missing.sort();
        out.problems.push(format!(
            "{} medium/media registered by events are missing from the media table (e.g. {}): rows were deleted",
            missing.len(),
            missing[0]
        ));
        return;
    }
    let mut seen = std::collections::HashSet::new();
    for (key, c) in cabinets {
        if key != c.id || replay.cabinets.get(&key) != Some(&c) {
            out.problems.push(format!(
                "cabinet {key}: the cabinets table differs from what the events say: the table was edited"
            ));
            return;
        }
        seen.insert(key);
    }
    if seen.len() != replay.cabinets.len() {
        out.problems.push(
            "cabinets added by events are missing from the cabinets table: rows were deleted"
                .into(),
        );
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Verify a ledger database: chain, rules, derived state, seals, and the kept `seal_files`,
/// all from one snapshot (writers may go on appending meanwhile).
pub fn verify(
    ledger: &Ledger,
    keys: &[PublicKey],
    seal_files: &[(String, SealFile)],
) -> Result<Verification, LedgerError> {
    let conn = ledger.conn();
    let _snapshot = conn.unchecked_transaction().map_err(|e| ledger.sql(e))?;
    let mut v = verify_in_snapshot(ledger, keys)?;
    for (name, seal) in seal_files {
        if let Err(p) = check_seal_file(ledger, seal, keys)? {
            v.problems.push(format!("seal file {name}: {p}"));
        }
    }
    Ok(v)
}

fn verify_in_snapshot(ledger: &Ledger, keys: &[PublicKey]) -> Result<Verification, LedgerError> {
    let mut checker = Checker::new(ledger.id(), keys);
    let conn = ledger.conn();
    let mut stmt = conn
        .prepare(
            "SELECT seq, time, kind, medium, cabinet, body, prev, hash FROM events ORDER BY seq",
        )
        .map_err(|e| ledger.sql(e))?;
    let mut rows = stmt.query([]).map_err(|e| ledger.sql(e))?;
    let mut position = 0u64;
    while let Some(r) = rows.next().map_err(|e| ledger.sql(e))? {
        position += 1;
        let row = (|| {
            Ok::<_, rusqlite::Error>(Row {
                seq: r.get::<_, i64>(0)?.try_into().unwrap_or(u64::MAX),
                time: r.get(1)?,
                kind: r.get(2)?,
                medium: r.get(3)?,
                cabinet: r.get(4)?,
                body: r.get(5)?,
                prev: r.get(6)?,
                hash: r.get(7)?,
            })
        })();
        match row {
            Ok(row) => {
                if !checker.row(&row) {
                    break;
                }
            }
            Err(e) => {
                checker.broken(format!(
                    "event row {position} cannot be read ({e}): the events table was edited"
                ));
                break;
            }
        }
    }
    let mut problems = Vec::new();
    let media = read_state(ledger, "media", "asset_tag", &mut problems)?;
    let cabinets = read_state(ledger, "cabinets", "id", &mut problems)?;
    let mut v = checker.finish(Some((media, cabinets)));
    v.problems.extend(problems);
    // The state's indexed columns feed the reports: they must agree with the state documents.
    if v.ok() {
        check_media_columns(ledger, &mut v)?;
    }
    Ok(v)
}

/// Every row of a state table as (key column, document); rows that cannot be read become
/// problems.
fn read_state<T: serde::de::DeserializeOwned>(
    ledger: &Ledger,
    table: &str,
    key: &str,
    problems: &mut Vec<String>,
) -> Result<Vec<(String, T)>, LedgerError> {
    let mut stmt = ledger
        .conn()
        .prepare(&format!(
            "SELECT CAST({key} AS TEXT), CAST(state AS TEXT) FROM {table}"
        ))
        .map_err(|e| ledger.sql(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
            ))
        })
        .map_err(|e| ledger.sql(e))?;
    let mut out = Vec::new();
    for row in rows {
        let (k, text) = row.map_err(|e| ledger.sql(e))?;
        let k = k.unwrap_or_default();
        match text.as_deref().map(serde_json::from_str::<T>) {
            Some(Ok(doc)) => out.push((k, doc)),
            _ => problems.push(format!(
                "the {table} table's row {k:?} does not hold a valid state: the table was edited"
            )),
        }
    }
    Ok(out)
}

fn check_media_columns(ledger: &Ledger, v: &mut Verification) -> Result<(), LedgerError> {
    type Columns = (
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        bool,
        Option<String>,
        Option<String>,
        String,
    );
    let mut stmt = ledger
        .conn()
        .prepare(
            "SELECT asset_tag, serial, status, status_since, cabinet, leased, return_due,
                    retention_until, state FROM media",
        )
        .map_err(|e| ledger.sql(e))?;
    let mut rows = stmt.query([]).map_err(|e| ledger.sql(e))?;
    while let Some(r) = rows.next().map_err(|e| ledger.sql(e))? {
        let read = (|| {
            Ok::<Columns, rusqlite::Error>((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })();
        let parsed = read
            .ok()
            .and_then(|c| serde_json::from_str::<Medium>(&c.8).ok().map(|m| (c, m)));
        let Some((c, m)) = parsed else {
            v.problems
                .push("a row of the media table cannot be read: the table was edited".to_owned());
            return Ok(());
        };
        let expected: Columns = (
            m.asset_tag.clone(),
            m.serial.clone(),
            m.status.name().to_owned(),
            m.status_since.clone(),
            m.cabinet.clone(),
            m.leased,
            m.return_due.clone(),
            m.retention_until.clone(),
            c.8.clone(),
        );
        if c != expected {
            v.problems.push(format!(
                "medium {}: the media table's columns differ from its state: the table was edited",
                m.asset_tag
            ));
            return Ok(());
        }
    }
    Ok(())
}

/// The seal a `ledger seal --out FILE` wrote: the signed message and its signature.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SealFile {
    pub format: String,
    pub ledger_id: String,
    pub events: u64,
    pub head: String,
    pub time: String,
    pub key_id: String,
    pub signature: String,
}

pub const SEAL_FILE_FORMAT: &str = "massho.ledger-seal.v1";

/// Check that a kept seal file matches the ledger: same ledger, at least that many events, and
/// the same hash at that point; its signature by one of `keys` (when given).
pub fn check_seal_file(
    ledger: &Ledger,
    seal: &SealFile,
    keys: &[PublicKey],
) -> Result<Result<(), String>, LedgerError> {
    if seal.ledger_id != ledger.id() {
        return Ok(Err(format!(
            "the seal is for ledger {}, not this ledger ({})",
            seal.ledger_id,
            ledger.id()
        )));
    }
    if !keys.is_empty() {
        let message = seal_message(&seal.ledger_id, seal.events, &seal.head, &seal.time);
        if !keys
            .iter()
            .any(|k| sign::verify(k, message.as_bytes(), &seal.signature).is_ok())
        {
            return Ok(Err(format!(
                "the seal's signature (key {}) does not verify with the trusted keys",
                seal.key_id
            )));
        }
    }
    let hash: Option<String> = {
        use rusqlite::OptionalExtension;
        ledger
            .conn()
            .query_row(
                "SELECT hash FROM events WHERE seq = ?1",
                [seal.events as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| ledger.sql(e))?
    };
    Ok(match hash {
        _ if seal.events == 0 => Ok(()),
        None => Err(format!(
            "the seal covers {} events but the ledger has fewer: events were removed",
            seal.events
        )),
        Some(h) if h != seal.head => Err(format!(
            "event {} hashes to {} in the ledger but {} in the seal: history was rewritten",
            seal.events,
            short(&h),
            short(&seal.head)
        )),
        Some(_) => Ok(()),
    })
}

/// Read a seal file.
pub fn read_seal_file(path: &Path) -> Result<SealFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read seal file {}: {e}", path.display()))?;
    let seal: SealFile = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a massho seal file: {e}", path.display()))?;
    if seal.format != SEAL_FILE_FORMAT {
        return Err(format!(
            "{} is a {:?} file, not {SEAL_FILE_FORMAT}",
            path.display(),
            seal.format
        ));
    }
    Ok(seal)
}

/// Seal the ledger: sign its event count and head hash with `key`, and append the seal as an
/// event (so deleting it breaks the chain). Returns the seal for keeping apart from the ledger.
pub fn seal(
    ledger: &mut Ledger,
    key: &crate::sign::SecretKey,
    actor: &str,
) -> Result<SealFile, LedgerError> {
    let ledger_id = ledger.id().to_owned();
    let mut sealed: Option<SealFile> = None;
    ledger.append_with(|events, head| {
        if sealed.is_some() {
            return Ok(None);
        }
        let time = super::now_utc();
        let message = seal_message(&ledger_id, events, head, &time);
        let key_id = key.public_key().key_id();
        let signature = key.sign(
            message.as_bytes(),
            "massho ledger seal",
            &format!(
                "massho ledger seal: ledger {ledger_id} events {events} head {head} time {time}"
            ),
        )?;
        sealed = Some(SealFile {
            format: SEAL_FILE_FORMAT.into(),
            ledger_id: ledger_id.clone(),
            events,
            head: head.to_owned(),
            time: time.clone(),
            key_id: key_id.clone(),
            signature: signature.clone(),
        });
        Ok(Some(super::NewEvent {
            medium: None,
            actor: actor.to_owned(),
            // The time the signature covers is the seal event's time.
            time: super::parse_time(&time),
            note: None,
            data: EventData::Sealed {
                events,
                head: head.to_owned(),
                key_id,
                signature,
            },
        }))
    })?;
    sealed.ok_or_else(|| LedgerError::Damaged {
        path: ledger.path().to_path_buf(),
        what: "the seal was not recorded".into(),
    })
}
