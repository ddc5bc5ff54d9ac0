//! Printed certificates and batch summaries as A4 PDF: the layout.
//!
//! The facts and their order come from [`super::render::facts`], the batch rows from
//! [`super::summary`]; drawing, fonts and the QR code are [`crate::pdf`]'s. Long values wrap;
//! when a certificate does not fit one page everything shrinks a little, and only past that does
//! it run on to a second page.

use super::render::{qr_payload, status_label, Facts};
use super::summary::{SummaryRow, Totals};
use super::Certificate;
use crate::engine::Status;
use crate::pdf::pades::Placeholder;
use crate::pdf::{Color, Document, FontFile, PdfError, A4_LANDSCAPE, A4_PORTRAIT, BLACK};

const GREY: Color = Color::Gray(0.35);
const RULE: Color = Color::Gray(0.65);
const SHADE: Color = Color::Gray(0.95);
const HEAD_SHADE: Color = Color::Gray(0.88);

fn status_color(status: Option<Status>) -> Color {
    match status {
        Some(Status::Passed) => Color::Rgb(0.0, 0.42, 0.2),
        Some(Status::Failed) => Color::Rgb(0.75, 0.0, 0.0),
        Some(Status::Aborted | Status::Unverified) => Color::Rgb(0.7, 0.35, 0.0),
        None => BLACK,
    }
}

fn status_named(name: &str) -> Option<Status> {
    Status::ALL.into_iter().find(|s| s.name() == name)
}

/// "日本語 / English" as its two halves.
fn split_title(title: &str) -> (&str, &str) {
    title.split_once(" / ").unwrap_or((title, ""))
}

/// An RFC 3339 time as people read it: `2026-11-25 20:21:00 +09:00`; anything else unchanged.
fn display_time(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    let shown = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory]:[offset_minute]"
    );
    time::OffsetDateTime::parse(rfc3339, &Rfc3339)
        .ok()
        .and_then(|t| t.format(&shown).ok())
        .unwrap_or_else(|| rfc3339.to_owned())
}

// --- The certificate: A4 portrait -------------------------------------------------------------

const MARGIN_X: f32 = 50.0;
const TOP: f32 = 44.0;
/// Content ends here above the page's bottom edge; the footer sits below.
const BOTTOM: f32 = 46.0;
const QR_SIDE: f32 = 100.0;
const LABEL_W: f32 = 124.0;
const GAP: f32 = 10.0;
/// Scales tried, largest first, until the certificate fits one page.
const SCALES: [f32; 7] = [1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7];

/// One row of the facts table, broken into lines at a given scale.
struct FactRow {
    ja: String,
    en: String,
    lines: Vec<String>,
    size: f32,
    leading: f32,
    color: Color,
    pad: f32,
    label_h: f32,
    height: f32,
}

fn lay_out_facts(
    doc: &mut Document,
    rows: &[(&str, &str, String)],
    scale: f32,
    value_w: f32,
) -> Vec<FactRow> {
    let pad = 4.0 * scale;
    let label_h = (8.5 + 6.5) * 1.25 * scale;
    rows.iter()
        .enumerate()
        .map(|(i, (ja, en, value))| {
            // The first fact is the result: larger, in its colour.
            let (size, color) = if i == 0 {
                let status = Status::ALL
                    .into_iter()
                    .find(|s| status_label(*s) == value.as_str());
                (11.0 * scale, status_color(status))
            } else {
                (9.0 * scale, BLACK)
            };
            let lines = doc.wrap(value, size, value_w);
            let leading = size * 1.3;
            let text_h = lines.len() as f32 * leading;
            FactRow {
                ja: (*ja).to_owned(),
                en: (*en).to_owned(),
                lines,
                size,
                leading,
                color,
                pad,
                label_h,
                height: 2.0 * pad + label_h.max(text_h),
            }
        })
        .collect()
}

/// A PDF, and the characters of its content the font lacks (drawn as 〓; the signed JSON holds
/// them exactly).
pub type Printed = (Vec<u8>, Vec<char>);

/// The printable certificate of `cert`, with the facts `facts` (from [`super::render::facts`]).
/// With `seal`, the page gets a visible signature field under the witness lines (signer,
/// reason, time) and the file a PAdES signature placeholder for [`crate::pdf::pades::sign`].
pub fn certificate(
    cert: &Certificate,
    facts: &Facts,
    font: &FontFile,
    seal: Option<&Placeholder>,
) -> Result<Printed, PdfError> {
    let mut doc = Document::new(font, A4_PORTRAIT, facts.title)?;
    let labels: String = std::iter::once(facts.title)
        .chain(facts.rows.iter().flat_map(|r| [r.0, r.1]))
        .collect();
    doc.require(&labels)?;
    let right = doc.width() - MARGIN_X;
    let value_x = MARGIN_X + LABEL_W + GAP;
    let value_w = right - value_x;
    let bottom = doc.height() - BOTTOM;
    let table_top = TOP + QR_SIDE + 22.0;

    let mut rows = facts.rows.clone();
    rows.push((
        "ハッシュ値",
        "SHA-256 of the JSON file",
        facts.json_sha256.clone(),
    ));

    // The largest scale at which table and signature block fit the first page.
    let mut laid = None;
    for scale in SCALES {
        let rows = lay_out_facts(&mut doc, &rows, scale, value_w);
        let height: f32 = rows.iter().map(|r| r.height).sum();
        if table_top + height + signature_height(scale, seal.is_some()) <= bottom {
            laid = Some((scale, rows));
            break;
        }
    }
    let (scale, laid) = match laid {
        Some(l) => l,
        None => {
            let smallest = SCALES[SCALES.len() - 1];
            (smallest, lay_out_facts(&mut doc, &rows, smallest, value_w))
        }
    };

    doc.new_page();
    let (ja_title, en_title) = split_title(facts.title);
    doc.text(MARGIN_X, TOP + 18.0, 20.0, BLACK, ja_title);
    doc.text(MARGIN_X, TOP + 36.0, 11.0, GREY, en_title);
    let qr_x = right - QR_SIDE;
    let statement = match cert.status {
        Status::Passed => {
            "下記の記憶媒体のデータを、記載の方式で消去し検証したことを証明します。\n\
             This certifies that the data on the storage medium below was sanitized and verified \
             as described."
        }
        Status::Unverified => {
            "下記の記憶媒体に記載の方式で上書きしましたが、読み戻しによる検証は行っていません。\n\
             The storage medium below was overwritten as described, but NOT verified by reading \
             it back: this is not a verified sanitization."
        }
        Status::Failed | Status::Aborted => {
            "下記の記憶媒体のデータ消去は完了していません。結果を参照してください。\n\
             The sanitization of the storage medium below did NOT complete: see Result."
        }
    };
    let mut y = TOP + 58.0;
    for line in doc.wrap(statement, 8.5, qr_x - 16.0 - MARGIN_X) {
        doc.text(MARGIN_X, y, 8.5, BLACK, &line);
        y += 12.0;
    }
    doc.qr(
        &qr_payload(&cert.certificate_id, &facts.json_sha256),
        qr_x,
        TOP,
        QR_SIDE,
    )?;
    let caption = "証明書ID・SHA-256 / ID, SHA-256";
    let size = doc.fit(caption, 6.5, 4.0, QR_SIDE + 10.0);
    let w = doc.text_width(caption, size);
    doc.text(
        qr_x + (QR_SIDE - w) / 2.0,
        TOP + QR_SIDE + 9.0,
        size,
        GREY,
        caption,
    );

    let continued = format!(
        "{ja_title}（続き） / {en_title} (continued) — {}",
        cert.certificate_id
    );
    let mut y = table_top;
    doc.line((MARGIN_X, y), (right, y), 0.8, BLACK);
    for row in laid {
        // A row moves whole to the next page if it fits there; a row longer than a page (a
        // long error list) is split between its lines.
        let fresh_top = TOP + 20.0;
        let min_height = 2.0 * row.pad + row.label_h.max(row.leading);
        if y + row.height > bottom && (fresh_top + row.height <= bottom || y + min_height > bottom)
        {
            y = continuation_page(&mut doc, &continued);
        }
        let mut lines = &row.lines[..];
        loop {
            let room = ((bottom - y - 2.0 * row.pad) / row.leading)
                .floor()
                .max(1.0) as usize;
            let (now, rest) = lines.split_at(room.min(lines.len()));
            let height = 2.0 * row.pad + row.label_h.max(now.len() as f32 * row.leading);
            fact_row(&mut doc, &row, now, y, scale, value_x);
            y += height;
            doc.line((MARGIN_X, y), (right, y), 0.4, RULE);
            if rest.is_empty() {
                break;
            }
            lines = rest;
            y = continuation_page(&mut doc, &continued);
        }
    }

    if y + signature_height(scale, seal.is_some()) > bottom {
        y = continuation_page(&mut doc, &continued);
    }
    signature_block(&mut doc, y, scale, cert.witness.as_deref());
    if let Some(seal) = seal {
        sealed_block(&mut doc, y + signature_height(scale, false), seal);
    }

    let verify = format!(
        "検証 / Verify: massho cert verify {id}.json --pubkey KEY.pub\n\
         or: minisign -Vm {id}.json -p KEY.pub",
        id = cert.certificate_id
    );
    footers(&mut doc, &verify, MARGIN_X);
    let substituted = doc.substituted();
    Ok((doc.finish()?, substituted))
}

/// A new page for the rest of the table, headed `continued`; returns where the table goes on.
fn continuation_page(doc: &mut Document, continued: &str) -> f32 {
    doc.new_page();
    let right = doc.width() - MARGIN_X;
    let size = doc.fit(continued, 9.0, 5.0, right - MARGIN_X);
    doc.text(MARGIN_X, TOP + 9.0, size, GREY, continued);
    let y = TOP + 20.0;
    doc.line((MARGIN_X, y), (right, y), 0.8, BLACK);
    y
}

/// The labels of `row` and its value lines `lines`, from `top`.
fn fact_row(
    doc: &mut Document,
    row: &FactRow,
    lines: &[String],
    top: f32,
    scale: f32,
    value_x: f32,
) {
    let ja_size = 8.5 * scale;
    let en_size = doc.fit(&row.en, 6.5 * scale, 4.0, LABEL_W);
    let ja_base = top + row.pad + doc.ascent(ja_size);
    doc.text(MARGIN_X, ja_base, ja_size, BLACK, &row.ja);
    doc.text(
        MARGIN_X,
        ja_base + 6.5 * 1.25 * scale + 1.0,
        en_size,
        GREY,
        &row.en,
    );
    let mut base = top + row.pad + doc.ascent(row.size);
    for line in lines {
        doc.text(value_x, base, row.size, row.color, line);
        base += row.leading;
    }
}

/// The witness lines, and the digital signature's box under them when the PDF is signed.
fn signature_height(scale: f32, sealed: bool) -> f32 {
    (22.0 + 52.0) * scale + if sealed { SEAL_H + 6.0 } else { 0.0 }
}

/// Height of the digital signature's box: four lines.
const SEAL_H: f32 = 50.0;

/// The PAdES signature's visible field: who signed, why and when (the time the signing machine
/// claims; a timestamp is the evidence), drawn in the widget so that a PDF reader shows it as
/// the signature.
fn sealed_block(doc: &mut Document, top: f32, seal: &Placeholder) {
    let width = doc.width() - 2.0 * MARGIN_X;
    let text_w = width - 12.0;
    let shown = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory]:[offset_minute]"
    );
    let when = seal.time.format(&shown).unwrap_or_default();
    let mut lines = Vec::new();
    for (text, size, color) in [
        ("電子署名 (PAdES) / Digitally signed".to_owned(), 7.0, GREY),
        (format!("署名者 / Signer: {}", seal.name), 8.5, BLACK),
        (format!("理由 / Reason: {}", seal.reason), 7.0, BLACK),
        (
            format!("日時 / Date: {when} (署名者の時計 / signer's clock)"),
            7.0,
            GREY,
        ),
    ] {
        let size = doc.fit(&text, size, 4.0, text_w);
        let text = doc.ellipsize(&text, size, text_w);
        lines.push((text, size, color));
    }
    doc.signature_field((MARGIN_X, top + 6.0, width, SEAL_H), &lines, seal.clone());
}

/// Lines for the witness's signature and the date, with the witness's name under the first if
/// the certificate names one.
fn signature_block(doc: &mut Document, top: f32, scale: f32, witness: Option<&str>) {
    let right = doc.width() - MARGIN_X;
    let sign_w = 290.0;
    let date_x = MARGIN_X + sign_w + 40.0;
    let size = 9.0 * scale;
    let base = top + 22.0 * scale + doc.ascent(size);
    doc.text(
        MARGIN_X,
        base,
        size,
        BLACK,
        "立会人署名 / Witness signature",
    );
    doc.text(date_x, base, size, BLACK, "日付 / Date");
    let line_y = base + 30.0 * scale;
    doc.line((MARGIN_X, line_y), (MARGIN_X + sign_w, line_y), 0.7, BLACK);
    doc.line((date_x, line_y), (right, line_y), 0.7, BLACK);
    if let Some(name) = witness {
        let text = format!("氏名 / Name: {name}");
        let size = doc.fit(&text, 8.0 * scale, 4.0, sign_w);
        // Past the smallest size, cut: the certificate holds the whole name.
        let text = doc.ellipsize(&text, size, sign_w);
        doc.text(MARGIN_X, line_y + 11.0 * scale, size, GREY, &text);
    }
}

/// On every page: `left` (at most two lines) at the bottom left, "n / N" at the bottom right.
fn footers(doc: &mut Document, left: &str, margin: f32) {
    let pages = doc.page_count();
    let base = doc.height() - 34.0;
    let right = doc.width() - margin;
    for i in 0..pages {
        doc.select_page(i);
        let number = format!("{} / {pages}", i + 1);
        let number_w = doc.text_width(&number, 7.0);
        let width = right - margin - number_w - 20.0;
        let mut y = base;
        for line in left.lines().take(2) {
            let size = doc.fit(line, 6.5, 4.0, width);
            doc.text(margin, y, size, GREY, line);
            y += 8.5;
        }
        doc.text_right(right, base, 7.0, GREY, &number);
    }
}

// --- The batch summary: A4 landscape -----------------------------------------------------------

const S_MARGIN: f32 = 36.0;
const S_TOP: f32 = 34.0;
const S_BOTTOM: f32 = 46.0;
const CELL_PAD: f32 = 3.0;
const CELL_SIZE: f32 = 7.5;
const CELL_LEADING: f32 = 9.5;
/// A cell longer than this many lines is cut with "…": the certificate holds it in full.
const MAX_CELL_LINES: usize = 6;

/// (Japanese heading, English heading, width in points); the widths add up to the page's
/// content width (842 - 2 × 36 = 770).
const COLUMNS: [(&str, &str, f32); 9] = [
    ("番号", "No.", 26.0),
    ("証明書ID", "Cert. ID", 54.0),
    ("シリアル番号", "Serial number", 108.0),
    ("機種", "Model", 150.0),
    ("容量", "Size", 56.0),
    ("消去方式", "Method", 78.0),
    ("結果", "Result", 64.0),
    ("終了日時", "Finished", 124.0),
    ("作業者", "Operator", 110.0),
];

fn cells(index: usize, r: &SummaryRow) -> [String; 9] {
    let model = [r.vendor.as_str(), r.model.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_owned()
        } else {
            s.to_owned()
        }
    };
    [
        (index + 1).to_string(),
        r.certificate_id.chars().take(8).collect(),
        dash(&r.serial),
        dash(&model),
        crate::device::human_size(r.size_bytes),
        dash(&r.method),
        result_cell(r),
        display_time(&r.finished_at),
        dash(&r.operator),
    ]
}

/// The result column: the wipe's status only when the signature vouches for it.
fn result_cell(r: &SummaryRow) -> String {
    let status = status_named(&r.status)
        .map(status_label)
        .unwrap_or(r.status.as_str());
    if r.verified() {
        status.to_owned()
    } else if r.not_checked() {
        format!("{status} (署名未確認 signature not checked)")
    } else {
        "署名不正 SIGNATURE REJECTED".to_owned()
    }
}

fn wrap_cell(doc: &mut Document, text: &str, width: f32) -> Vec<String> {
    let mut lines = doc.wrap(text, CELL_SIZE, width - 2.0 * CELL_PAD);
    if lines.len() > MAX_CELL_LINES {
        lines.truncate(MAX_CELL_LINES);
        if let Some(last) = lines.last_mut() {
            last.pop();
            last.push('…');
        }
    }
    lines
}

/// One report of many certificates: a header with the organisation(s), counts and generation
/// time (`generated_at`, RFC 3339), then one row per certificate, over as many pages as it takes.
pub fn summary(
    rows: &[SummaryRow],
    generated_at: &str,
    font: &FontFile,
) -> Result<Printed, PdfError> {
    let generated_at = display_time(generated_at);
    let title = "データ消去証明書 一覧 / Summary of certificates of data sanitization";
    let mut doc = Document::new(font, A4_LANDSCAPE, title)?;
    doc.require(title)?;
    let right = doc.width() - S_MARGIN;
    let bottom = doc.height() - S_BOTTOM;
    let (ja_title, en_title) = split_title(title);

    doc.new_page();
    doc.text(S_MARGIN, S_TOP + 14.0, 16.0, BLACK, ja_title);
    let ja_w = doc.text_width(ja_title, 16.0);
    doc.text(S_MARGIN + ja_w + 12.0, S_TOP + 14.0, 10.0, GREY, en_title);
    let mut orgs: Vec<&str> = Vec::new();
    for r in rows {
        if !r.organization.is_empty() && !orgs.contains(&r.organization.as_str()) {
            orgs.push(&r.organization);
        }
    }
    let t = Totals::of(rows);
    let info = [
        format!(
            "組織 / Organization: {}",
            if orgs.is_empty() {
                "-".to_owned()
            } else {
                orgs.join(", ")
            }
        ),
        format!(
            "件数 / Certificates: {}     署名未確認 / Not checked: {}     署名不正 / Rejected: {}",
            t.certificates, t.not_checked, t.rejected
        ),
        // Only certificates whose signature a trusted key verified are counted by outcome.
        format!(
            "署名確認済み / Signature verified —  合格 / Passed: {}     未検証 / Unverified: {}     不合格 / Failed: {}     中断 / Aborted: {}",
            t.passed, t.unverified, t.failed, t.aborted
        ),
        format!("作成日時 / Generated: {generated_at}"),
    ];
    let mut y = S_TOP + 34.0;
    for item in &info {
        // A very long list of organisations is cut: the rows name none, the certificates do.
        for line in doc.wrap(item, 8.5, right - S_MARGIN).into_iter().take(3) {
            doc.text(S_MARGIN, y, 8.5, BLACK, &line);
            y += 12.0;
        }
    }
    y += 4.0;
    y = column_headings(&mut doc, y);

    for (i, r) in rows.iter().enumerate() {
        let texts = cells(i, r);
        let wrapped: Vec<Vec<String>> = texts
            .iter()
            .zip(COLUMNS)
            .map(|(t, (_, _, w))| wrap_cell(&mut doc, t, w))
            .collect();
        let n = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let height = n as f32 * CELL_LEADING + 2.0 * CELL_PAD;
        if y + height > bottom {
            doc.new_page();
            let cont = format!("{ja_title}（続き） / {en_title} (continued)");
            doc.text(S_MARGIN, S_TOP + 9.0, 9.0, GREY, &cont);
            y = column_headings(&mut doc, S_TOP + 18.0);
        }
        if i % 2 == 1 {
            doc.fill_rect(S_MARGIN, y, right - S_MARGIN, height, SHADE);
        }
        let color = if r.verified() {
            status_color(status_named(&r.status))
        } else if r.not_checked() {
            GREY
        } else {
            status_color(Some(Status::Failed))
        };
        let mut x = S_MARGIN;
        for (col, ((_, _, w), lines)) in COLUMNS.iter().zip(&wrapped).enumerate() {
            let c = if col == 6 { color } else { BLACK };
            let mut base = y + CELL_PAD + doc.ascent(CELL_SIZE);
            for line in lines {
                doc.text(x + CELL_PAD, base, CELL_SIZE, c, line);
                base += CELL_LEADING;
            }
            x += w;
        }
        y += height;
        doc.line((S_MARGIN, y), (right, y), 0.3, RULE);
    }

    let footer = format!(
        "{title} — {generated_at} — massho {}",
        env!("CARGO_PKG_VERSION")
    );
    footers(&mut doc, &footer, S_MARGIN);
    let substituted = doc.substituted();
    Ok((doc.finish()?, substituted))
}

/// The shaded row of column headings at `top`; returns where the first row starts.
fn column_headings(doc: &mut Document, top: f32) -> f32 {
    let right = doc.width() - S_MARGIN;
    let height = 24.0;
    doc.fill_rect(S_MARGIN, top, right - S_MARGIN, height, HEAD_SHADE);
    let mut x = S_MARGIN;
    for (ja, en, w) in COLUMNS {
        doc.text(x + CELL_PAD, top + 10.0, 7.5, BLACK, ja);
        let size = doc.fit(en, 6.5, 4.0, w - 2.0 * CELL_PAD);
        doc.text(x + CELL_PAD, top + 19.5, size, GREY, en);
        x += w;
    }
    doc.line((S_MARGIN, top + height), (right, top + height), 0.8, BLACK);
    top + height
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_without_fractions_and_with_their_offset() {
        assert_eq!(
            display_time("2026-11-25T11:21:00.271059484Z"),
            "2026-11-25 11:21:00 +00:00"
        );
        assert_eq!(
            display_time("2026-11-25T20:21:00.5+09:00"),
            "2026-11-25 20:21:00 +09:00"
        );
        assert_eq!(display_time("yesterday"), "yesterday");
    }

    #[test]
    fn column_widths_fill_the_landscape_page() {
        let total: f32 = COLUMNS.iter().map(|c| c.2).sum();
        assert_eq!(total, A4_LANDSCAPE.0 - 2.0 * S_MARGIN);
    }
}
