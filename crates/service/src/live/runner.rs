//! The live loop itself. One task per venue keeps its universe and candle
//! series current (universe, backfill, stream closes, REST repair and
//! polling); a coordinator gathers the symbols that got new closed candles
//! and rescans just those through the one `ScanPipeline`, so the feed (and
//! the open dashboard) follows every close.
//!
//! Per venue: read the universe (hourly; from the cache when the network is
//! down), backfill every series (only what is missing: a restart resumes
//! from what is stored), follow the stream, and at each 15m close plus the
//! settle delay ask REST for what the stream did not bring (the whole
//! universe when there is no stream). A symbol whose candle still did not
//! come is marked stale with the reason; a revised candle is logged and the
//! exchange's final value kept; a candle from the future (clock skew) is
//! refused.

use super::market::{CloseEvent, LiveMarket};
use super::status::StatusBoard;
use super::universe::{MarketUniverse, UniverseCache};
use crate::pipeline::{PipelineRequest, ScanPipeline};
use crate::settings::UniverseSettings;
use quantpro_core::candles::series::{newest_contiguous_run, prepend_history, restart_after_gap};
use quantpro_core::candles::store::{CandleStore, SeriesKey, StoreError};
use quantpro_core::candles::{drop_unclosed, Candle};
use quantpro_core::scan::NoProgress;
use quantpro_model::{Exchange, FeedMode, Interval, LiveStatus, MarkKind, Trade};
use quantpro_sources::clock::Clock;
use quantpro_sources::SourceError;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

const M15: i64 = 15 * 60_000;
const INTERVALS: [Interval; 2] = [Interval::M15, Interval::H4];
/// A candle whose close lies further in the future than this is refused.
const SKEW_TOLERANCE_MS: i64 = 60_000;
/// Arrivals this close together (real time) are rescanned together.
const GATHER: Duration = Duration::from_millis(250);
/// Wait before reopening a stream that ended.
const STREAM_RETRY: Duration = Duration::from_secs(30);

/// One rescan after a close: which symbols, and how long after their
/// candles closed the feed had them.
#[derive(Debug, Clone, PartialEq)]
pub struct Rescan {
    pub symbols: Vec<(Exchange, String)>,
    /// The feed's `last_updated` after the rescan (0 when it failed).
    pub last_updated: i64,
    /// Clock time from the earliest close in the batch to the written feed.
    pub latency_ms: i64,
    /// The journal trades this rescan resolved (for the alerter's
    /// `resolution` trigger); empty when it failed.
    pub resolved: Vec<Trade>,
}

/// A symbol with new closed candles.
struct Arrival {
    key: (Exchange, String),
    close_ms: i64,
}

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
        let (arrivals, receiver) = mpsc::channel::<Arrival>(4096);
        let mut venues = tokio::task::JoinSet::new();
        for venue in &self.venues {
            let runner = VenueRunner::new(self.clone(), venue.clone(), arrivals.clone());
            venues.spawn(runner.run());
        }
        drop(arrivals);
        let coordinator = tokio::spawn(self.clone().coordinate(receiver));
        let _ = shutdown.wait_for(|stop| *stop).await;
        // The venues hold the only senders: once they are gone the
        // coordinator drains what arrived and returns.
        venues.shutdown().await;
        let _ = coordinator.await;
    }

    /// Gathers arrivals and rescans them in batches.
    async fn coordinate(self: Arc<Self>, mut arrivals: mpsc::Receiver<Arrival>) {
        while let Some(first) = arrivals.recv().await {
            let mut batch = BTreeSet::from([first.key]);
            let mut earliest = first.close_ms;
            while let Ok(Some(next)) = tokio::time::timeout(GATHER, arrivals.recv()).await {
                earliest = earliest.min(next.close_ms);
                batch.insert(next.key);
            }
            self.rescan(batch, earliest).await;
        }
    }

    async fn rescan(&self, symbols: BTreeSet<(Exchange, String)>, earliest_close: i64) {
        let request = PipelineRequest {
            only: Some(symbols.clone()),
            now_ms: Some(self.clock.now_ms()),
            ..PipelineRequest::default()
        };
        let (last_updated, resolved) = match self.pipeline.run(&request, Arc::new(NoProgress)).await
        {
            Ok(report) => {
                tracing::info!(
                    "[LIVE] rescanned {} symbols: {} signals ({} LONG, {} SHORT)",
                    symbols.len(),
                    report.summary.signals,
                    report.summary.signals_per_action.long,
                    report.summary.signals_per_action.short
                );
                (request.now_ms.unwrap_or_default(), report.journal.resolved)
            }
            Err(err) => {
                tracing::warn!("[LIVE] rescan of {} symbols failed: {err}", symbols.len());
                (0, Vec::new())
            }
        };
        let _ = self.rescans.send(Rescan {
            symbols: symbols.into_iter().collect(),
            last_updated,
            latency_ms: self.clock.now_ms() - earliest_close,
            resolved,
        });
    }
}

/// One venue's part of the loop.
struct VenueRunner {
    live: Arc<LiveLoop>,
    venue: Arc<dyn LiveMarket>,
    exchange: Exchange,
    market: String,
    store: CandleStore,
    universe: MarketUniverse,
    arrivals: mpsc::Sender<Arrival>,
    /// The newest close each symbol's 15m series has.
    closes: BTreeMap<String, i64>,
    /// Series whose exchange had nothing older to give (a young listing,
    /// Hyperliquid's 5000-candle horizon): not asked again until a restart.
    no_older: BTreeSet<SeriesKey>,
    /// The stream is connected (it said `Connected` and no `Down` since):
    /// only then is a close left to it for the settle delay.
    stream_up: bool,
}

impl VenueRunner {
    fn new(
        live: Arc<LiveLoop>,
        venue: Arc<dyn LiveMarket>,
        arrivals: mpsc::Sender<Arrival>,
    ) -> VenueRunner {
        let market = match venue.market() {
            quantpro_model::Market::Spot => "spot",
            quantpro_model::Market::Futures => "futures",
        }
        .to_string();
        let data_dir = live.pipeline.paths().data_dir.clone();
        VenueRunner {
            exchange: venue.exchange(),
            market,
            store: CandleStore::new(data_dir),
            universe: MarketUniverse::default(),
            arrivals,
            closes: BTreeMap::new(),
            no_older: BTreeSet::new(),
            stream_up: false,
            venue,
            live,
        }
    }

    fn clock(&self) -> Clock {
        self.live.clock
    }

    fn keep(&self, interval: Interval) -> usize {
        let s = &self.live.settings;
        match interval {
            Interval::H4 => s.htf_history,
            _ => s.ltf_history,
        }
    }

    /// How much history to ask for: what is kept, within what the exchange
    /// still serves.
    fn wanted(&self, interval: Interval) -> usize {
        let keep = self.keep(interval);
        self.venue
            .history_limit()
            .map_or(keep, |limit| keep.min(limit))
    }

    async fn run(mut self) {
        self.load_universe().await;
        self.backfill_all(true).await;
        let mut stream = self.open_stream();
        let mut reopen_at: Option<tokio::time::Instant> = None;
        let mut next_refresh = self.clock().now_ms() + self.refresh_ms();
        loop {
            let check_at = self.next_check_ms(self.stream_up);
            self.live.status.venue(self.exchange, &self.market, |s| {
                s.next_close_ms = Some(check_at - check_at.rem_euclid(M15));
            });
            let clock = self.clock();
            tokio::select! {
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
                    self.check_close(close).await;
                }
                _ = clock.sleep_until_ms(next_refresh) => {
                    next_refresh = self.clock().now_ms() + self.refresh_ms();
                    if self.refresh_universe().await {
                        self.backfill_all(false).await;
                        stream = self.open_stream();
                    }
                }
            }
        }
    }

    fn refresh_ms(&self) -> i64 {
        self.live.settings.refresh_minutes as i64 * 60_000
    }

    /// When to check the newest close: the settle delay after it while the
    /// stream is connected (it brings nearly everything), a short delay
    /// while there is none or it is down (REST polling after each close: a
    /// stream that is down brings nothing to wait for).
    fn next_check_ms(&self, streaming: bool) -> i64 {
        let settle = if streaming {
            self.live.settings.settle_secs as i64 * 1000
        } else {
            self.live.settings.settle_secs.min(3) as i64 * 1000
        };
        let now = self.clock().now_ms();
        let close = now.div_euclid(M15) * M15;
        if close + settle > now {
            close + settle
        } else {
            close + M15 + settle
        }
    }

    fn open_stream(&mut self) -> Option<mpsc::Receiver<CloseEvent>> {
        let symbols = self.live_symbols();
        let stream = self.venue.stream(&symbols, &INTERVALS);
        // Polled until the stream says it is connected.
        self.stream_up = false;
        self.set_mode(FeedMode::Polling(match stream {
            Some(_) => "the stream is not connected yet".into(),
            None => "no stream for this market".into(),
        }));
        stream
    }

    fn set_mode(&self, mode: FeedMode) {
        self.live
            .status
            .venue(self.exchange, &self.market, |s| s.mode = mode);
    }

    /// Symbols still listed.
    fn live_symbols(&self) -> Vec<String> {
        self.universe
            .symbols
            .iter()
            .filter(|s| !self.universe.delisted.contains_key(*s))
            .cloned()
            .collect()
    }

    async fn load_universe(&mut self) {
        let data_dir = self.live.pipeline.paths().data_dir.clone();
        let cache = UniverseCache::load(&data_dir);
        if let Some(cached) = cache
            .markets
            .get(&UniverseCache::key(self.exchange, &self.market))
        {
            self.universe = cached.clone();
        }
        while !self.refresh_universe().await && self.universe.symbols.is_empty() {
            // No listings and nothing cached: nothing to follow yet.
            tokio::time::sleep(STREAM_RETRY).await;
        }
    }

    /// Reads the listings again; true when the universe changed.
    async fn refresh_universe(&mut self) -> bool {
        let listings = match self.venue.listings().await {
            Ok(listings) => listings,
            Err(err) => {
                let text = format!("listings unavailable, keeping the cached universe: {err}");
                tracing::warn!("[UNIVERSE] {} {}: {text}", self.exchange, self.market);
                self.live
                    .status
                    .venue(self.exchange, &self.market, |s| s.last_error = Some(text));
                return false;
            }
        };
        let change = self
            .universe
            .refresh(&listings, &self.live.settings, self.clock().now_ms());
        for symbol in &change.listed {
            tracing::info!(
                "[UNIVERSE] {} {}: {symbol} joins",
                self.exchange,
                self.market
            );
            self.live.status.clear_stale(self.exchange, symbol);
        }
        for symbol in &change.delisted {
            tracing::warn!(
                "[UNIVERSE] {} {}: {symbol} was delisted; its rows stay, marked",
                self.exchange,
                self.market
            );
        }
        for (symbol, since) in &self.universe.delisted {
            self.live.status.mark(
                self.exchange,
                symbol,
                MarkKind::Delisted,
                format!(
                    "delisted by {} (noticed at {})",
                    self.exchange,
                    quantpro_model::format::utc_datetime(*since)
                ),
            );
        }
        let data_dir = self.live.pipeline.paths().data_dir.clone();
        let mut cache = UniverseCache::load(&data_dir);
        cache.markets.insert(
            UniverseCache::key(self.exchange, &self.market),
            self.universe.clone(),
        );
        if let Err(err) = cache.save(&data_dir) {
            tracing::warn!("[UNIVERSE] cannot cache the universe: {err}");
        }
        let (symbols, delisted) = (self.universe.symbols.len(), self.universe.delisted.len());
        self.live.status.venue(self.exchange, &self.market, |s| {
            s.symbols = symbols;
            s.delisted = delisted;
        });
        !change.is_empty()
    }

    /// Brings every series of the universe up to date, then asks for a scan
    /// of every symbol that got candles (of every symbol with `everyone`:
    /// the first scan of a start).
    async fn backfill_all(&mut self, everyone: bool) {
        for symbol in self.live_symbols() {
            let mut fresh = false;
            for interval in INTERVALS {
                match self.backfill(&symbol, interval).await {
                    Ok(added) => fresh |= added > 0,
                    Err(err) => self.mark_stale(&symbol, err.to_string()),
                }
            }
            self.flush().await;
            let close = self.note_close(&symbol);
            if fresh || (everyone && close.is_some()) {
                self.arrive(&symbol, close.unwrap_or(self.clock().now_ms()))
                    .await;
            }
        }
        self.publish_counts();
    }

    /// Fetches what the series lacks: everything after its last candle, and
    /// older history up to the configured length. Returns the candles added.
    async fn backfill(&mut self, symbol: &str, interval: Interval) -> Result<usize, SourceError> {
        let key: SeriesKey = (self.exchange, symbol.to_string(), interval);
        let step = interval.millis();
        let want = self.wanted(interval);
        let now = self.clock().now_ms();
        let mut added = 0;
        let start = match self.store.last_open(&key) {
            Some(last) => last + step,
            None => (now.div_euclid(step) - want as i64) * step,
        };
        if start + step <= now {
            let fetched = self.fetch_closed(symbol, interval, start, now).await?;
            added += self.join(&key, fetched).await?;
        }
        let have = self.store.series(&key).len();
        if have > 0 && have < want && !self.no_older.contains(&key) {
            let first = self.store.series(&key)[0].t;
            let older = self
                .fetch_closed(symbol, interval, first - (want - have) as i64 * step, first)
                .await?;
            let keep = self.keep(interval);
            let joined = self.store.update(&key, keep, |series| {
                prepend_history(series, &older, interval) > 0
            });
            if joined {
                added += 1;
            }
            if self.store.series(&key).len() < want {
                self.no_older.insert(key);
            }
        }
        Ok(added)
    }

    /// Closed candles opening in `[start, end)` from REST.
    async fn fetch_closed(
        &self,
        symbol: &str,
        interval: Interval,
        start: i64,
        end: i64,
    ) -> Result<Vec<Candle>, SourceError> {
        let mut candles = self.venue.candles(symbol, interval, start, end).await?;
        drop_unclosed(&mut candles, interval, self.clock().now_ms());
        Ok(candles)
    }

    /// Adds fetched or streamed candles without leaving a hole: a gap is
    /// fetched once more, and when the exchange no longer has it the series
    /// restarts after it (logged). Returns the candles added.
    async fn join(&mut self, key: &SeriesKey, candles: Vec<Candle>) -> Result<usize, SourceError> {
        let interval = key.2;
        let keep = self.keep(interval);
        if self.store.series(key).is_empty() {
            let run = newest_contiguous_run(&candles, interval).to_vec();
            if run.len() < candles.len() {
                tracing::warn!(
                    "[GAP] {} {} {interval}: the exchange's history has a hole; starting after it",
                    key.0,
                    key.1
                );
            }
            let n = run.len();
            self.store.update(key, keep, |series| {
                series.extend(run);
                n > 0
            });
            return Ok(n);
        }
        let extension = self.store.extend(key, &candles, keep);
        self.log_revisions(key, &extension.revised);
        let Some(gap) = extension.gap else {
            return Ok(extension.added);
        };
        let refetched = self
            .fetch_closed(&key.1, interval, gap.from_ms, gap.to_ms + interval.millis())
            .await?;
        let mut all = refetched;
        all.extend(candles.iter().filter(|c| c.t > gap.to_ms).copied());
        let again = self.store.extend(key, &all, keep);
        if let Some(gap) = again.gap {
            tracing::warn!(
                "[GAP] {} {} {interval}: {} candles from {} are missing on the exchange; the series restarts after the gap",
                key.0,
                key.1,
                gap.candles(interval),
                quantpro_model::format::utc_datetime(gap.from_ms)
            );
            let newer: Vec<Candle> = all.into_iter().filter(|c| c.t > gap.to_ms).collect();
            let n = newer.len();
            self.store.update(key, keep, |series| {
                restart_after_gap(series, &newer, interval);
                true
            });
            return Ok(extension.added + again.added + n);
        }
        Ok(extension.added + again.added)
    }

    fn log_revisions(
        &self,
        key: &SeriesKey,
        revisions: &[quantpro_core::candles::series::Revision],
    ) {
        for r in revisions {
            tracing::warn!(
                "[REVISED] {} {} {}: the candle of {} changed after its close (close {} -> {}, high {} -> {}, low {} -> {}, volume {} -> {}); keeping the exchange's final value",
                key.0,
                key.1,
                key.2,
                quantpro_model::format::utc_datetime(r.stored.t),
                r.stored.c,
                r.revised.c,
                r.stored.h,
                r.revised.h,
                r.stored.l,
                r.revised.l,
                r.stored.v,
                r.revised.v
            );
        }
    }

    async fn on_stream_event(&mut self, event: CloseEvent) {
        match event {
            CloseEvent::Connected => {
                self.stream_up = true;
                let simulated = self.live.status.current().simulated;
                self.set_mode(if simulated {
                    FeedMode::Simulated
                } else {
                    FeedMode::Streaming
                });
                // Whatever closed while disconnected comes over REST.
                self.backfill_all(false).await;
            }
            CloseEvent::Down { reason } => {
                tracing::warn!("[STREAM] {} {} down: {reason}", self.exchange, self.market);
                self.stream_up = false;
                self.set_mode(FeedMode::Polling(reason));
            }
            CloseEvent::Closed {
                symbol,
                interval,
                candle,
            } => {
                self.on_close(symbol, interval, candle).await;
            }
        }
    }

    async fn on_close(&mut self, symbol: String, interval: Interval, candle: Candle) {
        if !self.universe.symbols.contains(&symbol) || self.universe.delisted.contains_key(&symbol)
        {
            return;
        }
        let now = self.clock().now_ms();
        if candle.t + interval.millis() > now + SKEW_TOLERANCE_MS {
            tracing::warn!(
                "[STREAM] {} {symbol} {interval}: refusing a candle that closes at {}, in the future of this host's clock ({}): clock skew?",
                self.exchange,
                quantpro_model::format::utc_datetime(candle.t + interval.millis()),
                quantpro_model::format::utc_datetime(now)
            );
            return;
        }
        let key: SeriesKey = (self.exchange, symbol.clone(), interval);
        match self.join(&key, vec![candle]).await {
            Ok(0) => {}
            Ok(_) => {
                self.flush().await;
                let close = self
                    .note_close(&symbol)
                    .unwrap_or(candle.t + interval.millis());
                self.live.status.clear_stale(self.exchange, &symbol);
                self.arrive(&symbol, close).await;
                self.publish_counts();
            }
            Err(err) => self.mark_stale(&symbol, err.to_string()),
        }
    }

    /// After a close's settle delay: REST for every symbol whose 15m candle
    /// of that close is missing; those still without it are marked stale.
    async fn check_close(&mut self, close: i64) {
        let missing: Vec<String> = self
            .live_symbols()
            .into_iter()
            .filter(|s| self.closes.get(s).is_none_or(|&c| c < close))
            .collect();
        for symbol in missing {
            let mut reason = None;
            for interval in INTERVALS {
                if let Err(err) = self.backfill(&symbol, interval).await {
                    reason = Some(err);
                }
            }
            self.flush().await;
            let got = self.note_close(&symbol);
            if got.is_some_and(|c| c >= close) {
                self.live.status.clear_stale(self.exchange, &symbol);
                self.arrive(&symbol, close).await;
            } else {
                let why = reason.map_or_else(
                    || "the exchange has not published it yet".to_string(),
                    |err| err.to_string(),
                );
                self.mark_stale(
                    &symbol,
                    format!(
                        "no 15m candle for the {} close: {why}",
                        quantpro_model::format::utc_datetime(close)
                    ),
                );
            }
        }
        self.publish_counts();
    }

    fn mark_stale(&self, symbol: &str, reason: String) {
        tracing::warn!("[LIVE] {} {symbol}: {reason}", self.exchange);
        self.live
            .status
            .mark(self.exchange, symbol, MarkKind::Stale, reason);
    }

    /// Records the newest 15m close of a symbol's series.
    fn note_close(&mut self, symbol: &str) -> Option<i64> {
        let key: SeriesKey = (self.exchange, symbol.to_string(), Interval::M15);
        let close = self.store.last_open(&key).map(|t| t + M15)?;
        self.closes.insert(symbol.to_string(), close);
        Some(close)
    }

    async fn arrive(&self, symbol: &str, close_ms: i64) {
        let _ = self
            .arrivals
            .send(Arrival {
                key: (self.exchange, symbol.to_string()),
                close_ms,
            })
            .await;
    }

    async fn flush(&mut self) {
        // The file work runs on a blocking thread, off the async workers.
        let pending = self.store.pending_writes();
        let written = if pending.is_empty() {
            Ok(())
        } else {
            match tokio::task::spawn_blocking(move || pending.write()).await {
                Ok(outcome) => self
                    .store
                    .record_writes(outcome)
                    .map_err(CandleWriteError::File),
                Err(e) => Err(CandleWriteError::WriterStopped(e)),
            }
        };
        if let Err(err) = written {
            let text =
                format!("cannot write candles (they are kept in memory and written again): {err}");
            tracing::warn!("[STORE] {} {}: {text}", self.exchange, self.market);
            self.live
                .status
                .venue(self.exchange, &self.market, |s| s.last_error = Some(text));
        }
    }

    fn publish_counts(&self) {
        let latest = self.closes.values().copied().max();
        let symbols = self.live_symbols();
        let current = symbols
            .iter()
            .filter(|s| latest.is_some() && self.closes.get(*s).copied() == latest)
            .count();
        let stale = self.live.status.marked(self.exchange, MarkKind::Stale);
        let rate_limit = self.venue.rate_limit();
        self.live.status.venue(self.exchange, &self.market, |s| {
            s.current = current;
            s.stale = stale;
            s.last_close_ms = latest;
            s.rate_limit = rate_limit;
        });
    }
}

/// Why the candles of a flush were not written (they stay in memory and
/// are written again at the next flush).
#[derive(Debug, thiserror::Error)]
enum CandleWriteError {
    #[error(transparent)]
    File(StoreError),
    #[error("the candle writer stopped: {0}")]
    WriterStopped(tokio::task::JoinError),
}

/// Returns at `at`, or never without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The stream's next event, or never when there is no stream.
async fn next_event(stream: &mut Option<mpsc::Receiver<CloseEvent>>) -> Option<CloseEvent> {
    match stream {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}
