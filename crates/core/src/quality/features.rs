//! What the model learns from: for every trade the backtest replays
//! (STRATEGIES.md §6), the features of its signal as they were known at
//! the close of the signal's candle, and its label (win: R > 0).
//!
//! [`signal_features`] reads only the signal and the context it was
//! computed from, and refuses a context that holds a candle after the
//! signal's (a feature computed after the close cannot be built).
//! [`replay_labelled`] walks each symbol exactly as the backtest does
//! (`WalkForward`, `TradeBook`, the same strategies, the same derivatives)
//! and keeps, for each trade the book opens, the features of the signal
//! that opened it: the trades are the backtest's (a test holds them equal).

use crate::backtest::{
    first_replayed, BacktestError, BacktestRequest, HistoricalDerivatives, WalkForward,
};
use crate::candles::display_name;
use crate::context::{ExternalContext, SharedContext};
use crate::scan::{load_target, plan_scan, ScanError, ScanRequest, SkippedFile, LTF};
use crate::strategies::evaluate;
use crate::track::{sort_trades, TradeBook};
use quantpro_model::{
    canonical_symbol, Bias, BreakoutType, Candle, CardwellRange, Exchange, ScannerConfig, Side,
    Signal, Strategy, Trade, Trend,
};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// The features, in the order of every feature vector. "aligned" features
/// are signed by the trade's side: +1 (or a positive value) favours the
/// trade's direction, -1 opposes it.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "strategy_breakout",
    "strategy_breakout_v2",
    "side_long",
    "total_score",
    "trend_score",
    "structure_score",
    "money_flow_score",
    "timing_score",
    "rsi",
    "rsi_available",
    "htf_adx",
    "htf_adx_available",
    "obv_slope_aligned",
    "cardwell_overbought",
    "cardwell_oversold",
    "cardwell_bullish",
    "cardwell_bearish",
    "cardwell_transition",
    "breakout_aligned",
    "htf_bias_aligned",
    "htf_trend_aligned",
    "ltf_bias_aligned",
    "atr_pct",
    "atr_available",
    "rr",
    "stop_atr",
    "volume_rel",
    "hour_sin",
    "hour_cos",
    "oi_z",
    "oi_z_valid",
    "funding_aligned",
    "funding_available",
    "ls_ratio_log",
    "ls_ratio_available",
    "liquidations_aligned",
    "liquidations_available",
];

/// The number of features.
pub const FEATURES: usize = 37;

/// Candles of the volume mean that `volume_rel` divides by (the newest included).
pub const VOLUME_WINDOW: usize = 20;

/// One feature vector, in [`FEATURE_NAMES`] order.
pub type Features = [f64; FEATURES];

/// A replayed trade with the features of the signal that opened it.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledTrade {
    pub trade: Trade,
    /// The canonical asset (`BTC` for `BTCUSDT` and Hyperliquid's `BTC`):
    /// the leave-symbols-out split keeps an asset's venues together.
    pub asset: String,
    pub features: Features,
}

impl LabelledTrade {
    /// The label: true when the trade closed with R > 0, `None` while open.
    pub fn win(&self) -> Option<bool> {
        self.trade.r.map(|r| r > 0.0)
    }

    /// When the signal fired: the close of its candle (Unix ms).
    pub fn signal_at(&self) -> i64 {
        self.trade.opened_at + LTF.millis()
    }

    /// When the outcome became known: the close of the resolution candle;
    /// `None` while open.
    pub fn resolved_at(&self) -> Option<i64> {
        self.trade.closed_at.map(|t| t + LTF.millis())
    }
}

/// Why a signal's features could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureError {
    #[error("the signal has no trade setup (it does not act)")]
    NoSetup,
    #[error(
        "the context's newest candle ({context:?}) is not the signal's ({signal:?}): features are read at the signal's close only"
    )]
    NotAtClose {
        signal: Option<i64>,
        context: Option<i64>,
    },
}

/// The features of an acting signal at the close of its candle, from the
/// signal and the context it was computed from (LTF candles up to and
/// including the signal's, the HTF candles closed by then, the external
/// data known then).
pub fn signal_features(signal: &Signal, ctx: &SharedContext) -> Result<Features, FeatureError> {
    let setup = signal.setup.as_ref().ok_or(FeatureError::NoSetup)?;
    let context_last = ctx.ltf.last().map(|c| c.t);
    if signal.ltf.last_candle_time.is_none() || context_last != signal.ltf.last_candle_time {
        return Err(FeatureError::NotAtClose {
            signal: signal.ltf.last_candle_time,
            context: context_last,
        });
    }
    let side = match setup.side {
        Side::Long => 1.0,
        Side::Short => -1.0,
    };
    let bias = |b: Bias| match b {
        Bias::Long => side,
        Bias::Short => -side,
        Bias::None => 0.0,
    };
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let composition = &signal.observability.score_composition;
    let price = if signal.price > 0.0 {
        signal.price
    } else {
        setup.entry
    };
    let atr = signal.ltf.atr.filter(|a| *a > 0.0);
    let recent = &ctx.ltf[ctx.ltf.len().saturating_sub(VOLUME_WINDOW)..];
    let mean_volume = recent.iter().map(|c| c.v).sum::<f64>() / recent.len() as f64;
    let volume_rel = match ctx.ltf.last() {
        Some(last) if mean_volume > 0.0 => last.v / mean_volume,
        _ => 1.0,
    };
    let hour = (signal.ltf.last_candle_time.unwrap_or(0) + LTF.millis()).rem_euclid(86_400_000)
        as f64
        / 3_600_000.0;
    let angle = hour / 24.0 * std::f64::consts::TAU;
    let external = &ctx.external;
    let liquidations = external
        .liquidations_24h
        .as_ref()
        .filter(|l| l.long + l.short > 0.0);
    let ls_ratio = external.ls_ratio.filter(|r| *r > 0.0);
    let features: Features = [
        flag(signal.strategy == Strategy::Breakout),
        flag(signal.strategy == Strategy::BreakoutV2),
        flag(setup.side == Side::Long),
        signal.total_score,
        composition.trend_score,
        composition.structure_score,
        composition.money_flow_score,
        composition.timing_score,
        signal.ltf.rsi.unwrap_or(50.0),
        flag(signal.ltf.rsi.is_some()),
        signal.htf.adx.unwrap_or(0.0),
        flag(signal.htf.adx.is_some()),
        side * signal.ltf.obv_slope,
        flag(signal.ltf.cardwell_range == CardwellRange::Overbought),
        flag(signal.ltf.cardwell_range == CardwellRange::Oversold),
        flag(signal.ltf.cardwell_range == CardwellRange::Bullish),
        flag(signal.ltf.cardwell_range == CardwellRange::Bearish),
        flag(signal.ltf.cardwell_range == CardwellRange::Transition),
        match composition.breakout_type {
            Some(BreakoutType::ResistanceBreak) => side,
            Some(BreakoutType::SupportBreak) => -side,
            None => 0.0,
        },
        bias(signal.htf.bias),
        match signal.htf.trend {
            Trend::Up => side,
            Trend::Down => -side,
            Trend::Range => 0.0,
        },
        bias(signal.ltf.bias),
        atr.map_or(0.0, |a| a / price * 100.0),
        flag(atr.is_some()),
        setup.rr,
        atr.map_or(0.0, |a| setup.risk_per_unit() / a),
        volume_rel,
        angle.sin(),
        angle.cos(),
        if composition.oi_z_score_valid {
            composition.oi_z_score
        } else {
            0.0
        },
        flag(composition.oi_z_score_valid),
        // Funding in basis points per interval, positive when the side receives it.
        external.funding_rate.map_or(0.0, |f| -side * f * 10_000.0),
        flag(external.funding_rate.is_some()),
        ls_ratio.map_or(0.0, f64::ln),
        flag(ls_ratio.is_some()),
        // Which side was liquidated more over 24 h: +1 when only the opposite side was.
        liquidations.map_or(0.0, |l| side * (l.short - l.long) / (l.long + l.short)),
        flag(liquidations.is_some()),
    ];
    // Every value is finite by construction; a NaN from upstream becomes 0, never a row the fit refuses.
    Ok(features.map(|v| if v.is_finite() { v } else { 0.0 }))
}

/// The labelled trades of a replay over a data directory.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QualityDataset {
    /// Closed and open trades, in the backtest report's order.
    pub trades: Vec<LabelledTrade>,
    pub symbols_replayed: usize,
    pub skipped: Vec<SkippedFile>,
}

impl QualityDataset {
    /// The closed trades: the ones with a label.
    pub fn closed(&self) -> Vec<LabelledTrade> {
        self.trades
            .iter()
            .filter(|t| t.win().is_some())
            .cloned()
            .collect()
    }
}

/// Replays every symbol of `request` as `backtest::run_backtest_with` does
/// and labels each trade with its signal's features.
pub fn replay_labelled(
    request: &BacktestRequest,
    config: &ScannerConfig,
    derivatives: Option<&HistoricalDerivatives>,
) -> Result<QualityDataset, BacktestError> {
    config.validate().map_err(ScanError::Config)?;
    if let (Some(from), Some(to)) = (request.from_ms, request.to_ms) {
        if from > to {
            return Err(BacktestError::EmptyRange { from, to });
        }
    }
    let plan = plan_scan(&ScanRequest {
        data_dir: request.data_dir.clone(),
        limit: None,
        symbol: request.symbol.clone(),
        exchange: request.exchange,
        only: None,
        now_ms: request.now_ms,
        quality: None,
    })?;
    let now_ms = request.now_ms.unwrap_or_else(quantpro_model::now_ms);
    let strategies = request.strategies();
    let results: Vec<Result<Vec<LabelledTrade>, Vec<SkippedFile>>> = plan
        .targets
        .par_iter()
        .map(|target| {
            let (ltf, htf) = load_target(target, now_ms)?;
            let (mut ltf, mut htf) = (ltf.candles, htf.candles);
            if let Some(to) = request.to_ms {
                ltf.truncate(ltf.partition_point(|c| c.t <= to));
                htf.truncate(htf.partition_point(|c| c.t <= to));
            }
            if ltf.len() < config.data.min_ltf_candles
                || first_replayed(&ltf, config, request.from_ms) >= ltf.len()
            {
                return Err(vec![SkippedFile {
                    file: display_name(&target.ltf),
                    reason: "too few 15m candles to replay".to_string(),
                }]);
            }
            Ok(replay_symbol_labelled(
                &target.symbol,
                target.exchange,
                &ltf,
                &htf,
                config,
                &strategies,
                request.from_ms,
                derivatives,
            ))
        })
        .collect();
    let mut dataset = QualityDataset {
        skipped: plan.skipped,
        ..QualityDataset::default()
    };
    for result in results {
        match result {
            Ok(trades) => {
                dataset.symbols_replayed += 1;
                dataset.trades.extend(trades);
            }
            Err(skipped) => dataset.skipped.extend(skipped),
        }
    }
    // The backtest report's order, so the rows of a fit never depend on the thread schedule.
    let mut trades: Vec<Trade> = dataset.trades.iter().map(|t| t.trade.clone()).collect();
    sort_trades(&mut trades);
    let mut by_key: BTreeMap<(i64, Exchange, String, Strategy), LabelledTrade> = dataset
        .trades
        .drain(..)
        .map(|t| {
            (
                (
                    t.trade.opened_at,
                    t.trade.exchange,
                    t.trade.symbol.clone(),
                    t.trade.strategy,
                ),
                t,
            )
        })
        .collect();
    dataset.trades = trades
        .iter()
        .filter_map(|t| by_key.remove(&(t.opened_at, t.exchange, t.symbol.clone(), t.strategy)))
        .collect();
    Ok(dataset)
}

/// [`crate::backtest::replay_symbol_with`] keeping, for each trade, the
/// features of the signal that opened it (at the close it opened).
#[allow(clippy::too_many_arguments)]
pub fn replay_symbol_labelled(
    symbol: &str,
    exchange: Exchange,
    ltf: &[Candle],
    htf: &[Candle],
    config: &ScannerConfig,
    strategies: &[Strategy],
    from_ms: Option<i64>,
    derivatives: Option<&HistoricalDerivatives>,
) -> Vec<LabelledTrade> {
    let start = first_replayed(ltf, config, from_ms);
    if start >= ltf.len() {
        return Vec::new();
    }
    let mut walk = WalkForward::new(symbol, exchange, ltf, htf, config);
    let mut book = TradeBook::new();
    let mut features: BTreeMap<(i64, Strategy), Features> = BTreeMap::new();
    for (i, candle) in ltf.iter().enumerate().skip(start) {
        book.on_candle(candle, &config.track);
        if strategies.iter().all(|&s| book.is_open(s)) {
            continue;
        }
        let ctx = match derivatives {
            Some(derivatives) => {
                let data = derivatives(exchange, symbol, &ltf[..=i], walk.close_time(i));
                let external =
                    ExternalContext::from_data(Some(&data), config.indicators.oi_z_window);
                walk.context_with_external_at(i, config, external)
            }
            None => walk.context_at(i, config),
        };
        for &strategy in strategies {
            if book.is_open(strategy) {
                continue;
            }
            let signal = evaluate(strategy, ctx, config);
            if let Some(opened_at) = book.offer(&signal).map(|t| t.opened_at) {
                match signal_features(&signal, ctx) {
                    Ok(values) => {
                        features.insert((opened_at, strategy), values);
                    }
                    Err(e) => tracing::warn!("[QUALITY] {symbol} {strategy:?}: {e}"),
                }
            }
        }
    }
    let asset = canonical_symbol(symbol);
    book.into_trades()
        .into_iter()
        .filter_map(|trade| {
            let values = features.remove(&(trade.opened_at, trade.strategy))?;
            Some(LabelledTrade {
                trade,
                asset: asset.clone(),
                features: values,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::replay_symbol;
    use crate::strategies::tests::context_with;
    use crate::synthetic::{generate_series, SyntheticSpec};
    use quantpro_model::{Action, TradeSetup};

    #[test]
    fn the_names_match_the_vector() {
        assert_eq!(FEATURE_NAMES.len(), FEATURES);
        let mut names = FEATURE_NAMES.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FEATURES, "feature names are unique");
    }

    #[test]
    fn the_labelled_replay_has_the_backtests_trades() {
        let config = ScannerConfig::default();
        let mut total = 0;
        for seed in [1, 2, 3] {
            let series = generate_series(
                &SyntheticSpec {
                    n_15m: 1500,
                    n_4h: 300,
                    seed,
                    ..SyntheticSpec::default()
                },
                seed as usize,
            );
            let plain = replay_symbol(
                "ETHUSDT",
                Exchange::Binance,
                &series.ltf,
                &series.htf,
                &config,
                Strategy::ALL,
                None,
            );
            let labelled = replay_symbol_labelled(
                "ETHUSDT",
                Exchange::Binance,
                &series.ltf,
                &series.htf,
                &config,
                Strategy::ALL,
                None,
                None,
            );
            let trades: Vec<&Trade> = labelled.iter().map(|t| &t.trade).collect();
            assert_eq!(trades, plain.trades.iter().collect::<Vec<_>>());
            for t in &labelled {
                assert_eq!(t.asset, "ETH");
                assert!(t.features.iter().all(|v| v.is_finite()));
                assert_eq!(
                    t.features[3], t.trade.score,
                    "total_score is the trade's score"
                );
                assert_eq!(t.features[24], t.trade.rr);
            }
            total += labelled.len();
        }
        assert!(total > 10, "the synthetic series open trades ({total})");
    }

    #[test]
    fn the_labelled_replay_of_a_directory_is_the_backtest_in_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SyntheticSpec {
            n_symbols: 4,
            n_15m: 800,
            n_4h: 160,
            seed: 5,
            ..SyntheticSpec::default()
        };
        crate::synthetic::generate_dataset(dir.path(), &spec).unwrap();
        let config = ScannerConfig::default();
        let request = BacktestRequest {
            now_ms: Some(spec.end_ms + 1),
            ..BacktestRequest::new(dir.path())
        };
        let backtest = crate::backtest::run_backtest(&request, &config).unwrap();
        let labelled = replay_labelled(&request, &config, None).unwrap();
        assert_eq!(labelled.symbols_replayed, 4);
        let trades: Vec<Trade> = labelled.trades.iter().map(|t| t.trade.clone()).collect();
        assert_eq!(trades, backtest.report.trades);
        assert!(!trades.is_empty());
        let closed = labelled.closed();
        assert!(closed.iter().all(|t| t.win() == t.trade.r.map(|r| r > 0.0)));
        assert_eq!(closed.len(), trades.iter().filter(|t| !t.is_open()).count());
    }

    fn acting_signal(ctx: &SharedContext) -> Signal {
        let mut signal = evaluate(Strategy::Legacy, ctx, &ScannerConfig::default());
        signal.action = Action::Long;
        signal.setup = Some(TradeSetup {
            side: Side::Long,
            entry: 100.0,
            sl: 98.0,
            tp: 105.0,
            rr: 2.5,
        });
        signal
    }

    #[test]
    fn a_context_with_a_candle_after_the_signal_is_refused() {
        let ctx = context_with(|_| {});
        let signal = acting_signal(&ctx);
        assert!(signal_features(&signal, &ctx).is_ok());
        let mut later = ctx.clone();
        let mut next = *later.ltf.last().unwrap();
        next.t += LTF.millis();
        later.ltf.push(next);
        assert_eq!(
            signal_features(&signal, &later),
            Err(FeatureError::NotAtClose {
                signal: signal.ltf.last_candle_time,
                context: Some(next.t),
            })
        );
        let mut wait = signal.clone();
        wait.setup = None;
        assert_eq!(signal_features(&wait, &ctx), Err(FeatureError::NoSetup));
    }

    #[test]
    fn features_read_the_signal_and_its_close() {
        let ctx = context_with(|c| {
            let last = c.ltf.len() - 1;
            c.ltf[last].v = 29.0; // the 19 before are 10: mean 10.95
            c.external.funding_rate = Some(0.0001);
        });
        let mut signal = acting_signal(&ctx);
        signal.htf.bias = Bias::Short;
        signal.ltf.atr = Some(2.0);
        signal.price = 100.0;
        let f = signal_features(&signal, &ctx).unwrap();
        let at = |name: &str| f[FEATURE_NAMES.iter().position(|n| *n == name).unwrap()];
        assert_eq!(at("side_long"), 1.0);
        assert_eq!(at("htf_bias_aligned"), -1.0);
        assert_eq!(at("atr_pct"), 2.0);
        assert_eq!(at("stop_atr"), 1.0);
        assert_eq!(at("rr"), 2.5);
        assert!((at("volume_rel") - 29.0 / 10.95).abs() < 1e-12);
        // A LONG pays positive funding.
        assert!((at("funding_aligned") + 1.0).abs() < 1e-12);
        assert_eq!(at("funding_available"), 1.0);
        assert_eq!(at("ls_ratio_available"), 0.0);
        let hour = ((signal.ltf.last_candle_time.unwrap() + LTF.millis()) / 3_600_000 % 24) as f64;
        let minutes = ((signal.ltf.last_candle_time.unwrap() + LTF.millis()) % 3_600_000) as f64
            / 3_600_000.0;
        let angle = (hour + minutes) / 24.0 * std::f64::consts::TAU;
        assert!((at("hour_sin") - angle.sin()).abs() < 1e-12);
    }
}
