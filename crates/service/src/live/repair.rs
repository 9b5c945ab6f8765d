//! REST repairs off the stream's path: each venue's loop (`runner`) hands
//! the requests its series need ([`Fetch`]es planned by `backfill`) to a
//! worker task of its own, which waits for the exchange (a ban, a 429, the
//! budget: the governor's waits) while the loop goes on reading the stream.
//! The answers come back to the loop, which alone writes the series, so a
//! close of a symbol whose series are whole reaches the coordinator at once
//! whatever REST is doing; only the symbols with a repair under way wait
//! for it, marked stale with the reason ("waiting for BINANCE futures
//! (banned, resumes in 14 s)").

use super::backfill::{fetch_closed, Fetch, Part};
use super::market::LiveMarket;
use quantpro_core::candles::store::SeriesKey;
use quantpro_core::candles::Candle;
use quantpro_sources::clock::Clock;
use quantpro_sources::SourceError;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A request's answer, back from the worker.
pub(super) struct Repaired {
    pub(super) fetch: Fetch,
    pub(super) result: Result<Vec<Candle>, SourceError>,
}

/// One venue's repair queue: the requests sent to its worker and not back
/// yet, per series.
pub(super) struct Repairs {
    jobs: mpsc::UnboundedSender<Fetch>,
    done: mpsc::UnboundedReceiver<Repaired>,
    worker: JoinHandle<()>,
    /// Requests out per series, and how many of them bring candles the
    /// series lacks at its end (not older history).
    out: BTreeMap<SeriesKey, Out>,
    /// Series to plan again once their requests are back (asked for while
    /// busy: a close came, a check found them behind).
    pub(super) again: BTreeSet<SeriesKey>,
    /// Series whose repair failed, with the clock time to try again.
    pub(super) retry: BTreeMap<SeriesKey, i64>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Out {
    all: usize,
    newer: usize,
}

impl Repairs {
    /// The queue of `venue`, with its worker running.
    pub(super) fn start(venue: Arc<dyn LiveMarket>, clock: Clock) -> Repairs {
        let (jobs, mut queued) = mpsc::unbounded_channel::<Fetch>();
        let (answers, done) = mpsc::unbounded_channel();
        let worker = tokio::spawn(async move {
            while let Some(fetch) = queued.recv().await {
                // A request that panics fails alone; the worker goes on.
                let venue = venue.clone();
                let asked = fetch.clone();
                let request =
                    tokio::spawn(async move { fetch_closed(&*venue, clock, &asked).await });
                // Stopped with the worker (when the loop stops).
                let _stop = StopOnDrop(request.abort_handle());
                let result = request.await.unwrap_or_else(|e| {
                    Err(SourceError::Client {
                        api: "live repair",
                        detail: format!("the request stopped: {e}"),
                    })
                });
                if answers.send(Repaired { fetch, result }).is_err() {
                    return;
                }
            }
        });
        Repairs {
            jobs,
            done,
            worker,
            out: BTreeMap::new(),
            again: BTreeSet::new(),
            retry: BTreeMap::new(),
        }
    }

    pub(super) fn send(&mut self, fetch: Fetch) {
        let out = self.out.entry(fetch.key.clone()).or_default();
        out.all += 1;
        if fetch.part != Part::Older {
            out.newer += 1;
        }
        let _ = self.jobs.send(fetch);
    }

    /// The next answer (never, while nothing is out).
    pub(super) async fn next(&mut self) -> Option<Repaired> {
        let repaired = self.done.recv().await?;
        let key = &repaired.fetch.key;
        if let Some(out) = self.out.get_mut(key) {
            out.all -= 1;
            if repaired.fetch.part != Part::Older {
                out.newer -= 1;
            }
            if out.all == 0 {
                self.out.remove(key);
            }
        }
        Some(repaired)
    }

    /// Whether requests of the series are out.
    pub(super) fn busy(&self, key: &SeriesKey) -> bool {
        self.out.contains_key(key)
    }

    /// Whether `symbol` waits for candles it lacks at the end of a series.
    pub(super) fn waiting(&self, symbol: &str) -> bool {
        self.out
            .iter()
            .any(|(key, out)| key.1 == symbol && out.newer > 0)
    }

    /// Whether any request is out.
    #[cfg(test)]
    pub(super) fn busy_any(&self) -> bool {
        !self.out.is_empty()
    }

    /// Whether anything is out or due to be tried again.
    pub(super) fn pending(&self) -> bool {
        !self.out.is_empty() || !self.retry.is_empty()
    }
}

/// Aborts a task when dropped.
struct StopOnDrop(tokio::task::AbortHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Drop for Repairs {
    fn drop(&mut self) {
        self.worker.abort();
    }
}
