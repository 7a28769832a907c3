//! Sniff: decides what a file is before it is read: its format (magic bytes, then extension), a CSV's delimiter, and which row is the header.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use super::{FormatChoice, ReadError, normalise_header};

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
pub(super) const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
/// How many non-empty rows may sit above the header (title rows, notes).
const HEADER_SEARCH_ROWS: u32 = 20;
const ODS_MIMETYPE: &[u8] = b"application/vnd.oasis.opendocument.spreadsheet";

/// The container format of `path`. An explicit choice is trusted (the readers still fail
/// cleanly); `Auto` reads the content. A text file named like a workbook, or a workbook named like
/// text, is refused: that is usually an operator mistake and should be visible, not guessed around.
pub fn format(path: &Path, choice: FormatChoice) -> Result<FormatChoice, ReadError> {
    if choice != FormatChoice::Auto {
        return Ok(choice);
    }
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    let content = content(path)?;
    let wrong = |actual| Err(ReadError::WrongExtension { extension: extension.clone(), actual });
    let text_extension = matches!(extension.as_str(), "csv" | "txt" | "tsv" | "tab");
    let workbook_extension = matches!(extension.as_str(), "xlsx" | "xlsm" | "xls" | "ods");
    match content {
        Content::Text if workbook_extension => wrong("text"),
        Content::Text => Ok(FormatChoice::Csv),
        Content::Encrypted => Err(ReadError::Encrypted),
        // A workbook named as another workbook format is read by its content: spreadsheet
        // programs do the same, and some exporters name XLSX files `.xls`.
        Content::Workbook(format) if text_extension => wrong(actual_name(format)),
        Content::Workbook(format) => Ok(format),
        Content::OtherZip if text_extension => wrong("a zip archive"),
        // A damaged zip keeps the format its name claims, so the workbook reader reports the damage.
        Content::OtherZip if extension == "ods" => Ok(FormatChoice::Ods),
        Content::OtherZip => Ok(FormatChoice::Xlsx),
    }
}

fn actual_name(format: FormatChoice) -> &'static str {
    match format {
        FormatChoice::Xlsx => "an XLSX workbook",
        FormatChoice::Xls => "an XLS workbook",
        FormatChoice::Ods => "an ODS workbook",
        FormatChoice::Csv | FormatChoice::Auto => "text",
    }
}

enum Content {
    Text,
    Workbook(FormatChoice),
    Encrypted,
    /// A zip container that is damaged or holds no workbook part.
    OtherZip,
}

fn content(path: &Path) -> Result<Content, ReadError> {
    let mut magic = Vec::with_capacity(8);
    File::open(path)?.take(8).read_to_end(&mut magic)?;
    if magic.is_empty() {
        // Empty, whatever its name says.
        return Err(ReadError::Empty);
    }
    if magic.starts_with(ZIP_MAGIC) {
        return Ok(zip_content(path));
    }
    if magic.starts_with(OLE_MAGIC) {
        return Ok(if ole_is_encrypted(File::open(path)?)? {
            Content::Encrypted
        } else {
            Content::Workbook(FormatChoice::Xls)
        });
    }
    Ok(Content::Text)
}

fn zip_content(path: &Path) -> Content {
    let Ok(file) = File::open(path) else {
        return Content::OtherZip;
    };
    let Ok(mut archive) = zip::ZipArchive::new(BufReader::new(file)) else {
        return Content::OtherZip;
    };
    if archive.index_for_name("xl/workbook.xml").is_some() {
        return Content::Workbook(FormatChoice::Xlsx);
    }
    if archive.index_for_name("content.xml").is_some() {
        return Content::Workbook(FormatChoice::Ods);
    }
    if let Ok(mut mimetype) = archive.by_name("mimetype") {
        let mut value = Vec::new();
        if (&mut mimetype).take(ODS_MIMETYPE.len() as u64).read_to_end(&mut value).is_ok() && value == ODS_MIMETYPE {
            return Content::Workbook(FormatChoice::Ods);
        }
    }
    Content::OtherZip
}

/// Whether an OLE compound file holds an `EncryptionInfo` stream, which is how Office stores a
/// password-protected XLSX. A byte search for the UTF-16LE stream name is enough: directory
/// entries store names that way, and a false hit only turns an odd XLS into a clear refusal.
pub(super) fn ole_is_encrypted(file: impl Read) -> io::Result<bool> {
    let needle: Vec<u8> = "EncryptionInfo".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut file = BufReader::new(file);
    let mut window: Vec<u8> = Vec::with_capacity(64 * 1024 + needle.len());
    let mut chunk = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            return Ok(false);
        }
        window.extend_from_slice(&chunk[..n]);
        if window.windows(needle.len()).any(|w| w == needle.as_slice()) {
            return Ok(true);
        }
        // Keep a needle's length of tail so a name split across reads is still found.
        let keep = window.len().min(needle.len() - 1);
        window.drain(..window.len() - keep);
    }
}

/// Picks the delimiter among `;`, tab and `,` from the first lines of `prefix`: the one whose
/// count (outside quotes) is the same, and above zero, on the most lines. A title row above the
/// header has no delimiter and does not vote. Ties go to more columns, then to `;`, tab, `,`
/// (a `;` file often has decimal commas; the reverse is rare).
pub(super) fn delimiter(prefix: &[u8], prefix_is_all: bool) -> u8 {
    let mut best = (0usize, 0usize, b',');
    for candidate in [b';', b'\t', b','] {
        let counts = counts_per_line(prefix, prefix_is_all, candidate);
        let mut tally: HashMap<usize, usize> = HashMap::new();
        for &c in counts.iter().filter(|&&c| c > 0) {
            *tally.entry(c).or_default() += 1;
        }
        // The most frequent count, ties to the larger count.
        if let Some((count, lines)) = tally.into_iter().max_by_key(|&(count, lines)| (lines, count))
            && (lines, count) > (best.0, best.1)
        {
            best = (lines, count, candidate);
        }
    }
    best.2
}

/// Occurrences of `delimiter` outside quotes on each of the first non-blank lines. The last
/// line is dropped when the prefix cuts it.
fn counts_per_line(prefix: &[u8], prefix_is_all: bool, delimiter: u8) -> Vec<usize> {
    const LINES: usize = 30;
    let mut counts = Vec::new();
    let (mut in_quotes, mut count, mut blank) = (false, 0, true);
    for &b in prefix {
        match b {
            b'"' => {
                in_quotes = !in_quotes;
                blank = false;
            }
            b'\n' | b'\r' if !in_quotes => {
                if !blank {
                    counts.push(count);
                    if counts.len() == LINES {
                        return counts;
                    }
                }
                (count, blank) = (0, true);
            }
            _ if in_quotes => {}
            _ if b == delimiter => {
                count += 1;
                blank = false;
            }
            b' ' | b'\t' => {}
            _ => blank = false,
        }
    }
    // A cut last line is counted only if it is the only one: a header wider than the prefix
    // still shows its delimiter.
    if (prefix_is_all || counts.is_empty()) && !blank {
        counts.push(count);
    }
    counts
}

/// Finds the header row among the rows fed to it, the same way for CSV and workbooks.
pub(super) struct HeaderSearch<'a> {
    header_row: Option<u32>,
    hints: &'a [String],
    non_empty_seen: u32,
    /// Non-empty cells of the first few non-blank rows, for the error if none is the header.
    widths: Vec<usize>,
}

/// How many rows' widths a failed header search reports.
const WIDTHS_REPORTED: usize = 5;

/// What to do with a row offered to [`HeaderSearch::offer`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Header,
    Skip,
}

impl<'a> HeaderSearch<'a> {
    pub(super) fn new(header_row: Option<u32>, hints: &'a [String]) -> Self {
        HeaderSearch { header_row, hints, non_empty_seen: 0, widths: Vec::new() }
    }

    /// Offers the row at 1-based physical `line` whose cells are `cells` (already decoded;
    /// `None` for a cell that is not valid text).
    pub(super) fn offer<'c>(
        &mut self,
        line: u64,
        cells: impl Iterator<Item = Option<&'c str>> + Clone,
    ) -> Result<Verdict, ReadError> {
        let blank = cells.clone().all(|c| c.is_some_and(|c| c.trim().is_empty()));
        if !blank {
            self.non_empty_seen += 1;
            if self.widths.len() < WIDTHS_REPORTED {
                self.widths.push(cells.clone().filter(|c| c.is_none_or(|c| !c.trim().is_empty())).count());
            }
        }
        if let Some(wanted) = self.header_row {
            return match line.cmp(&u64::from(wanted)) {
                std::cmp::Ordering::Less => Ok(Verdict::Skip),
                std::cmp::Ordering::Equal => Ok(Verdict::Header),
                std::cmp::Ordering::Greater => Err(self.no_header()),
            };
        }
        if blank {
            return Ok(Verdict::Skip);
        }
        if self.non_empty_seen > HEADER_SEARCH_ROWS {
            return Err(self.no_header());
        }
        let hinted = self.hints.is_empty()
            || cells.flatten().any(|c| {
                let name = normalise_header(c);
                self.hints.iter().any(|h| normalise_header(h) == name)
            });
        Ok(if hinted { Verdict::Header } else { Verdict::Skip })
    }

    /// The error for a file that ended before a header was found.
    pub(super) fn at_end(&self) -> ReadError {
        if self.non_empty_seen == 0 { ReadError::Empty } else { self.no_header() }
    }

    /// Names what was looked for and what the first rows looked like: names and counts, no cell.
    fn no_header(&self) -> ReadError {
        let within = match self.header_row {
            Some(n) => format!("at row {n} (`header_row`)"),
            None => format!("in the first {HEADER_SEARCH_ROWS} non-blank rows"),
        };
        let names: Vec<String> = self.hints.iter().map(|h| format!("`{h}`")).collect();
        let looked_for = match names.as_slice() {
            [] => "any column".to_owned(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
        };
        let widths = if self.widths.is_empty() {
            "no".to_owned()
        } else {
            self.widths.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
        };
        ReadError::NoHeader { within, looked_for, read_as: String::new(), widths }
    }
}

/// The header's column names: trimmed, BOM removed, trailing unnamed columns dropped (a trailing
/// delimiter on every line is common), and no name twice.
pub(super) fn header_columns<'c>(cells: impl Iterator<Item = &'c str>) -> Result<Vec<String>, ReadError> {
    let mut columns: Vec<String> = cells.map(|c| c.trim_start_matches('\u{feff}').trim().to_owned()).collect();
    while columns.last().is_some_and(String::is_empty) {
        columns.pop();
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, name) in columns.iter().enumerate() {
        let key = normalise_header(name);
        if key.is_empty() {
            continue;
        }
        if let Some(&first) = seen.get(&key) {
            return Err(ReadError::DuplicateHeader { column: name.clone(), first: first + 1, second: i + 1 });
        }
        seen.insert(key, i);
    }
    Ok(columns)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn check_delimiter(text: &str, expected: u8) {
        assert_eq!(delimiter(text.as_bytes(), true) as char, expected as char, "{text:?}");
    }

    #[test]
    fn sniffs_the_delimiter() {
        check_delimiter("a;b;c\n1;2,5;3\n4;5;6\n", b';');
        check_delimiter("a,b,c\n1,2,3\n", b',');
        check_delimiter("a\tb\tc\n1\t2, 3\t4\n", b'\t');
        check_delimiter("Personalexport 2026-11-01\nAnst.nr;Namn\n1;\"x;y;z\"\n", b';');
        check_delimiter("one column\nvalue\n", b',');
        check_delimiter("\"a,b\";c;d\n1;2;3\n", b';');
    }

    #[test]
    fn header_search_skips_a_title_row() {
        let hints = vec!["anst.nr".to_owned()];
        let mut search = HeaderSearch::new(None, &hints);
        assert_eq!(search.offer(1, [Some("Personalexport")].into_iter()).ok(), Some(Verdict::Skip));
        assert_eq!(search.offer(2, [Some(" "), Some("")].into_iter()).ok(), Some(Verdict::Skip));
        assert_eq!(search.offer(3, [Some("ANST.NR "), Some("Namn")].into_iter()).ok(), Some(Verdict::Header));
    }

    #[test]
    fn duplicate_header_names_are_refused() {
        let err = header_columns(["Namn", "x", " namn "].into_iter());
        assert!(matches!(err, Err(ReadError::DuplicateHeader { first: 1, second: 3, .. })), "{err:?}");
        assert_eq!(
            header_columns(["\u{feff}a", "", "b", "", ""].into_iter()).ok(),
            Some(vec!["a".to_owned(), String::new(), "b".to_owned()])
        );
    }
}
