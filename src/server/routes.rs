//! Plain JSON routes for scripts; thin handlers over `AppState`.

use super::state::AppState;
use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};

/// `GET /api/results`: the master feed as JSON.
pub async fn results(State(state): State<AppState>) -> Response {
    match state.feed.load().await {
        Ok(snapshot) => {
            ([(header::CONTENT_TYPE, "application/json")], snapshot.json.to_string()).into_response()
        }
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "error": err.to_string() })))
            .into_response(),
    }
}

/// `GET /healthz`: liveness for scripts and the browser tests.
pub async fn health() -> &'static str {
    "ok"
}
