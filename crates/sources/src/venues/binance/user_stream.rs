//! Binance USDⓈ-M futures' user data stream (EXTERNAL_APIS.md §11.1): the
//! account's order, algo-order and position changes as they happen, for
//! the executor's fills and the Positions panel. REST stays the truth: after
//! every (re)connect the stream says [`AccountEvent::Connected`] and the
//! caller reconciles with [`crate::trading::TradingVenue`] reads, since
//! events sent while the socket was down are lost.
//!
//! [`spawn_user_stream`] makes a listen key (`POST /fapi/v1/listenKey`),
//! connects to `<ws base>/private/ws?listenKey=…&events=ORDER_TRADE_UPDATE/
//! ACCOUNT_UPDATE/ALGO_UPDATE/listenKeyExpired`, keeps the key alive with a
//! `PUT` every `keepalive`, and on `listenKeyExpired`, a -1125 on the `PUT`
//! or a lost socket makes a new key and reconnects (with backoff after
//! failures). Events are parsed into [`AccountEvent`]s on an mpsc channel;
//! the task ends when the receiver is dropped.
//!
//! Events are ordered by their `E` only: an algo order's child can report
//! its fill before the algo order says TRIGGERED or FINISHED, so a consumer
//! must accept either order.

use super::trading::BinanceTrading;
use crate::backoff::{Backoff, Jitter};
use crate::trading::{ClientId, OrderState, Side, TradeError};
use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// The events the stream asks for (an allow-list at the venue).
pub const EVENTS: &str = "ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/ALGO_UPDATE/listenKeyExpired";

/// How the stream runs.
#[derive(Debug, Clone)]
pub struct UserStreamConfig {
    /// The WebSocket root: [`crate::urls::BINANCE_FUTURES_PRIVATE_STREAM`],
    /// the test venue's, or a fake's `ws://127.0.0.1:…`.
    pub ws_base: String,
    /// Between two `PUT`s of the listen key (valid 60 min; 30 to 50 min is
    /// the usual choice).
    pub keepalive: Duration,
    /// Waits between failed reconnects.
    pub backoff: Backoff,
}

impl UserStreamConfig {
    pub fn new(ws_base: impl Into<String>) -> UserStreamConfig {
        UserStreamConfig {
            ws_base: ws_base.into(),
            keepalive: Duration::from_secs(30 * 60),
            backoff: Backoff::default(),
        }
    }
}

/// One change of the account, as the stream reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountEvent {
    /// The socket is (again) open: anything before it may have been missed,
    /// so read open orders and positions over REST now.
    Connected,
    /// The socket was lost or the key expired; a reconnect follows.
    Disconnected(String),
    Order(OrderUpdate),
    Algo(AlgoUpdate),
    Account(AccountUpdate),
}

/// `ORDER_TRADE_UPDATE`: an engine order changed (placed, filled, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderUpdate {
    /// `E`, the event time (ms): the only order of events.
    pub event_time: i64,
    /// `c`; an algo order's child carries its own id here.
    pub client_id: Option<ClientId>,
    /// `i`.
    pub order_id: String,
    pub symbol: String,
    pub side: Side,
    /// `x`: `NEW CANCELED CALCULATED EXPIRED TRADE AMENDMENT`.
    pub execution: String,
    /// `X`.
    pub state: OrderState,
    pub quantity: Decimal,
    /// `l`, the last fill.
    pub last_filled: Decimal,
    /// `L`.
    pub last_price: Decimal,
    /// `z`, cumulative.
    pub filled: Decimal,
    /// `ap`.
    pub average_price: Option<Decimal>,
    /// `n`, this fill's fee, in `fee_asset` (`N`).
    pub fee: Decimal,
    pub fee_asset: String,
    pub reduce_only: bool,
    /// `rp`.
    pub realized_pnl: Decimal,
}

/// `ALGO_UPDATE`: a stop or target changed.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgoUpdate {
    pub event_time: i64,
    /// `caid`.
    pub client_id: Option<ClientId>,
    /// `aid`.
    pub algo_id: String,
    pub symbol: String,
    pub side: Side,
    /// `X` as sent: `NEW CANCELED TRIGGERING TRIGGERED FINISHED REJECTED
    /// EXPIRED`.
    pub status: String,
    /// `X` as an order state (TRIGGERING/TRIGGERED are still open;
    /// FINISHED is filled when `aq` covers the quantity).
    pub state: OrderState,
    pub quantity: Decimal,
    /// `ai`: the engine order once triggered (follow it in
    /// [`OrderUpdate::order_id`] for the fills).
    pub child_order_id: Option<String>,
    /// `aq` / `ap`.
    pub filled: Decimal,
    pub average_price: Option<Decimal>,
    /// `tp`.
    pub trigger_price: Decimal,
    /// `rm`, why it was rejected.
    pub reason: String,
}

/// `ACCOUNT_UPDATE`: balances and positions after a change.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountUpdate {
    pub event_time: i64,
    /// `m`: `ORDER FUNDING_FEE DEPOSIT ...`.
    pub reason: String,
    /// `(asset, wallet balance)`.
    pub balances: Vec<(String, Decimal)>,
    pub positions: Vec<PositionUpdate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PositionUpdate {
    pub symbol: String,
    /// `pa`, signed.
    pub quantity: Decimal,
    /// `ep`.
    pub entry_price: Decimal,
    /// `up`.
    pub unrealized_pnl: Decimal,
}

/// What one frame says.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Event(Box<AccountEvent>),
    /// `listenKeyExpired`: nothing more comes on this socket.
    KeyExpired,
    /// Another event type, or an answer we do not read.
    Ignored,
}

/// Reads one text frame of the stream.
pub fn parse_frame(text: &str) -> Result<Frame, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let event = value.get("e").and_then(Value::as_str).unwrap_or("");
    let event_time = int(&value, "E").unwrap_or(0);
    Ok(match event {
        "listenKeyExpired" => Frame::KeyExpired,
        "ORDER_TRADE_UPDATE" => {
            let o = value.get("o").ok_or("ORDER_TRADE_UPDATE without o")?;
            Frame::Event(Box::new(AccountEvent::Order(OrderUpdate {
                event_time,
                client_id: client_id(o, "c"),
                order_id: text_of(o, "i"),
                symbol: text_of(o, "s"),
                side: side(o)?,
                execution: text_of(o, "x"),
                state: order_state(&text_of(o, "X"))?,
                quantity: dec(o, "q"),
                last_filled: dec(o, "l"),
                last_price: dec(o, "L"),
                filled: dec(o, "z"),
                average_price: Some(dec(o, "ap")).filter(|p| !p.is_zero()),
                fee: dec(o, "n"),
                fee_asset: text_of(o, "N"),
                reduce_only: o.get("R").and_then(Value::as_bool).unwrap_or(false),
                realized_pnl: dec(o, "rp"),
            })))
        }
        "ALGO_UPDATE" => {
            let o = value.get("o").ok_or("ALGO_UPDATE without o")?;
            let status = text_of(o, "X");
            let quantity = dec(o, "q");
            let filled = dec(o, "aq");
            let state = match status.as_str() {
                "NEW" | "TRIGGERING" | "TRIGGERED" => OrderState::Open,
                "FINISHED" if !filled.is_zero() && filled >= quantity => OrderState::Filled,
                "FINISHED" if !filled.is_zero() => OrderState::PartiallyFilled,
                "FINISHED" | "EXPIRED" => OrderState::Expired,
                "CANCELED" => OrderState::Canceled,
                "REJECTED" => OrderState::Rejected(text_of(o, "rm")),
                other => return Err(format!("unknown algo status {other:?}")),
            };
            let child = text_of(o, "ai");
            Frame::Event(Box::new(AccountEvent::Algo(AlgoUpdate {
                event_time,
                client_id: client_id(o, "caid"),
                algo_id: text_of(o, "aid"),
                symbol: text_of(o, "s"),
                side: side(o)?,
                status,
                state,
                quantity,
                child_order_id: (!child.is_empty() && child != "0").then_some(child),
                filled,
                average_price: Some(dec(o, "ap")).filter(|p| !p.is_zero()),
                trigger_price: dec(o, "tp"),
                reason: text_of(o, "rm"),
            })))
        }
        "ACCOUNT_UPDATE" => {
            let a = value.get("a").ok_or("ACCOUNT_UPDATE without a")?;
            let list = |key: &str| {
                a.get(key)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            };
            Frame::Event(Box::new(AccountEvent::Account(AccountUpdate {
                event_time,
                reason: text_of(a, "m"),
                balances: list("B")
                    .iter()
                    .map(|b| (text_of(b, "a"), dec(b, "wb")))
                    .collect(),
                positions: list("P")
                    .iter()
                    .map(|p| PositionUpdate {
                        symbol: text_of(p, "s"),
                        quantity: dec(p, "pa"),
                        entry_price: dec(p, "ep"),
                        unrealized_pnl: dec(p, "up"),
                    })
                    .collect(),
            })))
        }
        _ => Frame::Ignored,
    })
}

/// A field as text, whether sent as a string or a number ("" when absent).
fn text_of(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A decimal sent as a string (or a number); zero when absent.
fn dec(value: &Value, key: &str) -> Decimal {
    text_of(value, key).parse().unwrap_or_default()
}

/// `E` is a number, except in `listenKeyExpired` where it is a string.
fn int(value: &Value, key: &str) -> Option<i64> {
    text_of(value, key).parse().ok()
}

fn client_id(value: &Value, key: &str) -> Option<ClientId> {
    ClientId::parse(&text_of(value, key)).ok()
}

fn side(value: &Value) -> Result<Side, String> {
    match text_of(value, "S").as_str() {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        other => Err(format!("unknown side {other:?}")),
    }
}

fn order_state(status: &str) -> Result<OrderState, String> {
    Ok(match status {
        "NEW" => OrderState::Open,
        "PARTIALLY_FILLED" => OrderState::PartiallyFilled,
        "FILLED" => OrderState::Filled,
        "CANCELED" => OrderState::Canceled,
        "EXPIRED" | "EXPIRED_IN_MATCH" => OrderState::Expired,
        "REJECTED" => OrderState::Rejected("rejected by the venue".into()),
        other => return Err(format!("unknown order status {other:?}")),
    })
}

/// Runs the stream of `client`'s account until the receiver is dropped.
pub fn spawn_user_stream(
    client: Arc<BinanceTrading>,
    config: UserStreamConfig,
) -> (mpsc::Receiver<AccountEvent>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(1024);
    let task = tokio::spawn(async move {
        let mut jitter = Jitter::new(quantpro_model::now_ms() as u64);
        let mut failures = 0u32;
        loop {
            let ended = run_once(&client, &config, &tx).await;
            if tx.is_closed() {
                return;
            }
            let wait = match ended {
                Ok(reason) => {
                    failures = 0;
                    if tx.send(AccountEvent::Disconnected(reason)).await.is_err() {
                        return;
                    }
                    Duration::ZERO
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!("BINANCE user stream: {error}");
                    if tx
                        .send(AccountEvent::Disconnected(error.to_string()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    config.backoff.delay(failures, &mut jitter)
                }
            };
            tokio::time::sleep(wait).await;
        }
    });
    (rx, task)
}

/// Why a connection could not be kept.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("listen key: {0}")]
    Key(TradeError),
    #[error("connect: {0}")]
    Connect(String),
    #[error("socket: {0}")]
    Socket(String),
}

/// One listen key and one connection: `Ok(reason)` when it ended in a way
/// that calls for an immediate new key (expiry), `Err` after a failure.
async fn run_once(
    client: &BinanceTrading,
    config: &UserStreamConfig,
    tx: &mpsc::Sender<AccountEvent>,
) -> Result<String, StreamError> {
    let key = client.new_listen_key().await.map_err(StreamError::Key)?;
    let url = format!(
        "{}/private/ws?listenKey={key}&events={EVENTS}",
        config.ws_base.trim_end_matches('/')
    );
    let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .map_err(|e| StreamError::Connect(e.to_string()))?;
    let (mut sink, mut frames) = socket.split();
    if tx.send(AccountEvent::Connected).await.is_err() {
        return Ok("the receiver is gone".into());
    }
    let mut keepalive = tokio::time::interval(config.keepalive);
    keepalive.tick().await;
    loop {
        tokio::select! {
            frame = frames.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Ping(payload))) => {
                        let _ = sink.send(Message::Pong(payload)).await;
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None => {
                        return Err(StreamError::Socket("closed by the venue".into()));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(StreamError::Socket(e.to_string())),
                };
                match parse_frame(&text) {
                    Ok(Frame::Event(event)) => {
                        if tx.send(*event).await.is_err() {
                            return Ok("the receiver is gone".into());
                        }
                    }
                    Ok(Frame::KeyExpired) => {
                        let _ = sink.close().await;
                        return Ok("listen key expired".into());
                    }
                    Ok(Frame::Ignored) => {}
                    Err(e) => tracing::warn!("BINANCE user stream: unreadable frame: {e}"),
                }
            }
            _ = keepalive.tick() => {
                match client.keep_listen_key_alive().await {
                    Ok(()) => {}
                    Err(TradeError::Refused { code, .. }) if code == "-1125" => {
                        let _ = sink.close().await;
                        return Ok("listen key gone (-1125)".into());
                    }
                    Err(e) => tracing::warn!("BINANCE user stream: keepalive failed: {e}"),
                }
            }
            _ = tx.closed() => return Ok("the receiver is gone".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_trade_update_is_read() {
        let frame = r#"{"e":"ORDER_TRADE_UPDATE","E":1568879465651,"T":1568879465650,"o":{"s":"BTCUSDT","c":"qp-en-abc","S":"BUY","o":"MARKET","f":"GTC","q":"0.010","p":"0","ap":"64000.5","sp":"0","x":"TRADE","X":"FILLED","i":8886774,"l":"0.010","z":"0.010","L":"64000.5","N":"USDT","n":"0.32","T":1568879465650,"t":1,"R":false,"ps":"BOTH","rp":"0"}}"#;
        let Frame::Event(event) = parse_frame(frame).unwrap() else {
            panic!("an event");
        };
        let AccountEvent::Order(update) = *event else {
            panic!("an order update");
        };
        assert_eq!(update.client_id.unwrap().as_str(), "qp-en-abc");
        assert_eq!(update.order_id, "8886774");
        assert_eq!(update.state, OrderState::Filled);
        assert_eq!(update.filled, "0.01".parse().unwrap());
        assert_eq!(update.average_price, Some("64000.5".parse().unwrap()));
        assert_eq!(update.fee, "0.32".parse().unwrap());
    }

    #[test]
    fn an_algo_update_names_its_child_and_expiry_is_seen() {
        let frame = r#"{"e":"ALGO_UPDATE","T":1750515742297,"E":1750515742303,"o":{"caid":"qp-sl-42","aid":2148719,"at":"CONDITIONAL","o":"STOP_MARKET","s":"BTCUSDT","S":"SELL","ps":"BOTH","f":"GTC","q":"0.010","X":"FINISHED","ai":"8886775","ap":"62990.0","aq":"0.010","act":"0","tp":"63000","p":"0","rm":""}}"#;
        let Frame::Event(event) = parse_frame(frame).unwrap() else {
            panic!("an event");
        };
        let AccountEvent::Algo(update) = *event else {
            panic!("an algo update");
        };
        assert_eq!(update.child_order_id.as_deref(), Some("8886775"));
        assert_eq!(update.state, OrderState::Filled);
        let expired = r#"{"e":"listenKeyExpired","E":"1736996475556","listenKey":"abc"}"#;
        assert_eq!(parse_frame(expired).unwrap(), Frame::KeyExpired);
        assert_eq!(
            parse_frame(r#"{"e":"MARGIN_CALL","E":1}"#).unwrap(),
            Frame::Ignored
        );
    }

    #[test]
    fn an_account_update_carries_positions() {
        let frame = r#"{"e":"ACCOUNT_UPDATE","E":1564745798939,"T":1564745798938,"a":{"m":"ORDER","B":[{"a":"USDT","wb":"9999.68","cw":"9999.68","bc":"0"}],"P":[{"s":"BTCUSDT","pa":"-0.010","ep":"64000","bep":"64000","cr":"0","up":"1.5","mt":"cross","iw":"0","ps":"BOTH"}]}}"#;
        let Frame::Event(event) = parse_frame(frame).unwrap() else {
            panic!("an event");
        };
        let AccountEvent::Account(update) = *event else {
            panic!("an account update");
        };
        assert_eq!(update.reason, "ORDER");
        assert_eq!(update.positions[0].quantity, "-0.01".parse().unwrap());
        assert_eq!(update.balances[0].0, "USDT");
    }
}
