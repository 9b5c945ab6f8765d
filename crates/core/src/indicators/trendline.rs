//! RSI trendlines and their breaks (STRATEGIES.md §1): the resistance line
//! through two falling pivot highs, the support line through two rising
//! pivot lows. A break of the resistance line is the breakout the
//! strategies trade; the line is drawn in the dashboard's RSI chart.
//!
//! Resistance: among the pivot highs inside the last `lookback` candles, P2
//! is the newest; P1 is the highest earlier one with RSI above P2's such
//! that no RSI value strictly between them exceeds the line P1-P2 by more
//! than `tolerance` (on equal heights the older pivot wins). The line is
//! broken when, within the last `break_window` candles, some k has RSI_k
//! above the line and RSI_{k-1} at or below it, and the last RSI is still
//! above the line; `break_index` is the newest such k. Support mirrors all of
//! it. Both are computed by one routine on `sign * RSI` (see [`Extreme`]).

use super::pivots::{pivots_from, Extreme, Pivot};
use quantpro_model::RsiTrendline;

/// Trendline settings (STRATEGIES.md defaults: 3, 100, 0.5, 3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendlineParams {
    /// Neighbours on each side a pivot must beat.
    pub pivot_span: usize,
    /// Only pivots inside the newest `lookback` candles count.
    pub lookback: usize,
    /// RSI points the series may poke through the line between P1 and P2.
    pub tolerance: f64,
    /// A crossing counts as a break only within the newest `break_window` candles.
    pub break_window: usize,
}

impl Default for TrendlineParams {
    fn default() -> Self {
        Self {
            pivot_span: 3,
            lookback: 100,
            tolerance: 0.5,
            break_window: 3,
        }
    }
}

/// The descending line through pivot highs, if there is one.
pub fn resistance_trendline(rsi: &[Option<f64>], params: &TrendlineParams) -> Option<RsiTrendline> {
    trendline(rsi, params, Extreme::High)
}

/// The ascending line through pivot lows, if there is one.
pub fn support_trendline(rsi: &[Option<f64>], params: &TrendlineParams) -> Option<RsiTrendline> {
    trendline(rsi, params, Extreme::Low)
}

/// A line through two pivots, evaluated in "oriented" RSI (`sign * RSI`),
/// where both kinds of line are resistance lines.
struct Line {
    p1: Pivot,
    p2: Pivot,
}

impl Line {
    /// STRATEGIES.md's formula, `P1 + (P2 - P1) * (x - i1) / (i2 - i1)`.
    fn at(&self, x: usize) -> f64 {
        let run = (self.p2.index - self.p1.index) as f64;
        self.p1.rsi + (self.p2.rsi - self.p1.rsi) * (x as f64 - self.p1.index as f64) / run
    }

    /// No value strictly between the pivots rises above the line by more
    /// than `tolerance`.
    fn is_clear(&self, oriented: impl Fn(usize) -> Option<f64>, tolerance: f64) -> bool {
        (self.p1.index + 1..self.p2.index)
            .all(|j| oriented(j).is_none_or(|v| v <= self.at(j) + tolerance))
    }
}

fn trendline(
    rsi: &[Option<f64>],
    params: &TrendlineParams,
    extreme: Extreme,
) -> Option<RsiTrendline> {
    let sign = extreme.sign();
    let oriented = |i: usize| rsi[i].filter(|v| v.is_finite()).map(|v| sign * v);
    let from = rsi.len().saturating_sub(params.lookback);
    let pivots: Vec<Pivot> = pivots_from(rsi, params.pivot_span, from, extreme)
        .into_iter()
        .map(|p| Pivot {
            index: p.index,
            rsi: sign * p.rsi,
        })
        .collect();
    let (&p2, earlier) = pivots.split_last()?;

    let mut best: Option<Line> = None;
    for &p1 in earlier {
        let higher_than_best = best.as_ref().is_none_or(|b| p1.rsi > b.p1.rsi);
        if p1.rsi > p2.rsi && higher_than_best {
            let line = Line { p1, p2 };
            if line.is_clear(oriented, params.tolerance) {
                best = Some(line);
            }
        }
    }
    let line = best?;

    let last = rsi.len() - 1;
    let above = |k: usize| oriented(k).is_some_and(|v| v > line.at(k));
    let at_or_below = |k: usize| oriented(k).is_some_and(|v| v <= line.at(k));
    let window_start = rsi.len().saturating_sub(params.break_window).max(1);
    let break_index = if above(last) {
        (window_start..=last)
            .rev()
            .find(|&k| above(k) && at_or_below(k - 1))
    } else {
        None
    };

    let (start_rsi, end_rsi) = (sign * line.p1.rsi, sign * line.p2.rsi);
    Some(RsiTrendline {
        start_index: line.p1.index,
        start_rsi,
        end_index: line.p2.index,
        end_rsi,
        slope: (end_rsi - start_rsi) / (line.p2.index - line.p1.index) as f64,
        value_now: sign * line.at(last),
        broken: break_index.is_some(),
        break_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().map(|&v| Some(v)).collect()
    }

    fn params(pivot_span: usize, lookback: usize) -> TrendlineParams {
        TrendlineParams {
            pivot_span,
            lookback,
            tolerance: 0.5,
            break_window: 3,
        }
    }

    /// Pivot highs (span 2) at 2 (70), 6 (60) and 10 (50): a falling line
    /// of slope -2.5 per candle. The tail is set by each test.
    fn falling_highs(tail: &[f64]) -> Vec<Option<f64>> {
        let mut v = vec![
            40.0, 45.0, 70.0, 50.0, 45.0, 48.0, 60.0, 48.0, 44.0, 46.0, 50.0, 44.0, 42.0,
        ];
        v.extend_from_slice(tail);
        series(&v)
    }

    #[test]
    fn resistance_without_break() {
        // line at 13..15: 42.5, 40, 37.5; RSI stays below
        let rsi = falling_highs(&[40.0, 38.0, 36.0]);
        let line = resistance_trendline(&rsi, &params(2, 100)).unwrap();
        // P2 = 10 (50). P1 = the highest earlier pivot whose line stays clear: 2 (70).
        // Line 2->10: at 6 it is 60, the pivot at 6 is exactly on it (not above).
        assert_eq!(
            (
                line.start_index,
                line.start_rsi,
                line.end_index,
                line.end_rsi
            ),
            (2, 70.0, 10, 50.0)
        );
        assert_eq!(line.slope, -2.5);
        assert_eq!(line.value_now, 70.0 - 2.5 * 13.0);
        assert!(!line.broken);
        assert_eq!(line.break_index, None);
    }

    #[test]
    fn resistance_break_in_the_window() {
        // line at 13, 14, 15: 42.5, 40, 37.5; RSI 41 (below), 45 (cross), 47 (still above)
        let rsi = falling_highs(&[41.0, 45.0, 47.0]);
        let line = resistance_trendline(&rsi, &params(2, 100)).unwrap();
        assert!(line.broken);
        assert_eq!(line.break_index, Some(14));
    }

    #[test]
    fn crossing_back_below_is_not_a_break() {
        let rsi = falling_highs(&[41.0, 45.0, 30.0]);
        let line = resistance_trendline(&rsi, &params(2, 100)).unwrap();
        assert!(!line.broken);
        assert_eq!(line.break_index, None);
    }

    #[test]
    fn crossing_before_the_window_is_not_a_break() {
        // cross at 13 (43 > 42.5 after 42 <= 45 at 12), then above until 17: window is 15..17
        let rsi = falling_highs(&[43.0, 44.0, 45.0, 46.0, 47.0]);
        let line = resistance_trendline(&rsi, &params(2, 100)).unwrap();
        assert!(!line.broken);
    }

    #[test]
    fn p1_is_the_highest_pivot_whose_line_stays_clear() {
        // Pivots (span 2): 2 (90), 6 (80), 10 (50). Line 2->10 at 6 is 70: pivot 6 pokes
        // 10 points above it, so 2 is rejected; 6 -> 10 is the line.
        let mut v = falling_highs(&[40.0, 38.0, 36.0]);
        v[2] = Some(90.0);
        v[6] = Some(80.0);
        let line = resistance_trendline(&v, &params(2, 100)).unwrap();
        assert_eq!((line.start_index, line.end_index), (6, 10));
        assert_eq!(line.slope, -7.5);
        // Within tolerance (70.4 vs 70 + 0.5) the higher pivot wins again.
        v[6] = Some(70.4);
        let line = resistance_trendline(&v, &params(2, 100)).unwrap();
        assert_eq!(line.start_index, 2);
    }

    #[test]
    fn no_line_without_a_higher_earlier_pivot_or_outside_the_lookback() {
        // Rising pivot highs: no P1 above P2.
        let rsi = series(&[40.0, 45.0, 50.0, 45.0, 40.0, 48.0, 60.0, 48.0, 44.0, 40.0]);
        assert_eq!(resistance_trendline(&rsi, &params(2, 100)), None);
        // Lookback 10 of 16 candles starts at index 6: pivot 2 is outside, only 6 and 10 remain.
        let rsi = falling_highs(&[40.0, 38.0, 36.0]);
        let line = resistance_trendline(&rsi, &params(2, 10)).unwrap();
        assert_eq!((line.start_index, line.end_index), (6, 10));
        assert_eq!(resistance_trendline(&rsi, &params(2, 9)), None);
        assert_eq!(resistance_trendline(&[], &TrendlineParams::default()), None);
    }

    #[test]
    fn support_mirrors_resistance() {
        // Mirror of falling_highs around 50: pivot lows 30, 40, 50, rising; then a fall through.
        let rsi: Vec<Option<f64>> = falling_highs(&[41.0, 45.0, 47.0])
            .iter()
            .map(|v| v.map(|x| 100.0 - x))
            .collect();
        let line = support_trendline(&rsi, &params(2, 100)).unwrap();
        assert_eq!(
            (
                line.start_index,
                line.start_rsi,
                line.end_index,
                line.end_rsi
            ),
            (2, 30.0, 10, 50.0)
        );
        assert_eq!(line.slope, 2.5);
        assert_eq!(line.value_now, 30.0 + 2.5 * 13.0);
        // line at 13, 14, 15: 57.5, 60, 62.5; RSI 59 (above), 55 (cross below), 53
        assert!(line.broken);
        assert_eq!(line.break_index, Some(14));
        assert_eq!(resistance_trendline(&rsi, &params(2, 100)), None);
    }

    #[test]
    fn default_parameters_follow_the_spec() {
        assert_eq!(
            TrendlineParams::default(),
            TrendlineParams {
                pivot_span: 3,
                lookback: 100,
                tolerance: 0.5,
                break_window: 3
            }
        );
    }
}
