//! The media ledger: every medium's life from registration to disposal, as an append-only,
//! hash-chained event log in SQLite.
//!
//! - [`event`]: what an event says and how it is hashed into the chain;
//! - [`state`]: the rules, and the current state (where is each medium) derived from events;
//! - [`store`]: the SQLite database (schema migrations, WAL, appends in one transaction);
//! - [`chain`]: verification of the chain, the derived state and the signed seals;
//! - `database`: verification of what SQLite itself holds (integrity, schema, exact columns);
//! - [`report`]: the reports an auditor asks for;
//! - [`exchange`]: CSV import (UTF-8 or Shift_JIS) and CSV / JSON-lines export;
//! - [`wipe`]: a wipe's ledger pre-flight (which medium, may it be wiped) and its record;
//! - [`evidence`]: documents from outside (contractors' certificates, photos, receipts) in a
//!   content-addressed store beside the ledger, their signatures, archive timestamps.
//!
//! Design notes are in docs/ledger.md.

pub mod chain;
mod database;
pub mod event;
pub mod evidence;
pub mod exchange;
pub mod report;
pub mod state;
pub mod store;
pub mod wipe;

use std::path::{Path, PathBuf};

pub use event::{Event, EventData, MediumKind, Ownership, Registration};
pub use state::{Cabinet, Medium, MediumStatus};
pub use store::{Ledger, NewEvent, Recorded};
pub use wipe::{LedgerWarning, WipeLedgerError, WipeRecords};

/// The environment variable that names the ledger when `--ledger` is not given.
pub const LEDGER_ENV: &str = "MASSHO_LEDGER";

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    // `cause`, not `source`: the message already holds it, and an error chain would print it
    // twice.
    #[error("ledger {}: {cause}", path.display())]
    Sqlite {
        path: PathBuf,
        cause: rusqlite::Error,
    },
    #[error("no ledger at {}: create it with `massho ledger init --ledger {}` (or check --ledger / MASSHO_LEDGER)", path.display(), path.display())]
    Missing { path: PathBuf },
    #[error("cannot create the directory of ledger {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("ledger {} has schema version {found}, older than this massho's ({known}): run `massho ledger init --ledger {}` once, as its owner, to upgrade it", path.display(), path.display())]
    Outdated {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("ledger {} cannot be read here: {why}", path.display())]
    Unreadable { path: PathBuf, why: String },
    #[error("{} is not a massho ledger: {why}; check --ledger / MASSHO_LEDGER, or create a ledger with `massho ledger init --ledger PATH`", path.display())]
    NotALedger { path: PathBuf, why: String },
    #[error("ledger {} was written by a newer massho (schema version {found}, this massho knows {known}); upgrade massho", path.display())]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("ledger {}: {what}; run `massho ledger verify` and restore from a backup", path.display())]
    Damaged { path: PathBuf, what: String },
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
    /// A value massho made could not be turned into the bytes it stores; nothing was recorded.
    #[error("ledger: {what} cannot be serialized ({cause}); nothing was recorded. This is a bug in massho: report it")]
    Serialize { what: String, cause: String },
    /// An event the rules refuse; `at` is its position in the batch (0 for a single event).
    #[error("{reason}")]
    Rejected { at: usize, reason: state::Rejection },
}

/// Where the ledger lives when neither `--ledger` nor `MASSHO_LEDGER` says: the system-wide
/// `/var/lib/massho/ledger.sqlite` for root (a station's shared ledger), else
/// `$XDG_DATA_HOME/massho/ledger.sqlite` (`~/.local/share/massho/ledger.sqlite`).
pub fn default_path() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/massho/ledger.sqlite");
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("massho/ledger.sqlite")
}

/// The ledger path: the option, else `MASSHO_LEDGER`, else [`default_path`].
pub fn resolve_path(option: Option<&Path>) -> PathBuf {
    option
        .map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os(LEDGER_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(default_path)
}

/// Now, UTC, to the second, as events store it.
pub fn now_utc() -> String {
    utc_string(time::OffsetDateTime::now_utc())
}

/// A time as events store it: UTC, RFC 3339, whole seconds. For display; what is hashed uses
/// [`try_utc_string`].
pub fn utc_string(t: time::OffsetDateTime) -> String {
    try_utc_string(t).unwrap_or_else(|| t.to_string())
}

/// A time as events store it, or `None` for a time RFC 3339 cannot write (a year past 9999):
/// hashed bytes never come from a fallback form.
pub fn try_utc_string(t: time::OffsetDateTime) -> Option<String> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The local offset as "+09:00".
pub fn offset_string(offset: time::UtcOffset) -> String {
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
}

/// Parse a date written YYYY-MM-DD, for due dates and retention.
pub fn parse_date(s: &str) -> Option<time::Date> {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &f).ok()
}

/// Parse a time given on the command line or in a CSV: RFC 3339, or a date (midnight UTC).
pub fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    let s = s.trim();
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| parse_date(s).map(|d| d.midnight().assume_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_offsets_have_one_form() {
        let t = time::macros::datetime!(2026-11-25 13:40:00.5 +09:00);
        assert_eq!(utc_string(t), "2026-11-25T04:40:00Z");
        assert_eq!(
            offset_string(time::macros::offset!(+09:00)),
            "+09:00".to_owned()
        );
        assert_eq!(
            offset_string(time::macros::offset!(-03:30)),
            "-03:30".to_owned()
        );
        assert!(parse_date("2026-02-30").is_none());
        assert_eq!(
            parse_time("2026-11-25").map(utc_string).as_deref(),
            Some("2026-11-25T00:00:00Z")
        );
    }
}
