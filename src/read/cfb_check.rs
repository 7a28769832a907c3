//! A structural check of OLE compound files (legacy `.xls`) before calamine opens them.
//!
//! calamine follows sector chains without cycle detection and sizes buffers from header fields,
//! so a 512-byte hostile file can make it allocate without bound — which no `catch_unwind` can
//! stop (found by the `workbook_reader` fuzz target). Here every chain the reader will follow is
//! walked once with a visited set, and every length is bounded by the file's size.

const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const RESERVED: u32 = 0xFFFF_FFFA;
const DIFSECT: u32 = 0xFFFF_FFFC;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// `Err(reason)` (a fixed phrase) when the compound file's structure cannot be read safely.
pub fn check(bytes: &[u8]) -> Result<(), &'static str> {
    let bad = "its compound-file structure is damaged";
    if bytes.len() < 512 {
        return Err(bad);
    }
    let shift = u16::from_le_bytes([bytes[0x1E], bytes[0x1F]]);
    if shift != 9 && shift != 12 {
        return Err(bad);
    }
    let size = 1usize << shift;
    let sectors = bytes.len() / size;
    let sector = |id: u32| -> Option<&[u8]> {
        let start = (id as usize).checked_add(1)?.checked_mul(size)?;
        bytes.get(start..start.checked_add(size)?.min(bytes.len())).filter(|s| !s.is_empty())
    };
    let field = |at: usize| u32_at(bytes, at).ok_or(bad);
    let (fat_len, dir_start, dir_len) = (field(0x2C)? as usize, field(0x30)?, field(0x28)? as usize);
    let (mini_fat_start, mini_fat_len) = (field(0x3C)?, field(0x40)? as usize);
    if fat_len > sectors || dir_len > sectors || mini_fat_len > sectors {
        return Err(bad);
    }

    // The DIFAT: 109 entries in the header, then a chain of DIFAT sectors.
    let mut difat: Vec<u32> = (0..109).filter_map(|i| u32_at(bytes, 0x4C + 4 * i)).collect();
    let mut seen = vec![false; sectors + 1];
    let mut next = field(0x44)?;
    while next < RESERVED {
        let s = sector(next).ok_or(bad)?;
        if std::mem::replace(seen.get_mut(next as usize).ok_or(bad)?, true) {
            return Err(bad);
        }
        let entries: Vec<u32> = (0..s.len() / 4).filter_map(|i| u32_at(s, 4 * i)).collect();
        let (last, rest) = entries.split_last().ok_or(bad)?;
        difat.extend_from_slice(rest);
        next = *last;
    }
    // FAT sectors: each named once and no more than the header declares, so the FAT stays
    // bounded by the file's size.
    let fat_ids: Vec<u32> = difat.into_iter().filter(|id| *id < DIFSECT).collect();
    let mut named = std::collections::HashSet::new();
    if fat_ids.len() > fat_len || !fat_ids.iter().all(|id| named.insert(*id)) {
        return Err(bad);
    }
    let mut fat = Vec::new();
    for id in fat_ids {
        let s = sector(id).ok_or(bad)?;
        fat.extend((0..s.len() / 4).filter_map(|i| u32_at(s, 4 * i)));
    }

    // Every chain calamine follows must end within the FAT; a chain longer than the FAT has a
    // cycle. All walks together are capped too, so many long chains cannot cost quadratic time.
    let budget = std::cell::Cell::new(fat.len().saturating_mul(4).max(64));
    let chain = |start: u32| -> Result<usize, &'static str> {
        let (mut id, mut n) = (start, 0usize);
        while id != ENDOFCHAIN {
            let next = *fat.get(id as usize).ok_or(bad)?;
            n += 1;
            if n > fat.len() || budget.get() == 0 {
                return Err(bad);
            }
            budget.set(budget.get() - 1);
            id = next;
        }
        Ok(n)
    };
    let dir_sectors = chain(dir_start)?;
    if mini_fat_len > 0 {
        chain(mini_fat_start)?;
    }
    // Directory entries: 128 bytes each; every stream fits in the file, and large ones
    // (stored in the FAT, not the mini stream) have sound chains.
    let mut id = dir_start;
    for _ in 0..dir_sectors {
        let s = sector(id).ok_or(bad)?;
        for (i, entry) in s.chunks(128).enumerate() {
            if entry.len() < 128 || entry[66] == 0 {
                continue;
            }
            let start = u32_at(entry, 116).ok_or(bad)?;
            let len = u64::from_le_bytes(entry[120..128].try_into().map_err(|_| bad)?);
            let len = if shift == 9 { len & 0xFFFF_FFFF } else { len };
            if len > bytes.len() as u64 {
                return Err(bad);
            }
            let is_root = id == dir_start && i == 0;
            if (is_root || len >= 4096) && start < RESERVED {
                chain(start)?;
            }
        }
        id = fat[id as usize];
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The fuzzer's find: a looping DIFAT chain that made calamine allocate without bound.
    const DIFAT_LOOP: &str = "0M8R4KGxGuEA//8AAP////8AAQABAAAAPgADAP7/CQAGAAAAAAVVVVVVVVVVAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD///8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAqAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAKgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAqAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAKgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAqAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    fn b64(s: &str) -> Vec<u8> {
        let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0);
        for c in s.bytes().filter(|c| *c != b'=') {
            acc = (acc << 6) | table.iter().position(|t| *t == c).unwrap() as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        out
    }

    #[test]
    fn a_looping_difat_chain_is_refused() {
        assert!(check(&b64(DIFAT_LOOP)).is_err());
    }

    #[test]
    fn a_real_xls_passes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/read/testdata/small.xls");
        assert_eq!(check(&std::fs::read(path).unwrap()), Ok(()));
    }

    #[test]
    fn garbage_never_panics() {
        let real = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/src/read/testdata/small.xls")).unwrap();
        for i in (0..real.len()).step_by(7) {
            let mut m = real.clone();
            m[i] ^= 0x5A;
            let _ = check(&m);
            let _ = check(&real[..i]);
        }
    }
}
