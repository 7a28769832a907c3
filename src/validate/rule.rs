//! The closed set of rules a row can break: the bounded vocabulary of rejections, reports, metrics and tests.

use std::fmt;

/// Why a cell or row was rejected. Never carries the offending value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A required field is empty.
    Required,
    /// Shorter than `min_length` characters.
    MinLength,
    /// Longer than `max_length` characters.
    MaxLength,
    /// Does not match the field's `pattern`.
    Pattern,
    /// Outside `min`..=`max`.
    Range,
    /// Not an integer.
    Integer,
    /// Not a decimal number in the field's number format.
    Decimal,
    /// A number that reads two ways (`45,000`: forty-five, or forty-five thousand) in a field
    /// that does not declare its separators.
    DecimalAmbiguous,
    /// Not a date in any of the field's formats (nor an Excel serial date where allowed).
    DateFormat,
    /// Before the date of the field named in `not_before`.
    DateOrder,
    /// Not a boolean.
    Bool,
    /// Not an e-mail address.
    Email,
    /// Not a phone number that normalises to E.164.
    Phone,
    /// Not one of the enum's values.
    Enum,
    /// An identity number in no accepted form.
    PersonnummerFormat,
    /// An identity number whose date is not a real calendar date.
    PersonnummerDate,
    /// An identity number whose control digit is wrong.
    PersonnummerLuhn,
    /// An interim number (letter in the serial) where the mapping does not allow them.
    PersonnummerInterim,
    /// A cell that is not valid text in the file's encoding.
    Encoding,
    /// The key occurs in more than one row of the file.
    DuplicateKey,
    /// A personnummer-like value in a column the mapping does not declare for it.
    SensitiveWithoutPurpose,
    /// A delta file's change or end for a key the register does not hold.
    UnknownKey,
    /// A delta file's event that contradicts the register: a hire of a person employed now.
    EventConflict,
    /// A delta file's event cell that names none of the mapping's events.
    UnknownEvent,
    /// A key that, normalised, still holds characters other than ASCII (a look-alike letter
    /// from another script, say) where the key field declares no `pattern` to allow them.
    KeyCharacters,
}

impl Rule {
    /// Stable snake_case name used in JSON reports, metric labels and tests.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::MinLength => "min_length",
            Rule::MaxLength => "max_length",
            Rule::Pattern => "pattern",
            Rule::Range => "range",
            Rule::Integer => "integer",
            Rule::Decimal => "decimal",
            Rule::DecimalAmbiguous => "decimal_ambiguous",
            Rule::DateFormat => "date_format",
            Rule::DateOrder => "date_order",
            Rule::Bool => "bool",
            Rule::Email => "email",
            Rule::Phone => "phone",
            Rule::Enum => "enum",
            Rule::PersonnummerFormat => "personnummer_format",
            Rule::PersonnummerDate => "personnummer_date",
            Rule::PersonnummerLuhn => "personnummer_luhn",
            Rule::PersonnummerInterim => "personnummer_interim",
            Rule::Encoding => "encoding",
            Rule::DuplicateKey => "duplicate_key",
            Rule::SensitiveWithoutPurpose => "sensitive_without_purpose",
            Rule::UnknownKey => "unknown_key",
            Rule::EventConflict => "event_conflict",
            Rule::UnknownEvent => "unknown_event",
            Rule::KeyCharacters => "key_characters",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
