//! The Leptos application: the HTML shell, the router and the pages. Every
//! component here renders on the server and hydrates in the browser; data
//! comes only through the server functions of `api`.
//!
//! The one page: the dashboard (`/`, see `dashboard`). The share page of
//! one signal, the Track Record page and the alert log are rendered whole
//! on the server (`server::render`), with no script.
//! Panels have a file each and share `dashboard_state`; `table_view` (the
//! view in the URL) and `position_size` are the pure logic behind them; `session` says whether the visitor is the owner (who
//! may scan, save the configuration and ask for AI analyses).

mod alert_toasts;
pub mod api;
pub mod codec;
mod config_panel;
mod dashboard;
mod dashboard_state;
mod detail_panel;
mod exchange_panel;
pub mod position_size;
mod scan_events;
mod scanner_table;
pub mod session;
pub mod table_view;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    StaticSegment,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <session::VisitorMeta />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(session::current_visitor());
    mark_hydrated();
    view! {
        <Stylesheet id="leptos" href="/pkg/quantpro.css" />
        <Title text="QuantPro scanner" />
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                <Route path=StaticSegment("") view=dashboard::DashboardPage />
            </Routes>
        </Router>
    }
}

/// Sets `data-hydrated="true"` on `<body>` once the WASM app runs, so the
/// browser tests (and curious users) can tell a live page from static HTML.
fn mark_hydrated() {
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
