//! The live market's state as the dashboard shows it: per exchange market,
//! whether its candle stream is connected, how many symbols are current,
//! stale or delisted, when the next 15m close is, and any rate-limit wait;
//! plus the rows the loop marks (a symbol whose candles did not arrive, a
//! delisted one). Shared by the server (the live loop publishes it on the
//! event stream) and the browser (the status line).

use super::enums::Exchange;
use serde::{Deserialize, Serialize};

/// How a venue's closes reach the loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum FeedMode {
    /// Starting: universe and backfill.
    Starting,
    /// The WebSocket stream is connected.
    Streaming,
    /// No stream (down, or none for this venue): REST polling after each close.
    Polling(String),
    /// The built-in simulated market (synthetic candles).
    Simulated,
}

/// One exchange market of the universe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VenueStatus {
    pub exchange: Exchange,
    /// `spot` or `futures`.
    pub market: String,
    pub mode: FeedMode,
    /// Symbols of the universe.
    pub symbols: usize,
    /// Symbols whose last 15m candle is the latest close.
    pub current: usize,
    /// Symbols whose candles for a close did not arrive (see the row marks).
    pub stale: usize,
    /// Symbols the exchange delisted (kept in the feed, marked, not fetched).
    pub delisted: usize,
    /// Open time + 15 min of the newest 15m candle every current symbol has (Unix ms).
    pub last_close_ms: Option<i64>,
    pub next_close_ms: Option<i64>,
    /// A wait imposed by the exchange's limits, in words
    /// ("BINANCE rate-limited, resuming in 14 s").
    pub rate_limit: Option<String>,
    /// The last problem (a failed request, a full disk), in words.
    pub last_error: Option<String>,
}

/// A row the live loop marks, and why (`EXCHANGE:SYMBOL`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowMark {
    pub exchange: Exchange,
    pub symbol: String,
    pub kind: MarkKind,
    /// Why, in words ("no 15m candle for the 10:45 close: stream down, REST: timeout").
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    Stale,
    Delisted,
}

/// Everything the status line and the row marks need.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LiveStatus {
    pub venues: Vec<VenueStatus>,
    pub marks: Vec<RowMark>,
    /// True when the candles are the simulated market's (SYNTHETIC).
    pub simulated: bool,
    /// The loop's clock when this was published (Unix ms).
    pub at_ms: i64,
}

impl LiveStatus {
    /// The mark of one row, if any.
    pub fn mark_of(&self, exchange: Exchange, symbol: &str) -> Option<&RowMark> {
        self.marks
            .iter()
            .find(|m| m.exchange == exchange && m.symbol == symbol)
    }
}
