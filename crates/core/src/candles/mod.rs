//! OHLCV candles: the type, the interval, and loading candle files from a
//! data directory (`{SYMBOL}_{EXCHANGE}_{INTERVAL}.json|csv|parquet|feather`,
//! or a freqtrade `user_data/data/<exchange>/` folder as it is).
//!
//! Flow: `list_candle_files` finds the series of a data directory,
//! `load_candle_file` reads one (JSON fast path, or CSV/Parquet/Feather
//! through polars), validates it and keeps its closed candles; the scan
//! then builds the symbol's context from the 15m and 4h series.

pub mod columnar;
mod file_name;
mod freqtrade;
mod json;
mod load;
pub mod series;
pub mod store;
mod validate;

pub use file_name::{CandleFileName, CandleFormat, FileNameError};
pub use json::{candles_to_json, parse_any_form, parse_candles_json, parse_object_form};
pub use load::{
    display_name, list_candle_files, load_candle_file, read_candle_file, CandleErrorKind,
    CandleFileError, CandleInventory, LoadedSeries, RejectedFile, SymbolFiles,
};
pub use validate::{drop_unclosed, is_closed, validate_candles, ValidationError};

pub use quantpro_model::Candle;
