//! The overlay of cells prints: the prints of people found unchanged in cells written another
//! way than those their row was stored from (a re-rendered export), kept apart from the rows.
//!
//! Writing each such print into its person's row rewrote every page of the register when an
//! export changed its rendering (on SQLite ~2.7 s of 1M people's wide rows; on PostgreSQL an
//! MVCC row version per person, 13–18 s). The overlay is a few packed pages per tenant instead,
//! rewritten whole at the end of a run that moved any print (`Register::print_overlay`): about
//! 17 bytes a person. A person's row written again drops their overlay entry, since the row then
//! holds the print of the cells it was written from.
//!
//! A page holds up to `PER_PAGE` entries in key order (byte order), each the print, the key and
//! `KEY_END`; pages are stored by their last key.

use super::StoreError;
use crate::register::{Register, Segment};
use crate::seal::{CELLS_PRINT, CellsPrint};

/// Entries per stored page: about 300 KB.
const PER_PAGE: usize = 16_384;

/// Ends each key: the byte 0xFF never occurs in UTF-8 text.
const KEY_END: u8 = 0xFF;

/// SQL both backends share.
pub(super) const DELETE: &str = "DELETE FROM cells_overlay WHERE tenant = $1";
pub(super) const INSERT: &str = "INSERT INTO cells_overlay (tenant, last_key, prints) VALUES ($1, $2, $3)";
pub(super) const NEXT: &str =
    "SELECT last_key, prints FROM cells_overlay WHERE tenant = $1 AND last_key > $2 ORDER BY last_key LIMIT 1";

/// One stored page of the overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintsPage {
    pub last: String,
    pub packed: Vec<u8>,
}

/// Packs overlay entries, in strictly ascending key order, into pages, one at a time.
pub fn pack<'a>(entries: impl Iterator<Item = (&'a str, CellsPrint)>) -> impl Iterator<Item = PrintsPage> {
    let mut entries = entries.peekable();
    std::iter::from_fn(move || {
        entries.peek()?;
        let mut packed = Vec::new();
        let mut last = "";
        for (key, print) in entries.by_ref().take(PER_PAGE) {
            packed.extend_from_slice(&print);
            packed.extend_from_slice(key.as_bytes());
            packed.push(KEY_END);
            last = key;
        }
        Some(PrintsPage { last: last.to_owned(), packed })
    })
}

fn malformed() -> StoreError {
    StoreError::Database("malformed cells print overlay page".into())
}

/// Reads the overlay page by page beside the register's load, applying each print to the
/// loaded page that holds its person.
#[derive(Debug, Default)]
pub(crate) struct PrintsCursor {
    page: Option<PrintsPage>,
    at: usize,
    /// The last key of the page before, or of the last entry applied: keys must ascend.
    after: String,
    done: bool,
    /// Entries that named a key the register does not hold (people no longer stored).
    skipped: u64,
}

impl PrintsCursor {
    /// The key the next page must start after.
    fn after(&self) -> &str {
        self.page.as_ref().map_or(&self.after, |p| &p.last)
    }

    /// True if the current page is used up and the store may hold more.
    fn wants_page(&self) -> bool {
        !self.done && self.page.as_ref().is_none_or(|p| self.at >= p.packed.len())
    }

    /// Takes the next page (`None`: there are no more).
    fn feed(&mut self, page: Option<PrintsPage>) -> Result<(), StoreError> {
        let after = self.after().to_owned();
        match page {
            None => self.done = true,
            Some(p) if p.last <= after || p.packed.is_empty() => return Err(malformed()),
            Some(p) => {
                self.page = Some(p);
                self.at = 0;
            }
        }
        self.after = after;
        Ok(())
    }

    /// Applies the overlay's entries up to `upto` (all if `None`) to `segment`, fetching pages
    /// with `fetch` (given the key the page must start after) as they are used up.
    pub(crate) async fn apply_upto<F, Fut>(
        &mut self,
        segment: &mut Segment,
        upto: Option<&str>,
        mut fetch: F,
    ) -> Result<(), StoreError>
    where
        F: FnMut(String) -> Fut,
        Fut: std::future::Future<Output = Result<Option<PrintsPage>, StoreError>>,
    {
        loop {
            self.skipped += self.apply(segment, upto)?;
            if !self.wants_page() {
                return Ok(());
            }
            let page = fetch(self.after().to_owned()).await?;
            self.feed(page)?;
        }
    }

    /// Ends the load once every register page is in: reads (and checks) the entries past the
    /// last key, and if any entry named someone no longer stored, has the run rewrite the
    /// overlay without them (`Register::note_stale_prints`).
    pub(crate) async fn finish<F, Fut>(mut self, into: &Register, fetch: F) -> Result<(), StoreError>
    where
        F: FnMut(String) -> Fut,
        Fut: std::future::Future<Output = Result<Option<PrintsPage>, StoreError>>,
    {
        self.apply_upto(&mut Segment::default(), None, fetch).await?;
        if self.skipped > 0 {
            tracing::debug!(skipped = self.skipped, "The cells print overlay named people no longer stored.");
            into.note_stale_prints();
        }
        Ok(())
    }

    /// Applies the current page's entries up to `upto` (all if `None`) to `segment`; stops
    /// at the page's end (see `wants_page`). Counts the entries whose key is not loaded.
    fn apply(&mut self, segment: &mut Segment, upto: Option<&str>) -> Result<u64, StoreError> {
        let Some(page) = &self.page else { return Ok(0) };
        let mut skipped = 0;
        while self.at < page.packed.len() {
            let rest = &page.packed[self.at..];
            let (print, tail) = rest.split_first_chunk::<CELLS_PRINT>().ok_or_else(malformed)?;
            let end = memchr::memchr(KEY_END, tail).ok_or_else(malformed)?;
            let key = std::str::from_utf8(&tail[..end]).map_err(|_| malformed())?;
            if key <= self.after.as_str() || key > page.last.as_str() {
                return Err(malformed());
            }
            if upto.is_some_and(|u| key > u) {
                break;
            }
            if !segment.overlay(key, *print) {
                skipped += 1;
            }
            self.at += CELLS_PRINT + end + 1;
            key.clone_into(&mut self.after);
            if self.at == page.packed.len() && key != page.last {
                return Err(malformed());
            }
        }
        Ok(skipped)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::ids::EmployeeKey;

    fn segment(keys: &[String]) -> Segment {
        let mut s = Segment::default();
        for k in keys {
            s.insert(EmployeeKey::new(k), [0; 16], [1; CELLS_PRINT], false).unwrap();
        }
        s
    }

    #[tokio::test]
    async fn pages_apply_to_the_loaded_pages_that_hold_their_keys() {
        let keys: Vec<String> = (0..100_000).map(|i| format!("E{i:06}")).collect();
        // Every third person has an overlay print, one more is no longer stored.
        let mut overlay: Vec<(&str, CellsPrint)> =
            keys.iter().step_by(3).map(|k| (k.as_str(), [9; CELLS_PRINT])).collect();
        overlay.push(("F", [9; CELLS_PRINT]));
        let pages: Vec<PrintsPage> = pack(overlay.into_iter()).collect();
        assert_eq!(pages.len(), 3);
        let register = Register::loading();
        let mut cursor = PrintsCursor::default();
        let mut fetches = Vec::new();
        let mut fetch = |after: String| {
            fetches.push(after.clone());
            let page = pages.iter().find(|p| p.last > after).cloned();
            async move { Ok(page) }
        };
        for chunk in keys.chunks(7_000) {
            let mut seg = segment(chunk);
            let last = chunk.last().unwrap();
            cursor.apply_upto(&mut seg, Some(last), &mut fetch).await.unwrap();
            register.push_page(seg, last).unwrap();
        }
        cursor.apply_upto(&mut Segment::default(), None, &mut fetch).await.unwrap();
        let skipped = cursor.skipped;
        cursor.finish(&register, &mut fetch).await.unwrap();
        register.finish(true);
        assert_eq!(fetches.len(), 4, "each page once, and once more to find there are no more");
        assert_eq!(skipped, 1);
        for (i, k) in keys.iter().enumerate() {
            let expected = if i % 3 == 0 { [9; CELLS_PRINT] } else { [1; CELLS_PRINT] };
            assert_eq!(register.cells(&EmployeeKey::new(k)), Some(expected), "{k}");
        }
    }

    #[test]
    fn a_damaged_page_is_an_error() {
        let pages: Vec<PrintsPage> = pack([("A", [1; CELLS_PRINT]), ("B", [2; CELLS_PRINT])].into_iter()).collect();
        let good = pages[0].clone();
        let damaged = [
            PrintsPage { packed: good.packed[..good.packed.len() - 1].to_vec(), ..good.clone() },
            PrintsPage { last: "A".into(), ..good.clone() },
            PrintsPage { packed: [&good.packed[9..], &good.packed[..9]].concat(), ..good.clone() },
        ];
        for page in damaged {
            let mut cursor = PrintsCursor::default();
            cursor.feed(Some(page.clone())).unwrap();
            assert!(cursor.apply(&mut Segment::default(), None).is_err(), "{page:?}");
        }
        let mut cursor = PrintsCursor::default();
        cursor.feed(Some(good.clone())).unwrap();
        cursor.apply(&mut Segment::default(), None).unwrap();
        assert!(cursor.feed(Some(good)).is_err(), "a page that does not follow the one before");
    }
}
