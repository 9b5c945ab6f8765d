//! CoinGecko market metadata against a local fake of `/coins/markets`:
//! curated ids, the by-symbol fallback, the key header, 429 handling and the
//! disk cache.

#![cfg(feature = "ssr")]

use quantpro::core::external::{ExternalData, ExternalDataMap};
use quantpro::model::{Exchange, MarketMetadata};
use quantpro::sources::http::RetryPolicy;
use quantpro::sources::keys::Secret;
use quantpro::sources::market::{attach_market, MarketClient, MarketConfig};
use quantpro::sources::SourceError;
use serde_json::json;
use std::time::{Duration, Instant};
use wiremock::matchers::{header, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(server: &MockServer, dir: &std::path::Path) -> MarketConfig {
    let mut config = MarketConfig::new(Some(Secret::new("cg-demo")), dir);
    config.base_url = server.uri();
    config.pages = 1;
    config.retry = RetryPolicy {
        max_tries: 3,
        backoff_base: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(5),
    };
    config
}

async fn mount_markets(server: &MockServer) {
    // Page 1 by market cap: a fake "BTC" bigger than bitcoin (curated ids must
    // win), two FOO coins (the bigger wins), and no ethereum.
    let page = json!([
        {"id":"fake-btc","symbol":"btc","name":"Fake","market_cap":5.0e12,"total_volume":1.0},
        {"id":"bitcoin","symbol":"btc","name":"Bitcoin","market_cap":1.262e12,"total_volume":3.125e10,"current_price":64050.1},
        {"id":"small-foo","symbol":"foo","market_cap":1.0e6,"total_volume":null},
        {"id":"big-foo","symbol":"foo","market_cap":9.0e6,"total_volume":2.0e5},
        {"id":"pepe","symbol":"pepe","market_cap":4.0e9,"total_volume":6.0e8}
    ]);
    Mock::given(path("/coins/markets"))
        .and(query_param("page", "1"))
        .and(query_param("vs_currency", "usd"))
        .and(header("x-cg-demo-api-key", "cg-demo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .mount(server)
        .await;
    Mock::given(path("/coins/markets"))
        .and(query_param("ids", "ethereum"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id":"ethereum","symbol":"eth","market_cap":3.9e11,"total_volume":1.5e10}])))
        .mount(server)
        .await;
}

fn bases(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn curated_ids_and_symbol_fallback_then_a_cache_hit() {
    let server = MockServer::start().await;
    mount_markets(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let client = MarketClient::new(config(&server, dir.path())).unwrap();
    let meta = client
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
    assert_eq!(server.received_requests().await.unwrap().len(), 2);

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

    let again = MarketClient::new(config(&server, dir.path())).unwrap();
    assert_eq!(
        again.metadata_for(&bases(&["BTC", "ETH"])).await.unwrap()["ETH"].mcap,
        Some(3.9e11)
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "cache hit: zero requests"
    );
    assert_eq!(again.stats().cached, 2);
}

#[tokio::test]
async fn a_429_is_waited_out_when_short_and_refused_when_long() {
    let server = MockServer::start().await;
    Mock::given(path("/coins/markets"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1").set_body_json(
            json!({"status":{"error_code":429,"error_message":"You've exceeded the Rate Limit."}})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_markets(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let client = MarketClient::new(config(&server, dir.path())).unwrap();
    let started = Instant::now();
    assert!(client
        .metadata_for(&bases(&["BTC"]))
        .await
        .unwrap()
        .contains_key("BTC"));
    assert!(started.elapsed() >= Duration::from_secs(1));

    let server = MockServer::start().await;
    Mock::given(path("/coins/markets"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "119"))
        .mount(&server)
        .await;
    let client = MarketClient::new(config(&server, tempfile::tempdir().unwrap().path())).unwrap();
    let error = client.metadata_for(&bases(&["BTC"])).await.unwrap_err();
    assert!(
        matches!(error, SourceError::RateLimited { wait_secs: 119, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn malformed_json_and_5xx_exhaustion_are_errors() {
    let server = MockServer::start().await;
    Mock::given(path("/coins/markets"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[{\"id\":"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let error = MarketClient::new(config(&server, dir.path()))
        .unwrap()
        .metadata_for(&bases(&["BTC"]))
        .await
        .unwrap_err();
    assert!(matches!(error, SourceError::Malformed { .. }), "{error}");

    let server = MockServer::start().await;
    Mock::given(path("/coins/markets"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let error = MarketClient::new(config(&server, dir.path()))
        .unwrap()
        .metadata_for(&bases(&["BTC"]))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SourceError::Exhausted { tries: 3, .. }),
        "{error}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}
