//! Binance spot (`/api/v3`, `/stream`) and USD-M (`/fapi/v1`,
//! `/market/stream`) as EXTERNAL_APIS.md §4 and §9.1 describe them.

use super::limits::Verdict;
use super::log::{RestRecord, WsKind};
use super::market::{Bar, Iv};
use super::ws::{self, decimal, text, Conn, Flavor, Outcome};
use super::{Shared, UnknownStream, Venue};
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    venue: Venue,
}

pub(crate) fn router(shared: Arc<Shared>, venue: Venue) -> Router {
    let app = App { shared, venue };
    let router = if venue == Venue::BinanceSpot {
        Router::new()
            .route("/api/v3/klines", get(klines))
            .route("/api/v3/exchangeInfo", get(exchange_info))
            .route("/api/v3/ticker/24hr", get(tickers))
            .route("/stream", get(stream))
    } else {
        Router::new()
            .route("/fapi/v1/klines", get(klines))
            .route("/fapi/v1/exchangeInfo", get(exchange_info))
            .route("/fapi/v1/ticker/24hr", get(tickers))
            .route("/market/stream", get(stream))
            .route("/stream", get(legacy_stream))
    };
    router.with_state(app)
}

fn spot(venue: Venue) -> bool {
    venue == Venue::BinanceSpot
}

fn error(code: i64, msg: &str) -> (StatusCode, Value) {
    (StatusCode::BAD_REQUEST, json!({"code": code, "msg": msg}))
}

/// Charges the weight, logs the request, answers with the weight header.
fn answer(
    app: &App,
    path: &str,
    query: Option<String>,
    weight: u32,
    serve: impl FnOnce() -> (StatusCode, Value),
) -> Response {
    let shared = &app.shared;
    let now_ms = shared.market.now_ms();
    let verdict = shared.limits.charge(app.venue, weight);
    let (status, body, retry_after, used, during_ban) = match verdict {
        Verdict::Served { used } => {
            let (status, body) = serve();
            (status, body, None, used, false)
        }
        Verdict::TooMany {
            retry_after_s,
            used,
        } => {
            let limit = if spot(app.venue) { 6000 } else { 2400 };
            let msg = format!("Too many requests; current limit of IP(127.0.0.1) request weight per minute is {limit}. Please use WebSocket Streams for live updates to avoid polling the API.");
            (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"code": -1003, "msg": msg}),
                Some(retry_after_s),
                used,
                false,
            )
        }
        Verdict::Banned { retry_after_s, .. } => {
            let until_ms = now_ms + (retry_after_s as f64 * 1000.0 * shared.market.speed()) as i64;
            let msg = format!("Way too many requests; IP(127.0.0.1) banned until {until_ms}. Please use the websocket for live updates to avoid bans.");
            (
                StatusCode::IM_A_TEAPOT,
                json!({"code": -1003, "msg": msg}),
                Some(retry_after_s),
                shared.limits.used(app.venue),
                true,
            )
        }
    };
    shared.log.rest_request(RestRecord {
        venue: app.venue,
        method: "GET".into(),
        path: path.into(),
        query: query.unwrap_or_default(),
        body: None,
        status: status.as_u16(),
        weight: if matches!(verdict, Verdict::Served { .. }) {
            weight
        } else {
            0
        },
        during_ban,
        at_ms: now_ms,
    });
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert("x-mbx-used-weight-1m", HeaderValue::from(used));
    headers.insert("x-mbx-used-weight", HeaderValue::from(used));
    if let Some(secs) = retry_after {
        headers.insert("retry-after", HeaderValue::from(secs));
    }
    response
}

/// Futures klines cost more for larger pages.
fn klines_weight(venue: Venue, limit: usize) -> u32 {
    if spot(venue) {
        return 2;
    }
    match limit {
        0..=99 => 1,
        100..=499 => 2,
        500..=1000 => 5,
        _ => 10,
    }
}

fn parse_ms(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<i64>, (StatusCode, Value)> {
    params
        .get(name)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| error(-1100, &format!("Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")))
        })
        .transpose()
}

/// Rows opening in `[startTime, endTime]`: the oldest `limit` from a start,
/// else the newest `limit` up to the end (or now).
pub(crate) fn select(
    bars: Vec<Bar>,
    start: Option<i64>,
    end: Option<i64>,
    limit: usize,
) -> Vec<Bar> {
    let within: Vec<Bar> = bars
        .into_iter()
        .filter(|b| start.is_none_or(|s| b.t >= s) && end.is_none_or(|e| b.t <= e))
        .collect();
    if start.is_some() {
        within.into_iter().take(limit).collect()
    } else {
        let skip = within.len().saturating_sub(limit);
        within.into_iter().skip(skip).collect()
    }
}

fn kline_row(bar: &Bar, iv: Iv) -> Value {
    let quote = bar.v * bar.c;
    json!([
        bar.t,
        decimal(bar.o),
        decimal(bar.h),
        decimal(bar.l),
        decimal(bar.c),
        decimal(bar.v),
        bar.t + iv.ms() - 1,
        decimal(quote),
        trade_count(bar),
        decimal(bar.v / 2.0),
        decimal(quote / 2.0),
        "0"
    ])
}

/// A trade count derived from the volume (the data has none).
fn trade_count(bar: &Bar) -> u64 {
    (bar.v.sqrt() * 10.0) as u64 + 1
}

async fn klines(
    State(app): State<App>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let venue = app.venue;
    let max_limit = if spot(venue) { 1000 } else { 1500 };
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(500);
    let path = if spot(venue) {
        "/api/v3/klines"
    } else {
        "/fapi/v1/klines"
    };
    let shared = app.shared.clone();
    answer(&app, path, raw, klines_weight(venue, limit), || {
        let Some(symbol) = params.get("symbol") else {
            return error(
                -1102,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
            );
        };
        if !shared.market.is_listed(venue, symbol) {
            return error(-1121, "Invalid symbol.");
        }
        let Some(code) = params.get("interval") else {
            return error(
                -1102,
                "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
            );
        };
        let valid = [
            "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
            "1M",
        ];
        if !(valid.contains(&code.as_str()) || spot(venue) && code == "1s") {
            return error(-1120, "Invalid interval.");
        }
        if limit == 0 || limit > max_limit {
            return error(-1130, "Data sent for parameter 'limit' is not valid.");
        }
        let (start, end) = match (parse_ms(&params, "startTime"), parse_ms(&params, "endTime")) {
            (Ok(s), Ok(e)) => (s, e),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        // A valid interval the data has no file for: no candles.
        let Some(iv) = Iv::from_code(code) else {
            return (StatusCode::OK, json!([]));
        };
        let now = shared.market.now_ms();
        let bars =
            shared
                .market
                .rest_bars(venue, symbol, iv, now, shared.config.rest_includes_forming);
        let rows: Vec<Value> = select(bars, start, end, limit)
            .iter()
            .map(|b| kline_row(b, iv))
            .collect();
        (StatusCode::OK, Value::Array(rows))
    })
}

async fn exchange_info(
    State(app): State<App>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let venue = app.venue;
    let path = if spot(venue) {
        "/api/v3/exchangeInfo"
    } else {
        "/fapi/v1/exchangeInfo"
    };
    let weight = if spot(venue) { 20 } else { 1 };
    let shared = app.shared.clone();
    answer(&app, path, raw, weight, || {
        let listed = shared.market.listed(venue);
        let wanted: Vec<String> = match params.get("symbol") {
            Some(symbol) if !listed.contains(symbol) => return error(-1121, "Invalid symbol."),
            Some(symbol) => vec![symbol.clone()],
            None => listed,
        };
        let symbols: Vec<Value> = wanted
            .iter()
            .map(|symbol| {
                let base = symbol.strip_suffix("USDT").unwrap_or(symbol);
                if spot(venue) {
                    json!({"symbol": symbol, "status": "TRADING", "baseAsset": base, "quoteAsset": "USDT",
                           "isSpotTradingAllowed": true, "permissions": ["SPOT"]})
                } else {
                    json!({"symbol": symbol, "pair": symbol, "contractType": "PERPETUAL", "status": "TRADING",
                           "baseAsset": base, "quoteAsset": "USDT", "marginAsset": "USDT"})
                }
            })
            .collect();
        let limit = if spot(venue) {
            shared.config.budgets.binance_spot
        } else {
            shared.config.budgets.binance_futures
        };
        (
            StatusCode::OK,
            json!({
                "timezone": "UTC",
                "serverTime": shared.market.now_ms(),
                "rateLimits": [
                    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limit},
                    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100}
                ],
                "exchangeFilters": [],
                "symbols": symbols,
            }),
        )
    })
}

async fn tickers(
    State(app): State<App>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let venue = app.venue;
    let path = if spot(venue) {
        "/api/v3/ticker/24hr"
    } else {
        "/fapi/v1/ticker/24hr"
    };
    let weight = match (spot(venue), params.contains_key("symbol")) {
        (true, true) => 2,
        (true, false) => 80,
        (false, true) => 1,
        (false, false) => 40,
    };
    let shared = app.shared.clone();
    answer(&app, path, raw, weight, || {
        let now = shared.market.now_ms();
        let ticker = |symbol: &str| -> Option<Value> {
            let day = shared.market.day_stats(venue, symbol, now)?;
            let change = day.last - day.open;
            Some(json!({
                "symbol": symbol,
                "priceChange": decimal(change),
                "priceChangePercent": format!("{:.3}", change / day.open * 100.0),
                "weightedAvgPrice": decimal(day.quote_volume / day.base_volume.max(f64::MIN_POSITIVE)),
                "lastPrice": decimal(day.last),
                "openPrice": decimal(day.open),
                "highPrice": decimal(day.high),
                "lowPrice": decimal(day.low),
                "volume": decimal(day.base_volume),
                "quoteVolume": decimal(day.quote_volume),
                "openTime": day.open_time,
                "closeTime": day.close_time,
                "count": 1000,
            }))
        };
        match params.get("symbol") {
            Some(symbol) if shared.market.is_listed(venue, symbol) => match ticker(symbol) {
                Some(t) => (StatusCode::OK, t),
                None => error(-1121, "Invalid symbol."),
            },
            Some(_) => error(-1121, "Invalid symbol."),
            None => (
                StatusCode::OK,
                Value::Array(
                    shared
                        .market
                        .listed(venue)
                        .iter()
                        .filter_map(|s| ticker(s))
                        .collect(),
                ),
            ),
        }
    })
}

/// `streams=btcusdt@kline_15m/...` -> (symbol, interval); unknown names are skipped.
fn parse_stream_name(name: &str) -> Option<(String, Option<Iv>)> {
    let (symbol, kind) = name.split_once('@')?;
    let code = kind.strip_prefix("kline_")?;
    if symbol.is_empty() || symbol != symbol.to_ascii_lowercase() {
        return None;
    }
    Some((symbol.to_ascii_uppercase(), Iv::from_code(code)))
}

async fn stream(
    State(app): State<App>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    let shared = app.shared.clone();
    let venue = app.venue;
    if shared.refusing(venue) {
        shared
            .log
            .ws_event(venue, 0, shared.market.now_ms(), WsKind::Refused);
        return (StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response();
    }
    let initial: Vec<(String, Iv)> = params
        .get("streams")
        .map(|s| {
            s.split('/')
                .filter_map(parse_stream_name)
                .filter_map(|(symbol, iv)| Some((symbol, iv?)))
                .collect()
        })
        .unwrap_or_default();
    let path = if spot(venue) {
        "/stream"
    } else {
        "/market/stream"
    };
    let asked = match raw {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let flavor: Arc<dyn Flavor> = Arc::new(BinanceFlavor { venue });
    upgrade.on_upgrade(move |socket| ws::serve(socket, shared, flavor, initial, asked))
}

async fn legacy_stream(
    State(app): State<App>,
    RawQuery(raw): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    let asked = format!("/stream?{}", raw.unwrap_or_default());
    upgrade.on_upgrade(move |socket| ws::serve_silent(socket, app.shared, app.venue, asked))
}

struct BinanceFlavor {
    venue: Venue,
}

impl BinanceFlavor {
    fn control(&self, shared: &Shared, conn: &mut Conn, request: &Value) -> Value {
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let invalid =
            |msg: &str| json!({"code": 2, "msg": format!("Invalid request: {msg}"), "id": id});
        let names = || -> Result<Vec<(String, Iv)>, Value> {
            let params = request
                .get("params")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("'params' must be an array"))?;
            let mut out = Vec::new();
            for param in params {
                let name = param
                    .as_str()
                    .ok_or_else(|| invalid("stream names must be strings"))?;
                let (symbol, iv) = parse_stream_name(name)
                    .ok_or_else(|| invalid(&format!("invalid stream name '{name}'")))?;
                let known = shared.market.is_listed(self.venue, &symbol);
                if !known && shared.config.binance_unknown_symbol == UnknownStream::Error {
                    return Err(invalid(&format!("unknown symbol in '{name}'")));
                }
                if let (true, Some(iv)) = (known, iv) {
                    out.push((symbol, iv));
                }
            }
            Ok(out)
        };
        match request.get("method").and_then(Value::as_str) {
            Some("SUBSCRIBE") => match names() {
                Ok(keys) => {
                    for (symbol, iv) in keys {
                        conn.add(&symbol, iv);
                    }
                    json!({"result": null, "id": id})
                }
                Err(e) => e,
            },
            Some("UNSUBSCRIBE") => match names() {
                Ok(keys) => {
                    for (symbol, iv) in keys {
                        conn.remove(&symbol, iv);
                    }
                    json!({"result": null, "id": id})
                }
                Err(e) => e,
            },
            Some("LIST_SUBSCRIPTIONS") => {
                let list: Vec<String> = conn
                    .subs
                    .keys()
                    .map(|(s, iv)| format!("{}@kline_{}", s.to_ascii_lowercase(), iv.code()))
                    .collect();
                json!({"result": list, "id": id})
            }
            _ => invalid("unknown method"),
        }
    }
}

impl Flavor for BinanceFlavor {
    fn venue(&self) -> Venue {
        self.venue
    }

    fn kline(&self, shared: &Shared, symbol: &str, iv: Iv, bar: &Bar, closed: bool) -> Message {
        let quote = bar.v * bar.c;
        let name = format!("{}@kline_{}", symbol.to_ascii_lowercase(), iv.code());
        text(
            json!({"stream": name, "data": {
                "e": "kline", "E": shared.market.now_ms(), "s": symbol,
                "k": {"t": bar.t, "T": bar.t + iv.ms() - 1, "s": symbol, "i": iv.code(), "f": 100, "L": 200,
                      "o": decimal(bar.o), "c": decimal(bar.c), "h": decimal(bar.h), "l": decimal(bar.l),
                      "v": decimal(bar.v), "n": trade_count(bar), "x": closed, "q": decimal(quote),
                      "V": decimal(bar.v / 2.0), "Q": decimal(quote / 2.0), "B": "0"}}})
            .to_string(),
        )
    }

    fn on_client(&self, shared: &Shared, conn: &mut Conn, body: &str) -> Outcome {
        let reply = match serde_json::from_str::<Value>(body) {
            Ok(request) if request.is_object() => self.control(shared, conn, &request),
            Ok(_) => {
                json!({"code": 2, "msg": "Invalid request: request must be an object", "id": null})
            }
            Err(e) => json!({"code": 3, "msg": format!("Invalid JSON: {e}"), "id": null}),
        };
        Outcome {
            replies: vec![text(reply.to_string())],
            drop: None,
        }
    }

    fn shutdown_notice(&self, now_ms: i64) -> Option<Message> {
        Some(text(
            json!({"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": now_ms}})
                .to_string(),
        ))
    }

    fn server_pings(&self, shared: &Shared) -> Option<(Duration, Duration)> {
        Some(shared.config.binance_ping.unwrap_or(if spot(self.venue) {
            (Duration::from_secs(20), Duration::from_secs(60))
        } else {
            (Duration::from_secs(180), Duration::from_secs(600))
        }))
    }

    fn max_messages_per_second(&self) -> Option<usize> {
        Some(if spot(self.venue) { 5 } else { 10 })
    }

    fn max_streams(&self) -> Option<usize> {
        Some(1024)
    }
}
