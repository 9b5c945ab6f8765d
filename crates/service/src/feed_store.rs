//! Reads the master feed file for the server, caching the parsed feed and
//! its JSON bytes until the file changes (the scanner replaces it by rename,
//! so a reader sees either the old or the new feed, never half of one).
//!
//! `/api/results` is the hottest route: a cached snapshot serves it without
//! parsing or serializing, per exchange filter and gzip-compressed too.

use bytes::Bytes;
use http::HeaderValue;
use quantpro_model::{Exchange, FeedError, MasterFeed};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::SystemTime;

/// Why the feed could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum FeedLoadError {
    #[error("No master feed at {0}: run a scan to create it.")]
    Missing(PathBuf),
    /// No feed file yet, but the server's live loop (or a scan job) is
    /// writing the first one: a client retries in a few seconds.
    #[error("Warming up: the first scan of the market is running; retry in a few seconds.")]
    WarmingUp(PathBuf),
    #[error("Cannot read the master feed {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("The master feed {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: FeedError,
    },
}

impl FeedLoadError {
    /// Seconds a client waits before asking again while the server warms up.
    pub const WARM_UP_RETRY_SECS: u32 = 3;

    /// `Missing` as `WarmingUp` when `first_feed_under_way()` says the
    /// first feed is being made (asked only for a missing file); any other
    /// error as it is.
    pub fn warming_up_if(self, first_feed_under_way: impl FnOnce() -> bool) -> FeedLoadError {
        match self {
            FeedLoadError::Missing(path) if first_feed_under_way() => {
                FeedLoadError::WarmingUp(path)
            }
            other => other,
        }
    }

    pub fn is_warming_up(&self) -> bool {
        matches!(self, FeedLoadError::WarmingUp(_))
    }
}

/// A parsed feed with its canonical JSON, shared by all readers.
#[derive(Debug)]
pub struct FeedSnapshot {
    pub feed: MasterFeed,
    /// The feed serialized once, served as is by `/api/results`.
    pub json: Arc<str>,
    /// Response bodies, built on first use: index 0 the whole feed, then one
    /// per `Exchange::ALL` entry.
    bodies: [OnceLock<FeedBody>; 1 + Exchange::ALL.len()],
}

/// One `/api/results` answer, plain and gzip-compressed, with the entity
/// tag that lets a polling client revalidate it without downloading it.
#[derive(Debug, Clone)]
pub struct FeedBody {
    pub json: Bytes,
    pub gzip: Bytes,
    pub etag: HeaderValue,
}

impl FeedSnapshot {
    pub fn new(feed: MasterFeed) -> FeedSnapshot {
        let json: Arc<str> = feed.to_json().into();
        FeedSnapshot {
            feed,
            json,
            bodies: Default::default(),
        }
    }

    /// The feed, or only the signals of `source`, as a response body.
    pub fn body(&self, source: Option<Exchange>) -> &FeedBody {
        let slot = match source {
            None => 0,
            Some(exchange) => {
                1 + Exchange::ALL
                    .iter()
                    .position(|e| *e == exchange)
                    .unwrap_or(0)
            }
        };
        self.bodies[slot].get_or_init(|| {
            let json = match source {
                None => self.json.as_bytes().to_vec(),
                Some(exchange) => MasterFeed {
                    last_updated: self.feed.last_updated,
                    signals: self
                        .feed
                        .signals
                        .iter()
                        .filter(|s| s.exchange == exchange)
                        .cloned()
                        .collect(),
                }
                .to_json()
                .into_bytes(),
            };
            FeedBody {
                gzip: gzip(&json).into(),
                etag: entity_tag(&json),
                json: json.into(),
            }
        })
    }
}

/// A weak tag (`W/"<crc32>-<length>"`) of the JSON text: weak because the
/// plain and the gzip answer carry the same one (same content, two
/// encodings), which is what weak comparison in `If-None-Match` is for.
fn entity_tag(json: &[u8]) -> HeaderValue {
    let mut crc = flate2::Crc::new();
    crc.update(json);
    HeaderValue::from_str(&format!("W/\"{:08x}-{:x}\"", crc.sum(), json.len()))
        .expect("hex digits are a valid header value")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// What identifies one version of the feed file: the scanner renames a new
/// file into place, so the inode changes even when the mtime's resolution
/// hides the change and the length happens to be equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: SystemTime,
    len: u64,
    inode: u64,
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> FileStamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        FileStamp {
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            len: meta.len(),
            inode,
        }
    }
}

pub struct FeedStore {
    path: PathBuf,
    cache: RwLock<Option<(FileStamp, Arc<FeedSnapshot>)>>,
}

impl FeedStore {
    pub fn new(path: PathBuf) -> Self {
        FeedStore {
            path,
            cache: RwLock::new(None),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Forgets the cached feed: the next `load` reads the file again. Called
    /// after a scan wrote it, so no stamp comparison can miss the change.
    pub fn invalidate(&self) {
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The current feed; re-parsed only when the file's stamp changed.
    pub async fn load(&self) -> Result<Arc<FeedSnapshot>, FeedLoadError> {
        let stamp = self.stamp()?;
        if let Some((cached_stamp, snapshot)) = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            if *cached_stamp == stamp {
                return Ok(snapshot.clone());
            }
        }
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .map_err(|source| self.io_error(source))?;
        let feed = MasterFeed::parse(&text).map_err(|source| FeedLoadError::Corrupt {
            path: self.path.clone(),
            source,
        })?;
        let snapshot = Arc::new(FeedSnapshot::new(feed));
        // The stamp taken before the read: if the file was replaced meanwhile,
        // the next load sees a different stamp and reads it again.
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Some((stamp, snapshot.clone()));
        Ok(snapshot)
    }

    /// A `stat` of the feed file. Synchronous on purpose: it takes a few
    /// microseconds, far less than a hop to the blocking pool, and runs on
    /// every `/api/results` request.
    fn stamp(&self) -> Result<FileStamp, FeedLoadError> {
        let meta = std::fs::metadata(&self.path).map_err(|source| self.io_error(source))?;
        Ok(FileStamp::of(&meta))
    }

    fn io_error(&self, source: std::io::Error) -> FeedLoadError {
        if source.kind() == std::io::ErrorKind::NotFound {
            FeedLoadError::Missing(self.path.clone())
        } else {
            FeedLoadError::Unreadable {
                path: self.path.clone(),
                source,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_core::feed_writer::write_feed;
    use quantpro_model::Strategy;

    fn feed(last_updated: i64) -> MasterFeed {
        let mut signals = Vec::new();
        for (i, exchange) in Exchange::ALL.iter().enumerate() {
            let mut signal =
                quantpro_model::fixtures::sample_signal(&format!("S{i}USDT"), Strategy::Legacy);
            signal.exchange = *exchange;
            signals.push(signal);
        }
        MasterFeed {
            last_updated,
            signals,
        }
    }

    #[tokio::test]
    async fn rereads_a_replaced_file_and_filters_by_exchange() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master_feed.json");
        let store = FeedStore::new(path.clone());
        assert!(matches!(store.load().await, Err(FeedLoadError::Missing(_))));
        write_feed(&path, &feed(1)).unwrap();
        let first = store.load().await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &store.load().await.unwrap()),
            "cached while unchanged"
        );
        // Same length, possibly the same mtime: the new inode still shows the change.
        write_feed(&path, &feed(2)).unwrap();
        assert_eq!(store.load().await.unwrap().feed.last_updated, 2);

        let snapshot = store.load().await.unwrap();
        let all: MasterFeed = serde_json::from_slice(&snapshot.body(None).json).unwrap();
        assert_eq!(all, snapshot.feed);
        for &exchange in Exchange::ALL {
            let only: MasterFeed =
                serde_json::from_slice(&snapshot.body(Some(exchange)).json).unwrap();
            assert_eq!(only.signals.len(), 1);
            assert_eq!(only.signals[0].exchange, exchange);
        }
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&snapshot.body(None).gzip[..]),
            &mut plain,
        )
        .unwrap();
        assert_eq!(plain, snapshot.body(None).json);
    }

    #[test]
    fn only_a_missing_feed_warms_up_and_only_while_one_is_being_made() {
        let missing = || FeedLoadError::Missing(PathBuf::from("master_feed.json"));
        let warming = missing().warming_up_if(|| true);
        assert!(warming.is_warming_up());
        assert!(warming
            .to_string()
            .starts_with("Warming up: the first scan"));
        let idle = missing().warming_up_if(|| false);
        assert!(!idle.is_warming_up());
        assert!(idle.to_string().contains("run a scan"), "{idle}");
        let unreadable = FeedLoadError::Unreadable {
            path: PathBuf::from("master_feed.json"),
            source: std::io::Error::other("denied"),
        };
        assert!(!unreadable.warming_up_if(|| true).is_warming_up());
    }

    #[tokio::test]
    async fn invalidate_forces_a_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master_feed.json");
        let store = FeedStore::new(path.clone());
        write_feed(&path, &feed(1)).unwrap();
        let first = store.load().await.unwrap();
        store.invalidate();
        let second = store.load().await.unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
        assert_eq!(first.feed, second.feed);
    }
}
