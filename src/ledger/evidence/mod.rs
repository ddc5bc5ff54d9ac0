//! Evidence from outside: a contractor's erasure certificate (Art. 18-4), a photo of a
//! destruction, a lessor's receipt — files massho did not make but must keep, unchanged, with
//! the ledger.
//!
//! - [`store`]: the content-addressed directory beside the ledger (`LEDGER.evidence/sha256/ab/
//!   ab…`), written atomically and fsynced, read-only after;
//! - [`signature`]: checking a received document's signature (a `.p7s` now; the one place a
//!   signed PDF's check goes) and what the ledger records of that check;
//! - [`archive`]: RFC 3161 archive timestamps over every evidence file's hash and the chain head,
//!   so the evidence outlives its signers' certificates (Art. 30);
//! - [`audit`]: what `ledger verify` adds: every evidence file re-hashed, every token checked.
//!
//! The event types are here too, so that the whole idea sits in one place. The order of writes
//! (file first, event second) and what a crash between them leaves are in docs/ledger.md.

pub mod archive;
pub mod audit;
pub mod signature;
pub mod store;

use serde::{Deserialize, Serialize};

pub use archive::ArchiveStamp;
pub use signature::SignatureCheck;
pub use store::{EvidenceStore, StoreError};

/// What a piece of evidence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    /// A contractor's erasure or destruction certificate (Art. 18-4).
    ContractorCertificate,
    /// A photograph of the destroyed medium.
    DestructionPhoto,
    /// The lessor's receipt for a returned medium.
    LessorReceipt,
    Other,
}

impl EvidenceKind {
    pub fn name(self) -> &'static str {
        match self {
            EvidenceKind::ContractorCertificate => "contractor-certificate",
            EvidenceKind::DestructionPhoto => "destruction-photo",
            EvidenceKind::LessorReceipt => "lessor-receipt",
            EvidenceKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<EvidenceKind> {
        [
            EvidenceKind::ContractorCertificate,
            EvidenceKind::DestructionPhoto,
            EvidenceKind::LessorReceipt,
            EvidenceKind::Other,
        ]
        .into_iter()
        .find(|k| k.name() == s.trim())
    }
}

/// What an `evidence_added` event records: which file (by content), what it is, and what its
/// signature check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Serialized as `evidence_kind`: `kind` names the event.
    pub evidence_kind: EvidenceKind,
    /// SHA-256 of the file, lower-case hex: its name in the store.
    pub sha256: String,
    pub size: u64,
    /// The file's name as it was handed in (no directory).
    pub file_name: String,
    pub signature: SignatureCheck,
}

impl Evidence {
    /// Every file of the store this evidence refers to: the document, and the validation data
    /// kept with it (the `.p7s`, the trust anchor).
    pub fn blobs(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("file", self.sha256.as_str())];
        out.extend(self.signature.blobs());
        out
    }
}

/// The events a policy can guard.
pub const GUARDED_EVENTS: &[&str] = &["destroyed", "disposed", "returned"];

/// One line of the evidence policy: before an event of kind `event` (destroyed, disposed,
/// returned), the medium must have evidence of kind `evidence_kind`; with `outsourced_only`,
/// only when the event names a contractor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRule {
    pub event: String,
    pub evidence_kind: EvidenceKind,
    #[serde(default)]
    pub outsourced_only: bool,
}

impl EvidenceRule {
    /// "destroyed needs contractor-certificate (when a contractor is named)".
    pub fn describe(&self) -> String {
        format!(
            "{} needs {}{}",
            self.event,
            self.evidence_kind.name(),
            if self.outsourced_only {
                " (when a contractor is named)"
            } else {
                ""
            }
        )
    }
}

/// Why a file name cannot be recorded as an evidence file's original name, if it cannot: empty,
/// with a directory, or with control characters (which would repaint an auditor's terminal).
pub fn file_name_problem(name: &str) -> Option<String> {
    (name.trim().is_empty() || name.contains('/') || name.chars().any(char::is_control)).then(
        || {
            format!(
                "evidence file name {name:?} is empty, has a directory or control characters in it; rename the file"
            )
        },
    )
}

/// A lower-case SHA-256 in hex: what a store name and a recorded hash must look like.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{
        EventData, Ledger, LedgerError, MediumKind, NewEvent, Ownership, Registration,
    };

    fn event(medium: Option<&str>, data: EventData) -> NewEvent {
        NewEvent {
            medium: medium.map(str::to_owned),
            actor: "t".into(),
            time: None,
            note: None,
            data,
        }
    }

    fn evidence(kind: EvidenceKind, sha256: &str) -> EventData {
        EventData::EvidenceAdded(Evidence {
            evidence_kind: kind,
            sha256: sha256.into(),
            size: 1,
            file_name: "f.pdf".into(),
            signature: SignatureCheck::Unsigned,
        })
    }

    fn refused(r: Result<Vec<crate::ledger::Recorded>, LedgerError>) -> String {
        match r {
            Err(LedgerError::Rejected { reason, .. }) => reason.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_rules_hold_the_policy_and_refuse_malformed_evidence_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::create_or_open(&dir.path().join("l.sqlite")).unwrap();
        let registration = EventData::Registered(Registration {
            kind: MediumKind::Hdd,
            vendor: None,
            model: None,
            serial: None,
            capacity_bytes: None,
            department: None,
            personal_info: false,
            ownership: Ownership::Owned,
        });
        let destroyed = |contractor: Option<&str>, forced: Option<&str>| EventData::Destroyed {
            method: "shredding".into(),
            contractor: contractor.map(str::to_owned),
            certificate_file: None,
            certificate_sha256: None,
            witness: None,
            forced: forced.map(str::to_owned),
        };
        l.append_all(vec![
            event(Some("A"), registration.clone()),
            event(Some("B"), registration),
            event(
                None,
                EventData::EvidencePolicy {
                    rules: vec![EvidenceRule {
                        event: "destroyed".into(),
                        evidence_kind: EvidenceKind::ContractorCertificate,
                        outsourced_only: true,
                    }],
                },
            ),
        ])
        .unwrap();
        // In-house: not demanded. Outsourced: demanded until stored, or forced with a reason.
        l.append(event(Some("A"), destroyed(None, None))).unwrap();
        let why = refused(l.append_all(vec![event(Some("B"), destroyed(Some("K"), None))]));
        assert!(why.contains("demands contractor-certificate"), "{why}");
        let why = refused(l.append_all(vec![event(Some("B"), destroyed(Some("K"), Some(" ")))]));
        assert!(why.contains("demands"), "{why}");
        let sha = "a".repeat(64);
        l.append(event(
            Some("B"),
            evidence(EvidenceKind::ContractorCertificate, &sha),
        ))
        .unwrap();
        l.append(event(Some("B"), destroyed(Some("K"), None)))
            .unwrap();
        assert_eq!(
            l.medium("B").unwrap().unwrap().evidence,
            vec![EvidenceKind::ContractorCertificate]
        );

        // A hash that is not one (it would name a path outside the store), a policy for an
        // event it cannot guard, a timestamp covering itself, ledger events naming a medium.
        let why = refused(l.append_all(vec![event(
            Some("A"),
            evidence(EvidenceKind::Other, "../../etc/passwd"),
        )]));
        assert!(why.contains("SHA-256"), "{why}");
        let why = refused(l.append_all(vec![event(
            None,
            EventData::EvidencePolicy {
                rules: vec![EvidenceRule {
                    event: "stored".into(),
                    evidence_kind: EvidenceKind::Other,
                    outsourced_only: false,
                }],
            },
        )]));
        assert!(why.contains("not \"stored\""), "{why}");
        let (events, head) = l.head().unwrap();
        let stamp = |covers: u64| {
            EventData::EvidenceTimestamped(ArchiveStamp {
                events: covers,
                head: head.clone(),
                evidence_files: 1,
                imprint: sha.clone(),
                token_sha256: sha.clone(),
                gen_time: "2026-12-01T00:00:00Z".into(),
                serial: "01".into(),
            })
        };
        let why = refused(l.append_all(vec![event(None, stamp(events + 1))]));
        assert!(why.contains("must cover events before it"), "{why}");
        let why = refused(l.append_all(vec![event(
            Some("A"),
            EventData::EvidencePolicy { rules: vec![] },
        )]));
        assert!(why.contains("about the ledger, not medium A"), "{why}");
        l.append(event(None, stamp(events))).unwrap();
        // The original name is shown to auditors: no terminal escapes.
        assert!(file_name_problem("scan\u{1b}[2J.jpg").is_some());
        assert!(file_name_problem("受領書.pdf").is_none());
    }
}
