//! The one error type of the JSON routes: every failure becomes a status
//! code and `{"error": "..."}` (plus the fields a client can act on, such as
//! the running scan's id), never a panic or an HTML page.

use super::auth::limits::RetryAfter;
use super::scan_jobs::{InvalidScanRequest, ScanStartError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use quantpro_model::ConfigError;
use quantpro_service::feed_store::FeedLoadError;
use quantpro_service::settings::SettingsError;
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
    /// The signal journal cannot be read (database down, locked, corrupt).
    #[error(transparent)]
    JournalUnavailable(#[from] quantpro_service::journal::JournalError),
    #[error("no such API route; see /api/results, /api/scan/start, /api/scan/status, /api/scan/events, /api/config, /api/track-record")]
    NotFound,
    /// A server-side problem (a config file that cannot be read or written).
    #[error("{0}")]
    Internal(String),
    /// An owner route without owner credentials.
    #[error("this needs the owner: sign in at /login, or send `Authorization: Bearer <token>` with the server's QUANTPRO_OWNER_TOKEN")]
    SignInRequired,
    /// A bearer token that is not the owner's.
    #[error("{0}")]
    BadToken(&'static str),
    /// A change a browser sent from another site.
    #[error(
        "cross-site request refused: {0}; changes are only accepted from this server's own pages"
    )]
    CrossSite(String),
    /// A signed-in change without the session's CSRF token.
    #[error("missing or wrong CSRF token: a signed-in page sends it in the X-CSRF-Token header; reload the page and try again")]
    CsrfToken,
    /// An order refused or failed (a limit, a stale ticket, the venue).
    #[error(transparent)]
    Execution(#[from] quantpro_service::execution::ExecutionError),
    /// A costly action over its per-client limit.
    #[error("too many {what} from this client: try again in {} s", retry_after.secs())]
    RateLimited {
        what: &'static str,
        retry_after: RetryAfter,
    },
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
            ApiError::FeedUnavailable(_) | ApiError::JournalUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::SignInRequired | ApiError::BadToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::CrossSite(_) | ApiError::CsrfToken => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Execution(err) => execution_status(err),
        }
    }
}

/// 409 for what the account's state refuses (a limit, a changed signal),
/// 422 for an order that cannot be made (sizing, the venue's rules or
/// refusal), 404 for nothing to close, 502 when the venue's answer is
/// missing, 503 when the journal is.
fn execution_status(err: &quantpro_service::execution::ExecutionError) -> StatusCode {
    use quantpro_service::execution::ExecutionError as E;
    use quantpro_sources::trading::TradeError as T;
    match err {
        E::NoSetup(_) | E::Stale { .. } | E::StaleData | E::Risk(_) => StatusCode::CONFLICT,
        E::Sizing(_) | E::Venue(T::Refused { .. } | T::Invalid(_)) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        E::NoPosition { .. } | E::NoVenue(_) => StatusCode::NOT_FOUND,
        E::Venue(T::Unknown { .. } | T::Unavailable(_)) => StatusCode::BAD_GATEWAY,
        E::Journal(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        // Warming up is expected at start, not a problem to log.
        let warming_up = matches!(&self, ApiError::FeedUnavailable(err) if err.is_warming_up());
        if status.is_server_error() && !warming_up {
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
            ApiError::SignInRequired => json!({ "error": self.to_string(), "sign_in": "/login" }),
            ApiError::RateLimited { retry_after, .. } => {
                json!({ "error": self.to_string(), "retry_after": retry_after.secs() })
            }
            ApiError::FeedUnavailable(_) if warming_up => json!({
                "error": self.to_string(),
                "warming_up": true,
                "retry_after": FeedLoadError::WARM_UP_RETRY_SECS,
            }),
            _ => json!({ "error": self.to_string() }),
        };
        let mut response = (status, Json(body)).into_response();
        match &self {
            ApiError::SignInRequired | ApiError::BadToken(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"quantpro\""),
                );
            }
            ApiError::RateLimited { retry_after, .. } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.secs()));
            }
            ApiError::FeedUnavailable(_) if warming_up => {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(FeedLoadError::WARM_UP_RETRY_SECS),
                );
            }
            _ => {}
        }
        response
    }
}
