//! The web server: axum router with the Leptos app, its server functions and
//! the plain JSON routes, over one shared `AppState`; `render` draws a
//! signal's charts and static HTML on the server.
//!
//! `/api/results`, `/api/scan/*` and `/api/config` serve scripts (JSON, SSE);
//! the dashboard reaches the same state through its server functions.
//! Every response passes the request log, the security headers and the
//! request body limit of `middleware`.

mod api_error;
mod feed_store;
mod middleware;
pub mod render;
mod routes;
mod scan_events;
mod scan_jobs;
mod state;

pub use api_error::ApiError;
pub use feed_store::{FeedBody, FeedLoadError, FeedSnapshot, FeedStore};
pub use scan_jobs::{
    validate_scan_request, InvalidScanRequest, ScanConflict, ScanHold, ScanJobs, ScanStartError,
    MAX_SYMBOL_LEN,
};
pub use state::AppState;

use crate::app::{shell, App};
use axum::{
    routing::{any, get, post},
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

/// The whole HTTP surface: pages, server functions, JSON routes, static files.
pub fn router(state: AppState) -> Router {
    let leptos_routes = generate_route_list(App);
    let app = Router::new()
        .route("/api/results", get(routes::results))
        .route("/api/scan/start", post(routes::start_scan))
        .route("/api/scan/status", get(routes::scan_status))
        .route("/api/scan/events", get(scan_events::scan_events))
        .route(
            "/api/config",
            get(routes::get_config).put(routes::put_config),
        )
        .route("/healthz", get(routes::health))
        .leptos_routes(&state, leptos_routes, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        // After the server functions (registered under /api/ by
        // leptos_routes): only paths nothing else claimed end here.
        .route("/api/{*rest}", any(routes::api_not_found))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state);
    middleware::apply(app)
}

/// Leptos options from the environment that cargo-leptos sets, with the
/// defaults of `[package.metadata.leptos]` when the binary runs on its own.
pub fn leptos_options() -> Result<LeptosOptions, leptos::config::errors::LeptosConfigError> {
    if std::env::var_os("LEPTOS_OUTPUT_NAME").is_none() {
        // Safe: called once at start-up, before the runtime spawns threads.
        std::env::set_var("LEPTOS_OUTPUT_NAME", "quantpro");
    }
    Ok(get_configuration(None)?.leptos_options)
}

/// Serves the dashboard until Ctrl-C.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let addr = state.leptos_options.site_addr;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("[SERVE] dashboard on http://{addr}");
    println!("QuantPro dashboard: http://{addr}");
    state.start_live();
    let stopping = state.clone();
    axum::serve(listener, router(state).into_make_service())
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            stopping.begin_shutdown();
        })
        .await?;
    Ok(())
}
