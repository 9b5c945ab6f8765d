//! CoinGecko market metadata against a local fake of `/coins/markets`:
//! curated ids, the by-symbol fallback, the key header, 429 handling and the
//! disk cache. The fake runs in the test's runtime on a paused clock.

#![cfg(feature = "ssr")]

#[path = "common/http_fake.rs"]
mod http_fake;

use http_fake::{FakeServer, Received, Reply};
use quantpro_model::external::{ExternalData, ExternalDataMap};
use quantpro_model::{Exchange, MarketMetadata};
use quantpro_sources::coingecko::{attach_market, MarketClient, MarketConfig};
use quantpro_sources::governor::Governor;
use quantpro_sources::http::RetryPolicy;
use quantpro_sources::keys::Secret;
use quantpro_sources::SourceError;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

fn config(server: &FakeServer, dir: &std::path::Path) -> MarketConfig {
    let mut config = MarketConfig::new(Some(Secret::new("cg-demo")), dir);
    config.base_url = server.uri.clone();
    config.pages = 1;
    config.retry = RetryPolicy {
        max_tries: 3,
        backoff_base: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(5),
    };
    config
}

/// `/coins/markets` in USD: page 1 by market cap (with the Demo key) holds a
/// fake "BTC" bigger than bitcoin (curated ids must win), two FOO coins (the
/// bigger wins) and no ethereum, which `ids=ethereum` returns.
fn markets(request: &Received) -> Reply {
    let q = &request.query;
    if request.path != "/coins/markets" || q.get("vs_currency").map(String::as_str) != Some("usd") {
        return Reply::json(404, json!({"error":"not found"}));
    }
    if q.get("ids").map(String::as_str) == Some("ethereum") {
        return Reply::json(
            200,
            json!([
            {"id":"ethereum","symbol":"eth","market_cap":3.9e11,"total_volume":1.5e10}]),
        );
    }
    if q.get("page").map(String::as_str) == Some("1")
        && request.header("x-cg-demo-api-key") == Some("cg-demo")
    {
        return Reply::json(
            200,
            json!([
                {"id":"fake-btc","symbol":"btc","name":"Fake","market_cap":5.0e12,"total_volume":1.0},
                {"id":"bitcoin","symbol":"btc","name":"Bitcoin","market_cap":1.262e12,"total_volume":3.125e10,"current_price":64050.1},
                {"id":"small-foo","symbol":"foo","market_cap":1.0e6,"total_volume":null},
                {"id":"big-foo","symbol":"foo","market_cap":9.0e6,"total_volume":2.0e5},
                {"id":"pepe","symbol":"pepe","market_cap":4.0e9,"total_volume":6.0e8}
            ]),
        );
    }
    Reply::json(404, json!({"error":"not found"}))
}

fn client(server: &FakeServer, dir: &std::path::Path) -> MarketClient {
    MarketClient::new(config(server, dir), &Governor::documented()).unwrap()
}

fn bases(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(start_paused = true)]
async fn curated_ids_and_symbol_fallback_then_a_cache_hit() {
    let server = FakeServer::start(markets).await;
    let dir = tempfile::tempdir().unwrap();
    let first = client(&server, dir.path());
    let meta = first
        .metadata_for(&bases(&["BTC", "ETH", "FOO", "PEPE", "NOPE"]))
        .await
        .unwrap();
    assert_eq!(
        meta["BTC"],
        MarketMetadata {
            mcap: Some(1.262e12),
            vol_24h: Some(3.125e10)
        }
    );
    assert_eq!(
        meta["ETH"].mcap,
        Some(3.9e11),
        "a curated coin beyond page 1 is fetched by id"
    );
    assert_eq!(
        meta["FOO"],
        MarketMetadata {
            mcap: Some(9.0e6),
            vol_24h: Some(2.0e5)
        }
    );
    assert!(!meta.contains_key("NOPE"));
    assert_eq!(server.requests().len(), 2);

    let mut map = ExternalDataMap::new();
    for (exchange, symbol) in [
        (Exchange::Binance, "BTCUSDT"),
        (Exchange::Hyperliquid, "kPEPE"),
        (Exchange::Mexc, "NOPE_USDT"),
    ] {
        map.insert((exchange, symbol.to_string()), ExternalData::default());
    }
    attach_market(&mut map, &meta);
    assert_eq!(
        map[&(Exchange::Binance, "BTCUSDT".to_string())]
            .market
            .as_ref()
            .unwrap()
            .mcap,
        Some(1.262e12)
    );
    assert_eq!(
        map[&(Exchange::Hyperliquid, "kPEPE".to_string())]
            .market
            .as_ref()
            .unwrap()
            .mcap,
        Some(4.0e9)
    );
    assert!(map[&(Exchange::Mexc, "NOPE_USDT".to_string())]
        .market
        .is_none());

    let again = client(&server, dir.path());
    assert_eq!(
        again.metadata_for(&bases(&["BTC", "ETH"])).await.unwrap()["ETH"].mcap,
        Some(3.9e11)
    );
    assert_eq!(server.requests().len(), 2, "cache hit: zero requests");
    assert_eq!(again.stats().cached, 2);
}

#[tokio::test(start_paused = true)]
async fn a_429_is_waited_out_when_short_and_refused_when_long() {
    let server = FakeServer::start(markets).await;
    server.script(
        "/coins/markets",
        1,
        Reply::json(
            429,
            json!({"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit."}}),
        )
        .header("retry-after", "1"),
    );
    let dir = tempfile::tempdir().unwrap();
    let first = client(&server, dir.path());
    let started = Instant::now();
    assert!(first
        .metadata_for(&bases(&["BTC"]))
        .await
        .unwrap()
        .contains_key("BTC"));
    assert!(started.elapsed() >= Duration::from_secs(1));
    let requests = server.requests();
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(1));

    let server = FakeServer::start(|_| Reply::status(429).header("retry-after", "119")).await;
    let client = client(&server, tempfile::tempdir().unwrap().path());
    let error = client.metadata_for(&bases(&["BTC"])).await.unwrap_err();
    assert!(
        matches!(error, SourceError::RateLimited { wait_secs: 119, .. }),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn malformed_json_and_5xx_exhaustion_are_errors() {
    let server = FakeServer::start(|_| Reply::text(200, "[{\"id\":")).await;
    let dir = tempfile::tempdir().unwrap();
    let error = client(&server, dir.path())
        .metadata_for(&bases(&["BTC"]))
        .await
        .unwrap_err();
    assert!(matches!(error, SourceError::Malformed { .. }), "{error}");

    let server = FakeServer::start(|_| Reply::status(500)).await;
    let error = client(&server, dir.path())
        .metadata_for(&bases(&["BTC"]))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::Exhausted { tries: 3, .. }),
        "{error}"
    );
    assert_eq!(server.requests().len(), 3);
}
