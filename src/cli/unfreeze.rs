//! `massho unfreeze`: the suspend-to-RAM and resume cycle that unfreezes ATA security, run
//! only when the operator asks (see `device::power`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use super::args::UnfreezeArgs;
use super::{Exit, ExitError};
use crate::device::drive::PurgeBlocker;
use crate::device::{self, power, DeviceInfo};
use crate::text::{path_safe, terminal_safe};

fn frozen(d: &DeviceInfo) -> bool {
    d.sanitize.as_ref().is_some_and(|s| {
        s.blocked_by.iter().any(|b| {
            matches!(
                b,
                PurgeBlocker::SecurityFrozen | PurgeBlocker::SanitizeFrozen
            )
        })
    })
}

fn describe(d: &DeviceInfo) -> String {
    format!(
        "{} ({}, serial {})",
        path_safe(&d.path),
        terminal_safe(d.model.as_deref().unwrap_or("no model")),
        terminal_safe(d.serial.as_deref().unwrap_or("none"))
    )
}

pub fn run(args: &UnfreezeArgs) -> anyhow::Result<Exit> {
    let before: Vec<DeviceInfo> = device::discover()?.into_iter().filter(frozen).collect();
    if before.is_empty() {
        outln!("no drive reports a frozen security or sanitize state; nothing to do");
        return Ok(Exit::Passed);
    }
    for d in &before {
        errln!("frozen: {}", describe(d));
    }
    let support = power::support(Path::new("/")).map_err(|e| ExitError {
        exit: Exit::Refused,
        message: e.to_string(),
    })?;
    if !support.deep {
        errln!("massho: warning: this machine offers only s2idle sleep, which keeps many drives powered: they may stay frozen");
    }
    errln!(
        "This machine will suspend to RAM and wake by its clock alarm after {} s. Running programs pause; network connections may drop.",
        args.seconds
    );
    if !args.yes {
        eprint!("Type \"suspend\" to go ahead: ");
        let _ = std::io::stderr().flush();
        let stdin = std::io::stdin();
        let interactive = stdin.is_terminal();
        let answer = stdin.lock().lines().next().and_then(Result::ok);
        match answer {
            Some(a) if a.trim() == "suspend" => {}
            None if !interactive => {
                return Err(ExitError::usage(
                    "no confirmation on standard input; type \"suspend\", or pass --yes",
                ))
            }
            _ => {
                return Err(ExitError {
                    exit: Exit::Refused,
                    message: "not confirmed; the machine was not suspended".into(),
                }
                .into())
            }
        }
    }
    power::suspend_cycle(Path::new("/"), &support, args.seconds)?;
    // Drives come back a moment after the kernel resumes.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let after = device::discover()?;
    let mut still = 0;
    for d in &before {
        let now = after
            .iter()
            .find(|a| a.serial.is_some() && a.serial == d.serial)
            .or_else(|| after.iter().find(|a| a.path == d.path));
        match now {
            Some(a) if !frozen(a) => outln!("unfrozen: {}", describe(a)),
            Some(a) => {
                still += 1;
                outln!("STILL FROZEN: {}", describe(a));
            }
            None => {
                still += 1;
                outln!("NOT FOUND after resume: {}", describe(d));
            }
        }
    }
    if still > 0 {
        errln!("massho: {still} drive(s) still frozen: hot-plug them (unplug and replug the drive's power after boot) and run `massho devices` again");
        return Ok(Exit::Failed);
    }
    Ok(Exit::Passed)
}
