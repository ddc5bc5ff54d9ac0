//! What the engine tells the outside world while it runs, and how the outside world stops it.
//!
//! Like ripgrep's `Sink`, the engine *pushes* events into an [`Observer`] that the front end
//! implements (terminal bars, plain lines, NDJSON). Push keeps the engine free of any notion of a
//! terminal or a clock for rendering, and lets the observer stop the wipe by returning
//! [`Control::Stop`] (SIGINT, an operator's abort). Events are plain serde data.

use serde::Serialize;

use super::report::{PassRecord, PassVerification, Status};

/// Which half of a pass is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Write,
    Verify,
    /// The drive's firmware is sanitizing (progress as the drive reports it).
    Firmware,
}

/// One thing that happened during a wipe. `device` is the label the caller gave the engine.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WipeEvent {
    Started {
        device: String,
        size_bytes: u64,
        method: String,
        passes: u32,
    },
    Progress {
        device: String,
        phase: Phase,
        pass: u32,
        passes: u32,
        bytes_done: u64,
        bytes_total: u64,
        /// Average bytes per second of this phase so far.
        rate_bps: f64,
        /// Bytes submitted to the device and not yet completed: what a stop waits for.
        in_flight_bytes: u64,
        /// Bytes of all the wipe's sweeps (writes and read-backs) done so far, and in all.
        overall_done: u64,
        overall_total: u64,
    },
    PassDone {
        device: String,
        #[serde(flatten)]
        pass: PassRecord,
        /// Sectors this pass could not write.
        bad_sectors: u64,
    },
    VerifyDone {
        device: String,
        #[serde(flatten)]
        verification: PassVerification,
        /// Sectors this read-back could not read.
        read_error_sectors: u64,
    },
    /// Every byte of pass `pass` before `flushed_bytes` is written and flushed (fdatasync): where
    /// a resumed wipe may continue.
    Checkpoint {
        device: String,
        pass: u32,
        flushed_bytes: u64,
    },
    /// A firmware step ended: the commands sent, the drive's answers and the check.
    FirmwareDone {
        device: String,
        firmware: crate::purge::FirmwareRecord,
    },
    Finished {
        device: String,
        status: Status,
    },
}

/// The observer's answer to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    /// Stop at the next chunk boundary: flush, and report the wipe as aborted.
    Stop,
}

/// Receives events from one or more running wipes (hence `Sync`: every device's engine may call
/// it from its own thread).
pub trait Observer: Sync {
    fn event(&self, event: &WipeEvent) -> Control;
}

/// An observer that ignores everything (library use, tests).
pub struct Quiet;

impl Observer for Quiet {
    fn event(&self, _: &WipeEvent) -> Control {
        Control::Continue
    }
}
