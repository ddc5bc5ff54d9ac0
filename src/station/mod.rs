//! Station mode: a bench with hot-swap bays or a USB hub. Every disk attached after the station
//! started is wiped by a policy, each through the same per-device pipeline as `massho wipe`,
//! independently of the others.
//!
//! - [`Policy`]: the TOML policy (method per media class or transport, verification, records,
//!   which disks to ignore), validated with errors that name the line.
//! - [`Watcher`]: which whole disks appeared or went away. The kernel's uevents (netlink) wake
//!   it at once; a sysfs rescan every interval is the fallback and the source of truth. A disk
//!   is identified by its device number *and* the kernel's disk sequence number, so a drive
//!   pulled and another pushed into the same bay (same `sdb`) is a new disk.
//! - [`decide`]: what the policy says about one inspected disk.
//!
//! Every disk present when the station starts is ignored (it may be the system's own), as is
//! the boot medium (the inspection's refusals) and anything the policy names.

mod policy;
mod watch;

pub use policy::{Policy, PolicyError};
pub use watch::{Change, DiskKey, Seen, Watcher};

use crate::device::DeviceInfo;

/// What the station does with a newly attached disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Left alone, and why.
    Ignore(String),
    /// Wiped with this method (a built-in name or a method file).
    Wipe { method: String },
}

/// Apply `policy` to an inspected disk.
pub fn decide(policy: &Policy, device: &DeviceInfo) -> Decision {
    if !device.refusals.is_empty() {
        let why: Vec<String> = device.refusals.iter().map(|r| r.to_string()).collect();
        return Decision::Ignore(format!("refused: {}", why.join("; ")));
    }
    if let Some(rule) = policy.ignored_by(device) {
        return Decision::Ignore(format!("ignored by the policy ({rule})"));
    }
    if device.kind == crate::device::DeviceKind::Loop {
        let inside = match (&policy.loop_files_under, &device.backing_file) {
            (Some(dir), Some(file)) => {
                let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
                let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.clone());
                file.starts_with(&dir)
            }
            _ => false,
        };
        if !inside {
            return Decision::Ignore(
                "a loop device whose backing file is not under the policy's loop_files_under"
                    .into(),
            );
        }
    }
    if device.kind == crate::device::DeviceKind::Partition {
        return Decision::Ignore("a partition (the station wipes whole disks)".into());
    }
    Decision::Wipe {
        method: policy.method_for(device).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{sample, DeviceKind, MediaClass, Refusal, Transport};

    #[test]
    fn refused_ignored_partitions_and_foreign_loop_devices_are_left_alone() {
        let p = Policy::parse(
            "method = \"zero\"\nloop_files_under = \"/srv/images\"\n",
            "p",
        )
        .unwrap();
        let disk = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        assert_eq!(
            decide(&p, &disk),
            Decision::Wipe {
                method: "zero".into()
            }
        );
        let mut mounted = disk.clone();
        mounted.refusals.push(Refusal::Mounted {
            device: "/dev/sdz1".into(),
            mountpoint: "/".into(),
        });
        assert!(matches!(decide(&p, &mounted), Decision::Ignore(w) if w.contains("mounted")));
        let part = sample(DeviceKind::Partition, Transport::Sata, MediaClass::Magnetic);
        assert!(matches!(decide(&p, &part), Decision::Ignore(_)));
        let mut lo = sample(DeviceKind::Loop, Transport::Loop, MediaClass::Virtual);
        lo.backing_file = Some("/home/someone/vm.img".into());
        assert!(matches!(decide(&p, &lo), Decision::Ignore(w) if w.contains("loop_files_under")));
        lo.backing_file = Some("/srv/images/a.img".into());
        assert_eq!(
            decide(&p, &lo),
            Decision::Wipe {
                method: "zero".into()
            }
        );
        let without = Policy::parse("method = \"zero\"\n", "p").unwrap();
        assert!(matches!(decide(&without, &lo), Decision::Ignore(_)));
    }
}
