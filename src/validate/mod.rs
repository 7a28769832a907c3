//! Validate and minimise: turns a read record into a `Row` of normalised mapped values, or a
//! `Rejected` row carrying every rule it broke. Nothing after this step sees an unmapped column.

pub mod rule;
pub mod sensitive;
pub mod types;

use chrono::NaiveDate;

pub use rule::Rule;

use crate::ids::EmployeeKey;
use crate::mapping::{Case, DataClass, Event, Field, FieldType, IfColumnMissing, Mapping};
use crate::read::{Header, NotText, Record, normalise_header};
use crate::value::Value;

/// A valid, minimised row: only mapped fields, normalised. There is no slot for an unmapped column.
#[derive(Debug, Clone)]
pub struct Row {
    pub row: u64,
    pub line: u64,
    pub key: EmployeeKey,
    /// One entry per mapping field, in mapping order; `None` = empty.
    pub values: Vec<Option<Value>>,
    /// What a delta file's event column says of the row.
    pub event: Option<Event>,
    /// The row ends the employment without naming the date, so its end date is today's; a
    /// person whose end is stored keeps that date instead (see `ingest`).
    pub end_from_today: bool,
}

/// `CellError::field` of a broken rule of the event column, which is no field of the mapping.
pub const EVENT_COLUMN: usize = usize::MAX;

/// A row that broke at least one rule. Keeps its mapped values (for quarantine) and every error.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub row: u64,
    pub line: u64,
    /// The key, when the key field itself was valid: such a person is present, not missing.
    pub key: Option<EmployeeKey>,
    pub errors: Vec<CellError>,
    pub values: Vec<Option<Value>>,
}

/// One broken rule: which field (index into the mapping's fields) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellError {
    pub field: usize,
    pub rule: Rule,
}

/// Why a file cannot be validated at all.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("missing key column `{column}` (field `{field}`): the file cannot be matched to the register")]
    MissingKeyColumn { column: String, field: String },
    #[error("missing required column `{column}` (field `{field}`)")]
    MissingRequiredColumn { column: String, field: String },
    #[error("missing event column `{column}` ([file] event_column): a delta file's rows cannot be told apart")]
    MissingEventColumn { column: String },
}

/// Where each field's cell sits in this file, and what the file holds that the mapping does not.
#[derive(Debug)]
pub struct Plan {
    /// Per mapping field: the file column index, if the file has it.
    pub columns: Vec<Option<usize>>,
    /// Per mapping field: the column name as the file writes it (or the mapping's, if absent).
    pub column_names: Vec<String>,
    /// Unmapped columns, dropped here: (file index, name as written).
    pub dropped: Vec<(usize, String)>,
    /// Optional mapped fields whose column the file lacks (treated as empty).
    pub missing_optional: Vec<String>,
    /// Per dropped column: its name reveals a sensitive category.
    sensitive_name: Vec<bool>,
    /// The file column of a delta file's events, and its name as the file writes it.
    pub event: Option<(usize, String)>,
}

impl Plan {
    /// Matches the header to the mapping's fields by normalised name and aliases.
    pub fn new(header: &Header, mapping: &Mapping) -> Result<Plan, PlanError> {
        let normalised: Vec<String> = header.columns.iter().map(|c| normalise_header(c)).collect();
        let mut columns = Vec::with_capacity(mapping.fields.len());
        let mut column_names = Vec::with_capacity(mapping.fields.len());
        let mut missing_optional = Vec::new();
        for (i, field) in mapping.fields.iter().enumerate() {
            let at = field.columns.iter().find_map(|c| normalised.iter().position(|n| n == c));
            match at {
                Some(idx) => column_names.push(header.columns[idx].clone()),
                None if i == mapping.key => {
                    return Err(PlanError::MissingKeyColumn {
                        column: field.column.clone(),
                        field: field.name.clone(),
                    });
                }
                None if field.required => {
                    return Err(PlanError::MissingRequiredColumn {
                        column: field.column.clone(),
                        field: field.name.clone(),
                    });
                }
                None => {
                    missing_optional.push(field.name.clone());
                    column_names.push(field.column.clone());
                }
            }
            columns.push(at);
        }
        let event = match &mapping.events {
            None => None,
            Some(e) => match normalised.iter().position(|n| *n == e.normalised) {
                Some(i) => Some((i, header.columns[i].clone())),
                None => return Err(PlanError::MissingEventColumn { column: e.column.clone() }),
            },
        };
        let event_at = event.as_ref().map(|(i, _)| *i);
        let dropped: Vec<(usize, String)> = (0..header.columns.len())
            .filter(|i| !columns.contains(&Some(*i)) && event_at != Some(*i))
            .map(|i| (i, header.columns[i].clone()))
            .collect();
        let sensitive_name = dropped
            .iter()
            .map(|(_, n)| sensitive::column_category(&normalise_header(n), &mapping.sensitive_words).is_some())
            .collect();
        Ok(Plan { columns, column_names, dropped, missing_optional, sensitive_name, event })
    }

    /// Per field: whether an empty value keeps the stored one, because the file lacks the
    /// field's column and the mapping says absence keeps what is stored.
    pub fn keep_stored(&self, mapping: &Mapping) -> Vec<bool> {
        mapping
            .fields
            .iter()
            .zip(&self.columns)
            .map(|(f, c)| c.is_none() && f.if_column_missing == IfColumnMissing::Keep)
            .collect()
    }

    /// The fields (name, column as the mapping writes it) whose column the file lacks and whose
    /// mapping says that absence holds the run, unless a blank cell keeps the stored value.
    pub fn absent_held(&self, mapping: &Mapping) -> Vec<(String, String)> {
        mapping
            .fields
            .iter()
            .zip(&self.columns)
            // A field whose blank cell keeps the stored value loses nothing when its column is
            // absent either (a delta file's change rows).
            .filter(|(f, c)| c.is_none() && f.if_column_missing == IfColumnMissing::Hold && !f.blank_keeps)
            .map(|(f, _)| (f.name.clone(), f.column.clone()))
            .collect()
    }

    /// Dropped columns whose name, or (once seen, per `flags`) content, is sensitive: refused.
    pub fn refused(&self, content_flags: &[bool]) -> Vec<String> {
        self.dropped
            .iter()
            .enumerate()
            .filter(|(i, _)| self.sensitive_name[*i] || content_flags.get(*i).copied().unwrap_or(false))
            .map(|(_, (_, n))| n.clone())
            .collect()
    }

    /// Marks dropped columns of `record` holding an identity-number-like value; each column is
    /// looked at only until it is first flagged, and its content goes nowhere.
    pub fn scan_dropped(&self, record: &Record, flags: &mut Vec<bool>) {
        flags.resize(self.dropped.len(), false);
        for (i, (col, _)) in self.dropped.iter().enumerate() {
            if !flags[i] && !self.sensitive_name[i] {
                // Digits are the same bytes in every encoding hrfeed reads, so the cell need not
                // be checked as text first.
                let cell = record.bytes(*col);
                flags[i] = !cell.is_empty() && sensitive::text_holds_identity_number(cell);
            }
        }
    }
}

/// Facts about this run that rules need: today's date (identity-number centuries) and whether
/// the file is a workbook (Excel serial dates).
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub today: NaiveDate,
    pub workbook: bool,
}

/// The event a delta file's row names; `Err` if its cell names none (or is not text).
pub fn event_of(record: &Record, plan: &Plan, mapping: &Mapping) -> Result<Option<Event>, Rule> {
    let (Some(events), Some((col, _))) = (&mapping.events, &plan.event) else { return Ok(None) };
    let cell = record.text(*col).map_err(|NotText| Rule::Encoding)?;
    events.of(cell).map(Some).ok_or(Rule::UnknownEvent)
}

/// Validates and minimises one record.
pub fn validate(record: &Record, plan: &Plan, mapping: &Mapping, ctx: Context) -> Result<Row, Rejected> {
    let mut values: Vec<Option<Value>> = Vec::with_capacity(mapping.fields.len());
    let mut errors = Vec::new();
    let event = event_of(record, plan, mapping).unwrap_or_else(|rule| {
        errors.push(CellError { field: EVENT_COLUMN, rule });
        None
    });
    // A change or an end names only what it changes: an empty cell of a field that keeps the
    // stored value on a blank is no missing value, the key's aside.
    // A row whose event is unknown says only that: its empty cells are no further errors.
    let partial = matches!(event, Some(Event::Change | Event::End)) || !errors.is_empty();
    let mut ends = event == Some(Event::End);
    for (i, field) in mapping.fields.iter().enumerate() {
        let cell = match plan.columns[i].map(|c| record.text(c)) {
            Some(Err(NotText)) => {
                errors.push(CellError { field: i, rule: Rule::Encoding });
                values.push(None);
                continue;
            }
            Some(Ok(cell)) => cell,
            None => "",
        };
        if partial && i != mapping.key && field.blank_keeps && cell.trim().is_empty() {
            values.push(None);
            continue;
        }
        match check_field(cell, field, ctx) {
            Ok(v) => {
                ends |= !field.ends_employment.is_empty()
                    && v.as_ref()
                        .is_some_and(|v| field.ends_employment.iter().any(|e| *e == v.expose().to_lowercase()));
                values.push(v);
            }
            Err(rules) => {
                errors.extend(rules.into_iter().map(|rule| CellError { field: i, rule }));
                values.push(None);
            }
        }
    }
    let mut end_from_today = false;
    if ends
        && let Some(end) = mapping.end_date
        && values[end].is_none()
        && !errors.iter().any(|e| e.field == end)
    {
        values[end] = Some(Value::new(iso_date(ctx.today)));
        end_from_today = true;
    }
    errors.extend(
        date_order_broken(mapping, &values).into_iter().map(|field| CellError { field, rule: Rule::DateOrder }),
    );
    let key_ok = !errors.iter().any(|e| e.field == mapping.key);
    let key = values[mapping.key].as_ref().filter(|_| key_ok).map(|v| EmployeeKey::new(v.expose()));
    match key {
        Some(key) if errors.is_empty() => {
            Ok(Row { row: record.row, line: record.line, key, values, event, end_from_today })
        }
        key => {
            // Quarantine keeps the mapped cells as written (trimmed), so a steward can fix them;
            // unmapped columns are not there to keep.
            let values = plan
                .columns
                .iter()
                .map(|c| c.and_then(|c| record.text(c).ok()).map(str::trim).filter(|s| !s.is_empty()).map(Value::new))
                .collect();
            if key.is_none() && errors.is_empty() {
                errors.push(CellError { field: mapping.key, rule: Rule::Required });
            }
            Err(Rejected { row: record.row, line: record.line, key, errors, values })
        }
    }
}

/// A key as its people mean it: fullwidth digits and other compatibility forms as their plain
/// characters (NFKC), and characters that show as nothing (zero-width spaces, bidi controls, soft
/// hyphens, control characters) removed. Otherwise `１００１` or `1001` with a zero-width space
/// would be a new person, and the real one missing.
fn plain_key(cell: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    cell.nfkc().filter(|c| !invisible(*c)).collect()
}

/// A character a key may hold without a `pattern`: ASCII, or a Latin letter with a mark
/// (`ÖST-0012`). Greek and Cyrillic letters that look like Latin ones are refused: `А1001` with a
/// Cyrillic А would be another person than `A1001`.
fn latin(c: char) -> bool {
    c.is_ascii() || ('\u{00C0}'..='\u{024F}').contains(&c) && c != '\u{00D7}' && c != '\u{00F7}'
}

/// Characters of Unicode's format category (Cf) and controls, which render as nothing.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// The date fields whose value lies before that of their `not_before` field (ISO dates compare
/// as text).
pub fn date_order_broken(mapping: &Mapping, values: &[Option<Value>]) -> Vec<usize> {
    let mut broken = Vec::new();
    for (i, field) in mapping.fields.iter().enumerate() {
        if let (Some(before), Some(Some(this))) = (field.not_before, values.get(i))
            && let Some(Some(other)) = values.get(before)
            && this.expose() < other.expose()
        {
            broken.push(i);
        }
    }
    broken
}

/// The key `validate` would give `record`, if its key cell is valid, found without checking the
/// rest of the row (the quick check of unchanged rows needs only the key).
pub fn key_of(record: &Record, plan: &Plan, mapping: &Mapping, ctx: Context) -> Option<Value> {
    let cell = record.text(plan.columns[mapping.key]?).ok()?;
    check_field(cell, mapping.key_field(), ctx).ok().flatten()
}

/// The key cell as written (trimmed if the key field trims), unvalidated: the quick check looks
/// it up before paying for the key's rules. A hit with a matching cells print is sound, since the
/// print covers this very cell, and a stored print comes from cells that validated to that key.
pub fn key_cell<'r>(record: &'r Record, plan: &Plan, mapping: &Mapping) -> Option<&'r str> {
    let cell = record.text(plan.columns[mapping.key]?).ok()?;
    let cell = if mapping.key_field().trim { cell.trim() } else { cell };
    (!cell.is_empty()).then_some(cell)
}

/// Kinds of entry in `encode_cells`: a cell as read, a value as validated today, a broken rule,
/// a column the file lacks (which may keep stored values, as an empty cell need not).
const CELL: u64 = 0;
const VALUE: u64 = 1;
const ERROR: u64 = 2;
const ABSENT: u64 = 3;

/// Appends one `encode_cells` entry: its kind and length as one LEB128 number, then its bytes.
/// Prefix-free, and two bytes of overhead for most cells: the print's hash costs per 64 bytes.
fn push_entry(out: &mut Vec<u8>, kind: u64, bytes: &[u8]) {
    let mut n = (u64::try_from(bytes.len()).unwrap_or(u64::MAX >> 2) << 2) | kind;
    while n >= 0x80 {
        out.push((n & 0x7F) as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(bytes);
}

/// Encodes into `out` what decides a record's validation, for the quick check's cells print:
/// each mapped cell as read, in mapping order (a column the file lacks reads as empty), each
/// length-prefixed; a field whose rule also reads today (an identity number: its century and
/// whether its birth date lies ahead) as its result today instead. `false` if such a cell is not
/// valid text (the row is then rejected, so it has no print).
///
/// The other cells enter as bytes, unchecked: only a valid row's print is ever stored, so a row
/// whose print matches a stored one has the very bytes of a row that was valid text, and every
/// other row is validated, which checks them.
pub fn encode_cells(record: &Record, plan: &Plan, mapping: &Mapping, ctx: Context, out: &mut Vec<u8>) -> bool {
    out.clear();
    for (i, field) in mapping.fields.iter().enumerate() {
        let column = plan.columns[i];
        if !field.kind.reads_today() {
            match column {
                Some(c) => push_entry(out, CELL, record.bytes(c)),
                None => push_entry(out, ABSENT, b""),
            }
            continue;
        }
        let cell = match column.map(|c| record.text(c)) {
            Some(Err(NotText)) => return false,
            Some(Ok(cell)) => cell,
            None => "",
        };
        match check_field(cell, field, ctx) {
            Ok(v) => push_entry(out, VALUE, v.as_ref().map_or("", Value::expose).as_bytes()),
            Err(rules) => {
                for r in rules {
                    push_entry(out, ERROR, r.as_str().as_bytes());
                }
            }
        }
    }
    true
}

/// Checks one cell against one field's rules; `Ok(None)` for an allowed empty cell.
fn check_field(cell: &str, field: &Field, ctx: Context) -> Result<Option<Value>, Vec<Rule>> {
    let plain;
    let cell = if field.is_key && !cell.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        plain = plain_key(cell);
        if field.pattern.is_none() && !plain.chars().all(latin) {
            return Err(vec![Rule::KeyCharacters]);
        }
        plain.as_str()
    } else {
        cell
    };
    let mut text = if field.trim { cell.trim() } else { cell };
    if !field.recode.is_empty()
        && let Some((_, to)) = field.recode.iter().find(|(from, _)| text.trim().to_lowercase() == *from)
    {
        text = to;
    }
    if text.is_empty() {
        return if field.required { Err(vec![Rule::Required]) } else { Ok(None) };
    }
    let cased;
    let text = match field.case {
        None => text,
        Some(Case::Lower) => {
            cased = text.to_lowercase();
            cased.as_str()
        }
        Some(Case::Upper) => {
            cased = text.to_uppercase();
            cased.as_str()
        }
    };
    let one = |r: Rule| vec![r];
    let normalised: String = match &field.kind {
        FieldType::String => {
            if !field.class.needs_purpose()
                && field.class != DataClass::Identifier
                && sensitive::text_holds_identity_number(text)
            {
                return Err(one(Rule::SensitiveWithoutPurpose));
            }
            match field.zero_pad_width {
                Some(w) if text.len() < w && text.bytes().all(|b| b.is_ascii_digit()) => format!("{text:0>w$}"),
                _ => text.to_owned(),
            }
        }
        FieldType::Integer => {
            let text = without_currency(text, &field.currency_symbols);
            let n = rust_decimal::Decimal::from(types::integer(&text, number_format(field, ctx)).map_err(one)?);
            let n = scaled(n, field).ok_or(Rule::Integer).map_err(one)?;
            if !n.fract().is_zero() {
                return Err(one(Rule::Integer));
            }
            in_range(n, field)?;
            n.trunc().normalize().to_string()
        }
        FieldType::Decimal => {
            let text = without_currency(text, &field.currency_symbols);
            let d = types::decimal(&text, number_format(field, ctx)).map_err(one)?;
            let d = scaled(d, field).ok_or(Rule::Decimal).map_err(one)?;
            in_range(d, field)?;
            d.normalize().to_string()
        }
        FieldType::Date { formats, excel_serial } => {
            let serial = *excel_serial && ctx.workbook;
            let date = match types::date(text, formats, serial) {
                Err(_) if serial && let Some(d) = types::workbook_datetime_date(text) => d,
                other => other.map_err(one)?,
            };
            iso_date(date)
        }
        FieldType::Bool => types::boolean(text).map_err(one)?.to_string(),
        FieldType::Email => types::email(text).map_err(one)?,
        FieldType::Phone { country_code } => types::phone(text, country_code).map_err(one)?,
        FieldType::Personnummer { allow_interim } => {
            types::personnummer(text, ctx.today, *allow_interim).map_err(one)?
        }
        FieldType::Enum { values } => {
            // ASCII on both sides (the common case) compares without allocating.
            let same = |v: &String| {
                if v.is_ascii() && text.is_ascii() {
                    v.eq_ignore_ascii_case(text)
                } else {
                    v.to_lowercase() == text.to_lowercase()
                }
            };
            match values.iter().find(|v| same(v)) {
                Some(v) => v.clone(),
                None => return Err(one(Rule::Enum)),
            }
        }
    };
    let mut broken = Vec::new();
    if field.min_length.is_some() || field.max_length.is_some() {
        let chars = normalised.chars().count();
        if field.min_length.is_some_and(|m| chars < m) {
            broken.push(Rule::MinLength);
        }
        if field.max_length.is_some_and(|m| chars > m) {
            broken.push(Rule::MaxLength);
        }
    }
    if field.pattern.as_ref().is_some_and(|p| !p.is_match(&normalised)) {
        broken.push(Rule::Pattern);
    }
    if broken.is_empty() { Ok(Some(Value::new(normalised))) } else { Err(broken) }
}

/// `YYYY-MM-DD`, as chrono's `%Y-%m-%d` writes it, without parsing a format string per cell.
fn iso_date(d: NaiveDate) -> String {
    use chrono::Datelike;
    if (0..=9999).contains(&d.year()) {
        format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    } else {
        d.format("%Y-%m-%d").to_string()
    }
}

/// The number's text without one currency sign or code before or after it (after a sign, too:
/// `-$5`); borrowed as it is when the field declares none.
fn without_currency<'t>(text: &'t str, symbols: &[String]) -> std::borrow::Cow<'t, str> {
    if symbols.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    let (sign, body) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest.trim_start()),
        None => ("", text),
    };
    for s in symbols {
        if let Some(rest) = body.strip_prefix(s.as_str()).or_else(|| body.strip_suffix(s.as_str())) {
            return std::borrow::Cow::Owned(format!("{sign}{}", rest.trim()));
        }
    }
    std::borrow::Cow::Borrowed(text)
}

/// The field's number format for this file: a workbook writes its number cells with `.`.
fn number_format(field: &Field, ctx: Context) -> types::NumberFormat {
    if ctx.workbook { field.number.in_workbook() } else { field.number }
}

/// The number times the field's `scale`, if it has one; `None` if that overflows.
fn scaled(n: rust_decimal::Decimal, field: &Field) -> Option<rust_decimal::Decimal> {
    match field.scale {
        Some(s) => n.checked_mul(s),
        None => Some(n),
    }
}

fn in_range(d: rust_decimal::Decimal, field: &Field) -> Result<(), Vec<Rule>> {
    let below = field.min.is_some_and(|m| d < m);
    let above = field.max.is_some_and(|m| d > m);
    if below || above { Err(vec![Rule::Range]) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[(u64, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (kind, text) in list {
            push_entry(&mut out, *kind, text.as_bytes());
        }
        out
    }

    /// Issue 15, case 11: keys as people mean them; Latin letters with marks are keys too, but
    /// a Cyrillic look-alike is not.
    #[test]
    fn keys_are_normalised_and_look_alikes_refused() {
        assert_eq!(plain_key("\u{FEFF}１００１\u{200B}\u{202E}"), "1001");
        assert_eq!(plain_key("10\u{0}01\t"), "1001");
        assert_eq!(plain_key("A\u{030A}SA-1"), "ÅSA-1");
        assert!("ÖST-0012".chars().all(latin));
        assert!(!"\u{0410}1001".chars().all(latin), "a Cyrillic А");
        assert!(!"\u{0391}1001".chars().all(latin), "a Greek Α");
    }

    #[test]
    fn cell_entries_are_prefix_free() {
        assert_ne!(entries(&[(CELL, "ab"), (CELL, "c")]), entries(&[(CELL, "a"), (CELL, "bc")]));
        assert_ne!(entries(&[(CELL, "")]), entries(&[(VALUE, "")]));
        assert_ne!(entries(&[(CELL, ""), (CELL, "")]), entries(&[(CELL, "")]));
        // A length past one byte's worth still reads back as the same entry boundary.
        let long = "x".repeat(300);
        let e = entries(&[(ERROR, &long)]);
        assert_eq!(e.len(), 2 + 300);
        assert_eq!(e[..2], [((300 << 2 | 2) & 0x7F) as u8 | 0x80, ((300 << 2 | 2) >> 7) as u8]);
    }
}
