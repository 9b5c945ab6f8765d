//! Wilder's directional movement: +DI, -DI and ADX exactly as TA-Lib's
//! PLUS_DI, MINUS_DI and ADX (STRATEGIES.md §1).
//!
//! The running sums of +DM, -DM and TR are seeded with bars 1..n-1 (n-1
//! values), then every bar applies `S = S - S/n + x`, so the first DI is at
//! index n. DX = 100*|+DI - -DI|/(+DI + -DI), computed as the equal
//! 100*|+DM - -DM|/(+DM + -DM) (one division fewer); the first ADX (index 2n-1) is
//! the sum of the DX of bars n..2n-1 divided by n, then
//! `(prev*(n-1) + DX)/n`. As in TA-Lib, a bar whose smoothed TR is 0 has
//! DI 0 and no DX, and so has a bar whose +DI and -DI are both 0: the DX is
//! skipped in the seed sum (so a flat start counts as DX 0) and ADX holds its
//! value afterwards. The HTF
//! summary reports ADX; strategies read trend strength from it.

use super::{defined, true_range, Wilder};

/// One bar's +DI, -DI and ADX.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DmiValue {
    pub plus_di: Option<f64>,
    pub minus_di: Option<f64>,
    pub adx: Option<f64>,
}

/// Streaming DMI: feed bars oldest first with [`DmiState::next`].
#[derive(Debug, Clone)]
pub struct DmiState {
    period: usize,
    wilder: Wilder,
    bars: usize,
    prev_high: f64,
    prev_low: f64,
    prev_close: f64,
    plus_dm: f64,
    minus_dm: f64,
    tr: f64,
    /// Sum of DX until the first ADX, the ADX after it.
    adx: f64,
    poisoned: bool,
}

impl DmiState {
    /// A period of 0 gives DI and ADX that are never defined.
    pub fn new(period: usize) -> Self {
        Self {
            period,
            wilder: Wilder::new(period),
            bars: 0,
            prev_high: 0.0,
            prev_low: 0.0,
            prev_close: 0.0,
            plus_dm: 0.0,
            minus_dm: 0.0,
            tr: 0.0,
            adx: 0.0,
            poisoned: false,
        }
    }

    /// Takes the next bar; DI are defined from index `period`, ADX from
    /// index `2*period - 1`.
    #[inline]
    pub fn next(&mut self, high: f64, low: f64, close: f64) -> DmiValue {
        const UNDEFINED: DmiValue = DmiValue {
            plus_di: None,
            minus_di: None,
            adx: None,
        };
        self.poisoned |= !(high.is_finite() && low.is_finite() && close.is_finite());
        if self.poisoned || self.period == 0 {
            return UNDEFINED;
        }
        self.bars += 1;
        let bar = self.bars - 1;
        let up = high - self.prev_high;
        let down = self.prev_low - low;
        let tr = true_range(high, low, self.prev_close);
        self.prev_high = high;
        self.prev_low = low;
        self.prev_close = close;
        if bar == 0 {
            return UNDEFINED;
        }
        // +DM when up > 0 and up > down, i.e. up > max(down, 0); -DM mirrors it.
        // At most one is non-zero and adding 0.0 leaves a sum unchanged, so
        // this is TA-Lib's if/else-if as two selects: the direction of a bar
        // is random, and a branch on it would mispredict half the time.
        let plus_dm = if up > down.max(0.0) { up } else { 0.0 };
        let minus_dm = if down > up.max(0.0) { down } else { 0.0 };
        if bar < self.period {
            self.plus_dm += plus_dm;
            self.minus_dm += minus_dm;
            self.tr += tr;
            return UNDEFINED;
        }
        let wilder = self.wilder;
        self.plus_dm = wilder.sum(self.plus_dm, plus_dm);
        self.minus_dm = wilder.sum(self.minus_dm, minus_dm);
        self.tr = wilder.sum(self.tr, tr);

        let (plus_di, minus_di, dx) = if self.tr == 0.0 {
            (0.0, 0.0, None)
        } else {
            let percent_of_tr = 100.0 / self.tr;
            let dm_sum = self.plus_dm + self.minus_dm;
            let dx = if dm_sum == 0.0 {
                None
            } else {
                Some(100.0 * ((self.plus_dm - self.minus_dm).abs() / dm_sum))
            };
            (
                self.plus_dm * percent_of_tr,
                self.minus_dm * percent_of_tr,
                dx,
            )
        };

        let first_adx = 2 * self.period - 1;
        let adx = if bar < first_adx {
            self.adx += dx.unwrap_or(0.0);
            None
        } else {
            if bar == first_adx {
                self.adx = wilder.mean(self.adx + dx.unwrap_or(0.0));
            } else if let Some(dx) = dx {
                self.adx = wilder.average(self.adx, dx);
            }
            defined(self.adx)
        };
        DmiValue {
            plus_di: defined(plus_di),
            minus_di: defined(minus_di),
            adx,
        }
    }
}

/// +DI, -DI and ADX series, index-aligned with the input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dmi {
    pub plus_di: Vec<Option<f64>>,
    pub minus_di: Vec<Option<f64>>,
    pub adx: Vec<Option<f64>>,
}

/// DMI over `period`. With slices of different lengths the output has the
/// shortest one's length.
pub fn dmi(high: &[f64], low: &[f64], close: &[f64], period: usize) -> Dmi {
    let len = high.len().min(low.len()).min(close.len());
    let mut out = Dmi {
        plus_di: Vec::with_capacity(len),
        minus_di: Vec::with_capacity(len),
        adx: Vec::with_capacity(len),
    };
    let mut state = DmiState::new(period);
    for ((&h, &l), &c) in high.iter().zip(low).zip(close) {
        let v = state.next(h, l, c);
        out.plus_di.push(v.plus_di);
        out.minus_di.push(v.minus_di);
        out.adx.push(v.adx);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::talib_reference::check_against_talib;

    #[test]
    fn hand_computed_period_two() {
        // bar1: up 1, down -1 -> +DM 1, TR 1.5;  bar2: up 1, down -1 -> +DM 1, TR 1.5
        // bar3: up -2, down 3 -> -DM 3, TR max(2, 1.5, 3.5) = 3.5
        let h = [10.0, 11.0, 12.0, 10.0];
        let l = [9.0, 10.0, 11.0, 8.0];
        let c = [9.5, 10.5, 11.5, 8.5];
        let d = dmi(&h, &l, &c, 2);
        // seed (1 bar): +DM 1, TR 1.5; bar2: +DM = 1 - 0.5 + 1 = 1.5, TR = 1.5 - 0.75 + 1.5 = 2.25
        assert_eq!(d.plus_di[..2], [None, None]);
        let pdi2 = 100.0 * (1.5 / 2.25);
        assert!((d.plus_di[2].unwrap() - pdi2).abs() < 1e-12);
        assert_eq!(d.minus_di[2], Some(0.0));
        // bar3: +DM = 0.75, -DM = 0 - 0 + 3 = 3, TR = 2.25 - 1.125 + 3.5 = 4.625
        let (p3, m3) = (100.0 * 0.75 / 4.625, 100.0 * 3.0 / 4.625);
        assert!((d.plus_di[3].unwrap() - p3).abs() < 1e-12);
        assert!((d.minus_di[3].unwrap() - m3).abs() < 1e-12);
        // ADX at 2n-1 = 3: (DX2 + DX3) / 2, DX2 = 100
        let dx3 = 100.0 * (m3 - p3).abs() / (m3 + p3);
        assert_eq!(d.adx[..3], [None, None, None]);
        assert!((d.adx[3].unwrap() - (100.0 + dx3) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn flat_series_gives_zero_di_and_adx() {
        let d = dmi(&[3.0; 40], &[3.0; 40], &[3.0; 40], 14);
        assert!(d.plus_di[14..]
            .iter()
            .chain(&d.minus_di[14..])
            .all(|v| *v == Some(0.0)));
        assert!(d.adx[..27].iter().all(Option::is_none));
        assert!(d.adx[27..].iter().all(|v| *v == Some(0.0)));
    }

    #[test]
    fn shorter_than_2n_has_di_but_no_adx() {
        let h: Vec<f64> = (0..27).map(|i| 10.0 + i as f64).collect();
        let l: Vec<f64> = h.iter().map(|x| x - 1.0).collect();
        let d = dmi(&h, &l, &h, 14);
        assert!(d.adx.iter().all(Option::is_none));
        // Every bar: +DM 1, TR 1, so the smoothed sums stay equal: +DI 100.
        assert_eq!(d.plus_di[13], None);
        assert_eq!(d.plus_di[14..], [Some(100.0); 13]);
        assert_eq!(d.minus_di[14], Some(0.0));
    }

    #[test]
    fn equals_talib() {
        check_against_talib("plus_di", |s, n| dmi(s.high, s.low, s.close, n).plus_di);
        check_against_talib("minus_di", |s, n| dmi(s.high, s.low, s.close, n).minus_di);
        check_against_talib("adx", |s, n| dmi(s.high, s.low, s.close, n).adx);
    }
}
