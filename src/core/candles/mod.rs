//! OHLCV candles: the type, the interval, and loading candle files from a
//! data directory (`{SYMBOL}_{EXCHANGE}_{INTERVAL}.json|csv|parquet`).
//!
//! Flow: `list_candle_files` finds the series of a data directory,
//! `load_candle_file` reads one (JSON fast path, or CSV/Parquet through
//! polars), validates it and keeps its closed candles; the scan then builds
//! the symbol's context from the 15m and 4h series.

pub mod columnar;
mod file_name;
mod json;
mod load;
mod validate;

pub use file_name::{CandleFileName, CandleFormat, FileNameError};
pub use json::{parse_any_form, parse_candles_json, parse_object_form};
pub use load::{
    display_name, list_candle_files, load_candle_file, read_candle_file, CandleErrorKind,
    CandleFileError, CandleInventory, LoadedSeries, RejectedFile, SymbolFiles,
};
pub use validate::{drop_unclosed, is_stale, validate_candles, ValidationError};

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

/// Candle intervals the scanner reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Interval {
    #[serde(rename = "15m")]
    M15,
    #[serde(rename = "1h")]
    H1,
    #[serde(rename = "4h")]
    H4,
    #[serde(rename = "1d")]
    D1,
}

impl Interval {
    pub const ALL: [Interval; 4] = [Interval::M15, Interval::H1, Interval::H4, Interval::D1];

    /// The spelling used in file names and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::M15 => "15m",
            Interval::H1 => "1h",
            Interval::H4 => "4h",
            Interval::D1 => "1d",
        }
    }

    /// Length of one candle in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Interval::M15 => 15 * 60_000,
            Interval::H1 => 60 * 60_000,
            Interval::H4 => 4 * 60 * 60_000,
            Interval::D1 => 24 * 60 * 60_000,
        }
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Interval {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Interval::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| format!("unknown interval '{s}' (expected one of: 15m, 1h, 4h, 1d)"))
    }
}
