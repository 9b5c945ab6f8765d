//! Backfill and REST repair: how one market's candle series reach the one
//! candle store (`quantpro_core::candles::store`, the files the scanner
//! reads) and stay there without a hole. `runner` backfills every series of
//! the universe at start and after each reconnect, `closes` joins the
//! stream's candles and asks for what a close did not bring; both go
//! through [`MarketSeries`].
//!
//! Only what is missing is fetched: everything after a series' last stored
//! candle, and older history up to the configured length (a restart resumes
//! from what is stored). A gap is fetched once more; when the exchange no
//! longer has it the series restarts after it. A revised candle is logged
//! and the exchange's final value kept.

use super::market::LiveMarket;
use crate::settings::UniverseSettings;
use quantpro_core::candles::series::{newest_contiguous_run, prepend_history, Revision};
use quantpro_core::candles::store::{CandleStore, SeriesKey, StoreError};
use quantpro_core::candles::{drop_unclosed, Candle};
use quantpro_model::{Exchange, Interval};
use quantpro_sources::clock::Clock;
use quantpro_sources::SourceError;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

/// The series every symbol of the universe has. Each is a multiple of
/// 15m: the close checks run on the 15m grid and look at every interval's
/// own last close.
pub(super) const INTERVALS: [Interval; 2] = [Interval::M15, Interval::H4];

/// One REST request a series needs: candles of `key` opening in
/// `[start, end)`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fetch {
    pub(super) key: SeriesKey,
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) part: Part,
}

/// What a [`Fetch`] is for.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Part {
    /// What closed after the series' last candle.
    Newer,
    /// Older history, up to the configured length.
    Older,
    /// A hole once more (the exchange's answer, or the stream, left one),
    /// then `after`, the candles that came after it.
    Gap { after: Vec<Candle> },
}

/// What [`MarketSeries::join`] did.
#[derive(Debug)]
pub(super) struct Joined {
    pub(super) added: usize,
    /// The request that fills the hole the candles would have left.
    pub(super) gap: Option<Fetch>,
}

/// The closed candles a [`Fetch`] asks for, from the venue's REST.
pub(super) async fn fetch_closed(
    venue: &dyn LiveMarket,
    clock: Clock,
    fetch: &Fetch,
) -> Result<Vec<Candle>, SourceError> {
    let (_, symbol, interval) = &fetch.key;
    let mut candles = venue
        .candles(symbol, *interval, fetch.start, fetch.end)
        .await?;
    drop_unclosed(&mut candles, *interval, clock.now_ms());
    Ok(candles)
}

/// One market's series in the candle store, kept complete over REST.
pub(super) struct MarketSeries {
    venue: Arc<dyn LiveMarket>,
    exchange: Exchange,
    clock: Clock,
    store: CandleStore,
    /// Closed 15m and 4h candles kept per symbol (`[universe]`).
    ltf_history: usize,
    htf_history: usize,
    /// Series whose exchange had nothing older to give (a young listing,
    /// Hyperliquid's 5000-candle horizon): not asked again until a restart.
    no_older: BTreeSet<SeriesKey>,
}

impl MarketSeries {
    pub(super) fn new(
        venue: Arc<dyn LiveMarket>,
        clock: Clock,
        data_dir: PathBuf,
        settings: &UniverseSettings,
    ) -> MarketSeries {
        MarketSeries {
            exchange: venue.exchange(),
            venue,
            clock,
            store: CandleStore::new(data_dir),
            ltf_history: settings.ltf_history,
            htf_history: settings.htf_history,
            no_older: BTreeSet::new(),
        }
    }

    fn keep(&self, interval: Interval) -> usize {
        match interval {
            Interval::H4 => self.htf_history,
            _ => self.ltf_history,
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

    /// When the newest stored candle of a symbol's series closes.
    pub(super) fn newest_close(&mut self, symbol: &str, interval: Interval) -> Option<i64> {
        let key: SeriesKey = (self.exchange, symbol.to_string(), interval);
        self.store.last_open(&key).map(|t| t + interval.millis())
    }

    /// The REST requests `symbol`'s `interval` series needs now: what
    /// closed after its last candle, else older history up to the
    /// configured length. Empty when it lacks nothing.
    pub(super) fn plan(&mut self, symbol: &str, interval: Interval) -> Vec<Fetch> {
        let key: SeriesKey = (self.exchange, symbol.to_string(), interval);
        let step = interval.millis();
        let now = self.clock.now_ms();
        let start = match self.store.last_open(&key) {
            Some(last) => last + step,
            None => (now.div_euclid(step) - self.wanted(interval) as i64) * step,
        };
        if start + step <= now {
            return vec![Fetch {
                key,
                start,
                end: now,
                part: Part::Newer,
            }];
        }
        self.older(key).into_iter().collect()
    }

    /// The request for older history a series lacks, if it lacks any.
    fn older(&mut self, key: SeriesKey) -> Option<Fetch> {
        let want = self.wanted(key.2);
        let have = self.store.series(&key).len();
        if have == 0 || have >= want || self.no_older.contains(&key) {
            return None;
        }
        let first = self.store.series(&key)[0].t;
        Some(Fetch {
            start: first - (want - have) as i64 * key.2.millis(),
            end: first,
            key,
            part: Part::Older,
        })
    }

    /// Joins what a [`Fetch`] brought. REST only adds what the series does
    /// not have yet: what the stream delivered meanwhile stays as
    /// delivered. Returns the candles added and the requests that follow
    /// (a hole in the answer is asked once more, then older history).
    pub(super) fn apply(&mut self, fetch: Fetch, fetched: Vec<Candle>) -> (usize, Vec<Fetch>) {
        let key = fetch.key;
        let interval = key.2;
        let keep = self.keep(interval);
        match fetch.part {
            Part::Older => {
                let want = self.wanted(interval);
                let joined = self.store.update(&key, keep, |series| {
                    prepend_history(series, &fetched, interval) > 0
                });
                if self.store.series(&key).len() < want {
                    self.no_older.insert(key);
                }
                (usize::from(joined), Vec::new())
            }
            Part::Newer => {
                let newest = self.store.last_open(&key).unwrap_or(i64::MIN);
                let fetched: Vec<Candle> = fetched.into_iter().filter(|c| c.t > newest).collect();
                let joined = self.join(&key, fetched);
                match joined.gap {
                    Some(gap) => (joined.added, vec![gap]),
                    None => (joined.added, self.older(key).into_iter().collect()),
                }
            }
            Part::Gap { after } => {
                let newest = self.store.last_open(&key).unwrap_or(i64::MIN);
                let mut all = fetched;
                all.extend(after);
                all.retain(|c| c.t > newest);
                let again = self.store.extend(&key, &all, keep);
                let mut added = again.added;
                if let Some(gap) = again.gap {
                    tracing::warn!(
                        "[GAP] {} {} {interval}: {} candles from {} are missing on the exchange; the series restarts after the gap",
                        key.0,
                        key.1,
                        gap.candles(interval),
                        quantpro_model::format::utc_datetime(gap.from_ms)
                    );
                    added += self.store.restart_after(&key, gap, &all, keep);
                }
                (added, self.older(key).into_iter().collect())
            }
        }
    }

    /// Fetches what the series lacks (see [`MarketSeries::plan`]) and joins
    /// it, waiting for each request (the backfill of a start, before the
    /// stream is followed). Returns the candles added.
    pub(super) async fn backfill(
        &mut self,
        symbol: &str,
        interval: Interval,
    ) -> Result<usize, SourceError> {
        let mut todo = self.plan(symbol, interval);
        let mut added = 0;
        while let Some(fetch) = todo.pop() {
            let fetched = fetch_closed(&*self.venue, self.clock, &fetch).await?;
            let (n, more) = self.apply(fetch, fetched);
            added += n;
            todo.extend(more);
        }
        Ok(added)
    }

    /// Adds streamed or fetched candles without leaving a hole: candles
    /// after a hole are not added but come back with the request that
    /// fills it ([`Joined::gap`]; when the exchange no longer has the hole
    /// the series restarts after it). A revision keeps the exchange's final
    /// value (logged).
    pub(super) fn join(&mut self, key: &SeriesKey, candles: Vec<Candle>) -> Joined {
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
            let added = run.len();
            self.store.update(key, keep, |series| {
                series.extend(run);
                added > 0
            });
            return Joined { added, gap: None };
        }
        let extension = self.store.extend(key, &candles, keep);
        log_revisions(key, &extension.revised);
        let gap = extension.gap.map(|gap| Fetch {
            key: key.clone(),
            start: gap.from_ms,
            end: gap.to_ms + interval.millis(),
            part: Part::Gap {
                after: candles
                    .iter()
                    .filter(|c| c.t > gap.to_ms)
                    .copied()
                    .collect(),
            },
        });
        Joined {
            added: extension.added,
            gap,
        }
    }

    /// Writes the changed series' files, on a blocking thread (off the
    /// async workers). Candles that could not be written stay in memory and
    /// are written again at the next flush.
    pub(super) async fn flush(&mut self) -> Result<(), CandleWriteError> {
        let pending = self.store.pending_writes();
        if pending.is_empty() {
            return Ok(());
        }
        match tokio::task::spawn_blocking(move || pending.write()).await {
            Ok(outcome) => self
                .store
                .record_writes(outcome)
                .map_err(CandleWriteError::File),
            Err(e) => Err(CandleWriteError::WriterStopped(e)),
        }
    }
}

fn log_revisions(key: &SeriesKey, revisions: &[Revision]) {
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

/// Why the candles of a flush were not written (they stay in memory and
/// are written again at the next flush).
#[derive(Debug, thiserror::Error)]
pub(super) enum CandleWriteError {
    #[error(transparent)]
    File(StoreError),
    #[error("the candle writer stopped: {0}")]
    WriterStopped(tokio::task::JoinError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::scripted::{candle, settings, ScriptedMarket, BTC, C0, L0, M15, T0};
    use quantpro_core::candles::read_candle_file;
    use std::path::Path;

    fn key() -> SeriesKey {
        (Exchange::Binance, BTC.to_string(), Interval::M15)
    }

    /// The series of `market` in `dir`, as a venue's loop keeps them.
    fn series(market: &Arc<ScriptedMarket>, clock: Clock, dir: &Path) -> MarketSeries {
        MarketSeries::new(market.clone(), clock, dir.to_path_buf(), &settings())
    }

    fn stored(dir: &Path) -> Vec<Candle> {
        read_candle_file(&CandleStore::path_of(dir, &key())).unwrap()
    }

    /// A market with BTC's 15m candles from long ago to far ahead.
    fn market(clock: Clock) -> Arc<ScriptedMarket> {
        let market = ScriptedMarket::new(clock);
        market.publish(BTC, Interval::M15, T0 - 500 * M15, T0 + 500 * M15);
        market
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_backfill_takes_the_configured_history_of_closed_candles() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::starting_at(T0, 1.0);
        let market = market(clock);
        let mut series = series(&market, clock, dir.path());

        assert_eq!(series.backfill(BTC, Interval::M15).await.unwrap(), 40);
        series.flush().await.unwrap();
        assert_eq!(
            market.take_asked(),
            [(BTC.to_string(), Interval::M15, C0 - 40 * M15, T0)],
            "one request for the configured history"
        );
        let candles = stored(dir.path());
        assert_eq!(candles.len(), 40);
        assert_eq!(candles.last().unwrap().t, L0, "the open candle is left out");
        assert_eq!(series.newest_close(BTC, Interval::M15), Some(C0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_resumed_series_fetches_only_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::starting_at(T0, 1.0);
        let market = market(clock);
        let mut first = series(&market, clock, dir.path());
        first.backfill(BTC, Interval::M15).await.unwrap();
        first.flush().await.unwrap();
        let before = stored(dir.path());
        market.take_asked();

        // Three closes later a restart reads the same files.
        clock.sleep_until_ms(T0 + 3 * M15).await;
        let mut resumed = series(&market, clock, dir.path());
        assert_eq!(resumed.backfill(BTC, Interval::M15).await.unwrap(), 3);
        resumed.flush().await.unwrap();
        assert_eq!(
            market.take_asked(),
            [(BTC.to_string(), Interval::M15, L0 + M15, clock.now_ms())]
        );
        let after = stored(dir.path());
        assert_eq!(after.len(), 40, "trimmed to the configured history");
        assert_eq!(&after[..37], &before[3..]);
        assert_eq!(after.last().unwrap().t, L0 + 3 * M15);
    }

    #[tokio::test(start_paused = true)]
    async fn older_history_is_prepended_up_to_the_configured_length() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::starting_at(T0, 1.0);
        let market = market(clock);
        let mut store = CandleStore::new(dir.path());
        let recent: Vec<Candle> = (0..10)
            .map(|i| candle(L0 - (9 - i) * M15, Interval::M15))
            .collect();
        store.replace(key(), recent);
        store.flush().unwrap();

        let mut series = series(&market, clock, dir.path());
        series.backfill(BTC, Interval::M15).await.unwrap();
        series.flush().await.unwrap();
        assert_eq!(
            market.take_asked(),
            [(BTC.to_string(), Interval::M15, L0 - 39 * M15, L0 - 9 * M15)],
            "nothing newer is missing: only the older 30 are asked for"
        );
        let candles = stored(dir.path());
        assert_eq!(candles.len(), 40);
        assert_eq!(candles[0].t, L0 - 39 * M15);
        assert!(candles.windows(2).all(|w| w[1].t - w[0].t == M15));
    }

    #[tokio::test(start_paused = true)]
    async fn a_young_listing_is_not_asked_for_older_history_again() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::starting_at(T0, 1.0);
        let market = ScriptedMarket::new(clock);
        market.publish(BTC, Interval::M15, L0 - 14 * M15, T0 + 100 * M15);
        let mut series = series(&market, clock, dir.path());
        assert_eq!(series.backfill(BTC, Interval::M15).await.unwrap(), 15);
        assert_eq!(market.take_asked().len(), 2, "the history, then older");

        clock.sleep_until_ms(T0 + M15).await;
        assert_eq!(series.backfill(BTC, Interval::M15).await.unwrap(), 1);
        assert_eq!(
            market.take_asked(),
            [(BTC.to_string(), Interval::M15, L0 + M15, clock.now_ms())],
            "only the new close"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_gap_the_market_no_longer_has_restarts_the_series_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::starting_at(T0, 1.0);
        let market = market(clock);
        let mut series = series(&market, clock, dir.path());
        series.backfill(BTC, Interval::M15).await.unwrap();
        series.flush().await.unwrap();
        market.forget(BTC, Interval::M15, L0 + M15, L0 + 3 * M15);
        market.take_asked();

        clock.sleep_until_ms(T0 + 5 * M15).await;
        assert_eq!(series.backfill(BTC, Interval::M15).await.unwrap(), 3);
        series.flush().await.unwrap();
        let asked = market.take_asked();
        assert_eq!(
            asked[1],
            (BTC.to_string(), Interval::M15, L0 + M15, L0 + 3 * M15),
            "the gap is asked for once more"
        );
        let candles = stored(dir.path());
        assert_eq!(
            candles.iter().map(|c| c.t).collect::<Vec<_>>(),
            [L0 + 3 * M15, L0 + 4 * M15, L0 + 5 * M15],
            "the series restarts after the gap"
        );

        // What is before the gap never joins: not asked for again.
        clock.sleep_until_ms(T0 + 6 * M15).await;
        series.backfill(BTC, Interval::M15).await.unwrap();
        assert_eq!(
            market.take_asked(),
            [(BTC.to_string(), Interval::M15, L0 + 6 * M15, clock.now_ms())]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_streamed_candle_after_a_gap_brings_the_gap_over_rest() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::starting_at(T0, 1.0);
        let market = market(clock);
        let mut series = series(&market, clock, dir.path());
        series.backfill(BTC, Interval::M15).await.unwrap();
        market.take_asked();

        clock.sleep_until_ms(T0 + 3 * M15).await;
        let newest = candle(L0 + 3 * M15, Interval::M15);
        let joined = series.join(&key(), vec![newest]);
        assert_eq!(joined.added, 0, "not after a hole");
        let gap = joined.gap.expect("the hole to fill");
        assert_eq!((gap.start, gap.end), (L0 + M15, L0 + 3 * M15));
        assert!(
            market.take_asked().is_empty(),
            "joining asks nothing itself"
        );

        let fetched = fetch_closed(&*market, clock, &gap).await.unwrap();
        assert_eq!(
            series.apply(gap, fetched).0,
            3,
            "the hole, then the streamed candle"
        );
        assert_eq!(
            market.take_asked(),
            [(BTC.to_string(), Interval::M15, L0 + M15, L0 + 3 * M15)]
        );
        assert_eq!(series.newest_close(BTC, Interval::M15), Some(C0 + 3 * M15));
    }

    #[tokio::test(start_paused = true)]
    async fn rest_adds_only_what_the_series_does_not_have_yet() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::starting_at(T0, 1.0);
        let market = market(clock);
        let mut series = series(&market, clock, dir.path());
        series.backfill(BTC, Interval::M15).await.unwrap();
        clock.sleep_until_ms(T0 + M15).await;
        let repair = series.plan(BTC, Interval::M15).remove(0);
        let fetched = fetch_closed(&*market, clock, &repair).await.unwrap();

        // Meanwhile the stream delivered the same close, with the values
        // it saw: the repair's answer does not overwrite them.
        let streamed = Candle {
            c: 1.0,
            ..candle(L0 + M15, Interval::M15)
        };
        assert_eq!(series.join(&key(), vec![streamed]).added, 1);
        assert_eq!(series.apply(repair, fetched).0, 0);
        series.flush().await.unwrap();
        assert_eq!(stored(dir.path()).last(), Some(&streamed));
    }

    #[tokio::test(start_paused = true)]
    async fn a_revised_candle_keeps_the_exchanges_final_value() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::starting_at(T0, 1.0);
        let market = market(clock);
        let mut series = series(&market, clock, dir.path());
        series.backfill(BTC, Interval::M15).await.unwrap();
        let revised = Candle {
            c: 1.0,
            ..candle(L0, Interval::M15)
        };

        assert_eq!(series.join(&key(), vec![revised]).added, 0);
        series.flush().await.unwrap();
        assert_eq!(stored(dir.path()).last(), Some(&revised));
    }
}
