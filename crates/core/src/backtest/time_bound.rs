//! The `--from` / `--to` times of a backtest: Unix milliseconds
//! (`1722470400000`) or an RFC 3339 time (`2024-08-01T00:00:00Z`,
//! `2024-08-01T02:00:00+02:00`) or date (`2024-08-01`, midnight UTC).

use chrono::{DateTime, NaiveDate};

/// A time the command line could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeBoundError {
    #[error("'{0}' is not a time: give Unix milliseconds (1722470400000) or an RFC 3339 date (2024-08-01 or 2024-08-01T00:00:00Z)")]
    Unparsable(String),
    #[error("'{0}' looks like Unix seconds: give milliseconds ({0}000)")]
    Seconds(String),
}

/// Unix milliseconds before this (1973-03-03) are taken for a mistake:
/// Unix seconds of any recent date are below it too.
const EARLIEST_MS: i64 = 100_000_000_000;

/// Parses a time bound into Unix milliseconds (UTC).
pub fn parse_time_ms(text: &str) -> Result<i64, TimeBoundError> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        if ms.abs() < EARLIEST_MS {
            return Err(TimeBoundError::Seconds(text.to_string()));
        }
        return Ok(ms);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc().timestamp_millis())
        .ok_or_else(|| TimeBoundError::Unparsable(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_rfc3339_times_and_dates() {
        assert_eq!(parse_time_ms("1722470400000"), Ok(1_722_470_400_000));
        assert_eq!(parse_time_ms("2024-08-01"), Ok(1_722_470_400_000));
        assert_eq!(parse_time_ms("2024-08-01T00:00:00Z"), Ok(1_722_470_400_000));
        assert_eq!(
            parse_time_ms(" 2024-08-01T02:15:00+02:00 "),
            Ok(1_722_470_400_000 + 15 * 60_000)
        );
    }

    #[test]
    fn seconds_and_nonsense_are_refused_with_a_hint() {
        assert_eq!(
            parse_time_ms("1722470400").unwrap_err().to_string(),
            "'1722470400' looks like Unix seconds: give milliseconds (1722470400000)"
        );
        let err = parse_time_ms("yesterday").unwrap_err().to_string();
        assert!(err.starts_with("'yesterday' is not a time"), "{err}");
        assert!(parse_time_ms("2024-13-01").is_err());
        assert!(
            parse_time_ms("2024-08-01T00:00:00").is_err(),
            "RFC 3339 needs a zone"
        );
    }
}
