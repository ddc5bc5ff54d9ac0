//! What `ledger verify` adds for the evidence: every file an event names is re-hashed in the
//! store, every archive timestamp is checked (its imprint against the message recomputed from
//! the chain, the TSA's signature with `--tsa-cert`), and files no event names are listed.

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

use super::archive;
use super::is_sha256_hex;
use super::store::{EvidenceStore, FileState};
use crate::ledger::event::{Event, EventData};
use crate::ledger::{Ledger, LedgerError};

/// The evidence part of a verification.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvidenceAudit {
    /// Where the store is.
    pub store: String,
    /// Evidence events checked, and the store files they name.
    pub evidence: u64,
    pub files_checked: u64,
    /// Archive timestamps checked, and whether their TSA signatures were (with --tsa-cert).
    pub timestamps: u64,
    pub tsa_signatures_checked: bool,
    /// Each missing or altered file, each bad token, naming the medium, kind, path and hash.
    pub problems: Vec<String>,
    /// Files in the store that no event names (an interrupted `media evidence`).
    pub unreferenced: Vec<String>,
}

/// Check the evidence named by the ledger's first `upto` events (those verification vouched
/// for).
pub fn audit(
    ledger: &Ledger,
    upto: u64,
    tsa_cert: Option<&[u8]>,
) -> Result<EvidenceAudit, LedgerError> {
    let store = EvidenceStore::beside(ledger.path());
    let mut out = EvidenceAudit {
        store: store.root().display().to_string(),
        tsa_signatures_checked: tsa_cert.is_some(),
        ..EvidenceAudit::default()
    };
    let mut events: Vec<Event> = Vec::new();
    if upto > 0 {
        archive::walk(ledger, Some(upto), false, |_, _, _, e| {
            if let Some(e) = e {
                events.push(e.clone());
            }
            true
        })?;
    }
    let mut named = HashSet::new();
    let wanted: BTreeSet<u64> = events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::EvidenceTimestamped(s) => Some(s.events),
            _ => None,
        })
        .collect();
    let positions = archive::positions(ledger, &wanted, false)?;
    for e in &events {
        match &e.data {
            EventData::EvidenceAdded(ev) => {
                out.evidence += 1;
                let what = format!(
                    "medium {}: evidence {} {:?} (event {})",
                    e.medium.as_deref().unwrap_or("-"),
                    ev.evidence_kind.name(),
                    ev.file_name,
                    e.seq
                );
                for (role, sha) in ev.blobs() {
                    named.insert(sha.to_owned());
                    out.files_checked += 1;
                    if let Some(p) = file_problem(&store, &what, role, sha) {
                        out.problems.push(p);
                    }
                }
            }
            EventData::EvidenceTimestamped(s) => {
                out.timestamps += 1;
                named.insert(s.token_sha256.clone());
                out.files_checked += 1;
                let what = format!(
                    "archive timestamp (event {}) over events 1–{}",
                    e.seq, s.events
                );
                if let Some(p) = file_problem(&store, &what, "token", &s.token_sha256) {
                    out.problems.push(p);
                    continue;
                }
                let position = positions.get(&s.events).map(|(p, _)| p);
                if let Some(p) = stamp_problem(&store, s, position, tsa_cert) {
                    out.problems.push(format!("{what}: {p}"));
                }
            }
            _ => {}
        }
    }
    let names = store.names().map_err(|e| LedgerError::Unreadable {
        path: store.root().to_path_buf(),
        why: e.to_string(),
    })?;
    for (name, path) in names {
        if !named.contains(&name) && !name.starts_with(".massho-tmp-") {
            out.unreferenced.push(path.display().to_string());
        }
    }
    Ok(out)
}

/// A store file that is not there as recorded.
fn file_problem(store: &EvidenceStore, what: &str, role: &str, sha: &str) -> Option<String> {
    if !is_sha256_hex(sha) {
        return Some(format!(
            "{what}: its {role} is recorded under {sha:?}, which is not a SHA-256"
        ));
    }
    let path = store.path_of(sha);
    match store.check(sha) {
        FileState::Intact => None,
        FileState::Missing => Some(format!(
            "{what}: its {role} {} is MISSING (expected SHA-256 {sha}); restore it from a backup",
            path.display()
        )),
        FileState::Altered(actual) => Some(format!(
            "{what}: its {role} {} was ALTERED: it hashes to {actual}, the ledger recorded {sha}; restore it from a backup",
            path.display()
        )),
        FileState::Unreadable(why) => Some(format!(
            "{what}: its {role} {} cannot be read ({why})",
            path.display()
        )),
    }
}

/// What is wrong with an archive timestamp whose token file is intact.
fn stamp_problem(
    store: &EvidenceStore,
    s: &archive::ArchiveStamp,
    position: Option<&archive::Position>,
    tsa_cert: Option<&[u8]>,
) -> Option<String> {
    let Some(p) = position else {
        return Some(format!("the ledger has no event {}", s.events));
    };
    if p.head != s.head {
        return Some(format!(
            "it names head {} but event {} hashes to {}",
            s.head, s.events, p.head
        ));
    }
    let digest = hex::encode(p.digest);
    if digest != s.imprint {
        return Some(format!(
            "its recorded imprint {} is not the archive message's digest {digest}",
            s.imprint
        ));
    }
    let tsr = match store.read(&s.token_sha256) {
        Ok(b) => b,
        Err(e) => return Some(e.to_string()),
    };
    let info = match crate::timestamp::check_token(&tsr, &p.digest) {
        Ok(i) => i,
        Err(e) => return Some(format!("the token does not cover the evidence: {e}")),
    };
    if info.gen_time != s.gen_time {
        return Some(format!(
            "the token says {}, the event {}",
            info.gen_time, s.gen_time
        ));
    }
    if let Some(cert) = tsa_cert {
        if let Err(e) = crate::timestamp::verify_tsa_signature(&tsr, cert) {
            return Some(format!("the TSA's signature does not check out: {e}"));
        }
    }
    None
}
