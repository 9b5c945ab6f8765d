//! The external clients of one process, built once from the settings and
//! the keys: the Coinalyze batch processor (whose quota counter must span
//! every scan), the CoinGecko client and the Gemini client. Every entry
//! point (CLI, dashboard, live loop) holds one `SourceClients` and gathers
//! a scan's external data through [`SourceClients::external_data`].

use super::coinalyze::{BatchProcessor, CoinalyzeConfig};
use super::gemini::{GeminiClient, GeminiConfig, GeminiError};
use super::keys::{ApiKeys, Environment};
use super::market::{attach_market, market_base, MarketClient, MarketConfig};
use super::urls::SourceUrls;
use super::SourceError;
use crate::core::external::ExternalDataMap;
use crate::model::Exchange;
use std::path::Path;

pub struct SourceClients {
    pub keys: ApiKeys,
    pub coinalyze: BatchProcessor,
    pub market: MarketClient,
    pub gemini: GeminiClient,
}

impl SourceClients {
    /// The clients of `urls`, with the keys of `env`; their caches live
    /// under `cache_dir` (`DATA_DIR/.cache`).
    pub fn new(
        urls: &SourceUrls,
        env: &Environment,
        cache_dir: &Path,
    ) -> Result<SourceClients, SourceError> {
        let keys = ApiKeys::from_environment(env);
        let mut coinalyze =
            CoinalyzeConfig::new(keys.coinalyze.clone(), cache_dir.join("coinalyze"));
        coinalyze.base_url = urls.coinalyze.clone();
        let mut market = MarketConfig::new(keys.coingecko.clone(), cache_dir.join("coingecko"));
        market.base_url = urls.coingecko.clone();
        SourceClients::with_configs(keys, coinalyze, market, {
            let mut gemini = GeminiConfig::new(None);
            gemini.base_url = urls.gemini.clone();
            gemini
        })
    }

    /// The clients of explicit configurations (tests tune quotas and
    /// retries); the Gemini key is taken from `keys`.
    pub fn with_configs(
        keys: ApiKeys,
        coinalyze: CoinalyzeConfig,
        market: MarketConfig,
        mut gemini: GeminiConfig,
    ) -> Result<SourceClients, SourceError> {
        gemini.api_key = keys.gemini.clone();
        Ok(SourceClients {
            coinalyze: BatchProcessor::new(coinalyze)?,
            market: MarketClient::new(market)?,
            gemini: GeminiClient::new(gemini).map_err(|e: GeminiError| SourceError::Client {
                api: "Gemini",
                detail: e.to_string(),
            })?,
            keys,
        })
    }

    /// Derivatives data (Coinalyze, when its key is set) and, when asked
    /// for, market caps (CoinGecko) of `symbols`. Never fails: a missing key
    /// or a failing API leaves that data out (the signals then say
    /// `*_available: false`), and the reason is logged.
    pub async fn external_data(
        &self,
        symbols: &[(Exchange, String)],
        with_market_data: bool,
    ) -> ExternalDataMap {
        let mut map = self.coinalyze.process_symbols(symbols).await;
        if with_market_data {
            self.attach_market_data(&mut map, symbols).await;
        }
        map
    }

    async fn attach_market_data(&self, map: &mut ExternalDataMap, symbols: &[(Exchange, String)]) {
        let mut bases: Vec<String> = symbols.iter().map(|(_, s)| market_base(s)).collect();
        bases.sort();
        bases.dedup();
        match self.market.metadata_for(&bases).await {
            Ok(metadata) => {
                for (exchange, symbol) in symbols {
                    map.entry((*exchange, symbol.clone())).or_default();
                }
                attach_market(map, &metadata);
            }
            Err(err) => tracing::warn!("[MARKET] market caps unavailable: {err}"),
        }
    }
}
