//! Encoding: decides a CSV file's text encoding (BOM, then a sniffed prefix) and builds the byte stream the CSV parser reads.
//!
//! UTF-8 and Windows-1252 are both ASCII-compatible, so their bytes go to the parser untouched and
//! each cell is decoded on its own: that is the fast path, and it lets one bad UTF-8 sequence mark
//! one cell instead of failing the file. UTF-16 is transcoded to UTF-8 while streaming.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, WINDOWS_1252};
use encoding_rs_io::DecodeReaderBytesBuilder;

use super::{EncodingChoice, ReadError};

/// How much of the file is looked at to sniff the encoding and the delimiter.
pub(super) const PREFIX_BYTES: usize = 64 * 1024;

/// How the cells of the parsed stream become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CellText {
    /// The stream is (meant to be) UTF-8: a cell that is not valid UTF-8 is marked, not decoded.
    Utf8,
    /// The stream is raw Windows-1252: every byte decodes, cell by cell.
    Windows1252,
}

/// The file opened as a byte stream for the CSV parser.
pub(super) struct Source {
    /// Bytes for the parser, BOM removed; UTF-16 already transcoded to UTF-8.
    pub reader: Box<dyn Read + Send>,
    /// The name for `Detected::encoding`.
    pub name: &'static str,
    pub cells: CellText,
    /// The start of the stream as the parser will see it (UTF-8 or raw 1252), for delimiter sniffing.
    pub prefix: Vec<u8>,
    /// Whether `prefix` is the whole file.
    pub prefix_is_all: bool,
    /// Raw bytes read from the file so far (shared with the stream), for progress.
    pub bytes_read: Arc<AtomicU64>,
}

/// Opens `path`, reads a prefix and decides the encoding.
pub(super) fn open(path: &Path, choice: EncodingChoice) -> Result<Source, ReadError> {
    let bytes_read = Arc::new(AtomicU64::new(0));
    let mut file = CountingFile { file: File::open(path)?, bytes_read: Arc::clone(&bytes_read) };
    let mut prefix = Vec::with_capacity(PREFIX_BYTES);
    (&mut file).take(PREFIX_BYTES as u64).read_to_end(&mut prefix)?;
    let prefix_is_all = prefix.len() < PREFIX_BYTES;

    let (kind, bom_len) = decide(&prefix, prefix_is_all, choice);
    let body = prefix.split_off(bom_len.min(prefix.len()));
    let (reader, prefix, cells): (Box<dyn Read + Send>, Vec<u8>, CellText) = match kind {
        Kind::Utf8 { .. } | Kind::Windows1252 => {
            let cells = if kind == Kind::Windows1252 { CellText::Windows1252 } else { CellText::Utf8 };
            let sniff = body.clone();
            (Box::new(Cursor::new(body).chain(file)), sniff, cells)
        }
        Kind::Utf16(encoding) => {
            // The decoded prefix is only used for sniffing, so a code unit cut at its end does not matter.
            let (sniff, _) = encoding.decode_without_bom_handling(&body);
            let sniff = sniff.into_owned().into_bytes();
            let reader = DecodeReaderBytesBuilder::new().encoding(Some(encoding)).build(Cursor::new(body).chain(file));
            (Box::new(reader), sniff, CellText::Utf8)
        }
    };
    Ok(Source { reader, name: kind.name(), cells, prefix, prefix_is_all, bytes_read })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Utf8 { bom: bool },
    Utf16(&'static Encoding),
    Windows1252,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Utf8 { bom: false } => "utf-8",
            Kind::Utf8 { bom: true } => "utf-8-bom",
            Kind::Utf16(e) if e == UTF_16BE => "utf-16be",
            Kind::Utf16(_) => "utf-16le",
            Kind::Windows1252 => "windows-1252",
        }
    }
}

/// The encoding and the length of the BOM to skip. An explicit choice wins, but a BOM that
/// matches it is still removed.
fn decide(prefix: &[u8], prefix_is_all: bool, choice: EncodingChoice) -> (Kind, usize) {
    let bom = if prefix.starts_with(&[0xEF, 0xBB, 0xBF]) {
        Some((Kind::Utf8 { bom: true }, 3))
    } else if prefix.starts_with(&[0xFF, 0xFE]) {
        Some((Kind::Utf16(UTF_16LE), 2))
    } else if prefix.starts_with(&[0xFE, 0xFF]) {
        Some((Kind::Utf16(UTF_16BE), 2))
    } else {
        None
    };
    match choice {
        EncodingChoice::Auto => bom.unwrap_or_else(|| {
            if looks_utf8(prefix, prefix_is_all) { (Kind::Utf8 { bom: false }, 0) } else { (Kind::Windows1252, 0) }
        }),
        EncodingChoice::Utf8 => match bom {
            Some((kind @ Kind::Utf8 { .. }, n)) => (kind, n),
            _ => (Kind::Utf8 { bom: false }, 0),
        },
        EncodingChoice::Utf16Le => match bom {
            Some((Kind::Utf16(e), n)) if e == UTF_16LE => (Kind::Utf16(e), n),
            _ => (Kind::Utf16(UTF_16LE), 0),
        },
        EncodingChoice::Utf16Be => match bom {
            Some((Kind::Utf16(e), n)) if e == UTF_16BE => (Kind::Utf16(e), n),
            _ => (Kind::Utf16(UTF_16BE), 0),
        },
        EncodingChoice::Windows1252 => (Kind::Windows1252, 0),
    }
}

/// Valid UTF-8, allowing a multibyte character cut off by the end of the prefix (but not by the
/// end of the file).
fn looks_utf8(prefix: &[u8], prefix_is_all: bool) -> bool {
    match std::str::from_utf8(prefix) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && !prefix_is_all,
    }
}

/// Decodes one cell's bytes; `None` when they are not valid text (UTF-8 only: every byte is a
/// Windows-1252 character). `scratch` holds the decoded text when it cannot be borrowed.
pub(super) fn cell_text<'a>(cells: CellText, bytes: &'a [u8], scratch: &'a mut String) -> Option<&'a str> {
    match cells {
        CellText::Utf8 => std::str::from_utf8(bytes).ok(),
        CellText::Windows1252 => {
            if let Ok(ascii) = std::str::from_utf8(bytes)
                && ascii.is_ascii()
            {
                return Some(ascii);
            }
            scratch.clear();
            let mut decoder = WINDOWS_1252.new_decoder_without_bom_handling();
            scratch.reserve(decoder.max_utf8_buffer_length(bytes.len()).unwrap_or(bytes.len() * 3));
            let _ = decoder.decode_to_string(bytes, scratch, true);
            Some(scratch.as_str())
        }
    }
}

/// The file, counting the raw bytes read for the progress bar.
struct CountingFile {
    file: File,
    bytes_read: Arc<AtomicU64>,
}

impl Read for CountingFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn check(prefix: &[u8], all: bool, choice: EncodingChoice, expected: &str, bom: usize) {
        let (kind, n) = decide(prefix, all, choice);
        assert_eq!((kind.name(), n), (expected, bom), "{prefix:?}");
    }

    #[test]
    fn decides_by_bom_then_content() {
        check(b"\xEF\xBB\xBFa;b", true, EncodingChoice::Auto, "utf-8-bom", 3);
        check(b"\xFF\xFEa\0", true, EncodingChoice::Auto, "utf-16le", 2);
        check(b"\xFE\xFF\0a", true, EncodingChoice::Auto, "utf-16be", 2);
        check("Förnamn".as_bytes(), true, EncodingChoice::Auto, "utf-8", 0);
        check(b"F\xF6rnamn", true, EncodingChoice::Auto, "windows-1252", 0);
        check(b"\xEF\xBB\xBFa;b", true, EncodingChoice::Windows1252, "windows-1252", 0);
        check(b"a;b", true, EncodingChoice::Utf16Le, "utf-16le", 0);
    }

    #[test]
    fn a_character_cut_by_the_prefix_end_is_still_utf8() {
        let cut = &"aö".as_bytes()[..2];
        check(cut, false, EncodingChoice::Auto, "utf-8", 0);
        check(cut, true, EncodingChoice::Auto, "windows-1252", 0);
    }

    #[test]
    fn windows_1252_cells_decode() {
        let mut s = String::new();
        assert_eq!(cell_text(CellText::Windows1252, b"\xC5sa \x80", &mut s), Some("Åsa €"));
        assert_eq!(cell_text(CellText::Utf8, b"\xC5sa", &mut s), None);
    }
}
