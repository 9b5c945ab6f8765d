//! Open-interest z-score (STRATEGIES.md §1): how unusual the latest hourly
//! open interest is against the last `window` (default 24) hours. It comes
//! from the Coinalyze OI history in `ExternalData`; the BreakoutV2 filter
//! and the score read it together with its validity flag.

/// The z-score and whether it means anything (`oi_z_score_valid`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OiZScore {
    pub value: f64,
    pub valid: bool,
}

impl OiZScore {
    /// The value reported when there is no meaningful z-score.
    pub const INVALID: OiZScore = OiZScore {
        value: 0.0,
        valid: false,
    };
}

/// `(last - mean) / std` over the last `window` closes, population std.
/// Invalid (value 0) with fewer than `window` points, a window of 0, a
/// constant window (std 0), or a non-finite value in the window.
pub fn oi_z_score(oi_closes: &[f64], window: usize) -> OiZScore {
    if window == 0 || oi_closes.len() < window {
        return OiZScore::INVALID;
    }
    let values = &oi_closes[oi_closes.len() - window..];
    let first = values[0];
    // Exact test for "std = 0": a rounding residue of the mean must not turn
    // a constant window into a huge z-score.
    if values.iter().any(|v| !v.is_finite()) || values.iter().all(|&v| v == first) {
        return OiZScore::INVALID;
    }
    let n = window as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let z = (values[window - 1] - mean) / variance.sqrt();
    if z.is_finite() {
        OiZScore {
            value: z,
            valid: true,
        }
    } else {
        OiZScore::INVALID
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_the_population_std_of_the_last_window() {
        // 1..=24: mean 12.5, population variance (24^2 - 1)/12 = 47.9166..
        let oi: Vec<f64> = (1..=24).map(f64::from).collect();
        let z = oi_z_score(&oi, 24);
        assert!(z.valid);
        let expected = 11.5 / (575.0f64 / 12.0).sqrt();
        assert!((z.value - expected).abs() < 1e-12, "{}", z.value);
        // the sample std (n - 1) would give 1.6265..; make sure it is not that
        assert!((z.value - 11.5 / 50.0f64.sqrt()).abs() > 1e-3);
    }

    #[test]
    fn only_the_last_window_counts() {
        // [2, 4, 4, 4, 5, 5, 7, 9]: mean 5, population std 2; last 9 -> z = 2
        let mut oi = vec![1e6; 10];
        oi.extend([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(
            oi_z_score(&oi, 8),
            OiZScore {
                value: 2.0,
                valid: true
            }
        );
        // a falling last value gives a negative z
        assert_eq!(
            oi_z_score(&[9.0, 7.0, 5.0, 5.0, 4.0, 4.0, 4.0, 2.0], 8).value,
            -1.5
        );
    }

    #[test]
    fn invalid_when_short_constant_or_not_finite() {
        assert_eq!(oi_z_score(&[1.0; 23], 24), OiZScore::INVALID);
        assert_eq!(oi_z_score(&[0.1; 24], 24), OiZScore::INVALID);
        assert_eq!(oi_z_score(&[], 24), OiZScore::INVALID);
        assert_eq!(oi_z_score(&[1.0, 2.0], 0), OiZScore::INVALID);
        let mut oi: Vec<f64> = (1..=24).map(f64::from).collect();
        oi[5] = f64::NAN;
        assert_eq!(oi_z_score(&oi, 24), OiZScore::INVALID);
    }
}
