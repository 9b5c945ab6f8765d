//! What trade execution needs of a venue that takes orders: one trait,
//! [`TradingVenue`], implemented by each live venue's client
//! (`venues::binance::trading`, `venues::hyperliquid::trading`) and by the
//! paper venue of the service crate, so the executor (sizing, risk limits,
//! exactly-once, "never an entry without its stop") is written once.
//!
//! Exactly once: every order carries a [`ClientId`] chosen before it is
//! sent. A call whose outcome is unknown answers [`TradeError::Unknown`]; the
//! caller then asks [`TradingVenue::order`] for that id and never resends
//! blindly (EXTERNAL_APIS.md §11).
//!
//! Prices and sizes are `Decimal`s throughout; a venue prints them in its own
//! wire format.

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which way an order trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// One order of a bracket, by its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Leg {
    Entry,
    Stop,
    Target,
    /// A reduce-only market order that closes the position (kill switch,
    /// close button, a stop that could not be placed).
    Close,
}

impl Leg {
    pub fn code(self) -> &'static str {
        match self {
            Leg::Entry => "en",
            Leg::Stop => "sl",
            Leg::Target => "tp",
            Leg::Close => "cl",
        }
    }
}

/// A client order id, set before the order is sent: `qp-<leg>-<digest>`,
/// 1..=36 characters of `[.A-Z:/a-z0-9_-]` (Binance's rule; Hyperliquid's
/// 128-bit cloid is derived from it by [`ClientId::cloid_u128`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClientId(String);

impl ClientId {
    /// The id of `leg` for the order identified by `origin` (e.g. the
    /// signal's exchange, symbol, strategy and candle, plus an attempt
    /// number): the same inputs always give the same id, so a retry after a
    /// restart finds the first attempt instead of placing a second.
    pub fn derive(origin: &str, leg: Leg) -> ClientId {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(origin.as_bytes());
        let hex: String = digest.iter().take(14).map(|b| format!("{b:02x}")).collect();
        ClientId(format!("qp-{}-{hex}", leg.code()))
    }

    /// An id as read back from a venue or the journal.
    pub fn parse(text: &str) -> Result<ClientId, TradeError> {
        let valid = (1..=36).contains(&text.len())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '-'));
        if valid {
            Ok(ClientId(text.to_string()))
        } else {
            Err(TradeError::Invalid(format!(
                "client order id {text:?} must be 1 to 36 characters of A-Z a-z 0-9 . : / _ -"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same id as a 128-bit number (Hyperliquid's cloid): the first 16
    /// bytes of its SHA-256.
    pub fn cloid_u128(&self) -> u128 {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.0.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        u128::from_be_bytes(bytes)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How an order executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderKind {
    Market,
    /// Resting at `price` until filled or until `expires_at_ms`.
    Limit {
        price: Decimal,
        expires_at_ms: Option<i64>,
    },
    /// A stop-loss: a market order once the mark reaches `trigger`.
    StopMarket {
        trigger: Decimal,
    },
    /// A take-profit: a market order once the mark reaches `trigger`.
    TakeProfitMarket {
        trigger: Decimal,
    },
}

/// One order to send. Stops, targets and closes are reduce-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub client_id: ClientId,
    pub leg: Leg,
    pub symbol: String,
    pub side: Side,
    pub kind: OrderKind,
    pub quantity: Decimal,
    pub reduce_only: bool,
}

/// Where an order stands at the venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum OrderState {
    /// Accepted and resting (or, for a stop/target, waiting for its trigger).
    Open,
    PartiallyFilled,
    Filled,
    Canceled,
    Expired,
    /// Refused after acceptance (e.g. a trigger the venue could not place).
    Rejected(String),
}

impl OrderState {
    /// No further change can come.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            OrderState::Filled
                | OrderState::Canceled
                | OrderState::Expired
                | OrderState::Rejected(_)
        )
    }
}

/// What a venue says about one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderReport {
    pub client_id: ClientId,
    /// The venue's own id (Binance orderId/algoId, Hyperliquid oid).
    pub venue_id: String,
    pub symbol: String,
    pub side: Side,
    pub state: OrderState,
    pub quantity: Decimal,
    pub filled: Decimal,
    /// Average fill price, once something filled.
    pub average_price: Option<Decimal>,
    /// Fees paid so far, in the account's currency.
    pub fee: Decimal,
}

/// An open position as the venue reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionReport {
    pub symbol: String,
    /// Signed: positive long, negative short.
    pub quantity: Decimal,
    pub entry_price: Decimal,
    pub mark_price: Option<Decimal>,
    pub unrealized_pnl: Decimal,
}

/// The account's equity and what is free to margin new orders.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Equity {
    pub total: Decimal,
    pub available: Decimal,
}

/// A symbol's order rules at one venue, for sizing before sending.
#[derive(Debug, Clone, PartialEq)]
pub enum SymbolRules {
    /// Binance `exchangeInfo` filters (boxed: the other variants are small).
    Binance(Box<crate::venues::binance::filters::SymbolFilters>),
    /// Hyperliquid `meta`: the asset index and its `szDecimals`.
    Hyperliquid { asset: u32, sz_decimals: u32 },
    /// The paper venue: any size and price to these steps.
    Paper { tick: Decimal, step: Decimal },
}

pub use crate::venues::binance::filters::RoundDirection;

impl SymbolRules {
    /// The largest quantity on the venue's grid not above `qty` (zero when
    /// `qty` is under the smallest one). `market`: Binance's
    /// `MARKET_LOT_SIZE` applies to market orders.
    pub fn floor_quantity(&self, qty: Decimal, market: bool) -> Decimal {
        use crate::venues::{binance::filters::OrderKind, hyperliquid::rules};
        match self {
            SymbolRules::Binance(filters) => {
                let kind = if market {
                    OrderKind::Market
                } else {
                    OrderKind::Limit
                };
                filters.floor_quantity(qty, kind)
            }
            SymbolRules::Hyperliquid { sz_decimals, .. } => {
                rules::round_size_down(qty, *sz_decimals)
            }
            SymbolRules::Paper { step, .. } => floor_to_step(qty, *step),
        }
    }

    /// `price` on the venue's grid, rounded in `direction`.
    pub fn round_price(
        &self,
        price: Decimal,
        direction: RoundDirection,
    ) -> Result<Decimal, TradeError> {
        use crate::venues::hyperliquid::rules;
        let rounded = match self {
            SymbolRules::Binance(filters) => filters.round_price(price, direction),
            SymbolRules::Hyperliquid { sz_decimals, .. } => {
                let direction = match direction {
                    RoundDirection::Down => rules::RoundDirection::Down,
                    RoundDirection::Up => rules::RoundDirection::Up,
                };
                rules::round_price(price, *sz_decimals, direction)
                    .map_err(|e| TradeError::Invalid(e.to_string()))?
            }
            SymbolRules::Paper { tick, .. } => match direction {
                RoundDirection::Down => floor_to_step(price, *tick),
                RoundDirection::Up => -floor_to_step(-price, *tick),
            },
        };
        if rounded <= Decimal::ZERO {
            return Err(TradeError::Invalid(format!(
                "price {price} rounds to {rounded}"
            )));
        }
        Ok(rounded)
    }

    /// Refuses what the venue would refuse: a size off its grid or under
    /// its minimum, a price off its grid, an order under its minimum value
    /// (reduce-only orders are exempt there, as at Binance).
    pub fn check(
        &self,
        price: Decimal,
        qty: Decimal,
        market: bool,
        reduce_only: bool,
    ) -> Result<(), TradeError> {
        use crate::venues::{binance::filters::OrderKind, hyperliquid::rules};
        let invalid = |e: &dyn std::fmt::Display| TradeError::Invalid(e.to_string());
        match self {
            SymbolRules::Binance(filters) => {
                let kind = if market {
                    OrderKind::Market
                } else {
                    OrderKind::Limit
                };
                filters.check_quantity(qty, kind).map_err(|e| invalid(&e))?;
                filters.check_price(price).map_err(|e| invalid(&e))?;
                if !reduce_only {
                    filters
                        .check_notional(price, qty)
                        .map_err(|e| invalid(&e))?;
                }
            }
            SymbolRules::Hyperliquid { sz_decimals, .. } => {
                rules::check_size(qty, *sz_decimals).map_err(|e| invalid(&e))?;
                rules::check_price(price, *sz_decimals).map_err(|e| invalid(&e))?;
                if !reduce_only {
                    rules::check_min_order_value(price, qty).map_err(|e| invalid(&e))?;
                }
            }
            SymbolRules::Paper { step, .. } => {
                if qty <= Decimal::ZERO || floor_to_step(qty, *step) != qty {
                    return Err(TradeError::Invalid(format!(
                        "quantity {qty} is not a positive multiple of {step}"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// `value` floored to a multiple of `step` (unchanged with no step).
fn floor_to_step(value: Decimal, step: Decimal) -> Decimal {
    if step <= Decimal::ZERO {
        return value;
    }
    ((value / step).floor() * step).normalize()
}

/// Why an order call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TradeError {
    /// The venue refused: nothing was placed. `code` is the venue's (e.g.
    /// Binance -2019), empty when it gave none.
    #[error("{venue} refused: {message}{}", code_suffix(code))]
    Refused {
        venue: String,
        code: String,
        message: String,
    },
    /// The request may or may not have been executed (timeout, 5xx, a
    /// dropped connection): ask [`TradingVenue::order`] before anything else.
    #[error("{venue}: outcome unknown ({reason}); the order is looked up by its client id, never resent blindly")]
    Unknown { venue: String, reason: String },
    /// The venue cannot be reached or takes no orders this way (MEXC futures:
    /// no order API). Nothing was sent.
    #[error("{0}")]
    Unavailable(String),
    /// The request is wrong before it is sent (bad id, size under the
    /// venue's minimum, a stop on the wrong side...).
    #[error("{0}")]
    Invalid(String),
}

fn code_suffix(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(" (code {code})")
    }
}

/// A venue that takes orders. Live clients speak the venue's protocol;
/// paper fills from candles. Every call is made by the executor only.
#[async_trait]
pub trait TradingVenue: Send + Sync {
    /// "PAPER", "BINANCE", "HYPERLIQUID": the name on tickets and in the journal.
    fn name(&self) -> &str;

    /// True for a venue that moves real money (or a testnet's play money).
    fn is_live(&self) -> bool;

    /// Checks, before the first order, what would make every order fail
    /// (a clock off the venue's, an account mode QuantPro does not trade).
    async fn ready(&self) -> Result<(), TradeError> {
        Ok(())
    }

    async fn equity(&self) -> Result<Equity, TradeError>;

    async fn rules(&self, symbol: &str) -> Result<SymbolRules, TradeError>;

    /// Sends the orders in the given order: an entry, then its stop and
    /// target. A venue that groups a bracket into one request (Hyperliquid's
    /// `normalTpsl`) does so; each leg has its own result, in the order
    /// given.
    async fn place(&self, orders: &[OrderRequest]) -> Vec<Result<OrderReport, TradeError>>;

    /// The order with this client id, `None` when the venue never had it.
    async fn order(&self, symbol: &str, id: &ClientId) -> Result<Option<OrderReport>, TradeError>;

    /// Cancels an open order; an order already gone is not an error.
    async fn cancel(&self, symbol: &str, id: &ClientId) -> Result<(), TradeError>;

    /// Every open order of the account (stops and targets included).
    async fn open_orders(&self) -> Result<Vec<OrderReport>, TradeError>;

    async fn positions(&self) -> Result<Vec<PositionReport>, TradeError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_is_stable_valid_and_names_its_leg() {
        let origin = "BINANCE|BTCUSDT|BreakoutV2|1717000000000|1";
        let stop = ClientId::derive(origin, Leg::Stop);
        assert_eq!(stop, ClientId::derive(origin, Leg::Stop));
        assert_ne!(stop, ClientId::derive(origin, Leg::Entry));
        assert_ne!(
            stop,
            ClientId::derive("BINANCE|BTCUSDT|BreakoutV2|1717000000000|2", Leg::Stop)
        );
        assert!(stop.as_str().starts_with("qp-sl-"));
        assert_eq!(ClientId::parse(stop.as_str()), Ok(stop.clone()));
        assert!(stop.as_str().len() <= 36);
        assert_ne!(
            stop.cloid_u128(),
            ClientId::derive(origin, Leg::Entry).cloid_u128()
        );
    }

    #[test]
    fn a_client_id_outside_the_venue_alphabet_is_refused() {
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("has space").is_err());
        assert!(ClientId::parse(&"x".repeat(37)).is_err());
        assert!(ClientId::parse("web_abc.1:2/3-4").is_ok());
    }

    #[test]
    fn paper_rules_floor_sizes_and_round_prices_both_ways() {
        let rules = SymbolRules::Paper {
            tick: Decimal::new(1, 2),
            step: Decimal::new(1, 3),
        };
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(rules.floor_quantity(d("1.23456"), true), d("1.234"));
        assert_eq!(
            rules.round_price(d("100.123"), RoundDirection::Down),
            Ok(d("100.12"))
        );
        assert_eq!(
            rules.round_price(d("100.123"), RoundDirection::Up),
            Ok(d("100.13"))
        );
        assert!(rules.check(d("100"), d("1.234"), true, false).is_ok());
        assert!(rules.check(d("100"), d("0"), true, false).is_err());
        let hl = SymbolRules::Hyperliquid {
            asset: 0,
            sz_decimals: 5,
        };
        assert_eq!(
            hl.round_price(d("64010.7"), RoundDirection::Down),
            Ok(d("64010"))
        );
        assert!(
            hl.check(d("64010"), d("0.0001"), true, false).is_err(),
            "$6.40 is under $10"
        );
        assert!(
            hl.check(d("64010"), d("0.0001"), true, true).is_ok(),
            "reduce-only is exempt"
        );
    }

    #[test]
    fn a_refusal_names_the_venue_and_its_code() {
        let err = TradeError::Refused {
            venue: "BINANCE".into(),
            code: "-2019".into(),
            message: "Margin is insufficient.".into(),
        };
        assert_eq!(
            err.to_string(),
            "BINANCE refused: Margin is insufficient. (code -2019)"
        );
    }
}
