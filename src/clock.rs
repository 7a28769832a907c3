//! Clock: the one place that reads the time, so steps take "now" as a value and tests can fix it.

use chrono::{DateTime, NaiveDate, Utc};

/// Where "now" comes from. `--now` (or `HRFEED_NOW`) pins it for tests and replays.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// Parses an RFC 3339 timestamp or a plain `YYYY-MM-DD` (midnight UTC) into a fixed clock.
    pub fn fixed_from_str(s: &str) -> Option<Clock> {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(Clock::Fixed(t.with_timezone(&Utc)));
        }
        let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        Some(Clock::Fixed(day.and_hms_opt(0, 0, 0)?.and_utc()))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}
