//! The simulated market's derivatives data: open interest, funding,
//! long/short ratio and liquidations simulated from each symbol's stored
//! 15m candles, in Coinalyze's shapes (the hourly [`HistoryBar`] histories
//! of its four endpoints, over the same 48 hours a Coinalyze request
//! covers), then turned into the scan's `ExternalData` by the code that
//! reads Coinalyze's responses ([`external_data_for`]: the same freshness
//! rule, the same latest values and 24 h sums). The result is labelled
//! `synthetic` (`OiMetadata::status`), never passed off as Coinalyze's.
//!
//! The simulation follows the price, so the strategies see what real
//! markets show: open interest builds on large moves with heavy volume (a
//! breakout) and unwinds in quiet hours, funding leans with the day's
//! trend, the long/short ratio leans against it, and sharp wicks liquidate
//! the side they run over. An hour's values depend only on the candles up
//! to that hour (open interest is then scaled to the latest price, which
//! leaves its z-score alone) and on a noise drawn from a hash of (exchange,
//! symbol, hour, series): the same candles give the same data on every
//! machine and in every scan, and a backtest can replay it close by close.
//! docs/STRATEGIES.md §7 gives the formulas.

use super::batch::{external_data_for, HistorySet};
use super::client::{HistoryBar, HistoryEndpoint};
use quantpro_model::external::{ExternalData, ExternalDataMap, SymbolKey};
use quantpro_model::{Candle, Exchange, OiStatus};
use std::collections::HashMap;

/// Hours of history simulated, as a Coinalyze request asks for
/// (`CoinalyzeConfig::history_hours`).
pub const HISTORY_HOURS: i64 = 48;

const HOUR_MS: i64 = 3_600_000;
/// Hours before an hour whose moves and volumes are its yardstick.
const LOOKBACK_HOURS: usize = 24;
/// Hours of impulses that make an hour's open interest, and their decay:
/// positions opened on a move are closed over the following day.
const MEMORY_HOURS: usize = 24;
const DECAY: f64 = 0.9;
/// Weights of an hour's impulse: its move against the usual one, its
/// volume against the usual one, and noise.
const MOVE_WEIGHT: f64 = 0.02;
const VOLUME_WEIGHT: f64 = 0.01;
const NOISE_WEIGHT: f64 = 0.006;
/// The mean of |N(0, 1)|: an ordinary hour adds no open interest.
const USUAL_MOVE: f64 = 0.8;

/// The derivatives data of every symbol of `candles` (its closed 15m
/// candles, oldest first) at `now_secs`, as the scan takes it; a symbol
/// without candles gets none.
pub fn synthetic_external_data(
    candles: &HashMap<SymbolKey, Vec<Candle>>,
    now_secs: i64,
) -> ExternalDataMap {
    candles
        .iter()
        .map(|((exchange, symbol), ltf)| {
            let data = synthetic_derivatives(*exchange, symbol, ltf, now_secs);
            ((*exchange, symbol.clone()), data)
        })
        .collect()
}

/// One symbol's simulated derivatives data, read like a Coinalyze response.
pub fn synthetic_derivatives(
    exchange: Exchange,
    symbol: &str,
    ltf: &[Candle],
    now_secs: i64,
) -> ExternalData {
    let name = synthetic_name(exchange, symbol);
    let histories = synthetic_histories(exchange, symbol, ltf, now_secs);
    let mut data = external_data_for(&name, &histories, now_secs);
    data.oi_metadata.coinalyze_symbol = None;
    if data.oi_metadata.status == OiStatus::Aggregated {
        data.oi_metadata.status = OiStatus::Synthetic;
    }
    data
}

/// The name the simulated histories are filed under (never a Coinalyze symbol).
fn synthetic_name(exchange: Exchange, symbol: &str) -> String {
    format!("{symbol}.{exchange}.SYNTHETIC")
}

/// The four hourly histories of one symbol, bars opening from
/// `HISTORY_HOURS` before `now_secs` up to the hour of the last candle, as
/// Coinalyze answers them: open-interest closes (`c`, in the base asset),
/// funding rates (`c`, a fraction per 8 h), long/short ratios (`r`, with
/// `l`/`s` the percentages of accounts long and short) and liquidations
/// (`l`/`s`, USD of longs and shorts liquidated in the hour).
pub fn synthetic_histories(
    exchange: Exchange,
    symbol: &str,
    ltf: &[Candle],
    now_secs: i64,
) -> HistorySet {
    let name = synthetic_name(exchange, symbol);
    let mut set = HistorySet::new();
    let from_ms = (now_secs - HISTORY_HOURS * 3600) * 1000;
    // The window's hours read the impulses of the day before them, and
    // those the day before that: older candles change nothing.
    let needed_from = from_ms - (MEMORY_HOURS + LOOKBACK_HOURS) as i64 * HOUR_MS;
    let hours = hourly_bars(&ltf[ltf.partition_point(|c| c.t < needed_from)..]);
    let Some(last) = hours.last() else {
        return set;
    };
    let seed = symbol_seed(exchange, symbol);
    let yardsticks: Vec<Option<Yardstick>> = (0..hours.len())
        .map(|i| Yardstick::before(&hours, i))
        .collect();
    let impulses: Vec<f64> = (0..hours.len())
        .map(|i| impulse(&hours, &yardsticks, i, seed))
        .collect();
    // Positions worth 5e7..5e8 USD at the latest price.
    let notional = 10f64.powf(7.7 + uniform(seed, 0, Stream::Size));
    let units = notional / last.close;
    let recent: Vec<usize> = (0..hours.len())
        .filter(|&i| hours[i].t >= from_ms)
        .collect();
    let history = |bar_of: &dyn Fn(usize) -> HistoryBar| -> Vec<HistoryBar> {
        recent
            .iter()
            .map(|&i| HistoryBar {
                t: hours[i].t / 1000,
                ..bar_of(i)
            })
            .collect()
    };
    let open_interest = history(&|i| {
        let log_oi: f64 = (0..MEMORY_HOURS.min(i + 1))
            .map(|k| DECAY.powi(k as i32) * impulses[i - k])
            .sum();
        HistoryBar {
            c: Some(units * log_oi.exp()),
            ..HistoryBar::default()
        }
    });
    let funding = history(&|i| {
        let trend = day_trend(&hours, &yardsticks, i);
        let noise = normal(seed, hours[i].t, Stream::Funding);
        HistoryBar {
            c: Some(0.0001 + 0.0003 * trend + 0.00003 * noise),
            ..HistoryBar::default()
        }
    });
    let long_short = history(&|i| {
        let trend = day_trend(&hours, &yardsticks, i);
        let noise = normal(seed, hours[i].t, Stream::Ratio);
        let ratio = (-0.25 * trend + 0.05 * noise).exp();
        let long_share = 100.0 * ratio / (1.0 + ratio);
        HistoryBar {
            r: Some(ratio),
            l: Some(long_share),
            s: Some(100.0 - long_share),
            ..HistoryBar::default()
        }
    });
    let liquidated = history(&|i| {
        let (long, short) = liquidations(&hours, &yardsticks, i, notional, seed);
        HistoryBar {
            l: Some(long),
            s: Some(short),
            ..HistoryBar::default()
        }
    });
    for (endpoint, bars) in [
        (HistoryEndpoint::OpenInterest, open_interest),
        (HistoryEndpoint::FundingRate, funding),
        (HistoryEndpoint::LongShortRatio, long_short),
        (HistoryEndpoint::Liquidations, liquidated),
    ] {
        set.insert((endpoint, name.clone()), bars);
    }
    set
}

/// An hour of 15m candles (the newest hour may be partly closed).
#[derive(Debug, Clone, Copy)]
struct HourBar {
    /// Open time, Unix ms.
    t: i64,
    high: f64,
    low: f64,
    close: f64,
    /// Mean volume of its 15m candles (a partial hour compares with whole ones).
    volume: f64,
    /// Its 15m candles so far (4 once the hour is closed).
    quarters: usize,
}

fn hourly_bars(ltf: &[Candle]) -> Vec<HourBar> {
    let mut hours: Vec<HourBar> = Vec::new();
    for c in ltf {
        let t = c.t.div_euclid(HOUR_MS) * HOUR_MS;
        match hours.last_mut() {
            Some(bar) if bar.t == t => {
                bar.high = bar.high.max(c.h);
                bar.low = bar.low.min(c.l);
                bar.close = c.c;
                bar.volume += c.v;
                bar.quarters += 1;
            }
            _ => hours.push(HourBar {
                t,

                high: c.h,
                low: c.l,
                close: c.c,
                volume: c.v,
                quarters: 1,
            }),
        }
    }
    for bar in &mut hours {
        bar.volume /= bar.quarters as f64;
    }
    hours
}

/// An hour's usual move and volume: the root mean square of the hourly log
/// returns and the mean volume of the (up to) 24 hours before it.
#[derive(Debug, Clone, Copy)]
struct Yardstick {
    move_rms: f64,
    volume: f64,
}

impl Yardstick {
    fn before(hours: &[HourBar], i: usize) -> Option<Yardstick> {
        let window = &hours[i.saturating_sub(LOOKBACK_HOURS)..i];
        if window.len() < 4 {
            return None;
        }
        let squares: f64 = window
            .windows(2)
            .map(|w| (w[1].close / w[0].close).ln().powi(2))
            .sum();
        let move_rms = (squares / (window.len() - 1) as f64).sqrt();
        let volume = window.iter().map(|h| h.volume).sum::<f64>() / window.len() as f64;
        (move_rms > 0.0 && volume > 0.0).then_some(Yardstick { move_rms, volume })
    }
}

/// The open interest an hour adds (in log units): a move larger than usual
/// on heavier volume than usual opens positions, a quiet hour closes some.
/// The usual move of an hour still open is that of its closed quarters.
fn impulse(hours: &[HourBar], yardsticks: &[Option<Yardstick>], i: usize, seed: u64) -> f64 {
    let noise = NOISE_WEIGHT * normal(seed, hours[i].t, Stream::OpenInterest);
    let Some(y) = yardsticks[i] else {
        return noise;
    };
    let ret = (hours[i].close / hours[i - 1].close).ln();
    let usual = y.move_rms * (hours[i].quarters as f64 / 4.0).sqrt();
    let volume = (hours[i].volume / y.volume).max(1e-6).ln();
    MOVE_WEIGHT * (ret.abs() / usual - USUAL_MOVE) + VOLUME_WEIGHT * volume + noise
}

/// The last 24 hours' log return over its usual size, squashed to -1..1.
fn day_trend(hours: &[HourBar], yardsticks: &[Option<Yardstick>], i: usize) -> f64 {
    let Some(y) = yardsticks[i] else {
        return 0.0;
    };
    let start = &hours[i.saturating_sub(LOOKBACK_HOURS)];
    let ret = (hours[i].close / start.close).ln();
    (ret / (y.move_rms * (LOOKBACK_HOURS as f64).sqrt())).tanh()
}

/// USD of longs and of shorts liquidated in hour `i`: a wick more than one
/// usual move below the previous close liquidates longs, above it shorts
/// (quadratic in the excess), over a small background.
fn liquidations(
    hours: &[HourBar],
    yardsticks: &[Option<Yardstick>],
    i: usize,
    notional: f64,
    seed: u64,
) -> (f64, f64) {
    let background = |stream| notional * 1e-5 * (0.5 * normal(seed, hours[i].t, stream)).exp();
    let (long_base, short_base) = (
        background(Stream::LongLiquidations),
        background(Stream::ShortLiquidations),
    );
    let Some(y) = yardsticks[i] else {
        return (long_base, short_base);
    };
    let previous = hours[i - 1].close;
    let excess = |wick: f64| (wick / y.move_rms - 1.0).max(0.0).powi(2);
    let down = excess((previous / hours[i].low).ln());
    let up = excess((hours[i].high / previous).ln());
    (
        long_base + notional * 2e-4 * down,
        short_base + notional * 2e-4 * up,
    )
}

/// The independent noises of a symbol's simulation.
#[derive(Debug, Clone, Copy)]
enum Stream {
    Size = 1,
    OpenInterest,
    Funding,
    Ratio,
    LongLiquidations,
    ShortLiquidations,
}

/// FNV-1a of `EXCHANGE:SYMBOL`: a seed that is the same on every machine.
fn symbol_seed(exchange: Exchange, symbol: &str) -> u64 {
    format!("{exchange}:{symbol}")
        .bytes()
        .fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
        })
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Uniform in [0, 1) for (symbol, hour, stream).
fn uniform(seed: u64, hour_ms: i64, stream: Stream) -> f64 {
    let x = mix(seed ^ mix(hour_ms as u64 ^ mix(stream as u64)));
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Standard normal for (symbol, hour, stream) (Box-Muller).
fn normal(seed: u64, hour_ms: i64, stream: Stream) -> f64 {
    let u1 = 1.0 - uniform(seed, hour_ms, stream); // (0, 1]: ln is finite
    let u2 = uniform(seed ^ 0x5DEE_CE66_D1CE_5EED, hour_ms, stream);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coinalyze::HistoryEndpoint;

    const NOW_SECS: i64 = 1_767_225_600;
    const M15_MS: i64 = 15 * 60_000;

    /// A 15m random walk of `n` candles ending at `NOW_SECS`, with a
    /// breakout (ten times the usual move, five times the volume) in the
    /// last hour when asked.
    fn walk(n: usize, breakout: bool) -> Vec<Candle> {
        let mut state = 7u64;
        let mut price: f64 = 100.0;
        let first = NOW_SECS * 1000 - n as i64 * M15_MS;
        (0..n)
            .map(|i| {
                state = mix(state);
                let shock = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                let last_hour = breakout && i + 4 >= n;
                let ret = if last_hour { 0.02 } else { 0.004 * shock };
                let open = price;
                price *= ret.exp();
                let volume = if last_hour { 5000.0 } else { 1000.0 };
                Candle {
                    t: first + i as i64 * M15_MS,
                    o: open,
                    h: open.max(price) * 1.001,
                    l: open.min(price) * 0.999,
                    c: price,
                    v: volume * (1.0 + shock / 2.0),
                }
            })
            .collect()
    }

    #[test]
    fn the_histories_have_coinalyzes_shapes() {
        let candles = walk(400, false);
        let set = synthetic_histories(Exchange::Binance, "SYN000USDT", &candles, NOW_SECS);
        let name = "SYN000USDT.BINANCE.SYNTHETIC".to_string();
        for endpoint in HistoryEndpoint::ALL {
            let bars = &set[&(endpoint, name.clone())];
            // Hourly bars opening in [now - 48 h, now), oldest first.
            assert_eq!(bars.len(), HISTORY_HOURS as usize, "{endpoint:?}");
            assert!(bars.windows(2).all(|w| w[1].t - w[0].t == 3600));
            assert_eq!(bars[0].t, NOW_SECS - HISTORY_HOURS * 3600);
            assert_eq!(bars.last().unwrap().t, NOW_SECS - 3600);
            let fields = |b: &HistoryBar| [b.c, b.r, b.l, b.s].map(|v| v.is_some());
            let expected = match endpoint {
                HistoryEndpoint::OpenInterest | HistoryEndpoint::FundingRate => {
                    [true, false, false, false]
                }
                HistoryEndpoint::LongShortRatio => [false, true, true, true],
                HistoryEndpoint::Liquidations => [false, false, true, true],
            };
            assert!(bars.iter().all(|b| fields(b) == expected), "{endpoint:?}");
            // Coinalyze's JSON field names.
            let json = serde_json::to_value(bars[0]).unwrap();
            let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
            assert!(keys
                .iter()
                .all(|k| ["t", "c", "r", "l", "s"].contains(&k.as_str())));
        }
        let ratios = &set[&(HistoryEndpoint::LongShortRatio, name.clone())];
        assert!(ratios.iter().all(|b| {
            let (r, l, s) = (b.r.unwrap(), b.l.unwrap(), b.s.unwrap());
            r > 0.0 && (l + s - 100.0).abs() < 1e-9 && (l / s - r).abs() < 1e-9
        }));
        let funding = &set[&(HistoryEndpoint::FundingRate, name.clone())];
        assert!(funding.iter().all(|b| b.c.unwrap().abs() < 0.001));
        let liquidations = &set[&(HistoryEndpoint::Liquidations, name)];
        assert!(liquidations
            .iter()
            .all(|b| b.l.unwrap() > 0.0 && b.s.unwrap() > 0.0));
    }

    #[test]
    fn the_data_is_deterministic_per_symbol_and_labelled_synthetic() {
        let candles = walk(400, false);
        let data = synthetic_derivatives(Exchange::Mexc, "SYN003_USDT", &candles, NOW_SECS);
        assert_eq!(
            data,
            synthetic_derivatives(Exchange::Mexc, "SYN003_USDT", &candles, NOW_SECS)
        );
        let other = synthetic_derivatives(Exchange::Mexc, "SYN004_USDT", &candles, NOW_SECS);
        assert_ne!(
            data.oi_history, other.oi_history,
            "each symbol its own noise"
        );
        let oi = data.oi_history.as_ref().unwrap();
        assert_eq!(oi.len(), HISTORY_HOURS as usize);
        assert!(oi.iter().all(|v| v.is_finite() && *v > 0.0));
        assert!(data.funding_rate.is_some() && data.ls_ratio.is_some());
        let liquidations = data.liquidations_24h.unwrap();
        assert!(liquidations.long > 0.0 && liquidations.short > 0.0);
        assert_eq!(data.oi_metadata.status, OiStatus::Synthetic);
        assert_eq!(data.oi_metadata.coinalyze_symbol, None);
        assert_eq!(data.oi_metadata.value, oi.last().copied());
        assert!(data.oi_metadata.stale.is_empty());
        assert_eq!(data.market, None);
    }

    #[test]
    fn an_hour_keeps_its_value_as_later_candles_arrive() {
        let candles = walk(400, false);
        let later = synthetic_derivatives(Exchange::Binance, "SYN000USDT", &candles, NOW_SECS);
        let earlier = synthetic_derivatives(
            Exchange::Binance,
            "SYN000USDT",
            &candles[..candles.len() - 8],
            NOW_SECS - 2 * 3600,
        );
        let (later, earlier) = (later.oi_history.unwrap(), earlier.oi_history.unwrap());
        // Both end at the same scale only up to the latest price: compare
        // the shape (ratios between hours), which is what the z-score reads.
        let shape = |oi: &[f64]| -> Vec<f64> { oi.windows(2).map(|w| w[1] / w[0]).collect() };
        let overlap = &shape(&later)[..later.len() - 3];
        let before = &shape(&earlier)[2..];
        assert_eq!(overlap.len(), before.len());
        assert!(overlap
            .iter()
            .zip(before)
            .all(|(a, b)| (a - b).abs() < 1e-12));
    }

    #[test]
    fn candles_older_than_the_window_needs_change_nothing() {
        let long = walk(2000, false);
        let short = &long[long.len() - 4 * (HISTORY_HOURS as usize + 48)..];
        assert_eq!(
            synthetic_derivatives(Exchange::Binance, "SYN000USDT", &long, NOW_SECS),
            synthetic_derivatives(Exchange::Binance, "SYN000USDT", short, NOW_SECS)
        );
    }

    #[test]
    fn open_interest_builds_on_a_breakout() {
        let quiet =
            synthetic_derivatives(Exchange::Binance, "SYN001USDT", &walk(400, false), NOW_SECS);
        let breakout =
            synthetic_derivatives(Exchange::Binance, "SYN001USDT", &walk(400, true), NOW_SECS);
        let z = |oi: &[f64]| {
            let window = &oi[oi.len() - 24..];
            let mean = window.iter().sum::<f64>() / 24.0;
            let sd = (window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 24.0).sqrt();
            (window[23] - mean) / sd
        };
        let z_breakout = z(breakout.oi_history.as_ref().unwrap());
        let z_quiet = z(quiet.oi_history.as_ref().unwrap());
        assert!(
            z_breakout >= 1.0 && z_breakout > z_quiet,
            "z {z_breakout} after the breakout, {z_quiet} without"
        );
        let liquidated = breakout.liquidations_24h.unwrap();
        assert!(
            liquidated.short > liquidated.long,
            "a rise liquidates shorts: {liquidated:?}"
        );
    }

    #[test]
    fn candles_that_stopped_long_ago_give_stale_data() {
        let candles = walk(400, false);
        let data =
            synthetic_derivatives(Exchange::Binance, "SYN000USDT", &candles, NOW_SECS + 86_400);
        // Coinalyze's freshness rule: the series stopped a day ago are
        // unavailable and named, as a Coinalyze response that old would be.
        assert_eq!(
            (data.oi_history, data.funding_rate, data.ls_ratio),
            (None, None, None)
        );
        let mut stale: Vec<&str> = data
            .oi_metadata
            .stale
            .iter()
            .map(|s| s.series.as_str())
            .collect();
        stale.sort();
        assert_eq!(
            stale,
            [
                "funding-rate-history",
                "long-short-ratio-history",
                "open-interest-history"
            ]
        );
        assert_eq!(data.oi_metadata.coinalyze_symbol, None);
        assert!(synthetic_derivatives(Exchange::Binance, "X", &[], NOW_SECS)
            .oi_history
            .is_none());
    }
}
