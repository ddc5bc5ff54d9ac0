//! From the operator's choices to a batch the pipeline can run: every selected drive inspected
//! again and planned, every record checked before anything is written (as `massho wipe` does),
//! the drives opened and bound, and the confirmation compared through [`Confirm`].

use std::path::PathBuf;
use std::sync::Mutex;

use super::model::{expected_confirmation, field, ConfirmDrive, Model};
use crate::cli::args::{CertIssueArgs, HiddenArg, PurposeArg};
use crate::cli::wipe::{hidden_refusal, warnings_for};
use crate::device::{self, DeviceInfo};
use crate::job::journal::Journal;
use crate::job::{self, Bound, Confirm, Job, JobError, LedgerRecorder, Recording};
use crate::method::{self, PlanOptions};
use crate::text::{path_safe, terminal_safe};

/// Drives opened and bound, waiting for the operator's confirmation. Dropping it releases
/// them; nothing has been written.
pub struct Prepared {
    pub bound: Vec<Bound>,
    pub recording: Recording,
    pub confirm: Vec<ConfirmDrive>,
    /// What the operator should know (ledger warnings).
    pub notes: Vec<String>,
}

fn nonempty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Check, plan and open the selected drives. `Err` says what to fix; nothing was written.
pub fn prepare(model: &Model, journal: Journal) -> Result<Prepared, String> {
    let mut jobs = Vec::new();
    for d in model.selected() {
        let info = device::inspect(&d.info.path).map_err(|e| e.to_string())?;
        if !info.refusals.is_empty() {
            let why: Vec<String> = info.refusals.iter().map(ToString::to_string).collect();
            return Err(format!(
                "{} may not be wiped now: {}; nothing was written",
                path_safe(&info.path),
                why.join("; ")
            ));
        }
        let m = method::resolve(d.method_name()).map_err(|e| e.to_string())?;
        let mut plan = method::plan(
            &m,
            &PlanOptions {
                verify: model.verify_mode(),
                ..PlanOptions::default()
            },
        );
        plan.resolve(&info, false).map_err(|e| e.to_string())?;
        if let Some(why) = hidden_refusal(&info, HiddenArg::Refuse) {
            return Err(why);
        }
        let warnings = warnings_for(&info, &plan, HiddenArg::Refuse);
        jobs.push(Job::new(info, plan, warnings).map_err(|e| e.to_string())?);
    }
    if jobs.is_empty() {
        return Err("no drive is selected".into());
    }
    let assets: Vec<String> = model
        .selected()
        .map(|d| d.asset.trim().to_owned())
        .collect();
    let f = |i| nonempty(model.field(i));
    let purpose = match model.field(field::PURPOSE) {
        "reuse" => PurposeArg::Reuse,
        "lease-return" => PurposeArg::LeaseReturn,
        _ => PurposeArg::Disposal,
    };
    let cert = CertIssueArgs {
        cert_dir: f(field::CERT_DIR).map(PathBuf::from),
        key: f(field::KEY).map(PathBuf::from),
        operator: f(field::OPERATOR),
        org: f(field::ORG),
        asset: Vec::new(),
        purpose,
        lessor: f(field::LESSOR),
        contract: f(field::CONTRACT),
        witness: None,
        ledger: f(field::LEDGER).map(PathBuf::from),
        x509_key: None,
        x509: Default::default(),
    };
    if cert.cert_dir.is_none() && cert.ledger.is_some() {
        return Err("a ledger records certificates: give a Certificate dir too".into());
    }
    let typed = model.fields[field::PASSPHRASE].value.clone();
    let certifier = crate::cli::certify::prepare_with(&cert, jobs.len(), &|prompt| {
        // MASSHO_PASSPHRASE_FILE still works for a station whose key is unattended.
        if typed.is_empty() && std::env::var_os(crate::sign::PASSPHRASE_FILE_ENV).is_some() {
            crate::sign::passphrase_from_env_or_tty(prompt)
        } else {
            Ok(typed.clone())
        }
    })
    .map_err(|e| format!("{e:#}"))?;
    let result_dir = f(field::RESULT_DIR).map(PathBuf::from);
    if let Some(dir) = &result_dir {
        job::certify::ensure_writable_dir(dir).map_err(|e| {
            format!(
                "cannot write results into {}: {e}; choose a writable Result dir; nothing was written",
                dir.display()
            )
        })?;
    }
    journal.ensure_writable().map_err(|e| e.to_string())?;
    let mut notes = Vec::new();
    let ledger: Option<Box<dyn LedgerRecorder>> = match (&cert.ledger, &certifier) {
        (Some(path), Some(c)) => {
            let tagged = assets.iter().filter(|a| !a.is_empty()).count();
            if tagged != 0 && tagged != assets.len() {
                return Err(
                    "with a ledger, give every drive an asset tag, or none (each is then found by its serial)"
                        .into(),
                );
            }
            let tags = if tagged == 0 {
                Vec::new()
            } else {
                assets.clone()
            };
            let devices: Vec<&DeviceInfo> = jobs.iter().map(|j| &j.device).collect();
            let records = crate::ledger::WipeRecords::prepare(path, &devices, &tags, c.operator())
                .map_err(|e| e.to_string())?;
            notes.extend(records.warnings().iter().map(|w| format!("ledger: {w}")));
            Some(Box::new(records))
        }
        _ => None,
    };
    // Open (and claim) every drive before asking: what is confirmed is what is open.
    let mut bound = Vec::with_capacity(jobs.len());
    for j in jobs {
        bound.push(job::bind(j).map_err(|e| e.to_string())?);
    }
    let confirm = bound
        .iter()
        .zip(&assets)
        .map(|(b, asset)| confirm_drive(b, asset))
        .collect();
    Ok(Prepared {
        bound,
        recording: Recording {
            journal,
            result_dir,
            certifier,
            assets,
            ledger: ledger.map(Mutex::new),
            local_offset: time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC),
            firmware: None,
        },
        confirm,
        notes,
    })
}

/// What the confirmation screen says about one opened drive: its identity as read from the
/// open descriptor, and what will be done to it.
fn confirm_drive(b: &Bound, asset: &str) -> ConfirmDrive {
    let d = &b.job.device;
    let id = &b.identity;
    let who: Vec<&str> = [d.vendor.as_deref(), d.model.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let mut lines = vec![format!(
        "{}: {}, serial {}, {} ({} bytes)",
        path_safe(&d.path),
        if who.is_empty() {
            "no model".to_owned()
        } else {
            who.join(" ")
        },
        d.serial.as_deref().unwrap_or("none"),
        device::human_size(id.size_bytes),
        id.size_bytes
    )];
    let mut ident = format!("device {}, {}", id.device_number, super::view::transport(d));
    if let Some(seq) = id.diskseq {
        ident.push_str(&format!(", diskseq {seq}"));
    }
    if let Some(f) = &id.backing_file {
        ident.push_str(&format!(", backing file {}", path_safe(f)));
    }
    lines.push(ident);
    let steps: Vec<String> = b.job.plan.steps.iter().map(|s| s.describe()).collect();
    lines.push(format!(
        "method {} ({}), verify {}",
        b.job.plan.method,
        steps.join(", "),
        b.job.plan.verify.name()
    ));
    let holds = if let Some(why) = &d.signatures_unknown {
        format!("unknown ({why})")
    } else if d.signatures.is_empty() {
        "no partition table or filesystem found".to_owned()
    } else {
        let s: Vec<&str> = d.signatures.iter().map(|s| s.type_name.as_str()).collect();
        s.join(", ")
    };
    lines.push(format!("holds: {holds}"));
    if !asset.is_empty() {
        lines.push(format!("asset tag {asset}"));
    }
    for w in &b.job.warnings {
        lines.push(format!("warning: {w}"));
    }
    ConfirmDrive {
        lines: lines
            .into_iter()
            .map(|l| terminal_safe(&l).into_owned())
            .collect(),
        token: d.confirmation_token().to_owned(),
        by_serial: d.serial.as_deref().is_some_and(|s| !s.trim().is_empty()),
    }
}

/// The confirmation typed on the console's confirmation screen.
pub struct Typed(pub String);

impl Confirm for Typed {
    fn confirm(&mut self, devices: &[Bound]) -> Result<(), JobError> {
        let tokens: Vec<String> = devices
            .iter()
            .map(|b| b.job.device.confirmation_token().to_owned())
            .collect();
        let expected = expected_confirmation(&tokens);
        if self.0.trim() == expected {
            Ok(())
        } else {
            Err(JobError::NotConfirmed(format!(
                "the confirmation did not match {:?}; nothing was written and the drives were released",
                terminal_safe(&expected)
            )))
        }
    }
}
