//! Workbook: reads one sheet of an XLSX, XLS or ODS file through calamine and renders its cells as text.
//!
//! Zip containers are checked against the size limits before calamine opens them, and every
//! calamine call runs under `catch_unwind`: a hostile file must fail the file, not the process.
//! An XLSX sheet is streamed from calamine's cell reader on a thread of its own; an XLS or ODS
//! sheet is loaded whole (calamine's `Range`), as calamine has no cell reader for them.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use calamine::{Data, Ods, Range, Reader, Xls, Xlsx};

use super::sniff::{self, HeaderSearch, OLE_MAGIC, Verdict};
use super::{Detected, FormatChoice, Header, ReadError, ReadOptions, Record};

/// Entries smaller than this are not ratio-checked: small XML parts compress extremely well.
const RATIO_CHECK_MIN_BYTES: u64 = 1024 * 1024;
/// Excel's last date, 9999-12-31; serials beyond it are rendered as numbers.
const LAST_EXCEL_SERIAL: f64 = 2_958_466.0;

/// The most bytes one XML element or text may span in a workbook part: quick-xml holds a whole
/// one in memory, and a cell is at most `max_field_bytes` anyway.
const MAX_XML_TOKEN_BYTES: u64 = 4 * 1024 * 1024;

/// Rows per batch from the XLSX streaming thread.
const STREAM_BATCH: usize = 256;

/// One sheet row as read: its 1-based line and its non-empty cells as (column, value).
struct SheetRow {
    line: u64,
    cells: Vec<(u32, Data)>,
}

type RowBatch = Result<Vec<SheetRow>, ReadError>;

/// A workbook as calamine reads it: the bytes that were hashed.
type Book = Cursor<Vec<u8>>;

/// Where a sheet's rows come from. XLSX streams: a thread runs calamine's cell reader and sends
/// rows in batches, so a sheet of any size is validated while it is still being parsed, in
/// bounded memory. XLS and ODS have no cell reader in calamine; their sheet is loaded whole.
enum Rows {
    Loaded { range: Range<Data>, first_line: u64, next: usize },
    Streamed { rx: std::sync::mpsc::Receiver<RowBatch>, batch: std::vec::IntoIter<SheetRow>, read: u64, total: u64 },
}

impl Rows {
    fn next(&mut self) -> Result<Option<SheetRow>, ReadError> {
        match self {
            Rows::Loaded { range, first_line, next } => {
                if *next >= range.height() {
                    return Ok(None);
                }
                let r = *next;
                *next += 1;
                let cells = (0..range.width())
                    .filter_map(|c| {
                        let d = range.get((r, c)).filter(|d| !matches!(d, Data::Empty))?;
                        Some((u32::try_from(c).ok()?, d.clone()))
                    })
                    .collect();
                Ok(Some(SheetRow { line: *first_line + r as u64, cells }))
            }
            Rows::Streamed { rx, batch, read, .. } => loop {
                if let Some(row) = batch.next() {
                    *read = row.line;
                    return Ok(Some(row));
                }
                match rx.recv() {
                    Ok(Ok(rows)) => *batch = rows.into_iter(),
                    Ok(Err(e)) => return Err(e),
                    // The thread ends by dropping its sender after the last batch.
                    Err(_) => return Ok(None),
                }
            },
        }
    }

    /// (rows read, rows in the sheet), by sheet line.
    fn progress(&self) -> (u64, u64) {
        match self {
            Rows::Loaded { range, next, .. } => (*next as u64, range.height() as u64),
            Rows::Streamed { read, total, .. } => (*read, (*total).max(*read)),
        }
    }
}

/// One sheet of a workbook, positioned after its header.
pub struct SheetRecords {
    rows: Rows,
    /// A data row read ahead (to know the sheet has one), returned next.
    peeked: Option<SheetRow>,
    columns: usize,
    row: u64,
    max_field_bytes: usize,
    scratch: String,
    /// Per column, the index of its cell in the current row (`usize::MAX`: empty).
    at: Vec<usize>,
    /// The sheet column of the header's first named cell: columns count from there, as in a
    /// loaded range (left of it there is no column to map).
    first_col: u32,
    footer: Option<regex::Regex>,
    end_at_blank_row: bool,
    /// A footer or (with `end_at_blank_row`) a blank row ended the data.
    ended: bool,
    seen_data: bool,
    /// The line of the last sheet row read.
    last_line: Option<u64>,
    /// The sheet read, named in its errors.
    sheet: String,
    /// The SHA-256 (hex) of the bytes parsed.
    sha256: String,
}

impl SheetRecords {
    /// Opens the workbook, picks the sheet and reads up to the header row.
    pub fn open(path: &Path, format: FormatChoice, options: &ReadOptions) -> Result<(SheetRecords, Header), ReadError> {
        let name = format_name(format);
        // The workbook is read whole, hashed and parsed from memory: what is read is what was
        // hashed, even if the file changes on disk meanwhile.
        let len = std::fs::metadata(path)?.len();
        if len > options.max_uncompressed_bytes {
            return Err(ReadError::ZipBomb { reason: "the workbook is larger than the size limit".into() });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        File::open(path)?.take(options.max_uncompressed_bytes).read_to_end(&mut bytes)?;
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        let (rows, sheet) = match catch_unwind(AssertUnwindSafe(|| rows(bytes, format, options))) {
            Ok(result) => result?,
            Err(_) => return Err(workbook_error(format, "the reader crashed on this file")),
        };
        let mut records = SheetRecords {
            rows,
            peeked: None,
            columns: 0,
            row: 0,
            max_field_bytes: options.max_field_bytes,
            scratch: String::new(),
            at: Vec::new(),
            first_col: 0,
            footer: options.footer.clone(),
            end_at_blank_row: options.end_at_blank_row,
            ended: false,
            seen_data: false,
            last_line: None,
            sheet,
            sha256,
        };
        let header = records.read_header(options).map_err(|e| e.reading(|| format!("sheet `{}`", records.sheet)));
        let (columns, line) = header.map_err(|e| in_sheet(&records.sheet, e))?;
        records.columns = columns.len();
        records.peeked = records.next_non_blank().map_err(|e| in_sheet(&records.sheet, e))?;
        if records.peeked.is_none() {
            return Err(in_sheet(&records.sheet, ReadError::HeaderOnly));
        }
        let detected = Detected { format: name, encoding: "", delimiter: 0 };
        Ok((records, Header { columns, line, detected }))
    }

    fn next_non_blank(&mut self) -> Result<Option<SheetRow>, ReadError> {
        if let Some(row) = self.peeked.take() {
            return Ok(Some(row));
        }
        while !self.ended
            && let Some(row) = self.rows.next()?
        {
            // A streamed sheet leaves blank rows out altogether: a gap in the lines is one.
            let gap = self.last_line.is_some_and(|last| row.line > last + 1);
            self.last_line = Some(row.line);
            if gap && self.end_at_blank_row && self.seen_data {
                self.ended = true;
                continue;
            }
            let Some((_, first)) = row.cells.iter().filter(|(_, d)| !is_empty(d)).min_by_key(|(c, _)| *c) else {
                self.ended = self.end_at_blank_row && self.seen_data;
                continue;
            };
            if let Some(footer) = &self.footer
                && cell_text(first, &mut self.scratch)
                && footer.is_match(self.scratch.trim())
            {
                self.ended = true;
                continue;
            }
            self.seen_data = true;
            return Ok(Some(row));
        }
        // What follows the end is read too: a row there that looks like data fails the file
        // instead of being lost without a trace.
        while self.ended
            && let Some(row) = self.rows.next()?
        {
            let first_col = self.first_col;
            let within = |c: u32| c.checked_sub(first_col).is_some_and(|c| (c as usize) < self.columns);
            let filled = row.cells.iter().filter(|(c, d)| within(*c) && !is_empty(d)).count();
            if super::looks_like_data(filled, self.columns) {
                return Err(ReadError::DataAfterEnd { line: row.line, filled, columns: self.columns });
            }
        }
        Ok(None)
    }

    /// Reads the next data record into `record`; `Ok(false)` after the last data row.
    pub fn next_into(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        self.next_record(record).map_err(|e| in_sheet(&self.sheet, e))
    }

    fn next_record(&mut self, record: &mut Record) -> Result<bool, ReadError> {
        let Some(sheet_row) = self.next_non_blank()? else { return Ok(false) };
        self.row += 1;
        record.row = self.row;
        record.line = sheet_row.line;
        record.cells.clear();

        let first_col = self.first_col;
        let column = move |c: u32| c.checked_sub(first_col).map(|c| c as usize);
        let beyond =
            sheet_row.cells.iter().filter(|(c, d)| column(*c).is_some_and(|c| c >= self.columns) && !is_empty(d));
        if let Some(last) = beyond.filter_map(|(c, _)| column(*c)).max() {
            return Err(ReadError::Ragged {
                row: self.row,
                line: record.line,
                expected: self.columns,
                found: last + 1,
            });
        }
        self.at.clear();
        self.at.resize(self.columns, usize::MAX);
        for (i, (c, _)) in sheet_row.cells.iter().enumerate() {
            if let Some(slot) = column(*c).and_then(|c| self.at.get_mut(c)) {
                *slot = i;
            }
        }
        for c in 0..self.columns {
            let cell = sheet_row.cells.get(self.at[c]).map_or(&Data::Empty, |(_, d)| d);
            let text = cell_text(cell, &mut self.scratch);
            if self.scratch.len() > self.max_field_bytes {
                return Err(ReadError::FieldTooLarge { line: record.line, limit: self.max_field_bytes });
            }
            record.cells.push_field(if text { self.scratch.as_bytes() } else { NOT_TEXT });
        }
        Ok(true)
    }

    /// (rows read, rows in the sheet).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn progress(&self) -> (u64, u64) {
        self.rows.progress()
    }

    fn read_header(&mut self, options: &ReadOptions) -> Result<(Vec<String>, u64), ReadError> {
        let mut search = HeaderSearch::new(options.header_row, &options.header_hints);
        while let Some(row) = self.rows.next()? {
            // Columns count from the row's first non-empty cell: a sheet whose column A is empty
            // has no unnamed first column.
            let first = row.cells.iter().filter(|(_, d)| !is_empty(d)).map(|(c, _)| *c).min().unwrap_or(0);
            let width = row.cells.iter().map(|(c, _)| (*c + 1).saturating_sub(first) as usize).max().unwrap_or(0);
            let mut cells: Vec<Option<String>> = vec![Some(String::new()); width];
            for (c, d) in row.cells.iter().filter(|(c, _)| *c >= first) {
                let mut text = String::new();
                cells[(*c - first) as usize] = cell_text(d, &mut text).then_some(text);
            }
            if search.offer(row.line, cells.iter().map(Option::as_deref))? == Verdict::Header {
                self.first_col = first;
                // An error cell in the header has no name; it counts as an unnamed column.
                let columns = sniff::header_columns(cells.iter().map(|c| c.as_deref().unwrap_or("")))?;
                return Ok((columns, row.line));
            }
        }
        Err(search.at_end())
    }
}

fn is_empty(cell: &Data) -> bool {
    match cell {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// What an error cell holds in a `Record`: a byte that UTF-8 never holds, so it reads as not
/// text (`Record::text`), like a CSV cell in a broken encoding.
const NOT_TEXT: &[u8] = &[0xFF];

/// Renders a cell into `out`; `false` (and `out` empty) for an error cell.
fn cell_text(cell: &Data, out: &mut String) -> bool {
    out.clear();
    match cell {
        Data::Empty => {}
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => out.push_str(s),
        Data::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Data::Float(f) => number_text(*f, out),
        Data::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Data::DateTime(dt) => {
            let serial = dt.as_f64();
            if dt.is_duration() || !(0.0..LAST_EXCEL_SERIAL).contains(&serial) {
                number_text(serial, out);
            } else {
                let (y, mo, d, h, mi, s) = to_nearest_second(dt);
                let _ = if (h, mi, s) == (0, 0, 0) {
                    write!(out, "{y:04}-{mo:02}-{d:02}")
                } else {
                    write!(out, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
                };
            }
        }
        Data::Error(_) => return false,
    }
    true
}

/// A serial date-time's parts, its time rounded to the second. A time of day is a fraction of a
/// day in a float, so 08:30 arrives as 08:29:59.999…, which calamine's parts truncate to 08:29:59.
fn to_nearest_second(dt: &calamine::ExcelDateTime) -> (i32, u32, u32, u32, u32, u32) {
    use chrono::Datelike;
    let (y, mo, d, ..) = dt.to_ymd_hms_milli();
    let mut secs = (dt.as_f64().fract() * 86_400.0).round() as u32;
    let mut date = (i32::from(y), u32::from(mo), u32::from(d));
    if secs >= 86_400 {
        secs = 0;
        if let Some(next) = chrono::NaiveDate::from_ymd_opt(date.0, date.1, date.2).and_then(|x| x.succ_opt()) {
            date = (next.year(), next.month(), next.day());
        }
    }
    (date.0, date.1, date.2, secs / 3600, secs / 60 % 60, secs % 60)
}

/// Whole numbers without `.0` (spreadsheets store every number as a float); others in the
/// shortest text that reads back to the same float.
fn number_text(f: f64, out: &mut String) {
    let _ = if f.fract() == 0.0 && f.abs() < 1e15 { write!(out, "{}", f as i64) } else { write!(out, "{f}") };
}

fn format_name(format: FormatChoice) -> &'static str {
    match format {
        FormatChoice::Xls => "xls",
        FormatChoice::Ods => "ods",
        FormatChoice::Xlsx | FormatChoice::Csv | FormatChoice::Auto => "xlsx",
    }
}

fn workbook_error(format: FormatChoice, reason: &str) -> ReadError {
    ReadError::Workbook { format: format_name(format), reason: reason.to_owned() }
}

/// Checks the container, opens the workbook and starts on the chosen sheet.
/// The chosen sheet's rows and its name.
fn rows(bytes: Vec<u8>, format: FormatChoice, options: &ReadOptions) -> Result<(Rows, String), ReadError> {
    // calamine's own bounds (vendor/calamine/src/bounds.rs): the same for every file.
    calamine::bounds::MAX_CELLS.store(options.max_workbook_cells, std::sync::atomic::Ordering::Relaxed);
    calamine::bounds::MAX_XML_TOKEN_BYTES.store(MAX_XML_TOKEN_BYTES, std::sync::atomic::Ordering::Relaxed);
    let loaded = |(range, name): (Range<Data>, String)| {
        let first_line = range.start().map_or(1, |(row, _)| u64::from(row) + 1);
        (Rows::Loaded { range, first_line, next: 0 }, name)
    };
    match format {
        FormatChoice::Xls => {
            super::cfb_check::check(&bytes).map_err(|reason| workbook_error(format, reason))?;
            load_sheet::<Xls<_>>(bytes, format, options).map(loaded)
        }
        FormatChoice::Ods => {
            check_zip(&bytes, format, options)?;
            load_sheet::<Ods<_>>(bytes, format, options).map(loaded)
        }
        FormatChoice::Xlsx | FormatChoice::Csv | FormatChoice::Auto => {
            check_zip(&bytes, format, options)?;
            stream_xlsx(bytes, options)
        }
    }
}

/// Opens the workbook and finds the sheet to read: the mapping's, else the first.
fn open_workbook<W>(bytes: Vec<u8>, format: FormatChoice, options: &ReadOptions) -> Result<(W, String), ReadError>
where
    W: Reader<Book>,
    calamine::Error: From<W::Error>,
{
    let workbook =
        W::new(Cursor::new(bytes)).map_err(|e| calamine_error(format, e.into(), "the workbook cannot be opened"))?;
    let names = workbook.sheet_names();
    // `auto` takes the first visible worksheet: exports often keep lookup lists or a template
    // in a hidden first sheet, and a chart sheet holds no rows.
    let visible = workbook
        .sheets_metadata()
        .iter()
        .find(|s| s.visible == calamine::SheetVisible::Visible && s.typ == calamine::SheetType::WorkSheet)
        .and_then(|s| names.iter().find(|n| **n == s.name));
    let name = match &options.sheet {
        None => visible.or(names.first()).ok_or_else(|| workbook_error(format, "the workbook has no sheets"))?,
        Some(wanted) => names
            .iter()
            .find(|n| *n == wanted)
            .or_else(|| names.iter().find(|n| n.trim().eq_ignore_ascii_case(wanted.trim())))
            .ok_or_else(|| ReadError::NoSuchSheet(wanted.clone()))?,
    };
    let name = name.clone();
    Ok((workbook, name))
}

fn load_sheet<W>(
    bytes: Vec<u8>,
    format: FormatChoice,
    options: &ReadOptions,
) -> Result<(Range<Data>, String), ReadError>
where
    W: Reader<Book>,
    calamine::Error: From<W::Error>,
{
    let (mut workbook, name) = open_workbook::<W>(bytes, format, options)?;
    match workbook.worksheet_range(&name) {
        Ok(range) => Ok((range, name)),
        Err(e) => Err(in_sheet(&name, calamine_error(format, e.into(), "the sheet cannot be read"))),
    }
}

/// Names the sheet in an error met once it was chosen.
fn in_sheet(sheet: &str, error: ReadError) -> ReadError {
    match error {
        e @ ReadError::InSheet { .. } => e,
        e => ReadError::InSheet { sheet: sheet.to_owned(), source: Box::new(e) },
    }
}

/// Opens the workbook here, so that its errors come at once, then hands it to a thread that
/// streams the sheet's rows.
fn stream_xlsx(bytes: Vec<u8>, options: &ReadOptions) -> Result<(Rows, String), ReadError> {
    let format = FormatChoice::Xlsx;
    let (workbook, name) = open_workbook::<Xlsx<_>>(bytes, format, options)?;
    let sheet = name.clone();
    let (tx, rx) = std::sync::mpsc::sync_channel::<RowBatch>(4);
    let (total_tx, total_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("hrfeed-sheet".into())
        .spawn(move || {
            let mut workbook = workbook;
            // A panic in calamine becomes the file's error, as for a loaded sheet.
            let streamed = catch_unwind(AssertUnwindSafe(|| send_rows(&mut workbook, &name, &tx, &total_tx)));
            let error = match streamed {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e,
                Err(_) => workbook_error(format, "the reader crashed on this file"),
            };
            let _ = tx.send(Err(error));
        })
        .map_err(ReadError::Io)?;
    // The sheet's size for the progress bar, sent before any row (0 if the sheet failed).
    let total = total_rx.recv().unwrap_or(0);
    Ok((Rows::Streamed { rx, batch: Vec::new().into_iter(), read: 0, total }, sheet))
}

/// The streaming thread's work: every cell of the sheet, grouped into rows, sent in batches.
/// A closed channel (the reader gave up) ends it quietly.
fn send_rows(
    workbook: &mut Xlsx<Book>,
    name: &str,
    tx: &std::sync::mpsc::SyncSender<RowBatch>,
    total_tx: &std::sync::mpsc::Sender<u64>,
) -> Result<(), ReadError> {
    let read_error = |e: calamine::XlsxError| calamine_error(FormatChoice::Xlsx, e.into(), "the sheet cannot be read");
    let mut cells = match workbook.worksheet_cells_reader(name) {
        Ok(cells) => cells,
        Err(e) => {
            let _ = total_tx.send(0);
            return Err(read_error(e));
        }
    };
    let _ = total_tx.send(u64::from(cells.dimensions().end.0) + 1);
    let mut batch = Vec::with_capacity(STREAM_BATCH);
    let mut row: Option<SheetRow> = None;
    while let Some(cell) = cells.next_cell().map_err(read_error)? {
        let (r, c) = cell.get_position();
        let line = u64::from(r) + 1;
        let last = row.as_ref().map(|row| row.line);
        if last.is_some_and(|last| line < last) {
            // Spreadsheet programs write rows in order; a line going back would be a row read twice.
            return Err(workbook_error(FormatChoice::Xlsx, "the sheet's rows are out of order"));
        }
        if row.as_ref().is_none_or(|row| row.line != line) {
            batch.extend(row.take());
            if batch.len() >= STREAM_BATCH
                && tx.send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(STREAM_BATCH)))).is_err()
            {
                return Ok(());
            }
            row = Some(SheetRow { line, cells: Vec::new() });
        }
        let value = Data::from(cell.get_value().clone());
        if let (Some(row), false) = (row.as_mut(), matches!(value, Data::Empty)) {
            row.cells.push((c, value));
        }
    }
    batch.extend(row);
    if !batch.is_empty() {
        let _ = tx.send(Ok(batch));
    }
    Ok(())
}

/// calamine's messages can quote the file (sheet names, values); keep only the kind.
fn calamine_error(format: FormatChoice, error: calamine::Error, reason: &str) -> ReadError {
    use calamine::{Error, OdsError, XlsError, XlsxError};
    if let Some(exceeded) = exceeded(&error) {
        let name = format_name(format);
        return match exceeded.what {
            "cells" => ReadError::TooManyCells {
                format: name,
                reason: format!("its sheets would hold more than {} cells (rows × columns)", exceeded.limit),
            },
            "declared size" => ReadError::Inflated {
                reason: format!("a part inflates to more than the {} bytes it declares", exceeded.limit),
            },
            _ => ReadError::Inflated {
                reason: format!("a part holds an XML element or text longer than {} bytes", exceeded.limit),
            },
        };
    }
    match error {
        Error::Xlsx(XlsxError::Password) | Error::Xls(XlsError::Password) | Error::Ods(OdsError::Password) => {
            ReadError::Encrypted
        }
        Error::Io(e)
            if e.kind() != std::io::ErrorKind::InvalidData && e.kind() != std::io::ErrorKind::UnexpectedEof =>
        {
            ReadError::Io(e)
        }
        // These messages are calamine's own fixed phrases, never the file's text.
        Error::Xlsx(XlsxError::Unexpected(what)) => {
            workbook_error(format, &format!("{reason}: {}", what.to_lowercase()))
        }
        Error::Xls(XlsError::Len { typ, .. }) => workbook_error(format, &format!("{reason}: a damaged {typ} record")),
        _ => workbook_error(format, reason),
    }
}

/// The bound calamine met, if that is what failed: it comes wrapped in an `io::Error`, itself
/// perhaps inside quick-xml's error.
fn exceeded(error: &calamine::Error) -> Option<calamine::bounds::Exceeded> {
    let mut at: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = at {
        let io = e
            .downcast_ref::<std::io::Error>()
            .or_else(|| e.downcast_ref::<std::sync::Arc<std::io::Error>>().map(|a| &**a));
        if let Some(found) = io.and_then(|io| io.get_ref()).and_then(|i| i.downcast_ref()) {
            return Some(*found);
        }
        at = e.source();
    }
    None
}

/// Refuses a zip container whose central directory promises too much: more than
/// `max_uncompressed_bytes` in total, or an entry that expands more than `max_compression_ratio`.
fn check_zip(bytes: &[u8], format: FormatChoice, options: &ReadOptions) -> Result<(), ReadError> {
    if bytes.starts_with(OLE_MAGIC) {
        // Office saves a password-protected XLSX as an OLE file around the encrypted package.
        if sniff::ole_is_encrypted(bytes)? {
            return Err(ReadError::Encrypted);
        }
        return Err(workbook_error(format, "the file is not a zip container"));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|_| workbook_error(format, "the file is truncated or not a zip container"))?;
    let (mut total, mut loaded): (u64, u64) = (0, 0);
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| workbook_error(format, "the zip container is damaged"))?;
        let (size, compressed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(size);
        // calamine streams an XLSX sheet but holds these parts whole (media, pivot caches and
        // the like it never reads).
        let name = entry.name();
        if format != FormatChoice::Ods
            && (name == "xl/sharedStrings.xml"
                || name == "xl/styles.xml"
                || name == "xl/workbook.xml"
                || name.ends_with(".rels"))
        {
            loaded = loaded.saturating_add(size);
        }
        if size > RATIO_CHECK_MIN_BYTES && size / compressed.max(1) > options.max_compression_ratio {
            return Err(ReadError::ZipBomb {
                reason: format!("entry {} expands more than {} times", i + 1, options.max_compression_ratio),
            });
        }
    }
    if loaded > options.max_loaded_part_bytes {
        return Err(ReadError::ZipBomb {
            reason: format!(
                "its shared strings and other parts read whole expand to more than {} bytes",
                options.max_loaded_part_bytes
            ),
        });
    }
    if total > options.max_uncompressed_bytes {
        return Err(ReadError::ZipBomb {
            reason: format!("its entries expand to more than {} bytes", options.max_uncompressed_bytes),
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

    use super::super::{Records, open};
    use super::*;

    /// One data row as read: (row, line, cells, invalid_text).
    type Row = (u64, u64, Vec<String>, Vec<usize>);

    fn read_all(path: &Path, options: &ReadOptions) -> Result<(Header, Vec<Row>), ReadError> {
        let mut records: Records = open(path, options)?;
        let mut rows = Vec::new();
        let mut record = Record::default();
        while records.next_into(&mut record)? {
            let (cells, invalid) = record.texts();
            rows.push((record.row, record.line, cells, invalid));
        }
        Ok((records.header().clone(), rows))
    }

    fn temp(suffix: &str) -> tempfile::NamedTempFile {
        tempfile::Builder::new().suffix(suffix).tempfile().unwrap()
    }

    /// The reference shape: an optional title row, a header, ids with leading zeros as text,
    /// numbers, a date, a serial number in a plain cell, and empty trailing rows.
    fn xlsx(title: bool) -> Vec<u8> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet().set_name("Personal").unwrap();
        let top = u32::from(title);
        if title {
            sheet.write_string(0, 0, "Personalexport 2026-11-01").unwrap();
        }
        for (c, name) in
            ["Anst.nr", "Förnamn", "Sysselsättningsgrad", "Anställningsdatum", "Slutdatum", "Månadslön", "Aktiv"]
                .iter()
                .enumerate()
        {
            sheet.write_string(top, c as u16, *name).unwrap();
        }
        let date = Format::new().set_num_format("yyyy-mm-dd");
        sheet.write_string(top + 1, 0, "000123").unwrap();
        sheet.write_string(top + 1, 1, "QZXÅsa").unwrap();
        sheet.write_number(top + 1, 2, 100.0).unwrap();
        sheet.write_datetime_with_format(top + 1, 3, ExcelDateTime::from_ymd(2024, 3, 1).unwrap(), &date).unwrap();
        sheet.write_number(top + 1, 4, 46022.0).unwrap();
        sheet.write_number(top + 1, 5, 41250.5).unwrap();
        sheet.write_boolean(top + 1, 6, true).unwrap();
        sheet.write_string(top + 2, 0, "000124").unwrap();
        sheet.write_number(top + 2, 2, 0.1 + 0.2).unwrap();
        // Formatted but empty trailing rows, as spreadsheet programs leave them.
        sheet.write_blank(top + 5, 0, &date).unwrap();
        workbook.save_to_buffer().unwrap()
    }

    fn write(bytes: &[u8], suffix: &str) -> tempfile::NamedTempFile {
        let mut f = temp(suffix);
        f.write_all(bytes).unwrap();
        f.flush().unwrap();
        f
    }

    fn hints() -> ReadOptions {
        ReadOptions { header_hints: vec!["anst.nr".to_owned()], ..ReadOptions::default() }
    }

    #[test]
    fn xlsx_cells_become_text() {
        for title in [false, true] {
            let f = write(&xlsx(title), ".xlsx");
            let (header, rows) = read_all(f.path(), &hints()).unwrap();
            let top = u64::from(title);
            assert_eq!(header.detected, Detected { format: "xlsx", encoding: "", delimiter: 0 });
            assert_eq!(header.line, top + 1);
            assert_eq!(header.columns[0], "Anst.nr");
            assert_eq!(rows.len(), 2, "trailing empty rows are skipped");
            assert_eq!(
                rows[0],
                (
                    1,
                    top + 2,
                    ["000123", "QZXÅsa", "100", "2024-03-01", "46022", "41250.5", "true"].map(str::to_owned).to_vec(),
                    vec![]
                )
            );
            assert_eq!(rows[1].2[2], "0.30000000000000004");
            assert_eq!(rows[1].1, top + 3);
        }
    }

    #[test]
    fn columns_count_from_the_headers_first_cell() {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.write_string(0, 1, "Anst.nr").unwrap();
        sheet.write_string(0, 2, "Förnamn").unwrap();
        sheet.write_string(1, 1, "000123").unwrap();
        sheet.write_string(1, 2, "Åsa").unwrap();
        sheet.write_string(2, 2, "Eva").unwrap();
        let f = write(&workbook.save_to_buffer().unwrap(), ".xlsx");
        let (header, rows) = read_all(f.path(), &hints()).unwrap();
        assert_eq!(header.columns, vec!["Anst.nr".to_owned(), "Förnamn".to_owned()]);
        let cells: Vec<Vec<String>> = rows.into_iter().map(|r| r.2).collect();
        assert_eq!(cells, vec![vec!["000123".to_owned(), "Åsa".to_owned()], vec![String::new(), "Eva".to_owned()]]);
    }

    #[test]
    fn sheet_by_name() {
        let f = write(&xlsx(false), ".xlsx");
        let options = ReadOptions { sheet: Some("personal".to_owned()), ..hints() };
        assert!(read_all(f.path(), &options).is_ok());
        let options = ReadOptions { sheet: Some("Blad9".to_owned()), ..hints() };
        assert!(matches!(read_all(f.path(), &options), Err(ReadError::NoSuchSheet(name)) if name == "Blad9"));
    }

    #[test]
    fn cell_rendering() {
        let check = |cell: Data, expected: &str, valid: bool| {
            let mut out = String::new();
            assert_eq!((cell_text(&cell, &mut out), out.as_str()), (valid, expected), "{cell:?}");
        };
        check(Data::Int(-7), "-7", true);
        check(Data::Float(12.0), "12", true);
        check(Data::Float(1e15), "1000000000000000", true);
        check(Data::Float(2.5), "2.5", true);
        check(Data::String("0012".to_owned()), "0012", true);
        check(Data::Bool(false), "false", true);
        let dt = |v| Data::DateTime(calamine::ExcelDateTime::new(v, calamine::ExcelDateTimeType::DateTime, false));
        check(dt(45352.0), "2024-03-01", true);
        check(dt(45352.5), "2024-03-01T12:00:00", true);
        // Issue 14, damage 3: 08:30 is 08:29:59.999… in a float, and was rendered a second early.
        check(dt(44256.0 + 8.5 / 24.0), "2021-03-01T08:30:00", true);
        check(dt(44256.0 + 86_399.999_5 / 86_400.0), "2021-03-02", true);
        check(dt(-3.0), "-3", true);
        check(Data::DateTimeIso("2024-03-01".to_owned()), "2024-03-01", true);
        check(Data::Error(calamine::CellErrorType::Div0), "", false);
        check(Data::Empty, "", true);
    }

    #[test]
    fn broken_and_hostile_workbooks_fail_cleanly() {
        let full = xlsx(false);
        let truncated = write(&full[..full.len() / 2], ".xlsx");
        let error = read_all(truncated.path(), &hints()).map(|_| ()).unwrap_err();
        assert!(matches!(error, ReadError::Workbook { format: "xlsx", .. }), "{error:?}");

        let f = write(&full, ".xlsx");
        let options = ReadOptions { max_uncompressed_bytes: 1000, ..hints() };
        assert!(matches!(read_all(f.path(), &options), Err(ReadError::ZipBomb { .. })));

        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("xl/workbook.xml", zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(&vec![b'0'; 3 * 1024 * 1024]).unwrap();
        let bomb = write(&zip.finish().unwrap().into_inner(), ".xlsx");
        let error = read_all(bomb.path(), &hints()).map(|_| ()).unwrap_err();
        assert!(matches!(error, ReadError::ZipBomb { .. }), "{error:?}");

        let mut ole = OLE_MAGIC.to_vec();
        ole.extend(vec![0; 600]);
        ole.extend("EncryptionInfo".encode_utf16().flat_map(u16::to_le_bytes));
        ole.extend(vec![0; 600]);
        let encrypted = write(&ole, ".xlsx");
        assert!(matches!(read_all(encrypted.path(), &hints()), Err(ReadError::Encrypted)));
        let explicit = ReadOptions { format: FormatChoice::Xlsx, ..hints() };
        assert!(matches!(read_all(encrypted.path(), &explicit), Err(ReadError::Encrypted)));
    }

    /// Rewrites one part of a zip (deflated).
    fn with_part(bytes: &[u8], part: &str, edit: impl Fn(Vec<u8>) -> Vec<u8>) -> Vec<u8> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            let name = entry.name().to_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            out.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
            out.write_all(&if name == part { edit(data) } else { data }).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    /// Issue 15, case 4: quick-xml holds a whole element or text in memory, so one text of
    /// hundreds of megabytes (well compressed or not) is refused at 4 MiB; and the parts calamine
    /// holds whole may not declare more than `max_loaded_part_bytes`.
    #[test]
    fn a_huge_xml_text_or_loaded_part_is_refused() {
        // 5 MiB of letters that deflate poorly (no zip-bomb ratio), in one shared string.
        let mut seed = 0x2545_F491_4F6C_DD1D_u64;
        let letters: String = (0..5 * 1024 * 1024)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'a' + (seed % 26) as u8)
            })
            .collect();
        let huge = with_part(&xlsx(false), "xl/sharedStrings.xml", |xml| {
            String::from_utf8(xml).unwrap().replacen("QZXÅsa", &letters, 1).into_bytes()
        });
        let f = write(&huge, ".xlsx");
        let error = read_all(f.path(), &hints()).map(|_| ()).unwrap_err();
        assert!(error.to_string().contains("longer than 4194304 bytes"), "{error}");
        let options = ReadOptions { max_loaded_part_bytes: 1024 * 1024, ..hints() };
        let error = read_all(f.path(), &options).map(|_| ()).unwrap_err();
        assert!(error.to_string().contains("read whole expand to more than 1048576 bytes"), "{error}");
    }

    #[test]
    fn limits_and_empty_files() {
        let f = write(&xlsx(false), ".xlsx");
        let options = ReadOptions { max_field_bytes: 5, ..hints() };
        let error = read_all(f.path(), &options).map(|_| ()).unwrap_err();
        assert!(
            matches!(&error, ReadError::InSheet { sheet, source }
                if sheet == "Personal" && matches!(**source, ReadError::FieldTooLarge { line: 2, limit: 5 })),
            "{error:?}"
        );
        assert!(error.to_string().starts_with("sheet `Personal`: line 2: "), "{error}");
        let empty = write(b"", ".xlsx");
        assert!(matches!(read_all(empty.path(), &hints()), Err(ReadError::Empty)));
    }

    /// Issue 14, file framing: a hidden first sheet is skipped by `sheet = auto`, a footer ends
    /// the data, and the header search's error names the sheet it searched.
    #[test]
    fn hidden_sheets_footers_and_named_sheets() {
        let mut workbook = Workbook::new();
        let lookup = workbook.add_worksheet().set_name("Lookup").unwrap();
        lookup.write_string(0, 0, "Kod").unwrap();
        lookup.set_hidden(true);
        // Excel cannot hide the active sheet, which is the first unless another is chosen.
        let sheet = workbook.add_worksheet().set_name("Personal").unwrap().set_active(true);
        sheet.write_string(0, 0, "Personalförteckning").unwrap();
        for (c, name) in ["Anst.nr", "Förnamn"].iter().enumerate() {
            sheet.write_string(2, c as u16, *name).unwrap();
        }
        for r in 3..6 {
            sheet.write_number(r, 0, f64::from(r)).unwrap();
            sheet.write_string(r, 1, "Åsa").unwrap();
        }
        sheet.write_string(7, 0, "Summa: 3 anställda").unwrap();
        sheet.write_string(8, 0, "Utskriven 2026-12-01").unwrap();
        sheet.write_string(8, 4, "av lönesystemet").unwrap();
        let f = write(&workbook.save_to_buffer().unwrap(), ".xlsx");
        // Without a footer rule, the footer's extra cell makes the file ragged, and the error names the sheet.
        let error = read_all(f.path(), &hints()).map(|_| ()).unwrap_err();
        assert!(error.to_string().starts_with("sheet `Personal`: line 9: "), "{error}");
        let footer = ReadOptions { footer: Some(regex::Regex::new("^(Summa|Utskriven)").unwrap()), ..hints() };
        let (header, rows) = read_all(f.path(), &footer).unwrap();
        assert_eq!((header.line, rows.len()), (3, 3));
        let blank = ReadOptions { end_at_blank_row: true, ..hints() };
        assert_eq!(read_all(f.path(), &blank).unwrap().1.len(), 3);
        let other = ReadOptions { header_hints: vec!["personnummer".to_owned()], ..hints() };
        let error = read_all(f.path(), &other).map(|_| ()).unwrap_err().to_string();
        assert!(error.contains("reading sheet `Personal`") && error.contains("`personnummer`"), "{error}");
    }

    #[test]
    fn a_workbook_named_csv_is_refused() {
        let f = write(&xlsx(false), ".csv");
        let error = read_all(f.path(), &hints()).map(|_| ()).unwrap_err();
        assert!(
            matches!(error, ReadError::WrongExtension { ref extension, actual: "an XLSX workbook" } if extension == "csv")
        );
    }

    /// A minimal ODS: `mimetype` first and stored, a manifest, and one table.
    fn ods() -> Vec<u8> {
        ods_with_rows("", "")
    }

    /// The ODS above with raw rows put before and after its own.
    fn ods_with_rows(before: &str, after: &str) -> Vec<u8> {
        let cell = |kind: &str, attrs: &str, text: &str| {
            format!("<table:table-cell office:value-type=\"{kind}\" {attrs}><text:p>{text}</text:p></table:table-cell>")
        };
        let rows = [
            vec![cell("string", "", "Rapport")],
            vec![cell("string", "", "Anst.nr"), cell("string", "", "Anställningsdatum"), cell("string", "", "Lön")],
            vec![
                cell("string", "", "0007"),
                cell("date", "office:date-value=\"2024-03-01\"", "2024-03-01"),
                cell("float", "office:value=\"32000\"", "32000"),
            ],
        ];
        let rows: String = rows.iter().map(|r| format!("<table:table-row>{}</table:table-row>", r.concat())).collect();
        let rows = format!("{before}{rows}{after}");
        let content = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content \
             xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
             xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
             xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.2\">\
             <office:body><office:spreadsheet><table:table table:name=\"Blad1\">{rows}</table:table>\
             </office:spreadsheet></office:body></office:document-content>"
        );
        let manifest = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><manifest:manifest \
             xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.2\">\
             <manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/>\
             <manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/></manifest:manifest>";
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("mimetype", stored).unwrap();
        zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet").unwrap();
        zip.start_file("META-INF/manifest.xml", zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(manifest.as_bytes()).unwrap();
        zip.start_file("content.xml", zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn ods_is_read() {
        let f = write(&ods(), ".ods");
        let (header, rows) = read_all(f.path(), &hints()).unwrap();
        assert_eq!(header.detected.format, "ods");
        assert_eq!((header.columns.len(), header.line), (3, 2));
        assert_eq!(rows, [(1, 3, ["0007", "2024-03-01", "32000"].map(str::to_owned).to_vec(), vec![])]);
    }

    /// As LibreOffice saves a sheet: blank rows before the data, and after it one empty row
    /// repeated to the sheet's end. Neither counts against the cell budget.
    #[test]
    fn an_ods_as_libreoffice_saves_it_is_read_within_the_cell_budget() {
        let blank = |n: u32| {
            format!(
                "<table:table-row table:number-rows-repeated=\"{n}\"><table:table-cell table:number-columns-repeated=\"1024\"/></table:table-row>"
            )
        };
        let f = write(&ods_with_rows(&blank(2), &blank(1_048_000)), ".ods");
        let options = ReadOptions { max_workbook_cells: 100, ..hints() };
        let (header, rows) = read_all(f.path(), &options).unwrap();
        assert_eq!((header.columns.len(), header.line), (3, 4));
        assert_eq!(rows.len(), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn mutated_workbooks_never_panic_or_leak(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            ods_file in any::<bool>(),
        ) {
            let mut bytes = if ods_file { ods() } else { xlsx(true) };
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            let f = write(&bytes, if ods_file { ".ods" } else { ".xlsx" });
            if let Err(error) = read_all(f.path(), &hints()) {
                let shown = error.to_string();
                prop_assert!(!shown.contains("QZX") && !shown.contains("Åsa") && !shown.contains("0007"), "{}", shown);
            }
        }

        #[test]
        fn random_bytes_named_as_workbooks_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), magic in 0usize..3) {
            let mut bytes = bytes;
            let prefix: &[u8] = [b"PK\x03\x04".as_slice(), OLE_MAGIC, b""][magic];
            bytes.splice(0..0, prefix.iter().copied());
            for suffix in [".xlsx", ".xls", ".ods", ".csv"] {
                let f = write(&bytes, suffix);
                let _ = read_all(f.path(), &hints());
            }
        }
    }
}
