//! SCSI sense data: fixed (0x70/0x71) and descriptor (0x72/0x73) formats (SPC-4 §4.5), and the
//! ATA registers a SAT layer returns in them (SAT-4 §12.2).
//!
//! Linux libata answers a failed ATA PASS-THROUGH with FIXED-format sense unless the device's
//! D_SENSE bit is set, which it is not by default; hdparm and nwipe only look for the
//! descriptor-format ATA Status Return descriptor and misread those answers. Fixed format carries
//! the ATA ERROR/STATUS/DEVICE/COUNT(7:0) in the INFORMATION field (bytes 3-6) and the LBA(23:0)
//! plus three flag bits in COMMAND-SPECIFIC INFORMATION (bytes 8-11). Kernels before the 2024
//! libata fix "Fix offsets for the fixed format sense data" wrote the same registers five bytes
//! late (from byte 8), without setting VALID; both layouts are decoded.

use super::ata::AtaRegisters;

/// Sense keys (SPC-4 table 28) that discovery tells apart.
pub const NO_SENSE: u8 = 0x0;
pub const RECOVERED_ERROR: u8 = 0x1;
pub const NOT_READY: u8 = 0x2;
pub const ILLEGAL_REQUEST: u8 = 0x5;
pub const ABORTED_COMMAND: u8 = 0xB;
/// ASC 0x20: INVALID COMMAND OPERATION CODE; 0x24: INVALID FIELD IN CDB.
pub const ASC_INVALID_OPCODE: u8 = 0x20;
pub const ASC_INVALID_FIELD_IN_CDB: u8 = 0x24;

/// ATA Status Return sense data descriptor (SAT-4 §12.2.2.7).
const ATA_STATUS_RETURN: u8 = 0x09;
/// Sense key specific sense data descriptor (SPC-4 §4.5.2.4).
const SENSE_KEY_SPECIFIC: u8 = 0x02;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenseFormat {
    Fixed,
    Descriptor,
}

/// Decoded sense data. The raw bytes are kept for the SAT register layouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sense {
    pub format: SenseFormat,
    /// False for deferred errors (0x71/0x73): about an earlier command.
    pub current: bool,
    pub key: u8,
    pub asc: u8,
    pub ascq: u8,
    raw: Vec<u8>,
}

impl Sense {
    /// Decode sense bytes; `None` when they hold no recognisable sense (empty, too short,
    /// unknown response code). Never panics on any input.
    pub fn parse(bytes: &[u8]) -> Option<Sense> {
        let code = *bytes.first()? & 0x7f;
        let (format, current) = match code {
            0x70 => (SenseFormat::Fixed, true),
            0x71 => (SenseFormat::Fixed, false),
            0x72 => (SenseFormat::Descriptor, true),
            0x73 => (SenseFormat::Descriptor, false),
            _ => return None,
        };
        let (key, asc, ascq) = match format {
            SenseFormat::Fixed => (
                bytes.get(2)? & 0x0f,
                bytes.get(12).copied().unwrap_or(0),
                bytes.get(13).copied().unwrap_or(0),
            ),
            SenseFormat::Descriptor => (bytes.get(1)? & 0x0f, *bytes.get(2)?, *bytes.get(3)?),
        };
        Some(Sense {
            format,
            current,
            key,
            asc,
            ascq,
            raw: bytes.to_vec(),
        })
    }

    /// The descriptor with `code`, for descriptor-format sense (bounded by the additional length
    /// and by the buffer, whichever is shorter).
    fn descriptor(&self, code: u8) -> Option<&[u8]> {
        if self.format != SenseFormat::Descriptor {
            return None;
        }
        let additional = usize::from(*self.raw.get(7)?);
        let end = (8 + additional).min(self.raw.len());
        let mut at = 8;
        while at + 2 <= end {
            let len = 2 + usize::from(self.raw[at + 1]);
            let desc = self.raw.get(at..(at + len).min(end))?;
            if desc[0] == code {
                return Some(desc);
            }
            at += len;
        }
        None
    }

    /// The ATA registers a SAT layer returned for an ATA PASS-THROUGH command.
    ///
    /// Descriptor format: the ATA Status Return descriptor. Fixed format: INFORMATION and
    /// COMMAND-SPECIFIC INFORMATION per SAT, or the pre-2024 libata layout (see the module
    /// comment), told apart by the VALID bit and by where a non-zero STATUS sits (a drive that
    /// answered always has DRDY or ERR set).
    pub fn ata_registers(&self) -> Option<AtaRegisters> {
        match self.format {
            SenseFormat::Descriptor => {
                let d = self.descriptor(ATA_STATUS_RETURN)?;
                if d.len() < 14 {
                    return None;
                }
                let extended = d[2] & 0x01 != 0;
                let count = if extended {
                    u16::from_be_bytes([d[4], d[5]])
                } else {
                    u16::from(d[5])
                };
                let hi = if extended {
                    [d[10], d[8], d[6]]
                } else {
                    [0, 0, 0]
                };
                let lba = u64::from_be_bytes([0, 0, hi[0], hi[1], hi[2], d[11], d[9], d[7]]);
                Some(AtaRegisters {
                    error: d[3],
                    status: d[13],
                    device: d[12],
                    count,
                    lba,
                    extended,
                    high_bytes_missing: false,
                })
            }
            SenseFormat::Fixed => {
                let b = &self.raw;
                let valid = b.first().is_some_and(|v| v & 0x80 != 0);
                let sat = valid || b.get(4).is_some_and(|s| *s != 0);
                let (info, csi) = if sat {
                    (3, 8)
                } else if b.get(9).is_some_and(|s| *s != 0) {
                    (8, 16)
                } else {
                    return None;
                };
                let r = b.get(info..info + 4)?;
                let flags = b.get(csi).copied().unwrap_or(0);
                let low = b.get(csi + 1..csi + 4).unwrap_or(&[0, 0, 0]);
                let extended = flags & 0x80 != 0;
                Some(AtaRegisters {
                    error: r[0],
                    status: r[1],
                    device: r[2],
                    count: u16::from(r[3]),
                    lba: u64::from(low[0]) | u64::from(low[1]) << 8 | u64::from(low[2]) << 16,
                    extended,
                    // COUNT_UPPER_NONZERO / LBA_UPPER_NONZERO: the bytes exist but fixed
                    // format has no room for them.
                    high_bytes_missing: flags & 0x60 != 0,
                })
            }
        }
    }

    /// Progress of a long operation (sanitize, format) in 1/65536ths, when the sense-key
    /// specific field carries one (SPC-4 §4.5.2.4.4).
    pub fn progress(&self) -> Option<u16> {
        let sks = match self.format {
            SenseFormat::Fixed => self.raw.get(15..18)?,
            SenseFormat::Descriptor => self.descriptor(SENSE_KEY_SPECIFIC)?.get(4..7)?,
        };
        let progress_key = matches!(self.key, NO_SENSE | NOT_READY);
        (progress_key && sks[0] & 0x80 != 0).then(|| u16::from_be_bytes([sks[1], sks[2]]))
    }

    /// "KEY/ASC/ASCQ" as sg3_utils prints it, for messages.
    pub fn summary(&self) -> String {
        format!(
            "sense key {:#x}, ASC/ASCQ {:02x}/{:02x}",
            self.key, self.asc, self.ascq
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every array below is written from the spec tables (SPC-4 tables 27/48, SAT-4 tables 190
    // and 193) or from libata-scsi.c's ata_gen_passthru_sense, byte by byte.

    #[test]
    fn libata_fixed_sense_for_an_aborted_command() {
        // VALID|0x70; key ABORTED COMMAND; INFORMATION = ERROR 04 (ABRT), STATUS 41
        // (DRDY|ERR), DEVICE 40, COUNT 00; additional length 0x0a; ASC/ASCQ 00/00.
        let sb = [
            0xf0, 0x00, 0x0b, 0x04, 0x41, 0x40, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,
        ];
        let s = Sense::parse(&sb).unwrap();
        assert_eq!(s.format, SenseFormat::Fixed);
        assert!(s.current);
        assert_eq!((s.key, s.asc, s.ascq), (ABORTED_COMMAND, 0, 0));
        let r = s.ata_registers().unwrap();
        assert_eq!((r.error, r.status, r.device), (0x04, 0x41, 0x40));
        assert!(r.is_error() && r.aborted());
        assert!(!r.high_bytes_missing);
    }

    #[test]
    fn legacy_libata_fixed_layout_five_bytes_late() {
        // Before the 2024 fix: desc = sb + 8, so ERROR at 8, STATUS 9, DEVICE 10, COUNT 11,
        // flags at 16, LBA(7:0..23:16) at 17..19; ASC/ASCQ 00/1D at 12/13 by scsi_build_sense.
        let mut sb = [0u8; 32];
        sb[0] = 0x70;
        sb[2] = RECOVERED_ERROR;
        sb[7] = 0x0a;
        sb[8] = 0x00;
        sb[9] = 0x50;
        sb[10] = 0x40;
        sb[11] = 0x01;
        sb[12] = 0x00;
        sb[13] = 0x1d;
        sb[16] = 0x80; // EXTEND, upper bytes all zero
        sb[17] = 0xaf;
        sb[18] = 0xff;
        sb[19] = 0x3f;
        let s = Sense::parse(&sb).unwrap();
        assert_eq!((s.key, s.asc, s.ascq), (RECOVERED_ERROR, 0x00, 0x1d));
        let r = s.ata_registers().unwrap();
        assert_eq!((r.error, r.status, r.device, r.count), (0, 0x50, 0x40, 1));
        assert_eq!(r.lba, 0x3f_ffaf);
        assert!(r.extended && !r.high_bytes_missing && !r.is_error());
    }

    #[test]
    fn sat_fixed_layout_flags_lost_high_bytes() {
        // CSI byte 8: EXTEND 0x80 | LBA_UPPER_NONZERO 0x20; LBA(23:0) = 0x123456.
        let sb = [
            0xf0, 0x00, 0x01, 0x00, 0x50, 0x40, 0x00, 0x0a, 0xa0, 0x56, 0x34, 0x12, 0x00, 0x1d,
            0x00, 0x00, 0x00, 0x00,
        ];
        let r = Sense::parse(&sb).unwrap().ata_registers().unwrap();
        assert_eq!(r.lba, 0x12_3456);
        assert!(r.extended && r.high_bytes_missing);
    }

    #[test]
    fn descriptor_sense_with_ata_status_return() {
        // 0x72, key RECOVERED ERROR, ASC/ASCQ 00/1D, additional length 14; descriptor 09 0c:
        // EXTEND=1, ERROR 00, COUNT 15:8 00 7:0 01, LBA 31:24 0x00 7:0 0xaf, 39:32 0x01
        // 15:8 0xff, 47:40 0x00 23:16 0x3f, DEVICE 0x40, STATUS 0x50.
        let sb = [
            0x72, 0x01, 0x00, 0x1d, 0x00, 0x00, 0x00, 0x0e, 0x09, 0x0c, 0x01, 0x00, 0x00, 0x01,
            0x00, 0xaf, 0x01, 0xff, 0x00, 0x3f, 0x40, 0x50,
        ];
        let s = Sense::parse(&sb).unwrap();
        assert_eq!(s.format, SenseFormat::Descriptor);
        assert_eq!((s.key, s.asc, s.ascq), (RECOVERED_ERROR, 0x00, 0x1d));
        let r = s.ata_registers().unwrap();
        assert_eq!(r.lba, 0x01_003f_ffaf);
        assert_eq!((r.count, r.device, r.status), (1, 0x40, 0x50));
        assert!(r.extended && !r.is_error());
    }

    #[test]
    fn descriptor_sense_without_ata_descriptor_has_no_registers() {
        // ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE, no descriptors.
        let sb = [0x72, 0x05, 0x20, 0x00, 0, 0, 0, 0];
        let s = Sense::parse(&sb).unwrap();
        assert_eq!((s.key, s.asc), (ILLEGAL_REQUEST, ASC_INVALID_OPCODE));
        assert!(s.ata_registers().is_none());
    }

    #[test]
    fn deferred_and_unknown_codes() {
        assert!(!Sense::parse(&[0x71, 0, 0x02]).unwrap().current);
        assert!(Sense::parse(&[0x7f, 0, 0]).is_none());
        assert!(Sense::parse(&[]).is_none());
        assert!(Sense::parse(&[0x72]).is_none());
    }

    #[test]
    fn progress_indication() {
        // NOT READY, 04/1B sanitize in progress, SKSV=1, progress 0x8000 (50 %).
        let fixed = [
            0x70, 0, 0x02, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x04, 0x1b, 0, 0x80, 0x80, 0x00,
        ];
        assert_eq!(Sense::parse(&fixed).unwrap().progress(), Some(0x8000));
        let desc = [
            0x72, 0x02, 0x04, 0x1b, 0, 0, 0, 0x08, 0x02, 0x06, 0, 0, 0x80, 0x40, 0x00, 0,
        ];
        assert_eq!(Sense::parse(&desc).unwrap().progress(), Some(0x4000));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 64) as usize;
            let mut buf: Vec<u8> = (0..len).map(|i| (x >> (i % 8 * 8)) as u8).collect();
            if let Some(b) = buf.first_mut() {
                *b = 0x70 | (x >> 3) as u8 & 0x83;
            }
            if let Some(s) = Sense::parse(&buf) {
                let _ = (s.ata_registers(), s.progress(), s.summary());
            }
        }
    }
}
