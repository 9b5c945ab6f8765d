//! What the live loop needs of one exchange market: its listings (for the
//! universe), closed candles over REST (backfill, repair, polling), and, when
//! it has one, a stream of candle closes. Real exchanges implement it over
//! `sources` (REST fetchers under the rate governor, WebSocket streams); the
//! simulated market implements it in-process.

use async_trait::async_trait;
use quantpro_model::Candle;
use quantpro_model::Market;
use quantpro_model::{Exchange, Interval};
pub use quantpro_sources::venues::Listing;
use quantpro_sources::SourceError;
use tokio::sync::mpsc;

/// What a candle stream reports.
#[derive(Debug, Clone, PartialEq)]
pub enum CloseEvent {
    /// A candle that has closed (only closed candles enter a scan).
    Closed {
        symbol: String,
        interval: Interval,
        candle: Candle,
    },
    /// Connected (again) with every subscription acknowledged: from now
    /// on the stream brings every close; whatever closed before (while it
    /// was down, while subscribing) must be repaired over REST.
    Connected,
    /// The stream is down; the loop polls REST until `Connected`.
    Down { reason: String },
}

#[async_trait]
pub trait LiveMarket: Send + Sync {
    fn exchange(&self) -> Exchange;
    fn market(&self) -> Market;

    /// The market's tradable symbols with their 24 h volume.
    async fn listings(&self) -> Result<Vec<Listing>, SourceError>;

    /// Candles opening in `[start_ms, end_ms)`, oldest first, paged within
    /// the exchange's limits; may include the still-open one (the caller
    /// keeps closed candles only).
    async fn candles(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Candle>, SourceError>;

    /// How many candles back from now the exchange serves (as
    /// `CandleFetcher::history_limit`); `None` when unlimited.
    fn history_limit(&self) -> Option<usize> {
        None
    }

    /// The wait the exchange's limits impose right now, in words
    /// ("BINANCE futures rate-limited, resuming in 14 s"), for the status line.
    fn rate_limit(&self) -> Option<String> {
        None
    }

    /// The same wait in a few words, for a row waiting on it:
    /// "BINANCE futures (banned, resumes in 14 s)".
    fn host_wait(&self) -> Option<String> {
        None
    }

    /// A stream of closes for `symbols` at `intervals`, or `None` when the
    /// venue has none (the loop then polls REST after each close).
    fn stream(
        &self,
        _symbols: &[String],
        _intervals: &[Interval],
    ) -> Option<mpsc::Receiver<CloseEvent>> {
        None
    }
}
