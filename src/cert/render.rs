//! Certificates for people: a text or HTML page with Japanese and English labels, key facts
//! first, and the identifiers an auditor needs to find the signed file again.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::Certificate;
use crate::engine::Status;

/// The facts a printed certificate shows, in order: (Japanese label, English label, value).
pub struct Facts {
    pub title: &'static str,
    pub rows: Vec<(&'static str, &'static str, String)>,
    pub json_sha256: String,
}

/// The facts of `cert`, whose file bytes are `json`, whose `.minisig` claims signer `key_id`,
/// and whose timestamp token is described by `timestamp` (its time only once a TSA certificate
/// verified it; no row without a token).
pub fn facts(
    cert: &Certificate,
    json: &[u8],
    key_id: Option<&str>,
    timestamp: Option<&str>,
) -> Facts {
    let w = &cert.wipe;
    let m = &w.media;
    let result = status_label(cert.status).to_owned();
    let identity = [m.vendor.as_deref(), m.model.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let passes = w
        .passes
        .iter()
        .map(|p| p.pattern.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let disposition = match &cert.disposition {
        super::Disposition::Disposal => "廃棄 disposal".to_owned(),
        super::Disposition::Reuse => "再利用 reuse".to_owned(),
        super::Disposition::LeaseReturn { lessor, contract } => {
            format!("リース返却 lease return: {lessor}, 契約 contract {contract}")
        }
    };
    let sig_names = |s: &[crate::device::Signature]| {
        if s.is_empty() {
            "なし none".to_owned()
        } else {
            s.iter()
                .map(|x| x.type_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let after = match &cert.signatures_after {
        Some(s) => sig_names(s),
        None => "未確認 not probed".to_owned(),
    };
    let mut errors = if w.errors.is_empty() && w.errors_truncated == 0 {
        "なし none".to_owned()
    } else {
        w.errors
            .iter()
            .map(|e| format!("{:?} LBA {}–{}", e.kind, e.first_lba, e.last_lba))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if w.errors_truncated > 0 {
        if !errors.is_empty() {
            errors.push_str("; ");
        }
        errors.push_str(&format!(
            "… and {} more range(s) not listed ({} in all)",
            w.errors_truncated,
            w.errors.len() as u64 + w.errors_truncated
        ));
    }
    let mut rows = vec![
        ("結果", "Result", result),
        (
            "媒体",
            "Medium",
            format!(
                "{} ({} bytes, {})",
                if identity.is_empty() { "-" } else { &identity },
                w.size_bytes,
                m.name
            ),
        ),
        (
            "シリアル番号",
            "Serial number",
            w.serial.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "資産番号",
            "Asset tag",
            cert.asset_tag.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "消去方式",
            "Method",
            format!(
                "{} — NIST SP 800-88 {} ({}), {} pass(es): {passes}",
                w.method,
                w.sanitization.nist_category,
                w.sanitization.technique,
                w.passes.len()
            ),
        ),
        (
            "検証",
            "Verification",
            format!(
                "{}: {} bytes read back, {} mismatched",
                w.verify_mode.name(),
                w.verification.bytes_verified,
                w.verification.mismatched_bytes
            ),
        ),
        ("エラー", "Errors", errors),
        (
            "作業日時",
            "Date",
            format!("{} – {}", w.started_at_local, w.finished_at_local),
        ),
        ("作業者", "Operator", cert.operator.clone()),
        (
            "組織",
            "Organization",
            cert.organization.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "立会人",
            "Witness",
            cert.witness.clone().unwrap_or_else(|| "-".into()),
        ),
        ("処分", "Disposition", disposition),
        ("消去前の内容", "Found before", sig_names(&m.signatures)),
        ("消去後の内容", "Found after", after),
        ("注記", "Note", w.sanitization.note.clone()),
        (
            "ツール",
            "Tool",
            format!(
                "{} {} (commit {}, sha256 {})",
                cert.tool.name, cert.tool.version, cert.tool.git_commit, cert.tool.binary_sha256
            ),
        ),
        (
            "ホスト",
            "Host",
            format!("{} ({})", w.host.hostname, w.host.kernel),
        ),
        ("証明書ID", "Certificate ID", cert.certificate_id.clone()),
        ("発行日時", "Issued", cert.issued_at_local.clone()),
    ];
    if let Some(t) = timestamp {
        rows.push(("タイムスタンプ", "Timestamp (RFC 3161)", t.to_owned()));
    }
    rows.extend([(
        "署名鍵（未検証）",
        "Signing key (as claimed; check with massho cert verify)",
        key_id.unwrap_or("(no signature file)").to_owned(),
    )]);
    Facts {
        title: "データ消去証明書 / Certificate of Data Sanitization",
        rows,
        json_sha256: hex::encode(Sha256::digest(json)),
    }
}

/// A wipe's outcome as printed: Japanese and English.
pub fn status_label(status: Status) -> &'static str {
    match status {
        Status::Passed => "合格 PASSED",
        Status::Unverified => "未検証 UNVERIFIED",
        Status::Failed => "不合格 FAILED",
        Status::Aborted => "中断 ABORTED",
    }
}

/// What the printed certificate's QR code holds: `massho-cert:<certificate id>:sha256:<hex
/// SHA-256 of the certificate's JSON file>`, enough to find the signed file and check that it is
/// the one that was printed.
pub fn qr_payload(certificate_id: &str, json_sha256: &str) -> String {
    format!("massho-cert:{certificate_id}:sha256:{json_sha256}")
}

/// Plain text, for a terminal or a plain-text archive.
pub fn text(f: &Facts) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}\n", f.title);
    for (ja, en, value) in &f.rows {
        // Values come from the certificate: a control character (an escape sequence, a
        // carriage return, a bidirectional override) must not repaint the terminal with a
        // fake result.
        let _ = writeln!(s, "{ja} / {en}: {}", crate::text::terminal_safe(value));
    }
    let _ = writeln!(s, "SHA-256 (JSON): {}", f.json_sha256);
    let _ = writeln!(
        s,
        "\n立会人署名 / Witness signature: ______________________   日付 / Date: ____________"
    );
    s
}

/// A self-contained A4 HTML page.
pub fn html(f: &Facts) -> String {
    let mut s =
        String::from("<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(s, "<title>{}</title>", escape(f.title));
    s.push_str(
        "<style>@page { size: A4; margin: 18mm } body { font-family: 'IPAexGothic', 'Noto Sans CJK JP', sans-serif; font-size: 10pt } \
         h1 { font-size: 16pt } table { border-collapse: collapse; width: 100% } \
         th, td { border: 1px solid #888; padding: 4px 6px; text-align: left; vertical-align: top } \
         th { width: 28%; background: #f2f2f2 } .sign { margin-top: 24mm }</style>\n</head>\n<body>\n",
    );
    let _ = writeln!(s, "<h1>{}</h1>\n<table>", escape(f.title));
    for (ja, en, value) in &f.rows {
        let _ = writeln!(
            s,
            "<tr><th>{} / {}</th><td>{}</td></tr>",
            escape(ja),
            escape(en),
            escape(value)
        );
    }
    let _ = writeln!(
        s,
        "<tr><th>SHA-256 (JSON)</th><td><code>{}</code></td></tr>\n</table>",
        f.json_sha256
    );
    s.push_str("<p class=\"sign\">立会人署名 / Witness signature: ______________________ &nbsp; 日付 / Date: ____________</p>\n</body>\n</html>\n");
    s
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
