//! Which drives the live system wipes in auto mode, and why each other drive is left alone.
//!
//! Only whole disks are candidates (never partitions, loop devices or files); a disk with any
//! refusal (the stick itself above all: it is the boot medium) or excluded by live.toml is
//! skipped with the reason, so the screen and the log say why every drive was or was not wiped.

use crate::device::{DeviceInfo, DeviceKind};

use super::LiveConfig;

/// The decision for one drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Wipe,
    /// Left alone, with every reason.
    Skip(Vec<String>),
}

/// A decision for every device, in the order given.
pub fn choose<'a>(devices: &'a [DeviceInfo], cfg: &LiveConfig) -> Vec<(&'a DeviceInfo, Decision)> {
    devices
        .iter()
        .map(|d| {
            let mut why: Vec<String> = d.refusals.iter().map(ToString::to_string).collect();
            if d.kind != DeviceKind::Disk {
                why.push(format!("{} is not a whole disk", d.path.display()));
            }
            if d.size_bytes == 0 {
                why.push(format!("{} is empty (no medium)", d.path.display()));
            }
            if let Some(reason) = cfg.exclusion(d.serial.as_deref(), d.model.as_deref()) {
                why.push(format!("{}: {reason}", d.path.display()));
            }
            let decision = if why.is_empty() {
                Decision::Wipe
            } else {
                Decision::Skip(why)
            };
            (d, decision)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{sample, MediaClass, Refusal, Transport};

    #[test]
    fn stick_excluded_and_other_kinds_are_skipped() {
        let cfg =
            LiveConfig::parse("[exclude]\nserials = [\"KEEP-1\"]\nmodels = [\"Backup Disk\"]\n")
                .unwrap();
        let disk = |name: &str, serial: &str, model: &str| {
            let mut d = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
            d.path = format!("/dev/{name}").into();
            d.name = name.into();
            d.serial = Some(serial.into());
            d.model = Some(model.into());
            d
        };
        let mut stick = disk("sda", "STICK", "Flash");
        stick.refusals.push(Refusal::BootMedium {
            device: "/dev/sda".into(),
            detail: "the massho live stick".into(),
        });
        let mut lp = sample(DeviceKind::Loop, Transport::Loop, MediaClass::Virtual);
        lp.path = "/dev/loop0".into();
        let mut empty = disk("sdf", "EMPTY", "Card Reader");
        empty.size_bytes = 0;
        let devices = vec![
            stick,
            disk("sdb", "WIPE-1", "WDC"),
            disk("sdc", "KEEP-1", "WDC"),
            disk("sdd", "WIPE-2", "backup disk"),
            lp,
            empty,
            disk("nvme0n1", "WIPE-3", "Samsung"),
        ];
        let got: Vec<(String, Decision)> = choose(&devices, &cfg)
            .into_iter()
            .map(|(d, c)| (d.path.display().to_string(), c))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "/dev/sda".into(),
                    Decision::Skip(vec![
                        "/dev/sda is the medium this system booted from (the massho live stick)"
                            .into()
                    ])
                ),
                ("/dev/sdb".into(), Decision::Wipe),
                (
                    "/dev/sdc".into(),
                    Decision::Skip(vec![
                        "/dev/sdc: excluded by serial KEEP-1 in live.toml".into()
                    ])
                ),
                (
                    "/dev/sdd".into(),
                    Decision::Skip(vec![
                        "/dev/sdd: excluded by model backup disk in live.toml".into()
                    ])
                ),
                (
                    "/dev/loop0".into(),
                    Decision::Skip(vec!["/dev/loop0 is not a whole disk".into()])
                ),
                (
                    "/dev/sdf".into(),
                    Decision::Skip(vec!["/dev/sdf is empty (no medium)".into()])
                ),
                ("/dev/nvme0n1".into(), Decision::Wipe),
            ]
        );
    }
}
