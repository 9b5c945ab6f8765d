//! BreakoutV2: Breakout's direction rule (which trendline broke) with its
//! HTF gate (a breakout against the HTF bias waits with `htf_opposite`),
//! confirmed by money flow: the OI z-score must be valid and at least
//! `v2.min_oi_z` (unless `v2.require_oi` is off), and the OBV slope must
//! point the breakout's way with at least `v2.min_obv_slope`. Acts at total
//! >= 50. Scores: OI z-score, OBV slope, RSI level, Cardwell timing.

use super::breakout::gated_direction;
use super::scoring::flow_scores;
use super::{filters, Assessment, WaitReason};
use crate::context::{agrees, SharedContext};
use quantpro_model::{ScannerConfig, SignalDetails};

pub fn assess(ctx: &SharedContext, config: &ScannerConfig) -> Assessment {
    let (dir, mut wait_reasons) = gated_direction(ctx);
    let passed = filters(ctx, dir, config);
    let oi = &ctx.external.oi_z;
    if config.v2.require_oi && !passed.oi_zscore {
        wait_reasons.push(if oi.valid {
            WaitReason::OiBelowMin
        } else {
            WaitReason::OiUnavailable
        });
    }
    if let Some(side) = dir {
        if !passed.obv_slope {
            let slope = ctx.ltf_state.obv_slope;
            wait_reasons.push(if agrees(slope, side) || slope == 0.0 {
                WaitReason::ObvSlopeBelowMin
            } else {
                WaitReason::ObvAgainstDirection
            });
        }
    }
    let s = &ctx.ltf_state;
    Assessment {
        dir,
        scores: flow_scores(ctx, dir),
        filters: passed,
        wait_reasons,
        min_score: config.v2.min_score,
        details: SignalDetails {
            oi_z_score: Some(oi.value),
            obv_slope: Some(s.obv_slope),
            cardwell_range: Some(s.cardwell_range),
            breakout_type: ctx.breakout_type(),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::evaluate;
    use crate::strategies::tests::{context_with, line, reasons};
    use quantpro_model::{Action, Bias, CardwellRange, FiltersPassed, OiStatus, Strategy};

    /// Resistance broken, OI z 1.5 (15), OBV slope 0.08 (8), RSI 56 (14),
    /// neutral Cardwell (10): total 47; the HTF is a range.
    fn confirmed_up() -> SharedContext {
        context_with(|c| {
            c.ltf_state.resistance = line(true);
            c.external.oi_z.value = 1.5;
            c.external.oi_z.valid = true;
            c.external.oi_available = true;
            c.external.oi_metadata.status = OiStatus::Aggregated;
            c.ltf_state.obv_slope = 0.08;
            c.ltf_state.rsi = Some(56.0);
            c.ltf_state.cardwell_range = CardwellRange::Neutral;
        })
    }

    #[test]
    fn both_filters_and_the_score_let_it_act() {
        let mut ctx = confirmed_up();
        ctx.ltf_state.cardwell_range = CardwellRange::Bullish; // timing 15: total 52
        let s = evaluate(Strategy::BreakoutV2, &ctx, &ScannerConfig::default());
        assert!((s.score - 52.0).abs() < 1e-9, "{}", s.score);
        assert_eq!(
            (s.action, s.bias),
            (Action::Long, Bias::Long),
            "{:?}",
            s.wait_reasons
        );
        assert_eq!(
            s.observability.score_composition.filters_passed,
            FiltersPassed {
                oi_zscore: true,
                obv_slope: true
            }
        );
        assert_eq!(s.details.oi_z_score, Some(1.5));
        assert_eq!(s.oi_metadata.status, OiStatus::Aggregated);
        let sc = &s.observability.score_composition;
        assert!((sc.trend_score - 15.0).abs() < 1e-9 && (sc.structure_score - 8.0).abs() < 1e-9);
        assert_eq!((sc.money_flow_score, sc.timing_score), (14.0, 15.0));
    }

    #[test]
    fn an_htf_bias_against_the_breakout_waits_as_in_breakout() {
        let mut ctx = confirmed_up();
        ctx.ltf_state.cardwell_range = CardwellRange::Bullish; // total 52: would act
        ctx.htf_summary.bias = Bias::Short;
        let s = evaluate(Strategy::BreakoutV2, &ctx, &ScannerConfig::default());
        assert_eq!((s.action, s.bias), (Action::Wait, Bias::Long));
        assert_eq!(reasons(&s), ["htf_opposite"]);
        assert!(
            s.setup.is_some(),
            "the gated direction still shows its setup"
        );
        ctx.htf_summary.bias = Bias::Long;
        let s = evaluate(Strategy::BreakoutV2, &ctx, &ScannerConfig::default());
        assert_eq!(s.action, Action::Long, "{:?}", s.wait_reasons);
    }

    #[test]
    fn score_below_min_waits_even_with_filters() {
        let s = evaluate(
            Strategy::BreakoutV2,
            &confirmed_up(),
            &ScannerConfig::default(),
        );
        assert!((s.score - 47.0).abs() < 1e-9);
        assert_eq!(reasons(&s), ["score_below_min"]);
    }

    #[test]
    fn missing_oi_waits_unless_not_required() {
        let mut ctx = confirmed_up();
        ctx.ltf_state.cardwell_range = CardwellRange::Bullish;
        ctx.external = crate::context::ExternalContext::unavailable();
        let s = evaluate(Strategy::BreakoutV2, &ctx, &ScannerConfig::default());
        assert_eq!(s.action, Action::Wait);
        assert_eq!(reasons(&s), ["oi_unavailable", "score_below_min"]);
        assert!(!s.observability.score_composition.filters_passed.oi_zscore);
        assert_eq!(s.oi_metadata.status, OiStatus::Neutral);

        let mut config = ScannerConfig::default();
        config.v2.require_oi = false;
        config.v2.min_score = 35.0; // 0 + 8 + 14 + 15 = 37
        let s = evaluate(Strategy::BreakoutV2, &ctx, &config);
        assert_eq!(s.action, Action::Long, "{:?}", s.wait_reasons);
        assert!(
            !s.observability.score_composition.filters_passed.oi_zscore,
            "still reported"
        );
    }

    #[test]
    fn weak_oi_and_obv_are_reported() {
        let mut ctx = confirmed_up();
        ctx.external.oi_z.value = 0.5;
        ctx.ltf_state.obv_slope = 0.01;
        let s = evaluate(Strategy::BreakoutV2, &ctx, &ScannerConfig::default());
        assert_eq!(
            reasons(&s),
            ["oi_below_min", "obv_slope_below_min", "score_below_min"]
        );

        ctx.ltf_state.obv_slope = -0.2;
        let s = evaluate(Strategy::BreakoutV2, &ctx, &ScannerConfig::default());
        assert_eq!(reasons(&s)[..2], ["oi_below_min", "obv_against_direction"]);
    }

    #[test]
    fn no_breakout_still_scores_the_flow() {
        let mut ctx = confirmed_up();
        ctx.ltf_state.resistance = line(false);
        let s = evaluate(Strategy::BreakoutV2, &ctx, &ScannerConfig::default());
        assert_eq!((s.action, s.bias), (Action::Wait, Bias::None));
        assert_eq!(reasons(&s), ["no_breakout"]);
        // Timing needs a direction; the other three do not: 15 + 8 + 14.
        assert!((s.score - 37.0).abs() < 1e-9);
        assert_eq!(s.setup, None);
    }
}
