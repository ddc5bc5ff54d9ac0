//! `massho ledger`, `massho media`, `massho cabinet`, `massho report`: the media ledger's
//! command line. Each command opens the ledger, appends events or reads state, and prints.

/// `outln!` for text that holds values from the ledger or a file: every line goes through
/// [`crate::text::terminal_safe`], so an asset tag or a note cannot repaint the terminal or turn
/// text around. (JSON output is data and printed as it is.)
macro_rules! safeln {
    ($($arg:tt)*) => {{
        outln!("{}", $crate::cli::ledger::safe_lines(&format!($($arg)*)))
    }};
}

pub mod args;
mod cabinet;
mod evidence;
pub mod exchange;
mod media;
mod report;
pub mod wipe;

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use self::args::{LedgerCommand, LedgerPath, Output, Recorder};
use super::{Exit, ExitError};
use crate::ledger::{self, chain, Ledger, LedgerError, NewEvent};

pub use self::cabinet::run as cabinet;
pub use self::evidence::run as evidence;
pub use self::media::run as media;
pub use self::report::run as report;

/// `massho ledger ...`
pub fn run(cmd: &LedgerCommand) -> anyhow::Result<Exit> {
    match cmd {
        LedgerCommand::Init(p) => init(p),
        LedgerCommand::Verify(a) => verify(a),
        LedgerCommand::Seal(a) => seal(a),
        LedgerCommand::Export(a) => exchange::export(a),
        LedgerCommand::Import(a) => exchange::import(a),
        LedgerCommand::Log(a) => report::log(a),
        LedgerCommand::Policy(a) => evidence::policy(a),
    }
}

/// Text made safe for a terminal line by line (the line breaks massho puts in are kept).
pub fn safe_lines(text: &str) -> String {
    text.split('\n')
        .map(crate::text::terminal_safe)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The path the options name.
pub fn path_of(p: &LedgerPath) -> PathBuf {
    ledger::resolve_path(p.ledger.as_deref())
}

/// Open an existing ledger.
pub fn open(p: &LedgerPath) -> anyhow::Result<Ledger> {
    Ledger::open(&path_of(p)).map_err(from_ledger)
}

/// Open an existing ledger read-only (reports, verification, export).
pub fn open_read_only(p: &LedgerPath) -> anyhow::Result<Ledger> {
    Ledger::open_read_only(&path_of(p)).map_err(from_ledger)
}

/// A ledger error with the exit code it deserves.
pub fn from_ledger(e: LedgerError) -> anyhow::Error {
    match e {
        LedgerError::Rejected { .. } => {
            ExitError::refused(safe_lines(&format!("{e}; nothing was recorded")))
        }
        LedgerError::Missing { .. } | LedgerError::NotALedger { .. } => {
            ExitError::usage(safe_lines(&e.to_string()))
        }
        other => other.into(),
    }
}

/// Who records: --operator, else the user behind sudo, else the user.
pub fn actor(operator: Option<&str>) -> String {
    operator
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .or_else(|| std::env::var("SUDO_USER").ok().filter(|u| !u.is_empty()))
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A date argument (YYYY-MM-DD), checked.
pub fn date_arg(value: &str, option: &str) -> anyhow::Result<String> {
    ledger::parse_date(value)
        .map(|d| d.to_string())
        .ok_or_else(|| {
            ExitError::usage(format!(
                "{option} {value:?} is not a date; write it as YYYY-MM-DD, e.g. 2027-03-31"
            ))
        })
}

/// `--at`: when it happened, if not now. Never in the future: the ledger records what has
/// happened.
pub fn at_arg(rec: &Recorder) -> anyhow::Result<Option<time::OffsetDateTime>> {
    let Some(s) = rec.at.as_deref() else {
        return Ok(None);
    };
    let t = ledger::parse_time(s).ok_or_else(|| {
        ExitError::usage(format!(
            "--at {s:?} is not a time; write it as 2026-11-25T10:30:00+09:00 or 2026-11-25"
        ))
    })?;
    if t > time::OffsetDateTime::now_utc() {
        return Err(ExitError::usage(format!(
            "--at {s} is in the future: the ledger records what has happened"
        )));
    }
    Ok(Some(t))
}

/// Build an event from the recorder options.
pub fn new_event(
    rec: &Recorder,
    medium: Option<&str>,
    data: ledger::EventData,
) -> anyhow::Result<NewEvent> {
    let time = at_arg(rec)?;
    Ok(NewEvent {
        medium: medium.map(str::to_owned),
        actor: actor(rec.operator.as_deref()),
        time,
        note: rec.note.clone().filter(|n| !n.trim().is_empty()),
        data,
    })
}

/// Append events in one transaction and say what was recorded.
pub fn record(ledger: &mut Ledger, events: Vec<NewEvent>) -> anyhow::Result<Exit> {
    let recorded = ledger.append_all(events).map_err(from_ledger)?;
    for r in &recorded {
        safeln!(
            "recorded event {} ({}{}) in {}",
            r.event.seq,
            r.event.data.kind(),
            r.event
                .medium
                .as_deref()
                .map(|m| format!(", medium {m}"))
                .unwrap_or_default(),
            ledger.path().display()
        );
    }
    Ok(Exit::Passed)
}

/// Print a listing as a table, CSV or JSON.
pub fn emit<T: Serialize>(
    output: &Output,
    headers: &[&str],
    rows: &[Vec<String>],
    items: &T,
) -> anyhow::Result<()> {
    if output.json {
        outln!("{}", serde_json::to_string_pretty(items)?);
    } else if output.csv {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(headers)?;
        for r in rows {
            w.write_record(r.iter().map(|c| ledger::exchange::csv_cell(c).into_owned()))?;
        }
        let bytes = w.into_inner().context("cannot write CSV")?;
        use std::io::Write as _;
        let _ = std::io::stdout().lock().write_all(&bytes);
    } else if rows.is_empty() {
        safeln!("(none)");
    } else {
        // Every cell is ledger data: escaped here whatever the table renderer does.
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|c| crate::text::terminal_safe(c).into_owned())
                    .collect()
            })
            .collect();
        let _ = std::io::Write::write_all(
            &mut std::io::stdout().lock(),
            super::table::render(headers, &rows).as_bytes(),
        );
    }
    Ok(())
}

fn init(p: &LedgerPath) -> anyhow::Result<Exit> {
    let path = path_of(p);
    let existed = path.exists();
    let ledger = Ledger::create_or_open(&path).map_err(from_ledger)?;
    let (events, _) = ledger.head().map_err(from_ledger)?;
    if existed {
        safeln!(
            "ledger {} exists already: id {}, {events} events",
            path.display(),
            ledger.id()
        );
    } else {
        safeln!("created ledger {} (id {})", path.display(), ledger.id());
    }
    Ok(Exit::Passed)
}

/// The trusted public keys from --pubkey and --trusted.
pub fn trusted_keys(
    pubkeys: &[PathBuf],
    dir: Option<&std::path::Path>,
) -> anyhow::Result<Vec<crate::sign::PublicKey>> {
    // One set, as `cert verify` builds it: the same key twice counts once, two different keys
    // with one key id are an error naming both.
    crate::sign::trusted_keys(pubkeys, dir)
        .map_err(|e| ExitError::usage(safe_lines(&e.to_string())))
}

fn verify(a: &args::LedgerVerifyArgs) -> anyhow::Result<Exit> {
    let keys = trusted_keys(&a.pubkey, a.trusted.as_deref())?;
    let mut seals = Vec::new();
    for f in &a.seal {
        let seal = chain::read_seal_file(f).map_err(|e| {
            if e.is_usage() {
                ExitError::usage(e.to_string())
            } else {
                e.into()
            }
        })?;
        seals.push((crate::text::path_safe(f), seal));
    }
    let mut evidence_audit = None;
    let (v, origin) = match &a.export {
        Some(file) => (exchange::verify_export(file, &keys, seals)?, file.clone()),
        None => {
            let ledger = match Ledger::open_read_only(&path_of(&a.path)) {
                Ok(l) => l,
                // A ledger too damaged to open (no id, no schema) is a verification failure.
                Err(e @ (LedgerError::Damaged { .. } | LedgerError::NotALedger { .. })) => {
                    safeln!("PROBLEM: {}", crate::text::terminal_safe(&e.to_string()));
                    safeln!("FAILED: this is not a ledger massho can vouch for");
                    return Ok(Exit::Failed);
                }
                Err(e) => return Err(from_ledger(e)),
            };
            let mut v = chain::verify(&ledger, &keys, &seals).map_err(from_ledger)?;
            let tsa_cert = a
                .tsa_cert
                .as_deref()
                .map(|p| {
                    crate::input::read_regular(p, "TSA certificate", crate::input::limit::TIMESTAMP)
                })
                .transpose()
                .map_err(|e| ExitError::usage(safe_lines(&e.to_string())))?;
            // The evidence of the events the chain vouched for (all of them, when it holds).
            let audit =
                crate::ledger::evidence::audit::audit(&ledger, v.events, tsa_cert.as_deref())
                    .map_err(from_ledger)?;
            v.problems.extend(audit.problems.iter().cloned());
            evidence_audit = Some(audit);
            (v, ledger.path().to_path_buf())
        }
    };
    if a.json {
        let mut value = serde_json::to_value(&v)?;
        value["ok"] = serde_json::Value::Bool(v.ok());
        if let Some(audit) = &evidence_audit {
            value["evidence"] = serde_json::to_value(audit)?;
        }
        outln!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_verification(
            &v,
            &origin,
            keys.is_empty(),
            a.export.is_some(),
            evidence_audit.as_ref(),
        );
    }
    Ok(if v.ok() { Exit::Passed } else { Exit::Failed })
}

fn print_evidence_audit(audit: &crate::ledger::evidence::audit::EvidenceAudit) {
    if audit.evidence == 0 && audit.timestamps == 0 && audit.unreferenced.is_empty() {
        return;
    }
    safeln!(
        "  evidence: {} document(s), {} store file(s) re-hashed in {}; {} archive timestamp(s){}",
        audit.evidence,
        audit.files_checked,
        audit.store,
        audit.timestamps,
        if audit.timestamps > 0 && !audit.tsa_signatures_checked {
            " (imprints checked; TSA signatures not checked: pass --tsa-cert TSA.pem)"
        } else {
            ""
        }
    );
    for f in &audit.unreferenced {
        safeln!(
            "  note: evidence store file {f} is named by no event (left by an interrupted `media evidence`): record it again, or remove it"
        );
    }
}

fn print_verification(
    v: &chain::Verification,
    origin: &std::path::Path,
    no_keys: bool,
    export: bool,
    evidence: Option<&crate::ledger::evidence::audit::EvidenceAudit>,
) {
    safeln!("ledger {} (id {})", origin.display(), v.ledger_id);
    safeln!(
        "  events: {}, head {}; media: {}, cabinets: {}",
        v.events,
        v.head,
        v.media,
        v.cabinets
    );
    for s in &v.seals {
        let verdict = match (s.signature_ok, &s.problem) {
            (_, Some(p)) => format!("BAD: {p}"),
            (Some(true), None) => "signature good".to_owned(),
            _ => "signature not checked (no --pubkey)".to_owned(),
        };
        safeln!(
            "  seal at event {} ({}): {} events, key {}: {verdict}",
            s.seq,
            s.time,
            s.events,
            s.key_id
        );
    }
    if let Some(audit) = evidence {
        print_evidence_audit(audit);
    }
    if v.seals.is_empty() {
        safeln!("  no seals: run `massho ledger seal` to sign the chain's head");
    } else if no_keys {
        safeln!("  seals were not checked: pass --pubkey KEY or --trusted DIR");
    }
    if v.unsealed_events > 0 && !v.seals.is_empty() {
        safeln!(
            "  {} event(s) after the last seal are covered by the chain only",
            v.unsealed_events
        );
    }
    if v.ok() && no_keys && !v.seals.is_empty() {
        safeln!("OK, BUT THE SEALS WERE NOT CHECKED: the chain and the derived state check out; a forger who recomputed every hash would pass this too. Give --pubkey KEY to check the seals");
    } else if v.ok() && export {
        safeln!(
            "OK: the exported chain and its seals check out (an export holds no derived state)"
        );
    } else if v.ok() {
        safeln!("OK: the chain, the derived state and the seals check out");
    } else {
        for p in &v.problems {
            safeln!("PROBLEM: {p}");
        }
        safeln!("FAILED: do not trust this ledger past the first problem");
    }
}

fn seal(a: &args::LedgerSealArgs) -> anyhow::Result<Exit> {
    let key_path = match &a.key {
        Some(k) => k.clone(),
        None => crate::sign::default_key_dir()
            .map(|d| d.join("massho.key"))
            .filter(|k| k.exists())
            .ok_or_else(|| {
                ExitError::usage(
                    "no signing key: pass --key KEY, or create one with `massho key generate`",
                )
            })?,
    };
    let prompt = format!("Passphrase for {}: ", key_path.display());
    let key = crate::sign::SecretKey::from_file(&key_path, &|| {
        crate::sign::passphrase_from_env_or_tty(&prompt)
    })
    .map_err(|e| ExitError::usage(e.to_string()))?;
    if let Some(out) = &a.out {
        // Checked first: a seal recorded in the ledger but not written out would be confusing.
        if out.exists() {
            return Err(ExitError::usage(format!(
                "seal file {} exists already; choose a new name (seal files are never overwritten)",
                out.display()
            )));
        }
    }
    let mut ledger = open(&a.path)?;
    let seal =
        chain::seal(&mut ledger, &key, &actor(a.operator.as_deref())).map_err(from_ledger)?;
    if let (true, Some(url)) = (a.timestamp, &a.tsa_url) {
        evidence::timestamp_online(&mut ledger, url, a.operator.as_deref()).context(
            "the seal was recorded, the archive timestamp was not: get it later with `massho evidence timestamp --tsa-url URL` (or --request/--attach)",
        )?;
    }
    if let Some(tsq) = &a.timestamp_request {
        let events = evidence::write_request(&ledger, tsq)?;
        safeln!(
            "archive timestamp request for events 1–{events} (up to this seal) written to {}; send it to the TSA, then: massho evidence timestamp --attach RESPONSE.tsr",
            tsq.display()
        );
    }
    if let Some(out) = &a.out {
        let text = serde_json::to_string_pretty(&seal)? + "\n";
        if let Err(e) = crate::atomic::create_new(out, text.as_bytes(), None) {
            outln!("{text}");
            return Err(anyhow::anyhow!(
                "the seal was recorded in the ledger as its last event, but seal file {} cannot be written: {e}; the seal is printed above, keep it",
                out.display()
            ));
        }
    }
    safeln!(
        "sealed ledger {}: {} events, head {}, key {}{}",
        ledger.path().display(),
        seal.events,
        seal.head,
        seal.key_id,
        a.out
            .as_ref()
            .map(|o| format!("; seal written to {}", o.display()))
            .unwrap_or_default()
    );
    Ok(Exit::Passed)
}
