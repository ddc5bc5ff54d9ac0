//! `--hidden restore`: expose the sectors an ATA drive hides from the host (a host protected
//! area, an ACS-3 accessible max address below the native one, a device configuration overlay)
//! so that a wipe reaches the drive's whole native capacity, and record what was changed.
//!
//! Three rules keep it honest (docs/firmware.md, "Hidden areas"):
//! - **Volatile by default.** An HPA is lifted with SET MAX ADDRESS (EXT) with VV = 0, which
//!   the drive forgets at the next power-on or hardware reset. Non-volatile SET MAX, SET
//!   ACCESSIBLE MAX ADDRESS EXT (ACS-3 has no volatile form) and DEVICE CONFIGURATION RESTORE
//!   change the drive for good and are sent only when the operator asked (`--hidden-permanent`).
//! - **The kernel must follow.** The block device keeps the size the kernel read when it found
//!   the disk; writes beyond it fail. After the change massho asks the kernel to re-read the
//!   capacity (`/sys/block/X/device/rescan`) and continues only if the block device now spans
//!   the native capacity. libata answers READ CAPACITY from the size it cached at probe, so on
//!   a SATA port it does not follow: the change is put back (when volatile) and the wipe is
//!   refused with the remedy (`libata.ignore_hpa=1`, or a permanent change and a power cycle).
//! - **Everything is recorded**: the capacities before and after, each change and whether it
//!   survives a power cycle, every command with the drive's answer.
//!
//! [`plan`] decides from discovery alone (nothing is sent); [`restore_with`] runs it against
//! the transport and kernel traits, so tests drive it with `FakeAtaDrive` and a fake kernel.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::drive::{ata_answer, ata_sent};
use super::CommandRecord;
use crate::device::drive::ata::{self, AtaIdentify};
use crate::device::drive::probe::{ata_hidden, whole_registers};
use crate::device::drive::HiddenState;
use crate::device::transport::ata::AtaOverScsi;
use crate::device::transport::sgio::SgIo;
use crate::device::transport::{AtaCommand, AtaTransport, DataDir, TransportError};
use crate::device::{DeviceInfo, Transport};
use crate::text::path_safe;

/// Address commands answer at once; a drive that takes longer is not answering.
const TIMEOUT: Duration = Duration::from_secs(15);

/// One change to the drive's address settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HiddenChange {
    /// SET MAX ADDRESS (EXT) to the native maximum, VV = 0: lost at the next power-on or
    /// hardware reset (the drive's previous maximum comes back).
    HpaVolatile,
    /// SET MAX ADDRESS (EXT) to the native maximum, VV = 1: kept across power cycles.
    HpaPermanent,
    /// ACS-3 SET ACCESSIBLE MAX ADDRESS EXT to the native maximum: kept across power cycles.
    AccessibleMaxPermanent,
    /// DEVICE CONFIGURATION RESTORE: the factory capacity, kept across power cycles.
    DcoRestore,
}

impl HiddenChange {
    pub fn permanent(self) -> bool {
        self != HiddenChange::HpaVolatile
    }

    pub fn describe(self) -> &'static str {
        match self {
            HiddenChange::HpaVolatile => {
                "SET MAX ADDRESS to the native maximum, volatile (undone by the next power cycle)"
            }
            HiddenChange::HpaPermanent => {
                "SET MAX ADDRESS to the native maximum, non-volatile (permanent)"
            }
            HiddenChange::AccessibleMaxPermanent => {
                "SET ACCESSIBLE MAX ADDRESS EXT to the native maximum (permanent)"
            }
            HiddenChange::DcoRestore => {
                "DEVICE CONFIGURATION RESTORE to the factory capacity (permanent)"
            }
        }
    }
}

/// What the drive and the kernel report, in the drive's logical sectors and in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Capacities {
    /// IDENTIFY's user-addressable sectors.
    pub accessible_sectors: u64,
    /// READ / GET NATIVE MAX ADDRESS + 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_sectors: Option<u64>,
    /// DEVICE CONFIGURATION IDENTIFY's maximum + 1 (the factory capacity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dco_sectors: Option<u64>,
    /// The block device's size as the kernel had it.
    pub kernel_bytes: u64,
}

/// What `--hidden restore` did to one drive before it was wiped: kept in the result and the
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HiddenRestore {
    pub before: Capacities,
    pub after: Capacities,
    /// The changes made, in order.
    pub changes: Vec<HiddenChange>,
    /// Whether any change survives a power cycle.
    pub permanent: bool,
    /// Every command sent, in order, with the drive's answer.
    pub commands: Vec<CommandRecord>,
    /// How the block device came to span the native capacity.
    pub kernel: String,
}

/// Why the hidden sectors were not restored. Nothing is written to the medium in any case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HiddenError {
    #[error("{0}")]
    Refused(String),
    #[error("{path}: the drive refused {command} ({answer}); {state} {remedy}")]
    DriveRefused {
        path: PathBuf,
        command: &'static str,
        answer: String,
        /// What the drive was left with.
        state: String,
        remedy: String,
    },
    #[error("{path}: after the change the drive reports {what}; {state} Wipe with --hidden ignore, or restore it with `hdparm -N` and power-cycle")]
    NotRestored {
        path: PathBuf,
        what: String,
        state: String,
    },
    #[error("{path}: the drive now exposes {drive_bytes} bytes but the kernel's block device still has {kernel_bytes} after a rescan (libata keeps the size it read at boot); {state} {remedy}")]
    KernelDidNotFollow {
        path: PathBuf,
        drive_bytes: u64,
        kernel_bytes: u64,
        state: String,
        remedy: String,
    },
    #[error("{path}: cannot ask the kernel for the disk's size ({source}); nothing was changed")]
    Kernel {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// What to do on the volatile route when the kernel keeps its size (libata).
const VOLATILE_REMEDY: &str = "boot with the kernel parameter libata.ignore_hpa=1 (the kernel then lifts the host protected area itself when it finds the disk, and massho sees nothing hidden), or pass --hidden-permanent to restore it for good and power-cycle the drive before wiping it again";
/// What to do after a permanent change the kernel has not seen yet.
const PERMANENT_REMEDY: &str = "power-cycle the drive (or reboot) so that the kernel sizes it anew, then run the wipe again: the drive then hides nothing";

/// The changes that expose `device`'s hidden sectors, decided from discovery alone; empty when
/// nothing is hidden; `Err` (with the reason and the remedy) when massho will not do it.
pub fn plan(device: &DeviceInfo, permanent: bool) -> Result<Vec<HiddenChange>, String> {
    let path = path_safe(&device.path);
    let Some(area) = &device.hidden else {
        // No ATA firmware was asked: NVMe (no HPA), SCSI, loop, files.
        return Ok(Vec::new());
    };
    // A hidden area with a part that could not be asked (notes: DCO IDENTIFY refused, a lost
    // high byte) is as unknown as an unknown one: restoring the known part would not expose
    // everything.
    let partly_unknown = area.state == HiddenState::Hidden && !area.notes.is_empty();
    match area.state {
        HiddenState::None => return Ok(Vec::new()),
        HiddenState::Hidden if !partly_unknown => {}
        HiddenState::Unknown | HiddenState::Hidden => {
            return Err(format!(
                "{path}: whether the drive hides sectors is unknown ({}); massho does not change what it cannot read. If DEVICE CONFIGURATION IDENTIFY was refused, a DCO FREEZE LOCK (often sent by the BIOS) may be in effect: power-cycle or hot-plug the drive and try again, or pass --hidden ignore",
                if area.notes.is_empty() { "no reason given".to_owned() } else { area.notes.join("; ") }
            ))
        }
    }
    if !matches!(device.transport, Transport::Sata | Transport::Ata) {
        return Err(format!(
            "{path}: the drive hides sectors, and it is attached through {:?}: massho restores hidden areas only on a drive on a SATA/ATA port (a USB bridge or SAS adapter may cache the capacity or mistranslate SET MAX ADDRESS); attach it to a SATA port, or pass --hidden ignore",
            device.transport
        ));
    }
    let accessible = area.accessible_sectors;
    let Some(native) = area.native_sectors else {
        return Err(format!(
            "{path}: the drive's native maximum is unknown, so a host protected area cannot be ruled out before a DCO restore; pass --hidden ignore or restore it with hdparm"
        ));
    };
    let hpa = native > accessible;
    let dco = area.dco_sectors.is_some_and(|d| d > native);
    let ama = area.native_from.as_deref() == Some("get_native_max_address_ext");
    if dco && !permanent {
        return Err(format!(
            "{path}: a device configuration overlay hides {} sector(s); DEVICE CONFIGURATION RESTORE is permanent (the drive keeps its factory capacity from then on) and massho sends it only with --hidden-permanent",
            area.dco_sectors.unwrap_or(native).saturating_sub(native)
        ));
    }
    if hpa && ama && !permanent {
        return Err(format!(
            "{path}: the drive's accessible max address (ACS-3) hides {} sector(s); SET ACCESSIBLE MAX ADDRESS EXT has no volatile form, so massho sends it only with --hidden-permanent",
            native - accessible
        ));
    }
    let mut steps = Vec::new();
    if hpa {
        steps.push(if ama {
            HiddenChange::AccessibleMaxPermanent
        } else if permanent && !dco {
            HiddenChange::HpaPermanent
        } else {
            // Before a DCO RESTORE (which resets the maximum anyway) the HPA only has to be
            // out of the way: the volatile form keeps the drive unchanged if RESTORE fails.
            HiddenChange::HpaVolatile
        });
    }
    if dco {
        steps.push(HiddenChange::DcoRestore);
    }
    Ok(steps)
}

/// The kernel's view of a disk: its size, and a way to make it read the capacity again.
pub trait KernelDisk {
    /// Ask the kernel to read the disk's capacity again.
    fn rescan(&mut self) -> std::io::Result<()>;
    /// The block device's size in bytes, as the kernel has it now.
    fn size_bytes(&mut self) -> std::io::Result<u64>;
}

/// A SCSI disk (sd) in sysfs: `rescan` writes `1` into `device/rescan`; the size is `size`
/// (always in 512-byte units).
pub struct SysfsDisk {
    /// `/sys/class/block/sdX`.
    pub sys: PathBuf,
}

impl KernelDisk for SysfsDisk {
    fn rescan(&mut self) -> std::io::Result<()> {
        std::fs::write(self.sys.join("device/rescan"), "1")
    }

    fn size_bytes(&mut self) -> std::io::Result<u64> {
        let text = std::fs::read_to_string(self.sys.join("size"))?;
        text.trim()
            .parse::<u64>()
            .map(|s| s.saturating_mul(512))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

/// Commands sent and their answers.
struct Sent {
    commands: Vec<CommandRecord>,
}

impl Sent {
    fn send<T: AtaTransport + ?Sized>(
        &mut self,
        t: &mut T,
        name: &str,
        cmd: &AtaCommand,
        data: DataDir<'_>,
    ) -> Result<bool, (String, TransportError)> {
        let r = t.ata(cmd, data, TIMEOUT);
        let (answer, ok) = ata_answer(&r);
        self.commands.push(CommandRecord {
            name: name.into(),
            sent: ata_sent(cmd),
            answer: answer.clone(),
            ok,
        });
        match r {
            Ok(_) => Ok(ok),
            Err(e) => Err((answer, e)),
        }
    }

    fn last_answer(&self) -> String {
        self.commands
            .last()
            .map_or_else(String::new, |c| c.answer.clone())
    }

    /// READ NATIVE MAX ADDRESS (EXT) immediately followed by SET MAX ADDRESS (EXT).
    fn set_max<T: AtaTransport + ?Sized>(
        &mut self,
        t: &mut T,
        lba48: bool,
        sectors: u64,
        permanent: bool,
    ) -> Result<bool, (String, TransportError)> {
        let max_lba = sectors.saturating_sub(1);
        let (read, set, read_name, set_name) = if lba48 {
            (
                ata::read_native_max_address_ext(),
                ata::set_max_address_ext(max_lba, permanent),
                "read_native_max_address_ext",
                "set_max_address_ext",
            )
        } else {
            (
                ata::read_native_max_address(),
                ata::set_max_address(max_lba, permanent),
                "read_native_max_address",
                "set_max_address",
            )
        };
        // Through whole_registers: with fixed-format sense it switches the SATL (not the
        // drive) to descriptor sense and asks again, so READ NATIVE MAX stays the drive's
        // last command before SET MAX.
        let r = whole_registers(t, &read);
        let (answer, ok) = ata_answer(&r);
        self.commands.push(CommandRecord {
            name: read_name.into(),
            sent: ata_sent(&read),
            answer: answer.clone(),
            ok,
        });
        match r {
            Ok(_) if ok => {}
            Ok(_) => return Ok(false),
            Err(e) => return Err((answer, e)),
        }
        self.send(t, set_name, &set, DataDir::None)
    }
}

fn identify<T: AtaTransport + ?Sized>(
    t: &mut T,
    sent: &mut Sent,
) -> Result<Option<AtaIdentify>, (String, TransportError)> {
    let mut buf = vec![0u8; 512];
    let ok = sent.send(
        t,
        "identify_device",
        &ata::identify_device(),
        DataDir::In(&mut buf),
    )?;
    Ok(ok.then(|| AtaIdentify::parse(&buf).ok()).flatten())
}

/// Run `steps` on the drive behind `t` and check that the kernel's block device (`kernel`)
/// then spans the native capacity. On any failure a volatile change is put back before the
/// error is returned; a permanent one cannot be, and the error says so.
pub fn restore_with<T: AtaTransport + ?Sized, K: KernelDisk + ?Sized>(
    t: &mut T,
    kernel: &mut K,
    device: &DeviceInfo,
    steps: &[HiddenChange],
) -> Result<HiddenRestore, HiddenError> {
    let path = device.path.clone();
    let Some(area) = device.hidden.clone() else {
        return Err(HiddenError::Refused(format!(
            "{}: no hidden-area report to restore from",
            path_safe(&path)
        )));
    };
    let sector = u64::from(device.logical_sector_size.max(512));
    let kernel_before = kernel.size_bytes().map_err(|source| HiddenError::Kernel {
        path: path.clone(),
        source,
    })?;
    let mut sent = Sent {
        commands: Vec::new(),
    };
    let transport = |(_, e): (String, TransportError)| HiddenError::Transport(e);
    let id = identify(t, &mut sent).map_err(transport)?.ok_or_else(|| {
        HiddenError::Refused(format!(
            "{}: the drive did not answer IDENTIFY DEVICE before the restore; nothing was changed",
            path_safe(&path)
        ))
    })?;
    if id.sectors != area.accessible_sectors {
        return Err(HiddenError::Refused(format!(
            "{}: the drive now reports {} accessible sectors, not the {} discovery saw; nothing was changed: run the command again",
            path_safe(&path),
            id.sectors,
            area.accessible_sectors
        )));
    }
    let native = area.native_sectors.unwrap_or(area.accessible_sectors);
    let mut made: Vec<HiddenChange> = Vec::new();
    for &step in steps {
        let answer = match step {
            HiddenChange::HpaVolatile | HiddenChange::HpaPermanent => {
                sent.set_max(t, id.lba48, native, step == HiddenChange::HpaPermanent)
            }
            HiddenChange::AccessibleMaxPermanent => sent.send(
                t,
                "set_accessible_max_address_ext",
                &ata::set_accessible_max_address_ext(native.saturating_sub(1)),
                DataDir::None,
            ),
            HiddenChange::DcoRestore => {
                sent.send(t, "dco_restore", &ata::dco_restore(), DataDir::None)
            }
        };
        match answer {
            Ok(true) => made.push(step),
            Ok(false) => {
                let answer = sent.last_answer();
                let state = undo(t, &mut sent, &made, id.lba48, area.accessible_sectors);
                return Err(HiddenError::DriveRefused {
                    path,
                    command: match step {
                        HiddenChange::HpaVolatile | HiddenChange::HpaPermanent => {
                            "SET MAX ADDRESS"
                        }
                        HiddenChange::AccessibleMaxPermanent => "SET ACCESSIBLE MAX ADDRESS EXT",
                        HiddenChange::DcoRestore => "DEVICE CONFIGURATION RESTORE",
                    },
                    answer,
                    state,
                    remedy: "the drive may be frozen (SET MAX FREEZE LOCK, FREEZE ACCESSIBLE MAX ADDRESS or DCO FREEZE LOCK, often sent by the BIOS) or already had its one non-volatile SET MAX of this power cycle: power-cycle or hot-plug the drive and try again, or pass --hidden ignore".into(),
                });
            }
            Err(e) => {
                let _ = undo(t, &mut sent, &made, id.lba48, area.accessible_sectors);
                return Err(transport(e));
            }
        }
    }
    // What the drive says now, asked the way discovery asks.
    let after_id = identify(t, &mut sent).map_err(transport)?;
    let after_area = after_id.as_ref().map(|id| ata_hidden(t, id));
    let target = native.max(area.dco_sectors.unwrap_or(0));
    let restored = after_area
        .as_ref()
        .is_some_and(|a| a.state == HiddenState::None && a.accessible_sectors == target);
    let permanent = made.iter().any(|c| c.permanent());
    if !restored {
        let what = match &after_area {
            Some(a) => format!(
                "{} accessible sectors of {} (hidden state {:?})",
                a.accessible_sectors, target, a.state
            ),
            None => "nothing (IDENTIFY DEVICE was not answered)".to_owned(),
        };
        let state = undo(t, &mut sent, &made, id.lba48, area.accessible_sectors);
        return Err(HiddenError::NotRestored { path, what, state });
    }
    let after_area = after_area.unwrap_or(area.clone());
    let drive_bytes = target.saturating_mul(sector);
    // The block device must now span it, or the wipe would stop at the old end.
    let followed = kernel.rescan().and_then(|()| kernel.size_bytes());
    let kernel_after = match followed {
        Ok(bytes) => bytes,
        Err(source) => {
            let _ = undo(t, &mut sent, &made, id.lba48, area.accessible_sectors);
            let _ = kernel.rescan();
            return Err(HiddenError::Kernel { path, source });
        }
    };
    if kernel_after != drive_bytes {
        let state = undo(t, &mut sent, &made, id.lba48, area.accessible_sectors);
        let _ = kernel.rescan();
        return Err(HiddenError::KernelDidNotFollow {
            path,
            drive_bytes,
            kernel_bytes: kernel_after,
            state,
            remedy: if permanent {
                PERMANENT_REMEDY
            } else {
                VOLATILE_REMEDY
            }
            .into(),
        });
    }
    Ok(HiddenRestore {
        before: Capacities {
            accessible_sectors: area.accessible_sectors,
            native_sectors: area.native_sectors,
            dco_sectors: area.dco_sectors,
            kernel_bytes: kernel_before,
        },
        after: Capacities {
            accessible_sectors: after_area.accessible_sectors,
            native_sectors: after_area.native_sectors,
            dco_sectors: after_area.dco_sectors,
            kernel_bytes: kernel_after,
        },
        changes: made,
        permanent,
        commands: sent.commands,
        kernel: "the kernel re-read the capacity after a write of 1 to /sys/block/<disk>/device/rescan, and the block device spans the native capacity".into(),
    })
}

/// Put back what `made` changed, when that is possible: a volatile SET MAX is undone by a
/// volatile SET MAX to the old maximum; permanent changes stay. Returns a sentence saying
/// what the drive was left with.
fn undo<T: AtaTransport + ?Sized>(
    t: &mut T,
    sent: &mut Sent,
    made: &[HiddenChange],
    lba48: bool,
    old_accessible: u64,
) -> String {
    if made.is_empty() {
        return "the drive was not changed.".into();
    }
    if made.iter().any(|c| c.permanent()) {
        return format!(
            "the drive was changed PERMANENTLY ({}) and massho cannot undo it in this power cycle; {PERMANENT_REMEDY}.",
            made.iter()
                .map(|c| c.describe())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match sent.set_max(t, lba48, old_accessible, false) {
        Ok(true) => "the volatile change was put back (the drive hides the same sectors as before).".into(),
        _ => "the volatile change could not be put back; the drive hides the same sectors again after its next power cycle.".into(),
    }
}

/// Undo a volatile restore after the wipe did not start (an operator declined, another
/// device was refused). Permanent restores are left as they are (`Ok(false)`).
pub fn revert_with<T: AtaTransport + ?Sized, K: KernelDisk + ?Sized>(
    t: &mut T,
    kernel: &mut K,
    record: &HiddenRestore,
    lba48: bool,
) -> Result<bool, HiddenError> {
    if record.permanent {
        return Ok(false);
    }
    let mut sent = Sent {
        commands: Vec::new(),
    };
    let ok = sent
        .set_max(t, lba48, record.before.accessible_sectors, false)
        .map_err(|(_, e)| HiddenError::Transport(e))?;
    let _ = kernel.rescan();
    Ok(ok)
}

/// [`restore_with`] on the real drive: SG_IO on the disk, its sysfs node for the kernel.
pub fn restore_device(
    device: &DeviceInfo,
    steps: &[HiddenChange],
) -> Result<HiddenRestore, HiddenError> {
    let mut ata = AtaOverScsi::new(SgIo::open(&device.path)?, device.path.clone());
    let mut kernel = SysfsDisk {
        sys: PathBuf::from("/sys/class/block").join(&device.name),
    };
    restore_with(&mut ata, &mut kernel, device, steps)
}

/// [`revert_with`] on the real drive.
pub fn revert_device(device: &DeviceInfo, record: &HiddenRestore) -> Result<bool, HiddenError> {
    let mut ata = AtaOverScsi::new(SgIo::open(&device.path)?, device.path.clone());
    let mut kernel = SysfsDisk {
        sys: PathBuf::from("/sys/class/block").join(&device.name),
    };
    let lba48 = record
        .commands
        .iter()
        .any(|c| c.name == "read_native_max_address_ext");
    revert_with(&mut ata, &mut kernel, record, lba48)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::drive::probe::probe_ata;
    use crate::device::transport::fake::{FakeAtaDrive, SenseStyle};
    use crate::device::{DeviceKind, MediaClass};

    const NATIVE: u64 = 1_000_000;
    const VISIBLE: u64 = 900_000;

    /// A kernel that reports `size` and, after a rescan, `after_rescan` (what libata does:
    /// the same size; what a SATL that re-reads the capacity does: the new one).
    struct FakeKernel {
        size: u64,
        after_rescan: u64,
        rescans: u32,
    }

    impl KernelDisk for FakeKernel {
        fn rescan(&mut self) -> std::io::Result<()> {
            self.rescans += 1;
            self.size = self.after_rescan;
            Ok(())
        }

        fn size_bytes(&mut self) -> std::io::Result<u64> {
            Ok(self.size)
        }
    }

    fn follows(sectors: u64) -> FakeKernel {
        FakeKernel {
            size: VISIBLE * 512,
            after_rescan: sectors * 512,
            rescans: 0,
        }
    }

    fn libata() -> FakeKernel {
        follows(VISIBLE)
    }

    fn hpa() -> FakeAtaDrive {
        FakeAtaDrive {
            sense: SenseStyle::Descriptor,
            native_sectors: NATIVE,
            accessible_sectors: VISIBLE,
            ..FakeAtaDrive::default()
        }
    }

    /// What discovery would report for `d`, as a SATA disk.
    fn discovered(d: &mut FakeAtaDrive) -> DeviceInfo {
        let report = probe_ata(&mut AtaOverScsi::new(&mut *d, "/dev/sdz")).unwrap();
        let mut info =
            crate::device::sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        info.hidden = report.hidden;
        info.logical_sector_size = 512;
        info.size_bytes = VISIBLE * 512;
        d.received.clear();
        info
    }

    fn run(
        d: &mut FakeAtaDrive,
        k: &mut FakeKernel,
        info: &DeviceInfo,
        permanent: bool,
    ) -> Result<HiddenRestore, HiddenError> {
        let steps = plan(info, permanent).unwrap();
        restore_with(&mut AtaOverScsi::new(&mut *d, "/dev/sdz"), k, info, &steps)
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn a_volatile_hpa_is_lifted_when_the_kernel_follows_and_comes_back_at_power_on() {
        let mut d = hpa();
        let info = discovered(&mut d);
        assert_eq!(plan(&info, false).unwrap(), [HiddenChange::HpaVolatile]);
        let mut k = follows(NATIVE);
        let r = run(&mut d, &mut k, &info, false).unwrap();
        assert_eq!(r.changes, [HiddenChange::HpaVolatile]);
        assert!(!r.permanent);
        assert_eq!(
            (
                r.before.accessible_sectors,
                r.before.native_sectors,
                r.before.kernel_bytes
            ),
            (VISIBLE, Some(NATIVE), VISIBLE * 512)
        );
        assert_eq!(
            (
                r.after.accessible_sectors,
                r.after.native_sectors,
                r.after.kernel_bytes
            ),
            (NATIVE, Some(NATIVE), NATIVE * 512)
        );
        assert_eq!(k.rescans, 1);
        let names: Vec<&str> = r.commands.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            &names[..3],
            [
                "identify_device",
                "read_native_max_address_ext",
                "set_max_address_ext"
            ]
        );
        // The pair on the wire, from SAT-4 table 173 and the ATA8-ACS tables: READ NATIVE MAX
        // ADDRESS EXT (27h, CK_COND), then SET MAX ADDRESS EXT (37h) with COUNT 0 (VV = 0,
        // volatile) and LBA 999 999 = 0x0F423F.
        assert_eq!(
            d.received[1],
            hex("85 07 20 00 00 00 00 00 00 00 00 00 00 40 27 00")
        );
        assert_eq!(
            d.received[2],
            hex("85 07 20 00 00 00 00 00 3f 00 42 00 0f 40 37 00")
        );
        assert_eq!(d.accessible_sectors, NATIVE);
        d.power_cycle();
        assert_eq!(
            d.accessible_sectors, VISIBLE,
            "a volatile change is gone at power-on"
        );
    }

    /// A 1 TB drive behind a current kernel (fixed-format sense): the native max needs 31 bits,
    /// so READ NATIVE MAX EXT goes through the D_SENSE switch (a SATL setting, not a drive
    /// command) and is still the drive's last command before SET MAX. And a 28-bit drive,
    /// whose SET MAX carries LBA(27:24) in DEVICE.
    #[test]
    fn the_restore_works_through_fixed_sense_and_on_28_bit_drives() {
        let mut d = FakeAtaDrive {
            native_sectors: 1_953_525_168,
            accessible_sectors: 1_953_000_000,
            ..FakeAtaDrive::default()
        };
        assert_eq!(d.sense, SenseStyle::LibataFixed);
        let info = discovered(&mut d);
        let mut k = FakeKernel {
            size: 1_953_000_000 * 512,
            after_rescan: 1_953_525_168 * 512,
            rescans: 0,
        };
        let r = run(&mut d, &mut k, &info, false).unwrap();
        assert_eq!(r.after.accessible_sectors, 1_953_525_168);
        assert_eq!(
            d.sense,
            SenseStyle::LibataFixed,
            "the sense format is put back"
        );
        let mut d = FakeAtaDrive {
            lba48: false,
            native_sectors: 0x0a00_0000,
            accessible_sectors: 0x0900_0000,
            ..hpa()
        };
        let info = discovered(&mut d);
        let mut k = FakeKernel {
            size: 0x0900_0000 * 512,
            after_rescan: 0x0a00_0000 * 512,
            rescans: 0,
        };
        let r = run(&mut d, &mut k, &info, false).unwrap();
        assert_eq!(r.after.accessible_sectors, 0x0a00_0000);
        // SET MAX ADDRESS (F9h) in a (16) CDB without EXTEND: LBA(23:0) FF FF FF in bytes 8,
        // 10, 12, DEVICE 0x49 (LBA bit, LBA(27:24) = 9), COUNT 0 (volatile).
        let set = d.received.iter().find(|c| c[14] == 0xf9).unwrap();
        assert_eq!(*set, hex("85 06 20 00 00 00 00 00 ff 00 ff 00 ff 49 f9 00"));
    }

    #[test]
    fn when_the_kernel_keeps_its_size_the_volatile_change_is_put_back_and_the_remedy_named() {
        let mut d = hpa();
        let info = discovered(&mut d);
        let mut k = libata();
        let e = run(&mut d, &mut k, &info, false).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, HiddenError::KernelDidNotFollow { .. }), "{msg}");
        assert!(msg.contains("libata.ignore_hpa=1"), "{msg}");
        assert!(msg.contains("put back"), "{msg}");
        assert_eq!(d.accessible_sectors, VISIBLE, "reverted");
        assert!(d.power_on_accessible.is_some() || d.accessible_sectors == VISIBLE);
        assert_eq!(k.rescans, 2, "the kernel is asked again after the revert");
    }

    #[test]
    fn a_permanent_hpa_change_survives_power_on_and_is_never_reverted() {
        let mut d = hpa();
        let info = discovered(&mut d);
        assert_eq!(plan(&info, true).unwrap(), [HiddenChange::HpaPermanent]);
        let r = run(&mut d, &mut follows(NATIVE), &info, true).unwrap();
        assert!(r.permanent);
        let set = r
            .commands
            .iter()
            .find(|c| c.name == "set_max_address_ext")
            .unwrap();
        assert!(set.sent.contains("count=0x0001"), "VV = 1: {}", set.sent);
        d.power_cycle();
        assert_eq!(d.accessible_sectors, NATIVE);
        // The kernel does not follow: the drive keeps the change, the message says so.
        let mut d = hpa();
        let info = discovered(&mut d);
        let msg = run(&mut d, &mut libata(), &info, true)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("PERMANENTLY") && msg.contains("power-cycle"),
            "{msg}"
        );
        assert_eq!(d.accessible_sectors, NATIVE);
    }

    #[test]
    fn a_drive_that_refuses_set_max_is_left_as_it_was() {
        // Its one non-volatile SET MAX of this power cycle is spent.
        let mut d = FakeAtaDrive {
            nonvolatile_set_max_done: true,
            ..hpa()
        };
        let info = discovered(&mut d);
        let e = run(&mut d, &mut follows(NATIVE), &info, true).unwrap_err();
        assert!(matches!(e, HiddenError::DriveRefused { .. }), "{e}");
        assert!(e.to_string().contains("not changed"), "{e}");
        assert_eq!(d.accessible_sectors, VISIBLE);
    }

    #[test]
    fn dco_restore_needs_permanent_and_runs_after_the_hpa_is_out_of_the_way() {
        let mut d = FakeAtaDrive {
            dco_sectors: Some(1_200_000),
            ..hpa()
        };
        let info = discovered(&mut d);
        let why = plan(&info, false).unwrap_err();
        assert!(
            why.contains("--hidden-permanent") && why.contains("200000"),
            "{why}"
        );
        assert_eq!(
            plan(&info, true).unwrap(),
            [HiddenChange::HpaVolatile, HiddenChange::DcoRestore]
        );
        let r = run(&mut d, &mut follows(1_200_000), &info, true).unwrap();
        assert!(r.permanent);
        assert_eq!(r.after.accessible_sectors, 1_200_000);
        assert_eq!(r.after.native_sectors, Some(1_200_000));
        d.power_cycle();
        assert_eq!(d.accessible_sectors, 1_200_000);
    }

    #[test]
    fn ama_needs_permanent_and_uses_set_accessible_max() {
        let mut d = FakeAtaDrive {
            ama_supported: true,
            ..hpa()
        };
        let info = discovered(&mut d);
        assert!(plan(&info, false).unwrap_err().contains("no volatile form"));
        let r = run(&mut d, &mut follows(NATIVE), &info, true).unwrap();
        assert_eq!(r.changes, [HiddenChange::AccessibleMaxPermanent]);
        assert!(r
            .commands
            .iter()
            .any(|c| c.name == "set_accessible_max_address_ext"
                && c.sent.contains("command=0x78 features=0x0001")));
        // Frozen (FREEZE ACCESSIBLE MAX ADDRESS): refused, unchanged.
        let mut d = FakeAtaDrive {
            ama_supported: true,
            ama_frozen: true,
            ..hpa()
        };
        let info = discovered(&mut d);
        let e = run(&mut d, &mut follows(NATIVE), &info, true).unwrap_err();
        assert!(e.to_string().contains("frozen"), "{e}");
        assert_eq!(d.accessible_sectors, VISIBLE);
    }

    #[test]
    fn refused_before_anything_is_sent() {
        // DCO frozen (by a BIOS): DCO IDENTIFY aborts, the hidden state is unknown.
        let mut d = FakeAtaDrive {
            dco_sectors: Some(1_200_000),
            dco_frozen: true,
            ..hpa()
        };
        let info = discovered(&mut d);
        let why = plan(&info, true).unwrap_err();
        assert!(
            why.contains("unknown") && why.contains("FREEZE LOCK"),
            "{why}"
        );
        // Behind a USB bridge.
        let mut d = hpa();
        let mut info = discovered(&mut d);
        info.transport = Transport::Usb;
        assert!(plan(&info, true).unwrap_err().contains("SATA port"));
        // Nothing hidden, or no ATA firmware: nothing to do.
        let mut d = FakeAtaDrive::default();
        let info = discovered(&mut d);
        assert!(plan(&info, false).unwrap().is_empty());
        let mut nvme = crate::device::sample(DeviceKind::Disk, Transport::Nvme, MediaClass::Flash);
        nvme.hidden = None;
        assert!(plan(&nvme, true).unwrap().is_empty());
    }

    #[test]
    fn a_drive_changed_since_discovery_is_not_touched() {
        let mut d = hpa();
        let info = discovered(&mut d);
        d.accessible_sectors = 950_000;
        let e = run(&mut d, &mut follows(NATIVE), &info, false).unwrap_err();
        assert!(e.to_string().contains("not the 900000"), "{e}");
        assert_eq!(d.received.len(), 1, "IDENTIFY only");
    }

    #[test]
    fn a_volatile_restore_is_reverted_when_the_wipe_does_not_start() {
        let mut d = hpa();
        let info = discovered(&mut d);
        let mut k = follows(NATIVE);
        let r = run(&mut d, &mut k, &info, false).unwrap();
        k.after_rescan = VISIBLE * 512;
        let ok = revert_with(&mut AtaOverScsi::new(&mut d, "/dev/sdz"), &mut k, &r, true).unwrap();
        assert!(ok);
        assert_eq!(d.accessible_sectors, VISIBLE);
        assert_eq!(k.size, VISIBLE * 512);
    }
}
