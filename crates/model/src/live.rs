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

/// What the dashboard shows of a `LiveStatus`, worded on the server so the
/// browser only places strings: one line per venue, and the row marks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MarketView {
    pub lines: Vec<String>,
    pub marks: Vec<MarkView>,
}

/// A row mark as the table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkView {
    /// `EXCHANGE:SYMBOL`.
    pub symbol_key: String,
    /// `stale` or `delisted`.
    pub label: String,
    pub reason: String,
}

impl VenueStatus {
    /// "BINANCE futures: streaming · 48 of 50 current · 2 stale · next close 10:45 UTC".
    pub fn line(&self) -> String {
        let mode = match &self.mode {
            FeedMode::Starting => "starting (universe, backfill)".to_string(),
            FeedMode::Streaming => "streaming".to_string(),
            FeedMode::Polling(reason) => format!("REST polling ({reason})"),
            FeedMode::Simulated => "simulated market".to_string(),
        };
        let mut parts = vec![
            mode,
            format!("{} of {} current", self.current, self.symbols),
        ];
        if self.stale > 0 {
            parts.push(format!("{} stale", self.stale));
        }
        if self.delisted > 0 {
            parts.push(format!("{} delisted", self.delisted));
        }
        if let Some(next) = self.next_close_ms {
            parts.push(format!("next close {} UTC", super::format::utc_short(next)));
        }
        if let Some(wait) = &self.rate_limit {
            parts.push(wait.clone());
        }
        if let Some(error) = &self.last_error {
            parts.push(format!("last problem: {error}"));
        }
        format!("{} {}: {}", self.exchange, self.market, parts.join(" · "))
    }
}

impl LiveStatus {
    pub fn view(&self) -> MarketView {
        MarketView {
            lines: self.venues.iter().map(VenueStatus::line).collect(),
            marks: self
                .marks
                .iter()
                .map(|m| MarkView {
                    symbol_key: format!("{}:{}", m.exchange, m.symbol),
                    label: match m.kind {
                        MarkKind::Stale => "stale",
                        MarkKind::Delisted => "delisted",
                    }
                    .to_string(),
                    reason: m.reason.clone(),
                })
                .collect(),
        }
    }

    /// The mark of one row, if any.
    pub fn mark_of(&self, exchange: Exchange, symbol: &str) -> Option<&RowMark> {
        self.marks
            .iter()
            .find(|m| m.exchange == exchange && m.symbol == symbol)
    }
}
