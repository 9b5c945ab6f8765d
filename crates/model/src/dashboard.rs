//! The dashboard's wire types: what the server functions (`app::api`) and
//! the JSON routes answer, built on the server and rendered in the browser.
//! Expected refusals (a scan already running, an invalid configuration, no
//! Gemini key) are values of these types, so the UI can word them.

use crate::{ConfigTexts, MarketView, TableRow, TradeSetup};
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
    /// Said once above the table when a strategy cannot act for want of a
    /// key ("BreakoutV2 needs open interest: set COINALYZE_API_KEY ...");
    /// empty when every strategy can act. (A string, not an `Option`: the
    /// WASM budget counts every decoder.)
    #[serde(default)]
    pub notice: String,
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

/// The answer to the "AI analysis" button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AiAnalysis {
    Commentary(String),
    /// No commentary, and why (no GEMINI_API_KEY, quota, network...).
    Unavailable(String),
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

/// The answer to the ConfigPanel's Save button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConfigSaveOutcome {
    /// The configuration in force (`ScannerConfig::texts`).
    Saved(ConfigTexts),
    /// Nothing was saved: every problem found, as the server words it.
    Invalid(Vec<String>),
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
