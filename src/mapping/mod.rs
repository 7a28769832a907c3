//! Mapping: a tenant's checked contract for its export — source format, fields and rules, policy.
//!
//! `raw.rs` mirrors the TOML; `compile.rs` checks it and builds a [`Mapping`], which exists only
//! if every check passed (patterns compiled, field references resolved, purposes declared).

mod compile;
mod raw;

use std::fmt;
use std::path::Path;

use regex::Regex;
use rust_decimal::Decimal;

pub use compile::{ErrorAt, compile};

use crate::ids::TenantId;
use crate::read::ReadOptions;
use crate::validate::types::{DateFormat, NumberFormat};

/// A checked mapping.
#[derive(Debug)]
pub struct Mapping {
    pub tenant: Option<TenantId>,
    pub read: ReadOptions,
    pub mode: FileMode,
    /// Fields in the order the mapping file lists them.
    pub fields: Vec<Field>,
    /// Index into `fields` of the register's key.
    pub key: usize,
    pub start_date: Option<usize>,
    pub end_date: Option<usize>,
    pub policy: Policy,
    /// Extra sensitive column-name words, lower case.
    pub sensitive_words: Vec<String>,
    /// BLAKE3 of the mapping file: rows read under another mapping are validated afresh.
    pub digest: [u8; 32],
    /// Delta files with an event column: what each row is.
    pub events: Option<Events>,
}

/// What a delta file's row says happened to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A hire (or a rehire of an ended person): the row is the whole record.
    New,
    /// A change: empty cells leave the stored values as they are (`if_blank = "keep"`).
    Change,
    /// An employment end: the key and the end date are enough (the day of the run if none).
    End,
}

/// A delta file's event column and its spellings.
#[derive(Debug, Clone)]
pub struct Events {
    /// The column name as the mapping writes it.
    pub column: String,
    /// The column name normalised with `read::normalise_header`.
    pub normalised: String,
    /// Spellings, lower-cased and trimmed, and their event.
    pub values: Vec<(String, Event)>,
}

impl Events {
    /// The event a cell names, if any.
    pub fn of(&self, cell: &str) -> Option<Event> {
        let cell = cell.trim().to_lowercase();
        self.values.iter().find(|(v, _)| *v == cell).map(|(_, e)| *e)
    }
}

impl Mapping {
    /// Reads and checks a mapping file; `Err` lists every problem with its TOML line.
    pub fn load(path: &Path) -> Result<Mapping, MappingErrors> {
        // A mapping of thousands of fields is a few hundred KiB; more is not a mapping.
        let text = crate::small_file::read_to_string(path, 4 * 1024 * 1024).map_err(|e| MappingErrors {
            errors: vec![ErrorAt { line: None, message: format!("cannot read {}: {e}", path.display()) }],
        })?;
        compile(&text).map_err(|errors| MappingErrors { errors })
    }

    pub fn key_field(&self) -> &Field {
        &self.fields[self.key]
    }

    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

/// Every problem found in a mapping file.
#[derive(Debug)]
pub struct MappingErrors {
    pub errors: Vec<ErrorAt>,
}

impl fmt::Display for MappingErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MappingErrors {}

/// Full files list every current employee (absence means *missing*); delta files list changes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    Full,
    Delta,
}

/// One canonical field.
#[derive(Debug)]
pub struct Field {
    pub name: String,
    /// The file's key: its text is normalised (NFKC, invisible characters removed) before any
    /// rule, and without a `pattern` it must then be ASCII.
    pub is_key: bool,
    /// The column name and its aliases, normalised with `read::normalise_header`; the first is the main one.
    pub columns: Vec<String>,
    /// The column name as the mapping writes it, for messages.
    pub column: String,
    pub kind: FieldType,
    pub required: bool,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Option<Regex>,
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    pub trim: bool,
    pub case: Option<Case>,
    pub class: DataClass,
    pub purpose: Option<String>,
    pub keep: Keep,
    /// Index of a date field this one may not precede.
    pub not_before: Option<usize>,
    /// What a file without this field's column means.
    pub if_column_missing: IfColumnMissing,
    /// Integer and decimal fields: how the file writes numbers.
    pub number: NumberFormat,
    /// Integer and decimal fields: a factor applied to the number read, before `min` and `max`.
    pub scale: Option<Decimal>,
    /// Integer and decimal fields: currency signs or codes removed before the number is read.
    pub currency_symbols: Vec<String>,
    /// String fields: digits-only values shorter than this get leading zeros.
    pub zero_pad_width: Option<usize>,
    /// Source spellings, lower-cased, and the text each stands for (before the type reads it).
    pub recode: Vec<(String, String)>,
    /// Whether an empty cell keeps the stored value (delta files' default) instead of clearing it.
    pub blank_keeps: bool,
    /// Values (lower-cased) of this field that end the person's employment.
    pub ends_employment: Vec<String>,
}

/// What a file that lacks a mapped optional field's column means for the stored values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfColumnMissing {
    /// The run is held (the default): a renamed column must not silently clear the register.
    Hold,
    /// The stored values are kept; the field is not compared.
    Keep,
    /// The field reads as empty, clearing what is stored (a column dropped on purpose).
    Empty,
}

#[derive(Debug)]
pub enum FieldType {
    String,
    Integer,
    Decimal,
    Date { formats: Vec<DateFormat>, excel_serial: bool },
    Bool,
    Email,
    Phone { country_code: String },
    Personnummer { allow_interim: bool },
    Enum { values: Vec<String> },
}

impl FieldType {
    /// Whether validating a value of this type reads more than the value and the mapping: an
    /// identity number's century and validity follow today's date.
    pub fn reads_today(&self) -> bool {
        matches!(self, FieldType::Personnummer { .. })
    }
}

impl FieldType {
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Decimal => "decimal",
            FieldType::Date { .. } => "date",
            FieldType::Bool => "bool",
            FieldType::Email => "email",
            FieldType::Phone { .. } => "phone",
            FieldType::Personnummer { .. } => "personnummer",
            FieldType::Enum { .. } => "enum",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Lower,
    Upper,
}

/// What kind of personal data a field holds; the classes marked `needs_purpose` are refused
/// without a declared purpose (GDPR Art. 9 and the Swedish "extra skyddsvärda" categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataClass {
    Identifier,
    Personal,
    Contact,
    Employment,
    Economic,
    ExtraProtection,
    Sensitive,
}

impl DataClass {
    pub const NAMES: &'static [&'static str] =
        &["identifier", "personal", "contact", "employment", "economic", "extra_protection", "sensitive"];

    pub fn parse(s: &str) -> Option<DataClass> {
        Some(match s {
            "identifier" => DataClass::Identifier,
            "personal" => DataClass::Personal,
            "contact" => DataClass::Contact,
            "employment" => DataClass::Employment,
            "economic" => DataClass::Economic,
            "extra_protection" => DataClass::ExtraProtection,
            "sensitive" => DataClass::Sensitive,
            _ => return None,
        })
    }

    pub fn needs_purpose(self) -> bool {
        matches!(self, DataClass::Economic | DataClass::ExtraProtection | DataClass::Sensitive)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DataClass::Identifier => "identifier",
            DataClass::Personal => "personal",
            DataClass::Contact => "contact",
            DataClass::Employment => "employment",
            DataClass::Economic => "economic",
            DataClass::ExtraProtection => "extra_protection",
            DataClass::Sensitive => "sensitive",
        }
    }
}

/// Whether the register keeps a field's value (encrypted) or only a keyed hash of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Value,
    Hash,
}

/// Guard thresholds and retention periods.
#[derive(Debug, Clone)]
pub struct Policy {
    pub max_missing_percent: f64,
    pub max_ended_percent: f64,
    pub max_changed_percent: f64,
    pub max_rehired_percent: f64,
    pub max_rejected_percent: f64,
    pub retention_days_after_end: u32,
    pub raw_file_retention_days: u32,
    pub rejected_row_retention_days: u32,
    pub run_report_retention_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_missing_percent: 5.0,
            max_ended_percent: 10.0,
            max_changed_percent: 30.0,
            max_rehired_percent: 10.0,
            max_rejected_percent: 10.0,
            retention_days_after_end: 90,
            raw_file_retention_days: 0,
            rejected_row_retention_days: 30,
            run_report_retention_days: 400,
        }
    }
}
