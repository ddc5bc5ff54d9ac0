//! `massho demo`: the whole flow on a scratch image file, no root needed.
//!
//! It makes a 64 MiB image holding a small FAT16 filesystem with a file of (fictitious) member
//! records, wipes it with the default method exactly as `massho wipe` would, prints the result,
//! checks independently that every byte is now zero, and deletes the scratch directory.

use std::io::Read;
use std::path::Path;

use anyhow::Context;

use super::args::{
    CertCommand, CertRenderArgs, CertVerifyArgs, DemoArgs, FontArgs, RenderFormat, WipeArgs,
};
use super::Exit;

const IMAGE_SIZE: u64 = 64 << 20;
const RECORDS: &[u8] = "member_id,name,insurer_no,dependants\n\
10001,山田 太郎,06139876,2\n10002,佐藤 花子,06139877,0\n10003,鈴木 一郎,06139878,1\n"
    .as_bytes();

pub fn run(args: &DemoArgs) -> anyhow::Result<Exit> {
    let dir = tempfile::Builder::new()
        .prefix("massho-demo-")
        .tempdir()
        .context("cannot create a scratch directory for the demo")?;
    let image = dir.path().join("member-records.img");
    let results = dir.path().join("results");
    outln!("== 1. A scratch disk image with a filesystem and personal data");
    write_fat16_image(&image).with_context(|| format!("cannot create {}", image.display()))?;
    outln!(
        "   {} ({} bytes): FAT16 volume MASSHODEMO, file MEMBERS.CSV with {} member records",
        image.display(),
        IMAGE_SIZE,
        RECORDS.iter().filter(|&&b| b == b'\n').count() - 1
    );
    let keys = dir.path().join("keys");
    let certs = dir.path().join("certificates");
    let (public, public_path, key_path) = crate::sign::generate(&keys, "demo", None)
        .context("cannot create the demo's signing key")?;
    outln!(
        "\n== 2. A throw-away signing key (massho key generate --no-passphrase --out {})",
        keys.display()
    );
    outln!("   {} key id {}", public_path.display(), public.key_id());
    let ledger_path = dir.path().join("ledger.sqlite");
    outln!(
        "\n== 3. A media ledger: the image is registered as medium {ASSET}, kept in cabinet {CABINET}, and checked out for disposal"
    );
    setup_ledger(&ledger_path)?;
    outln!(
        "\n== 4. massho wipe --method nist-clear --yes --result-dir {} --cert-dir {} --key {} --operator \"Demo Operator\" --asset {ASSET} --ledger {}",
        results.display(),
        certs.display(),
        key_path.display(),
        ledger_path.display()
    );
    let exit = super::wipe::run(&WipeArgs {
        devices: vec![image.clone()],
        method: "nist-clear".into(),
        verify: None,
        rounds: 1,
        blank: false,
        prng: None,
        yes: true,
        json: false,
        result_dir: Some(results.clone()),
        dry_run: false,
        journal_dir: Some(dir.path().join("journal")),
        allow_bridge: false,
        resume: false,
        hidden: super::args::HiddenArg::Refuse,
        hidden_permanent: false,
        cert: super::args::CertIssueArgs {
            cert_dir: Some(certs.clone()),
            key: Some(key_path.clone()),
            operator: Some("Demo Operator".into()),
            org: Some("Demo Health Insurance Society".into()),
            asset: vec![ASSET.into()],
            purpose: super::args::PurposeArg::Disposal,
            lessor: None,
            contract: None,
            witness: None,
            ledger: Some(ledger_path.clone()),
            x509_key: None,
            x509: Default::default(),
        },
    })?;
    outln!("\n== 5. The result object (what the certificate is issued over)");
    for entry in std::fs::read_dir(&results).context("cannot list the results")? {
        let path = entry?.path();
        let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)
            .with_context(|| format!("cannot parse {}", path.display()))?;
        for key in [
            "device",
            "size_bytes",
            "method",
            "status",
            "started_at_local",
        ] {
            outln!("   {key}: {}", value[key]);
        }
        outln!("   passes: {}", value["passes"]);
        outln!(
            "   verification: {} bytes read back, {} mismatched, direct I/O {}",
            value["verification"]["bytes_verified"],
            value["verification"]["mismatched_bytes"],
            value["verification"]["direct_io"]
        );
        outln!("   sanitization: {}", value["sanitization"]["note"]);
    }
    outln!("\n== 6. Independent check: every byte of the image is zero");
    let nonzero = count_nonzero(&image)?;
    outln!("   {nonzero} non-zero bytes");
    outln!(
        "\n== 7. The auditor checks the certificate: massho cert verify {} --pubkey {}",
        certs.display(),
        public_path.display()
    );
    let verified = super::cert::run(&CertCommand::Verify(CertVerifyArgs {
        paths: vec![certs.clone()],
        trust: super::args::TrustArgs {
            pubkey: vec![public_path.clone()],
            trusted: None,
        },
        tsa_cert: None,
        ca: Vec::new(),
        validation_data: Vec::new(),
        crl: Vec::new(),
        json: false,
    }))?;
    outln!(
        "   (or with stock minisign: minisign -Vm CERTIFICATE.json -p {})",
        public_path.display()
    );
    outln!("\n== 8. The printed certificate: massho cert render CERTIFICATE.json");
    for cert in crate::cert::check::expand(std::slice::from_ref(&certs))? {
        super::cert::run(&CertCommand::Render(CertRenderArgs {
            file: cert,
            tsa_cert: None,
            format: RenderFormat::Text,
            output: None,
            font: FontArgs { font: None },
            x509_key: None,
            tsa_url: None,
            validation_data: Vec::new(),
            doc_timestamp: false,
        }))?;
    }
    let ledger_ok = finish_ledger(&ledger_path, &key_path, &public_path)?;
    if args.keep {
        let kept = dir.keep();
        outln!("\nscratch directory kept: {}", kept.display());
    } else {
        outln!("\n== 10. Scratch directory removed");
    }
    if ledger_ok != Exit::Passed {
        anyhow::bail!("the demo ledger did not verify");
    }
    if verified != Exit::Passed {
        anyhow::bail!("the demo certificate did not verify");
    }
    if nonzero != 0 {
        anyhow::bail!("the demo image still holds {nonzero} non-zero bytes after the wipe");
    }
    Ok(exit)
}

const ASSET: &str = "DEMO-001";
const CABINET: &str = "CAB-1";

/// A scratch ledger with a cabinet and the demo medium, checked out for disposal.
fn setup_ledger(path: &Path) -> anyhow::Result<()> {
    let mut ledger =
        crate::ledger::Ledger::create_or_open(path).context("cannot create the demo ledger")?;
    let event = |medium: Option<&str>, data| crate::ledger::NewEvent {
        medium: medium.map(str::to_owned),
        actor: "Demo Operator".into(),
        time: None,
        note: None,
        data,
    };
    use crate::ledger::{EventData, MediumKind, Ownership, Registration};
    ledger
        .append_all(vec![
            event(
                None,
                EventData::CabinetAdded {
                    cabinet: CABINET.into(),
                    room: "サーバ室 Server room 3F".into(),
                    lockable: true,
                },
            ),
            event(
                Some(ASSET),
                EventData::Registered(Registration {
                    kind: MediumKind::Other,
                    vendor: None,
                    model: Some("member-records.img".into()),
                    serial: None,
                    capacity_bytes: Some(IMAGE_SIZE),
                    department: Some("総務課 General affairs".into()),
                    personal_info: true,
                    ownership: Ownership::Owned,
                }),
            ),
            event(
                Some(ASSET),
                EventData::Stored {
                    cabinet: CABINET.into(),
                    slot: Some("A-1".into()),
                },
            ),
            event(
                Some(ASSET),
                EventData::CheckedOut {
                    by: "Demo Operator".into(),
                    purpose: "erasure before disposal".into(),
                    approver: "Information Security Officer".into(),
                    due: None,
                },
            ),
        ])
        .context("cannot record the demo medium")?;
    Ok(())
}

/// Dispose of the wiped medium, seal the ledger, show the history, verify the chain.
fn finish_ledger(path: &Path, key: &Path, public: &Path) -> anyhow::Result<Exit> {
    use super::ledger::args::{
        LedgerCommand, LedgerPath, LedgerVerifyArgs, MediaCommand, ShowArgs,
    };
    let mut ledger = crate::ledger::Ledger::open(path).context("cannot open the demo ledger")?;
    ledger
        .append(crate::ledger::NewEvent {
            medium: Some(ASSET.into()),
            actor: "Demo Operator".into(),
            time: None,
            note: None,
            data: crate::ledger::EventData::Disposed {
                method: "recycling contractor".into(),
                contractor: Some("Demo Recycling K.K.".into()),
                receipt: None,
                forced: None,
            },
        })
        .context("cannot record the demo disposal")?;
    let key = crate::sign::SecretKey::from_file(key, &|| Ok(String::new()))?;
    crate::ledger::chain::seal(&mut ledger, &key, "Demo Operator")?;
    let at = LedgerPath {
        ledger: Some(path.to_path_buf()),
    };
    outln!("\n== 9. The medium's history in the ledger (massho media show {ASSET}), then the auditor verifies the chain and its seal");
    super::ledger::media(&MediaCommand::Show(ShowArgs {
        path: at.clone(),
        asset: ASSET.into(),
        json: false,
    }))?;
    outln!(
        "\n   massho ledger verify --ledger {} --pubkey {}",
        path.display(),
        public.display()
    );
    super::ledger::run(&LedgerCommand::Verify(LedgerVerifyArgs {
        path: at,
        pubkey: vec![public.to_path_buf()],
        trusted: None,
        export: None,
        seal: vec![],
        tsa_cert: None,
        json: false,
    }))
}

fn count_nonzero(path: &Path) -> anyhow::Result<u64> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut count = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(count);
        }
        count += buf[..n].iter().filter(|&&b| b != 0).count() as u64;
    }
}

/// A minimal but valid FAT16 volume (512-byte sectors, 4 sectors per cluster) with one file.
fn write_fat16_image(path: &Path) -> std::io::Result<()> {
    const SECTOR: usize = 512;
    const RESERVED: usize = 4;
    const FAT_SECTORS: usize = 128;
    const ROOT_ENTRIES: usize = 512;
    let root_start = RESERVED + 2 * FAT_SECTORS;
    let data_start = root_start + ROOT_ENTRIES * 32 / SECTOR;
    let mut head = vec![0u8; (data_start + 4) * SECTOR];
    let boot = &mut head[..SECTOR];
    boot[..3].copy_from_slice(&[0xEB, 0x3C, 0x90]);
    boot[3..11].copy_from_slice(b"MSWIN4.1");
    boot[11..13].copy_from_slice(&(SECTOR as u16).to_le_bytes());
    boot[13] = 4; // sectors per cluster
    boot[14..16].copy_from_slice(&(RESERVED as u16).to_le_bytes());
    boot[16] = 2; // FATs
    boot[17..19].copy_from_slice(&(ROOT_ENTRIES as u16).to_le_bytes());
    boot[21] = 0xF8; // fixed disk
    boot[22..24].copy_from_slice(&(FAT_SECTORS as u16).to_le_bytes());
    boot[24..26].copy_from_slice(&32u16.to_le_bytes()); // sectors per track
    boot[26..28].copy_from_slice(&64u16.to_le_bytes()); // heads
    boot[32..36].copy_from_slice(&((IMAGE_SIZE / SECTOR as u64) as u32).to_le_bytes());
    boot[36] = 0x80;
    boot[38] = 0x29; // extended boot signature
    boot[39..43].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    boot[43..54].copy_from_slice(b"MASSHODEMO ");
    boot[54..62].copy_from_slice(b"FAT16   ");
    boot[510..512].copy_from_slice(&[0x55, 0xAA]);
    for fat in 0..2 {
        let at = (RESERVED + fat * FAT_SECTORS) * SECTOR;
        head[at..at + 6].copy_from_slice(&[0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    let root = root_start * SECTOR;
    head[root..root + 11].copy_from_slice(b"MASSHODEMO ");
    head[root + 11] = 0x08; // volume label
    let file = root + 32;
    head[file..file + 11].copy_from_slice(b"MEMBERS CSV");
    head[file + 11] = 0x20; // archive
    head[file + 26..file + 28].copy_from_slice(&2u16.to_le_bytes());
    head[file + 28..file + 32].copy_from_slice(&(RECORDS.len() as u32).to_le_bytes());
    let data = data_start * SECTOR;
    head[data..data + RECORDS.len()].copy_from_slice(RECORDS);
    let f = std::fs::File::create(path)?;
    std::os::unix::fs::FileExt::write_all_at(&f, &head, 0)?;
    f.set_len(IMAGE_SIZE)?;
    f.sync_all()
}
