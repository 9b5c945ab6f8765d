//! Exponential moving average, TA-Lib's EMA (STRATEGIES.md §1).
//!
//! Seeded with the simple mean of the first `period` values (first defined
//! index `period - 1`), then `ema = (x - prev) * k + prev` with
//! `k = 2 / (period + 1)`. The scanner uses EMA20/50/200 for trend context;
//! the HTF summary uses EMA50/200 of the 4h closes.

use super::defined;

/// Streaming EMA: feed values oldest first with [`EmaState::next`].
#[derive(Debug, Clone)]
pub struct EmaState {
    period: usize,
    k: f64,
    seen: usize,
    sum: f64,
    value: f64,
    seeded: bool,
    poisoned: bool,
}

impl EmaState {
    /// A period of 0 gives an EMA that is never defined.
    pub fn new(period: usize) -> Self {
        Self {
            period,
            k: 2.0 / (period as f64 + 1.0),
            seen: 0,
            sum: 0.0,
            value: 0.0,
            seeded: false,
            poisoned: false,
        }
    }

    /// Takes the next value; returns the EMA at it, `None` before the seed.
    #[inline]
    pub fn next(&mut self, x: f64) -> Option<f64> {
        self.poisoned |= !x.is_finite();
        if self.poisoned {
            return None;
        }
        if self.seeded {
            self.value = (x - self.value) * self.k + self.value;
            return defined(self.value);
        }
        if self.period == 0 {
            return None;
        }
        self.sum += x;
        self.seen += 1;
        if self.seen < self.period {
            return None;
        }
        self.seeded = true;
        self.value = self.sum / self.period as f64;
        defined(self.value)
    }
}

/// EMA of `values` over `period`; `None` before index `period - 1`.
pub fn ema(values: &[f64], period: usize) -> Vec<Option<f64>> {
    let mut state = EmaState::new(period);
    values.iter().map(|&x| state.next(x)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::talib_reference::check_against_talib;

    #[test]
    fn seeds_with_the_simple_mean_then_smooths() {
        let out = ema(&[1.0, 2.0, 3.0, 10.0], 3);
        assert_eq!(out[..2], [None, None]);
        assert_eq!(out[2], Some(2.0));
        // k = 0.5: 2 + 0.5 * (10 - 2)
        assert_eq!(out[3], Some(6.0));
    }

    #[test]
    fn shorter_than_the_period_is_all_undefined() {
        assert_eq!(ema(&[1.0, 2.0], 3), vec![None, None]);
        assert_eq!(ema(&[1.0, 2.0], 0), vec![None, None]);
        assert!(ema(&[], 3).is_empty());
    }

    #[test]
    fn non_finite_input_ends_the_series() {
        let out = ema(&[1.0, 2.0, f64::NAN, 3.0, 4.0], 2);
        assert_eq!(out, vec![None, Some(1.5), None, None, None]);
    }

    #[test]
    fn equals_talib() {
        check_against_talib("ema", |s, n| ema(s.close, n));
    }
}
