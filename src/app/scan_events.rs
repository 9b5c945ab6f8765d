//! Live scan progress in the browser: subscribes to the server's
//! `/api/scan/events` stream (Server-Sent Events, `event: progress` and
//! `event: done`, data = `ScanStatus` JSON) with the browser's EventSource,
//! keeps `DashboardState::scan` current, and refetches the feed when a job
//! finishes so the table fills. `event: feed` (data `{"last_updated": ms}`)
//! says which feed is on disk: one the page does not show yet (written by
//! `quantpro scan` from cron, say) is fetched too, as is the feed a `rows`
//! event of the live market announces; `event: live` updates the market's
//! status lines; `event: alert` (an alert of the `browser` channel) is a
//! toast (`alert_toasts`). On the server (SSR) this
//! does nothing: the page renders without a live status and the stream
//! starts after hydration.

use super::alert_toasts::AlertToast;
use super::dashboard_state::DashboardState;
use quantpro_model::{MarketView, ScanStatus};

/// What one event means for the page.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq)]
pub enum ScanEvent {
    /// A new status to show; `refetch_feed` when a job finished since the
    /// stream connected (the feed file was rewritten).
    Status {
        status: ScanStatus,
        refetch_feed: bool,
    },
    /// The `last_updated` of the feed now on disk (a `feed` event, or a
    /// `rows` event of the live market: the page then fetches that feed).
    FeedOnDisk(i64),
    /// The live market's status lines and row marks.
    Market(MarketView),
    /// An alert to show.
    Alert(AlertToast),
    /// An event whose data is not a status (ignored, logged).
    Unreadable(String),
}

/// The data of a `feed` event (and the part of a `rows` event the page reads).
#[derive(serde::Deserialize)]
struct FeedVersion {
    last_updated: i64,
}

/// The part of a `live` event the page reads.
#[derive(serde::Deserialize)]
struct LiveEvent {
    view: MarketView,
}

/// Turns the stream's events into `ScanEvent`s, remembering which finished
/// job the page has already seen.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Default)]
pub struct ScanEventReader {
    /// Id of the last finished job seen; the first event only sets it, as
    /// the page's feed already includes that job.
    last_done: Option<u64>,
    seen_any: bool,
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl ScanEventReader {
    pub fn read(&mut self, event_name: &str, data: &str) -> ScanEvent {
        // From bytes, like every other JSON the browser reads (see `codec`).
        if event_name == "feed" || event_name == "rows" {
            return match serde_json::from_slice::<FeedVersion>(data.as_bytes()) {
                Ok(version) => ScanEvent::FeedOnDisk(version.last_updated),
                Err(err) => ScanEvent::Unreadable(format!("{event_name}: {err}")),
            };
        }
        if event_name == "alert" {
            return match serde_json::from_slice::<AlertToast>(data.as_bytes()) {
                Ok(alert) => ScanEvent::Alert(alert),
                Err(err) => ScanEvent::Unreadable(format!("alert: {err}")),
            };
        }
        if event_name == "live" {
            return match serde_json::from_slice::<LiveEvent>(data.as_bytes()) {
                Ok(live) => ScanEvent::Market(live.view),
                Err(err) => ScanEvent::Unreadable(format!("live: {err}")),
            };
        }
        let status: ScanStatus = match serde_json::from_slice(data.as_bytes()) {
            Ok(status) => status,
            Err(err) => return ScanEvent::Unreadable(format!("{event_name}: {err}")),
        };
        let first = !std::mem::replace(&mut self.seen_any, true);
        let mut refetch_feed = false;
        if event_name == "done" {
            refetch_feed = !first && self.last_done != Some(status.id);
            self.last_done = Some(status.id);
        }
        ScanEvent::Status {
            status,
            refetch_feed,
        }
    }
}

/// Follows the scan jobs for as long as the page lives.
pub fn follow_scans(state: DashboardState) {
    #[cfg(feature = "hydrate")]
    browser::follow(state);
    #[cfg(not(feature = "hydrate"))]
    let _ = state;
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{DashboardState, ScanEvent, ScanEventReader};
    use leptos::prelude::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{Event, EventSource, MessageEvent};

    const EVENTS_URL: &str = "/api/scan/events";
    /// The stream's event names (`server::scan_events`).
    const EVENT_NAMES: [&str; 6] = ["progress", "done", "feed", "rows", "live", "alert"];
    /// Wait before reconnecting after the browser gave the stream up (the
    /// server answered with an error); it retries a dropped connection by
    /// itself.
    const RECONNECT_DELAY: Duration = Duration::from_secs(3);

    pub fn follow(state: DashboardState) {
        let stopped = Arc::new(AtomicBool::new(false));
        on_cleanup({
            let stopped = stopped.clone();
            move || stopped.store(true, Ordering::Relaxed)
        });
        // An effect runs in the browser only, after hydration.
        Effect::new(move |_| connect(state, stopped.clone()));
    }

    /// Opens the stream and hands every event to one handler. The browser's
    /// EventSource calls it directly (no stream adapters in between: this
    /// is the whole of the page's event plumbing, kept small for the WASM
    /// budget).
    fn connect(state: DashboardState, stopped: Arc<AtomicBool>) {
        let source = match EventSource::new(EVENTS_URL) {
            Ok(source) => source,
            Err(err) => {
                leptos::logging::warn!("scan events: {err:?}");
                return;
            }
        };
        let mut listener = Listener {
            state,
            reader: ScanEventReader::default(),
            fetched_for: None,
        };
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let source = source.clone();
            let stopped = stopped.clone();
            move |event: MessageEvent| {
                if stopped.load(Ordering::Relaxed) {
                    source.close();
                    return;
                }
                let data = event.data().as_string().unwrap_or_default();
                let event = listener.reader.read(&event.type_(), &data);
                listener.handle(event);
            }
        });
        for name in EVENT_NAMES {
            let _ =
                source.add_event_listener_with_callback(name, on_message.as_ref().unchecked_ref());
        }
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| state.live.set(true));
        let on_error = Closure::<dyn FnMut(Event)>::new({
            let source = source.clone();
            move |_: Event| {
                state.live.set(false);
                if source.ready_state() == EventSource::CLOSED && !stopped.load(Ordering::Relaxed) {
                    let stopped = stopped.clone();
                    set_timeout(move || connect(state, stopped), RECONNECT_DELAY);
                }
            }
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // The handlers live as long as the stream, which lives as long as
        // the page (or until it is given up and replaced).
        on_message.forget();
        on_open.forget();
        on_error.forget();
    }

    /// What the page keeps between events.
    struct Listener {
        state: DashboardState,
        reader: ScanEventReader,
        /// The feed version last fetched for a `feed` event, so a slow
        /// fetch is not started twice.
        fetched_for: Option<i64>,
    }

    impl Listener {
        fn handle(&mut self, event: ScanEvent) {
            let state = self.state;
            match event {
                ScanEvent::Status {
                    status,
                    refetch_feed,
                } => {
                    state.scan.set(Some(status));
                    if refetch_feed {
                        state.feed.refetch();
                    }
                }
                ScanEvent::FeedOnDisk(on_disk) => {
                    let shown = state.shown_feed.get_untracked();
                    if shown.is_some_and(|shown| shown != on_disk)
                        && self.fetched_for != Some(on_disk)
                    {
                        self.fetched_for = Some(on_disk);
                        state.feed.refetch();
                    }
                }
                ScanEvent::Market(view) => state.market.set(Some(view)),
                ScanEvent::Alert(alert) => state.toasts.show(alert),
                ScanEvent::Unreadable(reason) => leptos::logging::warn!("scan events: {reason}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::ScanState;

    fn data(id: u64, state: ScanState) -> String {
        serde_json::to_string(&ScanStatus {
            id,
            state,
            ..ScanStatus::idle()
        })
        .unwrap()
    }

    fn refetches(event: ScanEvent) -> bool {
        match event {
            ScanEvent::Status { refetch_feed, .. } => refetch_feed,
            other => panic!("a status, not {other:?}"),
        }
    }

    #[test]
    fn feed_events_name_the_feed_on_disk() {
        let mut reader = ScanEventReader::default();
        assert_eq!(
            reader.read("feed", r#"{"last_updated":1767225600000}"#),
            ScanEvent::FeedOnDisk(1_767_225_600_000)
        );
        assert!(matches!(
            reader.read("feed", r#"{"last":1}"#),
            ScanEvent::Unreadable(reason) if reason.starts_with("feed: ")
        ));
        // A feed event is not a status: the next `done` is still the first.
        assert!(!refetches(
            reader.read("done", &data(2, ScanState::Finished))
        ));
    }

    #[test]
    fn live_and_rows_events_of_the_market() {
        let mut reader = ScanEventReader::default();
        assert_eq!(
            reader.read("rows", r#"{"last_updated":5,"rows":[]}"#),
            ScanEvent::FeedOnDisk(5)
        );
        let view = MarketView {
            lines: vec!["BINANCE futures: streaming".into()],
            marks: vec![],
        };
        let data = serde_json::json!({"status": {"venues": []}, "view": view}).to_string();
        assert_eq!(reader.read("live", &data), ScanEvent::Market(view));
        assert!(matches!(
            reader.read("live", "{}"),
            ScanEvent::Unreadable(_)
        ));
    }

    #[test]
    fn alert_events_are_toasts() {
        let mut reader = ScanEventReader::default();
        let data = serde_json::json!({"id": "r|BINANCE|AAAUSDT|Breakout|0|signal",
            "title": "AAAUSDT LONG · Breakout · BINANCE", "lines": ["score 72.5"],
            "link": "http://127.0.0.1:3000/signal/BINANCE/AAAUSDT/Breakout", "rule": "r"})
        .to_string();
        assert_eq!(
            reader.read("alert", &data),
            ScanEvent::Alert(AlertToast {
                id: "r|BINANCE|AAAUSDT|Breakout|0|signal".into(),
                title: "AAAUSDT LONG · Breakout · BINANCE".into(),
                lines: vec!["score 72.5".into()],
                link: Some("http://127.0.0.1:3000/signal/BINANCE/AAAUSDT/Breakout".into()),
            })
        );
        assert!(matches!(
            reader.read("alert", "{}"),
            ScanEvent::Unreadable(reason) if reason.starts_with("alert: ")
        ));
    }

    #[test]
    fn only_a_job_finishing_after_connection_refetches_the_feed() {
        let mut reader = ScanEventReader::default();
        // The stream starts with the last job, already in the page's feed.
        assert!(!refetches(
            reader.read("done", &data(4, ScanState::Finished))
        ));
        assert!(!refetches(
            reader.read("progress", &data(5, ScanState::Running))
        ));
        assert!(refetches(
            reader.read("done", &data(5, ScanState::Finished))
        ));
        // A repeated final status does not refetch twice.
        assert!(!refetches(
            reader.read("done", &data(5, ScanState::Finished))
        ));
        assert!(refetches(reader.read("done", &data(6, ScanState::Failed))));
    }

    #[test]
    fn a_first_progress_event_then_done_refetches() {
        let mut reader = ScanEventReader::default();
        assert!(!refetches(
            reader.read("progress", &data(1, ScanState::Running))
        ));
        assert!(refetches(
            reader.read("done", &data(1, ScanState::Finished))
        ));
        assert!(matches!(
            reader.read("progress", "{not json"),
            ScanEvent::Unreadable(_)
        ));
    }
}
