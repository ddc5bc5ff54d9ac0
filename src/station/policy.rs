//! The station policy file.
//!
//! ```toml
//! method = "nist-clear"      # default for every disk
//! verify = "all"             # none | last | all | sample (default: the method's)
//! result_dir = "/srv/massho/results"
//! cert_dir = "/srv/massho/certs"
//! key = "/srv/massho/massho.key"
//! operator = "Bench 1"
//! organization = "Example Health Insurance Society"
//! ledger = "/srv/massho/ledger.sqlite"
//! journal_dir = "/srv/massho/journal"
//! loop_files_under = "/srv/images"  # loop devices are ignored unless their backing file
//!                            # lies under this directory (image files, tests)
//!
//! [method_by_media]          # overrides `method` by media class
//! flash = "purge"
//! magnetic = "nist-clear"
//!
//! [method_by_transport]      # overrides both, by transport
//! usb = "nist-clear"
//!
//! [[ignore]]                 # never touch these (serial and/or model must match)
//! serial = "WD-WX11A1234567"
//! [[ignore]]
//! model = "Samsung Portable SSD"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::device::DeviceInfo;
use crate::method::VerifyMode;

/// A station policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Method for every disk the more specific tables do not name.
    pub method: String,
    pub verify: Option<VerifyMode>,
    pub result_dir: Option<PathBuf>,
    pub cert_dir: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub operator: Option<String>,
    pub organization: Option<String>,
    pub ledger: Option<PathBuf>,
    pub journal_dir: Option<PathBuf>,
    /// Loop devices are wiped only when their backing file lies under this directory; without
    /// it, never.
    pub loop_files_under: Option<PathBuf>,
    #[serde(default)]
    pub method_by_media: BTreeMap<String, String>,
    #[serde(default)]
    pub method_by_transport: BTreeMap<String, String>,
    #[serde(default)]
    pub ignore: Vec<IgnoreRule>,
}

/// Disks the station never touches: every field given must match.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreRule {
    pub serial: Option<String>,
    pub model: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
    #[error("policy {path}: {detail}")]
    Invalid { path: String, detail: String },
}

const MEDIA: [&str; 3] = ["magnetic", "flash", "virtual"];
const TRANSPORTS: [&str; 11] = [
    "sata", "ata", "sas", "scsi", "nvme", "usb", "mmc", "virtio", "loop", "file", "unknown",
];

impl Policy {
    /// Read and validate a policy file (a regular file, at most 1 MiB).
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let bytes = crate::input::read_regular(path, "station policy", 1 << 20)?;
        let shown = crate::text::path_safe(path).to_string();
        let text = String::from_utf8(bytes).map_err(|_| PolicyError::Invalid {
            path: shown.clone(),
            detail: "not UTF-8 text".into(),
        })?;
        Policy::parse(&text, &shown)
    }

    /// Parse policy TOML; `origin` names the file in errors (the TOML errors carry the line).
    pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let invalid = |detail: String| PolicyError::Invalid {
            path: origin.to_owned(),
            detail,
        };
        let policy: Policy = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let line_of = |needle: &str| {
            text.lines()
                .position(|l| l.contains(needle))
                .map_or(String::new(), |n| format!("line {}: ", n + 1))
        };
        for (table, keys, allowed) in [
            ("method_by_media", &policy.method_by_media, &MEDIA[..]),
            (
                "method_by_transport",
                &policy.method_by_transport,
                &TRANSPORTS[..],
            ),
        ] {
            for key in keys.keys() {
                if !allowed.contains(&key.as_str()) {
                    return Err(invalid(format!(
                        "{}[{table}] has {key:?}; use one of {}",
                        line_of(key),
                        allowed.join(", ")
                    )));
                }
            }
        }
        let methods = std::iter::once(&policy.method)
            .chain(policy.method_by_media.values())
            .chain(policy.method_by_transport.values());
        for m in methods {
            if let Err(e) = crate::method::resolve(m) {
                return Err(invalid(format!("{}method {m:?}: {e}", line_of(m))));
            }
        }
        for (i, rule) in policy.ignore.iter().enumerate() {
            if rule.serial.is_none() && rule.model.is_none() {
                return Err(invalid(format!(
                    "[[ignore]] number {}: give a serial, a model or both",
                    i + 1
                )));
            }
        }
        Ok(policy)
    }

    /// The method for `device`: by transport, else by media class, else the default.
    pub fn method_for(&self, device: &DeviceInfo) -> &str {
        let transport = format!("{:?}", device.transport).to_lowercase();
        let media = match device.media_class {
            crate::device::MediaClass::Magnetic => "magnetic",
            crate::device::MediaClass::Flash => "flash",
            crate::device::MediaClass::Virtual => "virtual",
        };
        self.method_by_transport
            .get(&transport)
            .or_else(|| self.method_by_media.get(media))
            .unwrap_or(&self.method)
    }

    /// The ignore rule that matches `device`, described.
    pub fn ignored_by(&self, device: &DeviceInfo) -> Option<String> {
        let serials: Vec<&str> = [
            device.serial.as_deref(),
            device
                .drive_identity
                .as_ref()
                .and_then(|i| i.serial.as_deref()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let models: Vec<&str> = [
            device.model.as_deref(),
            device
                .drive_identity
                .as_ref()
                .and_then(|i| i.model.as_deref()),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.ignore.iter().find_map(|r| {
            let serial_ok = r
                .serial
                .as_deref()
                .is_none_or(|s| serials.iter().any(|d| d.trim() == s.trim()));
            let model_ok = r
                .model
                .as_deref()
                .is_none_or(|m| models.iter().any(|d| d.trim() == m.trim()));
            (serial_ok && model_ok).then(|| match (&r.serial, &r.model) {
                (Some(s), Some(m)) => format!("serial {s}, model {m}"),
                (Some(s), None) => format!("serial {s}"),
                (None, Some(m)) => format!("model {m}"),
                (None, None) => String::new(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{sample, DeviceKind, MediaClass, Transport};

    #[test]
    fn the_shipped_example_parses_and_zeros_every_disk_with_full_verification() {
        let text = include_str!("../../docs/examples/station.toml");
        let p = Policy::parse(text, "station.toml").unwrap();
        assert_eq!(p.method, "zero");
        assert_eq!(p.verify, Some(VerifyMode::All));
        let d = sample(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        assert_eq!(p.method_for(&d), "zero");
    }

    #[test]
    fn methods_by_transport_win_over_media_and_the_default() {
        let p = Policy::parse(
            "method = \"nist-clear\"\n[method_by_media]\nflash = \"purge\"\n[method_by_transport]\nusb = \"zero\"\n",
            "p.toml",
        )
        .unwrap();
        let nvme = sample(DeviceKind::Disk, Transport::Nvme, MediaClass::Flash);
        let usb = sample(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        let hdd = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        assert_eq!(p.method_for(&nvme), "purge");
        assert_eq!(p.method_for(&usb), "zero");
        assert_eq!(p.method_for(&hdd), "nist-clear");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        for (text, needle) in [
            ("method = \"zero\"\nverifi = \"all\"\n", "line 2"),
            ("method = \"dod-9\"\n", "line 1: method \"dod-9\""),
            (
                "method = \"zero\"\n[method_by_media]\nspinning = \"zero\"\n",
                "line 3: [method_by_media] has \"spinning\"",
            ),
            (
                "method = \"zero\"\n[[ignore]]\n",
                "give a serial, a model or both",
            ),
            ("verify = \"all\"\n", "missing field `method`"),
            ("method = \"zero\"\nverify = \"most\"\n", "line 2"),
        ] {
            let e = Policy::parse(text, "p.toml").unwrap_err().to_string();
            assert!(
                e.contains(needle) && e.contains("p.toml"),
                "{text:?} -> {e}"
            );
        }
    }

    #[test]
    fn ignore_rules_match_the_kernel_or_the_drive_serial_and_model() {
        let p = Policy::parse(
            "method = \"zero\"\n[[ignore]]\nserial = \"S123\"\n[[ignore]]\nmodel = \"Cold Spare\"\nserial = \"X9\"\n",
            "p.toml",
        )
        .unwrap();
        let mut d = sample(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        assert_eq!(p.ignored_by(&d).as_deref(), Some("serial S123"));
        d.serial = Some("X9".into());
        assert_eq!(p.ignored_by(&d), None, "model must match too");
        d.model = Some("Cold Spare".into());
        assert!(p.ignored_by(&d).is_some());
    }
}
