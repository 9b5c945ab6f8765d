//! One trade from its opening to its outcome (STRATEGIES.md §6).
//!
//! A trade opens at the close of the signal's candle i with the signal's
//! setup. Each later LTF candle j (bar = j - i) first widens MFE / MAE with
//! its high and low, then resolves the trade: LONG loses when the low
//! reaches the stop (checked first, so a candle touching both is a loss),
//! wins when the high reaches the target; SHORT mirrors it. With neither by
//! bar `track.max_bars` the trade expires at that candle's close. R is
//! +RR, -1 or the side's move over the risk at expiry, minus the round
//! trip's fees in R.

use quantpro_model::Candle;
use quantpro_model::{Action, Outcome, Side, Signal, TrackConfig, Trade};

/// The trade a signal opens if it acts (LONG or SHORT with a setup), filled
/// at the close of its last candle. The caller applies the opening rule
/// ([`super::TradeBook`]).
pub fn open_trade(signal: &Signal) -> Option<Trade> {
    if signal.action == Action::Wait {
        return None;
    }
    let setup = signal.setup.as_ref()?;
    Some(Trade {
        exchange: signal.exchange,
        symbol: signal.symbol.clone(),
        strategy: signal.strategy,
        side: setup.side,
        opened_at: signal.ltf.last_candle_time?,
        entry: setup.entry,
        sl: setup.sl,
        tp: setup.tp,
        rr: setup.rr,
        score: signal.total_score,
        outcome: Outcome::Open,
        closed_at: None,
        r: None,
        mfe_r: 0.0,
        mae_r: 0.0,
        bars: None,
    })
}

/// Fees of the round trip in R: `2 * fee_bps / 10000 * entry / risk`.
pub fn fee_r(trade: &Trade, cfg: &TrackConfig) -> f64 {
    2.0 * cfg.fee_bps / 10_000.0 * trade.entry / trade.risk()
}

/// Applies the `bar`-th LTF candle after the opening candle (1 for the next
/// one) to an open trade. Returns true when this candle closed it; a trade
/// that is already closed is left alone.
pub fn apply_candle(trade: &mut Trade, candle: &Candle, bar: usize, cfg: &TrackConfig) -> bool {
    if !trade.is_open() {
        return false;
    }
    let risk = trade.risk();
    let (favourable, adverse, stop_hit, target_hit) = match trade.side {
        Side::Long => (
            candle.h - trade.entry,
            trade.entry - candle.l,
            candle.l <= trade.sl,
            candle.h >= trade.tp,
        ),
        Side::Short => (
            trade.entry - candle.l,
            candle.h - trade.entry,
            candle.h >= trade.sl,
            candle.l <= trade.tp,
        ),
    };
    // Both start at 0, so the running maximum is floored at 0.
    trade.mfe_r = trade.mfe_r.max(favourable / risk);
    trade.mae_r = trade.mae_r.max(adverse / risk);
    let (outcome, gross_r) = if stop_hit {
        (Outcome::Loss, -1.0)
    } else if target_hit {
        (Outcome::Win, trade.rr)
    } else if bar >= cfg.max_bars {
        let moved = trade.side.sign() * (candle.c - trade.entry);
        (Outcome::Expired, moved / risk)
    } else {
        return false;
    };
    trade.r = Some(gross_r - fee_r(trade, cfg));
    trade.outcome = outcome;
    trade.closed_at = Some(candle.t);
    trade.bars = Some(bar);
    true
}

/// Brings an open trade up to date with its symbol's LTF candles, oldest
/// first: the journal's call on each new close. The candles up to the
/// opening candle are skipped; the rest must be every candle since, with no
/// gap. The trade is replayed from its opening state, so calling this again
/// with more candles gives the same result as one call with all of them. A
/// closed trade is left alone.
pub fn update_open_trade(trade: &mut Trade, ltf: &[Candle], cfg: &TrackConfig) {
    if !trade.is_open() {
        return;
    }
    trade.mfe_r = 0.0;
    trade.mae_r = 0.0;
    let after = ltf.partition_point(|c| c.t <= trade.opened_at);
    for (k, candle) in ltf[after..].iter().enumerate() {
        if apply_candle(trade, candle, k + 1, cfg) {
            break;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use quantpro_model::Strategy;

    pub(crate) const M15: i64 = 900_000;

    /// LONG at 100, stop 98 (risk 2), target 105 (RR 2.5), opened on candle 0.
    pub(crate) use quantpro_model::fixtures::sample_trade as long_trade;

    /// SHORT at 100, stop 104 (risk 4), target 90 (RR 2.5).
    fn short_trade() -> Trade {
        Trade {
            side: Side::Short,
            sl: 104.0,
            tp: 90.0,
            ..long_trade()
        }
    }

    /// Candle number `k` (open time k * 15 min).
    pub(crate) fn bar(k: i64, h: f64, l: f64, c: f64) -> Candle {
        Candle {
            t: k * M15,
            o: c,
            h,
            l,
            c,
            v: 1.0,
        }
    }

    fn no_fees(max_bars: usize) -> TrackConfig {
        TrackConfig {
            max_bars,
            fee_bps: 0.0,
        }
    }

    #[test]
    fn long_win_loss_and_the_stop_checked_first() {
        let cfg = no_fees(96);
        let mut win = long_trade();
        assert!(!apply_candle(
            &mut win,
            &bar(1, 101.0, 99.0, 100.5),
            1,
            &cfg
        ));
        assert_eq!(
            (win.mfe_r, win.mae_r, win.outcome),
            (0.5, 0.5, Outcome::Open)
        );
        assert!(apply_candle(
            &mut win,
            &bar(2, 105.0, 100.0, 104.0),
            2,
            &cfg
        ));
        assert_eq!(
            (win.outcome, win.r, win.closed_at, win.bars),
            (Outcome::Win, Some(2.5), Some(2 * M15), Some(2))
        );
        assert_eq!((win.mfe_r, win.mae_r), (2.5, 0.5));
        // Closed: later candles change nothing.
        let before = win.clone();
        assert!(!apply_candle(&mut win, &bar(3, 90.0, 80.0, 85.0), 3, &cfg));
        assert_eq!(win, before);

        // One candle through both the stop and the target: a loss, MAE 1.5 and MFE 3.
        let mut both = long_trade();
        assert!(apply_candle(
            &mut both,
            &bar(1, 106.0, 97.0, 101.0),
            1,
            &cfg
        ));
        assert_eq!((both.outcome, both.r), (Outcome::Loss, Some(-1.0)));
        assert_eq!((both.mfe_r, both.mae_r), (3.0, 1.5));

        // Touching the stop exactly is a loss; MAE is exactly 1.
        let mut touch = long_trade();
        assert!(apply_candle(
            &mut touch,
            &bar(1, 100.0, 98.0, 99.0),
            1,
            &cfg
        ));
        assert_eq!(
            (touch.outcome, touch.mae_r, touch.mfe_r),
            (Outcome::Loss, 1.0, 0.0)
        );
    }

    #[test]
    fn short_mirrors_long() {
        let cfg = no_fees(96);
        let mut win = short_trade();
        assert!(apply_candle(&mut win, &bar(1, 102.0, 90.0, 91.0), 1, &cfg));
        assert_eq!((win.outcome, win.r), (Outcome::Win, Some(2.5)));
        // favourable 100 - 90 = 10 = 2.5 R, adverse 102 - 100 = 2 = 0.5 R
        assert_eq!((win.mfe_r, win.mae_r), (2.5, 0.5));
        let mut loss = short_trade();
        assert!(apply_candle(
            &mut loss,
            &bar(1, 104.0, 89.0, 100.0),
            1,
            &cfg
        ));
        assert_eq!((loss.outcome, loss.r), (Outcome::Loss, Some(-1.0)));
    }

    #[test]
    fn expiry_at_max_bars_with_the_close_in_r_and_floors_at_zero() {
        let cfg = no_fees(3);
        let mut long = long_trade();
        // Every candle above the entry: MAE stays 0 (floored), never below.
        assert!(!apply_candle(
            &mut long,
            &bar(1, 101.0, 100.5, 101.0),
            1,
            &cfg
        ));
        assert!(!apply_candle(
            &mut long,
            &bar(2, 102.0, 100.5, 101.0),
            2,
            &cfg
        ));
        assert!(apply_candle(
            &mut long,
            &bar(3, 101.5, 100.2, 101.0),
            3,
            &cfg
        ));
        assert_eq!(
            (long.outcome, long.r, long.bars, long.closed_at),
            (Outcome::Expired, Some(0.5), Some(3), Some(3 * M15))
        );
        assert_eq!((long.mfe_r, long.mae_r), (1.0, 0.0));
        // SHORT expiring at a loss: close 102 is -2 / 4 = -0.5 R.
        let mut short = short_trade();
        assert!(apply_candle(
            &mut short,
            &bar(3, 103.0, 99.0, 102.0),
            3,
            &cfg
        ));
        assert_eq!((short.outcome, short.r), (Outcome::Expired, Some(-0.5)));
        // The stop still wins over expiry on the last bar.
        let mut last = long_trade();
        assert!(apply_candle(&mut last, &bar(3, 101.0, 97.0, 99.0), 3, &cfg));
        assert_eq!(last.outcome, Outcome::Loss);
    }

    #[test]
    fn fees_are_a_round_trip_in_r() {
        // 5 bps per side at entry 100 with risk 2: 2 * 0.0005 * 100 / 2 = 0.05 R.
        let cfg = TrackConfig::default();
        let mut win = long_trade();
        assert!((fee_r(&win, &cfg) - 0.05).abs() < 1e-15);
        apply_candle(&mut win, &bar(1, 105.0, 100.0, 104.0), 1, &cfg);
        assert!((win.r.unwrap() - 2.45).abs() < 1e-12, "{:?}", win.r);
        let mut loss = long_trade();
        apply_candle(&mut loss, &bar(1, 101.0, 97.0, 98.0), 1, &cfg);
        assert!((loss.r.unwrap() + 1.05).abs() < 1e-12);
        let cfg = TrackConfig {
            max_bars: 1,
            fee_bps: 10.0,
        };
        let mut flat = long_trade();
        apply_candle(&mut flat, &bar(1, 101.0, 99.0, 100.0), 1, &cfg);
        assert_eq!(flat.outcome, Outcome::Expired);
        assert!(
            (flat.r.unwrap() + 0.1).abs() < 1e-12,
            "a flat expiry pays the fees"
        );
    }

    #[test]
    fn update_open_trade_replays_from_the_opening_and_is_repeatable() {
        let cfg = no_fees(96);
        let candles = vec![
            bar(-1, 120.0, 80.0, 100.0), // before the opening: ignored
            bar(0, 100.5, 99.5, 100.0),  // the opening candle itself: ignored
            bar(1, 101.0, 99.0, 100.0),
            bar(2, 103.0, 99.5, 102.0),
        ];
        let mut trade = long_trade();
        update_open_trade(&mut trade, &candles[..3], &cfg);
        assert_eq!(
            (trade.outcome, trade.mfe_r, trade.mae_r),
            (Outcome::Open, 0.5, 0.5)
        );
        update_open_trade(&mut trade, &candles, &cfg);
        assert_eq!((trade.mfe_r, trade.mae_r), (1.5, 0.5));
        let mut once = long_trade();
        update_open_trade(&mut once, &candles, &cfg);
        assert_eq!(trade, once, "updating twice equals updating once");

        let mut more = candles.clone();
        more.push(bar(3, 105.5, 101.0, 105.0));
        update_open_trade(&mut trade, &more, &cfg);
        assert_eq!(
            (trade.outcome, trade.bars, trade.closed_at),
            (Outcome::Win, Some(3), Some(3 * M15))
        );
        let closed = trade.clone();
        more.push(bar(4, 90.0, 80.0, 85.0));
        update_open_trade(&mut trade, &more, &cfg);
        assert_eq!(trade, closed, "a closed trade stays as it closed");
        // Nothing after the opening yet: open with MFE and MAE 0.
        let mut fresh = long_trade();
        update_open_trade(&mut fresh, &candles[..2], &cfg);
        assert_eq!(
            (fresh.outcome, fresh.mfe_r, fresh.mae_r),
            (Outcome::Open, 0.0, 0.0)
        );
    }

    #[test]
    fn only_acting_signals_with_a_setup_open_trades() {
        use crate::strategies::tests::context_with;
        use quantpro_model::TradeSetup;
        let ctx = context_with(|_| {});
        let mut signal = crate::strategies::evaluate(
            Strategy::Breakout,
            &ctx,
            &quantpro_model::ScannerConfig::default(),
        );
        assert_eq!(signal.action, Action::Wait);
        assert_eq!(open_trade(&signal), None);
        signal.action = Action::Short;
        signal.total_score = 71.5;
        signal.setup = Some(TradeSetup {
            side: Side::Short,
            entry: 100.0,
            sl: 101.0,
            tp: 97.0,
            rr: 3.0,
        });
        let trade = open_trade(&signal).unwrap();
        assert_eq!(
            (
                trade.side,
                trade.entry,
                trade.sl,
                trade.tp,
                trade.rr,
                trade.score
            ),
            (Side::Short, 100.0, 101.0, 97.0, 3.0, 71.5)
        );
        assert_eq!(trade.opened_at, ctx.ltf.last().unwrap().t);
        assert_eq!(
            (trade.strategy, trade.symbol.as_str()),
            (Strategy::Breakout, "BTCUSDT")
        );
        assert_eq!(
            (trade.outcome, trade.r, trade.bars),
            (Outcome::Open, None, None)
        );
        signal.setup = None;
        assert_eq!(open_trade(&signal), None);
    }
}
