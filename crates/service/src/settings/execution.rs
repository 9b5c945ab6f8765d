//! `[execution]` of `quantpro.toml`: how QuantPro acts on a signal (see
//! `execution`). Paper is the default everywhere: a venue trades live only
//! when its key here says `"live"` **and** its keys are in the environment
//! (`BINANCE_API_KEY` + `BINANCE_API_SECRET`; `HYPERLIQUID_PRIVATE_KEY` +
//! `HYPERLIQUID_ACCOUNT_ADDRESS`), so no code path reaches a venue by default.

use rust_decimal::Decimal;
use serde::Deserialize;

/// Paper or live, per venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VenueMode {
    #[default]
    Paper,
    Live,
}

/// How the entry is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// At the market when confirmed (the setup's entry is the last close).
    #[default]
    Market,
    /// Resting at the setup's entry until `limit_expiry_minutes`.
    Limit,
}

/// `[execution]` resolved: the limits every order passes, on the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionSettings {
    pub binance: VenueMode,
    pub hyperliquid: VenueMode,
    /// The paper account's starting equity, in USD(T).
    pub paper_balance: Decimal,
    /// The risk of one trade, in % of the account's equity.
    pub risk_pct: Decimal,
    /// The largest position value, in USD(T).
    pub max_notional: Decimal,
    /// The largest position value as a multiple of the equity.
    pub max_leverage: Decimal,
    pub max_open_positions: usize,
    /// Past this day's realised loss (UTC day, in % of equity at its start,
    /// and in R), new orders are refused until the next day.
    pub max_daily_loss_pct: Decimal,
    pub max_daily_loss_r: Decimal,
    /// The symbols orders may be placed on; empty: any.
    pub symbols: Vec<String>,
    pub entry: EntryKind,
    pub limit_expiry_minutes: u32,
    /// The paper venue's fill price is worse than the level by this much.
    pub slippage_bps: Decimal,
    /// The paper venue's fee on each fill (taker), in basis points of the
    /// fill's value; also the estimate on the ticket.
    pub fee_bps: Decimal,
    /// Alert rules may place live orders (`execute = "live"`) only with this.
    pub allow_auto: bool,
    /// Binance USDⓈ-M's REST base (its demo venue: `https://demo-fapi.binance.com`).
    pub binance_url: String,
    /// Hyperliquid's API base; `hyperliquid_testnet` signs for the testnet.
    pub hyperliquid_url: String,
    pub hyperliquid_testnet: bool,
    /// The user-data streams that bring fills as they happen (REST is read
    /// after every reconnect, and every 30 s regardless).
    pub binance_stream_url: String,
    pub hyperliquid_stream_url: String,
}

impl Default for ExecutionSettings {
    fn default() -> Self {
        ExecutionSection::default()
            .resolve()
            .expect("the defaults are valid")
    }
}

/// `[execution]` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct ExecutionSection {
    binance: VenueMode,
    hyperliquid: VenueMode,
    paper_balance: f64,
    risk_pct: f64,
    max_notional: f64,
    max_leverage: f64,
    max_open_positions: usize,
    max_daily_loss_pct: f64,
    max_daily_loss_r: f64,
    symbols: Vec<String>,
    entry: EntryKind,
    limit_expiry_minutes: u32,
    slippage_bps: f64,
    fee_bps: f64,
    allow_auto: bool,
    binance_url: String,
    hyperliquid_url: String,
    hyperliquid_testnet: bool,
    binance_stream_url: String,
    hyperliquid_stream_url: String,
}

impl Default for ExecutionSection {
    fn default() -> Self {
        ExecutionSection {
            binance: VenueMode::Paper,
            hyperliquid: VenueMode::Paper,
            paper_balance: 10_000.0,
            risk_pct: 1.0,
            max_notional: 5_000.0,
            max_leverage: 3.0,
            max_open_positions: 3,
            max_daily_loss_pct: 3.0,
            max_daily_loss_r: 3.0,
            symbols: Vec::new(),
            entry: EntryKind::Market,
            limit_expiry_minutes: 60,
            slippage_bps: 5.0,
            fee_bps: 5.0,
            allow_auto: false,
            binance_url: quantpro_sources::urls::BINANCE_FUTURES.to_string(),
            hyperliquid_url: quantpro_sources::urls::HYPERLIQUID.to_string(),
            hyperliquid_testnet: false,
            binance_stream_url: quantpro_sources::urls::BINANCE_FUTURES_PRIVATE_STREAM.to_string(),
            hyperliquid_stream_url: quantpro_sources::urls::HYPERLIQUID_STREAM.to_string(),
        }
    }
}

impl ExecutionSection {
    /// The settings, or every value out of its range, each naming its key.
    pub(super) fn resolve(self) -> Result<ExecutionSettings, Vec<String>> {
        let mut problems = Vec::new();
        let mut decimal = |key: &str, value: f64, min: f64, max: f64| {
            if !(value.is_finite() && value >= min && value <= max) {
                problems.push(format!(
                    "'execution.{key}' must be between {min} and {max}, got {value}"
                ));
                return Decimal::ZERO;
            }
            Decimal::try_from(value).unwrap_or_default().normalize()
        };
        let settings = ExecutionSettings {
            binance: self.binance,
            hyperliquid: self.hyperliquid,
            paper_balance: decimal("paper_balance", self.paper_balance, 1.0, 1e12),
            risk_pct: decimal("risk_pct", self.risk_pct, 0.01, 10.0),
            max_notional: decimal("max_notional", self.max_notional, 1.0, 1e12),
            max_leverage: decimal("max_leverage", self.max_leverage, 0.1, 50.0),
            max_open_positions: self.max_open_positions,
            max_daily_loss_pct: decimal("max_daily_loss_pct", self.max_daily_loss_pct, 0.1, 100.0),
            max_daily_loss_r: decimal("max_daily_loss_r", self.max_daily_loss_r, 0.5, 100.0),
            symbols: self
                .symbols
                .iter()
                .map(|s| s.trim().to_uppercase())
                .collect(),
            entry: self.entry,
            limit_expiry_minutes: self.limit_expiry_minutes,
            slippage_bps: decimal("slippage_bps", self.slippage_bps, 0.0, 1000.0),
            fee_bps: decimal("fee_bps", self.fee_bps, 0.0, 100.0),
            allow_auto: self.allow_auto,
            binance_url: self.binance_url.trim_end_matches('/').to_string(),
            hyperliquid_url: self.hyperliquid_url.trim_end_matches('/').to_string(),
            hyperliquid_testnet: self.hyperliquid_testnet,
            binance_stream_url: self.binance_stream_url.trim_end_matches('/').to_string(),
            hyperliquid_stream_url: self.hyperliquid_stream_url.clone(),
        };
        for (key, url) in [
            ("binance_url", &settings.binance_url),
            ("hyperliquid_url", &settings.hyperliquid_url),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                problems.push(format!(
                    "'execution.{key}' must be an http(s) URL, got {url:?}"
                ));
            }
        }
        for (key, url) in [
            ("binance_stream_url", &settings.binance_stream_url),
            ("hyperliquid_stream_url", &settings.hyperliquid_stream_url),
        ] {
            if !(url.starts_with("wss://") || url.starts_with("ws://")) {
                problems.push(format!(
                    "'execution.{key}' must be a ws(s) URL, got {url:?}"
                ));
            }
        }
        if !(1..=100).contains(&self.max_open_positions) {
            problems.push(format!(
                "'execution.max_open_positions' must be between 1 and 100, got {}",
                self.max_open_positions
            ));
        }
        if !(1..=10_080).contains(&self.limit_expiry_minutes) {
            problems.push(format!(
                "'execution.limit_expiry_minutes' must be between 1 and 10080, got {}",
                self.limit_expiry_minutes
            ));
        }
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ExecutionSettings, Vec<String>> {
        toml::from_str::<ExecutionSection>(text)
            .map_err(|e| vec![e.to_string()])?
            .resolve()
    }

    #[test]
    fn paper_everywhere_by_default() {
        let settings = ExecutionSettings::default();
        assert_eq!(
            (settings.binance, settings.hyperliquid),
            (VenueMode::Paper, VenueMode::Paper)
        );
        assert!(!settings.allow_auto);
        assert_eq!(settings.risk_pct, Decimal::ONE);
    }

    #[test]
    fn values_out_of_range_are_named() {
        let problems =
            parse("risk_pct = 50\nmax_open_positions = 0\nbinance = \"live\"").unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("'execution.risk_pct' must be between 0.01 and 10, got 50"));
        assert!(problems[1].contains("max_open_positions"));
        assert!(parse("leverage = 2").is_err(), "unknown keys are refused");
        let live = parse("hyperliquid = \"live\"\nsymbols = [\" btcusdt\"]").unwrap();
        assert_eq!(live.hyperliquid, VenueMode::Live);
        assert_eq!(live.symbols, ["BTCUSDT"]);
    }
}
