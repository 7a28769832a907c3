//! Guard: holds a run that would change too much of the register at once, or that would clear
//! what the register holds because a mapped column vanished from the file, for four-eyes release.
//!
//! Pure: it reads the run's counts and facts, never the store or the clock.

use crate::diff::Counts;
use crate::mapping::{FileMode, Policy};

/// What the guard decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Proceed,
    /// Reasons name the threshold crossed and the measured share, never a person.
    Held(Vec<String>),
}

/// What the guard weighs besides the counts.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// People in the register before the run, ended ones included.
    pub people: usize,
    /// Of those, the people not ended: the base of the missing share (only they can go missing).
    pub active: usize,
    pub mode: FileMode,
    /// Mapped fields (name, column) whose column the file lacks and whose mapping says that
    /// absence holds the run (`if_column_missing = "hold"`).
    pub absent: &'a [(String, String)],
}

/// Compares the run's counts with the policy's thresholds. Every share names its base and is
/// of a base that contains what it counts, so none exceeds 100 %.
///
/// An empty register (the first load) is held only for its rejected share: there is nothing
/// stored to lose, but a file whose rows are mostly broken is still not what it seems.
pub fn guard(counts: &Counts, facts: Facts<'_>, policy: &Policy) -> Verdict {
    let mut reasons = Vec::new();
    let mut check = |name: &str, what: &str, n: u64, base: u64, base_name: &str, limit: f64| {
        if base == 0 {
            return;
        }
        let pct = n as f64 * 100.0 / base as f64;
        if pct > limit {
            reasons.push(format!("{name}: {n} {what} ({pct:.1} % of the {base} {base_name}) exceeds {limit} %"));
        }
    };
    check(
        "max_rejected_percent",
        "rows rejected",
        counts.rejected,
        counts.rows,
        "data rows of the file",
        policy.max_rejected_percent,
    );
    if facts.people > 0 {
        let people = facts.people as u64;
        if facts.mode == FileMode::Full {
            let active = facts.active as u64;
            let limit = policy.max_missing_percent;
            check("max_missing_percent", "people missing", counts.missing, active, "active people", limit);
        }
        let register = "people in the register";
        check("max_ended_percent", "people ended", counts.ended, people, register, policy.max_ended_percent);
        check("max_rehired_percent", "people rehired", counts.rehired, people, register, policy.max_rehired_percent);
        check("max_changed_percent", "people changed", counts.changed, people, register, policy.max_changed_percent);
        for (field, column) in facts.absent {
            reasons.push(format!(
                "column `{column}` (field `{field}`) is missing from the file: its stored values would be \
                 cleared; map the column's new name in `aliases`, or set the field's `if_column_missing`"
            ));
        }
    }
    if reasons.is_empty() { Verdict::Proceed } else { Verdict::Held(reasons) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn facts(people: usize, active: usize, mode: FileMode) -> Facts<'static> {
        Facts { people, active, mode, absent: &[] }
    }

    fn held(v: &Verdict) -> Vec<String> {
        match v {
            Verdict::Held(r) => r.clone(),
            Verdict::Proceed => Vec::new(),
        }
    }

    #[test]
    fn a_truncated_full_file_is_held() {
        let policy = Policy::default();
        let counts = Counts { rows: 940, missing: 60, ..Counts::default() };
        assert_eq!(held(&guard(&counts, facts(1000, 1000, FileMode::Full), &policy)).len(), 1);
        assert_eq!(guard(&counts, facts(1000, 1000, FileMode::Delta), &policy), Verdict::Proceed);
        let few = Counts { rows: 950, missing: 50, ..Counts::default() };
        assert_eq!(guard(&few, facts(1000, 1000, FileMode::Full), &policy), Verdict::Proceed);
        assert_eq!(guard(&counts, facts(0, 0, FileMode::Full), &policy), Verdict::Proceed);
    }

    /// Issue 14, damage 6: ended people moved again were once counted against the active base.
    #[test]
    fn shares_are_of_a_base_that_contains_them_and_never_exceed_100_percent() {
        let policy = Policy::default();
        let counts = Counts { rows: 1000, ended: 1000, rehired: 900, changed: 1000, ..Counts::default() };
        let reasons = held(&guard(&counts, facts(1000, 800, FileMode::Full), &policy));
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        for r in &reasons {
            assert!(r.contains("of the 1000 people in the register"), "{r}");
            assert!(!r.contains("125"), "{r}");
        }
        assert!(reasons[0].contains("1000 people ended (100.0 %"), "{}", reasons[0]);
    }

    #[test]
    fn a_mostly_rejected_file_is_held_even_on_a_first_load() {
        let policy = Policy::default();
        let counts = Counts { rows: 500, rejected: 500, ..Counts::default() };
        let reasons = held(&guard(&counts, facts(0, 0, FileMode::Full), &policy));
        assert_eq!(
            reasons,
            ["max_rejected_percent: 500 rows rejected (100.0 % of the 500 data rows of the file) exceeds 10 %"]
        );
    }

    #[test]
    fn an_absent_column_holds_only_a_register_that_has_values_to_lose() {
        let policy = Policy::default();
        let absent = [("end_date".to_owned(), "Slutdatum".to_owned())];
        let counts = Counts { rows: 10, unchanged: 10, ..Counts::default() };
        let f = Facts { people: 10, active: 10, mode: FileMode::Full, absent: &absent };
        let reasons = held(&guard(&counts, f, &policy));
        assert_eq!(reasons.len(), 1);
        assert!(reasons[0].starts_with("column `Slutdatum` (field `end_date`) is missing"), "{}", reasons[0]);
        assert_eq!(guard(&counts, Facts { people: 0, active: 0, ..f }, &policy), Verdict::Proceed);
    }
}
