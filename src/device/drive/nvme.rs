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
}

impl NvmeIdentifyNamespace {
    pub fn parse(buf: &[u8]) -> Option<NvmeIdentifyNamespace> {
        if buf.len() < IDENTIFY_LEN {
            return None;
        }
        let nlbaf = usize::from(buf[25]); // zero-based count
        let flbas = buf[26];
        // FLBAS bits 3:0, and bits 6:5 as the upper bits when more than 16 formats exist.
        let index = usize::from(flbas & 0x0f) | usize::from((flbas >> 5) & 0x03) << 4;
        let lba_size = (index <= nlbaf && index < 64)
            .then(|| buf[128 + index * 4 + 2])
            .filter(|lbads| (9..=31).contains(lbads))
            .map(|lbads| 1u32 << lbads);
        Some(NvmeIdentifyNamespace {
            nsze: le64(buf, 0),
            lba_size,
        })
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
