//! One device through a whole wipe, as a library: bind → (confirm) → re-check → journal → run
//! → result → certificate → ledger record → close the journal.
//!
//! Every front end (the `wipe` command today; the console, station mode and firmware purge
//! next) composes these steps instead of re-implementing them:
//!
//! 1. [`bind`] opens the device for writing (`O_EXCL` for block devices) *before* anyone is
//!    asked to confirm, and reads its [`MediumIdentity`] from the open descriptor; a medium
//!    that is not the one inspected is refused.
//! 2. The front end confirms through its own [`Confirm`] implementation (a typed serial number,
//!    a dialog, a policy file).
//! 3. [`recheck`] after the confirmation, and [`run_batch`] once more just before the first
//!    write, compare the descriptor's and the path's identity with the bound one: a drive
//!    swapped while the operator typed is refused, never overwritten.
//! 4. Each device's wipe is journaled before its first byte is written ([`journal`]), and its
//!    result file, certificate and ledger record are written as soon as *that* device ends.
//!
//! Progress reaches the front end as the engine's [`WipeEvent`]s, the recording steps as
//! [`JobEvent`]s, both through one [`JobObserver`]. Nothing here prints.

pub mod certify;
pub mod journal;
pub mod resume;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::cert::Certificate;
use crate::device::binding::MediumIdentity;
use crate::device::io::{Access, DeviceTarget, IoError};
use crate::device::DeviceInfo;
use crate::engine::{
    self, Control, EngineConfig, Observer, PassRecord, Status, VerificationSummary, WipeEvent,
    WipeReport,
};
use crate::method::WipePlan;
use crate::purge::drive::{DriveFirmware, Note};
use crate::purge::Firmware;
use crate::result::WipeResult;
use certify::Certifier;
use journal::{Closed, Entry, Journal, JOURNAL_SCHEMA};

/// One device's wipe, decided before anything is written.
#[derive(Debug, Clone)]
pub struct Job {
    pub device: DeviceInfo,
    /// What the path named when it was inspected.
    pub inspected: MediumIdentity,
    pub plan: WipePlan,
    pub warnings: Vec<String>,
    /// The interrupted wipe this job continues (`plan.resume` says where).
    pub resumes: Option<journal::Entry>,
}

impl Job {
    /// A job for an inspected device; reads the path's identity now.
    pub fn new(device: DeviceInfo, plan: WipePlan, warnings: Vec<String>) -> Result<Job, JobError> {
        let inspected =
            MediumIdentity::of_path(&device.path).map_err(|source| JobError::Identity {
                path: device.path.clone(),
                stage: "when it was inspected",
                source,
            })?;
        // What the operator is shown and confirms (the serial they type, the size) comes from
        // `device`; what is bound later is compared with `inspected`. Both must be one medium,
        // or a drive swapped between the two reads would be confirmed under the old one's name.
        let changes = described_changes(&device, &inspected);
        if !changes.is_empty() {
            return Err(JobError::Changed {
                path: device.path.clone(),
                stage: "while it was being inspected",
                changes,
            });
        }
        Ok(Job {
            device,
            inspected,
            plan,
            warnings,
            resumes: None,
        })
    }
}

/// How the identity read now differs from the inspected description, as phrases.
fn described_changes(device: &DeviceInfo, now: &MediumIdentity) -> Vec<String> {
    // What the operator was shown, as an identity: the fields a description carries come from
    // it, the rest from `now` (so they cannot differ).
    let described = MediumIdentity {
        size_bytes: device.size_bytes,
        serial: device.serial.clone(),
        model: device.model.clone(),
        backing_file: device.backing_file.clone(),
        ..now.clone()
    };
    described.changes(now)
}

/// A job whose device is open for writing, with the identity read from that descriptor.
pub struct Bound {
    pub job: Job,
    pub target: DeviceTarget,
    pub identity: MediumIdentity,
    /// Stops this device's wipe alone; keep a clone before handing the device to
    /// [`run_batch`].
    pub stop: DeviceStop,
}

/// A stop request for one device: the other devices of the batch go on. The pipeline answers
/// the device's next engine event with [`Control::Stop`] once it is set, whatever the front
/// end's observer answers, so the wipe ends as `aborted` and is recorded like any other.
#[derive(Debug, Clone, Default)]
pub struct DeviceStop(Arc<AtomicBool>);

impl DeviceStop {
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Why a device's wipe could not start. Nothing was written to it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    #[error(transparent)]
    Open(#[from] IoError),
    #[error("{}: the medium changed {stage}: {}; nothing was written. Check which drive is attached and run massho again", crate::text::path_safe(path), changes.join(", "))]
    Changed {
        path: PathBuf,
        stage: &'static str,
        changes: Vec<String>,
    },
    #[error("{}: cannot read its identity {stage}: {source}; it may have been removed; nothing was written", crate::text::path_safe(path))]
    Identity {
        path: PathBuf,
        stage: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    /// The operator (or a policy) did not confirm.
    #[error("{0}")]
    NotConfirmed(String),
}

/// How the operator (or a policy) agrees to destroy what is on the bound devices.
pub trait Confirm {
    /// `Ok` to go ahead with every device; an error names why not.
    fn confirm(&mut self, devices: &[Bound]) -> Result<(), JobError>;
}

/// Open `job`'s device for writing and read its identity from the descriptor; refuse when it
/// is not the medium that was inspected.
pub fn bind(job: Job) -> Result<Bound, JobError> {
    let target = DeviceTarget::open(&job.device.path, Access::ReadWrite)?;
    let identity = target.identity().map_err(|source| JobError::Identity {
        path: job.device.path.clone(),
        stage: "after opening it",
        source,
    })?;
    let changes = job.inspected.changes(&identity);
    if !changes.is_empty() {
        return Err(JobError::Changed {
            path: job.device.path.clone(),
            stage: "between inspecting and opening it",
            changes,
        });
    }
    Ok(Bound {
        job,
        target,
        identity,
        stop: DeviceStop::default(),
    })
}

/// Check that the open descriptor still refers to the bound medium, and that the path still
/// names it. `stage` says when ("while waiting for confirmation").
pub fn recheck(bound: &Bound, stage: &'static str) -> Result<(), JobError> {
    let path = &bound.job.device.path;
    let identity_error = |source| JobError::Identity {
        path: path.clone(),
        stage,
        source,
    };
    let by_fd = bound.target.identity().map_err(identity_error)?;
    let by_path = MediumIdentity::of_path(path).map_err(identity_error)?;
    let mut changes = bound.identity.changes(&by_fd);
    for c in bound.identity.changes(&by_path) {
        if !changes.contains(&c) {
            changes.push(c);
        }
    }
    if changes.is_empty() {
        Ok(())
    } else {
        Err(JobError::Changed {
            path: path.clone(),
            stage,
            changes,
        })
    }
}

/// A step of recording, reported to the front end.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobEvent {
    /// The journal entry was written: from now on the medium may be partly overwritten.
    Journaled {
        device: String,
        file: PathBuf,
    },
    ResultWritten {
        device: String,
        file: PathBuf,
    },
    Certificate {
        device: String,
        certificate_id: String,
        status: Status,
        file: PathBuf,
        signature: PathBuf,
    },
    LedgerRecorded {
        device: String,
        ledger: PathBuf,
        medium: String,
        seq: u64,
    },
    /// A record that should have been written was not; `what` names it.
    RecordFailed {
        device: String,
        what: String,
        error: String,
    },
    /// A record was written, but with less than asked (a `.p7s` without the timestamp a TSA
    /// was asked for); `message` says how to complete it.
    RecordWarning {
        device: String,
        what: String,
        message: String,
    },
}

/// Receives engine progress and recording steps from every device's thread.
pub trait JobObserver: Observer + Send + Sync {
    fn job_event(&self, event: &JobEvent);
}

/// Records a wipe in a media ledger once its certificate exists.
pub trait LedgerRecorder: Send {
    /// The ledger file, for messages.
    fn path(&self) -> &Path;
    /// The asset tag the `index`-th device is recorded under.
    fn asset(&self, index: usize) -> Option<String>;
    /// Record the `index`-th device's certificate (`json` is its exact bytes); returns the
    /// medium's asset tag and the event's position.
    fn record(
        &mut self,
        index: usize,
        cert: &Certificate,
        json: &[u8],
    ) -> Result<(String, u64), Box<dyn std::error::Error + Send + Sync>>;
}

impl LedgerRecorder for crate::ledger::WipeRecords {
    fn path(&self) -> &Path {
        crate::ledger::WipeRecords::path(self)
    }

    fn asset(&self, index: usize) -> Option<String> {
        crate::ledger::WipeRecords::asset(self, index).map(str::to_owned)
    }

    fn record(
        &mut self,
        index: usize,
        cert: &Certificate,
        json: &[u8],
    ) -> Result<(String, u64), Box<dyn std::error::Error + Send + Sync>> {
        crate::ledger::WipeRecords::record(self, index, cert, json).map_err(Into::into)
    }
}

/// Where and how a batch's records are kept.
pub struct Recording {
    pub journal: Journal,
    pub result_dir: Option<PathBuf>,
    pub certifier: Option<Certifier>,
    /// Asset tags given on the command line, one per device (or none).
    pub assets: Vec<String>,
    pub ledger: Option<Mutex<Box<dyn LedgerRecorder>>>,
    pub local_offset: time::UtcOffset,
    /// How firmware steps reach a drive: `None` opens the real transport
    /// ([`DriveFirmware::open`]); tests put fakes here.
    pub firmware: Option<FirmwareFactory>,
}

/// Where a note from a running firmware step goes (the device's journal entry).
pub type NoteSink<'a> = Box<dyn FnMut(Note) -> Result<(), String> + Send + 'a>;

/// Opens a device's firmware for a plan's firmware steps.
pub type FirmwareFactory = Arc<
    dyn for<'a> Fn(&DeviceInfo, NoteSink<'a>) -> Result<Box<dyn Firmware + 'a>, String>
        + Send
        + Sync,
>;

/// Everything one device's wipe left behind.
#[derive(Debug, Clone)]
pub struct DeviceOutcome {
    pub result: WipeResult,
    pub result_file: Option<PathBuf>,
    pub certificate: Option<(String, PathBuf)>,
    pub ledger: Option<(String, u64)>,
    /// Whether the journal entry was closed with the outcome (false: it could not be written,
    /// and the entry, if it still exists, reads as an interrupted wipe).
    pub journal_closed: bool,
    /// Records that should exist and do not (result file, certificate, ledger record), each
    /// naming what failed.
    pub record_failures: Vec<String>,
}

/// The outcome of one device in a batch: its wipe, or why it never started.
pub type Outcome = Result<DeviceOutcome, JobError>;

/// Run every bound device, each on its own thread, and record each as soon as it ends.
/// `force` set (a second Ctrl-C) stops waiting for devices whose writes are still in flight:
/// they are recorded as aborted from what the journal knows, and their threads are left
/// behind (the caller exits the process).
pub fn run_batch(
    bound: Vec<Bound>,
    recording: Arc<Recording>,
    config: Arc<EngineConfig>,
    observer: Arc<dyn JobObserver>,
    force: Arc<AtomicBool>,
) -> Vec<Outcome> {
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let mut outcomes: Vec<Option<Outcome>> = Vec::new();
    // What the main thread keeps of each device it started (`None`: it never started).
    let mut started: Vec<Option<Started>> = Vec::new();
    let mut running = 0;
    for (index, b) in bound.into_iter().enumerate() {
        // Checked once more right before the journal and the first write.
        let entry = recheck(&b, "while waiting for confirmation")
            .and_then(|()| open_entry(&b, &recording.journal));
        let entry = match entry {
            Ok(e) => Arc::new(Mutex::new(e)),
            Err(e) => {
                outcomes.push(Some(Err(e)));
                started.push(None);
                continue;
            }
        };
        outcomes.push(None);
        observer.job_event(&JobEvent::Journaled {
            device: label(&b),
            file: recording
                .journal
                .dir()
                .join(format!("{}.json", lock(&entry).id)),
        });
        let (job, identity) = (b.job.clone(), b.identity.clone());
        running += 1;
        let (tx, recording, config, observer) = (
            tx.clone(),
            Arc::clone(&recording),
            Arc::clone(&config),
            Arc::clone(&observer),
        );
        let claim = Arc::new(AtomicBool::new(false));
        let (thread_entry, thread_claim) = (Arc::clone(&entry), Arc::clone(&claim));
        let handle = std::thread::spawn(move || {
            let (entry, claim) = (thread_entry, thread_claim);
            // Only the thread that claims a device records it: a device whose engine returns
            // after a forced stop recorded it as aborted must not get a second set of records.
            let claimed = || !claim.swap(true, Ordering::SeqCst);
            let outcome = run_bound(
                index,
                b,
                &entry,
                &recording,
                &config,
                observer.as_ref(),
                claimed,
            );
            if let Some(outcome) = outcome {
                let _ = tx.send((index, Ok(outcome)));
            }
        });
        started.push(Some(Started {
            entry,
            job,
            identity,
            claim,
            handle,
        }));
    }
    drop(tx);
    while running > 0 {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok((i, o)) => {
                outcomes[i] = Some(o);
                running -= 1;
            }
            Err(mpsc::RecvTimeoutError::Timeout) if force.load(Ordering::SeqCst) => {
                // A device whose engine already returned is being recorded by its own thread
                // (its real outcome): wait for that rather than record it a second time as
                // aborted. Recording does no writes to the medium, so this wait is short.
                // Claim every unfinished device; those whose thread had claimed first are
                // being recorded there.
                let (mut recording_now, forced): (Vec<usize>, Vec<usize>) = (0..outcomes.len())
                    .filter(|&i| outcomes[i].is_none() && started[i].is_some())
                    .partition(|&i| {
                        started[i]
                            .as_ref()
                            .is_some_and(|d| d.claim.swap(true, Ordering::SeqCst))
                    });
                while !recording_now.is_empty() {
                    match rx.recv_timeout(Duration::from_millis(100)) {
                        Ok((i, o)) => {
                            outcomes[i] = Some(o);
                            recording_now.retain(|&r| r != i);
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            // A recording thread that panicked sends nothing.
                            recording_now.retain(|&r| {
                                !started[r].as_ref().is_none_or(|d| d.handle.is_finished())
                            });
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                // Only the devices claimed here are recorded here; one whose own thread was
                // recording and sent nothing (it panicked) is left to the fallback below.
                for i in forced {
                    let Some(d) = &started[i] else {
                        continue;
                    };
                    let result = forced_result(&d.job, &d.identity, &d.entry, &recording);
                    outcomes[i] = Some(Ok(record(
                        i,
                        result,
                        &d.entry,
                        &recording,
                        observer.as_ref(),
                        Some("stopped without waiting for the writes in flight: their outcome is unknown"),
                    )));
                }
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Err(JobError::NotConfirmed(
                    "a wipe thread ended without a result; treat the device as partly overwritten"
                        .into(),
                ))
            })
        })
        .collect()
}

/// A device whose wipe started: what a forced stop needs to record it without its thread.
struct Started {
    entry: Arc<Mutex<Entry>>,
    job: Job,
    identity: MediumIdentity,
    /// Set by whichever of the device's thread and the main thread records it first.
    claim: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn label(b: &Bound) -> String {
    b.job.device.path.display().to_string()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn open_entry(b: &Bound, journal: &Journal) -> Result<Entry, JobError> {
    let now = now_rfc3339();
    let plan = &b.job.plan;
    let entry = Entry {
        schema: JOURNAL_SCHEMA.into(),
        id: uuid::Uuid::new_v4().to_string(),
        device: b.job.device.path.clone(),
        serial: b.job.device.serial.clone(),
        model: b.job.device.model.clone(),
        identity: b.identity.clone(),
        method: plan.method.clone(),
        passes_planned: plan.steps.len() as u32,
        rounds: plan.rounds,
        blank: plan.blank,
        verify_mode: plan.verify.name().into(),
        prng: plan.prng.name().into(),
        seed: plan.seed.to_hex(),
        started_at: now.clone(),
        updated_at: now,
        host: crate::result::HostInfo::current().hostname,
        pid: std::process::id(),
        boot_id: journal::boot_id(),
        // A resumed wipe carries what the interrupted one had done, so that a second
        // interruption still knows it.
        passes_done: b
            .job
            .resumes
            .as_ref()
            .map(|r| r.passes_done.clone())
            .unwrap_or_default(),
        firmware: Vec::new(),
        checkpoint: b.job.resumes.as_ref().and_then(|r| r.checkpoint),
        resumed_from: b.job.resumes.as_ref().map(|r| r.id.clone()),
        closed: None,
    };
    journal.write(&entry)?;
    // The interrupted entry is closed now: this one carries on for it.
    if let Some(old) = &b.job.resumes {
        let mut old = old.clone();
        old.updated_at = now_rfc3339();
        old.closed = Some(Closed {
            status: Status::Aborted,
            finished_at: old.updated_at.clone(),
            result_file: None,
            certificate_id: None,
            note: Some(format!(
                "interrupted; resumed as journal entry {}",
                entry.id
            )),
        });
        journal.write(&old)?;
    }
    Ok(entry)
}

/// Forwards engine events to the front end and keeps the journal entry current.
struct Journaling<'a> {
    inner: &'a dyn JobObserver,
    entry: &'a Mutex<Entry>,
    journal: &'a Journal,
    device: String,
    /// The descriptor written through and the identity bound before the first write: checked
    /// again when the engine ends, before the front end is told how it ended.
    target: &'a DeviceTarget,
    bound: &'a MediumIdentity,
    /// Why the medium is no longer the bound one, once the engine has ended.
    changed: Mutex<Option<String>>,
    /// This device's own stop request.
    stop: &'a DeviceStop,
}

/// A status that cannot stand for a medium that changed under the wipe.
/// The engine gave up because the device went away, and the kernel no longer has a block
/// device with the bound number (`sys_dev_block` is /sys/dev/block): the drive was pulled (a
/// hot-swap bay, a USB cable), which is an abort, not a failure of the medium. A drive that
/// answers ENODEV but is still present stays `failed`.
fn removed_while_wiping(
    abandoned: Option<&str>,
    device_number: &str,
    sys_dev_block: &Path,
) -> bool {
    abandoned.is_some_and(|a| a.starts_with(engine::DEVICE_GONE))
        && !device_number.is_empty()
        && !sys_dev_block.join(device_number).exists()
}

fn demoted(status: Status) -> Status {
    match status {
        Status::Passed | Status::Unverified => Status::Failed,
        other => other,
    }
}

impl Observer for Journaling<'_> {
    fn event(&self, event: &WipeEvent) -> Control {
        if let WipeEvent::Finished { device, status } = event {
            // What was written through must still be the medium that was bound: a size that
            // changed under the wipe (an image extended, a loop device's capacity re-read)
            // leaves bytes no pass covered, and the verification, which reads the old extent,
            // cannot see them. Checked here so that the front end never hears "passed" first.
            if let Some(why) = changed_during_wipe(self.bound, self.target.identity()) {
                *lock(&self.changed) = Some(why);
                return self.inner.event(&WipeEvent::Finished {
                    device: device.clone(),
                    status: demoted(*status),
                });
            }
        }
        if let WipeEvent::Checkpoint {
            pass,
            flushed_bytes,
            ..
        } = event
        {
            let mut e = lock(self.entry);
            e.checkpoint = Some(journal::Checkpoint {
                pass: *pass,
                flushed_bytes: *flushed_bytes,
            });
            e.updated_at = now_rfc3339();
            if let Err(err) = self.journal.write(&e) {
                self.inner.job_event(&JobEvent::RecordFailed {
                    device: self.device.clone(),
                    what: "journal checkpoint".into(),
                    error: err.to_string(),
                });
            }
        }
        if let WipeEvent::PassDone { pass, .. } = event {
            let mut e = lock(self.entry);
            e.passes_done.push(pass.clone());
            e.updated_at = now_rfc3339();
            if let Err(err) = self.journal.write(&e) {
                self.inner.job_event(&JobEvent::RecordFailed {
                    device: self.device.clone(),
                    what: "journal update".into(),
                    error: err.to_string(),
                });
            }
        }
        // The front end hears every event; a device stopped on its own stops whatever the
        // front end answers for the batch.
        match self.inner.event(event) {
            Control::Continue if self.stop.is_stopped() => Control::Stop,
            control => control,
        }
    }
}

fn run_bound(
    index: usize,
    b: Bound,
    entry: &Mutex<Entry>,
    recording: &Recording,
    config: &EngineConfig,
    observer: &dyn JobObserver,
    claim: impl FnOnce() -> bool,
) -> Option<DeviceOutcome> {
    let device = label(&b);
    let journaling = Journaling {
        inner: observer,
        entry,
        journal: &recording.journal,
        device: device.clone(),
        target: &b.target,
        bound: &b.identity,
        changed: Mutex::new(None),
        stop: &b.stop,
    };
    let report = if b.job.plan.has_firmware() {
        // Notes (passwords, fingerprints) reach the journal entry before the drive is asked.
        let sink: NoteSink<'_> = Box::new(|note: Note| {
            let mut e = lock(entry);
            e.note(note);
            e.updated_at = now_rfc3339();
            recording
                .journal
                .write(&e)
                .map(|_| ())
                .map_err(|err| err.to_string())
        });
        let opened: Result<Box<dyn Firmware + '_>, String> = match &recording.firmware {
            Some(factory) => factory(&b.job.device, sink),
            None => DriveFirmware::open(&b.job.device, sink)
                .map(|f| Box::new(f) as Box<dyn Firmware + '_>)
                .map_err(|e| e.to_string()),
        };
        match opened {
            Ok(mut fw) => engine::run_with_firmware(
                &b.job.plan,
                &b.target,
                &device,
                config,
                &journaling,
                Some(fw.as_mut()),
            ),
            Err(e) => {
                let mut report = engine::run_with_firmware(
                    &b.job.plan,
                    &b.target,
                    &device,
                    config,
                    &journaling,
                    None,
                );
                for f in &mut report.firmware {
                    f.detail = format!("the drive's firmware could not be reached: {e}");
                }
                report
            }
        }
    } else {
        engine::run(&b.job.plan, &b.target, &device, config, &journaling)
    };
    let changed = journaling
        .changed
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    // Release the device before probing it for what is left on it.
    drop(b.target);
    if !claim() {
        return None;
    }
    let mut result = WipeResult::new(
        &b.job.device,
        &b.job.plan,
        report,
        b.job.warnings.clone(),
        recording.local_offset,
    );
    if let Some(why) = changed {
        result.status = demoted(result.status);
        result.warnings.push(why);
    }
    if removed_while_wiping(
        result.abandoned.as_deref(),
        &b.identity.device_number,
        Path::new("/sys/dev/block"),
    ) {
        result.status = Status::Aborted;
        result.warnings.push(
            "the drive was removed while it was being wiped (its device is gone from the system): recorded as aborted; it is partly overwritten".into(),
        );
    }
    if let (Some(old), Some((step, offset))) = (&b.job.resumes, b.job.plan.resume) {
        let offset = offset.min(result.size_bytes);
        let mut passes = old.passes_done.clone();
        passes.append(&mut result.passes);
        result.passes = passes;
        result.warnings.push(format!(
            "this wipe was interrupted (journal entry {}, started {}, last seen {}) and resumed at step {step}, byte {offset}: the passes before were written by the interrupted run, as its journal recorded them; the verification after the resumption read {}",
            old.id,
            old.started_at,
            old.updated_at,
            match result.verify_mode {
                crate::method::VerifyMode::None => "nothing (--verify none)",
                crate::method::VerifyMode::Sample => "a NIST sample of the whole medium",
                _ => "the whole medium",
            }
        ));
        result.resumed = Some(resume::Resumed {
            journal_id: old.id.clone(),
            interrupted_started_at: old.started_at.clone(),
            interrupted_last_seen: old.updated_at.clone(),
            step,
            offset,
        });
    }
    result.identity = Some(b.identity);
    Some(record(index, result, entry, recording, observer, None))
}

/// Why the medium behind the descriptor is not, after the wipe, the one bound before it;
/// `None` when it still is.
fn changed_during_wipe(
    bound: &MediumIdentity,
    after: std::io::Result<MediumIdentity>,
) -> Option<String> {
    match after {
        Ok(after) => {
            let changes = bound.changes(&after);
            (!changes.is_empty()).then(|| {
                format!(
                    "the medium changed during the wipe: {}; what the passes wrote may not cover it",
                    changes.join(", ")
                )
            })
        }
        Err(e) => Some(format!(
            "the medium's identity could not be read after the wipe ({e}); it may have been removed or replaced while being written"
        )),
    }
}

/// The result of a device whose engine was not waited for.
fn forced_result(
    job: &Job,
    identity: &MediumIdentity,
    entry: &Mutex<Entry>,
    recording: &Recording,
) -> WipeResult {
    let e = lock(entry).clone();
    let started_at = time::OffsetDateTime::parse(
        &e.started_at,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let passes: Vec<PassRecord> = e.passes_done;
    let report = WipeReport {
        status: Status::Aborted,
        started_at,
        finished_at: time::OffsetDateTime::now_utc(),
        passes,
        verification: VerificationSummary {
            mode: job.plan.verify,
            bytes_verified: 0,
            mismatched_bytes: 0,
            mismatches: Vec::new(),
            mismatches_unlisted_ranges: 0,
            mismatches_unlisted_bytes: 0,
            direct_io: true,
            passes: Vec::new(),
        },
        errors: Vec::new(),
        errors_truncated: 0,
        abandoned: None,
        firmware: Vec::new(),
    };
    let mut warnings = job.warnings.clone();
    warnings.push(
        "stopped by a second signal without waiting for the writes in flight: the pass that was running is partly written, and whether its last writes reached the medium is unknown"
            .into(),
    );
    let mut result = WipeResult::new(
        &job.device,
        &job.plan,
        report,
        warnings,
        recording.local_offset,
    );
    result.identity = Some(identity.clone());
    result
}

/// Write the result file, the certificate and the ledger record of one finished device, then
/// close its journal entry. A record that cannot be written is reported and listed in the
/// outcome; it never stops the others.
fn record(
    index: usize,
    result: WipeResult,
    entry: &Mutex<Entry>,
    recording: &Recording,
    observer: &dyn JobObserver,
    note: Option<&str>,
) -> DeviceOutcome {
    let device = result.device.display().to_string();
    let mut failures = Vec::new();
    let mut fail = |what: &str, error: String| {
        observer.job_event(&JobEvent::RecordFailed {
            device: device.clone(),
            what: what.into(),
            error: error.clone(),
        });
        failures.push(format!("{what}: {error}"));
    };
    let result_file =
        recording
            .result_dir
            .as_deref()
            .and_then(|dir| match write_result(dir, &result) {
                Ok(p) => {
                    observer.job_event(&JobEvent::ResultWritten {
                        device: device.clone(),
                        file: p.clone(),
                    });
                    Some(p)
                }
                Err(e) => {
                    fail("result file", e.to_string());
                    None
                }
            });
    let asset = recording
        .ledger
        .as_ref()
        .and_then(|l| lock(l).asset(index))
        // A front end that asks per device (the console) leaves a tag it was not given empty.
        .or_else(|| {
            recording
                .assets
                .get(index)
                .filter(|a| !a.trim().is_empty())
                .cloned()
        });
    let mut certificate = None;
    let mut ledger = None;
    if let Some(certifier) = &recording.certifier {
        match certifier.issue(&result, asset.as_deref(), recording.local_offset) {
            Ok(issued) => {
                observer.job_event(&JobEvent::Certificate {
                    device: device.clone(),
                    certificate_id: issued.certificate.certificate_id.clone(),
                    status: issued.certificate.status,
                    file: issued.files.json.clone(),
                    signature: issued.files.signature.clone(),
                });
                if let Some(problem) = &issued.files.x509_timestamp_problem {
                    observer.job_event(&JobEvent::RecordWarning {
                        device: device.clone(),
                        what: "certificate timestamp".into(),
                        message: format!(
                            "{problem}; {} is signed without a timestamp (CAdES-B-B, valid as it is): add it later with `massho cert timestamp-request --x509 {}` and `massho cert timestamp-attach --x509 {} REPLY.tsr`",
                            crate::x509::signature_path(&issued.files.json).display(),
                            issued.files.json.display(),
                            issued.files.json.display()
                        ),
                    });
                }
                certificate = Some((
                    issued.certificate.certificate_id.clone(),
                    issued.files.json.clone(),
                ));
                if let Some(l) = &recording.ledger {
                    let mut l = lock(l);
                    match l.record(index, &issued.certificate, &issued.json) {
                        Ok((tag, seq)) => {
                            observer.job_event(&JobEvent::LedgerRecorded {
                                device: device.clone(),
                                ledger: l.path().to_owned(),
                                medium: tag.clone(),
                                seq,
                            });
                            ledger = Some((tag, seq));
                        }
                        Err(e) => fail(
                            "ledger record",
                            format!(
                                "{e}; certificate {} was written: record it with `massho media wiped {} --certificate {}`",
                                issued.certificate.certificate_id,
                                asset.as_deref().unwrap_or("TAG"),
                                issued.files.json.display()
                            ),
                        ),
                    }
                }
            }
            Err(e) => fail("certificate", e.to_string()),
        }
    }
    let mut e = lock(entry);
    e.updated_at = now_rfc3339();
    e.closed = Some(Closed {
        status: result.status,
        finished_at: result.finished_at.clone(),
        result_file: result_file.clone(),
        certificate_id: certificate.as_ref().map(|c| c.0.clone()),
        note: note.map(str::to_owned),
    });
    let journal_closed = match recording.journal.write(&e) {
        Ok(_) => true,
        Err(err) => {
            fail("journal close", err.to_string());
            false
        }
    };
    drop(e);
    DeviceOutcome {
        result,
        result_file,
        certificate,
        ledger,
        journal_closed,
        record_failures: failures,
    }
}

/// Store a result as `DIR/<name>_<serial>_<UTC time>Z_<short id>.json`, durably and never over
/// another file: two devices with the same name, or one device wiped twice within a second,
/// each get their own file.
pub fn write_result(dir: &Path, result: &WipeResult) -> std::io::Result<PathBuf> {
    // 2026-11-25T10:44:06.845Z -> 20261125T104406
    let stamp: String = result
        .started_at
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let serial = result.serial.as_deref().unwrap_or("noserial");
    let json = serde_json::to_vec_pretty(result).map_err(std::io::Error::other)?;
    loop {
        let unique = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let name: String = format!("{}_{}_{}Z_{unique}.json", result.media.name, serial, stamp)
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
        match crate::atomic::create_new(&path, &json, None) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            other => return other.map(|()| path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A job for a fresh image file of `size` bytes, zero-filled with verification.
    fn image_job(dir: &Path, name: &str, size: u64) -> (PathBuf, Job) {
        let path = dir.join(name);
        std::fs::write(&path, vec![0xAAu8; size as usize]).unwrap();
        let device = crate::device::inspect(&path).unwrap();
        let method = crate::method::resolve("zero").unwrap();
        let plan = crate::method::plan(
            &method,
            &crate::method::PlanOptions {
                verify: Some(crate::method::VerifyMode::Last),
                ..Default::default()
            },
        );
        (path, Job::new(device, plan, Vec::new()).unwrap())
    }

    fn recording(dir: &Path) -> Arc<Recording> {
        let journal = Journal::locate(Some(&dir.join("journal")));
        journal.ensure_writable().unwrap();
        let results = dir.join("results");
        std::fs::create_dir_all(&results).unwrap();
        Arc::new(Recording {
            journal,
            result_dir: Some(results),
            certifier: None,
            assets: Vec::new(),
            ledger: None,
            local_offset: time::UtcOffset::UTC,
            firmware: None,
        })
    }

    fn config() -> Arc<EngineConfig> {
        Arc::new(EngineConfig {
            chunk_size: 1 << 20,
            workers: 2,
            generators: 1,
            progress_interval: Duration::from_millis(50),
            checkpoint_interval: Duration::ZERO,
        })
    }

    /// Runs a closure on each event; the closures stand for what happens to the medium or
    /// the operator while a wipe runs.
    struct Hooks {
        on_event: Box<dyn Fn(&WipeEvent) + Send + Sync>,
        on_job: Box<dyn Fn(&JobEvent) + Send + Sync>,
    }

    impl Observer for Hooks {
        fn event(&self, event: &WipeEvent) -> Control {
            (self.on_event)(event);
            Control::Continue
        }
    }

    impl JobObserver for Hooks {
        fn job_event(&self, event: &JobEvent) {
            (self.on_job)(event);
        }
    }

    fn files_in(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    /// A purge through the pipeline with a fake NVMe controller over the image: the
    /// fingerprints reach the journal file before the command, the result carries the firmware
    /// record and says Purge, and the entry is closed.
    #[test]
    fn a_purge_runs_through_the_pipeline_with_its_notes_journaled() {
        use crate::device::transport::fake::{FakeMedium, FakeNvmeController, MediumEffect};
        use crate::purge::drive::{Access, DriveFirmware};
        let dir = tempfile::tempdir().unwrap();
        let (path, job) = image_job(dir.path(), "nvme.img", 4 << 20);
        let mut plan = crate::method::plan(
            &crate::method::resolve("purge").unwrap(),
            &crate::method::PlanOptions::default(),
        );
        let mut device = job.device.clone();
        device.sanitize = Some(crate::device::drive::SanitizeSupport {
            techniques: vec![crate::device::drive::PurgeTechnique::NvmeSanitizeCrypto],
            ..Default::default()
        });
        plan.resolve(&device, false).unwrap();
        let job = Job { plan, ..job };
        let journal_dir = dir.path().join("journal");
        let seen_in_journal = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&seen_in_journal);
        let image = path.clone();
        let factory: FirmwareFactory = Arc::new(move |_device, mut sink| {
            let mut nvme = FakeNvmeController::full("N1");
            nvme.sanitize_polls = 2;
            nvme.medium = Some(FakeMedium::new(&image, MediumEffect::Random(5)));
            let jd = journal_dir.clone();
            let seen = Arc::clone(&seen);
            Ok(Box::new(DriveFirmware {
                access: Access::Nvme {
                    admin: Box::new(nvme),
                    nsid: 1,
                    dlfeat: crate::device::drive::nvme::DeallocatedReads::NotReported,
                },
                capacity_bytes: 4 << 20,
                sector_size: 512,
                poll_interval: Duration::from_millis(1),
                journal: Box::new(move |note| {
                    sink(note)?;
                    // The note is on disk before the step goes on.
                    let on_disk = std::fs::read_dir(&jd)
                        .unwrap()
                        .flatten()
                        .filter(|f| {
                            std::fs::read_to_string(f.path())
                                .unwrap_or_default()
                                .contains("\"fingerprints\"")
                        })
                        .count();
                    seen.fetch_add(on_disk, Ordering::SeqCst);
                    Ok(())
                }),
            }) as Box<dyn Firmware>)
        });
        let mut rec = Arc::into_inner(recording(dir.path())).unwrap();
        rec.firmware = Some(factory);
        let rec = Arc::new(rec);
        let quiet = Arc::new(Hooks {
            on_event: Box::new(|_| {}),
            on_job: Box::new(|_| {}),
        });
        let outcomes = run_batch(
            vec![bind(job).unwrap()],
            Arc::clone(&rec),
            config(),
            quiet,
            Arc::new(AtomicBool::new(false)),
        );
        let d = outcomes.into_iter().next().unwrap().unwrap();
        assert_eq!(d.result.status, Status::Passed, "{:#?}", d.result.firmware);
        assert_eq!(d.result.sanitization.nist_category, "purge");
        assert_eq!(d.result.firmware[0].technique, "nvme-sanitize-crypto");
        assert_eq!(seen_in_journal.load(Ordering::SeqCst), 1);
        let (entries, _) = rec.journal.entries().unwrap();
        let (entry, state) = &entries[0];
        assert_eq!(*state, journal::EntryState::Closed);
        assert_eq!(entry.firmware[0].fingerprints.len(), 256);
        // The result file holds the same record.
        let file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.result_file.unwrap()).unwrap()).unwrap();
        assert_eq!(file["firmware"][0]["outcome"], "completed");
    }

    #[test]
    fn stopping_one_device_aborts_it_and_the_others_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let (_, first) = image_job(dir.path(), "first.img", 4 << 20);
        let (_, second) = image_job(dir.path(), "second.img", 4 << 20);
        let (first, second) = (bind(first).unwrap(), bind(second).unwrap());
        let (stop, stopped_label) = (first.stop.clone(), label(&first));
        // The operator stops the first device as soon as its wipe has started.
        let observer = Arc::new(Hooks {
            on_event: Box::new(move |e| {
                if let WipeEvent::Started { device, .. } = e {
                    if *device == stopped_label {
                        stop.stop();
                    }
                }
            }),
            on_job: Box::new(|_| {}),
        });
        let recording = recording(dir.path());
        let outcomes = run_batch(
            vec![first, second],
            Arc::clone(&recording),
            config(),
            observer,
            Arc::new(AtomicBool::new(false)),
        );
        let statuses: Vec<Status> = outcomes
            .iter()
            .map(|o| o.as_ref().unwrap().result.status)
            .collect();
        assert_eq!(statuses, [Status::Aborted, Status::Passed]);
        // Both are recorded: a result file each, and closed journal entries.
        assert_eq!(files_in(&dir.path().join("results")), 2);
        let (entries, _) = recording.journal.entries().unwrap();
        assert!(entries.iter().all(|(e, _)| e.closed.is_some()));
    }

    #[test]
    fn a_drive_gone_from_the_system_is_aborted_one_still_present_failed() {
        let sys = tempfile::tempdir().unwrap();
        std::fs::create_dir(sys.path().join("8:16")).unwrap();
        let gone = format!("{}: No such device (os error 19)", engine::DEVICE_GONE);
        assert!(removed_while_wiping(Some(&gone), "8:32", sys.path()));
        assert!(
            !removed_while_wiping(Some(&gone), "8:16", sys.path()),
            "still present"
        );
        assert!(!removed_while_wiping(
            Some("more than 65536 bad sectors"),
            "8:32",
            sys.path()
        ));
        assert!(!removed_while_wiping(None, "8:32", sys.path()));
    }

    #[test]
    fn a_certificate_never_describes_what_another_medium_holds_after_the_wipe() {
        let dir = tempfile::tempdir().unwrap();
        let (path, job) = image_job(dir.path(), "disk.img", 4 << 20);
        let bound = bind(job).unwrap();
        let (_, _, key_path) = crate::sign::generate(&dir.path().join("keys"), "k", None).unwrap();
        let key = crate::sign::SecretKey::from_file(&key_path, &|| Ok(String::new())).unwrap();
        let certs = dir.path().join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        let mut recording = Arc::into_inner(recording(dir.path())).unwrap();
        recording.certifier = Some(Certifier::new(
            certs,
            key,
            crate::cert::IssueContext {
                organization: None,
                operator: "t".into(),
                witness: None,
                asset_tag: None,
                disposition: crate::cert::Disposition::Reuse,
            },
        ));
        // Once the wiped image is released, another file with a filesystem on it takes its
        // name: what the certificate says is left on the medium must not come from that one.
        let other = dir.path().join("other.img");
        std::fs::write(&other, vec![0u8; 4 << 20]).unwrap();
        let made = std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(&other)
            .status()
            .unwrap();
        assert!(made.success());
        let (from, to) = (other.clone(), path.clone());
        let observer = Arc::new(Hooks {
            on_event: Box::new(|_| {}),
            on_job: Box::new(move |e| {
                if let JobEvent::ResultWritten { .. } = e {
                    std::fs::rename(&from, &to).unwrap();
                }
            }),
        });
        let outcomes = run_batch(
            vec![bound],
            Arc::new(recording),
            config(),
            observer,
            Arc::new(AtomicBool::new(false)),
        );
        let outcome = outcomes.into_iter().next().unwrap().unwrap();
        let (_, file) = outcome.certificate.expect("a certificate");
        let cert: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        assert_eq!(cert["status"], "passed");
        assert!(
            cert["signatures_after"].is_null(),
            "{}",
            cert["signatures_after"]
        );
    }

    #[test]
    fn a_medium_replaced_between_inspection_and_identity_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.img");
        std::fs::write(&path, vec![0xAAu8; 1 << 20]).unwrap();
        let device = crate::device::inspect(&path).unwrap();
        // Another image takes the name after it was described to the operator.
        let other = dir.path().join("other.img");
        std::fs::write(&other, vec![0xBBu8; 2 << 20]).unwrap();
        std::fs::rename(&other, &path).unwrap();
        let method = crate::method::resolve("zero").unwrap();
        let plan = crate::method::plan(&method, &Default::default());
        match Job::new(device, plan, Vec::new()) {
            Err(JobError::Changed { changes, .. }) => {
                assert!(changes.iter().any(|c| c.starts_with("size")), "{changes:?}")
            }
            other => panic!("expected a refusal, got {:?}", other.map(|j| j.inspected)),
        }
    }

    #[test]
    fn an_image_extended_during_the_wipe_is_not_certified_passed() {
        let dir = tempfile::tempdir().unwrap();
        let (path, job) = image_job(dir.path(), "disk.img", 4 << 20);
        let bound = bind(job).unwrap();
        let grown = path.clone();
        // Someone appends to the image once the wipe has started: the new bytes are never
        // written, so "passed" would certify data that is still there.
        let observer = Arc::new(Hooks {
            on_event: Box::new(move |e| {
                if let WipeEvent::Started { .. } = e {
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(&grown)
                        .unwrap();
                    f.set_len(8 << 20).unwrap();
                }
            }),
            on_job: Box::new(|_| {}),
        });
        let outcomes = run_batch(
            vec![bound],
            recording(dir.path()),
            config(),
            observer,
            Arc::new(AtomicBool::new(false)),
        );
        let outcome = outcomes.into_iter().next().unwrap().unwrap();
        assert_eq!(outcome.result.status, Status::Failed, "{outcome:?}");
        assert!(
            outcome
                .result
                .warnings
                .iter()
                .any(|w| w.contains("changed during the wipe") && w.contains("size")),
            "{:?}",
            outcome.result.warnings
        );
    }

    #[test]
    fn a_force_stop_while_a_finished_device_is_being_recorded_records_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let (_, job) = image_job(dir.path(), "disk.img", 1 << 20);
        let bound = bind(job).unwrap();
        let force = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&force);
        let written = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&written);
        // The second Ctrl-C arrives while the device that has just finished is writing its
        // records (result file, certificate, ledger): the main thread must not record it again.
        let observer = Arc::new(Hooks {
            on_event: Box::new(|_| {}),
            on_job: Box::new(move |e| {
                if let JobEvent::ResultWritten { .. } = e {
                    count.fetch_add(1, Ordering::SeqCst);
                    flag.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(400));
                }
            }),
        });
        let recording = recording(dir.path());
        let outcomes = run_batch(
            vec![bound],
            Arc::clone(&recording),
            config(),
            observer,
            force,
        );
        let outcome = outcomes.into_iter().next().unwrap().unwrap();
        assert_eq!(written.load(Ordering::SeqCst), 1);
        assert_eq!(files_in(&dir.path().join("results")), 1);
        assert_eq!(outcome.result.status, Status::Passed);
        let (entries, _) = recording.journal.entries().unwrap();
        assert_eq!(entries.len(), 1);
        let closed = entries[0].0.closed.as_ref().expect("closed");
        assert_eq!(closed.status, Status::Passed);
        assert_eq!(closed.note, None);
    }
}
