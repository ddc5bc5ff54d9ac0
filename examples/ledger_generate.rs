//! Generate a realistic ledger for benchmarks: cabinets, media of every kind (some leased, due
//! back around today), and a mix of events over three years up to today — storage, checkouts
//! and returns, handovers, backups with retention dates in the past and the future, wipes with
//! certificate references, destructions, disposals, returns to the lessor, losses, inventories.
//!
//! Every event goes through the public library API (`Ledger::append_all`, in batches), so the
//! rules check each one exactly as they would for `massho media ...`. The events are the same
//! for the same arguments (seeded ChaCha); the ledger id, and so the hashes, are new each time.
//!
//! ```sh
//! cargo run --release --example ledger_generate -- PATH MEDIA EVENTS [--today YYYY-MM-DD]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use massho::ledger::{EventData, Ledger, MediumKind, NewEvent, Ownership, Registration};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use time::{Date, Duration, OffsetDateTime};

const CABINETS: u32 = 50;
const BATCH: usize = 10_000;
const YEARS: i64 = 3;
const SEED: u64 = 0x6d61_7373_686f; // "massho"

const DEPARTMENTS: &[&str] = &[
    "総務課",
    "経理課",
    "人事課",
    "情報システム課",
    "営業一課",
    "営業二課",
    "法務課",
    "研究開発部",
];
const PEOPLE: &[&str] = &[
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
];
const LESSORS: &[&str] = &["東京リース", "Orix Rentec", "みらいリース"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    InUse,
    InCabinet,
    CheckedOut,
    HandedOver,
    Wiped,
    Destroyed,
    Lost,
    Closed,
}

/// What the generator knows of each medium, mirroring the rules so that every event is accepted.
struct Sim {
    status: Status,
    holder: Option<String>,
    leased: bool,
    sanitized: bool,
    cabinet: u32,
}

struct Generator {
    rng: ChaCha8Rng,
    media: Vec<Sim>,
    /// Indexes of media whose record is not closed, and each medium's place in it.
    open: Vec<u32>,
    place: Vec<u32>,
    start: OffsetDateTime,
    today: Date,
    step: Duration,
    produced: u64,
}

fn tag(i: u32) -> String {
    format!("MD-{:06}", i + 1)
}

fn cabinet(c: u32) -> String {
    format!("CAB-{:02}", c + 1)
}

impl Generator {
    fn below(&mut self, n: u64) -> u64 {
        self.rng.next_u64() % n.max(1)
    }

    fn chance(&mut self, percent: f64) -> bool {
        (self.rng.next_u64() % 1_000_000) as f64 / 10_000.0 < percent
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len() as u64) as usize]
    }

    fn hex(&mut self, bytes: usize) -> String {
        let mut b = vec![0u8; bytes];
        self.rng.fill_bytes(&mut b);
        hex::encode(b)
    }

    fn now(&self) -> OffsetDateTime {
        self.start + self.step * (self.produced as f64)
    }

    fn date_from_today(&self, days: i64) -> String {
        (self.today + Duration::days(days)).to_string()
    }

    fn event(&mut self, medium: Option<String>, data: EventData) -> NewEvent {
        let actor = self.pick(PEOPLE).to_owned();
        let time = Some(self.now());
        self.produced += 1;
        NewEvent {
            medium,
            actor,
            time,
            note: None,
            data,
        }
    }

    /// Register a medium, and store it right away (most are) when `room` for a second event.
    fn register(&mut self, out: &mut Vec<NewEvent>, room: bool) {
        let i = self.media.len() as u32;
        let kind = match self.below(100) {
            0..=29 => MediumKind::Hdd,
            30..=49 => MediumKind::Ssd,
            50..=59 => MediumKind::Nvme,
            60..=74 => MediumKind::UsbFlash,
            75..=79 => MediumKind::Sd,
            80..=84 => MediumKind::Optical,
            85..=97 => MediumKind::Tape,
            _ => MediumKind::Other,
        };
        let leased = self.chance(30.0);
        let ownership = if leased {
            let due = self.below(1000) as i64 - 300;
            Ownership::Leased {
                lessor: self.pick(LESSORS).to_owned(),
                contract: format!("L-{:05}", self.below(5000)),
                return_due: Some(self.date_from_today(due)),
            }
        } else {
            Ownership::Owned
        };
        let capacity = [
            32u64 << 30,
            500_000_000_000,
            2_000_000_000_000,
            12_000_000_000_000,
        ][self.below(4) as usize];
        let registration = Registration {
            kind,
            vendor: Some(
                self.pick(&["Seagate", "WD", "Kioxia", "Samsung", "HPE", "IBM"])
                    .into(),
            ),
            model: Some(format!("M{}", self.below(900) + 100)),
            serial: Some(format!("SN{:08X}", i + 1)),
            capacity_bytes: Some(capacity),
            department: Some(self.pick(DEPARTMENTS).to_owned()),
            personal_info: self.chance(40.0),
            ownership,
        };
        let cabinet = self.below(CABINETS as u64) as u32;
        self.place.push(self.open.len() as u32);
        self.open.push(i);
        self.media.push(Sim {
            status: Status::InUse,
            holder: None,
            leased,
            sanitized: false,
            cabinet,
        });
        let event = self.event(Some(tag(i)), EventData::Registered(registration));
        out.push(event);
        if room && self.chance(80.0) {
            let e = self.stored(i, cabinet);
            out.push(e);
        }
    }

    fn stored(&mut self, i: u32, cabinet_no: u32) -> NewEvent {
        let m = &mut self.media[i as usize];
        m.status = Status::InCabinet;
        m.holder = None;
        m.cabinet = cabinet_no;
        let slot = Some(format!("{}段", self.below(6) + 1));
        self.event(
            Some(tag(i)),
            EventData::Stored {
                cabinet: cabinet(cabinet_no),
                slot,
            },
        )
    }

    fn close(&mut self, i: u32) {
        self.media[i as usize].status = Status::Closed;
        let at = self.place[i as usize] as usize;
        self.open.swap_remove(at);
        if let Some(&moved) = self.open.get(at) {
            self.place[moved as usize] = at as u32;
        }
    }

    fn someone_else(&mut self, than: &str) -> String {
        loop {
            let p = self.pick(PEOPLE);
            if p != than {
                return p.to_owned();
            }
        }
    }

    fn wiped(&mut self, i: u32) -> NewEvent {
        let passed = self.chance(95.0);
        let m = &mut self.media[i as usize];
        // As the ledger's rules have it: a wipe leaves a medium in its cabinet or with its
        // holder; only a loose one becomes `wiped` (and `in use` again after a failed wipe).
        m.sanitized = passed;
        if matches!(m.status, Status::InUse | Status::Wiped) {
            m.status = if passed { Status::Wiped } else { Status::InUse };
        }
        let id = self.hex(16);
        let certificate_id = format!(
            "{}-{}-{}-{}-{}",
            &id[..8],
            &id[8..12],
            &id[12..16],
            &id[16..20],
            &id[20..]
        );
        let certificate_sha256 = self.hex(32);
        let method = Some(self.pick(&["nist-clear", "nist-purge", "zero"]).to_owned());
        self.event(
            Some(tag(i)),
            EventData::Wiped {
                certificate_id,
                certificate_sha256,
                status: if passed { "passed" } else { "failed" }.into(),
                method,
                issued_at: None,
                // The certificate names the drive it was issued for.
                serial: Some(format!("SN{:08X}", i + 1)),
                verification: Some("last".into()),
                asset_tag: None,
                device_kind: None,
            },
        )
    }

    fn backup(&mut self, i: u32) -> NewEvent {
        let m = &mut self.media[i as usize];
        m.sanitized = false;
        if m.status == Status::Wiped {
            m.status = Status::InUse;
        }
        // Kept from a month to four years after it was written: past and future retention.
        let keep = Duration::days(30 + self.below(1430) as i64);
        let retention_until = (self.now() + keep).date().to_string();
        let system = self
            .pick(&["会計", "人事給与", "ファイルサーバ", "基幹"])
            .to_owned();
        let generation = format!("{}", self.below(8) + 1);
        self.event(
            Some(tag(i)),
            EventData::BackupWritten {
                backup_set: format!("{system}-weekly"),
                system,
                generation,
                retention_until,
            },
        )
    }

    fn handover(&mut self, i: u32) -> NewEvent {
        let from = match &self.media[i as usize].holder {
            Some(h) => h.clone(),
            None => self.pick(DEPARTMENTS).to_owned(),
        };
        let to = self.someone_else(&from);
        let m = &mut self.media[i as usize];
        m.holder = Some(to.clone());
        if m.status != Status::CheckedOut {
            m.status = Status::HandedOver;
        }
        let method = self.pick(&["手渡し", "書留", "社内便"]).to_owned();
        let receipt = Some(format!("R-{:06}", self.below(1_000_000)));
        self.event(
            Some(tag(i)),
            EventData::HandedOver {
                from,
                to,
                purpose: "業務".into(),
                method,
                receipt,
            },
        )
    }

    /// Leaves the organisation: disposal, or return to the lessor when leased.
    fn leave(&mut self, i: u32) -> NewEvent {
        let leased = self.media[i as usize].leased;
        self.close(i);
        let receipt = Some(format!("R-{:06}", self.below(1_000_000)));
        let data = if leased {
            EventData::Returned {
                lessor: self.pick(LESSORS).to_owned(),
                contract: format!("L-{:05}", self.below(5000)),
                receipt,
                forced: None,
            }
        } else {
            EventData::Disposed {
                method: "産業廃棄物処理".into(),
                contractor: Some("クリーン処理".into()),
                receipt,
                forced: None,
            }
        };
        self.event(Some(tag(i)), data)
    }

    /// One event about an open medium, valid for its status.
    fn act(&mut self, i: u32) -> NewEvent {
        let roll = self.below(1000);
        let status = self.media[i as usize].status;
        match status {
            Status::InUse => match roll {
                0..=599 => {
                    let c = self.media[i as usize].cabinet;
                    self.stored(i, c)
                }
                600..=799 => self.backup(i),
                800..=899 => self.handover(i),
                _ => self.wiped(i),
            },
            Status::InCabinet => match roll {
                0..=99 => {
                    let by = self.pick(PEOPLE).to_owned();
                    let due = self
                        .chance(70.0)
                        .then(|| (self.now() + Duration::days(14)).date().to_string());
                    let approver = format!("{}課長", self.pick(PEOPLE));
                    let purpose = self
                        .pick(&["リストア試験", "監査", "移設", "データ移行"])
                        .to_owned();
                    let m = &mut self.media[i as usize];
                    m.status = Status::CheckedOut;
                    m.holder = Some(by.clone());
                    self.event(
                        Some(tag(i)),
                        EventData::CheckedOut {
                            by,
                            purpose,
                            approver,
                            due,
                        },
                    )
                }
                100..=879 => self.backup(i),
                880..=939 => {
                    let c = self.below(CABINETS as u64) as u32;
                    self.stored(i, c)
                }
                940..=984 if self.media[i as usize].sanitized => self.leave(i),
                940..=984 => self.wiped(i),
                985..=994 => {
                    let m = &mut self.media[i as usize];
                    m.status = Status::Destroyed;
                    m.sanitized = true;
                    let sha = self.hex(32);
                    let method = self.pick(&["破砕", "消磁", "溶解"]).to_owned();
                    let witness = Some(self.pick(PEOPLE).to_owned());
                    self.event(
                        Some(tag(i)),
                        EventData::Destroyed {
                            method,
                            contractor: Some("クリーン処理".into()),
                            certificate_file: Some(format!("destruction-{}.pdf", &sha[..8])),
                            certificate_sha256: Some(sha),
                            witness,
                            forced: None,
                        },
                    )
                }
                _ => {
                    self.media[i as usize].status = Status::Lost;
                    self.event(
                        Some(tag(i)),
                        EventData::Lost {
                            description: "棚卸しで所在不明".into(),
                        },
                    )
                }
            },
            Status::CheckedOut => match roll {
                0..=899 => {
                    let by = self.media[i as usize]
                        .holder
                        .clone()
                        .unwrap_or_else(|| "不明".into());
                    let c = self.media[i as usize].cabinet;
                    let m = &mut self.media[i as usize];
                    m.status = Status::InCabinet;
                    m.holder = None;
                    let slot = Some(format!("{}段", self.below(6) + 1));
                    self.event(
                        Some(tag(i)),
                        EventData::CheckedIn {
                            by,
                            cabinet: cabinet(c),
                            slot,
                        },
                    )
                }
                _ => self.handover(i),
            },
            Status::HandedOver => match roll {
                0..=699 => {
                    let c = self.media[i as usize].cabinet;
                    self.stored(i, c)
                }
                _ => self.handover(i),
            },
            Status::Wiped | Status::Destroyed => match roll {
                0..=399 if self.media[i as usize].sanitized => self.leave(i),
                0..=599 if status == Status::Wiped => {
                    let c = self.media[i as usize].cabinet;
                    self.stored(i, c)
                }
                _ if status == Status::Wiped => self.backup(i),
                _ => self.leave(i),
            },
            Status::Lost => {
                let c = self.media[i as usize].cabinet;
                let m = &mut self.media[i as usize];
                m.status = Status::InCabinet;
                m.holder = None;
                self.event(
                    Some(tag(i)),
                    EventData::Found {
                        cabinet: cabinet(c),
                        slot: None,
                    },
                )
            }
            Status::Closed => unreachable!("closed media are not in the open list"),
        }
    }

    fn inventory(&mut self) -> NewEvent {
        let c = self.below(CABINETS as u64) as u32;
        let n = self
            .media
            .iter()
            .filter(|m| m.status == Status::InCabinet && m.cabinet == c)
            .count() as u64;
        self.event(
            None,
            EventData::InventoryChecked {
                cabinet: cabinet(c),
                expected: n,
                found: n,
                missing: vec![],
                unexpected: vec![],
                misplaced: vec![],
            },
        )
    }
}

fn flush(ledger: &mut Ledger, batch: &mut Vec<NewEvent>) {
    if let Err(e) = ledger.append_all(std::mem::take(batch)) {
        eprintln!("ledger_generate: the rules refused a generated event: {e}");
        std::process::exit(1);
    }
}

fn usage() -> ! {
    eprintln!("usage: ledger_generate PATH MEDIA EVENTS [--today YYYY-MM-DD]");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, media, events, today) = match args.as_slice() {
        [p, m, e, rest @ ..] => {
            let today = match rest {
                [] => OffsetDateTime::now_utc().date(),
                [flag, d] if flag == "--today" => {
                    massho::ledger::parse_date(d).unwrap_or_else(|| usage())
                }
                _ => usage(),
            };
            let m: u32 = m.parse().unwrap_or_else(|_| usage());
            let e: u64 = e.parse().unwrap_or_else(|_| usage());
            (PathBuf::from(p), m, e, today)
        }
        _ => usage(),
    };
    if path.exists() {
        eprintln!(
            "ledger_generate: {} exists already; remove it first",
            path.display()
        );
        std::process::exit(2);
    }
    let started = Instant::now();
    let mut ledger = Ledger::create_or_open(&path).unwrap_or_else(|e| {
        eprintln!("ledger_generate: {e}");
        std::process::exit(5)
    });
    let start = (today - Duration::days(365 * YEARS))
        .midnight()
        .assume_utc();
    let span = (today - Duration::days(1)).midnight().assume_utc() - start;
    let mut g = Generator {
        rng: ChaCha8Rng::seed_from_u64(SEED),
        media: Vec::with_capacity(media as usize),
        open: Vec::with_capacity(media as usize),
        place: Vec::with_capacity(media as usize),
        start,
        today,
        step: span / (events.max(1) as f64),
        produced: 0,
    };
    let mut batch: Vec<NewEvent> = Vec::with_capacity(BATCH + 2);
    for c in 0..CABINETS {
        let e = g.event(
            None,
            EventData::CabinetAdded {
                cabinet: cabinet(c),
                room: format!("{}号館 {}階 保管室", c % 3 + 1, c % 5 + 1),
                lockable: c % 10 != 9,
            },
        );
        batch.push(e);
    }
    while g.produced < events {
        let left = events - g.produced;
        let unregistered = media as u64 - g.media.len() as u64;
        // Registrations spread over the whole period (each is about 1.8 events with its store).
        let register = unregistered > 0
            && (g.open.is_empty() || g.below(1_000_000) < unregistered * 1_800_000 / left);
        if register {
            g.register(&mut batch, left > 1);
        } else if g.open.is_empty() {
            break;
        } else if g.below(2000) == 0 {
            let e = g.inventory();
            batch.push(e);
        } else {
            let at = g.below(g.open.len() as u64) as usize;
            let i = g.open[at];
            let e = g.act(i);
            batch.push(e);
        }
        if batch.len() >= BATCH {
            flush(&mut ledger, &mut batch);
        }
    }
    flush(&mut ledger, &mut batch);
    let (n, head) = ledger.head().unwrap_or_default();
    let closed = g.media.len() - g.open.len();
    eprintln!(
        "ledger_generate: {} in {:.1} s: {n} events, {} media ({closed} disposed of or returned), {CABINETS} cabinets; head {head}",
        path.display(),
        started.elapsed().as_secs_f64(),
        g.media.len()
    );
}
