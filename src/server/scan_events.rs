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
//!
//! With a live market: `event: live` (data `{"status": model::LiveStatus,
//! "view": model::MarketView}`: each venue's stream state, current, stale
//! and delisted counts, next close, rate-limit waits, row marks, and the
//! same worded for the page) at once and when it changes (at most every
//! second), and `event: rows` (data `{"last_updated", "rows": [TableRow]}`)
//! with the rows a rescan at a close changed, as soon as the feed has them.
//!
//! `event: alert` (data `alerts::Alert`: title, lines, link, setup, rule)
//! for each alert whose channels include `browser`, for a toast.

use super::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use quantpro_model::TableRow;
use quantpro_model::{LiveStatus, ScanState, ScanStatus};
use quantpro_service::alerts::Alert;
use quantpro_service::feed_store::FeedStore;
use quantpro_service::live::Rescan;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// `live` events go out at most this often.
const LIVE_EVERY: Duration = Duration::from_secs(1);

/// True once the live status changed and `LIVE_EVERY` has passed since the
/// last `live` event; never without a live loop (or once it is gone).
async fn live_changed(
    live: &mut Option<watch::Receiver<LiveStatus>>,
    last_sent: Option<tokio::time::Instant>,
) -> bool {
    let Some(receiver) = live else {
        return std::future::pending().await;
    };
    if receiver.changed().await.is_err() {
        return std::future::pending().await;
    }
    if let Some(sent) = last_sent {
        tokio::time::sleep_until(sent + LIVE_EVERY).await;
    }
    true
}

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
        live: state.live.as_ref().map(|live| live.status()),
        first_live: true,
        live_sent: None,
        changes: state.feed_changes(),
        alerts: state.alerter.subscribe(),
    };
    let events = stream::unfold(updates, |mut updates| async move {
        let event = match updates.next().await? {
            Update::Status(status) => status_event(&status),
            Update::Feed(last_updated) => feed_event(last_updated),
            Update::Live(status) => json_event(
                "live",
                &serde_json::json!({ "view": status.view(), "status": status }),
            ),
            Update::Rows(rows) => json_event("rows", &rows),
            Update::Alert(alert) => json_event("alert", &alert),
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

/// An event whose data is `value` as JSON.
fn json_event(name: &str, value: &impl serde::Serialize) -> Event {
    let data = serde_json::to_string(value).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#));
    Event::default().event(name).data(data)
}

/// The data of a `rows` event: the rows a live rescan changed.
#[derive(serde::Serialize)]
pub struct ChangedRows {
    pub last_updated: i64,
    pub rows: Vec<TableRow>,
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
    /// The live market's status line and row marks.
    Live(LiveStatus),
    /// The rows a live rescan changed.
    Rows(ChangedRows),
    /// An alert for the `browser` channel.
    Alert(Box<Alert>),
}

struct DashboardUpdates {
    status: watch::Receiver<ScanStatus>,
    shutdown: watch::Receiver<bool>,
    first_status: bool,
    feed: Arc<FeedStore>,
    feed_check: tokio::time::Interval,
    /// What the last `feed` event said; `None` before the first one.
    feed_sent: Option<i64>,
    /// The live loop's status, when the server runs one.
    live: Option<watch::Receiver<LiveStatus>>,
    first_live: bool,
    /// When the last `live` event went out (they are sent at most every
    /// `LIVE_EVERY`: the status changes with every arrival).
    live_sent: Option<tokio::time::Instant>,
    changes: broadcast::Receiver<Rescan>,
    alerts: broadcast::Receiver<Alert>,
}

impl DashboardUpdates {
    /// The current status first, then each status change and each change of
    /// the feed file (checked every `FEED_CHECK`); `None` at shutdown.
    async fn next(&mut self) -> Option<Update> {
        if std::mem::take(&mut self.first_status) {
            return self.current_status();
        }
        if std::mem::take(&mut self.first_live) {
            if let Some(live) = &mut self.live {
                self.live_sent = Some(tokio::time::Instant::now());
                return Some(Update::Live(live.borrow_and_update().clone()));
            }
        }
        enum Woke {
            Status,
            FeedCheck,
            Live,
            Rescan(Rescan),
            Alert(Box<Alert>),
            Shutdown,
        }
        loop {
            let woke = tokio::select! {
                changed = self.status.changed() => match changed {
                    Ok(()) => Woke::Status,
                    Err(_) => Woke::Shutdown,
                },
                _ = self.feed_check.tick() => Woke::FeedCheck,
                true = live_changed(&mut self.live, self.live_sent) => Woke::Live,
                rescan = self.changes.recv() => match rescan {
                    Ok(rescan) => Woke::Rescan(rescan),
                    // Missed some: the feed check catches up.
                    Err(_) => Woke::FeedCheck,
                },
                alert = self.alerts.recv() => match alert {
                    Ok(alert) => Woke::Alert(Box::new(alert)),
                    // Missed some (the log has them) or no alerter: nothing to send.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => Woke::Shutdown,
                },
                _ = self.shutdown.wait_for(|stop| *stop) => Woke::Shutdown,
            };
            match woke {
                Woke::Status => return self.current_status(),
                Woke::FeedCheck => {
                    if let Some(update) = self.feed_change().await {
                        return Some(update);
                    }
                }
                Woke::Live => {
                    if let Some(live) = &mut self.live {
                        self.live_sent = Some(tokio::time::Instant::now());
                        return Some(Update::Live(live.borrow_and_update().clone()));
                    }
                }
                Woke::Rescan(rescan) => {
                    if let Some(rows) = self.changed_rows(&rescan).await {
                        return Some(Update::Rows(rows));
                    }
                }
                Woke::Alert(alert) => return Some(Update::Alert(alert)),
                Woke::Shutdown => return None,
            }
        }
    }

    /// The rows of the rescanned symbols in the feed now on disk; the
    /// `feed` event that would announce the same feed is then not sent.
    async fn changed_rows(&mut self, rescan: &Rescan) -> Option<ChangedRows> {
        let snapshot = self.feed.load().await.ok()?;
        let wanted: std::collections::BTreeSet<&(quantpro_model::Exchange, String)> =
            rescan.symbols.iter().collect();
        let rows = snapshot
            .feed
            .signals
            .iter()
            .filter(|s| wanted.contains(&(s.exchange, s.symbol.clone())))
            .map(super::state::table_row)
            .collect();
        self.feed_sent = Some(snapshot.feed.last_updated);
        Some(ChangedRows {
            last_updated: snapshot.feed.last_updated,
            rows,
        })
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
