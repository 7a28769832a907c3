//! Store: the register, its history, runs, quarantine and the key store, behind one trait with
//! a SQLite and a PostgreSQL backend. Knows no CSV and no HTTP; transactions never leave it.

mod pg_copy;
mod postgres;
pub mod prints;
mod sqlite;

use std::future::Future;

use crate::diff::Class;
use crate::ids::{EmployeeKey, RunId, TenantId};
use crate::register::Register;
use crate::seal::{CellsPrint, Fingerprint, Layout};

/// SQL text both backends share verbatim: both accept `$n` placeholders and `ON CONFLICT`.
mod sql {
    pub const INSERT_RUN: &str = "INSERT INTO runs (id, tenant, file_name, sha256, status, started_at, finished_at, \
         report, reprocess_of) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    /// The first application of a content: reprocessings name it, they do not replace it.
    pub const APPLIED_RUN_BY_HASH: &str = "SELECT id FROM runs WHERE tenant = $1 AND sha256 = $2 \
         AND status = 'applied' AND reprocess_of IS NULL";
    /// A run's people by class: its hires (their register row's `created_run`), its history
    /// rows (changed, ended, rehired, missing) and its quarantined rows.
    pub const RUN_PEOPLE: &str = "SELECT employee_id, 'new' AS class, CAST(NULL AS BIGINT) AS row_number \
         FROM employees WHERE tenant = $1 AND created_run = $2 \
         UNION ALL SELECT employee_id, kind, CAST(NULL AS BIGINT) FROM history WHERE run_id = $2 \
         UNION ALL SELECT employee_id, 'rejected', row_number FROM quarantine WHERE run_id = $2";
    pub const LATEST_APPLIED_RUN: &str = "SELECT id, sha256 FROM runs WHERE tenant = $1 AND status = 'applied' \
         ORDER BY started_at DESC, id DESC LIMIT 1";
    pub const INSERT_TENANT_KEY: &str =
        "INSERT INTO tenant_keys (tenant, wrapped, created_at) VALUES ($1, $2, $3) ON CONFLICT (tenant) DO NOTHING";
    pub const INSERT_DATA_KEYS: &str = "INSERT INTO data_keys (key_id, tenant, wrapped) ";
    pub const INSERT_EMPLOYEES: &str =
        "INSERT INTO employees (tenant, employee_id, key_id, fingerprint, cells, ended, sealed, created_run) ";
    pub const ON_CONFLICT_EMPLOYEES: &str = " ON CONFLICT (tenant, employee_id) DO UPDATE SET key_id = excluded.key_id, \
         fingerprint = excluded.fingerprint, cells = excluded.cells, ended = excluded.ended, sealed = excluded.sealed";
    pub const INSERT_HISTORY: &str = "INSERT INTO history (tenant, employee_id, run_id, kind, fields) ";
    pub const INSERT_DELETIONS: &str = "INSERT INTO deletions (tenant, employee_id, due_on, run_id) ";
    pub const ON_CONFLICT_DELETIONS: &str =
        " ON CONFLICT (tenant, employee_id) DO UPDATE SET due_on = excluded.due_on, run_id = excluded.run_id";
    pub const INSERT_LAYOUT: &str = "INSERT INTO layouts (id, names) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING";
    pub const SELECT_LAYOUTS: &str = "SELECT id, names FROM layouts";
    pub const INSERT_QUARANTINE: &str =
        "INSERT INTO quarantine (run_id, tenant, row_number, line, employee_id, errors, key_id, sealed) ";
    pub const SELECT_QUARANTINE_ERRORS: &str = "SELECT errors FROM quarantine WHERE run_id = $1 AND row_number = $2";
    pub const UPDATE_QUARANTINE_ERRORS: &str =
        "UPDATE quarantine SET errors = $1 WHERE run_id = $2 AND row_number = $3";
}

/// `Apply::replace_prints` on the apply's `register` transaction, for both backends.
macro_rules! replace_prints_method {
    () => {
        async fn replace_prints(
            &mut self,
            pages: impl Iterator<Item = super::prints::PrintsPage> + Send,
        ) -> Result<(), StoreError> {
            sqlx::query(super::prints::DELETE).bind(self.tenant.as_str()).execute(&mut *self.register).await?;
            for p in pages {
                sqlx::query(super::prints::INSERT)
                    .bind(self.tenant.as_str())
                    .bind(&p.last)
                    .bind(&p.packed)
                    .execute(&mut *self.register)
                    .await?;
            }
            Ok(())
        }
    };
}

pub(crate) use replace_prints_method;

/// The overlay's next page after the key `$after` (`prints::PrintsCursor::apply_upto`'s fetch),
/// read from `$pool`.
macro_rules! next_prints_page {
    ($pool:expr, $tenant:expr, $after:expr) => {{
        let (pool, tenant, after) = ($pool.clone(), $tenant.as_str().to_owned(), $after);
        async move {
            let row: Option<(String, Vec<u8>)> =
                sqlx::query_as(super::prints::NEXT).bind(tenant).bind(after).fetch_optional(&pool).await?;
            Ok::<_, StoreError>(row.map(|(last, packed)| super::prints::PrintsPage { last, packed }))
        }
    }};
}

pub(crate) use next_prints_page;

/// Rows per statement of the repeated-key fix-up: up to 6 binds a row, far below either
/// backend's limit on binds.
pub(crate) const FIX_UP_CHUNK: usize = 500;

/// The `Apply` methods that undo a repeated key's first row, written once for both backends
/// (`$db`: the sqlx database type), on the apply's `register` and `keys` transactions. They work
/// in chunks of `FIX_UP_CHUNK` people, a few statements per chunk: a file with 100,000 repeated
/// keys once took 25 s undoing them person by person.
macro_rules! fix_up_methods {
    ($db:ty) => {
        async fn read_people(&mut self, keys: &[EmployeeKey]) -> Result<Vec<SealedPerson>, StoreError> {
            let mut people = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(super::FIX_UP_CHUNK) {
                let by_id: std::collections::HashMap<&str, &EmployeeKey> =
                    chunk.iter().map(|k| (k.as_str(), k)).collect();
                let mut q =
                    sqlx::QueryBuilder::<$db>::new("SELECT employee_id, key_id, sealed FROM employees WHERE tenant = ");
                q.push_bind(self.tenant.as_str().to_owned()).push(" AND employee_id IN (");
                let mut s = q.separated(", ");
                for k in chunk {
                    s.push_bind(k.as_str().to_owned());
                }
                q.push(")");
                let rows: Vec<(String, Vec<u8>, Vec<u8>)> = q.build_query_as().fetch_all(&mut *self.register).await?;
                let mut wrapped = std::collections::HashMap::new();
                if !rows.is_empty() {
                    let mut q =
                        sqlx::QueryBuilder::<$db>::new("SELECT key_id, wrapped FROM data_keys WHERE key_id IN (");
                    let mut s = q.separated(", ");
                    for (_, key_id, _) in &rows {
                        s.push_bind(key_id.clone());
                    }
                    q.push(")");
                    let found: Vec<(Vec<u8>, Vec<u8>)> = q.build_query_as().fetch_all(&mut *self.keys).await?;
                    wrapped.extend(found);
                }
                for (id, key_id, sealed) in rows {
                    let Some(key) = by_id.get(id.as_str()) else { continue };
                    let wrapped_key = wrapped.get(&key_id).cloned().unwrap_or_default();
                    people.push(SealedPerson { key: (*key).clone(), key_id, wrapped_key, sealed });
                }
            }
            Ok(people)
        }

        async fn restore(&mut self, people: &[super::Restore]) -> Result<(), StoreError> {
            let tenant = self.tenant.as_str().to_owned();
            let in_keys = |q: &mut sqlx::QueryBuilder<'_, $db>, keys: &[&EmployeeKey]| {
                q.push(" AND employee_id IN (");
                let mut s = q.separated(", ");
                for k in keys {
                    s.push_bind(k.as_str().to_owned());
                }
                q.push(")");
            };
            for chunk in people.chunks(super::FIX_UP_CHUNK) {
                let keys: Vec<&EmployeeKey> = chunk.iter().map(|p| &p.key).collect();
                // This run's history rows and the deletions it scheduled go; those pending
                // before the run come back.
                let mut q = sqlx::QueryBuilder::<$db>::new("DELETE FROM history WHERE tenant = ");
                q.push_bind(tenant.clone()).push(" AND run_id = ").push_bind(self.run.as_str().to_owned());
                in_keys(&mut q, &keys);
                q.build().execute(&mut *self.register).await?;
                let mut q = sqlx::QueryBuilder::<$db>::new("DELETE FROM deletions WHERE tenant = ");
                q.push_bind(tenant.clone());
                in_keys(&mut q, &keys);
                q.build().execute(&mut *self.register).await?;
                let pending: Vec<_> = chunk.iter().filter_map(|p| Some((&p.key, p.deletion.as_ref()?))).collect();
                if !pending.is_empty() {
                    let mut q =
                        sqlx::QueryBuilder::<$db>::new("INSERT INTO deletions (tenant, employee_id, due_on, run_id) ");
                    q.push_values(pending, |mut b, (k, d)| {
                        b.push_bind(tenant.clone())
                            .push_bind(k.as_str().to_owned())
                            .push_bind(d.due_on.clone())
                            .push_bind(d.run_id.as_str().to_owned());
                    });
                    q.build().execute(&mut *self.register).await?;
                }
                // People stored before the run get their stored row back.
                let before: Vec<_> = chunk.iter().filter_map(|p| Some((&p.key, p.before.as_ref()?))).collect();
                if !before.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "UPDATE employees SET key_id = v.column2, fingerprint = v.column3, ended = v.column4, \
                         sealed = v.column5, cells = v.column6 FROM (",
                    );
                    q.push_values(before, |mut b, (k, p)| {
                        b.push_bind(k.as_str().to_owned())
                            .push_bind(p.key_id.clone())
                            .push_bind(p.fingerprint.to_vec())
                            .push_bind(p.ended)
                            .push_bind(p.sealed.clone())
                            .push_bind(p.cells.to_vec());
                    });
                    q.push(") AS v WHERE employees.tenant = ").push_bind(tenant.clone());
                    q.push(" AND employees.employee_id = v.column1");
                    q.build().execute(&mut *self.register).await?;
                }
                // People the run added go, with their new data keys.
                let added: Vec<&EmployeeKey> = chunk.iter().filter(|p| p.before.is_none()).map(|p| &p.key).collect();
                if !added.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new("SELECT key_id FROM employees WHERE tenant = ");
                    q.push_bind(tenant.clone());
                    in_keys(&mut q, &added);
                    let key_ids: Vec<Vec<u8>> = q.build_query_scalar().fetch_all(&mut *self.register).await?;
                    let mut q = sqlx::QueryBuilder::<$db>::new("DELETE FROM employees WHERE tenant = ");
                    q.push_bind(tenant.clone());
                    in_keys(&mut q, &added);
                    q.build().execute(&mut *self.register).await?;
                    if !key_ids.is_empty() {
                        let mut q = sqlx::QueryBuilder::<$db>::new("DELETE FROM data_keys WHERE key_id IN (");
                        let mut s = q.separated(", ");
                        for id in key_ids {
                            s.push_bind(id);
                        }
                        q.push(")");
                        q.build().execute(&mut *self.keys).await?;
                    }
                }
            }
            Ok(())
        }

        async fn add_quarantine_error(&mut self, row: u64, field: &str, rule: &str) -> Result<(), StoreError> {
            let row = i64::try_from(row).unwrap_or(i64::MAX);
            let errors: String = sqlx::query_scalar(super::sql::SELECT_QUARANTINE_ERRORS)
                .bind(self.run.as_str())
                .bind(row)
                .fetch_one(&mut *self.register)
                .await?;
            sqlx::query(super::sql::UPDATE_QUARANTINE_ERRORS)
                .bind(super::with_error(&errors, field, rule)?)
                .bind(self.run.as_str())
                .bind(row)
                .execute(&mut *self.register)
                .await?;
            Ok(())
        }
    };
}
pub(crate) use fix_up_methods;

/// A point where a crash is tested: with `HRFEED_FAULT` set to its name the process dies there
/// at once, as under `kill -9` or a power cut (the crash tests use it; nothing else sets it).
pub(crate) fn crash_point(name: &str) {
    if std::env::var("HRFEED_FAULT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// The data key ids a run with `prefix` can have made: `prefix` and a 4-byte counter.
pub(crate) fn key_range(prefix: &[u8; 12]) -> (Vec<u8>, Vec<u8>) {
    ([&prefix[..], &[0u8; 4]].concat(), [&prefix[..], &[0xFFu8; 4]].concat())
}

/// The stores' `mark_run`, written once for both backends, on their `register` and `keys` pools. Called under the tenant's lock, so
/// a marked run of the tenant that is not applied is one that died: no live run of the tenant
/// can hold keys the register has not committed.
macro_rules! orphan_sweep_methods {
    () => {
        /// Removes the keys of the tenant's runs that died between the two commits, then marks
        /// this run (committed at once, so a crash at any later point leaves it behind).
        async fn mark_run(&self, tenant: &TenantId, run: &RunId, prefix: &[u8; 12]) -> Result<(), StoreError> {
            let marked: Vec<(String, Vec<u8>)> =
                sqlx::query_as("SELECT run_id, key_prefix FROM pending_runs WHERE tenant = $1")
                    .bind(tenant.as_str())
                    .fetch_all(&self.keys)
                    .await?;
            for (run_id, stored) in marked {
                let applied: Option<String> = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
                    .bind(run_id.as_str())
                    .fetch_optional(&self.register)
                    .await?;
                if applied.as_deref() != Some(super::RunStatus::Applied.as_str()) {
                    let prefix: [u8; 12] =
                        stored.as_slice().try_into().map_err(|_| StoreError::Database("malformed key prefix".into()))?;
                    let (low, high) = super::key_range(&prefix);
                    let gone = sqlx::query("DELETE FROM data_keys WHERE key_id BETWEEN $1 AND $2 AND tenant = $3")
                        .bind(low)
                        .bind(high)
                        .bind(tenant.as_str())
                        .execute(&self.keys)
                        .await?
                        .rows_affected();
                    if gone > 0 {
                        tracing::warn!(run_id = %run_id, keys = gone, "Removed the data keys of a run that died before its register commit.");
                    }
                }
                sqlx::query("DELETE FROM pending_runs WHERE run_id = $1").bind(run_id.as_str()).execute(&self.keys).await?;
            }
            sqlx::query("INSERT INTO pending_runs (run_id, tenant, key_prefix) VALUES ($1, $2, $3)")
                .bind(run.as_str())
                .bind(tenant.as_str())
                .bind(prefix.to_vec())
                .execute(&self.keys)
                .await?;
            Ok(())
        }
    };
}
pub(crate) use orphan_sweep_methods;

/// `Store::pending_deletions`, written once for both backends (their pools differ in type).
macro_rules! pending_deletions_method {
    () => {
        async fn pending_deletions(
            &self,
            tenant: &TenantId,
            keys: &[EmployeeKey],
        ) -> Result<Vec<super::PendingDeletion>, StoreError> {
            let mut out = Vec::new();
            // Asked for the few people whose repeated key undoes a run's write: one query each.
            for key in keys {
                let row: Option<(String, String)> =
                    sqlx::query_as("SELECT due_on, run_id FROM deletions WHERE tenant = $1 AND employee_id = $2")
                        .bind(tenant.as_str())
                        .bind(key.as_str())
                        .fetch_optional(&self.register)
                        .await?;
                if let Some((due_on, run_id)) = row {
                    out.push(super::PendingDeletion { key: key.clone(), due_on, run_id });
                }
            }
            Ok(out)
        }
    };
}
pub(crate) use pending_deletions_method;

/// `Store::run_people` and `Store::latest_applied_run`, written once for both backends (their
/// pools differ in type, their SQL does not).
macro_rules! run_reads_methods {
    () => {
        async fn run_people(&self, tenant: &TenantId, run: &RunId) -> Result<Vec<super::RunPerson>, StoreError> {
            let rows: Vec<(Option<String>, String, Option<i64>)> = sqlx::query_as(super::sql::RUN_PEOPLE)
                .bind(tenant.as_str())
                .bind(run.as_str())
                .fetch_all(&self.register)
                .await?;
            Ok(super::run_people_from(rows))
        }

        async fn latest_applied_run(&self, tenant: &TenantId) -> Result<Option<(RunId, String)>, StoreError> {
            let row: Option<(String, String)> = sqlx::query_as(super::sql::LATEST_APPLIED_RUN)
                .bind(tenant.as_str())
                .fetch_optional(&self.register)
                .await?;
            Ok(row.map(|(id, sha)| (RunId::from_stored(id), sha)))
        }
    };
}
pub(crate) use run_reads_methods;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Store failures. sqlx errors are reduced to their kind, code and constraint name here,
/// because PostgreSQL's `detail` (and so sqlx's `Debug`) can quote the offending values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    /// An SQLite failure explained: what it means and what to do (the code alone tells nobody).
    #[error("database error: {meaning} (SQLite code {code})")]
    Sqlite { code: i32, meaning: &'static str },
    #[error("{file}: {cause}")]
    InFile { file: String, cause: Box<StoreError> },
    #[error("cannot open the database: {0}")]
    Connect(String),
    #[error("database migration failed: {0}")]
    Migrate(String),
    #[error("this file was applied for this tenant by a concurrent run")]
    AlreadyApplied,
}

/// What an SQLite result code means for the operator (extended codes by their primary code).
fn sqlite_meaning(code: i32) -> Option<&'static str> {
    Some(match code & 0xFF {
        5 | 6 => {
            "the database is locked by another process (another hrfeed run, or a tool holding it open) and stayed \
             locked; try again when that is done"
        }
        8 => {
            "the database is read-only: hrfeed needs write access to the database file, its -wal and -shm files and \
             their directory"
        }
        10 => "the disk failed to read or write the database (an I/O error): check the disk and the file system",
        11 | 26 => {
            "the database file is damaged (malformed, or not an SQLite database): move it aside and restore it from \
             a backup; hrfeed does not write into a damaged database"
        }
        13 => "the disk is full: free space, then run again (nothing of this run was applied)",
        14 => "the database file cannot be opened: check that its directory exists and may be written",
        23 => "access to the database was denied",
        _ => return None,
    })
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from_ref(&e)
    }
}

impl StoreError {
    /// Of a store's files, those this error is about: for a read-only database the ones that
    /// cannot be opened for writing, if that tells them apart; else all.
    pub fn files_at_fault(&self, files: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
        if let StoreError::Sqlite { code, .. } = self
            && code & 0xFF == 8
        {
            let read_only: Vec<_> =
                files.iter().filter(|f| std::fs::OpenOptions::new().write(true).open(f).is_err()).cloned().collect();
            if !read_only.is_empty() {
                return read_only;
            }
        }
        files.to_vec()
    }

    /// The error by kind only: a database's messages may quote values.
    pub(crate) fn from_ref(e: &sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::Database(db) => {
                if db.constraint() == Some("runs_applied_once") || db.message().contains("runs.tenant, runs.sha256") {
                    return StoreError::AlreadyApplied;
                }
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                    && let Some((code, meaning)) = code.parse::<i32>().ok().and_then(|c| Some((c, sqlite_meaning(c)?)))
                {
                    return StoreError::Sqlite { code, meaning };
                }
                let constraint = db.constraint().map(|c| format!(", constraint {c}")).unwrap_or_default();
                StoreError::Database(format!("code {code}{constraint}"))
            }
            sqlx::Error::RowNotFound => StoreError::Database("row not found".into()),
            sqlx::Error::PoolTimedOut => StoreError::Database("connection pool timed out".into()),
            sqlx::Error::Io(io) => StoreError::Database(format!("i/o: {}", io.kind())),
            sqlx::Error::ColumnDecode { index, .. } => StoreError::Database(format!("cannot decode column {index}")),
            sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => StoreError::Database("connection failure".into()),
            sqlx::Error::PoolClosed => StoreError::Database("connection pool closed".into()),
            _ => StoreError::Database("unexpected database error".into()),
        }
    }
}

impl From<crate::register::RegisterFull> for StoreError {
    fn from(e: crate::register::RegisterFull) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<crate::register::PagesOutOfOrder> for StoreError {
    fn from(e: crate::register::PagesOutOfOrder) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// The tenant's whole register, loaded before it is returned (the pipeline instead reads it
/// while it loads: see `Store::load_register`).
pub async fn register<S: Store>(store: &S, tenant: &TenantId) -> Result<Register, StoreError> {
    let register = Register::loading();
    let guard = register.loader();
    let loaded = store.load_register(tenant, &register).await;
    guard.done(loaded.is_ok());
    loaded.map(|()| register)
}

/// A quarantined row's errors (JSON pairs of field and rule) with one more.
pub(crate) fn with_error(errors: &str, field: &str, rule: &str) -> Result<String, StoreError> {
    let mut list: Vec<(String, String)> = serde_json::from_str(errors)
        .map_err(|_| StoreError::Database("a quarantined row's errors are malformed".into()))?;
    list.push((field.to_owned(), rule.to_owned()));
    serde_json::to_string(&list).map_err(|_| StoreError::Database("cannot encode a quarantined row's errors".into()))
}

/// Rebuilds stored layouts; a row whose names do not give its id is a corrupt store.
pub(crate) fn layouts_from_rows(rows: Vec<(Vec<u8>, String)>) -> Result<Vec<Layout>, StoreError> {
    rows.iter()
        .map(|(id, names)| {
            Layout::from_stored(id, names)
                .map_err(|_| StoreError::Database("a stored layout does not match its id".into()))
        })
        .collect()
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Applied,
    Duplicate,
    Held,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Applied => "applied",
            RunStatus::Duplicate => "duplicate",
            RunStatus::Held => "held",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "applied" => RunStatus::Applied,
            "duplicate" => RunStatus::Duplicate,
            "held" => RunStatus::Held,
            "failed" => RunStatus::Failed,
            _ => return None,
        })
    }
}

impl std::str::FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::parse(s).ok_or_else(|| format!("unknown run status `{s}`"))
    }
}

/// A run's stored summary. `report` is the JSON report: names and counts, never values.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: RunId,
    pub tenant: TenantId,
    pub file_name: String,
    pub sha256: String,
    pub status: RunStatus,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: String,
    pub report: String,
    /// For a file applied again on purpose: the run that first applied the same content.
    pub reprocess_of: Option<RunId>,
}

/// A stored person's sealed values and wrapped data key, for unsealing.
#[derive(Debug, Clone)]
pub struct SealedPerson {
    pub key: EmployeeKey,
    pub key_id: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// One person's new state.
#[derive(Debug, Clone)]
pub struct PersonWrite {
    pub key: EmployeeKey,
    pub class: Class,
    pub key_id: Vec<u8>,
    pub fingerprint: Fingerprint,
    /// The print of the cells the values were read from.
    pub cells: CellsPrint,
    pub ended: bool,
    pub sealed: Vec<u8>,
    /// Names of the fields that changed (empty for new people).
    pub fields: Vec<String>,
    /// A deletion to schedule (`YYYY-MM-DD`), or `None` to cancel any pending one.
    pub delete_on: Option<String>,
}

/// A pending deletion as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDeletion {
    pub key: EmployeeKey,
    pub due_on: String,
    pub run_id: String,
}

/// A person's register row as it was before the run.
#[derive(Debug, Clone)]
pub struct Before {
    pub key_id: Vec<u8>,
    pub fingerprint: Fingerprint,
    pub cells: CellsPrint,
    pub ended: bool,
    pub sealed: Vec<u8>,
}

/// A person to put back as they were before the run (every row of their key was rejected).
#[derive(Debug, Clone)]
pub struct Restore {
    pub key: EmployeeKey,
    /// `None`: the run added them; their row and new data key go.
    pub before: Option<Before>,
    pub deletion: Option<PendingDeletion>,
}

/// A new wrapped data key for the key store.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key_id: Vec<u8>,
    pub wrapped: Vec<u8>,
}

/// A rejected row for quarantine: sealed mapped values and the broken rules as JSON (names only).
#[derive(Debug, Clone)]
pub struct QuarantineRow {
    pub row: u64,
    pub line: u64,
    pub key: Option<EmployeeKey>,
    pub errors: String,
    pub key_id: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// One batch of a run's writes; batches keep memory flat however large the file.
#[derive(Debug, Default)]
pub struct Batch {
    pub keys: Vec<NewKey>,
    pub people: Vec<PersonWrite>,
    pub quarantine: Vec<QuarantineRow>,
    /// People of a full file that the file did not mention (history entry only).
    pub missing: Vec<EmployeeKey>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.keys.len() + self.people.len() + self.quarantine.len() + self.missing.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One person a run classified: their key (none for a rejected row whose key was unreadable),
/// the class, and for a rejected row its data row number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPerson {
    pub key: Option<EmployeeKey>,
    pub class: String,
    pub row: Option<u64>,
}

/// Rows of `sql::RUN_PEOPLE`, sorted by class, then row, then key.
pub(crate) fn run_people_from(rows: Vec<(Option<String>, String, Option<i64>)>) -> Vec<RunPerson> {
    let mut people: Vec<RunPerson> = rows
        .into_iter()
        .map(|(key, class, row)| RunPerson {
            key: key.map(|k| EmployeeKey::new(&k)),
            class,
            row: row.and_then(|r| u64::try_from(r).ok()),
        })
        .collect();
    people.sort_by(|a, b| {
        (&a.class, a.row, a.key.as_ref().map(EmployeeKey::as_str)).cmp(&(
            &b.class,
            b.row,
            b.key.as_ref().map(EmployeeKey::as_str),
        ))
    });
    people
}

/// A person's history entry.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub run_id: String,
    pub kind: String,
    pub fields: String,
    pub run_started_at: Option<String>,
}

/// The backend-independent store.
pub trait Store: Clone + Send + Sync + 'static {
    /// An open apply: writes go into one register transaction (and one key-store transaction)
    /// until `commit`; dropping it rolls both back.
    type Apply: Apply;

    /// The files an error of this store is about, for its message (SQLite: the register and the
    /// key store; a server database: none).
    fn files(&self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }

    /// Whether the register is stored in key order, so that new people written out of key order
    /// cost a page each and are worth holding back to write in order (`key_order`): SQLite keeps
    /// `employees` as a B-tree on its key; PostgreSQL appends new rows to a heap, and only its
    /// key index and the heap's pages mind the order: writes go in sorted windows there.
    fn clusters_by_key(&self) -> bool {
        false
    }

    /// Where a run's temporary sort files go (`key_order`): beside the database when it is a
    /// local file, so they land on the register's disk, else the system's temporary folder.
    fn scratch_dir(&self) -> Option<std::path::PathBuf> {
        None
    }

    /// The tenant's wrapped key, if one exists.
    fn tenant_key(&self, tenant: &TenantId) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Stores `wrapped` as the tenant's key unless one exists; returns the one that is stored.
    fn put_tenant_key(
        &self,
        tenant: &TenantId,
        wrapped: &[u8],
        now: &str,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// The applied run of this tenant with this content hash, if any.
    fn applied_run_by_hash(
        &self,
        tenant: &TenantId,
        sha256: &str,
    ) -> impl Future<Output = Result<Option<RunId>, StoreError>> + Send;

    /// The tenant's most recently started applied run and its content's hash, if any.
    fn latest_applied_run(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Option<(RunId, String)>, StoreError>> + Send;

    /// Every person of the tenant (key, fingerprint, cells print and whether ended), pushed
    /// into `into` page by page; the caller ends the load (`Register::finish`). A person's
    /// cells print is the overlay's (`prints`) where it holds one, else their row's.
    fn load_register(&self, tenant: &TenantId, into: &Register) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Sealed values and wrapped keys of the given people (those present).
    fn load_sealed(
        &self,
        tenant: &TenantId,
        keys: &[EmployeeKey],
    ) -> impl Future<Output = Result<Vec<SealedPerson>, StoreError>> + Send;

    /// Pending deletions of the given people (those that have one), as last committed.
    fn pending_deletions(
        &self,
        tenant: &TenantId,
        keys: &[EmployeeKey],
    ) -> impl Future<Output = Result<Vec<PendingDeletion>, StoreError>> + Send;

    /// Every payload layout stored so far (field names of sealed values).
    fn layouts(&self) -> impl Future<Output = Result<Vec<Layout>, StoreError>> + Send;

    /// Starts applying a run. Takes the tenant's lock, held until commit or drop: a concurrent
    /// run of the same tenant waits here (SQLite: any run, up to the busy timeout), so a run's
    /// register is never changed by another between its load and its commit.
    /// `key_prefix` is the first 12 bytes of every data key id the run makes: if the process
    /// dies between the key store's commit and the register's, the tenant's next apply finds
    /// the run uncommitted and removes those keys (`orphan_sweep_methods!`).
    fn begin_apply(
        &self,
        tenant: &TenantId,
        run: &RunId,
        key_prefix: &[u8; 12],
    ) -> impl Future<Output = Result<Self::Apply, StoreError>> + Send;

    /// Records a run that applies nothing (duplicate, held, failed).
    fn record_run(&self, run: &RunRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn list_runs(
        &self,
        tenant: Option<&TenantId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RunRecord>, StoreError>> + Send;

    fn get_run(&self, id: &str) -> impl Future<Output = Result<Option<RunRecord>, StoreError>> + Send;

    fn history(
        &self,
        tenant: &TenantId,
        key: &EmployeeKey,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>, StoreError>> + Send;

    /// The people an applied run classified, by class (`new`, `changed`, `ended`, `rehired`,
    /// `missing`, `rejected`); unchanged people are not recorded.
    fn run_people(
        &self,
        tenant: &TenantId,
        run: &RunId,
    ) -> impl Future<Output = Result<Vec<RunPerson>, StoreError>> + Send;

    /// Closes the pools. With SQLite this checkpoints the WAL into the database file, so the
    /// next open does not have to replay a large run's WAL.
    fn close(&self) -> impl Future<Output = ()> + Send;

    /// Counts of rows per table, for tests and `doctor`-style checks: (table, rows).
    fn table_counts(&self) -> impl Future<Output = Result<Vec<(String, i64)>, StoreError>> + Send;
}

/// An apply in progress.
pub trait Apply: Send {
    /// Stores a payload layout this run seals with (kept if already there).
    fn put_layout(&mut self, layout: &Layout) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn write(&mut self, batch: &Batch) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The given people's rows as this run left them so far, with their wrapped data keys.
    fn read_people(
        &mut self,
        keys: &[EmployeeKey],
    ) -> impl Future<Output = Result<Vec<SealedPerson>, StoreError>> + Send;

    /// Puts people back as they were before this run: their row, pending deletion and history.
    fn restore(&mut self, people: &[Restore]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces the tenant's overlay of cells prints (`prints`) with these pages.
    fn replace_prints(
        &mut self,
        pages: impl Iterator<Item = prints::PrintsPage> + Send,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds a broken rule to a row this run quarantined.
    fn add_quarantine_error(
        &mut self,
        row: u64,
        field: &str,
        rule: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records the run and commits: the key store first, then the register, so a crash in
    /// between leaves at most unused keys, never a register row without its key.
    fn commit(self, run: &RunRecord) -> impl Future<Output = Result<(), StoreError>> + Send;
}
