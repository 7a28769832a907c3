//! Read: turns a claimed file (CSV or workbook) into a header and a stream of records, without interpreting cells.
//!
//! CSV is streamed through one reused record buffer so memory does not grow with the file; workbooks
//! are read through calamine after a zip-bomb check. Errors here stop the whole file and name a
//! position (line, row, column index or name), never a cell's content.

mod cfb_check;
mod csv;
mod encoding;
mod sniff;
mod workbook;

use std::path::Path;

/// Which container the file is. `Auto` decides by magic bytes, then by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatChoice {
    Auto,
    Csv,
    Xlsx,
    Xls,
    Ods,
}

/// Text encoding of a CSV file. `Auto`: BOM first (UTF-8, UTF-16 LE/BE), else UTF-8 if the
/// sniffed prefix is valid UTF-8, else Windows-1252.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingChoice {
    Auto,
    Utf8,
    Utf16Le,
    Utf16Be,
    Windows1252,
}

/// How to read one file; built from the mapping's `[source]` table.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub format: FormatChoice,
    pub encoding: EncodingChoice,
    /// `None` = sniff among `;`, `,` and tab.
    pub delimiter: Option<u8>,
    /// Worksheet name; `None` = the first sheet.
    pub sheet: Option<String>,
    /// 1-based physical row of the header; `None` = the first of the first 20 rows that contains
    /// any of `header_hints`.
    pub header_row: Option<u32>,
    /// Normalised column names (see [`normalise_header`]) that identify the header row when
    /// `header_row` is `None`; the mapping passes its key column and aliases.
    pub header_hints: Vec<String>,
    /// Largest cell accepted, in bytes; a bigger one fails the file (`ReadError::FieldTooLarge`).
    pub max_field_bytes: usize,
    /// Workbook refused before opening when its summed uncompressed size exceeds this.
    pub max_uncompressed_bytes: u64,
    /// Workbook refused when uncompressed/compressed exceeds this for any entry.
    pub max_compression_ratio: u64,
    /// XLSX parts that calamine reads whole (shared strings, styles, the workbook; not the
    /// sheets, which stream) may declare no more than this in total.
    pub max_loaded_part_bytes: u64,
    /// The most cells an XLS or ODS workbook (loaded whole) may make the reader hold: its
    /// sheets' used areas (rows × columns) and the cells read for them. About 40 bytes each.
    pub max_workbook_cells: u64,
    /// A data row whose first non-blank cell matches this ends the data: it and every row
    /// after it are a footer (totals, "printed by"), not people.
    pub footer: Option<regex::Regex>,
    /// The first blank row after a data row ends the data.
    pub end_at_blank_row: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: FormatChoice::Auto,
            encoding: EncodingChoice::Auto,
            delimiter: None,
            sheet: None,
            header_row: None,
            header_hints: Vec::new(),
            max_field_bytes: 64 * 1024,
            max_uncompressed_bytes: 512 * 1024 * 1024,
            max_compression_ratio: 200,
            max_loaded_part_bytes: 128 * 1024 * 1024,
            max_workbook_cells: 4_000_000,
            footer: None,
            end_at_blank_row: false,
        }
    }
}

/// The header row as written in the file.
#[derive(Debug, Clone)]
pub struct Header {
    /// Column names as they appear (trimmed of surrounding whitespace, BOM removed).
    pub columns: Vec<String>,
    /// 1-based physical line (CSV) or sheet row (workbook) of the header.
    pub line: u64,
    /// What was actually detected, for the report.
    pub detected: Detected,
}

/// The facts the reader settled on, so a report can say how the file was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// "csv", "xlsx", "xls" or "ods".
    pub format: &'static str,
    /// "utf-8", "utf-8-bom", "utf-16le", "utf-16be", "windows-1252"; empty for workbooks.
    pub encoding: &'static str,
    /// The delimiter byte for CSV; 0 for workbooks.
    pub delimiter: u8,
}

/// One data row. Reused between calls to [`Records::next_into`] so reading allocates nothing per row.
#[derive(Default, Clone)]
pub struct Record {
    /// 1-based data row number (the first row after the header is 1); empty rows are skipped
    /// but still counted in `line`.
    pub row: u64,
    /// 1-based physical line (CSV: where the record starts; a quoted newline makes the next
    /// record's line jump) or sheet row (workbook).
    pub line: u64,
    /// The cells' bytes, one per header column. CSV in another encoding is transcoded to UTF-8
    /// while read; workbook cells are rendered as text (integers without `.0`, dates as
    /// `YYYY-MM-DD`, text as is, leading zeros kept), and one that cannot be is the byte 0xFF,
    /// which UTF-8 never holds. A cell is checked as text only when asked ([`Record::text`]):
    /// most rows of a day's file are known unchanged from their bytes alone.
    cells: ::csv::ByteRecord,
}

/// A cell whose bytes are not valid text in the file's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotText;

impl Record {
    /// The number of cells (the header's width once read).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Cell `i`'s bytes as read, text or not; empty for a column the record lacks.
    pub fn bytes(&self, i: usize) -> &[u8] {
        self.cells.get(i).unwrap_or_default()
    }

    /// Cell `i` as text; empty for a column the record lacks.
    pub fn text(&self, i: usize) -> Result<&str, NotText> {
        encoding::cell_text(self.bytes(i)).ok_or(NotText)
    }

    /// Every cell as text (empty where it is not) and the indices of those that are not text,
    /// ascending: the record as checks and tests look at it.
    pub fn texts(&self) -> (Vec<String>, Vec<usize>) {
        let mut invalid = Vec::new();
        let cells = (0..self.len())
            .map(|i| {
                self.text(i).map(str::to_owned).unwrap_or_else(|NotText| {
                    invalid.push(i);
                    String::new()
                })
            })
            .collect();
        (cells, invalid)
    }
}

/// Cells hold personal values: a record shows its position and width only.
impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record").field("row", &self.row).field("line", &self.line).field("cells", &self.len()).finish()
    }
}

/// A file that cannot be read at all. Every variant names a position, never cell content.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot open the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file is empty")]
    Empty,
    #[error(
        "no header row found {within}: looked for the key column, a cell naming {looked_for}, reading {read_as}; the first \
         non-blank rows had {widths} non-empty cells"
    )]
    NoHeader { within: String, looked_for: String, read_as: String, widths: String },
    #[error("header row only: the file has no data rows")]
    HeaderOnly,
    #[error("the header names column `{column}` twice (columns {first} and {second})")]
    DuplicateHeader { column: String, first: usize, second: usize },
    #[error("line {line}: row {row} has {found} cells, the header has {expected}")]
    Ragged { row: u64, line: u64, expected: usize, found: usize },
    #[error("line {line}: a cell is larger than {limit} bytes")]
    FieldTooLarge { line: u64, limit: usize },
    #[error("line {line}: NUL byte in a text file (binary data or wrong encoding)")]
    NulByte { line: u64 },
    #[error(
        "the mapping declares encoding `{declared}`, but the file looks like {likely}: {evidence}; set \
         `[source] encoding = \"{likely}\"` (or \"auto\")"
    )]
    WrongEncoding { declared: &'static str, likely: &'static str, evidence: &'static str },
    #[error(
        "line {utf8_at}: the file mixes encodings: up to line {switched_at} it is ASCII, line {switched_at} has a byte \
         that is not UTF-8 (so it was read as Windows-1252 from there), but line {utf8_at} holds UTF-8 text, which \
         Windows-1252 would misread (ä as Ã¤); export the file again in one encoding, or set `[source] encoding`"
    )]
    MixedEncoding { switched_at: u64, utf8_at: u64 },
    #[error("the file starts with more than {limit} bytes of blank lines before any text")]
    LeadingBlank { limit: usize },
    #[error("line {line}: the file is not valid {encoding} text")]
    Encoding { line: u64, encoding: &'static str },
    #[error("line {line}: unbalanced quote: a quoted cell runs to the end of the file")]
    UnbalancedQuote { line: u64 },
    #[error("the file is not a readable {format} workbook ({reason})")]
    Workbook { format: &'static str, reason: String },
    #[error("the workbook is encrypted (password-protected)")]
    Encrypted,
    #[error("the workbook is refused before opening: {reason} (possible zip bomb)")]
    ZipBomb { reason: String },
    #[error(
        "the {format} workbook is refused: {reason}; an export this large should come as XLSX or CSV, which are \
         read as they stream"
    )]
    TooManyCells { format: &'static str, reason: String },
    #[error("the workbook is refused: {reason} (damaged, or a zip bomb)")]
    Inflated { reason: String },
    #[error("the file's content is {actual}, not what its extension `.{extension}` says")]
    WrongExtension { extension: String, actual: &'static str },
    #[error("the workbook has no sheet named `{0}`")]
    NoSuchSheet(String),
    #[error("line {line}: malformed CSV ({reason})")]
    Csv { line: u64, reason: String },
    #[error(
        "line {line}: a row with {filled} of {columns} cells filled follows the end of the data (a footer, or a \
         blank row with `end_at_blank_row`); its rows would be lost: check `footer_pattern` and `end_at_blank_row`"
    )]
    DataAfterEnd { line: u64, filled: usize, columns: usize },
    /// A workbook's error once its sheet is chosen: which sheet it was read from.
    #[error("sheet `{sheet}`: {source}")]
    InSheet { sheet: String, source: Box<ReadError> },
}

impl ReadError {
    /// Says how the file was read in a header search that failed (the search alone cannot).
    fn reading(self, how: impl FnOnce() -> String) -> ReadError {
        match self {
            ReadError::NoHeader { within, looked_for, widths, .. } => {
                ReadError::NoHeader { within, looked_for, read_as: how(), widths }
            }
            other => other,
        }
    }
}

/// A row after the end of the data with at least this many of the header's cells filled looks
/// like data, not a footer, and fails the file rather than being lost.
pub(crate) fn looks_like_data(filled: usize, columns: usize) -> bool {
    filled >= (columns / 2).max(2)
}

/// An open file: its header, then its records one at a time.
pub struct Records {
    header: Header,
    inner: Inner,
}

enum Inner {
    Csv(Box<csv::CsvRecords>),
    Workbook(Box<workbook::SheetRecords>),
}

impl Records {
    /// The header row.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Reads the next data record into `record`; `Ok(false)` at the end of the file.
    pub fn next_into(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        match &mut self.inner {
            Inner::Csv(r) => r.next_into(record),
            Inner::Workbook(r) => r.next_into(record),
        }
    }

    /// What was detected, as far as read: a CSV file whose first 64 KiB are ASCII learns its
    /// encoding at its first non-ASCII byte.
    pub fn detected(&self) -> Detected {
        match &self.inner {
            Inner::Csv(r) => Detected { encoding: r.encoding(), ..self.header.detected.clone() },
            Inner::Workbook(_) => self.header.detected.clone(),
        }
    }

    /// The SHA-256 (hex) of the bytes that were parsed: for CSV once the last record was read,
    /// for a workbook from its open. `None` before that. What a run records must be this, not a
    /// hash taken apart from the parse: a file changed in place while it is read would
    /// otherwise be applied under another file's hash.
    pub fn sha256(&self) -> Option<String> {
        match &self.inner {
            Inner::Csv(r) => r.sha256(),
            Inner::Workbook(r) => Some(r.sha256().to_owned()),
        }
    }

    /// (units done, units total) for a progress bar: bytes for CSV, sheet rows for workbooks.
    pub fn progress(&self) -> (u64, u64) {
        match &self.inner {
            Inner::Csv(r) => r.progress(),
            Inner::Workbook(r) => r.progress(),
        }
    }
}

/// Opens `path` and reads up to and including the header row.
pub fn open(path: &Path, options: &ReadOptions) -> Result<Records, ReadError> {
    let format = sniff::format(path, options.format)?;
    match format {
        FormatChoice::Csv | FormatChoice::Auto => {
            let (records, header) = csv::CsvRecords::open(path, options)?;
            Ok(Records { header, inner: Inner::Csv(Box::new(records)) })
        }
        workbook_format => {
            let (records, header) = workbook::SheetRecords::open(path, workbook_format, options)?;
            Ok(Records { header, inner: Inner::Workbook(Box::new(records)) })
        }
    }
}

/// How header names are compared: trimmed, lower-cased, inner runs of whitespace collapsed to one space.
pub fn normalise_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in name.trim_start_matches('\u{feff}').split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn sha(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// Issue 15, case 7: a file changed in place while it is read. The hash the reader gives is
    /// that of the bytes it parsed, so it cannot match a hash taken before the change.
    #[test]
    fn the_hash_is_of_what_was_parsed_even_if_the_file_changes_meanwhile() {
        let mut text = String::from("Anst.nr;Namn\n");
        for i in 0..20_000 {
            text.push_str(&format!("{i};Anna Andersson\n"));
        }
        let before = text.clone().into_bytes();
        let f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        std::fs::write(f.path(), &before).unwrap();
        let options = ReadOptions { header_hints: vec!["anst.nr".into()], ..ReadOptions::default() };
        let mut records = open(f.path(), &options).unwrap();
        let mut record = Record::default();
        assert!(records.next_into(&mut record).unwrap());
        assert_eq!(records.sha256(), None, "not before the end");
        // The last row's name changes in place, same length, while the reader is at the start.
        let after = text.replacen("19999;Anna Andersson", "19999;Berit Bergsson", 1).into_bytes();
        let mut file = std::fs::OpenOptions::new().write(true).open(f.path()).unwrap();
        std::io::Write::write_all(&mut file, &after).unwrap();
        let mut last = String::new();
        while records.next_into(&mut record).unwrap() {
            last = record.text(1).unwrap().to_owned();
        }
        assert_eq!(last, "Berit Bergsson", "the change was read");
        assert_eq!(records.sha256(), Some(sha(&after)));
        assert_ne!(records.sha256(), Some(sha(&before)));

        // A workbook is read whole at open: a later change is neither read nor hashed.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "Anst.nr").unwrap();
        sheet.write_string(1, 0, "1").unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let w = tempfile::Builder::new().suffix(".xlsx").tempfile().unwrap();
        std::fs::write(w.path(), &bytes).unwrap();
        let records = open(w.path(), &options).unwrap();
        std::fs::write(w.path(), b"changed").unwrap();
        assert_eq!(records.sha256(), Some(sha(&bytes)));
    }
}
