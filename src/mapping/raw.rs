//! The serde mirror of a mapping TOML file, before any check: what the file says, with positions.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The top level. Fields are kept as raw TOML values so that each can be checked on its own and
/// every error reported, not only the first one serde meets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMapping {
    pub tenant: Option<Spanned<String>>,
    #[serde(default)]
    pub source: RawSource,
    pub file: Spanned<RawFile>,
    pub fields: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default)]
    pub sensitive: RawSensitive,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub format: Option<Spanned<String>>,
    pub encoding: Option<Spanned<String>>,
    pub delimiter: Option<Spanned<String>>,
    pub sheet: Option<Spanned<String>>,
    pub header_row: Option<Spanned<toml::Value>>,
    pub max_field_bytes: Option<usize>,
    /// A regular expression: a row whose first non-blank cell matches it, and every row after,
    /// are a footer.
    pub footer_pattern: Option<Spanned<String>>,
    /// The first blank row after the data ends it.
    pub end_at_blank_row: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub mode: Option<String>,
    pub key: String,
    pub start_date_field: Option<String>,
    pub end_date_field: Option<String>,
    /// Delta files: the column that says what each row is (new, change, end).
    pub event_column: Option<String>,
    pub events: Option<RawEvents>,
}

/// The event column's spellings of each event, matched ignoring case and surrounding spaces.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvents {
    #[serde(default)]
    pub new: Vec<String>,
    #[serde(default)]
    pub change: Vec<String>,
    #[serde(default)]
    pub end: Vec<String>,
}

/// One `[fields.<name>]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    pub column: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Option<String>,
    pub min: Option<toml::Value>,
    pub max: Option<toml::Value>,
    #[serde(default)]
    pub transforms: Vec<String>,
    pub class: String,
    pub purpose: Option<String>,
    pub keep: Option<String>,
    /// Date fields: strftime formats tried in order.
    pub formats: Option<Vec<String>>,
    /// Date fields: accept Excel serial day numbers from workbooks (default true).
    pub excel_serial: Option<bool>,
    /// Date fields: the name of a date field this one may not precede.
    pub not_before: Option<String>,
    /// Enum fields: the allowed values, matched case-insensitively and stored as written here.
    pub values: Option<Vec<String>>,
    /// Phone fields: the country calling code assumed for national numbers (default "46").
    pub default_country_code: Option<String>,
    /// Identity-number fields: accept interim numbers (a letter in the serial).
    pub allow_interim: Option<bool>,
    /// `hold` (default), `keep` or `empty`: what a file without this column means.
    pub if_column_missing: Option<String>,
    /// Integer and decimal fields: `","`, `"."` or `"either"` (default).
    pub decimal_separator: Option<String>,
    /// Integer and decimal fields: `" "` (default), `","`, `"."`, `"'"` or `"none"`.
    pub thousands_separator: Option<String>,
    /// Integer and decimal fields: the number read is multiplied by this (`100`: `0.8` → `80`).
    pub scale: Option<toml::Value>,
    /// Integer and decimal fields: currency signs or codes written before or after the number.
    #[serde(default)]
    pub currency_symbols: Vec<String>,
    /// String fields: a value of digits only shorter than this gets leading zeros.
    pub zero_pad_width: Option<usize>,
    /// `clear` or `keep`: what an empty cell means for the stored value (default: `clear` in
    /// full files, `keep` in delta files).
    pub if_blank: Option<String>,
    /// Values of this field (ignoring case) that end the person's employment.
    #[serde(default)]
    pub ends_employment: Vec<String>,
    /// Source spellings (matched ignoring case and surrounding spaces) and what each means.
    #[serde(default)]
    pub recode: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub max_missing_percent: Option<f64>,
    pub max_ended_percent: Option<f64>,
    pub max_changed_percent: Option<f64>,
    pub max_rehired_percent: Option<f64>,
    pub max_rejected_percent: Option<f64>,
    pub retention_days_after_end: Option<u32>,
    pub raw_file_retention_days: Option<u32>,
    pub rejected_row_retention_days: Option<u32>,
    pub run_report_retention_days: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSensitive {
    /// Extra words (lower case) that mark a column name as sensitive for this tenant.
    #[serde(default)]
    pub column_words: Vec<String>,
}
