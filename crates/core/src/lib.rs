//! The scanner core: candles -> indicators -> context -> strategies -> master
//! feed. Knows nothing of HTTP or Leptos.
//!
//! `scan::run_scan` drives the flow: `candles` lists and loads the data
//! directory, `context` builds each symbol's `SharedContext` with the
//! `indicators`, `strategies` (with `setup`) turn it into three signals, and
//! `feed_writer` writes the master feed atomically (`feed_merge` decides
//! whether a scan replaces it or updates only the symbols it scanned);
//! `bench` and `synthetic` measure the whole thing. `backtest` replays the
//! same strategies over history, and `track` turns their signals into
//! trades, outcomes and statistics (STRATEGIES.md §6).

pub mod backtest;
pub mod bench;
pub mod candles;
pub mod context;
pub mod feed_merge;
pub mod feed_writer;
pub mod indicator_export;
pub mod indicators;
pub mod quality;
pub mod scan;
pub mod setup;
pub mod strategies;
pub mod synthetic;
pub mod track;
