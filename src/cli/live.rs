//! `massho live`: what the live USB system runs. `start` is what the stick's `/init` hands tty1
//! to: it reads `massho/live.toml` from the MASSHO partition, shows the drives, why each one is
//! or is not wiped, and the commands; in `mode = "auto"` it wipes through `massho wipe`'s own
//! pipeline with every record on the stick. `check` is the same parser for a technician's
//! computer; `medium` finds the stick's MASSHO partition for `/init`; `wipe` is `massho wipe`
//! with the stick's settings.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;

use super::args::{
    CertIssueArgs, HiddenArg, LiveCommand, LiveStartArgs, LiveWipeArgs, PurposeArg, VerifyArg,
    WipeArgs,
};
use super::{Exit, ExitError};
use crate::device::{self, live_medium};
use crate::live::targets::{self, Decision};
use crate::live::{self as live_cfg, LiveConfig, Mode, Verify};

/// Where `start` tells `/init` what to do when it returns: `poweroff` or `console`.
const NEXT_FILE: &str = "/run/massho/next";
/// Set by the boot menu's "never wipe automatically" entry.
const CMDLINE_AUTO: &str = "massho.auto";
const RELEASE_FILE: &str = "/etc/massho-live/release";

pub fn run(cmd: &LiveCommand) -> anyhow::Result<Exit> {
    match cmd {
        LiveCommand::Check { file } => check(file),
        LiveCommand::Medium => medium(),
        LiveCommand::Start(args) => start(args),
        LiveCommand::Wipe(args) => wipe(args),
        LiveCommand::Menu => {
            outln!("{}", menu(Path::new(live_cfg::MEDIUM_MOUNT)));
            Ok(Exit::Passed)
        }
    }
}

fn check(file: &Path) -> anyhow::Result<Exit> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| ExitError::usage(format!("cannot read {}: {e}", file.display())))?;
    let cfg = LiveConfig::parse(&text)
        .map_err(|e| ExitError::usage(format!("{}: {e}", file.display())))?;
    outln!("{}: valid", file.display());
    outln!("{}", describe(&cfg));
    Ok(Exit::Passed)
}

fn medium() -> anyhow::Result<Exit> {
    let guid = live_medium::medium_guid_from_cmdline();
    let node = live_medium::find_records_partition(guid.as_deref())?;
    outln!("{}", node.display());
    Ok(Exit::Passed)
}

/// What live.toml asks for, in a few lines for the screen.
fn describe(cfg: &LiveConfig) -> String {
    let mut lines = vec![
        format!(
            "  mode: {}",
            match cfg.mode {
                Mode::Interactive =>
                    "interactive (nothing is wiped until the technician asks)".into(),
                Mode::Auto => format!(
                    "auto (wipe every wipeable drive after {} s, then {})",
                    cfg.countdown_s,
                    if cfg.poweroff { "power off" } else { "wait" }
                ),
            }
        ),
        format!(
            "  method: {}{}",
            cfg.method,
            cfg.verify
                .map(|v| format!(", verify {}", verify_name(v)))
                .unwrap_or_default()
        ),
    ];
    match (&cfg.key, &cfg.operator) {
        (Some(key), Some(op)) => lines.push(format!(
            "  certificates: signed with {}{}, operator {op}{}",
            key.path.display(),
            if key.generate {
                " (generated at first boot)"
            } else {
                ""
            },
            cfg.organisation
                .as_ref()
                .map(|o| format!(", organisation {o}"))
                .unwrap_or_default()
        )),
        _ => lines.push("  certificates: none (no [key] in live.toml); results only".into()),
    }
    if let Some(ledger) = &cfg.ledger {
        lines.push(format!("  ledger: {}", ledger.display()));
    }
    if !cfg.exclude_serials.is_empty() || !cfg.exclude_models.is_empty() {
        lines.push(format!(
            "  excluded: serials [{}], models [{}]",
            cfg.exclude_serials.join(", "),
            cfg.exclude_models.join(", ")
        ));
    }
    lines.join("\n")
}

fn verify_name(v: Verify) -> &'static str {
    match v {
        Verify::None => "none",
        Verify::Last => "last",
        Verify::All => "all",
        Verify::Sample => "sample",
    }
}

/// The stick's configuration: `Ok(None)` when there is no live.toml (interactive defaults).
fn load_config(folder: &Path) -> Result<Option<LiveConfig>, String> {
    let path = folder.join(live_cfg::CONFIG_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => LiveConfig::parse(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn start(args: &LiveStartArgs) -> anyhow::Result<Exit> {
    let mut next = "console";
    let outcome = start_inner(args, &mut next);
    write_next(next);
    outcome
}

fn start_inner(args: &LiveStartArgs, next: &mut &'static str) -> anyhow::Result<Exit> {
    let release = std::fs::read_to_string(RELEASE_FILE).unwrap_or_default();
    outln!(
        "==== massho live: {}",
        release.lines().next().unwrap_or("massho")
    );
    let folder = args.medium.as_ref().map(|m| m.join(live_cfg::FOLDER));
    // Any problem here leaves the live system interactive: nothing is wiped on its own.
    let mut blocked: Vec<String> = Vec::new();
    let cfg = match &folder {
        None => {
            blocked.push(
                "the stick's MASSHO partition is not mounted: no configuration and no records"
                    .into(),
            );
            LiveConfig::default()
        }
        Some(folder) => {
            match load_config(folder) {
                Ok(Some(cfg)) => {
                    outln!(
                        "configuration {}:",
                        folder.join(live_cfg::CONFIG_FILE).display()
                    );
                    outln!("{}", describe(&cfg));
                    cfg
                }
                Ok(None) => {
                    outln!(
                        "no {} on the stick: interactive (see {}/live.toml.example)",
                        live_cfg::CONFIG_FILE,
                        folder.display()
                    );
                    LiveConfig::default()
                }
                Err(e) => {
                    outln!("\n!!!! ERROR in the configuration: {e}");
                    outln!("!!!! Nothing will be wiped. Fix live.toml (on any computer) and boot again.\n");
                    blocked.push(format!("live.toml is malformed: {e}"));
                    LiveConfig::default()
                }
            }
        }
    };
    let key = match (&folder, &cfg.key) {
        (Some(folder), Some(_)) => match prepare_key(folder, &cfg) {
            Ok(path) => Some(path),
            Err(e) => {
                outln!("\n!!!! ERROR: {e:#}\n");
                blocked.push(format!("{e:#}"));
                None
            }
        },
        _ => None,
    };

    let devices = device::discover().context("cannot list the drives")?;
    outln!("\nDrives:");
    print!("{}", super::devices::render_table(&devices));
    let decisions = targets::choose(&devices, &cfg);
    let mut wipe_list = Vec::new();
    for (d, decision) in &decisions {
        match decision {
            Decision::Wipe => wipe_list.push(d.path.clone()),
            Decision::Skip(why) => {
                outln!("left alone: {}", why.join("; "));
            }
        }
    }

    let auto_off = std::fs::read_to_string("/proc/cmdline")
        .ok()
        .and_then(|c| live_medium::cmdline_value(&c, CMDLINE_AUTO).map(|v| v == "off"))
        .unwrap_or(false);
    if cfg.mode != Mode::Auto || auto_off || !blocked.is_empty() {
        if cfg.mode == Mode::Auto {
            if auto_off {
                blocked.push(format!(
                    "{CMDLINE_AUTO}=off on the kernel command line (boot menu)"
                ));
            }
            outln!(
                "\nmode = \"auto\", but nothing is wiped automatically: {}",
                blocked.join("; ")
            );
        }
        outln!(
            "\n{}",
            menu(
                args.medium
                    .as_deref()
                    .unwrap_or(Path::new(live_cfg::MEDIUM_MOUNT))
            )
        );
        // Repeated last, where the technician looks: the drive table pushed it up.
        for why in &blocked {
            outln!("!!!! {why}");
        }
        return Ok(if blocked.is_empty() {
            Exit::Passed
        } else {
            Exit::Usage
        });
    }
    // Only reachable with the medium mounted and a valid configuration.
    let Some(folder) = folder else {
        return Ok(Exit::Usage);
    };
    if wipe_list.is_empty() {
        outln!("\nauto mode: no drive to wipe");
        *next = if cfg.poweroff { "poweroff" } else { "console" };
        return Ok(Exit::Passed);
    }
    outln!(
        "\nauto mode: wiping {} with {}",
        wipe_list
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        cfg.method
    );
    if !countdown(cfg.countdown_s) {
        outln!("cancelled: nothing was written");
        outln!(
            "\n{}",
            menu(
                args.medium
                    .as_deref()
                    .unwrap_or(Path::new(live_cfg::MEDIUM_MOUNT))
            )
        );
        return Ok(Exit::Refused);
    }
    let outcome = run_wipe(&folder, &cfg, key, wipe_list, true);
    let exit = match &outcome {
        Ok(exit) => *exit,
        Err(e) => {
            outln!("massho: error: {e:#}");
            super::exit_of(e)
        }
    };
    outln!(
        "\nauto mode finished: exit {} ({}); records in {}",
        exit as i32,
        exit_meaning(exit),
        folder.display()
    );
    *next = if cfg.poweroff { "poweroff" } else { "console" };
    Ok(exit)
}

fn exit_meaning(exit: Exit) -> &'static str {
    match exit {
        Exit::Passed => "every drive passed",
        Exit::Failed => "a drive failed",
        Exit::Usage => "usage error",
        Exit::Refused => "refused, nothing was written",
        Exit::Aborted => "aborted",
        Exit::Internal => "environment error",
        Exit::Unverified => "unverified",
    }
}

/// Count down on screen; Enter on the console cancels. `true` to go on.
fn countdown(seconds: u32) -> bool {
    if seconds == 0 {
        return true;
    }
    let (tx, rx) = mpsc::channel();
    // A line on stdin (tty1) cancels; end of input (no keyboard) does not.
    std::thread::spawn(move || {
        let mut line = String::new();
        if matches!(std::io::stdin().lock().read_line(&mut line), Ok(n) if n > 0) {
            let _ = tx.send(());
        }
    });
    for left in (1..=seconds).rev() {
        outln!("wiping in {left} s; press Enter to cancel");
        if rx.recv_timeout(Duration::from_secs(1)).is_ok() {
            return false;
        }
    }
    true
}

/// The signing key on the stick; generated when live.toml says so and it does not exist.
fn prepare_key(folder: &Path, cfg: &LiveConfig) -> anyhow::Result<PathBuf> {
    let Some(key) = &cfg.key else {
        anyhow::bail!("no [key] in live.toml");
    };
    let path = folder.join(&key.path);
    if path.exists() {
        return Ok(path);
    }
    if !key.generate {
        anyhow::bail!(
            "the signing key {} is not on the stick; copy it there, or set generate = true under [key]",
            path.display()
        );
    }
    let dir = path.parent().unwrap_or(folder);
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "massho".into());
    let (public, pub_path, key_path) = crate::sign::generate(dir, &name, None)
        .with_context(|| format!("cannot generate the signing key in {}", dir.display()))?;
    outln!(
        "\n==== A new signing key was generated on the stick: {}",
        key_path.display()
    );
    outln!("     public key: {}", pub_path.display());
    outln!("     key id:     {}", public.key_id_grouped());
    outln!("     fingerprint {}", public.fingerprint());
    outln!("     Photograph or write down the fingerprint: the auditor checks certificates against it.");
    Ok(key_path)
}

/// `massho wipe` with the stick's settings and every record in the stick's massho folder.
fn run_wipe(
    folder: &Path,
    cfg: &LiveConfig,
    key: Option<PathBuf>,
    devices: Vec<PathBuf>,
    yes: bool,
) -> anyhow::Result<Exit> {
    let method = if cfg.method.ends_with(".toml") {
        folder.join(&cfg.method).display().to_string()
    } else {
        cfg.method.clone()
    };
    let ledger = cfg.ledger.as_ref().map(|l| folder.join(l));
    if let Some(path) = &ledger {
        if !path.exists() {
            crate::ledger::Ledger::create_or_open(path)
                .with_context(|| format!("cannot create the ledger {}", path.display()))?;
            outln!("created the ledger {}", path.display());
        }
    }
    let certified = key.is_some();
    super::wipe::run(&WipeArgs {
        devices,
        method,
        verify: cfg.verify.map(|v| match v {
            Verify::None => VerifyArg::None,
            Verify::Last => VerifyArg::Last,
            Verify::All => VerifyArg::All,
            Verify::Sample => VerifyArg::Sample,
        }),
        rounds: 1,
        blank: false,
        prng: None,
        yes,
        json: false,
        result_dir: Some(folder.join("results")),
        dry_run: false,
        journal_dir: Some(folder.join("journal")),
        allow_bridge: false,
        hidden: HiddenArg::Refuse,
        resume: false,
        cert: CertIssueArgs {
            cert_dir: certified.then(|| folder.join("certificates")),
            key,
            operator: cfg.operator.clone().filter(|_| certified),
            org: cfg.organisation.clone().filter(|_| certified),
            asset: Vec::new(),
            purpose: PurposeArg::Disposal,
            lessor: None,
            contract: None,
            witness: None,
            ledger,
            x509_key: None,
            x509: Default::default(),
        },
    })
}

fn wipe(args: &LiveWipeArgs) -> anyhow::Result<Exit> {
    let folder = args.medium.join(live_cfg::FOLDER);
    if !folder.is_dir() {
        return Err(ExitError::usage(format!(
            "{} is not there: is the stick's MASSHO partition mounted at {}?",
            folder.display(),
            args.medium.display()
        )));
    }
    let cfg = load_config(&folder)
        .map_err(|e| ExitError::usage(format!("{e}; nothing was written")))?
        .unwrap_or_default();
    let key = match cfg.key {
        Some(_) => Some(prepare_key(&folder, &cfg)?),
        None => None,
    };
    // The same checks as auto mode: an excluded drive is refused here too.
    let devices: Vec<device::DeviceInfo> = args
        .devices
        .iter()
        .map(|p| device::inspect(p))
        .collect::<Result<_, _>>()?;
    let excluded: Vec<String> = devices
        .iter()
        .filter_map(|d| {
            cfg.exclusion(d.serial.as_deref(), d.model.as_deref())
                .map(|why| format!("  {}: {why}", d.path.display()))
        })
        .collect();
    if !excluded.is_empty() {
        return Err(ExitError::refused(format!(
            "refusing to wipe; nothing was written:\n{}",
            excluded.join("\n")
        )));
    }
    run_wipe(&folder, &cfg, key, args.devices.clone(), args.yes)
}

fn write_next(next: &str) {
    let path = Path::new(NEXT_FILE);
    // Only inside the live system, whose /init reads it.
    if path.parent().is_some_and(Path::is_dir) {
        let _ = std::fs::write(path, format!("{next}\n"));
    }
}

/// The commands the technician types on the live system's console.
fn menu(medium: &Path) -> String {
    let folder = medium.join(live_cfg::FOLDER);
    format!(
        "\
massho live: commands (a second shell is on Alt+F2)
  massho devices                      the drives, and why a drive may not be wiped
  massho live wipe /dev/sdX ...       wipe drives with the stick's live.toml settings; records
                                      (results, certificates, journal) go to {folder}
  massho wipe --help                  every option of a wipe by hand
  massho journal                      wipes a power cut interrupted
  massho live check {folder}/live.toml
  massho live menu                    this list
  poweroff -f                         switch off (records are written as each drive ends)
The stick this system booted from is never offered nor wiped.",
        folder = folder.display()
    )
}
