//! RSI pivots (STRATEGIES.md §1): local extremes of the RSI that the
//! trendlines are drawn through.
//!
//! Index i is a pivot high when RSI_i is strictly greater than every RSI_j
//! with 0 < |i-j| <= span; a pivot low likewise with "less". All those
//! neighbours must be defined, so the first and newest `span` candles hold
//! no pivot. A span of 0 makes every defined value a pivot.

/// An RSI pivot: its index into the series and the RSI there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pivot {
    pub index: usize,
    pub rsi: f64,
}

/// Which extreme a pivot (or a trendline) is about. `sign` maps lows onto
/// highs: a pivot low of RSI is a pivot high of -RSI, and negation is exact
/// in floating point, so one code path serves both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Extreme {
    High,
    Low,
}

impl Extreme {
    pub(super) fn sign(self) -> f64 {
        match self {
            Extreme::High => 1.0,
            Extreme::Low => -1.0,
        }
    }
}

/// Whether index `i` is a pivot of the given kind.
pub(super) fn is_pivot(rsi: &[Option<f64>], i: usize, span: usize, extreme: Extreme) -> bool {
    if i < span || i + span >= rsi.len() {
        return false;
    }
    let Some(centre) = rsi[i].filter(|v| v.is_finite()) else {
        return false;
    };
    let s = extreme.sign();
    (i - span..=i + span)
        .filter(|&j| j != i)
        .all(|j| matches!(rsi[j], Some(v) if s * centre > s * v))
}

/// Pivots of one kind with index >= `from`, oldest first.
pub(super) fn pivots_from(
    rsi: &[Option<f64>],
    span: usize,
    from: usize,
    extreme: Extreme,
) -> Vec<Pivot> {
    (from..rsi.len())
        .filter(|&i| is_pivot(rsi, i, span, extreme))
        .filter_map(|i| rsi[i].map(|v| Pivot { index: i, rsi: v }))
        .collect()
}

/// Pivot highs of the RSI, oldest first.
pub fn pivot_highs(rsi: &[Option<f64>], span: usize) -> Vec<Pivot> {
    pivots_from(rsi, span, 0, Extreme::High)
}

/// Pivot lows of the RSI, oldest first.
pub fn pivot_lows(rsi: &[Option<f64>], span: usize) -> Vec<Pivot> {
    pivots_from(rsi, span, 0, Extreme::Low)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().map(|&v| Some(v)).collect()
    }

    #[test]
    fn finds_strict_highs_and_lows_with_span_two() {
        //                  0     1     2     3     4     5     6     7     8     9
        let rsi = series(&[50.0, 55.0, 70.0, 60.0, 40.0, 30.0, 45.0, 65.0, 64.0, 63.0]);
        assert_eq!(
            pivot_highs(&rsi, 2),
            vec![
                Pivot {
                    index: 2,
                    rsi: 70.0
                },
                Pivot {
                    index: 7,
                    rsi: 65.0
                }
            ]
        );
        assert_eq!(
            pivot_lows(&rsi, 2),
            vec![Pivot {
                index: 5,
                rsi: 30.0
            }]
        );
        // With span 3, index 2 lacks a third left-hand neighbour, index 7 a third right-hand one.
        assert!(pivot_highs(&rsi, 3).is_empty());
    }

    #[test]
    fn equal_neighbour_is_not_a_pivot() {
        let rsi = series(&[40.0, 50.0, 60.0, 60.0, 50.0, 40.0, 30.0]);
        assert!(pivot_highs(&rsi, 2).is_empty());
    }

    #[test]
    fn newest_span_candles_hold_no_pivot() {
        let rsi = series(&[10.0, 20.0, 30.0, 40.0, 90.0, 50.0, 40.0]);
        assert!(pivot_highs(&rsi, 3).is_empty());
        assert_eq!(
            pivot_highs(&rsi, 2),
            vec![Pivot {
                index: 4,
                rsi: 90.0
            }]
        );
    }

    #[test]
    fn undefined_neighbours_prevent_a_pivot() {
        let rsi = vec![
            None,
            None,
            Some(80.0),
            Some(50.0),
            Some(40.0),
            Some(45.0),
            Some(49.0),
        ];
        assert!(pivot_highs(&rsi, 2).is_empty());
        assert_eq!(
            pivot_lows(&rsi, 2),
            vec![Pivot {
                index: 4,
                rsi: 40.0
            }]
        );
    }

    #[test]
    fn empty_and_short_series_have_no_pivots() {
        assert!(pivot_highs(&[], 3).is_empty());
        assert!(pivot_lows(&series(&[1.0, 2.0, 1.0]), 3).is_empty());
    }
}
