//! `massho cabinet ...`: cabinets, what they should hold, and the yearly check (棚卸し).

use super::args::CabinetCommand;
use super::media::{medium_row, MEDIUM_HEADERS};
use super::{emit, from_ledger, new_event, open, open_read_only, record};
use crate::cli::{Exit, ExitError};
use crate::ledger::{report, EventData};

pub fn run(cmd: &CabinetCommand) -> anyhow::Result<Exit> {
    match cmd {
        CabinetCommand::Add(a) => {
            let e = new_event(
                &a.recorder,
                None,
                EventData::CabinetAdded {
                    cabinet: a.cabinet.clone(),
                    room: a.room.clone(),
                    lockable: !a.not_lockable,
                },
            )?;
            record(&mut open(&a.path)?, vec![e])
        }
        CabinetCommand::List(a) => {
            let ledger = open_read_only(&a.path)?;
            let cabinets = ledger.cabinets().map_err(from_ledger)?;
            let mut rows = Vec::new();
            for c in &cabinets {
                let held = report::inventory(&ledger, &c.id)
                    .map_err(from_ledger)?
                    .len();
                rows.push(vec![
                    c.id.clone(),
                    c.room.clone(),
                    if c.lockable { "yes" } else { "NO" }.to_owned(),
                    held.to_string(),
                    c.last_inventory.clone().unwrap_or_else(|| "never".into()),
                ]);
            }
            emit(
                &a.output,
                &["CABINET", "ROOM", "LOCKABLE", "MEDIA", "LAST CHECK"],
                &rows,
                &cabinets,
            )?;
            Ok(Exit::Passed)
        }
        CabinetCommand::Inventory(a) => {
            let ledger = open_read_only(&a.path)?;
            need_cabinet(&ledger, &a.cabinet)?;
            let media = report::inventory(&ledger, &a.cabinet).map_err(from_ledger)?;
            let rows: Vec<Vec<String>> = media.iter().map(medium_row).collect();
            emit(&a.output, &MEDIUM_HEADERS, &rows, &media)?;
            Ok(Exit::Passed)
        }
        CabinetCommand::Check(a) => {
            let mut ledger = if a.dry_run {
                open_read_only(&a.path)?
            } else {
                open(&a.path)?
            };
            need_cabinet(&ledger, &a.cabinet)?;
            let found = read_tags(&a.found)?;
            let r = report::reconcile(&ledger, &a.cabinet, &found).map_err(from_ledger)?;
            if a.json {
                outln!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                safeln!(
                    "cabinet {}: {} expected, {} found",
                    r.cabinet,
                    r.expected,
                    r.found
                );
                for t in &r.missing {
                    safeln!("  MISSING     {t}  (the ledger says it is here)");
                }
                for t in &r.unexpected {
                    safeln!("  UNEXPECTED  {t}  (not in the ledger)");
                }
                for (t, place) in &r.misplaced {
                    safeln!("  MISPLACED   {t}  (the ledger says: {place})");
                }
                if r.clean() {
                    safeln!("  everything is where the ledger says");
                }
            }
            if !a.dry_run {
                let e = new_event(
                    &a.recorder,
                    None,
                    EventData::InventoryChecked {
                        cabinet: r.cabinet.clone(),
                        expected: r.expected,
                        found: r.found,
                        missing: r.missing.clone(),
                        unexpected: r.unexpected.clone(),
                        misplaced: r
                            .misplaced
                            .iter()
                            .map(|(t, p)| format!("{t} ({p})"))
                            .collect(),
                    },
                )?;
                ledger.append_all(vec![e]).map_err(from_ledger)?;
                if !a.json {
                    safeln!("recorded the check in {}", ledger.path().display());
                }
            }
            Ok(if r.clean() {
                Exit::Passed
            } else {
                Exit::Failed
            })
        }
    }
}

fn need_cabinet(ledger: &crate::ledger::Ledger, id: &str) -> anyhow::Result<()> {
    if ledger.cabinet(id).map_err(from_ledger)?.is_none() {
        return Err(ExitError::refused(format!(
            "no cabinet {id} in ledger {}; `massho cabinet list` shows the cabinets",
            ledger.path().display()
        )));
    }
    Ok(())
}

/// Asset tags, one per line (or the first column of a CSV); blank lines and `#` comments are
/// skipped, a header named asset/asset_tag/資産番号/管理番号 too.
fn read_tags(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let bytes = crate::input::read_regular(path, "list of found tags", crate::input::limit::IMPORT)
        .map_err(super::exchange::input_error)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let mut tags = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record
            .map_err(|e| ExitError::usage(format!("{}: line {}: {e}", path.display(), i + 1)))?;
        let Some(tag) = record.get(0).map(str::trim).filter(|t| !t.is_empty()) else {
            continue;
        };
        // A header line (the first line with a value) names the column.
        let header = tags.is_empty()
            && matches!(
                tag.to_ascii_lowercase().as_str(),
                "asset" | "asset_tag" | "資産番号" | "管理番号"
            );
        if !header {
            tags.push(tag.to_owned());
        }
    }
    Ok(tags)
}
