//! [ssr] The external data layer: one module per outside API.
//!
//! In the flow `exchange / Coinalyze APIs -> sources -> candle store (data/) ->
//! scanner core`, this is the only place that speaks HTTP:
//! - `exchanges` + `fetch`: candles from MEXC, Hyperliquid and Binance into the
//!   `data/` files the scanner reads (`quantpro fetch`);
//! - `coinalyze`: open interest, funding, long/short ratio and liquidations,
//!   handed to the core as a `core::external::ExternalDataMap`;
//! - `market`: market cap and 24 h volume from CoinGecko (`ExternalData.market`);
//! - `gemini`: a trader-readable commentary of one signal.
//!
//! Shared plumbing: `governor` (the one rate-limit governor: per host the
//! documented budget, 429 pauses and 418 bans shared by every caller, with a
//! published status), `http` (the one retry loop every client sends
//! through: Retry-After, backoff, statistics), `backoff` (growing waits with
//! jitter: stream reconnects, a refusing host), `disk` (the TTL cache), `keys`
//! (API keys that never print), `error` (the one error type). `clients`
//! holds one of each client, and the governor, per process. Every base URL is a setting (`[sources]` in
//! `quantpro.toml`), so each client runs against a local fake.

pub mod backoff;
pub mod clients;
pub mod clock;
pub mod coinalyze;
pub mod coingecko;
pub mod disk;
pub mod error;
pub mod gemini;
pub mod governor;
pub mod http;
mod json_fields;
pub mod keys;
#[cfg(test)]
mod loopback;
pub mod streams;
pub mod trading;
pub mod urls;
pub mod venues;

pub use error::{LastFailure, SourceError};
