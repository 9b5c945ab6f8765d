//! The REST side of the fake exchange (`tests/common/fake_exchange`) speaks
//! the documented protocols (EXTERNAL_APIS.md §2-§4), so any client, such as
//! the live loop's backfill, can be tested against it: the real candles in the
//! documented shapes, page limits, weights and their headers, 429 and 418 with
//! `Retry-After`, delistings and gaps. On virtual time.

#![cfg(feature = "ssr")]

mod common;

use common::fake_exchange::{contract_size, Budgets, FakeConfig, FakeExchange, Iv, Venue};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const M15: i64 = 900_000;

async fn get(url: String) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = reqwest::get(&url).await.expect("the fake answers");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_string())
}

fn num(v: &Value) -> f64 {
    v.as_str().expect("a decimal string").parse().unwrap()
}

#[tokio::test(start_paused = true)]
async fn binance_klines_are_the_real_candles_in_twelve_field_rows() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let now = fake.now_ms();
    let base = fake.rest_url(Venue::BinanceSpot);
    let truth = fake
        .market()
        .series(Venue::BinanceSpot, "BTCUSDT", Iv::M15)
        .unwrap();
    let url = format!(
        "{base}/api/v3/klines?symbol=BTCUSDT&interval=15m&startTime={}&endTime={}&limit=1000",
        now - 10 * M15,
        now - 1
    );
    let (status, headers, body) = get(url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, "x-mbx-used-weight-1m").as_deref(),
        Some("2")
    );
    let rows = body.as_array().unwrap();
    assert_eq!(rows.len(), 10);
    for row in rows {
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), 12);
        let t = row[0].as_i64().unwrap();
        let bar = truth.iter().find(|b| b.t == t).unwrap();
        assert_eq!(
            [
                num(&row[1]),
                num(&row[2]),
                num(&row[3]),
                num(&row[4]),
                num(&row[5])
            ],
            [bar.o, bar.h, bar.l, bar.c, bar.v]
        );
        assert_eq!(row[6].as_i64().unwrap(), t + M15 - 1);
        assert!(row[8].is_u64(), "trade count is an integer");
    }
    // Without times: the newest 500, ending with the forming candle.
    fake.sleep_until_market(now + M15 / 3).await;
    let (_, headers, body) = get(format!("{base}/api/v3/klines?symbol=BTCUSDT&interval=15m")).await;
    // Five minutes later: a new weight window.
    assert_eq!(
        header(&headers, "x-mbx-used-weight-1m").as_deref(),
        Some("2")
    );
    let rows = body.as_array().unwrap();
    assert_eq!(rows.len(), 500);
    let last = rows.last().unwrap().as_array().unwrap();
    assert_eq!(last[0].as_i64().unwrap(), now);
    let forming = truth.iter().find(|b| b.t == now).unwrap();
    assert!(
        num(&last[5]) < forming.v,
        "the forming candle has part of its volume"
    );
    // Errors.
    for (query, code) in [
        ("symbol=NOPEUSDT&interval=15m", -1121),
        ("symbol=BTCUSDT&interval=7m", -1120),
        ("symbol=BTCUSDT&interval=15m&limit=1001", -1130),
    ] {
        let (status, _, body) = get(format!("{base}/api/v3/klines?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], json!(code), "{query}");
    }
    // Futures: pages up to 1500, weight by page size.
    let futures = fake.rest_url(Venue::BinanceFutures);
    let (status, headers, body) = get(format!(
        "{futures}/fapi/v1/klines?symbol=ETHUSDT&interval=1h&limit=1500"
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    // The newest 1500 hours, or every hour the replayed history has so far.
    let hours = fake
        .market()
        .series(Venue::BinanceFutures, "ETHUSDT", Iv::H1)
        .unwrap()
        .iter()
        .filter(|b| b.t <= now)
        .count();
    assert!(hours > 1000, "a page above the spot limit: {hours} hours");
    assert_eq!(body.as_array().unwrap().len(), hours.min(1500));
    assert_eq!(
        header(&headers, "x-mbx-used-weight-1m").as_deref(),
        Some("10")
    );
    assert_eq!(fake.log().rest(Venue::BinanceSpot).len(), 5);
}

#[tokio::test(start_paused = true)]
async fn binance_429s_carry_retry_after_and_calls_during_it_earn_a_418_ban() {
    let config = FakeConfig {
        budgets: Budgets {
            binance_spot: 10,
            ..Budgets::default()
        },
        ..FakeConfig::default()
    };
    let fake = FakeExchange::start(config).await;
    let url = format!(
        "{}/api/v3/klines?symbol=BTCUSDT&interval=4h&limit=5",
        fake.rest_url(Venue::BinanceSpot)
    );
    for _ in 0..5 {
        assert_eq!(get(url.clone()).await.0, StatusCode::OK);
    }
    let (status, headers, body) = get(url.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], json!(-1003));
    assert_eq!(header(&headers, "retry-after").as_deref(), Some("60"));
    assert_eq!(
        header(&headers, "x-mbx-used-weight-1m").as_deref(),
        Some("10")
    );
    // Ignoring Retry-After: two more 429s, then the ban.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(get(url.clone()).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(get(url.clone()).await.0, StatusCode::TOO_MANY_REQUESTS);
    let now = fake.now_ms();
    let (status, headers, body) = get(url.clone()).await;
    assert_eq!(status, StatusCode::IM_A_TEAPOT);
    assert_eq!(header(&headers, "retry-after").as_deref(), Some("120"));
    let msg = body["msg"].as_str().unwrap();
    assert!(
        msg.contains(&format!("banned until {}", now + 120_000)),
        "{msg}"
    );
    assert_eq!(fake.log().requests_during_ban(Venue::BinanceSpot).len(), 1);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(get(url.clone()).await.0, StatusCode::IM_A_TEAPOT);
    assert_eq!(fake.log().requests_during_ban(Venue::BinanceSpot).len(), 2);
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(get(url.clone()).await.0, StatusCode::OK);

    // Injected: a storm, then a ban, on futures.
    let futures = format!(
        "{}/fapi/v1/exchangeInfo",
        fake.rest_url(Venue::BinanceFutures)
    );
    fake.rate_limit_storm(Venue::BinanceFutures, Duration::from_secs(30), 7);
    let (status, headers, _) = get(futures.clone()).await;
    assert_eq!(
        (status, header(&headers, "retry-after").as_deref()),
        (StatusCode::TOO_MANY_REQUESTS, Some("7"))
    );
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert_eq!(get(futures.clone()).await.0, StatusCode::OK);
    fake.ban(Venue::BinanceFutures, Duration::from_secs(300));
    assert_eq!(get(futures.clone()).await.0, StatusCode::IM_A_TEAPOT);
    assert_eq!(
        fake.log().requests_during_ban(Venue::BinanceFutures).len(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn market_lists_follow_delistings_and_rest_gaps_leave_holes() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let spot = fake.rest_url(Venue::BinanceSpot);
    let symbols = |body: &Value| -> Vec<String> {
        body["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["symbol"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, headers, info) = get(format!("{spot}/api/v3/exchangeInfo")).await;
    assert!(symbols(&info).contains(&"WIFUSDT".to_string()));
    assert_eq!(
        header(&headers, "x-mbx-used-weight-1m").as_deref(),
        Some("20")
    );
    assert_eq!(info["rateLimits"][0]["limit"], json!(6000));
    let (_, _, tickers) = get(format!("{spot}/api/v3/ticker/24hr")).await;
    let btc = tickers
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["symbol"] == "BTCUSDT")
        .unwrap();
    assert!(num(&btc["quoteVolume"]) > 0.0);
    fake.delist(Venue::BinanceSpot, "WIFUSDT");
    let (_, _, info) = get(format!("{spot}/api/v3/exchangeInfo")).await;
    assert!(!symbols(&info).contains(&"WIFUSDT".to_string()));
    let (_, _, tickers) = get(format!("{spot}/api/v3/ticker/24hr")).await;
    assert!(tickers
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["symbol"] != "WIFUSDT"));
    let (status, _, _) = get(format!("{spot}/api/v3/klines?symbol=WIFUSDT&interval=15m")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let now = fake.now_ms();
    fake.gap(
        Venue::BinanceSpot,
        "BTCUSDT",
        Iv::M15,
        now - 5 * M15,
        now - 3 * M15,
    );
    let url = format!(
        "{spot}/api/v3/klines?symbol=BTCUSDT&interval=15m&startTime={}&endTime={}",
        now - 10 * M15,
        now - 1
    );
    let (_, _, rows) = get(url).await;
    let times: Vec<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .collect();
    assert_eq!(times.len(), 8);
    assert!(!times.contains(&(now - 5 * M15)) && !times.contains(&(now - 4 * M15)));
}

#[tokio::test(start_paused = true)]
async fn hyperliquid_info_serves_strings_the_universe_and_its_contexts() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let url = format!("{}/info", fake.rest_url(Venue::Hyperliquid));
    let client = reqwest::Client::new();
    let post = |body: Value| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client.post(&url).json(&body).send().await.unwrap();
            let status = response.status();
            (status, response.text().await.unwrap())
        }
    };
    let now = fake.now_ms();
    let (status, text) = post(json!({"type": "candleSnapshot", "req": {"coin": "kPEPE", "interval": "15m", "startTime": now - 4 * M15, "endTime": now - 1}})).await;
    assert_eq!(status, StatusCode::OK);
    let rows: Value = serde_json::from_str(&text).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let truth = fake
        .market()
        .series(Venue::Hyperliquid, "kPEPE", Iv::M15)
        .unwrap();
    for row in rows {
        let t = row["t"].as_i64().unwrap();
        let bar = truth.iter().find(|b| b.t == t).unwrap();
        assert_eq!(num(&row["c"]), bar.c);
        assert_eq!(row["T"].as_i64().unwrap(), t + M15 - 1);
        assert_eq!(row["s"], "kPEPE");
        assert!(row["n"].is_u64());
    }
    // The shifted Hyperliquid timeline lines up with the market clock.
    assert!(truth.iter().any(|b| b.t == now));
    // Without an end: up to the forming candle, never more than 5000.
    let (_, text) = post(json!({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "15m", "startTime": 0}})).await;
    let all: Value = serde_json::from_str(&text).unwrap();
    let all = all.as_array().unwrap();
    assert!(all.len() <= 5000 && all.len() > 2000);
    assert_eq!(all.last().unwrap()["t"].as_i64().unwrap(), now);

    fake.delist(Venue::Hyperliquid, "TAO");
    let (_, text) = post(json!({"type": "metaAndAssetCtxs"})).await;
    let pair: Value = serde_json::from_str(&text).unwrap();
    let universe = pair[0]["universe"].as_array().unwrap();
    let ctxs = pair[1].as_array().unwrap();
    assert_eq!(universe.len(), ctxs.len(), "ctxs[i] belongs to universe[i]");
    let tao = universe.iter().position(|a| a["name"] == "TAO").unwrap();
    assert_eq!(universe[tao]["isDelisted"], json!(true));
    let btc = universe.iter().position(|a| a["name"] == "BTC").unwrap();
    assert!(num(&ctxs[btc]["dayNtlVlm"]) > 0.0);
    let (status, text) = post(json!({"type": "nonsense"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.starts_with("Failed to deserialize"));
    let logged = fake.log().rest(Venue::Hyperliquid);
    assert_eq!(logged.len(), 4);
    assert_eq!(logged[0].body.as_ref().unwrap()["type"], "candleSnapshot");
    // A part of 60 candles counts as 60 (EXTERNAL_APIS.md: 20 + 84 for 5000).
    assert_eq!(logged[1].weight, 20 + all.len().div_ceil(60) as u32);
}

#[tokio::test(start_paused = true)]
async fn mexc_contract_klines_come_in_seconds_and_contracts_inside_envelopes() {
    let fake = FakeExchange::start(FakeConfig::default()).await;
    let base = fake.rest_url(Venue::MexcFutures);
    let now = fake.now_ms();
    let url = format!(
        "{base}/api/v1/contract/kline/BTC_USDT?interval=Min15&start={}&end={}",
        (now - 3 * M15) / 1000,
        (now - 1) / 1000
    );
    let (_, _, body) = get(url).await;
    assert_eq!(
        (body["success"].clone(), body["code"].clone()),
        (json!(true), json!(0))
    );
    let data = &body["data"];
    let times: Vec<i64> = data["time"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap())
        .collect();
    assert_eq!(
        times,
        vec![
            (now - 3 * M15) / 1000,
            (now - 2 * M15) / 1000,
            (now - M15) / 1000
        ]
    );
    let truth = fake
        .market()
        .series(Venue::MexcFutures, "BTC_USDT", Iv::M15)
        .unwrap();
    let bar = truth.iter().find(|b| b.t == now - M15).unwrap();
    assert_eq!(data["close"][2].as_f64().unwrap(), bar.c);
    assert_eq!(
        data["vol"][2].as_f64().unwrap(),
        bar.v / contract_size("BTC_USDT")
    );
    let (_, _, detail) = get(format!("{base}/api/v1/contract/detail")).await;
    let btc = detail["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["symbol"] == "BTC_USDT")
        .unwrap();
    assert_eq!(btc["contractSize"].as_f64().unwrap(), 0.0001);
    let (_, _, one) = get(format!("{base}/api/v1/contract/ticker?symbol=ETH_USDT")).await;
    assert_eq!(one["data"]["symbol"], "ETH_USDT");
    let (status, _, unknown) = get(format!(
        "{base}/api/v1/contract/kline/NOPE_USDT?interval=Min15"
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (unknown["success"].clone(), unknown["code"].clone()),
        (json!(false), json!(1001))
    );
    // 20 calls per 2 s: the 17 more below exceed it (code 510 on HTTP 200).
    let mut codes = Vec::new();
    for _ in 0..17 {
        let (status, _, body) = get(format!("{base}/api/v1/contract/ticker")).await;
        assert_eq!(status, StatusCode::OK);
        codes.push(body["code"].as_i64().unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 16);
    assert_eq!(*codes.last().unwrap(), 510);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, _, body) = get(format!("{base}/api/v1/contract/ticker")).await;
    assert_eq!(body["code"], json!(0));
}
