//! Config: `hrfeed.toml`, the workspace's settings — where the data, key and mappings live.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const FILE_NAME: &str = "hrfeed.toml";

/// `hrfeed.toml`. Relative paths are relative to the file's folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub database_url: Option<String>,
    /// Where data keys live. SQLite: a `sqlite:` URL (default: beside the register, `*.keys.db`).
    /// PostgreSQL: a schema name in the same database (default `hrfeed_keys`) or a `postgres://` URL.
    pub key_store: Option<String>,
    pub master_key_file: Option<String>,
    pub data_dir: Option<String>,
    pub mappings_dir: Option<String>,
    pub inbox_dir: Option<String>,
    /// Threads that validate an ingest's rows (default: see `Config::validators`).
    pub validators: Option<usize>,
}

/// The resolved config.
#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    pub database_url: String,
    pub key_store: Option<String>,
    pub master_key_file: PathBuf,
    pub data_dir: PathBuf,
    pub mappings_dir: PathBuf,
    pub inbox_dir: PathBuf,
    /// Threads that validate an ingest's rows; `None`: `ingest::default_validators`.
    pub validators: Option<usize>,
}

/// More validator threads than this only queue for the reader.
pub const MAX_VALIDATORS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no {FILE_NAME} in {0}: run `hrfeed init` there, or pass --config PATH")]
    NotFound(String),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
}

impl Config {
    /// Loads `path`, or `./hrfeed.toml` when `None`.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from(FILE_NAME);
                if !p.exists() {
                    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
                    return Err(ConfigError::NotFound(cwd));
                }
                p
            }
        };
        let text = crate::small_file::read_to_string(&path, 1024 * 1024)
            .map_err(|reason| ConfigError::Read { path: path.display().to_string(), reason })?;
        let raw: RawConfig = toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: path.display().to_string(), reason: e.message().to_owned() })?;
        let root =
            path.parent().map(Path::to_path_buf).filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| ".".into());
        let rel = |s: Option<String>, default: &str| -> PathBuf {
            let p = PathBuf::from(s.unwrap_or_else(|| default.to_owned()));
            if p.is_absolute() { p } else { root.join(p) }
        };
        let data_dir = rel(raw.data_dir, "data");
        let database_url = match raw.database_url {
            Some(u) => resolve_sqlite_url(&u, &root),
            None => format!("sqlite:{}", data_dir.join("hrfeed.db").display()),
        };
        let key_store = raw.key_store.map(|k| resolve_sqlite_url(&k, &root));
        if let Some(n) = raw.validators.filter(|n| !(1..=MAX_VALIDATORS).contains(n)) {
            return Err(ConfigError::Invalid {
                path: path.display().to_string(),
                reason: format!("validators = {n}: must be from 1 to {MAX_VALIDATORS}"),
            });
        }
        Ok(Config {
            database_url,
            key_store,
            master_key_file: rel(raw.master_key_file, "data/master.key"),
            data_dir,
            mappings_dir: rel(raw.mappings_dir, "mappings"),
            inbox_dir: rel(raw.inbox_dir, "inbox"),
            validators: raw.validators,
            root,
        })
    }

    /// The mapping file of a tenant.
    pub fn mapping_path(&self, tenant: &str) -> PathBuf {
        self.mappings_dir.join(format!("{tenant}.toml"))
    }

    /// The tenants that have a mapping in `mappings_dir` (`<tenant>.toml`), sorted.
    pub fn tenants(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(&self.mappings_dir) else { return Vec::new() };
        let mut tenants: Vec<String> = dir
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let tenant = name.strip_suffix(".toml")?;
                crate::ids::TenantId::parse(tenant).ok().map(|t| t.as_str().to_owned())
            })
            .collect();
        tenants.sort();
        tenants
    }
}

/// A relative `sqlite:` path is relative to the config file, not to wherever hrfeed runs.
fn resolve_sqlite_url(url: &str, root: &Path) -> String {
    match url.strip_prefix("sqlite:") {
        Some(rest) if !rest.starts_with('/') && !rest.starts_with("//") => {
            format!("sqlite:{}", root.join(rest).display())
        }
        _ => url.to_owned(),
    }
}
