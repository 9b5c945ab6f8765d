//! The four score components of STRATEGIES.md §3 and the Cardwell timing
//! score. Each component is clamped to 0..25 and the total to 0..100; a
//! component that depends on the direction is 0 while there is none.

use crate::context::{agrees, SharedContext};
use quantpro_model::{Bias, CardwellRange, Side};

/// Ceiling of one component.
pub const COMPONENT_MAX: f64 = 25.0;

/// The four mapped scores (the dashboard's keys).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScoreParts {
    pub trend: f64,
    pub structure: f64,
    pub money_flow: f64,
    pub timing: f64,
}

impl ScoreParts {
    /// Builds the parts, clamping each to 0..25 (a non-finite raw value scores 0).
    pub fn clamped(trend: f64, structure: f64, money_flow: f64, timing: f64) -> ScoreParts {
        ScoreParts {
            trend: component(trend),
            structure: component(structure),
            money_flow: component(money_flow),
            timing: component(timing),
        }
    }

    /// Sum of the parts, clamped to 0..100.
    pub fn total(&self) -> f64 {
        (self.trend + self.structure + self.money_flow + self.timing).clamp(0.0, 100.0)
    }
}

fn component(raw: f64) -> f64 {
    if raw.is_finite() {
        raw.clamp(0.0, COMPONENT_MAX)
    } else {
        0.0
    }
}

/// Cardwell timing score: LONG favours a bullish range with RSI pulled back
/// into [40, 50]; SHORT mirrors it (bearish with RSI in [50, 60]).
pub fn cardwell_score(range: CardwellRange, rsi: Option<f64>, side: Side) -> f64 {
    use CardwellRange::*;
    let pullback_zone = match side {
        Side::Long => 40.0..=50.0,
        Side::Short => 50.0..=60.0,
    };
    match (side, range) {
        (Side::Long, Bullish) | (Side::Short, Bearish)
            if rsi.is_some_and(|v| pullback_zone.contains(&v)) =>
        {
            25.0
        }
        (Side::Long, Bullish) | (Side::Short, Bearish) => 15.0,
        (_, Neutral) => 10.0,
        (_, Transition) => 8.0,
        // Exhausted against the trade: a reversal may start here.
        (Side::Long, Oversold) | (Side::Short, Overbought) => 5.0,
        // Exhausted in the trade's direction, or the opposite regime.
        _ => 0.0,
    }
}

/// Legacy and Breakout: HTF trend strength, LTF EMA structure, OBV flow in
/// the direction, Cardwell timing.
pub fn trend_scores(ctx: &SharedContext, dir: Option<Side>) -> ScoreParts {
    let Some(side) = dir else {
        return ScoreParts::default();
    };
    let s = &ctx.ltf_state;
    let trend = match ctx.htf_summary.adx {
        Some(adx) if ctx.htf_summary.bias == Bias::from(side) => adx / 2.0,
        _ => 0.0,
    };
    let on_dir_side = |a: f64, b: f64| (a - b) * side.sign() > 0.0;
    let structure = match s.ema50 {
        Some(e50) => {
            let ema_half = if s.ema20.is_some_and(|e20| on_dir_side(e20, e50)) {
                12.5
            } else {
                0.0
            };
            let close_half = if on_dir_side(s.close, e50) { 12.5 } else { 0.0 };
            ema_half + close_half
        }
        None => 0.0,
    };
    let money_flow = if agrees(s.obv_slope, side) {
        s.obv_slope.abs() * 100.0
    } else {
        0.0
    };
    let timing = cardwell_score(s.cardwell_range, s.rsi, side);
    ScoreParts::clamped(trend, structure, money_flow, timing)
}

/// BreakoutV2: OI z-score, OBV slope strength, RSI level, Cardwell timing.
/// Only the timing depends on the direction.
pub fn flow_scores(ctx: &SharedContext, dir: Option<Side>) -> ScoreParts {
    let s = &ctx.ltf_state;
    let trend = ctx.external.oi_z.value * 10.0;
    let structure = s.obv_slope.abs() * 100.0;
    let money_flow = s.rsi.map_or(0.0, |rsi| rsi / 4.0);
    let timing = dir.map_or(0.0, |side| cardwell_score(s.cardwell_range, s.rsi, side));
    ScoreParts::clamped(trend, structure, money_flow, timing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::tests::context_with;
    use CardwellRange::*;

    #[test]
    fn cardwell_mapping_long_and_short() {
        let long = |r, rsi| cardwell_score(r, Some(rsi), Side::Long);
        assert_eq!(long(Bullish, 40.0), 25.0);
        assert_eq!(long(Bullish, 50.0), 25.0);
        assert_eq!(long(Bullish, 50.1), 15.0);
        assert_eq!(long(Bullish, 39.9), 15.0);
        assert_eq!(long(Neutral, 45.0), 10.0);
        assert_eq!(long(Transition, 45.0), 8.0);
        assert_eq!(long(Oversold, 15.0), 5.0);
        assert_eq!(long(Overbought, 85.0), 0.0);
        assert_eq!(long(Bearish, 45.0), 0.0);
        assert_eq!(cardwell_score(Bullish, None, Side::Long), 15.0);

        let short = |r, rsi| cardwell_score(r, Some(rsi), Side::Short);
        assert_eq!(short(Bearish, 50.0), 25.0);
        assert_eq!(short(Bearish, 60.0), 25.0);
        assert_eq!(short(Bearish, 45.0), 15.0);
        assert_eq!(short(Neutral, 55.0), 10.0);
        assert_eq!(short(Transition, 55.0), 8.0);
        assert_eq!(short(Overbought, 85.0), 5.0);
        assert_eq!(short(Oversold, 15.0), 0.0);
        assert_eq!(short(Bullish, 55.0), 0.0);
    }

    #[test]
    fn components_clamp_and_total_sums() {
        let parts = ScoreParts::clamped(40.0, -3.0, f64::NAN, 12.5);
        assert_eq!(
            (parts.trend, parts.structure, parts.money_flow, parts.timing),
            (25.0, 0.0, 0.0, 12.5)
        );
        assert_eq!(parts.total(), 37.5);
    }

    #[test]
    fn trend_scores_follow_the_table() {
        let ctx = context_with(|c| {
            c.htf_summary.bias = Bias::Long;
            c.htf_summary.adx = Some(31.0);
            c.ltf_state.ema20 = Some(101.0);
            c.ltf_state.ema50 = Some(100.0);
            c.ltf_state.close = 102.0;
            c.ltf_state.obv_slope = 0.12;
            c.ltf_state.cardwell_range = Bullish;
            c.ltf_state.rsi = Some(45.0);
        });
        let long = trend_scores(&ctx, Some(Side::Long));
        assert_eq!(
            (long.trend, long.structure, long.timing),
            (15.5, 25.0, 25.0)
        );
        assert!((long.money_flow - 12.0).abs() < 1e-12);
        assert!((long.total() - 77.5).abs() < 1e-12);

        // The same context read SHORT: HTF disagrees, EMAs and OBV point up.
        let short = trend_scores(&ctx, Some(Side::Short));
        assert_eq!(
            (short.trend, short.structure, short.money_flow, short.timing),
            (0.0, 0.0, 0.0, 0.0)
        );
        assert_eq!(trend_scores(&ctx, None), ScoreParts::default());

        // Close below EMA50 with EMA20 above it: half the structure score.
        let half = context_with(|c| {
            c.ltf_state.ema20 = Some(101.0);
            c.ltf_state.ema50 = Some(100.0);
            c.ltf_state.close = 99.0;
        });
        assert_eq!(trend_scores(&half, Some(Side::Long)).structure, 12.5);
        assert_eq!(trend_scores(&half, Some(Side::Short)).structure, 12.5);
    }

    #[test]
    fn flow_scores_follow_the_table() {
        let ctx = context_with(|c| {
            c.external.oi_z.value = 1.8;
            c.external.oi_z.valid = true;
            c.ltf_state.obv_slope = -0.07;
            c.ltf_state.rsi = Some(58.0);
            c.ltf_state.cardwell_range = Bearish;
        });
        let short = flow_scores(&ctx, Some(Side::Short));
        assert!((short.trend - 18.0).abs() < 1e-12);
        assert!((short.structure - 7.0).abs() < 1e-12);
        assert_eq!((short.money_flow, short.timing), (14.5, 25.0));
        let none = flow_scores(&ctx, None);
        assert_eq!(none.timing, 0.0);
        assert!((none.total() - (18.0 + 7.0 + 14.5)).abs() < 1e-12);

        let capped = context_with(|c| {
            c.external.oi_z.value = 4.0;
            c.ltf_state.obv_slope = 0.9;
        });
        let parts = flow_scores(&capped, Some(Side::Long));
        assert_eq!((parts.trend, parts.structure), (25.0, 25.0));
        let negative_oi = context_with(|c| c.external.oi_z.value = -2.0);
        assert_eq!(flow_scores(&negative_oi, Some(Side::Long)).trend, 0.0);
    }
}
