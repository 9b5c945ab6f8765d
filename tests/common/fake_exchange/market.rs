//! The fake's market: the real candle series per venue, the market clock,
//! the forming candle derived from the final one, and the data faults
//! (revisions, REST gaps, silences, delistings).

use super::Venue;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

const DAY_MS: i64 = 86_400_000;

/// One candle as the data files hold it (open time in ms).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Bar {
    pub t: i64,
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    pub v: f64,
}

impl Bar {
    /// The bar `fraction` (0..=1) into its life: the open is fixed, high,
    /// low, close and volume move linearly to their final values (high
    /// and low only ever widen, as in a real candle).
    pub fn partial(&self, fraction: f64) -> Bar {
        let f = fraction.clamp(0.0, 1.0);
        if f >= 1.0 {
            return *self;
        }
        Bar {
            t: self.t,
            o: self.o,
            h: self.o + (self.h - self.o) * f,
            l: self.o - (self.o - self.l) * f,
            c: self.o + (self.c - self.o) * f,
            v: self.v * f,
        }
    }
}

/// The intervals the data has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Iv {
    M15,
    H1,
    H4,
}

impl Iv {
    pub const ALL: [Iv; 3] = [Iv::M15, Iv::H1, Iv::H4];

    pub fn ms(self) -> i64 {
        match self {
            Iv::M15 => 900_000,
            Iv::H1 => 3_600_000,
            Iv::H4 => 14_400_000,
        }
    }

    /// Binance and Hyperliquid spelling, also the data file suffix.
    pub fn code(self) -> &'static str {
        match self {
            Iv::M15 => "15m",
            Iv::H1 => "1h",
            Iv::H4 => "4h",
        }
    }

    pub fn mexc_code(self) -> &'static str {
        match self {
            Iv::M15 => "Min15",
            Iv::H1 => "Min60",
            Iv::H4 => "Hour4",
        }
    }

    pub fn from_code(code: &str) -> Option<Iv> {
        Iv::ALL.into_iter().find(|iv| iv.code() == code)
    }

    pub fn from_mexc_code(code: &str) -> Option<Iv> {
        Iv::ALL.into_iter().find(|iv| iv.mexc_code() == code)
    }
}

/// Base units per MEXC contract (`contractSize` of `/contract/detail`); a
/// clone has its original's.
pub fn contract_size(symbol: &str) -> f64 {
    match original_symbol(Venue::MexcFutures, symbol).as_str() {
        "BTC_USDT" => 0.0001,
        "ETH_USDT" => 0.01,
        "SOL_USDT" | "AVAX_USDT" | "LINK_USDT" | "LTC_USDT" => 0.1,
        "DOGE_USDT" => 100.0,
        _ => 1.0,
    }
}

type SeriesKey = (Venue, String, Iv);

/// Candle files read once per test binary, shared by every fake.
fn file_cache() -> &'static Mutex<HashMap<PathBuf, Arc<Vec<Bar>>>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Vec<Bar>>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn read_file(name: &str) -> Option<Arc<Vec<Bar>>> {
    let path = super::super::candles_dir().join(name);
    if let Some(bars) = file_cache().lock().unwrap().get(&path) {
        return Some(bars.clone());
    }
    let bytes = std::fs::read(&path).ok()?;
    let bars: Vec<Bar> = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{}: not a candle file: {e}", path.display()));
    let bars = Arc::new(bars);
    file_cache().lock().unwrap().insert(path, bars.clone());
    Some(bars)
}

/// The base asset and quote suffix of a venue's symbol (`BTCUSDT` ->
/// `BTC` + `USDT`, `BTC_USDT` -> `BTC` + `_USDT`, `BTC` -> `BTC` + ``).
fn split_quote(venue: Venue, symbol: &str) -> (&str, &'static str) {
    let quote = match venue {
        Venue::BinanceSpot | Venue::BinanceFutures => "USDT",
        Venue::MexcFutures => "_USDT",
        Venue::Hyperliquid => "",
    };
    (symbol.strip_suffix(quote).unwrap_or(symbol), quote)
}

/// Clone `k` (2, 3, ...) of a real symbol: its base asset with `k`
/// appended (`BTC7USDT`, `BTC7_USDT`, `BTC7`). No real base of the data
/// ends in a digit, so the original is the name without them.
fn clone_name(venue: Venue, symbol: &str, k: usize) -> String {
    let (base, quote) = split_quote(venue, symbol);
    format!("{base}{k}{quote}")
}

/// The real symbol behind a (possibly cloned) symbol.
fn original_symbol(venue: Venue, symbol: &str) -> String {
    let (base, quote) = split_quote(venue, symbol);
    let real = base.trim_end_matches(|c: char| c.is_ascii_digit());
    format!("{}{quote}", if real.is_empty() { base } else { real })
}

/// The data file behind a venue's symbol (a clone reads its original's).
fn file_name(venue: Venue, symbol: &str, iv: Iv) -> String {
    let symbol = &original_symbol(venue, symbol);
    match venue {
        Venue::BinanceSpot | Venue::BinanceFutures => {
            format!("{symbol}_BINANCE_{}.json", iv.code())
        }
        Venue::MexcFutures => format!("{}_BINANCE_{}.json", symbol.replace('_', ""), iv.code()),
        Venue::Hyperliquid => format!("{symbol}_HYPERLIQUID_{}.json", iv.code()),
    }
}

/// The symbols with a 15m file, per venue spelling.
fn list_symbols(venue: Venue) -> BTreeSet<String> {
    let suffix = match venue {
        Venue::Hyperliquid => "_HYPERLIQUID_15m.json",
        _ => "_BINANCE_15m.json",
    };
    let dir = super::super::candles_dir();
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir)
        .expect("candle dir readable")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(symbol) = name.strip_suffix(suffix) else {
            continue;
        };
        match venue {
            Venue::MexcFutures => {
                if let Some(base) = symbol.strip_suffix("USDT") {
                    out.insert(format!("{base}_USDT"));
                }
            }
            _ => {
                out.insert(symbol.to_string());
            }
        }
    }
    out
}

/// The venue's real symbols, then clones of them by name (round robin,
/// `BTC2USDT`, `ETH2USDT`, ..., `BTC3USDT`, ...) until there are `count`;
/// `None`: the real ones only.
fn venue_symbols(venue: Venue, count: Option<usize>) -> BTreeSet<String> {
    let real: Vec<String> = list_symbols(venue).into_iter().collect();
    let mut out: BTreeSet<String> = real.iter().cloned().collect();
    let Some(count) = count else {
        return out;
    };
    'clones: for k in 2.. {
        for symbol in &real {
            if out.len() >= count {
                break 'clones;
            }
            out.insert(clone_name(venue, symbol, k));
        }
    }
    out
}

/// Faults on the data, by key.
#[derive(Debug, Default)]
struct DataFaults {
    revisions: HashMap<(Venue, String, Iv, i64), Bar>,
    gaps: Vec<(SeriesKey, i64, i64)>,
    silences: Vec<(SeriesKey, i64, i64)>,
    /// Bars (by open time) the streams never push.
    hidden: Vec<(SeriesKey, i64)>,
    delisted: BTreeMap<(Venue, String), i64>,
}

/// 24 h figures of a symbol, from its last 96 closed 15m candles.
#[derive(Debug, Clone, Copy)]
pub struct DayStats {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub last: f64,
    pub base_volume: f64,
    pub quote_volume: f64,
    pub open_time: i64,
    pub close_time: i64,
}

pub struct Market {
    epoch_ms: i64,
    epoch: Instant,
    speed: f64,
    symbols: BTreeMap<Venue, BTreeSet<String>>,
    /// Hyperliquid's data is a year later than Binance's: shifted by whole days.
    shift_ms: BTreeMap<Venue, i64>,
    series: Mutex<HashMap<SeriesKey, Arc<Vec<Bar>>>>,
    faults: Mutex<DataFaults>,
}

/// First open time of a file, floored to a day.
fn first_day(name: &str) -> Option<i64> {
    let bars = read_file(name)?;
    Some(bars.first()?.t.div_euclid(DAY_MS) * DAY_MS)
}

impl Market {
    /// The market at `start_ms` running `speed` times tokio's clock, with
    /// `symbols_per_venue` symbols per venue (clones of the real ones by
    /// name beyond them, see [`super::FakeConfig::symbols_per_venue`]).
    pub(crate) fn new(
        start_ms: Option<i64>,
        speed: f64,
        symbols_per_venue: Option<usize>,
    ) -> Market {
        assert!(speed.is_finite() && speed > 0.0, "speed must be positive");
        let origin = first_day("BTCUSDT_BINANCE_15m.json")
            .expect("BTCUSDT_BINANCE_15m.json in the candle data");
        let hl_shift = first_day("BTC_HYPERLIQUID_15m.json").map_or(0, |d| origin - d);
        let first_15m = read_file("BTCUSDT_BINANCE_15m.json").unwrap()[0].t;
        let shift_ms = Venue::ALL
            .into_iter()
            .map(|v| (v, if v == Venue::Hyperliquid { hl_shift } else { 0 }))
            .collect();
        Market {
            epoch_ms: start_ms.unwrap_or(first_15m + 2000 * Iv::M15.ms()),
            epoch: Instant::now(),
            speed,
            symbols: Venue::ALL
                .into_iter()
                .map(|v| (v, venue_symbols(v, symbols_per_venue)))
                .collect(),
            shift_ms,
            series: Mutex::new(HashMap::new()),
            faults: Mutex::new(DataFaults::default()),
        }
    }

    pub fn epoch_ms(&self) -> i64 {
        self.epoch_ms
    }

    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Market time now: `epoch_ms + elapsed x speed`, in whole ms.
    pub fn now_ms(&self) -> i64 {
        let ns = Instant::now()
            .saturating_duration_since(self.epoch)
            .as_nanos() as f64;
        self.epoch_ms + (ns * self.speed / 1e6).floor() as i64
    }

    /// The tokio instant at which the market clock shows `ms`.
    pub fn instant_at(&self, ms: i64) -> Instant {
        let ahead = (ms - self.epoch_ms).max(0) as f64;
        self.epoch + Duration::from_nanos(((ahead * 1e6 / self.speed).ceil() + 1.0) as u64)
    }

    /// The shift applied to a venue's data (0 but for Hyperliquid).
    pub fn shift_ms(&self, venue: Venue) -> i64 {
        self.shift_ms[&venue]
    }

    /// Every symbol the venue has data for (listed or not).
    pub fn all_symbols(&self, venue: Venue) -> Vec<String> {
        self.symbols[&venue].iter().cloned().collect()
    }

    /// The symbols currently listed.
    pub fn listed(&self, venue: Venue) -> Vec<String> {
        let faults = self.faults.lock().unwrap();
        self.symbols[&venue]
            .iter()
            .filter(|s| !faults.delisted.contains_key(&(venue, s.to_string())))
            .cloned()
            .collect()
    }

    pub fn knows(&self, venue: Venue, symbol: &str) -> bool {
        self.symbols[&venue].contains(symbol)
    }

    pub fn is_listed(&self, venue: Venue, symbol: &str) -> bool {
        self.knows(venue, symbol)
            && !self
                .faults
                .lock()
                .unwrap()
                .delisted
                .contains_key(&(venue, symbol.to_string()))
    }

    /// The whole series of a key as served (shifted, unrevised, a clone's
    /// its original's), oldest first.
    pub fn series(&self, venue: Venue, symbol: &str, iv: Iv) -> Option<Arc<Vec<Bar>>> {
        if !self.knows(venue, symbol) {
            return None;
        }
        // Clones share their original's bars (one copy for any number).
        let key = (venue, original_symbol(venue, symbol), iv);
        if let Some(bars) = self.series.lock().unwrap().get(&key) {
            return Some(bars.clone());
        }
        let raw = read_file(&file_name(venue, symbol, iv))?;
        let shift = self.shift_ms(venue);
        let bars: Arc<Vec<Bar>> = Arc::new(
            raw.iter()
                .map(|b| Bar {
                    t: b.t + shift,
                    ..*b
                })
                .collect(),
        );
        self.series.lock().unwrap().insert(key, bars.clone());
        Some(bars)
    }

    /// The final candle opening at `t`, with any revision.
    pub fn final_bar(&self, venue: Venue, symbol: &str, iv: Iv, t: i64) -> Option<Bar> {
        if let Some(bar) =
            self.faults
                .lock()
                .unwrap()
                .revisions
                .get(&(venue, symbol.to_string(), iv, t))
        {
            return Some(*bar);
        }
        let series = self.series(venue, symbol, iv)?;
        let first = series.first()?.t;
        let index = usize::try_from((t - first).div_euclid(iv.ms())).ok()?;
        series.get(index).filter(|b| b.t == t).copied()
    }

    /// The candle forming at market time `now` (if the data reaches it).
    pub fn forming(&self, venue: Venue, symbol: &str, iv: Iv, now: i64) -> Option<Bar> {
        let t = now.div_euclid(iv.ms()) * iv.ms();
        let bar = self.final_bar(venue, symbol, iv, t)?;
        Some(bar.partial((now - t) as f64 / iv.ms() as f64))
    }

    /// The candles REST serves at `now`: closed ones (revised, gaps
    /// removed), then the forming one if `with_forming`.
    pub fn rest_bars(
        &self,
        venue: Venue,
        symbol: &str,
        iv: Iv,
        now: i64,
        with_forming: bool,
    ) -> Vec<Bar> {
        let Some(series) = self.series(venue, symbol, iv) else {
            return Vec::new();
        };
        let faults = self.faults.lock().unwrap();
        let in_gap = |t: i64| {
            faults.gaps.iter().any(|((v, s, i), from, to)| {
                *v == venue && s == symbol && *i == iv && t >= *from && t < *to
            })
        };
        let mut out: Vec<Bar> = Vec::new();
        for bar in series.iter() {
            if bar.t > now || in_gap(bar.t) {
                continue;
            }
            let closed = bar.t + iv.ms() <= now;
            if !closed && !with_forming {
                continue;
            }
            let bar = faults
                .revisions
                .get(&(venue, symbol.to_string(), iv, bar.t))
                .copied()
                .unwrap_or(*bar);
            out.push(if closed {
                bar
            } else {
                bar.partial((now - bar.t) as f64 / iv.ms() as f64)
            });
        }
        out
    }

    /// The 24 h figures at `now` (None without data).
    pub fn day_stats(&self, venue: Venue, symbol: &str, now: i64) -> Option<DayStats> {
        let bars = self.rest_bars(venue, symbol, Iv::M15, now, false);
        let day: Vec<&Bar> = bars.iter().rev().take(96).collect();
        let last = day.first()?;
        let first = day.last()?;
        Some(DayStats {
            open: first.o,
            high: day.iter().map(|b| b.h).fold(f64::MIN, f64::max),
            low: day.iter().map(|b| b.l).fold(f64::MAX, f64::min),
            last: last.c,
            base_volume: day.iter().map(|b| b.v).sum(),
            quote_volume: day.iter().map(|b| b.v * b.c).sum(),
            open_time: first.t,
            close_time: last.t + Iv::M15.ms() - 1,
        })
    }

    pub(crate) fn revise(&self, venue: Venue, symbol: &str, iv: Iv, t: i64, delta: f64) -> Bar {
        let mut bar = self
            .final_bar(venue, symbol, iv, t)
            .unwrap_or_else(|| panic!("no candle {t} of {symbol} {iv:?} to revise"));
        bar.c += delta;
        bar.h = bar.h.max(bar.c);
        bar.l = bar.l.min(bar.c);
        bar.v *= 1.01;
        self.faults
            .lock()
            .unwrap()
            .revisions
            .insert((venue, symbol.to_string(), iv, t), bar);
        bar
    }

    pub(crate) fn silence(&self, venue: Venue, symbol: &str, iv: Iv, from: i64, to: i64) {
        self.faults
            .lock()
            .unwrap()
            .silences
            .push(((venue, symbol.to_string(), iv), from, to));
    }

    /// No pushes for this key at market time `at`.
    pub fn silenced(&self, venue: Venue, symbol: &str, iv: Iv, at: i64) -> bool {
        self.faults
            .lock()
            .unwrap()
            .silences
            .iter()
            .any(|((v, s, i), from, to)| {
                *v == venue && s == symbol && *i == iv && at >= *from && at < *to
            })
    }

    pub(crate) fn hide(&self, venue: Venue, symbol: &str, iv: Iv, t: i64) {
        self.faults
            .lock()
            .unwrap()
            .hidden
            .push(((venue, symbol.to_string(), iv), t));
    }

    /// The streams never push the bar of this key opening at `t`.
    pub fn hidden(&self, venue: Venue, symbol: &str, iv: Iv, t: i64) -> bool {
        self.faults
            .lock()
            .unwrap()
            .hidden
            .iter()
            .any(|((v, s, i), at)| *v == venue && s == symbol && *i == iv && *at == t)
    }

    pub(crate) fn gap(&self, venue: Venue, symbol: &str, iv: Iv, from: i64, to: i64) {
        self.faults
            .lock()
            .unwrap()
            .gaps
            .push(((venue, symbol.to_string(), iv), from, to));
    }

    pub(crate) fn delist(&self, venue: Venue, symbol: &str) {
        let now = self.now_ms();
        self.faults
            .lock()
            .unwrap()
            .delisted
            .insert((venue, symbol.to_string()), now);
    }
}
