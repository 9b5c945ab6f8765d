//! Background scans started from the dashboard or `POST /api/scan/start`:
//! one job at a time, run by the scanner core on a blocking thread, its
//! progress published on a `watch` channel (the status route, the SSE
//! stream and the UI's server functions all read it). A finished job writes
//! the master feed atomically and invalidates the `FeedStore`, so the next
//! reader sees the new feed.

use super::feed_store::FeedStore;
use super::state::DataPaths;
use crate::core::config::load_config;
use crate::core::external::ExternalDataMap;
use crate::core::feed_merge::{update_feed, FeedUpdate};
use crate::core::scan::{
    run_scan, scan_symbols, ScanObserver, ScanProgress, ScanRequest, SkippedFile,
};
use crate::model::{ScanStartRequest, ScanState, ScanStatus};
use crate::sources::enrich::gather_external_data;
use crate::sources::keys::ApiKeys;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest symbol a scan request may name (exchange symbols are far shorter).
pub const MAX_SYMBOL_LEN: usize = 32;

/// Progress updates are published at most this often (the final state always is).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);

/// A scan request the server refuses before starting anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidScanRequest {
    #[error("'limit' must be at least 1 (omit it to scan every symbol)")]
    ZeroLimit,
    #[error("'symbol' must not be empty (omit it to scan every symbol)")]
    EmptySymbol,
    #[error("'symbol' is {len} characters long; at most {MAX_SYMBOL_LEN} are allowed")]
    SymbolTooLong { len: usize },
    #[error("'symbol' {symbol:?} may only contain letters, digits, '_', '-' and '@'")]
    SymbolCharacters { symbol: String },
}

/// A scan is already running; its id lets the caller follow it instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a scan is already running (job {running_id}); wait for it to finish")]
pub struct ScanConflict {
    pub running_id: u64,
}

/// Why `ScanJobs::start` did not start a scan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanStartError {
    #[error(transparent)]
    Invalid(#[from] InvalidScanRequest),
    #[error(transparent)]
    Conflict(#[from] ScanConflict),
}

/// Checks what the user typed before a thread is spent on it.
pub fn validate_scan_request(request: &ScanStartRequest) -> Result<(), InvalidScanRequest> {
    if request.limit == Some(0) {
        return Err(InvalidScanRequest::ZeroLimit);
    }
    if let Some(symbol) = &request.symbol {
        let len = symbol.chars().count();
        if len == 0 {
            return Err(InvalidScanRequest::EmptySymbol);
        }
        if len > MAX_SYMBOL_LEN {
            return Err(InvalidScanRequest::SymbolTooLong { len });
        }
        if !symbol
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@'))
        {
            return Err(InvalidScanRequest::SymbolCharacters {
                symbol: symbol.clone(),
            });
        }
    }
    Ok(())
}

/// The server's scan jobs: at most one running, the last one's status kept.
pub struct ScanJobs {
    paths: Arc<DataPaths>,
    feed: Arc<FeedStore>,
    /// Serialises `start` so two requests cannot both see "not running".
    book: Mutex<JobBook>,
    status: Arc<watch::Sender<ScanStatus>>,
    holds: Arc<HoldCount>,
}

struct JobBook {
    last_id: u64,
    /// When the current (or last) job started, for a live `elapsed_secs`.
    started: Option<Instant>,
}

impl ScanJobs {
    pub fn new(paths: Arc<DataPaths>, feed: Arc<FeedStore>) -> ScanJobs {
        let (status, _) = watch::channel(ScanStatus::idle());
        ScanJobs {
            paths,
            feed,
            book: Mutex::new(JobBook {
                last_id: 0,
                started: None,
            }),
            status: Arc::new(status),
            holds: Arc::new(HoldCount::default()),
        }
    }

    /// Starts a scan in the background and returns its id; refuses an
    /// invalid request, or any request while another scan runs.
    pub fn start(&self, request: ScanStartRequest) -> Result<u64, ScanStartError> {
        validate_scan_request(&request)?;
        let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        {
            let current = self.status.borrow();
            if current.state == ScanState::Running {
                return Err(ScanConflict {
                    running_id: current.id,
                }
                .into());
            }
        }
        let started = Instant::now();
        book.last_id += 1;
        book.started = Some(started);
        let id = book.last_id;
        self.status.send_replace(ScanStatus {
            id,
            state: ScanState::Running,
            request: request.clone(),
            ..ScanStatus::idle()
        });
        drop(book);
        tracing::info!("[SCAN] job {id} started: {request:?}");

        let job = ScanJob {
            id,
            request,
            paths: self.paths.clone(),
            feed: self.feed.clone(),
            status: self.status.clone(),
            holds: self.holds.clone(),
            runtime: tokio::runtime::Handle::try_current().ok(),
            started,
        };
        match job.runtime.clone() {
            Some(handle) => {
                handle.spawn_blocking(move || job.run());
            }
            // Outside a runtime (a CLI or a plain unit test): a thread of its own.
            None => {
                std::thread::spawn(move || job.run());
            }
        }
        Ok(id)
    }

    /// The current (or last) job; `elapsed_secs` is live while it runs.
    pub fn status(&self) -> ScanStatus {
        let mut status = self.status.borrow().clone();
        if status.state == ScanState::Running {
            let book = self.book.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(started) = book.started {
                status.elapsed_secs = started.elapsed().as_secs_f64();
            }
        }
        status
    }

    /// Every status change from now on (the receiver starts at the current
    /// one); progress is throttled, the final state is always sent.
    pub fn subscribe(&self) -> watch::Receiver<ScanStatus> {
        self.status.subscribe()
    }

    /// Pauses running scans after their next symbol until the returned guard
    /// is dropped, so a test can observe a running job (409, progress events)
    /// without racing it. The job's progress is published before it waits.
    pub fn hold(&self) -> ScanHold {
        self.holds.add(1);
        ScanHold {
            holds: self.holds.clone(),
        }
    }
}

/// While alive, running scans wait after each symbol; see `ScanJobs::hold`.
#[must_use = "the scan is released as soon as the hold is dropped"]
pub struct ScanHold {
    holds: Arc<HoldCount>,
}

impl Drop for ScanHold {
    fn drop(&mut self) {
        self.holds.add(-1);
    }
}

#[derive(Default)]
struct HoldCount {
    count: Mutex<i64>,
    changed: Condvar,
}

impl HoldCount {
    fn add(&self, delta: i64) {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        *count += delta;
        self.changed.notify_all();
    }

    fn wait_released(&self) {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        while *count > 0 {
            count = self.changed.wait(count).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn is_held(&self) -> bool {
        *self.count.lock().unwrap_or_else(|e| e.into_inner()) > 0
    }
}

/// Everything one job needs on its thread.
struct ScanJob {
    id: u64,
    request: ScanStartRequest,
    paths: Arc<DataPaths>,
    feed: Arc<FeedStore>,
    status: Arc<watch::Sender<ScanStatus>>,
    holds: Arc<HoldCount>,
    runtime: Option<tokio::runtime::Handle>,
    started: Instant,
}

impl ScanJob {
    fn run(self) {
        let observer = JobObserver::new(&self);
        // A panic must not leave the job "running" forever (every later start
        // would get 409): it becomes a failure like any other.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.scan_and_write(&observer)
        }))
        .unwrap_or_else(|_| Err("the scan stopped unexpectedly (see the server log)".to_string()));
        let mut status = observer.into_status();
        status.elapsed_secs = self.started.elapsed().as_secs_f64();
        match result {
            Ok(signals) => {
                status.state = ScanState::Finished;
                status.processed = status.total;
                status.signals = signals;
                tracing::info!(
                    "[SCAN] job {} finished: {signals} signals in {:.2} s",
                    self.id,
                    status.elapsed_secs
                );
            }
            Err(message) => {
                tracing::warn!("[SCAN] job {} failed: {message}", self.id);
                status.state = ScanState::Failed;
                status.errors.push(message);
            }
        }
        self.status.send_replace(status);
    }

    /// Scans, writes the feed (a partial request updates only its symbols'
    /// signals, see `feed_merge`) and makes the server re-read it; returns
    /// the number of signals this scan found.
    fn scan_and_write(&self, observer: &JobObserver) -> Result<usize, String> {
        let config = load_config(&self.paths.config_path).map_err(|e| e.to_string())?;
        let request = ScanRequest {
            data_dir: self.paths.data_dir.clone(),
            limit: self.request.limit,
            symbol: self.request.symbol.clone(),
            exchange: self.request.exchange,
            now_ms: None,
        };
        let external = self.external_data(&request, observer);
        let outcome =
            run_scan(&request, &config, &external, observer).map_err(|e| e.to_string())?;
        if outcome.summary.symbols_total == 0 {
            // An empty scan would replace a good feed with nothing.
            return Err(format!(
                "no symbol with both 15m and 4h candles matches this request in {}; the feed was left unchanged",
                self.paths.data_dir.display()
            ));
        }
        let found = outcome.feed.signals.len();
        let written = update_feed(
            &self.paths.feed_path,
            outcome.feed,
            FeedUpdate::for_request(&request),
        )
        .map_err(|e| e.to_string())?;
        if let Some(warning) = written.warning {
            tracing::warn!("[SCAN] job {}: {warning}", self.id);
            observer.add_error(warning);
        }
        self.feed.invalidate();
        Ok(found)
    }

    /// Coinalyze data when `COINALYZE_API_KEY` is set, else none (the
    /// signals then say the data is unavailable).
    fn external_data(&self, request: &ScanRequest, observer: &JobObserver) -> ExternalDataMap {
        let keys = match ApiKeys::load(Path::new(".env")) {
            Ok(keys) => keys,
            Err(err) => {
                observer.add_error(err.to_string());
                return ExternalDataMap::new();
            }
        };
        if keys.coinalyze.is_none() {
            return ExternalDataMap::new();
        }
        let symbols = match scan_symbols(request) {
            Ok(symbols) => symbols,
            // run_scan reports the same problem as the job's failure.
            Err(_) => return ExternalDataMap::new(),
        };
        let cache_dir = self.paths.data_dir.join(".cache");
        let gather = gather_external_data(&symbols, &keys, &cache_dir, false);
        match &self.runtime {
            Some(handle) => handle.block_on(gather),
            None => match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(gather),
                Err(err) => {
                    observer.add_error(format!(
                        "cannot start the runtime for Coinalyze requests: {err}"
                    ));
                    ExternalDataMap::new()
                }
            },
        }
    }
}

/// Turns the scanner's per-symbol callbacks into throttled status updates.
struct JobObserver {
    progress: Mutex<ProgressBook>,
    sender: Arc<watch::Sender<ScanStatus>>,
    holds: Arc<HoldCount>,
    started: Instant,
}

struct ProgressBook {
    status: ScanStatus,
    last_sent: Option<Instant>,
}

impl JobObserver {
    fn new(job: &ScanJob) -> JobObserver {
        JobObserver {
            progress: Mutex::new(ProgressBook {
                status: job.status.borrow().clone(),
                last_sent: None,
            }),
            sender: job.status.clone(),
            holds: job.holds.clone(),
            started: job.started,
        }
    }

    fn update(&self, force: bool, change: impl FnOnce(&mut ScanStatus)) {
        let mut book = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut book.status);
        let due = book
            .last_sent
            .is_none_or(|t| t.elapsed() >= PROGRESS_INTERVAL);
        if force || due {
            book.status.elapsed_secs = self.started.elapsed().as_secs_f64();
            book.last_sent = Some(Instant::now());
            self.sender.send_replace(book.status.clone());
        }
    }

    fn add_error(&self, message: String) {
        self.update(false, |status| status.errors.push(message));
    }

    fn into_status(self) -> ScanStatus {
        self.progress
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .status
    }
}

impl ScanObserver for JobObserver {
    fn on_start(&self, total: usize) {
        self.update(true, |status| status.total = total);
    }

    fn on_progress(&self, progress: ScanProgress) {
        let held = self.holds.is_held();
        self.update(held, |status| {
            // Workers finish out of order: never let the bar go backwards.
            status.processed = status.processed.max(progress.processed);
            status.signals = status.signals.max(progress.signals);
        });
        if held {
            self.holds.wait_released();
        }
    }

    fn on_skip(&self, skip: &SkippedFile) {
        self.add_error(format!("{}: {}", skip.file, skip.reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(limit: Option<usize>, symbol: Option<&str>) -> ScanStartRequest {
        ScanStartRequest {
            limit,
            symbol: symbol.map(str::to_string),
            exchange: None,
        }
    }

    #[test]
    fn validation_accepts_plain_requests_and_names_the_problem() {
        assert_eq!(validate_scan_request(&ScanStartRequest::default()), Ok(()));
        assert_eq!(
            validate_scan_request(&request(Some(3), Some("1000PEPE_USDT-x@y"))),
            Ok(())
        );
        assert_eq!(
            validate_scan_request(&request(Some(0), None)),
            Err(InvalidScanRequest::ZeroLimit)
        );
        assert_eq!(
            validate_scan_request(&request(None, Some(""))),
            Err(InvalidScanRequest::EmptySymbol)
        );
        assert_eq!(
            validate_scan_request(&request(None, Some(&"A".repeat(33)))),
            Err(InvalidScanRequest::SymbolTooLong { len: 33 })
        );
        assert_eq!(
            validate_scan_request(&request(None, Some(&"A".repeat(32)))),
            Ok(())
        );
        for bad in ["BTC USDT", "../etc", "BTC/USDT", "ÄTH"] {
            assert!(
                matches!(
                    validate_scan_request(&request(None, Some(bad))),
                    Err(InvalidScanRequest::SymbolCharacters { .. })
                ),
                "{bad}"
            );
        }
    }
}
