//! Coinalyze resolver, batch client and processor against a local fake that
//! speaks the documented protocol: `api_key` header, comma-separated
//! `symbols` (at most 20), hourly histories between `from` and `to`, 429 with
//! `Retry-After`, and a sliding-window quota charged per symbol. The fake
//! runs in the test's runtime on a paused clock: quota windows are real
//! minutes of virtual time.

#![cfg(feature = "ssr")]

#[path = "common/http_fake.rs"]
mod http_fake;

use http_fake::{FakeServer, Received, Reply};
use quantpro_model::external::Liquidations;
use quantpro_model::{Exchange, OiStatus};
use quantpro_sources::coinalyze::{BatchProcessor, CoinalyzeConfig};
use quantpro_sources::governor::{Budget, Governor, GovernorLimits, Host, HostLimits};
use quantpro_sources::http::RetryPolicy;
use quantpro_sources::keys::Secret;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const KEY: &str = "test-key";
/// An hour boundary, so the 24 h liquidation window holds exactly 25 bars.
const NOW: i64 = 1_721_174_400;

/// The fake's market list: `COIN{i}USDT` perps on Binance (code "A") plus
/// BTC and ETH, and BTC on Hyperliquid ("H").
fn markets(coins: usize) -> Value {
    let mut list = vec![
        json!({"symbol":"BTCUSDT_PERP.A","exchange":"A","symbol_on_exchange":"BTCUSDT","base_asset":"BTC","quote_asset":"USDT","is_perpetual":true,"margined":"STABLE","has_long_short_ratio_data":true}),
        json!({"symbol":"ETHUSDT_PERP.A","exchange":"A","symbol_on_exchange":"ETHUSDT","base_asset":"ETH","quote_asset":"USDT","is_perpetual":true,"margined":"STABLE","has_long_short_ratio_data":true}),
        json!({"symbol":"BTC.H","exchange":"H","symbol_on_exchange":"BTC","base_asset":"BTC","quote_asset":"USD","is_perpetual":true,"margined":"STABLE","has_long_short_ratio_data":false}),
    ];
    for i in 0..coins {
        list.push(json!({"symbol":format!("COIN{i}USDT_PERP.A"),"exchange":"A","symbol_on_exchange":format!("COIN{i}USDT"),
            "base_asset":format!("COIN{i}"),"quote_asset":"USDT","is_perpetual":true,"margined":"STABLE","has_long_short_ratio_data":true}));
    }
    Value::Array(list)
}

/// A number per symbol, so each symbol's values are recognisable.
fn symbol_seed(symbol: &str) -> f64 {
    symbol.bytes().map(f64::from).sum()
}

/// Hourly bars from `from` to `to` (inclusive) with values derived from the
/// symbol and the hour, as the real API shapes them.
fn history(endpoint: &str, symbol: &str, from: i64, to: i64) -> Value {
    let seed = symbol_seed(symbol);
    let first = from.div_euclid(3600) * 3600 + if from % 3600 == 0 { 0 } else { 3600 };
    let bars: Vec<Value> = (0..)
        .map(|k| first + k * 3600)
        .take_while(|t| *t <= to)
        .map(|t| {
            let hour = ((t - first) / 3600) as f64;
            match endpoint {
                "/open-interest-history" => {
                    json!({"t":t,"o":seed,"h":seed+hour+1.0,"l":seed,"c":seed+hour})
                }
                "/funding-rate-history" => json!({"t":t,"o":0.0,"h":0.0,"l":0.0,"c":hour/10000.0}),
                "/long-short-ratio-history" => json!({"t":t,"r":1.0+hour/100.0,"l":60.0,"s":40.0}),
                _ => json!({"t":t,"l":1.0,"s":2.0}),
            }
        })
        .collect();
    json!({"symbol": symbol, "history": bars})
}

/// The stateful fake: checks the key, enforces `limit` symbol-calls per
/// `window` (sliding, counted on receipt) with 429 + Retry-After, and
/// records every request's path, symbol count and arrival.
struct FakeCoinalyze {
    limit: u32,
    window: Duration,
    coins: usize,
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    spent: VecDeque<(Instant, u32)>,
    rejected: u32,
    calls: Vec<(String, usize)>,
    /// Arrival and symbol-calls of every request the quota accepted.
    accepted: Vec<(Instant, u32)>,
}

impl FakeCoinalyze {
    fn new(limit: u32, window: Duration, coins: usize) -> Arc<FakeCoinalyze> {
        Arc::new(FakeCoinalyze {
            limit,
            window,
            coins,
            state: Mutex::new(FakeState::default()),
        })
    }

    fn calls(&self) -> Vec<(String, usize)> {
        self.state.lock().unwrap().calls.clone()
    }

    fn rejected(&self) -> u32 {
        self.state.lock().unwrap().rejected
    }

    /// The most symbol-calls that arrived within any `window`.
    fn busiest_window(&self, window: Duration) -> u32 {
        http_fake::busiest_window(&self.state.lock().unwrap().accepted, window)
    }

    fn respond(&self, request: &Received) -> Reply {
        let query = &request.query;
        let symbols: Vec<String> = query
            .get("symbols")
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let weight = symbols.len().max(1) as u32;
        let endpoint = request.path.clone();
        {
            let mut state = self.state.lock().unwrap();
            let now = request.at;
            while state
                .spent
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) >= self.window)
            {
                state.spent.pop_front();
            }
            let used: u32 = state.spent.iter().map(|(_, w)| w).sum();
            state.calls.push((endpoint.clone(), symbols.len()));
            if request.header("api_key") != Some(KEY) {
                return Reply::text(401, "{\"message\":\"Unauthorized\"}");
            }
            if symbols.len() > 20 {
                return Reply::text(400, "too many symbols");
            }
            if used + weight > self.limit {
                state.rejected += 1;
                return Reply::status(429).header("Retry-After", "1");
            }
            state.spent.push_back((now, weight));
            state.accepted.push((now, weight));
        }
        let known = markets(self.coins);
        let body = match endpoint.as_str() {
            "/exchanges" => {
                json!([{"name":"Binance","code":"A"},{"name":"Hyperliquid","code":"H"},{"name":"OKX","code":"3"}])
            }
            "/future-markets" => known,
            _ => {
                let from: i64 = query["from"].parse().unwrap();
                let to: i64 = query["to"].parse().unwrap();
                let listed = |s: &String| {
                    known
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|m| m["symbol"] == json!(s))
                };
                Value::Array(
                    symbols
                        .iter()
                        .filter(|s| listed(s))
                        .map(|s| history(&endpoint, s, from, to))
                        .collect(),
                )
            }
        };
        Reply::json(200, body)
    }
}

fn config(server: &FakeServer, cache: &std::path::Path) -> CoinalyzeConfig {
    let mut config = CoinalyzeConfig::new(Some(Secret::new(KEY)), cache);
    config.base_url = server.uri.clone();
    config.retry = RetryPolicy {
        max_tries: 3,
        backoff_base: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(5),
    };
    config
}

/// A governor whose Coinalyze quota is 40 per 500 ms with 5 ms between
/// starts: the protocol of the API, fast enough that tests about other
/// things are not paced by it.
fn quick_governor() -> Arc<Governor> {
    Governor::new(GovernorLimits::documented().with(
        Host::Coinalyze,
        HostLimits {
            min_spacing: Duration::from_millis(5),
            ..HostLimits::budget(Budget::per(40, Duration::from_millis(500)))
        },
    ))
}

fn processor(config: CoinalyzeConfig) -> BatchProcessor {
    BatchProcessor::new(config, &quick_governor()).unwrap()
}

async fn fake_server(fake: &Arc<FakeCoinalyze>) -> FakeServer {
    let fake = fake.clone();
    FakeServer::start(move |request| fake.respond(request)).await
}

fn key(exchange: Exchange, symbol: &str) -> (Exchange, String) {
    (exchange, symbol.to_string())
}

#[tokio::test(start_paused = true)]
async fn resolves_fetches_and_distributes_the_four_histories() {
    let fake = FakeCoinalyze::new(1000, Duration::from_secs(60), 0);
    let server = fake_server(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let processor = processor(config(&server, dir.path()));
    let symbols = [
        key(Exchange::Binance, "BTCUSDT"),
        key(Exchange::Hyperliquid, "BTC"),
        key(Exchange::Mexc, "ETHUSDT"),
        key(Exchange::Binance, "NOPEUSDT"),
    ];
    let map = processor.process_symbols_at(&symbols, NOW).await;

    let btc = &map[&symbols[0]];
    let oi = btc.oi_history.as_ref().expect("BTC has OI");
    assert_eq!(oi.len(), 49, "48 h of hourly bars, both ends inclusive");
    let seed = symbol_seed("BTCUSDT_PERP.A");
    assert_eq!(oi[0], seed);
    assert_eq!(*oi.last().unwrap(), seed + 48.0);
    assert_eq!(btc.funding_rate, Some(48.0 / 10000.0));
    assert_eq!(btc.ls_ratio, Some(1.48));
    assert_eq!(
        btc.liquidations_24h,
        Some(Liquidations {
            long: 25.0,
            short: 50.0
        }),
        "25 hourly bars in [now-24h, now]"
    );
    assert_eq!(btc.oi_metadata.status, OiStatus::Aggregated);
    assert_eq!(
        btc.oi_metadata.coinalyze_symbol.as_deref(),
        Some("BTCUSDT_PERP.A")
    );
    assert_eq!(btc.oi_metadata.value, Some(seed + 48.0));

    let hl = &map[&symbols[1]];
    assert_eq!(
        hl.oi_metadata.coinalyze_symbol.as_deref(),
        Some("BTC.H"),
        "Hyperliquid BTC is its own .H perp"
    );
    assert_eq!(hl.oi_history.as_ref().unwrap()[0], symbol_seed("BTC.H"));

    let mexc = &map[&symbols[2]];
    assert_eq!(
        mexc.oi_metadata.coinalyze_symbol.as_deref(),
        Some("ETHUSDT_PERP.A"),
        "no MEXC market: aggregated"
    );

    let unknown = &map[&symbols[3]];
    assert!(
        unknown.oi_history.is_none()
            && unknown.funding_rate.is_none()
            && unknown.liquidations_24h.is_none()
    );
    assert_eq!(unknown.oi_metadata.status, OiStatus::Neutral);

    let calls = fake.calls();
    let history_calls: Vec<_> = calls
        .iter()
        .filter(|(p, _)| p.ends_with("history"))
        .collect();
    assert_eq!(history_calls.len(), 4, "one batch per endpoint: {calls:?}");
    assert!(
        history_calls.iter().all(|(_, n)| *n == 3),
        "3 distinct Coinalyze symbols: {calls:?}"
    );
    let stats = processor.stats();
    assert_eq!(
        (stats.successful, stats.failed, stats.rate_limited),
        (6, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn batches_hold_at_most_20_symbols_and_the_cache_saves_every_request() {
    let fake = FakeCoinalyze::new(10_000, Duration::from_secs(60), 45);
    let server = fake_server(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let symbols: Vec<_> = (0..45)
        .map(|i| key(Exchange::Binance, &format!("COIN{i}USDT")))
        .collect();
    let first = processor(config(&server, dir.path()))
        .process_symbols_at(&symbols, NOW)
        .await;
    let calls = fake.calls();
    for endpoint in [
        "/open-interest-history",
        "/funding-rate-history",
        "/long-short-ratio-history",
        "/liquidation-history",
    ] {
        let sizes: Vec<usize> = calls
            .iter()
            .filter(|(p, _)| p == endpoint)
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(sizes, vec![20, 20, 5], "{endpoint}");
    }
    assert!(first
        .values()
        .all(|d| d.oi_history.is_some() && d.ls_ratio.is_some()));

    // A new processor (a new process) inside the TTL: zero requests.
    let before = server.requests().len();
    let second_processor = processor(config(&server, dir.path()));
    let second = second_processor
        .process_symbols_at(&symbols, NOW + 120)
        .await;
    assert_eq!(
        server.requests().len(),
        before,
        "cache hit must cost no request"
    );
    // Same histories; the 24 h liquidation window moved with `now` (25 -> 24 bars).
    for k in &symbols {
        assert_eq!(second[k].oi_history, first[k].oi_history);
        assert_eq!(second[k].funding_rate, first[k].funding_rate);
        assert_eq!(
            second[k].liquidations_24h,
            Some(Liquidations {
                long: 24.0,
                short: 48.0
            })
        );
    }
    let stats = second_processor.stats();
    assert_eq!(
        (stats.successful, stats.cached),
        (0, 13),
        "catalogue + 12 batches from disk"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_waits_retry_after_then_succeeds() {
    let fake = FakeCoinalyze::new(1000, Duration::from_secs(60), 0);
    let server = fake_server(&fake).await;
    server.script(
        "/funding-rate-history",
        1,
        Reply::status(429).header("Retry-After", "1"),
    );
    let dir = tempfile::tempdir().unwrap();
    let processor = processor(config(&server, dir.path()));
    let symbols = [key(Exchange::Binance, "BTCUSDT")];
    let started = Instant::now();
    let map = processor.process_symbols_at(&symbols, NOW).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1),
        "Retry-After: 1 must be honoured, took {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(map[&symbols[0]].funding_rate, Some(0.0048));
    let stats = processor.stats();
    assert_eq!((stats.rate_limited, stats.retried, stats.failed), (1, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_5xx_is_retried_with_backoff() {
    let fake = FakeCoinalyze::new(1000, Duration::from_secs(60), 0);
    let server = fake_server(&fake).await;
    server.script(
        "/open-interest-history",
        2,
        Reply::text(503, "upstream down"),
    );
    let dir = tempfile::tempdir().unwrap();
    let processor = processor(config(&server, dir.path()));
    let symbols = [key(Exchange::Binance, "ETHUSDT")];
    let map = processor.process_symbols_at(&symbols, NOW).await;
    assert_eq!(
        map[&symbols[0]].oi_history.as_ref().map(Vec::len),
        Some(49),
        "third try succeeds"
    );
    assert_eq!(processor.stats().retried, 2);
}

#[tokio::test(start_paused = true)]
async fn malformed_json_marks_only_that_history_unavailable() {
    let fake = FakeCoinalyze::new(1000, Duration::from_secs(60), 0);
    let server = fake_server(&fake).await;
    server.script(
        "/open-interest-history",
        usize::MAX,
        Reply::text(200, "[{\"symbol\":\"BTCUSDT_PERP.A\",\"history\":[{\"t\":"),
    );
    let dir = tempfile::tempdir().unwrap();
    let processor = processor(config(&server, dir.path()));
    let symbols = [key(Exchange::Binance, "BTCUSDT")];
    let data = &processor.process_symbols_at(&symbols, NOW).await[&symbols[0]];
    assert!(data.oi_history.is_none());
    assert!(
        data.funding_rate.is_some() && data.ls_ratio.is_some() && data.liquidations_24h.is_some()
    );
    assert_eq!(data.oi_metadata.value, None);
    assert_eq!(processor.stats().failed, 1);
}

#[tokio::test(start_paused = true)]
async fn without_a_key_nothing_is_requested_and_everything_is_unavailable() {
    let server = FakeServer::start(|_| Reply::status(500)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server, dir.path());
    config.api_key = None;
    let processor = processor(config);
    let symbols = [
        key(Exchange::Binance, "BTCUSDT"),
        key(Exchange::Hyperliquid, "BTC"),
    ];
    let map = processor.process_symbols_at(&symbols, NOW).await;
    assert_eq!(map.len(), 2);
    assert!(map
        .values()
        .all(|d| d.oi_history.is_none() && d.oi_metadata.status == OiStatus::Neutral));
    assert!(server.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_refused_key_stops_after_the_first_call() {
    let fake = FakeCoinalyze::new(1000, Duration::from_secs(60), 0);
    let server = fake_server(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server, dir.path());
    config.api_key = Some(Secret::new("wrong"));
    let processor = processor(config);
    let symbols = [key(Exchange::Binance, "BTCUSDT")];
    let map = processor.process_symbols_at(&symbols, NOW).await;
    assert!(map[&symbols[0]].oi_history.is_none());
    assert_eq!(
        fake.calls().len(),
        1,
        "401 is not retried and nothing else is attempted"
    );
}

#[tokio::test(start_paused = true)]
async fn a_100_symbol_scan_never_exceeds_40_symbol_calls_in_any_minute() {
    // The documented quota (40 symbol-calls per 60 s, 1.5 s between starts)
    // against a fake that enforces it, on virtual time.
    let minute = Duration::from_secs(60);
    let fake = FakeCoinalyze::new(40, minute, 100);
    let server = fake_server(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let processor =
        BatchProcessor::new(config(&server, dir.path()), &Governor::documented()).unwrap();
    let symbols: Vec<_> = (0..100)
        .map(|i| key(Exchange::Binance, &format!("COIN{i}USDT")))
        .collect();
    let started = Instant::now();
    let map = processor.process_symbols_at(&symbols, NOW).await;
    let elapsed = started.elapsed();
    assert_eq!(
        fake.rejected(),
        0,
        "the governor must keep the fake from ever answering 429"
    );
    assert!(map
        .values()
        .all(|d| d.oi_history.is_some() && d.funding_rate.is_some()));
    let symbol_calls: usize = fake.calls().iter().map(|(_, n)| (*n).max(1)).sum();
    assert_eq!(
        symbol_calls, 402,
        "4 endpoints x 100 symbols + 2 catalogue calls"
    );
    let busiest = fake.busiest_window(minute);
    assert!(busiest <= 40, "{busiest} symbol-calls within one minute");
    assert!(busiest >= 38, "the quota is used, not wasted: {busiest}");
    // 402 symbol-calls at 40 per minute cannot finish before the 10th minute opens.
    assert!(elapsed >= minute * 9, "{elapsed:?}");
    println!(
        "100 symbols: {elapsed:?} (virtual) for a floor of {:?}",
        minute.mul_f64(402.0 / 40.0)
    );
}
