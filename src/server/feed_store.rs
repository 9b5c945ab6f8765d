//! Reads the master feed file for the server, caching the parsed feed and
//! its JSON bytes until the file changes (the scanner replaces it by rename,
//! so a reader sees either the old or the new feed, never half of one).

use crate::model::{FeedError, MasterFeed};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// Why the feed could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum FeedLoadError {
    #[error("No master feed at {0}: run a scan to create it.")]
    Missing(PathBuf),
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

/// A parsed feed with its canonical JSON, shared by all readers.
#[derive(Debug)]
pub struct FeedSnapshot {
    pub feed: MasterFeed,
    /// The feed serialized once, served as is by `/api/results`.
    pub json: Arc<str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: SystemTime,
    len: u64,
}

pub struct FeedStore {
    path: PathBuf,
    cache: RwLock<Option<(FileStamp, Arc<FeedSnapshot>)>>,
}

impl FeedStore {
    pub fn new(path: PathBuf) -> Self {
        FeedStore { path, cache: RwLock::new(None) }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The current feed; re-parsed only when the file's stamp changed.
    pub async fn load(&self) -> Result<Arc<FeedSnapshot>, FeedLoadError> {
        let stamp = self.stamp().await?;
        if let Some((cached_stamp, snapshot)) = self.cache.read().expect("feed cache lock").as_ref() {
            if *cached_stamp == stamp {
                return Ok(snapshot.clone());
            }
        }
        let text = tokio::fs::read_to_string(&self.path).await.map_err(|source| self.io_error(source))?;
        let feed = MasterFeed::parse(&text)
            .map_err(|source| FeedLoadError::Corrupt { path: self.path.clone(), source })?;
        let json: Arc<str> = feed.to_json().into();
        let snapshot = Arc::new(FeedSnapshot { feed, json });
        *self.cache.write().expect("feed cache lock") = Some((stamp, snapshot.clone()));
        Ok(snapshot)
    }

    async fn stamp(&self) -> Result<FileStamp, FeedLoadError> {
        let meta = tokio::fs::metadata(&self.path).await.map_err(|source| self.io_error(source))?;
        Ok(FileStamp { modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), len: meta.len() })
    }

    fn io_error(&self, source: std::io::Error) -> FeedLoadError {
        if source.kind() == std::io::ErrorKind::NotFound {
            FeedLoadError::Missing(self.path.clone())
        } else {
            FeedLoadError::Unreadable { path: self.path.clone(), source }
        }
    }
}
