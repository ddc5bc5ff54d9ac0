//! The ledger's exchange with the outside: export of every event with its chain hashes (for an
//! auditor, who can check the chain without the database), verification of such an export, and
//! import of an existing media list from a CSV file (UTF-8, or Shift_JIS as Excel writes it).
//!
//! An export is streamed row by row from one read snapshot, and a verification reads it row by
//! row into [`chain::Checker`]: a million events never sit in memory at once. The event body is
//! carried as the exact string that was hashed, so the export verifies byte for byte.
//!
//! An import is all or nothing: every row is parsed and checked first (every malformed row is
//! reported with its line number, column and value), then all the events go to the ledger in one
//! [`Ledger::append_all`] call, so a row the rules refuse (a duplicate asset tag, an unknown
//! cabinet) leaves the ledger untouched and is reported by its line number too.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::chain::SealFile;
use super::chain::{Checker, Row, Verification};
use super::event::{EventData, MediumKind, Ownership, Registration};
use super::{Ledger, LedgerError, NewEvent};
use crate::sign::PublicKey;

/// The `format` of a JSON-lines export's header line.
pub const EXPORT_FORMAT: &str = "massho.ledger-export.v1";

/// The header row of a CSV export: one row per event.
pub const CSV_COLUMNS: [&str; 9] = [
    "ledger_id",
    "seq",
    "time",
    "kind",
    "medium",
    "cabinet",
    "prev",
    "hash",
    "body",
];

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// At most this many malformed rows are listed in one error.
const MAX_ROW_PROBLEMS: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("cannot read {}: {source}", crate::text::path_safe(path))]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the export: {0}")]
    Write(#[from] io::Error),
    #[error("cannot read the export: {0}")]
    Stream(io::Error),
    /// The file named is not one to read (a FIFO, a directory, too big) or cannot be opened.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// Valid UTF-8 and valid Shift_JIS, with text beyond ASCII: the two readings differ, and
    /// guessing would store one of them silently.
    #[error("the file is valid both as UTF-8 and as Shift_JIS (line {line} reads {as_utf8:?} as UTF-8 but {as_sjis:?} as Shift_JIS): say which it is with --encoding utf-8 or --encoding shift_jis")]
    Ambiguous {
        line: u64,
        as_utf8: String,
        as_sjis: String,
    },
    #[error("line {line} is not valid {encoding}{hint}")]
    Encoding {
        line: u64,
        encoding: &'static str,
        hint: &'static str,
    },
    #[error("{0}")]
    Columns(String),
    #[error("line {line}: {problem}")]
    Csv { line: u64, problem: String },
    #[error("{}", RowProblems(.0))]
    Rows(Vec<RowProblem>),
    #[error("there are no media rows under the header")]
    Empty,
    /// A row the ledger's rules refuse.
    #[error("line {line} (asset {asset_tag}): {reason}")]
    Rejected {
        line: u64,
        asset_tag: String,
        reason: super::state::Rejection,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

// ---------------------------------------------------------------------------------------------
// Export

/// Which export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A header row and one row per event; starts with a UTF-8 byte-order mark, so that Excel
    /// shows Japanese text as such.
    Csv,
    /// A header line (format, ledger id, event count, head), then one JSON object per event.
    Jsonl,
}

/// The first line of a JSON-lines export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportHeader {
    pub format: String,
    pub ledger_id: String,
    pub exported_at: String,
    /// How many event lines follow.
    pub events: u64,
    /// The hash of the last of them.
    pub head: String,
}

/// One event line of a JSON-lines export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportLine {
    seq: u64,
    time: String,
    kind: String,
    medium: Option<String>,
    cabinet: Option<String>,
    prev: String,
    hash: String,
    /// The exact bytes that were hashed.
    body: String,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub ledger_id: String,
    pub events: u64,
    pub head: String,
}

/// Write every event with its chain hashes to `out`, streaming from one read snapshot of the
/// ledger (appends made meanwhile by other processes are not included).
pub fn export(
    ledger: &Ledger,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<ExportSummary, ExchangeError> {
    let conn = ledger.conn();
    // A read transaction: the head and the rows come from the same snapshot.
    let snapshot = conn.unchecked_transaction().map_err(|e| ledger.sql(e))?;
    let (events, head) = ledger.head()?;
    let summary = ExportSummary {
        ledger_id: ledger.id().to_owned(),
        events,
        head,
    };
    let mut stmt = snapshot
        .prepare(
            "SELECT seq, time, kind, medium, cabinet, body, prev, hash FROM events
             WHERE seq <= ?1 ORDER BY seq",
        )
        .map_err(|e| ledger.sql(e))?;
    let mut rows = stmt
        .query([summary.events as i64])
        .map_err(|e| ledger.sql(e))?;
    let mut next_row = || -> Result<Option<Row>, ExchangeError> {
        let Some(r) = rows.next().map_err(|e| ledger.sql(e))? else {
            return Ok(None);
        };
        let get = |e| ledger.sql(e);
        Ok(Some(Row {
            seq: {
                let seq = r.get::<_, i64>(0).map_err(get)?;
                u64::try_from(seq).map_err(|_| LedgerError::Damaged {
                    path: ledger.path().to_path_buf(),
                    what: format!("event row with position {seq}"),
                })?
            },
            time: r.get(1).map_err(get)?,
            kind: r.get(2).map_err(get)?,
            medium: r.get(3).map_err(get)?,
            cabinet: r.get(4).map_err(get)?,
            body: r.get(5).map_err(get)?,
            prev: r.get(6).map_err(get)?,
            hash: r.get(7).map_err(get)?,
        }))
    };
    match format {
        ExportFormat::Jsonl => {
            let header = ExportHeader {
                format: EXPORT_FORMAT.to_owned(),
                ledger_id: summary.ledger_id.clone(),
                exported_at: super::now_utc(),
                events: summary.events,
                head: summary.head.clone(),
            };
            write_json_line(out, &header)?;
            while let Some(row) = next_row()? {
                let line = ExportLine {
                    seq: row.seq,
                    time: row.time,
                    kind: row.kind,
                    medium: row.medium,
                    cabinet: row.cabinet,
                    prev: row.prev,
                    hash: row.hash,
                    body: row.body,
                };
                write_json_line(out, &line)?;
            }
        }
        ExportFormat::Csv => {
            out.write_all(UTF8_BOM)?;
            let mut w = csv::Writer::from_writer(out);
            w.write_record(CSV_COLUMNS).map_err(csv_write)?;
            while let Some(row) = next_row()? {
                let cells = [
                    summary.ledger_id.as_str(),
                    &row.seq.to_string(),
                    &row.time,
                    &row.kind,
                    row.medium.as_deref().unwrap_or(""),
                    row.cabinet.as_deref().unwrap_or(""),
                    &row.prev,
                    &row.hash,
                    &row.body,
                ];
                w.write_record(cells.map(csv_cell).iter().map(|c| c.as_ref()))
                    .map_err(csv_write)?;
            }
            let events = summary.events.to_string();
            let end = [CSV_END, &events, "", "", "", "", "", &summary.head, ""];
            w.write_record(end).map_err(csv_write)?;
            w.flush()?;
        }
    }
    Ok(summary)
}

fn write_json_line<T: Serialize>(out: &mut dyn Write, value: &T) -> Result<(), ExchangeError> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

fn csv_write(e: csv::Error) -> ExchangeError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => ExchangeError::Write(e),
        other => ExchangeError::Write(io::Error::other(format!("{other:?}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Verification of an export

/// Verify an export file: see [`verify_export`]. The file is opened once and must be a regular
/// file (a FIFO or a device is refused before a byte is read); it is streamed from that one
/// descriptor, at most [`crate::input::limit::EXPORT`] bytes, so the bytes judged are the bytes
/// read.
pub fn verify_export_file(
    path: &Path,
    keys: &[PublicKey],
    seals: Vec<(String, SealFile)>,
) -> Result<Verification, ExchangeError> {
    let limit = crate::input::limit::EXPORT;
    let (file, _) = crate::input::open_regular(path, "ledger export", limit)?;
    let input = io::BufReader::with_capacity(1 << 16, io::Read::take(file, limit));
    verify_export(input, keys, seals).map_err(|e| match e {
        ExchangeError::Stream(source) => ExchangeError::Read {
            path: path.to_path_buf(),
            source,
        },
        other => other,
    })
}

/// Verify an export (JSON lines when its first non-blank byte is `{`, else CSV): the chain, the
/// rules replayed from the first event, the seals (with `keys`), the kept `seals` (their hash at
/// their position), and that the file holds as many events as its header (JSON lines) or end row
/// (CSV) says, ending in that head. A malformed line is a problem naming its line number. Only a
/// read error is an `Err`.
pub fn verify_export(
    mut input: impl BufRead,
    keys: &[PublicKey],
    seals: Vec<(String, SealFile)>,
) -> Result<Verification, ExchangeError> {
    if input
        .fill_buf()
        .map_err(ExchangeError::Stream)?
        .starts_with(UTF8_BOM)
    {
        input.consume(UTF8_BOM.len());
    }
    let first = input
        .fill_buf()
        .map_err(ExchangeError::Stream)?
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    match first {
        None => Ok(failed(
            "",
            "the file is empty: it is not a ledger export".into(),
        )),
        Some(b'{') => verify_jsonl(input, keys, seals),
        Some(_) => verify_csv(input, keys, seals),
    }
}

fn failed(ledger_id: &str, problem: String) -> Verification {
    let mut v = Checker::new(ledger_id, &[]).finish();
    v.problems.push(problem);
    v
}

fn verify_jsonl(
    mut input: impl BufRead,
    keys: &[PublicKey],
    seals: Vec<(String, SealFile)>,
) -> Result<Verification, ExchangeError> {
    let mut bytes = Vec::new();
    let mut line_no = 0u64;
    // The header: the first non-blank line.
    let header = loop {
        bytes.clear();
        if input
            .read_until(b'\n', &mut bytes)
            .map_err(ExchangeError::Stream)?
            == 0
        {
            return Ok(failed("", "the file has no header line".into()));
        }
        line_no += 1;
        if !bytes.trim_ascii().is_empty() {
            break serde_json::from_slice::<ExportHeader>(&bytes);
        }
    };
    let header = match header {
        Ok(h) if h.format == EXPORT_FORMAT => h,
        Ok(h) => {
            return Ok(failed(
                &h.ledger_id,
                format!(
                    "line {line_no}: the export is in format {:?}, not {EXPORT_FORMAT}",
                    h.format
                ),
            ))
        }
        Err(e) => {
            return Ok(failed(
                "",
                format!("line {line_no}: not the header of a massho ledger export: {e}"),
            ))
        }
    };
    let mut checker = Checker::new(&header.ledger_id, keys).with_seal_files(seals);
    let mut malformed = None;
    let mut stopped = false;
    loop {
        bytes.clear();
        if input
            .read_until(b'\n', &mut bytes)
            .map_err(ExchangeError::Stream)?
            == 0
        {
            break;
        }
        line_no += 1;
        if bytes.trim_ascii().is_empty() {
            continue;
        }
        let line = match serde_json::from_slice::<ExportLine>(&bytes) {
            Ok(l) => l,
            Err(e) => {
                malformed = Some(format!("line {line_no}: not a valid event line: {e}"));
                break;
            }
        };
        let row = Row {
            seq: line.seq,
            time: line.time,
            kind: line.kind,
            medium: line.medium,
            cabinet: line.cabinet,
            body: line.body,
            prev: line.prev,
            hash: line.hash,
        };
        if !checker.row(&row) {
            stopped = true;
            break;
        }
    }
    let mut v = checker.finish();
    if let Some(p) = malformed {
        v.problems.push(p);
    } else if !stopped && (v.events != header.events || v.head != header.head) {
        v.problems.push(if v.events < header.events {
            format!(
                "the export's header says {} events ending in {}, but the file holds only {} (ending in {}): the export is truncated or events were removed from its end",
                header.events,
                short(&header.head),
                v.events,
                short(&v.head)
            )
        } else {
            format!(
                "the export's header says {} events ending in {}, but the file holds {} ending in {}: events were added or the header was changed",
                header.events,
                short(&header.head),
                v.events,
                short(&v.head)
            )
        });
    }
    Ok(v)
}

fn verify_csv(
    input: impl BufRead,
    keys: &[PublicKey],
    seals: Vec<(String, SealFile)>,
) -> Result<Verification, ExchangeError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut record = csv::StringRecord::new();
    let mut seals = Some(seals);
    let mut checker: Option<(Checker, String)> = None;
    let mut malformed = None;
    let mut header_seen = false;
    let mut stopped = false;
    // The end row: (line, events, head).
    let mut end: Option<(u64, String, String)> = None;
    loop {
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                if let csv::ErrorKind::Io(io) = e.into_kind() {
                    return Err(ExchangeError::Stream(io));
                }
                malformed = Some(format!("line {line}: not valid CSV (or not UTF-8)"));
                break;
            }
        };
        if !more {
            break;
        }
        let line = record.position().map_or(0, csv::Position::line);
        if !header_seen {
            if record.iter().ne(CSV_COLUMNS) {
                malformed = Some(format!(
                    "line {line}: not the header of a massho ledger export (expected {})",
                    CSV_COLUMNS.join(",")
                ));
                break;
            }
            header_seen = true;
            continue;
        }
        if record.len() != CSV_COLUMNS.len() {
            malformed = Some(format!(
                "line {line}: {} fields where an event row has {}",
                record.len(),
                CSV_COLUMNS.len()
            ));
            break;
        }
        if let Some((end_line, ..)) = &end {
            malformed = Some(format!(
                "line {line}: a row after the end row (line {end_line}): rows were appended to the export"
            ));
            break;
        }
        let cell = |i: usize| csv_cell_value(&record[i]);
        if record[0] == *CSV_END {
            end = Some((line, cell(1).into_owned(), cell(7).into_owned()));
            continue;
        }
        let ledger_id = cell(0);
        let (checker, first_id) = checker.get_or_insert_with(|| {
            (
                Checker::new(&ledger_id, keys).with_seal_files(seals.take().unwrap_or_default()),
                ledger_id.clone().into_owned(),
            )
        });
        if *first_id != ledger_id {
            malformed = Some(format!(
                "line {line}: ledger_id {ledger_id} differs from the rows before ({first_id}): rows of another ledger"
            ));
            break;
        }
        let Ok(seq) = cell(1).parse::<u64>() else {
            malformed = Some(format!("line {line}: seq {:?} is not a number", &record[1]));
            break;
        };
        let optional = |s: std::borrow::Cow<'_, str>| (!s.is_empty()).then(|| s.into_owned());
        let row = Row {
            seq,
            time: cell(2).into_owned(),
            kind: cell(3).into_owned(),
            medium: optional(cell(4)),
            cabinet: optional(cell(5)),
            prev: cell(6).into_owned(),
            hash: cell(7).into_owned(),
            body: cell(8).into_owned(),
        };
        if !checker.row(&row) {
            stopped = true;
            break;
        }
    }
    let mut v = match checker {
        Some((c, _)) => c.finish(),
        None => Checker::new("", keys)
            .with_seal_files(seals.take().unwrap_or_default())
            .finish(),
    };
    if let Some(p) = malformed {
        v.problems.push(p);
    } else if !header_seen {
        v.problems
            .push("the file is empty: it is not a ledger export".into());
    } else if !stopped {
        match end {
            None => v.problems.push(format!(
                "the export has no end row ({} with the event count and head): it is truncated after event {} (ending in {}), or was cut by an editor",
                CSV_END,
                v.events,
                short(&v.head)
            )),
            Some((line, events, head)) if events != v.events.to_string() || head != v.head => {
                v.problems.push(format!(
                    "line {line}: the end row says {events} events ending in {}, but the file holds {} ending in {}: rows were removed or added",
                    short(&head),
                    v.events,
                    short(&v.head)
                ))
            }
            Some(_) => {}
        }
    }
    Ok(v)
}

/// The first cell of the CSV export's last row: its other cells say how many events the export
/// holds (the `seq` column) and the head hash (the `hash` column), so that a file cut after any
/// row fails as truncated.
pub const CSV_END: &str = "#end";

/// A CSV cell as written for spreadsheets: a cell that starts like a formula (see
/// [`crate::text::spreadsheet_safe`]) or with `'` gets one `'` in front. Reversible: a reader
/// drops exactly one leading `'` ([`csv_cell_value`]).
pub fn csv_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with('\'') {
        format!("'{value}").into()
    } else {
        crate::text::spreadsheet_safe(value)
    }
}

/// The value of a cell [`csv_cell`] wrote: one leading `'` dropped.
pub fn csv_cell_value(cell: &str) -> std::borrow::Cow<'_, str> {
    cell.strip_prefix('\'').unwrap_or(cell).into()
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

// ---------------------------------------------------------------------------------------------
// Import

/// The encoding of a CSV to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 if the bytes are valid UTF-8 (with or without a byte-order mark), else Shift_JIS.
    Auto,
    Utf8,
    /// What Excel writes on a Japanese Windows ("CSV (comma delimited)"): Windows-31J, i.e.
    /// Shift_JIS with Microsoft's extensions (①, ㈱, NEC and IBM kanji), which is what the WHATWG
    /// `Shift_JIS` of encoding_rs decodes.
    ShiftJis,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Auto => "auto",
            Encoding::Utf8 => "UTF-8",
            Encoding::ShiftJis => "Shift_JIS",
        }
    }
}

/// Decode a CSV file's bytes; returns the text (without a byte-order mark) and the encoding used.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<(String, Encoding), ExchangeError> {
    let line_of =
        |offset: usize| 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count() as u64;
    let utf8 = |bytes: &[u8]| -> Result<String, ExchangeError> {
        let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        std::str::from_utf8(body)
            .map(str::to_owned)
            .map_err(|e| ExchangeError::Encoding {
                line: line_of(e.valid_up_to() + (bytes.len() - body.len())),
                encoding: "UTF-8",
                hint: "; if the file was saved by Excel as plain \"CSV\", try --encoding shift_jis",
            })
    };
    match encoding {
        Encoding::Utf8 => Ok((utf8(bytes)?, Encoding::Utf8)),
        Encoding::Auto if bytes.starts_with(UTF8_BOM) || bytes.is_ascii() => {
            Ok((utf8(bytes)?, Encoding::Utf8))
        }
        Encoding::Auto if std::str::from_utf8(bytes).is_ok() => {
            // Half-width katakana (0xA1-0xDF) and kanji pairs in Shift_JIS can also be valid
            // UTF-8: with text beyond ASCII that reads as both, only the operator knows.
            match encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
            {
                Some(sjis) => {
                    let text = utf8(bytes)?;
                    let (line, as_utf8, as_sjis) = first_difference(&text, &sjis);
                    Err(ExchangeError::Ambiguous {
                        line,
                        as_utf8,
                        as_sjis,
                    })
                }
                None => Ok((utf8(bytes)?, Encoding::Utf8)),
            }
        }
        Encoding::Auto | Encoding::ShiftJis => {
            match encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
            {
                Some(text) => Ok((text.into_owned(), Encoding::ShiftJis)),
                None => {
                    // Find the first undecodable byte: the first replacement character.
                    let (text, _) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
                    let line = text
                        .find('\u{FFFD}')
                        .map_or(0, |at| 1 + text[..at].matches('\n').count() as u64);
                    Err(ExchangeError::Encoding {
                        line,
                        encoding: "Shift_JIS",
                        hint: if encoding == Encoding::Auto {
                            " (nor UTF-8): save it from Excel as \"CSV UTF-8\" or \"CSV\""
                        } else {
                            "; if it is UTF-8, try --encoding utf-8"
                        },
                    })
                }
            }
        }
    }
}

/// The first line where two readings of a file differ: its number and both readings.
fn first_difference(a: &str, b: &str) -> (u64, String, String) {
    let lines = a.split('\n').zip(b.split('\n'));
    for (i, (x, y)) in lines.enumerate() {
        if x != y {
            let cut = |s: &str| {
                s.trim_end_matches('\r')
                    .chars()
                    .take(60)
                    .collect::<String>()
            };
            return (i as u64 + 1, cut(x), cut(y));
        }
    }
    (1, String::new(), String::new())
}

/// A column of the import CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    AssetTag,
    Kind,
    Vendor,
    Model,
    Serial,
    Capacity,
    Department,
    PersonalInfo,
    Lessor,
    Contract,
    ReturnDue,
    Cabinet,
    Slot,
    Note,
}

/// Every column with the header names it is known by (compared after [`normalize_header`]).
const COLUMNS: &[(Column, &[&str])] = &[
    (
        Column::AssetTag,
        &["asset_tag", "asset", "tag", "資産番号", "管理番号"],
    ),
    (Column::Kind, &["kind", "type", "種別", "媒体種別"]),
    (
        Column::Vendor,
        &["vendor", "manufacturer", "maker", "メーカー"],
    ),
    (Column::Model, &["model", "型番", "機種"]),
    (
        Column::Serial,
        &["serial", "serial_number", "シリアル番号", "製造番号"],
    ),
    (Column::Capacity, &["capacity", "容量"]),
    (
        Column::Department,
        &["department", "部署", "所管部署", "管理部署"],
    ),
    (Column::PersonalInfo, &["personal_info", "個人情報"]),
    (Column::Lessor, &["lessor", "リース会社", "貸主"]),
    (Column::Contract, &["contract", "契約番号"]),
    (Column::ReturnDue, &["return_due", "返却期限", "返却予定日"]),
    (
        Column::Cabinet,
        &["cabinet", "保管場所", "保管庫", "キャビネット"],
    ),
    (Column::Slot, &["slot", "棚", "段"]),
    (Column::Note, &["note", "備考"]),
];

/// Header names compare without case, spaces (ASCII or full-width), `_` and `-`.
fn normalize_header(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn column_of(header: &str) -> Option<Column> {
    let h = normalize_header(header);
    COLUMNS
        .iter()
        .find(|(_, names)| names.iter().any(|n| normalize_header(n) == h))
        .map(|(c, _)| *c)
}

fn column_names() -> String {
    COLUMNS
        .iter()
        .map(|(_, names)| names.join("/"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One medium to register, from one row of the CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediumRow {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub asset_tag: String,
    pub registration: Registration,
    pub cabinet: Option<String>,
    pub slot: Option<String>,
    pub note: Option<String>,
}

/// A malformed cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub line: u64,
    /// The column's header as written in the file.
    pub column: String,
    pub value: String,
    pub problem: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(
                f,
                "line {}, column {}: empty: {}",
                self.line, self.column, self.problem
            )
        } else {
            write!(
                f,
                "line {}, column {}: {:?}: {}",
                self.line, self.column, self.value, self.problem
            )
        }
    }
}

struct RowProblems<'a>(&'a [RowProblem]);

impl fmt::Display for RowProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [one] = self.0 {
            return write!(f, "{one}");
        }
        write!(f, "{} cells cannot be imported:", self.0.len())?;
        for p in self.0.iter().take(MAX_ROW_PROBLEMS) {
            write!(f, "\n  {p}")?;
        }
        if self.0.len() > MAX_ROW_PROBLEMS {
            write!(f, "\n  ... and {} more", self.0.len() - MAX_ROW_PROBLEMS)?;
        }
        Ok(())
    }
}

/// Read the media of a CSV (already decoded): a header row naming the columns (English or
/// Japanese names, any case; see docs/ledger.md), then one medium per row. Blank rows are
/// skipped. Every malformed cell of every row is reported, each with its line number.
///
/// A column whose header is unknown is an error (its data would otherwise be lost without a
/// word); a column whose header starts with `#` is skipped on purpose.
pub fn parse_media_csv(text: &str) -> Result<Vec<MediumRow>, ExchangeError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = loop {
        match records.next() {
            None => return Err(ExchangeError::Columns("the file is empty: it needs a header row naming its columns, then one medium per row".into())),
            Some(r) => {
                let r = r.map_err(csv_read)?;
                if !blank(&r) {
                    break r;
                }
            }
        }
    };
    let header_line = header.position().map_or(1, csv::Position::line);
    let layout = Layout::of(&header, header_line)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut tags: HashMap<String, u64> = HashMap::new();
    for record in records {
        let record = record.map_err(csv_read)?;
        if blank(&record) {
            continue;
        }
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() > header.len() {
            if let Some((i, v)) = record
                .iter()
                .enumerate()
                .skip(header.len())
                .find(|(_, v)| !v.trim().is_empty())
            {
                problems.push(RowProblem {
                    line,
                    column: format!("{} (which has no header)", i + 1),
                    value: v.to_owned(),
                    problem:
                        "the row has more cells than the header; name the column in the header row"
                            .into(),
                });
                continue;
            }
        }
        let mut cells = Cells {
            layout: &layout,
            record: &record,
            line,
            problems: &mut problems,
        };
        if let Some(row) = cells.medium() {
            if let Some(first) = tags.get(&row.asset_tag) {
                problems.push(RowProblem {
                    line,
                    column: layout.header(Column::AssetTag).to_owned(),
                    value: row.asset_tag.clone(),
                    problem: format!("the same asset tag as line {first}; one row per medium"),
                });
            } else {
                tags.insert(row.asset_tag.clone(), line);
                rows.push(row);
            }
        }
        for i in &layout.unnamed {
            if let Some(v) = record.get(*i).filter(|v| !v.trim().is_empty()) {
                problems.push(RowProblem {
                    line,
                    column: format!("{} (which has no header)", i + 1),
                    value: v.to_owned(),
                    problem: "name the column in the header row, or empty it".into(),
                });
            }
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.line);
        return Err(ExchangeError::Rows(problems));
    }
    if rows.is_empty() {
        return Err(ExchangeError::Empty);
    }
    Ok(rows)
}

fn blank(r: &csv::StringRecord) -> bool {
    r.iter().all(|v| v.trim().is_empty())
}

fn csv_read(e: csv::Error) -> ExchangeError {
    let line = e.position().map_or(0, csv::Position::line);
    let problem = match e.kind() {
        csv::ErrorKind::UnequalLengths { .. } => "a row with a different number of cells".into(),
        _ => format!("not valid CSV: {e}"),
    };
    ExchangeError::Csv { line, problem }
}

/// Which column holds what.
struct Layout {
    index: HashMap<Column, usize>,
    headers: HashMap<Column, String>,
    /// Columns without a header: they must stay empty.
    unnamed: Vec<usize>,
}

impl Layout {
    fn of(header: &csv::StringRecord, line: u64) -> Result<Layout, ExchangeError> {
        let mut index = HashMap::new();
        let mut headers = HashMap::new();
        let mut unnamed = Vec::new();
        let mut unknown = Vec::new();
        for (i, name) in header.iter().enumerate() {
            let trimmed = name.trim();
            if trimmed.is_empty() {
                unnamed.push(i);
                continue;
            }
            if trimmed.starts_with('#') {
                continue;
            }
            match column_of(trimmed) {
                Some(c) => {
                    if let Some(other) = headers.get(&c) {
                        return Err(ExchangeError::Columns(format!(
                            "line {line}: columns {other:?} and {trimmed:?} both name the same field; keep one"
                        )));
                    }
                    index.insert(c, i);
                    headers.insert(c, trimmed.to_owned());
                }
                None => unknown.push(format!("{trimmed:?}")),
            }
        }
        if !unknown.is_empty() {
            return Err(ExchangeError::Columns(format!(
                "line {line}: unknown column(s) {}: rename each to a known column, remove it, or start its header with # to skip it on purpose. Known columns: {}",
                unknown.join(", "),
                column_names()
            )));
        }
        let missing: Vec<_> = [Column::AssetTag, Column::Kind]
            .into_iter()
            .filter(|c| !index.contains_key(c))
            .map(|c| {
                COLUMNS
                    .iter()
                    .find(|(k, _)| *k == c)
                    .map_or(String::new(), |(_, names)| names.join("/"))
            })
            .collect();
        if !missing.is_empty() {
            return Err(ExchangeError::Columns(format!(
                "line {line}: the header has no {} column; every medium needs an asset tag and a kind",
                missing.join(" and no ")
            )));
        }
        Ok(Layout {
            index,
            headers,
            unnamed,
        })
    }

    fn header(&self, c: Column) -> &str {
        self.headers.get(&c).map_or("", String::as_str)
    }
}

/// One record's cells, collecting problems.
struct Cells<'a> {
    layout: &'a Layout,
    record: &'a csv::StringRecord,
    line: u64,
    problems: &'a mut Vec<RowProblem>,
}

impl Cells<'_> {
    /// The trimmed cell, `None` when the column is absent or the cell empty. A cell written for
    /// spreadsheets (see [`csv_cell`]) loses its one leading `'`.
    fn get(&self, c: Column) -> Option<String> {
        let i = *self.layout.index.get(&c)?;
        let v = csv_cell_value(self.record.get(i)?.trim()).trim().to_owned();
        (!v.is_empty()).then_some(v)
    }

    fn problem(&mut self, c: Column, value: &str, problem: impl Into<String>) {
        self.problems.push(RowProblem {
            line: self.line,
            column: self.layout.header(c).to_owned(),
            value: value.to_owned(),
            problem: problem.into(),
        });
    }

    /// The medium of this row; `None` when a cell is malformed (the problem is recorded).
    fn medium(&mut self) -> Option<MediumRow> {
        let before = self.problems.len();
        let asset_tag = self.get(Column::AssetTag);
        if asset_tag.is_none() {
            self.problem(Column::AssetTag, "", "every medium needs an asset tag");
        }
        let kind = match self.get(Column::Kind) {
            None => {
                self.problem(
                    Column::Kind,
                    "",
                    "every medium needs a kind (hdd, ssd, nvme, usb-flash, sd, optical, tape, other)",
                );
                None
            }
            Some(k) => {
                let kind = MediumKind::parse(&k);
                if kind.is_none() {
                    self.problem(Column::Kind, &k, "not a kind of medium: write hdd, ssd, nvme, usb-flash, sd, optical, tape or other (or ハードディスク, USBメモリ, SDカード, 光ディスク, テープ, その他)");
                }
                kind
            }
        };
        let capacity_bytes = self.get(Column::Capacity).and_then(|c| {
            let bytes = parse_capacity(&c);
            if bytes.is_none() {
                let hint = if c.to_ascii_lowercase().contains("e+") {
                    "Excel's scientific notation loses digits: format the column as text, or write the capacity as 500G, 2T, 32GiB"
                } else {
                    "not a capacity: write bytes, or a number with a unit (500G, 2T, 32GiB, 500GB)"
                };
                self.problem(Column::Capacity, &c, hint);
            }
            bytes
        });
        let personal_info = match self.get(Column::PersonalInfo) {
            None => false,
            Some(v) => parse_yes_no(&v).unwrap_or_else(|| {
                self.problem(
                    Column::PersonalInfo,
                    &v,
                    "write yes or no (true/false, 1/0, 有/無, あり/なし, ○/×)",
                );
                false
            }),
        };
        let lessor = self.get(Column::Lessor);
        let contract = self.get(Column::Contract);
        let due_text = self.get(Column::ReturnDue);
        let return_due = due_text.clone().and_then(|d| {
            let date = parse_row_date(&d);
            if date.is_none() {
                self.problem(
                    Column::ReturnDue,
                    &d,
                    "not a date: write YYYY-MM-DD or YYYY/MM/DD (e.g. 2027-03-31 or 2027/3/31)",
                );
            }
            date
        });
        let ownership = match (lessor, contract) {
            (Some(lessor), Some(contract)) => Ownership::Leased {
                lessor,
                contract,
                return_due,
            },
            (None, None) => {
                if let (Some(d), Some(_)) = (&due_text, &return_due) {
                    self.problem(
                        Column::ReturnDue,
                        d,
                        "a return date needs a lessor and a contract number in the same row",
                    );
                }
                Ownership::Owned
            }
            (Some(l), None) => {
                self.problem(
                    Column::Lessor,
                    &l,
                    "a leased medium needs its contract number too",
                );
                Ownership::Owned
            }
            (None, Some(c)) => {
                self.problem(Column::Contract, &c, "a leased medium needs its lessor too");
                Ownership::Owned
            }
        };
        let cabinet = self.get(Column::Cabinet);
        let slot = self.get(Column::Slot);
        if let (None, Some(s)) = (&cabinet, &slot) {
            self.problem(Column::Slot, s, "a slot needs a cabinet in the same row");
        }
        if self.problems.len() > before {
            return None;
        }
        Some(MediumRow {
            line: self.line,
            asset_tag: asset_tag?,
            registration: Registration {
                kind: kind?,
                vendor: self.get(Column::Vendor),
                model: self.get(Column::Model),
                serial: self.get(Column::Serial),
                capacity_bytes,
                department: self.get(Column::Department),
                personal_info,
                ownership,
            },
            cabinet,
            slot,
            note: self.get(Column::Note),
        })
    }
}

/// A capacity: bytes ("500107862016"), or a number with a unit: decimal as drive makers label
/// them (500G, 500GB, 2T, 1.92TB) or binary (32GiB). `None` when it is not one, or not a whole
/// number of bytes, or too large.
pub fn parse_capacity(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let multiplier: u128 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "p" | "pb" => 1_000_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "pib" => 1 << 50,
        _ => return None,
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    // Thousands separators only in the whole part, and only in groups of three.
    let whole = if whole.contains(',') {
        let mut groups = whole.split(',');
        let first = groups.next()?;
        if first.is_empty() || first.len() > 3 || groups.clone().any(|g| g.len() != 3) {
            return None;
        }
        whole.replace(',', "")
    } else {
        whole.to_owned()
    };
    if whole.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 18 {
        return None;
    }
    let whole: u128 = whole.parse().ok()?;
    let scale = 10u128.pow(fraction.len() as u32);
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    let scaled = whole.checked_mul(multiplier)?;
    let part = fraction.checked_mul(multiplier)?;
    if part % scale != 0 {
        return None;
    }
    u64::try_from(scaled.checked_add(part / scale)?).ok()
}

fn parse_yes_no(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "有" | "有り" | "あり" | "○" | "◯" | "〇" => {
            Some(true)
        }
        "no" | "n" | "false" | "0" | "無" | "無し" | "なし" | "×" | "✕" => Some(false),
        _ => None,
    }
}

/// A date as written in a CSV: YYYY-MM-DD, or YYYY/MM/DD and YYYY/M/D as Excel writes dates;
/// returned as YYYY-MM-DD.
fn parse_row_date(s: &str) -> Option<String> {
    let s = s.trim();
    let sep = if s.contains('/') { '/' } else { '-' };
    let mut parts = s.split(sep);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || y.len() != 4
        || !(1..=2).contains(&m.len())
        || !(1..=2).contains(&d.len())
        || ![y, m, d]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    Some(date.to_string())
}

/// Who records an import, and when.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub actor: String,
    /// When the media entered the ledger; `None` means now.
    pub time: Option<time::OffsetDateTime>,
    /// A note for rows without one of their own.
    pub note: Option<String>,
}

/// What an import recorded, or (dry run) would record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub registered: usize,
    pub stored: usize,
    /// The events appended (or, dry run, that would be), first and last.
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub dry_run: bool,
}

/// Register the media of `rows` (and store those with a cabinet) in one transaction: all or
/// none. With `dry_run`, every row goes through the rules in a transaction that is rolled back.
/// A refusal names the row's line.
pub fn import_media(
    ledger: &mut Ledger,
    rows: &[MediumRow],
    stamp: &Stamp,
    dry_run: bool,
) -> Result<ImportSummary, ExchangeError> {
    let mut events = Vec::with_capacity(rows.len() * 2);
    // The row behind each event, to name its line if the rules refuse it.
    let mut row_of = Vec::with_capacity(rows.len() * 2);
    let mut stored = 0;
    for (i, row) in rows.iter().enumerate() {
        let event = |data| NewEvent {
            medium: Some(row.asset_tag.clone()),
            actor: stamp.actor.clone(),
            time: stamp.time,
            note: row.note.clone().or_else(|| stamp.note.clone()),
            data,
        };
        events.push(event(EventData::Registered(row.registration.clone())));
        row_of.push(i);
        if let Some(cabinet) = &row.cabinet {
            events.push(event(EventData::Stored {
                cabinet: cabinet.clone(),
                slot: row.slot.clone(),
            }));
            row_of.push(i);
            stored += 1;
        }
    }
    let result = if dry_run {
        ledger.check_all(events)
    } else {
        ledger.append_all(events)
    };
    let recorded = result.map_err(|e| match e {
        LedgerError::Rejected { at, reason } => match row_of.get(at).map(|&i| &rows[i]) {
            Some(row) => ExchangeError::Rejected {
                line: row.line,
                asset_tag: row.asset_tag.clone(),
                reason,
            },
            None => ExchangeError::Ledger(LedgerError::Rejected { at, reason }),
        },
        other => ExchangeError::Ledger(other),
    })?;
    Ok(ImportSummary {
        registered: rows.len(),
        stored,
        first_seq: recorded.first().map(|r| r.event.seq),
        last_seq: recorded.last().map(|r| r.event.seq),
        dry_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_parse_as_drive_makers_and_operating_systems_write_them() {
        assert_eq!(parse_capacity("500107862016"), Some(500_107_862_016));
        assert_eq!(parse_capacity("500G"), Some(500_000_000_000));
        assert_eq!(parse_capacity("500 GB"), Some(500_000_000_000));
        assert_eq!(parse_capacity("2T"), Some(2_000_000_000_000));
        assert_eq!(parse_capacity("1.92TB"), Some(1_920_000_000_000));
        assert_eq!(parse_capacity("32GiB"), Some(32 << 30));
        assert_eq!(parse_capacity("32gib"), Some(32 << 30));
        assert_eq!(parse_capacity("1.5KiB"), Some(1536));
        assert_eq!(parse_capacity("1,000,000"), Some(1_000_000));
        assert_eq!(parse_capacity("512B"), Some(512));
        for bad in [
            "",
            "G",
            "abc",
            "5.00108E+11",
            "1.5",
            "0.3B",
            "1,00",
            "12,3456",
            "-1",
            "2 TBs",
            "99999999999P",
            "1..5G",
            ".5G",
        ] {
            assert_eq!(parse_capacity(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn auto_detects_utf8_with_or_without_bom_and_falls_back_to_shift_jis() {
        let text = "管理番号,種別,部署\nUSB-1,テープ,総務課\n";
        let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&sjis).is_err());
        assert_eq!(
            decode(&sjis, Encoding::Auto).unwrap(),
            (text.to_owned(), Encoding::ShiftJis)
        );
        assert_eq!(
            decode(text.as_bytes(), Encoding::Auto).unwrap(),
            (text.to_owned(), Encoding::Utf8)
        );
        let with_bom = [UTF8_BOM, text.as_bytes()].concat();
        assert_eq!(
            decode(&with_bom, Encoding::Auto).unwrap(),
            (text.to_owned(), Encoding::Utf8)
        );
        // Windows-31J's extensions (NEC special characters) decode too.
        let (ext, _, unmappable) = encoding_rs::SHIFT_JIS.encode("①㈱");
        assert!(!unmappable);
        assert_eq!(decode(&ext, Encoding::ShiftJis).unwrap().0, "①㈱");
        // Forced UTF-8 on Shift_JIS bytes names the line.
        match decode(&sjis, Encoding::Utf8) {
            Err(ExchangeError::Encoding { line: 1, .. }) => {}
            other => panic!("{other:?}"),
        }
        // Bytes that are neither: the line of the first bad byte.
        let bad = b"asset_tag,kind\nA,hdd\nB,\x82\xff\n";
        match decode(bad, Encoding::Auto) {
            Err(ExchangeError::Encoding { line: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn japanese_headers_and_excel_values_map_to_a_registration() {
        let csv = "管理番号, 種別 ,メーカー,容量,所管部署,個人情報,リース会社,契約番号,返却予定日,保管庫,棚,備考,#メモ\n\
                   T-001,テープ,HPE,2.5T,総務課,○,東京リース,C-9,2027/3/1,CAB-1,2,初回登録,無視\n\
                   ,,,,,,,,,,,,\n\
                   H-002,HDD,,500GB,,なし,,,,,,,\n";
        let rows = parse_media_csv(csv).unwrap();
        assert_eq!(rows.len(), 2);
        let t = &rows[0];
        assert_eq!((t.line, t.asset_tag.as_str()), (2, "T-001"));
        assert_eq!(t.registration.kind, MediumKind::Tape);
        assert_eq!(t.registration.capacity_bytes, Some(2_500_000_000_000));
        assert_eq!(t.registration.department.as_deref(), Some("総務課"));
        assert!(t.registration.personal_info);
        assert_eq!(
            t.registration.ownership,
            Ownership::Leased {
                lessor: "東京リース".into(),
                contract: "C-9".into(),
                return_due: Some("2027-03-01".into())
            }
        );
        assert_eq!(
            (t.cabinet.as_deref(), t.slot.as_deref()),
            (Some("CAB-1"), Some("2"))
        );
        assert_eq!(t.note.as_deref(), Some("初回登録"));
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[1].registration.ownership, Ownership::Owned);
    }

    #[test]
    fn every_malformed_cell_is_named_by_line_column_and_value() {
        let csv = "Asset Tag,KIND,capacity,return_due,lessor,contract\n\
                   A1,hdd,1T,,,\n\
                   A2,floppy,1T,,,\n\
                   A3,ssd,5.00108E+11,2027-02-30,L,C\n\
                   A1,ssd,,,,\n";
        let Err(ExchangeError::Rows(problems)) = parse_media_csv(csv) else {
            panic!("expected row problems");
        };
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 4, "{text:#?}");
        assert!(text[0].starts_with("line 3, column KIND: \"floppy\": not a kind"));
        assert!(text[1].starts_with("line 4, column capacity: \"5.00108E+11\": Excel's"));
        assert!(text[2].starts_with("line 4, column return_due: \"2027-02-30\": not a date"));
        assert!(
            text[3].starts_with("line 5, column Asset Tag: \"A1\": the same asset tag as line 2")
        );
    }

    #[test]
    fn unknown_and_missing_columns_are_refused_with_the_known_names() {
        let e = parse_media_csv("asset_tag,kind,colour\nA,hdd,red\n").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("unknown column(s) \"colour\""), "{text}");
        assert!(text.contains("start its header with #"), "{text}");
        let e = parse_media_csv("asset_tag,vendor\nA,x\n").unwrap_err();
        assert!(e.to_string().contains("no kind/"), "{e}");
        let e = parse_media_csv("管理番号,資産番号,種別\nA,B,hdd\n").unwrap_err();
        assert!(e.to_string().contains("both name the same field"), "{e}");
    }

    #[test]
    fn dates_are_read_as_excel_writes_them() {
        assert_eq!(parse_row_date("2027/3/31").as_deref(), Some("2027-03-31"));
        assert_eq!(parse_row_date("2027-03-31").as_deref(), Some("2027-03-31"));
        assert_eq!(parse_row_date("2027/02/29"), None);
        assert_eq!(parse_row_date("27/3/31"), None);
        assert_eq!(parse_row_date("2027-3/31"), None);
    }
}
