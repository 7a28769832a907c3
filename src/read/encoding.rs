//! Encoding: decides a CSV file's text encoding (BOM, then a sniffed prefix) and builds the byte stream the CSV parser reads.
//!
//! The parser always reads UTF-8. UTF-8 bytes go to it untouched, and each record is checked as
//! text on its own, so one bad UTF-8 sequence marks one cell instead of failing the file.
//! Windows-1252 (where every byte is a character) and UTF-16 are transcoded to UTF-8 while
//! streaming, which for 1252 is much faster than decoding cell by cell: nearly every Swedish row
//! holds a non-ASCII letter.

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

/// The file opened as a byte stream for the CSV parser.
pub(super) struct Source {
    /// Bytes for the parser, BOM removed, as UTF-8 (meant to be: a UTF-8 file may hold bad bytes).
    pub reader: Box<dyn Read + Send>,
    /// The name for `Detected::encoding`.
    pub name: &'static str,
    /// The start of the stream as the parser will see it, for delimiter sniffing.
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
    let (reader, prefix): (Box<dyn Read + Send>, Vec<u8>) = match kind.transcoded_from() {
        None => {
            let sniff = body.clone();
            (Box::new(Cursor::new(body).chain(file)), sniff)
        }
        Some(encoding) => {
            // The decoded prefix is only used for sniffing, so a code unit cut at its end does not matter.
            let (sniff, _) = encoding.decode_without_bom_handling(&body);
            let sniff = sniff.into_owned().into_bytes();
            // The BOM (if any) is decided and removed above; a 1252 file chosen by the mapping
            // reads its first bytes as 1252 even if they look like a BOM.
            let reader = DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .bom_sniffing(false)
                .build(Cursor::new(body).chain(file));
            (Box::new(reader), sniff)
        }
    };
    Ok(Source { reader, name: kind.name(), prefix, prefix_is_all, bytes_read })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Utf8 { bom: bool },
    Utf16(&'static Encoding),
    Windows1252,
}

impl Kind {
    /// The encoding the stream is transcoded from; `None`: read as UTF-8 as it is.
    fn transcoded_from(self) -> Option<&'static Encoding> {
        match self {
            Kind::Utf8 { .. } => None,
            Kind::Utf16(e) => Some(e),
            Kind::Windows1252 => Some(WINDOWS_1252),
        }
    }

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

/// One cell's bytes as text; `None` when they are not valid UTF-8.
pub(super) fn cell_text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
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
    fn windows_1252_streams_decode() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"\xC5sa;\x80\x81\r\n").unwrap();
        let mut source = open(f.path(), EncodingChoice::Auto).unwrap();
        assert_eq!(source.name, "windows-1252");
        let mut text = String::new();
        source.reader.read_to_string(&mut text).unwrap();
        // Every byte is a character, those WHATWG leaves undefined included (as C1 controls).
        assert_eq!(text, "Åsa;€\u{81}\r\n");
        assert!(cell_text(b"\xC5sa").is_none());
    }
}
