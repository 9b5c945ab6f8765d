//! Local symbol -> Coinalyze symbol. Coinalyze names a perp
//! `{BASE}{QUOTE}_PERP.{code}` where the exchange code comes from
//! `/exchanges`; rather than guessing either, we read `/exchanges` and
//! `/future-markets` (cached on disk for 13 h) and match the market whose
//! `symbol_on_exchange` is our symbol on our exchange's code.
//!
//! When our exchange has no such perp on Coinalyze (MEXC spot pairs, a coin
//! Coinalyze does not track there), we fall back to the **aggregated**
//! symbol: the market-wide reference perp of the same base asset. We pick
//! Binance's USDT-margined perp, because Binance carries the deepest open
//! interest and has long/short data for nearly every coin; failing that, a
//! stablecoin-margined perp with long/short data; failing that, any perp of
//! the base. Ties go to the alphabetically first symbol, so a resolution is
//! stable between runs.

use super::client::{CoinalyzeClient, CoinalyzeExchange, FutureMarket};
use crate::disk::DiskCache;
use crate::SourceError;
use quantpro_model::{canonical_symbol, Exchange};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

const CATALOGUE_KEY: &str = "coinalyze-catalogue-v1";

/// `/exchanges` and `/future-markets`: all a resolution needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MarketCatalogue {
    pub exchanges: Vec<CoinalyzeExchange>,
    pub markets: Vec<FutureMarket>,
}

/// How a local symbol found its Coinalyze symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolutionKind {
    /// The same market on the same exchange.
    Exact,
    /// The reference perp of the base asset (see the module doc).
    Aggregated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub coinalyze_symbol: String,
    pub kind: ResolutionKind,
}

/// Resolves local symbols against one catalogue.
#[derive(Debug, Clone)]
pub struct CoinalyzeResolver {
    catalogue: MarketCatalogue,
}

/// The name `/exchanges` uses for each of our exchanges (compared without
/// case or punctuation).
pub fn coinalyze_exchange_name(exchange: Exchange) -> &'static str {
    match exchange {
        Exchange::Binance => "Binance",
        Exchange::Hyperliquid => "Hyperliquid",
        Exchange::Mexc => "MEXC",
    }
}

impl CoinalyzeResolver {
    pub fn new(catalogue: MarketCatalogue) -> CoinalyzeResolver {
        CoinalyzeResolver { catalogue }
    }

    /// The catalogue from the disk cache when younger than `ttl`, else from
    /// the API (two calls), which is then cached.
    pub async fn load(
        client: &CoinalyzeClient,
        cache_dir: &Path,
        ttl: Duration,
    ) -> Result<CoinalyzeResolver, SourceError> {
        let cache = DiskCache::new(cache_dir, ttl);
        if let Some(catalogue) = cache.get::<MarketCatalogue>(CATALOGUE_KEY) {
            client.record_cached();
            return Ok(CoinalyzeResolver::new(catalogue));
        }
        let exchanges = client.exchanges().await?;
        let markets = client.future_markets().await?;
        let catalogue = MarketCatalogue { exchanges, markets };
        if let Err(e) = cache.put(CATALOGUE_KEY, &catalogue) {
            tracing::warn!("[BATCH] could not cache the Coinalyze market list: {e}");
        }
        Ok(CoinalyzeResolver::new(catalogue))
    }

    /// The Coinalyze code of our exchange, read from `/exchanges`.
    pub fn exchange_code(&self, exchange: Exchange) -> Option<&str> {
        let wanted = squash(coinalyze_exchange_name(exchange));
        self.catalogue
            .exchanges
            .iter()
            .find(|e| squash(&e.name) == wanted)
            .map(|e| e.code.as_str())
    }

    /// The Coinalyze symbol for `symbol` on `exchange`, or `None` when
    /// Coinalyze has no perp of that base asset at all.
    pub fn resolve(&self, exchange: Exchange, symbol: &str) -> Option<Resolution> {
        if let Some(market) = self.exact_market(exchange, symbol) {
            return Some(Resolution {
                coinalyze_symbol: market.symbol.clone(),
                kind: ResolutionKind::Exact,
            });
        }
        self.aggregated_market(symbol).map(|market| Resolution {
            coinalyze_symbol: market.symbol.clone(),
            kind: ResolutionKind::Aggregated,
        })
    }

    /// A perp on our exchange whose `symbol_on_exchange` is ours: exact
    /// spelling first, then ignoring separators (`BTC_USDT` = `BTCUSDT`).
    fn exact_market(&self, exchange: Exchange, symbol: &str) -> Option<&FutureMarket> {
        let code = self.exchange_code(exchange)?;
        let perps = || {
            self.catalogue
                .markets
                .iter()
                .filter(move |m| m.is_perpetual && m.exchange == code)
        };
        perps()
            .find(|m| m.symbol_on_exchange.eq_ignore_ascii_case(symbol))
            .or_else(|| perps().find(|m| squash(&m.symbol_on_exchange) == squash(symbol)))
    }

    fn aggregated_market(&self, symbol: &str) -> Option<&FutureMarket> {
        let base = normalized_base(&canonical_symbol(symbol));
        let binance = self.exchange_code(Exchange::Binance);
        self.catalogue
            .markets
            .iter()
            .filter(|m| m.is_perpetual && normalized_base(&m.base_asset) == base)
            .min_by_key(|m| (aggregation_rank(m, binance), m.symbol.as_str()))
    }
}

/// Lower is preferred; see the module doc for why.
fn aggregation_rank(market: &FutureMarket, binance_code: Option<&str>) -> u8 {
    let on_binance = binance_code == Some(market.exchange.as_str());
    let usdt = market.quote_asset.eq_ignore_ascii_case("USDT");
    let stable = market
        .margined
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("STABLE"));
    match (
        on_binance && usdt,
        stable && market.has_long_short_ratio_data,
    ) {
        (true, _) => 0,
        (false, true) => 1,
        (false, false) => 2,
    }
}

/// Upper case without separators: `Hyper-liquid` = `HYPERLIQUID`.
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A base asset without the "1000x" multiplier some perps use
/// (`1000PEPE` = `PEPE`), so Hyperliquid's `kPEPE` finds Binance's `1000PEPEUSDT`.
fn normalized_base(base: &str) -> String {
    let upper = base.to_ascii_uppercase();
    let zeros = upper
        .strip_prefix('1')
        .map(|rest| rest.len() - rest.trim_start_matches('0').len())
        .unwrap_or(0);
    if zeros >= 3 && upper.len() > zeros + 1 {
        upper[zeros + 1..].to_string()
    } else {
        upper
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market(
        symbol: &str,
        exchange: &str,
        on_exchange: &str,
        base: &str,
        quote: &str,
        ls: bool,
    ) -> FutureMarket {
        FutureMarket {
            symbol: symbol.into(),
            exchange: exchange.into(),
            symbol_on_exchange: on_exchange.into(),
            base_asset: base.into(),
            quote_asset: quote.into(),
            is_perpetual: true,
            margined: Some("STABLE".into()),
            has_long_short_ratio_data: ls,
        }
    }

    fn resolver() -> CoinalyzeResolver {
        CoinalyzeResolver::new(MarketCatalogue {
            // Codes deliberately unlike the real ones: nothing may be hard-coded.
            exchanges: vec![
                CoinalyzeExchange {
                    name: "Binance".into(),
                    code: "Q".into(),
                },
                CoinalyzeExchange {
                    name: "Hyperliquid".into(),
                    code: "Z".into(),
                },
                CoinalyzeExchange {
                    name: "Mexc".into(),
                    code: "7".into(),
                },
            ],
            markets: vec![
                market("BTCUSDT_PERP.Q", "Q", "BTCUSDT", "BTC", "USDT", true),
                market("BTCUSD_PERP.Z", "Z", "BTC", "BTC", "USD", false),
                market("ETHUSDT_PERP.7", "7", "ETH_USDT", "ETH", "USDT", false),
                market("ETHUSDT_PERP.Q", "Q", "ETHUSDT", "ETH", "USDT", true),
                market(
                    "1000PEPEUSDT_PERP.Q",
                    "Q",
                    "1000PEPEUSDT",
                    "1000PEPE",
                    "USDT",
                    true,
                ),
                market("SOLUSD_PERP.Z", "Z", "SOL", "SOL", "USD", false),
                market("SOLUSDC_PERP.9", "9", "SOLUSDC", "SOL", "USDC", true),
            ],
        })
    }

    #[test]
    fn exact_markets_match_symbol_on_exchange_and_code() {
        let r = resolver();
        assert_eq!(
            r.resolve(Exchange::Binance, "BTCUSDT"),
            Some(Resolution {
                coinalyze_symbol: "BTCUSDT_PERP.Q".into(),
                kind: ResolutionKind::Exact
            })
        );
        assert_eq!(
            r.resolve(Exchange::Hyperliquid, "BTC")
                .unwrap()
                .coinalyze_symbol,
            "BTCUSD_PERP.Z"
        );
        assert_eq!(
            r.resolve(Exchange::Mexc, "ETH_USDT").unwrap().kind,
            ResolutionKind::Exact
        );
        assert_eq!(
            r.resolve(Exchange::Mexc, "ETHUSDT")
                .unwrap()
                .coinalyze_symbol,
            "ETHUSDT_PERP.7"
        );
    }

    #[test]
    fn missing_markets_fall_back_to_the_aggregated_reference_perp() {
        let r = resolver();
        let mexc_btc = r.resolve(Exchange::Mexc, "BTCUSDT").unwrap();
        assert_eq!(
            mexc_btc,
            Resolution {
                coinalyze_symbol: "BTCUSDT_PERP.Q".into(),
                kind: ResolutionKind::Aggregated
            }
        );
        assert_eq!(
            r.resolve(Exchange::Hyperliquid, "kPEPE")
                .unwrap()
                .coinalyze_symbol,
            "1000PEPEUSDT_PERP.Q"
        );
        // No Binance SOL perp: the stable-margined one with long/short data wins.
        assert_eq!(
            r.resolve(Exchange::Mexc, "SOLUSDT")
                .unwrap()
                .coinalyze_symbol,
            "SOLUSDC_PERP.9"
        );
        assert_eq!(r.resolve(Exchange::Binance, "DOGEUSDT"), None);
    }

    #[test]
    fn exchange_codes_come_from_the_catalogue() {
        let r = resolver();
        assert_eq!(r.exchange_code(Exchange::Binance), Some("Q"));
        assert_eq!(r.exchange_code(Exchange::Mexc), Some("7"));
        let empty = CoinalyzeResolver::new(MarketCatalogue::default());
        assert_eq!(empty.exchange_code(Exchange::Binance), None);
        assert_eq!(empty.resolve(Exchange::Binance, "BTCUSDT"), None);
    }

    #[test]
    fn base_normalization_strips_only_the_1000x_multiplier() {
        assert_eq!(normalized_base("1000PEPE"), "PEPE");
        assert_eq!(normalized_base("1000000MOG"), "MOG");
        assert_eq!(normalized_base("1INCH"), "1INCH");
        assert_eq!(normalized_base("1000"), "1000");
    }
}
