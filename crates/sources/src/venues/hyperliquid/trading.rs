//! Hyperliquid perpetuals orders: [`HyperliquidTrading`], the
//! [`TradingVenue`] the executor drives (EXTERNAL_APIS.md §11.2).
//!
//! Orders are L1 actions (`POST /exchange`) signed by an agent (API) wallet
//! for the master account, with the primitives of [`super::signing`]; the
//! account is read back through `POST /info` (`meta`, `allMids`,
//! `clearinghouseState`, `orderStatus`, `frontendOpenOrders`, `userFills`),
//! always by the **master** address.
//!
//! - A bracket (entry, then its stop and target) is ONE `order` action with
//!   grouping `normalTpsl`: the stop and target are reduce-only market
//!   triggers the venue arms once the entry fills. Anything else (a close, a
//!   lone stop) is grouping `na`.
//! - There is no market order type: a market order is an IOC limit at the
//!   mid ± 5 % (as the SDK does); a trigger's `p` is a protective limit 10 %
//!   beyond its trigger. These prices, computed here, are rounded to the
//!   venue's rules ([`super::rules`]); prices and sizes the caller gives are
//!   sent as given (the executor sizes with [`TradingVenue::rules`]), so the
//!   venue's own refusal comes back if they are off.
//! - Every order carries a cloid derived from its [`ClientId`]
//!   ([`HyperliquidTrading::cloid_of`]). A call whose outcome is unknown
//!   (timeout, 5xx, a dropped connection after sending, an unreadable
//!   answer) is [`TradeError::Unknown`]: the caller asks
//!   [`TradingVenue::order`] for the id and never resends blindly.
//! - Nonces come from one [`NonceSource`] per client: one client per agent
//!   key per process.
//! - [`HyperliquidTrading::with_gate`] counts the calls on the governor's
//!   Hyperliquid host (the weight is per IP, shared with the candles);
//!   [`HyperliquidTrading::user_stream`] (`user_stream.rs`) follows the
//!   account's order updates and fills.
//!
//! Limit orders are GTC: Hyperliquid has no good-till-date, so an entry's
//! `expires_at_ms` is the executor's to enforce with a cancel.

use super::rules::{self, RoundDirection};
use super::signing::{
    address_of, parse_address, sign_l1_action, signing_key_from_hex, to_checksum_address, Action,
    CancelByCloidAction, CancelByCloidWire, Cloid, ExchangeRequest, Grouping, NonceSource,
    OrderAction, OrderTypeWire, OrderWire, Tif, Tpsl,
};
use crate::governor::{Cost, HostGate};
use crate::keys::Secret;
use crate::trading::{
    ClientId, Equity, Leg, OrderKind, OrderReport, OrderRequest, OrderState, PositionReport, Side,
    SymbolRules, TradeError, TradingVenue,
};
use async_trait::async_trait;
use k256::ecdsa::SigningKey;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use super::signing::Network;

/// The venue's name on tickets and in the journal.
pub const VENUE: &str = "HYPERLIQUID";

/// How far past the mid a market order's IOC limit goes (the SDK's 5 %).
pub const MARKET_SLIPPAGE: Decimal = Decimal::from_parts(5, 0, 0, false, 2);

/// How far past its trigger a stop's or target's protective limit goes.
pub const TRIGGER_SLIPPAGE: Decimal = Decimal::from_parts(10, 0, 0, false, 2);

/// Whole-request timeout unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The venue's answer to a cancel of an order it does not have open.
pub const ORDER_GONE: &str = "Order was never placed, already canceled, or filled.";

/// Where and as whom a [`HyperliquidTrading`] trades. The service builds it
/// from `[execution]` and the environment; this crate never reads either.
#[derive(Debug, Clone)]
pub struct HyperliquidTradingConfig {
    /// REST base URL without a trailing slash: [`crate::urls::HYPERLIQUID`],
    /// [`crate::urls::HYPERLIQUID_TESTNET`] or a local fake.
    pub base_url: String,
    /// Decides the signature's `source` ("a" mainnet, "b" testnet).
    pub network: Network,
    /// The agent (API) wallet's private key, 64 hex digits.
    pub agent_key: Secret,
    /// The master account's address (`0x` + 40 hex): what `/info` is asked about.
    pub account: String,
    pub timeout: Duration,
}

impl HyperliquidTradingConfig {
    /// The network's own base URL and the default timeout.
    pub fn new(
        network: Network,
        agent_key: Secret,
        account: impl Into<String>,
    ) -> HyperliquidTradingConfig {
        let base_url = match network {
            Network::Mainnet => crate::urls::HYPERLIQUID,
            Network::Testnet => crate::urls::HYPERLIQUID_TESTNET,
        };
        HyperliquidTradingConfig {
            base_url: base_url.to_string(),
            network,
            agent_key,
            account: account.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn with_base_url(mut self, base_url: impl Into<String>) -> HyperliquidTradingConfig {
        self.base_url = base_url.into().trim_end_matches('/').to_string();
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> HyperliquidTradingConfig {
        self.timeout = timeout;
        self
    }
}

/// A perp's index in `meta.universe` and its size decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetRules {
    pub asset: u32,
    pub sz_decimals: u32,
}

/// The Hyperliquid perpetuals client of the executor.
pub struct HyperliquidTrading {
    http: reqwest::Client,
    timeout: Duration,
    /// The governor's Hyperliquid host, when the service shares it.
    gate: Option<HostGate>,
    base_url: String,
    network: Network,
    key: SigningKey,
    /// The master address, `0x` + lowercase hex.
    account: String,
    nonces: NonceSource,
    /// `meta.universe` by coin name, read once and renewed when a coin is missing.
    assets: Mutex<Option<Arc<HashMap<String, AssetRules>>>>,
    /// The client ids behind the cloids this process sent (or was told of),
    /// so open orders read back carry the executor's ids.
    client_ids: ClientIds,
}

/// The client ids behind cloids, shared by a client and its user stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientIds(Arc<Mutex<HashMap<Cloid, ClientId>>>);

impl ClientIds {
    fn remember(&self, ids: impl IntoIterator<Item = ClientId>) {
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            known.insert(HyperliquidTrading::cloid_of(&id), id);
        }
    }

    /// The id of an order read back: ours when we know its cloid, else the
    /// cloid's text; `None` for an order without a cloid.
    pub(crate) fn resolve(&self, cloid: Option<&str>) -> Option<ClientId> {
        let cloid = Cloid::parse(cloid?).ok()?;
        let known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match known.get(&cloid) {
            Some(id) => Some(id.clone()),
            None => ClientId::parse(cloid.as_str()).ok(),
        }
    }
}

impl fmt::Debug for HyperliquidTrading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out: only where the client points and for whom.
        f.debug_struct("HyperliquidTrading")
            .field("base_url", &self.base_url)
            .field("network", &self.network)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl HyperliquidTrading {
    pub fn new(config: HyperliquidTradingConfig) -> Result<HyperliquidTrading, TradeError> {
        let key = signing_key_from_hex(config.agent_key.expose()).map_err(|_| {
            TradeError::Invalid(
                "the Hyperliquid agent key must be 64 hex digits of a valid secp256k1 key".into(),
            )
        })?;
        let account = parse_address(config.account.trim()).map_err(|_| {
            TradeError::Invalid(format!(
                "the Hyperliquid account {:?} must be 0x followed by 40 hex digits",
                config.account
            ))
        })?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("quantpro/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TradeError::Unavailable(format!("{VENUE}: HTTP client: {e}")))?;
        Ok(HyperliquidTrading {
            http,
            timeout: config.timeout,
            gate: None,
            base_url: config.base_url.trim_end_matches('/').to_string(),
            network: config.network,
            key,
            account: format!("0x{}", hex::encode(account)),
            nonces: NonceSource::new(),
            assets: Mutex::new(None),
            client_ids: ClientIds::default(),
        })
    }

    /// Counts this client's calls on the governor's Hyperliquid host (per
    /// IP, shared with the candle fetcher).
    pub fn with_gate(mut self, gate: HostGate) -> HyperliquidTrading {
        self.gate = Some(gate);
        self
    }

    /// The master account (`0x` + lowercase hex).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The agent wallet's address (EIP-55), the signer the venue recovers.
    pub fn agent_address(&self) -> String {
        to_checksum_address(&address_of(&self.key))
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// The cloid an order with this id carries: the id's 128-bit digest, or
    /// the id itself when it is a cloid read back from the venue (a foreign
    /// order), so such an id finds and cancels the same order.
    pub fn cloid_of(id: &ClientId) -> Cloid {
        Cloid::parse(id.as_str()).unwrap_or_else(|_| Cloid::from_u128(id.cloid_u128()))
    }

    /// Tells the client of ids sent by an earlier process (the journal's),
    /// so [`TradingVenue::open_orders`] reports them by these ids rather
    /// than by their cloid after a restart.
    pub fn remember(&self, ids: impl IntoIterator<Item = ClientId>) {
        self.client_ids.remember(ids);
    }

    fn client_id_of(&self, cloid: Option<&str>) -> Option<ClientId> {
        self.client_ids.resolve(cloid)
    }

    pub(crate) fn client_ids(&self) -> ClientIds {
        self.client_ids.clone()
    }

    /// The asset index and size decimals of a perp; `meta` is read again
    /// once when the coin is not in the cached universe (a new listing).
    pub async fn asset(&self, symbol: &str) -> Result<AssetRules, TradeError> {
        let cached = self
            .assets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(found) = cached.as_ref().and_then(|a| a.get(symbol)) {
            return Ok(*found);
        }
        let meta: Meta = self.info(json!({"type": "meta"})).await?;
        let assets: Arc<HashMap<String, AssetRules>> = Arc::new(
            meta.universe
                .into_iter()
                .enumerate()
                .map(|(i, a)| {
                    let rules = AssetRules {
                        asset: u32::try_from(i).unwrap_or(u32::MAX),
                        sz_decimals: a.sz_decimals,
                    };
                    (a.name, rules)
                })
                .collect(),
        );
        *self.assets.lock().unwrap_or_else(|e| e.into_inner()) = Some(assets.clone());
        assets.get(symbol).copied().ok_or_else(|| {
            TradeError::Invalid(format!("{symbol} is not a perpetual listed on {VENUE}"))
        })
    }

    /// The mid price of a coin (`allMids`).
    pub async fn mid(&self, symbol: &str) -> Result<Decimal, TradeError> {
        let mids: HashMap<String, Decimal> = self.info(json!({"type": "allMids"})).await?;
        mids.get(symbol).copied().ok_or_else(|| {
            TradeError::Unavailable(format!("{VENUE} has no mid price for {symbol}"))
        })
    }

    /// One POST, counted on the governor's Hyperliquid gate when the client
    /// has one (the venue's weight is per IP, shared with the candles).
    async fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
        weight: u32,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), Failure> {
        let permit = match &self.gate {
            Some(gate) => Some(
                gate.acquire(Cost::weight(weight), self.timeout)
                    .await
                    .map_err(|e| Failure::NotSent(e.to_string()))?,
            ),
            None => None,
        };
        let answer = async {
            let response = self
                .http
                .post(format!("{}{path}", self.base_url))
                .json(body)
                .send()
                .await?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, bytes.to_vec()))
        }
        .await;
        let (status, headers, bytes) = match answer {
            Ok(answer) => answer,
            Err(e) => {
                if let Some(permit) = permit {
                    permit.finish(None);
                }
                return Err(if e.is_connect() {
                    // No connection: nothing was sent.
                    Failure::NotSent(e.to_string())
                } else if e.is_timeout() {
                    Failure::Lost(format!("no answer in time: {e}"))
                } else {
                    Failure::Lost(format!("connection lost: {e}"))
                });
            }
        };
        if let Some(permit) = permit {
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                permit.rate_limited(Some(&headers), None);
            } else if status.is_success() {
                permit.served(Some(&headers));
            } else {
                permit.finish(Some(&headers));
            }
        }
        Ok((status, bytes))
    }

    /// `POST /info`. Reads change nothing, so any failure is `Unavailable`.
    async fn info<T: DeserializeOwned>(&self, body: Value) -> Result<T, TradeError> {
        let what = body["type"].as_str().unwrap_or("info").to_string();
        let fail = |detail: String| TradeError::Unavailable(format!("{VENUE} {what}: {detail}"));
        let (status, bytes) = self
            .post("/info", &body, info_weight(&what))
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !status.is_success() {
            return Err(fail(format!("HTTP {status}: {}", excerpt(&bytes))));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| fail(format!("unreadable answer ({e}): {}", excerpt(&bytes))))
    }

    /// Signs and sends an action once; `Ok` is the `response.data` of a
    /// `{"status":"ok"}` answer.
    async fn exchange(&self, action: Action) -> Result<Value, TradeError> {
        let batch = match &action {
            Action::Order(order) => order.orders.len(),
            Action::Cancel(cancel) => cancel.cancels.len(),
            Action::CancelByCloid(cancel) => cancel.cancels.len(),
        };
        let nonce = self
            .nonces
            .next(u64::try_from(quantpro_model::now_ms()).unwrap_or(0));
        let signature = sign_l1_action(&self.key, &action, nonce, None, None, self.network)
            .map_err(|e| TradeError::Invalid(format!("{VENUE}: cannot sign the action: {e}")))?;
        let request = ExchangeRequest {
            action,
            nonce,
            signature,
            vault_address: None,
            expires_after: None,
        };
        let unknown = |reason: String| TradeError::Unknown {
            venue: VENUE.into(),
            reason,
        };
        // An action weighs 1 + floor(batch / 40) (EXTERNAL_APIS.md §11.2).
        let weight = 1 + u32::try_from(batch / 40).unwrap_or(u32::MAX);
        let (status, bytes) = match self.post("/exchange", &request, weight).await {
            Ok(answer) => answer,
            Err(Failure::NotSent(reason)) => {
                return Err(TradeError::Unavailable(format!(
                    "{VENUE}: nothing sent: {reason}"
                )))
            }
            Err(Failure::Lost(reason)) => return Err(unknown(reason)),
        };
        if status.is_server_error() {
            return Err(unknown(format!("HTTP {status}: {}", excerpt(&bytes))));
        }
        if !status.is_success() {
            // 4xx (429, a body the venue could not read): not executed.
            return Err(TradeError::Refused {
                venue: VENUE.into(),
                code: status.as_u16().to_string(),
                message: excerpt(&bytes),
            });
        }
        let answer: Value = serde_json::from_slice(&bytes)
            .map_err(|_| unknown(format!("unreadable answer: {}", excerpt(&bytes))))?;
        match answer["status"].as_str() {
            Some("ok") => Ok(answer["response"]["data"].clone()),
            Some("err") => Err(TradeError::Refused {
                venue: VENUE.into(),
                code: String::new(),
                message: match &answer["response"] {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                },
            }),
            _ => Err(unknown(format!("unreadable answer: {}", excerpt(&bytes)))),
        }
    }

    /// The wire form of one order.
    async fn wire_of(
        &self,
        order: &OrderRequest,
        in_bracket: bool,
    ) -> Result<OrderWire, TradeError> {
        let AssetRules { asset, sz_decimals } = self.asset(&order.symbol).await?;
        let is_buy = order.side == Side::Buy;
        // Buying pays up to the limit, selling down to it.
        let away = |price: Decimal, slippage: Decimal| {
            let (price, direction) = if is_buy {
                (price * (Decimal::ONE + slippage), RoundDirection::Up)
            } else {
                (price * (Decimal::ONE - slippage), RoundDirection::Down)
            };
            rules::round_price(price, sz_decimals, direction)
                .map_err(|e| TradeError::Invalid(format!("{}: {e}", order.symbol)))
        };
        let (price, order_type, is_trigger) = match order.kind {
            OrderKind::Market => {
                let mid = self.mid(&order.symbol).await?;
                (
                    away(mid, MARKET_SLIPPAGE)?,
                    OrderTypeWire::limit(Tif::Ioc),
                    false,
                )
            }
            OrderKind::Limit { price, .. } => (price, OrderTypeWire::limit(Tif::Gtc), false),
            OrderKind::StopMarket { trigger } => (
                away(trigger, TRIGGER_SLIPPAGE)?,
                trigger_wire(trigger, Tpsl::Sl)?,
                true,
            ),
            OrderKind::TakeProfitMarket { trigger } => (
                away(trigger, TRIGGER_SLIPPAGE)?,
                trigger_wire(trigger, Tpsl::Tp)?,
                true,
            ),
        };
        OrderWire::new(
            asset,
            is_buy,
            price,
            order.quantity,
            order.reduce_only || (in_bracket && is_trigger),
            order_type,
            Some(Self::cloid_of(&order.client_id)),
        )
        .map_err(|e| TradeError::Invalid(format!("{}: {e}", order.client_id)))
    }

    /// One leg's result from its entry in `statuses`.
    fn leg_result(&self, order: &OrderRequest, status: &Value) -> Result<OrderReport, TradeError> {
        let report =
            |venue_id: String, state: OrderState, filled: Decimal, average: Option<Decimal>| {
                OrderReport {
                    client_id: order.client_id.clone(),
                    venue_id,
                    symbol: order.symbol.clone(),
                    side: order.side,
                    state,
                    quantity: order.quantity,
                    filled,
                    average_price: average,
                    fee: Decimal::ZERO,
                }
            };
        if let Some(text) = status.as_str() {
            // "waitingForFill" (the entry rests) / "waitingForTrigger" (the
            // entry filled): a grouped stop or target, armed or to be armed.
            // Its oid comes with `order`/`open_orders`.
            return match text {
                "waitingForFill" | "waitingForTrigger" => {
                    Ok(report(String::new(), OrderState::Open, Decimal::ZERO, None))
                }
                other => Err(TradeError::Unknown {
                    venue: VENUE.into(),
                    reason: format!("unexpected order status {other:?}"),
                }),
            };
        }
        if let Some(message) = status.get("error") {
            return Err(TradeError::Refused {
                venue: VENUE.into(),
                code: String::new(),
                message: message
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| message.to_string()),
            });
        }
        if let Some(resting) = status.get("resting") {
            let oid = oid_text(&resting["oid"]);
            return Ok(report(oid, OrderState::Open, Decimal::ZERO, None));
        }
        if let Some(filled) = status.get("filled") {
            let total = decimal_field(&filled["totalSz"]).unwrap_or(order.quantity);
            let average = decimal_field(&filled["avgPx"]);
            let state = if total >= order.quantity {
                OrderState::Filled
            } else if matches!(order.kind, OrderKind::Market) {
                // The IOC's unfilled rest is canceled at once.
                OrderState::Canceled
            } else {
                OrderState::PartiallyFilled
            };
            return Ok(report(oid_text(&filled["oid"]), state, total, average));
        }
        Err(TradeError::Unknown {
            venue: VENUE.into(),
            reason: format!("unreadable order status {status}"),
        })
    }

    /// Fills of one order (`userFills`, the latest 2000): size-weighted
    /// average price and fees, for a report that has filled something.
    async fn fills_of(&self, oid: u64) -> Result<(Option<Decimal>, Decimal), TradeError> {
        let fills: Vec<FillRow> = self
            .info(json!({"type": "userFills", "user": self.account}))
            .await?;
        let mine: Vec<&FillRow> = fills.iter().filter(|f| f.oid == oid).collect();
        let size: Decimal = mine.iter().map(|f| f.sz).sum();
        let notional: Decimal = mine.iter().map(|f| f.sz * f.px).sum();
        let fee: Decimal = mine.iter().map(|f| f.fee).sum();
        let average = (size > Decimal::ZERO).then(|| notional / size);
        Ok((average, fee))
    }

    fn open_report(&self, order: &FrontendOrder) -> Option<OrderReport> {
        let client_id = self.client_id_of(order.cloid.as_deref())?;
        let quantity = order.orig_sz.unwrap_or(order.sz);
        let filled = (quantity - order.sz).max(Decimal::ZERO);
        Some(OrderReport {
            client_id,
            venue_id: order.oid.to_string(),
            symbol: order.coin.clone(),
            side: side_of(&order.side),
            state: if filled > Decimal::ZERO {
                OrderState::PartiallyFilled
            } else {
                OrderState::Open
            },
            quantity,
            filled,
            average_price: None,
            fee: Decimal::ZERO,
        })
    }
}

/// Why a POST got no answer.
#[derive(Debug)]
enum Failure {
    /// Nothing left this process (no connection, or the governor said no).
    NotSent(String),
    /// Sent, and the answer was lost: the venue may have acted.
    Lost(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NotSent(reason) | Failure::Lost(reason) => f.write_str(reason),
        }
    }
}

/// The weight of an info request (EXTERNAL_APIS.md §3): 2 for the light
/// reads, 20 for the others (`userFills` adds 1 per 20 rows, not counted).
fn info_weight(kind: &str) -> u32 {
    match kind {
        "allMids" | "clearinghouseState" | "orderStatus" | "l2Book" => 2,
        _ => 20,
    }
}

/// A bracket: an entry followed by stop and target triggers, sent as one
/// `normalTpsl` action.
fn is_bracket(orders: &[OrderRequest]) -> bool {
    orders.len() >= 2
        && orders[0].leg == Leg::Entry
        && matches!(orders[0].kind, OrderKind::Market | OrderKind::Limit { .. })
        && orders[1..].iter().all(|o| {
            o.symbol == orders[0].symbol
                && matches!(o.leg, Leg::Stop | Leg::Target)
                && matches!(
                    o.kind,
                    OrderKind::StopMarket { .. } | OrderKind::TakeProfitMarket { .. }
                )
        })
}

fn trigger_wire(trigger: Decimal, tpsl: Tpsl) -> Result<OrderTypeWire, TradeError> {
    OrderTypeWire::trigger(true, trigger, tpsl)
        .map_err(|e| TradeError::Invalid(format!("trigger price: {e}")))
}

pub(crate) fn side_of(side: &str) -> Side {
    // "B" bid (buy), "A" ask (sell).
    if side == "B" {
        Side::Buy
    } else {
        Side::Sell
    }
}

fn oid_text(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

fn decimal_field(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// An order status of `orderStatus` and `orderUpdates`, as an [`OrderState`].
pub(crate) fn state_of(status: &str) -> OrderState {
    match status {
        "open" => OrderState::Open,
        // A market trigger that fired became a market order of the same oid.
        "filled" | "triggered" => OrderState::Filled,
        "canceled" => OrderState::Canceled,
        s if s.ends_with("Canceled") => OrderState::Canceled,
        s if s == "rejected" || s.ends_with("Rejected") => OrderState::Rejected(s.to_string()),
        // Unknown words: not final, so the caller keeps asking rather than
        // taking the order for gone.
        _ => OrderState::Open,
    }
}

#[derive(Deserialize)]
struct Meta {
    universe: Vec<MetaAsset>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaAsset {
    name: String,
    sz_decimals: u32,
}

/// An order of `frontendOpenOrders` and of `orderStatus`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FrontendOrder {
    coin: String,
    side: String,
    sz: Decimal,
    oid: u64,
    #[serde(default)]
    orig_sz: Option<Decimal>,
    #[serde(default)]
    cloid: Option<String>,
    /// A resting entry's grouped stop and target, waiting for its fill.
    #[serde(default)]
    children: Vec<FrontendOrder>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderStatusEntry {
    order: FrontendOrder,
    status: String,
}

#[derive(Deserialize)]
struct FillRow {
    oid: u64,
    px: Decimal,
    sz: Decimal,
    #[serde(default)]
    fee: Decimal,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClearinghouseState {
    margin_summary: MarginSummary,
    withdrawable: Decimal,
    #[serde(default)]
    asset_positions: Vec<AssetPosition>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarginSummary {
    account_value: Decimal,
}

#[derive(Deserialize)]
struct AssetPosition {
    position: Position,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Position {
    coin: String,
    szi: Decimal,
    #[serde(default)]
    entry_px: Option<Decimal>,
    #[serde(default)]
    position_value: Option<Decimal>,
    #[serde(default)]
    unrealized_pnl: Option<Decimal>,
}

#[async_trait]
impl TradingVenue for HyperliquidTrading {
    fn name(&self) -> &str {
        VENUE
    }

    fn is_live(&self) -> bool {
        true
    }

    async fn equity(&self) -> Result<Equity, TradeError> {
        let state: ClearinghouseState = self
            .info(json!({"type": "clearinghouseState", "user": self.account}))
            .await?;
        Ok(Equity {
            total: state.margin_summary.account_value,
            available: state.withdrawable,
        })
    }

    async fn rules(&self, symbol: &str) -> Result<SymbolRules, TradeError> {
        let AssetRules { asset, sz_decimals } = self.asset(symbol).await?;
        Ok(SymbolRules::Hyperliquid { asset, sz_decimals })
    }

    async fn place(&self, orders: &[OrderRequest]) -> Vec<Result<OrderReport, TradeError>> {
        let bracket = is_bracket(orders);
        let mut wires = Vec::with_capacity(orders.len());
        for order in orders {
            match self.wire_of(order, bracket).await {
                Ok(wire) => wires.push(wire),
                // Nothing is sent when any leg cannot be: a bracket is whole.
                Err(e) => return orders.iter().map(|_| Err(e.clone())).collect(),
            }
        }
        if wires.is_empty() {
            return Vec::new();
        }
        self.remember(orders.iter().map(|o| o.client_id.clone()));
        let action = Action::Order(OrderAction {
            orders: wires,
            grouping: if bracket {
                Grouping::NormalTpsl
            } else {
                Grouping::Na
            },
        });
        let data = match self.exchange(action).await {
            Ok(data) => data,
            Err(e) => return orders.iter().map(|_| Err(e.clone())).collect(),
        };
        let statuses = data["statuses"].as_array().cloned().unwrap_or_default();
        orders
            .iter()
            .enumerate()
            .map(|(i, order)| match statuses.get(i) {
                Some(status) => self.leg_result(order, status),
                None => Err(TradeError::Unknown {
                    venue: VENUE.into(),
                    reason: format!("the answer has no status for {}", order.client_id),
                }),
            })
            .collect()
    }

    async fn order(&self, _symbol: &str, id: &ClientId) -> Result<Option<OrderReport>, TradeError> {
        let cloid = Self::cloid_of(id);
        let answer: Value = self
            .info(json!({"type": "orderStatus", "user": self.account, "oid": cloid.as_str()}))
            .await?;
        match answer["status"].as_str() {
            Some("unknownOid") => return Ok(None),
            Some("order") => {}
            _ => {
                return Err(TradeError::Unavailable(format!(
                    "{VENUE} orderStatus: unreadable answer {}",
                    excerpt(answer.to_string().as_bytes())
                )))
            }
        }
        let entry: OrderStatusEntry = serde_json::from_value(answer["order"].clone())
            .map_err(|e| TradeError::Unavailable(format!("{VENUE} orderStatus: {e}")))?;
        let order = entry.order;
        let quantity = order.orig_sz.unwrap_or(order.sz);
        let mut state = state_of(&entry.status);
        let filled = match state {
            OrderState::Filled => quantity,
            _ => (quantity - order.sz).max(Decimal::ZERO),
        };
        if state == OrderState::Open && filled > Decimal::ZERO {
            state = OrderState::PartiallyFilled;
        }
        let (average_price, fee) = if filled > Decimal::ZERO {
            self.fills_of(order.oid).await?
        } else {
            (None, Decimal::ZERO)
        };
        Ok(Some(OrderReport {
            client_id: id.clone(),
            venue_id: order.oid.to_string(),
            symbol: order.coin,
            side: side_of(&order.side),
            state,
            quantity,
            filled,
            average_price,
            fee,
        }))
    }

    async fn cancel(&self, symbol: &str, id: &ClientId) -> Result<(), TradeError> {
        let AssetRules { asset, .. } = self.asset(symbol).await?;
        let action = Action::CancelByCloid(CancelByCloidAction {
            cancels: vec![CancelByCloidWire {
                asset,
                cloid: Self::cloid_of(id),
            }],
        });
        let data = self.exchange(action).await?;
        let status = &data["statuses"][0];
        if status.as_str() == Some("success") {
            return Ok(());
        }
        match status.get("error").and_then(Value::as_str) {
            // Already filled, canceled or never placed: nothing left to cancel.
            Some(message) if message == ORDER_GONE || message.contains("never placed") => Ok(()),
            Some(message) => Err(TradeError::Refused {
                venue: VENUE.into(),
                code: String::new(),
                message: message.to_string(),
            }),
            None => Err(TradeError::Unknown {
                venue: VENUE.into(),
                reason: format!("unreadable cancel status {status}"),
            }),
        }
    }

    async fn open_orders(&self) -> Result<Vec<OrderReport>, TradeError> {
        let orders: Vec<FrontendOrder> = self
            .info(json!({"type": "frontendOpenOrders", "user": self.account}))
            .await?;
        Ok(orders
            .iter()
            .flat_map(|order| std::iter::once(order).chain(order.children.iter()))
            .filter_map(|order| self.open_report(order))
            .collect())
    }

    async fn positions(&self) -> Result<Vec<PositionReport>, TradeError> {
        let state: ClearinghouseState = self
            .info(json!({"type": "clearinghouseState", "user": self.account}))
            .await?;
        Ok(state
            .asset_positions
            .into_iter()
            .map(|p| p.position)
            .filter(|p| !p.szi.is_zero())
            .map(|p| PositionReport {
                mark_price: p.position_value.map(|value| value / p.szi.abs()),
                entry_price: p.entry_px.unwrap_or_default(),
                unrealized_pnl: p.unrealized_pnl.unwrap_or_default(),
                symbol: p.coin,
                quantity: p.szi,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const KEY: &str = "0x0123456789012345678901234567890123456789012345678901234567890123";
    const ADDRESS: &str = "0x14791697260E4c9A71f18484C9f997B308e59325";

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn client() -> HyperliquidTrading {
        HyperliquidTrading::new(
            HyperliquidTradingConfig::new(Network::Testnet, Secret::new(KEY), ADDRESS)
                .with_base_url("http://127.0.0.1:9/"),
        )
        .unwrap()
    }

    fn request(leg: Leg, kind: OrderKind) -> OrderRequest {
        OrderRequest {
            client_id: ClientId::derive("HL|BTC|test|1", leg),
            leg,
            symbol: "BTC".into(),
            side: Side::Buy,
            kind,
            quantity: d("0.001"),
            reduce_only: false,
        }
    }

    #[test]
    fn config_picks_the_network_url_and_the_key_stays_hidden() {
        let config = HyperliquidTradingConfig::new(Network::Testnet, Secret::new(KEY), ADDRESS);
        assert_eq!(config.base_url, crate::urls::HYPERLIQUID_TESTNET);
        assert!(!format!("{config:?}").contains("0123456789"));
        let client = client();
        assert_eq!(client.agent_address(), ADDRESS);
        assert_eq!(client.account(), ADDRESS.to_ascii_lowercase());
        assert_eq!(client.base_url, "http://127.0.0.1:9");
        assert!(!format!("{client:?}").contains("0123456789"));
        assert!(HyperliquidTrading::new(HyperliquidTradingConfig::new(
            Network::Mainnet,
            Secret::new("0x12"),
            ADDRESS
        ))
        .is_err());
        assert!(HyperliquidTrading::new(HyperliquidTradingConfig::new(
            Network::Mainnet,
            Secret::new(KEY),
            "0x1234"
        ))
        .is_err());
    }

    #[test]
    fn a_bracket_is_an_entry_then_triggers() {
        let entry = request(Leg::Entry, OrderKind::Market);
        let stop = request(
            Leg::Stop,
            OrderKind::StopMarket {
                trigger: d("60000"),
            },
        );
        let target = request(
            Leg::Target,
            OrderKind::TakeProfitMarket {
                trigger: d("70000"),
            },
        );
        assert!(is_bracket(&[entry.clone(), stop.clone(), target.clone()]));
        assert!(is_bracket(&[entry.clone(), stop.clone()]));
        assert!(!is_bracket(std::slice::from_ref(&entry)));
        assert!(!is_bracket(&[stop.clone(), target.clone()]));
        let mut elsewhere = target.clone();
        elsewhere.symbol = "ETH".into();
        assert!(!is_bracket(&[entry.clone(), elsewhere]));
        let close = request(Leg::Close, OrderKind::Market);
        assert!(!is_bracket(&[close, stop]));
    }

    #[test]
    fn cloids_round_trip_for_own_and_foreign_ids() {
        let client = client();
        let own = ClientId::derive("HL|BTC|test|1", Leg::Entry);
        let cloid = HyperliquidTrading::cloid_of(&own);
        assert_eq!(cloid, Cloid::from_u128(own.cloid_u128()));
        // Unknown to this process: the cloid's text is the id...
        let foreign = client.client_id_of(Some(cloid.as_str())).unwrap();
        assert_eq!(foreign.as_str(), cloid.as_str());
        // ...and that id maps back to the same cloid.
        assert_eq!(HyperliquidTrading::cloid_of(&foreign), cloid);
        client.remember([own.clone()]);
        assert_eq!(client.client_id_of(Some(cloid.as_str())), Some(own));
        assert_eq!(client.client_id_of(None), None);
        assert_eq!(client.client_id_of(Some("not-a-cloid")), None);
    }

    #[test]
    fn statuses_become_leg_results() {
        let client = client();
        let limit = request(
            Leg::Entry,
            OrderKind::Limit {
                price: d("64000"),
                expires_at_ms: None,
            },
        );
        let resting = client
            .leg_result(
                &limit,
                &json!({"resting": {"oid": 77738308, "cloid": "0x1"}}),
            )
            .unwrap();
        assert_eq!(resting.venue_id, "77738308");
        assert_eq!(resting.state, OrderState::Open);
        let filled = client
            .leg_result(
                &limit,
                &json!({"filled": {"totalSz": "0.001", "avgPx": "63990.5", "oid": 5}}),
            )
            .unwrap();
        assert_eq!(filled.state, OrderState::Filled);
        assert_eq!(filled.average_price, Some(d("63990.5")));
        let partial = client
            .leg_result(
                &limit,
                &json!({"filled": {"totalSz": "0.0004", "avgPx": "64000", "oid": 5}}),
            )
            .unwrap();
        assert_eq!(partial.state, OrderState::PartiallyFilled);
        let market = request(Leg::Entry, OrderKind::Market);
        let ioc = client
            .leg_result(
                &market,
                &json!({"filled": {"totalSz": "0.0004", "avgPx": "64000", "oid": 5}}),
            )
            .unwrap();
        assert_eq!(ioc.state, OrderState::Canceled);
        assert_eq!(ioc.filled, d("0.0004"));
        for waiting in ["waitingForFill", "waitingForTrigger"] {
            let report = client.leg_result(&limit, &json!(waiting)).unwrap();
            assert_eq!(report.state, OrderState::Open);
        }
        let refused = client
            .leg_result(
                &limit,
                &json!({"error": "Order must have minimum value of $10."}),
            )
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "HYPERLIQUID refused: Order must have minimum value of $10."
        );
        assert!(matches!(
            client.leg_result(&limit, &json!({"what": 1})),
            Err(TradeError::Unknown { .. })
        ));
    }

    #[test]
    fn order_statuses_map_to_states() {
        assert_eq!(state_of("open"), OrderState::Open);
        assert_eq!(state_of("filled"), OrderState::Filled);
        assert_eq!(state_of("triggered"), OrderState::Filled);
        assert_eq!(state_of("canceled"), OrderState::Canceled);
        assert_eq!(state_of("siblingFilledCanceled"), OrderState::Canceled);
        assert_eq!(state_of("reduceOnlyCanceled"), OrderState::Canceled);
        assert_eq!(
            state_of("tickRejected"),
            OrderState::Rejected("tickRejected".into())
        );
        assert_eq!(state_of("somethingNew"), OrderState::Open);
    }

    #[tokio::test]
    async fn an_unreachable_venue_is_unavailable_and_nothing_is_unknown() {
        // Port 9 (discard) is closed on loopback: the connection is refused
        // before anything is sent.
        let client = client();
        let outcome = client.equity().await;
        assert!(
            matches!(outcome, Err(TradeError::Unavailable(_))),
            "{outcome:?}"
        );
    }
}
