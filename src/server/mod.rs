//! The web server: axum router with the Leptos app, its server functions and
//! the plain JSON routes, over one shared `AppState`.

mod feed_store;
mod routes;
mod state;

pub use feed_store::{FeedLoadError, FeedStore};
pub use state::{AppState, DataPaths};

use crate::app::{shell, App};
use axum::{routing::get, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

/// The whole HTTP surface: pages, server functions, JSON routes, static files.
pub fn router(state: AppState) -> Router {
    let leptos_routes = generate_route_list(App);
    Router::new()
        .route("/api/results", get(routes::results))
        .route("/healthz", get(routes::health))
        .leptos_routes(&state, leptos_routes, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
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
    axum::serve(listener, router(state).into_make_service())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
