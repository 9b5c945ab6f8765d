//! The dashboard page: top bar, data-source label, error banner and the
//! scanner table, fed by the `get_feed` server function.

use super::api::{get_feed, FeedView};
use super::scanner_table::ScannerTable;
use leptos::prelude::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let feed = Resource::new(|| (), |_| get_feed());
    view! {
        <div class="app">
            <header class="topbar">
                <h1 class="brand">"QuantPro"<span class="brand-sub">" scanner"</span></h1>
            </header>
            <main class="content">
                <Suspense fallback=|| view! { <p class="loading">"Loading feed…"</p> }>
                    {move || Suspend::new(async move {
                        match feed.await {
                            Ok(view) => view! { <FeedBody view /> }.into_any(),
                            Err(err) => {
                                view! {
                                    <ErrorBanner message=format!("Could not reach the server: {err}") />
                                    <ScannerTable signals=Vec::new() now_ms=0 />
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Suspense>
            </main>
        </div>
    }
}

#[component]
fn FeedBody(view: FeedView) -> impl IntoView {
    let FeedView { feed, error, synthetic, server_time_ms } = view;
    let count = feed.signals.len();
    view! {
        <div class="feed-meta">
            <DataSourceBadge synthetic />
            <span class="feed-count" data-testid="signal-count">{format!("{count} signals")}</span>
            <span class="feed-updated">{updated_label(feed.last_updated, server_time_ms)}</span>
        </div>
        {error.map(|message| view! { <ErrorBanner message /> })}
        <ScannerTable signals=feed.signals now_ms=server_time_ms />
    }
}

#[component]
fn DataSourceBadge(synthetic: bool) -> impl IntoView {
    if synthetic {
        view! {
            <span class="badge badge-synthetic" title="Generated random-walk candles, not market data">
                "SYNTHETIC DATA"
            </span>
        }
            .into_any()
    } else {
        view! { <span class="badge badge-real">"Market data"</span> }.into_any()
    }
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
        return "last scan: unknown".to_string();
    }
    format!("last scan {} ago", super::format::age((now_ms - last_updated_ms) / 1000))
}
