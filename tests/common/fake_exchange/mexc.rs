//! MEXC contract REST (`/api/v1/contract/...`) and the `/edge` kline
//! stream, as EXTERNAL_APIS.md §2b and §9.3 describe them.

use super::limits::Verdict;
use super::log::{RestRecord, WsKind};
use super::market::{contract_size, Bar, Iv};
use super::ws::{self, text, Conn, Flavor, Outcome};
use super::{Shared, Venue};
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

const VENUE: Venue = Venue::MexcFutures;
const MAX_BARS: usize = 2000;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/contract/kline/{symbol}", get(klines))
        .route("/api/v1/contract/detail", get(detail))
        .route("/api/v1/contract/ticker", get(ticker))
        .route("/edge", get(stream))
        .with_state(shared)
}

fn ok(data: Value) -> (StatusCode, Value) {
    (
        StatusCode::OK,
        json!({"success": true, "code": 0, "data": data}),
    )
}

fn fail(code: i64, message: &str) -> (StatusCode, Value) {
    (
        StatusCode::OK,
        json!({"success": false, "code": code, "message": message}),
    )
}

/// Charges one call, logs it, answers (code 510 past the limit).
fn answer(
    shared: &Shared,
    path: String,
    query: Option<String>,
    serve: impl FnOnce() -> (StatusCode, Value),
) -> Response {
    let now_ms = shared.market.now_ms();
    let (status, body, weight) = match shared.limits.charge(VENUE, 1) {
        Verdict::Served { .. } => {
            let (status, body) = serve();
            (status, body, 1)
        }
        _ => {
            let status =
                StatusCode::from_u16(shared.config.mexc_510_status).unwrap_or(StatusCode::OK);
            (
                status,
                json!({"success": false, "code": 510, "message": "Request frequency too high"}),
                0,
            )
        }
    };
    shared.log.rest_request(RestRecord {
        venue: VENUE,
        method: "GET".into(),
        path,
        query: query.unwrap_or_default(),
        body: None,
        status: status.as_u16(),
        weight,
        during_ban: false,
        at_ms: now_ms,
    });
    (status, Json(body)).into_response()
}

fn parse_secs(
    params: &HashMap<String, String>,
    name: &str,
) -> Result<Option<i64>, (StatusCode, Value)> {
    params
        .get(name)
        .map(|v| v.parse::<i64>().map_err(|_| fail(600, "Parameter error")))
        .transpose()
}

async fn klines(
    State(shared): State<Arc<Shared>>,
    Path(symbol): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let path = format!("/api/v1/contract/kline/{symbol}");
    let market_shared = shared.clone();
    answer(&shared, path, raw, || {
        let shared = market_shared;
        if !shared.market.is_listed(VENUE, &symbol) {
            return fail(1001, "contract does not exist");
        }
        let code = params.get("interval").map(String::as_str).unwrap_or("Min1");
        let valid = [
            "Min1", "Min5", "Min15", "Min30", "Min60", "Hour4", "Hour8", "Day1", "Week1", "Month1",
        ];
        if !valid.contains(&code) {
            return fail(600, "Parameter error");
        }
        let (start, end) = match (parse_secs(&params, "start"), parse_secs(&params, "end")) {
            (Ok(s), Ok(e)) => (s, e),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let bars = match Iv::from_mexc_code(code) {
            Some(iv) => {
                let now = shared.market.now_ms();
                let all = shared.market.rest_bars(
                    VENUE,
                    &symbol,
                    iv,
                    now,
                    shared.config.rest_includes_forming,
                );
                let within: Vec<Bar> = all
                    .into_iter()
                    .filter(|b| {
                        start.is_none_or(|s| b.t / 1000 >= s) && end.is_none_or(|e| b.t / 1000 <= e)
                    })
                    .collect();
                if start.is_some() {
                    within.into_iter().take(MAX_BARS).collect()
                } else {
                    let skip = within.len().saturating_sub(MAX_BARS);
                    within.into_iter().skip(skip).collect::<Vec<_>>()
                }
            }
            None => Vec::new(),
        };
        let size = contract_size(&symbol);
        let column = |f: fn(&Bar) -> f64| Value::Array(bars.iter().map(|b| json!(f(b))).collect());
        ok(json!({
            "time": Value::Array(bars.iter().map(|b| json!(b.t / 1000)).collect()),
            "open": column(|b| b.o),
            "close": column(|b| b.c),
            "high": column(|b| b.h),
            "low": column(|b| b.l),
            "vol": Value::Array(bars.iter().map(|b| json!(b.v / size)).collect()),
            "amount": column(|b| b.v * b.c),
            "realOpen": column(|b| b.o),
            "realClose": column(|b| b.c),
            "realHigh": column(|b| b.h),
            "realLow": column(|b| b.l),
        }))
    })
}

fn contract(symbol: &str) -> Value {
    let (base, quote) = symbol.split_once('_').unwrap_or((symbol, "USDT"));
    json!({"symbol": symbol, "displayName": format!("{base}{quote} Perpetual"), "baseCoin": base,
           "quoteCoin": quote, "settleCoin": quote, "contractSize": contract_size(symbol),
           "minLeverage": 1, "maxLeverage": 200, "priceScale": 2, "volScale": 0, "state": 0})
}

async fn detail(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let market_shared = shared.clone();
    answer(&shared, "/api/v1/contract/detail".into(), raw, || {
        let listed = market_shared.market.listed(VENUE);
        match params.get("symbol") {
            Some(symbol) if listed.contains(symbol) => ok(contract(symbol)),
            Some(_) => fail(1001, "contract does not exist"),
            None => ok(Value::Array(listed.iter().map(|s| contract(s)).collect())),
        }
    })
}

async fn ticker(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let market_shared = shared.clone();
    answer(&shared, "/api/v1/contract/ticker".into(), raw, || {
        let shared = market_shared;
        let now = shared.market.now_ms();
        let one = |symbol: &str| -> Option<Value> {
            let day = shared.market.day_stats(VENUE, symbol, now)?;
            let size = contract_size(symbol);
            Some(
                json!({"symbol": symbol, "lastPrice": day.last, "bid1": day.last, "ask1": day.last,
                        "volume24": day.base_volume / size, "amount24": day.quote_volume,
                        "holdVol": day.base_volume / size / 4.0, "lower24Price": day.low,
                        "high24Price": day.high, "riseFallRate": (day.last - day.open) / day.open,
                        "indexPrice": day.last, "fairPrice": day.last, "fundingRate": 0.0001,
                        "timestamp": now}),
            )
        };
        let listed = shared.market.listed(VENUE);
        match params.get("symbol") {
            Some(symbol) if listed.contains(symbol) => {
                one(symbol).map_or_else(|| fail(1001, "contract does not exist"), ok)
            }
            Some(_) => fail(1001, "contract does not exist"),
            None => ok(Value::Array(listed.iter().filter_map(|s| one(s)).collect())),
        }
    })
}

async fn stream(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    if shared.refusing(VENUE) {
        shared
            .log
            .ws_event(VENUE, 0, shared.market.now_ms(), WsKind::Refused);
        return (StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response();
    }
    let flavor: Arc<dyn Flavor> = Arc::new(MexcFlavor);
    upgrade.on_upgrade(move |socket| ws::serve(socket, shared, flavor, Vec::new(), "/edge".into()))
}

struct MexcFlavor;

/// Gzips a frame the way MEXC's compressed pushes come (binary).
pub(crate) fn gzip(body: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body.as_bytes()).expect("in-memory gzip");
    encoder.finish().expect("in-memory gzip")
}

impl Flavor for MexcFlavor {
    fn venue(&self) -> Venue {
        VENUE
    }

    fn kline(&self, shared: &Shared, symbol: &str, iv: Iv, bar: &Bar, _closed: bool) -> Message {
        let size = contract_size(symbol);
        let body = json!({"channel": "push.kline", "symbol": symbol, "ts": shared.market.now_ms(),
            "data": {"symbol": symbol, "interval": iv.mexc_code(), "t": bar.t / 1000,
                     "o": bar.o, "c": bar.c, "h": bar.h, "l": bar.l, "a": bar.v * bar.c, "q": bar.v / size,
                     "ro": bar.o, "rc": bar.c, "rh": bar.h, "rl": bar.l}})
        .to_string();
        if shared.config.mexc_gzip {
            Message::Binary(gzip(&body).into())
        } else {
            text(body)
        }
    }

    fn on_client(&self, shared: &Shared, conn: &mut Conn, body: &str) -> Outcome {
        let now = shared.market.now_ms();
        let reply = |channel: &str, data: Value| Outcome {
            replies: vec![text(
                json!({"channel": channel, "data": data, "ts": now}).to_string(),
            )],
            drop: None,
        };
        let Ok(request) = serde_json::from_str::<Value>(body) else {
            return reply("rs.error", json!("invalid request"));
        };
        let param = request.get("param");
        let symbol = param.and_then(|p| p.get("symbol")).and_then(Value::as_str);
        let iv = param
            .and_then(|p| p.get("interval"))
            .and_then(Value::as_str)
            .and_then(Iv::from_mexc_code);
        match request.get("method").and_then(Value::as_str) {
            Some("ping") => reply("pong", json!(now)),
            Some("sub.kline") => match (symbol, iv) {
                (Some(symbol), Some(iv)) if shared.market.is_listed(VENUE, symbol) => {
                    conn.add(symbol, iv);
                    reply("rs.sub.kline", json!("success"))
                }
                _ => reply("rs.error", json!("contract not exists")),
            },
            Some("unsub.kline") => {
                if let Some(symbol) = symbol {
                    // With an interval, only that one; without, every interval.
                    let ivs: Vec<Iv> = match iv {
                        Some(iv) => vec![iv],
                        None => Iv::ALL.to_vec(),
                    };
                    for iv in ivs {
                        conn.remove(symbol, iv);
                    }
                }
                reply("rs.unsub.kline", json!("success"))
            }
            _ => reply("rs.error", json!("invalid method")),
        }
    }

    fn closes_idle(&self) -> bool {
        true
    }
}
