//! `hrfeed employees show --tenant T ID`: one person's stored values and history;
//! `hrfeed employees list --tenant T`: every person's.
//!
//! This prints personal values on purpose: it is the operator's view of the register, like the
//! steward UI. Nothing here is logged.

use clap::Subcommand;
use hrfeed::ids::{EmployeeKey, TenantId};
use hrfeed::seal::{self, TenantKeys};
use hrfeed::store::Store;

use super::Global;
use super::store::{self, UsageError, with_store};

#[derive(Debug, Subcommand)]
pub enum EmployeesCommand {
    /// One person's current values and change history.
    Show {
        /// The tenant whose register holds the person.
        #[arg(long)]
        tenant: String,
        /// The register key (employee id).
        id: String,
        /// One JSON object: `tenant`, `employee_id`, `fields` by name and `history`.
        #[arg(long)]
        json: bool,
    },
    /// Every person of a tenant, in key order, with their values and change history.
    List {
        /// The tenant whose register to list.
        #[arg(long)]
        tenant: String,
        /// One JSON object per line, each as `show --json` gives it.
        #[arg(long)]
        json: bool,
    },
}

/// People unsealed per store read.
const LIST_CHUNK: usize = 1000;

pub async fn run(c: EmployeesCommand, g: &Global) -> anyhow::Result<u8> {
    let (tenant, id, json) = match c {
        EmployeesCommand::Show { tenant, id, json } => (tenant, Some(id), json),
        EmployeesCommand::List { tenant, json } => (tenant, None, json),
    };
    let tenant = TenantId::parse(&tenant).map_err(UsageError)?;
    let cfg = store::config(g)?;
    let master = store::master_key(&cfg)?;
    let backend = store::open(g, &cfg).await?;
    let shown = match id {
        Some(id) => with_store!(&backend, |s| show(s, &master, &tenant, &EmployeeKey::new(&id), json).await),
        None => with_store!(&backend, |s| list(s, &master, &tenant, json).await),
    };
    backend.close().await;
    shown
}

async fn show<S: Store>(
    s: &S,
    master: &seal::MasterKey,
    tenant: &TenantId,
    key: &EmployeeKey,
    json: bool,
) -> anyhow::Result<u8> {
    let people = s.load_sealed(tenant, std::slice::from_ref(key)).await?;
    let Some(person) = people.first() else {
        return Err(UsageError(format!("tenant {tenant} has no employee {}", key.as_str())).into());
    };
    let opener = Opener::new(s, master, tenant).await?;
    print(s, tenant, person, &opener, json).await?;
    Ok(0)
}

async fn list<S: Store>(s: &S, master: &seal::MasterKey, tenant: &TenantId, json: bool) -> anyhow::Result<u8> {
    let mut keys: Vec<EmployeeKey> = hrfeed::store::register(s, tenant).await?.keys().collect();
    keys.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    if keys.is_empty() {
        if !json {
            out!("tenant {tenant} has no employees");
        }
        return Ok(0);
    }
    let opener = Opener::new(s, master, tenant).await?;
    for chunk in keys.chunks(LIST_CHUNK) {
        // A store need not return them in the order asked.
        let mut people = s.load_sealed(tenant, chunk).await?;
        people.sort_unstable_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        for person in people {
            print(s, tenant, &person, &opener, json).await?;
        }
    }
    Ok(0)
}

/// What opens a tenant's sealed records: its keys and the payload layouts.
struct Opener {
    keys: TenantKeys,
    layouts: Vec<seal::Layout>,
}

impl Opener {
    async fn new<S: Store>(s: &S, master: &seal::MasterKey, tenant: &TenantId) -> anyhow::Result<Opener> {
        let wrapped = s.tenant_key(tenant).await?.ok_or_else(|| anyhow::anyhow!("tenant {tenant} has no key"))?;
        Ok(Opener { keys: TenantKeys::unwrap(master, tenant, &wrapped)?, layouts: s.layouts().await? })
    }
}

async fn print<S: Store>(
    s: &S,
    tenant: &TenantId,
    person: &hrfeed::store::SealedPerson,
    opener: &Opener,
    json: bool,
) -> anyhow::Result<()> {
    let key = &person.key;
    let dk = opener.keys.unwrap_data_key(key.as_str(), &person.wrapped_key)?;
    let (layout_id, values) = seal::decode(&dk.open(&format!("{tenant}|{}", key.as_str()), &person.sealed)?)?;
    let layout = opener.layouts.iter().find(|l| l.id() == layout_id).ok_or(seal::SealError::Malformed)?;
    let values = seal::named(layout, values)?;
    let history = s.history(tenant, key).await?;
    if json {
        let fields: serde_json::Map<String, serde_json::Value> = values
            .iter()
            .map(|(n, v)| (n.clone(), v.as_ref().map_or(serde_json::Value::Null, |v| v.expose().into())))
            .collect();
        let hist: Vec<serde_json::Value> = history
            .iter()
            .map(
                |h| serde_json::json!({"run_id": h.run_id, "kind": h.kind, "fields": h.fields, "at": h.run_started_at}),
            )
            .collect();
        out_json!(
            "{}",
            serde_json::json!({"tenant": tenant.as_str(), "employee_id": key.as_str(), "fields": fields, "history": hist})
        );
    } else {
        out!("employee {} · tenant {tenant}", key.as_str());
        for (n, v) in &values {
            out!("  {n:<16} {}", v.as_ref().map_or("", |v| v.expose()));
        }
        out!("history:");
        for h in &history {
            out!("  {} {:<9} {} {}", h.run_started_at.as_deref().unwrap_or("?"), h.kind, h.run_id, h.fields);
        }
    }
    Ok(())
}
