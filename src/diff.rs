//! Diff: matches valid rows to the stored register and classifies each — new, changed,
//! unchanged, ended, rehired — and the register's people absent from a full file as missing.
//!
//! Pure: no I/O and no clock. Two stages so the common case stays cheap: `Register::observe`
//! decides *new* and *unchanged* from keyed fingerprints alone; only rows whose fingerprint
//! differs are compared field by field (`classify`) once their stored values are unsealed.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ids::EmployeeKey;
use crate::occurrence::{First, Occurrence};
use crate::seal::{CellsPrint, Fingerprint, NO_CELLS_PRINT};
use crate::value::Value;

/// The register as the diff needs it: per person, the fingerprint, the cells print and whether
/// they are ended.
///
/// Kept compact because it is the one structure that grows with the register: the keys live in
/// one string arena, the entries in one vector, and the hash index holds only entry numbers
/// (about 70 bytes a person with the atomics below). Where a person first occurred in this file is kept per entry in
/// atomics (0 = not yet), so the validator threads can classify rows against a shared register
/// and tell a key's first row from its repeats in one pass.
#[derive(Default)]
pub struct Register {
    arena: String,
    entries: Vec<Entry>,
    index: hashbrown::HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    /// `Occurrence::pack` of the first row, 0 while unseen.
    first: Vec<AtomicU64>,
    first_line: Vec<AtomicU64>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    fingerprint: Fingerprint,
    cells: CellsPrint,
    start: u32,
    len: u32,
    ended: bool,
}

/// The in-memory index addresses people and key bytes with 32 bits.
#[derive(Debug, thiserror::Error)]
#[error("the register is too large for the in-memory index (over 4 billion people or key bytes)")]
pub struct RegisterFull;

/// Whether a row is its key's first in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    First(Quick),
    /// The key occurred before in this file: the row is a duplicate.
    Again,
}

/// The first-stage verdict for one valid row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quick {
    New,
    Unchanged,
    /// Stored values must be unsealed and compared.
    Compare,
}

impl std::fmt::Debug for Register {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Register({} people)", self.entries.len())
    }
}

impl Register {
    pub fn with_capacity(n: usize) -> Register {
        Register {
            arena: String::with_capacity(n * 8),
            entries: Vec::with_capacity(n),
            index: hashbrown::HashTable::with_capacity(n),
            first: Vec::with_capacity(n),
            first_line: Vec::with_capacity(n),
            ..Register::default()
        }
    }

    fn key_at(&self, i: u32) -> &str {
        let e = &self.entries[i as usize];
        &self.arena[e.start as usize..(e.start + e.len) as usize]
    }

    fn find(&self, key: &str) -> Option<u32> {
        let h = self.hasher.hash_one(key);
        self.index.find(h, |&i| self.key_at(i) == key).copied()
    }

    /// Adds a person; a key already present is updated in place.
    pub fn insert(
        &mut self,
        key: EmployeeKey,
        fingerprint: Fingerprint,
        cells: CellsPrint,
        ended: bool,
    ) -> Result<(), RegisterFull> {
        if let Some(i) = self.find(key.as_str()) {
            let e = &mut self.entries[i as usize];
            (e.fingerprint, e.cells, e.ended) = (fingerprint, cells, ended);
            return Ok(());
        }
        self.insert_unique(key.as_str(), fingerprint, cells, ended)
    }

    /// Adds a person known not to be present yet, as when loading a store whose primary key
    /// guarantees one row per key: it skips the lookup that `insert` makes first.
    pub fn insert_unique(
        &mut self,
        key: &str,
        fingerprint: Fingerprint,
        cells: CellsPrint,
        ended: bool,
    ) -> Result<(), RegisterFull> {
        let end = self.arena.len() + key.len();
        let (Ok(start), Ok(len), Ok(n), Ok(_)) = (
            u32::try_from(self.arena.len()),
            u32::try_from(key.len()),
            u32::try_from(self.entries.len()),
            u32::try_from(end),
        ) else {
            return Err(RegisterFull);
        };
        self.arena.push_str(key);
        self.entries.push(Entry { fingerprint, cells, start, len, ended });
        self.first.push(AtomicU64::new(0));
        self.first_line.push(AtomicU64::new(0));
        let h = self.hasher.hash_one(key);
        let Register { index, entries, arena, hasher, .. } = self;
        index.insert_unique(h, n, |&i| {
            let e = &entries[i as usize];
            hasher.hash_one(&arena[e.start as usize..(e.start + e.len) as usize])
        });
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A person's stored fingerprint and whether they are ended.
    pub fn get(&self, key: &EmployeeKey) -> Option<(Fingerprint, bool)> {
        self.find(key.as_str()).map(|i| {
            let e = &self.entries[i as usize];
            (e.fingerprint, e.ended)
        })
    }

    /// A person's stored cells print (`NO_CELLS_PRINT` if none).
    pub fn cells(&self, key: &EmployeeKey) -> Option<CellsPrint> {
        self.find(key.as_str()).map(|i| self.entries[i as usize].cells)
    }

    /// Records `at` as entry `i`'s first occurrence unless one is recorded; true if it was.
    fn claim(&self, i: u32, at: Occurrence) -> bool {
        let i = i as usize;
        let won = self.first[i].compare_exchange(0, at.pack(), Ordering::Relaxed, Ordering::Relaxed).is_ok();
        if won {
            // Read only after the validators are joined, which orders it after this store.
            self.first_line[i].store(at.line, Ordering::Relaxed);
        }
        won
    }

    fn is_seen(&self, i: usize) -> bool {
        self.first[i].load(Ordering::Relaxed) != 0
    }

    /// Where a registered person first occurred in this file, if they did.
    pub fn first_occurrence(&self, key: &EmployeeKey) -> Option<Occurrence> {
        let i = self.find(key.as_str())? as usize;
        Occurrence::unpack(self.first[i].load(Ordering::Relaxed), self.first_line[i].load(Ordering::Relaxed))
    }

    /// Finds `key`, trying first the entry after the one `cursor` last found: the register is
    /// loaded in key order, and exports are usually sorted by key too, so most lookups are then
    /// a comparison with memory just read instead of a random probe of the hash table.
    fn find_near(&self, key: &str, cursor: &mut usize) -> Option<u32> {
        let next = *cursor;
        let found = if next < self.entries.len() && self.key_at(next as u32) == key {
            Some(next as u32)
        } else {
            self.find(key)
        };
        if let Some(i) = found {
            *cursor = i as usize + 1;
        }
        found
    }

    /// The quick check before validation: true if `key` is registered with these very cells and
    /// had not occurred yet, and is now marked present at `at` as unchanged. The same cells read
    /// under the same mapping validate to the same values, so the row needs no validation.
    /// False changes nothing: the row goes through validation and `observe_near`.
    pub fn observe_cells(&self, key: &str, cells: &CellsPrint, cursor: &mut usize, at: Occurrence) -> bool {
        let before = *cursor;
        let Some(i) = self.find_near(key, cursor) else { return false };
        let e = &self.entries[i as usize];
        let hit = e.cells != NO_CELLS_PRINT
            && &e.cells == cells
            && !self.is_seen(i as usize)
            && self.claim(i, Occurrence { first: First::Unchanged, ..at });
        if !hit {
            *cursor = before;
        }
        hit
    }

    /// Marks `key` present in the file at row `at` and says what the fingerprint alone tells.
    /// `at.first` is ignored: it is recorded as unchanged or compare from the fingerprint.
    pub fn observe(&self, key: &EmployeeKey, fingerprint: &Fingerprint, at: Occurrence) -> Seen {
        let mut no_cursor = usize::MAX;
        self.observe_near(key, fingerprint, &mut no_cursor, at)
    }

    /// `observe`, with a cursor kept by the caller across consecutive rows (see `find_near`).
    pub fn observe_near(
        &self,
        key: &EmployeeKey,
        fingerprint: &Fingerprint,
        cursor: &mut usize,
        at: Occurrence,
    ) -> Seen {
        let Some(i) = self.find_near(key.as_str(), cursor) else { return Seen::First(Quick::New) };
        let quick =
            if &self.entries[i as usize].fingerprint == fingerprint { Quick::Unchanged } else { Quick::Compare };
        let first = if quick == Quick::Unchanged { First::Unchanged } else { First::Compare };
        if self.claim(i, Occurrence { first, ..at }) { Seen::First(quick) } else { Seen::Again }
    }

    /// Marks a rejected row's `key` present: `None` if the register does not hold it, else
    /// whether this was the key's first row.
    pub fn observe_rejected(&self, key: &EmployeeKey, at: Occurrence) -> Option<bool> {
        let i = self.find(key.as_str())?;
        Some(self.claim(i, Occurrence { first: First::Rejected, ..at }))
    }

    /// People of a full file's register that the file did not mention and who are not ended.
    pub fn missing(&self) -> impl Iterator<Item = EmployeeKey> + '_ {
        (0..self.entries.len())
            .filter(|&i| !self.is_seen(i) && !self.entries[i].ended)
            .map(|i| EmployeeKey::new(self.key_at(i as u32)))
    }

    /// People not ended: the base for the guard's percentages.
    pub fn active(&self) -> usize {
        self.entries.iter().filter(|e| !e.ended).count()
    }
}

/// How one valid row relates to the register (reference-export.md, "How one valid row is classified").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    New,
    Rehired,
    Ended,
    Changed,
    Unchanged,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::New => "new",
            Class::Rehired => "rehired",
            Class::Ended => "ended",
            Class::Changed => "changed",
            Class::Unchanged => "unchanged",
        }
    }
}

/// Which fields are the employment dates, by index into the row's values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dates {
    pub start: Option<usize>,
    pub end: Option<usize>,
}

/// Second stage: compares a row with the person's stored values (by field name) and returns
/// the class and the indices of the fields that differ. Dates are ISO text, so they compare as text.
pub fn classify(
    names: &[&str],
    values: &[Option<Value>],
    stored: &[(String, Option<Value>)],
    dates: Dates,
    skip: usize,
) -> (Class, Vec<usize>) {
    let old = |i: usize| -> Option<&Value> { stored.iter().find(|(n, _)| n == names[i]).and_then(|(_, v)| v.as_ref()) };
    let changed: Vec<usize> = (0..names.len()).filter(|&i| i != skip && old(i) != values[i].as_ref()).collect();
    let value = |i: Option<usize>| i.and_then(|i| values[i].as_ref());
    let stored_end = dates.end.and_then(old);
    let new_end = value(dates.end);
    let new_start = value(dates.start);
    let class = match (stored_end, new_end) {
        (Some(_), None) => Class::Rehired,
        (Some(se), Some(_)) if new_start.is_some_and(|s| s.expose() > se.expose()) => Class::Rehired,
        (None, Some(_)) => Class::Ended,
        (Some(se), Some(ne)) if se != ne => Class::Ended,
        _ if changed.is_empty() => Class::Unchanged,
        _ => Class::Changed,
    };
    (class, changed)
}

/// The run's tallies, as the report prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows: u64,
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub ended: u64,
    pub rehired: u64,
    pub missing: u64,
    pub rejected: u64,
    /// Per field name: how many changed, ended or rehired rows differ in it.
    pub changed_fields: BTreeMap<String, u64>,
    /// Of the unchanged, those the quick cells check found without validating them.
    pub unvalidated: u64,
}

impl Counts {
    fn of(&mut self, class: Class) -> &mut u64 {
        match class {
            Class::New => &mut self.new,
            Class::Rehired => &mut self.rehired,
            Class::Ended => &mut self.ended,
            Class::Changed => &mut self.changed,
            Class::Unchanged => &mut self.unchanged,
        }
    }

    pub fn add(&mut self, class: Class) {
        *self.of(class) += 1;
    }

    /// Takes back one `add` (a row found to be a repeated key's first).
    pub fn remove(&mut self, class: Class) {
        let n = self.of(class);
        *n = n.saturating_sub(1);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["id", "name", "start", "end"];
    const DATES: Dates = Dates { start: Some(2), end: Some(3) };

    fn vals(v: &[Option<&str>]) -> Vec<Option<Value>> {
        v.iter().map(|s| s.map(Value::new)).collect()
    }

    fn stored(v: &[Option<&str>]) -> Vec<(String, Option<Value>)> {
        NAMES.iter().skip(1).zip(v.iter().skip(1)).map(|(n, s)| ((*n).to_owned(), s.map(Value::new))).collect()
    }

    fn check(old: &[Option<&str>], new: &[Option<&str>], class: Class, fields: &[usize]) {
        let (c, f) = classify(NAMES, &vals(new), &stored(old), DATES, 0);
        assert_eq!((c, f.as_slice()), (class, fields));
    }

    #[test]
    fn classes_follow_the_reference_rules() {
        let base = [Some("1"), Some("Åsa"), Some("2020-01-01"), None];
        check(&base, &base, Class::Unchanged, &[]);
        check(&base, &[Some("1"), Some("Eva"), Some("2020-01-01"), None], Class::Changed, &[1]);
        check(&base, &[Some("1"), Some("Åsa"), Some("2020-01-01"), Some("2026-12-31")], Class::Ended, &[3]);
        let ended = [Some("1"), Some("Åsa"), Some("2020-01-01"), Some("2026-12-31")];
        check(&ended, &[Some("1"), Some("Åsa"), Some("2020-01-01"), Some("2027-01-31")], Class::Ended, &[3]);
        check(&ended, &base, Class::Rehired, &[3]);
        check(&ended, &[Some("1"), Some("Åsa"), Some("2027-02-01"), Some("2027-06-30")], Class::Rehired, &[2, 3]);
        check(&ended, &ended, Class::Unchanged, &[]);
    }

    fn at(row: u64) -> Occurrence {
        Occurrence { row, line: row + 1, first: First::New }
    }

    #[test]
    fn same_cells_mark_a_person_unchanged_once_and_nothing_else_does() {
        let mut r = Register::default();
        let (fp, cells) = ([3u8; 16], [7u8; 8]);
        r.insert(EmployeeKey::new("a"), fp, cells, false).unwrap();
        r.insert(EmployeeKey::new("b"), fp, NO_CELLS_PRINT, false).unwrap();
        r.insert(EmployeeKey::new("c"), fp, cells, false).unwrap();
        let mut cursor = 0;
        // Other cells, an unknown key, a person stored without a print: no verdict, no mark.
        assert!(!r.observe_cells("a", &[8u8; 8], &mut cursor, at(1)));
        assert_eq!(cursor, 0, "a miss leaves the cursor for the full check");
        assert!(!r.observe_cells("z", &cells, &mut cursor, at(1)));
        assert!(!r.observe_cells("b", &NO_CELLS_PRINT, &mut cursor, at(1)));
        assert_eq!(r.first_occurrence(&EmployeeKey::new("a")), None);
        assert_eq!(r.first_occurrence(&EmployeeKey::new("b")), None);
        // The same cells: unchanged, and present.
        assert!(r.observe_cells("a", &cells, &mut cursor, at(2)));
        let first = r.first_occurrence(&EmployeeKey::new("a")).unwrap();
        assert_eq!((first.row, first.first), (2, First::Unchanged));
        // A second row of the key is not waved through: the full check calls it a repeat.
        assert!(!r.observe_cells("a", &cells, &mut cursor, at(3)));
        assert_eq!(r.observe(&EmployeeKey::new("a"), &fp, at(3)), Seen::Again);
        // A key seen first by the full check is not claimed again by the quick one.
        assert_eq!(r.observe(&EmployeeKey::new("c"), &fp, at(4)), Seen::First(Quick::Unchanged));
        assert!(!r.observe_cells("c", &cells, &mut cursor, at(5)));
        let missing: Vec<_> = r.missing().map(|k| k.as_str().to_owned()).collect();
        assert_eq!(missing, ["b"]);
    }

    #[test]
    fn missing_skips_seen_and_ended_people() {
        let mut r = Register::default();
        let fp = [0u8; 16];
        for (k, ended) in [("a", false), ("b", false), ("c", true)] {
            r.insert(EmployeeKey::new(k), fp, NO_CELLS_PRINT, ended).unwrap();
        }
        assert_eq!(r.observe(&EmployeeKey::new("a"), &fp, at(1)), Seen::First(Quick::Unchanged));
        assert_eq!(r.observe(&EmployeeKey::new("z"), &fp, at(2)), Seen::First(Quick::New));
        assert_eq!(r.observe_rejected(&EmployeeKey::new("c"), at(3)), Some(true));
        assert_eq!(r.observe_rejected(&EmployeeKey::new("y"), at(4)), None);
        let missing: Vec<_> = r.missing().map(|k| k.as_str().to_owned()).collect();
        assert_eq!(missing, vec!["b".to_owned()]);
        assert_eq!(r.active(), 2);
        assert_eq!(r.get(&EmployeeKey::new("c")), Some((fp, true)));
    }

    #[test]
    fn a_key_is_first_once_and_remembers_where() {
        let mut r = Register::default();
        let (fp, other) = ([0u8; 16], [1u8; 16]);
        r.insert(EmployeeKey::new("a"), fp, NO_CELLS_PRINT, false).unwrap();
        r.insert(EmployeeKey::new("b"), fp, NO_CELLS_PRINT, false).unwrap();
        let (a, b) = (EmployeeKey::new("a"), EmployeeKey::new("b"));
        assert_eq!(r.first_occurrence(&a), None);
        assert_eq!(r.observe(&a, &other, at(5)), Seen::First(Quick::Compare));
        assert_eq!(r.observe(&a, &fp, at(9)), Seen::Again);
        assert_eq!(r.observe_rejected(&a, at(10)), Some(false));
        assert_eq!(r.first_occurrence(&a), Some(Occurrence { row: 5, line: 6, first: First::Compare }));
        assert_eq!(r.observe_rejected(&b, at(2)), Some(true));
        assert_eq!(r.observe(&b, &fp, at(3)), Seen::Again);
        assert_eq!(r.first_occurrence(&b), Some(Occurrence { row: 2, line: 3, first: First::Rejected }));
    }

    #[test]
    fn a_large_register_finds_every_key_and_tracks_seen_people() {
        let mut r = Register::with_capacity(10);
        for i in 0..1000u32 {
            let mut fp = [0u8; 16];
            fp[..4].copy_from_slice(&i.to_le_bytes());
            r.insert(EmployeeKey::new(&format!("E{i:05}")), fp, NO_CELLS_PRINT, i % 10 == 0).unwrap();
        }
        assert_eq!(r.len(), 1000);
        let mut fp = [0u8; 16];
        fp[..4].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(r.observe(&EmployeeKey::new("E00007"), &fp, at(1)), Seen::First(Quick::Unchanged));
        assert_eq!(r.observe(&EmployeeKey::new("E00008"), &fp, at(2)), Seen::First(Quick::Compare));
        assert_eq!(r.observe(&EmployeeKey::new("E01000"), &fp, at(3)), Seen::First(Quick::New));
        // A cursor speeds up sorted lookups and never changes an answer.
        let mut cursor = 0;
        for i in [5u32, 6, 7, 500, 3, 4, 1001, 999] {
            let key = EmployeeKey::new(&format!("E{i:05}"));
            let expect = match r.get(&key) {
                _ if i == 7 => Seen::Again,
                None => Seen::First(Quick::New),
                Some((f, _)) if f == fp => Seen::First(Quick::Unchanged),
                Some(_) => Seen::First(Quick::Compare),
            };
            assert_eq!(r.observe_near(&key, &fp, &mut cursor, at(u64::from(i))), expect, "{i}");
        }
        r.insert(EmployeeKey::new("E00009"), fp, NO_CELLS_PRINT, false).unwrap();
        assert_eq!(r.observe(&EmployeeKey::new("E00009"), &fp, at(4)), Seen::First(Quick::Unchanged));
        assert_eq!(r.len(), 1000);
        // 900 active; seen and active: 7, 8, 9 and, through the cursor, 3, 4, 5, 6 and 999
        // (500 is ended, so never missing).
        assert_eq!(r.missing().count(), 892);
    }
}
