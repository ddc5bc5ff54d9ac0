//! The interruption journal: a durable note, per device, that a wipe is under way.
//!
//! Before the first byte is written, each device gets an entry (identity, plan, seed, start
//! time) written and fsynced; it is rewritten as passes finish and closed with the result. A
//! process killed with SIGKILL, a dropped power cord or a kernel panic therefore leaves an open
//! entry saying that this medium is partly overwritten — the one fact a result file written at
//! the end cannot carry. `massho journal` lists the entries, and `massho wipe` and
//! `massho devices` warn about interrupted ones. Resuming an interrupted wipe builds on this.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::device::binding::MediumIdentity;
use crate::engine::{PassRecord, Status};

/// Identifies the journal entry format.
pub const JOURNAL_SCHEMA: &str = "massho.journal.v1";

/// One device's wipe, as the journal knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub schema: String,
    /// Random id; also the file name (`<id>.json`).
    pub id: String,
    pub device: PathBuf,
    pub serial: Option<String>,
    pub model: Option<String>,
    /// The medium as read from the open descriptor when the wipe started.
    pub identity: MediumIdentity,
    pub method: String,
    pub passes_planned: u32,
    pub verify_mode: String,
    /// The plan's repetitions and final zero pass, so a resumed wipe follows the same plan.
    #[serde(default = "one")]
    pub rounds: u32,
    #[serde(default)]
    pub blank: bool,
    pub prng: String,
    /// The random streams' seed: with it a later massho can regenerate what was written.
    pub seed: String,
    pub started_at: String,
    /// Last time the entry was written.
    pub updated_at: String,
    pub host: String,
    /// The process and boot that ran the wipe, to tell a running wipe from an interrupted one.
    pub pid: u32,
    pub boot_id: Option<String>,
    /// Passes finished so far (written and flushed, or cut short).
    pub passes_done: Vec<PassRecord>,
    /// What firmware steps must leave behind for a crash: the temporary ATA password massho
    /// set (until it is removed; `massho unlock` reads it), and the fingerprints of the sectors
    /// sampled before a crypto erase. Never any of the medium's data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firmware: Vec<FirmwareNotes>,
    /// How far the running pass is written and flushed: where a resumed wipe continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    /// The entry of the interrupted wipe this one continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<String>,
    /// `None` while the wipe runs; the outcome once it ended.
    pub closed: Option<Closed>,
}

fn one() -> u32 {
    1
}

/// A pass written and flushed up to a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub pass: u32,
    pub flushed_bytes: u64,
}

/// One firmware step's notes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FirmwareNotes {
    pub step: u32,
    /// The temporary ATA user password massho set for a security erase (ASCII).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The password is known to be gone from the drive.
    #[serde(default)]
    pub password_removed: bool,
    /// (LBA, SHA-256 of the sector) sampled before the step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingerprints: Vec<(u64, String)>,
}

impl Entry {
    /// Apply a note from a running firmware step.
    pub fn note(&mut self, note: crate::purge::drive::Note) {
        use crate::purge::drive::Note;
        let step = match &note {
            Note::PasswordSet { step, .. }
            | Note::PasswordRemoved { step }
            | Note::Fingerprints { step, .. } => *step,
        };
        let at = match self.firmware.iter().position(|n| n.step == step) {
            Some(i) => i,
            None => {
                self.firmware.push(FirmwareNotes {
                    step,
                    ..FirmwareNotes::default()
                });
                self.firmware.len() - 1
            }
        };
        let n = &mut self.firmware[at];
        match note {
            Note::PasswordSet { password, .. } => {
                n.password = Some(password);
                n.password_removed = false;
            }
            Note::PasswordRemoved { .. } => n.password_removed = true,
            Note::Fingerprints { sectors, .. } => n.fingerprints = sectors,
        }
    }

    /// A temporary password massho set and may not have removed.
    pub fn password_left(&self) -> Option<&str> {
        self.firmware
            .iter()
            .rev()
            .find(|n| n.password.is_some() && !n.password_removed)
            .and_then(|n| n.password.as_deref())
    }
}

/// How an entry ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed {
    pub status: Status,
    pub finished_at: String,
    pub result_file: Option<PathBuf>,
    pub certificate_id: Option<String>,
    /// Anything the close wants an auditor to know (e.g. "stopped without waiting for writes").
    pub note: Option<String>,
}

/// Whether an entry is still being worked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Ended and closed with a result.
    Closed,
    /// Open, and the process that opened it is still running.
    Running,
    /// Open, and its process is gone (killed, crashed, power cut): the medium is partly
    /// overwritten and no result says so.
    Interrupted,
}

/// Why the journal could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    #[error("cannot create the journal directory {dir}: {source}; give a writable one with --journal-dir")]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write journal entry {path}: {source}; nothing may be written to a medium whose wipe could not be journaled")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the journal directory {dir}: {source}")]
    Read {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Every entry with its state, and the files that are not readable entries.
pub type Listing = (Vec<(Entry, EntryState)>, Vec<PathBuf>);

/// A journal directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// `dir` if given, else `$MASSHO_JOURNAL_DIR`, else `/var/lib/massho/journal` for root and
    /// `$XDG_STATE_HOME/massho/journal` (`~/.local/state/massho/journal`) for anyone else.
    pub fn locate(dir: Option<&Path>) -> Journal {
        let dir = dir
            .map(Path::to_owned)
            .or_else(|| std::env::var_os("MASSHO_JOURNAL_DIR").map(PathBuf::from))
            .unwrap_or_else(default_dir);
        Journal { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Make sure entries can be written here: create the directory and write, fsync and remove
    /// a probe file. Run before anything is written to a medium.
    pub fn ensure_writable(&self) -> Result<(), JournalError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| JournalError::CreateDir {
            dir: self.dir.clone(),
            source,
        })?;
        let probe = self
            .dir
            .join(format!(".probe-{}", uuid::Uuid::new_v4().simple()));
        crate::atomic::create_new(&probe, b"", None).map_err(|source| JournalError::Write {
            path: probe.clone(),
            source,
        })?;
        let _ = std::fs::remove_file(&probe);
        Ok(())
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Write `entry` durably (temporary file, fsync, rename, fsync of the directory).
    pub fn write(&self, entry: &Entry) -> Result<PathBuf, JournalError> {
        let path = self.path_of(&entry.id);
        let mut json = serde_json::to_vec_pretty(entry).map_err(|e| JournalError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        json.push(b'\n');
        crate::atomic::replace(&path, &json).map_err(|source| JournalError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    /// Every entry in the directory with its state, oldest first. Files that are not entries
    /// are reported by name in the second list rather than silently skipped.
    pub fn entries(&self) -> Result<Listing, JournalError> {
        let read_dir = match std::fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], vec![])),
            Err(source) => {
                return Err(JournalError::Read {
                    dir: self.dir.clone(),
                    source,
                })
            }
        };
        let boot = boot_id();
        let mut entries = Vec::new();
        let mut unreadable = Vec::new();
        for item in read_dir.flatten() {
            let path = item.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let parsed = crate::input::read_regular(&path, "journal entry", 1 << 20)
                .ok()
                .and_then(|b| serde_json::from_slice::<Entry>(&b).ok())
                .filter(|e| e.schema == JOURNAL_SCHEMA);
            match parsed {
                Some(e) => {
                    let state = state_of(&e, boot.as_deref());
                    entries.push((e, state));
                }
                None => unreadable.push(path),
            }
        }
        entries.sort_by(|a, b| a.0.started_at.cmp(&b.0.started_at));
        unreadable.sort();
        Ok((entries, unreadable))
    }

    /// The entries whose wipe was interrupted.
    pub fn interrupted(&self) -> Vec<Entry> {
        self.entries()
            .map(|(e, _)| e)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, s)| *s == EntryState::Interrupted)
            .map(|(e, _)| e)
            .collect()
    }
}

fn state_of(e: &Entry, boot: Option<&str>) -> EntryState {
    if e.closed.is_some() {
        return EntryState::Closed;
    }
    let same_boot = e.boot_id.is_some() && e.boot_id.as_deref() == boot;
    if same_boot && process_is_massho(e.pid) {
        EntryState::Running
    } else {
        EntryState::Interrupted
    }
}

fn process_is_massho(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim_end().starts_with("massho"))
}

/// This boot's random id (changes at every boot: a power cut is a new boot).
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
}

fn default_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/massho/journal");
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    state.join("massho/journal")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, pid: u32, boot: Option<String>) -> Entry {
        Entry {
            schema: JOURNAL_SCHEMA.into(),
            id: id.into(),
            device: "/dev/loop9".into(),
            serial: None,
            model: None,
            identity: MediumIdentity {
                device_number: "7:9".into(),
                inode: None,
                diskseq: Some(3),
                size_bytes: 4096,
                serial: None,
                model: None,
                backing_file: None,
                loop_offset: None,
                detaching: false,
            },
            method: "zero".into(),
            passes_planned: 1,
            verify_mode: "last".into(),
            prng: "aes-ctr".into(),
            seed: "00".into(),
            started_at: "2026-11-30T00:00:00Z".into(),
            updated_at: "2026-11-30T00:00:00Z".into(),
            firmware: Vec::new(),
            rounds: 1,
            blank: false,
            checkpoint: None,
            resumed_from: None,
            host: "h".into(),
            pid,
            boot_id: boot,
            passes_done: vec![],
            closed: None,
        }
    }

    #[test]
    fn an_open_entry_of_a_dead_process_or_another_boot_is_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::locate(Some(dir.path()));
        j.ensure_writable().unwrap();
        // A process that has exited stands for a killed massho; another boot's entry is
        // interrupted whatever its pid; this very process (massho's test binary) is running.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        j.write(&entry("a", dead, boot_id())).unwrap();
        j.write(&entry("r", std::process::id(), boot_id())).unwrap();
        j.write(&entry("b", 1, Some("another-boot".into())))
            .unwrap();
        let mut closed = entry("c", 1, boot_id());
        closed.closed = Some(Closed {
            status: Status::Passed,
            finished_at: "2026-11-30T00:01:00Z".into(),
            result_file: None,
            certificate_id: None,
            note: None,
        });
        j.write(&closed).unwrap();
        std::fs::write(dir.path().join("junk.json"), b"{").unwrap();
        let (entries, unreadable) = j.entries().unwrap();
        let states: Vec<(&str, EntryState)> =
            entries.iter().map(|(e, s)| (e.id.as_str(), *s)).collect();
        assert!(
            states.contains(&("a", EntryState::Interrupted)),
            "{states:?}"
        );
        assert!(
            states.contains(&("b", EntryState::Interrupted)),
            "{states:?}"
        );
        assert!(states.contains(&("c", EntryState::Closed)), "{states:?}");
        assert!(states.contains(&("r", EntryState::Running)), "{states:?}");
        assert_eq!(unreadable, vec![dir.path().join("junk.json")]);
        assert_eq!(j.interrupted().len(), 2);
    }
}
