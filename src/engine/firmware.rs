//! A firmware step inside a wipe: fingerprint, run through [`Firmware`], then check what the
//! drive did — never trusting its status alone (NIST SP 800-88 §4.7).
//!
//! - A technique whose result the drive documents ([`Expect::Byte`]: overwrite sanitize,
//!   block erase or user-data format on a namespace whose DLFEAT says deallocated blocks read
//!   zeros) is read back like an overwrite pass, in full or NIST-sampled.
//! - Anything else ([`Expect::Changed`]: crypto erase, vendor-pattern erases) is checked by
//!   fingerprints: before the step, [`SAMPLED_SECTORS`] sectors (the first, the last and the
//!   rest pseudorandom from the run's seed) are read and hashed; a sector that holds one
//!   repeated byte (a blank drive) proves nothing, so it is first given a random marker. After
//!   the step none of them may read the same. The fingerprints go to the journal; the data
//!   never leaves the drive.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use super::{Accumulator, Control, Observer, Phase, WipeEvent};
use crate::device::io::{AlignedBuf, BlockTarget};
use crate::method::FirmwareSpec;
use crate::pattern::Seed;
use crate::purge::{
    Expect, Firmware, FirmwareCheck, FirmwareOutcome, FirmwareProgress, FirmwareRecord,
};

/// Sectors fingerprinted around a step whose result is not a documented pattern.
pub const SAMPLED_SECTORS: u64 = 256;

/// LBAs to fingerprint: first, last, and pseudorandom others (distinct, ascending).
fn sample_lbas(sectors: u64, seed: &Seed, step: u32) -> Vec<u64> {
    if sectors <= SAMPLED_SECTORS {
        return (0..sectors).collect();
    }
    let mut rng =
        rand_chacha::ChaCha20Rng::from_seed(seed.derive("firmware-fingerprint-lbas", step));
    let mut lbas = std::collections::BTreeSet::from([0, sectors - 1]);
    while (lbas.len() as u64) < SAMPLED_SECTORS {
        lbas.insert(rng.next_u64() % sectors);
    }
    lbas.into_iter().collect()
}

fn fingerprint(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Read and fingerprint the sampled sectors, giving uniform ones a marker first.
fn take_fingerprints(
    target: &dyn BlockTarget,
    seed: &Seed,
    step: u32,
) -> Result<Vec<(u64, String)>, String> {
    let sector = u64::from(target.sector_size().max(512));
    let sectors = target.size() / sector;
    if sectors == 0 {
        return Err("the medium is smaller than one sector".into());
    }
    let mut marker = rand_chacha::ChaCha20Rng::from_seed(seed.derive("firmware-marker", step));
    let mut buf = AlignedBuf::new(sector as usize);
    let mut out = Vec::new();
    let mut marked = false;
    for lba in sample_lbas(sectors, seed, step) {
        target
            .read_at(&mut buf, lba * sector)
            .map_err(|e| format!("reading sector {lba} before the step: {e}"))?;
        if buf.iter().all(|b| *b == buf[0]) {
            marker.fill_bytes(&mut buf);
            target
                .write_at(&buf, lba * sector)
                .map_err(|e| format!("writing a marker to sector {lba}: {e}"))?;
            marked = true;
        }
        out.push((lba, fingerprint(&buf)));
    }
    if marked {
        target
            .sync()
            .map_err(|e| format!("flushing the markers: {e}"))?;
    }
    Ok(out)
}

fn compare_fingerprints(target: &dyn BlockTarget, before: &[(u64, String)]) -> FirmwareCheck {
    let sector = u64::from(target.sector_size().max(512));
    let mut buf = AlignedBuf::new(sector as usize);
    let (mut unchanged, mut unreadable) = (0, 0);
    for (lba, print) in before {
        match target.read_at(&mut buf, lba * sector) {
            Ok(()) if fingerprint(&buf) == *print => unchanged += 1,
            Ok(()) => {}
            Err(_) => unreadable += 1,
        }
    }
    FirmwareCheck::Fingerprints {
        sectors: before.len() as u64,
        unchanged,
        unreadable,
    }
}

/// Bytes of the overall progress a firmware step counts for: the medium once for the step,
/// and its read-back.
pub(super) fn overall_bytes(spec: &FirmwareSpec, read_back: u64, size: u64) -> u64 {
    size + spec.verify.map_or(0, |_| read_back)
}

/// Run one firmware step and check it. `passes` is the plan's step count, for events.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_step(
    spec: &FirmwareSpec,
    firmware: Option<&mut (dyn Firmware + '_)>,
    target: &dyn BlockTarget,
    seed: &Seed,
    passes: u32,
    label: &str,
    config: &super::EngineConfig,
    observer: &dyn Observer,
    stop: &std::sync::atomic::AtomicBool,
    acc: &mut Accumulator,
) -> FirmwareRecord {
    use std::sync::atomic::Ordering;
    let size = target.size();
    let base = acc.overall_base;
    let not_started = |technique: String, detail: String| FirmwareRecord {
        step: spec.number,
        requested: spec.requested.name().into(),
        technique,
        reason: String::new(),
        transport: String::new(),
        commands: Vec::new(),
        outcome: FirmwareOutcome::NotStarted,
        detail,
        flags: Vec::new(),
        seconds: 0.0,
        check: FirmwareCheck::None {
            reason: "the step did not run".into(),
        },
    };
    let Some((technique, reason)) = spec.technique.clone() else {
        return not_started(
            spec.requested.name().into(),
            "no technique was chosen for this drive (the plan was not resolved)".into(),
        );
    };
    let Some(firmware) = firmware else {
        return not_started(
            technique.name().into(),
            "massho has no access to this drive's firmware".into(),
        );
    };
    let expect = firmware.expect(technique);
    let fingerprints = match (spec.verify, expect) {
        (Some(_), Expect::Changed) => match take_fingerprints(target, seed, spec.number) {
            Ok(f) => {
                if let Err(e) = firmware.remember(spec.number, &f) {
                    return not_started(
                        technique.name().into(),
                        format!("the fingerprints could not be kept in the journal ({e}); nothing was sent"),
                    );
                }
                Some(f)
            }
            Err(e) => {
                return not_started(technique.name().into(), format!("{e}; nothing was sent"))
            }
        },
        _ => None,
    };
    let started = std::time::Instant::now();
    let overall_total = acc.overall_total;
    let mut progress = |p: FirmwareProgress| {
        let done = p
            .fraction
            .map_or(0, |f| (f.clamp(0.0, 1.0) * size as f64) as u64);
        let elapsed = started.elapsed().as_secs_f64();
        // The drive's own estimate gives the rate when it has one.
        let rate = match p.estimate_seconds {
            Some(e) if e > 0.0 => size as f64 / e,
            _ if elapsed > 0.0 => done as f64 / elapsed,
            _ => 0.0,
        };
        let control = observer.event(&WipeEvent::Progress {
            device: label.to_owned(),
            phase: Phase::Firmware,
            pass: spec.number,
            passes,
            bytes_done: done,
            bytes_total: size,
            rate_bps: rate,
            in_flight_bytes: 0,
            overall_done: base + done,
            overall_total,
        });
        if control == Control::Stop {
            stop.store(true, Ordering::SeqCst);
        }
        if stop.load(Ordering::SeqCst) {
            Control::Stop
        } else {
            Control::Continue
        }
    };
    let mut record = firmware.execute(spec.number, technique, &mut progress);
    record.requested = spec.requested.name().into();
    record.reason = reason;
    acc.overall_base += size;
    // The drive changed the medium under any cached copy.
    let _ = target.drop_cache();
    record.check = match (record.outcome, spec.verify) {
        (FirmwareOutcome::Completed, None) => FirmwareCheck::None {
            reason:
                "verification was turned off (--verify none): the drive's status alone is not proof"
                    .into(),
        },
        (FirmwareOutcome::Completed, Some(kind)) => match (expect, fingerprints) {
            (Expect::Byte(b), _) => {
                let source = crate::pattern::PatternSource::new(
                    &crate::pattern::Pattern::byte(b),
                    crate::pattern::Prng::fastest(),
                    seed,
                );
                let v = super::verify_sweep(
                    target,
                    &source,
                    kind,
                    seed,
                    spec.number,
                    passes,
                    label,
                    config,
                    observer,
                    stop,
                    acc,
                );
                observer.event(&WipeEvent::VerifyDone {
                    device: label.to_owned(),
                    verification: v.clone(),
                    read_error_sectors: acc.last_read_error_sectors,
                });
                let check = FirmwareCheck::ReadBack {
                    expected: format!("{b:#04x}"),
                    kind: v.kind,
                    bytes_verified: v.bytes_verified,
                    mismatched_bytes: v.mismatched_bytes,
                };
                acc.verifications.push(v);
                check
            }
            (Expect::Changed, Some(before)) => compare_fingerprints(target, &before),
            (Expect::Changed, None) => FirmwareCheck::None {
                reason: "no fingerprints were taken".into(),
            },
        },
        (_, _) => FirmwareCheck::None {
            reason: "the firmware step did not complete".into(),
        },
    };
    observer.event(&WipeEvent::FirmwareDone {
        device: label.to_owned(),
        firmware: record.clone(),
    });
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_lbas_include_the_ends_and_are_distinct() {
        let l = sample_lbas(1 << 20, &Seed([3; 32]), 1);
        assert_eq!(l.len() as u64, SAMPLED_SECTORS);
        assert_eq!(l[0], 0);
        assert_eq!(*l.last().unwrap(), (1 << 20) - 1);
        assert!(l.windows(2).all(|w| w[0] < w[1]));
        assert_ne!(
            l,
            sample_lbas(1 << 20, &Seed([3; 32]), 2),
            "each step samples afresh"
        );
        assert_eq!(
            sample_lbas(10, &Seed([3; 32]), 1),
            (0..10).collect::<Vec<_>>()
        );
    }
}
