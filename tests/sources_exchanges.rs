//! Candle fetchers against local fakes of Binance (spot and USD-M), MEXC
//! (spot and contract) and Hyperliquid that follow each documented protocol:
//! page caps, time units, string prices, error envelopes and rate limits.

#![cfg(feature = "ssr")]

use quantpro::core::candles::Candle;
use quantpro::model::Exchange;
use quantpro::model::Interval;
use quantpro::sources::exchanges::{fetcher_for, CandleFetcher, FetcherConfig, Market};
use quantpro::sources::http::RetryPolicy;
use quantpro::sources::SourceError;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{any, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// An hour boundary: the first candle of every fake series.
const T0: i64 = 1_700_006_400_000;

/// Candle `k` of a fake series: values derived from `k`, so any candle can be
/// checked anywhere.
fn candle(k: i64, interval: Interval) -> Candle {
    let o = 100.0 + k as f64;
    Candle {
        t: T0 + k * interval.millis(),
        o,
        h: o + 2.0,
        l: o - 1.0,
        c: o + 1.0,
        v: 10.0 + k as f64,
    }
}

fn config(server: &MockServer) -> FetcherConfig {
    FetcherConfig {
        base_url: Some(server.uri()),
        retry: RetryPolicy {
            max_tries: 3,
            backoff_base: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
        },
        timeout: Duration::from_secs(5),
        budget: None,
    }
}

fn query(request: &Request) -> HashMap<String, String> {
    request.url.query_pairs().into_owned().collect()
}

/// Records each request's query (or body) for later assertions.
#[derive(Default)]
struct Log(Mutex<Vec<HashMap<String, String>>>);

impl Log {
    fn all(&self) -> Vec<HashMap<String, String>> {
        self.0.lock().unwrap().clone()
    }
}

fn check_series(candles: &[Candle], count: i64, interval: Interval) {
    assert_eq!(candles.len() as i64, count);
    for (k, c) in candles.iter().enumerate() {
        assert_eq!(*c, candle(k as i64, interval), "candle {k}");
    }
}

// ---------------------------------------------------------------- Binance

/// Binance klines: `startTime`/`endTime` inclusive on open time, `limit`
/// capped at `max_limit` (400 above it), 12-field rows with string prices,
/// `{"code":-1121}` for an unknown symbol.
struct BinanceKlines {
    symbol: &'static str,
    len: i64,
    interval: Interval,
    max_limit: usize,
    log: Arc<Log>,
}

impl Respond for BinanceKlines {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let q = query(request);
        self.log.0.lock().unwrap().push(q.clone());
        if q.get("symbol").map(String::as_str) != Some(self.symbol) {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"code":-1121,"msg":"Invalid symbol."}));
        }
        if q["interval"] != self.interval.as_str() {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"code":-1120,"msg":"Invalid interval."}));
        }
        let limit: usize = q.get("limit").map(|l| l.parse().unwrap()).unwrap_or(500);
        if limit > self.max_limit {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"code":-1130,"msg":"Invalid limit."}));
        }
        let start: i64 = q["startTime"].parse().unwrap();
        let end: i64 = q["endTime"].parse().unwrap();
        let step = self.interval.millis();
        let rows: Vec<Value> = (0..self.len)
            .map(|k| candle(k, self.interval))
            .filter(|c| c.t >= start && c.t <= end)
            .take(limit)
            .map(|c| {
                json!([
                    c.t,
                    format!("{:.2}", c.o),
                    format!("{:.2}", c.h),
                    format!("{:.2}", c.l),
                    format!("{:.2}", c.c),
                    format!("{:.3}", c.v),
                    c.t + step - 1,
                    "123.45",
                    42,
                    "1.0",
                    "2.0",
                    "0"
                ])
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(rows)
            .insert_header("X-MBX-USED-WEIGHT-1M", "10")
    }
}

async fn binance(
    market: Market,
    len: i64,
    priority_mocks: Vec<Mock>,
) -> (MockServer, Arc<Log>, Box<dyn CandleFetcher>) {
    let server = MockServer::start().await;
    for mock in priority_mocks {
        server.register(mock).await;
    }
    let log = Arc::new(Log::default());
    let (klines_path, max_limit) = match market {
        Market::Spot => ("/api/v3/klines", 1000),
        Market::Futures => ("/fapi/v1/klines", 1500),
    };
    let fake = BinanceKlines {
        symbol: "BTCUSDT",
        len,
        interval: Interval::M15,
        max_limit,
        log: log.clone(),
    };
    Mock::given(path(klines_path))
        .respond_with(fake)
        .mount(&server)
        .await;
    let fetcher = fetcher_for(Exchange::Binance, market, &config(&server)).unwrap();
    (server, log, fetcher)
}

fn all_time() -> (i64, i64) {
    (T0, T0 + 100_000 * Interval::M15.millis())
}

#[tokio::test]
async fn binance_futures_pages_by_1500_and_spot_by_1000() {
    let (start, end) = all_time();
    let (_server, log, futures) = binance(Market::Futures, 4000, vec![]).await;
    check_series(
        &futures
            .candles("BTCUSDT", Interval::M15, start, end)
            .await
            .unwrap(),
        4000,
        Interval::M15,
    );
    let requests = log.all();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|q| q["limit"] == "1500"));
    assert_eq!(
        requests[1]["startTime"],
        (T0 + 1500 * Interval::M15.millis()).to_string(),
        "next page starts after the last candle"
    );

    let (_server, log, spot) = binance(Market::Spot, 2500, vec![]).await;
    check_series(
        &spot
            .candles("BTCUSDT", Interval::M15, start, end)
            .await
            .unwrap(),
        2500,
        Interval::M15,
    );
    assert_eq!(log.all().len(), 3);
    assert!(log.all().iter().all(|q| q["limit"] == "1000"));
}

#[tokio::test]
async fn binance_range_end_is_exclusive() {
    let (_server, _log, fetcher) = binance(Market::Futures, 100, vec![]).await;
    let m = Interval::M15.millis();
    let candles = fetcher
        .candles("BTCUSDT", Interval::M15, T0 + 10 * m, T0 + 20 * m)
        .await
        .unwrap();
    assert_eq!(candles.first().unwrap().t, T0 + 10 * m);
    assert_eq!(candles.len(), 10);
}

#[tokio::test]
async fn binance_429_and_418_wait_for_retry_after() {
    let limited = |status: u16| {
        Mock::given(path("/fapi/v1/klines"))
            .respond_with(ResponseTemplate::new(status).insert_header("Retry-After", "1"))
            .up_to_n_times(1)
            .with_priority(1)
    };
    let (_server, log, fetcher) = binance(Market::Futures, 10, vec![limited(429)]).await;
    let started = Instant::now();
    let (start, end) = all_time();
    let candles = fetcher
        .candles("BTCUSDT", Interval::M15, start, end)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1),
        "Retry-After 1 s honoured, took {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    check_series(&candles, 10, Interval::M15);
    assert_eq!(
        log.all().len(),
        1,
        "the 429 was served by the priority mock, then one real page"
    );

    let (_server, _log, fetcher) = binance(Market::Futures, 10, vec![limited(418)]).await;
    let started = Instant::now();
    assert_eq!(
        fetcher
            .candles("BTCUSDT", Interval::M15, start, end)
            .await
            .unwrap()
            .len(),
        10
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn binance_ban_longer_than_we_wait_fails_fast() {
    let ban = Mock::given(path("/fapi/v1/klines"))
        .respond_with(ResponseTemplate::new(418).insert_header("Retry-After", "7200"))
        .with_priority(1);
    let (_server, _log, fetcher) = binance(Market::Futures, 10, vec![ban]).await;
    let started = Instant::now();
    let (start, end) = all_time();
    let error = fetcher
        .candles("BTCUSDT", Interval::M15, start, end)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            SourceError::RateLimited {
                wait_secs: 7200,
                ..
            }
        ),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn binance_5xx_then_success_malformed_json_and_unknown_symbol() {
    let flaky = Mock::given(path("/fapi/v1/klines"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .up_to_n_times(2)
        .with_priority(1);
    let (_server, log, fetcher) = binance(Market::Futures, 5, vec![flaky]).await;
    let (start, end) = all_time();
    assert_eq!(
        fetcher
            .candles("BTCUSDT", Interval::M15, start, end)
            .await
            .unwrap()
            .len(),
        5
    );
    assert_eq!(log.all().len(), 1);

    let error = fetcher
        .candles("NOPEUSDT", Interval::M15, start, end)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::UnknownSymbol { ref symbol, .. } if symbol == "NOPEUSDT"),
        "{error}"
    );

    let broken = Mock::given(path("/fapi/v1/klines"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[[1700006400000,\"1\",\"2\""))
        .with_priority(1);
    let (_server, _log, fetcher) = binance(Market::Futures, 5, vec![broken]).await;
    let error = fetcher
        .candles("BTCUSDT", Interval::M15, start, end)
        .await
        .unwrap_err();
    assert!(matches!(error, SourceError::Malformed { .. }), "{error}");

    let nan = Mock::given(path("/fapi/v1/klines"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([[
            T0,
            "NaN",
            "2",
            "0.5",
            "1",
            "3",
            T0 + 1,
            "0",
            1,
            "0",
            "0",
            "0"
        ]])))
        .with_priority(1);
    let (_server, _log, fetcher) = binance(Market::Futures, 5, vec![nan]).await;
    let error = fetcher
        .candles("BTCUSDT", Interval::M15, start, end)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::Malformed { .. }),
        "a NaN price is refused, not passed on: {error}"
    );
}

#[tokio::test]
async fn binance_top_symbols_rank_usdt_perps_by_quote_volume() {
    let server = MockServer::start().await;
    let tickers = json!([
        {"symbol":"BTCUSDT","quoteVolume":"9000000.5","volume":"1"},
        {"symbol":"ETHUSDT","quoteVolume":"12000000.0","volume":"1"},
        {"symbol":"BTCUSDT_250627","quoteVolume":"99000000.0","volume":"1"},
        {"symbol":"ETHBTC","quoteVolume":"50000000.0","volume":"1"},
        {"symbol":"SOLUSDT","quoteVolume":"100.0","volume":"1"}
    ]);
    Mock::given(path("/fapi/v1/ticker/24hr"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tickers))
        .mount(&server)
        .await;
    let fetcher = fetcher_for(Exchange::Binance, Market::Futures, &config(&server)).unwrap();
    assert_eq!(
        fetcher.top_symbols(2).await.unwrap(),
        vec!["ETHUSDT", "BTCUSDT"]
    );
}

// ------------------------------------------------------------------- MEXC

/// MEXC spot klines: `60m` for one hour, `limit` above 500 refused,
/// `endTime` exclusive, 8-field rows.
struct MexcSpotKlines {
    len: i64,
    log: Arc<Log>,
}

impl Respond for MexcSpotKlines {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let q = query(request);
        self.log.0.lock().unwrap().push(q.clone());
        if q["symbol"] != "BTCUSDT" {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"code":-1121,"msg":"Invalid symbol."}));
        }
        if q["interval"] != "60m" {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"code":-1120,"msg":"Invalid interval."}));
        }
        let limit: usize = q["limit"].parse().unwrap();
        if limit > 500 {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"code":-1130,"msg":"limit too large"}));
        }
        let (start, end): (i64, i64) = (
            q["startTime"].parse().unwrap(),
            q["endTime"].parse().unwrap(),
        );
        let h = Interval::H1.millis();
        let rows: Vec<Value> = (0..self.len)
            .map(|k| candle(k, Interval::H1))
            .filter(|c| c.t >= start && c.t < end)
            .take(limit)
            .map(|c| {
                json!([
                    c.t,
                    c.o.to_string(),
                    c.h.to_string(),
                    c.l.to_string(),
                    c.c.to_string(),
                    c.v.to_string(),
                    c.t + h,
                    "0"
                ])
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(rows)
    }
}

#[tokio::test]
async fn mexc_spot_asks_for_60m_in_pages_of_500() {
    let server = MockServer::start().await;
    let log = Arc::new(Log::default());
    Mock::given(path("/api/v3/klines"))
        .respond_with(MexcSpotKlines {
            len: 1200,
            log: log.clone(),
        })
        .mount(&server)
        .await;
    let fetcher = fetcher_for(Exchange::Mexc, Market::Spot, &config(&server)).unwrap();
    let end = T0 + 5000 * Interval::H1.millis();
    check_series(
        &fetcher
            .candles("BTCUSDT", Interval::H1, T0, end)
            .await
            .unwrap(),
        1200,
        Interval::H1,
    );
    let requests = log.all();
    assert!(requests
        .iter()
        .all(|q| q["interval"] == "60m" && q["limit"] == "500"));
    assert_eq!(requests.len(), 3, "1200 candles in pages of 500");
    let error = fetcher
        .candles("XXXUSDT", Interval::H1, T0, end)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::UnknownSymbol { .. }),
        "{error}"
    );
}

/// MEXC contract API: envelope `{success, code, data}`, klines as parallel
/// arrays with times in seconds, at most 2000 bars, volume in contracts.
struct MexcContract {
    len: i64,
    log: Arc<Log>,
}

const CONTRACT_SIZE: f64 = 0.0001;

impl Respond for MexcContract {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let q = query(request);
        self.log.0.lock().unwrap().push(q.clone());
        let p = request.url.path();
        if p == "/api/v1/contract/detail" {
            return ResponseTemplate::new(200).set_body_json(json!({"success":true,"code":0,"data":[
                {"symbol":"BTC_USDT","contractSize":CONTRACT_SIZE},{"symbol":"ETH_USDT","contractSize":0.01}]}));
        }
        if p == "/api/v1/contract/ticker" {
            return ResponseTemplate::new(200).set_body_json(json!({"success":true,"code":0,"data":[
                {"symbol":"BTC_USDT","amount24":5.0e9,"volume24":1},{"symbol":"ETH_USDT","amount24":"7.5e9","volume24":1},
                {"symbol":"BTC_USD","amount24":9.9e9,"volume24":1}]}));
        }
        if !p.ends_with("/BTC_USDT") {
            return ResponseTemplate::new(200).set_body_json(
                json!({"success":false,"code":1001,"message":"contract not exist"}),
            );
        }
        assert_eq!(q["interval"], "Min15");
        let (start, end): (i64, i64) = (q["start"].parse().unwrap(), q["end"].parse().unwrap());
        let bars: Vec<Candle> = (0..self.len)
            .map(|k| candle(k, Interval::M15))
            .filter(|c| c.t / 1000 >= start && c.t / 1000 <= end)
            .take(2000)
            .collect();
        let col = |f: fn(&Candle) -> Value| Value::Array(bars.iter().map(f).collect());
        ResponseTemplate::new(200).set_body_json(json!({"success":true,"code":0,"data":{
            "time": col(|c| json!(c.t / 1000)), "open": col(|c| json!(c.o)), "close": col(|c| json!(c.c)),
            "high": col(|c| json!(c.h)), "low": col(|c| json!(c.l)), "vol": col(|c| json!(c.v / CONTRACT_SIZE)),
            "amount": col(|_| json!(1.0)), "realOpen": col(|c| json!(c.o))}}))
    }
}

#[tokio::test]
async fn mexc_futures_reads_parallel_arrays_in_seconds_and_scales_volume() {
    let server = MockServer::start().await;
    let log = Arc::new(Log::default());
    // Code 510 ("too frequent") arrives with HTTP 200 and must still be retried.
    Mock::given(path_regex("^/api/v1/contract/kline/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"success":false,"code":510,"message":"Requests are too frequent"}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(MexcContract {
            len: 4500,
            log: log.clone(),
        })
        .mount(&server)
        .await;
    let fetcher = fetcher_for(Exchange::Mexc, Market::Futures, &config(&server)).unwrap();
    let end = T0 + 10_000 * Interval::M15.millis();
    let candles = fetcher
        .candles("BTC_USDT", Interval::M15, T0, end)
        .await
        .unwrap();
    assert_eq!(candles.len(), 4500);
    for (k, c) in candles.iter().enumerate() {
        let want = candle(k as i64, Interval::M15);
        assert_eq!(
            (c.t, c.o, c.h, c.l, c.c),
            (want.t, want.o, want.h, want.l, want.c)
        );
        assert!(
            (c.v - want.v).abs() < 1e-9 * want.v,
            "volume = contracts x contractSize at {k}"
        );
    }
    let detail_calls = log.all().iter().filter(|q| q.is_empty()).count();
    assert_eq!(detail_calls, 1, "contract details are fetched once");
    let spans: Vec<i64> = log
        .all()
        .iter()
        .filter(|q| q.contains_key("start"))
        .map(|q| q["end"].parse::<i64>().unwrap() - q["start"].parse::<i64>().unwrap())
        .collect();
    assert!(
        spans.iter().all(|s| *s < 2000 * 900),
        "each request spans at most 2000 bars: {spans:?}"
    );

    // A range that starts 3000 bars before the listing still finds the data.
    let early = fetcher
        .candles(
            "BTC_USDT",
            Interval::M15,
            T0 - 3000 * Interval::M15.millis(),
            end,
        )
        .await
        .unwrap();
    assert_eq!(early.len(), 4500);

    let error = fetcher
        .candles("NOPE_USDT", Interval::M15, T0, end)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::UnknownSymbol { .. }),
        "{error}"
    );
    assert_eq!(
        fetcher.top_symbols(5).await.unwrap(),
        vec!["ETH_USDT", "BTC_USDT"]
    );
}

#[tokio::test]
async fn mexc_futures_error_envelope_on_200_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/contract/detail"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success":false,"code":600,"message":"param error"})),
        )
        .mount(&server)
        .await;
    let fetcher = fetcher_for(Exchange::Mexc, Market::Futures, &config(&server)).unwrap();
    let error = fetcher
        .candles("BTC_USDT", Interval::M15, T0, T0 + 1_000_000)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::Api { code: 600, .. }),
        "{error}"
    );
}

// ------------------------------------------------------------ Hyperliquid

/// Hyperliquid `/info`: meta, metaAndAssetCtxs and candleSnapshot (at most
/// 5000 candles, string prices, `startTime`/`endTime` inclusive).
struct HyperliquidInfo {
    len: i64,
    log: Arc<Log>,
}

impl Respond for HyperliquidInfo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(_) => {
                return ResponseTemplate::new(422)
                    .set_body_string("Failed to deserialize the JSON body")
            }
        };
        let kind = body["type"].as_str().unwrap_or_default().to_string();
        let mut logged = HashMap::from([("type".to_string(), kind.clone())]);
        let universe = json!([{"name":"BTC","szDecimals":5,"maxLeverage":40},{"name":"ETH","szDecimals":4,"maxLeverage":25},
            {"name":"OLD","szDecimals":1,"maxLeverage":3,"onlyIsolated":true,"isDelisted":true}]);
        let response = match kind.as_str() {
            "meta" => json!({"universe": universe, "marginTables": []}),
            "metaAndAssetCtxs" => json!([{"universe": universe, "marginTables": []}, [
                {"dayNtlVlm":"1834567890.12","markPx":"64010.0","midPx":null},
                {"dayNtlVlm":"2834567890.00","markPx":"3000.0","midPx":null},
                {"dayNtlVlm":"9999999999.00","markPx":"1.0","midPx":null}]]),
            "candleSnapshot" => {
                let req = &body["req"];
                assert_eq!(req["coin"], "BTC");
                assert_eq!(req["interval"], "15m");
                let start = req["startTime"].as_i64().unwrap();
                let end = req["endTime"].as_i64().unwrap_or(i64::MAX);
                logged.insert("startTime".into(), start.to_string());
                let rows: Vec<Value> = (0..self.len)
                    .map(|k| candle(k, Interval::M15))
                    .filter(|c| c.t >= start && c.t <= end)
                    .take(5000)
                    .map(|c| json!({"t":c.t,"T":c.t + Interval::M15.millis() - 1,"s":"BTC","i":"15m",
                        "o":c.o.to_string(),"c":c.c.to_string(),"h":c.h.to_string(),"l":c.l.to_string(),"v":c.v.to_string(),"n":7}))
                    .collect();
                Value::Array(rows)
            }
            _ => return ResponseTemplate::new(400).set_body_string("unknown request type"),
        };
        self.log.0.lock().unwrap().push(logged);
        ResponseTemplate::new(200).set_body_json(response)
    }
}

async fn hyperliquid(
    len: i64,
    priority_mocks: Vec<Mock>,
) -> (MockServer, Arc<Log>, Box<dyn CandleFetcher>) {
    let server = MockServer::start().await;
    for mock in priority_mocks {
        server.register(mock).await;
    }
    let log = Arc::new(Log::default());
    Mock::given(method("POST"))
        .and(path("/info"))
        .respond_with(HyperliquidInfo {
            len,
            log: log.clone(),
        })
        .mount(&server)
        .await;
    let fetcher = fetcher_for(Exchange::Hyperliquid, Market::Futures, &config(&server)).unwrap();
    (server, log, fetcher)
}

#[tokio::test]
async fn hyperliquid_pages_by_moving_start_time_over_string_prices() {
    let (_server, log, fetcher) = hyperliquid(7000, vec![]).await;
    let end = T0 + 20_000 * Interval::M15.millis();
    check_series(
        &fetcher
            .candles("BTC", Interval::M15, T0, end)
            .await
            .unwrap(),
        7000,
        Interval::M15,
    );
    let snapshots: Vec<_> = log
        .all()
        .into_iter()
        .filter(|q| q["type"] == "candleSnapshot")
        .collect();
    assert_eq!(snapshots.len(), 2, "5000 + 2000");
    assert_eq!(
        snapshots[1]["startTime"],
        (T0 + 5000 * Interval::M15.millis()).to_string()
    );
}

#[tokio::test]
async fn hyperliquid_unknown_coin_is_refused_before_any_candle_request() {
    let (_server, log, fetcher) = hyperliquid(10, vec![]).await;
    let error = fetcher
        .candles("NOPE", Interval::M15, T0, T0 + 1_000_000)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::UnknownSymbol { .. }),
        "{error}"
    );
    assert!(log.all().iter().all(|q| q["type"] == "meta"));
}

#[tokio::test]
async fn hyperliquid_429_without_retry_after_backs_off_and_top_skips_delisted() {
    let limited = Mock::given(path("/info"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(2)
        .with_priority(1);
    let (_server, _log, fetcher) = hyperliquid(10, vec![limited]).await;
    assert_eq!(
        fetcher.top_symbols(5).await.unwrap(),
        vec!["ETH", "BTC"],
        "OLD is delisted"
    );
    let broken = Mock::given(path("/info"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"universe\":"))
        .with_priority(1);
    let (_server, _log, fetcher) = hyperliquid(10, vec![broken]).await;
    assert!(matches!(
        fetcher.top_symbols(5).await.unwrap_err(),
        SourceError::Malformed { .. }
    ));
}
