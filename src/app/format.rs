//! How numbers are shown: prices with precision that follows their size,
//! scores with one decimal, ages in compact units.

/// A price with about six significant digits (64080.5, 0.0001234).
pub fn price(value: f64) -> String {
    let magnitude = value.abs();
    let decimals = if magnitude >= 1000.0 {
        2
    } else if magnitude >= 1.0 {
        4
    } else if magnitude > 0.0 {
        (-(magnitude.log10().floor()) as usize + 4).min(10)
    } else {
        2
    };
    format!("{value:.decimals$}")
}

/// A score or ratio with `decimals` decimals, or a dash when undefined.
pub fn number(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "—".to_string(),
    }
}

/// An age in seconds as `45s`, `12m`, `3h 5m`, `2d 4h`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_keep_about_six_significant_digits() {
        assert_eq!(price(64080.456), "64080.46");
        assert_eq!(price(1.23456789), "1.2346");
        assert_eq!(price(0.000123456), "0.00012346");
        assert_eq!(price(0.0), "0.00");
    }

    #[test]
    fn ages_use_compact_units() {
        assert_eq!(age(42), "42s");
        assert_eq!(age(125), "2m");
        assert_eq!(age(3 * 3600 + 300), "3h 5m");
        assert_eq!(age(2 * 86_400 + 4 * 3600), "2d 4h");
        assert_eq!(age(-5), "0s");
    }

    #[test]
    fn undefined_numbers_show_a_dash() {
        assert_eq!(number(None, 1), "—");
        assert_eq!(number(Some(f64::NAN), 1), "—");
        assert_eq!(number(Some(2.345), 2), "2.35");
    }
}
