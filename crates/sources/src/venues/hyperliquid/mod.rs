//! Hyperliquid: perpetuals' candles and listings over the info endpoint
//! (`rest`), their closes over the WebSocket (`stream`); for orders, the
//! EIP-712 signing of L1 actions (`signing`) and the price and size rules
//! (`rules`), the orders client (`trading`) and the account's order and
//! fill events (`user_stream`).

pub mod rest;
pub mod rules;
pub mod signing;
pub(crate) mod stream;
pub mod trading;
pub mod user_stream;
