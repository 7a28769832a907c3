//! Ingest: the one place that calls the steps of a run in order — receive, read, validate,
//! diff, guard, apply, report — and turns their outcome into a stored run and a report.
//!
//! Reading and validating run on a worker thread and stream batches to the diff/apply side,
//! so memory holds the register's index and a few batches, never the file's contents.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::diff::{self, Class, Counts, Dates};
use crate::guard::{self, Verdict};
use crate::ids::{EmployeeKey, RunId, TenantId};
use crate::key_order::KeyOrder;
use crate::mapping::{self, FileMode, Keep as KeepAs, Mapping};
use crate::occurrence::{First, Occurrence, Occurrences};
use crate::read::{self, ReadError, Record};
use crate::receive;
use crate::register::{Lookup, Quick, Register, Seen, Stopped};
use crate::report::{DetectedJson, MAX_LISTED_REJECTIONS, Rejection, Report};
use crate::seal::{self, CellsPrint, Fingerprint, MasterKey, NO_CELLS_PRINT, SealError, TenantKeys};
use crate::store::{
    Apply, Batch, Before, NewKey, PersonWrite, QuarantineRow, Restore, RunRecord, RunStatus, SealedPerson, Store,
    StoreError,
};
use crate::task::Ahead;
use crate::validate::{self, CellError, Context, Plan, PlanError, Rejected, Rule};
use crate::value::Value;

/// Rows per batch between the reader thread and the apply side.
const ROWS_PER_BATCH: usize = 2048;
/// Rows whose fingerprint differs are unsealed this many at a time.
const COMPARE_BATCH: usize = 1024;
/// Reads of stored records under way at once while the file streams on.
const COMPARE_AHEAD: usize = 4;
/// Writes are flushed to the open transaction at this many items: small enough that the writer
/// keeps close behind the file (what it has left once the file is read runs on one core).
const WRITE_BATCH: usize = 1024;

/// What to ingest and how.
pub struct Request<'a> {
    pub file: &'a Path,
    pub tenant: &'a TenantId,
    pub mapping: Arc<Mapping>,
    pub master: &'a MasterKey,
    pub dry_run: bool,
    /// Apply the file even if the same content was applied before (after a mapping fix, say).
    pub reprocess: bool,
    pub clock: Clock,
    /// Called with (units done, units total) as the file is read, for a progress bar.
    pub progress: Option<Arc<dyn Fn(u64, u64) + Send + Sync>>,
    /// Threads that validate rows; `None`: `default_validators()`.
    pub validators: Option<usize>,
}

/// One validator thread per core but one: the reader and the apply side (the sink, the
/// register's writer and its reads) keep the last core busy between them. On two cores a second
/// validator only contends with the writer, which decides when a run with changes ends.
pub fn default_validators() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from).saturating_sub(1).clamp(1, 8)
}

/// Why a run could not go on. Each names the file-level problem; none quotes a value.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{file}: {source}")]
    Read { file: String, source: ReadError },
    #[error("{file}: {source}")]
    Plan { file: String, source: PlanError },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Seal(#[from] SealError),
    #[error("{file}: cannot read the file: {source}")]
    Io { file: String, source: std::io::Error },
    #[error(
        "{file}: the file changed while it was read (its SHA-256 as received and as parsed differ): it was still \
         being written, or was replaced; nothing was applied: send it again once it is complete"
    )]
    Changed { file: String },
    #[error("cannot sort the run's writes into key order (a temporary file): {0}")]
    KeyOrder(std::io::Error),
    #[error("internal error: the reader thread stopped unexpectedly")]
    Worker,
    #[error("internal error: the database writer stopped unexpectedly")]
    WriterStopped,
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// Runs the whole pipeline for one file and returns its report (also for failed runs).
pub async fn ingest<S: Store>(store: &S, req: &Request<'_>) -> Report {
    let started = Instant::now();
    let started_at = req.clock.now();
    let run_id = RunId::new_random();
    let file_label = req.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut report = Report::empty(run_id.as_str(), req.tenant.as_str(), &file_label, "", req.dry_run);
    let outcome = run(store, req, &run_id, &mut report).await;
    if let Err(e) = &outcome {
        // A dry run exits as the real run would, and that one stops as a duplicate before any
        // error the file meets today.
        let duplicate = req.dry_run && !req.reprocess && report.duplicate_of.is_some();
        report.status = if duplicate { RunStatus::Duplicate } else { RunStatus::Failed }.as_str().into();
        report.error = Some(match e {
            IngestError::Store(s @ StoreError::Sqlite { .. }) if !store.files().is_empty() => {
                let files: Vec<String> =
                    s.files_at_fault(&store.files()).iter().map(|f| f.display().to_string()).collect();
                format!(
                    "{e}; {}: {}",
                    if files.len() == 1 { "the file" } else { "the database files" },
                    files.join(", ")
                )
            }
            e => e.to_string(),
        });
    }
    report.timings_ms.insert("total".into(), elapsed_ms(started));
    let status = RunStatus::parse(&report.status).unwrap_or(RunStatus::Failed);
    let record = RunRecord {
        id: run_id.clone(),
        tenant: req.tenant.clone(),
        file_name: report.file.clone(),
        sha256: report.sha256.clone(),
        status,
        started_at: started_at.to_rfc3339(),
        finished_at: req.clock.now().to_rfc3339(),
        report: String::new(),
        reprocess_of: report.reprocess_of.clone().map(RunId::from_stored),
    };
    match outcome {
        Ok(Some(apply)) => {
            let record = RunRecord { report: report.to_json(), ..record };
            let t = Instant::now();
            if let Err(e) = apply.commit(&record).await {
                report.status = RunStatus::Failed.as_str().into();
                report.error = Some(format!("commit failed, nothing was applied: {e}"));
                // Recorded as failed, never as applied: the file must stay processable.
                record_quietly(store, &report, RunRecord { status: RunStatus::Failed, ..record }).await;
            }
            // The stored report cannot time its own commit; the printed one does.
            report.timings_ms.insert("commit".into(), elapsed_ms(t));
            report.timings_ms.insert("total".into(), elapsed_ms(started));
        }
        _ if req.dry_run => {}
        _ => record_quietly(store, &report, record).await,
    }
    tracing::info!(
        run_id = %run_id,
        tenant = %req.tenant,
        status = %report.status,
        rows = report.counts.rows,
        new = report.counts.new,
        changed = report.counts.changed,
        rejected = report.counts.rejected,
        unvalidated = report.unvalidated,
        duration_ms = elapsed_ms(started),
        "Run finished."
    );
    report
}

/// Stores a run that applied nothing; a failure to do so is logged, the report still printed.
async fn record_quietly<S: Store>(store: &S, report: &Report, record: RunRecord) {
    let record = RunRecord { report: report.to_json(), ..record };
    if let Err(e) = store.record_run(&record).await {
        tracing::error!(run_id = %record.id, error = %e, "Could not record the run.");
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The pipeline proper. `Ok(Some(apply))` = ready to commit; `Ok(None)` = nothing to commit
/// (dry run, duplicate, held).
async fn run<S: Store>(
    store: &S,
    req: &Request<'_>,
    run_id: &RunId,
    report: &mut Report,
) -> Result<Option<S::Apply>, IngestError> {
    let t = Instant::now();
    let file = req.file.to_path_buf();
    let label = report.file.clone();
    // The file is hashed, and opened (format, encoding, delimiter and header found), beside the
    // register load and the first rows' validation; see `Receipt`.
    let f = file.clone();
    let claim_task = tokio::task::spawn_blocking(move || receive::claim(&f));
    let keys = tenant_keys(store, req).await?;
    // The apply (and with it the tenant lock) comes before the duplicate check, so a run of
    // the same file that finished while this one waited for the lock makes this one a duplicate.
    let key_ids = KeyIds::new(req.clock.now());
    let apply = if req.dry_run { None } else { Some(store.begin_apply(req.tenant, run_id, &key_ids.prefix).await?) };
    // A dry run shows the diff of a file applied before, and a reprocessing applies it again.
    let (prior_stops, reprocess) = (!req.dry_run && !req.reprocess, req.reprocess);
    let receipt = {
        let (store, tenant, label) = (store.clone(), req.tenant.clone(), label.clone());
        Ahead::spawn(async move {
            let claim = claim_task.await.map_err(|_| IngestError::Worker)?;
            let claim = claim.map_err(|source| IngestError::Io { file: label, source })?;
            let ms = elapsed_ms(t);
            let prior = store.applied_run_by_hash(&tenant, &claim.sha256).await?;
            // The latest applied run is newer content only if it applied another file (not a
            // reprocessing of this one).
            let latest = match prior {
                Some(_) => store.latest_applied_run(&tenant).await?.filter(|(_, sha)| *sha != claim.sha256),
                None => None,
            };
            let latest = latest.map(|(id, _)| id);
            Ok(Receipt { sha256: claim.sha256, ms, prior, latest, stops: prior_stops, reprocess })
        })
    };
    let (f, m) = (file.clone(), req.mapping.clone());
    let today = req.clock.today();
    let open_task = tokio::task::spawn_blocking(move || read::open(&f, &m.read));
    // The register loads page by page while the file is checked and then read: validators
    // wait only for the page holding their row's key.
    let register = Arc::new(Register::loading());
    let loader = {
        let (store, tenant, register) = (store.clone(), req.tenant.clone(), register.clone());
        Ahead::spawn(async move {
            let t = Instant::now();
            let guard = register.loader();
            let loaded = store.load_register(&tenant, &register).await;
            guard.done(loaded.is_ok());
            loaded.map(|()| elapsed_ms(t))
        })
    };
    let opened = match open_task.await.map_err(|_| IngestError::Worker)? {
        Ok(records) => match Plan::new(records.header(), &req.mapping) {
            Ok(plan) => Ok((records, plan)),
            Err(source) => Err(IngestError::Plan { file: label.clone(), source }),
        },
        Err(source) => Err(IngestError::Read { file: label.clone(), source }),
    };
    let (records, plan) = match opened {
        Ok(opened) => opened,
        // A file applied before is a duplicate even if today's mapping cannot open it.
        Err(e) => {
            Receipt::take(receipt.finish().await, report)?;
            if is_duplicate(report) || (req.dry_run && !req.reprocess && report.duplicate_of.is_some()) {
                report.status = RunStatus::Duplicate.as_str().into();
                return Ok(None);
            }
            return Err(e);
        }
    };
    let keep_stored = Keep::new(&plan, &req.mapping);

    let t = Instant::now();
    let mut apply = apply;
    let shared = Arc::new(Shared {
        tenant: req.tenant.clone(),
        mapping: req.mapping.clone(),
        keys,
        key_ids,
        person_layout: seal::Layout::new(
            req.mapping
                .fields
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != req.mapping.key)
                .map(|(_, f)| f.name.clone())
                .collect(),
        ),
        register,
        occurrences: Occurrences::default(),
        today,
        plan,
        keep_stored,
    });
    let Some(counts) =
        stream(store, req, run_id, shared.clone(), (records, loader, receipt), &mut apply, report).await?
    else {
        return Ok(None);
    };
    report.timings_ms.insert("validate_diff_apply".into(), elapsed_ms(t));

    report.counts = (&counts).into();
    report.unvalidated = counts.unvalidated;
    report.changed_fields = counts.changed_fields.clone();
    let absent = shared.plan.absent_held(&req.mapping);
    let facts = guard::Facts {
        people: shared.register.len(),
        active: shared.register.active(),
        mode: req.mapping.mode,
        absent: &absent,
    };
    let apply = match guard::guard(&counts, facts, &req.mapping.policy) {
        Verdict::Held(reasons) => {
            report.status = RunStatus::Held.as_str().into();
            report.held_reasons = reasons;
            None
        }
        Verdict::Proceed => {
            report.status = RunStatus::Applied.as_str().into();
            let mut apply = apply;
            if let Some(a) = apply.as_mut()
                && let Some(overlay) = shared.register.print_overlay()
            {
                let t = Instant::now();
                a.replace_prints(crate::store::prints::pack(overlay)).await?;
                report.timings_ms.insert("write_prints".into(), elapsed_ms(t));
            }
            apply
        }
    };
    // A dry run of a file applied before exits as the real run would: as a duplicate.
    if req.dry_run && !req.reprocess && report.duplicate_of.is_some() {
        report.status = RunStatus::Duplicate.as_str().into();
    }
    Ok(apply)
}

fn is_duplicate(report: &Report) -> bool {
    report.status == RunStatus::Duplicate.as_str()
}

/// The file's hash and whether its content was applied before. Hashing a large file takes a
/// fraction of a second that the first rows' validation need not wait for: the check runs
/// beside it, and a duplicate stops the run then, before anything is committed.
struct Receipt {
    sha256: String,
    ms: u64,
    /// The run that first applied this content, if one did.
    prior: Option<RunId>,
    /// The tenant's latest applied run, when `prior` is known: if it is another, this file is
    /// older than what the register holds.
    latest: Option<RunId>,
    /// Whether a prior application ends this run (not so for a dry run or a reprocessing).
    stops: bool,
    reprocess: bool,
}

type ReceiptCheck = Ahead<Result<Receipt, IngestError>>;

impl Receipt {
    /// Puts the receipt into the report: its hash, and for a duplicate its status.
    fn take(receipt: Option<Result<Receipt, IngestError>>, report: &mut Report) -> Result<(), IngestError> {
        let receipt = receipt.ok_or(IngestError::Worker)??;
        report.sha256 = receipt.sha256;
        report.timings_ms.insert("receive".into(), receipt.ms);
        let Some(prior) = receipt.prior else { return Ok(()) };
        if receipt.stops {
            report.status = RunStatus::Duplicate.as_str().into();
            report.superseded_by = receipt.latest.filter(|l| *l != prior).map(|l| l.to_string());
        }
        if receipt.reprocess {
            report.reprocess_of = Some(prior.to_string());
        } else {
            report.duplicate_of = Some(prior.to_string());
        }
        Ok(())
    }
}

fn file_error(label: &str, e: FileError) -> IngestError {
    match e {
        FileError::Read(source) => IngestError::Read { file: label.to_owned(), source },
        FileError::Worker => IngestError::Worker,
    }
}

async fn tenant_keys<S: Store>(store: &S, req: &Request<'_>) -> Result<TenantKeys, IngestError> {
    if let Some(w) = store.tenant_key(req.tenant).await? {
        return Ok(TenantKeys::unwrap(req.master, req.tenant, &w)?);
    }
    let (keys, wrapped) = TenantKeys::generate(req.master, req.tenant);
    if req.dry_run {
        return Ok(keys);
    }
    let stored = store.put_tenant_key(req.tenant, &wrapped, &req.clock.now().to_rfc3339()).await?;
    Ok(TenantKeys::unwrap(req.master, req.tenant, &stored)?)
}

enum FileError {
    Read(ReadError),
    /// A validator thread panicked (a bug, not the file's fault).
    Worker,
}

/// A valid row whose fingerprint differs from the register's: compared on the apply side.
struct ValidRow {
    row: validate::Row,
    payload: Vec<u8>,
    fingerprint: Fingerprint,
    cells: CellsPrint,
}

/// What the validators made of one chunk of records.
#[derive(Default)]
struct Validated {
    rows: u64,
    unchanged: u64,
    /// Of `unchanged`, those found by the quick cells check.
    unvalidated: u64,
    /// New people, already sealed under their new data keys.
    new: Vec<(NewKey, PersonWrite)>,
    compare: Vec<ValidRow>,
    rejected: Vec<Rejected>,
}

/// Names data keys: 6 bytes of the time in milliseconds and 6 random bytes, the same for a
/// whole run, then a 4-byte counter. A run's keys are thus ordered, and append to the key store
/// rather than landing at random places in its index.
struct KeyIds {
    prefix: [u8; 12],
    next: std::sync::atomic::AtomicU64,
}

impl KeyIds {
    fn new(now: chrono::DateTime<chrono::Utc>) -> KeyIds {
        use rand::RngCore;
        let mut prefix = [0u8; 12];
        prefix[..6].copy_from_slice(&now.timestamp_millis().to_be_bytes()[2..]);
        rand::rng().fill_bytes(&mut prefix[6..]);
        KeyIds { prefix, next: std::sync::atomic::AtomicU64::new(0) }
    }

    fn next(&self) -> Vec<u8> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        [&self.prefix[..], &n.to_be_bytes()[4..]].concat()
    }
}

/// The deletion to schedule for a row's values: its end date plus the retention period.
fn delete_on(mapping: &Mapping, values: &[Option<Value>]) -> Option<String> {
    let end = mapping.end_date.and_then(|i| values[i].as_ref())?;
    let date = chrono::NaiveDate::parse_from_str(end.expose(), "%Y-%m-%d").ok()?;
    let due = date.checked_add_days(chrono::Days::new(u64::from(mapping.policy.retention_days_after_end)))?;
    Some(due.format("%Y-%m-%d").to_string())
}

/// Puts the stored value into each empty field that `keep` marks; true if any was put back.
fn merge_stored(values: &mut [Option<Value>], old: &[(String, Option<Value>)], names: &[&str], keep: &[bool]) -> bool {
    let mut merged = false;
    for (i, v) in values.iter_mut().enumerate() {
        if v.is_none()
            && keep.get(i).copied().unwrap_or(false)
            && let Some((_, Some(stored))) = old.iter().find(|(n, _)| n == names[i])
        {
            *v = Some(stored.clone());
            merged = true;
        }
    }
    merged
}

fn is_ended(mapping: &Mapping, values: &[Option<Value>]) -> bool {
    mapping.end_date.is_some_and(|i| values[i].is_some())
}

fn person_aad(tenant: &TenantId, key: &EmployeeKey) -> String {
    format!("{tenant}|{}", key.as_str())
}

/// What the reader thread learnt about the file as a whole.
struct FileFacts {
    dropped: Vec<String>,
    refused: Vec<String>,
    missing: Vec<String>,
    detected: read::Detected,
    column_names: Vec<String>,
    event_column: Option<String>,
    /// The hash of the bytes parsed (`None` if the reader did not reach the end).
    sha256: Option<String>,
}

/// On its own thread: read, validate, minimise, encode and fingerprint, in batches, on
/// `workers` validator threads and, with `helper`, one more that validates only while most rows
/// need full validation (see `Effort`).
fn read_and_validate(
    mut records: read::Records,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Validated>,
    progress: Option<Arc<dyn Fn(u64, u64) + Send + Sync>>,
    (workers, helper): (usize, bool),
) -> Result<FileFacts, FileError> {
    let mapping = &shared.mapping;
    let header = records.header().clone();
    let plan = &shared.plan;
    let ctx = Context { today: shared.today, workbook: header.detected.format != "csv" };
    // A workbook's sheet is parsed on a thread of its own, the longest path of its read: a
    // helper validator only took its core (100k rows by last name: 1.6-2.2 s against 1.4-1.7 s).
    let helper = helper && !ctx.workbook;
    let validator = Validator {
        plan,
        shared: &shared,
        ctx,
        cells_key: shared.keys.cells_key(&mapping.digest, ctx.workbook),
        hashed: (0..mapping.fields.len()).filter(|&i| mapping.fields[i].keep == KeepAs::Hash).collect(),
        effort: Effort::default(),
    };
    // Validation is the costly part of reading, so it runs on `workers` threads of its own while
    // this thread parses. Chunks of records travel to the validators and come back empty to be
    // refilled, so no record buffer is allocated per row and at most a few chunks exist at once.
    let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<(Vec<Record>, usize)>(workers + usize::from(helper));
    let (free_tx, free_rx) = std::sync::mpsc::channel::<Vec<Record>>();
    // Each validator owns a handle on the work queue, so when they all stop (the apply side
    // gave up) the queue closes and the reader's `send` fails instead of blocking for ever.
    let work_rx = Arc::new(std::sync::Mutex::new(work_rx));
    let (read_result, flags) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers + usize::from(helper))
            .map(|i| {
                let (work_rx, free_tx, tx, v) = (work_rx.clone(), free_tx.clone(), tx.clone(), &validator);
                scope.spawn(move || v.run(&work_rx, &free_tx, &tx, i >= workers))
            })
            .collect();
        drop((free_tx, work_rx));
        let read_result = (|| {
            loop {
                let mut chunk = free_rx.try_recv().unwrap_or_else(|_| vec![Record::default(); ROWS_PER_BATCH]);
                let mut n = 0;
                while n < chunk.len() && records.next_into(&mut chunk[n]).map_err(FileError::Read)? {
                    n += 1;
                }
                if let Some(p) = &progress {
                    let (done, total) = records.progress();
                    p(done, total);
                }
                if n > 0 && work_tx.send((chunk, n)).is_err() {
                    return Ok(());
                }
                if n < ROWS_PER_BATCH {
                    return Ok(());
                }
            }
        })();
        drop(work_tx);
        validator.effort.done.store(true, Ordering::Release);
        let mut flags = Vec::new();
        let mut read_result = read_result;
        for h in handles {
            // A validator that panicked lost its chunk: the run must fail, not miss rows.
            let Ok(f) = h.join() else {
                read_result = Err(FileError::Worker);
                continue;
            };
            flags.resize(f.len().max(flags.len()), false);
            for (a, b) in flags.iter_mut().zip(f) {
                *a |= b;
            }
        }
        (read_result, flags)
    });
    read_result?;
    Ok(FileFacts {
        dropped: plan.dropped.iter().map(|(_, n)| n.clone()).collect(),
        refused: plan.refused(&flags),
        missing: plan.missing_optional.clone(),
        detected: records.detected(),
        column_names: plan.column_names.clone(),
        event_column: plan.event.as_ref().map(|(_, n)| n.clone()),
        sha256: records.sha256(),
    })
}

/// What the reader, the validators and the apply side share for one run.
struct Shared {
    tenant: TenantId,
    mapping: Arc<Mapping>,
    keys: TenantKeys,
    key_ids: KeyIds,
    /// The layout of a person's sealed values: every field but the key.
    person_layout: seal::Layout,
    register: Arc<Register>,
    /// First rows of the keys the register does not hold, and the keys that occurred again.
    occurrences: Occurrences,
    today: chrono::NaiveDate,
    /// Where each field's cell is in this file.
    plan: Plan,
    /// Which empty values keep the stored ones.
    keep_stored: Keep,
}

/// Per field, when an empty value keeps the stored one instead of clearing it; built once per
/// run, as it depends only on the file's columns and the mapping.
struct Keep {
    /// For a hire's row, which is the whole record: only fields whose column the file lacks and
    /// whose mapping says absence keeps what is stored.
    whole: Vec<bool>,
    /// For any other row: those, and fields that keep the stored value on a blank cell
    /// (`if_blank = "keep"`, delta files' default).
    partial: Vec<bool>,
}

impl Keep {
    fn new(plan: &Plan, mapping: &Mapping) -> Keep {
        let whole = plan.keep_stored(mapping);
        let partial = whole.iter().zip(&mapping.fields).map(|(a, f)| *a || f.blank_keeps).collect();
        Keep { whole, partial }
    }

    fn for_row(&self, event: Option<mapping::Event>) -> &[bool] {
        if event == Some(mapping::Event::New) { &self.whole } else { &self.partial }
    }
}

/// What a validator thread needs, shared by reference.
struct Validator<'a> {
    plan: &'a Plan,
    shared: &'a Shared,
    ctx: Context,
    cells_key: seal::CellsKey,
    hashed: Vec<usize>,
    effort: Effort,
}

/// How much of the file so far needed full validation: the helper validator works only while
/// more than half of the rows did. Rows known unchanged by their cells cost little, and then a
/// second validator on two cores only contends with the register's writer; rows validated in
/// full (an export written another way, a first load) make validation the longest path. On a
/// 1M-row day 2 re-rendered (2 cores, interleaved runs): by id 4.4–4.7 s with the helper against
/// 4.8–5.5 s without, shuffled 5.5–6.7 s against 7.4–7.7 s; with its cells as stored 2.6–3.1 s
/// and 2.9 s (the helper idle); a first load within the noise of its disk writes.
#[derive(Default)]
struct Effort {
    rows: AtomicU64,
    validated: AtomicU64,
    /// The reader is done, or a validator stopped (the register's load failed, the apply side
    /// gave up, a panic): the helper stops too, so the work queue closes as it would without it
    /// and the reader's next send fails instead of waiting for ever.
    done: AtomicBool,
}

/// Sets `Effort::done` when a validator's `run` ends, however it ends.
struct StopsHelper<'e>(&'e AtomicBool);

impl Drop for StopsHelper<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Effort {
    fn wants_help(&self) -> bool {
        let rows = self.rows.load(Ordering::Relaxed);
        rows > 0 && self.validated.load(Ordering::Relaxed) * 2 > rows
    }
}

impl Validator<'_> {
    /// Validates chunks until the reader is done; returns the dropped-column content flags. A
    /// `helper` takes chunks only while `Effort::wants_help`, and else waits, looking again
    /// every few milliseconds.
    fn run(
        &self,
        work: &std::sync::Mutex<std::sync::mpsc::Receiver<(Vec<Record>, usize)>>,
        free: &std::sync::mpsc::Sender<Vec<Record>>,
        tx: &mpsc::Sender<Validated>,
        helper: bool,
    ) -> Vec<bool> {
        let mut flags = Vec::new();
        let mut payload = Vec::new();
        let mut cells = Vec::new();
        let mut lookup = self.shared.register.lookup();
        let pause = std::time::Duration::from_millis(2);
        let _stops = (!helper).then(|| StopsHelper(&self.effort.done));
        loop {
            // An idle helper holds the work queue open: it leaves when the reader is done, a
            // validator stopped or the apply side has.
            if helper && (self.effort.done.load(Ordering::Acquire) || tx.is_closed()) {
                break;
            }
            if helper && !self.effort.wants_help() {
                std::thread::sleep(pause);
                continue;
            }
            let next = match work.lock() {
                Ok(rx) if helper => match rx.recv_timeout(pause) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    other => other.map_err(|_| std::sync::mpsc::RecvError),
                },
                Ok(rx) => rx.recv(),
                Err(_) => break,
            };
            let Ok((chunk, n)) = next else { break };
            let mut out = Validated { rows: n as u64, ..Validated::default() };
            for rec in &chunk[..n] {
                self.plan.scan_dropped(rec, &mut flags);
                if self.item(rec, &mut payload, &mut cells, &mut lookup, &mut out).is_err() {
                    // The register's load failed: the run fails with its error (see `stream`).
                    return flags;
                }
            }
            let _ = free.send(chunk);
            self.effort.rows.fetch_add(out.rows, Ordering::Relaxed);
            self.effort.validated.fetch_add(out.rows - out.unvalidated, Ordering::Relaxed);
            if tx.blocking_send(out).is_err() {
                break;
            }
        }
        flags
    }

    /// Fields kept only as a keyed hash never reach the register or quarantine in any other form.
    fn hash_kept(&self, values: &mut [Option<Value>]) {
        for &i in &self.hashed {
            if let Some(v) = &values[i] {
                values[i] = Some(Value::new(self.shared.keys.keyed_hash(v.expose())));
            }
        }
    }

    /// Validates one record and, for a valid row, classifies it against the register as far as
    /// fingerprints tell: unchanged rows end here, new people are sealed here (on every validator).
    /// A key's later rows are rejected here; its first row is undone once the file is read.
    /// A person's row with the very cells stored last time is unchanged without validation.
    /// A row whose key's register page is not loaded yet waits for it here.
    fn item(
        &self,
        rec: &Record,
        payload: &mut Vec<u8>,
        encoded: &mut Vec<u8>,
        lookup: &mut Lookup<'_>,
        out: &mut Validated,
    ) -> Result<(), Stopped> {
        let sh = self.shared;
        let mapping = &*sh.mapping;
        let cells = if validate::encode_cells(rec, self.plan, mapping, self.ctx, encoded) {
            self.cells_key.print(encoded)
        } else {
            NO_CELLS_PRINT
        };
        // The print covers the mapped cells, not a delta file's event: only a change is safe to
        // find unchanged by its cells (the same cells, merged with the same stored values). A
        // hire must meet the register's check (see `check_event`), an end must be dated, and an
        // unknown event rejected, whatever their cells.
        let event_safe = mapping.events.is_none()
            || matches!(validate::event_of(rec, self.plan, mapping), Ok(Some(mapping::Event::Change)));
        if cells != NO_CELLS_PRINT && event_safe && !lookup.is_known_empty() {
            let at = Occurrence { row: rec.row, line: rec.line, first: First::Unchanged };
            // The key cell as written is the key in all but odd cases (a case transform, say);
            // those look the validated key up too.
            let raw = validate::key_cell(rec, self.plan, mapping);
            let mut hit = match raw {
                Some(raw) => lookup.observe_cells(raw, &cells, at)?,
                None => false,
            };
            if !hit
                && let Some(key) = validate::key_of(rec, self.plan, mapping, self.ctx)
                && Some(key.expose()) != raw
            {
                hit = lookup.observe_cells(key.expose(), &cells, at)?;
            }
            if hit {
                out.unchanged += 1;
                out.unvalidated += 1;
                return Ok(());
            }
        }
        let pending = match validate::validate(rec, self.plan, mapping, self.ctx) {
            Ok(mut row) => {
                self.hash_kept(&mut row.values);
                seal::encode(&sh.person_layout, &row.values, Some(mapping.key), payload);
                let fingerprint = sh.keys.fingerprint(payload);
                Pending::Valid { row, fingerprint, cells }
            }
            Err(mut rej) => {
                self.hash_kept(&mut rej.values);
                Pending::Rejected(rej)
            }
        };
        self.classify(pending, payload, lookup, out)
    }

    /// The second half of `item`: what the register says of a validated row.
    fn classify(
        &self,
        pending: Pending,
        payload: &[u8],
        lookup: &mut Lookup<'_>,
        out: &mut Validated,
    ) -> Result<(), Stopped> {
        let sh = self.shared;
        let mapping = &*sh.mapping;
        let pending = self.check_event(pending, lookup)?;
        match pending {
            Pending::Valid { row, fingerprint, cells } => {
                let at = Occurrence { row: row.row, line: row.line, first: First::New };
                let seen = match lookup.observe(&row.key, &fingerprint, at)? {
                    Seen::First(Quick::New) if !sh.occurrences.claim(&row.key, at) => Seen::Again,
                    seen => seen,
                };
                match seen {
                    Seen::Again => {
                        sh.occurrences.repeat(&row.key);
                        out.rejected.push(Rejected {
                            row: row.row,
                            line: row.line,
                            errors: vec![CellError { field: mapping.key, rule: Rule::DuplicateKey }],
                            key: Some(row.key),
                            values: row.values,
                        });
                    }
                    Seen::First(Quick::Unchanged) => {
                        out.unchanged += 1;
                        lookup.reprint(&row.key, &cells)?;
                    }
                    Seen::First(Quick::Compare) => {
                        out.compare.push(ValidRow { row, payload: payload.to_vec(), fingerprint, cells });
                    }
                    Seen::First(Quick::New) => {
                        let (dk, wrapped) = sh.keys.new_data_key(row.key.as_str());
                        let key_id = sh.key_ids.next();
                        let sealed = dk.seal(&person_aad(&sh.tenant, &row.key), payload);
                        let write = PersonWrite {
                            class: Class::New,
                            key_id: key_id.clone(),
                            fingerprint,
                            cells,
                            ended: is_ended(mapping, &row.values),
                            sealed,
                            fields: Vec::new(),
                            delete_on: delete_on(mapping, &row.values),
                            key: row.key,
                        };
                        out.new.push((NewKey { key_id, wrapped }, write));
                    }
                }
            }
            Pending::Rejected(mut rej) => {
                if let Some(k) = &rej.key {
                    let at = Occurrence { row: rej.row, line: rej.line, first: First::Rejected };
                    let first = lookup.observe_rejected(k, at)?.unwrap_or_else(|| sh.occurrences.claim(k, at));
                    if !first {
                        sh.occurrences.repeat(k);
                        rej.errors.push(CellError { field: mapping.key, rule: Rule::DuplicateKey });
                    }
                }
                out.rejected.push(rej);
            }
        }
        Ok(())
    }
}

impl Validator<'_> {
    /// A delta file's event against the register: a change or end of a key it does not hold is
    /// rejected (`unknown_key`), not made a hire, and so is a hire of someone employed now
    /// (`event_conflict`); a hire of an ended person is their rehire.
    fn check_event(&self, pending: Pending, lookup: &mut Lookup<'_>) -> Result<Pending, Stopped> {
        let Pending::Valid { row, .. } = &pending else { return Ok(pending) };
        let Some(event) = row.event else { return Ok(pending) };
        let rule = match (event, lookup.status(&row.key)?) {
            (mapping::Event::Change | mapping::Event::End, None) => Rule::UnknownKey,
            (mapping::Event::New, Some(false)) => Rule::EventConflict,
            _ => return Ok(pending),
        };
        let Pending::Valid { row, .. } = pending else { return Ok(pending) };
        let field = if rule == Rule::UnknownKey { self.shared.mapping.key } else { validate::EVENT_COLUMN };
        // The values are already as kept: `item` replaced hashed fields before.
        Ok(Pending::Rejected(Rejected {
            row: row.row,
            line: row.line,
            key: Some(row.key),
            errors: vec![CellError { field, rule }],
            values: row.values,
        }))
    }
}

/// A validated row, to be classified against the register.
enum Pending {
    /// Its payload is in the validator's buffer.
    Valid {
        row: validate::Row,
        fingerprint: Fingerprint,
        cells: CellsPrint,
    },
    Rejected(Rejected),
}

/// The register's load under way: its time in milliseconds when done.
type RegisterLoad = Ahead<Result<u64, StoreError>>;

/// A read of stored records under way.
type StoredRead = Ahead<Result<Vec<SealedPerson>, StoreError>>;

/// The apply side's state while the file streams through.
struct Sink<'r, S: Store> {
    store: &'r S,
    shared: &'r Shared,
    names: Vec<&'r str>,
    /// Stored layouts by id, to name the fields of what was sealed before.
    layouts: std::collections::HashMap<seal::LayoutId, seal::Layout>,
    quarantine_layout: seal::Layout,
    run_owner: String,
    quarantine_key: Option<(Vec<u8>, seal::DataKey)>,
    counts: Counts,
    rejections: Vec<(u64, u64, CellError)>,
    truncated: bool,
    /// Time spent waiting for stored records to compare.
    load_ms: std::time::Duration,
    pending: Vec<ValidRow>,
    /// Rows whose stored records are being read, oldest first.
    comparing: std::collections::VecDeque<(Vec<ValidRow>, StoredRead)>,
    batch: Batch,
    /// What each compared row became, for undoing it should its key occur again; `None`: it
    /// was rejected once merged with the stored values.
    compared: std::collections::HashMap<EmployeeKey, Option<(Class, Vec<usize>)>>,
    /// The sink's view of the register, to mark whose rows it writes (`Register::print_overlay`).
    lookup: Lookup<'r>,
}

impl<S: Store> Sink<'_, S> {
    fn take(&mut self, v: Validated) {
        self.counts.rows += v.rows;
        self.counts.unchanged += v.unchanged;
        self.counts.unvalidated += v.unvalidated;
        self.counts.new += v.new.len() as u64;
        for (key, write) in v.new {
            self.batch.keys.push(key);
            self.batch.people.push(write);
        }
        self.pending.extend(v.compare);
        for rej in v.rejected {
            self.reject(rej);
        }
    }

    /// Starts reading the pending rows' stored values, while the sink goes on with the file.
    /// At most `COMPARE_AHEAD` reads are under way; beyond that the oldest is finished first.
    async fn start_compare(&mut self) -> Result<(), IngestError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.comparing.len() >= COMPARE_AHEAD {
            self.finish_compare().await?;
        }
        let pending = std::mem::take(&mut self.pending);
        let wanted: Vec<EmployeeKey> = pending.iter().map(|v| v.row.key.clone()).collect();
        let (store, tenant) = (self.store.clone(), self.shared.tenant.clone());
        let read = Ahead::spawn(async move { store.load_sealed(&tenant, &wanted).await });
        self.comparing.push_back((pending, read));
        Ok(())
    }

    /// Compares every row still pending or under way.
    async fn finish_comparing(&mut self) -> Result<(), IngestError> {
        self.start_compare().await?;
        while !self.comparing.is_empty() {
            self.finish_compare().await?;
        }
        Ok(())
    }

    /// Unseals the oldest read's stored values, classifies its rows and queues their writes.
    async fn finish_compare(&mut self) -> Result<(), IngestError> {
        let Some((pending, read)) = self.comparing.pop_front() else {
            return Ok(());
        };
        let t = Instant::now();
        let stored = read.finish().await.ok_or(IngestError::Internal("a register read was cancelled"))??;
        self.load_ms += t.elapsed();
        let by_key: std::collections::HashMap<&EmployeeKey, &SealedPerson> =
            stored.iter().map(|p| (&p.key, p)).collect();
        let (mapping, keys, tenant) = (&*self.shared.mapping, &self.shared.keys, &self.shared.tenant);
        let dates = Dates { start: mapping.start_date, end: mapping.end_date };
        let mut writes = Vec::with_capacity(pending.len());
        for mut v in pending {
            let Some(person) = by_key.get(&v.row.key) else {
                return Err(StoreError::Database("a register row vanished during the run".into()).into());
            };
            // Whatever it becomes, the row is written again, with its own cells print.
            if !self.lookup.mark_written(&v.row.key) {
                return Err(IngestError::Internal("a compared person is not in the register"));
            }
            let aad = person_aad(tenant, &v.row.key);
            let dk = keys.unwrap_data_key(v.row.key.as_str(), &person.wrapped_key)?;
            let (layout_id, values) = seal::decode(&dk.open(&aad, &person.sealed)?)?;
            let layout = self.layouts.get(&layout_id).ok_or(SealError::Malformed)?;
            let old = seal::named(layout, values)?;
            let keep = self.shared.keep_stored.for_row(v.row.event);
            // The row as the file gave it, for quarantine should the merged row be rejected.
            let as_given = (keep.contains(&true) || v.row.end_from_today).then(|| v.row.values.clone());
            let mut merged = merge_stored(&mut v.row.values, &old, &self.names, keep);
            // An end without a date is dated today only if none is stored: a status that
            // still says "ended" tomorrow must not move the end date (and the deletion) daily.
            if v.row.end_from_today
                && let Some(end) = mapping.end_date
                && let Some((_, Some(stored))) = old.iter().find(|(n, _)| n == self.names[end])
            {
                v.row.values[end] = Some(stored.clone());
                merged = true;
            }
            if merged {
                // A change's date against a stored one is checked only now that both are known.
                let broken = validate::date_order_broken(mapping, &v.row.values);
                if !broken.is_empty() {
                    self.compared.insert(v.row.key.clone(), None);
                    let errors = broken.into_iter().map(|field| CellError { field, rule: Rule::DateOrder }).collect();
                    let (row, line, key) = (v.row.row, v.row.line, Some(v.row.key));
                    let values = as_given.unwrap_or(v.row.values);
                    self.reject(Rejected { row, line, key, errors, values });
                    continue;
                }
                seal::encode(&self.shared.person_layout, &v.row.values, Some(mapping.key), &mut v.payload);
                v.fingerprint = keys.fingerprint(&v.payload);
            }
            let (class, changed) = diff::classify(&self.names, &v.row.values, &old, dates, mapping.key);
            self.counts.add(class);
            self.compared.insert(v.row.key.clone(), Some((class, changed.clone())));
            for &i in &changed {
                *self.counts.changed_fields.entry(self.names[i].to_owned()).or_default() += 1;
            }
            let sealed = dk.seal(&aad, &v.payload);
            writes.push(PersonWrite {
                class,
                key_id: person.key_id.clone(),
                fingerprint: v.fingerprint,
                cells: v.cells,
                ended: is_ended(mapping, &v.row.values),
                sealed,
                fields: changed.iter().map(|&i| self.names[i].to_owned()).collect(),
                delete_on: delete_on(mapping, &v.row.values),
                key: v.row.key,
            });
        }
        self.batch.people.extend(writes);
        Ok(())
    }

    fn list_rejection(&mut self, row: u64, line: u64, e: CellError) {
        if self.rejections.len() < MAX_LISTED_REJECTIONS {
            self.rejections.push((row, line, e));
        } else {
            self.truncated = true;
        }
    }

    fn reject(&mut self, rej: Rejected) {
        self.counts.rejected += 1;
        for e in &rej.errors {
            self.list_rejection(rej.row, rej.line, *e);
        }
        let names = &self.names;
        let errors = serde_json::to_string(
            &rej.errors
                .iter()
                .map(|e| (names.get(e.field).copied().unwrap_or("event"), e.rule.as_str()))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default();
        let (key_id, dk) = match &self.quarantine_key {
            Some(k) => k,
            None => {
                let (dk, wrapped) = self.shared.keys.new_data_key(&self.run_owner);
                let key_id = self.shared.key_ids.next();
                self.batch.keys.push(NewKey { key_id: key_id.clone(), wrapped });
                self.quarantine_key.insert((key_id, dk))
            }
        };
        let mut payload = Vec::new();
        seal::encode(&self.quarantine_layout, &rej.values, None, &mut payload);
        let sealed = dk.seal(&format!("{}|{}|{}", self.shared.tenant, self.run_owner, rej.row), &payload);
        let key_id = key_id.clone();
        self.batch.quarantine.push(QuarantineRow {
            row: rej.row,
            line: rej.line,
            key: rej.key,
            errors,
            key_id,
            sealed,
        });
    }

    /// Rejects the first row of every key that occurred again, once the whole file is read: its
    /// count moves to rejected, its write is undone (the person is put back as before the run),
    /// and it is quarantined with the values it had, read back from what the run left.
    async fn reject_first_rows(&mut self, mut apply: Option<&mut S::Apply>) -> Result<(), IngestError> {
        let sh = self.shared;
        let repeated = sh.occurrences.repeated();
        if repeated.is_empty() {
            return Ok(());
        }
        let key_field = sh.mapping.key;
        let duplicate = CellError { field: key_field, rule: Rule::DuplicateKey };
        let mut firsts = Vec::new();
        for key in repeated {
            let first = sh
                .register
                .first_occurrence(&key)
                .or_else(|| sh.occurrences.get(&key))
                .ok_or(IngestError::Internal("a repeated key has no first row"))?;
            let compared = match first.first {
                First::Compare => {
                    self.compared.remove(&key).ok_or(IngestError::Internal("a compared row left no class"))?
                }
                _ => None,
            };
            let rejected_late = first.first == First::Compare && compared.is_none();
            match first.first {
                _ if rejected_late => {
                    self.list_rejection(first.row, first.line, duplicate);
                    if let Some(a) = apply.as_deref_mut() {
                        a.add_quarantine_error(first.row, self.names[key_field], Rule::DuplicateKey.as_str()).await?;
                    }
                    continue;
                }
                First::Rejected => {
                    self.list_rejection(first.row, first.line, duplicate);
                    if let Some(a) = apply.as_deref_mut() {
                        a.add_quarantine_error(first.row, self.names[key_field], Rule::DuplicateKey.as_str()).await?;
                    }
                    continue;
                }
                First::Unchanged => {
                    // Its row may have recorded a new cells print: the stored one stands.
                    self.counts.remove(Class::Unchanged);
                    sh.register.keep_print(&key);
                }
                First::New => self.counts.remove(Class::New),
                First::Compare => {
                    let (class, fields) = compared.ok_or(IngestError::Internal("a compared row left no class"))?;
                    self.counts.remove(class);
                    for i in fields {
                        let name = self.names[i];
                        if let Some(n) = self.counts.changed_fields.get_mut(name) {
                            *n -= 1;
                            if *n == 0 {
                                self.counts.changed_fields.remove(name);
                            }
                        }
                    }
                }
            }
            firsts.push((key, first));
        }
        let keys: Vec<EmployeeKey> = firsts.iter().map(|(k, _)| k.clone()).collect();
        let mut values = std::collections::HashMap::new();
        if let Some(a) = apply.as_deref_mut() {
            for p in a.read_people(&keys).await? {
                let v = self.unseal_for_quarantine(&p)?;
                values.insert(p.key, v);
            }
            let undo: Vec<EmployeeKey> =
                firsts.iter().filter(|(_, f)| f.first != First::Unchanged).map(|(k, _)| k.clone()).collect();
            let mut before: std::collections::HashMap<_, _> =
                self.store.load_sealed(&sh.tenant, &undo).await?.into_iter().map(|p| (p.key.clone(), p)).collect();
            let mut deletions: std::collections::HashMap<_, _> = self
                .store
                .pending_deletions(&sh.tenant, &undo)
                .await?
                .into_iter()
                .map(|d| (d.key.clone(), d))
                .collect();
            let mut restores = Vec::with_capacity(undo.len());
            for key in undo {
                let before = match (sh.register.get(&key), sh.register.cells(&key), before.remove(&key)) {
                    (Some((fingerprint, ended)), Some(cells), Some(p)) => {
                        Some(Before { key_id: p.key_id, fingerprint, cells, ended, sealed: p.sealed })
                    }
                    (None, None, None) => None,
                    _ => return Err(IngestError::Internal("a repeated key's stored row changed during the run")),
                };
                restores.push(Restore { deletion: deletions.remove(&key), before, key });
            }
            a.restore(&restores).await?;
        }
        let n = self.names.len();
        for (key, first) in firsts {
            let v = match values.remove(&key) {
                Some(v) => v,
                None if apply.is_none() => vec![None; n],
                None => return Err(IngestError::Internal("a repeated key's first row was not stored")),
            };
            self.reject(Rejected {
                row: first.row,
                line: first.line,
                key: Some(key),
                errors: vec![duplicate],
                values: v,
            });
        }
        if let Some(a) = apply {
            a.write(&std::mem::take(&mut self.batch)).await?;
        }
        Ok(())
    }

    /// A person's stored values in the quarantine's layout: every mapped field, key included.
    fn unseal_for_quarantine(&self, p: &SealedPerson) -> Result<Vec<Option<Value>>, IngestError> {
        let sh = self.shared;
        let dk = sh.keys.unwrap_data_key(p.key.as_str(), &p.wrapped_key)?;
        let (layout_id, values) = seal::decode(&dk.open(&person_aad(&sh.tenant, &p.key), &p.sealed)?)?;
        let layout = self.layouts.get(&layout_id).ok_or(SealError::Malformed)?;
        let mut named = seal::named(layout, values)?;
        Ok(self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                if i == sh.mapping.key {
                    return Some(Value::new(p.key.as_str()));
                }
                named.iter_mut().find(|(n, _)| n == name).and_then(|(_, v)| v.take())
            })
            .collect())
    }

    /// Hands the batch to the writer once it is large enough (or `force`). A closed channel
    /// means the writer failed; its error is the one reported.
    async fn flush(&mut self, writer: &mpsc::Sender<Batch>, force: bool) -> Result<(), IngestError> {
        if !force && self.batch.len() < WRITE_BATCH {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        writer.send(batch).await.map_err(|_| IngestError::WriterStopped)
    }
}

async fn stream<S: Store>(
    store: &S,
    req: &Request<'_>,
    run_id: &RunId,
    shared: Arc<Shared>,
    (records, loader, receipt): (read::Records, RegisterLoad, ReceiptCheck),
    apply: &mut Option<S::Apply>,
    report: &mut Report,
) -> Result<Option<Counts>, IngestError> {
    let names: Vec<&str> = req.mapping.fields.iter().map(|f| f.name.as_str()).collect();
    let quarantine_layout = seal::Layout::new(names.iter().map(|n| (*n).to_owned()).collect());
    let mut layouts: std::collections::HashMap<_, _> =
        store.layouts().await?.into_iter().map(|l| (l.id(), l)).collect();
    if let Some(a) = apply.as_mut() {
        for l in [&shared.person_layout, &quarantine_layout] {
            if !layouts.contains_key(&l.id()) {
                a.put_layout(l).await?;
            }
        }
    }
    layouts.insert(shared.person_layout.id(), shared.person_layout.clone());
    // Spawned only now, so a failure above leaves no reader running.
    let (tx, mut rx) = mpsc::channel::<Validated>(8);
    let worker = {
        let (shared, progress) = (shared.clone(), req.progress.clone());
        let workers = req.validators.unwrap_or_else(default_validators).max(1);
        // A helper only beside the default number, which leaves a core to the reader and the
        // apply side; a configured number is what the operator asked for.
        let helper = req.validators.is_none() && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        std::thread::Builder::new()
            .name("hrfeed-read".into())
            .spawn(move || read_and_validate(records, shared, tx, progress, (workers, helper)))
            .map_err(|_| IngestError::Worker)?
    };
    let mut sink = Sink {
        store,
        shared: &shared,
        names,
        layouts,
        quarantine_layout,
        run_owner: format!("run:{run_id}"),
        quarantine_key: None,
        counts: Counts::default(),
        rejections: Vec::new(),
        truncated: false,
        load_ms: std::time::Duration::ZERO,
        pending: Vec::new(),
        comparing: std::collections::VecDeque::new(),
        batch: Batch::default(),
        compared: std::collections::HashMap::new(),
        lookup: shared.register.lookup(),
    };
    // Writes run beside validation: the writer awaits the database while the sink goes on
    // classifying, and a failed write closes the channel, which stops the sink.
    let (wtx, mut wrx) = mpsc::channel::<Batch>(2);
    // Set once the producer has sent the whole file's writes.
    let streamed_whole = AtomicBool::new(false);
    let streamed_whole = &streamed_whole;
    // `move`: a failed writer drops its receiver at once, so the sink's next send fails.
    let writer_apply = &mut *apply;
    let writer = async move {
        let mut spent = std::time::Duration::ZERO;
        let mut order = KeyOrder::for_store(store.clusters_by_key(), store.scratch_dir());
        while let Some(mut batch) = wrx.recv().await {
            if let Some(a) = writer_apply.as_mut() {
                let t = Instant::now();
                order.hold_back(&mut batch).map_err(IngestError::KeyOrder)?;
                a.write(&batch).await?;
                spent += t.elapsed();
            }
        }
        // The stream is done: what arrived out of key order goes now, in key order, unless the
        // run already failed or found a duplicate (its transaction is never committed).
        let t = Instant::now();
        if let Some(a) = writer_apply.as_mut().filter(|_| streamed_whole.load(Ordering::Acquire)) {
            // Read back and merged on a thread of its own, so the next batch is ready when the
            // database has taken this one.
            let mut held = order.drain(WRITE_BATCH).map_err(IngestError::KeyOrder)?;
            tracing::debug!(held = held.count, "Writing the writes held for key order.");
            let (btx, mut brx) = mpsc::channel(2);
            let merging = tokio::task::spawn_blocking(move || {
                while let Some(b) = held.next_batch().transpose() {
                    if btx.blocking_send(b).is_err() {
                        break;
                    }
                }
            });
            while let Some(batch) = brx.recv().await {
                a.write(&batch.map_err(IngestError::KeyOrder)?).await?;
            }
            merging.await.map_err(|_| IngestError::Internal("the key-order merge stopped unexpectedly"))?;
        }
        Ok::<_, IngestError>((spent, t.elapsed()))
    };
    let producer = async {
        let mut receipt = Some(receipt);
        let mut received = None;
        let streamed: Result<(), IngestError> = async {
            loop {
                let v = tokio::select! {
                    r = async { receipt.as_mut()?.wait().await }, if receipt.is_some() => {
                        receipt = None;
                        // A duplicate, or a check that failed, ends the run: no use reading on.
                        let fresh = matches!(&r, Some(Ok(r)) if r.prior.is_none() || !r.stops);
                        received = Some(r);
                        if !fresh {
                            return Ok(());
                        }
                        continue;
                    }
                    v = rx.recv() => v,
                };
                let Some(v) = v else { break };
                sink.take(v);
                if sink.pending.len() >= COMPARE_BATCH {
                    sink.start_compare().await?;
                }
                sink.flush(&wtx, false).await?;
            }
            sink.finish_comparing().await
        }
        .await;
        drop(rx);
        // Whatever else went wrong, the report names the file's hash, and a duplicate is
        // reported as such rather than as the error its early stop caused.
        let received = match receipt {
            Some(r) => r.finish().await,
            None => received.flatten(),
        };
        Receipt::take(received, report)?;
        if is_duplicate(report) {
            // Stopping the load stops validators waiting for its pages.
            drop(loader);
            let _ = worker.join();
            return Ok(None);
        }
        let facts = worker.join().map_err(|_| IngestError::Worker)?;
        // A failed load stopped the validators early: its error explains the rest.
        let load_ms = loader.finish().await.ok_or(IngestError::Worker)??;
        let facts = facts.map_err(|e| file_error(&report.file, e))?;
        streamed?;
        // The run records the hash taken as the file was received; what it applies must be
        // what the reader parsed, byte for byte.
        if facts.sha256.as_deref() != Some(report.sha256.as_str()) {
            return Err(IngestError::Changed { file: report.file.clone() });
        }
        if req.mapping.mode == FileMode::Full {
            let missing: Vec<EmployeeKey> = shared.register.missing().collect();
            sink.counts.missing = missing.len() as u64;
            sink.batch.missing = missing;
        }
        sink.flush(&wtx, true).await?;
        streamed_whole.store(true, Ordering::Release);
        drop(wtx);
        Ok::<_, IngestError>(Some((facts, load_ms)))
    };
    let ((facts, load_ms), (write_ms, key_order_ms)) = match tokio::join!(writer, producer) {
        // A duplicate's writes went into the run's transaction, which is never committed.
        (_, Ok(None)) => return Ok(None),
        // The writer's error explains a stopped producer, so it is reported first.
        (Err(e), _) | (Ok(_), Err(e)) => return Err(e),
        (Ok(write_ms), Ok(Some(produced))) => (produced, write_ms),
    };
    report.timings_ms.insert("load_register".into(), load_ms);
    let t = Instant::now();
    sink.reject_first_rows(apply.as_mut()).await?;
    report.timings_ms.insert("repeated_keys".into(), elapsed_ms(t));

    report.dropped_columns = facts.dropped;
    report.refused_columns = facts.refused;
    report.missing_columns = facts.missing;
    report.detected = Some(DetectedJson {
        format: facts.detected.format.to_owned(),
        encoding: facts.detected.encoding.to_owned(),
        delimiter: match facts.detected.delimiter {
            0 => String::new(),
            b'\t' => "tab".into(),
            d => char::from(d).to_string(),
        },
    });
    sink.rejections.sort_by_key(|(row, _, e)| (*row, e.field));
    report.rejections = sink
        .rejections
        .iter()
        .map(|(row, line, e)| Rejection {
            row: *row,
            line: *line,
            column: match facts.column_names.get(e.field) {
                Some(c) => c.clone(),
                None => facts.event_column.clone().unwrap_or_default(),
            },
            field: req.mapping.fields.get(e.field).map_or_else(|| "event".to_owned(), |f| f.name.clone()),
            rule: e.rule.as_str().to_owned(),
        })
        .collect();
    report.rejections_truncated = sink.truncated;
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    report.timings_ms.insert("load_compared".into(), ms(sink.load_ms));
    report.timings_ms.insert("write".into(), ms(write_ms));
    report.timings_ms.insert("write_in_key_order".into(), ms(key_order_ms));
    Ok(Some(sink.counts))
}
