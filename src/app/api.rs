//! Server functions: the dashboard's API. Their bodies run on the server and
//! are one call each to a `crate::server::AppState` method (the JSON routes
//! call the same ones); the browser gets typed stubs. Expected refusals are values of
//! the answer types (`quantpro_model::dashboard`); `ServerFnError` is kept for transport and server faults.
//! Each has a fixed endpoint under `/api/` (POST, form-encoded arguments
//! unless `input = Json`), so scripts and tests can call them too.
//!
//! Who may call them is the access table's business (`server::auth`):
//! reads are listed there as open to viewers, everything else is the
//! owner's. The owner's functions use `session::OwnerClient`, which sends
//! the signed-in page's CSRF token.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use quantpro_model::{
    AiAnalysis, AlertsSaveOutcome, ConfigSaveOutcome, ConfigState, ConfigTexts, Exchange, Origin,
    ScanStartOutcome, ScanStartRequest, SignalPanels, Strategy, TableFeed, TrackRecord,
};

#[server(endpoint = "table_feed")]
pub async fn get_table_feed() -> Result<TableFeed, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    Ok(state.table_feed().await)
}

/// Starts a background scan; progress arrives on `/api/scan/events`.
#[server(input = Json, endpoint = "start_scan", client = super::session::OwnerClient)]
pub async fn start_scan(request: ScanStartRequest) -> Result<ScanStartOutcome, ServerFnError> {
    use crate::server::ScanStartError;
    let state = expect_context::<crate::server::AppState>();
    Ok(match state.start_scan(request) {
        Ok(id) => ScanStartOutcome::Started { id },
        Err(ScanStartError::Conflict(conflict)) => ScanStartOutcome::AlreadyRunning {
            running_id: conflict.running_id,
        },
        Err(ScanStartError::Invalid(reason)) => ScanStartOutcome::Refused {
            message: reason.to_string(),
        },
    })
}

/// The signal of `(exchange, symbol, strategy)` from the current feed, its
/// parts rendered; `None` when the feed has no such signal.
#[server(endpoint = "signal_panels")]
pub async fn get_signal_panels(
    exchange: Exchange,
    symbol: String,
    strategy: Strategy,
) -> Result<Option<SignalPanels>, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    state
        .signal_panels(exchange, &symbol, strategy)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Gemini's commentary of one signal. Without `GEMINI_API_KEY` this is
/// `Unavailable` with the message saying how to set it; the key itself
/// never leaves the server.
#[server(endpoint = "analyze_signal", client = super::session::OwnerClient)]
pub async fn analyze_signal(
    exchange: Exchange,
    symbol: String,
    strategy: Strategy,
) -> Result<AiAnalysis, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    Ok(state.analyze_signal(exchange, &symbol, strategy).await)
}

#[server(endpoint = "scanner_config")]
pub async fn get_scanner_config() -> Result<ConfigState, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    let owner = super::session::current_visitor().is_owner();
    Ok(state.config_state(owner).await)
}

/// The track record of the signal journal (the statistics of
/// `GET /api/track-record`, through the same state method), optionally of
/// one strategy, exchange, symbol (exchange symbol or base asset) or origin.
#[server(endpoint = "track_record")]
pub async fn get_track_record(
    strategy: Option<Strategy>,
    exchange: Option<Exchange>,
    symbol: Option<String>,
    origin: Option<Origin>,
) -> Result<TrackRecord, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    let query = quantpro_model::TrackQuery::new(strategy, exchange, symbol, origin);
    state
        .track_record(query.into())
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Validates and saves the configuration the form's `texts` give
/// (`ScannerConfig::texts`) to `quantpro.toml`; the next scan reads it. The
/// answer is the configuration in force (environment overrides included).
#[server(
    input = Json,
    endpoint = "save_scanner_config",
    client = super::session::OwnerClient
)]
pub async fn save_scanner_config(texts: ConfigTexts) -> Result<ConfigSaveOutcome, ServerFnError> {
    use quantpro_model::{ConfigError, ScannerConfig};
    use quantpro_service::settings::SettingsError;
    let state = expect_context::<crate::server::AppState>();
    let invalid = |errors: &[ConfigError]| {
        ConfigSaveOutcome::Invalid(errors.iter().map(|e| e.to_string()).collect())
    };
    let config =
        match ScannerConfig::from_texts(texts.iter().map(|(k, t)| (k.as_str(), t.as_str()))) {
            Ok(config) => config,
            Err(errors) => return Ok(invalid(&errors)),
        };
    match state.save_scanner_config(config).await {
        Ok(in_force) => Ok(ConfigSaveOutcome::Saved(in_force.texts())),
        Err(SettingsError::Invalid { errors, .. }) => Ok(invalid(&errors)),
        Err(err) => Err(ServerFnError::new(err.to_string())),
    }
}

/// Validates the `[alerts]` text (the rules' validation of the start),
/// saves it to `quantpro.toml` and puts it in force.
#[server(
    endpoint = "save_alert_settings",
    client = super::session::OwnerClient
)]
pub async fn save_alert_settings(toml: String) -> Result<AlertsSaveOutcome, ServerFnError> {
    use quantpro_service::settings::SettingsError;
    let state = expect_context::<crate::server::AppState>();
    match state.save_alerts_config(toml).await {
        Ok(saved) => Ok(AlertsSaveOutcome::Saved(saved)),
        Err(SettingsError::Alerts { problems, .. }) => Ok(AlertsSaveOutcome::Invalid(problems)),
        Err(err) => Err(ServerFnError::new(err.to_string())),
    }
}
