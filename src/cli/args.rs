//! The command line: argument types only. What each command does lives in `cli/<command>.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use super::ledger::args::{
    CabinetCommand, EvidenceCommand, LedgerCommand, MediaCommand, ReportCommand, LEDGER_EXIT_CODES,
};

const EXIT_CODES: &str = "\
Exit codes:
  0  every device passed (verify: the medium holds the expected pattern)
  1  a device failed: write, sync or read errors, or verification mismatches
  2  usage error: bad arguments, unknown method, unreadable method file, no such
     device, an empty (0-byte) device or file, a directory, FIFO or character
     device where a device or file is expected, another medium's result file
  3  refused: a device is mounted, swap, held, the boot or root medium, read-only,
     busy, or the confirmation did not match; nothing was written
  4  aborted: SIGINT/SIGTERM/SIGHUP or operator stop; the device is partly overwritten
  5  environment or internal error: not root (permission denied), cannot open or
     inspect a device, cannot write a result file
  6  unverified: every pass was written and flushed, but nothing was read back
     (--verify none); not a verified sanitization (NIST SP 800-88)
With several devices the worst outcome decides: aborted, failed, unverified, passed.";

#[derive(Debug, Parser)]
#[command(
    name = "massho",
    version,
    about = "Sanitize storage media before disposal or lease return, and prove it",
    long_about = "massho (抹消, \"erasure\") overwrites disks, partitions and image files, verifies \
                  the result by reading back from the medium, and reports exactly what was done.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Without a command, on a terminal: the technician's console (`massho console`)
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Full-screen console: choose drives and methods, confirm, watch the wipes, get certificates
    #[command(after_help = CONSOLE_HELP)]
    Console(ConsoleArgs),
    /// List disks and attached loop devices with identity, size and whether they may be wiped
    Devices(DevicesArgs),
    /// Overwrite devices or image files with a method, then verify from the medium
    #[command(after_help = EXIT_CODES)]
    Wipe(Box<WipeArgs>),
    /// Check, read-only, that a device or file holds an expected pattern
    #[command(after_help = EXIT_CODES)]
    Verify(VerifyArgs),
    /// List the built-in wipe methods and their passes
    Methods(MethodsArgs),
    /// Wipes in progress and wipes that were interrupted (killed, power cut) before they ended
    Journal(JournalArgs),
    /// Remove the temporary ATA password a failed security erase left on a drive (from the journal)
    Unlock(UnlockArgs),
    /// Unfreeze ATA security by a suspend-to-RAM and resume cycle (woken by the clock alarm)
    Unfreeze(UnfreezeArgs),
    /// Hot-swap bench: wipe every disk attached after the station started, by a policy file
    Station(StationArgs),
    /// Show the whole flow on a scratch image file (no root needed)
    Demo(DemoArgs),
    /// Check, render and summarize signed certificates
    #[command(subcommand)]
    Cert(CertCommand),
    /// Create or show the key pair that signs certificates (minisign format)
    #[command(after_help = KEY_HELP)]
    Key(KeyArgs),
    /// The media ledger itself: create, verify, seal, export, import, list events
    #[command(subcommand, after_help = LEDGER_EXIT_CODES)]
    Ledger(LedgerCommand),
    /// Record what happens to a medium: register, store, check out/in, hand over, dispose...
    #[command(subcommand, after_help = LEDGER_EXIT_CODES)]
    Media(MediaCommand),
    /// Cabinets where media are kept: add, list, inventory, reconcile (棚卸し)
    #[command(subcommand, after_help = LEDGER_EXIT_CODES)]
    Cabinet(CabinetCommand),
    /// The ledger's evidence from outside: archive timestamps, the timestamped message, a list
    #[command(subcommand, after_help = LEDGER_EXIT_CODES)]
    Evidence(EvidenceCommand),
    /// Auditor's reports: media out, backups past retention, leases due, disposals, history
    #[command(subcommand, after_help = LEDGER_EXIT_CODES)]
    Report(ReportCommand),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Print massho's manual page, or write one page per subcommand into a directory
    Man(ManArgs),
    /// The live USB system: check its live.toml, and what it runs at boot (docs/live.md)
    #[command(subcommand)]
    Live(LiveCommand),
}

const COMPLETIONS_HELP: &str = "\
Installed by the .deb; to try them by hand:
  bash: source <(massho completions bash)
  zsh:  massho completions zsh > ~/.zfunc/_massho   (with fpath+=~/.zfunc before compinit)
  fish: massho completions fish > ~/.config/fish/completions/massho.fish";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write massho.1 and a page per subcommand (massho-wipe.1, massho-cert-verify.1, ...) into
    /// DIR, created if missing, instead of printing massho.1
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum LiveCommand {
    /// Check a live.toml and show what it asks for (exit 2, naming the line, when it is malformed)
    Check {
        /// The file, e.g. massho/live.toml on the stick's MASSHO partition
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the device node of the booted stick's MASSHO partition (found by the GPT disk GUID
    /// on the kernel command line and the FAT label)
    Medium,
    /// What the live system runs at boot: show the drives and the commands; with mode = "auto",
    /// wipe every wipeable drive and write the records to the stick
    Start(LiveStartArgs),
    /// Wipe the named drives with the stick's settings: method, certificates, records on the stick
    #[command(after_help = EXIT_CODES)]
    Wipe(LiveWipeArgs),
    /// The commands of the live system
    Menu,
}

#[derive(Debug, Args)]
pub struct LiveStartArgs {
    /// Where the MASSHO partition is mounted; without it nothing is wiped automatically
    #[arg(long, value_name = "DIR")]
    pub medium: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LiveWipeArgs {
    /// Where the MASSHO partition is mounted
    #[arg(long, value_name = "DIR", default_value = crate::live::MEDIUM_MOUNT)]
    pub medium: PathBuf,
    /// Whole disks to wipe
    #[arg(required = true, value_name = "DEVICE")]
    pub devices: Vec<PathBuf>,
    /// Do not ask the operator to type each device's serial number
    #[arg(long, short)]
    pub yes: bool,
}

const CONSOLE_HELP: &str = "\
Keys are listed at the bottom of every screen; docs/operator-guide.md describes each screen.
The console needs a terminal of at least 80x24; colours are not needed (markers and text say
everything). The options fill in the console's fields; every one can be changed there.

Exit codes: as for `massho wipe`, from the last batch wiped (0 when nothing was wiped).";

/// `massho console`: the options only fill in the console's fields.
#[derive(Debug, Default, Args)]
pub struct ConsoleArgs {
    /// Offer only these devices or image files [default: every disk and attached loop device]
    #[arg(value_name = "DEVICE")]
    pub devices: Vec<PathBuf>,
    /// Journal of wipes in progress [default: as for `massho wipe`]
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Write each device's result object into DIR
    #[arg(long, value_name = "DIR")]
    pub result_dir: Option<PathBuf>,
    /// Write a signed certificate per device into DIR
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Secret key to sign with [default: massho.key in the key directory]
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Person performing the sanitization
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// Organization the media belong to
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// Record each wipe in this media ledger
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
    /// Also offer the custom methods in DIR (each *.toml file, as `massho wipe -m FILE` reads
    /// them; see docs/methods.md)
    #[arg(long, value_name = "DIR")]
    pub methods_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Print a JSON array instead of a table
    #[arg(long)]
    pub json: bool,
    /// Journal to check for interrupted wipes (see `massho journal`)
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StationArgs {
    /// The policy (TOML): method per media class or transport, verification, records, disks to
    /// ignore (see docs/examples/station.toml)
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// NDJSON events on stdout (attached, ignored, started, progress, finished, detached)
    #[arg(long)]
    pub json: bool,
    /// Overrides the policy's result_dir
    #[arg(long, value_name = "DIR")]
    pub result_dir: Option<PathBuf>,
    /// Overrides the policy's cert_dir
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Overrides the policy's key
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Overrides the policy's operator
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// Overrides the policy's ledger
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
    /// Overrides the policy's journal_dir
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// How often to rescan for disks when no uevent arrives, in milliseconds
    #[arg(long, default_value_t = 2000, value_name = "MS", value_parser = clap::value_parser!(u64).range(100..=60000))]
    pub interval_ms: u64,
}

#[derive(Debug, Args)]
pub struct UnfreezeArgs {
    /// Seconds the machine sleeps before its clock alarm wakes it
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..=120))]
    pub seconds: u32,
    /// Do not ask the operator to type "suspend"
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The drive (whole disk) a massho security erase left locked or with a password
    #[arg(value_name = "DEVICE")]
    pub device: PathBuf,
    /// The journal that recorded the password [default: as for `massho wipe`]
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    /// Also list wipes that ended (closed entries)
    #[arg(long)]
    pub all: bool,
    /// Print a JSON array instead of a table
    #[arg(long)]
    pub json: bool,
    /// The journal directory [default: as for `massho wipe`]
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyArg {
    /// Do not read back
    None,
    /// Read back the whole medium after the last pass
    Last,
    /// Read back the whole medium after every pass
    All,
    /// NIST SP 800-88 sampled read-back after the last pass (≥1000 subsections, ≥10 %)
    Sample,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrngArg {
    /// AES-128 in counter mode (fastest with AES-NI)
    AesCtr,
    /// ChaCha20 (fastest without AES instructions)
    Chacha20,
}

#[derive(Debug, Args)]
pub struct WipeArgs {
    /// Devices (whole disk, partition) or regular image files to overwrite
    #[arg(required_unless_present = "resume", value_name = "DEVICE")]
    pub devices: Vec<PathBuf>,
    /// Continue interrupted wipes (see `massho journal`) where their last checkpoint reached,
    /// with the plan and seed the journal recorded: those of the named devices, or every
    /// interrupted one whose drive is attached. A drive whose serial, size or model differ from
    /// the journal's is never resumed
    #[arg(long)]
    pub resume: bool,
    /// Method name (see `massho methods`) or a TOML file describing the passes
    #[arg(long, short, default_value = "nist-clear", value_name = "NAME|FILE")]
    pub method: String,
    /// Read back from the medium and compare [default: the method's own, `last` for nist-clear]
    #[arg(long, value_enum)]
    pub verify: Option<VerifyArg>,
    /// Repeat the method's passes N times
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// Add a final pass of zeros
    #[arg(long)]
    pub blank: bool,
    /// Random stream [default: aes-ctr with AES instructions, else chacha20]
    #[arg(long, value_enum)]
    pub prng: Option<PrngArg>,
    /// Do not ask the operator to type each device's serial number
    #[arg(long, short)]
    pub yes: bool,
    /// NDJSON events and one result object per device on stdout
    #[arg(long)]
    pub json: bool,
    /// Also write each device's result object to DIR/<name>_<serial>_<start time>Z_<id>.json
    #[arg(long, value_name = "DIR")]
    pub result_dir: Option<PathBuf>,
    /// Show what would be done and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Journal of wipes in progress: an entry per device is written before its first byte and
    /// closed with its result, so an interrupted wipe leaves a trace [default: $MASSHO_JOURNAL_DIR,
    /// else /var/lib/massho/journal for root, ~/.local/state/massho/journal otherwise]
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Let a firmware purge run ATA SECURITY ERASE through a USB bridge (bridges time out long
    /// commands and can leave the drive locked; `massho unlock` then removes massho's password)
    #[arg(long)]
    pub allow_bridge: bool,
    /// A drive that hides sectors (HPA, DCO, accessible max address): `refuse` the wipe,
    /// `restore` the native capacity first (volatile SET MAX ADDRESS; the kernel's block device
    /// must follow, see docs/firmware.md), or `ignore` the hidden area (wipe what the host sees;
    /// the result records the hidden sectors as not sanitized)
    #[arg(long, value_enum, default_value = "refuse")]
    pub hidden: HiddenArg,
    /// With --hidden restore: allow permanent changes (non-volatile SET MAX ADDRESS, SET
    /// ACCESSIBLE MAX ADDRESS EXT, DEVICE CONFIGURATION RESTORE); the drive keeps its full
    /// capacity after power-off
    #[arg(long)]
    pub hidden_permanent: bool,
    #[command(flatten)]
    pub cert: CertIssueArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HiddenArg {
    /// Refuse to wipe a drive with hidden sectors (nothing is written)
    Refuse,
    /// Wipe what the host can address and record the hidden sectors as left untouched
    Ignore,
    /// Expose the native capacity first and wipe all of it (before/after in the result)
    Restore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PurposeArg {
    /// The medium is scrapped, recycled or destroyed
    Disposal,
    /// The medium goes back to its lessor (needs --lessor and --contract)
    LeaseReturn,
    /// The medium is reused inside the organization
    Reuse,
}

/// Who certifies the wipe and why (used with --cert-dir).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Certificate")]
pub struct CertIssueArgs {
    /// Write a signed certificate per device into DIR (<id>.json and <id>.json.minisig)
    #[arg(long, value_name = "DIR", requires = "operator")]
    pub cert_dir: Option<PathBuf>,
    /// Secret key to sign with [default: massho.key in the key directory, see `massho key`]
    #[arg(long, value_name = "KEY", requires = "cert_dir")]
    pub key: Option<PathBuf>,
    /// Person performing the sanitization
    #[arg(long, value_name = "NAME", requires = "cert_dir")]
    pub operator: Option<String>,
    /// Organization the media belong to
    #[arg(long, value_name = "ORG", requires = "cert_dir")]
    pub org: Option<String>,
    /// Asset tag of each device, in the order the devices are named (once per device)
    #[arg(long, value_name = "TAG", requires = "cert_dir")]
    pub asset: Vec<String>,
    /// What happens to the media next
    #[arg(long, value_enum, default_value = "disposal")]
    pub purpose: PurposeArg,
    /// Lessor the media are returned to (with --purpose lease-return)
    #[arg(long, value_name = "NAME", requires = "cert_dir")]
    pub lessor: Option<String>,
    /// Lease contract number (with --purpose lease-return)
    #[arg(long, value_name = "NO", requires = "cert_dir")]
    pub contract: Option<String>,
    /// Witness or validator of the sanitization
    #[arg(long, value_name = "NAME", requires = "cert_dir")]
    pub witness: Option<String>,
    /// Record each wipe in this media ledger (found by --asset, else by serial; registered if
    /// unknown), linked to its certificate
    #[arg(long, value_name = "PATH", requires = "cert_dir")]
    pub ledger: Option<PathBuf>,
    /// Also sign each certificate with the organisation's X.509 certificate: a detached CAdES
    /// signature <id>.json.p7s. FILE is PKCS#12 (.p12/.pfx) or PEM holding the key, its
    /// certificate and the chain; its passphrase is asked for (or read from
    /// $MASSHO_PASSPHRASE_FILE), never taken from the command line
    #[arg(long, value_name = "FILE", requires = "cert_dir")]
    pub x509_key: Option<PathBuf>,
    #[command(flatten)]
    pub x509: X509SigningArgs,
}

/// How an X.509 signature is made beyond CAdES-B-B.
#[derive(Debug, Clone, Default, Args)]
pub struct X509SigningArgs {
    /// With --x509-key: ask this RFC 3161 time-stamping authority (an http:// URL) for a
    /// signature timestamp inside each .p7s (CAdES-B-T). When a wipe cannot get one, its
    /// certificate stays signed without it and a warning says how to add it later
    #[arg(long, value_name = "URL", requires = "x509_key")]
    pub tsa_url: Option<String>,
    /// With --x509-key: certificates and CRLs (PEM or DER files, or a directory of *.pem *.crt
    /// *.cer *.der *.crl; repeatable) embedded in each .p7s, so that it can be checked years
    /// later without a network; CRLs must be signed by a CA of the signer's chain or of the data
    #[arg(long, value_name = "FILE|DIR", requires = "x509_key")]
    pub validation_data: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Check certificates: signatures (minisign; X.509 with --ca), signer, format, status (and
    /// timestamp)
    Verify(CertVerifyArgs),
    /// Print a certificate for people: text, HTML or a printable A4 PDF
    Render(CertRenderArgs),
    /// One table for a batch of certificates: CSV, JSON or a printable A4 PDF
    Summary(CertSummaryArgs),
    /// Write an RFC 3161 timestamp request (.tsq) over a certificate and its signature
    TimestampRequest(TimestampRequestArgs),
    /// Store a TSA's response (.tsr) beside the certificate after checking that it covers it
    TimestampAttach(TimestampAttachArgs),
    /// Sign an existing certificate with an X.509 certificate: a detached CAdES signature
    /// <id>.json.p7s that `openssl cms -verify` accepts
    #[command(name = "sign-x509")]
    SignX509(SignX509Args),
}

#[derive(Debug, Args)]
pub struct SignX509Args {
    /// Certificate file (<id>.json); the signature is written beside it as <id>.json.p7s
    pub file: PathBuf,
    /// PKCS#12 (.p12/.pfx) or PEM file with the signing key, its certificate and the chain; the
    /// passphrase is asked for (or read from $MASSHO_PASSPHRASE_FILE)
    #[arg(long, value_name = "FILE")]
    pub x509_key: PathBuf,
    #[command(flatten)]
    pub x509: X509SigningArgs,
}

#[derive(Debug, Args)]
pub struct TimestampRequestArgs {
    /// Certificate file (<id>.json; its .minisig must be beside it, or its .p7s with --x509)
    pub file: PathBuf,
    /// Where to write the request [default: FILE.tsq, or FILE.p7s.tsq with --x509]
    #[arg(long, short, value_name = "OUT.tsq")]
    pub output: Option<PathBuf>,
    /// Request a signature timestamp for the X.509 signature <id>.json.p7s (CAdES-B-T)
    /// instead of a timestamp over the certificate and its .minisig
    #[arg(long)]
    pub x509: bool,
}

#[derive(Debug, Args)]
pub struct TimestampAttachArgs {
    /// Certificate file (<id>.json)
    pub file: PathBuf,
    /// The TSA's response to the request
    #[arg(value_name = "RESPONSE.tsr")]
    pub response: PathBuf,
    /// Put the response into the X.509 signature <id>.json.p7s as its signature timestamp
    /// (the request must have been made with `timestamp-request --x509`)
    #[arg(long)]
    pub x509: bool,
}

#[derive(Debug, Args)]
pub struct CertVerifyArgs {
    /// Certificate files (<id>.json) or directories holding them; signed PDFs (FILE.pdf, with
    /// --ca)
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// The TSA's certificate (PEM or DER): every certificate must then carry a timestamp token
    /// (<id>.json.tsr) signed by it; without it a token's time is shown as unverified
    #[arg(long, value_name = "TSA.pem")]
    pub tsa_cert: Option<PathBuf>,
    /// Trusted CA certificates (a PEM/DER file, or a directory of *.pem *.crt *.cer *.der;
    /// repeatable): every certificate must then carry an X.509 signature (<id>.json.p7s) whose
    /// signer chains to one of them, valid now, allowed to sign documents
    #[arg(long, value_name = "FILE|DIR")]
    pub ca: Vec<PathBuf>,
    /// With --ca: certificates and CRLs (PEM or DER files, or a directory of *.pem *.crt *.cer
    /// *.der *.crl; repeatable) to build paths and check revocation with, besides those the
    /// .p7s carries
    #[arg(long, value_name = "FILE|DIR", requires = "ca")]
    pub validation_data: Vec<PathBuf>,
    /// With --ca: a CRL (PEM or DER; repeatable) to check revocation with
    #[arg(long, value_name = "FILE", requires = "ca")]
    pub crl: Vec<PathBuf>,
    /// One JSON object per certificate instead of a line
    #[arg(long)]
    pub json: bool,
}

/// Whose certificate signatures are trusted.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// A trusted signer's public key (repeatable)
    #[arg(long, value_name = "KEY.pub")]
    pub pubkey: Vec<PathBuf>,
    /// A directory of trusted signers' public keys (*.pub); two different keys with one key id
    /// are refused
    #[arg(long, value_name = "DIR")]
    pub trusted: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    /// Plain text with Japanese and English labels
    Text,
    /// A self-contained A4 HTML page
    Html,
    /// A4 PDF with a witness signature line and a QR code of the id and SHA-256
    Pdf,
}

const PDF_HELP: &str = "\
PDF embeds a subset of a Japanese font: --font FILE, else $MASSHO_FONT, else IPAex Gothic
(apt-get install fonts-ipaexfont-gothic), else Noto Sans CJK (fonts-noto-cjk), looked for in
their Debian directories or in the :-separated directories of $MASSHO_FONT_DIRS. A PDF is
binary: it is written with -o FILE or to a redirected standard output, never to a terminal.

Exit codes:
  0  written
  2  usage error: no certificate found, a file that is not a certificate, PDF to a terminal;
     a signing key, passphrase, TSA URL or validation data that cannot be used (--x509-key)
  5  no usable font, cannot read or write a file, no answer from the TSA (--tsa-url)";

/// The font of PDF output.
#[derive(Debug, Args)]
pub struct FontArgs {
    /// Japanese TrueType/OpenType font to embed in PDF output [default: IPAex Gothic, else Noto
    /// Sans CJK]
    #[arg(long, value_name = "FILE", env = "MASSHO_FONT", hide_env_values = true)]
    pub font: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = PDF_HELP)]
pub struct CertRenderArgs {
    /// Certificate file (<id>.json)
    pub file: PathBuf,
    /// The TSA's certificate (PEM or DER): print the time of the timestamp token
    /// (<id>.json.tsr) once it is verified; without it the page says "unverified timestamp"
    #[arg(long, value_name = "TSA.pem")]
    pub tsa_cert: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: RenderFormat,
    /// Write to FILE (atomically) instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub font: FontArgs,
    /// Sign the PDF (PAdES baseline B-B; --format pdf only) with the organisation's X.509
    /// certificate, its signer and reason shown on the page. FILE is PKCS#12 (.p12/.pfx) or PEM
    /// holding the key, its certificate and the chain; its passphrase is asked for (or read from
    /// $MASSHO_PASSPHRASE_FILE)
    #[arg(long, value_name = "FILE")]
    pub x509_key: Option<PathBuf>,
    /// With --x509-key: timestamp the signature at this RFC 3161 TSA (http://...; PAdES B-T),
    /// the token inside the PDF's signature
    #[arg(long, value_name = "URL", requires = "x509_key")]
    pub tsa_url: Option<String>,
    /// With --x509-key: certificates and CRLs collected for long-term validation (a file, or a
    /// directory of *.pem *.crt *.cer *.der *.crl; repeatable), embedded with the signer's
    /// chain in the PDF's DSS (PAdES B-LT); no network is used
    #[arg(long, value_name = "FILE|DIR", requires = "x509_key")]
    pub validation_data: Vec<PathBuf>,
    /// With --tsa-url: finish with a document timestamp over the whole PDF, DSS included
    /// (PAdES B-LTA)
    #[arg(long, requires = "tsa_url")]
    pub doc_timestamp: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    /// One line per certificate, with a header line; Excel reads it
    Csv,
    /// An array of objects with the same fields as the CSV columns
    Json,
    /// A4 landscape table with counts, as many pages as needed
    Pdf,
}

#[derive(Debug, Args)]
#[command(after_help = PDF_HELP)]
pub struct CertSummaryArgs {
    /// Certificate files or directories holding them
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    // Only a certificate whose signature checks out against these counts as passed; without
    // keys every row is "not checked".
    #[command(flatten)]
    pub trust: TrustArgs,
    /// The TSA's certificate (PEM or DER): show timestamp tokens' times once verified; without
    /// it a token is shown as "unverified timestamp"
    #[arg(long, value_name = "TSA.pem")]
    pub tsa_cert: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: SummaryFormat,
    /// Write to FILE (atomically) instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub font: FontArgs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectArg {
    Byte(u8),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("expected").required(true).args(["expect", "result"])))]
pub struct VerifyArgs {
    /// Device (disk, partition, loop device) or image file to read; never written
    pub device: PathBuf,
    /// Expected content: zero, one (0xFF) or byte:0xNN
    #[arg(long, value_parser = parse_expect, value_name = "zero|one|byte:0xNN")]
    pub expect: Option<ExpectArg>,
    /// Expect what this wipe result file says the last pass left (random or multi-byte
    /// patterns included); refused unless it is this device's result (same size and serial)
    #[arg(long, value_name = "FILE")]
    pub result: Option<PathBuf>,
    /// NIST SP 800-88 sampled read instead of reading everything
    #[arg(long)]
    pub sample: bool,
    /// Print the outcome as one JSON object
    #[arg(long)]
    pub json: bool,
}

fn parse_expect(s: &str) -> Result<ExpectArg, String> {
    match s {
        "zero" => Ok(ExpectArg::Byte(0)),
        "one" => Ok(ExpectArg::Byte(0xff)),
        _ => {
            let hex = s
                .strip_prefix("byte:")
                .ok_or_else(|| format!("expected zero, one or byte:0xNN, got {s:?}"))?;
            let digits = hex
                .strip_prefix("0x")
                .or_else(|| hex.strip_prefix("0X"))
                .unwrap_or(hex);
            u8::from_str_radix(digits, 16)
                .map(ExpectArg::Byte)
                .map_err(|_| format!("{hex:?} is not a byte; write it as byte:0x00 .. byte:0xff"))
        }
    }
}

#[derive(Debug, Args)]
pub struct MethodsArgs {
    /// Print the methods as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the scratch directory instead of deleting it
    #[arg(long)]
    pub keep: bool,
}

const KEY_HELP: &str = "\
Keys are minisign keys: auditors verify certificates with `minisign -V -p NAME.pub` too.
Default directory: $XDG_CONFIG_HOME/massho/keys, else ~/.config/massho/keys.
Passphrases are asked on the terminal; for automation, MASSHO_PASSPHRASE_FILE names a file
whose first line is the passphrase.

Exit codes:
  0  done
  2  usage error: bad key name, passphrases differ or empty, no terminal, no such key
  3  refused: NAME.pub or NAME.key already exists; nothing was written
  5  cannot read or write a key file, wrong passphrase, damaged key";

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub command: KeyCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key pair: NAME.pub for auditors, NAME.key (mode 0600) for signing
    #[command(after_help = KEY_HELP)]
    Generate(KeyGenerateArgs),
    /// Print a public key, its key id and fingerprint
    #[command(after_help = KEY_HELP)]
    Show(KeyShowArgs),
}

#[derive(Debug, Args)]
pub struct KeyGenerateArgs {
    /// Directory for the key pair [default: the default key directory]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// File name of the pair, without extension
    #[arg(long, default_value = "massho")]
    pub name: String,
    /// Store the secret key unencrypted: only for an unattended, locked-down station
    #[arg(long)]
    pub no_passphrase: bool,
}

#[derive(Debug, Args)]
pub struct KeyShowArgs {
    /// A .pub file, or a .key file (shows the .pub beside it, else derives the public key)
    /// [default: massho.pub in the default key directory]
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expect_values() {
        assert_eq!(parse_expect("zero"), Ok(ExpectArg::Byte(0)));
        assert_eq!(parse_expect("one"), Ok(ExpectArg::Byte(0xff)));
        assert_eq!(parse_expect("byte:0xAA"), Ok(ExpectArg::Byte(0xaa)));
        assert_eq!(parse_expect("byte:5a"), Ok(ExpectArg::Byte(0x5a)));
        assert!(parse_expect("byte:0x100").is_err());
        assert!(parse_expect("two").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
