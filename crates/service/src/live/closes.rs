//! Following a market's closes: the part of a venue's loop (`runner`) that
//! takes each closed candle from the stream into the series (`backfill`)
//! and hands the symbol to the coordinator, and that, at each 15m close
//! plus the settle delay, asks REST for what the stream did not bring (the
//! whole universe when there is no stream). A symbol whose candle still did
//! not come is marked stale with the reason; a candle from the future
//! (clock skew) is refused.

use super::backfill::INTERVALS;
use super::market::CloseEvent;
use super::runner::{VenueRunner, M15};
use quantpro_core::candles::store::SeriesKey;
use quantpro_core::candles::Candle;
use quantpro_model::{FeedMode, Interval};
use tokio::sync::mpsc;

/// A candle whose close lies further in the future than this is refused.
const SKEW_TOLERANCE_MS: i64 = 60_000;

impl VenueRunner {
    /// When to check the newest close: the settle delay after it while the
    /// stream is connected (it brings nearly everything), a short delay
    /// while there is none or it is down (REST polling after each close: a
    /// stream that is down brings nothing to wait for).
    pub(super) fn next_check_ms(&self, streaming: bool) -> i64 {
        let settle = if streaming {
            self.settings.settle_secs as i64 * 1000
        } else {
            self.settings.settle_secs.min(3) as i64 * 1000
        };
        let now = self.clock.now_ms();
        let close = now.div_euclid(M15) * M15;
        if close + settle > now {
            close + settle
        } else {
            close + M15 + settle
        }
    }

    pub(super) fn open_stream(&mut self) -> Option<mpsc::Receiver<CloseEvent>> {
        let symbols = self.universe.live_symbols();
        let stream = self.venue.stream(&symbols, &INTERVALS);
        // Polled until the stream says it is connected.
        self.stream_up = false;
        self.set_mode(FeedMode::Polling(match stream {
            Some(_) => "the stream is not connected yet".into(),
            None => "no stream for this market".into(),
        }));
        stream
    }

    pub(super) async fn on_stream_event(&mut self, event: CloseEvent) {
        match event {
            CloseEvent::Connected => {
                self.stream_up = true;
                let simulated = self.status.current().simulated;
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
        let now = self.clock.now_ms();
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
        match self.series.join(&key, vec![candle]).await {
            Ok(0) => {}
            Ok(_) => {
                self.flush().await;
                let close = self
                    .note_close(&symbol)
                    .unwrap_or(candle.t + interval.millis());
                self.status.clear_stale(self.exchange, &symbol);
                self.arrive(&symbol, close).await;
                self.publish_counts();
            }
            Err(err) => self.mark_stale(&symbol, err.to_string()),
        }
    }

    /// After a close's settle delay: REST for every symbol whose 15m candle
    /// of that close is missing; those still without it are marked stale.
    pub(super) async fn check_close(&mut self, close: i64) {
        let missing: Vec<String> = self
            .universe
            .live_symbols()
            .into_iter()
            .filter(|s| self.closes.get(s).is_none_or(|&c| c < close))
            .collect();
        for symbol in missing {
            let mut reason = None;
            for interval in INTERVALS {
                if let Err(err) = self.series.backfill(&symbol, interval).await {
                    reason = Some(err);
                }
            }
            self.flush().await;
            let got = self.note_close(&symbol);
            if got.is_some_and(|c| c >= close) {
                self.status.clear_stale(self.exchange, &symbol);
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

    /// Records the newest 15m close of a symbol's series.
    pub(super) fn note_close(&mut self, symbol: &str) -> Option<i64> {
        let close = self.series.newest_close(symbol, Interval::M15)?;
        self.closes.insert(symbol.to_string(), close);
        Some(close)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::coordinator::Arrival;
    use crate::live::scripted::{
        arrived, candle, venue_runner, ScriptedMarket, BTC, C0, C1, ETH, L0, T0,
    };
    use quantpro_core::candles::read_candle_file;
    use quantpro_core::candles::store::CandleStore;
    use quantpro_model::{Exchange, MarkKind};
    use quantpro_sources::clock::Clock;
    use std::path::Path;
    use std::sync::Arc;

    struct Following {
        clock: Clock,
        market: Arc<ScriptedMarket>,
        runner: VenueRunner,
        arrivals: mpsc::Receiver<Arrival>,
    }

    /// A venue following BTC and ETH, backfilled at `T0`, its stream
    /// connected; what the backfill sent the coordinator is taken.
    async fn following(dir: &Path) -> Following {
        let clock = Clock::starting_at(T0, 1.0);
        let market = ScriptedMarket::new(clock);
        market.list_with_candles(&[BTC, ETH]);
        let (mut runner, mut arrivals) = venue_runner(&market, dir);
        assert!(runner.refresh_universe().await);
        runner.on_stream_event(CloseEvent::Connected).await;
        assert_eq!(arrived(&mut arrivals), [(BTC.into(), C0), (ETH.into(), C0)]);
        market.take_asked();
        Following {
            clock,
            market,
            runner,
            arrivals,
        }
    }

    fn stored_15m(dir: &Path, symbol: &str) -> Vec<Candle> {
        let key = (Exchange::Binance, symbol.to_string(), Interval::M15);
        read_candle_file(&CandleStore::path_of(dir, &key)).unwrap()
    }

    fn closed(symbol: &str, t: i64) -> CloseEvent {
        CloseEvent::Closed {
            symbol: symbol.into(),
            interval: Interval::M15,
            candle: candle(t, Interval::M15),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_streamed_close_is_stored_and_sent_for_a_rescan() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = following(dir.path()).await;
        assert!(f.runner.stream_up);
        f.clock.sleep_until_ms(C1 + 1_000).await;

        f.runner.on_stream_event(closed(BTC, L0 + M15)).await;
        assert_eq!(arrived(&mut f.arrivals), [(BTC.into(), C1)]);
        assert_eq!(stored_15m(dir.path(), BTC).last().unwrap().t, L0 + M15);
        assert_eq!(f.runner.closes[BTC], C1);
        assert!(f.market.take_asked().is_empty(), "no REST for a close");
        let venue = &f.runner.status.current().venues[0];
        assert_eq!(
            (venue.current, venue.last_close_ms),
            (1, Some(C1)),
            "BTC has the newest close, ETH not yet"
        );

        // A symbol outside the universe is not followed.
        f.runner.on_stream_event(closed("XRPUSDT", L0 + M15)).await;
        assert!(arrived(&mut f.arrivals).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_candle_from_the_future_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = following(dir.path()).await;

        // At T0 (seven minutes before C1) a candle closing at C1 + 15m.
        f.runner.on_stream_event(closed(BTC, C1)).await;
        assert!(arrived(&mut f.arrivals).is_empty());
        assert_eq!(stored_15m(dir.path(), BTC).last().unwrap().t, L0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_missed_close_is_repaired_over_rest_after_the_settle_delay() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = following(dir.path()).await;
        let check = f.runner.next_check_ms(f.runner.stream_up);
        assert_eq!(check, C1 + 20_000, "the settle delay after the close");
        f.clock.sleep_until_ms(C1 + 1_000).await;
        f.runner.on_stream_event(closed(BTC, L0 + M15)).await;
        arrived(&mut f.arrivals);

        f.clock.sleep_until_ms(check).await;
        f.runner.check_close(C1).await;
        let asked = f.market.take_asked();
        assert!(!asked.is_empty());
        assert!(
            asked.iter().all(|(symbol, ..)| symbol == ETH),
            "only the symbol the stream missed: {asked:?}"
        );
        assert_eq!(arrived(&mut f.arrivals), [(ETH.into(), C1)]);
        assert_eq!(stored_15m(dir.path(), ETH).last().unwrap().t, L0 + M15);
        assert!(f.runner.status.current().marks.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_close_the_exchange_has_not_published_marks_the_symbol_stale() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = following(dir.path()).await;
        f.market.forget(ETH, Interval::M15, L0 + M15, L0 + 2 * M15);
        f.clock.sleep_until_ms(C1 + 20_000).await;
        f.runner.on_stream_event(closed(BTC, L0 + M15)).await;
        arrived(&mut f.arrivals);

        f.runner.check_close(C1).await;
        assert!(arrived(&mut f.arrivals).is_empty());
        let marks = f.runner.status.current().marks;
        assert_eq!(marks.len(), 1);
        assert_eq!(
            (marks[0].symbol.as_str(), marks[0].kind),
            (ETH, MarkKind::Stale)
        );
        assert!(
            marks[0]
                .reason
                .ends_with("close: the exchange has not published it yet"),
            "{}",
            marks[0].reason
        );
        assert_eq!(f.runner.status.current().venues[0].stale, 1);

        // Published late: the next check brings it and clears the mark.
        f.market.publish(ETH, Interval::M15, L0 + M15, L0 + 2 * M15);
        f.runner.check_close(C1).await;
        assert_eq!(arrived(&mut f.arrivals), [(ETH.into(), C1)]);
        assert!(f.runner.status.current().marks.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn the_settle_delay_is_waited_only_while_the_stream_is_up() {
        let dir = tempfile::tempdir().unwrap();
        let f = following(dir.path()).await;
        assert_eq!(f.runner.next_check_ms(true), C1 + 20_000);
        assert_eq!(f.runner.next_check_ms(false), C1 + 3_000, "polled soon");
        f.clock.sleep_until_ms(C1 + 5_000).await;
        assert_eq!(f.runner.next_check_ms(true), C1 + 20_000);
        assert_eq!(
            f.runner.next_check_ms(false),
            C1 + M15 + 3_000,
            "this close was polled: the next one"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reconnected_stream_brings_what_closed_while_it_was_down_over_rest() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = following(dir.path()).await;
        f.runner
            .on_stream_event(CloseEvent::Down {
                reason: "connection reset".into(),
            })
            .await;
        assert!(!f.runner.stream_up);
        assert_eq!(
            f.runner.status.current().venues[0].mode,
            FeedMode::Polling("connection reset".into())
        );

        f.clock.sleep_until_ms(C1 + M15 + 1_000).await;
        f.runner.on_stream_event(CloseEvent::Connected).await;
        assert!(f.runner.stream_up);
        assert_eq!(
            f.runner.status.current().venues[0].mode,
            FeedMode::Streaming
        );
        assert_eq!(
            arrived(&mut f.arrivals),
            [(BTC.into(), C1 + M15), (ETH.into(), C1 + M15)]
        );
        assert_eq!(stored_15m(dir.path(), ETH).last().unwrap().t, L0 + 2 * M15);
    }
}
