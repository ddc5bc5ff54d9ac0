//! `massho media ...`: record what happens to one medium.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::args::{MediaCommand, Override, Recorder};
use super::{date_arg, emit, from_ledger, new_event, open, open_read_only, record};
use crate::cli::{Exit, ExitError};
use crate::ledger::{report, EventData, Ledger, Ownership, Registration};

pub fn run(cmd: &MediaCommand) -> anyhow::Result<Exit> {
    match cmd {
        MediaCommand::Register(a) => {
            let ownership = match (&a.lessor, &a.contract) {
                (Some(lessor), Some(contract)) => Ownership::Leased {
                    lessor: lessor.clone(),
                    contract: contract.clone(),
                    return_due: a
                        .return_due
                        .as_deref()
                        .map(|d| date_arg(d, "--return-due"))
                        .transpose()?,
                },
                _ => Ownership::Owned,
            };
            let capacity_bytes = a
                .capacity
                .as_deref()
                .map(|c| {
                    crate::ledger::exchange::parse_capacity(c).ok_or_else(|| {
                        ExitError::usage(format!(
                            "--capacity {c:?} is not a size; write bytes or a size with a unit, e.g. 500G, 2T, 32GiB"
                        ))
                    })
                })
                .transpose()?;
            let registration = Registration {
                kind: a.kind,
                vendor: a.vendor.clone(),
                model: a.model.clone(),
                // As devices report it, without the spaces some firmware pads it with.
                serial: a
                    .serial
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                capacity_bytes,
                department: a.department.clone(),
                personal_info: a.personal_info,
                ownership,
            };
            let mut events = vec![new_event(
                &a.recorder,
                Some(&a.asset),
                EventData::Registered(registration),
            )?];
            if let Some(cabinet) = &a.cabinet {
                events.push(new_event(
                    &a.recorder,
                    Some(&a.asset),
                    EventData::Stored {
                        cabinet: cabinet.clone(),
                        slot: a.slot.clone(),
                    },
                )?);
            }
            record(&mut open(&a.path)?, events)
        }
        MediaCommand::Store(a) => one(
            &a.path,
            &a.recorder,
            &a.asset,
            EventData::Stored {
                cabinet: a.cabinet.clone(),
                slot: a.slot.clone(),
            },
        ),
        MediaCommand::CheckOut(a) => one(
            &a.path,
            &a.recorder,
            &a.asset,
            EventData::CheckedOut {
                by: a.by.clone(),
                purpose: a.purpose.clone(),
                approver: a.approver.clone(),
                due: a.due.as_deref().map(|d| date_arg(d, "--due")).transpose()?,
            },
        ),
        MediaCommand::CheckIn(a) => {
            let mut ledger = open(&a.path)?;
            let cabinet = match &a.cabinet {
                Some(c) => c.clone(),
                None => ledger
                    .medium(&a.asset)
                    .map_err(from_ledger)?
                    .and_then(|m| m.cabinet)
                    .ok_or_else(|| {
                        ExitError::usage(format!(
                            "medium {} has no cabinet on record; say where it goes with --cabinet",
                            a.asset
                        ))
                    })?,
            };
            let e = new_event(
                &a.recorder,
                Some(&a.asset),
                EventData::CheckedIn {
                    by: a.by.clone(),
                    cabinet,
                    slot: a.slot.clone(),
                },
            )?;
            record(&mut ledger, vec![e])
        }
        MediaCommand::Handover(a) => one(
            &a.path,
            &a.recorder,
            &a.asset,
            EventData::HandedOver {
                from: a.from.clone(),
                to: a.to.clone(),
                purpose: a.purpose.clone(),
                method: a.method.clone(),
                receipt: a.receipt.clone(),
            },
        ),
        MediaCommand::Backup(a) => one(
            &a.path,
            &a.recorder,
            &a.asset,
            EventData::BackupWritten {
                backup_set: a.backup_set.clone(),
                system: a.system.clone(),
                generation: a.generation.clone(),
                retention_until: date_arg(&a.retain_until, "--retain-until")?,
            },
        ),
        MediaCommand::Wiped(a) => {
            let mut keys = super::trusted_keys(&a.pubkey, a.trusted.as_deref())?;
            if keys.is_empty() {
                // The station's own key, which signs what `massho wipe` certifies here.
                if let Some(p) = crate::sign::default_key_dir()
                    .map(|d| d.join("massho.pub"))
                    .filter(|p| p.exists())
                {
                    keys = super::trusted_keys(&[p], None)?;
                }
            }
            if keys.is_empty() {
                return Err(ExitError::usage(
                    "a certificate is recorded only after its signature checks out: give the signer's public key with --pubkey KEY or --trusted DIR",
                ));
            }
            let data = wiped_from_certificate(&a.certificate, &keys, &a.asset)?;
            one(&a.path, &a.recorder, &a.asset, data)
        }
        MediaCommand::Destroy(a) => {
            let (file, sha) = match &a.certificate {
                Some(p) => (Some(p.display().to_string()), Some(file_sha256(p)?)),
                None => (None, None),
            };
            one(
                &a.path,
                &a.recorder,
                &a.asset,
                EventData::Destroyed {
                    method: a.method.clone(),
                    contractor: a.contractor.clone(),
                    certificate_file: file,
                    certificate_sha256: sha,
                    witness: a.witness.clone(),
                    forced: forced(&a.force),
                },
            )
        }
        MediaCommand::Return(a) => {
            let mut ledger = open(&a.path)?;
            let m = ledger.medium(&a.asset).map_err(from_ledger)?;
            let (lessor, contract) = match m {
                Some(m) => (m.lessor.unwrap_or_default(), m.contract.unwrap_or_default()),
                None => (String::new(), String::new()),
            };
            let e = new_event(
                &a.recorder,
                Some(&a.asset),
                EventData::Returned {
                    lessor,
                    contract,
                    receipt: a.receipt.clone(),
                    forced: forced(&a.force),
                },
            )?;
            record(&mut ledger, vec![e])
        }
        MediaCommand::Dispose(a) => one(
            &a.path,
            &a.recorder,
            &a.asset,
            EventData::Disposed {
                method: a.method.clone(),
                contractor: a.contractor.clone(),
                receipt: a.receipt.clone(),
                forced: forced(&a.force),
            },
        ),
        MediaCommand::Lost(a) => one(
            &a.path,
            &a.recorder,
            &a.asset,
            EventData::Lost {
                description: a.description.clone(),
            },
        ),
        MediaCommand::Found(a) => one(
            &a.path,
            &a.recorder,
            &a.asset,
            EventData::Found {
                cabinet: a.cabinet.clone(),
                slot: a.slot.clone(),
            },
        ),
        MediaCommand::Show(a) => show(&open_read_only(&a.path)?, &a.asset, a.json),
        MediaCommand::Evidence(a) => super::evidence::add(a),
        MediaCommand::List(a) => {
            let ledger = open_read_only(&a.path)?;
            let status = match &a.status {
                None => None,
                Some(s) => Some(crate::ledger::MediumStatus::parse(s).ok_or_else(|| {
                    ExitError::usage(format!(
                        "--status {s:?} is not a status; use one of in_use, in_cabinet, checked_out, handed_over, wiped, destroyed, returned_to_lessor, disposed, lost"
                    ))
                })?),
            };
            let mut media = ledger
                .list(status, a.cabinet.as_deref())
                .map_err(from_ledger)?;
            media.sort_by(|a, b| a.asset_tag.cmp(&b.asset_tag));
            let rows: Vec<Vec<String>> = media.iter().map(medium_row).collect();
            emit(&a.output, &MEDIUM_HEADERS, &rows, &media)?;
            Ok(Exit::Passed)
        }
    }
}

/// Append one event about one medium.
fn one(
    path: &super::args::LedgerPath,
    rec: &Recorder,
    asset: &str,
    data: EventData,
) -> anyhow::Result<Exit> {
    let e = new_event(rec, Some(asset), data)?;
    record(&mut open(path)?, vec![e])
}

fn forced(o: &Override) -> Option<String> {
    if o.force {
        o.reason.clone()
    } else {
        None
    }
}

pub const MEDIUM_HEADERS: [&str; 11] = [
    "ASSET",
    "KIND",
    "MODEL",
    "SERIAL",
    "DEPARTMENT",
    "PI",
    "STATUS",
    "SINCE",
    "WHERE",
    "LAST WIPE",
    "SANITIZED",
];

pub fn medium_row(m: &crate::ledger::Medium) -> Vec<String> {
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".to_owned());
    let place = match (&m.holder, &m.cabinet) {
        (Some(h), _) => format!("with {h}"),
        (None, Some(c)) => match &m.slot {
            Some(s) => format!("{c}/{s}"),
            None => c.clone(),
        },
        (None, None) => "-".to_owned(),
    };
    vec![
        m.asset_tag.clone(),
        m.kind.name().to_owned(),
        dash(&m.model),
        dash(&m.serial),
        dash(&m.department),
        if m.personal_info { "yes" } else { "no" }.to_owned(),
        m.status.name().to_owned(),
        m.status_since.clone(),
        place,
        dash(&m.last_wipe_status),
        if m.sanitized { "yes" } else { "no" }.to_owned(),
    ]
}

fn show(ledger: &Ledger, asset: &str, json: bool) -> anyhow::Result<Exit> {
    let Some(m) = ledger.medium(asset).map_err(from_ledger)? else {
        return Err(ExitError::refused(format!(
            "no medium {asset} in ledger {}; `massho media list` shows what is there",
            ledger.path().display()
        )));
    };
    let events = report::history(ledger, asset).map_err(from_ledger)?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"medium": m, "events": events}))?
        );
        return Ok(Exit::Passed);
    }
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".to_owned());
    safeln!("medium {}  ({})", m.asset_tag, m.kind.name());
    safeln!(
        "  {} {}, serial {}, {}",
        dash(&m.vendor),
        dash(&m.model),
        dash(&m.serial),
        m.capacity_bytes
            .map(|c| format!("{c} bytes"))
            .unwrap_or_else(|| "capacity -".into())
    );
    safeln!(
        "  department {}, personal information: {}",
        dash(&m.department),
        if m.personal_info { "yes" } else { "no" }
    );
    if m.leased {
        safeln!(
            "  leased from {}, contract {}, return due {}",
            dash(&m.lessor),
            dash(&m.contract),
            dash(&m.return_due)
        );
    }
    safeln!(
        "  status {} since {}; {}",
        m.status.name(),
        m.status_since,
        medium_row(&m)[8]
    );
    if let Some(w) = &m.last_wipe_status {
        safeln!(
            "  last wipe {w}, certificate {}",
            dash(&m.last_wipe_certificate)
        );
    }
    safeln!(
        "  sanitized: {}",
        if m.sanitized {
            "yes (a passing, verified wipe or a destruction, and nothing written since)"
        } else {
            "NO"
        }
    );
    if let Some(r) = &m.retention_until {
        safeln!("  backups kept until {r} (set {})", dash(&m.backup_set));
    }
    for line in super::evidence::show_lines(ledger, &events) {
        safeln!("{line}");
    }
    outln!();
    super::report::print_events(
        &super::args::Output {
            json: false,
            csv: false,
        },
        &events,
    )?;
    Ok(Exit::Passed)
}

pub const EVENT_HEADERS: [&str; 6] = ["SEQ", "TIME", "EVENT", "MEDIUM", "BY", "DETAILS"];

pub fn event_row(e: &crate::ledger::Event) -> Vec<String> {
    let mut details = report::describe(e);
    if let Some(n) = &e.note {
        details.push_str(&format!(" [{n}]"));
    }
    vec![
        e.seq.to_string(),
        e.time.clone(),
        e.data.kind().to_owned(),
        e.medium.clone().unwrap_or_else(|| "-".into()),
        e.actor.clone(),
        details,
    ]
}

fn file_sha256(path: &Path) -> anyhow::Result<String> {
    // A contractor's certificate of destruction: often a scanned PDF, so the import bound.
    let bytes = crate::input::read_regular(
        path,
        "certificate of destruction",
        crate::input::limit::IMPORT,
    )
    .map_err(judged_file_error)?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// A judged file that is the wrong kind of file, missing or too large is a usage error.
fn judged_file_error(e: crate::input::InputError) -> anyhow::Error {
    let message = crate::text::terminal_safe(&e.to_string()).into_owned();
    if e.is_usage() {
        ExitError::usage(message)
    } else {
        anyhow::Error::new(e)
    }
}

/// The `wiped` event for a massho certificate for medium `asset`, after checking its signature
/// with `keys` and that it is not another medium's certificate. A genuine certificate of a
/// failed or aborted wipe is recorded as such. The certificate is read once: the event is built
/// from the very bytes whose signature was checked.
pub fn wiped_from_certificate(
    path: &Path,
    keys: &[crate::sign::PublicKey],
    asset: &str,
) -> anyhow::Result<EventData> {
    let files = crate::cert::check::CertFiles::read(path).map_err(judged_file_error)?;
    wiped_event(&files, keys, asset)
}

/// [`wiped_from_certificate`] on files already read.
fn wiped_event(
    files: &crate::cert::check::CertFiles,
    keys: &[crate::sign::PublicKey],
    asset: &str,
) -> anyhow::Result<EventData> {
    use crate::cert::check::Problem;
    let c = crate::cert::check::check_files(files, &crate::cert::check::Trust::minisign(keys));
    let refused = |p: &dyn std::fmt::Display| {
        ExitError::refused(format!(
            "certificate {}: {p}; not recorded",
            crate::text::path_safe(&files.path)
        ))
    };
    // A genuine certificate of a wipe that did not pass is recorded as such; its file name is
    // not what the ledger records (the id and the SHA-256 are).
    let cert = match (&c.certificate, &c.problem) {
        (Some(cert), None | Some(Problem::NotPassed(_) | Problem::Misnamed { .. })) => cert,
        (_, Some(p)) => return Err(refused(p)),
        (None, None) => return Err(refused(&"not checked")),
    };
    if let Some(tag) = cert.asset_tag.as_deref().filter(|t| *t != asset) {
        return Err(ExitError::refused(format!(
            "certificate {} is for asset {}, not {asset}; not recorded",
            crate::text::terminal_safe(&cert.certificate_id),
            crate::text::terminal_safe(tag)
        )));
    }
    Ok(EventData::wiped(cert, &files.json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::check::CertFiles;
    use crate::cert::Certificate;
    use crate::sign::SecretKey;

    /// The shipped example under certificate id `id`, signed with `key` into `dir`.
    fn signed(dir: &Path, key: &SecretKey, id: &str) -> (std::path::PathBuf, Vec<u8>) {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/examples");
        let example = std::fs::read_dir(examples)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .unwrap();
        let mut cert: Certificate =
            serde_json::from_slice(&std::fs::read(example).unwrap()).unwrap();
        cert.certificate_id = id.into();
        cert.asset_tag = None;
        let bytes = serde_json::to_vec_pretty(&cert).unwrap();
        let sig = key.sign(&bytes, "test", &cert.trusted_comment()).unwrap();
        let path = dir.join(format!("{id}.json"));
        std::fs::write(&path, &bytes).unwrap();
        std::fs::write(crate::cert::signature_path(&path), sig).unwrap();
        (path, bytes)
    }

    /// The certificate is swapped on disk for another genuine one after it was read: the event
    /// still names the certificate whose signature was checked, with that file's SHA-256.
    #[test]
    fn the_wiped_event_comes_from_the_bytes_that_were_checked() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::from_seed_for_tests([5; 32], [1; 8]);
        let first = "11111111-1111-4111-8111-111111111111";
        let (path, checked) = signed(dir.path(), &key, first);
        let files = CertFiles::read(&path).unwrap();
        let swap = tempfile::tempdir().unwrap();
        let (other, _) = signed(swap.path(), &key, "22222222-2222-4222-8222-222222222222");
        std::fs::copy(&other, &path).unwrap();
        std::fs::copy(
            crate::cert::signature_path(&other),
            crate::cert::signature_path(&path),
        )
        .unwrap();
        let event = wiped_event(&files, &[key.public_key()], "PC-1").unwrap();
        match event {
            EventData::Wiped {
                certificate_id,
                certificate_sha256,
                ..
            } => {
                assert_eq!(certificate_id, first);
                assert_eq!(certificate_sha256, hex::encode(Sha256::digest(&checked)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_fifo_named_as_the_certificate_is_a_usage_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("c.json");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let key = SecretKey::from_seed_for_tests([5; 32], [1; 8]).public_key();
        // A reader blocked on the FIFO must fail the test, not hang it.
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(wiped_from_certificate(&path, &[key], "PC-1").map(|_| ()));
        });
        let e = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("wiped_from_certificate hung on a FIFO")
            .unwrap_err();
        let exit = e.downcast_ref::<ExitError>().map(|x| x.exit);
        assert_eq!(exit, Some(Exit::Usage), "{e:#}");
        assert!(e.to_string().contains("FIFO"), "{e:#}");
    }
}
