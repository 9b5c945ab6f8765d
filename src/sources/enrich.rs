//! Gathers the external data of a scan's symbols: Coinalyze derivatives
//! (when `COINALYZE_API_KEY` is set) and CoinGecko market caps (when asked
//! for). The result is the scanner core's plain `ExternalDataMap`.

use crate::core::external::ExternalDataMap;
use crate::model::Exchange;
use crate::sources::coinalyze::{BatchProcessor, CoinalyzeConfig};
use crate::sources::keys::ApiKeys;
use crate::sources::market::{attach_market, market_base, MarketClient, MarketConfig};
use std::path::Path;

/// Derivatives and market data for `symbols`. Never fails: a missing key or
/// a failing API leaves that data out (the signals then say `*_available:
/// false`) and is logged once.
pub async fn gather_external_data(
    symbols: &[(Exchange, String)],
    keys: &ApiKeys,
    cache_dir: &Path,
    with_market_data: bool,
) -> ExternalDataMap {
    let mut map = match BatchProcessor::new(CoinalyzeConfig::new(
        keys.coinalyze.clone(),
        cache_dir.join("coinalyze"),
    )) {
        Ok(processor) => {
            let map = processor.process_symbols(symbols).await;
            let stats = processor.stats();
            tracing::info!("[BATCH] coinalyze requests: {stats:?}");
            map
        }
        Err(err) => {
            tracing::warn!("[BATCH] Coinalyze unavailable: {err}");
            ExternalDataMap::new()
        }
    };
    if with_market_data {
        attach_market_data(&mut map, symbols, keys, cache_dir).await;
    }
    map
}

async fn attach_market_data(
    map: &mut ExternalDataMap,
    symbols: &[(Exchange, String)],
    keys: &ApiKeys,
    cache_dir: &Path,
) {
    let mut bases: Vec<String> = symbols.iter().map(|(_, s)| market_base(s)).collect();
    bases.sort();
    bases.dedup();
    let result = match MarketClient::new(MarketConfig::new(
        keys.coingecko.clone(),
        cache_dir.join("coingecko"),
    )) {
        Ok(client) => client.metadata_for(&bases).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(metadata) => {
            for (exchange, symbol) in symbols {
                map.entry((*exchange, symbol.clone())).or_default();
            }
            attach_market(map, &metadata);
        }
        Err(err) => tracing::warn!("[MARKET] market caps unavailable: {err}"),
    }
}
