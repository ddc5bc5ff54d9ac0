//! The suspend-to-RAM and resume cycle that unfreezes ATA security.
//!
//! Most BIOSes issue SECURITY FREEZE LOCK at boot, after which a drive refuses every SECURITY
//! command (and some refuse SANITIZE) until it loses power. Suspending the machine to RAM (ACPI
//! S3, Linux `mem` with `mem_sleep` = `deep`) powers the drives down; on resume they come back
//! unfrozen, because the BIOS does not run its boot-time freeze again. An RTC alarm wakes the
//! machine after a few seconds, so the operator need not press a key. This is what `hdparm`'s
//! documentation and every peer advise; massho only does it when the operator asks
//! (`massho unfreeze`).
//!
//! The cycle works on a sysfs root given by the caller, so that the sequence of writes is tested
//! against a directory tree instead of suspending the test machine.

use std::path::{Path, PathBuf};

/// Why the machine cannot do the cycle, or what failed during it.
#[derive(Debug, thiserror::Error)]
pub enum PowerError {
    #[error("{path} does not offer suspend-to-RAM (`mem`): this machine cannot power its drives down and up again; unfreeze a drive by unplugging and replugging its power (hot-plug) after boot instead")]
    NoSuspend { path: PathBuf },
    #[error("no RTC with a wake alarm under {path}: massho cannot wake the machine by itself; suspend with a key press to wake (`echo mem > /sys/power/state`) or hot-plug the drive")]
    NoWakeAlarm { path: PathBuf },
    #[error("cannot write {path}: {source}; run massho as root")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the machine can do, read before asking the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuspendSupport {
    /// The RTC's `wakealarm` file.
    pub wakealarm: PathBuf,
    /// `mem_sleep` offers `deep` (S3): only then do drives lose power. `s2idle` keeps them
    /// powered on many machines, and the drive may stay frozen.
    pub deep: bool,
    /// `deep` is the one selected now.
    pub deep_selected: bool,
}

/// Check that `root` (normally `/`) offers suspend-to-RAM and an RTC wake alarm.
pub fn support(root: &Path) -> Result<SuspendSupport, PowerError> {
    let state = root.join("sys/power/state");
    let states = std::fs::read_to_string(&state).unwrap_or_default();
    if !states.split_whitespace().any(|s| s == "mem") {
        return Err(PowerError::NoSuspend { path: state });
    }
    let rtc_dir = root.join("sys/class/rtc");
    let wakealarm = std::fs::read_dir(&rtc_dir)
        .ok()
        .and_then(|d| {
            let mut rtcs: Vec<PathBuf> = d.flatten().map(|e| e.path().join("wakealarm")).collect();
            rtcs.sort();
            rtcs.into_iter().find(|p| p.exists())
        })
        .ok_or(PowerError::NoWakeAlarm { path: rtc_dir })?;
    let mem_sleep = std::fs::read_to_string(root.join("sys/power/mem_sleep")).unwrap_or_default();
    Ok(SuspendSupport {
        wakealarm,
        deep: mem_sleep
            .split_whitespace()
            .any(|s| s.trim_matches(|c| c == '[' || c == ']') == "deep"),
        deep_selected: mem_sleep.split_whitespace().any(|s| s == "[deep]"),
    })
}

fn write(path: &Path, text: &str) -> Result<(), PowerError> {
    std::fs::write(path, text).map_err(|source| PowerError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Suspend to RAM and wake after `seconds` by the RTC alarm. Returns after the resume (the
/// write to `/sys/power/state` blocks until then). Selects `deep` sleep when offered.
pub fn suspend_cycle(
    root: &Path,
    support: &SuspendSupport,
    seconds: u32,
) -> Result<(), PowerError> {
    if support.deep && !support.deep_selected {
        write(&root.join("sys/power/mem_sleep"), "deep")?;
    }
    // An alarm already set must be cleared before a new one is accepted.
    write(&support.wakealarm, "0")?;
    write(&support.wakealarm, &format!("+{}", seconds.max(1)))?;
    write(&root.join("sys/power/state"), "mem")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(states: &str, mem_sleep: &str, rtc: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let power = dir.path().join("sys/power");
        std::fs::create_dir_all(&power).unwrap();
        std::fs::write(power.join("state"), states).unwrap();
        std::fs::write(power.join("mem_sleep"), mem_sleep).unwrap();
        let rtc_dir = dir.path().join("sys/class/rtc/rtc0");
        std::fs::create_dir_all(&rtc_dir).unwrap();
        if rtc {
            std::fs::write(rtc_dir.join("wakealarm"), "").unwrap();
        }
        dir
    }

    #[test]
    fn the_cycle_selects_deep_sets_the_alarm_and_suspends() {
        let t = tree("freeze mem disk\n", "[s2idle] deep\n", true);
        let s = support(t.path()).unwrap();
        assert!(s.deep && !s.deep_selected);
        suspend_cycle(t.path(), &s, 5).unwrap();
        let read = |p: &str| std::fs::read_to_string(t.path().join(p)).unwrap();
        assert_eq!(read("sys/power/mem_sleep"), "deep");
        assert_eq!(read("sys/class/rtc/rtc0/wakealarm"), "+5");
        assert_eq!(read("sys/power/state"), "mem");
    }

    #[test]
    fn machines_without_suspend_or_an_alarm_are_told_what_to_do_instead() {
        let t = tree("freeze disk\n", "s2idle\n", true);
        let e = support(t.path()).unwrap_err().to_string();
        assert!(
            e.contains("does not offer suspend-to-RAM") && e.contains("hot-plug"),
            "{e}"
        );
        let t = tree("freeze mem\n", "[s2idle]\n", false);
        let e = support(t.path()).unwrap_err().to_string();
        assert!(e.contains("no RTC with a wake alarm"), "{e}");
        let t = tree("mem\n", "[s2idle]\n", true);
        let s = support(t.path()).unwrap();
        assert!(
            !s.deep,
            "s2idle only: the caller warns that drives may stay frozen"
        );
    }
}
