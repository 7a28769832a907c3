//! CSV: streams a delimited text file through one reused record buffer, after finding its header.
//!
//! The `csv` crate parses; a [`Scanner`] between the byte stream and the parser follows the same
//! quoting rules to learn what the parser does not say: the physical line each record starts on
//! (csv's `Position::line` is off after blank lines and CRLF), a quoted cell still open at the end
//! of the file, NUL bytes, and cells too large to buffer, so memory stays bounded.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::encoding::{self, MixedEncoding};
use super::sniff::{self, HeaderSearch, Verdict};
use super::{Detected, Header, ReadError, ReadOptions, Record};

/// The parser's read buffer; also the most the scanner reads ahead of the parser.
const BUFFER_BYTES: usize = 64 * 1024;
/// More cells than this in one row is not a table; refusing bounds the parser's field index.
const MAX_CELLS: usize = 10_000;

/// A CSV file positioned after its header.
pub struct CsvRecords {
    reader: ::csv::Reader<Scanner<Box<dyn Read + Send>>>,
    /// The record being read; swapped into the caller's `Record` (see `next_into`).
    raw: Option<::csv::ByteRecord>,
    encoding: &'static str,
    encoding_decided_later: Arc<std::sync::OnceLock<&'static str>>,
    columns: usize,
    row: u64,
    /// The first data row, read ahead by `open` to tell a header-only file; its line.
    pending: Option<u64>,
    footer: Option<regex::Regex>,
    end_at_blank_row: bool,
    /// A footer or (with `end_at_blank_row`) a blank row ended the data.
    ended: bool,
    /// A data row has been read (a blank row ends the data only after one).
    seen_data: bool,
    /// The line the next record starts on if no blank line comes between: the csv crate skips
    /// empty lines, so a blank row shows only as a gap in the lines.
    next_line: Option<u64>,
    /// A blank line came before the record last read.
    gap_before: bool,
    bytes_read: Arc<AtomicU64>,
    /// The hash of the bytes parsed, once the end of the file is reached.
    sha256: Arc<std::sync::OnceLock<String>>,
    file_bytes: u64,
}

impl CsvRecords {
    /// Opens the file, decides encoding and delimiter, and reads up to the first data row.
    pub fn open(path: &Path, options: &ReadOptions) -> Result<(CsvRecords, Header), ReadError> {
        let file_bytes = std::fs::metadata(path)?.len();
        let source = encoding::open(path, options.encoding)?;
        let delimiter = options.delimiter.unwrap_or_else(|| sniff::delimiter(&source.prefix, source.prefix_is_all));
        let scanner = Scanner::new(source.reader, delimiter, options.max_field_bytes);
        let reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .buffer_capacity(BUFFER_BYTES)
            .from_reader(scanner);
        let mut records = CsvRecords {
            reader,
            raw: Some(::csv::ByteRecord::new()),
            encoding: source.name,
            encoding_decided_later: source.decided_later,
            columns: 0,
            row: 0,
            pending: None,
            footer: None,
            end_at_blank_row: false,
            ended: false,
            seen_data: false,
            next_line: None,
            gap_before: false,
            bytes_read: source.bytes_read,
            sha256: source.sha256,
            file_bytes,
        };
        let encoding_name = records.encoding;
        let how = move || {
            let d = if delimiter == b'\t' { "tab".to_owned() } else { format!("`{}`", char::from(delimiter)) };
            format!("the text as {encoding_name} with delimiter {d}")
        };
        let (columns, line) = records.read_header(options).map_err(|e| e.reading(how))?;
        records.footer = options.footer.clone();
        records.end_at_blank_row = options.end_at_blank_row;
        records.columns = columns.len();
        records.pending = match records.next_non_blank()? {
            Some(line) => Some(line),
            None => return Err(ReadError::HeaderOnly),
        };
        let detected = Detected { format: "csv", encoding: records.encoding, delimiter };
        Ok((records, Header { columns, line, detected }))
    }

    /// Reads the next data record into `record`; `Ok(false)` at the end of the file.
    pub fn next_into(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        if !self.advance(record)? {
            return Ok(false);
        }
        // The record becomes the caller's by swapping buffers; the caller's old buffer is read
        // into next time. Its cells are checked as text only when asked (`Record::text`).
        let raw = self.raw.get_or_insert_with(::csv::ByteRecord::new);
        raw.truncate(self.columns);
        std::mem::swap(&mut record.cells, raw);
        Ok(true)
    }

    /// Moves to the next data record (left in `self.raw`) and numbers it in `record`;
    /// `Ok(false)` at the end of the file.
    fn advance(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        let line = match self.pending.take() {
            Some(line) => line,
            None => match self.next_non_blank()? {
                Some(line) => line,
                None => return Ok(false),
            },
        };
        self.row += 1;
        record.row = self.row;
        record.line = line;
        let found = self.raw.as_ref().map_or(0, ::csv::ByteRecord::len);
        let extra_blank = || self.raw.as_ref().is_some_and(|raw| raw.iter().skip(self.columns).all(is_blank));
        if found < self.columns || (found > self.columns && !extra_blank()) {
            return Err(ReadError::Ragged { row: self.row, line, expected: self.columns, found });
        }
        Ok(true)
    }

    /// The encoding's name: as decided at open, or later at the first non-ASCII byte.
    pub fn encoding(&self) -> &'static str {
        self.encoding_decided_later.get().copied().unwrap_or(self.encoding)
    }

    /// The SHA-256 of the bytes parsed, once the whole file was read.
    pub fn sha256(&self) -> Option<String> {
        self.sha256.get().cloned()
    }

    /// (bytes read, file size).
    pub fn progress(&self) -> (u64, u64) {
        (self.bytes_read.load(Ordering::Relaxed).min(self.file_bytes), self.file_bytes)
    }

    fn read_header(&mut self, options: &ReadOptions) -> Result<(Vec<String>, u64), ReadError> {
        let mut search = HeaderSearch::new(options.header_row, &options.header_hints);
        loop {
            let Some(line) = self.next_raw()? else {
                return Err(search.at_end());
            };
            let cells: Vec<Option<String>> =
                self.raw.iter().flatten().map(|b| encoding::cell_text(b).map(str::to_owned)).collect();
            if search.offer(line, cells.iter().map(Option::as_deref))? == Verdict::Skip {
                continue;
            }
            if cells.iter().any(Option::is_none) {
                return Err(ReadError::Encoding { line, encoding: self.encoding() });
            }
            let columns = sniff::header_columns(cells.iter().flatten().map(String::as_str))?;
            return Ok((columns, line));
        }
    }

    /// The next data record with a non-blank cell, left in `self.raw`; its line. `None` at the
    /// end of the file, or of the data where a footer or (if so asked) a blank row ends it.
    fn next_non_blank(&mut self) -> Result<Option<u64>, ReadError> {
        while !self.ended {
            let Some(line) = self.next_raw()? else { return Ok(None) };
            let raw = self.raw.iter().flatten();
            if self.gap_before && self.end_at_blank_row && self.seen_data {
                self.ended = true;
                self.fail_if_data(line)?;
                break;
            }
            if raw.clone().all(is_blank) {
                self.ended = self.end_at_blank_row && self.seen_data;
                continue;
            }
            let first = raw.clone().find(|c| !is_blank(c)).and_then(encoding::cell_text).map(str::trim);
            if let (Some(footer), Some(first)) = (&self.footer, first)
                && footer.is_match(first)
            {
                self.ended = true;
                continue;
            }
            self.seen_data = true;
            return Ok(Some(line));
        }
        // What follows the end is read too: a row there that looks like data fails the file
        // instead of being lost without a trace.
        while let Some(line) = self.next_raw()? {
            self.fail_if_data(line)?;
        }
        Ok(None)
    }

    /// Fails the file if the record in `self.raw`, after the end of the data, looks like data.
    fn fail_if_data(&self, line: u64) -> Result<(), ReadError> {
        let filled = self.raw.iter().flatten().take(self.columns).filter(|c| !is_blank(c)).count();
        if super::looks_like_data(filled, self.columns) {
            return Err(ReadError::DataAfterEnd { line, filled, columns: self.columns });
        }
        Ok(())
    }

    /// The next record into `self.raw`; the physical line it starts on.
    fn next_raw(&mut self) -> Result<Option<u64>, ReadError> {
        let raw = self.raw.get_or_insert_with(::csv::ByteRecord::new);
        match self.reader.read_byte_record(raw) {
            Ok(true) => {
                let fallback = raw.position().map_or(0, ::csv::Position::line);
                let line = self.reader.get_mut().starts.pop_front().unwrap_or(fallback);
                // A quoted newline inside the record moves the next record's line on too.
                let inner = raw.iter().map(|c| memchr::memchr_iter(b'\n', c).count() as u64).sum::<u64>();
                self.gap_before = self.next_line.is_some_and(|expected| line > expected);
                self.next_line = Some(line + 1 + inner);
                Ok(Some(line))
            }
            Ok(false) => Ok(None),
            Err(error) => Err(self.map_error(error)),
        }
    }

    /// The scanner's finding when it stopped the stream, else the csv error by kind only
    /// (csv's messages may quote a record).
    fn map_error(&mut self, error: ::csv::Error) -> ReadError {
        if let Some(fault) = self.reader.get_mut().fault.take() {
            return fault;
        }
        let line = self.reader.position().line();
        match error.into_kind() {
            ::csv::ErrorKind::Io(e) => match e.get_ref().and_then(|i| i.downcast_ref::<MixedEncoding>()) {
                Some(m) => ReadError::MixedEncoding { switched_at: m.switched_at, utf8_at: m.utf8_at },
                None => ReadError::Io(e),
            },
            _ => ReadError::Csv { line, reason: "the CSV parser failed".to_owned() },
        }
    }
}

fn is_blank(cell: &[u8]) -> bool {
    cell.iter().all(u8::is_ascii_whitespace)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartRecord,
    StartField,
    InField,
    InQuoted,
    /// A quote seen inside a quoted cell: either the closing one or the first of `""`.
    QuoteInQuoted,
}

const OTHER: u8 = 0;
const QUOTE: u8 = 1;
const DELIMITER: u8 = 2;
const TERMINATOR: u8 = 3;
const NUL: u8 = 4;

/// Passes the byte stream to the parser while following csv-core's state machine (quote `"`,
/// doubled quotes, `\r`, `\n` or `\r\n` end a record, blank lines skipped). It records the line
/// each record starts on, in parser order, and stops the stream with a `fault` the parser then
/// reports as an I/O error.
struct Scanner<R> {
    inner: R,
    classes: [u8; 256],
    state: State,
    line: u64,
    record_line: u64,
    quote_line: u64,
    field_bytes: usize,
    cells: usize,
    max_field_bytes: usize,
    /// Start lines of records the parser has not returned yet.
    starts: VecDeque<u64>,
    fault: Option<ReadError>,
    /// The last byte scanned was a CR: a following LF ends the same line (CRLF), while a lone
    /// CR ends one by itself (classic Mac exports).
    prev_cr: bool,
}

impl<R: Read> Scanner<R> {
    fn new(inner: R, delimiter: u8, max_field_bytes: usize) -> Self {
        let mut classes = [OTHER; 256];
        classes[usize::from(b'"')] = QUOTE;
        classes[usize::from(b'\r')] = TERMINATOR;
        classes[usize::from(b'\n')] = TERMINATOR;
        classes[0] = NUL;
        // A quote or line break as delimiter keeps its first meaning, as in the parser.
        if classes[usize::from(delimiter)] == OTHER {
            classes[usize::from(delimiter)] = DELIMITER;
        }
        Scanner {
            inner,
            classes,
            state: State::StartRecord,
            line: 1,
            record_line: 1,
            quote_line: 1,
            field_bytes: 0,
            cells: 0,
            max_field_bytes,
            starts: VecDeque::new(),
            fault: None,
            prev_cr: false,
        }
    }

    fn scan(&mut self, bytes: &[u8]) {
        let (mut state, mut line, mut field, mut cells) = (self.state, self.line, self.field_bytes, self.cells);
        let mut prev_cr = self.prev_cr;
        let mut i = 0;
        while i < bytes.len() {
            // Most records are one plain line: take it whole, without stepping through its cells.
            if state == State::StartRecord
                && let Some(n) = self.plain_line(&bytes[i..])
            {
                self.starts.push_back(line);
                self.record_line = line;
                (i, line, prev_cr) = (i + n, line + 1, false);
                continue;
            }
            // Most bytes are ordinary bytes inside a cell: skip the run in one tight loop.
            if matches!(state, State::InField | State::InQuoted) {
                let rest = &bytes[i..];
                let run = rest.iter().position(|&b| self.classes[usize::from(b)] != OTHER).unwrap_or(rest.len());
                (i, field) = (i + run, field + run);
                prev_cr &= run == 0;
                if field > self.max_field_bytes {
                    self.fault = Some(ReadError::FieldTooLarge { line: self.record_line, limit: self.max_field_bytes });
                    return;
                }
            }
            let Some(&b) = bytes.get(i) else { break };
            i += 1;
            let class = self.classes[usize::from(b)];
            if state == State::StartRecord {
                if class == TERMINATOR {
                    line += u64::from(b == b'\r' || !prev_cr);
                    prev_cr = b == b'\r';
                    continue;
                }
                self.starts.push_back(line);
                self.record_line = line;
                (state, field, cells) = (State::StartField, 0, 1);
            }
            if class == NUL {
                self.fault = Some(ReadError::NulByte { line });
                return;
            }
            line += u64::from(b == b'\r' || (b == b'\n' && !prev_cr));
            prev_cr = b == b'\r';
            state = match (state, class) {
                (State::StartField, QUOTE) => {
                    self.quote_line = line;
                    State::InQuoted
                }
                (State::InQuoted, QUOTE) => State::QuoteInQuoted,
                (State::InQuoted, _) | (State::QuoteInQuoted, QUOTE) => {
                    field += 1;
                    State::InQuoted
                }
                (_, DELIMITER) => {
                    cells += 1;
                    field = 0;
                    State::StartField
                }
                (_, TERMINATOR) => State::StartRecord,
                _ => {
                    field += 1;
                    State::InField
                }
            };
            if field > self.max_field_bytes {
                self.fault = Some(ReadError::FieldTooLarge { line: self.record_line, limit: self.max_field_bytes });
                return;
            }
            if cells > MAX_CELLS {
                self.fault = Some(ReadError::Csv {
                    line: self.record_line,
                    reason: format!("a row has more than {MAX_CELLS} cells, the most a row may have"),
                });
                return;
            }
        }
        (self.state, self.line, self.field_bytes, self.cells, self.prev_cr) = (state, line, field, cells, prev_cr);
    }
}

impl<R> Scanner<R> {
    /// The length, with its line break, of a complete record at the start of `rest` that
    /// the state machine would pass through without a remark: one line (LF or CRLF), no quote,
    /// no NUL, no lone CR, and too short for a cell to pass the size limit or for the cells to
    /// pass `MAX_CELLS`. `None` for anything else, which then goes byte by byte.
    fn plain_line(&self, rest: &[u8]) -> Option<usize> {
        let end = memchr::memchr(b'\n', rest)?;
        let line = &rest[..end];
        if line.is_empty() || line.len() > self.max_field_bytes || line.len() >= MAX_CELLS {
            return None;
        }
        match memchr::memchr3(b'"', 0, b'\r', line) {
            None => Some(end + 1),
            // Only the CR of a CRLF, and not a blank line's.
            Some(k) if k > 0 && k + 1 == line.len() && line[k] == b'\r' => Some(end + 1),
            Some(_) => None,
        }
    }
}

impl<R: Read> Read for Scanner<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.fault.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 {
                self.scan(&buf[..n]);
            } else if self.state == State::InQuoted {
                // The parser would hand the rest of the file over as one cell.
                self.fault = Some(ReadError::UnbalancedQuote { line: self.quote_line });
            }
            if self.fault.is_none() {
                return Ok(n);
            }
        }
        Err(io::Error::other("the CSV stream was stopped"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;

    use super::super::{EncodingChoice, ReadOptions, Records, open};
    use super::*;

    /// One data row as read: (row, line, cells, invalid_text).
    type Row = (u64, u64, Vec<String>, Vec<usize>);

    fn file(bytes: &[u8], suffix: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.flush().unwrap();
        f
    }

    fn read_all(bytes: &[u8], options: &ReadOptions) -> Result<(Header, Vec<Row>), ReadError> {
        let f = file(bytes, ".csv");
        let mut records = open(f.path(), options)?;
        let mut rows = Vec::new();
        let mut record = Record::default();
        while records.next_into(&mut record)? {
            let (cells, invalid) = record.texts();
            rows.push((record.row, record.line, cells, invalid));
        }
        Ok((records.header().clone(), rows))
    }

    /// Reads `bytes` with default options and checks the header and the cells of every row.
    fn check(bytes: &[u8], encoding: &'static str, delimiter: u8, columns: &[&str], rows: &[&[&str]]) {
        let (header, got) = read_all(bytes, &ReadOptions::default()).unwrap();
        assert_eq!(header.detected, Detected { format: "csv", encoding, delimiter });
        assert_eq!(header.columns, columns);
        let got: Vec<Vec<String>> = got.into_iter().map(|r| r.2).collect();
        assert_eq!(got, rows);
    }

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let mut out = if big_endian { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
        for unit in text.encode_utf16() {
            out.extend(if big_endian { unit.to_be_bytes() } else { unit.to_le_bytes() });
        }
        out
    }

    fn hints(names: &[&str]) -> ReadOptions {
        ReadOptions { header_hints: names.iter().map(|n| n.to_string()).collect(), ..ReadOptions::default() }
    }

    #[test]
    fn a_record_shows_its_position_never_its_cells() {
        let f = file("Anst.nr;Anteckning\n1001;Ring 19811218-9876\n".as_bytes(), ".csv");
        let mut records = open(f.path(), &ReadOptions::default()).unwrap();
        let mut record = Record::default();
        assert!(records.next_into(&mut record).unwrap());
        assert_eq!(record.text(1), Ok("Ring 19811218-9876"));
        let shown = format!("{record:?}");
        assert_eq!(shown, "Record { row: 1, line: 2, cells: 2 }");
    }

    #[test]
    fn utf8_with_and_without_bom() {
        check(
            "Förnamn,Efternamn\nÅsa,Öberg\n".as_bytes(),
            "utf-8",
            b',',
            &["Förnamn", "Efternamn"],
            &[&["Åsa", "Öberg"]],
        );
        check(
            "\u{feff}Förnamn,Efternamn\r\nÅsa,Öberg\r\n".as_bytes(),
            "utf-8-bom",
            b',',
            &["Förnamn", "Efternamn"],
            &[&["Åsa", "Öberg"]],
        );
    }

    #[test]
    fn utf16_by_bom() {
        let text = "Förnamn\tEfternamn\r\nÅsa\tÖberg\r\n";
        check(&utf16(text, false), "utf-16le", b'\t', &["Förnamn", "Efternamn"], &[&["Åsa", "Öberg"]]);
        check(&utf16(text, true), "utf-16be", b'\t', &["Förnamn", "Efternamn"], &[&["Åsa", "Öberg"]]);
    }

    #[test]
    fn windows_1252() {
        check(
            b"F\xF6rnamn;Efternamn\r\n\xC5sa;\xD6berg\r\n",
            "windows-1252",
            b';',
            &["Förnamn", "Efternamn"],
            &[&["Åsa", "Öberg"]],
        );
    }

    #[test]
    fn delimiters_are_sniffed_or_given() {
        check(b"a;b\n1;2,5\n", "utf-8", b';', &["a", "b"], &[&["1", "2,5"]]);
        check(b"a,b\n1,\"2;5\"\n", "utf-8", b',', &["a", "b"], &[&["1", "2;5"]]);
        check(b"a\tb\n1\t2\n", "utf-8", b'\t', &["a", "b"], &[&["1", "2"]]);
        let options = ReadOptions { delimiter: Some(b'|'), ..ReadOptions::default() };
        let (header, _) = read_all(b"a|b\n1|2\n", &options).unwrap();
        assert_eq!(header.columns, ["a", "b"]);
    }

    #[test]
    fn lone_carriage_returns_end_lines_too() {
        let (header, rows) = read_all(b"id;n\r1;a\r\r2;\"b\rc\"\r3;d\r", &ReadOptions::default()).unwrap();
        assert_eq!(header.line, 1);
        let lines: Vec<(u64, u64)> = rows.iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(lines, [(1, 2), (2, 4), (3, 6)]);
    }

    #[test]
    fn a_quoted_newline_separates_row_and_line() {
        let (header, rows) =
            read_all(b"id;note\r\n1;\"two\r\nlines\"\r\n\r\n2;x\r\n3;\"a \"\"q\"\"\"\r\n", &ReadOptions::default())
                .unwrap();
        assert_eq!(header.line, 1);
        assert_eq!(
            rows,
            [
                (1, 2, vec!["1".to_owned(), "two\r\nlines".to_owned()], vec![]),
                (2, 5, vec!["2".to_owned(), "x".to_owned()], vec![]),
                (3, 6, vec!["3".to_owned(), "a \"q\"".to_owned()], vec![]),
            ]
        );
    }

    #[test]
    fn a_title_row_above_the_header_is_skipped() {
        let data = b"Personalexport 2026-11-01\n\nAnst.nr;Namn\n0012;x\n;\n0013;y\n";
        let (header, rows) = read_all(data, &hints(&["anst.nr"])).unwrap();
        assert_eq!((header.columns, header.line), (vec!["Anst.nr".to_owned(), "Namn".to_owned()], 3));
        assert_eq!(rows.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(), [(1, 4), (2, 6)]);
        let options = ReadOptions { header_row: Some(3), ..ReadOptions::default() };
        assert_eq!(read_all(data, &options).unwrap().0.line, 3);
        let error = read_all(data, &hints(&["personnummer"])).map(|_| ()).unwrap_err();
        assert!(matches!(error, ReadError::NoHeader { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("`personnummer`") && message.contains("delimiter"), "{message}");
    }

    #[test]
    fn file_level_errors() {
        let too_large = format!("a,b\n1,{}\n", "x".repeat(100));
        let small = ReadOptions { max_field_bytes: 50, ..ReadOptions::default() };
        let cases: Vec<(&[u8], ReadOptions, &str)> = vec![
            (b"", ReadOptions::default(), "Empty"),
            (b"  \r\n \n", ReadOptions::default(), "Empty"),
            (b"a;b\r\n\r\n", ReadOptions::default(), "HeaderOnly"),
            (b"a;b;A \n1;2;3\n", ReadOptions::default(), "DuplicateHeader { column: \"A\", first: 1, second: 3 }"),
            (b"a;b\n1;2\n3\n", ReadOptions::default(), "Ragged { row: 2, line: 3, expected: 2, found: 1 }"),
            (b"a;b\n1;2;3\n", ReadOptions::default(), "Ragged { row: 1, line: 2, expected: 2, found: 3 }"),
            (b"a;b\n1;2\n\"3\n;4\n", ReadOptions::default(), "UnbalancedQuote { line: 3 }"),
            (b"a\0;\0b\0\n\0", ReadOptions::default(), "NulByte { line: 1 }"),
            (b"a;b\n1;2\n3;\0\n", ReadOptions::default(), "NulByte { line: 3 }"),
            (too_large.as_bytes(), small, "FieldTooLarge { line: 2, limit: 50 }"),
        ];
        for (bytes, options, expected) in cases {
            let error = read_all(bytes, &options).map(|_| ()).unwrap_err();
            assert_eq!(format!("{error:?}"), expected, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn trailing_empty_cells_are_not_ragged() {
        check(b"a;b;\n1;2;;\n", "utf-8", b';', &["a", "b"], &[&["1", "2"]]);
    }

    #[test]
    fn invalid_utf8_marks_the_cell() {
        let mut data = "Förnamn;Efternamn\n".as_bytes().to_vec();
        data.extend(b"a;b\n\xC5sa;x\n");
        let (header, rows) = read_all(&data, &ReadOptions::default()).unwrap();
        assert_eq!(header.detected.encoding, "windows-1252", "a bad prefix means Windows-1252");
        assert_eq!(rows[1].2, ["Åsa", "x"]);

        let mut data = "Förnamn;Efternamn\n".as_bytes().to_vec();
        data.extend("Åsa;Öberg\n".repeat(8000).as_bytes());
        data.extend(b"ok;\xC5sa\nb;c\n\xC5;\xC5\n");
        let (header, rows) = read_all(&data, &ReadOptions::default()).unwrap();
        assert_eq!(header.detected.encoding, "utf-8");
        assert_eq!(rows[8000], (8001, 8002, vec!["ok".to_owned(), String::new()], vec![1]));
        assert!(rows[8001].3.is_empty());
        // Every broken cell is marked, not only the first: the second may be a mapped one.
        assert_eq!(rows[8002], (8003, 8004, vec![String::new(), String::new()], vec![0, 1]));
    }

    /// Issue 14, file framing: a footer or a blank row ends the data, and a row after the end
    /// that looks like data fails the file instead of being lost.
    #[test]
    fn the_end_of_the_data_loses_nothing_quietly() {
        let footer = ReadOptions { footer: Some(regex::Regex::new("^Summa").unwrap()), ..ReadOptions::default() };
        let blank = ReadOptions { end_at_blank_row: true, ..ReadOptions::default() };
        let (_, rows) = read_all(b"a;b;c\n1;x;y\n2;x;y\nSumma: 2;;\n", &footer).unwrap();
        assert_eq!(rows.len(), 2);
        let (_, rows) = read_all(b"a;b;c\n1;x;y\n\nSumma: 1\nUtskriven av\n", &blank).unwrap();
        assert_eq!(rows.len(), 1);
        for (data, options) in [(&b"a;b;c\n1;x;y\nSumma;;\n3;x;y\n"[..], &footer), (b"a;b;c\n1;x;y\n\n3;x;y\n", &blank)]
        {
            let error = read_all(data, options).map(|_| ()).unwrap_err();
            assert!(matches!(error, ReadError::DataAfterEnd { line: 4, filled: 3, columns: 3 }), "{error:?}");
        }
    }

    #[test]
    fn explicit_encoding_is_used() {
        let options = ReadOptions { encoding: EncodingChoice::Windows1252, ..ReadOptions::default() };
        let (_, rows) = read_all(b"a;b\n\xC5;x\n\x80;y\n", &options).unwrap();
        assert_eq!(rows[0].2, ["Å", "x"]);
        assert_eq!(rows[1].2, ["€", "y"]);
        // UTF-8 declared as Windows-1252 once stored `Ã…` for `Å`; it is refused instead.
        let error = read_all("a;b\nÅ;x\n".as_bytes(), &options).map(|_| ()).unwrap_err();
        assert!(matches!(error, ReadError::WrongEncoding { declared: "windows-1252", likely: "utf-8", .. }));
    }

    #[test]
    fn wrong_extension() {
        let f = tempfile::Builder::new().suffix(".xlsx").tempfile().unwrap();
        std::fs::write(f.path(), b"a;b\n1;2\n").unwrap();
        let error = open(f.path(), &ReadOptions::default()).map(|_| ()).unwrap_err();
        assert!(matches!(error, ReadError::WrongExtension { ref extension, actual: "text" } if extension == "xlsx"));
    }

    #[test]
    fn records_are_send() {
        fn send<T: Send>() {}
        send::<Records>();
    }

    #[test]
    fn progress_reaches_the_file_size() {
        let data = "a;b\n".to_owned() + &"1;2\n".repeat(50_000);
        let f = file(data.as_bytes(), ".csv");
        let mut records = open(f.path(), &ReadOptions::default()).unwrap();
        let mut record = Record::default();
        while records.next_into(&mut record).unwrap() {}
        assert_eq!(records.progress(), (data.len() as u64, data.len() as u64));
    }

    /// Encodes `text` as the file would hold it.
    fn encode(text: &str, encoding: usize) -> Vec<u8> {
        match encoding {
            0 => text.as_bytes().to_vec(),
            1 => utf16(text, false),
            _ => encoding_rs::WINDOWS_1252.encode(text).0.into_owned(),
        }
    }

    fn write_csv(rows: &[Vec<String>], delimiter: u8) -> String {
        let mut writer = ::csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
        for row in rows {
            writer.write_record(row).unwrap();
        }
        String::from_utf8(writer.into_inner().unwrap()).unwrap()
    }

    proptest! {
        #[test]
        fn encodings_round_trip(
            cells in prop::collection::vec(prop::collection::vec("[a-zA-Z0-9åäöÅÄÖé \";,\t\n]{0,12}", 3), 1..20),
            encoding in 0usize..3,
            delimiter in prop::sample::select(vec![b';', b',', b'\t']),
        ) {
            // Blank rows are skipped by design, so give every row a non-blank first cell.
            let cells: Vec<Vec<String>> =
                cells.into_iter().map(|mut r| { r[0] = format!("k{}", r[0]); r }).collect();
            let mut rows = vec![vec!["Anst.nr".to_owned(), "Förnamn".to_owned(), "Efternamn".to_owned()]];
            rows.extend(cells.iter().cloned());
            let text = write_csv(&rows, delimiter);
            let options = ReadOptions { delimiter: Some(delimiter), ..ReadOptions::default() };
            let (header, got) = read_all(&encode(&text, encoding), &options).unwrap();
            prop_assert_eq!(&header.columns, &rows[0]);
            let got: Vec<Vec<String>> = got.into_iter().map(|r| r.2).collect();
            prop_assert_eq!(got, cells);
        }

        #[test]
        fn delimiter_is_sniffed(
            cells in prop::collection::vec(prop::collection::vec("[a-zåäö0-9 ,;\t]{1,8}", 4), 1..10),
            delimiter in prop::sample::select(vec![b';', b',', b'\t']),
        ) {
            let mut rows = vec![vec!["Anst.nr".to_owned(), "a".to_owned(), "b".to_owned(), "c".to_owned()]];
            rows.extend(cells);
            let text = write_csv(&rows, delimiter);
            let (header, _) = read_all(text.as_bytes(), &ReadOptions::default()).unwrap();
            prop_assert_eq!(header.detected.delimiter, delimiter);
        }

        #[test]
        fn lines_follow_quoted_newlines_and_blank_lines(
            rows in prop::collection::vec((prop::collection::vec("[a-z\r\n\" ]{0,6}", 2), 0usize..3), 1..15),
            crlf in any::<bool>(),
        ) {
            let terminator = if crlf { ::csv::Terminator::CRLF } else { ::csv::Terminator::Any(b'\n') };
            let blank = if crlf { "\r\n" } else { "\n" };
            let mut text = String::from("id;note");
            text.push_str(blank);
            let mut expected = Vec::new();
            for (cells, blanks) in &rows {
                text.push_str(&blank.repeat(*blanks));
                let mut writer = ::csv::WriterBuilder::new()
                    .delimiter(b';')
                    .terminator(terminator)
                    .quote_style(::csv::QuoteStyle::Necessary)
                    .from_writer(Vec::new());
                let cells = [format!("k{}", cells[0]), cells[1].clone()];
                writer.write_record(&cells).unwrap();
                // CRLF, a lone CR and a lone LF each end one line.
                let line = 1 + text.replace("\r\n", "\n").matches(['\n', '\r']).count() as u64;
                expected.push((line, cells.to_vec()));
                text.push_str(&String::from_utf8(writer.into_inner().unwrap()).unwrap());
            }
            let (_, got) = read_all(text.as_bytes(), &ReadOptions::default()).unwrap();
            let got: Vec<(u64, Vec<String>)> = got.into_iter().map(|r| (r.1, r.2)).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn no_panic_and_no_content_in_errors(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = read_all(&bytes, &ReadOptions::default());
        }

        #[test]
        fn mutated_csv_never_panics_or_leaks(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            max_field_bytes in 4usize..64,
        ) {
            let mut bytes = b"Title\nAnst.nr;Canary\n0001;QZXCANARYA\n0002;\"QZXCANARYB\nQZXCANARYC\"\n".to_vec();
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                if byte % 3 == 0 { bytes.remove(i); } else { bytes[i] = byte; }
            }
            let options = ReadOptions { max_field_bytes, ..hints(&["anst.nr"]) };
            if let Err(error) = read_all(&bytes, &options) {
                let shown = error.to_string();
                prop_assert!(!shown.contains("QZX") && !shown.contains("CANARY"), "{}", shown);
            }
        }
    }
}
