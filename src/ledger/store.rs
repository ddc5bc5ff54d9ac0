//! The ledger's SQLite database.
//!
//! - `events`: the append-only log; each row holds the event's body (the exact hashed bytes),
//!   the previous event's hash and its own, plus copies of kind, medium, cabinet and time for
//!   queries (verification checks that the copies match the body);
//! - `media`, `cabinets`: the current state derived from the log, one JSON document per row
//!   with indexed columns for reports;
//! - `meta`: the ledger's id (a UUID, hashed into every event) and creation time.
//!
//! Schema changes are numbered migrations recorded in `PRAGMA user_version`. The database runs
//! in WAL mode with a busy timeout, and every append is one `BEGIN IMMEDIATE` transaction that
//! reads the head, checks the rules and writes event and state together: several massho
//! processes can append at once and each event lands whole, in order, or not at all.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::event::{chain_hash, Event, EventData, BODY_VERSION, GENESIS};
use super::state::{self, ApplyError, Cabinet, Change, Medium, View};
use super::LedgerError;

/// The migrations, in order; `PRAGMA user_version` counts how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: events, derived state, meta.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE events (
         seq INTEGER PRIMARY KEY,
         time TEXT NOT NULL,
         kind TEXT NOT NULL,
         medium TEXT,
         cabinet TEXT,
         body TEXT NOT NULL,
         prev TEXT NOT NULL,
         hash TEXT NOT NULL
     );
     CREATE INDEX events_medium ON events (medium, seq);
     CREATE INDEX events_kind_time ON events (kind, time);
     CREATE TABLE media (
         asset_tag TEXT PRIMARY KEY,
         serial TEXT,
         status TEXT NOT NULL,
         status_since TEXT NOT NULL,
         cabinet TEXT,
         leased INTEGER NOT NULL,
         return_due TEXT,
         retention_until TEXT,
         state TEXT NOT NULL
     );
     CREATE INDEX media_serial ON media (serial);
     CREATE INDEX media_status ON media (status, status_since);
     CREATE INDEX media_cabinet ON media (cabinet);
     CREATE INDEX media_retention ON media (retention_until) WHERE retention_until IS NOT NULL;
     CREATE INDEX media_return_due ON media (return_due) WHERE leased = 1;
     CREATE TABLE cabinets (id TEXT PRIMARY KEY, state TEXT NOT NULL);
     -- The medium a wipe certificate is recorded for (one certificate, one medium).
     CREATE INDEX events_certificate ON events (json_extract(body, '$.certificate_id'))
         WHERE kind = 'wiped';",
];

/// One row of `sqlite_schema`: what kind of object, its name, its table, its SQL with runs of
/// white space made one space (SQLite keeps the text as written).
pub(crate) type SchemaObject = (String, String, String, Option<String>);

/// Every object massho's migrations create, as `sqlite_schema` lists them (automatic indexes
/// included): made by running the migrations on an empty in-memory database, so the expected
/// set can never drift from what `ledger init` creates.
pub(crate) fn expected_schema() -> Result<Vec<SchemaObject>, rusqlite::Error> {
    let conn = Connection::open_in_memory()?;
    for m in MIGRATIONS {
        conn.execute_batch(m)?;
    }
    schema_of(&conn)
}

/// The schema objects of a database, sorted by type and name.
pub(crate) fn schema_of(conn: &Connection) -> Result<Vec<SchemaObject>, rusqlite::Error> {
    let mut stmt = conn.prepare(
        "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name, tbl_name, sql",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?
                .map(|sql| sql.split_whitespace().collect::<Vec<_>>().join(" ")),
        ))
    })?;
    rows.collect()
}

/// How long a writer waits for another to finish before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// An event to append: the ledger fills in its position, hashes and recording time.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub medium: Option<String>,
    pub actor: String,
    /// When it happened; `None` means now. A time in the past records something after the fact.
    pub time: Option<time::OffsetDateTime>,
    pub note: Option<String>,
    pub data: EventData,
}

/// An appended event and its chain hash.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub event: Event,
    pub hash: String,
}

/// An open ledger.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    id: String,
    offset: String,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.path)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Open the ledger at `path`, creating it (and its directory) when it does not exist.
    pub fn create_or_open(path: &Path) -> Result<Ledger, LedgerError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| LedgerError::CreateDir {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Ledger::open_inner(path, Mode::Create)
    }

    /// Open an existing ledger to append to; a missing file is an error (a typo must not start
    /// a new ledger). Pending schema migrations run.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        Ledger::open_existing(path, Mode::Write)
    }

    /// Open an existing ledger read-only (reports, verification, export): takes no write lock,
    /// never changes the file, and works on a copy in a read-only directory (an auditor's).
    pub fn open_read_only(path: &Path) -> Result<Ledger, LedgerError> {
        Ledger::open_existing(path, Mode::ReadOnly)
    }

    fn open_existing(path: &Path, mode: Mode) -> Result<Ledger, LedgerError> {
        if !path.exists() {
            return Err(LedgerError::Missing {
                path: path.to_path_buf(),
            });
        }
        if path.is_dir() {
            return Err(LedgerError::NotALedger {
                path: path.to_path_buf(),
                why: "it is a directory".into(),
            });
        }
        Ledger::open_inner(path, mode)
    }

    fn open_inner(path: &Path, mode: Mode) -> Result<Ledger, LedgerError> {
        let sql = |source| LedgerError::Sqlite {
            path: path.to_path_buf(),
            cause: source,
        };
        let conn = match mode {
            Mode::ReadOnly => open_read_only(path)?,
            Mode::Create | Mode::Write => {
                let mut conn = Connection::open(path).map_err(sql)?;
                conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
                // synchronous=FULL: a committed event survives a power cut.
                conn.pragma_update(None, "synchronous", "FULL")
                    .map_err(sql)?;
                migrate(&mut conn, path, mode == Mode::Create)?;
                conn
            }
        };
        check_version(&conn, path)?;
        let id: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'ledger_id'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql)?;
        let Some(id) = id else {
            return Err(LedgerError::Damaged {
                path: path.to_path_buf(),
                what: "it has no ledger id".into(),
            });
        };
        let offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
        Ok(Ledger {
            conn,
            path: path.to_path_buf(),
            id,
            offset: super::offset_string(offset),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ledger's id, hashed into every event.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn sql(&self, cause: rusqlite::Error) -> LedgerError {
        LedgerError::Sqlite {
            path: self.path.clone(),
            cause,
        }
    }

    /// Append one event.
    pub fn append(&mut self, event: NewEvent) -> Result<Recorded, LedgerError> {
        let mut v = self.append_all(vec![event])?;
        v.pop().ok_or_else(|| LedgerError::Damaged {
            path: self.path.clone(),
            what: "an append recorded nothing".into(),
        })
    }

    /// Append events in order, in one transaction: all of them, or (on the first refusal or
    /// error, whose position is in [`LedgerError::Rejected`]) none.
    pub fn append_all(&mut self, events: Vec<NewEvent>) -> Result<Vec<Recorded>, LedgerError> {
        let mut events = events.into_iter();
        self.append_with(|_, _| Ok(events.next()))
    }

    /// Run `events` through the rules exactly as [`Ledger::append_all`] would, in a transaction
    /// that is then rolled back: a dry run. Nothing is recorded.
    pub fn check_all(&mut self, events: Vec<NewEvent>) -> Result<Vec<Recorded>, LedgerError> {
        let mut events = events.into_iter();
        self.append_inner(|_, _| Ok(events.next()), false)
    }

    /// Append events that `next` makes, one by one, from the number of events and the head
    /// hash before each (a seal signs them), until it returns `None`; one transaction.
    pub(crate) fn append_with(
        &mut self,
        next: impl FnMut(u64, &str) -> Result<Option<NewEvent>, LedgerError>,
    ) -> Result<Vec<Recorded>, LedgerError> {
        self.append_inner(next, true)
    }

    fn append_inner(
        &mut self,
        mut next: impl FnMut(u64, &str) -> Result<Option<NewEvent>, LedgerError>,
        commit: bool,
    ) -> Result<Vec<Recorded>, LedgerError> {
        let path = self.path.clone();
        let sql = |source| LedgerError::Sqlite {
            path: path.clone(),
            cause: source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let (mut seq, mut prev): (u64, String) = tx
            .query_row(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql)?
            .map(|(seq, hash)| head_seq(&path, seq).map(|seq| (seq, hash)))
            .transpose()?
            .unwrap_or((0, GENESIS.to_owned()));
        let recorded_at = super::now_utc();
        let mut out = Vec::new();
        {
            let view = TxView {
                tx: &tx,
                path: &path,
            };
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO events (seq, time, kind, medium, cabinet, body, prev, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(sql)?;
            let mut at = 0;
            while let Some(new) = next(seq, &prev)? {
                seq += 1;
                let time = match new.time {
                    None => recorded_at.clone(),
                    Some(t) => super::try_utc_string(t).ok_or_else(|| LedgerError::Rejected {
                        at,
                        reason: state::Rejection(format!(
                            "event time {t} cannot be written as an RFC 3339 time; give a real date"
                        )),
                    })?,
                };
                let event = Event {
                    v: BODY_VERSION,
                    seq,
                    recorded: (time != recorded_at).then(|| recorded_at.clone()),
                    time,
                    offset: self.offset.clone(),
                    actor: new.actor,
                    medium: new.medium,
                    note: new.note,
                    data: new.data,
                };
                let change = state::apply(&view, &event).map_err(|e| match e {
                    ApplyError::Rejected(reason) => LedgerError::Rejected { at, reason },
                    ApplyError::Ledger(e) => e,
                })?;
                view.write(&change)?;
                let body = event.body()?;
                let hash = chain_hash(&self.id, &prev, &body);
                insert
                    .execute(params![
                        seq as i64,
                        event.time,
                        event.data.kind(),
                        event.medium,
                        event.data.cabinet(),
                        body,
                        prev,
                        hash
                    ])
                    .map_err(sql)?;
                prev = hash.clone();
                out.push(Recorded { event, hash });
                at += 1;
            }
        }
        if commit {
            tx.commit().map_err(sql)?;
        } else {
            tx.rollback().map_err(sql)?;
        }
        Ok(out)
    }

    /// The number of events and the hash of the last one.
    pub fn head(&self) -> Result<(u64, String), LedgerError> {
        let last: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        match last {
            Some((seq, hash)) => Ok((head_seq(&self.path, seq)?, hash)),
            None => Ok((0, GENESIS.to_owned())),
        }
    }

    pub fn medium(&self, tag: &str) -> Result<Option<Medium>, LedgerError> {
        read_medium(&self.conn, &self.path, tag)
    }

    pub fn cabinet(&self, id: &str) -> Result<Option<Cabinet>, LedgerError> {
        read_cabinet(&self.conn, &self.path, id)
    }

    /// Media with this serial number, closed records included, newest registration first.
    pub fn media_by_serial(&self, serial: &str) -> Result<Vec<Medium>, LedgerError> {
        let mut out: Vec<Medium> = self.json_rows(
            "SELECT state FROM media WHERE serial = ?1",
            &[&serial],
            "media",
        )?;
        out.sort_by(|a, b| b.registered_at.cmp(&a.registered_at));
        Ok(out)
    }

    /// Every event about one medium, oldest first.
    pub fn history(&self, tag: &str) -> Result<Vec<Event>, LedgerError> {
        self.events_where("medium = ?1", &[&tag])
    }

    /// Events matching an SQL condition on the events table's columns, in order.
    pub(crate) fn events_where(
        &self,
        condition: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Event>, LedgerError> {
        let sql = format!("SELECT body FROM events WHERE {condition} ORDER BY seq");
        self.json_rows(&sql, args, "events")
    }

    /// Media matching an SQL condition on the media table's columns.
    pub(crate) fn media_where(
        &self,
        condition: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Medium>, LedgerError> {
        let sql = format!("SELECT state FROM media WHERE {condition} ORDER BY asset_tag");
        self.json_rows(&sql, args, "media")
    }

    /// The JSON documents (event bodies, state rows of `table`) that a one-column query
    /// returns, parsed.
    fn json_rows<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
        table: &str,
    ) -> Result<Vec<T>, LedgerError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(args, |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let text = row.map_err(|e| self.sql(e))?;
            out.push(parse_state(&self.path, table, &text)?);
        }
        Ok(out)
    }

    /// Media, optionally only those with `status` and/or in `cabinet`, by asset tag.
    pub fn list(
        &self,
        status: Option<state::MediumStatus>,
        cabinet: Option<&str>,
    ) -> Result<Vec<Medium>, LedgerError> {
        let status = status.map(state::MediumStatus::name);
        self.media_where(
            "(?1 IS NULL OR status = ?1) AND (?2 IS NULL OR cabinet = ?2)",
            &[&status, &cabinet],
        )
    }

    /// Every cabinet.
    pub fn cabinets(&self) -> Result<Vec<Cabinet>, LedgerError> {
        self.json_rows("SELECT state FROM cabinets ORDER BY id", &[], "cabinets")
    }
}

/// The newest event's position as stored: a negative one (an edited table) is damage, never
/// wrapped around into a huge number that the next event's hash would carry.
fn head_seq(path: &Path, seq: i64) -> Result<u64, LedgerError> {
    u64::try_from(seq)
        .ok()
        .filter(|s| *s < i64::MAX as u64)
        .ok_or_else(|| LedgerError::Damaged {
            path: path.to_path_buf(),
            what: format!("its newest event has position {seq}"),
        })
}

/// How a ledger is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Write,
    ReadOnly,
}

fn user_version(conn: &Connection, path: &Path) -> Result<i64, LedgerError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|cause| LedgerError::Sqlite {
            path: path.to_path_buf(),
            cause,
        })
}

/// The schema must be this massho's: a newer one is refused, an older one must be migrated by
/// a write (`massho ledger init`), a file without one is not a ledger.
fn check_version(conn: &Connection, path: &Path) -> Result<(), LedgerError> {
    let version = user_version(conn, path)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(LedgerError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    if version == 0 {
        return Err(LedgerError::NotALedger {
            path: path.to_path_buf(),
            why: "it has no ledger schema".into(),
        });
    }
    if version < known {
        return Err(LedgerError::Outdated {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    Ok(())
}

/// A read-only connection. A ledger in WAL mode needs its -shm file; where that cannot be made
/// (a copy in a read-only directory), the file is opened as immutable.
fn open_read_only(path: &Path) -> Result<Connection, LedgerError> {
    use rusqlite::OpenFlags;
    let sql = |cause| LedgerError::Sqlite {
        path: path.to_path_buf(),
        cause,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    if user_version(&conn, path).is_ok() {
        return Ok(conn);
    }
    // Immutable mode ignores the write-ahead log: a copy that carries one would read as it was
    // before its newest events.
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(LedgerError::Unreadable {
            path: path.to_path_buf(),
            why: format!(
                "its write-ahead log {} holds events not yet in the file, and the directory is read-only. Make a one-file copy where the ledger lives (`sqlite3 LEDGER \".backup copy.sqlite\"`), or copy both files to a writable directory",
                std::path::Path::new(&wal).display()
            ),
        });
    }
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    let conn = Connection::open_with_flags(&uri, flags).map_err(sql)?;
    user_version(&conn, path)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path, create: bool) -> Result<(), LedgerError> {
    let sql = |cause| LedgerError::Sqlite {
        path: path.to_path_buf(),
        cause,
    };
    let known = MIGRATIONS.len() as i64;
    // The common case, a ledger at this massho's version, takes no lock.
    if user_version(conn, path)? == known {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let version = user_version(&tx, path)?;
    if version > known {
        return Err(LedgerError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    if version == 0 {
        let tables: i64 = tx
            .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(sql)?;
        if !create || tables > 0 {
            return Err(LedgerError::NotALedger {
                path: path.to_path_buf(),
                why: if tables > 0 {
                    "it holds another program's tables".into()
                } else {
                    "it has no ledger schema".into()
                },
            });
        }
    }
    for m in &MIGRATIONS[version as usize..] {
        tx.execute_batch(m).map_err(sql)?;
    }
    if version == 0 {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('ledger_id', ?1), ('created', ?2)",
            params![uuid::Uuid::new_v4().to_string(), super::now_utc()],
        )
        .map_err(sql)?;
    }
    tx.pragma_update(None, "user_version", known).map_err(sql)?;
    tx.commit().map_err(sql)?;
    // WAL (persistent in the file): readers never block the writer, and a crash mid-append
    // leaves the last committed state.
    conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)
}

pub(crate) fn parse_state<T: serde::de::DeserializeOwned>(
    path: &Path,
    table: &str,
    text: &str,
) -> Result<T, LedgerError> {
    serde_json::from_str(text).map_err(|e| LedgerError::Damaged {
        path: path.to_path_buf(),
        what: format!("a row of {table} is not valid: {e}"),
    })
}

fn read_medium(conn: &Connection, path: &Path, tag: &str) -> Result<Option<Medium>, LedgerError> {
    read_state_row(
        conn,
        path,
        "SELECT state FROM media WHERE asset_tag = ?1",
        tag,
        "media",
    )
}

fn read_cabinet(conn: &Connection, path: &Path, id: &str) -> Result<Option<Cabinet>, LedgerError> {
    read_state_row(
        conn,
        path,
        "SELECT state FROM cabinets WHERE id = ?1",
        id,
        "cabinets",
    )
}

/// The state document of one row of `table` that `sql` selects by `key`, if there is one.
fn read_state_row<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    path: &Path,
    sql: &str,
    key: &str,
    table: &str,
) -> Result<Option<T>, LedgerError> {
    let text: Option<String> = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(|cause| LedgerError::Sqlite {
            path: path.to_path_buf(),
            cause,
        })?;
    text.map(|t| parse_state(path, table, &t)).transpose()
}

/// The rules' view of the state inside an append transaction.
struct TxView<'a> {
    tx: &'a Transaction<'a>,
    path: &'a Path,
}

impl TxView<'_> {
    fn write(&self, change: &Change) -> Result<(), LedgerError> {
        let sql = |source| LedgerError::Sqlite {
            path: self.path.to_path_buf(),
            cause: source,
        };
        match change {
            Change::Nothing => Ok(()),
            Change::Cabinet(c) => {
                let state = to_json(c, "cabinet", &c.id)?;
                self.tx
                    .prepare_cached("INSERT OR REPLACE INTO cabinets (id, state) VALUES (?1, ?2)")
                    .and_then(|mut s| s.execute(params![c.id, state]))
                    .map_err(sql)?;
                Ok(())
            }
            Change::Medium(m) => {
                let state = to_json(m.as_ref(), "medium", &m.asset_tag)?;
                self.tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO media (asset_tag, serial, status, status_since,
                             cabinet, leased, return_due, retention_until, state)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            m.asset_tag,
                            m.serial,
                            m.status.name(),
                            m.status_since,
                            m.cabinet,
                            m.leased,
                            m.return_due,
                            m.retention_until,
                            state
                        ])
                    })
                    .map_err(sql)?;
                Ok(())
            }
        }
    }
}

/// A state document; a failure is an error, never an empty document.
fn to_json<T: serde::Serialize>(value: &T, what: &str, key: &str) -> Result<String, LedgerError> {
    serde_json::to_string(value).map_err(|e| LedgerError::Serialize {
        what: format!("the state of {what} {key}"),
        cause: e.to_string(),
    })
}

impl View for TxView<'_> {
    fn certificate_owner(&self, id: &str) -> Result<Option<String>, LedgerError> {
        self.tx
            .prepare_cached(
                "SELECT medium FROM events
                 WHERE kind = 'wiped' AND json_extract(body, '$.certificate_id') = ?1 LIMIT 1",
            )
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(|source| LedgerError::Sqlite {
                path: self.path.to_path_buf(),
                cause: source,
            })
    }

    fn medium(&self, tag: &str) -> Result<Option<Medium>, LedgerError> {
        read_medium(self.tx, self.path, tag)
    }

    fn last_use(&self, tag: &str) -> Result<Option<String>, LedgerError> {
        // A medium's events are in time order, so the newest use is the one with the highest
        // seq (found through the events_medium index).
        let kinds = state::USE_KINDS
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        self.tx
            .prepare_cached(&format!(
                "SELECT time FROM events WHERE medium = ?1 AND kind IN ({kinds})
                 ORDER BY seq DESC LIMIT 1"
            ))
            .and_then(|mut s| s.query_row([tag], |r| r.get(0)).optional())
            .map_err(|source| LedgerError::Sqlite {
                path: self.path.to_path_buf(),
                cause: source,
            })
    }

    fn cabinet(&self, id: &str) -> Result<Option<Cabinet>, LedgerError> {
        read_cabinet(self.tx, self.path, id)
    }

    fn evidence_policy(&self) -> Result<Vec<super::evidence::EvidenceRule>, LedgerError> {
        let body: Option<String> = self
            .tx
            .prepare_cached(
                "SELECT body FROM events WHERE kind = 'evidence_policy' ORDER BY seq DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
            .map_err(|source| LedgerError::Sqlite {
                path: self.path.to_path_buf(),
                cause: source,
            })?;
        let Some(body) = body else {
            return Ok(Vec::new());
        };
        match parse_state::<Event>(self.path, "events", &body)?.data {
            EventData::EvidencePolicy { rules } => Ok(rules),
            _ => Err(LedgerError::Damaged {
                path: self.path.to_path_buf(),
                what: "an evidence_policy row holds another kind of event".into(),
            }),
        }
    }

    fn serial_owner(&self, serial: &str) -> Result<Option<String>, LedgerError> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT asset_tag, status FROM media WHERE serial = ?1")
            .map_err(|source| LedgerError::Sqlite {
                path: self.path.to_path_buf(),
                cause: source,
            })?;
        let rows: Vec<(String, String)> = stmt
            .query_map([serial], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|source| LedgerError::Sqlite {
                path: self.path.to_path_buf(),
                cause: source,
            })?;
        Ok(rows
            .into_iter()
            .find(|(_, status)| {
                !state::MediumStatus::parse(status).is_some_and(state::MediumStatus::closed)
            })
            .map(|(tag, _)| tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{MediumKind, Ownership, Registration};

    fn event(tag: &str, data: EventData) -> NewEvent {
        NewEvent {
            medium: Some(tag.into()),
            actor: "t".into(),
            time: None,
            note: None,
            data,
        }
    }

    fn registration() -> EventData {
        EventData::Registered(Registration {
            kind: MediumKind::Tape,
            vendor: None,
            model: None,
            serial: None,
            capacity_bytes: None,
            department: None,
            personal_info: false,
            ownership: Ownership::Owned,
        })
    }

    #[test]
    fn a_new_ledger_has_the_latest_schema_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/l.sqlite");
        let id = Ledger::create_or_open(&path).unwrap().id().to_owned();
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        // Reopening keeps the id and runs nothing again.
        assert_eq!(Ledger::open(&path).unwrap().id(), id);
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let e = Ledger::open(&path).unwrap_err();
        assert!(matches!(e, LedgerError::TooNew { found: 99, .. }), "{e}");
    }

    #[test]
    fn another_sqlite_file_is_not_taken_for_a_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let e = Ledger::open(&path).unwrap_err();
        assert!(e.to_string().contains("not a massho ledger"), "{e}");
        let e = Ledger::open(&dir.path().join("none.sqlite")).unwrap_err();
        assert!(matches!(e, LedgerError::Missing { .. }), "{e}");
    }

    #[test]
    fn a_batch_is_all_or_nothing_and_names_the_refused_position() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::create_or_open(&dir.path().join("l.sqlite")).unwrap();
        let e = l
            .append_all(vec![
                event("A", registration()),
                event("B", registration()),
                event("A", registration()),
            ])
            .unwrap_err();
        assert!(matches!(e, LedgerError::Rejected { at: 2, .. }), "{e}");
        assert_eq!(l.head().unwrap(), (0, GENESIS.to_owned()));
        assert!(l.medium("A").unwrap().is_none());
        let r = l.append_all(vec![event("A", registration())]).unwrap();
        assert_eq!(r[0].event.seq, 1);
        assert_eq!(l.head().unwrap(), (1, r[0].hash.clone()));
    }
}
