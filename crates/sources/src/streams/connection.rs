//! One WebSocket connection of a venue, kept alive: connect, subscribe its
//! keys (in the URL, then paced control messages awaiting their answers),
//! read frames into the close tracker, ping, watch for idleness, floods and
//! the lifetime limit, and on any loss reconnect with backoff and jitter and
//! resubscribe everything. `set` runs one task per connection.
//!
//! Subscriptions refused by closing the socket (Hyperliquid's answer to an
//! unknown coin): when the socket drops while subscriptions are pending,
//! those are retried one at a time after the reconnect; a subscription
//! pending alone when the socket dropped twice is rejected.

use super::frame_guard::{check_candle, gunzip, is_gzip, preview, FloodGuard, LogThrottle};
use super::protocol::{AckRef, FrameError, Inbound, Protocol};
use super::stats::StreamStats;
use super::tracker::{CandleTracker, Observed};
use super::{DisconnectReason, StreamConfig, StreamEvent, StreamKey};
use crate::backoff::Jitter;
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = futures_util::stream::SplitSink<Socket, Message>;

/// Frames above this break the connection (tungstenite's own limit); below
/// it, frames above `max_frame_bytes` are skipped.
const SOCKET_MAX_MESSAGE: usize = 4 << 20;
/// Socket drops while a subscription was pending alone before it is rejected.
const STRIKES_TO_REJECT: u8 = 2;
/// Malformed-frame warnings per minute per connection.
const WARNINGS_PER_MINUTE: u32 = 10;

/// Why a connection could not be opened; the connection retries after a backoff.
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    /// Refused, unreachable, a failed TLS or WebSocket handshake.
    #[error(transparent)]
    Failed(tokio_tungstenite::tungstenite::Error),
    #[error("no answer within {} s", .0.as_secs())]
    Timeout(Duration),
}

/// What the supervisor asks of a connection.
#[derive(Debug)]
pub(crate) enum Command {
    /// Keys with their contract size (MEXC).
    Subscribe(Vec<(StreamKey, Option<f64>)>),
    Unsubscribe(Vec<StreamKey>),
    Stop,
}

#[derive(Debug, Clone, Copy, Default)]
struct KeyInfo {
    contract_size: Option<f64>,
    /// Socket drops while this was the only pending subscription.
    strikes: u8,
    /// Retry alone: the socket dropped while this was pending.
    suspect: bool,
}

/// A subscribe message awaiting its answer.
#[derive(Debug)]
struct Pending {
    keys: Vec<StreamKey>,
    ack: AckRef,
    sent: Instant,
    alone: bool,
}

/// How one pass of the session loop ended.
enum Flow {
    Continue,
    Lost(DisconnectReason),
    /// Every key was unsubscribed: close and wait for new ones.
    Drained,
    Stop,
}

/// The state of one connected session.
struct Session {
    /// Keys to subscribe, several per message.
    queue: VecDeque<StreamKey>,
    /// Keys to subscribe one at a time, with nothing else pending.
    alone: VecDeque<StreamKey>,
    /// Messages sent without awaiting an answer (unsubscribes).
    outgoing: VecDeque<String>,
    pending: Vec<Pending>,
    active: HashSet<StreamKey>,
    next_send: Instant,
    next_ping: Option<Instant>,
    last_frame: Instant,
    started: Instant,
    flood: FloodGuard,
    /// A valid kline arrived: the backoff starts over after this session.
    healthy: bool,
    /// `Subscribed` was reported and no subscription was asked since.
    settled: bool,
}

impl Session {
    /// Every key is subscribed or given up: nothing queued, nothing awaiting
    /// its answer.
    fn all_answered(&self) -> bool {
        self.queue.is_empty() && self.alone.is_empty() && self.pending.is_empty()
    }
}

pub(crate) struct Connection {
    id: usize,
    protocol: Arc<dyn Protocol>,
    config: Arc<StreamConfig>,
    events: mpsc::Sender<StreamEvent>,
    commands: mpsc::UnboundedReceiver<Command>,
    stats: Arc<StreamStats>,
    keys: BTreeMap<StreamKey, KeyInfo>,
    tracker: CandleTracker,
    jitter: Jitter,
    next_id: u64,
    warnings: LogThrottle,
}

impl Connection {
    pub(crate) fn new(
        id: usize,
        protocol: Arc<dyn Protocol>,
        config: Arc<StreamConfig>,
        events: mpsc::Sender<StreamEvent>,
        commands: mpsc::UnboundedReceiver<Command>,
        stats: Arc<StreamStats>,
    ) -> Connection {
        let tracker = CandleTracker::new(
            protocol.flags_closes(),
            config.timing.close_grace_ms,
            config.report_forming,
        );
        let jitter = Jitter::new(config.jitter_seed.wrapping_add(id as u64));
        Connection {
            id,
            protocol,
            config,
            events,
            commands,
            stats,
            keys: BTreeMap::new(),
            tracker,
            jitter,
            next_id: 1,
            warnings: LogThrottle::new(WARNINGS_PER_MINUTE),
        }
    }

    fn venue(&self) -> super::Venue {
        self.protocol.venue()
    }

    /// Connects, runs sessions and reconnects until stopped.
    pub(crate) async fn run(mut self) {
        let mut lost_at: Option<i64> = None;
        let mut ever_connected = false;
        let mut attempt: u32 = 0;
        loop {
            if self.keys.is_empty() {
                match self.commands.recv().await {
                    None | Some(Command::Stop) => return,
                    Some(command) => self.apply_offline(command),
                }
                continue;
            }
            let in_url: Vec<StreamKey> = self
                .keys
                .iter()
                .filter(|(_, info)| !info.suspect)
                .map(|(k, _)| k.clone())
                .take(self.config.limits.in_url)
                .collect();
            match self.connect(&in_url).await {
                Ok(socket) => {
                    let at_ms = self.config.clock.now_ms();
                    let keys: Vec<StreamKey> = self.keys.keys().cloned().collect();
                    let (venue, connection) = (self.venue(), self.id);
                    let event = match lost_at.take() {
                        Some(disconnected_at_ms) if ever_connected => StreamEvent::Reconnected {
                            venue,
                            connection,
                            disconnected_at_ms,
                            at_ms,
                            keys,
                        },
                        _ => StreamEvent::Connected {
                            venue,
                            connection,
                            at_ms,
                            keys,
                        },
                    };
                    tracing::info!(
                        "[STREAM] {venue} #{connection}: connected, {} subscriptions",
                        self.keys.len()
                    );
                    ever_connected = true;
                    if !self.emit(event).await {
                        return;
                    }
                    let (flow, healthy) = self.session(socket, &in_url).await;
                    self.tracker.connection_lost();
                    let reason = match flow {
                        Flow::Stop => return,
                        Flow::Drained => {
                            lost_at = None;
                            continue;
                        }
                        Flow::Lost(reason) => reason,
                        Flow::Continue => unreachable!("a session ends with a reason"),
                    };
                    let at_ms = self.config.clock.now_ms();
                    lost_at = Some(at_ms);
                    self.stats.count_disconnect(&reason);
                    tracing::warn!("[STREAM] {venue} #{connection}: disconnected: {reason}");
                    let immediate = matches!(
                        reason,
                        DisconnectReason::ServerShutdown | DisconnectReason::Lifetime
                    );
                    if !self
                        .emit(StreamEvent::Disconnected {
                            venue,
                            connection,
                            at_ms,
                            reason,
                        })
                        .await
                    {
                        return;
                    }
                    if !self.reject_struck().await {
                        return;
                    }
                    if healthy {
                        attempt = 0;
                    }
                    if immediate {
                        continue;
                    }
                }
                Err(why) => {
                    tracing::warn!(
                        "[STREAM] {} #{}: cannot connect to {}: {why}",
                        self.venue(),
                        self.id,
                        self.config.base_url
                    );
                    if lost_at.is_none() && ever_connected {
                        lost_at = Some(self.config.clock.now_ms());
                    }
                }
            }
            attempt += 1;
            let delay = self.config.timing.backoff.delay(attempt, &mut self.jitter);
            tracing::info!(
                "[STREAM] {} #{}: reconnecting in {:.1} s (attempt {attempt})",
                self.venue(),
                self.id,
                delay.as_secs_f64()
            );
            if !self.wait_offline(delay).await {
                return;
            }
        }
    }

    async fn connect(&self, in_url: &[StreamKey]) -> Result<Socket, ConnectError> {
        let url = self.protocol.url(&self.config.base_url, in_url);
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(SOCKET_MAX_MESSAGE))
            .max_frame_size(Some(SOCKET_MAX_MESSAGE));
        let connect = tokio_tungstenite::connect_async_with_config(url, Some(ws_config), true);
        let timeout = self.config.timing.connect_timeout;
        match tokio::time::timeout(timeout, connect).await {
            Ok(Ok((socket, _response))) => Ok(socket),
            Ok(Err(e)) => Err(ConnectError::Failed(e)),
            Err(_) => Err(ConnectError::Timeout(timeout)),
        }
    }

    /// Sleeps `delay`, taking commands meanwhile; false when stopped.
    async fn wait_offline(&mut self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = sleep_until(until) => return true,
                command = self.commands.recv() => match command {
                    None | Some(Command::Stop) => return false,
                    Some(command) => self.apply_offline(command),
                },
            }
        }
    }

    fn apply_offline(&mut self, command: Command) {
        match command {
            Command::Subscribe(keys) => {
                for (key, contract_size) in keys {
                    self.add_key(key, contract_size);
                }
            }
            Command::Unsubscribe(keys) => {
                for key in keys {
                    self.remove_key(&key);
                }
            }
            Command::Stop => {}
        }
    }

    fn add_key(&mut self, key: StreamKey, contract_size: Option<f64>) -> bool {
        if self.keys.contains_key(&key) {
            return false;
        }
        self.tracker.track(key.clone());
        self.keys.insert(
            key,
            KeyInfo {
                contract_size,
                ..KeyInfo::default()
            },
        );
        true
    }

    fn remove_key(&mut self, key: &StreamKey) -> bool {
        self.tracker.untrack(key);
        self.keys.remove(key).is_some()
    }

    async fn emit(&self, event: StreamEvent) -> bool {
        self.events.send(event).await.is_ok()
    }

    fn flood_limit(&self) -> u32 {
        self.config.timing.flood_per_sec.unwrap_or_else(|| {
            let expected = self.keys.len() as f64 * self.protocol.pushes_per_second();
            50 + (expected * 10.0).ceil() as u32
        })
    }

    /// Runs one connected session; returns how it ended and whether it
    /// delivered klines.
    async fn session(&mut self, socket: Socket, in_url: &[StreamKey]) -> (Flow, bool) {
        let (mut sink, mut frames) = socket.split();
        let now = Instant::now();
        let mut s = Session {
            queue: VecDeque::new(),
            alone: VecDeque::new(),
            outgoing: VecDeque::new(),
            pending: Vec::new(),
            active: in_url.iter().cloned().collect(),
            next_send: now,
            next_ping: self.config.timing.ping_every.map(|every| now + every),
            last_frame: now,
            started: now,
            flood: FloodGuard::new(self.flood_limit()),
            healthy: false,
            settled: false,
        };
        for (key, info) in &self.keys {
            if s.active.contains(key) {
                continue;
            }
            if info.suspect {
                s.alone.push_back(key.clone());
            } else {
                s.queue.push_back(key.clone());
            }
        }
        let timing = self.config.timing;
        let flow = loop {
            if !s.settled && s.all_answered() {
                s.settled = true;
                if let Flow::Stop = self.subscribed(&s).await {
                    break Flow::Stop;
                }
            }
            let control_at = self.control_due(&s);
            let timer_at = self
                .tracker
                .next_deadline_ms()
                .map(|ms| self.config.clock.instant_at(ms));
            let ack_at = s.pending.first().map(|p| p.sent + timing.ack_timeout);
            let life_at = timing.max_lifetime.map(|d| s.started + d);
            let idle_at = s.last_frame + timing.idle_timeout;
            let flow = tokio::select! {
                biased;
                command = self.commands.recv() => self.on_command(command, &mut s),
                frame = frames.next() => self.on_frame(frame, &mut s).await,
                _ = at(timer_at) => {
                    let mut out = Vec::new();
                    self.tracker.tick(self.config.clock.now_ms(), &mut out);
                    self.deliver(out).await
                }
                _ = at(control_at) => self.send_control(&mut s, &mut sink).await,
                _ = at(s.next_ping) => self.send_ping(&mut s, &mut sink).await,
                _ = at(ack_at) => {
                    self.ack_timed_out(&mut s);
                    Flow::Continue
                }
                _ = sleep_until(idle_at) => Flow::Lost(DisconnectReason::Idle(timing.idle_timeout)),
                _ = at(life_at) => Flow::Lost(DisconnectReason::Lifetime),
            };
            match flow {
                Flow::Continue => {}
                Flow::Lost(reason) => {
                    self.strike_pending(&s, &reason);
                    break Flow::Lost(reason);
                }
                end => break end,
            }
        };
        // Best effort: a dead peer must not hold us up.
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
        (flow, s.healthy)
    }

    fn on_command(&mut self, command: Option<Command>, s: &mut Session) -> Flow {
        match command {
            None | Some(Command::Stop) => return Flow::Stop,
            Some(Command::Subscribe(keys)) => {
                for (key, contract_size) in keys {
                    if self.add_key(key.clone(), contract_size) {
                        s.queue.push_back(key);
                        s.settled = false;
                    }
                }
            }
            Some(Command::Unsubscribe(keys)) => {
                for key in keys {
                    if self.remove_key(&key) && s.active.remove(&key) {
                        let id = self.take_id();
                        s.outgoing
                            .extend(self.protocol.unsubscribe(std::slice::from_ref(&key), id));
                    }
                }
                if self.keys.is_empty() {
                    return Flow::Drained;
                }
            }
        }
        s.flood.set_limit(self.flood_limit());
        Flow::Continue
    }

    /// Reports that every subscription of the session is answered: from
    /// now on the stream brings each key's closes, and whatever closed
    /// before (while down, while subscribing) is the loop's to repair.
    async fn subscribed(&self, s: &Session) -> Flow {
        let event = StreamEvent::Subscribed {
            venue: self.venue(),
            connection: self.id,
            at_ms: self.config.clock.now_ms(),
            keys: s.active.len(),
        };
        if self.emit(event).await {
            Flow::Continue
        } else {
            Flow::Stop
        }
    }

    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    /// When the next control message may go, if one is waiting.
    fn control_due(&self, s: &Session) -> Option<Instant> {
        let alone_pending = s.pending.iter().any(|p| p.alone);
        let ready = !s.outgoing.is_empty()
            || (!s.alone.is_empty() && s.pending.is_empty())
            || (!s.queue.is_empty()
                && !alone_pending
                && s.pending.len() < self.config.limits.in_flight.max(1));
        ready.then_some(s.next_send)
    }

    async fn send_control(&mut self, s: &mut Session, sink: &mut Sink) -> Flow {
        let now = Instant::now();
        s.next_send = now + self.config.timing.control_gap;
        let text = if let Some(text) = s.outgoing.pop_front() {
            text
        } else if s.pending.is_empty() && !s.alone.is_empty() {
            let Some(key) = s.alone.pop_front().filter(|k| self.keys.contains_key(k)) else {
                return Flow::Continue;
            };
            self.subscribe_message(vec![key], true, now, s)
        } else {
            let per_message = self.config.limits.per_message.max(1);
            let mut batch = Vec::new();
            while batch.len() < per_message {
                let Some(key) = s.queue.pop_front() else {
                    break;
                };
                if self.keys.contains_key(&key) && !s.active.contains(&key) {
                    batch.push(key);
                }
            }
            if batch.is_empty() {
                return Flow::Continue;
            }
            self.subscribe_message(batch, false, now, s)
        };
        match sink.send(Message::text(text)).await {
            Ok(()) => Flow::Continue,
            Err(e) => Flow::Lost(DisconnectReason::Failed(format!("send failed: {e}"))),
        }
    }

    fn subscribe_message(
        &mut self,
        keys: Vec<StreamKey>,
        alone: bool,
        now: Instant,
        s: &mut Session,
    ) -> String {
        let id = self.take_id();
        let control = self.protocol.subscribe(&keys, id);
        s.pending.push(Pending {
            keys,
            ack: control.ack,
            sent: now,
            alone,
        });
        control.text
    }

    async fn send_ping(&mut self, s: &mut Session, sink: &mut Sink) -> Flow {
        let now = Instant::now();
        s.next_ping = self.config.timing.ping_every.map(|every| now + every);
        s.next_send = s.next_send.max(now + self.config.timing.control_gap);
        let Some(ping) = self.protocol.ping() else {
            return Flow::Continue;
        };
        match sink.send(Message::text(ping)).await {
            Ok(()) => Flow::Continue,
            Err(e) => Flow::Lost(DisconnectReason::Failed(format!("ping failed: {e}"))),
        }
    }

    fn ack_timed_out(&mut self, s: &mut Session) {
        let pending = s.pending.remove(0);
        tracing::warn!(
            "[STREAM] {} #{}: no answer to subscribing {} within {} s; taken as subscribed",
            self.venue(),
            self.id,
            names(&pending.keys),
            self.config.timing.ack_timeout.as_secs()
        );
        self.accepted(pending, s);
    }

    fn accepted(&mut self, pending: Pending, s: &mut Session) {
        for key in pending.keys {
            if let Some(info) = self.keys.get_mut(&key) {
                info.strikes = 0;
                info.suspect = false;
                s.active.insert(key);
            }
        }
    }

    fn take_pending(&self, ack: &AckRef, s: &mut Session) -> Option<Pending> {
        let index = s.pending.iter().position(|p| match ack {
            AckRef::Oldest => p.ack == AckRef::Oldest,
            other => &p.ack == other,
        })?;
        Some(s.pending.remove(index))
    }

    /// The socket dropped: pending subscriptions may be what the server
    /// refused (Hyperliquid closes on an unknown coin).
    fn strike_pending(&mut self, s: &Session, reason: &DisconnectReason) {
        let refusal_like = matches!(
            reason,
            DisconnectReason::Closed(_) | DisconnectReason::Failed(_)
        );
        if !self.protocol.refuses_by_closing() || !refusal_like {
            return;
        }
        let pending: Vec<&StreamKey> = s.pending.iter().flat_map(|p| &p.keys).collect();
        let alone = pending.len() == 1;
        for key in pending {
            if let Some(info) = self.keys.get_mut(key) {
                info.suspect = true;
                if alone {
                    info.strikes += 1;
                }
            }
        }
    }

    /// Rejects the subscriptions the server keeps closing the socket on.
    async fn reject_struck(&mut self) -> bool {
        let struck: Vec<StreamKey> = self
            .keys
            .iter()
            .filter(|(_, info)| info.strikes >= STRIKES_TO_REJECT)
            .map(|(k, _)| k.clone())
            .collect();
        for key in struck {
            let reason = format!(
                "the server closed the connection each time {} was subscribed (unknown symbol?)",
                key.symbol
            );
            if !self.reject(key, reason).await {
                return false;
            }
        }
        true
    }

    async fn reject(&mut self, key: StreamKey, reason: String) -> bool {
        tracing::warn!(
            "[STREAM] {} #{}: subscription {} refused: {reason}",
            self.venue(),
            self.id,
            key
        );
        self.remove_key(&key);
        self.stats.count(&self.stats.rejected);
        self.emit(StreamEvent::Rejected { key, reason }).await
    }

    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
        s: &mut Session,
    ) -> Flow {
        let message = match frame {
            None => return Flow::Lost(DisconnectReason::Closed("end of stream".into())),
            Some(Err(e)) => return Flow::Lost(DisconnectReason::Failed(e.to_string())),
            Some(Ok(message)) => message,
        };
        let now = Instant::now();
        s.last_frame = now;
        self.stats.count(&self.stats.frames);
        let bytes = match message {
            // tungstenite answers pings with a pong of the same payload.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Flow::Continue,
            Message::Close(frame) => {
                let why = frame.map_or_else(
                    || "close frame".to_string(),
                    |f| format!("code {}, {:?}", u16::from(f.code), f.reason.as_str()),
                );
                return Flow::Lost(DisconnectReason::Closed(why));
            }
            Message::Text(text) => text.into(),
            Message::Binary(bytes) => bytes,
        };
        if let Err(frames) = s.flood.admit(now) {
            self.stats.count(&self.stats.floods);
            tracing::warn!(
                "[STREAM] {} #{}: flood cut off: {frames} frames within 1 s (limit {})",
                self.venue(),
                self.id,
                s.flood.limit()
            );
            return Flow::Lost(DisconnectReason::Flood {
                frames,
                limit: s.flood.limit(),
            });
        }
        let max = self.config.timing.max_frame_bytes;
        if bytes.len() > max {
            self.stats.count(&self.stats.oversized);
            let bytes = bytes.len();
            self.skip(FrameError::TooLarge { bytes, max }, "");
            return Flow::Continue;
        }
        let inflated;
        let raw: &[u8] = if is_gzip(&bytes) {
            match gunzip(&bytes, max) {
                Ok(data) => {
                    inflated = data;
                    &inflated
                }
                Err(why) => {
                    self.skip(why, "");
                    return Flow::Continue;
                }
            }
        } else {
            &bytes
        };
        let text = match std::str::from_utf8(raw) {
            Ok(text) => text,
            Err(_) => {
                self.skip(FrameError::NotText, "");
                return Flow::Continue;
            }
        };
        let items = match self.protocol.decode(text) {
            Ok(items) => items,
            Err(why) => {
                self.skip(why, text);
                return Flow::Continue;
            }
        };
        for item in items {
            match self.on_inbound(item, s).await {
                Flow::Continue => {}
                end => return end,
            }
        }
        Flow::Continue
    }

    /// Logs (throttled) and counts a frame that is skipped.
    fn skip(&mut self, why: impl fmt::Display, text: &str) {
        self.stats.count(&self.stats.malformed);
        if let Some(suppressed) = self.warnings.admit(Instant::now()) {
            let more = if suppressed > 0 {
                format!(" ({suppressed} more skipped since the last report)")
            } else {
                String::new()
            };
            tracing::warn!(
                "[STREAM] {} #{}: skipped a malformed frame: {why}{}{more}",
                self.venue(),
                self.id,
                if text.is_empty() {
                    String::new()
                } else {
                    format!(": {}", preview(text))
                }
            );
        }
    }

    async fn on_inbound(&mut self, item: Inbound, s: &mut Session) -> Flow {
        match item {
            Inbound::Kline {
                symbol,
                interval,
                candle,
                closed,
            } => {
                let key = StreamKey {
                    venue: self.venue(),
                    symbol,
                    interval,
                };
                self.on_kline(key, candle, closed, s).await
            }
            Inbound::Ack(ack) => {
                if let Some(pending) = self.take_pending(&ack, s) {
                    self.accepted(pending, s);
                }
                Flow::Continue
            }
            Inbound::Refused { ack, reason } => {
                let Some(pending) = self.take_pending(&ack, s) else {
                    tracing::warn!(
                        "[STREAM] {} #{}: refusal of no pending subscription: {reason}",
                        self.venue(),
                        self.id
                    );
                    return Flow::Continue;
                };
                if pending.keys.len() > 1 {
                    // Find the culprit: one at a time.
                    s.alone.extend(pending.keys);
                    return Flow::Continue;
                }
                for key in pending.keys {
                    if !self.reject(key, reason.clone()).await {
                        return Flow::Stop;
                    }
                }
                if self.keys.is_empty() {
                    return Flow::Drained;
                }
                Flow::Continue
            }
            Inbound::ServerShutdown => Flow::Lost(DisconnectReason::ServerShutdown),
            Inbound::ServerError(text) => {
                tracing::warn!(
                    "[STREAM] {} #{}: server error: {}",
                    self.venue(),
                    self.id,
                    preview(&text)
                );
                Flow::Continue
            }
            Inbound::Pong | Inbound::Other(_) => Flow::Continue,
        }
    }

    async fn on_kline(
        &mut self,
        key: StreamKey,
        mut candle: quantpro_model::Candle,
        closed: Option<bool>,
        s: &mut Session,
    ) -> Flow {
        let Some(info) = self.keys.get(&key) else {
            tracing::debug!("[STREAM] {key}: push for a key not subscribed here, ignored");
            return Flow::Continue;
        };
        if self.protocol.volume_in_contracts() {
            candle.v *= info.contract_size.unwrap_or(1.0);
        }
        if let Err(why) = check_candle(&candle, key.interval, self.config.clock.now_ms()) {
            self.skip(format_args!("{key}: {why}"), "");
            return Flow::Continue;
        }
        s.healthy = true;
        s.active.insert(key.clone());
        self.stats.count(&self.stats.klines);
        let mut out = Vec::new();
        match self.tracker.observe(&key, candle, closed, &mut out) {
            Observed::Duplicate => self.stats.count(&self.stats.duplicates),
            Observed::OutOfOrder => {
                self.stats.count(&self.stats.out_of_order);
                tracing::debug!("[STREAM] {key}: out-of-order push for {} ignored", candle.t);
            }
            Observed::Applied | Observed::Untracked => {}
        }
        self.deliver(out).await
    }

    /// Sends tracker events to the loop, counting and logging the notable.
    async fn deliver(&self, events: Vec<StreamEvent>) -> Flow {
        for event in events {
            match &event {
                StreamEvent::Closed { .. } => self.stats.count(&self.stats.closes),
                StreamEvent::Revised {
                    key,
                    previous,
                    revised,
                } => {
                    self.stats.count(&self.stats.revisions);
                    tracing::info!(
                        "[STREAM] {key}: candle {} revised after its close: {previous:?} -> {revised:?}",
                        revised.t
                    );
                }
                StreamEvent::Missed {
                    key,
                    from_open_ms,
                    to_open_ms,
                } => {
                    self.stats.count(&self.stats.missed);
                    tracing::info!(
                        "[STREAM] {key}: candles {from_open_ms}..={to_open_ms} closed unseen; REST repair needed"
                    );
                }
                _ => {}
            }
            if !self.emit(event).await {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }
}

/// Sleeps until `t`, or forever without one.
async fn at(t: Option<Instant>) {
    match t {
        Some(t) => sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn names(keys: &[StreamKey]) -> String {
    let shown: Vec<String> = keys.iter().take(5).map(|k| k.to_string()).collect();
    let more = keys.len().saturating_sub(5);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}
