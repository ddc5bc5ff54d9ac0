//! Turning engine events and recording steps into what the operator sees: a progress bar per
//! device on a terminal, timestamped plain lines when stdout is not a terminal, or NDJSON for
//! scripts (with a one-line status per device on stderr for the person watching).
//!
//! The same [`Console`] carries the stop request from SIGINT/SIGTERM/SIGHUP back into the
//! engine, and acknowledges it at once with what is still in flight.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::engine::{Control, Observer, Phase, Status, WipeEvent};
use crate::job::{JobEvent, JobObserver};
use crate::text::{path_safe, terminal_safe};

/// How often progress is printed as a plain line or an NDJSON event, per device.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);
const JSON_INTERVAL: Duration = Duration::from_secs(1);
/// Bars redraw at most this often: a serial or IPMI console carries little more.
const BAR_HZ: u8 = 4;

/// Output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bars,
    Plain,
    Json,
}

impl Style {
    /// NDJSON when asked; bars on a terminal; plain lines otherwise.
    pub fn choose(json: bool) -> Style {
        if json {
            Style::Json
        } else if std::io::stdout().is_terminal() {
            Style::Bars
        } else {
            Style::Plain
        }
    }
}

/// UTC now, RFC 3339 with milliseconds: the `time` of every NDJSON event and plain line.
pub fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    let t = t
        .replace_nanosecond(t.millisecond() as u32 * 1_000_000)
        .unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `h:mm:ss`.
pub fn hms(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "?".into();
    }
    let s = seconds.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Renders events and relays the interrupt flag to the engine.
pub struct Console {
    style: Style,
    interrupted: Arc<AtomicBool>,
    bars: MultiProgress,
    state: Mutex<HashMap<String, DeviceView>>,
    out: Mutex<std::io::Stdout>,
}

#[derive(Default)]
struct DeviceView {
    bar: Option<ProgressBar>,
    last_line: Option<Instant>,
    in_flight: u64,
    finished: bool,
}

impl Console {
    pub fn new(style: Style, interrupted: Arc<AtomicBool>) -> Console {
        let bars = MultiProgress::with_draw_target(if style == Style::Bars {
            ProgressDrawTarget::stdout_with_hz(BAR_HZ)
        } else {
            ProgressDrawTarget::hidden()
        });
        Console {
            style,
            interrupted,
            bars,
            state: Mutex::new(HashMap::new()),
            out: Mutex::new(std::io::stdout()),
        }
    }

    pub fn style(&self) -> Style {
        self.style
    }

    /// A line for the operator (above the bars on a terminal, timestamped on plain output; on
    /// stderr in JSON mode so stdout stays NDJSON).
    pub fn say(&self, line: &str) {
        match self.style {
            Style::Bars => {
                let _ = self.bars.println(line);
            }
            Style::Plain => self.write_stdout(&format!("[{}] {line}", now())),
            Style::Json => errln!("{line}"),
        }
    }

    /// A line on stderr whatever the style (above the bars on a terminal).
    fn tell(&self, line: &str) {
        if self.style == Style::Bars {
            self.bars.suspend(|| errln!("{line}"));
        } else {
            errln!("{line}");
        }
    }

    /// One NDJSON object on stdout, with the time it was written.
    pub fn json<T: Serialize>(&self, value: &T) {
        let mut v = match serde_json::to_value(value) {
            Ok(v) => v,
            Err(e) => {
                errln!("massho: cannot encode JSON output: {e}");
                return;
            }
        };
        if let Some(obj) = v.as_object_mut() {
            obj.entry("time").or_insert_with(|| now().into());
        }
        self.write_stdout(&v.to_string());
    }

    fn write_stdout(&self, line: &str) {
        let out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let mut lock = out.lock();
        // A closed stdout (a pipe into `head`, a dropped SSH session) must not stop a wipe.
        let _ = writeln!(lock, "{line}");
        let _ = lock.flush();
    }

    fn views(&self) -> std::sync::MutexGuard<'_, HashMap<String, DeviceView>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Acknowledge a stop request at once, saying what the stop waits for.
    pub fn stopping(&self, signal: &str) {
        self.tell(&self.stop_message(signal));
    }

    fn stop_message(&self, signal: &str) -> String {
        let pending: Vec<String> = self
            .views()
            .iter()
            .filter(|(_, v)| !v.finished)
            .map(|(d, v)| {
                format!(
                    "{:.1} MiB still in flight on {}",
                    v.in_flight as f64 / (1 << 20) as f64,
                    terminal_safe(d)
                )
            })
            .collect();
        if pending.is_empty() {
            // Every wipe has ended: only its records are being written, and they say how it
            // ended, not "aborted".
            return format!("massho: {signal}: every wipe has ended; finishing their records");
        }
        format!(
            "massho: {signal}: stopping: {}; the unfinished wipe(s) will be recorded as aborted. {} again stops without waiting for the writes in flight",
            pending.join(", "),
            if signal == "SIGINT" { "Ctrl-C" } else { "the same signal" }
        )
    }

    /// Acknowledge a second stop request.
    pub fn forced(&self, signal: &str) {
        self.tell(&format!(
            "massho: {signal} again: not waiting for the writes in flight; recording every unfinished device as aborted"
        ));
    }

    fn render(&self, event: &WipeEvent) {
        match event {
            WipeEvent::Started {
                device,
                size_bytes,
                method,
                passes,
            } => {
                let bar = (self.style == Style::Bars).then(|| {
                    let bar = self.bars.add(ProgressBar::new(*size_bytes));
                    bar.set_style(bar_style());
                    bar.set_prefix(short_name(device));
                    bar
                });
                self.views().insert(
                    device.clone(),
                    DeviceView {
                        bar,
                        ..DeviceView::default()
                    },
                );
                if self.style != Style::Bars {
                    self.say(&format!(
                        "{}: started {}, {passes} pass(es), {}",
                        terminal_safe(device),
                        terminal_safe(method),
                        HumanBytes(*size_bytes)
                    ));
                }
            }
            WipeEvent::Progress {
                device,
                phase,
                pass,
                passes,
                bytes_done,
                bytes_total,
                rate_bps,
                in_flight_bytes,
                overall_done,
                overall_total,
            } => {
                let mut views = self.views();
                let Some(view) = views.get_mut(device) else {
                    return;
                };
                view.in_flight = *in_flight_bytes;
                let what = match phase {
                    Phase::Write => "write",
                    Phase::Verify => "verify",
                    Phase::Firmware => "firmware",
                };
                // The rate is this phase's own average; no rate until something was measured.
                let (rate, eta, eta_all) = if *rate_bps > 0.0 {
                    (
                        format!("{}/s", HumanBytes(*rate_bps as u64)),
                        hms(bytes_total.saturating_sub(*bytes_done) as f64 / rate_bps),
                        hms(overall_total.saturating_sub(*overall_done) as f64 / rate_bps),
                    )
                } else {
                    ("-".into(), "?".into(), "?".into())
                };
                if let Some(bar) = &view.bar {
                    bar.set_length(*overall_total);
                    bar.set_position(*overall_done);
                    bar.set_message(format!("pass {pass}/{passes} {what} {rate} ETA {eta_all}"));
                } else if view.last_line.is_none_or(|t| t.elapsed() >= PLAIN_INTERVAL) {
                    view.last_line = Some(Instant::now());
                    drop(views);
                    let pct = if *bytes_total > 0 {
                        100.0 * *bytes_done as f64 / *bytes_total as f64
                    } else {
                        100.0
                    };
                    self.say(&format!(
                        "{}: pass {pass}/{passes} {what} {pct:5.1}% {rate} ETA {eta} (all passes {eta_all})",
                        terminal_safe(device)
                    ));
                }
            }
            WipeEvent::PassDone {
                device,
                pass,
                bad_sectors,
            } => {
                let outcome = match (pass.completed, *bad_sectors) {
                    (true, 0) => "done".to_owned(),
                    (true, n) => format!("FAILED: {n} sector(s) could not be written"),
                    (false, 0) => "INCOMPLETE".to_owned(),
                    (false, n) => format!("INCOMPLETE, {n} sector(s) could not be written"),
                };
                self.say(&format!(
                    "{}: pass {} ({}) {outcome}: {} in {:.1}s, {}/s",
                    terminal_safe(device),
                    pass.index,
                    terminal_safe(&pass.pattern),
                    HumanBytes(pass.bytes_written),
                    pass.seconds,
                    HumanBytes(pass.throughput_bps as u64)
                ))
            }
            WipeEvent::VerifyDone {
                device,
                verification,
                read_error_sectors,
            } => {
                let mut problems = Vec::new();
                if verification.mismatched_bytes > 0 {
                    problems.push(format!(
                        "{} MISMATCHED BYTES",
                        verification.mismatched_bytes
                    ));
                }
                if *read_error_sectors > 0 {
                    problems.push(format!("{read_error_sectors} UNREADABLE SECTOR(S)"));
                }
                if !verification.completed {
                    problems.push("INCOMPLETE".into());
                }
                self.say(&format!(
                    "{}: verify pass {}: {} read back in {:.1}s, {}",
                    terminal_safe(device),
                    verification.pass,
                    HumanBytes(verification.bytes_verified),
                    verification.seconds,
                    if problems.is_empty() {
                        "no mismatches".to_owned()
                    } else {
                        format!("FAILED: {}", problems.join(", "))
                    }
                ))
            }
            WipeEvent::FirmwareDone { device, firmware } => {
                let check = match &firmware.check {
                    crate::purge::FirmwareCheck::ReadBack {
                        expected,
                        bytes_verified,
                        mismatched_bytes,
                        ..
                    } => format!(
                        "read back {} expecting {expected}: {}",
                        HumanBytes(*bytes_verified),
                        if *mismatched_bytes == 0 {
                            "no mismatches".to_owned()
                        } else {
                            format!("FAILED: {mismatched_bytes} MISMATCHED BYTES")
                        }
                    ),
                    crate::purge::FirmwareCheck::Fingerprints {
                        sectors,
                        unchanged,
                        unreadable,
                    } => format!(
                        "{sectors} sampled sector(s) re-read: {}",
                        if *unchanged == 0 && *unreadable == 0 {
                            "none reads as before".to_owned()
                        } else {
                            format!("FAILED: {unchanged} UNCHANGED, {unreadable} UNREADABLE")
                        }
                    ),
                    crate::purge::FirmwareCheck::None { reason } => {
                        format!("not verified: {}", terminal_safe(reason))
                    }
                };
                self.say(&format!(
                    "{}: step {} firmware {} {:?} in {:.1}s: {}; {check}",
                    terminal_safe(device),
                    firmware.step,
                    firmware.technique,
                    firmware.outcome,
                    firmware.seconds,
                    terminal_safe(&firmware.detail),
                ))
            }
            WipeEvent::Finished { device, status } => self.finished(device, *status),
            // Kept in the journal; nothing to show.
            WipeEvent::Checkpoint { .. } => {}
        }
    }

    fn finished(&self, device: &str, status: Status) {
        let mut views = self.views();
        let view = views.entry(device.to_owned()).or_default();
        view.finished = true;
        view.in_flight = 0;
        if let Some(bar) = view.bar.clone() {
            let msg = status.name().to_uppercase();
            // Only a wipe that went through to the end fills its bar; an aborted or failed
            // one stays where it stopped.
            match status {
                Status::Passed | Status::Unverified => bar.finish_with_message(msg),
                Status::Failed | Status::Aborted => bar.abandon_with_message(msg),
            }
        }
        drop(views);
        if self.style == Style::Json {
            errln!(
                "{}: {}",
                terminal_safe(device),
                status.name().to_uppercase()
            );
        }
    }
}

impl Observer for Console {
    fn event(&self, event: &WipeEvent) -> Control {
        match self.style {
            Style::Json => {
                let due = match event {
                    WipeEvent::Progress {
                        device,
                        in_flight_bytes,
                        ..
                    } => {
                        let mut views = self.views();
                        let view = views.entry(device.clone()).or_default();
                        view.in_flight = *in_flight_bytes;
                        let due = view.last_line.is_none_or(|t| t.elapsed() >= JSON_INTERVAL);
                        if due {
                            view.last_line = Some(Instant::now());
                        }
                        due
                    }
                    WipeEvent::Started { device, method, .. } => {
                        errln!(
                            "{}: wiping with {}",
                            terminal_safe(device),
                            terminal_safe(method)
                        );
                        true
                    }
                    WipeEvent::Finished { device, status } => {
                        self.finished(device, *status);
                        true
                    }
                    _ => true,
                };
                if due {
                    self.json(event);
                }
            }
            Style::Bars | Style::Plain => self.render(event),
        }
        stop_if(&self.interrupted)
    }
}

impl JobObserver for Console {
    fn job_event(&self, event: &JobEvent) {
        if self.style == Style::Json {
            self.json(event);
        }
        let line = match event {
            JobEvent::Journaled { .. } => return,
            JobEvent::ResultWritten { device, file } => {
                format!("{device}: result written to {}", path_safe(file))
            }
            JobEvent::Certificate {
                device,
                certificate_id,
                status,
                file,
                ..
            } => format!(
                "{device}: certificate {certificate_id} ({}) written to {}",
                status.name(),
                path_safe(file)
            ),
            JobEvent::LedgerRecorded {
                device,
                ledger,
                medium,
                seq,
            } => format!(
                "{device}: ledger {}: medium {}, wipe recorded as event {seq}",
                path_safe(ledger),
                terminal_safe(medium)
            ),
            JobEvent::RecordFailed {
                device,
                what,
                error,
            } => format!(
                // The device is the path as the operator named it (a symlink may carry any
                // bytes); this line is printed without the escaping the others get below.
                "massho: error: {}: NO {}: {}",
                terminal_safe(device),
                terminal_safe(&what.to_uppercase()),
                terminal_safe(error)
            ),
            JobEvent::RecordWarning {
                device,
                what,
                message,
            } => format!(
                "massho: warning: {}: {}: {}",
                terminal_safe(device),
                terminal_safe(what),
                terminal_safe(message)
            ),
            #[allow(unreachable_patterns)]
            _ => return,
        };
        match event {
            // Errors and warnings go to stderr whatever the style.
            JobEvent::RecordFailed { .. } | JobEvent::RecordWarning { .. } => self.tell(&line),
            _ if self.style == Style::Json => errln!("{}", terminal_safe(&line)),
            _ => self.say(&terminal_safe(&line)),
        }
    }
}

/// An observer that renders nothing and only relays the interrupt flag.
pub struct InterruptOnly(pub Arc<AtomicBool>);

impl Observer for InterruptOnly {
    fn event(&self, _: &WipeEvent) -> Control {
        stop_if(&self.0)
    }
}

fn stop_if(interrupted: &AtomicBool) -> Control {
    if interrupted.load(Ordering::SeqCst) {
        Control::Stop
    } else {
        Control::Continue
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>10} [{bar:30}] {percent:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn short_name(device: &str) -> String {
    terminal_safe(device.rsplit('/').next().unwrap_or(device)).into_owned()
}

/// The signals that stop massho: Ctrl-C, `kill`, and a hang-up (the SSH session or terminal
/// went away — the wipe must still be recorded).
const STOP_SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
];

fn signal_name(sig: i32) -> &'static str {
    match sig {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// Install SIGINT/SIGTERM/SIGHUP handlers that set the returned flag instead of killing the
/// process, so a running check or wipe can flush and report `aborted`.
pub fn interrupt_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in STOP_SIGNALS {
        signal_hook::flag::register(sig, Arc::clone(&flag))
            .map_err(|e| anyhow::anyhow!("cannot install the handler for signal {sig}: {e}"))?;
    }
    Ok(flag)
}

/// Watch for stop signals on a thread of its own: the first sets `interrupted` (the engine
/// stops at the next piece of I/O, flushes and reports `aborted`) and is acknowledged at once
/// with what is still in flight; the second sets `force` (stop waiting for the writes in
/// flight; the devices are recorded as aborted).
pub fn watch_signals(
    console: Arc<Console>,
    interrupted: Arc<AtomicBool>,
    force: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new(STOP_SIGNALS)
        .map_err(|e| anyhow::anyhow!("cannot install the stop-signal handlers: {e}"))?;
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let name = signal_name(sig);
            if !interrupted.swap(true, Ordering::SeqCst) {
                console.stopping(name);
            } else if !force.swap(true, Ordering::SeqCst) {
                console.forced(name);
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(done: u64) -> WipeEvent {
        WipeEvent::Progress {
            device: "/dev/sdz".into(),
            phase: Phase::Write,
            pass: 1,
            passes: 1,
            bytes_done: done,
            bytes_total: 100,
            rate_bps: 10.0,
            in_flight_bytes: 3 << 20,
            overall_done: done,
            overall_total: 200,
        }
    }

    /// A one-pass wipe of /dev/sdz started and half written, 3 MiB in flight.
    fn half_way(console: &Console) {
        console.event(&WipeEvent::Started {
            device: "/dev/sdz".into(),
            size_bytes: 100,
            method: "zero".into(),
            passes: 1,
        });
        console.event(&progress(50));
    }

    #[test]
    fn an_aborted_bar_freezes_where_it_stopped_and_a_passed_one_fills() {
        for (status, position) in [
            (Status::Aborted, 50),
            (Status::Failed, 50),
            (Status::Passed, 200),
        ] {
            let console = Console::new(Style::Bars, Arc::new(AtomicBool::new(false)));
            half_way(&console);
            assert_eq!(console.views()["/dev/sdz"].in_flight, 3 << 20);
            console.event(&WipeEvent::Finished {
                device: "/dev/sdz".into(),
                status,
            });
            let views = console.views();
            let bar = views["/dev/sdz"].bar.as_ref().unwrap();
            assert_eq!(bar.position(), position, "{status:?}");
            assert!(bar.is_finished());
            assert_eq!(views["/dev/sdz"].in_flight, 0);
        }
    }

    #[test]
    fn a_stop_after_every_wipe_ended_does_not_announce_aborts() {
        let console = Console::new(Style::Plain, Arc::new(AtomicBool::new(false)));
        half_way(&console);
        let running = console.stop_message("SIGINT");
        assert!(
            running.contains("3.0 MiB still in flight on /dev/sdz"),
            "{running}"
        );
        assert!(running.contains("recorded as aborted"), "{running}");
        console.event(&WipeEvent::Finished {
            device: "/dev/sdz".into(),
            status: Status::Passed,
        });
        let ended = console.stop_message("SIGINT");
        assert!(!ended.contains("aborted"), "{ended}");
        assert!(ended.contains("every wipe has ended"), "{ended}");
    }

    #[test]
    fn durations_read_as_hours_minutes_seconds() {
        assert_eq!(hms(0.0), "0:00:00");
        assert_eq!(hms(61.4), "0:01:01");
        assert_eq!(hms(3.0 * 3600.0 + 7.0), "3:00:07");
        assert_eq!(hms(f64::INFINITY), "?");
        assert_eq!(hms(-1.0), "?");
    }
}
