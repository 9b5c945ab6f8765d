//! How close a Coinalyze scan of 100 and 500 symbols gets to the quota
//! floor: `symbol_calls / quota_per_window * window`, against a local fake
//! that enforces the same sliding-window quota (charged per symbol, 429 +
//! Retry-After when exceeded). The window is scaled from 60 s to 250 ms
//! (and the 1.5 s spacing with it), so the run takes seconds, not minutes.
//!
//! Run: `cargo bench --bench coinalyze_quota` (prints achieved vs floor).

use quantpro_model::Exchange;
use quantpro_sources::coinalyze::{BatchProcessor, CoinalyzeConfig};
use quantpro_sources::governor::{Budget, Governor, GovernorLimits, Host, HostLimits};
use quantpro_sources::keys::Secret;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const QUOTA: u32 = 40;
const WINDOW: Duration = Duration::from_millis(250);
const REAL_WINDOW: Duration = Duration::from_secs(60);
const REAL_SPACING: Duration = Duration::from_millis(1500);

struct QuotaFake {
    coins: usize,
    spent: Mutex<VecDeque<(Instant, u32)>>,
    rejected: Mutex<u32>,
}

struct Responder(Arc<QuotaFake>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let symbols: Vec<&str> = q
            .get("symbols")
            .map(|s| s.split(',').collect())
            .unwrap_or_default();
        let weight = symbols.len().max(1) as u32;
        {
            let mut spent = self.0.spent.lock().unwrap();
            let now = Instant::now();
            while spent
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) >= WINDOW)
            {
                spent.pop_front();
            }
            if spent.iter().map(|(_, w)| w).sum::<u32>() + weight > QUOTA {
                *self.0.rejected.lock().unwrap() += 1;
                return ResponseTemplate::new(429).insert_header("Retry-After", "1");
            }
            spent.push_back((now, weight));
        }
        let body = match request.url.path() {
            "/exchanges" => json!([{"name":"Binance","code":"A"}]),
            "/future-markets" => Value::Array(
                (0..self.0.coins)
                    .map(|i| json!({"symbol":format!("C{i}USDT_PERP.A"),"exchange":"A","symbol_on_exchange":format!("C{i}USDT"),
                        "base_asset":format!("C{i}"),"quote_asset":"USDT","is_perpetual":true}))
                    .collect(),
            ),
            _ => {
                let to: i64 = q["to"].parse().unwrap();
                let bars: Vec<Value> =
                    (0..48).map(|k| json!({"t": to - (47 - k) * 3600, "c": 100.0 + k as f64, "r": 1.1, "l": 1.0, "s": 2.0})).collect();
                Value::Array(symbols.iter().map(|s| json!({"symbol": s, "history": bars})).collect())
            }
        };
        ResponseTemplate::new(200).set_body_json(body)
    }
}

async fn run(symbol_count: usize) {
    let fake = Arc::new(QuotaFake {
        coins: symbol_count,
        spent: Mutex::new(VecDeque::new()),
        rejected: Mutex::new(0),
    });
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(Responder(fake.clone()))
        .mount(&server)
        .await;
    let cache = std::env::temp_dir().join(format!(
        "quantpro-quota-bench-{}-{symbol_count}",
        std::process::id()
    ));
    let mut config = CoinalyzeConfig::new(Some(Secret::new("bench")), &cache);
    config.base_url = server.uri();
    let scaled = HostLimits {
        min_spacing: REAL_SPACING.mul_f64(WINDOW.as_secs_f64() / REAL_WINDOW.as_secs_f64()),
        ..HostLimits::budget(Budget::per(QUOTA, WINDOW))
    };
    let governor = Governor::new(GovernorLimits::documented().with(Host::Coinalyze, scaled));
    let processor = BatchProcessor::new(config, &governor).expect("client builds");
    let symbols: Vec<(Exchange, String)> = (0..symbol_count)
        .map(|i| (Exchange::Binance, format!("C{i}USDT")))
        .collect();
    let run = processor.measure_quota_run(&symbols).await;
    let _ = std::fs::remove_dir_all(&cache);
    let scale = REAL_WINDOW.as_secs_f64() / WINDOW.as_secs_f64();
    println!("coinalyze_quota/{symbol_count}: {run}");
    println!(
        "coinalyze_quota/{symbol_count}: 429s from the fake: {}; at the real 40/min: ~{:.1} min (floor {:.1} min)",
        fake.rejected.lock().unwrap(),
        run.achieved.as_secs_f64() * scale / 60.0,
        run.floor.as_secs_f64() * scale / 60.0
    );
}

fn main() {
    // `cargo test --benches` runs bench targets with no `--bench` flag: stay quick there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("coinalyze_quota: run with `cargo bench --bench coinalyze_quota`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        run(100).await;
        run(500).await;
    });
}
