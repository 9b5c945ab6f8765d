//! The live loop seen from outside, on virtual time (tokio's paused clock):
//! the simulated market's closes reach the feed, only new candles are
//! fetched after a restart, and stored series never have a hole.

#![cfg(feature = "ssr")]

mod common;

use common::candle_files::assert_no_holes;
use quantpro_core::candles::read_candle_file;
use quantpro_model::{FeedMode, Interval, MasterFeed};
use quantpro_service::live::simulated::{SimulatedMarket, SimulationAnchor};
use quantpro_service::live::{LiveLoop, LiveMarket, Rescan};
use quantpro_service::pipeline::{DataPaths, ScanPipeline};
use quantpro_service::settings::{Environment, UniverseSettings};
use quantpro_sources::clock::Clock;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};

/// 2026-03-02 10:07 UTC: seven minutes after a 15m close.
const T0: i64 = 1_772_446_020_000;
const M15: i64 = 900_000;

fn universe() -> UniverseSettings {
    UniverseSettings {
        simulated_symbols: 9,
        ltf_history: 400,
        htf_history: 60,
        ..UniverseSettings::simulated()
    }
}

fn paths(dir: &Path) -> DataPaths {
    DataPaths {
        data_dir: dir.join("data"),
        feed_path: dir.join("data").join("master_feed.json"),
        config_path: dir.join("quantpro.toml"),
    }
}

struct Running {
    live: Arc<LiveLoop>,
    rescans: broadcast::Receiver<Rescan>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn start(dir: &Path, clock: Clock) -> Running {
    let pipeline = ScanPipeline::build(paths(dir), Environment::default())
        .unwrap()
        .with_clock(clock);
    let live = Arc::new(LiveLoop::build(Arc::new(pipeline), universe()).unwrap());
    let rescans = live.rescans();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(live.clone().run(stopped));
    Running {
        live,
        rescans,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        self.stop.send_replace(true);
        self.task.await.unwrap();
    }
}

/// Rescans until every symbol of the universe was rescanned once.
async fn until_all_rescanned(
    rescans: &mut broadcast::Receiver<Rescan>,
    symbols: usize,
) -> Vec<Rescan> {
    let mut seen = std::collections::BTreeSet::new();
    let mut all = Vec::new();
    while seen.len() < symbols {
        let rescan = rescans.recv().await.unwrap();
        seen.extend(rescan.symbols.iter().cloned());
        all.push(rescan);
    }
    all
}

fn feed(dir: &Path) -> MasterFeed {
    MasterFeed::parse(&std::fs::read_to_string(paths(dir).feed_path).unwrap()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn each_close_of_the_simulated_market_reaches_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::starting_at(T0, 1.0);
    let mut running = start(dir.path(), clock);

    let first = until_all_rescanned(&mut running.rescans, 9).await;
    assert!(first.iter().all(|r| r.last_updated > 0));
    let initial = feed(dir.path());
    assert_eq!(initial.signals.len(), 27, "three signals per symbol");
    let last_close = T0.div_euclid(M15) * M15;
    assert!(initial
        .signals
        .iter()
        .all(|s| s.ltf.last_candle_time == Some(last_close - M15)));
    assert_no_holes(&paths(dir.path()).data_dir);
    let status = running.live.current_status();
    assert!(status.simulated);
    assert_eq!(status.venues.len(), 3);
    assert!(status
        .venues
        .iter()
        .all(|v| v.mode == FeedMode::Simulated && v.symbols == 3 && v.current == 3));

    // The next close: every symbol is rescanned within seconds of it.
    let next = until_all_rescanned(&mut running.rescans, 9).await;
    let after = feed(dir.path());
    assert!(after.last_updated >= last_close + M15);
    assert!(after
        .signals
        .iter()
        .all(|s| s.ltf.last_candle_time == Some(last_close)));
    let worst = next.iter().map(|r| r.latency_ms).max().unwrap();
    assert!(
        worst < 5_000,
        "a close reaches the feed within 5 s of clock time: {worst} ms"
    );
    assert!(!running
        .live
        .current_status()
        .venues
        .iter()
        .any(|v| v.stale > 0));
    assert_no_holes(&paths(dir.path()).data_dir);
    running.stop().await;
}

/// The REST ranges a venue was asked for: (symbol, interval, start, end).
type Asked = Arc<Mutex<Vec<(String, Interval, i64, i64)>>>;

/// A venue that records every REST range it is asked for.
struct Recording {
    inner: SimulatedMarket,
    asked: Asked,
}

#[async_trait::async_trait]
impl LiveMarket for Recording {
    fn exchange(&self) -> quantpro_model::Exchange {
        self.inner.exchange()
    }
    fn market(&self) -> quantpro_model::Market {
        self.inner.market()
    }
    async fn listings(
        &self,
    ) -> Result<Vec<quantpro_service::live::Listing>, quantpro_sources::SourceError> {
        self.inner.listings().await
    }
    async fn candles(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<quantpro_model::Candle>, quantpro_sources::SourceError> {
        self.asked
            .lock()
            .unwrap()
            .push((symbol.to_string(), interval, start_ms, end_ms));
        self.inner.candles(symbol, interval, start_ms, end_ms).await
    }
    fn stream(
        &self,
        symbols: &[String],
        intervals: &[Interval],
    ) -> Option<tokio::sync::mpsc::Receiver<quantpro_service::live::CloseEvent>> {
        self.inner.stream(symbols, intervals)
    }
}

/// A loop over the simulated market whose venues record their requests.
fn start_recording(dir: &Path, clock: Clock) -> (Running, Asked) {
    let pipeline = Arc::new(
        ScanPipeline::build(paths(dir), Environment::default())
            .unwrap()
            .with_clock(clock),
    );
    let settings = universe();
    let data_dir = paths(dir).data_dir;
    let anchor = SimulationAnchor::load_or_create(&data_dir, 9, 60 * 16, clock.now_ms()).unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let venues: Vec<Arc<dyn LiveMarket>> = SimulatedMarket::all(anchor, clock)
        .into_iter()
        .map(|inner| {
            Arc::new(Recording {
                inner,
                asked: asked.clone(),
            }) as Arc<dyn LiveMarket>
        })
        .collect();
    let live = Arc::new(LiveLoop::new(pipeline, venues, clock, settings, true));
    let rescans = live.rescans();
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(live.clone().run(stopped));
    (
        Running {
            live,
            rescans,
            stop,
            task,
        },
        asked,
    )
}

#[tokio::test(start_paused = true)]
async fn a_restart_resumes_from_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, _) = start_recording(dir.path(), Clock::starting_at(T0, 1.0));
    until_all_rescanned(&mut running.rescans, 9).await;
    running.stop().await;
    let data_dir = paths(dir.path()).data_dir;
    let btc = data_dir.join("SYN000USDT_BINANCE_15m.json");
    let before = read_candle_file(&btc).unwrap();
    assert_eq!(before.len(), 400);

    // Two hours later (eight closes) the same data directory is resumed.
    let (mut running, asked) = start_recording(dir.path(), Clock::starting_at(T0 + 8 * M15, 1.0));
    until_all_rescanned(&mut running.rescans, 9).await;
    let after = read_candle_file(&btc).unwrap();
    assert_eq!(after.len(), 400, "trimmed to the configured history");
    assert_eq!(after.last().unwrap().t, before.last().unwrap().t + 8 * M15);
    assert_eq!(
        &after[..392],
        &before[8..],
        "the stored candles are kept, the eight new ones appended"
    );
    let first_ask = asked
        .lock()
        .unwrap()
        .iter()
        .find(|(symbol, interval, ..)| symbol == "SYN000USDT" && *interval == Interval::M15)
        .cloned()
        .unwrap();
    assert_eq!(
        first_ask.2,
        before.last().unwrap().t + M15,
        "only what is missing is fetched, not the whole history"
    );
    assert_no_holes(&data_dir);
    running.stop().await;
}
