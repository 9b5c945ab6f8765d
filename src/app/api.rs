//! Server functions: the dashboard's API. Their bodies run on the server and
//! are one call each to a `crate::server::AppState` method (the JSON routes
//! call the same ones); the browser gets typed stubs. Expected refusals (a scan already running, an invalid
//! configuration, no Gemini key) are values of the answer types, so the UI
//! can word them; `ServerFnError` is kept for transport and server faults.
//! Each has a fixed endpoint under `/api/` (POST, form-encoded arguments
//! unless `input = Json`), so scripts and tests can call them too.
//!
//! Who may call them is the access table's business (`server::auth`):
//! reads are listed there as open to viewers, everything else is the
//! owner's. The owner's functions use `session::OwnerClient`, which sends
//! the signed-in page's CSRF token.

use super::table_view::TableRow;
use crate::model::{
    ConfigTexts, Exchange, MarketView, Origin, ScanStartRequest, Strategy, TrackRecord, TradeSetup,
};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// The dashboard table's data: one `TableRow` per signal of the feed. The
/// page carries these rather than whole signals (about a tenth of the size;
/// the side panel fetches the selected signal with `get_signal_panels`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TableFeed {
    pub rows: Vec<TableRow>,
    /// Unix ms of the scan that wrote the feed (0: unknown).
    pub last_updated: i64,
    /// A reader-facing message when the feed file is missing or corrupt.
    pub error: Option<String>,
    /// True when the candles are the project's generated sample, not market data.
    pub synthetic: bool,
    /// The server's clock when it answered (Unix ms), so ages render the
    /// same on the server and in the browser.
    pub server_time_ms: i64,
    /// A row is stale once its last 15m candle opened longer ago than this
    /// (`data.stale_intervals` x 15 min of the configuration now in force).
    pub stale_after_ms: i64,
    /// The live market's status lines and row marks, when the server keeps
    /// a universe current (updated by the event stream's `live` events).
    pub market: Option<MarketView>,
}

#[server(endpoint = "table_feed")]
pub async fn get_table_feed() -> Result<TableFeed, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    Ok(state.table_feed().await)
}

/// The answer to the Scan button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScanStartOutcome {
    Started {
        id: u64,
    },
    /// Another scan runs (HTTP 409 on the JSON route); follow that one.
    AlreadyRunning {
        running_id: u64,
    },
    /// The request itself is invalid (e.g. an empty symbol).
    Refused {
        message: String,
    },
}

impl ScanStartOutcome {
    /// What the ExchangePanel says about it.
    pub fn message(&self) -> String {
        match self {
            ScanStartOutcome::Started { id } => format!("scan #{id} started"),
            ScanStartOutcome::AlreadyRunning { running_id } => {
                format!("a scan is already running (#{running_id})")
            }
            ScanStartOutcome::Refused { message } => message.clone(),
        }
    }
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

/// One signal as the DetailPanel and the share page show it: the static
/// parts as HTML rendered on the server (`signal_html`), plus what the
/// interactive parts and the page head need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalPanels {
    /// Title line and facts of the `signal-header` bar.
    pub header_html: String,
    /// The strategy's track record on this symbol and overall, and the
    /// outcome of the signal's latest journal trade (or why there is none).
    pub track_html: String,
    /// The 15m and 4h charts, or why there are none.
    pub charts_html: String,
    /// The setup's levels, or "no setup".
    pub setup_html: String,
    /// The ObservabilityPanel.
    pub observability_html: String,
    /// For the position-size calculator.
    pub setup: Option<TradeSetup>,
    /// The share page's `<title>` and Open Graph title.
    pub title: String,
    /// One line: the page description and link preview.
    pub description: String,
    /// The dashboard with this signal selected.
    pub dashboard_link: String,
    /// True when the candles are the project's generated sample.
    pub synthetic: bool,
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

/// The answer to the "AI analysis" button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AiAnalysis {
    Commentary(String),
    /// No commentary, and why (no GEMINI_API_KEY, quota, network...).
    Unavailable(String),
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

/// The configuration the next scan will use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigState {
    /// Every field's text (`ScannerConfig::texts`).
    pub texts: ConfigTexts,
    /// Where it is saved (`quantpro.toml`).
    pub path: String,
    /// Set when the file exists but cannot be used; `texts` then hold the defaults.
    pub error: Option<String>,
    /// Keys set by the environment (`key (QUANTPRO_...)`): they win over
    /// what is saved.
    pub overridden: Vec<String>,
    /// The `[alerts]` table, for the owner only (the rules and channels
    /// are theirs; a visitor gets `None`).
    pub alerts: Option<AlertsConfig>,
}

#[server(endpoint = "scanner_config")]
pub async fn get_scanner_config() -> Result<ConfigState, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    let owner = super::session::Visitor::current().is_owner();
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
    let query = crate::model::TrackQuery::new(strategy, exchange, symbol, origin);
    state
        .track_record(query.into())
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// The answer to the ConfigPanel's Save button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConfigSaveOutcome {
    /// The configuration in force (`ScannerConfig::texts`).
    Saved(ConfigTexts),
    /// Nothing was saved: every problem found, as the server words it.
    Invalid(Vec<String>),
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
    use crate::model::{ConfigError, ScannerConfig};
    use crate::settings::SettingsError;
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

/// `[alerts]` of `quantpro.toml` as the ConfigPanel's Alerts section
/// edits it. Secrets are never in it: channels name the environment
/// variables that hold their tokens and webhook URLs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsConfig {
    /// The `[alerts]` table as TOML (rules, cooldown, cap, channels).
    pub toml: String,
    /// Where it is saved.
    pub path: String,
    /// Set when the file cannot be used (`toml` is then empty).
    pub error: Option<String>,
}

/// The answer to the Alerts section's Save button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlertsSaveOutcome {
    /// Saved and in force (no restart): the table as saved.
    Saved(String),
    /// Nothing was saved: every problem, each naming its field.
    Invalid(Vec<String>),
}

/// Validates the `[alerts]` text (the rules' validation of the start),
/// saves it to `quantpro.toml` and puts it in force.
#[server(
    endpoint = "save_alert_settings",
    client = super::session::OwnerClient
)]
pub async fn save_alert_settings(toml: String) -> Result<AlertsSaveOutcome, ServerFnError> {
    use crate::settings::SettingsError;
    let state = expect_context::<crate::server::AppState>();
    match state.save_alerts_config(toml).await {
        Ok(saved) => Ok(AlertsSaveOutcome::Saved(saved)),
        Err(SettingsError::Alerts { problems, .. }) => Ok(AlertsSaveOutcome::Invalid(problems)),
        Err(err) => Err(ServerFnError::new(err.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_outcomes_are_worded_for_the_trader() {
        assert_eq!(
            ScanStartOutcome::AlreadyRunning { running_id: 7 }.message(),
            "a scan is already running (#7)"
        );
        assert_eq!(
            ScanStartOutcome::Started { id: 3 }.message(),
            "scan #3 started"
        );
    }
}
