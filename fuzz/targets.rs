//! The fuzz targets' bodies, shared by the cargo-fuzz binaries in `fuzz/fuzz_targets/` and the corpus replay test
//! `tests/it/fuzz_corpus.rs`, so every corpus file runs through the same code in both.
//!
//! Each body must return normally for every input: a panic is a bug in hrfeed (or in these checks), never bad input.
//! Besides "no panic" they assert what the public docs promise: a record has one cell per header column, rows count
//! up from 1, and a validator's error never carries the value it rejects.

use std::fmt::{Debug, Display};
use std::io::Write as _;
use std::path::Path;

use chrono::NaiveDate;
use hrfeed::read::{self, ReadOptions, Record};
use hrfeed::validate::types::{self, DateFormat};

/// The "today" of the personnummer checks: the reference exports' date, fixed so a finding replays the same way.
const TODAY: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 1) {
    Some(date) => date,
    None => panic!("2026-11-01 is a date"),
};

/// A target's body: takes one input, returns normally for every input.
pub type Body = fn(&[u8]);

/// Every target, by the name of its fuzz binary and corpus directory.
pub const TARGETS: &[(&str, Body)] =
    &[("csv_reader", csv_reader), ("workbook_reader", workbook_reader), ("field_validators", field_validators)];

/// The input as a `.csv` file, read to the end with default options and with the reference export's key column as
/// the header hint (which changes how the header row is found).
pub fn csv_reader(data: &[u8]) {
    let file = scratch_file(data, ".csv");
    for options in reader_options() {
        read_to_end(file.path(), &options, Lines::Increasing);
    }
}

/// The input as an `.xlsx` and then as an `.ods` file, with `FormatChoice::Auto`, read like [`csv_reader`].
///
/// Auto sniffs magic bytes first, so the extension matters for what is not a zip or OLE file (a CSV named `.xlsx`).
pub fn workbook_reader(data: &[u8]) {
    for extension in [".xlsx", ".ods"] {
        let file = scratch_file(data, extension);
        for options in reader_options() {
            read_to_end(file.path(), &options, Lines::Increasing);
        }
    }
}

/// For the `workbook_reader` fuzz binary: lets a panic inside calamine unwind quietly to the `catch_unwind` that
/// `read` puts around every calamine call, as it does in production (libfuzzer-sys's hook would abort first and
/// report a file that `read` turns into `ReadError::Workbook`). Any other panic still gets that hook: message, then
/// abort; and one that escapes `read` aborts in libfuzzer-sys's own `catch_unwind` anyway.
#[allow(dead_code, reason = "only the workbook_reader fuzz binary installs it")]
pub fn let_calamine_panics_unwind() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.location().is_some_and(|at| at.file().contains("/calamine-") || at.file().contains("vendor/calamine/"))
        {
            abort(info);
        }
    }));
}

/// The input, as UTF-8 (lossily), through every cell parser of `validate::types` and through `mapping::compile`.
///
/// When the input has a newline, its first line is also compiled as a date pattern and the rest parsed with it.
pub fn field_validators(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let s: &str = &text;
    for allow_interim in [false, true] {
        no_echo(s, types::personnummer(s, TODAY, allow_interim));
    }
    let formats: Vec<DateFormat> = ["%Y-%m-%d", "%Y%m%d", "%d.%m.%Y", "%d/%m/%Y", "%-d.%-m.%Y"]
        .into_iter()
        .map(|p| DateFormat::new(p).unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect();
    for excel_serial in [false, true] {
        no_echo(s, types::date(s, &formats, excel_serial));
    }
    let number_formats = [
        types::NumberFormat::default(),
        types::NumberFormat { decimal: types::DecimalSeparator::Point, thousands: types::Thousands::Comma },
        types::NumberFormat { decimal: types::DecimalSeparator::Comma, thousands: types::Thousands::Point },
        types::NumberFormat { decimal: types::DecimalSeparator::Point, thousands: types::Thousands::Apostrophe },
    ];
    for fmt in number_formats {
        no_echo(s, types::decimal(s, fmt));
        no_echo(s, types::integer(s, fmt));
    }
    no_echo(s, types::boolean(s));
    no_echo(s, types::email(s));
    no_echo(s, types::phone(s, "46"));
    let _ = types::phone("070-123 45 67", s);
    let _ = types::contains_personnummer_like(s);
    date_pattern(s, s);
    if let Some((pattern, value)) = s.split_once('\n') {
        date_pattern(pattern, value);
    }
    // A mapping is configuration, not personal data, and its errors are meant to quote it ("field `x`: unknown
    // type `y`"), so here the check is only that every error renders.
    if let Err(errors) = hrfeed::mapping::compile(s) {
        for e in errors {
            let _ = (e.to_string(), format!("{e:?}"));
        }
    }
}

/// Compiles `pattern` (whose error names the problem, not the pattern) and parses `value` with it.
fn date_pattern(pattern: &str, value: &str) {
    match DateFormat::new(pattern) {
        Ok(format) => no_echo(value, types::date(value, &[format], true)),
        Err(message) => no_echo(pattern, Err::<(), _>(message)),
    }
}

/// Asserts that an error carries nothing of the input it rejects.
///
/// Checked only for an input of at least six alphanumerics with a digit among them: a shorter one turns up in any
/// text by chance, and an all-letter one may be a word of a fixed message ("decimal", "determine"), while no fixed
/// message holds a digit. That still covers what matters most: identity numbers, ids, account numbers.
fn no_echo<T, E: Debug + Display>(input: &str, result: Result<T, E>) {
    let Err(error) = result else { return };
    let shaped = input.chars().count() >= 6
        && input.chars().all(char::is_alphanumeric)
        && input.chars().any(|c| c.is_ascii_digit());
    if !shaped {
        return;
    }
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(input), "the error {text:?} carries its input {input:?}");
    }
}

fn reader_options() -> [ReadOptions; 2] {
    let hinted = ReadOptions { header_hints: vec!["anst.nr".to_owned()], ..ReadOptions::default() };
    [ReadOptions::default(), hinted]
}

/// A temporary file named `*{extension}` holding `data`; removed when dropped.
fn scratch_file(data: &[u8], extension: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .prefix("hrfeed-fuzz-")
        .suffix(extension)
        .tempfile()
        .unwrap_or_else(|e| panic!("cannot create a temporary file: {e}"));
    file.write_all(data).unwrap_or_else(|e| panic!("cannot write the temporary file: {e}"));
    file
}

/// What `Record::line` must do from one record to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lines {
    Increasing,
}

/// Opens `path` and reads every record, checking what `read`'s docs promise of each; stops at the first error.
fn read_to_end(path: &Path, options: &ReadOptions, lines: Lines) {
    let mut records = match read::open(path, options) {
        Ok(records) => records,
        Err(error) => {
            let _ = (error.to_string(), format!("{error:?}"));
            return;
        }
    };
    let header = records.header().clone();
    assert!(header.line >= 1, "header line {}", header.line);
    let mut record = Record::default();
    let (mut row, mut line) = (0, header.line);
    loop {
        match records.next_into(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                let _ = (error.to_string(), format!("{error:?}"));
                break;
            }
        }
        row += 1;
        assert_eq!(record.row, row, "data rows count up from 1");
        match lines {
            Lines::Increasing => assert!(record.line > line, "row {row}: line {} follows line {line}", record.line),
        }
        line = record.line;
        assert_eq!(record.len(), header.columns.len(), "row {row}: one cell per header column");
        assert!(
            (0..record.len()).all(|i| record.bytes(i).len() <= options.max_field_bytes),
            "row {row}: a cell over the limit"
        );
        let (cells, invalid) = record.texts();
        assert_eq!(cells.len(), record.len(), "row {row}: one text per cell");
        for &i in &invalid {
            assert_eq!(cells[i], "", "row {row}: the invalid cell {i} reads as empty");
        }
        // A transcoded file (Windows-1252, UTF-16) reaches the parser as valid UTF-8: only a
        // UTF-8 file (or a workbook's error cell) can hold a cell that is not text.
        let encoding = records.detected().encoding;
        assert!(
            invalid.is_empty() || encoding.is_empty() || encoding.starts_with("utf-8"),
            "row {row}: a {encoding} cell that is not text"
        );
        let _ = records.progress();
    }
}
