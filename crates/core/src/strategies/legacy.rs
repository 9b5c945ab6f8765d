//! Legacy: trade the HTF trend on an LTF RSI pullback that has turned.
//! Direction = HTF bias; LONG needs the last RSI in [40, 55] and rising,
//! SHORT in [45, 60] and falling (bands in `legacy.*`); acts at total >= 60.

use super::scoring::trend_scores;
use super::{filters, Assessment, WaitReason};
use crate::context::SharedContext;
use quantpro_model::{LegacyConfig, ScannerConfig, Side, SignalDetails};

pub fn assess(ctx: &SharedContext, config: &ScannerConfig) -> Assessment {
    let dir = ctx.htf_summary.bias.side();
    let pullback = dir.map(|side| pullback_holds(ctx, side, &config.legacy));
    let wait_reasons = match (dir, pullback) {
        (None, _) => vec![WaitReason::HtfRange],
        (Some(_), Some(false)) => vec![WaitReason::NoPullback],
        _ => vec![],
    };
    let s = &ctx.ltf_state;
    Assessment {
        dir,
        scores: trend_scores(ctx, dir),
        filters: filters(ctx, dir, config),
        wait_reasons,
        min_score: config.legacy.min_score,
        details: SignalDetails {
            obv_slope: Some(s.obv_slope),
            cardwell_range: Some(s.cardwell_range),
            pullback,
            ..Default::default()
        },
    }
}

/// The RSI sits in the side's pullback band and has turned back towards the trend.
pub fn pullback_holds(ctx: &SharedContext, side: Side, cfg: &LegacyConfig) -> bool {
    let (Some(rsi), Some(prev)) = (ctx.ltf_state.rsi, ctx.ltf_state.prev_rsi) else {
        return false;
    };
    match side {
        Side::Long => (cfg.long_rsi_min..=cfg.long_rsi_max).contains(&rsi) && rsi > prev,
        Side::Short => (cfg.short_rsi_min..=cfg.short_rsi_max).contains(&rsi) && rsi < prev,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::evaluate;
    use crate::strategies::tests::{context_with, reasons};
    use quantpro_model::{Action, Bias, CardwellRange, Strategy};

    /// HTF up with ADX 40 (trend 20), EMA structure up (25), OBV slope 0.1
    /// (money flow 10), bullish RSI at 45 rising (timing 25): total 80.
    fn long_context() -> crate::context::SharedContext {
        context_with(|c| {
            c.htf_summary.bias = Bias::Long;
            c.htf_summary.adx = Some(40.0);
            c.ltf_state.ema20 = Some(99.5);
            c.ltf_state.ema50 = Some(99.0);
            c.ltf_state.obv_slope = 0.1;
            c.ltf_state.cardwell_range = CardwellRange::Bullish;
            c.ltf_state.rsi = Some(45.0);
            c.ltf_state.prev_rsi = Some(43.0);
        })
    }

    #[test]
    fn long_pullback_in_an_uptrend_acts() {
        let config = ScannerConfig::default();
        let s = evaluate(Strategy::Legacy, &long_context(), &config);
        assert_eq!((s.action, s.bias), (Action::Long, Bias::Long));
        assert!((s.score - 80.0).abs() < 1e-9, "{}", s.score);
        assert!(s.wait_reasons.is_empty());
        assert_eq!(s.details.pullback, Some(true));
        // Stop: lowest low 99 - 0.25 ATR = 98.75, risk 1.25; HTF high 130 pays 24 risks.
        let setup = s.setup.unwrap();
        assert_eq!((setup.entry, setup.sl, setup.tp), (100.0, 98.75, 130.0));
        assert!((setup.rr - 24.0).abs() < 1e-12);
    }

    #[test]
    fn htf_range_waits() {
        let ctx = context_with(|c| c.htf_summary.bias = Bias::None);
        let s = evaluate(Strategy::Legacy, &ctx, &ScannerConfig::default());
        assert_eq!((s.action, s.bias, s.score), (Action::Wait, Bias::None, 0.0));
        assert_eq!(reasons(&s), ["htf_range"]);
        assert_eq!(s.setup, None);
    }

    #[test]
    fn no_pullback_when_rsi_is_outside_the_band_or_not_turning() {
        let config = ScannerConfig::default();
        for (rsi, prev) in [(56.0, 50.0), (39.0, 35.0), (45.0, 46.0), (45.0, 45.0)] {
            let mut ctx = long_context();
            ctx.ltf_state.rsi = Some(rsi);
            ctx.ltf_state.prev_rsi = Some(prev);
            let s = evaluate(Strategy::Legacy, &ctx, &config);
            assert_eq!(s.action, Action::Wait, "rsi {rsi} prev {prev}");
            assert_eq!(reasons(&s)[0], "no_pullback");
            assert_eq!(s.bias, Bias::Long, "the direction stays the HTF bias");
            assert!(s.setup.is_some(), "a directional signal carries its setup");
        }
    }

    #[test]
    fn short_pullback_mirrors() {
        let ctx = context_with(|c| {
            c.htf_summary.bias = Bias::Short;
            c.htf_summary.adx = Some(30.0);
            c.ltf_state.ema20 = Some(100.5);
            c.ltf_state.ema50 = Some(101.0);
            c.ltf_state.obv_slope = -0.2;
            c.ltf_state.cardwell_range = CardwellRange::Bearish;
            c.ltf_state.rsi = Some(55.0);
            c.ltf_state.prev_rsi = Some(57.0);
        });
        let s = evaluate(Strategy::Legacy, &ctx, &ScannerConfig::default());
        assert_eq!(s.action, Action::Short);
        assert!((s.score - (15.0 + 25.0 + 20.0 + 25.0)).abs() < 1e-9);
        let setup = s.setup.unwrap();
        assert_eq!((setup.sl, setup.tp), (101.25, 70.0));
    }

    #[test]
    fn score_below_min_waits() {
        let mut ctx = long_context();
        ctx.htf_summary.adx = Some(0.0);
        ctx.ltf_state.obv_slope = 0.0;
        ctx.ltf_state.cardwell_range = CardwellRange::Transition;
        // 0 + 25 + 0 + 8 = 33 < 60
        let s = evaluate(Strategy::Legacy, &ctx, &ScannerConfig::default());
        assert_eq!(s.score, 33.0);
        assert_eq!(
            (s.action, reasons(&s)),
            (Action::Wait, vec!["score_below_min"])
        );
    }

    #[test]
    fn rr_below_min_waits() {
        let mut config = ScannerConfig::default();
        config.setup.min_rr = 30.0; // the setup pays 24
        let s = evaluate(Strategy::Legacy, &long_context(), &config);
        assert_eq!(
            (s.action, reasons(&s)),
            (Action::Wait, vec!["rr_below_min"])
        );
        assert!(s.setup.is_some());
    }

    #[test]
    fn flat_market_has_no_valid_setup() {
        let mut ctx = long_context();
        ctx.ltf_state.atr = Some(0.0);
        for c in &mut ctx.ltf {
            (c.h, c.l) = (100.0, 100.0);
        }
        let s = evaluate(Strategy::Legacy, &ctx, &ScannerConfig::default());
        assert_eq!(
            (s.action, s.setup.clone(), reasons(&s)),
            (Action::Wait, None, vec!["no_valid_setup"])
        );
    }

    #[test]
    fn bands_come_from_the_config() {
        let mut config = ScannerConfig::default();
        config.legacy.long_rsi_max = 44.0;
        let s = evaluate(Strategy::Legacy, &long_context(), &config);
        assert_eq!(reasons(&s), ["no_pullback"]);
    }
}
