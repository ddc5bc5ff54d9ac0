//! ATA taskfiles, and how they ride in SCSI: SAT's ATA PASS-THROUGH (16) and (12) CDBs.
//!
//! [`AtaOverScsi`] turns any [`ScsiTransport`] into an [`AtaTransport`]: libata's SATL for SATA
//! disks, a USB-SATA bridge, or a fake. Non-data commands are sent with CK_COND so the drive's
//! output registers come back in sense data even on success (READ NATIVE MAX and SANITIZE STATUS
//! answer only in registers); data commands are not, since some bridges then fail the transfer,
//! and a failure returns the registers anyway.

use std::time::Duration;

use super::sense::{self, Sense};
use super::{DataDir, ScsiTransport, TransportError, SCSI_CHECK_CONDITION, SCSI_GOOD};

/// ATA STATUS bits (ACS-4 §6.2).
pub const STATUS_ERR: u8 = 0x01;
pub const STATUS_DF: u8 = 0x20;
pub const STATUS_DRDY: u8 = 0x40;
/// ATA ERROR bit ABORT.
pub const ERROR_ABRT: u8 = 0x04;

/// SAT PROTOCOL field values (SAT-4 table 174) for the protocols discovery and purge use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtaProtocol {
    NonData,
    PioIn,
    PioOut,
    Dma,
}

impl AtaProtocol {
    pub fn sat_code(self) -> u8 {
        match self {
            AtaProtocol::NonData => 3,
            AtaProtocol::PioIn => 4,
            AtaProtocol::PioOut => 5,
            AtaProtocol::Dma => 6,
        }
    }
}

/// One ATA command: the input registers of ACS's command tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtaCommand {
    pub command: u8,
    pub features: u16,
    pub count: u16,
    /// LBA(47:0); 28-bit commands use bits 23:0 here and bits 27:24 in `device`.
    pub lba: u64,
    pub device: u8,
    pub protocol: AtaProtocol,
    /// A 48-bit command (EXT): the high bytes of FEATURES, COUNT and LBA are sent.
    pub extended: bool,
}

/// The output registers of an ATA command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AtaRegisters {
    pub error: u8,
    pub status: u8,
    pub device: u8,
    pub count: u16,
    pub lba: u64,
    pub extended: bool,
    /// Fixed-format sense said COUNT(15:8) or LBA(47:24) was non-zero but has no room for it:
    /// `count`/`lba` hold only their low bytes.
    pub high_bytes_missing: bool,
}

impl AtaRegisters {
    pub fn is_error(&self) -> bool {
        self.status & (STATUS_ERR | STATUS_DF) != 0
    }

    pub fn aborted(&self) -> bool {
        self.status & STATUS_ERR != 0 && self.error & ERROR_ABRT != 0
    }
}

/// What came back from an ATA command that reached the drive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AtaOutcome {
    /// Output registers, when the transport returned them (always on error through libata,
    /// and on success for CK_COND commands).
    pub registers: Option<AtaRegisters>,
    /// The sense data they came in, for the record.
    pub sense: Option<Sense>,
}

impl AtaOutcome {
    /// The drive reported an error (ERR or DF), or the SATL failed the command without
    /// registers.
    pub fn is_error(&self) -> bool {
        match (&self.registers, &self.sense) {
            (Some(r), _) => r.is_error(),
            (None, Some(s)) => !matches!(s.key, sense::NO_SENSE | sense::RECOVERED_ERROR),
            (None, None) => false,
        }
    }

    /// The drive aborted the command (ERR with ABRT): not supported, or not allowed now.
    pub fn aborted(&self) -> bool {
        self.registers.is_some_and(|r| r.aborted())
    }
}

/// Which SAT CDB carries the taskfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassThrough {
    /// ATA PASS-THROUGH (16), opcode 0x85: 48-bit commands.
    Sixteen,
    /// ATA PASS-THROUGH (12), opcode 0xA1: 28-bit commands only, for bridges that lack (16).
    Twelve,
}

/// The SAT CDB for `cmd` (SAT-4 §12.2.2 / §12.2.3).
pub fn pass_through_cdb(cmd: &AtaCommand, variant: PassThrough) -> Result<Vec<u8>, &'static str> {
    // T_LENGTH 2 = length in COUNT, BYT_BLOK 1 = in 512-byte blocks; T_DIR 1 = from the device.
    let (t_dir, t_length, byt_blok) = match cmd.protocol {
        AtaProtocol::NonData => (0u8, 0u8, 0u8),
        AtaProtocol::PioIn | AtaProtocol::Dma => (1, 2, 1),
        AtaProtocol::PioOut => (0, 2, 1),
    };
    let ck_cond = u8::from(cmd.protocol == AtaProtocol::NonData);
    let byte2 = ck_cond << 5 | t_dir << 3 | byt_blok << 2 | t_length;
    let lba = cmd.lba.to_be_bytes();
    match variant {
        PassThrough::Sixteen => {
            let extend = u8::from(cmd.extended);
            let [f_hi, f_lo] = cmd.features.to_be_bytes();
            let [c_hi, c_lo] = cmd.count.to_be_bytes();
            let (f_hi, c_hi, l_hi) = if cmd.extended {
                (f_hi, c_hi, [lba[4], lba[3], lba[2]])
            } else {
                (0, 0, [0, 0, 0])
            };
            Ok(vec![
                0x85,
                cmd.protocol.sat_code() << 1 | extend,
                byte2,
                f_hi,
                f_lo,
                c_hi,
                c_lo,
                l_hi[0], // LBA 31:24
                lba[7],  // LBA 7:0
                l_hi[1], // LBA 39:32
                lba[6],  // LBA 15:8
                l_hi[2], // LBA 47:40
                lba[5],  // LBA 23:16
                cmd.device,
                cmd.command,
                0,
            ])
        }
        PassThrough::Twelve => {
            if cmd.extended {
                return Err("ATA PASS-THROUGH (12) cannot carry a 48-bit command");
            }
            Ok(vec![
                0xa1,
                cmd.protocol.sat_code() << 1,
                byte2,
                cmd.features.to_be_bytes()[1],
                cmd.count.to_be_bytes()[1],
                lba[7],
                lba[6],
                lba[5],
                cmd.device,
                cmd.command,
                0,
                0,
            ])
        }
    }
}

/// ATA over a SCSI transport through a SAT layer (libata, a USB bridge's SATL).
pub struct AtaOverScsi<S> {
    pub scsi: S,
    pub variant: PassThrough,
    /// For messages.
    pub path: std::path::PathBuf,
}

impl<S: ScsiTransport> AtaOverScsi<S> {
    pub fn new(scsi: S, path: impl Into<std::path::PathBuf>) -> AtaOverScsi<S> {
        AtaOverScsi {
            scsi,
            variant: PassThrough::Sixteen,
            path: path.into(),
        }
    }
}

impl<S: ScsiTransport> super::AtaTransport for AtaOverScsi<S> {
    /// MODE SENSE the Control mode page, and MODE SELECT it back with D_SENSE changed (libata
    /// accepts exactly that change: ata_mselect_control).
    fn set_descriptor_sense(&mut self, on: bool) -> Result<bool, TransportError> {
        use crate::device::drive::scsi;
        let unsupported = |detail: String| TransportError::Unsupported {
            path: self.path.clone(),
            what: "descriptor sense (Control mode page)",
            detail,
        };
        let mut answer = vec![0u8; usize::from(scsi::CONTROL_PAGE_LEN)];
        let out = self.scsi.scsi(
            &scsi::mode_sense_control(),
            DataDir::In(&mut answer),
            Duration::from_secs(10),
        )?;
        if !out.is_good() {
            return Err(unsupported(format!(
                "MODE SENSE: {}",
                out.decoded_sense()
                    .map_or_else(|| format!("status {:#04x}", out.status), |s| s.summary())
            )));
        }
        let page = scsi::control_page(&answer)
            .ok_or_else(|| unsupported("MODE SENSE returned no Control mode page".into()))?;
        let was_on = page.get(2).is_some_and(|b| b & 0x04 != 0);
        if was_on == on {
            return Ok(was_on);
        }
        let params = scsi::control_page_with_d_sense(page, on);
        let out = self.scsi.scsi(
            &scsi::mode_select(params.len() as u16),
            DataDir::Out(&params),
            Duration::from_secs(10),
        )?;
        if !out.is_good() {
            return Err(unsupported(format!(
                "MODE SELECT: {}",
                out.decoded_sense()
                    .map_or_else(|| format!("status {:#04x}", out.status), |s| s.summary())
            )));
        }
        Ok(was_on)
    }

    fn ata(
        &mut self,
        cmd: &AtaCommand,
        data: DataDir<'_>,
        timeout: Duration,
    ) -> Result<AtaOutcome, TransportError> {
        let unsupported = |detail: String| TransportError::Unsupported {
            path: self.path.clone(),
            what: "ATA PASS-THROUGH",
            detail,
        };
        let cdb = pass_through_cdb(cmd, self.variant).map_err(|e| unsupported(e.into()))?;
        let out = self.scsi.scsi(&cdb, data, timeout)?;
        match out.status {
            SCSI_GOOD => Ok(AtaOutcome::default()),
            SCSI_CHECK_CONDITION => {
                let sense = out.decoded_sense();
                if let Some(s) = &sense {
                    // The SCSI layer, not the drive, rejected the CDB: no SAT on this path.
                    if s.key == sense::ILLEGAL_REQUEST
                        && matches!(
                            s.asc,
                            sense::ASC_INVALID_OPCODE | sense::ASC_INVALID_FIELD_IN_CDB
                        )
                    {
                        return Err(unsupported(s.summary()));
                    }
                }
                Ok(AtaOutcome {
                    registers: sense.as_ref().and_then(Sense::ata_registers),
                    sense,
                })
            }
            other => Err(unsupported(format!("SCSI status {other:#04x}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(command: u8, protocol: AtaProtocol, extended: bool) -> AtaCommand {
        AtaCommand {
            command,
            features: 0,
            count: 0,
            lba: 0,
            device: 0,
            protocol,
            extended,
        }
    }

    #[test]
    fn identify_device_cdb() {
        // sg_sat_identify's CDB: 85 08 0e 00 00 00 01 00 00 00 00 00 00 00 ec 00
        // (PIO Data-In, T_DIR, BYT_BLOK, T_LENGTH=COUNT, one block).
        let mut c = cmd(0xec, AtaProtocol::PioIn, false);
        c.count = 1;
        let cdb = pass_through_cdb(&c, PassThrough::Sixteen).unwrap();
        assert_eq!(
            cdb,
            [0x85, 0x08, 0x0e, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xec, 0]
        );
        // (12): a1 08 0e 00 01 00 00 00 00 ec 00 00
        let cdb = pass_through_cdb(&c, PassThrough::Twelve).unwrap();
        assert_eq!(cdb, [0xa1, 0x08, 0x0e, 0, 1, 0, 0, 0, 0, 0xec, 0, 0]);
    }

    #[test]
    fn non_data_ext_command_sets_ck_cond_and_spreads_the_lba() {
        // SANITIZE DEVICE / CRYPTO SCRAMBLE EXT: feature 0x0011, LBA 0x43727970 ("Cryp").
        // Byte 1: protocol 3 << 1 | EXTEND = 0x07; byte 2: CK_COND = 0x20.
        let mut c = cmd(0xb4, AtaProtocol::NonData, true);
        c.features = 0x0011;
        c.lba = 0x0000_4372_7970;
        c.device = 0x40;
        let cdb = pass_through_cdb(&c, PassThrough::Sixteen).unwrap();
        assert_eq!(
            cdb,
            [
                0x85, 0x07, 0x20, 0x00, 0x11, 0x00, 0x00, 0x43, 0x70, 0x00, 0x79, 0x00, 0x72, 0x40,
                0xb4, 0x00
            ]
        );
        assert!(pass_through_cdb(&c, PassThrough::Twelve).is_err());
    }

    #[test]
    fn pio_out_direction() {
        // SECURITY SET PASSWORD: PIO Data-Out, one block: byte 1 = 5 << 1, byte 2 = 0x06.
        let mut c = cmd(0xf1, AtaProtocol::PioOut, false);
        c.count = 1;
        let cdb = pass_through_cdb(&c, PassThrough::Sixteen).unwrap();
        assert_eq!(&cdb[..3], &[0x85, 0x0a, 0x06]);
        assert_eq!(cdb[14], 0xf1);
    }
}
