//! A bracket sized from risk: quantity = risk amount / |entry - stop|, the
//! risk amount being `risk_pct` of the equity, capped by `max_notional` and
//! `max_leverage`, then put on the venue's grid. Prices are rounded so that
//! rounding never adds risk or reward the setup did not have: the stop and
//! the target move toward the entry, a resting entry away from the touch.

use quantpro_model::{Side as SignalSide, TradeSetup};
use quantpro_sources::trading::{RoundDirection, Side, SymbolRules, TradeError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The setup's three levels, as decimals, on the right sides of each other.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Levels {
    /// The entry's side (a long buys).
    pub side: Side,
    pub entry: Decimal,
    pub stop: Decimal,
    pub target: Decimal,
}

/// Why a bracket cannot be sized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SizingError {
    #[error("the setup's {what} ({value}) is not a price")]
    NotAPrice { what: &'static str, value: f64 },
    #[error("the stop ({stop}) must be {below_above} the entry ({entry}) for a {side}")]
    StopOnWrongSide {
        stop: Decimal,
        entry: Decimal,
        side: &'static str,
        below_above: &'static str,
    },
    #[error("the target ({target}) must be {above_below} the entry ({entry}) for a {side}")]
    TargetOnWrongSide {
        target: Decimal,
        entry: Decimal,
        side: &'static str,
        above_below: &'static str,
    },
    #[error("the account has no equity to risk ({0})")]
    NoEquity(Decimal),
    #[error("the size is under the venue's minimum: {0}")]
    TooSmall(String),
    #[error("{0}")]
    Venue(#[from] TradeError),
}

impl Levels {
    /// The setup's levels; a stop or target on the wrong side is refused.
    pub fn from_setup(setup: &TradeSetup) -> Result<Levels, SizingError> {
        let price = |what: &'static str, value: f64| {
            Decimal::try_from(value)
                .ok()
                .filter(|d| *d > Decimal::ZERO)
                .map(|d| d.round_sf(12).unwrap_or(d).normalize())
                .ok_or(SizingError::NotAPrice { what, value })
        };
        let levels = Levels {
            side: match setup.side {
                SignalSide::Long => Side::Buy,
                SignalSide::Short => Side::Sell,
            },
            entry: price("entry", setup.entry)?,
            stop: price("stop", setup.sl)?,
            target: price("target", setup.tp)?,
        };
        levels.check()?;
        Ok(levels)
    }

    /// A long's stop below its entry and target above; a short's mirrored.
    pub fn check(&self) -> Result<(), SizingError> {
        let long = self.side == Side::Buy;
        let side = if long { "long" } else { "short" };
        if (long && self.stop >= self.entry) || (!long && self.stop <= self.entry) {
            return Err(SizingError::StopOnWrongSide {
                stop: self.stop,
                entry: self.entry,
                side,
                below_above: if long { "below" } else { "above" },
            });
        }
        if (long && self.target <= self.entry) || (!long && self.target >= self.entry) {
            return Err(SizingError::TargetOnWrongSide {
                target: self.target,
                entry: self.entry,
                side,
                above_below: if long { "above" } else { "below" },
            });
        }
        Ok(())
    }

    /// LONG for a bracket that buys its entry, SHORT for one that sells it.
    pub fn direction(&self) -> &'static str {
        match self.side {
            Side::Buy => "LONG",
            Side::Sell => "SHORT",
        }
    }

    /// How much worse than the entry level `fill` is, in basis points of
    /// the level (negative: better), to 0.1 bp.
    pub fn slippage_bps(&self, fill: Decimal) -> Decimal {
        let worse = match self.side {
            Side::Buy => fill - self.entry,
            Side::Sell => self.entry - fill,
        };
        (worse / self.entry * Decimal::from(10_000))
            .round_dp(1)
            .normalize()
    }

    /// What one unit of the position risks.
    pub fn risk_per_unit(&self) -> Decimal {
        (self.entry - self.stop).abs()
    }

    /// The levels on the venue's grid: the stop and the target toward the
    /// entry (never more risk, never a farther target), the entry as below.
    fn rounded(&self, rules: &SymbolRules, resting_entry: bool) -> Result<Levels, SizingError> {
        let long = self.side == Side::Buy;
        let (toward_entry_from_below, toward_entry_from_above) =
            (RoundDirection::Up, RoundDirection::Down);
        // A resting entry rounds away from the touch (a long buys lower); a
        // market entry's price is an estimate, put on the grid on the
        // costly side (a long pays more), so the risk is not understated.
        let entry_way = match (resting_entry, long) {
            (true, true) | (false, false) => RoundDirection::Down,
            (true, false) | (false, true) => RoundDirection::Up,
        };
        let entry = rules.round_price(self.entry, entry_way)?;
        let (stop_way, target_way) = if long {
            (toward_entry_from_below, toward_entry_from_above)
        } else {
            (toward_entry_from_above, toward_entry_from_below)
        };
        let rounded = Levels {
            side: self.side,
            entry,
            stop: rules.round_price(self.stop, stop_way)?,
            target: rules.round_price(self.target, target_way)?,
        };
        rounded.check()?;
        Ok(rounded)
    }
}

/// The limits sizing applies (from `[execution]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizingLimits {
    pub risk_pct: Decimal,
    pub max_notional: Decimal,
    pub max_leverage: Decimal,
    /// Fee per fill, in basis points of its value (the estimate shown).
    pub fee_bps: Decimal,
}

/// Which limit made the position smaller than the risk asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cap {
    MaxNotional,
    MaxLeverage,
}

/// A sized bracket: what the ticket shows and the executor sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sizing {
    pub levels: Levels,
    pub quantity: Decimal,
    /// quantity x entry.
    pub notional: Decimal,
    /// notional / equity.
    pub leverage: Decimal,
    /// quantity x |entry - stop|: what the stop loses (before fees).
    pub risk: Decimal,
    /// `risk_pct` of the equity: what the trader asked to risk.
    pub risk_budget: Decimal,
    /// risk / risk_budget: 1 unless a cap or the grid made it smaller.
    pub risk_r: Decimal,
    /// Entry and exit fees at `fee_bps`, estimated at the entry price.
    pub fees: Decimal,
    pub capped_by: Option<Cap>,
}

/// Sizes a bracket on `equity` under `limits` and the venue's `rules`.
/// `market_entry`: the entry goes at the market (its price is an estimate,
/// and Binance's market lot size applies).
pub fn size(
    levels: &Levels,
    equity: Decimal,
    limits: &SizingLimits,
    rules: &SymbolRules,
    market_entry: bool,
) -> Result<Sizing, SizingError> {
    if equity <= Decimal::ZERO {
        return Err(SizingError::NoEquity(equity));
    }
    let levels = levels.rounded(rules, !market_entry)?;
    let hundred = Decimal::ONE_HUNDRED;
    let risk_budget = equity * limits.risk_pct / hundred;
    let by_risk = risk_budget / levels.risk_per_unit();
    let by_notional = limits.max_notional / levels.entry;
    let by_leverage = equity * limits.max_leverage / levels.entry;
    let (wanted, capped_by) = if by_risk <= by_notional && by_risk <= by_leverage {
        (by_risk, None)
    } else if by_notional <= by_leverage {
        (by_notional, Some(Cap::MaxNotional))
    } else {
        (by_leverage, Some(Cap::MaxLeverage))
    };
    let quantity = rules.floor_quantity(wanted, market_entry);
    if quantity <= Decimal::ZERO {
        return Err(SizingError::TooSmall(format!(
            "{} x {} risks {}, which rounds to no quantity on the venue's grid",
            wanted.round_dp(8).normalize(),
            levels.entry,
            risk_budget.round_dp(2)
        )));
    }
    rules
        .check(levels.entry, quantity, market_entry, false)
        .map_err(|e| SizingError::TooSmall(e.to_string()))?;
    let notional = quantity * levels.entry;
    let risk = quantity * levels.risk_per_unit();
    Ok(Sizing {
        quantity: quantity.normalize(),
        notional: notional.round_dp(8).normalize(),
        leverage: (notional / equity).round_dp(4).normalize(),
        risk: risk.round_dp(8).normalize(),
        risk_budget: risk_budget.round_dp(8).normalize(),
        risk_r: (risk / risk_budget).round_dp(4).normalize(),
        fees: (notional * limits.fee_bps * Decimal::TWO / Decimal::from(10_000))
            .round_dp(8)
            .normalize(),
        capped_by,
        levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn long(entry: &str, stop: &str, target: &str) -> Levels {
        Levels {
            side: Side::Buy,
            entry: d(entry),
            stop: d(stop),
            target: d(target),
        }
    }

    fn limits() -> SizingLimits {
        SizingLimits {
            risk_pct: d("1"),
            max_notional: d("100000"),
            max_leverage: d("10"),
            fee_bps: d("5"),
        }
    }

    fn paper() -> SymbolRules {
        SymbolRules::Paper {
            tick: d("0.01"),
            step: d("0.001"),
        }
    }

    #[test]
    fn the_quantity_risks_the_asked_share_of_equity() {
        // 1 % of 10 000 = 100 at risk over a 2.00 stop distance: 50 units.
        let sizing = size(
            &long("100", "98", "106"),
            d("10000"),
            &limits(),
            &paper(),
            true,
        )
        .unwrap();
        assert_eq!(sizing.quantity, d("50"));
        assert_eq!(sizing.risk, d("100"));
        assert_eq!(sizing.risk_r, d("1"));
        assert_eq!(sizing.notional, d("5000"));
        assert_eq!(sizing.leverage, d("0.5"));
        assert_eq!(sizing.fees, d("5"), "2 x 5 bp of 5000");
        assert_eq!(sizing.capped_by, None);
    }

    #[test]
    fn caps_shrink_the_position_and_say_which() {
        let capped = SizingLimits {
            max_notional: d("1000"),
            ..limits()
        };
        let sizing = size(
            &long("100", "98", "106"),
            d("10000"),
            &capped,
            &paper(),
            true,
        )
        .unwrap();
        assert_eq!(sizing.quantity, d("10"));
        assert_eq!(sizing.capped_by, Some(Cap::MaxNotional));
        assert_eq!(sizing.risk_r, d("0.2"));
        let lev = SizingLimits {
            max_leverage: d("0.2"),
            ..limits()
        };
        let sizing = size(&long("100", "98", "106"), d("10000"), &lev, &paper(), true).unwrap();
        assert_eq!(
            (sizing.quantity, sizing.capped_by),
            (d("20"), Some(Cap::MaxLeverage))
        );
    }

    #[test]
    fn slippage_is_positive_when_the_fill_is_worse() {
        let levels = long("100", "98", "106");
        assert_eq!(levels.slippage_bps(d("100.05")), d("5"));
        assert_eq!(levels.slippage_bps(d("99.9")), d("-10"));
        let short = Levels {
            side: Side::Sell,
            ..long("100", "102", "95")
        };
        assert_eq!(short.slippage_bps(d("99.9")), d("10"));
    }

    #[test]
    fn a_stop_on_the_wrong_side_is_refused() {
        let err = size(
            &long("100", "101", "106"),
            d("10000"),
            &limits(),
            &paper(),
            true,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the stop (101) must be below the entry (100) for a long"
        );
        let short = Levels {
            side: Side::Sell,
            ..long("100", "98", "95")
        };
        assert!(matches!(
            short.check(),
            Err(SizingError::StopOnWrongSide { .. })
        ));
    }

    #[test]
    fn a_size_under_the_venue_minimum_is_refused_with_its_words() {
        let hl = SymbolRules::Hyperliquid {
            asset: 0,
            sz_decimals: 2,
        };
        // 1 % of 50 = 0.5 at risk over 2.00: 0.25 units of a 20.00 coin = $5.
        let err = size(&long("20", "18", "26"), d("50"), &limits(), &hl, true).unwrap_err();
        assert!(err.to_string().contains("minimum"), "{err}");
    }

    #[test]
    fn rounding_moves_the_stop_and_target_toward_the_entry() {
        let sizing = size(
            &long("100.005", "98.004", "106.009"),
            d("10000"),
            &limits(),
            &paper(),
            false,
        )
        .unwrap();
        assert_eq!(sizing.levels.entry, d("100"), "a resting buy rounds down");
        assert_eq!(sizing.levels.stop, d("98.01"));
        assert_eq!(sizing.levels.target, d("106"));
    }

    proptest! {
        /// Whatever the levels and equity, the position never risks more
        /// than asked, never exceeds the caps, and sits on the grid.
        #[test]
        fn never_more_risk_or_size_than_allowed(
            entry in 1u32..100_000,
            stop_bp in 10u32..2_000,
            equity in 100u32..1_000_000,
            risk_pct in 1u32..300,
        ) {
            let entry = Decimal::from(entry) / Decimal::from(100);
            let stop = entry * (Decimal::ONE - Decimal::from(stop_bp) / Decimal::from(10_000));
            let levels = Levels { side: Side::Buy, entry, stop, target: entry * Decimal::TWO };
            let limits = SizingLimits { risk_pct: Decimal::from(risk_pct) / Decimal::from(100), ..limits() };
            let equity = Decimal::from(equity);
            if let Ok(sizing) = size(&levels, equity, &limits, &paper(), true) {
                prop_assert!(sizing.risk <= sizing.risk_budget);
                prop_assert!(sizing.notional <= limits.max_notional);
                prop_assert!(sizing.notional <= equity * limits.max_leverage);
                prop_assert_eq!(paper().floor_quantity(sizing.quantity, true), sizing.quantity);
                prop_assert!(sizing.levels.stop < sizing.levels.entry);
            }
        }
    }
}
