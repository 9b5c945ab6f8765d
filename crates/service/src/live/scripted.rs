//! [test] A market the live loop's unit tests script: its listings, the
//! candles it has (served once the clock reaches their open time, the
//! still-open one included, as an exchange does), the REST ranges it was
//! asked for, and a stream the test feeds by hand. With
//! [`venue_runner`] it gives each part of the loop (`backfill`, `closes`,
//! `universe`, `runner`) a venue over a tempdir candle store, on virtual
//! time.

use super::coordinator::Arrival;
use super::market::{CloseEvent, Listing, LiveMarket};
use super::runner::VenueRunner;
pub(super) use super::runner::M15;
use super::status::StatusBoard;
use crate::settings::UniverseSettings;
use async_trait::async_trait;
use quantpro_model::{Candle, Exchange, Interval, Market};
use quantpro_sources::clock::Clock;
use quantpro_sources::SourceError;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// 2026-03-02 10:07 UTC: seven minutes after a 15m close.
pub(super) const T0: i64 = 1_772_446_020_000;
/// The 15m close before `T0`, and the open time of the candle it closed.
pub(super) const C0: i64 = T0 - 7 * 60_000;
pub(super) const L0: i64 = C0 - M15;
/// The first 15m close after `T0`.
pub(super) const C1: i64 = C0 + M15;
pub(super) const BTC: &str = "BTCUSDT";
pub(super) const ETH: &str = "ETHUSDT";

/// A REST request: (symbol, interval, start, end).
pub(super) type Asked = (String, Interval, i64, i64);

/// A candle of `interval` opening at `t` whose values follow from `t`.
pub(super) fn candle(t: i64, interval: Interval) -> Candle {
    let c = 100.0 + (t / interval.millis()).rem_euclid(17) as f64;
    Candle {
        t,
        o: c - 0.5,
        h: c + 1.0,
        l: c - 1.0,
        c,
        v: 10.0,
    }
}

/// The settings the tests run with: short histories, 20 s settle delay.
pub(super) fn settings() -> UniverseSettings {
    UniverseSettings {
        ltf_history: 40,
        htf_history: 10,
        settle_secs: 20,
        ..UniverseSettings::default()
    }
}

#[derive(Default)]
struct Script {
    /// `None`: the listings are unavailable.
    listings: Option<Vec<Listing>>,
    candles: BTreeMap<(String, Interval), BTreeMap<i64, Candle>>,
    asked: Vec<Asked>,
    stream: Option<mpsc::Sender<CloseEvent>>,
    /// Every REST call fails with this (a ban, say).
    failing: Option<String>,
    /// The exchange's wait, as the status shows it.
    wait: Option<String>,
}

pub(super) struct ScriptedMarket {
    clock: Clock,
    streams: bool,
    script: Mutex<Script>,
    /// False while REST calls are held (as behind a rate-limit wait).
    rest_open: watch::Sender<bool>,
}

impl ScriptedMarket {
    /// A BINANCE futures market without a stream.
    pub(super) fn new(clock: Clock) -> Arc<ScriptedMarket> {
        ScriptedMarket::build(clock, false)
    }

    /// The same with a stream, fed by [`ScriptedMarket::send`].
    pub(super) fn streaming(clock: Clock) -> Arc<ScriptedMarket> {
        ScriptedMarket::build(clock, true)
    }

    fn build(clock: Clock, streams: bool) -> Arc<ScriptedMarket> {
        Arc::new(ScriptedMarket {
            clock,
            streams,
            script: Mutex::new(Script::default()),
            rest_open: watch::Sender::new(true),
        })
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lists `symbols`, highest volume first.
    pub(super) fn list(&self, symbols: &[&str]) {
        let listings = symbols
            .iter()
            .enumerate()
            .map(|(k, s)| Listing::new(*s, 1e9 / (k as f64 + 1.0)))
            .collect();
        self.script().listings = Some(listings);
    }

    /// The listings become unavailable.
    pub(super) fn lose_listings(&self) {
        self.script().listings = None;
    }

    /// The market has the candles of `symbol` opening in `[from, to)`.
    pub(super) fn publish(&self, symbol: &str, interval: Interval, from: i64, to: i64) {
        let step = interval.millis();
        let mut script = self.script();
        let series = script
            .candles
            .entry((symbol.to_string(), interval))
            .or_default();
        for t in (from.div_euclid(step)..to.div_euclid(step)).map(|i| i * step) {
            series.insert(t, candle(t, interval));
        }
    }

    /// Lists `symbols` with their 15m and 4h candles, from a hundred
    /// candles before `T0` to a hundred after.
    pub(super) fn list_with_candles(&self, symbols: &[&str]) {
        self.list(symbols);
        for symbol in symbols {
            for interval in [Interval::M15, Interval::H4] {
                let step = interval.millis();
                self.publish(symbol, interval, T0 - 100 * step, T0 + 100 * step);
            }
        }
    }

    /// The market no longer has the candles opening in `[from, to)`.
    pub(super) fn forget(&self, symbol: &str, interval: Interval, from: i64, to: i64) {
        if let Some(series) = self
            .script()
            .candles
            .get_mut(&(symbol.to_string(), interval))
        {
            series.retain(|t, _| *t < from || *t >= to);
        }
    }

    /// The REST requests so far, and forgets them.
    pub(super) fn take_asked(&self) -> Vec<Asked> {
        std::mem::take(&mut self.script().asked)
    }

    /// REST calls wait (as behind a ban) until [`ScriptedMarket::release_rest`].
    pub(super) fn hold_rest(&self) {
        self.rest_open.send_replace(false);
    }

    pub(super) fn release_rest(&self) {
        self.rest_open.send_replace(true);
    }

    /// Every REST call fails with `reason` from now on (`None`: answered).
    pub(super) fn fail_rest(&self, reason: Option<&str>) {
        self.script().failing = reason.map(str::to_string);
    }

    /// The wait the exchange imposes, as `host_wait` says it.
    pub(super) fn set_wait(&self, wait: Option<&str>) {
        self.script().wait = wait.map(str::to_string);
    }

    /// Sends `event` over the open stream.
    pub(super) async fn send(&self, event: CloseEvent) {
        let sender = self.script().stream.clone().expect("an open stream");
        sender.send(event).await.expect("the stream is followed");
    }
}

#[async_trait]
impl LiveMarket for ScriptedMarket {
    fn exchange(&self) -> Exchange {
        Exchange::Binance
    }

    fn market(&self) -> Market {
        Market::Futures
    }

    async fn listings(&self) -> Result<Vec<Listing>, SourceError> {
        self.script()
            .listings
            .clone()
            .ok_or_else(|| SourceError::Declined {
                api: "scripted market",
                reason: "listings unavailable".into(),
            })
    }

    async fn candles(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Candle>, SourceError> {
        let mut open = self.rest_open.subscribe();
        let _ = open.wait_for(|open| *open).await;
        let now = self.clock.now_ms();
        let mut script = self.script();
        if let Some(reason) = script.failing.clone() {
            return Err(SourceError::Declined {
                api: "scripted market",
                reason,
            });
        }
        script
            .asked
            .push((symbol.to_string(), interval, start_ms, end_ms));
        Ok(script
            .candles
            .get(&(symbol.to_string(), interval))
            .map(|series| {
                series
                    .range(start_ms..end_ms)
                    .filter(|(t, _)| **t <= now)
                    .map(|(_, c)| *c)
                    .collect()
            })
            .unwrap_or_default())
    }

    fn host_wait(&self) -> Option<String> {
        self.script().wait.clone()
    }

    fn stream(
        &self,
        _symbols: &[String],
        _intervals: &[Interval],
    ) -> Option<mpsc::Receiver<CloseEvent>> {
        if !self.streams {
            return None;
        }
        let (sender, receiver) = mpsc::channel(64);
        self.script().stream = Some(sender);
        Some(receiver)
    }
}

/// A venue's loop over `market` and the candle store in `data_dir`, and
/// what it sends the coordinator.
pub(super) fn venue_runner(
    market: &Arc<ScriptedMarket>,
    data_dir: &Path,
) -> (VenueRunner, mpsc::Receiver<Arrival>) {
    let (arrivals, received) = mpsc::channel(256);
    let runner = VenueRunner::new(
        market.clone(),
        market.clock,
        settings(),
        Arc::new(StatusBoard::new(market.clock, false)),
        data_dir.to_path_buf(),
        arrivals,
    );
    (runner, received)
}

/// What the coordinator has been sent so far: (symbol, close).
pub(super) fn arrived(arrivals: &mut mpsc::Receiver<Arrival>) -> Vec<(String, i64)> {
    let mut all = Vec::new();
    while let Ok(arrival) = arrivals.try_recv() {
        all.push((arrival.key.1, arrival.close_ms));
    }
    all
}
