//! Coinalyze resolver, batch client and processor against a local fake that
//! speaks the documented protocol: `api_key` header, comma-separated
//! `symbols` (at most 20), hourly histories between `from` and `to`, 429 with
//! `Retry-After`, and a sliding-window quota charged per symbol.

#![cfg(feature = "ssr")]

use quantpro::core::external::Liquidations;
use quantpro::model::{Exchange, OiStatus};
use quantpro::sources::coinalyze::{BatchProcessor, CoinalyzeConfig};
use quantpro::sources::http::RetryPolicy;
use quantpro::sources::keys::Secret;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{any, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

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
/// records every request's path and symbol count.
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
}

struct Responder(Arc<FakeCoinalyze>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let fake = &self.0;
        let query: std::collections::HashMap<String, String> =
            request.url.query_pairs().into_owned().collect();
        let symbols: Vec<String> = query
            .get("symbols")
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let weight = symbols.len().max(1) as u32;
        let endpoint = request.url.path().to_string();
        {
            let mut state = fake.state.lock().unwrap();
            let now = Instant::now();
            while state
                .spent
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) >= fake.window)
            {
                state.spent.pop_front();
            }
            let used: u32 = state.spent.iter().map(|(_, w)| w).sum();
            state.calls.push((endpoint.clone(), symbols.len()));
            if request.headers.get("api_key").and_then(|v| v.to_str().ok()) != Some(KEY) {
                return ResponseTemplate::new(401)
                    .set_body_string("{\"message\":\"Unauthorized\"}");
            }
            if symbols.len() > 20 {
                return ResponseTemplate::new(400).set_body_string("too many symbols");
            }
            if used + weight > fake.limit {
                state.rejected += 1;
                return ResponseTemplate::new(429).insert_header("Retry-After", "1");
            }
            state.spent.push_back((now, weight));
        }
        let known = markets(fake.coins);
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
        ResponseTemplate::new(200).set_body_json(body)
    }
}

fn config(server: &MockServer, cache: &std::path::Path) -> CoinalyzeConfig {
    let mut config = CoinalyzeConfig::new(Some(Secret::new(KEY)), cache);
    config.base_url = server.uri();
    config.min_spacing = Duration::from_millis(5);
    config.quota_window = Duration::from_millis(500);
    config.retry = RetryPolicy {
        max_tries: 3,
        backoff_base: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(5),
    };
    config
}

async fn fake_server(fake: &Arc<FakeCoinalyze>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(Responder(fake.clone()))
        .mount(&server)
        .await;
    server
}

fn key(exchange: Exchange, symbol: &str) -> (Exchange, String) {
    (exchange, symbol.to_string())
}

#[tokio::test]
async fn resolves_fetches_and_distributes_the_four_histories() {
    let fake = FakeCoinalyze::new(1000, Duration::from_secs(60), 0);
    let server = fake_server(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let processor = BatchProcessor::new(config(&server, dir.path())).unwrap();
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

#[tokio::test]
async fn batches_hold_at_most_20_symbols_and_the_cache_saves_every_request() {
    let fake = FakeCoinalyze::new(10_000, Duration::from_secs(60), 45);
    let server = fake_server(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let symbols: Vec<_> = (0..45)
        .map(|i| key(Exchange::Binance, &format!("COIN{i}USDT")))
        .collect();
    let first = BatchProcessor::new(config(&server, dir.path()))
        .unwrap()
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
    let before = server.received_requests().await.unwrap().len();
    let second_processor = BatchProcessor::new(config(&server, dir.path())).unwrap();
    let second = second_processor
        .process_symbols_at(&symbols, NOW + 120)
        .await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
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

#[tokio::test]
async fn a_429_waits_retry_after_then_succeeds() {
    let fake = FakeCoinalyze::new(1000, Duration::from_secs(60), 0);
    let server = MockServer::start().await;
    Mock::given(path("/funding-rate-history"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(Responder(fake.clone()))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let processor = BatchProcessor::new(config(&server, dir.path())).unwrap();
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

#[tokio::test]
async fn a_5xx_is_retried_with_backoff() {
    let fake = FakeCoinalyze::new(1000, Duration::from_secs(60), 0);
    let server = MockServer::start().await;
    Mock::given(path("/open-interest-history"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream down"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(Responder(fake.clone()))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let processor = BatchProcessor::new(config(&server, dir.path())).unwrap();
    let symbols = [key(Exchange::Binance, "ETHUSDT")];
    let map = processor.process_symbols_at(&symbols, NOW).await;
    assert_eq!(
        map[&symbols[0]].oi_history.as_ref().map(Vec::len),
        Some(49),
        "third try succeeds"
    );
    assert_eq!(processor.stats().retried, 2);
}

#[tokio::test]
async fn malformed_json_marks_only_that_history_unavailable() {
    let fake = FakeCoinalyze::new(1000, Duration::from_secs(60), 0);
    let server = MockServer::start().await;
    Mock::given(path("/open-interest-history"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("[{\"symbol\":\"BTCUSDT_PERP.A\",\"history\":[{\"t\":"),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(Responder(fake.clone()))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let processor = BatchProcessor::new(config(&server, dir.path())).unwrap();
    let symbols = [key(Exchange::Binance, "BTCUSDT")];
    let data = &processor.process_symbols_at(&symbols, NOW).await[&symbols[0]];
    assert!(data.oi_history.is_none());
    assert!(
        data.funding_rate.is_some() && data.ls_ratio.is_some() && data.liquidations_24h.is_some()
    );
    assert_eq!(data.oi_metadata.value, None);
    assert_eq!(processor.stats().failed, 1);
}

#[tokio::test]
async fn without_a_key_nothing_is_requested_and_everything_is_unavailable() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server, dir.path());
    config.api_key = None;
    let processor = BatchProcessor::new(config).unwrap();
    let symbols = [
        key(Exchange::Binance, "BTCUSDT"),
        key(Exchange::Hyperliquid, "BTC"),
    ];
    let map = processor.process_symbols_at(&symbols, NOW).await;
    assert_eq!(map.len(), 2);
    assert!(map
        .values()
        .all(|d| d.oi_history.is_none() && d.oi_metadata.status == OiStatus::Neutral));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_key_stops_after_the_first_call() {
    let fake = FakeCoinalyze::new(1000, Duration::from_secs(60), 0);
    let server = fake_server(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server, dir.path());
    config.api_key = Some(Secret::new("wrong"));
    let processor = BatchProcessor::new(config).unwrap();
    let symbols = [key(Exchange::Binance, "BTCUSDT")];
    let map = processor.process_symbols_at(&symbols, NOW).await;
    assert!(map[&symbols[0]].oi_history.is_none());
    assert_eq!(
        fake.calls().len(),
        1,
        "401 is not retried and nothing else is attempted"
    );
}

#[tokio::test]
async fn a_100_symbol_scan_respects_a_40_per_window_quota_with_zero_429s() {
    // 40 symbol-calls per 1 s instead of per minute: the same protocol, 60x faster.
    let window = Duration::from_secs(1);
    let fake = FakeCoinalyze::new(40, window, 100);
    let server = fake_server(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server, dir.path());
    config.quota_per_window = 40;
    config.quota_window = window;
    config.min_spacing = Duration::from_millis(25);
    let processor = BatchProcessor::new(config).unwrap();
    let symbols: Vec<_> = (0..100)
        .map(|i| key(Exchange::Binance, &format!("COIN{i}USDT")))
        .collect();
    let started = Instant::now();
    let map = processor.process_symbols_at(&symbols, NOW).await;
    let elapsed = started.elapsed();
    assert_eq!(
        fake.rejected(),
        0,
        "the local quota must keep the fake from ever answering 429"
    );
    assert!(map
        .values()
        .all(|d| d.oi_history.is_some() && d.funding_rate.is_some()));
    let symbol_calls: usize = fake.calls().iter().map(|(_, n)| (*n).max(1)).sum();
    assert_eq!(
        symbol_calls, 402,
        "4 endpoints x 100 symbols + 2 catalogue calls"
    );
    // 402 symbol-calls at 40 per window cannot finish before the 10th window opens.
    assert!(elapsed >= window * 9, "{elapsed:?}");
    println!(
        "100 symbols: {elapsed:?} for a floor of {:?}",
        window.mul_f64(402.0 / 40.0)
    );
}
