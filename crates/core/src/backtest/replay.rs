//! The walk-forward replay of one symbol (STRATEGIES.md §6): at the close
//! of every LTF candle i from the first with `data.min_ltf_candles`
//! candles, the production strategies (`strategies::evaluate`) read the
//! context a live scan would have had then (`WalkForward`), the open trades
//! take candle i first, then the signals open trades by the opening rule
//! (`track::TradeBook`).
//!
//! A strategy whose trade is still open after candle i is not evaluated at
//! i: whatever it signals, the rule opens nothing. This skips work, not
//! information: the trades are those of evaluating every close.

use super::walk::WalkForward;
use super::HistoricalDerivatives;
use crate::context::ExternalContext;
use crate::strategies::evaluate;
use crate::track::TradeBook;
use quantpro_model::Candle;
use quantpro_model::{Exchange, ScannerConfig, Strategy, Trade};

/// What the replay of one symbol produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SymbolReplay {
    /// By opening time; still-open trades last among equals.
    pub trades: Vec<Trade>,
    /// LTF closes replayed.
    pub closes: usize,
    /// Strategy evaluations run.
    pub evaluations: usize,
    /// Open times of the first and last LTF candle replayed.
    pub first: Option<i64>,
    pub last: Option<i64>,
}

/// The first LTF index a replay evaluates: the first with at least
/// `data.min_ltf_candles` candles and an open time at or after `from_ms`.
pub fn first_replayed(ltf: &[Candle], config: &ScannerConfig, from_ms: Option<i64>) -> usize {
    let enough = config.data.min_ltf_candles.saturating_sub(1);
    let from = from_ms.map_or(0, |from| ltf.partition_point(|c| c.t < from));
    enough.max(from)
}

/// Replays the closed candles of one symbol with `strategies`, from
/// `from_ms` (open time; earlier candles are history only) to the end of
/// `ltf`, with no external data. Trades still open at the end are reported open.
pub fn replay_symbol(
    symbol: &str,
    exchange: Exchange,
    ltf: &[Candle],
    htf: &[Candle],
    config: &ScannerConfig,
    strategies: &[Strategy],
    from_ms: Option<i64>,
) -> SymbolReplay {
    replay_symbol_with(
        symbol, exchange, ltf, htf, config, strategies, from_ms, None,
    )
}

/// [`replay_symbol`] with the external data `derivatives` gives at each
/// close evaluated, from the candles closed by then.
#[allow(clippy::too_many_arguments)]
pub fn replay_symbol_with(
    symbol: &str,
    exchange: Exchange,
    ltf: &[Candle],
    htf: &[Candle],
    config: &ScannerConfig,
    strategies: &[Strategy],
    from_ms: Option<i64>,
    derivatives: Option<&HistoricalDerivatives>,
) -> SymbolReplay {
    let start = first_replayed(ltf, config, from_ms);
    if start >= ltf.len() {
        return SymbolReplay::default();
    }
    let mut walk = WalkForward::new(symbol, exchange, ltf, htf, config);
    let mut book = TradeBook::new();
    let mut evaluations = 0;
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
            if !book.is_open(strategy) {
                evaluations += 1;
                book.offer(&evaluate(strategy, ctx, config));
            }
        }
    }
    SymbolReplay {
        trades: book.into_trades(),
        closes: ltf.len() - start,
        evaluations,
        first: Some(ltf[start].t),
        last: ltf.last().map(|c| c.t),
    }
}
