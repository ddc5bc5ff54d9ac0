//! `massho station --policy FILE`: wipe every disk attached to the bench after the station
//! started, by the policy, each through the library's per-device pipeline on its own thread.
//!
//! NDJSON (`--json`) events: `station` (started, with the disks it ignores), `attached`,
//! `ignored` / `refused` (with the reason), the wipe's own events (`started`, `progress`,
//! `pass_done`, ..., `finished`, `result`), `recorded` (status, NIST category, result file,
//! certificate id and path, once the device's records are written), `detached`, `stopped`. On a terminal the same as lines and bars.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::args::{CertIssueArgs, PurposeArg, StationArgs};
use super::render::{Console, Style};
use super::{certify, Exit, ExitError};
use crate::device;
use crate::engine::EngineConfig;
use crate::job::journal::Journal;
use crate::job::{self, Job, LedgerRecorder, Recording};
use crate::method::{self, PlanOptions};
use crate::pattern::Seed;
use crate::station::{decide, Change, Decision, Policy, Seen, Watcher};
use crate::text::path_safe;

/// Everything a disk's wipe needs that does not change while the station runs.
struct Setup {
    policy: Policy,
    cert: CertIssueArgs,
    certifier: Option<job::certify::Certifier>,
    result_dir: Option<PathBuf>,
    journal: Journal,
    config: Arc<EngineConfig>,
    console: Arc<Console>,
    force: Arc<AtomicBool>,
    local_offset: time::UtcOffset,
}

pub fn run(args: &StationArgs) -> anyhow::Result<Exit> {
    let policy = Policy::load(&args.policy).map_err(|e| ExitError::usage(e.to_string()))?;
    let style = Style::choose(args.json);
    let cert = CertIssueArgs {
        cert_dir: args.cert_dir.clone().or_else(|| policy.cert_dir.clone()),
        key: args.key.clone().or_else(|| policy.key.clone()),
        operator: args.operator.clone().or_else(|| policy.operator.clone()),
        org: policy.organization.clone(),
        asset: Vec::new(),
        purpose: PurposeArg::Disposal,
        lessor: None,
        contract: None,
        witness: None,
        ledger: args.ledger.clone().or_else(|| policy.ledger.clone()),
        // Station mode signs with minisign only, for now.
        x509_key: None,
        x509: Default::default(),
    };
    if cert.cert_dir.is_some() && cert.operator.is_none() {
        return Err(ExitError::usage(
            "certificates need an operator: set `operator` in the policy or pass --operator",
        ));
    }
    if cert.ledger.is_some() && cert.cert_dir.is_none() {
        return Err(ExitError::usage(
            "a ledger records certificates: set `cert_dir` too",
        ));
    }
    // Everything that must be kept is checked before the first disk arrives.
    let certifier = certify::prepare(&cert, 1)?;
    let result_dir = args
        .result_dir
        .clone()
        .or_else(|| policy.result_dir.clone());
    if let Some(dir) = &result_dir {
        job::certify::ensure_writable_dir(dir).map_err(|e| {
            ExitError::refused(format!(
                "cannot write results into {}: {e}; choose a writable result_dir",
                dir.display()
            ))
        })?;
    }
    let journal = Journal::locate(
        args.journal_dir
            .as_deref()
            .or(policy.journal_dir.as_deref()),
    );
    journal
        .ensure_writable()
        .map_err(crate::job::JobError::from)?;
    super::wipe::report_interrupted(&journal);

    let (interrupted, force) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let console = Arc::new(Console::new(style, Arc::clone(&interrupted)));
    super::render::watch_signals(
        Arc::clone(&console),
        Arc::clone(&interrupted),
        Arc::clone(&force),
    )?;
    let setup = Arc::new(Setup {
        policy,
        cert,
        certifier,
        result_dir,
        journal,
        config: Arc::new(EngineConfig::from_env()),
        console: Arc::clone(&console),
        force,
        local_offset: time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC),
    });

    let mut watcher = Watcher::new(Path::new(device::sysfs::SYS_BLOCK));
    let present: Vec<String> = watcher
        .present()
        .iter()
        .map(|s| s.path.display().to_string())
        .collect();
    event(
        &console,
        serde_json::json!({
            "event": "station",
            "policy": args.policy,
            "uevents": watcher.has_uevents(),
            "ignoring_present": present,
        }),
        &format!(
            "station: watching for new disks ({}); ignoring the {} present now: {}",
            if watcher.has_uevents() {
                "kernel uevents and a rescan"
            } else {
                "a rescan"
            },
            present.len(),
            present.join(", ")
        ),
    );
    let mut running: Vec<(Seen, std::thread::JoinHandle<()>)> = Vec::new();
    let interval = Duration::from_millis(args.interval_ms);
    let mut failed = false;
    while !interrupted.load(Ordering::SeqCst) {
        for change in watcher.wait(interval) {
            match change {
                Change::Added(seen) => {
                    if interrupted.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Some(handle) = attach(&setup, &seen) {
                        running.push((seen, handle));
                    }
                }
                Change::Removed(seen) => {
                    let was_running = running
                        .iter()
                        .any(|(s, h)| s.key == seen.key && !h.is_finished());
                    event(
                        &console,
                        serde_json::json!({
                            "event": "detached",
                            "device": seen.path,
                            "while_wiping": was_running,
                        }),
                        &format!(
                            "{}: detached{}",
                            path_safe(&seen.path),
                            if was_running {
                                " while being wiped: its wipe ends and is recorded"
                            } else {
                                ""
                            }
                        ),
                    );
                }
            }
        }
        running.retain(|(_, h)| !h.is_finished());
    }
    // Stopping: the running wipes saw the stop through the console and are recording.
    for (seen, h) in running {
        if h.join().is_err() {
            failed = true;
            errln!(
                "massho: error: the wipe thread of {} ended without a result",
                path_safe(&seen.path)
            );
        }
    }
    event(
        &console,
        serde_json::json!({"event": "stopped"}),
        "station: stopped",
    );
    Ok(if failed { Exit::Internal } else { Exit::Passed })
}

/// One NDJSON object, or one line on a terminal.
fn event(console: &Console, json: serde_json::Value, line: &str) {
    if console.style() == Style::Json {
        let mut json = json;
        if let Some(o) = json.as_object_mut() {
            o.insert("time".into(), super::render::now().into());
        }
        console.json(&json);
    } else {
        console.say(line);
    }
}

/// Inspect a newly attached disk, apply the policy, and start its wipe on its own thread.
fn attach(setup: &Arc<Setup>, seen: &Seen) -> Option<std::thread::JoinHandle<()>> {
    let console = &setup.console;
    let info = match device::inspect(&seen.path) {
        Ok(i) => i,
        Err(e) => {
            event(
                console,
                serde_json::json!({"event": "ignored", "device": seen.path, "reason": e.to_string()}),
                &format!("{}: ignored: {e}", path_safe(&seen.path)),
            );
            return None;
        }
    };
    event(
        console,
        serde_json::json!({
            "event": "attached",
            "device": info.path,
            "serial": info.serial,
            "model": info.model,
            "size_bytes": info.size_bytes,
            "transport": info.transport,
        }),
        &format!(
            "{}: attached ({}, serial {})",
            path_safe(&info.path),
            crate::text::terminal_safe(info.model.as_deref().unwrap_or("no model")),
            crate::text::terminal_safe(info.serial.as_deref().unwrap_or("none"))
        ),
    );
    let method_name = match decide(&setup.policy, &info) {
        Decision::Ignore(why) => {
            event(
                console,
                serde_json::json!({"event": "ignored", "device": info.path, "reason": why}),
                &format!("{}: ignored: {why}", path_safe(&info.path)),
            );
            return None;
        }
        Decision::Wipe { method } => method,
    };
    let refuse = |why: String| {
        event(
            console,
            serde_json::json!({"event": "refused", "device": info.path, "reason": why}),
            &format!("{}: refused, nothing written: {why}", path_safe(&info.path)),
        );
    };
    let method = match method::resolve(&method_name) {
        Ok(m) => m,
        Err(e) => {
            refuse(e.to_string());
            return None;
        }
    };
    let mut plan = method::plan(
        &method,
        &PlanOptions {
            verify: setup.policy.verify,
            seed: Seed::generate(),
            ..PlanOptions::default()
        },
    );
    if let Err(e) = plan.resolve(&info, false) {
        refuse(e.to_string());
        return None;
    }
    if let Some(why) = super::wipe::hidden_refusal(&info, super::args::HiddenArg::Refuse) {
        refuse(why);
        return None;
    }
    // A drive whose wipe a power cut or a kill interrupted, recognised by the journal (serial,
    // size, model, or a loop device's backing file): continued where its last checkpoint
    // reached, with the plan and seed it had, instead of starting over.
    let resumable = setup
        .journal
        .interrupted()
        .into_iter()
        .rev()
        .find(|e| job::resume::mismatch(e, &info).is_none());
    let (plan, resumes) = match resumable {
        Some(entry) => match job::resume::plan(&entry) {
            Ok(p) => {
                event(
                    console,
                    serde_json::json!({
                        "event": "resuming",
                        "device": info.path,
                        "journal_id": entry.id,
                        "step": p.resume.map(|r| r.0),
                        "offset": p.resume.map(|r| r.1),
                    }),
                    &format!(
                        "{}: resuming the interrupted wipe of journal entry {}",
                        path_safe(&info.path),
                        entry.id
                    ),
                );
                (p, Some(entry))
            }
            Err(why) => {
                refuse(format!(
                    "journal entry {} of this drive cannot be resumed ({why}); wipe it with `massho wipe` once the entry is dealt with",
                    entry.id
                ));
                return None;
            }
        },
        None => (plan, None),
    };
    let mut job = match Job::new(info.clone(), plan, Vec::new()) {
        Ok(j) => j,
        Err(e) => {
            refuse(e.to_string());
            return None;
        }
    };
    job.resumes = resumes;
    let ledger: Option<Box<dyn LedgerRecorder>> = match (&setup.cert.ledger, &setup.certifier) {
        (Some(path), Some(c)) => {
            match super::ledger::wipe::prepare(path, &[&info], &[], c.operator()) {
                Ok(l) => Some(Box::new(l)),
                Err(e) => {
                    refuse(format!("{e:#}"));
                    return None;
                }
            }
        }
        _ => None,
    };
    // The policy is the operator's confirmation: bind, and check once more before the first
    // write (run_batch does), so that a drive swapped in the meantime is refused.
    let bound = match job::bind(job) {
        Ok(b) => b,
        Err(e) => {
            refuse(e.to_string());
            return None;
        }
    };
    let recording = Arc::new(Recording {
        journal: setup.journal.clone(),
        result_dir: setup.result_dir.clone(),
        certifier: setup.certifier.clone(),
        assets: Vec::new(),
        ledger: ledger.map(Mutex::new),
        local_offset: setup.local_offset,
        firmware: None,
    });
    let setup = Arc::clone(setup);
    Some(std::thread::spawn(move || {
        let outcomes = job::run_batch(
            vec![bound],
            recording,
            Arc::clone(&setup.config),
            Arc::clone(&setup.console) as Arc<dyn job::JobObserver>,
            Arc::clone(&setup.force),
        );
        for o in outcomes {
            match o {
                Ok(d) => {
                    if setup.console.style() == Style::Json {
                        setup.console.json(&super::wipe::result_event(&d.result));
                    }
                    event(
                        &setup.console,
                        serde_json::json!({
                            "event": "recorded",
                            "device": d.result.device,
                            "status": d.result.status,
                            "nist_category": d.result.sanitization.nist_category,
                            "result_file": d.result_file,
                            "certificate_id": d.certificate.as_ref().map(|c| &c.0),
                            "certificate": d.certificate.as_ref().map(|c| &c.1),
                            "record_failures": d.record_failures,
                        }),
                        &format!(
                            "{}: {} ({}){}",
                            path_safe(&d.result.device),
                            d.result.status.name().to_uppercase(),
                            d.result.sanitization.nist_category,
                            d.certificate
                                .as_ref()
                                .map(|c| format!(", certificate {}", c.1.display()))
                                .unwrap_or_default()
                        ),
                    );
                }
                Err(e) => event(
                    &setup.console,
                    serde_json::json!({"event": "refused", "reason": e.to_string()}),
                    &format!("refused, nothing written: {e}"),
                ),
            }
        }
    }))
}
