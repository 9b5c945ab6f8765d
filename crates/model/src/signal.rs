//! One scanner signal: a (symbol, exchange, strategy) with its score, action,
//! trade setup and full score breakdown (SIGNAL.md).

use super::enums::*;
use serde::{Deserialize, Serialize};

/// Entry, stop and target for the signal's direction (STRATEGIES.md §5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeSetup {
    pub side: Side,
    pub entry: f64,
    pub sl: f64,
    pub tp: f64,
    /// Reward over risk: `(tp - entry) / (entry - sl)` for LONG, mirrored for SHORT.
    pub rr: f64,
}

impl TradeSetup {
    /// Price distance between entry and stop: what one unit of position risks.
    pub fn risk_per_unit(&self) -> f64 {
        (self.entry - self.sl).abs()
    }
}

/// An RSI trendline through two pivots (STRATEGIES.md §1); indices are into
/// the LTF series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RsiTrendline {
    pub start_index: usize,
    pub start_rsi: f64,
    pub end_index: usize,
    pub end_rsi: f64,
    /// RSI points per candle.
    pub slope: f64,
    /// The line's value at the last LTF candle.
    pub value_now: f64,
    pub broken: bool,
    /// Index of the candle whose RSI crossed the line, when broken.
    #[serde(default)]
    pub break_index: Option<usize>,
}

impl RsiTrendline {
    /// The line's RSI value at LTF index `x`.
    pub fn value_at(&self, x: usize) -> f64 {
        self.start_rsi + self.slope * (x as f64 - self.start_index as f64)
    }
}

/// The two STRATEGIES.md filters of BreakoutV2; Legacy and Breakout report them too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FiltersPassed {
    pub oi_zscore: bool,
    pub obv_slope: bool,
}

/// Raw metrics and the four mapped dashboard scores (each 0..25) of a signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreComposition {
    pub rsi: Option<f64>,
    pub close_price: f64,
    pub oi_z_score: f64,
    pub oi_z_score_valid: bool,
    pub obv_slope: f64,
    pub cardwell_range: CardwellRange,
    pub breakout_type: Option<BreakoutType>,
    pub atr: Option<f64>,
    pub trend_score: f64,
    pub structure_score: f64,
    pub money_flow_score: f64,
    pub timing_score: f64,
    pub filters_passed: FiltersPassed,
    pub oi_available: bool,
    pub funding_available: bool,
    pub ls_ratio_available: bool,
    pub liquidations_available: bool,
}

impl ScoreComposition {
    /// Sum of the four mapped scores, clamped to 0..100 as the total is.
    pub fn total(&self) -> f64 {
        (self.trend_score + self.structure_score + self.money_flow_score + self.timing_score)
            .clamp(0.0, 100.0)
    }
}

/// The RSI trendlines drawn in the ObservabilityPanel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RsiVisuals {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resistance: Option<RsiTrendline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<RsiTrendline>,
}

/// Everything needed to explain a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observability {
    pub score_composition: ScoreComposition,
    #[serde(default)]
    pub rsi_visuals: RsiVisuals,
    /// Unix seconds when the signal was computed.
    pub calculated_at: i64,
    /// Index of the last LTF candle used.
    pub candle_index: usize,
}

/// `details`: the total plus the strategy-specific values behind it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SignalDetails {
    pub total: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oi_z_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obv_slope: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cardwell_range: Option<CardwellRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakout_type: Option<BreakoutType>,
    /// Legacy only: whether the RSI pullback condition held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pullback: Option<bool>,
}

/// HTF (4h) summary: trend from EMA50/EMA200, its bias and ADX(14).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HtfSummary {
    pub trend: Trend,
    pub bias: Bias,
    pub adx: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema50: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema200: Option<f64>,
}

/// LTF (15m) summary of the values the strategies read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LtfSummary {
    pub rsi: Option<f64>,
    pub bias: Bias,
    pub cardwell_range: CardwellRange,
    #[serde(default)]
    pub obv_slope: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema20: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema50: Option<f64>,
    /// Open time (Unix ms) of the last closed LTF candle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_candle_time: Option<i64>,
    /// True when the last candle is older than two intervals at scan time.
    #[serde(default)]
    pub stale: bool,
}

/// Where the derivatives data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OiMetadata {
    pub status: OiStatus,
    #[serde(default)]
    pub coinalyze_symbol: Option<String>,
    #[serde(default)]
    pub value: Option<f64>,
    /// The derivatives series that were fetched but whose newest value was
    /// too old to use (older than its bucket plus a tolerance; the signal
    /// treats them as unavailable). Empty, and left out of the JSON, when
    /// every value was current.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale: Vec<StaleSeries>,
}

/// A derivatives series left out for its age: the Coinalyze history
/// (`open-interest-history`, `funding-rate-history`,
/// `long-short-ratio-history`) and the age in seconds of its newest value
/// when it was fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaleSeries {
    pub series: String,
    pub age_secs: i64,
}

impl Default for OiMetadata {
    fn default() -> Self {
        OiMetadata {
            status: OiStatus::Neutral,
            coinalyze_symbol: None,
            value: None,
            stale: Vec::new(),
        }
    }
}

/// Market capitalisation and 24 h volume, in USD.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MarketMetadata {
    pub mcap: Option<f64>,
    pub vol_24h: Option<f64>,
}

/// One signal per (symbol, exchange, strategy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub strategy_name: Strategy,
    pub strategy: Strategy,
    pub symbol: String,
    pub canonical_symbol: String,
    pub exchange: Exchange,
    pub price: f64,
    pub score: f64,
    pub total_score: f64,
    pub bias: Bias,
    pub action: Action,
    pub setup: Option<TradeSetup>,
    pub details: SignalDetails,
    #[serde(default)]
    pub wait_reasons: Vec<String>,
    pub htf: HtfSummary,
    pub ltf: LtfSummary,
    pub observability: Observability,
    #[serde(default)]
    pub oi_metadata: OiMetadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MarketMetadata>,
    /// The learned win probability of an acting signal (docs/QUALITY.md);
    /// absent without a model in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<SignalQuality>,
}

/// `quality`: of signals like this one, the share that won (STRATEGIES.md
/// §6, R > 0), as the model in force estimates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalQuality {
    pub p_win: f64,
    pub model_id: String,
    /// Unix ms.
    pub trained_at: i64,
    /// Closed trades the model was fitted on.
    pub n_train: usize,
    /// Walk-forward Brier skill against the base rate; `None` or <= 0: the
    /// model has no skill on past data and must not sort or filter.
    pub skill: Option<f64>,
}

impl SignalQuality {
    /// The model beat the base rate out of sample.
    pub fn has_skill(&self) -> bool {
        self.skill.is_some_and(|s| s > 0.0)
    }
}

impl Signal {
    /// The key that makes a signal unique in a feed.
    pub fn key(&self) -> (Exchange, &str, Strategy) {
        (self.exchange, &self.symbol, self.strategy)
    }
}

/// Canonical base asset of an exchange symbol: `BTCUSDT` -> `BTC`,
/// `BTC_USDT` -> `BTC`, `kPEPE` -> `PEPE` (Hyperliquid's 1000x prefix).
pub fn canonical_symbol(symbol: &str) -> String {
    let upper = symbol
        .strip_prefix('k')
        .filter(|rest| {
            rest.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
        .unwrap_or(symbol);
    let base = upper.split(['_', '-', '/']).next().unwrap_or(upper);
    for quote in ["USDT", "USDC", "USD", "BUSD", "FDUSD"] {
        if let Some(stripped) = base.strip_suffix(quote) {
            if !stripped.is_empty() {
                return stripped.to_string();
            }
        }
    }
    base.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_symbol_strips_quote_and_prefixes() {
        assert_eq!(canonical_symbol("BTCUSDT"), "BTC");
        assert_eq!(canonical_symbol("BTC_USDT"), "BTC");
        assert_eq!(canonical_symbol("ETH"), "ETH");
        assert_eq!(canonical_symbol("kPEPE"), "PEPE");
        assert_eq!(canonical_symbol("USDT"), "USDT");
    }

    #[test]
    fn trendline_value_follows_its_slope() {
        let line = RsiTrendline {
            start_index: 10,
            start_rsi: 70.0,
            end_index: 20,
            end_rsi: 60.0,
            slope: -1.0,
            value_now: 55.0,
            broken: false,
            break_index: None,
        };
        assert_eq!(line.value_at(25), 55.0);
    }
}
