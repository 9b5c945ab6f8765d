//! Spot or futures: which of an exchange's markets a symbol trades on.

use crate::Exchange;

/// Spot or perpetual futures: the two markets MEXC and Binance serve
/// through different APIs (Hyperliquid's candles are its perps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Market {
    Spot,
    Futures,
}

/// A market name that is neither spot nor futures (`--market`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown market '{0}' (expected spot or futures)")]
pub struct UnknownMarket(pub String);

impl std::str::FromStr for Market {
    type Err = UnknownMarket;

    fn from_str(s: &str) -> Result<Market, UnknownMarket> {
        match s.to_ascii_lowercase().as_str() {
            "spot" => Ok(Market::Spot),
            "futures" | "perp" | "perps" | "swap" => Ok(Market::Futures),
            _ => Err(UnknownMarket(s.to_string())),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markets_by_name_and_a_wrong_name_says_what_is_expected() {
        assert_eq!("Spot".parse(), Ok(Market::Spot));
        assert_eq!("perp".parse(), Ok(Market::Futures));
        let wrong = "margin".parse::<Market>().unwrap_err();
        assert_eq!(wrong, UnknownMarket("margin".into()));
        assert_eq!(
            wrong.to_string(),
            "unknown market 'margin' (expected spot or futures)"
        );
    }
}
