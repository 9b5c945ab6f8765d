//! Breakout: trade an RSI trendline break. A broken resistance line means
//! LONG, a broken support line SHORT (both or neither: no direction); the
//! HTF bias must not point the other way. Acts at total >= 55.

use super::scoring::trend_scores;
use super::{filters, Assessment, WaitReason};
use crate::context::{BreakoutRead, SharedContext};
use quantpro_model::{Bias, ScannerConfig, Side, SignalDetails};

/// The direction rule shared with BreakoutV2: the breakout's side, or the
/// reason there is none.
pub fn breakout_direction(ctx: &SharedContext) -> Result<Side, WaitReason> {
    match ctx.breakout() {
        BreakoutRead::Up => Ok(Side::Long),
        BreakoutRead::Down => Ok(Side::Short),
        BreakoutRead::None => Err(WaitReason::NoBreakout),
        BreakoutRead::Both => Err(WaitReason::ConflictingBreakouts),
    }
}

/// The HTF gate shared with BreakoutV2 (STRATEGIES.md §4): a breakout
/// against the HTF bias waits with `htf_opposite`.
pub fn htf_gate(ctx: &SharedContext, side: Side) -> Option<WaitReason> {
    (ctx.htf_summary.bias == Bias::from(side.opposite())).then_some(WaitReason::HtfOpposite)
}

/// The direction rule with its HTF gate, as both breakout strategies read
/// it: the direction (kept even when gated, so the setup and scores are
/// still shown) and the reasons it would wait.
pub fn gated_direction(ctx: &SharedContext) -> (Option<Side>, Vec<WaitReason>) {
    match breakout_direction(ctx) {
        Err(reason) => (None, vec![reason]),
        Ok(side) => (Some(side), htf_gate(ctx, side).into_iter().collect()),
    }
}

pub fn assess(ctx: &SharedContext, config: &ScannerConfig) -> Assessment {
    let (dir, wait_reasons) = gated_direction(ctx);
    let s = &ctx.ltf_state;
    Assessment {
        dir,
        scores: trend_scores(ctx, dir),
        filters: filters(ctx, dir, config),
        wait_reasons,
        min_score: config.breakout.min_score,
        details: SignalDetails {
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
    use quantpro_model::{Action, BreakoutType, CardwellRange, Strategy};

    /// Resistance broken, HTF neutral, EMA structure up (25), OBV 0.15 (15),
    /// bullish RSI 48 (25): total 65.
    fn up_break() -> SharedContext {
        context_with(|c| {
            c.ltf_state.resistance = line(true);
            c.ltf_state.support = line(false);
            c.ltf_state.ema20 = Some(99.5);
            c.ltf_state.ema50 = Some(99.0);
            c.ltf_state.obv_slope = 0.15;
            c.ltf_state.cardwell_range = CardwellRange::Bullish;
            c.ltf_state.rsi = Some(48.0);
        })
    }

    #[test]
    fn resistance_break_goes_long() {
        let s = evaluate(Strategy::Breakout, &up_break(), &ScannerConfig::default());
        assert_eq!((s.action, s.bias), (Action::Long, Bias::Long));
        assert!((s.score - 65.0).abs() < 1e-9, "{}", s.score);
        assert_eq!(s.details.breakout_type, Some(BreakoutType::ResistanceBreak));
        assert_eq!(
            s.observability.score_composition.breakout_type,
            Some(BreakoutType::ResistanceBreak)
        );
        assert_eq!(
            s.observability.score_composition.trend_score, 0.0,
            "HTF range adds no trend score"
        );
        assert!(s.setup.is_some());
    }

    #[test]
    fn support_break_goes_short_unless_htf_is_up() {
        let down = |htf: Bias| {
            context_with(|c| {
                c.ltf_state.support = line(true);
                c.htf_summary.bias = htf;
                c.htf_summary.adx = Some(50.0);
                c.ltf_state.ema20 = Some(100.5);
                c.ltf_state.ema50 = Some(101.0);
                c.ltf_state.obv_slope = -0.3;
                c.ltf_state.cardwell_range = CardwellRange::Bearish;
                c.ltf_state.rsi = Some(52.0);
            })
        };
        let s = evaluate(
            Strategy::Breakout,
            &down(Bias::Short),
            &ScannerConfig::default(),
        );
        assert_eq!((s.action, s.score), (Action::Short, 100.0));
        assert_eq!(s.details.breakout_type, Some(BreakoutType::SupportBreak));

        let s = evaluate(
            Strategy::Breakout,
            &down(Bias::Long),
            &ScannerConfig::default(),
        );
        assert_eq!((s.action, s.bias), (Action::Wait, Bias::Short));
        assert_eq!(reasons(&s), ["htf_opposite"]);
    }

    #[test]
    fn no_or_both_breaks_wait() {
        let none = context_with(|c| c.ltf_state.resistance = line(false));
        let s = evaluate(Strategy::Breakout, &none, &ScannerConfig::default());
        assert_eq!((s.action, s.bias, s.score), (Action::Wait, Bias::None, 0.0));
        assert_eq!(reasons(&s), ["no_breakout"]);
        assert_eq!(s.details.breakout_type, None);

        let both = context_with(|c| {
            c.ltf_state.resistance = line(true);
            c.ltf_state.support = line(true);
        });
        let s = evaluate(Strategy::Breakout, &both, &ScannerConfig::default());
        assert_eq!(reasons(&s), ["conflicting_breakouts"]);
        assert_eq!(s.observability.score_composition.breakout_type, None);
    }

    #[test]
    fn score_below_min_waits() {
        let mut ctx = up_break();
        ctx.ltf_state.cardwell_range = CardwellRange::Transition; // 65 - 25 + 8 = 48 < 55
        let s = evaluate(Strategy::Breakout, &ctx, &ScannerConfig::default());
        assert!((s.score - 48.0).abs() < 1e-9);
        assert_eq!(reasons(&s), ["score_below_min"]);
        let mut config = ScannerConfig::default();
        config.breakout.min_score = 45.0;
        assert_eq!(
            evaluate(Strategy::Breakout, &ctx, &config).action,
            Action::Long
        );
    }
}
