//! Workspace: `hrfeed init` — a working setup in a folder: config, data directory, inbox,
//! master key (0600) and the example tenant's mapping.

use std::path::{Path, PathBuf};

use crate::config::FILE_NAME;
use crate::seal::MasterKey;

/// The example mapping for the reference export, as `init` writes it.
pub const ACME_MAPPING: &str = include_str!("../mappings/acme.toml");

const CONFIG_TEMPLATE: &str = r#"# hrfeed configuration. Relative paths are relative to this file.

# The register. SQLite (embedded, the default) or PostgreSQL:
#   database_url = "postgres://user@host/dbname"
# HRFEED_DATABASE_URL or --database-url override it.
database_url = "sqlite:data/hrfeed.db"

# The key store holding each person's data key, apart from the register.
# SQLite: a second database file (default: beside the register, data/hrfeed.keys.db).
# PostgreSQL: a schema of the same database (default "hrfeed_keys") or its own postgres:// URL.
# key_store = "sqlite:data/hrfeed.keys.db"

# The master key that wraps every tenant key. Keep it outside backups of the database,
# readable only by the account that runs hrfeed.
master_key_file = "data/master.key"

data_dir = "data"
mappings_dir = "mappings"
# Files dropped in inbox/<tenant>/ are picked up by `hrfeed serve`.
inbox_dir = "inbox"

# Threads that validate an ingest's rows, 1 to 64 (default: one fewer than the cores, at least one).
# validators = 1
"#;

/// What `init` created, for its message.
#[derive(Debug)]
pub struct Created {
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} already exists: this folder is already an hrfeed workspace")]
    Exists(String),
    #[error("cannot create {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Creates the workspace in `dir`. Refuses to overwrite an existing config.
pub fn init(dir: &Path) -> Result<Created, InitError> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| InitError::Io { path, source }
    };
    let config = dir.join(FILE_NAME);
    if config.exists() {
        return Err(InitError::Exists(config.display().to_string()));
    }
    let data = dir.join("data");
    let inbox = dir.join("inbox").join("acme");
    let mappings = dir.join("mappings");
    for d in [&data, &inbox, &mappings] {
        std::fs::create_dir_all(d).map_err(io(d))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).map_err(io(&data))?;
    }
    let key = data.join("master.key");
    if !key.exists() {
        MasterKey::create_file(&key).map_err(io(&key))?;
    }
    let mapping = mappings.join("acme.toml");
    if !mapping.exists() {
        std::fs::write(&mapping, ACME_MAPPING).map_err(io(&mapping))?;
    }
    let readme = mappings.join("README.md");
    if !readme.exists() {
        std::fs::write(&readme, include_str!("../mappings/README.md")).map_err(io(&readme))?;
    }
    std::fs::write(&config, CONFIG_TEMPLATE).map_err(io(&config))?;
    Ok(Created { paths: vec![config, data, key, inbox, mapping] })
}
