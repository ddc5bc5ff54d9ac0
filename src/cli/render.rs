//! Turning engine events into what the operator sees: a progress bar per device on a terminal,
//! periodic plain lines when stdout is not a terminal, or NDJSON for scripts.
//!
//! The same [`Console`] observer also carries the stop request from SIGINT/SIGTERM back into the
//! engine.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::engine::{Control, Observer, Phase, WipeEvent};

/// How often progress is printed as a plain line or an NDJSON event, per device.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);
const JSON_INTERVAL: Duration = Duration::from_secs(1);

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

/// Renders events and relays the interrupt flag to the engine.
pub struct Console {
    style: Style,
    interrupted: Arc<AtomicBool>,
    bars: MultiProgress,
    state: Mutex<HashMap<String, DeviceView>>,
    out: Mutex<std::io::Stdout>,
}

struct DeviceView {
    bar: Option<ProgressBar>,
    last_line: Option<Instant>,
}

impl Console {
    pub fn new(style: Style, interrupted: Arc<AtomicBool>) -> Console {
        let bars = MultiProgress::with_draw_target(if style == Style::Bars {
            ProgressDrawTarget::stdout()
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

    /// A line for the operator (above the bars on a terminal; on stderr in JSON mode so stdout
    /// stays NDJSON).
    pub fn say(&self, line: &str) {
        match self.style {
            Style::Bars => {
                let _ = self.bars.println(line);
            }
            Style::Plain => self.write_stdout(line),
            Style::Json => eprintln!("{line}"),
        }
    }

    /// One NDJSON object on stdout.
    pub fn json<T: Serialize>(&self, value: &T) {
        match serde_json::to_string(value) {
            Ok(s) => self.write_stdout(&s),
            Err(e) => eprintln!("massho: cannot encode JSON output: {e}"),
        }
    }

    fn write_stdout(&self, line: &str) {
        let out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let mut lock = out.lock();
        // A closed stdout (a pipe into `head`) must not stop a wipe.
        let _ = writeln!(lock, "{line}");
        let _ = lock.flush();
    }

    fn views(&self) -> std::sync::MutexGuard<'_, HashMap<String, DeviceView>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
                        last_line: None,
                    },
                );
                if self.style == Style::Plain {
                    self.say(&format!(
                        "{device}: started {method}, {passes} pass(es), {}",
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
            } => {
                let mut views = self.views();
                let Some(view) = views.get_mut(device) else {
                    return;
                };
                let what = match phase {
                    Phase::Write => "write",
                    Phase::Verify => "verify",
                };
                if let Some(bar) = &view.bar {
                    bar.set_length(*bytes_total);
                    bar.set_position(*bytes_done);
                    bar.set_message(format!("pass {pass}/{passes} {what}"));
                } else if view.last_line.is_none_or(|t| t.elapsed() >= PLAIN_INTERVAL) {
                    view.last_line = Some(Instant::now());
                    drop(views);
                    let pct = if *bytes_total > 0 {
                        100.0 * *bytes_done as f64 / *bytes_total as f64
                    } else {
                        100.0
                    };
                    let eta = if *rate_bps > 0.0 {
                        format!("{:.0}s", (*bytes_total - *bytes_done) as f64 / rate_bps)
                    } else {
                        "?".into()
                    };
                    self.say(&format!(
                        "{device}: pass {pass}/{passes} {what} {pct:5.1}% {}/s ETA {eta}",
                        HumanBytes(*rate_bps as u64)
                    ));
                }
            }
            WipeEvent::PassDone { device, pass } => self.say(&format!(
                "{device}: pass {} ({}) {}: {} in {:.1}s, {}/s",
                pass.index,
                pass.pattern,
                if pass.completed { "done" } else { "INCOMPLETE" },
                HumanBytes(pass.bytes_written),
                pass.seconds,
                HumanBytes(pass.throughput_bps as u64)
            )),
            WipeEvent::VerifyDone {
                device,
                verification,
            } => self.say(&format!(
                "{device}: verify pass {}: {} read back in {:.1}s, {}",
                verification.pass,
                HumanBytes(verification.bytes_verified),
                verification.seconds,
                if verification.mismatched_bytes == 0 {
                    "no mismatches".to_owned()
                } else {
                    format!("{} MISMATCHED BYTES", verification.mismatched_bytes)
                }
            )),
            WipeEvent::Finished { device, status } => {
                if let Some(bar) = self.views().get(device).and_then(|v| v.bar.clone()) {
                    bar.finish_with_message(status.name().to_uppercase());
                }
            }
        }
    }
}

impl Observer for Console {
    fn event(&self, event: &WipeEvent) -> Control {
        match self.style {
            Style::Json => {
                let due = match event {
                    WipeEvent::Progress { device, .. } => {
                        let mut views = self.views();
                        let view = views.entry(device.clone()).or_insert(DeviceView {
                            bar: None,
                            last_line: None,
                        });
                        let due = view.last_line.is_none_or(|t| t.elapsed() >= JSON_INTERVAL);
                        if due {
                            view.last_line = Some(Instant::now());
                        }
                        due
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
    ProgressStyle::with_template(
        "{prefix:>10} [{bar:30}] {percent:>3}% {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

fn short_name(device: &str) -> String {
    device.rsplit('/').next().unwrap_or(device).to_owned()
}

/// Install SIGINT/SIGTERM handlers that set the returned flag instead of killing the process,
/// so a running wipe can flush and report `aborted`.
pub fn interrupt_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&flag))
            .map_err(|e| anyhow::anyhow!("cannot install the handler for signal {sig}: {e}"))?;
    }
    Ok(flag)
}
