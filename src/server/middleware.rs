//! What every response passes through: the request log (tower-http trace),
//! security headers and the request body limit. API keys never reach a
//! response: they live in `sources::keys::Secret`, which cannot serialize.

use axum::http::{header, HeaderName, HeaderValue};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Largest request body accepted (scan requests and configurations are a
/// few hundred bytes; server-function calls stay far below this too).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Allows the Leptos hydration script (inline), its wasm module and the
/// cargo-leptos reload websocket; nothing from other origins.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws:";

const SECURITY_HEADERS: &[(HeaderName, &str)] = &[
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
];

pub fn apply(router: Router) -> Router {
    let mut router = router.layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    for (name, value) in SECURITY_HEADERS {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name.clone(),
            HeaderValue::from_static(value),
        ));
    }
    // Outermost, so the log shows every response, including refused bodies.
    router.layer(
        TraceLayer::new_for_http()
            .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
            .on_response(DefaultOnResponse::new().level(Level::INFO)),
    )
}
