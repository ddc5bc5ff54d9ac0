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
use super::signed_pdf;
use super::{Exit, ExitError};
use crate::cert::check::{CertFiles, Trust};
use crate::cert::summary::{Signature, SummaryRow, Totals};
use crate::cert::{self, check, render, Certificate};
use crate::input::{self, InputError};
use crate::pdf::font::{self, FontFile};
use crate::sign::{self, PublicKey};
use crate::text::{path_safe, terminal_safe};
use crate::timestamp;
use crate::x509::{self, AnchorError, TrustAnchors, ValidationData};

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
pub(super) fn input_error(e: InputError) -> anyhow::Error {
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

/// The certificates and CRLs of --validation-data and --crl; `None` when none was given.
pub(crate) fn validation_data(
    dirs: &[PathBuf],
    crls: &[PathBuf],
) -> anyhow::Result<Option<ValidationData>> {
    if dirs.is_empty() && crls.is_empty() {
        return Ok(None);
    }
    let all: Vec<PathBuf> = dirs.iter().chain(crls).cloned().collect();
    ValidationData::load(&all).map(Some).map_err(|e| match e {
        x509::X509Error::Input(e) => input_error(e),
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
    /// The verified signature timestamp inside the .p7s (CAdES-B-T), and its TSA.
    x509_timestamp: Option<&'a str>,
    x509_tsa: Option<&'a str>,
    /// The instant the X.509 path was checked at: the timestamp's, else now.
    x509_checked_at: Option<&'a str>,
    /// What the CRLs said about the X.509 path.
    x509_revocation: Option<String>,
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

fn verify(args: &CertVerifyArgs) -> anyhow::Result<Exit> {
    let (pdfs, paths): (Vec<PathBuf>, Vec<PathBuf>) = args
        .paths
        .iter()
        .cloned()
        .partition(|p| signed_pdf::is_pdf(p));
    if !pdfs.is_empty() && args.ca.is_empty() {
        return Err(ExitError::usage(
            "a signed PDF is checked against the CAs you trust: add --ca CA.pem|DIR",
        ));
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
    let tsa_certs = match (&tsa_cert, &args.tsa_cert) {
        (Some(bytes), Some(path)) if anchors.is_some() => x509::certificates_in(bytes)
            .map_err(|e| ExitError::usage(format!("{}: {e}", path_safe(path))))?,
        _ => Vec::new(),
    };
    let validation = validation_data(&args.validation_data, &args.crl)?;
    let mut pdf_bad = 0;
    let none = ValidationData::default();
    if let Some(anchors) = anchors.as_ref().filter(|_| !pdfs.is_empty()) {
        let options = x509::VerifyOptions {
            anchors,
            at: time::OffsetDateTime::now_utc(),
            tsa_certs: &tsa_certs,
            validation: validation.as_ref().unwrap_or(&none),
        };
        pdf_bad = signed_pdf::verify_pdfs(&pdfs, args.json, &options)?;
        if paths.is_empty() {
            return Ok(if pdf_bad == 0 {
                Exit::Passed
            } else {
                Exit::Failed
            });
        }
    }
    let files = certificate_files(&paths)?;
    let trust = Trust::minisign(&keys)
        .with_tsa(tsa_cert.as_deref())
        .with_anchors(anchors.as_ref())
        .with_x509_material(&tsa_certs, validation.as_ref());
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
            x509_timestamp: c
                .x509
                .as_ref()
                .and_then(|v| v.timestamp.as_ref())
                .map(|t| t.time_text.as_str()),
            x509_tsa: c
                .x509
                .as_ref()
                .and_then(|v| v.timestamp.as_ref())
                .map(|t| t.tsa.as_str()),
            x509_checked_at: c.x509.as_ref().map(|v| v.checked_at.as_str()),
            x509_revocation: c.x509.as_ref().map(|v| v.revocation.phrase()),
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
                "OK   {} serial={} status={} signer={}{}{}{} ({})",
                safe(line.certificate_id),
                safe(line.serial),
                safe(line.status),
                safe(line.signer),
                line.x509_signer
                    .map(|s| format!(" x509=\"{}\"", terminal_safe(s)))
                    .unwrap_or_default(),
                match (line.x509_timestamp, line.x509_tsa) {
                    (Some(t), Some(tsa)) => format!(
                        " x509_timestamp={} tsa=\"{}\"",
                        terminal_safe(t),
                        terminal_safe(tsa)
                    ),
                    _ => String::new(),
                } + &line
                    .x509_revocation
                    .as_deref()
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(" revocation: {}", terminal_safe(r)))
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
    // The key and validation data first: a wrong passphrase should not cost a rendering.
    let signing = signed_pdf::PdfSigning::from_args(args)?;
    let key_id = claimed_key_id(&files);
    let stamp = timestamp_line(&files, tsa_cert.as_deref());
    let facts = render::facts(&cert, &files.json, key_id.as_deref(), stamp.as_deref());
    let page = match args.format {
        RenderFormat::Text => render::text(&facts).into_bytes(),
        RenderFormat::Html => render::html(&facts).into_bytes(),
        RenderFormat::Pdf => {
            let font = pdf_font(&args.font)?;
            let seal = signing
                .as_ref()
                .map(|s| s.placeholder(&cert.certificate_id));
            let (pdf, substituted) = cert::pdf::certificate(&cert, &facts, &font, seal.as_ref())
                .with_context(|| format!("cannot make a PDF of {}", args.file.display()))?;
            warn_substituted(&path_safe(&args.file), &substituted);
            match &signing {
                Some(s) => s
                    .sign(&pdf)
                    .with_context(|| format!("cannot sign the PDF of {}", args.file.display()))?,
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

/// The `.p7s` beside a certificate, read once.
fn x509_signature(file: &Path) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    let p7s_path = x509::signature_path(file);
    if !p7s_path.exists() {
        return Err(ExitError::usage(format!(
            "no X.509 signature {}; sign the certificate with `massho cert sign-x509` first",
            path_safe(&p7s_path)
        )));
    }
    let p7s = input::read_regular(&p7s_path, "X.509 signature", input::limit::X509)
        .map_err(input_error)?;
    Ok((p7s_path, p7s))
}

/// `timestamp-request --x509`: a request over the `.p7s`'s signature value (CAdES-B-T).
fn x509_timestamp_request(args: &TimestampRequestArgs) -> anyhow::Result<Exit> {
    let (p7s_path, p7s) = x509_signature(&args.file)?;
    let imprint = x509::signature_timestamp_imprint(&p7s)
        .map_err(|e| ExitError::usage(format!("{}: {e}", path_safe(&p7s_path))))?;
    let (tsq, _nonce) = timestamp::request(&imprint)?;
    write_request(&tsq, args, &p7s_path, "--x509 ")
}

/// Write a `.tsq` to `--output`, else beside `beside` (`BESIDE.tsq`), and say how to attach the
/// TSA's reply (`attach_flags` go before the file in that command).
fn write_request(
    tsq: &[u8],
    args: &TimestampRequestArgs,
    beside: &Path,
    attach_flags: &str,
) -> anyhow::Result<Exit> {
    let out = args.output.clone().unwrap_or_else(|| {
        let mut p = beside.as_os_str().to_owned();
        p.push(".tsq");
        PathBuf::from(p)
    });
    crate::atomic::replace(&out, tsq).with_context(|| format!("cannot write {}", out.display()))?;
    outln!("{}", path_safe(&out));
    eprintln!(
        "send it to your time-stamping authority (HTTP POST, Content-Type: application/timestamp-query), then: massho cert timestamp-attach {attach_flags}{} RESPONSE.tsr",
        path_safe(&args.file)
    );
    Ok(Exit::Passed)
}

/// `timestamp-attach --x509`: the reply checked against this `.p7s`'s signature, then the
/// `.p7s` replaced (atomically) by the same signature with the token in its unsigned
/// attributes. The signed bytes do not change.
fn x509_timestamp_attach(args: &TimestampAttachArgs) -> anyhow::Result<Exit> {
    let (p7s_path, p7s) = x509_signature(&args.file)?;
    let response = input::read_regular(&args.response, "timestamp reply", input::limit::TIMESTAMP)
        .map_err(input_error)?;
    let stamped = x509::attach_signature_timestamp(&p7s, &response).map_err(|e| {
        ExitError::usage(format!(
            "{} cannot go into {}: {e}",
            path_safe(&args.response),
            path_safe(&p7s_path)
        ))
    })?;
    let info = timestamp::check_token(
        &response,
        &x509::signature_timestamp_imprint(&p7s).map_err(|e| ExitError::usage(e.to_string()))?,
    )?;
    crate::atomic::replace(&p7s_path, &stamped)
        .with_context(|| format!("cannot write {}", p7s_path.display()))?;
    outln!(
        "{}: signature timestamp (serial {}, unverified timestamp {}) added; check it with massho cert verify --ca CA.pem (the TSA's CA, or --tsa-cert TSA.pem)",
        path_safe(&p7s_path),
        terminal_safe(&info.serial),
        terminal_safe(&info.gen_time)
    );
    Ok(Exit::Passed)
}

fn timestamp_request(args: &TimestampRequestArgs) -> anyhow::Result<Exit> {
    if args.x509 {
        return x509_timestamp_request(args);
    }
    let (json, minisig) = certificate_and_signature(&args.file)?;
    let digest = timestamp::message_digest(&json, &minisig);
    let (tsq, _nonce) = timestamp::request(&digest)?;
    write_request(&tsq, args, &args.file, "")
}

fn timestamp_attach(args: &TimestampAttachArgs) -> anyhow::Result<Exit> {
    if args.x509 {
        return x509_timestamp_attach(args);
    }
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
    let options = super::certify::x509_signing_options(&args.x509, &signer)
        .map_err(|e| ExitError::usage(format!("{e:#}; nothing was signed")))?;
    let signed = x509::sign_cades(&json, &signer, &options)?;
    // Asked here, at the operator's desk, a TSA that fails is an error: try again, or use the
    // offline steps. (A wipe keeps the B-B signature instead, see job::record.)
    if let Some(problem) = signed.timestamp_problem {
        return Err(anyhow::Error::new(problem).context(format!(
            "nothing was signed; try again, or sign without --tsa-url and add the timestamp with `massho cert timestamp-request --x509 {}` / `timestamp-attach --x509`",
            path_safe(&args.file)
        )));
    }
    let p7s = signed.p7s;
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
    if let Some(time) = &signed.timestamp {
        eprintln!("signature timestamp (CAdES-B-T): {}", terminal_safe(time));
    }
    eprintln!(
        "signed by {}; check it with: openssl cms -verify -binary -inform DER -content {} -in {} -CAfile CA.pem -purpose any, or massho cert verify {} --ca CA.pem",
        terminal_safe(&signer.subject()),
        path_safe(&args.file),
        path_safe(&dest),
        path_safe(&args.file)
    );
    Ok(Exit::Passed)
}
