//! `massho cert verify | render | summary`.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::args::{
    CertCommand, CertRenderArgs, CertSummaryArgs, CertVerifyArgs, FontArgs, RenderFormat,
    SummaryFormat, TimestampAttachArgs, TimestampRequestArgs,
};
use super::{Exit, ExitError};
use crate::cert::summary::SummaryRow;
use crate::cert::{self, check, render, Certificate};
use crate::pdf::font::{self, FontFile};
use crate::sign::{self, PublicKey};
use crate::timestamp;

pub fn run(command: &CertCommand) -> anyhow::Result<Exit> {
    match command {
        CertCommand::Verify(a) => verify(a),
        CertCommand::Render(a) => render_one(a),
        CertCommand::Summary(a) => summary(a),
        CertCommand::TimestampRequest(a) => timestamp_request(a),
        CertCommand::TimestampAttach(a) => timestamp_attach(a),
    }
}

/// The signers the auditor trusts: every --pubkey and every *.pub in --trusted.
fn trusted_keys(args: &CertVerifyArgs) -> anyhow::Result<Vec<PublicKey>> {
    if args.pubkey.is_empty() && args.trusted.is_none() {
        return Err(ExitError::usage(
            "say whose signatures you trust: --pubkey KEY.pub (repeatable) or --trusted DIR",
        ));
    }
    let mut keys = Vec::new();
    for p in &args.pubkey {
        keys.push(PublicKey::from_file(p).map_err(|e| ExitError::usage(e.to_string()))?);
    }
    if let Some(dir) = &args.trusted {
        keys.extend(sign::load_trusted_dir(dir).map_err(|e| ExitError::usage(e.to_string()))?);
    }
    Ok(keys)
}

fn certificate_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let files = check::expand(paths).context("cannot list the certificate directory")?;
    if files.is_empty() {
        return Err(ExitError::usage(
            "no certificate (*.json) found in the given paths",
        ));
    }
    Ok(files)
}

#[derive(Serialize)]
struct VerifyLine<'a> {
    file: &'a Path,
    ok: bool,
    certificate_id: Option<&'a str>,
    serial: Option<&'a str>,
    status: Option<&'a str>,
    signer: Option<&'a str>,
    timestamp: Option<&'a str>,
    problem: Option<String>,
}

fn verify(args: &CertVerifyArgs) -> anyhow::Result<Exit> {
    let keys = trusted_keys(args)?;
    let files = certificate_files(&args.paths)?;
    let tsa_cert = match &args.tsa_cert {
        Some(p) => Some(std::fs::read(p).map_err(|e| {
            ExitError::usage(format!("cannot read TSA certificate {}: {e}", p.display()))
        })?),
        None => None,
    };
    let checked = check::check_all(&files, &keys, tsa_cert.as_deref());
    let mut bad = 0usize;
    for c in &checked {
        let cert = c.certificate.as_ref();
        let line = VerifyLine {
            file: &c.path,
            ok: c.ok(),
            certificate_id: cert.map(|x| x.certificate_id.as_str()),
            serial: cert.and_then(|x| x.wipe.serial.as_deref()),
            status: cert.map(|x| x.status.name()),
            signer: c.signer.as_deref(),
            timestamp: c.timestamp.as_deref(),
            problem: c.problem.as_ref().map(|p| p.to_string()),
        };
        if !c.ok() {
            bad += 1;
        }
        if args.json {
            outln!("{}", serde_json::to_string(&line)?);
        } else if let Some(p) = &line.problem {
            outln!("FAIL {}: {p}", c.path.display());
        } else {
            outln!(
                "OK   {} serial={} status={} signer={}{} ({})",
                line.certificate_id.unwrap_or("-"),
                line.serial.unwrap_or("-"),
                line.status.unwrap_or("-"),
                line.signer.unwrap_or("-"),
                line.timestamp
                    .map(|t| format!(" timestamp={t}"))
                    .unwrap_or_default(),
                c.path.display()
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
    Ok(if bad == 0 { Exit::Passed } else { Exit::Failed })
}

/// A certificate file read and parsed, without checking its signature.
fn read_certificate(path: &Path) -> anyhow::Result<(Vec<u8>, Certificate, Option<String>)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let cert: Certificate = serde_json::from_slice(&bytes).map_err(|e| {
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
    let key_id = std::fs::read_to_string(cert::signature_path(path))
        .ok()
        .and_then(|s| sign::signature_key_id(&s).ok());
    Ok((bytes, cert, key_id))
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
    }
    let (bytes, cert, key_id) = read_certificate(&args.file)?;
    let facts = render::facts(&cert, &bytes, key_id.as_deref());
    let page = match args.format {
        RenderFormat::Text => render::text(&facts).into_bytes(),
        RenderFormat::Html => render::html(&facts).into_bytes(),
        RenderFormat::Pdf => {
            let font = pdf_font(&args.font)?;
            let (pdf, substituted) = cert::pdf::certificate(&cert, &facts, &font)
                .with_context(|| format!("cannot make a PDF of {}", args.file.display()))?;
            warn_substituted(&args.file.display().to_string(), &substituted);
            pdf
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
    let files = certificate_files(&args.paths)?;
    let mut rows = Vec::with_capacity(files.len());
    for f in &files {
        let (_, c, key_id) = read_certificate(f)?;
        rows.push(SummaryRow::new(&c, key_id.as_deref(), f));
    }
    let out = match args.format {
        SummaryFormat::Json => {
            let mut json = serde_json::to_vec_pretty(&rows)?;
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

/// The certificate's bytes and its signature's, which a timestamp covers together.
fn certificate_and_signature(file: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let json = std::fs::read(file)
        .map_err(|e| ExitError::usage(format!("cannot read {}: {e}", file.display())))?;
    let sig_path = cert::signature_path(file);
    let minisig = std::fs::read(&sig_path).map_err(|e| {
        ExitError::usage(format!(
            "cannot read {}: {e}; a timestamp covers the certificate and its signature",
            sig_path.display()
        ))
    })?;
    Ok((json, minisig))
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
    outln!("{}", out.display());
    eprintln!(
        "send it to your time-stamping authority (HTTP POST, Content-Type: application/timestamp-query), then: massho cert timestamp-attach {} RESPONSE.tsr",
        args.file.display()
    );
    Ok(Exit::Passed)
}

fn timestamp_attach(args: &TimestampAttachArgs) -> anyhow::Result<Exit> {
    let (json, minisig) = certificate_and_signature(&args.file)?;
    let response = std::fs::read(&args.response)
        .map_err(|e| ExitError::usage(format!("cannot read {}: {e}", args.response.display())))?;
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
    outln!(
        "{}: timestamp {} (serial {}) stored as {}",
        args.file.display(),
        info.gen_time,
        info.serial,
        dest.display()
    );
    Ok(Exit::Passed)
}
