//! The one error type of the JSON routes: every failure becomes a status
//! code and `{"error": "..."}` (plus the fields a client can act on, such as
//! the running scan's id), never a panic or an HTML page.

use super::feed_store::FeedLoadError;
use super::scan_jobs::{InvalidScanRequest, ScanStartError};
use crate::model::ConfigError;
use crate::settings::SettingsError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or body the route cannot use.
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    InvalidScan(#[from] InvalidScanRequest),
    #[error("a scan is already running (job {running_id}); follow it at /api/scan/events")]
    ScanRunning { running_id: u64 },
    #[error("invalid configuration: {}", ConfigError::join_all(.0))]
    InvalidConfig(Vec<ConfigError>),
    #[error(transparent)]
    FeedUnavailable(#[from] FeedLoadError),
    #[error("no such API route; see /api/results, /api/scan/start, /api/scan/status, /api/scan/events, /api/config")]
    NotFound,
    /// A server-side problem (a config file that cannot be read or written).
    #[error("{0}")]
    Internal(String),
}

impl From<ScanStartError> for ApiError {
    fn from(err: ScanStartError) -> ApiError {
        match err {
            ScanStartError::Invalid(invalid) => ApiError::InvalidScan(invalid),
            ScanStartError::Conflict(conflict) => ApiError::ScanRunning {
                running_id: conflict.running_id,
            },
        }
    }
}

impl From<SettingsError> for ApiError {
    fn from(err: SettingsError) -> ApiError {
        match err {
            SettingsError::Invalid { errors, .. } => ApiError::InvalidConfig(errors),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidScan(_) | ApiError::InvalidConfig(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::ScanRunning { .. } => StatusCode::CONFLICT,
            ApiError::FeedUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!("[API] {status}: {self}");
        }
        let body = match &self {
            ApiError::ScanRunning { running_id } => {
                json!({ "error": self.to_string(), "running_id": running_id })
            }
            ApiError::InvalidConfig(errors) => json!({
                "error": self.to_string(),
                "errors": errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            }),
            _ => json!({ "error": self.to_string() }),
        };
        (status, Json(body)).into_response()
    }
}
