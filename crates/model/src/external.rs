//! External (derivatives and market) data of one symbol, as the scanner core
//! takes it: a plain value filled by the Coinalyze batch processor, or empty.
//!
//! The core never calls an API; whoever has the data (sources::coinalyze)
//! builds an `ExternalData` per symbol and hands the map to the scan.

use crate::{Exchange, MarketMetadata, OiMetadata};
use std::collections::HashMap;

/// Long and short liquidation volume over the last 24 h.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Liquidations {
    pub long: f64,
    pub short: f64,
}

/// Everything the context knows about a symbol beyond its candles. Each
/// `Option` is `None` when that data is unavailable (no key, API failure,
/// unknown symbol): the signal then carries `*_available: false`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExternalData {
    /// Hourly open-interest closes, oldest first (input of the OI z-score).
    pub oi_history: Option<Vec<f64>>,
    /// Latest funding rate as the source reports it.
    pub funding_rate: Option<f64>,
    /// Latest long/short ratio.
    pub ls_ratio: Option<f64>,
    /// Liquidations over the last 24 h.
    pub liquidations_24h: Option<Liquidations>,
    /// Provenance of the derivatives data (`neutral` when there is none).
    pub oi_metadata: OiMetadata,
    /// Market cap and 24 h volume, when known.
    pub market: Option<MarketMetadata>,
}

/// Key of the external-data map: the exchange and the symbol as in the file name.
pub type SymbolKey = (Exchange, String);

/// External data per symbol; a symbol missing from the map has none.
pub type ExternalDataMap = HashMap<SymbolKey, ExternalData>;
