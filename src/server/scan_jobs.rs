//! Background scans started from the dashboard or `POST /api/scan/start`:
//! one job at a time, each a run of the process's `ScanPipeline` (the same
//! one `quantpro scan` uses), its progress published on a `watch` channel
//! (the status route, the SSE stream and the UI's server functions all read
//! it). A finished job has written the master feed atomically and
//! invalidates the `FeedStore`, so the next reader sees the new feed.

use quantpro_core::scan::{ScanObserver, ScanProgress, SkippedFile};
use quantpro_model::{ScanStartRequest, ScanState, ScanStatus};
use quantpro_service::feed_store::FeedStore;
use quantpro_service::pipeline::{PipelineError, PipelineRequest, ScanPipeline};
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
    pipeline: Arc<ScanPipeline>,
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
    pub fn new(pipeline: Arc<ScanPipeline>, feed: Arc<FeedStore>) -> ScanJobs {
        let (status, _) = watch::channel(ScanStatus::idle());
        ScanJobs {
            pipeline,
            feed,
            book: Mutex::new(JobBook {
                last_id: 0,
                started: None,
            }),
            status: Arc::new(status),
            holds: Arc::new(HoldCount::default()),
        }
    }

    /// Starts a scan in the background (a task of the current runtime) and
    /// returns its id; refuses an invalid request, or any request while
    /// another scan runs.
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
            pipeline: self.pipeline.clone(),
            feed: self.feed.clone(),
            status: self.status.clone(),
            holds: self.holds.clone(),
            started,
        };
        tokio::spawn(job.run());
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

/// Everything one job needs on its task.
struct ScanJob {
    id: u64,
    request: ScanStartRequest,
    pipeline: Arc<ScanPipeline>,
    feed: Arc<FeedStore>,
    status: Arc<watch::Sender<ScanStatus>>,
    holds: Arc<HoldCount>,
    started: Instant,
}

impl ScanJob {
    async fn run(self) {
        let observer = Arc::new(JobObserver::new(&self));
        let request = PipelineRequest {
            limit: self.request.limit,
            symbol: self.request.symbol.clone(),
            exchange: self.request.exchange,
            ..PipelineRequest::default()
        };
        // A task of its own: a panic must not leave the job "running"
        // forever (every later start would get 409); it becomes a failure.
        let (pipeline, job_observer) = (self.pipeline.clone(), observer.clone());
        let result = tokio::spawn(async move { pipeline.run(&request, job_observer).await })
            .await
            .unwrap_or_else(|e| Err(PipelineError::Stopped(e.to_string())));
        let mut status = observer.current_status();
        status.elapsed_secs = self.started.elapsed().as_secs_f64();
        match result {
            Ok(report) => {
                // Make the server re-read the feed now, whatever its stamp says.
                self.feed.invalidate();
                let signals = report.summary.signals;
                if let Some(warning) = report.written.warning {
                    status.errors.push(warning);
                }
                if let Some(error) = report.journal.error {
                    status.errors.push(error);
                }
                status.state = ScanState::Finished;
                status.processed = status.total;
                status.signals = signals;
                tracing::info!(
                    "[SCAN] job {} finished: {signals} signals in {:.2} s",
                    self.id,
                    status.elapsed_secs
                );
            }
            Err(err) => {
                tracing::warn!("[SCAN] job {} failed: {err}", self.id);
                status.state = ScanState::Failed;
                status.errors.push(err.to_string());
            }
        }
        self.status.send_replace(status);
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

    fn current_status(&self) -> ScanStatus {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .status
            .clone()
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
