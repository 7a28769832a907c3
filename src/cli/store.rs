//! Opening the configured store and key material for a command.

use std::path::PathBuf;

use anyhow::Context as _;
use hrfeed::clock::Clock;
use hrfeed::config::Config;
use hrfeed::store::{PgStore, SqliteStore};

use super::Global;

/// A mistake in how the command was called (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The chosen backend; commands dispatch once with [`with_store!`] and stay generic below.
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Calls a generic async expression with the concrete store.
macro_rules! with_store {
    ($backend:expr, |$s:ident| $body:expr) => {
        match $backend {
            $crate::cli::store::Backend::Sqlite($s) => $body,
            $crate::cli::store::Backend::Postgres($s) => $body,
        }
    };
}
pub(crate) use with_store;

impl Backend {
    /// Closes the pools; with SQLite this checkpoints the WAL so the next run opens quickly.
    pub async fn close(&self) {
        use hrfeed::store::Store;
        with_store!(self, |s| s.close().await)
    }
}

pub fn config(g: &Global) -> anyhow::Result<Config> {
    Ok(Config::load(g.config.as_deref())?)
}

pub fn clock(g: &Global) -> anyhow::Result<Clock> {
    match &g.now {
        None => Ok(Clock::System),
        Some(s) => Clock::fixed_from_str(s)
            .ok_or_else(|| UsageError(format!("--now `{s}`: expected RFC 3339 or YYYY-MM-DD")).into()),
    }
}

/// Opens the database named by --database-url / HRFEED_DATABASE_URL, else the config's.
pub async fn open(g: &Global, cfg: &Config) -> anyhow::Result<Backend> {
    let url = g.database_url.clone().unwrap_or_else(|| cfg.database_url.clone());
    open_url(&url, cfg.key_store.as_deref()).await
}

pub async fn open_url(url: &str, key_store: Option<&str>) -> anyhow::Result<Backend> {
    if url.starts_with("sqlite:") {
        let ks = key_store.filter(|k| k.starts_with("sqlite:"));
        Ok(Backend::Sqlite(SqliteStore::open_url(url, ks).await.context("opening the SQLite database")?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let ks = key_store.filter(|k| !k.starts_with("sqlite:"));
        Ok(Backend::Postgres(PgStore::open(url, ks).await.context("opening the PostgreSQL database")?))
    } else {
        Err(UsageError("the database URL must start with sqlite: or postgres://".into()).into())
    }
}

pub fn master_key(cfg: &Config) -> anyhow::Result<hrfeed::seal::MasterKey> {
    Ok(hrfeed::seal::MasterKey::load(&cfg.master_key_file)?)
}

pub fn mapping_path(cfg: &Config, tenant: &str, explicit: Option<PathBuf>) -> PathBuf {
    explicit.unwrap_or_else(|| cfg.mapping_path(tenant))
}
