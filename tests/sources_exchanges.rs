//! Candle fetchers against local fakes of Binance (spot and USD-M), MEXC
//! (spot and contract) and Hyperliquid that follow each documented protocol:
//! page caps, time units, string prices, error envelopes and rate limits.
//! The fakes run in the test's runtime and time is virtual (paused clock),
//! so waits are asserted exactly and cost no real time.

#![cfg(feature = "ssr")]

#[path = "common/http_fake.rs"]
mod http_fake;

use http_fake::{FakeServer, Received, Reply};
use quantpro_model::Candle;
use quantpro_model::Exchange;
use quantpro_model::Interval;
use quantpro_model::Market;
use quantpro_sources::governor::Governor;
use quantpro_sources::http::RetryPolicy;
use quantpro_sources::venues::{fetcher_for, CandleFetcher, FetcherConfig};
use quantpro_sources::SourceError;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

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

fn config(server: &FakeServer) -> FetcherConfig {
    FetcherConfig {
        base_url: Some(server.uri.clone()),
        retry: RetryPolicy {
            max_tries: 3,
            backoff_base: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
        },
        timeout: Duration::from_secs(5),
    }
}

/// A fetcher of `server` with a governor of its own (documented budgets).
fn fetcher(exchange: Exchange, market: Market, server: &FakeServer) -> Box<dyn CandleFetcher> {
    fetcher_for(exchange, market, &config(server), &Governor::documented()).unwrap()
}

/// The queries the protocol answered (scripted replies left out).
fn queries(server: &FakeServer) -> Vec<HashMap<String, String>> {
    server
        .protocol_requests()
        .into_iter()
        .map(|r| r.query)
        .collect()
}

fn check_series(candles: &[Candle], count: i64, interval: Interval) {
    assert_eq!(candles.len() as i64, count);
    for (k, c) in candles.iter().enumerate() {
        assert_eq!(*c, candle(k as i64, interval), "candle {k}");
    }
}

// ---------------------------------------------------------------- Binance

/// Binance klines of `symbol`: `startTime`/`endTime` inclusive on open
/// time, `limit` capped at `max_limit` (400 above it), 12-field rows with
/// string prices, `{"code":-1121}` for an unknown symbol.
fn binance_klines(
    symbol: &'static str,
    len: i64,
    interval: Interval,
    max_limit: usize,
) -> impl Fn(&Received) -> Reply + Send + Sync {
    move |request| {
        let q = &request.query;
        if q.get("symbol").map(String::as_str) != Some(symbol) {
            return Reply::json(400, json!({"code":-1121,"msg":"Invalid symbol."}));
        }
        if q["interval"] != interval.as_str() {
            return Reply::json(400, json!({"code":-1120,"msg":"Invalid interval."}));
        }
        let limit: usize = q.get("limit").map(|l| l.parse().unwrap()).unwrap_or(500);
        if limit > max_limit {
            return Reply::json(400, json!({"code":-1130,"msg":"Invalid limit."}));
        }
        let start: i64 = q["startTime"].parse().unwrap();
        let end: i64 = q["endTime"].parse().unwrap();
        let step = interval.millis();
        let rows: Vec<Value> = (0..len)
            .map(|k| candle(k, interval))
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
        Reply::json(200, Value::Array(rows)).header("X-MBX-USED-WEIGHT-1M", "10")
    }
}

async fn binance(market: Market, len: i64) -> (FakeServer, Box<dyn CandleFetcher>) {
    let max_limit = match market {
        Market::Spot => 1000,
        Market::Futures => 1500,
    };
    let server = FakeServer::start(binance_klines("BTCUSDT", len, Interval::M15, max_limit)).await;
    let fetcher = fetcher(Exchange::Binance, market, &server);
    (server, fetcher)
}

fn all_time() -> (i64, i64) {
    (T0, T0 + 100_000 * Interval::M15.millis())
}

#[tokio::test(start_paused = true)]
async fn binance_futures_pages_by_1500_and_spot_by_1000() {
    let (start, end) = all_time();
    let (server, futures) = binance(Market::Futures, 4000).await;
    check_series(
        &futures
            .candles("BTCUSDT", Interval::M15, start, end)
            .await
            .unwrap(),
        4000,
        Interval::M15,
    );
    let requests = queries(&server);
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|q| q["limit"] == "1500"));
    assert_eq!(
        requests[1]["startTime"],
        (T0 + 1500 * Interval::M15.millis()).to_string(),
        "next page starts after the last candle"
    );

    let (server, spot) = binance(Market::Spot, 2500).await;
    check_series(
        &spot
            .candles("BTCUSDT", Interval::M15, start, end)
            .await
            .unwrap(),
        2500,
        Interval::M15,
    );
    assert_eq!(queries(&server).len(), 3);
    assert!(queries(&server).iter().all(|q| q["limit"] == "1000"));
}

#[tokio::test(start_paused = true)]
async fn binance_asks_no_more_candles_than_a_short_range_holds() {
    // USD-M charges klines by `limit`: a poll of the newest candles must
    // ask for them alone (weight 1), not for a page of 1500 (weight 10).
    let (server, futures) = binance(Market::Futures, 4000).await;
    let m15 = Interval::M15.millis();
    let start = T0 + 100 * m15;
    let got = futures
        .candles("BTCUSDT", Interval::M15, start, start + 2 * m15 + 3_000)
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|c| c.t).collect::<Vec<_>>(),
        vec![start, start + m15, start + 2 * m15]
    );
    let requests = queries(&server);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["limit"], "3");
}

#[tokio::test(start_paused = true)]
async fn binance_range_end_is_exclusive() {
    let (_server, fetcher) = binance(Market::Futures, 100).await;
    let m = Interval::M15.millis();
    let candles = fetcher
        .candles("BTCUSDT", Interval::M15, T0 + 10 * m, T0 + 20 * m)
        .await
        .unwrap();
    assert_eq!(candles.first().unwrap().t, T0 + 10 * m);
    assert_eq!(candles.len(), 10);
}

#[tokio::test(start_paused = true)]
async fn binance_429_and_418_wait_for_retry_after() {
    let (start, end) = all_time();
    for status in [429, 418] {
        let (server, fetcher) = binance(Market::Futures, 10).await;
        server.script(
            "/fapi/v1/klines",
            1,
            Reply::status(status).header("Retry-After", "1"),
        );
        let started = Instant::now();
        let candles = fetcher
            .candles("BTCUSDT", Interval::M15, start, end)
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_secs(1),
            "HTTP {status}: Retry-After 1 s honoured, took {elapsed:?}"
        );
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        check_series(&candles, 10, Interval::M15);
        let requests = server.requests();
        assert_eq!(
            requests.len(),
            2,
            "HTTP {status}: one refused, one real page"
        );
        assert!(requests[0].scripted && !requests[1].scripted);
        assert!(
            requests[1].at - requests[0].at >= Duration::from_secs(1),
            "HTTP {status}: no request inside the Retry-After"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn binance_ban_longer_than_we_wait_fails_fast() {
    let (server, fetcher) = binance(Market::Futures, 10).await;
    server.script(
        "/fapi/v1/klines",
        usize::MAX,
        Reply::status(418).header("Retry-After", "7200"),
    );
    let started = Instant::now();
    let (start, end) = all_time();
    let error = fetcher
        .candles("BTCUSDT", Interval::M15, start, end)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            SourceError::Banned {
                wait_secs: 7200,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no waiting: {:?}",
        started.elapsed()
    );
    assert_eq!(server.requests().len(), 1, "a ban is not retried");
}

#[tokio::test(start_paused = true)]
async fn binance_5xx_then_success_malformed_json_and_unknown_symbol() {
    let (server, fetcher) = binance(Market::Futures, 5).await;
    server.script("/fapi/v1/klines", 2, Reply::text(502, "bad gateway"));
    let (start, end) = all_time();
    assert_eq!(
        fetcher
            .candles("BTCUSDT", Interval::M15, start, end)
            .await
            .unwrap()
            .len(),
        5
    );
    assert_eq!(queries(&server).len(), 1);

    let error = fetcher
        .candles("NOPEUSDT", Interval::M15, start, end)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::UnknownSymbol { ref symbol, .. } if symbol == "NOPEUSDT"),
        "{error}"
    );

    let (server, fetcher) = binance(Market::Futures, 5).await;
    server.script(
        "/fapi/v1/klines",
        usize::MAX,
        Reply::text(200, "[[1700006400000,\"1\",\"2\""),
    );
    let error = fetcher
        .candles("BTCUSDT", Interval::M15, start, end)
        .await
        .unwrap_err();
    assert!(matches!(error, SourceError::Malformed { .. }), "{error}");

    let (server, fetcher) = binance(Market::Futures, 5).await;
    server.script(
        "/fapi/v1/klines",
        usize::MAX,
        Reply::json(
            200,
            json!([[
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
            ]]),
        ),
    );
    let error = fetcher
        .candles("BTCUSDT", Interval::M15, start, end)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::Malformed { .. }),
        "a NaN price is refused, not passed on: {error}"
    );
}

#[tokio::test(start_paused = true)]
async fn binance_top_symbols_rank_trading_usdt_perps_by_quote_volume() {
    let tickers = json!([
        {"symbol":"BTCUSDT","quoteVolume":"9000000.5","volume":"1"},
        {"symbol":"ETHUSDT","quoteVolume":"12000000.0","volume":"1"},
        {"symbol":"BTCUSDT_250627","quoteVolume":"99000000.0","volume":"1"},
        {"symbol":"ETHBTC","quoteVolume":"50000000.0","volume":"1"},
        {"symbol":"SOLUSDT","quoteVolume":"100.0","volume":"1"},
        {"symbol":"OLDUSDT","quoteVolume":"99000000.0","volume":"1"}
    ]);
    let info = json!({"symbols": [
        {"symbol":"BTCUSDT","status":"TRADING","quoteAsset":"USDT","contractType":"PERPETUAL"},
        {"symbol":"ETHUSDT","status":"TRADING","quoteAsset":"USDT","contractType":"PERPETUAL"},
        {"symbol":"BTCUSDT_250627","status":"TRADING","quoteAsset":"USDT","contractType":"CURRENT_QUARTER"},
        {"symbol":"ETHBTC","status":"TRADING","quoteAsset":"BTC","contractType":"PERPETUAL"},
        {"symbol":"SOLUSDT","status":"TRADING","quoteAsset":"USDT","contractType":"PERPETUAL"},
        {"symbol":"OLDUSDT","status":"SETTLING","quoteAsset":"USDT","contractType":"PERPETUAL"}
    ]});
    let server = FakeServer::start(move |request| match request.path.as_str() {
        "/fapi/v1/exchangeInfo" => Reply::json(200, info.clone()),
        "/fapi/v1/ticker/24hr" => Reply::json(200, tickers.clone()),
        _ => Reply::status(404),
    })
    .await;
    let fetcher = fetcher(Exchange::Binance, Market::Futures, &server);
    assert_eq!(
        fetcher.top_symbols(2).await.unwrap(),
        vec!["ETHUSDT", "BTCUSDT"]
    );
}

// ------------------------------------------------------------------- MEXC

/// MEXC spot klines: `60m` for one hour, `limit` above 500 refused,
/// `endTime` exclusive, 8-field rows.
fn mexc_spot_klines(len: i64) -> impl Fn(&Received) -> Reply + Send + Sync {
    move |request| {
        let q = &request.query;
        if q["symbol"] != "BTCUSDT" {
            return Reply::json(400, json!({"code":-1121,"msg":"Invalid symbol."}));
        }
        if q["interval"] != "60m" {
            return Reply::json(400, json!({"code":-1120,"msg":"Invalid interval."}));
        }
        let limit: usize = q["limit"].parse().unwrap();
        if limit > 500 {
            return Reply::json(400, json!({"code":-1130,"msg":"limit too large"}));
        }
        let (start, end): (i64, i64) = (
            q["startTime"].parse().unwrap(),
            q["endTime"].parse().unwrap(),
        );
        let h = Interval::H1.millis();
        let rows: Vec<Value> = (0..len)
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
        Reply::json(200, Value::Array(rows))
    }
}

#[tokio::test(start_paused = true)]
async fn mexc_spot_asks_for_60m_in_pages_of_500() {
    let server = FakeServer::start(mexc_spot_klines(1200)).await;
    let fetcher = fetcher(Exchange::Mexc, Market::Spot, &server);
    let end = T0 + 5000 * Interval::H1.millis();
    check_series(
        &fetcher
            .candles("BTCUSDT", Interval::H1, T0, end)
            .await
            .unwrap(),
        1200,
        Interval::H1,
    );
    let requests = queries(&server);
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
fn mexc_contract(len: i64) -> impl Fn(&Received) -> Reply + Send + Sync {
    move |request| {
        let q = &request.query;
        let p = request.path.as_str();
        if p == "/api/v1/contract/detail" {
            return Reply::json(
                200,
                json!({"success":true,"code":0,"data":[
                {"symbol":"BTC_USDT","contractSize":CONTRACT_SIZE},{"symbol":"ETH_USDT","contractSize":0.01}]}),
            );
        }
        if p == "/api/v1/contract/ticker" {
            return Reply::json(
                200,
                json!({"success":true,"code":0,"data":[
                {"symbol":"BTC_USDT","amount24":5.0e9,"volume24":1},{"symbol":"ETH_USDT","amount24":"7.5e9","volume24":1},
                {"symbol":"BTC_USD","amount24":9.9e9,"volume24":1}]}),
            );
        }
        if !p.ends_with("/BTC_USDT") {
            return Reply::json(
                200,
                json!({"success":false,"code":1001,"message":"contract not exist"}),
            );
        }
        assert_eq!(q["interval"], "Min15");
        let (start, end): (i64, i64) = (q["start"].parse().unwrap(), q["end"].parse().unwrap());
        let bars: Vec<Candle> = (0..len)
            .map(|k| candle(k, Interval::M15))
            .filter(|c| c.t / 1000 >= start && c.t / 1000 <= end)
            .take(2000)
            .collect();
        let col = |f: fn(&Candle) -> Value| Value::Array(bars.iter().map(f).collect());
        Reply::json(
            200,
            json!({"success":true,"code":0,"data":{
            "time": col(|c| json!(c.t / 1000)), "open": col(|c| json!(c.o)), "close": col(|c| json!(c.c)),
            "high": col(|c| json!(c.h)), "low": col(|c| json!(c.l)), "vol": col(|c| json!(c.v / CONTRACT_SIZE)),
            "amount": col(|_| json!(1.0)), "realOpen": col(|c| json!(c.o))}}),
        )
    }
}

const CONTRACT_SIZE: f64 = 0.0001;

#[tokio::test(start_paused = true)]
async fn mexc_futures_reads_parallel_arrays_in_seconds_and_scales_volume() {
    let server = FakeServer::start(mexc_contract(4500)).await;
    // Code 510 ("too frequent") arrives with HTTP 200 and must still be retried.
    server.script(
        "/api/v1/contract/kline/",
        1,
        Reply::json(
            200,
            json!({"success":false,"code":510,"message":"Requests are too frequent"}),
        ),
    );
    let fetcher = fetcher(Exchange::Mexc, Market::Futures, &server);
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
    let requests = server.requests();
    assert!(requests[1].scripted, "the first kline request got code 510");
    assert!(
        requests[2].at > requests[1].at,
        "after code 510 the host waits before the retry"
    );
    let detail_calls = queries(&server).iter().filter(|q| q.is_empty()).count();
    assert_eq!(detail_calls, 1, "contract details are fetched once");
    let spans: Vec<i64> = queries(&server)
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

#[tokio::test(start_paused = true)]
async fn mexc_futures_error_envelope_on_200_is_an_error() {
    let server = FakeServer::start(|request| match request.path.as_str() {
        "/api/v1/contract/detail" => Reply::json(
            200,
            json!({"success":false,"code":600,"message":"param error"}),
        ),
        _ => Reply::status(404),
    })
    .await;
    let fetcher = fetcher(Exchange::Mexc, Market::Futures, &server);
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
fn hyperliquid_info(len: i64) -> impl Fn(&Received) -> Reply + Send + Sync {
    move |request| {
        if request.method != "POST" || request.path != "/info" {
            return Reply::status(404);
        }
        let body: Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(_) => return Reply::text(422, "Failed to deserialize the JSON body"),
        };
        let universe = json!([{"name":"BTC","szDecimals":5,"maxLeverage":40},{"name":"ETH","szDecimals":4,"maxLeverage":25},
            {"name":"OLD","szDecimals":1,"maxLeverage":3,"onlyIsolated":true,"isDelisted":true}]);
        let response = match body["type"].as_str().unwrap_or_default() {
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
                let rows: Vec<Value> = (0..len)
                    .map(|k| candle(k, Interval::M15))
                    .filter(|c| c.t >= start && c.t <= end)
                    .take(5000)
                    .map(|c| json!({"t":c.t,"T":c.t + Interval::M15.millis() - 1,"s":"BTC","i":"15m",
                        "o":c.o.to_string(),"c":c.c.to_string(),"h":c.h.to_string(),"l":c.l.to_string(),"v":c.v.to_string(),"n":7}))
                    .collect();
                Value::Array(rows)
            }
            _ => return Reply::text(400, "unknown request type"),
        };
        Reply::json(200, response)
    }
}

/// The `type` (and `startTime` of a snapshot) of each answered request.
fn info_requests(server: &FakeServer) -> Vec<(String, Option<i64>)> {
    server
        .protocol_requests()
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["type"].as_str().unwrap_or_default().to_string(),
                body["req"]["startTime"].as_i64(),
            )
        })
        .collect()
}

async fn hyperliquid(len: i64) -> (FakeServer, Box<dyn CandleFetcher>) {
    let server = FakeServer::start(hyperliquid_info(len)).await;
    let fetcher = fetcher(Exchange::Hyperliquid, Market::Futures, &server);
    (server, fetcher)
}

#[tokio::test(start_paused = true)]
async fn hyperliquid_pages_by_moving_start_time_over_string_prices() {
    let (server, fetcher) = hyperliquid(7000).await;
    let end = T0 + 20_000 * Interval::M15.millis();
    check_series(
        &fetcher
            .candles("BTC", Interval::M15, T0, end)
            .await
            .unwrap(),
        7000,
        Interval::M15,
    );
    let snapshots: Vec<_> = info_requests(&server)
        .into_iter()
        .filter(|(kind, _)| kind == "candleSnapshot")
        .collect();
    assert_eq!(snapshots.len(), 2, "5000 + 2000");
    assert_eq!(snapshots[1].1, Some(T0 + 5000 * Interval::M15.millis()));
}

#[tokio::test(start_paused = true)]
async fn hyperliquid_unknown_coin_is_refused_before_any_candle_request() {
    let (server, fetcher) = hyperliquid(10).await;
    let error = fetcher
        .candles("NOPE", Interval::M15, T0, T0 + 1_000_000)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::UnknownSymbol { .. }),
        "{error}"
    );
    assert!(info_requests(&server)
        .iter()
        .all(|(kind, _)| kind == "meta"));
}

#[tokio::test(start_paused = true)]
async fn hyperliquid_429_without_retry_after_backs_off_and_top_skips_delisted() {
    let (server, fetcher) = hyperliquid(10).await;
    server.script("/info", 2, Reply::status(429));
    assert_eq!(
        fetcher.top_symbols(5).await.unwrap(),
        vec!["ETH", "BTC"],
        "OLD is delisted"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    // The host's refusal backoff (the governor's, for every caller): the
    // first wait is 0.25..0.5 s, the second 0.5..1 s (half of each is jitter).
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(250));
    assert!(requests[2].at - requests[1].at >= Duration::from_millis(500));

    let (server, fetcher) = hyperliquid(10).await;
    server.script("/info", usize::MAX, Reply::text(200, "{\"universe\":"));
    assert!(matches!(
        fetcher.top_symbols(5).await.unwrap_err(),
        SourceError::Malformed { .. }
    ));
}
