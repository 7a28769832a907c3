//! Occurrences: where each key of a file first occurred, so that a key occurring again is found
//! in the same pass that validates the rows. Every row of such a key is rejected
//! (reference-export.md); the first one was already classified, so ingest undoes it at the end.
//!
//! Registered keys keep their first occurrence in the register's entries (`diff::Register`);
//! keys the register does not hold are kept here, by a 128-bit hash, in sharded maps the
//! validator threads share.

use std::sync::Mutex;

use crate::ids::EmployeeKey;

/// What the first row of a key became on the validator side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First {
    /// Registered, same fingerprint: nothing written.
    Unchanged,
    /// Registered, fingerprint differs: the apply side classified and wrote it.
    Compare,
    /// Rejected (and quarantined) for its own errors.
    Rejected,
    /// Not registered: added as a new person.
    New,
}

/// A key's first row: its data-row number, physical line, and what it became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub row: u64,
    pub line: u64,
    pub first: First,
}

/// Rows beyond this are recorded as this (no file comes near it).
const MAX_ROW: u64 = (1 << 61) - 2;

impl Occurrence {
    /// Row and line with its verdict, packed into a non-zero `u64` (0 means "not seen").
    pub(crate) fn pack(self) -> u64 {
        let kind = match self.first {
            First::Unchanged => 0,
            First::Compare => 1,
            First::Rejected => 2,
            First::New => 3,
        };
        ((self.row.min(MAX_ROW) + 1) << 2) | kind
    }

    pub(crate) fn unpack(packed: u64, line: u64) -> Option<Occurrence> {
        if packed == 0 {
            return None;
        }
        let first = match packed & 3 {
            0 => First::Unchanged,
            1 => First::Compare,
            2 => First::Rejected,
            _ => First::New,
        };
        Some(Occurrence { row: (packed >> 2) - 1, line, first })
    }
}

/// Hashes a key to 128 bits: the maps hold one of these per key instead of the key itself, and
/// a collision between two keys of one file is beyond any practical chance.
fn key_hash(key: &str) -> [u64; 2] {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut h = std::hash::DefaultHasher::new();
        salt.hash(&mut h);
        key.hash(&mut h);
        h.finish()
    };
    [half(1), half(2)]
}

const SHARDS: usize = 16;

/// Rows and lines of unregistered keys are kept in 32 bits (a file would need billions of rows to
/// pass them; beyond, the report's position saturates) and the line's top bit says `Rejected`.
const REJECTED_BIT: u32 = 1 << 31;

/// Key hash → (row, line with the rejected bit).
type Shard = hashbrown::HashMap<[u64; 2], (u32, u32)>;

/// The file's keys that the register does not hold, and the keys found occurring again.
///
/// One entry is 24 bytes (hash, row, line), as a first load puts every person of the file here;
/// sharding keeps both lock contention and the transient memory of a growing map small.
pub struct Occurrences {
    shards: Vec<Mutex<Shard>>,
    /// Each repeated key once, however often it repeats.
    repeated: Mutex<hashbrown::HashSet<EmployeeKey>>,
}

impl Default for Occurrences {
    fn default() -> Self {
        Occurrences { shards: (0..SHARDS).map(|_| Mutex::default()).collect(), repeated: Mutex::default() }
    }
}

impl Occurrences {
    fn shard(&self, h: [u64; 2]) -> std::sync::MutexGuard<'_, Shard> {
        let m = &self.shards[(h[0] >> 60) as usize % SHARDS];
        // A validator that panicked while holding the lock fails the run anyway (its chunk is lost).
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `at` as the first row of an unregistered `key`; false if it occurred before.
    pub fn claim(&self, key: &EmployeeKey, at: Occurrence) -> bool {
        let h = key_hash(key.as_str());
        let mut shard = self.shard(h);
        match shard.entry(h) {
            hashbrown::hash_map::Entry::Occupied(_) => false,
            hashbrown::hash_map::Entry::Vacant(v) => {
                let row = u32::try_from(at.row).unwrap_or(u32::MAX);
                let line = u32::try_from(at.line).unwrap_or(u32::MAX).min(REJECTED_BIT - 1);
                let flag = if at.first == First::Rejected { REJECTED_BIT } else { 0 };
                v.insert((row, line | flag));
                true
            }
        }
    }

    /// Where an unregistered key first occurred.
    pub fn get(&self, key: &EmployeeKey) -> Option<Occurrence> {
        let h = key_hash(key.as_str());
        let (row, line) = *self.shard(h).get(&h)?;
        let first = if line & REJECTED_BIT == 0 { First::New } else { First::Rejected };
        Some(Occurrence { row: u64::from(row), line: u64::from(line & !REJECTED_BIT), first })
    }

    /// Notes that `key` occurred again.
    pub fn repeat(&self, key: &EmployeeKey) {
        let mut repeated = self.repeated.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !repeated.contains(key) {
            repeated.insert(key.clone());
        }
    }

    /// Every key that occurred more than once, each once, in key order.
    pub fn repeated(&self) -> Vec<EmployeeKey> {
        let set = std::mem::take(&mut *self.repeated.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let mut keys: Vec<EmployeeKey> = set.into_iter().collect();
        keys.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        keys
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_every_verdict() {
        for first in [First::Unchanged, First::Compare, First::Rejected, First::New] {
            for row in [0, 1, 77, MAX_ROW] {
                let o = Occurrence { row, line: row + 3, first };
                assert_ne!(o.pack(), 0);
                assert_eq!(Occurrence::unpack(o.pack(), o.line), Some(o));
            }
        }
        assert_eq!(Occurrence::unpack(0, 5), None);
    }

    #[test]
    fn a_key_is_first_once_and_repeats_are_listed_once() {
        let occ = Occurrences::default();
        let (a, b) = (EmployeeKey::new("A1"), EmployeeKey::new("B2"));
        let at = |row| Occurrence { row, line: row + 1, first: First::New };
        assert!(occ.claim(&a, at(1)));
        assert!(occ.claim(&b, at(2)));
        assert!(!occ.claim(&a, at(3)));
        assert!(!occ.claim(&a, at(4)));
        occ.repeat(&a);
        occ.repeat(&a);
        assert_eq!(occ.get(&a), Some(at(1)));
        let rejected = Occurrence { row: 9, line: 12, first: First::Rejected };
        assert!(occ.claim(&EmployeeKey::new("R9"), rejected));
        assert_eq!(occ.get(&EmployeeKey::new("R9")), Some(rejected));
        assert_eq!(occ.get(&EmployeeKey::new("C3")), None);
        assert_eq!(occ.repeated().iter().map(EmployeeKey::as_str).collect::<Vec<_>>(), vec!["A1"]);
    }
}
