//! The stream side of the fake, common to every venue: one task per socket
//! pushes the forming candle of each subscription every `push_every`, the
//! final candle at each close (plus `close_delay_ms`), answers the client
//! through the venue's [`Flavor`], enforces the venue's socket limits and
//! applies the faults a test sends. Nothing missed is ever replayed.

use super::log::WsKind;
use super::market::{Bar, Iv};
use super::{Inject, Shared, Venue, WsFault};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{sleep_until, Instant};

/// A subscription of one socket.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SubState {
    /// Open time of the bar being pushed.
    current: Option<i64>,
    /// A closed bar whose final push is due.
    pending_final: Option<i64>,
}

/// One socket's subscriptions and identity.
pub(crate) struct Conn {
    pub id: u64,
    pub subs: BTreeMap<(String, Iv), SubState>,
}

impl Conn {
    pub(crate) fn add(&mut self, symbol: &str, iv: Iv) -> bool {
        let key = (symbol.to_string(), iv);
        if self.subs.contains_key(&key) {
            return false;
        }
        self.subs.insert(key, SubState::default());
        true
    }

    pub(crate) fn remove(&mut self, symbol: &str, iv: Iv) -> bool {
        self.subs.remove(&(symbol.to_string(), iv)).is_some()
    }

    pub(crate) fn has(&self, symbol: &str, iv: Iv) -> bool {
        self.subs.contains_key(&(symbol.to_string(), iv))
    }
}

/// What a client message leads to.
#[derive(Default)]
pub(crate) struct Outcome {
    pub replies: Vec<Message>,
    /// Close the socket without a message, for this reason.
    pub drop: Option<String>,
}

/// The venue-specific half of a socket.
pub(crate) trait Flavor: Send + Sync + 'static {
    fn venue(&self) -> Venue;

    /// A push of `bar` (`closed`: its final state, flagged where the venue
    /// flags closes).
    fn kline(&self, shared: &Shared, symbol: &str, iv: Iv, bar: &Bar, closed: bool) -> Message;

    /// Handles one text message of the client.
    fn on_client(&self, shared: &Shared, conn: &mut Conn, text: &str) -> Outcome;

    /// Frames sent right after the handshake.
    fn greeting(&self, _shared: &Shared) -> Vec<Message> {
        Vec::new()
    }

    /// The notice before a planned disconnect (Binance `serverShutdown`).
    fn shutdown_notice(&self, _now_ms: i64) -> Option<Message> {
        None
    }

    /// Protocol pings: interval and pong deadline (Binance).
    fn server_pings(&self, _shared: &Shared) -> Option<(Duration, Duration)> {
        None
    }

    /// Closes a socket whose client has been silent for `idle_close`.
    fn closes_idle(&self) -> bool {
        false
    }

    /// Client messages (text, ping, pong) allowed per second.
    fn max_messages_per_second(&self) -> Option<usize> {
        None
    }

    /// Subscriptions allowed per socket.
    fn max_streams(&self) -> Option<usize> {
        None
    }
}

pub(crate) fn text(body: String) -> Message {
    Message::Text(body.into())
}

/// A socket of the retired Binance USD-M URL: accepted, silent.
pub(crate) async fn serve_silent(
    mut socket: WebSocket,
    shared: Arc<Shared>,
    venue: Venue,
    asked: String,
) {
    let id = shared.connection_id();
    shared
        .log
        .ws_event(venue, id, shared.market.now_ms(), WsKind::Opened(asked));
    while let Some(Ok(message)) = socket.recv().await {
        if let Message::Text(t) = message {
            shared.log.ws_event(
                venue,
                id,
                shared.market.now_ms(),
                WsKind::ClientText(t.to_string()),
            );
        }
    }
}

/// Runs one socket until it ends.
pub(crate) async fn serve(
    socket: WebSocket,
    shared: Arc<Shared>,
    flavor: Arc<dyn Flavor>,
    initial: Vec<(String, Iv)>,
    asked: String,
) {
    let venue = flavor.venue();
    let id = shared.connection_id();
    let mut session = Session {
        socket,
        shared: shared.clone(),
        flavor,
        conn: Conn {
            id,
            subs: BTreeMap::new(),
        },
        muted: false,
        client_times: VecDeque::new(),
        slow: Vec::new(),
    };
    session.log(WsKind::Opened(asked));
    for (symbol, iv) in &initial {
        session.conn.add(symbol, iv.to_owned());
    }
    let why = session.run().await;
    let now_ms = shared.market.now_ms();
    shared.log.ws_event(venue, id, now_ms, WsKind::Closed(why));
}

struct Session {
    socket: WebSocket,
    shared: Arc<Shared>,
    flavor: Arc<dyn Flavor>,
    conn: Conn,
    muted: bool,
    /// Arrival of the client's recent messages (rate limit).
    client_times: VecDeque<Instant>,
    /// Subscriptions answered late (`FakeConfig::slow_acks`).
    slow: Vec<SlowAck>,
}

/// Subscriptions made, and answered, only at `at`.
struct SlowAck {
    at: Instant,
    keys: Vec<(String, Iv)>,
    replies: Vec<Message>,
}

/// Why the socket loop stopped.
type End = String;

impl Session {
    fn venue(&self) -> Venue {
        self.flavor.venue()
    }

    fn log(&self, kind: WsKind) {
        self.shared.log.ws_event(
            self.venue(),
            self.conn.id,
            self.shared.market.now_ms(),
            kind,
        );
    }

    async fn send(&mut self, message: Message) -> Result<(), End> {
        self.socket
            .send(message)
            .await
            .map_err(|e| format!("send failed: {e}"))
    }

    async fn run(&mut self) -> End {
        let shared = self.shared.clone();
        let config = &shared.config;
        for message in self.flavor.greeting(&shared) {
            if let Err(end) = self.send(message).await {
                return end;
            }
        }
        let start = Instant::now();
        let lifetime_end = start + config.ws_lifetime;
        let mut next_push = start + config.push_every;
        let pings = self.flavor.server_pings(&shared);
        let mut next_ping = pings.map(|(every, _)| start + every);
        let mut awaiting_pong: Option<(Vec<u8>, Instant)> = None;
        let mut last_client = start;
        let mut faults = shared.faults(self.venue());
        loop {
            let now = Instant::now();
            if let Err(end) = self.answer_slow(now).await {
                return end;
            }
            let periodic = now >= next_push;
            while next_push <= now {
                next_push += config.push_every;
            }
            if !self.muted {
                if let Err(end) = self.push_due(periodic).await {
                    return end;
                }
            }
            if let Some((every, _)) = pings {
                if next_ping.is_some_and(|t| now >= t) {
                    next_ping = Some(now + every);
                    if !self.muted {
                        let payload = shared.market.now_ms().to_string().into_bytes();
                        if let Err(end) = self.send(Message::Ping(payload.clone().into())).await {
                            return end;
                        }
                        self.log(WsKind::PingSent);
                        awaiting_pong.get_or_insert((payload, now));
                    }
                }
            }
            if let (Some((_, deadline)), Some((_, sent))) = (pings, &awaiting_pong) {
                if now >= *sent + deadline {
                    let why = format!("no pong within {} s", deadline.as_secs());
                    self.log(WsKind::Breach(why.clone()));
                    return why;
                }
            }
            if self.flavor.closes_idle() && now >= last_client + config.idle_close {
                let why = format!("no client message for {} s", config.idle_close.as_secs());
                self.log(WsKind::Breach(why.clone()));
                return why;
            }
            if now >= lifetime_end {
                let _ = self.send(close_frame(1000, "lifetime")).await;
                return "connection lifetime reached".into();
            }
            let mut wake = next_push.min(lifetime_end);
            if !self.muted {
                if let Some(t) = self.next_sub_event() {
                    wake = wake.min(t);
                }
            }
            if let Some(t) = next_ping {
                wake = wake.min(t);
            }
            if let Some(t) = self.slow.iter().map(|slow| slow.at).min() {
                wake = wake.min(t);
            }
            if let (Some((_, deadline)), Some((_, sent))) = (pings, &awaiting_pong) {
                wake = wake.min(*sent + deadline);
            }
            if self.flavor.closes_idle() {
                wake = wake.min(last_client + config.idle_close);
            }
            tokio::select! {
                message = self.socket.recv() => {
                    let Some(Ok(message)) = message else {
                        return "client gone".into();
                    };
                    last_client = Instant::now();
                    match self.on_client(message, &mut awaiting_pong).await {
                        Ok(()) => {}
                        Err(end) => return end,
                    }
                }
                fault = faults.recv() => match fault {
                    Ok(fault) => {
                        if let Err(end) = self.on_fault(fault).await {
                            return end;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return "fake stopped".into(),
                },
                _ = sleep_until(wake) => {}
            }
        }
    }

    /// Makes the slow subscriptions that are due and answers them.
    async fn answer_slow(&mut self, now: Instant) -> Result<(), End> {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.slow)
            .into_iter()
            .partition(|slow| slow.at <= now);
        self.slow = later;
        for slow in due {
            for (symbol, iv) in slow.keys {
                self.conn.add(&symbol, iv);
            }
            for reply in slow.replies {
                self.send(reply).await?;
            }
        }
        Ok(())
    }

    /// The next instant a subscription has a push due (a close or a final).
    fn next_sub_event(&self) -> Option<Instant> {
        let market = &self.shared.market;
        let delay = self.shared.config.close_delay_ms;
        self.conn
            .subs
            .iter()
            .filter_map(|((_, iv), st)| match (st.pending_final, st.current) {
                (Some(t), _) => Some(market.instant_at(t + iv.ms() + delay)),
                (None, Some(t)) => Some(market.instant_at(t + iv.ms())),
                (None, None) => None,
            })
            .min()
    }

    /// Pushes what is due: finals of closed bars, first pushes of new bars
    /// and, when `periodic`, the forming bar of every subscription.
    async fn push_due(&mut self, periodic: bool) -> Result<(), End> {
        let market = &self.shared.market;
        let venue = self.venue();
        let now_ms = market.now_ms();
        let delay = self.shared.config.close_delay_ms;
        let new_first = self.shared.config.new_bar_first;
        let mut frames = Vec::new();
        for ((symbol, iv), st) in self.conn.subs.iter_mut() {
            if !market.is_listed(venue, symbol) {
                // Nothing is due for a delisted symbol any more: a stale
                // `current` would keep `next_sub_event` in the past and spin
                // the socket loop (which, under paused time, also stops the
                // virtual clock from ever advancing).
                *st = SubState::default();
                continue;
            }
            let step = iv.ms();
            let cur_t = now_ms.div_euclid(step) * step;
            let quiet = market.silenced(venue, symbol, *iv, now_ms);
            if let Some(current) = st.current.filter(|&c| c < cur_t) {
                st.pending_final = st.pending_final.or(Some(current));
                st.current = None;
            }
            if let Some(pf) = st.pending_final {
                if now_ms >= pf + step + delay {
                    if !quiet && !market.hidden(venue, symbol, *iv, pf) {
                        if let Some(bar) = market.final_bar(venue, symbol, *iv, pf) {
                            frames.push(self.flavor.kline(&self.shared, symbol, *iv, &bar, true));
                        }
                    }
                    st.pending_final = None;
                }
            }
            // The new bar waits for the old one's final, unless it goes first.
            let blocked = st.pending_final.is_some() && !new_first;
            let first = st.current.is_none();
            if (first || periodic) && !blocked && market.hidden(venue, symbol, *iv, cur_t) {
                st.current = Some(cur_t);
            } else if (first || periodic) && !blocked && !quiet {
                if let Some(bar) = market.forming(venue, symbol, *iv, now_ms) {
                    frames.push(self.flavor.kline(&self.shared, symbol, *iv, &bar, false));
                    st.current = Some(cur_t);
                }
            }
        }
        for frame in frames {
            self.send(frame).await?;
        }
        Ok(())
    }

    async fn on_client(
        &mut self,
        message: Message,
        awaiting_pong: &mut Option<(Vec<u8>, Instant)>,
    ) -> Result<(), End> {
        if let Some(limit) = self.flavor.max_messages_per_second() {
            let now = Instant::now();
            self.client_times.push_back(now);
            while self
                .client_times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                self.client_times.pop_front();
            }
            if self.client_times.len() > limit {
                let why = format!("more than {limit} client messages within 1 s");
                self.log(WsKind::Breach(why.clone()));
                return Err(why);
            }
        }
        match message {
            Message::Text(body) => {
                let body = body.to_string();
                self.log(WsKind::ClientText(body.clone()));
                let shared = self.shared.clone();
                let before: Vec<(String, Iv)> = self.conn.subs.keys().cloned().collect();
                let mut outcome = self.flavor.on_client(&shared, &mut self.conn, &body);
                if let Some((iv, delay)) = shared.config.slow_acks {
                    let added: Vec<(String, Iv)> = self
                        .conn
                        .subs
                        .keys()
                        .filter(|k| k.1 == iv && !before.contains(k))
                        .cloned()
                        .collect();
                    if !added.is_empty() {
                        for (symbol, iv) in &added {
                            self.conn.remove(symbol, *iv);
                        }
                        let replies = std::mem::take(&mut outcome.replies);
                        self.slow.push(SlowAck {
                            at: Instant::now() + delay,
                            keys: added,
                            replies,
                        });
                    }
                }
                if let Some(why) = outcome.drop {
                    self.log(WsKind::Breach(why.clone()));
                    return Err(why);
                }
                if let Some(max) = self.flavor.max_streams() {
                    if self.conn.subs.len() > max {
                        let why = format!("more than {max} streams on one connection");
                        self.log(WsKind::Breach(why.clone()));
                        return Err(why);
                    }
                }
                if !self.muted {
                    for reply in outcome.replies {
                        self.send(reply).await?;
                    }
                }
                Ok(())
            }
            Message::Pong(payload) => {
                let matched = awaiting_pong
                    .as_ref()
                    .is_some_and(|(sent, _)| sent.as_slice() == payload.as_ref());
                if matched {
                    *awaiting_pong = None;
                }
                self.log(WsKind::Pong { matched });
                Ok(())
            }
            Message::Close(_) => Err("closed by the client".into()),
            Message::Ping(_) | Message::Binary(_) => Ok(()),
        }
    }

    async fn on_fault(&mut self, fault: WsFault) -> Result<(), End> {
        let market = &self.shared.market;
        let venue = self.venue();
        let now_ms = market.now_ms();
        match fault {
            WsFault::Disconnect {
                notice,
                close_frame: with_frame,
            } => {
                if notice {
                    if let Some(message) = self.flavor.shutdown_notice(now_ms) {
                        self.send(message).await?;
                    }
                }
                if with_frame {
                    self.send(close_frame(1001, "going away")).await?;
                }
                Err(format!(
                    "forced disconnect (notice: {notice}, close frame: {with_frame})"
                ))
            }
            WsFault::Mute => {
                self.muted = true;
                Ok(())
            }
            WsFault::Inject(inject) => self.inject(inject, now_ms).await,
            WsFault::Revised { symbol, iv, t } => {
                if !self.conn.has(&symbol, iv) {
                    return Ok(());
                }
                match market.final_bar(venue, &symbol, iv, t) {
                    Some(bar) => {
                        let frame = self.flavor.kline(&self.shared, &symbol, iv, &bar, true);
                        self.send(frame).await
                    }
                    None => Ok(()),
                }
            }
        }
    }

    async fn inject(&mut self, inject: Inject, now_ms: i64) -> Result<(), End> {
        let market = &self.shared.market;
        let venue = self.venue();
        match inject {
            Inject::Text(body) => self.send(text(body)).await,
            Inject::Binary(bytes) => self.send(Message::Binary(bytes.into())).await,
            Inject::Flood { count } => {
                let Some((symbol, iv)) = self.conn.subs.keys().next().cloned() else {
                    return Ok(());
                };
                let Some(bar) = market.forming(venue, &symbol, iv, now_ms) else {
                    return Ok(());
                };
                let frame = self.flavor.kline(&self.shared, &symbol, iv, &bar, false);
                for _ in 0..count {
                    self.send(frame.clone()).await?;
                }
                Ok(())
            }
            Inject::ResendClosed { symbol, iv } | Inject::Older { symbol, iv }
                if !self.conn.has(&symbol, iv) =>
            {
                Ok(())
            }
            Inject::ResendClosed { symbol, iv } => {
                let t = now_ms.div_euclid(iv.ms()) * iv.ms() - iv.ms();
                match market.final_bar(venue, &symbol, iv, t) {
                    Some(bar) => {
                        let frame = self.flavor.kline(&self.shared, &symbol, iv, &bar, true);
                        self.send(frame).await
                    }
                    None => Ok(()),
                }
            }
            Inject::Older { symbol, iv } => {
                let t = now_ms.div_euclid(iv.ms()) * iv.ms() - iv.ms();
                match market.final_bar(venue, &symbol, iv, t) {
                    Some(bar) => {
                        let frame =
                            self.flavor
                                .kline(&self.shared, &symbol, iv, &bar.partial(0.5), false);
                        self.send(frame).await
                    }
                    None => Ok(()),
                }
            }
        }
    }
}

fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }))
}

/// A number as venues print it in strings: the shortest exact decimal.
pub(crate) fn decimal(x: f64) -> String {
    format!("{x}")
}
