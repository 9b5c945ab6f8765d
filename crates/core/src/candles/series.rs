//! How newly fetched or streamed candles join a stored series without ever
//! leaving a hole: the one rule for `quantpro fetch`, the live loop's
//! backfill and repair, and its stream closes.
//!
//! A stored series is contiguous: every candle opens one interval after the
//! previous one. New closed candles extend it; one that repeats a stored
//! open time with other values is a revision (the exchange's final value is
//! kept and the change reported); one that would leave a hole is not
//! appended: the caller fetches the missing range first, or, when the
//! exchange no longer has it, restarts the series at the newest contiguous
//! run (`restart_after_gap`) and logs the gap.

use super::Candle;
use quantpro_model::Interval;

/// Candles that are missing between the stored series and new ones: open
/// times `from_ms ..= to_ms` (both on the interval grid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Gap {
    /// How many candles the gap lacks.
    pub fn candles(&self, interval: Interval) -> i64 {
        (self.to_ms - self.from_ms) / interval.millis() + 1
    }
}

/// A stored candle the exchange later sent with other values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Revision {
    pub stored: Candle,
    pub revised: Candle,
}

/// What `extend_series` did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extension {
    /// Candles appended at the end.
    pub added: usize,
    /// Stored candles replaced by the exchange's final value.
    pub revised: Vec<Revision>,
    /// The first hole the new candles would have left; nothing at or after
    /// it was appended.
    pub gap: Option<Gap>,
    /// New candles that were not on the interval grid, or were inside the
    /// stored range without a stored twin (a stored series has no holes, so
    /// this only happens with bad input): ignored.
    pub ignored: usize,
}

/// Adds the closed candles `incoming` (any order, duplicates allowed) to
/// the contiguous `series`. The caller has dropped unclosed candles.
pub fn extend_series(
    series: &mut Vec<Candle>,
    incoming: &[Candle],
    interval: Interval,
) -> Extension {
    let step = interval.millis();
    let mut incoming: Vec<Candle> = incoming.to_vec();
    incoming.sort_by_key(|c| c.t);
    incoming.dedup_by_key(|c| c.t);
    let mut out = Extension::default();
    for candle in incoming {
        if candle.t.rem_euclid(step) != 0 {
            out.ignored += 1;
            continue;
        }
        let Some(last) = series.last().copied() else {
            series.push(candle);
            out.added += 1;
            continue;
        };
        if candle.t > last.t {
            let expected = last.t + step;
            if candle.t != expected {
                out.gap = Some(Gap {
                    from_ms: expected,
                    to_ms: candle.t - step,
                });
                break;
            }
            series.push(candle);
            out.added += 1;
            continue;
        }
        let first = series[0].t;
        if candle.t < first {
            // Older than what is stored: backfill prepends with `prepend_history`.
            out.ignored += 1;
            continue;
        }
        let index = ((candle.t - first) / step) as usize;
        match series.get_mut(index) {
            Some(stored) if stored.t == candle.t => {
                if *stored != candle {
                    out.revised.push(Revision {
                        stored: *stored,
                        revised: candle,
                    });
                    *stored = candle;
                }
            }
            _ => out.ignored += 1,
        }
    }
    out
}

/// Puts older candles `history` (contiguous with each other, any order)
/// in front of `series` when they end exactly one interval before its first
/// candle; returns how many were added (0 when they do not join).
pub fn prepend_history(series: &mut Vec<Candle>, history: &[Candle], interval: Interval) -> usize {
    let step = interval.millis();
    let Some(first) = series.first().map(|c| c.t) else {
        let mut history = history.to_vec();
        history.sort_by_key(|c| c.t);
        history.dedup_by_key(|c| c.t);
        let run = newest_contiguous_run(&history, interval);
        series.extend_from_slice(run);
        return run.len();
    };
    let mut older: Vec<Candle> = history.iter().filter(|c| c.t < first).copied().collect();
    older.sort_by_key(|c| c.t);
    older.dedup_by_key(|c| c.t);
    let run = newest_contiguous_run(&older, interval);
    match run.last() {
        Some(last) if last.t + step == first => {
            let added = run.len();
            series.splice(0..0, run.iter().copied());
            added
        }
        _ => 0,
    }
}

/// The newest stretch of `candles` (sorted) without a hole.
pub fn newest_contiguous_run(candles: &[Candle], interval: Interval) -> &[Candle] {
    let step = interval.millis();
    let start = candles
        .windows(2)
        .rposition(|w| w[1].t - w[0].t != step)
        .map_or(0, |i| i + 1);
    &candles[start..]
}

/// The exchange no longer has the gap: the series restarts with the new
/// candles (their newest contiguous run), dropping the stored ones before
/// the gap. Returns the candles dropped.
pub fn restart_after_gap(
    series: &mut Vec<Candle>,
    incoming: &[Candle],
    interval: Interval,
) -> usize {
    let mut incoming: Vec<Candle> = incoming.to_vec();
    incoming.sort_by_key(|c| c.t);
    incoming.dedup_by_key(|c| c.t);
    let run = newest_contiguous_run(&incoming, interval).to_vec();
    let dropped = series.len();
    *series = run;
    dropped
}

/// Keeps at most `max` newest candles (a live series would grow forever).
pub fn trim_to(series: &mut Vec<Candle>, max: usize) {
    if series.len() > max {
        series.drain(..series.len() - max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 900_000;

    fn candle(i: i64, close: f64) -> Candle {
        Candle {
            t: i * M,
            o: 10.0,
            h: 12.0,
            l: 9.0,
            c: close,
            v: 1.0,
        }
    }

    fn times(series: &[Candle]) -> Vec<i64> {
        series.iter().map(|c| c.t / M).collect()
    }

    #[test]
    fn new_candles_extend_in_order_and_duplicates_are_ignored() {
        let mut series = vec![candle(0, 10.0), candle(1, 10.0)];
        let out = extend_series(
            &mut series,
            &[
                candle(3, 11.0),
                candle(2, 10.5),
                candle(2, 10.5),
                candle(1, 10.0),
            ],
            Interval::M15,
        );
        assert_eq!(times(&series), [0, 1, 2, 3]);
        assert_eq!((out.added, out.revised.len(), out.gap), (2, 0, None));
    }

    #[test]
    fn a_hole_is_never_stored() {
        let mut series = vec![candle(0, 10.0), candle(1, 10.0)];
        let out = extend_series(
            &mut series,
            &[candle(2, 1.0), candle(5, 1.0)],
            Interval::M15,
        );
        assert_eq!(times(&series), [0, 1, 2], "nothing after the hole");
        assert_eq!(
            out.gap,
            Some(Gap {
                from_ms: 3 * M,
                to_ms: 4 * M
            })
        );
        assert_eq!(out.gap.unwrap().candles(Interval::M15), 2);
        // The repair brings the missing range and the rest joins.
        let out = extend_series(
            &mut series,
            &[candle(3, 1.0), candle(4, 1.0), candle(5, 1.0)],
            Interval::M15,
        );
        assert_eq!(times(&series), [0, 1, 2, 3, 4, 5]);
        assert_eq!(out.gap, None);
    }

    #[test]
    fn a_revised_candle_keeps_the_exchange_value_and_is_reported() {
        let mut series = vec![candle(0, 10.0), candle(1, 10.0), candle(2, 10.0)];
        let out = extend_series(&mut series, &[candle(1, 10.7)], Interval::M15);
        assert_eq!(series[1].c, 10.7);
        assert_eq!(out.revised.len(), 1);
        assert_eq!(
            (out.revised[0].stored.c, out.revised[0].revised.c),
            (10.0, 10.7)
        );
        assert_eq!(out.added, 0);
    }

    #[test]
    fn off_grid_and_older_candles_are_ignored() {
        let mut series = vec![candle(5, 10.0)];
        let mut odd = candle(6, 1.0);
        odd.t += 1;
        let out = extend_series(&mut series, &[odd, candle(2, 1.0)], Interval::M15);
        assert_eq!((out.ignored, series.len()), (2, 1));
    }

    #[test]
    fn history_joins_only_when_contiguous_and_a_restart_keeps_the_newest_run() {
        let mut series = vec![candle(10, 1.0), candle(11, 1.0)];
        assert_eq!(
            prepend_history(
                &mut series,
                &[candle(7, 1.0), candle(8, 1.0)],
                Interval::M15
            ),
            0
        );
        assert_eq!(
            prepend_history(
                &mut series,
                &[candle(3, 1.0), candle(8, 1.0), candle(9, 1.0)],
                Interval::M15
            ),
            2
        );
        assert_eq!(times(&series), [8, 9, 10, 11]);
        let dropped = restart_after_gap(
            &mut series,
            &[candle(20, 1.0), candle(15, 1.0), candle(21, 1.0)],
            Interval::M15,
        );
        assert_eq!((dropped, times(&series)), (4, vec![20, 21]));
        trim_to(&mut series, 1);
        assert_eq!(times(&series), [21]);
    }
}
