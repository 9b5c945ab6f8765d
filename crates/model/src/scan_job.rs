//! A background scan as the dashboard sees it: its request, state and live
//! progress. Shared by the server (which runs scans) and the browser (which
//! shows the progress bar).

use super::enums::Exchange;
use serde::{Deserialize, Serialize};

/// What the user asked to scan; every field optional (all symbols).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScanStartRequest {
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub symbol: Option<String>,
    #[serde(default)]
    pub exchange: Option<Exchange>,
}

/// Lifecycle of a scan job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanState {
    /// No scan has run since the server started.
    Idle,
    Running,
    Finished,
    Failed,
}

/// Snapshot of the current (or last) scan job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanStatus {
    /// Job id, increasing from 1; 0 while idle.
    pub id: u64,
    pub state: ScanState,
    /// Symbols done (scanned or skipped) out of `total`.
    pub processed: usize,
    pub total: usize,
    /// Signals produced so far.
    pub signals: usize,
    /// Skipped files and failures, each `file: reason`.
    pub errors: Vec<String>,
    /// Seconds since the job started (final duration once finished).
    pub elapsed_secs: f64,
    pub request: ScanStartRequest,
}

impl ScanStatus {
    pub fn idle() -> ScanStatus {
        ScanStatus {
            id: 0,
            state: ScanState::Idle,
            processed: 0,
            total: 0,
            signals: 0,
            errors: Vec::new(),
            elapsed_secs: 0.0,
            request: ScanStartRequest::default(),
        }
    }

    /// Progress in percent (100 when finished, 0 before the total is known).
    pub fn percent(&self) -> f64 {
        match self.state {
            ScanState::Finished => 100.0,
            _ if self.total == 0 => 0.0,
            _ => 100.0 * self.processed as f64 / self.total as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_follows_processed_and_is_full_when_finished() {
        let mut status = ScanStatus {
            total: 8,
            processed: 2,
            state: ScanState::Running,
            ..ScanStatus::idle()
        };
        assert_eq!(status.percent(), 25.0);
        status.state = ScanState::Finished;
        assert_eq!(status.percent(), 100.0);
        assert_eq!(ScanStatus::idle().percent(), 0.0);
    }

    #[test]
    fn start_request_accepts_an_empty_object() {
        let req: ScanStartRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(req, ScanStartRequest::default());
        let req: ScanStartRequest =
            serde_json::from_str(r#"{"limit":5,"exchange":"BINANCE"}"#).unwrap();
        assert_eq!(req.limit, Some(5));
        assert_eq!(req.exchange, Some(Exchange::Binance));
    }
}
