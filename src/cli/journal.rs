//! `massho journal`: the wipes the journal knows of — running, interrupted (the process was
//! killed or the power cut before the wipe ended: the medium is partly overwritten and no result
//! says so), and with `--all` the ones that ended.

use super::args::JournalArgs;
use super::table;
use super::Exit;
use crate::job::journal::{EntryState, Journal};
use crate::text::{path_safe, terminal_safe};

pub fn run(args: &JournalArgs) -> anyhow::Result<Exit> {
    let journal = Journal::locate(args.journal_dir.as_deref());
    let (entries, unreadable) = journal.entries()?;
    let shown: Vec<_> = entries
        .iter()
        .filter(|(_, s)| args.all || *s != EntryState::Closed)
        .collect();
    for p in &unreadable {
        errln!(
            "massho: warning: {} is not a journal entry massho can read",
            path_safe(p)
        );
    }
    if args.json {
        let rows: Vec<serde_json::Value> = shown
            .iter()
            .map(|(e, s)| {
                let mut v = serde_json::to_value(e).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("state".into(), serde_json::to_value(s).unwrap_or_default());
                }
                v
            })
            .collect();
        outln!("{}", serde_json::Value::Array(rows));
        return Ok(Exit::Passed);
    }
    if shown.is_empty() {
        outln!(
            "no {}wipes in the journal {}",
            if args.all {
                ""
            } else {
                "running or interrupted "
            },
            path_safe(journal.dir())
        );
        return Ok(Exit::Passed);
    }
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|(e, s)| {
            let state = match s {
                EntryState::Running => "running".to_owned(),
                EntryState::Interrupted => "INTERRUPTED".to_owned(),
                EntryState::Closed => e
                    .closed
                    .as_ref()
                    .map_or("closed".into(), |c| c.status.name().to_owned()),
            };
            vec![
                state,
                e.device.display().to_string(),
                e.serial.clone().unwrap_or_else(|| "-".into()),
                e.method.clone(),
                format!("{}/{}", e.passes_done.len(), e.passes_planned),
                e.started_at.clone(),
                e.updated_at.clone(),
                e.id.clone(),
            ]
        })
        .collect();
    outln!(
        "{}",
        table::render(
            &["STATE", "DEVICE", "SERIAL", "METHOD", "PASSES", "STARTED", "UPDATED", "ENTRY"],
            &rows
        )
    );
    if shown.iter().any(|(_, s)| *s == EntryState::Interrupted) {
        outln!(
            "INTERRUPTED: the wipe never ended; the medium is partly overwritten. Wipe it again; each entry's seed and passes are in {}",
            terminal_safe(&journal.dir().display().to_string())
        );
    }
    Ok(Exit::Passed)
}
