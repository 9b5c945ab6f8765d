//! Hyperliquid candles: `POST /info` with `candleSnapshot`. Prices and
//! volumes are decimal strings, times integer ms, at most 5000 candles per
//! response (and only the newest 5000 exist), so pages move `startTime` to
//! the last candle + one interval. Weight: 20 per info request plus 1 per 60
//! candles returned, a part of 60 counting as 60 (EXTERNAL_APIS.md §3: a
//! 5000-candle page costs 20 + 84), out of 1200 per minute per IP. The coin
//! must be a perp of `meta.universe` (or a spot name like `@107`): the
//! unknown-coin response is not documented, so we check the universe first.

use crate::governor::{Cost, Governor};
use crate::http::ApiClient;
use crate::json_fields::json_millis;
use crate::json_fields::json_number;
use crate::venues::{candle_from, host_of, CandleFetcher, FetcherConfig, Listing};
use crate::SourceError;
use async_trait::async_trait;
use quantpro_model::Candle;
use quantpro_model::Exchange;
use quantpro_model::Interval;
use quantpro_model::Market;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;

const API: &str = "Hyperliquid";
const PAGE_LIMIT: usize = 5000;
const INFO_WEIGHT: u32 = 20;
const CANDLES_PER_EXTRA_WEIGHT: usize = 60;

/// The weight a `candleSnapshot` adds to [`INFO_WEIGHT`] for the candles it
/// returned: 1 per 60, rounded up as the exchange counts (5000 candles add
/// 84, not 83), none for an empty answer.
fn candle_weight(candles: usize) -> u32 {
    u32::try_from(candles.div_ceil(CANDLES_PER_EXTRA_WEIGHT)).unwrap_or(u32::MAX)
}

pub struct HyperliquidFetcher {
    api: ApiClient,
    base_url: String,
    /// Perp names of the last `meta` or `metaAndAssetCtxs` read.
    universe: std::sync::Mutex<Option<Arc<HashSet<String>>>>,
}

#[derive(Deserialize)]
struct Meta {
    universe: Vec<PerpAsset>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PerpAsset {
    name: String,
    #[serde(default)]
    is_delisted: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssetContext {
    #[serde(default)]
    day_ntl_vlm: Option<Value>,
}

#[derive(Deserialize)]
struct CandleRow {
    t: Value,
    o: Value,
    h: Value,
    l: Value,
    c: Value,
    v: Value,
}

impl HyperliquidFetcher {
    pub fn new(
        config: &FetcherConfig,
        governor: &Arc<Governor>,
    ) -> Result<HyperliquidFetcher, SourceError> {
        Ok(HyperliquidFetcher {
            api: config
                .api_client(governor.gate(host_of(Exchange::Hyperliquid, Market::Futures)))?,
            base_url: config.base_url_or(crate::urls::HYPERLIQUID),
            universe: std::sync::Mutex::new(None),
        })
    }

    async fn info<T: DeserializeOwned>(
        &self,
        body: Value,
        what: &'static str,
    ) -> Result<T, SourceError> {
        let url = format!("{}/info", self.base_url);
        let build = || self.api.http().post(&url).json(&body);
        self.api
            .fetch_json(what, &build, Cost::weight(INFO_WEIGHT))
            .await
    }

    /// Perp names: fetched once, then renewed by every [`listings`] read
    /// (so a coin listed after the start is known).
    ///
    /// [`listings`]: CandleFetcher::listings
    async fn universe(&self) -> Result<Arc<HashSet<String>>, SourceError> {
        if let Some(known) = self.known_universe() {
            return Ok(known);
        }
        let meta: Meta = self.info(json!({"type": "meta"}), "meta").await?;
        Ok(self.remember_universe(&meta))
    }

    fn known_universe(&self) -> Option<Arc<HashSet<String>>> {
        self.universe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn remember_universe(&self, meta: &Meta) -> Arc<HashSet<String>> {
        let names: Arc<HashSet<String>> =
            Arc::new(meta.universe.iter().map(|a| a.name.clone()).collect());
        *self.universe.lock().unwrap_or_else(|e| e.into_inner()) = Some(names.clone());
        names
    }

    async fn check_coin(&self, coin: &str) -> Result<(), SourceError> {
        let is_spot_name = coin.starts_with('@') || coin.contains('/');
        if is_spot_name || self.universe().await?.contains(coin) {
            Ok(())
        } else {
            Err(SourceError::UnknownSymbol {
                api: API,
                symbol: coin.to_string(),
            })
        }
    }
}

#[async_trait]
impl CandleFetcher for HyperliquidFetcher {
    fn exchange(&self) -> Exchange {
        Exchange::Hyperliquid
    }

    fn page_limit(&self) -> usize {
        PAGE_LIMIT
    }

    async fn candle_page(
        &self,
        coin: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Candle>, SourceError> {
        self.check_coin(coin).await?;
        let body = json!({
            "type": "candleSnapshot",
            "req": {"coin": coin, "interval": interval.as_str(), "startTime": start_ms, "endTime": end_ms - 1},
        });
        let rows: Vec<CandleRow> = self.info(body, "candleSnapshot").await?;
        // The candles' share of the weight is only known now.
        self.api.gate().charge(candle_weight(rows.len()));
        rows.iter()
            .enumerate()
            .map(|(i, r)| {
                let ohlcv = [
                    json_number(&r.o),
                    json_number(&r.h),
                    json_number(&r.l),
                    json_number(&r.c),
                    json_number(&r.v),
                ];
                candle_from(API, i, json_millis(&r.t), ohlcv)
            })
            .collect()
    }

    fn history_limit(&self) -> Option<usize> {
        Some(PAGE_LIMIT)
    }

    async fn listings(&self) -> Result<Vec<Listing>, SourceError> {
        let (meta, contexts): (Meta, Vec<AssetContext>) = self
            .info(json!({"type": "metaAndAssetCtxs"}), "metaAndAssetCtxs")
            .await?;
        self.remember_universe(&meta);
        // ctxs[i] belongs to universe[i]: the index is the asset id.
        Ok(meta
            .universe
            .into_iter()
            .zip(contexts)
            .filter(|(asset, _)| !asset.is_delisted)
            .map(|(asset, ctx)| {
                let volume = ctx
                    .day_ntl_vlm
                    .as_ref()
                    .and_then(json_number)
                    .unwrap_or(0.0);
                Listing::new(asset.name, volume)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governor::Host;
    use std::time::Duration;

    #[test]
    fn candles_add_one_weight_per_sixty_or_part_of_sixty() {
        assert_eq!(candle_weight(5000), 84, "EXTERNAL_APIS.md: 20 + 84");
        assert_eq!(candle_weight(0), 0, "no candle returned, nothing added");
        assert_eq!(candle_weight(1), 1);
        assert_eq!(candle_weight(59), 1);
        assert_eq!(candle_weight(60), 1);
        assert_eq!(candle_weight(61), 2);
        assert_eq!(candle_weight(120), 2);
        assert_eq!(candle_weight(121), 3);
    }

    /// Hyperliquid's `/info` on a loopback port (on the test's paused
    /// clock): `meta` lists BTC and every `candleSnapshot` answers
    /// `candles` candles.
    async fn serve_info(candles: usize) -> String {
        crate::loopback::serve(move |request| {
            let body: Value = serde_json::from_str(&request.body).unwrap();
            let reply = match body["type"].as_str() {
                Some("meta") => json!({"universe": [{"name": "BTC", "szDecimals": 5}]}),
                Some("candleSnapshot") => {
                    let start = body["req"]["startTime"].as_i64().unwrap();
                    let candle = |i: usize| {
                        json!({"t": start + i as i64 * 900_000, "s": "BTC", "i": "15m",
                            "o": "64010.0", "c": "64080.0", "h": "64120.0", "l": "63990.0", "v": "152.34", "n": 1890})
                    };
                    Value::Array((0..candles).map(candle).collect())
                }
                other => panic!("unexpected info request {other:?}"),
            };
            (200, reply.to_string())
        })
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn small_pages_are_charged_what_the_exchange_charges() {
        const PAGES: u64 = 200;
        let governor = Governor::documented();
        let config = FetcherConfig {
            base_url: Some(serve_info(3).await),
            ..FetcherConfig::default()
        };
        let fetcher = HyperliquidFetcher::new(&config, &governor).unwrap();
        let gate = governor.gate(Host::Hyperliquid);
        let t0 = 1_721_088_000_000;
        let started = tokio::time::Instant::now();
        for page in 0..PAGES as i64 {
            let start = t0 + page * 3 * 900_000;
            let candles = fetcher
                .candle_page("BTC", Interval::M15, start, start + 3 * 900_000)
                .await
                .unwrap();
            assert_eq!(candles.len(), 3);
        }
        // One `meta` (20) for the universe, then 20 + 1 per page: rounding
        // down would charge 20 per page and let the governor overspend.
        let per_page = u64::from(INFO_WEIGHT) + 1;
        assert_eq!(gate.charged(), u64::from(INFO_WEIGHT) + PAGES * per_page);
        // 4220 weight at 1200 per minute: the budget paced the pages.
        assert!(started.elapsed() >= Duration::from_secs(180));
    }
}
