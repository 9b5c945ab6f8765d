//! The venue's side of the REST repairs (`repair` is the worker): asking
//! for what a series lacks, taking the answers into the series (the loop
//! alone writes them), retrying a failed repair within the settle delay,
//! and the stale marks of the symbols that wait.

use super::backfill::INTERVALS;
use super::coordinator::Delivery;
use super::repair::Repaired;
use super::runner::VenueRunner;
use quantpro_core::candles::store::SeriesKey;
use quantpro_model::Interval;
use quantpro_sources::SourceError;

impl VenueRunner {
    /// Sends what `symbol`'s `interval` series lacks to the worker (once
    /// more after the requests out, when some are).
    pub(super) fn repair(&mut self, symbol: &str, interval: Interval) {
        let key: SeriesKey = (self.exchange, symbol.to_string(), interval);
        if self.repairs.busy(&key) {
            self.repairs.again.insert(key);
            return;
        }
        self.repairs.retry.remove(&key);
        for fetch in self.series.plan(symbol, interval) {
            self.repairs.send(fetch);
        }
    }

    /// Every series of the universe (after a reconnect, a new universe).
    pub(super) fn repair_all(&mut self) {
        for symbol in self.universe.live_symbols() {
            for interval in INTERVALS {
                self.repair(&symbol, interval);
            }
        }
    }

    /// Joins a repair's answer; a symbol whose repairs are all back goes
    /// to the coordinator with what it got (and what the stream brought
    /// meanwhile). A failure is kept as the symbol's reason and tried again
    /// shortly.
    pub(super) async fn on_repaired(&mut self, repaired: Repaired) {
        let key = repaired.fetch.key.clone();
        let symbol = key.1.clone();
        match repaired.result {
            Ok(candles) => {
                self.failures.remove(&key);
                let (added, more) = self.series.apply(repaired.fetch, candles);
                for fetch in more {
                    self.repairs.send(fetch);
                }
                if added > 0 {
                    self.flush().await;
                    if let Some(close) = self.series.newest_close(&symbol, key.2) {
                        let held = self.held.entry(symbol.clone()).or_insert(close);
                        *held = (*held).max(close);
                    }
                }
                if !self.repairs.busy(&key) && self.repairs.again.remove(&key) {
                    self.repair(&symbol, key.2);
                }
            }
            Err(err) => {
                self.repairs.again.remove(&key);
                self.repair_failed(key, err);
            }
        }
        if !self.repairs.waiting(&symbol) {
            if let Some(close) = self.held.remove(&symbol) {
                self.arrive(&symbol, close, Delivery::Rest).await;
            }
        }
        self.publish_counts();
    }

    /// Keeps why a series' repair failed (its stale reason) and when to
    /// try again.
    pub(super) fn repair_failed(&mut self, key: SeriesKey, err: SourceError) {
        tracing::warn!("[LIVE] {} {} {}: repair failed: {err}", key.0, key.1, key.2);
        let in_a_row = self.failures.get(&key).map_or(0, |(_, n)| *n) + 1;
        let at = self.clock.now_ms() + self.repair_retry_ms(&err, in_a_row);
        self.failures
            .insert(key.clone(), (err.to_string(), in_a_row));
        self.repairs.retry.insert(key, at);
    }

    /// Tries the failed repairs again once their time has come.
    pub(super) fn retry_due(&mut self) {
        let now = self.clock.now_ms();
        let due: Vec<SeriesKey> = self
            .repairs
            .retry
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in due {
            self.repairs.retry.remove(&key);
            self.repair(&key.1, key.2);
        }
    }

    /// [test] Joins every answer until no repair is out.
    #[cfg(test)]
    pub(super) async fn finish_repairs(&mut self) {
        while self.repairs.busy_any() {
            let Some(repaired) = self.repairs.next().await else {
                return;
            };
            self.on_repaired(repaired).await;
        }
    }
}
