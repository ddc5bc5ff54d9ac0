//! NVMe admin commands discovery sends, and what the controller's answers mean (NVMe Base
//! Specification 2.0: Identify figures 275-276, SMART / Health log figure 207, Sanitize Status
//! log figure 291).

use super::super::transport::NvmeAdminCommand;
use super::ascii_field;

pub const IDENTIFY_LEN: usize = 4096;
pub const LOG_SMART: u8 = 0x02;
pub const LOG_SANITIZE: u8 = 0x81;
/// The global namespace: controller-wide logs.
pub const NSID_ALL: u32 = 0xffff_ffff;

/// Identify (opcode 0x06), CNS 0x01: the controller data structure.
pub fn identify_controller() -> NvmeAdminCommand {
    NvmeAdminCommand {
        opcode: 0x06,
        cdw10: 0x01,
        ..NvmeAdminCommand::default()
    }
}

/// Identify (opcode 0x06), CNS 0x00: namespace `nsid`'s data structure.
pub fn identify_namespace(nsid: u32) -> NvmeAdminCommand {
    NvmeAdminCommand {
        opcode: 0x06,
        nsid,
        cdw10: 0x00,
        ..NvmeAdminCommand::default()
    }
}

/// Get Log Page (opcode 0x02) of `len` bytes (a multiple of 4, at least 4). CDW10: LID 7:0,
/// RAE 15 (retain the asynchronous event, so looking does not consume a notification the host
/// may be waiting for), NUMDL 31:16; CDW11: NUMDU 15:0 (number of dwords minus one).
pub fn get_log_page(lid: u8, nsid: u32, len: usize) -> NvmeAdminCommand {
    let numd = (len / 4).saturating_sub(1) as u32;
    NvmeAdminCommand {
        opcode: 0x02,
        nsid,
        cdw10: (numd & 0xffff) << 16 | 1 << 15 | u32::from(lid),
        cdw11: numd >> 16,
        ..NvmeAdminCommand::default()
    }
}

/// Format NVM (opcode 0x80) of namespace `nsid` to LBA format `lbaf_index` (0..=63) with
/// Secure Erase Settings `ses` (0 none, 1 user data erase, 2 cryptographic erase). CDW10
/// (NVMe 2.0 figure "Format NVM - Command Dword 10"): LBAF 3:0 = index bits 3:0, MSET 4 = 0,
/// PI 7:5 = 0, PIL 8 = 0, SES 11:9, LBAFU 13:12 = index bits 5:4.
pub fn format_nvm(nsid: u32, lbaf_index: u8, ses: u8) -> NvmeAdminCommand {
    let lbaf = u32::from(lbaf_index & 0x0f);
    let lbafu = u32::from((lbaf_index >> 4) & 0x03);
    NvmeAdminCommand {
        opcode: 0x80,
        nsid,
        cdw10: lbafu << 12 | u32::from(ses & 0x07) << 9 | lbaf,
        ..NvmeAdminCommand::default()
    }
}

/// Sanitize Action (SANACT, CDW10 bits 2:0) of the Sanitize command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NvmeSanitizeAction {
    ExitFailureMode = 1,
    BlockErase = 2,
    Overwrite = 3,
    CryptoErase = 4,
}

/// Sanitize (opcode 0x84), always for the whole NVM subsystem (NSID 0). CDW10 (NVMe 2.0
/// figure "Sanitize - Command Dword 10"): SANACT 2:0, AUSE 3, OWPASS 7:4, OIPBP 8 = 0, NDAS 9;
/// CDW11: the overwrite pattern.
///
/// `owpass` and `pattern` only mean something for [`NvmeSanitizeAction::Overwrite`] and are
/// sent as 0 otherwise. For an overwrite `owpass` is clamped to 1..=16 (16 is encoded as 0;
/// 0 would silently mean 16 on the wire).
pub fn sanitize(
    action: NvmeSanitizeAction,
    ause: bool,
    no_dealloc: bool,
    owpass: u8,
    pattern: u32,
) -> NvmeAdminCommand {
    let (owpass, pattern) = match action {
        NvmeSanitizeAction::Overwrite => (u32::from(owpass.clamp(1, 16)) & 0x0f, pattern),
        _ => (0, 0),
    };
    NvmeAdminCommand {
        opcode: 0x84,
        nsid: 0,
        cdw10: u32::from(no_dealloc) << 9 | owpass << 4 | u32::from(ause) << 3 | action as u32,
        cdw11: pattern,
        ..NvmeAdminCommand::default()
    }
}

/// Get Log Page for the Sanitize Status log (LID 0x81, 512 bytes, global, RAE set).
pub fn sanitize_log() -> NvmeAdminCommand {
    get_log_page(LOG_SANITIZE, NSID_ALL, SANITIZE_LOG_LEN)
}

pub const SANITIZE_LOG_LEN: usize = 512;

fn bytes<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = buf.get(at..at + N) {
        out.copy_from_slice(s);
    }
    out
}

fn le16(buf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(bytes(buf, at))
}

fn le32(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes(buf, at))
}

fn le64(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes(buf, at))
}

/// A 128-bit counter, saturated to u64 (2^64 units of anything is far beyond a real drive).
fn le128_saturating(buf: &[u8], at: usize) -> u64 {
    u64::try_from(u128::from_le_bytes(bytes(buf, at))).unwrap_or(u64::MAX)
}

/// The Identify Controller fields massho uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NvmeIdentifyController {
    pub serial: String,
    pub model: String,
    pub firmware: String,
    /// Optional Admin Command Support, offset 0x100 (bit 1: Format NVM).
    pub oacs: u16,
    /// Sanitize Capabilities, offset 0x148 (bit 0 crypto, 1 block, 2 overwrite).
    pub sanicap: u32,
    /// Format NVM Attributes, offset 0x20C (bit 0: format applies to all namespaces, bit 2:
    /// crypto erase supported).
    pub fna: u8,
}

impl NvmeIdentifyController {
    pub fn parse(buf: &[u8]) -> Option<NvmeIdentifyController> {
        if buf.len() < IDENTIFY_LEN {
            return None;
        }
        Some(NvmeIdentifyController {
            serial: ascii_field(buf, 4..24),
            model: ascii_field(buf, 24..64),
            firmware: ascii_field(buf, 64..72),
            oacs: le16(buf, 0x100),
            sanicap: le32(buf, 0x148),
            fna: buf[0x20c],
        })
    }

    pub fn format_supported(&self) -> bool {
        self.oacs & 0x0002 != 0
    }
}

/// The Identify Namespace fields massho uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NvmeIdentifyNamespace {
    /// Namespace size in logical blocks.
    pub nsze: u64,
    /// The LBA size in use, from FLBAS and the LBA format list (2^LBADS bytes).
    pub lba_size: Option<u32>,
    /// The LBA format index in use (FLBAS bits 3:0, and 6:5 as bits 5:4), whether or not the
    /// format list describes it: what Format NVM must be given to keep the current format.
    pub flbas_index: u8,
    /// DLFEAT (byte 33): what reads of deallocated blocks return (bits 2:0), and more.
    pub dlfeat: u8,
}

/// What a read of a deallocated logical block returns (DLFEAT bits 2:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeallocatedReads {
    /// 000b, or a reserved value: the controller does not say.
    NotReported,
    /// 001b: every byte 0x00.
    Zeros,
    /// 010b: every byte 0xFF.
    Ones,
}

impl NvmeIdentifyNamespace {
    pub fn parse(buf: &[u8]) -> Option<NvmeIdentifyNamespace> {
        if buf.len() < IDENTIFY_LEN {
            return None;
        }
        let nlbaf = usize::from(buf[25]); // zero-based count
        let flbas = buf[26];
        // FLBAS bits 3:0, and bits 6:5 as the upper bits when more than 16 formats exist.
        let flbas_index = flbas & 0x0f | ((flbas >> 5) & 0x03) << 4;
        let index = usize::from(flbas_index);
        let lba_size = (index <= nlbaf && index < 64)
            .then(|| buf[128 + index * 4 + 2])
            .filter(|lbads| (9..=31).contains(lbads))
            .map(|lbads| 1u32 << lbads);
        Some(NvmeIdentifyNamespace {
            nsze: le64(buf, 0),
            lba_size,
            flbas_index,
            dlfeat: buf[33],
        })
    }

    pub fn deallocated_reads(&self) -> DeallocatedReads {
        match self.dlfeat & 0x07 {
            0b001 => DeallocatedReads::Zeros,
            0b010 => DeallocatedReads::Ones,
            _ => DeallocatedReads::NotReported,
        }
    }
}

/// SMART / Health Information log (LID 0x02).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NvmeSmartLog {
    pub critical_warning: u8,
    pub percentage_used: u8,
    pub power_on_hours: u64,
    pub media_errors: u64,
}

impl NvmeSmartLog {
    pub fn parse(buf: &[u8]) -> Option<NvmeSmartLog> {
        if buf.len() < 512 {
            return None;
        }
        Some(NvmeSmartLog {
            critical_warning: buf[0],
            percentage_used: buf[5],
            power_on_hours: le128_saturating(buf, 128),
            media_errors: le128_saturating(buf, 160),
        })
    }
}

/// Sanitize Status log (LID 0x81).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NvmeSanitizeLog {
    /// SPROG: progress in 1/65536ths.
    pub progress: u16,
    /// SSTAT bits 2:0.
    pub state: NvmeSanitizeState,
    pub overwrite_passes: u8,
    pub global_data_erased: bool,
    /// Estimated seconds for overwrite, block erase, crypto erase (`None` = no estimate).
    pub estimate_overwrite: Option<u32>,
    pub estimate_block: Option<u32>,
    pub estimate_crypto: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NvmeSanitizeState {
    #[default]
    NeverSanitized,
    Succeeded,
    InProgress,
    Failed,
    SucceededNoDeallocate,
    Reserved(u8),
}

impl NvmeSanitizeLog {
    pub fn parse(buf: &[u8]) -> Option<NvmeSanitizeLog> {
        if buf.len() < 32 {
            return None;
        }
        let sstat = le16(buf, 2);
        let estimate = |at| Some(le32(buf, at)).filter(|v| *v != u32::MAX);
        Some(NvmeSanitizeLog {
            progress: le16(buf, 0),
            state: match sstat & 0x7 {
                0 => NvmeSanitizeState::NeverSanitized,
                1 => NvmeSanitizeState::Succeeded,
                2 => NvmeSanitizeState::InProgress,
                3 => NvmeSanitizeState::Failed,
                4 => NvmeSanitizeState::SucceededNoDeallocate,
                other => NvmeSanitizeState::Reserved(other as u8),
            },
            overwrite_passes: ((sstat >> 3) & 0x1f) as u8,
            global_data_erased: sstat & 0x100 != 0,
            estimate_overwrite: estimate(8),
            estimate_block: estimate(12),
            estimate_crypto: estimate(16),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_dwords_match_the_spec() {
        // (opcode, nsid, cdw10, cdw11) written from the NVMe base spec figures.
        assert_eq!(
            identify_controller(),
            NvmeAdminCommand {
                opcode: 0x06,
                cdw10: 0x0000_0001,
                ..Default::default()
            }
        );
        let ns = identify_namespace(1);
        assert_eq!((ns.opcode, ns.nsid, ns.cdw10), (0x06, 1, 0));
        // SMART log, 512 bytes: NUMD = 127 = 0x7f -> CDW10 = 0x007f_8002 (RAE set).
        let smart = get_log_page(LOG_SMART, NSID_ALL, 512);
        assert_eq!(
            (smart.opcode, smart.nsid, smart.cdw10, smart.cdw11),
            (0x02, 0xffff_ffff, 0x007f_8002, 0)
        );
        let san = get_log_page(LOG_SANITIZE, NSID_ALL, 512);
        assert_eq!(san.cdw10, 0x007f_8081);
        // 256 KiB: NUMD = 65535 -> NUMDL 0xffff, NUMDU 0.
        let big = get_log_page(LOG_SMART, 0, 262_144);
        assert_eq!((big.cdw10 >> 16, big.cdw11), (0xffff, 0));
        let bigger = get_log_page(LOG_SMART, 0, 262_148);
        assert_eq!((bigger.cdw10 >> 16, bigger.cdw11), (0x0000, 1));
    }

    #[test]
    fn purge_command_dwords_match_the_spec() {
        // Format NVM, NVMe Base 2.0 figure "Format NVM - Command Dword 10": LBAF 3:0, MSET 4,
        // PI 7:5, PIL 8, SES 11:9, LBAFU 13:12. Index 0, SES 1 (user data erase) = 0x0000_0200; index 0x13 (19: LBAFU
        // 01b, LBAF 0011b), SES 2 = 0x1000 | 0x0400 | 0x3 = 0x0000_1403.
        assert_eq!(
            format_nvm(1, 0, 1),
            NvmeAdminCommand {
                opcode: 0x80,
                nsid: 1,
                cdw10: 0x0000_0200,
                ..Default::default()
            }
        );
        assert_eq!(format_nvm(1, 0x13, 2).cdw10, 0x0000_1403);
        assert_eq!(format_nvm(0xffff_ffff, 2, 0).cdw10, 0x0000_0002);
        // Sanitize, NVMe Base 2.0 figures "Sanitize - Command Dword 10/11": CDW10 SANACT 2:0,
        // AUSE 3, OWPASS 7:4, OIPBP 8, NDAS 9; CDW11 OVRPAT; NSID 0.
        // (command, cdw10, cdw11)
        let table = [
            (
                sanitize(NvmeSanitizeAction::CryptoErase, false, false, 0, 0),
                0x0000_0004,
                0,
            ),
            (
                sanitize(NvmeSanitizeAction::CryptoErase, true, true, 0, 0),
                0x0000_020c,
                0,
            ),
            (
                sanitize(NvmeSanitizeAction::BlockErase, true, false, 5, 0xffff_ffff),
                0x0000_000a,
                0,
            ),
            (
                sanitize(NvmeSanitizeAction::ExitFailureMode, false, false, 0, 0),
                0x0000_0001,
                0,
            ),
            (
                sanitize(NvmeSanitizeAction::Overwrite, false, false, 3, 0xa5a5_5a5a),
                0x0000_0033,
                0xa5a5_5a5a,
            ),
            // 16 passes -> OWPASS 0; 0 passes clamped to 1.
            (
                sanitize(NvmeSanitizeAction::Overwrite, true, true, 16, 0),
                0x0000_020b,
                0,
            ),
            (
                sanitize(NvmeSanitizeAction::Overwrite, false, false, 0, 0),
                0x0000_0013,
                0,
            ),
        ];
        for (c, cdw10, cdw11) in table {
            assert_eq!(
                (c.opcode, c.nsid, c.cdw10, c.cdw11),
                (0x84, 0, cdw10, cdw11)
            );
        }
        let log = sanitize_log();
        assert_eq!(
            (log.opcode, log.nsid, log.cdw10, log.cdw11),
            (0x02, 0xffff_ffff, 0x007f_8081, 0)
        );
    }

    #[test]
    fn identify_namespace_dlfeat_and_format_index() {
        let mut buf = vec![0u8; IDENTIFY_LEN];
        buf[25] = 19; // 20 formats
        buf[26] = 0x23; // FLBAS: bits 3:0 = 3, bits 6:5 = 01b -> index 19
        buf[128 + 19 * 4 + 2] = 12;
        for (dlfeat, reads) in [
            (0x00, DeallocatedReads::NotReported),
            (0x09, DeallocatedReads::Zeros), // bit 3 (Write Zeroes deallocates) + 001b
            (0x02, DeallocatedReads::Ones),
            (0x03, DeallocatedReads::NotReported), // reserved
        ] {
            buf[33] = dlfeat;
            let ns = NvmeIdentifyNamespace::parse(&buf).unwrap();
            assert_eq!((ns.flbas_index, ns.dlfeat), (19, dlfeat));
            assert_eq!(ns.lba_size, Some(4096));
            assert_eq!(ns.deallocated_reads(), reads);
        }
    }

    #[test]
    fn identify_controller_offsets() {
        let mut buf = vec![0u8; IDENTIFY_LEN];
        buf[4..24].copy_from_slice(b"S4EWNX0R123456      ");
        buf[24..64].copy_from_slice(&[b' '; 40]);
        buf[24..46].copy_from_slice(b"Samsung SSD 980 1TB   ");
        buf[64..72].copy_from_slice(b"2B4QFXO7");
        buf[0x100] = 0x17; // OACS: security, format, firmware, NS mgmt
        buf[0x148] = 0x07; // SANICAP: crypto, block, overwrite
        buf[0x20c] = 0x05; // FNA: all namespaces, crypto erase
        let c = NvmeIdentifyController::parse(&buf).unwrap();
        assert_eq!(c.serial, "S4EWNX0R123456");
        assert_eq!(c.model, "Samsung SSD 980 1TB");
        assert_eq!(c.firmware, "2B4QFXO7");
        assert_eq!((c.oacs, c.sanicap, c.fna), (0x17, 7, 5));
        assert!(c.format_supported());
        // Read at the right offsets: a value planted at 0x200 (a known public mistake) is not
        // SANICAP.
        buf[0x148] = 0;
        buf[0x200] = 0x07;
        assert_eq!(NvmeIdentifyController::parse(&buf).unwrap().sanicap, 0);
        assert!(NvmeIdentifyController::parse(&buf[..4095]).is_none());
    }

    #[test]
    fn identify_namespace_lba_format() {
        let mut buf = vec![0u8; IDENTIFY_LEN];
        buf[0..8].copy_from_slice(&2_097_152u64.to_le_bytes());
        buf[25] = 1; // two formats
        buf[26] = 0x01; // in use: format 1
        buf[128 + 2] = 9; // format 0: 512
        buf[132 + 2] = 12; // format 1: 4096
        let ns = NvmeIdentifyNamespace::parse(&buf).unwrap();
        assert_eq!(ns.nsze, 2_097_152);
        assert_eq!(ns.lba_size, Some(4096));
        buf[26] = 0x05; // index beyond NLBAF
        assert_eq!(NvmeIdentifyNamespace::parse(&buf).unwrap().lba_size, None);
    }

    #[test]
    fn smart_and_sanitize_logs() {
        let mut buf = vec![0u8; 512];
        buf[0] = 0x04; // reliability degraded
        buf[5] = 17;
        buf[128..136].copy_from_slice(&12_345u64.to_le_bytes());
        buf[160..168].copy_from_slice(&2u64.to_le_bytes());
        let s = NvmeSmartLog::parse(&buf).unwrap();
        assert_eq!(
            (
                s.critical_warning,
                s.percentage_used,
                s.power_on_hours,
                s.media_errors
            ),
            (4, 17, 12_345, 2)
        );
        buf[175] = 1; // beyond u64
        assert_eq!(NvmeSmartLog::parse(&buf).unwrap().media_errors, u64::MAX);

        let mut log = vec![0u8; 512];
        log[0..2].copy_from_slice(&0x8000u16.to_le_bytes());
        log[2..4].copy_from_slice(&(0x0100u16 | 2 << 3 | 2).to_le_bytes());
        log[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        log[12..16].copy_from_slice(&60u32.to_le_bytes());
        log[16..20].copy_from_slice(&5u32.to_le_bytes());
        let l = NvmeSanitizeLog::parse(&log).unwrap();
        assert_eq!(l.state, NvmeSanitizeState::InProgress);
        assert_eq!((l.progress, l.overwrite_passes), (0x8000, 2));
        assert!(l.global_data_erased);
        assert_eq!(
            (l.estimate_overwrite, l.estimate_block, l.estimate_crypto),
            (None, Some(60), Some(5))
        );
    }

    #[test]
    fn parsers_survive_random_bytes() {
        for buf in crate::device::transport::fake::random_buffers(500, 4200) {
            let _ = NvmeIdentifyController::parse(&buf);
            let _ = NvmeIdentifyNamespace::parse(&buf);
            let _ = NvmeSmartLog::parse(&buf);
            let _ = NvmeSanitizeLog::parse(&buf);
        }
    }
}
