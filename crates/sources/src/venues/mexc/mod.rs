//! MEXC: spot and contract candles and listings over REST (`rest`), the
//! contract market's closes over its WebSocket (`stream`; MEXC spot has no
//! stream we read).

pub mod rest;
pub(crate) mod stream;
