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

/// A lower-case SHA-256 in hex: what a store name and a recorded hash must look like.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
