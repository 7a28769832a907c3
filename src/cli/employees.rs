//! `hrfeed employees show --tenant T ID`: one person's stored values and history.
//!
//! This prints personal values on purpose: it is the operator's view of one record, like the
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
}

pub async fn run(c: EmployeesCommand, g: &Global) -> anyhow::Result<u8> {
    let EmployeesCommand::Show { tenant, id, json } = c;
    let tenant = TenantId::parse(&tenant).map_err(UsageError)?;
    let cfg = store::config(g)?;
    let master = store::master_key(&cfg)?;
    let backend = store::open(g, &cfg).await?;
    let shown = with_store!(&backend, |s| show(s, &master, &tenant, &EmployeeKey::new(&id), json).await);
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
    let wrapped = s.tenant_key(tenant).await?.ok_or_else(|| anyhow::anyhow!("tenant {tenant} has no key"))?;
    let keys = TenantKeys::unwrap(master, tenant, &wrapped)?;
    let dk = keys.unwrap_data_key(key.as_str(), &person.wrapped_key)?;
    let (layout_id, values) = seal::decode(&dk.open(&format!("{tenant}|{}", key.as_str()), &person.sealed)?)?;
    let layouts = s.layouts().await?;
    let layout = layouts.iter().find(|l| l.id() == layout_id).ok_or(seal::SealError::Malformed)?;
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
    Ok(0)
}
