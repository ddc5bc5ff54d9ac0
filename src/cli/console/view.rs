//! Drawing the console: one function per screen, from the [`Model`] and the dashboard's
//! [`BoardState`]. Nothing needs colour to be understood: the cursor is a `>` (and reverse
//! video), a selected drive `[x]`, a refused one `--` with the reason in words, progress a bar of
//! `#`. Everything fits 80×24; larger terminals get wider columns and more rows.

use indicatif::HumanBytes;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row as TableRow, Table, Wrap};
use ratatui::Frame;

use super::board::{BoardState, Row};
use super::model::{field, FieldKind, Model, Pending, Screen, VERIFY_CHOICES};
use crate::cli::render::hms;
use crate::device::drive::HiddenState;
use crate::device::{self, DeviceInfo};
use crate::text::{path_safe, terminal_safe};

/// The smallest terminal the console is laid out for.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn draw(f: &mut Frame, m: &Model, board: &BoardState) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "massho console needs at least {MIN_WIDTH}x{MIN_HEIGHT}; this terminal is {}x{}. Enlarge it (the wipes, if any, go on).",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    match m.screen {
        Screen::List => list(f, m, area),
        Screen::Details => details(f, m, area),
        Screen::Confirm => confirm(f, m, area),
        Screen::Running => running(f, m, board, area),
        Screen::End => end(f, m, area),
    }
}

fn bold(s: impl Into<String>) -> Line<'static> {
    Line::styled(s.into(), Style::default().add_modifier(Modifier::BOLD))
}

/// Title, body, message and two lines of keys.
fn frame_areas(area: Rect) -> [Rect; 4] {
    let [title, body, message, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(2),
    ])
    .areas(area);
    [title, body, message, keys]
}

fn chrome(f: &mut Frame, m: &Model, title: String, keys: &str, areas: &[Rect; 4]) {
    f.render_widget(Paragraph::new(bold(title)), areas[0]);
    if let Some(msg) = &m.message {
        f.render_widget(
            Paragraph::new(Line::styled(
                format!("! {}", terminal_safe(msg)),
                Style::default().add_modifier(Modifier::BOLD),
            )),
            areas[2],
        );
    }
    f.render_widget(
        Paragraph::new(keys.to_owned()).wrap(Wrap { trim: true }),
        areas[3],
    );
}

/// The first row to show so that `cursor` is visible among `visible` rows.
fn window(cursor: usize, visible: usize) -> usize {
    if visible == 0 {
        0
    } else {
        cursor.saturating_sub(visible - 1)
    }
}

fn cursor_style(on: bool) -> Style {
    if on {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default()
    }
}

pub fn transport(d: &DeviceInfo) -> &'static str {
    crate::cli::devices::transport_name(d.transport)
}

fn list(f: &mut Frame, m: &Model, area: Rect) {
    let areas = frame_areas(area);
    let selected = m.selected().count();
    chrome(
        f,
        m,
        format!(
            "massho console - drives: {}  selected: {selected}  verify: {}  rounds: {}",
            m.drives.len(),
            VERIFY_CHOICES.get(m.verify).map_or("?", |v| v.1),
            m.rounds
        ),
        "Up/Down move  Space select  m/M method  v verify  +/- rounds  Enter next  q quit\n[x] selected  [ ] may be wiped  -- refused (reason below)  r rescan",
        &areas,
    );
    let body = areas[1];
    // The table takes what its rows need, leaving the drive's details at least 9 lines.
    let table_height = (m.drives.len() as u16 + 1).clamp(2, body.height.saturating_sub(9).max(2));
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Length(table_height), Constraint::Min(1)]).areas(body);
    if m.drives.is_empty() {
        f.render_widget(
            Paragraph::new("No disks or attached loop devices found. Attach one and press r."),
            table_area,
        );
        return;
    }
    let visible = table_area.height.saturating_sub(1) as usize;
    let first = window(m.cursor, visible);
    let rows: Vec<TableRow> = m
        .drives
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .map(|(i, d)| {
            let at = i == m.cursor;
            let mark = if !d.info.wipeable() {
                "--"
            } else if d.selected {
                "[x]"
            } else {
                "[ ]"
            };
            let wipe = if d.info.wipeable() {
                "yes".to_owned()
            } else {
                let words: Vec<&str> = d
                    .info
                    .refusals
                    .iter()
                    .map(super::model::refusal_word)
                    .collect();
                format!("NO: {}", words.join(","))
            };
            TableRow::new(vec![
                if at { ">" } else { " " }.to_owned(),
                mark.to_owned(),
                path_safe(&d.info.path),
                device::human_size(d.info.size_bytes),
                transport(&d.info).to_owned(),
                terminal_safe(d.info.model.as_deref().unwrap_or("-")).into_owned(),
                terminal_safe(d.info.serial.as_deref().unwrap_or("-")).into_owned(),
                d.method_name().to_owned(),
                wipe,
            ])
            .style(cursor_style(at))
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(3),
            Constraint::Length(12),
            Constraint::Length(8),
            Constraint::Length(4),
            Constraint::Length(12),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Min(10),
        ],
    )
    .header(
        TableRow::new(vec![
            "", "SEL", "PATH", "SIZE", "TRAN", "MODEL", "SERIAL", "METHOD", "WIPE?",
        ])
        .style(Style::default().add_modifier(Modifier::BOLD)),
    );
    f.render_widget(table, table_area);
    if let Some(d) = m.drives.get(m.cursor) {
        let block = Block::default()
            .borders(Borders::TOP)
            .title(format!(" {} ", path_safe(&d.info.path)));
        f.render_widget(
            Paragraph::new(drive_lines(d))
                .block(block)
                .wrap(Wrap { trim: true }),
            detail_area,
        );
    }
}

/// What the details pane says about the drive under the cursor.
fn drive_lines(d: &super::model::Drive) -> Vec<Line<'static>> {
    let i = &d.info;
    let mut lines = Vec::new();
    let who: Vec<&str> = [i.vendor.as_deref(), i.model.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    lines.push(Line::from(format!(
        "{}, serial {}, {} ({} bytes), {}{}",
        if who.is_empty() {
            "no model".to_owned()
        } else {
            terminal_safe(&who.join(" ")).into_owned()
        },
        terminal_safe(i.serial.as_deref().unwrap_or("none")),
        device::human_size(i.size_bytes),
        i.size_bytes,
        transport(i),
        match i.media_class {
            device::MediaClass::Magnetic => ", magnetic",
            device::MediaClass::Flash => ", flash",
            device::MediaClass::Virtual => ", virtual",
        }
    )));
    if i.wipeable() {
        lines.push(Line::from("May be wiped: yes"));
    } else {
        let why: Vec<String> = i.refusals.iter().map(ToString::to_string).collect();
        lines.push(bold(format!(
            "REFUSED (cannot be selected): {}",
            terminal_safe(&why.join("; "))
        )));
    }
    lines.push(Line::from(format!("Health: {}", health(i))));
    lines.push(Line::from(format!("Hidden areas: {}", hidden(i))));
    if d.hides_sectors() {
        lines.push(bold(if d.hidden_ignore {
            "Decided (h): wipe only what the host sees; the hidden sectors are recorded as NOT sanitized"
        } else {
            "Decide: restore the hidden sectors first, or h to wipe only what the host sees"
        }));
    }
    if d.allow_bridge {
        lines.push(bold(
            "Decided (b): firmware purge may run through the USB bridge",
        ));
    } else if d.info.transport == device::Transport::Usb {
        lines.push(Line::from(
            "Behind a USB bridge: b lets firmware purge run through it (where the drive offers one)",
        ));
    }
    lines.push(Line::from(format!("Purge techniques: {}", techniques(i))));
    lines.push(Line::from(format!(
        "purge would use: {}",
        terminal_safe(&super::model::purge_choice(i))
    )));
    if let Some(o) = d.offer() {
        lines.push(Line::from(format!(
            "Method: {} - NIST {} ({} offered here: m/M)",
            o.name,
            o.category,
            d.offers.len()
        )));
    }
    let holds = if let Some(why) = &i.signatures_unknown {
        format!("unknown ({})", terminal_safe(why))
    } else if i.signatures.is_empty() {
        "no partition table or filesystem found".to_owned()
    } else {
        let s: Vec<&str> = i.signatures.iter().map(|s| s.type_name.as_str()).collect();
        terminal_safe(&s.join(", ")).into_owned()
    };
    lines.push(Line::from(format!("Holds: {holds}")));
    lines
}

fn health(i: &DeviceInfo) -> String {
    let Some(h) = &i.health else {
        return match &i.firmware_unknown {
            Some(why) => format!("unknown ({})", terminal_safe(why)),
            None => "not reported".to_owned(),
        };
    };
    let bits = h.phrases();
    if bits.is_empty() {
        "reported, nothing notable".to_owned()
    } else {
        bits.join(", ")
    }
}

fn hidden(i: &DeviceInfo) -> String {
    match &i.hidden {
        Some(h) => match (h.state, h.hidden_sectors()) {
            (HiddenState::Hidden, Some(n)) => {
                format!("HIDDEN: {n} sectors (HPA/DCO); the wipe is refused until restored")
            }
            (HiddenState::Hidden, None) => "HIDDEN sectors (HPA/DCO)".to_owned(),
            (HiddenState::Unknown, _) => "unknown".to_owned(),
            (HiddenState::None, _) => "none".to_owned(),
        },
        None if i.firmware_unknown.is_some() => "unknown".to_owned(),
        None => "none reported".to_owned(),
    }
}

fn techniques(i: &DeviceInfo) -> String {
    match &i.sanitize {
        Some(s) if s.techniques.is_empty() => "none reported".to_owned(),
        Some(s) => {
            let names: Vec<&str> = s.techniques.iter().map(|t| t.name()).collect();
            names.join(" ")
        }
        None if i.firmware_unknown.is_some() => "unknown".to_owned(),
        None => "none (no firmware to ask)".to_owned(),
    }
}

fn details(f: &mut Frame, m: &Model, area: Rect) {
    let areas = frame_areas(area);
    let n = m.selected().count();
    chrome(
        f,
        m,
        format!(
            "Wipe details - {n} drive(s), verify: {}",
            VERIFY_CHOICES.get(m.verify).map_or("?", |v| v.1)
        ),
        "Up/Down/Tab move  type to edit  Enter next field  Left/Right/Space change a choice\nEsc back to the list  Ctrl-C quit  (leave Certificate dir empty for no certificate)",
        &areas,
    );
    let mut lines: Vec<Line> = Vec::new();
    for d in m.selected() {
        lines.push(Line::from(format!(
            "  {}  {}  {}  NIST {}",
            path_safe(&d.info.path),
            device::human_size(d.info.size_bytes),
            d.method_name(),
            d.offer().map_or("?", |o| o.category.as_str())
        )));
    }
    lines.push(Line::from(""));
    let mut focus_line = 0;
    for (i, fld) in m.fields.iter().enumerate() {
        let at = m.focus == i;
        if at {
            focus_line = lines.len();
        }
        let value = match fld.kind {
            FieldKind::Secret => "*".repeat(fld.value.chars().count()),
            FieldKind::Choice(_) => format!("< {} >", fld.value),
            FieldKind::Text => terminal_safe(&fld.value).into_owned(),
        };
        let hint = match i {
            field::OPERATOR => "  (needed for certificates)",
            field::KEY => "  (empty: the default key)",
            field::LESSOR | field::CONTRACT => "  (lease-return only)",
            _ => "",
        };
        lines.push(
            Line::from(format!(
                "{} {:<16}: {value}{}{}",
                if at { ">" } else { " " },
                fld.label,
                if at { "_" } else { "" },
                if value.is_empty() && !at { hint } else { "" }
            ))
            .style(cursor_style(at)),
        );
    }
    for (j, d) in m.selected().enumerate() {
        let at = m.focus == m.fields.len() + j;
        if at {
            focus_line = lines.len();
        }
        lines.push(
            Line::from(format!(
                "{} Asset tag {}: {}{}",
                if at { ">" } else { " " },
                path_safe(&d.info.path),
                terminal_safe(&d.asset),
                if at { "_" } else { "" }
            ))
            .style(cursor_style(at)),
        );
    }
    let at = m.continue_focused();
    if at {
        focus_line = lines.len();
    }
    lines.push(Line::from(""));
    lines.push(
        Line::from(format!(
            "{} [ Continue: check, open the drives and ask for confirmation ]",
            if at { ">" } else { " " }
        ))
        .style(cursor_style(at)),
    );
    let visible = areas[1].height as usize;
    let offset = window(focus_line + 1, visible) as u16;
    f.render_widget(Paragraph::new(lines).scroll((offset, 0)), areas[1]);
}

fn confirm(f: &mut Frame, m: &Model, area: Rect) {
    let areas = frame_areas(area);
    chrome(
        f,
        m,
        "ALL DATA ON THESE DRIVES WILL BE DESTROYED".to_owned(),
        "Type exactly what is asked, then Enter.  Esc cancels: the drives are released and\nnothing is written.",
        &areas,
    );
    let [list_area, prompt_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(3)]).areas(areas[1]);
    let mut lines = Vec::new();
    for d in &m.confirm {
        for (k, l) in d.lines.iter().enumerate() {
            lines.push(if k == 0 {
                bold(terminal_safe(l).into_owned())
            } else {
                Line::from(format!("    {}", terminal_safe(l)))
            });
        }
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), list_area);
    let tokens: Vec<String> = m.confirm.iter().map(|d| d.token.clone()).collect();
    let expected = super::model::expected_confirmation(&tokens);
    let ask = if let [one] = m.confirm.as_slice() {
        if one.by_serial {
            format!(
                "Type its serial number ({}) to confirm:",
                terminal_safe(&expected)
            )
        } else {
            format!(
                "It has no serial number: type its kernel name ({}) to confirm:",
                terminal_safe(&expected)
            )
        }
    } else {
        format!("Type \"{expected}\" to confirm:")
    };
    f.render_widget(
        Paragraph::new(vec![
            Line::from(""),
            bold(ask),
            Line::from(format!("> {}_", terminal_safe(&m.typed))),
        ]),
        prompt_area,
    );
}

fn bar(percent: f64, width: usize) -> String {
    let filled = ((percent / 100.0) * width as f64)
        .round()
        .clamp(0.0, width as f64) as usize;
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

pub fn status_word(r: &Row) -> String {
    match r.status {
        // The certificate id is what the technician writes on the drive's label.
        Some(s) => match &r.certificate {
            Some(id) => format!("{} cert {id}", s.name().to_uppercase()),
            None => s.name().to_uppercase(),
        },
        None if r.stopping => "STOPPING".to_owned(),
        None => "running".to_owned(),
    }
}

fn running(f: &mut Frame, m: &Model, board: &BoardState, area: Rect) {
    let areas = frame_areas(area);
    let ended = board.rows.iter().filter(|r| r.status.is_some()).count();
    let eta = board.overall_eta().map_or_else(|| "?".to_owned(), hms);
    chrome(
        f,
        m,
        format!(
            "{} {} drive(s): {} running, {ended} ended   overall ETA {eta}",
            m.heading.as_deref().unwrap_or("Wiping"),
            board.rows.len(),
            board.rows.len() - ended
        ),
        "Up/Down choose a drive  s stop that drive only  Ctrl-C stop all\nq stop all and quit (every drive is recorded as it ends)",
        &areas,
    );
    if let Some(p) = m.pending {
        let q = match p {
            Pending::StopOne(i) => format!(
                "? Stop {} only? The others go on. y = stop, any other key = no",
                board.rows.get(i).map_or("?", |r| r.device.as_str())
            ),
            Pending::StopAllAndQuit => {
                "? Stop every wipe and quit? Each is recorded as aborted. y = yes, other key = no"
                    .to_owned()
            }
        };
        f.render_widget(
            Paragraph::new(bold(terminal_safe(&q).into_owned())),
            areas[2],
        );
    }
    let rows_height = (board.rows.len() as u16 + 1).min(areas[1].height.saturating_sub(4));
    let [table_area, log_area] =
        Layout::vertical([Constraint::Length(rows_height), Constraint::Min(3)]).areas(areas[1]);
    let visible = table_area.height.saturating_sub(1) as usize;
    let first = window(m.row, visible);
    let rows: Vec<TableRow> = board
        .rows
        .iter()
        .enumerate()
        .skip(first)
        .take(visible)
        .map(|(i, r)| {
            let at = i == m.row;
            TableRow::new(vec![
                if at { ">" } else { " " }.to_owned(),
                terminal_safe(r.device.rsplit('/').next().unwrap_or(&r.device)).into_owned(),
                r.step.clone(),
                format!("{} {:>3.0}%", bar(r.percent(), 10), r.percent()),
                if r.rate > 0.0 {
                    format!("{}/s", HumanBytes(r.rate as u64))
                } else {
                    "-".to_owned()
                },
                r.eta.map_or_else(|| "?".to_owned(), hms),
                r.errors.to_string(),
                status_word(r),
            ])
            .style(cursor_style(at))
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(17),
            Constraint::Length(12),
            Constraint::Length(7),
            Constraint::Length(4),
            Constraint::Min(8),
        ],
    )
    .header(
        TableRow::new(vec![
            "", "DRIVE", "STEP", "PROGRESS", "RATE", "ETA", "ERR", "STATUS",
        ])
        .style(Style::default().add_modifier(Modifier::BOLD)),
    );
    f.render_widget(table, table_area);
    let shown = log_area.height.saturating_sub(1) as usize;
    let log: Vec<Line> = board
        .log
        .iter()
        .skip(board.log.len().saturating_sub(shown))
        .map(|l| Line::from(l.clone()))
        .collect();
    f.render_widget(
        Paragraph::new(log).block(Block::default().borders(Borders::TOP).title(" log ")),
        log_area,
    );
}

fn end(f: &mut Frame, m: &Model, area: Rect) {
    let areas = frame_areas(area);
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in &m.end {
        match counts.iter_mut().find(|(s, _)| *s == r.status) {
            Some(c) => c.1 += 1,
            None => counts.push((r.status.clone(), 1)),
        }
    }
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    chrome(
        f,
        m,
        format!("Batch ended: {}", summary.join(", ")),
        "Up/Down scroll  Enter next batch (the drive list is read again)  q quit\nEvery record was written as its drive ended; quitting loses nothing.",
        &areas,
    );
    let mut lines = Vec::new();
    for r in &m.end {
        lines.push(bold(format!("{}  {}", terminal_safe(&r.device), r.status)));
        for l in &r.lines {
            lines.push(Line::from(format!("  {}", terminal_safe(l))));
        }
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((m.end_scroll.min(u16::MAX as usize) as u16, 0)),
        areas[1],
    );
}

#[cfg(test)]
mod tests {
    use super::super::model::{ConfirmDrive, EndRow, Key};
    use super::*;
    use crate::device::{sample, DeviceKind, MediaClass, Refusal, Transport};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn screen(m: &Model, board: &BoardState, w: u16, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| draw(f, m, board)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol().to_owned())
                    .collect::<String>()
            })
            .collect()
    }

    fn drives() -> Vec<DeviceInfo> {
        let mut list = Vec::new();
        for n in 0..3 {
            let mut d = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
            d.path = format!("/dev/sd{}", ['a', 'b', 'c'][n]).into();
            d.serial = Some(format!("WD-{n}"));
            list.push(d);
        }
        list[2].refusals.push(Refusal::Mounted {
            device: "/dev/sdc1".into(),
            mountpoint: "/mnt".into(),
        });
        list
    }

    fn contains(lines: &[String], text: &str) -> bool {
        lines.iter().any(|l| l.contains(text))
    }

    #[test]
    fn the_list_fits_80x24_with_sizes_refusals_and_keys() {
        let mut m = Model::new(drives());
        m.key(Key::Char(' '));
        m.key(Key::Down);
        m.key(Key::Down);
        let s = screen(&m, &BoardState::default(), 80, 24);
        let text = s.join("\n");
        assert!(contains(&s, "[x] /dev/sda"), "{text}");
        assert!(contains(&s, "1.1 GB"), "{text}");
        assert!(contains(&s, "NO: mounted"), "{text}");
        // The cursor is on the refused drive: the details say why in full.
        assert!(
            contains(
                &s,
                "REFUSED (cannot be selected): /dev/sdc1 is mounted at /mnt"
            ),
            "{text}"
        );
        assert!(contains(&s, "purge would use: refused"), "{text}");
        assert!(s[22].contains("Enter next  q quit"), "{text}");
        assert!(s[23].contains("[x] selected"), "{text}");
        assert!(contains(&s, "Holds: no partition table"), "{text}");
    }

    #[test]
    fn a_terminal_smaller_than_80x24_is_told_so() {
        let m = Model::new(drives());
        let s = screen(&m, &BoardState::default(), 60, 20);
        assert!(contains(&s, "needs at least 80x24"), "{}", s.join("\n"));
    }

    #[test]
    fn the_details_form_keeps_the_focused_line_visible() {
        let mut list = Vec::new();
        for n in 0..8 {
            let mut d = sample(DeviceKind::Disk, Transport::Sata, MediaClass::Magnetic);
            d.path = format!("/dev/sd{}", (b'a' + n) as char).into();
            list.push(d);
        }
        let mut m = Model::new(list);
        for _ in 0..8 {
            m.key(Key::Char(' '));
            m.key(Key::Down);
        }
        m.key(Key::Enter);
        for _ in 0..30 {
            m.key(Key::Tab);
        }
        let s = screen(&m, &BoardState::default(), 80, 24);
        assert!(contains(&s, "> [ Continue"), "{}", s.join("\n"));
    }

    #[test]
    fn confirmation_dashboard_and_end_fit_80x24() {
        let mut m = Model::new(drives());
        m.screen = Screen::Confirm;
        m.confirm = vec![ConfirmDrive {
            lines: vec!["/dev/sda: Stick, serial WD-0, 1.1 GB".into()],
            token: "WD-0".into(),
            by_serial: true,
        }];
        m.typed = "WD".into();
        let s = screen(&m, &BoardState::default(), 80, 24);
        assert!(contains(&s, "Type its serial number (WD-0) to confirm:"));
        assert!(contains(&s, "> WD_"));

        m.screen = Screen::Running;
        m.rows = 2;
        m.pending = Some(Pending::StopOne(1));
        let mut board = BoardState {
            rows: vec![
                Row {
                    device: "/dev/sda".into(),
                    step: "1/1 write".into(),
                    done: 50,
                    total: 100,
                    rate: 123.0 * 1048576.0,
                    eta: Some(75.0),
                    ..Row::default()
                },
                Row {
                    device: "/dev/sdb".into(),
                    status: Some(crate::engine::Status::Aborted),
                    errors: 3,
                    ..Row::default()
                },
            ],
            log: Vec::new(),
        };
        for i in 0..40 {
            board.say(format!("line {i}"));
        }
        let s = screen(&m, &board, 80, 24);
        let text = s.join("\n");
        assert!(contains(&s, "[#####.....]  50%"), "{text}");
        assert!(contains(&s, "123.00 MiB/s"), "{text}");
        assert!(contains(&s, "0:01:15"), "{text}");
        assert!(contains(&s, "ABORTED"), "{text}");
        assert!(contains(&s, "Stop /dev/sdb only?"), "{text}");
        assert!(contains(&s, "line 39"), "{text}");

        m.screen = Screen::End;
        m.end = vec![EndRow {
            device: "/dev/sda".into(),
            status: "PASSED".into(),
            lines: vec!["certificate 1234".into(), "next: label it".into()],
        }];
        let s = screen(&m, &board, 80, 24);
        assert!(contains(&s, "Batch ended: 1 PASSED"), "{}", s.join("\n"));
        assert!(contains(&s, "certificate 1234"));
        // A stack of drives does not fit one screen: it scrolls.
        m.end = (0..8)
            .map(|i| EndRow {
                device: format!("/dev/sd{i}"),
                status: "PASSED".into(),
                lines: vec!["certificate x".into(), "next: label it".into()],
            })
            .collect();
        assert!(!contains(&screen(&m, &board, 80, 24), "/dev/sd7"));
        for _ in 0..12 {
            m.key(Key::Down);
        }
        let s = screen(&m, &board, 80, 24);
        assert!(
            contains(&s, "/dev/sd7") && !contains(&s, "/dev/sd0"),
            "{}",
            s.join("\n")
        );
    }
}
