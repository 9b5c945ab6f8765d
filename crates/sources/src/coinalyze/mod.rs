//! Coinalyze: open interest, funding, long/short ratio and liquidations of
//! the scanned symbols, turned into the core's `ExternalDataMap`.
//!
//! `resolver` maps a local symbol to its Coinalyze perp, `client` makes one
//! call through the shared loop, waiting on the governor's Coinalyze gate
//! (40 symbol-calls per minute, charged per symbol, the same budget for
//! every scan of the process), `cache` keeps batch responses for an hour, and `batch`
//! (`BatchProcessor::process_symbols`) ties them into one scan step that never
//! fails the scan: without a key or on API failure the data is just absent.
//! `synthetic` simulates the same histories from the simulated market's
//! candles, for the embedded default (no key, no network).

pub mod batch;
pub mod cache;
pub mod client;
pub mod resolver;
pub mod synthetic;

pub use batch::BatchProcessor;
pub use client::{CoinalyzeClient, HistoryBar, HistoryEndpoint, SymbolHistory};
pub use resolver::{CoinalyzeResolver, Resolution, ResolutionKind};

use super::http::RetryPolicy;
use super::keys::Secret;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.coinalyze.net/v1";

/// Everything the Coinalyze layer can be tuned with; its quota is the
/// governor's (`HostLimits::documented(Host::Coinalyze)`).
#[derive(Debug, Clone)]
pub struct CoinalyzeConfig {
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// Root of the on-disk caches (`resolver/` and `responses/` below it).
    pub cache_dir: PathBuf,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    /// Symbols per request (Coinalyze accepts at most 20).
    pub batch_size: usize,
    /// Hours of hourly history requested (the OI z-score needs 24 closes).
    pub history_hours: u32,
    pub resolver_ttl: Duration,
    pub response_ttl: Duration,
    /// OI in USD instead of the market's own unit. Off: the z-score then
    /// measures positioning, not positioning times price.
    pub oi_in_usd: bool,
}

impl CoinalyzeConfig {
    pub fn new(api_key: Option<Secret>, cache_dir: impl Into<PathBuf>) -> CoinalyzeConfig {
        CoinalyzeConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_key,
            cache_dir: cache_dir.into(),
            retry: RetryPolicy {
                max_tries: 3,
                backoff_base: Duration::from_secs(1),
                max_retry_after: Duration::from_secs(300),
            },
            timeout: Duration::from_secs(30),
            batch_size: client::MAX_SYMBOLS_PER_REQUEST,
            history_hours: 48,
            resolver_ttl: Duration::from_secs(13 * 3600),
            response_ttl: Duration::from_secs(3600),
            oi_in_usd: false,
        }
    }

    /// Symbols per request: at most 20, and never more than the quota
    /// allows in one window (`per_window`; a larger request could never be sent).
    pub fn effective_batch_size(&self, per_window: u32) -> usize {
        self.batch_size
            .clamp(1, client::MAX_SYMBOLS_PER_REQUEST)
            .min(per_window.max(1) as usize)
    }
}
