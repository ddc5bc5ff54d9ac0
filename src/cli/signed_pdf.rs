//! The signed-PDF side of `massho cert`: `cert render --format pdf --x509-key` (PAdES B-B, with
//! `--tsa-url` B-T, `--validation-data` a DSS, `--doc-timestamp` B-LTA) and `cert verify FILE.pdf`.
//! The PDF work is [`crate::pdf::pades`], [`crate::pdf::update`] and
//! [`crate::pdf::verify_signed_pdf`]; this module loads what the operator named and prints.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::args::CertRenderArgs;
use super::cert::{input_error, json_terminal_safe};
use super::ExitError;
use crate::input;
use crate::pdf::{pades, update};
use crate::text::{path_safe, terminal_safe};
use crate::timestamp;
use crate::x509::{self, SignerMaterial, ValidationData};

/// Whether `path` names a PDF (judged as a signed PDF, not as a certificate JSON).
pub(super) fn is_pdf(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pdf"))
}

/// Everything a signed PDF needs, loaded and checked before the page is drawn.
pub(super) struct PdfSigning {
    signer: SignerMaterial,
    /// For the DSS: the signer's chain and what --validation-data named.
    validation: Option<ValidationData>,
    tsa_url: Option<String>,
    doc_timestamp: bool,
}

impl PdfSigning {
    /// `None` without --x509-key.
    pub(super) fn from_args(args: &CertRenderArgs) -> anyhow::Result<Option<PdfSigning>> {
        let Some(key) = args.x509_key.as_deref() else {
            return Ok(None);
        };
        if let Some(url) = &args.tsa_url {
            timestamp::http::check_url(url)
                .map_err(|e| ExitError::usage(format!("--tsa-url: {e}; nothing was written")))?;
        }
        let signer = super::certify::load_x509_signer(key)
            .map_err(|e| ExitError::usage(format!("{e}; nothing was written")))?;
        let validation = if args.validation_data.is_empty() {
            None
        } else {
            let given = ValidationData::load(&args.validation_data).map_err(|e| match e {
                x509::X509Error::Input(e) => input_error(e),
                other => ExitError::usage(format!("{other}; nothing was written")),
            })?;
            let chain: Vec<x509::Cert> = std::iter::once(signer.signer())
                .chain(signer.chain())
                .cloned()
                .collect();
            given
                .check_for_signing(&chain, time::OffsetDateTime::now_utc())
                .map_err(|e| {
                    ExitError::usage(format!("--validation-data: {e}; nothing was written"))
                })?;
            Some(
                ValidationData {
                    certificates: chain,
                    crls: Vec::new(),
                }
                .merged(&given),
            )
        };
        Ok(Some(PdfSigning {
            signer,
            validation,
            tsa_url: args.tsa_url.clone(),
            doc_timestamp: args.doc_timestamp,
        }))
    }

    /// The signature dictionary's placeholder for certificate `id`, signed now (local time).
    pub(super) fn placeholder(&self, id: &str) -> pades::Placeholder {
        let offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
        let reason =
            format!("データ消去証明書 {id} の発行 / Issuing certificate of data sanitization {id}");
        pades::Placeholder::for_signer(
            &self.signer,
            &reason,
            time::OffsetDateTime::now_utc().to_offset(offset),
        )
    }

    /// Sign `pdf` (made with [`PdfSigning::placeholder`]), timestamp the signature, add the DSS
    /// and the document timestamp, as asked.
    pub(super) fn sign(&self, pdf: &[u8]) -> anyhow::Result<Vec<u8>> {
        let tsa = |imprint: &[u8; 32]| -> Result<Vec<u8>, String> {
            let url = self.tsa_url.as_deref().unwrap_or_default();
            let (tsq, _nonce) = timestamp::request(imprint).map_err(|e| e.to_string())?;
            timestamp::http::fetch(url, &tsq).map_err(|e| e.to_string())
        };
        let stamper: Option<pades::Stamper> = self.tsa_url.as_ref().map(|_| &tsa as _);
        let mut pdf = pades::sign(pdf, &self.signer, stamper)?;
        if let Some(data) = &self.validation {
            pdf = update::add_dss(&pdf, data).context("cannot add the DSS to the PDF")?;
        }
        if self.doc_timestamp {
            pdf = update::add_document_timestamp(&pdf, &tsa)
                .context("cannot add the document timestamp to the PDF")?;
        }
        Ok(pdf)
    }
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

/// Check each signed PDF against --ca (and --tsa-cert, --validation-data, --crl), print one
/// line (or JSON object) per file; how many are not ok.
pub(super) fn verify_pdfs(
    pdfs: &[PathBuf],
    json: bool,
    options: &x509::VerifyOptions<'_>,
) -> anyhow::Result<usize> {
    let mut bad = 0;
    for path in pdfs {
        let bytes =
            input::read_regular(path, "signed PDF", input::limit::PDF).map_err(input_error)?;
        let (report, problem) = match crate::pdf::verify_signed_pdf(&bytes, options) {
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
        if json {
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
    if !json {
        outln!(
            "{} signed PDF(s): {} ok, {bad} not",
            pdfs.len(),
            pdfs.len() - bad
        );
    }
    Ok(bad)
}
