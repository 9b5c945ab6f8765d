//! Market cap and 24 h volume from CoinGecko `/coins/markets`, attached to a
//! scan's `ExternalData.market` (the signal's `metadata`). CoinGecko symbols
//! are not unique (many coins call themselves "BTC"), so common coins go
//! through a curated symbol -> id map and the rest take the coin of that
//! symbol with the highest market cap. Responses are cached on disk, and the
//! governor's CoinGecko gate paces the rest within the keyless limit of a
//! few calls per minute.

use super::disk::DiskCache;
use super::governor::{Cost, Governor, Host};
use super::http::{ApiClient, RetryPolicy, StatsSnapshot};
use super::keys::Secret;
use super::SourceError;
use quantpro_model::external::ExternalDataMap;
use quantpro_model::{canonical_symbol, MarketMetadata};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.coingecko.com/api/v3";
pub const PRO_BASE_URL: &str = "https://pro-api.coingecko.com/api/v3";
const API: &str = "CoinGecko";
const PER_PAGE: u32 = 250;

/// Which key header to send: Demo keys and Pro keys use different headers
/// (and hosts); a key on the wrong one is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoinGeckoPlan {
    Demo,
    Pro,
}

impl CoinGeckoPlan {
    fn header(self) -> &'static str {
        match self {
            CoinGeckoPlan::Demo => "x-cg-demo-api-key",
            CoinGeckoPlan::Pro => "x-cg-pro-api-key",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MarketConfig {
    pub base_url: String,
    /// Optional: keyless access works, with a lower limit.
    pub api_key: Option<Secret>,
    pub plan: CoinGeckoPlan,
    pub cache_dir: PathBuf,
    pub ttl: Duration,
    /// Pages of 250 coins by market cap used for the by-symbol fallback.
    pub pages: u32,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

impl MarketConfig {
    pub fn new(api_key: Option<Secret>, cache_dir: impl Into<PathBuf>) -> MarketConfig {
        MarketConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_key,
            plan: CoinGeckoPlan::Demo,
            cache_dir: cache_dir.into(),
            ttl: Duration::from_secs(3600),
            pages: 2,
            // CoinGecko asks for waits of minutes; a scan would rather go without.
            retry: RetryPolicy {
                max_tries: 3,
                backoff_base: Duration::from_secs(1),
                max_retry_after: Duration::from_secs(30),
            },
            timeout: Duration::from_secs(30),
        }
    }
}

/// The fields of a `/coins/markets` row we use; any of them can be null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoinMarket {
    pub id: String,
    pub symbol: String,
    #[serde(default)]
    pub market_cap: Option<f64>,
    #[serde(default)]
    pub total_volume: Option<f64>,
}

pub struct MarketClient {
    api: ApiClient,
    config: MarketConfig,
    cache: DiskCache,
}

/// CoinGecko ids of coins whose ticker other coins also use.
const CURATED_IDS: &[(&str, &str)] = &[
    ("BTC", "bitcoin"),
    ("ETH", "ethereum"),
    ("SOL", "solana"),
    ("BNB", "binancecoin"),
    ("XRP", "ripple"),
    ("DOGE", "dogecoin"),
    ("ADA", "cardano"),
    ("AVAX", "avalanche-2"),
    ("LINK", "chainlink"),
    ("DOT", "polkadot"),
    ("TRX", "tron"),
    ("TON", "the-open-network"),
    ("LTC", "litecoin"),
    ("BCH", "bitcoin-cash"),
    ("NEAR", "near"),
    ("APT", "aptos"),
    ("ARB", "arbitrum"),
    ("OP", "optimism"),
    ("SUI", "sui"),
    ("PEPE", "pepe"),
    ("SHIB", "shiba-inu"),
    ("UNI", "uniswap"),
    ("ATOM", "cosmos"),
    ("FIL", "filecoin"),
    ("ETC", "ethereum-classic"),
    ("INJ", "injective-protocol"),
    ("HYPE", "hyperliquid"),
    ("WIF", "dogwifcoin"),
    ("AAVE", "aave"),
    ("XLM", "stellar"),
    ("TAO", "bittensor"),
    ("POL", "polygon-ecosystem-token"),
    ("SEI", "sei-network"),
    ("TIA", "celestia"),
    ("ENA", "ethena"),
    ("BONK", "bonk"),
];

/// The curated CoinGecko id of a base asset, if it has one.
pub fn curated_coin_id(base: &str) -> Option<&'static str> {
    CURATED_IDS
        .iter()
        .find(|(symbol, _)| symbol.eq_ignore_ascii_case(base))
        .map(|(_, id)| *id)
}

/// The row for `base`: its curated id when it has one, else the coin with
/// that symbol and the highest market cap.
pub fn pick_coin<'a>(base: &str, rows: &'a [CoinMarket]) -> Option<&'a CoinMarket> {
    if let Some(id) = curated_coin_id(base) {
        return rows.iter().find(|row| row.id == id);
    }
    rows.iter()
        .filter(|row| row.symbol.eq_ignore_ascii_case(base))
        .max_by(|a, b| {
            a.market_cap
                .unwrap_or(0.0)
                .total_cmp(&b.market_cap.unwrap_or(0.0))
        })
}

/// The base asset CoinGecko knows a symbol by: `BTCUSDT` -> `BTC`,
/// `kPEPE` / `1000PEPEUSDT` -> `PEPE`.
pub fn market_base(symbol: &str) -> String {
    let base = canonical_symbol(symbol).to_ascii_uppercase();
    match base.strip_prefix("1000") {
        Some(rest) if !rest.is_empty() && !rest.starts_with('0') => rest.to_string(),
        _ => base,
    }
}

/// Sets `market` on every entry of the map from metadata keyed by [`market_base`].
pub fn attach_market(map: &mut ExternalDataMap, metadata: &HashMap<String, MarketMetadata>) {
    for ((_, symbol), data) in map.iter_mut() {
        if let Some(meta) = metadata.get(&market_base(symbol)) {
            data.market = Some(meta.clone());
        }
    }
}

impl MarketClient {
    pub fn new(
        config: MarketConfig,
        governor: &Arc<Governor>,
    ) -> Result<MarketClient, SourceError> {
        let cache = DiskCache::new(config.cache_dir.join("coingecko"), config.ttl);
        Ok(MarketClient {
            api: ApiClient::new(
                API,
                governor.gate(Host::CoinGecko),
                config.retry,
                config.timeout,
            )?,
            config,
            cache,
        })
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.api.stats()
    }

    /// Market cap and 24 h volume (USD) per base asset (`BTC`, `PEPE`...);
    /// bases CoinGecko does not list are absent.
    pub async fn metadata_for(
        &self,
        bases: &[String],
    ) -> Result<HashMap<String, MarketMetadata>, SourceError> {
        let mut rows = self.top_markets().await?;
        let missing_ids: BTreeSet<&str> = bases
            .iter()
            .filter_map(|base| curated_coin_id(base))
            .filter(|id| !rows.iter().any(|row| row.id == *id))
            .collect();
        if !missing_ids.is_empty() {
            let ids = missing_ids.into_iter().collect::<Vec<_>>().join(",");
            rows.extend(
                self.markets(&format!("ids={ids}"), &[("ids", ids.clone())])
                    .await?,
            );
        }
        Ok(bases
            .iter()
            .filter_map(|base| {
                let row = pick_coin(base, &rows)?;
                let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
                let meta = MarketMetadata {
                    mcap: finite(row.market_cap),
                    vol_24h: finite(row.total_volume),
                };
                Some((base.to_ascii_uppercase(), meta))
            })
            .collect())
    }

    async fn top_markets(&self) -> Result<Vec<CoinMarket>, SourceError> {
        let mut rows = Vec::new();
        for page in 1..=self.config.pages.max(1) {
            let query = [
                ("order", "market_cap_desc".to_string()),
                ("per_page", PER_PAGE.to_string()),
                ("page", page.to_string()),
            ];
            rows.extend(self.markets(&format!("top-page={page}"), &query).await?);
        }
        Ok(rows)
    }

    /// One `/coins/markets` call in USD, through the disk cache.
    async fn markets(
        &self,
        cache_key: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<CoinMarket>, SourceError> {
        let key = format!("coins-markets|{cache_key}");
        if let Some(rows) = self.cache.get::<Vec<CoinMarket>>(&key) {
            self.api.record_cached();
            return Ok(rows);
        }
        let url = format!(
            "{}/coins/markets",
            self.config.base_url.trim_end_matches('/')
        );
        let key_header =
            match &self.config.api_key {
                Some(secret) => {
                    let mut value = reqwest::header::HeaderValue::from_str(secret.expose())
                        .map_err(|_| SourceError::Client {
                            api: API,
                            detail: "the API key holds characters a header cannot".into(),
                        })?;
                    value.set_sensitive(true);
                    Some(value)
                }
                None => None,
            };
        let build = || {
            let request = self
                .api
                .http()
                .get(&url)
                .query(&[("vs_currency", "usd"), ("sparkline", "false")])
                .query(query);
            match &key_header {
                Some(value) => request.header(self.config.plan.header(), value.clone()),
                None => request,
            }
        };
        let rows: Vec<CoinMarket> = self
            .api
            .fetch_json("coins/markets", &build, Cost::weight(1))
            .await?;
        if let Err(e) = self.cache.put(&key, &rows) {
            tracing::warn!("could not cache CoinGecko markets: {e}");
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, symbol: &str, mcap: f64) -> CoinMarket {
        CoinMarket {
            id: id.into(),
            symbol: symbol.into(),
            market_cap: Some(mcap),
            total_volume: Some(mcap / 10.0),
        }
    }

    #[test]
    fn curated_ids_beat_bigger_namesakes_and_others_take_the_biggest() {
        let rows = vec![
            row("bitcoin", "btc", 1e12),
            row("fake-btc", "btc", 2e12),
            row("a-foo", "foo", 5.0),
            row("b-foo", "foo", 9.0),
        ];
        assert_eq!(pick_coin("BTC", &rows).unwrap().id, "bitcoin");
        assert_eq!(pick_coin("FOO", &rows).unwrap().id, "b-foo");
        assert!(
            pick_coin("ETH", &rows).is_none(),
            "a curated id that is not listed is absent, not a namesake"
        );
    }

    #[test]
    fn market_base_strips_quote_and_multipliers() {
        assert_eq!(market_base("BTCUSDT"), "BTC");
        assert_eq!(market_base("kPEPE"), "PEPE");
        assert_eq!(market_base("1000PEPEUSDT"), "PEPE");
        assert_eq!(market_base("ETH_USDT"), "ETH");
        assert_eq!(market_base("1INCHUSDT"), "1INCH");
    }
}
