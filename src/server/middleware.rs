//! What every response passes through: the request log (tower-http trace),
//! security headers, the request body limit, and server-function argument
//! errors turned into 400s. API keys never reach a
//! response: they live in `sources::keys::Secret`, which cannot serialize.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
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
    let mut router = router
        .layer(axum::middleware::from_fn(bad_arguments_are_client_errors))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
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

/// How server functions word arguments that do not parse (`ServerFnErrorErr`
/// encoded as `Variant|message`).
const ARGUMENT_ERRORS: [&[u8]; 2] = [b"Args|", b"Deserialization|"];

/// Leptos answers a server-function call whose arguments do not parse (an
/// unknown exchange, a missing field) with 500; that is the caller's fault,
/// so it becomes 400. The body, which the typed browser client decodes,
/// stays as it is.
async fn bad_arguments_are_client_errors(request: Request, next: Next) -> Response {
    let api_call = request.method() == Method::POST && request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !api_call || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return Response::from_parts(parts, Body::from("the error message was too long"));
    };
    if ARGUMENT_ERRORS
        .iter()
        .any(|prefix| bytes.starts_with(prefix))
    {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, Body::from(bytes))
}
