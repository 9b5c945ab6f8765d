//! A full scan: every symbol of the data directory that has both a 15m and a
//! 4h file is loaded, validated, turned into a `SharedContext` and run
//! through the three strategies, in parallel on all cores. The result is the
//! master feed (signals by score, best first) and a summary of what was
//! scanned and skipped.
//!
//! A bad file never stops the scan: its symbol is skipped with the file name
//! and the reason, reported to the observer and logged with `[SKIP]`.

use crate::candles::{
    display_name, list_candle_files, load_candle_file, LoadedSeries, SymbolFiles,
};
use crate::context::SharedContext;
use crate::strategies::evaluate_all;
use quantpro_model::external::ExternalDataMap;
use quantpro_model::{Action, ConfigError, Exchange, MasterFeed, ScannerConfig, Signal};
use quantpro_model::{Candle, Interval};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The series a scan reads: LTF for the signal, HTF for its trend and target.
pub const LTF: Interval = Interval::M15;
pub const HTF: Interval = Interval::H4;

/// What to scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRequest {
    pub data_dir: PathBuf,
    /// Scan at most this many symbols (after the filters, in symbol order).
    pub limit: Option<usize>,
    /// Only this symbol: matches the exchange symbol (`BTCUSDT`) or the base asset (`BTC`), any case.
    pub symbol: Option<String>,
    pub exchange: Option<Exchange>,
    /// Only these (exchange, symbol) pairs: the live loop rescans the
    /// symbols that got new candles at a close.
    pub only: Option<BTreeSet<(Exchange, String)>>,
    /// Scan time in Unix ms (closed candles and staleness are judged against it); now when `None`.
    pub now_ms: Option<i64>,
    /// The signal-quality model in force: each acting signal gets its
    /// `quality` (P(win), docs/QUALITY.md); none without a model.
    pub quality: Option<std::sync::Arc<crate::quality::QualityModel>>,
}

impl ScanRequest {
    /// Every symbol of `data_dir`, judged at the current time.
    pub fn new(data_dir: impl Into<PathBuf>) -> ScanRequest {
        ScanRequest {
            data_dir: data_dir.into(),
            limit: None,
            symbol: None,
            exchange: None,
            only: None,
            now_ms: None,
            quality: None,
        }
    }

    /// True when the request covers part of the data directory (its feed
    /// is merged into the existing one).
    pub fn is_partial(&self) -> bool {
        self.limit.is_some()
            || self.symbol.is_some()
            || self.exchange.is_some()
            || self.only.is_some()
    }
}

/// A file (or symbol) the scan could not use, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    pub file: String,
    pub reason: String,
}

/// Signals per action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ActionCounts {
    pub long: usize,
    pub short: usize,
    pub wait: usize,
}

impl ActionCounts {
    fn count(signals: &[Signal]) -> ActionCounts {
        let mut counts = ActionCounts::default();
        for s in signals {
            match s.action {
                Action::Long => counts.long += 1,
                Action::Short => counts.short += 1,
                Action::Wait => counts.wait += 1,
            }
        }
        counts
    }
}

/// What a scan did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanSummary {
    /// Symbols with both series that the scan attempted (after filters and limit).
    pub symbols_total: usize,
    /// Symbols that produced their three signals.
    pub symbols_processed: usize,
    /// Every skipped file with its reason (bad files, missing series, bad names).
    pub skipped: Vec<SkippedFile>,
    pub signals: usize,
    pub signals_per_action: ActionCounts,
    /// Symbols whose last LTF candle is stale.
    pub stale_symbols: usize,
    /// Closed candles read (LTF + HTF).
    pub candles: usize,
    pub elapsed_secs: f64,
}

/// The feed and its summary.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOutcome {
    pub feed: MasterFeed,
    pub summary: ScanSummary,
}

/// Progress after one more symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    /// Symbols done (scanned or skipped).
    pub processed: usize,
    pub total: usize,
    /// Signals produced so far.
    pub signals: usize,
}

/// Receives progress from the worker threads (hence `Sync`); calls happen
/// once per symbol, so an implementation should only store or forward.
pub trait ScanObserver: Sync {
    /// Before the first symbol: how many will be scanned.
    fn on_start(&self, _total: usize) {}
    /// After each symbol, scanned or skipped.
    fn on_progress(&self, _progress: ScanProgress) {}
    /// For each skipped file, as soon as it is known.
    fn on_skip(&self, _skip: &SkippedFile) {}
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ScanObserver for NoProgress {}

/// Why a scan could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Config(Vec<ConfigError>),
}

/// Scans the data directory. Only a missing directory or an invalid
/// configuration is an error; bad files are skipped and reported.
pub fn run_scan(
    request: &ScanRequest,
    config: &ScannerConfig,
    external: &ExternalDataMap,
    observer: &dyn ScanObserver,
) -> Result<ScanOutcome, ScanError> {
    let started = Instant::now();
    config.validate().map_err(ScanError::Config)?;
    let now_ms = request.now_ms.unwrap_or_else(quantpro_model::now_ms);
    let plan = plan_scan(request)?;
    observer.on_start(plan.targets.len());
    tracing::info!(
        "[SCAN] {} symbols in {} ({} threads)",
        plan.targets.len(),
        request.data_dir.display(),
        rayon::current_num_threads()
    );
    for skip in &plan.skipped {
        report_skip(observer, skip);
    }

    let total = plan.targets.len();
    let processed = AtomicUsize::new(0);
    let signals_so_far = AtomicUsize::new(0);
    let results: Vec<SymbolResult> = plan
        .targets
        .par_iter()
        .map(|target| {
            let result = scan_symbol(target, config, external, now_ms, request.quality.as_deref());
            for skip in &result.skipped {
                report_skip(observer, skip);
            }
            let signals = signals_so_far.fetch_add(result.signals.len(), Ordering::Relaxed)
                + result.signals.len();
            let processed = processed.fetch_add(1, Ordering::Relaxed) + 1;
            observer.on_progress(ScanProgress {
                processed,
                total,
                signals,
            });
            result
        })
        .collect();

    let mut skipped = plan.skipped;
    let mut signals = Vec::with_capacity(total * 3);
    let (mut symbols_processed, mut stale_symbols, mut candles) = (0, 0, 0);
    for result in results {
        skipped.extend(result.skipped);
        candles += result.candles;
        if !result.signals.is_empty() {
            symbols_processed += 1;
            stale_symbols += usize::from(result.signals[0].ltf.stale);
        }
        signals.extend(result.signals);
    }
    sort_signals(&mut signals);
    let summary = ScanSummary {
        symbols_total: total,
        symbols_processed,
        skipped,
        signals: signals.len(),
        signals_per_action: ActionCounts::count(&signals),
        stale_symbols,
        candles,
        elapsed_secs: started.elapsed().as_secs_f64(),
    };
    tracing::info!(
        "[SCAN] done: {} symbols, {} signals ({} LONG, {} SHORT, {} WAIT), {} skipped files, {} stale, {:.3} s",
        summary.symbols_processed,
        summary.signals,
        summary.signals_per_action.long,
        summary.signals_per_action.short,
        summary.signals_per_action.wait,
        summary.skipped.len(),
        summary.stale_symbols,
        summary.elapsed_secs
    );
    Ok(ScanOutcome {
        feed: MasterFeed {
            last_updated: now_ms,
            signals,
        },
        summary,
    })
}

/// Best score first; ties in a fixed order so equal scans give equal feeds.
pub fn sort_signals(signals: &mut [Signal]) {
    signals.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.symbol.cmp(&b.symbol))
            .then_with(|| a.exchange.cmp(&b.exchange))
            .then_with(|| a.strategy.cmp(&b.strategy))
    });
}

fn report_skip(observer: &dyn ScanObserver, skip: &SkippedFile) {
    tracing::warn!("[SKIP] {}: {}", skip.file, skip.reason);
    observer.on_skip(skip);
}

/// The symbols to scan and what was skipped before loading anything.
pub(crate) struct ScanPlan {
    pub(crate) targets: Vec<ScanTarget>,
    pub(crate) skipped: Vec<SkippedFile>,
}

/// One symbol with both series (the backtest replays the same targets).
pub(crate) struct ScanTarget {
    pub(crate) symbol: String,
    pub(crate) exchange: Exchange,
    pub(crate) ltf: PathBuf,
    pub(crate) htf: PathBuf,
}

/// The closed LTF candles stored for `symbols` (the signal journal resolves
/// its open trades against them); a symbol whose file is
/// missing or unreadable is left out (the scan reports the file).
pub fn stored_ltf(
    data_dir: &Path,
    symbols: BTreeSet<(Exchange, String)>,
    now_ms: i64,
) -> HashMap<(Exchange, String), Vec<Candle>> {
    let request = ScanRequest {
        only: Some(symbols),
        now_ms: Some(now_ms),
        ..ScanRequest::new(data_dir)
    };
    let Ok(plan) = plan_scan(&request) else {
        return HashMap::new();
    };
    plan.targets
        .into_iter()
        .filter_map(|target| {
            let series = load_candle_file(&target.ltf, Some(LTF), now_ms).ok()?;
            Some(((target.exchange, target.symbol), series.candles))
        })
        .collect()
}

/// The (exchange, symbol) pairs a scan of `request` would process, so
/// external data can be gathered for exactly those before the scan.
pub fn scan_symbols(request: &ScanRequest) -> Result<Vec<(Exchange, String)>, ScanError> {
    Ok(plan_scan(request)?
        .targets
        .into_iter()
        .map(|t| (t.exchange, t.symbol))
        .collect())
}

pub(crate) fn plan_scan(request: &ScanRequest) -> Result<ScanPlan, ScanError> {
    let inventory = list_candle_files(&request.data_dir).map_err(|source| ScanError::DataDir {
        path: request.data_dir.clone(),
        source,
    })?;
    let filtered = request.symbol.is_some() || request.exchange.is_some() || request.only.is_some();
    let mut skipped: Vec<SkippedFile> = if filtered {
        vec![]
    } else {
        inventory
            .rejected
            .into_iter()
            .map(|r| SkippedFile {
                file: r.file,
                reason: r.reason,
            })
            .collect()
    };
    let mut targets = Vec::new();
    for files in inventory
        .symbols
        .into_iter()
        .filter(|f| matches_filters(f, request))
    {
        match (files.files.get(&LTF), files.files.get(&HTF)) {
            (Some(ltf), Some(htf)) => targets.push(ScanTarget {
                symbol: files.symbol.clone(),
                exchange: files.exchange,
                ltf: ltf.clone(),
                htf: htf.clone(),
            }),
            (Some(present), None) | (None, Some(present)) => {
                let missing = if files.files.contains_key(&LTF) {
                    HTF
                } else {
                    LTF
                };
                skipped.push(SkippedFile {
                    file: display_name(present),
                    reason: format!(
                        "no {missing} file for {} on {} (a scan needs both 15m and 4h)",
                        files.symbol, files.exchange
                    ),
                });
            }
            // Only other intervals (1h, 1d): not a scan input.
            (None, None) => {}
        }
    }
    if let Some(limit) = request.limit {
        targets.truncate(limit);
    }
    Ok(ScanPlan { targets, skipped })
}

fn matches_filters(files: &SymbolFiles, request: &ScanRequest) -> bool {
    let symbol_ok = request
        .symbol
        .as_deref()
        .is_none_or(|wanted| symbol_matches(&files.symbol, wanted));
    let exchange_ok = request.exchange.is_none_or(|e| e == files.exchange);
    let listed = request
        .only
        .as_ref()
        .is_none_or(|only| only.contains(&(files.exchange, files.symbol.clone())));
    symbol_ok && exchange_ok && listed
}

/// Whether `wanted` names `symbol`: the exchange symbol (`BTCUSDT`) or its
/// base asset (`BTC`), any case (`--symbol`, the track record's filter).
pub fn symbol_matches(symbol: &str, wanted: &str) -> bool {
    symbol.eq_ignore_ascii_case(wanted)
        || quantpro_model::canonical_symbol(symbol).eq_ignore_ascii_case(wanted)
}

/// The outcome of one symbol: three signals, or the skipped files.
struct SymbolResult {
    signals: Vec<Signal>,
    skipped: Vec<SkippedFile>,
    candles: usize,
}

/// Loads a target's closed LTF and HTF candles at `now_ms`, or says which
/// of its files cannot be used and why.
pub(crate) fn load_target(
    target: &ScanTarget,
    now_ms: i64,
) -> Result<(LoadedSeries, LoadedSeries), Vec<SkippedFile>> {
    let ltf = load_candle_file(&target.ltf, Some(LTF), now_ms);
    let htf = load_candle_file(&target.htf, Some(HTF), now_ms);
    match (ltf, htf) {
        (Ok(ltf), Ok(htf)) => Ok((ltf, htf)),
        (ltf, htf) => Err([ltf.err(), htf.err()]
            .into_iter()
            .flatten()
            .map(|e| SkippedFile {
                file: e.file,
                reason: e.kind.to_string(),
            })
            .collect()),
    }
}

fn scan_symbol(
    target: &ScanTarget,
    config: &ScannerConfig,
    external: &ExternalDataMap,
    now_ms: i64,
    quality: Option<&crate::quality::QualityModel>,
) -> SymbolResult {
    let (ltf, htf) = match load_target(target, now_ms) {
        Ok(series) => series,
        Err(skipped) => {
            return SymbolResult {
                signals: vec![],
                skipped,
                candles: 0,
            };
        }
    };
    let candles = ltf.candles.len() + htf.candles.len();
    let key = (target.exchange, target.symbol.clone());
    let ctx = SharedContext::build(
        &target.symbol,
        target.exchange,
        ltf.candles,
        htf.candles,
        external.get(&key),
        config,
        now_ms,
    );
    if ctx.ltf_state.stale {
        tracing::debug!(
            "[SCAN] {} {}: last 15m candle is stale",
            target.symbol,
            target.exchange
        );
    }
    let mut signals = evaluate_all(&ctx, config);
    if let Some(model) = quality {
        for signal in signals.iter_mut() {
            signal.quality = crate::quality::signal_quality(model, signal, &ctx);
        }
    }
    SymbolResult {
        signals,
        skipped: vec![],
        candles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{generate_dataset, SyntheticSpec};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder {
        started: Mutex<Option<usize>>,
        progress: Mutex<Vec<ScanProgress>>,
        skips: Mutex<Vec<SkippedFile>>,
    }

    impl ScanObserver for Recorder {
        fn on_start(&self, total: usize) {
            *self.started.lock().unwrap() = Some(total);
        }
        fn on_progress(&self, progress: ScanProgress) {
            self.progress.lock().unwrap().push(progress);
        }
        fn on_skip(&self, skip: &SkippedFile) {
            self.skips.lock().unwrap().push(skip.clone());
        }
    }

    fn dataset(n_symbols: usize) -> (tempfile::TempDir, SyntheticSpec) {
        let dir = tempfile::tempdir().unwrap();
        let spec = SyntheticSpec {
            n_symbols,
            n_15m: 400,
            n_4h: 260,
            seed: 7,
            ..SyntheticSpec::default()
        };
        generate_dataset(dir.path(), &spec).unwrap();
        (dir, spec)
    }

    #[test]
    fn scans_every_symbol_and_reports_progress() {
        let (dir, spec) = dataset(6);
        let request = ScanRequest {
            now_ms: Some(spec.end_ms + 60_000),
            ..ScanRequest::new(dir.path())
        };
        let recorder = Recorder::default();
        let outcome = run_scan(
            &request,
            &ScannerConfig::default(),
            &ExternalDataMap::new(),
            &recorder,
        )
        .unwrap();
        let summary = &outcome.summary;
        assert_eq!(
            (
                summary.symbols_total,
                summary.symbols_processed,
                summary.signals
            ),
            (6, 6, 18)
        );
        assert_eq!(summary.candles, 6 * (400 + 260));
        assert!(summary.skipped.is_empty());
        assert_eq!(summary.stale_symbols, 0);
        let counts = summary.signals_per_action;
        assert_eq!(counts.long + counts.short + counts.wait, 18);
        assert_eq!(outcome.feed.last_updated, spec.end_ms + 60_000);
        assert!(
            outcome
                .feed
                .signals
                .windows(2)
                .all(|w| w[0].score >= w[1].score),
            "sorted by score"
        );
        assert_eq!(*recorder.started.lock().unwrap(), Some(6));
        let mut progress = recorder.progress.lock().unwrap().clone();
        progress.sort_by_key(|p| p.processed);
        assert_eq!(progress.len(), 6);
        assert_eq!(
            progress.last().unwrap(),
            &ScanProgress {
                processed: 6,
                total: 6,
                signals: 18
            }
        );
    }

    #[test]
    fn filters_and_limit() {
        let (dir, spec) = dataset(4);
        let base = ScanRequest {
            now_ms: Some(spec.end_ms),
            ..ScanRequest::new(dir.path())
        };
        let run = |request: ScanRequest| {
            run_scan(
                &request,
                &ScannerConfig::default(),
                &ExternalDataMap::new(),
                &NoProgress,
            )
            .unwrap()
        };
        assert_eq!(
            run(ScanRequest {
                limit: Some(2),
                ..base.clone()
            })
            .summary
            .symbols_total,
            2
        );
        let eth = run(ScanRequest {
            symbol: Some("syn001".into()),
            ..base.clone()
        });
        assert_eq!(eth.feed.signals.len(), 3);
        assert!(eth.feed.signals.iter().all(|s| s.symbol == "SYN001USDT"));
        assert_eq!(
            run(ScanRequest {
                symbol: Some("SYN001USDT".into()),
                ..base.clone()
            })
            .feed
            .signals
            .len(),
            3
        );
        assert_eq!(
            run(ScanRequest {
                exchange: Some(Exchange::Mexc),
                ..base.clone()
            })
            .summary
            .symbols_total,
            0
        );
        assert_eq!(
            run(ScanRequest {
                exchange: Some(Exchange::Binance),
                ..base
            })
            .summary
            .symbols_total,
            4
        );
    }

    #[test]
    fn bad_and_incomplete_symbols_are_skipped_with_reasons() {
        let (dir, spec) = dataset(4);
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("SYN001USDT_BINANCE_15m.json"), "[{\"t\":1,").unwrap();
        std::fs::remove_file(path("SYN002USDT_BINANCE_4h.json")).unwrap();
        std::fs::write(path("XYZ_NOWHERE_15m.json"), "[]").unwrap();
        let request = ScanRequest {
            now_ms: Some(spec.end_ms),
            ..ScanRequest::new(dir.path())
        };
        let recorder = Recorder::default();
        let outcome = run_scan(
            &request,
            &ScannerConfig::default(),
            &ExternalDataMap::new(),
            &recorder,
        )
        .unwrap();
        assert_eq!(
            (
                outcome.summary.symbols_total,
                outcome.summary.symbols_processed
            ),
            (3, 2)
        );
        assert_eq!(outcome.feed.signals.len(), 6);
        let mut skipped = outcome.summary.skipped.clone();
        skipped.sort_by(|a, b| a.file.cmp(&b.file));
        let files: Vec<&str> = skipped.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "SYN001USDT_BINANCE_15m.json",
                "SYN002USDT_BINANCE_15m.json",
                "XYZ_NOWHERE_15m.json"
            ]
        );
        assert!(
            skipped[0]
                .reason
                .starts_with("not a candle array: EOF while parsing"),
            "{}",
            skipped[0].reason
        );
        assert_eq!(
            skipped[1].reason,
            "no 4h file for SYN002USDT on BINANCE (a scan needs both 15m and 4h)"
        );
        assert!(skipped[2].reason.contains("unknown Exchange 'NOWHERE'"));
        assert_eq!(recorder.skips.lock().unwrap().len(), 3);
    }

    #[test]
    fn stale_data_is_flagged_and_open_candles_dropped() {
        let (dir, spec) = dataset(1);
        let m15 = Interval::M15.millis();
        // Judged one 15m interval before the data ends: the newest candle is still open.
        let early = ScanRequest {
            now_ms: Some(spec.end_ms - m15),
            ..ScanRequest::new(dir.path())
        };
        let outcome = run_scan(
            &early,
            &ScannerConfig::default(),
            &ExternalDataMap::new(),
            &NoProgress,
        )
        .unwrap();
        let ltf = &outcome.feed.signals[0].ltf;
        assert_eq!(ltf.last_candle_time, Some(spec.end_ms - 2 * m15));
        assert!(!ltf.stale);
        // A day later the same data is stale.
        let late = ScanRequest {
            now_ms: Some(spec.end_ms + 86_400_000),
            ..ScanRequest::new(dir.path())
        };
        let outcome = run_scan(
            &late,
            &ScannerConfig::default(),
            &ExternalDataMap::new(),
            &NoProgress,
        )
        .unwrap();
        assert!(outcome.feed.signals.iter().all(|s| s.ltf.stale));
        assert_eq!(outcome.summary.stale_symbols, 1);
    }

    #[test]
    fn csv_series_scan_like_json_ones() {
        let (dir, spec) = dataset(2);
        let json_path = dir.path().join("SYN001USDT_BINANCE_4h.json");
        let candles = crate::candles::read_candle_file(&json_path).unwrap();
        let mut csv = String::from("t,o,h,l,c,v\n");
        for c in &candles {
            csv.push_str(&format!(
                "{},{},{},{},{},{}\n",
                c.t, c.o, c.h, c.l, c.c, c.v
            ));
        }
        let request = ScanRequest {
            now_ms: Some(spec.end_ms),
            ..ScanRequest::new(dir.path())
        };
        let scan = || {
            run_scan(
                &request,
                &ScannerConfig::default(),
                &ExternalDataMap::new(),
                &NoProgress,
            )
            .unwrap()
        };
        let from_json = scan();
        std::fs::remove_file(&json_path).unwrap();
        std::fs::write(dir.path().join("SYN001USDT_BINANCE_4h.csv"), csv).unwrap();
        let from_csv = scan();
        assert!(
            from_csv.summary.skipped.is_empty(),
            "{:?}",
            from_csv.summary.skipped
        );
        assert_eq!(
            from_csv.feed, from_json.feed,
            "the same candles give the same signals"
        );
    }

    #[test]
    fn errors_for_missing_dir_and_bad_config() {
        let request = ScanRequest::new("/nonexistent/quantpro-data");
        let err = run_scan(
            &request,
            &ScannerConfig::default(),
            &ExternalDataMap::new(),
            &NoProgress,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read the data directory /nonexistent/quantpro-data"),
            "{err}"
        );
        let mut config = ScannerConfig::default();
        config.setup.min_rr = -1.0;
        let err = run_scan(&request, &config, &ExternalDataMap::new(), &NoProgress).unwrap_err();
        assert!(
            err.to_string().contains("'setup.min_rr' must be between"),
            "{err}"
        );
    }
}
