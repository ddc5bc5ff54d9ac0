//! `massho wipe`: inspect every device, refuse unsafe ones, check every record can be kept,
//! open and bind each device, confirm, then run the library's per-device pipeline
//! ([`crate::job`]) on all of them at once and report one result per device.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use indicatif::HumanBytes;

use super::args::{HiddenArg, PrngArg, VerifyArg, WipeArgs};
use super::render::{Console, Style};
use super::{certify, Exit, ExitError};
use crate::device::{self, DeviceInfo, DeviceKind, MediaClass};
use crate::engine::{EngineConfig, Status};
use crate::job::journal::Journal;
use crate::job::{self, Bound, Confirm, Job, JobError, LedgerRecorder, Outcome, Recording};
use crate::method::{self, PlanOptions, VerifyMode};
use crate::pattern::{Prng, Seed};
use crate::purge::hidden::{self, HiddenChange};
use crate::result::{sanitization_for, WipeResult};
use crate::text::{path_safe, terminal_safe};

pub fn run(args: &WipeArgs) -> anyhow::Result<Exit> {
    let outcome = wipe(args);
    // A script reading NDJSON learns why the command stopped from stdout too.
    if let (true, Err(e)) = (args.json, &outcome) {
        let exit = super::exit_of(e);
        outln!(
            "{}",
            serde_json::json!({
                "event": if exit == Exit::Refused { "refused" } else { "error" },
                "time": super::render::now(),
                "exit": exit as i32,
                "message": format!("{e:#}"),
            })
        );
    }
    outcome
}

fn wipe(args: &WipeArgs) -> anyhow::Result<Exit> {
    let local_offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    let style = Style::choose(args.json);
    let journal = Journal::locate(args.journal_dir.as_deref());
    report_interrupted(&journal);
    // Every method error (unknown name, unreadable or invalid file) is the operator's to fix.
    let method = method::resolve(&args.method).map_err(|e| ExitError::usage(e.to_string()))?;
    if args.hidden_permanent && args.hidden != HiddenArg::Restore {
        return Err(ExitError::usage(
            "--hidden-permanent only applies with --hidden restore".to_owned(),
        ));
    }
    // Per device: the changes `--hidden restore` makes before its wipe (run just before the
    // devices are opened, after every refusal and pre-flight check).
    let mut unhide: Vec<(PathBuf, Vec<HiddenChange>)> = Vec::new();
    let (devices, resumes) = if args.resume {
        resumable(args, &journal)?
    } else {
        (inspect_all(&args.devices)?, Vec::new())
    };
    refuse_unsafe(&devices, style)?;
    let mut jobs = Vec::with_capacity(devices.len());
    let mut refused = Vec::new();
    let fresh = if args.resume {
        for (device, entry) in devices.into_iter().zip(resumes) {
            if let Some(why) = job::resume::mismatch(&entry, &device) {
                refused.push((
                    device.path.clone(),
                    format!(
                        "{} is not the drive journal entry {} was wiping ({why}); it is not resumed",
                        path_safe(&device.path),
                        entry.id
                    ),
                ));
                continue;
            }
            match job::resume::plan(&entry) {
                Ok(plan) => {
                    let warnings = warnings_for(&device, &plan, args.hidden);
                    let mut job = Job::new(device, plan, warnings)?;
                    job.resumes = Some(entry);
                    jobs.push(job);
                }
                Err(why) => refused.push((
                    device.path.clone(),
                    format!(
                        "{}: journal entry {} cannot be resumed: {why}",
                        path_safe(&device.path),
                        entry.id
                    ),
                )),
            }
        }
        Vec::new()
    } else {
        devices
    };
    for device in fresh {
        let mut plan = method::plan(
            &method,
            &PlanOptions {
                verify: args.verify.map(verify_mode),
                rounds: args.rounds,
                blank: args.blank,
                prng: args.prng.map(prng),
                seed: Seed::generate(),
            },
        );
        // Which firmware technique each step uses is decided here, for this drive, before
        // anything is written anywhere.
        if let Err(e) = plan.resolve(&device, args.allow_bridge) {
            refused.push((device.path.clone(), e.to_string()));
            continue;
        }
        if args.hidden == HiddenArg::Restore {
            match hidden::plan(&device, args.hidden_permanent) {
                Ok(steps) if steps.is_empty() => {}
                Ok(steps) => unhide.push((device.path.clone(), steps)),
                Err(why) => {
                    refused.push((device.path.clone(), why));
                    continue;
                }
            }
        } else if let Some(why) = hidden_refusal(&device, args.hidden) {
            refused.push((device.path.clone(), why));
            continue;
        }
        let mut warnings = warnings_for(&device, &plan, args.hidden);
        if let Some((_, steps)) = unhide.iter().find(|(p, _)| *p == device.path) {
            warnings.push(pending_restore(&device, steps));
        }
        jobs.push(Job::new(device, plan, warnings)?);
    }
    if !refused.is_empty() {
        if style == Style::Json {
            let list: Vec<serde_json::Value> = refused
                .iter()
                .map(|(d, why)| serde_json::json!({"device": d, "refusals": [why]}))
                .collect();
            outln!(
                "{}",
                serde_json::json!({"event": "refused", "time": super::render::now(), "devices": list})
            );
        }
        let lines: Vec<String> = refused
            .iter()
            .map(|(_, why)| format!("  {}", terminal_safe(why)))
            .collect();
        return Err(ExitError::refused(format!(
            "refusing to wipe; nothing was written:\n{}",
            lines.join("\n")
        )));
    }
    for job in &jobs {
        describe(job, style, args.dry_run);
    }
    if args.dry_run {
        if style == Style::Json {
            let plans: Vec<serde_json::Value> = jobs.iter().map(plan_json).collect();
            outln!(
                "{}",
                serde_json::json!({"event": "dry_run", "time": super::render::now(), "devices": plans})
            );
        }
        eprintln!("dry run: nothing was written");
        return Ok(Exit::Passed);
    }
    // Everything that must be kept is checked before anything is written: the signing key and
    // the certificate, result and journal directories, and the ledger's rules.
    let certifier = certify::prepare(&args.cert, jobs.len())?;
    if let Some(dir) = &args.result_dir {
        job::certify::ensure_writable_dir(dir).map_err(|e| {
            ExitError::refused(format!(
                "cannot write results into {}: {e}; choose a writable --result-dir; nothing was written",
                dir.display()
            ))
        })?;
    }
    journal.ensure_writable().map_err(JobError::from)?;
    let ledger: Option<Box<dyn LedgerRecorder>> = match (&args.cert.ledger, &certifier) {
        (Some(path), Some(c)) => {
            let devices: Vec<&DeviceInfo> = jobs.iter().map(|j| &j.device).collect();
            Some(Box::new(super::ledger::wipe::prepare(
                path,
                &devices,
                &args.cert.asset,
                c.operator(),
            )?))
        }
        _ => None,
    };
    // Hidden sectors are exposed last, so that no refusal above leaves a drive changed; from
    // here until the wipes start, anything that stops the command puts volatile changes back.
    let mut restored: Vec<(DeviceInfo, hidden::HiddenRestore)> = Vec::new();
    let bound = match unhide_and_bind(jobs, &unhide, &mut restored, args.yes) {
        Ok(bound) => bound,
        Err(e) => {
            revert_restores(&restored);
            return Err(e);
        }
    };
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
    let recording = Arc::new(Recording {
        journal,
        result_dir: args.result_dir.clone(),
        certifier,
        assets: args.cert.asset.clone(),
        ledger: ledger.map(Mutex::new),
        local_offset,
        firmware: None,
    });
    let outcomes = job::run_batch(
        bound,
        recording,
        Arc::new(EngineConfig::from_env()),
        Arc::clone(&console) as Arc<dyn job::JobObserver>,
        Arc::clone(&force),
    );
    finish(&outcomes, &console)
}

/// Print the results and decide the exit code from the worst outcome. A record that could
/// not be written (result file, certificate, ledger) is an error (exit 5) only when every wipe
/// passed: a failed or aborted wipe keeps its own exit code.
fn finish(outcomes: &[Outcome], console: &Console) -> anyhow::Result<Exit> {
    let mut results = Vec::new();
    let mut not_started = Vec::new();
    let mut failures = Vec::new();
    for o in outcomes {
        match o {
            Ok(d) => {
                if console.style() == Style::Json {
                    console.json(&result_event(&d.result));
                }
                for f in &d.record_failures {
                    // A record's error can quote a serial or asset tag the drive supplied.
                    failures.push(format!(
                        "{}: {}",
                        path_safe(&d.result.device),
                        terminal_safe(f)
                    ));
                }
                results.push(&d.result);
            }
            Err(e) => not_started.push(e),
        }
    }
    if console.style() != Style::Json {
        print_summary(&results);
    } else {
        for r in &results {
            errln!(
                "{}: {}",
                path_safe(&r.device),
                r.status.name().to_uppercase()
            );
        }
    }
    for e in &not_started {
        errln!("massho: error: {e}");
        // A device refused inside the batch is a JSON object too, like the up-front refusals.
        if console.style() == Style::Json {
            console.json(&not_started_event(e));
        }
    }
    let exit = batch_exit(results.iter().map(|r| r.status), !not_started.is_empty());
    if failures.is_empty() {
        return Ok(exit);
    }
    let written: Vec<String> = outcomes
        .iter()
        .flatten()
        .map(|d| {
            let mut kept = Vec::new();
            if d.journal_closed {
                kept.push("journal");
            }
            if d.result_file.is_some() {
                kept.push("result file");
            }
            if d.certificate.is_some() {
                kept.push("certificate");
            }
            if d.ledger.is_some() {
                kept.push("ledger record");
            }
            let kept = if kept.is_empty() {
                "nothing".to_owned()
            } else {
                kept.join(", ")
            };
            format!("{}: {kept}", path_safe(&d.result.device))
        })
        .collect();
    let message = format!(
        "{} record(s) could not be written:\n  {}\nwhat was kept:\n  {}",
        failures.len(),
        failures.join("\n  "),
        written.join("\n  ")
    );
    match exit {
        // A refused device (nothing written) is not "every wipe passed": keep its code.
        Exit::Failed | Exit::Aborted | Exit::Refused => {
            errln!("massho: error: {message}");
            Ok(exit)
        }
        _ => Err(anyhow::anyhow!(message)),
    }
}

/// The NDJSON object for a device whose wipe never started.
fn not_started_event(e: &JobError) -> serde_json::Value {
    let exit = super::exit_of_job(e).unwrap_or(Exit::Internal);
    serde_json::json!({
        "event": if exit == Exit::Refused { "refused" } else { "error" },
        "exit": exit as i32,
        "message": e.to_string(),
    })
}

/// The interrupted wipes to resume, with their devices inspected now: those of the named
/// devices, or every interrupted entry whose device path exists.
fn resumable(
    args: &WipeArgs,
    journal: &Journal,
) -> anyhow::Result<(Vec<DeviceInfo>, Vec<crate::job::journal::Entry>)> {
    let interrupted = journal.interrupted();
    let mut pairs = Vec::new();
    if args.devices.is_empty() {
        for entry in interrupted {
            if entry.device.exists() {
                pairs.push((entry.device.clone(), entry));
            }
        }
    } else {
        for path in &args.devices {
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            // The newest interrupted entry for this path.
            let found = interrupted
                .iter()
                .rev()
                .find(|e| std::fs::canonicalize(&e.device).unwrap_or_else(|_| e.device.clone()) == canonical)
                .cloned()
                .ok_or_else(|| {
                    ExitError::usage(format!(
                        "{}: the journal in {} has no interrupted wipe of it (see `massho journal`)",
                        path_safe(path),
                        journal.dir().display()
                    ))
                })?;
            pairs.push((path.clone(), found));
        }
    }
    if pairs.is_empty() {
        return Err(ExitError::usage(format!(
            "nothing to resume: the journal in {} has no interrupted wipe of an attached device (see `massho journal`)",
            journal.dir().display()
        )));
    }
    let paths: Vec<PathBuf> = pairs.iter().map(|p| p.0.clone()).collect();
    let devices = inspect_all(&paths)?;
    Ok((devices, pairs.into_iter().map(|p| p.1).collect()))
}

/// Warn about wipes that an earlier massho started and never finished.
pub fn report_interrupted(journal: &Journal) {
    for e in journal.interrupted() {
        errln!(
            "massho: warning: an interrupted wipe: {} (serial {}) was being wiped with {} since {} and never finished: the medium is partly overwritten; see `massho journal` ({})",
            path_safe(&e.device),
            terminal_safe(e.serial.as_deref().unwrap_or("none")),
            terminal_safe(&e.method),
            terminal_safe(&e.started_at),
            path_safe(&journal.dir().join(format!("{}.json", e.id)))
        );
    }
}

/// Asks for each device's serial number on the terminal.
struct SerialPrompt;

impl Confirm for SerialPrompt {
    fn confirm(&mut self, devices: &[Bound]) -> Result<(), JobError> {
        let stdin = std::io::stdin();
        let interactive = stdin.is_terminal();
        let mut lines = stdin.lock().lines();
        for b in devices {
            let token = b.job.device.confirmation_token();
            eprint!(
                "All data on {} will be destroyed. Type its serial number ({}) to confirm: ",
                path_safe(&b.job.device.path),
                terminal_safe(token)
            );
            let _ = std::io::stderr().flush();
            let answer = match lines.next() {
                Some(Ok(l)) => l,
                _ if !interactive => {
                    return Err(JobError::NotConfirmed(
                        "no confirmation on standard input; type the serial number, or pass --yes for automation; nothing was written".into(),
                    ))
                }
                _ => String::new(),
            };
            if answer.trim() != token {
                return Err(JobError::NotConfirmed(format!(
                    "confirmation for {} did not match {:?}; nothing was written",
                    path_safe(&b.job.device.path),
                    terminal_safe(token)
                )));
            }
        }
        Ok(())
    }
}

/// The NDJSON line for a result: the result object with `"event": "result"` and a time added.
pub(super) fn result_event(result: &WipeResult) -> serde_json::Value {
    let mut value = serde_json::to_value(result).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("event".into(), "result".into());
        obj.insert("time".into(), super::render::now().into());
    }
    value
}

fn plan_json(job: &Job) -> serde_json::Value {
    serde_json::json!({
        "device": job.device.path,
        "serial": job.device.serial,
        "model": job.device.model,
        "size_bytes": job.device.size_bytes,
        "identity": job.inspected,
        "method": job.plan.method,
        "steps": job.plan.steps.iter().map(|s| match s {
            method::Step::Overwrite(p) => serde_json::json!({
                "step": p.number,
                "pattern": p.pattern.to_string(),
                "verify": p.verify.is_some(),
            }),
            method::Step::Firmware(f) => serde_json::json!({
                "step": f.number,
                "firmware": f.requested.name(),
                "technique": f.technique.as_ref().map(|(t, _)| t.name()),
                "reason": f.technique.as_ref().map(|(_, r)| r),
                "verify": f.verify.is_some(),
            }),
        }).collect::<Vec<_>>(),
        "verify": job.plan.verify.name(),
        "prng": job.plan.prng.name(),
        "warnings": job.warnings,
    })
}

fn verify_mode(v: VerifyArg) -> VerifyMode {
    match v {
        VerifyArg::None => VerifyMode::None,
        VerifyArg::Last => VerifyMode::Last,
        VerifyArg::All => VerifyMode::All,
        VerifyArg::Sample => VerifyMode::Sample,
    }
}

fn prng(p: PrngArg) -> Prng {
    match p {
        PrngArg::AesCtr => Prng::AesCtr,
        PrngArg::Chacha20 => Prng::Chacha20,
    }
}

/// Inspect every named device; the same device named twice is a usage error.
fn inspect_all(paths: &[PathBuf]) -> anyhow::Result<Vec<DeviceInfo>> {
    let mut seen: Vec<(MediumKey, PathBuf)> = Vec::new();
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let info = device::inspect(path).map_err(|e| match e {
            device::DeviceError::NotFound { .. } | device::DeviceError::NotADevice { .. } => {
                ExitError::usage(e.to_string())
            }
            other => {
                anyhow::Error::new(other).context(format!("cannot inspect {}", path.display()))
            }
        })?;
        // The same medium under two names is one medium, whatever the names: a second device
        // node with the same number, a hard link to the same image file. Two threads wiping
        // one medium at once would certify it twice (or fail each other's verification).
        let key = medium_key(path).unwrap_or_else(|| {
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            MediumKey::Path(canonical)
        });
        if let Some(first) = seen.iter().find(|(k, _)| *k == key).map(|(_, p)| p) {
            return Err(ExitError::usage(format!(
                "{} is named twice (as {} and {}); name each device once",
                path_safe(&std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())),
                path_safe(first),
                path_safe(path)
            )));
        }
        seen.push((key, path.clone()));
        out.push(info);
    }
    for part in out.iter().filter(|d| d.kind == DeviceKind::Partition) {
        let parent = part.parent.as_deref().and_then(medium_key);
        if let Some(disk) = out.iter().find(|d| {
            d.kind != DeviceKind::Partition && parent.is_some() && medium_key(&d.path) == parent
        }) {
            return Err(ExitError::usage(format!(
                "{} is a partition of {}, which is named too: wiping the whole disk covers it; name either the disk or its partitions",
                path_safe(&part.path),
                path_safe(&disk.path)
            )));
        }
    }
    Ok(out)
}

/// What makes two names one medium.
#[derive(Debug, PartialEq, Eq)]
enum MediumKey {
    /// A block device's number.
    Block(u64),
    /// A file's filesystem and inode.
    File(u64, u64),
    /// Neither could be read: the resolved path.
    Path(PathBuf),
}

fn medium_key(path: &std::path::Path) -> Option<MediumKey> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(path).ok()?;
    Some(if meta.file_type().is_block_device() {
        MediumKey::Block(meta.rdev())
    } else {
        MediumKey::File(meta.dev(), meta.ino())
    })
}

/// Every refusal of every device, or nothing: one unsafe device refuses the whole command.
/// With `--json` the refusals are also one JSON object on stdout.
fn refuse_unsafe(devices: &[DeviceInfo], style: Style) -> anyhow::Result<()> {
    let reasons: Vec<String> = devices
        .iter()
        .flat_map(|d| {
            d.refusals
                .iter()
                .map(|r| format!("  {}", terminal_safe(&r.to_string())))
        })
        .collect();
    if reasons.is_empty() {
        return Ok(());
    }
    if style == Style::Json {
        let refused: Vec<serde_json::Value> = devices
            .iter()
            .filter(|d| !d.refusals.is_empty())
            .map(|d| serde_json::json!({"device": d.path, "refusals": d.refusals}))
            .collect();
        outln!(
            "{}",
            serde_json::json!({"event": "refused", "time": super::render::now(), "devices": refused})
        );
    }
    Err(ExitError::refused(format!(
        "refusing to wipe; nothing was written:\n{}\nunmount, swapoff or release the device, or leave it out of the command",
        reasons.join("\n")
    )))
}

/// The warning a job carries while its hidden sectors are still to be exposed.
fn pending_restore(device: &DeviceInfo, steps: &[HiddenChange]) -> String {
    let what: Vec<&str> = steps.iter().map(|c| c.describe()).collect();
    format!(
        "{}: --hidden restore exposes {} hidden sector(s) before the wipe: {}",
        path_safe(&device.path),
        device
            .hidden
            .as_ref()
            .and_then(|h| h.hidden_sectors())
            .map_or("some".to_owned(), |n| n.to_string()),
        what.join(", ")
    )
}

/// Expose the hidden sectors of the jobs named in `unhide` (each restored drive is inspected
/// again, so its job wipes the native capacity), then open every device, confirm and recheck.
/// `restored` collects what was changed, for the caller to put back if this fails.
fn unhide_and_bind(
    jobs: Vec<Job>,
    unhide: &[(PathBuf, Vec<HiddenChange>)],
    restored: &mut Vec<(DeviceInfo, hidden::HiddenRestore)>,
    yes: bool,
) -> anyhow::Result<Vec<Bound>> {
    let mut ready = Vec::with_capacity(jobs.len());
    for job in jobs {
        let Some((_, steps)) = unhide.iter().find(|(p, _)| *p == job.device.path) else {
            ready.push(job);
            continue;
        };
        let record = hidden::restore_device(&job.device, steps).map_err(|e| {
            ExitError::refused(format!(
                "refusing to wipe; nothing was written:\n  {}",
                terminal_safe(&e.to_string())
            ))
        })?;
        restored.push((job.device.clone(), record.clone()));
        let after = device::inspect(&job.device.path).map_err(|e| {
            anyhow::Error::new(e)
                .context("cannot inspect the drive again after exposing its hidden sectors")
        })?;
        if after.has_hidden_sectors() || after.size_bytes != record.after.kernel_bytes {
            return Err(ExitError::refused(format!(
                "refusing to wipe; nothing was written:\n  {}: after the restore the drive still reports hidden sectors or the block device has {} bytes, not {}",
                path_safe(&after.path),
                after.size_bytes,
                record.after.kernel_bytes
            )));
        }
        let pending = pending_restore(&job.device, steps);
        let mut warnings: Vec<String> =
            job.warnings.into_iter().filter(|w| *w != pending).collect();
        warnings.push(format!(
            "{}: hidden sectors exposed before the wipe ({}{}): {} accessible sectors before, {} now",
            path_safe(&after.path),
            record
                .changes
                .iter()
                .map(|c| c.describe())
                .collect::<Vec<_>>()
                .join(", "),
            if record.permanent { "" } else { "; the drive hides them again after its next power cycle" },
            record.before.accessible_sectors,
            record.after.accessible_sectors
        ));
        let mut again = Job::new(after, job.plan, warnings)?;
        again.hidden_restore = Some(record);
        ready.push(again);
    }
    // Open (and claim) every device before asking: what is confirmed is what is open.
    let mut bound = Vec::with_capacity(ready.len());
    for job in ready {
        bound.push(job::bind(job)?);
    }
    if !yes {
        SerialPrompt.confirm(&bound)?;
    }
    for b in &bound {
        job::recheck(b, "while waiting for confirmation")?;
    }
    Ok(bound)
}

/// Put back volatile hidden-area changes after the wipe did not start; say what stays.
fn revert_restores(restored: &[(DeviceInfo, hidden::HiddenRestore)]) {
    for (device, record) in restored {
        let path = path_safe(&device.path);
        match hidden::revert_device(device, record) {
            Ok(true) => eprintln!("{path}: the hidden sectors were hidden again as before (volatile change put back)"),
            Ok(false) if record.permanent => eprintln!("{path}: the drive's hidden sectors stay exposed: the change was permanent"),
            Ok(false) => eprintln!("{path}: the volatile change could not be put back; the drive hides its sectors again after its next power cycle"),
            Err(e) => eprintln!("{path}: {e}; the drive hides its sectors again after its next power cycle"),
        }
    }
}

/// Why `device`'s hidden sectors stop the wipe under `policy`, if they do.
pub(super) fn hidden_refusal(device: &DeviceInfo, policy: HiddenArg) -> Option<String> {
    let hidden = device.hidden.as_ref()?;
    if policy == HiddenArg::Ignore || !device.has_hidden_sectors() {
        return None;
    }
    Some(format!(
        "{}: the drive hides {} sector(s) beyond the {} the host can address (host protected area, DCO or accessible max address); a wipe of the visible part leaves them untouched. Pass --hidden restore to expose them before the wipe (volatile; --hidden-permanent for a DCO or accessible max address), or restore the native capacity yourself (e.g. `hdparm -N p{} {}`, then power-cycle), or pass --hidden ignore to wipe only the visible part (the result records the hidden sectors as not sanitized)",
        path_safe(&device.path),
        hidden.hidden_sectors().map_or("some".to_owned(), |n| n.to_string()),
        hidden.accessible_sectors,
        hidden
            .native_sectors
            .max(hidden.dco_sectors)
            .unwrap_or(hidden.accessible_sectors),
        path_safe(&device.path)
    ))
}

pub(super) fn warnings_for(
    device: &DeviceInfo,
    plan: &method::WipePlan,
    hidden: HiddenArg,
) -> Vec<String> {
    let mut w = Vec::new();
    if hidden == HiddenArg::Ignore && device.has_hidden_sectors() {
        w.push(format!(
            "{}: {} hidden sector(s) (HPA/DCO/AMA) were left untouched at the operator's request (--hidden ignore): they are not sanitized",
            device.path.display(),
            device
                .hidden
                .as_ref()
                .and_then(|h| h.hidden_sectors())
                .map_or("some".to_owned(), |n| n.to_string())
        ));
    }
    if device.kind == DeviceKind::File {
        w.push(format!(
            "{} is a regular file: overwriting it on a journaling or copy-on-write filesystem does not sanitize the underlying disk",
            device.path.display()
        ));
    }
    if device.media_class == MediaClass::Flash && !plan.has_firmware() {
        w.push(format!(
            "{}: {}",
            device.path.display(),
            sanitization_for(MediaClass::Flash).note
        ));
    }
    w
}

/// Show the operator what is about to happen to each device.
fn describe(job: &Job, style: Style, dry_run: bool) {
    let d = &job.device;
    let identity: Vec<&str> = [d.vendor.as_deref(), d.model.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let mut lines = vec![format!(
        "{}{}: {}, serial {} ({}, {} bytes, {}-byte sectors)",
        if dry_run { "would wipe " } else { "" },
        path_safe(&d.path),
        if identity.is_empty() {
            "no model".to_owned()
        } else {
            terminal_safe(&identity.join(" ")).into_owned()
        },
        terminal_safe(d.serial.as_deref().unwrap_or("none")),
        HumanBytes(d.size_bytes),
        d.size_bytes,
        d.logical_sector_size
    )];
    let steps: Vec<String> = job
        .plan
        .steps
        .iter()
        .map(|s| {
            let verified = match s {
                method::Step::Overwrite(p) => p.verify.is_some(),
                method::Step::Firmware(f) => f.verify.is_some(),
            };
            if verified {
                format!("{}+verify", s.describe())
            } else {
                s.describe()
            }
        })
        .collect();
    lines.push(format!(
        "  method {} ({} step(s): {}), verify {}, prng {}",
        job.plan.method,
        job.plan.steps.len(),
        steps.join(", "),
        job.plan.verify.name(),
        job.plan.prng.name()
    ));
    for f in job.plan.firmware_steps() {
        if let Some((t, why)) = &f.technique {
            lines.push(format!("  step {}: {}: {}", f.number, t.name(), why));
        }
    }
    if let Some(why) = &d.signatures_unknown {
        lines.push(format!(
            "  holds: unknown (the medium could not be probed: {})",
            terminal_safe(why)
        ));
    } else if !d.signatures.is_empty() {
        let sigs: Vec<&str> = d.signatures.iter().map(|s| s.type_name.as_str()).collect();
        lines.push(format!("  holds: {}", terminal_safe(&sigs.join(", "))));
    }
    for w in &job.warnings {
        lines.push(format!("  warning: {}", terminal_safe(w)));
    }
    // In JSON mode stdout carries only NDJSON.
    for l in lines {
        if style == Style::Json {
            errln!("{l}");
        } else {
            outln!("{l}");
        }
    }
}

fn print_summary(results: &[&WipeResult]) {
    let width = |f: fn(&&WipeResult) -> String, title: &str| {
        results
            .iter()
            .map(|r| f(r).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let device = |r: &&WipeResult| path_safe(&r.device);
    let serial = |r: &&WipeResult| terminal_safe(r.serial.as_deref().unwrap_or("-")).into_owned();
    let (dw, sw) = (width(device, "DEVICE"), width(serial, "SERIAL"));
    outln!();
    outln!(
        "{:<dw$}  {:<sw$}  {:>11}  {:>8}  {:>6}  STATUS",
        "DEVICE",
        "SERIAL",
        "SIZE",
        "SECONDS",
        "ERRORS"
    );
    for r in results {
        outln!(
            "{:<dw$}  {:<sw$}  {:>11}  {:>8.1}  {:>6}  {}",
            device(r),
            serial(r),
            HumanBytes(r.size_bytes).to_string(),
            r.duration_seconds,
            r.errors.len() as u64 + r.errors_truncated,
            r.status.name().to_uppercase()
        );
        for e in r.errors.iter().take(20) {
            outln!(
                "    {:?} error pass {}: LBA {}-{} ({} bytes at {}): {}",
                e.kind,
                e.pass,
                e.first_lba,
                e.last_lba,
                e.length,
                e.offset,
                terminal_safe(&e.message)
            );
        }
        let v = &r.verification;
        for m in v.mismatches.iter().take(20) {
            outln!("    mismatch: {} bytes at offset {}", m.length, m.offset);
        }
        let shown = v.mismatches.len().min(20) as u64;
        let more_ranges = v.mismatches.len() as u64 - shown + v.mismatches_unlisted_ranges;
        if more_ranges > 0 {
            let listed_bytes: u64 = v.mismatches.iter().take(20).map(|m| m.length).sum();
            outln!(
                "    ... and {more_ranges} more mismatched range(s) ({} bytes) not listed",
                v.mismatched_bytes.saturating_sub(listed_bytes)
            );
        }
        if let Some(reason) = &r.abandoned {
            outln!("    gave up: {}", terminal_safe(reason));
        }
        for w in &r.warnings {
            outln!("    warning: {}", terminal_safe(w));
        }
    }
}

/// The exit code of a batch: the worst status, except that a device that never started (it
/// was refused; nothing was written to it, so all its data is still there) outranks the
/// devices that passed or were only left unverified.
pub(super) fn batch_exit(statuses: impl IntoIterator<Item = Status>, any_refused: bool) -> Exit {
    match exit_for(statuses) {
        Exit::Passed | Exit::Unverified if any_refused => Exit::Refused,
        exit => exit,
    }
}

/// Aborted beats failed beats unverified beats passed.
pub fn exit_for(statuses: impl IntoIterator<Item = Status>) -> Exit {
    statuses
        .into_iter()
        .max_by_key(|s| match s {
            Status::Aborted => 3,
            Status::Failed => 2,
            Status::Unverified => 1,
            Status::Passed => 0,
        })
        .map_or(Exit::Passed, |s| match s {
            Status::Passed => Exit::Passed,
            Status::Unverified => Exit::Unverified,
            Status::Failed => Exit::Failed,
            Status::Aborted => Exit::Aborted,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Transport;

    fn device(kind: DeviceKind, transport: Transport, media_class: MediaClass) -> DeviceInfo {
        crate::device::sample(kind, transport, media_class)
    }

    fn plan_of(name: &str) -> method::WipePlan {
        method::plan(&method::resolve(name).unwrap(), &PlanOptions::default())
    }

    fn warnings(d: &DeviceInfo) -> Vec<String> {
        warnings_for(d, &plan_of("nist-clear"), HiddenArg::Refuse)
    }

    #[test]
    fn flash_media_are_warned_to_be_clear_only_unless_the_plan_purges() {
        let flash = device(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        assert!(warnings_for(&flash, &plan_of("purge"), HiddenArg::Refuse).is_empty());
        let w = warnings(&flash);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("NIST SP 800-88 Clear only") && w[0].contains("Purge"),
            "{w:?}"
        );
        let hdd = device(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        assert!(warnings(&hdd).is_empty());
        let file = device(DeviceKind::File, Transport::File, MediaClass::Virtual);
        assert!(warnings(&file)[0].contains("copy-on-write"));
    }

    #[test]
    fn a_device_refused_inside_the_batch_is_a_json_object_with_its_exit_code() {
        let changed = JobError::Changed {
            path: "/dev/sdz".into(),
            stage: "while waiting for confirmation",
            changes: vec!["serial A → B".into()],
        };
        let v = not_started_event(&changed);
        assert_eq!(v["event"], "refused");
        assert_eq!(v["exit"], 3);
        assert!(v["message"].as_str().unwrap().contains("serial A → B"));
        let empty = JobError::Open(crate::device::io::IoError::Empty {
            path: "/dev/sdz".into(),
        });
        assert_eq!(not_started_event(&empty)["event"], "error");
        assert_eq!(not_started_event(&empty)["exit"], 2);
    }

    #[test]
    fn worst_status_decides_the_exit_code() {
        use Status::*;
        assert_eq!(exit_for([]), Exit::Passed);
        assert_eq!(exit_for([Passed, Passed]), Exit::Passed);
        assert_eq!(exit_for([Passed, Failed]), Exit::Failed);
        assert_eq!(exit_for([Failed, Aborted, Passed]), Exit::Aborted);
        assert_eq!(exit_for([Passed, Unverified]), Exit::Unverified);
        assert_eq!(exit_for([Unverified, Failed]), Exit::Failed);
    }

    #[test]
    fn a_device_refused_in_a_batch_outranks_passed_and_unverified_ones() {
        use Status::*;
        assert_eq!(batch_exit([], true), Exit::Refused);
        assert_eq!(batch_exit([Passed], true), Exit::Refused);
        assert_eq!(batch_exit([Unverified], true), Exit::Refused);
        assert_eq!(batch_exit([Unverified], false), Exit::Unverified);
        assert_eq!(batch_exit([Failed, Unverified], true), Exit::Failed);
        assert_eq!(batch_exit([Aborted], true), Exit::Aborted);
        assert_eq!(batch_exit([Passed], false), Exit::Passed);
    }

    #[test]
    fn any_refusal_refuses_the_whole_command() {
        let ok = device(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        let mut mounted = ok.clone();
        mounted.refusals.push(crate::device::Refusal::Mounted {
            device: "/dev/sdz1".into(),
            mountpoint: "/mnt/data".into(),
        });
        assert!(refuse_unsafe(std::slice::from_ref(&ok), Style::Plain).is_ok());
        let err = refuse_unsafe(&[ok, mounted], Style::Plain).unwrap_err();
        let exit = err.downcast_ref::<ExitError>().map(|e| e.exit);
        assert_eq!(exit, Some(Exit::Refused));
        assert!(
            err.to_string()
                .contains("/dev/sdz1 is mounted at /mnt/data"),
            "{err}"
        );
    }
}
