//! Relative strength index, TA-Lib's RSI (STRATEGIES.md §1).
//!
//! Seed: simple means of the first `period` gains and losses (first defined
//! index `period`); then Wilder's smoothing `avg = (prev*(n-1) + cur)/n`.
//! RSI = 100*g/(g+l), and 0 when g+l is 0 (TA-Lib 0.8 tests exactly 0, so a
//! coin quoted at 1e-7 keeps its RSI). The RSI series feeds the pivots,
//! trendlines and Cardwell range of the strategies.

use super::{defined, Wilder};

/// Streaming RSI: feed closes oldest first with [`RsiState::next`].
#[derive(Debug, Clone)]
pub struct RsiState {
    period: usize,
    wilder: Wilder,
    closes: usize,
    prev_close: f64,
    gain: f64,
    loss: f64,
    poisoned: bool,
}

impl RsiState {
    /// A period of 0 gives an RSI that is never defined.
    pub fn new(period: usize) -> Self {
        Self {
            period,
            wilder: Wilder::new(period),
            closes: 0,
            prev_close: 0.0,
            gain: 0.0,
            loss: 0.0,
            poisoned: false,
        }
    }

    /// Takes the next close; returns the RSI at it, `None` before index `period`.
    #[inline]
    pub fn next(&mut self, close: f64) -> Option<f64> {
        self.poisoned |= !close.is_finite();
        if self.poisoned || self.period == 0 {
            return None;
        }
        self.closes += 1;
        let change = close - self.prev_close;
        self.prev_close = close;
        let changes = self.closes - 1;
        if changes == 0 {
            return None;
        }
        // Selects rather than one if/else: the sign of a change is random.
        let gain = if change > 0.0 { change } else { 0.0 };
        let loss = if change < 0.0 { -change } else { 0.0 };
        if changes < self.period {
            self.gain += gain;
            self.loss += loss;
            return None;
        }
        if changes == self.period {
            self.gain = self.wilder.mean(self.gain + gain);
            self.loss = self.wilder.mean(self.loss + loss);
        } else {
            self.gain = self.wilder.average(self.gain, gain);
            self.loss = self.wilder.average(self.loss, loss);
        }
        let total = self.gain + self.loss;
        if total == 0.0 {
            return Some(0.0);
        }
        defined(100.0 * (self.gain / total))
    }
}

/// RSI of `closes` over `period`; `None` before index `period`.
pub fn rsi(closes: &[f64], period: usize) -> Vec<Option<f64>> {
    let mut state = RsiState::new(period);
    closes.iter().map(|&c| state.next(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::talib_reference::check_against_talib;

    #[test]
    fn hand_computed_period_two() {
        // changes +2, -1, +3: seed g = 1, l = 0.5 -> 66.67; then
        // g = (1*1 + 3)/2 = 2, l = (0.5*1 + 0)/2 = 0.25 -> 100*2/2.25
        let out = rsi(&[10.0, 12.0, 11.0, 14.0], 2);
        assert_eq!(out[..2], [None, None]);
        assert!((out[2].unwrap() - 100.0 * 1.0 / 1.5).abs() < 1e-12);
        assert!((out[3].unwrap() - 100.0 * 2.0 / 2.25).abs() < 1e-12);
    }

    #[test]
    fn flat_closes_give_zero_not_nan() {
        let out = rsi(&[5.0; 20], 14);
        assert!(out[..14].iter().all(Option::is_none));
        assert!(out[14..].iter().all(|v| *v == Some(0.0)));
    }

    #[test]
    fn shorter_than_period_plus_one_is_all_undefined() {
        assert!(rsi(&[1.0; 14], 14).iter().all(Option::is_none));
        assert!(rsi(&[1.0, 2.0, 3.0], 0).iter().all(Option::is_none));
    }

    #[test]
    fn infinite_input_ends_the_series() {
        let mut closes: Vec<f64> = (0..30).map(|i| 100.0 + (i % 3) as f64).collect();
        let clean = rsi(&closes, 14);
        closes[20] = f64::INFINITY;
        let out = rsi(&closes, 14);
        assert_eq!(out[..20], clean[..20]);
        assert!(out[20..].iter().all(Option::is_none));
    }

    #[test]
    fn equals_talib() {
        check_against_talib("rsi", |s, n| rsi(s.close, n));
    }
}
