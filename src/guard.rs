//! Guard: holds a run that would change too much of the register at once, for four-eyes release.

use crate::diff::Counts;
use crate::mapping::{FileMode, Policy};

/// What the guard decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Proceed,
    /// Reasons name the threshold crossed and the measured share, never a person.
    Held(Vec<String>),
}

/// Compares the run's counts with the policy's thresholds, as shares of the active register.
/// An empty register (the first load) cannot be held: there is nothing to lose.
pub fn guard(counts: &Counts, active: usize, mode: FileMode, policy: &Policy) -> Verdict {
    if active == 0 {
        return Verdict::Proceed;
    }
    let share = |n: u64| n as f64 * 100.0 / active as f64;
    let mut reasons = Vec::new();
    let mut check = |name: &str, n: u64, limit: f64| {
        let pct = share(n);
        if pct > limit {
            reasons.push(format!("{name}: {n} people ({pct:.1} % of the register) exceeds {limit} %"));
        }
    };
    if mode == FileMode::Full {
        check("max_missing_percent", counts.missing, policy.max_missing_percent);
    }
    check("max_ended_percent", counts.ended, policy.max_ended_percent);
    check("max_changed_percent", counts.changed, policy.max_changed_percent);
    if reasons.is_empty() { Verdict::Proceed } else { Verdict::Held(reasons) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_full_file_is_held() {
        let policy = Policy::default();
        let counts = Counts { missing: 60, ..Counts::default() };
        assert!(matches!(guard(&counts, 1000, FileMode::Full, &policy), Verdict::Held(r) if r.len() == 1));
        assert_eq!(guard(&counts, 1000, FileMode::Delta, &policy), Verdict::Proceed);
        let few = Counts { missing: 50, ..Counts::default() };
        assert_eq!(guard(&few, 1000, FileMode::Full, &policy), Verdict::Proceed);
        assert_eq!(guard(&counts, 0, FileMode::Full, &policy), Verdict::Proceed);
    }
}
