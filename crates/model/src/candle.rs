//! The OHLCV candle every layer passes around: the sources fetch it, the
//! candle store keeps it, the scanner core reads it.

use serde::{Deserialize, Serialize};

/// One OHLCV candle; `t` is the open time in Unix milliseconds (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    pub t: i64,
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    pub v: f64,
}
