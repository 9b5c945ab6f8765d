//! The live loop itself: [`LiveLoop`] runs one [`VenueRunner`] per
//! exchange market and the rescan coordinator, so the feed (and the open
//! dashboard) follows every close.
//!
//! A venue's loop ties the other parts together: it reads its universe
//! (`universe`; hourly, from the cache when the network is down), backfills
//! every series (`backfill`: only what is missing), then follows the stream
//! and checks every interval's close after the settle delay (`closes`),
//! hands what is missing to its REST repair worker (`repair`: the stream
//! is never held up by a rate-limit wait), and sends every symbol that got
//! new closed candles to the coordinator (`coordinator`), which rescans
//! them in batches through the one `ScanPipeline`. The venue's status
//! (current and stale symbols, each stale row with its reason, the
//! exchange's wait counting down) is refreshed every second while anything
//! is behind or waiting.

use super::backfill::{MarketSeries, INTERVALS};
use super::coordinator::{Arrival, Coordinator, Delivery, Rescan};
use super::market::CloseEvent;
use super::market::{Listing, LiveMarket};
use super::repair::Repairs;
use super::spent_weight;
use super::status::StatusBoard;
use super::universe::MarketUniverse;
use crate::pipeline::ScanPipeline;
use crate::settings::UniverseSettings;
use quantpro_core::candles::store::SeriesKey;
use quantpro_model::{Exchange, FeedMode, Interval, LiveStatus, MarkKind};
use quantpro_sources::clock::Clock;
use quantpro_sources::SourceError;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

/// The live market: built once by the server (or `quantpro watch`), run
/// until shutdown.
pub struct LiveLoop {
    pipeline: Arc<ScanPipeline>,
    venues: Vec<Arc<dyn LiveMarket>>,
    clock: Clock,
    settings: UniverseSettings,
    status: Arc<StatusBoard>,
    rescans: broadcast::Sender<Rescan>,
}

pub(super) const M15: i64 = 15 * 60_000;

/// Wait before reopening a stream that ended.
pub(super) const STREAM_RETRY: Duration = Duration::from_secs(30);

/// How often the status is refreshed while a symbol is behind or the
/// exchange makes calls wait (the countdowns stay true).
const STATUS_TICK: Duration = Duration::from_secs(1);

/// Longest wait before a failed repair is tried again (shorter when the
/// settle delay is).
const REPAIR_RETRY_MS: i64 = 5_000;

impl LiveLoop {
    pub fn new(
        pipeline: Arc<ScanPipeline>,
        venues: Vec<Arc<dyn LiveMarket>>,
        clock: Clock,
        settings: UniverseSettings,
        simulated: bool,
    ) -> LiveLoop {
        let (rescans, _) = broadcast::channel(64);
        LiveLoop {
            pipeline,
            venues,
            status: Arc::new(StatusBoard::new(clock, simulated)),
            clock,
            settings,
            rescans,
        }
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The status line and row marks, as they change.
    pub fn status(&self) -> watch::Receiver<LiveStatus> {
        self.status.subscribe()
    }

    pub fn current_status(&self) -> LiveStatus {
        self.status.current()
    }

    /// Every rescan from now on.
    pub fn rescans(&self) -> broadcast::Receiver<Rescan> {
        self.rescans.subscribe()
    }

    /// Runs every venue and the coordinator until `shutdown` turns true.
    /// Stopping ends the venues (no new closes) and then lets the
    /// coordinator finish: the rescan in progress, and the closes that
    /// already arrived, reach the feed and the journal before `run` returns.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        // What a previous run spent within the window is spent.
        let governor = self.pipeline.sources().governor.clone();
        let data_dir = self.pipeline.paths().data_dir.clone();
        spent_weight::restore(&governor, &data_dir);
        let saver = spent_weight::Saver::start(governor.clone(), data_dir.clone());
        let (arrivals, receiver) = mpsc::channel::<Arrival>(4096);
        let mut venues = tokio::task::JoinSet::new();
        for venue in &self.venues {
            let runner = VenueRunner::new(
                venue.clone(),
                self.clock,
                self.settings.clone(),
                self.status.clone(),
                self.pipeline.paths().data_dir.clone(),
                arrivals.clone(),
            );
            venues.spawn(runner.run());
        }
        drop(arrivals);
        let coordinator = Coordinator::new(self.pipeline.clone(), self.clock, self.rescans.clone());
        let coordinator = tokio::spawn(coordinator.coordinate(receiver));
        let _ = shutdown.wait_for(|stop| *stop).await;
        // The venues hold the only senders: once they are gone the
        // coordinator drains what arrived and returns.
        venues.shutdown().await;
        drop(saver);
        spent_weight::save(&governor.spent(), &data_dir);
        let _ = coordinator.await;
    }
}

/// One venue's part of the loop.
pub(super) struct VenueRunner {
    pub(super) venue: Arc<dyn LiveMarket>,
    pub(super) exchange: Exchange,
    pub(super) market: String,
    pub(super) clock: Clock,
    pub(super) settings: UniverseSettings,
    pub(super) status: Arc<StatusBoard>,
    /// Where the candle files and the universe cache are.
    pub(super) data_dir: PathBuf,
    pub(super) series: MarketSeries,
    pub(super) universe: MarketUniverse,
    arrivals: mpsc::Sender<Arrival>,
    /// The REST repairs under way (`repair`).
    pub(super) repairs: Repairs,
    /// Why the last repair of a series failed, and how many failed in a
    /// row, until one succeeds.
    pub(super) failures: BTreeMap<SeriesKey, (String, u32)>,
    /// Symbols with new candles held back until their repair is done
    /// (the rescan needs every series whole), with the newest close.
    pub(super) held: BTreeMap<String, i64>,
    /// Stale symbols at the last count.
    stale: usize,
    /// The stream is connected with every subscription acknowledged (it
    /// said `Connected` and no `Down` since): only then is a close left to
    /// it for the settle delay.
    pub(super) stream_up: bool,
}

impl VenueRunner {
    pub(super) fn new(
        venue: Arc<dyn LiveMarket>,
        clock: Clock,
        settings: UniverseSettings,
        status: Arc<StatusBoard>,
        data_dir: PathBuf,
        arrivals: mpsc::Sender<Arrival>,
    ) -> VenueRunner {
        let market = match venue.market() {
            quantpro_model::Market::Spot => "spot",
            quantpro_model::Market::Futures => "futures",
        }
        .to_string();
        VenueRunner {
            exchange: venue.exchange(),
            market,
            series: MarketSeries::new(venue.clone(), clock, data_dir.clone(), &settings),
            universe: MarketUniverse::default(),
            arrivals,
            repairs: Repairs::start(venue.clone(), clock),
            failures: BTreeMap::new(),
            held: BTreeMap::new(),
            stale: 0,
            stream_up: false,
            venue,
            clock,
            settings,
            status,
            data_dir,
        }
    }

    pub(super) async fn run(mut self) {
        self.load_universe().await;
        self.backfill_all(true).await;
        let mut stream = self.open_stream();
        let mut reopen_at: Option<tokio::time::Instant> = None;
        let mut next_refresh = self.clock.now_ms() + self.refresh_ms();
        // The listings of a refresh are read beside the loop (a ban must
        // not hold the stream up).
        let mut listings: Option<JoinHandle<Result<Vec<Listing>, SourceError>>> = None;
        let mut tick_at: Option<tokio::time::Instant> = None;
        loop {
            let check_at = self.next_check_ms(self.stream_up);
            self.status.venue(self.exchange, &self.market, |s| {
                s.next_close_ms = Some(check_at - check_at.rem_euclid(M15));
            });
            // Kept across events: a busy stream must not put it off.
            if self.needs_ticks() {
                tick_at.get_or_insert_with(|| tokio::time::Instant::now() + STATUS_TICK);
            } else {
                tick_at = None;
            }
            let clock = self.clock;
            tokio::select! {
                Some(repaired) = self.repairs.next() => self.on_repaired(repaired).await,
                event = next_event(&mut stream) => match event {
                    Some(event) => self.on_stream_event(event).await,
                    None => {
                        self.set_mode(FeedMode::Polling("the stream ended; reconnecting".into()));
                        self.stream_up = false;
                        stream = None;
                        reopen_at = Some(tokio::time::Instant::now() + STREAM_RETRY);
                    }
                },
                _ = sleep_until(reopen_at) => {
                    reopen_at = None;
                    stream = self.open_stream();
                }
                _ = clock.sleep_until_ms(check_at) => {
                    let close = check_at - check_at.rem_euclid(M15);
                    self.check_close(close);
                }
                _ = sleep_until(tick_at) => {
                    tick_at = None;
                    self.retry_due();
                    self.publish_counts();
                }
                _ = clock.sleep_until_ms(next_refresh) => {
                    next_refresh = self.clock.now_ms() + self.refresh_ms();
                    let venue = self.venue.clone();
                    listings = Some(tokio::spawn(async move { venue.listings().await }));
                }
                read = joined(&mut listings) => {
                    listings = None;
                    let changed = match read {
                        Ok(read) => self.apply_listings(read),
                        Err(err) => {
                            tracing::warn!("[UNIVERSE] {} {}: the listings task failed: {err}", self.exchange, self.market);
                            false
                        }
                    };
                    if changed {
                        self.repair_all();
                        self.publish_counts();
                        stream = self.open_stream();
                    }
                }
            }
        }
    }

    /// Whether the status must be refreshed every second: a symbol is
    /// behind, a repair is under way, or the exchange makes calls wait.
    fn needs_ticks(&self) -> bool {
        self.stale > 0 || self.repairs.pending() || self.venue.rate_limit().is_some()
    }

    /// How long after a failed repair it is tried again: soon when the
    /// exchange's limits refused it (the governor sends nothing while they
    /// hold, so the retry costs no call, and the series is current within
    /// a settle delay of the exchange answering again); otherwise (an
    /// unknown symbol, a server error) doubling per failure in a row up to
    /// a 15m period, so a broken series is not asked every few seconds.
    pub(super) fn repair_retry_ms(&self, err: &SourceError, in_a_row: u32) -> i64 {
        let soon = (self.settings.settle_secs as i64 * 1000).clamp(1_000, REPAIR_RETRY_MS);
        match err {
            SourceError::RateLimited { .. } | SourceError::Banned { .. } => soon,
            _ => soon
                .saturating_mul(1 << in_a_row.saturating_sub(1).min(10))
                .min(M15),
        }
    }

    fn refresh_ms(&self) -> i64 {
        self.settings.refresh_minutes as i64 * 60_000
    }

    pub(super) fn set_mode(&self, mode: FeedMode) {
        self.status
            .venue(self.exchange, &self.market, |s| s.mode = mode);
    }

    /// Brings every series of the universe up to date, waiting for each,
    /// then asks for a scan of every symbol that got candles (of every
    /// symbol with `everyone`: the first scan of a start). Only before the
    /// stream is followed; later, `repair_all` leaves REST to the worker.
    pub(super) async fn backfill_all(&mut self, everyone: bool) {
        for symbol in self.universe.live_symbols() {
            let mut fresh = false;
            for interval in INTERVALS {
                let key = (self.exchange, symbol.clone(), interval);
                match self.series.backfill(&symbol, interval).await {
                    Ok(added) => {
                        fresh |= added > 0;
                        self.failures.remove(&key);
                    }
                    Err(err) => self.repair_failed(key, err),
                }
            }
            self.flush().await;
            let close = self.series.newest_close(&symbol, Interval::M15);
            if fresh || (everyone && close.is_some()) {
                self.arrive(
                    &symbol,
                    close.unwrap_or(self.clock.now_ms()),
                    Delivery::Rest,
                )
                .await;
            }
        }
        self.publish_counts();
    }

    /// Hands a symbol with new closed candles to the coordinator.
    pub(super) async fn arrive(&self, symbol: &str, close_ms: i64, delivery: Delivery) {
        let _ = self
            .arrivals
            .send(Arrival {
                key: (self.exchange, symbol.to_string()),
                close_ms,
                delivery,
            })
            .await;
    }

    /// Writes the candles that changed; a failure is the venue's last error
    /// on the status line (the candles are written again at the next flush).
    pub(super) async fn flush(&mut self) {
        if let Err(err) = self.series.flush().await {
            let text =
                format!("cannot write candles (they are kept in memory and written again): {err}");
            tracing::warn!("[STORE] {} {}: {text}", self.exchange, self.market);
            self.status
                .venue(self.exchange, &self.market, |s| s.last_error = Some(text));
        }
    }

    /// Counts and marks every symbol of the universe: current when each of
    /// its series has the last close whose settle delay has passed, stale
    /// otherwise, marked with the reason (so current + stale + delisted
    /// add up to the symbols); and the exchange's wait as it stands now.
    pub(super) fn publish_counts(&mut self) {
        let now = self.clock.now_ms();
        let settled = now - self.settings.settle_secs as i64 * 1000;
        let host_wait = self.venue.host_wait();
        let mut latest: Option<i64> = None;
        let (mut current, mut stale) = (0, 0);
        for symbol in self.universe.live_symbols() {
            let mut behind = None;
            for interval in INTERVALS {
                let step = interval.millis();
                let due = settled.div_euclid(step) * step;
                let newest = self.series.newest_close(&symbol, interval);
                if interval == Interval::M15 {
                    latest = latest.max(newest);
                }
                if behind.is_none() && newest.is_none_or(|close| close < due) {
                    behind = Some((interval, due));
                }
            }
            match behind {
                None => {
                    current += 1;
                    self.status.clear_stale(self.exchange, &symbol);
                }
                Some((interval, due)) => {
                    stale += 1;
                    let reason = self.stale_reason(&symbol, interval, due, host_wait.as_deref());
                    self.status
                        .mark(self.exchange, &symbol, MarkKind::Stale, reason);
                }
            }
        }
        self.stale = stale;
        let rate_limit = self.venue.rate_limit();
        self.status.venue(self.exchange, &self.market, |s| {
            s.current = current;
            s.stale = stale;
            s.last_close_ms = latest;
            s.rate_limit = rate_limit;
        });
    }

    /// Why `symbol`'s `interval` series lacks the `due` close.
    fn stale_reason(
        &self,
        symbol: &str,
        interval: Interval,
        due: i64,
        host_wait: Option<&str>,
    ) -> String {
        let key = (self.exchange, symbol.to_string(), interval);
        let close = quantpro_model::format::utc_datetime(due);
        let repairing = self.repairs.waiting(symbol) || self.repairs.retry.contains_key(&key);
        let failure = self.failures.get(&key).map(|(err, _)| err);
        match (repairing, host_wait, failure) {
            (true, Some(wait), _) => format!("waiting for {wait}"),
            (true, None, Some(err)) => {
                format!("no {interval} candle for the {close} close: {err}; trying again")
            }
            (true, None, None) => {
                format!("no {interval} candle for the {close} close yet: being repaired over REST")
            }
            (false, _, Some(err)) => format!("no {interval} candle for the {close} close: {err}"),
            (false, _, None) => format!(
                "no {interval} candle for the {close} close: the exchange has not published it yet"
            ),
        }
    }
}

/// Returns at `at`, or never without one.
pub(super) async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What a task returned, or never without one.
async fn joined<T>(task: &mut Option<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    match task {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}

/// The stream's next event, or never when there is no stream.
pub(super) async fn next_event(
    stream: &mut Option<mpsc::Receiver<CloseEvent>>,
) -> Option<CloseEvent> {
    match stream {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::market::CloseEvent;
    use crate::live::scripted::{
        arrived, candle, venue_runner, ScriptedMarket, BTC, C0, C1, ETH, L0, T0,
    };
    use quantpro_model::Interval;
    use std::time::Duration;

    /// The next arrival: (symbol, close, clock time it came).
    async fn next(arrivals: &mut mpsc::Receiver<Arrival>, clock: Clock) -> (String, i64, i64) {
        let arrival = arrivals.recv().await.unwrap();
        (arrival.key.1, arrival.close_ms, clock.now_ms())
    }

    #[tokio::test(start_paused = true)]
    async fn a_venue_follows_its_stream_and_asks_rest_for_what_it_missed() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::starting_at(T0, 1.0);
        let market = ScriptedMarket::streaming(clock);
        market.list_with_candles(&[BTC, ETH]);
        let (runner, mut arrivals) = venue_runner(&market, dir.path());
        let status = runner.status.clone();
        let task = tokio::spawn(runner.run());

        // The start: every symbol is backfilled and scanned once.
        assert_eq!(next(&mut arrivals, clock).await, (BTC.into(), C0, T0));
        assert_eq!(next(&mut arrivals, clock).await, (ETH.into(), C0, T0));
        tokio::time::sleep(Duration::from_millis(1)).await;
        market.send(CloseEvent::Connected).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        let venue = status.current().venues[0].clone();
        assert_eq!(venue.mode, FeedMode::Streaming);
        assert_eq!(venue.next_close_ms, Some(C1));

        // The stream brings BTC's close; ETH's comes over REST once the
        // settle delay has passed.
        clock.sleep_until_ms(C1 + 1_000).await;
        market
            .send(CloseEvent::Closed {
                symbol: BTC.into(),
                interval: Interval::M15,
                candle: candle(L0 + M15, Interval::M15),
            })
            .await;
        let (symbol, close, at) = next(&mut arrivals, clock).await;
        assert_eq!((symbol.as_str(), close), (BTC, C1));
        assert!(at < C1 + 2_000, "as the stream brought it: {}", at - C1);
        let (symbol, close, at) = next(&mut arrivals, clock).await;
        assert_eq!((symbol.as_str(), close), (ETH, C1));
        assert!(
            (C1 + 20_000..C1 + 21_000).contains(&at),
            "after the settle delay: {}",
            at - C1
        );
        assert!(arrived(&mut arrivals).is_empty());
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_stream_every_symbol_is_polled_right_after_each_close() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::starting_at(T0, 1.0);
        let market = ScriptedMarket::new(clock);
        market.list_with_candles(&[BTC, ETH]);
        let (runner, mut arrivals) = venue_runner(&market, dir.path());
        let status = runner.status.clone();
        let task = tokio::spawn(runner.run());
        next(&mut arrivals, clock).await;
        next(&mut arrivals, clock).await;

        for close in [C1, C1 + M15] {
            for symbol in [BTC, ETH] {
                let (got, at_close, at) = next(&mut arrivals, clock).await;
                assert_eq!((got.as_str(), at_close), (symbol, close));
                assert!(
                    (close + 3_000..close + 4_000).contains(&at),
                    "polled 3 s after the close: {}",
                    at - close
                );
            }
        }
        assert_eq!(
            status.current().venues[0].mode,
            FeedMode::Polling("no stream for this market".into())
        );
        task.abort();
    }
}
