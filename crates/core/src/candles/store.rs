//! The one candle store: the `{SYMBOL}_{EXCHANGE}_{INTERVAL}.json` files
//! the scanner reads, kept in memory too so a close appends one candle
//! instead of re-reading a file. `quantpro fetch`, the live loop and the
//! synthetic market all write candles through it: every change follows
//! [`super::series`] (no holes, revisions reported) and is written
//! atomically, before the scanner reads it; a write that fails (a full
//! disk) leaves the old file whole, keeps the candles in memory and is
//! retried at the next flush.
//!
//! Writing is split so that an async caller can do the file work off its
//! workers: [`CandleStore::pending_writes`] takes what is due,
//! [`PendingWrites::write`] writes it (any thread), and
//! [`CandleStore::record_writes`] takes the outcome back; [`CandleStore::flush`]
//! does all three in place.

use super::series::{
    extend_series, newest_contiguous_run, restart_after_gap, trim_to, Extension, Gap,
};
use super::{
    candles_to_json, load_candle_file, Candle, CandleErrorKind, CandleFileError, CandleFileName,
    CandleFormat, ValidationError,
};
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
#[error("cannot write {}: {reason}", path.display())]
pub struct StoreError {
    pub path: PathBuf,
    pub reason: String,
}

/// The files due for writing, taken out of the store with their bytes.
pub struct PendingWrites {
    dir: PathBuf,
    jobs: Vec<(SeriesKey, PathBuf, Vec<u8>)>,
}

/// What [`PendingWrites::write`] did, file by file.
pub struct WriteOutcome(Vec<(SeriesKey, Result<(), StoreError>)>);

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

    /// The stored series like [`CandleStore::series`], but a file that
    /// exists and cannot be read is an error and stays as it is (nothing is
    /// written over it): what `quantpro fetch` does with a file it does not
    /// understand.
    pub fn load(&mut self, key: &SeriesKey) -> Result<&[Candle], CandleFileError> {
        if !self.series.contains_key(key) {
            let path = CandleStore::path_of(&self.dir, key);
            if path.exists() {
                match load_candle_file(&path, Some(key.2), i64::MAX) {
                    // An empty array is an empty series, not a broken file.
                    Ok(_)
                    | Err(CandleFileError {
                        kind: CandleErrorKind::Invalid(ValidationError::Empty),
                        ..
                    }) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(self.series(key))
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

    /// The exchange no longer has `gap`: the series restarts with the
    /// candles of `candles` after it (see `restart_after_gap`); returns how
    /// many candles it holds now.
    pub fn restart_after(
        &mut self,
        key: &SeriesKey,
        gap: Gap,
        candles: &[Candle],
        keep: usize,
    ) -> usize {
        let newer: Vec<Candle> = candles
            .iter()
            .filter(|c| c.t > gap.to_ms)
            .copied()
            .collect();
        let kept = newer.len();
        self.update(key, keep, |series| {
            restart_after_gap(series, &newer, key.2);
            true
        });
        kept
    }

    /// Takes the files of every changed series with their bytes, for
    /// [`PendingWrites::write`].
    pub fn pending_writes(&self) -> PendingWrites {
        let jobs = self
            .unwritten
            .iter()
            .map(|key| {
                let json = candles_to_json(&self.series[key]).into_bytes();
                (key.clone(), CandleStore::path_of(&self.dir, key), json)
            })
            .collect();
        PendingWrites {
            dir: self.dir.clone(),
            jobs,
        }
    }

    /// Takes back what [`PendingWrites::write`] did: written series are no
    /// longer due, failed ones stay due for the next flush; the first
    /// failure is returned.
    pub fn record_writes(&mut self, outcome: WriteOutcome) -> Result<(), StoreError> {
        let mut first_error = None;
        for (key, written) in outcome.0 {
            match written {
                Ok(()) => self.unwritten.retain(|k| *k != key),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Writes the files of every changed series here and now, so the
    /// scanner reads what memory holds.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        let outcome = self.pending_writes().write();
        self.record_writes(outcome)
    }

    /// Replaces a whole series (a generated one) without reading its file;
    /// its file is due. The caller gives a contiguous series.
    pub fn replace(&mut self, key: SeriesKey, candles: Vec<Candle>) {
        if !self.unwritten.contains(&key) {
            self.unwritten.push(key.clone());
        }
        self.series.insert(key, candles);
    }

    /// Marks a series' file as due although its candles did not change (a
    /// series that has no file yet is written, even empty).
    pub fn mark_due(&mut self, key: &SeriesKey) {
        self.series(key);
        if !self.unwritten.contains(key) {
            self.unwritten.push(key.clone());
        }
    }

    /// The newest stored open time of a series.
    pub fn last_open(&mut self, key: &SeriesKey) -> Option<i64> {
        self.series(key).last().map(|c| c.t)
    }
}

impl PendingWrites {
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Writes every file atomically (blocking file work: an async caller
    /// runs it on a blocking thread).
    pub fn write(self) -> WriteOutcome {
        let made = std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create the directory: {e}"));
        WriteOutcome(
            self.jobs
                .into_iter()
                .map(|(key, path, json)| {
                    let written = made
                        .clone()
                        .and_then(|()| write_atomic(&path, &json).map_err(|e| e.source.to_string()))
                        .map_err(|reason| StoreError {
                            path: path.clone(),
                            reason,
                        });
                    (key, written)
                })
                .collect(),
        )
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

    #[test]
    fn a_series_is_read_once_extended_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = (Exchange::Binance, "BTCUSDT".to_string(), Interval::M15);
        let mut store = CandleStore::new(dir.path());
        assert!(store.series(&key).is_empty());
        store.extend(&key, &[candle(1), candle(2)], 10);
        let out = store.extend(&key, &[candle(5)], 10);
        assert!(out.gap.is_some());
        store.flush().unwrap();
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
        assert!(store.load(&key).is_err(), "a strict load names the problem");
        assert!(store.series(&key).is_empty());
    }

    #[test]
    fn a_failed_write_keeps_the_candles_and_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let key = (Exchange::Binance, "ETHUSDT".to_string(), Interval::M15);
        let path = CandleStore::path_of(dir.path(), &key);
        // A directory where the file should be: every write fails.
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"x").unwrap();
        let mut store = CandleStore::new(dir.path());
        store.extend(&key, &[candle(1)], 10);
        assert!(store.flush().is_err());
        assert_eq!(store.series(&key).len(), 1, "kept in memory");
        std::fs::remove_dir_all(&path).unwrap();
        store.extend(&key, &[candle(2)], 10);
        store.flush().unwrap();
        let mut again = CandleStore::new(dir.path());
        assert_eq!(again.series(&key), &[candle(1), candle(2)]);
    }
}
