//! The exchanges, one folder per venue with its REST and stream code side
//! by side (`binance/{rest,stream}.rs`, `mexc/`, `hyperliquid/`).
//!
//! REST: candle fetchers, one per exchange market behind the
//! [`CandleFetcher`] trait, so the candle store (and anything else that
//! needs candles) does not care whether the bars came as Binance's 12-field
//! arrays, MEXC's parallel arrays or Hyperliquid's string-priced objects.
//! Each fetcher converts to `quantpro_model::Candle` (open time in ms,
//! oldest first), paginates within its exchange's page limit and, before
//! every request, waits on the process governor's gate of its host for the
//! request's documented weight (so two fetchers of one host share one budget).
//!
//! Streams: [`spawn_stream`] follows a venue's candle closes with the
//! generic connection machinery of `crate::streams` and the venue's own
//! protocol (subscribe frames, acknowledgements, candle frames).

pub mod binance;
pub mod hyperliquid;
pub mod mexc;

use crate::governor::{Governor, HostGate};
use crate::http::{ApiClient, RetryPolicy};
use crate::streams::protocol::Protocol;
use crate::streams::{StreamConfig, StreamEvent, StreamHandle, Subscription, Venue};
use crate::SourceError;
use async_trait::async_trait;
use quantpro_model::Candle;
use quantpro_model::Interval;
use quantpro_model::{Exchange, Market};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Tuning shared by every fetcher; `base_url: None` means the exchange's
/// own. Budgets are the governor's ([`crate::governor`]).
#[derive(Debug, Clone)]
pub struct FetcherConfig {
    pub base_url: Option<String>,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

impl Default for FetcherConfig {
    fn default() -> Self {
        FetcherConfig {
            base_url: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl FetcherConfig {
    pub(crate) fn base_url_or(&self, default: &str) -> String {
        self.base_url
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
            .to_string()
    }

    /// The request loop of a fetcher of `gate`'s host.
    pub(crate) fn api_client(&self, gate: HostGate) -> Result<ApiClient, SourceError> {
        ApiClient::new(gate.host().api(), gate, self.retry, self.timeout)
    }
}

/// One tradable symbol of a market list.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Listing {
    /// As the exchange spells it (`BTCUSDT`, `BTC_USDT`, `BTC`).
    pub symbol: String,
    /// 24 h quote volume (USD(T)), 0 when unknown.
    pub quote_volume_24h: f64,
    /// MEXC contracts: base units per contract (`contractSize`), which the
    /// contract stream needs to report base volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_size: Option<f64>,
}

impl Listing {
    pub fn new(symbol: impl Into<String>, quote_volume_24h: f64) -> Listing {
        Listing {
            symbol: symbol.into(),
            quote_volume_24h,
            contract_size: None,
        }
    }
}

/// Candles and the symbol list of one exchange market.
#[async_trait]
pub trait CandleFetcher: Send + Sync {
    fn exchange(&self) -> Exchange;

    /// Most candles one request returns.
    fn page_limit(&self) -> usize;

    /// When set, each request covers at most this much time, and an empty
    /// window before any data (the range starts before the listing) moves
    /// on to the next window instead of ending the fetch.
    fn page_window_ms(&self, _interval: Interval) -> Option<i64> {
        None
    }

    /// One request: candles opening in `[start_ms, end_ms)`, oldest first,
    /// at most `page_limit` of them (an exchange may return fewer).
    async fn candle_page(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Candle>, SourceError>;

    /// The oldest history the exchange serves, in candles back from now
    /// (Hyperliquid: the 5000 most recent); `None` when unlimited.
    fn history_limit(&self) -> Option<usize> {
        None
    }

    /// Every tradable USDT(C)-quoted symbol of the market with its 24 h
    /// quote volume, from the exchange's documented market list.
    async fn listings(&self) -> Result<Vec<Listing>, SourceError>;

    /// The `n` symbols with the highest 24 h quote volume, highest first.
    async fn top_symbols(&self, n: usize) -> Result<Vec<String>, SourceError> {
        let rows = self
            .listings()
            .await?
            .into_iter()
            .map(|l| (l.symbol, l.quote_volume_24h))
            .collect();
        Ok(top_by_volume(rows, n))
    }

    /// All candles opening in `[start_ms, end_ms)`, oldest first: pages are
    /// requested from the last candle received onwards until the range is
    /// covered or the exchange has nothing newer (a short page, or an empty
    /// one).
    async fn candles(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Candle>, SourceError> {
        let mut candles: Vec<Candle> = Vec::new();
        let mut cursor = start_ms;
        while cursor < end_ms {
            let window = self.page_window_ms(interval);
            let page_end = window.map_or(end_ms, |w| end_ms.min(cursor + w.max(1)));
            let page = self.candle_page(symbol, interval, cursor, page_end).await?;
            // Without windows, a short page means the exchange has nothing newer.
            let exhausted = window.is_none() && page.len() < self.page_limit();
            let before = candles.len();
            let newest = candles.last().map(|c| c.t);
            candles.extend(
                page.into_iter()
                    .filter(|c| c.t >= cursor && c.t < page_end && newest.is_none_or(|n| c.t > n)),
            );
            cursor = match candles.last() {
                _ if exhausted => break,
                Some(last) if candles.len() > before => last.t + interval.millis(),
                // Nothing yet (before a listing): try the next window. An empty
                // window after data means the exchange has nothing newer.
                None if page_end < end_ms => page_end,
                _ => break,
            };
        }
        Ok(candles)
    }
}

/// Follows the candle closes of `subscriptions` on `config.venue`, sending
/// what happens to `events`; the handle adds and removes subscriptions.
pub fn spawn_stream(
    config: StreamConfig,
    subscriptions: Vec<Subscription>,
    events: mpsc::Sender<StreamEvent>,
) -> StreamHandle {
    let protocol = stream_protocol(config.venue);
    crate::streams::spawn(config, protocol, subscriptions, events)
}

/// The stream protocol of a venue.
fn stream_protocol(venue: Venue) -> Box<dyn Protocol> {
    match venue {
        Venue::BinanceSpot => Box::new(binance::stream::Binance::spot()),
        Venue::BinanceFutures => Box::new(binance::stream::Binance::futures()),
        Venue::Hyperliquid => Box::new(hyperliquid::stream::Hyperliquid),
        Venue::MexcFutures => Box::new(mexc::stream::MexcContract),
    }
}

/// Builds the fetcher of an exchange market; it waits on `governor`'s gate
/// of its host (see [`crate::governor::Host`]).
pub fn fetcher_for(
    exchange: Exchange,
    market: Market,
    config: &FetcherConfig,
    governor: &Arc<Governor>,
) -> Result<Box<dyn CandleFetcher>, SourceError> {
    Ok(match (exchange, market) {
        (Exchange::Binance, market) => Box::new(binance::rest::BinanceFetcher::new(
            market, config, governor,
        )?),
        (Exchange::Mexc, Market::Spot) => {
            Box::new(mexc::rest::MexcSpotFetcher::new(config, governor)?)
        }
        (Exchange::Mexc, Market::Futures) => {
            Box::new(mexc::rest::MexcFuturesFetcher::new(config, governor)?)
        }
        (Exchange::Hyperliquid, _) => Box::new(hyperliquid::rest::HyperliquidFetcher::new(
            config, governor,
        )?),
    })
}

/// The governor's host of an exchange market.
pub fn host_of(exchange: Exchange, market: Market) -> crate::governor::Host {
    use crate::governor::Host;
    match (exchange, market) {
        (Exchange::Binance, Market::Spot) => Host::BinanceSpot,
        (Exchange::Binance, Market::Futures) => Host::BinanceFutures,
        (Exchange::Mexc, Market::Spot) => Host::MexcSpot,
        (Exchange::Mexc, Market::Futures) => Host::MexcFutures,
        (Exchange::Hyperliquid, _) => Host::Hyperliquid,
    }
}

/// A candle from its six values, or a `Malformed` error naming the row.
pub(crate) fn candle_from(
    api: &'static str,
    row: usize,
    t: Option<i64>,
    ohlcv: [Option<f64>; 5],
) -> Result<Candle, SourceError> {
    match (t, ohlcv) {
        (Some(t), [Some(o), Some(h), Some(l), Some(c), Some(v)]) => Ok(Candle { t, o, h, l, c, v }),
        _ => Err(SourceError::Malformed {
            api,
            what: "kline",
            detail: format!("row {row} lacks a finite time, open, high, low, close or volume"),
        }),
    }
}

/// Picks the top `n` by volume, highest first (ties by name for stability).
pub(crate) fn top_by_volume(mut rows: Vec<(String, f64)>, n: usize) -> Vec<String> {
    rows.retain(|(_, v)| v.is_finite());
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.into_iter().take(n).map(|(s, _)| s).collect()
}

/// Reads `{"code": n, "msg": "..."}` (Binance and MEXC spot errors): an
/// invalid-symbol code becomes `UnknownSymbol`, other codes `Api`.
pub(crate) fn map_code_msg_error(
    api: &'static str,
    symbol: &str,
    error: SourceError,
) -> SourceError {
    let SourceError::Status { body, .. } = &error else {
        return error;
    };
    #[derive(serde::Deserialize)]
    struct CodeMsg {
        code: i64,
        #[serde(default)]
        msg: String,
    }
    match serde_json::from_str::<CodeMsg>(body) {
        Ok(e) if e.code == -1121 => SourceError::UnknownSymbol {
            api,
            symbol: symbol.to_string(),
        },
        Ok(e) => SourceError::Api {
            api,
            code: e.code,
            message: e.msg,
        },
        Err(_) => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_by_volume_orders_highest_first() {
        let rows = vec![
            ("A".into(), 5.0),
            ("B".into(), 9.0),
            ("C".into(), f64::NAN),
            ("D".into(), 9.0),
        ];
        assert_eq!(top_by_volume(rows, 3), vec!["B", "D", "A"]);
    }

    #[test]
    fn invalid_symbol_code_becomes_unknown_symbol() {
        let status = |body: &str| SourceError::Status {
            api: "X",
            status: 400,
            body: body.into(),
        };
        let e = map_code_msg_error(
            "X",
            "FOO",
            status(r#"{"code":-1121,"msg":"Invalid symbol."}"#),
        );
        assert!(matches!(e, SourceError::UnknownSymbol { ref symbol, .. } if symbol == "FOO"));
        let e = map_code_msg_error(
            "X",
            "FOO",
            status(r#"{"code":-1120,"msg":"Invalid interval."}"#),
        );
        assert!(matches!(e, SourceError::Api { code: -1120, .. }));
        assert!(matches!(
            map_code_msg_error("X", "FOO", status("<html>")),
            SourceError::Status { .. }
        ));
    }
}
