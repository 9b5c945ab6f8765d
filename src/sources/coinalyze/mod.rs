//! Coinalyze: open interest, funding, long/short ratio and liquidations of
//! the scanned symbols, turned into the core's `ExternalDataMap`.
//!
//! `resolver` maps a local symbol to its Coinalyze perp, `quota` keeps the
//! client under 40 symbol-calls per minute, `client` makes one gated and
//! retried call, `cache` keeps batch responses for an hour, and `batch`
//! (`BatchProcessor::process_symbols`) ties them into one scan step that never
//! fails the scan: without a key or on API failure the data is just absent.

pub mod batch;
pub mod cache;
pub mod client;
pub mod quota;
pub mod resolver;

pub use batch::BatchProcessor;
pub use client::{CoinalyzeClient, HistoryBar, HistoryEndpoint, SymbolHistory};
pub use resolver::{CoinalyzeResolver, Resolution, ResolutionKind};

use super::http::RetryPolicy;
use super::keys::Secret;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.coinalyze.net/v1";

/// Everything the Coinalyze layer can be tuned with; `new` gives the
/// documented limits. Tests shrink the quota window and spacing together.
#[derive(Debug, Clone)]
pub struct CoinalyzeConfig {
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// Root of the on-disk caches (`resolver/` and `responses/` below it).
    pub cache_dir: PathBuf,
    /// Symbol-calls allowed per `quota_window` (Coinalyze: 40 per minute).
    pub quota_per_window: u32,
    pub quota_window: Duration,
    /// Least time between the starts of two requests.
    pub min_spacing: Duration,
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
            quota_per_window: 40,
            quota_window: Duration::from_secs(60),
            min_spacing: Duration::from_millis(1500),
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
    /// allows in one window (a larger request could never be sent).
    pub fn effective_batch_size(&self) -> usize {
        self.batch_size
            .clamp(1, client::MAX_SYMBOLS_PER_REQUEST)
            .min(self.quota_per_window.max(1) as usize)
    }
}
