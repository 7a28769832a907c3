//! Checks a raw mapping and builds the `Mapping`, collecting every error with its TOML line.

use std::fmt;
use std::str::FromStr;

use regex::Regex;
use rust_decimal::Decimal;
use toml::Spanned;

use super::raw::{RawField, RawFile, RawMapping, RawSource};
use super::{Case, DataClass, Event, Events, Field, FieldType, FileMode, IfColumnMissing, Keep, Mapping, Policy};
use crate::ids::TenantId;
use crate::read::{EncodingChoice, FormatChoice, ReadOptions, normalise_header};
use crate::validate::sensitive;
use crate::validate::types::{DateFormat, DecimalSeparator, NumberFormat, Thousands};

/// One problem in a mapping file, with the 1-based TOML line where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorAt {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ErrorAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Line numbers from byte offsets, computed once per file.
/// The offsets of the text's line feeds, so that an error's line is found by a binary search
/// (counting from the start for every field made a large mapping's load quadratic).
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Lines {
        Lines(memchr::memchr_iter(b'\n', text.as_bytes()).collect())
    }

    fn of(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }

    fn at<T>(&self, s: &Spanned<T>) -> Option<usize> {
        Some(self.of(s.span().start))
    }
}

const MAX_FIELDS: usize = 10_000;

const DEFAULT_DATE_FORMATS: &[&str] = &["%Y-%m-%d", "%Y%m%d", "%d.%m.%Y"];

/// Checks `text` (a mapping TOML file) and builds the mapping, or returns every error found.
pub fn compile(text: &str) -> Result<Mapping, Vec<ErrorAt>> {
    let lines = Lines::new(text);
    let raw: RawMapping = toml::from_str(text).map_err(|e| {
        vec![ErrorAt { line: e.span().map(|s| lines.of(s.start)), message: with_suggestion(e.message().trim()) }]
    })?;
    // A row holds at most as many cells (read::csv's limit); more fields could map nothing.
    if raw.fields.len() > MAX_FIELDS {
        let message =
            format!("the mapping has {} fields, more than the {MAX_FIELDS} a mapping may have", raw.fields.len());
        return Err(vec![ErrorAt { line: None, message }]);
    }
    let mut errors = Vec::new();
    let mut err = |line: Option<usize>, message: String| errors.push(ErrorAt { line, message });

    let tenant = raw.tenant.as_ref().and_then(|t| match TenantId::parse(t.get_ref()) {
        Ok(id) => Some(id),
        Err(m) => {
            err(lines.at(t), m);
            None
        }
    });
    let read = read_options(&raw.source, &lines, &mut err);

    // Fields in file order: serde gives a sorted map, the spans give the order they were written.
    let mut raw_fields: Vec<(&String, &Spanned<toml::Value>)> = raw.fields.iter().collect();
    raw_fields.sort_by_key(|(_, v)| v.span().start);
    let mut parsed: Vec<(String, Option<usize>, RawField)> = Vec::new();
    // Tables that could not be read have their own error; references to them get none more.
    let mut unreadable: Vec<&str> = Vec::new();
    for (name, value) in raw_fields {
        let line = lines.at(value);
        match value.get_ref().clone().try_into::<RawField>() {
            Ok(f) => parsed.push((name.clone(), line, f)),
            Err(e) => {
                err(line, format!("field `{name}`: {}", with_suggestion(e.message().trim())));
                unreadable.push(name);
            }
        }
    }
    let names: Vec<&str> = parsed.iter().map(|(n, _, _)| n.as_str()).collect();
    let words: Vec<String> = raw.sensitive.column_words.iter().map(|w| w.to_lowercase()).collect();
    let mut fields = Vec::new();
    let file = raw.file.get_ref();
    let file_line = lines.at(&raw.file);
    let mode = match file.mode.as_deref() {
        None | Some("full") => FileMode::Full,
        Some("delta") => FileMode::Delta,
        Some(other) => {
            err(file_line, format!("[file] mode `{other}`: expected `full` or `delta`"));
            FileMode::Full
        }
    };
    for (name, line, f) in &parsed {
        let mut ferr = |m: String| err(*line, format!("field `{name}`: {m}"));
        if let Some(field) = field(name, f, &names, &words, mode, &mut ferr) {
            fields.push(field);
        }
    }
    check_duplicate_columns(&parsed, &mut err);
    let events = events(file, mode, &parsed, &mut |m| err(file_line, m));
    let find = |n: &str| names.iter().position(|x| *x == n);
    let key = find(&file.key);
    match key.map(|k| &parsed[k].2) {
        None if unreadable.contains(&file.key.as_str()) => {}
        None => err(
            file_line,
            format!("[file] key `{}` is not a field of this mapping{}", file.key, hint(&file.key, &names)),
        ),
        Some(k) if !k.required => err(file_line, format!("[file] key field `{}` must be `required = true`", file.key)),
        Some(_) => {}
    }
    let mut date_ref = |label: &str, value: &Option<String>| -> Option<usize> {
        let name = value.as_ref()?;
        match find(name) {
            Some(i) if parsed[i].2.kind == "date" => Some(i),
            Some(_) => {
                err(file_line, format!("[file] {label} `{name}` is not a date field"));
                None
            }
            None if unreadable.contains(&name.as_str()) => None,
            None => {
                err(file_line, format!("[file] {label} `{name}` is not a field of this mapping{}", hint(name, &names)));
                None
            }
        }
    };
    let start_date = date_ref("start_date_field", &file.start_date_field);
    let end_date = date_ref("end_date_field", &file.end_date_field);
    let ends_by_value = parsed.iter().any(|(_, _, f)| !f.ends_employment.is_empty());
    let ends_by_event = events.as_ref().is_some_and(|e| e.values.iter().any(|(_, ev)| *ev == Event::End));
    if (ends_by_value || ends_by_event) && end_date.is_none() {
        err(file_line, "an employment end (`ends_employment` or an `end` event) needs `[file] end_date_field`".into());
    }
    let policy = policy(&raw, &mut err);

    if !errors.is_empty() || fields.len() != parsed.len() {
        return Err(errors);
    }
    let Some(key) = key else { return Err(errors) };
    let mut fields = fields;
    fields[key].is_key = true;
    Ok(Mapping {
        tenant,
        read: ReadOptions { header_hints: fields[key].columns.clone(), ..read },
        mode,
        fields,
        key,
        start_date,
        end_date,
        policy,
        sensitive_words: words,
        digest: *blake3::hash(text.as_bytes()).as_bytes(),
        events,
    })
}

/// The event column of a delta file, checked: delta mode only, a column of its own, every
/// spelling naming one event.
fn events(
    file: &RawFile,
    mode: FileMode,
    parsed: &[(String, Option<usize>, RawField)],
    err: &mut impl FnMut(String),
) -> Option<Events> {
    let (column, raw) = match (&file.event_column, &file.events) {
        (None, None) => return None,
        (Some(c), Some(e)) => (c, e),
        _ => {
            err("[file] `event_column` and `[file.events]` go together".into());
            return None;
        }
    };
    if mode != FileMode::Delta {
        err("[file] an event column is for `mode = \"delta\"` files".into());
    }
    let normalised = normalise_header(column);
    if normalised.is_empty() {
        err("[file] `event_column` must not be empty".into());
    }
    let taken = parsed
        .iter()
        .find(|(_, _, f)| std::iter::once(&f.column).chain(&f.aliases).any(|c| normalise_header(c) == normalised));
    if let Some((name, _, _)) = taken {
        err(format!("[file] event column `{column}` is already mapped by field `{name}`"));
    }
    let mut values: Vec<(String, Event)> = Vec::new();
    for (list, event) in [(&raw.new, Event::New), (&raw.change, Event::Change), (&raw.end, Event::End)] {
        for v in list {
            let v = v.trim().to_lowercase();
            if v.is_empty() || values.iter().any(|(w, _)| *w == v) {
                err(format!("[file.events] `{v}` is empty or listed twice"));
            }
            values.push((v, event));
        }
    }
    if values.is_empty() {
        err("[file.events] lists no spellings: give `new`, `change` and `end`".into());
    }
    Some(Events { column: column.clone(), normalised, values })
}

fn read_options(src: &RawSource, lines: &Lines, err: &mut impl FnMut(Option<usize>, String)) -> ReadOptions {
    let mut o = ReadOptions::default();
    let is_auto = |s: &Spanned<String>| s.get_ref().eq_ignore_ascii_case("auto");
    if let Some(f) = src.format.as_ref().filter(|f| !is_auto(f)) {
        o.format = match f.get_ref().to_ascii_lowercase().as_str() {
            "csv" => FormatChoice::Csv,
            "xlsx" => FormatChoice::Xlsx,
            "xls" => FormatChoice::Xls,
            "ods" => FormatChoice::Ods,
            other => {
                err(lines.at(f), format!("[source] format `{other}`: expected auto, csv, xlsx, xls or ods"));
                FormatChoice::Auto
            }
        };
    }
    if let Some(e) = src.encoding.as_ref().filter(|e| !is_auto(e)) {
        o.encoding = match e.get_ref().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => EncodingChoice::Utf8,
            "utf-16le" => EncodingChoice::Utf16Le,
            "utf-16be" => EncodingChoice::Utf16Be,
            "windows-1252" | "cp1252" => EncodingChoice::Windows1252,
            other => {
                err(
                    lines.at(e),
                    format!("[source] encoding `{other}`: expected auto, utf-8, utf-16le, utf-16be or windows-1252"),
                );
                EncodingChoice::Auto
            }
        };
    }
    if let Some(d) = src.delimiter.as_ref().filter(|d| !is_auto(d)) {
        o.delimiter = match d.get_ref().as_str() {
            ";" => Some(b';'),
            "," => Some(b','),
            "\t" | "tab" => Some(b'\t'),
            "|" => Some(b'|'),
            _ => {
                err(
                    lines.at(d),
                    "[source] delimiter: expected auto, \";\", \",\", \"\\t\" (or \"tab\") or \"|\"".into(),
                );
                None
            }
        };
    }
    o.sheet = src.sheet.as_ref().filter(|s| !is_auto(s)).map(|s| s.get_ref().clone());
    if let Some(h) = &src.header_row {
        match h.get_ref() {
            toml::Value::String(s) if s.eq_ignore_ascii_case("auto") => {}
            toml::Value::Integer(n) if (1..=1000).contains(n) => o.header_row = u32::try_from(*n).ok(),
            _ => err(lines.at(h), "[source] header_row: expected \"auto\" or a row number 1-1000".into()),
        }
    }
    if let Some(m) = src.max_field_bytes {
        o.max_field_bytes = m;
    }
    if let Some(f) = &src.footer_pattern {
        match Regex::new(f.get_ref()) {
            Ok(r) => o.footer = Some(r),
            Err(e) => err(lines.at(f), format!("[source] footer_pattern {}", regex_fault(&e))),
        }
    }
    o.end_at_blank_row = src.end_at_blank_row.unwrap_or(false);
    o
}

fn field(
    name: &str,
    f: &RawField,
    names: &[&str],
    extra_words: &[String],
    mode: FileMode,
    err: &mut impl FnMut(String),
) -> Option<Field> {
    let before = std::cell::Cell::new(0usize);
    let mut fail = |m: String| {
        before.set(before.get() + 1);
        err(m)
    };
    let kind = field_type(f, &mut fail);
    let class = DataClass::parse(&f.class);
    if class.is_none() {
        fail(format!(
            "class `{}`: expected one of {}{}",
            f.class,
            DataClass::NAMES.join(", "),
            hint(&f.class, DataClass::NAMES)
        ));
    }
    let purpose = f.purpose.as_ref().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
    if let Some(c) = class
        && c.needs_purpose()
        && purpose.is_none()
    {
        fail(format!("class `{}` is sensitive: declare its `purpose`", c.as_str()));
    }
    let columns: Vec<String> = std::iter::once(&f.column).chain(&f.aliases).map(|c| normalise_header(c)).collect();
    if columns.iter().any(String::is_empty) {
        fail("`column` and `aliases` must not be empty".into());
    }
    if purpose.is_none()
        && let Some(category) = columns.iter().find_map(|c| sensitive::column_category(c, extra_words))
    {
        fail(format!(
            "column `{}` looks like {category} data: declare the field's `class` and `purpose`, or drop it",
            f.column
        ));
    }
    if matches!(kind, Some(FieldType::Personnummer { .. })) && purpose.is_none() && before.get() == 0 {
        fail("identity numbers are extra protection-worthy: declare a `purpose`".into());
    }
    let pattern = f.pattern.as_ref().and_then(|p| match Regex::new(p) {
        Ok(r) => Some(r),
        Err(e) => {
            fail(format!("`pattern` {}", regex_fault(&e)));
            None
        }
    });
    let min = bound(&f.min, "min", &mut fail);
    let max = bound(&f.max, "max", &mut fail);
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        fail("`min` is greater than `max`".into());
    }
    if let (Some(lo), Some(hi)) = (f.min_length, f.max_length)
        && lo > hi
    {
        fail("`min_length` is greater than `max_length`".into());
    }
    let (mut trim, mut case) = (true, None);
    for t in &f.transforms {
        match t.as_str() {
            "trim" => trim = true,
            "no_trim" => trim = false,
            "lower" => case = Some(Case::Lower),
            "upper" => case = Some(Case::Upper),
            other => fail(format!("transform `{other}`: expected trim, no_trim, lower or upper")),
        }
    }
    let keep = match f.keep.as_deref() {
        None | Some("value") => Keep::Value,
        Some("hash") => Keep::Hash,
        Some(other) => {
            fail(format!("keep `{other}`: expected `value` or `hash`"));
            Keep::Value
        }
    };
    let not_before = f.not_before.as_ref().and_then(|n| match names.iter().position(|x| x == n) {
        Some(i) => Some(i),
        None => {
            fail(format!("not_before `{n}` is not a field of this mapping{}", hint(n, names)));
            None
        }
    });
    if f.not_before.is_some() && !matches!(kind, Some(FieldType::Date { .. })) {
        fail("`not_before` applies to date fields only".into());
    }
    let if_column_missing = match f.if_column_missing.as_deref() {
        None | Some("hold") => IfColumnMissing::Hold,
        Some("keep") => IfColumnMissing::Keep,
        Some("empty") => IfColumnMissing::Empty,
        Some(other) => {
            fail(format!("if_column_missing `{other}`: expected `hold`, `keep` or `empty`"));
            IfColumnMissing::Hold
        }
    };
    let number = number_format(f, &mut fail);
    let scale = bound(&f.scale, "scale", &mut fail);
    if scale.is_some_and(|s| s <= Decimal::ZERO) {
        fail("`scale` must be greater than 0".into());
    }
    if f.zero_pad_width.is_some_and(|w| w == 0 || w > 64) {
        fail("`zero_pad_width` must be from 1 to 64".into());
    }
    let mut recode: Vec<(String, String)> = Vec::with_capacity(f.recode.len());
    for (from, to) in &f.recode {
        let key = from.trim().to_lowercase();
        if recode.iter().any(|(k, _)| *k == key) {
            fail(format!("recode: `{from}` is listed twice (spellings are matched ignoring case)"));
        }
        recode.push((key, to.trim().to_owned()));
    }
    let blank_keeps = match f.if_blank.as_deref() {
        None => mode == FileMode::Delta,
        Some("keep") => true,
        Some("clear") => false,
        Some(other) => {
            fail(format!("if_blank `{other}`: expected `clear` or `keep`"));
            false
        }
    };
    let ends_employment: Vec<String> = f.ends_employment.iter().map(|v| v.trim().to_lowercase()).collect();
    if ends_employment.iter().any(String::is_empty) {
        fail("`ends_employment` values must not be empty".into());
    }
    if before.get() > 0 {
        return None;
    }
    Some(Field {
        is_key: false,
        name: name.to_owned(),
        columns,
        column: f.column.clone(),
        kind: kind?,
        required: f.required,
        min_length: f.min_length,
        max_length: f.max_length,
        pattern,
        min,
        max,
        trim,
        case,
        class: class?,
        purpose,
        keep,
        not_before,
        if_column_missing,
        number,
        scale,
        zero_pad_width: f.zero_pad_width,
        currency_symbols: f.currency_symbols.iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect(),
        recode,
        blank_keeps,
        ends_employment,
    })
}

fn number_format(f: &RawField, fail: &mut impl FnMut(String)) -> NumberFormat {
    let mut fmt = NumberFormat::default();
    if let Some(d) = &f.decimal_separator {
        fmt.decimal = match d.as_str() {
            "either" => DecimalSeparator::Either,
            "," => DecimalSeparator::Comma,
            "." => DecimalSeparator::Point,
            _ => {
                fail("decimal_separator: expected \",\", \".\" or \"either\"".into());
                fmt.decimal
            }
        };
    }
    if let Some(t) = &f.thousands_separator {
        fmt.thousands = match t.as_str() {
            " " => Thousands::Space,
            "," => Thousands::Comma,
            "." => Thousands::Point,
            "'" => Thousands::Apostrophe,
            "none" | "" => Thousands::None,
            _ => {
                fail("thousands_separator: expected \" \", \",\", \".\", \"'\" or \"none\"".into());
                fmt.thousands
            }
        };
    }
    let clash = matches!(
        (fmt.decimal, fmt.thousands),
        (DecimalSeparator::Comma, Thousands::Comma) | (DecimalSeparator::Point, Thousands::Point)
    );
    if clash {
        fail("decimal_separator and thousands_separator must differ".into());
    }
    fmt
}

fn field_type(f: &RawField, fail: &mut impl FnMut(String)) -> Option<FieldType> {
    // An unknown type is one error: the type-specific keys cannot be judged against it.
    if !TYPES.contains(&f.kind.as_str()) {
        fail(format!(
            "type `{}`: expected string, integer, decimal, date, bool, email, phone, personnummer or enum{}",
            f.kind,
            hint(&f.kind, TYPES)
        ));
        return None;
    }
    let only_for = |key: &str, present: bool, kinds: &str, fail: &mut dyn FnMut(String)| {
        if present && !kinds.split(',').any(|k| k == f.kind) {
            fail(format!("`{key}` applies to {kinds} fields only"));
        }
    };
    only_for("formats", f.formats.is_some(), "date", fail);
    only_for("excel_serial", f.excel_serial.is_some(), "date", fail);
    only_for("values", f.values.is_some(), "enum", fail);
    only_for("default_country_code", f.default_country_code.is_some(), "phone", fail);
    only_for("allow_interim", f.allow_interim.is_some(), "personnummer", fail);
    only_for("pattern", f.pattern.is_some(), "string", fail);
    only_for("min", f.min.is_some(), "integer,decimal", fail);
    only_for("max", f.max.is_some(), "integer,decimal", fail);
    only_for("decimal_separator", f.decimal_separator.is_some(), "integer,decimal", fail);
    only_for("thousands_separator", f.thousands_separator.is_some(), "integer,decimal", fail);
    only_for("scale", f.scale.is_some(), "integer,decimal", fail);
    only_for("zero_pad_width", f.zero_pad_width.is_some(), "string", fail);
    only_for("currency_symbols", !f.currency_symbols.is_empty(), "integer,decimal", fail);
    Some(match f.kind.as_str() {
        "string" => FieldType::String,
        "integer" => FieldType::Integer,
        "decimal" => FieldType::Decimal,
        "bool" => FieldType::Bool,
        "email" => FieldType::Email,
        "phone" => {
            let cc = f.default_country_code.clone().unwrap_or_else(|| "46".into());
            if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) || cc.starts_with('0') {
                fail("`default_country_code` must be 1-3 digits, e.g. \"46\"".into());
            }
            FieldType::Phone { country_code: cc }
        }
        "personnummer" => FieldType::Personnummer { allow_interim: f.allow_interim.unwrap_or(false) },
        "date" => {
            let given: Vec<String> = match &f.formats {
                Some(v) => v.clone(),
                None => DEFAULT_DATE_FORMATS.iter().map(|s| (*s).to_owned()).collect(),
            };
            if given.is_empty() {
                fail("`formats` must list at least one date format".into());
            }
            let mut formats = Vec::new();
            for g in &given {
                match DateFormat::new(g) {
                    Ok(df) => formats.push(df),
                    Err(m) => fail(format!("date format `{g}`: {m}")),
                }
            }
            FieldType::Date { formats, excel_serial: f.excel_serial.unwrap_or(true) }
        }
        "enum" => {
            let values = f.values.clone().unwrap_or_default();
            if values.is_empty() {
                fail("enum fields need a non-empty `values` list".into());
            }
            FieldType::Enum { values }
        }
        // Checked on entry: every type is one of `TYPES`.
        _ => return None,
    })
}

const TYPES: &[&str] = &["string", "integer", "decimal", "date", "bool", "email", "phone", "personnummer", "enum"];

/// " (did you mean `x`?)" for the candidate closest to `word`, if one is close enough to be a
/// typo of it; empty otherwise.
fn hint(word: &str, candidates: &[&str]) -> String {
    did_you_mean(word, candidates).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
}

fn did_you_mean<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// serde's "unknown field `x`, expected one of `a`, `b`, …" as one short error with the
/// closest key, instead of the whole list.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else { return message.to_owned() };
    let Some((word, list)) = rest.split_once('`') else { return message.to_owned() };
    let candidates: Vec<&str> = list.split('`').skip(1).step_by(2).collect();
    match did_you_mean(word, &candidates) {
        Some(c) => format!("unknown key `{word}` (did you mean `{c}`?)"),
        None => format!("unknown key `{word}`; expected one of {}", candidates.join(", ")),
    }
}

fn bound(v: &Option<toml::Value>, key: &str, fail: &mut impl FnMut(String)) -> Option<Decimal> {
    let parsed = match v.as_ref()? {
        toml::Value::Integer(i) => Some(Decimal::from(*i)),
        toml::Value::Float(x) => Decimal::from_str(&x.to_string()).ok(),
        toml::Value::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    };
    if parsed.is_none() {
        fail(format!("`{key}` must be a number"));
    }
    parsed
}

fn check_duplicate_columns(parsed: &[(String, Option<usize>, RawField)], err: &mut impl FnMut(Option<usize>, String)) {
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for (name, line, f) in parsed {
        for c in std::iter::once(&f.column).chain(&f.aliases) {
            match seen.entry(normalise_header(c)) {
                std::collections::hash_map::Entry::Occupied(other) => {
                    err(*line, format!("field `{name}`: column `{c}` is already mapped by field `{}`", other.get()));
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(name);
                }
            }
        }
    }
}

fn policy(raw: &RawMapping, err: &mut impl FnMut(Option<usize>, String)) -> Policy {
    let p = &raw.policy;
    let d = Policy::default();
    let pct = |v: Option<f64>, name: &str, def: f64, err: &mut dyn FnMut(Option<usize>, String)| match v {
        Some(x) if !(0.0..=100.0).contains(&x) => {
            err(None, format!("[policy] {name} must be between 0 and 100"));
            def
        }
        Some(x) => x,
        None => def,
    };
    Policy {
        max_missing_percent: pct(p.max_missing_percent, "max_missing_percent", d.max_missing_percent, err),
        max_ended_percent: pct(p.max_ended_percent, "max_ended_percent", d.max_ended_percent, err),
        max_changed_percent: pct(p.max_changed_percent, "max_changed_percent", d.max_changed_percent, err),
        max_rehired_percent: pct(p.max_rehired_percent, "max_rehired_percent", d.max_rehired_percent, err),
        max_rejected_percent: pct(p.max_rejected_percent, "max_rejected_percent", d.max_rejected_percent, err),
        retention_days_after_end: p.retention_days_after_end.unwrap_or(d.retention_days_after_end),
        raw_file_retention_days: p.raw_file_retention_days.unwrap_or(d.raw_file_retention_days),
        rejected_row_retention_days: p.rejected_row_retention_days.unwrap_or(d.rejected_row_retention_days),
        run_report_retention_days: p.run_report_retention_days.unwrap_or(d.run_report_retention_days),
    }
}

/// What is wrong with a pattern, without quoting it (it may hold example values).
fn regex_fault(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(limit) => format!(
            "is a valid regular expression, but compiles to more than the {limit} bytes a pattern may take: \
             simplify it (fewer or smaller repetitions such as `{{1000}}`)"
        ),
        _ => "is not a valid regular expression".into(),
    }
}
