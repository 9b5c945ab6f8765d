//! When candle data is stale: its last candle opened more than
//! `data.stale_intervals` intervals ago. A live series' last closed candle is
//! between one and two intervals old, so the default of 2 flags a series that
//! missed an update. One rule for the scan (which sets `ltf.stale`) and for
//! the dashboard (whose rows turn stale while the page stays open).

use super::config::DataConfig;
use super::enums::Interval;

/// How long after its open a series' last candle stops being current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staleness {
    pub after_ms: i64,
}

impl Staleness {
    pub fn new(interval: Interval, max_intervals: usize) -> Staleness {
        Staleness {
            after_ms: interval.millis().saturating_mul(max_intervals as i64),
        }
    }

    /// The LTF (15m) rule of a configuration.
    pub fn ltf(data: &DataConfig) -> Staleness {
        Staleness::new(Interval::M15, data.stale_intervals)
    }

    /// True when a last candle opened at `last_open_ms` is stale at `now_ms`.
    pub fn is_stale(self, last_open_ms: i64, now_ms: i64) -> bool {
        now_ms.saturating_sub(last_open_ms) > self.after_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_after_the_configured_number_of_intervals() {
        let h4 = Interval::H4.millis();
        let rule = Staleness::new(Interval::H4, 2);
        assert!(!rule.is_stale(0, 2 * h4));
        assert!(rule.is_stale(0, 2 * h4 + 1));
        let m15 = Staleness::ltf(&DataConfig::default());
        assert!(!m15.is_stale(0, Interval::M15.millis()));
        assert!(m15.is_stale(0, 3 * Interval::M15.millis()));
    }
}
