//! A fake Binance USDⓈ-M futures (`fapi`) on 127.0.0.1, for tests of the
//! order client (`quantpro_sources::venues::binance::trading`) and of the
//! executor built on it. It checks what the venue checks
//! (EXTERNAL_APIS.md §11.1, §11.4):
//! - `X-MBX-APIKEY` (-2014 malformed or missing, -2015 unknown);
//! - the HMAC over the raw query string directly followed by the raw body
//!   (-1022), with the one `signing::verify` the client's signing is tested
//!   against;
//! - `timestamp` within `recvWindow` of its own clock (-1021), a clock the
//!   test can set off ([`FakeBinance::set_clock_offset_ms`]), which
//!   `/fapi/v1/time` serves;
//! - the symbol's `exchangeInfo` filters (-1111 extra decimals, -4014/-4023
//!   off the grid, -4164 under the minimum notional unless reduce-only);
//! - -4120 for conditional types on `/fapi/v1/order`, -4116 for a client id
//!   already open, -2019 when the margin is short (or on demand), -2021 for
//!   a trigger that would fire at once, -2022 for a reduce-only order that
//!   would not reduce.
//!
//! It keeps the account: orders by id and client id, algo (conditional)
//! orders, positions, the wallet balance and a mark price per symbol the
//! test sets ([`FakeBinance::set_mark`]). MARKET orders fill at once at the
//! mark and move the position; LIMIT orders rest until the mark reaches
//! them (or fill at once when marketable), GTD ones expire; stops and
//! targets rest until the mark crosses their trigger, then fill reduce-only
//! through a child MARKET order and reduce or close the position.
//!
//! The user data stream: `POST/PUT/DELETE /fapi/v1/listenKey` (-1125 on a
//! dead key) and `/private/ws?listenKey=…&events=…` ([`FakeBinance::ws_url`])
//! with `ORDER_TRADE_UPDATE`, `ALGO_UPDATE` and `ACCOUNT_UPDATE` for every
//! change, filtered by `events`; [`FakeBinance::expire_listen_key`] sends
//! `listenKeyExpired` and leaves the socket silent, and
//! [`FakeBinance::mute_stream_events`] answers calls without their events.
//!
//! Faults on demand ([`FakeBinance::fail_next`]), for the next call of an
//! order endpoint: before acceptance (503 "Service Unavailable.", -1008, any
//! refusal: nothing is placed) or after it (the order exists, but the reply
//! stalls past the client's timeout, the connection drops mid-answer, or
//! the answer is 503 "Unknown error…" or -1007). Fills can come in k
//! partial steps ([`FakeBinance::set_fill_steps`]); `newOrderRespType`
//! `ACK` (the default) answers before the fill, `RESULT` after it.
//!
//! In a test:
//! ```ignore
//! let fake = FakeBinance::start_default().await; // or start(FakeBinanceConfig { .. })
//! fake.set_mark("BTCUSDT", dec!(64000));
//! let config = BinanceTradingConfig::new(fake.url(), Secret::new(API_KEY), Secret::new(SECRET))
//!     .with_timeout(Duration::from_millis(200));
//! let venue = BinanceTrading::new(config)?; // a TradingVenue
//! fake.fail_next(FaultOn::Order, Fault::Stall(Duration::from_secs(1)));
//! // venue.place(..) answers Unknown; venue.order(..) finds the one order.
//! ```

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use quantpro_sources::venues::binance::filters::{
    format_to_step, round_to_grid, step_decimals, FilterError, OrderKind, RoundDirection, Side,
    SymbolFilters,
};
use quantpro_sources::venues::binance::signing;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The API key of the §11.1 signing example: the fake's default.
pub const API_KEY: &str = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83";
/// The secret key of the §11.1 signing example: the fake's default.
pub const SECRET: &str = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";

/// The default `exchangeInfo`: BTCUSDT (tick 0.10, step 0.001, notional
/// 100) and ETHUSDT (tick 0.01, step 0.001, notional 20), with filters as
/// the venue sends them.
pub const EXCHANGE_INFO: &str = r#"{"timezone":"UTC","serverTime":0,"rateLimits":[],"symbols":[
 {"symbol":"BTCUSDT","pair":"BTCUSDT","contractType":"PERPETUAL","status":"TRADING","pricePrecision":2,"quantityPrecision":3,
  "filters":[
   {"minPrice":"556.80","maxPrice":"4529764","filterType":"PRICE_FILTER","tickSize":"0.10"},
   {"stepSize":"0.001","filterType":"LOT_SIZE","maxQty":"1000","minQty":"0.001"},
   {"stepSize":"0.001","filterType":"MARKET_LOT_SIZE","maxQty":"120","minQty":"0.001"},
   {"limit":200,"filterType":"MAX_NUM_ORDERS"},
   {"limit":10,"filterType":"MAX_NUM_ALGO_ORDERS"},
   {"notional":"100","filterType":"MIN_NOTIONAL"},
   {"multiplierDown":"0.9500","multiplierUp":"1.0500","multiplierDecimal":"4","filterType":"PERCENT_PRICE"}]},
 {"symbol":"ETHUSDT","pair":"ETHUSDT","contractType":"PERPETUAL","status":"TRADING","pricePrecision":2,"quantityPrecision":3,
  "filters":[
   {"minPrice":"39.86","maxPrice":"306177","filterType":"PRICE_FILTER","tickSize":"0.01"},
   {"stepSize":"0.001","filterType":"LOT_SIZE","maxQty":"10000","minQty":"0.001"},
   {"stepSize":"0.001","filterType":"MARKET_LOT_SIZE","maxQty":"2000","minQty":"0.001"},
   {"notional":"20","filterType":"MIN_NOTIONAL"},
   {"multiplierDown":"0.9500","multiplierUp":"1.0500","multiplierDecimal":"4","filterType":"PERCENT_PRICE"}]}
]}"#;

/// What the fake is started with.
#[derive(Debug, Clone)]
pub struct FakeBinanceConfig {
    pub api_key: String,
    pub secret: String,
    /// A whole `GET /fapi/v1/exchangeInfo` answer: the symbols it trades.
    pub exchange_info: String,
    /// The USDT wallet balance.
    pub balance: Decimal,
    /// The leverage of every symbol (initial margin = notional / leverage).
    pub leverage: Decimal,
    /// Taker fee rate, charged on every fill.
    pub taker_fee: Decimal,
}

impl Default for FakeBinanceConfig {
    fn default() -> Self {
        FakeBinanceConfig {
            api_key: API_KEY.into(),
            secret: SECRET.into(),
            exchange_info: EXCHANGE_INFO.into(),
            balance: Decimal::from(10_000),
            leverage: Decimal::from(20),
            taker_fee: Decimal::new(5, 4),
        }
    }
}

/// Which order endpoint a fault waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultOn {
    /// `POST /fapi/v1/order`.
    Order,
    /// `POST /fapi/v1/algoOrder`.
    AlgoOrder,
    /// `DELETE /fapi/v1/order` and `DELETE /fapi/v1/algoOrder`.
    Cancel,
}

/// A fault of one call (§11.4).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Before acceptance: 503 "Service Unavailable.", nothing placed.
    ServiceUnavailable,
    /// Before acceptance: -1008 (overloaded), nothing placed.
    Overloaded,
    /// Before acceptance: this `{code,msg}` with HTTP 400, nothing placed
    /// (e.g. -2019, -2022, -4061, -1015 with a 429 status via `status`).
    Refuse { status: u16, code: i64, msg: String },
    /// After acceptance: the answer waits this long (past the client's
    /// timeout), then comes.
    Stall(Duration),
    /// After acceptance: the connection drops in the middle of the answer.
    DropConnection,
    /// After acceptance: 503 "Unknown error, please check your request or
    /// try again later."
    UnknownError,
    /// After acceptance: -1007 (timeout waiting for the backend).
    BackendTimeout,
}

impl Fault {
    fn before_acceptance(&self) -> bool {
        matches!(
            self,
            Fault::ServiceUnavailable | Fault::Overloaded | Fault::Refuse { .. }
        )
    }
}

/// An order of `/fapi/v1/order` as the fake holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeOrder {
    pub order_id: i64,
    pub client_order_id: String,
    pub symbol: String,
    pub side: Side,
    /// `MARKET` or `LIMIT`.
    pub order_type: &'static str,
    pub price: Decimal,
    pub quantity: Decimal,
    pub executed: Decimal,
    pub average_price: Decimal,
    /// `NEW PARTIALLY_FILLED FILLED CANCELED EXPIRED`.
    pub status: &'static str,
    pub reduce_only: bool,
    pub time_in_force: String,
    pub good_till_date: i64,
    pub fee: Decimal,
    pub update_time: i64,
}

impl FakeOrder {
    fn is_open(&self) -> bool {
        matches!(self.status, "NEW" | "PARTIALLY_FILLED")
    }
}

/// A conditional order of the Algo Order service.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeAlgoOrder {
    pub algo_id: i64,
    pub client_algo_id: String,
    pub symbol: String,
    pub side: Side,
    /// `STOP_MARKET` or `TAKE_PROFIT_MARKET`.
    pub order_type: String,
    pub quantity: Decimal,
    pub trigger_price: Decimal,
    /// `NEW TRIGGERED FINISHED CANCELED EXPIRED`.
    pub status: &'static str,
    pub reduce_only: bool,
    pub close_position: bool,
    pub working_type: String,
    pub create_time: i64,
    pub trigger_time: i64,
    /// The MARKET order it became once triggered.
    pub actual_order_id: Option<i64>,
}

/// A one-way position.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FakePosition {
    /// Signed: positive long.
    pub amount: Decimal,
    pub entry_price: Decimal,
}

struct Account {
    config: FakeBinanceConfig,
    clock_offset_ms: i64,
    filters: HashMap<String, SymbolFilters>,
    marks: HashMap<String, Decimal>,
    orders: Vec<FakeOrder>,
    algos: Vec<FakeAlgoOrder>,
    positions: HashMap<String, FakePosition>,
    wallet: Decimal,
    next_id: i64,
    faults: HashMap<FaultOn, VecDeque<Fault>>,
    margin_refused: bool,
    requests: Vec<(Method, String)>,
    /// The active listen key of the user data stream.
    listen_key: Option<String>,
    leverages: HashMap<String, Decimal>,
    /// Hedge (dual-side) position mode: orders must name `positionSide`.
    hedge_mode: bool,
    /// Each fill comes in this many steps.
    fill_steps: u32,
    /// Every user-stream event, to each open stream socket.
    events: tokio::sync::broadcast::Sender<Value>,
    /// While set, changes are not reported on the stream (§11.4: "answer
    /// but skip the stream event").
    events_muted: bool,
}

type Shared = Arc<Mutex<Account>>;

/// A running fake; the server stops when it is dropped.
pub struct FakeBinance {
    url: String,
    account: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBinance {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeBinance {
    /// The fake with the default config (the §11.1 keys, BTCUSDT and
    /// ETHUSDT, 10 000 USDT, no mark price yet).
    pub async fn start_default() -> FakeBinance {
        FakeBinance::start(FakeBinanceConfig::default()).await
    }

    /// Serves on 127.0.0.1 at a free port, on the caller's runtime.
    pub async fn start(config: FakeBinanceConfig) -> FakeBinance {
        let filters = symbols_of(&config.exchange_info);
        let account = Arc::new(Mutex::new(Account {
            wallet: config.balance,
            config,
            clock_offset_ms: 0,
            filters,
            marks: HashMap::new(),
            orders: Vec::new(),
            algos: Vec::new(),
            positions: HashMap::new(),
            next_id: 8_389_765_000,
            faults: HashMap::new(),
            margin_refused: false,
            requests: Vec::new(),
            listen_key: None,
            leverages: HashMap::new(),
            hedge_mode: false,
            fill_steps: 1,
            events: tokio::sync::broadcast::channel(4096).0,
            events_muted: false,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let router = Router::new()
            .route("/private/ws", axum::routing::get(user_stream))
            .fallback(handle)
            .with_state(account.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeBinance {
            url,
            account,
            server,
        }
    }

    /// The REST base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn api_key(&self) -> String {
        self.lock().config.api_key.clone()
    }

    pub fn secret(&self) -> String {
        self.lock().config.secret.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Account> {
        self.account.lock().expect("fake account")
    }

    /// Sets the mark price of `symbol`: resting LIMIT orders it reaches
    /// fill, stops and targets it crosses trigger.
    pub fn set_mark(&self, symbol: &str, price: Decimal) {
        let mut account = self.lock();
        account.marks.insert(symbol.to_string(), price);
        account.on_mark(symbol);
    }

    /// The fake's clock runs `offset_ms` from the wall clock (negative:
    /// behind). Both the `timestamp` check and `/fapi/v1/time` use it.
    pub fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.lock().clock_offset_ms = offset_ms;
    }

    /// The next call of `on` meets `fault` (faults queue up per endpoint).
    pub fn fail_next(&self, on: FaultOn, fault: Fault) {
        self.lock().faults.entry(on).or_default().push_back(fault);
    }

    /// Every later fill comes in `steps` partial fills (at least 1), each
    /// with its own `ORDER_TRADE_UPDATE`.
    pub fn set_fill_steps(&self, steps: u32) {
        self.lock().fill_steps = steps.max(1);
    }

    /// Puts the account in hedge (dual-side) mode: orders get -4061.
    pub fn set_hedge_mode(&self, hedge: bool) {
        self.lock().hedge_mode = hedge;
    }

    /// The leverage of `symbol` (the config's until the client sets one).
    pub fn leverage(&self, symbol: &str) -> Decimal {
        self.lock().leverage(symbol)
    }

    /// While set, every order that needs margin gets -2019.
    pub fn refuse_margin(&self, refuse: bool) {
        self.lock().margin_refused = refuse;
    }

    /// The position of `symbol` (zero when flat).
    pub fn position(&self, symbol: &str) -> FakePosition {
        self.lock()
            .positions
            .get(symbol)
            .copied()
            .unwrap_or_default()
    }

    /// Every order ever accepted on `/fapi/v1/order` (and the children of
    /// triggered algo orders), oldest first.
    pub fn orders(&self) -> Vec<FakeOrder> {
        self.lock().orders.clone()
    }

    /// Every algo order ever accepted, oldest first.
    pub fn algo_orders(&self) -> Vec<FakeAlgoOrder> {
        self.lock().algos.clone()
    }

    /// The wallet balance (realized PnL and fees included).
    pub fn balance(&self) -> Decimal {
        self.lock().wallet
    }

    /// The WebSocket root of the user data stream, e.g.
    /// `ws://127.0.0.1:41234` (the client adds `/private/ws?listenKey=…`).
    pub fn ws_url(&self) -> String {
        self.url.replacen("http://", "ws://", 1)
    }

    /// The listen key expires now: its sockets get `listenKeyExpired`, then
    /// silence; a `PUT` answers -1125 until a `POST` makes a new key.
    pub fn expire_listen_key(&self) {
        let mut account = self.lock();
        if let Some(key) = account.listen_key.take() {
            let now = account.now_ms();
            let _ = account.events.send(json!({
                "e": "listenKeyExpired", "E": now.to_string(), "listenKey": key,
            }));
        }
    }

    /// While muted, orders are answered but their stream events are not
    /// sent (REST must be trusted over the stream).
    pub fn mute_stream_events(&self, muted: bool) {
        self.lock().events_muted = muted;
    }

    /// How many requests reached `method path`.
    pub fn request_count(&self, method: &Method, path: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|(m, p)| m == method && p == path)
            .count()
    }
}

/// Every symbol's filters in an `exchangeInfo` answer.
fn symbols_of(exchange_info: &str) -> HashMap<String, SymbolFilters> {
    let info: Value = serde_json::from_str(exchange_info).expect("exchangeInfo is JSON");
    info["symbols"]
        .as_array()
        .expect("exchangeInfo has symbols")
        .iter()
        .map(|symbol| {
            let filters = SymbolFilters::from_symbol_json(&symbol.to_string())
                .expect("exchangeInfo symbol with PRICE_FILTER and LOT_SIZE");
            (filters.symbol.clone(), filters)
        })
        .collect()
}

/// A venue refusal: `{code,msg}` with an HTTP status.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: i64,
    msg: String,
}

fn refusal(code: i64, msg: impl Into<String>) -> Refusal {
    let status = match code {
        -2014 | -2015 => StatusCode::UNAUTHORIZED,
        -1007 => StatusCode::REQUEST_TIMEOUT,
        -1008 => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    Refusal {
        status,
        code,
        msg: msg.into(),
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({"code": self.code, "msg": self.msg}).to_string();
        json_response(self.status, body)
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("a response")
}

fn ok(value: Value) -> Result<Value, Refusal> {
    Ok(value)
}

/// The parameters of a request: query string, then form body; a name in
/// both takes the query string's value.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, Refusal> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            refusal(
                -1102,
                format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
            )
        })
    }

    fn decimal(&self, name: &str) -> Result<Decimal, Refusal> {
        let text = self.required(name)?;
        text.parse().map_err(|_| {
            refusal(
                -1102,
                format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
            )
        })
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

fn parse_form(text: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(text).unwrap_or_default()
}

/// Checks the key and the signature of a SIGNED request, and its
/// timestamp against the fake's clock.
fn authenticate(
    account: &Account,
    headers: &HeaderMap,
    query: &str,
    body: &str,
    params: &Params,
) -> Result<(), Refusal> {
    check_key(account, headers)?;
    let (signed, signature) =
        match signing::split_signature(body) {
            Some((body_part, signature)) => (format!("{query}{body_part}"), signature),
            None => match signing::split_signature(query) {
                Some((query_part, signature)) => (format!("{query_part}{body}"), signature),
                None => return Err(refusal(
                    -1102,
                    "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
                )),
            },
        };
    if !signing::verify(&account.config.secret, &signed, "", signature) {
        return Err(refusal(-1022, "Signature for this request is not valid."));
    }
    let timestamp: i64 = params.required("timestamp")?.parse().map_err(|_| {
        refusal(
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        )
    })?;
    let recv_window: u64 = match params.get("recvWindow") {
        Some(text) => text
            .parse()
            .ok()
            .filter(|w| *w <= 60_000)
            .ok_or_else(|| refusal(-1131, "recvWindow must be less than 60000"))?,
        None => 5000,
    };
    let server_time = account.now_ms();
    if !signing::timestamp_accepted(timestamp, server_time, recv_window) {
        let msg = if timestamp >= server_time + signing::MAX_TIMESTAMP_AHEAD_MS {
            "Timestamp for this request was 1000ms ahead of the server's time."
        } else {
            "Timestamp for this request is outside of the recvWindow."
        };
        return Err(refusal(-1021, msg));
    }
    Ok(())
}

fn check_key(account: &Account, headers: &HeaderMap) -> Result<(), Refusal> {
    let key = headers
        .get("x-mbx-apikey")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(refusal(-2014, "API-key format invalid."));
    }
    if key != account.config.api_key {
        return Err(refusal(
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        ));
    }
    Ok(())
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let body = String::from_utf8_lossy(&body).into_owned();
    let fault_on = match (&method, path.as_str()) {
        (&Method::POST, "/fapi/v1/order") => Some(FaultOn::Order),
        (&Method::POST, "/fapi/v1/algoOrder") => Some(FaultOn::AlgoOrder),
        (&Method::DELETE, "/fapi/v1/order" | "/fapi/v1/algoOrder") => Some(FaultOn::Cancel),
        _ => None,
    };
    let (answer, fault) = {
        let mut account = shared.lock().expect("fake account");
        account.requests.push((method.clone(), path.clone()));
        account.expire_orders();
        let mut params = parse_form(&query);
        for (name, value) in parse_form(&body) {
            if !params.iter().any(|(n, _)| *n == name) {
                params.push((name, value));
            }
        }
        let params = Params(params);
        match (&method, path.as_str()) {
            (&Method::GET, "/fapi/v1/time") => (ok(json!({"serverTime": account.now_ms()})), None),
            (&Method::GET, "/fapi/v1/ping") => (ok(json!({})), None),
            (&Method::GET, "/fapi/v1/exchangeInfo") => {
                let body = account.config.exchange_info.clone();
                return json_response(StatusCode::OK, body);
            }
            (_, "/fapi/v1/listenKey") => {
                if let Err(refused) = check_key(&account, &headers) {
                    return refused.into_response();
                }
                (account.listen_key_call(&method), None)
            }
            _ => {
                if let Err(refused) = authenticate(&account, &headers, &query, &body, &params) {
                    return refused.into_response();
                }
                let fault = fault_on.and_then(|on| account.faults.get_mut(&on)?.pop_front());
                if let Some(fault) = fault.as_ref().filter(|f| f.before_acceptance()) {
                    return before_acceptance(fault.clone());
                }
                (account.route(&method, &path, &params), fault)
            }
        }
    };
    let answer = match answer {
        Ok(value) => value,
        Err(refused) => return refused.into_response(),
    };
    match fault {
        None => json_response(StatusCode::OK, answer.to_string()),
        Some(Fault::Stall(wait)) => {
            tokio::time::sleep(wait).await;
            json_response(StatusCode::OK, answer.to_string())
        }
        Some(Fault::DropConnection) => {
            let broken = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "the fake drops the connection",
                ))
            });
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .body(Body::from_stream(broken))
                .expect("a response")
        }
        Some(Fault::UnknownError) => Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body(Body::from(
                "Unknown error, please check your request or try again later.",
            ))
            .expect("a response"),
        Some(Fault::BackendTimeout) => refusal(
            -1007,
            "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        )
        .into_response(),
        Some(other) => before_acceptance(other),
    }
}

/// `/private/ws?listenKey=…&events=…`: the user data stream of the active
/// key, filtered by `events`. Once the key expires the socket stays open and
/// silent, as the venue's does.
async fn user_stream(
    State(shared): State<Shared>,
    uri: Uri,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    use axum::extract::ws::Message;
    let params = Params(parse_form(uri.query().unwrap_or("")));
    let key = params.get("listenKey").unwrap_or("").to_string();
    let allowed: Option<Vec<String>> = params
        .get("events")
        .map(|list| list.split('/').map(str::to_string).collect());
    let mut events = {
        let account = shared.lock().expect("fake account");
        if account.listen_key.as_deref() != Some(key.as_str()) {
            return refusal(-1125, "This listenKey does not exist.").into_response();
        }
        account.events.subscribe()
    };
    upgrade.on_upgrade(move |mut socket| async move {
        loop {
            tokio::select! {
                event = events.recv() => {
                    let event = match event {
                        Ok(event) => event,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => return,
                    };
                    let name = event["e"].as_str().unwrap_or("").to_string();
                    let for_this_socket = if name == "listenKeyExpired" {
                        event["listenKey"] == key.as_str()
                    } else {
                        shared.lock().expect("fake account").listen_key.as_deref()
                            == Some(key.as_str())
                    };
                    let wanted = allowed.as_ref().is_none_or(|list| list.contains(&name));
                    if for_this_socket && wanted
                        && socket.send(Message::Text(event.to_string().into())).await.is_err()
                    {
                        return;
                    }
                }
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    })
}

fn before_acceptance(fault: Fault) -> Response {
    match fault {
        Fault::ServiceUnavailable => Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body(Body::from("Service Unavailable."))
            .expect("a response"),
        Fault::Overloaded => refusal(
            -1008,
            "Server is currently overloaded with other requests. Please try again in a few minutes.",
        )
        .into_response(),
        Fault::Refuse { status, code, msg } => Refusal {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            msg,
        }
        .into_response(),
        other => unreachable!("{other:?} happens after acceptance"),
    }
}

fn side_of(params: &Params) -> Result<Side, Refusal> {
    match params.required("side")? {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(refusal(-1117, "Invalid side.")),
    }
}

fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// Extra decimals first (-1111), then the grid and the bounds.
fn check_quantity(
    filters: &SymbolFilters,
    text: &str,
    qty: Decimal,
    kind: OrderKind,
) -> Result<(), Refusal> {
    let (_, lot) = filters.lot_filter(kind);
    if qty <= Decimal::ZERO {
        return Err(refusal(-4003, "Quantity less than or equal to zero."));
    }
    if !lot.step_size.is_zero() && decimals_of(text) > step_decimals(lot.step_size) {
        return Err(refusal(
            -1111,
            "Precision is over the maximum defined for this asset.",
        ));
    }
    match filters.check_quantity(qty, kind) {
        Ok(()) => Ok(()),
        Err(FilterError::QuantityOffStep { .. }) => {
            Err(refusal(-4023, "Qty not increased by step size."))
        }
        Err(FilterError::QuantityBelowMinimum { .. }) => {
            Err(refusal(-4004, "Quantity less than min quantity."))
        }
        Err(FilterError::QuantityAboveMaximum { .. }) => {
            Err(refusal(-4005, "Quantity greater than max quantity."))
        }
        Err(other) => Err(refusal(-1102, other.to_string())),
    }
}

fn check_price(filters: &SymbolFilters, text: &str, price: Decimal) -> Result<(), Refusal> {
    if price <= Decimal::ZERO {
        return Err(refusal(-4001, "Price less than 0."));
    }
    let tick = filters.price.tick_size;
    if !tick.is_zero() && decimals_of(text) > step_decimals(tick) {
        return Err(refusal(
            -1111,
            "Precision is over the maximum defined for this asset.",
        ));
    }
    match filters.check_price(price) {
        Ok(()) => Ok(()),
        Err(FilterError::PriceOffTick { .. }) => {
            Err(refusal(-4014, "Price not increased by tick size."))
        }
        Err(FilterError::PriceBelowMinimum { .. }) => {
            Err(refusal(-4013, "Price less than min price."))
        }
        Err(FilterError::PriceAboveMaximum { .. }) => {
            Err(refusal(-4016, "Price greater than max price."))
        }
        Err(other) => Err(refusal(-1102, other.to_string())),
    }
}

/// The decimals written in a number as sent (`0.0100` has 4).
fn decimals_of(text: &str) -> u32 {
    text.split_once('.')
        .map_or(0, |(_, fraction)| fraction.len() as u32)
}

fn wire(value: Decimal, step: Decimal) -> String {
    format_to_step(value, step).unwrap_or_else(|_| value.normalize().to_string())
}

impl Account {
    fn now_ms(&self) -> i64 {
        quantpro_model::now_ms() + self.clock_offset_ms
    }

    /// The symbol's leverage: set by `POST /fapi/v1/leverage`, else the
    /// config's.
    fn leverage(&self, symbol: &str) -> Decimal {
        self.leverages
            .get(symbol)
            .copied()
            .unwrap_or(self.config.leverage)
    }

    fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn filters(&self, symbol: &str) -> Result<SymbolFilters, Refusal> {
        self.filters
            .get(symbol)
            .cloned()
            .ok_or_else(|| refusal(-1121, "Invalid symbol."))
    }

    fn mark(&self, symbol: &str) -> Result<Decimal, Refusal> {
        self.marks.get(symbol).copied().ok_or_else(|| {
            refusal(
                -1000,
                format!("the fake has no mark price for {symbol}: set_mark first"),
            )
        })
    }

    /// `POST` makes a key (or extends and returns the active one), `PUT`
    /// extends it (-1125 when there is none), `DELETE` closes it.
    fn listen_key_call(&mut self, method: &Method) -> Result<Value, Refusal> {
        match *method {
            Method::POST => {
                let key = match &self.listen_key {
                    Some(key) => key.clone(),
                    None => {
                        let id = self.next_id();
                        let key = format!("{:0>64}", format!("fakeListenKey{id}"));
                        self.listen_key = Some(key.clone());
                        key
                    }
                };
                ok(json!({"listenKey": key}))
            }
            Method::PUT if self.listen_key.is_some() => ok(json!({})),
            Method::PUT => Err(refusal(-1125, "This listenKey does not exist.")),
            Method::DELETE => {
                self.listen_key = None;
                ok(json!({}))
            }
            _ => Err(refusal(-1000, "unsupported method")),
        }
    }

    fn route(&mut self, method: &Method, path: &str, params: &Params) -> Result<Value, Refusal> {
        match (method, path) {
            (&Method::POST, "/fapi/v1/order") => self.new_order(params),
            (&Method::GET, "/fapi/v1/order") => {
                let order = self.find_order(params)?;
                ok(self.order_json(order))
            }
            (&Method::DELETE, "/fapi/v1/order") => self.cancel_order(params),
            (&Method::GET, "/fapi/v1/openOrders") => {
                let symbol = params.get("symbol");
                let open: Vec<Value> = (0..self.orders.len())
                    .filter(|&i| {
                        self.orders[i].is_open()
                            && symbol.is_none_or(|s| s == self.orders[i].symbol)
                    })
                    .map(|i| self.order_json(i))
                    .collect();
                ok(Value::Array(open))
            }
            (&Method::POST, "/fapi/v1/algoOrder") => self.new_algo_order(params),
            (&Method::POST, "/fapi/v1/leverage") => {
                let symbol = params.required("symbol")?.to_string();
                self.filters(&symbol)?;
                let leverage: u32 = params
                    .required("leverage")?
                    .parse()
                    .ok()
                    .filter(|l| (1..=125).contains(l))
                    .ok_or_else(|| refusal(-4028, "Leverage is not valid"))?;
                self.leverages
                    .insert(symbol.clone(), Decimal::from(leverage));
                ok(json!({"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}))
            }
            (&Method::GET, "/fapi/v1/positionSide/dual") => {
                ok(json!({"dualSidePosition": self.hedge_mode}))
            }
            (&Method::GET, "/fapi/v1/algoOrder") => {
                let algo = self.find_algo(params)?;
                ok(self.algo_json(algo))
            }
            (&Method::DELETE, "/fapi/v1/algoOrder") => {
                let algo = self.find_algo(params)?;
                if self.algos[algo].status != "NEW" {
                    return Err(refusal(-2011, "Unknown order sent."));
                }
                self.algos[algo].status = "CANCELED";
                self.emit_algo(algo);
                let answer = &self.algos[algo];
                ok(
                    json!({"algoId": answer.algo_id, "clientAlgoId": answer.client_algo_id,
                    "code": "200", "msg": "success"}),
                )
            }
            (&Method::GET, "/fapi/v1/openAlgoOrders") => {
                let symbol = params.get("symbol");
                let open: Vec<Value> = (0..self.algos.len())
                    .filter(|&i| {
                        self.algos[i].status == "NEW"
                            && symbol.is_none_or(|s| s == self.algos[i].symbol)
                    })
                    .map(|i| self.algo_json(i))
                    .collect();
                ok(Value::Array(open))
            }
            (&Method::GET, "/fapi/v3/account" | "/fapi/v2/account") => ok(self.account_json()),
            (&Method::GET, "/fapi/v3/balance" | "/fapi/v2/balance") => {
                let account = self.account_json();
                ok(json!([{
                    "accountAlias": "fake", "asset": "USDT",
                    "balance": account["totalWalletBalance"],
                    "crossWalletBalance": account["totalWalletBalance"],
                    "crossUnPnl": account["totalUnrealizedProfit"],
                    "availableBalance": account["availableBalance"],
                    "maxWithdrawAmount": account["maxWithdrawAmount"],
                    "marginAvailable": true, "updateTime": self.now_ms()}]))
            }
            (&Method::GET, "/fapi/v3/positionRisk" | "/fapi/v2/positionRisk") => {
                ok(Value::Array(self.position_risk(params.get("symbol"))))
            }
            _ => Err(Refusal {
                status: StatusCode::NOT_FOUND,
                code: -1000,
                msg: format!("the fake does not serve {method} {path}"),
            }),
        }
    }

    fn new_order(&mut self, params: &Params) -> Result<Value, Refusal> {
        let symbol = params.required("symbol")?.to_string();
        let side = side_of(params)?;
        self.check_position_side(params)?;
        let order_type = params.required("type")?;
        let order_type: &'static str = match order_type {
            "MARKET" => "MARKET",
            "LIMIT" => "LIMIT",
            "STOP" | "STOP_MARKET" | "TAKE_PROFIT" | "TAKE_PROFIT_MARKET"
            | "TRAILING_STOP_MARKET" => {
                return Err(refusal(
                    -4120,
                    "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
                ))
            }
            _ => return Err(refusal(-1116, "Invalid orderType.")),
        };
        let filters = self.filters(&symbol)?;
        let mark = self.mark(&symbol)?;
        let kind = if order_type == "MARKET" {
            OrderKind::Market
        } else {
            OrderKind::Limit
        };
        let qty_text = params.required("quantity")?;
        let qty = params.decimal("quantity")?;
        check_quantity(&filters, qty_text, qty, kind)?;
        let reduce_only = params.flag("reduceOnly");
        let (price, time_in_force, good_till) = if kind == OrderKind::Limit {
            let price = params.decimal("price")?;
            check_price(&filters, params.required("price")?, price)?;
            if filters.check_percent_price(price, side, mark).is_err() {
                let (code, msg) = match side {
                    Side::Buy => (
                        -4016,
                        "Limit price can't be higher than the mark price limit.",
                    ),
                    Side::Sell => (
                        -4024,
                        "Limit price can't be lower than the mark price limit.",
                    ),
                };
                return Err(refusal(code, msg));
            }
            let tif = params.required("timeInForce")?.to_string();
            let good_till = match tif.as_str() {
                "GTC" | "IOC" | "FOK" | "GTX" => 0,
                "GTD" => {
                    let at: i64 = params.required("goodTillDate")?.parse().map_err(|_| {
                        refusal(-1102, "Mandatory parameter 'goodTillDate' was not sent, was empty/null, or malformed.")
                    })?;
                    if at <= self.now_ms() {
                        return Err(refusal(-1102, "goodTillDate is in the past."));
                    }
                    at
                }
                _ => return Err(refusal(-1115, "Invalid timeInForce.")),
            };
            (price, tif, good_till)
        } else {
            (Decimal::ZERO, "GTC".to_string(), 0)
        };
        let notional_price = if kind == OrderKind::Market {
            mark
        } else {
            price
        };
        if !reduce_only && filters.check_notional(notional_price, qty).is_err() {
            let min = filters.min_notional.unwrap_or_default();
            return Err(refusal(
                -4164,
                format!(
                    "Order's notional must be no smaller than {} (unless you choose reduce only).",
                    min.normalize()
                ),
            ));
        }
        let client_id = match params.get("newClientOrderId") {
            Some(id) => {
                if id.is_empty()
                    || id.len() > 36
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".:/_-".contains(c))
                {
                    return Err(refusal(-1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'."));
                }
                id.to_string()
            }
            None => format!("fake-{}", self.next_id()),
        };
        if self
            .orders
            .iter()
            .any(|o| o.is_open() && o.client_order_id == client_id)
        {
            return Err(refusal(-4116, "ClientOrderId is duplicated."));
        }
        let qty = if reduce_only {
            self.reducible(&symbol, side)
                .filter(|r| !r.is_zero())
                .map(|r| r.min(qty))
                .ok_or_else(|| refusal(-2022, "ReduceOnly Order is rejected."))?
        } else {
            self.check_margin(&symbol, qty, notional_price)?;
            qty
        };
        let order_id = self.next_id();
        let now = self.now_ms();
        self.orders.push(FakeOrder {
            order_id,
            client_order_id: client_id,
            symbol: symbol.clone(),
            side,
            order_type,
            price,
            quantity: qty,
            executed: Decimal::ZERO,
            average_price: Decimal::ZERO,
            status: "NEW",
            reduce_only,
            time_in_force,
            good_till_date: good_till,
            fee: Decimal::ZERO,
            update_time: now,
        });
        let index = self.orders.len() - 1;
        let marketable = match (kind, side) {
            (OrderKind::Market, _) => true,
            (OrderKind::Limit, Side::Buy) => price >= mark,
            (OrderKind::Limit, Side::Sell) => price <= mark,
        };
        self.emit_order(index, "NEW", Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        // `ACK` (the default) answers as accepted, before any fill.
        let ack = self.order_json(index);
        // Post-only (GTX) never takes; IOC and FOK never rest.
        let tif = self.orders[index].time_in_force.as_str();
        if (marketable && tif == "GTX") || (!marketable && matches!(tif, "IOC" | "FOK")) {
            self.orders[index].status = "EXPIRED";
            self.emit_order(
                index,
                "EXPIRED",
                Decimal::ZERO,
                Decimal::ZERO,
                Decimal::ZERO,
            );
        } else if marketable {
            self.fill(index, mark);
        }
        match params.get("newOrderRespType") {
            Some("RESULT") => ok(self.order_json(index)),
            _ => ok(ack),
        }
    }

    /// The fake trades one-way only: in hedge mode every order is refused
    /// (-4061), as the venue refuses one without the matching
    /// `positionSide`; in one-way mode only `BOTH` is accepted.
    fn check_position_side(&self, params: &Params) -> Result<(), Refusal> {
        let side = params.get("positionSide").unwrap_or("BOTH");
        if self.hedge_mode || side != "BOTH" {
            return Err(refusal(
                -4061,
                "Order's position side does not match user's setting.",
            ));
        }
        Ok(())
    }

    /// -2019 when the initial margin of `qty` at `price` exceeds what is
    /// available (or while the test refuses margin).
    fn check_margin(&self, symbol: &str, qty: Decimal, price: Decimal) -> Result<(), Refusal> {
        let needed = qty * price / self.leverage(symbol);
        if self.margin_refused || needed > self.available() {
            return Err(refusal(-2019, "Margin is insufficient."));
        }
        Ok(())
    }

    /// How much an order of `side` can reduce the position of `symbol`:
    /// `None` when it would not reduce it.
    fn reducible(&self, symbol: &str, side: Side) -> Option<Decimal> {
        let amount = self
            .positions
            .get(symbol)
            .map_or(Decimal::ZERO, |p| p.amount);
        match side {
            Side::Sell if amount > Decimal::ZERO => Some(amount),
            Side::Buy if amount < Decimal::ZERO => Some(-amount),
            _ => None,
        }
    }

    fn unrealized(&self) -> Decimal {
        self.positions
            .iter()
            .map(|(symbol, p)| {
                let mark = self.marks.get(symbol).copied().unwrap_or(p.entry_price);
                (mark - p.entry_price) * p.amount
            })
            .sum()
    }

    fn initial_margin(&self) -> Decimal {
        let positions: Decimal = self
            .positions
            .iter()
            .map(|(symbol, p)| {
                let mark = self.marks.get(symbol).copied().unwrap_or(p.entry_price);
                p.amount.abs() * mark / self.leverage(symbol)
            })
            .sum();
        let orders: Decimal = self
            .orders
            .iter()
            .filter(|o| o.is_open() && !o.reduce_only)
            .map(|o| (o.quantity - o.executed) * o.price / self.leverage(&o.symbol))
            .sum();
        positions + orders
    }

    fn available(&self) -> Decimal {
        (self.wallet + self.unrealized() - self.initial_margin()).max(Decimal::ZERO)
    }

    /// Fills the rest of order `index` at `price`, in the configured number
    /// of steps (each a `TRADE` event with the cumulative `z` and `ap`).
    fn fill(&mut self, index: usize, price: Decimal) {
        let steps = self.fill_steps.max(1);
        let order = &self.orders[index];
        let rest = order.quantity - order.executed;
        let step = self
            .filters
            .get(&order.symbol)
            .map_or(Decimal::ZERO, |f| f.lot_size.step_size);
        let part = round_to_grid(
            rest / Decimal::from(steps),
            Decimal::ZERO,
            step,
            RoundDirection::Down,
        );
        if steps > 1 && !part.is_zero() {
            for _ in 1..steps {
                self.fill_part(index, price, part);
                if !self.orders[index].is_open() {
                    return;
                }
            }
        }
        let rest = self.orders[index].quantity - self.orders[index].executed;
        self.fill_part(index, price, rest);
    }

    /// Fills up to `part` of order `index` at `price`: the position moves,
    /// realized PnL and the taker fee go to the wallet. A reduce-only order
    /// fills only what reduces the position; its rest expires.
    fn fill_part(&mut self, index: usize, price: Decimal, part: Decimal) {
        let now = self.now_ms();
        let fee_rate = self.config.taker_fee;
        let order = &mut self.orders[index];
        let mut qty = (order.quantity - order.executed).min(part);
        let mut clipped = false;
        let position = self.positions.entry(order.symbol.clone()).or_default();
        if order.reduce_only {
            let reducible = match order.side {
                Side::Sell if position.amount > Decimal::ZERO => position.amount,
                Side::Buy if position.amount < Decimal::ZERO => -position.amount,
                _ => Decimal::ZERO,
            };
            clipped = reducible < qty;
            qty = qty.min(reducible);
            if qty.is_zero() {
                order.status = "EXPIRED";
                order.update_time = now;
                let symbol = order.symbol.clone();
                if position.amount.is_zero() {
                    self.positions.remove(&symbol);
                }
                self.emit_order(
                    index,
                    "EXPIRED",
                    Decimal::ZERO,
                    Decimal::ZERO,
                    Decimal::ZERO,
                );
                return;
            }
        }
        let signed = match order.side {
            Side::Buy => qty,
            Side::Sell => -qty,
        };
        let mut realized = Decimal::ZERO;
        let old = position.amount;
        if old.is_zero() || old.is_sign_positive() == signed.is_sign_positive() {
            let total = old.abs() + qty;
            position.entry_price = (old.abs() * position.entry_price + qty * price) / total;
        } else {
            let closing = qty.min(old.abs());
            let direction = if old > Decimal::ZERO {
                Decimal::ONE
            } else {
                -Decimal::ONE
            };
            realized = closing * (price - position.entry_price) * direction;
            if qty > old.abs() {
                position.entry_price = price;
            }
        }
        position.amount = old + signed;
        if position.amount.is_zero() {
            position.entry_price = Decimal::ZERO;
        }
        if position.amount.is_zero() {
            self.positions.remove(&order.symbol);
        }
        let fee = qty * price * fee_rate;
        self.wallet += realized - fee;
        order.average_price = if order.executed.is_zero() {
            price
        } else {
            (order.average_price * order.executed + price * qty) / (order.executed + qty)
        };
        order.executed += qty;
        order.fee += fee;
        order.status = if order.executed >= order.quantity {
            "FILLED"
        } else {
            "PARTIALLY_FILLED"
        };
        if clipped {
            // The rest could only grow the position: the venue expires it.
            order.status = "EXPIRED";
        }
        order.update_time = now;
        self.emit_order(index, "TRADE", qty, price, realized);
        self.emit_account();
    }

    /// The mark of `symbol` moved: resting LIMIT orders it reached fill,
    /// stops and targets it crossed trigger.
    fn on_mark(&mut self, symbol: &str) {
        let Some(&mark) = self.marks.get(symbol) else {
            return;
        };
        self.expire_orders();
        for index in 0..self.orders.len() {
            let order = &self.orders[index];
            if order.symbol != symbol || !order.is_open() || order.order_type != "LIMIT" {
                continue;
            }
            let reached = match order.side {
                Side::Buy => mark <= order.price,
                Side::Sell => mark >= order.price,
            };
            if reached {
                let price = order.price;
                self.fill(index, price);
            }
        }
        for index in 0..self.algos.len() {
            let algo = &self.algos[index];
            if algo.symbol != symbol || algo.status != "NEW" {
                continue;
            }
            if triggers(&algo.order_type, algo.side, algo.trigger_price, mark) {
                self.trigger(index, mark);
            }
        }
    }

    /// The algo order fires: a reduce-only MARKET child fills at the mark.
    fn trigger(&mut self, index: usize, mark: Decimal) {
        let now = self.now_ms();
        let child_id = self.next_id();
        let algo = &mut self.algos[index];
        algo.status = "TRIGGERED";
        algo.trigger_time = now;
        algo.actual_order_id = Some(child_id);
        let quantity = if algo.close_position {
            self.positions
                .get(&algo.symbol)
                .map_or(Decimal::ZERO, |p| p.amount.abs())
        } else {
            algo.quantity
        };
        let child = FakeOrder {
            order_id: child_id,
            client_order_id: format!("fake-algo-{}", algo.algo_id),
            symbol: algo.symbol.clone(),
            side: algo.side,
            order_type: "MARKET",
            price: Decimal::ZERO,
            quantity,
            executed: Decimal::ZERO,
            average_price: Decimal::ZERO,
            status: "NEW",
            reduce_only: algo.reduce_only || algo.close_position,
            time_in_force: "GTC".into(),
            good_till_date: 0,
            fee: Decimal::ZERO,
            update_time: now,
        };
        self.orders.push(child);
        self.emit_algo(index);
        let child_index = self.orders.len() - 1;
        self.emit_order(
            child_index,
            "NEW",
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
        );
        self.fill(child_index, mark);
        self.algos[index].status = "FINISHED";
        self.emit_algo(index);
    }

    /// GTD orders whose date passed expire.
    fn expire_orders(&mut self) {
        let now = self.now_ms();
        for index in 0..self.orders.len() {
            let order = &mut self.orders[index];
            if order.is_open() && order.good_till_date > 0 && order.good_till_date <= now {
                order.status = "EXPIRED";
                order.update_time = now;
                self.emit_order(
                    index,
                    "EXPIRED",
                    Decimal::ZERO,
                    Decimal::ZERO,
                    Decimal::ZERO,
                );
            }
        }
    }

    fn find_order(&self, params: &Params) -> Result<usize, Refusal> {
        params.required("symbol")?;
        let found = if let Some(id) = params.get("orderId") {
            self.orders
                .iter()
                .rposition(|o| o.order_id.to_string() == id)
        } else if let Some(id) = params.get("origClientOrderId") {
            self.orders.iter().rposition(|o| o.client_order_id == id)
        } else {
            return Err(refusal(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            ));
        };
        // Forgotten: unfilled CANCELED/EXPIRED orders after 3 days, any
        // order after 90.
        const DAY_MS: i64 = 24 * 3600 * 1000;
        let now = self.now_ms();
        found
            .filter(|&i| {
                let o = &self.orders[i];
                let age = now - o.update_time;
                let unfilled_final =
                    matches!(o.status, "CANCELED" | "EXPIRED") && o.executed.is_zero();
                age <= 90 * DAY_MS && !(unfilled_final && age > 3 * DAY_MS)
            })
            .ok_or_else(|| refusal(-2013, "Order does not exist."))
    }

    fn cancel_order(&mut self, params: &Params) -> Result<Value, Refusal> {
        let index = self.find_order(params).map_err(|e| match e.code {
            -2013 => refusal(-2011, "Unknown order sent."),
            _ => e,
        })?;
        if !self.orders[index].is_open() {
            return Err(refusal(-2011, "Unknown order sent."));
        }
        self.orders[index].status = "CANCELED";
        self.orders[index].update_time = self.now_ms();
        self.emit_order(
            index,
            "CANCELED",
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
        );
        ok(self.order_json(index))
    }

    fn new_algo_order(&mut self, params: &Params) -> Result<Value, Refusal> {
        if params.required("algoType")? != "CONDITIONAL" {
            return Err(refusal(-1102, "algoType must be CONDITIONAL."));
        }
        let symbol = params.required("symbol")?.to_string();
        let side = side_of(params)?;
        self.check_position_side(params)?;
        let order_type = params.required("type")?.to_string();
        if !matches!(order_type.as_str(), "STOP_MARKET" | "TAKE_PROFIT_MARKET") {
            return Err(refusal(
                -1116,
                "Invalid orderType (the fake serves STOP_MARKET and TAKE_PROFIT_MARKET).",
            ));
        }
        if params.get("stopPrice").is_some() {
            return Err(refusal(
                -1104,
                "Not all sent parameters were read (stopPrice: the Algo Order API takes triggerPrice).",
            ));
        }
        let filters = self.filters(&symbol)?;
        let mark = self.mark(&symbol)?;
        let trigger = params.decimal("triggerPrice")?;
        check_price(&filters, params.required("triggerPrice")?, trigger)?;
        let close_position = params.flag("closePosition");
        let reduce_only = params.flag("reduceOnly");
        if close_position && reduce_only {
            return Err(refusal(
                -1106,
                "Parameter 'reduceOnly' sent when not required.",
            ));
        }
        let quantity = if close_position {
            Decimal::ZERO
        } else {
            let qty = params.decimal("quantity")?;
            check_quantity(
                &filters,
                params.required("quantity")?,
                qty,
                OrderKind::Market,
            )?;
            if !reduce_only && filters.check_notional(trigger, qty).is_err() {
                return Err(refusal(
                    -4164,
                    "Order's notional must be no smaller than the minimum (unless you choose reduce only).",
                ));
            }
            qty
        };
        if triggers(&order_type, side, trigger, mark) {
            return Err(refusal(-2021, "Order would immediately trigger."));
        }
        let client_id = match params.get("clientAlgoId") {
            Some(id) => id.to_string(),
            None => format!("fake-{}", self.next_id()),
        };
        if self
            .algos
            .iter()
            .any(|a| a.status == "NEW" && a.client_algo_id == client_id)
        {
            return Err(refusal(-4116, "ClientOrderId is duplicated."));
        }
        let algo_id = self.next_id();
        let now = self.now_ms();
        self.algos.push(FakeAlgoOrder {
            algo_id,
            client_algo_id: client_id,
            symbol,
            side,
            order_type,
            quantity,
            trigger_price: trigger,
            status: "NEW",
            reduce_only,
            close_position,
            working_type: params.get("workingType").unwrap_or("CONTRACT_PRICE").into(),
            create_time: now,
            trigger_time: 0,
            actual_order_id: None,
        });
        self.emit_algo(self.algos.len() - 1);
        ok(self.algo_json(self.algos.len() - 1))
    }

    fn find_algo(&self, params: &Params) -> Result<usize, Refusal> {
        let found = if let Some(id) = params.get("algoId") {
            self.algos.iter().rposition(|a| a.algo_id.to_string() == id)
        } else if let Some(id) = params.get("clientAlgoId") {
            self.algos.iter().rposition(|a| a.client_algo_id == id)
        } else {
            return Err(refusal(
                -1102,
                "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!",
            ));
        };
        found.ok_or_else(|| refusal(-2013, "Order does not exist."))
    }

    fn steps(&self, symbol: &str) -> (Decimal, Decimal) {
        self.filters
            .get(symbol)
            .map_or((Decimal::ZERO, Decimal::ZERO), |f| {
                (f.price.tick_size, f.lot_size.step_size)
            })
    }

    /// Sends a user-stream event to every open stream socket.
    fn emit(&self, event: Value) {
        if !self.events_muted {
            let _ = self.events.send(event);
        }
    }

    /// `ORDER_TRADE_UPDATE` of order `index` (`x` = `execution`, with this
    /// fill's quantity, price and realized PnL).
    fn emit_order(
        &self,
        index: usize,
        execution: &str,
        last_qty: Decimal,
        last_price: Decimal,
        realized: Decimal,
    ) {
        let o = &self.orders[index];
        let (tick, step) = self.steps(&o.symbol);
        let now = self.now_ms();
        let fee = last_qty * last_price * self.config.taker_fee;
        self.emit(json!({
            "e": "ORDER_TRADE_UPDATE", "E": now, "T": now,
            "o": {
                "s": o.symbol, "c": o.client_order_id, "S": side_text(o.side),
                "o": o.order_type, "f": o.time_in_force, "q": wire(o.quantity, step),
                "p": wire(o.price, tick), "ap": o.average_price.normalize().to_string(),
                "sp": "0", "x": execution, "X": o.status, "i": o.order_id,
                "l": wire(last_qty, step), "z": wire(o.executed, step),
                "L": last_price.normalize().to_string(), "N": "USDT",
                "n": fee.normalize().to_string(), "T": now, "t": now,
                "b": "0", "a": "0", "m": false, "R": o.reduce_only,
                "wt": "CONTRACT_PRICE", "ot": o.order_type, "ps": "BOTH", "cp": false,
                "rp": realized.normalize().to_string(), "pP": false, "si": 0, "ss": 0,
                "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": o.good_till_date,
            }
        }));
    }

    /// `ALGO_UPDATE` of algo order `index`.
    fn emit_algo(&self, index: usize) {
        let a = &self.algos[index];
        let (tick, step) = self.steps(&a.symbol);
        let child = a
            .actual_order_id
            .and_then(|id| self.orders.iter().find(|o| o.order_id == id));
        let now = self.now_ms();
        self.emit(json!({
            "e": "ALGO_UPDATE", "T": now, "E": now,
            "o": {
                "caid": a.client_algo_id, "aid": a.algo_id, "at": "CONDITIONAL",
                "o": a.order_type, "s": a.symbol, "S": side_text(a.side), "ps": "BOTH",
                "f": "GTC", "q": wire(a.quantity, step), "X": a.status,
                "ai": a.actual_order_id.map_or(String::new(), |id| id.to_string()),
                "ap": child.map_or("0".to_string(), |c| c.average_price.normalize().to_string()),
                "aq": child.map_or("0".to_string(), |c| wire(c.executed, step)),
                "act": "0", "tp": wire(a.trigger_price, tick), "p": "0", "V": "EXPIRE_MAKER",
                "wt": a.working_type, "pm": "NONE", "cp": a.close_position, "pP": false,
                "R": a.reduce_only, "tt": a.trigger_time, "gtd": 0, "rm": "",
            }
        }));
    }

    /// `ACCOUNT_UPDATE` after a fill: the wallet and every position.
    fn emit_account(&self) {
        let now = self.now_ms();
        let mut positions: Vec<Value> = self
            .positions
            .iter()
            .map(|(symbol, p)| {
                let mark = self.marks.get(symbol).copied().unwrap_or(p.entry_price);
                json!({"s": symbol, "pa": p.amount.normalize().to_string(),
                    "ep": p.entry_price.normalize().to_string(),
                    "bep": p.entry_price.normalize().to_string(), "cr": "0",
                    "up": ((mark - p.entry_price) * p.amount).normalize().to_string(),
                    "mt": "cross", "iw": "0", "ps": "BOTH"})
            })
            .collect();
        positions.sort_by(|a, b| a["s"].as_str().cmp(&b["s"].as_str()));
        self.emit(json!({
            "e": "ACCOUNT_UPDATE", "E": now, "T": now,
            "a": {"m": "ORDER",
                "B": [{"a": "USDT", "wb": self.wallet.normalize().to_string(),
                    "cw": self.wallet.normalize().to_string(), "bc": "0"}],
                "P": positions}
        }));
    }

    fn order_json(&self, index: usize) -> Value {
        let o = &self.orders[index];
        let (tick, step) = self.steps(&o.symbol);
        json!({
            "orderId": o.order_id, "symbol": o.symbol, "status": o.status,
            "clientOrderId": o.client_order_id,
            "price": wire(o.price, tick), "avgPrice": o.average_price.normalize().to_string(),
            "origQty": wire(o.quantity, step), "executedQty": wire(o.executed, step),
            "cumQty": wire(o.executed, step),
            "cumQuote": (o.executed * o.average_price).normalize().to_string(),
            "timeInForce": o.time_in_force, "type": o.order_type, "origType": o.order_type,
            "reduceOnly": o.reduce_only, "closePosition": false,
            "side": side_text(o.side), "positionSide": "BOTH", "stopPrice": "0",
            "workingType": "CONTRACT_PRICE", "priceProtect": false, "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": o.good_till_date,
            "updateTime": o.update_time,
        })
    }

    fn algo_json(&self, index: usize) -> Value {
        let a = &self.algos[index];
        let (tick, step) = self.steps(&a.symbol);
        let mut value = json!({
            "algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "algoType": "CONDITIONAL",
            "orderType": a.order_type, "symbol": a.symbol, "side": side_text(a.side),
            "positionSide": "BOTH", "timeInForce": "GTC", "quantity": wire(a.quantity, step),
            "algoStatus": a.status, "triggerPrice": wire(a.trigger_price, tick), "price": "0",
            "workingType": a.working_type, "priceMatch": "NONE",
            "closePosition": a.close_position, "priceProtect": false,
            "reduceOnly": a.reduce_only, "createTime": a.create_time, "updateTime": a.create_time,
            "triggerTime": a.trigger_time, "goodTillDate": 0,
        });
        if let Some(child) = a.actual_order_id {
            if let Some(order) = self.orders.iter().find(|o| o.order_id == child) {
                value["actualOrderId"] = json!(child.to_string());
                value["actualPrice"] = json!(order.average_price.normalize().to_string());
                value["actualQty"] = json!(wire(order.executed, step));
                value["actualType"] = json!("MARKET");
            }
        }
        value
    }

    fn account_json(&self) -> Value {
        let unrealized = self.unrealized();
        let available = self.available();
        let margin = self.initial_margin();
        let positions: Vec<Value> = self.position_risk(None);
        json!({
            "totalInitialMargin": margin.normalize().to_string(),
            "totalMaintMargin": "0",
            "totalWalletBalance": self.wallet.normalize().to_string(),
            "totalUnrealizedProfit": unrealized.normalize().to_string(),
            "totalMarginBalance": (self.wallet + unrealized).normalize().to_string(),
            "totalPositionInitialMargin": margin.normalize().to_string(),
            "totalOpenOrderInitialMargin": "0",
            "totalCrossWalletBalance": self.wallet.normalize().to_string(),
            "totalCrossUnPnl": unrealized.normalize().to_string(),
            "availableBalance": available.normalize().to_string(),
            "maxWithdrawAmount": available.normalize().to_string(),
            "assets": [{"asset": "USDT", "walletBalance": self.wallet.normalize().to_string(),
                "unrealizedProfit": unrealized.normalize().to_string(),
                "marginBalance": (self.wallet + unrealized).normalize().to_string(),
                "availableBalance": available.normalize().to_string()}],
            "positions": positions,
        })
    }

    /// `/fapi/v3/positionRisk`: symbols with a position or open orders.
    fn position_risk(&self, only: Option<&str>) -> Vec<Value> {
        let mut symbols: Vec<&String> = self
            .positions
            .keys()
            .chain(
                self.orders
                    .iter()
                    .filter(|o| o.is_open())
                    .map(|o| &o.symbol),
            )
            .filter(|s| only.is_none_or(|only| only == s.as_str()))
            .collect();
        symbols.sort();
        symbols.dedup();
        symbols
            .into_iter()
            .map(|symbol| {
                let p = self.positions.get(symbol).copied().unwrap_or_default();
                let mark = self.marks.get(symbol).copied().unwrap_or(p.entry_price);
                let (_, step) = self.steps(symbol);
                json!({
                    "symbol": symbol, "positionSide": "BOTH",
                    "positionAmt": wire(p.amount, step),
                    "entryPrice": p.entry_price.normalize().to_string(),
                    "breakEvenPrice": p.entry_price.normalize().to_string(),
                    "markPrice": mark.normalize().to_string(),
                    "unRealizedProfit": ((mark - p.entry_price) * p.amount).normalize().to_string(),
                    "liquidationPrice": "0",
                    "notional": (p.amount * mark).normalize().to_string(),
                    "initialMargin": (p.amount.abs() * mark / self.leverage(symbol)).normalize().to_string(),
                    "leverage": self.leverage(symbol).to_string(),
                    "maintMargin": "0", "updateTime": self.now_ms(),
                })
            })
            .collect()
    }
}

/// Whether a conditional order fires at `mark` (§11.1): `STOP*` BUY at or
/// above the trigger, SELL at or below; `TAKE_PROFIT*` the reverse.
fn triggers(order_type: &str, side: Side, trigger: Decimal, mark: Decimal) -> bool {
    let stop = order_type.starts_with("STOP");
    match (stop, side) {
        (true, Side::Buy) | (false, Side::Sell) => mark >= trigger,
        (true, Side::Sell) | (false, Side::Buy) => mark <= trigger,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // §11.1: the published example must pass the fake's check, in the query
    // string, in the body, and split between them; a `&` at the seam or
    // another secret must not.
    const TOTAL_PARAMS: &str = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943";
    const SIGNATURE: &str = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9";

    fn account_at_vector_time() -> Account {
        let config = FakeBinanceConfig::default();
        Account {
            wallet: config.balance,
            filters: symbols_of(&config.exchange_info),
            config,
            clock_offset_ms: 1_591_702_614_000 - quantpro_model::now_ms(),
            marks: HashMap::new(),
            orders: Vec::new(),
            algos: Vec::new(),
            positions: HashMap::new(),
            next_id: 1,
            faults: HashMap::new(),
            margin_refused: false,
            requests: Vec::new(),
            listen_key: None,
            leverages: HashMap::new(),
            hedge_mode: false,
            fill_steps: 1,
            events: tokio::sync::broadcast::channel(16).0,
            events_muted: false,
        }
    }

    fn check(account: &Account, query: &str, body: &str) -> Result<(), Refusal> {
        let mut headers = HeaderMap::new();
        headers.insert("x-mbx-apikey", API_KEY.parse().unwrap());
        let mut params = parse_form(query);
        params.extend(parse_form(body));
        authenticate(account, &headers, query, body, &Params(params))
    }

    #[test]
    fn the_published_hmac_example_passes_the_fake() {
        let account = account_at_vector_time();
        let signed = format!("{TOTAL_PARAMS}&signature={SIGNATURE}");
        check(&account, &signed, "").unwrap();
        check(&account, "", &signed).unwrap();
        let upper = format!("{TOTAL_PARAMS}&signature={}", SIGNATURE.to_uppercase());
        check(&account, &upper, "").unwrap();
        let (query, body) = TOTAL_PARAMS.split_at(40);
        check(&account, query, &format!("{body}&signature={SIGNATURE}")).unwrap();
        let seam = check(
            &account,
            &format!("{query}&"),
            &format!("{body}&signature={SIGNATURE}"),
        );
        assert_eq!(seam.unwrap_err().code, -1022);
        let mut other = account_at_vector_time();
        other.config.secret = "another".into();
        assert_eq!(check(&other, &signed, "").unwrap_err().code, -1022);
    }

    #[test]
    fn the_fake_refuses_a_stale_timestamp_and_a_bad_key() {
        let mut account = account_at_vector_time();
        account.clock_offset_ms += 6000;
        let signed = format!("{TOTAL_PARAMS}&signature={SIGNATURE}");
        assert_eq!(check(&account, &signed, "").unwrap_err().code, -1021);
        account.config.api_key = "someoneelse".into();
        assert_eq!(check(&account, &signed, "").unwrap_err().code, -2015);
    }

    #[test]
    fn triggers_follow_the_documented_directions() {
        let d = |t: &str| t.parse::<Decimal>().unwrap();
        assert!(triggers("STOP_MARKET", Side::Sell, d("100"), d("99")));
        assert!(!triggers("STOP_MARKET", Side::Sell, d("100"), d("101")));
        assert!(triggers("STOP_MARKET", Side::Buy, d("100"), d("100")));
        assert!(triggers(
            "TAKE_PROFIT_MARKET",
            Side::Sell,
            d("100"),
            d("101")
        ));
        assert!(triggers("TAKE_PROFIT_MARKET", Side::Buy, d("100"), d("99")));
    }
}
