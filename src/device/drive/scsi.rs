//! SCSI commands discovery sends (SPC-4, SBC-4), and what the answers mean.

use super::ascii_field;

/// Standard INQUIRY, `len` bytes (SPC-4 §6.6): 12h, EVPD 0, page 0, allocation length.
pub fn inquiry(len: u16) -> [u8; 6] {
    let [hi, lo] = len.to_be_bytes();
    [0x12, 0x00, 0x00, hi, lo, 0x00]
}

/// INQUIRY of a vital product data page (EVPD = 1).
pub fn inquiry_vpd(page: u8, len: u16) -> [u8; 6] {
    let [hi, lo] = len.to_be_bytes();
    [0x12, 0x01, page, hi, lo, 0x00]
}

pub const VPD_UNIT_SERIAL: u8 = 0x80;

/// REPORT SUPPORTED OPERATION CODES (A3h/0Ch), reporting option 010b: one operation code and
/// service action (SPC-4 §6.35).
pub fn report_supported_operation(opcode: u8, service_action: u16, len: u32) -> [u8; 12] {
    let [sa_hi, sa_lo] = service_action.to_be_bytes();
    let l = len.to_be_bytes();
    [
        0xa3, 0x0c, 0x02, opcode, sa_hi, sa_lo, l[0], l[1], l[2], l[3], 0x00, 0x00,
    ]
}

/// SANITIZE (48h) service actions (SBC-4 §5.30).
pub const SANITIZE: u8 = 0x48;
pub const SANITIZE_OVERWRITE: u16 = 0x01;
pub const SANITIZE_BLOCK_ERASE: u16 = 0x02;
pub const SANITIZE_CRYPTO_ERASE: u16 = 0x03;

/// EXIT FAILURE MODE: leaves the failed state after a SANITIZE started with AUSE set.
pub const SANITIZE_EXIT_FAILURE_MODE: u16 = 0x1f;

/// SANITIZE (48h, SBC-4 "SANITIZE command" table): byte 1 IMMED bit 7, ZNR bit 6 (always 0
/// here: zoned devices are not a target), AUSE bit 5, SERVICE ACTION 4:0; bytes 7-8 PARAMETER
/// LIST LENGTH (only OVERWRITE takes parameters; see [`sanitize_overwrite_parameters`]).
pub fn sanitize(service_action: u8, immed: bool, ause: bool, param_len: u16) -> [u8; 10] {
    let byte1 = u8::from(immed) << 7 | u8::from(ause) << 5 | service_action & 0x1f;
    let [len_hi, len_lo] = param_len.to_be_bytes();
    [SANITIZE, byte1, 0, 0, 0, 0, 0, len_hi, len_lo, 0]
}

/// The OVERWRITE service action's parameter list (SBC-4 "parameter list format for the
/// OVERWRITE service action"): byte 0 INVERT bit 7, TEST 6:5 = 0, OVERWRITE COUNT 4:0; byte 1
/// reserved; bytes 2-3 INITIALIZATION PATTERN LENGTH; then the pattern.
///
/// `passes` is clamped to 1..=31 (0 is reserved, 31 the field's maximum). The pattern must be
/// 1 byte to one logical block long; the drive rejects other lengths (ILLEGAL REQUEST), and a
/// pattern over 65535 bytes is cut to what the length field can say.
pub fn sanitize_overwrite_parameters(pattern: &[u8], passes: u8, invert: bool) -> Vec<u8> {
    let pattern = &pattern[..pattern.len().min(usize::from(u16::MAX))];
    let len = u16::try_from(pattern.len()).unwrap_or(u16::MAX);
    let mut list = Vec::with_capacity(4 + pattern.len());
    list.push(u8::from(invert) << 7 | passes.clamp(1, 31));
    list.push(0);
    list.extend_from_slice(&len.to_be_bytes());
    list.extend_from_slice(pattern);
    list
}

/// REQUEST SENSE (03h, SPC-4): byte 1 DESC (bit 0) = 0 asks for fixed-format sense, which
/// every device supports (a device without descriptor sense must reject DESC = 1); the
/// progress indication of a sanitize is in its sense-key specific bytes either way.
pub fn request_sense(len: u8) -> [u8; 6] {
    [0x03, 0x00, 0x00, 0x00, len, 0x00]
}

/// TEST UNIT READY (00h, SPC-4).
pub fn test_unit_ready() -> [u8; 6] {
    [0x00; 6]
}

/// The one-command answer's SUPPORT field (byte 1 bits 2:0): 011b supported as the standard
/// says, 101b supported in a vendor-specific way.
pub fn operation_supported(answer: &[u8]) -> bool {
    answer
        .get(1)
        .is_some_and(|b| matches!(b & 0x07, 0b011 | 0b101))
}

/// What the standard INQUIRY data says about who the device is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScsiInquiry {
    /// Peripheral device type (0 = direct access block device).
    pub device_type: u8,
    pub vendor: String,
    pub product: String,
    pub revision: String,
}

impl ScsiInquiry {
    pub fn parse(buf: &[u8]) -> Option<ScsiInquiry> {
        if buf.len() < 36 {
            return None;
        }
        Some(ScsiInquiry {
            device_type: buf[0] & 0x1f,
            vendor: ascii_field(buf, 8..16),
            product: ascii_field(buf, 16..32),
            revision: ascii_field(buf, 32..36),
        })
    }
}

/// The unit serial number page (80h): page length in bytes 2-3, serial from byte 4.
pub fn parse_unit_serial(buf: &[u8]) -> Option<String> {
    if buf.get(1) != Some(&VPD_UNIT_SERIAL) {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]));
    let s = ascii_field(buf, 4..(4 + len).min(buf.len()));
    (!s.is_empty()).then_some(s)
}

/// The Control mode page (SPC-4 §7.5.8), where D_SENSE selects descriptor-format sense.
pub const CONTROL_MODE_PAGE: u8 = 0x0a;
/// Bytes asked for and sent with the Control mode page: an 8-byte MODE (10) header and the
/// 12-byte page, no block descriptors (DBD set).
pub const CONTROL_PAGE_LEN: u16 = 8 + 12;

/// MODE SENSE (10) of the current Control mode page, without block descriptors (SPC-4 §6.15):
/// 5A 08 0A 00 00 00 00 len(15:8) len(7:0) 00.
pub fn mode_sense_control() -> [u8; 10] {
    let len = CONTROL_PAGE_LEN.to_be_bytes();
    [0x5a, 0x08, CONTROL_MODE_PAGE, 0, 0, 0, 0, len[0], len[1], 0]
}

/// MODE SELECT (10) with PF set (SPC-4 §6.13): 55 10 00 00 00 00 00 len(15:8) len(7:0) 00.
pub fn mode_select(param_len: u16) -> [u8; 10] {
    let len = param_len.to_be_bytes();
    [0x55, 0x10, 0, 0, 0, 0, 0, len[0], len[1], 0]
}

/// From a MODE SENSE (10) answer holding the Control mode page: the page's bytes (page code,
/// length, then its fields), or `None` when the answer holds no such page.
pub fn control_page(answer: &[u8]) -> Option<&[u8]> {
    let block_descriptors = usize::from(u16::from_be_bytes([*answer.get(6)?, *answer.get(7)?]));
    let page = answer.get(8 + block_descriptors..)?;
    let len = usize::from(*page.get(1)?);
    (page.first()? & 0x3f == CONTROL_MODE_PAGE && len >= 10)
        .then(|| page.get(..2 + len))
        .flatten()
}

/// The MODE SELECT (10) parameter list that sets D_SENSE to `on` and leaves every other field
/// of `page` (as MODE SENSE returned it) unchanged: libata refuses any other change.
pub fn control_page_with_d_sense(page: &[u8], on: bool) -> Vec<u8> {
    let mut out = vec![0u8; 8];
    let mut p = page.to_vec();
    if let Some(b) = p.first_mut() {
        *b &= 0x3f; // PS is reserved in MODE SELECT
    }
    if let Some(b) = p.get_mut(2) {
        *b = if on { *b | 0x04 } else { *b & !0x04 };
    }
    out.extend_from_slice(&p);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_page_d_sense_round_trip() {
        // SPC-4 table 458/459: MODE SENSE (10) 5A, DBD=1 (08), page 0A, allocation length 20.
        assert_eq!(
            mode_sense_control(),
            [0x5a, 0x08, 0x0a, 0, 0, 0, 0, 0, 20, 0]
        );
        // MODE SELECT (10) 55, PF=1 (10), parameter list length 20.
        assert_eq!(mode_select(20), [0x55, 0x10, 0, 0, 0, 0, 0, 0, 20, 0]);
        // What libata answers (ata_msense_control): header, no block descriptors, page 0A of
        // length 0A with D_SENSE clear, busy timeout FFFF at bytes 8-9 of the page.
        let answer = [
            0x00, 0x12, 0, 0, 0, 0, 0, 0, // header: data length, no descriptors
            0x0a, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x1e,
        ];
        let page = control_page(&answer).unwrap();
        assert_eq!(page.len(), 12);
        let on = control_page_with_d_sense(page, true);
        assert_eq!(on[..8], [0; 8]);
        assert_eq!(
            on[8..],
            [0x0a, 0x0a, 0x06, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0x1e]
        );
        assert_eq!(control_page_with_d_sense(&on[8..], false)[10], 0x02);
        assert!(control_page(&answer[..10]).is_none());
        assert!(control_page(&[0u8; 3]).is_none());
    }

    #[test]
    fn cdbs_match_spc() {
        assert_eq!(inquiry(96), [0x12, 0, 0, 0, 0x60, 0]);
        assert_eq!(inquiry_vpd(0x80, 252), [0x12, 1, 0x80, 0, 0xfc, 0]);
        assert_eq!(
            report_supported_operation(SANITIZE, SANITIZE_CRYPTO_ERASE, 32),
            [0xa3, 0x0c, 0x02, 0x48, 0x00, 0x03, 0, 0, 0, 0x20, 0, 0]
        );
    }

    #[test]
    fn purge_cdbs_match_sbc() {
        // SBC-4 SANITIZE CDB: 48h; byte 1 = IMMED 80h | ZNR 40h | AUSE 20h | service action;
        // bytes 2-6 reserved; 7-8 parameter list length; 9 control.
        assert_eq!(
            sanitize(0x03, false, false, 0),
            [0x48, 0x03, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            sanitize(0x02, true, true, 0),
            [0x48, 0xa2, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            sanitize(0x01, true, false, 0x0204),
            [0x48, 0x81, 0, 0, 0, 0, 0, 0x02, 0x04, 0]
        );
        assert_eq!(
            sanitize(SANITIZE_EXIT_FAILURE_MODE as u8, false, false, 0),
            [0x48, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        // Overwrite parameter list: INVERT 80h | count; reserved; length (BE); pattern.
        assert_eq!(
            sanitize_overwrite_parameters(&[0xde, 0xad, 0xbe, 0xef], 3, true),
            [0x83, 0x00, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef]
        );
        assert_eq!(
            sanitize_overwrite_parameters(&[0x00], 0, false),
            [0x01, 0x00, 0x00, 0x01, 0x00]
        );
        assert_eq!(
            sanitize_overwrite_parameters(&[], 40, false),
            [0x1f, 0, 0, 0]
        );
        // SPC-4 REQUEST SENSE: 03h, DESC 0, allocation length in byte 4. TEST UNIT READY:
        // six zero bytes.
        assert_eq!(request_sense(252), [0x03, 0, 0, 0, 0xfc, 0]);
        assert_eq!(test_unit_ready(), [0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn inquiry_and_serial() {
        let mut buf = vec![0u8; 36];
        buf[8..16].copy_from_slice(b"QEMU    ");
        buf[16..32].copy_from_slice(b"QEMU HARDDISK   ");
        buf[32..36].copy_from_slice(b"2.5+");
        let i = ScsiInquiry::parse(&buf).unwrap();
        assert_eq!(
            (i.vendor.as_str(), i.product.as_str()),
            ("QEMU", "QEMU HARDDISK")
        );
        assert_eq!(i.revision, "2.5+");
        assert!(ScsiInquiry::parse(&buf[..35]).is_none());
        let vpd = [
            0x00, 0x80, 0x00, 0x08, b' ', b'S', b'C', b'S', b'I', b'-', b'1', b' ',
        ];
        assert_eq!(parse_unit_serial(&vpd).as_deref(), Some("SCSI-1"));
        // A page length beyond the buffer is cut at the buffer, not trusted.
        let lying = [0x00, 0x80, 0xff, 0xff, b'A'];
        assert_eq!(parse_unit_serial(&lying).as_deref(), Some("A"));
        assert!(parse_unit_serial(&[0x00, 0x83, 0, 0]).is_none());
        assert!(operation_supported(&[0, 0x03]));
        assert!(!operation_supported(&[0, 0x01]));
    }

    #[test]
    fn parsers_survive_random_bytes() {
        for buf in crate::device::transport::fake::random_buffers(3000, 80) {
            let _ = ScsiInquiry::parse(&buf);
            let _ = parse_unit_serial(&buf);
            let _ = operation_supported(&buf);
        }
    }
}
