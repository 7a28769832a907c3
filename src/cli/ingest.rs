//! `hrfeed ingest FILE --tenant T [--dry-run] [--report text|json]`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use hrfeed::ids::TenantId;
use hrfeed::ingest::{self, Request};
use hrfeed::mapping::Mapping;
use hrfeed::report::Report;

use super::Global;
use super::store::{self, UsageError, with_store};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The HR export: CSV, TXT, XLSX, XLS or ODS.
    pub file: PathBuf,
    /// The tenant whose mapping and register to use.
    #[arg(long)]
    pub tenant: String,
    /// Run every step but write nothing; a file applied before still shows its diff.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the file even if the same content was applied before (e.g. after fixing the
    /// mapping); the run is recorded as a reprocessing of the first.
    #[arg(long)]
    pub reprocess: bool,
    /// How to print the report on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
    /// The mapping file (default: mappings/<tenant>.toml from the config).
    #[arg(long, value_name = "PATH")]
    pub mapping: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// Progress bars are for people at a terminal, on files big enough to wait for.
const PROGRESS_MIN_BYTES: u64 = 8 * 1024 * 1024;

pub async fn run(a: IngestArgs, g: &Global) -> anyhow::Result<u8> {
    let tenant = TenantId::parse(&a.tenant).map_err(UsageError)?;
    match std::fs::metadata(&a.file) {
        Err(_) => return Err(UsageError(format!("{}: no such file", a.file.display())).into()),
        Ok(m) if m.is_dir() => {
            return Err(UsageError(format!("{}: is a directory, not a file", a.file.display())).into());
        }
        Ok(m) if !m.is_file() => {
            let what = "is not a regular file (a FIFO, device or socket): give a complete file";
            return Err(UsageError(format!("{}: {what}", a.file.display())).into());
        }
        Ok(_) => {}
    }
    let cfg = store::config(g)?;
    let path = store::mapping_path(&cfg, tenant.as_str(), a.mapping.clone());
    if !path.exists() {
        return Err(UsageError(match &a.mapping {
            Some(_) => format!("{}: no such mapping file", path.display()),
            None => {
                let known = cfg.tenants();
                let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                format!(
                    "no mapping for tenant `{tenant}`: {} does not exist (tenants with mappings: {known})",
                    path.display()
                )
            }
        })
        .into());
    }
    let mapping = Mapping::load(&path).map_err(|e| anyhow::anyhow!("{}:\n{e}", path.display()))?;
    if let Some(t) = &mapping.tenant
        && t != &tenant
    {
        return Err(UsageError(format!("{} is the mapping of tenant `{t}`, not `{tenant}`", path.display())).into());
    }
    let master = store::master_key(&cfg)?;
    let clock = store::clock(g)?;
    let backend = store::open(g, &cfg).await?;
    let bar = progress_bar(&a.file);
    let progress = bar.clone().map(|b| {
        let f: Arc<dyn Fn(u64, u64) + Send + Sync> = Arc::new(move |done, total| {
            b.set_length(total);
            b.set_position(done);
        });
        f
    });
    let req = Request {
        file: &a.file,
        tenant: &tenant,
        mapping: Arc::new(mapping),
        master: &master,
        dry_run: a.dry_run,
        reprocess: a.reprocess,
        clock,
        progress,
        validators: cfg.validators,
    };
    let report = with_store!(&backend, |s| ingest::ingest(s, &req).await);
    backend.close().await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    print(&report, a.report)?;
    Ok(exit_code(&report))
}

pub fn print(report: &Report, format: ReportFormat) -> std::io::Result<()> {
    match format {
        ReportFormat::Json => out_json!("{}", report.to_json()),
        ReportFormat::Text => super::emit(format_args!("{}", report.to_text()))?,
    }
    Ok(())
}

/// The documented exit codes: 0 applied or duplicate, 3 applied with rejected rows, 4 held, 1 failed.
pub fn exit_code(report: &Report) -> u8 {
    match report.status.as_str() {
        "applied" if report.counts.rejected > 0 => 3,
        "applied" | "duplicate" => 0,
        "held" => 4,
        _ => 1,
    }
}

fn progress_bar(file: &std::path::Path) -> Option<indicatif::ProgressBar> {
    let big = std::fs::metadata(file).map(|m| m.len() >= PROGRESS_MIN_BYTES).unwrap_or(false);
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    if !big || ci || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template("{spinner} {bar:40} {percent:>3}% {elapsed} ETA {eta}")
        .context("progress style")
        .ok()?;
    bar.set_style(style);
    Some(bar)
}
