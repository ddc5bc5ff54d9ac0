//! What `ledger verify` checks in the SQLite file itself, beyond the chain: the reports read
//! through indexes and the derived tables, so those must tell the same story as the events.
//!
//! - the file's own integrity (`PRAGMA integrity_check`: every page, and every index against
//!   its table; `quick_check` skips the latter, which is exactly what a report trusts);
//! - its schema: every row of `sqlite_schema` equal to what massho's migrations create — an
//!   extra trigger could rewrite what is appended, a changed index could hide rows from a
//!   report;
//! - the derived `media` and `cabinets` rows equal to the replayed state, each column exactly as
//!   massho writes it (storage class included: the text `'1'` or the integer 2 where massho
//!   writes the integer 1 is an edit, even though SQLite would compare them as equal or true).

use std::collections::{HashMap, HashSet};

use rusqlite::types::{Value, ValueRef};

use super::chain::Row;
use super::state::{Cabinet, Medium};
use super::store::{expected_schema, schema_of, SchemaObject};
use super::{Ledger, LedgerError};

/// How many integrity problems are listed before "and more".
const MAX_INTEGRITY_LINES: usize = 5;

/// Check the database's integrity and schema; problems are pushed, named.
pub(crate) fn check_structure(
    ledger: &Ledger,
    problems: &mut Vec<String>,
) -> Result<(), LedgerError> {
    let conn = ledger.conn();
    let mut stmt = conn
        .prepare("PRAGMA integrity_check")
        .map_err(|e| ledger.sql(e))?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| ledger.sql(e))?;
    if lines != ["ok"] {
        let shown: Vec<&str> = lines
            .iter()
            .take(MAX_INTEGRITY_LINES)
            .map(String::as_str)
            .collect();
        let more = lines.len().saturating_sub(MAX_INTEGRITY_LINES);
        problems.push(format!(
            "the database is damaged (SQLite's integrity check: {}{}): its indexes or pages no longer match its tables, so reports cannot be trusted; restore it from a backup",
            shown.join("; "),
            if more > 0 { format!("; and {more} more") } else { String::new() }
        ));
    }
    let expected = expected_schema().map_err(|e| ledger.sql(e))?;
    let found = match schema_of(conn) {
        Ok(found) => found,
        Err(e) => {
            problems.push(format!(
                "the database's schema cannot be read ({e}): it was edited"
            ));
            return Ok(());
        }
    };
    schema_problems(&expected, &found, problems);
    Ok(())
}

/// Name every schema object that is not massho's, that is missing, or whose definition changed.
fn schema_problems(expected: &[SchemaObject], found: &[SchemaObject], problems: &mut Vec<String>) {
    let describe = |o: &SchemaObject| {
        let (kind, name, table, _) = o;
        if name == table {
            format!("{kind} {name}")
        } else {
            format!("{kind} {name} on {table}")
        }
    };
    let by_name = |set: &[SchemaObject]| -> HashMap<(String, String), SchemaObject> {
        set.iter()
            .map(|o| ((o.0.clone(), o.1.clone()), o.clone()))
            .collect()
    };
    let want = by_name(expected);
    let have = by_name(found);
    for o in found {
        match want.get(&(o.0.clone(), o.1.clone())) {
            None => problems.push(format!(
                "the database holds {} ({}), which massho did not create: someone changed its schema; remove it or restore the ledger from a backup",
                describe(o),
                o.3.as_deref().map(crate::text::terminal_safe).unwrap_or_default()
            )),
            Some(w) if w != o => problems.push(format!(
                "the database's {} is defined as {:?}, not as massho created it ({:?}): someone changed its schema",
                describe(o),
                o.3.as_deref().map(crate::text::terminal_safe).unwrap_or_default(),
                w.3.as_deref().unwrap_or_default()
            )),
            Some(_) => {}
        }
    }
    for w in expected {
        if !have.contains_key(&(w.0.clone(), w.1.clone())) {
            problems.push(format!(
                "the database lacks {}, which massho creates: someone changed its schema",
                describe(w)
            ));
        }
    }
}

/// One row of the events table, each column of the storage class massho writes (an integer
/// `seq`, text elsewhere).
pub(crate) fn event_row(r: &rusqlite::Row<'_>) -> Result<Row, rusqlite::Error> {
    let seq: i64 = r.get(0)?;
    Ok(Row {
        seq: u64::try_from(seq).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, seq))?,
        time: r.get(1)?,
        kind: r.get(2)?,
        medium: r.get(3)?,
        cabinet: r.get(4)?,
        body: r.get(5)?,
        prev: r.get(6)?,
        hash: r.get(7)?,
    })
}

/// A stored value equals the value massho writes: same storage class, same bytes.
fn exactly(stored: ValueRef<'_>, written: &Value) -> bool {
    match (stored, written) {
        (ValueRef::Null, Value::Null) => true,
        (ValueRef::Integer(a), Value::Integer(b)) => a == *b,
        (ValueRef::Text(a), Value::Text(b)) => a == b.as_bytes(),
        _ => false,
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn opt_text(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Null, text)
}

/// How a stored value looks in a message.
fn shown(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => format!("the integer {i}"),
        ValueRef::Real(f) => format!("the real number {f}"),
        ValueRef::Text(t) => format!(
            "the text {:?}",
            crate::text::terminal_safe(&String::from_utf8_lossy(t))
        ),
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}

const MEDIA_COLUMNS: [&str; 9] = [
    "asset_tag",
    "serial",
    "status",
    "status_since",
    "cabinet",
    "leased",
    "return_due",
    "retention_until",
    "state",
];

/// Compare the stored `media` and `cabinets` tables with the state replayed from the events:
/// every row's document, and every column exactly as massho writes it. The first problem is
/// pushed, naming the row and column.
pub(crate) fn compare_state(
    ledger: &Ledger,
    media: &HashMap<String, Medium>,
    cabinets: &HashMap<String, Cabinet>,
    problems: &mut Vec<String>,
) -> Result<(), LedgerError> {
    if let Some(p) = compare_media(ledger, media)? {
        problems.push(p);
        return Ok(());
    }
    if let Some(p) = compare_cabinets(ledger, cabinets)? {
        problems.push(p);
    }
    Ok(())
}

fn compare_media(
    ledger: &Ledger,
    replay: &HashMap<String, Medium>,
) -> Result<Option<String>, LedgerError> {
    let mut stmt = ledger
        .conn()
        .prepare(&format!(
            "SELECT rowid, {} FROM media ORDER BY rowid",
            MEDIA_COLUMNS.join(", ")
        ))
        .map_err(|e| ledger.sql(e))?;
    let mut rows = stmt.query([]).map_err(|e| ledger.sql(e))?;
    let mut seen = HashSet::new();
    while let Some(r) = rows.next().map_err(|e| ledger.sql(e))? {
        let get = |i: usize| r.get_ref(i).map_err(|e| ledger.sql(e));
        let rowid = get(0)?.as_i64().unwrap_or(0);
        let key = match get(1)? {
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            other => {
                return Ok(Some(format!(
                    "the media table's row {rowid} has {} as its asset_tag, not text: the table was edited",
                    shown(other)
                )))
            }
        };
        let label = crate::text::terminal_safe(&key).into_owned();
        let doc = match get(9)? {
            ValueRef::Text(t) => serde_json::from_slice::<Medium>(t).ok(),
            _ => None,
        };
        let Some(m) = doc else {
            return Ok(Some(format!(
                "the media table's row {label:?} does not hold a valid state: the table was edited"
            )));
        };
        if key != m.asset_tag {
            return Ok(Some(format!(
                "the media table's row {label} holds the state of medium {}: the table was edited",
                crate::text::terminal_safe(&m.asset_tag)
            )));
        }
        match replay.get(&key) {
            Some(r) if *r == m => {}
            Some(_) => {
                return Ok(Some(format!(
                    "medium {label}: its current state in the media table differs from what its events say: the table was edited"
                )))
            }
            None => {
                return Ok(Some(format!(
                    "medium {label} is in the media table but no event registers it: the table was edited"
                )))
            }
        }
        // The document matches the events; each column must be the very value massho writes.
        let state = match get(9)? {
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            _ => Value::Null,
        };
        let written = [
            text(&m.asset_tag),
            opt_text(&m.serial),
            text(m.status.name()),
            text(&m.status_since),
            opt_text(&m.cabinet),
            Value::Integer(i64::from(m.leased)),
            opt_text(&m.return_due),
            opt_text(&m.retention_until),
            state,
        ];
        for (i, (column, w)) in MEDIA_COLUMNS.iter().zip(&written).enumerate() {
            let stored = get(i + 1)?;
            if !exactly(stored, w) {
                return Ok(Some(format!(
                    "medium {label}: the media table's columns differ from its state: column {column} holds {} where massho writes {}: the table was edited",
                    shown(stored),
                    shown(ValueRef::from(w))
                )));
            }
        }
        seen.insert(key);
    }
    let mut missing: Vec<&String> = replay.keys().filter(|k| !seen.contains(*k)).collect();
    if missing.is_empty() {
        return Ok(None);
    }
    missing.sort();
    Ok(Some(format!(
        "{} medium/media registered by events are missing from the media table (e.g. {}): rows were deleted",
        missing.len(),
        crate::text::terminal_safe(missing[0])
    )))
}

fn compare_cabinets(
    ledger: &Ledger,
    replay: &HashMap<String, Cabinet>,
) -> Result<Option<String>, LedgerError> {
    let mut stmt = ledger
        .conn()
        .prepare("SELECT rowid, id, state FROM cabinets ORDER BY rowid")
        .map_err(|e| ledger.sql(e))?;
    let mut rows = stmt.query([]).map_err(|e| ledger.sql(e))?;
    let mut seen = HashSet::new();
    while let Some(r) = rows.next().map_err(|e| ledger.sql(e))? {
        let get = |i: usize| r.get_ref(i).map_err(|e| ledger.sql(e));
        let rowid = get(0)?.as_i64().unwrap_or(0);
        let (ValueRef::Text(key), ValueRef::Text(state)) = (get(1)?, get(2)?) else {
            return Ok(Some(format!(
                "the cabinets table's row {rowid} holds {} as its id and {} as its state, where massho writes text: the table was edited",
                shown(get(1)?),
                shown(get(2)?)
            )));
        };
        let key = String::from_utf8_lossy(key).into_owned();
        let label = crate::text::terminal_safe(&key).into_owned();
        let doc = serde_json::from_slice::<Cabinet>(state).ok();
        let Some(c) = doc else {
            return Ok(Some(format!(
                "the cabinets table's row {label:?} does not hold a valid state: the table was edited"
            )));
        };
        if key != c.id || replay.get(&key) != Some(&c) {
            return Ok(Some(format!(
                "cabinet {label}: the cabinets table differs from what the events say: the table was edited"
            )));
        }
        seen.insert(key);
    }
    if seen.len() != replay.len() {
        return Ok(Some(
            "cabinets added by events are missing from the cabinets table: rows were deleted"
                .into(),
        ));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_storage_class_and_bytes_are_equal() {
        assert!(exactly(ValueRef::Integer(1), &Value::Integer(1)));
        assert!(!exactly(ValueRef::Integer(2), &Value::Integer(1)));
        assert!(!exactly(ValueRef::Text(b"1"), &Value::Integer(1)));
        assert!(!exactly(ValueRef::Integer(1), &Value::Text("1".into())));
        assert!(!exactly(ValueRef::Blob(b"a"), &Value::Text("a".into())));
        assert!(!exactly(ValueRef::Real(1.0), &Value::Integer(1)));
        assert!(exactly(ValueRef::Null, &Value::Null));
    }

    #[test]
    fn the_expected_schema_is_what_a_new_ledger_has() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::create_or_open(&dir.path().join("l.sqlite")).unwrap();
        let mut problems = Vec::new();
        check_structure(&ledger, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
    }
}
