//! The shared context of one symbol (STRATEGIES.md §2): both candle series,
//! every indicator, the HTF summary, the LTF values the strategies read and
//! the symbol's external data with availability flags.
//!
//! Built once per symbol by the scan, then read by all three strategies, so
//! nothing is computed twice and every strategy sees the same numbers. The
//! replay (`core::backtest`) keeps one context per symbol and grows its
//! series candle by candle (`from_series`, `refresh`), so at each close it
//! holds exactly what `build` would make of the data known then.

use crate::indicators::{
    cardwell_range, compute_all, obv_slope, oi_z_score, resistance_trendline, support_trendline,
    IndicatorSet, OiZScore, TrendlineParams,
};
use quantpro_model::external::{ExternalData, Liquidations};
use quantpro_model::Candle;
use quantpro_model::{
    Bias, BreakoutType, CardwellRange, Exchange, HtfSummary, LtfSummary, MarketMetadata,
    OiMetadata, RsiTrendline, ScannerConfig, Side, Staleness, Trend,
};

/// Everything the strategies know about one symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedContext {
    pub symbol: String,
    pub exchange: Exchange,
    /// Closed 15m candles, oldest first.
    pub ltf: Vec<Candle>,
    /// Closed 4h candles, oldest first.
    pub htf: Vec<Candle>,
    pub ltf_indicators: IndicatorSet,
    pub htf_indicators: IndicatorSet,
    pub htf_summary: HtfSummary,
    pub ltf_state: LtfState,
    pub external: ExternalContext,
    /// Scan time, Unix ms.
    pub now_ms: i64,
}

/// The newest LTF values and the derived indicators over the LTF series.
#[derive(Debug, Clone, PartialEq)]
pub struct LtfState {
    /// Last close (0 for an empty series, which the scan never builds).
    pub close: f64,
    pub rsi: Option<f64>,
    /// RSI of the candle before the last: Legacy's "RSI turning" test.
    pub prev_rsi: Option<f64>,
    pub atr: Option<f64>,
    pub ema20: Option<f64>,
    pub ema50: Option<f64>,
    pub obv_slope: f64,
    pub cardwell_range: CardwellRange,
    pub resistance: Option<RsiTrendline>,
    pub support: Option<RsiTrendline>,
    pub last_candle_time: Option<i64>,
    pub stale: bool,
}

/// The symbol's derivatives and market data; each part has an availability flag.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalContext {
    /// `valid: false` and value 0 without (enough) OI history.
    pub oi_z: OiZScore,
    pub oi_available: bool,
    pub funding_rate: Option<f64>,
    pub ls_ratio: Option<f64>,
    pub liquidations_24h: Option<Liquidations>,
    pub oi_metadata: OiMetadata,
    pub market: Option<MarketMetadata>,
}

/// Which RSI trendlines are broken now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakoutRead {
    None,
    Up,
    Down,
    /// Both lines broke: no direction.
    Both,
}

/// Both candle series of a symbol with their indicators, index-aligned
/// (`ltf_indicators` is `compute_all(&ltf)`, likewise for the HTF).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeriesWithIndicators {
    pub ltf: Vec<Candle>,
    pub htf: Vec<Candle>,
    pub ltf_indicators: IndicatorSet,
    pub htf_indicators: IndicatorSet,
}

impl SharedContext {
    /// Computes every indicator of both series and the summaries.
    pub fn build(
        symbol: &str,
        exchange: Exchange,
        ltf: Vec<Candle>,
        htf: Vec<Candle>,
        external: Option<&ExternalData>,
        config: &ScannerConfig,
        now_ms: i64,
    ) -> SharedContext {
        let series = SeriesWithIndicators {
            ltf_indicators: compute_all(&ltf),
            htf_indicators: compute_all(&htf),
            ltf,
            htf,
        };
        let external = ExternalContext::from_data(external, config.indicators.oi_z_window);
        SharedContext::from_series(symbol, exchange, series, external, config, now_ms)
    }

    /// The context of series whose indicators are already computed: the
    /// summaries and LTF state are derived here, as `build` does after
    /// computing them. The replay grows such series one candle at a time
    /// (`core::backtest::WalkForward`) instead of recomputing them per close.
    pub fn from_series(
        symbol: &str,
        exchange: Exchange,
        series: SeriesWithIndicators,
        external: ExternalContext,
        config: &ScannerConfig,
        now_ms: i64,
    ) -> SharedContext {
        let SeriesWithIndicators {
            ltf,
            htf,
            ltf_indicators,
            htf_indicators,
        } = series;
        let htf_summary = htf_summary(&htf, &htf_indicators);
        let ltf_state = ltf_state(&ltf, &ltf_indicators, config, now_ms);
        SharedContext {
            symbol: symbol.to_string(),
            exchange,
            ltf,
            htf,
            ltf_indicators,
            htf_indicators,
            htf_summary,
            ltf_state,
            external,
            now_ms,
        }
    }

    /// Derives the HTF summary and the LTF state again from the series held
    /// (after they grew), judged at `now_ms`. Costs a few hundred values
    /// (the trendline lookback), not the length of the series.
    pub fn refresh(&mut self, config: &ScannerConfig, now_ms: i64) {
        self.htf_summary = htf_summary(&self.htf, &self.htf_indicators);
        self.ltf_state = ltf_state(&self.ltf, &self.ltf_indicators, config, now_ms);
        self.now_ms = now_ms;
    }

    /// Fewer closed LTF candles than `data.min_ltf_candles` makes every strategy wait.
    pub fn has_enough_data(&self, config: &ScannerConfig) -> bool {
        self.ltf.len() >= config.data.min_ltf_candles
    }

    /// Which trendlines are broken.
    pub fn breakout(&self) -> BreakoutRead {
        let up = self.ltf_state.resistance.as_ref().is_some_and(|l| l.broken);
        let down = self.ltf_state.support.as_ref().is_some_and(|l| l.broken);
        match (up, down) {
            (false, false) => BreakoutRead::None,
            (true, false) => BreakoutRead::Up,
            (false, true) => BreakoutRead::Down,
            (true, true) => BreakoutRead::Both,
        }
    }

    /// The breakout as the signal reports it (null for none or both).
    pub fn breakout_type(&self) -> Option<BreakoutType> {
        match self.breakout() {
            BreakoutRead::Up => Some(BreakoutType::ResistanceBreak),
            BreakoutRead::Down => Some(BreakoutType::SupportBreak),
            BreakoutRead::None | BreakoutRead::Both => None,
        }
    }

    /// The signal's `ltf` block.
    pub fn ltf_summary(&self) -> LtfSummary {
        let s = &self.ltf_state;
        LtfSummary {
            rsi: s.rsi,
            bias: ltf_bias(s),
            cardwell_range: s.cardwell_range,
            obv_slope: s.obv_slope,
            atr: s.atr,
            ema20: s.ema20,
            ema50: s.ema50,
            last_candle_time: s.last_candle_time,
            stale: s.stale,
        }
    }
}

/// The value at the last index, if defined and finite.
pub fn last_value(series: &[Option<f64>]) -> Option<f64> {
    series.last().copied().flatten().filter(|v| v.is_finite())
}

/// HTF trend and bias from close, EMA50 and EMA200 (EMA200 only exists with
/// 200 candles, as the EMA's first defined index is 199).
pub fn htf_summary(htf: &[Candle], indicators: &IndicatorSet) -> HtfSummary {
    let close = htf.last().map(|c| c.c);
    let ema50 = last_value(&indicators.ema50);
    let ema200 = last_value(&indicators.ema200);
    let trend = match (close, ema50, ema200) {
        (Some(c), Some(e50), Some(e200)) if c > e50 && e50 > e200 => Trend::Up,
        (Some(c), Some(e50), Some(e200)) if c < e50 && e50 < e200 => Trend::Down,
        (Some(c), Some(e50), None) if c > e50 => Trend::Up,
        (Some(c), Some(e50), None) if c < e50 => Trend::Down,
        _ => Trend::Range,
    };
    let bias = match trend {
        Trend::Up => Bias::Long,
        Trend::Down => Bias::Short,
        Trend::Range => Bias::None,
    };
    HtfSummary {
        trend,
        bias,
        adx: last_value(&indicators.adx14),
        ema50,
        ema200,
    }
}

fn ltf_state(
    ltf: &[Candle],
    indicators: &IndicatorSet,
    config: &ScannerConfig,
    now_ms: i64,
) -> LtfState {
    let cfg = &config.indicators;
    // The slope reads only the newest `obv_slope_window` volumes (aligned at
    // the end with the OBV), so only those are gathered.
    let recent = &ltf[ltf.len().saturating_sub(cfg.obv_slope_window)..];
    let volumes: Vec<f64> = recent.iter().map(|c| c.v).collect();
    let slope = obv_slope(&indicators.obv, &volumes, cfg.obv_slope_window);
    let params = TrendlineParams {
        pivot_span: cfg.pivot_span,
        lookback: cfg.trendline_lookback,
        tolerance: cfg.trendline_tolerance,
        break_window: cfg.break_window,
    };
    let rsi = &indicators.rsi14;
    let last_candle_time = ltf.last().map(|c| c.t);
    LtfState {
        close: ltf.last().map_or(0.0, |c| c.c),
        rsi: last_value(rsi),
        prev_rsi: rsi
            .len()
            .checked_sub(2)
            .and_then(|i| rsi[i])
            .filter(|v| v.is_finite()),
        atr: last_value(&indicators.atr14),
        ema20: last_value(&indicators.ema20),
        ema50: last_value(&indicators.ema50),
        obv_slope: if slope.is_finite() { slope } else { 0.0 },
        cardwell_range: cardwell_range(rsi, cfg.cardwell_window),
        resistance: resistance_trendline(rsi, &params),
        support: support_trendline(rsi, &params),
        last_candle_time,
        stale: last_candle_time.is_some_and(|t| Staleness::ltf(&config.data).is_stale(t, now_ms)),
    }
}

/// The LTF bias shown in the `ltf` block: LONG when EMA20 is above EMA50 and
/// the close above EMA50 (the structure score's two conditions), SHORT for
/// the mirror, otherwise NONE.
fn ltf_bias(s: &LtfState) -> Bias {
    match (s.ema20, s.ema50) {
        (Some(e20), Some(e50)) if e20 > e50 && s.close > e50 => Bias::Long,
        (Some(e20), Some(e50)) if e20 < e50 && s.close < e50 => Bias::Short,
        _ => Bias::None,
    }
}

impl ExternalContext {
    /// Availability flags from what the data holds; non-finite values count as absent.
    pub fn from_data(data: Option<&ExternalData>, oi_z_window: usize) -> ExternalContext {
        let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
        let Some(data) = data else {
            return ExternalContext::unavailable();
        };
        let history = data.oi_history.as_deref().filter(|h| !h.is_empty());
        let oi_z = match history {
            Some(h) => {
                let z = oi_z_score(h, oi_z_window);
                if z.valid && z.value.is_finite() {
                    z
                } else {
                    OiZScore {
                        value: 0.0,
                        valid: false,
                    }
                }
            }
            None => OiZScore {
                value: 0.0,
                valid: false,
            },
        };
        ExternalContext {
            oi_z,
            oi_available: history.is_some(),
            funding_rate: finite(data.funding_rate),
            ls_ratio: finite(data.ls_ratio),
            liquidations_24h: data
                .liquidations_24h
                .filter(|l| l.long.is_finite() && l.short.is_finite()),
            oi_metadata: OiMetadata {
                value: finite(data.oi_metadata.value),
                ..data.oi_metadata.clone()
            },
            market: data.market.as_ref().map(|m| MarketMetadata {
                mcap: finite(m.mcap),
                vol_24h: finite(m.vol_24h),
            }),
        }
    }

    /// No Coinalyze data at all: OI invalid, everything unavailable, status `neutral`.
    pub fn unavailable() -> ExternalContext {
        ExternalContext {
            oi_z: OiZScore {
                value: 0.0,
                valid: false,
            },
            oi_available: false,
            funding_rate: None,
            ls_ratio: None,
            liquidations_24h: None,
            oi_metadata: OiMetadata::default(),
            market: None,
        }
    }
}

/// +1 / -1 / 0: the sign a metric must share with `dir`.
pub fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Whether `x` points the way `side` does (zero points nowhere).
pub fn agrees(x: f64, side: Side) -> bool {
    sign(x) == side.sign()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use quantpro_model::{Interval, OiStatus};

    /// A gently rising series: `n` closed 15m candles ending before `now`.
    pub(crate) fn rising(
        n: usize,
        start: f64,
        step: f64,
        interval: Interval,
        end_ms: i64,
    ) -> Vec<Candle> {
        (0..n)
            .map(|i| {
                let o = start + step * i as f64 + if i % 3 == 0 { -step * 2.0 } else { step * 0.5 };
                let c = start + step * (i as f64 + 1.0);
                Candle {
                    t: end_ms - (n - i) as i64 * interval.millis(),
                    o,
                    h: o.max(c) + step,
                    l: o.min(c) - step,
                    c,
                    v: 100.0 + (i % 7) as f64,
                }
            })
            .collect()
    }

    #[test]
    fn htf_trend_follows_close_and_emas() {
        let now = 1_700_000_000_000 / Interval::H4.millis() * Interval::H4.millis();
        let up = rising(250, 100.0, 1.0, Interval::H4, now);
        let s = htf_summary(&up, &compute_all(&up));
        assert_eq!((s.trend, s.bias), (Trend::Up, Bias::Long));
        assert!(s.ema200.is_some() && s.adx.is_some());

        let down: Vec<Candle> = rising(250, 100.0, 1.0, Interval::H4, now)
            .into_iter()
            .map(|c| Candle {
                o: 400.0 - c.o,
                c: 400.0 - c.c,
                h: 400.0 - c.l,
                l: 400.0 - c.h,
                ..c
            })
            .collect();
        let s = htf_summary(&down, &compute_all(&down));
        assert_eq!((s.trend, s.bias), (Trend::Down, Bias::Short));

        // 60 candles: EMA200 undefined, close above EMA50 still makes UP.
        let short = rising(60, 100.0, 1.0, Interval::H4, now);
        let s = htf_summary(&short, &compute_all(&short));
        assert_eq!((s.trend, s.ema200), (Trend::Up, None));

        // 10 candles: no EMA50, so RANGE.
        let tiny = rising(10, 100.0, 1.0, Interval::H4, now);
        let s = htf_summary(&tiny, &compute_all(&tiny));
        assert_eq!((s.trend, s.bias, s.adx), (Trend::Range, Bias::None, None));
    }

    #[test]
    fn stale_flag_and_last_candle_time() {
        let config = ScannerConfig::default();
        let m15 = Interval::M15.millis();
        let end = 1_700_000_100_000 / m15 * m15;
        let ltf = rising(60, 100.0, 0.1, Interval::M15, end);
        let last = ltf.last().unwrap().t;
        let fresh = SharedContext::build(
            "X",
            Exchange::Binance,
            ltf.clone(),
            vec![],
            None,
            &config,
            end + 1,
        );
        assert_eq!(fresh.ltf_summary().last_candle_time, Some(last));
        assert!(!fresh.ltf_summary().stale);
        let old = SharedContext::build(
            "X",
            Exchange::Binance,
            ltf,
            vec![],
            None,
            &config,
            last + 2 * m15 + 1,
        );
        assert!(old.ltf_summary().stale);
    }

    #[test]
    fn external_data_sets_availability_flags() {
        let none = ExternalContext::from_data(None, 24);
        assert_eq!(
            (none.oi_available, none.oi_z.valid, none.oi_metadata.status),
            (false, false, OiStatus::Neutral)
        );

        let history: Vec<f64> = (0..30)
            .map(|i| 1000.0 + (i % 5) as f64 * 10.0 + if i == 29 { 100.0 } else { 0.0 })
            .collect();
        let data = ExternalData {
            oi_history: Some(history),
            funding_rate: Some(f64::NAN),
            ls_ratio: Some(1.2),
            liquidations_24h: Some(Liquidations {
                long: 5.0,
                short: 7.0,
            }),
            oi_metadata: OiMetadata {
                status: OiStatus::Aggregated,
                coinalyze_symbol: Some("BTCUSDT_PERP.A".into()),
                value: Some(1.0),
                stale: Vec::new(),
            },
            market: None,
        };
        let ctx = ExternalContext::from_data(Some(&data), 24);
        assert!(ctx.oi_available && ctx.oi_z.valid && ctx.oi_z.value > 2.0);
        assert_eq!(ctx.funding_rate, None, "a NaN funding rate is unavailable");
        assert_eq!(ctx.ls_ratio, Some(1.2));
        assert_eq!(ctx.oi_metadata.status, OiStatus::Aggregated);

        let short = ExternalData {
            oi_history: Some(vec![1.0; 5]),
            ..Default::default()
        };
        let ctx = ExternalContext::from_data(Some(&short), 24);
        assert!(ctx.oi_available && !ctx.oi_z.valid && ctx.oi_z.value == 0.0);
    }
}
