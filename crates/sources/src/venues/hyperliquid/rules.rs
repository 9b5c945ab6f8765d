//! Hyperliquid perpetual price and size rules, checked before signing so the
//! venue never answers "Price must be divisible by tick size." or "Order must
//! have minimum value of $10." for an order we could have fixed.
//!
//! Rules (Hyperliquid docs, `tick-and-lot-size`):
//! - sizes have at most `szDecimals` decimals (from `meta`);
//! - a perp price has at most 5 significant figures **and** at most
//!   `6 - szDecimals` decimals; integers are always valid, whatever their
//!   number of digits;
//! - the order value must be at least $10.
//!
//! Spot markets use 8 instead of 6; this module covers perps only.
//!
//! All arithmetic is in `Decimal` so that "significant figures" and
//! "decimals" mean the digits actually sent.

use rust_decimal::{Decimal, RoundingStrategy};

/// Perp prices have at most `PERP_MAX_DECIMALS - szDecimals` decimals.
pub const PERP_MAX_DECIMALS: u32 = 6;

/// Non-integer prices have at most this many significant figures.
pub const MAX_SIGNIFICANT_FIGURES: u32 = 5;

/// The venue's minimum order value, in USD(C).
pub const MIN_ORDER_VALUE_USD: Decimal = Decimal::TEN;

/// Direction for rounding a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundDirection {
    /// Toward negative infinity (e.g. a passive buy).
    Down,
    /// Toward positive infinity (e.g. a passive sell).
    Up,
}

/// A price or size the venue would refuse. The `Display` texts of
/// [`RuleError::PriceNotOnTick`] and [`RuleError::BelowMinimumValue`] are the
/// venue's own, so a fake exchange can answer with them verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Too many significant figures or decimals.
    #[error("Price must be divisible by tick size.")]
    PriceNotOnTick {
        price: Decimal,
        sz_decimals: u32,
        significant_figures: u32,
        decimals: u32,
        max_decimals: u32,
    },
    /// Price zero or negative.
    #[error("price {price} must be positive")]
    NonPositivePrice { price: Decimal },
    /// Rounding left no positive valid price (e.g. 0.00004 down with 1 decimal).
    #[error("no positive valid price {direction:?} from {price} with szDecimals {sz_decimals}")]
    NoValidPrice {
        price: Decimal,
        sz_decimals: u32,
        direction: RoundDirection,
    },
    /// Size with more decimals than `szDecimals`.
    #[error("size {size} has more than {sz_decimals} decimals")]
    SizeTooPrecise { size: Decimal, sz_decimals: u32 },
    /// Size zero or negative.
    #[error("size {size} must be positive")]
    NonPositiveSize { size: Decimal },
    /// `price × size` below $10.
    #[error("Order must have minimum value of $10.")]
    BelowMinimumValue { value: Decimal, min: Decimal },
}

/// The most decimals a perp price may have for this `szDecimals`.
pub fn max_price_decimals(sz_decimals: u32) -> u32 {
    PERP_MAX_DECIMALS.saturating_sub(sz_decimals)
}

/// Rounds a size down (toward zero) to `sz_decimals`, so an order is never
/// larger than sized.
pub fn round_size_down(size: Decimal, sz_decimals: u32) -> Decimal {
    size.round_dp_with_strategy(sz_decimals, RoundingStrategy::ToZero)
}

/// Checks that `size` is positive and has at most `sz_decimals` decimals.
pub fn check_size(size: Decimal, sz_decimals: u32) -> Result<(), RuleError> {
    if size <= Decimal::ZERO {
        return Err(RuleError::NonPositiveSize { size });
    }
    if size.normalize().scale() > sz_decimals {
        return Err(RuleError::SizeTooPrecise { size, sz_decimals });
    }
    Ok(())
}

/// Number of decimal digits of `n` (`0` has one).
fn digit_count(mut n: u128) -> u32 {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// Significant figures of a non-zero decimal, trailing zeros excluded
/// (`64012.5` → 6, `0.0123456` → 6, `64010` → 4).
pub fn significant_figures(value: Decimal) -> u32 {
    let normalized = value.normalize();
    let mut mantissa = normalized.mantissa().unsigned_abs();
    if mantissa == 0 {
        return 0;
    }
    // Integers keep their trailing zeros in the mantissa (scale cannot go
    // negative), so strip them to count only significant digits.
    while mantissa.is_multiple_of(10) {
        mantissa /= 10;
    }
    digit_count(mantissa)
}

/// Decimal exponent of the leading digit: `64012.5` → 4, `0.0123` → -2.
fn leading_exponent(value: Decimal) -> i64 {
    let normalized = value.normalize();
    let digits = i64::from(digit_count(normalized.mantissa().unsigned_abs()));
    digits - 1 - i64::from(normalized.scale())
}

/// Is `price` a valid perp price for `sz_decimals`? Integers always are;
/// otherwise at most 5 significant figures and `6 - szDecimals` decimals.
pub fn is_valid_price(price: Decimal, sz_decimals: u32) -> bool {
    check_price(price, sz_decimals).is_ok()
}

/// Like [`is_valid_price`], with the reason when it is not.
pub fn check_price(price: Decimal, sz_decimals: u32) -> Result<(), RuleError> {
    if price <= Decimal::ZERO {
        return Err(RuleError::NonPositivePrice { price });
    }
    let decimals = price.normalize().scale();
    if decimals == 0 {
        return Ok(());
    }
    let significant = significant_figures(price);
    let max_decimals = max_price_decimals(sz_decimals);
    if significant > MAX_SIGNIFICANT_FIGURES || decimals > max_decimals {
        return Err(RuleError::PriceNotOnTick {
            price,
            sz_decimals,
            significant_figures: significant,
            decimals,
            max_decimals,
        });
    }
    Ok(())
}

/// How many decimals a price near `price` may keep: the sig-fig limit
/// (`4 - exponent`, never below 0 since integers are always valid) capped by
/// `6 - szDecimals`.
fn allowed_decimals(price: Decimal, sz_decimals: u32) -> u32 {
    let by_sig_figs = i64::from(MAX_SIGNIFICANT_FIGURES) - 1 - leading_exponent(price);
    let by_sig_figs = u32::try_from(by_sig_figs.max(0)).unwrap_or(u32::MAX);
    by_sig_figs.min(max_price_decimals(sz_decimals))
}

/// Rounds `price` to the nearest valid perp price in `direction` (a valid price
/// is returned unchanged, normalized).
///
/// Rounding up can carry into a new leading digit (`9.99996` → `10`); the
/// result then has fewer significant figures, so it is still valid.
pub fn round_price(
    price: Decimal,
    sz_decimals: u32,
    direction: RoundDirection,
) -> Result<Decimal, RuleError> {
    if price <= Decimal::ZERO {
        return Err(RuleError::NonPositivePrice { price });
    }
    let decimals = allowed_decimals(price, sz_decimals);
    let strategy = match direction {
        RoundDirection::Down => RoundingStrategy::ToNegativeInfinity,
        RoundDirection::Up => RoundingStrategy::ToPositiveInfinity,
    };
    let rounded = price.round_dp_with_strategy(decimals, strategy).normalize();
    if rounded <= Decimal::ZERO {
        return Err(RuleError::NoValidPrice {
            price,
            sz_decimals,
            direction,
        });
    }
    // The carry case can only reduce significant figures; a failure here is a
    // bug in this function, not bad input.
    debug_assert!(is_valid_price(rounded, sz_decimals), "{rounded} invalid");
    Ok(rounded)
}

/// Checks `price × size ≥ $10`.
pub fn check_min_order_value(price: Decimal, size: Decimal) -> Result<(), RuleError> {
    let value = price * size;
    if value < MIN_ORDER_VALUE_USD {
        return Err(RuleError::BelowMinimumValue {
            value,
            min: MIN_ORDER_VALUE_USD,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const BTC: u32 = 5;
    const ETH: u32 = 4;
    const KPEPE: u32 = 0;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn max_decimals_per_asset() {
        assert_eq!(max_price_decimals(BTC), 1);
        assert_eq!(max_price_decimals(ETH), 2);
        assert_eq!(max_price_decimals(KPEPE), 6);
        assert_eq!(max_price_decimals(7), 0);
    }

    #[test]
    fn size_rounding() {
        assert_eq!(round_size_down(d("0.0015999"), BTC), d("0.00159"));
        assert_eq!(round_size_down(d("0.00159"), BTC), d("0.00159"));
        assert_eq!(round_size_down(d("0.01479"), ETH), d("0.0147"));
        assert_eq!(round_size_down(d("12345.9"), KPEPE), d("12345"));
        assert_eq!(round_size_down(d("0.9"), KPEPE), d("0"));
        assert!(check_size(d("0.00159"), BTC).is_ok());
        assert!(check_size(d("0.0015000"), BTC).is_ok());
        assert_eq!(
            check_size(d("0.001591"), BTC),
            Err(RuleError::SizeTooPrecise {
                size: d("0.001591"),
                sz_decimals: BTC
            })
        );
        assert!(check_size(d("1.5"), KPEPE).is_err());
        assert!(check_size(Decimal::ZERO, BTC).is_err());
    }

    #[test]
    fn significant_figures_count() {
        assert_eq!(significant_figures(d("64012.5")), 6);
        assert_eq!(significant_figures(d("64010")), 4);
        assert_eq!(significant_figures(d("64010.00")), 4);
        assert_eq!(significant_figures(d("0.0123456")), 6);
        assert_eq!(significant_figures(d("1670.1")), 5);
        assert_eq!(significant_figures(d("100")), 1);
    }

    #[test]
    fn btc_prices() {
        // 6 significant figures: invalid.
        let err = check_price(d("64012.5"), BTC).unwrap_err();
        assert_eq!(err.to_string(), "Price must be divisible by tick size.");
        assert_eq!(
            err,
            RuleError::PriceNotOnTick {
                price: d("64012.5"),
                sz_decimals: BTC,
                significant_figures: 6,
                decimals: 1,
                max_decimals: 1
            }
        );
        assert_eq!(
            round_price(d("64012.5"), BTC, RoundDirection::Down),
            Ok(d("64012"))
        );
        assert_eq!(
            round_price(d("64012.5"), BTC, RoundDirection::Up),
            Ok(d("64013"))
        );
        // Integers are always valid, even with more than 5 digits.
        assert!(is_valid_price(d("64012"), BTC));
        assert!(is_valid_price(d("123456"), BTC));
        assert!(is_valid_price(d("64012.0"), BTC));
        assert_eq!(
            round_price(d("123456"), BTC, RoundDirection::Up),
            Ok(d("123456"))
        );
        // 5 sig figs but 2 decimals > 1.
        assert!(!is_valid_price(d("6401.25"), BTC));
        assert!(is_valid_price(d("6401.2"), BTC));
        assert_eq!(
            round_price(d("6401.25"), BTC, RoundDirection::Down),
            Ok(d("6401.2"))
        );
        assert_eq!(
            round_price(d("6401.25"), BTC, RoundDirection::Up),
            Ok(d("6401.3"))
        );
        // Over 100k rounding goes to integers, not to tens.
        assert_eq!(
            round_price(d("123456.7"), BTC, RoundDirection::Down),
            Ok(d("123456"))
        );
    }

    #[test]
    fn eth_prices() {
        assert!(is_valid_price(d("1670.1"), ETH));
        assert!(is_valid_price(d("167.01"), ETH));
        assert!(!is_valid_price(d("1670.15"), ETH));
        assert!(!is_valid_price(d("16.701"), ETH));
        assert_eq!(
            round_price(d("1670.15"), ETH, RoundDirection::Down),
            Ok(d("1670.1"))
        );
        assert_eq!(
            round_price(d("1670.15"), ETH, RoundDirection::Up),
            Ok(d("1670.2"))
        );
        assert_eq!(
            round_price(d("16.701"), ETH, RoundDirection::Up),
            Ok(d("16.71"))
        );
        assert_eq!(
            round_price(d("0.0123456"), ETH, RoundDirection::Down),
            Ok(d("0.01"))
        );
        assert_eq!(
            round_price(d("0.0123456"), ETH, RoundDirection::Up),
            Ok(d("0.02"))
        );
        assert_eq!(
            round_price(d("1670.1"), ETH, RoundDirection::Up),
            Ok(d("1670.1"))
        );
    }

    #[test]
    fn kpepe_like_prices() {
        // 6 sig figs and 7 decimals: invalid on both counts.
        assert!(!is_valid_price(d("0.0123456"), KPEPE));
        assert_eq!(
            round_price(d("0.0123456"), KPEPE, RoundDirection::Down),
            Ok(d("0.012345"))
        );
        assert_eq!(
            round_price(d("0.0123456"), KPEPE, RoundDirection::Up),
            Ok(d("0.012346"))
        );
        assert!(is_valid_price(d("0.012345"), KPEPE));
        // Few sig figs but too many decimals.
        assert!(!is_valid_price(d("0.0000012"), KPEPE));
        assert_eq!(
            round_price(d("0.0000012"), KPEPE, RoundDirection::Down),
            Ok(d("0.000001"))
        );
        assert_eq!(
            round_price(d("0.0000012"), KPEPE, RoundDirection::Up),
            Ok(d("0.000002"))
        );
    }

    #[test]
    fn rounding_carry_and_exhaustion() {
        assert_eq!(
            round_price(d("9.99996"), KPEPE, RoundDirection::Up),
            Ok(d("10"))
        );
        assert_eq!(
            round_price(d("99999.5"), BTC, RoundDirection::Up),
            Ok(d("100000"))
        );
        assert_eq!(
            round_price(d("0.04"), BTC, RoundDirection::Down),
            Err(RuleError::NoValidPrice {
                price: d("0.04"),
                sz_decimals: BTC,
                direction: RoundDirection::Down
            })
        );
        assert_eq!(
            round_price(d("0.04"), BTC, RoundDirection::Up),
            Ok(d("0.1"))
        );
        assert!(matches!(
            round_price(Decimal::ZERO, BTC, RoundDirection::Up),
            Err(RuleError::NonPositivePrice { .. })
        ));
        assert!(matches!(
            check_price(d("-1"), BTC),
            Err(RuleError::NonPositivePrice { .. })
        ));
    }

    #[test]
    fn rounded_prices_are_always_valid() {
        // A sweep over magnitudes and szDecimals: every rounded price is valid
        // and on the requested side of the input.
        let inputs = [
            "0.000123456",
            "0.0123456",
            "1.23456",
            "12.3456",
            "1234.56",
            "98765.4321",
            "1999999.99",
        ];
        for text in inputs {
            let price = d(text);
            for sz in 0..=6 {
                if let Ok(down) = round_price(price, sz, RoundDirection::Down) {
                    assert!(is_valid_price(down, sz), "{down} sz {sz}");
                    assert!(down <= price);
                }
                let up = round_price(price, sz, RoundDirection::Up).unwrap();
                assert!(is_valid_price(up, sz), "{up} sz {sz}");
                assert!(up >= price);
            }
        }
    }

    #[test]
    fn min_order_value() {
        assert!(check_min_order_value(d("64012"), d("0.00016")).is_ok());
        let err = check_min_order_value(d("64012"), d("0.00015")).unwrap_err();
        assert_eq!(err.to_string(), "Order must have minimum value of $10.");
        assert_eq!(
            err,
            RuleError::BelowMinimumValue {
                value: d("9.6018"),
                min: d("10")
            }
        );
        // Exactly $10 passes.
        assert!(check_min_order_value(d("1000"), d("0.01")).is_ok());
        assert!(check_min_order_value(d("1670.1"), d("0.0059")).is_err());
    }
}
