//! Archive timestamps: an RFC 3161 token over every evidence file's hash and the chain head, so
//! that the evidence, and the checks recorded with it, can be shown to have existed unchanged
//! after the signers' certificates expire (Art. 30; the idea of RFC 4998's archive timestamps).
//!
//! The timestamped message, for the ledger's first `n` events, is
//!
//! ```text
//! massho evidence archive v1
//! ledger <ledger id>
//! evidence <sha256>          one line per store file named by events 1..n, in event order:
//! ...                        each document, its .p7s, its trust anchor, earlier tokens
//! events <n>
//! head <hash of event n>
//! ```
//!
//! and the imprint sent to the TSA is its SHA-256. Earlier tokens are among the evidence lines,
//! so a new archive timestamp also covers the old ones (renewal before a TSA's certificate
//! expires). `massho evidence message` prints the message, so that `openssl ts -verify -data`
//! can check a token without massho.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ledger::event::{Event, EventData, GENESIS};
use crate::ledger::{Ledger, LedgerError};

/// What an `evidence_timestamped` event records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveStamp {
    /// The events the timestamp covers: the ledger's first `events`.
    pub events: u64,
    /// The hash of event `events`.
    pub head: String,
    /// How many evidence lines the message holds.
    pub evidence_files: u64,
    /// SHA-256 of the message, hex: the token's imprint.
    pub imprint: String,
    /// The TSA's whole response (`.tsr`, as returned), kept in the evidence store.
    pub token_sha256: String,
    /// The TSA's time and the token's serial, as the token says (checked by `ledger verify`).
    pub gen_time: String,
    pub serial: String,
}

const HEADER: &str = "massho evidence archive v1\n";

/// Where the archive message stands after some events.
#[derive(Debug, Clone)]
pub struct Position {
    pub events: u64,
    pub head: String,
    pub evidence_files: u64,
    pub digest: [u8; 32],
}

/// Builds the archive message event by event; [`Builder::position`] closes it at any point.
#[derive(Clone)]
pub struct Builder {
    hasher: Sha256,
    text: Option<String>,
    files: u64,
}

impl Builder {
    /// `keep_text`: also keep the message itself (for `evidence message`).
    pub fn new(ledger_id: &str, keep_text: bool) -> Builder {
        let start = format!("{HEADER}ledger {ledger_id}\n");
        let mut hasher = Sha256::new();
        hasher.update(start.as_bytes());
        Builder {
            hasher,
            text: keep_text.then_some(start),
            files: 0,
        }
    }

    /// Add the store files `event` names.
    pub fn add(&mut self, event: &Event) {
        for sha in store_files(&event.data) {
            let line = format!("evidence {sha}\n");
            self.hasher.update(line.as_bytes());
            if let Some(t) = &mut self.text {
                t.push_str(&line);
            }
            self.files += 1;
        }
    }

    /// The message closed after `events` events ending in `head`.
    pub fn position(&self, events: u64, head: &str) -> (Position, Option<String>) {
        let tail = format!("events {events}\nhead {head}\n");
        let mut h = self.hasher.clone();
        h.update(tail.as_bytes());
        (
            Position {
                events,
                head: head.to_owned(),
                evidence_files: self.files,
                digest: h.finalize().into(),
            },
            self.text.as_ref().map(|t| format!("{t}{tail}")),
        )
    }
}

/// The store files an event names, in the order the message lists them.
pub fn store_files(data: &EventData) -> Vec<String> {
    match data {
        EventData::EvidenceAdded(e) => e.blobs().into_iter().map(|(_, s)| s.to_owned()).collect(),
        EventData::EvidenceTimestamped(s) => vec![s.token_sha256.clone()],
        _ => Vec::new(),
    }
}

/// Kinds whose bodies the walk reads (the others only give their hash).
const EVIDENCE_KINDS: &str = "'evidence_added', 'evidence_timestamped'";

/// Walk the events 1..=`upto` (all when `None`) in order, feeding the builder; `visit` gets
/// each position and the event (evidence events only) after it was added; returning false stops.
pub fn walk(
    ledger: &Ledger,
    upto: Option<u64>,
    keep_text: bool,
    mut visit: impl FnMut(&Builder, u64, &str, Option<&Event>) -> bool,
) -> Result<(), LedgerError> {
    let conn = ledger.conn();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT seq, hash, CASE WHEN kind IN ({EVIDENCE_KINDS}) THEN body END
             FROM events WHERE seq <= ?1 ORDER BY seq"
        ))
        .map_err(|e| ledger.sql(e))?;
    let limit = upto.map_or(i64::MAX, |u| i64::try_from(u).unwrap_or(i64::MAX));
    let mut rows = stmt.query([limit]).map_err(|e| ledger.sql(e))?;
    let mut builder = Builder::new(ledger.id(), keep_text);
    while let Some(r) = rows.next().map_err(|e| ledger.sql(e))? {
        let seq: i64 = r.get(0).map_err(|e| ledger.sql(e))?;
        let hash: String = r.get(1).map_err(|e| ledger.sql(e))?;
        let body: Option<String> = r.get(2).map_err(|e| ledger.sql(e))?;
        let seq = u64::try_from(seq).map_err(|_| LedgerError::Damaged {
            path: ledger.path().to_path_buf(),
            what: format!("event position {seq} is negative"),
        })?;
        let event = match body {
            Some(b) => {
                Some(
                    serde_json::from_str::<Event>(&b).map_err(|e| LedgerError::Damaged {
                        path: ledger.path().to_path_buf(),
                        what: format!("event {seq} cannot be read ({e})"),
                    })?,
                )
            }
            None => None,
        };
        if let Some(e) = &event {
            builder.add(e);
        }
        if !visit(&builder, seq, &hash, event.as_ref()) {
            break;
        }
    }
    Ok(())
}

/// The archive message's position at the ledger's head now.
pub fn at_head(ledger: &Ledger) -> Result<Position, LedgerError> {
    let mut last = Builder::new(ledger.id(), false).position(0, GENESIS).0;
    walk(ledger, None, false, |b, seq, hash, _| {
        last = b.position(seq, hash).0;
        true
    })?;
    Ok(last)
}

/// The position whose digest is `imprint`, if any (a `.tsr` answering an earlier request).
pub fn find(ledger: &Ledger, imprint: &[u8]) -> Result<Option<Position>, LedgerError> {
    let mut found = None;
    walk(ledger, None, false, |b, seq, hash, _| {
        let (p, _) = b.position(seq, hash);
        if p.digest.as_slice() == imprint {
            found = Some(p);
            return false;
        }
        true
    })?;
    Ok(found)
}

/// The positions `wanted`, in one walk; with `keep_text`, each with its message.
pub fn positions(
    ledger: &Ledger,
    wanted: &BTreeSet<u64>,
    keep_text: bool,
) -> Result<BTreeMap<u64, (Position, Option<String>)>, LedgerError> {
    let mut out = BTreeMap::new();
    let Some(&upto) = wanted.last() else {
        return Ok(out);
    };
    walk(ledger, Some(upto), keep_text, |b, seq, hash, _| {
        if wanted.contains(&seq) {
            out.insert(seq, b.position(seq, hash));
        }
        true
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_the_sha256_of_the_message_it_prints() {
        let b = Builder::new("L", true);
        let (p, text) = b.position(3, "abc");
        let text = text.unwrap();
        assert_eq!(
            text,
            "massho evidence archive v1\nledger L\nevents 3\nhead abc\n"
        );
        assert_eq!(p.digest, <[u8; 32]>::from(Sha256::digest(text.as_bytes())));
        assert_ne!(b.position(4, "abc").0.digest, p.digest);
        assert_ne!(
            Builder::new("M", false).position(3, "abc").0.digest,
            p.digest
        );
    }
}
