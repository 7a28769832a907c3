//! The example tenants beside `acme` (mappings/examples/): other employers' exports, day 1 and
//! day 2, with the counts each day must give, recorded by construction.
//!
//! - `globex`: an English web HRIS's full export: UTF-8 and commas, US dates, FTE as a fraction,
//!   a status column, US money, the HRIS's own employment types; rows by last name on day 1 and
//!   shuffled on day 2, where many unchanged cells are written another way.
//! - `nordpay`: a Swedish payroll system's delta file with an event column (NY, ÄNDRING, SLUTAT),
//!   Windows-1252 and semicolons; day 1 hires everyone, day 2 holds only events.
//! - `initech`: a workbook saved by hand: a hidden code sheet, two title rows, date cells (some
//!   with a time of day), ids as numbers that lost their leading zeros, and a footer.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
use serde_json::{Value, json};

use super::{Dialect, Encoding, PAYROLL, encode, luhn, pretty, push_record, xlsx_error};

const SEED: u64 = 20261203;

const FIRST: &[&str] = &[
    "Anna", "Björn", "Cecilia", "David", "Elin", "Fredrik", "Greta", "Hugo", "Ida", "Johan", "Karin", "Lars", "Maja",
    "Nils", "Olivia", "Per", "Rut", "Sven", "Tove", "Ulf", "Vera", "Åsa", "Örjan", "Ängla",
];
const LAST: &[&str] = &[
    "Andersson",
    "Berg",
    "Carlsson",
    "Dahl",
    "Ek",
    "Forsberg",
    "Gustafsson",
    "Holm",
    "Isaksson",
    "Jansson",
    "Karlsson",
    "Lind",
    "Mattsson",
    "Nyström",
    "Olsson",
    "Persson",
    "Sjöberg",
    "Törnqvist",
    "Wikström",
    "Åberg",
    "Öberg",
];
const DEPTS: &[&str] = &["Finance", "Sales", "Engineering", "Support", "People", "Legal"];
const AVDELNINGAR: &[&str] = &["Ekonomi", "Försäljning", "Utveckling", "Kundtjänst", "HR", "Juridik"];

/// The counts of one day, as the report's `counts` object, and its rejections (field, rule).
struct Expected {
    counts: [(&'static str, usize); 8],
    rejections: Vec<(&'static str, &'static str)>,
}

impl Expected {
    fn new(rows: usize, new: usize, changed: usize, ended: usize, rehired: usize, missing: usize) -> Expected {
        Expected {
            counts: [
                ("rows", rows),
                ("new", new),
                ("changed", changed),
                ("unchanged", 0),
                ("ended", ended),
                ("rehired", rehired),
                ("missing", missing),
                ("rejected", 0),
            ],
            rejections: Vec::new(),
        }
    }

    /// Records rejections, and sets `unchanged` as what is left of the rows.
    fn finish(mut self, rejections: Vec<(&'static str, &'static str)>) -> Expected {
        let n = |k: &str, e: &Expected| e.counts.iter().find(|(n, _)| *n == k).map_or(0, |(_, v)| *v);
        let classified = ["new", "changed", "ended", "rehired"].iter().map(|k| n(k, &self)).sum::<usize>();
        let unchanged = n("rows", &self) - classified - rejections.len();
        self.counts[3].1 = unchanged;
        self.counts[7].1 = rejections.len();
        self.rejections = rejections;
        self
    }

    fn to_json(&self) -> Value {
        let counts: serde_json::Map<String, Value> =
            self.counts.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        let rejections: BTreeSet<_> = self.rejections.iter().collect();
        let rejections: Vec<Value> = rejections.iter().map(|(f, r)| json!({"field": f, "rule": r})).collect();
        json!({"counts": counts, "rejections": rejections})
    }
}

fn write_expected(dir: &Path, day1: &Expected, day2: &Expected, now: &str) -> io::Result<()> {
    let expected = json!({"now": now, "day1": day1.to_json(), "day2": day2.to_json()});
    fs::write(dir.join("expected.json"), pretty(&expected)?)
}

fn csv(header: &[&str], rows: &[Vec<String>], d: Dialect) -> io::Result<Vec<u8>> {
    let mut text = String::new();
    push_record(&mut text, header, d);
    for row in rows {
        push_record(&mut text, row, d);
    }
    encode(&text, d.encoding)
}

fn date(rng: &mut ChaCha8Rng, from: i32, to: i32) -> NaiveDate {
    let y = rng.random_range(from..=to);
    NaiveDate::from_ymd_opt(y, rng.random_range(1..=12), rng.random_range(1..=28)).unwrap_or(NaiveDate::MIN)
}

/// A valid personnummer, `YYYYMMDD-NNNC`.
fn personnummer(rng: &mut ChaCha8Rng) -> String {
    let birth = date(rng, 1958, 2002);
    let serial: u16 = rng.random_range(1..=999);
    let nine = format!("{:02}{:02}{:02}{serial:03}", birth.year() % 100, birth.month(), birth.day());
    format!("{:04}{:02}{:02}-{serial:03}{}", birth.year(), birth.month(), birth.day(), luhn(&nine))
}

/// Disjoint random picks from `pool`, in the sizes asked for.
fn pick(pool: &[usize], sizes: &[usize], rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let mut shuffled = pool.to_vec();
    shuffled.shuffle(rng);
    let mut out = Vec::new();
    let mut at = 0;
    for &n in sizes {
        out.push(shuffled[at..at + n].to_vec());
        at += n;
    }
    out
}

pub fn write_tenants(out: &Path) -> io::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    globex(&out.join("globex"), &mut rng)?;
    nordpay(&out.join("nordpay"), &mut rng)?;
    initech(&out.join("initech"), &mut rng)
}

// ---------------------------------------------------------------------------------------------
// globex: an English web HRIS, full export
// ---------------------------------------------------------------------------------------------

const GLOBEX_HEADER: [&str; 14] = [
    "Employee ID",
    "First Name",
    "Last Name",
    "Work Email",
    "SSN",
    "Department",
    "Job Title",
    "Employment Type",
    "Employment Status",
    "Hire Date",
    "Termination Date",
    "FTE",
    "Annual Salary",
    "Home Address",
];
const WEB_PLAIN: Dialect = Dialect { delimiter: ',', encoding: Encoding::Utf8, crlf: false };

#[derive(Clone)]
struct Worker {
    id: String,
    first: String,
    last: String,
    dept: usize,
    title: String,
    kind: &'static str,
    status: &'static str,
    hire: NaiveDate,
    end: Option<NaiveDate>,
    fte_tenths: u32,
    salary: u32,
    ssn: String,
}

fn us_date(d: NaiveDate, padded: bool) -> String {
    if padded { d.format("%m/%d/%Y").to_string() } else { format!("{}/{}/{}", d.month(), d.day(), d.year()) }
}

fn us_money(n: u32) -> String {
    format!("${},{:03}.00", n / 1000, n % 1000)
}

impl Worker {
    fn row(&self, rerender: bool) -> Vec<String> {
        let email = format!("{}.{}@globex.example", ascii(&self.first), ascii(&self.last)).to_lowercase();
        vec![
            if rerender { self.id.to_lowercase() } else { self.id.clone() },
            self.first.clone(),
            self.last.clone(),
            if rerender { email.to_uppercase() } else { email },
            self.ssn.clone(),
            DEPTS[self.dept].to_owned(),
            self.title.clone(),
            // Full-Time and Part-Time are both Permanent: another spelling, the same value.
            match (self.kind, rerender) {
                ("Full-Time", true) => "Part-Time".to_owned(),
                (k, _) => k.to_owned(),
            },
            self.status.to_owned(),
            us_date(self.hire, !rerender),
            self.end.map(|d| us_date(d, !rerender)).unwrap_or_default(),
            format!("{}.{}", self.fte_tenths / 10, self.fte_tenths % 10),
            if rerender { format!("{}.00 USD", self.salary) } else { us_money(self.salary) },
            format!("{} Main Street {}", 100 + self.salary % 900, self.ssn.len()),
        ]
    }
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'å' | 'ä' | 'Å' | 'Ä' => 'a',
            'ö' | 'Ö' => 'o',
            c => c,
        })
        .collect()
}

fn globex_worker(i: usize, rng: &mut ChaCha8Rng) -> Worker {
    Worker {
        id: format!("GX{}", 1000 + i),
        first: (*FIRST.choose(rng).unwrap_or(&"Anna")).to_owned(),
        last: (*LAST.choose(rng).unwrap_or(&"Berg")).to_owned(),
        dept: rng.random_range(0..DEPTS.len()),
        title: (*["Analyst", "Engineer", "Manager", "Specialist", "Coordinator"].choose(rng).unwrap_or(&"Analyst"))
            .to_owned(),
        kind: ["Full-Time", "Temporary", "Hourly Worker"][rng.random_range(0..3)],
        status: "Active",
        hire: date(rng, 2010, 2024),
        end: None,
        fte_tenths: [10, 10, 8, 5][rng.random_range(0..4)],
        salary: rng.random_range(40..=150) * 1000 + rng.random_range(0..4) * 250,
        ssn: format!(
            "{:03}-{:02}-{:04}",
            rng.random_range(100..900),
            rng.random_range(10..99),
            rng.random_range(1000..9999)
        ),
    }
}

fn globex(dir: &Path, rng: &mut ChaCha8Rng) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut people: Vec<Worker> = (0..120).map(|i| globex_worker(i, rng)).collect();
    // Ten people left before day 1: terminated people stay in the export.
    for p in people.iter_mut().take(10) {
        p.status = "Terminated";
        p.end = Some(NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or(NaiveDate::MIN));
    }
    let mut day1 = people.clone();
    day1.sort_by(|a, b| (&a.last, &a.first, &a.id).cmp(&(&b.last, &b.first, &b.id)));
    let rows1: Vec<Vec<String>> = day1.iter().map(|p| p.row(false)).collect();
    fs::write(dir.join("day1.csv"), csv(&GLOBEX_HEADER, &rows1, WEB_PLAIN)?)?;

    let terminated: Vec<usize> = (0..10).collect();
    let active: Vec<usize> = (10..120).collect();
    let rehired = pick(&terminated, &[3], rng).remove(0);
    let groups = pick(&active, &[3, 8, 5, 2, 4, 30], rng);
    let (missing, changed, ended, ended_today, rejected, rerendered) =
        (&groups[0], &groups[1], &groups[2], &groups[3], &groups[4], &groups[5]);
    let mut day2: Vec<Vec<String>> = Vec::new();
    let mut rejections = Vec::new();
    for (i, p) in people.iter().enumerate() {
        if missing.contains(&i) {
            continue;
        }
        let mut q = p.clone();
        if rehired.contains(&i) {
            q.status = "Active";
            q.end = None;
        } else if changed.contains(&i) {
            q.dept = (q.dept + 1) % DEPTS.len();
        } else if ended.contains(&i) {
            q.status = "Terminated";
            q.end = Some(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or(NaiveDate::MIN));
        } else if ended_today.contains(&i) {
            // Terminated without a date: the end is the day of the run.
            q.status = "Terminated";
        }
        let mut row = q.row(rerendered.contains(&i));
        if let Some(k) = rejected.iter().position(|&r| r == i) {
            let (col, value, field, rule) = [
                (3, "not-an-address", "email", "email"),
                (11, "1.5", "fte_percent", "range"),
                (9, "13/45/2021", "hire_date", "date_format"),
                (2, "", "last_name", "required"),
            ][k];
            row[col] = value.to_owned();
            rejections.push((field, rule));
        }
        day2.push(row);
    }
    for i in 120..126 {
        day2.push(globex_worker(i, rng).row(false));
    }
    day2.shuffle(rng);
    fs::write(dir.join("day2.csv"), csv(&GLOBEX_HEADER, &day2, WEB_PLAIN)?)?;
    let e1 = Expected::new(120, 120, 0, 0, 0, 0).finish(Vec::new());
    let e2 = Expected::new(day2.len(), 6, 8, 7, 3, 3).finish(rejections);
    write_expected(dir, &e1, &e2, "2026-12-02")
}

// ---------------------------------------------------------------------------------------------
// nordpay: a Swedish payroll delta file with events
// ---------------------------------------------------------------------------------------------

const NORDPAY_HEADER: [&str; 11] = [
    "Händelse",
    "Anstnr",
    "Personnr",
    "Förnamn",
    "Efternamn",
    "Avdelning",
    "Anst.datum",
    "Slutdatum",
    "Tjänstgöringsgrad",
    "Månadslön",
    "Fackförbund",
];

#[derive(Clone)]
struct Anstalld {
    id: String,
    pnr: String,
    first: String,
    last: String,
    dept: usize,
    start: NaiveDate,
    end: Option<NaiveDate>,
    fte: &'static str,
    salary: u32,
}

fn compact(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

fn kronor(n: u32) -> String {
    format!("{} {:03}", n / 1000, n % 1000)
}

impl Anstalld {
    /// The whole record, as a hire's (NY) row carries it.
    fn whole(&self, event: &str) -> Vec<String> {
        vec![
            event.to_owned(),
            self.id.clone(),
            self.pnr.clone(),
            self.first.clone(),
            self.last.clone(),
            AVDELNINGAR[self.dept].to_owned(),
            compact(self.start),
            self.end.map(compact).unwrap_or_default(),
            self.fte.to_owned(),
            kronor(self.salary),
            "Unionen".to_owned(),
        ]
    }

    /// A row with the key and only the given cells filled.
    fn partial(&self, event: &str, cells: &[(usize, String)]) -> Vec<String> {
        let mut row = vec![String::new(); NORDPAY_HEADER.len()];
        row[0] = event.to_owned();
        row[1] = self.id.clone();
        for (c, v) in cells {
            row[*c] = v.clone();
        }
        row
    }
}

fn anstalld(i: usize, rng: &mut ChaCha8Rng) -> Anstalld {
    Anstalld {
        id: format!("{}", 50_000 + i * 7),
        pnr: personnummer(rng),
        first: (*FIRST.choose(rng).unwrap_or(&"Anna")).to_owned(),
        last: (*LAST.choose(rng).unwrap_or(&"Berg")).to_owned(),
        dept: rng.random_range(0..AVDELNINGAR.len()),
        start: date(rng, 2008, 2024),
        end: None,
        fte: ["100", "100", "80", "75,5", "50"][rng.random_range(0..5)],
        salary: rng.random_range(24..=70) * 1000 + rng.random_range(0..10) * 100,
    }
}

fn nordpay(dir: &Path, rng: &mut ChaCha8Rng) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut people: Vec<Anstalld> = (0..100).map(|i| anstalld(i, rng)).collect();
    for p in people.iter_mut().take(8) {
        p.end = Some(NaiveDate::from_ymd_opt(2025, 8, 31).unwrap_or(NaiveDate::MIN));
    }
    let rows1: Vec<Vec<String>> = people.iter().map(|p| p.whole("NY")).collect();
    fs::write(dir.join("day1.csv"), csv(&NORDPAY_HEADER, &rows1, PAYROLL)?)?;

    let ended_before: Vec<usize> = (0..8).collect();
    let active: Vec<usize> = (8..100).collect();
    let rehired = pick(&ended_before, &[2], rng).remove(0);
    let g = pick(&active, &[6, 5, 1, 2, 1, 1, 1], rng);
    let (changed, ended, ended_today, noop, conflict, unknown_event, bad_salary) =
        (&g[0], &g[1], &g[2], &g[3], &g[4][0], &g[5][0], &g[6][0]);
    let mut day2: Vec<Vec<String>> = Vec::new();
    for &i in changed {
        let p = &people[i];
        let dept = AVDELNINGAR[(p.dept + 1) % AVDELNINGAR.len()].to_owned();
        // Lower-case event spelling and a transliterated one: both name a change.
        day2.push(p.partial(if i % 2 == 0 { "Ändring" } else { "ANDRING" }, &[(5, dept)]));
    }
    for &i in ended {
        day2.push(people[i].partial("SLUTAT", &[(7, "20261130".to_owned())]));
    }
    for &i in ended_today {
        day2.push(people[i].partial("SLUTAT", &[]));
    }
    for &i in noop {
        let p = &people[i];
        day2.push(p.partial("ÄNDRING", &[(5, AVDELNINGAR[p.dept].to_owned()), (9, kronor(p.salary))]));
    }
    for &i in &rehired {
        let mut p = people[i].clone();
        p.end = None;
        p.start = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or(NaiveDate::MIN);
        day2.push(p.whole("NY"));
    }
    for i in 100..104 {
        day2.push(anstalld(i, rng).whole("NY"));
    }
    day2.push(people[*conflict].whole("NY"));
    day2.push(people[*unknown_event].partial("FLYTT", &[(5, "Ekonomi".to_owned())]));
    day2.push(people[*bad_salary].partial("ÄNDRING", &[(9, "okänd".to_owned())]));
    let stranger = Anstalld { id: "99999".to_owned(), ..people[0].clone() };
    day2.push(stranger.partial("ÄNDRING", &[(5, "Ekonomi".to_owned())]));
    day2.shuffle(rng);
    fs::write(dir.join("day2.csv"), csv(&NORDPAY_HEADER, &day2, PAYROLL)?)?;
    let rejections = vec![
        ("event", "event_conflict"),
        ("event", "unknown_event"),
        ("monthly_salary", "decimal"),
        ("employee_id", "unknown_key"),
    ];
    let e1 = Expected::new(100, 100, 0, 0, 0, 0).finish(Vec::new());
    let e2 = Expected::new(day2.len(), 4, 6, 6, 2, 0).finish(rejections);
    write_expected(dir, &e1, &e2, "2026-12-02")
}

// ---------------------------------------------------------------------------------------------
// initech: a workbook saved by hand
// ---------------------------------------------------------------------------------------------

const INITECH_HEADER: [&str; 10] = [
    "Anst.nr",
    "Förnamn",
    "Efternamn",
    "Avdelning",
    "Befattning",
    "Anställd från",
    "Anställd till",
    "Omfattning %",
    "Lön",
    "Facklig tillhörighet",
];

/// One cell of the workbook.
#[derive(Clone)]
enum Xl {
    Text(String),
    Number(f64),
    Date(NaiveDate),
    /// A date typed with its time of day.
    Stamp(NaiveDate, u8, u8),
    Empty,
}

#[derive(Clone)]
struct Rad {
    id: u32,
    first: String,
    last: String,
    dept: usize,
    title: String,
    start: NaiveDate,
    end: Option<NaiveDate>,
    fte: f64,
    salary: f64,
}

impl Rad {
    fn cells(&self, rerender: bool) -> Vec<Xl> {
        vec![
            // A number cell lost the id's leading zeros; a text cell keeps them.
            if rerender { Xl::Text(format!("{:05}", self.id)) } else { Xl::Number(f64::from(self.id)) },
            Xl::Text(self.first.clone()),
            Xl::Text(self.last.clone()),
            Xl::Text(AVDELNINGAR[self.dept].to_owned()),
            Xl::Text(self.title.clone()),
            if rerender { Xl::Stamp(self.start, 8, 30) } else { Xl::Date(self.start) },
            self.end.map_or(Xl::Empty, Xl::Date),
            Xl::Number(self.fte),
            Xl::Number(self.salary),
            Xl::Text("Ja".to_owned()),
        ]
    }
}

fn rad(i: usize, rng: &mut ChaCha8Rng) -> Rad {
    Rad {
        id: 40 + i as u32 * 3,
        first: (*FIRST.choose(rng).unwrap_or(&"Anna")).to_owned(),
        last: (*LAST.choose(rng).unwrap_or(&"Berg")).to_owned(),
        dept: rng.random_range(0..AVDELNINGAR.len()),
        title: (*["Ekonom", "Utvecklare", "Säljare", "Chef", "Handläggare"].choose(rng).unwrap_or(&"Ekonom"))
            .to_owned(),
        start: date(rng, 2012, 2024),
        end: None,
        fte: [100.0, 100.0, 80.0, 50.0][rng.random_range(0..4)],
        salary: f64::from(rng.random_range(25..=65) * 1000 + rng.random_range(0..4) * 500),
    }
}

fn workbook(rows: &[Vec<Xl>], date_line: &str) -> io::Result<Vec<u8>> {
    let mut book = Workbook::new();
    let created = ExcelDateTime::from_ymd(2026, 12, 1).and_then(|d| d.and_hms(6, 0, 0)).map_err(xlsx_error)?;
    book.set_properties(&DocProperties::new().set_author("Initech").set_creation_datetime(&created));
    let day = Format::new().set_num_format("yyyy-mm-dd");
    let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let codes = book.add_worksheet().set_name("Koder").map_err(xlsx_error)?;
    codes.write_string(0, 0, "Kod").map_err(xlsx_error)?;
    codes.write_string(1, 0, "Anst.nr").map_err(xlsx_error)?;
    codes.set_hidden(true);
    let sheet = book.add_worksheet().set_name("Personal").map_err(xlsx_error)?.set_active(true);
    sheet.write_string(0, 0, "Personalförteckning Initech AB").map_err(xlsx_error)?;
    sheet.write_string(1, 0, date_line).map_err(xlsx_error)?;
    for (c, h) in INITECH_HEADER.iter().enumerate() {
        sheet.write_string(3, c as u16, *h).map_err(xlsx_error)?;
    }
    let xl_date = |d: NaiveDate| ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8);
    let mut r = 4;
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Xl::Empty => continue,
                Xl::Text(s) => sheet.write_string(r, c, s),
                Xl::Number(n) => sheet.write_number(r, c, *n),
                Xl::Date(d) => sheet.write_datetime_with_format(r, c, &xl_date(*d).map_err(xlsx_error)?, &day),
                Xl::Stamp(d, h, m) => {
                    let at = xl_date(*d).and_then(|x| x.and_hms(u16::from(*h), *m, 0)).map_err(xlsx_error)?;
                    sheet.write_datetime_with_format(r, c, &at, &stamp)
                }
            }
            .map_err(xlsx_error)?;
        }
        r += 1;
    }
    sheet.write_string(r + 1, 0, format!("Summa anställda: {}", rows.len())).map_err(xlsx_error)?;
    sheet.write_string(r + 2, 0, "Utskriven av: Lönesystemet").map_err(xlsx_error)?;
    sheet.write_string(r + 2, 12, "sida 1 av 1").map_err(xlsx_error)?;
    book.save_to_buffer().map_err(xlsx_error)
}

fn initech(dir: &Path, rng: &mut ChaCha8Rng) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut people: Vec<Rad> = (0..80).map(|i| rad(i, rng)).collect();
    for p in people.iter_mut().take(5) {
        p.end = Some(NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or(NaiveDate::MIN));
    }
    let rows1: Vec<Vec<Xl>> = people.iter().map(|p| p.cells(false)).collect();
    fs::write(dir.join("day1.xlsx"), workbook(&rows1, "Utdrag 2026-12-01")?)?;

    let ended_before: Vec<usize> = (0..5).collect();
    let active: Vec<usize> = (5..80).collect();
    let rehired = pick(&ended_before, &[2], rng).remove(0);
    let g = pick(&active, &[2, 5, 4, 2, 25], rng);
    let (missing, changed, ended, rejected, rerendered) = (&g[0], &g[1], &g[2], &g[3], &g[4]);
    let mut day2: Vec<(usize, Vec<Xl>)> = Vec::new();
    let mut rejections = Vec::new();
    for (i, p) in people.iter().enumerate() {
        if missing.contains(&i) {
            continue;
        }
        let mut q = p.clone();
        if rehired.contains(&i) {
            q.end = None;
        } else if changed.contains(&i) {
            q.title = format!("Senior {}", q.title.to_lowercase());
        } else if ended.contains(&i) {
            q.end = Some(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or(NaiveDate::MIN));
        }
        let mut cells = q.cells(rerendered.contains(&i));
        if let Some(k) = rejected.iter().position(|&r| r == i) {
            let (col, cell, field, rule) = [
                (7, Xl::Number(150.0), "fte_percent", "range"),
                (8, Xl::Text("n/a".to_owned()), "monthly_salary", "decimal"),
            ][k]
                .clone();
            cells[col] = cell;
            rejections.push((field, rule));
        }
        day2.push((q.dept, cells));
    }
    for i in 80..83 {
        let p = rad(i, rng);
        day2.push((p.dept, p.cells(false)));
    }
    // Sorted by department, and within it in no order at all.
    day2.shuffle(rng);
    day2.sort_by_key(|(dept, _)| *dept);
    let rows2: Vec<Vec<Xl>> = day2.into_iter().map(|(_, c)| c).collect();
    fs::write(dir.join("day2.xlsx"), workbook(&rows2, "Utdrag 2026-12-02")?)?;
    let e1 = Expected::new(80, 80, 0, 0, 0, 0).finish(Vec::new());
    let e2 = Expected::new(rows2.len(), 3, 5, 4, 2, 2).finish(rejections);
    write_expected(dir, &e1, &e2, "2026-12-02")
}
