//! The dashboard's shared state, in context for every panel: the feed and
//! the live status of the current scan (`DashboardState`), and the writers
//! of what lives in the URL instead (the table's view, the open drawer).

use super::alert_toasts::AlertToasts;
use super::table_view::ViewParams;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use quantpro_model::{MarketView, ScanState, ScanStatus, TableFeed, TableView};

/// The dashboard's shared state: the feed (refetched when a scan finishes)
/// and the live status of the current scan job.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub struct DashboardState {
    pub feed: Resource<Result<TableFeed, ServerFnError>, super::codec::JsonBytes>,
    /// Latest status from `/api/scan/events`; `None` until the stream's first event.
    pub scan: RwSignal<Option<ScanStatus>>,
    /// Whether the progress stream is connected.
    pub live: RwSignal<bool>,
    /// The live market's status lines and row marks (from the feed, then
    /// from the stream's `live` events); `None` without a live market.
    pub market: RwSignal<Option<MarketView>>,
    /// The alerts on screen (the stream's `alert` events).
    pub toasts: AlertToasts,
    /// `last_updated` of the feed the table shows (set where the feed is
    /// rendered, inside its Suspense), so the event stream can tell whether
    /// a feed on disk is newer without reading the resource outside it.
    pub shown_feed: RwSignal<Option<i64>>,
}

impl DashboardState {
    /// True while a scan job runs (the Scan button is then disabled).
    pub fn scanning(&self) -> bool {
        self.scan
            .with(|s| s.as_ref().is_some_and(|s| s.state == ScanState::Running))
    }
}

/// A function that writes a changed `TableView` into the URL (keeping the
/// other query parameters); `push` adds a history entry (row selection),
/// otherwise the current entry is replaced (typing in a filter).
pub fn use_set_view() -> impl Fn(&TableView, bool) + Clone + 'static {
    let navigate = use_navigate();
    let query = use_query_map();
    move |view: &TableView, push: bool| {
        let params = view.to_params(&query.get_untracked());
        navigate(
            &format!("/{}", params.to_query_string()),
            NavigateOptions {
                replace: !push,
                scroll: false,
                ..Default::default()
            },
        );
    }
}

/// Opens or closes a drawer named by the `panel` query parameter.
pub fn use_set_panel() -> impl Fn(Option<&str>) + Clone + 'static {
    let navigate = use_navigate();
    let query = use_query_map();
    move |panel: Option<&str>| {
        let mut params = query.get_untracked();
        params.remove("panel");
        if let Some(panel) = panel {
            params.replace("panel", panel.to_string());
        }
        navigate(
            &format!("/{}", params.to_query_string()),
            NavigateOptions {
                scroll: false,
                ..Default::default()
            },
        );
    }
}
