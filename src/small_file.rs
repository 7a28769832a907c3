//! Reads a small settings file whole (the config, a mapping, the master key), refusing anything
//! that is not a regular file of a bounded size: `/dev/zero` would grow memory without end, and a
//! FIFO would block for ever.

use std::io::Read;
use std::path::Path;

/// Reads `path` as UTF-8 text of at most `max_bytes`; the error says what is wrong, in words.
pub fn read_to_string(path: &Path, max_bytes: u64) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("it is a directory, not a file".into());
    }
    if !meta.is_file() {
        return Err("it is not a regular file (a FIFO, device or socket)".into());
    }
    if meta.len() > max_bytes {
        return Err(format!("it is {} bytes, more than the {max_bytes} such a file may have", meta.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    // The file may grow between the check and the read: read one byte past the bound to tell.
    let mut bytes = Vec::new();
    file.take(max_bytes + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max_bytes {
        return Err(format!("it grew past the {max_bytes} bytes such a file may have while being read"));
    }
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("a.toml");
        std::fs::write(&small, "x = 1\n").unwrap();
        assert_eq!(read_to_string(&small, 100).unwrap(), "x = 1\n");
        assert!(read_to_string(&small, 3).unwrap_err().contains("more than the 3"));
        assert!(read_to_string(dir.path(), 100).unwrap_err().contains("directory"));
        #[cfg(unix)]
        assert!(read_to_string(Path::new("/dev/zero"), 100).unwrap_err().contains("not a regular file"));
        std::fs::write(&small, b"\xFF\xFE").unwrap();
        assert!(read_to_string(&small, 100).unwrap_err().contains("UTF-8"));
    }
}
