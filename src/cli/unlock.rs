//! `massho unlock DEVICE`: remove the temporary ATA password a firmware purge set, when a
//! failure (a bridge that dropped the erase, a crash) left the drive locked or with the
//! password set. The password comes from the journal, never from the command line.

use super::args::UnlockArgs;
use super::{Exit, ExitError};
use crate::device::transport::ata::AtaOverScsi;
use crate::device::transport::sgio::SgIo;
use crate::job::journal::Journal;
use crate::text::{path_safe, terminal_safe};

pub fn run(args: &UnlockArgs) -> anyhow::Result<Exit> {
    let journal = Journal::locate(args.journal_dir.as_deref());
    let device =
        crate::device::inspect(&args.device).map_err(|e| ExitError::usage(e.to_string()))?;
    // The drive's own serial (IDENTIFY) is what the journal recorded for ATA drives behind
    // bridges too; fall back to the kernel's.
    let serial = device
        .drive_identity
        .as_ref()
        .and_then(|i| i.serial.clone())
        .or_else(|| device.serial.clone())
        .ok_or_else(|| {
            ExitError::usage(format!(
                "{}: the drive reports no serial number, so its journal entry cannot be matched",
                path_safe(&args.device)
            ))
        })?;
    let sg = SgIo::open(&args.device)?;
    let mut ata = AtaOverScsi::new(sg, args.device.clone());
    let mut sent = crate::purge::drive::unlock_from_journal(&mut ata, &journal, &serial);
    if let (Err(_), Some(kernel)) = (&sent, device.serial.as_deref()) {
        if kernel != serial {
            sent = crate::purge::drive::unlock_from_journal(&mut ata, &journal, kernel);
        }
    }
    let sent = sent.map_err(|e| ExitError {
        exit: Exit::Failed,
        message: format!("{}: {}", path_safe(&args.device), terminal_safe(&e)),
    })?;
    for c in &sent {
        errln!(
            "{}: {} ({}) -> {}",
            path_safe(&args.device),
            c.name,
            c.sent,
            c.answer
        );
    }
    outln!(
        "{}: the temporary password massho set is removed; the drive is unlocked",
        path_safe(&args.device)
    );
    Ok(Exit::Passed)
}
