//! Binance klines: spot (`/api/v3/klines`, up to 1000 per page, weight 2 of
//! 6000 per minute) and USD-M perps (`/fapi/v1/klines`, up to 1500 per page,
//! weight 10 of 2400 per minute). Rows are 12-field arrays with string
//! prices; 429 and 418 (IP ban) carry `Retry-After`, which the shared loop
//! honours.

use super::{
    candle_from, json_millis, json_number, map_code_msg_error, top_by_volume, CandleFetcher,
    FetcherConfig, Market,
};
use crate::core::candles::Candle;
use crate::model::Exchange;
use crate::model::Interval;
use crate::sources::http::{self, RequestStats, RetryPolicy};
use crate::sources::rate::{TokenBucket, WeightBudget, WeightedTurn};
use crate::sources::SourceError;
use async_trait::async_trait;
use serde::Deserialize;
use std::time::Duration;

pub const SPOT_BASE_URL: &str = "https://api.binance.com";
pub const FUTURES_BASE_URL: &str = "https://fapi.binance.com";

/// The parts of the API that differ between spot and USD-M futures.
struct Flavor {
    api: &'static str,
    klines_path: &'static str,
    ticker_path: &'static str,
    page_limit: usize,
    klines_weight: u32,
    ticker_weight: u32,
    budget: WeightBudget,
}

const SPOT: Flavor = Flavor {
    api: "Binance spot",
    klines_path: "/api/v3/klines",
    ticker_path: "/api/v3/ticker/24hr",
    page_limit: 1000,
    klines_weight: 2,
    ticker_weight: 80,
    budget: WeightBudget {
        weight: 6000,
        period: Duration::from_secs(60),
    },
};

const FUTURES: Flavor = Flavor {
    api: "Binance futures",
    klines_path: "/fapi/v1/klines",
    ticker_path: "/fapi/v1/ticker/24hr",
    page_limit: 1500,
    // Weight 10 is for limit > 1000, which every full page uses.
    klines_weight: 10,
    ticker_weight: 40,
    budget: WeightBudget {
        weight: 2400,
        period: Duration::from_secs(60),
    },
};

pub struct BinanceFetcher {
    flavor: &'static Flavor,
    http: reqwest::Client,
    base_url: String,
    bucket: TokenBucket,
    retry: RetryPolicy,
    stats: RequestStats,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ticker24h {
    symbol: String,
    #[serde(default)]
    quote_volume: Option<serde_json::Value>,
}

impl BinanceFetcher {
    pub fn new(market: Market, config: &FetcherConfig) -> Result<BinanceFetcher, SourceError> {
        let (flavor, default_base) = match market {
            Market::Spot => (&SPOT, SPOT_BASE_URL),
            Market::Futures => (&FUTURES, FUTURES_BASE_URL),
        };
        Ok(BinanceFetcher {
            flavor,
            http: http::build_client(flavor.api, config.timeout)?,
            base_url: config.base_url_or(default_base),
            bucket: TokenBucket::new(config.budget_or(flavor.budget)),
            retry: config.retry,
            stats: RequestStats::default(),
        })
    }
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
        let api = self.flavor.api;
        let url = format!("{}{}", self.base_url, self.flavor.klines_path);
        // endTime is inclusive on the open time: stop one ms short of end_ms.
        let query = [
            ("symbol", symbol.to_string()),
            ("interval", interval_code(interval).to_string()),
            ("startTime", start_ms.to_string()),
            ("endTime", (end_ms - 1).to_string()),
            ("limit", self.flavor.page_limit.to_string()),
        ];
        let build = || self.http.get(&url).query(&query);
        let turn = WeightedTurn {
            bucket: &self.bucket,
            weight: self.flavor.klines_weight,
        };
        let rows: Vec<Vec<serde_json::Value>> =
            http::fetch_json(api, "klines", &build, &turn, &self.retry, &self.stats)
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

    async fn top_symbols(&self, n: usize) -> Result<Vec<String>, SourceError> {
        let api = self.flavor.api;
        let url = format!("{}{}", self.base_url, self.flavor.ticker_path);
        let build = || self.http.get(&url);
        let turn = WeightedTurn {
            bucket: &self.bucket,
            weight: self.flavor.ticker_weight,
        };
        let tickers: Vec<Ticker24h> =
            http::fetch_json(api, "24h tickers", &build, &turn, &self.retry, &self.stats).await?;
        // USDT-quoted only; futures symbols with `_` are dated contracts, not perps.
        let rows = tickers
            .into_iter()
            .filter(|t| t.symbol.ends_with("USDT") && !t.symbol.contains('_'))
            .map(|t| {
                let volume = t.quote_volume.as_ref().and_then(json_number).unwrap_or(0.0);
                (t.symbol, volume)
            })
            .collect();
        Ok(top_by_volume(rows, n))
    }
}
