//! `hrfeed runs list|show ID`.

use clap::Subcommand;
use hrfeed::ids::{EmployeeKey, TenantId};
use hrfeed::store::{RunStatus, Store};

use super::Global;
use super::store::{self, UsageError, with_store};

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// The latest runs, newest first.
    List {
        /// Only this tenant's runs.
        #[arg(long)]
        tenant: Option<String>,
        /// How many runs to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// One run's report.
    Show {
        /// The run's id (from `runs list` or the report's `run_id`).
        id: String,
        /// The report exactly as stored, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The employee ids an applied run classified, by class: the operator's view of who is new,
    /// changed, ended, rehired, missing or rejected (it prints ids, like `employees show`).
    People {
        /// The run's id.
        id: String,
        /// Only this class.
        #[arg(long, value_enum)]
        class: Option<PeopleClass>,
        /// One JSON object per line: `employee_id`, `class` and, for a rejected row, `row`.
        #[arg(long)]
        json: bool,
    },
}

/// The classes a run records per person (unchanged people are not recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PeopleClass {
    New,
    Changed,
    Ended,
    Rehired,
    Missing,
    Rejected,
}

impl PeopleClass {
    fn as_str(self) -> &'static str {
        match self {
            PeopleClass::New => "new",
            PeopleClass::Changed => "changed",
            PeopleClass::Ended => "ended",
            PeopleClass::Rehired => "rehired",
            PeopleClass::Missing => "missing",
            PeopleClass::Rejected => "rejected",
        }
    }
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
                    out_json!("{v}");
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
        RunsCommand::People { id, class, json } => {
            let Some(r) = s.get_run(&id).await? else {
                return Err(UsageError(format!("no run with id {id}")).into());
            };
            if r.status != RunStatus::Applied {
                // Only an applied run's classes were written; a held or failed run changed nobody.
                warn_out!("run {id} is {}: it applied nothing, so it recorded no people", r.status.as_str());
                return Ok(0);
            }
            let people = s.run_people(&r.tenant, &r.id).await?;
            for p in people.iter().filter(|p| class.is_none_or(|c| c.as_str() == p.class)) {
                let key = p.key.as_ref().map(EmployeeKey::as_str);
                if json {
                    let mut v = serde_json::json!({"employee_id": key, "class": p.class});
                    if let Some(row) = p.row {
                        v["row"] = row.into();
                    }
                    out_json!("{v}");
                } else {
                    match p.row {
                        Some(row) => out!("{:<9} {} (row {row})", p.class, key.unwrap_or("(no valid id)")),
                        None => out!("{:<9} {}", p.class, key.unwrap_or("")),
                    }
                }
            }
            Ok(0)
        }
        RunsCommand::Show { id, json } => {
            let Some(r) = s.get_run(&id).await? else {
                return Err(UsageError(format!("no run with id {id}")).into());
            };
            if json {
                out_json!("{}", r.report);
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
