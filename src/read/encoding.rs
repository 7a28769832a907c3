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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, WINDOWS_1252};
use encoding_rs_io::DecodeReaderBytesBuilder;
use sha2::{Digest, Sha256};

use super::{EncodingChoice, ReadError};

/// How much of the file is looked at to sniff the encoding and the delimiter.
pub(super) const PREFIX_BYTES: usize = 64 * 1024;

/// Blank lines before the header beyond this fail the file: no export starts so, and they would
/// all be held to find the text to sniff.
const MAX_LEADING_BLANK_BYTES: usize = 16 * 1024 * 1024;

/// The length of the blank lines (and a UTF-8 BOM) that start `bytes`.
fn leading_blank(bytes: &[u8]) -> usize {
    let bom = if bytes.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    bom + bytes[bom..].iter().position(|b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t')).unwrap_or(bytes.len() - bom)
}

/// The file opened as a byte stream for the CSV parser.
pub(super) struct Source {
    /// Bytes for the parser, BOM removed, as UTF-8 (meant to be: a UTF-8 file may hold bad bytes).
    pub reader: Box<dyn Read + Send>,
    /// The name for `Detected::encoding`, as decided at open.
    pub name: &'static str,
    /// Set if the stream decides its encoding only later, at its first non-ASCII byte (see
    /// `FirstNonAscii`); its name then replaces `name`.
    pub decided_later: Arc<OnceLock<&'static str>>,
    /// The start of the stream as the parser will see it, for delimiter sniffing.
    pub prefix: Vec<u8>,
    /// Whether `prefix` is the whole file.
    pub prefix_is_all: bool,
    /// Raw bytes read from the file so far (shared with the stream), for progress.
    pub bytes_read: Arc<AtomicU64>,
    /// The SHA-256 of the bytes read, hex, set once the stream reaches the end of the file:
    /// the hash of exactly what was parsed.
    pub sha256: Arc<OnceLock<String>>,
}

/// Opens `path`, reads a prefix and decides the encoding.
pub(super) fn open(path: &Path, choice: EncodingChoice) -> Result<Source, ReadError> {
    let bytes_read = Arc::new(AtomicU64::new(0));
    let sha256 = Arc::new(OnceLock::new());
    let mut file = CountingFile {
        file: File::open(path)?,
        bytes_read: Arc::clone(&bytes_read),
        hasher: Some(Sha256::new()),
        sha256: Arc::clone(&sha256),
    };
    let mut prefix = Vec::with_capacity(PREFIX_BYTES);
    (&mut file).take(PREFIX_BYTES as u64).read_to_end(&mut prefix)?;
    // Blank lines before the header are skipped, so they must not fill the prefix that the
    // encoding and delimiter are sniffed from: read on until it holds text.
    let mut prefix_is_all = prefix.len() < PREFIX_BYTES;
    while !prefix_is_all {
        let blank = leading_blank(&prefix);
        let text = prefix.len() - blank;
        if text >= PREFIX_BYTES {
            break;
        }
        if blank > MAX_LEADING_BLANK_BYTES {
            return Err(ReadError::LeadingBlank { limit: MAX_LEADING_BLANK_BYTES });
        }
        let want = (PREFIX_BYTES - text) as u64;
        prefix_is_all = (&mut file).take(want).read_to_end(&mut prefix)? < want as usize;
    }

    check_declared(&prefix, prefix_is_all, choice)?;
    let (kind, bom_len) = decide(&prefix, prefix_is_all, choice);
    let body = prefix.split_off(bom_len.min(prefix.len()));
    let decided_later = Arc::new(OnceLock::new());
    let sniff = match kind.transcoded_from() {
        // The decoded prefix is only used for sniffing, so a code unit cut at its end does not matter.
        Some(encoding) => encoding.decode_without_bom_handling(&body).0.into_owned().into_bytes(),
        None => body.clone(),
    };
    let stream: Box<dyn Read + Send> = Box::new(Cursor::new(body).chain(file));
    let reader = match kind {
        Kind::AsciiSoFar => Box::new(FirstNonAscii {
            inner: Some(stream),
            held: Vec::new(),
            at: 0,
            decided: None,
            name: Arc::clone(&decided_later),
            lines: 0,
        }),
        _ => transcoded(kind.transcoded_from(), stream),
    };
    Ok(Source { reader, name: kind.name(), decided_later, prefix: sniff, prefix_is_all, bytes_read, sha256 })
}

/// The stream as UTF-8: as it is, or transcoded from `from`.
fn transcoded(from: Option<&'static Encoding>, stream: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
    match from {
        None => stream,
        // The BOM (if any) is decided and removed before; a 1252 file chosen by the mapping
        // reads its first bytes as 1252 even if they look like a BOM.
        Some(encoding) => {
            Box::new(DecodeReaderBytesBuilder::new().encoding(Some(encoding)).bom_sniffing(false).build(stream))
        }
    }
}

/// A file whose first 64 KiB are ASCII, which UTF-8 and Windows-1252 read alike: its first
/// non-ASCII byte decides. A valid UTF-8 character there makes the file UTF-8; anything else (a
/// lone 0xF6, `ö` in 1252) makes it Windows-1252 from there on. All before it was ASCII, which
/// both read the same, so nothing already passed on is read differently.
struct FirstNonAscii {
    inner: Option<Box<dyn Read + Send>>,
    /// Bytes read ahead while undecided; those before `at` are passed on.
    held: Vec<u8>,
    at: usize,
    decided: Option<Box<dyn Read + Send>>,
    name: Arc<OnceLock<&'static str>>,
    /// Line feeds passed on, so the decision can say on which line it was made.
    lines: u64,
}

impl FirstNonAscii {
    /// Reads more into `held`; `false` at the end of the file.
    fn fill(&mut self) -> io::Result<bool> {
        let Some(inner) = self.inner.as_mut() else { return Ok(false) };
        let start = self.held.len();
        self.held.resize(start + 64 * 1024, 0);
        let n = inner.read(&mut self.held[start..])?;
        self.held.truncate(start + n);
        Ok(n > 0)
    }
}

impl Read for FirstNonAscii {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(decided) = &mut self.decided {
                return decided.read(buf);
            }
            if self.at == self.held.len() {
                self.held.clear();
                self.at = 0;
                if !self.fill()? {
                    return Ok(0);
                }
            }
            let rest = &self.held[self.at..];
            let ascii = rest.iter().position(|b| !b.is_ascii()).unwrap_or(rest.len());
            if ascii > 0 {
                let n = ascii.min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                self.lines += memchr::memchr_iter(b'\n', &rest[..n]).count() as u64;
                self.at += n;
                return Ok(n);
            }
            // The first non-ASCII byte: with up to four bytes in view, is a UTF-8 character here?
            while self.held.len() - self.at < 4 && self.fill()? {}
            let view = &self.held[self.at..self.held.len().min(self.at + 4)];
            let utf8 = match std::str::from_utf8(view) {
                Ok(_) => true,
                Err(e) => e.valid_up_to() > 0,
            };
            let kind = if utf8 { Kind::Utf8 { bom: false } } else { Kind::Windows1252 };
            let _ = self.name.set(kind.name());
            let held = std::mem::take(&mut self.held).split_off(self.at);
            let mut stream: Box<dyn Read + Send> = match self.inner.take() {
                Some(inner) => Box::new(Cursor::new(held).chain(inner)),
                None => Box::new(Cursor::new(held)),
            };
            if kind == Kind::Windows1252 {
                let line = self.lines + 1;
                stream = Box::new(NoUtf8After { inner: stream, switched_at: line, lines: line, carry: Vec::new() });
            }
            self.decided = Some(transcoded(kind.transcoded_from(), stream));
        }
    }
}

/// A file read as Windows-1252 from a late byte that is not UTF-8 must not hold UTF-8 text
/// after it: a UTF-8 export with one stray byte would otherwise have every later `ä` stored as
/// `Ã¤`. Such a file mixes encodings, and is refused where the UTF-8 shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {utf8_at}: valid UTF-8 text after line {switched_at} was read as Windows-1252")]
pub(super) struct MixedEncoding {
    pub switched_at: u64,
    pub utf8_at: u64,
}

struct NoUtf8After {
    inner: Box<dyn Read + Send>,
    switched_at: u64,
    /// The line of the next byte passed on.
    lines: u64,
    /// The start of a character cut by the end of the last read.
    carry: Vec<u8>,
}

/// At a byte ≥ 0x80: `Some(true)` if a UTF-8 character that text plausibly holds starts here
/// (a Latin letter with a mark, U+00C0–U+017F, as in `ä` or `é`; or general punctuation,
/// U+2000–U+203F, as in `’` or `–`), `None` if `bytes` end before it could tell, else `Some(false)`.
/// Other two-byte forms are left alone: Windows-1252 text makes them too (`É` then a no-break
/// space is C9 A0, valid UTF-8 for `ɠ`), while its `Ã¤` or `â€™` are mojibake already.
fn utf8_char_at(bytes: &[u8]) -> Option<bool> {
    let needed = match bytes[0] {
        0xC3..=0xC5 => 2,
        0xE2 => 3,
        _ => return Some(false),
    };
    if bytes.len() < needed {
        let continues = bytes[1..].iter().all(|b| (0x80..=0xBF).contains(b));
        let punctuation = bytes.get(1).is_none_or(|b| *b == 0x80);
        return if continues && (needed == 2 || punctuation) { None } else { Some(false) };
    }
    let c = std::str::from_utf8(&bytes[..needed]).ok().and_then(|s| s.chars().next());
    Some(c.is_some_and(|c| ('\u{00C0}'..='\u{017F}').contains(&c) || ('\u{2000}'..='\u{203F}').contains(&c)))
}

impl Read for NoUtf8After {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // The bytes pass on as they are; only a character cut at the end is kept, to be looked at
        // whole with the next read (it is a lead byte and continuation bytes: no line feed).
        let mut view = std::mem::take(&mut self.carry);
        view.extend_from_slice(&buf[..n]);
        let mut i = 0;
        while let Some(at) = view[i..].iter().position(|b| *b >= 0x80 || *b == b'\n') {
            let at = i + at;
            i = at + 1;
            if view[at] == b'\n' {
                self.lines += 1;
                continue;
            }
            match utf8_char_at(&view[at..]) {
                Some(true) => {
                    let found = MixedEncoding { switched_at: self.switched_at, utf8_at: self.lines };
                    return Err(io::Error::new(io::ErrorKind::InvalidData, found));
                }
                None if n > 0 => {
                    self.carry = view[at..].to_vec();
                    break;
                }
                _ => {}
            }
        }
        Ok(n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Utf8 {
        bom: bool,
    },
    Utf16(&'static Encoding),
    Windows1252,
    /// Only ASCII so far: decided at the first non-ASCII byte (`FirstNonAscii`).
    AsciiSoFar,
}

impl Kind {
    /// The encoding the stream is transcoded from; `None`: read as UTF-8 as it is.
    fn transcoded_from(self) -> Option<&'static Encoding> {
        match self {
            Kind::Utf8 { .. } | Kind::AsciiSoFar => None,
            Kind::Utf16(e) => Some(e),
            Kind::Windows1252 => Some(WINDOWS_1252),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Utf8 { bom: false } | Kind::AsciiSoFar => "utf-8",
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
            if prefix.is_ascii() && !prefix_is_all {
                (Kind::AsciiSoFar, 0)
            } else if looks_utf8(prefix, prefix_is_all) {
                (Kind::Utf8 { bom: false }, 0)
            } else {
                (Kind::Windows1252, 0)
            }
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

/// Refuses a declared encoding that the file's first bytes plainly contradict: read on, a UTF-8
/// file declared Windows-1252 would store `Ã…sa` for `Åsa`, and a UTF-8 file declared UTF-16
/// would fail with no header found. Only telltale cases count, so a file with a stray bad byte
/// is still read (that cell is rejected with `encoding`).
fn check_declared(prefix: &[u8], prefix_is_all: bool, choice: EncodingChoice) -> Result<(), ReadError> {
    let utf16 = utf16_by_bytes(prefix);
    let (declared, likely, evidence) = match choice {
        EncodingChoice::Auto => return Ok(()),
        EncodingChoice::Windows1252 => match (utf16, prefix) {
            (Some((name, why)), _) => ("windows-1252", name, why),
            (None, [0xEF, 0xBB, 0xBF, ..]) => ("windows-1252", "utf-8", "a UTF-8 byte order mark"),
            _ if !prefix.is_ascii() && looks_utf8(prefix, prefix_is_all) => (
                "windows-1252",
                "utf-8",
                "its letters outside ASCII are UTF-8 multi-byte sequences (read as Windows-1252, `Å` becomes `Ã…`)",
            ),
            _ => return Ok(()),
        },
        EncodingChoice::Utf8 => match utf16 {
            Some((name, why)) => ("utf-8", name, why),
            None if !prefix.starts_with(&[0xEF, 0xBB, 0xBF]) && no_utf8_sequences(prefix) => {
                ("utf-8", "windows-1252", "its bytes outside ASCII are never valid UTF-8, as single-byte text's are")
            }
            None => return Ok(()),
        },
        EncodingChoice::Utf16Le | EncodingChoice::Utf16Be => {
            let declared = if choice == EncodingChoice::Utf16Le { "utf-16le" } else { "utf-16be" };
            match utf16 {
                Some((name, _)) if name == declared => return Ok(()),
                Some((name, why)) => (declared, name, why),
                None if prefix.starts_with(&[0xEF, 0xBB, 0xBF]) || looks_utf8(prefix, prefix_is_all) => {
                    (declared, "utf-8", "no NUL bytes, which UTF-16 text of Latin letters has in every other byte")
                }
                None => (
                    declared,
                    "windows-1252",
                    "no NUL bytes, which UTF-16 text of Latin letters has in every other byte",
                ),
            }
        }
    };
    Err(ReadError::WrongEncoding { declared, likely, evidence })
}

/// UTF-16 told by its BOM, or by NUL bytes in most even (big-endian) or odd (little-endian)
/// positions of the first few KiB: what UTF-16 text of Latin letters looks like.
fn utf16_by_bytes(prefix: &[u8]) -> Option<(&'static str, &'static str)> {
    if prefix.starts_with(&[0xFF, 0xFE]) {
        return Some(("utf-16le", "a UTF-16LE byte order mark"));
    }
    if prefix.starts_with(&[0xFE, 0xFF]) {
        return Some(("utf-16be", "a UTF-16BE byte order mark"));
    }
    let head = &prefix[..prefix.len().min(4096)];
    let pairs = head.len() / 2;
    if pairs < 2 {
        return None;
    }
    let nul_at = |parity: usize| head.chunks_exact(2).filter(|p| p[parity] == 0).count();
    let (even, odd) = (nul_at(0), nul_at(1));
    if odd * 2 > pairs && even * 8 < pairs {
        Some(("utf-16le", "NUL bytes in every other byte, as UTF-16LE text has"))
    } else if even * 2 > pairs && odd * 8 < pairs {
        Some(("utf-16be", "NUL bytes in every other byte, as UTF-16BE text has"))
    } else {
        None
    }
}

/// Bad sequences it takes to call a file declared UTF-8 single-byte text: one or two are a
/// UTF-8 file's stray bytes, which reject only their cells.
const BAD_SEQUENCES_TO_REFUSE: usize = 3;

/// Whether the prefix holds several bytes outside ASCII and not one valid UTF-8 multi-byte
/// sequence among them: single-byte text, not UTF-8 with a stray bad byte.
fn no_utf8_sequences(prefix: &[u8]) -> bool {
    let mut rest = prefix;
    let mut bad = 0usize;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => return bad >= BAD_SEQUENCES_TO_REFUSE && valid.is_ascii(),
            Err(e) => {
                if !rest[..e.valid_up_to()].is_ascii() {
                    return false;
                }
                // A sequence cut by the end of the prefix is no evidence either way.
                let Some(len) = e.error_len() else { return bad >= BAD_SEQUENCES_TO_REFUSE };
                bad += 1;
                rest = &rest[e.valid_up_to() + len..];
            }
        }
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

/// One cell's bytes as text (the one definition, for headers and `Record::text` alike);
/// `None` when they are not valid UTF-8.
pub(super) fn cell_text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// The file, counting the raw bytes read for the progress bar.
/// The file's bytes, each read once and in order, so that they are counted and hashed as the
/// parser takes them.
struct CountingFile {
    file: File,
    bytes_read: Arc<AtomicU64>,
    hasher: Option<Sha256>,
    sha256: Arc<OnceLock<String>>,
}

impl Read for CountingFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The end, once met, stays the end: bytes appended later were not hashed, so they are
        // not parsed either (the prefix read can meet the end before the stream reads on).
        if self.hasher.is_none() {
            return Ok(0);
        }
        let n = self.file.read(buf)?;
        self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        if n > 0 {
            if let Some(h) = self.hasher.as_mut() {
                h.update(&buf[..n]);
            }
        } else if !buf.is_empty()
            && let Some(h) = self.hasher.take()
        {
            let _ = self.sha256.set(hex::encode(h.finalize()));
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Issue 14, damage 5: a declared encoding the bytes plainly contradict is refused, naming both.
    #[test]
    fn a_declared_encoding_the_bytes_contradict_is_refused() {
        let utf8 = "Anst.nr;Förnamn\n1;Åsa\n".as_bytes();
        let cp1252 = b"Anst.nr;F\xF6rnamn;Efternamn\n1;\xC5sa;\xD6berg\n";
        let utf16: Vec<u8> = "Anst.nr;Förnamn\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let refused = |prefix: &[u8], choice| match check_declared(prefix, true, choice) {
            Err(ReadError::WrongEncoding { declared, likely, .. }) => Some((declared, likely)),
            _ => None,
        };
        assert_eq!(refused(utf8, EncodingChoice::Windows1252), Some(("windows-1252", "utf-8")));
        assert_eq!(refused(utf8, EncodingChoice::Utf16Le), Some(("utf-16le", "utf-8")));
        assert_eq!(refused(cp1252, EncodingChoice::Utf8), Some(("utf-8", "windows-1252")));
        assert_eq!(refused(cp1252, EncodingChoice::Utf16Be), Some(("utf-16be", "windows-1252")));
        assert_eq!(refused(&utf16, EncodingChoice::Utf8), Some(("utf-8", "utf-16le")));
        assert_eq!(refused(&utf16, EncodingChoice::Utf16Be), Some(("utf-16be", "utf-16le")));
        assert_eq!(refused(&utf16, EncodingChoice::Windows1252), Some(("windows-1252", "utf-16le")));
        // What each file is, and plain ASCII, and UTF-8 with one stray bad byte, are read.
        assert_eq!(refused(utf8, EncodingChoice::Utf8), None);
        assert_eq!(refused(cp1252, EncodingChoice::Windows1252), None);
        assert_eq!(refused(&utf16, EncodingChoice::Utf16Le), None);
        assert_eq!(refused(b"Anst.nr;Name\n1;Asa\n", EncodingChoice::Windows1252), None);
        let mixed = ["Förnamn;".as_bytes(), b"\xFF;", "Åsa".as_bytes()].concat();
        assert_eq!(refused(&mixed, EncodingChoice::Utf8), None);
        let stray: Vec<u8> = [utf8, b"\xFF\n"].concat();
        assert_eq!(refused(&stray, EncodingChoice::Utf8), None);
        let ascii_and_stray = b"Anst.nr;Name\n1;Asa\xFF\n2;Bo\n";
        assert_eq!(refused(ascii_and_stray, EncodingChoice::Utf8), None, "one stray byte in ASCII text");
    }

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
        check(b"a\0;\0b\0", true, EncodingChoice::Utf16Le, "utf-16le", 0);
    }

    /// Issue 15, case 10: a Windows-1252 file decided late holds byte pairs that are also valid
    /// UTF-8 (`É` then a no-break space, `ß` then `–`), and is still read as 1252; UTF-8 letters
    /// after the switch refuse it.
    #[test]
    fn a_late_1252_file_is_refused_only_for_plausible_utf8() {
        let read = |tail: &[u8]| {
            let mut bytes = vec![b'x'; PREFIX_BYTES + 10];
            bytes.extend_from_slice(tail);
            let f = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(f.path(), &bytes).unwrap();
            let mut got = Vec::new();
            open(f.path(), EncodingChoice::Auto).unwrap().reader.read_to_end(&mut got).map(|_| got)
        };
        let text = read(b"\ncaf\xE9;JOS\xC9\xA0;Wei\xDF\x96\n").unwrap();
        assert!(String::from_utf8(text).unwrap().ends_with("\ncafé;JOSÉ\u{A0};Weiß–\n"));
        let err = read(&[b"\n\xE9\n".as_slice(), "Pär\n".as_bytes()].concat()).unwrap_err();
        let mixed = err.get_ref().and_then(|e| e.downcast_ref::<MixedEncoding>()).copied();
        assert_eq!(mixed, Some(MixedEncoding { switched_at: 2, utf8_at: 3 }));
        let err = read(&[b"\n\xE9 ".as_slice(), "it\u{2019}s\n".as_bytes()].concat()).unwrap_err();
        assert!(err.get_ref().is_some_and(|e| e.is::<MixedEncoding>()));
    }

    #[test]
    fn a_character_cut_by_the_prefix_end_is_still_utf8() {
        let cut = &"aö".as_bytes()[..2];
        check(cut, false, EncodingChoice::Auto, "utf-8", 0);
        check(cut, true, EncodingChoice::Auto, "windows-1252", 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever follows 64 KiB of ASCII, and wherever the reads cut it, the stream is the
        /// file as UTF-8 when its first non-ASCII bytes are a UTF-8 character, else as 1252.
        #[test]
        fn any_tail_after_an_ascii_prefix_streams_as_its_first_character_says(
            pad in 0usize..8,
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let mut bytes = vec![b'x'; 2 * PREFIX_BYTES - 4 + pad];
            bytes.extend_from_slice(&tail);
            let f = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(f.path(), &bytes).unwrap();
            let mut source = open(f.path(), EncodingChoice::Auto).unwrap();
            let mut got = Vec::new();
            let read = source.reader.read_to_end(&mut got);
            let first = tail.iter().position(|b| !b.is_ascii());
            let utf8 = first.is_some_and(|i| match std::str::from_utf8(&tail[i..tail.len().min(i + 4)]) {
                Ok(_) => true,
                Err(e) => e.valid_up_to() > 0,
            });
            // Read as 1252 from a late byte, a UTF-8 character after it is refused (`NoUtf8After`).
            let mixed = !utf8
                && first.is_some_and(|i| (i..tail.len()).any(|j| tail[j] >= 0x80 && utf8_char_at(&tail[j..]) == Some(true)));
            if mixed {
                let e = read.unwrap_err();
                proptest::prop_assert!(e.get_ref().is_some_and(|i| i.is::<MixedEncoding>()), "{e}");
                return Ok(());
            }
            read.unwrap();
            let want = if first.is_none() || utf8 {
                bytes.clone()
            } else {
                WINDOWS_1252.decode_without_bom_handling(&bytes).0.into_owned().into_bytes()
            };
            proptest::prop_assert_eq!(got, want);
            let name = match first {
                None => None,
                Some(_) if utf8 => Some("utf-8"),
                Some(_) => Some("windows-1252"),
            };
            proptest::prop_assert_eq!(source.decided_later.get().copied(), name);
        }
    }

    /// `open`s `bytes` as a file and reads the whole stream: (text, name at open, name decided later).
    fn stream(bytes: &[u8]) -> (String, &'static str, Option<&'static str>) {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        let mut source = open(f.path(), EncodingChoice::Auto).unwrap();
        let mut text = String::new();
        source.reader.read_to_string(&mut text).unwrap();
        (text, source.name, source.decided_later.get().copied())
    }

    #[test]
    fn a_file_ascii_for_its_first_64_kib_is_decided_by_its_first_other_byte() {
        let ascii = "id;name\r\n".to_owned() + &"1;Anna\r\n".repeat(10_000);
        assert!(ascii.len() > PREFIX_BYTES);
        let mut w1252 = ascii.clone().into_bytes();
        w1252.extend_from_slice(b"2;Sj\xF6berg\r\n3;\xC5sa\r\n");
        let (text, _, later) = stream(&w1252);
        assert!(text.ends_with("2;Sjöberg\r\n3;Åsa\r\n"), "{:?}", &text[text.len() - 30..]);
        assert_eq!(later, Some("windows-1252"));

        let utf8 = ascii.clone() + "2;Sjöberg\r\n";
        let (text, _, later) = stream(utf8.as_bytes());
        assert_eq!(text, utf8);
        assert_eq!(later, Some("utf-8"));

        let (text, name, later) = stream(ascii.as_bytes());
        assert_eq!((text.len(), name, later), (ascii.len(), "utf-8", None));
    }

    #[test]
    fn a_character_cut_by_a_read_still_decides_utf8() {
        // `ö` in UTF-8 straddles the end of the second 64 KiB read, past the sniffed prefix.
        let mut bytes = vec![b'a'; 2 * PREFIX_BYTES - 1];
        bytes.extend_from_slice("ö;x\n".as_bytes());
        let (text, _, later) = stream(&bytes);
        assert!(text.ends_with("aö;x\n"));
        assert_eq!(later, Some("utf-8"));
        // A lead byte with nothing after it at the end of the file is not a character.
        let mut bytes = vec![b'a'; PREFIX_BYTES + 10];
        bytes.push(0xC3);
        let (text, _, later) = stream(&bytes);
        assert!(text.ends_with("aÃ"));
        assert_eq!(later, Some("windows-1252"));
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
