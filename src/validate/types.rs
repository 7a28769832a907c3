//! Typed cell parsers for validate: each turns one cell's text into a normalised typed value or the `Rule` it breaks.
//!
//! These run on every cell of million-row files, so they avoid regexes and allocate only the `String` they return.
//! They work on bytes wherever the grammar is ASCII, so no input (multibyte, huge, hostile) can make them slice a
//! `&str` off a char boundary or panic.
//! No error carries the input: a `Rule` is all a caller learns about a bad cell.

use std::fmt::Write as _;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{Datelike, Days, NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use validator::ValidateEmail;

use super::rule::Rule;

/// Letters Skatteverket uses as the first serial character of interim numbers (interimistiska nummer).
const INTERIM_LETTERS: &[u8] = b"TRSUWXJKLMN";

/// Identity number (personnummer / samordningsnummer, optionally interim) normalised to 12 chars `YYYYMMDDNNNN`.
///
/// Accepts `YYYYMMDD-NNNN`, `YYYYMMDD+NNNN`, `YYYYMMDDNNNN`, `YYMMDD-NNNN`, `YYMMDD+NNNN` and `YYMMDDNNNN`.
/// A two-digit year takes the most recent century that does not put the birth date after `today`; `+` adds a
/// hundred years of age.
/// A samordningsnummer keeps its day + 60 in the output.
/// An interim number keeps its (upper-cased) letter, which counts as 1 in the Luhn sum as the specification says.
pub fn personnummer(input: &str, today: NaiveDate, allow_interim: bool) -> Result<String, Rule> {
    let b = input.trim().as_bytes();
    let (century, short, separator, serial) = match b.len() {
        10 => (None, &b[..6], None, &b[6..]),
        11 => (None, &b[..6], Some(b[6]), &b[7..]),
        12 => (Some(&b[..2]), &b[2..8], None, &b[8..]),
        13 => (Some(&b[..2]), &b[2..8], Some(b[8]), &b[9..]),
        _ => return Err(Rule::PersonnummerFormat),
    };
    let century = match century {
        Some(c) => Some(digits(c).ok_or(Rule::PersonnummerFormat)?),
        None => None,
    };
    let yy = digits(&short[..2]).ok_or(Rule::PersonnummerFormat)?;
    let mm = digits(&short[2..4]).ok_or(Rule::PersonnummerFormat)?;
    let dd = digits(&short[4..6]).ok_or(Rule::PersonnummerFormat)?;
    let hundred_plus = match separator {
        None | Some(b'-') => false,
        Some(b'+') => true,
        Some(_) => return Err(Rule::PersonnummerFormat),
    };
    let serial = serial_digits(serial, allow_interim)?;

    // A samordningsnummer is the birth date with 60 added to the day; 60 itself is day 0 and so no date.
    let day = if dd > 60 { dd - 60 } else { dd };
    let year = match century {
        // The long forms state the year; the specification then ignores the separator, and so do we.
        Some(c) => (c * 100 + yy) as i32,
        None => short_form_year(yy as i32, mm, day, today, hundred_plus),
    };
    let birth = NaiveDate::from_ymd_opt(year, mm, day).ok_or(Rule::PersonnummerDate)?;
    if birth > today {
        return Err(Rule::PersonnummerDate);
    }

    let mut ten = [0u8; 10];
    for (slot, &c) in ten.iter_mut().zip(short) {
        *slot = c - b'0';
    }
    ten[6..].copy_from_slice(&serial.luhn_digits);
    if !luhn(&ten) {
        return Err(Rule::PersonnummerLuhn);
    }

    let mut out = String::with_capacity(12);
    push_padded(&mut out, year as u32, 4);
    out.extend(short[2..].iter().map(|&c| char::from(c)));
    out.extend(serial.text.iter().map(|&c| char::from(c)));
    Ok(out)
}

/// The four serial characters as written (letter upper-cased) and as the digits the Luhn sum uses.
struct Serial {
    text: [u8; 4],
    luhn_digits: [u8; 4],
}

fn serial_digits(serial: &[u8], allow_interim: bool) -> Result<Serial, Rule> {
    let mut text = [0u8; 4];
    let mut luhn_digits = [0u8; 4];
    for (i, &c) in serial.iter().enumerate() {
        let upper = c.to_ascii_uppercase();
        if c.is_ascii_digit() {
            text[i] = c;
            luhn_digits[i] = c - b'0';
        } else if i == 0 && INTERIM_LETTERS.contains(&upper) {
            if !allow_interim {
                return Err(Rule::PersonnummerInterim);
            }
            text[i] = upper;
            luhn_digits[i] = 1;
        } else {
            return Err(Rule::PersonnummerFormat);
        }
    }
    // The specification never issues serial 000; the test data relies on rejecting it despite a valid Luhn digit.
    if &text[..3] == b"000" {
        return Err(Rule::PersonnummerFormat);
    }
    Ok(Serial { text, luhn_digits })
}

/// The latest year ending in `yy` whose `mm`-`day` is not after `today`, less a century for `+`.
///
/// Compares (month, day) rather than building the date, so an impossible date still gets a year and fails later
/// as `PersonnummerDate` rather than as something else.
fn short_form_year(yy: i32, mm: u32, day: u32, today: NaiveDate, hundred_plus: bool) -> i32 {
    let mut year = today.year() - (today.year() - yy).rem_euclid(100);
    if year == today.year() && (mm, day) > (today.month(), today.day()) {
        year -= 100;
    }
    if hundred_plus { year - 100 } else { year }
}

/// Luhn over the ten-digit form, weights 2,1,2,… from the left so the control digit gets weight 1.
fn luhn(ten: &[u8; 10]) -> bool {
    let sum: u32 = ten
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The value of an all-ASCII-digit byte string short enough for `u32`, or `None` for anything else.
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    b.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

fn push_padded(out: &mut String, value: u32, width: usize) {
    // Writing to a String cannot fail; ignoring the Result keeps this free of unwrap.
    let _ = write!(out, "{value:0width$}");
}

/// A date pattern from the mapping, compiled once.
///
/// The reference export's three patterns (`%Y-%m-%d`, `%Y%m%d`, `%d.%m.%Y`) get hand-written parsers that accept
/// exactly that shape (two-digit day and month, four-digit year): they run twice per row of a million-row file,
/// and chrono's lenient parser would read `05.01.24` under `%d.%m.%Y` as the year 24.
/// Any other pattern is parsed by chrono; `%-d.%-m.%Y` is the way to ask for the lenient reading on purpose.
#[derive(Debug, Clone)]
pub struct DateFormat {
    pattern: Box<str>,
    kind: DateKind,
}

#[derive(Debug, Clone)]
enum DateKind {
    Iso,
    Compact,
    Dotted,
    Chrono(Vec<Item<'static>>),
}

/// A date whose day, month and year differ, so a pattern that loses one of them fails the round trip.
const SAMPLE_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1987, 11, 23) {
    Some(date) => date,
    None => panic!("1987-11-23 is a date"),
};

impl DateFormat {
    /// Compiles a strftime pattern; the error names the problem, and the caller names the pattern.
    pub fn new(pattern: &str) -> Result<DateFormat, String> {
        let kind = match pattern {
            "%Y-%m-%d" => DateKind::Iso,
            "%Y%m%d" => DateKind::Compact,
            "%d.%m.%Y" => DateKind::Dotted,
            _ => DateKind::Chrono(chrono_items(pattern)?),
        };
        Ok(DateFormat { pattern: pattern.into(), kind })
    }

    /// The strftime pattern this was compiled from.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    fn parse(&self, s: &str) -> Option<NaiveDate> {
        let b = s.as_bytes();
        match &self.kind {
            DateKind::Iso if b.len() == 10 && b[4] == b'-' && b[7] == b'-' => ymd(&b[..4], &b[5..7], &b[8..]),
            DateKind::Compact if b.len() == 8 => ymd(&b[..4], &b[4..6], &b[6..]),
            DateKind::Dotted if b.len() == 10 && b[2] == b'.' && b[5] == b'.' => ymd(&b[6..], &b[3..5], &b[..2]),
            DateKind::Iso | DateKind::Compact | DateKind::Dotted => None,
            DateKind::Chrono(items) => chrono_date(s, items),
        }
    }
}

fn chrono_items(pattern: &str) -> Result<Vec<Item<'static>>, String> {
    let items =
        StrftimeItems::new(pattern).parse_to_owned().map_err(|_| "unknown or malformed `%` specifier".to_owned())?;
    // Formatting then parsing a known date proves the pattern names a whole date and nothing a date cannot supply
    // (a time zone), which chrono would otherwise only reveal as every cell failing.
    let mut text = String::new();
    let sample = SAMPLE_DATE.and_time(NaiveTime::MIN);
    if write!(text, "{}", sample.format_with_items(items.iter())).is_err() {
        return Err("asks for something a date cannot supply (a time zone?)".to_owned());
    }
    if chrono_date(&text, &items) != Some(SAMPLE_DATE) {
        return Err("does not determine a whole date (year, month and day)".to_owned());
    }
    Ok(items)
}

fn chrono_date(s: &str, items: &[Item<'static>]) -> Option<NaiveDate> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, s, items.iter()).ok()?;
    parsed.to_naive_date().ok()
}

fn ymd(y: &[u8], m: &[u8], d: &[u8]) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(digits(y)? as i32, digits(m)?, digits(d)?)
}

/// A calendar date in the first of `formats` that reads the trimmed input, else (if allowed) an Excel serial date.
pub fn date(input: &str, formats: &[DateFormat], excel_serial: bool) -> Result<NaiveDate, Rule> {
    let s = input.trim();
    formats
        .iter()
        .find_map(|f| f.parse(s))
        .or_else(|| excel_serial.then(|| excel_serial_date(s)).flatten())
        .ok_or(Rule::DateFormat)
}

/// The date of a workbook's date-time cell as the reader renders it, `YYYY-MM-DDTHH:MM:SS`: a
/// date field takes such a cell (a start date typed with its time of day) by its date.
pub fn workbook_datetime_date(input: &str) -> Option<NaiveDate> {
    let b = input.trim().as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let hms = [&b[11..13], &b[14..16], &b[17..19]];
    let (h, m, s) = (digits(hms[0])?, digits(hms[1])?, digits(hms[2])?);
    NaiveTime::from_hms_opt(h, m, s)?;
    ymd(&b[..4], &b[5..7], &b[8..10])
}

/// Excel's 1900 date system: 1 digit to 5, an optional fraction (the time of day, dropped).
///
/// Excel counts the fictitious 1900-02-29 as serial 60 (Lotus 1-2-3's leap-year bug), so serials after it are one
/// day ahead of a plain count and 60 itself is no date.
fn excel_serial_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let (whole, fraction) = match b.iter().position(|&c| c == b'.' || c == b',') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    if whole.len() > 5 {
        return None;
    }
    if fraction.is_some_and(|f| f.is_empty() || !f.iter().all(u8::is_ascii_digit)) {
        return None;
    }
    let serial = digits(whole)?;
    let epoch = match serial {
        0 | 60 => return None,
        1..=59 => NaiveDate::from_ymd_opt(1899, 12, 31)?,
        _ => NaiveDate::from_ymd_opt(1899, 12, 30)?,
    };
    epoch.checked_add_days(Days::new(u64::from(serial)))
}

/// A number's parts as read: the digits as one integer, how many of them follow the decimal separator, the sign.
struct Number {
    negative: bool,
    mantissa: u128,
    scale: u32,
}

/// Which character separates a number's fraction, as a field declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalSeparator {
    /// `,` or `.` (the default); a lone separator before exactly three digits (`45,000`) could
    /// be either a decimal or a thousands separator and is rejected as ambiguous.
    Either,
    Comma,
    Point,
    /// `,` or `.` in a workbook, whose number cells are written with `.` and no grouping: there
    /// only a lone `,` before exactly three digits is ambiguous (set by `validate`, not a mapping).
    EitherPointSure,
}

/// Which characters group a number's whole part by threes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thousands {
    /// Spaces, also no-break and narrow no-break ones (the default).
    Space,
    Comma,
    Point,
    Apostrophe,
    /// No grouping at all.
    None,
}

/// How a field's numbers are written: its locale, as far as numbers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberFormat {
    pub decimal: DecimalSeparator,
    pub thousands: Thousands,
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat { decimal: DecimalSeparator::Either, thousands: Thousands::Space }
    }
}

impl NumberFormat {
    fn is_group(self, c: char) -> bool {
        match self.thousands {
            Thousands::Space => matches!(c, ' ' | '\u{a0}' | '\u{202f}'),
            Thousands::Comma => c == ',',
            Thousands::Point => c == '.',
            Thousands::Apostrophe => matches!(c, '\'' | '\u{2019}'),
            Thousands::None => false,
        }
    }

    fn is_decimal(self, c: char) -> bool {
        match self.decimal {
            // A declared thousands separator leaves the other one as the decimal separator.
            DecimalSeparator::Either if self.thousands == Thousands::Comma => c == '.',
            DecimalSeparator::Either if self.thousands == Thousands::Point => c == ',',
            DecimalSeparator::Either | DecimalSeparator::EitherPointSure => matches!(c, ',' | '.'),
            DecimalSeparator::Comma => c == ',',
            DecimalSeparator::Point => c == '.',
        }
    }

    /// Whether `1,234` (with `separator`) read under this format could mean a thousand as well
    /// as one point two: only when the field declared neither its decimal separator nor a
    /// thousands separator other than the default space.
    fn ambiguous_triple(self, separator: char) -> bool {
        self.thousands == Thousands::Space
            && match self.decimal {
                DecimalSeparator::Either => true,
                DecimalSeparator::EitherPointSure => separator == ',',
                DecimalSeparator::Comma | DecimalSeparator::Point => false,
            }
    }

    /// This format for a workbook's cells, whose numbers are written with `.`.
    pub fn in_workbook(self) -> NumberFormat {
        match self.decimal {
            DecimalSeparator::Either => NumberFormat { decimal: DecimalSeparator::EitherPointSure, ..self },
            _ => self,
        }
    }
}

/// Why a text is not a number: not one at all, or one that reads two ways.
enum NotNumber {
    Malformed,
    Ambiguous,
}

/// Reads `[+-]digits[sep digits]`, where the integer digits may be grouped by threes with the
/// format's thousands separator.
fn number(input: &str, allow_fraction: bool, fmt: NumberFormat) -> Result<Number, NotNumber> {
    let mut chars = input.trim().chars().peekable();
    let negative = match chars.peek() {
        Some('-') => true,
        Some('+') => false,
        _ => return scan_digits(chars, allow_fraction, false, fmt),
    };
    chars.next();
    scan_digits(chars, allow_fraction, negative, fmt)
}

fn scan_digits(
    chars: impl Iterator<Item = char>,
    allow_fraction: bool,
    negative: bool,
    fmt: NumberFormat,
) -> Result<Number, NotNumber> {
    use NotNumber::Malformed;
    let mut mantissa: u128 = 0;
    let mut group = 0usize; // digits since the last group separator (or the start)
    let mut grouped = false;
    let mut leading_zero = false;
    let mut fraction: Option<u32> = None; // digits after the separator, once seen
    let mut separator = '.';
    for c in chars {
        match c {
            '0'..='9' => {
                let d = u128::from(u32::from(c) - u32::from('0'));
                mantissa = mantissa.checked_mul(10).and_then(|m| m.checked_add(d)).ok_or(Malformed)?;
                match fraction.as_mut() {
                    Some(n) => *n += 1,
                    None => {
                        leading_zero |= group == 0 && !grouped && d == 0;
                        group += 1;
                        if grouped && group > 3 {
                            return Err(Malformed);
                        }
                    }
                }
            }
            _ if fraction.is_none() && allow_fraction && fmt.is_decimal(c) => {
                fraction = Some(0);
                separator = c;
                if group == 0 || grouped && group != 3 {
                    return Err(Malformed);
                }
            }
            _ if fraction.is_none() && fmt.is_group(c) => {
                let first_group_ok = !grouped && (1..=3).contains(&group);
                if !(first_group_ok || grouped && group == 3) {
                    return Err(Malformed);
                }
                grouped = true;
                group = 0;
            }
            _ => return Err(Malformed),
        }
    }
    match fraction {
        Some(0) => Err(Malformed),
        // `45,000` or `1.234`: a thousands separator in half the world, a decimal one in the other.
        Some(3) if !grouped && !leading_zero && group <= 3 && fmt.ambiguous_triple(separator) => {
            Err(NotNumber::Ambiguous)
        }
        Some(scale) => Ok(Number { negative, mantissa, scale }),
        None if group == 0 || grouped && group != 3 => Err(Malformed),
        None => Ok(Number { negative, mantissa, scale: 0 }),
    }
}

/// A decimal written as `fmt` says; by default `,` or `.` as separator and spaces (also no-break
/// ones) as thousands separators.
pub fn decimal(input: &str, fmt: NumberFormat) -> Result<Decimal, Rule> {
    let n = number(input, true, fmt).map_err(|e| match e {
        NotNumber::Malformed => Rule::Decimal,
        NotNumber::Ambiguous => Rule::DecimalAmbiguous,
    })?;
    let magnitude = i128::try_from(n.mantissa).map_err(|_| Rule::Decimal)?;
    let signed = if n.negative { -magnitude } else { magnitude };
    Decimal::try_from_i128_with_scale(signed, n.scale).map_err(|_| Rule::Decimal)
}

/// A whole number with optional sign and `fmt`'s thousands separators; `12.0` is not one.
pub fn integer(input: &str, fmt: NumberFormat) -> Result<i64, Rule> {
    let n = number(input, false, fmt).map_err(|_| Rule::Integer)?;
    let magnitude = i128::try_from(n.mantissa).map_err(|_| Rule::Integer)?;
    let signed = if n.negative { -magnitude } else { magnitude };
    i64::try_from(signed).map_err(|_| Rule::Integer)
}

/// `true`/`yes`/`ja`/`1`/`y`/`j` or `false`/`no`/`nej`/`0`/`n`, any case; empty cells are the caller's business.
pub fn boolean(input: &str) -> Result<bool, Rule> {
    const TRUE: [&str; 6] = ["true", "yes", "ja", "1", "y", "j"];
    const FALSE: [&str; 5] = ["false", "no", "nej", "0", "n"];
    let s = input.trim();
    if TRUE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Ok(true)
    } else if FALSE.iter().any(|f| s.eq_ignore_ascii_case(f)) {
        Ok(false)
    } else {
        Err(Rule::Bool)
    }
}

/// An e-mail address, trimmed and lower-cased.
///
/// Uses `ValidateEmail` on the value rather than validator's derive, whose errors would carry the address.
pub fn email(input: &str) -> Result<String, Rule> {
    let s = input.trim().to_lowercase();
    if s.validate_email() { Ok(s) } else { Err(Rule::Email) }
}

/// The most digits an E.164 number has, country code included.
const E164_MAX_DIGITS: usize = 15;
/// Fewer digits than this is a typo or an extension, not a reachable number.
const E164_MIN_DIGITS: usize = 8;

/// A phone number in E.164 (`+` and 8 to 15 digits); numbers without `+` or `00` are national to
/// `default_country_code` (1 to 3 digits, no leading 0, e.g. `"46"`).
///
/// Hand-written on purpose: the `phonenumber` crate knows every numbering plan but is far too slow for a
/// million-row file, and the register needs one canonical spelling, not plan validation.
pub fn phone(input: &str, default_country_code: &str) -> Result<String, Rule> {
    let mut buf = [0u8; E164_MAX_DIGITS + 3];
    let (plus, all) = phone_digits(input.trim().as_bytes(), &mut buf).ok_or(Rule::Phone)?;
    let cc = default_country_code.as_bytes();
    let cc_ok = (1..=3).contains(&cc.len()) && cc[0] != b'0' && cc.iter().all(u8::is_ascii_digit);
    let (prefix, rest): (&[u8], &[u8]) = match all {
        _ if plus => (&[], all),
        [b'0', b'0', rest @ ..] => (&[], rest),
        [b'0', rest @ ..] if cc_ok => (cc, rest),
        rest if cc_ok => (cc, rest),
        _ => return Err(Rule::Phone),
    };
    let total = prefix.len() + rest.len();
    // A national number cannot start with 0 here: "00" and the trunk 0 were taken off above.
    let first_ok = prefix.first().or(rest.first()).is_some_and(|&d| d != b'0');
    // "+46 070…" is a common slip; only the default country's trunk 0 can be recognised without a numbering plan.
    let trunk_left =
        prefix.is_empty() && cc_ok && rest.strip_prefix(cc).is_some_and(|after| after.first() == Some(&b'0'));
    if !(E164_MIN_DIGITS..=E164_MAX_DIGITS).contains(&total) || !first_ok || trunk_left {
        return Err(Rule::Phone);
    }
    let mut out = String::with_capacity(total + 1);
    out.push('+');
    out.extend(prefix.iter().chain(rest).map(|&d| char::from(d)));
    Ok(out)
}

/// Collects the digits of a phone number into `buf`, skipping the usual punctuation and the "(0)" of
/// "+46 (0)70…"; returns whether it started with `+`, and the digits.
fn phone_digits<'b>(b: &[u8], buf: &'b mut [u8]) -> Option<(bool, &'b [u8])> {
    let mut n = 0;
    let mut plus = false;
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        let skip = if rest.starts_with(b"(0)") {
            3
        } else if rest.starts_with("\u{a0}".as_bytes()) {
            2
        } else if rest.starts_with("\u{202f}".as_bytes()) {
            3
        } else {
            match b[i] {
                b' ' | b'\t' | b'-' | b'(' | b')' | b'.' | b'/' => 1,
                b'+' if n == 0 && !plus => {
                    plus = true;
                    1
                }
                d @ b'0'..=b'9' => {
                    *buf.get_mut(n)? = d;
                    n += 1;
                    1
                }
                _ => return None,
            }
        };
        i += skip;
    }
    Some((plus, &buf[..n]))
}

/// Whether free text holds something shaped like a personnummer or samordningsnummer.
///
/// Looks for a run of exactly 10 or 12 digits, or of 6 or 8 digits then `-` or `+` then exactly 4 digits, whose
/// ten-digit form passes Luhn and whose date part is a plausible birth date. It errs towards saying yes: a column
/// it flags is refused, and one it misses would store a personnummer without a purpose.
pub fn contains_personnummer_like(text: impl AsRef<[u8]>) -> bool {
    let b = text.as_ref();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let run = &b[start..i];
        let found = match run.len() {
            10 | 12 => personnummer_like(run, &[]),
            6 | 8 => match b.get(i..i + 5) {
                Some([b'-' | b'+', serial @ ..])
                    if serial.iter().all(u8::is_ascii_digit) && !b.get(i + 5).is_some_and(u8::is_ascii_digit) =>
                {
                    personnummer_like(run, serial)
                }
                _ => false,
            },
            _ => false,
        };
        if found {
            return true;
        }
    }
    false
}

/// `date` is 6 or 8 digits (or all 10/12 when `serial` is empty); `serial` the 4 digits after a separator.
fn personnummer_like(date: &[u8], serial: &[u8]) -> bool {
    let mut all = [0u8; 12];
    let len = date.len() + serial.len();
    for (slot, &c) in all.iter_mut().zip(date.iter().chain(serial)) {
        *slot = c - b'0';
    }
    let (year, ten) = match len {
        12 => (Some(u32::from(all[0]) * 1000 + u32::from(all[1]) * 100), &all[2..12]),
        10 => (None, &all[..10]),
        _ => return false,
    };
    let Ok(ten) = <&[u8; 10]>::try_from(ten) else {
        return false;
    };
    let month = u32::from(ten[2]) * 10 + u32::from(ten[3]);
    let dd = u32::from(ten[4]) * 10 + u32::from(ten[5]);
    let day = if dd > 60 { dd - 60 } else { dd };
    let max_day = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        // Without a century any two-digit year may be a leap year.
        2 => match year {
            Some(c) => {
                let y = c + u32::from(ten[0]) * 10 + u32::from(ten[1]);
                if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 { 29 } else { 28 }
            }
            None => 29,
        },
        _ => return false,
    };
    (1..=max_day).contains(&day) && luhn(ten)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "a test should fail loudly")]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fmt::Debug;

    /// Runs `f` over each `(input, expected)` pair, naming the input on failure.
    fn check<T: PartialEq + Debug>(f: impl Fn(&str) -> Result<T, Rule>, cases: &[(&str, Result<T, Rule>)]) {
        for (input, expected) in cases {
            assert_eq!(&f(input), expected, "input {input:?}");
        }
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn today() -> NaiveDate {
        day(2025, 6, 15)
    }

    /// Appends the Luhn control digit to nine digits.
    fn with_control(nine: &str) -> String {
        let mut ten = [0u8; 10];
        for (slot, c) in ten.iter_mut().zip(nine.bytes()) {
            *slot = c - b'0';
        }
        let control = (0..10).find(|&c| {
            ten[9] = c;
            luhn(&ten)
        });
        format!("{nine}{}", control.unwrap())
    }

    fn pnr(input: &str) -> Result<String, Rule> {
        personnummer(input, today(), false)
    }

    fn owned(expected: Result<&str, Rule>) -> Result<String, Rule> {
        expected.map(str::to_owned)
    }

    #[test]
    fn personnummer_forms() {
        let cases = [
            ("19900101-0017", Ok("199001010017")),
            ("199001010017", Ok("199001010017")),
            ("900101-0017", Ok("199001010017")),
            ("9001010017", Ok("199001010017")),
            ("  900101-0017\t", Ok("199001010017")),
            ("900101+0017", Ok("189001010017")),
            ("19900101+0017", Ok("199001010017")),
            ("900101-0018", Err(Rule::PersonnummerLuhn)),
            ("900101 0017", Err(Rule::PersonnummerFormat)),
            ("900101/0017", Err(Rule::PersonnummerFormat)),
            ("90010-10017", Err(Rule::PersonnummerFormat)),
            ("", Err(Rule::PersonnummerFormat)),
            ("900101-001", Err(Rule::PersonnummerFormat)),
            ("9001010-0017", Err(Rule::PersonnummerFormat)),
            ("900101-00١7", Err(Rule::PersonnummerFormat)),
            ("ééééé-0017", Err(Rule::PersonnummerFormat)),
            ("900101-0E17", Err(Rule::PersonnummerFormat)),
            ("900101-T017", Err(Rule::PersonnummerInterim)),
            ("900230-0017", Err(Rule::PersonnummerDate)),
            ("901301-0017", Err(Rule::PersonnummerDate)),
            ("900160-0017", Err(Rule::PersonnummerDate)),
            ("900100-0017", Err(Rule::PersonnummerDate)),
            ("20300101-0017", Err(Rule::PersonnummerDate)),
        ];
        for (input, expected) in cases {
            check(pnr, &[(input, owned(expected))]);
        }
    }

    #[test]
    fn personnummer_century_follows_today() {
        // today() is 2025-06-15: a birthday later in the year cannot be this year's.
        let born_today = with_control("250615001");
        let later = with_control("250616001");
        check(
            pnr,
            &[
                (&born_today, Ok(format!("20{born_today}"))),
                (&later, Ok(format!("19{later}"))),
                (&format!("{}+{}", &later[..6], &later[6..]), Ok(format!("18{later}"))),
                (&format!("{}+{}", &born_today[..6], &born_today[6..]), Ok(format!("19{born_today}"))),
            ],
        );
    }

    #[test]
    fn personnummer_samordningsnummer_and_interim() {
        let con = with_control("730288993");
        check(pnr, &[(&con, Ok(format!("19{con}")))]);
        // 1973-02-29 does not exist, samordningsnummer or not.
        check(pnr, &[(&with_control("730289993"), Err(Rule::PersonnummerDate))]);
        let interim = |s: &str| personnummer(s, today(), true);
        check(
            interim,
            &[
                ("20000101-T220", Ok("20000101T220".to_owned())),
                ("000101t220", Ok("20000101T220".to_owned())),
                ("000101-T221", Err(Rule::PersonnummerLuhn)),
                ("000101-E221", Err(Rule::PersonnummerFormat)),
                ("000101-1T20", Err(Rule::PersonnummerFormat)),
            ],
        );
    }

    #[test]
    fn personnummer_serial_000_is_rejected() {
        check(pnr, &[("150916-0006", Err(Rule::PersonnummerFormat))]);
    }

    fn testdata(name: &str) -> serde_json::Value {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/personnummer/");
        let text = std::fs::read_to_string(format!("{dir}{name}")).expect("personnummer test data");
        serde_json::from_str(&text).unwrap()
    }

    fn real_today() -> NaiveDate {
        chrono::Local::now().date_naive()
    }

    #[test]
    fn personnummer_agrees_with_list_json() {
        let entries = testdata("list.json");
        let entries = entries.as_array().unwrap();
        assert!(!entries.is_empty());
        for entry in entries {
            let valid = entry["valid"].as_bool().unwrap();
            assert!(matches!(entry["type"].as_str(), Some("ssn" | "con")));
            for key in ["long_format", "short_format", "separated_format", "separated_long"] {
                let input = entry[key].as_str().unwrap();
                let got = personnummer(input, real_today(), false);
                assert_eq!(got.is_ok(), valid, "{key} {input}: {got:?}");
                // Without `+`, a short form of someone born over a century ago reads as this century.
                if valid && key != "short_format" {
                    assert_eq!(got.as_deref(), Ok(entry["long_format"].as_str().unwrap()), "{key} {input}");
                }
            }
        }
    }

    #[test]
    fn personnummer_agrees_with_structured_json() {
        let data = testdata("structured.json");
        let mut seen = 0;
        for kind in ["ssn", "con"] {
            for (shape, list) in data[kind].as_object().unwrap() {
                for (verdict, valid) in [("valid", true), ("invalid", false)] {
                    for value in list[verdict].as_array().unwrap() {
                        let input = match value {
                            serde_json::Value::Number(n) => n.to_string(),
                            other => other.as_str().unwrap().to_owned(),
                        };
                        let got = personnummer(&input, real_today(), false);
                        assert_eq!(got.is_ok(), valid, "{kind} {shape} {input}: {got:?}");
                        seen += 1;
                    }
                }
            }
        }
        assert!(seen > 40);
    }

    #[test]
    fn personnummer_agrees_with_interim_json() {
        let entries = testdata("interim.json");
        for entry in entries.as_array().unwrap() {
            let valid = entry["valid"].as_bool().unwrap();
            assert_eq!(entry["type"], "interim");
            for key in ["long_format", "short_format", "separated_format", "separated_long"] {
                let input = entry[key].as_str().unwrap();
                let allowed = personnummer(input, real_today(), true);
                assert_eq!(allowed.is_ok(), valid, "{key} {input}: {allowed:?}");
                if valid {
                    assert_eq!(allowed.as_deref(), Ok(entry["long_format"].as_str().unwrap()));
                    assert_eq!(personnummer(input, real_today(), false), Err(Rule::PersonnummerInterim));
                } else {
                    assert!(personnummer(input, real_today(), false).is_err());
                }
            }
        }
    }

    fn formats(patterns: &[&str]) -> Vec<DateFormat> {
        patterns.iter().map(|p| DateFormat::new(p).unwrap()).collect()
    }

    #[test]
    fn date_fast_paths_and_fallback() {
        let reference = formats(&["%Y-%m-%d", "%Y%m%d", "%d.%m.%Y"]);
        let parse = |s: &str| date(s, &reference, false);
        check(
            parse,
            &[
                ("2024-01-05", Ok(day(2024, 1, 5))),
                (" 20240105 ", Ok(day(2024, 1, 5))),
                ("05.01.2024", Ok(day(2024, 1, 5))),
                ("2024-02-29", Ok(day(2024, 2, 29))),
                ("0999-01-01", Ok(day(999, 1, 1))),
                ("2023-02-29", Err(Rule::DateFormat)),
                ("2024-13-01", Err(Rule::DateFormat)),
                ("2024-1-5", Err(Rule::DateFormat)),
                ("05.01.24", Err(Rule::DateFormat)),
                ("2024015", Err(Rule::DateFormat)),
                ("2024/01/05", Err(Rule::DateFormat)),
                ("2024-01-05T00:00", Err(Rule::DateFormat)),
                ("２０２４-01-05", Err(Rule::DateFormat)),
                ("45123", Err(Rule::DateFormat)),
                ("", Err(Rule::DateFormat)),
            ],
        );
        let other = formats(&["%d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%-d.%-m.%Y"]);
        check(
            |s| date(s, &other, false),
            &[
                ("05/01/2024", Ok(day(2024, 1, 5))),
                ("2024-01-05 13:45:00", Ok(day(2024, 1, 5))),
                ("5.1.2024", Ok(day(2024, 1, 5))),
                ("31/02/2024", Err(Rule::DateFormat)),
            ],
        );
        assert_eq!(date("2024-01-05", &[], false), Err(Rule::DateFormat));
    }

    #[test]
    fn date_excel_serials() {
        let iso = formats(&["%Y-%m-%d"]);
        check(
            |s| date(s, &iso, true),
            &[
                ("1", Ok(day(1900, 1, 1))),
                ("59", Ok(day(1900, 2, 28))),
                ("60", Err(Rule::DateFormat)),
                ("61", Ok(day(1900, 3, 1))),
                ("45000", Ok(day(2023, 3, 15))),
                ("45123", Ok(day(2023, 7, 16))),
                ("45123.0", Ok(day(2023, 7, 16))),
                ("45123,75", Ok(day(2023, 7, 16))),
                ("2024-01-05", Ok(day(2024, 1, 5))),
                ("0", Err(Rule::DateFormat)),
                ("123456", Err(Rule::DateFormat)),
                ("45123.", Err(Rule::DateFormat)),
                (".5", Err(Rule::DateFormat)),
                ("-45123", Err(Rule::DateFormat)),
                ("45123.0.0", Err(Rule::DateFormat)),
            ],
        );
        assert_eq!(date("45123", &iso, false), Err(Rule::DateFormat));
    }

    #[test]
    fn date_format_errors_name_the_problem() {
        for (pattern, problem) in
            [("%Q", "malformed"), ("%Y-%m", "whole date"), ("", "whole date"), ("%Y-%m-%d %z", "cannot supply")]
        {
            let err = DateFormat::new(pattern).unwrap_err();
            assert!(err.contains(problem), "{pattern}: {err}");
        }
        assert_eq!(DateFormat::new("%Y%m%d").unwrap().pattern(), "%Y%m%d");
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn decimals() {
        check(
            |s| decimal(s, NumberFormat::default()),
            &[
                ("12,5", Ok(dec("12.5"))),
                ("45,000", Err(Rule::DecimalAmbiguous)),
                ("-1.234", Err(Rule::DecimalAmbiguous)),
                ("0,500", Ok(dec("0.5"))),
                ("1234,500", Ok(dec("1234.5"))),
                ("1 234,500", Ok(dec("1234.5"))),
                ("45,0001", Ok(dec("45.0001"))),
                ("12.5", Ok(dec("12.5"))),
                ("-0,25", Ok(dec("-0.25"))),
                ("+7", Ok(dec("7"))),
                (" 100 ", Ok(dec("100"))),
                ("1 234 567,50", Ok(dec("1234567.50"))),
                ("1\u{a0}234\u{202f}567.5", Ok(dec("1234567.5"))),
                ("123 456", Ok(dec("123456"))),
                ("0012", Ok(dec("12"))),
                ("1.234,50", Err(Rule::Decimal)),
                ("1,234.50", Err(Rule::Decimal)),
                ("1 23", Err(Rule::Decimal)),
                ("1234 567", Err(Rule::Decimal)),
                ("1  234", Err(Rule::Decimal)),
                ("1 234 5678", Err(Rule::Decimal)),
                ("1 234,5 6", Err(Rule::Decimal)),
                (" 1 234 ", Ok(dec("1234"))),
                ("12,", Err(Rule::Decimal)),
                (",5", Err(Rule::Decimal)),
                ("-", Err(Rule::Decimal)),
                ("--1", Err(Rule::Decimal)),
                ("1e5", Err(Rule::Decimal)),
                ("", Err(Rule::Decimal)),
                ("١٢", Err(Rule::Decimal)),
                ("79228162514264337593543950335", Ok(Decimal::MAX)),
                ("79228162514264337593543950336", Err(Rule::Decimal)),
                ("99999999999999999999999999999999999999999", Err(Rule::Decimal)),
            ],
        );
    }

    #[test]
    fn declared_separators_decide_what_a_default_field_finds_ambiguous() {
        let us = NumberFormat { decimal: DecimalSeparator::Point, thousands: Thousands::Comma };
        let de = NumberFormat { decimal: DecimalSeparator::Comma, thousands: Thousands::Point };
        let ch = NumberFormat { decimal: DecimalSeparator::Point, thousands: Thousands::Apostrophe };
        let se = NumberFormat { decimal: DecimalSeparator::Comma, thousands: Thousands::Space };
        let either_comma = NumberFormat { decimal: DecimalSeparator::Either, thousands: Thousands::Comma };
        check(
            |s| decimal(s, us),
            &[
                ("45,000", Ok(dec("45000"))),
                ("1,234.50", Ok(dec("1234.5"))),
                ("1.5", Ok(dec("1.5"))),
                ("1,5", Err(Rule::Decimal)),
                ("12,34", Err(Rule::Decimal)),
            ],
        );
        check(
            |s| decimal(s, de),
            &[("45.000", Ok(dec("45000"))), ("1.234,5", Ok(dec("1234.5"))), ("1.5", Err(Rule::Decimal))],
        );
        check(|s| decimal(s, ch), &[("1'234.5", Ok(dec("1234.5"))), ("1\u{2019}234", Ok(dec("1234")))]);
        check(|s| decimal(s, se), &[("45,000", Ok(dec("45"))), ("45.000", Err(Rule::Decimal))]);
        check(|s| decimal(s, either_comma), &[("45,000", Ok(dec("45000"))), ("4.5", Ok(dec("4.5")))]);
        let none = NumberFormat { decimal: DecimalSeparator::Either, thousands: Thousands::None };
        check(|s| decimal(s, none), &[("45,000", Ok(dec("45"))), ("45 000", Err(Rule::Decimal))]);
        let workbook = NumberFormat::default().in_workbook();
        check(|s| decimal(s, workbook), &[("37.125", Ok(dec("37.125"))), ("45,000", Err(Rule::DecimalAmbiguous))]);
        check(|s| integer(s, us), &[("45,000", Ok(45_000)), ("45 000", Err(Rule::Integer))]);
    }

    #[test]
    fn integers() {
        check(
            |s| integer(s, NumberFormat::default()),
            &[
                ("42", Ok(42)),
                ("-42", Ok(-42)),
                ("+42", Ok(42)),
                ("1 000 000", Ok(1_000_000)),
                ("9223372036854775807", Ok(i64::MAX)),
                ("-9223372036854775808", Ok(i64::MIN)),
                ("9223372036854775808", Err(Rule::Integer)),
                ("12.0", Err(Rule::Integer)),
                ("12,0", Err(Rule::Integer)),
                ("1 00", Err(Rule::Integer)),
                ("", Err(Rule::Integer)),
                ("x", Err(Rule::Integer)),
            ],
        );
    }

    #[test]
    fn booleans() {
        check(
            boolean,
            &[
                ("true", Ok(true)),
                ("YES", Ok(true)),
                ("Ja", Ok(true)),
                ("1", Ok(true)),
                ("y", Ok(true)),
                (" J ", Ok(true)),
                ("False", Ok(false)),
                ("no", Ok(false)),
                ("NEJ", Ok(false)),
                ("0", Ok(false)),
                ("n", Ok(false)),
                ("x", Err(Rule::Bool)),
                ("", Err(Rule::Bool)),
                ("tru", Err(Rule::Bool)),
                ("2", Err(Rule::Bool)),
            ],
        );
    }

    #[test]
    fn emails() {
        check(
            email,
            &[
                (" Anna.Svensson@Example.SE ", owned(Ok("anna.svensson@example.se"))),
                ("a+tag@sub.example.com", owned(Ok("a+tag@sub.example.com"))),
                ("no-at-sign", owned(Err(Rule::Email))),
                ("two@@example.se", owned(Err(Rule::Email))),
                ("a b@example.se", owned(Err(Rule::Email))),
                ("", owned(Err(Rule::Email))),
            ],
        );
    }

    #[test]
    fn phones() {
        check(
            |s| phone(s, "46"),
            &[
                ("070-123 45 67", owned(Ok("+46701234567"))),
                ("+46 70 123 45 67", owned(Ok("+46701234567"))),
                ("0046701234567", owned(Ok("+46701234567"))),
                ("08-123 456 78", owned(Ok("+46812345678"))),
                ("(08) 123 456 78", owned(Ok("+46812345678"))),
                ("+46 (0)70 123 45 67", owned(Ok("+46701234567"))),
                ("070.123.45.67", owned(Ok("+46701234567"))),
                ("070/1234567", owned(Ok("+46701234567"))),
                ("070\u{a0}123\u{202f}45 67", owned(Ok("+46701234567"))),
                ("701234567", owned(Ok("+46701234567"))),
                ("46701234567", owned(Ok("+4646701234567"))),
                ("+1 212 555 0100", owned(Ok("+12125550100"))),
                ("+46 070 123 45 67", owned(Err(Rule::Phone))),
                ("+0 123 456 789", owned(Err(Rule::Phone))),
                ("000 123 456 789", owned(Err(Rule::Phone))),
                ("070-12", owned(Err(Rule::Phone))),
                ("+46 70 123 45 67 89 01 23", owned(Err(Rule::Phone))),
                ("070-123 45 67 ext 2", owned(Err(Rule::Phone))),
                ("46+701234567", owned(Err(Rule::Phone))),
                ("++46701234567", owned(Err(Rule::Phone))),
                ("", owned(Err(Rule::Phone))),
                ("0", owned(Err(Rule::Phone))),
            ],
        );
        check(|s| phone(s, "358"), &[("040 123 4567", owned(Ok("+358401234567")))]);
        for bad_default in ["", "046", "4x", "4646"] {
            check(|s| phone(s, bad_default), &[("070-123 45 67", owned(Err(Rule::Phone)))]);
            check(|s| phone(s, bad_default), &[("+46701234567", owned(Ok("+46701234567")))]);
        }
    }

    #[test]
    fn personnummer_like_text() {
        let pnr = with_control("900101001");
        let con = with_control("730288993");
        let cases = [
            (format!("Ring {pnr} imorgon"), true),
            (format!("pnr:19{pnr}."), true),
            (format!("{}-{}", &pnr[..6], &pnr[6..]), true),
            (format!("19{}+{}", &pnr[..6], &pnr[6..]), true),
            (con.clone(), true),
            (format!("9{pnr}"), false),
            (format!("{pnr}1"), false),
            (format!("{}-{}5", &pnr[..6], &pnr[6..]), false),
            (format!("{} {}", &pnr[..6], &pnr[6..]), false),
            (format!("{}{}", &pnr[..9], (pnr.as_bytes()[9] - b'0' + 1) % 10), false),
            // 1900 is no leap year, so a twelve-digit 1900-02-29 is not a date.
            (format!("19{}", with_control("000229001")), false),
            (with_control("000229001"), true),
            (with_control("901301001"), false),
            ("Anteckning utan nummer, 2024-01-05, 100 kr".to_owned(), false),
            (String::new(), false),
            ("ééé١٢٣".repeat(1000), false),
        ];
        for (text, expected) in cases {
            assert_eq!(contains_personnummer_like(&text), expected, "{text:?}");
        }
    }

    /// A valid personnummer or samordningsnummer born within two centuries before `today()`.
    fn valid_personnummer() -> impl Strategy<Value = (NaiveDate, String, bool)> {
        let first = day(1826, 6, 16).num_days_from_ce();
        let last = today().num_days_from_ce();
        (first..=last, 1u32..=999, any::<bool>()).prop_map(|(days, serial, con)| {
            let birth = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
            let dd = birth.day() + if con { 60 } else { 0 };
            let nine = format!("{:02}{:02}{dd:02}{serial:03}", birth.year() % 100, birth.month());
            (birth, with_control(&nine), con)
        })
    }

    fn is_hundred(birth: NaiveDate) -> bool {
        (birth.year() + 100, birth.month(), birth.day()) <= (today().year(), today().month(), today().day())
    }

    proptest! {
        #[test]
        fn every_form_normalises_alike((birth, ten, _con) in valid_personnummer()) {
            let long = format!("{}{}", birth.year() / 100, ten);
            let sep = if is_hundred(birth) { '+' } else { '-' };
            let mut forms = vec![
                long.clone(),
                format!("{}-{}", &long[..8], &long[8..]),
                format!("{}{sep}{}", &ten[..6], &ten[6..]),
            ];
            if !is_hundred(birth) {
                forms.push(ten.clone());
            }
            for form in forms {
                prop_assert_eq!(personnummer(&form, today(), false), Ok(long.clone()), "{}", form);
                let text = format!("x {form} y");
                prop_assert!(contains_personnummer_like(&text));
            }
        }

        #[test]
        fn nothing_panics(s in any::<String>(), t in "[0-9 +\\-.,:/()TtéÅ\u{a0}\u{202f}]{0,16}") {
            let reference = formats(&["%Y-%m-%d", "%Y%m%d", "%d.%m.%Y", "%d/%m/%y"]);
            for input in [s.as_str(), t.as_str()] {
                let _ = personnummer(input, today(), true);
                let _ = personnummer(input, today(), false);
                let _ = date(input, &reference, true);
                let _ = decimal(input, NumberFormat::default());
                let _ = decimal(input, NumberFormat { decimal: DecimalSeparator::Point, thousands: Thousands::Comma });
                let _ = integer(input, NumberFormat::default());
                let _ = boolean(input);
                let _ = email(input);
                let _ = phone(input, "46");
                let _ = contains_personnummer_like(input);
                let _ = DateFormat::new(input);
            }
        }

        #[test]
        fn decimal_round_trips(mantissa in any::<i64>(), scale in 0u32..=6) {
            let value = Decimal::new(mantissa, scale);
            let plain = value.to_string();
            let (sign, unsigned) = match plain.strip_prefix('-') {
                Some(rest) => ("-", rest),
                None => ("", plain.as_str()),
            };
            let (whole, fraction) = unsigned.split_once('.').map_or((unsigned, None), |(w, f)| (w, Some(f)));
            let mut grouped = String::new();
            for (i, c) in whole.chars().enumerate() {
                if i > 0 && (whole.len() - i) % 3 == 0 {
                    grouped.push(' ');
                }
                grouped.push(c);
            }
            let tail = fraction.map(|f| format!(",{f}")).unwrap_or_default();
            let comma = NumberFormat { decimal: DecimalSeparator::Comma, thousands: Thousands::Space };
            prop_assert_eq!(decimal(&format!("{sign}{whole}{tail}"), comma), Ok(value));
            prop_assert_eq!(decimal(&format!("{sign}{grouped}{tail}"), comma), Ok(value));
            let us = NumberFormat { decimal: DecimalSeparator::Point, thousands: Thousands::Comma };
            let (us_grouped, us_tail) = (grouped.replace(' ', ","), tail.replace(',', "."));
            prop_assert_eq!(decimal(&format!("{sign}{us_grouped}{us_tail}"), us), Ok(value));
        }

        #[test]
        fn fast_path_dates_round_trip(days in day(1, 1, 1).num_days_from_ce()..=day(9999, 12, 31).num_days_from_ce()) {
            let d = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
            for pattern in ["%Y-%m-%d", "%Y%m%d", "%d.%m.%Y"] {
                let text = d.format(pattern).to_string();
                prop_assert_eq!(date(&text, &formats(&[pattern]), false), Ok(d), "{}", text);
            }
        }
    }
}
