//! The Coinalyze quota spans scans: two dashboard scans started within a
//! minute, through the real pipeline (`AppState::start_scan` ->
//! `ScanPipeline::run` -> the process's `SourceClients`), against a fake that
//! enforces 40 symbol-calls per 60 s (charged per symbol, 429 beyond). Each
//! scan alone needs most of the quota, so the second must wait for the
//! first one's calls to leave the window. The fake runs in the test's
//! runtime and time is virtual.

#![cfg(feature = "ssr")]

#[path = "common/http_fake.rs"]
mod http_fake;
#[path = "common/served_app.rs"]
mod served_app;

use http_fake::{FakeServer, Received, Reply};
use quantpro::server::AppState;
use quantpro_model::{Exchange, MasterFeed, ScanStartRequest, ScanState};
use quantpro_service::pipeline::ScanPipeline;
use quantpro_service::settings::{Environment, SettingsStore};
use quantpro_sources::clients::SourceClients;
use quantpro_sources::coinalyze::CoinalyzeConfig;
use quantpro_sources::coingecko::MarketConfig;
use quantpro_sources::gemini::GeminiConfig;
use quantpro_sources::keys::{ApiKeys, Secret};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const KEY: &str = "scan-key";
const QUOTA: u32 = 40;
const WINDOW: Duration = Duration::from_secs(60);
/// Symbols per exchange: 2 catalogue calls + 4 histories x 9 = 38 of the 40.
const SYMBOLS: usize = 9;
/// The synthetic data set's first assets (core::synthetic's names).
const BASES: [&str; SYMBOLS] = [
    "SYN000", "SYN001", "SYN002", "SYN003", "SYN004", "SYN005", "SYN006", "SYN007", "SYN008",
];

/// Coinalyze with its quota: every accepted request's arrival and
/// symbol-calls, and how many were refused with 429.
#[derive(Default)]
struct Quota {
    accepted: Vec<(Instant, u32)>,
    rejected: u32,
}

impl Quota {
    fn used_in_window(&self, now: Instant) -> u32 {
        self.accepted
            .iter()
            .filter(|(at, _)| now - *at < WINDOW)
            .map(|(_, w)| w)
            .sum()
    }
}

/// Binance perps `{BASE}USDT_PERP.A` and Hyperliquid perps `{BASE}.H` of
/// every base, hourly histories for whatever is asked.
fn coinalyze(quota: Arc<Mutex<Quota>>) -> impl Fn(&Received) -> Reply + Send + Sync {
    move |request| {
        if request.header("api_key") != Some(KEY) {
            return Reply::text(401, "{\"message\":\"Unauthorized\"}");
        }
        let symbols: Vec<&str> = request
            .query
            .get("symbols")
            .map(|s| s.split(',').collect())
            .unwrap_or_default();
        let weight = symbols.len().max(1) as u32;
        {
            let mut quota = quota.lock().unwrap();
            if quota.used_in_window(request.at) + weight > QUOTA {
                quota.rejected += 1;
                return Reply::status(429).header("Retry-After", "5");
            }
            quota.accepted.push((request.at, weight));
        }
        let body = match request.path.as_str() {
            "/exchanges" => json!([{"name":"Binance","code":"A"},{"name":"Hyperliquid","code":"H"}]),
            "/future-markets" => Value::Array(
                BASES
                    .iter()
                    .flat_map(|base| {
                        [
                            json!({"symbol":format!("{base}USDT_PERP.A"),"exchange":"A","symbol_on_exchange":format!("{base}USDT"),
                                "base_asset":base,"quote_asset":"USDT","is_perpetual":true,"margined":"STABLE","has_long_short_ratio_data":true}),
                            json!({"symbol":format!("{base}.H"),"exchange":"H","symbol_on_exchange":base,
                                "base_asset":base,"quote_asset":"USD","is_perpetual":true,"margined":"STABLE","has_long_short_ratio_data":false}),
                        ]
                    })
                    .collect(),
            ),
            _ => {
                let to: i64 = request.query["to"].parse().unwrap();
                let bars: Vec<Value> = (0..48)
                    .map(|k| json!({"t": to - (47 - k) * 3600, "o": 100.0, "h": 101.0, "l": 99.0, "c": 100.0 + k as f64, "r": 1.2, "s": 2.0}))
                    .collect();
                Value::Array(
                    symbols
                        .iter()
                        .map(|s| json!({"symbol": s, "history": bars}))
                        .collect(),
                )
            }
        };
        Reply::json(200, body)
    }
}

/// Starts a dashboard scan of one exchange and waits for it to end.
async fn scan(state: &AppState, exchange: Exchange) -> MasterFeed {
    let mut status = state.scans.subscribe();
    let id = state
        .start_scan(ScanStartRequest {
            exchange: Some(exchange),
            ..ScanStartRequest::default()
        })
        .unwrap();
    loop {
        {
            let now = status.borrow_and_update();
            if now.id == id && now.state != ScanState::Running {
                assert_eq!(now.state, ScanState::Finished, "{:?}", now.errors);
                break;
            }
        }
        status.changed().await.unwrap();
    }
    let text = std::fs::read_to_string(&state.paths().feed_path).unwrap();
    MasterFeed::parse(&text).unwrap()
}

#[tokio::test(start_paused = true)]
async fn two_dashboard_scans_within_a_minute_share_one_coinalyze_quota() {
    let quota = Arc::new(Mutex::new(Quota::default()));
    let server = FakeServer::start(coinalyze(quota.clone())).await;

    let dir = tempfile::tempdir().unwrap();
    let paths = served_app::generated_paths(
        dir.path(),
        &[Exchange::Binance, Exchange::Hyperliquid],
        SYMBOLS,
        5,
    );
    // The candles stand in for a real market's: without the SYNTHETIC
    // marker the scans ask Coinalyze (a simulated market simulates its own).
    std::fs::remove_file(paths.data_dir.join(quantpro_model::SYNTHETIC_MARKER)).unwrap();
    let keys = ApiKeys {
        coinalyze: Some(Secret::new(KEY)),
        ..ApiKeys::default()
    };
    let cache = paths.cache_dir();
    let mut coinalyze_config =
        CoinalyzeConfig::new(keys.coinalyze.clone(), cache.join("coinalyze"));
    coinalyze_config.base_url = server.uri.clone();
    let clients = SourceClients::with_configs(
        keys,
        coinalyze_config,
        MarketConfig::new(None, cache.join("coingecko")),
        GeminiConfig::new(None),
    )
    .unwrap();
    let settings = SettingsStore::new(paths.config_path.clone(), Environment::default());
    let pipeline = ScanPipeline::new(paths, settings, Arc::new(clients));
    let state = served_app::app_state(pipeline, dir.path());

    let started = Instant::now();
    let binance = scan(&state, Exchange::Binance).await;
    let first_done = started.elapsed();
    assert!(
        first_done < WINDOW,
        "the first scan fits in the quota: {first_done:?}"
    );
    let hyperliquid = scan(&state, Exchange::Hyperliquid).await;
    let both_done = started.elapsed();

    let quota = quota.lock().unwrap();
    let spent: u32 = quota.accepted.iter().map(|(_, w)| w).sum();
    assert_eq!(
        spent,
        2 + 2 * 4 * SYMBOLS as u32,
        "the catalogue once (cached), then 4 histories per symbol per scan"
    );
    assert_eq!(quota.rejected, 0, "no 429: the quota is kept across scans");
    let busiest = http_fake::busiest_window(&quota.accepted, WINDOW);
    assert!(busiest <= QUOTA, "{busiest} symbol-calls within one minute");
    assert!(
        both_done >= WINDOW,
        "74 symbol-calls at 40 per minute cannot end within the first minute: {both_done:?}"
    );
    // Both scans got their derivatives data (the quota delayed, never dropped, it).
    let oi_available = |feed: &MasterFeed, exchange: Exchange| {
        let signals: Vec<_> = feed
            .signals
            .iter()
            .filter(|s| s.exchange == exchange)
            .collect();
        !signals.is_empty()
            && signals
                .iter()
                .all(|s| s.observability.score_composition.oi_available)
    };
    assert!(oi_available(&binance, Exchange::Binance));
    assert!(oi_available(&hyperliquid, Exchange::Hyperliquid));
}
