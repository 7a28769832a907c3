//! hrfeed's bounds on what a hostile workbook can make calamine hold (not in upstream 0.32).
//!
//! XLS and ODS sheets are loaded whole, and their size comes from the file: one far cell, a lying
//! DIMENSIONS record or a `number-columns-repeated` of a billion makes a small file ask for
//! gigabytes, which aborts the process. Zip entries are inflated without regard to the sizes they
//! declare. Here the cells one workbook may make calamine hold are counted against a limit the
//! application sets, and a zip entry may yield no more than it declares, so each of these fails
//! the file with an error (an `io::Error` carrying [`Exceeded`]) instead.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

/// The most cells (a sheet's used area, rows × columns, plus the cells read for it) that one XLS
/// or ODS workbook may make calamine hold, over all its sheets. Unbounded unless set.
pub static MAX_CELLS: AtomicU64 = AtomicU64::new(u64::MAX);

/// The most bytes an XML element or text may span in a zip entry (between two angle brackets):
/// quick-xml holds one whole event in memory.
pub static MAX_XML_TOKEN_BYTES: AtomicU64 = AtomicU64::new(u64::MAX);

/// A bound was passed: what, and the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    /// What went past its bound, as a phrase: "cells", "declared size", "xml token".
    pub what: &'static str,
    /// The bound.
    pub limit: u64,
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "more than {} ({})", self.limit, self.what)
    }
}

impl std::error::Error for Exceeded {}

impl Exceeded {
    pub(crate) fn io(self) -> io::Error {
        io::Error::other(self)
    }
}

/// The cells still allowed for one workbook.
#[derive(Debug)]
pub(crate) struct CellBudget {
    left: u64,
    limit: u64,
}

impl CellBudget {
    pub(crate) fn new() -> CellBudget {
        let limit = MAX_CELLS.load(Ordering::Relaxed);
        CellBudget { left: limit, limit }
    }

    /// Takes `n` cells, or fails once the workbook would hold more than the limit.
    pub(crate) fn take(&mut self, n: u64) -> io::Result<()> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(Exceeded { what: "cells", limit: self.limit }.io()),
        }
    }

    /// Fails if `n` more cells would pass the limit, without taking them.
    pub(crate) fn check(&self, n: u64) -> io::Result<()> {
        if n > self.left {
            return Err(Exceeded { what: "cells", limit: self.limit }.io());
        }
        Ok(())
    }
}

/// The cells of the rectangle `from_sparse` would allocate for these positions.
pub(crate) fn sparse_area(positions: impl Iterator<Item = (u32, u32)>) -> u64 {
    let (mut r0, mut r1, mut c0, mut c1) = (u32::MAX, 0, u32::MAX, 0);
    let mut any = false;
    for (r, c) in positions {
        any = true;
        r0 = r0.min(r);
        r1 = r1.max(r);
        c0 = c0.min(c);
        c1 = c1.max(c);
    }
    if !any {
        return 0;
    }
    (u64::from(r1 - r0) + 1).saturating_mul(u64::from(c1 - c0) + 1)
}

/// A zip entry's inflated bytes, failing once more come out than the entry declares, or an XML
/// token grows past [`MAX_XML_TOKEN_BYTES`].
pub struct BoundedEntry<R> {
    inner: R,
    left: u64,
    declared: u64,
    token: u64,
    max_token: u64,
}

impl<R: Read> BoundedEntry<R> {
    pub(crate) fn new(inner: R, declared: u64) -> BoundedEntry<R> {
        let max_token = MAX_XML_TOKEN_BYTES.load(Ordering::Relaxed);
        BoundedEntry { inner, left: declared, declared, token: 0, max_token }
    }
}

impl<R: Read> Read for BoundedEntry<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = match self.left.checked_sub(n as u64) {
            Some(left) => left,
            None => return Err(Exceeded { what: "declared size", limit: self.declared }.io()),
        };
        if self.max_token != u64::MAX {
            let chunk = &buf[..n];
            match chunk.iter().rposition(|b| *b == b'<' || *b == b'>') {
                Some(at) => self.token = (n - at - 1) as u64,
                None => self.token += n as u64,
            }
            if self.token > self.max_token {
                return Err(Exceeded { what: "xml token", limit: self.max_token }.io());
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_may_not_yield_more_than_it_declares() {
        let mut out = Vec::new();
        let err = BoundedEntry::new(&b"0123456789"[..], 4).read_to_end(&mut out).unwrap_err();
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<Exceeded>()).copied();
        assert_eq!(inner, Some(Exceeded { what: "declared size", limit: 4 }));
        let mut out = Vec::new();
        BoundedEntry::new(&b"0123456789"[..], 10).read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn the_area_of_sparse_cells() {
        assert_eq!(sparse_area([(0, 0), (65535, 255)].into_iter()), 65536 * 256);
        assert_eq!(sparse_area(std::iter::empty()), 0);
    }
}
