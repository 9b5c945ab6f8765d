//! On-balance volume, TA-Lib's OBV, and its normalised slope (STRATEGIES.md §1).
//!
//! OBV_0 = v_0; each later candle adds its volume when the close rose,
//! subtracts it when the close fell. The BreakoutV2 filter reads
//! [`obv_slope`]: the least-squares slope of the last 20 OBV values divided
//! by their candles' mean volume, so coins of any size compare on one scale.

/// Streaming OBV: feed closes and volumes oldest first with [`ObvState::next`].
#[derive(Debug, Clone, Default)]
pub struct ObvState {
    value: f64,
    prev_close: Option<f64>,
}

impl ObvState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next candle's close and volume; returns OBV at it. A
    /// non-finite volume counts as 0 and a non-finite close as unchanged
    /// (the next close compares with the last finite one); a step that
    /// would overflow is dropped. So OBV is always finite.
    #[inline]
    pub fn next(&mut self, close: f64, volume: f64) -> f64 {
        let volume = if volume.is_finite() { volume } else { 0.0 };
        let next = match self.prev_close {
            None => volume,
            Some(prev) if close > prev => self.value + volume,
            Some(prev) if close < prev => self.value - volume,
            Some(_) => self.value,
        };
        if next.is_finite() {
            self.value = next;
        }
        if close.is_finite() {
            self.prev_close = Some(close);
        }
        self.value
    }
}

/// OBV of the candles; the output has the shorter slice's length.
pub fn obv(close: &[f64], volume: &[f64]) -> Vec<f64> {
    let mut state = ObvState::new();
    close
        .iter()
        .zip(volume)
        .map(|(&c, &v)| state.next(c, v))
        .collect()
}

/// Least-squares slope of the last `window` OBV values (x = 0, 1, ...)
/// divided by the mean of the matching volumes (the slices are aligned at
/// their ends). Uses what there is when the series is shorter than the
/// window; 0 with fewer than 2 points, a mean volume of 0, or non-finite input.
pub fn obv_slope(obv: &[f64], volume: &[f64], window: usize) -> f64 {
    let w = window.min(obv.len()).min(volume.len());
    if w < 2 {
        return 0.0;
    }
    let y = &obv[obv.len() - w..];
    let v = &volume[volume.len() - w..];
    let count = w as f64;
    let mean_volume = v.iter().sum::<f64>() / count;
    let mean_y = y.iter().sum::<f64>() / count;
    let mean_x = (count - 1.0) / 2.0;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, &yi) in y.iter().enumerate() {
        let dx = i as f64 - mean_x;
        sxy += dx * (yi - mean_y);
        sxx += dx * dx;
    }
    let slope = sxy / sxx / mean_volume;
    if mean_volume == 0.0 || !slope.is_finite() {
        return 0.0;
    }
    slope
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::talib_reference::check_against_talib;

    #[test]
    fn adds_on_up_closes_subtracts_on_down_closes() {
        let out = obv(&[10.0, 11.0, 11.0, 9.0, 12.0], &[5.0, 3.0, 7.0, 2.0, 4.0]);
        assert_eq!(out, vec![5.0, 8.0, 8.0, 6.0, 10.0]);
    }

    #[test]
    fn non_finite_volume_counts_as_zero_and_nan_close_as_unchanged() {
        let out = obv(
            &[10.0, 11.0, f64::NAN, 12.0],
            &[5.0, f64::INFINITY, 7.0, 2.0],
        );
        // 11 > 10 adds nothing (volume inf -> 0); NaN close: unchanged; 12 > 11 adds 2.
        assert_eq!(out, vec![5.0, 5.0, 5.0, 7.0]);
    }

    #[test]
    fn slope_of_a_straight_line_over_mean_volume() {
        // slope 10 per candle, mean volume 10
        assert_eq!(obv_slope(&[0.0, 10.0, 20.0, 30.0], &[10.0; 4], 4), 1.0);
    }

    #[test]
    fn slope_hand_computed_uses_only_the_last_window() {
        // last 4: y = 0, 5, 5, 20: Sxy = 30, Sxx = 5 -> 6; mean volume (2+4+6+8)/4 = 5
        let obv_series = [1e9, -3.0, 0.0, 5.0, 5.0, 20.0];
        let volume = [1e9, 1e9, 2.0, 4.0, 6.0, 8.0];
        let s = obv_slope(&obv_series, &volume, 4);
        assert!((s - 1.2).abs() < 1e-12, "{s}");
        // falling OBV gives a negative slope
        assert!(obv_slope(&[20.0, 5.0, 5.0, 0.0], &[2.0, 4.0, 6.0, 8.0], 4) < 0.0);
    }

    #[test]
    fn slope_is_zero_without_volume_or_points() {
        assert_eq!(obv_slope(&[0.0, 1.0, 2.0], &[0.0; 3], 20), 0.0);
        assert_eq!(obv_slope(&[5.0], &[3.0], 20), 0.0);
        assert_eq!(obv_slope(&[], &[], 20), 0.0);
        assert_eq!(obv_slope(&[0.0, 1.0, 2.0], &[1.0; 3], 1), 0.0);
    }

    #[test]
    fn slope_uses_what_there_is_when_shorter_than_the_window() {
        assert_eq!(obv_slope(&[0.0, 2.0, 4.0], &[2.0; 3], 20), 1.0);
    }

    #[test]
    fn equals_talib() {
        check_against_talib("obv", |s, _| {
            obv(s.close, s.volume).into_iter().map(Some).collect()
        });
    }
}
