//! `massho wipe --ledger`: the console's side of [`crate::ledger::wipe`], which decides each
//! device's medium before anything is written and records its certificate (the job pipeline
//! hands it the certificate's exact bytes). Here the decisions get their exit codes and the
//! warnings are printed.

use std::path::Path;

use super::from_ledger;
use crate::cli::ExitError;
use crate::device::DeviceInfo;
use crate::ledger::{WipeLedgerError, WipeRecords};

/// A ledger decision with the exit code it deserves: refused (3), usage (2).
fn exit_error(e: WipeLedgerError) -> anyhow::Error {
    match e {
        WipeLedgerError::Refused { .. } => ExitError::refused(super::safe_lines(&e.to_string())),
        WipeLedgerError::Usage { .. } => ExitError::usage(super::safe_lines(&e.to_string())),
        WipeLedgerError::Ledger(l) => from_ledger(l),
    }
}

/// Open the ledger and decide every device's record; its warnings are printed.
pub fn prepare(
    path: &Path,
    devices: &[&DeviceInfo],
    assets: &[String],
    operator: &str,
) -> anyhow::Result<WipeRecords> {
    let records = WipeRecords::prepare(path, devices, assets, operator).map_err(exit_error)?;
    for w in records.warnings() {
        errln!("massho: WARNING: {}", super::safe_lines(&w.to_string()));
    }
    Ok(records)
}
