//! `massho media evidence`, `massho evidence timestamp|message|list`, `massho ledger policy`:
//! documents from outside kept with the ledger, their archive timestamps, and the policy that
//! demands them.

use std::path::Path;

use anyhow::Context;

use super::args::{
    EvidenceArgs, EvidenceCommand, EvidenceListArgs, EvidenceMessageArgs, EvidenceTimestampArgs,
    LedgerPolicyArgs,
};
use super::{actor, emit, from_ledger, new_event, open, open_read_only, record};
use crate::cli::{Exit, ExitError};
use crate::input;
use crate::ledger::evidence::{
    archive, signature, Evidence, EvidenceKind, EvidenceRule, EvidenceStore, SignatureCheck,
    GUARDED_EVENTS,
};
use crate::ledger::{EventData, Ledger, NewEvent};
use crate::text::path_safe;

/// `massho evidence ...`
pub fn run(cmd: &EvidenceCommand) -> anyhow::Result<Exit> {
    match cmd {
        EvidenceCommand::Timestamp(a) => timestamp(a),
        EvidenceCommand::Message(a) => message(a),
        EvidenceCommand::List(a) => list(a),
    }
}

/// A file the operator named that is missing, not a regular file or too large: exit 2.
fn input_error(e: input::InputError) -> anyhow::Error {
    if e.is_usage() {
        ExitError::usage(crate::text::terminal_safe(&e.to_string()).into_owned())
    } else {
        e.into()
    }
}

/// `massho media evidence ASSET FILE --kind KIND [--signature P7S] [--ca CA]...`
pub fn add(a: &EvidenceArgs) -> anyhow::Result<Exit> {
    let bytes = input::read_regular(
        &a.file,
        "evidence file",
        crate::ledger::evidence::store::MAX_EVIDENCE,
    )
    .map_err(input_error)?;
    let file_name = a
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "evidence".to_owned());
    // Checked before anything is stored: a refused event would leave the files unreferenced.
    if let Some(problem) = crate::ledger::evidence::file_name_problem(&file_name) {
        return Err(ExitError::usage(
            crate::text::terminal_safe(&problem).into_owned(),
        ));
    }
    let p7s_path = match &a.signature {
        Some(p) => Some(p.clone()),
        None => Some(crate::x509::signature_path(&a.file)).filter(|p| p.exists()),
    };
    let anchors = if a.ca.is_empty() {
        None
    } else {
        Some(
            crate::x509::TrustAnchors::load(&a.ca)
                .map_err(|e| ExitError::usage(crate::text::terminal_safe(&e.to_string())))?,
        )
    };
    let mut ledger = open(&a.path)?;
    // Checked before anything is stored: a file for a medium the ledger does not know would
    // only sit in the store unreferenced.
    if ledger.medium(&a.asset).map_err(from_ledger)?.is_none() {
        return Err(ExitError::refused(format!(
            "no medium {} in ledger {}; register it first with `massho media register {} ...`; nothing was stored",
            crate::text::terminal_safe(&a.asset),
            ledger.path().display(),
            crate::text::terminal_safe(&a.asset)
        )));
    }
    let store = EvidenceStore::beside(ledger.path());
    let now = time::OffsetDateTime::now_utc();
    let validation =
        crate::cli::cert::validation_data(&a.validation_data, &a.crl)?.unwrap_or_default();
    let options = |anchors| crate::x509::VerifyOptions {
        anchors,
        at: now,
        tsa_certs: &[],
        validation: &validation,
    };
    // The validation data given is kept with the evidence, once a check used it.
    let keep_validation = || -> anyhow::Result<Vec<String>> {
        let mut kept = Vec::new();
        for der in validation
            .certificates
            .iter()
            .map(|c| &c.der)
            .chain(validation.crls.iter().map(|c| &c.der))
        {
            kept.push(store.put(der)?);
        }
        Ok(kept)
    };
    // The validation data first, then the document, then the event that names them all.
    let check = match &p7s_path {
        Some(p) => {
            let Some(anchors) = &anchors else {
                return Err(ExitError::usage(format!(
                    "{} is signed ({}): give the CA certificates to check it against with --ca FILE|DIR",
                    path_safe(&a.file),
                    path_safe(p)
                )));
            };
            let p7s =
                input::read_regular(p, "signature", input::limit::X509).map_err(input_error)?;
            let checked = signature::check_p7s(&bytes, &p7s, &options(anchors)).map_err(|f| {
                ExitError::refused(crate::text::terminal_safe(&format!(
                    "the signature {} over {} does not check out: {f}; nothing was recorded. Ask the sender for a validly signed document (or pass the CA that issued the signer's certificate with --ca)",
                    path_safe(p),
                    path_safe(&a.file)
                )))
            })?;
            let signature_sha256 = store.put(&p7s)?;
            let trust_anchor_sha256 = store.put(&checked.anchor_der)?;
            SignatureCheck::Verified {
                format: "p7s".into(),
                signature_sha256: Some(signature_sha256),
                signer: checked.verified.signer.clone(),
                signer_certificate_sha256: Some(checked.verified.signer_certificate_sha256.clone()),
                path: checked.verified.path.clone(),
                signing_time: checked.signing_time.clone(),
                verified_at: crate::ledger::utc_string(now),
                signature_timestamp: checked
                    .verified
                    .timestamp
                    .as_ref()
                    .map(|t| t.time_text.clone()),
                signature_timestamp_tsa: checked.verified.timestamp.as_ref().map(|t| t.tsa.clone()),
                trust_anchors_sha256: vec![trust_anchor_sha256],
                revocation: Some(checked.verified.revocation.phrase()).filter(|r| !r.is_empty()),
                validation_data_sha256: keep_validation()?,
            }
        }
        None if signature::is_signed_pdf(&bytes) => {
            let Some(anchors) = &anchors else {
                return Err(ExitError::usage(format!(
                    "{} is a signed PDF: give the CA certificates to check it against with --ca FILE|DIR",
                    path_safe(&a.file)
                )));
            };
            let checked = signature::check_pdf(&bytes, &options(anchors)).map_err(|problem| {
                ExitError::refused(crate::text::terminal_safe(&format!(
                    "the signed PDF {} does not check out: {problem}; nothing was recorded. Ask the sender for a validly signed document (or pass the CA that issued the signer's certificate with --ca)",
                    path_safe(&a.file)
                )))
            })?;
            // The check names the signer but not the anchor: every CA it was checked against
            // is kept as the validation data used.
            let mut trust_anchors_sha256 = Vec::new();
            for cert in anchors.certificates() {
                trust_anchors_sha256.push(store.put(&cert.der)?);
            }
            SignatureCheck::Verified {
                format: "pdf".into(),
                signature_sha256: None,
                signer: checked.signer,
                signer_certificate_sha256: None,
                path: Vec::new(),
                signing_time: checked.claimed_time,
                verified_at: crate::ledger::utc_string(now),
                signature_timestamp: checked.timestamp,
                signature_timestamp_tsa: None,
                trust_anchors_sha256,
                revocation: checked.revocation,
                validation_data_sha256: keep_validation()?,
            }
        }
        None => SignatureCheck::Unsigned,
    };
    let sha256 = store.put(&bytes)?;
    let describe = check.describe();
    let event = new_event(
        &a.recorder,
        Some(&a.asset),
        EventData::EvidenceAdded(Evidence {
            evidence_kind: a.kind,
            sha256: sha256.clone(),
            size: bytes.len() as u64,
            file_name,
            signature: check,
        }),
    )?;
    let exit = record(&mut ledger, vec![event])?;
    safeln!(
        "  {} stored as {}\n  {describe}",
        a.kind.name(),
        store.path_of(&sha256).display()
    );
    Ok(exit)
}

/// What `media show` prints about a medium's evidence.
pub fn show_lines(ledger: &Ledger, events: &[crate::ledger::Event]) -> Vec<String> {
    let store = EvidenceStore::beside(ledger.path());
    events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::EvidenceAdded(ev) => Some(format!(
                "  evidence {} {:?} ({} bytes, event {}, {}): {}\n    {}",
                ev.evidence_kind.name(),
                ev.file_name,
                ev.size,
                e.seq,
                e.time,
                ev.signature.describe(),
                store.path_of(&ev.sha256).display()
            )),
            _ => None,
        })
        .collect()
}

/// `massho ledger policy`: show it, or record a new one.
pub fn policy(a: &LedgerPolicyArgs) -> anyhow::Result<Exit> {
    if !a.clear && a.require.is_empty() && a.require_outsourced.is_empty() {
        let ledger = open_read_only(&a.path)?;
        let current = ledger
            .events_where("kind = 'evidence_policy'", &[])
            .map_err(from_ledger)?;
        match current.last().map(|e| (&e.data, e)) {
            Some((EventData::EvidencePolicy { rules }, e)) if !rules.is_empty() => {
                safeln!("evidence policy (event {}, {} by {}):", e.seq, e.time, e.actor);
                for r in rules {
                    safeln!("  {}", r.describe());
                }
            }
            Some((_, e)) => safeln!(
                "no evidence required (the policy was dropped at event {}, {} by {})",
                e.seq,
                e.time,
                e.actor
            ),
            None => safeln!(
                "no evidence required: set a policy with `massho ledger policy --require destroyed=contractor-certificate`"
            ),
        }
        return Ok(Exit::Passed);
    }
    let mut rules = Vec::new();
    for (spec, outsourced_only) in a
        .require
        .iter()
        .map(|s| (s, false))
        .chain(a.require_outsourced.iter().map(|s| (s, true)))
    {
        rules.push(parse_rule(spec, outsourced_only)?);
    }
    let mut ledger = open(&a.path)?;
    let event = NewEvent {
        medium: None,
        actor: actor(a.operator.as_deref()),
        time: None,
        note: a.note.clone().filter(|n| !n.trim().is_empty()),
        data: EventData::EvidencePolicy { rules },
    };
    record(&mut ledger, vec![event])
}

/// `destroyed=contractor-certificate` (the command names destroy, dispose, return work too).
fn parse_rule(spec: &str, outsourced_only: bool) -> anyhow::Result<EvidenceRule> {
    let bad = || {
        ExitError::usage(format!(
            "{spec:?} is not EVENT=KIND; EVENT is one of {}, KIND one of contractor-certificate, destruction-photo, lessor-receipt, other (e.g. destroyed=contractor-certificate)",
            GUARDED_EVENTS.join(", ")
        ))
    };
    let (event, kind) = spec.split_once('=').ok_or_else(bad)?;
    let event = match event.trim() {
        "destroy" | "destroyed" => "destroyed",
        "dispose" | "disposed" => "disposed",
        "return" | "returned" => "returned",
        _ => return Err(bad()),
    };
    let kind = EvidenceKind::parse(kind).ok_or_else(bad)?;
    Ok(EvidenceRule {
        event: event.to_owned(),
        evidence_kind: kind,
        outsourced_only,
    })
}

/// Write a timestamp request for the ledger as it is now; returns how many events it covers.
pub fn write_request(ledger: &Ledger, out: &Path) -> anyhow::Result<u64> {
    let position = archive::at_head(ledger).map_err(from_ledger)?;
    if position.events == 0 {
        return Err(ExitError::usage(
            "the ledger holds no events yet: there is nothing to timestamp",
        ));
    }
    let (tsq, _nonce) = crate::timestamp::request(&position.digest)?;
    crate::atomic::replace(out, &tsq).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(position.events)
}

fn timestamp(a: &EvidenceTimestampArgs) -> anyhow::Result<Exit> {
    if let Some(out) = &a.request {
        let ledger = open_read_only(&a.path)?;
        let events = write_request(&ledger, out)?;
        outln!("{}", path_safe(out));
        eprintln!(
            "request for events 1–{events} and their evidence; send it to your time-stamping authority (HTTP POST, Content-Type: application/timestamp-query), then: massho evidence timestamp --attach RESPONSE.tsr"
        );
        return Ok(Exit::Passed);
    }
    if let Some(url) = &a.tsa_url {
        let mut ledger = open(&a.path)?;
        return timestamp_online(&mut ledger, url, a.operator.as_deref());
    }
    let Some(tsr_path) = &a.attach else {
        return Err(ExitError::usage(
            "give --request FILE.tsq, --attach FILE.tsr or --tsa-url URL",
        ));
    };
    let tsr = input::read_regular(tsr_path, "timestamp reply", input::limit::TIMESTAMP)
        .map_err(input_error)?;
    let mut ledger = open(&a.path)?;
    attach(
        &mut ledger,
        &tsr,
        &path_safe(tsr_path),
        a.operator.as_deref(),
    )
}

/// Ask the TSA at `url` for an archive timestamp of the ledger as it is now, and record it.
pub fn timestamp_online(
    ledger: &mut Ledger,
    url: &str,
    operator: Option<&str>,
) -> anyhow::Result<Exit> {
    let position = archive::at_head(ledger).map_err(from_ledger)?;
    if position.events == 0 {
        return Err(ExitError::usage(
            "the ledger holds no events yet: there is nothing to timestamp",
        ));
    }
    let (tsq, _nonce) = crate::timestamp::request(&position.digest)?;
    let tsr = crate::timestamp::http::fetch(url, &tsq)?;
    attach(ledger, &tsr, &crate::text::terminal_safe(url), operator)
}

/// Record the TSA's reply `tsr` (from `origin`) to a request for this ledger: it must be a
/// granted token whose imprint is the archive message at some position of the chain.
fn attach(
    ledger: &mut Ledger,
    tsr: &[u8],
    origin: &str,
    operator: Option<&str>,
) -> anyhow::Result<Exit> {
    crate::timestamp::token_from_response(tsr).with_context(|| origin.to_owned())?;
    let imprint = crate::timestamp::token_imprint(tsr).with_context(|| origin.to_owned())?;
    let Some(position) = archive::find(ledger, &imprint).map_err(from_ledger)? else {
        return Err(ExitError::refused(format!(
            "{origin} answers no request for this ledger (imprint {}): it is for another ledger or file; request one with `massho evidence timestamp --request FILE.tsq`",
            hex::encode(imprint)
        )));
    };
    let info =
        crate::timestamp::check_token(tsr, &position.digest).with_context(|| origin.to_owned())?;
    let store = EvidenceStore::beside(ledger.path());
    let token_sha256 = store.put(tsr)?;
    let event = NewEvent {
        medium: None,
        actor: actor(operator),
        time: None,
        note: None,
        data: EventData::EvidenceTimestamped(archive::ArchiveStamp {
            events: position.events,
            head: position.head.clone(),
            evidence_files: position.evidence_files,
            imprint: hex::encode(position.digest),
            token_sha256,
            gen_time: info.gen_time.clone(),
            serial: info.serial.clone(),
        }),
    };
    let exit = record(ledger, vec![event])?;
    safeln!(
        "  archive timestamp over events 1–{} and {} evidence file(s): TSA time {} (serial {}), not yet checked against the TSA's certificate: run `massho ledger verify --tsa-cert TSA.pem`",
        position.events,
        position.evidence_files,
        info.gen_time,
        info.serial
    );
    Ok(exit)
}

fn message(a: &EvidenceMessageArgs) -> anyhow::Result<Exit> {
    let ledger = open_read_only(&a.path)?;
    let (head, _) = ledger.head().map_err(from_ledger)?;
    let n = a.events.unwrap_or(head);
    if n == 0 || n > head {
        return Err(ExitError::usage(format!(
            "--events {n}: the ledger holds events 1–{head}"
        )));
    }
    let wanted = [n].into_iter().collect();
    let positions = archive::positions(&ledger, &wanted, true).map_err(from_ledger)?;
    let text = positions
        .get(&n)
        .and_then(|(_, t)| t.clone())
        .ok_or_else(|| anyhow::anyhow!("event {n} was not found in the ledger"))?;
    // Printed as it is hashed: the bytes matter, and they are hex digits and the ledger id.
    use std::io::Write as _;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(Exit::Passed)
}

fn list(a: &EvidenceListArgs) -> anyhow::Result<Exit> {
    let ledger = open_read_only(&a.path)?;
    let store = EvidenceStore::beside(ledger.path());
    let events = ledger
        .events_where("kind = 'evidence_added'", &[])
        .map_err(from_ledger)?;
    let mut rows = Vec::new();
    let mut items = Vec::new();
    for e in &events {
        if let EventData::EvidenceAdded(ev) = &e.data {
            let path = store.path_of(&ev.sha256).display().to_string();
            rows.push(vec![
                e.seq.to_string(),
                e.time.clone(),
                e.medium.clone().unwrap_or_default(),
                ev.evidence_kind.name().to_owned(),
                ev.file_name.clone(),
                ev.signature.describe(),
                path.clone(),
            ]);
            items.push(serde_json::json!({
                "seq": e.seq, "time": e.time, "medium": e.medium, "evidence": ev, "path": path
            }));
        }
    }
    emit(
        &a.output,
        &[
            "SEQ",
            "TIME",
            "ASSET",
            "KIND",
            "FILE",
            "SIGNATURE",
            "STORED AS",
        ],
        &rows,
        &items,
    )?;
    Ok(Exit::Passed)
}
