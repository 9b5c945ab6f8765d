//! Binance USDⓈ-M futures orders: [`BinanceTrading`], the
//! [`TradingVenue`] of `fapi` (EXTERNAL_APIS.md §11.1).
//!
//! Every private call is SIGNED with [`signing::SignedQueryBuilder`]
//! (`X-MBX-APIKEY`, `recvWindow`, a `timestamp` corrected by the
//! [`ServerTimeOffset`]). A -1021 (timestamp refused) resyncs the offset
//! from `/fapi/v1/time` and resends once: the venue refused the first
//! request, so nothing can be placed twice.
//!
//! Entries and closes go to `/fapi/v1/order`, stops and targets to the Algo
//! Order API (`/fapi/v1/algoOrder`, `CONDITIONAL`, reduce-only with a
//! quantity, triggered on the mark price) as Binance requires since
//! 2025-12-09. An order call is sent once and never retried: a timeout, a
//! dropped connection, a 503 "Unknown error…", a -1007 answer
//! [`TradeError::Unknown`] and the caller looks the client id up with
//! [`TradingVenue::order`]. A 503 "Service Unavailable", a -1008 or a
//! connection that could not be opened placed nothing
//! ([`TradeError::Unavailable`] / [`TradeError::Refused`]).
//!
//! Nothing reaches a venue unless the caller builds a client with keys; the
//! keys are [`Secret`]s, passed in (this crate never reads the environment).

use super::filters::SymbolFilters;
use super::signing::{self, ServerTimeOffset, SignedQueryBuilder};
use crate::governor::{Cost, HostGate};
use crate::http::{banned_until, body_excerpt, retry_after};
use crate::keys::Secret;
use crate::trading::{
    ClientId, Equity, Leg, OrderKind, OrderReport, OrderRequest, OrderState, PositionReport, Side,
    SymbolRules, TradeError, TradingVenue,
};
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The name on tickets and in the journal, and the `venue` of its errors.
pub const VENUE: &str = "BINANCE";

/// How a client reaches the venue. `base_url` is the REST root
/// ([`crate::urls::BINANCE_FUTURES`], [`crate::urls::BINANCE_FUTURES_DEMO`],
/// or a local fake).
#[derive(Debug, Clone)]
pub struct BinanceTradingConfig {
    pub base_url: String,
    pub api_key: Secret,
    pub secret: Secret,
    /// The whole request, connection included. An order whose answer takes
    /// longer is [`TradeError::Unknown`].
    pub timeout: Duration,
    /// Opening the connection; past it nothing was sent.
    pub connect_timeout: Duration,
    /// At most [`signing::MAX_RECV_WINDOW_MS`].
    pub recv_window_ms: u64,
    /// How long `exchangeInfo` filters are trusted before being read again.
    pub rules_ttl: Duration,
}

impl BinanceTradingConfig {
    /// The defaults: 10 s per request, 3 s to connect, `recvWindow` 5000,
    /// filters re-read daily.
    pub fn new(base_url: impl Into<String>, api_key: Secret, secret: Secret) -> Self {
        BinanceTradingConfig {
            base_url: base_url.into(),
            api_key,
            secret,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            recv_window_ms: signing::MAX_RECV_WINDOW_MS,
            rules_ttl: Duration::from_secs(24 * 3600),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Binance USDⓈ-M futures as a [`TradingVenue`] (one-way position mode).
#[derive(Debug)]
pub struct BinanceTrading {
    config: BinanceTradingConfig,
    base: String,
    http: reqwest::Client,
    offset: ServerTimeOffset,
    /// The governor's Binance futures host, when the caller shares it with
    /// the candle fetcher (one IP weight budget).
    gate: Option<HostGate>,
    /// `exchangeInfo`, read once for every symbol.
    rules: Mutex<Option<ListedSymbols>>,
}

/// Every symbol of one `exchangeInfo` answer: its `status` and its filters
/// (or why they could not be read).
#[derive(Debug)]
struct ListedSymbols {
    read_at: Instant,
    symbols: HashMap<String, (String, Result<SymbolFilters, String>)>,
}

impl ListedSymbols {
    fn parse(body: &[u8]) -> Result<ListedSymbols, TradeError> {
        #[derive(Deserialize)]
        struct Info {
            symbols: Vec<serde_json::Value>,
        }
        let info: Info = decode("/fapi/v1/exchangeInfo", body, Effect::Read)?;
        let symbols = info
            .symbols
            .iter()
            .filter_map(|entry| {
                let name = entry.get("symbol")?.as_str()?.to_string();
                let status = entry
                    .get("status")
                    .and_then(|s| s.as_str())
                    .unwrap_or("TRADING")
                    .to_string();
                let filters =
                    SymbolFilters::from_symbol_json(&entry.to_string()).map_err(|e| e.to_string());
                Some((name, (status, filters)))
            })
            .collect();
        Ok(ListedSymbols {
            read_at: Instant::now(),
            symbols,
        })
    }

    /// The rules of `symbol`, or why it takes no orders.
    fn rules(&self, symbol: &str) -> Option<Result<SymbolRules, TradeError>> {
        let (status, filters) = self.symbols.get(symbol)?;
        Some(match filters {
            _ if status != "TRADING" => Err(TradeError::Invalid(format!(
                "{VENUE}: {symbol} is not trading (status {status})"
            ))),
            Ok(filters) => Ok(SymbolRules::Binance(Box::new(filters.clone()))),
            Err(e) => Err(garbage("/fapi/v1/exchangeInfo", e)),
        })
    }
}

/// A symbol missing from `exchangeInfo` older than this is read again (a
/// new listing).
const RELIST_AFTER: Duration = Duration::from_secs(60);

/// Whether a request can change the account: its failures in flight are
/// [`TradeError::Unknown`], a read's are [`TradeError::Unavailable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Read,
    Write,
}

/// A `{code,msg}` error body.
#[derive(Debug, Deserialize)]
struct CodeMsg {
    code: i64,
    #[serde(default)]
    msg: String,
}

impl BinanceTrading {
    pub fn new(config: BinanceTradingConfig) -> Result<BinanceTrading, TradeError> {
        if config.recv_window_ms > signing::MAX_RECV_WINDOW_MS {
            return Err(TradeError::Invalid(format!(
                "recvWindow {} ms exceeds {} ms",
                config.recv_window_ms,
                signing::MAX_RECV_WINDOW_MS
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("quantpro/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TradeError::Unavailable(format!("{VENUE}: HTTP client: {e}")))?;
        Ok(BinanceTrading {
            base: config.base_url.trim_end_matches('/').to_string(),
            config,
            http,
            offset: ServerTimeOffset::default(),
            gate: None,
            rules: Mutex::new(None),
        })
    }

    /// Counts this client's calls on the governor's Binance futures host.
    pub fn with_gate(mut self, gate: HostGate) -> BinanceTrading {
        self.gate = Some(gate);
        self
    }

    /// The offset of our clock to the venue's, in ms (`server - local`).
    pub fn clock_offset_ms(&self) -> i64 {
        self.offset.offset_ms()
    }

    /// Reads `/fapi/v1/time` and sets the offset the timestamps are
    /// corrected by. Done after every -1021; call it at start too.
    pub async fn sync_time(&self) -> Result<i64, TradeError> {
        let sent = quantpro_model::now_ms();
        let body = self
            .send(
                Method::GET,
                "/fapi/v1/time",
                String::new(),
                None,
                1,
                Effect::Read,
            )
            .await?;
        let received = quantpro_model::now_ms();
        let text = String::from_utf8_lossy(&body);
        self.offset
            .update_from_time_answer(&text, sent, received)
            .map_err(|e| TradeError::Unavailable(format!("{VENUE}: {e}")))
    }

    /// Opens (or, when one is active, extends and returns) the user data
    /// stream's listen key: `POST /fapi/v1/listenKey`, the API key only.
    pub async fn new_listen_key(&self) -> Result<String, TradeError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            listen_key: String,
        }
        let body = self
            .send(
                Method::POST,
                LISTEN_KEY,
                String::new(),
                Some(&self.config.api_key),
                1,
                Effect::Read,
            )
            .await?;
        let answer: Answer = decode(LISTEN_KEY, &body, Effect::Read)?;
        Ok(answer.listen_key)
    }

    /// Extends the active listen key by 60 minutes (`PUT`); a key that is
    /// gone answers -1125 and a new one must be made.
    pub async fn keep_listen_key_alive(&self) -> Result<(), TradeError> {
        self.send(
            Method::PUT,
            LISTEN_KEY,
            String::new(),
            Some(&self.config.api_key),
            1,
            Effect::Read,
        )
        .await
        .map(|_| ())
    }

    /// Closes the user data stream (`DELETE`).
    pub async fn close_listen_key(&self) -> Result<(), TradeError> {
        self.send(
            Method::DELETE,
            LISTEN_KEY,
            String::new(),
            Some(&self.config.api_key),
            1,
            Effect::Read,
        )
        .await
        .map(|_| ())
    }

    /// Sets the leverage of `symbol` (`POST /fapi/v1/leverage`); returns the
    /// leverage the venue applied. Run before an entry when the risk limits
    /// name a leverage.
    pub async fn set_leverage(&self, symbol: &str, leverage: u32) -> Result<u32, TradeError> {
        #[derive(Deserialize)]
        struct Answer {
            leverage: u32,
        }
        let body = self
            .signed(
                Method::POST,
                "/fapi/v1/leverage",
                &[
                    ("symbol", symbol.to_string()),
                    ("leverage", leverage.to_string()),
                ],
                1,
                Effect::Write,
            )
            .await?;
        let answer: Answer = decode("/fapi/v1/leverage", &body, Effect::Read)?;
        Ok(answer.leverage)
    }

    /// Whether the account is in hedge (dual-side) position mode. This
    /// client sends one-way orders (`positionSide` `BOTH`, `reduceOnly`),
    /// which a hedge-mode account refuses with -4061: check at start.
    pub async fn is_hedge_mode(&self) -> Result<bool, TradeError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            dual_side_position: bool,
        }
        let answer: Answer = self.get_json("/fapi/v1/positionSide/dual", &[], 30).await?;
        Ok(answer.dual_side_position)
    }

    /// A SIGNED call: sent once, and once more only after a -1021 (the
    /// venue refused the first, so the second cannot double anything).
    async fn signed(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        weight: u32,
        effect: Effect,
    ) -> Result<Vec<u8>, TradeError> {
        let mut resynced = false;
        loop {
            let builder = params
                .iter()
                .fold(SignedQueryBuilder::new(), |b, (name, value)| {
                    b.param(*name, value.clone())
                });
            let timestamp = self.offset.timestamp(quantpro_model::now_ms());
            let signed = builder
                .build(
                    self.config.secret.expose(),
                    timestamp,
                    self.config.recv_window_ms,
                )
                .map_err(|e| TradeError::Invalid(format!("{VENUE}: {e}")))?;
            let outcome = self
                .send(
                    method.clone(),
                    path,
                    signed.to_query_string(),
                    Some(&self.config.api_key),
                    weight,
                    effect,
                )
                .await;
            match outcome {
                Err(TradeError::Refused { code, .. }) if code == "-1021" && !resynced => {
                    tracing::warn!(
                        "{VENUE}: timestamp refused (-1021) on {path}; resyncing the clock offset"
                    );
                    self.sync_time().await?;
                    resynced = true;
                }
                other => return other,
            }
        }
    }

    /// One HTTP request, judged: the body of a 2xx answer, or the error.
    /// `params` go in the query string, or in a form body for POST and PUT.
    async fn send(
        &self,
        method: Method,
        path: &str,
        params: String,
        key: Option<&Secret>,
        weight: u32,
        effect: Effect,
    ) -> Result<Vec<u8>, TradeError> {
        let what = format!("{method} {path}");
        let permit = match &self.gate {
            Some(gate) => Some(
                gate.acquire(Cost::weight(weight), self.config.timeout)
                    .await
                    .map_err(|e| TradeError::Unavailable(format!("{VENUE}: {what}: {e}")))?,
            ),
            None => None,
        };
        let in_body = method == Method::POST || method == Method::PUT;
        let mut request = if in_body || params.is_empty() {
            self.http
                .request(method.clone(), format!("{}{path}", self.base))
        } else {
            self.http
                .request(method.clone(), format!("{}{path}?{params}", self.base))
        };
        if in_body {
            request = request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(params);
        }
        if let Some(key) = key {
            request = request.header("X-MBX-APIKEY", key.expose());
        }
        let answer = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body.to_vec()))
        }
        .await;
        let (status, headers, body) = match answer {
            Ok(answer) => answer,
            Err(e) => {
                if let Some(permit) = permit {
                    permit.finish(None);
                }
                return Err(transport_error(&what, &e, effect));
            }
        };
        if let Some(permit) = permit {
            settle(permit, status, &headers, &body);
        }
        if status.is_success() {
            return Ok(body);
        }
        Err(status_error(&what, status, &body, effect))
    }

    /// A SIGNED read decoded as `T`.
    async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
        weight: u32,
    ) -> Result<T, TradeError> {
        let body = self
            .signed(Method::GET, path, params, weight, Effect::Read)
            .await?;
        decode(path, &body, Effect::Read)
    }

    async fn place_one(&self, order: &OrderRequest) -> Result<OrderReport, TradeError> {
        if order.quantity <= Decimal::ZERO {
            return Err(TradeError::Invalid(format!(
                "{VENUE}: quantity {} of {} must be positive",
                order.quantity, order.client_id
            )));
        }
        let mut params: Vec<(&str, String)> = vec![
            ("symbol", order.symbol.clone()),
            ("side", side_text(order.side).to_string()),
        ];
        match order.kind {
            OrderKind::Market | OrderKind::Limit { .. } => {
                match order.kind {
                    OrderKind::Limit {
                        price,
                        expires_at_ms,
                    } => {
                        params.push(("type", "LIMIT".into()));
                        params.push(("quantity", wire(order.quantity)));
                        params.push(("price", wire(price)));
                        match expires_at_ms {
                            Some(at) => {
                                params.push(("timeInForce", "GTD".into()));
                                params.push(("goodTillDate", at.to_string()));
                            }
                            None => params.push(("timeInForce", "GTC".into())),
                        }
                    }
                    _ => {
                        params.push(("type", "MARKET".into()));
                        params.push(("quantity", wire(order.quantity)));
                    }
                }
                if order.reduce_only {
                    params.push(("reduceOnly", "true".into()));
                }
                params.push(("newClientOrderId", order.client_id.to_string()));
                params.push(("newOrderRespType", "RESULT".into()));
                let body = self
                    .signed(Method::POST, ORDER, &params, 1, Effect::Write)
                    .await?;
                let wire: WireOrder = decode(ORDER, &body, Effect::Write)?;
                wire.report()
            }
            OrderKind::StopMarket { trigger } | OrderKind::TakeProfitMarket { trigger } => {
                let kind = match order.kind {
                    OrderKind::StopMarket { .. } => "STOP_MARKET",
                    _ => "TAKE_PROFIT_MARKET",
                };
                params.insert(0, ("algoType", "CONDITIONAL".into()));
                params.push(("type", kind.into()));
                params.push(("quantity", wire(order.quantity)));
                params.push(("triggerPrice", wire(trigger)));
                params.push(("workingType", "MARK_PRICE".into()));
                if order.reduce_only {
                    params.push(("reduceOnly", "true".into()));
                }
                params.push(("clientAlgoId", order.client_id.to_string()));
                let body = self
                    .signed(Method::POST, ALGO_ORDER, &params, 1, Effect::Write)
                    .await?;
                let wire: WireAlgo = decode(ALGO_ORDER, &body, Effect::Write)?;
                wire.report(None)
            }
        }
    }

    /// The engine order an algo order became once triggered.
    async fn child_order(&self, symbol: &str, order_id: &str) -> Result<WireOrder, TradeError> {
        self.get_json(
            ORDER,
            &[
                ("symbol", symbol.to_string()),
                ("orderId", order_id.to_string()),
            ],
            1,
        )
        .await
    }
}

const ORDER: &str = "/fapi/v1/order";
const ALGO_ORDER: &str = "/fapi/v1/algoOrder";
const LISTEN_KEY: &str = "/fapi/v1/listenKey";

/// The legs that live in the Algo Order service, by the leg code of the id.
fn is_algo_id(id: &ClientId) -> bool {
    let text = id.as_str();
    text.starts_with("qp-sl-") || text.starts_with("qp-tp-")
}

/// "No such order" in its two forms: -2013 on queries, -2011 on cancels.
fn is_unknown_order(error: &TradeError) -> bool {
    matches!(error, TradeError::Refused { code, .. } if code == "-2013" || code == "-2011")
}

#[async_trait]
impl TradingVenue for BinanceTrading {
    fn name(&self) -> &str {
        VENUE
    }

    fn is_live(&self) -> bool {
        true
    }

    /// The server-time offset, and one-way position mode: the orders are
    /// one-way (`positionSide` BOTH), which a hedge-mode account refuses
    /// with -4061.
    async fn ready(&self) -> Result<(), TradeError> {
        self.sync_time().await?;
        if self.is_hedge_mode().await? {
            return Err(TradeError::Unavailable(
                "BINANCE: the account is in hedge mode (dual-side positions); QuantPro places \
                 one-way orders: switch the futures account to one-way mode"
                    .to_string(),
            ));
        }
        Ok(())
    }

    async fn equity(&self) -> Result<Equity, TradeError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Account {
            total_margin_balance: Decimal,
            available_balance: Decimal,
        }
        let account: Account = self.get_json("/fapi/v3/account", &[], 5).await?;
        Ok(Equity {
            total: account.total_margin_balance,
            available: account.available_balance,
        })
    }

    async fn rules(&self, symbol: &str) -> Result<SymbolRules, TradeError> {
        if let Some(listed) = self.rules.lock().expect("rules cache").as_ref() {
            let age = listed.read_at.elapsed();
            if age < self.config.rules_ttl {
                match listed.rules(symbol) {
                    Some(rules) => return rules,
                    None if age < RELIST_AFTER => return Err(not_listed(symbol)),
                    None => {}
                }
            }
        }
        let body = self
            .send(
                Method::GET,
                "/fapi/v1/exchangeInfo",
                String::new(),
                None,
                1,
                Effect::Read,
            )
            .await?;
        let listed = ListedSymbols::parse(&body)?;
        let rules = listed.rules(symbol);
        *self.rules.lock().expect("rules cache") = Some(listed);
        rules.unwrap_or_else(|| Err(not_listed(symbol)))
    }

    /// Each leg is sent once, in order. When an entry was refused outright
    /// (nothing placed), the stops and targets that follow it on its symbol
    /// are not sent: they would protect nothing.
    async fn place(&self, orders: &[OrderRequest]) -> Vec<Result<OrderReport, TradeError>> {
        let mut results = Vec::with_capacity(orders.len());
        let mut refused_entry: Option<(String, ClientId)> = None;
        for order in orders {
            if let Some((symbol, entry)) = &refused_entry {
                if order.symbol == *symbol && matches!(order.leg, Leg::Stop | Leg::Target) {
                    results.push(Err(TradeError::Refused {
                        venue: VENUE.into(),
                        code: String::new(),
                        message: format!(
                            "{} not sent: its entry {entry} was refused",
                            order.client_id
                        ),
                    }));
                    continue;
                }
            }
            let result = self.place_one(order).await;
            if order.leg == Leg::Entry {
                refused_entry = match &result {
                    Err(TradeError::Refused { .. })
                    | Err(TradeError::Invalid(_))
                    | Err(TradeError::Unavailable(_)) => {
                        Some((order.symbol.clone(), order.client_id.clone()))
                    }
                    _ => None,
                };
            }
            results.push(result);
        }
        results
    }

    async fn order(&self, symbol: &str, id: &ClientId) -> Result<Option<OrderReport>, TradeError> {
        let found = if is_algo_id(id) {
            let algo: Result<WireAlgo, _> = self
                .get_json(ALGO_ORDER, &[("clientAlgoId", id.to_string())], 1)
                .await;
            match algo {
                Ok(algo) => {
                    let child = match algo.child_id() {
                        Some(child) => Some(self.child_order(&algo.symbol, &child).await?),
                        None => None,
                    };
                    algo.report(child.as_ref()).map(Some)
                }
                Err(e) => Err(e),
            }
        } else {
            let order: Result<WireOrder, _> = self
                .get_json(
                    ORDER,
                    &[
                        ("symbol", symbol.to_string()),
                        ("origClientOrderId", id.to_string()),
                    ],
                    1,
                )
                .await;
            order.and_then(|o| o.report()).map(Some)
        };
        match found {
            Err(e) if is_unknown_order(&e) => Ok(None),
            other => other,
        }
    }

    async fn cancel(&self, symbol: &str, id: &ClientId) -> Result<(), TradeError> {
        let outcome = if is_algo_id(id) {
            self.signed(
                Method::DELETE,
                ALGO_ORDER,
                &[("clientAlgoId", id.to_string())],
                1,
                Effect::Write,
            )
            .await
        } else {
            self.signed(
                Method::DELETE,
                ORDER,
                &[
                    ("symbol", symbol.to_string()),
                    ("origClientOrderId", id.to_string()),
                ],
                1,
                Effect::Write,
            )
            .await
        };
        match outcome {
            Ok(_) => Ok(()),
            Err(e) if is_unknown_order(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn open_orders(&self) -> Result<Vec<OrderReport>, TradeError> {
        let orders: Vec<WireOrder> = self.get_json("/fapi/v1/openOrders", &[], 40).await?;
        let algos: Vec<WireAlgo> = self.get_json("/fapi/v1/openAlgoOrders", &[], 40).await?;
        let mut reports = Vec::with_capacity(orders.len() + algos.len());
        for order in &orders {
            reports.push(order.report()?);
        }
        for algo in &algos {
            reports.push(algo.report(None)?);
        }
        Ok(reports)
    }

    async fn positions(&self) -> Result<Vec<PositionReport>, TradeError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Risk {
            symbol: String,
            position_amt: Decimal,
            entry_price: Decimal,
            #[serde(default)]
            mark_price: Option<Decimal>,
            #[serde(default, rename = "unRealizedProfit")]
            unrealized_profit: Decimal,
        }
        let risks: Vec<Risk> = self.get_json("/fapi/v3/positionRisk", &[], 5).await?;
        Ok(risks
            .into_iter()
            .filter(|r| !r.position_amt.is_zero())
            .map(|r| PositionReport {
                symbol: r.symbol,
                quantity: r.position_amt,
                entry_price: r.entry_price,
                mark_price: r.mark_price,
                unrealized_pnl: r.unrealized_profit,
            })
            .collect())
    }
}

/// An order of `/fapi/v1/order` (placed, queried, or open).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOrder {
    order_id: i64,
    client_order_id: String,
    symbol: String,
    status: String,
    side: String,
    orig_qty: Decimal,
    #[serde(default)]
    executed_qty: Decimal,
    #[serde(default)]
    avg_price: Decimal,
}

impl WireOrder {
    fn report(&self) -> Result<OrderReport, TradeError> {
        let state = match self.status.as_str() {
            "NEW" => OrderState::Open,
            "PARTIALLY_FILLED" => OrderState::PartiallyFilled,
            "FILLED" => OrderState::Filled,
            "CANCELED" => OrderState::Canceled,
            "EXPIRED" | "EXPIRED_IN_MATCH" => OrderState::Expired,
            "REJECTED" => OrderState::Rejected("rejected by the venue".into()),
            other => return Err(garbage(ORDER, &format!("unknown order status {other:?}"))),
        };
        Ok(OrderReport {
            client_id: client_id_of(&self.client_order_id, self.order_id),
            venue_id: self.order_id.to_string(),
            symbol: self.symbol.clone(),
            side: parse_side(&self.side, ORDER)?,
            state,
            quantity: self.orig_qty,
            filled: self.executed_qty,
            average_price: (!self.avg_price.is_zero()).then_some(self.avg_price),
            // The order answer carries no commission (the user stream's `n`
            // and `/fapi/v1/userTrades` do).
            fee: Decimal::ZERO,
        })
    }
}

/// A conditional order of the Algo Order service.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAlgo {
    algo_id: i64,
    client_algo_id: String,
    symbol: String,
    side: String,
    #[serde(default)]
    quantity: Decimal,
    algo_status: String,
    /// The engine order once triggered: a number or a string, absent, 0 or
    /// "" before.
    #[serde(default)]
    actual_order_id: Option<serde_json::Value>,
}

impl WireAlgo {
    fn child_id(&self) -> Option<String> {
        let text = match self.actual_order_id.as_ref()? {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => return None,
        };
        (!text.is_empty() && text != "0").then_some(text)
    }

    /// The report of the algo order; once it triggered, its fill is the
    /// child's (`child`, when the caller read it).
    fn report(&self, child: Option<&WireOrder>) -> Result<OrderReport, TradeError> {
        let mut state = match self.algo_status.as_str() {
            "NEW" | "TRIGGERING" | "TRIGGERED" => OrderState::Open,
            "FINISHED" => OrderState::Filled,
            "CANCELED" => OrderState::Canceled,
            "EXPIRED" => OrderState::Expired,
            "REJECTED" => OrderState::Rejected("rejected by the venue's algo service".into()),
            other => {
                return Err(garbage(
                    ALGO_ORDER,
                    &format!("unknown algo status {other:?}"),
                ))
            }
        };
        let (mut filled, mut average_price) = (Decimal::ZERO, None);
        if let Some(child) = child {
            let child_report = child.report()?;
            filled = child_report.filled;
            average_price = child_report.average_price;
            if !matches!(state, OrderState::Canceled | OrderState::Rejected(_)) {
                state = child_report.state;
            }
        } else if state == OrderState::Filled {
            // Finished without a child we could read: its fill is unknown.
            state = OrderState::Expired;
        }
        Ok(OrderReport {
            client_id: client_id_of(&self.client_algo_id, self.algo_id),
            venue_id: self.algo_id.to_string(),
            symbol: self.symbol.clone(),
            side: parse_side(&self.side, ALGO_ORDER)?,
            state,
            quantity: self.quantity,
            filled,
            average_price,
            fee: Decimal::ZERO,
        })
    }
}

/// The venue's client id, or a stand-in naming its venue id when the
/// venue made one outside our alphabet.
fn client_id_of(text: &str, venue_id: i64) -> ClientId {
    ClientId::parse(text).unwrap_or_else(|_| {
        ClientId::parse(&format!("binance-{venue_id}")).expect("digits are a valid client id")
    })
}

fn parse_side(text: &str, path: &str) -> Result<Side, TradeError> {
    match text {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(garbage(path, &format!("unknown side {other:?}"))),
    }
}

fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// A decimal as the venue reads it: plain digits, no exponent, no trailing
/// zeros (fewer decimals than the step never cause -1111).
fn wire(value: Decimal) -> String {
    value.normalize().to_string()
}

fn not_listed(symbol: &str) -> TradeError {
    TradeError::Invalid(format!("{VENUE}: {symbol} is not listed on USDⓈ-M futures"))
}

fn garbage(path: &str, detail: &str) -> TradeError {
    TradeError::Unavailable(format!("{VENUE}: {path} answered garbage: {detail}"))
}

/// Decodes a 2xx body; an unreadable answer to an order call leaves its
/// outcome unknown.
fn decode<T: DeserializeOwned>(path: &str, body: &[u8], effect: Effect) -> Result<T, TradeError> {
    serde_json::from_slice(body).map_err(|e| match effect {
        Effect::Write => TradeError::Unknown {
            venue: VENUE.into(),
            reason: format!("{path} answered something unreadable ({e})"),
        },
        Effect::Read => garbage(path, &format!("{e}: {}", body_excerpt(body))),
    })
}

/// A request that got no (whole) answer. A connection that could not be
/// opened sent nothing; anything later may have reached the venue.
fn transport_error(what: &str, error: &reqwest::Error, effect: Effect) -> TradeError {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        // The query string holds the signature; keep messages short.
        text = text.replace(url.as_str(), "<url>");
    }
    let kind = if error.is_timeout() {
        "timeout"
    } else {
        "connection failed"
    };
    if error.is_connect() || effect == Effect::Read {
        TradeError::Unavailable(format!("{VENUE}: {what}: {kind}: {text}"))
    } else {
        TradeError::Unknown {
            venue: VENUE.into(),
            reason: format!("{what}: {kind}: {text}"),
        }
    }
}

/// A non-2xx answer, by the venue's rules (§11.1): -1007 and 503 "Unknown
/// error…" leave the outcome unknown, 503 "Service Unavailable" and -1008
/// placed nothing, a `{code,msg}` is a refusal.
fn status_error(what: &str, status: StatusCode, body: &[u8], effect: Effect) -> TradeError {
    let unknown = |reason: String| TradeError::Unknown {
        venue: VENUE.into(),
        reason: format!("{what}: {reason}"),
    };
    if let Ok(error) = serde_json::from_slice::<CodeMsg>(body) {
        let server_side = status.is_server_error() && error.code == -1000;
        if effect == Effect::Write && (error.code == -1007 || server_side) {
            return unknown(format!("{} (code {})", error.msg, error.code));
        }
        return TradeError::Refused {
            venue: VENUE.into(),
            code: error.code.to_string(),
            message: error.msg,
        };
    }
    let text = body_excerpt(body);
    if status.is_server_error() {
        let refused = status == StatusCode::SERVICE_UNAVAILABLE
            && text.to_ascii_lowercase().contains("service unavailable");
        if effect == Effect::Write && !refused {
            return unknown(format!("HTTP {status}: {text}"));
        }
        return TradeError::Unavailable(format!("{VENUE}: {what}: HTTP {status}: {text}"));
    }
    TradeError::Refused {
        venue: VENUE.into(),
        code: String::new(),
        message: format!("{what}: HTTP {status}: {text}"),
    }
}

/// Tells the governor how a call ended (429 pauses the host, 418 bans it).
fn settle(permit: crate::governor::Permit, status: StatusCode, headers: &HeaderMap, body: &[u8]) {
    match status.as_u16() {
        429 => {
            permit.rate_limited(Some(headers), retry_after(headers));
        }
        418 => {
            let ban = banned_until(body)
                .or_else(|| retry_after(headers))
                .unwrap_or(Duration::from_secs(120));
            permit.banned(Some(headers), ban);
        }
        _ if status.is_success() => permit.served(Some(headers)),
        _ => permit.finish(Some(headers)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn decimals_go_out_plain() {
        assert_eq!(wire(d("0.0100")), "0.01");
        assert_eq!(wire(d("64000.0")), "64000");
        assert_eq!(wire(d("100")), "100");
        assert_eq!(wire(d("0.00000123")), "0.00000123");
    }

    #[test]
    fn stops_and_targets_are_algo_orders_by_their_id() {
        let origin = "BINANCE|BTCUSDT|X|1|1";
        assert!(is_algo_id(&ClientId::derive(origin, Leg::Stop)));
        assert!(is_algo_id(&ClientId::derive(origin, Leg::Target)));
        assert!(!is_algo_id(&ClientId::derive(origin, Leg::Entry)));
        assert!(!is_algo_id(&ClientId::derive(origin, Leg::Close)));
    }

    #[test]
    fn answers_are_judged_by_the_venue_rules() {
        let w = Effect::Write;
        let bad = StatusCode::BAD_REQUEST;
        let e = status_error(
            "POST x",
            bad,
            br#"{"code":-2019,"msg":"Margin is insufficient."}"#,
            w,
        );
        assert_eq!(
            e,
            TradeError::Refused {
                venue: "BINANCE".into(),
                code: "-2019".into(),
                message: "Margin is insufficient.".into()
            }
        );
        let timeout =
            br#"{"code":-1007,"msg":"Timeout waiting for response from backend server."}"#;
        assert!(matches!(
            status_error("POST x", StatusCode::REQUEST_TIMEOUT, timeout, w),
            TradeError::Unknown { .. }
        ));
        let unknown = b"Unknown error, please check your request or try again later.";
        let busy = StatusCode::SERVICE_UNAVAILABLE;
        assert!(matches!(
            status_error("POST x", busy, unknown, w),
            TradeError::Unknown { .. }
        ));
        assert!(matches!(
            status_error("POST x", busy, b"Service Unavailable.", w),
            TradeError::Unavailable(_)
        ));
        let overload = br#"{"code":-1008,"msg":"Server is currently overloaded"}"#;
        assert!(matches!(
            status_error("POST x", busy, overload, w),
            TradeError::Refused { ref code, .. } if code == "-1008"
        ));
        assert!(matches!(
            status_error("GET x", busy, unknown, Effect::Read),
            TradeError::Unavailable(_)
        ));
    }

    #[test]
    fn an_algo_order_reports_its_child_fill() {
        let algo: WireAlgo = serde_json::from_str(
            r#"{"algoId":2146760,"clientAlgoId":"qp-sl-42","algoType":"CONDITIONAL","orderType":"STOP_MARKET","symbol":"BTCUSDT",
 "side":"SELL","positionSide":"BOTH","quantity":"0.010","algoStatus":"NEW","triggerPrice":"62000.0",
 "workingType":"MARK_PRICE","closePosition":false,"reduceOnly":true,"createTime":1750485492076,"triggerTime":0}"#,
        )
        .unwrap();
        assert_eq!(algo.child_id(), None);
        let report = algo.report(None).unwrap();
        assert_eq!(report.state, OrderState::Open);
        assert_eq!(report.venue_id, "2146760");
        assert_eq!(report.quantity, d("0.01"));
        let finished: WireAlgo = serde_json::from_str(
            r#"{"algoId":7,"clientAlgoId":"qp-sl-42","symbol":"BTCUSDT","side":"SELL","quantity":"0.010","algoStatus":"FINISHED","actualOrderId":"991"}"#,
        )
        .unwrap();
        assert_eq!(finished.child_id().as_deref(), Some("991"));
        let child: WireOrder = serde_json::from_str(
            r#"{"orderId":991,"clientOrderId":"x1","symbol":"BTCUSDT","status":"FILLED","side":"SELL","origQty":"0.010","executedQty":"0.010","avgPrice":"61990.5"}"#,
        )
        .unwrap();
        let report = finished.report(Some(&child)).unwrap();
        assert_eq!(report.state, OrderState::Filled);
        assert_eq!(report.client_id.as_str(), "qp-sl-42");
        assert_eq!(report.average_price, Some(d("61990.5")));
    }

    #[test]
    fn the_keys_never_print() {
        let config = BinanceTradingConfig::new(
            crate::urls::BINANCE_FUTURES,
            Secret::new("my-api-key"),
            Secret::new("my-secret"),
        );
        let client = BinanceTrading::new(config).unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("my-api-key") && !shown.contains("my-secret"));
    }
}
