//! `hrfeed demo`: a fresh workspace, the day-1 then day-2 reference fixtures ingested, both reports printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use hrfeed::ids::TenantId;
use hrfeed::ingest::{self, Request};
use hrfeed::mapping::Mapping;

use super::Global;
use super::ingest::{ReportFormat, print};
use super::store::{self, UsageError, with_store};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to build the demo workspace; it is wiped first.
    #[arg(long, default_value = "demo-workspace")]
    pub dir: PathBuf,
    /// The fixtures folder holding day1/day2 exports.
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    /// Which day-1/day-2 files to use: win1252.csv, utf8bom.csv, utf16.txt, xlsx or ods.
    #[arg(long, default_value = "win1252.csv")]
    pub format: String,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
}

const MARKER: &str = ".hrfeed-demo";

pub async fn run(a: DemoArgs, g: &Global) -> anyhow::Result<u8> {
    let fixtures = match a.fixtures {
        Some(f) => f,
        None => {
            find_fixtures().ok_or_else(|| UsageError("cannot find fixtures/reference; pass --fixtures DIR".into()))?
        }
    };
    if a.dir.exists() {
        if !a.dir.join(MARKER).exists() {
            return Err(UsageError(format!(
                "{} exists and is not a demo workspace; pick another --dir",
                a.dir.display()
            ))
            .into());
        }
        std::fs::remove_dir_all(&a.dir).with_context(|| format!("wiping {}", a.dir.display()))?;
    }
    std::fs::create_dir_all(&a.dir)?;
    std::fs::write(a.dir.join(MARKER), "made by `hrfeed demo`; safe to delete\n")?;
    hrfeed::workspace::init(&a.dir)?;
    let cfg = hrfeed::config::Config::load(Some(&a.dir.join(hrfeed::config::FILE_NAME)))?;
    let tenant = TenantId::parse("acme").map_err(UsageError)?;
    let mapping = Arc::new(Mapping::load(&cfg.mapping_path("acme")).map_err(|e| anyhow::anyhow!("{e}"))?);
    let master = store::master_key(&cfg)?;
    let backend = store::open_url(&cfg.database_url, cfg.key_store.as_deref()).await?;
    let clock = store::clock(g)?;
    out!("demo workspace: {}\n", a.dir.display());
    let mut worst = 0;
    for day in ["day1", "day2"] {
        let file = fixtures.join(format!("{day}.{}", a.format));
        let inbox = cfg.inbox_dir.join("acme").join(file.file_name().unwrap_or_default());
        std::fs::copy(&file, &inbox).with_context(|| format!("copying {}", file.display()))?;
        let req = Request {
            file: &inbox,
            tenant: &tenant,
            mapping: mapping.clone(),
            master: &master,
            dry_run: false,
            reprocess: false,
            clock,
            progress: None,
            validators: cfg.validators,
        };
        let report = with_store!(&backend, |s| ingest::ingest(s, &req).await);
        out!("== {day} ==");
        print(&report, a.report)?;
        out!();
        worst = worst.max(match super::ingest::exit_code(&report) {
            1 => 1,
            0 | 3 => 0,
            other => other,
        });
    }
    backend.close().await;
    Ok(worst)
}

fn find_fixtures() -> Option<PathBuf> {
    [PathBuf::from("fixtures/reference"), Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reference")]
        .into_iter()
        .find(|p| p.join("day1.win1252.csv").exists())
}
