//! Hyperliquid's user stream: the master account's `orderUpdates` and
//! `userFills` over the WebSocket (EXTERNAL_APIS.md §9.2, §11.2), as
//! [`UserUpdate`]s on an mpsc channel, for the executor's fills and
//! positions. REST stays the truth: every (re)connection is announced with
//! [`UserUpdate::Connected`], after which the executor reconciles through
//! [`TradingVenue`](crate::trading::TradingVenue) calls, since anything that
//! happened while the socket was down is only there.
//!
//! `userFills` opens with a snapshot (`isSnapshot: true`) on every
//! subscription; fills are passed on once each, by trade id (`tid`), across
//! reconnects. Orders carry the executor's [`ClientId`]s when the client
//! knows their cloids ([`HyperliquidTrading::remember`]); a fill carries
//! its order's, by its cloid or by the oid of an earlier order update.
//!
//! Heartbeat: `{"method":"ping"}` every 50 s (the server closes a socket
//! silent for 60 s). Any loss reconnects with backoff and resubscribes.

use super::trading::{side_of, state_of, ClientIds, HyperliquidTrading};
use crate::backoff::{Backoff, Jitter};
use crate::trading::{ClientId, OrderState, Side};
use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// Trade ids remembered for de-duplication (a snapshot holds at most 2000).
const TIDS_KEPT: usize = 20_000;
/// Updates buffered for a slow reader before the stream waits for it.
const CHANNEL_CAPACITY: usize = 1024;

/// Where the user stream connects and how it keeps the connection.
#[derive(Debug, Clone)]
pub struct UserStreamConfig {
    /// [`crate::urls::HYPERLIQUID_STREAM`], the testnet's, or a fake's `ws://…/ws`.
    pub url: String,
    pub ping_every: Duration,
    pub reconnect: Backoff,
}

impl UserStreamConfig {
    pub fn new(url: impl Into<String>) -> UserStreamConfig {
        UserStreamConfig {
            url: url.into(),
            ping_every: Duration::from_secs(50),
            reconnect: Backoff::default(),
        }
    }
}

/// One event of the user stream.
#[derive(Debug, Clone, PartialEq)]
pub enum UserUpdate {
    /// Subscribed (again): reconcile with REST now.
    Connected,
    /// The socket is gone; a reconnect follows.
    Disconnected(String),
    Order(OrderUpdate),
    Fill(UserFill),
}

/// An order's new state (`orderUpdates`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderUpdate {
    /// `None` for an order without a cloid (not QuantPro's).
    pub client_id: Option<ClientId>,
    pub venue_id: String,
    pub symbol: String,
    pub side: Side,
    pub state: OrderState,
    /// The venue's status word (`open`, `filled`, `siblingFilledCanceled`...).
    pub status: String,
    pub quantity: Decimal,
    pub remaining: Decimal,
    pub status_ms: i64,
}

/// One fill (`userFills`), passed on once per trade id.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFill {
    pub client_id: Option<ClientId>,
    pub venue_id: String,
    pub trade_id: u64,
    pub symbol: String,
    pub side: Side,
    pub price: Decimal,
    pub size: Decimal,
    pub fee: Decimal,
    pub closed_pnl: Decimal,
    pub time_ms: i64,
    /// Came with a subscription's snapshot (a fill we had not seen yet, e.g.
    /// one made while the socket was down).
    pub from_snapshot: bool,
}

impl HyperliquidTrading {
    /// Starts the user stream of this client's account; it runs until the
    /// receiver is dropped (or the task aborted).
    pub fn user_stream(
        &self,
        config: UserStreamConfig,
    ) -> (mpsc::Receiver<UserUpdate>, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let session = Session {
            config,
            account: self.account().to_string(),
            client_ids: self.client_ids(),
            seen: Seen::default(),
            by_oid: HashMap::new(),
            tx,
        };
        (rx, tokio::spawn(session.run()))
    }
}

/// Trade ids already passed on, oldest first out.
#[derive(Default)]
struct Seen {
    set: HashSet<u64>,
    order: VecDeque<u64>,
}

impl Seen {
    /// True the first time a tid is seen.
    fn first(&mut self, tid: u64) -> bool {
        if !self.set.insert(tid) {
            return false;
        }
        self.order.push_back(tid);
        if self.order.len() > TIDS_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

struct Session {
    config: UserStreamConfig,
    account: String,
    client_ids: ClientIds,
    seen: Seen,
    /// Client ids of the orders updates named, for fills without a cloid.
    by_oid: HashMap<u64, ClientId>,
    tx: mpsc::Sender<UserUpdate>,
}

/// The receiver is gone: stop.
struct Closed;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WsOrderUpdate {
    order: WsOrder,
    status: String,
    #[serde(default)]
    status_timestamp: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WsOrder {
    coin: String,
    side: String,
    sz: Decimal,
    oid: u64,
    #[serde(default)]
    orig_sz: Option<Decimal>,
    #[serde(default)]
    cloid: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WsFills {
    #[serde(default)]
    is_snapshot: bool,
    fills: Vec<WsFill>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WsFill {
    coin: String,
    px: Decimal,
    sz: Decimal,
    side: String,
    time: i64,
    oid: u64,
    tid: u64,
    #[serde(default)]
    fee: Decimal,
    #[serde(default)]
    closed_pnl: Decimal,
    #[serde(default)]
    cloid: Option<String>,
}

/// The subscription type a `subscriptionResponse` acknowledges (one of ours).
fn acknowledgement(text: &str) -> Option<String> {
    let frame: Value = serde_json::from_str(text).ok()?;
    if frame.get("channel")?.as_str()? != "subscriptionResponse" {
        return None;
    }
    let kind = frame["data"]["subscription"]["type"].as_str()?;
    matches!(kind, "orderUpdates" | "userFills").then(|| kind.to_string())
}

impl Session {
    async fn run(mut self) {
        let mut jitter = Jitter::new(u64::from(std::process::id()));
        let mut failures = 0u32;
        loop {
            let reason = match tokio_tungstenite::connect_async(self.config.url.as_str()).await {
                Ok((socket, _)) => {
                    failures = 0;
                    match self.session(socket).await {
                        Ok(reason) => reason,
                        Err(Closed) => return,
                    }
                }
                Err(e) => {
                    failures += 1;
                    format!("cannot connect: {e}")
                }
            };
            if self.send(UserUpdate::Disconnected(reason)).await.is_err() {
                return;
            }
            let wait = self.config.reconnect.delay(failures.max(1), &mut jitter);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.tx.closed() => return,
            }
        }
    }

    async fn send(&self, update: UserUpdate) -> Result<(), Closed> {
        self.tx.send(update).await.map_err(|_| Closed)
    }

    /// One connection: subscribe, then read until it ends (`Ok(why)`).
    async fn session<S>(&mut self, socket: S) -> Result<String, Closed>
    where
        S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
            + futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error>
            + Unpin,
    {
        let (mut sink, mut stream) = socket.split();
        for kind in ["orderUpdates", "userFills"] {
            let subscribe = json!({"method": "subscribe", "subscription": {"type": kind, "user": self.account}});
            if let Err(e) = sink.send(Message::text(subscribe.to_string())).await {
                return Ok(format!("subscribe failed: {e}"));
            }
        }
        // Connected once both subscriptions are acknowledged: from then on
        // nothing of the account is missed.
        let mut acknowledged: HashSet<String> = HashSet::new();
        let mut ping = tokio::time::interval(self.config.ping_every);
        ping.tick().await;
        loop {
            tokio::select! {
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(kind) = acknowledgement(text.as_str()) {
                            let was_complete = acknowledged.len() == 2;
                            acknowledged.insert(kind);
                            if !was_complete && acknowledged.len() == 2 {
                                self.send(UserUpdate::Connected).await?;
                            }
                        } else {
                            self.handle(text.as_str()).await?;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => return Ok("closed by the server".into()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Ok(format!("connection lost: {e}")),
                },
                _ = ping.tick() => {
                    let text = json!({"method": "ping"}).to_string();
                    if let Err(e) = sink.send(Message::text(text)).await {
                        return Ok(format!("ping failed: {e}"));
                    }
                }
                _ = self.tx.closed() => return Err(Closed),
            }
        }
    }

    async fn handle(&mut self, text: &str) -> Result<(), Closed> {
        let Ok(frame) = serde_json::from_str::<Value>(text) else {
            return Ok(());
        };
        let data = frame.get("data").cloned().unwrap_or(Value::Null);
        match frame.get("channel").and_then(Value::as_str) {
            Some("orderUpdates") => {
                let updates: Vec<WsOrderUpdate> = match serde_json::from_value(data) {
                    Ok(updates) => updates,
                    Err(e) => {
                        tracing::warn!("Hyperliquid orderUpdates unreadable: {e}");
                        return Ok(());
                    }
                };
                for update in updates {
                    let update = self.order_update(update);
                    if let Some(id) = &update.client_id {
                        if self.by_oid.len() >= TIDS_KEPT {
                            self.by_oid.clear();
                        }
                        let oid = update.venue_id.parse().unwrap_or_default();
                        self.by_oid.insert(oid, id.clone());
                    }
                    self.send(UserUpdate::Order(update)).await?;
                }
            }
            Some("userFills") => {
                let fills: WsFills = match serde_json::from_value(data) {
                    Ok(fills) => fills,
                    Err(e) => {
                        tracing::warn!("Hyperliquid userFills unreadable: {e}");
                        return Ok(());
                    }
                };
                for fill in fills.fills {
                    if !self.seen.first(fill.tid) {
                        continue;
                    }
                    let fill = UserFill {
                        client_id: self
                            .client_ids
                            .resolve(fill.cloid.as_deref())
                            .or_else(|| self.by_oid.get(&fill.oid).cloned()),
                        venue_id: fill.oid.to_string(),
                        trade_id: fill.tid,
                        symbol: fill.coin,
                        side: side_of(&fill.side),
                        price: fill.px,
                        size: fill.sz,
                        fee: fill.fee,
                        closed_pnl: fill.closed_pnl,
                        time_ms: fill.time,
                        from_snapshot: fills.is_snapshot,
                    };
                    self.send(UserUpdate::Fill(fill)).await?;
                }
            }
            Some("error") => tracing::warn!("Hyperliquid user stream: {data}"),
            // pong, subscriptionResponse
            _ => {}
        }
        Ok(())
    }

    fn order_update(&self, update: WsOrderUpdate) -> OrderUpdate {
        let order = update.order;
        let quantity = order.orig_sz.unwrap_or(order.sz);
        let mut state = state_of(&update.status);
        if state == OrderState::Open && order.sz < quantity {
            state = OrderState::PartiallyFilled;
        }
        OrderUpdate {
            client_id: self.client_ids.resolve(order.cloid.as_deref()),
            venue_id: order.oid.to_string(),
            symbol: order.coin,
            side: side_of(&order.side),
            state,
            status: update.status,
            quantity,
            remaining: order.sz,
            status_ms: update.status_timestamp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trade_id_passes_once() {
        let mut seen = Seen::default();
        assert!(seen.first(7));
        assert!(!seen.first(7));
        assert!(seen.first(8));
        for tid in 100..(100 + TIDS_KEPT as u64) {
            seen.first(tid);
        }
        // The oldest fell out; the newest are kept.
        assert!(seen.first(7));
        assert!(!seen.first(100 + TIDS_KEPT as u64 - 1));
        assert!(seen.set.len() <= TIDS_KEPT);
    }
}
