//! Report: what a run did, as JSON or text — counts, field and column names, positions and
//! timings. Never a value: the types here have no slot for one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::diff::Counts;

/// At most this many rejections are listed; the count stays exact.
pub const MAX_LISTED_REJECTIONS: usize = 10_000;

/// `Deserialize` reads a stored report back (`runs show`); keys an older version did not
/// write take their defaults.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Report {
    pub run_id: String,
    pub tenant: String,
    pub file: String,
    pub sha256: String,
    /// applied | duplicate | held | failed
    pub status: String,
    pub dry_run: bool,
    pub counts: CountsJson,
    pub changed_fields: BTreeMap<String, u64>,
    pub dropped_columns: Vec<String>,
    pub refused_columns: Vec<String>,
    pub missing_columns: Vec<String>,
    pub rejections: Vec<Rejection>,
    pub rejections_truncated: bool,
    pub held_reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// For a duplicate: the tenant's latest applied run, when it is not the one this content
    /// was applied by (an older file sent again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// For `--reprocess`: the run that first applied this content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reprocess_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected: Option<DetectedJson>,
    pub timings_ms: BTreeMap<String, u64>,
    /// Rows found unchanged by the quick cells check, without validation (logged, not printed).
    #[serde(skip)]
    pub unvalidated: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct CountsJson {
    pub rows: u64,
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub ended: u64,
    pub rehired: u64,
    pub missing: u64,
    pub rejected: u64,
}

impl From<&Counts> for CountsJson {
    fn from(c: &Counts) -> Self {
        CountsJson {
            rows: c.rows,
            new: c.new,
            changed: c.changed,
            unchanged: c.unchanged,
            ended: c.ended,
            rehired: c.rehired,
            missing: c.missing,
            rejected: c.rejected,
        }
    }
}

/// One broken rule of one row: positions and names only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rejection {
    pub row: u64,
    pub line: u64,
    pub column: String,
    pub field: String,
    pub rule: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetectedJson {
    pub format: String,
    pub encoding: String,
    pub delimiter: String,
}

impl Report {
    /// A report with no counts yet, for runs that stop early.
    pub fn empty(run_id: &str, tenant: &str, file: &str, sha256: &str, dry_run: bool) -> Report {
        Report {
            run_id: run_id.to_owned(),
            tenant: tenant.to_owned(),
            file: file.to_owned(),
            sha256: sha256.to_owned(),
            status: "failed".into(),
            dry_run,
            counts: CountsJson::default(),
            changed_fields: BTreeMap::new(),
            dropped_columns: Vec::new(),
            refused_columns: Vec::new(),
            missing_columns: Vec::new(),
            rejections: Vec::new(),
            rejections_truncated: false,
            held_reasons: Vec::new(),
            duplicate_of: None,
            superseded_by: None,
            reprocess_of: None,
            error: None,
            detected: None,
            timings_ms: BTreeMap::new(),
            unvalidated: 0,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The human summary printed by `ingest --report text` and `runs show`.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let dry = if self.dry_run { " (dry run: nothing written)" } else { "" };
        let _ = writeln!(s, "run {} · tenant {} · {} · {}{dry}", self.run_id, self.tenant, self.file, self.status);
        if let Some(e) = &self.error {
            let _ = writeln!(s, "  error: {e}");
        }
        match (&self.duplicate_of, self.dry_run) {
            (Some(d), true) => {
                let _ = writeln!(
                    s,
                    "  the same content was applied by run {d}: a real run would be a duplicate; the diff below is \
                     what --reprocess would apply"
                );
            }
            (Some(d), false) => {
                let _ = writeln!(s, "  duplicate of run {d}: the same content was already applied; nothing changed");
            }
            (None, _) => {}
        }
        if let Some(l) = &self.superseded_by {
            let _ = writeln!(
                s,
                "  this file is older than the register: run {l} was applied after it; use --reprocess to apply \
                 this older content again"
            );
        }
        if let Some(r) = &self.reprocess_of {
            let _ = writeln!(s, "  reprocessed on purpose: this content was first applied by run {r}");
        }
        let c = &self.counts;
        let _ = writeln!(
            s,
            "  rows {} · new {} · changed {} · unchanged {} · ended {} · rehired {} · missing {} · rejected {}",
            c.rows, c.new, c.changed, c.unchanged, c.ended, c.rehired, c.missing, c.rejected
        );
        let list = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
        if !self.changed_fields.is_empty() {
            let _ = writeln!(s, "  changed fields: {}", list(&self.changed_fields));
        }
        for (label, cols) in [
            ("dropped columns", &self.dropped_columns),
            ("refused columns (sensitive, not declared)", &self.refused_columns),
            ("missing optional columns", &self.missing_columns),
        ] {
            if !cols.is_empty() {
                let _ = writeln!(s, "  {label}: {}", cols.join(", "));
            }
        }
        for r in &self.held_reasons {
            let _ = writeln!(s, "  held: {r}");
        }
        if !self.rejections.is_empty() {
            let _ = writeln!(s, "  rejected rows:");
            for r in self.rejections.iter().take(50) {
                let _ = writeln!(
                    s,
                    "    row {} (line {}), column `{}` → field `{}`: {}",
                    r.row, r.line, r.column, r.field, r.rule
                );
            }
            if self.rejections.len() > 50 || self.rejections_truncated {
                let _ = writeln!(s, "    … and more (see --report json)");
            }
        }
        if !self.timings_ms.is_empty() {
            let t = self.timings_ms.iter().map(|(k, v)| format!("{k} {v} ms")).collect::<Vec<_>>().join(", ");
            let _ = writeln!(s, "  timings: {t}");
        }
        // File and column names come from the file: shown, never obeyed by the terminal.
        crate::terminal::safe_lines(&s).into_owned()
    }
}
