//! PostgreSQL's binary `COPY` format, for the bulk of a run's writes: one `COPY … FROM STDIN`
//! per batch instead of multi-row `INSERT`s whose every value is a bind.
//! (<https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4>)

use sqlx::PgConnection;

use super::StoreError;

/// Rows in the binary format, header first; `finish` adds the trailer.
pub(super) struct CopyRows {
    buf: Vec<u8>,
    rows: usize,
}

impl CopyRows {
    pub(super) fn new() -> CopyRows {
        let mut buf = Vec::with_capacity(64 << 10);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        // Flags (no OIDs), then the length of the header extension area (none).
        buf.extend_from_slice(&0i32.to_be_bytes());
        buf.extend_from_slice(&0i32.to_be_bytes());
        CopyRows { buf, rows: 0 }
    }

    /// Starts a row of `fields` values.
    pub(super) fn row(&mut self, fields: i16) -> &mut Self {
        self.rows += 1;
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    /// A `bytea` value, or `text` as its UTF-8 bytes.
    pub(super) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        // Values here are ids, keys and sealed records, far below 2 GiB; a longer one would
        // be refused by PostgreSQL as a malformed row, not written wrong.
        let n = i32::try_from(b.len()).unwrap_or(i32::MAX);
        self.buf.extend_from_slice(&n.to_be_bytes());
        self.buf.extend_from_slice(b);
        self
    }

    pub(super) fn text(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    pub(super) fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => {
                self.buf.extend_from_slice(&(-1i32).to_be_bytes());
                self
            }
        }
    }

    pub(super) fn boolean(&mut self, b: bool) -> &mut Self {
        self.bytes(&[u8::from(b)])
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Sends the rows with `statement` (a `COPY … FROM STDIN (FORMAT binary)`).
    pub(super) async fn send(mut self, conn: &mut PgConnection, statement: &str) -> Result<(), StoreError> {
        if self.rows == 0 {
            return Ok(());
        }
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        let mut copy = conn.copy_in_raw(statement).await?;
        if let Err(e) = copy.send(self.buf).await {
            // The connection must leave COPY mode to be used again (the transaction rolls back).
            let _ = copy.abort("the run's write failed").await;
            return Err(e.into());
        }
        copy.finish().await?;
        Ok(())
    }
}

pub(super) fn malformed() -> StoreError {
    StoreError::Database("PostgreSQL sent a binary COPY stream that does not parse".into())
}

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Rows of a binary `COPY … TO STDOUT`, from the chunks as they arrive.
#[derive(Default)]
pub(super) struct CopyReader {
    buf: Vec<u8>,
    at: usize,
    header_read: bool,
    ended: bool,
}

/// One row's fields, borrowed from the reader's buffer.
pub(super) struct CopyRow<'a> {
    fields: Vec<Option<&'a [u8]>>,
}

impl CopyRow<'_> {
    /// The row's `N` fields (`None`: SQL NULL); another count is a malformed stream.
    pub(super) fn fields<const N: usize>(&self) -> Result<[Option<&[u8]>; N], StoreError> {
        <[Option<&[u8]>; N]>::try_from(self.fields.as_slice()).map_err(|_| malformed())
    }
}

impl CopyReader {
    pub(super) fn push(&mut self, chunk: &[u8]) {
        if self.at > 0 && self.at == self.buf.len() {
            self.buf.clear();
            self.at = 0;
        } else if self.at > (1 << 20) {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole row, or `None` until more bytes arrive (or after the trailer).
    pub(super) fn next_row(&mut self) -> Result<Option<CopyRow<'_>>, StoreError> {
        if self.ended {
            return if self.at == self.buf.len() { Ok(None) } else { Err(malformed()) };
        }
        let rest = &self.buf[self.at..];
        if !self.header_read {
            let Some(fixed) = rest.get(..SIGNATURE.len() + 8) else { return Ok(None) };
            if &fixed[..SIGNATURE.len()] != SIGNATURE {
                return Err(malformed());
            }
            let ext = u32::from_be_bytes(fixed[SIGNATURE.len() + 4..].try_into().map_err(|_| malformed())?) as usize;
            if rest.len() < fixed.len() + ext {
                return Ok(None);
            }
            self.at += fixed.len() + ext;
            self.header_read = true;
            return self.next_row();
        }
        let Some(count) = rest.get(..2) else { return Ok(None) };
        let count = i16::from_be_bytes([count[0], count[1]]);
        if count == -1 {
            self.ended = true;
            self.at += 2;
            return self.next_row();
        }
        let count = usize::try_from(count).map_err(|_| malformed())?;
        // First find the row's end, so a row split across chunks is read whole or not at all.
        let mut pos = 2;
        let mut spans = Vec::with_capacity(count);
        for _ in 0..count {
            let Some(len) = rest.get(pos..pos + 4) else { return Ok(None) };
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            pos += 4;
            if len < 0 {
                spans.push(None);
                continue;
            }
            let len = usize::try_from(len).map_err(|_| malformed())?;
            if rest.len() < pos + len {
                return Ok(None);
            }
            spans.push(Some((pos, len)));
            pos += len;
        }
        let start = self.at;
        self.at += pos;
        let row = &self.buf[start..start + pos];
        Ok(Some(CopyRow { fields: spans.into_iter().map(|s| s.map(|(p, l)| &row[p..p + l])).collect() }))
    }

    /// Checks that the stream ended with its trailer and nothing after it.
    pub(super) fn finish(mut self) -> Result<(), StoreError> {
        while self.next_row()?.is_some() {}
        if self.ended && self.at == self.buf.len() { Ok(()) } else { Err(malformed()) }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn stream() -> Vec<u8> {
        let mut rows = CopyRows::new();
        rows.row(3).text("E1").bytes(&[0, 1, 2]).boolean(true);
        rows.row(3).text("E2").opt_text(None).boolean(false);
        let mut buf = rows.buf;
        buf.extend_from_slice(&(-1i16).to_be_bytes());
        buf
    }

    fn read_all(chunks: &[&[u8]]) -> Result<Vec<Vec<Option<Vec<u8>>>>, StoreError> {
        let mut r = CopyReader::default();
        let mut out = Vec::new();
        for c in chunks {
            r.push(c);
            while let Some(row) = r.next_row()? {
                out.push(row.fields::<3>()?.iter().map(|f| f.map(<[u8]>::to_vec)).collect());
            }
        }
        r.finish()?;
        Ok(out)
    }

    #[test]
    fn what_is_written_reads_back_in_any_chunking() {
        let s = stream();
        let whole = read_all(&[&s]).unwrap();
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0][0].as_deref(), Some(&b"E1"[..]));
        assert_eq!(whole[0][1].as_deref(), Some(&[0u8, 1, 2][..]));
        assert_eq!(whole[1][1], None);
        assert_eq!(whole[1][2].as_deref(), Some(&[0u8][..]));
        for cut in 1..s.len() {
            assert_eq!(read_all(&[&s[..cut], &s[cut..]]).unwrap(), whole, "cut at {cut}");
        }
    }

    #[test]
    fn a_truncated_or_damaged_stream_is_an_error() {
        let s = stream();
        for cut in 0..s.len() {
            assert!(read_all(&[&s[..cut]]).is_err(), "cut at {cut}");
        }
        let mut bad = s.clone();
        bad[0] = b'X';
        assert!(read_all(&[&bad]).is_err());
        let mut extra = s.clone();
        extra.push(0);
        assert!(read_all(&[&extra]).is_err());
        // A row of another width.
        assert!(read_all(&[&s]).is_ok());
        let mut r = CopyReader::default();
        r.push(&s);
        assert!(r.next_row().unwrap().unwrap().fields::<2>().is_err());
    }
}
