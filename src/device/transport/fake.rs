//! Spec-faithful fake drives behind the transport traits, for tests here and in `tests/`.
//!
//! [`FakeAtaDrive`] is an ATA drive behind Linux libata's SCSI translation: it takes SAT ATA
//! PASS-THROUGH CDBs on [`ScsiTransport`] and answers as libata does (GOOD for a data command
//! that worked; sense with the output registers for CK_COND and for every error, in the sense
//! format chosen by [`SenseStyle`]). Its state machine follows ACS-4: the Security feature set
//! (SEC1-SEC6: disabled / enabled / locked, frozen, attempt counter), the Sanitize feature set
//! (idle, in progress, succeeded, failed; SANITIZE FREEZE LOCK), a host protected area, and
//! SMART. [`FakeNvmeController`] answers Identify, Get Log Page, Format NVM and Sanitize as a
//! controller does, including QEMU's answers (Invalid Opcode for Sanitize when SANICAP is 0,
//! Invalid Field for the sanitize log).
//!
//! What the fakes do not model: master passwords, DCO and accessible-max changes (SET MAX,
//! DCO SET/RESTORE, SET ACCESSIBLE MAX), data (erases do not touch any medium: purge tests check commands and states).

use std::time::Duration;

use super::{
    DataDir, NvmeAdmin, NvmeAdminCommand, NvmeCompletion, ScsiOutcome, ScsiTransport,
    TransportError, NVME_DNR, NVME_SC_INVALID_FIELD, NVME_SC_INVALID_OPCODE, NVME_SC_SUCCESS,
    SCSI_CHECK_CONDITION,
};

/// The sense format libata uses for pass-through answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenseStyle {
    /// D_SENSE = 0 on a current kernel: fixed format, SAT layout, for errors and for CK_COND.
    LibataFixed,
    /// Kernels before the 2024 fix: descriptor format for CK_COND successes, fixed format with
    /// the registers five bytes late for errors.
    LibataLegacy,
    /// D_SENSE = 1 (or a SATL that always uses descriptors).
    Descriptor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityState {
    /// SEC1/SEC2: no user password.
    Disabled,
    /// SEC5/SEC6: password set, unlocked.
    Enabled,
    /// SEC4: password set, locked (after a power cycle).
    Locked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SanitizeState {
    Idle,
    InProgress { progress: u16 },
    Succeeded,
    Failed,
}

#[derive(Debug, Clone)]
pub struct FakeAtaDrive {
    pub model: String,
    pub serial: String,
    pub firmware: String,
    /// Sectors the drive has.
    pub native_sectors: u64,
    /// Sectors the host sees (less than native: an HPA is set).
    pub accessible_sectors: u64,
    pub lba48: bool,
    pub hpa_supported: bool,
    /// Abort READ NATIVE MAX even though the HPA feature is claimed.
    pub refuse_native_max: bool,
    /// ACS-3 Accessible Max Address (word 119 bit 8): answers GET NATIVE MAX ADDRESS EXT.
    pub ama_supported: bool,
    /// A DCO: `Some(sectors)` the overlay allows (word 83 bit 11 set, DCO IDENTIFY answered).
    pub dco_sectors: Option<u64>,
    pub dco_bad_checksum: bool,
    pub security_supported: bool,
    pub enhanced_erase_supported: bool,
    pub security: SecurityState,
    pub frozen: bool,
    /// Wrong passwords left before the count expires (ACS: 5 after power-on).
    pub attempts_left: u8,
    /// Words 89 and 90 as the drive reports them.
    pub erase_time_word: u16,
    pub enhanced_erase_time_word: u16,
    pub password: [u8; 32],
    pub erase_prepared: bool,
    pub sanitize_crypto: bool,
    pub sanitize_block: bool,
    pub sanitize_overwrite: bool,
    pub sanitize: SanitizeState,
    pub sanitize_frozen: bool,
    /// SMART: `None` = not supported; else (threshold exceeded, attributes (id, raw)).
    pub smart: Option<(bool, Vec<(u8, u32)>)>,
    pub sense: SenseStyle,
    /// Accept ATA PASS-THROUGH (12) (some bridges do not).
    pub accepts_12: bool,
    /// Accept ATA PASS-THROUGH (16) (some old USB bridges do not).
    pub accepts_16: bool,
    /// Every CDB received, in order.
    pub received: Vec<Vec<u8>>,
}

const ABORTED_COMMAND: u8 = 0x0b;
const RECOVERED_ERROR: u8 = 0x01;
const ILLEGAL_REQUEST: u8 = 0x05;

/// Output registers of one command.
#[derive(Debug, Clone, Copy, Default)]
struct Out {
    error: u8,
    status: u8,
    device: u8,
    count: u16,
    lba: u64,
}

impl Out {
    fn ok() -> Out {
        Out {
            status: 0x50,
            ..Out::default()
        }
    }

    fn abort() -> Out {
        Out {
            error: 0x04,
            status: 0x41,
            ..Out::default()
        }
    }
}

/// A parsed ATA PASS-THROUGH CDB, read at the positions of SAT-4 tables 173 and 175.
struct PassThrough {
    protocol: u8,
    extend: bool,
    ck_cond: bool,
    command: u8,
    features: u16,
    count: u16,
    lba: u64,
    device: u8,
}

fn parse_pass_through(cdb: &[u8]) -> Option<PassThrough> {
    match (cdb.first()?, cdb.len()) {
        (0x85, 16) => Some(PassThrough {
            protocol: (cdb[1] >> 1) & 0x0f,
            extend: cdb[1] & 1 != 0,
            ck_cond: cdb[2] & 0x20 != 0,
            features: u16::from(cdb[3]) << 8 | u16::from(cdb[4]),
            count: u16::from(cdb[5]) << 8 | u16::from(cdb[6]),
            lba: u64::from(cdb[8])
                | u64::from(cdb[10]) << 8
                | u64::from(cdb[12]) << 16
                | u64::from(cdb[7]) << 24
                | u64::from(cdb[9]) << 32
                | u64::from(cdb[11]) << 40,
            device: cdb[13],
            command: cdb[14],
        }),
        (0xa1, 12) => Some(PassThrough {
            protocol: (cdb[1] >> 1) & 0x0f,
            extend: false,
            ck_cond: cdb[2] & 0x20 != 0,
            features: u16::from(cdb[3]),
            count: u16::from(cdb[4]),
            lba: u64::from(cdb[5]) | u64::from(cdb[6]) << 8 | u64::from(cdb[7]) << 16,
            device: cdb[8],
            command: cdb[9],
        }),
        _ => None,
    }
}

impl Default for FakeAtaDrive {
    /// A 1 TB SATA SSD with sanitize (crypto, block), security (enhanced), SMART, no HPA,
    /// security not frozen, behind a current kernel (fixed-format sense).
    fn default() -> FakeAtaDrive {
        FakeAtaDrive {
            model: "FAKE SSD 1TB".into(),
            serial: "FAKE0001".into(),
            firmware: "FW01".into(),
            native_sectors: 1_953_525_168,
            accessible_sectors: 1_953_525_168,
            lba48: true,
            hpa_supported: true,
            refuse_native_max: false,
            ama_supported: false,
            dco_sectors: None,
            dco_bad_checksum: false,
            security_supported: true,
            enhanced_erase_supported: true,
            security: SecurityState::Disabled,
            frozen: false,
            attempts_left: 5,
            erase_time_word: 2,
            enhanced_erase_time_word: 2,
            password: [0; 32],
            erase_prepared: false,
            sanitize_crypto: true,
            sanitize_block: true,
            sanitize_overwrite: false,
            sanitize: SanitizeState::Idle,
            sanitize_frozen: false,
            smart: Some((false, vec![(5, 0), (9, 1234), (197, 0), (198, 0)])),
            sense: SenseStyle::LibataFixed,
            accepts_12: true,
            accepts_16: true,
            received: Vec::new(),
        }
    }
}

impl FakeAtaDrive {
    /// What happens at power-on (ACS-4 Security state diagram: SEC4 if a password is set,
    /// frozen cleared, attempt counter reset; sanitize frozen cleared, failure state kept).
    pub fn power_cycle(&mut self) {
        if self.security != SecurityState::Disabled {
            self.security = SecurityState::Locked;
        }
        self.frozen = false;
        self.attempts_left = 5;
        self.erase_prepared = false;
        self.sanitize_frozen = false;
    }

    /// Finish a running sanitize, successfully or not.
    pub fn finish_sanitize(&mut self, success: bool) {
        if matches!(self.sanitize, SanitizeState::InProgress { .. }) {
            self.sanitize = if success {
                SanitizeState::Succeeded
            } else {
                SanitizeState::Failed
            };
        }
    }

    fn identify(&self) -> [u8; 512] {
        let mut w = [0u16; 256];
        let put_str = |w: &mut [u16; 256], first: usize, words: usize, s: &str| {
            let mut bytes = s.as_bytes().to_vec();
            bytes.resize(words * 2, b' ');
            for k in 0..words {
                w[first + k] = u16::from(bytes[2 * k]) << 8 | u16::from(bytes[2 * k + 1]);
            }
        };
        w[0] = 0x0040;
        put_str(&mut w, 10, 10, &self.serial);
        put_str(&mut w, 23, 4, &self.firmware);
        put_str(&mut w, 27, 20, &self.model);
        let sanitize_supported =
            self.sanitize_crypto || self.sanitize_block || self.sanitize_overwrite;
        w[59] = u16::from(sanitize_supported) << 12
            | u16::from(self.sanitize_crypto) << 13
            | u16::from(self.sanitize_overwrite) << 14
            | u16::from(self.sanitize_block) << 15;
        let sectors28 = self.accessible_sectors.min(0x0fff_ffff) as u32;
        w[60] = sectors28 as u16;
        w[61] = (sectors28 >> 16) as u16;
        w[82] = u16::from(self.smart.is_some())
            | u16::from(self.security_supported) << 1
            | u16::from(self.hpa_supported) << 10;
        w[83] = 0x4000 | u16::from(self.lba48) << 10 | u16::from(self.dco_sectors.is_some()) << 11;
        w[119] = 0x4000 | u16::from(self.ama_supported) << 8;
        w[84] = 0x4000;
        w[85] = u16::from(self.smart.is_some())
            | u16::from(self.security_supported && self.security != SecurityState::Disabled) << 1
            | u16::from(self.hpa_supported) << 10;
        w[86] = u16::from(self.lba48) << 10;
        w[87] = 0x4000;
        w[89] = self.erase_time_word;
        w[90] = self.enhanced_erase_time_word;
        for k in 0..4 {
            w[100 + k] = (self.accessible_sectors >> (16 * k)) as u16;
        }
        if self.security_supported {
            w[128] = 0x0001
                | u16::from(self.security != SecurityState::Disabled) << 1
                | u16::from(self.security == SecurityState::Locked) << 2
                | u16::from(self.frozen) << 3
                | u16::from(self.attempts_left == 0) << 4
                | u16::from(self.enhanced_erase_supported) << 5;
        }
        let mut buf = [0u8; 512];
        for (i, v) in w.iter().enumerate() {
            buf[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
        }
        buf[510] = 0xa5;
        let sum = buf[..511].iter().fold(0u8, |a, b| a.wrapping_add(*b));
        buf[511] = 0u8.wrapping_sub(sum);
        buf
    }

    fn smart_data(&self, attrs: &[(u8, u32)]) -> [u8; 512] {
        let mut buf = [0u8; 512];
        buf[0] = 0x10; // revision
        for (k, (id, raw)) in attrs.iter().take(30).enumerate() {
            let at = 2 + 12 * k;
            buf[at] = *id;
            buf[at + 3] = 100;
            buf[at + 4] = 100;
            buf[at + 5..at + 9].copy_from_slice(&raw.to_le_bytes());
        }
        let sum = buf[..511].iter().fold(0u8, |a, b| a.wrapping_add(*b));
        buf[511] = 0u8.wrapping_sub(sum);
        buf
    }

    fn password_matches(&self, block: &[u8]) -> Option<bool> {
        let id = u16::from_le_bytes([*block.first()?, *block.get(1)?]);
        if id & 1 != 0 {
            return None; // master password: not modelled
        }
        Some(block.get(2..34)? == self.password)
    }

    /// Run one taskfile; `data` is the PIO buffer.
    fn execute(&mut self, pt: &PassThrough, data: &mut DataDir<'_>) -> Out {
        let sanitizing = matches!(self.sanitize, SanitizeState::InProgress { .. });
        let locked = self.security == SecurityState::Locked;
        // ERASE UNIT must come immediately after ERASE PREPARE: any command in between undoes it.
        let prepared = std::mem::take(&mut self.erase_prepared);
        match (pt.command, pt.features) {
            (0xec, _) => {
                if let DataDir::In(b) = data {
                    let id = self.identify();
                    let n = b.len().min(512);
                    b[..n].copy_from_slice(&id[..n]);
                }
                Out::ok()
            }
            // SANITIZE DEVICE (ACS-4 §7.32).
            (0xb4, 0x0000) => {
                let mut o = Out::ok();
                match self.sanitize {
                    SanitizeState::Failed => {
                        o = Out::abort();
                        o.lba = 0x01; // reason: sanitize command unsuccessful
                    }
                    SanitizeState::InProgress { progress } => {
                        o.count = 0x4000;
                        o.lba = u64::from(progress);
                    }
                    SanitizeState::Succeeded => o.count = 0x8000,
                    SanitizeState::Idle => {}
                }
                if self.sanitize_frozen {
                    o.count |= 0x2000;
                }
                o
            }
            (0xb4, f @ (0x0011 | 0x0012 | 0x0014)) => {
                let (supported, key) = match f {
                    0x0011 => (self.sanitize_crypto, 0x4372_7970),
                    0x0012 => (self.sanitize_block, 0x426b_4572),
                    _ => (self.sanitize_overwrite, 0x4f57_0000_0000),
                };
                let key_ok = if f == 0x0014 {
                    pt.lba >> 32 == key >> 32
                } else {
                    pt.lba & 0xffff_ffff == key
                };
                if !supported || !key_ok || self.sanitize_frozen || locked || sanitizing {
                    return Out::abort();
                }
                self.sanitize = SanitizeState::InProgress { progress: 0 };
                Out::ok()
            }
            (0xb4, 0x0020) if !sanitizing => {
                self.sanitize_frozen = true;
                Out::ok()
            }
            _ if sanitizing => Out::abort(),
            (0x27 | 0xf8, _) if self.refuse_native_max => Out::abort(),
            (0x78, 0x0000) if self.ama_supported => Out {
                lba: self.native_sectors.saturating_sub(1),
                device: 0x40,
                ..Out::ok()
            },
            (0xb1, 0x00c2) if self.dco_sectors.is_some() => {
                let mut w = [0u16; 256];
                w[0] = 0x0002;
                let max = self.dco_sectors.unwrap_or(1).saturating_sub(1);
                for k in 0..4 {
                    w[3 + k] = (max >> (16 * k)) as u16;
                }
                let mut page = [0u8; 512];
                for (i, v) in w.iter().enumerate() {
                    page[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
                }
                page[510] = 0xa5;
                let sum = page[..511].iter().fold(0u8, |a, b| a.wrapping_add(*b));
                page[511] = 0u8.wrapping_sub(sum) ^ u8::from(self.dco_bad_checksum);
                if let DataDir::In(b) = data {
                    let n = b.len().min(512);
                    b[..n].copy_from_slice(&page[..n]);
                }
                Out::ok()
            }
            (0x27, _) if self.lba48 && self.hpa_supported => Out {
                lba: self.native_sectors.saturating_sub(1),
                device: 0x40,
                ..Out::ok()
            },
            (0xf8, _) if self.hpa_supported => {
                let max = self.native_sectors.saturating_sub(1).min(0x0fff_ffff);
                Out {
                    lba: max & 0x00ff_ffff,
                    device: 0x40 | ((max >> 24) & 0x0f) as u8,
                    ..Out::ok()
                }
            }
            (0xb0, 0x00da) if pt.lba >> 8 == 0xc24f => match &self.smart {
                Some((exceeded, _)) => Out {
                    lba: if *exceeded { 0x2c_f400 } else { 0xc2_4f00 },
                    ..Out::ok()
                },
                None => Out::abort(),
            },
            (0xb0, 0x00d0) if pt.lba >> 8 == 0xc24f => match &self.smart {
                Some((_, attrs)) => {
                    let page = self.smart_data(attrs);
                    if let DataDir::In(b) = data {
                        let n = b.len().min(512);
                        b[..n].copy_from_slice(&page[..n]);
                    }
                    Out::ok()
                }
                None => Out::abort(),
            },
            // Security feature set (ACS-4 §4.18): every command aborts while frozen, except
            // FREEZE LOCK itself.
            (0xf1..=0xf6, _) if !self.security_supported => Out::abort(),
            (0xf5, _) => {
                if locked {
                    return Out::abort();
                }
                self.frozen = true;
                Out::ok()
            }
            (0xf1..=0xf6, _) if self.frozen => Out::abort(),
            (0xf3, _) => {
                self.erase_prepared = true;
                Out::ok()
            }
            (c @ (0xf1 | 0xf2 | 0xf4 | 0xf6), _) => {
                let DataDir::Out(block) = data else {
                    return Out::abort();
                };
                match c {
                    0xf1 => {
                        if locked || block.len() < 34 || block[0] & 1 != 0 {
                            return Out::abort();
                        }
                        self.password.copy_from_slice(&block[2..34]);
                        self.security = SecurityState::Enabled;
                        Out::ok()
                    }
                    _ => {
                        if c == 0xf4 && !prepared {
                            return Out::abort();
                        }
                        if self.attempts_left == 0 && c != 0xf4 {
                            return Out::abort();
                        }
                        match self.password_matches(block) {
                            Some(true) if self.security != SecurityState::Disabled => {
                                if c == 0xf2 {
                                    self.security = SecurityState::Enabled;
                                } else if c == 0xf6 && locked {
                                    return Out::abort();
                                } else {
                                    self.security = SecurityState::Disabled;
                                    self.password = [0; 32];
                                }
                                Out::ok()
                            }
                            _ => {
                                self.attempts_left = self.attempts_left.saturating_sub(1);
                                Out::abort()
                            }
                        }
                    }
                }
            }
            _ => Out::abort(),
        }
    }

    fn sense(&self, key: u8, asc: u8, ascq: u8, o: &Out, extended: bool) -> Vec<u8> {
        let error = key == ABORTED_COMMAND;
        let descriptor = match self.sense {
            SenseStyle::Descriptor => true,
            SenseStyle::LibataLegacy => !error,
            SenseStyle::LibataFixed => false,
        };
        let l = o.lba.to_le_bytes();
        let c = o.count.to_le_bytes();
        if descriptor {
            // libata's ATA Status Return descriptor.
            let mut sb = vec![0x72, key, asc, ascq, 0, 0, 0, 14, 0x09, 0x0c];
            let (c_hi, hi) = if extended {
                (c[1], [l[3], l[4], l[5]])
            } else {
                (0, [0, 0, 0])
            };
            sb.extend_from_slice(&[
                u8::from(extended),
                o.error,
                c_hi,
                c[0],
                hi[0],
                l[0],
                hi[1],
                l[1],
                hi[2],
                l[2],
                o.device,
                o.status,
            ]);
            return sb;
        }
        let mut flags = 0u8;
        if extended {
            flags |= 0x80;
            if c[1] != 0 {
                flags |= 0x40;
            }
            if l[3] != 0 || l[4] != 0 || l[5] != 0 {
                flags |= 0x20;
            }
        }
        let mut sb = vec![0u8; 32];
        sb[2] = key;
        sb[7] = 0x0a;
        sb[12] = asc;
        sb[13] = ascq;
        let (info, csi) = if self.sense == SenseStyle::LibataLegacy {
            sb[0] = 0x70;
            (8, 16)
        } else {
            sb[0] = 0xf0;
            (3, 8)
        };
        sb[info..info + 4].copy_from_slice(&[o.error, o.status, o.device, c[0]]);
        sb[csi] = flags;
        sb[csi + 1..csi + 4].copy_from_slice(&l[..3]);
        if self.sense == SenseStyle::LibataFixed {
            sb.truncate(18);
        }
        sb
    }

    fn inquiry(&self, cdb: &[u8], data: &mut DataDir<'_>) -> ScsiOutcome {
        let DataDir::In(b) = data else {
            return illegal_request(0x24);
        };
        let page: Vec<u8> = match (cdb.get(1).map(|v| v & 1), cdb.get(2)) {
            (Some(0), _) => {
                // libata's standard INQUIRY: vendor "ATA", product = model, revision = firmware.
                let mut p = vec![0u8; 36];
                p[2] = 0x05;
                p[4] = 31;
                let mut put = |at: usize, len: usize, s: &str| {
                    let mut bytes = s.as_bytes().to_vec();
                    bytes.resize(len, b' ');
                    p[at..at + len].copy_from_slice(&bytes[..len]);
                };
                put(8, 8, "ATA");
                put(16, 16, &self.model);
                put(32, 4, &self.firmware);
                p
            }
            (Some(1), Some(0x80)) => {
                let mut p = vec![0x00, 0x80, 0x00, 20];
                let mut s = self.serial.as_bytes().to_vec();
                s.resize(20, b' ');
                p.extend_from_slice(&s);
                p
            }
            _ => return illegal_request(0x24),
        };
        let n = b.len().min(page.len());
        b[..n].copy_from_slice(&page[..n]);
        ScsiOutcome {
            residual: b.len() - n,
            ..ScsiOutcome::good()
        }
    }
}

fn illegal_request(asc: u8) -> ScsiOutcome {
    let mut sb = vec![0u8; 18];
    sb[0] = 0x70;
    sb[2] = ILLEGAL_REQUEST;
    sb[7] = 0x0a;
    sb[12] = asc;
    ScsiOutcome {
        status: SCSI_CHECK_CONDITION,
        sense: sb,
        residual: 0,
    }
}

impl ScsiTransport for FakeAtaDrive {
    fn scsi(
        &mut self,
        cdb: &[u8],
        mut data: DataDir<'_>,
        _timeout: Duration,
    ) -> Result<ScsiOutcome, TransportError> {
        self.received.push(cdb.to_vec());
        if cdb.first() == Some(&0x12) {
            return Ok(self.inquiry(cdb, &mut data));
        }
        if (cdb.first() == Some(&0xa1) && !self.accepts_12)
            || (cdb.first() == Some(&0x85) && !self.accepts_16)
        {
            return Ok(illegal_request(0x20));
        }
        let Some(pt) = parse_pass_through(cdb) else {
            return Ok(illegal_request(0x20));
        };
        // The protocol must match the buffer (libata rejects mismatches as invalid fields).
        let direction_ok = matches!(
            (&data, pt.protocol),
            (DataDir::None, 3) | (DataDir::In(_), 4 | 6) | (DataDir::Out(_), 5 | 6)
        );
        // T_LENGTH = COUNT in 512-byte blocks: the transfer the CDB announces must be the
        // buffer handed over.
        let announced = if pt.protocol == 3 {
            0
        } else {
            usize::from(pt.count) * 512
        };
        if !direction_ok || announced != data.len() {
            return Ok(illegal_request(0x24));
        }
        let mut out = self.execute(&pt, &mut data);
        if out.device == 0 {
            out.device = pt.device;
        }
        let error = out.status & 0x01 != 0;
        if error {
            return Ok(ScsiOutcome {
                status: SCSI_CHECK_CONDITION,
                sense: self.sense(ABORTED_COMMAND, 0, 0, &out, pt.extend),
                residual: data.len(),
            });
        }
        if pt.ck_cond {
            return Ok(ScsiOutcome {
                status: SCSI_CHECK_CONDITION,
                sense: self.sense(RECOVERED_ERROR, 0x00, 0x1d, &out, pt.extend),
                residual: 0,
            });
        }
        Ok(ScsiOutcome::good())
    }
}

/// A sanitize log as a controller keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeSanitizeLog {
    pub sprog: u16,
    pub sstat: u16,
}

#[derive(Debug, Clone)]
pub struct FakeNvmeController {
    pub serial: String,
    pub model: String,
    pub firmware: String,
    pub oacs: u16,
    pub sanicap: u32,
    pub fna: u8,
    /// Namespace 1: size in blocks and LBADS.
    pub nsze: u64,
    pub lbads: u8,
    pub sanitize_log: FakeSanitizeLog,
    pub critical_warning: u8,
    pub percentage_used: u8,
    pub power_on_hours: u64,
    pub media_errors: u64,
    pub received: Vec<NvmeAdminCommand>,
}

impl FakeNvmeController {
    /// What QEMU 7.2's `-device nvme` reports: OACS 0x10a, SANICAP 0, FNA 0.
    pub fn qemu(serial: &str) -> FakeNvmeController {
        FakeNvmeController {
            serial: serial.into(),
            model: "QEMU NVMe Ctrl".into(),
            firmware: "7.2.0".into(),
            oacs: 0x010a,
            sanicap: 0,
            fna: 0,
            nsze: 2048,
            lbads: 9,
            sanitize_log: FakeSanitizeLog { sprog: 0, sstat: 0 },
            critical_warning: 0,
            percentage_used: 0,
            power_on_hours: 0,
            media_errors: 0,
            received: Vec::new(),
        }
    }

    /// A drive with every sanitize action and crypto-erase Format.
    pub fn full(serial: &str) -> FakeNvmeController {
        FakeNvmeController {
            model: "FAKE NVMe SSD".into(),
            firmware: "1.0".into(),
            oacs: 0x0006,
            sanicap: 0x7,
            fna: 0x4,
            ..FakeNvmeController::qemu(serial)
        }
    }

    fn identify_controller(&self) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let mut put = |at: usize, len: usize, s: &str| {
            let mut bytes = s.as_bytes().to_vec();
            bytes.resize(len, b' ');
            b[at..at + len].copy_from_slice(&bytes[..len]);
        };
        put(4, 20, &self.serial);
        put(24, 40, &self.model);
        put(64, 8, &self.firmware);
        b[0x100..0x102].copy_from_slice(&self.oacs.to_le_bytes());
        b[0x148..0x14c].copy_from_slice(&self.sanicap.to_le_bytes());
        b[0x20c] = self.fna;
        b
    }

    fn identify_namespace(&self) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[0..8].copy_from_slice(&self.nsze.to_le_bytes());
        b[8..16].copy_from_slice(&self.nsze.to_le_bytes());
        b[25] = 0;
        b[26] = 0;
        b[128 + 2] = self.lbads;
        b
    }

    fn log(&self, lid: u8) -> Option<Vec<u8>> {
        let mut b = vec![0u8; 512];
        match lid {
            0x02 => {
                b[0] = self.critical_warning;
                b[5] = self.percentage_used;
                b[128..136].copy_from_slice(&self.power_on_hours.to_le_bytes());
                b[160..168].copy_from_slice(&self.media_errors.to_le_bytes());
            }
            0x81 if self.sanicap & 0x7 != 0 => {
                b[0..2].copy_from_slice(&self.sanitize_log.sprog.to_le_bytes());
                b[2..4].copy_from_slice(&self.sanitize_log.sstat.to_le_bytes());
                b[8..32].copy_from_slice(&[0xff; 24]);
            }
            _ => return None,
        }
        Some(b)
    }
}

fn status(sc: u16) -> NvmeCompletion {
    NvmeCompletion {
        status: if sc == NVME_SC_SUCCESS {
            0
        } else {
            NVME_DNR | sc
        },
        result: 0,
    }
}

impl NvmeAdmin for FakeNvmeController {
    fn admin(
        &mut self,
        cmd: &NvmeAdminCommand,
        data: DataDir<'_>,
        _timeout: Duration,
    ) -> Result<NvmeCompletion, TransportError> {
        self.received.push(*cmd);
        let fill = |data: DataDir<'_>, page: &[u8]| {
            if let DataDir::In(b) = data {
                let n = b.len().min(page.len());
                b[..n].copy_from_slice(&page[..n]);
            }
        };
        let sanitizing = self.sanitize_log.sstat & 0x7 == 2;
        Ok(match cmd.opcode {
            0x06 => match cmd.cdw10 & 0xff {
                0x01 => {
                    fill(data, &self.identify_controller());
                    status(NVME_SC_SUCCESS)
                }
                0x00 if cmd.nsid == 1 => {
                    fill(data, &self.identify_namespace());
                    status(NVME_SC_SUCCESS)
                }
                0x00 => status(0x000b), // Invalid Namespace or Format
                _ => status(NVME_SC_INVALID_FIELD),
            },
            0x02 => match self.log((cmd.cdw10 & 0xff) as u8) {
                Some(page) => {
                    let dwords = ((cmd.cdw10 >> 16) | (cmd.cdw11 & 0xffff) << 16) as usize + 1;
                    fill(data, &page[..(dwords * 4).min(page.len())]);
                    status(NVME_SC_SUCCESS)
                }
                None => status(NVME_SC_INVALID_FIELD),
            },
            0x80 if self.oacs & 0x2 != 0 => {
                let ses = (cmd.cdw10 >> 9) & 0x7;
                if sanitizing || ses > 2 || (ses == 2 && self.fna & 0x4 == 0) {
                    status(NVME_SC_INVALID_FIELD)
                } else {
                    status(NVME_SC_SUCCESS)
                }
            }
            0x84 if self.sanicap & 0x7 != 0 => {
                let sanact = cmd.cdw10 & 0x7;
                let supported = match sanact {
                    2 => self.sanicap & 0x2 != 0,
                    3 => self.sanicap & 0x4 != 0,
                    4 => self.sanicap & 0x1 != 0,
                    1 => self.sanitize_log.sstat & 0x7 == 3,
                    _ => false,
                };
                if !supported || sanitizing {
                    status(NVME_SC_INVALID_FIELD)
                } else if sanact == 1 {
                    self.sanitize_log = FakeSanitizeLog {
                        sprog: 0xffff,
                        sstat: 0,
                    };
                    status(NVME_SC_SUCCESS)
                } else {
                    self.sanitize_log = FakeSanitizeLog { sprog: 0, sstat: 2 };
                    status(NVME_SC_SUCCESS)
                }
            }
            _ => status(NVME_SC_INVALID_OPCODE),
        })
    }
}

/// Deterministic pseudo-random buffers of every length below `max_len`, for parser fuzzing.
pub fn random_buffers(count: usize, max_len: usize) -> impl Iterator<Item = Vec<u8>> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..count).map(move |i| {
        let len = if i % 4 == 0 {
            max_len.saturating_sub(1 + i % 97)
        } else {
            (next() % max_len.max(1) as u64) as usize
        };
        (0..len).map(|_| next() as u8).collect()
    })
}
