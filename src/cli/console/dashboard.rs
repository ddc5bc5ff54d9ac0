//! The console's dashboard on its own, for a front end whose drives arrive while others run:
//! `massho station` on a terminal. Same rows, log pane, keys and screen as the console's
//! batch dashboard ([`super::board`], [`super::view`], [`super::model`]); what differs is who
//! adds the drives (the station, as disks are attached) and when it ends (when the station
//! has stopped and every wipe is recorded).
//!
//! Keys: `s` then `y` stops the drive under the cursor alone; `q` then `y`, or Ctrl-C, stops
//! every wipe and the station (each drive is recorded as aborted as it ends). SIGINT, SIGTERM,
//! SIGHUP and a terminal that goes away do the same; a second signal stops waiting for the
//! writes in flight.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::board::{Board, BoardState, Row};
use super::model::{Action, Model, Screen};
use super::{read_keys, view, watch_signals, Screen_, FRAME};
use crate::job::{DeviceStop, JobObserver};
use crate::text::terminal_safe;

/// The drives on the dashboard and each one's own stop.
pub struct Dashboard {
    board: Arc<Board>,
    /// Indexed like the board's rows.
    stops: Mutex<Vec<DeviceStop>>,
    /// Every wipe and the station stop.
    interrupted: Arc<AtomicBool>,
}

impl Dashboard {
    /// `interrupted` is the station's stop: the board answers every engine event with
    /// `Control::Stop` once it is set.
    pub fn new(interrupted: Arc<AtomicBool>) -> Dashboard {
        Dashboard {
            board: Arc::new(Board::new(Vec::new(), Arc::clone(&interrupted))),
            stops: Mutex::new(Vec::new()),
            interrupted,
        }
    }

    /// A drive whose wipe is about to start: a new row, stopped alone by `stop`.
    pub fn add(&self, device: &str, serial: Option<&str>, stop: DeviceStop) {
        let mut stops = self.stops.lock().unwrap_or_else(|e| e.into_inner());
        self.board.add_row(Row {
            device: device.to_owned(),
            serial: serial.unwrap_or_default().to_owned(),
            step: "waiting".into(),
            ..Row::default()
        });
        stops.push(stop);
    }

    /// A line in the log pane (attached, ignored, refused, detached, ...).
    pub fn say(&self, line: String) {
        self.board.say(line);
    }

    /// The pipeline's observer for every drive's wipe.
    pub fn observer(&self) -> Arc<dyn JobObserver> {
        Arc::clone(&self.board) as Arc<dyn JobObserver>
    }

    /// The rows as they are now.
    pub fn rows(&self) -> Vec<Row> {
        self.board.snapshot().rows
    }

    fn stop_one(&self, index: usize) {
        let stops = self.stops.lock().unwrap_or_else(|e| e.into_inner());
        let Some(stop) = stops.get(index) else { return };
        stop.stop();
        self.board.mark_stopping(index);
        let device = self
            .board
            .snapshot()
            .rows
            .get(index)
            .map(|r| r.device.clone())
            .unwrap_or_default();
        self.say(format!(
            "{device}: stopping at the operator's request; the other drives go on"
        ));
    }

    /// Stop every wipe and the station; the second time, stop waiting for writes in flight.
    fn stop_all(&self, why: &str, force: &AtomicBool) {
        if !self.interrupted.swap(true, Ordering::SeqCst) {
            self.say(format!(
                "{why}: stopping every wipe and the station; each drive is recorded as aborted as it ends"
            ));
        } else if !force.swap(true, Ordering::SeqCst) {
            self.say(format!(
                "{why} again: not waiting for the writes in flight; recording every unfinished drive as aborted"
            ));
        }
    }
}

/// Show `dash` full-screen until `done()` says the station has stopped and recorded every
/// drive. `heading` titles the screen. Returns what stays in the scrollback: one line per drive.
pub fn run(
    dash: &Dashboard,
    heading: &str,
    force: &AtomicBool,
    done: &dyn Fn() -> bool,
) -> anyhow::Result<Vec<String>> {
    let signals = watch_signals(Arc::clone(&dash.interrupted))?;
    let mut model = Model::new(Vec::new());
    model.screen = Screen::Running;
    model.heading = Some(heading.to_owned());
    {
        let mut screen = Screen_::enter()?;
        let (mut seen, mut tty, mut dirty) = (0, true, true);
        let (mut last_draw, mut last_size): (Option<Instant>, _) = (None, None);
        while !done() {
            let count = signals.count.load(Ordering::SeqCst);
            while seen < count {
                seen += 1;
                let name = *signals.last.lock().unwrap_or_else(|e| e.into_inner());
                // The watcher has set `interrupted` already; this says so, or forces.
                let first = seen == 1;
                if first {
                    dash.say(format!(
                        "{name}: stopping every wipe and the station; each drive is recorded as aborted as it ends"
                    ));
                } else {
                    dash.stop_all(name, force);
                }
            }
            dirty |= dash.board.take_changed();
            if let Ok(size) = screen.terminal.size() {
                if Some(size) != last_size {
                    last_size = Some(size);
                    dirty = true;
                }
            }
            if dirty && tty && last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
                let board: BoardState = dash.board.snapshot();
                model.rows = board.rows.len();
                let _ = screen.terminal.autoresize();
                let _ = screen.terminal.draw(|f| view::draw(f, &model, &board));
                last_draw = Some(Instant::now());
                dirty = false;
            }
            let wait = match last_draw {
                Some(t) if dirty => FRAME.saturating_sub(t.elapsed()),
                _ => FRAME,
            };
            if !tty {
                std::thread::sleep(wait);
                continue;
            }
            let Some(keys) = read_keys(wait) else {
                // Nobody can see or stop the wipes any more: stop and record them.
                tty = false;
                dash.stop_all("the terminal went away", force);
                continue;
            };
            for key in keys {
                model.rows = dash.board.snapshot().rows.len();
                match model.key(key) {
                    Action::StopDrive(i) => dash.stop_one(i),
                    Action::StopAll => dash.stop_all("Ctrl-C", force),
                    Action::StopAllAndQuit => dash.stop_all("quit", force),
                    _ => {}
                }
                dirty = true;
            }
        }
    }
    Ok(dash
        .rows()
        .iter()
        .map(|r| {
            format!(
                "{}: {}",
                terminal_safe(&r.device),
                terminal_safe(&view::status_word(r))
            )
        })
        .collect())
}
