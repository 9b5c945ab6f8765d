//! The trade setup of STRATEGIES.md §5: entry at the last LTF close, stop
//! beyond the recent LTF extreme plus an ATR buffer (at least a minimum ATR
//! distance away), target at the HTF extreme when it pays enough, otherwise
//! a fixed multiple of the risk.
//!
//! Every strategy with a direction gets a setup; the strategy turns a setup
//! below `setup.min_rr` into a WAIT.

use quantpro_model::Candle;
use quantpro_model::{SetupConfig, Side, TradeSetup};

/// The setup for `side`, or `None` when no sound one exists: no candle or
/// ATR, a zero risk (a perfectly flat market), or a stop or target that
/// would not be a positive price (volatility larger than the price itself).
pub fn compute_setup(
    ltf: &[Candle],
    htf: &[Candle],
    atr: Option<f64>,
    side: Side,
    cfg: &SetupConfig,
) -> Option<TradeSetup> {
    let entry = ltf.last()?.c;
    let atr = atr.filter(|a| a.is_finite() && *a >= 0.0)?;
    let dir = side.sign();
    let recent = &ltf[ltf.len().saturating_sub(cfg.sl_lookback)..];
    // `dir * price` turns the SHORT case into the LONG one: the LONG stop
    // sits below the lowest low, the SHORT stop above the highest high.
    let stop_extreme = recent
        .iter()
        .map(|c| if dir > 0.0 { c.l } else { c.h })
        .fold(None, |acc, p| extreme(acc, p, -dir))?;
    let mut sl = stop_extreme - dir * cfg.sl_atr_buffer * atr;
    if dir * (entry - sl) < cfg.min_risk_atr * atr {
        sl = entry - dir * cfg.min_risk_atr * atr;
    }
    let risk = dir * (entry - sl);
    if !(risk > 0.0 && risk.is_finite()) {
        return None;
    }
    let htf_recent = &htf[htf.len().saturating_sub(cfg.tp_lookback)..];
    let target_extreme = htf_recent
        .iter()
        .map(|c| if dir > 0.0 { c.h } else { c.l })
        .fold(None, |acc, p| extreme(acc, p, dir));
    let tp = match target_extreme {
        Some(x) if dir * (x - entry) > 0.0 && dir * (x - entry) >= cfg.tp_min_rr * risk => x,
        _ => entry + dir * cfg.fallback_rr * risk,
    };
    let rr = dir * (tp - entry) / risk;
    let sound = sl > 0.0 && tp > 0.0 && rr > 0.0 && [sl, tp, rr].iter().all(|v| v.is_finite());
    sound.then_some(TradeSetup {
        side,
        entry,
        sl,
        tp,
        rr,
    })
}

/// The larger (`towards > 0`) or smaller of the running extreme and `p`.
fn extreme(acc: Option<f64>, p: f64, towards: f64) -> Option<f64> {
    Some(match acc {
        None => p,
        Some(a) if (p - a) * towards > 0.0 => p,
        Some(a) => a,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(h: f64, l: f64, c: f64) -> Candle {
        Candle {
            t: 0,
            o: c,
            h,
            l,
            c,
            v: 1.0,
        }
    }

    /// 12 LTF candles; the last 10 have lows down to 95 and highs up to 105; last close 100.
    fn ltf() -> Vec<Candle> {
        let mut v = vec![candle(200.0, 1.0, 100.0), candle(200.0, 1.0, 100.0)];
        v.extend((0..10).map(|i| {
            candle(
                101.0 + (i == 3) as u8 as f64 * 4.0,
                99.0 - (i == 5) as u8 as f64 * 4.0,
                100.0,
            )
        }));
        v
    }

    #[test]
    fn long_uses_the_htf_high_when_it_pays_enough() {
        let cfg = SetupConfig::default();
        // SL = 95 - 0.25 * 2 = 94.5; risk 5.5 (>= 1 ATR); HTF high 120 >= 100 + 1.5 * 5.5.
        let htf = vec![candle(120.0, 90.0, 100.0), candle(110.0, 90.0, 100.0)];
        let s = compute_setup(&ltf(), &htf, Some(2.0), Side::Long, &cfg).unwrap();
        assert_eq!(
            (s.side, s.entry, s.sl, s.tp),
            (Side::Long, 100.0, 94.5, 120.0)
        );
        assert!((s.rr - 20.0 / 5.5).abs() < 1e-12);
    }

    #[test]
    fn long_falls_back_to_two_risks() {
        let cfg = SetupConfig::default();
        let htf = vec![candle(105.0, 90.0, 100.0)]; // 105 < 100 + 1.5 * 5.5 = 108.25
        let s = compute_setup(&ltf(), &htf, Some(2.0), Side::Long, &cfg).unwrap();
        assert_eq!((s.sl, s.tp, s.rr), (94.5, 111.0, 2.0));
        // No HTF candles at all: the fallback too.
        assert_eq!(
            compute_setup(&ltf(), &[], Some(2.0), Side::Long, &cfg)
                .unwrap()
                .tp,
            111.0
        );
    }

    #[test]
    fn short_mirrors_long() {
        let cfg = SetupConfig::default();
        // SL = 105 + 0.5 = 105.5, risk 5.5; HTF low 80 <= 100 - 8.25.
        let htf = vec![candle(110.0, 80.0, 100.0)];
        let s = compute_setup(&ltf(), &htf, Some(2.0), Side::Short, &cfg).unwrap();
        assert_eq!(
            (s.side, s.entry, s.sl, s.tp),
            (Side::Short, 100.0, 105.5, 80.0)
        );
        assert!((s.rr - 20.0 / 5.5).abs() < 1e-12);
        let near = vec![candle(110.0, 95.0, 100.0)];
        let s = compute_setup(&ltf(), &near, Some(2.0), Side::Short, &cfg).unwrap();
        assert_eq!((s.tp, s.rr), (89.0, 2.0));
    }

    #[test]
    fn stop_is_at_least_the_minimum_atr_distance() {
        let cfg = SetupConfig::default();
        // ATR 10: the lowest low 95 - 2.5 = 92.5 is only 7.5 away, so SL = 100 - 10.
        let s = compute_setup(&ltf(), &[], Some(10.0), Side::Long, &cfg).unwrap();
        assert_eq!((s.sl, s.tp), (90.0, 120.0));
        let s = compute_setup(&ltf(), &[], Some(10.0), Side::Short, &cfg).unwrap();
        assert_eq!((s.sl, s.tp), (110.0, 80.0));
    }

    #[test]
    fn lookbacks_are_configurable() {
        let cfg = SetupConfig {
            sl_lookback: 12,
            tp_lookback: 1,
            ..SetupConfig::default()
        };
        // The 12-candle window reaches the low of 1; the 1-candle HTF window sees only 101.
        let htf = vec![candle(500.0, 90.0, 100.0), candle(101.0, 90.0, 100.0)];
        let s = compute_setup(&ltf(), &htf, Some(2.0), Side::Long, &cfg).unwrap();
        assert_eq!(s.sl, 0.5);
        assert_eq!(s.tp, 100.0 + 2.0 * 99.5);
    }

    #[test]
    fn no_setup_without_risk_or_positive_prices() {
        let cfg = SetupConfig::default();
        let flat = vec![candle(1.0, 1.0, 1.0); 20];
        assert_eq!(
            compute_setup(&flat, &flat, Some(0.0), Side::Long, &cfg),
            None,
            "zero risk"
        );
        assert_eq!(
            compute_setup(&ltf(), &[], None, Side::Long, &cfg),
            None,
            "no ATR"
        );
        assert_eq!(
            compute_setup(&[], &[], Some(1.0), Side::Long, &cfg),
            None,
            "no candle"
        );
        assert_eq!(
            compute_setup(&ltf(), &[], Some(150.0), Side::Long, &cfg),
            None,
            "stop below zero"
        );
        assert_eq!(
            compute_setup(&ltf(), &[], Some(60.0), Side::Short, &cfg),
            None,
            "target below zero"
        );
    }
}
