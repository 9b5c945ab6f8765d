//! Binance: spot and USDⓈ-M futures candles and listings over REST (`rest`),
//! their closes over the WebSocket streams (`stream`).

pub mod rest;
pub(crate) mod stream;
