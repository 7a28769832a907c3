//! Diff: matches valid rows to the stored register and classifies each — new, changed,
//! unchanged, ended, rehired — and the register's people absent from a full file as missing.
//!
//! Pure: no I/O and no clock. Two stages so the common case stays cheap: `register::Lookup::observe`
//! decides *new* and *unchanged* from keyed fingerprints alone; only rows whose fingerprint
//! differs are compared field by field (`classify`) once their stored values are unsealed.

use std::collections::BTreeMap;

use crate::value::Value;

/// How one valid row relates to the register (reference-export.md, "How one valid row is classified").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    New,
    Rehired,
    Ended,
    Changed,
    Unchanged,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::New => "new",
            Class::Rehired => "rehired",
            Class::Ended => "ended",
            Class::Changed => "changed",
            Class::Unchanged => "unchanged",
        }
    }
}

/// Which fields are the employment dates, by index into the row's values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dates {
    pub start: Option<usize>,
    pub end: Option<usize>,
}

/// Second stage: compares a row with the person's stored values (by field name) and returns
/// the class and the indices of the fields that differ. Dates are ISO text, so they compare as text.
pub fn classify(
    names: &[&str],
    values: &[Option<Value>],
    stored: &[(String, Option<Value>)],
    dates: Dates,
    skip: usize,
) -> (Class, Vec<usize>) {
    let old = |i: usize| -> Option<&Value> { stored.iter().find(|(n, _)| n == names[i]).and_then(|(_, v)| v.as_ref()) };
    let changed: Vec<usize> = (0..names.len()).filter(|&i| i != skip && old(i) != values[i].as_ref()).collect();
    let value = |i: Option<usize>| i.and_then(|i| values[i].as_ref());
    let stored_end = dates.end.and_then(old);
    let new_end = value(dates.end);
    let new_start = value(dates.start);
    let class = match (stored_end, new_end) {
        (Some(_), None) => Class::Rehired,
        (Some(se), Some(_)) if new_start.is_some_and(|s| s.expose() > se.expose()) => Class::Rehired,
        (None, Some(_)) => Class::Ended,
        (Some(se), Some(ne)) if se != ne => Class::Ended,
        _ if changed.is_empty() => Class::Unchanged,
        _ => Class::Changed,
    };
    (class, changed)
}

/// The run's tallies, as the report prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows: u64,
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub ended: u64,
    pub rehired: u64,
    pub missing: u64,
    pub rejected: u64,
    /// Per field name: how many changed, ended or rehired rows differ in it.
    pub changed_fields: BTreeMap<String, u64>,
    /// Of the unchanged, those the quick cells check found without validating them.
    pub unvalidated: u64,
}

impl Counts {
    fn of(&mut self, class: Class) -> &mut u64 {
        match class {
            Class::New => &mut self.new,
            Class::Rehired => &mut self.rehired,
            Class::Ended => &mut self.ended,
            Class::Changed => &mut self.changed,
            Class::Unchanged => &mut self.unchanged,
        }
    }

    pub fn add(&mut self, class: Class) {
        *self.of(class) += 1;
    }

    /// Takes back one `add` (a row found to be a repeated key's first).
    pub fn remove(&mut self, class: Class) {
        let n = self.of(class);
        *n = n.saturating_sub(1);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["id", "name", "start", "end"];
    const DATES: Dates = Dates { start: Some(2), end: Some(3) };

    fn vals(v: &[Option<&str>]) -> Vec<Option<Value>> {
        v.iter().map(|s| s.map(Value::new)).collect()
    }

    fn stored(v: &[Option<&str>]) -> Vec<(String, Option<Value>)> {
        NAMES.iter().skip(1).zip(v.iter().skip(1)).map(|(n, s)| ((*n).to_owned(), s.map(Value::new))).collect()
    }

    fn check(old: &[Option<&str>], new: &[Option<&str>], class: Class, fields: &[usize]) {
        let (c, f) = classify(NAMES, &vals(new), &stored(old), DATES, 0);
        assert_eq!((c, f.as_slice()), (class, fields));
    }

    #[test]
    fn classes_follow_the_reference_rules() {
        let base = [Some("1"), Some("Åsa"), Some("2020-01-01"), None];
        check(&base, &base, Class::Unchanged, &[]);
        check(&base, &[Some("1"), Some("Eva"), Some("2020-01-01"), None], Class::Changed, &[1]);
        check(&base, &[Some("1"), Some("Åsa"), Some("2020-01-01"), Some("2026-12-31")], Class::Ended, &[3]);
        let ended = [Some("1"), Some("Åsa"), Some("2020-01-01"), Some("2026-12-31")];
        check(&ended, &[Some("1"), Some("Åsa"), Some("2020-01-01"), Some("2027-01-31")], Class::Ended, &[3]);
        check(&ended, &base, Class::Rehired, &[3]);
        check(&ended, &[Some("1"), Some("Åsa"), Some("2027-02-01"), Some("2027-06-30")], Class::Rehired, &[2, 3]);
        check(&ended, &ended, Class::Unchanged, &[]);
    }
}
