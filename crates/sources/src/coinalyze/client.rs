//! One Coinalyze call: the `api_key` header, the governor's Coinalyze gate
//! (charged per symbol, again on each retry, counted until a minute after
//! the response), `Retry-After` on 429, backoff on 5xx and timeouts, and the
//! typed shapes of the responses we read.

use super::CoinalyzeConfig;
use crate::governor::{Cost, Governor, Host, HostGate};
use crate::http::{ApiClient, StatsSnapshot};
use crate::keys::{Secret, COINALYZE_API_KEY};
use crate::SourceError;
use reqwest::header::HeaderValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub(crate) const API: &str = "Coinalyze";

/// Coinalyze refuses more symbols than this in one request.
pub const MAX_SYMBOLS_PER_REQUEST: usize = 20;

/// An entry of `/exchanges`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoinalyzeExchange {
    pub name: String,
    pub code: String,
}

/// An entry of `/future-markets` (fields we do not use are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FutureMarket {
    pub symbol: String,
    pub exchange: String,
    pub symbol_on_exchange: String,
    #[serde(default)]
    pub base_asset: String,
    #[serde(default)]
    pub quote_asset: String,
    #[serde(default)]
    pub is_perpetual: bool,
    #[serde(default)]
    pub margined: Option<String>,
    #[serde(default)]
    pub has_long_short_ratio_data: bool,
}

/// The four histories the scanner reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HistoryEndpoint {
    OpenInterest,
    FundingRate,
    LongShortRatio,
    Liquidations,
}

impl HistoryEndpoint {
    pub const ALL: [HistoryEndpoint; 4] = [
        HistoryEndpoint::OpenInterest,
        HistoryEndpoint::FundingRate,
        HistoryEndpoint::LongShortRatio,
        HistoryEndpoint::Liquidations,
    ];

    pub fn path(self) -> &'static str {
        match self {
            HistoryEndpoint::OpenInterest => "/open-interest-history",
            HistoryEndpoint::FundingRate => "/funding-rate-history",
            HistoryEndpoint::LongShortRatio => "/long-short-ratio-history",
            HistoryEndpoint::Liquidations => "/liquidation-history",
        }
    }

    /// Only OI and liquidations take `convert_to_usd`.
    fn takes_convert_to_usd(self) -> bool {
        matches!(
            self,
            HistoryEndpoint::OpenInterest | HistoryEndpoint::Liquidations
        )
    }
}

/// One bar of any of the four histories: OHLC histories fill `c`, the
/// long/short ratio fills `r` (and `l`/`s` as percentages), liquidations
/// fill `l`/`s` (long/short volume). Absent or null fields are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct HistoryBar {
    /// Bar open time, Unix seconds.
    pub t: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<f64>,
}

/// A symbol's history as returned (oldest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolHistory {
    pub symbol: String,
    #[serde(default)]
    pub history: Vec<HistoryBar>,
}

/// `interval`, `from`, `to` of a history request (`from`/`to` in Unix seconds, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryRange {
    pub interval: &'static str,
    pub from: i64,
    pub to: i64,
}

/// The HTTP client of Coinalyze; exists only with a key.
pub struct CoinalyzeClient {
    api: ApiClient,
    base_url: String,
    api_key: Secret,
    oi_in_usd: bool,
}

impl CoinalyzeClient {
    /// Fails with `NoKey` when the config has no key.
    pub fn new(
        config: &CoinalyzeConfig,
        governor: &Arc<Governor>,
    ) -> Result<CoinalyzeClient, SourceError> {
        let api_key = config.api_key.clone().ok_or(SourceError::NoKey {
            api: API,
            var: COINALYZE_API_KEY,
        })?;
        Ok(CoinalyzeClient {
            api: ApiClient::new(
                API,
                governor.gate(Host::Coinalyze),
                config.retry,
                config.timeout,
            )?,
            base_url: config.base_url.trim_end_matches('/').to_string(),
            api_key,
            oi_in_usd: config.oi_in_usd,
        })
    }

    pub async fn exchanges(&self) -> Result<Vec<CoinalyzeExchange>, SourceError> {
        self.get("/exchanges", Vec::new(), 1, "exchanges").await
    }

    pub async fn future_markets(&self) -> Result<Vec<FutureMarket>, SourceError> {
        self.get("/future-markets", Vec::new(), 1, "future-markets")
            .await
    }

    /// One history request for up to 20 symbols.
    pub async fn history(
        &self,
        endpoint: HistoryEndpoint,
        symbols: &[String],
        range: HistoryRange,
    ) -> Result<Vec<SymbolHistory>, SourceError> {
        let mut query = vec![
            ("symbols", symbols.join(",")),
            ("interval", range.interval.to_string()),
            ("from", range.from.to_string()),
            ("to", range.to.to_string()),
        ];
        if endpoint.takes_convert_to_usd() {
            let usd = self.oi_in_usd || endpoint == HistoryEndpoint::Liquidations;
            query.push(("convert_to_usd", usd.to_string()));
        }
        self.get(endpoint.path(), query, symbols.len() as u32, "history")
            .await
    }

    /// Whether OI histories are requested in USD (part of the cache key).
    pub fn oi_in_usd(&self) -> bool {
        self.oi_in_usd
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.api.stats()
    }

    pub(crate) fn record_cached(&self) {
        self.api.record_cached();
    }

    /// The Coinalyze gate of the governor (its quota, its symbol-calls sent).
    pub fn gate(&self) -> &HostGate {
        self.api.gate()
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &'static str,
        query: Vec<(&'static str, String)>,
        weight: u32,
        what: &'static str,
    ) -> Result<T, SourceError> {
        let url = format!("{}{path}", self.base_url);
        let mut key =
            HeaderValue::from_str(self.api_key.expose()).map_err(|_| SourceError::Client {
                api: API,
                detail: "the API key holds characters a header cannot".into(),
            })?;
        key.set_sensitive(true);
        let build = || {
            self.api
                .http()
                .get(&url)
                .query(&query)
                .header("api_key", key.clone())
        };
        let result = self
            .api
            .fetch_json(what, &build, Cost::weight(weight))
            .await;
        if result.is_ok() {
            tracing::info!("[API-SUCCESS] Coinalyze {path} ({weight} symbol-calls)");
        }
        result
    }
}
