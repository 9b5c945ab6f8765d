//! A real exchange market as a live-loop [`LiveMarket`], built over `sources`:
//! listings from the exchange's market list and candles through its REST
//! fetcher (both under the process's one rate governor of `SourceClients`,
//! paged within the per-call limits), and closes from its WebSocket
//! stream (`sources::streams`), adapted to the loop's [`CloseEvent`]s.
//!
//! Flow: `sources` (fetchers, governor, streams) -> this adapter -> the
//! `runner`. Every base URL comes from `[sources]` (`SourceUrls`).

use super::market::{CloseEvent, Listing, LiveMarket};
use async_trait::async_trait;
use quantpro_model::Candle;
use quantpro_model::Market;
use quantpro_model::{Exchange, Interval};
use quantpro_sources::clients::SourceClients;
use quantpro_sources::clock::Clock;
use quantpro_sources::governor::Governor;
use quantpro_sources::streams::{self, StreamConfig, Subscription};
use quantpro_sources::urls::SourceUrls;
use quantpro_sources::venues::{self, host_of, CandleFetcher};
use quantpro_sources::SourceError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Events a stream may queue before its connections wait for the loop.
const STREAM_BUFFER: usize = 4096;

pub struct ExchangeMarket {
    exchange: Exchange,
    market: Market,
    fetcher: Box<dyn CandleFetcher>,
    governor: Arc<Governor>,
    urls: SourceUrls,
    clock: Clock,
    /// MEXC contract sizes of the last listings read (its stream needs them).
    contract_sizes: Mutex<HashMap<String, f64>>,
}

impl ExchangeMarket {
    /// The venue of an exchange market over `sources` (its fetcher at the
    /// `[sources]` URL, the one governor), its stream judged by `clock`.
    pub fn new(
        sources: &SourceClients,
        exchange: Exchange,
        market: Market,
        clock: Clock,
    ) -> Result<ExchangeMarket, SourceError> {
        Ok(ExchangeMarket {
            exchange,
            market,
            fetcher: sources.fetcher(exchange, market)?,
            governor: sources.governor.clone(),
            urls: sources.urls.clone(),
            clock,
            contract_sizes: Mutex::new(HashMap::new()),
        })
    }

    fn subscriptions(&self, symbols: &[String], intervals: &[Interval]) -> Vec<Subscription> {
        let sizes = self
            .contract_sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut subscriptions = Vec::with_capacity(symbols.len() * intervals.len());
        for symbol in symbols {
            for &interval in intervals {
                let subscription = Subscription::new(symbol.clone(), interval);
                // Without its size a MEXC subscription is rejected (and
                // logged) by the streams; REST polling still covers it.
                subscriptions.push(match sizes.get(symbol) {
                    Some(&size) => subscription.with_contract_size(size),
                    None => subscription,
                });
            }
        }
        subscriptions
    }
}

#[async_trait]
impl LiveMarket for ExchangeMarket {
    fn exchange(&self) -> Exchange {
        self.exchange
    }

    fn market(&self) -> Market {
        self.market
    }

    async fn listings(&self) -> Result<Vec<Listing>, SourceError> {
        let listings = self.fetcher.listings().await?;
        let sizes: HashMap<String, f64> = listings
            .iter()
            .filter_map(|l| l.contract_size.map(|size| (l.symbol.clone(), size)))
            .collect();
        if !sizes.is_empty() {
            *self
                .contract_sizes
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = sizes;
        }
        Ok(listings)
    }

    async fn candles(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Candle>, SourceError> {
        self.fetcher
            .candles(symbol, interval, start_ms, end_ms)
            .await
    }

    fn history_limit(&self) -> Option<usize> {
        self.fetcher.history_limit()
    }

    fn rate_limit(&self) -> Option<String> {
        let status = self.governor.status();
        status
            .get(host_of(self.exchange, self.market))
            .line_at(self.clock.now_ms())
    }

    fn host_wait(&self) -> Option<String> {
        let status = self.governor.status();
        status
            .get(host_of(self.exchange, self.market))
            .short_at(self.clock.now_ms())
    }

    fn stream(
        &self,
        symbols: &[String],
        intervals: &[Interval],
    ) -> Option<mpsc::Receiver<CloseEvent>> {
        let venue = streams::Venue::of(self.exchange, self.market)?;
        let config = StreamConfig::new(venue, &self.urls).with_clock(self.clock);
        let (raw_sender, raw) = mpsc::channel(STREAM_BUFFER);
        let handle =
            venues::spawn_stream(config, self.subscriptions(symbols, intervals), raw_sender);
        let (sender, events) = mpsc::channel(STREAM_BUFFER);
        tokio::spawn(async move {
            forward(raw, sender).await;
            // The loop dropped its receiver (a new stream replaces this
            // one) or the streams ended: stop every connection.
            drop(handle);
        });
        Some(events)
    }
}

/// Passes the streams' events on as the loop's until either side ends.
async fn forward(mut raw: mpsc::Receiver<streams::StreamEvent>, sender: mpsc::Sender<CloseEvent>) {
    loop {
        let event = tokio::select! {
            event = raw.recv() => match event {
                Some(event) => event,
                None => return,
            },
            _ = sender.closed() => return,
        };
        let Some(event) = loop_event(event) else {
            continue;
        };
        if sender.send(event).await.is_err() {
            return;
        }
    }
}

/// The loop's view of a stream event: closes (a revision is the exchange's
/// final value of a close, which the store keeps and logs), connection
/// state (`Connected` once every subscription of a connection is answered:
/// the loop's REST repair then covers everything that closed until the
/// stream brings it all); the rest is logged here or left to the close
/// check (a key's missed candles are fetched when its close is found
/// missing after the settle delay).
fn loop_event(event: streams::StreamEvent) -> Option<CloseEvent> {
    use streams::StreamEvent as S;
    match event {
        S::Connected { .. } | S::Reconnected { .. } => None,
        S::Subscribed { .. } => Some(CloseEvent::Connected),
        S::Disconnected {
            venue,
            connection,
            reason,
            ..
        } => Some(CloseEvent::Down {
            reason: format!("{venue} connection #{connection}: {reason}"),
        }),
        S::Closed { key, candle, .. } => Some(CloseEvent::Closed {
            symbol: key.symbol,
            interval: key.interval,
            candle,
        }),
        S::Revised { key, revised, .. } => Some(CloseEvent::Closed {
            symbol: key.symbol,
            interval: key.interval,
            candle: revised,
        }),
        S::Rejected { key, reason } => {
            tracing::warn!(
                "[STREAM] {key}: subscription refused ({reason}); REST polling covers it"
            );
            None
        }
        S::Missed {
            key,
            from_open_ms,
            to_open_ms,
        } => {
            tracing::info!(
                "[STREAM] {key}: candles from {} to {} closed unseen; the close check fetches them",
                quantpro_model::format::utc_datetime(from_open_ms),
                quantpro_model::format::utc_datetime(to_open_ms)
            );
            None
        }
        S::Forming { .. } => None,
    }
}
