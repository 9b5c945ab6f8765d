//! The web server: axum router with the Leptos app, its server functions and
//! the plain JSON routes, over one shared `AppState`; `render` draws a
//! signal's charts and static HTML on the server.
//!
//! `/api/results`, `/api/scan/*`, `/api/config` and `/api/track-record`
//! serve scripts (JSON, SSE);
//! the dashboard reaches the same state through its server functions.
//! Every request passes the access gate of `auth` (who may call what, from
//! the one route list below), and every response the request log, the
//! security headers and the request body limit of `middleware`.

mod api_error;
pub mod auth;
mod middleware;
pub mod render;
mod routes;
mod scan_events;
mod scan_jobs;
mod state;
mod trading;

pub use api_error::ApiError;
pub use scan_jobs::{
    validate_scan_request, InvalidScanRequest, ScanConflict, ScanHold, ScanJobs, ScanStartError,
    MAX_SYMBOL_LEN,
};
pub use state::{AppState, StartError};

use crate::app::api;
use crate::app::{shell, App};
use auth::{Access, AccessTable, CostlyAction, RouteAccess, RouteKind};
use axum::http::Method;
use axum::{
    handler::Handler,
    routing::{any, on, MethodFilter, MethodRouter},
    Router,
};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_axum::{generate_route_list, LeptosRoutes};
use quantpro_service::shutdown::{reload_on_hangup, StopSignal, ALERT_DRAIN};
use std::net::SocketAddr;

/// One route of the router's own list: method (`None`: any), path, who may
/// call it, handler.
struct Route {
    method: Option<Method>,
    path: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
}

fn route<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
    Route {
        method: Some(method),
        path,
        access,
        handler: on(filter, handler),
    }
}

/// Every route besides the Leptos pages and server functions, with who may
/// call it: the router and the access table are both built from this list.
fn routes() -> Vec<Route> {
    use Access::{Costly, Owner, Viewer};
    vec![
        route(Method::GET, "/api/results", Viewer, routes::results),
        route(
            Method::POST,
            "/api/scan/start",
            Costly(CostlyAction::Scan),
            routes::start_scan,
        ),
        route(Method::GET, "/api/scan/status", Viewer, routes::scan_status),
        route(
            Method::GET,
            "/api/scan/events",
            Viewer,
            scan_events::scan_events,
        ),
        route(Method::GET, "/api/config", Viewer, routes::get_config),
        route(Method::PUT, "/api/config", Owner, routes::put_config),
        route(Method::GET, "/api/session", Viewer, routes::session),
        route(
            Method::GET,
            "/api/track-record",
            Viewer,
            routes::track_record,
        ),
        route(
            Method::GET,
            "/signal/{exchange}/{symbol}/{strategy}",
            Viewer,
            routes::share_page,
        ),
        route(
            Method::GET,
            "/track-record",
            Viewer,
            routes::track_record_page,
        ),
        route(Method::GET, "/api/alerts", Owner, routes::alerts),
        route(Method::GET, "/alerts", Owner, routes::alert_log_page),
        route(Method::GET, "/api/execution/ticket", Owner, trading::ticket),
        route(Method::POST, "/api/execution/open", Owner, trading::open),
        route(Method::POST, "/api/execution/close", Owner, trading::close),
        route(
            Method::POST,
            "/api/execution/flatten",
            Owner,
            trading::flatten,
        ),
        route(
            Method::GET,
            "/api/execution/positions",
            Owner,
            trading::positions,
        ),
        route(
            Method::GET,
            "/trade/{exchange}/{symbol}/{strategy}",
            Owner,
            trading::ticket_page,
        ),
        route(Method::GET, "/positions", Owner, trading::positions_page),
        route(Method::GET, "/healthz", Viewer, routes::health),
        route(Method::GET, "/login", Viewer, auth::sign_in::sign_in_page),
        route(Method::POST, "/login", Viewer, auth::sign_in::sign_in),
        route(Method::POST, "/logout", Viewer, auth::sign_in::sign_out),
        // Unknown API paths get a JSON 404 (static paths, the server
        // functions included, win over this pattern in the router).
        Route {
            method: None,
            path: "/api/{*rest}",
            access: Viewer,
            handler: any(routes::api_not_found),
        },
    ]
}

/// The server functions anyone may call (reads); every other one in the
/// registry is the owner's.
const VIEWER_SERVER_FNS: [&str; 4] = [
    <api::GetTableFeed as ServerFn>::PATH,
    <api::GetSignalPanels as ServerFn>::PATH,
    <api::GetScannerConfig as ServerFn>::PATH,
    <api::GetTrackRecord as ServerFn>::PATH,
];

/// The owner's server functions with a per-client rate limit.
const COSTLY_SERVER_FNS: [(&str, CostlyAction); 2] = [
    (<api::StartScan as ServerFn>::PATH, CostlyAction::Scan),
    (
        <api::AnalyzeSignal as ServerFn>::PATH,
        CostlyAction::AiAnalysis,
    ),
];

fn server_fn_access(path: &str) -> Access {
    if VIEWER_SERVER_FNS.contains(&path) {
        return Access::Viewer;
    }
    COSTLY_SERVER_FNS
        .iter()
        .find(|(p, _)| *p == path)
        .map_or(Access::Owner, |(_, action)| Access::Costly(*action))
}

/// Who may call every route of the router: the route list above, the
/// Leptos pages (reads) and every registered server function.
pub fn access_table() -> AccessTable {
    let own = routes().into_iter().map(|r| RouteAccess {
        method: r.method,
        path: r.path.to_string(),
        access: r.access,
        kind: RouteKind::Route,
    });
    let pages = generate_route_list(App)
        .into_iter()
        .map(|listing| RouteAccess {
            method: Some(Method::GET),
            path: listing.path().to_string(),
            access: Access::Viewer,
            kind: RouteKind::Page,
        });
    let server_fns = leptos::server_fn::axum::server_fn_paths().map(|(path, method)| RouteAccess {
        method: Some(method),
        path: path.to_string(),
        access: server_fn_access(path),
        kind: RouteKind::ServerFn,
    });
    // Patterns last, so that static entries are found first.
    let (patterns, statics): (Vec<_>, Vec<_>) = own
        .chain(pages)
        .chain(server_fns)
        .partition(|r| r.path.contains('{'));
    AccessTable::new(statics.into_iter().chain(patterns).collect())
}

/// The whole HTTP surface: pages, server functions, JSON routes, static
/// files, behind the access gate.
pub fn router(state: AppState) -> Router {
    let leptos_routes = generate_route_list(App);
    let guard = auth::Guard {
        auth: state.auth.clone(),
        table: std::sync::Arc::new(access_table()),
    };
    let app = routes()
        .into_iter()
        .fold(Router::new(), |router, r| router.route(r.path, r.handler))
        .leptos_routes(&state, leptos_routes, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            guard,
            auth::gate::enforce,
        ));
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

/// Serves the dashboard until Ctrl-C or SIGTERM, then stops gracefully
/// (the live loop's rescan in progress and the alert deliveries under way
/// finish first); refuses a non-loopback address while no owner password
/// is set (`auth::check_bind`).
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let stop = StopSignal::listen();
    tokio::spawn(reload_on_hangup(state.pipeline.settings().clone()));
    let addr = state.leptos_options.site_addr;
    auth::check_bind(addr, state.auth.settings())?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("[SERVE] dashboard on http://{addr}");
    println!("QuantPro dashboard: http://{addr}");
    state.start_live();
    state.start_execution();
    if !state.auth.has_password() && state.auth.settings().trust_loopback {
        println!(
            "Single-user mode: no owner password, so requests from this machine are the owner \
             (`quantpro set-password` to require signing in)."
        );
    }
    let stopping = state.clone();
    // The peer address tells the gate whether a request is local.
    let service = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            stop.requested().await;
            stopping.begin_shutdown();
        })
        .await?;
    state.finish(ALERT_DRAIN).await;
    Ok(())
}
