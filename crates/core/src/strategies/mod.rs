//! The three strategies of STRATEGIES.md §4 and what they share.
//!
//! Each strategy reads a `SharedContext` and returns an `Assessment`: its
//! direction, score components, filters and the reasons it would wait.
//! `evaluate` then applies the steps common to all of them (minimum score,
//! trade setup, minimum reward/risk) and assembles the `Signal` with its
//! full observability block. One signal per strategy, whatever the action.

pub mod breakout;
pub mod breakout_v2;
pub mod legacy;
pub mod scoring;

use crate::context::{agrees, SharedContext};
use crate::setup::compute_setup;
use quantpro_model::{
    canonical_symbol, Action, Bias, FiltersPassed, Observability, RsiVisuals, ScannerConfig,
    ScoreComposition, Side, Signal, SignalDetails, Strategy,
};
use scoring::ScoreParts;

/// Why a signal waits. Serialized into `wait_reasons` as the snake_case string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitReason {
    /// Fewer closed LTF candles than `data.min_ltf_candles`.
    InsufficientData,
    /// Legacy: the HTF trend is a range, so there is no direction.
    HtfRange,
    /// Legacy: the RSI pullback condition does not hold.
    NoPullback,
    /// Breakout strategies: neither RSI trendline is broken.
    NoBreakout,
    /// Breakout strategies: both lines broke, so there is no direction.
    ConflictingBreakouts,
    /// Breakout: the HTF bias points the other way.
    HtfOpposite,
    /// BreakoutV2: no valid OI z-score (no Coinalyze data or too little history).
    OiUnavailable,
    /// BreakoutV2: the OI z-score is below `v2.min_oi_z`.
    OiBelowMin,
    /// BreakoutV2: the OBV slope points against the breakout.
    ObvAgainstDirection,
    /// BreakoutV2: the OBV slope is weaker than `v2.min_obv_slope`.
    ObvSlopeBelowMin,
    /// The total score is below the strategy's minimum.
    ScoreBelowMin,
    /// No sound trade setup exists (zero risk, or prices that would not be positive).
    NoValidSetup,
    /// The setup's reward/risk is below `setup.min_rr`.
    RrBelowMin,
}

impl WaitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::InsufficientData => "insufficient_data",
            WaitReason::HtfRange => "htf_range",
            WaitReason::NoPullback => "no_pullback",
            WaitReason::NoBreakout => "no_breakout",
            WaitReason::ConflictingBreakouts => "conflicting_breakouts",
            WaitReason::HtfOpposite => "htf_opposite",
            WaitReason::OiUnavailable => "oi_unavailable",
            WaitReason::OiBelowMin => "oi_below_min",
            WaitReason::ObvAgainstDirection => "obv_against_direction",
            WaitReason::ObvSlopeBelowMin => "obv_slope_below_min",
            WaitReason::ScoreBelowMin => "score_below_min",
            WaitReason::NoValidSetup => "no_valid_setup",
            WaitReason::RrBelowMin => "rr_below_min",
        }
    }
}

impl WaitReason {
    /// Every reason, in the order strategies check them.
    pub const ALL: [WaitReason; 13] = [
        WaitReason::InsufficientData,
        WaitReason::HtfRange,
        WaitReason::NoPullback,
        WaitReason::NoBreakout,
        WaitReason::ConflictingBreakouts,
        WaitReason::HtfOpposite,
        WaitReason::OiUnavailable,
        WaitReason::OiBelowMin,
        WaitReason::ObvAgainstDirection,
        WaitReason::ObvSlopeBelowMin,
        WaitReason::ScoreBelowMin,
        WaitReason::NoValidSetup,
        WaitReason::RrBelowMin,
    ];

    /// The reason of a `wait_reasons` code, `None` for a code this version
    /// does not know (a feed written by another one).
    pub fn from_code(code: &str) -> Option<WaitReason> {
        WaitReason::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// The reason in a trader's words (the code stays in tooltips and the
    /// JSON).
    pub fn words(self) -> &'static str {
        match self {
            WaitReason::InsufficientData => "not enough candles",
            WaitReason::HtfRange => "4h trend is a range",
            WaitReason::NoPullback => "no pullback",
            WaitReason::NoBreakout => "no breakout",
            WaitReason::ConflictingBreakouts => "breakouts both ways",
            WaitReason::HtfOpposite => "4h bias against it",
            WaitReason::OiUnavailable => "OI unavailable",
            WaitReason::OiBelowMin => "OI change too small",
            WaitReason::ObvAgainstDirection => "volume flow against it",
            WaitReason::ObvSlopeBelowMin => "volume flow too weak",
            WaitReason::ScoreBelowMin => "score below minimum",
            WaitReason::NoValidSetup => "no valid setup",
            WaitReason::RrBelowMin => "reward/risk below minimum",
        }
    }
}

/// A `wait_reasons` code in words; an unknown code stays as it is.
pub fn wait_reason_words(code: &str) -> &str {
    match WaitReason::from_code(code) {
        Some(reason) => reason.words(),
        None => code,
    }
}

impl std::fmt::Display for WaitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A strategy's own judgement, before the common steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The direction the strategy leans to, if any.
    pub dir: Option<Side>,
    pub scores: ScoreParts,
    pub filters: FiltersPassed,
    /// Strategy-specific reasons; the common steps add theirs after these.
    pub wait_reasons: Vec<WaitReason>,
    /// The strategy's minimum total score.
    pub min_score: f64,
    /// Strategy-specific details (`total` is filled in by `evaluate`).
    pub details: SignalDetails,
}

/// The two BreakoutV2 filters, which every strategy reports.
pub fn filters(ctx: &SharedContext, dir: Option<Side>, config: &ScannerConfig) -> FiltersPassed {
    let oi = &ctx.external.oi_z;
    let slope = ctx.ltf_state.obv_slope;
    FiltersPassed {
        oi_zscore: oi.valid && oi.value >= config.v2.min_oi_z,
        obv_slope: dir
            .is_some_and(|side| agrees(slope, side) && slope.abs() >= config.v2.min_obv_slope),
    }
}

/// One signal per strategy, in `Strategy::ALL` order.
pub fn evaluate_all(ctx: &SharedContext, config: &ScannerConfig) -> Vec<Signal> {
    Strategy::ALL
        .iter()
        .map(|&strategy| evaluate(strategy, ctx, config))
        .collect()
}

/// Runs one strategy and assembles its signal.
pub fn evaluate(strategy: Strategy, ctx: &SharedContext, config: &ScannerConfig) -> Signal {
    if !ctx.has_enough_data(config) {
        return assemble(
            strategy,
            ctx,
            insufficient_data(),
            None,
            Action::Wait,
            0.0,
            vec![WaitReason::InsufficientData],
        );
    }
    let assessment = match strategy {
        Strategy::Legacy => legacy::assess(ctx, config),
        Strategy::Breakout => breakout::assess(ctx, config),
        Strategy::BreakoutV2 => breakout_v2::assess(ctx, config),
    };
    let total = assessment.scores.total();
    let mut reasons = assessment.wait_reasons.clone();
    let setup = assessment
        .dir
        .and_then(|side| compute_setup(&ctx.ltf, &ctx.htf, ctx.ltf_state.atr, side, &config.setup));
    if assessment.dir.is_some() {
        if total < assessment.min_score {
            reasons.push(WaitReason::ScoreBelowMin);
        }
        match &setup {
            None => reasons.push(WaitReason::NoValidSetup),
            Some(s) if s.rr < config.setup.min_rr => reasons.push(WaitReason::RrBelowMin),
            Some(_) => {}
        }
    }
    let action = match assessment.dir {
        Some(side) if reasons.is_empty() => Action::from(side),
        _ => Action::Wait,
    };
    debug_assert!(
        action != Action::Wait || !reasons.is_empty(),
        "{strategy} waits without a reason"
    );
    assemble(strategy, ctx, assessment, setup, action, total, reasons)
}

/// The empty result of STRATEGIES.md §2: no direction, score 0.
fn insufficient_data() -> Assessment {
    Assessment {
        dir: None,
        scores: ScoreParts::default(),
        filters: FiltersPassed::default(),
        wait_reasons: vec![],
        min_score: 0.0,
        details: SignalDetails::default(),
    }
}

fn assemble(
    strategy: Strategy,
    ctx: &SharedContext,
    assessment: Assessment,
    setup: Option<quantpro_model::TradeSetup>,
    action: Action,
    total: f64,
    reasons: Vec<WaitReason>,
) -> Signal {
    let s = &ctx.ltf_state;
    let ext = &ctx.external;
    let parts = assessment.scores;
    Signal {
        strategy_name: strategy,
        strategy,
        symbol: ctx.symbol.clone(),
        canonical_symbol: canonical_symbol(&ctx.symbol),
        exchange: ctx.exchange,
        price: s.close,
        score: total,
        total_score: total,
        bias: assessment.dir.map_or(Bias::None, Bias::from),
        action,
        setup,
        details: SignalDetails {
            total,
            ..assessment.details
        },
        wait_reasons: reasons.iter().map(|r| r.as_str().to_string()).collect(),
        htf: ctx.htf_summary.clone(),
        ltf: ctx.ltf_summary(),
        observability: Observability {
            score_composition: ScoreComposition {
                rsi: s.rsi,
                close_price: s.close,
                oi_z_score: ext.oi_z.value,
                oi_z_score_valid: ext.oi_z.valid,
                obv_slope: s.obv_slope,
                cardwell_range: s.cardwell_range,
                breakout_type: ctx.breakout_type(),
                atr: s.atr,
                trend_score: parts.trend,
                structure_score: parts.structure,
                money_flow_score: parts.money_flow,
                timing_score: parts.timing,
                filters_passed: assessment.filters,
                oi_available: ext.oi_available,
                funding_available: ext.funding_rate.is_some(),
                ls_ratio_available: ext.ls_ratio.is_some(),
                liquidations_available: ext.liquidations_24h.is_some(),
            },
            rsi_visuals: RsiVisuals {
                resistance: s.resistance.clone(),
                support: s.support.clone(),
            },
            calculated_at: ctx.now_ms.div_euclid(1000),
            candle_index: ctx.ltf.len().saturating_sub(1),
        },
        oi_metadata: ext.oi_metadata.clone(),
        metadata: ext.market.clone(),
        quality: None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::context::{ExternalContext, LtfState};
    use crate::indicators::IndicatorSet;
    use quantpro_model::Candle;
    use quantpro_model::{CardwellRange, Exchange, HtfSummary, RsiTrendline, Trend};

    pub(crate) const NOW: i64 = 1_753_500_000_000;

    /// A hand-made context: 60 LTF candles closing at 100 with lows of 99
    /// and highs of 101 (ATR 1), 120 HTF candles between 70 and 130, HTF in a
    /// range, nothing broken, no external data. Tests change what they test.
    pub(crate) fn context_with(change: impl FnOnce(&mut SharedContext)) -> SharedContext {
        let ltf: Vec<Candle> = (0..60)
            .map(|i| Candle {
                t: NOW - (60 - i) * 900_000,
                o: 100.0,
                h: 101.0,
                l: 99.0,
                c: 100.0,
                v: 10.0,
            })
            .collect();
        let htf: Vec<Candle> = (0..120)
            .map(|i| Candle {
                t: NOW - (120 - i) * 14_400_000,
                o: 100.0,
                h: 130.0,
                l: 70.0,
                c: 100.0,
                v: 50.0,
            })
            .collect();
        let mut ctx = SharedContext {
            symbol: "BTCUSDT".into(),
            exchange: Exchange::Binance,
            ltf_state: LtfState {
                close: 100.0,
                rsi: Some(50.0),
                prev_rsi: Some(50.0),
                atr: Some(1.0),
                ema20: None,
                ema50: None,
                obv_slope: 0.0,
                cardwell_range: CardwellRange::Transition,
                resistance: None,
                support: None,
                last_candle_time: ltf.last().map(|c| c.t),
                stale: false,
            },
            ltf,
            htf,
            ltf_indicators: IndicatorSet::default(),
            htf_indicators: IndicatorSet::default(),
            htf_summary: HtfSummary {
                trend: Trend::Range,
                bias: Bias::None,
                adx: None,
                ema50: None,
                ema200: None,
            },
            external: ExternalContext::unavailable(),
            now_ms: NOW,
        };
        change(&mut ctx);
        ctx
    }

    /// A broken (or intact) trendline for breakout tests.
    pub(crate) fn line(broken: bool) -> Option<RsiTrendline> {
        Some(RsiTrendline {
            start_index: 10,
            start_rsi: 70.0,
            end_index: 40,
            end_rsi: 60.0,
            slope: -1.0 / 3.0,
            value_now: 53.7,
            broken,
            break_index: broken.then_some(58),
        })
    }

    pub(crate) fn reasons(signal: &Signal) -> Vec<&str> {
        signal.wait_reasons.iter().map(String::as_str).collect()
    }

    #[test]
    fn insufficient_data_is_the_empty_result() {
        let ctx = context_with(|c| {
            c.ltf.truncate(49);
            c.htf_summary.bias = Bias::Long;
            c.ltf_state.resistance = line(true);
        });
        for signal in evaluate_all(&ctx, &ScannerConfig::default()) {
            assert_eq!(
                (signal.action, signal.bias, signal.score, signal.total_score),
                (Action::Wait, Bias::None, 0.0, 0.0)
            );
            assert_eq!(reasons(&signal), ["insufficient_data"]);
            assert_eq!(signal.setup, None);
            assert_eq!(signal.observability.score_composition.trend_score, 0.0);
            assert_eq!(signal.observability.candle_index, 48);
        }
        let ok = context_with(|c| c.ltf.truncate(50));
        assert!(evaluate_all(&ok, &ScannerConfig::default())
            .iter()
            .all(|s| !reasons(s).contains(&"insufficient_data")));
    }

    #[test]
    fn one_signal_per_strategy_with_the_context_in_the_observability_block() {
        let ctx = context_with(|c| {
            c.ltf_state.rsi = Some(47.0);
            c.ltf_state.support = line(false);
        });
        let signals = evaluate_all(&ctx, &ScannerConfig::default());
        let strategies: Vec<Strategy> = signals.iter().map(|s| s.strategy).collect();
        assert_eq!(strategies, Strategy::ALL);
        for s in &signals {
            assert_eq!(s.strategy_name, s.strategy);
            assert_eq!(
                (s.symbol.as_str(), s.canonical_symbol.as_str(), s.exchange),
                ("BTCUSDT", "BTC", Exchange::Binance)
            );
            assert_eq!(s.price, 100.0);
            assert_eq!(s.score, s.total_score);
            assert_eq!(s.details.total, s.score);
            let sc = &s.observability.score_composition;
            assert_eq!(
                (sc.rsi, sc.close_price, sc.atr),
                (Some(47.0), 100.0, Some(1.0))
            );
            assert_eq!(
                s.score,
                sc.total(),
                "the total is the sum of the mapped scores"
            );
            assert!(
                !sc.oi_available
                    && !sc.funding_available
                    && !sc.ls_ratio_available
                    && !sc.liquidations_available
            );
            assert_eq!(s.oi_metadata.status, quantpro_model::OiStatus::Neutral);
            assert!(
                s.observability.rsi_visuals.support.is_some()
                    && s.observability.rsi_visuals.resistance.is_none()
            );
            assert_eq!(s.observability.calculated_at, NOW / 1000);
            assert_eq!(s.observability.candle_index, 59);
        }
    }

    #[test]
    fn flat_and_single_candle_series_give_finite_waiting_signals() {
        use quantpro_model::Candle;
        let config = ScannerConfig::default();
        let flat: Vec<Candle> = (0..300)
            .map(|i| Candle {
                t: i * 900_000,
                o: 2.5,
                h: 2.5,
                l: 2.5,
                c: 2.5,
                v: 0.0,
            })
            .collect();
        let htf: Vec<Candle> = flat
            .iter()
            .take(60)
            .map(|c| Candle { t: c.t * 16, ..*c })
            .collect();
        let now = 300 * 900_000;
        let ctx = SharedContext::build(
            "FLATUSDT",
            Exchange::Mexc,
            flat.clone(),
            htf,
            None,
            &config,
            now,
        );
        for s in evaluate_all(&ctx, &config) {
            assert_eq!(s.action, Action::Wait, "{:?}", s.wait_reasons);
            assert!(s.score.is_finite() && s.ltf.obv_slope == 0.0);
            assert_eq!(s.setup, None, "no risk in a market that never moves");
            let sc = &s.observability.score_composition;
            assert_eq!(
                sc.rsi,
                Some(0.0),
                "RSI is 0 without gains or losses (STRATEGIES.md)"
            );
            assert_eq!(sc.atr, Some(0.0));
        }
        let single = SharedContext::build(
            "ONEUSDT",
            Exchange::Mexc,
            flat[..1].to_vec(),
            vec![],
            None,
            &config,
            now,
        );
        for s in evaluate_all(&single, &config) {
            assert_eq!(reasons(&s), ["insufficient_data"]);
            assert_eq!(
                (s.price, s.ltf.rsi, s.observability.candle_index),
                (2.5, None, 0)
            );
        }
    }

    #[test]
    fn wait_reason_strings() {
        assert_eq!(WaitReason::RrBelowMin.to_string(), "rr_below_min");
        assert_eq!(WaitReason::OiUnavailable.as_str(), "oi_unavailable");
        for reason in WaitReason::ALL {
            assert_eq!(WaitReason::from_code(reason.as_str()), Some(reason));
            assert!(!reason.words().contains('_'), "{reason}: words, not a code");
        }
        assert_eq!(wait_reason_words("no_pullback"), "no pullback");
        assert_eq!(wait_reason_words("future_reason"), "future_reason");
    }
}
