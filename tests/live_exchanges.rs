//! The live loop over real exchange venues (`live::exchange_market`: REST
//! fetchers under the one governor, WebSocket streams) against the fake
//! exchange on 127.0.0.1 replaying the real candles, on virtual time: the
//! feed follows each close from the streams, stored series never have a
//! hole (after a disconnect, after a REST gap), a banned host gets no call,
//! a delisted symbol stops being fetched and its rows are marked, a restart
//! resumes from what is stored, malformed frames are skipped, and only
//! closed candles are stored and scanned.

#![cfg(feature = "ssr")]

mod common;

use common::candle_files::assert_no_holes;
use common::fake_exchange::{self as fake, FakeConfig, FakeExchange, Inject, Iv};
use quantpro_core::candles::store::CandleStore;
use quantpro_core::candles::{read_candle_file, Candle};
use quantpro_model::{Exchange, Interval, LiveStatus, MarkKind, MasterFeed};
use quantpro_service::live::{Delivery, LiveLoop, Rescan};
use quantpro_service::pipeline::{DataPaths, ScanPipeline};
use quantpro_service::settings::{Environment, UniverseSettings};
use quantpro_sources::clock::Clock;
use quantpro_sources::governor::Host;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

const M15: i64 = 900_000;
const MIN: i64 = 60_000;

/// The four followed series: (fake venue, exchange, symbol).
const FOLLOWED: [(fake::Venue, Exchange, &str); 4] = [
    (fake::Venue::BinanceFutures, Exchange::Binance, "BTCUSDT"),
    (fake::Venue::BinanceFutures, Exchange::Binance, "ETHUSDT"),
    (fake::Venue::Hyperliquid, Exchange::Hyperliquid, "BTC"),
    (fake::Venue::Hyperliquid, Exchange::Hyperliquid, "ETH"),
];

fn universe(settle_secs: u64, refresh_minutes: u64) -> UniverseSettings {
    UniverseSettings {
        markets: vec!["binance:futures".into(), "hyperliquid".into()],
        top_n: 0,
        min_quote_volume: 0.0,
        include: FOLLOWED.iter().map(|(_, _, s)| s.to_string()).collect(),
        ltf_history: 400,
        htf_history: 60,
        settle_secs,
        refresh_minutes,
        ..UniverseSettings::default()
    }
}

fn paths(dir: &Path) -> DataPaths {
    DataPaths {
        data_dir: dir.join("data"),
        feed_path: dir.join("data").join("master_feed.json"),
        config_path: dir.join("quantpro.toml"),
    }
}

/// `[sources]` at the fake; the APIs it does not fake at a closed port.
fn write_config(dir: &Path, fake: &FakeExchange) {
    std::fs::write(dir.join("quantpro.toml"), fake.sources_toml()).unwrap();
}

struct Running {
    live: Arc<LiveLoop>,
    pipeline: Arc<ScanPipeline>,
    rescans: broadcast::Receiver<Rescan>,
    /// Every rate-limit line the status showed.
    rate_limits: Arc<Mutex<Vec<String>>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn start(dir: &Path, fake: &FakeExchange, settings: UniverseSettings) -> Running {
    write_config(dir, fake);
    let clock = Clock::anchored(fake.epoch_ms(), fake.epoch(), fake.speed());
    let pipeline = ScanPipeline::build(paths(dir), Environment::default())
        .unwrap()
        .with_clock(clock);
    let pipeline = Arc::new(pipeline);
    let live = Arc::new(LiveLoop::build(pipeline.clone(), settings).unwrap());
    let rescans = live.rescans();
    let rate_limits = Arc::new(Mutex::new(Vec::new()));
    let mut status = live.status();
    let seen = rate_limits.clone();
    tokio::spawn(async move {
        while status.changed().await.is_ok() {
            let lines = rate_limit_lines(&status.borrow());
            seen.lock().unwrap().extend(lines);
        }
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(live.clone().run(stopped));
    Running {
        live,
        pipeline,
        rescans,
        rate_limits,
        stop,
        task,
    }
}

fn rate_limit_lines(status: &LiveStatus) -> Vec<String> {
    status
        .venues
        .iter()
        .filter_map(|v| v.rate_limit.clone())
        .collect()
}

impl Running {
    async fn stop(self) {
        self.stop.send_replace(true);
        self.task.await.unwrap();
    }

    /// Waits for the first scan of every followed symbol.
    async fn until_all_rescanned(&mut self) {
        self.until_rescanned(FOLLOWED.len()).await;
    }

    async fn until_rescanned(&mut self, symbols: usize) {
        let mut seen = BTreeSet::new();
        while seen.len() < symbols {
            let rescan = self.rescans.recv().await.unwrap();
            seen.extend(rescan.symbols.iter().cloned());
        }
    }
}

/// The boundary `k` 15m candles after the fake's start (a close).
fn close(fake: &FakeExchange, k: i64) -> i64 {
    fake.epoch_ms() + k * M15
}

fn stored(dir: &Path, exchange: Exchange, symbol: &str) -> Vec<Candle> {
    let key = (exchange, symbol.to_string(), Interval::M15);
    read_candle_file(&CandleStore::path_of(&paths(dir).data_dir, &key)).unwrap()
}

fn feed(dir: &Path) -> MasterFeed {
    MasterFeed::parse(&std::fs::read_to_string(paths(dir).feed_path).unwrap()).unwrap()
}

/// Every followed symbol's rows in the feed carry the candle closing at
/// `close` as their newest.
fn assert_feed_at(dir: &Path, close: i64) {
    assert_feed_of(dir, close, &FOLLOWED);
}

fn assert_feed_of(dir: &Path, close: i64, followed: &[(fake::Venue, Exchange, &str)]) {
    let feed = feed(dir);
    for &(_, exchange, symbol) in followed {
        let rows: Vec<_> = feed
            .signals
            .iter()
            .filter(|s| s.exchange == exchange && s.symbol == symbol)
            .collect();
        assert!(!rows.is_empty(), "{exchange} {symbol} has rows in the feed");
        for row in rows {
            assert_eq!(
                row.ltf.last_candle_time,
                Some(close - M15),
                "{exchange} {symbol}: the feed has the candle of the {close} close"
            );
        }
    }
}

/// The stored 15m candles opening in `[from, to)` are the exchange's final
/// ones (never a forming candle), and all of them are there.
fn assert_final_candles(
    dir: &Path,
    fake: &FakeExchange,
    (venue, exchange, symbol): (fake::Venue, Exchange, &str),
    from: i64,
    to: i64,
) {
    let got: Vec<Candle> = stored(dir, exchange, symbol)
        .into_iter()
        .filter(|c| c.t >= from && c.t < to)
        .collect();
    let want: Vec<i64> = (0..(to - from) / M15).map(|i| from + i * M15).collect();
    assert_eq!(
        got.iter().map(|c| c.t).collect::<Vec<_>>(),
        want,
        "{exchange} {symbol}: open times"
    );
    for candle in got {
        let bar = fake
            .market()
            .final_bar(venue, symbol, Iv::M15, candle.t)
            .unwrap();
        let same = [
            (candle.o, bar.o),
            (candle.h, bar.h),
            (candle.l, bar.l),
            (candle.c, bar.c),
        ]
        .iter()
        .all(|(a, b)| a == b)
            && (candle.v - bar.v).abs() <= bar.v.abs() * 1e-12;
        assert!(
            same,
            "{exchange} {symbol} {}: stored {candle:?}, final {bar:?}",
            candle.t
        );
    }
}

/// [`assert_final_candles`] for every followed symbol, candles opening
/// from close `from_k` to close `to_k`.
fn assert_all_final(dir: &Path, fake: &FakeExchange, from_k: i64, to_k: i64) {
    for followed in FOLLOWED {
        assert_final_candles(dir, fake, followed, close(fake, from_k), close(fake, to_k));
    }
}

/// REST kline requests (Binance klines, Hyperliquid candleSnapshot) of a
/// symbol, as (market time, interval, startTime).
fn kline_requests(
    fake: &FakeExchange,
    venue: fake::Venue,
    symbol: &str,
) -> Vec<(i64, String, i64)> {
    fake.log()
        .rest(venue)
        .into_iter()
        .filter_map(|r| match venue {
            fake::Venue::Hyperliquid => {
                let req = r.body.as_ref()?.get("req")?;
                if req.get("coin")?.as_str()? != symbol {
                    return None;
                }
                let interval = req.get("interval")?.as_str()?.to_string();
                Some((r.at_ms, interval, req.get("startTime")?.as_i64()?))
            }
            _ => {
                if !r.path.ends_with("/klines") || r.param("symbol")? != symbol {
                    return None;
                }
                let start = r.param("startTime")?.parse().ok()?;
                Some((r.at_ms, r.param("interval")?, start))
            }
        })
        .collect()
}

fn all_kline_requests(fake: &FakeExchange) -> Vec<(i64, String, i64)> {
    FOLLOWED
        .iter()
        .flat_map(|(venue, _, symbol)| kline_requests(fake, *venue, symbol))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_feed_follows_each_close_from_the_streams_with_closed_candles_only() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    // A settle delay longer than the wait below: what reaches the feed
    // within 30 s of a close came from the streams, not from REST polling.
    let mut running = start(dir.path(), &fake, universe(300, 60));
    running.until_all_rescanned().await;
    assert_feed_at(dir.path(), close(&fake, 0));
    let after_backfill = all_kline_requests(&fake).len();
    assert!(after_backfill > 0);

    for k in 1..=3 {
        fake.sleep_until_market(close(&fake, k) + 30_000).await;
        assert_feed_at(dir.path(), close(&fake, k));
    }
    assert_eq!(
        all_kline_requests(&fake).len(),
        after_backfill,
        "the closes came from the streams: no kline request after the backfill"
    );
    // The REST answers and the streams both carried forming candles: none
    // was stored (each stored candle is the exchange's final one).
    for followed in FOLLOWED {
        assert_final_candles(
            dir.path(),
            &fake,
            followed,
            close(&fake, -20),
            close(&fake, 3),
        );
        assert_eq!(
            stored(dir.path(), followed.1, followed.2).len(),
            400,
            "{} {}: the configured history",
            followed.1,
            followed.2
        );
    }
    let status = running.live.current_status();
    assert_eq!(status.venues.len(), 2);
    assert!(!status.simulated);
    for venue in &status.venues {
        assert_eq!(venue.symbols, 2, "{venue:?}");
        assert_eq!(venue.current, 2, "{venue:?}");
        assert_eq!(venue.mode, quantpro_model::FeedMode::Streaming, "{venue:?}");
    }
    assert_no_holes(&paths(dir.path()).data_dir);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn without_a_connected_stream_rest_is_polled_right_after_each_close() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    // The streams are down from the start: nothing can come from them.
    for venue in [fake::Venue::BinanceFutures, fake::Venue::Hyperliquid] {
        fake.refuse_connections(venue, Duration::from_secs(24 * 3600));
    }
    let dir = tempfile::tempdir().unwrap();
    // A settle delay far longer than the wait below: the closes must come
    // from REST polling after the short poll delay, not after the settle.
    let mut running = start(dir.path(), &fake, universe(300, 60));
    running.until_all_rescanned().await;
    for k in 1..=2 {
        fake.sleep_until_market(close(&fake, k) + MIN).await;
        assert_feed_at(dir.path(), close(&fake, k));
    }
    for venue in &running.live.current_status().venues {
        assert!(
            matches!(venue.mode, quantpro_model::FeedMode::Polling(_)),
            "{venue:?}"
        );
    }
    assert_no_holes(&paths(dir.path()).data_dir);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_outage_and_a_rest_gap_leave_no_hole() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(dir.path(), &fake, universe(20, 60));
    running.until_all_rescanned().await;

    // Both streams go down a minute after close 1 and stay down for 35 min
    // (across closes 2 and 3); Hyperliquid's REST lacks ETH's candle that
    // opens at close 2.
    fake.sleep_until_market(close(&fake, 1) + MIN).await;
    for venue in [fake::Venue::BinanceFutures, fake::Venue::Hyperliquid] {
        fake.refuse_connections(venue, Duration::from_secs(35 * 60));
        fake.disconnect(venue, false, false);
    }
    fake.gap(
        fake::Venue::Hyperliquid,
        "ETH",
        Iv::M15,
        close(&fake, 2),
        close(&fake, 3),
    );
    // During the outage REST polling keeps the feed current.
    fake.sleep_until_market(close(&fake, 2) + MIN).await;
    assert_feed_at(dir.path(), close(&fake, 2));

    fake.sleep_until_market(close(&fake, 5) + 30_000).await;
    assert_no_holes(&paths(dir.path()).data_dir);
    for followed in FOLLOWED
        .into_iter()
        .filter(|f| f.2 != "ETH" || f.1 != Exchange::Hyperliquid)
    {
        assert_final_candles(
            dir.path(),
            &fake,
            followed,
            close(&fake, -10),
            close(&fake, 5),
        );
    }
    // The exchange no longer has ETH's candle: its series restarts after
    // the gap and is current again.
    let eth = stored(dir.path(), Exchange::Hyperliquid, "ETH");
    assert!(
        eth[0].t > close(&fake, 2),
        "the series restarts after the gap"
    );
    assert_eq!(eth.last().unwrap().t, close(&fake, 5) - M15);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn no_request_reaches_a_banned_host_and_the_feed_catches_up_after_the_ban() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(dir.path(), &fake, universe(20, 60));
    running.until_all_rescanned().await;

    // A minute after close 1 Binance bans the IP for 20 min and its stream
    // is down as long, so the closes in between need REST.
    fake.sleep_until_market(close(&fake, 1) + MIN).await;
    let venue = fake::Venue::BinanceFutures;
    fake.ban(venue, Duration::from_secs(20 * 60));
    fake.refuse_connections(venue, Duration::from_secs(20 * 60));
    fake.disconnect(venue, false, false);

    fake.sleep_until_market(close(&fake, 4) + MIN).await;
    let during_ban = fake.log().requests_during_ban(venue);
    assert_eq!(
        during_ban.len(),
        1,
        "only the request that learned of the ban reached the host: {during_ban:?}"
    );
    assert!(
        running
            .rate_limits
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains("banned")),
        "the status line showed the ban: {:?}",
        running.rate_limits.lock().unwrap()
    );
    assert_feed_at(dir.path(), close(&fake, 4));
    assert_all_final(dir.path(), &fake, -10, 4);
    assert_no_holes(&paths(dir.path()).data_dir);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_delisted_symbol_stops_being_fetched_and_its_rows_are_marked() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(dir.path(), &fake, universe(20, 15));
    running.until_all_rescanned().await;

    fake.sleep_until_market(close(&fake, 1) + MIN).await;
    fake.delist(fake::Venue::Hyperliquid, "ETH");
    // The listings are read every 15 min: by close 2 + 1 min it is known.
    fake.sleep_until_market(close(&fake, 2) + MIN).await;
    let noticed = fake.now_ms();
    let status = running.live.current_status();
    assert!(
        status
            .marks
            .iter()
            .any(|m| m.exchange == Exchange::Hyperliquid
                && m.symbol == "ETH"
                && m.kind == MarkKind::Delisted),
        "ETH is marked delisted: {:?}",
        status.marks
    );

    fake.sleep_until_market(close(&fake, 5) + MIN).await;
    let after: Vec<_> = kline_requests(&fake, fake::Venue::Hyperliquid, "ETH")
        .into_iter()
        .filter(|(at, ..)| *at > noticed)
        .collect();
    assert!(after.is_empty(), "ETH is no longer fetched: {after:?}");
    let feed = feed(dir.path());
    assert!(
        feed.signals
            .iter()
            .any(|s| s.exchange == Exchange::Hyperliquid && s.symbol == "ETH"),
        "ETH's rows stay in the feed (marked, not dropped)"
    );
    // The other symbols go on.
    let btc = stored(dir.path(), Exchange::Hyperliquid, "BTC");
    assert_eq!(btc.last().unwrap().t, close(&fake, 5) - M15);
    assert_no_holes(&paths(dir.path()).data_dir);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_resumes_from_what_is_stored() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(dir.path(), &fake, universe(20, 60));
    running.until_all_rescanned().await;
    fake.sleep_until_market(close(&fake, 1) + MIN).await;
    running.stop().await;
    let before: Vec<(fake::Venue, &str, i64)> = FOLLOWED
        .iter()
        .map(|(v, e, s)| (*v, *s, stored(dir.path(), *e, s).last().unwrap().t))
        .collect();

    // Three closes later the same data directory is resumed.
    fake.sleep_until_market(close(&fake, 4) + MIN).await;
    let restart = fake.now_ms();
    let mut running = start(dir.path(), &fake, universe(20, 60));
    running.until_all_rescanned().await;
    assert_feed_at(dir.path(), close(&fake, 4));
    for (venue, symbol, last) in before {
        let asked: Vec<(String, i64)> = kline_requests(&fake, venue, symbol)
            .into_iter()
            .filter(|(at, ..)| *at >= restart)
            .map(|(_, interval, start)| (interval, start))
            .collect();
        // The 15m series is fetched from after its last stored candle, once;
        // the 4h one at most once (when a 4h candle closed meanwhile), and
        // never the whole history.
        let m15: Vec<i64> = asked
            .iter()
            .filter(|(i, _)| i == "15m")
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(m15, vec![last + M15], "{symbol}: {asked:?}");
        assert!(asked.len() <= 2, "{symbol}: {asked:?}");
    }
    assert_all_final(dir.path(), &fake, -10, 4);
    assert_no_holes(&paths(dir.path()).data_dir);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn malformed_stream_frames_are_skipped_without_stopping_the_loop() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(dir.path(), &fake, universe(300, 60));
    running.until_all_rescanned().await;
    fake.sleep_until_market(close(&fake, 1) + MIN).await;
    let connections = |v| fake.log().connections(v);
    let opened = (
        connections(fake::Venue::BinanceFutures),
        connections(fake::Venue::Hyperliquid),
    );
    for text in [
        "{not json",
        r#"{"stream":"btcusdt@kline_15m","data":{"e":"kline","s":"BTCUSDT","k":{"t":"NaN","x":true}}}"#,
        r#"{"channel":"candle","data":{"t":1,"T":2,"s":"BTC","i":"15m","o":"-1","c":"inf","h":"x","l":"1","v":"1","n":1}}"#,
        "\u{0}\u{1}garbage",
    ] {
        fake.inject(fake::Venue::BinanceFutures, Inject::Text(text.into()));
        fake.inject(fake::Venue::Hyperliquid, Inject::Text(text.into()));
    }
    fake.sleep_until_market(close(&fake, 2) + 30_000).await;
    assert_feed_at(dir.path(), close(&fake, 2));
    assert_eq!(
        (
            connections(fake::Venue::BinanceFutures),
            connections(fake::Venue::Hyperliquid)
        ),
        opened,
        "the connections were kept"
    );
    assert_all_final(dir.path(), &fake, -5, 2);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn mexc_contract_closes_reach_the_feed_in_base_volume() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let followed = [
        (fake::Venue::MexcFutures, Exchange::Mexc, "BTC_USDT"),
        (fake::Venue::MexcFutures, Exchange::Mexc, "ETH_USDT"),
    ];
    let settings = UniverseSettings {
        markets: vec!["mexc:futures".into()],
        include: followed.iter().map(|(_, _, s)| s.to_string()).collect(),
        ..universe(300, 60)
    };
    let mut running = start(dir.path(), &fake, settings);
    running.until_rescanned(followed.len()).await;
    assert_feed_of(dir.path(), close(&fake, 0), &followed);
    for k in 1..=2 {
        fake.sleep_until_market(close(&fake, k) + 30_000).await;
        assert_feed_of(dir.path(), close(&fake, k), &followed);
    }
    // REST and stream volumes came in contracts: stored in base units.
    for f in followed {
        assert_final_candles(dir.path(), &fake, f, close(&fake, -20), close(&fake, 2));
    }
    let status = running.live.current_status();
    assert_eq!(status.venues[0].mode, quantpro_model::FeedMode::Streaming);
    assert_no_holes(&paths(dir.path()).data_dir);
    running.stop().await;
}

const SEC: i64 = 1_000;
const H4: i64 = 4 * 3_600_000;

/// Every rescan from now on, kept as it comes.
fn record_rescans(running: &Running) -> Arc<Mutex<Vec<Rescan>>> {
    let mut rescans = running.live.rescans();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    tokio::spawn(async move {
        while let Ok(rescan) = rescans.recv().await {
            kept.lock().unwrap().push(rescan);
        }
    });
    seen
}

/// How long after `close` the feed had `symbol`'s candle of that close
/// (market ms), and how it came.
fn feed_latency(
    rescans: &Mutex<Vec<Rescan>>,
    exchange: Exchange,
    symbol: &str,
    close: i64,
) -> Option<(i64, Delivery)> {
    rescans.lock().unwrap().iter().find_map(|rescan| {
        let arrived = rescan
            .arrived
            .iter()
            .find(|a| a.key == (exchange, symbol.to_string()) && a.close_ms >= close)?;
        Some((rescan.last_updated - close, arrived.delivery))
    })
}

/// Each venue's counts add up: current + stale + delisted = symbols.
fn assert_counts_add_up(status: &LiveStatus) {
    for venue in &status.venues {
        assert_eq!(
            venue.current + venue.stale + venue.delisted,
            venue.symbols,
            "{}",
            venue.line()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_4h_close_between_connecting_and_the_acknowledgements_is_stored_within_the_settle_time() {
    // Hyperliquid answers 4h subscriptions 8 s late (within the client's
    // 10 s patience): a 4h close in those seconds is never pushed to the
    // new socket (15m ones are).
    let fake = FakeExchange::start(FakeConfig {
        slow_acks: Some((Iv::H4, Duration::from_secs(8))),
        ..FakeConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(dir.path(), &fake, universe(20, 60));
    running.until_all_rescanned().await;
    let close_4h = (fake.now_ms() + 10 * MIN).div_euclid(H4) * H4 + H4;

    // The socket drops 5 s before the 4h close and is back at once; its
    // 4h subscriptions are answered after the close.
    fake.sleep_until_market(close_4h - 5 * SEC).await;
    fake.disconnect(fake::Venue::Hyperliquid, false, false);
    fake.sleep_until_market(close_4h + 15 * SEC).await;
    for symbol in ["BTC", "ETH"] {
        let key = (Exchange::Hyperliquid, symbol.to_string(), Interval::H4);
        let path = CandleStore::path_of(&paths(dir.path()).data_dir, &key);
        let stored = read_candle_file(&path).unwrap();
        assert_eq!(
            stored.last().map(|c| c.t),
            Some(close_4h - H4),
            "{symbol}: the 4h candle of that close is stored within the settle time (20 s)"
        );
    }
    let asked_4h: Vec<_> = kline_requests(&fake, fake::Venue::Hyperliquid, "ETH")
        .into_iter()
        .filter(|(at, interval, _)| interval == "4h" && *at > close_4h - 5 * SEC)
        .collect();
    assert!(!asked_4h.is_empty(), "repaired over REST: {asked_4h:?}");
    assert_counts_add_up(&running.live.current_status());
    assert_no_holes(&paths(dir.path()).data_dir);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn during_a_ban_the_closes_of_whole_series_reach_the_feed_at_their_usual_latency() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    // A settle delay that puts the check of close 2 twenty seconds before
    // close 3, so its repair waits out a ban across close 3.
    let mut running = start(dir.path(), &fake, universe(880, 60));
    running.until_all_rescanned().await;
    let rescans = record_rescans(&running);
    let binance = fake::Venue::BinanceFutures;

    // Binance's ETHUSDT candle of close 2 is never pushed (the stream
    // reports it missed at the next push); BTCUSDT's is.
    fake.hide(binance, "ETHUSDT", Iv::M15, close(&fake, 1));
    fake.sleep_until_market(close(&fake, 3) - 25 * SEC).await;
    fake.ban(binance, Duration::from_secs(60));

    fake.sleep_until_market(close(&fake, 3) + 10 * SEC).await;
    let status = running.live.current_status();
    assert_counts_add_up(&status);
    let eth = status
        .marks
        .iter()
        .find(|m| m.exchange == Exchange::Binance && m.symbol == "ETHUSDT")
        .unwrap_or_else(|| panic!("ETHUSDT is marked while it waits: {status:?}"));
    assert!(
        eth.reason
            .starts_with("waiting for BINANCE futures (banned, resumes in "),
        "{}",
        eth.reason
    );
    // The closes of whole series came as usual: Binance's BTCUSDT (the
    // banned venue's), Hyperliquid's.
    for (exchange, symbol) in [
        (Exchange::Binance, "BTCUSDT"),
        (Exchange::Hyperliquid, "BTC"),
        (Exchange::Hyperliquid, "ETH"),
    ] {
        let usual = feed_latency(&rescans, exchange, symbol, close(&fake, 2))
            .expect("close 2 reached the feed");
        let during = feed_latency(&rescans, exchange, symbol, close(&fake, 3))
            .expect("close 3 reached the feed during the ban");
        assert_eq!(during.1, Delivery::Stream, "{exchange} {symbol}");
        assert!(
            during.0 <= usual.0 + SEC,
            "{exchange} {symbol}: {} ms during the ban, {} ms before",
            during.0,
            usual.0
        );
    }
    assert_eq!(
        feed_latency(&rescans, Exchange::Binance, "ETHUSDT", close(&fake, 3)),
        None,
        "ETHUSDT waits for its repair"
    );

    // The ban ends (close 3 + 35 s): ETHUSDT's repair brings both closes.
    fake.sleep_until_market(close(&fake, 3) + 60 * SEC).await;
    let (latency, delivery) =
        feed_latency(&rescans, Exchange::Binance, "ETHUSDT", close(&fake, 3)).unwrap();
    assert_eq!(delivery, Delivery::Rest);
    assert!(latency >= 35 * SEC, "after the ban: {latency} ms");
    assert_eq!(
        fake.log().requests_during_ban(binance).len(),
        1,
        "only the request that learned of the ban"
    );
    assert!(running.live.current_status().marks.is_empty());
    assert_all_final(dir.path(), &fake, -10, 3);
    assert_no_holes(&paths(dir.path()).data_dir);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_429_storm_is_met_with_growing_gaps_and_the_venue_is_current_a_settle_time_after_it() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(dir.path(), &fake, universe(20, 60));
    running.until_all_rescanned().await;
    let hl = fake::Venue::Hyperliquid;

    // The stream is down across close 1, so the close needs REST, and
    // Hyperliquid answers every call 429 (no Retry-After) for 20 s.
    fake.sleep_until_market(close(&fake, 1) - 30 * SEC).await;
    fake.refuse_connections(hl, Duration::from_secs(60));
    fake.disconnect(hl, false, false);
    fake.sleep_until_market(close(&fake, 1) - SEC).await;
    fake.rate_limit_storm(hl, Duration::from_secs(20), 0);
    let storm_end = close(&fake, 1) + 19 * SEC;

    fake.sleep_until_market(storm_end + 20 * SEC).await;
    let refused: Vec<i64> = fake
        .log()
        .rest(hl)
        .iter()
        .filter(|r| r.status == 429)
        .map(|r| r.at_ms)
        .collect();
    assert!(refused.len() >= 3, "{refused:?}");
    let gaps: Vec<i64> = refused.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] + 5 >= g[0]) && gaps.last() > gaps.first(),
        "the gaps between refused calls grow: {gaps:?}"
    );
    for symbol in ["BTC", "ETH"] {
        assert_eq!(
            stored(dir.path(), Exchange::Hyperliquid, symbol)
                .last()
                .map(|c| c.t),
            Some(close(&fake, 1) - M15),
            "{symbol} is current a settle time after the storm"
        );
    }
    let status = running.live.current_status();
    assert_counts_add_up(&status);
    let venue = status
        .venues
        .iter()
        .find(|v| v.exchange == Exchange::Hyperliquid)
        .unwrap();
    assert_eq!((venue.current, venue.stale), (2, 0), "{}", venue.line());
    assert_no_holes(&paths(dir.path()).data_dir);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_within_the_minute_counts_what_the_previous_run_spent() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(dir.path(), &fake, universe(20, 60));
    running.until_all_rescanned().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hl = fake::Venue::Hyperliquid;
    let counted: u64 = fake
        .log()
        .rest(hl)
        .iter()
        .map(|r| u64::from(r.weight))
        .sum();
    let gate = |running: &Running| running.pipeline.sources().governor.gate(Host::Hyperliquid);
    assert!(counted > 0);
    assert_eq!(
        gate(&running).used(),
        counted,
        "the governor counts what Hyperliquid counts"
    );

    // As a kill -9: the loop ends without a word; the count saved last
    // second is all there is. The next start, 10 s later, counts it.
    running.task.abort();
    let _ = running.task.await;
    assert!(paths(dir.path())
        .data_dir
        .join(".cache/spent_weight.json")
        .exists());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let restart = fake.now_ms();
    let mut running = start(dir.path(), &fake, universe(20, 60));
    running.until_all_rescanned().await;
    let spent_since: u64 = fake
        .log()
        .rest(hl)
        .iter()
        .filter(|r| r.at_ms >= restart)
        .map(|r| u64::from(r.weight))
        .sum();
    assert_eq!(
        gate(&running).used(),
        counted + spent_since,
        "the previous run's weight is still in the window"
    );
    // A minute after the first run's calls, they leave the window.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(gate(&running).used() < counted);
    running.stop().await;
}
