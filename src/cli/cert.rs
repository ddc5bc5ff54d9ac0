//! `massho cert verify | render | summary | timestamp-request | timestamp-attach | sign-x509`.
//!
//! Every file judged here is read once through [`CertFiles`] / [`crate::input::read_regular`]
//! (regular files only, bounded), and everything printed that came from a file is escaped for
//! the terminal.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use rayon::prelude::*;

use super::args::{
    CertCommand, CertRenderArgs, CertSummaryArgs, CertVerifyArgs, FontArgs, RenderFormat,
    SignX509Args, SummaryFormat, TimestampAttachArgs, TimestampRequestArgs, TrustArgs,
};
use super::{Exit, ExitError};
use crate::cert::check::{CertFiles, Trust};
use crate::cert::summary::{Signature, SummaryRow, Totals};
use crate::cert::{self, check, render, Certificate};
use crate::input::{self, InputError};
use crate::pdf::font::{self, FontFile};
use crate::pdf::pades;
use crate::sign::{self, PublicKey};
use crate::text::{path_safe, terminal_safe};
use crate::timestamp;
use crate::x509::{self, AnchorError, TrustAnchors};

pub fn run(command: &CertCommand) -> anyhow::Result<Exit> {
    match command {
        CertCommand::Verify(a) => verify(a),
        CertCommand::Render(a) => render_one(a),
        CertCommand::Summary(a) => summary(a),
        CertCommand::TimestampRequest(a) => timestamp_request(a),
        CertCommand::TimestampAttach(a) => timestamp_attach(a),
        CertCommand::SignX509(a) => sign_x509(a),
    }
    .map_err(terminal_safe_error)
}

/// Error messages quote file names and certificate contents: shown escaped, never run by the
/// terminal. The exit code is kept.
pub(super) fn terminal_safe_error(e: anyhow::Error) -> anyhow::Error {
    let message = terminal_safe(&format!("{e:#}")).into_owned();
    match e.downcast_ref::<ExitError>() {
        Some(x) => ExitError {
            exit: x.exit,
            message,
        }
        .into(),
        None => anyhow::anyhow!(message),
    }
}

/// A file the operator named that cannot be judged: the wrong kind of file or too large is a
/// usage error (exit 2); an I/O failure is the system's.
fn input_error(e: InputError) -> anyhow::Error {
    if e.is_usage() {
        ExitError::usage(e.to_string())
    } else {
        e.into()
    }
}

/// The signers the auditor trusts: every --pubkey and every *.pub in --trusted, each read once.
fn trusted_keys(args: &TrustArgs) -> anyhow::Result<Vec<PublicKey>> {
    sign::trusted_keys(&args.pubkey, args.trusted.as_deref()).map_err(|e| match e {
        sign::SignError::Input(e) => input_error(e),
        other => ExitError::usage(other.to_string()),
    })
}

/// The CA certificates given with --ca, each file read once; `None` without --ca.
fn trust_anchors(paths: &[PathBuf]) -> anyhow::Result<Option<TrustAnchors>> {
    if paths.is_empty() {
        return Ok(None);
    }
    TrustAnchors::load(paths).map(Some).map_err(|e| match e {
        AnchorError::Input(e) => input_error(e),
        other => ExitError::usage(other.to_string()),
    })
}

/// The TSA certificate given with --tsa-cert, read once.
fn tsa_certificate(path: Option<&Path>) -> anyhow::Result<Option<Vec<u8>>> {
    path.map(|p| input::read_regular(p, "TSA certificate", input::limit::TIMESTAMP))
        .transpose()
        .map_err(input_error)
}

/// Every certificate named or found, with its signature and token, each read once.
fn certificate_files(paths: &[PathBuf]) -> anyhow::Result<Vec<CertFiles>> {
    let files = check::expand(paths).context("cannot list the certificate directory")?;
    if files.is_empty() {
        return Err(ExitError::usage(
            "no certificate (*.json) found in the given paths",
        ));
    }
    files
        .par_iter()
        .map(|f| CertFiles::read(f).map_err(input_error))
        .collect()
}

#[derive(Serialize)]
struct VerifyLine<'a> {
    file: &'a Path,
    ok: bool,
    certificate_id: Option<&'a str>,
    serial: Option<&'a str>,
    status: Option<&'a str>,
    signer: Option<&'a str>,
    /// The X.509 signer's subject, once its .p7s verified against --ca.
    x509_signer: Option<&'a str>,
    /// Only a time a TSA's signature vouches for (--tsa-cert).
    timestamp: Option<&'a str>,
    /// A token's time that no TSA certificate was checked against: a claim, not evidence.
    unverified_timestamp: Option<&'a str>,
    problem: Option<String>,
}

/// JSON for a terminal: hidden characters (C1 controls, bidirectional overrides) inside strings
/// written as `\uXXXX` escapes, which leave every value as it is. serde_json already escapes
/// C0 controls, and outside strings JSON is ASCII, so only these need it.
pub(super) fn json_terminal_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if crate::text::is_hidden(c) && u32::from(c) >= 0x7f {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `path` names a PDF (judged as a signed PDF, not as a certificate JSON).
fn is_pdf(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pdf"))
}

fn verify(args: &CertVerifyArgs) -> anyhow::Result<Exit> {
    let (pdfs, paths): (Vec<PathBuf>, Vec<PathBuf>) =
        args.paths.iter().cloned().partition(|p| is_pdf(p));
    if !pdfs.is_empty() && args.ca.is_empty() {
        return Err(ExitError::usage(
            "a signed PDF is checked against the CAs you trust: add --ca CA.pem|DIR",
        ));
    }
    let pdf_bad = verify_pdfs(&pdfs, args)?;
    if paths.is_empty() {
        return Ok(if pdf_bad == 0 {
            Exit::Passed
        } else {
            Exit::Failed
        });
    }
    let minisign = !args.trust.pubkey.is_empty() || args.trust.trusted.is_some();
    if !minisign && args.ca.is_empty() {
        return Err(ExitError::usage(
            "say whose signatures you trust: --pubkey KEY.pub (repeatable) or --trusted DIR for minisign signatures, --ca CA.pem|DIR for X.509 (.p7s) signatures",
        ));
    }
    let keys = if minisign {
        trusted_keys(&args.trust)?
    } else {
        Vec::new()
    };
    let anchors = trust_anchors(&args.ca)?;
    let tsa_cert = tsa_certificate(args.tsa_cert.as_deref())?;
    let files = certificate_files(&paths)?;
    let trust = Trust::minisign(&keys)
        .with_tsa(tsa_cert.as_deref())
        .with_anchors(anchors.as_ref());
    let checked = check::check_all(&files, &trust);
    let mut bad = 0usize;
    for c in &checked {
        let cert = c.certificate.as_ref();
        let ts = c.timestamp.as_ref();
        let line = VerifyLine {
            file: &c.path,
            ok: c.ok(),
            certificate_id: cert.map(|x| x.certificate_id.as_str()),
            serial: cert.and_then(|x| x.wipe.serial.as_deref()),
            status: cert.map(|x| x.status.name()),
            signer: c.signer.as_deref(),
            x509_signer: c.x509_signer.as_deref(),
            timestamp: ts.filter(|t| t.tsa_verified).map(|t| t.time.as_str()),
            unverified_timestamp: ts.filter(|t| !t.tsa_verified).map(|t| t.time.as_str()),
            problem: c.problem.as_ref().map(|p| p.to_string()),
        };
        if !c.ok() {
            bad += 1;
        }
        if args.json {
            outln!("{}", json_terminal_safe(&serde_json::to_string(&line)?));
        } else if let Some(p) = &line.problem {
            outln!("FAIL {}: {p}", path_safe(&c.path));
        } else {
            let safe = |s: Option<&str>| terminal_safe(s.unwrap_or("-")).into_owned();
            outln!(
                "OK   {} serial={} status={} signer={}{}{} ({})",
                safe(line.certificate_id),
                safe(line.serial),
                safe(line.status),
                safe(line.signer),
                line.x509_signer
                    .map(|s| format!(" x509=\"{}\"", terminal_safe(s)))
                    .unwrap_or_default(),
                ts.map(|t| match t.tsa_verified {
                    true => format!(" timestamp={}", t.describe()),
                    false => format!(" ({})", t.describe()),
                })
                .unwrap_or_default(),
                path_safe(&c.path)
            );
        }
    }
    if !args.json {
        outln!(
            "{} certificate(s): {} ok, {bad} not",
            checked.len(),
            checked.len() - bad
        );
    }
    Ok(if bad + pdf_bad == 0 {
        Exit::Passed
    } else {
        Exit::Failed
    })
}

#[derive(Serialize)]
struct PdfVerifyLine<'a> {
    file: &'a Path,
    ok: bool,
    signatures: Vec<PdfSignatureLine<'a>>,
    problem: Option<String>,
}

#[derive(Serialize)]
struct PdfSignatureLine<'a> {
    /// `Sig` or `DocTimeStamp`.
    r#type: &'a str,
    sub_filter: &'a str,
    /// The X.509 signer's subject, once verified against --ca.
    signer: Option<&'a str>,
    /// The verified signature timestamp (B-T): time and TSA.
    timestamp: Option<&'a str>,
    /// What the CRLs (in the signature, in the DSS) said about the signer's path.
    revocation: Option<&'a str>,
    /// The time the signing machine claims (/M): not evidence.
    claimed_time: Option<&'a str>,
    reason: Option<&'a str>,
    signed_bytes: u64,
    covers_whole_file: bool,
    appended_bytes: Option<u64>,
    /// What the appended bytes hold, and whether PAdES allows them (DSS, document timestamp).
    appended: Option<String>,
    problem: Option<&'a str>,
}

/// Check each signed PDF against --ca, print one line (or JSON object) per file; how many
/// are not ok.
fn verify_pdfs(pdfs: &[PathBuf], args: &CertVerifyArgs) -> anyhow::Result<usize> {
    if pdfs.is_empty() {
        return Ok(0);
    }
    let Some(anchors) = trust_anchors(&args.ca)? else {
        return Ok(0);
    };
    let now = time::OffsetDateTime::now_utc();
    let mut bad = 0;
    for path in pdfs {
        let bytes =
            input::read_regular(path, "signed PDF", input::limit::PDF).map_err(input_error)?;
        let (report, problem) = match crate::pdf::verify_signed_pdf(&bytes, &anchors, now) {
            Ok(r) => {
                let p = r.problem();
                (Some(r), p)
            }
            Err(e) => (None, Some(e)),
        };
        let ok = problem.is_none();
        if !ok {
            bad += 1;
        }
        let signatures: Vec<PdfSignatureLine> = report
            .iter()
            .flat_map(|r| &r.signatures)
            .map(|s| PdfSignatureLine {
                r#type: &s.kind,
                sub_filter: &s.sub_filter,
                signer: s.signer.as_deref(),
                timestamp: s.timestamp.as_deref(),
                revocation: s.revocation.as_deref(),
                claimed_time: s.claimed_time.as_deref(),
                reason: s.reason.as_deref(),
                signed_bytes: s.signed_len,
                covers_whole_file: s.covers_whole_file,
                appended_bytes: s.after.as_ref().map(|a| a.bytes),
                appended: s.after.as_ref().map(|a| a.describe()),
                problem: s.problem.as_deref(),
            })
            .collect();
        if args.json {
            let line = PdfVerifyLine {
                file: path,
                ok,
                signatures,
                problem,
            };
            outln!("{}", json_terminal_safe(&serde_json::to_string(&line)?));
        } else if let Some(p) = &problem {
            outln!("FAIL {}: {}", path_safe(path), terminal_safe(p));
        } else {
            for s in &signatures {
                let when = match (s.timestamp, s.claimed_time) {
                    (Some(t), _) => format!(", timestamp {}", terminal_safe(t)),
                    (None, Some(t)) => {
                        format!(", claimed time {} (no timestamp)", terminal_safe(t))
                    }
                    (None, None) => String::new(),
                };
                outln!(
                    "OK   PDF signature ({}) by \"{}\"{when}, {} ({})",
                    terminal_safe(s.sub_filter),
                    terminal_safe(s.signer.unwrap_or("-")),
                    match &s.appended {
                        None => "covers the whole file".to_owned(),
                        Some(a) => terminal_safe(a).into_owned(),
                    },
                    path_safe(path)
                );
            }
        }
    }
    if !args.json {
        outln!(
            "{} signed PDF(s): {} ok, {bad} not",
            pdfs.len(),
            pdfs.len() - bad
        );
    }
    Ok(bad)
}

/// A certificate's bytes parsed, without checking its signature.
fn parse_certificate(path: &Path, bytes: &[u8]) -> anyhow::Result<Certificate> {
    let cert: Certificate = serde_json::from_slice(bytes).map_err(|e| {
        ExitError::usage(format!(
            "{} is not a massho certificate: {e}",
            path.display()
        ))
    })?;
    if uuid::Uuid::parse_str(&cert.certificate_id).is_err() {
        return Err(ExitError::usage(format!(
            "{} is not a massho certificate: its certificate_id {:?} is not a UUID",
            path.display(),
            cert.certificate_id.chars().take(80).collect::<String>()
        )));
    }
    Ok(cert)
}

/// The key id the `.minisig` claims, unverified.
fn claimed_key_id(files: &CertFiles) -> Option<String> {
    files
        .minisig
        .as_deref()
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| sign::signature_key_id(s).ok())
}

/// What a page says about the timestamp token: its time only when --tsa-cert verified it.
fn timestamp_line(files: &CertFiles, tsa_cert: Option<&[u8]>) -> Option<String> {
    if files.token.is_none() && tsa_cert.is_none() {
        return None;
    }
    Some(match check::check_timestamp(files, tsa_cert) {
        Ok(Some(t)) if t.tsa_verified => t.time,
        Ok(Some(t)) => t.describe(),
        Ok(None) => "なし none".to_owned(),
        Err(p) => format!("NOT VERIFIED: {p}"),
    })
}

/// A PDF goes to `-o FILE` or a redirected stdout, never to a terminal: refuse before any work.
fn refuse_pdf_on_terminal(output: Option<&Path>) -> anyhow::Result<()> {
    if output.is_none() && std::io::stdout().is_terminal() {
        return Err(ExitError::usage(
            "a PDF is binary and standard output is a terminal: write it to a file with \
             -o FILE.pdf, or redirect standard output (> FILE.pdf)",
        ));
    }
    Ok(())
}

/// The font for PDF output: --font / MASSHO_FONT, else the first known one installed.
fn pdf_font(args: &FontArgs) -> anyhow::Result<FontFile> {
    let dirs = std::env::var(font::FONT_DIRS_ENV).ok();
    Ok(font::locate(
        args.font.as_deref(),
        &font::candidates(dirs.as_deref()),
    )?)
}

/// Write `bytes` to `output` atomically, or to standard output.
fn emit(output: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match output {
        Some(out) => crate::atomic::replace(out, bytes)
            .with_context(|| format!("cannot write {}", out.display())),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(bytes)
                .and_then(|()| stdout.flush())
                .context("cannot write to standard output")
        }
    }
}

fn render_one(args: &CertRenderArgs) -> anyhow::Result<Exit> {
    if args.format == RenderFormat::Pdf {
        refuse_pdf_on_terminal(args.output.as_deref())?;
    } else if args.x509_key.is_some() || args.tsa_url.is_some() {
        return Err(ExitError::usage(
            "--x509-key signs a PDF: add --format pdf (text and HTML pages are not signed; the certificate's .minisig and .p7s sign its JSON)",
        ));
    }
    let tsa_cert = tsa_certificate(args.tsa_cert.as_deref())?;
    let files = CertFiles::read(&args.file).map_err(input_error)?;
    let cert = parse_certificate(&args.file, &files.json)?;
    // The key first: a wrong passphrase should not cost a rendering.
    let signer = args
        .x509_key
        .as_deref()
        .map(super::certify::load_x509_signer)
        .transpose()
        .map_err(|e| ExitError::usage(format!("{e}; nothing was written")))?;
    let key_id = claimed_key_id(&files);
    let stamp = timestamp_line(&files, tsa_cert.as_deref());
    let facts = render::facts(&cert, &files.json, key_id.as_deref(), stamp.as_deref());
    let page = match args.format {
        RenderFormat::Text => render::text(&facts).into_bytes(),
        RenderFormat::Html => render::html(&facts).into_bytes(),
        RenderFormat::Pdf => {
            let font = pdf_font(&args.font)?;
            let seal = signer.as_ref().map(|s| {
                let offset =
                    time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
                let reason = format!(
                    "データ消去証明書 {id} の発行 / Issuing certificate of data sanitization {id}",
                    id = cert.certificate_id
                );
                pades::Placeholder::for_signer(
                    s,
                    &reason,
                    time::OffsetDateTime::now_utc().to_offset(offset),
                )
            });
            let (pdf, substituted) = cert::pdf::certificate(&cert, &facts, &font, seal.as_ref())
                .with_context(|| format!("cannot make a PDF of {}", args.file.display()))?;
            warn_substituted(&path_safe(&args.file), &substituted);
            let tsa = |imprint: &[u8; 32]| -> Result<Vec<u8>, String> {
                let url = args.tsa_url.as_deref().unwrap_or_default();
                let (tsq, _nonce) = timestamp::request(imprint).map_err(|e| e.to_string())?;
                timestamp::http::fetch(url, &tsq).map_err(|e| e.to_string())
            };
            let stamper: Option<pades::Stamper> = args.tsa_url.as_ref().map(|_| &tsa as _);
            match &signer {
                Some(s) => {
                    let pdf = pades::sign(&pdf, s, stamper).with_context(|| {
                        format!("cannot sign the PDF of {}", args.file.display())
                    })?;
                    long_term(pdf, s, args, &tsa)?
                }
                None => pdf,
            }
        }
    };
    match &args.output {
        Some(out) => emit(Some(out), &page)?,
        None if args.format == RenderFormat::Pdf => emit(None, &page)?,
        None => outln!("{}", String::from_utf8_lossy(&page)),
    }
    Ok(Exit::Passed)
}

/// B-LT and B-LTA on a signed PDF: the DSS with the signer's chain and the validation data
/// given, then a document timestamp over it all, as asked.
fn long_term(
    pdf: Vec<u8>,
    signer: &x509::SignerMaterial,
    args: &CertRenderArgs,
    stamper: pades::Stamper,
) -> anyhow::Result<Vec<u8>> {
    let mut pdf = pdf;
    if !args.validation_data.is_empty() {
        let given = x509::ValidationData::load(&args.validation_data)
            .map_err(|e| ExitError::usage(format!("{e}; nothing was written")))?;
        let chain: Vec<x509::Cert> = std::iter::once(signer.signer())
            .chain(signer.chain())
            .cloned()
            .collect();
        given
            .check_for_signing(&chain, time::OffsetDateTime::now_utc())
            .map_err(|e| {
                ExitError::usage(format!("--validation-data: {e}; nothing was written"))
            })?;
        let data = x509::ValidationData {
            certificates: chain,
            crls: Vec::new(),
        }
        .merged(&given);
        pdf = crate::pdf::update::add_dss(&pdf, &data).context("cannot add the DSS to the PDF")?;
    }
    if args.doc_timestamp {
        pdf = crate::pdf::update::add_document_timestamp(&pdf, stamper)
            .context("cannot add the document timestamp to the PDF")?;
    }
    Ok(pdf)
}

fn summary(args: &CertSummaryArgs) -> anyhow::Result<Exit> {
    if args.format == SummaryFormat::Pdf {
        refuse_pdf_on_terminal(args.output.as_deref())?;
    }
    let keys = if args.trust.pubkey.is_empty() && args.trust.trusted.is_none() {
        Vec::new()
    } else {
        trusted_keys(&args.trust)?
    };
    let tsa_cert = tsa_certificate(args.tsa_cert.as_deref())?;
    let files = certificate_files(&args.paths)?;
    let checked = (!keys.is_empty()).then(|| {
        check::check_all(
            &files,
            &Trust::minisign(&keys).with_tsa(tsa_cert.as_deref()),
        )
    });
    let mut rows = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let c = parse_certificate(&f.path, &f.json)?;
        let signature = match checked.as_ref().map(|all| &all[i]) {
            None => Signature::NotChecked,
            Some(v) if v.genuine() => Signature::Verified,
            Some(v) => Signature::Rejected(
                v.problem
                    .as_ref()
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            ),
        };
        let stamp = timestamp_line(f, tsa_cert.as_deref()).unwrap_or_default();
        rows.push(SummaryRow::new(
            &c,
            claimed_key_id(f).as_deref(),
            &f.path,
            &signature,
            stamp,
        ));
    }
    let totals = Totals::of(&rows);
    let out = match args.format {
        SummaryFormat::Json => {
            let mut json = json_terminal_safe(&serde_json::to_string_pretty(&rows)?).into_bytes();
            json.push(b'\n');
            json
        }
        // A drive reports its own model and serial: a hostile USB stick must not plant a
        // formula in the auditor's spreadsheet.
        SummaryFormat::Csv => {
            super::table::csv_for_spreadsheets(&rows).context("cannot write the CSV summary")?
        }
        SummaryFormat::Pdf => {
            let font = pdf_font(&args.font)?;
            let offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
            let now = time::OffsetDateTime::now_utc()
                .to_offset(offset)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let (pdf, substituted) =
                cert::pdf::summary(&rows, &now, &font).context("cannot make the PDF summary")?;
            warn_substituted("the summary", &substituted);
            pdf
        }
    };
    emit(args.output.as_deref(), &out)?;
    // The rows are data; the counts are for the person who ran it.
    eprintln!("massho: {}", totals.describe());
    Ok(Exit::Passed)
}

/// Say which characters of `what` the font could not draw.
fn warn_substituted(what: &str, chars: &[char]) {
    if !chars.is_empty() {
        let set = chars.iter().copied().collect();
        eprintln!(
            "massho: warning: {what}: the font has no glyph for {}; they are printed as 〓 (the signed JSON holds them exactly). A font that covers them can be given with --font",
            crate::pdf::describe_chars(&set)
        );
    }
}

/// The certificate's bytes and its signature's, which a timestamp covers together, read once.
fn certificate_and_signature(file: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let files = CertFiles::read(file).map_err(input_error)?;
    let minisig = files.minisig.ok_or_else(|| {
        ExitError::usage(format!(
            "no signature {}; a timestamp covers the certificate and its signature",
            cert::signature_path(file).display()
        ))
    })?;
    Ok((files.json, minisig))
}

fn timestamp_request(args: &TimestampRequestArgs) -> anyhow::Result<Exit> {
    let (json, minisig) = certificate_and_signature(&args.file)?;
    let digest = timestamp::message_digest(&json, &minisig);
    let (tsq, _nonce) = timestamp::request(&digest)?;
    let out = args.output.clone().unwrap_or_else(|| {
        let mut p = args.file.as_os_str().to_owned();
        p.push(".tsq");
        PathBuf::from(p)
    });
    crate::atomic::replace(&out, &tsq)
        .with_context(|| format!("cannot write {}", out.display()))?;
    outln!("{}", path_safe(&out));
    eprintln!(
        "send it to your time-stamping authority (HTTP POST, Content-Type: application/timestamp-query), then: massho cert timestamp-attach {} RESPONSE.tsr",
        path_safe(&args.file)
    );
    Ok(Exit::Passed)
}

fn timestamp_attach(args: &TimestampAttachArgs) -> anyhow::Result<Exit> {
    let (json, minisig) = certificate_and_signature(&args.file)?;
    let response = input::read_regular(&args.response, "timestamp reply", input::limit::TIMESTAMP)
        .map_err(input_error)?;
    let digest = timestamp::message_digest(&json, &minisig);
    // Only a granted response that covers exactly these two files is kept.
    timestamp::token_from_response(&response)
        .with_context(|| format!("{}", args.response.display()))?;
    let info = timestamp::check_token(&response, &digest).with_context(|| {
        format!(
            "{} does not cover {} and its signature",
            args.response.display(),
            args.file.display()
        )
    })?;
    let dest = timestamp::token_path(&args.file);
    crate::atomic::create_new(&dest, &response, None).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            ExitError::refused(format!(
                "{} exists already; it is kept as it is",
                dest.display()
            ))
        } else {
            anyhow::Error::new(e).context(format!("cannot write {}", dest.display()))
        }
    })?;
    // Only the imprint was checked here, not the TSA's signature: the time is the token's claim.
    outln!(
        "{}: timestamp token (serial {}, unverified timestamp {}) stored as {}; check the TSA's signature with massho cert verify --tsa-cert TSA.pem",
        path_safe(&args.file),
        terminal_safe(&info.serial.to_string()),
        terminal_safe(&info.gen_time),
        path_safe(&dest)
    );
    Ok(Exit::Passed)
}

fn sign_x509(args: &SignX509Args) -> anyhow::Result<Exit> {
    let json = input::read_regular(&args.file, "certificate", input::limit::CERTIFICATE)
        .map_err(input_error)?;
    // Only a massho certificate named after its id is signed: the signature vouches for it.
    let cert = parse_certificate(&args.file, &json)?;
    let expected = format!("{}.json", cert.certificate_id);
    if args.file.file_name() != Some(std::ffi::OsStr::new(&expected)) {
        return Err(ExitError::usage(format!(
            "{} holds certificate {}, so it must be named {expected}; nothing was signed",
            path_safe(&args.file),
            terminal_safe(&cert.certificate_id)
        )));
    }
    let dest = x509::signature_path(&args.file);
    if dest.exists() {
        return Err(ExitError::refused(format!(
            "{} exists already; it is kept as it is (remove it yourself to sign again)",
            path_safe(&dest)
        )));
    }
    let signer = super::certify::load_x509_signer(&args.x509_key)
        .map_err(|e| ExitError::usage(format!("{e}; nothing was signed")))?;
    let p7s = x509::sign_detached(&json, &signer)?;
    crate::atomic::create_new(&dest, &p7s, None).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            ExitError::refused(format!(
                "{} exists already; it is kept as it is",
                path_safe(&dest)
            ))
        } else {
            anyhow::Error::new(e).context(format!("cannot write {}", dest.display()))
        }
    })?;
    outln!("{}", path_safe(&dest));
    eprintln!(
        "signed by {}; check it with: openssl cms -verify -binary -inform DER -content {} -in {} -CAfile CA.pem -purpose any, or massho cert verify {} --ca CA.pem",
        terminal_safe(&signer.subject()),
        path_safe(&args.file),
        path_safe(&dest),
        path_safe(&args.file)
    );
    Ok(Exit::Passed)
}
