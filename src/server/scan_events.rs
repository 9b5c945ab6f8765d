//! `GET /api/scan/events`: the scan status as Server-Sent Events, for the
//! dashboard's progress bar and for scripts (`curl -N`). The current status
//! is sent at once, then every change: `event: progress` while a job runs
//! (or nothing has run yet), `event: done` when it finished or failed. The
//! stream stays open across jobs and ends when the server shuts down.
//!
//! `event: feed` (data `{"last_updated": ms}`, 0 when there is no readable
//! feed) is sent at once and whenever the feed file changes, whoever wrote
//! it (a scan of this server, `quantpro scan` from cron, a copy), so a
//! dashboard left open all day shows the newest feed without a reload.

use super::feed_store::FeedStore;
use super::state::AppState;
use crate::model::{ScanState, ScanStatus};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Comment lines keep proxies and the browser from timing the stream out.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How often an open stream checks the feed file (a `stat`; the file is
/// parsed only when it changed).
const FEED_CHECK: Duration = Duration::from_secs(2);

pub async fn scan_events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut feed_check = tokio::time::interval(FEED_CHECK);
    feed_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let updates = DashboardUpdates {
        status: state.scans.subscribe(),
        shutdown: state.shutdown_signal(),
        first_status: true,
        feed: state.feed.clone(),
        feed_check,
        feed_sent: None,
    };
    let events = stream::unfold(updates, |mut updates| async move {
        let event = match updates.next().await? {
            Update::Status(status) => status_event(&status),
            Update::Feed(last_updated) => feed_event(last_updated),
        };
        Some((Ok(event), updates))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// The `feed` event: the `last_updated` of the feed now on disk.
fn feed_event(last_updated: i64) -> Event {
    Event::default()
        .event("feed")
        .data(format!(r#"{{"last_updated":{last_updated}}}"#))
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

enum Update {
    Status(ScanStatus),
    /// The feed's `last_updated` (0: no readable feed).
    Feed(i64),
}

struct DashboardUpdates {
    status: watch::Receiver<ScanStatus>,
    shutdown: watch::Receiver<bool>,
    first_status: bool,
    feed: Arc<FeedStore>,
    feed_check: tokio::time::Interval,
    /// What the last `feed` event said; `None` before the first one.
    feed_sent: Option<i64>,
}

impl DashboardUpdates {
    /// The current status first, then each status change and each change of
    /// the feed file (checked every `FEED_CHECK`); `None` at shutdown.
    async fn next(&mut self) -> Option<Update> {
        if std::mem::take(&mut self.first_status) {
            return self.current_status();
        }
        enum Woke {
            Status,
            FeedCheck,
            Shutdown,
        }
        loop {
            let woke = tokio::select! {
                changed = self.status.changed() => match changed {
                    Ok(()) => Woke::Status,
                    Err(_) => Woke::Shutdown,
                },
                _ = self.feed_check.tick() => Woke::FeedCheck,
                _ = self.shutdown.wait_for(|stop| *stop) => Woke::Shutdown,
            };
            match woke {
                Woke::Status => return self.current_status(),
                Woke::FeedCheck => {
                    if let Some(update) = self.feed_change().await {
                        return Some(update);
                    }
                }
                Woke::Shutdown => return None,
            }
        }
    }

    fn current_status(&mut self) -> Option<Update> {
        if *self.shutdown.borrow() {
            return None;
        }
        Some(Update::Status(self.status.borrow_and_update().clone()))
    }

    /// `Update::Feed` when the feed's `last_updated` differs from the last
    /// one sent (the first check always sends).
    async fn feed_change(&mut self) -> Option<Update> {
        let last_updated = self
            .feed
            .load()
            .await
            .map_or(0, |snapshot| snapshot.feed.last_updated);
        if self.feed_sent == Some(last_updated) {
            return None;
        }
        self.feed_sent = Some(last_updated);
        Some(Update::Feed(last_updated))
    }
}
