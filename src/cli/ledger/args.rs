//! Arguments of `massho ledger`, `massho media`, `massho cabinet` and `massho report`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::ledger::evidence::EvidenceKind;
use crate::ledger::MediumKind;

pub const LEDGER_EXIT_CODES: &str = "\
Exit codes:
  0  done (verify: the chain, the derived state and every seal check out)
  1  verify or check found a problem: a tampered or incomplete ledger, a bad seal,
     missing or unexpected media in a cabinet
  2  usage error: bad arguments, a malformed CSV row, an unknown date format,
     a ledger file that does not exist
  3  refused by the ledger's rules (unknown medium, duplicate asset tag, a check-in
     without a check-out, disposal without a passing wipe...); nothing was written
  5  environment error: the ledger cannot be opened or written

The ledger is --ledger PATH, else $MASSHO_LEDGER, else /var/lib/massho/ledger.sqlite
for root and ~/.local/share/massho/ledger.sqlite for other users.";

/// Which ledger.
#[derive(Debug, Clone, Args)]
pub struct LedgerPath {
    /// The ledger database [default: $MASSHO_LEDGER, else /var/lib/massho/ledger.sqlite
    /// (root) or ~/.local/share/massho/ledger.sqlite]
    #[arg(long, value_name = "PATH", global = true)]
    pub ledger: Option<PathBuf>,
}

/// Who records an event, when it happened, and a free note.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Record")]
pub struct Recorder {
    /// Who records this [default: $SUDO_USER, else $USER]
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// When it happened, if not now (RFC 3339, or YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// A free remark stored with the event
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

/// How a listing is printed.
#[derive(Debug, Clone, Copy, Args)]
pub struct Output {
    /// JSON (an array, or one object)
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV with a header row
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Create the ledger (a new database with its own id) if it does not exist
    Init(LedgerPath),
    /// Recompute the hash chain, replay the rules, compare the derived state, check the seals
    Verify(LedgerVerifyArgs),
    /// Sign the current head of the chain, and append the seal as an event
    Seal(LedgerSealArgs),
    /// Every event with its chain hashes, for an auditor (CSV or JSON lines)
    Export(LedgerExportArgs),
    /// Register media from a CSV ledger (UTF-8 or Excel's Shift_JIS), all rows or none
    Import(LedgerImportArgs),
    /// The events, oldest first (all, or those of one kind or period)
    Log(LedgerLogArgs),
    /// Show or set the evidence the ledger demands before a destruction, disposal or return
    Policy(LedgerPolicyArgs),
}

#[derive(Debug, Args)]
pub struct LedgerPolicyArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// EVENT=KIND: before EVENT (destroyed, disposed, returned) the medium must have evidence of
    /// KIND (contractor-certificate, destruction-photo, lessor-receipt, other); repeatable.
    /// Replaces the policy in force, as an event in the chain
    #[arg(long, value_name = "EVENT=KIND")]
    pub require: Vec<String>,
    /// EVENT=KIND, demanded only when the event names a contractor (an outsourced destruction
    /// or disposal); repeatable
    #[arg(long, value_name = "EVENT=KIND")]
    pub require_outsourced: Vec<String>,
    /// Drop every requirement (recorded as an event, like any change of policy)
    #[arg(long, conflicts_with_all = ["require", "require_outsourced"])]
    pub clear: bool,
    /// Who sets the policy [default: $SUDO_USER, else $USER]
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// Why the policy changes; stored in the event
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

#[derive(Debug, Args)]
pub struct LedgerVerifyArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// A public key whose seals are trusted (repeatable). With a key, verification also demands
    /// that a seal signed by it covers every event up to the head
    #[arg(long, value_name = "KEY")]
    pub pubkey: Vec<PathBuf>,
    /// A directory of trusted public keys (*.pub); same demand as --pubkey
    #[arg(long, value_name = "DIR")]
    pub trusted: Option<PathBuf>,
    /// Verify an exported ledger file (CSV or JSON lines) instead of a database
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// Also check that a kept seal file (from `ledger seal --out`) matches the ledger, or the
    /// export given with --export: same ledger, at least that many events, the same hash there
    #[arg(long, value_name = "FILE")]
    pub seal: Vec<PathBuf>,
    /// The TSA's certificate (PEM or DER): the archive timestamps' signatures are checked with
    /// it; without it only their imprints are
    #[arg(long, value_name = "TSA.pem")]
    pub tsa_cert: Option<PathBuf>,
    /// One JSON object instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LedgerSealArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// Secret key to sign with [default: massho.key in the key directory]
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Also write the seal to FILE, to keep apart from the ledger
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Who seals [default: $SUDO_USER, else $USER]
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// Also write an RFC 3161 request (.tsq) for an archive timestamp over the evidence and the
    /// chain up to this seal; attach the TSA's reply with `massho evidence timestamp --attach`
    #[arg(long, value_name = "FILE.tsq")]
    pub timestamp_request: Option<PathBuf>,
    /// Also get an archive timestamp over the evidence and the chain up to this seal from the
    /// TSA at --tsa-url, and record it
    #[arg(long, requires = "tsa_url", conflicts_with = "timestamp_request")]
    pub timestamp: bool,
    /// The TSA for --timestamp (http://HOST[:PORT]/PATH)
    #[arg(long, value_name = "URL", requires = "timestamp")]
    pub tsa_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct LedgerExportArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// jsonl: a header line with the event count and head, then one line per event; csv: for
    /// spreadsheets, ending in an `#end` row with the count and head (cells that look like
    /// formulas get one leading ', which verify and import drop again)
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ExportFormat,
    /// Write to FILE instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncodingArg {
    /// UTF-8 with a BOM, or plain ASCII: UTF-8; not UTF-8: Shift_JIS; valid as both: refused,
    /// asking for utf-8 or shift_jis
    Auto,
    #[value(name = "utf-8")]
    Utf8,
    #[value(name = "shift_jis")]
    ShiftJis,
}

#[derive(Debug, Args)]
pub struct LedgerImportArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// The CSV file: a header row, then one medium per row (see docs/ledger.md for columns)
    pub file: PathBuf,
    /// The file's encoding; auto refuses a file that reads as both UTF-8 and Shift_JIS
    #[arg(long, value_enum, default_value = "auto")]
    pub encoding: EncodingArg,
    /// Check every row and report, but record nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct LedgerLogArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// Only events of this kind (registered, stored, checked_out, wiped, ...)
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only events at or after this date/time
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only the last N events
    #[arg(long, value_name = "N")]
    pub last: Option<u64>,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// Enter a medium into the ledger (optionally straight into a cabinet)
    Register(Box<RegisterArgs>),
    /// Put a medium into a cabinet, or move it to another cabinet or slot
    Store(StoreArgs),
    /// Take a medium out of its cabinet (who, why, approved by whom)
    CheckOut(CheckOutArgs),
    /// Bring a checked-out medium back to a cabinet
    CheckIn(CheckInArgs),
    /// Record a handover between people or organisations (授受)
    Handover(HandoverArgs),
    /// Record a backup written to a medium, and how long it must be kept
    Backup(BackupArgs),
    /// Record a wipe from its certificate (massho wipe --ledger does this by itself)
    Wiped(WipedArgs),
    /// Record a physical destruction (shredding, degaussing), usually by a contractor
    Destroy(DestroyArgs),
    /// Record the return of a leased medium to its lessor
    Return(ReturnArgs),
    /// Record the disposal of a medium
    Dispose(DisposeArgs),
    /// Record that a medium is lost, or an incident
    Lost(LostArgs),
    /// Record that a lost medium was found, and where it is now
    Found(FoundArgs),
    /// A medium's current state and full history
    Show(ShowArgs),
    /// Keep a document from outside (a contractor's certificate, a photo of the destruction, a
    /// lessor's receipt) in the evidence store beside the ledger; a signature is checked first
    Evidence(EvidenceArgs),
    /// Media in the ledger, optionally only those with a status or in a cabinet
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// Asset tag (管理番号), unique in the ledger
    pub asset: String,
    /// What kind of medium it is
    #[arg(long, value_enum)]
    pub kind: MediumKind,
    /// Maker (メーカー)
    #[arg(long)]
    pub vendor: Option<String>,
    /// Model (型番)
    #[arg(long)]
    pub model: Option<String>,
    /// Serial number (製造番号); one open record per serial
    #[arg(long)]
    pub serial: Option<String>,
    /// Capacity: bytes, or with a unit (500G, 2T, 32GiB)
    #[arg(long, value_name = "SIZE")]
    pub capacity: Option<String>,
    /// Department that owns it
    #[arg(long)]
    pub department: Option<String>,
    /// It holds personal information (個人情報)
    #[arg(long)]
    pub personal_info: bool,
    /// Leased from this lessor (needs --contract)
    #[arg(long, requires = "contract")]
    pub lessor: Option<String>,
    /// Lease contract number
    #[arg(long, requires = "lessor")]
    pub contract: Option<String>,
    /// When the lease ends and it must go back (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", requires = "lessor")]
    pub return_due: Option<String>,
    /// Store it in this cabinet right away
    #[arg(long)]
    pub cabinet: Option<String>,
    /// Shelf or slot in the cabinet
    #[arg(long, requires = "cabinet")]
    pub slot: Option<String>,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    #[arg(long)]
    pub cabinet: String,
    #[arg(long)]
    pub slot: Option<String>,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct CheckOutArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    /// Who takes it
    #[arg(long, value_name = "NAME")]
    pub by: String,
    #[arg(long)]
    pub purpose: String,
    /// Who approved taking it out
    #[arg(long, value_name = "NAME")]
    pub approver: String,
    /// When it should be back (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub due: Option<String>,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct CheckInArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    /// Who brings it back
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// The cabinet it goes into [default: the one it came from]
    #[arg(long)]
    pub cabinet: Option<String>,
    #[arg(long)]
    pub slot: Option<String>,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct HandoverArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    #[arg(long, value_name = "NAME")]
    pub from: String,
    #[arg(long, value_name = "NAME")]
    pub to: String,
    #[arg(long)]
    pub purpose: String,
    /// How it travelled: in person, registered mail, courier...
    #[arg(long, value_name = "HOW")]
    pub method: String,
    /// Receipt reference (受領書番号)
    #[arg(long, value_name = "REF")]
    pub receipt: Option<String>,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    /// Backup set name
    #[arg(long = "set", value_name = "NAME")]
    pub backup_set: String,
    /// System backed up
    #[arg(long)]
    pub system: String,
    /// Generation (世代)
    #[arg(long)]
    pub generation: String,
    /// Keep until (YYYY-MM-DD); due for disposal after
    #[arg(long, value_name = "DATE")]
    pub retain_until: String,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct WipedArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    /// The signed certificate (<id>.json); its signature is checked
    #[arg(long, value_name = "FILE")]
    pub certificate: PathBuf,
    /// Public key of the certificate's signer [default: this station's massho.pub]
    #[arg(long, value_name = "KEY")]
    pub pubkey: Vec<PathBuf>,
    /// A directory of trusted signers' public keys (*.pub)
    #[arg(long, value_name = "DIR")]
    pub trusted: Option<PathBuf>,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    /// How: shredding, degaussing, crushing, incineration...
    #[arg(long, value_name = "HOW")]
    pub method: String,
    #[arg(long, value_name = "NAME")]
    pub contractor: Option<String>,
    /// The contractor's destruction certificate (any file; its SHA-256 is recorded)
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
    #[arg(long, value_name = "NAME")]
    pub witness: Option<String>,
    #[command(flatten)]
    pub force: Override,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Clone, Args)]
pub struct Override {
    /// Record it although the medium has no passing wipe or destruction, or lacks the evidence
    /// the ledger's policy demands (needs --reason)
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why the rule is overridden; stored in the event
    #[arg(long, value_name = "TEXT", requires = "force")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReturnArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    /// Receipt reference from the lessor
    #[arg(long, value_name = "REF")]
    pub receipt: Option<String>,
    #[command(flatten)]
    pub force: Override,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct DisposeArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    /// How: recycling contractor, municipal disposal...
    #[arg(long, value_name = "HOW")]
    pub method: String,
    #[arg(long, value_name = "NAME")]
    pub contractor: Option<String>,
    #[arg(long, value_name = "REF")]
    pub receipt: Option<String>,
    #[command(flatten)]
    pub force: Override,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct LostArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    /// What happened
    #[arg(long, value_name = "TEXT")]
    pub description: String,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct FoundArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    #[arg(long)]
    pub cabinet: String,
    #[arg(long)]
    pub slot: Option<String>,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    /// One JSON object (state and events)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// Only media with this status (in_use, in_cabinet, checked_out, handed_over, wiped,
    /// destroyed, returned_to_lessor, disposed, lost)
    #[arg(long)]
    pub status: Option<String>,
    /// Only media in this cabinet
    #[arg(long)]
    pub cabinet: Option<String>,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Subcommand)]
pub enum CabinetCommand {
    /// Add a cabinet (a locked place where media are kept)
    Add(CabinetAddArgs),
    /// Every cabinet, with how many media it holds
    List(CabinetListArgs),
    /// What should be in a cabinet, according to the ledger
    Inventory(InventoryArgs),
    /// Reconcile scanned asset tags against the ledger: missing, unexpected, misplaced (棚卸し)
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CabinetAddArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub cabinet: String,
    /// Room or place
    #[arg(long)]
    pub room: String,
    /// The cabinet cannot be locked (recorded; reports flag it)
    #[arg(long)]
    pub not_lockable: bool,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Args)]
pub struct CabinetListArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub cabinet: String,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub cabinet: String,
    /// The asset tags found in the cabinet, one per line (a scanner's output; CSV: first
    /// column)
    #[arg(long, value_name = "FILE")]
    pub found: PathBuf,
    /// Report only; do not record the check in the ledger
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Media out of their cabinet (checked out or handed over), and for how long
    Out(ReportArgs),
    /// Media holding backups past their retention date: due for disposal
    Retention(ReportArgs),
    /// Leased media due back to the lessor (by --as-of, default today; --within DAYS ahead)
    Leases(LeaseReportArgs),
    /// Wipes, destructions, returns and disposals in a period, with certificate references
    Disposals(PeriodArgs),
    /// One medium's full history
    History(HistoryArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// The day the report is for (YYYY-MM-DD) [default: today]
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct LeaseReportArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    /// Also list leases due within this many days after --as-of
    #[arg(long, value_name = "DAYS", default_value = "30")]
    pub within: u32,
}

#[derive(Debug, Args)]
pub struct PeriodArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// First day (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Last day, included (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub to: String,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct EvidenceArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    pub asset: String,
    /// The document (a PDF, a scan, a photo...); stored byte for byte under its SHA-256
    pub file: PathBuf,
    /// What it is
    #[arg(long, value_enum)]
    pub kind: EvidenceKind,
    /// Its detached signature (CMS/CAdES .p7s) [default: FILE.p7s, when it exists]
    #[arg(long, value_name = "FILE.p7s")]
    pub signature: Option<PathBuf>,
    /// Trusted CA certificates (a PEM/DER file, or a directory of *.pem *.crt *.cer *.der;
    /// repeatable): a signed document is recorded only when its signer chains to one of them
    /// now; the anchor is kept in the store as validation data
    #[arg(long, value_name = "FILE|DIR")]
    pub ca: Vec<PathBuf>,
    /// With --ca: certificates and CRLs (PEM or DER files, or a directory of *.pem *.crt *.cer
    /// *.der *.crl; repeatable) to build the signer's path and check revocation with, besides
    /// those the signature carries; kept in the store as the validation data used
    #[arg(long, value_name = "FILE|DIR", requires = "ca")]
    pub validation_data: Vec<PathBuf>,
    /// With --ca: a CRL (PEM or DER; repeatable) to check revocation with; kept in the store
    #[arg(long, value_name = "FILE", requires = "ca")]
    pub crl: Vec<PathBuf>,
    #[command(flatten)]
    pub recorder: Recorder,
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// An RFC 3161 archive timestamp over every evidence file's hash and the chain head:
    /// --request writes the .tsq for the TSA, --attach records its reply, --tsa-url does both
    Timestamp(EvidenceTimestampArgs),
    /// Print the message an archive timestamp covers (for `openssl ts -verify -data`)
    Message(EvidenceMessageArgs),
    /// Every piece of evidence in the ledger, with its store path and signature check
    List(EvidenceListArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("step").required(true).args(["request", "attach", "tsa_url"])))]
pub struct EvidenceTimestampArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// Write the timestamp request (.tsq) for the ledger as it is now; send it to the TSA
    /// (HTTP POST, Content-Type: application/timestamp-query)
    #[arg(long, value_name = "FILE.tsq")]
    pub request: Option<PathBuf>,
    /// Record the TSA's reply (.tsr) to an earlier --request: the token is kept in the evidence
    /// store and an evidence_timestamped event appended
    #[arg(long, value_name = "FILE.tsr")]
    pub attach: Option<PathBuf>,
    /// Ask this TSA (http://HOST[:PORT]/PATH) and record its reply, in one step
    #[arg(long, value_name = "URL")]
    pub tsa_url: Option<String>,
    /// Who records it [default: $SUDO_USER, else $USER]
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
}

#[derive(Debug, Args)]
pub struct EvidenceMessageArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    /// The message for the ledger's first N events, as a timestamp recorded them [default: all]
    #[arg(long, value_name = "N")]
    pub events: Option<u64>,
}

#[derive(Debug, Args)]
pub struct EvidenceListArgs {
    #[command(flatten)]
    pub path: LedgerPath,
    #[command(flatten)]
    pub output: Output,
}
