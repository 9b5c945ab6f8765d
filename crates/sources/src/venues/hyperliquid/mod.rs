//! Hyperliquid: perpetuals' candles and listings over the info endpoint
//! (`rest`), their closes over the WebSocket (`stream`).

pub mod rest;
pub(crate) mod stream;
