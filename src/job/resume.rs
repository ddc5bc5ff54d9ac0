//! Resuming an interrupted wipe from its journal entry.
//!
//! The journal keeps, for each device, its identity, the plan (method, seed, PRNG,
//! verification, rounds, blank), the passes finished and the last checkpoint: how far from the
//! start the running pass is written *and flushed*. After a power cut, a resumed wipe
//! regenerates the same plan from the seed, skips what the journal says is done, continues the
//! interrupted pass at the checkpoint, runs the rest, and verifies as the plan says — the final
//! verification reads the whole medium, so nothing the interruption lost can pass unnoticed.
//!
//! Only the same drive is ever resumed: its serial, size and model (or, for a loop device, its
//! backing file and size) must match the entry; plans with firmware steps are not resumed (a
//! sanitize continues inside the drive on its own; run the purge again).

use serde::{Deserialize, Serialize};

use super::journal::Entry;
use crate::device::DeviceInfo;
use crate::method::{self, PlanOptions, VerifyMode, WipePlan};
use crate::pattern::{Prng, Seed};

/// Where a resumed wipe continues, recorded in its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Resumed {
    /// The journal entry of the interrupted wipe.
    pub journal_id: String,
    /// When the interrupted wipe started (UTC, RFC 3339).
    pub interrupted_started_at: String,
    /// Its last journal update: about when it was interrupted.
    pub interrupted_last_seen: String,
    /// The step that was continued, and the byte offset it was continued from.
    pub step: u32,
    pub offset: u64,
}

/// The step and offset an entry's wipe continues from: the checkpointed pass if it did not
/// finish, else the step after the last finished one.
pub fn resume_point(entry: &Entry) -> (u32, u64) {
    let done: Vec<u32> = entry
        .passes_done
        .iter()
        .filter(|p| p.completed)
        .map(|p| p.index)
        .collect();
    if let Some(c) = &entry.checkpoint {
        if !done.contains(&c.pass) {
            return (c.pass, c.flushed_bytes);
        }
    }
    let next = done.iter().max().map_or(1, |m| m + 1);
    (next, 0)
}

/// Why `device` is not the drive `entry` was wiping; `None` when it is.
pub fn mismatch(entry: &Entry, device: &DeviceInfo) -> Option<String> {
    let id = &entry.identity;
    let mut why = Vec::new();
    if id.size_bytes != device.size_bytes {
        why.push(format!(
            "size {} bytes, the journal says {}",
            device.size_bytes, id.size_bytes
        ));
    }
    if id.serial != device.serial {
        why.push(format!(
            "serial {:?}, the journal says {:?}",
            device.serial, id.serial
        ));
    }
    if id.model != device.model {
        why.push(format!(
            "model {:?}, the journal says {:?}",
            device.model, id.model
        ));
    }
    if id.backing_file != device.backing_file {
        why.push(format!(
            "backing file {:?}, the journal says {:?}",
            device.backing_file, id.backing_file
        ));
    }
    if id.serial.is_none() && id.backing_file.is_none() {
        why.push("the drive has no serial number to recognise it by".into());
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// The plan the interrupted wipe was following, with its resume point set.
pub fn plan(entry: &Entry) -> Result<WipePlan, String> {
    let method = method::resolve(&entry.method).map_err(|e| {
        format!(
            "its method {:?} cannot be found again ({e}); a wipe is resumed only with a built-in method or the same method file",
            entry.method
        )
    })?;
    let seed = hex::decode(&entry.seed)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(Seed)
        .ok_or_else(|| "its seed in the journal is not 64 hex digits".to_owned())?;
    let prng = match entry.prng.as_str() {
        "aes-ctr" => Prng::AesCtr,
        "chacha20" => Prng::Chacha20,
        other => return Err(format!("its PRNG {other:?} is unknown")),
    };
    let verify = match entry.verify_mode.as_str() {
        "none" => VerifyMode::None,
        "last" => VerifyMode::Last,
        "all" => VerifyMode::All,
        "sample" => VerifyMode::Sample,
        other => return Err(format!("its verification {other:?} is unknown")),
    };
    let mut p = method::plan(
        &method,
        &PlanOptions {
            verify: Some(verify),
            rounds: entry.rounds,
            blank: entry.blank,
            prng: Some(prng),
            seed,
        },
    );
    if p.steps.len() as u32 != entry.passes_planned {
        return Err(format!(
            "the method now has {} steps where the journal planned {}",
            p.steps.len(),
            entry.passes_planned
        ));
    }
    if p.has_firmware() {
        return Err(
            "its plan has firmware steps, which are not resumed (a sanitize continues inside the drive by itself): run the purge again".into(),
        );
    }
    let (step, offset) = resume_point(entry);
    // Every pass was written: continue the last one at its end, which writes nothing and runs
    // its verification.
    p.resume = Some(if step as usize > p.steps.len() {
        (p.steps.len() as u32, u64::MAX)
    } else {
        (step, offset)
    });
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{sample, DeviceKind, MediaClass, Transport};

    fn entry(device: &DeviceInfo, done: &[u32], checkpoint: Option<(u32, u64)>) -> Entry {
        serde_json::from_value(serde_json::json!({
            "schema": super::super::journal::JOURNAL_SCHEMA,
            "id": "e1", "device": device.path, "serial": device.serial, "model": device.model,
            "identity": {"device_number": "8:0", "inode": null, "diskseq": 1,
                         "size_bytes": device.size_bytes, "serial": device.serial,
                         "model": device.model, "backing_file": null, "loop_offset": null,
                         "detaching": false},
            "method": "dod-3", "passes_planned": 3, "verify_mode": "last", "prng": "chacha20",
            "seed": "11".repeat(32), "started_at": "2026-12-01T00:00:00Z",
            "updated_at": "2026-12-01T00:10:00Z", "host": "h", "pid": 1, "boot_id": null,
            "passes_done": done.iter().map(|i| serde_json::json!({
                "index": i, "pattern": "0x00", "bytes_written": 1, "seconds": 1.0,
                "throughput_bps": 1.0, "completed": true})).collect::<Vec<_>>(),
            "checkpoint": checkpoint.map(|(p, b)| serde_json::json!({"pass": p, "flushed_bytes": b})),
            "closed": null
        }))
        .unwrap()
    }

    #[test]
    fn the_resume_point_follows_the_checkpoint_and_the_finished_passes() {
        let d = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        assert_eq!(resume_point(&entry(&d, &[], None)), (1, 0));
        assert_eq!(resume_point(&entry(&d, &[], Some((1, 4096)))), (1, 4096));
        assert_eq!(
            resume_point(&entry(&d, &[1], Some((1, 4096)))),
            (2, 0),
            "pass 1 finished"
        );
        assert_eq!(resume_point(&entry(&d, &[1], Some((2, 8192)))), (2, 8192));
        let p = plan(&entry(&d, &[1, 2, 3], None)).unwrap();
        assert_eq!(
            p.resume,
            Some((3, u64::MAX)),
            "all written: only the verification is left"
        );
        let p = plan(&entry(&d, &[1], Some((2, 8192)))).unwrap();
        assert_eq!(p.resume, Some((2, 8192)));
        assert_eq!(p.seed.to_hex(), "11".repeat(32));
        assert_eq!(p.prng.name(), "chacha20");
    }

    #[test]
    fn only_the_same_drive_is_resumed() {
        let d = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        let e = entry(&d, &[], Some((1, 4096)));
        assert_eq!(mismatch(&e, &d), None);
        let mut other = d.clone();
        other.serial = Some("S999".into());
        assert!(mismatch(&e, &other).unwrap().contains("serial"));
        let mut bigger = d.clone();
        bigger.size_bytes *= 2;
        assert!(mismatch(&e, &bigger).unwrap().contains("size"));
        let mut anonymous = d.clone();
        anonymous.serial = None;
        let e = entry(&anonymous, &[], None);
        assert!(mismatch(&e, &anonymous)
            .unwrap()
            .contains("no serial number"));
    }
}
