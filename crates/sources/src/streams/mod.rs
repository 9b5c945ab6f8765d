//! [ssr] WebSocket candle streams: the closes of every subscribed
//! (symbol, interval), as they happen, from Binance spot and USD-M
//! (combined kline streams), Hyperliquid (`candle` subscriptions) and MEXC
//! contract (`sub.kline`).
//!
//! In the flow `exchange APIs -> sources -> live loop -> candle store`, this
//! module is the push half of `sources`: the live loop starts one
//! [`StreamHandle`] per venue ([`spawn`]), subscribes its universe, and reads
//! [`StreamEvent`]s from a tokio mpsc channel:
//! - [`StreamEvent::Closed`]: a candle is final. Only closed candles are
//!   reported as closes; the forming one is a separate
//!   [`StreamEvent::Forming`] event, off unless [`StreamConfig::report_forming`].
//! - [`StreamEvent::Revised`]: a candle already reported closed came again
//!   with other values (the exchange's later value is `revised`).
//! - [`StreamEvent::Missed`]: candles of a key that closed without the stream
//!   seeing them (a disconnect, a quiet market): fetch them over REST.
//! - [`StreamEvent::Disconnected`] / [`StreamEvent::Reconnected`]: the
//!   connection state, for the status line; `Reconnected` carries
//!   `disconnected_at_ms` so the loop can repair the gap over REST (no venue
//!   replays missed pushes).
//! - [`StreamEvent::Subscribed`]: every subscription of a connection is
//!   answered; only from then on are its closes all pushed (the loop's REST
//!   repair after a reconnect waits for it).
//! - [`StreamEvent::Rejected`]: the venue refused a subscription (unknown
//!   symbol); it is dropped.
//!
//! Close detection (EXTERNAL_APIS.md §9), in [`tracker`]: Binance's `x:true`
//! flag; otherwise a push of a later open time for the same key (Hyperliquid,
//! MEXC), or the clock passing close time + a grace period. Candles are keyed
//! by (venue, symbol, interval, open time); a re-sent closed candle is not a
//! second close, an older candle after a newer one is not a close.
//!
//! Connections (in `connection`): ping/pong per venue (Binance answers the
//! server's ping frames with the same payload, Hyperliquid and MEXC send
//! `{"method":"ping"}`), idle detection (no frame for `idle_timeout` ->
//! reconnect), reconnect with exponential backoff and jitter ([`Backoff`]),
//! resubscribe everything, `serverShutdown` -> reconnect at once. Hostile
//! input (bad JSON, NaN or absurd numbers, huge frames) is logged with one
//! `[STREAM]` line and skipped; a flood (far more frames than the venue's
//! cadence) drops the connection, logged, and it reconnects after a backoff.
//!
//! All waiting uses tokio's clock and candle times come from the injected
//! [`crate::clock::Clock`] (the one clock of the pipeline and the live
//! loop), so tests run on virtual time against a fake exchange.

mod connection;
pub(crate) mod frame_guard;
pub(crate) mod protocol;
mod set;
mod stats;
pub(crate) mod tracker;

pub use crate::backoff::{Backoff, Jitter};
pub(crate) use set::spawn;
pub use set::StreamHandle;
pub use stats::{StreamCounts, StreamStats};

use crate::clock::Clock;
use crate::urls::SourceUrls;
use quantpro_model::Candle;
use quantpro_model::Market;
use quantpro_model::{Exchange, Interval};
use std::fmt;
use std::time::Duration;

/// One exchange market that streams candles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Venue {
    BinanceSpot,
    BinanceFutures,
    Hyperliquid,
    MexcFutures,
}

impl Venue {
    pub const ALL: [Venue; 4] = [
        Venue::BinanceSpot,
        Venue::BinanceFutures,
        Venue::Hyperliquid,
        Venue::MexcFutures,
    ];

    pub fn exchange(self) -> Exchange {
        match self {
            Venue::BinanceSpot | Venue::BinanceFutures => Exchange::Binance,
            Venue::Hyperliquid => Exchange::Hyperliquid,
            Venue::MexcFutures => Exchange::Mexc,
        }
    }

    pub fn market(self) -> Market {
        match self {
            Venue::BinanceSpot => Market::Spot,
            _ => Market::Futures,
        }
    }

    /// The venue streaming an exchange market, if it has one (MEXC spot
    /// streams protobuf, which we do not read).
    pub fn of(exchange: Exchange, market: Market) -> Option<Venue> {
        match (exchange, market) {
            (Exchange::Binance, Market::Spot) => Some(Venue::BinanceSpot),
            (Exchange::Binance, Market::Futures) => Some(Venue::BinanceFutures),
            (Exchange::Hyperliquid, _) => Some(Venue::Hyperliquid),
            (Exchange::Mexc, Market::Futures) => Some(Venue::MexcFutures),
            (Exchange::Mexc, Market::Spot) => None,
        }
    }

    /// The stream base URL of this venue in `[sources]`.
    pub fn stream_url(self, urls: &SourceUrls) -> &str {
        match self {
            Venue::BinanceSpot => &urls.binance_spot_stream,
            Venue::BinanceFutures => &urls.binance_futures_stream,
            Venue::Hyperliquid => &urls.hyperliquid_stream,
            Venue::MexcFutures => &urls.mexc_futures_stream,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Venue::BinanceSpot => "Binance spot",
            Venue::BinanceFutures => "Binance futures",
            Venue::Hyperliquid => "Hyperliquid",
            Venue::MexcFutures => "MEXC futures",
        }
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One candle series of one venue; `symbol` as the venue spells it
/// (`BTCUSDT`, `BTC`, `BTC_USDT`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    pub venue: Venue,
    pub symbol: String,
    pub interval: Interval,
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.venue, self.symbol, self.interval)
    }
}

/// What a [`StreamHandle`] is asked to follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub symbol: String,
    pub interval: Interval,
    /// MEXC contract streams count volume in contracts: base units per
    /// contract (`contractSize` of `/api/v1/contract/detail`) turn it into
    /// the base volume the REST candles carry. Required on MEXC (a
    /// subscription without it is rejected), ignored elsewhere.
    pub contract_size: Option<f64>,
}

impl Subscription {
    pub fn new(symbol: impl Into<String>, interval: Interval) -> Subscription {
        Subscription {
            symbol: symbol.into(),
            interval,
            contract_size: None,
        }
    }

    pub fn with_contract_size(mut self, size: f64) -> Subscription {
        self.contract_size = Some(size);
        self
    }
}

/// How a close was recognised (EXTERNAL_APIS.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseSignal {
    /// The venue flagged it (Binance `x:true`).
    Flag,
    /// A push of a later candle for the same key arrived.
    NextCandle,
    /// The clock passed its close time plus the grace period.
    Timer,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DisconnectReason {
    /// The venue announced a restart (Binance `serverShutdown`).
    ServerShutdown,
    /// The server closed the socket (close frame or end of stream).
    Closed(String),
    /// A read or write failed (reset without a closing handshake, ...).
    Failed(String),
    /// No frame at all for this long.
    Idle(Duration),
    /// More frames within one second than the venue's cadence allows.
    Flood { frames: u32, limit: u32 },
    /// The connection reached its planned lifetime (Binance: 24 h).
    Lifetime,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ServerShutdown => f.write_str("server shutdown announced"),
            DisconnectReason::Closed(why) => write!(f, "closed by the server ({why})"),
            DisconnectReason::Failed(why) => write!(f, "connection failed ({why})"),
            DisconnectReason::Idle(d) => write!(f, "no frame for {} s", d.as_secs()),
            DisconnectReason::Flood { frames, limit } => {
                write!(f, "flood: {frames} frames in 1 s (limit {limit})")
            }
            DisconnectReason::Lifetime => f.write_str("connection lifetime reached"),
        }
    }
}

/// What a stream reports to the live loop.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The first session of a connection is up, with the keys it carries.
    Connected {
        venue: Venue,
        connection: usize,
        at_ms: i64,
        keys: Vec<StreamKey>,
    },
    /// Every subscription of a connection's session is answered (acknowledged,
    /// taken as made after `ack_timeout`, or rejected): from `at_ms` on the
    /// stream brings every `keys` key's closes; what closed before (while
    /// down, or while subscribing: no venue replays a push) is for REST.
    /// Reported once per session, and again after later subscriptions.
    Subscribed {
        venue: Venue,
        connection: usize,
        at_ms: i64,
        keys: usize,
    },
    /// A connection was lost; it reconnects by itself.
    Disconnected {
        venue: Venue,
        connection: usize,
        at_ms: i64,
        reason: DisconnectReason,
    },
    /// A connection is back and resubscribing `keys`. Candles that closed
    /// from `disconnected_at_ms` on were not seen: the loop repairs them over
    /// REST (the first push of each key also reports them as `Missed`).
    Reconnected {
        venue: Venue,
        connection: usize,
        disconnected_at_ms: i64,
        at_ms: i64,
        keys: Vec<StreamKey>,
    },
    /// A closed candle, reported once per key and open time, oldest first.
    Closed {
        key: StreamKey,
        candle: Candle,
        by: CloseSignal,
    },
    /// The forming candle as pushed (only with `report_forming`).
    Forming { key: StreamKey, candle: Candle },
    /// A candle already reported closed came again with other values.
    Revised {
        key: StreamKey,
        previous: Candle,
        revised: Candle,
    },
    /// Candles opening from `from_open_ms` to `to_open_ms` (inclusive) closed
    /// without the stream seeing them: fetch them over REST.
    Missed {
        key: StreamKey,
        from_open_ms: i64,
        to_open_ms: i64,
    },
    /// The venue refused the subscription; it is dropped.
    Rejected { key: StreamKey, reason: String },
}

/// Timings of one venue's connections; [`StreamTiming::for_venue`] gives the
/// documented ones. Durations are tokio time; `close_grace_ms` is clock time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamTiming {
    /// Application-level ping (Hyperliquid, MEXC); `None` where the server
    /// pings (Binance).
    pub ping_every: Option<Duration>,
    /// No frame at all for this long -> reconnect.
    pub idle_timeout: Duration,
    /// A candle without a close signal closes this long after its close time.
    pub close_grace_ms: i64,
    pub backoff: Backoff,
    /// Least time between two control messages (subscribe, unsubscribe,
    /// ping): Binance counts them against 5/s (spot) or 10/s (futures).
    pub control_gap: Duration,
    /// A subscription without an answer after this long is taken as made.
    pub ack_timeout: Duration,
    /// Reconnect before the server's own cut-off (Binance: 24 h).
    pub max_lifetime: Option<Duration>,
    /// Frames per second above which the stream is a flood; `None` derives
    /// it from the venue's cadence and the number of subscriptions.
    pub flood_per_sec: Option<u32>,
    /// Text or decompressed frames larger than this are skipped.
    pub max_frame_bytes: usize,
    /// Connection attempt (TCP + TLS + handshake) limit.
    pub connect_timeout: Duration,
}

impl StreamTiming {
    pub fn for_venue(venue: Venue) -> StreamTiming {
        let base = StreamTiming {
            ping_every: None,
            idle_timeout: Duration::from_secs(60),
            close_grace_ms: 5_000,
            backoff: Backoff::default(),
            control_gap: Duration::from_millis(250),
            ack_timeout: Duration::from_secs(10),
            max_lifetime: None,
            flood_per_sec: None,
            max_frame_bytes: 64 * 1024,
            connect_timeout: Duration::from_secs(15),
        };
        // Binance's x:true can lag the close by seconds (up to ~24 s on
        // futures): the timer is only the fallback there.
        let binance_lifetime = Some(Duration::from_secs(24 * 3600 - 600));
        match venue {
            Venue::BinanceSpot => StreamTiming {
                close_grace_ms: 10_000,
                max_lifetime: binance_lifetime,
                // Under 5 messages/s, with room for pongs.
                control_gap: Duration::from_millis(250),
                ..base
            },
            Venue::BinanceFutures => StreamTiming {
                close_grace_ms: 10_000,
                max_lifetime: binance_lifetime,
                control_gap: Duration::from_millis(125),
                ..base
            },
            // The server drops a connection it has heard nothing from for
            // 60 s; the official SDK pings every 50 s. 2000 messages/min.
            Venue::Hyperliquid => StreamTiming {
                ping_every: Some(Duration::from_secs(50)),
                idle_timeout: Duration::from_secs(90),
                control_gap: Duration::from_millis(40),
                ..base
            },
            // The doc asks for a ping every 10-20 s (dropped after 60 s).
            Venue::MexcFutures => StreamTiming {
                ping_every: Some(Duration::from_secs(15)),
                idle_timeout: Duration::from_secs(45),
                control_gap: Duration::from_millis(100),
                ..base
            },
        }
    }
}

/// How subscriptions are spread over connections and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Keys per connection (Binance: 1024 streams).
    pub max_per_connection: usize,
    /// Keys written into the connection URL (Binance combined streams); the
    /// rest are subscribed with control messages.
    pub in_url: usize,
    /// Keys per subscribe message (Hyperliquid and MEXC: one).
    pub per_message: usize,
    /// Subscribe messages awaiting an answer at once (MEXC: one, since its
    /// answers do not name the symbol).
    pub in_flight: usize,
}

impl StreamLimits {
    pub fn for_venue(venue: Venue) -> StreamLimits {
        match venue {
            Venue::BinanceSpot | Venue::BinanceFutures => StreamLimits {
                max_per_connection: 1024,
                in_url: 200,
                per_message: 200,
                in_flight: 8,
            },
            // 1000 subscriptions per IP: more connections would not help.
            Venue::Hyperliquid => StreamLimits {
                max_per_connection: 1000,
                in_url: 0,
                per_message: 1,
                in_flight: 8,
            },
            // Not documented (CHECK); one client uses 20 per connection.
            Venue::MexcFutures => StreamLimits {
                max_per_connection: 50,
                in_url: 0,
                per_message: 1,
                in_flight: 1,
            },
        }
    }
}

/// Everything one venue's [`StreamHandle`] needs.
#[derive(Clone)]
pub struct StreamConfig {
    pub venue: Venue,
    /// The venue's stream base URL (`[sources]`: `binance_spot_stream`, ...).
    pub base_url: String,
    pub timing: StreamTiming,
    pub limits: StreamLimits,
    pub clock: Clock,
    /// Also report the forming candle as [`StreamEvent::Forming`].
    pub report_forming: bool,
    /// Seed of the reconnect jitter (tests fix it; `spawn` callers may
    /// leave the default, derived from the clock).
    pub jitter_seed: u64,
}

impl fmt::Debug for StreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamConfig")
            .field("venue", &self.venue)
            .field("base_url", &self.base_url)
            .field("timing", &self.timing)
            .field("limits", &self.limits)
            .field("report_forming", &self.report_forming)
            .finish_non_exhaustive()
    }
}

impl StreamConfig {
    /// The documented timings and limits of `venue`, its URL from `urls`,
    /// the wall clock.
    pub fn new(venue: Venue, urls: &SourceUrls) -> StreamConfig {
        let clock = Clock::real();
        StreamConfig {
            venue,
            base_url: venue.stream_url(urls).trim_end_matches('/').to_string(),
            timing: StreamTiming::for_venue(venue),
            limits: StreamLimits::for_venue(venue),
            jitter_seed: clock.now_ms() as u64,
            clock,
            report_forming: false,
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> StreamConfig {
        self.clock = clock;
        self
    }
}
