//! `quantpro fetch`: bring the candle files of `data/` up to date from an
//! exchange. For each symbol and interval it reads
//! `{SYMBOL}_{EXCHANGE}_{INTERVAL}.json` through the one candle store
//! (`quantpro_core::candles::store`), asks the exchange only for candles
//! newer than the file's last, drops the still-open candle and adds the
//! rest by the store's rule (no hole, revisions kept; when the exchange no
//! longer has the missing range the series restarts after it, as the live
//! loop does), and the store replaces the file atomically, so the scanner
//! never reads a torn file. Symbols are a given list or the top N by 24 h
//! quote volume.

use indicatif::{ProgressBar, ProgressStyle};
use quantpro_core::candles::store::{CandleStore, SeriesKey};
use quantpro_core::candles::{drop_unclosed, Candle};
use quantpro_model::Exchange;
use quantpro_model::Interval;
use quantpro_model::Market;
use quantpro_sources::governor::Governor;
use quantpro_sources::http::RetryPolicy;
use quantpro_sources::urls::SourceUrls;
use quantpro_sources::venues::{fetcher_for, CandleFetcher, FetcherConfig};
use quantpro_sources::SourceError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Which symbols to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SymbolSelection {
    /// As the exchange spells them (`BTCUSDT`, `BTC_USDT`, `BTC`).
    List(Vec<String>),
    /// The N symbols with the highest 24 h quote volume on the exchange.
    Top(usize),
}

/// Everything `quantpro fetch` needs.
#[derive(Debug, Clone)]
pub struct FetchArgs {
    pub exchange: Exchange,
    /// `None`: [`Market::default_for`] the exchange.
    pub market: Option<Market>,
    pub symbols: SymbolSelection,
    pub intervals: Vec<Interval>,
    pub data_dir: PathBuf,
    /// The exchanges' REST base URLs (`[sources]`).
    pub urls: SourceUrls,
    /// How many candles a series without a file starts with.
    pub initial_candles: usize,
    pub show_progress: bool,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    /// The process's rate-limit governor (the exchange's documented budget,
    /// 429 pauses, 418 bans).
    pub governor: Arc<Governor>,
}

impl FetchArgs {
    pub fn new(
        exchange: Exchange,
        symbols: SymbolSelection,
        intervals: Vec<Interval>,
        data_dir: impl Into<PathBuf>,
    ) -> FetchArgs {
        FetchArgs {
            exchange,
            market: None,
            symbols,
            intervals,
            data_dir: data_dir.into(),
            urls: SourceUrls::default(),
            initial_candles: 1500,
            show_progress: true,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            governor: Governor::documented(),
        }
    }
}

/// What happened to one candle file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUpdate {
    pub path: PathBuf,
    pub symbol: String,
    pub interval: Interval,
    /// Closed candles appended by this run.
    pub added: usize,
    /// Candles in the file afterwards.
    pub total: usize,
}

/// A series that could not be updated (the others still are).
#[derive(Debug)]
pub struct FetchFailure {
    pub symbol: String,
    pub interval: Interval,
    pub error: FetchError,
}

#[derive(Debug, Default)]
pub struct FetchReport {
    pub symbols: Vec<String>,
    pub updated: Vec<FileUpdate>,
    pub failed: Vec<FetchFailure>,
}

impl FetchReport {
    pub fn candles_added(&self) -> usize {
        self.updated.iter().map(|u| u.added).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("nothing to fetch: give symbols or --top N with N > 0")]
    NoSymbols,
    #[error("nothing to fetch: give at least one interval")]
    NoIntervals,
    #[error("'{0}' cannot be a candle file's symbol (letters, digits, '_', '-', '@' only)")]
    BadSymbol(String),
    #[error("cannot pick the top symbols: {0}")]
    TopSymbols(#[source] SourceError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("{} exists but is not a candle file ({detail}); left untouched", path.display())]
    CorruptFile { path: PathBuf, detail: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Runs `quantpro fetch`: picks the symbols, then updates every
/// (symbol, interval) file. Fails only when nothing can be attempted; a
/// series that fails is reported in `FetchReport::failed`.
pub async fn run_fetch(args: FetchArgs) -> Result<FetchReport, FetchError> {
    if args.intervals.is_empty() {
        return Err(FetchError::NoIntervals);
    }
    let market = args
        .market
        .unwrap_or_else(|| Market::default_for(args.exchange));
    let config = FetcherConfig {
        base_url: Some(args.urls.exchange_rest(args.exchange, market).to_string()),
        retry: args.retry,
        timeout: args.timeout,
    };
    let fetcher = fetcher_for(args.exchange, market, &config, &args.governor)?;
    let symbols = match &args.symbols {
        SymbolSelection::List(list) => list.clone(),
        SymbolSelection::Top(n) => fetcher
            .top_symbols(*n)
            .await
            .map_err(FetchError::TopSymbols)?,
    };
    if symbols.is_empty() {
        return Err(FetchError::NoSymbols);
    }
    let plan = SeriesPlan {
        symbols: &symbols,
        intervals: &args.intervals,
        data_dir: &args.data_dir,
        initial_candles: args.initial_candles,
        show_progress: args.show_progress,
    };
    let mut report = update_series(fetcher.as_ref(), &plan, quantpro_model::now_ms()).await;
    report.symbols = symbols;
    Ok(report)
}

/// The files one fetch updates.
pub struct SeriesPlan<'a> {
    pub symbols: &'a [String],
    pub intervals: &'a [Interval],
    pub data_dir: &'a Path,
    pub initial_candles: usize,
    pub show_progress: bool,
}

/// Updates every (symbol, interval) file of the plan as of `now_ms`, one at
/// a time (the governor paces the requests), with a progress bar.
pub async fn update_series(
    fetcher: &dyn CandleFetcher,
    plan: &SeriesPlan<'_>,
    now_ms: i64,
) -> FetchReport {
    let total = (plan.symbols.len() * plan.intervals.len()) as u64;
    let progress = progress_bar(total, plan.show_progress);
    let mut report = FetchReport::default();
    for symbol in plan.symbols {
        for &interval in plan.intervals {
            progress.set_message(format!("{symbol} {interval}"));
            match update_file(fetcher, symbol, interval, plan, now_ms).await {
                Ok(update) => report.updated.push(update),
                Err(error) => {
                    tracing::warn!(
                        "fetch {symbol} {interval} on {}: {error}",
                        fetcher.exchange()
                    );
                    report.failed.push(FetchFailure {
                        symbol: symbol.clone(),
                        interval,
                        error,
                    });
                }
            }
            progress.inc(1);
        }
    }
    progress.finish_with_message(format!(
        "{} files updated, {} candles added, {} failed",
        report.updated.len(),
        report.candles_added(),
        report.failed.len()
    ));
    report
}

/// The path of a series' JSON file in `data_dir` (the candle store's).
pub fn candle_file_path(
    data_dir: &Path,
    symbol: &str,
    exchange: Exchange,
    interval: Interval,
) -> PathBuf {
    CandleStore::path_of(data_dir, &(exchange, symbol.to_string(), interval))
}

async fn update_file(
    fetcher: &dyn CandleFetcher,
    symbol: &str,
    interval: Interval,
    plan: &SeriesPlan<'_>,
    now_ms: i64,
) -> Result<FileUpdate, FetchError> {
    check_symbol(symbol)?;
    let key = (fetcher.exchange(), symbol.to_string(), interval);
    let path = CandleStore::path_of(plan.data_dir, &key);
    let mut store = CandleStore::new(plan.data_dir);
    let stored = store.load(&key).map_err(|e| FetchError::CorruptFile {
        path: path.clone(),
        detail: e.kind.to_string(),
    })?;
    let start = match stored.last() {
        Some(last) => last.t + interval.millis(),
        None => now_ms - interval.millis() * plan.initial_candles as i64,
    };
    let fetched = fetcher.candles(symbol, interval, start, now_ms).await?;
    let added = add_fetched(&mut store, &key, fetched, now_ms);
    if !path.exists() {
        store.mark_due(&key);
    }
    store.flush().map_err(|e| FetchError::Write {
        path: path.clone(),
        source: std::io::Error::other(e.reason),
    })?;
    Ok(FileUpdate {
        path,
        symbol: symbol.to_string(),
        interval,
        added,
        total: store.series(&key).len(),
    })
}

/// Adds the closed candles of `fetched` (asked from the stored end) to the
/// stored series; returns how many candles the series gained.
fn add_fetched(
    store: &mut CandleStore,
    key: &SeriesKey,
    mut fetched: Vec<Candle>,
    now_ms: i64,
) -> usize {
    let interval = key.2;
    drop_unclosed(&mut fetched, interval, now_ms);
    let extension = store.extend(key, &fetched, usize::MAX);
    let Some(gap) = extension.gap else {
        return extension.added;
    };
    // Asked from the stored end, answered from later: the exchange no
    // longer has the gap, so the series restarts after it.
    tracing::warn!(
        "fetch {} {interval}: the exchange has no candles for {} missing ones; \
         the series restarts after the gap",
        key.1,
        gap.candles(interval)
    );
    store.restart_after(key, gap, &fetched, usize::MAX);
    store.series(key).len()
}

/// A symbol becomes part of a file name: no separators, no `..`.
fn check_symbol(symbol: &str) -> Result<(), FetchError> {
    let ok = !symbol.is_empty()
        && symbol
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@'));
    ok.then_some(())
        .ok_or_else(|| FetchError::BadSymbol(symbol.to_string()))
}

fn progress_bar(total: u64, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(t: i64) -> Candle {
        Candle {
            t,
            o: 1.0,
            h: 2.0,
            l: 0.5,
            c: 1.5,
            v: 10.0,
        }
    }

    #[test]
    fn only_newer_closed_candles_are_appended() {
        let m = Interval::M15.millis();
        let dir = tempfile::tempdir().unwrap();
        let key = (Exchange::Binance, "BTCUSDT".to_string(), Interval::M15);
        let mut store = CandleStore::new(dir.path());
        store.extend(&key, &[candle(0), candle(m)], usize::MAX);
        let fetched = vec![candle(m), candle(2 * m), candle(3 * m), candle(4 * m)];
        // At 4m + 1 ms the candle opened at 4m is still open.
        let added = add_fetched(&mut store, &key, fetched, 4 * m + 1);
        assert_eq!(added, 2);
        assert_eq!(
            store.series(&key).iter().map(|c| c.t).collect::<Vec<_>>(),
            vec![0, m, 2 * m, 3 * m]
        );
    }

    #[test]
    fn a_gap_the_exchange_no_longer_has_restarts_the_series_after_it() {
        let m = Interval::M15.millis();
        let dir = tempfile::tempdir().unwrap();
        let key = (Exchange::Hyperliquid, "BTC".to_string(), Interval::M15);
        let mut store = CandleStore::new(dir.path());
        store.extend(&key, &[candle(0), candle(m)], usize::MAX);
        let fetched = vec![candle(5 * m), candle(6 * m)];
        assert_eq!(add_fetched(&mut store, &key, fetched, 7 * m + 1), 2);
        assert_eq!(
            store.series(&key).iter().map(|c| c.t).collect::<Vec<_>>(),
            vec![5 * m, 6 * m],
            "never a hole: the series restarts after the gap"
        );
    }

    #[test]
    fn symbols_that_could_escape_the_data_dir_are_refused() {
        assert!(check_symbol("BTC_USDT").is_ok());
        assert!(check_symbol("@107").is_ok());
        assert!(matches!(
            check_symbol("../etc"),
            Err(FetchError::BadSymbol(_))
        ));
        assert!(check_symbol("PURR/USDC").is_err());
        assert!(check_symbol("").is_err());
    }

    #[test]
    fn file_path_follows_the_scanner_convention() {
        let path = candle_file_path(Path::new("data"), "BTC_USDT", Exchange::Mexc, Interval::H4);
        assert_eq!(path, Path::new("data/BTC_USDT_MEXC_4h.json"));
    }
}
