//! `GET /api/scan/events`: the scan status as Server-Sent Events, for the
//! dashboard's progress bar and for scripts (`curl -N`). The current status
//! is sent at once, then every change: `event: progress` while a job runs
//! (or nothing has run yet), `event: done` when it finished or failed. The
//! stream stays open across jobs and ends when the server shuts down.

use super::state::AppState;
use crate::model::{ScanState, ScanStatus};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;

/// Comment lines keep proxies and the browser from timing the stream out.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub async fn scan_events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let updates = StatusUpdates {
        status: state.scans.subscribe(),
        shutdown: state.shutdown_signal(),
        first: true,
    };
    let events = stream::unfold(updates, |mut updates| async move {
        let status = updates.next().await?;
        Some((Ok(status_event(&status)), updates))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// The SSE event of one status: its JSON under the name of its phase.
pub fn status_event(status: &ScanStatus) -> Event {
    let name = match status.state {
        ScanState::Finished | ScanState::Failed => "done",
        ScanState::Idle | ScanState::Running => "progress",
    };
    let data = serde_json::to_string(status).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#));
    Event::default()
        .event(name)
        .id(status.id.to_string())
        .data(data)
}

struct StatusUpdates {
    status: watch::Receiver<ScanStatus>,
    shutdown: watch::Receiver<bool>,
    first: bool,
}

impl StatusUpdates {
    /// The current status first, then each change; `None` at shutdown.
    async fn next(&mut self) -> Option<ScanStatus> {
        if !std::mem::take(&mut self.first) {
            tokio::select! {
                changed = self.status.changed() => changed.ok()?,
                _ = self.shutdown.wait_for(|stop| *stop) => return None,
            }
        }
        if *self.shutdown.borrow() {
            return None;
        }
        Some(self.status.borrow_and_update().clone())
    }
}
