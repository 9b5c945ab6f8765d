//! The live market: `quantpro serve` (with a universe) and `quantpro watch`
//! keep every symbol of a universe current by themselves and rescan at each
//! 15m close.
//!
//! Flow: `runner` runs one loop per market: `universe` picks its symbols
//! from the listings, `backfill` brings their series into the one candle
//! store (`quantpro_core::candles::store`: the data directory the scanner
//! reads, never with a hole), `closes` follows the market's stream of
//! closes and checks each interval's close, `repair` fetches what the
//! stream missed on a worker of its own (REST waits never hold the stream
//! up), and `coordinator` rescans
//! the symbols that got new candles through the one
//! `pipeline::ScanPipeline`; `status` publishes what the dashboard's status
//! line shows. A [`LiveMarket`] is an exchange market
//! (`exchange_market`, over `quantpro_sources`) or the built-in `simulated`
//! market, the embedded default. The pipeline's `Clock` runs at real pace,
//! faster for demos, and on tokio's (virtual, in tests) time.

mod backfill;
mod closes;
mod coordinator;
pub mod exchange_market;
pub mod market;
mod repair;
mod repairing;
mod runner;
#[cfg(test)]
mod scripted;
pub mod simulated;
mod spent_weight;
pub mod status;
pub mod universe;
mod universe_refresh;

pub use coordinator::{Arrived, Delivery, Rescan};
pub use market::{CloseEvent, Listing, LiveMarket};
pub use quantpro_sources::clock::Clock;
pub use runner::LiveLoop;

use crate::pipeline::ScanPipeline;
use crate::settings::{UniverseMarket, UniverseSettings};
use std::sync::Arc;

/// Why the live loop cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LiveSetupError {
    #[error("[universe]: {0}")]
    Universe(String),
    #[error("cannot reach {exchange} {market:?}: {source}")]
    Exchange {
        exchange: quantpro_model::Exchange,
        market: quantpro_model::Market,
        #[source]
        source: quantpro_sources::SourceError,
    },
    #[error("cannot prepare the simulated market in {path}: {source}")]
    Simulation {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LiveLoop {
    /// The loop of `universe` over the pipeline's data directory, judging
    /// time by the pipeline's clock.
    pub fn build(
        pipeline: Arc<ScanPipeline>,
        universe: UniverseSettings,
    ) -> Result<LiveLoop, LiveSetupError> {
        let clock = pipeline.clock();
        let data_dir = pipeline.paths().data_dir.clone();
        let mut venues: Vec<Arc<dyn LiveMarket>> = Vec::new();
        let mut simulated = false;
        for market in universe
            .parsed_markets()
            .map_err(|e| LiveSetupError::Universe(e.to_string()))?
        {
            match market {
                UniverseMarket::Simulated => {
                    simulated = true;
                    let history = universe.ltf_history.max(universe.htf_history * 16);
                    let anchor = simulated::SimulationAnchor::load_or_create(
                        &data_dir,
                        universe.simulated_symbols,
                        history,
                        clock.now_ms(),
                    )
                    .map_err(|source| LiveSetupError::Simulation {
                        path: data_dir.clone(),
                        source,
                    })?;
                    for venue in simulated::SimulatedMarket::all(anchor, clock) {
                        venues.push(Arc::new(venue));
                    }
                }
                UniverseMarket::Exchange(exchange, market) => {
                    let venue = exchange_market::ExchangeMarket::new(
                        pipeline.sources(),
                        exchange,
                        market,
                        clock,
                    )
                    .map_err(|source| LiveSetupError::Exchange {
                        exchange,
                        market,
                        source,
                    })?;
                    venues.push(Arc::new(venue));
                }
            }
        }
        if venues.is_empty() {
            return Err(LiveSetupError::Universe(
                "no market to follow: set 'universe.markets'".into(),
            ));
        }
        Ok(LiveLoop::new(pipeline, venues, clock, universe, simulated))
    }
}
