//! Synthetic candle data: realistic random-walk OHLCV series written as
//! candle files, for the scan benchmark (500 symbols) and the dashboard's
//! demo data.
//!
//! Each symbol's 15m series alternates trending and mean-reverting regimes
//! under clustered volatility with occasional jumps; volume follows the time
//! of day and the size of the move, with noise. Prices sit on the symbol's
//! tick grid (6 significant digits) and volumes on a 0.001 grid, so the 4h
//! candles are the exact aggregation of the 15m ones. The last 15m candle
//! closes at `end_ms` rounded down to 15 minutes, the last 4h candle at
//! `end_ms` rounded down to 4 hours (only closed candles exist). A fixed seed gives the same files on every
//! machine: the generator uses its own small PRNG (SplitMix64).

use crate::candles::store::CandleStore;
use crate::candles::Candle;
use quantpro_model::atomic_file::write_atomic;
use quantpro_model::Exchange;
use quantpro_model::Interval;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    pub n_symbols: usize,
    /// Index of the first symbol: the spec generates symbols
    /// `first_index..first_index + n_symbols` of the asset list, so specs
    /// with adjacent ranges give distinct assets (one range per exchange).
    pub first_index: usize,
    /// 15m candles per symbol.
    pub n_15m: usize,
    /// 4h candles per symbol.
    pub n_4h: usize,
    pub seed: u64,
    /// Close time of the last candle of both series (Unix ms); rounded down to a 4h boundary.
    pub end_ms: i64,
    pub exchange: Exchange,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            n_symbols: 20,
            first_index: 0,
            n_15m: 5000,
            n_4h: 1500,
            seed: 42,
            // 2026-01-01T00:00:00Z.
            end_ms: 1_767_225_600_000,
            exchange: Exchange::Binance,
        }
    }
}

impl SyntheticSpec {
    /// The performance target's load: 500 symbols x (5000 15m + 1500 4h).
    pub fn reference() -> SyntheticSpec {
        SyntheticSpec {
            n_symbols: 500,
            ..SyntheticSpec::default()
        }
    }

    /// The dashboard's embedded sample: `n_symbols` symbols with about ten
    /// days of 15m and fifty days of 4h candles, ending at `now_ms`, spread
    /// as evenly as the count allows over the three exchanges (distinct
    /// assets on each, BINANCE first so it gets BTC, ETH, ...), so the
    /// dashboard's source choice has something to show on every exchange.
    pub fn demo(n_symbols: usize, now_ms: i64) -> Vec<SyntheticSpec> {
        let exchanges = [Exchange::Binance, Exchange::Mexc, Exchange::Hyperliquid];
        let mut first_index = 0;
        exchanges
            .iter()
            .enumerate()
            .map(|(k, &exchange)| {
                // The first `n % 3` exchanges take one symbol more.
                let count =
                    n_symbols / exchanges.len() + usize::from(k < n_symbols % exchanges.len());
                let spec = SyntheticSpec {
                    n_symbols: count,
                    first_index,
                    n_15m: 1000,
                    n_4h: 300,
                    seed: 7,
                    end_ms: now_ms,
                    exchange,
                };
                first_index += count;
                spec
            })
            .filter(|spec| spec.n_symbols > 0)
            .collect()
    }

    /// `end_ms` on the 4h grid, which is also on the 15m grid.
    pub fn aligned_end_ms(&self) -> i64 {
        self.end_ms.div_euclid(Interval::H4.millis()) * Interval::H4.millis()
    }
}

/// One generated symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSeries {
    pub symbol: String,
    pub exchange: Exchange,
    pub ltf: Vec<Candle>,
    pub htf: Vec<Candle>,
}

/// Writes `{SYMBOL}_{EXCHANGE}_15m.json` and `_4h.json` for each symbol into
/// `dir` (created if missing), plus the `SYNTHETIC` marker file that tells
/// readers these are not market data; returns the candle files written.
pub fn generate_dataset(dir: &Path, spec: &SyntheticSpec) -> std::io::Result<Vec<PathBuf>> {
    generate_datasets(dir, std::slice::from_ref(spec))
}

/// Writes the demo data set (`SyntheticSpec::demo`) into `dir`; returns the
/// candle files written.
pub fn generate_demo_dataset(
    dir: &Path,
    n_symbols: usize,
    now_ms: i64,
) -> std::io::Result<Vec<PathBuf>> {
    generate_datasets(dir, &SyntheticSpec::demo(n_symbols, now_ms))
}

/// `generate_dataset` for several specs, with one marker describing them all.
fn generate_datasets(dir: &Path, specs: &[SyntheticSpec]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let description: String = specs.iter().map(|spec| format!("{spec:?}\n")).collect();
    let marker =
        format!("synthetic random-walk candles (quantpro core::synthetic):\n{description}");
    write_atomic(
        &dir.join(quantpro_model::SYNTHETIC_MARKER),
        marker.as_bytes(),
    )
    .map_err(|e| e.source)?;
    let mut paths = Vec::new();
    for spec in specs {
        paths.extend(write_series_files(dir, spec)?);
    }
    Ok(paths)
}

/// The candle files of every symbol of `spec`: generated in parallel,
/// written through the candle store.
fn write_series_files(dir: &Path, spec: &SyntheticSpec) -> std::io::Result<Vec<PathBuf>> {
    let generated: Vec<SyntheticSeries> = (spec.first_index..spec.first_index + spec.n_symbols)
        .into_par_iter()
        .map(|index| generate_series(spec, index))
        .collect();
    let mut store = CandleStore::new(dir);
    let mut paths = Vec::with_capacity(spec.n_symbols * 2);
    for series in generated {
        for (interval, candles) in [(Interval::M15, series.ltf), (Interval::H4, series.htf)] {
            let key = (series.exchange, series.symbol.clone(), interval);
            paths.push(CandleStore::path_of(dir, &key));
            store.replace(key, candles);
        }
    }
    store
        .flush()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(paths)
}

/// Generates symbol number `index` of the asset list in memory (the spec's
/// `first_index` is not added: callers pass the absolute index).
pub fn generate_series(spec: &SyntheticSpec, index: usize) -> SyntheticSeries {
    let asset = asset(index);
    // Decorrelate symbols: each gets its own stream from the seed and its index.
    let mut rng =
        SplitMix64::new(spec.seed ^ (index as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
    let start_price = asset.price * rng.range(0.7, 1.3);
    let grid = PriceGrid::for_price(start_price);
    let steps_per_htf = (Interval::H4.millis() / Interval::M15.millis()) as usize;
    // Enough 15m steps to cover both series, in whole 4h windows ending at end_ms.
    let steps = spec
        .n_15m
        .max(spec.n_4h * steps_per_htf)
        .div_ceil(steps_per_htf)
        * steps_per_htf;
    let end = spec.aligned_end_ms();
    // The LTF series runs on past the last closed 4h candle up to end_ms, so
    // a freshly generated set is not stale; the HTF keeps whole windows only.
    let ltf_end = spec.end_ms.div_euclid(Interval::M15.millis()) * Interval::M15.millis();
    let extra = ((ltf_end - end) / Interval::M15.millis()) as usize;
    let first_open = end - steps as i64 * Interval::M15.millis();
    let ticks = random_walk(&mut rng, start_price, &grid, steps + extra, first_open);
    let htf_ticks: Vec<TickCandle> = ticks[..steps]
        .chunks(steps_per_htf)
        .map(aggregate)
        .collect();
    let steps = steps + extra;
    let to_candles = |slice: &[TickCandle]| -> Vec<Candle> {
        slice.iter().map(|t| t.to_candle(&grid)).collect()
    };
    SyntheticSeries {
        symbol: symbol_name(&asset.name, spec.exchange),
        exchange: spec.exchange,
        ltf: to_candles(&ticks[steps - spec.n_15m.min(steps)..]),
        htf: to_candles(&htf_ticks[htf_ticks.len() - spec.n_4h.min(htf_ticks.len())..]),
    }
}

/// A candle on the price grid: prices in ticks, volume in thousandths.
#[derive(Debug, Clone, Copy)]
struct TickCandle {
    t: i64,
    o: i64,
    h: i64,
    l: i64,
    c: i64,
    v: i64,
}

impl TickCandle {
    fn to_candle(self, grid: &PriceGrid) -> Candle {
        Candle {
            t: self.t,
            o: grid.price(self.o),
            h: grid.price(self.h),
            l: grid.price(self.l),
            c: grid.price(self.c),
            v: self.v as f64 / 1000.0,
        }
    }
}

fn aggregate(window: &[TickCandle]) -> TickCandle {
    TickCandle {
        t: window[0].t,
        o: window[0].o,
        h: window.iter().map(|c| c.h).max().unwrap_or(0),
        l: window.iter().map(|c| c.l).min().unwrap_or(0),
        c: window[window.len() - 1].c,
        v: window.iter().map(|c| c.v).sum(),
    }
}

/// Prices with 6 significant digits at the starting price.
struct PriceGrid {
    decimals: u32,
}

impl PriceGrid {
    fn for_price(price: f64) -> PriceGrid {
        let magnitude = price.log10().floor() as i32;
        PriceGrid {
            decimals: (5 - magnitude).clamp(0, 12) as u32,
        }
    }

    fn scale(&self) -> f64 {
        10f64.powi(self.decimals as i32)
    }

    fn ticks(&self, price: f64) -> i64 {
        (price * self.scale()).round() as i64
    }

    /// The f64 nearest to the decimal `ticks * 10^-decimals` (one correctly rounded division).
    fn price(&self, ticks: i64) -> f64 {
        ticks as f64 / self.scale()
    }
}

/// The market regime of a stretch of candles.
#[derive(Debug, Clone, Copy)]
enum Regime {
    /// Drift per candle in log price.
    Trend(f64),
    /// Pull towards a log-price anchor.
    MeanRevert { anchor: f64, strength: f64 },
}

fn random_walk(
    rng: &mut SplitMix64,
    start: f64,
    grid: &PriceGrid,
    steps: usize,
    first_open: i64,
) -> Vec<TickCandle> {
    let mut walk = Walk::new(rng, start);
    (0..steps)
        .map(|i| walk.step(rng, grid, first_open + i as i64 * Interval::M15.millis()))
        .collect()
}

/// The state of one symbol's random walk between two 15m candles.
struct Walk {
    base_vol: f64,
    notional: f64,
    home: f64,
    log_price: f64,
    close_ticks: Option<i64>,
    start: f64,
    vol_state: f64,
    regime: Regime,
    regime_left: usize,
}

impl Walk {
    fn new(rng: &mut SplitMix64, start: f64) -> Walk {
        let base_vol = rng.range(0.0015, 0.005); // per 15m, in log price
        let notional = rng.range(2e6, 2e7); // USD per 15m
        Walk {
            base_vol,
            notional,
            home: start.ln(),
            log_price: start.ln(),
            close_ticks: None,
            start,
            vol_state: 0.0,
            regime: Regime::Trend(0.0),
            regime_left: 0,
        }
    }

    /// The 15m candle opening at `t`, on `grid`.
    fn step(&mut self, rng: &mut SplitMix64, grid: &PriceGrid, t: i64) -> TickCandle {
        let base_vol = self.base_vol;
        if self.regime_left == 0 {
            self.regime_left = rng.range(48.0, 480.0) as usize;
            self.regime = if rng.next_f64() < 0.45 {
                let sign = if rng.next_f64() < 0.5 { -1.0 } else { 1.0 };
                Regime::Trend(sign * rng.range(0.05, 0.25) * base_vol)
            } else {
                Regime::MeanRevert {
                    anchor: self.log_price,
                    strength: rng.range(0.02, 0.1),
                }
            };
        }
        self.regime_left -= 1;
        // Volatility clusters: an AR(1) in log volatility.
        self.vol_state = 0.99 * self.vol_state + 0.05 * rng.normal();
        let vol = base_vol * self.vol_state.exp();
        let pull = match self.regime {
            Regime::Trend(drift) => drift,
            Regime::MeanRevert { anchor, strength } => -strength * (self.log_price - anchor),
        };
        // A weak pull home keeps a long series within a plausible range.
        let home_pull = -0.0005 * (self.log_price - self.home);
        let jump = if rng.next_f64() < 0.005 {
            4.0 * vol * rng.normal()
        } else {
            0.0
        };
        let ret = pull + home_pull + vol * rng.normal() + jump;
        self.log_price += ret;

        let open = self
            .close_ticks
            .unwrap_or_else(|| grid.ticks(self.start).max(1));
        let close = grid.ticks(self.log_price.exp()).max(1);
        let wick_up = (rng.normal().abs() * vol * 0.6).exp();
        let wick_down = (-rng.normal().abs() * vol * 0.6).exp();
        let high = grid
            .ticks(grid.price(open.max(close)) * wick_up)
            .max(open.max(close));
        let low = grid
            .ticks(grid.price(open.min(close)) * wick_down)
            .clamp(1, open.min(close));
        let volume = self.notional / self.log_price.exp()
            * time_of_day_factor(t)
            * (1.0 + 2.0 * ret.abs() / vol.max(1e-12))
            * (0.4 * rng.normal()).exp();
        self.close_ticks = Some(close);
        TickCandle {
            t,
            o: open,
            h: high,
            l: low,
            c: close,
            v: (volume * 1000.0).round() as i64,
        }
    }
}

/// One symbol's 15m candles produced one at a time, for a market that
/// unfolds as time passes (the live loop's simulated market). The same
/// `(seed, index, exchange, first_open)` always gives the same candles, so a
/// restarted process continues the series it stored.
pub struct SymbolWalk {
    pub symbol: String,
    pub exchange: Exchange,
    rng: SplitMix64,
    grid: PriceGrid,
    walk: Walk,
    next_open: i64,
}

impl SymbolWalk {
    /// Symbol number `index` of the asset list; its first candle opens at
    /// `first_open` (on the 15m grid).
    pub fn new(seed: u64, index: usize, exchange: Exchange, first_open: i64) -> SymbolWalk {
        let asset = asset(index);
        let mut rng =
            SplitMix64::new(seed ^ (index as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
        let start_price = asset.price * rng.range(0.7, 1.3);
        let grid = PriceGrid::for_price(start_price);
        let walk = Walk::new(&mut rng, start_price);
        SymbolWalk {
            symbol: symbol_name(&asset.name, exchange),
            exchange,
            rng,
            grid,
            walk,
            next_open: first_open.div_euclid(Interval::M15.millis()) * Interval::M15.millis(),
        }
    }

    /// Open time of the candle `next` gives.
    pub fn next_open(&self) -> i64 {
        self.next_open
    }

    /// The next 15m candle.
    pub fn next_candle(&mut self) -> Candle {
        let tick = self.walk.step(&mut self.rng, &self.grid, self.next_open);
        self.next_open += Interval::M15.millis();
        tick.to_candle(&self.grid)
    }
}

/// The 4h candle of sixteen consecutive generated 15m candles, exactly as
/// the generated files aggregate them (volumes are on the 0.001 grid, so the
/// rounded sum is the exact one).
pub fn aggregate_walk_candles(window: &[Candle]) -> Option<Candle> {
    let first = window.first()?;
    let last = window.last()?;
    Some(Candle {
        t: first.t,
        o: first.o,
        h: window.iter().map(|c| c.h).fold(f64::MIN, f64::max),
        l: window.iter().map(|c| c.l).fold(f64::MAX, f64::min),
        c: last.c,
        v: (window.iter().map(|c| c.v).sum::<f64>() * 1000.0).round() / 1000.0,
    })
}

/// More trading in the European and US sessions than in the Asian night.
fn time_of_day_factor(t: i64) -> f64 {
    let hour = (t.rem_euclid(86_400_000) as f64) / 3_600_000.0;
    1.0 + 0.4 * ((hour - 15.0) / 24.0 * std::f64::consts::TAU).cos()
}

/// A synthetic asset: its name and starting price.
struct Asset {
    name: String,
    price: f64,
}

/// Starting prices with the spread of real markets' scales (five figures
/// to a hundred-thousandth), so the demo shows every kind of tick size.
const PRICES: &[f64] = &[
    65_000.0, // the scale of BTC
    3_400.0,  // the scale of ETH
    150.0,    // the scale of SOL
    0.55,     // the scale of XRP
    0.14,     // the scale of DOGE
    0.45,     // the scale of ADA
    30.0,     // the scale of AVAX
    14.0,     // the scale of LINK
    6.5,      // the scale of DOT
    75.0,     // the scale of LTC
    580.0,    // the scale of BNB
    0.12,     // the scale of TRX
    8.0,      // the scale of ATOM
    5.0,      // the scale of NEAR
    8.5,      // the scale of APT
    0.9,      // the scale of ARB
    1.8,      // the scale of OP
    1.1,      // the scale of SUI
    25.0,     // the scale of INJ
    7.0,      // the scale of TIA
    0.45,     // the scale of SEI
    2.2,      // the scale of WIF
    0.000011, // the scale of PEPE
    0.000018, // the scale of SHIB
    4.5,      // the scale of FIL
    22.0,     // the scale of ETC
    0.1,      // the scale of XLM
    0.08,     // the scale of HBAR
    9.0,      // the scale of ICP
    95.0,     // the scale of AAVE
];

/// Synthetic asset number `index`: named `SYN000`, `SYN001`, ... on every
/// exchange (`SYN000USDT`, `SYN015_USDT`, `SYN030`), so a screenshot of the
/// simulated market can never pass for a real pair; priced at the scales
/// of `PRICES`, then at random scales from 0.001 to 1000.
fn asset(index: usize) -> Asset {
    let price = PRICES.get(index).copied().unwrap_or_else(|| {
        let mut rng = SplitMix64::new(index as u64);
        10f64.powf(rng.range(-3.0, 3.0))
    });
    Asset {
        name: format!("SYN{index:03}"),
        price,
    }
}

/// True for the name of a generated asset's pair on any exchange
/// (`SYN000USDT`, `SYN015_USDT`, `SYN030`): the simulated market's symbols,
/// which a data directory may hold beside a real market's.
pub fn is_synthetic_symbol(symbol: &str) -> bool {
    let Some(rest) = symbol.strip_prefix("SYN") else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits >= 3 && ["", "USDT", "_USDT"].contains(&&rest[digits..])
}

/// The exchange's spelling of a base asset's USD(T) pair.
fn symbol_name(base: &str, exchange: Exchange) -> String {
    match exchange {
        Exchange::Binance => format!("{base}USDT"),
        Exchange::Mexc => format!("{base}_USDT"),
        Exchange::Hyperliquid => base.to_string(),
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for
/// synthetic prices; no dependency.
pub struct SplitMix64 {
    state: u64,
    spare_normal: Option<f64>,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 {
            state: seed,
            spare_normal: None,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [low, high).
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// Standard normal (Box-Muller; the second value is kept for the next call).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let u1 = 1.0 - self.next_f64(); // (0, 1]: ln is finite
        let u2 = self.next_f64();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        self.spare_normal = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candles::{parse_candles_json, validate_candles};

    fn small() -> SyntheticSpec {
        SyntheticSpec {
            n_symbols: 3,
            n_15m: 700,
            n_4h: 300,
            seed: 11,
            ..SyntheticSpec::default()
        }
    }

    #[test]
    fn series_are_valid_aligned_and_end_at_end_ms() {
        let spec = small();
        for index in 0..spec.n_symbols {
            let s = generate_series(&spec, index);
            assert_eq!((s.ltf.len(), s.htf.len()), (700, 300));
            validate_candles(&s.ltf).unwrap();
            validate_candles(&s.htf).unwrap();
            assert_eq!(
                s.ltf.last().unwrap().t + Interval::M15.millis(),
                spec.end_ms
            );
            assert_eq!(s.htf.last().unwrap().t + Interval::H4.millis(), spec.end_ms);
            assert!(s
                .ltf
                .windows(2)
                .all(|w| w[1].t - w[0].t == Interval::M15.millis()));
            assert!(s.htf.iter().all(|c| c.t % Interval::H4.millis() == 0));
            assert!(
                s.ltf.windows(2).all(|w| w[1].o == w[0].c),
                "each candle opens at the previous close"
            );
        }
    }

    #[test]
    fn an_unaligned_end_keeps_the_ltf_fresh_and_the_htf_closed() {
        let spec = SyntheticSpec {
            end_ms: small().end_ms + 2 * Interval::H1.millis() + 7 * 60_000,
            ..small()
        };
        let s = generate_series(&spec, 0);
        let ltf_close = s.ltf.last().unwrap().t + Interval::M15.millis();
        let htf_close = s.htf.last().unwrap().t + Interval::H4.millis();
        assert_eq!(ltf_close, spec.end_ms - 7 * 60_000);
        assert_eq!(htf_close, spec.aligned_end_ms());
        assert_eq!((s.ltf.len(), s.htf.len()), (700, 300));
        validate_candles(&s.ltf).unwrap();
        assert!(s.ltf.windows(2).all(|w| w[1].o == w[0].c));
    }

    #[test]
    fn htf_candles_aggregate_the_ltf_ones() {
        let spec = small();
        let s = generate_series(&spec, 1);
        let by_time: std::collections::HashMap<i64, &Candle> =
            s.ltf.iter().map(|c| (c.t, c)).collect();
        let mut checked = 0;
        for h in &s.htf {
            let parts: Vec<&Candle> = (0..16)
                .filter_map(|k| by_time.get(&(h.t + k * Interval::M15.millis())).copied())
                .collect();
            if parts.len() < 16 {
                continue; // older than the kept 15m window
            }
            assert_eq!(h.o, parts[0].o);
            assert_eq!(h.c, parts[15].c);
            assert_eq!(h.h, parts.iter().map(|c| c.h).fold(f64::MIN, f64::max));
            assert_eq!(h.l, parts.iter().map(|c| c.l).fold(f64::MAX, f64::min));
            let v: f64 = parts.iter().map(|c| c.v).sum();
            assert!((h.v - v).abs() <= 1e-9 * v.max(1.0));
            checked += 1;
        }
        assert!(
            checked >= 40,
            "700 15m candles cover 43 whole 4h candles, checked {checked}"
        );
    }

    #[test]
    fn series_look_like_markets() {
        let spec = SyntheticSpec {
            n_15m: 5000,
            n_4h: 10,
            ..small()
        };
        let s = generate_series(&spec, 0);
        let returns: Vec<f64> = s.ltf.windows(2).map(|w| (w[1].c / w[0].c).ln()).collect();
        let sd = (returns.iter().map(|r| r * r).sum::<f64>() / returns.len() as f64).sqrt();
        assert!((0.0005..0.02).contains(&sd), "15m volatility {sd}");
        let first = s.ltf[0].c;
        assert!(
            s.ltf.iter().all(|c| c.c > first / 5.0 && c.c < first * 5.0),
            "no runaway prices"
        );
        assert!(s.ltf.iter().all(|c| c.v > 0.0));
        let distinct: std::collections::HashSet<u64> =
            s.ltf.iter().map(|c| c.v.to_bits()).collect();
        assert!(distinct.len() > 4000, "volumes are noisy");
        assert_eq!(s.symbol, "SYN000USDT");
    }

    #[test]
    fn same_seed_same_data_and_files_parse_back_exactly() {
        let spec = small();
        assert_eq!(generate_series(&spec, 2), generate_series(&spec, 2));
        assert_ne!(
            generate_series(&spec, 2).ltf,
            generate_series(
                &SyntheticSpec {
                    seed: 12,
                    ..small()
                },
                2
            )
            .ltf
        );
        let dir = tempfile::tempdir().unwrap();
        let paths = generate_dataset(dir.path(), &spec).unwrap();
        assert_eq!(paths.len(), 6);
        assert!(dir.path().join(quantpro_model::SYNTHETIC_MARKER).is_file());
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            &names[..2],
            ["SYN000USDT_BINANCE_15m.json", "SYN000USDT_BINANCE_4h.json"]
        );
        let parsed = parse_candles_json(&std::fs::read(&paths[0]).unwrap()).unwrap();
        assert_eq!(parsed, generate_series(&spec, 0).ltf);
    }

    #[test]
    fn a_symbol_walk_continues_the_generated_series() {
        let spec = small();
        let series = generate_series(&spec, 1);
        // small(): 300 4h candles = 4800 15m steps ending at the aligned end.
        let steps = 4800;
        let first_open = spec.aligned_end_ms() - steps * Interval::M15.millis();
        let mut walk = SymbolWalk::new(spec.seed, 1, spec.exchange, first_open);
        let walked: Vec<Candle> = (0..steps).map(|_| walk.next_candle()).collect();
        assert_eq!(walk.symbol, series.symbol);
        assert_eq!(&walked[walked.len() - 700..], &series.ltf[..]);
        let htf: Vec<Candle> = walked
            .chunks(16)
            .filter_map(aggregate_walk_candles)
            .collect();
        assert_eq!(htf, series.htf, "the 4h candles aggregate exactly");
        assert_eq!(walk.next_open(), spec.aligned_end_ms());
    }

    #[test]
    fn synthetic_symbols_are_told_from_real_ones() {
        for exchange in [Exchange::Binance, Exchange::Mexc, Exchange::Hyperliquid] {
            assert!(is_synthetic_symbol(&symbol_name(&asset(7).name, exchange)));
            assert!(is_synthetic_symbol(&symbol_name(
                &asset(1234).name,
                exchange
            )));
        }
        for real in [
            "SYNUSDT",
            "SYN_USDT",
            "SYN",
            "BTCUSDT",
            "SYN01USDT",
            "SYN000USDC",
        ] {
            assert!(!is_synthetic_symbol(real), "{real}");
        }
    }

    #[test]
    fn symbol_names_follow_the_exchange() {
        assert_eq!(symbol_name("ETH", Exchange::Mexc), "ETH_USDT");
        assert_eq!(symbol_name("ETH", Exchange::Hyperliquid), "ETH");
        let spec = SyntheticSpec {
            n_symbols: 40,
            n_15m: 10,
            n_4h: 2,
            ..SyntheticSpec::default()
        };
        assert_eq!(generate_series(&spec, 35).symbol, "SYN035USDT");
    }

    #[test]
    fn the_demo_set_spreads_distinct_assets_over_every_exchange() {
        let specs = SyntheticSpec::demo(8, 1_767_225_600_000);
        let shares: Vec<(Exchange, usize, usize)> = specs
            .iter()
            .map(|s| (s.exchange, s.first_index, s.n_symbols))
            .collect();
        assert_eq!(
            shares,
            [
                (Exchange::Binance, 0, 3),
                (Exchange::Mexc, 3, 3),
                (Exchange::Hyperliquid, 6, 2)
            ]
        );
        assert_eq!(SyntheticSpec::demo(1, 0).len(), 1, "no empty part");

        let dir = tempfile::tempdir().unwrap();
        let paths = generate_demo_dataset(dir.path(), 8, 1_767_225_600_000).unwrap();
        let mut ltf: Vec<String> = paths
            .iter()
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .filter(|name| name.ends_with("_15m.json"))
            .collect();
        ltf.sort();
        assert_eq!(
            ltf,
            [
                "SYN000USDT_BINANCE_15m.json",
                "SYN001USDT_BINANCE_15m.json",
                "SYN002USDT_BINANCE_15m.json",
                "SYN003_USDT_MEXC_15m.json",
                "SYN004_USDT_MEXC_15m.json",
                "SYN005_USDT_MEXC_15m.json",
                "SYN006_HYPERLIQUID_15m.json",
                "SYN007_HYPERLIQUID_15m.json",
            ]
        );
        assert_eq!(paths.len(), 16);
        let marker =
            std::fs::read_to_string(dir.path().join(quantpro_model::SYNTHETIC_MARKER)).unwrap();
        assert!(
            marker.contains("Binance") && marker.contains("Mexc") && marker.contains("Hyperliquid"),
            "{marker}"
        );
    }

    #[test]
    fn splitmix_is_uniform_and_normal_has_unit_variance() {
        let mut rng = SplitMix64::new(1);
        let n = 100_000;
        let mean = (0..n).map(|_| rng.next_f64()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01);
        let samples: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let m = samples.iter().sum::<f64>() / n as f64;
        let var = samples.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
        assert!(
            m.abs() < 0.02 && (var - 1.0).abs() < 0.03,
            "mean {m} var {var}"
        );
    }
}
