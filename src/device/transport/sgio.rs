//! The real transports: Linux SG_IO for SCSI (and ATA through SAT), NVME_IOCTL_ADMIN_CMD for
//! NVMe, and finding an NVMe namespace's controller through sysfs.
//!
//! These are the only ioctls of the transport layer; each `unsafe` block says why it is sound.
//! Devices are opened read-only and non-blocking: SG_IO and the NVMe admin ioctl need no write
//! access, and a read-only descriptor cannot be used to write the medium by mistake.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    DataDir, NvmeAdmin, NvmeAdminCommand, NvmeCompletion, ScsiOutcome, ScsiTransport,
    TransportError,
};
use crate::device::sysfs::DevNum;

/// `struct sg_io_hdr` from <scsi/sg.h> (interface 'S').
#[repr(C)]
struct SgIoHdr {
    interface_id: libc::c_int,
    dxfer_direction: libc::c_int,
    cmd_len: libc::c_uchar,
    mx_sb_len: libc::c_uchar,
    iovec_count: libc::c_ushort,
    dxfer_len: libc::c_uint,
    dxferp: *mut libc::c_void,
    cmdp: *const libc::c_uchar,
    sbp: *mut libc::c_uchar,
    timeout: libc::c_uint,
    flags: libc::c_uint,
    pack_id: libc::c_int,
    usr_ptr: *mut libc::c_void,
    status: libc::c_uchar,
    masked_status: libc::c_uchar,
    msg_status: libc::c_uchar,
    sb_len_wr: libc::c_uchar,
    host_status: libc::c_ushort,
    driver_status: libc::c_ushort,
    resid: libc::c_int,
    duration: libc::c_uint,
    info: libc::c_uint,
}

const SG_IO: libc::c_ulong = 0x2285;
const SG_DXFER_NONE: libc::c_int = -1;
const SG_DXFER_TO_DEV: libc::c_int = -2;
const SG_DXFER_FROM_DEV: libc::c_int = -3;
/// Host byte DID_TIME_OUT.
const DID_TIME_OUT: u16 = 0x03;
/// Driver byte DRIVER_SENSE: sense data is present, which is normal with CHECK CONDITION.
const DRIVER_SENSE: u16 = 0x08;
const SENSE_LEN: usize = 64;

/// `struct nvme_passthru_cmd` from <linux/nvme_ioctl.h>: 72 bytes.
#[repr(C)]
#[derive(Default)]
struct NvmePassthruCmd {
    opcode: u8,
    flags: u8,
    rsvd1: u16,
    nsid: u32,
    cdw2: u32,
    cdw3: u32,
    metadata: u64,
    addr: u64,
    metadata_len: u32,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
    cdw13: u32,
    cdw14: u32,
    cdw15: u32,
    timeout_ms: u32,
    result: u32,
}

const _: () = assert!(std::mem::size_of::<NvmePassthruCmd>() == 72);
const _: () = assert!(std::mem::size_of::<SgIoHdr>() == 88);

// NVME_IOCTL_ADMIN_CMD = _IOWR('N', 0x41, struct nvme_passthru_cmd)
nix::ioctl_readwrite!(nvme_ioctl_admin_cmd, b'N', 0x41, NvmePassthruCmd);

fn open_for_commands(path: &Path) -> Result<File, TransportError> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|source| TransportError::Open {
            path: path.to_owned(),
            source,
        })
}

fn millis(timeout: Duration) -> u32 {
    u32::try_from(timeout.as_millis())
        .unwrap_or(u32::MAX)
        .max(1)
}

/// SG_IO on a block device (`/dev/sdX`) or an sg node.
pub struct SgIo {
    file: File,
    path: PathBuf,
}

impl SgIo {
    pub fn open(path: &Path) -> Result<SgIo, TransportError> {
        Ok(SgIo {
            file: open_for_commands(path)?,
            path: path.to_owned(),
        })
    }
}

impl ScsiTransport for SgIo {
    fn scsi(
        &mut self,
        cdb: &[u8],
        mut data: DataDir<'_>,
        timeout: Duration,
    ) -> Result<ScsiOutcome, TransportError> {
        let cmd_len = u8::try_from(cdb.len()).map_err(|_| TransportError::TooLarge {
            path: self.path.clone(),
            len: cdb.len(),
        })?;
        let (direction, ptr, len) = match &mut data {
            DataDir::None => (SG_DXFER_NONE, std::ptr::null_mut(), 0),
            DataDir::In(b) => (SG_DXFER_FROM_DEV, b.as_mut_ptr().cast(), b.len()),
            DataDir::Out(b) => (SG_DXFER_TO_DEV, b.as_ptr().cast_mut().cast(), b.len()),
        };
        let dxfer_len = u32::try_from(len).map_err(|_| TransportError::TooLarge {
            path: self.path.clone(),
            len,
        })?;
        let mut sense = [0u8; SENSE_LEN];
        let mut hdr = SgIoHdr {
            interface_id: i32::from(b'S'),
            dxfer_direction: direction,
            cmd_len,
            mx_sb_len: SENSE_LEN as u8,
            iovec_count: 0,
            dxfer_len,
            dxferp: ptr,
            cmdp: cdb.as_ptr(),
            sbp: sense.as_mut_ptr(),
            timeout: millis(timeout),
            flags: 0,
            pack_id: 0,
            usr_ptr: std::ptr::null_mut(),
            status: 0,
            masked_status: 0,
            msg_status: 0,
            sb_len_wr: 0,
            host_status: 0,
            driver_status: 0,
            resid: 0,
            duration: 0,
            info: 0,
        };
        // SAFETY: `hdr` is a correctly laid out sg_io_hdr; cmdp points to `cdb` (cmd_len bytes),
        // sbp to `sense` (mx_sb_len bytes) and dxferp to the caller's buffer of dxfer_len bytes
        // in the direction stated (or null with no transfer). All outlive this synchronous
        // ioctl, and no Rust reference to the data buffer is used while the kernel fills it.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), SG_IO as _, &mut hdr) };
        if rc < 0 {
            return Err(TransportError::Ioctl {
                path: self.path.clone(),
                what: "SG_IO",
                source: io::Error::last_os_error(),
            });
        }
        if hdr.host_status == DID_TIME_OUT {
            return Err(TransportError::Timeout {
                path: self.path.clone(),
                what: format!("SCSI {:#04x}", cdb.first().copied().unwrap_or(0)),
                timeout,
            });
        }
        if hdr.host_status != 0 || (hdr.driver_status & !DRIVER_SENSE) & 0x0f != 0 {
            return Err(TransportError::Host {
                path: self.path.clone(),
                host: hdr.host_status,
                driver: hdr.driver_status,
            });
        }
        let written = usize::from(hdr.sb_len_wr).min(SENSE_LEN);
        Ok(ScsiOutcome {
            status: hdr.status,
            sense: sense[..written].to_vec(),
            residual: usize::try_from(hdr.resid).unwrap_or(0),
        })
    }
}

/// NVMe admin commands on a controller character device (`/dev/nvme0`).
pub struct NvmeController {
    file: File,
    path: PathBuf,
}

impl NvmeController {
    /// Open the controller at `path`, checking that it is the character device `expected`
    /// (so a node renamed or replaced since sysfs was read is not used).
    pub fn open(path: &Path, expected: DevNum) -> Result<NvmeController, TransportError> {
        let file = open_for_commands(path)?;
        let meta = file.metadata().map_err(|source| TransportError::Open {
            path: path.to_owned(),
            source,
        })?;
        if !meta.file_type().is_char_device() || DevNum::from_dev_t(meta.rdev()) != expected {
            return Err(TransportError::NoController {
                path: path.to_owned(),
                detail: format!("it is not the character device {expected}"),
            });
        }
        Ok(NvmeController {
            file,
            path: path.to_owned(),
        })
    }

    /// The controller of namespace block device `namespace_sys` (its resolved sysfs
    /// directory), and the namespace id.
    pub fn for_namespace(namespace_sys: &Path) -> Result<(NvmeController, u32), TransportError> {
        let (node, dev) = controller_of(namespace_sys)?;
        let nsid = std::fs::read_to_string(namespace_sys.join("nsid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .ok_or_else(|| TransportError::NoController {
                path: namespace_sys.to_owned(),
                detail: "no readable nsid attribute".into(),
            })?;
        Ok((NvmeController::open(&node, dev)?, nsid))
    }
}

/// The controller character device behind a namespace, from sysfs alone: the namespace's
/// `device` link names the controller (its `dev` is the char device), or, for a multipath
/// head, the subsystem, whose live controllers are listed in it.
pub fn controller_of(namespace_sys: &Path) -> Result<(PathBuf, DevNum), TransportError> {
    let no = |detail: String| TransportError::NoController {
        path: namespace_sys.to_owned(),
        detail,
    };
    let device = std::fs::canonicalize(namespace_sys.join("device"))
        .map_err(|e| no(format!("{}/device: {e}", namespace_sys.display())))?;
    let mut candidates = vec![device.clone()];
    if !device.join("dev").exists() {
        // Native multipath: `device` is nvme-subsysN; its controllers are nvmeN links in it.
        let mut ctrls: Vec<PathBuf> = std::fs::read_dir(&device)
            .map_err(|e| no(format!("{}: {e}", device.display())))?
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("nvme"))
            .filter_map(|e| std::fs::canonicalize(e.path()).ok())
            .filter(|p| p.join("dev").exists())
            .collect();
        ctrls.sort();
        let live = |p: &PathBuf| {
            std::fs::read_to_string(p.join("state")).is_ok_and(|s| s.trim() == "live")
        };
        ctrls.sort_by_key(|p| !live(p));
        candidates = ctrls;
    }
    let ctrl = candidates
        .into_iter()
        .next()
        .ok_or_else(|| no("no controller with a character device".into()))?;
    let dev_text = std::fs::read_to_string(ctrl.join("dev"))
        .map_err(|e| no(format!("{}/dev: {e}", ctrl.display())))?;
    let dev = DevNum::parse(&dev_text).ok_or_else(|| no(format!("bad dev {dev_text:?}")))?;
    let uevent = std::fs::read_to_string(ctrl.join("uevent")).unwrap_or_default();
    let devname = crate::device::sysfs::uevent_value(&uevent, "DEVNAME")
        .map(str::to_owned)
        .or_else(|| ctrl.file_name().map(|n| n.to_string_lossy().into_owned()))
        .ok_or_else(|| no("controller has no name".into()))?;
    Ok((Path::new("/dev").join(devname), dev))
}

impl NvmeAdmin for NvmeController {
    fn admin(
        &mut self,
        cmd: &NvmeAdminCommand,
        mut data: DataDir<'_>,
        timeout: Duration,
    ) -> Result<NvmeCompletion, TransportError> {
        let (addr, len) = match &mut data {
            DataDir::None => (0u64, 0usize),
            DataDir::In(b) => (b.as_mut_ptr() as u64, b.len()),
            DataDir::Out(b) => (b.as_ptr() as u64, b.len()),
        };
        let data_len = u32::try_from(len).map_err(|_| TransportError::TooLarge {
            path: self.path.clone(),
            len,
        })?;
        let mut pt = NvmePassthruCmd {
            opcode: cmd.opcode,
            nsid: cmd.nsid,
            addr,
            data_len,
            cdw10: cmd.cdw10,
            cdw11: cmd.cdw11,
            cdw12: cmd.cdw12,
            cdw13: cmd.cdw13,
            cdw14: cmd.cdw14,
            cdw15: cmd.cdw15,
            timeout_ms: millis(timeout),
            ..NvmePassthruCmd::default()
        };
        // SAFETY: `pt` is a correctly laid out nvme_passthru_cmd; `addr` is the caller's buffer
        // of exactly `data_len` bytes (or 0 with no data), which outlives this synchronous ioctl
        // and is not otherwise accessed while the kernel reads or fills it.
        let rc = unsafe { nvme_ioctl_admin_cmd(self.file.as_raw_fd(), &mut pt) };
        match rc {
            Ok(status) => Ok(NvmeCompletion {
                // A positive return is the NVMe status field (without the phase bit).
                status: u16::try_from(status).unwrap_or(u16::MAX),
                result: pt.result,
            }),
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::ETIMEDOUT) => {
                Err(TransportError::Timeout {
                    path: self.path.clone(),
                    what: format!("NVMe admin {:#04x}", cmd.opcode),
                    timeout,
                })
            }
            Err(e) => Err(TransportError::Ioctl {
                path: self.path.clone(),
                what: "NVME_IOCTL_ADMIN_CMD",
                source: e.into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_kernel_headers() {
        // _IOWR('N', 0x41, 72 bytes) = dir 3 << 30 | size 72 << 16 | 'N' << 8 | 0x41.
        let expected: u64 = 3 << 30 | 72 << 16 | (b'N' as u64) << 8 | 0x41;
        assert_eq!(expected, 0xc048_4e41);
        assert_eq!(
            nix::request_code_readwrite!(b'N', 0x41, std::mem::size_of::<NvmePassthruCmd>()) as u64,
            expected
        );
        assert_eq!(SG_IO, 0x2285);
    }

    #[test]
    fn sg_io_on_a_regular_file_is_refused_by_the_kernel_quickly() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let mut t = SgIo::open(f.path()).unwrap();
        let start = std::time::Instant::now();
        let mut buf = [0u8; 36];
        let e = t
            .scsi(
                &[0x12, 0, 0, 0, 36, 0],
                DataDir::In(&mut buf),
                Duration::from_secs(5),
            )
            .unwrap_err();
        assert!(
            matches!(e, TransportError::Ioctl { what: "SG_IO", .. }),
            "{e}"
        );
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn controller_lookup_needs_a_device_link() {
        let dir = tempfile::tempdir().unwrap();
        let e = controller_of(dir.path()).unwrap_err();
        assert!(matches!(e, TransportError::NoController { .. }), "{e}");
    }

    #[test]
    fn controller_lookup_follows_sysfs_links() {
        // A sysfs-shaped tree: block/nvme0n1/device -> ctrl/nvme0 with dev 240:0.
        let dir = tempfile::tempdir().unwrap();
        let ctrl = dir.path().join("ctrl/nvme3");
        std::fs::create_dir_all(&ctrl).unwrap();
        std::fs::write(ctrl.join("dev"), "240:3\n").unwrap();
        std::fs::write(ctrl.join("uevent"), "MAJOR=240\nMINOR=3\nDEVNAME=nvme3\n").unwrap();
        let ns = dir.path().join("block/nvme3n1");
        std::fs::create_dir_all(&ns).unwrap();
        std::os::unix::fs::symlink(&ctrl, ns.join("device")).unwrap();
        let (node, dev) = controller_of(&ns).unwrap();
        assert_eq!(node, Path::new("/dev/nvme3"));
        assert_eq!(
            dev,
            DevNum {
                major: 240,
                minor: 3
            }
        );
        // Multipath: device -> subsystem holding nvme links; the live one is chosen.
        let subsys = dir.path().join("subsys/nvme-subsys0");
        std::fs::create_dir_all(&subsys).unwrap();
        let dead = dir.path().join("ctrl/nvme1");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(dead.join("dev"), "240:1\n").unwrap();
        std::fs::write(dead.join("state"), "dead\n").unwrap();
        std::fs::write(ctrl.join("state"), "live\n").unwrap();
        std::os::unix::fs::symlink(&dead, subsys.join("nvme1")).unwrap();
        std::os::unix::fs::symlink(&ctrl, subsys.join("nvme3")).unwrap();
        let head = dir.path().join("block/nvme0n1");
        std::fs::create_dir_all(&head).unwrap();
        std::os::unix::fs::symlink(&subsys, head.join("device")).unwrap();
        assert_eq!(controller_of(&head).unwrap().0, Path::new("/dev/nvme3"));
    }
}
