//! `massho ledger import`, `ledger export`, `ledger verify --export`.
//! (Being written: see the ledger issue's notes.)

use std::path::Path;

use super::args::{LedgerExportArgs, LedgerImportArgs};
use crate::cli::{Exit, ExitError};
use crate::ledger::chain::Verification;
use crate::sign::PublicKey;

pub fn import(_a: &LedgerImportArgs) -> anyhow::Result<Exit> {
    Err(ExitError::usage("ledger import is not available yet"))
}

pub fn export(_a: &LedgerExportArgs) -> anyhow::Result<Exit> {
    Err(ExitError::usage("ledger export is not available yet"))
}

pub fn verify_export(_file: &Path, _keys: &[PublicKey]) -> anyhow::Result<Verification> {
    Err(ExitError::usage(
        "ledger verify --export is not available yet",
    ))
}
