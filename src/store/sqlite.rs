//! The SQLite backend: the embedded default. The register and the key store are two database
//! files, each in WAL mode with `synchronous=FULL` and `secure_delete=ON` on every connection.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

use super::prints::PrintsCursor;
use super::{Apply, Batch, HistoryEntry, RunRecord, RunStatus, SealedPerson, Store, StoreError, sql};
use crate::diff::Class;
use crate::ids::{EmployeeKey, RunId, TenantId};
use crate::register::{Register, Segment};
use crate::seal::{CELLS_PRINT, CellsPrint, FINGERPRINT, Fingerprint};
use crate::task::Ahead;

/// Register entries per packed page in `load_register`.
const REGISTER_PAGE: i64 = 50_000;

/// Ends each key in a packed register page: the byte 0xFF never occurs in UTF-8 text.
const KEY_END: [u8; 1] = [0xFF];

/// One page of the register's index, packed by SQLite: `count` entries, each the fingerprint and
/// the cells print (fixed widths, any bytes) then the key then `KEY_END`; the ended flags side by
/// side; and the page's last key, where the next page starts.
type RegisterPage = (i64, Option<Vec<u8>>, Option<Vec<u8>>, Option<String>);

/// Walks a packed register page: each entry's key, fingerprint and cells print, in key order.
fn register_entries(packed: &[u8]) -> impl Iterator<Item = Result<(&str, Fingerprint, CellsPrint), StoreError>> {
    let mut rest = packed;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some((fp, tail)) = rest.split_first_chunk::<FINGERPRINT>() else {
            rest = &[];
            return Some(Err(malformed_page()));
        };
        let Some((cells, tail)) = tail.split_first_chunk::<CELLS_PRINT>() else {
            rest = &[];
            return Some(Err(malformed_page()));
        };
        let end = memchr::memchr(KEY_END[0], tail).unwrap_or(tail.len());
        let key = std::str::from_utf8(&tail[..end]).map_err(|_| malformed_page());
        rest = tail.get(end + 1..).unwrap_or(&[]);
        Some(key.map(|k| (k, *fp, *cells)))
    })
}

/// Adds one packed page to `segment` in one pass, checking on the way that it holds `count`
/// entries with strictly increasing keys (so pages cannot overlap), the last of them `last`, and
/// one ended flag each.
fn unpack_page(count: i64, packed: &[u8], ended: &[u8], last: &str, segment: &mut Segment) -> Result<(), StoreError> {
    let mut flags = ended.iter();
    let mut previous: Option<&str> = None;
    let mut n = 0i64;
    for entry in register_entries(packed) {
        let (key, fp, cells) = entry?;
        if previous.is_some_and(|p| p >= key) {
            return Err(malformed_page());
        }
        let ended = match flags.next() {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return Err(malformed_page()),
        };
        segment.insert_unique(key, fp, cells, ended)?;
        previous = Some(key);
        n += 1;
    }
    if n != count || previous != Some(last) || flags.next().is_some() {
        return Err(malformed_page());
    }
    Ok(())
}

/// People per packed `load_sealed` query.
const SEALED_PAGE: usize = 2048;

fn malformed_page() -> StoreError {
    StoreError::Database("malformed packed page".into())
}

/// Walks a packed page of `N` byte strings per entry: their decimal lengths, each ended by `:`,
/// then the strings back to back (binary-safe, so sealed bytes need no hex).
fn packed_entries<const N: usize>(mut packed: &[u8]) -> impl Iterator<Item = Result<[&[u8]; N], StoreError>> {
    std::iter::from_fn(move || {
        if packed.is_empty() {
            return None;
        }
        let entry = (|| {
            let mut lens = [0usize; N];
            for len in &mut lens {
                let colon = memchr::memchr(b':', packed).ok_or_else(malformed_page)?;
                let digits = std::str::from_utf8(&packed[..colon]).map_err(|_| malformed_page())?;
                *len = digits.parse().map_err(|_| malformed_page())?;
                packed = &packed[colon + 1..];
            }
            let mut parts = [&packed[..0]; N];
            for (part, len) in parts.iter_mut().zip(lens) {
                let (this, rest) = packed.split_at_checked(len).ok_or_else(malformed_page)?;
                (*part, packed) = (this, rest);
            }
            Ok(parts)
        })();
        if entry.is_err() {
            packed = &[];
        }
        Some(entry)
    })
}

/// Parses `load_sealed`'s packed page: per person the employee id, the data key's id and the
/// sealed record (see `packed_entries`).
fn unpack_sealed(packed: &[u8], people: &mut Vec<SealedPerson>) -> Result<(), StoreError> {
    for entry in packed_entries::<3>(packed) {
        let [key, key_id, sealed] = entry?;
        people.push(SealedPerson {
            key: EmployeeKey::new(std::str::from_utf8(key).map_err(|_| malformed_page())?),
            key_id: key_id.to_vec(),
            wrapped_key: Vec::new(),
            sealed: sealed.to_vec(),
        });
    }
    Ok(())
}

/// Rows per multi-row statement; keeps binds far below SQLite's 32766-variable limit.
const CHUNK: usize = 500;

/// Page size of a new database file (an existing one keeps its own; WAL mode pins it). A WAL
/// frame is a page plus a 24-byte header, so every frame write straddles the OS's pages and the
/// kernel zero-fills and copies around it; 16 KiB pages make a quarter as many frames for a large
/// run (1M-row first load: 7.6 s against 8.4 s, shuffled 8.4 s against 10.6 s, sys time −1 s) and
/// cost nothing measurable on a day 2 that updates 3 % of the rows.
const PAGE_SIZE: u32 = 16384;

#[derive(Clone)]
pub struct SqliteStore {
    register: SqlitePool,
    keys: SqlitePool,
    paths: [PathBuf; 2],
}

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .page_size(PAGE_SIZE)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(busy_timeout())
        .foreign_keys(true)
        // Deleted personal data is overwritten in the file, not left in free pages.
        .pragma("secure_delete", "ON")
        // Statement journals (multi-row upserts) stay in memory rather than in temp files.
        .pragma("temp_store", "MEMORY")
        // 4 MiB of page cache per connection: enough for the hot index pages, and a bound on
        // memory when a large run's dirty pages would otherwise pile up; a run uses several
        // connections at once (the register's load, stored-record reads, the apply).
        .pragma("cache_size", "-4096")
        // Checkpoints run after each apply's commit (`SqliteApply::commit`) and when the last
        // connection closes, not inside whichever commit crosses the WAL size threshold.
        .pragma("wal_autocheckpoint", "0")
        .disable_statement_logging()
}

/// How long one statement waits for a lock another connection holds. A run's apply waits longer,
/// in turns of this (`patiently`). `HRFEED_SQLITE_BUSY_TIMEOUT_MS` sets it (tests make it short).
fn busy_timeout() -> Duration {
    let ms = std::env::var("HRFEED_SQLITE_BUSY_TIMEOUT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(30_000);
    Duration::from_millis(ms)
}

/// How long a run waits in all for another run's apply to finish: one SQLite database is written
/// by one run at a time, so runs of different tenants take turns rather than fail.
const LOCK_WAIT: Duration = Duration::from_secs(60 * 60);

/// An error that may be a busy (or locked) database, which waiting cures.
trait Busy: Into<StoreError> {
    fn is_busy(&self) -> bool;
}

fn busy_code(code: i32) -> bool {
    code & 0xFF == 5 || code & 0xFF == 6
}

impl Busy for sqlx::Error {
    fn is_busy(&self) -> bool {
        matches!(self, sqlx::Error::Database(db) if db.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(busy_code))
    }
}

impl Busy for StoreError {
    fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sqlite { code, .. } if busy_code(*code))
    }
}

/// Runs `attempt` until it succeeds or fails otherwise than with a busy database, for up to
/// `LOCK_WAIT`; says once that it waits.
async fn patiently<T, E, F, Fut>(what: &str, mut attempt: F) -> Result<T, StoreError>
where
    E: Busy,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        match attempt().await {
            Err(e) if e.is_busy() && started.elapsed() < LOCK_WAIT => {
                if !said {
                    tracing::warn!(
                        "Waiting for the database: another run (perhaps of another tenant) is writing it; this run {what} when it is done."
                    );
                    said = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other.map_err(Into::into),
        }
    }
}

/// A migration that failed on the database itself (damaged, read-only) says so, naming the file.
fn migrate_error(e: sqlx::migrate::MigrateError, file: &Path) -> StoreError {
    use sqlx::migrate::MigrateError;
    let explained = match &e {
        MigrateError::Execute(inner) | MigrateError::ExecuteMigration(inner, _) => match StoreError::from_ref(inner) {
            s @ StoreError::Sqlite { .. } => Some(s),
            _ => None,
        },
        _ => None,
    };
    match explained {
        Some(s) => StoreError::InFile { file: file.display().to_string(), cause: Box::new(s) },
        None => StoreError::Migrate(e.to_string()),
    }
}

/// `sqlite:PATH` (or `sqlite://PATH`) → PATH.
pub fn path_from_url(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let rest = rest.split('?').next().unwrap_or(rest);
    (!rest.is_empty()).then(|| PathBuf::from(rest))
}

/// The key store's file beside the register: `hrfeed.db` → `hrfeed.keys.db`.
pub fn default_key_path(register: &Path) -> PathBuf {
    let stem = register.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "hrfeed".into());
    register.with_file_name(format!("{stem}.keys.db"))
}

impl SqliteStore {
    super::orphan_sweep_methods!();

    /// Opens (creating if needed) both databases and runs their migrations.
    pub async fn open(register: &Path, keys: &Path) -> Result<SqliteStore, StoreError> {
        for p in [register, keys] {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Connect(format!("{}: {e}", dir.display())))?;
            }
        }
        // Processes opening a new database at once would each run its migrations; a lock on a
        // file beside it makes them take turns (the later ones find all done).
        let lock_path = PathBuf::from(format!("{}.lock", register.display()));
        let lock = tokio::task::spawn_blocking(move || {
            let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path)?;
            f.lock().map(|()| f)
        })
        .await
        .map_err(|_| StoreError::Connect("the migration lock task stopped".into()))?
        .map_err(|e| StoreError::Connect(format!("cannot lock the database for migration: {e}")))?;
        let pool = |p: &Path| SqlitePoolOptions::new().max_connections(4).connect_lazy_with(options(p));
        let store =
            SqliteStore { register: pool(register), keys: pool(keys), paths: [register.to_owned(), keys.to_owned()] };
        sqlx::migrate!("src/store/migrations/sqlite")
            .run(&store.register)
            .await
            .map_err(|e| migrate_error(e, register))?;
        sqlx::migrate!("src/store/migrations/sqlite_keys")
            .run(&store.keys)
            .await
            .map_err(|e| migrate_error(e, keys))?;
        drop(lock);
        Ok(store)
    }

    /// Opens from a `sqlite:` URL; the key store sits beside the register unless given.
    pub async fn open_url(url: &str, key_url: Option<&str>) -> Result<SqliteStore, StoreError> {
        let register = path_from_url(url).ok_or_else(|| StoreError::Connect(format!("not a sqlite: URL: {url}")))?;
        let keys = match key_url {
            Some(k) => path_from_url(k).ok_or_else(|| StoreError::Connect(format!("not a sqlite: URL: {k}")))?,
            None => default_key_path(&register),
        };
        SqliteStore::open(&register, &keys).await
    }
}

fn run_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<RunRecord, StoreError> {
    let tenant: String = r.try_get("tenant")?;
    let status: String = r.try_get("status")?;
    Ok(RunRecord {
        id: RunId::from_stored(r.try_get("id")?),
        tenant: TenantId::parse(&tenant).map_err(StoreError::Database)?,
        file_name: r.try_get("file_name")?,
        sha256: r.try_get("sha256")?,
        status: RunStatus::parse(&status).ok_or_else(|| StoreError::Database("unknown run status".into()))?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        report: r.try_get("report")?,
        reprocess_of: r.try_get::<Option<String>, _>("reprocess_of")?.map(RunId::from_stored),
    })
}

async fn insert_run<'e, E: sqlx::Executor<'e, Database = Sqlite>>(e: E, run: &RunRecord) -> Result<(), sqlx::Error> {
    sqlx::query(sql::INSERT_RUN)
        .bind(run.id.as_str())
        .bind(run.tenant.as_str())
        .bind(&run.file_name)
        .bind(&run.sha256)
        .bind(run.status.as_str())
        .bind(&run.started_at)
        .bind(&run.finished_at)
        .bind(&run.report)
        .bind(run.reprocess_of.as_ref().map(RunId::as_str))
        .execute(e)
        .await?;
    Ok(())
}

impl Store for SqliteStore {
    type Apply = SqliteApply;

    fn clusters_by_key(&self) -> bool {
        true
    }

    fn scratch_dir(&self) -> Option<PathBuf> {
        self.paths[0].parent().map(Path::to_path_buf)
    }

    fn files(&self) -> Vec<PathBuf> {
        self.paths.to_vec()
    }

    async fn tenant_key(&self, tenant: &TenantId) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT wrapped FROM tenant_keys WHERE tenant = $1")
            .bind(tenant.as_str())
            .fetch_optional(&self.keys)
            .await?;
        Ok(row.map(|r| r.try_get("wrapped")).transpose()?)
    }

    async fn put_tenant_key(&self, tenant: &TenantId, wrapped: &[u8], now: &str) -> Result<Vec<u8>, StoreError> {
        patiently("stores its tenant key", || {
            sqlx::query(sql::INSERT_TENANT_KEY).bind(tenant.as_str()).bind(wrapped).bind(now).execute(&self.keys)
        })
        .await?;
        self.tenant_key(tenant).await?.ok_or_else(|| StoreError::Database("tenant key vanished".into()))
    }

    async fn applied_run_by_hash(&self, tenant: &TenantId, sha256: &str) -> Result<Option<RunId>, StoreError> {
        let row = sqlx::query(sql::APPLIED_RUN_BY_HASH)
            .bind(tenant.as_str())
            .bind(sha256)
            .fetch_optional(&self.register)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>("id")).transpose()?.map(RunId::from_stored))
    }

    super::run_reads_methods!();

    async fn load_register(&self, tenant: &TenantId, into: &Register) -> Result<(), StoreError> {
        // sqlx hands each SQLite row across a channel, microseconds apiece; a 1M-person register
        // would take seconds. So SQLite packs a page of entries into two values, paging by key
        // (BINARY collation: byte order, as `Register::push_page` needs), and the next page is
        // read while this one is added to the register.
        let fetch = |after: String| {
            let (pool, tenant) = (self.register.clone(), tenant.as_str().to_owned());
            Ahead::spawn(async move {
                sqlx::query_as::<_, RegisterPage>(
                    "SELECT count(*), group_concat(fingerprint || cells || employee_id, $4), \
                     group_concat(ended, ''), max(employee_id) FROM (SELECT employee_id, ended, fingerprint, cells \
                     FROM employees \
                     WHERE tenant = $1 AND employee_id > $2 ORDER BY employee_id LIMIT $3)",
                )
                .bind(tenant)
                .bind(after)
                .bind(REGISTER_PAGE)
                .bind(&KEY_END[..])
                .fetch_one(&pool)
                .await
            })
        };
        let mut next = fetch(String::new());
        let mut overlay = PrintsCursor::default();
        let highest: Option<String> = sqlx::query_scalar("SELECT max(employee_id) FROM employees WHERE tenant = $1")
            .bind(tenant.as_str())
            .fetch_one(&self.register)
            .await?;
        if let Some(h) = highest {
            into.set_highest(&h)?;
        }
        loop {
            let Some(page) = next.finish().await else {
                return Err(StoreError::Database("the register load was cancelled".into()));
            };
            let page = page?;
            let (count, Some(packed), Some(ended), Some(last)) = page else {
                if page.0 == 0 {
                    return overlay.finish(into, |after| super::next_prints_page!(self.register, tenant, after)).await;
                }
                return Err(malformed_page());
            };
            next = fetch(last.clone());
            let mut segment = Segment::with_capacity(usize::try_from(count).unwrap_or(0));
            unpack_page(count, &packed, &ended, &last, &mut segment)?;
            overlay
                .apply_upto(&mut segment, Some(&last), |after| super::next_prints_page!(self.register, tenant, after))
                .await?;
            into.push_page(segment, &last)?;
        }
    }

    async fn load_sealed(&self, tenant: &TenantId, keys: &[EmployeeKey]) -> Result<Vec<SealedPerson>, StoreError> {
        // Packed like `load_register`: one value per query instead of one sqlx row per person;
        // the wanted keys travel as one JSON array bind.
        let mut people = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(SEALED_PAGE) {
            let wanted = serde_json::to_string(&chunk.iter().map(EmployeeKey::as_str).collect::<Vec<_>>())
                .map_err(|_| StoreError::Database("cannot encode the wanted keys".into()))?;
            let packed: Option<Vec<u8>> = sqlx::query_scalar(
                "SELECT group_concat(length(CAST(employee_id AS BLOB)) || ':' || length(key_id) || ':' \
                 || length(sealed) || ':' || employee_id || key_id || sealed, '') FROM employees \
                 WHERE tenant = $1 AND employee_id IN (SELECT value FROM json_each($2))",
            )
            .bind(tenant.as_str())
            .bind(&wanted)
            .fetch_one(&self.register)
            .await?;
            unpack_sealed(packed.as_deref().unwrap_or_default(), &mut people)?;
        }
        for chunk in people.chunks_mut(SEALED_PAGE) {
            let wanted = serde_json::to_string(&chunk.iter().map(|p| hex::encode(&p.key_id)).collect::<Vec<_>>())
                .map_err(|_| StoreError::Database("cannot encode the wanted key ids".into()))?;
            let packed: Option<Vec<u8>> = sqlx::query_scalar(
                "SELECT group_concat(length(key_id) || ':' || length(wrapped) || ':' || key_id || wrapped, '') \
                 FROM data_keys WHERE key_id IN (SELECT unhex(value) FROM json_each($1))",
            )
            .bind(&wanted)
            .fetch_one(&self.keys)
            .await?;
            let mut found = std::collections::HashMap::new();
            for entry in packed_entries::<2>(packed.as_deref().unwrap_or_default()) {
                let [id, wrapped] = entry?;
                found.insert(id, wrapped);
            }
            for p in chunk.iter_mut() {
                if let Some(w) = found.get(p.key_id.as_slice()) {
                    p.wrapped_key = w.to_vec();
                }
            }
        }
        Ok(people)
    }

    super::pending_deletions_method!();

    async fn layouts(&self) -> Result<Vec<crate::seal::Layout>, StoreError> {
        let rows = sqlx::query_as(sql::SELECT_LAYOUTS).fetch_all(&self.register).await?;
        super::layouts_from_rows(rows)
    }

    async fn begin_apply(
        &self,
        tenant: &TenantId,
        run: &RunId,
        key_prefix: &[u8; 12],
    ) -> Result<SqliteApply, StoreError> {
        // The key store's transaction starts first and commits first (see `Apply::commit`).
        let keys = self.keys.begin().await?;
        // IMMEDIATE takes the write lock now, not at the first write: a second run waits here
        // (up to the busy timeout) until this one commits, and so diffs against its result.
        let register = patiently("starts", || self.register.begin_with("BEGIN IMMEDIATE")).await?;
        patiently("marks its keys", || self.mark_run(tenant, run, key_prefix)).await?;
        Ok(SqliteApply { tenant: tenant.clone(), run: run.clone(), keys, register, store: self.clone() })
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        patiently("is recorded", || insert_run(&self.register, run)).await
    }

    async fn list_runs(&self, tenant: Option<&TenantId>, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM runs WHERE ($1 IS NULL OR tenant = $1) ORDER BY started_at DESC, id LIMIT $2")
                .bind(tenant.map(TenantId::as_str))
                .bind(i64::from(limit))
                .fetch_all(&self.register)
                .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = $1").bind(id).fetch_optional(&self.register).await?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn history(&self, tenant: &TenantId, key: &EmployeeKey) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            // A person's creation is their register row's `created_run`, not a history row: on a
            // first load that saves writing one history row per person.
            "SELECT run_id, kind, fields, started_at FROM ( \
               SELECT e.created_run AS run_id, 'new' AS kind, '' AS fields, r.started_at AS started_at, \
                      0 AS seq FROM employees e LEFT JOIN runs r ON r.id = e.created_run \
                WHERE e.tenant = $1 AND e.employee_id = $2 \
               UNION ALL \
               SELECT h.run_id, h.kind, h.fields, r.started_at, h.rowid FROM history h \
                 LEFT JOIN runs r ON r.id = h.run_id WHERE h.tenant = $1 AND h.employee_id = $2 \
             ) AS entries ORDER BY seq = 0 DESC, started_at, seq",
        )
        .bind(tenant.as_str())
        .bind(key.as_str())
        .fetch_all(&self.register)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryEntry {
                    run_id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    fields: r.try_get(2)?,
                    run_started_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn close(&self) {
        self.register.close().await;
        self.keys.close().await;
    }

    async fn table_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut out = Vec::new();
        for t in ["runs", "employees", "history", "deletions", "quarantine"] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}")).fetch_one(&self.register).await?;
            out.push((t.to_owned(), n));
        }
        for t in ["tenant_keys", "data_keys"] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}")).fetch_one(&self.keys).await?;
            out.push((t.to_owned(), n));
        }
        Ok(out)
    }
}

pub struct SqliteApply {
    tenant: TenantId,
    run: RunId,
    keys: Transaction<'static, Sqlite>,
    register: Transaction<'static, Sqlite>,
    /// For the checkpoints after commit.
    store: SqliteStore,
}

impl Apply for SqliteApply {
    super::fix_up_methods!(sqlx::Sqlite);
    super::replace_prints_method!();

    async fn put_layout(&mut self, layout: &crate::seal::Layout) -> Result<(), StoreError> {
        sqlx::query(sql::INSERT_LAYOUT)
            .bind(layout.id().as_slice())
            .bind(layout.to_text())
            .execute(&mut *self.register)
            .await?;
        Ok(())
    }

    async fn write(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let (tenant, run) = (self.tenant.as_str(), self.run.as_str());
        // The key store and the register are separate connections: their writes run side by side.
        let (keys, register) = (&mut self.keys, &mut self.register);
        let write_keys = async move {
            for chunk in batch.keys.chunks(CHUNK) {
                let mut q = QueryBuilder::<Sqlite>::new(sql::INSERT_DATA_KEYS);
                q.push_values(chunk, |mut b, k| {
                    b.push_bind(k.key_id.as_slice()).push_bind(tenant).push_bind(k.wrapped.as_slice());
                });
                q.build().execute(&mut **keys).await?;
            }
            Ok::<_, StoreError>(())
        };
        let write_register = async move {
            for chunk in batch.people.chunks(CHUNK) {
                let mut q = QueryBuilder::<Sqlite>::new(sql::INSERT_EMPLOYEES);
                q.push_values(chunk, |mut b, p| {
                    b.push_bind(tenant)
                        .push_bind(p.key.as_str())
                        .push_bind(p.key_id.as_slice())
                        .push_bind(p.fingerprint.as_slice())
                        .push_bind(p.cells.as_slice())
                        .push_bind(p.ended)
                        .push_bind(p.sealed.as_slice())
                        .push_bind(run);
                });
                q.push(sql::ON_CONFLICT_EMPLOYEES);
                q.build().execute(&mut **register).await?;

                // A row whose values are unchanged (only its fingerprint moved, after a mapping
                // change) gets its fingerprint refreshed but no history entry; a new person's entry
                // is their row's `created_run` (see `history`).
                let changed: Vec<_> =
                    chunk.iter().filter(|p| !matches!(p.class, Class::Unchanged | Class::New)).collect();
                if !changed.is_empty() {
                    let mut h = QueryBuilder::<Sqlite>::new(sql::INSERT_HISTORY);
                    h.push_values(changed, |mut b, p| {
                        b.push_bind(tenant)
                            .push_bind(p.key.as_str())
                            .push_bind(run)
                            .push_bind(p.class.as_str())
                            .push_bind(p.fields.join(","));
                    });
                    h.build().execute(&mut **register).await?;
                }

                let (due, cancel): (Vec<_>, Vec<_>) = chunk.iter().partition(|p| p.delete_on.is_some());
                if !due.is_empty() {
                    let mut d = QueryBuilder::<Sqlite>::new(sql::INSERT_DELETIONS);
                    d.push_values(&due, |mut b, p| {
                        b.push_bind(tenant).push_bind(p.key.as_str()).push_bind(p.delete_on.as_deref()).push_bind(run);
                    });
                    d.push(sql::ON_CONFLICT_DELETIONS);
                    d.build().execute(&mut **register).await?;
                }
                let cancel: Vec<_> = cancel.into_iter().filter(|p| p.class != Class::New).collect();
                if !cancel.is_empty() {
                    let mut d = QueryBuilder::<Sqlite>::new("DELETE FROM deletions WHERE tenant = ");
                    d.push_bind(tenant).push(" AND employee_id IN (");
                    let mut sep = d.separated(", ");
                    for p in &cancel {
                        sep.push_bind(p.key.as_str());
                    }
                    d.push(")");
                    d.build().execute(&mut **register).await?;
                }
            }
            for chunk in batch.missing.chunks(CHUNK) {
                let mut h = QueryBuilder::<Sqlite>::new(sql::INSERT_HISTORY);
                h.push_values(chunk, |mut b, k| {
                    b.push_bind(tenant).push_bind(k.as_str()).push_bind(run).push_bind("missing").push_bind("");
                });
                h.build().execute(&mut **register).await?;
            }
            for chunk in batch.quarantine.chunks(CHUNK) {
                let mut q = QueryBuilder::<Sqlite>::new(sql::INSERT_QUARANTINE);
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(run)
                        .push_bind(tenant)
                        .push_bind(i64::try_from(r.row).unwrap_or(i64::MAX))
                        .push_bind(i64::try_from(r.line).unwrap_or(i64::MAX))
                        .push_bind(r.key.as_ref().map(EmployeeKey::as_str))
                        .push_bind(r.errors.as_str())
                        .push_bind(r.key_id.as_slice())
                        .push_bind(r.sealed.as_slice());
                });
                q.build().execute(&mut **register).await?;
            }
            Ok::<_, StoreError>(())
        };
        let (k, r) = tokio::join!(write_keys, write_register);
        k.and(r)
    }

    async fn commit(mut self, run: &RunRecord) -> Result<(), StoreError> {
        insert_run(&mut *self.register, run).await?;
        self.keys.commit().await?;
        super::crash_point("between-commits");
        self.register.commit().await?;
        // With automatic checkpoints off, each commit only syncs its WAL; the two databases'
        // checkpoints (copying a large run's pages into the database files) then run side by
        // side instead of one after the other inside each commit. The run is durable already:
        // a failed checkpoint is retried by the next one, or when the last connection closes.
        let checkpoint = |pool: &SqlitePool| {
            let pool = pool.clone();
            async move { sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await }
        };
        let (k, r) = tokio::join!(checkpoint(&self.store.keys), checkpoint(&self.store.register));
        if let Err(e) = k.and(r) {
            tracing::warn!(error = %StoreError::from(e), "A checkpoint after the commit failed; the next one catches up.");
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn entry(fp: u8, cells: u8, key: &str) -> Vec<u8> {
        let mut e = vec![fp; FINGERPRINT];
        e.extend_from_slice(&[cells; CELLS_PRINT]);
        e.extend_from_slice(key.as_bytes());
        e
    }

    fn page(entries: &[Vec<u8>]) -> Vec<u8> {
        entries.join(&KEY_END[..])
    }

    #[test]
    fn a_packed_page_reads_back_with_any_fingerprint_bytes() {
        // Fingerprints and prints may hold the key separator; keys may hold any text.
        let packed = page(&[entry(0xFF, 0xFF, "a\u{1e}1"), entry(0x00, 0x01, "b"), entry(0x1E, 0xFF, "ö")]);
        let mut s = Segment::default();
        unpack_page(3, &packed, b"010", "ö", &mut s).unwrap();
        let r = Register::whole(s);
        assert_eq!(r.get(&EmployeeKey::new("a\u{1e}1")), Some(([0xFF; 16], false)));
        assert_eq!(r.cells(&EmployeeKey::new("b")), Some([1; 8]));
        assert_eq!(r.get(&EmployeeKey::new("ö")), Some(([0x1E; 16], false)));
        assert_eq!(r.get(&EmployeeKey::new("b")).map(|e| e.1), Some(true));
    }

    #[test]
    fn packed_entries_are_binary_safe_and_a_broken_one_is_an_error() {
        let packed = b"1:3:a\0:\xFF0:2:xy";
        let entries: Vec<[&[u8]; 2]> = packed_entries::<2>(packed).collect::<Result<_, _>>().unwrap();
        assert_eq!(entries, vec![[&b"a"[..], &b"\0:\xFF"[..]], [&b""[..], &b"xy"[..]]]);
        for broken in [&b"1:3:a\0:"[..], b"1:x:ab", b"1:", b"2:1:a"] {
            assert!(packed_entries::<2>(broken).any(|e| e.is_err()), "{broken:?}");
        }
    }

    #[test]
    fn a_malformed_page_is_an_error_not_a_wrong_register() {
        let unpack =
            |count, packed: &[u8], ended: &[u8], last| unpack_page(count, packed, ended, last, &mut Segment::default());
        let good = page(&[entry(1, 1, "a"), entry(2, 2, "b")]);
        assert!(unpack(2, &good, b"01", "b").is_ok());
        assert!(unpack(3, &good, b"01", "b").is_err(), "a wrong count");
        assert!(unpack(2, &good, b"01", "a").is_err(), "a wrong last key");
        assert!(unpack(2, &good[..good.len() - 12], b"01", "b").is_err(), "a truncated entry");
        assert!(unpack(2, &page(&[entry(1, 1, "b"), entry(2, 2, "a")]), b"01", "a").is_err(), "keys out of order");
        assert!(unpack(2, &page(&[entry(1, 1, "a"), entry(2, 2, "a")]), b"01", "a").is_err(), "a key twice");
        let mut bad_utf8 = entry(1, 1, "a");
        bad_utf8.push(0xC3);
        assert!(unpack(1, &bad_utf8, b"0", "a").is_err(), "a key that is not text");
        for ended in [&b"0"[..], b"011", b"0x"] {
            assert!(unpack(2, &good, ended, "b").is_err(), "{ended:?}");
        }
    }
}
