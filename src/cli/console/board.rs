//! The dashboard's data: the [`JobObserver`] the console hands the pipeline. Every device's
//! thread pushes its events here; the screen is drawn from a copy of [`BoardState`] at most a
//! few times a second, and only when `changed` says something did.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::engine::{Control, Observer, Phase, Status, WipeEvent};
use crate::job::{JobEvent, JobObserver};
use crate::text::{path_safe, terminal_safe};

/// One drive's row on the dashboard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// The label the pipeline uses for the device (its path).
    pub device: String,
    pub serial: String,
    pub step: String,
    pub done: u64,
    pub total: u64,
    /// Bytes per second of the running phase.
    pub rate: f64,
    /// Seconds left for this drive's whole plan; `None` until a rate was measured.
    pub eta: Option<f64>,
    /// Bad sectors, mismatched bytes and records not written, counted as they come.
    pub errors: u64,
    pub status: Option<Status>,
    /// The operator asked to stop this drive alone.
    pub stopping: bool,
    pub certificate: Option<String>,
}

impl Row {
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.done as f64 / self.total as f64
        }
    }
}

/// What the dashboard shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoardState {
    pub rows: Vec<Row>,
    /// Newest last.
    pub log: Vec<String>,
}

const LOG_LINES: usize = 500;

impl BoardState {
    /// Seconds until the last drive ends: drives run side by side.
    pub fn overall_eta(&self) -> Option<f64> {
        let running: Vec<&Row> = self.rows.iter().filter(|r| r.status.is_none()).collect();
        if running.is_empty() {
            return Some(0.0);
        }
        running
            .iter()
            .map(|r| r.eta)
            .try_fold(0.0f64, |m, e| e.map(|e| m.max(e)))
    }

    pub fn say(&mut self, line: String) {
        let t =
            time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
        self.log.push(format!(
            "{:02}:{:02}:{:02} {}",
            t.hour(),
            t.minute(),
            t.second(),
            terminal_safe(&line)
        ));
        if self.log.len() > LOG_LINES {
            self.log.remove(0);
        }
    }

    fn row(&mut self, device: &str) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.device == device)
    }
}

/// Receives every device's events; relays the batch's stop request to the engines.
pub struct Board {
    state: Mutex<BoardState>,
    changed: AtomicBool,
    /// Every wipe stops (Ctrl-C, SIGTERM, SIGHUP).
    interrupted: Arc<AtomicBool>,
}

impl Board {
    pub fn new(rows: Vec<Row>, interrupted: Arc<AtomicBool>) -> Board {
        Board {
            state: Mutex::new(BoardState {
                rows,
                log: Vec::new(),
            }),
            changed: AtomicBool::new(true),
            interrupted,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BoardState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy to draw from.
    pub fn snapshot(&self) -> BoardState {
        self.lock().clone()
    }

    /// Whether anything changed since the last call.
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::SeqCst)
    }

    pub fn say(&self, line: String) {
        self.lock().say(line);
        self.changed.store(true, Ordering::SeqCst);
    }

    pub fn mark_stopping(&self, index: usize) {
        let mut s = self.lock();
        if let Some(r) = s.rows.get_mut(index) {
            r.stopping = true;
        }
        self.changed.store(true, Ordering::SeqCst);
    }

    fn update(&self, f: impl FnOnce(&mut BoardState)) {
        f(&mut self.lock());
        self.changed.store(true, Ordering::SeqCst);
    }
}

impl Observer for Board {
    fn event(&self, event: &WipeEvent) -> Control {
        match event {
            WipeEvent::Started {
                device,
                method,
                passes,
                ..
            } => self.update(|s| {
                if let Some(r) = s.row(device) {
                    r.step = format!("0/{passes} start");
                }
                s.say(format!("{device}: started {method}, {passes} step(s)"));
            }),
            WipeEvent::Progress {
                device,
                phase,
                pass,
                passes,
                rate_bps,
                overall_done,
                overall_total,
                ..
            } => self.update(|s| {
                if let Some(r) = s.row(device) {
                    let what = match phase {
                        Phase::Write => "write",
                        Phase::Verify => "verify",
                        Phase::Firmware => "firmware",
                    };
                    r.step = format!("{pass}/{passes} {what}");
                    r.done = *overall_done;
                    r.total = *overall_total;
                    r.rate = *rate_bps;
                    r.eta = (*rate_bps > 0.0)
                        .then(|| overall_total.saturating_sub(*overall_done) as f64 / rate_bps);
                }
            }),
            WipeEvent::PassDone {
                device,
                pass,
                bad_sectors,
            } => self.update(|s| {
                if let Some(r) = s.row(device) {
                    r.errors += bad_sectors;
                }
                let outcome = match (pass.completed, *bad_sectors) {
                    (true, 0) => "done".to_owned(),
                    (true, n) => format!("FAILED: {n} sector(s) not written"),
                    (false, _) => "INCOMPLETE".to_owned(),
                };
                s.say(format!(
                    "{device}: pass {} ({}) {outcome} in {:.1}s",
                    pass.index, pass.pattern, pass.seconds
                ));
            }),
            WipeEvent::VerifyDone {
                device,
                verification,
                read_error_sectors,
            } => self.update(|s| {
                if let Some(r) = s.row(device) {
                    r.errors += verification.mismatched_bytes + read_error_sectors;
                }
                let ok = verification.mismatched_bytes == 0
                    && *read_error_sectors == 0
                    && verification.completed;
                s.say(format!(
                    "{device}: read back pass {}: {}",
                    verification.pass,
                    if ok {
                        "no mismatches".to_owned()
                    } else if !verification.completed {
                        "INCOMPLETE".to_owned()
                    } else {
                        format!(
                            "FAILED: {} mismatched byte(s), {read_error_sectors} unreadable sector(s)",
                            verification.mismatched_bytes
                        )
                    }
                ));
            }),
            // Kept in the journal by the pipeline; nothing to show.
            WipeEvent::Checkpoint { .. } => {}
            WipeEvent::FirmwareDone { device, firmware } => self.update(|s| {
                s.say(format!(
                    "{device}: step {} firmware {} {:?}: {}",
                    firmware.step, firmware.technique, firmware.outcome, firmware.detail
                ));
            }),
            WipeEvent::Finished { device, status } => self.update(|s| {
                if let Some(r) = s.row(device) {
                    r.status = Some(*status);
                    r.eta = Some(0.0);
                    // A wipe that went through to the end fills its bar (progress comes every
                    // 200 ms, and a small drive ends before the first); a stopped one stays.
                    if matches!(status, Status::Passed | Status::Unverified) {
                        r.total = r.total.max(1);
                        r.done = r.total;
                        r.step = "done".into();
                    }
                }
                s.say(format!("{device}: {}", status.name().to_uppercase()));
            }),
        }
        if self.interrupted.load(Ordering::SeqCst) {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

impl JobObserver for Board {
    fn job_event(&self, event: &JobEvent) {
        self.update(|s| match event {
            JobEvent::Journaled { device, file } => {
                s.say(format!("{device}: journal {}", path_safe(file)))
            }
            JobEvent::ResultWritten { device, file } => {
                s.say(format!("{device}: result {}", path_safe(file)))
            }
            JobEvent::Certificate {
                device,
                certificate_id,
                file,
                ..
            } => {
                if let Some(r) = s.row(device) {
                    r.certificate = Some(certificate_id.clone());
                }
                s.say(format!(
                    "{device}: certificate {certificate_id} {}",
                    path_safe(file)
                ))
            }
            JobEvent::LedgerRecorded {
                device,
                medium,
                seq,
                ..
            } => s.say(format!("{device}: ledger: medium {medium}, event {seq}")),
            JobEvent::RecordFailed {
                device,
                what,
                error,
            } => {
                if let Some(r) = s.row(device) {
                    r.errors += 1;
                }
                s.say(format!("{device}: NO {}: {error}", what.to_uppercase()))
            }
            JobEvent::RecordWarning {
                device,
                what,
                message,
            } => s.say(format!("{device}: warning: {what}: {message}")),
            #[allow(unreachable_patterns)]
            _ => {}
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_fills_the_row_and_the_overall_eta_is_the_slowest_drive() {
        let rows = vec![
            Row {
                device: "/dev/a".into(),
                ..Row::default()
            },
            Row {
                device: "/dev/b".into(),
                ..Row::default()
            },
        ];
        let stop = Arc::new(AtomicBool::new(false));
        let board = Board::new(rows, Arc::clone(&stop));
        assert!(board.take_changed());
        assert!(!board.take_changed());
        let progress = |device: &str, done, rate| WipeEvent::Progress {
            device: device.into(),
            phase: Phase::Write,
            pass: 1,
            passes: 1,
            bytes_done: done,
            bytes_total: 100,
            rate_bps: rate,
            in_flight_bytes: 0,
            overall_done: done,
            overall_total: 200,
        };
        assert_eq!(
            board.event(&progress("/dev/a", 100, 10.0)),
            Control::Continue
        );
        assert!(board.take_changed());
        let s = board.snapshot();
        assert_eq!(s.rows[0].step, "1/1 write");
        assert_eq!(s.rows[0].percent(), 50.0);
        assert_eq!(s.rows[0].eta, Some(10.0));
        // b has no rate yet: the overall ETA is unknown.
        assert_eq!(s.overall_eta(), None);
        board.event(&progress("/dev/b", 20, 2.0));
        assert_eq!(board.snapshot().overall_eta(), Some(90.0));
        stop.store(true, Ordering::SeqCst);
        assert_eq!(board.event(&progress("/dev/a", 120, 10.0)), Control::Stop);
    }
}
