//! `hrfeed mapping check FILE [--sample FILE]`.

use std::path::PathBuf;

use clap::Subcommand;
use hrfeed::mapping::Mapping;
use hrfeed::read::{self, normalise_header};
use hrfeed::validate::{self, Context, Plan, sensitive};

use super::Global;

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Validate a mapping; with --sample, show how a sample export's columns map and how its
    /// rows validate (counts per column and rule, never a value). Exits 1 on mapping errors, or
    /// when the sample's rejected share is above the policy's `max_rejected_percent`.
    Check {
        /// The mapping file (TOML).
        file: PathBuf,
        /// A sample export to match the mapping against.
        #[arg(long, value_name = "FILE")]
        sample: Option<PathBuf>,
    },
}

pub fn run(c: MappingCommand, g: &Global) -> anyhow::Result<u8> {
    let MappingCommand::Check { file, sample } = c;
    let mapping = match Mapping::load(&file) {
        Ok(m) => m,
        Err(errors) => {
            warn_out!("{}: {} error(s)", file.display(), errors.errors.len());
            for e in &errors.errors {
                match e.line {
                    Some(_) => warn_out!("  {}:{e}", file.display()),
                    None => warn_out!("  {}: {e}", file.display()),
                }
            }
            return Ok(1);
        }
    };
    out!("{}: ok — {} fields, key `{}`", file.display(), mapping.fields.len(), mapping.key_field().name);
    let Some(sample) = sample else { return Ok(0) };
    let records = read::open(&sample, &mapping.read).map_err(|e| anyhow::anyhow!("{}: {e}", sample.display()))?;
    let header = records.header();
    let d = &header.detected;
    out!(
        "{}: {} (encoding {}, delimiter {:?}), header on line {}",
        sample.display(),
        d.format,
        if d.encoding.is_empty() { "-" } else { d.encoding },
        if d.delimiter == 0 { '-' } else { char::from(d.delimiter) },
        header.line
    );
    let plan = match Plan::new(header, &mapping) {
        Ok(p) => p,
        Err(e) => {
            warn_out!("  {e}");
            return Ok(1);
        }
    };
    out!("mapped:");
    for (i, f) in mapping.fields.iter().enumerate() {
        let at = if plan.columns[i].is_some() { plan.column_names[i].as_str() } else { "(absent)" };
        let purpose = f.purpose.as_deref().map(|p| format!(" — purpose: {p}")).unwrap_or_default();
        out!("  {at:<24} → {:<16} {:<12} {}{purpose}", f.name, f.kind.name(), f.class.as_str());
    }
    out!("dropped (never stored):");
    for (_, name) in &plan.dropped {
        let why = sensitive::column_category(&normalise_header(name), &mapping.sensitive_words)
            .map(|c| format!("  ⚠ looks sensitive: {c}"))
            .unwrap_or_default();
        out!("  {name}{why}");
    }
    let today = super::store::clock(g)?.today();
    let tally = match Tally::of(records, &plan, &mapping, today) {
        Ok(t) => t,
        Err(e) => {
            warn_out!("  {}: {e}", sample.display());
            return Ok(1);
        }
    };
    tally.print(&plan, &mapping)?;
    // A sample the guard would hold for its rejected share fails the check, so scripts see it.
    let share = tally.rejected as f64 * 100.0 / tally.rows.max(1) as f64;
    Ok(if share > mapping.policy.max_rejected_percent { 1 } else { 0 })
}

/// What validating a sample's rows found: counts per field and rule, never a value.
struct Tally {
    rows: u64,
    rejected: u64,
    /// Per field (and, last, the event column): rows whose cell broke no rule.
    passed: Vec<u64>,
    /// (field, rule) → rows.
    broken: std::collections::BTreeMap<(usize, &'static str), u64>,
}

impl Tally {
    fn of(
        mut records: read::Records,
        plan: &Plan,
        mapping: &Mapping,
        today: chrono::NaiveDate,
    ) -> Result<Tally, read::ReadError> {
        let ctx = Context { today, workbook: records.header().detected.format != "csv" };
        let slots = mapping.fields.len() + 1;
        let mut t = Tally { rows: 0, rejected: 0, passed: vec![0; slots], broken: Default::default() };
        // Per key: whether its first row was otherwise valid (every row of a repeated key is
        // rejected, as the run does), and whether it repeated.
        let mut keys: std::collections::HashMap<_, (bool, bool)> = std::collections::HashMap::new();
        let mut record = read::Record::default();
        while records.next_into(&mut record)? {
            t.rows += 1;
            let (mut errors, key) = match validate::validate(&record, plan, mapping, ctx) {
                Ok(row) => (Vec::new(), Some(row.key)),
                Err(rej) => (rej.errors, rej.key),
            };
            if let Some(k) = key {
                match keys.get_mut(&k) {
                    Some((_, repeated)) => {
                        *repeated = true;
                        errors.push(validate::CellError { field: mapping.key, rule: validate::Rule::DuplicateKey });
                    }
                    None => {
                        keys.insert(k, (errors.is_empty(), false));
                    }
                }
            }
            t.rejected += u64::from(!errors.is_empty());
            for (i, n) in t.passed.iter_mut().enumerate() {
                let slot =
                    |e: &validate::CellError| e.field == i || (i == slots - 1 && e.field == validate::EVENT_COLUMN);
                *n += u64::from(!errors.iter().any(slot));
            }
            for e in &errors {
                let field = if e.field == validate::EVENT_COLUMN { slots - 1 } else { e.field };
                *t.broken.entry((field, e.rule.as_str())).or_default() += 1;
            }
        }
        for (first_valid, _) in keys.values().filter(|(_, repeated)| *repeated) {
            *t.broken.entry((mapping.key, validate::Rule::DuplicateKey.as_str())).or_default() += 1;
            if *first_valid {
                t.rejected += 1;
                t.passed[mapping.key] -= 1;
            }
        }
        Ok(t)
    }

    fn print(&self, plan: &Plan, mapping: &Mapping) -> std::io::Result<()> {
        let pct = self.rejected as f64 * 100.0 / self.rows.max(1) as f64;
        out!(
            "rows: {} read, {} valid, {} would be rejected ({pct:.1} %; the guard holds above {} %)",
            self.rows,
            self.rows - self.rejected,
            self.rejected,
            mapping.policy.max_rejected_percent
        );
        out!("per column: rows whose cell passes, and the rules broken:");
        let line = |label: String, i: usize| -> std::io::Result<()> {
            let rules: Vec<String> =
                self.broken.iter().filter(|((f, _), _)| *f == i).map(|((_, r), n)| format!("{r} {n}")).collect();
            out!("  {label:<44} {:>7} of {}  {}", self.passed[i], self.rows, rules.join(", "));
            Ok(())
        };
        for (i, f) in mapping.fields.iter().enumerate() {
            let column = if plan.columns[i].is_some() { plan.column_names[i].as_str() } else { "(absent)" };
            line(format!("{column} → {}", f.name), i)?;
        }
        if let Some((_, column)) = &plan.event {
            line(format!("{column} → event"), mapping.fields.len())?;
        }
        Ok(())
    }
}
