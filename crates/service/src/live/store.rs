//! The live loop's candle store: the `{SYMBOL}_{EXCHANGE}_{INTERVAL}.json`
//! files the scanner reads, kept in memory too so a close appends one
//! candle instead of re-reading a file. Every change follows
//! `core::candles::series` (no holes, revisions reported) and is written
//! atomically (`flush`, before the scanner reads them); a write that fails
//! (a full disk) leaves the old file whole, keeps the candles in memory and
//! is retried at the next flush.

use quantpro_core::candles::series::{extend_series, newest_contiguous_run, trim_to, Extension};
use quantpro_core::candles::{load_candle_file, Candle, CandleFileName, CandleFormat};
use quantpro_model::atomic_file::write_atomic;
use quantpro_model::{Exchange, Interval};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One stored series.
pub type SeriesKey = (Exchange, String, Interval);

pub struct CandleStore {
    dir: PathBuf,
    series: HashMap<SeriesKey, Vec<Candle>>,
    /// Series whose file is behind memory (a write failed).
    unwritten: Vec<SeriesKey>,
}

/// A file that could not be written; the candles stay in memory.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

impl CandleStore {
    pub fn new(dir: impl Into<PathBuf>) -> CandleStore {
        CandleStore {
            dir: dir.into(),
            series: HashMap::new(),
            unwritten: Vec::new(),
        }
    }

    pub fn path_of(dir: &Path, key: &SeriesKey) -> PathBuf {
        let name = CandleFileName {
            symbol: key.1.clone(),
            exchange: key.0,
            interval: key.2,
            format: CandleFormat::Json,
        };
        dir.join(name.file_name())
    }

    /// The stored series (read from its file the first time). A file that
    /// is corrupt is reported and treated as empty (it is rewritten by the
    /// next backfill, never appended to); a stored series with a hole keeps
    /// its newest contiguous run, and the hole is logged.
    pub fn series(&mut self, key: &SeriesKey) -> &[Candle] {
        if !self.series.contains_key(key) {
            let loaded = self.read(key);
            self.series.insert(key.clone(), loaded);
        }
        &self.series[key]
    }

    fn read(&self, key: &SeriesKey) -> Vec<Candle> {
        let path = CandleStore::path_of(&self.dir, key);
        if !path.exists() {
            return Vec::new();
        }
        // Stored candles are closed: none is judged open here.
        let candles = match load_candle_file(&path, Some(key.2), i64::MAX) {
            Ok(loaded) => loaded.candles,
            Err(err) => {
                tracing::warn!("[STORE] {err}; the series is fetched again");
                return Vec::new();
            }
        };
        let run = newest_contiguous_run(&candles, key.2);
        if run.len() < candles.len() {
            tracing::warn!(
                "[STORE] {} has a hole before {}: keeping the {} candles after it",
                path.display(),
                run.first().map_or(0, |c| c.t),
                run.len()
            );
        }
        run.to_vec()
    }

    /// Applies `change` to the series in memory and trims it to `keep`
    /// candles; when it changed, its file is due (see `flush`).
    pub fn update(
        &mut self,
        key: &SeriesKey,
        keep: usize,
        change: impl FnOnce(&mut Vec<Candle>) -> bool,
    ) -> bool {
        self.series(key);
        let series = self.series.get_mut(key).expect("loaded above");
        let changed = change(series);
        if changed {
            trim_to(series, keep);
            if !self.unwritten.contains(key) {
                self.unwritten.push(key.clone());
            }
        }
        changed
    }

    /// Adds closed candles (see `extend_series`) in memory.
    pub fn extend(&mut self, key: &SeriesKey, candles: &[Candle], keep: usize) -> Extension {
        let mut extension = Extension::default();
        self.update(key, keep, |series| {
            extension = extend_series(series, candles, key.2);
            extension.added > 0 || !extension.revised.is_empty()
        });
        extension
    }

    /// Writes the files of every changed series (off the async workers), so
    /// the scanner reads what memory holds. A failed write keeps its series
    /// due for the next flush; the first failure is returned.
    pub async fn flush(&mut self) -> Result<(), StoreError> {
        if self.unwritten.is_empty() {
            return Ok(());
        }
        let jobs: Vec<(SeriesKey, PathBuf, Vec<u8>)> = self
            .unwritten
            .iter()
            .map(|key| {
                let json = serde_json::to_vec(&self.series[key]).unwrap_or_default();
                (key.clone(), CandleStore::path_of(&self.dir, key), json)
            })
            .collect();
        let dir = self.dir.clone();
        let results = tokio::task::spawn_blocking(move || {
            let made = std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()));
            jobs.into_iter()
                .map(|(key, path, json)| {
                    let written = made
                        .clone()
                        .and_then(|()| write_atomic(&path, &json).map_err(|e| e.to_string()));
                    (key, written)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| StoreError(format!("the candle writer stopped: {e}")))?;
        let mut first_error = None;
        for (key, written) in results {
            match written {
                Ok(()) => self.unwritten.retain(|k| *k != key),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(StoreError(e)),
        }
    }

    /// The newest stored open time of a series.
    pub fn last_open(&mut self, key: &SeriesKey) -> Option<i64> {
        self.series(key).last().map(|c| c.t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(i: i64) -> Candle {
        Candle {
            t: i * 900_000,
            o: 1.0,
            h: 1.0,
            l: 1.0,
            c: 1.0,
            v: 1.0,
        }
    }

    #[tokio::test]
    async fn a_series_is_read_once_extended_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = (Exchange::Binance, "BTCUSDT".to_string(), Interval::M15);
        let mut store = CandleStore::new(dir.path());
        assert!(store.series(&key).is_empty());
        store.extend(&key, &[candle(1), candle(2)], 10);
        let out = store.extend(&key, &[candle(5)], 10);
        assert!(out.gap.is_some());
        store.flush().await.unwrap();
        let mut again = CandleStore::new(dir.path());
        assert_eq!(again.series(&key), &[candle(1), candle(2)]);
    }

    #[test]
    fn a_stored_hole_keeps_the_newest_run_and_corrupt_files_are_refetched() {
        let dir = tempfile::tempdir().unwrap();
        let key = (Exchange::Mexc, "BTC_USDT".to_string(), Interval::M15);
        let path = CandleStore::path_of(dir.path(), &key);
        std::fs::write(
            &path,
            serde_json::to_vec(&[candle(1), candle(3), candle(4)]).unwrap(),
        )
        .unwrap();
        let mut store = CandleStore::new(dir.path());
        assert_eq!(store.series(&key), &[candle(3), candle(4)]);
        std::fs::write(&path, b"[{\"t\":").unwrap();
        let mut store = CandleStore::new(dir.path());
        assert!(store.series(&key).is_empty());
    }

    #[tokio::test]
    async fn a_failed_write_keeps_the_candles_and_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let key = (Exchange::Binance, "ETHUSDT".to_string(), Interval::M15);
        let path = CandleStore::path_of(dir.path(), &key);
        // A directory where the file should be: every write fails.
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"x").unwrap();
        let mut store = CandleStore::new(dir.path());
        store.extend(&key, &[candle(1)], 10);
        assert!(store.flush().await.is_err());
        assert_eq!(store.series(&key).len(), 1, "kept in memory");
        std::fs::remove_dir_all(&path).unwrap();
        store.extend(&key, &[candle(2)], 10);
        store.flush().await.unwrap();
        let mut again = CandleStore::new(dir.path());
        assert_eq!(again.series(&key), &[candle(1), candle(2)]);
    }
}
