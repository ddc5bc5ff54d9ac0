//! `massho console` (and plain `massho` on a terminal): the technician's full-screen console.
//!
//! A drive list, per-drive methods, certificate and ledger details, a confirmation screen, a
//! dashboard while the drives are wiped and an end screen, composed from the same library
//! pipeline as `massho wipe` ([`crate::job`]): drives are bound before the operator confirms
//! and re-checked after, each device's records are written as it ends, and a drive can be
//! stopped alone ([`crate::job::DeviceStop`]).
//!
//! The screen is drawn from [`model::Model`] (the state machine, no terminal) and the
//! dashboard's [`board::Board`] (the pipeline's observer) at most four times a second, and only
//! when something changed: a serial or IPMI console carries little more. Ctrl-C is a key here
//! (the terminal is in raw mode); SIGINT, SIGTERM and SIGHUP (a dropped SSH session) stop every
//! wipe and quit once each is recorded. A terminal that goes away is never drawn to again, and
//! the wipes are still recorded.

mod board;
pub mod dashboard;
mod keys;
mod model;
mod start;
mod view;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use super::args::ConsoleArgs;
use super::{Exit, ExitError};
use crate::device::{self, DeviceInfo};
use crate::engine::{EngineConfig, Status};
use crate::job::journal::Journal;
use crate::job::{self, Confirm, DeviceStop, Outcome};
use crate::text::{path_safe, terminal_safe};
use board::{Board, BoardState, Row};
use model::{field, Action, EndRow, Model, Screen};

/// At most four frames a second.
const FRAME: Duration = Duration::from_millis(250);

/// Plain `massho`: the console on a terminal, a usage error elsewhere (a script that forgot
/// its command must not hang on a screen nobody sees).
pub fn run_default() -> anyhow::Result<Exit> {
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return run(&ConsoleArgs::default());
    }
    Err(ExitError::usage(
        "no command given; run `massho --help` for the commands (`massho` alone on a terminal opens the console)",
    ))
}

pub fn run(args: &ConsoleArgs) -> anyhow::Result<Exit> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(ExitError::usage(
            "massho console needs a terminal on standard input and output; for scripts use `massho wipe`",
        ));
    }
    let custom = match &args.methods_dir {
        Some(dir) => custom_methods(dir)?,
        None => Vec::new(),
    };
    let drives = scan(&args.devices)?;
    let mut model = Model::with_methods(drives, custom);
    let prefill = [
        (field::OPERATOR, args.operator.clone()),
        (field::ORG, args.org.clone()),
        (
            field::KEY,
            args.key.as_ref().map(|p| p.display().to_string()),
        ),
        (
            field::CERT_DIR,
            args.cert_dir.as_ref().map(|p| p.display().to_string()),
        ),
        (
            field::RESULT_DIR,
            args.result_dir.as_ref().map(|p| p.display().to_string()),
        ),
        (
            field::LEDGER,
            args.ledger.as_ref().map(|p| p.display().to_string()),
        ),
    ];
    for (i, v) in prefill {
        if let (Some(v), Some(f)) = (v, model.fields.get_mut(i)) {
            f.value = v;
        }
    }
    let interrupted_wipes = Journal::locate(args.journal_dir.as_deref()).interrupted();
    if !interrupted_wipes.is_empty() {
        model.message = Some(format!(
            "{} interrupted wipe(s) in the journal: those media are partly overwritten; see `massho journal`",
            interrupted_wipes.len()
        ));
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    let signals = watch_signals(Arc::clone(&interrupted))?;
    let mut app = App {
        model,
        args,
        prepared: None,
        batch: None,
        board: Arc::new(Board::new(Vec::new(), Arc::clone(&interrupted))),
        interrupted,
        exit: Exit::Passed,
        quit: false,
        quit_after_batch: false,
        signals_seen: 0,
        ended: Vec::new(),
    };
    {
        let mut screen = Screen_::enter()?;
        app.run(&mut screen, &signals);
    }
    // What the end screens said stays in the terminal's scrollback after the console is gone.
    for r in &app.ended {
        outln!("{}: {}", terminal_safe(&r.device), r.status);
        for l in &r.lines {
            outln!("  {}", terminal_safe(l));
        }
    }
    Ok(app.exit)
}

/// Every `*.toml` method in `dir`, by file name; one that does not load is a usage error
/// naming the file and what is wrong (better at start than on the confirmation screen).
fn custom_methods(dir: &std::path::Path) -> anyhow::Result<Vec<model::CustomMethod>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        ExitError::usage(format!(
            "cannot read the methods directory {}: {e}; give a directory of *.toml method files",
            path_safe(dir)
        ))
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| match crate::method::load_file(&file) {
            Ok(method) => Ok(model::CustomMethod { file, method }),
            Err(e) => Err(ExitError::usage(format!(
                "{e}; fix or remove it from the methods directory"
            ))),
        })
        .collect()
}

/// The drives offered: the named ones, or everything `massho devices` lists.
fn scan(paths: &[PathBuf]) -> anyhow::Result<Vec<DeviceInfo>> {
    if paths.is_empty() {
        return Ok(device::discover()?);
    }
    paths
        .iter()
        .map(|p| {
            device::inspect(p).map_err(|e| match e {
                device::DeviceError::NotFound { .. } | device::DeviceError::NotADevice { .. } => {
                    ExitError::usage(e.to_string())
                }
                other => anyhow::Error::new(other),
            })
        })
        .collect()
}

/// Stop signals, counted; the name of the last one.
struct Signals {
    count: Arc<AtomicUsize>,
    last: Arc<Mutex<&'static str>>,
}

/// `interrupted` is set at once by the watcher itself, so the wipes stop and are recorded even
/// if the drawing thread is stuck on a terminal that went away.
fn watch_signals(interrupted: Arc<AtomicBool>) -> anyhow::Result<Signals> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut it = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| anyhow::anyhow!("cannot install the stop-signal handlers: {e}"))?;
    let count = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(Mutex::new("signal"));
    let (c, l) = (Arc::clone(&count), Arc::clone(&last));
    std::thread::spawn(move || {
        for sig in it.forever() {
            *l.lock().unwrap_or_else(|e| e.into_inner()) = match sig {
                SIGINT => "SIGINT",
                SIGTERM => "SIGTERM",
                _ => "SIGHUP",
            };
            interrupted.store(true, Ordering::SeqCst);
            c.fetch_add(1, Ordering::SeqCst);
        }
    });
    Ok(Signals { count, last })
}

/// The terminal in raw mode on the alternate screen; put back on drop (and on a panic).
struct Screen_ {
    terminal: Terminal<CrosstermBackend<std::io::Stdout>>,
}

impl Screen_ {
    fn enter() -> anyhow::Result<Screen_> {
        terminal::enable_raw_mode()
            .map_err(|e| anyhow::anyhow!("cannot put the terminal in raw mode: {e}"))?;
        let _ = crossterm::execute!(std::io::stdout(), EnterAlternateScreen);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        let terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))
            .map_err(|e| anyhow::anyhow!("cannot use the terminal: {e}"))?;
        Ok(Screen_ { terminal })
    }
}

fn restore() {
    let _ = crossterm::execute!(
        std::io::stdout(),
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = terminal::disable_raw_mode();
}

impl Drop for Screen_ {
    fn drop(&mut self) {
        restore();
    }
}

/// What the terminal has for us.
enum Input {
    Ready,
    Nothing,
    /// Hung up (a dropped SSH session) or closed: it will never send anything again.
    Gone,
}

/// Wait up to `timeout` for input on the terminal (standard input). The console reads its keys
/// itself ([`keys`]): crossterm 0.28's reader loops forever on a terminal that reads as
/// end-of-file, which is what a hung-up terminal does, and the wipes must still be recorded.
fn terminal_input(timeout: Duration) -> Input {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, ms) {
        Ok(0) => Input::Nothing,
        Ok(_) => {
            let r = fds[0].revents().unwrap_or(PollFlags::empty());
            if r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL) {
                Input::Gone
            } else {
                Input::Ready
            }
        }
        Err(nix::errno::Errno::EINTR) => Input::Nothing,
        Err(_) => Input::Gone,
    }
}

/// The keys typed within `wait`; `None` once the terminal is gone (hung up or closed).
fn read_keys(wait: Duration) -> Option<Vec<model::Key>> {
    match terminal_input(wait) {
        Input::Gone => return None,
        Input::Nothing => return Some(Vec::new()),
        Input::Ready => {}
    }
    let mut buf = [0u8; 4096];
    let fd = std::os::fd::AsRawFd::as_raw_fd(&std::io::stdin());
    match nix::unistd::read(fd, &mut buf) {
        Ok(0) => None,
        Ok(n) => Some(keys::decode(&buf[..n])),
        Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => Some(Vec::new()),
        Err(_) => None,
    }
}

/// A batch on its way: each drive's own stop, and the outcomes once `run_batch` returns.
struct Batch {
    devices: Vec<String>,
    stops: Vec<DeviceStop>,
    interrupted: Arc<AtomicBool>,
    force: Arc<AtomicBool>,
    done: mpsc::Receiver<Vec<Outcome>>,
}

struct App<'a> {
    model: Model,
    args: &'a ConsoleArgs,
    prepared: Option<start::Prepared>,
    batch: Option<Batch>,
    board: Arc<Board>,
    /// The stop request of the batch running now (the engines' `Control::Stop`).
    interrupted: Arc<AtomicBool>,
    exit: Exit,
    quit: bool,
    quit_after_batch: bool,
    signals_seen: usize,
    /// Every drive of every batch, as the end screen showed it.
    ended: Vec<EndRow>,
}

impl App<'_> {
    fn run(&mut self, screen: &mut Screen_, signals: &Signals) {
        let mut seen = 0;
        let mut dirty = true;
        let mut tty = true;
        let mut last_draw: Option<Instant> = None;
        let mut last_size = None;
        loop {
            let count = signals.count.load(Ordering::SeqCst);
            while seen < count {
                seen += 1;
                let name = *signals.last.lock().unwrap_or_else(|e| e.into_inner());
                self.signal(name);
                dirty = true;
            }
            let finished = self.batch.as_ref().and_then(|b| b.done.try_recv().ok());
            if let Some(outcomes) = finished {
                self.finish(outcomes);
                dirty = true;
                if self.quit_after_batch {
                    return;
                }
            }
            if self.quit && self.batch.is_none() {
                return;
            }
            if !tty && self.batch.is_none() {
                return;
            }
            dirty |= self.board.take_changed();
            // A resize arrives as SIGWINCH, which crossterm only reports while it reads; the
            // size is cheap to ask (an ioctl), so it is asked every frame.
            if let Ok(size) = screen.terminal.size() {
                if Some(size) != last_size {
                    last_size = Some(size);
                    dirty = true;
                }
            }
            let due = last_draw.is_none_or(|t| t.elapsed() >= FRAME);
            if dirty && due && tty {
                let board = if self.model.screen == Screen::Running {
                    self.board.snapshot()
                } else {
                    BoardState::default()
                };
                let model = &self.model;
                // A terminal that went away (SIGHUP) cannot be drawn to; the wipes go on and
                // are recorded.
                let _ = screen.terminal.autoresize();
                let _ = screen.terminal.draw(|f| view::draw(f, model, &board));
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
            match read_keys(wait) {
                None => tty = false,
                Some(keys) => {
                    for key in keys {
                        let action = self.model.key(key);
                        self.act(action);
                        dirty = true;
                    }
                }
            }
        }
    }

    /// SIGINT, SIGTERM or SIGHUP: stop every wipe, and quit once they are recorded.
    fn signal(&mut self, name: &str) {
        self.quit = true;
        self.quit_after_batch = true;
        let Some(b) = &self.batch else { return };
        // The watcher has already set `interrupted`; a second signal stops waiting.
        if self.signals_seen == 0 {
            self.board.say(format!(
                "{name}: stopping every wipe; each is recorded as aborted, then massho quits"
            ));
        } else if !b.force.swap(true, Ordering::SeqCst) {
            self.board.say(format!(
                "{name} again: not waiting for the writes in flight; recording every unfinished drive as aborted"
            ));
        }
        self.signals_seen += 1;
    }

    fn stop_all(&mut self, why: &str) {
        let Some(b) = &self.batch else { return };
        if !b.interrupted.swap(true, Ordering::SeqCst) {
            self.board.say(format!(
                "{why}: stopping every wipe; each is recorded as aborted. Ctrl-C again stops without waiting for the writes in flight"
            ));
        } else if !b.force.swap(true, Ordering::SeqCst) {
            self.board.say(format!(
                "{why} again: not waiting for the writes in flight; recording every unfinished drive as aborted"
            ));
        }
    }

    fn rescan(&mut self) {
        match scan(&self.args.devices) {
            Ok(drives) => {
                let n = drives.len();
                self.model.replace_drives(drives);
                self.model.message = Some(format!("{n} drive(s) found"));
            }
            Err(e) => self.model.message = Some(format!("cannot list the drives: {e:#}")),
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::None => {}
            Action::Quit => self.quit = true,
            Action::Rescan | Action::NewBatch => self.rescan(),
            Action::Prepare => {
                let journal = Journal::locate(self.args.journal_dir.as_deref());
                match start::prepare(&self.model, journal) {
                    Ok(p) => {
                        self.model.confirm = p.confirm.clone();
                        self.model.typed.clear();
                        self.model.screen = Screen::Confirm;
                        if !p.notes.is_empty() {
                            self.model.message = Some(p.notes.join("; "));
                        }
                        self.prepared = Some(p);
                    }
                    Err(e) => self.model.message = Some(e),
                }
            }
            Action::Cancel => self.prepared = None,
            Action::Confirm(typed) => {
                let Some(p) = self.prepared.take() else {
                    self.model.screen = Screen::List;
                    return;
                };
                let checked = start::Typed(typed).confirm(&p.bound).and_then(|()| {
                    p.bound
                        .iter()
                        .try_for_each(|b| job::recheck(b, "while waiting for confirmation"))
                });
                match checked {
                    Ok(()) => self.start(p),
                    Err(e) => {
                        // Dropping `p` releases the drives.
                        self.model.screen = Screen::List;
                        self.model.message = Some(e.to_string());
                    }
                }
            }
            Action::StopDrive(i) => {
                if let Some(b) = &self.batch {
                    if let Some(stop) = b.stops.get(i) {
                        stop.stop();
                        self.board.mark_stopping(i);
                        self.board.say(format!(
                            "{}: stopping at the operator's request; the other drives go on",
                            b.devices.get(i).map_or("?", String::as_str)
                        ));
                    }
                }
            }
            Action::StopAll => self.stop_all("Ctrl-C"),
            Action::StopAllAndQuit => {
                self.quit_after_batch = true;
                self.stop_all("quit");
            }
        }
    }

    fn start(&mut self, p: start::Prepared) {
        // A Ctrl-C that stopped the previous batch does not stop this one.
        self.interrupted.store(false, Ordering::SeqCst);
        let interrupted = Arc::clone(&self.interrupted);
        let force = Arc::new(AtomicBool::new(false));
        let devices: Vec<String> = p
            .bound
            .iter()
            .map(|b| b.job.device.path.display().to_string())
            .collect();
        let rows = p
            .bound
            .iter()
            .zip(&devices)
            .map(|(b, d)| Row {
                device: d.clone(),
                serial: b.job.device.serial.clone().unwrap_or_default(),
                step: "waiting".into(),
                ..Row::default()
            })
            .collect();
        self.board = Arc::new(Board::new(rows, Arc::clone(&interrupted)));
        for n in &p.notes {
            self.board.say(n.clone());
        }
        let stops = p.bound.iter().map(|b| b.stop.clone()).collect();
        let (tx, rx) = mpsc::channel();
        let observer = Arc::clone(&self.board) as Arc<dyn job::JobObserver>;
        let batch_force = Arc::clone(&force);
        let recording = Arc::new(p.recording);
        let bound = p.bound;
        std::thread::spawn(move || {
            let outcomes = job::run_batch(
                bound,
                recording,
                Arc::new(EngineConfig::from_env()),
                observer,
                batch_force,
            );
            let _ = tx.send(outcomes);
        });
        self.model.rows = devices.len();
        self.model.row = 0;
        self.model.pending = None;
        self.model.screen = Screen::Running;
        self.batch = Some(Batch {
            devices,
            stops,
            interrupted,
            force,
            done: rx,
        });
    }

    fn finish(&mut self, outcomes: Vec<Outcome>) {
        let Some(batch) = self.batch.take() else {
            return;
        };
        let mut statuses = Vec::new();
        let mut not_started = false;
        let rows: Vec<EndRow> = outcomes
            .iter()
            .zip(&batch.devices)
            .map(|(o, device)| match o {
                Ok(d) => {
                    statuses.push(d.result.status);
                    end_row(device, d)
                }
                Err(e) => {
                    not_started = true;
                    EndRow {
                        device: device.clone(),
                        status: "NOT STARTED".into(),
                        lines: vec![
                            e.to_string(),
                            "next: nothing was written to it; fix the cause and wipe it in a new batch"
                                .into(),
                        ],
                    }
                }
            })
            .collect();
        self.exit = super::wipe::batch_exit(statuses, not_started);
        self.ended.extend(rows.iter().cloned());
        self.model.end = rows;
        self.model.end_scroll = 0;
        self.model.pending = None;
        self.model.screen = Screen::End;
    }
}

/// What the end screen says about one drive that ran.
fn end_row(device: &str, d: &job::DeviceOutcome) -> EndRow {
    let r = &d.result;
    let mut lines = vec![format!(
        "serial {}, {}, NIST SP 800-88 category: {}",
        r.serial.as_deref().unwrap_or("none"),
        r.method,
        r.sanitization.nist_category
    )];
    match &d.certificate {
        Some((id, file)) => {
            lines.push(format!("certificate {id}"));
            lines.push(format!("  {}", path_safe(file)));
        }
        None => lines.push("no certificate (no Certificate dir was given)".into()),
    }
    if let Some(f) = &d.result_file {
        lines.push(format!("result {}", path_safe(f)));
    }
    if let Some((tag, seq)) = &d.ledger {
        lines.push(format!("ledger: medium {tag}, event {seq}"));
    }
    for f in &d.record_failures {
        lines.push(format!("NOT WRITTEN: {f}"));
    }
    if !d.journal_closed {
        lines.push(
            "the journal entry could not be closed: `massho journal` lists it as interrupted"
                .into(),
        );
    }
    lines.push(
        match r.status {
            Status::Passed => "next: label the drive with its certificate id and asset tag, and put it in the disposal (or return) box",
            Status::Unverified => "next: nothing was read back; verify it (`massho verify`) or wipe it again with verification before it leaves",
            Status::Failed => "next: do not let it leave: wipe it again, or destroy it if it keeps failing",
            Status::Aborted => "next: it is partly overwritten: wipe it again before it leaves the bench",
        }
        .into(),
    );
    EndRow {
        device: device.to_owned(),
        status: r.status.name().to_uppercase(),
        lines,
    }
}
