//! The dashboard page: the top bar with the ExchangePanel (data source, Scan
//! button, live progress) and the Sign in / Sign out control, the feed's toolbar and ScannerTable, the side
//! panel of the selected signal (DetailPanel + ObservabilityPanel) and the
//! ConfigPanel drawer. The page's global state is one `DashboardState` in
//! context; everything a user would share (filters, sort, selection, open
//! panel) lives in the URL instead.

use super::alert_toasts::{AlertToastList, AlertToasts, NotificationControl};
use super::api::get_table_feed;
use super::config_panel::ConfigPanel;
use super::dashboard_state::{use_set_panel, DashboardState};
use super::detail_panel::CalculatorInputs;
use super::detail_panel::SidePanel;
use super::exchange_panel::ExchangePanel;
use super::scan_events;
use super::scanner_table::{use_keyboard_navigation, FilterBar, ScannerTable};
use super::session::{use_visitor, SessionControl};
use super::table_view::ViewParams;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use quantpro_model::TableView;
use quantpro_model::{DataSourceBadgeText, TableFeed};

#[component]
pub fn DashboardPage() -> impl IntoView {
    let feed = super::codec::resource(|| (), |_| get_table_feed());
    let state = DashboardState {
        feed,
        scan: RwSignal::new(None),
        live: RwSignal::new(false),
        market: RwSignal::new(None),
        toasts: AlertToasts::new(),
        shown_feed: RwSignal::new(None),
    };
    provide_context(state);
    provide_context(CalculatorInputs::new());
    scan_events::follow_scans(state);
    let query = use_query_map();
    let config_open = move || query.read().get_str("panel") == Some("config");

    view! {
        <div class="app">
            <header class="topbar">
                <a class="brand" href="/">
                    "QuantPro"
                    <span class="brand-sub">" scanner"</span>
                </a>
                <ExchangePanel />
                <a class="btn btn-ghost track-record-link" href="/track-record" rel="external" data-testid="track-record-link" title="How the signals that fired turned out">
                    "Track record"
                </a>
                <ConfigToggle open=Signal::derive(config_open) />
                <SessionControl />
            </header>
            <main class="content">
                <Transition fallback=|| view! { <p class="loading">"Loading feed…"</p> }>
                    {move || Suspend::new(async move {
                        match feed.await {
                            Ok(view) => view! { <FeedBody view /> }.into_any(),
                            Err(err) => {
                                view! {
                                    <ErrorBanner message=format!("Could not reach the server: {err}") />
                                    <div class="table-wrap">
                                        <ScannerTable
                                            rows=StoredValue::new(Vec::new())
                                            view=Memo::new(|_| TableView::default())
                                            now_ms=Signal::stored(0)
                                            stale_after_ms=0
                                        />
                                    </div>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Transition>
            </main>
            <Show when=config_open>
                <ConfigPanel />
            </Show>
            <AlertToastList toasts=state.toasts />
        </div>
    }
}

#[component]
fn ConfigToggle(open: Signal<bool>) -> impl IntoView {
    let set_panel = use_set_panel();
    view! {
        <button
            class="btn btn-ghost config-toggle"
            class:active=open
            data-testid="config-toggle"
            title="Scanner thresholds (quantpro.toml)"
            on:click=move |_| set_panel(if open.get_untracked() { None } else { Some("config") })
        >
            "⚙ Config"
        </button>
    }
}

#[component]
fn FeedBody(view: TableFeed) -> impl IntoView {
    let TableFeed {
        rows,
        last_updated,
        error,
        synthetic,
        notice,
        server_time_ms,
        stale_after_ms,
        market,
    } = view;
    let state = expect_context::<DashboardState>();
    state.shown_feed.set(Some(last_updated));
    if market.is_some() && state.market.with_untracked(Option::is_none) {
        state.market.set(market);
    }
    let query = use_query_map();
    let table_view = Memo::new(move |_| TableView::from_params(&query.read()));
    let now_ms = live_clock(server_time_ms);
    let total = rows.len();
    let rows = StoredValue::new(rows);
    let shown = Memo::new(move |_| {
        table_view
            .with(|v| rows.with_value(|r| r.iter().filter(|row| v.filter.matches(row)).count()))
    });
    let selected = Memo::new(move |_| {
        let key = table_view.with(|v| v.selected.clone())?;
        rows.with_value(|r| r.iter().find(|row| row.key() == key).cloned())
    });
    use_keyboard_navigation(table_view, rows);
    // A shared link with a selection: bring its row into view once live.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(key) = table_view.with_untracked(|v| v.selected.clone()) {
            super::scanner_table::scroll_row_into_view(&key);
        }
    });
    let count_label = move || {
        let shown = shown.get();
        if shown == total {
            format!("{total} signals")
        } else {
            format!("{shown} of {total} signals")
        }
    };

    // On a phone the table shows compact two-line rows; this shows every
    // column instead (CSS hides the button from 641 px up).
    let all_columns = RwSignal::new(false);
    let owner = use_visitor().is_owner();

    view! {
        <div class="toolbar">
            <FilterBar view=table_view />
            <button
                class="btn btn-ghost columns-toggle"
                class:active=all_columns
                aria-pressed=move || all_columns.get().to_string()
                data-testid="columns-toggle"
                title="Show every column of the table (scrolls sideways)"
                on:click=move |_| all_columns.update(|on| *on = !*on)
            >
                "All columns"
            </button>
            <div class="feed-meta">
                <NotificationControl />
                {owner.then(|| view! {
                    // A page of the server's own (no app): a full load.
                    <a class="btn btn-ghost btn-small" href="/alerts" rel="external" data-testid="alert-log-link" title="The alerts sent lately and each channel's state">
                        "Alert log"
                    </a>
                })}
                <DataSourceBadge synthetic />
                <span class="feed-count" data-testid="signal-count">{count_label}</span>
                <span
                    class="feed-updated"
                    data-testid="feed-updated"
                    data-last-updated=last_updated
                    title=updated_title(last_updated)
                >
                    {move || updated_label(last_updated, now_ms.get())}
                </span>
            </div>
        </div>
        {error.map(|message| view! { <ErrorBanner message /> })}
        {(!notice.is_empty()).then(|| view! { <p class="feed-notice" data-testid="feed-notice">{notice}</p> })}
        <MarketStatus />
        <div class="workspace" class:with-detail=move || selected.with(Option::is_some)>
            <div class="table-wrap" class:all-columns=all_columns>
                <ScannerTable rows view=table_view now_ms stale_after_ms />
            </div>
            {move || {
                selected
                    .get()
                    .map(|row| view! { <SidePanel row /> })
            }}
        </div>
    }
}

/// How often the ages on the page are brought up to date.
#[cfg(feature = "hydrate")]
const CLOCK_TICK: std::time::Duration = std::time::Duration::from_secs(15);

/// The time the page's ages are measured against: the server's clock when
/// it sent the feed (so the server and the browser render the same text),
/// then, in the browser, that clock moved on every `CLOCK_TICK`, so a
/// dashboard left open shows the data getting older.
fn live_clock(server_time_ms: i64) -> Signal<i64> {
    let now = RwSignal::new(server_time_ms);
    #[cfg(feature = "hydrate")]
    {
        use leptos::web_sys::js_sys::Date;
        // The browser's clock may differ from the server's: keep the offset.
        let skew = server_time_ms - Date::now() as i64;
        let tick = set_interval_with_handle(move || now.set(Date::now() as i64 + skew), CLOCK_TICK);
        if let Ok(handle) = tick {
            on_cleanup(move || handle.clear());
        }
    }
    now.into()
}

/// One line per exchange market of the live loop (stream state, current
/// and stale symbols, next close, rate-limit waits), worded by the server.
#[component]
fn MarketStatus() -> impl IntoView {
    let state = expect_context::<DashboardState>();
    move || {
        state.market.with(|market| {
            market.as_ref().map(|m| {
                let lines = m.lines.clone();
                view! {
                    <ul class="market-status" data-testid="market-status">
                        {lines.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
                    </ul>
                }
            })
        })
    }
}

#[component]
pub fn DataSourceBadge(synthetic: bool) -> impl IntoView {
    let badge = DataSourceBadgeText::of(synthetic);
    view! { <span class=badge.class title=badge.title>{badge.label}</span> }
}

#[component]
pub fn ErrorBanner(message: String) -> impl IntoView {
    view! {
        <div class="error-banner" role="alert" data-testid="error-banner">
            {message}
        </div>
    }
}

fn updated_label(last_updated_ms: i64, now_ms: i64) -> String {
    if last_updated_ms <= 0 {
        return "feed updated: unknown".to_string();
    }
    // The feed's time: a manual scan's, or the live loop's last rescan.
    format!(
        "feed updated {} ago",
        quantpro_model::format::age((now_ms - last_updated_ms) / 1000)
    )
}

fn updated_title(last_updated_ms: i64) -> String {
    if last_updated_ms <= 0 {
        return "The feed carries no scan time (legacy array form)".to_string();
    }
    format!(
        "Feed written {}",
        quantpro_model::format::utc_datetime(last_updated_ms)
    )
}
