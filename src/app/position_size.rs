//! The DetailPanel's position-size calculator: how big a position risks a
//! chosen share of the account between the setup's entry and stop.
//!
//! size = account × risk% / risk per unit, where risk per unit = |entry − SL|
//! (`TradeSetup::risk_per_unit`); notional = size × entry.

use quantpro_model::TradeSetup;

/// A sized position, in units of the base asset and in quote currency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionSize {
    /// Quote currency lost if the stop is hit: account × risk%.
    pub risk_amount: f64,
    /// Base-asset units: risk_amount / |entry − SL|.
    pub size: f64,
    /// Position value at entry: size × entry.
    pub notional: f64,
    /// Quote currency won if the target is hit: size × |TP − entry|.
    pub reward_amount: f64,
    /// Notional over account: the leverage the position needs (1 = none).
    pub leverage: f64,
}

/// Why a size cannot be computed, worded for the input it concerns.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum SizeError {
    #[error("account size must be a positive number")]
    Account,
    #[error("risk must be more than 0% and at most 100% of the account")]
    RiskPercent,
    #[error("the setup has no distance between entry and stop")]
    NoRisk,
}

/// Sizes a position for `setup` risking `risk_pct` percent of `account`.
pub fn position_size(
    account: f64,
    risk_pct: f64,
    setup: &TradeSetup,
) -> Result<PositionSize, SizeError> {
    if !(account.is_finite() && account > 0.0) {
        return Err(SizeError::Account);
    }
    if !(risk_pct.is_finite() && risk_pct > 0.0 && risk_pct <= 100.0) {
        return Err(SizeError::RiskPercent);
    }
    let risk_per_unit = setup.risk_per_unit();
    if !(risk_per_unit.is_finite() && risk_per_unit > 0.0) {
        return Err(SizeError::NoRisk);
    }
    let risk_amount = account * risk_pct / 100.0;
    let size = risk_amount / risk_per_unit;
    let notional = size * setup.entry;
    Ok(PositionSize {
        risk_amount,
        size,
        notional,
        reward_amount: size * (setup.tp - setup.entry).abs(),
        leverage: notional / account,
    })
}

/// Parses what the user typed (`"10,000"` and `" 1.5 "` are fine).
pub fn parse_amount(text: &str) -> Option<f64> {
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' '))
        .collect();
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::Side;

    fn setup(side: Side, entry: f64, sl: f64, tp: f64) -> TradeSetup {
        let rr = (tp - entry).abs() / (entry - sl).abs();
        TradeSetup {
            side,
            entry,
            sl,
            tp,
            rr,
        }
    }

    #[test]
    fn long_position_risks_the_chosen_share() {
        // 2% of 1000 = 20 at risk; 5 per unit between 100 and 95 -> 4 units.
        let p = position_size(1000.0, 2.0, &setup(Side::Long, 100.0, 95.0, 110.0)).unwrap();
        assert_eq!(p.risk_amount, 20.0);
        assert_eq!(p.size, 4.0);
        assert_eq!(p.notional, 400.0);
        assert_eq!(p.reward_amount, 40.0);
        assert_eq!(p.leverage, 0.4);
        // Losing at the stop costs exactly the risk amount.
        assert_eq!(p.size * (100.0 - 95.0), p.risk_amount);
    }

    #[test]
    fn short_position_uses_the_distance_above() {
        // 1% of 50 000 = 500 at risk; stop 0.25 above a 2.00 entry -> 2000 units, 4000 notional.
        let p = position_size(50_000.0, 1.0, &setup(Side::Short, 2.0, 2.25, 1.5)).unwrap();
        assert_eq!(
            (p.risk_amount, p.size, p.notional, p.reward_amount),
            (500.0, 2000.0, 4000.0, 1000.0)
        );
    }

    #[test]
    fn bad_inputs_are_refused() {
        let s = setup(Side::Long, 100.0, 95.0, 110.0);
        assert_eq!(position_size(0.0, 1.0, &s), Err(SizeError::Account));
        assert_eq!(position_size(f64::NAN, 1.0, &s), Err(SizeError::Account));
        assert_eq!(position_size(1000.0, 0.0, &s), Err(SizeError::RiskPercent));
        assert_eq!(
            position_size(1000.0, 101.0, &s),
            Err(SizeError::RiskPercent)
        );
        let flat = TradeSetup { sl: 100.0, ..s };
        assert_eq!(position_size(1000.0, 1.0, &flat), Err(SizeError::NoRisk));
    }

    #[test]
    fn amounts_accept_separators() {
        assert_eq!(parse_amount("10,000"), Some(10_000.0));
        assert_eq!(parse_amount(" 1.5 "), Some(1.5));
        assert_eq!(parse_amount("abc"), None);
        assert_eq!(parse_amount("inf"), None);
    }
}
