//! Server functions: the dashboard's API. Their bodies run on the server and
//! reach the feed store, the scan jobs, the chart renderer and the Gemini
//! client in-process (through `crate::server::AppState`); the browser gets
//! typed stubs. Expected refusals (a scan already running, an invalid
//! configuration, no Gemini key) are values of the answer types, so the UI
//! can word them; `ServerFnError` is kept for transport and server faults.
//! Each has a fixed endpoint under `/api/` (POST, form-encoded arguments
//! unless `input = Json`), so scripts and tests can call them too.

use super::table_view::TableRow;
#[cfg(feature = "ssr")]
use crate::model::Signal;
use crate::model::{Exchange, ScanStartRequest, ScanStatus, ScannerConfig, Strategy, TradeSetup};
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
}

#[server(endpoint = "table_feed")]
pub async fn get_table_feed() -> Result<TableFeed, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    let (rows, last_updated, error) = match state.feed.load().await {
        Ok(snapshot) => (
            snapshot.feed.signals.iter().map(TableRow::from).collect(),
            snapshot.feed.last_updated,
            None,
        ),
        Err(err) => {
            tracing::warn!("[FEED] {err}");
            (Vec::new(), 0, Some(err.to_string()))
        }
    };
    let stale_intervals = match state.scanner_config().await {
        Ok(config) => config.data.stale_intervals,
        // The ConfigPanel shows the problem; the table keeps the default rule.
        Err(_) => ScannerConfig::default().data.stale_intervals,
    };
    Ok(TableFeed {
        rows,
        last_updated,
        error,
        synthetic: state.paths.is_synthetic(),
        server_time_ms: crate::now_ms(),
        stale_after_ms: crate::core::candles::Interval::M15
            .millis()
            .saturating_mul(stale_intervals as i64),
    })
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
#[server(input = Json, endpoint = "start_scan")]
pub async fn start_scan(request: ScanStartRequest) -> Result<ScanStartOutcome, ServerFnError> {
    use crate::server::ScanStartError;
    let state = expect_context::<crate::server::AppState>();
    Ok(match state.scans.start(request) {
        Ok(id) => ScanStartOutcome::Started { id },
        Err(ScanStartError::Conflict(conflict)) => ScanStartOutcome::AlreadyRunning {
            running_id: conflict.running_id,
        },
        Err(ScanStartError::Invalid(reason)) => ScanStartOutcome::Refused {
            message: reason.to_string(),
        },
    })
}

/// The current (or last) scan job.
#[server(endpoint = "scan_status")]
pub async fn get_scan_status() -> Result<ScanStatus, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    Ok(state.scans.status())
}

/// One signal with its charts: what `signal_html` renders.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, PartialEq)]
pub struct SignalDetail {
    pub signal: Signal,
    pub charts: Option<crate::charts::ChartSvgs>,
    /// Why there are no charts (candle file missing or changed since the scan).
    pub chart_error: Option<String>,
    pub synthetic: bool,
    /// The server's clock (Unix ms), for the data age.
    pub server_time_ms: i64,
}

/// One signal as the DetailPanel and the share page show it: the static
/// parts as HTML rendered on the server (`signal_html`), plus what the
/// interactive parts and the page head need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalPanels {
    /// Title line and facts of the `signal-header` bar.
    pub header_html: String,
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
    let detail = load_signal_detail(&state, exchange, &symbol, strategy).await?;
    Ok(detail.map(super::signal_html::render_panels))
}

/// The signal with its charts drawn from the candle files.
#[cfg(feature = "ssr")]
async fn load_signal_detail(
    state: &crate::server::AppState,
    exchange: Exchange,
    symbol: &str,
    strategy: Strategy,
) -> Result<Option<SignalDetail>, ServerFnError> {
    let Some(signal) = find_signal(state, exchange, symbol, strategy).await? else {
        return Ok(None);
    };
    let data_dir = state.paths.data_dir.clone();
    let for_charts = signal.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        crate::charts::render_signal_charts(&data_dir, &for_charts)
    })
    .await
    .map_err(|e| ServerFnError::new(format!("chart rendering failed: {e}")))?;
    let (charts, chart_error) = match rendered {
        Ok(charts) => (Some(charts), None),
        Err(err) => {
            tracing::warn!(
                "[CHARTS] {} {} {}: {err}",
                signal.exchange,
                signal.symbol,
                signal.strategy
            );
            (None, Some(err.to_string()))
        }
    };
    Ok(Some(SignalDetail {
        signal,
        charts,
        chart_error,
        synthetic: state.paths.is_synthetic(),
        server_time_ms: crate::now_ms(),
    }))
}

#[cfg(feature = "ssr")]
async fn find_signal(
    state: &crate::server::AppState,
    exchange: Exchange,
    symbol: &str,
    strategy: Strategy,
) -> Result<Option<Signal>, ServerFnError> {
    let snapshot = state
        .feed
        .load()
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(snapshot
        .feed
        .signals
        .iter()
        .find(|s| s.exchange == exchange && s.symbol == symbol && s.strategy == strategy)
        .cloned())
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
#[server(endpoint = "analyze_signal")]
pub async fn analyze_signal(
    exchange: Exchange,
    symbol: String,
    strategy: Strategy,
) -> Result<AiAnalysis, ServerFnError> {
    use crate::sources::gemini::{GeminiClient, GeminiConfig};
    use crate::sources::keys::ApiKeys;
    let state = expect_context::<crate::server::AppState>();
    let Some(signal) = find_signal(&state, exchange, &symbol, strategy).await? else {
        return Ok(AiAnalysis::Unavailable(format!(
            "{symbol} {strategy} on {exchange} is not in the current feed"
        )));
    };
    let keys = match ApiKeys::load(std::path::Path::new(".env")) {
        Ok(keys) => keys,
        Err(err) => return Ok(AiAnalysis::Unavailable(err.to_string())),
    };
    let answer = match GeminiClient::new(GeminiConfig::new(keys.gemini)) {
        Ok(client) => client.explain_signal(&signal).await,
        Err(err) => Err(err),
    };
    Ok(match answer {
        Ok(text) => AiAnalysis::Commentary(text),
        Err(err) => AiAnalysis::Unavailable(err.to_string()),
    })
}

/// The configuration the next scan will use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigState {
    pub config: ScannerConfig,
    /// Where it is saved (`quantpro.toml`).
    pub path: String,
    /// Set when the file exists but cannot be used; `config` then holds the defaults.
    pub error: Option<String>,
}

#[server(endpoint = "scanner_config")]
pub async fn get_scanner_config() -> Result<ConfigState, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    let path = state.paths.config_path.display().to_string();
    Ok(match state.scanner_config().await {
        Ok(config) => ConfigState {
            config,
            path,
            error: None,
        },
        Err(err) => ConfigState {
            config: ScannerConfig::default(),
            path,
            error: Some(err.to_string()),
        },
    })
}

/// The answer to the ConfigPanel's Save button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConfigSaveOutcome {
    Saved(ScannerConfig),
    /// Nothing was saved: every problem found, as the server words it.
    Invalid(Vec<String>),
}

/// Validates and saves the configuration to `quantpro.toml`; the next scan
/// reads it.
#[server(input = Json, endpoint = "save_scanner_config")]
pub async fn save_scanner_config(
    config: ScannerConfig,
) -> Result<ConfigSaveOutcome, ServerFnError> {
    use crate::core::config::ConfigFileError;
    let state = expect_context::<crate::server::AppState>();
    if let Err(errors) = config.validate() {
        return Ok(ConfigSaveOutcome::Invalid(
            errors.iter().map(|e| e.to_string()).collect(),
        ));
    }
    match state.save_scanner_config(config.clone()).await {
        Ok(()) => {
            tracing::info!("[CONFIG] saved {}", state.paths.config_path.display());
            Ok(ConfigSaveOutcome::Saved(config))
        }
        Err(ConfigFileError::Invalid { errors, .. }) => Ok(ConfigSaveOutcome::Invalid(
            errors.iter().map(|e| e.to_string()).collect(),
        )),
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
