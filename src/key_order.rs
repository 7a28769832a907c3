//! Key order for a run's register writes. The register is stored in key order (SQLite keeps
//! `employees` as a B-tree on its key), so writes in any other order touch a random page each:
//! with a page cache far smaller than the register, a shuffled 1M-row first load spent 28 s of
//! page spills where a sorted one took 7 s. Writes that arrive in ascending key order go through
//! at once; the rest are held back and written after the stream, merged into key order.
//!
//! On a store that appends new rows to a heap (PostgreSQL), writes are not held to the end:
//! there the stream's writes overlap validation, and only the key index minds the order. Writes
//! out of order are gathered up to half the memory budget and go sorted, so consecutive index inserts land on
//! the same leaf pages (a shuffled 1M-row first load: 12.1 s against 16.8 s; held to the end as
//! on SQLite, 13.2 s), and a day 2's updates reach the heap page after page.
//!
//! Held writes wait in memory up to `MEMORY_BUDGET`, then go to disk as sorted runs, one
//! anonymous temporary file each (beside the SQLite database, else in the system's temporary
//! folder; unlinked as it is created, so gone when the run ends, also after a crash). A run
//! file holds what the register itself holds: employee ids in clear and values sealed under
//! each person's data key, fingerprints and cells prints; never a plain value.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::mem;

use crate::diff::Class;
use crate::ids::EmployeeKey;
use crate::seal::{CELLS_PRINT, FINGERPRINT};
use crate::store::{Batch, PersonWrite};

/// Held writes kept in memory before a sorted run goes to disk; `HRFEED_KEY_ORDER_MEMORY_KIB`
/// sets another amount (tests make it small, so a small file takes the way of a large one).
const MEMORY_BUDGET: usize = 16 << 20;

fn memory_budget() -> usize {
    std::env::var("HRFEED_KEY_ORDER_MEMORY_KIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(MEMORY_BUDGET, |kib| kib.saturating_mul(1024).max(1))
}
/// Writes gathered before they go, sorted, on a store whose register is not kept in key order
/// (PostgreSQL), as a share of the memory budget (8 MiB of 16): its key index takes sorted
/// inserts far quicker, as consecutive ones land on the same leaf pages, and sorted updates
/// visit the heap (loaded in key order) page after page.
fn window(budget: usize) -> usize {
    (budget / 2).max(1)
}
/// Read buffer per run file while merging.
const READ_BUFFER: usize = 128 << 10;
/// An allocation's bookkeeping, counted beside its bytes so the budget bounds real memory.
const PER_ALLOCATION: usize = 32;

/// The memory a held write takes, counted against the budget.
fn size(p: &PersonWrite) -> usize {
    mem::size_of::<PersonWrite>()
        + p.key.as_str().len()
        + p.key_id.len()
        + p.sealed.len()
        + p.fields.iter().map(|f| f.len() + PER_ALLOCATION).sum::<usize>()
        + p.delete_on.as_ref().map_or(0, String::len)
        + 4 * PER_ALLOCATION
}

fn key(p: &PersonWrite) -> &str {
    p.key.as_str()
}

/// Splits a run's writes into those that may go now and those held for key order.
///
/// Each batch is sorted and waits for the next one. Its writes then go if they keep the writes
/// in ascending key order: above every key written so far, and below every key of the next
/// batch (so far keys among sorted ones, such as hires numbered after everyone, are held instead
/// of raising the bar for all that follow). A file in key order has almost all its writes go at
/// once; a shuffled one has almost all held. A key arrives at most once in a run's stream (a
/// repeated key's later rows are rejected, not written).
pub(crate) struct KeyOrder {
    /// Whether the store keeps its register in key order: writes out of order are then held to
    /// the end, else gathered into sorted windows.
    clustered: bool,
    /// Where run files go (`None`: the system's temporary folder).
    dir: Option<std::path::PathBuf>,
    budget: usize,
    /// The highest key written so far.
    high: Option<String>,
    /// The previous batch, sorted, waiting for the keys after it.
    window: Vec<PersonWrite>,
    held: Vec<PersonWrite>,
    held_bytes: usize,
    runs: Vec<File>,
    /// On a store not kept in key order: writes gathered to go sorted (see `window`).
    gathered: Vec<PersonWrite>,
    gathered_bytes: usize,
    /// The highest key that went or gathered so far, on such a store.
    gathered_high: Option<String>,
    /// Writes held back so far.
    count: u64,
}

impl Default for KeyOrder {
    fn default() -> Self {
        KeyOrder {
            clustered: true,
            dir: None,
            budget: memory_budget(),
            high: None,
            window: Vec::new(),
            held: Vec::new(),
            held_bytes: 0,
            runs: Vec::new(),
            gathered: Vec::new(),
            gathered_bytes: 0,
            gathered_high: None,
            count: 0,
        }
    }
}

impl KeyOrder {
    /// Key order for a store that keeps its register in key order (`clustered`), else sorted
    /// windows.
    pub(crate) fn for_store(clustered: bool, dir: Option<std::path::PathBuf>) -> KeyOrder {
        KeyOrder { clustered, dir, ..KeyOrder::default() }
    }

    /// Replaces the people of `batch` with those of the previous batch that may go now (see
    /// `KeyOrder`); the rest come back from `drain`.
    pub(crate) fn hold_back(&mut self, batch: &mut Batch) -> io::Result<()> {
        if !self.clustered {
            self.gather(batch);
            return Ok(());
        }
        let mut arrived = mem::take(&mut batch.people);
        arrived.sort_by(|a, b| key(a).cmp(key(b)));
        let mut next = Vec::with_capacity(arrived.len());
        for w in arrived {
            // Below what went already: held, and no bar for the writes before it.
            if self.high.as_deref().is_some_and(|h| key(&w) <= h) {
                self.hold(w)?;
            } else {
                next.push(w);
            }
        }
        let waiting = mem::replace(&mut self.window, next);
        let bar = self.window.first().map(|w| key(w).to_owned());
        let mut go = true;
        for w in waiting {
            go = go && bar.as_deref().is_none_or(|b| key(&w) < b);
            if !go {
                self.hold(w)?;
                continue;
            }
            match &mut self.high {
                Some(h) => {
                    h.clear();
                    h.push_str(key(&w));
                }
                None => self.high = Some(key(&w).to_owned()),
            }
            batch.people.push(w);
        }
        Ok(())
    }

    /// On a store not kept in key order: writes that ascend go at once, the rest gather, and a
    /// full window goes sorted.
    fn gather(&mut self, batch: &mut Batch) {
        for p in mem::take(&mut batch.people) {
            // Above every key that went or gathered (a file sorted by key, a few stragglers
            // aside): nothing to gain by waiting, and no earlier write of its key can be waiting.
            if self.gathered_high.as_deref().is_none_or(|h| key(&p) > h) {
                self.gathered_high = Some(key(&p).to_owned());
                batch.people.push(p);
            } else {
                self.gathered_bytes += size(&p);
                self.gathered.push(p);
            }
        }
        if self.gathered_bytes >= window(self.budget) {
            // Stable: a key gathered twice keeps its arrival order, so the later write wins.
            self.gathered.sort_by(|a, b| key(a).cmp(key(b)));
            batch.people.append(&mut self.gathered);
            self.gathered_bytes = 0;
        }
    }

    fn hold(&mut self, w: PersonWrite) -> io::Result<()> {
        self.count += 1;
        self.held_bytes += size(&w);
        self.held.push(w);
        if self.held_bytes >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes the held writes, sorted, to a new run file.
    fn spill(&mut self) -> io::Result<()> {
        let mut held = mem::take(&mut self.held);
        self.held_bytes = 0;
        // Stable: a key held twice keeps its arrival order, so the later write wins.
        held.sort_by(|a, b| key(a).cmp(key(b)));
        let file = match &self.dir {
            Some(dir) => tempfile::tempfile_in(dir)?,
            None => tempfile::tempfile()?,
        };
        let mut out = BufWriter::with_capacity(READ_BUFFER, file);
        for w in &held {
            encode(w, &mut out)?;
        }
        let mut file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.rewind()?;
        self.runs.push(file);
        Ok(())
    }

    /// The held writes in key order (arrival order within a key), in batches of up to `per_batch`.
    pub(crate) fn drain(mut self, per_batch: usize) -> io::Result<Drain> {
        for w in mem::take(&mut self.window).into_iter().chain(mem::take(&mut self.gathered)) {
            self.hold(w)?;
        }
        self.held.sort_by(|a, b| key(a).cmp(key(b)));
        let mut sources: Vec<Source> =
            self.runs.into_iter().map(|f| Source::File(BufReader::with_capacity(READ_BUFFER, f))).collect();
        // The writes still in memory are the newest: they merge last among equal keys.
        sources.push(Source::Memory(mem::take(&mut self.held).into_iter()));
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some(w) = s.next()? {
                heap.push(Reverse(Head { key: key(&w).to_owned(), source: i, write: w }));
            }
        }
        Ok(Drain { sources, heap, per_batch: per_batch.max(1), count: self.count })
    }
}

struct Head {
    key: String,
    source: usize,
    write: PersonWrite,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        (self.key.as_str(), self.source) == (other.key.as_str(), other.source)
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.key.as_str(), self.source).cmp(&(other.key.as_str(), other.source))
    }
}

enum Source {
    File(BufReader<File>),
    Memory(std::vec::IntoIter<PersonWrite>),
}

impl Source {
    fn next(&mut self) -> io::Result<Option<PersonWrite>> {
        match self {
            Source::File(r) => decode(r),
            Source::Memory(it) => Ok(it.next()),
        }
    }
}

/// The held writes, merged into key order.
pub(crate) struct Drain {
    sources: Vec<Source>,
    heap: BinaryHeap<Reverse<Head>>,
    per_batch: usize,
    /// Writes held in all.
    pub(crate) count: u64,
}

impl Drain {
    /// The next batch in key order, or `None` when all are out.
    pub(crate) fn next_batch(&mut self) -> io::Result<Option<Batch>> {
        let mut batch = Batch::default();
        while batch.len() < self.per_batch {
            let Some(Reverse(head)) = self.heap.pop() else { break };
            if let Some(w) = self.sources[head.source].next()? {
                self.heap.push(Reverse(Head { key: key(&w).to_owned(), source: head.source, write: w }));
            }
            batch.people.push(head.write);
        }
        Ok((!batch.is_empty()).then_some(batch))
    }
}

const PERSON: u8 = 1;

fn put_bytes(out: &mut impl Write, b: &[u8]) -> io::Result<()> {
    let n =
        u32::try_from(b.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a held value is too long"))?;
    out.write_all(&n.to_le_bytes())?;
    out.write_all(b)
}

fn class_byte(c: Class) -> u8 {
    match c {
        Class::New => 0,
        Class::Rehired => 1,
        Class::Ended => 2,
        Class::Changed => 3,
        Class::Unchanged => 4,
    }
}

fn encode(p: &PersonWrite, out: &mut impl Write) -> io::Result<()> {
    out.write_all(&[PERSON, class_byte(p.class), u8::from(p.ended)])?;
    put_bytes(out, p.key.as_str().as_bytes())?;
    put_bytes(out, &p.key_id)?;
    out.write_all(&p.fingerprint)?;
    out.write_all(&p.cells)?;
    put_bytes(out, &p.sealed)?;
    let n = u32::try_from(p.fields.len()).unwrap_or(u32::MAX);
    out.write_all(&n.to_le_bytes())?;
    for f in &p.fields {
        put_bytes(out, f.as_bytes())?;
    }
    match &p.delete_on {
        Some(d) => {
            out.write_all(&[1])?;
            put_bytes(out, d.as_bytes())
        }
        None => out.write_all(&[0]),
    }
}

fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "a temporary sort file reads back other than it was written")
}

fn get_array<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn get_bytes(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let n = u32::from_le_bytes(get_array(r)?) as usize;
    let mut b = vec![0u8; n];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn get_string(r: &mut impl Read) -> io::Result<String> {
    String::from_utf8(get_bytes(r)?).map_err(|_| corrupt())
}

fn decode(r: &mut impl Read) -> io::Result<Option<PersonWrite>> {
    let mut tag = [0u8; 1];
    if r.read(&mut tag)? == 0 {
        return Ok(None);
    }
    match tag[0] {
        PERSON => {
            let [class, ended] = get_array(r)?;
            let class = match class {
                0 => Class::New,
                1 => Class::Rehired,
                2 => Class::Ended,
                3 => Class::Changed,
                4 => Class::Unchanged,
                _ => return Err(corrupt()),
            };
            let key = EmployeeKey::new(&get_string(r)?);
            let key_id = get_bytes(r)?;
            let fingerprint = get_array::<FINGERPRINT>(r)?;
            let cells = get_array::<CELLS_PRINT>(r)?;
            let sealed = get_bytes(r)?;
            let n = u32::from_le_bytes(get_array(r)?);
            let fields = (0..n).map(|_| get_string(r)).collect::<io::Result<Vec<_>>>()?;
            let delete_on = match get_array::<1>(r)?[0] {
                0 => None,
                1 => Some(get_string(r)?),
                _ => return Err(corrupt()),
            };
            Ok(Some(PersonWrite {
                key,
                class,
                key_id,
                fingerprint,
                cells,
                ended: ended == 1,
                sealed,
                fields,
                delete_on,
            }))
        }
        _ => Err(corrupt()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn person(key: &str, sealed_len: usize, class: Class) -> PersonWrite {
        PersonWrite {
            key: EmployeeKey::new(key),
            class,
            key_id: vec![7; 16],
            fingerprint: [3; FINGERPRINT],
            cells: [4; CELLS_PRINT],
            ended: key.ends_with('9'),
            sealed: vec![b'x'; sealed_len],
            fields: if class == Class::Changed { vec!["phone".into(), "email".into()] } else { Vec::new() },
            delete_on: key.ends_with('9').then(|| "2027-01-01".to_owned()),
        }
    }

    fn drain_all(order: KeyOrder, per_batch: usize) -> Vec<Batch> {
        let mut d = order.drain(per_batch).unwrap();
        let mut out = Vec::new();
        while let Some(b) = d.next_batch().unwrap() {
            assert!(b.len() <= per_batch);
            out.push(b);
        }
        out
    }

    fn keys(people: &[PersonWrite]) -> Vec<String> {
        people.iter().map(|p| p.key.as_str().to_owned()).collect()
    }

    #[test]
    fn sorted_writes_go_now_and_a_far_or_late_key_is_held() {
        let mut order = KeyOrder::default();
        let mut now = Vec::new();
        for b in 0..10 {
            let mut batch = Batch::default();
            // Each batch arrives in its own order; across batches the keys ascend.
            for i in (0..10).rev() {
                batch.people.push(person(&format!("E{:03}", 10 * b + i), 10, Class::New));
            }
            if b == 3 {
                // A hire numbered after everyone, among sorted rows.
                batch.people.push(person("H999", 10, Class::New));
            }
            if b == 6 {
                // A changed person whose stored record was compared late: below what went.
                batch.people.push(person("E005", 10, Class::Changed));
            }
            order.hold_back(&mut batch).unwrap();
            now.extend(keys(&batch.people));
        }
        let mut expected: Vec<String> = (0..90).map(|i| format!("E{i:03}")).collect();
        assert_eq!(now, expected, "in order, minus the last batch still waiting for what follows");
        let out = drain_all(order, 100);
        let drained = keys(&out[0].people);
        expected = (90..100).map(|i| format!("E{i:03}")).collect();
        expected.insert(0, "E005".into());
        expected.push("H999".into());
        assert_eq!(drained, expected);
        assert_eq!(out[0].people[0].class, Class::Changed);
    }

    #[test]
    fn held_writes_spill_to_sorted_runs_and_merge_back_whole() {
        let mut order = KeyOrder::default();
        // Descending keys: every write is held; 1 KiB each crosses the memory budget many
        // times over.
        let n = 3 * MEMORY_BUDGET / 1000;
        let mut people = Vec::new();
        for i in (0..n).rev() {
            let mut b = Batch::default();
            let class = if i.is_multiple_of(3) { Class::Changed } else { Class::New };
            b.people.push(person(&format!("K{i:07}"), 1000, class));
            order.hold_back(&mut b).unwrap();
            assert!(b.is_empty());
        }
        assert!(order.runs.len() >= 2, "{} runs", order.runs.len());
        for b in drain_all(order, 1000) {
            for p in &b.people {
                let i: usize = p.key.as_str()[1..].parse().unwrap();
                assert_eq!(p.sealed.len(), 1000);
                assert_eq!(p.class, if i.is_multiple_of(3) { Class::Changed } else { Class::New });
                assert_eq!(p.fields.len(), if i.is_multiple_of(3) { 2 } else { 0 });
                assert_eq!(p.ended, p.delete_on.is_some());
                people.push(p.key.as_str().to_owned());
            }
        }
        assert!(people.windows(2).all(|w| w[0] < w[1]), "people come back in key order");
        assert_eq!(people.len(), n, "every write exactly once");
    }

    #[test]
    fn unclustered_writes_go_at_once_when_ascending_else_sorted_later() {
        let mut order = KeyOrder::for_store(false, None);
        let mut batch = Batch::default();
        for k in ["E3", "E4", "E1", "E5", "E2"] {
            batch.people.push(person(k, 10, Class::New));
        }
        batch.people.push(person("E0", 10, Class::Changed));
        order.hold_back(&mut batch).unwrap();
        // E3, E4 and E5 ascend; E1, E2 and E0, below what went, gather for a sorted write.
        assert_eq!(keys(&batch.people), ["E3", "E4", "E5"]);
        let out = drain_all(order, 10);
        assert_eq!(keys(&out[0].people), ["E0", "E1", "E2"]);
        assert_eq!(out[0].people[0].class, Class::Changed);
    }

    #[test]
    fn unclustered_shuffled_writes_go_in_sorted_windows_each_once() {
        let mut order = KeyOrder::for_store(false, None);
        let n = 3 * window(MEMORY_BUDGET) / 1000;
        // A fixed shuffle: i times a prime that does not divide n, modulo n.
        let mut sent = Vec::new();
        let mut windows = 0;
        for i in 0..n {
            let k = format!("K{:07}", (i * 7919) % n);
            let mut b = Batch::default();
            let class = if i.is_multiple_of(3) { Class::Changed } else { Class::New };
            b.people.push(person(&k, 1000, class));
            order.hold_back(&mut b).unwrap();
            let got = keys(&b.people);
            if got.len() > 1 {
                windows += 1;
                assert!(got.windows(2).all(|w| w[0] < w[1]), "a window goes sorted");
            }
            sent.extend(got);
        }
        assert!(windows >= 2, "{windows} windows");
        for b in drain_all(order, 1000) {
            sent.extend(keys(&b.people));
        }
        assert_eq!(sent.len(), n, "as many writes as people");
        sent.sort();
        sent.dedup();
        assert_eq!(sent.len(), n, "every person exactly once");
    }

    #[test]
    fn a_key_held_twice_comes_back_in_arrival_order() {
        let mut order = KeyOrder::default();
        order.hold(person("A", 1, Class::New)).unwrap();
        // The first of the two goes to a run file, the second stays in memory.
        order.spill().unwrap();
        order.hold(person("A", 1, Class::Changed)).unwrap();
        let out = drain_all(order, 10);
        let classes: Vec<_> = out[0].people.iter().map(|p| p.class).collect();
        assert_eq!(classes, [Class::New, Class::Changed]);
    }

    #[test]
    fn a_damaged_run_file_is_an_error_not_a_wrong_write() {
        let mut bytes = Vec::new();
        encode(&person("E1", 5, Class::New), &mut bytes).unwrap();
        for cut in 1..bytes.len() {
            assert!(decode(&mut &bytes[..cut]).is_err(), "cut at {cut}");
        }
        bytes[0] = 9;
        assert!(decode(&mut &bytes[..]).is_err());
    }
}
