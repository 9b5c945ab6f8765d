//! The external clients of one process, built once from the settings and
//! the keys: the rate-limit governor every outbound request waits on, the
//! Coinalyze batch processor, the CoinGecko client, the Gemini client, and
//! the exchanges' candle fetchers ([`SourceClients::fetcher`]). Every entry
//! point (CLI, dashboard, live loop) holds one `SourceClients` and gathers
//! a scan's external data through [`SourceClients::external_data`]; the
//! governor's status ([`Governor::subscribe`]) says when a host makes them
//! wait.

use super::coinalyze::synthetic::synthetic_external_data;
use super::coinalyze::{BatchProcessor, CoinalyzeConfig};
use super::coingecko::{attach_market, market_base, MarketClient, MarketConfig};
use super::gemini::{GeminiClient, GeminiConfig};
use super::governor::Governor;
use super::keys::ApiKeys;
use super::urls::SourceUrls;
use super::venues::{fetcher_for, CandleFetcher, FetcherConfig};
use super::SourceError;
use quantpro_model::external::{ExternalDataMap, SymbolKey};
use quantpro_model::Exchange;
use quantpro_model::{Candle, Market};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Where a scan's derivatives data (open interest, funding, long/short
/// ratio, liquidations) comes from.
#[derive(Debug, Clone, Copy)]
pub enum Derivatives<'a> {
    /// Coinalyze, when its key is set (unavailable otherwise).
    Coinalyze,
    /// Simulated for the symbols of these closed 15m candles (the
    /// simulated market's), at `now_ms`, in Coinalyze's shapes and labelled
    /// `synthetic` (`coinalyze::synthetic`); Coinalyze for the others (a
    /// real market's beside them).
    Synthetic {
        candles: &'a HashMap<SymbolKey, Vec<Candle>>,
        now_ms: i64,
    },
}

pub struct SourceClients {
    pub keys: ApiKeys,
    /// The one governor of the process: every client below waits on it.
    pub governor: Arc<Governor>,
    /// Where the exchange fetchers point.
    pub urls: SourceUrls,
    pub coinalyze: BatchProcessor,
    pub market: MarketClient,
    pub gemini: GeminiClient,
}

impl SourceClients {
    /// The clients of `urls`, with `keys` and the documented budgets;
    /// their caches live under `cache_dir` (`DATA_DIR/.cache`).
    pub fn new(
        urls: &SourceUrls,
        keys: ApiKeys,
        cache_dir: &Path,
    ) -> Result<SourceClients, SourceError> {
        let mut coinalyze =
            CoinalyzeConfig::new(keys.coinalyze.clone(), cache_dir.join("coinalyze"));
        coinalyze.base_url = urls.coinalyze.clone();
        let mut market = MarketConfig::new(keys.coingecko.clone(), cache_dir.join("coingecko"));
        market.base_url = urls.coingecko.clone();
        let mut gemini = GeminiConfig::new(None);
        gemini.base_url = urls.gemini.clone();
        SourceClients::with_governor(
            Governor::documented(),
            urls.clone(),
            keys,
            coinalyze,
            market,
            gemini,
        )
    }

    /// The clients of explicit configurations (tests tune retries), with
    /// the documented budgets and the default exchange URLs; the Gemini key
    /// is taken from `keys`.
    pub fn with_configs(
        keys: ApiKeys,
        coinalyze: CoinalyzeConfig,
        market: MarketConfig,
        gemini: GeminiConfig,
    ) -> Result<SourceClients, SourceError> {
        SourceClients::with_governor(
            Governor::documented(),
            SourceUrls::default(),
            keys,
            coinalyze,
            market,
            gemini,
        )
    }

    /// The clients of explicit configurations over `governor` (a test's
    /// scaled budgets); the Gemini key is taken from `keys`.
    pub fn with_governor(
        governor: Arc<Governor>,
        urls: SourceUrls,
        keys: ApiKeys,
        coinalyze: CoinalyzeConfig,
        market: MarketConfig,
        mut gemini: GeminiConfig,
    ) -> Result<SourceClients, SourceError> {
        gemini.api_key = keys.gemini.clone();
        Ok(SourceClients {
            coinalyze: BatchProcessor::new(coinalyze, &governor)?,
            market: MarketClient::new(market, &governor)?,
            gemini: GeminiClient::new(gemini, &governor)?,
            keys,
            urls,
            governor,
        })
    }

    /// The candle fetcher of an exchange market, at its `[sources]` URL,
    /// sharing the governor's budget of its host with every other fetcher.
    pub fn fetcher(
        &self,
        exchange: Exchange,
        market: Market,
    ) -> Result<Box<dyn CandleFetcher>, SourceError> {
        let config = FetcherConfig {
            base_url: Some(self.urls.exchange_rest(exchange, market).to_string()),
            ..FetcherConfig::default()
        };
        fetcher_for(exchange, market, &config, &self.governor)
    }

    /// Derivatives data (from `derivatives`: Coinalyze, when its key is
    /// set, or the simulated market's own) and, when asked for, market caps
    /// (CoinGecko) of `symbols`. Never fails: a missing key or a failing API
    /// leaves that data out (the signals then say `*_available: false`), and
    /// the reason is logged.
    pub async fn external_data(
        &self,
        symbols: &[(Exchange, String)],
        derivatives: Derivatives<'_>,
        with_market_data: bool,
    ) -> ExternalDataMap {
        let mut map = match derivatives {
            Derivatives::Coinalyze => self.coinalyze.process_symbols(symbols).await,
            Derivatives::Synthetic { candles, now_ms } => {
                let real: Vec<SymbolKey> = symbols
                    .iter()
                    .filter(|key| !candles.contains_key(*key))
                    .cloned()
                    .collect();
                let mut map = if real.is_empty() {
                    ExternalDataMap::new()
                } else {
                    self.coinalyze.process_symbols(&real).await
                };
                map.extend(synthetic_external_data(candles, now_ms.div_euclid(1000)));
                map
            }
        };
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
