//! The types every layer of QuantPro shares, in the browser and on the
//! server: the candle, the signal with its trade setup and score breakdown,
//! the master feed that carries them, the scanner configuration, the track
//! record of STRATEGIES.md §6, and the dashboard's wire types (the table's
//! rows and view, the detail panel's parts, the configuration form, who is
//! asking).
//!
//! These are the JSON contract of `docs/SIGNAL.md` and
//! `docs/STRATEGIES.md`: the scanner core (`quantpro-core`) produces them,
//! the service and the server serve them, the UI renders them. This crate
//! depends on serde alone, so the WASM build compiles it as it is.
//!
//! ```text
//! model -> core / sources -> service -> app (server + browser)
//! ```

pub mod atomic_file;
mod candle;
mod classes;
mod config;
mod dashboard;
mod enums;
pub mod external;
mod feed;
pub mod format;
mod freshness;
mod live;
mod market;
mod scan_job;
mod signal;
mod table;
mod track;
mod visitor;

// Hand-written signals and trades for the unit tests of every crate. Always
// compiled (a test-only feature would give the tests a second build of every
// crate above this one); nothing else calls it, so no binary carries it.
#[doc(hidden)]
pub mod fixtures;

pub use candle::Candle;
pub use classes::*;
pub use config::*;
pub use dashboard::*;
pub use enums::*;
pub use feed::*;
pub use freshness::*;
pub use live::*;
pub use market::{Market, UnknownMarket};
pub use scan_job::*;
pub use signal::*;
pub use table::*;
pub use track::*;
pub use visitor::*;

/// File in a data directory that marks its candles as generated, not market data.
pub const SYNTHETIC_MARKER: &str = "SYNTHETIC";

/// The master feed's file name in a data directory (the default `--feed`).
pub const FEED_FILE: &str = "master_feed.json";

/// The signal-quality model in force in a data directory
/// (`quantpro model train` writes it; docs/QUALITY.md).
pub const QUALITY_MODEL_FILE: &str = "quality_model.json";

/// A paper trading account's file in a data directory: `paper-BINANCE.json`.
pub fn paper_account_file(exchange: Exchange) -> String {
    format!("paper-{}.json", exchange.as_str())
}

/// Wall-clock time in Unix milliseconds: what the pipeline's `Clock`
/// (`quantpro_sources::clock`) starts from at real pace, and what the
/// scanner core judges candles against when its caller names no time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
