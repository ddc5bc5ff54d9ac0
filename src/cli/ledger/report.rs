//! `massho report ...` and `massho ledger log`: what an auditor reads.

use super::args::{LedgerLogArgs, Output, ReportCommand};
use super::media::{event_row, EVENT_HEADERS};
use super::{date_arg, emit, from_ledger, open_read_only};
use crate::cli::{Exit, ExitError};
use crate::ledger::{self, report};

pub fn run(cmd: &ReportCommand) -> anyhow::Result<Exit> {
    match cmd {
        ReportCommand::Out(a) => {
            let ledger = open_read_only(&a.path)?;
            let rows =
                report::out_of_cabinet(&ledger, as_of(a.as_of.as_deref())?).map_err(from_ledger)?;
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.asset_tag.clone(),
                        r.kind.to_owned(),
                        r.status.to_owned(),
                        dash(&r.holder),
                        r.since.clone(),
                        r.days_out.to_string(),
                        match (&r.due_back, r.overdue) {
                            (Some(d), true) => format!("{d} OVERDUE"),
                            (Some(d), false) => d.clone(),
                            (None, _) => "-".into(),
                        },
                        dash(&r.cabinet),
                        yes(r.personal_info),
                    ]
                })
                .collect();
            emit(
                &a.output,
                &[
                    "ASSET", "KIND", "STATUS", "HOLDER", "SINCE", "DAYS", "DUE", "CABINET", "PI",
                ],
                &table,
                &rows,
            )?;
        }
        ReportCommand::Retention(a) => {
            let ledger = open_read_only(&a.path)?;
            let rows =
                report::past_retention(&ledger, as_of(a.as_of.as_deref())?).map_err(from_ledger)?;
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.asset_tag.clone(),
                        r.kind.to_owned(),
                        dash(&r.backup_set),
                        r.retention_until.clone(),
                        r.days_past.to_string(),
                        r.status.to_owned(),
                        dash(&r.cabinet),
                        yes(r.personal_info),
                    ]
                })
                .collect();
            emit(
                &a.output,
                &[
                    "ASSET",
                    "KIND",
                    "BACKUP SET",
                    "KEEP UNTIL",
                    "DAYS PAST",
                    "STATUS",
                    "CABINET",
                    "PI",
                ],
                &table,
                &rows,
            )?;
        }
        ReportCommand::Leases(a) => {
            let ledger = open_read_only(&a.report.path)?;
            let rows = report::leases_due(&ledger, as_of(a.report.as_of.as_deref())?, a.within)
                .map_err(from_ledger)?;
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.asset_tag.clone(),
                        r.kind.to_owned(),
                        dash(&r.serial),
                        dash(&r.lessor),
                        dash(&r.contract),
                        r.return_due.clone(),
                        if r.days_left < 0 {
                            format!("{} OVERDUE", -r.days_left)
                        } else {
                            r.days_left.to_string()
                        },
                        r.status.to_owned(),
                        if r.sanitized { "ready" } else { "NOT WIPED" }.to_owned(),
                    ]
                })
                .collect();
            emit(
                &a.report.output,
                &[
                    "ASSET",
                    "KIND",
                    "SERIAL",
                    "LESSOR",
                    "CONTRACT",
                    "DUE",
                    "DAYS LEFT",
                    "STATUS",
                    "WIPE",
                ],
                &table,
                &rows,
            )?;
        }
        ReportCommand::Disposals(a) => {
            let ledger = open_read_only(&a.path)?;
            let from = parse_day(&a.from, "--from")?;
            let to = parse_day(&a.to, "--to")?;
            if to < from {
                return Err(ExitError::usage(format!(
                    "--to {to} is before --from {from}"
                )));
            }
            let rows = report::disposals(&ledger, from, to).map_err(from_ledger)?;
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.time.clone(),
                        r.asset_tag.clone(),
                        dash(&r.serial),
                        r.event.to_owned(),
                        match &r.forced {
                            Some(f) => format!("{} (FORCED: {f})", r.detail),
                            None => r.detail.clone(),
                        },
                        dash(&r.certificate),
                        r.certificate_sha256
                            .as_deref()
                            .map(|h| h.get(..16).unwrap_or(h).to_owned())
                            .unwrap_or_else(|| "-".into()),
                        dash(&r.contractor),
                        r.actor.clone(),
                    ]
                })
                .collect();
            emit(
                &a.output,
                &[
                    "TIME",
                    "ASSET",
                    "SERIAL",
                    "EVENT",
                    "DETAILS",
                    "CERTIFICATE",
                    "SHA-256",
                    "CONTRACTOR",
                    "BY",
                ],
                &table,
                &rows,
            )?;
        }
        ReportCommand::History(a) => {
            let ledger = open_read_only(&a.path)?;
            if ledger.medium(&a.asset).map_err(from_ledger)?.is_none() {
                return Err(ExitError::refused(format!(
                    "no medium {} in ledger {}",
                    a.asset,
                    ledger.path().display()
                )));
            }
            let events = report::history(&ledger, &a.asset).map_err(from_ledger)?;
            print_events(&a.output, &events)?;
        }
    }
    Ok(Exit::Passed)
}

pub fn log(a: &LedgerLogArgs) -> anyhow::Result<Exit> {
    let ledger = open_read_only(&a.path)?;
    let since = a
        .since
        .as_deref()
        .map(|s| {
            ledger::parse_time(s)
                .map(ledger::utc_string)
                .ok_or_else(|| {
                    ExitError::usage(format!(
                        "--since {s:?} is not a date or time; write 2026-04-01"
                    ))
                })
        })
        .transpose()?;
    if let Some(k) = a.kind.as_deref() {
        if !ledger::event::KINDS.contains(&k) {
            return Err(ExitError::usage(format!(
                "--kind {k:?} is not an event kind; use one of {}",
                ledger::event::KINDS.join(", ")
            )));
        }
    }
    let (events, _) = ledger.head().map_err(from_ledger)?;
    let first = a.last.map_or(0, |n| events.saturating_sub(n));
    let events = ledger
        .events_where(
            "seq > ?1 AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR time >= ?3)",
            &[&(first as i64), &a.kind, &since],
        )
        .map_err(from_ledger)?;
    print_events(&a.output, &events)?;
    Ok(Exit::Passed)
}

pub fn print_events(output: &Output, events: &[ledger::Event]) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = events.iter().map(event_row).collect();
    emit(output, &EVENT_HEADERS, &rows, &events)
}

fn dash(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn parse_day(s: &str, option: &str) -> anyhow::Result<time::Date> {
    let d = date_arg(s, option)?;
    ledger::parse_date(&d).ok_or_else(|| ExitError::usage(format!("{option} {s:?} is not a date")))
}

/// The report's day: --as-of, else today (local).
fn as_of(s: Option<&str>) -> anyhow::Result<time::Date> {
    match s {
        Some(s) => parse_day(s, "--as-of"),
        None => Ok(time::OffsetDateTime::now_local()
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
            .date()),
    }
}
