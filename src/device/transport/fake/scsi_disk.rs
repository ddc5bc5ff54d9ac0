//! A SCSI (SAS, or USB without SAT) disk with the SBC-4 Sanitize feature: INQUIRY, REPORT
//! SUPPORTED OPERATION CODES, SANITIZE with and without IMMED, and the progress a host polls
//! with TEST UNIT READY and REQUEST SENSE.

use std::time::Duration;

use super::super::{
    DataDir, ScsiOutcome, ScsiTransport, TransportError, SCSI_CHECK_CONDITION, SCSI_GOOD,
};
use super::{apply_medium, progress, FakeMedium, SanitizeState};

const NO_SENSE: u8 = 0x0;
const NOT_READY: u8 = 0x2;
const MEDIUM_ERROR: u8 = 0x3;
const ILLEGAL_REQUEST: u8 = 0x5;
/// ASC/ASCQ 04/1B: LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS.
const SANITIZE_IN_PROGRESS: (u8, u8) = (0x04, 0x1b);
/// ASC/ASCQ 31/03: SANITIZE COMMAND FAILED.
const SANITIZE_FAILED: (u8, u8) = (0x31, 0x03);
const INVALID_OPCODE: (u8, u8) = (0x20, 0x00);
const INVALID_FIELD_IN_CDB: (u8, u8) = (0x24, 0x00);
const INVALID_FIELD_IN_PARAMETER_LIST: (u8, u8) = (0x26, 0x00);

#[derive(Debug, Clone)]
pub struct FakeScsiDisk {
    pub vendor: String,
    pub product: String,
    pub revision: String,
    pub serial: String,
    /// Logical block length: the longest overwrite pattern accepted.
    pub block_len: u32,
    /// SANITIZE service actions it supports (0x01 overwrite, 0x02 block erase, 0x03 crypto
    /// erase, 0x1F exit failure mode), as REPORT SUPPORTED OPERATION CODES reports them.
    pub sanitize_actions: Vec<u16>,
    pub sanitize: SanitizeState,
    /// With IMMED: the sanitize runs for this many TEST UNIT READY / REQUEST SENSE polls, the
    /// last of which sees it finished. 0: it runs until [`FakeScsiDisk::finish_sanitize`].
    pub sanitize_polls: u32,
    /// Polls seen by the running sanitize (the fake's bookkeeping).
    pub sanitize_polls_done: u32,
    /// The sanitize ends failed: MEDIUM ERROR, 31/03, until EXIT FAILURE MODE.
    pub fail_sanitize: bool,
    /// AUSE of the running or last sanitize: EXIT FAILURE MODE is allowed after it failed.
    pub sanitize_ause: bool,
    /// The parameter list of the last OVERWRITE, as received.
    pub overwrite_parameters: Option<Vec<u8>>,
    /// Sense data of CHECK CONDITION in descriptor format (D_SENSE = 1) instead of fixed.
    /// REQUEST SENSE follows its own DESC bit.
    pub descriptor_sense: bool,
    pub medium: Option<FakeMedium>,
    /// Sanitize operations that completed successfully.
    pub erases_completed: u32,
    /// Every CDB received, in order.
    pub received: Vec<Vec<u8>>,
}

impl Default for FakeScsiDisk {
    /// A SAS SSD with crypto and block erase (and exit failure mode), fixed-format sense.
    fn default() -> FakeScsiDisk {
        FakeScsiDisk {
            vendor: "FAKE".into(),
            product: "SAS SSD 800G".into(),
            revision: "S001".into(),
            serial: "FAKESAS0001".into(),
            block_len: 512,
            sanitize_actions: vec![0x02, 0x03, 0x1f],
            sanitize: SanitizeState::Idle,
            sanitize_polls: 0,
            sanitize_polls_done: 0,
            fail_sanitize: false,
            sanitize_ause: false,
            overwrite_parameters: None,
            descriptor_sense: false,
            medium: None,
            erases_completed: 0,
            received: Vec::new(),
        }
    }
}

/// Sense bytes: fixed (18 bytes, SKSV and the progress in bytes 15-17) or descriptor (with a
/// sense-key specific descriptor 02h when there is a progress indication), SPC-4 §4.5.
fn sense_bytes(descriptor: bool, key: u8, (asc, ascq): (u8, u8), progress: Option<u16>) -> Vec<u8> {
    if descriptor {
        let mut sb = vec![0x72, key, asc, ascq, 0, 0, 0, 0];
        if let Some(p) = progress {
            let [hi, lo] = p.to_be_bytes();
            sb.extend_from_slice(&[0x02, 0x06, 0, 0, 0x80, hi, lo, 0]);
            sb[7] = 8;
        }
        return sb;
    }
    let mut sb = vec![0u8; 18];
    sb[0] = 0x70;
    sb[2] = key;
    sb[7] = 0x0a;
    sb[12] = asc;
    sb[13] = ascq;
    if let Some(p) = progress {
        sb[15] = 0x80;
        sb[16..18].copy_from_slice(&p.to_be_bytes());
    }
    sb
}

fn fill(data: &mut DataDir<'_>, page: &[u8]) -> usize {
    match data {
        DataDir::In(b) => {
            let n = b.len().min(page.len());
            b[..n].copy_from_slice(&page[..n]);
            b.len() - n
        }
        _ => 0,
    }
}

impl FakeScsiDisk {
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

    fn poll_sanitize(&mut self) {
        if self.sanitize_polls == 0 || !matches!(self.sanitize, SanitizeState::InProgress { .. }) {
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

    fn check(&self, key: u8, asc: (u8, u8), progress: Option<u16>) -> ScsiOutcome {
        ScsiOutcome {
            status: SCSI_CHECK_CONDITION,
            sense: sense_bytes(self.descriptor_sense, key, asc, progress),
            residual: 0,
        }
    }

    /// The sense the unit reports now (for TEST UNIT READY's CHECK CONDITION and REQUEST
    /// SENSE's data): `None` when ready.
    fn pending(&self) -> Option<(u8, (u8, u8), Option<u16>)> {
        match self.sanitize {
            SanitizeState::InProgress { progress } => {
                Some((NOT_READY, SANITIZE_IN_PROGRESS, Some(progress)))
            }
            SanitizeState::Failed => Some((MEDIUM_ERROR, SANITIZE_FAILED, None)),
            SanitizeState::Idle | SanitizeState::Succeeded => None,
        }
    }

    fn inquiry(&self, cdb: &[u8], data: &mut DataDir<'_>) -> ScsiOutcome {
        let page: Vec<u8> = match (cdb.get(1).map(|v| v & 1), cdb.get(2)) {
            (Some(0), Some(0)) => {
                let mut p = vec![0u8; 36];
                p[2] = 0x06; // SPC-4
                p[3] = 0x02;
                p[4] = 31;
                for (at, len, s) in [
                    (8, 8, &self.vendor),
                    (16, 16, &self.product),
                    (32, 4, &self.revision),
                ] {
                    let mut bytes = s.as_bytes().to_vec();
                    bytes.resize(len, b' ');
                    p[at..at + len].copy_from_slice(&bytes[..len]);
                }
                p
            }
            (Some(1), Some(0x80)) => {
                let serial = self.serial.as_bytes();
                let mut p = vec![0x00, 0x80, 0x00, serial.len().min(252) as u8];
                p.extend_from_slice(&serial[..serial.len().min(252)]);
                p
            }
            _ => return self.check(ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB, None),
        };
        ScsiOutcome {
            residual: fill(data, &page),
            ..ScsiOutcome::good()
        }
    }

    /// REPORT SUPPORTED OPERATION CODES, reporting options 001b (one opcode) and 010b (one
    /// opcode and service action): the one-command parameter data, SUPPORT 011b or 001b.
    fn report_supported(&self, cdb: &[u8], data: &mut DataDir<'_>) -> ScsiOutcome {
        if cdb.len() < 12 {
            return self.check(ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB, None);
        }
        let opcode = cdb[3];
        let sa = u16::from_be_bytes([cdb[4], cdb[5]]);
        let supported = match (cdb[2] & 0x07, opcode) {
            (0b010, 0x48) => self.sanitize_actions.contains(&sa),
            (0b001, 0x00 | 0x03 | 0x12 | 0xa3) => true,
            (0b001, 0x48) | (0b010, 0x00 | 0x03 | 0x12) => {
                // A service-action command asked without one, or the reverse.
                return self.check(ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB, None);
            }
            (0b001 | 0b010, _) => false,
            _ => return self.check(ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB, None),
        };
        let mut page = vec![0u8, if supported { 0x03 } else { 0x01 }];
        if supported && opcode == 0x48 {
            // CDB SIZE 10, then the usage map: which bits of each CDB byte may be set.
            page.extend_from_slice(&[0x00, 0x0a, 0x48, 0xbf, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07]);
        } else {
            page.extend_from_slice(&[0x00, 0x00]);
        }
        ScsiOutcome {
            residual: fill(data, &page),
            ..ScsiOutcome::good()
        }
    }

    fn sanitize_command(&mut self, cdb: &[u8], data: &mut DataDir<'_>) -> ScsiOutcome {
        if cdb.len() < 10 {
            return self.check(ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB, None);
        }
        let immed = cdb[1] & 0x80 != 0;
        let ause = cdb[1] & 0x20 != 0;
        let sa = u16::from(cdb[1] & 0x1f);
        let param_len = usize::from(u16::from_be_bytes([cdb[7], cdb[8]]));
        if !self.sanitize_actions.contains(&sa) {
            return self.check(ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB, None);
        }
        if sa == 0x1f {
            // EXIT FAILURE MODE: allowed only after a failed sanitize that had AUSE set.
            return match self.sanitize {
                SanitizeState::Failed if self.sanitize_ause => {
                    self.sanitize = SanitizeState::Idle;
                    ScsiOutcome::good()
                }
                SanitizeState::Failed => self.check(ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB, None),
                _ => ScsiOutcome::good(),
            };
        }
        if sa == 0x01 {
            let list = match data {
                DataDir::Out(b) if b.len() == param_len => b.to_vec(),
                _ => return self.check(ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB, None),
            };
            let pattern_len = list
                .get(2..4)
                .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
            let ok = list.len() >= 4
                && list[0] & 0x1f != 0
                && pattern_len > 0
                && pattern_len <= self.block_len as usize
                && list.len() == 4 + pattern_len;
            if !ok {
                return self.check(ILLEGAL_REQUEST, INVALID_FIELD_IN_PARAMETER_LIST, None);
            }
            self.overwrite_parameters = Some(list);
        } else if param_len != 0 {
            return self.check(ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB, None);
        }
        self.sanitize = SanitizeState::InProgress { progress: 0 };
        self.sanitize_polls_done = 0;
        self.sanitize_ause = ause;
        if immed {
            return ScsiOutcome::good();
        }
        self.finish_sanitize(!self.fail_sanitize);
        match self.pending() {
            Some((key, asc, progress)) => self.check(key, asc, progress),
            None => ScsiOutcome::good(),
        }
    }
}

impl ScsiTransport for FakeScsiDisk {
    fn scsi(
        &mut self,
        cdb: &[u8],
        mut data: DataDir<'_>,
        _timeout: Duration,
    ) -> Result<ScsiOutcome, TransportError> {
        self.received.push(cdb.to_vec());
        let Some(&opcode) = cdb.first() else {
            return Ok(self.check(ILLEGAL_REQUEST, INVALID_OPCODE, None));
        };
        // Polls advance a running sanitize before they report it.
        if matches!(opcode, 0x00 | 0x03) {
            self.poll_sanitize();
        }
        let sanitizing = matches!(self.sanitize, SanitizeState::InProgress { .. });
        Ok(match opcode {
            0x12 => self.inquiry(cdb, &mut data),
            0x00 => match self.pending() {
                Some((key, asc, progress)) => self.check(key, asc, progress),
                None => ScsiOutcome::good(),
            },
            0x03 => {
                // REQUEST SENSE answers GOOD with the sense as its data, in the format its
                // DESC bit asks for.
                let descriptor = cdb.get(1).is_some_and(|b| b & 1 != 0);
                let sense = match self.pending() {
                    Some((key, asc, progress)) => sense_bytes(descriptor, key, asc, progress),
                    None => sense_bytes(descriptor, NO_SENSE, (0, 0), None),
                };
                ScsiOutcome {
                    status: SCSI_GOOD,
                    sense: Vec::new(),
                    residual: fill(&mut data, &sense),
                }
            }
            _ if sanitizing => {
                let progress = match self.sanitize {
                    SanitizeState::InProgress { progress } => Some(progress),
                    _ => None,
                };
                self.check(NOT_READY, SANITIZE_IN_PROGRESS, progress)
            }
            0xa3 if cdb.get(1).map(|b| b & 0x1f) == Some(0x0c) => {
                self.report_supported(cdb, &mut data)
            }
            0x48 => self.sanitize_command(cdb, &mut data),
            _ => self.check(ILLEGAL_REQUEST, INVALID_OPCODE, None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::drive::probe::probe_scsi;
    use crate::device::drive::{scsi, PurgeTechnique};
    use crate::device::transport::fake::{FakeMedium, MediumEffect};
    use crate::device::transport::Sense;

    const T: Duration = Duration::from_secs(5);

    fn medium(byte: u8, effect: MediumEffect) -> (tempfile::TempDir, FakeMedium) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("medium.img");
        std::fs::write(&path, vec![byte; 4096]).unwrap();
        (dir, FakeMedium::new(path, effect))
    }

    fn all(m: &FakeMedium, byte: u8) -> bool {
        std::fs::read(&m.path).unwrap().iter().all(|b| *b == byte)
    }

    fn run(d: &mut FakeScsiDisk, cdb: &[u8]) -> ScsiOutcome {
        d.scsi(cdb, DataDir::None, T).unwrap()
    }

    /// (key, ASC, ASCQ, progress) of a CHECK CONDITION, `None` for GOOD.
    fn tur(d: &mut FakeScsiDisk) -> Option<(u8, u8, u8, Option<u16>)> {
        let out = run(d, &scsi::test_unit_ready());
        if out.is_good() {
            return None;
        }
        let s = out.decoded_sense().unwrap();
        Some((s.key, s.asc, s.ascq, s.progress()))
    }

    /// REQUEST SENSE: always GOOD; the sense is the data.
    fn request_sense(d: &mut FakeScsiDisk) -> (u8, u8, u8, Option<u16>) {
        let mut buf = vec![0u8; 252];
        let out = d
            .scsi(&scsi::request_sense(252), DataDir::In(&mut buf), T)
            .unwrap();
        assert!(out.is_good());
        let s = Sense::parse(&buf).unwrap();
        (s.key, s.asc, s.ascq, s.progress())
    }

    #[test]
    fn discovery_sees_the_supported_service_actions() {
        let mut d = FakeScsiDisk::default();
        let report = probe_scsi(&mut d).unwrap();
        let id = report.identity.unwrap();
        assert_eq!(id.serial.as_deref(), Some("FAKESAS0001"));
        assert_eq!(id.model.as_deref(), Some("FAKE SAS SSD 800G"));
        assert_eq!(
            report.sanitize.unwrap().techniques,
            [
                PurgeTechnique::ScsiSanitizeCrypto,
                PurgeTechnique::ScsiSanitizeBlock
            ]
        );
    }

    #[test]
    fn immed_sanitize_polls_then_good_and_the_effect() {
        for descriptor in [false, true] {
            let (_dir, m) = medium(0x5a, MediumEffect::Zeros);
            let mut d = FakeScsiDisk {
                sanitize_polls: 3,
                descriptor_sense: descriptor,
                medium: Some(m.clone()),
                ..FakeScsiDisk::default()
            };
            let out = run(&mut d, &scsi::sanitize(0x03, true, false, 0));
            assert!(out.is_good(), "IMMED: GOOD at once");
            assert!(all(&m, 0x5a));
            // Poll 1 (TUR) and 2 (REQUEST SENSE): NOT READY, 04/1B, with progress.
            assert_eq!(tur(&mut d), Some((2, 0x04, 0x1b, Some(0x5555))));
            // Other commands are refused meanwhile, INQUIRY is answered.
            let mut buf = vec![0u8; 32];
            let rsoc = scsi::report_supported_operation(0x48, 3, 32);
            let out = d.scsi(&rsoc, DataDir::In(&mut buf), T).unwrap();
            let s = out.decoded_sense().unwrap();
            assert_eq!((s.key, s.asc, s.ascq), (2, 0x04, 0x1b));
            let mut inq = vec![0u8; 96];
            assert!(d
                .scsi(&scsi::inquiry(96), DataDir::In(&mut inq), T)
                .unwrap()
                .is_good());
            assert_eq!(request_sense(&mut d), (2, 0x04, 0x1b, Some(0xaaaa)));
            assert!(all(&m, 0x5a));
            // Poll 3 sees it done.
            assert_eq!(tur(&mut d), None);
            assert_eq!(request_sense(&mut d), (0, 0, 0, None));
            assert!(all(&m, 0x00));
            assert_eq!(d.erases_completed, 1);
        }
    }

    #[test]
    fn sanitize_without_immed_completes_before_it_answers() {
        let (_dir, m) = medium(0x5a, MediumEffect::Random(1));
        let mut d = FakeScsiDisk {
            medium: Some(m.clone()),
            sanitize_polls: 10,
            ..FakeScsiDisk::default()
        };
        assert!(run(&mut d, &scsi::sanitize(0x02, false, false, 0)).is_good());
        assert_eq!(d.sanitize, SanitizeState::Succeeded);
        assert!(!all(&m, 0x5a));
        assert_eq!(tur(&mut d), None);
        // Unsupported service action (overwrite is not in the default list), parameters on a
        // block erase, a CDB cut to six bytes: ILLEGAL REQUEST 24/00.
        for cdb in [
            scsi::sanitize(0x01, false, false, 0).to_vec(),
            scsi::sanitize(0x02, false, false, 8).to_vec(),
            scsi::sanitize(0x02, false, false, 0)[..6].to_vec(),
        ] {
            let s = run(&mut d, &cdb).decoded_sense().unwrap();
            assert_eq!((s.key, s.asc, s.ascq), (5, 0x24, 0x00), "{cdb:02x?}");
        }
        assert_eq!(d.erases_completed, 1);
    }

    #[test]
    fn overwrite_takes_a_checked_parameter_list() {
        let mut d = FakeScsiDisk {
            sanitize_actions: vec![0x01, 0x1f],
            ..FakeScsiDisk::default()
        };
        let list = scsi::sanitize_overwrite_parameters(&[0xaa; 4], 2, true);
        let cdb = scsi::sanitize(0x01, false, false, list.len() as u16);
        assert!(d.scsi(&cdb, DataDir::Out(&list), T).unwrap().is_good());
        assert_eq!(d.overwrite_parameters.as_deref(), Some(&list[..]));
        // A pattern longer than a block: INVALID FIELD IN PARAMETER LIST.
        let long = scsi::sanitize_overwrite_parameters(&[0xaa; 513], 1, false);
        let cdb = scsi::sanitize(0x01, false, false, long.len() as u16);
        let s = d
            .scsi(&cdb, DataDir::Out(&long), T)
            .unwrap()
            .decoded_sense()
            .unwrap();
        assert_eq!((s.key, s.asc), (5, 0x26));
    }

    #[test]
    fn failure_until_exit_failure_mode() {
        let (_dir, m) = medium(0x5a, MediumEffect::Zeros);
        let mut d = FakeScsiDisk {
            sanitize_polls: 2,
            fail_sanitize: true,
            medium: Some(m.clone()),
            ..FakeScsiDisk::default()
        };
        // AUSE 0: EXIT FAILURE MODE refused; a new successful sanitize gets out.
        run(&mut d, &scsi::sanitize(0x03, true, false, 0));
        assert_eq!(tur(&mut d), Some((2, 0x04, 0x1b, Some(0x7fff))));
        assert_eq!(tur(&mut d), Some((3, 0x31, 0x03, None)));
        assert_eq!(request_sense(&mut d), (3, 0x31, 0x03, None));
        let exit = scsi::sanitize(scsi::SANITIZE_EXIT_FAILURE_MODE as u8, false, false, 0);
        let s = run(&mut d, &exit).decoded_sense().unwrap();
        assert_eq!((s.key, s.asc), (5, 0x24));
        assert_eq!(tur(&mut d), Some((3, 0x31, 0x03, None)));
        assert!(all(&m, 0x5a));
        // AUSE 1 (a synchronous one this time): EXIT FAILURE MODE clears it.
        let s = run(&mut d, &scsi::sanitize(0x02, false, true, 0))
            .decoded_sense()
            .unwrap();
        assert_eq!((s.key, s.asc, s.ascq), (3, 0x31, 0x03));
        assert!(run(&mut d, &exit).is_good());
        assert_eq!(tur(&mut d), None);
        assert!(all(&m, 0x5a));
        assert_eq!(d.erases_completed, 0);
        // Every CDB is recorded.
        assert_eq!(d.received.last().map(|c| c[0]), Some(0x00));
        assert_eq!(d.received.iter().filter(|c| c[0] == 0x48).count(), 4);
    }
}
