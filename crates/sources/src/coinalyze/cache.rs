//! Coinalyze batch responses on disk for an hour: a rescan inside the hour
//! reuses them and spends no quota. The key names everything that shapes a
//! response: endpoint, symbols, interval, units and the hour the range ends in.

use super::client::{HistoryEndpoint, HistoryRange, SymbolHistory};
use crate::disk::DiskCache;
use std::path::Path;
use std::time::Duration;

/// The identity of one batch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchKey(String);

impl BatchKey {
    /// `range.to` is bucketed by the TTL, so a range that slides by seconds
    /// between two scans still hits the same entry.
    pub fn new(
        endpoint: HistoryEndpoint,
        symbols: &[String],
        range: HistoryRange,
        usd: bool,
        ttl: Duration,
    ) -> BatchKey {
        let bucket_secs = ttl.as_secs().max(1) as i64;
        let span = range.to - range.from;
        BatchKey(format!(
            "{}|{}|span={span}|bucket={}|usd={usd}|{}",
            endpoint.path(),
            range.interval,
            range.to.div_euclid(bucket_secs),
            symbols.join(",")
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Batch responses kept for `ttl` (1 h by default).
#[derive(Debug, Clone)]
pub struct ResponseCache {
    disk: DiskCache,
    ttl: Duration,
}

impl ResponseCache {
    pub fn new(dir: &Path, ttl: Duration) -> ResponseCache {
        ResponseCache {
            disk: DiskCache::new(dir, ttl),
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn get(&self, key: &BatchKey) -> Option<Vec<SymbolHistory>> {
        self.disk.get(key.as_str())
    }

    /// Stores a response; a failed write only costs a future request, so it
    /// is logged, not returned.
    pub fn put(&self, key: &BatchKey, response: &[SymbolHistory]) {
        if let Err(e) = self.disk.put(key.as_str(), &response) {
            tracing::warn!("[BATCH] could not cache a Coinalyze response: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_buckets_the_range_end_by_the_ttl() {
        let symbols = vec!["BTCUSDT_PERP.A".to_string(), "ETHUSDT_PERP.A".to_string()];
        let hour = Duration::from_secs(3600);
        let at = |to: i64| HistoryRange {
            interval: "1hour",
            from: to - 48 * 3600,
            to,
        };
        let a = BatchKey::new(
            HistoryEndpoint::OpenInterest,
            &symbols,
            at(7200),
            false,
            hour,
        );
        let b = BatchKey::new(
            HistoryEndpoint::OpenInterest,
            &symbols,
            at(10799),
            false,
            hour,
        );
        let c = BatchKey::new(
            HistoryEndpoint::OpenInterest,
            &symbols,
            at(10800),
            false,
            hour,
        );
        let d = BatchKey::new(
            HistoryEndpoint::FundingRate,
            &symbols,
            at(7200),
            false,
            hour,
        );
        let e = BatchKey::new(
            HistoryEndpoint::OpenInterest,
            &symbols[..1],
            at(7200),
            false,
            hour,
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_ne!(a, e);
        assert!(a.as_str().contains("BTCUSDT_PERP.A,ETHUSDT_PERP.A"));
    }
}
