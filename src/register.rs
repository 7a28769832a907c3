//! The register in memory, as the diff needs it: per person the fingerprint, the cells print and
//! whether they are ended, and where they first occurred in the file being read.
//!
//! It is loaded in pages while the file is already being read: a store that loads in key
//! order says up to which key it has loaded, and a validator asking for a key beyond that waits
//! for the page that holds it. An export sorted by key (the usual case) is thus validated
//! beside the load instead of after it; any other order waits at worst for the whole load.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};

use crate::ids::EmployeeKey;
use crate::occurrence::{First, Occurrence};
use crate::seal::{CellsPrint, Fingerprint, NO_CELLS_PRINT};

/// One page of the register.
///
/// Kept compact because it is the one structure that grows with the register: the keys live in
/// one string arena, the entries in one vector, and the hash index holds only entry numbers
/// (about 70 bytes a person with the atomics below). Where a person first occurred in this file
/// is kept per entry in atomics (0 = not yet), so the validator threads can classify rows
/// against a shared register and tell a key's first row from its repeats in one pass.
#[derive(Default)]
pub struct Segment {
    arena: String,
    entries: Vec<Entry>,
    index: hashbrown::HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    /// `Occurrence::pack` of the first row, 0 while unseen.
    first: Vec<AtomicU64>,
    first_line: Vec<AtomicU64>,
    /// The cells print this run leaves the person with: `PRINT_KEPT`, `PRINT_WRITTEN` or a new
    /// print (`print_slot`).
    prints: Vec<AtomicU64>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    fingerprint: Fingerprint,
    /// The print as loaded: the person's row's, or the overlay's (`overlaid`).
    cells: CellsPrint,
    start: u32,
    len: u32,
    ended: bool,
    /// The print came from the store's overlay of prints (`Register::print_overlay`), not
    /// from the person's row.
    overlaid: bool,
}

/// The run leaves the person's print as it was loaded.
const PRINT_KEPT: u64 = u64::MAX;
/// The run rewrote the person's row, and their print with it: no overlay entry.
const PRINT_WRITTEN: u64 = u64::MAX - 1;

/// A new print as its slot value; `None` for a print that happens to equal a marker (or is no
/// print), which is then not recorded: the loaded print still holds for the same values.
fn print_slot(print: &CellsPrint) -> Option<u64> {
    let v = u64::from_le_bytes(*print);
    (v != 0 && v < PRINT_WRITTEN).then_some(v)
}

/// The in-memory index addresses people and key bytes with 32 bits.
#[derive(Debug, thiserror::Error)]
#[error("the register is too large for the in-memory index (over 4 billion people or key bytes)")]
pub struct RegisterFull;

/// A store handed over register pages out of key order.
#[derive(Debug, thiserror::Error)]
#[error("the register's pages came out of key order")]
pub struct PagesOutOfOrder;

/// The register's load failed or was given up: the run cannot classify rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

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

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Segment({} people)", self.entries.len())
    }
}

impl Segment {
    pub fn with_capacity(n: usize) -> Segment {
        Segment {
            arena: String::with_capacity(n * 8),
            entries: Vec::with_capacity(n),
            index: hashbrown::HashTable::with_capacity(n),
            first: Vec::with_capacity(n),
            first_line: Vec::with_capacity(n),
            prints: Vec::with_capacity(n),
            ..Segment::default()
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
        self.entries.push(Entry { fingerprint, cells, start, len, ended, overlaid: false });
        self.first.push(AtomicU64::new(0));
        self.first_line.push(AtomicU64::new(0));
        self.prints.push(AtomicU64::new(PRINT_KEPT));
        let h = self.hasher.hash_one(key);
        let Segment { index, entries, arena, hasher, .. } = self;
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

    /// Replaces a loaded person's print with the overlay's; false if the key is not here (an
    /// overlay entry of someone no longer stored, which is skipped).
    pub fn overlay(&mut self, key: &str, cells: CellsPrint) -> bool {
        let Some(i) = self.find(key) else { return false };
        let e = &mut self.entries[i as usize];
        (e.cells, e.overlaid) = (cells, true);
        true
    }

    fn set_print(&self, i: u32, slot: u64) {
        self.prints[i as usize].store(slot, Ordering::Relaxed);
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
}

/// The pages loaded so far.
#[derive(Clone, Default)]
struct Loaded {
    segments: Vec<Arc<Segment>>,
    /// For pages loaded in key order: each page's last key. Empty for one unordered segment.
    bounds: Vec<Box<str>>,
    /// The highest stored key, when the store told it before its pages: keys above it are
    /// known absent without waiting (a day's hires usually sort after everyone).
    highest: Option<Box<str>>,
}

impl Loaded {
    /// True if every key up to `key` is loaded.
    fn covers(&self, key: &str) -> bool {
        self.bounds.last().is_some_and(|b| &**b >= key) || self.highest.as_ref().is_some_and(|h| &**h < key)
    }

    fn locate(&self, key: &str) -> Option<(usize, u32)> {
        let s = if self.bounds.is_empty() { 0 } else { self.bounds.partition_point(|b| &**b < key) };
        self.segments.get(s)?.find(key).map(|i| (s, i))
    }

    fn entry(&self, key: &str) -> Option<(&Segment, u32)> {
        self.locate(key).map(|(s, i)| (&*self.segments[s], i))
    }

    fn len(&self) -> usize {
        self.segments.iter().map(|s| s.len()).sum()
    }
}

struct State {
    loaded: Loaded,
    /// `Some(true)`: fully loaded; `Some(false)`: the load failed or was given up.
    finished: Option<bool>,
}

/// The register, whole or still loading. Readers classify through a `Lookup`; the queries on
/// `Register` itself (`get`, `missing`, ...) see it only once the load has finished.
pub struct Register {
    state: Mutex<State>,
    grown: Condvar,
    /// Bumped on every change of `state`, so readers look under the lock only when it moved.
    version: AtomicUsize,
    complete: OnceLock<Loaded>,
    /// Set once any person's print slot moved from `PRINT_KEPT`: the overlay is rewritten.
    prints_moved: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Register {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.complete.get() {
            Some(l) => write!(f, "Register({} people)", l.len()),
            None => write!(f, "Register(loading)"),
        }
    }
}

impl Register {
    /// An empty register whose pages are about to be loaded.
    pub fn loading() -> Register {
        Register {
            state: Mutex::new(State { loaded: Loaded::default(), finished: None }),
            grown: Condvar::new(),
            version: AtomicUsize::new(0),
            complete: OnceLock::new(),
            prints_moved: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A register loaded already, as one page in any key order.
    pub fn whole(segment: Segment) -> Register {
        let r = Register::loading();
        r.lock().loaded.segments.push(Arc::new(segment));
        r.finish(true);
        r
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells, before any page, the highest key the store holds.
    pub fn set_highest(&self, key: &str) -> Result<(), PagesOutOfOrder> {
        let mut st = self.lock();
        if !st.loaded.segments.is_empty() || st.finished.is_some() {
            return Err(PagesOutOfOrder);
        }
        st.loaded.highest = Some(key.into());
        self.version.fetch_add(1, Ordering::Release);
        drop(st);
        self.grown.notify_all();
        Ok(())
    }

    /// Adds a page of people whose keys are above every earlier page's and at most `last`,
    /// and which holds every stored key in that range: keys up to `last` can now be looked up.
    pub fn push_page(&self, segment: Segment, last: &str) -> Result<(), PagesOutOfOrder> {
        let mut st = self.lock();
        let in_order = st.loaded.bounds.last().is_none_or(|b| &**b < last);
        if !in_order || st.loaded.segments.len() != st.loaded.bounds.len() || st.finished.is_some() {
            return Err(PagesOutOfOrder);
        }
        st.loaded.segments.push(Arc::new(segment));
        st.loaded.bounds.push(last.into());
        self.version.fetch_add(1, Ordering::Release);
        drop(st);
        self.grown.notify_all();
        Ok(())
    }

    /// Adds the whole register as one page in any key order (a store that cannot page by key
    /// in byte order); nothing may be pushed before or after it.
    pub fn push_whole(&self, segment: Segment) -> Result<(), PagesOutOfOrder> {
        let mut st = self.lock();
        if !st.loaded.segments.is_empty() || st.finished.is_some() {
            return Err(PagesOutOfOrder);
        }
        st.loaded.segments.push(Arc::new(segment));
        self.version.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Ends the load: the register is whole (`ok`), or readers waiting for it stop.
    pub fn finish(&self, ok: bool) {
        let mut st = self.lock();
        if st.finished.is_none() {
            st.finished = Some(ok);
            if ok {
                let _ = self.complete.set(st.loaded.clone());
            }
            self.version.fetch_add(1, Ordering::Release);
        }
        drop(st);
        self.grown.notify_all();
    }

    /// A guard for the loader: if it is dropped before `done` (the load was cancelled or
    /// panicked), readers waiting for pages stop instead of waiting for ever.
    pub fn loader(&self) -> LoadGuard<'_> {
        LoadGuard(self)
    }

    /// A reader's view, for one thread.
    pub fn lookup(&self) -> Lookup<'_> {
        let mut l =
            Lookup { register: self, loaded: Loaded::default(), complete: false, version: usize::MAX, cursor: (0, 0) };
        l.refresh();
        l
    }

    fn whole_or_empty(&self) -> &Loaded {
        static EMPTY: OnceLock<Loaded> = OnceLock::new();
        self.complete.get().unwrap_or_else(|| EMPTY.get_or_init(Loaded::default))
    }

    /// True once every page is loaded.
    pub fn is_complete(&self) -> bool {
        self.complete.get().is_some()
    }

    pub fn len(&self) -> usize {
        self.whole_or_empty().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A person's stored fingerprint and whether they are ended.
    pub fn get(&self, key: &EmployeeKey) -> Option<(Fingerprint, bool)> {
        self.whole_or_empty().entry(key.as_str()).map(|(s, i)| {
            let e = &s.entries[i as usize];
            (e.fingerprint, e.ended)
        })
    }

    /// A person's stored cells print (`NO_CELLS_PRINT` if none).
    pub fn cells(&self, key: &EmployeeKey) -> Option<CellsPrint> {
        self.whole_or_empty().entry(key.as_str()).map(|(s, i)| s.entries[i as usize].cells)
    }

    /// Tells that the store's overlay of prints named people no longer stored: the overlay is
    /// rewritten at the end of the run, without them, so a stale print can never attach to a
    /// person stored later under the same key.
    pub fn note_stale_prints(&self) {
        self.prints_moved.store(true, Ordering::Release);
    }

    /// Undoes what this run did to a person's print: the one loaded holds again (a row that
    /// was rejected after all).
    pub fn keep_print(&self, key: &EmployeeKey) {
        if let Some((s, i)) = self.whole_or_empty().entry(key.as_str()) {
            s.set_print(i, PRINT_KEPT);
        }
    }

    /// The cells prints to store apart from the people's rows once this run is applied, in
    /// key order: the new prints of people found unchanged in other cells, and the overlay's
    /// prints of people this run did not write. `None` if the run changed no print, so the
    /// stored overlay stands as it is.
    ///
    /// A print says that these cells, read under this mapping, give the stored values; it
    /// stays true until the person's row is written again, which writes the row's own print
    /// and drops the overlay's (`PRINT_WRITTEN`).
    pub fn print_overlay(&self) -> Option<Box<dyn Iterator<Item = (&str, CellsPrint)> + Send + '_>> {
        if !self.prints_moved.load(Ordering::Acquire) {
            return None;
        }
        let segments = &self.whole_or_empty().segments;
        let kept = move |(s, i): (usize, usize)| {
            let (seg, e) = (&segments[s], &segments[s].entries[i]);
            let print = match seg.prints[i].load(Ordering::Relaxed) {
                PRINT_KEPT if e.overlaid => e.cells,
                PRINT_KEPT | PRINT_WRITTEN => return None,
                v => v.to_le_bytes(),
            };
            Some((seg.key_at(i as u32), print))
        };
        let all = move || segments.iter().enumerate().flat_map(|(s, seg)| (0..seg.len()).map(move |i| (s, i)));
        // Pages loaded in key order are in key order already; one unordered page is sorted
        // by entry number, not copied.
        let key = |&(s, i): &(usize, usize)| segments[s].key_at(i as u32);
        if all().filter_map(kept).is_sorted_by(|a, b| a.0 < b.0) {
            return Some(Box::new(all().filter_map(kept)));
        }
        let mut order: Vec<(usize, usize)> = all().filter(|&at| kept(at).is_some()).collect();
        order.sort_unstable_by(|a, b| key(a).cmp(key(b)));
        Some(Box::new(order.into_iter().filter_map(kept)))
    }

    /// Where a registered person first occurred in this file, if they did.
    pub fn first_occurrence(&self, key: &EmployeeKey) -> Option<Occurrence> {
        let (s, i) = self.whole_or_empty().entry(key.as_str())?;
        let i = i as usize;
        Occurrence::unpack(s.first[i].load(Ordering::Relaxed), s.first_line[i].load(Ordering::Relaxed))
    }

    /// People of a full file's register that the file did not mention and who are not ended.
    pub fn missing(&self) -> impl Iterator<Item = EmployeeKey> + '_ {
        self.whole_or_empty().segments.iter().flat_map(|s| {
            (0..s.entries.len())
                .filter(|&i| !s.is_seen(i) && !s.entries[i].ended)
                .map(|i| EmployeeKey::new(s.key_at(i as u32)))
        })
    }

    /// Every key of the register, in key order.
    pub fn keys(&self) -> impl Iterator<Item = EmployeeKey> + '_ {
        self.whole_or_empty()
            .segments
            .iter()
            .flat_map(|s| (0..s.entries.len()).map(|i| EmployeeKey::new(s.key_at(i as u32))))
    }

    /// People not ended: the base for the guard's percentages.
    pub fn active(&self) -> usize {
        self.whole_or_empty().segments.iter().map(|s| s.entries.iter().filter(|e| !e.ended).count()).sum()
    }
}

/// See `Register::loader`.
pub struct LoadGuard<'r>(&'r Register);

impl LoadGuard<'_> {
    pub fn done(self, ok: bool) {
        self.0.finish(ok);
    }
}

impl Drop for LoadGuard<'_> {
    fn drop(&mut self) {
        // After `done` this changes nothing.
        self.0.finish(false);
    }
}

/// One thread's view of the register: the pages it has seen, and a cursor. Lookups of a key
/// not loaded yet wait for its page.
pub struct Lookup<'r> {
    register: &'r Register,
    loaded: Loaded,
    complete: bool,
    /// `Register::version` when `loaded` was taken.
    version: usize,
    /// The entry after the one last found: exports are usually sorted by key like the pages,
    /// so most lookups are a comparison with memory just read instead of a hash probe.
    cursor: (usize, u32),
}

impl Lookup<'_> {
    /// Takes what is loaded now, without waiting.
    fn refresh(&mut self) {
        if self.register.version.load(Ordering::Acquire) == self.version {
            return;
        }
        let st = self.register.lock();
        self.take(&st);
    }

    fn take(&mut self, st: &State) {
        self.complete = st.finished == Some(true);
        self.loaded = st.loaded.clone();
        self.version = self.register.version.load(Ordering::Acquire);
    }

    /// True if `key` can be looked up now without waiting.
    pub fn covers(&mut self, key: &str) -> bool {
        if self.complete || self.loaded.covers(key) {
            return true;
        }
        self.refresh();
        self.complete || self.loaded.covers(key)
    }

    /// Waits until `key`'s page is loaded (or the whole register is).
    fn cover(&mut self, key: &str) -> Result<(), Stopped> {
        if self.complete || self.loaded.covers(key) {
            return Ok(());
        }
        let mut st = self.register.lock();
        loop {
            match st.finished {
                Some(false) => return Err(Stopped),
                Some(true) => break,
                None if st.loaded.covers(key) => break,
                None => st = self.register.grown.wait(st).unwrap_or_else(PoisonError::into_inner),
            }
        }
        self.take(&st);
        Ok(())
    }

    /// True if the register is known to be whole and empty (a first load): no key can match.
    pub fn is_known_empty(&mut self) -> bool {
        self.refresh();
        self.complete && self.loaded.len() == 0
    }

    fn find(&mut self, key: &str) -> Result<Option<(usize, u32)>, Stopped> {
        self.cover(key)?;
        let (s, i) = self.cursor;
        let at_cursor = self.loaded.segments.get(s).is_some_and(|seg| (i as usize) < seg.len() && seg.key_at(i) == key);
        let found = if at_cursor { Some((s, i)) } else { self.loaded.locate(key) };
        if let Some((s, i)) = found {
            self.cursor = (s, i + 1);
            if i as usize + 1 == self.loaded.segments[s].len() {
                self.cursor = (s + 1, 0);
            }
        }
        Ok(found)
    }

    /// The quick check before validation: true if `key` is registered with these very cells and
    /// had not occurred yet, and is now marked present at `at` as unchanged. The same cells read
    /// under the same mapping validate to the same values, so the row needs no validation.
    /// False changes nothing: the row goes through validation and `observe`.
    pub fn observe_cells(&mut self, key: &str, cells: &CellsPrint, at: Occurrence) -> Result<bool, Stopped> {
        let before = self.cursor;
        let Some((s, i)) = self.find(key)? else { return Ok(false) };
        let seg = &self.loaded.segments[s];
        let e = &seg.entries[i as usize];
        let hit = e.cells != NO_CELLS_PRINT
            && &e.cells == cells
            && !seg.is_seen(i as usize)
            && seg.claim(i, Occurrence { first: First::Unchanged, ..at });
        if !hit {
            self.cursor = before;
        }
        Ok(hit)
    }

    /// Marks `key` present in the file at row `at` and says what the fingerprint alone tells.
    /// `at.first` is ignored: it is recorded as unchanged or compare from the fingerprint.
    pub fn observe(&mut self, key: &EmployeeKey, fingerprint: &Fingerprint, at: Occurrence) -> Result<Seen, Stopped> {
        let Some((s, i)) = self.find(key.as_str())? else { return Ok(Seen::First(Quick::New)) };
        let seg = &self.loaded.segments[s];
        let quick = if &seg.entries[i as usize].fingerprint == fingerprint { Quick::Unchanged } else { Quick::Compare };
        let first = if quick == Quick::Unchanged { First::Unchanged } else { First::Compare };
        Ok(if seg.claim(i, Occurrence { first, ..at }) { Seen::First(quick) } else { Seen::Again })
    }

    /// Marks a rejected row's `key` present: `None` if the register does not hold it, else
    /// whether this was the key's first row.
    pub fn observe_rejected(&mut self, key: &EmployeeKey, at: Occurrence) -> Result<Option<bool>, Stopped> {
        let before = self.cursor;
        let found = self.find(key.as_str())?;
        // Rejected rows are few and anywhere: they keep the cursor where valid rows left it.
        self.cursor = before;
        Ok(found.map(|(s, i)| self.loaded.segments[s].claim(i, Occurrence { first: First::Rejected, ..at })))
    }

    /// Whether the register holds `key`, and if so whether they are ended; marks nothing.
    pub fn status(&mut self, key: &EmployeeKey) -> Result<Option<bool>, Stopped> {
        self.cover(key.as_str())?;
        Ok(self.loaded.entry(key.as_str()).map(|(s, i)| s.entries[i as usize].ended))
    }

    /// Records the print of the cells an unchanged person was read from this time, if it is
    /// another than the stored one: the next file written this way skips their validation.
    pub fn reprint(&mut self, key: &EmployeeKey, cells: &CellsPrint) -> Result<(), Stopped> {
        self.cover(key.as_str())?;
        if let Some((s, i)) = self.loaded.entry(key.as_str())
            && s.entries[i as usize].cells != *cells
            && let Some(slot) = print_slot(cells)
        {
            s.set_print(i, slot);
            self.register.prints_moved.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Records that this run writes a stored person's row (with its own print), without
    /// waiting: the person was classified, so their page is loaded. False if they are not.
    pub fn mark_written(&mut self, key: &EmployeeKey) -> bool {
        self.refresh();
        let Some((s, i)) = self.loaded.entry(key.as_str()) else { return false };
        s.set_print(i, PRINT_WRITTEN);
        self.register.prints_moved.store(true, Ordering::Release);
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn at(row: u64) -> Occurrence {
        Occurrence { row, line: row + 1, first: First::New }
    }

    fn whole(people: &[(&str, Fingerprint, CellsPrint, bool)]) -> Register {
        let mut s = Segment::default();
        for &(k, fp, cells, ended) in people {
            s.insert(EmployeeKey::new(k), fp, cells, ended).unwrap();
        }
        Register::whole(s)
    }

    fn key(k: &str) -> EmployeeKey {
        EmployeeKey::new(k)
    }

    #[test]
    fn same_cells_mark_a_person_unchanged_once_and_nothing_else_does() {
        let (fp, cells) = ([3u8; 16], [7u8; 8]);
        let r = whole(&[("a", fp, cells, false), ("b", fp, NO_CELLS_PRINT, false), ("c", fp, cells, false)]);
        let mut l = r.lookup();
        // Other cells, an unknown key, a person stored without a print: no verdict, no mark.
        assert!(!l.observe_cells("a", &[8u8; 8], at(1)).unwrap());
        assert_eq!(l.cursor, (0, 0), "a miss leaves the cursor for the full check");
        assert!(!l.observe_cells("z", &cells, at(1)).unwrap());
        assert!(!l.observe_cells("b", &NO_CELLS_PRINT, at(1)).unwrap());
        assert_eq!(r.first_occurrence(&key("a")), None);
        assert_eq!(r.first_occurrence(&key("b")), None);
        // The same cells: unchanged, and present.
        assert!(l.observe_cells("a", &cells, at(2)).unwrap());
        let first = r.first_occurrence(&key("a")).unwrap();
        assert_eq!((first.row, first.first), (2, First::Unchanged));
        // A second row of the key is not waved through: the full check calls it a repeat.
        assert!(!l.observe_cells("a", &cells, at(3)).unwrap());
        assert_eq!(l.observe(&key("a"), &fp, at(3)), Ok(Seen::Again));
        // A key seen first by the full check is not claimed again by the quick one.
        assert_eq!(l.observe(&key("c"), &fp, at(4)), Ok(Seen::First(Quick::Unchanged)));
        assert!(!l.observe_cells("c", &cells, at(5)).unwrap());
        let missing: Vec<_> = r.missing().map(|k| k.as_str().to_owned()).collect();
        assert_eq!(missing, ["b"]);
    }

    #[test]
    fn missing_skips_seen_and_ended_people() {
        let fp = [0u8; 16];
        let r = whole(&[
            ("a", fp, NO_CELLS_PRINT, false),
            ("b", fp, NO_CELLS_PRINT, false),
            ("c", fp, NO_CELLS_PRINT, true),
        ]);
        let mut l = r.lookup();
        assert_eq!(l.observe(&key("a"), &fp, at(1)), Ok(Seen::First(Quick::Unchanged)));
        assert_eq!(l.observe(&key("z"), &fp, at(2)), Ok(Seen::First(Quick::New)));
        assert_eq!(l.observe_rejected(&key("c"), at(3)), Ok(Some(true)));
        assert_eq!(l.observe_rejected(&key("y"), at(4)), Ok(None));
        let missing: Vec<_> = r.missing().map(|k| k.as_str().to_owned()).collect();
        assert_eq!(missing, vec!["b".to_owned()]);
        assert_eq!(r.active(), 2);
        assert_eq!(r.get(&key("c")), Some((fp, true)));
    }

    #[test]
    fn a_key_is_first_once_and_remembers_where() {
        let (fp, other) = ([0u8; 16], [1u8; 16]);
        let r = whole(&[("a", fp, NO_CELLS_PRINT, false), ("b", fp, NO_CELLS_PRINT, false)]);
        let mut l = r.lookup();
        let (a, b) = (key("a"), key("b"));
        assert_eq!(r.first_occurrence(&a), None);
        assert_eq!(l.observe(&a, &other, at(5)), Ok(Seen::First(Quick::Compare)));
        assert_eq!(l.observe(&a, &fp, at(9)), Ok(Seen::Again));
        assert_eq!(l.observe_rejected(&a, at(10)), Ok(Some(false)));
        assert_eq!(r.first_occurrence(&a), Some(Occurrence { row: 5, line: 6, first: First::Compare }));
        assert_eq!(l.observe_rejected(&b, at(2)), Ok(Some(true)));
        assert_eq!(l.observe(&b, &fp, at(3)), Ok(Seen::Again));
        assert_eq!(r.first_occurrence(&b), Some(Occurrence { row: 2, line: 3, first: First::Rejected }));
    }

    fn fp_of(i: u32) -> Fingerprint {
        let mut fp = [0u8; 16];
        fp[..4].copy_from_slice(&i.to_le_bytes());
        fp
    }

    /// People E00000..E00999 in pages of 100, in key order, pushed onto `r`.
    fn push_pages(r: &Register) {
        for page in 0..10u32 {
            let mut s = Segment::with_capacity(100);
            for i in page * 100..(page + 1) * 100 {
                s.insert_unique(&format!("E{i:05}"), fp_of(i), NO_CELLS_PRINT, i % 10 == 0).unwrap();
            }
            r.push_page(s, &format!("E{:05}", page * 100 + 99)).unwrap();
        }
    }

    #[test]
    fn a_paged_register_finds_every_key_and_tracks_seen_people() {
        let r = Register::loading();
        push_pages(&r);
        r.finish(true);
        assert_eq!(r.len(), 1000);
        let mut l = r.lookup();
        let fp = fp_of(7);
        assert_eq!(l.observe(&key("E00007"), &fp, at(1)), Ok(Seen::First(Quick::Unchanged)));
        assert_eq!(l.observe(&key("E00008"), &fp, at(2)), Ok(Seen::First(Quick::Compare)));
        assert_eq!(l.observe(&key("E01000"), &fp, at(3)), Ok(Seen::First(Quick::New)));
        assert_eq!(l.observe(&key("E"), &fp, at(3)), Ok(Seen::First(Quick::New)), "below the first page");
        // The cursor crosses page boundaries and never changes an answer.
        for i in [5u32, 6, 7, 98, 99, 100, 101, 500, 3, 4, 1001, 999] {
            let k = key(&format!("E{i:05}"));
            let expect = match r.get(&k) {
                _ if i == 7 => Seen::Again,
                None => Seen::First(Quick::New),
                Some((f, _)) if f == fp => Seen::First(Quick::Unchanged),
                Some(_) => Seen::First(Quick::Compare),
            };
            assert_eq!(l.observe(&k, &fp, at(u64::from(i))), Ok(expect), "{i}");
        }
        assert_eq!(r.get(&key("E00450")), Some((fp_of(450), true)));
        assert_eq!(r.cells(&key("E00451")), Some(NO_CELLS_PRINT));
        // 900 active; seen and active: 7, 8, 3, 4, 5, 6, 98, 99, 101 and 999 (100 and 500 are
        // ended, so never missing).
        assert_eq!(r.missing().count(), 890);
        assert_eq!(r.active(), 900);
    }

    #[test]
    fn a_lookup_waits_for_the_page_of_its_key() {
        let r = Register::loading();
        let mut first = Segment::default();
        first.insert_unique("a", [1; 16], NO_CELLS_PRINT, false).unwrap();
        r.push_page(first, "m").unwrap();
        std::thread::scope(|scope| {
            let mut l = r.lookup();
            // Keys up to "m" are decided at once: "b" is new, not waiting for later pages.
            assert_eq!(l.observe(&key("b"), &[0; 16], at(1)), Ok(Seen::First(Quick::New)));
            assert_eq!(l.observe(&key("a"), &[1; 16], at(2)), Ok(Seen::First(Quick::Unchanged)));
            let waiter = scope.spawn(move || l.observe(&key("x"), &[2; 16], at(3)));
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiter.is_finished(), "\"x\" is beyond the loaded pages");
            let mut second = Segment::default();
            second.insert_unique("x", [2; 16], NO_CELLS_PRINT, false).unwrap();
            r.push_page(second, "z").unwrap();
            assert_eq!(waiter.join().unwrap(), Ok(Seen::First(Quick::Unchanged)));
        });
        // A key past the last page waits for the end of the load.
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| r.lookup().observe(&key("zz"), &[0; 16], at(4)));
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiter.is_finished());
            r.finish(true);
            assert_eq!(waiter.join().unwrap(), Ok(Seen::First(Quick::New)));
        });
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn keys_above_the_highest_stored_key_are_new_without_waiting() {
        let r = Register::loading();
        r.set_highest("m").unwrap();
        let mut l = r.lookup();
        assert_eq!(l.observe(&key("x"), &[0; 16], at(1)), Ok(Seen::First(Quick::New)));
        assert!(!l.covers("m") && !l.covers("a"), "keys up to the highest wait for their page");
        let mut page = Segment::default();
        page.insert_unique("m", [1; 16], NO_CELLS_PRINT, false).unwrap();
        r.push_page(page, "m").unwrap();
        assert_eq!(l.observe(&key("m"), &[1; 16], at(2)), Ok(Seen::First(Quick::Unchanged)));
        assert!(r.set_highest("z").is_err(), "only before the pages");
    }

    #[test]
    fn a_failed_or_abandoned_load_stops_waiting_readers() {
        let r = Register::loading();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| r.lookup().observe(&key("a"), &[0; 16], at(1)));
            let guard = r.loader();
            std::thread::sleep(std::time::Duration::from_millis(50));
            drop(guard);
            assert_eq!(waiter.join().unwrap(), Err(Stopped));
        });
        assert!(!r.is_complete());
        assert_eq!(r.get(&key("a")), None, "an unfinished register answers nothing");
        r.finish(true);
        assert!(!r.is_complete(), "a failed load stays failed");
    }

    #[test]
    fn pages_must_come_in_key_order() {
        let r = Register::loading();
        r.push_page(Segment::default(), "m").unwrap();
        assert!(r.push_page(Segment::default(), "m").is_err(), "the same bound twice");
        assert!(r.push_page(Segment::default(), "a").is_err(), "a lower bound");
        assert!(r.push_whole(Segment::default()).is_err(), "a whole register after pages");
        let w = Register::loading();
        w.push_whole(Segment::default()).unwrap();
        assert!(w.push_page(Segment::default(), "z").is_err(), "a page after the whole register");
        w.loader().done(true);
        assert!(w.is_complete() && w.is_empty());
        assert!(w.lookup().is_known_empty());
    }
}
