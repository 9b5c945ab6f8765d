//! How numbers are shown: prices with precision that follows their size,
//! scores with one decimal, ages in compact units, times in UTC. Shared by
//! the components and the server-side charts so a value reads the same
//! everywhere.

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

/// A quantity with about six significant digits, grouped thousands above
/// 1000 (`12,345.68`, `0.17227`).
pub fn quantity(value: f64) -> String {
    if !value.is_finite() {
        return "—".to_string();
    }
    if value.abs() >= 1000.0 {
        return grouped(value, 2);
    }
    price(value)
}

/// A money amount with two decimals and grouped thousands (`11,038.84`).
pub fn money(value: f64) -> String {
    if !value.is_finite() {
        return "—".to_string();
    }
    grouped(value, 2)
}

fn grouped(value: f64, decimals: usize) -> String {
    let text = format!("{:.decimals$}", value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::with_capacity(text.len() + int.len() / 3 + 1);
    if value < 0.0 {
        out.push('-');
    }
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A signed number (`+1.25`, `-0.40`), or a dash when undefined.
pub fn signed(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:+.decimals$}"),
        _ => "—".to_string(),
    }
}

/// Calendar date and time of Unix milliseconds, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
}

impl UtcTime {
    pub fn from_ms(ms: i64) -> UtcTime {
        let secs = ms.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        UtcTime {
            year,
            month,
            day,
            hour: (of_day / 3600) as u32,
            minute: ((of_day % 3600) / 60) as u32,
        }
    }
}

/// `2024-07-16 00:00 UTC`.
pub fn utc_datetime(ms: i64) -> String {
    let t = UtcTime::from_ms(ms);
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

/// `07-16 00:00`: a chart's time axis label.
pub fn utc_short(ms: i64) -> String {
    let t = UtcTime::from_ms(ms);
    format!("{:02}-{:02} {:02}:{:02}", t.month, t.day, t.hour, t.minute)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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

    #[test]
    fn utc_times_match_known_dates() {
        // 1721088000000 ms = 2024-07-16 00:00:00 UTC (date -u -d @1721088000).
        assert_eq!(utc_datetime(1_721_088_000_000), "2024-07-16 00:00 UTC");
        assert_eq!(utc_datetime(0), "1970-01-01 00:00 UTC");
        // 951827696 s = 2000-02-29 12:34:56 UTC (a leap day).
        assert_eq!(utc_datetime(951_827_696_000), "2000-02-29 12:34 UTC");
        assert_eq!(utc_short(1_768_556_245_031), "01-16 09:37");
    }

    #[test]
    fn amounts_group_thousands() {
        assert_eq!(money(11038.8431), "11,038.84");
        assert_eq!(money(-1234567.0), "-1,234,567.00");
        assert_eq!(money(12.5), "12.50");
        assert_eq!(quantity(0.172268), "0.17227");
        assert_eq!(quantity(2000.0), "2,000.00");
        assert_eq!(signed(Some(1.254), 2), "+1.25");
        assert_eq!(signed(None, 2), "—");
    }
}
