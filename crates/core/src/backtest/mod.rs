//! `quantpro backtest`: the walk-forward replay of STRATEGIES.md §6 over a
//! data directory, through the production strategies.
//!
//! Flow: the scan's listing and loading (`scan::plan_scan`, `load_target`:
//! the same symbols, the same skipped files with their reasons) -> per
//! symbol, in parallel, `replay::replay_symbol` (`walk::WalkForward` grows
//! one context per symbol candle by candle, so a replay costs about one
//! scan per symbol) -> the trades of every symbol -> `track::track_record`
//! (polars) -> a `model::BacktestReport`, written as JSON (`output`) with
//! the trades as CSV if asked. `bench` measures it against the naive replay
//! (one full scan per close).
//!
//! What the replay may see at the close of candle i is exactly what a live
//! scan then would: LTF candles 0..=i, the HTF candles closed by then, and
//! external data only as it was known then: none on real markets (none
//! exists historically), the synthetic derivatives of candles 0..=i on the
//! simulated market ([`HistoricalDerivatives`], given by the caller). `--to`
//! ends the data: later candles are not read, so trades still open then are
//! reported open.

mod bench;
mod output;
mod replay;
mod time_bound;
mod walk;

pub use bench::{
    run_backtest_bench, run_synthetic_backtest_bench, BacktestBenchError, BacktestBenchReport,
};
pub use output::{trades_csv, write_report, write_trades_csv, OutputError, StrategyTable};
pub use replay::{first_replayed, replay_symbol, replay_symbol_with, SymbolReplay};
pub use time_bound::{parse_time_ms, TimeBoundError};
pub use walk::{scan_context_at, WalkForward};

use crate::candles::display_name;
use crate::scan::{load_target, plan_scan, ScanError, ScanRequest, ScanTarget, SkippedFile};
use crate::track::{sort_trades, track_record, StatsError};
use quantpro_model::external::ExternalData;
use quantpro_model::{BacktestReport, Candle, Exchange, ScannerConfig, Strategy, Trade};
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

/// What to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestRequest {
    pub data_dir: PathBuf,
    /// Open time (Unix ms) of the first LTF candle to replay; earlier
    /// candles are history only (indicators, trendlines, HTF).
    pub from_ms: Option<i64>,
    /// Open time of the last LTF candle to replay: the data ends there.
    pub to_ms: Option<i64>,
    /// The strategies to replay; all three when empty.
    pub strategies: Vec<Strategy>,
    /// Only this symbol (`BTCUSDT` or the base asset `BTC`), as in a scan.
    pub symbol: Option<String>,
    pub exchange: Option<Exchange>,
    /// Candles that have not closed at this time are not history yet; now when `None`.
    pub now_ms: Option<i64>,
}

impl BacktestRequest {
    /// Every symbol of `data_dir`, all strategies, all the data.
    pub fn new(data_dir: impl Into<PathBuf>) -> BacktestRequest {
        BacktestRequest {
            data_dir: data_dir.into(),
            from_ms: None,
            to_ms: None,
            strategies: vec![],
            symbol: None,
            exchange: None,
            now_ms: None,
        }
    }

    /// The strategies replayed, in `Strategy::ALL` order.
    pub fn strategies(&self) -> Vec<Strategy> {
        Strategy::ALL
            .iter()
            .copied()
            .filter(|s| self.strategies.is_empty() || self.strategies.contains(s))
            .collect()
    }
}

/// The derivatives data a live scan would have had at a moment of a
/// symbol's history: from (exchange, symbol, its LTF candles closed by
/// then, the moment in Unix ms). The simulated market's synthetic
/// derivatives are one (they are made from the candles); real markets have
/// none to replay.
pub type HistoricalDerivatives = dyn Fn(Exchange, &str, &[Candle], i64) -> ExternalData + Sync;

/// What the replay did besides the report.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestSummary {
    /// Symbols with both series (after the filters).
    pub symbols_total: usize,
    /// Symbols replayed (the rest are in `skipped`).
    pub symbols_replayed: usize,
    /// Every file or symbol not replayed, with the reason.
    pub skipped: Vec<SkippedFile>,
    /// LTF closes replayed, over all symbols.
    pub closes: usize,
    /// Candles loaded (LTF + HTF, up to `to_ms`).
    pub candles: usize,
    /// Strategy evaluations run.
    pub evaluations: usize,
    /// Loading and replaying every symbol.
    pub replay_secs: f64,
    /// The statistics.
    pub stats_secs: f64,
}

/// The report and the summary of one backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestOutcome {
    pub report: BacktestReport,
    pub summary: BacktestSummary,
}

/// Why a backtest could not run at all (bad files are skipped, not errors).
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("--from ({from}) is after --to ({to}): nothing to replay")]
    EmptyRange { from: i64, to: i64 },
    #[error(transparent)]
    Stats(#[from] StatsError),
}

/// Replays every symbol of the request and computes the statistics, with
/// no external data.
pub fn run_backtest(
    request: &BacktestRequest,
    config: &ScannerConfig,
) -> Result<BacktestOutcome, BacktestError> {
    run_backtest_with(request, config, None)
}

/// [`run_backtest`] with the external data of `derivatives` at every close
/// (the simulated market's synthetic derivatives), or none.
pub fn run_backtest_with(
    request: &BacktestRequest,
    config: &ScannerConfig,
    derivatives: Option<&HistoricalDerivatives>,
) -> Result<BacktestOutcome, BacktestError> {
    config.validate().map_err(ScanError::Config)?;
    if let (Some(from), Some(to)) = (request.from_ms, request.to_ms) {
        if from > to {
            return Err(BacktestError::EmptyRange { from, to });
        }
    }
    let started = Instant::now();
    let scan_request = ScanRequest {
        data_dir: request.data_dir.clone(),
        limit: None,
        symbol: request.symbol.clone(),
        exchange: request.exchange,
        only: None,
        now_ms: request.now_ms,
        quality: None,
    };
    let plan = plan_scan(&scan_request)?;
    let now_ms = request.now_ms.unwrap_or_else(quantpro_model::now_ms);
    let strategies = request.strategies();
    tracing::info!(
        "[BACKTEST] {} symbols in {}, {} ({} threads)",
        plan.targets.len(),
        request.data_dir.display(),
        strategies
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        rayon::current_num_threads()
    );
    let results: Vec<Result<(SymbolReplay, usize), Vec<SkippedFile>>> = plan
        .targets
        .par_iter()
        .map(|target| replay_target(target, request, config, &strategies, now_ms, derivatives))
        .collect();
    let replay_secs = started.elapsed().as_secs_f64();

    let mut summary = BacktestSummary {
        symbols_total: plan.targets.len(),
        symbols_replayed: 0,
        skipped: plan.skipped,
        closes: 0,
        candles: 0,
        evaluations: 0,
        replay_secs,
        stats_secs: 0.0,
    };
    let (mut from, mut to) = (None::<i64>, None::<i64>);
    let mut trades: Vec<Trade> = Vec::new();
    for result in results {
        match result {
            Ok((replay, candles)) => {
                summary.symbols_replayed += 1;
                summary.closes += replay.closes;
                summary.candles += candles;
                summary.evaluations += replay.evaluations;
                from = from.into_iter().chain(replay.first).min();
                // None < Some: the later of two last candles.
                to = to.max(replay.last);
                trades.extend(replay.trades);
            }
            Err(skipped) => summary.skipped.extend(skipped),
        }
    }
    for skip in &summary.skipped {
        tracing::warn!("[SKIP] {}: {}", skip.file, skip.reason);
    }
    sort_trades(&mut trades);
    let stats_started = Instant::now();
    let stats = track_record(&trades)?;
    summary.stats_secs = stats_started.elapsed().as_secs_f64();
    tracing::info!(
        "[BACKTEST] done: {} symbols, {} closes, {} evaluations, {} trades, {} skipped, {:.3} s",
        summary.symbols_replayed,
        summary.closes,
        summary.evaluations,
        trades.len(),
        summary.skipped.len(),
        summary.replay_secs + summary.stats_secs
    );
    Ok(BacktestOutcome {
        report: BacktestReport {
            from,
            to,
            config: config.clone(),
            trades,
            stats,
        },
        summary,
    })
}

/// Loads and replays one symbol; its replay and the candles loaded, or why it was skipped.
fn replay_target(
    target: &ScanTarget,
    request: &BacktestRequest,
    config: &ScannerConfig,
    strategies: &[Strategy],
    now_ms: i64,
    derivatives: Option<&HistoricalDerivatives>,
) -> Result<(SymbolReplay, usize), Vec<SkippedFile>> {
    let (ltf, htf) = load_target(target, now_ms)?;
    let (mut ltf, mut htf) = (ltf.candles, htf.candles);
    if let Some(to) = request.to_ms {
        ltf.truncate(ltf.partition_point(|c| c.t <= to));
        htf.truncate(htf.partition_point(|c| c.t <= to));
    }
    let skip = |reason: String| {
        Err(vec![SkippedFile {
            file: display_name(&target.ltf),
            reason,
        }])
    };
    let needed = config.data.min_ltf_candles;
    if ltf.len() < needed {
        let until = if request.to_ms.is_some() {
            " up to --to"
        } else {
            ""
        };
        return skip(format!(
            "{} closed 15m candles{until}: a replay needs at least {needed} (data.min_ltf_candles)",
            ltf.len()
        ));
    }
    if first_replayed(&ltf, config, request.from_ms) >= ltf.len() {
        return skip("no 15m candle from --from on".to_string());
    }
    let candles = ltf.len() + htf.len();
    let replay = replay_symbol_with(
        &target.symbol,
        target.exchange,
        &ltf,
        &htf,
        config,
        strategies,
        request.from_ms,
        derivatives,
    );
    Ok((replay, candles))
}
