//! The WebSocket candle streams (`sources::streams`) against the fake
//! exchange (`tests/common/fake_exchange`), on virtual time: each venue's
//! client yields exactly the closed candles of the real data in order across
//! disconnects and outages, pings and answers pings, reconnects when a socket
//! goes idle, tells duplicates, older pushes and revisions apart, skips
//! malformed frames with a log line, cuts off floods, and handles unknown
//! symbols the way each venue reports them.

#![cfg(feature = "ssr")]

mod common;

use common::fake_exchange::{
    self as fake, contract_size, Bar, FakeConfig, FakeExchange, Inject, Iv, UnknownStream, WsKind,
};
use quantpro_model::Candle;
use quantpro_model::Interval;
use quantpro_sources::clock::Clock;
use quantpro_sources::streams::{
    CloseSignal, DisconnectReason, StreamConfig, StreamEvent, StreamHandle, StreamKey,
    Subscription, Venue,
};
use quantpro_sources::urls::SourceUrls;
use quantpro_sources::venues;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const M15: i64 = 900_000;

fn venue(v: fake::Venue) -> Venue {
    match v {
        fake::Venue::BinanceSpot => Venue::BinanceSpot,
        fake::Venue::BinanceFutures => Venue::BinanceFutures,
        fake::Venue::Hyperliquid => Venue::Hyperliquid,
        fake::Venue::MexcFutures => Venue::MexcFutures,
    }
}

fn interval(iv: Iv) -> Interval {
    match iv {
        Iv::M15 => Interval::M15,
        Iv::H1 => Interval::H1,
        Iv::H4 => Interval::H4,
    }
}

/// BTC and ETH as each venue spells them.
fn btc_eth(v: fake::Venue) -> [&'static str; 2] {
    match v {
        fake::Venue::BinanceSpot | fake::Venue::BinanceFutures => ["BTCUSDT", "ETHUSDT"],
        fake::Venue::Hyperliquid => ["BTC", "ETH"],
        fake::Venue::MexcFutures => ["BTC_USDT", "ETH_USDT"],
    }
}

/// A candle as the client reports it: MEXC volumes went through contracts.
fn expected(v: fake::Venue, symbol: &str, bar: &Bar) -> Candle {
    let volume = match v {
        fake::Venue::MexcFutures => {
            let size = contract_size(symbol);
            bar.v / size * size
        }
        _ => bar.v,
    };
    Candle {
        t: bar.t,
        o: bar.o,
        h: bar.h,
        l: bar.l,
        c: bar.c,
        v: volume,
    }
}

struct Harness {
    fake: FakeExchange,
    v: fake::Venue,
    handle: StreamHandle,
    events: mpsc::Receiver<StreamEvent>,
    seen: Vec<StreamEvent>,
}

fn subscription(v: fake::Venue, symbol: &str, iv: Iv) -> Subscription {
    let sub = Subscription::new(symbol, interval(iv));
    match v {
        fake::Venue::MexcFutures => sub.with_contract_size(contract_size(symbol)),
        _ => sub,
    }
}

fn stream_config(fake: &FakeExchange, v: fake::Venue) -> StreamConfig {
    let urls: SourceUrls =
        serde_json::from_value(fake.urls_json()).expect("fake URLs fit SourceUrls");
    let clock = Clock::anchored(fake.epoch_ms(), fake.epoch(), fake.speed());
    let mut config = StreamConfig::new(venue(v), &urls).with_clock(clock);
    config.jitter_seed = 42;
    config
}

impl Harness {
    async fn start(v: fake::Venue, fake_config: FakeConfig, keys: &[(&str, Iv)]) -> Harness {
        Harness::start_with(v, fake_config, keys, |_| {}).await
    }

    async fn start_with(
        v: fake::Venue,
        fake_config: FakeConfig,
        keys: &[(&str, Iv)],
        tune: impl FnOnce(&mut StreamConfig),
    ) -> Harness {
        if std::env::var_os("DEBUG_STREAMS").is_some() {
            let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        }
        let fake = FakeExchange::start(fake_config).await;
        let mut config = stream_config(&fake, v);
        tune(&mut config);
        let (tx, events) = mpsc::channel(4096);
        let subs = keys.iter().map(|(s, iv)| subscription(v, s, *iv)).collect();
        let handle = venues::spawn_stream(config, subs, tx);
        Harness {
            fake,
            v,
            handle,
            events,
            seen: Vec::new(),
        }
    }

    fn key(&self, symbol: &str, iv: Iv) -> StreamKey {
        StreamKey {
            venue: venue(self.v),
            symbol: symbol.to_string(),
            interval: interval(iv),
        }
    }

    /// Records events until the market clock shows `until_ms`.
    async fn run_until(&mut self, until_ms: i64) {
        let deadline = self.fake.market().instant_at(until_ms);
        loop {
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(event) => self.seen.push(event),
                    None => return,
                },
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    /// Market time `k` 15m candles after the fake's start.
    fn at(&self, k: f64) -> i64 {
        self.fake.epoch_ms() + (k * M15 as f64) as i64
    }

    fn closes(&self, symbol: &str, iv: Iv) -> Vec<Candle> {
        let key = self.key(symbol, iv);
        self.seen
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Closed { key: k, candle, .. } if *k == key => Some(*candle),
                _ => None,
            })
            .collect()
    }

    /// The final candles of a key opening in `[from_ms, to_ms)`, as reported.
    fn truth(&self, symbol: &str, iv: Iv, from_ms: i64, to_ms: i64) -> Vec<Candle> {
        self.fake
            .market()
            .series(self.v, symbol, iv)
            .expect("series in the data")
            .iter()
            .filter(|b| b.t >= from_ms && b.t < to_ms)
            .map(|b| expected(self.v, symbol, b))
            .collect()
    }

    fn count(&self, pick: impl Fn(&StreamEvent) -> bool) -> usize {
        self.seen.iter().filter(|e| pick(e)).count()
    }
}

fn assert_candles_eq(v: fake::Venue, got: &[Candle], want: &[Candle]) {
    assert_eq!(
        got.iter().map(|c| c.t).collect::<Vec<_>>(),
        want.iter().map(|c| c.t).collect::<Vec<_>>(),
        "{v:?}: open times of the closes"
    );
    for (g, w) in got.iter().zip(want) {
        let same = [(g.o, w.o), (g.h, w.h), (g.l, w.l), (g.c, w.c)]
            .iter()
            .all(|(a, b)| a == b)
            && (g.v - w.v).abs() <= w.v.abs() * 1e-12;
        assert!(same, "{v:?}: candle {} is {g:?}, the data says {w:?}", g.t);
    }
}

// ------------------------------------------------------ closes across faults

/// Two keys over twelve 15m closes with three faults: a disconnect mid-bar
/// with notice (Binance `serverShutdown`), an abrupt one mid-bar, and an
/// outage across two closes. The closes equal the data, in order, except the
/// two the outage hid, which come back as `Missed`.
async fn closes_across_disconnects(v: fake::Venue, fake_config: FakeConfig) {
    let [btc, eth] = btc_eth(v);
    let mut h = Harness::start(v, fake_config, &[(btc, Iv::M15), (eth, Iv::M15)]).await;
    h.run_until(h.at(3.5)).await;
    let first_drop = h.fake.now_ms();
    h.fake.disconnect(v, true, false);
    h.run_until(h.at(5.5)).await;
    let second_drop = h.fake.now_ms();
    h.fake.disconnect(v, false, false);
    h.run_until(h.at(7.5)).await;
    let outage_start = h.fake.now_ms();
    h.fake.refuse_connections(v, Duration::from_secs(30 * 60));
    h.fake.disconnect(v, false, true);
    h.run_until(h.at(12.5)).await;

    let start = h.fake.epoch_ms();
    for symbol in [btc, eth] {
        let mut want = h.truth(symbol, Iv::M15, start, h.at(7.0));
        want.extend(h.truth(symbol, Iv::M15, h.at(9.0), h.at(12.0)));
        assert_candles_eq(v, &h.closes(symbol, Iv::M15), &want);
        let key = h.key(symbol, Iv::M15);
        let missed: Vec<(i64, i64)> = h
            .seen
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Missed {
                    key: k,
                    from_open_ms,
                    to_open_ms,
                } if *k == key => Some((*from_open_ms, *to_open_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(
            missed,
            vec![(h.at(7.0), h.at(8.0))],
            "{v:?} {symbol}: missed"
        );
    }
    let reconnects: Vec<(i64, i64)> = h
        .seen
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Reconnected {
                disconnected_at_ms,
                at_ms,
                keys,
                ..
            } => {
                assert_eq!(keys.len(), 2, "every key is resubscribed");
                Some((*disconnected_at_ms, *at_ms))
            }
            _ => None,
        })
        .collect();
    assert_eq!(reconnects.len(), 3, "{v:?}: {reconnects:?}");
    for ((lost, back), dropped) in reconnects
        .iter()
        .zip([first_drop, second_drop, outage_start])
    {
        assert!(
            *lost >= dropped && *lost - dropped < 1_000,
            "{v:?}: lost at {lost}, dropped at {dropped}"
        );
        assert!(back >= lost);
    }
    // The outage lasted 30 minutes; the others were repaired within seconds.
    assert!(reconnects[2].1 - reconnects[2].0 >= 30 * 60_000);
    assert!(
        reconnects[1].1 - reconnects[1].0 < 5_000,
        "backoff after one drop: {reconnects:?}"
    );
    if v.is_binance() {
        assert!(matches!(
            h.seen
                .iter()
                .find(|e| matches!(e, StreamEvent::Disconnected { .. })),
            Some(StreamEvent::Disconnected {
                reason: DisconnectReason::ServerShutdown,
                ..
            })
        ));
        assert_eq!(
            reconnects[0].1, reconnects[0].0,
            "serverShutdown: reconnect at once"
        );
    }
    assert_eq!(
        h.fake.log().breaches(v),
        Vec::<String>::new(),
        "{v:?}: limits broken"
    );
    assert_eq!(h.handle.stats().malformed, 0);
}

#[tokio::test(start_paused = true)]
async fn binance_spot_closes_are_exact_across_disconnects() {
    closes_across_disconnects(fake::Venue::BinanceSpot, FakeConfig::default()).await;
}

#[tokio::test(start_paused = true)]
async fn binance_futures_closes_are_exact_across_disconnects() {
    // The next bar's first push may come before the old bar's x:true.
    let config = FakeConfig {
        new_bar_first: true,
        close_delay_ms: 3_000,
        ..FakeConfig::default()
    };
    closes_across_disconnects(fake::Venue::BinanceFutures, config).await;
}

#[tokio::test(start_paused = true)]
async fn hyperliquid_closes_are_exact_across_disconnects() {
    closes_across_disconnects(fake::Venue::Hyperliquid, FakeConfig::default()).await;
}

#[tokio::test(start_paused = true)]
async fn hyperliquid_wire_variants_give_the_same_closes() {
    // Greeting text, numeric prices and `data` as a one-element array.
    let config = FakeConfig {
        hl_greeting: true,
        hl_numeric_prices: true,
        hl_data_array: true,
        ..FakeConfig::default()
    };
    closes_across_disconnects(fake::Venue::Hyperliquid, config).await;
}

#[tokio::test(start_paused = true)]
async fn mexc_closes_are_exact_across_disconnects() {
    closes_across_disconnects(fake::Venue::MexcFutures, FakeConfig::default()).await;
}

#[tokio::test(start_paused = true)]
async fn mexc_gzip_frames_give_the_same_closes() {
    let config = FakeConfig {
        mexc_gzip: true,
        ..FakeConfig::default()
    };
    closes_across_disconnects(fake::Venue::MexcFutures, config).await;
}

#[tokio::test(start_paused = true)]
async fn the_four_hour_and_hourly_streams_close_on_their_boundaries() {
    let v = fake::Venue::BinanceSpot;
    let mut h = Harness::start(
        v,
        FakeConfig::default(),
        &[("SOLUSDT", Iv::H1), ("SOLUSDT", Iv::H4)],
    )
    .await;
    h.run_until(h.at(16.0 * 3.0 + 8.0)).await;
    let start = h.fake.epoch_ms();
    let first = |iv: Iv| start.div_euclid(iv.ms()) * iv.ms();
    for iv in [Iv::H1, Iv::H4] {
        let got = h.closes("SOLUSDT", iv);
        let want = h.truth("SOLUSDT", iv, first(iv), h.fake.now_ms() - iv.ms());
        assert!(!want.is_empty());
        // The first bar was joined mid-way: its close is still the final one.
        assert_candles_eq(v, &got, &want);
    }
}

// ------------------------------------------------------------ ping and idle

#[tokio::test(start_paused = true)]
async fn binance_server_pings_are_answered_with_the_same_payload() {
    for v in [fake::Venue::BinanceSpot, fake::Venue::BinanceFutures] {
        let mut h = Harness::start(v, FakeConfig::default(), &[(btc_eth(v)[0], Iv::M15)]).await;
        h.run_until(h.at(4.0)).await; // one hour
        let log = h.fake.log().ws(v);
        let pings = log.iter().filter(|r| r.kind == WsKind::PingSent).count();
        let matched = log
            .iter()
            .filter(|r| r.kind == WsKind::Pong { matched: true })
            .count();
        let expected_pings = if v == fake::Venue::BinanceSpot {
            180
        } else {
            20
        };
        assert!(pings >= expected_pings - 1, "{v:?}: {pings} pings");
        assert!(
            matched >= pings - 1,
            "{v:?}: {matched} of {pings} pongs carried the ping's payload"
        );
        assert_eq!(h.fake.log().breaches(v), Vec::<String>::new());
        assert_eq!(
            h.count(|e| matches!(e, StreamEvent::Disconnected { .. })),
            0
        );
    }
}

#[tokio::test(start_paused = true)]
async fn hyperliquid_and_mexc_clients_ping_often_enough_to_stay_connected() {
    for (v, most) in [
        (fake::Venue::Hyperliquid, 50_000),
        (fake::Venue::MexcFutures, 15_000),
    ] {
        let mut h = Harness::start(v, FakeConfig::default(), &[(btc_eth(v)[0], Iv::M15)]).await;
        h.run_until(h.at(4.0)).await;
        let pings: Vec<i64> = h
            .fake
            .log()
            .client_messages(v)
            .into_iter()
            .filter(|(_, text)| text == r#"{"method":"ping"}"#)
            .map(|(at, _)| at)
            .collect();
        assert!(
            pings.len() as i64 >= 3_600_000 / most - 1,
            "{v:?}: {} pings",
            pings.len()
        );
        assert!(
            pings.windows(2).all(|w| w[1] - w[0] <= most),
            "{v:?}: ping gaps"
        );
        assert_eq!(
            h.fake.log().breaches(v),
            Vec::<String>::new(),
            "{v:?}: idle close"
        );
        assert_eq!(
            h.count(|e| matches!(e, StreamEvent::Disconnected { .. })),
            0
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_socket_is_dropped_after_the_idle_timeout_and_replaced() {
    for v in [
        fake::Venue::BinanceSpot,
        fake::Venue::Hyperliquid,
        fake::Venue::MexcFutures,
    ] {
        let symbol = btc_eth(v)[0];
        let mut h = Harness::start(v, FakeConfig::default(), &[(symbol, Iv::M15)]).await;
        h.run_until(h.at(1.2)).await;
        let muted_at = h.fake.now_ms();
        h.fake.mute(v);
        h.run_until(h.at(4.5)).await;
        let idle = quantpro_sources::streams::StreamTiming::for_venue(venue(v)).idle_timeout;
        let lost = h.seen.iter().find_map(|e| match e {
            StreamEvent::Disconnected { at_ms, reason, .. } => Some((*at_ms, reason.clone())),
            _ => None,
        });
        let (lost_at, reason) = lost.unwrap_or_else(|| panic!("{v:?}: no disconnect"));
        assert_eq!(reason, DisconnectReason::Idle(idle), "{v:?}");
        // Silence counts from the last frame, at most one push cadence before the mute.
        let elapsed = lost_at - muted_at;
        assert!(
            elapsed <= idle.as_millis() as i64 && elapsed >= idle.as_millis() as i64 - 61_000,
            "{v:?}: {elapsed}"
        );
        assert_eq!(h.handle.stats().idle_disconnects, 1);
        // Closes go on after the new connection.
        let start = h.fake.epoch_ms();
        let got = h.closes(symbol, Iv::M15);
        let after: Vec<i64> = got
            .iter()
            .map(|c| c.t)
            .filter(|t| *t >= h.at(2.0))
            .collect();
        assert_eq!(after, vec![h.at(2.0), h.at(3.0)], "{v:?}");
        assert!(got.iter().all(|c| c.t >= start));
    }
}

#[tokio::test(start_paused = true)]
async fn the_legacy_futures_url_sends_nothing_and_is_retried_as_idle() {
    let v = fake::Venue::BinanceFutures;
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let mut config = stream_config(&fake, v);
    config.base_url = fake.legacy_futures_stream_url();
    let (tx, mut events) = mpsc::channel(64);
    let handle = venues::spawn_stream(config, vec![subscription(v, "BTCUSDT", Iv::M15)], tx);
    let until = fake.market().instant_at(fake.epoch_ms() + 4 * 60_000);
    let mut idle = 0;
    while let Ok(Some(event)) = tokio::time::timeout_at(until, events.recv()).await {
        match event {
            StreamEvent::Disconnected {
                reason: DisconnectReason::Idle(_),
                ..
            } => idle += 1,
            StreamEvent::Closed { .. } => panic!("the legacy URL sends no klines"),
            _ => {}
        }
    }
    assert!(idle >= 2, "{idle} idle disconnects");
    assert!(fake.log().ws(v).iter().all(|r| match &r.kind {
        WsKind::Opened(path) => path.starts_with("/stream"),
        _ => true,
    }));
    handle.stop().await;
}

// ---------------------------------------- duplicates, disorder and revisions

#[tokio::test(start_paused = true)]
async fn resent_and_older_candles_are_not_closes_and_a_revision_is_reported() {
    for v in fake::Venue::ALL {
        let symbol = btc_eth(v)[0];
        let mut h = Harness::start(v, FakeConfig::default(), &[(symbol, Iv::M15)]).await;
        h.run_until(h.at(2.3)).await;
        h.fake.inject(
            v,
            Inject::ResendClosed {
                symbol: symbol.into(),
                iv: Iv::M15,
            },
        );
        h.fake.inject(
            v,
            Inject::Older {
                symbol: symbol.into(),
                iv: Iv::M15,
            },
        );
        h.run_until(h.at(2.4)).await;
        let revised_t = h.at(1.0);
        let original = h.truth(symbol, Iv::M15, revised_t, revised_t + M15)[0];
        let bar = h.fake.revise(v, symbol, Iv::M15, revised_t, 25.0);
        h.run_until(h.at(4.5)).await;

        let start = h.fake.epoch_ms();
        assert_candles_eq(
            v,
            &h.closes(symbol, Iv::M15),
            &h.truth(symbol, Iv::M15, start, h.at(4.0)),
        );
        let stats = h.handle.stats();
        assert!(stats.duplicates >= 1, "{v:?}: {stats:?}");
        assert!(stats.out_of_order >= 1, "{v:?}: {stats:?}");
        let revisions: Vec<(Candle, Candle)> = h
            .seen
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Revised {
                    previous, revised, ..
                } => Some((*previous, *revised)),
                _ => None,
            })
            .collect();
        assert_eq!(revisions.len(), 1, "{v:?}: {revisions:?}");
        assert_eq!(revisions[0].0, original, "{v:?}");
        assert_eq!(revisions[0].1, expected(v, symbol, &bar), "{v:?}");
    }
}

// ------------------------------------------------------------ hostile input

/// A tracing subscriber writing into a buffer, for the log assertions.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Frames a venue could be sent by a broken or hostile server.
fn hostile_frames(v: fake::Venue, symbol: &str, t: i64) -> Vec<Inject> {
    let binance = |o: &str, extra: &str| {
        format!(
            r#"{{"stream":"x","data":{{"e":"kline","s":"{symbol}","k":{{"t":{t},"T":{},"s":"{symbol}","i":"15m","o":"{o}","c":"1","h":"1","l":"1","v":"1","x":false{extra}}}}}}}"#,
            t + M15 - 1
        )
    };
    let hyperliquid = |o: &str| {
        format!(
            r#"{{"channel":"candle","data":{{"t":{t},"T":{},"s":"{symbol}","i":"15m","o":"{o}","c":"1","h":"1","l":"1","v":"1","n":1}}}}"#,
            t + M15 - 1
        )
    };
    let mexc = |o: &str| {
        format!(
            r#"{{"channel":"push.kline","data":{{"symbol":"{symbol}","interval":"Min15","t":{},"o":{o},"c":1,"h":1,"l":1,"q":1,"a":1}}}}"#,
            t / 1000
        )
    };
    let venue_frames: Vec<String> = match v {
        fake::Venue::BinanceSpot | fake::Venue::BinanceFutures => {
            vec![
                binance("NaN", ""),
                binance("1e300", ""),
                binance("-5", ""),
                binance("1", r#","x":"yes""#),
            ]
        }
        fake::Venue::Hyperliquid => vec![
            hyperliquid("NaN"),
            hyperliquid("1e300"),
            hyperliquid("-5"),
            hyperliquid("abc"),
        ],
        fake::Venue::MexcFutures => vec![mexc("1e300"), mexc("-5"), mexc("\"x\""), mexc("null")],
    };
    let mut frames: Vec<Inject> = venue_frames.into_iter().map(Inject::Text).collect();
    frames.push(Inject::Text("{not json".into()));
    frames.push(Inject::Text("[]".into()));
    frames.push(Inject::Text(format!(
        r#"{{"pad":"{}"}}"#,
        "x".repeat(200_000)
    )));
    frames.push(Inject::Binary(vec![0xff, 0xfe, 0x00, 0x01]));
    // A gzip bomb: a few KB that inflate to 10 MB.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&vec![b' '; 10 << 20]).unwrap();
    frames.push(Inject::Binary(bomb.finish().unwrap()));
    frames
}

#[tokio::test(start_paused = true)]
async fn malformed_and_hostile_frames_are_logged_and_skipped_without_stopping() {
    let captured = Captured::default();
    let _guard = captured.install();
    for v in fake::Venue::ALL {
        let symbol = btc_eth(v)[0];
        let mut h = Harness::start(v, FakeConfig::default(), &[(symbol, Iv::M15)]).await;
        h.run_until(h.at(1.5)).await;
        let frames = hostile_frames(v, symbol, h.at(1.0));
        let sent = frames.len() as u64;
        for frame in frames {
            h.fake.inject(v, frame);
        }
        h.run_until(h.at(3.5)).await;
        let stats = h.handle.stats();
        assert_eq!(
            stats.malformed, sent,
            "{v:?}: every hostile frame is skipped once: {stats:?}"
        );
        assert_eq!(stats.oversized, 1, "{v:?}");
        assert_eq!(
            h.count(|e| matches!(e, StreamEvent::Disconnected { .. })),
            0,
            "{v:?}"
        );
        let start = h.fake.epoch_ms();
        assert_candles_eq(
            v,
            &h.closes(symbol, Iv::M15),
            &h.truth(symbol, Iv::M15, start, h.at(3.0)),
        );
    }
    let log = captured.text();
    for needle in [
        "skipped a malformed frame: not JSON",
        "price out of range",
        "exceeds 65536",
        "gzip frame inflates beyond",
        "neither gzip nor UTF-8",
    ] {
        assert!(
            log.contains(needle),
            "no log line with {needle:?} in:\n{log}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_is_cut_off_logged_and_followed_by_a_reconnect() {
    let captured = Captured::default();
    let _guard = captured.install();
    for v in [fake::Venue::BinanceSpot, fake::Venue::Hyperliquid] {
        let symbol = btc_eth(v)[0];
        let mut h = Harness::start(v, FakeConfig::default(), &[(symbol, Iv::M15)]).await;
        h.run_until(h.at(1.5)).await;
        h.fake.inject(v, Inject::Flood { count: 3_000 });
        h.run_until(h.at(3.5)).await;
        let flood = h.seen.iter().find_map(|e| match e {
            StreamEvent::Disconnected {
                reason: DisconnectReason::Flood { frames, limit },
                ..
            } => Some((*frames, *limit)),
            _ => None,
        });
        let (frames, limit) = flood.unwrap_or_else(|| panic!("{v:?}: no flood cut-off"));
        assert_eq!(frames, limit + 1);
        assert_eq!(h.handle.stats().floods, 1);
        assert_eq!(h.count(|e| matches!(e, StreamEvent::Reconnected { .. })), 1);
        let start = h.fake.epoch_ms();
        assert_candles_eq(
            v,
            &h.closes(symbol, Iv::M15),
            &h.truth(symbol, Iv::M15, start, h.at(3.0)),
        );
    }
    assert!(
        captured.text().contains("flood cut off"),
        "{}",
        captured.text()
    );
}

// ----------------------------------------------------------- unknown symbols

fn rejected(h: &Harness) -> Vec<(String, String)> {
    h.seen
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Rejected { key, reason } => Some((key.symbol.clone(), reason.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn binance_is_silent_about_unknown_symbols_unless_it_answers_an_error() {
    let v = fake::Venue::BinanceSpot;
    // Silence (the default): nothing comes for the unknown symbol.
    let mut h = Harness::start(
        v,
        FakeConfig::default(),
        &[("BTCUSDT", Iv::M15), ("NOPEUSDT", Iv::M15)],
    )
    .await;
    h.run_until(h.at(2.5)).await;
    assert!(rejected(&h).is_empty());
    assert!(h.closes("NOPEUSDT", Iv::M15).is_empty());
    assert_eq!(h.closes("BTCUSDT", Iv::M15).len(), 2);

    // An error answer: the batch is retried one by one, the unknown one rejected.
    let config = FakeConfig {
        binance_unknown_symbol: UnknownStream::Error,
        ..FakeConfig::default()
    };
    let keys = [
        ("BTCUSDT", Iv::M15),
        ("NOPEUSDT", Iv::M15),
        ("ETHUSDT", Iv::M15),
    ];
    let mut h = Harness::start_with(v, config, &keys, |c| c.limits.in_url = 0).await;
    h.run_until(h.at(2.5)).await;
    let refused = rejected(&h);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "NOPEUSDT");
    assert!(refused[0].1.contains("code 2"), "{refused:?}");
    for symbol in ["BTCUSDT", "ETHUSDT"] {
        assert_eq!(h.closes(symbol, Iv::M15).len(), 2, "{symbol}");
    }
    assert_eq!(
        h.count(|e| matches!(e, StreamEvent::Disconnected { .. })),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn hyperliquid_closes_the_socket_on_an_unknown_coin_which_is_then_rejected() {
    let v = fake::Venue::Hyperliquid;
    let keys = [("BTC", Iv::M15), ("NOPE", Iv::M15), ("ETH", Iv::M15)];
    let mut h = Harness::start(v, FakeConfig::default(), &keys).await;
    h.run_until(h.at(3.5)).await;
    let refused = rejected(&h);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "NOPE");
    let unknown_closes = h
        .fake
        .log()
        .breaches(v)
        .iter()
        .filter(|b| b.contains("unknown coin NOPE"))
        .count();
    assert_eq!(unknown_closes, 2, "rejected after the second close");
    let start = h.fake.epoch_ms();
    for symbol in ["BTC", "ETH"] {
        // The two closes of the socket came within the first candle: nothing lost.
        assert_candles_eq(
            v,
            &h.closes(symbol, Iv::M15),
            &h.truth(symbol, Iv::M15, start, h.at(3.0)),
        );
    }
}

#[tokio::test(start_paused = true)]
async fn mexc_refuses_an_unknown_contract_without_naming_it() {
    let v = fake::Venue::MexcFutures;
    let keys = [
        ("BTC_USDT", Iv::M15),
        ("NOPE_USDT", Iv::M15),
        ("ETH_USDT", Iv::M15),
    ];
    let mut h = Harness::start(v, FakeConfig::default(), &keys).await;
    h.run_until(h.at(2.5)).await;
    let refused = rejected(&h);
    assert_eq!(
        refused,
        vec![("NOPE_USDT".to_string(), "contract not exists".to_string())]
    );
    for symbol in ["BTC_USDT", "ETH_USDT"] {
        assert_eq!(h.closes(symbol, Iv::M15).len(), 2, "{symbol}");
    }
    assert_eq!(
        h.count(|e| matches!(e, StreamEvent::Disconnected { .. })),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn impossible_subscriptions_are_rejected_before_asking_the_venue() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let (tx, mut events) = mpsc::channel(16);
    let config = stream_config(&fake, fake::Venue::MexcFutures);
    let subs = vec![
        Subscription::new("BTC_USDT", Interval::M15), // no contract size
        Subscription::new("btc-usdt", Interval::M15).with_contract_size(1.0),
    ];
    let handle = venues::spawn_stream(config, subs, tx);
    let mut reasons = Vec::new();
    for _ in 0..2 {
        match events.recv().await {
            Some(StreamEvent::Rejected { reason, .. }) => reasons.push(reason),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
    assert!(reasons[0].contains("contract size"), "{reasons:?}");
    assert!(reasons[1].contains("not a MEXC contract"), "{reasons:?}");
    handle.stop().await;
    assert_eq!(fake.log().connections(fake::Venue::MexcFutures), 0);
}

// ------------------------------------------------ subscriptions and pacing

#[tokio::test(start_paused = true)]
async fn binance_subscriptions_are_paced_and_spread_over_connections() {
    let v = fake::Venue::BinanceSpot;
    let fake_symbols = FakeExchange::start(FakeConfig::default())
        .await
        .market()
        .all_symbols(v);
    let keys: Vec<(&str, Iv)> = fake_symbols
        .iter()
        .flat_map(|s| Iv::ALL.map(|iv| (s.as_str(), iv)))
        .collect();
    assert!(keys.len() >= 30);
    let mut h = Harness::start_with(v, FakeConfig::default(), &keys, |c| {
        c.limits.in_url = 2;
        c.limits.per_message = 1;
        c.limits.max_per_connection = 16;
    })
    .await;
    h.run_until(h.at(1.5)).await;
    let connections = h.fake.log().connections(v);
    assert_eq!(connections, keys.len().div_ceil(16));
    assert_eq!(
        h.fake.log().breaches(v),
        Vec::<String>::new(),
        "5 messages/s limit"
    );
    let subscribes = h
        .fake
        .log()
        .client_messages(v)
        .into_iter()
        .filter(|(_, m)| m.contains("SUBSCRIBE"))
        .count();
    assert_eq!(
        subscribes,
        keys.len() - 2 * connections,
        "one message per stream beyond the URL's"
    );
    for (symbol, iv) in &keys {
        if *iv == Iv::M15 {
            assert_eq!(h.closes(symbol, *iv).len(), 1, "{symbol}");
        }
    }
    // Unsubscribing stops the closes of that key only.
    h.handle.unsubscribe([("BTCUSDT", Interval::M15)]);
    h.run_until(h.at(3.5)).await;
    assert_eq!(h.closes("BTCUSDT", Iv::M15).len(), 1);
    assert_eq!(h.closes("ETHUSDT", Iv::M15).len(), 3);
    assert!(h
        .fake
        .log()
        .client_messages(v)
        .iter()
        .any(|(_, m)| m.contains("UNSUBSCRIBE") && m.contains("btcusdt@kline_15m")));
}

#[tokio::test(start_paused = true)]
async fn a_silent_key_closes_on_the_timer_and_reports_what_it_missed() {
    let v = fake::Venue::Hyperliquid;
    let mut h = Harness::start(
        v,
        FakeConfig::default(),
        &[("BTC", Iv::M15), ("ETH", Iv::M15)],
    )
    .await;
    // No pushes for ETH from mid-candle 1 to mid-candle 3 (across two boundaries).
    h.fake.silence(v, "ETH", Iv::M15, h.at(1.5), h.at(3.5));
    h.run_until(h.at(5.5)).await;
    let eth = h.closes("ETH", Iv::M15);
    let timer_closes = h.count(|e| {
        matches!(e, StreamEvent::Closed { key, by: CloseSignal::Timer, .. } if key.symbol == "ETH")
    });
    assert_eq!(
        timer_closes, 1,
        "candle 1 closes on the timer with its last pushed state"
    );
    assert_eq!(
        eth.iter().map(|c| c.t).collect::<Vec<_>>(),
        vec![h.at(0.0), h.at(1.0), h.at(3.0), h.at(4.0)]
    );
    assert!(h.seen.iter().any(|e| matches!(e,
        StreamEvent::Missed { key, from_open_ms, to_open_ms }
            if key.symbol == "ETH" && *from_open_ms == h.at(2.0) && *to_open_ms == h.at(2.0))));
    // BTC was not affected.
    let start = h.fake.epoch_ms();
    assert_candles_eq(
        v,
        &h.closes("BTC", Iv::M15),
        &h.truth("BTC", Iv::M15, start, h.at(5.0)),
    );
}

#[tokio::test(start_paused = true)]
async fn a_delisted_symbol_stops_streaming_and_others_go_on() {
    let v = fake::Venue::BinanceFutures;
    let mut h = Harness::start(
        v,
        FakeConfig::default(),
        &[("BTCUSDT", Iv::M15), ("WIFUSDT", Iv::M15)],
    )
    .await;
    h.run_until(h.at(1.5)).await;
    h.fake.delist(v, "WIFUSDT");
    h.run_until(h.at(4.5)).await;
    let wif = h.closes("WIFUSDT", Iv::M15);
    // Candle 1 was forming at the delisting: it closes on the timer, then nothing.
    assert_eq!(
        wif.iter().map(|c| c.t).collect::<Vec<_>>(),
        vec![h.at(0.0), h.at(1.0)]
    );
    assert_eq!(h.closes("BTCUSDT", Iv::M15).len(), 4);
}

#[tokio::test(start_paused = true)]
async fn subscribed_is_reported_once_every_subscription_is_answered() {
    let v = fake::Venue::Hyperliquid;
    // 4h subscriptions are answered 8 s late (within the 10 s patience).
    let fake_config = FakeConfig {
        slow_acks: Some((Iv::H4, Duration::from_secs(8))),
        ..FakeConfig::default()
    };
    let keys = [("BTC", Iv::M15), ("BTC", Iv::H4), ("ETH", Iv::M15)];
    let mut h = Harness::start(v, fake_config, &keys).await;
    let start = h.fake.now_ms();
    h.run_until(start + 30_000).await;
    let at = |pick: fn(&StreamEvent) -> Option<i64>| h.seen.iter().find_map(pick);
    let connected = at(|e| match e {
        StreamEvent::Connected { at_ms, .. } => Some(*at_ms),
        _ => None,
    })
    .expect("connected");
    let subscribed: Vec<(i64, usize)> = h
        .seen
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Subscribed { at_ms, keys, .. } => Some((*at_ms, *keys)),
            _ => None,
        })
        .collect();
    assert_eq!(subscribed.len(), 1, "once per session: {subscribed:?}");
    let (at_ms, keys) = subscribed[0];
    assert_eq!(keys, 3);
    assert!(
        at_ms >= connected + 8_000,
        "after the late 4h answer: {} ms after connecting",
        at_ms - connected
    );

    // After a reconnect, once more.
    h.fake.disconnect(v, false, false);
    h.run_until(start + 60_000).await;
    assert_eq!(h.count(|e| matches!(e, StreamEvent::Subscribed { .. })), 2);
}
