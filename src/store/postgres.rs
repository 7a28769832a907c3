//! The PostgreSQL backend: for several `hrfeed serve` instances sharing one database. The key
//! store is its own schema (default `hrfeed_keys`) of the same database, or a database of its own.

use std::str::FromStr;

use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Executor, PgPool, Postgres, QueryBuilder, Row, Transaction};

use super::pg_copy::{self, CopyReader, CopyRows};
use super::prints::PrintsCursor;
use super::{Apply, Batch, HistoryEntry, RunRecord, RunStatus, SealedPerson, Store, StoreError, sql};
use crate::diff::Class;
use crate::ids::{EmployeeKey, RunId, TenantId};
use crate::register::{Register, Segment};

/// Rows per multi-row statement; 8 binds a row stays far below PostgreSQL's 65535.
const CHUNK: usize = 1000;
const DEFAULT_KEY_SCHEMA: &str = "hrfeed_keys";

#[derive(Clone)]
pub struct PgStore {
    register: PgPool,
    keys: PgPool,
}

fn connect_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    // sqlx's statement log would only show SQL text, but we keep the CLI quiet and bounded.
    PgConnectOptions::from_str(url)
        .map(|o| o.disable_statement_logging())
        .map_err(|_| StoreError::Connect("not a valid postgres:// URL".into()))
}

fn valid_schema(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl PgStore {
    super::orphan_sweep_methods!();

    /// Connects and migrates. `key_store`: `None` = schema `hrfeed_keys` of the same database;
    /// a bare name = that schema; a `postgres://` URL = that database.
    pub async fn open(url: &str, key_store: Option<&str>) -> Result<PgStore, StoreError> {
        let connect_err = |e: sqlx::Error| StoreError::Connect(StoreError::from(e).to_string());
        let register =
            PgPoolOptions::new().max_connections(4).connect_with(connect_options(url)?).await.map_err(connect_err)?;
        let schema = match key_store {
            Some(k) if k.starts_with("postgres://") || k.starts_with("postgresql://") => None,
            Some(schema) => Some(schema.to_owned()),
            None => Some(DEFAULT_KEY_SCHEMA.to_owned()),
        };
        if let Some(s) = &schema
            && !valid_schema(s)
        {
            return Err(StoreError::Connect(format!("key_store schema `{s}`: use a-z, 0-9 and `_`")));
        }
        // Processes opening a new database at once would race to create the schema and run the
        // migrations; a session lock makes them take turns (the later ones find all done).
        let mut lock = register.acquire().await.map_err(connect_err)?;
        sqlx::query("SELECT pg_advisory_lock(7301001)").execute(&mut *lock).await.map_err(connect_err)?;
        let migrated = Self::create_and_migrate(&register, url, key_store, schema).await;
        sqlx::query("SELECT pg_advisory_unlock(7301001)").execute(&mut *lock).await.map_err(connect_err)?;
        drop(lock);
        let keys = migrated?;
        Ok(PgStore { register, keys })
    }

    async fn create_and_migrate(
        register: &PgPool,
        url: &str,
        key_store: Option<&str>,
        schema: Option<String>,
    ) -> Result<PgPool, StoreError> {
        let connect_err = |e: sqlx::Error| StoreError::Connect(StoreError::from(e).to_string());
        let key_url = match key_store {
            Some(k) if k.starts_with("postgres://") || k.starts_with("postgresql://") => k,
            _ => url,
        };
        if let Some(s) = &schema {
            register.execute(format!("CREATE SCHEMA IF NOT EXISTS {s}").as_str()).await.map_err(connect_err)?;
        }
        let search_path = schema.clone();
        let keys = PgPoolOptions::new()
            .max_connections(4)
            .after_connect(move |conn, _| {
                let sp = search_path.clone();
                Box::pin(async move {
                    if let Some(s) = sp {
                        conn.execute(format!("SET search_path TO {s}").as_str()).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect_options(key_url)?)
            .await
            .map_err(connect_err)?;
        sqlx::migrate!("src/store/migrations/postgres")
            .run(register)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        sqlx::migrate!("src/store/migrations/postgres_keys")
            .run(&keys)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(keys)
    }
}

fn run_from_row(r: &sqlx::postgres::PgRow) -> Result<RunRecord, StoreError> {
    let tenant: String = r.try_get("tenant")?;
    let status: String = r.try_get("status")?;
    Ok(RunRecord {
        id: RunId::from_stored(r.try_get("id")?),
        tenant: TenantId::parse(&tenant).map_err(StoreError::Database)?,
        file_name: r.try_get("file_name")?,
        sha256: r.try_get("sha256")?,
        status: RunStatus::from_str(&status).map_err(StoreError::Database)?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        report: r.try_get("report")?,
        reprocess_of: r.try_get::<Option<String>, _>("reprocess_of")?.map(RunId::from_stored),
    })
}

async fn insert_run<'e, E: sqlx::Executor<'e, Database = Postgres>>(e: E, run: &RunRecord) -> Result<(), StoreError> {
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

impl Store for PgStore {
    type Apply = PgApply;

    async fn tenant_key(&self, tenant: &TenantId) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT wrapped FROM tenant_keys WHERE tenant = $1")
            .bind(tenant.as_str())
            .fetch_optional(&self.keys)
            .await?;
        Ok(row.map(|r| r.try_get("wrapped")).transpose()?)
    }

    async fn put_tenant_key(&self, tenant: &TenantId, wrapped: &[u8], now: &str) -> Result<Vec<u8>, StoreError> {
        sqlx::query(sql::INSERT_TENANT_KEY).bind(tenant.as_str()).bind(wrapped).bind(now).execute(&self.keys).await?;
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
        let highest: Option<String> = sqlx::query_scalar("SELECT max(employee_id) FROM employees WHERE tenant = $1")
            .bind(tenant.as_str())
            .fetch_one(&self.register)
            .await?;
        if let Some(h) = &highest {
            into.set_highest(h)?;
        }
        // In the binary `COPY` format (sqlx decodes rows one message at a time, seconds for a
        // million people), in key order: employee ids collate as bytes (migration 0005), as
        // `Register::push_page` needs, so validators look keys up as soon as their page is in.
        // `COPY` takes no binds; a tenant id is `[a-z0-9_-]` (`TenantId::parse`), safe as a literal.
        let statement = format!(
            "COPY (SELECT employee_id, fingerprint, cells, ended FROM employees WHERE tenant = '{}' \
             ORDER BY employee_id) TO STDOUT (FORMAT binary)",
            tenant.as_str()
        );
        // In a transaction of its own for two settings: the key order comes from the primary key's
        // index rather than a sort (which a register not analyzed yet would get, spilling to disk
        // for a large one), and no JIT compilation, which a plain scan gains nothing from.
        let mut tx = self.register.begin().await?;
        tx.execute("SET LOCAL enable_sort = off").await?;
        tx.execute("SET LOCAL jit = off").await?;
        let mut chunks = tx.copy_out_raw(&statement).await?;
        let mut reader = CopyReader::default();
        let mut overlay = PrintsCursor::default();
        let mut page = Segment::with_capacity(REGISTER_PAGE);
        let mut last = String::new();
        // Set from the second row on: each key must be above the one before.
        let mut seen_any = false;
        // The overlay's pages are read on the pool beside the `COPY`, which holds its connection.
        let push = async |mut page: Segment, last: &str, overlay: &mut PrintsCursor| {
            overlay
                .apply_upto(&mut page, Some(last), |after| super::next_prints_page!(self.register, tenant, after))
                .await?;
            Ok::<_, StoreError>(into.push_page(page, last)?)
        };
        while let Some(chunk) = chunks.try_next().await? {
            reader.push(&chunk);
            while let Some(row) = reader.next_row()? {
                let [Some(key), Some(fp), Some(cells), Some(ended)] = row.fields::<4>()? else {
                    return Err(pg_copy::malformed());
                };
                let key = std::str::from_utf8(key).map_err(|_| pg_copy::malformed())?;
                if seen_any && key <= last.as_str() {
                    return Err(StoreError::Database("the register came out of key order".into()));
                }
                let fp = fp.try_into().map_err(|_| StoreError::Database("malformed fingerprint".into()))?;
                let cells = cells.try_into().map_err(|_| StoreError::Database("malformed cells print".into()))?;
                page.insert_unique(key, fp, cells, ended == [1])?;
                key.clone_into(&mut last);
                seen_any = true;
                if page.len() == REGISTER_PAGE {
                    let full = std::mem::replace(&mut page, Segment::with_capacity(REGISTER_PAGE));
                    push(full, &last, &mut overlay).await?;
                }
            }
        }
        reader.finish()?;
        if !page.is_empty() {
            push(page, &last, &mut overlay).await?;
        }
        drop(chunks);
        tx.commit().await?;
        overlay.finish(into, |after| super::next_prints_page!(self.register, tenant, after)).await
    }

    async fn load_sealed(&self, tenant: &TenantId, keys: &[EmployeeKey]) -> Result<Vec<SealedPerson>, StoreError> {
        let wanted: Vec<&str> = keys.iter().map(EmployeeKey::as_str).collect();
        let rows = sqlx::query(
            "SELECT employee_id, key_id, sealed FROM employees WHERE tenant = $1 AND employee_id = ANY($2)",
        )
        .bind(tenant.as_str())
        .bind(&wanted)
        .fetch_all(&self.register)
        .await?;
        let mut people = Vec::with_capacity(rows.len());
        for r in rows {
            people.push(SealedPerson {
                key: EmployeeKey::new(r.try_get::<&str, _>(0)?),
                key_id: r.try_get(1)?,
                wrapped_key: Vec::new(),
                sealed: r.try_get(2)?,
            });
        }
        let ids: Vec<&[u8]> = people.iter().map(|p| p.key_id.as_slice()).collect();
        let found: Vec<(Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT key_id, wrapped FROM data_keys WHERE key_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.keys)
                .await?;
        let found: std::collections::HashMap<Vec<u8>, Vec<u8>> = found.into_iter().collect();
        for p in &mut people {
            if let Some(w) = found.get(&p.key_id) {
                p.wrapped_key = w.clone();
            }
        }
        Ok(people)
    }

    super::pending_deletions_method!();

    async fn layouts(&self) -> Result<Vec<crate::seal::Layout>, StoreError> {
        let rows = sqlx::query_as(sql::SELECT_LAYOUTS).fetch_all(&self.register).await?;
        super::layouts_from_rows(rows)
    }

    async fn begin_apply(&self, tenant: &TenantId, run: &RunId, key_prefix: &[u8; 12]) -> Result<PgApply, StoreError> {
        let keys = self.keys.begin().await?;
        let mut register = self.register.begin().await?;
        // One run per tenant at a time: a second run waits here until this one commits or
        // rolls back, and so diffs against its result. Other tenants are not held up.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7301))")
            .bind(tenant.as_str())
            .execute(&mut *register)
            .await?;
        self.mark_run(tenant, run, key_prefix).await?;
        for statement in CREATE_STAGING {
            sqlx::query(statement).execute(&mut *register).await?;
        }
        Ok(PgApply { tenant: tenant.clone(), run: run.clone(), keys, register, pool: self.register.clone(), added: 0 })
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        insert_run(&self.register, run).await
    }

    async fn list_runs(&self, tenant: Option<&TenantId>, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM runs WHERE ($1::text IS NULL OR tenant = $1::text) ORDER BY started_at DESC, id LIMIT $2",
        )
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
               SELECT e.created_run AS run_id, 'new'::text AS kind, ''::text AS fields, r.started_at AS started_at, \
                      0 AS seq FROM employees e LEFT JOIN runs r ON r.id = e.created_run \
                WHERE e.tenant = $1 AND e.employee_id = $2 \
               UNION ALL \
               SELECT h.run_id, h.kind, h.fields, r.started_at, h.seq FROM history h \
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

/// The staging tables of a run's apply, gone when its transaction ends (and with the session,
/// should it die): they hold what `employees` holds, sealed values and ids.
const CREATE_STAGING: [&str; 1] =
    ["CREATE TEMP TABLE hrfeed_stage_people (employee_id TEXT COLLATE \"C\" NOT NULL, key_id BYTEA NOT NULL, \
     fingerprint BYTEA NOT NULL, cells BYTEA NOT NULL, ended BOOLEAN NOT NULL, sealed BYTEA NOT NULL, \
     class TEXT NOT NULL, fields TEXT NOT NULL, delete_on TEXT) ON COMMIT DROP"];

/// Staged people already in the register get their new state (`$1` tenant). A row whose values
/// are unchanged (only its fingerprint moved, after a mapping change) gets its fingerprint
/// refreshed but no history entry; a new person's entry is their row's `created_run` (see
/// `history`).
const STAGED_UPDATE: &str = "UPDATE employees e SET key_id = s.key_id, fingerprint = s.fingerprint, \
     cells = s.cells, ended = s.ended, sealed = s.sealed FROM hrfeed_stage_people s \
     WHERE e.tenant = $1 AND e.employee_id = s.employee_id AND s.class <> 'new'";

/// The history rows and deletions of staged people (`$1` tenant, `$2` run).
const STAGED_HISTORY_AND_DELETIONS: [&str; 2] = [
    "INSERT INTO history (tenant, employee_id, run_id, kind, fields) SELECT $1, employee_id, $2, class, fields \
     FROM hrfeed_stage_people WHERE class NOT IN ('new', 'unchanged')",
    "INSERT INTO deletions (tenant, employee_id, due_on, run_id) SELECT $1, employee_id, delete_on, $2 \
     FROM hrfeed_stage_people WHERE delete_on IS NOT NULL \
     ON CONFLICT (tenant, employee_id) DO UPDATE SET due_on = excluded.due_on, run_id = excluded.run_id",
];

/// Pending deletions of staged people whose end went away (`$1` tenant).
const STAGED_CANCELS: &str = "DELETE FROM deletions d USING hrfeed_stage_people s WHERE d.tenant = $1 \
     AND d.employee_id = s.employee_id AND s.delete_on IS NULL AND s.class <> 'new'";

/// A person's register state as `COPY` fields: key, key id, fingerprint, cells print, ended, sealed.
fn person_state<'r>(rows: &'r mut CopyRows, p: &super::PersonWrite) -> &'r mut CopyRows {
    rows.text(p.key.as_str()).bytes(&p.key_id).bytes(&p.fingerprint).bytes(&p.cells).boolean(p.ended).bytes(&p.sealed)
}

/// Register entries per page of `load_register`.
const REGISTER_PAGE: usize = 50_000;

pub struct PgApply {
    tenant: TenantId,
    run: RunId,
    keys: Transaction<'static, Postgres>,
    register: Transaction<'static, Postgres>,
    /// For the statistics after commit.
    pool: PgPool,
    /// New people written so far.
    added: u64,
}

/// Refreshes the planner's statistics of `employees` after a commit that grew it by more than a
/// tenth (a first load above all): with the statistics of a near-empty table, the next run's
/// reads were planned for a few thousand rows (a 1M-row day 2 written another way: 8.5 s
/// instead of 5.4–6.3 s) until autovacuum came by. `ANALYZE` samples a bounded number of rows:
/// about 0.4 s after a 1M-row first load.
async fn analyze_if_grown(pool: &PgPool, added: u64) {
    if added < 1000 {
        return;
    }
    let estimated: Result<f32, _> =
        sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = 'employees'::regclass").fetch_one(pool).await;
    // -1: never analyzed.
    let before = estimated.map_or(0.0, |n| f64::from(n.max(0.0)));
    if (added as f64) > before / 10.0
        && let Err(e) = sqlx::query("ANALYZE employees").execute(pool).await
    {
        tracing::warn!("Could not refresh the register's statistics after a large run: {e}");
    }
}

impl Apply for PgApply {
    super::fix_up_methods!(sqlx::Postgres);
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
        let (keys, register, added) = (&mut self.keys, &mut self.register, &mut self.added);
        let write_keys = async move {
            let mut rows = CopyRows::new();
            for k in &batch.keys {
                rows.row(3).bytes(&k.key_id).text(tenant).bytes(&k.wrapped);
            }
            rows.send(keys, "COPY data_keys (key_id, tenant, wrapped) FROM STDIN (FORMAT binary)").await
        };
        let write_register = async move {
            // New people go straight into the register, one `COPY` a batch (a key already there
            // fails the run, loudly); the others, and new people with an end, go through a
            // staging table (`begin_apply`), from which their register rows, history rows and
            // deletions follow in the database.
            let (mut new, mut staged) = (CopyRows::new(), CopyRows::new());
            let mut updates = 0u64;
            for p in &batch.people {
                if p.class == Class::New {
                    *added += 1;
                    person_state(new.row(8).text(tenant), p).text(run);
                    if p.delete_on.is_none() {
                        continue;
                    }
                } else {
                    updates += 1;
                }
                person_state(staged.row(9), p)
                    .text(p.class.as_str())
                    .text(&p.fields.join(","))
                    .opt_text(p.delete_on.as_deref());
            }
            new.send(
                register,
                "COPY employees (tenant, employee_id, key_id, fingerprint, cells, ended, sealed, created_run) \
                 FROM STDIN (FORMAT binary)",
            )
            .await?;
            if !staged.is_empty() {
                staged
                    .send(
                        register,
                        "COPY hrfeed_stage_people (employee_id, key_id, fingerprint, cells, ended, sealed, class, \
                         fields, delete_on) FROM STDIN (FORMAT binary)",
                    )
                    .await?;
                let updated = sqlx::query(STAGED_UPDATE).bind(tenant).execute(&mut **register).await?.rows_affected();
                if updated != updates {
                    return Err(StoreError::Database(format!(
                        "{updates} people of the register were to be updated, {updated} were found: \
                         the register changed under the run"
                    )));
                }
                for statement in STAGED_HISTORY_AND_DELETIONS {
                    sqlx::query(statement).bind(tenant).bind(run).execute(&mut **register).await?;
                }
                sqlx::query(STAGED_CANCELS).bind(tenant).execute(&mut **register).await?;
                // A table created in the same transaction is emptied in place.
                register.execute("TRUNCATE hrfeed_stage_people").await?;
            }
            for chunk in batch.missing.chunks(CHUNK) {
                let mut h = QueryBuilder::<Postgres>::new(sql::INSERT_HISTORY);
                h.push_values(chunk, |mut b, k| {
                    b.push_bind(tenant).push_bind(k.as_str()).push_bind(run).push_bind("missing").push_bind("");
                });
                h.build().execute(&mut **register).await?;
            }
            for chunk in batch.quarantine.chunks(CHUNK) {
                let mut q = QueryBuilder::<Postgres>::new(sql::INSERT_QUARANTINE);
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
        analyze_if_grown(&self.pool, self.added).await;
        Ok(())
    }
}
