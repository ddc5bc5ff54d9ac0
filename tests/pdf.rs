//! Printed certificates and batch summaries as PDF, judged by independent tools: poppler's
//! `pdfinfo` (page size and count), `pdffonts` (the font is embedded and subset), `pdftotext`
//! (the text is real, searchable text) and `pdftotext -bbox` (nothing runs off the page), and
//! zbar's `zbarimg` reading the QR code back from a rendered PNG (`pdftoppm`).
//!
//! No loop devices: the certificates are the shipped example and copies of it with other ids,
//! serials and models, signed through the library with a key from `massho key generate`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{assert_exit, describe_output, massho, run};
use massho::cert::Certificate;
use massho::engine::Status;
use sha2::{Digest, Sha256};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("certs/examples/74b4cc29-289e-4bf3-8975-d1d920ef0aeb.json")
}

/// stdout of a peer tool that must succeed.
fn tool(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?}: {}", describe_output(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pdfinfo(pdf: &Path) -> String {
    tool(Command::new("pdfinfo").arg(pdf))
}

fn pdftotext(pdf: &Path) -> String {
    tool(Command::new("pdftotext").arg(pdf).arg("-"))
}

/// `cert render --format pdf -o OUT CERT` with the default font search.
fn render_pdf(cert: &Path, out: &Path, extra: &[&str]) -> Output {
    run(massho()
        .args(["cert", "render", "--format", "pdf", "-o"])
        .arg(out)
        .args(extra)
        .arg(cert)
        .env_remove("MASSHO_FONT")
        .env_remove("MASSHO_FONT_DIRS"))
}

/// The rows of `pdffonts`: (name, type, emb, sub, uni).
fn fonts(pdf: &Path) -> Vec<Vec<String>> {
    tool(Command::new("pdffonts").arg(pdf))
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// A word that `pdftotext -bbox` found: its text, page (from 0), box and the page's size.
struct Word {
    text: String,
    page: usize,
    b: [f32; 4],
    page_size: (f32, f32),
}

fn word_boxes(pdf: &Path) -> Vec<Word> {
    let html = tool(Command::new("pdftotext").arg("-bbox").arg(pdf).arg("-"));
    let attr = |line: &str, name: &str| -> f32 {
        let key = format!("{name}=\"");
        let start = line.find(&key).unwrap() + key.len();
        let end = start + line[start..].find('"').unwrap();
        line[start..end].parse().unwrap()
    };
    let mut page = None;
    let mut page_size = (0.0, 0.0);
    let mut words = Vec::new();
    for line in html.lines().map(str::trim) {
        if line.starts_with("<page ") {
            page = Some(page.map_or(0, |p| p + 1));
            page_size = (attr(line, "width"), attr(line, "height"));
        } else if line.starts_with("<word ") {
            let text = line[line.find('>').unwrap() + 1..line.rfind("</word>").unwrap()].to_owned();
            words.push(Word {
                text,
                page: page.unwrap(),
                b: [
                    attr(line, "xMin"),
                    attr(line, "yMin"),
                    attr(line, "xMax"),
                    attr(line, "yMax"),
                ],
                page_size,
            });
        }
    }
    words
}

/// Asserts that every word lies inside its page with at least `margin` points to spare, and
/// that no two words overlap (a value running into the next column or row).
fn assert_nothing_overflows(pdf: &Path, margin: f32) {
    let words = word_boxes(pdf);
    assert!(words.len() > 50, "pdftotext -bbox found too few words");
    for Word {
        text,
        b: [x0, y0, x1, y1],
        page_size: (w, h),
        ..
    } in &words
    {
        assert!(
            *x0 >= margin && *y0 >= margin && *x1 <= w - margin && *y1 <= h - margin,
            "{text:?} at x {x0}..{x1}, y {y0}..{y1} runs off the {w} x {h} page"
        );
    }
    for (i, a) in words.iter().enumerate() {
        for b in words[i + 1..].iter().take_while(|b| b.page == a.page) {
            let v = a.b[3].min(b.b[3]) - a.b[1].max(b.b[1]);
            let h = a.b[2].min(b.b[2]) - a.b[0].max(b.b[0]);
            assert!(
                v <= 0.5 || h <= 0.5,
                "on page {}, {:?} {:?} overlaps {:?} {:?}",
                a.page + 1,
                a.text,
                a.b,
                b.text,
                b.b
            );
        }
    }
}

/// The QR code in the PDF's first page, read back by zbar from a 100 dpi PNG.
fn decode_qr(pdf: &Path) -> String {
    let root = pdf.with_extension("page1");
    tool(
        Command::new("pdftoppm")
            .args(["-png", "-r", "100", "-singlefile", "-f", "1", "-l", "1"])
            .arg(pdf)
            .arg(&root),
    );
    let png = PathBuf::from(format!("{}.png", root.display()));
    let out = run(Command::new("zbarimg").args(["--raw", "-q"]).arg(&png));
    assert!(
        out.status.success(),
        "zbarimg (Debian package zbar-tools) found no QR code in {}: {}",
        png.display(),
        describe_output(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

#[test]
fn the_example_certificate_prints_on_one_a4_page_with_searchable_text_and_a_qr_code() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("example.pdf");
    assert_exit(&render_pdf(&example(), &pdf, &[]), 0);

    let info = pdfinfo(&pdf);
    assert!(
        info.contains("Page size:       595 x 842 pts (A4)"),
        "{info}"
    );
    assert!(info.contains("Pages:           1\n"), "{info}");

    let id = "74b4cc29-289e-4bf3-8975-d1d920ef0aeb";
    let sha256 = hex::encode(Sha256::digest(std::fs::read(example()).unwrap()));
    let text = pdftotext(&pdf);
    for needle in [
        "データ消去証明書",
        "Certificate of Data Sanitization",
        "結果",
        "Result",
        "合格 PASSED",
        "シリアル番号",
        "Serial number",
        "Demo Operator",
        "立会人署名 / Witness signature",
        "日付 / Date",
        id,
        &sha256,
    ] {
        assert!(
            text.contains(needle),
            "the PDF's text lacks {needle:?}:\n{text}"
        );
    }

    let fonts = fonts(&pdf);
    assert_eq!(fonts.len(), 1, "{fonts:?}");
    let row = &fonts[0];
    assert!(
        row[0].contains('+') && row[0].ends_with("IPAexGothic"),
        "{row:?}"
    );
    // emb, sub, uni: embedded, subset, with a ToUnicode map.
    assert_eq!(
        row[row.len() - 5..row.len() - 2],
        ["yes", "yes", "yes"],
        "{row:?}"
    );

    let size = std::fs::metadata(&pdf).unwrap().len();
    assert!(size < 200_000, "{size} bytes");

    assert_eq!(decode_qr(&pdf), format!("massho-cert:{id}:sha256:{sha256}"));
    assert_nothing_overflows(&pdf, 20.0);

    // The same certificate gives the same bytes.
    let again = dir.path().join("again.pdf");
    assert_exit(&render_pdf(&example(), &again, &[]), 0);
    assert_eq!(std::fs::read(&pdf).unwrap(), std::fs::read(&again).unwrap());
}

/// `massho key generate --no-passphrase` in `dir`; the secret key, loaded.
fn signing_key(dir: &Path) -> massho::sign::SecretKey {
    let out = run(massho()
        .args([
            "key",
            "generate",
            "--no-passphrase",
            "--name",
            "station",
            "--out",
        ])
        .arg(dir));
    assert_exit(&out, 0);
    massho::sign::SecretKey::from_file(&dir.join("station.key"), &|| {
        panic!("the test key has no passphrase")
    })
    .unwrap()
}

fn example_certificate() -> Certificate {
    serde_json::from_slice(&std::fs::read(example()).unwrap()).unwrap()
}

/// Sign `cert` into `dir` under a fresh id; returns the JSON file.
fn issue(mut cert: Certificate, key: &massho::sign::SecretKey, dir: &Path) -> PathBuf {
    cert.certificate_id = uuid::Uuid::new_v4().to_string();
    massho::cert::issue(&cert, key, dir).unwrap().json
}

#[test]
fn long_values_wrap_inside_the_page_and_the_witness_name_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(dir.path());
    let mut cert = example_certificate();
    let serial = "WD-WCC4N1234567";
    cert.wipe.serial = Some(serial.into());
    cert.wipe.media.vendor =
        Some("Western Digital Corporation International Storage Products".into());
    cert.wipe.media.model = Some(
        "WDC WD40EFRX-68N32N0 Red Plus NAS Hard Drive 4TB 5400RPM SATA 6Gb/s 64MB Cache".into(),
    );
    cert.witness = Some("佐藤 花子 (Sato Hanako)".into());
    cert.organization = Some("ＡＢＣ健康保険組合 本部 総務課 情報管理係 ".repeat(4));
    cert.disposition = massho::cert::Disposition::LeaseReturn {
        lessor: "東京センチュリーリース株式会社 情報機器事業部 返却受付センター (Tokyo Century Lease Co., Ltd.)"
            .into(),
        contract: "L-2026-000117-A-".repeat(6),
    };
    let json = issue(cert, &key, dir.path());
    let pdf = dir.path().join("long.pdf");
    assert_exit(&render_pdf(&json, &pdf, &[]), 0);
    assert!(pdfinfo(&pdf).contains("Pages:           1\n"));
    let text = pdftotext(&pdf);
    for needle in [
        serial,
        "氏名 / Name: 佐藤 花子 (Sato Hanako)",
        "Tokyo Century Lease",
    ] {
        assert!(
            text.contains(needle),
            "the PDF's text lacks {needle:?}:\n{text}"
        );
    }
    // The signing key's id, as `key show` prints it, is on the certificate.
    let key_id = massho::sign::signature_key_id(
        &std::fs::read_to_string(format!("{}.minisig", json.display())).unwrap(),
    )
    .unwrap();
    assert!(text.contains(&key_id), "no key id {key_id} in:\n{text}");
    assert_nothing_overflows(&pdf, 20.0);
}

#[test]
fn an_error_list_longer_than_a_page_runs_on_to_more_pages_without_overflowing() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(dir.path());
    let mut cert = example_certificate();
    cert.status = Status::Failed;
    cert.wipe.status = Status::Failed;
    let range: massho::engine::ErrorRange = serde_json::from_value(serde_json::json!({
        "kind": "write", "pass": 1, "offset": 0, "length": 4096, "first_lba": 0,
        "last_lba": 7, "sector_size": 512, "message": "Input/output error (os error 5)"
    }))
    .unwrap();
    cert.wipe.errors = (0..1500u64)
        .map(|i| {
            let mut r = range.clone();
            r.first_lba = i * 1000;
            r.last_lba = i * 1000 + 7;
            r
        })
        .collect();
    let json = issue(cert, &key, dir.path());
    let pdf = dir.path().join("errors.pdf");
    assert_exit(&render_pdf(&json, &pdf, &[]), 0);
    let pages: u32 = pdfinfo(&pdf)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pages > 1, "{pages} page(s)");
    let text = pdftotext(&pdf);
    assert!(text.contains("不合格 FAILED"), "{text}");
    assert!(
        text.contains("LBA 1499000–1499007"),
        "the last range is missing"
    );
    assert!(text.contains("立会人署名 / Witness signature"));
    assert_nothing_overflows(&pdf, 20.0);
}

#[test]
fn a_pdf_is_never_written_to_a_terminal_but_may_be_redirected() {
    // `script` (util-linux) gives massho a pseudo-terminal as stdout.
    for args in [
        vec!["cert", "render", "--format", "pdf"],
        vec!["cert", "summary", "--format", "pdf"],
    ] {
        let line = format!(
            "{} {} {}",
            env!("CARGO_BIN_EXE_massho"),
            args.join(" "),
            example().display()
        );
        let out = run(Command::new("script").args(["-qec", &line, "/dev/null"]));
        assert_exit(&out, 2);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("a PDF is binary and standard output is a terminal")
                && said.contains("-o FILE.pdf"),
            "{said}"
        );
        assert!(!said.contains("%PDF"), "{said}");
    }
    let out = run(massho()
        .args(["cert", "render", "--format", "pdf"])
        .arg(example()));
    assert_exit(&out, 0);
    assert!(
        out.stdout.starts_with(b"%PDF-"),
        "{}",
        describe_output(&out)
    );
}

#[test]
fn without_a_font_the_error_names_what_was_tried_and_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("c.pdf");
    let empty = dir.path().join("no-fonts");
    std::fs::create_dir(&empty).unwrap();
    let out = run(massho()
        .args(["cert", "render", "--format", "pdf", "-o"])
        .arg(&pdf)
        .arg(example())
        .env_remove("MASSHO_FONT")
        .env("MASSHO_FONT_DIRS", &empty));
    assert_exit(&out, 5);
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "no Japanese font found".to_owned(),
        empty.join("ipaexg.ttf").display().to_string(),
        empty.join("NotoSansCJK-Regular.ttc").display().to_string(),
        "apt-get install fonts-ipaexfont-gothic".to_owned(),
        "--font".to_owned(),
    ] {
        assert!(err.contains(&needle), "stderr lacks {needle:?}: {err}");
    }
    assert!(!pdf.exists());

    for (how, value) in [
        ("--font", "/nonexistent/font.ttf"),
        ("MASSHO_FONT", "/nonexistent/font.ttf"),
    ] {
        let mut cmd = massho();
        cmd.args(["cert", "render", "--format", "pdf", "-o"])
            .arg(&pdf)
            .arg(example());
        if how == "--font" {
            cmd.args(["--font", value]);
        } else {
            cmd.env("MASSHO_FONT", value);
        }
        let out = run(&mut cmd);
        assert_exit(&out, 5);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot read font /nonexistent/font.ttf")
                && err.contains("apt-get install fonts-ipaexfont-gothic"),
            "{how}: {err}"
        );
        assert!(!pdf.exists());
    }

    // A font without Japanese is refused, naming the characters it lacks.
    let out = run(massho()
        .args(["cert", "render", "--format", "pdf", "-o"])
        .arg(&pdf)
        .arg(example())
        .args(["--font", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]));
    assert_exit(&out, 5);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no glyph for") && err.contains("U+"),
        "{err}"
    );
    assert!(!pdf.exists());
}

/// Noto Sans CJK has CFF outlines, embedded differently from IPAex Gothic's TrueType ones.
#[test]
fn noto_sans_cjk_embeds_as_a_cff_font() {
    let noto = Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc");
    assert!(
        noto.exists(),
        "{} is missing: packaging/install-deps.sh installs fonts-noto-cjk",
        noto.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("noto.pdf");
    let empty = dir.path().join("only-noto");
    std::fs::create_dir(&empty).unwrap();
    std::os::unix::fs::symlink(noto, empty.join("NotoSansCJK-Regular.ttc")).unwrap();
    // Found through the search directories, IPAex Gothic being absent there.
    let out = run(massho()
        .args(["cert", "render", "--format", "pdf", "-o"])
        .arg(&pdf)
        .arg(example())
        .env_remove("MASSHO_FONT")
        .env("MASSHO_FONT_DIRS", &empty));
    assert_exit(&out, 0);
    let fonts = fonts(&pdf);
    assert_eq!(fonts.len(), 1, "{fonts:?}");
    let row = fonts[0].join(" ");
    assert!(
        row.contains("NotoSansCJK") && row.contains("CID Type 0C") && row.contains("yes yes yes"),
        "{row}"
    );
    let text = pdftotext(&pdf);
    assert!(text.contains("結果") && text.contains("Result"), "{text}");
    assert!(std::fs::metadata(&pdf).unwrap().len() < 200_000);
    assert!(decode_qr(&pdf).starts_with("massho-cert:74b4cc29-289e-4bf3-8975-d1d920ef0aeb:sha256:"));
}

#[test]
fn a_summary_of_many_certificates_spans_pages_and_lists_every_serial() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(dir.path());
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let mut serials = Vec::new();
    for i in 0..120u64 {
        let mut cert = example_certificate();
        let serial = format!("S{i:03}-WX41A{:06}", i * 7919);
        cert.wipe.serial = Some(serial.clone());
        cert.wipe.media.vendor = Some("ATA".into());
        cert.wipe.media.model = Some(if i % 3 == 0 {
            "WDC WD40EFRX-68N32N0 Red Plus NAS Hard Drive 4TB 5400RPM SATA 6Gb/s 64MB Cache".into()
        } else {
            "Samsung SSD 870 EVO 500GB".into()
        });
        cert.status = match i % 10 {
            3 => Status::Failed,
            5 => Status::Unverified,
            7 => Status::Aborted,
            _ => Status::Passed,
        };
        cert.wipe.status = cert.status;
        cert.operator = if i % 2 == 0 {
            "山田 太郎"
        } else {
            "Yamada Taro"
        }
        .into();
        issue(cert, &key, &certs);
        serials.push(serial);
    }

    let pdf = dir.path().join("summary.pdf");
    let out = run(massho()
        .args(["cert", "summary", "--format", "pdf", "--pubkey"])
        .arg(dir.path().join("station.pub"))
        .arg("-o")
        .arg(&pdf)
        .arg(&certs));
    assert_exit(&out, 0);
    let info = pdfinfo(&pdf);
    assert!(
        info.contains("Page size:       842 x 595 pts (A4)"),
        "{info}"
    );
    let pages: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pages > 1, "{pages} page(s) for 120 certificates");
    let text = pdftotext(&pdf);
    for s in &serials {
        assert!(
            text.contains(s.as_str()),
            "serial {s} missing from the summary"
        );
    }
    for needle in [
        "件数 / Certificates: 120",
        "署名未確認 / Not checked: 0",
        "合格 / Passed: 84",
        "未検証 / Unverified: 12",
        "不合格 / Failed: 12",
        "中断 / Aborted: 12",
        "組織 / Organization: Demo Health Insurance Society",
        "作成日時 / Generated: 20",
        "シリアル番号",
        "Serial number",
        "山田 太郎",
        "中断 ABORTED",
    ] {
        assert!(text.contains(needle), "the summary lacks {needle:?}");
    }
    // The last page's number (pdftotext may drop the narrow spaces around the slash).
    let last = format!("{pages} / {pages}");
    assert!(
        text.contains(&last) || text.contains(&last.replace(' ', "")),
        "no page number {last}"
    );
    assert_eq!(
        fonts(&pdf)[0][fonts(&pdf)[0].len() - 5..][..3],
        ["yes", "yes", "yes"]
    );
    assert!(std::fs::metadata(&pdf).unwrap().len() < 200_000);
    assert_nothing_overflows(&pdf, 20.0);

    // -o works for every format, and CSV and JSON written to a file equal stdout.
    for format in ["csv", "json"] {
        let file = dir.path().join(format!("summary.{format}"));
        let out = run(massho()
            .args(["cert", "summary", "--format", format, "-o"])
            .arg(&file)
            .arg(&certs));
        assert_exit(&out, 0);
        assert!(out.stdout.is_empty());
        let stdout = run(massho()
            .args(["cert", "summary", "--format", format])
            .arg(&certs));
        assert_exit(&stdout, 0);
        assert_eq!(std::fs::read(&file).unwrap(), stdout.stdout, "{format}");
    }
    let csv = std::fs::read_to_string(dir.path().join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 121);
    assert!(csv.lines().next().unwrap().contains(",finished_at,"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 120);
    // No temporary files are left beside the outputs.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".massho-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// What a review found, pinned: control and invisible characters in a value do not stop the
/// PDF; characters the font lacks are printed as 〓 with a warning, not refused; the text
/// rendering never passes a terminal escape through; truncated error lists say so.
#[test]
fn odd_characters_and_truncated_error_lists_print_honestly() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(dir.path());
    let mut cert = example_certificate();
    cert.witness = Some("山田 太郎\n総務部\t\u{200B}".into());
    cert.wipe.media.model = Some("USB\u{2122} Flash \u{1F4BE}\u{1b}]0;pwned\u{7}".into());
    cert.wipe.serial = Some("S1\r結果 / Result: 合格 PASSED".into());
    cert.wipe.errors_truncated = 99_997;
    let json = issue(cert, &key, dir.path());
    let pdf = dir.path().join("odd.pdf");
    let out = render_pdf(&json, &pdf, &[]);
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("U+1F4BE") && stderr.contains("〓"),
        "{stderr}"
    );
    let text = pdftotext(&pdf);
    assert!(text.contains("〓"), "{text}");
    assert!(text.contains("99997 more range(s) not listed"), "{text}");
    assert_nothing_overflows(&pdf, 20.0);

    let out = common::run(common::massho().args(["cert", "render"]).arg(&json));
    assert_exit(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
    assert!(text.contains("\\u{1b}]0;pwned"), "{text}");
    assert!(text.contains("Signing key (as claimed"), "{text}");

    // A witness name longer than the signature line is cut there, not run off the page.
    let mut cert = example_certificate();
    cert.witness = Some("立会人".repeat(150));
    let json = issue(cert, &key, dir.path());
    let pdf = dir.path().join("witness.pdf");
    assert_exit(&render_pdf(&json, &pdf, &[]), 0);
    assert!(pdftotext(&pdf).contains('…'));
    assert_nothing_overflows(&pdf, 20.0);

    // A certificate id that is not a UUID is no massho certificate.
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    v["certificate_id"] = "x".repeat(3000).into();
    let bad = dir.path().join("bad-id.json");
    std::fs::write(&bad, serde_json::to_vec(&v).unwrap()).unwrap();
    let out = render_pdf(&bad, &dir.path().join("bad.pdf"), &[]);
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a UUID"));
}
