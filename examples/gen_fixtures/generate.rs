//! Generates hrfeed's test fixtures and benchmark data from fixed seeds, byte for byte reproducibly.
//!
//! The committed fixtures (`fixtures/reference`, `fixtures/bad`) are compared byte for byte with a
//! fresh run by a test, so everything here is deterministic: seeded ChaCha, ordered collections
//! only, and fixed timestamps inside every zip container. Expected outcomes are recorded by
//! construction (what was generated and why), never by re-running a pipeline, so the fixtures
//! can catch a pipeline that is wrong in the same way as a reimplementation would be.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufWriter, Cursor, Write};
use std::path::Path;

use chrono::{Datelike, Days, Months, NaiveDate};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};
use serde_json::{Value, json};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

#[path = "tenants.rs"]
mod tenants;

#[path = "hostile.rs"]
mod hostile;

// ---------------------------------------------------------------------------------------------
// The reference export's columns
// ---------------------------------------------------------------------------------------------

/// Header of the reference export, unmapped columns where payroll systems tend to put them.
const HEADERS: [&str; NCOLS] = [
    "Anst.nr",
    "Personnummer",
    "Förnamn",
    "Efternamn",
    "E-post",
    "Mobil",
    "Fackförbund",
    "Organisationsenhet",
    "Kostnadsställe",
    "Befattning",
    "Anställningsform",
    "Anställningsdatum",
    "Slutdatum",
    "Sysselsättningsgrad",
    "Månadslön",
    "Sjukfrånvaro (dagar)",
    "Chef Anst.nr",
    "Anteckning",
    "Hemadress",
];
const NCOLS: usize = 19;
const C_ID: usize = 0;
const C_PN: usize = 1;
const C_FIRST: usize = 2;
const C_EMAIL: usize = 4;
const C_DEPT: usize = 7;
const C_TYPE: usize = 10;
const C_START: usize = 11;
const C_END: usize = 12;
const C_FTE: usize = 13;
const C_SALARY: usize = 14;
const C_NOTE: usize = 17;

/// Seed of the committed fixtures; changing it rewrites every fixture.
const FIXTURE_SEED: u64 = 20261101;
/// Seed of the small exports the bad-input corpus is built from.
const BAD_SEED: u64 = 20261103;
/// Seed of the benchmark data.
const BENCH_SEED: u64 = 20261104;

/// The nights the two reference files were exported.
fn day1_date() -> NaiveDate {
    ymd(2026, 11, 1)
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    // Only called with literal, valid dates.
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Organisation and name tables
// ---------------------------------------------------------------------------------------------

struct Dept {
    name: &'static str,
    cost_centres: &'static [&'static str],
    titles: &'static [&'static str],
    weight: u32,
}

/// Departments of the fictional Acme AB; one name holds a comma so that comma CSV must quote it.
const DEPTS: &[Dept] = &[
    Dept { name: "Ledning", cost_centres: &["1000"], titles: &["Ledningsassistent", "Controller"], weight: 1 },
    Dept {
        name: "Ekonomi",
        cost_centres: &["2100", "2110"],
        titles: &["Ekonom", "Redovisningsekonom", "Controller", "Lönespecialist"],
        weight: 4,
    },
    Dept {
        name: "Personal",
        cost_centres: &["2200"],
        titles: &["HR-generalist", "HR-partner", "Rekryterare"],
        weight: 2,
    },
    Dept {
        name: "IT-avdelningen",
        cost_centres: &["2300", "2310"],
        titles: &["Systemutvecklare", "IT-tekniker", "Nätverkstekniker", "IT-arkitekt"],
        weight: 5,
    },
    Dept { name: "Juridik", cost_centres: &["2400"], titles: &["Jurist", "Bolagsjurist"], weight: 1 },
    Dept {
        name: "Försäljning Syd",
        cost_centres: &["3100", "3110"],
        titles: &["Säljare", "Kundansvarig", "Innesäljare"],
        weight: 6,
    },
    Dept { name: "Försäljning Norr", cost_centres: &["3200"], titles: &["Säljare", "Kundansvarig"], weight: 4 },
    Dept {
        name: "Försäljning, export",
        cost_centres: &["3300", "3310"],
        titles: &["Exportsäljare", "Orderhandläggare"],
        weight: 3,
    },
    Dept {
        name: "Kundtjänst",
        cost_centres: &["3400"],
        titles: &["Kundtjänstmedarbetare", "Supporttekniker"],
        weight: 6,
    },
    Dept {
        name: "Marknad & kommunikation",
        cost_centres: &["3500"],
        titles: &["Marknadskoordinator", "Kommunikatör", "Grafisk formgivare"],
        weight: 2,
    },
    Dept {
        name: "Lager Göteborg",
        cost_centres: &["4100", "4110"],
        titles: &["Lagerarbetare", "Truckförare", "Lagerplanerare"],
        weight: 10,
    },
    Dept { name: "Logistik", cost_centres: &["4200"], titles: &["Transportplanerare", "Logistiker"], weight: 4 },
    Dept {
        name: "Produktion Västerås",
        cost_centres: &["5100", "5110", "5120"],
        titles: &["Operatör", "Produktionstekniker", "Maskinställare", "Underhållstekniker"],
        weight: 20,
    },
    Dept { name: "Inköp", cost_centres: &["6100"], titles: &["Inköpare", "Strategisk inköpare"], weight: 2 },
    Dept {
        name: "Kvalitet och miljö",
        cost_centres: &["6200"],
        titles: &["Kvalitetsingenjör", "Miljösamordnare"],
        weight: 2,
    },
    Dept {
        name: "Forskning och utveckling",
        cost_centres: &["7100", "7110"],
        titles: &["Forskningsingenjör", "Konstruktör", "Testingenjör"],
        weight: 6,
    },
    Dept {
        name: "Fastighet och service",
        cost_centres: &["8100"],
        titles: &["Fastighetstekniker", "Lokalvårdare", "Receptionist", "Café-ansvarig"],
        weight: 4,
    },
];

const FIRST_NAMES: &[&str] = &[
    "Anna",
    "Eva",
    "Maria",
    "Karin",
    "Sara",
    "Emma",
    "Elin",
    "Ingrid",
    "Kerstin",
    "Åsa",
    "Märta",
    "Linnéa",
    "Désirée",
    "Stina",
    "Tove",
    "Ebba",
    "Maja",
    "Fatima",
    "Amira",
    "Hanna",
    "Sofia",
    "Ida",
    "Johanna",
    "Lena",
    "Erik",
    "Lars",
    "Johan",
    "Per",
    "Anders",
    "Björn",
    "Göran",
    "Jörgen",
    "Sören",
    "Åke",
    "Örjan",
    "André",
    "René",
    "Håkan",
    "Mårten",
    "Pär",
    "Oskar",
    "Ali",
    "Mohammed",
    "Karl",
    "Nils",
    "Olof",
    "Gösta",
    "Mikael",
    "Jonas",
    "Fredrik",
    "Daniel",
    "Ahmed",
    "Leo",
    "Viktor",
];

const LAST_NAMES: &[&str] = &[
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Jönsson",
    "Lindberg",
    "Lindström",
    "Lindqvist",
    "Lindgren",
    "Berg",
    "Bergström",
    "Lundberg",
    "Lundqvist",
    "Åberg",
    "Öberg",
    "Ström",
    "Sjöberg",
    "Wallén",
    "Forsén",
    "Ekström",
    "Nordström",
    "Häggström",
    "Blomqvist",
    "Åkesson",
    "Öhman",
    "Sandén",
    "Mäkinen",
    "Nyström",
    "Holm",
    "Sundén",
    "Hussein",
    "Yilmaz",
    "Lönnqvist",
    "Nordén",
    "Löfgren",
    "Sjögren",
    "Björk",
];

const STREETS: &[&str] =
    &["Storgatan", "Kungsgatan", "Drottninggatan", "Skolgatan", "Parkvagen", "Bruksgatan", "Ringvagen"];
const CITIES: &[(&str, &str)] = &[
    ("111 22", "Stockholm"),
    ("753 20", "Uppsala"),
    ("222 21", "Lund"),
    ("981 31", "Kiruna"),
    ("591 30", "Motala"),
    ("392 31", "Kalmar"),
    ("621 55", "Visby"),
];

// ---------------------------------------------------------------------------------------------
// One person: canonical (normalised) values plus how the export happens to write them
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EmpType {
    Tillsvidare,
    Visstid,
    Timanstalld,
    Provanstallning,
}

impl EmpType {
    fn name(self) -> &'static str {
        match self {
            EmpType::Tillsvidare => "Tillsvidare",
            EmpType::Visstid => "Visstid",
            EmpType::Timanstalld => "Timanställd",
            EmpType::Provanstallning => "Provanställning",
        }
    }
}

/// A personnummer or samordningsnummer: birth date, three-digit serial, and whether the day is +60.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pn {
    birth: NaiveDate,
    serial: u16,
    coordination: bool,
}

impl Pn {
    fn day(self) -> u32 {
        self.birth.day() + if self.coordination { 60 } else { 0 }
    }

    fn check_digit(self) -> u32 {
        let nine =
            format!("{:02}{:02}{:02}{:03}", self.birth.year() % 100, self.birth.month(), self.day(), self.serial);
        luhn(&nine)
    }

    /// `YYYYMMDD`, `NNN` and the check digit, so that every written form can be assembled.
    fn parts(self, check: u32) -> (String, String) {
        let date = format!("{:04}{:02}{:02}", self.birth.year(), self.birth.month(), self.day());
        (date, format!("{:03}{check}", self.serial))
    }

    fn write(self, form: PnForm, check: u32) -> String {
        let (date, tail) = self.parts(check);
        match form {
            PnForm::Long => format!("{date}-{tail}"),
            PnForm::LongPlain => format!("{date}{tail}"),
            PnForm::Short => format!("{}-{tail}", &date[2..]),
        }
    }

    /// The normalised form the register stores, `YYYYMMDDNNNN`.
    fn canonical(self) -> String {
        self.write(PnForm::LongPlain, self.check_digit())
    }
}

/// Luhn check digit of a string of digits (the personnummer's nine digits).
fn luhn(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let v = u32::from(b - b'0') * if i % 2 == 0 { 2 } else { 1 };
            if v > 9 { v - 9 } else { v }
        })
        .sum();
    (10 - sum % 10) % 10
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum PnForm {
    #[default]
    Long,
    LongPlain,
    Short,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum MobileForm {
    #[default]
    Domestic,
    Plus,
    Zeros,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum DateForm {
    #[default]
    Iso,
    Compact,
    Dotted,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum TypeCase {
    #[default]
    AsIs,
    Upper,
    Lower,
}

/// How one row writes its values. Every variant normalises to the same canonical value, which
/// is what the "unchanged in another form" rows of day 2 exercise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Style {
    pn: PnForm,
    mobile: MobileForm,
    email_upper: bool,
    /// Salary as text without thousands separator / with a decimal point (and so as a text cell
    /// in workbooks, where the usual form is a number).
    salary_plain: bool,
    date: DateForm,
    type_case: TypeCase,
    names_padded: bool,
    /// FTE as text with a decimal point (`62.5`) instead of the number `62,5`.
    fte_dot: bool,
    /// Workbooks: dates as `YYYY-MM-DD` text cells instead of date cells.
    dates_as_text: bool,
}

/// The values of the unmapped columns; each holds a canary the privacy test greps for.
#[derive(Clone, Debug, PartialEq)]
struct Unmapped {
    union: String,
    sick: String,
    note: String,
    address: String,
    /// Canary strings in this row (the ids above plus a personnummer-like value in the note).
    canaries: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
struct Person {
    id: String,
    pn: Pn,
    first: String,
    last: String,
    email: Option<String>,
    /// National significant number, nine digits (`701234567`).
    mobile: Option<String>,
    dept: usize,
    cost_centre: String,
    title: String,
    kind: EmpType,
    start: NaiveDate,
    end: Option<NaiveDate>,
    /// Tenths of a percent: 625 = 62.5 %.
    fte: u32,
    /// Öre.
    salary: Option<u64>,
    manager: Option<String>,
    is_manager: bool,
    unmapped: Unmapped,
    style: Style,
}

/// Canonical field names whose normalised values differ between two versions of a person.
fn changed_fields(a: &Person, b: &Person) -> Vec<&'static str> {
    let pairs = [
        ("employee_id", a.id != b.id),
        ("national_id", a.pn.canonical() != b.pn.canonical()),
        ("first_name", a.first != b.first),
        ("last_name", a.last != b.last),
        ("email", a.email != b.email),
        ("mobile", a.mobile != b.mobile),
        ("department", a.dept != b.dept),
        ("cost_centre", a.cost_centre != b.cost_centre),
        ("job_title", a.title != b.title),
        ("employment_type", a.kind != b.kind),
        ("start_date", a.start != b.start),
        ("end_date", a.end != b.end),
        ("fte_percent", a.fte != b.fte),
        ("monthly_salary", a.salary != b.salary),
        ("manager_id", a.manager != b.manager),
    ];
    pairs.iter().filter(|(_, differs)| *differs).map(|(name, _)| *name).collect()
}

// ---------------------------------------------------------------------------------------------
// Cells: what one value looks like in a file
// ---------------------------------------------------------------------------------------------

/// One cell. CSV writes the text; workbooks write numbers and dates as such, so the same logical
/// row reads back the same from every format.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    /// Text as a Swedish CSV writes it, and the workbook number.
    Number(String, f64),
    /// A date: `YYYY-MM-DD` in CSV, a date cell in workbooks.
    Date(NaiveDate),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) | Cell::Number(s, _) => s.clone(),
            Cell::Date(d) => iso(*d),
        }
    }

    fn text_of(s: &str) -> Cell {
        if s.is_empty() { Cell::Empty } else { Cell::Text(s.to_owned()) }
    }
}

/// A row as written: a person in a style, with cells replaced to break a rule where wanted.
#[derive(Clone, Debug)]
struct Row {
    person: Person,
    overrides: Vec<(usize, Cell)>,
}

impl Row {
    fn plain(person: Person) -> Row {
        Row { person, overrides: Vec::new() }
    }

    fn cells(&self) -> Vec<Cell> {
        let mut cells = render(&self.person);
        for (col, cell) in &self.overrides {
            cells[*col] = cell.clone();
        }
        cells
    }
}

fn render(p: &Person) -> Vec<Cell> {
    let s = p.style;
    let pad = |name: &str, lead: &str, trail: &str| {
        if s.names_padded { format!("{lead}{name}{trail}") } else { name.to_owned() }
    };
    let email = p.email.as_ref().map(|e| if s.email_upper { e.to_uppercase() } else { e.clone() });
    let kind = match s.type_case {
        TypeCase::AsIs => p.kind.name().to_owned(),
        TypeCase::Upper => p.kind.name().to_uppercase(),
        TypeCase::Lower => p.kind.name().to_lowercase(),
    };
    vec![
        Cell::Text(p.id.clone()),
        Cell::Text(p.pn.write(s.pn, p.pn.check_digit())),
        Cell::Text(pad(&p.first, " ", " ")),
        Cell::Text(pad(&p.last, "  ", " ")),
        Cell::text_of(email.as_deref().unwrap_or("")),
        Cell::text_of(&p.mobile.as_deref().map(|m| write_mobile(m, s.mobile)).unwrap_or_default()),
        Cell::Text(p.unmapped.union.clone()),
        Cell::Text(DEPTS[p.dept].name.to_owned()),
        Cell::text_of(&p.cost_centre),
        Cell::text_of(&p.title),
        Cell::Text(kind),
        date_cell(p.start, s),
        p.end.map_or(Cell::Empty, |d| date_cell(d, s)),
        fte_cell(p.fte, s.fte_dot),
        p.salary.map_or(Cell::Empty, |ore| salary_cell(ore, s.salary_plain)),
        Cell::Text(p.unmapped.sick.clone()),
        Cell::text_of(p.manager.as_deref().unwrap_or("")),
        Cell::Text(p.unmapped.note.clone()),
        Cell::Text(p.unmapped.address.clone()),
    ]
}

fn write_mobile(nsn: &str, form: MobileForm) -> String {
    match form {
        MobileForm::Domestic => format!("0{}-{} {} {}", &nsn[..2], &nsn[2..5], &nsn[5..7], &nsn[7..]),
        MobileForm::Plus => format!("+46 {} {} {} {}", &nsn[..2], &nsn[2..5], &nsn[5..7], &nsn[7..]),
        MobileForm::Zeros => format!("0046{nsn}"),
    }
}

fn date_cell(d: NaiveDate, s: Style) -> Cell {
    match s.date {
        DateForm::Iso if s.dates_as_text => Cell::Text(iso(d)),
        DateForm::Iso => Cell::Date(d),
        DateForm::Compact => Cell::Text(format!("{:04}{:02}{:02}", d.year(), d.month(), d.day())),
        DateForm::Dotted => Cell::Text(format!("{:02}.{:02}.{:04}", d.day(), d.month(), d.year())),
    }
}

/// `YYYY-MM-DD`, without chrono's format-string interpreter (this runs millions of times in the bench).
fn iso(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

fn fte_cell(tenths: u32, dot: bool) -> Cell {
    let value = f64::from(tenths) / 10.0;
    match (tenths % 10, dot) {
        (0, _) => Cell::Number((tenths / 10).to_string(), value),
        (frac, true) => Cell::Text(format!("{}.{frac}", tenths / 10)),
        (frac, false) => Cell::Number(format!("{},{frac}", tenths / 10), value),
    }
}

fn salary_cell(ore: u64, plain: bool) -> Cell {
    let (kr, rest) = (ore / 100, ore % 100);
    match (rest, plain) {
        (0, false) => Cell::Number(thousands(kr), kr as f64),
        (0, true) => Cell::Text(kr.to_string()),
        (_, false) => Cell::Number(format!("{kr},{rest:02}"), ore as f64 / 100.0),
        (_, true) => Cell::Text(format!("{kr}.{rest:02}")),
    }
}

/// `38500` → `38 500`, as Swedish payroll exports write amounts.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Lower-case ASCII for e-mail local parts: `Åsa Öberg` → `asa.oberg`.
fn ascii_fold(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c.to_lowercase().next().unwrap_or(c) {
            'å' | 'ä' => Some('a'),
            'ö' => Some('o'),
            'é' => Some('e'),
            c if c.is_ascii_alphanumeric() => Some(c),
            ' ' | '-' => Some('-'),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Generating people
// ---------------------------------------------------------------------------------------------

/// Hands out unique ids, personnummer and e-mail addresses for one generated tenant.
struct Factory {
    rng: ChaCha8Rng,
    next_numeric: u32,
    next_e: u32,
    used_pn: BTreeSet<(NaiveDate, u16)>,
    used_email: BTreeSet<String>,
    /// Every canary personnummer put into a note, so no employee is ever given one.
    note_pns: BTreeSet<String>,
}

impl Factory {
    fn new(seed: u64) -> Factory {
        Factory {
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_numeric: 100,
            next_e: 10_000,
            used_pn: BTreeSet::new(),
            used_email: BTreeSet::new(),
            note_pns: BTreeSet::new(),
        }
    }

    /// `000123` for most, `E10023` for staff of an acquired subsidiary.
    fn id(&mut self) -> String {
        if self.rng.random_bool(0.08) {
            self.next_e += self.rng.random_range(1..4);
            format!("E{}", self.next_e)
        } else {
            self.next_numeric += self.rng.random_range(1..3);
            format!("{:06}", self.next_numeric)
        }
    }

    fn pn(&mut self) -> Pn {
        loop {
            let birth = ymd(1960, 1, 1) + Days::new(self.rng.random_range(0..16_000));
            // Serial 000 is never issued, and validators reject it despite a valid check digit.
            let serial = self.rng.random_range(1..1000);
            // Unique on (date, serial): a samordningsnummer of the same date and serial would be a
            // different number, but keeping them apart avoids even a look-alike.
            if self.used_pn.insert((birth, serial)) {
                return Pn { birth, serial, coordination: self.rng.random_bool(0.03) };
            }
        }
    }

    fn email(&mut self, first: &str, last: &str) -> String {
        let base = format!("{}.{}", ascii_fold(first), ascii_fold(last));
        let mut candidate = format!("{base}@acme.se");
        let mut n = 2;
        while !self.used_email.insert(candidate.clone()) {
            candidate = format!("{base}{n}@acme.se");
            n += 1;
        }
        candidate
    }

    fn mobile(&mut self) -> String {
        let prefix = ["70", "72", "73", "76", "79"].choose(&mut self.rng).copied().unwrap_or("70");
        format!("{prefix}{:07}", self.rng.random_range(0..10_000_000))
    }

    /// A valid personnummer that belongs to nobody in the file, for free-text notes.
    fn note_pn(&mut self, short: bool) -> String {
        let pn = self.pn();
        let written = pn.write(if short { PnForm::Short } else { PnForm::Long }, pn.check_digit());
        self.note_pns.insert(written.clone());
        written
    }

    fn unmapped(&mut self, id: &str, with_newline: bool) -> Unmapped {
        let mut canaries = vec![
            format!("CANARYUNION-{id}"),
            format!("CANARYSICK-{id}"),
            format!("CANARYNOTE-{id}"),
            format!("CANARYADDR-{id}"),
        ];
        let roll = self.rng.random_range(0..100);
        let note = if with_newline {
            let pn = self.note_pn(false);
            canaries.push(pn.clone());
            format!("CANARYNOTE-{id} rad 1\nrad 2: ring {pn}")
        } else if roll < 35 {
            let pn = self.note_pn(false);
            canaries.push(pn.clone());
            format!("Ring CANARYNOTE-{id} om {pn}")
        } else if roll < 70 {
            format!("CANARYNOTE-{id}")
        } else if roll < 85 {
            format!("CANARYNOTE-{id}, se \"avtal 2024\"; ring HR")
        } else {
            let pn = self.note_pn(true);
            canaries.push(pn.clone());
            format!("Sjukskriven enl. CANARYNOTE-{id}, pnr {pn}")
        };
        let street = STREETS.choose(&mut self.rng).copied().unwrap_or("Storgatan");
        let (zip, city) = CITIES.choose(&mut self.rng).copied().unwrap_or(("111 22", "Stockholm"));
        let number = self.rng.random_range(1..80);
        Unmapped {
            union: format!("CANARYUNION-{id}"),
            sick: format!("CANARYSICK-{id}"),
            note,
            address: format!("CANARYADDR-{id} {street} {number}, {zip} {city}"),
            canaries,
        }
    }

    fn dept(&mut self) -> usize {
        let total: u32 = DEPTS.iter().map(|d| d.weight).sum();
        let mut pick = self.rng.random_range(0..total);
        for (i, d) in DEPTS.iter().enumerate() {
            if pick < d.weight {
                return i;
            }
            pick -= d.weight;
        }
        0
    }

    fn kind(&mut self) -> EmpType {
        match self.rng.random_range(0..100) {
            0..75 => EmpType::Tillsvidare,
            75..87 => EmpType::Visstid,
            87..94 => EmpType::Timanstalld,
            _ => EmpType::Provanstallning,
        }
    }

    /// Start and end dates: fixed-term staff have an end date (most in the future, some already
    /// passed but still exported), a few permanent staff have resigned.
    fn dates(&mut self, kind: EmpType, birth: NaiveDate) -> (NaiveDate, Option<NaiveDate>) {
        let adult = birth + Months::new(18 * 12);
        let earliest = adult.max(ymd(1995, 1, 1));
        let recent = matches!(kind, EmpType::Visstid | EmpType::Provanstallning);
        let from = if recent { earliest.max(ymd(2024, 1, 1)) } else { earliest };
        let span = (ymd(2026, 9, 30) - from).num_days().max(1) as u64;
        let start = from + Days::new(self.rng.random_range(0..span));
        let end = match kind {
            EmpType::Visstid if self.rng.random_bool(0.8) => {
                Some(month_end(ymd(2026, 11, 1) + Months::new(self.rng.random_range(1..14))))
            }
            EmpType::Visstid => Some(month_end(ymd(2026, 6, 1) + Months::new(self.rng.random_range(0..4)))),
            EmpType::Tillsvidare if self.rng.random_bool(0.03) => {
                Some(month_end(ymd(2026, 8, 1) + Months::new(self.rng.random_range(0..5))))
            }
            _ => None,
        };
        (start, end.map(|e| e.max(start + Days::new(30))))
    }

    fn person(&mut self, newline_note: bool) -> Person {
        let id = self.id();
        let pn = self.pn();
        let first = FIRST_NAMES.choose(&mut self.rng).copied().unwrap_or("Anna").to_owned();
        let last = LAST_NAMES.choose(&mut self.rng).copied().unwrap_or("Andersson").to_owned();
        let email = self.rng.random_bool(0.95).then(|| self.email(&first, &last));
        let mobile = self.rng.random_bool(0.85).then(|| self.mobile());
        let dept = self.dept();
        let cost_centre = DEPTS[dept].cost_centres.choose(&mut self.rng).copied().unwrap_or("1000").to_owned();
        let title = DEPTS[dept].titles.choose(&mut self.rng).copied().unwrap_or("").to_owned();
        let kind = self.kind();
        let (start, end) = self.dates(kind, pn.birth);
        let (fte, salary) = self.pay(kind);
        let unmapped = self.unmapped(&id, newline_note);
        let style = Style {
            pn: match self.rng.random_range(0..100) {
                0..85 => PnForm::Long,
                85..93 => PnForm::Short,
                _ => PnForm::LongPlain,
            },
            dates_as_text: self.rng.random_bool(0.2),
            ..Style::default()
        };
        Person {
            id,
            pn,
            first,
            last,
            email,
            mobile,
            dept,
            cost_centre,
            title,
            kind,
            start,
            end,
            fte,
            salary,
            manager: None,
            is_manager: false,
            unmapped,
            style,
        }
    }

    fn pay(&mut self, kind: EmpType) -> (u32, Option<u64>) {
        if kind == EmpType::Timanstalld {
            // Hourly staff: scheduled share of full time, no monthly salary.
            return ([250, 400, 500].choose(&mut self.rng).copied().unwrap_or(500), None);
        }
        let fte = match self.rng.random_range(0..100) {
            0..78 => 1000,
            78..86 => 800,
            86..91 => 750,
            91..95 => 625,
            95..97 => 375,
            _ => 500,
        };
        let kr = u64::from(self.rng.random_range(260..850u32)) * 100;
        let ore =
            if self.rng.random_bool(0.15) { [50, 25, 75].choose(&mut self.rng).copied().unwrap_or(50) } else { 0 };
        (fte, Some(kr * 100 + ore))
    }
}

fn month_end(d: NaiveDate) -> NaiveDate {
    let first = ymd(d.year(), d.month(), 1);
    first + Months::new(1) - Days::new(1)
}

/// Department heads report to the CEO, team leads to their head, everybody else to a team lead.
fn assign_managers(people: &mut [Person], rng: &mut ChaCha8Rng) {
    let ceo = people[0].id.clone();
    people[0].dept = 0;
    people[0].cost_centre = "1000".into();
    people[0].title = "Verkställande direktör".into();
    people[0].kind = EmpType::Tillsvidare;
    people[0].end = None;
    people[0].is_manager = true;
    let mut by_dept: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, p) in people.iter().enumerate().skip(1) {
        by_dept.entry(p.dept).or_default().push(i);
    }
    for members in by_dept.values() {
        let head = members[0];
        let mut leads = vec![head];
        for (pos, &i) in members.iter().enumerate() {
            let p = &mut people[i];
            if pos == 0 {
                (p.title, p.manager, p.is_manager) = ("Avdelningschef".into(), Some(ceo.clone()), true);
                (p.kind, p.end) = (EmpType::Tillsvidare, None);
            } else if pos % 12 == 1 {
                (p.title, p.is_manager) = ("Gruppchef".into(), true);
                (p.kind, p.end) = (EmpType::Tillsvidare, None);
                leads.push(i);
            }
        }
        let lead_ids: Vec<String> = leads.iter().map(|&i| people[i].id.clone()).collect();
        for &i in &members[1..] {
            if people[i].title != "Gruppchef" {
                people[i].manager = lead_ids.choose(rng).cloned();
            } else {
                people[i].manager = Some(lead_ids[0].clone());
            }
        }
    }
}

/// The managers of each department, for hires and moves.
fn leads_by_dept(people: &[Person]) -> BTreeMap<usize, Vec<String>> {
    let mut leads: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for p in people.iter().skip(1).filter(|p| p.is_manager) {
        leads.entry(p.dept).or_default().push(p.id.clone());
    }
    leads
}

// ---------------------------------------------------------------------------------------------
// The reference scenario: day 1 and day 2 with their expected outcomes
// ---------------------------------------------------------------------------------------------

/// What the pipeline must conclude about one day-2 row (or, for `Absent`, one register person).
#[derive(Clone, Debug)]
enum Outcome {
    Unchanged,
    New,
    Changed,
    Ended,
    Rehired,
    Rejected(&'static str, &'static str),
}

struct Entry {
    row: Row,
    outcome: Outcome,
    fields: Vec<&'static str>,
}

#[derive(Default)]
struct Expected {
    rows: u64,
    new: u64,
    changed: u64,
    unchanged: u64,
    ended: u64,
    rehired: u64,
    missing: u64,
    rejected: u64,
    changed_fields: BTreeMap<&'static str, u64>,
    rejections: Vec<(u64, &'static str, &'static str)>,
}

impl Expected {
    fn of(entries: &[Entry], missing: u64) -> Expected {
        let mut e = Expected { rows: entries.len() as u64, missing, ..Expected::default() };
        for (i, entry) in entries.iter().enumerate() {
            match entry.outcome {
                Outcome::Unchanged => e.unchanged += 1,
                Outcome::New => e.new += 1,
                Outcome::Changed => e.changed += 1,
                Outcome::Ended => e.ended += 1,
                Outcome::Rehired => e.rehired += 1,
                Outcome::Rejected(field, rule) => {
                    e.rejected += 1;
                    e.rejections.push((i as u64 + 1, field, rule));
                }
            }
            if matches!(entry.outcome, Outcome::Changed | Outcome::Ended | Outcome::Rehired) {
                for field in &entry.fields {
                    *e.changed_fields.entry(field).or_default() += 1;
                }
            }
        }
        e
    }

    /// Keys are inserted in sorted order, so the output is the same whether or not serde_json's
    /// `preserve_order` feature is on somewhere in the dependency graph.
    fn to_json(&self, with_rejections: bool) -> Value {
        let fields: serde_json::Map<String, Value> =
            self.changed_fields.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        let counts = json!({
            "changed": self.changed, "ended": self.ended, "missing": self.missing, "new": self.new,
            "rehired": self.rehired, "rejected": self.rejected, "rows": self.rows, "unchanged": self.unchanged,
        });
        if !with_rejections {
            return json!({ "changed_fields": fields, "counts": counts });
        }
        let rejections: Vec<Value> = self
            .rejections
            .iter()
            .map(|(row, field, rule)| json!({ "field": field, "row": row, "rule": rule }))
            .collect();
        json!({ "changed_fields": fields, "counts": counts, "rejections": rejections })
    }
}

/// What happens to a day-1 person on day 2.
#[derive(Clone, Copy, Debug)]
enum Plan {
    Keep,
    Missing,
    AbsentEnded,
    End,
    MoveEnd,
    RehireRemove,
    RehireRestart { new_end: bool },
    Change(u8),
    Invalid(u8),
    Duplicate,
    Equivalent(u8, Option<u8>),
}

const CHANGE_KINDS: u8 = 14;
const EQUIVALENT_KINDS: u8 = 10;
const INVALID_KINDS: [(&str, &str); 8] = [
    ("national_id", "personnummer_luhn"),
    ("start_date", "date_format"),
    ("employment_type", "enum"),
    ("fte_percent", "range"),
    ("end_date", "date_order"),
    ("email", "email"),
    ("first_name", "required"),
    ("monthly_salary", "decimal"),
];

struct Scenario {
    day1: Vec<Row>,
    day2: Vec<Entry>,
    expected1: Expected,
    expected2: Expected,
    canaries: Vec<String>,
}

impl Scenario {
    fn build() -> Scenario {
        let mut f = Factory::new(FIXTURE_SEED);
        let mut people: Vec<Person> = (0..3000).map(|i| f.person(i == 7)).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(FIXTURE_SEED + 1);
        assign_managers(&mut people, &mut rng);
        people.sort_by(|a, b| a.id.cmp(&b.id));
        let plans = plan_day2(&people, &mut rng);
        let (mut day2, missing) = apply_plans(&people, &plans, &mut rng);
        add_hires(&mut f, &people, &mut day2, &mut rng);
        day2.shuffle(&mut rng);
        let day1_entries: Vec<Entry> = people
            .iter()
            .map(|p| Entry { row: Row::plain(p.clone()), outcome: Outcome::New, fields: vec![] })
            .collect();
        let expected1 = Expected::of(&day1_entries, 0);
        let expected2 = Expected::of(&day2, missing);
        let canaries = sample_canaries(&people, &day2);
        Scenario { day1: day1_entries.into_iter().map(|e| e.row).collect(), day2, expected1, expected2, canaries }
    }
}

/// Chooses disjoint sets of non-managers for every kind of day-2 event.
fn plan_day2(people: &[Person], rng: &mut ChaCha8Rng) -> Vec<Plan> {
    let mut pool: Vec<usize> = (0..people.len()).filter(|&i| !people[i].is_manager).collect();
    pool.shuffle(rng);
    let mut plans = vec![Plan::Keep; people.len()];
    // Takes the first `n` people of the shuffled pool that fit the plan for the k-th pick.
    let mut take = |n: usize, plan: &dyn Fn(usize) -> Plan, ok: &dyn Fn(&Person, Plan) -> bool| {
        let mut taken = 0;
        pool.retain(|&i| {
            let candidate = plan(taken);
            let fits = taken < n && ok(&people[i], candidate);
            if fits {
                plans[i] = candidate;
                taken += 1;
            }
            !fits
        });
        taken
    };
    let past = |p: &Person| p.end.is_some_and(|e| e < day1_date());
    take(15, &|_| Plan::Missing, &|p, _| p.end.is_none());
    take(5, &|_| Plan::AbsentEnded, &|p, _| past(p));
    take(30, &|_| Plan::End, &|p, _| p.end.is_none());
    take(10, &|_| Plan::MoveEnd, &|p, _| p.end.is_some_and(|e| e > day1_date()));
    take(5, &|_| Plan::RehireRemove, &|p, _| past(p));
    take(5, &|k| Plan::RehireRestart { new_end: k >= 3 }, &|p, _| past(p));
    take(90, &|k| Plan::Change((k % CHANGE_KINDS as usize) as u8), &change_fits);
    take(8, &|k| Plan::Invalid(k as u8), &|p, _| p.end.is_none() && p.salary.is_some() && p.email.is_some());
    take(1, &|_| Plan::Duplicate, &|p, _| p.end.is_none());
    take(40, &|k| equivalent_plan(k), &equivalent_fits);
    plans
}

fn equivalent_plan(k: usize) -> Plan {
    let first = (k % EQUIVALENT_KINDS as usize) as u8;
    let second = (k >= 30).then_some(((k + 3) % EQUIVALENT_KINDS as usize) as u8);
    Plan::Equivalent(first, second)
}

fn change_fits(p: &Person, plan: Plan) -> bool {
    let Plan::Change(kind) = plan else { return false };
    let open = p.end.is_none();
    match kind {
        3 => p.mobile.is_some(),
        4 | 10 => p.salary.is_some(),
        7 => DEPTS[p.dept].cost_centres.len() > 1,
        9 => p.kind == EmpType::Provanstallning && open,
        11 => p.email.is_some(),
        12 => p.mobile.is_none(),
        13 => open,
        _ => true,
    }
}

fn equivalent_fits(p: &Person, plan: Plan) -> bool {
    let Plan::Equivalent(a, b) = plan else { return false };
    let fits = |kind: u8| match kind {
        1 | 2 => p.mobile.is_some(),
        3 => p.email.is_some(),
        4 => p.salary.is_some(),
        9 => !p.fte.is_multiple_of(10),
        _ => true,
    };
    fits(a) && b.is_none_or(fits)
}

/// Builds the day-2 rows of the day-1 people; returns them and the number of missing people.
fn apply_plans(people: &[Person], plans: &[Plan], rng: &mut ChaCha8Rng) -> (Vec<Entry>, u64) {
    let leads = leads_by_dept(people);
    let mut entries = Vec::new();
    let mut missing = 0;
    for (p, plan) in people.iter().zip(plans) {
        let mut q = p.clone();
        let mut overrides = Vec::new();
        let outcome = match *plan {
            Plan::Keep => Outcome::Unchanged,
            Plan::Missing => {
                missing += 1;
                continue;
            }
            Plan::AbsentEnded => continue,
            Plan::End => {
                q.end = Some(month_end(ymd(2026, 10 + rng.random_range(0..3), 1)).max(q.start));
                Outcome::Ended
            }
            Plan::MoveEnd => {
                let old = q.end.unwrap_or(day1_date());
                q.end = Some(if rng.random_bool(0.5) {
                    month_end(old + Months::new(6))
                } else {
                    day1_date() + Days::new(29)
                });
                Outcome::Ended
            }
            Plan::RehireRemove => {
                q.end = None;
                Outcome::Rehired
            }
            Plan::RehireRestart { new_end } => {
                q.start = ymd(2026, 11, 2);
                q.end = new_end.then(|| ymd(2027, 4, 30));
                q.kind = if new_end { EmpType::Visstid } else { EmpType::Tillsvidare };
                Outcome::Rehired
            }
            Plan::Change(kind) => {
                apply_change(&mut q, kind, &leads, rng);
                Outcome::Changed
            }
            Plan::Invalid(kind) => {
                overrides.push(invalid_cell(&q, kind));
                let (field, rule) = INVALID_KINDS[kind as usize];
                Outcome::Rejected(field, rule)
            }
            Plan::Duplicate => {
                let mut second = q.clone();
                second.salary = second.salary.map(|s| s + 100_000);
                entries.push(Entry {
                    row: Row::plain(second),
                    outcome: Outcome::Rejected("employee_id", "duplicate_key"),
                    fields: vec![],
                });
                Outcome::Rejected("employee_id", "duplicate_key")
            }
            Plan::Equivalent(a, b) => {
                restyle(&mut q, a);
                if let Some(b) = b {
                    restyle(&mut q, b);
                }
                Outcome::Unchanged
            }
        };
        let fields = changed_fields(p, &q);
        let outcome = check_outcome(outcome, &fields);
        entries.push(Entry { row: Row { person: q, overrides }, outcome, fields });
    }
    (entries, missing)
}

/// Guards against a plan that silently did nothing (e.g. a random pick equal to the old value):
/// such a row is unchanged, whatever the plan intended.
fn check_outcome(outcome: Outcome, fields: &[&str]) -> Outcome {
    match outcome {
        Outcome::Changed | Outcome::Ended | Outcome::Rehired if fields.is_empty() => Outcome::Unchanged,
        other => other,
    }
}

fn apply_change(q: &mut Person, kind: u8, leads: &BTreeMap<usize, Vec<String>>, rng: &mut ChaCha8Rng) {
    let other_lead = |q: &Person, dept: usize, rng: &mut ChaCha8Rng| {
        let options: Vec<&String> =
            leads[&dept].iter().filter(|l| Some(*l) != q.manager.as_ref() && **l != q.id).collect();
        options.choose(rng).map(|s| (*s).clone())
    };
    match kind {
        0 => {
            let dept = (q.dept + 1 + rng.random_range(0..DEPTS.len() - 1)) % DEPTS.len();
            q.dept = dept;
            q.cost_centre = DEPTS[dept].cost_centres[0].to_owned();
            q.title = DEPTS[dept].titles[0].to_owned();
            q.manager = other_lead(q, dept, rng).or(q.manager.take());
        }
        1 => q.title = format!("Senior {}", q.title.to_lowercase()),
        2 => q.email = q.email.as_ref().map(|e| e.replace("@acme.se", "@acmegroup.se")),
        3 | 12 => q.mobile = Some(format!("76{:07}", rng.random_range(0..10_000_000))),
        4 => q.salary = q.salary.map(|s| (s / 100 * 104 / 10_000) * 10_000 + 100_000),
        5 => q.fte = if q.fte == 1000 { 800 } else { 1000 },
        6 => q.last = format!("{}-Lindholm", q.last),
        7 => {
            let ccs = DEPTS[q.dept].cost_centres;
            q.cost_centre = ccs.iter().find(|c| **c != q.cost_centre).copied().unwrap_or(ccs[0]).to_owned();
        }
        8 => q.manager = other_lead(q, q.dept, rng).or(q.manager.take()),
        9 => q.kind = EmpType::Tillsvidare,
        10 => {
            q.salary = q.salary.map(|s| s + 250_000);
            q.fte = if q.fte == 1000 { 750 } else { 1000 };
        }
        11 => q.email = None,
        _ => q.start = q.start - Months::new(1),
    }
}

/// The one cell that makes a day-2 row break one rule (see `INVALID_KINDS`).
fn invalid_cell(p: &Person, kind: u8) -> (usize, Cell) {
    match kind {
        0 => (C_PN, Cell::Text(p.pn.write(p.style.pn, (p.pn.check_digit() + 3) % 10))),
        1 => (C_START, Cell::Text(format!("{}-02-30", p.start.year()))),
        2 => (C_TYPE, Cell::Text("Konsult".into())),
        3 => (C_FTE, Cell::Number("120".into(), 120.0)),
        4 => (C_END, date_cell(p.start - Days::new(14), p.style)),
        5 => (C_EMAIL, Cell::Text(format!("{}.{}.acme.se", ascii_fold(&p.first), ascii_fold(&p.last)))),
        6 => (C_FIRST, Cell::Empty),
        _ => (C_SALARY, Cell::Text("1.234,50".into())),
    }
}

/// Writes the same values in another accepted form.
fn restyle(q: &mut Person, kind: u8) {
    let s = &mut q.style;
    match kind {
        0 => {
            s.pn = match s.pn {
                PnForm::Long => PnForm::LongPlain,
                PnForm::LongPlain => PnForm::Short,
                PnForm::Short => PnForm::Long,
            }
        }
        1 => s.mobile = MobileForm::Plus,
        2 => s.mobile = MobileForm::Zeros,
        3 => s.email_upper = true,
        4 => s.salary_plain = true,
        5 => s.date = DateForm::Compact,
        6 => s.date = DateForm::Dotted,
        7 => {
            // Upper case only where it stays ASCII: `TIMANSTÄLLD` would test Unicode case folding,
            // which the reference does not promise.
            s.type_case = match q.kind {
                EmpType::Tillsvidare | EmpType::Visstid => TypeCase::Upper,
                _ => TypeCase::Lower,
            }
        }
        8 => s.names_padded = true,
        _ => s.fte_dot = true,
    }
}

/// Thirty valid hires and one hire whose row breaks a rule.
fn add_hires(f: &mut Factory, people: &[Person], day2: &mut Vec<Entry>, rng: &mut ChaCha8Rng) {
    let leads = leads_by_dept(people);
    for k in 0..31 {
        let mut p = f.person(false);
        p.kind = [EmpType::Provanstallning, EmpType::Visstid, EmpType::Tillsvidare][k % 3];
        p.start = ymd(2026, 11, 1) + Days::new(rng.random_range(0..31));
        p.end = (p.kind == EmpType::Visstid).then(|| ymd(2027, 5, 31));
        p.manager = leads[&p.dept].choose(rng).cloned();
        if p.kind == EmpType::Timanstalld || p.salary.is_none() {
            p.salary = Some(3_200_000);
        }
        if k == 30 {
            let row = Row { person: p, overrides: vec![(C_DEPT, Cell::Empty)] };
            day2.push(Entry { row, outcome: Outcome::Rejected("department", "required"), fields: vec![] });
        } else {
            day2.push(Entry { row: Row::plain(p), outcome: Outcome::New, fields: vec![] });
        }
    }
}

/// A deterministic sample of at most 200 canaries: every rejected row's (quarantine must not keep
/// unmapped columns either) and the quoted-newline note's first, then every 50th person's while
/// they fit whole.
fn sample_canaries(people: &[Person], day2: &[Entry]) -> Vec<String> {
    let mut set = BTreeSet::new();
    let rejected = day2.iter().filter(|e| matches!(e.outcome, Outcome::Rejected(..))).map(|e| &e.row.person);
    let newline = people.iter().filter(|p| p.unmapped.note.contains('\n'));
    for p in rejected.chain(newline).chain(people.iter().step_by(50)) {
        if set.len() + p.unmapped.canaries.len() > 200 {
            break;
        }
        set.extend(p.unmapped.canaries.iter().cloned());
    }
    set.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------
// Writers: CSV dialects, XLSX, ODS
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Encoding {
    Windows1252,
    Utf8,
    Utf8Bom,
    Utf16LeBom,
}

#[derive(Clone, Copy)]
struct Dialect {
    delimiter: char,
    encoding: Encoding,
    crlf: bool,
}

const PAYROLL: Dialect = Dialect { delimiter: ';', encoding: Encoding::Windows1252, crlf: true };
const WEB: Dialect = Dialect { delimiter: ',', encoding: Encoding::Utf8Bom, crlf: true };
const UNICODE_TEXT: Dialect = Dialect { delimiter: '\t', encoding: Encoding::Utf16LeBom, crlf: true };
const PLAIN: Dialect = Dialect { delimiter: ';', encoding: Encoding::Utf8, crlf: true };

/// Appends one CSV record, quoting only cells that need it (as Excel does).
fn push_record<S: AsRef<str>>(out: &mut String, cells: &[S], d: Dialect) {
    for (i, cell) in cells.iter().enumerate() {
        let cell = cell.as_ref();
        if i > 0 {
            out.push(d.delimiter);
        }
        if cell.contains([d.delimiter, '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(cell);
        }
    }
    out.push_str(if d.crlf { "\r\n" } else { "\n" });
}

fn encode(text: &str, encoding: Encoding) -> io::Result<Vec<u8>> {
    Ok(match encoding {
        Encoding::Utf8 => text.as_bytes().to_vec(),
        Encoding::Utf8Bom => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        Encoding::Utf16LeBom => {
            let mut out = vec![0xFF, 0xFE];
            out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            out
        }
        Encoding::Windows1252 => {
            let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
            if unmappable {
                return Err(io::Error::other("a value cannot be written in Windows-1252"));
            }
            bytes.into_owned()
        }
    })
}

fn csv_bytes(header: &[&str], rows: &[Vec<Cell>], d: Dialect) -> io::Result<Vec<u8>> {
    let mut text = String::new();
    push_record(&mut text, header, d);
    for row in rows {
        let cells: Vec<String> = row.iter().map(Cell::text).collect();
        push_record(&mut text, &cells, d);
    }
    encode(&text, d.encoding)
}

fn xlsx_error(e: XlsxError) -> io::Error {
    io::Error::other(e.to_string())
}

/// What an XLSX export looks like around its rows.
struct XlsxLayout<'a> {
    title: Option<&'a str>,
    header: Option<&'a [&'a str]>,
    trailing_blank_rows: u32,
}

/// A workbook as a spreadsheet program saves an export: an optional title row and blank row
/// above the header, ids as text, numbers as numbers, dates as date cells, formatted empty rows
/// at the end. The creation time is fixed so the bytes are reproducible.
fn xlsx_bytes<R: AsRef<[Cell]>>(rows: impl IntoIterator<Item = R>, layout: &XlsxLayout<'_>) -> io::Result<Vec<u8>> {
    let mut workbook = Workbook::new();
    let created = ExcelDateTime::from_ymd(2026, 11, 1).and_then(|d| d.and_hms(2, 0, 0)).map_err(xlsx_error)?;
    workbook.set_properties(&DocProperties::new().set_author("Lönesystem").set_creation_datetime(&created));
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let money = Format::new().set_num_format("#,##0.00");
    let sheet = workbook.add_worksheet();
    sheet.set_name("Personal").map_err(xlsx_error)?;
    let mut r = 0;
    if let Some(title) = layout.title {
        sheet.write_string_with_format(0, 0, title, &bold).map_err(xlsx_error)?;
        r = 2;
    }
    if let Some(header) = layout.header {
        for (c, h) in header.iter().enumerate() {
            sheet.write_string_with_format(r, c as u16, *h, &bold).map_err(xlsx_error)?;
        }
        r += 1;
    }
    for row in rows {
        for (c, cell) in row.as_ref().iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Empty => continue,
                Cell::Text(s) => sheet.write_string(r, c, s),
                Cell::Number(_, v) if c as usize == C_SALARY => sheet.write_number_with_format(r, c, *v, &money),
                Cell::Number(_, v) => sheet.write_number(r, c, *v),
                Cell::Date(d) => {
                    let x =
                        ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8).map_err(xlsx_error)?;
                    sheet.write_datetime_with_format(r, c, &x, &date)
                }
            }
            .map_err(xlsx_error)?;
        }
        r += 1;
    }
    for _ in 0..layout.trailing_blank_rows {
        for c in 0..NCOLS as u16 {
            sheet.write_blank(r, c, &bold).map_err(xlsx_error)?;
        }
        r += 1;
    }
    workbook.save_to_buffer().map_err(xlsx_error)
}

/// Zip entries get this timestamp, so the archive's bytes do not depend on when it was built.
fn zip_options(method: CompressionMethod) -> io::Result<SimpleFileOptions> {
    let time = zip::DateTime::from_date_and_time(2026, 11, 1, 2, 0, 0).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(SimpleFileOptions::default().compression_method(method).last_modified_time(time).unix_permissions(0o644))
}

fn zip_bytes(entries: &[(&str, &[u8])], stored_first: bool) -> io::Result<Vec<u8>> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (i, (name, data)) in entries.iter().enumerate() {
        let method = if stored_first && i == 0 { CompressionMethod::Stored } else { CompressionMethod::Deflated };
        zip.start_file(*name, zip_options(method)?)?;
        zip.write_all(data)?;
    }
    Ok(zip.finish()?.into_inner())
}

const ODS_MANIFEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"#;

/// An ODS spreadsheet built by hand: `mimetype` stored first, then `content.xml` and the manifest.
fn ods_bytes(header: Option<&[&str]>, rows: &[Vec<Cell>], trailing_blank_rows: u32) -> io::Result<Vec<u8>> {
    let mut xml = String::from(concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        "\n",
        r#"<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" "#,
        r#"xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" "#,
        r#"xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">"#,
        "<office:body><office:spreadsheet><table:table table:name=\"Personal\">\n"
    ));
    if let Some(header) = header {
        let cells: Vec<Cell> = header.iter().map(|h| Cell::Text((*h).to_owned())).collect();
        ods_row(&mut xml, &cells);
    }
    for row in rows {
        ods_row(&mut xml, row);
    }
    if trailing_blank_rows > 0 {
        let _ = writeln!(
            xml,
            "<table:table-row table:number-rows-repeated=\"{trailing_blank_rows}\"><table:table-cell table:number-columns-repeated=\"{NCOLS}\"/></table:table-row>"
        );
    }
    xml.push_str("</table:table></office:spreadsheet></office:body></office:document-content>\n");
    zip_bytes(
        &[
            ("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
            ("content.xml", xml.as_bytes()),
            ("META-INF/manifest.xml", ODS_MANIFEST.as_bytes()),
        ],
        true,
    )
}

fn ods_row(xml: &mut String, cells: &[Cell]) {
    xml.push_str("<table:table-row>");
    for cell in cells {
        match cell {
            Cell::Empty => xml.push_str("<table:table-cell/>"),
            Cell::Text(s) => {
                let _ = write!(
                    xml,
                    "<table:table-cell office:value-type=\"string\">{}</table:table-cell>",
                    ods_paragraphs(s)
                );
            }
            Cell::Number(text, v) => {
                let _ = write!(
                    xml,
                    "<table:table-cell office:value-type=\"float\" office:value=\"{v}\">{}</table:table-cell>",
                    ods_paragraphs(text)
                );
            }
            Cell::Date(d) => {
                let iso = iso(*d);
                let _ = write!(
                    xml,
                    "<table:table-cell office:value-type=\"date\" office:date-value=\"{iso}\"><text:p>{iso}</text:p></table:table-cell>"
                );
            }
        }
    }
    xml.push_str("</table:table-row>\n");
}

/// Text as ODF paragraphs: one `text:p` per line, and `text:s` for spaces ODF would otherwise
/// collapse (leading, trailing, repeated), so padded names keep their padding.
fn ods_paragraphs(s: &str) -> String {
    let mut out = String::new();
    for line in s.split('\n') {
        out.push_str("<text:p>");
        let chars: Vec<char> = line.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            match c {
                ' ' if i == 0 || i + 1 == chars.len() || chars[i - 1] == ' ' => out.push_str("<text:s/>"),
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                c => out.push(c),
            }
        }
        out.push_str("</text:p>");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Committed fixtures
// ---------------------------------------------------------------------------------------------

/// Writes `reference/` (day 1 and day 2 in five formats, expected outcomes, canaries) and `bad/`.
pub fn write_fixtures(out: &Path) -> io::Result<()> {
    let reference = out.join("reference");
    fs::create_dir_all(&reference)?;
    let scenario = Scenario::build();
    let day2_rows: Vec<Row> = scenario.day2.iter().map(|e| e.row.clone()).collect();
    for (day, rows, date) in [("day1", &scenario.day1, "2026-11-01"), ("day2", &day2_rows, "2026-11-02")] {
        let cells: Vec<Vec<Cell>> = rows.iter().map(Row::cells).collect();
        fs::write(reference.join(format!("{day}.win1252.csv")), csv_bytes(&HEADERS, &cells, PAYROLL)?)?;
        fs::write(reference.join(format!("{day}.utf8bom.csv")), csv_bytes(&HEADERS, &cells, WEB)?)?;
        fs::write(reference.join(format!("{day}.utf16.txt")), csv_bytes(&HEADERS, &cells, UNICODE_TEXT)?)?;
        let title = format!("Personalexport Acme AB {date}");
        let layout = XlsxLayout { title: Some(&title), header: Some(&HEADERS), trailing_blank_rows: 2 };
        fs::write(reference.join(format!("{day}.xlsx")), xlsx_bytes(&cells, &layout)?)?;
        fs::write(reference.join(format!("{day}.ods")), ods_bytes(Some(&HEADERS), &cells, 2)?)?;
    }
    let expected = json!({
        "day1": scenario.expected1.to_json(true),
        "day2": scenario.expected2.to_json(true),
    });
    fs::write(reference.join("expected.json"), pretty(&expected)?)?;
    let mut canaries = scenario.canaries.join("\n");
    canaries.push('\n');
    fs::write(reference.join("canaries.txt"), canaries)?;
    tenants::write_tenants(&out.join("tenants"))?;
    write_bad(&out.join("bad"))
}

fn pretty(value: &Value) -> io::Result<String> {
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    Ok(text)
}

// ---------------------------------------------------------------------------------------------
// The bad-input corpus
// ---------------------------------------------------------------------------------------------

struct BadCase {
    file: &'static str,
    bytes: Vec<u8>,
    exit: u8,
    error: &'static str,
    why: &'static str,
}

fn bad(file: &'static str, bytes: Vec<u8>, error: &'static str, why: &'static str) -> BadCase {
    BadCase { file, bytes, exit: 1, error, why }
}

fn fine(file: &'static str, bytes: Vec<u8>, why: &'static str) -> BadCase {
    BadCase { file, bytes, exit: 0, error: "", why }
}

/// Ten valid rows of a small tenant, as text cells and as typed cells.
fn small_export() -> (Vec<Vec<String>>, Vec<Vec<Cell>>) {
    let mut f = Factory::new(BAD_SEED);
    let mut people: Vec<Person> = (0..10).map(|_| f.person(false)).collect();
    // Two departments, so that most of the ten are staff rather than department heads.
    for (i, p) in people.iter_mut().enumerate() {
        p.dept = [10, 12][i % 2];
        p.cost_centre = DEPTS[p.dept].cost_centres[0].to_owned();
        p.title = DEPTS[p.dept].titles[i % 2].to_owned();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(BAD_SEED);
    assign_managers(&mut people, &mut rng);
    let cells: Vec<Vec<Cell>> = people.iter().map(render).collect();
    let text = cells.iter().map(|r| r.iter().map(Cell::text).collect()).collect();
    (text, cells)
}

fn csv_text<S: AsRef<str>>(header: &[S], rows: &[Vec<String>], d: Dialect) -> String {
    let mut out = String::new();
    push_record(&mut out, header, d);
    for row in rows {
        push_record(&mut out, row, d);
    }
    out
}

fn write_bad(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut cases = text_cases()?;
    cases.extend(header_cases());
    cases.extend(workbook_cases()?);
    let (_, rows) = small_export();
    cases.extend(hostile::cases(&xlsx_bytes(
        &rows,
        &XlsxLayout { title: None, header: Some(&HEADERS), trailing_blank_rows: 0 },
    )?)?);
    cases.extend(hostile::more_cases()?);
    cases.extend(fine_cases()?);
    cases.extend(hostile::fine_cases()?);
    let mut toml =
        String::from("# Bad-input corpus: each file and what `hrfeed ingest FILE --tenant acme` must do with it.\n");
    toml.push_str("# Generated by examples/gen_fixtures; exit 1 = the file is refused and nothing changes.\n");
    for case in &cases {
        fs::write(dir.join(case.file), &case.bytes)?;
        let _ = write!(toml, "\n[[case]]\nfile = {}\nexit = {}\n", toml_string(case.file), case.exit);
        if case.exit != 0 {
            let _ = writeln!(toml, "error = {}", toml_string(case.error));
        }
        let _ = writeln!(toml, "why = {}", toml_string(case.why));
    }
    fs::write(dir.join("expected.toml"), toml)
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Text files that break the reader: emptiness, raggedness, quotes, NULs, oversized cells.
fn text_cases() -> io::Result<Vec<BadCase>> {
    let (rows, _) = small_export();
    let good = csv_text(&HEADERS, &rows, PLAIN);
    let header_only = csv_text(&HEADERS, &[], PLAIN);
    let title = "Personalexport Acme AB 2026-11-01\r\n";
    let mut too_few = rows.clone();
    too_few[3].truncate(14);
    let mut extra = rows.clone();
    extra[5].push("överbliven cell".into());
    let mut last_open = good.clone();
    last_open.truncate(last_open.len() - 2);
    last_open = last_open.replacen(&rows[9][C_NOTE], &format!("\"{}", rows[9][C_NOTE].replace('"', "")), 1);
    let mid_open = unbalanced_mid(&rows);
    let mut nul = good.clone().into_bytes();
    let at = nul.len() / 2;
    nul.splice(at..at, [0u8, 0, 0]);
    let mut nul_1252 = encode(&csv_text(&HEADERS, &rows, PAYROLL), Encoding::Windows1252)?;
    nul_1252.splice(400..400, [0u8]);
    let utf16: Vec<u8> = good.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let utf16be: Vec<u8> = good.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let mut huge = rows.clone();
    huge[2][C_NOTE] = "CANARYHUGE ".repeat(7000);
    let long_line = "x".repeat(70 * 1024) + "\r\n";
    Ok(vec![
        bad("01-empty.csv", vec![], "the file is empty", "zero bytes"),
        bad(
            "02-whitespace-only.csv",
            b"\r\n   \r\n\t\r\n\n\n".to_vec(),
            "the file is empty",
            "only blank lines and whitespace: nothing to read, so treated as empty",
        ),
        bad("03-header-only.csv", header_only.clone().into_bytes(), "header row only", "a header and no data rows"),
        bad(
            "04-header-only-bom.csv",
            encode(&header_only, Encoding::Utf8Bom)?,
            "header row only",
            "UTF-8 BOM, header, no data rows",
        ),
        bad(
            "05-header-only-blank-lines.csv",
            format!("{header_only}\r\n\r\n\r\n").into_bytes(),
            "header row only",
            "header followed by blank lines only",
        ),
        bad(
            "06-no-header.csv",
            format!("{title}\r\n{}", csv_text(&rows[0], &rows[1..], PLAIN)).into_bytes(),
            "no header row found",
            "a title row and data rows, but no row names the key column",
        ),
        bad(
            "07-title-and-blank-lines-only.csv",
            format!("{title}\r\n\r\n\r\n").into_bytes(),
            "no header row found",
            "only a title row and blank lines",
        ),
        bad(
            "08-ragged-too-few-cells.csv",
            csv_text(&HEADERS, &too_few, PLAIN).into_bytes(),
            "row 4 has 14 cells, the header has 19",
            "data row 4 is cut short after 14 cells",
        ),
        bad(
            "09-ragged-extra-cell.csv",
            csv_text(&HEADERS, &extra, PLAIN).into_bytes(),
            "row 6 has 20 cells, the header has 19",
            "data row 6 has a 20th, non-empty cell",
        ),
        bad(
            "10-unbalanced-quote-last-row.csv",
            last_open.into_bytes(),
            "unbalanced quote",
            "the last row opens a quoted cell that never closes (and the file has no final newline)",
        ),
        bad(
            "11-unbalanced-quote-mid-file.csv",
            mid_open.into_bytes(),
            "unbalanced quote",
            "row 4 opens a quote that runs to the end of the file",
        ),
        bad(
            "12-unbalanced-quote-crlf.csv",
            unbalanced_crlf(&rows)?,
            "unbalanced quote",
            "UTF-8 BOM, comma, CRLF: a quoted note holding a CRLF never closes",
        ),
        bad("13-nul-bytes-utf8.csv", nul, "NUL byte", "three NUL bytes in the middle of a UTF-8 file"),
        bad("14-nul-byte-windows1252.csv", nul_1252, "NUL byte", "a NUL byte in a Windows-1252 file"),
        bad(
            "15-utf16le-without-bom.csv",
            utf16,
            "NUL byte",
            "UTF-16 LE without a BOM: read as 8-bit text it is full of NULs",
        ),
        bad("16-utf16be-without-bom.csv", utf16be, "NUL byte", "UTF-16 BE without a BOM: full of NULs"),
        bad(
            "17-binary-random.csv",
            random_binary(),
            "NUL byte",
            "random bytes (with NULs from the first line on) named .csv",
        ),
        bad(
            "18-huge-field.csv",
            csv_text(&HEADERS, &huge, PLAIN).into_bytes(),
            "is larger than 65536 bytes",
            "one Anteckning cell of 77 000 bytes (limit 64 KiB)",
        ),
        bad(
            "19-long-line-no-delimiters.csv",
            long_line.into_bytes(),
            "is larger than 65536 bytes",
            "a single 70 KiB line without delimiters: one cell over the limit",
        ),
    ])
}

/// Row 4's first name opens a quote; no later cell holds a quote, so it runs to the end.
fn unbalanced_mid(rows: &[Vec<String>]) -> String {
    let mut rows: Vec<Vec<String>> = rows.to_vec();
    for row in &mut rows {
        row[C_NOTE] = row[C_NOTE].replace('"', "");
    }
    let mut text = csv_text(&HEADERS, &rows, PLAIN);
    let name = &rows[3][C_FIRST];
    let needle = format!(";{name};");
    let pos = text.find(&format!("{};{}", rows[3][C_PN], name)).map(|p| p + rows[3][C_PN].len()).unwrap_or(0);
    text.replace_range(pos..pos + needle.len(), &format!(";\"{name};"));
    text
}

fn unbalanced_crlf(rows: &[Vec<String>]) -> io::Result<Vec<u8>> {
    // No other cell may hold a quote or need quoting, or a later quote would close the open one.
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| c.replace([',', '"'], "")).collect()).collect();
    let mut text = csv_text(&HEADERS, &rows[..6], WEB);
    let mut line = String::new();
    push_record(&mut line, &rows[6][..C_NOTE], WEB);
    line.truncate(line.len() - 2);
    text.push_str(&line);
    text.push_str(",\"CANARYNOTE-CRLF rad 1\r\nrad 2 utan slutcitat,Storgatan 1\r\n");
    for row in &rows[7..] {
        push_record(&mut text, row, WEB);
    }
    encode(&text, Encoding::Utf8Bom)
}

fn random_binary() -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(BAD_SEED + 17);
    let mut bytes: Vec<u8> = (0..4096).map(|_| rng.random::<u8>()).collect();
    // Start with bytes no sniffer takes for a zip, OLE or BOM, and put a NUL in the first line.
    bytes[..4].copy_from_slice(&[0x13, 0x37, 0x00, 0x42]);
    bytes
}

/// Header-level failures: the key column absent, a column named twice.
fn header_cases() -> Vec<BadCase> {
    let (rows, _) = small_export();
    let with_header = |header: &[&str]| csv_text(header, &rows, PLAIN).into_bytes();
    let mut no_key = HEADERS;
    no_key[C_ID] = "Löpnummer";
    let mut twice = HEADERS;
    twice[C_DEPT] = "Förnamn";
    let mut case_spaces = HEADERS;
    case_spaces[C_DEPT] = " förnamn ";
    let mut key_twice = HEADERS;
    key_twice[16] = "Anst.nr";
    vec![
        bad(
            "20-missing-key-column.csv",
            with_header(&no_key),
            // "key column" matches both ways this can fail: the reader finds no header because it looks
            // for the key column (header_row = "auto"), or validate names the missing key column.
            "key column",
            "the key column is called `Löpnummer`, neither `Anst.nr` nor an alias (with header_row = auto the reader finds no header row; with a fixed header row validate reports the missing key column)",
        ),
        bad(
            "21-duplicate-header.csv",
            with_header(&twice),
            "the header names column",
            "`Förnamn` appears twice (the second replaces `Organisationsenhet`)",
        ),
        bad(
            "22-duplicate-header-case-spaces.csv",
            with_header(&case_spaces),
            "the header names column",
            "`Förnamn` and ` förnamn ` are the same column once case and spaces are ignored",
        ),
        bad(
            "23-duplicate-key-column.csv",
            with_header(&key_twice),
            "the header names column",
            "`Anst.nr` appears twice (the second replaces `Chef Anst.nr`)",
        ),
    ]
}

/// Workbook failures: encrypted, truncated, corrupt, bombs, wrong extensions, empty sheets.
fn workbook_cases() -> io::Result<Vec<BadCase>> {
    let (text_rows, rows) = small_export();
    let with_header = XlsxLayout { title: None, header: Some(&HEADERS), trailing_blank_rows: 0 };
    let good = xlsx_bytes(&rows, &with_header)?;
    let ods = ods_bytes(Some(&HEADERS), &rows, 0)?;
    let header_only = xlsx_bytes(NO_ROWS, &with_header)?;
    let empty_sheet = xlsx_bytes(NO_ROWS, &XlsxLayout { title: None, header: None, trailing_blank_rows: 0 })?;
    let title_no_header = xlsx_bytes(
        &rows,
        &XlsxLayout { title: Some("Personalexport Acme AB 2026-11-01"), header: None, trailing_blank_rows: 0 },
    )?;
    let not_workbook = zip_bytes(
        &[
            ("readme.txt", b"Exporten finns i data.csv\n"),
            ("data.csv", csv_text(&HEADERS, &text_rows, PLAIN).as_bytes()),
        ],
        false,
    )?;
    let mut garbage_xls = OLE_MAGIC.to_vec();
    let mut rng = ChaCha8Rng::seed_from_u64(BAD_SEED + 33);
    garbage_xls.extend((0..4088).map(|_| rng.random::<u8>()));
    Ok(vec![
        bad(
            "24-encrypted.xlsx",
            encrypted_cfb(),
            "encrypted",
            "an OLE/CFB container with `EncryptionInfo` and `EncryptedPackage` streams, as Excel saves a password-protected xlsx (a minimal CFB header and directory, enough for a byte-searching sniffer; not openable)",
        ),
        bad(
            "25-truncated.xlsx",
            good[..good.len() / 2].to_vec(),
            "not a readable xlsx workbook",
            "a valid xlsx cut in half: no central directory",
        ),
        bad(
            "26-corrupt-central-directory.xlsx",
            corrupt_central_directory(&good),
            "not a readable xlsx workbook",
            "central directory records overwritten with junk",
        ),
        bad(
            "27-zip-bomb.xlsx",
            zip_bomb()?,
            "zip bomb",
            "sheet1.xml is 600 MiB of XML whitespace deflated to ~0.6 MB: over 512 MiB in total and a ratio over 1000",
        ),
        bad(
            "28-zip-not-workbook.xlsx",
            not_workbook,
            "not a readable xlsx workbook",
            "a zip with readme.txt and data.csv, no workbook parts",
        ),
        bad(
            "29-csv-named-xlsx.xlsx",
            csv_text(&HEADERS, &text_rows, PLAIN).into_bytes(),
            "not what its extension `.xlsx` says",
            "CSV text with an .xlsx name",
        ),
        bad(
            "30-xlsx-named-csv.csv",
            good.clone(),
            "not what its extension `.csv` says",
            "an xlsx workbook with a .csv name",
        ),
        bad("31-empty.xlsx", vec![], "the file is empty", "a zero-byte .xlsx"),
        bad(
            "32-truncated.ods",
            ods[..ods.len() / 2].to_vec(),
            "not a readable ods workbook",
            "a valid ods cut in half",
        ),
        bad("33-garbage.xls", garbage_xls, "not a readable xls workbook", "OLE magic followed by random bytes"),
        bad("34-header-only.xlsx", header_only, "header row only", "a workbook with the header row and no data"),
        bad("35-empty-sheet.xlsx", empty_sheet, "the file is empty", "a workbook whose only sheet has no cells"),
        bad(
            "36-title-no-header.xlsx",
            title_no_header,
            "no header row found",
            "a workbook with a title row and data but no header",
        ),
        bad(
            "37-header-only.ods",
            ods_bytes(Some(&HEADERS), &[], 3)?,
            "header row only",
            "an ods with the header and empty rows only",
        ),
    ])
}

/// A workbook without data rows.
const NO_ROWS: [Vec<Cell>; 0] = [];

const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// A minimal compound file: header, one FAT sector, one directory sector naming the streams an
/// encrypted OOXML package has. Enough to be recognised; there is nothing to decrypt.
fn encrypted_cfb() -> Vec<u8> {
    let mut out = vec![0u8; 512 * 3];
    out[..8].copy_from_slice(&OLE_MAGIC);
    let put16 = |b: &mut [u8], at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put16(&mut out, 0x18, 0x003E);
    put16(&mut out, 0x1A, 0x0003);
    put16(&mut out, 0x1C, 0xFFFE);
    put16(&mut out, 0x1E, 9);
    put16(&mut out, 0x20, 6);
    put32(&mut out, 0x2C, 1); // FAT sectors
    put32(&mut out, 0x30, 1); // first directory sector
    put32(&mut out, 0x38, 4096); // mini stream cutoff
    put32(&mut out, 0x3C, 0xFFFF_FFFE); // no mini FAT
    put32(&mut out, 0x44, 0xFFFF_FFFE); // no DIFAT sectors
    put32(&mut out, 0x4C, 0); // DIFAT[0] = sector 0 holds the FAT
    for i in 1..109 {
        put32(&mut out, 0x4C + 4 * i, 0xFFFF_FFFF);
    }
    let fat = 512;
    put32(&mut out, fat, 0xFFFF_FFFD);
    put32(&mut out, fat + 4, 0xFFFF_FFFE);
    for i in 2..128 {
        put32(&mut out, fat + 4 * i, 0xFFFF_FFFF);
    }
    let entries = [
        ("Root Entry", 5u8, 1u32, 0xFFFF_FFFF),
        ("EncryptionInfo", 2, 0xFFFF_FFFF, 2),
        ("EncryptedPackage", 2, 0xFFFF_FFFF, 0xFFFF_FFFF),
    ];
    for (n, (name, kind, child, right)) in entries.iter().enumerate() {
        let at = 1024 + 128 * n;
        let utf16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        out[at..at + utf16.len()].copy_from_slice(&utf16);
        put16(&mut out, at + 0x40, (utf16.len() + 2) as u16);
        out[at + 0x42] = *kind;
        out[at + 0x43] = 1; // black
        put32(&mut out, at + 0x44, 0xFFFF_FFFF); // left sibling
        put32(&mut out, at + 0x48, *right);
        put32(&mut out, at + 0x4C, *child);
        put32(&mut out, at + 0x74, 0xFFFF_FFFE); // start sector: none, size 0
    }
    out.truncate(1024 + 128 * 4);
    out.resize(512 * 3, 0);
    out
}

/// Overwrites every central-directory record of a zip, leaving the end record intact.
fn corrupt_central_directory(zip: &[u8]) -> Vec<u8> {
    let mut out = zip.to_vec();
    let eocd = out.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap_or(out.len() - 22);
    let offset = u32::from_le_bytes([out[eocd + 16], out[eocd + 17], out[eocd + 18], out[eocd + 19]]) as usize;
    for (i, b) in out[offset..eocd].iter_mut().enumerate() {
        *b = [0xDE, 0xAD, 0xBE, 0xEF][i % 4];
    }
    out
}

/// A minimal xlsx whose sheet is 600 MiB of whitespace inside `sheetData`. The entry is streamed
/// from one repeated buffer (about 0.2 s in release), never held in memory.
fn zip_bomb() -> io::Result<Vec<u8>> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let deflated = zip_options(CompressionMethod::Deflated)?;
    for (name, data) in MINIMAL_XLSX_PARTS {
        zip.start_file(*name, deflated)?;
        zip.write_all(data.as_bytes())?;
    }
    zip.start_file("xl/worksheets/sheet1.xml", deflated)?;
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#)?;
    let block = vec![b' '; 1 << 20];
    for _ in 0..600 {
        zip.write_all(&block)?;
    }
    zip.write_all(b"</sheetData></worksheet>")?;
    Ok(zip.finish()?.into_inner())
}

const MINIMAL_XLSX_PARTS: &[(&str, &str)] = &[
    (
        "[Content_Types].xml",
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
    ),
    (
        "_rels/.rels",
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
    ),
    (
        "xl/workbook.xml",
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Personal" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
    ),
    (
        "xl/_rels/workbook.xml.rels",
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
    ),
];

/// Files that look odd but are valid reference exports: they must ingest (exit 0).
fn fine_cases() -> io::Result<Vec<BadCase>> {
    let (rows, cells) = small_export();
    let good = csv_text(&HEADERS, &rows, PLAIN);
    let mut alias = HEADERS;
    alias[C_ID] = "Anställningsnummer";
    let order: Vec<usize> = vec![18, 3, 2, 0, 1, 17, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    let shouty: Vec<String> = order.iter().map(|&c| format!("  {} ", HEADERS[c].to_uppercase())).collect();
    let reordered: Vec<Vec<String>> = rows.iter().map(|r| order.iter().map(|&c| r[c].clone()).collect()).collect();
    let title =
        XlsxLayout { title: Some("Personalexport Acme AB 2026-11-01"), header: Some(&HEADERS), trailing_blank_rows: 3 };
    Ok(vec![
        fine(
            "50-ok-title-row.csv",
            format!(
                "Personalexport Acme AB 2026-11-01{}\r\n{}\r\n{good}",
                ";".repeat(NCOLS - 1),
                ";".repeat(NCOLS - 1)
            )
            .into_bytes(),
            "a title row and an empty row above the header, padded with delimiters as Excel saves them",
        ),
        fine(
            "51-ok-windows1252-semicolon.csv",
            encode(&csv_text(&HEADERS, &rows, PAYROLL), Encoding::Windows1252)?,
            "Windows-1252 with `;` and CRLF, names with å ä ö é",
        ),
        fine(
            "52-ok-trailing-blank-lines.csv",
            format!("{good}\r\n\r\n\r\n").into_bytes(),
            "blank lines after the last row",
        ),
        fine(
            "53-ok-key-alias.csv",
            csv_text(&alias, &rows, PLAIN).into_bytes(),
            "the key column under its alias `Anställningsnummer`",
        ),
        fine(
            "54-ok-reordered-header-case.csv",
            csv_text(&shouty, &reordered, PLAIN).into_bytes(),
            "columns in another order, header in upper case with surrounding spaces",
        ),
        fine(
            "55-ok-utf8-bom-comma-lf.csv",
            encode(
                &csv_text(&HEADERS, &rows, Dialect { delimiter: ',', encoding: Encoding::Utf8Bom, crlf: false }),
                Encoding::Utf8Bom,
            )?,
            "UTF-8 with BOM, commas, LF line ends",
        ),
        fine(
            "56-ok-title-row.xlsx",
            xlsx_bytes(&cells, &title)?,
            "a workbook with a title row, a blank row, then the header, and formatted empty rows at the end",
        ),
    ])
}

// ---------------------------------------------------------------------------------------------
// Benchmark data
// ---------------------------------------------------------------------------------------------

/// Writes `day1.csv`, `day2.csv` (Windows-1252, `;`, CRLF) for `rows` people, `day1.xlsx` (and
/// `day1-name.xlsx`, `day1-shuffled.xlsx`) when `rows` ≤ 200 000, and `expected.json` with both days' counts. Rows are generated one at a
/// time from a per-row seed, so memory stays flat and day 2 can rebuild any day-1 person.
pub fn write_bench(rows: usize, out: &Path) -> io::Result<()> {
    fs::create_dir_all(out)?;
    let rows = rows as u64;
    let mut day1 = BenchCsv::create(&out.join("day1.csv"))?;
    for i in 0..rows {
        day1.write(&render(&bench_person(i)))?;
    }
    day1.finish()?;
    let expected2 = write_bench_day2(rows, &out.join("day2.csv"))?;
    if rows <= 200_000 {
        // Day 1 as a workbook in the three orders of the CSV cases: by id, by name, shuffled.
        let layout = XlsxLayout { title: None, header: Some(&HEADERS), trailing_blank_rows: 0 };
        let mut rendered: Vec<Vec<Cell>> = (0..rows).map(|i| render(&bench_person(i))).collect();
        fs::write(out.join("day1.xlsx"), xlsx_bytes(&rendered, &layout)?)?;
        let at = |name: &str| HEADERS.iter().position(|h| *h == name).unwrap_or(0);
        let (last, first) = (at("Efternamn"), at("Förnamn"));
        rendered.sort_by_cached_key(|r| (r[last].text(), r[first].text()));
        fs::write(out.join("day1-name.xlsx"), xlsx_bytes(&rendered, &layout)?)?;
        rendered.shuffle(&mut ChaCha8Rng::seed_from_u64(0x5EED_0016));
        fs::write(out.join("day1-shuffled.xlsx"), xlsx_bytes(&rendered, &layout)?)?;
    }
    let expected1 = Expected { rows, new: rows, ..Expected::default() };
    let expected = json!({ "day1": expected1.to_json(false), "day2": expected2.to_json(false) });
    fs::write(out.join("expected.json"), pretty(&expected)?)
}

struct BenchCsv {
    out: BufWriter<fs::File>,
    line: String,
}

impl BenchCsv {
    fn create(path: &Path) -> io::Result<BenchCsv> {
        let mut csv = BenchCsv { out: BufWriter::with_capacity(1 << 20, fs::File::create(path)?), line: String::new() };
        push_record(&mut csv.line, &HEADERS, PAYROLL);
        csv.flush_line()?;
        Ok(csv)
    }

    fn write(&mut self, cells: &[Cell]) -> io::Result<()> {
        push_record(&mut self.line, &cells.iter().map(Cell::text).collect::<Vec<_>>(), PAYROLL);
        self.flush_line()
    }

    fn flush_line(&mut self) -> io::Result<()> {
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&self.line);
        if unmappable {
            return Err(io::Error::other("a value cannot be written in Windows-1252"));
        }
        self.out.write_all(&bytes)?;
        self.line.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Day 2 of the benchmark: per person a stable roll decides ends (1 %), changes (3 %), missing
/// (0.5 %) and invalid rows (0.2 %); a hire (1 %) follows every hundredth person.
fn write_bench_day2(rows: u64, path: &Path) -> io::Result<Expected> {
    let mut csv = BenchCsv::create(path)?;
    let mut e = Expected::default();
    let mut next_hire = rows;
    let mut rng = ChaCha8Rng::seed_from_u64(BENCH_SEED + 2);
    for i in 0..rows {
        let p = bench_person(i);
        let roll = splitmix(i ^ BENCH_SEED) % 10_000;
        let mut q = p.clone();
        let mut overrides = Vec::new();
        match roll {
            0..100 => q.end = Some(if p.end.is_some() { ymd(2027, 12, 31) } else { ymd(2026, 11, 30) }),
            100..400 => apply_bench_change(&mut q, roll, &mut rng),
            400..450 => {
                e.missing += u64::from(p.end.is_none());
                continue;
            }
            450..470 => overrides.push((C_FTE, Cell::Number("120".into(), 120.0))),
            _ => {}
        }
        let fields = changed_fields(&p, &q);
        let outcome = if !overrides.is_empty() {
            Outcome::Rejected("fte_percent", "range")
        } else if fields.contains(&"end_date") {
            Outcome::Ended
        } else if fields.is_empty() {
            Outcome::Unchanged
        } else {
            Outcome::Changed
        };
        e.count(&outcome, &fields);
        let mut cells = render(&q);
        for (c, cell) in overrides {
            cells[c] = cell;
        }
        csv.write(&cells)?;
        if i % 100 == 99 {
            csv.write(&render(&bench_person(next_hire)))?;
            next_hire += 1;
            e.count(&Outcome::New, &[]);
        }
    }
    csv.finish()?;
    Ok(e)
}

impl Expected {
    /// Counts one row whose outcome is known (the bench has no row numbers to keep).
    fn count(&mut self, outcome: &Outcome, fields: &[&'static str]) {
        self.rows += 1;
        match outcome {
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::New => self.new += 1,
            Outcome::Changed => self.changed += 1,
            Outcome::Ended => self.ended += 1,
            Outcome::Rehired => self.rehired += 1,
            Outcome::Rejected(..) => self.rejected += 1,
        }
        if matches!(outcome, Outcome::Changed | Outcome::Ended | Outcome::Rehired) {
            for field in fields {
                *self.changed_fields.entry(field).or_default() += 1;
            }
        }
    }
}

fn apply_bench_change(q: &mut Person, roll: u64, rng: &mut ChaCha8Rng) {
    match roll % 5 {
        0 => q.salary = Some(q.salary.unwrap_or(3_000_000) + 150_000),
        1 => {
            q.dept = (q.dept + 1) % DEPTS.len();
            q.cost_centre = DEPTS[q.dept].cost_centres[0].to_owned();
        }
        2 => q.title = format!("Senior {}", q.title.to_lowercase()),
        3 => q.mobile = Some(format!("73{:07}", rng.random_range(0..10_000_000))),
        _ => q.fte = if q.fte == 1000 { 800 } else { 1000 },
    }
}

/// A well-mixed 64-bit hash (SplitMix64's finaliser) for stable per-row decisions.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Person `i` of the benchmark tenant. Its personnummer is a bijection of `i` (a unique date and
/// serial), so a million people never collide without any bookkeeping.
fn bench_person(i: u64) -> Person {
    let mut rng = ChaCha8Rng::seed_from_u64(splitmix(i ^ BENCH_SEED.rotate_left(17)));
    // 16 000 birth dates × serials 001..=999; 7919 is prime, so `i → slot` is a bijection.
    let slot = (i * 7919) % (16_000 * 999);
    let pn = Pn {
        birth: ymd(1960, 1, 1) + Days::new(slot % 16_000),
        serial: (slot / 16_000 + 1) as u16,
        coordination: i.is_multiple_of(31),
    };
    let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())].to_owned();
    let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())].to_owned();
    let dept = rng.random_range(0..DEPTS.len());
    let d = &DEPTS[dept];
    let kind = if i % 10 == 9 { EmpType::Visstid } else { EmpType::Tillsvidare };
    let start = (ymd(1995, 1, 1) + Days::new(rng.random_range(0..11_000))).max(pn.birth + Months::new(216));
    let unions = ["Unionen", "IF Metall", "Vision", "Akademikerförbundet SSR", ""];
    Person {
        id: format!("{:07}", i + 1),
        pn,
        email: Some(format!("{}.{}{}@acme.se", ascii_fold(&first), ascii_fold(&last), i % 1000)),
        mobile: (!i.is_multiple_of(7)).then(|| format!("70{:07}", rng.random_range(0..10_000_000))),
        first,
        last,
        dept,
        cost_centre: d.cost_centres[rng.random_range(0..d.cost_centres.len())].to_owned(),
        title: d.titles[rng.random_range(0..d.titles.len())].to_owned(),
        kind,
        start,
        end: (kind == EmpType::Visstid).then(|| month_end(start.max(ymd(2026, 6, 1)) + Months::new(6))),
        fte: if i.is_multiple_of(8) { 800 } else { 1000 },
        salary: Some(u64::from(rng.random_range(260..850u32)) * 10_000),
        // Groups of 25 report to their first member, who reports to person 0.
        manager: match (i, i % 25) {
            (0, _) => None,
            (_, 0) => Some("0000001".to_owned()),
            _ => Some(format!("{:07}", i - i % 25 + 1)),
        },
        is_manager: i.is_multiple_of(25),
        unmapped: Unmapped {
            union: unions[(i % 5) as usize].to_owned(),
            sick: (i % 13).to_string(),
            note: String::new(),
            address: format!("Storgatan {}, 722 1{} Västerås", i % 90 + 1, i % 10),
            canaries: Vec::new(),
        },
        style: Style::default(),
    }
}
