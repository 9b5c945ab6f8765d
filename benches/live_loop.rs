//! The live loop at a universe's size: ~500 symbols over the three fake
//! exchanges (Binance USD-M, Hyperliquid, MEXC contract; REST and
//! WebSocket on 127.0.0.1, with their real budgets), the loop with its
//! default `[universe]` settings, over a number of 15m closes. Printed per
//! mode (streams; REST polling only, the streams refused as in an outage):
//! the time from each candle close to the feed that has it, median and
//! p99 over every (close, symbol); for REST-only the floor its budgets
//! imply; and the resident memory of the process.
//!
//! Symbols: the fake replays the 20 real symbols of `shared/data`; beyond
//! them it serves clones by name (`BTC2USDT`, `BTC2`, `BTC2_USDT`, ...),
//! each replaying its original's candles (`FakeConfig::symbols_per_venue`).
//!
//! # What the latency means
//! The loop runs on tokio's paused (virtual) clock in a current-thread
//! runtime, as in the tests, so the 15 minutes between closes pass at once.
//! Every wait (the budgets' pacing by the governor, the settle and poll
//! delays, the stream's close delay, the rescan's gather window) takes its
//! exact time on that clock; CPU and I/O (parsing, storing, scanning,
//! writing the feed) take none, and are measured on the wall clock. Each
//! (close, symbol) sample is the virtual time from the close to the rescan
//! that wrote the feed with it (`Rescan::latency_ms`) plus work:
//! - upper bound: all the wall-clock work of the process between the close
//!   and that rescan, as if every piece of work and every wait ran in
//!   series (so it also counts the fake's serving, and work of other
//!   exchanges that a real run does during this one's budget waits);
//! - lower bound: only the work since the virtual clock last moved (at
//!   `MARK_EVERY_MS` resolution), the work that no wait could have hidden.
//!
//! With streams the close-to-feed path is one chain (frames -> store ->
//! gather -> scan), so the upper bound is the figure; with REST polling
//! the exchanges' budget waits overlap the other exchanges' rescans, and a
//! real run lies between the bounds. The machine is shared (2 cores, other
//! builds): the work part is the noisy one.
//!
//! # The REST floor
//! Per close and exchange, the fewest requests the close needs (one per
//! series that closed: the 15m series of every symbol, its 4h series too at
//! a 4h close) at the least documented weight of each (Binance USD-M klines
//! of < 100 candles: 1; Hyperliquid `candleSnapshot`: 20; MEXC: 1 call), sent
//! as soon as the budget of `HostLimits::documented` (the governor's, from
//! EXTERNAL_APIS.md) allows from an unused window: the `k`-th request goes
//! at `floor(k / (budget / weight))` windows, after the loop's REST poll
//! delay (`min(settle_secs, 3)` s). A symbol's floor is when its last
//! request can go; median and p99 are taken over the same (close, symbol)
//! samples as the measurement.
//!
//! Memory: `VmHWM` and `VmRSS` of `/proc/self/status` at the end, and the
//! same before the loop starts (the fake exchange with its candles loaded
//! and the runtime); the loop's share is the difference. Each mode runs in
//! a child process of its own, so the peaks do not mix.
//!
//! Run: `cargo bench --features ssr --bench live_loop`
//! Knobs (environment): `LIVE_BENCH_SYMBOLS` symbols per exchange (167),
//! `LIVE_BENCH_CLOSES` measured closes (16: one of them a 4h close),
//! `LIVE_BENCH_MODE` `streams`, `rest` or `both`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::fake_exchange::{self as fake, FakeConfig, FakeExchange, Iv};
use quantpro_model::Exchange;
use quantpro_service::live::{LiveLoop, Rescan};
use quantpro_service::pipeline::{DataPaths, ScanPipeline};
use quantpro_service::settings::{Environment, UniverseSettings};
use quantpro_sources::clock::Clock;
use quantpro_sources::governor::{Host, HostLimits};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

const M15: i64 = 900_000;
const H4: i64 = 4 * 3_600_000;

/// The exchanges of the bench: fake venue, universe market, feed exchange,
/// governor host, and the least weight of one klines request.
const EXCHANGES: [(fake::Venue, &str, Exchange, Host, u32); 3] = [
    (
        fake::Venue::BinanceFutures,
        "binance:futures",
        Exchange::Binance,
        Host::BinanceFutures,
        1,
    ),
    (
        fake::Venue::Hyperliquid,
        "hyperliquid",
        Exchange::Hyperliquid,
        Host::Hyperliquid,
        20,
    ),
    (
        fake::Venue::MexcFutures,
        "mexc:futures",
        Exchange::Mexc,
        Host::MexcFutures,
        1,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Streams,
    RestOnly,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Streams => "streams",
            Mode::RestOnly => "rest",
        }
    }

    fn from_arg(arg: &str) -> Option<Mode> {
        [Mode::Streams, Mode::RestOnly]
            .into_iter()
            .find(|m| m.arg() == arg)
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let per_exchange = env_number("LIVE_BENCH_SYMBOLS", 167);
    let closes = env_number("LIVE_BENCH_CLOSES", 16).max(1);
    if let Some(mode) = args
        .iter()
        .position(|a| a == "--mode")
        .and_then(|i| args.get(i + 1))
        .and_then(|m| Mode::from_arg(m))
    {
        run_mode(mode, per_exchange, closes);
        return;
    }
    let modes = match std::env::var("LIVE_BENCH_MODE").as_deref() {
        Ok("streams") => vec![Mode::Streams],
        Ok("rest") => vec![Mode::RestOnly],
        _ => vec![Mode::Streams, Mode::RestOnly],
    };
    let exe = std::env::current_exe().expect("the bench's own path");
    for mode in modes {
        let status = std::process::Command::new(&exe)
            .args(["--mode", mode.arg()])
            .status()
            .expect("run a mode in a child process");
        assert!(status.success(), "the {} run failed", mode.arg());
    }
}

/// One mode in this process: its own paused runtime, fake and loop.
fn run_mode(mode: Mode, per_exchange: usize, closes: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a tokio runtime");
    let report = runtime.block_on(measure(mode, per_exchange, closes));
    report.print();
}

/// Resident memory in KiB: (VmRSS, VmHWM).
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Clock time between two wall-clock marks of the virtual clock.
const MARK_EVERY_MS: i64 = 100;
/// Marks kept: the longest close-to-feed span looked back on, and more.
const MARKS_KEPT: usize = (2 * M15 / MARK_EVERY_MS) as usize;

/// When (wall clock) the virtual clock reached each close, and each
/// `MARK_EVERY_MS` step of the recent past.
#[derive(Default)]
struct WallMarks {
    closes: BTreeMap<i64, std::time::Instant>,
    steps: std::collections::VecDeque<(i64, std::time::Instant)>,
}

impl WallMarks {
    fn mark(&mut self, clock_ms: i64, at: std::time::Instant) {
        if clock_ms % M15 == 0 {
            self.closes.insert(clock_ms, at);
        }
        if self.steps.len() == MARKS_KEPT {
            self.steps.pop_front();
        }
        self.steps.push_back((clock_ms, at));
    }

    /// The wall-clock time the virtual clock last stepped to `clock_ms` or
    /// before it.
    fn reached(&self, clock_ms: i64) -> Option<std::time::Instant> {
        self.steps
            .iter()
            .rev()
            .find(|(ms, _)| *ms <= clock_ms)
            .map(|(_, at)| *at)
    }
}

type Marks = Arc<Mutex<WallMarks>>;

/// One (close, symbol): virtual ms from the close to the feed; the
/// wall-clock ms the process worked in between; and of that, the work
/// since the virtual clock last moved (the work that no wait could hide).
#[derive(Debug, Clone, Copy)]
struct Sample {
    exchange: Exchange,
    virtual_ms: f64,
    wall_ms: f64,
    last_work_ms: f64,
}

impl Sample {
    /// Every wait and all the work in series: the upper bound.
    fn total_ms(&self) -> f64 {
        self.virtual_ms + self.wall_ms
    }

    /// Every wait and only the work after the last one: the lower bound.
    fn least_ms(&self) -> f64 {
        self.virtual_ms + self.last_work_ms
    }
}

struct Report {
    mode: Mode,
    symbols: usize,
    closes: Vec<i64>,
    samples: Vec<Sample>,
    /// (close, exchange) pairs with symbols that got no rescan for the close.
    missing: usize,
    lagged: u64,
    /// Per exchange: requests, weight, refusals (429, 418, MEXC 510: no
    /// weight charged) in the measured closes.
    requests: Vec<(Exchange, usize, u64, usize)>,
    before: (u64, u64),
    after: (u64, u64),
    wall_total: Duration,
}

async fn measure(mode: Mode, per_exchange: usize, closes: usize) -> Report {
    let started = std::time::Instant::now();
    let fake = FakeExchange::start(FakeConfig {
        symbols_per_venue: Some(per_exchange),
        ..FakeConfig::default()
    })
    .await;
    // The fake's candles in memory before the baseline is read.
    for (venue, ..) in EXCHANGES {
        for symbol in fake.market().all_symbols(venue) {
            for iv in Iv::ALL {
                fake.market().series(venue, &symbol, iv);
            }
        }
    }
    if mode == Mode::RestOnly {
        for (venue, ..) in EXCHANGES {
            fake.refuse_connections(venue, Duration::from_secs(365 * 86_400));
        }
    }
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
        markets: EXCHANGES.iter().map(|e| e.1.to_string()).collect(),
        top_n: per_exchange,
        min_quote_volume: 0.0,
        ..UniverseSettings::default()
    };
    let live = Arc::new(LiveLoop::build(Arc::new(pipeline), universe).expect("the live loop"));
    let mut rescans = live.rescans();
    let before = memory_kib();

    let marks: Marks = Arc::default();
    let marker = {
        let marks = marks.clone();
        let mut step = (clock.now_ms().div_euclid(MARK_EVERY_MS) + 1) * MARK_EVERY_MS;
        tokio::spawn(async move {
            loop {
                clock.sleep_until_ms(step).await;
                marks.lock().unwrap().mark(step, std::time::Instant::now());
                step += MARK_EVERY_MS;
            }
        })
    };
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(live.clone().run(stopped));

    let symbols = EXCHANGES.len() * per_exchange;
    warm_up(&mut rescans, symbols).await;
    let first = (clock.now_ms().div_euclid(M15) + 1) * M15;
    let measured: Vec<i64> = (0..closes as i64).map(|k| first + k * M15).collect();
    let last = *measured.last().expect("at least one close");
    let (latest, lagged) = collect(&mut rescans, &clock, &marks, first, last, symbols).await;
    stop.send_replace(true);
    let _ = task.await;
    marker.abort();

    let mut missing = 0;
    for &close in &measured {
        for (_, _, exchange, ..) in EXCHANGES {
            let got = latest
                .keys()
                .filter(|(c, e, _)| *c == close && *e == exchange)
                .count();
            if got < per_exchange {
                missing += 1;
            }
        }
    }
    let requests = EXCHANGES
        .iter()
        .map(|&(venue, _, exchange, ..)| {
            let in_window: Vec<_> = fake
                .log()
                .rest(venue)
                .into_iter()
                .filter(|r| r.at_ms >= first && r.at_ms < last + M15)
                .collect();
            let weight = in_window.iter().map(|r| u64::from(r.weight)).sum();
            let refused = in_window.iter().filter(|r| r.weight == 0).count();
            (exchange, in_window.len(), weight, refused)
        })
        .collect();
    Report {
        mode,
        symbols,
        closes: measured,
        samples: latest.into_values().collect(),
        missing,
        lagged,
        requests,
        before,
        after: memory_kib(),
        wall_total: started.elapsed(),
    }
}

/// Until every symbol had its first scan (the backfill of the start).
async fn warm_up(rescans: &mut broadcast::Receiver<Rescan>, symbols: usize) {
    let mut seen = BTreeSet::new();
    while seen.len() < symbols {
        match rescans.recv().await {
            Ok(rescan) => seen.extend(rescan.symbols),
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => panic!("the loop stopped"),
        }
    }
}

type Latest = BTreeMap<(i64, Exchange, String), Sample>;

/// The rescans of the closes `first..=last`: per (close, symbol) the last
/// rescan that had it (the feed with both its 15m and 4h candles). Ends
/// when every symbol has the last close, or one 15m period after it.
async fn collect(
    rescans: &mut broadcast::Receiver<Rescan>,
    clock: &Clock,
    marks: &Marks,
    first: i64,
    last: i64,
    symbols: usize,
) -> (Latest, u64) {
    let mut latest = Latest::new();
    let mut lagged = 0;
    let deadline = last + M15 - 1;
    let mut done_last = BTreeSet::new();
    while done_last.len() < symbols {
        let wait = clock.real_duration(deadline - clock.now_ms());
        let rescan = match tokio::time::timeout(wait, rescans.recv()).await {
            Err(_) => break,
            Ok(Ok(rescan)) => rescan,
            Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                lagged += n;
                continue;
            }
            Ok(Err(broadcast::error::RecvError::Closed)) => break,
        };
        let now_wall = std::time::Instant::now();
        let close = clock.now_ms() - rescan.latency_ms;
        if close < first || close > last || rescan.last_updated == 0 {
            continue;
        }
        let since = |at: Option<std::time::Instant>| {
            at.map_or(0.0, |at| (now_wall - at).as_secs_f64() * 1000.0)
        };
        let (wall_ms, last_work_ms) = {
            let marks = marks.lock().unwrap();
            (
                since(marks.closes.get(&close).copied()),
                since(marks.reached(clock.now_ms())),
            )
        };
        for (exchange, symbol) in rescan.symbols {
            if close == last {
                done_last.insert((exchange, symbol.clone()));
            }
            latest.insert(
                (close, exchange, symbol),
                Sample {
                    exchange,
                    virtual_ms: rescan.latency_ms as f64,
                    wall_ms,
                    last_work_ms,
                },
            );
        }
    }
    (latest, lagged)
}

/// The `q` quantile (nearest rank) of `values`.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// The REST floor of every (close, symbol) of the measured closes, in ms.
fn rest_floor(closes: &[i64], per_exchange: usize, poll_delay_ms: f64) -> Vec<f64> {
    let mut floors = Vec::new();
    for &close in closes {
        let series_per_symbol = if close % H4 == 0 { 2 } else { 1 };
        for (_, _, _, host, weight) in EXCHANGES {
            let budget = HostLimits::documented(host)
                .budget
                .expect("the exchanges publish a budget");
            let per_window = (budget.weight / weight).max(1) as usize;
            let window_ms = budget.window.as_secs_f64() * 1000.0;
            for i in 0..per_exchange {
                let last_request = (i + 1) * series_per_symbol - 1;
                floors.push(poll_delay_ms + (last_request / per_window) as f64 * window_ms);
            }
        }
    }
    floors
}

impl Report {
    fn print(&self) {
        let title = match self.mode {
            Mode::Streams => "streams",
            Mode::RestOnly => "REST polling only (streams refused)",
        };
        let h4 = self.closes.iter().filter(|c| *c % H4 == 0).count();
        println!(
            "\nlive_loop / {title}: {} symbols ({} per exchange), {} closes ({h4} of them 4h), {} samples",
            self.symbols,
            self.symbols / EXCHANGES.len(),
            self.closes.len(),
            self.samples.len()
        );
        // Median and p99 of one figure of the samples.
        let stats = |samples: &[&Sample], figure: fn(&Sample) -> f64| {
            let mut values: Vec<f64> = samples.iter().map(|s| figure(s)).collect();
            [quantile(&mut values, 0.5), quantile(&mut values, 0.99)]
        };
        println!(
            "  {:<12} {:>19} {:>19} {:>19} {:>19}",
            "close->feed", "upper bound", "lower bound", "virtual waits", "all work (wall)"
        );
        println!(
            "  {:<12} {:>19} {:>19} {:>19} {:>19}",
            "ms", "median / p99", "median / p99", "median / p99", "median / p99"
        );
        let line = |name: &str, samples: Vec<&Sample>| {
            let cell = |[median, p99]: [f64; 2]| format!("{median:.0} / {p99:.0}");
            let upper = stats(&samples, Sample::total_ms);
            println!(
                "  {name:<12} {:>19} {:>19} {:>19} {:>19}",
                cell(upper),
                cell(stats(&samples, Sample::least_ms)),
                cell(stats(&samples, |s| s.virtual_ms)),
                cell(stats(&samples, |s| s.wall_ms)),
            );
            (upper, stats(&samples, Sample::least_ms))
        };
        let (upper, lower) = line("all", self.samples.iter().collect());
        for (_, _, exchange, ..) in EXCHANGES {
            line(
                &exchange.to_string(),
                self.samples
                    .iter()
                    .filter(|s| s.exchange == exchange)
                    .collect(),
            );
        }
        if self.mode == Mode::RestOnly {
            let settle = UniverseSettings::default().settle_secs.min(3) as f64 * 1000.0;
            let mut floor = rest_floor(&self.closes, self.symbols / EXCHANGES.len(), settle);
            let floor = [quantile(&mut floor, 0.5), quantile(&mut floor, 0.99)];
            println!(
                "  floor        {:>19}   (poll delay {settle:.0} ms + the budgets' pacing)",
                format!("{:.0} / {:.0}", floor[0], floor[1])
            );
            let over = |x: f64, floor: f64| (x / floor - 1.0) * 100.0;
            println!(
                "  over the floor: median {:+.1} % (lower bound {:+.1} %), p99 {:+.1} % (lower bound {:+.1} %)",
                over(upper[0], floor[0]),
                over(lower[0], floor[0]),
                over(upper[1], floor[1]),
                over(lower[1], floor[1]),
            );
        }
        for (exchange, n, weight, refused) in &self.requests {
            println!(
                "  {exchange:<12} REST in the measured closes: {n} requests, weight {weight}, refused {refused}"
            );
        }
        if self.missing > 0 || self.lagged > 0 {
            println!(
                "  incomplete: {} (close, exchange) pairs lack a symbol's rescan; {} rescans lost (lagged)",
                self.missing, self.lagged
            );
        }
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "  memory: peak RSS {:.0} MiB (VmHWM), RSS {:.0} MiB at the end; before the loop (fake + candles) {:.0} MiB: the loop's share ~{:.0} MiB",
            mib(self.after.1),
            mib(self.after.0),
            mib(self.before.0),
            mib(self.after.1.saturating_sub(self.before.0))
        );
        println!(
            "  wall time of the run {:.1} s",
            self.wall_total.as_secs_f64()
        );
    }
}
