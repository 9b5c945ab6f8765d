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

/// The series every symbol of the universe has.
pub(super) const INTERVALS: [Interval; 2] = [Interval::M15, Interval::H4];

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

    /// Fetches what the series lacks: everything after its last candle, and
    /// older history up to the configured length. Returns the candles added.
    pub(super) async fn backfill(
        &mut self,
        symbol: &str,
        interval: Interval,
    ) -> Result<usize, SourceError> {
        let key: SeriesKey = (self.exchange, symbol.to_string(), interval);
        let step = interval.millis();
        let want = self.wanted(interval);
        let now = self.clock.now_ms();
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
        drop_unclosed(&mut candles, interval, self.clock.now_ms());
        Ok(candles)
    }

    /// Adds fetched or streamed candles without leaving a hole: a gap is
    /// fetched once more, and when the exchange no longer has it the series
    /// restarts after it (logged). Returns the candles added.
    pub(super) async fn join(
        &mut self,
        key: &SeriesKey,
        candles: Vec<Candle>,
    ) -> Result<usize, SourceError> {
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
        log_revisions(key, &extension.revised);
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
            let n = self.store.restart_after(key, gap, &all, keep);
            return Ok(extension.added + again.added + n);
        }
        Ok(extension.added + again.added)
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
        assert_eq!(series.join(&key(), vec![newest]).await.unwrap(), 3);
        assert_eq!(
            market.take_asked(),
            [(BTC.to_string(), Interval::M15, L0 + M15, L0 + 3 * M15)]
        );
        assert_eq!(series.newest_close(BTC, Interval::M15), Some(C0 + 3 * M15));
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

        assert_eq!(series.join(&key(), vec![revised]).await.unwrap(), 0);
        series.flush().await.unwrap();
        assert_eq!(stored(dir.path()).last(), Some(&revised));
    }
}
