//! What the console shows and what each key does to it, without a terminal: the screens
//! (drive list → wipe details → confirmation → dashboard → end), the operator's choices, and
//! the [`Action`]s that need the outside world (inspecting, opening, wiping). Everything here
//! is plain data, so the state machine is unit-tested key by key.

use std::path::PathBuf;

use crate::device::{DeviceInfo, MediaClass, Refusal, Transport};
use crate::method::{self, Method, PassTemplate, Requested, VerifyMode};

/// A key, as the console understands it (crossterm's events are mapped in `mod.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    Left,
    Right,
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Char(char),
    CtrlC,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Every drive, its identity and whether it may be wiped; selection and methods.
    List,
    /// Certificate and ledger details, asset tags.
    Details,
    /// What will be destroyed; the serial number or phrase to type.
    Confirm,
    /// One row per drive while the wipes run.
    Running,
    /// How each drive ended, its certificate, what to do next.
    End,
}

/// What a key asks of the front end, beyond changing the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    /// Discover the drives again.
    Rescan,
    /// Check every record can be kept, open and bind the selected drives, then confirm.
    Prepare,
    /// The operator typed this on the confirmation screen.
    Confirm(String),
    /// Leave the confirmation: release the opened drives; nothing is written.
    Cancel,
    /// Stop the wipe of the drive in this dashboard row; the others go on.
    StopDrive(usize),
    /// Stop every wipe (Ctrl-C): they are recorded as aborted. A second one stops waiting
    /// for the writes in flight.
    StopAll,
    /// Stop every wipe and quit once they are recorded.
    StopAllAndQuit,
    /// From the end screen: back to the drive list for the next batch.
    NewBatch,
}

/// A method the console offers for one drive, with the NIST SP 800-88 category it achieves
/// there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The method's name (a custom method's own, from its file).
    pub name: String,
    /// What [`method::resolve`] is given: the built-in name, or the custom method's file.
    pub source: String,
    /// `Clear`, `Purge (technique)`.
    pub category: String,
    /// Why `purge` would pick its technique (firmware methods).
    pub reason: Option<String>,
}

/// A method file from the methods directory (`--methods-dir`), loaded and checked at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomMethod {
    pub file: PathBuf,
    pub method: Method,
}

/// The methods offered for `d`: every built-in overwrite (NIST Clear), the custom methods, and
/// the firmware methods only where the drive reports a technique they can use now (NIST
/// Purge), each with the technique [`crate::purge::choose`] picks for it. `allow_bridge` lets
/// a firmware method run through a USB bridge (the operator's decision for this drive).
pub fn offers(d: &DeviceInfo, custom: &[CustomMethod], allow_bridge: bool) -> Vec<Offer> {
    let builtin = method::BUILTIN
        .iter()
        .filter_map(|(name, ..)| method::builtin(name).map(|m| (m, (*name).to_owned())));
    let custom = custom
        .iter()
        .map(|c| (c.method.clone(), c.file.display().to_string()));
    builtin
        .chain(custom)
        .filter_map(|(m, source)| offer(d, &m, source, allow_bridge))
        .collect()
}

fn offer(d: &DeviceInfo, m: &Method, source: String, allow_bridge: bool) -> Option<Offer> {
    let firmware: Vec<Requested> = m
        .passes
        .iter()
        .filter_map(|p| match p.template {
            PassTemplate::Firmware(r) => Some(r),
            _ => None,
        })
        .collect();
    let Some(first) = firmware.first() else {
        let category = if d.media_class == MediaClass::Flash {
            "Clear only (flash)"
        } else {
            "Clear"
        };
        return Some(Offer {
            name: m.name.clone(),
            source,
            category: category.into(),
            reason: None,
        });
    };
    let (t, why) = crate::purge::choose(d, *first, allow_bridge).ok()?;
    Some(Offer {
        name: m.name.clone(),
        source,
        category: format!("Purge ({})", t.name()),
        reason: Some(why),
    })
}

/// What `-m purge` would do on this drive: the technique and why, or why not.
pub fn purge_choice(d: &DeviceInfo) -> String {
    match crate::purge::choose(d, Requested::Purge, false) {
        Ok((t, _)) => format!("{} (NIST Purge)", t.name()),
        Err(e) => format!("refused: {}", e.why),
    }
}

/// A drive in the list with the operator's choices for it.
#[derive(Debug, Clone)]
pub struct Drive {
    pub info: DeviceInfo,
    pub selected: bool,
    pub offers: Vec<Offer>,
    /// Index into `offers`.
    pub method: usize,
    /// Typed, or read by a barcode scanner (a keyboard that types a line and Enter).
    pub asset: String,
    /// The operator chose to wipe what the host sees of a drive that hides sectors (`h`,
    /// `--hidden ignore`); the result records them as not sanitized.
    pub hidden_ignore: bool,
    /// The operator let firmware purge run through this drive's USB bridge (`b`,
    /// `--allow-bridge`).
    pub allow_bridge: bool,
}

impl Drive {
    pub fn new(info: DeviceInfo, custom: &[CustomMethod]) -> Drive {
        let offers = offers(&info, custom, false);
        let method = offers
            .iter()
            .position(|o| o.name == "nist-clear")
            .unwrap_or(0);
        Drive {
            info,
            selected: false,
            offers,
            method,
            asset: String::new(),
            hidden_ignore: false,
            allow_bridge: false,
        }
    }

    pub fn offer(&self) -> Option<&Offer> {
        self.offers.get(self.method)
    }

    pub fn method_name(&self) -> &str {
        self.offer().map_or("nist-clear", |o| o.name.as_str())
    }

    /// What the pipeline resolves: a built-in name or a custom method's file.
    pub fn method_source(&self) -> &str {
        self.offer().map_or("nist-clear", |o| o.source.as_str())
    }

    /// The drive hides sectors (HPA, DCO, AMA): the operator must decide (`h`).
    pub fn hides_sectors(&self) -> bool {
        self.info.has_hidden_sectors()
    }

    /// The drive sits behind a USB bridge and a firmware method would be offered through it.
    pub fn bridge_matters(&self, custom: &[CustomMethod]) -> bool {
        self.info.transport == Transport::Usb
            && offers(&self.info, custom, true).len() > offers(&self.info, custom, false).len()
    }

    /// Offers again (after `allow_bridge` changed), keeping the chosen method if still offered.
    fn reoffer(&mut self, custom: &[CustomMethod]) {
        let chosen = self.method_source().to_owned();
        self.offers = offers(&self.info, custom, self.allow_bridge);
        self.method = self
            .offers
            .iter()
            .position(|o| o.source == chosen)
            .or_else(|| self.offers.iter().position(|o| o.name == "nist-clear"))
            .unwrap_or(0);
    }
}

/// The most rounds (the method's passes, repeated) the console offers.
pub const MAX_ROUNDS: u32 = 9;

/// A short word for a refusal, for the list's last column (the details say it in full).
pub fn refusal_word(r: &Refusal) -> &'static str {
    match r {
        Refusal::Mounted { .. } => "mounted",
        Refusal::Swap { .. } => "swap",
        Refusal::Held { .. } => "held",
        Refusal::RootFilesystem { .. } => "root fs",
        Refusal::BootMedium { .. } => "boot medium",
        Refusal::ReadOnly { .. } => "read-only",
        Refusal::BacksLoop { .. } => "backs a loop",
    }
}

/// Verification choices, in the order `v` cycles through them.
pub const VERIFY_CHOICES: [(Option<VerifyMode>, &str); 5] = [
    (None, "method's own"),
    (Some(VerifyMode::Last), "last pass, in full"),
    (Some(VerifyMode::All), "every pass, in full"),
    (Some(VerifyMode::Sample), "NIST sample"),
    (Some(VerifyMode::None), "none (unverified)"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// Typed but shown as `*`.
    Secret,
    /// One of these, changed with Left/Right or Space.
    Choice(&'static [&'static str]),
}

#[derive(Debug, Clone)]
pub struct Field {
    pub label: &'static str,
    pub value: String,
    pub kind: FieldKind,
}

pub const PURPOSES: &[&str] = &["disposal", "reuse", "lease-return"];

/// Indexes of the details form's fields.
pub mod field {
    pub const OPERATOR: usize = 0;
    pub const ORG: usize = 1;
    pub const KEY: usize = 2;
    pub const PASSPHRASE: usize = 3;
    pub const CERT_DIR: usize = 4;
    pub const RESULT_DIR: usize = 5;
    pub const LEDGER: usize = 6;
    pub const PURPOSE: usize = 7;
    pub const LESSOR: usize = 8;
    pub const CONTRACT: usize = 9;
}

pub fn form_fields() -> Vec<Field> {
    let text = |label| Field {
        label,
        value: String::new(),
        kind: FieldKind::Text,
    };
    vec![
        text("Operator"),
        text("Organisation"),
        text("Signing key"),
        Field {
            label: "Key passphrase",
            value: String::new(),
            kind: FieldKind::Secret,
        },
        text("Certificate dir"),
        text("Result dir"),
        text("Ledger"),
        Field {
            label: "Purpose",
            value: PURPOSES[0].into(),
            kind: FieldKind::Choice(PURPOSES),
        },
        text("Lessor"),
        text("Contract no."),
    ]
}

/// A drive as the confirmation screen lists it (from the opened device, not the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmDrive {
    pub lines: Vec<String>,
    /// What the operator types for this drive alone: its serial, else its kernel name.
    pub token: String,
    /// The token is the serial number (not the kernel name of a drive without one).
    pub by_serial: bool,
}

/// How a drive ended, for the end screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndRow {
    pub device: String,
    /// `PASSED`, `FAILED`, `ABORTED`, `UNVERIFIED`, `NOT STARTED`.
    pub status: String,
    pub lines: Vec<String>,
}

/// What the operator must type to confirm: the drive's serial (or kernel name) for one drive,
/// a phrase naming how many for several.
pub fn expected_confirmation(tokens: &[String]) -> String {
    match tokens {
        [one] => one.clone(),
        many => format!("destroy {} drives", many.len()),
    }
}

/// A y/n question on the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    StopOne(usize),
    StopAllAndQuit,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub screen: Screen,
    pub drives: Vec<Drive>,
    pub cursor: usize,
    /// Index into [`VERIFY_CHOICES`].
    pub verify: usize,
    pub fields: Vec<Field>,
    /// Focus on the details screen: a field, then each selected drive's asset tag, then the
    /// "continue" line.
    pub focus: usize,
    pub confirm: Vec<ConfirmDrive>,
    pub typed: String,
    /// Dashboard: the drive row the cursor is on, and how many rows there are.
    pub row: usize,
    pub rows: usize,
    pub pending: Option<Pending>,
    pub end: Vec<EndRow>,
    /// First line shown on the end screen (Up/Down scroll it).
    pub end_scroll: usize,
    /// One line for the operator: what went wrong, or what to do.
    pub message: Option<String>,
    /// The dashboard's title when it is not a batch's (the station's, which keeps watching).
    pub heading: Option<String>,
    /// How many times the methods' passes are run (`+`/`-`), for every drive of the batch.
    pub rounds: u32,
    /// The methods directory's methods, offered for every drive.
    pub custom: Vec<CustomMethod>,
}

impl Model {
    pub fn new(drives: Vec<DeviceInfo>) -> Model {
        Model::with_methods(drives, Vec::new())
    }

    /// The drive list, offering `custom` methods besides the built-in ones.
    pub fn with_methods(drives: Vec<DeviceInfo>, custom: Vec<CustomMethod>) -> Model {
        Model {
            screen: Screen::List,
            drives: drives.into_iter().map(|d| Drive::new(d, &custom)).collect(),
            cursor: 0,
            verify: 0,
            fields: form_fields(),
            focus: 0,
            confirm: Vec::new(),
            typed: String::new(),
            row: 0,
            rows: 0,
            pending: None,
            end: Vec::new(),
            end_scroll: 0,
            message: None,
            heading: None,
            rounds: 1,
            custom,
        }
    }

    /// The drives again (a rescan), keeping the choices made for drives still there.
    pub fn replace_drives(&mut self, drives: Vec<DeviceInfo>) {
        let old = std::mem::take(&mut self.drives);
        self.drives = drives
            .into_iter()
            .map(|info| {
                let mut d = Drive::new(info, &self.custom);
                if let Some(o) = old.iter().find(|o| o.info.path == d.info.path) {
                    d.selected = o.selected && d.info.wipeable();
                    d.asset = o.asset.clone();
                    d.hidden_ignore = o.hidden_ignore && d.hides_sectors();
                    d.allow_bridge = o.allow_bridge;
                    if d.allow_bridge {
                        d.reoffer(&self.custom);
                    }
                    if let Some(i) = d.offers.iter().position(|x| x.source == o.method_source()) {
                        d.method = i;
                    }
                }
                d
            })
            .collect();
        self.cursor = self.cursor.min(self.drives.len().saturating_sub(1));
    }

    pub fn verify_mode(&self) -> Option<VerifyMode> {
        VERIFY_CHOICES.get(self.verify).and_then(|v| v.0)
    }

    pub fn selected(&self) -> impl Iterator<Item = &Drive> {
        self.drives.iter().filter(|d| d.selected)
    }

    pub fn field(&self, i: usize) -> &str {
        self.fields.get(i).map_or("", |f| f.value.trim())
    }

    /// The number of focusable lines on the details screen (fields, asset tags, continue).
    fn focusable(&self) -> usize {
        self.fields.len() + self.selected().count() + 1
    }

    pub fn continue_focused(&self) -> bool {
        self.focus + 1 == self.focusable()
    }

    pub fn key(&mut self, key: Key) -> Action {
        self.message = None;
        match self.screen {
            Screen::List => self.list_key(key),
            Screen::Details => self.details_key(key),
            Screen::Confirm => self.confirm_key(key),
            Screen::Running => self.running_key(key),
            Screen::End => match key {
                Key::Enter => {
                    self.screen = Screen::List;
                    self.end.clear();
                    for d in &mut self.drives {
                        d.selected = false;
                        d.asset.clear();
                    }
                    Action::NewBatch
                }
                Key::Up | Key::Char('k') => {
                    self.end_scroll = self.end_scroll.saturating_sub(1);
                    Action::None
                }
                Key::Down | Key::Char('j') => {
                    let lines: usize = self.end.iter().map(|r| r.lines.len() + 1).sum();
                    if self.end_scroll + 1 < lines {
                        self.end_scroll += 1;
                    }
                    Action::None
                }
                Key::Char('q') | Key::Esc | Key::CtrlC => Action::Quit,
                _ => Action::None,
            },
        }
    }

    fn list_key(&mut self, key: Key) -> Action {
        let n = self.drives.len();
        match key {
            Key::Up | Key::Char('k') => self.cursor = self.cursor.saturating_sub(1),
            Key::Down | Key::Char('j') if self.cursor + 1 < n => self.cursor += 1,
            Key::Char(' ') => {
                if let Some(d) = self.drives.get_mut(self.cursor) {
                    if d.info.wipeable() {
                        d.selected = !d.selected;
                        if d.selected && d.hides_sectors() && !d.hidden_ignore {
                            self.message = Some(format!(
                                "{} hides sectors (HPA/DCO): restore them before the wipe, or press h to wipe only what the host sees (recorded as not sanitized)",
                                crate::text::path_safe(&d.info.path)
                            ));
                        }
                    } else {
                        let why: Vec<String> =
                            d.info.refusals.iter().map(ToString::to_string).collect();
                        self.message = Some(format!(
                            "{} cannot be selected: {}",
                            crate::text::path_safe(&d.info.path),
                            crate::text::terminal_safe(&why.join("; "))
                        ));
                    }
                }
            }
            Key::Char('m') | Key::Right => self.cycle_method(1),
            Key::Char('M') | Key::Left => self.cycle_method(-1),
            Key::Char('v') => self.verify = (self.verify + 1) % VERIFY_CHOICES.len(),
            Key::Char('+') if self.rounds < MAX_ROUNDS => self.rounds += 1,
            Key::Char('-') if self.rounds > 1 => self.rounds -= 1,
            Key::Char('h') => self.toggle_hidden(),
            Key::Char('b') => self.toggle_bridge(),
            Key::Char('r') => return Action::Rescan,
            Key::Enter | Key::Tab => {
                if self.selected().next().is_none() {
                    self.message =
                        Some("select at least one drive with Space, then press Enter".into());
                } else {
                    self.screen = Screen::Details;
                    self.focus = 0;
                }
            }
            Key::Char('q') | Key::Esc | Key::CtrlC => return Action::Quit,
            _ => {}
        }
        Action::None
    }

    /// `h`: for a drive that hides sectors, wipe only what the host sees, or refuse again.
    fn toggle_hidden(&mut self) {
        let Some(d) = self.drives.get_mut(self.cursor) else {
            return;
        };
        let path = crate::text::path_safe(&d.info.path);
        if !d.hides_sectors() {
            self.message = Some(format!("{path} hides no sectors: nothing to decide"));
            return;
        }
        d.hidden_ignore = !d.hidden_ignore;
        self.message = Some(if d.hidden_ignore {
            format!("{path}: only what the host sees will be wiped; the certificate records the hidden sectors as NOT sanitized (h again: refuse)")
        } else {
            format!("{path}: the wipe will be refused until the hidden sectors are restored")
        });
    }

    /// `b`: for a drive behind a USB bridge, let firmware purge run through it, or not.
    fn toggle_bridge(&mut self) {
        let Some(d) = self.drives.get_mut(self.cursor) else {
            return;
        };
        let path = crate::text::path_safe(&d.info.path);
        if !d.allow_bridge && !d.bridge_matters(&self.custom) {
            self.message = Some(format!(
                "{path}: no firmware method depends on a USB bridge here: nothing to decide"
            ));
            return;
        }
        d.allow_bridge = !d.allow_bridge;
        d.reoffer(&self.custom);
        self.message = Some(if d.allow_bridge {
            format!("{path}: firmware purge may run through its USB bridge (bridges time out long commands and can leave the drive locked; `massho unlock` then helps); b again: not")
        } else {
            format!("{path}: no firmware purge through its USB bridge")
        });
    }

    fn cycle_method(&mut self, step: isize) {
        if let Some(d) = self.drives.get_mut(self.cursor) {
            let n = d.offers.len() as isize;
            if n > 0 {
                d.method = ((d.method as isize + step).rem_euclid(n)) as usize;
            }
        }
    }

    /// The text being edited at the focus: a form field or a selected drive's asset tag.
    fn focused_text(&mut self) -> Option<(&mut String, FieldKind)> {
        let nf = self.fields.len();
        if self.focus < nf {
            let f = &mut self.fields[self.focus];
            return Some((&mut f.value, f.kind));
        }
        let i = self.focus - nf;
        self.drives
            .iter_mut()
            .filter(|d| d.selected)
            .nth(i)
            .map(|d| (&mut d.asset, FieldKind::Text))
    }

    fn details_key(&mut self, key: Key) -> Action {
        let last = self.focusable() - 1;
        match key {
            Key::Up | Key::BackTab => self.focus = self.focus.saturating_sub(1),
            Key::Down | Key::Tab => self.focus = (self.focus + 1).min(last),
            Key::Enter if self.focus == last => return Action::Prepare,
            // A barcode scanner ends its line with Enter: on to the next field.
            Key::Enter => self.focus += 1,
            Key::Esc => self.screen = Screen::List,
            Key::CtrlC => return Action::Quit,
            Key::Left | Key::Right | Key::Char(' ') | Key::Char(_) | Key::Backspace => {
                if let Some((value, kind)) = self.focused_text() {
                    match (kind, key) {
                        (FieldKind::Choice(choices), Key::Left | Key::Right | Key::Char(' ')) => {
                            let at = choices.iter().position(|c| c == value).unwrap_or(0);
                            let n = choices.len();
                            let next = if key == Key::Left {
                                (at + n - 1) % n
                            } else {
                                (at + 1) % n
                            };
                            *value = choices[next].to_owned();
                        }
                        (FieldKind::Choice(_), _) => {}
                        (_, Key::Backspace) => {
                            value.pop();
                        }
                        (_, Key::Char(c)) if !c.is_control() => value.push(c),
                        _ => {}
                    }
                }
            }
        }
        Action::None
    }

    fn confirm_key(&mut self, key: Key) -> Action {
        match key {
            Key::Char(c) if !c.is_control() => self.typed.push(c),
            Key::Backspace => {
                self.typed.pop();
            }
            Key::Enter => return Action::Confirm(std::mem::take(&mut self.typed)),
            Key::Esc | Key::CtrlC => {
                self.typed.clear();
                self.screen = Screen::List;
                self.message = Some("cancelled; nothing was written".into());
                return Action::Cancel;
            }
            _ => {}
        }
        Action::None
    }

    fn running_key(&mut self, key: Key) -> Action {
        if key == Key::CtrlC {
            self.pending = None;
            return Action::StopAll;
        }
        if let Some(p) = self.pending.take() {
            return match (p, key) {
                (Pending::StopOne(i), Key::Char('y' | 'Y')) => Action::StopDrive(i),
                (Pending::StopAllAndQuit, Key::Char('y' | 'Y')) => Action::StopAllAndQuit,
                _ => {
                    self.message = Some("not stopped".into());
                    Action::None
                }
            };
        }
        match key {
            Key::Up | Key::Char('k') => self.row = self.row.saturating_sub(1),
            Key::Down | Key::Char('j') if self.row + 1 < self.rows => self.row += 1,
            Key::Char('s') if self.row < self.rows => {
                self.pending = Some(Pending::StopOne(self.row))
            }
            Key::Char('q') => self.pending = Some(Pending::StopAllAndQuit),
            _ => {}
        }
        Action::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{sample, DeviceKind, Transport};

    fn drives() -> Vec<DeviceInfo> {
        let ok = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        let mut mounted = sample(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        mounted.path = "/dev/sdy".into();
        mounted.refusals.push(Refusal::Mounted {
            device: "/dev/sdy1".into(),
            mountpoint: "/mnt/data".into(),
        });
        vec![ok, mounted]
    }

    fn keys(m: &mut Model, keys: &[Key]) -> Vec<Action> {
        keys.iter().map(|k| m.key(*k)).collect()
    }

    fn typed(m: &mut Model, text: &str) {
        for c in text.chars() {
            m.key(Key::Char(c));
        }
    }

    #[test]
    fn a_refused_drive_cannot_be_selected_and_says_why() {
        let mut m = Model::new(drives());
        keys(&mut m, &[Key::Down, Key::Char(' ')]);
        assert!(!m.drives[1].selected);
        let msg = m.message.clone().unwrap();
        assert!(msg.contains("/dev/sdy1 is mounted at /mnt/data"), "{msg}");
        // Without a selection there is nothing to go on to.
        assert_eq!(m.key(Key::Enter), Action::None);
        assert_eq!(m.screen, Screen::List);
    }

    #[test]
    fn the_screens_go_list_details_confirm_and_back_on_cancel() {
        let mut m = Model::new(drives());
        keys(&mut m, &[Key::Char(' '), Key::Enter]);
        assert_eq!(m.screen, Screen::Details);
        typed(&mut m, "Yamada");
        assert_eq!(m.field(field::OPERATOR), "Yamada");
        // A barcode scanner types the tag and Enter: it lands in the asset field and moves on.
        for _ in 0..m.fields.len() {
            m.key(Key::Enter);
        }
        typed(&mut m, "PC-0042");
        assert_eq!(m.drives[0].asset, "PC-0042");
        assert_eq!(m.key(Key::Enter), Action::None);
        assert!(m.continue_focused());
        assert_eq!(m.key(Key::Enter), Action::Prepare);
        // The front end opens the drives and shows the confirmation.
        m.screen = Screen::Confirm;
        typed(&mut m, "S12");
        assert_eq!(m.key(Key::Backspace), Action::None);
        assert_eq!(m.key(Key::Esc), Action::Cancel);
        assert_eq!(m.screen, Screen::List);
        assert!(m.typed.is_empty());
    }

    #[test]
    fn typing_q_in_a_field_types_it() {
        let mut m = Model::new(drives());
        keys(&mut m, &[Key::Char(' '), Key::Enter]);
        assert_eq!(m.key(Key::Char('q')), Action::None);
        assert_eq!(m.field(field::OPERATOR), "q");
        // The purpose is a choice, not text.
        m.focus = field::PURPOSE;
        keys(&mut m, &[Key::Char('x'), Key::Right]);
        assert_eq!(m.field(field::PURPOSE), "reuse");
        keys(&mut m, &[Key::Left, Key::Left]);
        assert_eq!(m.field(field::PURPOSE), "lease-return");
    }

    #[test]
    fn the_confirmation_is_the_serial_for_one_drive_and_a_phrase_for_several() {
        assert_eq!(expected_confirmation(&["S123".into()]), "S123");
        assert_eq!(
            expected_confirmation(&["A".into(), "B".into()]),
            "destroy 2 drives"
        );
        let mut m = Model::new(drives());
        m.screen = Screen::Confirm;
        typed(&mut m, "S123");
        assert_eq!(m.key(Key::Enter), Action::Confirm("S123".into()));
    }

    #[test]
    fn stopping_one_drive_asks_first_and_ctrl_c_stops_all_at_once() {
        let mut m = Model::new(drives());
        m.screen = Screen::Running;
        m.rows = 2;
        keys(&mut m, &[Key::Down, Key::Char('s')]);
        assert_eq!(m.pending, Some(Pending::StopOne(1)));
        assert_eq!(m.key(Key::Char('n')), Action::None);
        assert_eq!(m.pending, None);
        keys(&mut m, &[Key::Char('s')]);
        assert_eq!(m.key(Key::Char('y')), Action::StopDrive(1));
        assert_eq!(m.key(Key::CtrlC), Action::StopAll);
        keys(&mut m, &[Key::Char('q')]);
        assert_eq!(m.key(Key::Char('y')), Action::StopAllAndQuit);
    }

    #[test]
    fn purge_methods_are_offered_only_where_the_drive_can_purge() {
        use crate::device::drive::{PurgeTechnique, SanitizeSupport};
        let hdd = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        let offered = offers(&hdd, &[], false);
        let names: Vec<&str> = offered.iter().map(|o| o.name.as_str()).collect();
        assert!(names.contains(&"nist-clear") && !names.contains(&"purge"));
        assert!(purge_choice(&hdd).starts_with("refused"));
        let mut nvme = sample(DeviceKind::Disk, Transport::Nvme, MediaClass::Flash);
        nvme.sanitize = Some(SanitizeSupport {
            techniques: vec![PurgeTechnique::NvmeSanitizeCrypto],
            ..Default::default()
        });
        let o = offers(&nvme, &[], false);
        let purge = o.iter().find(|o| o.name == "purge").unwrap();
        assert_eq!(purge.category, "Purge (nvme-sanitize-crypto)");
        assert!(o.iter().any(|o| o.name == "nvme-sanitize-crypto"));
        assert!(!o.iter().any(|o| o.name == "ata-sanitize-crypto"));
        let clear = o.iter().find(|o| o.name == "nist-clear").unwrap();
        assert_eq!(clear.category, "Clear only (flash)");
        // The method key cycles through exactly these.
        let mut m = Model::new(vec![nvme]);
        let first = m.drives[0].method_name().to_owned();
        for _ in 0..o.len() {
            m.key(Key::Char('m'));
        }
        assert_eq!(m.drives[0].method_name(), first);
    }

    #[test]
    fn a_rescan_keeps_the_choices_for_drives_still_there() {
        let mut m = Model::new(drives());
        keys(&mut m, &[Key::Char(' '), Key::Char('m')]);
        let method = m.drives[0].method_name().to_owned();
        m.replace_drives(drives());
        assert!(m.drives[0].selected);
        assert_eq!(m.drives[0].method_name(), method);
        m.replace_drives(Vec::new());
        assert_eq!(m.cursor, 0);
    }

    #[test]
    fn rounds_are_chosen_with_plus_and_minus_within_bounds() {
        let mut m = Model::new(drives());
        assert_eq!(m.rounds, 1);
        keys(&mut m, &[Key::Char('-')]);
        assert_eq!(m.rounds, 1, "at least one round");
        keys(&mut m, &[Key::Char('+'), Key::Char('+')]);
        assert_eq!(m.rounds, 3);
        for _ in 0..20 {
            m.key(Key::Char('+'));
        }
        assert_eq!(m.rounds, MAX_ROUNDS);
    }

    #[test]
    fn hidden_sectors_are_asked_and_decided_per_drive() {
        use crate::device::drive::{HiddenArea, HiddenState};
        let mut hpa = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        hpa.hidden = Some(HiddenArea {
            state: HiddenState::Hidden,
            accessible_sectors: 1000,
            native_sectors: Some(1200),
            native_from: None,
            dco_sectors: None,
            notes: Vec::new(),
        });
        let plain = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
        let mut m = Model::new(vec![hpa, plain]);
        // Selecting it asks.
        m.key(Key::Char(' '));
        assert!(m.drives[0].selected);
        assert!(
            m.message.as_deref().is_some_and(|t| t.contains("press h")),
            "{:?}",
            m.message
        );
        m.key(Key::Char('h'));
        assert!(m.drives[0].hidden_ignore);
        assert!(m
            .message
            .as_deref()
            .is_some_and(|t| t.contains("NOT sanitized")));
        m.key(Key::Char('h'));
        assert!(!m.drives[0].hidden_ignore, "h again: refuse");
        m.key(Key::Char('h'));
        // Only that drive; a drive that hides nothing has nothing to decide.
        m.key(Key::Down);
        m.key(Key::Char('h'));
        assert!(!m.drives[1].hidden_ignore);
        assert!(m
            .message
            .as_deref()
            .is_some_and(|t| t.contains("nothing to decide")));
        // A rescan keeps the decision.
        let again: Vec<DeviceInfo> = m.drives.iter().map(|d| d.info.clone()).collect();
        m.replace_drives(again);
        assert!(m.drives[0].hidden_ignore && !m.drives[1].hidden_ignore);
    }

    #[test]
    fn the_usb_bridge_decision_changes_the_purge_offers_of_that_drive() {
        use crate::device::drive::{PurgeTechnique, SanitizeSupport};
        let mut usb = sample(DeviceKind::Disk, Transport::Usb, MediaClass::Flash);
        usb.sanitize = Some(SanitizeSupport {
            techniques: vec![PurgeTechnique::AtaSecurityErase { minutes: None }],
            ..Default::default()
        });
        let without = offers(&usb, &[], false);
        let with = offers(&usb, &[], true);
        assert!(!without.iter().any(|o| o.name == "purge"), "{without:?}");
        assert!(with.iter().any(|o| o.name == "purge"), "{with:?}");
        let mut m = Model::new(vec![usb]);
        assert_eq!(m.drives[0].offers.len(), without.len());
        m.key(Key::Char('b'));
        assert!(m.drives[0].allow_bridge);
        assert_eq!(m.drives[0].offers.len(), with.len());
        m.key(Key::Char('b'));
        assert!(!m.drives[0].allow_bridge);
        assert_eq!(m.drives[0].offers.len(), without.len());
    }

    #[test]
    fn custom_methods_are_offered_for_every_drive_by_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("site.toml");
        std::fs::write(
            &file,
            "name = \"site-two-pass\"\ndescription = \"ours\"\n[[pass]]\nbyte = 0x55\n[[pass]]\nbyte = 0x00\n",
        )
        .unwrap();
        let method = crate::method::load_file(&file).unwrap();
        let custom = vec![CustomMethod {
            file: file.clone(),
            method,
        }];
        let mut m = Model::with_methods(drives(), custom);
        let offer = m.drives[0]
            .offers
            .iter()
            .find(|o| o.name == "site-two-pass")
            .expect("the custom method is offered");
        assert_eq!(offer.source, file.display().to_string());
        assert_eq!(offer.category, "Clear");
        while m.drives[0].method_name() != "site-two-pass" {
            m.key(Key::Char('m'));
        }
        assert_eq!(m.drives[0].method_source(), file.display().to_string());
    }
}
