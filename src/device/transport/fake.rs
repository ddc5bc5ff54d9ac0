//! Spec-faithful fake drives behind the transport traits, for tests here and in `tests/`.
//!
//! [`FakeAtaDrive`] is an ATA drive behind Linux libata's SCSI translation: it takes SAT ATA
//! PASS-THROUGH CDBs on [`ScsiTransport`] and answers as libata does (GOOD for a data command
//! that worked; sense with the output registers for CK_COND and for every error, in the sense
//! format chosen by [`SenseStyle`]). Its state machine follows ACS-4: the Security feature set
//! (SEC1-SEC6: disabled / enabled / locked, frozen, attempt counter, user and master passwords
//! with High / Maximum capability, ERASE UNIT only right after ERASE PREPARE and leaving
//! security disabled), the Sanitize feature set (idle, in progress, succeeded, failed; FAILURE
//! MODE and CLEAR SANITIZE OPERATION FAILED; SANITIZE FREEZE LOCK), a host protected area,
//! and SMART; optionally a USB bridge that drops long commands. [`FakeNvmeController`] answers
//! Identify, Get Log Page, Format NVM and Sanitize as a controller does (restricted and
//! unrestricted failure modes, NDAS, the sanitize log's status, passes and estimates),
//! including QEMU's answers (Invalid Opcode for Sanitize when SANICAP is 0, Invalid Field for
//! the sanitize log). [`FakeScsiDisk`] is an SBC-4 disk with SANITIZE (IMMED, AUSE, EXIT
//! FAILURE MODE) polled through TEST UNIT READY and REQUEST SENSE.
//!
//! Each fake can own a [`FakeMedium`]: a regular file a test created, rewritten with a
//! [`MediumEffect`] when an erase completes successfully (never on a failure), so that purge
//! verification reads back what a drive would leave. Sanitize operations run for a set number
//! of status polls (`sanitize_polls`), the last of which sees them end.
//!
//! Hidden areas: a host protected area set volatile or non-volatile (SET MAX ADDRESS (EXT)
//! only right after READ NATIVE MAX ADDRESS of the same width, one non-volatile change per
//! power cycle, a volatile one lost at [`FakeAtaDrive::hardware_reset`] or power-on), ACS-3
//! accessible max address (non-volatile, FREEZE), a DCO restriction (DEVICE CONFIGURATION
//! RESTORE refused while an HPA is set, every DCO command refused after FREEZE LOCK).
//!
//! Not modelled: DEVICE CONFIGURATION SET, SET MAX passwords/locks; reads and writes of user data through the fakes (the medium file is read directly);
//! time (an erase takes polls, not seconds; ERASE UNIT completes at once); what a drive does
//! to other commands while a sanitize has failed (ATA and NVMe answer them as usual, the SCSI
//! disk only knows INQUIRY, RSOC, TUR, REQUEST SENSE and SANITIZE); an interrupted sanitize
//! resuming after a power cycle (it just stays in progress); SATL-managed security through
//! SECURITY PROTOCOL OUT; several namespaces or LBA formats (Format accepts format 0 of
//! namespace 1 only); the overwrite pattern (the medium gets its effect, not the pattern);
//! NVMe and SCSI behind bridges.

mod medium;
mod scsi_disk;

use std::path::PathBuf;
use std::time::Duration;

pub use medium::{FakeMedium, MediumEffect};
pub use scsi_disk::FakeScsiDisk;

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

/// Master Password Capability (ACS-4), chosen by the last SET PASSWORD of the user password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterCapability {
    /// The master password unlocks, disables and erases like the user password.
    High,
    /// The master password can only erase (ERASE UNIT); UNLOCK and DISABLE with it abort.
    Maximum,
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
    /// A DCO restriction is `native_sectors` below it; DEVICE CONFIGURATION RESTORE raises
    /// the native (and accessible) maximum back to it.
    pub dco_sectors: Option<u64>,
    pub dco_bad_checksum: bool,
    /// DEVICE CONFIGURATION FREEZE LOCK was issued: every DCO command aborts until power-on.
    pub dco_frozen: bool,
    /// FREEZE ACCESSIBLE MAX ADDRESS EXT was issued: SET ACCESSIBLE MAX aborts until power-on.
    pub ama_frozen: bool,
    /// The accessible sectors the drive goes back to at power-on or hardware reset, when the
    /// current maximum was set by a volatile SET MAX ADDRESS (`None`: the current one is the
    /// non-volatile setting).
    pub power_on_accessible: Option<u64>,
    /// A non-volatile SET MAX ADDRESS (EXT) was accepted since power-on: another one aborts.
    pub nonvolatile_set_max_done: bool,
    /// The previous command was READ NATIVE MAX ADDRESS (0xF8) or its EXT form (0x27): the
    /// only state in which the matching SET MAX ADDRESS is accepted (the fake's bookkeeping).
    pub native_max_just_read: Option<u8>,
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
    /// The master password (word 0 bit 0 = 1 in the command's data).
    pub master_password: [u8; 32],
    pub master_capability: MasterCapability,
    pub erase_prepared: bool,
    pub sanitize_crypto: bool,
    pub sanitize_block: bool,
    pub sanitize_overwrite: bool,
    pub sanitize: SanitizeState,
    pub sanitize_frozen: bool,
    /// When > 0: every SANITIZE STATUS EXT while a sanitize runs advances its progress, and the
    /// `sanitize_polls`-th reports it finished. 0: it runs until [`FakeAtaDrive::finish_sanitize`].
    pub sanitize_polls: u32,
    /// Polls seen by the running sanitize (the fake's bookkeeping).
    pub sanitize_polls_done: u32,
    /// The running or last sanitize ends failed instead of succeeded.
    pub fail_sanitize: bool,
    /// FAILURE MODE (AUSE) of the running or last sanitize: when set, a failure can be cleared
    /// with SANITIZE STATUS EXT + CLEAR SANITIZE OPERATION FAILED.
    pub sanitize_ause: bool,
    /// The user data; rewritten with its effect when an erase succeeds, never on a failure.
    pub medium: Option<FakeMedium>,
    /// Erases (sanitize or security erase) that completed successfully.
    pub erases_completed: u32,
    /// A USB bridge that drops commands running longer than its timeout: SECURITY ERASE UNIT
    /// and the SANITIZE operations get `Err(TransportError::Timeout)`. ERASE UNIT is cut by
    /// the bridge resetting the drive (medium untouched, drive locked with its password);
    /// a sanitize had started and goes on (ACS: it survives resets).
    pub bridge_drops_long_commands: bool,
    /// SMART: `None` = not supported; else (threshold exceeded, attributes (id, raw)).
    pub smart: Option<(bool, Vec<(u8, u32)>)>,
    pub sense: SenseStyle,
    /// Accept ATA PASS-THROUGH (12) (some bridges do not).
    pub accepts_12: bool,
    /// Accept ATA PASS-THROUGH (16) (some old USB bridges do not).
    pub accepts_16: bool,
    /// Answer MODE SENSE / MODE SELECT of the Control mode page as libata does
    /// (ata_msense_control / ata_mselect_control): D_SENSE switches between
    /// [`SenseStyle::LibataFixed`] and [`SenseStyle::Descriptor`]; any other change is refused.
    pub control_page: bool,
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
    /// A bridge in the path dropped the command: the host gets no answer.
    dropped: bool,
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
            dco_frozen: false,
            ama_frozen: false,
            power_on_accessible: None,
            nonvolatile_set_max_done: false,
            native_max_just_read: None,
            security_supported: true,
            enhanced_erase_supported: true,
            security: SecurityState::Disabled,
            frozen: false,
            attempts_left: 5,
            erase_time_word: 2,
            enhanced_erase_time_word: 2,
            password: [0; 32],
            master_password: [0; 32],
            master_capability: MasterCapability::High,
            erase_prepared: false,
            sanitize_crypto: true,
            sanitize_block: true,
            sanitize_overwrite: false,
            sanitize: SanitizeState::Idle,
            sanitize_frozen: false,
            sanitize_polls: 0,
            sanitize_polls_done: 0,
            fail_sanitize: false,
            sanitize_ause: false,
            medium: None,
            erases_completed: 0,
            bridge_drops_long_commands: false,
            smart: Some((false, vec![(5, 0), (9, 1234), (197, 0), (198, 0)])),
            sense: SenseStyle::LibataFixed,
            accepts_12: true,
            accepts_16: true,
            control_page: true,
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
        self.hardware_reset();
        self.nonvolatile_set_max_done = false;
        self.dco_frozen = false;
        self.ama_frozen = false;
    }

    /// What a hardware reset (a SATA COMRESET, as libata's error handler sends) does to the
    /// address settings: a volatile SET MAX ADDRESS is lost, the non-volatile maximum comes
    /// back (ACS: VV cleared = "lost after a power-on reset or a hardware reset").
    pub fn hardware_reset(&mut self) {
        if let Some(a) = self.power_on_accessible.take() {
            self.accessible_sectors = a;
        }
        self.native_max_just_read = None;
    }

    /// SET MAX ADDRESS (EXT) to `max_lba`: only right after READ NATIVE MAX ADDRESS of the same
    /// width, never beyond the native maximum, one non-volatile change per power cycle.
    fn set_max(
        &mut self,
        native_read: Option<u8>,
        expected_read: u8,
        max_lba: u64,
        count: u16,
    ) -> Out {
        let sectors = max_lba.saturating_add(1);
        if native_read != Some(expected_read) || sectors > self.native_sectors {
            return Out::abort();
        }
        if count & 1 != 0 {
            if self.nonvolatile_set_max_done {
                return Out::abort();
            }
            self.nonvolatile_set_max_done = true;
            self.power_on_accessible = None;
        } else if self.power_on_accessible.is_none() {
            self.power_on_accessible = Some(self.accessible_sectors);
        }
        self.accessible_sectors = sectors;
        Out::ok()
    }

    /// Finish a running sanitize, successfully (the medium gets its effect) or not.
    pub fn finish_sanitize(&mut self, success: bool) {
        if matches!(self.sanitize, SanitizeState::InProgress { .. }) {
            self.sanitize = if success && apply_medium(&self.medium) {
                self.erases_completed += 1;
                SanitizeState::Succeeded
            } else {
                SanitizeState::Failed
            };
        }
    }

    /// One SANITIZE STATUS EXT seen while a sanitize runs, when `sanitize_polls` > 0.
    fn poll_sanitize(&mut self) {
        if self.sanitize_polls == 0 {
            return;
        }
        self.sanitize_polls_done += 1;
        if self.sanitize_polls_done >= self.sanitize_polls {
            self.finish_sanitize(!self.fail_sanitize);
        } else {
            self.sanitize = SanitizeState::InProgress {
                progress: progress(self.sanitize_polls_done, self.sanitize_polls),
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
                | u16::from(self.enhanced_erase_supported) << 5
                | u16::from(self.master_capability == MasterCapability::Maximum) << 8;
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

    /// Which password a Security command's data names and whether it matches: `None` for a
    /// block too short to hold one.
    fn password_check(&self, block: &[u8]) -> Option<(Identifier, bool)> {
        let control = u16::from_le_bytes([*block.first()?, *block.get(1)?]);
        let given = block.get(2..34)?;
        Some(if control & 1 != 0 {
            (Identifier::Master, given == self.master_password)
        } else {
            (Identifier::User, given == self.password)
        })
    }

    /// Run one taskfile; `data` is the PIO buffer.
    fn execute(&mut self, pt: &PassThrough, data: &mut DataDir<'_>) -> Out {
        let sanitizing = matches!(self.sanitize, SanitizeState::InProgress { .. });
        let locked = self.security == SecurityState::Locked;
        // ERASE UNIT must come immediately after ERASE PREPARE: any command in between undoes it.
        let prepared = std::mem::take(&mut self.erase_prepared);
        // SET MAX ADDRESS must come immediately after READ NATIVE MAX ADDRESS.
        let native_read = self.native_max_just_read.take();
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
                if sanitizing {
                    self.poll_sanitize();
                }
                // CLEAR SANITIZE OPERATION FAILED leaves the failed state only when the
                // failed sanitize had FAILURE MODE set (ACS-4 Sanitize state machine, SD4).
                if pt.count & 1 != 0 && self.sanitize == SanitizeState::Failed && self.sanitize_ause
                {
                    self.sanitize = SanitizeState::Idle;
                }
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
                self.sanitize_polls_done = 0;
                self.sanitize_ause = pt.count & 0x0010 != 0;
                if self.bridge_drops_long_commands {
                    // The drive started it; the answer is lost and the bridge resets the drive.
                    self.power_cycle();
                    return Out {
                        dropped: true,
                        ..Out::ok()
                    };
                }
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
            (0xb1, _) if self.dco_sectors.is_some() && self.dco_frozen => Out::abort(),
            (0xb1, 0x00c1) if self.dco_sectors.is_some() => {
                self.dco_frozen = true;
                Out::ok()
            }
            // DEVICE CONFIGURATION RESTORE: aborted while an HPA is set (ATA8-ACS).
            (0xb1, 0x00c0) => match self.dco_sectors {
                Some(factory) if self.accessible_sectors >= self.native_sectors => {
                    self.native_sectors = factory;
                    self.accessible_sectors = factory;
                    self.power_on_accessible = None;
                    Out::ok()
                }
                _ => Out::abort(),
            },
            (0x78, 0x0001) if self.ama_supported => {
                let sectors = pt.lba.saturating_add(1);
                if self.ama_frozen || sectors > self.native_sectors {
                    return Out::abort();
                }
                // Non-volatile (ACS-3): a power cycle keeps it.
                self.accessible_sectors = sectors;
                self.power_on_accessible = None;
                Out::ok()
            }
            (0x78, 0x0002) if self.ama_supported => {
                self.ama_frozen = true;
                Out::ok()
            }
            (0x37, 0x0000) if self.lba48 && self.hpa_supported => {
                self.set_max(native_read, 0x27, pt.lba & 0xffff_ffff_ffff, pt.count)
            }
            (0xf9, 0x0000) if self.hpa_supported => {
                let lba = (pt.lba & 0x00ff_ffff) | u64::from(pt.device & 0x0f) << 24;
                self.set_max(native_read, 0xf8, lba, pt.count)
            }
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
            (0x27, _) if self.lba48 && self.hpa_supported => {
                self.native_max_just_read = Some(0x27);
                Out {
                    lba: self.native_sectors.saturating_sub(1),
                    device: 0x40,
                    ..Out::ok()
                }
            }
            (0xf8, _) if self.hpa_supported => {
                self.native_max_just_read = Some(0xf8);
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
                let Some(control) = block.get(..2).map(|w| u16::from_le_bytes([w[0], w[1]])) else {
                    return Out::abort();
                };
                if c == 0xf1 {
                    let Some(new) = block.get(2..34) else {
                        return Out::abort();
                    };
                    if locked {
                        return Out::abort();
                    }
                    if control & 1 != 0 {
                        // The master password: security state unchanged.
                        self.master_password.copy_from_slice(new);
                    } else {
                        self.password.copy_from_slice(new);
                        self.security = SecurityState::Enabled;
                        self.master_capability = if control & 0x0100 != 0 {
                            MasterCapability::Maximum
                        } else {
                            MasterCapability::High
                        };
                    }
                    return Out::ok();
                }
                if c == 0xf4 && !prepared {
                    return Out::abort();
                }
                if c == 0xf4 && control & 0x0002 != 0 && !self.enhanced_erase_supported {
                    return Out::abort();
                }
                if self.attempts_left == 0 && c != 0xf4 {
                    return Out::abort();
                }
                let identifier = match self.password_check(block) {
                    Some((identifier, true)) if self.security != SecurityState::Disabled => {
                        identifier
                    }
                    _ => {
                        self.attempts_left = self.attempts_left.saturating_sub(1);
                        return Out::abort();
                    }
                };
                // Maximum: the master password only erases.
                if identifier == Identifier::Master
                    && self.master_capability == MasterCapability::Maximum
                    && c != 0xf4
                {
                    return Out::abort();
                }
                match c {
                    0xf2 => self.security = SecurityState::Enabled,
                    0xf6 if locked => return Out::abort(),
                    0xf6 => {
                        self.security = SecurityState::Disabled;
                        self.password = [0; 32];
                    }
                    _ => {
                        if self.bridge_drops_long_commands {
                            // The bridge times out and resets the drive mid-erase: nothing
                            // erased, the password still set, locked at the reset.
                            self.power_cycle();
                            return Out {
                                dropped: true,
                                ..Out::ok()
                            };
                        }
                        if !apply_medium(&self.medium) {
                            return Out::abort();
                        }
                        // ACS-4: a successful erase leaves security disabled, the user
                        // password cleared (the master password stays).
                        self.erases_completed += 1;
                        self.security = SecurityState::Disabled;
                        self.password = [0; 32];
                    }
                }
                Out::ok()
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

impl FakeAtaDrive {
    /// libata's Control mode page: 0A 0A, byte 2 = 0x02 (GLTSD) | D_SENSE, busy timeout FFFF,
    /// extended self-test time 30 s.
    fn control_page_bytes(&self) -> [u8; 12] {
        let d_sense = if self.sense == SenseStyle::Descriptor {
            0x04
        } else {
            0
        };
        [
            0x0a,
            0x0a,
            0x02 | d_sense,
            0,
            0,
            0,
            0,
            0,
            0xff,
            0xff,
            0,
            0x1e,
        ]
    }

    fn control_mode_page(&mut self, cdb: &[u8], data: &mut DataDir<'_>) -> ScsiOutcome {
        if !self.control_page {
            return illegal_request(0x20);
        }
        match (cdb[0], data) {
            (0x5a, DataDir::In(buf)) if cdb.get(2).map(|p| p & 0x3f) == Some(0x0a) => {
                let mut answer = vec![0u8, 18, 0, 0, 0, 0, 0, 0];
                answer.extend_from_slice(&self.control_page_bytes());
                let n = buf.len().min(answer.len());
                buf[..n].copy_from_slice(&answer[..n]);
                ScsiOutcome::good()
            }
            (0x55, DataDir::Out(params)) if cdb.get(1).is_some_and(|b| b & 0x10 != 0) => {
                let current = self.control_page_bytes();
                let Some(page) = params.get(8..8 + current.len()) else {
                    return illegal_request(0x1a); // parameter list length error
                };
                // Only D_SENSE may change (ata_mselect_control).
                let others_same = page[0] == current[0]
                    && page[1] == current[1]
                    && page[2] & !0x04 == current[2] & !0x04
                    && page[3..] == current[3..];
                if !others_same {
                    return illegal_request(0x26);
                }
                self.sense = if page[2] & 0x04 != 0 {
                    SenseStyle::Descriptor
                } else {
                    SenseStyle::LibataFixed
                };
                ScsiOutcome::good()
            }
            _ => illegal_request(0x24),
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

/// Which password a Security command names (word 0 bit 0 of its data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Identifier {
    User,
    Master,
}

/// Give the medium its effect; false when it could not be written (the erase then fails, as
/// a drive that cannot complete an erase reports an error).
fn apply_medium(medium: &Option<FakeMedium>) -> bool {
    medium.as_ref().is_none_or(|m| m.apply().is_ok())
}

/// Progress after `done` of `polls` polls, in 1/65536ths.
fn progress(done: u32, polls: u32) -> u16 {
    u16::try_from(u64::from(done) * 0xffff / u64::from(polls.max(1))).unwrap_or(u16::MAX)
}

/// A path for a fake's messages: its medium's, else a name that is no device.
fn fake_path(medium: &Option<FakeMedium>, name: &str) -> PathBuf {
    medium
        .as_ref()
        .map_or_else(|| PathBuf::from(name), |m| m.path.clone())
}

impl ScsiTransport for FakeAtaDrive {
    fn scsi(
        &mut self,
        cdb: &[u8],
        mut data: DataDir<'_>,
        timeout: Duration,
    ) -> Result<ScsiOutcome, TransportError> {
        self.received.push(cdb.to_vec());
        if cdb.first() == Some(&0x12) {
            return Ok(self.inquiry(cdb, &mut data));
        }
        if matches!(cdb.first(), Some(0x5a | 0x55)) {
            return Ok(self.control_mode_page(cdb, &mut data));
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
        if out.dropped {
            return Err(TransportError::Timeout {
                path: fake_path(&self.medium, "fake-ata-drive"),
                what: format!("ATA {:#04x} through a USB bridge", pt.command),
                timeout,
            });
        }
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
    /// When > 0: every read of the sanitize log while a sanitize runs advances SPROG, and the
    /// `sanitize_polls`-th read reports it finished. 0: it stays in progress until the test
    /// changes `sanitize_log`.
    pub sanitize_polls: u32,
    /// Log reads seen by the running sanitize (the fake's bookkeeping).
    pub sanitize_polls_done: u32,
    /// The running sanitize ends failed (SSTAT 3) instead of succeeded.
    pub fail_sanitize: bool,
    /// CDW10 of the last Sanitize that started an operation (log bytes 4-7, SCDW10): its
    /// action, AUSE, OWPASS and NDAS decide how it ends and what may follow a failure.
    pub sanitize_cdw10: u32,
    /// Sanitize log time estimates in seconds (u32::MAX = no estimate): overwrite, block
    /// erase, crypto erase, and the same with No-Deallocate.
    pub eto: u32,
    pub etbe: u32,
    pub etce: u32,
    pub etond: u32,
    pub etbend: u32,
    pub etcend: u32,
    /// Identify Namespace DLFEAT (byte 33): what deallocated blocks read as.
    pub dlfeat: u8,
    /// The user data of namespace 1 (the whole subsystem here): rewritten with its effect
    /// when a Sanitize or Format NVM succeeds, never on a failure.
    pub medium: Option<FakeMedium>,
    /// Sanitize operations and Formats that completed successfully.
    pub erases_completed: u32,
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
            sanitize_polls: 0,
            sanitize_polls_done: 0,
            fail_sanitize: false,
            sanitize_cdw10: 0,
            eto: u32::MAX,
            etbe: u32::MAX,
            etce: u32::MAX,
            etond: u32::MAX,
            etbend: u32::MAX,
            etcend: u32::MAX,
            dlfeat: 0,
            medium: None,
            erases_completed: 0,
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
        b[25] = 0; // one LBA format
        b[26] = 0; // in use: format 0
        b[33] = self.dlfeat;
        b[128 + 2] = self.lbads;
        b
    }

    /// One read of the sanitize log while a sanitize runs, when `sanitize_polls` > 0.
    fn poll_sanitize(&mut self) {
        if self.sanitize_polls == 0 || self.sanitize_log.sstat & 0x7 != 2 {
            return;
        }
        self.sanitize_polls_done += 1;
        if self.sanitize_polls_done >= self.sanitize_polls {
            self.finish_sanitize(!self.fail_sanitize);
        } else {
            self.sanitize_log.sprog = progress(self.sanitize_polls_done, self.sanitize_polls);
        }
    }

    /// End a running sanitize. Success: the medium gets its effect, SSTAT 1 (4 when NDAS was
    /// set), the overwrite passes done (bits 7:3) and Global Data Erased (bit 8). Failure:
    /// SSTAT 3; with AUSE the controller is in unrestricted failure mode (Exit Failure Mode
    /// allowed), without it in restricted failure mode (only a new sanitize).
    pub fn finish_sanitize(&mut self, success: bool) {
        if self.sanitize_log.sstat & 0x7 != 2 {
            return;
        }
        let cdw10 = self.sanitize_cdw10;
        self.sanitize_log.sprog = 0xffff;
        if success && apply_medium(&self.medium) {
            self.erases_completed += 1;
            let sstat = if cdw10 & (1 << 9) != 0 { 4 } else { 1 };
            let passes = if cdw10 & 0x7 == 3 {
                match (cdw10 >> 4) & 0xf {
                    0 => 16,
                    n => n as u16,
                }
            } else {
                0
            };
            self.sanitize_log.sstat = 0x0100 | passes << 3 | sstat;
        } else {
            self.sanitize_log.sstat = 3;
        }
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
                b[4..8].copy_from_slice(&self.sanitize_cdw10.to_le_bytes());
                let estimates = [
                    self.eto,
                    self.etbe,
                    self.etce,
                    self.etond,
                    self.etbend,
                    self.etcend,
                ];
                for (k, e) in estimates.iter().enumerate() {
                    b[8 + 4 * k..12 + 4 * k].copy_from_slice(&e.to_le_bytes());
                }
            }
            _ => return None,
        }
        Some(b)
    }
}

/// Generic command status codes (NVMe 2.0) the fake answers besides those discovery knows.
const NVME_SC_INTERNAL_ERROR: u16 = 0x0006;
const NVME_SC_INVALID_FORMAT: u16 = 0x000a;
const NVME_SC_INVALID_NAMESPACE: u16 = 0x000b;
const NVME_SC_SANITIZE_FAILED: u16 = 0x001c;
const NVME_SC_SANITIZE_IN_PROGRESS: u16 = 0x001d;
const NSID_ALL: u32 = 0xffff_ffff;

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
        if cmd.opcode == 0x02 && cmd.cdw10 & 0xff == 0x81 {
            self.poll_sanitize();
        }
        let sanitizing = self.sanitize_log.sstat & 0x7 == 2;
        let failed = self.sanitize_log.sstat & 0x7 == 3;
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
                let lbaf = cmd.cdw10 & 0xf | (cmd.cdw10 >> 12 & 0x3) << 4;
                if sanitizing {
                    status(NVME_SC_SANITIZE_IN_PROGRESS)
                } else if failed {
                    status(NVME_SC_SANITIZE_FAILED)
                } else if cmd.nsid != 1 && cmd.nsid != NSID_ALL {
                    status(NVME_SC_INVALID_NAMESPACE)
                } else if ses > 2 || (ses == 2 && self.fna & 0x4 == 0) {
                    status(NVME_SC_INVALID_FIELD)
                } else if lbaf != 0 {
                    status(NVME_SC_INVALID_FORMAT)
                } else if apply_medium(&self.medium) {
                    // Format completes before its completion is posted.
                    self.erases_completed += 1;
                    status(NVME_SC_SUCCESS)
                } else {
                    status(NVME_SC_INTERNAL_ERROR)
                }
            }
            0x84 if self.sanicap & 0x7 != 0 => {
                let sanact = cmd.cdw10 & 0x7;
                let supported = match sanact {
                    1 => true,
                    2 => self.sanicap & 0x2 != 0,
                    3 => self.sanicap & 0x4 != 0,
                    4 => self.sanicap & 0x1 != 0,
                    _ => false,
                };
                // NDAS with No-Deallocate Inhibited (SANICAP bit 29) is refused.
                let ndas_refused = cmd.cdw10 & (1 << 9) != 0 && self.sanicap & (1 << 29) != 0;
                if sanitizing {
                    status(NVME_SC_SANITIZE_IN_PROGRESS)
                } else if !supported || ndas_refused {
                    status(NVME_SC_INVALID_FIELD)
                } else if sanact == 1 {
                    // Exit Failure Mode: only from unrestricted failure mode (the failed
                    // sanitize had AUSE); outside failure mode it changes nothing (NVMe 2.0).
                    if !failed {
                        status(NVME_SC_SUCCESS)
                    } else if self.sanitize_cdw10 & (1 << 3) != 0 {
                        self.sanitize_log = FakeSanitizeLog {
                            sprog: 0xffff,
                            sstat: 0,
                        };
                        status(NVME_SC_SUCCESS)
                    } else {
                        status(NVME_SC_SANITIZE_FAILED)
                    }
                } else {
                    self.sanitize_log = FakeSanitizeLog { sprog: 0, sstat: 2 };
                    self.sanitize_cdw10 = cmd.cdw10;
                    self.sanitize_polls_done = 0;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::drive::{ata, nvme};
    use crate::device::transport::ata::AtaOverScsi;
    use crate::device::transport::{AtaCommand, AtaOutcome, AtaProtocol, AtaTransport};

    const T: Duration = Duration::from_secs(5);

    /// A medium file of `len` bytes of `byte` in a fresh temp dir.
    pub(crate) fn medium(
        len: usize,
        byte: u8,
        effect: MediumEffect,
    ) -> (tempfile::TempDir, FakeMedium) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("medium.img");
        std::fs::write(&path, vec![byte; len]).unwrap();
        (dir, FakeMedium::new(path, effect))
    }

    fn all(m: &FakeMedium, byte: u8) -> bool {
        std::fs::read(&m.path).unwrap().iter().all(|b| *b == byte)
    }

    fn send(d: &mut FakeAtaDrive, cmd: &AtaCommand) -> Result<AtaOutcome, TransportError> {
        AtaOverScsi::new(d, "fake").ata(cmd, DataDir::None, T)
    }

    fn send_block(
        d: &mut FakeAtaDrive,
        (cmd, block): &(AtaCommand, [u8; 512]),
    ) -> Result<AtaOutcome, TransportError> {
        AtaOverScsi::new(d, "fake").ata(cmd, DataDir::Out(block), T)
    }

    /// SANITIZE STATUS EXT: (COUNT, LBA) of a successful answer, or `None` if it aborted.
    fn status(d: &mut FakeAtaDrive, cmd: &AtaCommand) -> Option<(u16, u64)> {
        let out = send(d, cmd).unwrap();
        let r = out.registers.unwrap();
        (!r.aborted()).then_some((r.count, r.lba))
    }

    fn aborted(d: &mut FakeAtaDrive, cmd: &AtaCommand) -> bool {
        send(d, cmd).unwrap().aborted()
    }

    fn hpa_drive() -> FakeAtaDrive {
        FakeAtaDrive {
            sense: SenseStyle::Descriptor,
            native_sectors: 1_000_000,
            accessible_sectors: 900_000,
            ..FakeAtaDrive::default()
        }
    }

    #[test]
    fn set_max_only_right_after_read_native_max() {
        let mut d = hpa_drive();
        // Not preceded by READ NATIVE MAX ADDRESS EXT: aborted, nothing changes.
        assert!(aborted(&mut d, &ata::set_max_address_ext(999_999, false)));
        // Another command in between undoes the READ NATIVE MAX.
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        send(&mut d, &ata::smart_return_status()).unwrap();
        assert!(aborted(&mut d, &ata::set_max_address_ext(999_999, false)));
        // The 28-bit READ NATIVE MAX does not arm the 48-bit SET MAX.
        send(&mut d, &ata::read_native_max_address()).unwrap();
        assert!(aborted(&mut d, &ata::set_max_address_ext(999_999, false)));
        // Beyond the native maximum: aborted.
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert!(aborted(&mut d, &ata::set_max_address_ext(1_000_000, false)));
        assert_eq!(d.accessible_sectors, 900_000);
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert!(!aborted(&mut d, &ata::set_max_address_ext(999_999, false)));
        assert_eq!(identify(&mut d).sectors, 1_000_000);
        // 28-bit pair: LBA(27:24) in DEVICE.
        let mut d = FakeAtaDrive {
            lba48: false,
            native_sectors: 0x0a00_0000,
            accessible_sectors: 0x0900_0000,
            ..hpa_drive()
        };
        send(&mut d, &ata::read_native_max_address()).unwrap();
        assert!(!aborted(&mut d, &ata::set_max_address(0x09ff_ffff, false)));
        assert_eq!(d.accessible_sectors, 0x0a00_0000);
    }

    #[test]
    fn volatile_hpa_changes_are_lost_at_reset_and_permanent_ones_kept() {
        let mut d = hpa_drive();
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert!(!aborted(&mut d, &ata::set_max_address_ext(999_999, false)));
        assert_eq!(d.accessible_sectors, 1_000_000);
        // A second volatile change in the same power cycle is fine (lower it again).
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert!(!aborted(&mut d, &ata::set_max_address_ext(949_999, false)));
        d.hardware_reset();
        assert_eq!(
            d.accessible_sectors, 900_000,
            "the non-volatile setting is back"
        );
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert!(!aborted(&mut d, &ata::set_max_address_ext(999_999, false)));
        d.power_cycle();
        assert_eq!(d.accessible_sectors, 900_000);
        // Non-volatile (VV = 1): survives; a second one in the same power cycle aborts.
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert!(!aborted(&mut d, &ata::set_max_address_ext(999_999, true)));
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert!(aborted(&mut d, &ata::set_max_address_ext(899_999, true)));
        d.power_cycle();
        assert_eq!(d.accessible_sectors, 1_000_000);
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert!(!aborted(&mut d, &ata::set_max_address_ext(899_999, true)));
    }

    #[test]
    fn accessible_max_address_is_non_volatile_and_freezes() {
        let mut d = FakeAtaDrive {
            ama_supported: true,
            ..hpa_drive()
        };
        assert!(aborted(
            &mut d,
            &ata::set_accessible_max_address_ext(1_000_000)
        ));
        assert!(!aborted(
            &mut d,
            &ata::set_accessible_max_address_ext(999_999)
        ));
        d.power_cycle();
        assert_eq!(identify(&mut d).sectors, 1_000_000);
        let freeze = AtaCommand {
            features: 0x0002,
            ..ata::set_accessible_max_address_ext(0)
        };
        send(&mut d, &freeze).unwrap();
        assert!(aborted(
            &mut d,
            &ata::set_accessible_max_address_ext(899_999)
        ));
        d.power_cycle();
        assert!(!aborted(
            &mut d,
            &ata::set_accessible_max_address_ext(899_999)
        ));
    }

    #[test]
    fn dco_restore_is_refused_while_an_hpa_is_set_or_frozen() {
        let mut d = FakeAtaDrive {
            dco_sectors: Some(1_200_000),
            ..hpa_drive()
        };
        // An HPA is set (900 000 of a native 1 000 000): DCO RESTORE aborts.
        assert!(aborted(&mut d, &ata::dco_restore()));
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert!(!aborted(&mut d, &ata::set_max_address_ext(999_999, false)));
        // Frozen: every DCO command aborts, IDENTIFY included, until power-on.
        send(&mut d, &ata::dco_freeze_lock()).unwrap();
        assert!(aborted(&mut d, &ata::dco_restore()));
        let mut page = vec![0u8; 512];
        let out = AtaOverScsi::new(&mut d, "fake")
            .ata(&ata::dco_identify(), DataDir::In(&mut page), T)
            .unwrap();
        assert!(out.aborted());
        d.power_cycle();
        // The volatile change went with the power cycle: the HPA is back, RESTORE refused.
        assert!(aborted(&mut d, &ata::dco_restore()));
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert!(!aborted(&mut d, &ata::set_max_address_ext(999_999, false)));
        assert!(!aborted(&mut d, &ata::dco_restore()));
        assert_eq!(identify(&mut d).sectors, 1_200_000);
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert_eq!(d.native_sectors, 1_200_000);
        d.power_cycle();
        assert_eq!(identify(&mut d).sectors, 1_200_000, "RESTORE is permanent");
    }

    fn pw(tag: u8) -> [u8; 32] {
        let mut p = [0u8; 32];
        p[0] = tag;
        p[31] = 0x5a;
        p
    }

    fn drive() -> FakeAtaDrive {
        FakeAtaDrive {
            // Descriptor sense carries COUNT(15:8), where the sanitize state bits are.
            sense: SenseStyle::Descriptor,
            sanitize_overwrite: true,
            ..FakeAtaDrive::default()
        }
    }

    #[test]
    fn ata_sanitize_polls_advance_then_finish_with_the_effect() {
        let (_dir, m) = medium(8192, 0x5a, MediumEffect::Zeros);
        let mut d = FakeAtaDrive {
            sanitize_polls: 3,
            medium: Some(m.clone()),
            ..drive()
        };
        let out = send(&mut d, &ata::sanitize_crypto_scramble(false)).unwrap();
        assert!(!out.is_error());
        let s = ata::sanitize_status();
        assert_eq!(status(&mut d, &s), Some((0x4000, 0x5555)));
        assert!(all(&m, 0x5a), "nothing happens to the data before the end");
        assert_eq!(status(&mut d, &s), Some((0x4000, 0xaaaa)));
        // The third poll sees it done: SANITIZE OPERATION COMPLETED WITHOUT ERROR.
        assert_eq!(status(&mut d, &s), Some((0x8000, 0)));
        assert_eq!(d.sanitize, SanitizeState::Succeeded);
        assert!(all(&m, 0x00));
        assert_eq!(d.erases_completed, 1);
        // Polls after the end change nothing.
        assert_eq!(status(&mut d, &s), Some((0x8000, 0)));

        // polls = 0: stays in progress until the test finishes it.
        let mut d = FakeAtaDrive {
            medium: Some(FakeMedium {
                effect: MediumEffect::Ones,
                ..m.clone()
            }),
            ..drive()
        };
        send(&mut d, &ata::sanitize_block_erase(false)).unwrap();
        for _ in 0..5 {
            assert_eq!(status(&mut d, &s), Some((0x4000, 0)));
        }
        d.finish_sanitize(true);
        assert_eq!(status(&mut d, &s), Some((0x8000, 0)));
        assert!(all(&m, 0xff));
    }

    #[test]
    fn ata_sanitize_failure_and_failure_mode() {
        let (_dir, m) = medium(4096, 0x5a, MediumEffect::Zeros);
        let mut d = FakeAtaDrive {
            sanitize_polls: 1,
            fail_sanitize: true,
            medium: Some(m.clone()),
            ..drive()
        };
        // Without FAILURE MODE: the failed state stays, even when asked to clear it ...
        send(
            &mut d,
            &ata::sanitize_overwrite(false, 0x1234_5678, 2, false),
        )
        .unwrap();
        assert_eq!(status(&mut d, &ata::sanitize_status()), None);
        assert_eq!(d.sanitize, SanitizeState::Failed);
        let out = send(&mut d, &ata::sanitize_status_clear_failure()).unwrap();
        assert!(out.aborted());
        assert_eq!(
            out.registers.unwrap().lba & 0xff,
            0x01,
            "reason: unsuccessful"
        );
        assert!(all(&m, 0x5a), "a failure never touches the medium");
        assert_eq!(d.erases_completed, 0);
        // ... until a new sanitize succeeds.
        d.fail_sanitize = false;
        send(&mut d, &ata::sanitize_block_erase(false)).unwrap();
        assert_eq!(status(&mut d, &ata::sanitize_status()), Some((0x8000, 0)));
        assert!(all(&m, 0x00));

        // With FAILURE MODE: CLEAR SANITIZE OPERATION FAILED returns the drive to idle.
        let (_dir2, m2) = medium(4096, 0x5a, MediumEffect::Zeros);
        let mut d = FakeAtaDrive {
            sanitize_polls: 2,
            fail_sanitize: true,
            medium: Some(m2.clone()),
            ..drive()
        };
        send(&mut d, &ata::sanitize_crypto_scramble(true)).unwrap();
        assert!(d.sanitize_ause);
        assert_eq!(
            status(&mut d, &ata::sanitize_status()),
            Some((0x4000, 0x7fff))
        );
        assert_eq!(status(&mut d, &ata::sanitize_status()), None);
        assert_eq!(
            status(&mut d, &ata::sanitize_status()),
            None,
            "still failed"
        );
        assert_eq!(
            status(&mut d, &ata::sanitize_status_clear_failure()),
            Some((0, 0))
        );
        assert_eq!(d.sanitize, SanitizeState::Idle);
        assert!(all(&m2, 0x5a));
        // Wrong keys and unsupported actions abort without starting anything.
        let mut bad = ata::sanitize_crypto_scramble(false);
        bad.lba ^= 1;
        assert!(send(&mut d, &bad).unwrap().aborted());
        assert_eq!(d.sanitize, SanitizeState::Idle);
    }

    #[test]
    fn ata_security_erase_applies_the_effect_and_disables_security() {
        let (_dir, m) = medium(3 << 20, 0x5a, MediumEffect::Random(9));
        let mut d = FakeAtaDrive {
            medium: Some(m.clone()),
            ..drive()
        };
        let p = pw(1);
        assert!(!send_block(&mut d, &ata::security_set_password(&p))
            .unwrap()
            .is_error());
        assert_eq!(d.security, SecurityState::Enabled);
        // ERASE UNIT without PREPARE right before it aborts; so does a command in between.
        assert!(send_block(&mut d, &ata::security_erase_unit(&p, true))
            .unwrap()
            .aborted());
        send(&mut d, &ata::security_erase_prepare()).unwrap();
        send(&mut d, &ata::read_native_max_address_ext()).unwrap();
        assert!(send_block(&mut d, &ata::security_erase_unit(&p, true))
            .unwrap()
            .aborted());
        // A wrong password aborts and costs an attempt.
        send(&mut d, &ata::security_erase_prepare()).unwrap();
        assert!(send_block(&mut d, &ata::security_erase_unit(&pw(2), false))
            .unwrap()
            .aborted());
        assert_eq!(d.attempts_left, 4);
        assert!(all(&m, 0x5a));
        assert_eq!(d.erases_completed, 0);
        // PREPARE then ERASE UNIT with the password: erased, security disabled.
        send(&mut d, &ata::security_erase_prepare()).unwrap();
        let out = send_block(&mut d, &ata::security_erase_unit(&p, true)).unwrap();
        assert!(!out.is_error(), "{out:?}");
        assert_eq!(d.security, SecurityState::Disabled);
        assert_eq!(d.password, [0; 32]);
        assert_eq!(d.erases_completed, 1);
        let mut expected = vec![0u8; 3 << 20];
        MediumEffect::Random(9).fill(0, &mut expected);
        assert_eq!(std::fs::read(&m.path).unwrap(), expected);
        // IDENTIFY agrees: word 128 bit 1 (enabled) clear.
        let id = identify(&mut d);
        assert!(!id.security.enabled && !id.security.locked);
    }

    fn identify(d: &mut FakeAtaDrive) -> ata::AtaIdentify {
        let mut buf = vec![0u8; 512];
        AtaOverScsi::new(d, "fake")
            .ata(&ata::identify_device(), DataDir::In(&mut buf), T)
            .unwrap();
        ata::AtaIdentify::parse(&buf).unwrap()
    }

    #[test]
    fn bridge_drops_a_long_erase_and_leaves_the_drive_locked() {
        let (_dir, m) = medium(4096, 0x5a, MediumEffect::Zeros);
        let mut d = FakeAtaDrive {
            medium: Some(m.clone()),
            bridge_drops_long_commands: true,
            ..drive()
        };
        let p = pw(7);
        send_block(&mut d, &ata::security_set_password(&p)).unwrap();
        // A wrong password costs an attempt; the bridge passes the drive's quick abort.
        assert!(send_block(&mut d, &ata::security_unlock(&pw(8)))
            .unwrap()
            .aborted());
        assert_eq!(d.attempts_left, 4);
        send(&mut d, &ata::security_erase_prepare()).unwrap();
        let err = send_block(&mut d, &ata::security_erase_unit(&p, false)).unwrap_err();
        assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("power-cycle"), "{err}");
        // Reset mid-erase: nothing erased, locked with the password still set, 5 attempts.
        assert!(all(&m, 0x5a));
        assert_eq!(d.erases_completed, 0);
        assert_eq!(d.security, SecurityState::Locked);
        assert_eq!(d.password, p);
        assert_eq!(d.attempts_left, 5);
        let id = identify(&mut d);
        assert!(id.security.enabled && id.security.locked);
        // Unlock works; a sanitize through the bridge is lost too, but the drive runs it.
        assert!(!send_block(&mut d, &ata::security_unlock(&p))
            .unwrap()
            .is_error());
        send_block(&mut d, &ata::security_disable_password(&p)).unwrap();
        let err = send(&mut d, &ata::sanitize_block_erase(false)).unwrap_err();
        assert!(matches!(err, TransportError::Timeout { .. }));
        assert!(matches!(d.sanitize, SanitizeState::InProgress { .. }));
        // Short commands still pass.
        assert_eq!(status(&mut d, &ata::sanitize_status()), Some((0x4000, 0)));
    }

    /// SET PASSWORD with an explicit control word (master identifier, capability).
    fn set_password(d: &mut FakeAtaDrive, control: u16, p: &[u8; 32]) -> AtaOutcome {
        let (cmd, mut block) = ata::security_set_password(p);
        block[0..2].copy_from_slice(&control.to_le_bytes());
        send_block(d, &(cmd, block)).unwrap()
    }

    fn with_master((cmd, mut block): (AtaCommand, [u8; 512])) -> (AtaCommand, [u8; 512]) {
        block[0] |= 1;
        (cmd, block)
    }

    #[test]
    fn master_password_high_and_maximum() {
        let (user, master) = (pw(1), pw(2));
        for capability in [MasterCapability::High, MasterCapability::Maximum] {
            let (_dir, m) = medium(4096, 0x5a, MediumEffect::Zeros);
            let mut d = FakeAtaDrive {
                medium: Some(m.clone()),
                ..drive()
            };
            assert!(!set_password(&mut d, 0x0001, &master).is_error());
            assert_eq!(
                d.security,
                SecurityState::Disabled,
                "a master password alone"
            );
            let control = match capability {
                MasterCapability::High => 0x0000,
                MasterCapability::Maximum => 0x0100,
            };
            assert!(!set_password(&mut d, control, &user).is_error());
            assert_eq!(d.master_capability, capability);
            d.power_cycle();
            assert_eq!(d.security, SecurityState::Locked);
            let unlock = send_block(&mut d, &with_master(ata::security_unlock(&master))).unwrap();
            match capability {
                // High: the master password unlocks ...
                MasterCapability::High => {
                    assert!(!unlock.is_error());
                    assert_eq!(d.security, SecurityState::Enabled);
                    d.power_cycle();
                }
                // ... Maximum: it does not, and that is no wrong guess.
                MasterCapability::Maximum => {
                    assert!(unlock.aborted());
                    assert_eq!((d.security, d.attempts_left), (SecurityState::Locked, 5));
                }
            }
            // Either way the master password erases a locked drive.
            send(&mut d, &ata::security_erase_prepare()).unwrap();
            let out = send_block(
                &mut d,
                &with_master(ata::security_erase_unit(&master, false)),
            )
            .unwrap();
            assert!(!out.is_error(), "{capability:?}");
            assert!(all(&m, 0x00));
            assert_eq!(d.security, SecurityState::Disabled);
            assert_eq!(d.master_password, master, "the master password stays");
        }
        // A wrong master password counts as a wrong password.
        let mut d = drive();
        set_password(&mut d, 0x0001, &master);
        set_password(&mut d, 0x0000, &user);
        assert!(
            send_block(&mut d, &with_master(ata::security_unlock(&pw(3))))
                .unwrap()
                .aborted()
        );
        assert_eq!(d.attempts_left, 4);
    }

    #[test]
    fn power_cycle_locks_an_enabled_drive_and_clears_frozen() {
        let mut d = drive();
        let p = pw(4);
        send_block(&mut d, &ata::security_set_password(&p)).unwrap();
        let freeze = AtaCommand {
            command: 0xf5,
            features: 0,
            count: 0,
            lba: 0,
            device: 0,
            protocol: AtaProtocol::NonData,
            extended: false,
        };
        send(&mut d, &freeze).unwrap();
        assert!(d.frozen);
        send(&mut d, &ata::security_erase_prepare()).unwrap();
        assert!(
            send_block(&mut d, &ata::security_erase_unit(&p, false))
                .unwrap()
                .aborted(),
            "frozen"
        );
        d.power_cycle();
        assert!(!d.frozen);
        assert_eq!(d.security, SecurityState::Locked);
        // Enhanced erase on a drive without it aborts.
        d.enhanced_erase_supported = false;
        send(&mut d, &ata::security_erase_prepare()).unwrap();
        assert!(send_block(&mut d, &ata::security_erase_unit(&p, true))
            .unwrap()
            .aborted());
    }

    fn admin(c: &mut FakeNvmeController, cmd: &NvmeAdminCommand) -> u16 {
        c.admin(cmd, DataDir::None, T).unwrap().code()
    }

    fn sanitize_log(c: &mut FakeNvmeController) -> nvme::NvmeSanitizeLog {
        let mut buf = vec![0u8; nvme::SANITIZE_LOG_LEN];
        let done = c
            .admin(&nvme::sanitize_log(), DataDir::In(&mut buf), T)
            .unwrap();
        assert!(done.is_success());
        nvme::NvmeSanitizeLog::parse(&buf).unwrap()
    }

    #[test]
    fn nvme_sanitize_polls_advance_and_report_the_outcome() {
        use nvme::{NvmeSanitizeAction as A, NvmeSanitizeState as S};
        let (_dir, m) = medium(8192, 0x5a, MediumEffect::Random(3));
        let mut c = FakeNvmeController {
            sanitize_polls: 2,
            etce: 30,
            etbe: 600,
            medium: Some(m.clone()),
            ..FakeNvmeController::full("N1")
        };
        assert_eq!(
            admin(&mut c, &nvme::sanitize(A::CryptoErase, false, false, 0, 0)),
            0
        );
        let l = sanitize_log(&mut c);
        assert_eq!((l.state, l.progress), (S::InProgress, 0x7fff));
        assert_eq!(
            (l.estimate_crypto, l.estimate_block, l.estimate_overwrite),
            (Some(30), Some(600), None)
        );
        assert!(all(&m, 0x5a));
        // Another sanitize or a Format while it runs: Sanitize In Progress.
        assert_eq!(
            admin(&mut c, &nvme::sanitize(A::BlockErase, false, false, 0, 0)),
            0x1d
        );
        assert_eq!(admin(&mut c, &nvme::format_nvm(1, 0, 1)), 0x1d);
        let l = sanitize_log(&mut c);
        assert_eq!((l.state, l.progress), (S::Succeeded, 0xffff));
        assert!(l.global_data_erased);
        let mut expected = vec![0u8; 8192];
        MediumEffect::Random(3).fill(0, &mut expected);
        assert_eq!(std::fs::read(&m.path).unwrap(), expected);

        // NDAS: SSTAT 4; an overwrite reports its passes (16 from OWPASS 0).
        c.medium = None;
        admin(&mut c, &nvme::sanitize(A::BlockErase, true, true, 0, 0));
        sanitize_log(&mut c);
        assert_eq!(sanitize_log(&mut c).state, S::SucceededNoDeallocate);
        admin(
            &mut c,
            &nvme::sanitize(A::Overwrite, false, false, 3, 0xdead_beef),
        );
        sanitize_log(&mut c);
        let l = sanitize_log(&mut c);
        assert_eq!((l.state, l.overwrite_passes), (S::Succeeded, 3));
        admin(&mut c, &nvme::sanitize(A::Overwrite, false, false, 16, 0));
        sanitize_log(&mut c);
        assert_eq!(sanitize_log(&mut c).overwrite_passes, 16);
        assert_eq!(c.erases_completed, 4);
        // The log says what was asked (SCDW10).
        let mut raw = vec![0u8; 512];
        c.admin(&nvme::sanitize_log(), DataDir::In(&mut raw), T)
            .unwrap();
        assert_eq!(raw[4..8], 0x03u32.to_le_bytes());

        // NDAS on a controller that inhibits it (SANICAP bit 29): Invalid Field.
        c.sanicap |= 1 << 29;
        assert_eq!(
            admin(&mut c, &nvme::sanitize(A::CryptoErase, false, true, 0, 0)),
            0x2
        );
    }

    #[test]
    fn nvme_failure_modes() {
        use nvme::{NvmeSanitizeAction as A, NvmeSanitizeState as S};
        let (_dir, m) = medium(4096, 0x5a, MediumEffect::Zeros);
        // Restricted (AUSE 0): Exit Failure Mode refused, only a new sanitize gets out.
        let mut c = FakeNvmeController {
            sanitize_polls: 1,
            fail_sanitize: true,
            medium: Some(m.clone()),
            ..FakeNvmeController::full("N2")
        };
        // Outside failure mode Exit Failure Mode changes nothing (NVMe 2.0).
        assert_eq!(
            admin(
                &mut c,
                &nvme::sanitize(A::ExitFailureMode, false, false, 0, 0)
            ),
            0
        );
        admin(&mut c, &nvme::sanitize(A::BlockErase, false, false, 0, 0));
        assert_eq!(sanitize_log(&mut c).state, S::Failed);
        assert!(all(&m, 0x5a));
        assert_eq!(
            admin(
                &mut c,
                &nvme::sanitize(A::ExitFailureMode, false, false, 0, 0)
            ),
            0x1c
        );
        assert_eq!(admin(&mut c, &nvme::format_nvm(1, 0, 1)), 0x1c);
        c.fail_sanitize = false;
        admin(&mut c, &nvme::sanitize(A::CryptoErase, false, false, 0, 0));
        assert_eq!(sanitize_log(&mut c).state, S::Succeeded);
        assert!(all(&m, 0x00));
        // Unrestricted (AUSE 1): Exit Failure Mode leaves it.
        std::fs::write(&m.path, [0x5a; 4096]).unwrap();
        c.fail_sanitize = true;
        admin(&mut c, &nvme::sanitize(A::CryptoErase, true, false, 0, 0));
        assert_eq!(sanitize_log(&mut c).state, S::Failed);
        assert_eq!(
            admin(
                &mut c,
                &nvme::sanitize(A::ExitFailureMode, false, false, 0, 0)
            ),
            0
        );
        assert_eq!(sanitize_log(&mut c).state, S::NeverSanitized);
        assert!(all(&m, 0x5a));
        assert_eq!(c.erases_completed, 1);
    }

    #[test]
    fn nvme_format_applies_the_effect_at_once() {
        let (_dir, m) = medium(4096, 0x5a, MediumEffect::Ones);
        let mut c = FakeNvmeController {
            dlfeat: 0x02,
            medium: Some(m.clone()),
            ..FakeNvmeController::full("N3")
        };
        let mut buf = vec![0u8; nvme::IDENTIFY_LEN];
        c.admin(&nvme::identify_namespace(1), DataDir::In(&mut buf), T)
            .unwrap();
        let ns = nvme::NvmeIdentifyNamespace::parse(&buf).unwrap();
        assert_eq!(ns.deallocated_reads(), nvme::DeallocatedReads::Ones);
        assert_eq!(ns.flbas_index, 0);
        // Refusals first: nothing written.
        assert_eq!(
            admin(&mut c, &nvme::format_nvm(1, 1, 1)),
            0x0a,
            "no format 1"
        );
        assert_eq!(admin(&mut c, &nvme::format_nvm(1, 0, 3)), 0x02, "SES 3");
        assert_eq!(
            admin(&mut c, &nvme::format_nvm(2, 0, 1)),
            0x0b,
            "no namespace 2"
        );
        assert!(all(&m, 0x5a));
        for ses in 0..=2 {
            std::fs::write(&m.path, [0x5a; 4096]).unwrap();
            assert_eq!(admin(&mut c, &nvme::format_nvm(1, ns.flbas_index, ses)), 0);
            assert!(all(&m, 0xff), "SES {ses}");
        }
        // Crypto erase by Format needs FNA bit 2 (QEMU ignores SES; this fake does not).
        c.fna = 0;
        assert_eq!(admin(&mut c, &nvme::format_nvm(1, 0, 2)), 0x02);
        assert_eq!(c.erases_completed, 3);
    }
}
