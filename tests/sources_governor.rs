//! The rate-limit governor seen from the fetchers that share it, against
//! in-runtime fakes on a paused clock: a 429 pauses every caller of the host
//! (and only that host), no request reaches a host during a 418 ban and an
//! impatient caller fails at once, Binance's used-weight header corrects the
//! budget, and two fetchers of one host share one budget.

#![cfg(feature = "ssr")]

#[path = "common/http_fake.rs"]
mod http_fake;

use http_fake::{FakeServer, Received, Reply};
use quantpro_model::now_ms as unix_now_ms;
use quantpro_model::Market;
use quantpro_model::{Exchange, Interval};
use quantpro_sources::governor::{
    Budget, Governor, GovernorLimits, Host, HostLimits, HostPhase, BINANCE_USED_WEIGHT,
};
use quantpro_sources::http::RetryPolicy;
use quantpro_sources::venues::{fetcher_for, CandleFetcher, FetcherConfig};
use quantpro_sources::SourceError;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const T0: i64 = 1_700_006_400_000;
const SECOND: Duration = Duration::from_secs(1);

fn fetcher(
    market: Market,
    server: &FakeServer,
    governor: &Arc<Governor>,
    patience: Duration,
) -> Box<dyn CandleFetcher> {
    let config = FetcherConfig {
        base_url: Some(server.uri.clone()),
        retry: RetryPolicy {
            max_tries: 3,
            backoff_base: Duration::from_millis(20),
            max_retry_after: patience,
        },
        timeout: Duration::from_secs(5),
    };
    fetcher_for(Exchange::Binance, market, &config, governor).unwrap()
}

/// Binance klines with nothing in range: a valid, empty page.
fn empty_klines(_: &Received) -> Reply {
    Reply::json(200, json!([]))
}

/// One page request (the fake decides its answer).
async fn page(fetcher: &dyn CandleFetcher) -> Result<usize, SourceError> {
    let end = T0 + 1500 * Interval::M15.millis();
    fetcher
        .candle_page("BTCUSDT", Interval::M15, T0, end)
        .await
        .map(|candles| candles.len())
}

/// The most requests that arrived within any `window`.
fn busiest(requests: &[Received], window: Duration) -> u32 {
    let arrivals: Vec<_> = requests.iter().map(|r| (r.at, 1)).collect();
    http_fake::busiest_window(&arrivals, window)
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_every_caller_of_the_host_and_only_that_host() {
    let governor = Governor::documented();
    let futures = FakeServer::start(empty_klines).await;
    let spot = FakeServer::start(empty_klines).await;
    futures.script(
        "/fapi/v1/klines",
        1,
        Reply::status(429).header("Retry-After", "10"),
    );
    let patience = Duration::from_secs(60);
    let started = Instant::now();

    let first = fetcher(Market::Futures, &futures, &governor, patience);
    let first = tokio::spawn(async move { page(first.as_ref()).await });
    tokio::time::sleep(SECOND).await;
    let status = governor.status();
    let line = &status.get(Host::BinanceFutures).line;
    assert_eq!(
        status.get(Host::BinanceFutures).phase,
        HostPhase::RateLimited
    );
    assert_eq!(line, "BINANCE futures rate-limited, resuming in 10 s");

    // Two more callers of the host arrive during the pause; a spot caller too.
    let others: Vec<_> = (0..2)
        .map(|_| {
            let other = fetcher(Market::Futures, &futures, &governor, patience);
            tokio::spawn(async move { page(other.as_ref()).await })
        })
        .collect();
    let spot_fetcher = fetcher(Market::Spot, &spot, &governor, patience);
    assert_eq!(page(spot_fetcher.as_ref()).await.unwrap(), 0);
    assert!(
        spot.requests()[0].at - started < 2 * SECOND,
        "Binance spot is another host: not paused"
    );

    assert_eq!(first.await.unwrap().unwrap(), 0);
    for other in others {
        assert_eq!(other.await.unwrap().unwrap(), 0);
    }
    let requests = futures.requests();
    assert_eq!(requests.len(), 4, "one 429, then one page per caller");
    assert!(requests[0].scripted);
    for later in &requests[1..] {
        assert!(
            later.at - requests[0].at >= 10 * SECOND,
            "a request reached the host {:?} after its 429",
            later.at - requests[0].at
        );
    }
    assert_eq!(
        governor.status().get(Host::BinanceFutures).phase,
        HostPhase::Open
    );
}

#[tokio::test(start_paused = true)]
async fn no_request_reaches_a_banned_host_and_an_impatient_caller_fails_at_once() {
    let governor = Governor::documented();
    let server = FakeServer::start(empty_klines).await;
    let until = unix_now_ms() + 300_000;
    server.script(
        "/fapi/v1/klines",
        1,
        Reply::json(
            418,
            json!({"code":-1003,"msg":format!("Way too much request weight used; IP banned until {until}.")}),
        ),
    );
    let started = Instant::now();
    let patient = fetcher(
        Market::Futures,
        &server,
        &governor,
        Duration::from_secs(600),
    );
    let patient = tokio::spawn(async move { page(patient.as_ref()).await });
    tokio::time::sleep(SECOND).await;
    let status = governor.status();
    assert_eq!(status.get(Host::BinanceFutures).phase, HostPhase::Banned);
    assert!(
        status.get(Host::BinanceFutures).line.contains("banned"),
        "{}",
        status.get(Host::BinanceFutures).line
    );

    let impatient = fetcher(Market::Futures, &server, &governor, Duration::from_secs(60));
    let asked = Instant::now();
    let error = page(impatient.as_ref()).await.unwrap_err();
    assert_eq!(asked.elapsed(), Duration::ZERO, "refused without waiting");
    assert!(
        matches!(error, SourceError::Banned { wait_secs, max_secs: 60, .. } if (295..=300).contains(&wait_secs)),
        "{error}"
    );
    assert!(error.to_string().contains("banned"), "{error}");

    assert_eq!(
        patient.await.unwrap().unwrap(),
        0,
        "the patient caller waits the ban out"
    );
    assert!(started.elapsed() >= Duration::from_secs(295));
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        2,
        "the 418 and the patient caller's retry after the ban; nothing from the impatient one"
    );
    assert!(requests[1].at - requests[0].at >= Duration::from_secs(295));
}

#[tokio::test(start_paused = true)]
async fn the_used_weight_header_corrects_the_budget() {
    for (server_count, expected_gap) in [("2395", Duration::from_secs(60)), ("20", Duration::ZERO)]
    {
        let governor = Governor::documented();
        let server = FakeServer::start(move |_| {
            Reply::json(200, json!([])).header(BINANCE_USED_WEIGHT, server_count)
        })
        .await;
        let fetcher = fetcher(Market::Futures, &server, &governor, Duration::from_secs(5));
        page(fetcher.as_ref()).await.unwrap();
        page(fetcher.as_ref()).await.unwrap();
        let requests = server.requests();
        assert_eq!(
            requests[1].at - requests[0].at,
            expected_gap,
            "server count {server_count} of 2400, pages of weight 10"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn two_fetchers_of_one_host_share_one_budget() {
    // 50 weight per minute: five 1500-candle pages (weight 10 each).
    let scaled = HostLimits::budget(Budget::per(50, Duration::from_secs(60)));
    let minute = Duration::from_secs(60);
    let run = |governors: [Arc<Governor>; 2]| async move {
        let server = FakeServer::start(empty_klines).await;
        let tasks: Vec<_> = governors
            .iter()
            .map(|governor| {
                let fetcher = fetcher(Market::Futures, &server, governor, minute);
                tokio::spawn(async move {
                    for _ in 0..5 {
                        page(fetcher.as_ref()).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        busiest(&server.requests(), minute)
    };
    let shared =
        Governor::new(GovernorLimits::documented().with(Host::BinanceFutures, scaled.clone()));
    assert_eq!(
        run([shared.clone(), shared]).await,
        5,
        "one budget: at most 5 pages in any minute"
    );
    let separate =
        || Governor::new(GovernorLimits::documented().with(Host::BinanceFutures, scaled.clone()));
    assert_eq!(
        run([separate(), separate()]).await,
        10,
        "control: two governors would double the rate"
    );
}
