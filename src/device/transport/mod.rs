//! Transports: how a command reaches a drive's firmware, behind traits a test can fake.
//!
//! Three command sets reach a drive under Linux: SCSI CDBs through `SG_IO` (SAS, USB, and
//! SATA through libata's SCSI translation), ATA taskfiles wrapped in SAT's ATA PASS-THROUGH CDBs
//! (so ATA rides on [`ScsiTransport`]; see [`ata::AtaOverScsi`]), and NVMe admin commands through
//! `NVME_IOCTL_ADMIN_CMD` on the controller's character device. Code above this module speaks to
//! [`AtaTransport`], [`ScsiTransport`] and [`NvmeAdmin`] only, so every byte a command puts on the
//! wire can be checked against the specs with the spec-faithful fakes in [`fake`], and the real
//! ioctls (the only `unsafe` here) stay in [`sgio`].
//!
//! A transport answers `Ok` when the drive answered, even with an error status: a drive that
//! aborts a command is telling us something (not supported, frozen, locked). `Err` means the
//! command never got an answer from the drive (no pass-through on this path, ioctl refused,
//! timeout, host adapter error).

pub mod ata;
pub mod fake;
pub mod sense;
pub mod sgio;

use std::path::PathBuf;
use std::time::Duration;

pub use ata::{AtaCommand, AtaOutcome, AtaProtocol, AtaRegisters};
pub use sense::Sense;

/// Where a command's data goes.
#[derive(Debug)]
pub enum DataDir<'a> {
    /// A non-data command.
    None,
    /// Data from the drive into this buffer.
    In(&'a mut [u8]),
    /// Data from this buffer to the drive.
    Out(&'a [u8]),
}

impl DataDir<'_> {
    pub fn len(&self) -> usize {
        match self {
            DataDir::None => 0,
            DataDir::In(b) => b.len(),
            DataDir::Out(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a command got no answer from the drive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("cannot open {path} for pass-through commands: {source}; run massho as root")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the kernel refused the {what} ioctl: {source}; this device does not take {what} commands")]
    Ioctl {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no answer to the {what} command within {timeout:?}; the drive or its bridge may have dropped it, power-cycle the drive before trying again")]
    Timeout {
        path: PathBuf,
        what: String,
        timeout: Duration,
    },
    #[error("{path}: the host adapter failed the command (host status {host:#x}, driver status {driver:#x}); check the cable or bridge")]
    Host {
        path: PathBuf,
        host: u16,
        driver: u16,
    },
    #[error("{path}: {what} is not supported on this path ({detail})")]
    Unsupported {
        path: PathBuf,
        what: &'static str,
        detail: String,
    },
    #[error("{path}: cannot find the NVMe controller of this namespace in sysfs ({detail})")]
    NoController { path: PathBuf, detail: String },
    #[error("{path}: the buffer of {len} bytes is too large for one command")]
    TooLarge { path: PathBuf, len: usize },
}

/// What came back from a SCSI command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScsiOutcome {
    /// SCSI status: 0x00 GOOD, 0x02 CHECK CONDITION, 0x08 BUSY, ...
    pub status: u8,
    /// The sense bytes the kernel returned (empty when none).
    pub sense: Vec<u8>,
    /// Bytes of the data buffer that were not transferred.
    pub residual: usize,
}

/// SCSI status codes (SAM-5).
pub const SCSI_GOOD: u8 = 0x00;
pub const SCSI_CHECK_CONDITION: u8 = 0x02;

impl ScsiOutcome {
    pub fn good() -> ScsiOutcome {
        ScsiOutcome::default()
    }

    pub fn is_good(&self) -> bool {
        self.status == SCSI_GOOD
    }

    /// The decoded sense, when there is any.
    pub fn decoded_sense(&self) -> Option<Sense> {
        Sense::parse(&self.sense)
    }
}

/// SCSI commands (CDBs) through the kernel's SG_IO, or a fake.
pub trait ScsiTransport {
    fn scsi(
        &mut self,
        cdb: &[u8],
        data: DataDir<'_>,
        timeout: Duration,
    ) -> Result<ScsiOutcome, TransportError>;
}

/// ATA taskfile commands, however they are carried (SAT pass-through over SCSI, or a fake).
pub trait AtaTransport {
    fn ata(
        &mut self,
        cmd: &AtaCommand,
        data: DataDir<'_>,
        timeout: Duration,
    ) -> Result<AtaOutcome, TransportError>;

    /// Ask the SAT layer for descriptor-format sense (`on`) or fixed (`!on`), so that 48-bit
    /// output registers (COUNT 15:8, LBA 47:24) come back whole. Returns whether descriptor
    /// sense was on before. Paths without a SAT layer to ask do not support it.
    fn set_descriptor_sense(&mut self, on: bool) -> Result<bool, TransportError> {
        let _ = on;
        Err(TransportError::Unsupported {
            path: PathBuf::from("ata"),
            what: "descriptor sense",
            detail: "this transport cannot change its sense format".into(),
        })
    }
}

/// One NVMe admin command: opcode, namespace, and command dwords 10-15 (NVMe base spec, figure
/// "Common Command Format"). Data pointers are the transport's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NvmeAdminCommand {
    pub opcode: u8,
    pub nsid: u32,
    pub cdw10: u32,
    pub cdw11: u32,
    pub cdw12: u32,
    pub cdw13: u32,
    pub cdw14: u32,
    pub cdw15: u32,
}

/// An NVMe completion as Linux reports it: the status field without the phase bit (what the
/// ioctl returns: SC bits 7:0, SCT 10:8, CRD 12:11, More 13, DNR 14) and completion dword 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NvmeCompletion {
    pub status: u16,
    pub result: u32,
}

/// NVMe status values (status code type 0, generic command status) used by discovery.
pub const NVME_SC_SUCCESS: u16 = 0x0000;
pub const NVME_SC_INVALID_OPCODE: u16 = 0x0001;
pub const NVME_SC_INVALID_FIELD: u16 = 0x0002;
/// Do Not Retry, as Linux passes it up (bit 14 of the shifted status).
pub const NVME_DNR: u16 = 0x4000;

impl NvmeCompletion {
    pub fn is_success(&self) -> bool {
        self.code() == NVME_SC_SUCCESS
    }

    /// Status code type and status code (bits 10:0), without retry hints.
    pub fn code(&self) -> u16 {
        self.status & 0x07ff
    }
}

/// NVMe admin commands on a controller, or a fake.
pub trait NvmeAdmin {
    fn admin(
        &mut self,
        cmd: &NvmeAdminCommand,
        data: DataDir<'_>,
        timeout: Duration,
    ) -> Result<NvmeCompletion, TransportError>;
}

impl<T: ScsiTransport + ?Sized> ScsiTransport for &mut T {
    fn scsi(
        &mut self,
        cdb: &[u8],
        data: DataDir<'_>,
        timeout: Duration,
    ) -> Result<ScsiOutcome, TransportError> {
        (**self).scsi(cdb, data, timeout)
    }
}

impl<T: NvmeAdmin + ?Sized> NvmeAdmin for &mut T {
    fn admin(
        &mut self,
        cmd: &NvmeAdminCommand,
        data: DataDir<'_>,
        timeout: Duration,
    ) -> Result<NvmeCompletion, TransportError> {
        (**self).admin(cmd, data, timeout)
    }
}
