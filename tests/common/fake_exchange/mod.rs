//! A fake of the four exchange markets QuantPro follows (Binance spot,
//! Binance USD-M, Hyperliquid perps, MEXC contract), REST and WebSocket,
//! for tests and benchmarks. It speaks the protocols of
//! `shared/docs/EXTERNAL_APIS.md` (§2-§4 REST, §9 streams), errors included,
//! and replays the real candles of `shared/data/candles` (read in place via
//! `common::candles_dir()`, never copied) on a market clock.
//!
//! # Start
//! ```ignore
//! let fake = FakeExchange::start(FakeConfig::default()).await; // 127.0.0.1:0, one port per venue
//! let urls: SourceUrls = serde_json::from_value(fake.urls_json()).unwrap();
//! let clock = Clock::anchored(fake.epoch_ms(), fake.epoch(), fake.speed());
//! ```
//! Spawn it inside the test's runtime (tokio paused time works: every
//! wait is a tokio sleep). It is self-contained (no `quantpro` types), so
//! every crate that includes `tests/common` compiles it.
//!
//! # Market
//! Market time is `epoch_ms + (tokio time since start) x speed`;
//! `FakeConfig::start_ms` sets `epoch_ms` (default: 2000 15m candles into
//! the Binance data, so REST has history behind "now"). A candle exists
//! once it is closed in market time; the forming one is derived from the
//! final candle (open fixed, high/low/close/volume moving towards their
//! final values with the fraction of the interval elapsed), pushed every
//! `push_every` on the streams and returned as the newest REST row (as the
//! real APIs do) unless `rest_includes_forming` is off.
//! Data per venue: Binance spot and USD-M replay the `*_BINANCE_*` files
//! (`BTCUSDT`), MEXC contract the same files as `BTC_USDT` (there is no MEXC
//! data; volume in contracts of [`contract_size`]), Hyperliquid the
//! `*_HYPERLIQUID_*` files (`BTC`, `kPEPE`) shifted by a whole number of
//! days so all venues share one timeline (the values are unchanged).
//! `FakeConfig::symbols_per_venue` adds clones of the real symbols by name
//! (`BTC2USDT`, `BTC2_USDT`, `BTC2`, ...), each replaying its original's
//! candles, for a universe of benchmark size.
//!
//! # REST (per venue, on its own port)
//! - Binance spot `/api/v3/klines` (limit <= 1000, weight 2), USD-M
//!   `/fapi/v1/klines` (limit <= 1500, weight by limit), `exchangeInfo`,
//!   `ticker/24hr`; every answer carries `X-MBX-USED-WEIGHT-1M`; over the
//!   budget (6000 / 2400 per minute) 429 with `Retry-After`; calls during a
//!   `Retry-After` count as violations and `ban_after_violations` of them
//!   give a 418 ban with `Retry-After` and the "banned until <ms>" body (ms
//!   on the market clock); errors `{"code":-1121,"msg":"Invalid symbol."}`.
//! - Hyperliquid `POST /info`: `candleSnapshot` (the 5000 most recent
//!   only), `meta`, `metaAndAssetCtxs` (strings, ctx[i] for universe[i],
//!   delisted coins flagged `isDelisted`); 1200 weight per minute (20 per
//!   request + 1 per 60 candles), 429 beyond; 422 plain text for a bad body.
//! - MEXC `/api/v1/contract/kline/{sym}` (seconds, parallel arrays, <= 2000),
//!   `/contract/detail`, `/contract/ticker`; `{"success","code","data"}`
//!   envelopes, code 1001 for an unknown contract, code 510 past 20 calls
//!   per 2 s (HTTP status `mexc_510_status`, 200 by default: CHECK).
//!
//! # Streams
//! - Binance spot `ws://host:port/stream?streams=...` and USD-M
//!   `ws://host:port/market/stream?...` (the legacy `/stream` on the USD-M
//!   port accepts and sends nothing); SUBSCRIBE/UNSUBSCRIBE/LIST_SUBSCRIPTIONS
//!   with ids; `x:true` finals `close_delay_ms` after the close; protocol
//!   pings (20 s spot / 180 s futures) with a pong deadline (60 s / 600 s);
//!   more than 5 (spot) / 10 (futures) client messages per second or 1024
//!   streams close the socket without a message (logged as a breach).
//! - Hyperliquid `ws://host:port/ws`: one `candle` subscription per message,
//!   `subscriptionResponse`, `Already subscribed`, `{"method":"ping"}` ->
//!   `{"channel":"pong"}`, an unknown coin closes the socket, 60 s without a
//!   client message closes it; options for numeric prices, array `data`, the
//!   greeting text.
//! - MEXC `ws://host:port/edge`: `sub.kline` -> `rs.sub.kline` /
//!   `rs.error` (no symbol), `push.kline` with `t` in seconds and `r*`
//!   fields, pong with a timestamp, 60 s idle close, optional gzip frames.
//! - No venue replays what a client missed.
//!
//! # Faults (per test, at any time)
//! [`FakeExchange::disconnect`] (with or without Binance's
//! `serverShutdown`), [`FakeExchange::refuse_connections`] (an outage),
//! [`FakeExchange::mute`] (open sockets go silent), [`FakeExchange::inject`]
//! (raw or binary frames, a flood, a re-sent closed candle, an older
//! candle), [`FakeExchange::revise`] (a candle changed after its close, on
//! REST and pushed again), [`FakeExchange::silence`] (no pushes for a key
//! over a market-time range), [`FakeExchange::gap`] (candles missing from
//! REST), [`FakeExchange::delist`], [`FakeExchange::rate_limit_storm`]
//! (429s with `Retry-After`), [`FakeExchange::ban`] (418s).
//!
//! # Logs
//! [`FakeExchange::log`]: every REST request (path, query or body, status,
//! weight, whether it arrived during a ban) and every stream event
//! (connections, client messages, pongs, breaches, closes), so tests can
//! assert what was asked.

// Not every includer uses every part (the library's unit tests and the
// benchmarks include `tests/common` for `candles_dir` alone).
#![allow(dead_code, unused_imports)]

mod binance;
mod hyperliquid;
mod limits;
pub mod log;
pub mod market;
mod mexc;
mod ws;

pub use log::{Log, RestRecord, WsKind, WsRecord};
pub use market::{contract_size, Bar, Iv, Market};

use axum::serve::ListenerExt;
use axum::Router;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The four markets of the fake.
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

    pub fn is_binance(self) -> bool {
        matches!(self, Venue::BinanceSpot | Venue::BinanceFutures)
    }
}

/// How the Binance stream answers a SUBSCRIBE for an unknown symbol
/// (EXTERNAL_APIS.md §9.1: CHECK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownStream {
    /// Accepted, never pushed.
    Silence,
    /// `{"code":2,"msg":"Invalid request: ...","id":n}`.
    Error,
}

/// What Hyperliquid's `candleSnapshot` answers for an unknown coin (CHECK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownCoin {
    Empty,
    ServerError,
}

/// Behaviour of the fake; `Default` is the documented protocol.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Market time at start; `None`: 2000 15m candles into the data.
    pub start_ms: Option<i64>,
    /// Market ms per tokio ms.
    pub speed: f64,
    /// Forming-candle push cadence on the streams (tokio time).
    pub push_every: Duration,
    /// Market ms between a close and its final push (Binance `x:true`).
    pub close_delay_ms: i64,
    /// At a rollover, push the new bar before the old one's final.
    pub new_bar_first: bool,
    /// REST klines end with the forming candle, as the real APIs do.
    pub rest_includes_forming: bool,
    /// Binance protocol ping interval and pong deadline; `None`: the venue's
    /// (spot 20 s / 60 s, futures 180 s / 600 s).
    pub binance_ping: Option<(Duration, Duration)>,
    /// Hyperliquid and MEXC close a socket silent this long (60 s).
    pub idle_close: Duration,
    /// Every socket is closed after this long (24 h).
    pub ws_lifetime: Duration,
    pub binance_unknown_symbol: UnknownStream,
    pub hl_unknown_coin: UnknownCoin,
    pub hl_greeting: bool,
    pub hl_numeric_prices: bool,
    pub hl_data_array: bool,
    /// `Retry-After` seconds on Hyperliquid 429s (not documented: CHECK).
    pub hl_retry_after: Option<u64>,
    pub mexc_gzip: bool,
    pub mexc_510_status: u16,
    /// Calls during a Binance `Retry-After` before a 418 ban.
    pub ban_after_violations: u32,
    pub ban_duration: Duration,
    /// REST weight budgets per minute (MEXC: calls per 2 s).
    pub budgets: Budgets,
    /// Subscriptions of this interval made by message are answered (and
    /// pushed) only this long after they are asked (a slow server: a close
    /// in between is never pushed to that socket); `None`: at once.
    pub slow_acks: Option<(Iv, Duration)>,
    /// Symbols per venue: the real ones, then clones of them by name
    /// replaying their original's candles (`BTC2USDT`, `BTC2_USDT`, `BTC2`;
    /// for benchmarks at a universe's size); `None`: the real ones only.
    pub symbols_per_venue: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
pub struct Budgets {
    pub binance_spot: u32,
    pub binance_futures: u32,
    pub hyperliquid: u32,
    pub mexc_per_2s: u32,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            binance_spot: 6000,
            binance_futures: 2400,
            hyperliquid: 1200,
            mexc_per_2s: 20,
        }
    }
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            start_ms: None,
            speed: 1.0,
            push_every: Duration::from_secs(20),
            close_delay_ms: 500,
            new_bar_first: false,
            rest_includes_forming: true,
            binance_ping: None,
            idle_close: Duration::from_secs(60),
            ws_lifetime: Duration::from_secs(24 * 3600),
            binance_unknown_symbol: UnknownStream::Silence,
            hl_unknown_coin: UnknownCoin::Empty,
            hl_greeting: false,
            hl_numeric_prices: false,
            hl_data_array: false,
            hl_retry_after: None,
            mexc_gzip: false,
            mexc_510_status: 200,
            ban_after_violations: 3,
            ban_duration: Duration::from_secs(120),
            budgets: Budgets::default(),
            slow_acks: None,
            symbols_per_venue: None,
        }
    }
}

/// A frame or event a test pushes into the open streams of a venue.
#[derive(Debug, Clone)]
pub enum Inject {
    /// A text frame as is (bad JSON, hostile values, ...).
    Text(String),
    /// A binary frame as is.
    Binary(Vec<u8>),
    /// `count` copies of the current push of the first subscription.
    Flood { count: usize },
    /// The newest closed candle of a key again, as its final push.
    ResendClosed { symbol: String, iv: Iv },
    /// The candle before the newest closed one, as a forming push.
    Older { symbol: String, iv: Iv },
}

/// What the sockets of a venue are told to do.
#[derive(Debug, Clone)]
pub(crate) enum WsFault {
    Disconnect {
        notice: bool,
        close_frame: bool,
    },
    Mute,
    Inject(Inject),
    /// Push the (revised) final candle `t` of a key.
    Revised {
        symbol: String,
        iv: Iv,
        t: i64,
    },
}

/// State shared by every handler of the fake.
pub(crate) struct Shared {
    pub config: FakeConfig,
    pub market: Market,
    pub log: Log,
    pub limits: limits::Limits,
    faults: BTreeMap<Venue, broadcast::Sender<WsFault>>,
    refuse_until: Mutex<BTreeMap<Venue, Instant>>,
    next_connection: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub(crate) fn faults(&self, venue: Venue) -> broadcast::Receiver<WsFault> {
        self.faults[&venue].subscribe()
    }

    pub(crate) fn refusing(&self, venue: Venue) -> bool {
        self.refuse_until
            .lock()
            .unwrap()
            .get(&venue)
            .is_some_and(|until| Instant::now() < *until)
    }

    pub(crate) fn connection_id(&self) -> u64 {
        self.next_connection
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// A running fake; dropping it stops its servers.
pub struct FakeExchange {
    shared: Arc<Shared>,
    addrs: BTreeMap<Venue, SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeExchange {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl FakeExchange {
    /// Binds one 127.0.0.1 port per venue and serves them in this runtime.
    pub async fn start(config: FakeConfig) -> FakeExchange {
        let market = Market::new(config.start_ms, config.speed, config.symbols_per_venue);
        let limits = limits::Limits::new(&config);
        let faults = Venue::ALL
            .iter()
            .map(|&v| (v, broadcast::channel(1024).0))
            .collect();
        let shared = Arc::new(Shared {
            config,
            market,
            log: Log::default(),
            limits,
            faults,
            refuse_until: Mutex::new(BTreeMap::new()),
            next_connection: std::sync::atomic::AtomicU64::new(1),
        });
        let mut addrs = BTreeMap::new();
        let mut tasks = Vec::new();
        for venue in Venue::ALL {
            let router: Router = match venue {
                Venue::BinanceSpot | Venue::BinanceFutures => {
                    binance::router(shared.clone(), venue)
                }
                Venue::Hyperliquid => hyperliquid::router(shared.clone()),
                Venue::MexcFutures => mexc::router(shared.clone()),
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            addrs.insert(venue, listener.local_addr().unwrap());
            // Without TCP_NODELAY a small frame can wait in the kernel for a
            // delayed ACK (tens of real ms), while paused tokio time jumps
            // straight to the next timer: the client would see silence.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            tasks.push(tokio::spawn(async move {
                axum::serve(listener, router)
                    .await
                    .expect("fake exchange server");
            }));
        }
        FakeExchange {
            shared,
            addrs,
            tasks,
        }
    }

    fn host(&self, venue: Venue) -> String {
        self.addrs[&venue].to_string()
    }

    /// REST base URL (`[sources]` `binance_spot`, `binance_futures`,
    /// `hyperliquid`, `mexc_futures`).
    pub fn rest_url(&self, venue: Venue) -> String {
        format!("http://{}", self.host(venue))
    }

    /// Stream base URL (`[sources]` `*_stream`).
    pub fn stream_url(&self, venue: Venue) -> String {
        let host = self.host(venue);
        match venue {
            Venue::BinanceSpot => format!("ws://{host}"),
            Venue::BinanceFutures => format!("ws://{host}/market"),
            Venue::Hyperliquid => format!("ws://{host}/ws"),
            Venue::MexcFutures => format!("ws://{host}/edge"),
        }
    }

    /// The retired USD-M URL: accepts connections, sends nothing.
    pub fn legacy_futures_stream_url(&self) -> String {
        format!("ws://{}", self.host(Venue::BinanceFutures))
    }

    /// The base URLs under the field names of `sources::urls::SourceUrls`
    /// (deserialize it from this; the other fields keep their defaults).
    pub fn urls_json(&self) -> Value {
        json!({
            "binance_spot": self.rest_url(Venue::BinanceSpot),
            "binance_futures": self.rest_url(Venue::BinanceFutures),
            "binance_spot_stream": self.stream_url(Venue::BinanceSpot),
            "binance_futures_stream": self.stream_url(Venue::BinanceFutures),
            "hyperliquid": self.rest_url(Venue::Hyperliquid),
            "hyperliquid_stream": self.stream_url(Venue::Hyperliquid),
            "mexc_futures": self.rest_url(Venue::MexcFutures),
            "mexc_futures_stream": self.stream_url(Venue::MexcFutures),
        })
    }

    /// A `[sources]` table of `quantpro.toml` at the fake; the APIs it does
    /// not fake (and Binance and MEXC spot) at a closed port, so nothing
    /// leaves 127.0.0.1.
    pub fn sources_toml(&self) -> String {
        let mut toml = String::from("[sources]\n");
        for (key, url) in self.urls_json().as_object().expect("an object") {
            toml.push_str(&format!("{key} = {url}\n"));
        }
        for key in [
            "coinalyze",
            "coingecko",
            "gemini",
            "binance_spot",
            "mexc_spot",
        ] {
            if !toml.contains(&format!("\n{key} =")) {
                toml.push_str(&format!("{key} = \"http://127.0.0.1:9\"\n"));
            }
        }
        toml
    }

    pub fn market(&self) -> &Market {
        &self.shared.market
    }

    pub fn log(&self) -> &Log {
        &self.shared.log
    }

    pub fn config(&self) -> &FakeConfig {
        &self.shared.config
    }

    /// Market time now.
    pub fn now_ms(&self) -> i64 {
        self.shared.market.now_ms()
    }

    /// Market time at [`FakeExchange::epoch`].
    pub fn epoch_ms(&self) -> i64 {
        self.shared.market.epoch_ms()
    }

    pub fn epoch(&self) -> Instant {
        self.shared.market.epoch()
    }

    pub fn speed(&self) -> f64 {
        self.shared.market.speed()
    }

    /// Sleeps (tokio time) until the market clock shows `ms`.
    pub async fn sleep_until_market(&self, ms: i64) {
        tokio::time::sleep_until(self.shared.market.instant_at(ms)).await;
    }

    fn send(&self, venue: Venue, fault: WsFault) {
        // No receiver: no socket open; nothing to do.
        let _ = self.shared.faults[&venue].send(fault);
    }

    /// Drops every open socket of `venue`: Binance first announces it with
    /// `serverShutdown` when `notice`; `close_frame` sends a close frame,
    /// otherwise the TCP connection just ends (1006).
    pub fn disconnect(&self, venue: Venue, notice: bool, close_frame: bool) {
        self.send(
            venue,
            WsFault::Disconnect {
                notice,
                close_frame,
            },
        );
    }

    /// Refuses new stream connections of `venue` (HTTP 503) for `duration`.
    pub fn refuse_connections(&self, venue: Venue, duration: Duration) {
        self.shared
            .refuse_until
            .lock()
            .unwrap()
            .insert(venue, Instant::now() + duration);
    }

    /// The open sockets of `venue` stop sending anything (no pushes, pongs or
    /// pings) but stay open; new connections are normal.
    pub fn mute(&self, venue: Venue) {
        self.send(venue, WsFault::Mute);
    }

    pub fn inject(&self, venue: Venue, inject: Inject) {
        self.send(venue, WsFault::Inject(inject));
    }

    /// Changes the closed candle `t` of a key (its close moves by `delta`,
    /// its volume grows by 1 %): REST serves the new values from now on and
    /// the open streams push it again.
    pub fn revise(&self, venue: Venue, symbol: &str, iv: Iv, t: i64, delta: f64) -> Bar {
        let bar = self.shared.market.revise(venue, symbol, iv, t, delta);
        self.send(
            venue,
            WsFault::Revised {
                symbol: symbol.to_string(),
                iv,
                t,
            },
        );
        bar
    }

    /// No pushes for a key while the market time is in `[from_ms, to_ms)`.
    pub fn silence(&self, venue: Venue, symbol: &str, iv: Iv, from_ms: i64, to_ms: i64) {
        self.shared
            .market
            .silence(venue, symbol, iv, from_ms, to_ms);
    }

    /// The streams never push the bar of a key opening at `t` (neither
    /// forming nor final): its close is missed, the bars around it are
    /// pushed as usual. REST serves it.
    pub fn hide(&self, venue: Venue, symbol: &str, iv: Iv, t: i64) {
        self.shared.market.hide(venue, symbol, iv, t);
    }

    /// REST omits the candles of a key opening in `[from_ms, to_ms)`.
    pub fn gap(&self, venue: Venue, symbol: &str, iv: Iv, from_ms: i64, to_ms: i64) {
        self.shared.market.gap(venue, symbol, iv, from_ms, to_ms);
    }

    /// The symbol leaves the market lists (Hyperliquid: `isDelisted`), its
    /// klines answer "unknown symbol" and its streams stop.
    pub fn delist(&self, venue: Venue, symbol: &str) {
        self.shared.market.delist(venue, symbol);
    }

    /// Every REST call of `venue` is refused as over the limit for
    /// `duration` (Binance/Hyperliquid 429 with `Retry-After: retry_after_s`,
    /// MEXC code 510).
    pub fn rate_limit_storm(&self, venue: Venue, duration: Duration, retry_after_s: u64) {
        self.shared.limits.storm(venue, duration, retry_after_s);
    }

    /// Bans the IP on `venue` for `duration`: 418 with `Retry-After` and the
    /// "banned until" body; calls meanwhile are logged `during_ban`.
    pub fn ban(&self, venue: Venue, duration: Duration) {
        self.shared.limits.ban(venue, duration);
    }
}
