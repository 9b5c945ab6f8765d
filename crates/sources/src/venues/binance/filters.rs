//! Binance USDⓈ-M futures `exchangeInfo` filters for one symbol, and the
//! rounding and checks an order must pass before it is sent.
//!
//! The venue refuses off-grid values (-4014/-4023), extra decimals (-1111
//! `BAD_PRECISION`) and small orders (-4164), so every price and quantity goes
//! through here, in `Decimal` (never `f64`, whose binary rounding puts values
//! like 0.3 just off the grid).
//!
//! Grids follow the documented rules: `(price - minPrice) % tickSize == 0` and
//! `(qty - minQty) % stepSize == 0`, i.e. anchored at the minimum. A zero
//! `tickSize`, `minPrice` or `maxPrice` disables that part of `PRICE_FILTER`
//! (documented); we treat zeros in the lot-size filters and `notional` the same
//! way (defensive: not documented, but a zero step cannot define a grid).
//!
//! Our rounding policy:
//! - quantity: floor to the step (never trade more than sized);
//! - passive (resting) price: away from the touch, BUY down and SELL up, so
//!   rounding never turns a maker order into a taker;
//! - stop-loss trigger: toward entry (SELL stop up, BUY stop down), see
//!   [`SymbolFilters::round_stop_price`].

use rust_decimal::Decimal;
use serde::Deserialize;

/// Order side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

/// Which lot-size filter applies: `LOT_SIZE` for LIMIT, `MARKET_LOT_SIZE` for
/// MARKET (which often has a smaller `maxQty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    Limit,
    Market,
}

/// Direction for rounding onto a grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundDirection {
    /// Toward negative infinity.
    Down,
    /// Toward positive infinity.
    Up,
}

/// Errors while reading filters from `exchangeInfo`.
#[derive(Debug, thiserror::Error)]
pub enum FilterParseError {
    #[error("malformed exchangeInfo JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("symbol {symbol} not found in exchangeInfo")]
    SymbolNotFound { symbol: String },
    #[error("symbol {symbol} has no {filter} filter")]
    MissingFilter {
        symbol: String,
        filter: &'static str,
    },
}

/// A value that breaks one of the symbol's filters. Each variant names the
/// filter and carries the numbers involved, so a refusal can be logged and
/// compared with the venue's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("{filter}: quantity {qty} is below minQty {min}")]
    QuantityBelowMinimum {
        filter: &'static str,
        qty: Decimal,
        min: Decimal,
    },
    #[error("{filter}: quantity {qty} is above maxQty {max}")]
    QuantityAboveMaximum {
        filter: &'static str,
        qty: Decimal,
        max: Decimal,
    },
    #[error("{filter}: quantity {qty} is not on the stepSize {step} grid from minQty {min}")]
    QuantityOffStep {
        filter: &'static str,
        qty: Decimal,
        step: Decimal,
        min: Decimal,
    },
    #[error("PRICE_FILTER: price {price} is below minPrice {min}")]
    PriceBelowMinimum { price: Decimal, min: Decimal },
    #[error("PRICE_FILTER: price {price} is above maxPrice {max}")]
    PriceAboveMaximum { price: Decimal, max: Decimal },
    #[error("PRICE_FILTER: price {price} is not on the tickSize {tick} grid from minPrice {min}")]
    PriceOffTick {
        price: Decimal,
        tick: Decimal,
        min: Decimal,
    },
    #[error("MIN_NOTIONAL: notional {notional} (price {price} x qty {qty}) is below {min}")]
    NotionalBelowMinimum {
        notional: Decimal,
        price: Decimal,
        qty: Decimal,
        min: Decimal,
    },
    #[error("PERCENT_PRICE: BUY price {price} is above mark x multiplierUp = {limit}")]
    PriceAbovePercentLimit { price: Decimal, limit: Decimal },
    #[error("PERCENT_PRICE: SELL price {price} is below mark x multiplierDown = {limit}")]
    PriceBelowPercentLimit { price: Decimal, limit: Decimal },
    #[error("{value} has more decimals than the step {step} allows ({decimals})")]
    TooManyDecimals {
        value: Decimal,
        step: Decimal,
        decimals: u32,
    },
}

/// `PRICE_FILTER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceFilter {
    pub min_price: Decimal,
    pub max_price: Decimal,
    pub tick_size: Decimal,
}

/// `LOT_SIZE` or `MARKET_LOT_SIZE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotSizeFilter {
    pub min_qty: Decimal,
    pub max_qty: Decimal,
    pub step_size: Decimal,
}

/// `PERCENT_PRICE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PercentPriceFilter {
    pub multiplier_up: Decimal,
    pub multiplier_down: Decimal,
    /// Precision of the multipliers; informational.
    pub multiplier_decimal: Decimal,
}

/// The filters of one symbol that orders must respect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolFilters {
    pub symbol: String,
    pub price: PriceFilter,
    pub lot_size: LotSizeFilter,
    /// `None` when the symbol has no `MARKET_LOT_SIZE`; MARKET orders then use
    /// `LOT_SIZE`.
    pub market_lot_size: Option<LotSizeFilter>,
    /// `MIN_NOTIONAL.notional`; `None` disables the check.
    pub min_notional: Option<Decimal>,
    pub percent_price: Option<PercentPriceFilter>,
}

/// One entry of `symbols[].filters[]`, as sent (values are strings). Filters we
/// do not use (`MAX_NUM_ORDERS`, ...) fall into `Other`.
#[derive(Debug, Deserialize)]
#[serde(tag = "filterType")]
enum RawFilter {
    #[serde(rename = "PRICE_FILTER", rename_all = "camelCase")]
    Price {
        min_price: Decimal,
        max_price: Decimal,
        tick_size: Decimal,
    },
    #[serde(rename = "LOT_SIZE", rename_all = "camelCase")]
    LotSize {
        min_qty: Decimal,
        max_qty: Decimal,
        step_size: Decimal,
    },
    #[serde(rename = "MARKET_LOT_SIZE", rename_all = "camelCase")]
    MarketLotSize {
        min_qty: Decimal,
        max_qty: Decimal,
        step_size: Decimal,
    },
    #[serde(rename = "MIN_NOTIONAL")]
    MinNotional { notional: Decimal },
    #[serde(rename = "PERCENT_PRICE", rename_all = "camelCase")]
    PercentPrice {
        multiplier_up: Decimal,
        multiplier_down: Decimal,
        multiplier_decimal: Decimal,
    },
    #[serde(other)]
    Other,
}

/// One entry of `symbols[]`; other keys are ignored.
#[derive(Debug, Deserialize)]
struct RawSymbol {
    symbol: String,
    filters: Vec<RawFilter>,
}

/// The part of `exchangeInfo` we read.
#[derive(Debug, Deserialize)]
struct RawExchangeInfo {
    symbols: Vec<RawSymbol>,
}

impl SymbolFilters {
    /// Reads the filters of `symbol` from a whole `GET /fapi/v1/exchangeInfo`
    /// answer.
    pub fn from_exchange_info(json: &str, symbol: &str) -> Result<Self, FilterParseError> {
        let info: RawExchangeInfo = serde_json::from_str(json)?;
        let raw = info
            .symbols
            .into_iter()
            .find(|s| s.symbol == symbol)
            .ok_or_else(|| FilterParseError::SymbolNotFound {
                symbol: symbol.to_owned(),
            })?;
        Self::from_raw(raw)
    }

    /// Reads the filters from one `symbols[]` entry
    /// (`{"symbol":"BTCUSDT","filters":[...],...}`).
    pub fn from_symbol_json(json: &str) -> Result<Self, FilterParseError> {
        let raw: RawSymbol = serde_json::from_str(json)?;
        Self::from_raw(raw)
    }

    /// Folds the raw filter list into the typed struct; `PRICE_FILTER` and
    /// `LOT_SIZE` are required because no order can be checked without them.
    fn from_raw(raw: RawSymbol) -> Result<Self, FilterParseError> {
        let mut price = None;
        let mut lot_size = None;
        let mut market_lot_size = None;
        let mut min_notional = None;
        let mut percent_price = None;
        for filter in raw.filters {
            match filter {
                RawFilter::Price {
                    min_price,
                    max_price,
                    tick_size,
                } => {
                    price = Some(PriceFilter {
                        min_price,
                        max_price,
                        tick_size,
                    })
                }
                RawFilter::LotSize {
                    min_qty,
                    max_qty,
                    step_size,
                } => {
                    lot_size = Some(LotSizeFilter {
                        min_qty,
                        max_qty,
                        step_size,
                    })
                }
                RawFilter::MarketLotSize {
                    min_qty,
                    max_qty,
                    step_size,
                } => {
                    market_lot_size = Some(LotSizeFilter {
                        min_qty,
                        max_qty,
                        step_size,
                    })
                }
                RawFilter::MinNotional { notional } => min_notional = Some(notional),
                RawFilter::PercentPrice {
                    multiplier_up,
                    multiplier_down,
                    multiplier_decimal,
                } => {
                    percent_price = Some(PercentPriceFilter {
                        multiplier_up,
                        multiplier_down,
                        multiplier_decimal,
                    })
                }
                RawFilter::Other => {}
            }
        }
        let missing = |filter| FilterParseError::MissingFilter {
            symbol: raw.symbol.clone(),
            filter,
        };
        Ok(Self {
            price: price.ok_or_else(|| missing("PRICE_FILTER"))?,
            lot_size: lot_size.ok_or_else(|| missing("LOT_SIZE"))?,
            market_lot_size,
            min_notional,
            percent_price,
            symbol: raw.symbol,
        })
    }

    /// The lot-size filter for `kind`, with its name for error messages.
    pub fn lot_filter(&self, kind: OrderKind) -> (&'static str, &LotSizeFilter) {
        match (kind, &self.market_lot_size) {
            (OrderKind::Market, Some(market)) => ("MARKET_LOT_SIZE", market),
            (OrderKind::Market, None) | (OrderKind::Limit, _) => ("LOT_SIZE", &self.lot_size),
        }
    }

    /// Floors `qty` onto the step grid of the filter for `kind`.
    ///
    /// Floors rather than rounds so the order is never larger than sized. A
    /// result below `minQty` is clamped to zero ("nothing tradable"); the caller
    /// should then skip the order ([`Self::check_quantity`] reports it).
    pub fn floor_quantity(&self, qty: Decimal, kind: OrderKind) -> Decimal {
        let (_, lot) = self.lot_filter(kind);
        if qty < lot.min_qty {
            return Decimal::ZERO;
        }
        round_to_grid(qty, lot.min_qty, lot.step_size, RoundDirection::Down)
    }

    /// Rounds `price` onto the tick grid in `direction`.
    pub fn round_price(&self, price: Decimal, direction: RoundDirection) -> Decimal {
        round_to_grid(price, self.price.min_price, self.price.tick_size, direction)
    }

    /// Rounds a passive (resting) limit price away from the touch: BUY down,
    /// SELL up. Rounding toward the touch could cross the spread and make the
    /// order a taker (or get a GTX order rejected).
    pub fn round_passive_price(&self, price: Decimal, side: Side) -> Decimal {
        let direction = match side {
            Side::Buy => RoundDirection::Down,
            Side::Sell => RoundDirection::Up,
        };
        self.round_price(price, direction)
    }

    /// Rounds a stop-loss trigger price onto the tick grid **toward entry**.
    ///
    /// `stop_side` is the side of the stop order itself: a long is protected by
    /// a SELL stop below entry, rounded **up**; a short by a BUY stop above
    /// entry, rounded **down**. Either way the stop moves at most one tick
    /// closer to entry, so the loss if it fires never exceeds the risk the
    /// position was sized for. The price of doing so is a slightly tighter stop;
    /// a stop rounded onto or past the current price is refused with -2021
    /// ("would immediately trigger"), which the caller must handle.
    ///
    /// Take-profit triggers have no such bound; use [`Self::round_price`] with
    /// the direction the strategy wants.
    pub fn round_stop_price(&self, trigger: Decimal, stop_side: Side) -> Decimal {
        let direction = match stop_side {
            Side::Sell => RoundDirection::Up,
            Side::Buy => RoundDirection::Down,
        };
        self.round_price(trigger, direction)
    }

    /// Checks `qty` against `minQty`, `maxQty` and the step grid of the filter
    /// for `kind`.
    pub fn check_quantity(&self, qty: Decimal, kind: OrderKind) -> Result<(), FilterError> {
        let (filter, lot) = self.lot_filter(kind);
        if qty < lot.min_qty || qty <= Decimal::ZERO {
            return Err(FilterError::QuantityBelowMinimum {
                filter,
                qty,
                min: lot.min_qty,
            });
        }
        if !lot.max_qty.is_zero() && qty > lot.max_qty {
            return Err(FilterError::QuantityAboveMaximum {
                filter,
                qty,
                max: lot.max_qty,
            });
        }
        if !is_on_grid(qty, lot.min_qty, lot.step_size) {
            return Err(FilterError::QuantityOffStep {
                filter,
                qty,
                step: lot.step_size,
                min: lot.min_qty,
            });
        }
        Ok(())
    }

    /// Checks `price` against `minPrice`, `maxPrice` and the tick grid; zeros
    /// disable their part.
    pub fn check_price(&self, price: Decimal) -> Result<(), FilterError> {
        let pf = &self.price;
        if !pf.min_price.is_zero() && price < pf.min_price {
            return Err(FilterError::PriceBelowMinimum {
                price,
                min: pf.min_price,
            });
        }
        if !pf.max_price.is_zero() && price > pf.max_price {
            return Err(FilterError::PriceAboveMaximum {
                price,
                max: pf.max_price,
            });
        }
        if !is_on_grid(price, pf.min_price, pf.tick_size) {
            return Err(FilterError::PriceOffTick {
                price,
                tick: pf.tick_size,
                min: pf.min_price,
            });
        }
        Ok(())
    }

    /// Checks `price × qty ≥ notional`. For MARKET orders pass the mark price,
    /// as the venue does. Reduce-only orders are exempt at the venue (-4164 is
    /// skipped for them); that exemption is the caller's decision.
    pub fn check_notional(&self, price: Decimal, qty: Decimal) -> Result<(), FilterError> {
        let Some(min) = self.min_notional.filter(|n| !n.is_zero()) else {
            return Ok(());
        };
        let notional = price * qty;
        if notional < min {
            return Err(FilterError::NotionalBelowMinimum {
                notional,
                price,
                qty,
                min,
            });
        }
        Ok(())
    }

    /// Checks `PERCENT_PRICE`: BUY `price ≤ mark × multiplierUp`, SELL
    /// `price ≥ mark × multiplierDown`.
    pub fn check_percent_price(
        &self,
        price: Decimal,
        side: Side,
        mark: Decimal,
    ) -> Result<(), FilterError> {
        let Some(pp) = &self.percent_price else {
            return Ok(());
        };
        match side {
            Side::Buy => {
                let limit = mark * pp.multiplier_up;
                if price > limit {
                    return Err(FilterError::PriceAbovePercentLimit { price, limit });
                }
            }
            Side::Sell => {
                let limit = mark * pp.multiplier_down;
                if price < limit {
                    return Err(FilterError::PriceBelowPercentLimit { price, limit });
                }
            }
        }
        Ok(())
    }

    /// Formats a quantity with exactly the decimals of the step for `kind`.
    pub fn format_quantity(&self, qty: Decimal, kind: OrderKind) -> Result<String, FilterError> {
        format_to_step(qty, self.lot_filter(kind).1.step_size)
    }

    /// Formats a price with exactly the decimals of `tickSize`.
    pub fn format_price(&self, price: Decimal) -> Result<String, FilterError> {
        format_to_step(price, self.price.tick_size)
    }
}

/// Rounds `value` onto the grid `anchor + k × step` in `direction`.
///
/// Uses the decimal remainder, which is exact, rather than dividing. A zero
/// step means "no grid" and returns `value` unchanged.
pub fn round_to_grid(
    value: Decimal,
    anchor: Decimal,
    step: Decimal,
    direction: RoundDirection,
) -> Decimal {
    if step.is_zero() {
        return value;
    }
    let step = step.abs();
    // The remainder takes the sign of the dividend, so `value - rem` is always
    // the nearest grid point on the anchor's side of `value`; the other
    // neighbour is one step further away from the anchor.
    let rem = (value - anchor) % step;
    if rem.is_zero() {
        return value;
    }
    let toward_anchor = value - rem;
    match (direction, rem.is_sign_positive()) {
        (RoundDirection::Down, true) | (RoundDirection::Up, false) => toward_anchor,
        (RoundDirection::Down, false) => toward_anchor - step,
        (RoundDirection::Up, true) => toward_anchor + step,
    }
}

/// `(value - anchor) % step == 0`; a zero step disables the check.
pub fn is_on_grid(value: Decimal, anchor: Decimal, step: Decimal) -> bool {
    step.is_zero() || ((value - anchor) % step).is_zero()
}

/// The number of decimals a step carries, ignoring trailing zeros: `0.10` → 1,
/// `0.0000010` → 6, `1` → 0. Trailing zeros in the step add no precision, and
/// sending fewer decimals can never cause -1111 `BAD_PRECISION`.
pub fn step_decimals(step: Decimal) -> u32 {
    step.normalize().scale()
}

/// Formats `value` with exactly the step's decimals (see [`step_decimals`]), in
/// plain notation (no exponent). A zero step (no grid) prints `value`
/// normalized.
///
/// Refuses a value that would need more decimals: formatting must not round
/// silently, since that would send a value we never checked.
pub fn format_to_step(value: Decimal, step: Decimal) -> Result<String, FilterError> {
    let normalized = value.normalize();
    if step.is_zero() {
        return Ok(normalized.to_string());
    }
    let decimals = step_decimals(step);
    if normalized.scale() > decimals {
        return Err(FilterError::TooManyDecimals {
            value,
            step,
            decimals,
        });
    }
    let mut out = normalized;
    out.rescale(decimals);
    Ok(out.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// Parses a decimal literal in tests.
    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// BTCUSDT filters as the venue sends them (values from a recorded
    /// exchangeInfo; notional raised to 100 as for BTCUSDT).
    const BTCUSDT: &str = r#"{
        "symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL",
        "pricePrecision": 2, "quantityPrecision": 3,
        "filters": [
            {"minPrice":"556.80","maxPrice":"4529764","filterType":"PRICE_FILTER","tickSize":"0.10"},
            {"stepSize":"0.001","filterType":"LOT_SIZE","maxQty":"1000","minQty":"0.001"},
            {"stepSize":"0.001","filterType":"MARKET_LOT_SIZE","maxQty":"120","minQty":"0.001"},
            {"limit":200,"filterType":"MAX_NUM_ORDERS"},
            {"limit":10,"filterType":"MAX_NUM_ALGO_ORDERS"},
            {"notional":"100","filterType":"MIN_NOTIONAL"},
            {"multiplierDown":"0.9500","multiplierUp":"1.0500","multiplierDecimal":"4","filterType":"PERCENT_PRICE"}
        ]
    }"#;

    /// A small-priced symbol: tick 0.0000010 (written with a trailing zero, as
    /// the venue does), whole-unit steps.
    const SMALL: &str = r#"{
        "symbol": "SMALLUSDT",
        "filters": [
            {"minPrice":"0.0000010","maxPrice":"200","filterType":"PRICE_FILTER","tickSize":"0.0000010"},
            {"stepSize":"1","filterType":"LOT_SIZE","maxQty":"92233720368","minQty":"1"},
            {"stepSize":"1","filterType":"MARKET_LOT_SIZE","maxQty":"50000000","minQty":"1"},
            {"notional":"5","filterType":"MIN_NOTIONAL"},
            {"multiplierDown":"0.9000","multiplierUp":"1.1000","multiplierDecimal":"4","filterType":"PERCENT_PRICE"}
        ]
    }"#;

    fn btc() -> SymbolFilters {
        SymbolFilters::from_symbol_json(BTCUSDT).unwrap()
    }

    fn small() -> SymbolFilters {
        SymbolFilters::from_symbol_json(SMALL).unwrap()
    }

    #[test]
    fn parses_btcusdt() {
        let f = btc();
        assert_eq!(f.symbol, "BTCUSDT");
        assert_eq!(f.price.tick_size, d("0.10"));
        assert_eq!(f.price.min_price, d("556.80"));
        assert_eq!(f.price.max_price, d("4529764"));
        assert_eq!(f.lot_size.step_size, d("0.001"));
        assert_eq!(f.lot_size.max_qty, d("1000"));
        assert_eq!(f.market_lot_size.as_ref().unwrap().max_qty, d("120"));
        assert_eq!(f.min_notional, Some(d("100")));
        let pp = f.percent_price.unwrap();
        assert_eq!(pp.multiplier_up, d("1.05"));
        assert_eq!(pp.multiplier_down, d("0.95"));
        assert_eq!(pp.multiplier_decimal, d("4"));
    }

    #[test]
    fn parses_from_whole_exchange_info() {
        let json = format!(r#"{{"timezone":"UTC","symbols":[{SMALL},{BTCUSDT}]}}"#);
        let f = SymbolFilters::from_exchange_info(&json, "BTCUSDT").unwrap();
        assert_eq!(f.symbol, "BTCUSDT");
        let err = SymbolFilters::from_exchange_info(&json, "ETHUSDT").unwrap_err();
        assert!(
            matches!(err, FilterParseError::SymbolNotFound { ref symbol } if symbol == "ETHUSDT")
        );
    }

    #[test]
    fn missing_required_filter_is_an_error() {
        let json = r#"{"symbol":"X","filters":[{"stepSize":"1","filterType":"LOT_SIZE","maxQty":"9","minQty":"1"}]}"#;
        let err = SymbolFilters::from_symbol_json(json).unwrap_err();
        assert!(matches!(
            err,
            FilterParseError::MissingFilter {
                filter: "PRICE_FILTER",
                ..
            }
        ));
        assert!(matches!(
            SymbolFilters::from_symbol_json("{"),
            Err(FilterParseError::Json(_))
        ));
    }

    #[test]
    fn market_falls_back_to_lot_size_when_absent() {
        let mut f = btc();
        f.market_lot_size = None;
        assert_eq!(f.lot_filter(OrderKind::Market).0, "LOT_SIZE");
        assert_eq!(btc().lot_filter(OrderKind::Market).0, "MARKET_LOT_SIZE");
    }

    #[test]
    fn floor_quantity_btc() {
        let f = btc();
        let k = OrderKind::Limit;
        assert_eq!(f.floor_quantity(d("0.0159"), k), d("0.015"));
        assert_eq!(f.floor_quantity(d("0.015"), k), d("0.015"));
        assert_eq!(f.floor_quantity(d("0.0150000001"), k), d("0.015"));
        assert_eq!(f.floor_quantity(d("0.0149999999"), k), d("0.014"));
        assert_eq!(f.floor_quantity(d("0.001"), k), d("0.001"));
        assert_eq!(f.floor_quantity(d("0.000999"), k), Decimal::ZERO);
        assert_eq!(f.floor_quantity(Decimal::ZERO, k), Decimal::ZERO);
    }

    #[test]
    fn floor_quantity_small_whole_steps() {
        let f = small();
        assert_eq!(
            f.floor_quantity(d("12345.99"), OrderKind::Market),
            d("12345")
        );
        assert_eq!(f.floor_quantity(d("1"), OrderKind::Market), d("1"));
        assert_eq!(
            f.floor_quantity(d("0.99"), OrderKind::Market),
            Decimal::ZERO
        );
    }

    #[test]
    fn floor_quantity_is_anchored_at_min_qty() {
        let mut f = btc();
        // minQty off the step grid from zero: the documented rule anchors the
        // grid at minQty, so 0.0025 → 0.0015 + 0.001 = 0.0025.
        f.lot_size.min_qty = d("0.0015");
        assert_eq!(f.floor_quantity(d("0.0029"), OrderKind::Limit), d("0.0025"));
        assert!(f.check_quantity(d("0.0025"), OrderKind::Limit).is_ok());
        assert!(f.check_quantity(d("0.003"), OrderKind::Limit).is_err());
    }

    #[test]
    fn passive_price_away_from_touch_btc() {
        let f = btc();
        assert_eq!(
            f.round_passive_price(d("64012.57"), Side::Buy),
            d("64012.5")
        );
        assert_eq!(
            f.round_passive_price(d("64012.57"), Side::Sell),
            d("64012.6")
        );
        // Exact multiples are left alone on both sides.
        assert_eq!(
            f.round_passive_price(d("64012.50"), Side::Buy),
            d("64012.5")
        );
        assert_eq!(
            f.round_passive_price(d("64012.50"), Side::Sell),
            d("64012.5")
        );
        // Just below / above a tick.
        assert_eq!(
            f.round_passive_price(d("64012.4999"), Side::Buy),
            d("64012.4")
        );
        assert_eq!(
            f.round_passive_price(d("64012.4001"), Side::Sell),
            d("64012.5")
        );
    }

    #[test]
    fn passive_price_small_symbol() {
        let f = small();
        assert_eq!(
            f.round_passive_price(d("0.01234567"), Side::Buy),
            d("0.012345")
        );
        assert_eq!(
            f.round_passive_price(d("0.01234567"), Side::Sell),
            d("0.012346")
        );
        assert_eq!(
            f.round_passive_price(d("0.012345"), Side::Sell),
            d("0.012345")
        );
    }

    #[test]
    fn stop_price_rounds_toward_entry() {
        let f = btc();
        // Long at 65000 with a SELL stop at 63999.97: rounding up to 64000.0
        // shrinks the risk, never grows it.
        assert_eq!(f.round_stop_price(d("63999.97"), Side::Sell), d("64000.0"));
        // Short with a BUY stop above entry rounds down.
        assert_eq!(f.round_stop_price(d("66000.03"), Side::Buy), d("66000.0"));
        assert_eq!(f.round_stop_price(d("66000.0"), Side::Buy), d("66000.0"));
    }

    #[test]
    fn round_to_grid_handles_values_below_anchor() {
        let step = d("0.5");
        let anchor = d("1");
        assert_eq!(
            round_to_grid(d("0.7"), anchor, step, RoundDirection::Down),
            d("0.5")
        );
        assert_eq!(
            round_to_grid(d("0.7"), anchor, step, RoundDirection::Up),
            d("1.0")
        );
        assert_eq!(
            round_to_grid(d("0.5"), anchor, step, RoundDirection::Up),
            d("0.5")
        );
    }

    #[test]
    fn zero_steps_disable_the_grid() {
        let mut f = btc();
        f.price.tick_size = Decimal::ZERO;
        f.price.min_price = Decimal::ZERO;
        f.price.max_price = Decimal::ZERO;
        f.lot_size.step_size = Decimal::ZERO;
        f.lot_size.max_qty = Decimal::ZERO;
        f.min_notional = Some(Decimal::ZERO);
        assert_eq!(f.round_passive_price(d("1.23456"), Side::Buy), d("1.23456"));
        assert_eq!(
            f.floor_quantity(d("0.0123456"), OrderKind::Limit),
            d("0.0123456")
        );
        assert!(f.check_price(d("0.0000001")).is_ok());
        assert!(f.check_price(d("99999999")).is_ok());
        assert!(f.check_quantity(d("0.0123456"), OrderKind::Limit).is_ok());
        assert!(f.check_quantity(d("99999999"), OrderKind::Limit).is_ok());
        assert!(f.check_notional(d("1"), d("0.001")).is_ok());
        assert_eq!(format_to_step(d("1.2300"), Decimal::ZERO).unwrap(), "1.23");
        f.min_notional = None;
        assert!(f.check_notional(d("1"), d("0.001")).is_ok());
    }

    #[test]
    fn check_quantity_limits() {
        let f = btc();
        assert!(f.check_quantity(d("0.001"), OrderKind::Limit).is_ok());
        assert!(f.check_quantity(d("1000"), OrderKind::Limit).is_ok());
        assert_eq!(
            f.check_quantity(d("0.0009"), OrderKind::Limit),
            Err(FilterError::QuantityBelowMinimum {
                filter: "LOT_SIZE",
                qty: d("0.0009"),
                min: d("0.001")
            })
        );
        assert_eq!(
            f.check_quantity(d("1000.001"), OrderKind::Limit),
            Err(FilterError::QuantityAboveMaximum {
                filter: "LOT_SIZE",
                qty: d("1000.001"),
                max: d("1000")
            })
        );
        // MARKET uses the smaller MARKET_LOT_SIZE maxQty.
        assert!(f.check_quantity(d("120"), OrderKind::Market).is_ok());
        assert_eq!(
            f.check_quantity(d("120.001"), OrderKind::Market),
            Err(FilterError::QuantityAboveMaximum {
                filter: "MARKET_LOT_SIZE",
                qty: d("120.001"),
                max: d("120")
            })
        );
        assert!(matches!(
            f.check_quantity(d("0.0015"), OrderKind::Limit),
            Err(FilterError::QuantityOffStep {
                filter: "LOT_SIZE",
                ..
            })
        ));
    }

    #[test]
    fn check_price_limits() {
        let f = btc();
        assert!(f.check_price(d("64012.5")).is_ok());
        assert!(f.check_price(d("556.8")).is_ok());
        assert!(f.check_price(d("4529764")).is_ok());
        assert!(matches!(
            f.check_price(d("556.7")),
            Err(FilterError::PriceBelowMinimum { .. })
        ));
        assert!(matches!(
            f.check_price(d("4529764.1")),
            Err(FilterError::PriceAboveMaximum { .. })
        ));
        assert_eq!(
            f.check_price(d("64012.55")),
            Err(FilterError::PriceOffTick {
                price: d("64012.55"),
                tick: d("0.10"),
                min: d("556.80")
            })
        );
        let s = small();
        assert!(s.check_price(d("0.000001")).is_ok());
        assert!(s.check_price(d("0.0000015")).is_err());
    }

    #[test]
    fn check_notional_boundaries() {
        let f = btc();
        // 64000 × 0.001 = 64 < 100; 0.002 → 128 passes.
        assert_eq!(
            f.check_notional(d("64000"), d("0.001")),
            Err(FilterError::NotionalBelowMinimum {
                notional: d("64.000"),
                price: d("64000"),
                qty: d("0.001"),
                min: d("100")
            })
        );
        assert!(f.check_notional(d("64000"), d("0.002")).is_ok());
        // Exactly at the minimum passes.
        assert!(f.check_notional(d("100000"), d("0.001")).is_ok());
        assert!(f.check_notional(d("99999.9"), d("0.001")).is_err());
        let s = small();
        // 0.012345 × 406 = 5.01207 passes; × 405 = 4.999725 does not.
        assert!(s.check_notional(d("0.012345"), d("406")).is_ok());
        assert!(s.check_notional(d("0.012345"), d("405")).is_err());
        assert!(s.check_notional(d("0.01"), d("500")).is_ok());
    }

    #[test]
    fn error_text_names_filter_and_numbers() {
        let err = btc().check_notional(d("64000"), d("0.001")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MIN_NOTIONAL: notional 64.000 (price 64000 x qty 0.001) is below 100"
        );
        let err = btc()
            .check_quantity(d("0.0009"), OrderKind::Limit)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "LOT_SIZE: quantity 0.0009 is below minQty 0.001"
        );
    }

    #[test]
    fn percent_price() {
        let f = btc();
        let mark = d("64000");
        assert!(f.check_percent_price(d("67200"), Side::Buy, mark).is_ok());
        assert!(matches!(
            f.check_percent_price(d("67200.1"), Side::Buy, mark),
            Err(FilterError::PriceAbovePercentLimit { .. })
        ));
        assert!(f.check_percent_price(d("60800"), Side::Sell, mark).is_ok());
        assert!(matches!(
            f.check_percent_price(d("60799.9"), Side::Sell, mark),
            Err(FilterError::PriceBelowPercentLimit { .. })
        ));
        // A SELL far above mark and a BUY far below are not limited.
        assert!(f.check_percent_price(d("99999"), Side::Sell, mark).is_ok());
        assert!(f.check_percent_price(d("1000"), Side::Buy, mark).is_ok());
    }

    #[test]
    fn formatting_uses_step_decimals() {
        let f = btc();
        assert_eq!(f.format_price(d("64012.5")).unwrap(), "64012.5");
        assert_eq!(f.format_price(d("64012")).unwrap(), "64012.0");
        assert_eq!(f.format_price(d("64012.50000")).unwrap(), "64012.5");
        assert_eq!(
            f.format_quantity(d("0.01"), OrderKind::Limit).unwrap(),
            "0.010"
        );
        assert_eq!(
            f.format_quantity(d("1"), OrderKind::Limit).unwrap(),
            "1.000"
        );
        assert!(matches!(
            f.format_price(d("64012.55")),
            Err(FilterError::TooManyDecimals { decimals: 1, .. })
        ));
        let s = small();
        assert_eq!(s.format_price(d("0.000001")).unwrap(), "0.000001");
        assert_eq!(s.format_price(d("0.0123")).unwrap(), "0.012300");
        assert_eq!(
            s.format_quantity(d("1000000"), OrderKind::Limit).unwrap(),
            "1000000"
        );
        assert_eq!(
            s.format_quantity(d("405.000"), OrderKind::Market).unwrap(),
            "405"
        );
        // No exponent even for tiny or huge values.
        assert_eq!(
            format_to_step(d("0.0000001"), d("0.0000001")).unwrap(),
            "0.0000001"
        );
        assert_eq!(
            format_to_step(d("92233720368"), d("1")).unwrap(),
            "92233720368"
        );
    }

    #[test]
    fn step_decimals_ignores_trailing_zeros() {
        assert_eq!(step_decimals(d("0.10")), 1);
        assert_eq!(step_decimals(d("0.0000010")), 6);
        assert_eq!(step_decimals(d("1")), 0);
        assert_eq!(step_decimals(d("10")), 0);
        assert_eq!(step_decimals(d("0.001")), 3);
    }

    #[test]
    fn full_pipeline_btc() {
        // Size 0.01567 BTC at 64012.57 passive buy: floor, round, check, format.
        let f = btc();
        let qty = f.floor_quantity(d("0.01567"), OrderKind::Limit);
        let price = f.round_passive_price(d("64012.57"), Side::Buy);
        f.check_quantity(qty, OrderKind::Limit).unwrap();
        f.check_price(price).unwrap();
        f.check_notional(price, qty).unwrap();
        assert_eq!(f.format_quantity(qty, OrderKind::Limit).unwrap(), "0.015");
        assert_eq!(f.format_price(price).unwrap(), "64012.5");
    }
}
