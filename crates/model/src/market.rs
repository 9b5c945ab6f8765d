//! Spot or futures: which of an exchange's markets a symbol trades on.

use crate::Exchange;

/// Spot or perpetual futures: the two markets MEXC and Binance serve
/// through different APIs (Hyperliquid's candles are its perps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Market {
    Spot,
    Futures,
}

impl std::str::FromStr for Market {
    type Err = String;

    fn from_str(s: &str) -> Result<Market, String> {
        match s.to_ascii_lowercase().as_str() {
            "spot" => Ok(Market::Spot),
            "futures" | "perp" | "perps" | "swap" => Ok(Market::Futures),
            _ => Err(format!("unknown market '{s}' (expected spot or futures)")),
        }
    }
}

impl Market {
    /// The market `quantpro fetch` uses when none is given: Binance's USD-M
    /// perps (the market Coinalyze's OI describes), MEXC spot (its symbols
    /// are spelled like Binance's), Hyperliquid's perps (its only candles).
    pub fn default_for(exchange: Exchange) -> Market {
        match exchange {
            Exchange::Binance | Exchange::Hyperliquid => Market::Futures,
            Exchange::Mexc => Market::Spot,
        }
    }
}
