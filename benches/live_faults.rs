//! Close -> feed latency of the live loop over a replayed day with faults:
//! Binance USD-M and Hyperliquid on the fake exchanges (REST and WebSocket
//! on 127.0.0.1, their real budgets), the loop with its default settle
//! delay, 96 closes, and on the way:
//! - every 25 closes both streams dropped two seconds before a close;
//! - every 10 closes one symbol's bar hidden from each stream (its close
//!   needs a REST repair after the settle delay);
//! - a 30 s Binance ban (418) across the repair of a hidden bar at close 40;
//! - a 20 s Hyperliquid 429 storm without Retry-After across the repair of
//!   a hidden bar at close 60, its stream down across that close.
//!
//! Printed: per (close, symbol) the time from the close to the rescan that
//! put it in the feed, median and p99, split by how the candle came (the
//! stream, or REST: a repair, or a stream close that waited for its
//! symbol's repair), plus all together. The loop runs on tokio's paused
//! clock (virtual time), as in the tests: waits (settle, gather, the
//! governor's ban, backoff and budget) take their exact time, CPU and I/O
//! take none, so the figures are the waits; `+ work` adds the wall-clock
//! time the process worked between the close and the rescan (all of it in
//! series: an upper bound, and the noisy part on a shared machine).
//!
//! Run: `cargo bench --features ssr --bench live_faults`
//! Knobs (environment): `LIVE_FAULTS_SYMBOLS` symbols per exchange (10),
//! `LIVE_FAULTS_CLOSES` closes (96).

#[path = "../tests/common/mod.rs"]
mod common;

use common::fake_exchange::{self as fake, FakeConfig, FakeExchange, Iv};
use quantpro_model::Exchange;
use quantpro_service::live::{Delivery, LiveLoop, Rescan};
use quantpro_service::pipeline::{DataPaths, ScanPipeline};
use quantpro_service::settings::{Environment, UniverseSettings};
use quantpro_sources::clock::Clock;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

const M15: i64 = 900_000;
const SEC: i64 = 1_000;

const VENUES: [(fake::Venue, &str, Exchange); 2] = [
    (
        fake::Venue::BinanceFutures,
        "binance:futures",
        Exchange::Binance,
    ),
    (
        fake::Venue::Hyperliquid,
        "hyperliquid",
        Exchange::Hyperliquid,
    ),
];

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn main() {
    let per_exchange = env_number("LIVE_FAULTS_SYMBOLS", 10);
    let closes = env_number("LIVE_FAULTS_CLOSES", 96).max(70);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a tokio runtime");
    let started = std::time::Instant::now();
    let samples = runtime.block_on(replay(per_exchange, closes));
    print(&samples, per_exchange, closes, started.elapsed());
}

/// One (close, symbol) that reached the feed.
#[derive(Debug, Clone, Copy)]
struct Sample {
    delivery: Delivery,
    virtual_ms: i64,
    work_ms: f64,
}

/// When (wall clock) the virtual clock reached each close.
type CloseMarks = Arc<Mutex<BTreeMap<i64, std::time::Instant>>>;

async fn replay(per_exchange: usize, closes: usize) -> Vec<Sample> {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = dir.path().join("data");
    let paths = DataPaths {
        feed_path: data_dir.join("master_feed.json"),
        data_dir,
        config_path: dir.path().join("quantpro.toml"),
    };
    std::fs::write(&paths.config_path, fake.sources_toml()).expect("write quantpro.toml");
    let clock = Clock::anchored(fake.epoch_ms(), fake.epoch(), fake.speed());
    let pipeline = ScanPipeline::build(paths, Environment::default())
        .expect("the pipeline")
        .with_clock(clock);
    let universe = UniverseSettings {
        markets: VENUES.iter().map(|v| v.1.to_string()).collect(),
        top_n: per_exchange,
        min_quote_volume: 0.0,
        ltf_history: 400,
        htf_history: 60,
        // The same symbols all day: no universe refresh within it.
        refresh_minutes: 48 * 60,
        ..UniverseSettings::default()
    };
    let live = Arc::new(LiveLoop::build(Arc::new(pipeline), universe).expect("the live loop"));
    let mut rescans = live.rescans();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(live.clone().run(stopped));
    let symbols = VENUES.len() * per_exchange;
    let warmed = warm_up(&mut rescans, symbols).await;

    let first = (clock.now_ms().div_euclid(M15) + 1) * M15;
    let close = |k: i64| first + k * M15;
    let last = close(closes as i64 - 1);
    let marks: CloseMarks = Arc::default();
    let marker = {
        let marks = marks.clone();
        tokio::spawn(async move {
            let mut at = first;
            loop {
                clock.sleep_until_ms(at).await;
                let mut marks = marks.lock().unwrap();
                marks.insert(at, std::time::Instant::now());
                if marks.len().is_multiple_of(8) {
                    eprintln!("  ... {} closes replayed", marks.len());
                }
                drop(marks);
                at += M15;
            }
        })
    };
    let mut followed: BTreeMap<Exchange, Vec<String>> = BTreeMap::new();
    for (exchange, symbol) in warmed {
        followed.entry(exchange).or_default().push(symbol);
    }
    let collector = tokio::spawn(collect(rescans, clock, marks, first, last));
    let faults = schedule(&fake, &followed, close, closes as i64);
    faults.await;
    fake.sleep_until_market(last + M15 - SEC).await;
    stop.send_replace(true);
    let _ = task.await;
    marker.abort();
    // The last sender of the rescans goes with the loop: the collector ends.
    drop(live);
    collector.await.expect("the collector")
}

/// Until every symbol had its first scan (the backfill of the start).
async fn warm_up(
    rescans: &mut broadcast::Receiver<Rescan>,
    symbols: usize,
) -> BTreeSet<(Exchange, String)> {
    let mut seen = BTreeSet::new();
    while seen.len() < symbols {
        match rescans.recv().await {
            Ok(rescan) => seen.extend(rescan.symbols),
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => panic!("the loop stopped"),
        }
    }
    seen
}

/// Runs the day's faults at their market times.
async fn schedule(
    fake: &FakeExchange,
    followed: &BTreeMap<Exchange, Vec<String>>,
    close: impl Fn(i64) -> i64,
    closes: i64,
) {
    let binance = fake::Venue::BinanceFutures;
    let hl = fake::Venue::Hyperliquid;
    let pick = |exchange: Exchange, k: i64| {
        let symbols = &followed[&exchange];
        symbols[k as usize % symbols.len()].clone()
    };
    // Hidden bars: known ahead, the streams skip them when they come.
    for k in (3..closes).step_by(10) {
        for (venue, _, exchange) in VENUES {
            fake.hide(venue, &pick(exchange, k), Iv::M15, close(k) - M15);
        }
    }
    for (venue, exchange, k) in [
        (binance, Exchange::Binance, 40),
        (hl, Exchange::Hyperliquid, 60),
    ] {
        fake.hide(venue, &pick(exchange, k + 1), Iv::M15, close(k) - M15);
    }
    let mut events: Vec<(i64, Box<dyn Fn() + '_>)> = Vec::new();
    for k in (25..closes).step_by(25) {
        events.push((
            close(k) - 2 * SEC,
            Box::new(move || {
                fake.disconnect(binance, false, false);
                fake.disconnect(hl, false, false);
            }),
        ));
    }
    // The repair of close 40's hidden bar (at close + 20 s) meets the ban.
    events.push((
        close(40) + 10 * SEC,
        Box::new(move || fake.ban(binance, Duration::from_secs(30))),
    ));
    // Hyperliquid's stream is down across close 60, and every call is
    // refused for 20 s from just before it.
    events.push((
        close(60) - 30 * SEC,
        Box::new(move || {
            fake.refuse_connections(hl, Duration::from_secs(60));
            fake.disconnect(hl, false, false);
        }),
    ));
    events.push((
        close(60) - SEC,
        Box::new(move || fake.rate_limit_storm(hl, Duration::from_secs(20), 0)),
    ));
    events.sort_by_key(|(at, _)| *at);
    for (at, event) in events {
        fake.sleep_until_market(at).await;
        event();
    }
}

/// Per (close, symbol) of `first..=last`, the first rescan that had it.
async fn collect(
    mut rescans: broadcast::Receiver<Rescan>,
    clock: Clock,
    marks: CloseMarks,
    first: i64,
    last: i64,
) -> Vec<Sample> {
    let mut had: BTreeMap<(Exchange, String), i64> = BTreeMap::new();
    let mut samples = Vec::new();
    loop {
        let rescan = match rescans.recv().await {
            Ok(rescan) => rescan,
            Err(broadcast::error::RecvError::Lagged(n)) => panic!("{n} rescans lagged"),
            Err(broadcast::error::RecvError::Closed) => return samples,
        };
        let now = clock.now_ms();
        let wall = std::time::Instant::now();
        for arrived in rescan.arrived {
            let seen = had.entry(arrived.key.clone()).or_insert(first - M15);
            let mut close = (*seen + M15).max(first);
            while close <= arrived.close_ms.min(last) {
                let work_ms = marks
                    .lock()
                    .unwrap()
                    .get(&close)
                    .map_or(0.0, |at| (wall - *at).as_secs_f64() * 1000.0);
                samples.push(Sample {
                    delivery: arrived.delivery,
                    virtual_ms: now - close,
                    work_ms,
                });
                close += M15;
            }
            *seen = (*seen).max(arrived.close_ms);
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn print(samples: &[Sample], per_exchange: usize, closes: usize, wall: Duration) {
    println!(
        "live_faults: {} symbols per exchange (Binance USD-M, Hyperliquid), {closes} closes; streams dropped every 25 closes, a bar hidden every 10, a 30 s Binance ban, a 20 s Hyperliquid 429 storm; {:.1} s wall",
        per_exchange,
        wall.as_secs_f64()
    );
    let expected = closes * per_exchange * VENUES.len();
    println!("  (close, symbol) samples: {} of {expected}", samples.len());
    let groups: [(&str, Option<Delivery>); 3] = [
        ("stream", Some(Delivery::Stream)),
        ("repaired (REST)", Some(Delivery::Rest)),
        ("all", None),
    ];
    for (name, delivery) in groups {
        let chosen: Vec<&Sample> = samples
            .iter()
            .filter(|s| delivery.is_none_or(|d| s.delivery == d))
            .collect();
        let mut waits: Vec<f64> = chosen
            .iter()
            .map(|s| s.virtual_ms as f64 / 1000.0)
            .collect();
        let mut totals: Vec<f64> = chosen
            .iter()
            .map(|s| (s.virtual_ms as f64 + s.work_ms) / 1000.0)
            .collect();
        waits.sort_by(f64::total_cmp);
        totals.sort_by(f64::total_cmp);
        println!(
            "  {name:<16} n={:>5}  median {:>6.2} s  p99 {:>6.2} s  max {:>6.2} s   (+ work: median {:>6.2} s, p99 {:>6.2} s)",
            chosen.len(),
            percentile(&waits, 50.0),
            percentile(&waits, 99.0),
            waits.last().copied().unwrap_or(f64::NAN),
            percentile(&totals, 50.0),
            percentile(&totals, 99.0),
        );
    }
}
