//! ATA commands discovery sends, and what the drive's answers mean (ACS-4).
//!
//! IDENTIFY DEVICE words are little-endian u16; ATA strings hold two characters per word, the
//! first in the high byte. Every parser takes whatever bytes came back and never panics: a
//! drive or a bridge can answer short, padded or garbage data.

use super::super::transport::{AtaCommand, AtaProtocol};

/// LBA mode bit of the DEVICE register.
const DEVICE_LBA: u8 = 0x40;
/// SMART commands carry this signature in LBA(23:8) (LBA mid 0x4F, LBA high 0xC2).
const SMART_SIGNATURE: u64 = 0x00c2_4f00;

pub fn identify_device() -> AtaCommand {
    AtaCommand {
        command: 0xec,
        features: 0,
        count: 1,
        lba: 0,
        device: 0,
        protocol: AtaProtocol::PioIn,
        extended: false,
    }
}

pub fn read_native_max_address_ext() -> AtaCommand {
    AtaCommand {
        command: 0x27,
        features: 0,
        count: 0,
        lba: 0,
        device: DEVICE_LBA,
        protocol: AtaProtocol::NonData,
        extended: true,
    }
}

pub fn read_native_max_address() -> AtaCommand {
    AtaCommand {
        command: 0xf8,
        extended: false,
        ..read_native_max_address_ext()
    }
}

/// ACCESSIBLE MAX ADDRESS CONFIGURATION, GET NATIVE MAX ADDRESS EXT (0x78, feature 0x0000).
pub fn get_native_max_address_ext() -> AtaCommand {
    AtaCommand {
        command: 0x78,
        features: 0x0000,
        ..read_native_max_address_ext()
    }
}

/// SET MAX ADDRESS EXT (0x37, non-data, 48-bit): LBA(47:0) the new maximum LBA; COUNT bit 0
/// VALUE VOLATILE ("VV"): despite its name, 1 makes the setting survive a power-on or hardware
/// reset (non-volatile), 0 keeps it until then only. The drive aborts it unless READ NATIVE
/// MAX ADDRESS EXT was the command immediately before, and aborts a second non-volatile one
/// in the same power cycle.
pub fn set_max_address_ext(max_lba: u64, permanent: bool) -> AtaCommand {
    AtaCommand {
        command: 0x37,
        features: 0,
        count: u16::from(permanent),
        lba: max_lba & 0xffff_ffff_ffff,
        device: DEVICE_LBA,
        protocol: AtaProtocol::NonData,
        extended: true,
    }
}

/// SET MAX ADDRESS (0xF9, features 0 = set the address; 28-bit): LBA(23:0) in the LBA
/// registers, LBA(27:24) in DEVICE bits 3:0; COUNT bit 0 as for the EXT command. Must follow
/// READ NATIVE MAX ADDRESS (0xF8). `max_lba` above 28 bits is clamped to 0x0FFF_FFFF (the
/// largest a 28-bit drive can have).
pub fn set_max_address(max_lba: u64, permanent: bool) -> AtaCommand {
    let lba = max_lba.min(0x0fff_ffff);
    AtaCommand {
        command: 0xf9,
        features: 0,
        count: u16::from(permanent),
        lba: lba & 0x00ff_ffff,
        device: DEVICE_LBA | ((lba >> 24) & 0x0f) as u8,
        protocol: AtaProtocol::NonData,
        extended: false,
    }
}

/// ACS-3 ACCESSIBLE MAX ADDRESS CONFIGURATION, SET ACCESSIBLE MAX ADDRESS EXT (0x78, feature
/// 0x0001): LBA(47:0) the new maximum LBA. The setting is non-volatile (ACS-3 has no volatile
/// form; COUNT is reserved): massho sends it only as a permanent change. Aborted after FREEZE
/// ACCESSIBLE MAX ADDRESS EXT (feature 0x0002) until a power cycle.
pub fn set_accessible_max_address_ext(max_lba: u64) -> AtaCommand {
    AtaCommand {
        command: 0x78,
        features: 0x0001,
        count: 0,
        lba: max_lba & 0xffff_ffff_ffff,
        device: DEVICE_LBA,
        protocol: AtaProtocol::NonData,
        extended: true,
    }
}

/// DEVICE CONFIGURATION RESTORE (0xB1, feature 0xC0, non-data): puts IDENTIFY back to the
/// factory settings, undoing DEVICE CONFIGURATION SET. Always permanent. The drive aborts it
/// while a host protected area is set (restore the HPA first) and after DEVICE CONFIGURATION
/// FREEZE LOCK until a power cycle.
pub fn dco_restore() -> AtaCommand {
    AtaCommand {
        command: 0xb1,
        features: 0xc0,
        count: 0,
        lba: 0,
        device: 0,
        protocol: AtaProtocol::NonData,
        extended: false,
    }
}

/// DEVICE CONFIGURATION FREEZE LOCK (0xB1, feature 0xC1, non-data): every DCO command,
/// IDENTIFY included, aborts until a power cycle. massho never sends it; it is encoded so the
/// fake drive can be frozen the way a BIOS freezes a real one.
pub fn dco_freeze_lock() -> AtaCommand {
    AtaCommand {
        features: 0xc1,
        ..dco_restore()
    }
}

/// DEVICE CONFIGURATION OVERLAY, DEVICE CONFIGURATION IDENTIFY (0xB1, feature 0xC2, PIO in).
pub fn dco_identify() -> AtaCommand {
    AtaCommand {
        command: 0xb1,
        features: 0xc2,
        count: 1,
        lba: 0,
        device: 0,
        protocol: AtaProtocol::PioIn,
        extended: false,
    }
}

/// DEVICE CONFIGURATION IDENTIFY data: the maximum LBA the overlay allows (words 3-6), the
/// factory capacity when no DCO restriction is set. `None` if short or the word 255 checksum
/// (signature 0xA5) fails: a DCO answer that does not add up is not believed.
pub fn parse_dco_max_lba(buf: &[u8]) -> Option<u64> {
    let buf = buf.get(..512)?;
    if buf[510] != 0xa5 || buf.iter().fold(0u8, |a, b| a.wrapping_add(*b)) != 0 {
        return None;
    }
    Some(
        u64::from(word(buf, 3))
            | u64::from(word(buf, 4)) << 16
            | u64::from(word(buf, 5)) << 32
            | u64::from(word(buf, 6)) << 48,
    )
}

/// SANITIZE DEVICE, SANITIZE STATUS EXT (feature 0x0000): reports, changes nothing.
pub fn sanitize_status() -> AtaCommand {
    AtaCommand {
        command: 0xb4,
        features: 0x0000,
        count: 0,
        lba: 0,
        device: DEVICE_LBA,
        protocol: AtaProtocol::NonData,
        extended: true,
    }
}

/// SANITIZE DEVICE count bit 4, FAILURE MODE ("AUSE"): when the sanitize fails, the host may
/// leave the failed state with SANITIZE STATUS EXT + CLEAR SANITIZE OPERATION FAILED instead of
/// only through a new, successful sanitize.
const SANITIZE_FAILURE_MODE: u16 = 1 << 4;

fn sanitize_command(features: u16, count: u16, lba: u64) -> AtaCommand {
    AtaCommand {
        command: 0xb4,
        features,
        count,
        lba,
        device: DEVICE_LBA,
        protocol: AtaProtocol::NonData,
        extended: true,
    }
}

/// CRYPTO SCRAMBLE EXT (0xB4/0x0011): LBA(31:0) carries the key "Cryp" (0x43727970).
pub fn sanitize_crypto_scramble(ause: bool) -> AtaCommand {
    let count = if ause { SANITIZE_FAILURE_MODE } else { 0 };
    sanitize_command(0x0011, count, 0x4372_7970)
}

/// BLOCK ERASE EXT (0xB4/0x0012): LBA(31:0) carries the key "BkEr" (0x426B4572).
pub fn sanitize_block_erase(ause: bool) -> AtaCommand {
    let count = if ause { SANITIZE_FAILURE_MODE } else { 0 };
    sanitize_command(0x0012, count, 0x426b_4572)
}

/// OVERWRITE EXT (0xB4/0x0014): LBA(47:32) the key "OW" (0x4F57), LBA(31:0) the pattern;
/// COUNT bits 3:0 OVERWRITE LOOP COUNT (0 means 16), bit 4 FAILURE MODE, bit 7 INVERT PATTERN
/// BETWEEN OVERWRITE PASSES.
///
/// `passes` is clamped to 1..=16: 0 would silently mean 16 on the wire and anything above 16
/// cannot be encoded, so a caller asking for 0 gets one pass and one asking for 17+ gets 16.
/// Check `passes` before calling if the difference matters.
pub fn sanitize_overwrite(ause: bool, pattern: u32, passes: u8, invert: bool) -> AtaCommand {
    let loops = u16::from(passes.clamp(1, 16)) & 0x0f; // 16 -> 0
    let mut count = loops;
    if ause {
        count |= SANITIZE_FAILURE_MODE;
    }
    if invert {
        count |= 1 << 7;
    }
    sanitize_command(0x0014, count, 0x4f57 << 32 | u64::from(pattern))
}

/// SANITIZE STATUS EXT with COUNT bit 0, CLEAR SANITIZE OPERATION FAILED: leaves the failed
/// state when the failed sanitize was started with FAILURE MODE (AUSE) set; otherwise the
/// drive stays failed (it aborts, reason "sanitize command unsuccessful").
pub fn sanitize_status_clear_failure() -> AtaCommand {
    AtaCommand {
        count: 0x0001,
        ..sanitize_status()
    }
}

/// The 512-byte PIO-out block of the Security commands (ACS-4 SECURITY SET PASSWORD / UNLOCK /
/// ERASE UNIT / DISABLE PASSWORD data tables): word 0 control
/// (bit 0 IDENTIFIER: 0 user, 1 master; bit 1 ERASE MODE enhanced for ERASE UNIT; bit 8
/// MASTER PASSWORD CAPABILITY for SET PASSWORD: 0 High, 1 Maximum), words 1-16 the password.
fn security_block(control: u16, password: &[u8; 32]) -> [u8; 512] {
    let mut block = [0u8; 512];
    block[0..2].copy_from_slice(&control.to_le_bytes());
    block[2..34].copy_from_slice(password);
    block
}

fn security_command(command: u8) -> AtaCommand {
    AtaCommand {
        command,
        features: 0,
        count: 1,
        lba: 0,
        device: 0,
        protocol: AtaProtocol::PioOut,
        extended: false,
    }
}

/// SECURITY SET PASSWORD (0xF1): sets the *user* password with master password capability
/// High (word 0 = 0), which enables security. The drive then locks at the next power-on.
pub fn security_set_password(password: &[u8; 32]) -> (AtaCommand, [u8; 512]) {
    (security_command(0xf1), security_block(0, password))
}

/// SECURITY UNLOCK (0xF2) with the user password.
pub fn security_unlock(password: &[u8; 32]) -> (AtaCommand, [u8; 512]) {
    (security_command(0xf2), security_block(0, password))
}

/// SECURITY ERASE PREPARE (0xF3, non-data): must be the command immediately before ERASE UNIT.
pub fn security_erase_prepare() -> AtaCommand {
    AtaCommand {
        count: 0,
        protocol: AtaProtocol::NonData,
        ..security_command(0xf3)
    }
}

/// SECURITY ERASE UNIT (0xF4) with the user password; `enhanced` sets word 0 bit 1.
pub fn security_erase_unit(password: &[u8; 32], enhanced: bool) -> (AtaCommand, [u8; 512]) {
    let control = if enhanced { 0x0002 } else { 0 };
    (security_command(0xf4), security_block(control, password))
}

/// SECURITY DISABLE PASSWORD (0xF6) with the user password: clears it, security disabled.
pub fn security_disable_password(password: &[u8; 32]) -> (AtaCommand, [u8; 512]) {
    (security_command(0xf6), security_block(0, password))
}

/// hdparm's floor for an erase: never expect more than 30 MB/s (10^6 bytes) ...
const ERASE_FLOOR_BYTES_PER_SEC: u64 = 30_000_000;
/// ... plus half an hour for the drive's own overhead.
const ERASE_FLOOR_EXTRA_SECS: u64 = 30 * 60;

/// How long to wait for SECURITY ERASE UNIT before giving up on it.
///
/// The larger of: the drive's own estimate (IDENTIFY word 89, or 90 when `enhanced`) doubled,
/// since drives underestimate and a timeout mid-erase is far worse than a long wait (a
/// "more than" estimate is doubled the same way); and hdparm's floor, `capacity_bytes` at
/// 30 MB/s plus 30 minutes. A drive that reports no estimate gets the floor.
pub fn security_erase_timeout(
    id: &AtaIdentify,
    enhanced: bool,
    capacity_bytes: u64,
) -> std::time::Duration {
    let estimate = if enhanced {
        id.security.enhanced_erase
    } else {
        id.security.erase
    };
    let drive_secs = estimate
        .minutes()
        .map_or(0, |m| u64::from(m).saturating_mul(2 * 60));
    let floor_secs = capacity_bytes / ERASE_FLOOR_BYTES_PER_SEC + ERASE_FLOOR_EXTRA_SECS;
    std::time::Duration::from_secs(drive_secs.max(floor_secs))
}

pub fn smart_return_status() -> AtaCommand {
    AtaCommand {
        command: 0xb0,
        features: 0xda,
        count: 0,
        lba: SMART_SIGNATURE,
        device: 0,
        protocol: AtaProtocol::NonData,
        extended: false,
    }
}

pub fn smart_read_data() -> AtaCommand {
    AtaCommand {
        command: 0xb0,
        features: 0xd0,
        count: 1,
        lba: SMART_SIGNATURE,
        device: 0,
        protocol: AtaProtocol::PioIn,
        extended: false,
    }
}

/// What IDENTIFY DEVICE says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AtaIdentify {
    pub model: String,
    pub serial: String,
    pub firmware: String,
    pub lba48: bool,
    /// User-addressable sectors (words 100-103 when 48-bit, else 60-61): the current maximum,
    /// below any HPA.
    pub sectors: u64,
    pub hpa_supported: bool,
    /// Word 83 bit 11: DEVICE CONFIGURATION OVERLAY feature set (obsolete since ACS-3).
    pub dco_supported: bool,
    /// Word 119 bit 8: ACS-3 Accessible Max Address Configuration (replaces HPA).
    pub ama_supported: bool,
    pub smart_supported: bool,
    pub sanitize: AtaSanitizeBits,
    pub security: AtaSecurity,
}

/// Word 59 bits 12-15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AtaSanitizeBits {
    pub supported: bool,
    pub crypto: bool,
    pub overwrite: bool,
    pub block: bool,
}

/// Words 82/85/128 and the erase time estimates of words 89/90.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AtaSecurity {
    pub supported: bool,
    pub enabled: bool,
    pub locked: bool,
    pub frozen: bool,
    pub count_expired: bool,
    pub enhanced_supported: bool,
    pub erase: EraseTime,
    pub enhanced_erase: EraseTime,
}

/// An erase time estimate (ACS-4 §9.11.8.x, words 89/90).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EraseTime {
    #[default]
    NotReported,
    Minutes(u32),
    /// The field's largest value: the erase takes longer than this.
    MoreThan(u32),
}

impl EraseTime {
    /// Bit 15 set: bits 14:0 in 2-minute units (32767 = more than 65532 min); clear: bits 7:0
    /// (255 = more than 508 min). Zero: not reported.
    pub fn from_word(w: u16) -> EraseTime {
        let (value, max) = if w & 0x8000 != 0 {
            (u32::from(w & 0x7fff), 0x7fff)
        } else {
            (u32::from(w & 0x00ff), 0xff)
        };
        match value {
            0 => EraseTime::NotReported,
            v if v == max => EraseTime::MoreThan(v * 2),
            v => EraseTime::Minutes(v * 2),
        }
    }

    pub fn minutes(self) -> Option<u32> {
        match self {
            EraseTime::NotReported => None,
            EraseTime::Minutes(m) | EraseTime::MoreThan(m) => Some(m),
        }
    }
}

fn word(buf: &[u8], i: usize) -> u16 {
    match buf.get(2 * i..2 * i + 2) {
        Some(b) => u16::from_le_bytes([b[0], b[1]]),
        None => 0,
    }
}

/// An ATA string from words `first..=last`: two characters per word, high byte first, padded
/// with spaces. Non-printable bytes are dropped rather than trusted.
pub fn ata_string(buf: &[u8], first: usize, last: usize) -> String {
    let mut s = String::new();
    for i in first..=last {
        let [hi, lo] = word(buf, i).to_be_bytes();
        for c in [hi, lo] {
            if c.is_ascii_graphic() || c == b' ' {
                s.push(char::from(c));
            }
        }
    }
    s.trim().to_owned()
}

/// Why IDENTIFY data was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifyError {
    #[error("IDENTIFY data is {0} bytes, not 512")]
    Short(usize),
    #[error("IDENTIFY data fails its word 255 checksum")]
    Checksum,
    #[error("IDENTIFY data says this is not an ATA device (word 0 bit 15)")]
    NotAta,
}

impl AtaIdentify {
    pub fn parse(buf: &[u8]) -> Result<AtaIdentify, IdentifyError> {
        if buf.len() < 512 {
            return Err(IdentifyError::Short(buf.len()));
        }
        let buf = &buf[..512];
        // Word 255: signature 0xA5 in the low byte, then a checksum making all 512 bytes sum to 0.
        if buf[510] == 0xa5 && buf.iter().fold(0u8, |a, b| a.wrapping_add(*b)) != 0 {
            return Err(IdentifyError::Checksum);
        }
        if word(buf, 0) & 0x8000 != 0 {
            return Err(IdentifyError::NotAta);
        }
        // Words 82-87 are valid when bit 14 is set and bit 15 clear.
        let valid = |w: u16| w & 0xc000 == 0x4000;
        let w82 = word(buf, 82);
        let w83 = word(buf, 83);
        let w85 = word(buf, 85);
        let (w82, w83, w85) = if valid(word(buf, 83)) {
            (w82, w83, w85)
        } else {
            (0, 0, 0)
        };
        let lba48 = w83 & (1 << 10) != 0;
        let sectors = if lba48 {
            u64::from(word(buf, 100))
                | u64::from(word(buf, 101)) << 16
                | u64::from(word(buf, 102)) << 32
                | u64::from(word(buf, 103)) << 48
        } else {
            u64::from(word(buf, 60)) | u64::from(word(buf, 61)) << 16
        };
        let w59 = word(buf, 59);
        let w128 = word(buf, 128);
        let security_supported = w82 & 0x0002 != 0 && w128 & 0x0001 != 0;
        let bit = |w: u16, n: u32| security_supported && w & (1 << n) != 0;
        Ok(AtaIdentify {
            serial: ata_string(buf, 10, 19),
            firmware: ata_string(buf, 23, 26),
            model: ata_string(buf, 27, 46),
            lba48,
            sectors,
            hpa_supported: w82 & (1 << 10) != 0,
            dco_supported: w83 & (1 << 11) != 0,
            ama_supported: valid(word(buf, 119)) && word(buf, 119) & (1 << 8) != 0,
            smart_supported: w82 & 0x0001 != 0,
            sanitize: AtaSanitizeBits {
                supported: w59 & (1 << 12) != 0,
                crypto: w59 & (1 << 12) != 0 && w59 & (1 << 13) != 0,
                overwrite: w59 & (1 << 12) != 0 && w59 & (1 << 14) != 0,
                block: w59 & (1 << 12) != 0 && w59 & (1 << 15) != 0,
            },
            security: AtaSecurity {
                supported: security_supported,
                enabled: bit(w128, 1) && w85 & 0x0002 != 0,
                locked: bit(w128, 2),
                frozen: bit(w128, 3),
                count_expired: bit(w128, 4),
                enhanced_supported: bit(w128, 5),
                erase: EraseTime::from_word(word(buf, 89)),
                enhanced_erase: EraseTime::from_word(word(buf, 90)),
            },
        })
    }
}

/// The SANITIZE STATUS EXT output (ACS-4 §7.32.10): COUNT(15:8) flags, LBA(15:0) progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtaSanitizeStatus {
    pub completed_without_error: bool,
    pub in_progress: bool,
    pub frozen: bool,
    pub antifreeze: bool,
    /// Progress in 1/65536ths while in progress.
    pub progress: u16,
}

impl AtaSanitizeStatus {
    pub fn from_registers(count: u16, lba: u64) -> AtaSanitizeStatus {
        AtaSanitizeStatus {
            completed_without_error: count & 0x8000 != 0,
            in_progress: count & 0x4000 != 0,
            frozen: count & 0x2000 != 0,
            antifreeze: count & 0x1000 != 0,
            progress: (lba & 0xffff) as u16,
        }
    }
}

/// SMART attributes massho reports (raw values, low 32 bits: vendors reuse the upper 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AtaSmartAttributes {
    pub reallocated: Option<u64>,
    pub power_on_hours: Option<u64>,
    pub pending: Option<u64>,
    pub uncorrectable: Option<u64>,
}

impl AtaSmartAttributes {
    /// SMART READ DATA: 30 attributes of 12 bytes from byte 2 (id, flags, value, worst, raw
    /// 6 bytes LE, reserved); byte 511 a checksum over the 512 bytes. `None` if short or the
    /// checksum fails.
    pub fn parse(buf: &[u8]) -> Option<AtaSmartAttributes> {
        let buf = buf.get(..512)?;
        if buf.iter().fold(0u8, |a, b| a.wrapping_add(*b)) != 0 {
            return None;
        }
        let mut out = AtaSmartAttributes::default();
        for a in buf[2..2 + 30 * 12].chunks_exact(12) {
            let raw = u64::from(u32::from_le_bytes([a[5], a[6], a[7], a[8]]));
            match a[0] {
                5 => out.reallocated = Some(raw),
                9 => out.power_on_hours = Some(raw),
                197 => out.pending = Some(raw),
                198 => out.uncorrectable = Some(raw),
                _ => {}
            }
        }
        Some(out)
    }
}

/// SMART RETURN STATUS: LBA mid/high 4Fh/C2h = no threshold exceeded, 2Ch/F4h = exceeded.
pub fn smart_status_passed(lba: u64) -> Option<bool> {
    match (lba >> 8) & 0xffff {
        0xc24f => Some(true),
        0x2cf4 => Some(false),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// IDENTIFY data built word by word from ACS-4 table 45, for tests of the parser.
    pub(crate) fn identify_words(words: &[(usize, u16)], strings: &[(usize, &str)]) -> Vec<u8> {
        let mut w = [0u16; 256];
        for &(i, v) in words {
            w[i] = v;
        }
        for &(first, s) in strings {
            for (k, pair) in s.as_bytes().chunks(2).enumerate() {
                let hi = pair[0];
                let lo = pair.get(1).copied().unwrap_or(b' ');
                w[first + k] = u16::from(hi) << 8 | u16::from(lo);
            }
        }
        w.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn command_taskfiles_match_acs() {
        // (command, features, count, lba, device, extended) from ACS-4's command tables.
        type Taskfile = (u8, u16, u16, u64, u8, bool);
        let table: [(AtaCommand, Taskfile); 8] = [
            (get_native_max_address_ext(), (0x78, 0, 0, 0, 0x40, true)),
            (dco_identify(), (0xb1, 0xc2, 1, 0, 0, false)),
            (identify_device(), (0xec, 0, 1, 0, 0, false)),
            (read_native_max_address_ext(), (0x27, 0, 0, 0, 0x40, true)),
            (read_native_max_address(), (0xf8, 0, 0, 0, 0x40, false)),
            (sanitize_status(), (0xb4, 0, 0, 0, 0x40, true)),
            (smart_return_status(), (0xb0, 0xda, 0, 0xc24f00, 0, false)),
            (smart_read_data(), (0xb0, 0xd0, 1, 0xc24f00, 0, false)),
        ];
        for (c, e) in table {
            assert_eq!(
                (c.command, c.features, c.count, c.lba, c.device, c.extended),
                e
            );
        }
    }

    #[test]
    fn hidden_area_taskfiles_match_acs() {
        // Written from the ATA8-ACS / ACS-3 command tables, not from the encoders:
        // SET MAX ADDRESS EXT 37h: FEATURES reserved, COUNT bit 0 VV (1 = preserved over
        // power-on/hardware reset), LBA(47:0) max address, DEVICE bit 6 LBA; non-data.
        // SET MAX ADDRESS F9h (features 00h): LBA(23:0), DEVICE bits 3:0 = LBA(27:24), bit 6 LBA.
        // SET ACCESSIBLE MAX ADDRESS EXT 78h / 0001h: LBA(47:0) max address.
        // DEVICE CONFIGURATION RESTORE B1h / C0h, FREEZE LOCK B1h / C1h: non-data, no operands.
        type Taskfile = (u8, u16, u16, u64, u8, bool);
        let table: [(AtaCommand, Taskfile); 9] = [
            (
                set_max_address_ext(0x0000_7470_c06f, false),
                (0x37, 0, 0, 0x0000_7470_c06f, 0x40, true),
            ),
            (
                set_max_address_ext(0x0000_7470_c06f, true),
                (0x37, 0, 1, 0x0000_7470_c06f, 0x40, true),
            ),
            (
                set_max_address_ext(0xffff_0001_0000_0000, false),
                (0x37, 0, 0, 0x0001_0000_0000, 0x40, true),
            ),
            (
                set_max_address(0x0abc_def0, false),
                (0xf9, 0, 0, 0x00bc_def0, 0x4a, false),
            ),
            (
                set_max_address(0x0123_4567, true),
                (0xf9, 0, 1, 0x0023_4567, 0x41, false),
            ),
            (
                set_max_address(0x1_0000_0000, false),
                (0xf9, 0, 0, 0x00ff_ffff, 0x4f, false),
            ),
            (
                set_accessible_max_address_ext(0x0000_e8e0_88af),
                (0x78, 0x0001, 0, 0x0000_e8e0_88af, 0x40, true),
            ),
            (dco_restore(), (0xb1, 0xc0, 0, 0, 0, false)),
            (dco_freeze_lock(), (0xb1, 0xc1, 0, 0, 0, false)),
        ];
        for (c, e) in table {
            assert_eq!(
                (c.command, c.features, c.count, c.lba, c.device, c.extended),
                e,
                "{c:?}"
            );
            assert_eq!(c.protocol, AtaProtocol::NonData);
        }
        // Whole SAT CDBs (SAT-4 table 173: byte 1 protocol 3 << 1 | EXTEND, byte 2 CK_COND,
        // FEATURES 15:8 7:0, COUNT 15:8 7:0, LBA 31:24 7:0 39:32 15:8 47:40 23:16, DEVICE,
        // COMMAND, CONTROL).
        let cdb = |c: &AtaCommand| {
            crate::device::transport::ata::pass_through_cdb(
                c,
                crate::device::transport::ata::PassThrough::Sixteen,
            )
            .unwrap()
        };
        assert_eq!(
            cdb(&set_max_address_ext(0x0000_7470_c06f, true)),
            [
                0x85, 0x07, 0x20, 0x00, 0x00, 0x00, 0x01, 0x74, 0x6f, 0x00, 0xc0, 0x00, 0x70, 0x40,
                0x37, 0x00
            ]
        );
        assert_eq!(
            cdb(&set_accessible_max_address_ext(0x0000_e8e0_88af)),
            [
                0x85, 0x07, 0x20, 0x00, 0x01, 0x00, 0x00, 0xe8, 0xaf, 0x00, 0x88, 0x00, 0xe0, 0x40,
                0x78, 0x00
            ]
        );
        assert_eq!(
            cdb(&dco_restore()),
            [
                0x85, 0x06, 0x20, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0xb1, 0x00
            ]
        );
    }

    #[test]
    fn sanitize_taskfiles_match_acs() {
        // ACS-4 §7.32 (SANITIZE DEVICE), the "command inputs" table of each subcommand:
        // (features, count, lba) with COMMAND 0xB4, DEVICE bit 6 set, 48-bit, non-data.
        // CRYPTO SCRAMBLE EXT: LBA(31:0) 4372_7970h, COUNT bit 4 FAILURE MODE.
        // BLOCK ERASE EXT: LBA(31:0) 426B_4572h. OVERWRITE EXT: LBA(47:32) 4F57h, LBA(31:0)
        // OVERWRITE PATTERN, COUNT bit 7 INVERT, bit 4 FAILURE MODE, bits 3:0 LOOP COUNT.
        // SANITIZE STATUS EXT: COUNT bit 0 CLEAR SANITIZE OPERATION FAILED.
        let table: [(AtaCommand, (u16, u16, u64)); 9] = [
            (
                sanitize_crypto_scramble(false),
                (0x0011, 0x0000, 0x0000_4372_7970),
            ),
            (
                sanitize_crypto_scramble(true),
                (0x0011, 0x0010, 0x0000_4372_7970),
            ),
            (
                sanitize_block_erase(false),
                (0x0012, 0x0000, 0x0000_426b_4572),
            ),
            (
                sanitize_block_erase(true),
                (0x0012, 0x0010, 0x0000_426b_4572),
            ),
            (
                sanitize_overwrite(false, 0x0000_0000, 1, false),
                (0x0014, 0x0001, 0x4f57_0000_0000),
            ),
            (
                sanitize_overwrite(true, 0xdead_beef, 3, true),
                (0x0014, 0x0093, 0x4f57_dead_beef),
            ),
            // 16 passes are encoded as 0.
            (
                sanitize_overwrite(false, 0x5555_5555, 16, false),
                (0x0014, 0x0000, 0x4f57_5555_5555),
            ),
            (sanitize_status_clear_failure(), (0x0000, 0x0001, 0)),
            (sanitize_status(), (0x0000, 0x0000, 0)),
        ];
        for (c, (features, count, lba)) in table {
            assert_eq!(
                (c.command, c.features, c.count, c.lba, c.device),
                (0xb4, features, count, lba, 0x40),
                "{c:?}"
            );
            assert!(c.extended && c.protocol == AtaProtocol::NonData);
        }
        // Out-of-range pass counts are clamped (documented): 0 -> 1, 17+ -> 16 (encoded 0).
        assert_eq!(sanitize_overwrite(false, 0, 0, false).count, 0x0001);
        assert_eq!(sanitize_overwrite(false, 0, 200, false).count, 0x0000);
        // The whole SAT CDB for OVERWRITE EXT, byte by byte (SAT-4 table 173): protocol 3
        // with EXTEND, CK_COND, FEATURES 00 14, COUNT 00 93, LBA interleaved
        // 31:24 DE, 7:0 EF, 39:32 57, 15:8 BE, 47:40 4F, 23:16 AD, DEVICE 40, COMMAND B4.
        let cdb = crate::device::transport::ata::pass_through_cdb(
            &sanitize_overwrite(true, 0xdead_beef, 3, true),
            crate::device::transport::ata::PassThrough::Sixteen,
        )
        .unwrap();
        assert_eq!(
            cdb,
            [
                0x85, 0x07, 0x20, 0x00, 0x14, 0x00, 0x93, 0xde, 0xef, 0x57, 0xbe, 0x4f, 0xad, 0x40,
                0xb4, 0x00
            ]
        );
    }

    #[test]
    fn security_commands_match_acs() {
        // ACS-4 Security feature set (the SECURITY * command and data tables): SET PASSWORD
        // F1h, UNLOCK F2h, ERASE PREPARE F3h (non-data), ERASE UNIT F4h, DISABLE PASSWORD F6h; the PIO-out ones
        // transfer one 512-byte block (COUNT 1). Their data tables: word 0 bit 0 IDENTIFIER
        // (0 = user), bit 1 ENHANCED ERASE (ERASE UNIT), bit 8 MASTER PASSWORD CAPABILITY
        // (SET PASSWORD, 0 = High); words 1-16 PASSWORD.
        let mut pw = [0u8; 32];
        pw[..6].copy_from_slice(b"massho");
        pw[31] = 0x7e;
        let mut expected_block = [0u8; 512];
        expected_block[2..8].copy_from_slice(&[0x6d, 0x61, 0x73, 0x73, 0x68, 0x6f]);
        expected_block[33] = 0x7e;
        let mut enhanced_block = expected_block;
        enhanced_block[0] = 0x02;
        type Row = ((AtaCommand, [u8; 512]), u8, [u8; 512]);
        let table: [Row; 5] = [
            (security_set_password(&pw), 0xf1, expected_block),
            (security_unlock(&pw), 0xf2, expected_block),
            (security_erase_unit(&pw, false), 0xf4, expected_block),
            (security_erase_unit(&pw, true), 0xf4, enhanced_block),
            (security_disable_password(&pw), 0xf6, expected_block),
        ];
        for ((c, block), command, expected) in table {
            assert_eq!(
                (c.command, c.features, c.count, c.lba, c.device, c.extended),
                (command, 0, 1, 0, 0, false)
            );
            assert_eq!(c.protocol, AtaProtocol::PioOut);
            assert_eq!(block, expected, "command {command:#x}");
        }
        let p = security_erase_prepare();
        assert_eq!(
            (p.command, p.count, p.protocol, p.extended),
            (0xf3, 0, AtaProtocol::NonData, false)
        );
    }

    #[test]
    fn security_erase_timeout_is_generous() {
        let id = |w89: u16, w90: u16| {
            AtaIdentify::parse(&identify_words(
                &[
                    (82, 0x0002),
                    (83, 0x4000),
                    (89, w89),
                    (90, w90),
                    (128, 0x0021),
                ],
                &[],
            ))
            .unwrap()
        };
        // Word 89 = 30: 60 minutes, doubled: 7200 s. 1 GB at 30 MB/s = 33 s + 1800 s.
        let d = id(30, 0);
        assert_eq!(
            security_erase_timeout(&d, false, 1_000_000_000).as_secs(),
            7200
        );
        // 1 TB: the floor (33 333 s + 1800 s) is larger than the drive's 2 hours.
        assert_eq!(
            security_erase_timeout(&d, false, 1_000_000_000_000).as_secs(),
            35_133
        );
        // Enhanced not reported: the floor.
        assert_eq!(
            security_erase_timeout(&d, true, 1_000_000_000).as_secs(),
            1833
        );
        // "More than 508 minutes" (0xFF): 510 minutes as the field's value, doubled.
        assert_eq!(
            security_erase_timeout(&id(0, 0x00ff), true, 0).as_secs(),
            510 * 2 * 60
        );
    }

    #[test]
    fn identify_fields() {
        let buf = identify_words(
            &[
                (59, 0xf000), // sanitize, crypto, overwrite, block
                (82, 0x0403), // SMART, security, HPA
                (83, 0x4400), // valid, 48-bit
                (85, 0x0002), // security enabled
                (89, 0x001e), // 60 min
                (90, 0x8100), // extended format: 256 * 2 = 512 min
                (100, 0x5000),
                (101, 0x0254), // 0x0254_5000 sectors
                (128, 0x0029), // supported, locked? no: 0x29 = supported|frozen|enhanced
            ],
            &[
                (10, "WD-WCC4E1234567"),
                (23, "80.00A80"),
                (27, "WDC WD10EZEX-08WN4A0"),
            ],
        );
        let id = AtaIdentify::parse(&buf).unwrap();
        assert_eq!(id.serial, "WD-WCC4E1234567");
        assert_eq!(id.firmware, "80.00A80");
        assert_eq!(id.model, "WDC WD10EZEX-08WN4A0");
        assert!(id.lba48 && id.hpa_supported && id.smart_supported);
        assert_eq!(id.sectors, 0x0254_5000);
        assert_eq!(
            id.sanitize,
            AtaSanitizeBits {
                supported: true,
                crypto: true,
                overwrite: true,
                block: true
            }
        );
        let s = id.security;
        assert!(s.supported && s.frozen && s.enhanced_supported);
        assert!(!s.locked && !s.count_expired);
        assert!(!s.enabled, "word 128 bit 1 clear");
        assert_eq!(s.erase, EraseTime::Minutes(60));
        assert_eq!(s.enhanced_erase, EraseTime::Minutes(512));
    }

    #[test]
    fn dco_identify_data() {
        let mut buf = identify_words(&[(0, 0x0002), (3, 0x5000), (4, 0x0254)], &[]);
        buf[510] = 0xa5;
        let sum = buf[..511].iter().fold(0u8, |a, b| a.wrapping_add(*b));
        buf[511] = 0u8.wrapping_sub(sum);
        assert_eq!(parse_dco_max_lba(&buf), Some(0x0254_5000));
        buf[511] ^= 0x10;
        assert_eq!(parse_dco_max_lba(&buf), None, "bad checksum");
        buf[510] = 0;
        assert_eq!(parse_dco_max_lba(&buf), None, "no signature");
        assert_eq!(parse_dco_max_lba(&buf[..511]), None);
    }

    #[test]
    fn dco_and_ama_support_bits() {
        let id = AtaIdentify::parse(&identify_words(&[(83, 0x4800), (119, 0x4100)], &[])).unwrap();
        assert!(id.dco_supported && id.ama_supported);
        // Word 119 not valid (bits 15:14 != 01): AMA not believed.
        let id = AtaIdentify::parse(&identify_words(&[(83, 0x4000), (119, 0x0100)], &[])).unwrap();
        assert!(!id.dco_supported && !id.ama_supported);
    }

    #[test]
    fn erase_time_formats() {
        assert_eq!(EraseTime::from_word(0), EraseTime::NotReported);
        assert_eq!(EraseTime::from_word(0x00ff), EraseTime::MoreThan(510));
        assert_eq!(EraseTime::from_word(0xffff), EraseTime::MoreThan(65534));
        assert_eq!(EraseTime::from_word(0x8000), EraseTime::NotReported);
        // Bits 15:8 are reserved in the short format.
        assert_eq!(EraseTime::from_word(0x1203), EraseTime::Minutes(6));
    }

    #[test]
    fn checksum_and_short_data_are_rejected() {
        let mut buf = identify_words(&[(83, 0x4000)], &[]);
        buf[510] = 0xa5;
        buf[511] = 0x00; // sum is 0xa5 + 0x40: wrong
        assert_eq!(AtaIdentify::parse(&buf), Err(IdentifyError::Checksum));
        let sum = buf[..511].iter().fold(0u8, |a, b| a.wrapping_add(*b));
        buf[511] = 0u8.wrapping_sub(sum);
        assert!(AtaIdentify::parse(&buf).is_ok());
        assert_eq!(
            AtaIdentify::parse(&buf[..100]),
            Err(IdentifyError::Short(100))
        );
        let atapi = identify_words(&[(0, 0x8580)], &[]);
        assert_eq!(AtaIdentify::parse(&atapi), Err(IdentifyError::NotAta));
    }

    #[test]
    fn sanitize_status_bits() {
        let s = AtaSanitizeStatus::from_registers(0x4000, 0x8000);
        assert!(s.in_progress && !s.completed_without_error);
        assert_eq!(s.progress, 0x8000);
        let s = AtaSanitizeStatus::from_registers(0xa000, 0);
        assert!(s.completed_without_error && s.frozen && !s.antifreeze);
    }

    #[test]
    fn smart_data_and_status() {
        let mut buf = vec![0u8; 512];
        let attrs = [(5u8, 12u32), (9, 43_210), (197, 3), (198, 1)];
        for (k, (id, raw)) in attrs.iter().enumerate() {
            let at = 2 + k * 12;
            buf[at] = *id;
            buf[at + 5..at + 9].copy_from_slice(&raw.to_le_bytes());
        }
        let sum = buf[..511].iter().fold(0u8, |a, b| a.wrapping_add(*b));
        buf[511] = 0u8.wrapping_sub(sum);
        let a = AtaSmartAttributes::parse(&buf).unwrap();
        assert_eq!(a.reallocated, Some(12));
        assert_eq!(a.power_on_hours, Some(43_210));
        assert_eq!(a.pending, Some(3));
        assert_eq!(a.uncorrectable, Some(1));
        buf[511] ^= 1;
        assert!(AtaSmartAttributes::parse(&buf).is_none());
        assert_eq!(smart_status_passed(0xc2_4f00), Some(true));
        assert_eq!(smart_status_passed(0x2c_f400), Some(false));
        assert_eq!(smart_status_passed(0), None);
    }

    #[test]
    fn parsers_survive_random_bytes() {
        for buf in crate::device::transport::fake::random_buffers(3000, 600) {
            let _ = AtaIdentify::parse(&buf);
            let _ = AtaSmartAttributes::parse(&buf);
            let _ = parse_dco_max_lba(&buf);
            let _ = ata_string(&buf, 27, 46);
        }
    }
}
