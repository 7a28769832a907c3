//! `hrfeed mapping check FILE [--sample FILE]`.

use std::path::PathBuf;

use clap::Subcommand;
use hrfeed::mapping::Mapping;
use hrfeed::read::{self, normalise_header};
use hrfeed::validate::{Plan, sensitive};

use super::Global;

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Validate a mapping; with --sample, show how a sample export's columns map.
    Check {
        file: PathBuf,
        /// A sample export to match the mapping against.
        #[arg(long, value_name = "FILE")]
        sample: Option<PathBuf>,
    },
}

pub fn run(c: MappingCommand, _g: &Global) -> anyhow::Result<u8> {
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
    Ok(0)
}
