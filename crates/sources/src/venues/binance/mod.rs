//! Binance: spot and USDⓈ-M futures candles and listings over REST (`rest`),
//! their closes over the WebSocket streams (`stream`); for USDⓈ-M orders, the
//! signing of SIGNED requests (`signing`), the symbol filters an order
//! must pass (`filters`), the order client (`trading`) and the account's
//! user data stream (`user_stream`).

pub mod filters;
pub mod rest;
pub mod signing;
pub(crate) mod stream;
pub mod trading;
pub mod user_stream;
