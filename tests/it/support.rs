//! Test harness: a fresh workspace per test, the real binary, and a throwaway PostgreSQL database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

const TIME: &str = "/usr/bin/time";

pub const BIN: &str = env!("CARGO_BIN_EXE_hrfeed");

/// The backends every store-touching test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    root().join("fixtures")
}

pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The server used to create per-test databases.
pub fn pg_admin_url() -> String {
    std::env::var("HRFEED_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A database `hrfeed_test_<random>` created for one test and dropped after it.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

impl PgDb {
    /// `None` (with a loud warning) when PostgreSQL is unreachable outside CI; a failure under CI.
    pub fn create() -> Option<PgDb> {
        let admin = pg_admin_url();
        let name = format!("hrfeed_test_{}", uuid::Uuid::new_v4().simple());
        let made = runtime().block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&admin).await?;
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut c).await?;
            Ok::<_, sqlx::Error>(())
        });
        match made {
            Ok(()) => {
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin);
                Some(PgDb { url: format!("{base}/{name}"), name })
            }
            Err(e) if under_ci() => panic!("PostgreSQL is required under CI=true but unreachable: {e}"),
            Err(e) => {
                eprintln!(
                    "\n!!!! SKIPPING a PostgreSQL test: {e}\n!!!! Start PostgreSQL on 127.0.0.1:5432 (or set HRFEED_TEST_PG_URL) to run it.\n"
                );
                None
            }
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let admin = pg_admin_url();
        let name = self.name.clone();
        let _ = runtime().block_on(async move {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&admin).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await?;
            Ok::<_, sqlx::Error>(())
        });
    }
}

/// A fresh `hrfeed init` workspace on one backend.
pub struct Workspace {
    pub dir: TempDir,
    pub pg: Option<PgDb>,
    /// Environment every hrfeed command of this workspace gets.
    pub env: Vec<(String, String)>,
}

impl Workspace {
    /// `None` when the backend's server is absent outside CI (skipped loudly).
    pub fn new(backend: Backend) -> Option<Workspace> {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDb::create()?),
        };
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace { dir, pg, env: Vec::new() };
        let out = ws.run(&["init"]);
        assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
        Some(ws)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Appends `line` to the workspace's `hrfeed.toml`; returns the file as `init` wrote it.
    pub fn add_config(&self, line: &str) -> String {
        let path = self.dir.path().join("hrfeed.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}{line}\n")).unwrap();
        text
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.program(BIN, args)
    }

    fn program(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args).current_dir(self.dir.path()).env_remove("HRFEED_DATABASE_URL").env_remove("HRFEED_LOG");
        if let Some(pg) = &self.pg {
            c.env("HRFEED_DATABASE_URL", &pg.url);
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs hrfeed with its address space capped at `cap_mib` (so a runaway allocation fails
    /// instead of taking the machine) and measures its peak RSS with GNU time: (output without
    /// time's line, peak RSS in MiB). `None` (loudly) where /usr/bin/time is absent outside CI.
    pub fn run_capped(&self, args: &[&str], cap_mib: u64) -> Option<(Output, u64)> {
        if !Path::new(TIME).exists() {
            assert!(!under_ci(), "{TIME} is required under CI=true (.ci/run installs the `time` package)");
            eprintln!(
                "\n*** SKIPPED: {TIME} is absent, so peak memory cannot be measured (apt-get install time) ***\n"
            );
            return None;
        }
        let script = format!("ulimit -v {}; exec {TIME} -f 'peak_rss_kib=%M' \"$0\" \"$@\"", cap_mib * 1024);
        let mut sh_args = vec!["-c", script.as_str(), BIN];
        sh_args.extend_from_slice(args);
        // glibc's malloc reserves 64 MiB of address space per thread arena: on a host with many
        // cores that alone could pass the cap.
        let mut out = self.program("sh", &sh_args).env("MALLOC_ARENA_MAX", "2").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let (rest, last) = stderr.trim_end().rsplit_once('\n').unwrap_or(("", stderr.trim_end()));
        let kib: u64 = last
            .strip_prefix("peak_rss_kib=")
            .and_then(|k| k.trim().parse().ok())
            .unwrap_or_else(|| panic!("no peak RSS from {TIME}: {stderr}"));
        out.stderr = rest.as_bytes().to_vec();
        // GNU time reports a killed child as "Command terminated by signal N" before its line.
        Some((out, kib.div_ceil(1024)))
    }

    /// `hrfeed ingest FILE --tenant acme --report json`: (exit code, report).
    pub fn ingest(&self, file: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
        self.ingest_as("acme", file, extra)
    }

    /// `hrfeed ingest FILE --tenant TENANT --report json`: (exit code, report).
    pub fn ingest_as(&self, tenant: &str, file: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
        let f = file.to_str().unwrap();
        let mut args = vec!["ingest", f, "--tenant", tenant, "--report", "json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!("stdout is not one JSON object ({e}): {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr))
        });
        (out.status.code().unwrap_or(-1), report)
    }

    /// `ingest` with `HRFEED_LOG=info`: (exit code, report, rows the quick cells check found
    /// unchanged without validating them, from the `Run finished.` event).
    pub fn ingest_logged(&self, file: &Path, extra: &[&str]) -> (i32, serde_json::Value, u64) {
        let mut args = vec!["ingest", file.to_str().unwrap(), "--tenant", "acme", "--report", "json"];
        args.extend_from_slice(extra);
        let out = self.command(&args).env("HRFEED_LOG", "info").output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        let unvalidated = log
            .split_whitespace()
            .find_map(|w| w.strip_prefix("unvalidated="))
            .unwrap_or_else(|| panic!("no unvalidated count in the log: {log}"))
            .parse()
            .unwrap();
        (out.status.code().unwrap_or(-1), report, unvalidated)
    }

    /// Row counts per table, through the library (both backends).
    pub fn table_counts(&self) -> Vec<(String, i64)> {
        use hrfeed::store::Store;
        runtime().block_on(async {
            match &self.pg {
                Some(pg) => hrfeed::store::PgStore::open(&pg.url, None).await.unwrap().table_counts().await.unwrap(),
                None => {
                    let db = self.path().join("data/hrfeed.db");
                    let keys = self.path().join("data/hrfeed.keys.db");
                    hrfeed::store::SqliteStore::open(&db, &keys).await.unwrap().table_counts().await.unwrap()
                }
            }
        })
    }
}

/// The counts object of a report, as (name, value) pairs in a fixed order.
pub fn counts(report: &serde_json::Value) -> Vec<(String, u64)> {
    ["rows", "new", "changed", "unchanged", "ended", "rehired", "missing", "rejected"]
        .iter()
        .map(|k| ((*k).to_owned(), report["counts"][*k].as_u64().unwrap_or(u64::MAX)))
        .collect()
}

/// The reference day-1 export (UTF-8 with BOM): header and records.
pub fn reference_day1() -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let text = std::fs::read_to_string(fixtures().join("reference/day1.utf8bom.csv")).unwrap();
    let mut r = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = r.headers().unwrap().clone();
    (header, r.records().map(Result::unwrap).collect())
}

/// `rec` with column `col` set to `value`.
pub fn with(rec: &csv::StringRecord, col: usize, value: &str) -> csv::StringRecord {
    rec.iter().enumerate().map(|(i, v)| if i == col { value } else { v }).collect()
}

/// Shuffles `items` the same way for the same `seed` (xorshift64), as an export in no order.
pub fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

/// Writes a comma-separated UTF-8 export.
pub fn write_csv(path: &Path, header: &csv::StringRecord, rows: &[csv::StringRecord]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
}

impl Workspace {
    /// Sets `line` (`key = value`) in the `[table]` of the workspace's mapping (e.g.
    /// `fields.end_date`, `policy`): the table's line of that key is replaced, or the line added.
    pub fn edit_mapping(&self, table: &str, line: &str) {
        let path = self.path().join("mappings/acme.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let head = format!("[{table}]\n");
        let start = text.find(&head).unwrap_or_else(|| panic!("the mapping has no [{table}]")) + head.len();
        let end = text[start..].find("\n[").map_or(text.len(), |i| start + i + 1);
        let key = format!("{} =", line.split('=').next().unwrap().trim());
        let body: Vec<&str> = text[start..end].lines().filter(|l| !l.starts_with(&key)).collect();
        let edited = format!("{}{line}\n{}\n{}", &text[..start], body.join("\n"), &text[end..]);
        std::fs::write(&path, edited).unwrap();
    }

    /// `employees show --tenant acme ID --json`: the person's fields by name.
    pub fn employee(&self, id: &str) -> serde_json::Value {
        let out = self.run(&["employees", "show", "--tenant", "acme", id, "--json"]);
        assert!(out.status.success(), "employees show {id}: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["fields"].clone()
    }
}

/// Defines a test per backend that calls `story(Backend)`: `both_backends!(story => sqlite_t, postgres_t);`.
#[macro_export]
macro_rules! both_backends {
    ($($story:ident => $sqlite:ident, $postgres:ident;)*) => {
        $(
            #[test]
            fn $sqlite() { $story($crate::support::Backend::Sqlite); }
            #[test]
            fn $postgres() { $story($crate::support::Backend::Postgres); }
        )*
    };
}
