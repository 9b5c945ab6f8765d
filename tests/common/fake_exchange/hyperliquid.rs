//! Hyperliquid `POST /info` and the `/ws` candle subscriptions, as
//! EXTERNAL_APIS.md §3 and §9.2 describe them.

use super::limits::Verdict;
use super::log::{RestRecord, WsKind};
use super::market::{Bar, Iv};
use super::ws::{self, decimal, text, Conn, Flavor, Outcome};
use super::{Shared, UnknownCoin, Venue};
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

const VENUE: Venue = Venue::Hyperliquid;
/// Only the most recent candles per coin and interval exist.
const CANDLES_KEPT: usize = 5000;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/info", post(info))
        .route("/ws", get(stream))
        .with_state(shared)
}

/// The weight of an info request before its result is known.
fn base_weight(kind: &str) -> u32 {
    match kind {
        "l2Book"
        | "allMids"
        | "clearinghouseState"
        | "orderStatus"
        | "spotClearinghouseState"
        | "exchangeStatus" => 2,
        "userRole" => 60,
        _ => 20,
    }
}

fn plain(status: StatusCode, body: &str) -> Response {
    (status, body.to_string()).into_response()
}

async fn info(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let now_ms = shared.market.now_ms();
    let request: Option<Value> = serde_json::from_slice(&body).ok();
    let kind = request
        .as_ref()
        .and_then(|r| r.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut record = RestRecord {
        venue: VENUE,
        method: "POST".into(),
        path: "/info".into(),
        query: String::new(),
        body: request.clone(),
        status: 200,
        weight: 0,
        during_ban: false,
        at_ms: now_ms,
    };
    let Some(request) = request else {
        record.status = 422;
        shared.log.rest_request(record);
        return plain(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Failed to deserialize the JSON body into the target type",
        );
    };
    let weight = base_weight(&kind);
    match shared.limits.charge(VENUE, weight) {
        Verdict::Served { .. } => {}
        Verdict::TooMany { retry_after_s, .. } | Verdict::Banned { retry_after_s, .. } => {
            record.status = 429;
            shared.log.rest_request(record);
            let mut response = plain(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            let header = shared.config.hl_retry_after.map(|s| s.max(retry_after_s));
            if let Some(secs) = header {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(secs));
            }
            return response;
        }
    }
    record.weight = weight;
    let answer: Result<Value, Response> = match kind.as_str() {
        "meta" => Ok(meta(&shared)),
        "metaAndAssetCtxs" => Ok(json!([meta(&shared), contexts(&shared, now_ms)])),
        "candleSnapshot" => candle_snapshot(&shared, &request, now_ms).map_err(|e| *e),
        _ => Err(plain(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Failed to deserialize the JSON body into the target type",
        )),
    };
    match answer {
        Ok(value) => {
            if kind == "candleSnapshot" {
                // 1 per 60 candles returned, a part of 60 counting as 60
                // (EXTERNAL_APIS.md: 5000 candles cost 20 + 84).
                let extra = value.as_array().map_or(0, |a| a.len().div_ceil(60)) as u32;
                // The per-candle weight is charged after the fact.
                let _ = shared.limits.charge(VENUE, extra);
                record.weight += extra;
            }
            shared.log.rest_request(record);
            Json(value).into_response()
        }
        Err(response) => {
            record.status = response.status().as_u16();
            shared.log.rest_request(record);
            response
        }
    }
}

fn meta(shared: &Shared) -> Value {
    let universe: Vec<Value> = shared
        .market
        .all_symbols(VENUE)
        .iter()
        .map(|coin| {
            let mut asset = json!({"name": coin, "szDecimals": 2, "maxLeverage": 20});
            if !shared.market.is_listed(VENUE, coin) {
                asset["isDelisted"] = json!(true);
                asset["onlyIsolated"] = json!(true);
            }
            asset
        })
        .collect();
    json!({"universe": universe, "marginTables": []})
}

fn contexts(shared: &Shared, now_ms: i64) -> Value {
    let ctxs: Vec<Value> = shared
        .market
        .all_symbols(VENUE)
        .iter()
        .map(|coin| match shared.market.day_stats(VENUE, coin, now_ms) {
            Some(day) if shared.market.is_listed(VENUE, coin) => json!({
                "funding": "0.0000125",
                "openInterest": decimal(day.base_volume / 4.0),
                "prevDayPx": decimal(day.open),
                "dayNtlVlm": decimal(day.quote_volume),
                "premium": "0.0",
                "oraclePx": decimal(day.last),
                "markPx": decimal(day.last),
                "midPx": decimal(day.last),
                "impactPxs": [decimal(day.last), decimal(day.last)],
                "dayBaseVlm": decimal(day.base_volume),
            }),
            _ => json!({
                "funding": "0.0", "openInterest": "0.0", "prevDayPx": "0.0", "dayNtlVlm": "0.0",
                "premium": null, "oraclePx": "0.0", "markPx": "0.0", "midPx": null, "impactPxs": null,
                "dayBaseVlm": "0.0",
            }),
        })
        .collect();
    Value::Array(ctxs)
}

/// The answer, or the error response (boxed: a `Response` is large).
fn candle_snapshot(shared: &Shared, request: &Value, now_ms: i64) -> Result<Value, Box<Response>> {
    let req = request.get("req");
    let field = |name: &str| req.and_then(|r| r.get(name));
    let bad = || {
        Box::new(plain(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Failed to deserialize the JSON body into the target type",
        ))
    };
    let coin = field("coin").and_then(Value::as_str).ok_or_else(bad)?;
    let code = field("interval").and_then(Value::as_str).ok_or_else(bad)?;
    let start = field("startTime").and_then(Value::as_i64).ok_or_else(bad)?;
    let end = match field("endTime") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(bad)?),
    };
    if !shared.market.is_listed(VENUE, coin) {
        return match shared.config.hl_unknown_coin {
            UnknownCoin::Empty => Ok(json!([])),
            UnknownCoin::ServerError => {
                Err(Box::new(plain(StatusCode::INTERNAL_SERVER_ERROR, "null")))
            }
        };
    }
    let Some(iv) = Iv::from_code(code) else {
        return Ok(json!([]));
    };
    let bars =
        shared
            .market
            .rest_bars(VENUE, coin, iv, now_ms, shared.config.rest_includes_forming);
    let kept = bars.len().saturating_sub(CANDLES_KEPT);
    let rows: Vec<Value> = bars[kept..]
        .iter()
        .filter(|b| b.t >= start && end.is_none_or(|e| b.t <= e))
        .take(CANDLES_KEPT)
        .map(|b| candle_object(shared, coin, iv, b))
        .collect();
    Ok(Value::Array(rows))
}

/// A candle as REST and the stream send it (strings, or numbers when
/// `hl_numeric_prices`).
fn candle_object(shared: &Shared, coin: &str, iv: Iv, bar: &Bar) -> Value {
    let num = |x: f64| {
        if shared.config.hl_numeric_prices {
            json!(x)
        } else {
            json!(decimal(x))
        }
    };
    json!({"t": bar.t, "T": bar.t + iv.ms() - 1, "s": coin, "i": iv.code(),
           "o": num(bar.o), "c": num(bar.c), "h": num(bar.h), "l": num(bar.l), "v": num(bar.v),
           "n": (bar.v.sqrt() * 10.0) as u64 + 1})
}

async fn stream(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    if shared.refusing(VENUE) {
        shared
            .log
            .ws_event(VENUE, 0, shared.market.now_ms(), WsKind::Refused);
        return (StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response();
    }
    let flavor: Arc<dyn Flavor> = Arc::new(HyperliquidFlavor);
    upgrade.on_upgrade(move |socket| ws::serve(socket, shared, flavor, Vec::new(), "/ws".into()))
}

struct HyperliquidFlavor;

fn subscription_of(request: &Value) -> Option<(String, Iv, Value)> {
    let sub = request.get("subscription")?;
    if sub.get("type")?.as_str()? != "candle" {
        return None;
    }
    let coin = sub.get("coin")?.as_str()?.to_string();
    let iv = Iv::from_code(sub.get("interval")?.as_str()?)?;
    Some((coin, iv, sub.clone()))
}

impl Flavor for HyperliquidFlavor {
    fn venue(&self) -> Venue {
        VENUE
    }

    fn kline(&self, shared: &Shared, symbol: &str, iv: Iv, bar: &Bar, _closed: bool) -> Message {
        let candle = candle_object(shared, symbol, iv, bar);
        let data = if shared.config.hl_data_array {
            json!([candle])
        } else {
            candle
        };
        text(json!({"channel": "candle", "data": data}).to_string())
    }

    fn on_client(&self, shared: &Shared, conn: &mut Conn, body: &str) -> Outcome {
        let error = |msg: String| Outcome {
            replies: vec![text(json!({"channel": "error", "data": msg}).to_string())],
            drop: None,
        };
        let Ok(request) = serde_json::from_str::<Value>(body) else {
            return error(format!(
                "Error parsing JSON into valid websocket request: {body}"
            ));
        };
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        if method == "ping" {
            return Outcome {
                replies: vec![text(r#"{"channel":"pong"}"#.into())],
                drop: None,
            };
        }
        let Some((coin, iv, sub)) = subscription_of(&request) else {
            return error(format!("Invalid subscription {body}"));
        };
        let response = || {
            text(json!({"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}}).to_string())
        };
        match method {
            "subscribe" if !shared.market.is_listed(VENUE, &coin) => Outcome {
                replies: Vec::new(),
                drop: Some(format!("unknown coin {coin}: socket closed")),
            },
            "subscribe" if conn.has(&coin, iv) => error(format!("Already subscribed: {sub}")),
            "subscribe" => {
                conn.add(&coin, iv);
                Outcome {
                    replies: vec![response()],
                    drop: None,
                }
            }
            "unsubscribe" => {
                conn.remove(&coin, iv);
                Outcome {
                    replies: vec![response()],
                    drop: None,
                }
            }
            _ => error(format!("Unknown method {method}")),
        }
    }

    fn greeting(&self, shared: &Shared) -> Vec<Message> {
        if shared.config.hl_greeting {
            vec![text("Websocket connection established.".into())]
        } else {
            Vec::new()
        }
    }

    fn closes_idle(&self) -> bool {
        true
    }
}
