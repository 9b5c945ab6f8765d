//! Average true range, TA-Lib's ATR (STRATEGIES.md §1).
//!
//! TR_i = max(h_i - l_i, |h_i - c_{i-1}|, |l_i - c_{i-1}|) from index 1; the
//! seed is the mean of TR_1..TR_n (first defined index n), then Wilder's
//! smoothing. The trade setup sizes stops and targets in ATRs.

use super::{defined, true_range, Wilder};

/// Streaming ATR: feed bars oldest first with [`AtrState::next`].
#[derive(Debug, Clone)]
pub struct AtrState {
    period: usize,
    wilder: Wilder,
    bars: usize,
    prev_close: f64,
    value: f64,
    poisoned: bool,
}

impl AtrState {
    /// A period of 0 gives an ATR that is never defined.
    pub fn new(period: usize) -> Self {
        Self {
            period,
            wilder: Wilder::new(period),
            bars: 0,
            prev_close: 0.0,
            value: 0.0,
            poisoned: false,
        }
    }

    /// Takes the next bar; returns the ATR at it, `None` before index `period`.
    #[inline]
    pub fn next(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        self.poisoned |= !(high.is_finite() && low.is_finite() && close.is_finite());
        if self.poisoned || self.period == 0 {
            return None;
        }
        self.bars += 1;
        let tr = true_range(high, low, self.prev_close);
        self.prev_close = close;
        let ranges = self.bars - 1;
        if ranges == 0 {
            return None;
        }
        if ranges < self.period {
            // `value` holds the running sum until the seed.
            self.value += tr;
            return None;
        }
        self.value = if ranges == self.period {
            self.wilder.mean(self.value + tr)
        } else {
            self.wilder.average(self.value, tr)
        };
        defined(self.value)
    }
}

/// ATR over `period`; `None` before index `period`. With slices of different
/// lengths the output has the shortest one's length.
pub fn atr(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Vec<Option<f64>> {
    let mut state = AtrState::new(period);
    high.iter()
        .zip(low)
        .zip(close)
        .map(|((&h, &l), &c)| state.next(h, l, c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::talib_reference::check_against_talib;

    #[test]
    fn hand_computed_period_two() {
        let h = [10.0, 11.0, 12.0, 11.0];
        let l = [9.0, 10.0, 10.5, 8.0];
        let c = [9.5, 10.5, 11.0, 9.0];
        // TR: -, max(1, 1.5, 0.5) = 1.5, max(1.5, 1.5, 0) = 1.5, max(3, 0, 3) = 3
        let out = atr(&h, &l, &c, 2);
        assert_eq!(out, vec![None, None, Some(1.5), Some((1.5 + 3.0) / 2.0)]);
    }

    #[test]
    fn mismatched_lengths_use_the_shortest() {
        let out = atr(&[2.0; 20], &[1.0; 18], &[1.5; 25], 14);
        assert_eq!(out.len(), 18);
        assert_eq!(out[14], Some(1.0));
    }

    #[test]
    fn nan_low_ends_the_series() {
        let mut l = [1.0; 20];
        l[16] = f64::NAN;
        let out = atr(&[2.0; 20], &l, &[1.5; 20], 14);
        assert_eq!(out[14..16], [Some(1.0), Some(1.0)]);
        assert!(out[16..].iter().all(Option::is_none));
    }

    #[test]
    fn equals_talib() {
        check_against_talib("atr", |s, n| atr(s.high, s.low, s.close, n));
    }
}
