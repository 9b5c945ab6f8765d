//! Binance klines: spot (`/api/v3/klines`, up to 1000 per page, weight 2 of
//! 6000 per minute) and USD-M perps (`/fapi/v1/klines`, up to 1500 per page,
//! weight 1 to 10 by `limit`, of 2400 per minute). Rows are 12-field arrays
//! with string prices. The governor reads `X-MBX-USED-WEIGHT-1M` from every
//! response and holds the host on 429 and 418 (IP ban).

use crate::governor::{Cost, Governor};
use crate::http::ApiClient;
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
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// The parts of the API that differ between spot and USD-M futures.
struct Flavor {
    klines_path: &'static str,
    ticker_path: &'static str,
    exchange_info_path: &'static str,
    exchange_info_weight: u32,
    /// USD-M lists dated contracts too: only perpetuals are followed.
    perpetuals_only: bool,
    page_limit: usize,
    klines_weight: fn(usize) -> u32,
    /// `ticker/24hr` without a symbol (every ticker).
    ticker_weight: u32,
}

const SPOT: Flavor = Flavor {
    klines_path: "/api/v3/klines",
    ticker_path: "/api/v3/ticker/24hr",
    exchange_info_path: "/api/v3/exchangeInfo",
    exchange_info_weight: 20,
    perpetuals_only: false,
    page_limit: 1000,
    klines_weight: |_| 2,
    ticker_weight: 80,
};

const FUTURES: Flavor = Flavor {
    klines_path: "/fapi/v1/klines",
    ticker_path: "/fapi/v1/ticker/24hr",
    exchange_info_path: "/fapi/v1/exchangeInfo",
    exchange_info_weight: 1,
    perpetuals_only: true,
    page_limit: 1500,
    klines_weight: futures_klines_weight,
    ticker_weight: 40,
};

/// USD-M klines weight by `limit`: [1,100) 1, [100,500) 2, [500,1000] 5, above 10.
pub fn futures_klines_weight(limit: usize) -> u32 {
    match limit {
        0..=99 => 1,
        100..=499 => 2,
        500..=1000 => 5,
        _ => 10,
    }
}

pub struct BinanceFetcher {
    flavor: &'static Flavor,
    api: ApiClient,
    base_url: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ticker24h {
    symbol: String,
    #[serde(default)]
    quote_volume: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ExchangeInfo {
    symbols: Vec<SymbolInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SymbolInfo {
    symbol: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    quote_asset: String,
    #[serde(default)]
    contract_type: Option<String>,
}

impl SymbolInfo {
    /// Trading now, quoted in USDT, and (on USD-M) a perpetual.
    fn followed(&self, flavor: &Flavor) -> bool {
        self.status == "TRADING"
            && self.quote_asset == "USDT"
            && (!flavor.perpetuals_only || self.contract_type.as_deref() == Some("PERPETUAL"))
    }
}

impl BinanceFetcher {
    pub fn new(
        market: Market,
        config: &FetcherConfig,
        governor: &Arc<Governor>,
    ) -> Result<BinanceFetcher, SourceError> {
        let (flavor, default_base) = match market {
            Market::Spot => (&SPOT, crate::urls::BINANCE_SPOT),
            Market::Futures => (&FUTURES, crate::urls::BINANCE_FUTURES),
        };
        Ok(BinanceFetcher {
            flavor,
            api: config.api_client(governor.gate(host_of(Exchange::Binance, market)))?,
            base_url: config.base_url_or(default_base),
        })
    }
}

/// How many candles of `interval` open in `[start_ms, end_ms)` (at least 1).
fn candles_in(start_ms: i64, end_ms: i64, interval: Interval) -> usize {
    let span = u64::try_from(end_ms.saturating_sub(start_ms)).unwrap_or(0);
    usize::try_from(span.div_ceil(interval.millis() as u64))
        .unwrap_or(usize::MAX)
        .max(1)
}

/// Binance spells our intervals as we do.
fn interval_code(interval: Interval) -> &'static str {
    interval.as_str()
}

#[async_trait]
impl CandleFetcher for BinanceFetcher {
    fn exchange(&self) -> Exchange {
        Exchange::Binance
    }

    fn page_limit(&self) -> usize {
        self.flavor.page_limit
    }

    async fn candle_page(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Candle>, SourceError> {
        let api = self.api.api();
        let url = format!("{}{}", self.base_url, self.flavor.klines_path);
        // No more than the range holds: USD-M charges by `limit`, and the
        // live loop's poll of the newest candle must not pay for 1500.
        let limit = self
            .flavor
            .page_limit
            .min(candles_in(start_ms, end_ms, interval));
        // endTime is inclusive on the open time: stop one ms short of end_ms.
        let query = [
            ("symbol", symbol.to_string()),
            ("interval", interval_code(interval).to_string()),
            ("startTime", start_ms.to_string()),
            ("endTime", (end_ms - 1).to_string()),
            ("limit", limit.to_string()),
        ];
        let build = || self.api.http().get(&url).query(&query);
        let cost = Cost::weight((self.flavor.klines_weight)(limit));
        let rows: Vec<Vec<serde_json::Value>> = self
            .api
            .fetch_json("klines", &build, cost)
            .await
            .map_err(|e| map_code_msg_error(api, symbol, e))?;
        rows.iter()
            .enumerate()
            .map(|(i, row)| {
                let field = |k: usize| row.get(k).and_then(json_number);
                candle_from(
                    api,
                    i,
                    row.first().and_then(json_millis),
                    [field(1), field(2), field(3), field(4), field(5)],
                )
            })
            .collect()
    }

    /// `exchangeInfo` says what trades (a delisted symbol leaves it or
    /// changes status while its ticker lingers); the 24 h tickers give the
    /// quote volume.
    async fn listings(&self) -> Result<Vec<Listing>, SourceError> {
        let info_url = format!("{}{}", self.base_url, self.flavor.exchange_info_path);
        let build = || self.api.http().get(&info_url);
        let cost = Cost::weight(self.flavor.exchange_info_weight);
        let info: ExchangeInfo = self.api.fetch_json("exchangeInfo", &build, cost).await?;
        let url = format!("{}{}", self.base_url, self.flavor.ticker_path);
        let build = || self.api.http().get(&url);
        let cost = Cost::weight(self.flavor.ticker_weight);
        let tickers: Vec<Ticker24h> = self.api.fetch_json("24h tickers", &build, cost).await?;
        let volumes: HashMap<String, f64> = tickers
            .into_iter()
            .map(|t| {
                let volume = t.quote_volume.as_ref().and_then(json_number).unwrap_or(0.0);
                (t.symbol, volume)
            })
            .collect();
        Ok(info
            .symbols
            .into_iter()
            .filter(|s| s.followed(self.flavor))
            .map(|s| {
                let volume = volumes.get(&s.symbol).copied().unwrap_or(0.0);
                Listing::new(s.symbol, volume)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_holds_the_candles_opening_in_it() {
        let m15 = Interval::M15.millis();
        assert_eq!(candles_in(0, m15, Interval::M15), 1);
        assert_eq!(candles_in(0, m15 + 3_000, Interval::M15), 2);
        assert_eq!(candles_in(0, 1500 * m15, Interval::M15), 1500);
        assert_eq!(candles_in(5, 5, Interval::M15), 1, "never a limit of 0");
    }

    #[test]
    fn futures_klines_weight_follows_limit() {
        assert_eq!(futures_klines_weight(99), 1);
        assert_eq!(futures_klines_weight(100), 2);
        assert_eq!(futures_klines_weight(500), 5);
        assert_eq!(futures_klines_weight(1000), 5);
        assert_eq!(futures_klines_weight(1500), 10);
    }
}
