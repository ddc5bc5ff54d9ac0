//! `massho wipe --ledger`: the console's adapter to [`crate::ledger::wipe`], which decides each
//! device's medium and records its certificate. Here the decisions get their exit codes, the
//! warnings are printed, and the certificate is read back from the file it was written to.

use std::path::Path;

use super::from_ledger;
use crate::cert::{Certificate, Issued};
use crate::cli::ExitError;
use crate::device::DeviceInfo;
use crate::ledger::{WipeLedgerError, WipeRecords};

/// The ledger's records for one `massho wipe` run.
pub struct WipeLedger {
    records: WipeRecords,
}

/// A ledger decision with the exit code it deserves: refused (3), usage (2).
fn exit_error(e: WipeLedgerError) -> anyhow::Error {
    match e {
        WipeLedgerError::Refused { .. } => ExitError::refused(super::safe_lines(&e.to_string())),
        WipeLedgerError::Usage { .. } => ExitError::usage(super::safe_lines(&e.to_string())),
        WipeLedgerError::Ledger(l) => from_ledger(l),
    }
}

impl WipeLedger {
    /// Open the ledger and decide every device's record; warnings are printed.
    pub fn prepare(
        path: &Path,
        devices: &[&DeviceInfo],
        assets: &[String],
        operator: &str,
    ) -> anyhow::Result<WipeLedger> {
        let records = WipeRecords::prepare(path, devices, assets, operator).map_err(exit_error)?;
        for w in records.warnings() {
            eprintln!("massho: WARNING: {w}");
        }
        Ok(WipeLedger { records })
    }

    /// The asset tag of the `index`-th device.
    pub fn asset(&self, index: usize) -> &str {
        self.records.asset(index).unwrap_or("TAG")
    }

    /// The asset tag of each device, in order (for the certificates).
    pub fn assets(&self) -> Vec<String> {
        self.records.assets()
    }

    /// Record the `index`-th device's certificate as written to `files.json` (read once, and
    /// those bytes hashed).
    pub fn record(
        &mut self,
        index: usize,
        cert: &Certificate,
        files: &Issued,
    ) -> anyhow::Result<(String, u64)> {
        let bytes = crate::input::read_regular(
            &files.json,
            "certificate",
            crate::input::limit::CERTIFICATE,
        )?;
        self.records.record(index, cert, &bytes).map_err(exit_error)
    }

    pub fn path(&self) -> &Path {
        self.records.path()
    }
}
