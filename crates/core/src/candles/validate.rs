//! Candle series validation, and the time rule applied after it: only
//! closed candles are used (staleness is `model::Staleness`).
//!
//! A file that fails validation is skipped by the scan with the reason
//! given here, so every message names the candle and what is wrong with it.

use super::Candle;
use quantpro_model::Interval;

/// The first problem found in a candle series.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    #[error("the file holds no candles")]
    Empty,
    #[error("candle #{index} has time {t}, which repeats the previous candle's time")]
    DuplicateTime { index: usize, t: i64 },
    #[error("candle #{index} has time {t}, earlier than the previous candle's {previous} (candles must be oldest first)")]
    Unsorted { index: usize, t: i64, previous: i64 },
    #[error("candle #{index} (t={t}): {field} must be a finite positive number, found {value}")]
    BadPrice {
        index: usize,
        t: i64,
        field: &'static str,
        value: f64,
    },
    #[error("candle #{index} (t={t}): high {high} is below max(open, close) {body}")]
    HighBelowBody {
        index: usize,
        t: i64,
        high: f64,
        body: f64,
    },
    #[error("candle #{index} (t={t}): low {low} is above min(open, close) {body}")]
    LowAboveBody {
        index: usize,
        t: i64,
        low: f64,
        body: f64,
    },
    #[error("candle #{index} (t={t}): volume must be a finite number >= 0, found {value}")]
    BadVolume { index: usize, t: i64, value: f64 },
}

/// Checks times strictly increasing, prices finite and positive, the high and
/// low enclosing open and close, and volume finite and non-negative.
pub fn validate_candles(candles: &[Candle]) -> Result<(), ValidationError> {
    if candles.is_empty() {
        return Err(ValidationError::Empty);
    }
    let mut previous: Option<i64> = None;
    for (index, c) in candles.iter().enumerate() {
        if let Some(previous) = previous {
            if c.t == previous {
                return Err(ValidationError::DuplicateTime { index, t: c.t });
            }
            if c.t < previous {
                return Err(ValidationError::Unsorted {
                    index,
                    t: c.t,
                    previous,
                });
            }
        }
        previous = Some(c.t);
        check_candle(index, c)?;
    }
    Ok(())
}

fn check_candle(index: usize, c: &Candle) -> Result<(), ValidationError> {
    let t = c.t;
    for (field, value) in [("open", c.o), ("high", c.h), ("low", c.l), ("close", c.c)] {
        if !(value.is_finite() && value > 0.0) {
            return Err(ValidationError::BadPrice {
                index,
                t,
                field,
                value,
            });
        }
    }
    let body_high = c.o.max(c.c);
    if c.h < body_high {
        return Err(ValidationError::HighBelowBody {
            index,
            t,
            high: c.h,
            body: body_high,
        });
    }
    let body_low = c.o.min(c.c);
    if c.l > body_low {
        return Err(ValidationError::LowAboveBody {
            index,
            t,
            low: c.l,
            body: body_low,
        });
    }
    if !(c.v.is_finite() && c.v >= 0.0) {
        return Err(ValidationError::BadVolume {
            index,
            t,
            value: c.v,
        });
    }
    Ok(())
}

/// Whether a candle of `interval` has closed at `now_ms` (its open time plus
/// the interval is not in the future).
pub fn is_closed(candle: &Candle, interval: Interval, now_ms: i64) -> bool {
    candle.t.saturating_add(interval.millis()) <= now_ms
}

/// Drops the candles that have not closed at `now_ms` (open time + interval
/// in the future): an open candle's close, high and volume are still moving.
/// Returns how many were dropped. Needs the series sorted.
pub fn drop_unclosed(candles: &mut Vec<Candle>, interval: Interval, now_ms: i64) -> usize {
    let closed = candles.partition_point(|c| is_closed(c, interval, now_ms));
    let dropped = candles.len() - closed;
    candles.truncate(closed);
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(t: i64) -> Candle {
        Candle {
            t,
            o: 10.0,
            h: 12.0,
            l: 9.0,
            c: 11.0,
            v: 5.0,
        }
    }

    #[test]
    fn a_good_series_passes() {
        assert_eq!(
            validate_candles(&[candle(0), candle(900_000), candle(1_800_000)]),
            Ok(())
        );
        let flat = Candle {
            t: 0,
            o: 1.0,
            h: 1.0,
            l: 1.0,
            c: 1.0,
            v: 0.0,
        };
        assert_eq!(
            validate_candles(&[flat]),
            Ok(()),
            "a flat zero-volume candle is valid"
        );
    }

    #[test]
    fn every_failure_names_the_candle_and_reason() {
        let with = |f: fn(&mut Candle)| {
            let mut series = vec![candle(0), candle(1000)];
            f(&mut series[1]);
            validate_candles(&series).unwrap_err().to_string()
        };
        assert_eq!(
            validate_candles(&[]).unwrap_err().to_string(),
            "the file holds no candles"
        );
        assert_eq!(
            with(|c| c.t = 0),
            "candle #1 has time 0, which repeats the previous candle's time"
        );
        assert_eq!(with(|c| c.t = -5), "candle #1 has time -5, earlier than the previous candle's 0 (candles must be oldest first)");
        assert_eq!(
            with(|c| c.o = f64::NAN),
            "candle #1 (t=1000): open must be a finite positive number, found NaN"
        );
        assert_eq!(
            with(|c| c.l = 0.0),
            "candle #1 (t=1000): low must be a finite positive number, found 0"
        );
        assert_eq!(
            with(|c| c.c = -1.0),
            "candle #1 (t=1000): close must be a finite positive number, found -1"
        );
        assert_eq!(
            with(|c| c.h = f64::INFINITY),
            "candle #1 (t=1000): high must be a finite positive number, found inf"
        );
        assert_eq!(
            with(|c| c.h = 10.5),
            "candle #1 (t=1000): high 10.5 is below max(open, close) 11"
        );
        assert_eq!(
            with(|c| c.l = 10.5),
            "candle #1 (t=1000): low 10.5 is above min(open, close) 10"
        );
        assert_eq!(
            with(|c| c.v = -0.1),
            "candle #1 (t=1000): volume must be a finite number >= 0, found -0.1"
        );
        assert_eq!(
            with(|c| c.v = f64::NAN),
            "candle #1 (t=1000): volume must be a finite number >= 0, found NaN"
        );
    }

    #[test]
    fn unclosed_candles_are_dropped() {
        let m = Interval::M15.millis();
        let mut series: Vec<Candle> = (0..4).map(|i| candle(i * m)).collect();
        // At 3m + 1 ms the candle opened at 3m is still open; the one opened at 2m closed at 3m.
        assert_eq!(drop_unclosed(&mut series, Interval::M15, 3 * m + 1), 1);
        assert_eq!(series.last().unwrap().t, 2 * m);
        assert_eq!(
            drop_unclosed(&mut series, Interval::M15, 3 * m),
            0,
            "closing exactly now counts as closed"
        );
        assert_eq!(drop_unclosed(&mut series, Interval::M15, 0), 3);
        assert!(series.is_empty());
    }
}
