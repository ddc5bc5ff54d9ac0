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
    /// Asset tag → the time of its newest event that put it to use.
    last_use: HashMap<String, String>,
    /// The evidence policy of the newest `evidence_policy` event.
    policy: Vec<super::evidence::EvidenceRule>,
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

    fn last_use(&self, tag: &str) -> Result<Option<String>, LedgerError> {
        Ok(self.last_use.get(tag).cloned())
    }

    fn evidence_policy(&self) -> Result<Vec<super::evidence::EvidenceRule>, LedgerError> {
        Ok(self.policy.clone())
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

/// Walks the chain one row at a time.
pub struct Checker<'k> {
    ledger_id: String,
    keys: &'k [PublicKey],
    replay: Replay,
    out: Verification,
    prev: String,
    /// Stop at the first broken link: everything after it is unverifiable.
    broken: bool,
    /// Seal files kept apart from the ledger (name, seal), checked against the chain as it
    /// passes their position.
    kept: Vec<(String, SealFile)>,
    /// The most events a kept seal with a good signature vouches for.
    kept_covers: u64,
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
            kept: Vec::new(),
            kept_covers: 0,
        }
    }

    /// Also check these kept seal files (`--seal FILE`): same ledger, a good signature (when
    /// keys are given), and the chain's hash at their position equal to their head.
    pub fn with_seal_files(mut self, seals: Vec<(String, SealFile)>) -> Checker<'k> {
        for (name, seal) in seals {
            if let Some(p) = seal_file_problem(&seal, &self.ledger_id, self.keys) {
                self.out.problems.push(format!("seal file {name}: {p}"));
            } else {
                self.kept.push((name, seal));
            }
        }
        self
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
                if let EventData::EvidencePolicy { rules } = &event.data {
                    self.replay.policy = rules.clone();
                }
                if let Some(m) = &event.medium {
                    if state::USE_KINDS.contains(&event.data.kind()) {
                        // Events of a medium come in time order (the rules say so).
                        self.replay.last_use.insert(m.clone(), event.time.clone());
                    }
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
        for (name, seal) in &self.kept {
            if seal.events == row.seq && seal.head != row.hash {
                self.out.problems.push(format!(
                    "seal file {name}: event {} hashes to {} here but {} in the seal: history was rewritten",
                    row.seq,
                    short(&row.hash),
                    short(&seal.head)
                ));
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

    /// Record a problem that stops the walk (a row that cannot even be read).
    pub fn broken(&mut self, what: String) {
        self.fail(what);
    }

    /// Compare the replayed state with the stored `media` and `cabinets` tables (a database,
    /// not an export), unless the chain broke before its end.
    pub(crate) fn compare_tables(&mut self, ledger: &Ledger) -> Result<(), LedgerError> {
        if self.broken {
            return Ok(());
        }
        super::database::compare_state(
            ledger,
            &self.replay.media,
            &self.replay.cabinets,
            &mut self.out.problems,
        )
    }

    /// The outcome, once every row was given.
    pub fn finish(mut self) -> Verification {
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
        for (name, seal) in &self.kept {
            if self.broken {
                break;
            }
            if seal.events > self.out.events {
                self.out.problems.push(format!(
                    "seal file {name}: the seal covers {} events but the ledger has fewer ({}): events were removed",
                    seal.events, self.out.events
                ));
            } else if !self.keys.is_empty() {
                self.kept_covers = self.kept_covers.max(seal.events);
            }
        }
        if !self.keys.is_empty() && !self.broken {
            self.require_signed_head(last_good_seal);
        }
        self.out.media = self.replay.media.len() as u64;
        self.out.cabinets = self.replay.cabinets.len() as u64;
        self.out
    }

    /// A key given means "something signed vouches for this ledger": a seal by that key (in
    /// the chain, or kept apart and given with --seal) must cover every event up to the head.
    fn require_signed_head(&mut self, last_good_seal: u64) {
        let signed = self
            .out
            .seals
            .iter()
            .any(|s| s.signature_ok == Some(true) && s.problem.is_none());
        let covered = last_good_seal.max(self.kept_covers);
        let events = self.out.events;
        if !signed && self.kept_covers == 0 {
            if events > 0 {
                self.out.problems.push(format!(
                    "no seal signed by the given key(s) vouches for any of the {events} events: nothing signed covers this ledger; seal it with `massho ledger seal --key KEY`, or give the key that sealed it"
                ));
            }
            return;
        }
        if covered < events {
            let range = if covered + 1 == events {
                format!("event {events} after the newest seal (event {covered}) is")
            } else {
                format!(
                    "events {}–{events} after the newest seal (event {covered}) are",
                    covered + 1
                )
            };
            self.out.problems.push(format!(
                "{range} not covered by any seal: seal the ledger, or find out who appended them"
            ));
        }
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Verify a ledger database: its SQLite structures (integrity, schema), the chain, the rules,
/// the derived state (exactly as stored), the seals, and the kept `seal_files`, all from one
/// snapshot (writers may go on appending meanwhile).
pub fn verify(
    ledger: &Ledger,
    keys: &[PublicKey],
    seal_files: &[(String, SealFile)],
) -> Result<Verification, LedgerError> {
    let conn = ledger.conn();
    let _snapshot = conn.unchecked_transaction().map_err(|e| ledger.sql(e))?;
    let mut structure = Vec::new();
    super::database::check_structure(ledger, &mut structure)?;
    let mut checker = Checker::new(ledger.id(), keys).with_seal_files(seal_files.to_vec());
    let mut stmt = conn
        .prepare(
            "SELECT seq, time, kind, medium, cabinet, body, prev, hash FROM events ORDER BY seq",
        )
        .map_err(|e| ledger.sql(e))?;
    let mut rows = stmt.query([]).map_err(|e| ledger.sql(e))?;
    let mut position = 0u64;
    while let Some(r) = rows.next().map_err(|e| ledger.sql(e))? {
        position += 1;
        match super::database::event_row(r) {
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
    checker.compare_tables(ledger)?;
    let mut v = checker.finish();
    // The database's own damage first: everything else was read through it.
    structure.append(&mut v.problems);
    v.problems = structure;
    Ok(v)
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

/// What is wrong with a kept seal file before it meets the chain: another ledger's, or (when
/// `keys` are given) not signed by one of them.
fn seal_file_problem(seal: &SealFile, ledger_id: &str, keys: &[PublicKey]) -> Option<String> {
    if seal.ledger_id != ledger_id {
        return Some(format!(
            "the seal is for ledger {}, not this ledger ({ledger_id})",
            seal.ledger_id
        ));
    }
    if !keys.is_empty() {
        let message = seal_message(&seal.ledger_id, seal.events, &seal.head, &seal.time);
        if !keys
            .iter()
            .any(|k| sign::verify(k, message.as_bytes(), &seal.signature).is_ok())
        {
            return Some(format!(
                "the seal's signature (key {}) does not verify with the trusted keys",
                seal.key_id
            ));
        }
    }
    None
}

/// Why a seal file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealFileError {
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error(
        "{} is not a massho seal file ({why}); give the file `massho ledger seal --out` wrote",
        crate::text::path_safe(path)
    )]
    Malformed {
        path: std::path::PathBuf,
        why: String,
    },
}

impl SealFileError {
    /// Whether the operator named the wrong file (exit 2) rather than the system failing.
    pub fn is_usage(&self) -> bool {
        match self {
            SealFileError::Input(e) => e.is_usage(),
            SealFileError::Malformed { .. } => true,
        }
    }
}

/// Read a seal file: a regular file (never a FIFO or device), once, bounded.
pub fn read_seal_file(path: &Path) -> Result<SealFile, SealFileError> {
    let bytes = crate::input::read_regular(path, "seal file", crate::input::limit::KEY_OR_SEAL)?;
    let malformed = |why: String| SealFileError::Malformed {
        path: path.to_path_buf(),
        why,
    };
    let seal: SealFile = serde_json::from_slice(&bytes).map_err(|e| malformed(e.to_string()))?;
    if seal.format != SEAL_FILE_FORMAT {
        return Err(malformed(format!(
            "its format is {:?}, not {SEAL_FILE_FORMAT}",
            crate::text::terminal_safe(&seal.format)
        )));
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
