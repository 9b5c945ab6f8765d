//! A small JSON cache on disk with a time-to-live (Coinalyze symbols and responses,
//! CoinGecko markets), so repeated scans within the TTL cost no requests.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// JSON values stored under string keys in one directory, each valid for
/// `ttl` after it was written. A missing, expired, unreadable or foreign
/// entry is a miss, never an error: the cache only saves requests.
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
    ttl: Duration,
}

#[derive(Serialize, Deserialize)]
struct Entry<T> {
    key: String,
    stored_at_ms: i64,
    value: T,
}

impl DiskCache {
    pub fn new(dir: impl Into<PathBuf>, ttl: Duration) -> DiskCache {
        DiskCache {
            dir: dir.into(),
            ttl,
        }
    }

    /// The value stored under `key` if it is younger than the TTL.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.get_at(key, quantpro_model::now_ms())
    }

    /// [`DiskCache::get`] as seen at `now_ms`.
    pub fn get_at<T: DeserializeOwned>(&self, key: &str, now_ms: i64) -> Option<T> {
        let text = std::fs::read(self.path_of(key)).ok()?;
        let entry: Entry<T> = serde_json::from_slice(&text).ok()?;
        let age_ms = now_ms.saturating_sub(entry.stored_at_ms);
        let fresh = age_ms >= 0 && (age_ms as u128) < self.ttl.as_millis();
        (entry.key == key && fresh).then_some(entry.value)
    }

    /// Stores `value` under `key`, stamped with the current time.
    pub fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<(), super::SourceError> {
        self.put_at(key, value, quantpro_model::now_ms())
    }

    /// [`DiskCache::put`] stamped with `now_ms`.
    pub fn put_at<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        now_ms: i64,
    ) -> Result<(), super::SourceError> {
        let path = self.path_of(key);
        let entry = Entry {
            key: key.to_string(),
            stored_at_ms: now_ms,
            value,
        };
        let bytes = serde_json::to_vec(&entry).map_err(|e| super::SourceError::Io {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let io = |source| super::SourceError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        quantpro_model::atomic_file::write_atomic(&path, &bytes).map_err(|e| io(e.source))
    }

    /// File of a key: a hash, because keys hold commas, dots and long symbol
    /// lists; the key is stored inside and checked on read.
    fn path_of(&self, key: &str) -> PathBuf {
        self.dir
            .join(format!("{:016x}.json", fnv1a64(key.as_bytes())))
    }
}

/// FNV-1a: stable across runs and Rust versions, unlike `DefaultHasher`.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_honours_ttl_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path(), Duration::from_secs(3600));
        cache.put_at("a|b", &vec![1.5, 2.5], 1_000_000).unwrap();
        assert_eq!(
            cache.get_at::<Vec<f64>>("a|b", 1_000_000 + 3_599_999),
            Some(vec![1.5, 2.5])
        );
        assert_eq!(
            cache.get_at::<Vec<f64>>("a|b", 1_000_000 + 3_600_000),
            None,
            "expired at the TTL"
        );
        assert_eq!(cache.get_at::<Vec<f64>>("a|c", 1_000_001), None);
        assert_eq!(
            cache.get_at::<String>("a|b", 1_000_001),
            None,
            "wrong type is a miss"
        );
    }

    #[test]
    fn fnv_is_the_reference_hash() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
    }
}
