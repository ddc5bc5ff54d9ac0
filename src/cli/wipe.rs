//! `massho wipe`: inspect every device, refuse unsafe ones, confirm, wipe all in parallel,
//! report one result per device.

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::HumanBytes;

use super::args::{PrngArg, VerifyArg, WipeArgs};
use super::ledger::wipe::WipeLedger;
use super::render::{interrupt_flag, Console, Style};
use super::{certify, Exit, ExitError};
use crate::device::io::{Access, DeviceTarget, IoError};
use crate::device::{self, DeviceInfo, DeviceKind, MediaClass};
use crate::engine::{self, EngineConfig, Status};
use crate::method::{self, PlanOptions, VerifyMode, WipePlan};
use crate::pattern::{Prng, Seed};
use crate::result::{sanitization_for, WipeResult};

pub fn run(args: &WipeArgs) -> anyhow::Result<Exit> {
    let local_offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    // Every method error (unknown name, unreadable or invalid file) is the operator's to fix.
    let method = method::resolve(&args.method).map_err(|e| ExitError::usage(e.to_string()))?;
    let devices = inspect_all(&args.devices)?;
    refuse_unsafe(&devices)?;
    let style = Style::choose(args.json);
    let jobs: Vec<Job> = devices
        .into_iter()
        .map(|device| {
            let plan = method::plan(
                &method,
                &PlanOptions {
                    verify: args.verify.map(verify_mode),
                    rounds: args.rounds,
                    blank: args.blank,
                    prng: args.prng.map(prng),
                    seed: Seed::generate(),
                },
            );
            let warnings = warnings_for(&device);
            Job {
                device,
                plan,
                warnings,
            }
        })
        .collect();
    for job in &jobs {
        describe(job, style, args.dry_run);
    }
    if args.dry_run {
        eprintln!("dry run: nothing was written");
        return Ok(Exit::Passed);
    }
    let mut certifier = certify::prepare(&args.cert, jobs.len())?;
    let mut ledger = match (&args.cert.ledger, &mut certifier) {
        (Some(path), Some(c)) => {
            let devices: Vec<&DeviceInfo> = jobs.iter().map(|j| &j.device).collect();
            let l = WipeLedger::prepare(path, &devices, &args.cert.asset, c.operator())?;
            c.set_assets(l.assets());
            Some(l)
        }
        (Some(path), None) => {
            eprintln!(
                "massho: warning: THE LEDGER {} WILL NOT BE UPDATED: it records wipes with their signed certificates, and there is no signing key",
                path.display()
            );
            None
        }
        (None, _) => None,
    };
    if !args.yes {
        confirm(&jobs)?;
    }
    // Open everything before writing anything: a busy device refuses the whole command.
    let targets = jobs
        .iter()
        .map(|j| DeviceTarget::open(&j.device.path, Access::ReadWrite))
        .collect::<Result<Vec<_>, IoError>>()
        .map_err(ExitError::from_open)?;
    if let Some(dir) = &args.result_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create result directory {}", dir.display()))?;
    }
    let interrupted = interrupt_flag()?;
    let console = Console::new(style, interrupted);
    let config = EngineConfig::from_env();
    let results: Vec<WipeResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .zip(&targets)
            .map(|(job, target)| {
                let console = &console;
                let config = &config;
                scope.spawn(move || {
                    let label = job.device.path.display().to_string();
                    let report = engine::run(&job.plan, target, &label, config, console);
                    WipeResult::new(
                        &job.device,
                        &job.plan,
                        report,
                        job.warnings.clone(),
                        local_offset,
                    )
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    drop(targets);
    if results.len() != jobs.len() {
        anyhow::bail!("a wipe thread crashed; treat every device of this run as not wiped");
    }
    for result in &results {
        if style == Style::Json {
            console.json(&result_event(result)?);
        }
        if let Some(dir) = &args.result_dir {
            let path = write_result(dir, result)?;
            console.say(&format!(
                "{}: result written to {}",
                result.device.display(),
                path.display()
            ));
        }
    }
    if style != Style::Json {
        print_summary(&results);
    }
    let exit = exit_for(results.iter().map(|r| r.status));
    match &certifier {
        Some(c) => {
            issue_certificates(c, ledger.as_mut(), &results, &console, local_offset).map(|()| exit)
        }
        None if args.cert.cert_dir.is_some() => {
            console.say(&format!("massho: warning: {}", certify::NO_KEY_WARNING));
            Ok(exit)
        }
        None => Ok(exit),
    }
}

/// One signed certificate per device, failed and aborted wipes included (they say so).
fn issue_certificates(
    certifier: &certify::Certifier,
    ledger: Option<&mut WipeLedger>,
    results: &[WipeResult],
    console: &Console,
    local_offset: time::UtcOffset,
) -> anyhow::Result<()> {
    // Every device gets its certificate first; one that cannot be written, or a ledger that
    // refuses one record, never costs the other devices theirs.
    let mut issued = Vec::new();
    let mut failures = 0;
    for (i, result) in results.iter().enumerate() {
        match certifier.issue(i, result, local_offset) {
            Ok((cert, files)) => {
                if console.style() == Style::Json {
                    console.json(&serde_json::json!({
                        "event": "certificate",
                        "device": result.device,
                        "certificate_id": cert.certificate_id,
                        "status": cert.status,
                        "file": files.json,
                        "signature": files.signature,
                    }));
                } else {
                    console.say(&format!(
                        "{}: certificate {} ({}) written to {}",
                        result.device.display(),
                        cert.certificate_id,
                        cert.status.name(),
                        files.json.display()
                    ));
                }
                issued.push((i, cert, files));
            }
            Err(e) => {
                failures += 1;
                console.say(&format!(
                    "massho: error: {}: NO CERTIFICATE: {e:#}",
                    result.device.display()
                ));
            }
        }
    }
    if let Some(l) = ledger {
        for (i, cert, files) in &issued {
            let device = results[*i].device.display();
            match l.record(*i, cert, files) {
                Ok((tag, seq)) => console.say(&format!(
                    "{device}: ledger {}: medium {tag}, wipe recorded as event {seq}",
                    l.path().display()
                )),
                Err(e) => {
                    failures += 1;
                    console.say(&format!(
                        "massho: error: {device}: certificate {} was written, but the ledger {} was not updated: {e:#}; record it with `massho media wiped {} --certificate {}`",
                        cert.certificate_id,
                        l.path().display(),
                        l.asset(*i),
                        files.json.display()
                    ));
                }
            }
        }
    }
    if failures > 0 {
        anyhow::bail!("{failures} certificate(s) or ledger record(s) could not be written (see above); the wipes themselves are reported above");
    }
    Ok(())
}

/// The NDJSON line for a result: the result object with `"event": "result"` added.
fn result_event(result: &WipeResult) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(result).context("cannot encode the result as JSON")?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("event".into(), "result".into());
    }
    Ok(value)
}

/// One device's wipe, decided before anything is written.
struct Job {
    device: DeviceInfo,
    plan: WipePlan,
    warnings: Vec<String>,
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
    let mut seen = HashSet::new();
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
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if !seen.insert(canonical.clone()) {
            return Err(ExitError::usage(format!(
                "{} is named twice (as {}); name each device once",
                canonical.display(),
                path.display()
            )));
        }
        out.push(info);
    }
    Ok(out)
}

/// Every refusal of every device, or nothing: one unsafe device refuses the whole command.
fn refuse_unsafe(devices: &[DeviceInfo]) -> anyhow::Result<()> {
    let reasons: Vec<String> = devices
        .iter()
        .flat_map(|d| d.refusals.iter().map(|r| format!("  {r}")))
        .collect();
    if reasons.is_empty() {
        return Ok(());
    }
    Err(ExitError::refused(format!(
        "refusing to wipe; nothing was written:\n{}\nunmount, swapoff or release the device, or leave it out of the command",
        reasons.join("\n")
    )))
}

fn warnings_for(device: &DeviceInfo) -> Vec<String> {
    let mut w = Vec::new();
    if device.kind == DeviceKind::File {
        w.push(format!(
            "{} is a regular file: overwriting it on a journaling or copy-on-write filesystem does not sanitize the underlying disk",
            device.path.display()
        ));
    }
    if device.media_class == MediaClass::Flash {
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
        d.path.display(),
        if identity.is_empty() {
            "no model".to_owned()
        } else {
            identity.join(" ")
        },
        d.serial.as_deref().unwrap_or("none"),
        HumanBytes(d.size_bytes),
        d.size_bytes,
        d.logical_sector_size
    )];
    let passes: Vec<String> = job
        .plan
        .passes
        .iter()
        .map(|p| match p.verify {
            Some(_) => format!("{}+verify", p.pattern),
            None => p.pattern.to_string(),
        })
        .collect();
    lines.push(format!(
        "  method {} ({} pass(es): {}), verify {}, prng {}",
        job.plan.method,
        job.plan.passes.len(),
        passes.join(", "),
        job.plan.verify.name(),
        job.plan.prng.name()
    ));
    if !d.signatures.is_empty() {
        let sigs: Vec<&str> = d.signatures.iter().map(|s| s.type_name.as_str()).collect();
        lines.push(format!("  holds: {}", sigs.join(", ")));
    }
    for w in &job.warnings {
        lines.push(format!("  warning: {w}"));
    }
    // In JSON mode stdout carries only NDJSON.
    for l in lines {
        if style == Style::Json {
            eprintln!("{l}");
        } else {
            outln!("{l}");
        }
    }
}

/// Ask the operator to type each device's serial number (its name when it has none).
fn confirm(jobs: &[Job]) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut lines = stdin.lock().lines();
    for job in jobs {
        let token = job.device.confirmation_token();
        eprint!(
            "All data on {} will be destroyed. Type its serial number ({token}) to confirm: ",
            job.device.path.display()
        );
        let _ = std::io::stderr().flush();
        let answer = match lines.next() {
            Some(Ok(l)) => l,
            _ if !interactive => {
                return Err(ExitError::refused(
                    "no confirmation on standard input; type the serial number, or pass --yes for automation",
                ))
            }
            _ => String::new(),
        };
        if answer.trim() != token {
            return Err(ExitError::refused(format!(
                "confirmation for {} did not match {token:?}; nothing was written",
                job.device.path.display()
            )));
        }
    }
    Ok(())
}

/// Write a result durably (see [`crate::atomic`]), never over an earlier record.
fn write_result(dir: &Path, result: &WipeResult) -> anyhow::Result<PathBuf> {
    // 2026-11-25T10:44:06.845Z -> 20261125T104406Z
    let stamp: String = result
        .started_at
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let serial = result.serial.as_deref().unwrap_or("noserial");
    let name: String = format!("{}_{}_{}Z.json", result.media.name, serial, stamp)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(name);
    let json = serde_json::to_vec_pretty(result).context("cannot encode the result as JSON")?;
    crate::atomic::create_new(&path, &json, None)
        .with_context(|| format!("cannot write the result to {}", path.display()))?;
    Ok(path)
}

fn print_summary(results: &[WipeResult]) {
    let width = |f: fn(&WipeResult) -> String, title: &str| {
        results
            .iter()
            .map(|r| f(r).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let device = |r: &WipeResult| r.device.display().to_string();
    let serial = |r: &WipeResult| r.serial.clone().unwrap_or_else(|| "-".into());
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
                e.message
            );
        }
        for m in r.verification.mismatches.iter().take(20) {
            outln!("    mismatch: {} bytes at offset {}", m.length, m.offset);
        }
        if let Some(reason) = &r.abandoned {
            outln!("    gave up: {reason}");
        }
        for w in &r.warnings {
            outln!("    warning: {w}");
        }
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

    #[test]
    fn flash_media_are_warned_to_be_clear_only() {
        let w = warnings_for(&device(DeviceKind::Disk, Transport::Usb, MediaClass::Flash));
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("NIST SP 800-88 Clear only") && w[0].contains("Purge"),
            "{w:?}"
        );
        let hdd = device(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        assert!(warnings_for(&hdd).is_empty());
        let file = device(DeviceKind::File, Transport::File, MediaClass::Virtual);
        assert!(warnings_for(&file)[0].contains("copy-on-write"));
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
    fn any_refusal_refuses_the_whole_command() {
        let ok = device(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        let mut mounted = ok.clone();
        mounted.refusals.push(crate::device::Refusal::Mounted {
            device: "/dev/sdz1".into(),
            mountpoint: "/mnt/data".into(),
        });
        assert!(refuse_unsafe(std::slice::from_ref(&ok)).is_ok());
        let err = refuse_unsafe(&[ok, mounted]).unwrap_err();
        let exit = err.downcast_ref::<ExitError>().map(|e| e.exit);
        assert_eq!(exit, Some(Exit::Refused));
        assert!(
            err.to_string()
                .contains("/dev/sdz1 is mounted at /mnt/data"),
            "{err}"
        );
    }
}
