//! The Binance USDⓈ-M order client (`quantpro_sources::venues::binance::
//! trading`) against the fake venue, over real HTTP on 127.0.0.1: signing,
//! the clock resync, exactly-once after an unknown outcome, brackets on the
//! Algo Order API, triggers, filters, and reading the account back after a
//! restart. A client's timeout is short (250 ms) only where a fault stalls
//! a reply past it; elsewhere it is generous, so a busy machine cannot turn
//! a slow answer into an unknown outcome.

use quantpro_fakes::binance::{
    FakeBinance, FakeBinanceConfig, Fault, FaultOn, API_KEY, EXCHANGE_INFO, SECRET,
};
use quantpro_sources::keys::Secret;
use quantpro_sources::trading::{
    ClientId, Leg, OrderKind, OrderRequest, OrderState, Side, SymbolRules, TradeError, TradingVenue,
};
use quantpro_sources::venues::binance::signing::SignedQueryBuilder;
use quantpro_sources::venues::binance::trading::{BinanceTrading, BinanceTradingConfig};
use reqwest::Method;
use rust_decimal::Decimal;
use std::time::Duration;

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A client of `fake` with its keys.
fn client(fake: &FakeBinance) -> BinanceTrading {
    client_with_secret(fake, SECRET)
}

fn client_with_secret(fake: &FakeBinance, secret: &str) -> BinanceTrading {
    let config = BinanceTradingConfig::new(fake.url(), Secret::new(API_KEY), Secret::new(secret))
        .with_timeout(Duration::from_secs(10));
    BinanceTrading::new(config).unwrap()
}

/// A client that gives up on an answer after 250 ms.
fn impatient_client(fake: &FakeBinance) -> BinanceTrading {
    let config = BinanceTradingConfig::new(fake.url(), Secret::new(API_KEY), Secret::new(SECRET))
        .with_timeout(Duration::from_millis(250));
    BinanceTrading::new(config).unwrap()
}

async fn btc_at(mark: &str) -> FakeBinance {
    let fake = FakeBinance::start_default().await;
    fake.set_mark("BTCUSDT", d(mark));
    fake
}

fn market(origin: &str, side: Side, qty: &str) -> OrderRequest {
    OrderRequest {
        client_id: ClientId::derive(origin, Leg::Entry),
        leg: Leg::Entry,
        symbol: "BTCUSDT".into(),
        side,
        kind: OrderKind::Market,
        quantity: d(qty),
        reduce_only: false,
    }
}

/// A long bracket on BTCUSDT: MARKET entry, stop and target reduce-only.
fn long_bracket(origin: &str, qty: &str, stop: &str, target: &str) -> Vec<OrderRequest> {
    let leg = |leg: Leg, kind: OrderKind| OrderRequest {
        client_id: ClientId::derive(origin, leg),
        leg,
        symbol: "BTCUSDT".into(),
        side: Side::Sell,
        kind,
        quantity: d(qty),
        reduce_only: true,
    };
    vec![
        market(origin, Side::Buy, qty),
        leg(Leg::Stop, OrderKind::StopMarket { trigger: d(stop) }),
        leg(
            Leg::Target,
            OrderKind::TakeProfitMarket { trigger: d(target) },
        ),
    ]
}

fn refused_code(result: &Result<impl std::fmt::Debug, TradeError>) -> String {
    match result {
        Err(TradeError::Refused { code, .. }) => code.clone(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_signed_order_is_accepted_and_a_wrong_secret_is_refused_with_1022() {
    let fake = btc_at("64000").await;
    let placed = client(&fake)
        .place(&[market("signed", Side::Buy, "0.01")])
        .await;
    let report = placed[0].as_ref().unwrap();
    assert_eq!(report.state, OrderState::Filled);
    assert_eq!(report.filled, d("0.01"));
    assert_eq!(report.average_price, Some(d("64000")));
    assert_eq!(fake.position("BTCUSDT").amount, d("0.01"));

    let wrong = client_with_secret(&fake, "not-the-secret");
    let refused = wrong.place(&[market("wrong", Side::Buy, "0.01")]).await;
    assert_eq!(refused_code(&refused[0]), "-1022");
    assert_eq!(refused_code(&wrong.equity().await), "-1022");
    assert_eq!(fake.orders().len(), 1);

    let stranger = BinanceTrading::new(BinanceTradingConfig::new(
        fake.url(),
        Secret::new("someOtherKey"),
        Secret::new(SECRET),
    ))
    .unwrap();
    assert_eq!(refused_code(&stranger.positions().await), "-2015");
}

#[tokio::test]
async fn the_published_hmac_example_is_accepted_by_the_fake() {
    let fake = btc_at("9000").await;
    // The fake's clock at the example's time, so its timestamp is fresh.
    fake.set_clock_offset_ms(1_591_702_614_000 - quantpro_model_now());
    let params = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943";
    let signature = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9";
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{}/fapi/v1/order", fake.url()))
        .header("X-MBX-APIKEY", API_KEY)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{params}&signature={signature}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let order: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(order["symbol"], "BTCUSDT");
    assert_eq!(order["origQty"], "1.000");
    assert_eq!(fake.orders().len(), 1);
}

fn quantpro_model_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn a_clock_3s_off_gets_1021_and_the_client_resyncs_and_succeeds() {
    let fake = btc_at("64000").await;
    fake.set_clock_offset_ms(-3000);
    let venue = client(&fake);
    let placed = venue.place(&[market("clock", Side::Buy, "0.01")]).await;
    assert!(placed[0].is_ok(), "{:?}", placed[0]);
    // Refused once (-1021), resynced, sent once more: one order.
    assert_eq!(fake.request_count(&Method::GET, "/fapi/v1/time"), 1);
    assert_eq!(fake.request_count(&Method::POST, "/fapi/v1/order"), 2);
    assert_eq!(fake.orders().len(), 1);
    assert!(
        venue.clock_offset_ms() < -2000,
        "{}",
        venue.clock_offset_ms()
    );
    // The offset is kept: the next call needs no resync.
    venue.positions().await.unwrap();
    assert_eq!(fake.request_count(&Method::GET, "/fapi/v1/time"), 1);
}

#[tokio::test]
async fn an_entry_whose_outcome_is_unknown_is_found_by_its_client_id_and_never_placed_twice() {
    let fake = btc_at("64000").await;
    let venue = client(&fake);
    let impatient = impatient_client(&fake);
    let faults = [
        Fault::Stall(Duration::from_secs(3)),
        Fault::DropConnection,
        Fault::UnknownError,
        Fault::BackendTimeout,
    ];
    for (n, fault) in faults.into_iter().enumerate() {
        let origin = format!("unknown-{n}");
        fake.fail_next(FaultOn::Order, fault.clone());
        let entry = market(&origin, Side::Buy, "0.01");
        let placed = impatient.place(std::slice::from_ref(&entry)).await;
        assert!(
            matches!(placed[0], Err(TradeError::Unknown { .. })),
            "{fault:?}: {:?}",
            placed[0]
        );
        // Asked by its id, the order is there, once.
        let found = venue
            .order("BTCUSDT", &entry.client_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{fault:?}: the accepted order is not found"));
        assert_eq!(found.state, OrderState::Filled);
        assert_eq!(found.client_id, entry.client_id);
        let copies = fake
            .orders()
            .iter()
            .filter(|o| o.client_order_id == entry.client_id.as_str())
            .count();
        assert_eq!(copies, 1, "{fault:?}");
        assert_eq!(
            fake.request_count(&Method::POST, "/fapi/v1/order"),
            n + 1,
            "{fault:?}: the client resent"
        );
    }
    // Exactly one position: four entries of 0.01.
    let positions = venue.positions().await.unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].quantity, d("0.04"));
}

#[tokio::test]
async fn a_refusal_before_acceptance_places_nothing() {
    let fake = btc_at("64000").await;
    let venue = client(&fake);
    fake.fail_next(FaultOn::Order, Fault::ServiceUnavailable);
    fake.fail_next(FaultOn::Order, Fault::Overloaded);
    let first = market("busy-1", Side::Buy, "0.01");
    let placed = venue.place(std::slice::from_ref(&first)).await;
    assert!(
        matches!(placed[0], Err(TradeError::Unavailable(_))),
        "{:?}",
        placed[0]
    );
    let second = market("busy-2", Side::Buy, "0.01");
    let placed = venue.place(std::slice::from_ref(&second)).await;
    assert_eq!(refused_code(&placed[0]), "-1008");
    assert_eq!(
        venue.order("BTCUSDT", &first.client_id).await.unwrap(),
        None
    );
    assert_eq!(
        venue.order("BTCUSDT", &second.client_id).await.unwrap(),
        None
    );
    assert!(fake.orders().is_empty());

    // A venue that cannot be reached: nothing was sent.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let nowhere = BinanceTrading::new(BinanceTradingConfig::new(
        closed,
        Secret::new(API_KEY),
        Secret::new(SECRET),
    ))
    .unwrap();
    let placed = nowhere.place(&[market("nowhere", Side::Buy, "0.01")]).await;
    assert!(
        matches!(placed[0], Err(TradeError::Unavailable(_))),
        "{:?}",
        placed[0]
    );
}

#[tokio::test]
async fn a_stop_on_the_order_endpoint_gets_4120_and_a_bracket_uses_the_algo_api() {
    let fake = btc_at("64000").await;
    // A STOP_MARKET sent to /fapi/v1/order, signed as the venue wants.
    let signed = SignedQueryBuilder::new()
        .param("symbol", "BTCUSDT")
        .param("side", "SELL")
        .param("type", "STOP_MARKET")
        .param("quantity", "0.01")
        .param("stopPrice", "63000")
        .build(SECRET, quantpro_model_now(), 5000)
        .unwrap();
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/fapi/v1/order?{}",
            fake.url(),
            signed.to_query_string()
        ))
        .header("X-MBX-APIKEY", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let error: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(error["code"], -4120);

    let venue = client(&fake);
    let bracket = long_bracket("bracket", "0.01", "63000", "66000");
    let placed = venue.place(&bracket).await;
    for result in &placed {
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(fake.orders().len(), 1);
    let algos = fake.algo_orders();
    assert_eq!(algos.len(), 2);
    assert_eq!(algos[0].order_type, "STOP_MARKET");
    assert_eq!(algos[0].client_algo_id, bracket[1].client_id.as_str());
    assert_eq!(algos[0].working_type, "MARK_PRICE");
    assert!(algos[0].reduce_only);
    assert_eq!(algos[1].order_type, "TAKE_PROFIT_MARKET");
    assert_eq!(placed[1].as_ref().unwrap().state, OrderState::Open);
    assert_eq!(placed[2].as_ref().unwrap().state, OrderState::Open);
}

#[tokio::test]
async fn the_stop_fills_when_the_mark_crosses_it_and_the_position_is_flat() {
    let fake = btc_at("64000").await;
    let venue = client(&fake);
    let bracket = long_bracket("stopped", "0.01", "63000", "66000");
    let placed = venue.place(&bracket).await;
    assert!(placed.iter().all(Result::is_ok), "{placed:?}");

    fake.set_mark("BTCUSDT", d("63500"));
    let stop = venue
        .order("BTCUSDT", &bracket[1].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stop.state, OrderState::Open);

    fake.set_mark("BTCUSDT", d("62990"));
    let stop = venue
        .order("BTCUSDT", &bracket[1].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stop.state, OrderState::Filled);
    assert_eq!(stop.filled, d("0.01"));
    assert_eq!(stop.average_price, Some(d("62990")));
    assert!(venue.positions().await.unwrap().is_empty());
    assert!(fake.position("BTCUSDT").amount.is_zero());

    // The target still rests until cancelled; then nothing is open.
    let open = venue.open_orders().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].client_id, bracket[2].client_id);
    venue
        .cancel("BTCUSDT", &bracket[2].client_id)
        .await
        .unwrap();
    assert!(venue.open_orders().await.unwrap().is_empty());
    let target = venue
        .order("BTCUSDT", &bracket[2].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(target.state, OrderState::Canceled);
    // The loss is in the wallet: 0.01 × (62990 − 64000) and two fees.
    let equity = venue.equity().await.unwrap();
    assert!(equity.total < d("9990"), "{equity:?}");
}

fn grid_config() -> FakeBinanceConfig {
    FakeBinanceConfig {
        exchange_info: r#"{"symbols":[{"symbol":"XYZUSDT","filters":[
            {"minPrice":"0.05","maxPrice":"100000","filterType":"PRICE_FILTER","tickSize":"0.05"},
            {"stepSize":"0.5","filterType":"LOT_SIZE","maxQty":"100000","minQty":"0.5"},
            {"notional":"5","filterType":"MIN_NOTIONAL"}]}]}"#
            .into(),
        ..FakeBinanceConfig::default()
    }
}

fn xyz(origin: &str, side: Side, kind: OrderKind, qty: &str, reduce_only: bool) -> OrderRequest {
    OrderRequest {
        client_id: ClientId::derive(origin, if reduce_only { Leg::Close } else { Leg::Entry }),
        leg: if reduce_only { Leg::Close } else { Leg::Entry },
        symbol: "XYZUSDT".into(),
        side,
        kind,
        quantity: d(qty),
        reduce_only,
    }
}

#[tokio::test]
async fn the_filters_refuse_off_grid_and_too_small_orders() {
    let fake = FakeBinance::start(grid_config()).await;
    fake.set_mark("XYZUSDT", d("10"));
    let venue = client(&fake);
    let limit = |price: &str| OrderKind::Limit {
        price: d(price),
        expires_at_ms: None,
    };
    let cases = [
        ("tick", limit("9.03"), "1", "-4014"),
        ("step", limit("9.05"), "1.5", "OK"),
        ("step-off", limit("9.05"), "1.2", "-4023"),
        ("precision", limit("9.05"), "1.25", "-1111"),
        ("notional", limit("9.05"), "0.5", "-4164"),
    ];
    for (origin, kind, qty, expected) in cases {
        let placed = venue
            .place(&[xyz(origin, Side::Buy, kind, qty, false)])
            .await;
        match expected {
            "OK" => assert!(placed[0].is_ok(), "{origin}: {:?}", placed[0]),
            code => assert_eq!(refused_code(&placed[0]), code, "{origin}"),
        }
    }
    // A reduce-only order under the minimum notional (0.5 × 5) passes:
    // -4164 spares it.
    let opened = venue
        .place(&[xyz("open", Side::Buy, OrderKind::Market, "1", false)])
        .await;
    assert!(opened[0].is_ok(), "{:?}", opened[0]);
    fake.set_mark("XYZUSDT", d("5"));
    let closed = venue
        .place(&[xyz("close", Side::Sell, OrderKind::Market, "0.5", true)])
        .await;
    assert!(closed[0].is_ok(), "{:?}", closed[0]);
    // 1 + 1.5 (the resting "step" limit at 9.05 filled as the mark fell) − 0.5.
    assert_eq!(fake.position("XYZUSDT").amount, d("2"));
    // And the rules the executor sizes with come from the same exchangeInfo.
    let SymbolRules::Binance(filters) = venue.rules("XYZUSDT").await.unwrap() else {
        panic!("Binance rules expected");
    };
    assert_eq!(filters.price.tick_size, d("0.05"));
    venue.rules("XYZUSDT").await.unwrap();
    assert_eq!(fake.request_count(&Method::GET, "/fapi/v1/exchangeInfo"), 1);
}

#[tokio::test]
async fn insufficient_margin_refuses_the_entry_and_its_stop_and_target_are_not_sent() {
    let fake = btc_at("64000").await;
    fake.refuse_margin(true);
    let venue = client(&fake);
    let placed = venue
        .place(&long_bracket("poor", "0.01", "63000", "66000"))
        .await;
    assert_eq!(refused_code(&placed[0]), "-2019");
    assert_eq!(refused_code(&placed[1]), "");
    assert_eq!(refused_code(&placed[2]), "");
    assert!(fake.orders().is_empty() && fake.algo_orders().is_empty());
    // Margin the account does not have is refused the same way.
    fake.refuse_margin(false);
    let placed = venue.place(&[market("huge", Side::Buy, "100")]).await;
    assert_eq!(refused_code(&placed[0]), "-2019");
}

#[tokio::test]
async fn open_orders_and_positions_read_back_after_a_restart() {
    let fake = btc_at("64000").await;
    let bracket = long_bracket("restart", "0.01", "63000", "66000");
    let resting = OrderRequest {
        client_id: ClientId::derive("restart-limit", Leg::Entry),
        kind: OrderKind::Limit {
            price: d("62000"),
            expires_at_ms: None,
        },
        ..market("restart-limit", Side::Buy, "0.01")
    };
    {
        let before = client(&fake);
        let placed = before.place(&bracket).await;
        assert!(placed.iter().all(Result::is_ok), "{placed:?}");
        assert!(before.place(std::slice::from_ref(&resting)).await[0].is_ok());
    }
    let after = client(&fake);
    let mut open: Vec<_> = after
        .open_orders()
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.client_id, o.state, o.quantity))
        .collect();
    open.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (resting.client_id.clone(), OrderState::Open, d("0.01")),
        (bracket[1].client_id.clone(), OrderState::Open, d("0.01")),
        (bracket[2].client_id.clone(), OrderState::Open, d("0.01")),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(open, expected);
    let positions = after.positions().await.unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].symbol, "BTCUSDT");
    assert_eq!(positions[0].quantity, d("0.01"));
    assert_eq!(positions[0].entry_price, d("64000"));
    let entry = after.order("BTCUSDT", &bracket[0].client_id).await.unwrap();
    assert_eq!(entry.unwrap().state, OrderState::Filled);
}

#[tokio::test]
async fn a_cancel_of_an_unknown_order_is_ok_and_a_lookup_finds_none() {
    let fake = btc_at("64000").await;
    let venue = client(&fake);
    for leg in [Leg::Entry, Leg::Stop, Leg::Target, Leg::Close] {
        let id = ClientId::derive("never-sent", leg);
        venue.cancel("BTCUSDT", &id).await.unwrap();
        assert_eq!(venue.order("BTCUSDT", &id).await.unwrap(), None, "{leg:?}");
    }
    // A filled order is gone too: cancelling it is not an error.
    let entry = market("filled", Side::Buy, "0.01");
    assert!(venue.place(std::slice::from_ref(&entry)).await[0].is_ok());
    venue.cancel("BTCUSDT", &entry.client_id).await.unwrap();
}

#[tokio::test]
async fn a_limit_entry_rests_until_the_mark_reaches_it_and_a_gtd_one_expires() {
    let fake = btc_at("64000").await;
    let venue = client(&fake);
    let limit = |origin: &str, price: &str, expires_at_ms| OrderRequest {
        client_id: ClientId::derive(origin, Leg::Entry),
        kind: OrderKind::Limit {
            price: d(price),
            expires_at_ms,
        },
        ..market(origin, Side::Buy, "0.01")
    };
    let gtc = limit("gtc", "63500", None);
    let gtd = limit("gtd", "63000", Some(quantpro_model_now() + 60_000));
    let placed = venue.place(&[gtc.clone(), gtd.clone()]).await;
    assert!(placed.iter().all(Result::is_ok), "{placed:?}");
    assert_eq!(placed[0].as_ref().unwrap().state, OrderState::Open);
    fake.set_mark("BTCUSDT", d("63400"));
    let filled = venue
        .order("BTCUSDT", &gtc.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(filled.state, OrderState::Filled);
    assert_eq!(filled.average_price, Some(d("63500")));
    // Two minutes later at the venue (the client resyncs after a -1021).
    fake.set_clock_offset_ms(120_000);
    let expired = venue
        .order("BTCUSDT", &gtd.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(expired.state, OrderState::Expired);
    // A client id still open cannot be used twice (-4116).
    let again = limit("again", "60000", None);
    assert!(venue.place(std::slice::from_ref(&again)).await[0].is_ok());
    assert_eq!(refused_code(&venue.place(&[again]).await[0]), "-4116");
}

#[tokio::test]
async fn equity_comes_from_the_account() {
    let fake = btc_at("64000").await;
    let venue = client(&fake);
    let equity = venue.equity().await.unwrap();
    assert_eq!(equity.total, d("10000"));
    assert_eq!(equity.available, d("10000"));
    assert!(venue.place(&[market("eq", Side::Buy, "0.1")]).await[0].is_ok());
    fake.set_mark("BTCUSDT", d("65000"));
    let equity = venue.equity().await.unwrap();
    // +100 unrealized, −3.2 taker fee, 325 of initial margin at 20×.
    assert_eq!(equity.total, d("10096.8"));
    assert_eq!(equity.available, d("9771.8"));
}

#[tokio::test]
async fn leverage_position_mode_and_listing_are_read_and_set() {
    let fake = btc_at("64000").await;
    let venue = client(&fake);
    assert!(!venue.is_hedge_mode().await.unwrap());
    assert_eq!(venue.set_leverage("BTCUSDT", 5).await.unwrap(), 5);
    assert_eq!(fake.leverage("BTCUSDT"), d("5"));
    // At 5×, 1 BTC (64 000) needs 12 800 of margin: more than the 10 000.
    let placed = venue.place(&[market("levered", Side::Buy, "1")]).await;
    assert_eq!(refused_code(&placed[0]), "-2019");
    // A symbol that is not listed is refused before anything is sent.
    assert!(matches!(
        venue.rules("NOPEUSDT").await,
        Err(TradeError::Invalid(_))
    ));
    assert!(matches!(
        venue.rules("BTCUSDT").await,
        Ok(SymbolRules::Binance(_))
    ));
    assert_eq!(fake.request_count(&Method::GET, "/fapi/v1/exchangeInfo"), 1);
    // A hedge-mode account refuses one-way orders: the client can tell.
    fake.set_hedge_mode(true);
    assert!(venue.is_hedge_mode().await.unwrap());
    let placed = venue.place(&[market("hedged", Side::Buy, "0.01")]).await;
    assert_eq!(refused_code(&placed[0]), "-4061");
}

#[tokio::test]
async fn a_symbol_that_is_not_trading_has_no_rules() {
    let config = FakeBinanceConfig {
        exchange_info: EXCHANGE_INFO.replacen(
            r#""symbol":"ETHUSDT","pair":"ETHUSDT","contractType":"PERPETUAL","status":"TRADING""#,
            r#""symbol":"ETHUSDT","pair":"ETHUSDT","contractType":"PERPETUAL","status":"SETTLING""#,
            1,
        ),
        ..FakeBinanceConfig::default()
    };
    let fake = FakeBinance::start(config).await;
    let venue = client(&fake);
    let refused = venue.rules("ETHUSDT").await;
    assert!(
        matches!(refused, Err(TradeError::Invalid(ref why)) if why.contains("SETTLING")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn calls_count_on_the_governor_and_a_429_refuses_without_placing() {
    use quantpro_sources::governor::{Governor, Host};
    let fake = btc_at("64000").await;
    let gate = Governor::documented().gate(Host::BinanceFutures);
    let venue = client(&fake).with_gate(gate.clone());
    assert!(venue.place(&[market("gated", Side::Buy, "0.01")]).await[0].is_ok());
    assert!(gate.charged() > 0);
    fake.fail_next(
        FaultOn::Order,
        Fault::Refuse {
            status: 429,
            code: -1015,
            msg: "Too many new orders; current limit is 300 orders per TEN_SECONDS.".into(),
        },
    );
    let placed = venue.place(&[market("limited", Side::Buy, "0.01")]).await;
    assert_eq!(refused_code(&placed[0]), "-1015");
    assert_eq!(fake.orders().len(), 1);
}

#[tokio::test]
async fn an_unfilled_cancelled_order_is_forgotten_after_3_days_a_filled_one_is_not() {
    let fake = btc_at("64000").await;
    let venue = client(&fake);
    let resting = OrderRequest {
        client_id: ClientId::derive("old-limit", Leg::Entry),
        kind: OrderKind::Limit {
            price: d("60000"),
            expires_at_ms: None,
        },
        ..market("old-limit", Side::Buy, "0.01")
    };
    let filled = market("old-market", Side::Buy, "0.01");
    assert!(venue
        .place(&[resting.clone(), filled.clone()])
        .await
        .iter()
        .all(Result::is_ok));
    venue.cancel("BTCUSDT", &resting.client_id).await.unwrap();
    assert!(venue
        .order("BTCUSDT", &resting.client_id)
        .await
        .unwrap()
        .is_some());
    // Four days later (the client's clock follows the venue's after a -1021).
    fake.set_clock_offset_ms(4 * 24 * 3600 * 1000);
    assert_eq!(
        venue.order("BTCUSDT", &resting.client_id).await.unwrap(),
        None
    );
    let still = venue
        .order("BTCUSDT", &filled.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.state, OrderState::Filled);
}

mod user_stream {
    use super::*;
    use quantpro_sources::venues::binance::user_stream::{
        spawn_user_stream, AccountEvent, UserStreamConfig,
    };
    use std::sync::Arc;
    use tokio::sync::mpsc::Receiver;

    /// The next event that `wanted` accepts (others are skipped); fails the
    /// test rather than hang if none comes.
    async fn next_matching(
        events: &mut Receiver<AccountEvent>,
        wanted: impl Fn(&AccountEvent) -> bool,
    ) -> AccountEvent {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("an event")
                .expect("the stream runs");
            if wanted(&event) {
                return event;
            }
        }
    }

    fn stream_config(fake: &FakeBinance) -> UserStreamConfig {
        let mut config = UserStreamConfig::new(fake.ws_url());
        config.backoff.initial = Duration::from_millis(20);
        config.backoff.max = Duration::from_millis(100);
        config
    }

    #[tokio::test]
    async fn fills_stops_and_positions_arrive_on_the_user_stream() {
        let fake = btc_at("64000").await;
        let venue = Arc::new(client(&fake));
        let (mut events, task) = spawn_user_stream(venue.clone(), stream_config(&fake));
        next_matching(&mut events, |e| *e == AccountEvent::Connected).await;

        let bracket = long_bracket("streamed", "0.01", "63000", "66000");
        assert!(venue.place(&bracket).await.iter().all(Result::is_ok));
        let entry_id = bracket[0].client_id.clone();
        let filled = next_matching(&mut events, |e| {
            matches!(e, AccountEvent::Order(o)
                if o.client_id.as_ref() == Some(&entry_id) && o.state == OrderState::Filled)
        })
        .await;
        let AccountEvent::Order(filled) = filled else {
            unreachable!()
        };
        assert_eq!(filled.filled, d("0.01"));
        assert_eq!(filled.average_price, Some(d("64000")));
        assert_eq!(filled.fee, d("0.32"));
        let stop_id = bracket[1].client_id.clone();
        next_matching(&mut events, |e| {
            matches!(e, AccountEvent::Algo(a)
                if a.client_id.as_ref() == Some(&stop_id) && a.status == "NEW")
        })
        .await;

        fake.set_mark("BTCUSDT", d("62990"));
        let finished = next_matching(&mut events, |e| {
            matches!(e, AccountEvent::Algo(a)
                if a.client_id.as_ref() == Some(&stop_id) && a.status == "FINISHED")
        })
        .await;
        let AccountEvent::Algo(finished) = finished else {
            unreachable!()
        };
        assert_eq!(finished.state, OrderState::Filled);
        assert!(finished.child_order_id.is_some());
        // The flat position came in an ACCOUNT_UPDATE before FINISHED.
        let account = fake.position("BTCUSDT");
        assert!(account.amount.is_zero());
        drop(events);
        let _ = task.await;
    }

    #[tokio::test]
    async fn partial_fills_arrive_with_cumulative_quantities_and_the_key_is_kept_alive() {
        let fake = btc_at("64000").await;
        fake.set_fill_steps(3);
        let venue = Arc::new(client(&fake));
        let mut config = stream_config(&fake);
        config.keepalive = Duration::from_millis(20);
        let (mut events, task) = spawn_user_stream(venue.clone(), config);
        next_matching(&mut events, |e| *e == AccountEvent::Connected).await;
        let entry = market("partial", Side::Buy, "0.03");
        let placed = venue.place(std::slice::from_ref(&entry)).await;
        let report = placed[0].as_ref().unwrap();
        assert_eq!(report.state, OrderState::Filled);
        assert_eq!(report.filled, d("0.03"));
        let mut cumulative = Vec::new();
        while cumulative.len() < 3 {
            let event = next_matching(
                &mut events,
                |e| matches!(e, AccountEvent::Order(o) if o.execution == "TRADE"),
            )
            .await;
            if let AccountEvent::Order(o) = event {
                cumulative.push((o.filled, o.state));
            }
        }
        assert_eq!(
            cumulative,
            vec![
                (d("0.01"), OrderState::PartiallyFilled),
                (d("0.02"), OrderState::PartiallyFilled),
                (d("0.03"), OrderState::Filled),
            ]
        );
        // The listen key is extended on its timer.
        let kept_alive = async {
            while fake.request_count(&Method::PUT, "/fapi/v1/listenKey") == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), kept_alive)
            .await
            .expect("a keepalive PUT");
        drop(events);
        let _ = task.await;
    }

    #[tokio::test]
    async fn an_expired_listen_key_is_replaced_and_the_stream_reconnects() {
        let fake = btc_at("64000").await;
        let venue = Arc::new(client(&fake));
        let (mut events, task) = spawn_user_stream(venue.clone(), stream_config(&fake));
        next_matching(&mut events, |e| *e == AccountEvent::Connected).await;
        assert_eq!(fake.request_count(&Method::POST, "/fapi/v1/listenKey"), 1);

        fake.expire_listen_key();
        // A PUT on the dead key is refused as the venue does.
        assert!(matches!(
            venue.keep_listen_key_alive().await,
            Err(TradeError::Refused { ref code, .. }) if code == "-1125"
        ));
        next_matching(&mut events, |e| matches!(e, AccountEvent::Disconnected(_))).await;
        next_matching(&mut events, |e| *e == AccountEvent::Connected).await;
        assert_eq!(fake.request_count(&Method::POST, "/fapi/v1/listenKey"), 2);

        // Events flow on the new connection.
        let entry = market("after-expiry", Side::Buy, "0.01");
        assert!(venue.place(std::slice::from_ref(&entry)).await[0].is_ok());
        next_matching(&mut events, |e| {
            matches!(e, AccountEvent::Order(o) if o.client_id.as_ref() == Some(&entry.client_id))
        })
        .await;
        let position = next_matching(&mut events, |e| matches!(e, AccountEvent::Account(_))).await;
        let AccountEvent::Account(update) = position else {
            unreachable!()
        };
        assert_eq!(update.positions[0].quantity, d("0.01"));
        drop(events);
        let _ = task.await;
    }
}

/// Figures for the issue's benchmark, against the fake on 127.0.0.1:
/// `cargo test -p quantpro-fakes --test binance -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a benchmark: prints figures"]
async fn bench_bracket_round_trip_and_reconciliation_of_50_positions() {
    let symbols: Vec<String> = (0..50).map(|n| format!("S{n:02}USDT")).collect();
    let listed: Vec<String> = symbols
        .iter()
        .map(|s| {
            format!(
                r#"{{"symbol":"{s}","status":"TRADING","filters":[
                {{"minPrice":"0.10","maxPrice":"1000000","filterType":"PRICE_FILTER","tickSize":"0.10"}},
                {{"stepSize":"0.001","filterType":"LOT_SIZE","maxQty":"1000","minQty":"0.001"}},
                {{"notional":"5","filterType":"MIN_NOTIONAL"}}]}}"#
            )
        })
        .collect();
    let config = FakeBinanceConfig {
        exchange_info: format!(r#"{{"symbols":[{}]}}"#, listed.join(",")),
        balance: d("100000000"),
        ..FakeBinanceConfig::default()
    };
    let fake = FakeBinance::start(config).await;
    for symbol in &symbols {
        fake.set_mark(symbol, d("1000"));
    }
    let venue = client(&fake);
    let mut brackets = Vec::new();
    for round in 0..200 {
        let symbol = &symbols[round % symbols.len()];
        let origin = format!("bench-{round}");
        let mut bracket = long_bracket(&origin, "0.01", "900", "1100");
        for leg in &mut bracket {
            leg.symbol = symbol.clone();
        }
        let start = std::time::Instant::now();
        let placed = venue.place(&bracket).await;
        brackets.push(start.elapsed());
        assert!(placed.iter().all(Result::is_ok), "{placed:?}");
    }
    let mut reconciles = Vec::new();
    for _ in 0..50 {
        let restarted = client(&fake);
        let start = std::time::Instant::now();
        let (open, positions) = (
            restarted.open_orders().await.unwrap(),
            restarted.positions().await.unwrap(),
        );
        reconciles.push(start.elapsed());
        assert_eq!(positions.len(), 50);
        assert_eq!(open.len(), 400);
    }
    let show = |name: &str, mut samples: Vec<Duration>| {
        samples.sort();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        println!(
            "{name}: median {:?}, p99 {:?} ({} runs)",
            at(0.5),
            at(0.99),
            samples.len()
        );
    };
    show("bracket (entry + stop + target acknowledged)", brackets);
    show(
        "reconciliation (open orders + positions, 50 positions)",
        reconciles,
    );
}
