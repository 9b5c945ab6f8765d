//! `quantpro bench`: how fast the scanner core is on a data directory.
//! Measures, on all cores, reading + parsing + validating every file, the
//! indicators alone on candles already in memory, and the full scan
//! including the file reading, and reports candles per second for each.
//!
//! `run_synthetic_bench` measures the reference load (500 symbols of 5000
//! 15m + 1500 4h candles) on generated data in a temporary directory.

use crate::candles::{list_candle_files, load_candle_file, Candle};
use crate::indicators::compute_all;
use crate::scan::{run_scan, NoProgress, ScanError, ScanRequest, HTF, LTF};
use crate::synthetic::{generate_dataset, SyntheticSpec};
use quantpro_model::external::ExternalDataMap;
use quantpro_model::ScannerConfig;
use rayon::prelude::*;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Timings of one benchmark run. Times are wall-clock seconds on `threads` threads.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub data_dir: PathBuf,
    pub threads: usize,
    pub symbols: usize,
    pub files: usize,
    pub bytes: u64,
    /// Candles in the scanned files (LTF + HTF).
    pub candles: usize,
    /// Reading, parsing and validating every scanned file.
    pub load_secs: f64,
    /// `compute_all` over every series already in memory.
    pub indicator_secs: f64,
    /// The fastest full scan (files to signals) of `scan_runs`.
    pub scan_secs: f64,
    /// The first full scan (the one that may have read from disk).
    pub first_scan_secs: f64,
    pub scan_runs: usize,
    pub signals: usize,
}

impl BenchReport {
    pub fn indicator_candles_per_sec(&self) -> f64 {
        per_sec(self.candles, self.indicator_secs)
    }

    pub fn scan_candles_per_sec(&self) -> f64 {
        per_sec(self.candles, self.scan_secs)
    }

    pub fn load_megabytes_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.load_secs.max(f64::MIN_POSITIVE)
    }

    /// CPU time per candle: wall time x threads / candles.
    pub fn indicator_ns_per_candle(&self) -> f64 {
        ns_per(self.indicator_secs, self.threads, self.candles)
    }

    pub fn scan_ns_per_candle(&self) -> f64 {
        ns_per(self.scan_secs, self.threads, self.candles)
    }
}

fn per_sec(count: usize, secs: f64) -> f64 {
    count as f64 / secs.max(f64::MIN_POSITIVE)
}

fn ns_per(secs: f64, threads: usize, count: usize) -> f64 {
    secs * 1e9 * threads as f64 / count.max(1) as f64
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "[BENCH] {} on {} threads",
            self.data_dir.display(),
            self.threads
        )?;
        writeln!(
            f,
            "[BENCH] data: {} symbols, {} files, {:.1} MB, {} candles",
            self.symbols,
            self.files,
            self.bytes as f64 / 1e6,
            self.candles
        )?;
        writeln!(
            f,
            "[BENCH] read+parse+validate: {:.3} s ({:.0} MB/s)",
            self.load_secs,
            self.load_megabytes_per_sec()
        )?;
        writeln!(
            f,
            "[BENCH] indicators alone:    {:.3} s, {:.2} M candles/s ({:.0} ns/candle/core)",
            self.indicator_secs,
            self.indicator_candles_per_sec() / 1e6,
            self.indicator_ns_per_candle()
        )?;
        write!(
            f,
            "[BENCH] full scan from files: {:.3} s best of {} (first {:.3} s), {:.2} M candles/s ({:.0} ns/candle/core), {} signals",
            self.scan_secs,
            self.scan_runs,
            self.first_scan_secs,
            self.scan_candles_per_sec() / 1e6,
            self.scan_ns_per_candle(),
            self.signals
        )
    }
}

/// Benchmarks the scan of `data_dir` (judged at `now_ms`), running the full scan `scan_runs` times.
pub fn run_bench(
    data_dir: &Path,
    config: &ScannerConfig,
    now_ms: i64,
    scan_runs: usize,
) -> Result<BenchReport, ScanError> {
    let request = ScanRequest {
        now_ms: Some(now_ms),
        ..ScanRequest::new(data_dir)
    };
    let external = ExternalDataMap::new();
    let scan_runs = scan_runs.max(1);
    let mut scan_times = Vec::with_capacity(scan_runs);
    let mut signals = 0;
    let mut symbols = 0;
    for _ in 0..scan_runs {
        let outcome = run_scan(&request, config, &external, &NoProgress)?;
        scan_times.push(outcome.summary.elapsed_secs);
        signals = outcome.summary.signals;
        symbols = outcome.summary.symbols_processed;
    }

    let inventory = list_candle_files(data_dir).map_err(|source| ScanError::DataDir {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let files: Vec<PathBuf> = inventory
        .symbols
        .iter()
        .filter_map(|s| Some([s.files.get(&LTF)?.clone(), s.files.get(&HTF)?.clone()]))
        .flatten()
        .collect();
    let bytes = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();

    let started = Instant::now();
    let series: Vec<Vec<Candle>> = files
        .par_iter()
        .filter_map(|path| load_candle_file(path, None, now_ms).ok())
        .map(|s| s.candles)
        .collect();
    let load_secs = started.elapsed().as_secs_f64();
    let candles = series.iter().map(Vec::len).sum();

    let started = Instant::now();
    let computed: usize = series.par_iter().map(|s| compute_all(s).rsi14.len()).sum();
    let indicator_secs = started.elapsed().as_secs_f64();
    debug_assert_eq!(computed, candles);

    Ok(BenchReport {
        data_dir: data_dir.to_path_buf(),
        threads: rayon::current_num_threads(),
        symbols,
        files: files.len(),
        bytes,
        candles,
        load_secs,
        indicator_secs,
        scan_secs: scan_times.iter().copied().fold(f64::INFINITY, f64::min),
        first_scan_secs: scan_times[0],
        scan_runs,
        signals,
    })
}

/// Why the synthetic benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot generate the synthetic data in {path}: {source}")]
    Generate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Scan(#[from] ScanError),
}

/// The reference load of `spec` (the performance target is 500 symbols x
/// (5000 15m + 1500 4h) candles under 1 s on 2 cores): generates the data
/// in a fresh temporary directory, benchmarks it and removes it.
pub fn run_synthetic_bench(
    spec: &SyntheticSpec,
    config: &ScannerConfig,
    scan_runs: usize,
) -> Result<BenchReport, BenchError> {
    let dir = TempDir::with_dataset(spec)?;
    Ok(run_bench(
        &dir.0,
        config,
        spec.aligned_end_ms().max(quantpro_model::now_ms()),
        scan_runs,
    )?)
}

/// A directory removed when dropped (the `tempfile` crate is a dev-only
/// dependency); the backtest benchmark generates its data in one too.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// A fresh directory holding the synthetic data set of `spec`.
    pub(crate) fn with_dataset(spec: &SyntheticSpec) -> Result<TempDir, BenchError> {
        let dir = TempDir::new();
        generate_dataset(&dir.0, spec).map_err(|source| BenchError::Generate {
            path: dir.0.clone(),
            source,
        })?;
        Ok(dir)
    }

    fn new() -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        TempDir(std::env::temp_dir().join(format!("quantpro-bench-{}-{nanos}", std::process::id())))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_synthetic_bench_reports_consistent_figures() {
        let spec = SyntheticSpec {
            n_symbols: 3,
            n_15m: 300,
            n_4h: 100,
            ..SyntheticSpec::default()
        };
        let report = run_synthetic_bench(&spec, &ScannerConfig::default(), 2).unwrap();
        assert_eq!(
            (report.symbols, report.files, report.candles, report.signals),
            (3, 6, 1200, 9)
        );
        assert!(report.bytes > 1200 * 50);
        assert!(report.scan_secs > 0.0 && report.scan_secs <= report.first_scan_secs);
        assert!(report.indicator_candles_per_sec() > 0.0);
        let text = report.to_string();
        assert!(
            text.contains("3 symbols, 6 files") && text.contains("full scan from files"),
            "{text}"
        );
        assert!(!report.data_dir.exists(), "the temporary data is removed");
    }
}
