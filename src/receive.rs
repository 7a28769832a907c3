//! Receive: names and hashes the file a run is about, so the same content is applied once.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The file as received: its name (no directories) and the SHA-256 of its bytes.
#[derive(Debug, Clone)]
pub struct Claim {
    pub file_name: String,
    pub sha256: String,
    pub size: u64,
}

/// Hashes the file in 1 MiB blocks, never holding it whole.
pub fn claim(path: &Path) -> std::io::Result<Claim> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Claim { file_name, sha256: hex::encode(hasher.finalize()), size })
}
