//! The rescan coordinator: the last step of the live loop before the feed.
//! Every venue sends an [`Arrival`] when a symbol's series got new closed
//! candles (`closes`, `backfill` through `runner`); the coordinator gathers
//! the arrivals that come close together into one batch and rescans just
//! those symbols through the one `ScanPipeline`, then broadcasts a
//! [`Rescan`] (what the alerter and the dashboard's event stream follow).

use crate::pipeline::{PipelineRequest, ScanPipeline};
use quantpro_core::scan::NoProgress;
use quantpro_model::{Exchange, Trade};
use quantpro_sources::clock::Clock;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// Arrivals this close together (real time) are rescanned together.
const GATHER: Duration = Duration::from_millis(250);

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
    /// Each symbol's newest close in the batch and how it came.
    pub arrived: Vec<Arrived>,
}

/// How a symbol's new candles came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The stream brought them.
    Stream,
    /// REST brought them: the backfill of a start, a repair (what the
    /// stream missed), or polling; or the stream's close waited for a
    /// repair of the symbol's series.
    Rest,
}

/// One symbol of a rescan: its newest close and how it came.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrived {
    pub key: (Exchange, String),
    pub close_ms: i64,
    pub delivery: Delivery,
}

/// A symbol with new closed candles.
pub(super) struct Arrival {
    pub(super) key: (Exchange, String),
    pub(super) close_ms: i64,
    pub(super) delivery: Delivery,
}

/// Rescans what arrives, batch by batch, and announces each rescan.
pub(super) struct Coordinator {
    pipeline: Arc<ScanPipeline>,
    clock: Clock,
    rescans: broadcast::Sender<Rescan>,
}

impl Coordinator {
    pub(super) fn new(
        pipeline: Arc<ScanPipeline>,
        clock: Clock,
        rescans: broadcast::Sender<Rescan>,
    ) -> Coordinator {
        Coordinator {
            pipeline,
            clock,
            rescans,
        }
    }

    /// Gathers arrivals and rescans them in batches, until every sender is
    /// gone and what they sent is rescanned.
    pub(super) async fn coordinate(self, mut arrivals: mpsc::Receiver<Arrival>) {
        while let Some(first) = arrivals.recv().await {
            let mut batch = BTreeMap::new();
            let mut earliest = first.close_ms;
            gather(&mut batch, first);
            while let Ok(Some(next)) = tokio::time::timeout(GATHER, arrivals.recv()).await {
                earliest = earliest.min(next.close_ms);
                gather(&mut batch, next);
            }
            self.rescan(batch, earliest).await;
        }
    }

    async fn rescan(&self, batch: BTreeMap<(Exchange, String), Arrived>, earliest_close: i64) {
        let symbols: std::collections::BTreeSet<(Exchange, String)> =
            batch.keys().cloned().collect();
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
            arrived: batch.into_values().collect(),
        });
    }
}

/// Adds an arrival to a batch: a symbol once, with its newest close (and
/// how that one came).
fn gather(batch: &mut BTreeMap<(Exchange, String), Arrived>, arrival: Arrival) {
    let arrived = Arrived {
        key: arrival.key.clone(),
        close_ms: arrival.close_ms,
        delivery: arrival.delivery,
    };
    match batch.get_mut(&arrival.key) {
        Some(known) if known.close_ms >= arrival.close_ms => {}
        Some(known) => *known = arrived,
        None => {
            batch.insert(arrival.key, arrived);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::DataPaths;
    use crate::settings::Environment;
    use quantpro_core::synthetic::{generate_dataset, generate_series, SyntheticSpec};
    use std::path::Path;

    /// 2026-03-02 08:00 UTC, on the 4h grid.
    const T0: i64 = 1_772_438_400_000;

    /// A coordinator over a pipeline whose data directory holds the
    /// candles of `symbols` synthetic BINANCE symbols, what it announces,
    /// and the symbols' names.
    fn coordinator(
        dir: &Path,
        symbols: usize,
    ) -> (Coordinator, broadcast::Receiver<Rescan>, Vec<String>) {
        let clock = Clock::starting_at(T0, 1.0);
        let data_dir = dir.join("data");
        let spec = SyntheticSpec {
            n_symbols: symbols,
            n_15m: 400,
            n_4h: 60,
            end_ms: T0,
            ..SyntheticSpec::default()
        };
        if symbols > 0 {
            generate_dataset(&data_dir, &spec).unwrap();
        }
        let names = (0..symbols)
            .map(|index| generate_series(&spec, index).symbol)
            .collect();
        let paths = DataPaths {
            feed_path: data_dir.join("master_feed.json"),
            data_dir,
            config_path: dir.join("quantpro.toml"),
        };
        let pipeline = ScanPipeline::build(paths, Environment::default())
            .unwrap()
            .with_clock(clock);
        let (rescans, announced) = broadcast::channel(8);
        (
            Coordinator::new(Arc::new(pipeline), clock, rescans),
            announced,
            names,
        )
    }

    fn arrival(symbol: &str, close_ms: i64) -> Arrival {
        Arrival {
            key: (Exchange::Binance, symbol.to_string()),
            close_ms,
            delivery: Delivery::Stream,
        }
    }

    fn symbols(rescan: &Rescan) -> Vec<&str> {
        rescan.symbols.iter().map(|(_, s)| s.as_str()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn arrivals_within_the_gather_window_are_rescanned_together() {
        let dir = tempfile::tempdir().unwrap();
        let (coordinator, mut announced, names) = coordinator(dir.path(), 2);
        let (arrivals, received) = mpsc::channel(16);
        let task = tokio::spawn(coordinator.coordinate(received));

        // The second symbol's close is the older: the batch's latency
        // counts from it.
        arrivals.send(arrival(&names[0], T0 - 2_000)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        arrivals.send(arrival(&names[1], T0 - 5_000)).await.unwrap();
        let first = announced.recv().await.unwrap();
        assert_eq!(symbols(&first), names);
        assert_eq!(
            first.last_updated,
            T0 + 200 + 250,
            "rescanned once the window after the last arrival passed"
        );
        assert_eq!(first.latency_ms, 5_000 + 200 + 250);

        // An arrival after the window is the next batch.
        arrivals.send(arrival(&names[0], T0)).await.unwrap();
        drop(arrivals);
        task.await.unwrap();
        let second = announced.recv().await.unwrap();
        assert_eq!(symbols(&second), [names[0].as_str()]);
        assert!(announced.try_recv().is_err(), "two rescans");
    }

    #[tokio::test(start_paused = true)]
    async fn what_arrived_before_the_venues_stopped_is_still_rescanned() {
        let dir = tempfile::tempdir().unwrap();
        let (coordinator, mut announced, _) = coordinator(dir.path(), 0);
        let (arrivals, received) = mpsc::channel(16);
        arrivals.send(arrival("BTCUSDT", T0 - 1_000)).await.unwrap();
        drop(arrivals);

        coordinator.coordinate(received).await;
        let rescan = announced.try_recv().unwrap();
        assert_eq!(symbols(&rescan), ["BTCUSDT"]);
        assert_eq!(
            (rescan.last_updated, rescan.resolved.len()),
            (0, 0),
            "nothing to scan: the rescan failed"
        );
        assert_eq!(rescan.latency_ms, 1_000);
    }
}
