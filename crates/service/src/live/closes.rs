//! Following a market's closes: the part of a venue's loop (`runner`) that
//! takes each closed candle from the stream into the series (`backfill`)
//! and hands the symbol to the coordinator at once, and that, at each 15m
//! close plus the settle delay, checks every interval's series (15m, 4h,
//! any other: each against its own last close) and hands those behind to
//! the REST repair (`repair`; the whole universe when there is no stream).
//! After a reconnect the repair waits for every subscription to be
//! acknowledged (`Connected`), so it covers whatever closed until the
//! stream brings everything again. A candle from the future (clock skew)
//! is refused.

use super::backfill::INTERVALS;
use super::coordinator::Delivery;
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
                // Whatever closed until every subscription was acknowledged
                // comes over REST (the stream brings the rest).
                self.repair_all();
                self.publish_counts();
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
        let joined = self.series.join(&key, vec![candle]);
        if let Some(gap) = joined.gap {
            // The candle comes with the hole's repair; the symbol waits.
            if self.repairs.busy(&key) {
                self.repairs.again.insert(key);
            } else {
                self.repairs.send(gap);
            }
        }
        if joined.added > 0 {
            self.flush().await;
            self.deliver(&symbol, candle.t + interval.millis()).await;
        }
        self.publish_counts();
    }

    /// A symbol got a close from the stream: to the coordinator at once,
    /// unless a repair of its series is under way (then with the repair).
    async fn deliver(&mut self, symbol: &str, close: i64) {
        if self.repairs.waiting(symbol) {
            let held = self.held.entry(symbol.to_string()).or_insert(close);
            *held = (*held).max(close);
        } else {
            self.arrive(symbol, close, Delivery::Stream).await;
        }
    }

    /// After a close's settle delay: every series that lacks its
    /// interval's last close by then (15m at every check, 4h at a 4h close,
    /// and anything missed before) goes to the REST repair.
    pub(super) fn check_close(&mut self, close: i64) {
        for symbol in self.universe.live_symbols() {
            for interval in INTERVALS {
                let step = interval.millis();
                let due = close.div_euclid(step) * step;
                let newest = self.series.newest_close(&symbol, interval);
                if newest.is_none_or(|c| c < due) {
                    self.repair(&symbol, interval);
                }
            }
        }
        self.publish_counts();
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
    use quantpro_sources::SourceError;
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
        runner.finish_repairs().await;
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
        assert_eq!(f.runner.series.newest_close(BTC, Interval::M15), Some(C1));
        assert!(f.market.take_asked().is_empty(), "no REST for a close");
        let venue = &f.runner.status.current().venues[0];
        assert_eq!(
            (venue.current, venue.stale, venue.last_close_ms),
            (2, 0, Some(C1)),
            "BTC has the newest close; ETH is not late before the settle delay"
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
        f.runner.check_close(C1);
        f.runner.finish_repairs().await;
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

        f.runner.check_close(C1);
        f.runner.finish_repairs().await;
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
        f.runner.check_close(C1);
        f.runner.finish_repairs().await;
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
        f.runner.finish_repairs().await;
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

    fn closed_at(symbol: &str, interval: Interval, t: i64) -> CloseEvent {
        CloseEvent::Closed {
            symbol: symbol.into(),
            interval,
            candle: candle(t, interval),
        }
    }

    /// 2026-03-02 12:00 UTC, the first 4h close after `T0`.
    const H4_CLOSE: i64 = 1_772_452_800_000;

    #[tokio::test(start_paused = true)]
    async fn a_4h_close_the_stream_missed_is_repaired_at_its_own_settle_check() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = following(dir.path()).await;
        assert_eq!(H4_CLOSE.rem_euclid(Interval::H4.millis()), 0);
        f.clock.sleep_until_ms(H4_CLOSE + 1_000).await;
        // The stream brought every 15m close of both, and BTC's 4h close;
        // ETH's 4h close never came.
        for t in (L0 + M15..H4_CLOSE).step_by(M15 as usize) {
            f.runner.on_stream_event(closed(BTC, t)).await;
            f.runner.on_stream_event(closed(ETH, t)).await;
        }
        let h4_open = H4_CLOSE - Interval::H4.millis();
        f.runner
            .on_stream_event(closed_at(BTC, Interval::H4, h4_open))
            .await;
        arrived(&mut f.arrivals);
        assert!(f.market.take_asked().is_empty());

        f.clock.sleep_until_ms(H4_CLOSE + 20_000).await;
        let checked_at = f.clock.now_ms();
        f.runner.check_close(H4_CLOSE);
        let marks = f.runner.status.current().marks;
        assert_eq!(marks.len(), 1, "{marks:?}");
        assert_eq!(marks[0].symbol, ETH);
        assert!(
            marks[0].reason.starts_with("no 4h candle for the ")
                && marks[0]
                    .reason
                    .ends_with("close yet: being repaired over REST"),
            "{}",
            marks[0].reason
        );
        assert_eq!(f.runner.status.current().venues[0].stale, 1);
        f.runner.finish_repairs().await;
        assert_eq!(
            f.market.take_asked(),
            [(ETH.to_string(), Interval::H4, h4_open, checked_at)],
            "only the 4h series the stream missed"
        );
        assert_eq!(arrived(&mut f.arrivals), [(ETH.into(), H4_CLOSE)]);
        assert_eq!(
            f.runner.series.newest_close(ETH, Interval::H4),
            Some(H4_CLOSE)
        );
        assert!(f.runner.status.current().marks.is_empty());
        let venue = &f.runner.status.current().venues[0];
        assert_eq!((venue.current, venue.stale), (2, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_repair_waiting_on_the_exchange_holds_up_only_its_own_symbol() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = following(dir.path()).await;
        f.clock.sleep_until_ms(C1 + 1_000).await;
        f.runner.on_stream_event(closed(BTC, L0 + M15)).await;
        assert_eq!(arrived(&mut f.arrivals), [(BTC.into(), C1)]);

        // ETH's close was missed; its repair waits behind a ban.
        f.market.hold_rest();
        f.market
            .set_wait(Some("BINANCE futures (banned, resumes in 14 s)"));
        f.clock.sleep_until_ms(C1 + 20_000).await;
        f.runner.check_close(C1);
        let marks = f.runner.status.current().marks;
        assert_eq!(marks.len(), 1);
        assert_eq!(
            (marks[0].symbol.as_str(), marks[0].reason.as_str()),
            (ETH, "waiting for BINANCE futures (banned, resumes in 14 s)")
        );

        // The next close: BTC's whole series takes it at once; ETH's,
        // which would leave a hole, waits for the repair.
        f.clock.sleep_until_ms(C1 + M15 + 1_000).await;
        f.runner.on_stream_event(closed(BTC, L0 + 2 * M15)).await;
        assert_eq!(arrived(&mut f.arrivals), [(BTC.into(), C1 + M15)]);
        f.runner.on_stream_event(closed(ETH, L0 + 2 * M15)).await;
        assert!(arrived(&mut f.arrivals).is_empty());
        let venue = &f.runner.status.current().venues[0];
        assert_eq!((venue.current, venue.stale), (1, 1), "adds up to 2");

        // The exchange answers again: ETH gets both closes.
        f.market.set_wait(None);
        f.market.release_rest();
        f.runner.finish_repairs().await;
        assert_eq!(arrived(&mut f.arrivals), [(ETH.into(), C1 + M15)]);
        assert_eq!(stored_15m(dir.path(), ETH).last().unwrap().t, L0 + 2 * M15);
        assert!(f.runner.status.current().marks.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_repair_is_tried_again_within_the_settle_delay() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = following(dir.path()).await;
        f.market.fail_rest(Some("HTTP 429"));
        f.clock.sleep_until_ms(C1 + 20_000).await;
        f.runner.check_close(C1);
        f.runner.finish_repairs().await;
        let marks = f.runner.status.current().marks;
        assert_eq!(marks.len(), 2);
        assert!(marks[0].reason.contains("HTTP 429"), "{}", marks[0].reason);
        let declined = SourceError::Declined {
            api: "scripted market",
            reason: "HTTP 429".into(),
        };
        assert!(
            f.runner.repair_retry_ms(&declined, 3) > f.runner.repair_retry_ms(&declined, 1),
            "other failures are tried again less and less often"
        );

        // The exchange answers again: the next try comes within the settle
        // delay (20 s), not at the next close.
        f.market.fail_rest(None);
        let refusal = SourceError::RateLimited {
            api: "scripted market",
            wait_secs: 30,
            max_secs: 0,
        };
        let retry = f.runner.repair_retry_ms(&refusal, 1);
        assert!(retry <= 20_000);
        f.clock.sleep_until_ms(C1 + 20_000 + retry).await;
        f.runner.retry_due();
        f.runner.finish_repairs().await;
        assert_eq!(
            arrived(&mut f.arrivals),
            [(BTC.into(), C1), (ETH.into(), C1)]
        );
        assert!(f.runner.status.current().marks.is_empty());
    }
}
