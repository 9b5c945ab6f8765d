//! The opening rule of STRATEGIES.md §6 for one (symbol, exchange): a
//! signal that acts opens a trade unless a trade of the same strategy is
//! still open, so a signal repeated on the next closes opens nothing. Each
//! close is offered first as a candle (the open trades resolve on it), then
//! as signals: a trade resolved on candle j no longer blocks a signal at
//! the close of that same candle j.

use super::outcome::{apply_candle, open_trade};
use quantpro_model::Candle;
use quantpro_model::{Signal, Strategy, TrackConfig, Trade};

/// The trades of one (symbol, exchange), at most one open per strategy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TradeBook {
    /// Open trades with the number of candles each has seen since its opening.
    open: Vec<(Trade, usize)>,
    closed: Vec<Trade>,
}

impl TradeBook {
    pub fn new() -> TradeBook {
        TradeBook::default()
    }

    /// Whether `strategy` has an open trade (its signals open nothing now).
    pub fn is_open(&self, strategy: Strategy) -> bool {
        self.open.iter().any(|(t, _)| t.strategy == strategy)
    }

    /// A new LTF candle closed: every open trade takes it. Call before the
    /// signals of the same close are offered.
    pub fn on_candle(&mut self, candle: &Candle, cfg: &TrackConfig) {
        let mut k = 0;
        while k < self.open.len() {
            let (trade, bars) = &mut self.open[k];
            *bars += 1;
            if apply_candle(trade, candle, *bars, cfg) {
                self.closed.push(self.open.remove(k).0);
            } else {
                k += 1;
            }
        }
    }

    /// A signal at the close of the newest candle: opens its trade when it
    /// acts and its strategy has none open. Returns the trade opened.
    pub fn offer(&mut self, signal: &Signal) -> Option<&Trade> {
        if self.is_open(signal.strategy) {
            return None;
        }
        let trade = open_trade(signal)?;
        debug_assert!(
            self.open
                .iter()
                .map(|(t, _)| t)
                .chain(&self.closed)
                .all(|t| t.symbol == trade.symbol && t.exchange == trade.exchange),
            "one book per (symbol, exchange)"
        );
        self.open.push((trade, 0));
        self.open.last().map(|(t, _)| t)
    }

    /// Every trade, closed and still open, by opening time.
    pub fn into_trades(self) -> Vec<Trade> {
        let mut trades = self.closed;
        trades.extend(self.open.into_iter().map(|(t, _)| t));
        trades.sort_by(|a, b| {
            a.opened_at
                .cmp(&b.opened_at)
                .then_with(|| a.strategy.cmp(&b.strategy))
        });
        trades
    }
}

/// The order trades are reported in (the backtest report, the journal's
/// track record): by opening candle, then exchange, symbol and strategy.
pub fn sort_trades(trades: &mut [Trade]) {
    trades.sort_by(|a, b| {
        (a.opened_at, a.exchange, &a.symbol, a.strategy).cmp(&(
            b.opened_at,
            b.exchange,
            &b.symbol,
            b.strategy,
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::tests::context_with;
    use crate::track::outcome::tests::{bar, M15};
    use quantpro_model::{Action, Outcome, ScannerConfig, Side, TradeSetup};

    /// A LONG signal of `strategy` at the close of candle `k`: entry 100,
    /// stop 98, target 105.
    fn long_signal(strategy: Strategy, k: i64) -> Signal {
        let ctx = context_with(|_| {});
        let mut signal = crate::strategies::evaluate(strategy, &ctx, &ScannerConfig::default());
        signal.action = Action::Long;
        signal.setup = Some(TradeSetup {
            side: Side::Long,
            entry: 100.0,
            sl: 98.0,
            tp: 105.0,
            rr: 2.5,
        });
        signal.ltf.last_candle_time = Some(k * M15);
        signal
    }

    #[test]
    fn one_open_trade_per_strategy_and_a_resolved_one_unblocks_the_same_close() {
        let cfg = TrackConfig::default();
        let mut book = TradeBook::new();
        assert!(book.offer(&long_signal(Strategy::Legacy, 0)).is_some());
        assert!(book.is_open(Strategy::Legacy));
        // Candle 1 resolves nothing; Legacy's repeat opens nothing, Breakout opens.
        book.on_candle(&bar(1, 101.0, 99.0, 100.0), &cfg);
        assert!(book.offer(&long_signal(Strategy::Legacy, 1)).is_none());
        assert!(book.offer(&long_signal(Strategy::Breakout, 1)).is_some());
        // Candle 2 hits both targets; at its close Legacy may open again.
        book.on_candle(&bar(2, 105.0, 100.0, 104.0), &cfg);
        assert!(!book.is_open(Strategy::Legacy) && !book.is_open(Strategy::Breakout));
        let reopened = book.offer(&long_signal(Strategy::Legacy, 2)).unwrap();
        assert_eq!(reopened.opened_at, 2 * M15);
        // A waiting signal opens nothing.
        let mut wait = long_signal(Strategy::BreakoutV2, 2);
        wait.action = Action::Wait;
        assert!(book.offer(&wait).is_none());

        let trades = book.into_trades();
        let summary: Vec<(Strategy, i64, Outcome, Option<usize>)> = trades
            .iter()
            .map(|t| (t.strategy, t.opened_at / M15, t.outcome, t.bars))
            .collect();
        assert_eq!(
            summary,
            [
                (Strategy::Legacy, 0, Outcome::Win, Some(2)),
                (Strategy::Breakout, 1, Outcome::Win, Some(1)),
                (Strategy::Legacy, 2, Outcome::Open, None),
            ]
        );
    }

    #[test]
    fn bars_count_from_each_trades_own_opening() {
        let cfg = TrackConfig {
            max_bars: 2,
            fee_bps: 0.0,
        };
        let mut book = TradeBook::new();
        book.offer(&long_signal(Strategy::Legacy, 0));
        book.on_candle(&bar(1, 101.0, 99.0, 100.0), &cfg);
        book.offer(&long_signal(Strategy::Breakout, 1));
        book.on_candle(&bar(2, 101.0, 99.0, 101.0), &cfg);
        assert!(
            !book.is_open(Strategy::Legacy),
            "Legacy expired after 2 bars"
        );
        assert!(book.is_open(Strategy::Breakout), "Breakout has seen 1 bar");
        book.on_candle(&bar(3, 101.0, 99.0, 99.0), &cfg);
        let trades = book.into_trades();
        assert_eq!(
            trades
                .iter()
                .map(|t| (t.outcome, t.closed_at, t.r))
                .collect::<Vec<_>>(),
            [
                (Outcome::Expired, Some(2 * M15), Some(0.5)),
                (Outcome::Expired, Some(3 * M15), Some(-0.5)),
            ]
        );
    }
}
