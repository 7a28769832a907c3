//! `hrfeed runs list|show ID`.

use clap::Subcommand;
use hrfeed::ids::TenantId;
use hrfeed::store::Store;

use super::Global;
use super::store::{self, UsageError, with_store};

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// The latest runs, newest first.
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// One run's report.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(c: RunsCommand, g: &Global) -> anyhow::Result<u8> {
    let cfg = store::config(g)?;
    let backend = store::open(g, &cfg).await?;
    let done = with_store!(&backend, |s| run_with(s, c).await);
    backend.close().await;
    done
}

async fn run_with<S: Store>(s: &S, c: RunsCommand) -> anyhow::Result<u8> {
    match c {
        RunsCommand::List { tenant, limit, json } => {
            let tenant = tenant.map(|t| TenantId::parse(&t).map_err(UsageError)).transpose()?;
            let runs = s.list_runs(tenant.as_ref(), limit).await?;
            if !json {
                out!("{:<36}  {:<10}  {:<9}  {:<25}  file", "run", "tenant", "status", "started");
            }
            for r in runs {
                if json {
                    let v = serde_json::json!({"run_id": r.id.as_str(), "tenant": r.tenant.as_str(),
                        "status": r.status.as_str(), "file": r.file_name, "sha256": r.sha256,
                        "started_at": r.started_at, "finished_at": r.finished_at});
                    out!("{v}");
                } else {
                    out!(
                        "{:<36}  {:<10}  {:<9}  {:<25}  {}",
                        r.id.as_str(),
                        r.tenant.as_str(),
                        r.status.as_str(),
                        r.started_at,
                        r.file_name
                    );
                }
            }
            Ok(0)
        }
        RunsCommand::Show { id, json } => {
            let Some(r) = s.get_run(&id).await? else {
                return Err(UsageError(format!("no run with id {id}")).into());
            };
            if json {
                out!("{}", r.report);
            } else {
                match serde_json::from_str::<hrfeed::report::Report>(&r.report) {
                    Ok(report) => super::emit(format_args!("{}", report.to_text()))?,
                    Err(_) => out!("run {} · {} · {}", r.id.as_str(), r.tenant.as_str(), r.status.as_str()),
                }
                out!("  started {} · finished {}", r.started_at, r.finished_at);
            }
            Ok(0)
        }
    }
}
