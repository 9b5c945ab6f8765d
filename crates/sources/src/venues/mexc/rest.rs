//! MEXC klines.
//!
//! Spot v3 (`/api/v3/klines`): Binance-like 8-field rows, but one hour is
//! spelled `60m`, pages are capped at 500 (the documented 1000 is not what
//! the API serves), `endTime` is exclusive, and each endpoint has 500 weight
//! per 10 s.
//!
//! Futures v1 (`/api/v1/contract/kline/{BTC_USDT}`): one object of parallel
//! arrays, times in **seconds**, at most 2000 bars, volume in contracts (times
//! `contractSize` from `/api/v1/contract/detail` gives base units), and an
//! envelope whose `success`/`code` must be checked even on HTTP 200 (code 510
//! is "too frequent", 1001 "contract does not exist"). 20 requests per 2 s,
//! `/contract/detail` 1 per 5 s. Code 510 is judged by the shared loop as a
//! 429 ([`EnvelopeRules`]): the host waits, then the call is retried.

use crate::governor::{Cost, Governor, MEXC_CONTRACT_DETAIL};
use crate::http::{status_verdict, ApiClient, Classify, Response, Verdict};
use crate::json_fields::json_millis;
use crate::json_fields::json_number;
use crate::venues::{
    candle_from, host_of, map_code_msg_error, CandleFetcher, FetcherConfig, Listing,
};
use crate::SourceError;
use async_trait::async_trait;
use quantpro_model::Candle;
use quantpro_model::Exchange;
use quantpro_model::Interval;
use quantpro_model::Market;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

const SPOT_API: &str = "MEXC spot";
const FUTURES_API: &str = "MEXC futures";
const SPOT_PAGE_LIMIT: usize = 500;
const FUTURES_PAGE_LIMIT: usize = 2000;
const CODE_TOO_FREQUENT: i64 = 510;
const CODE_NO_CONTRACT: i64 = 1001;

fn spot_interval(interval: Interval) -> &'static str {
    match interval {
        Interval::M15 => "15m",
        Interval::H1 => "60m",
        Interval::H4 => "4h",
        Interval::D1 => "1d",
    }
}

fn futures_interval(interval: Interval) -> &'static str {
    match interval {
        Interval::M15 => "Min15",
        Interval::H1 => "Min60",
        Interval::H4 => "Hour4",
        Interval::D1 => "Day1",
    }
}

pub struct MexcSpotFetcher {
    api: ApiClient,
    base_url: String,
}

impl MexcSpotFetcher {
    pub fn new(
        config: &FetcherConfig,
        governor: &Arc<Governor>,
    ) -> Result<MexcSpotFetcher, SourceError> {
        Ok(MexcSpotFetcher {
            api: config.api_client(governor.gate(host_of(Exchange::Mexc, Market::Spot)))?,
            base_url: config.base_url_or(crate::urls::MEXC_SPOT),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpotTicker {
    symbol: String,
    #[serde(default)]
    quote_volume: Option<Value>,
}

#[async_trait]
impl CandleFetcher for MexcSpotFetcher {
    fn exchange(&self) -> Exchange {
        Exchange::Mexc
    }

    fn page_limit(&self) -> usize {
        SPOT_PAGE_LIMIT
    }

    async fn candle_page(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Candle>, SourceError> {
        let url = format!("{}/api/v3/klines", self.base_url);
        let query = [
            ("symbol", symbol.to_string()),
            ("interval", spot_interval(interval).to_string()),
            ("startTime", start_ms.to_string()),
            // Exclusive, like our range end. Like Binance, a start time gives the
            // oldest candles from it, so pages need no time window.
            ("endTime", end_ms.to_string()),
            ("limit", SPOT_PAGE_LIMIT.to_string()),
        ];
        let build = || self.api.http().get(&url).query(&query);
        let rows: Vec<Vec<Value>> = self
            .api
            .fetch_json("klines", &build, Cost::weight(1))
            .await
            .map_err(|e| map_code_msg_error(SPOT_API, symbol, e))?;
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                let field = |k: usize| row.get(k).and_then(json_number);
                candle_from(
                    SPOT_API,
                    i,
                    row.first().and_then(json_millis),
                    [field(1), field(2), field(3), field(4), field(5)],
                )
            })
            .collect()
    }

    async fn listings(&self) -> Result<Vec<Listing>, SourceError> {
        let url = format!("{}/api/v3/ticker/24hr", self.base_url);
        let build = || self.api.http().get(&url);
        // Weight 40 without a symbol (every ticker).
        let tickers: Vec<SpotTicker> = self
            .api
            .fetch_json("24h tickers", &build, Cost::weight(40))
            .await?;
        Ok(tickers
            .into_iter()
            .filter(|t| t.symbol.ends_with("USDT"))
            .map(|t| {
                let volume = t.quote_volume.as_ref().and_then(json_number).unwrap_or(0.0);
                Listing::new(t.symbol, volume)
            })
            .collect())
    }
}

pub struct MexcFuturesFetcher {
    api: ApiClient,
    base_url: String,
    /// Base units per contract of every contract, from the last
    /// `/contract/detail` read (renewed by every listings read).
    contract_sizes: std::sync::Mutex<Arc<HashMap<String, f64>>>,
}

/// The contract API's rules: an envelope with code 510 ("too frequent",
/// possibly on HTTP 200) is a 429 without `Retry-After`; anything else goes
/// by status, and the envelope's other codes are read by the caller.
pub struct EnvelopeRules;

impl Classify for EnvelopeRules {
    fn classify(&self, api: &'static str, response: &Response) -> Verdict {
        #[derive(Deserialize)]
        struct Code {
            #[serde(default)]
            code: i64,
        }
        match serde_json::from_slice::<Code>(&response.body) {
            Ok(Code {
                code: CODE_TOO_FREQUENT,
            }) => Verdict::RateLimited {
                wait: None,
                reason: "code 510 (too frequent)".to_string(),
            },
            _ => status_verdict(api, response),
        }
    }
}

/// `{"success", "code", "data", "message"}` around every contract response.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    code: i64,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct KlineArrays {
    time: Vec<Value>,
    open: Vec<Value>,
    close: Vec<Value>,
    high: Vec<Value>,
    low: Vec<Value>,
    vol: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContractDetail {
    symbol: String,
    contract_size: Value,
    /// 0 enabled, 1 delivery, 2 completed, 3 offline, 4 paused.
    #[serde(default)]
    state: i64,
}

#[derive(Deserialize)]
struct ContractTicker {
    symbol: String,
    #[serde(default)]
    amount24: Option<Value>,
}

impl MexcFuturesFetcher {
    pub fn new(
        config: &FetcherConfig,
        governor: &Arc<Governor>,
    ) -> Result<MexcFuturesFetcher, SourceError> {
        Ok(MexcFuturesFetcher {
            api: config.api_client(governor.gate(host_of(Exchange::Mexc, Market::Futures)))?,
            base_url: config.base_url_or(crate::urls::MEXC_FUTURES),
            contract_sizes: std::sync::Mutex::new(Arc::new(HashMap::new())),
        })
    }

    /// GETs a contract endpoint and unwraps the envelope: 1001 is an unknown
    /// symbol, other codes are API errors (510 never gets here: the loop
    /// retries it).
    async fn get_data<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        cost: Cost,
        symbol: &str,
        what: &'static str,
    ) -> Result<T, SourceError> {
        let url = format!("{}{path}", self.base_url);
        let build = || self.api.http().get(&url).query(query);
        let envelope: Envelope = self
            .api
            .fetch_json_with(what, &build, cost, &EnvelopeRules)
            .await?;
        if envelope.success && envelope.code == 0 {
            return serde_json::from_value(envelope.data).map_err(|e| SourceError::Malformed {
                api: FUTURES_API,
                what,
                detail: e.to_string(),
            });
        }
        Err(match envelope.code {
            CODE_NO_CONTRACT => SourceError::UnknownSymbol {
                api: FUTURES_API,
                symbol: symbol.to_string(),
            },
            code => SourceError::Api {
                api: FUTURES_API,
                code,
                message: envelope.message.unwrap_or_else(|| "no message".to_string()),
            },
        })
    }

    /// Every contract's details (1 call per 5 s on its own lane); the
    /// contract sizes are remembered for the klines.
    async fn contract_details(&self) -> Result<Vec<ContractDetail>, SourceError> {
        let details: Vec<ContractDetail> = self
            .get_data(
                "/api/v1/contract/detail",
                &[],
                Cost::on_lane(MEXC_CONTRACT_DETAIL, 1),
                "",
                "contract details",
            )
            .await?;
        let sizes: HashMap<String, f64> = details
            .iter()
            .filter_map(|d| json_number(&d.contract_size).map(|size| (d.symbol.clone(), size)))
            .collect();
        *self.lock_sizes() = Arc::new(sizes);
        Ok(details)
    }

    fn lock_sizes(&self) -> std::sync::MutexGuard<'_, Arc<HashMap<String, f64>>> {
        self.contract_sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Base units per contract: read with the details on first use, then
    /// as of the last listings read.
    async fn contract_size(&self, symbol: &str) -> Result<f64, SourceError> {
        let mut sizes = self.lock_sizes().clone();
        if sizes.is_empty() {
            self.contract_details().await?;
            sizes = self.lock_sizes().clone();
        }
        sizes
            .get(symbol)
            .copied()
            .ok_or_else(|| SourceError::UnknownSymbol {
                api: FUTURES_API,
                symbol: symbol.to_string(),
            })
    }
}

#[async_trait]
impl CandleFetcher for MexcFuturesFetcher {
    fn exchange(&self) -> Exchange {
        Exchange::Mexc
    }

    fn page_limit(&self) -> usize {
        FUTURES_PAGE_LIMIT
    }

    fn page_window_ms(&self, interval: Interval) -> Option<i64> {
        Some(interval.millis() * FUTURES_PAGE_LIMIT as i64)
    }

    async fn candle_page(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Candle>, SourceError> {
        let contract_size = self.contract_size(symbol).await?;
        let query = [
            ("interval", futures_interval(interval).to_string()),
            ("start", start_ms.div_euclid(1000).to_string()),
            // The trait's page window keeps [start, end) within 2000 bars: the
            // doc does not say which end of a longer range the API would keep.
            ("end", (end_ms - 1).div_euclid(1000).to_string()),
        ];
        let path = format!("/api/v1/contract/kline/{symbol}");
        let arrays: KlineArrays = self
            .get_data(&path, &query, Cost::weight(1), symbol, "contract klines")
            .await?;
        let n = arrays.time.len();
        let lengths = [
            arrays.open.len(),
            arrays.high.len(),
            arrays.low.len(),
            arrays.close.len(),
            arrays.vol.len(),
        ];
        if lengths.iter().any(|&len| len != n) {
            return Err(SourceError::Malformed {
                api: FUTURES_API,
                what: "contract klines",
                detail: format!("parallel arrays differ in length: time {n}, open/high/low/close/vol {lengths:?}"),
            });
        }
        (0..n)
            .map(|i| {
                let t = json_millis(&arrays.time[i]).map(|secs| secs * 1000);
                let volume = json_number(&arrays.vol[i]).map(|contracts| contracts * contract_size);
                let ohlcv = [
                    json_number(&arrays.open[i]),
                    json_number(&arrays.high[i]),
                    json_number(&arrays.low[i]),
                    json_number(&arrays.close[i]),
                    volume,
                ];
                candle_from(FUTURES_API, i, t, ohlcv)
            })
            .collect()
    }

    /// Enabled USDT contracts of `/contract/detail` (with their contract
    /// size), with `amount24` of the tickers as 24 h quote volume.
    async fn listings(&self) -> Result<Vec<Listing>, SourceError> {
        let details = self.contract_details().await?;
        let tickers: Vec<ContractTicker> = self
            .get_data(
                "/api/v1/contract/ticker",
                &[],
                Cost::weight(1),
                "",
                "contract tickers",
            )
            .await?;
        let volumes: HashMap<String, f64> = tickers
            .into_iter()
            .map(|t| {
                let volume = t.amount24.as_ref().and_then(json_number).unwrap_or(0.0);
                (t.symbol, volume)
            })
            .collect();
        Ok(details
            .into_iter()
            .filter(|d| d.state == 0 && d.symbol.ends_with("_USDT"))
            .map(|d| {
                let volume = volumes.get(&d.symbol).copied().unwrap_or(0.0);
                let mut listing = Listing::new(d.symbol, volume);
                listing.contract_size = json_number(&d.contract_size);
                listing
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hour_is_60m_on_spot_and_min60_on_futures() {
        assert_eq!(spot_interval(Interval::H1), "60m");
        assert_eq!(futures_interval(Interval::H1), "Min60");
        assert_eq!(futures_interval(Interval::H4), "Hour4");
    }
}
