//! `massho ledger import`, `ledger export`, `ledger verify --export`: the CSV and JSON-lines
//! files that go in and out of the ledger (src/ledger/exchange.rs does the work).

use std::io::{self, Write};
use std::path::Path;

use super::args::{EncodingArg, ExportFormat, LedgerExportArgs, LedgerImportArgs, Recorder};
use super::{actor, from_ledger, open, open_read_only};
use crate::cli::{Exit, ExitError};
use crate::ledger::chain::{SealFile, Verification};
use crate::ledger::exchange::{self, Encoding, ExchangeError, Stamp};
use crate::sign::PublicKey;

/// `massho ledger import FILE`: register every medium of a CSV, all or none.
pub fn import(a: &LedgerImportArgs) -> anyhow::Result<Exit> {
    let file = &a.file;
    let bytes = crate::input::read_regular(file, "import file", crate::input::limit::IMPORT)
        .map_err(input_error)?;
    let encoding = match a.encoding {
        EncodingArg::Auto => Encoding::Auto,
        EncodingArg::Utf8 => Encoding::Utf8,
        EncodingArg::ShiftJis => Encoding::ShiftJis,
    };
    let (text, used) = exchange::decode(&bytes, encoding).map_err(|e| import_error(file, e))?;
    let rows = exchange::parse_media_csv(&text).map_err(|e| import_error(file, e))?;
    let stamp = stamp(&a.recorder)?;
    let mut ledger = open(&a.path)?;
    let done = exchange::import_media(&mut ledger, &rows, &stamp, a.dry_run)
        .map_err(|e| import_error(file, e))?;
    let stored = match done.stored {
        0 => String::new(),
        n if n == done.registered => ", all stored in cabinets".to_owned(),
        n => format!(", {n} of them stored in cabinets"),
    };
    if done.dry_run {
        safeln!(
            "dry run: {} media in {} ({}) pass every check against ledger {}: they would be registered{stored}; nothing was recorded",
            done.registered,
            file.display(),
            used.name(),
            ledger.path().display()
        );
    } else {
        safeln!(
            "registered {} media from {} ({}){stored}: events {}-{} in ledger {}",
            done.registered,
            file.display(),
            used.name(),
            done.first_seq.unwrap_or(0),
            done.last_seq.unwrap_or(0),
            ledger.path().display()
        );
    }
    Ok(Exit::Passed)
}

/// A file that cannot be read: the operator named the wrong thing (2), or the system failed.
pub(super) fn input_error(e: crate::input::InputError) -> anyhow::Error {
    if e.is_usage() {
        ExitError::usage(e.to_string())
    } else {
        e.into()
    }
}

/// Who records the import, when, and the note for rows without one: the recorder options.
fn stamp(rec: &Recorder) -> anyhow::Result<Stamp> {
    let time = super::at_arg(rec)?;
    Ok(Stamp {
        actor: actor(rec.operator.as_deref()),
        time,
        note: rec.note.clone().filter(|n| !n.trim().is_empty()),
    })
}

/// An import error with its exit code: a refusal by the rules (3), a malformed file (2).
fn import_error(file: &Path, e: ExchangeError) -> anyhow::Error {
    let say = |e: &ExchangeError| {
        let text = e.to_string();
        let sep = if text.contains('\n') { "\n" } else { "; " };
        super::safe_lines(&format!(
            "{}: {text}{sep}nothing was recorded",
            file.display()
        ))
    };
    match e {
        ExchangeError::Rejected { .. } => ExitError::refused(say(&e)),
        ExchangeError::Ledger(l) => from_ledger(l),
        ExchangeError::Write(_) | ExchangeError::Input(_) => e.into(),
        other => ExitError::usage(say(&other)),
    }
}

/// `massho ledger export`: every event with its hashes, to a new file or standard output.
pub fn export(a: &LedgerExportArgs) -> anyhow::Result<Exit> {
    let ledger = open_read_only(&a.path)?;
    let format = match a.format {
        ExportFormat::Csv => exchange::ExportFormat::Csv,
        ExportFormat::Jsonl => exchange::ExportFormat::Jsonl,
    };
    let Some(path) = &a.output else {
        let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
        let written = exchange::export(&ledger, format, &mut out)
            .and_then(|s| out.flush().map(|()| s).map_err(ExchangeError::from));
        return match written {
            Ok(_) => Ok(Exit::Passed),
            // Piped into `head`: the reader has what it wanted.
            Err(ExchangeError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                Ok(Exit::Passed)
            }
            Err(ExchangeError::Ledger(e)) => Err(from_ledger(e)),
            Err(e) => Err(e.into()),
        };
    };
    let exists = |p: &Path| {
        ExitError::usage(format!(
            "{} exists already: an export never replaces a file; choose another name or remove it",
            p.display()
        ))
    };
    if path.exists() {
        return Err(exists(path));
    }
    let summary =
        crate::atomic::create_new_streamed(path, |w| exchange::export(&ledger, format, w))
            .map_err(|e| match e {
                ExchangeError::Write(e) if e.kind() == io::ErrorKind::AlreadyExists => exists(path),
                ExchangeError::Write(e) => {
                    anyhow::anyhow!("cannot write the export to {}: {e}", path.display())
                }
                ExchangeError::Ledger(e) => from_ledger(e),
                other => other.into(),
            })?;
    safeln!(
        "exported {} events of ledger {} (id {}, head {}) to {}; check it with `massho ledger verify --export {}`",
        summary.events,
        ledger.path().display(),
        summary.ledger_id,
        summary.head,
        path.display(),
        path.display()
    );
    Ok(Exit::Passed)
}

/// `massho ledger verify --export FILE [--seal SEAL]...`.
pub fn verify_export(
    file: &Path,
    keys: &[PublicKey],
    seals: Vec<(String, SealFile)>,
) -> anyhow::Result<Verification> {
    exchange::verify_export_file(file, keys, seals).map_err(|e| match e {
        ExchangeError::Input(ref i) if i.is_usage() => ExitError::usage(e.to_string()),
        other => other.into(),
    })
}
