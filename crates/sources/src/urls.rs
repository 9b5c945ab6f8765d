//! The base URL of every external API, REST and WebSocket (`[sources]` in
//! `quantpro.toml`, see `settings`), so each client can be pointed at a
//! local fake or a proxy. The defaults are the real services.

use quantpro_model::Exchange;
use quantpro_model::Market;
use serde::{Deserialize, Serialize};

/// A `[sources]` URL without the scheme its client speaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{key}' must be {expected}, got {value:?}")]
pub struct UrlError {
    pub key: String,
    pub value: String,
    pub expected: &'static str,
}

/// The base URL of every external API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceUrls {
    pub binance_spot: String,
    pub binance_futures: String,
    pub binance_spot_stream: String,
    pub binance_futures_stream: String,
    pub mexc_spot: String,
    pub mexc_futures: String,
    pub mexc_futures_stream: String,
    pub hyperliquid: String,
    pub hyperliquid_stream: String,
    pub coinalyze: String,
    pub coingecko: String,
    pub gemini: String,
}

/// The exchanges' own REST base URLs: the defaults of `[sources]`, and
/// what a fetcher built without a configured URL asks.
pub const BINANCE_SPOT: &str = "https://api.binance.com";
pub const BINANCE_FUTURES: &str = "https://fapi.binance.com";
/// Binance USDⓈ-M futures' test venue for orders (play money), REST: the
/// current docs' demo host, and the SDK's older testnet host.
pub const BINANCE_FUTURES_DEMO: &str = "https://demo-fapi.binance.com";
pub const BINANCE_FUTURES_TESTNET: &str = "https://testnet.binancefuture.com";
/// The root of Binance USDⓈ-M futures' private (user data) stream, and its
/// test venue's.
pub const BINANCE_FUTURES_PRIVATE_STREAM: &str = "wss://fstream.binance.com";
pub const BINANCE_FUTURES_DEMO_PRIVATE_STREAM: &str = "wss://fstream.binancefuture.com";
pub const MEXC_SPOT: &str = "https://api.mexc.com";
pub const MEXC_FUTURES: &str = "https://contract.mexc.com";
pub const HYPERLIQUID: &str = "https://api.hyperliquid.xyz";
/// Hyperliquid's testnet (orders with play money; `meta` asset indices
/// differ from mainnet's).
pub const HYPERLIQUID_TESTNET: &str = "https://api.hyperliquid-testnet.xyz";
/// Hyperliquid's WebSocket endpoints (EXTERNAL_APIS.md §9.2).
pub const HYPERLIQUID_STREAM: &str = "wss://api.hyperliquid.xyz/ws";
pub const HYPERLIQUID_TESTNET_STREAM: &str = "wss://api.hyperliquid-testnet.xyz/ws";

impl Default for SourceUrls {
    fn default() -> Self {
        use super::{coinalyze, coingecko, gemini};
        SourceUrls {
            binance_spot: BINANCE_SPOT.into(),
            binance_futures: BINANCE_FUTURES.into(),
            binance_spot_stream: "wss://stream.binance.com:9443".into(),
            binance_futures_stream: "wss://fstream.binance.com/market".into(),
            mexc_spot: MEXC_SPOT.into(),
            mexc_futures: MEXC_FUTURES.into(),
            mexc_futures_stream: "wss://contract.mexc.com/edge".into(),
            hyperliquid: HYPERLIQUID.into(),
            hyperliquid_stream: "wss://api.hyperliquid.xyz/ws".into(),
            coinalyze: coinalyze::DEFAULT_BASE_URL.into(),
            coingecko: coingecko::DEFAULT_BASE_URL.into(),
            gemini: gemini::DEFAULT_BASE_URL.into(),
        }
    }
}

/// A `[sources]` entry: its key, and whether it is a WebSocket endpoint.
pub struct UrlField {
    pub key: &'static str,
    pub stream: bool,
    pub slot: fn(&mut SourceUrls) -> &mut String,
}

pub const URL_FIELDS: &[UrlField] = &[
    UrlField {
        key: "binance_spot",
        stream: false,
        slot: |u| &mut u.binance_spot,
    },
    UrlField {
        key: "binance_futures",
        stream: false,
        slot: |u| &mut u.binance_futures,
    },
    UrlField {
        key: "binance_spot_stream",
        stream: true,
        slot: |u| &mut u.binance_spot_stream,
    },
    UrlField {
        key: "binance_futures_stream",
        stream: true,
        slot: |u| &mut u.binance_futures_stream,
    },
    UrlField {
        key: "mexc_spot",
        stream: false,
        slot: |u| &mut u.mexc_spot,
    },
    UrlField {
        key: "mexc_futures",
        stream: false,
        slot: |u| &mut u.mexc_futures,
    },
    UrlField {
        key: "mexc_futures_stream",
        stream: true,
        slot: |u| &mut u.mexc_futures_stream,
    },
    UrlField {
        key: "hyperliquid",
        stream: false,
        slot: |u| &mut u.hyperliquid,
    },
    UrlField {
        key: "hyperliquid_stream",
        stream: true,
        slot: |u| &mut u.hyperliquid_stream,
    },
    UrlField {
        key: "coinalyze",
        stream: false,
        slot: |u| &mut u.coinalyze,
    },
    UrlField {
        key: "coingecko",
        stream: false,
        slot: |u| &mut u.coingecko,
    },
    UrlField {
        key: "gemini",
        stream: false,
        slot: |u| &mut u.gemini,
    },
];

impl SourceUrls {
    /// Every entry with its dotted key (`sources.coinalyze`), for the
    /// environment overrides and the README.
    pub fn keys() -> impl Iterator<Item = String> {
        URL_FIELDS.iter().map(|f| format!("sources.{}", f.key))
    }

    /// Checks that each URL has the scheme its client speaks; returns every
    /// problem found.
    pub fn validate(&mut self) -> Vec<UrlError> {
        URL_FIELDS
            .iter()
            .filter_map(|field| {
                let value = (field.slot)(self);
                let schemes: &[&str] = if field.stream {
                    &["ws://", "wss://"]
                } else {
                    &["http://", "https://"]
                };
                let ok = schemes.iter().any(|s| value.starts_with(s)) && value.len() > 8;
                (!ok).then(|| UrlError {
                    key: format!("sources.{}", field.key),
                    value: value.clone(),
                    expected: if field.stream {
                        "a ws:// or wss:// URL"
                    } else {
                        "an http:// or https:// URL"
                    },
                })
            })
            .collect()
    }
}

impl SourceUrls {
    /// The REST base URL of an exchange market.
    pub fn exchange_rest(&self, exchange: Exchange, market: Market) -> &str {
        match (exchange, market) {
            (Exchange::Binance, Market::Spot) => &self.binance_spot,
            (Exchange::Binance, Market::Futures) => &self.binance_futures,
            (Exchange::Mexc, Market::Spot) => &self.mexc_spot,
            (Exchange::Mexc, Market::Futures) => &self.mexc_futures,
            (Exchange::Hyperliquid, _) => &self.hyperliquid,
        }
    }

    /// Sets the REST base URL of an exchange market (`quantpro fetch --base-url`).
    pub fn set_exchange_rest(&mut self, exchange: Exchange, market: Market, url: String) {
        let slot = match (exchange, market) {
            (Exchange::Binance, Market::Spot) => &mut self.binance_spot,
            (Exchange::Binance, Market::Futures) => &mut self.binance_futures,
            (Exchange::Mexc, Market::Spot) => &mut self.mexc_spot,
            (Exchange::Mexc, Market::Futures) => &mut self.mexc_futures,
            (Exchange::Hyperliquid, _) => &mut self.hyperliquid,
        };
        *slot = url;
    }
}
