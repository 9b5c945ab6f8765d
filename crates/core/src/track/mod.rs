//! The track record of STRATEGIES.md §6 on the server: which signals open
//! trades, how a trade resolves over the LTF candles after it, and the
//! statistics of groups of trades.
//!
//! Flow: a scan's or replay's signals -> `book` (the opening rule: one open
//! trade per symbol, exchange and strategy) -> `outcome` (stop, target,
//! expiry, R after fees, MFE/MAE, one candle at a time) -> `stats` (polars:
//! every figure per strategy, exchange, symbol, score bucket and overall).
//! The backtest (`core::backtest`) drives these over history; the signal
//! journal calls the same functions on live closes (`update_open_trade`).
//! The shapes are `model::track`'s.

mod book;
mod outcome;
mod stats;

pub use book::{sort_trades, TradeBook};
pub use outcome::{apply_candle, fee_r, open_trade, update_open_trade};
pub use stats::{track_record, trades_frame, StatsError};
