//! Property tests: for any finite positive OHLCV series (empty, one candle,
//! flat, zero volume, wild values) every output has the input's length, is
//! never NaN or infinite, stays in its indicator's range, and is defined
//! exactly from the indicator's first defined index on. Non-finite input
//! never leaks out as NaN and does not change earlier values.

use super::*;
use proptest::prelude::*;

fn candle((o, h, l, c, v): (f64, f64, f64, f64, f64)) -> Candle {
    Candle {
        t: 0,
        o,
        h,
        l,
        c,
        v,
    }
}

/// A random walk with a consistent OHLC, volume sometimes 0.
fn walk() -> impl Strategy<Value = Vec<Candle>> {
    (
        1e-6f64..1e6,
        prop::collection::vec(
            (
                -0.05f64..0.05,
                0.0f64..0.03,
                0.0f64..0.03,
                prop_oneof![Just(0.0), 0.0f64..1e9],
            ),
            0..300,
        ),
    )
        .prop_map(|(start, steps)| {
            let mut price = start;
            steps
                .into_iter()
                .map(|(step, up, down, v)| {
                    let o = price;
                    price *= 1.0 + step;
                    candle((
                        o,
                        o.max(price) * (1.0 + up),
                        o.min(price) * (1.0 - down),
                        price,
                        v,
                    ))
                })
                .collect()
        })
}

/// Flat candles (h = l = c), zero or constant volume.
fn flat() -> impl Strategy<Value = Vec<Candle>> {
    (
        1e-6f64..1e6,
        prop_oneof![Just(0.0), 1.0f64..1e6],
        0usize..250,
    )
        .prop_map(|(p, v, n)| (0..n).map(|_| candle((p, p, p, p, v))).collect())
}

/// Independent positive values: high below low, huge gaps and all.
fn wild() -> impl Strategy<Value = Vec<Candle>> {
    let value = || prop_oneof![1e-9f64..1e-3, 1e-3f64..1e3, 1e3f64..1e12];
    prop::collection::vec(
        (
            value(),
            value(),
            value(),
            value(),
            prop_oneof![Just(0.0), value()],
        ),
        0..120,
    )
    .prop_map(|rows| rows.into_iter().map(candle).collect())
}

fn any_series() -> impl Strategy<Value = Vec<Candle>> {
    prop_oneof![walk(), flat(), wild()]
}

/// Asserts a series is undefined before `first` and defined, finite and
/// within `range` from it on.
fn check(name: &str, series: &[Option<f64>], len: usize, first: usize, range: (f64, f64)) {
    assert_eq!(series.len(), len, "{name} length");
    for (i, v) in series.iter().enumerate() {
        match v {
            None => assert!(
                i < first,
                "{name} undefined at {i} (first defined index {first})"
            ),
            Some(x) => {
                assert!(i >= first, "{name} defined at {i} before {first}");
                assert!(
                    x.is_finite() && *x >= range.0 && *x <= range.1,
                    "{name} at {i} = {x}"
                );
            }
        }
    }
}

const PERCENT: (f64, f64) = (0.0, 100.0);
/// 0..100 up to rounding of the smoothed ratios.
const PERCENT_ROUNDED: (f64, f64) = (0.0, 100.0 + 1e-9);
const POSITIVE: (f64, f64) = (0.0, f64::MAX);
const ANY: (f64, f64) = (f64::MIN, f64::MAX);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn compute_all_is_finite_in_range_and_aligned(candles in any_series()) {
        let n = candles.len();
        let set = compute_all(&candles);
        // DM <= TR, hence DI <= 100, only when low <= open, close <= high;
        // the `wild` candles break that (TA-Lib then gives DI > 100 too).
        let consistent = candles.iter().all(|c| c.l <= c.o.min(c.c) && c.h >= c.o.max(c.c));
        let di_range = if consistent { PERCENT_ROUNDED } else { POSITIVE };
        check("rsi14", &set.rsi14, n, 14, PERCENT);
        check("atr14", &set.atr14, n, 14, POSITIVE);
        check("plus_di14", &set.plus_di14, n, 14, di_range);
        check("minus_di14", &set.minus_di14, n, 14, di_range);
        check("adx14", &set.adx14, n, 27, PERCENT_ROUNDED);
        check("ema20", &set.ema20, n, 19, ANY);
        check("ema50", &set.ema50, n, 49, ANY);
        check("ema200", &set.ema200, n, 199, ANY);
        prop_assert_eq!(set.obv.len(), n);
        prop_assert!(set.obv.iter().all(|v| v.is_finite()));
        // An EMA stays within the range of the values it has seen.
        let closes: Vec<f64> = candles.iter().map(|c| c.c).collect();
        for (i, v) in set.ema20.iter().enumerate() {
            if let Some(v) = v {
                let seen = &closes[..=i];
                let (lo, hi) = seen.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
                prop_assert!(*v >= lo * (1.0 - 1e-12) && *v <= hi * (1.0 + 1e-12), "ema20 {} outside {}..{}", v, lo, hi);
            }
        }
    }

    #[test]
    fn derived_values_are_finite(candles in any_series(), window in 0usize..80, span in 0usize..5) {
        let n = candles.len();
        let set = compute_all(&candles);
        let volume: Vec<f64> = candles.iter().map(|c| c.v).collect();
        let closes: Vec<f64> = candles.iter().map(|c| c.c).collect();
        prop_assert!(obv_slope(&set.obv, &volume, window).is_finite());
        let z = oi_z_score(&closes, window);
        prop_assert!(z.value.is_finite());
        prop_assert!(z.valid || z.value == 0.0);
        let _ = cardwell_range(&set.rsi14, window);
        for p in pivot_highs(&set.rsi14, span).iter().chain(&pivot_lows(&set.rsi14, span)) {
            prop_assert!(p.index >= span && p.index + span < n && p.rsi.is_finite());
        }
        let params = TrendlineParams { pivot_span: span, lookback: window.max(1), ..TrendlineParams::default() };
        for line in [resistance_trendline(&set.rsi14, &params), support_trendline(&set.rsi14, &params)].into_iter().flatten() {
            prop_assert!(line.start_index < line.end_index && line.end_index < n);
            prop_assert!(line.slope.is_finite() && line.value_now.is_finite());
            prop_assert_eq!(line.broken, line.break_index.is_some());
        }
    }

    #[test]
    fn non_finite_input_never_leaks_and_keeps_the_past(
        candles in walk(),
        at in 0usize..300,
        field in 0usize..4,
        bad in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
    ) {
        prop_assume!(!candles.is_empty());
        let at = at % candles.len();
        let clean = compute_all(&candles);
        let mut dirty = candles.clone();
        match field {
            0 => dirty[at].h = bad,
            1 => dirty[at].l = bad,
            2 => dirty[at].c = bad,
            _ => dirty[at].v = bad,
        }
        let set = compute_all(&dirty);
        let all = [&set.rsi14, &set.atr14, &set.plus_di14, &set.minus_di14, &set.adx14, &set.ema20, &set.ema50, &set.ema200];
        let before = [&clean.rsi14, &clean.atr14, &clean.plus_di14, &clean.minus_di14, &clean.adx14, &clean.ema20, &clean.ema50, &clean.ema200];
        for (series, reference) in all.iter().zip(before) {
            prop_assert!(series.iter().flatten().all(|v| v.is_finite()));
            prop_assert_eq!(&series[..at], &reference[..at]);
        }
        prop_assert!(set.obv.iter().all(|v| v.is_finite()));
        prop_assert_eq!(&set.obv[..at], &clean.obv[..at]);
    }

    #[test]
    fn mismatched_lengths_give_the_shortest(a in 0usize..40, b in 0usize..40, c in 0usize..40) {
        let (h, l, cl) = (vec![2.0; a], vec![1.0; b], vec![1.5; c]);
        let shortest = a.min(b).min(c);
        prop_assert_eq!(atr(&h, &l, &cl, 14).len(), shortest);
        let d = dmi(&h, &l, &cl, 14);
        prop_assert_eq!((d.plus_di.len(), d.minus_di.len(), d.adx.len()), (shortest, shortest, shortest));
        prop_assert_eq!(obv(&cl, &h).len(), a.min(c));
    }
}
