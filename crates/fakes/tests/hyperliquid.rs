//! The Hyperliquid client (`quantpro_sources::venues::hyperliquid::trading`)
//! against the fake venue, over real HTTP on 127.0.0.1: brackets as one
//! `normalTpsl` action, signatures, nonces, the venue's price and size
//! rules, lost replies, stops that fill, restarts, cancels and the user
//! stream.

use quantpro_fakes::hyperliquid::{FakeHyperliquid, Fault};
use quantpro_sources::keys::Secret;
use quantpro_sources::trading::{
    ClientId, Leg, OrderKind, OrderRequest, OrderState, Side, SymbolRules, TradeError, TradingVenue,
};
use quantpro_sources::venues::hyperliquid::signing::{
    address_of, sign_l1_action, signing_key_from_hex, Action, Address, CancelByCloidAction,
    CancelByCloidWire, Cloid, ExchangeRequest, Network,
};
use quantpro_sources::venues::hyperliquid::trading::{
    HyperliquidTrading, HyperliquidTradingConfig, ORDER_GONE,
};
use quantpro_sources::venues::hyperliquid::user_stream::{
    OrderUpdate, UserFill, UserStreamConfig, UserUpdate,
};
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;
use std::time::Duration;

const MASTER_KEY: &str = "0x2222222222222222222222222222222222222222222222222222222222222222";
const AGENT_KEY: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";
const STRANGER_KEY: &str = "0x3333333333333333333333333333333333333333333333333333333333333333";

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn address(key: &str) -> Address {
    address_of(&signing_key_from_hex(key).unwrap())
}

fn hex(address: &Address) -> String {
    let digits: String = address.iter().map(|b| format!("{b:02x}")).collect();
    format!("0x{digits}")
}

/// A testnet fake where the agent trades for a master with 10 000 USDC.
async fn venue() -> (FakeHyperliquid, Address) {
    let fake = FakeHyperliquid::start(Network::Testnet).await;
    let master = address(MASTER_KEY);
    fake.add_account(master, d("10000"));
    fake.approve_agent(address(AGENT_KEY), master);
    (fake, master)
}

fn client_with(fake: &FakeHyperliquid, key: &str, timeout: Duration) -> HyperliquidTrading {
    let config = HyperliquidTradingConfig::new(
        Network::Testnet,
        Secret::new(key),
        hex(&address(MASTER_KEY)),
    )
    .with_base_url(fake.url())
    .with_timeout(timeout);
    HyperliquidTrading::new(config).unwrap()
}

fn client(fake: &FakeHyperliquid) -> HyperliquidTrading {
    client_with(fake, AGENT_KEY, Duration::from_secs(5))
}

fn order(origin: &str, leg: Leg, side: Side, kind: OrderKind, quantity: &str) -> OrderRequest {
    OrderRequest {
        client_id: ClientId::derive(origin, leg),
        leg,
        symbol: "BTC".into(),
        side,
        kind,
        quantity: d(quantity),
        reduce_only: leg != Leg::Entry,
    }
}

/// A long BTC bracket of 0.001 (about $64): entry, stop 62000, target 67000.
fn long_bracket(origin: &str, entry: OrderKind) -> Vec<OrderRequest> {
    vec![
        order(origin, Leg::Entry, Side::Buy, entry, "0.001"),
        order(
            origin,
            Leg::Stop,
            Side::Sell,
            OrderKind::StopMarket {
                trigger: d("62000"),
            },
            "0.001",
        ),
        order(
            origin,
            Leg::Target,
            Side::Sell,
            OrderKind::TakeProfitMarket {
                trigger: d("67000"),
            },
            "0.001",
        ),
    ]
}

fn ids(reports: &[quantpro_sources::trading::OrderReport]) -> Vec<ClientId> {
    let mut ids: Vec<ClientId> = reports.iter().map(|r| r.client_id.clone()).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<ClientId>) -> Vec<ClientId> {
    ids.sort();
    ids
}

#[tokio::test]
async fn a_bracket_is_one_normal_tpsl_action_and_leaves_a_position_with_its_stop_and_target() {
    let (fake, master) = venue().await;
    let client = client(&fake);
    assert_eq!(
        client.rules("BTC").await.unwrap(),
        SymbolRules::Hyperliquid {
            asset: 0,
            sz_decimals: 5
        }
    );
    let equity = client.equity().await.unwrap();
    assert_eq!(equity.total, d("10000"));

    let bracket = long_bracket("HL|BTC|test|1", OrderKind::Market);
    let results = client.place(&bracket).await;
    assert_eq!(
        fake.exchange_requests(),
        1,
        "one action for the whole bracket"
    );
    let entry = results[0].as_ref().unwrap();
    assert_eq!(entry.state, OrderState::Filled);
    assert_eq!(entry.filled, d("0.001"));
    assert_eq!(entry.average_price, Some(d("64000")));
    for (leg, result) in bracket[1..].iter().zip(&results[1..]) {
        let report = result.as_ref().unwrap();
        assert_eq!(report.client_id, leg.client_id);
        assert_eq!(report.state, OrderState::Open, "waiting for its trigger");
    }

    assert_eq!(fake.position(master, "BTC"), d("0.001"));
    let positions = client.positions().await.unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].symbol, "BTC");
    assert_eq!(positions[0].quantity, d("0.001"));
    assert_eq!(positions[0].entry_price, d("64000"));
    let open = client.open_orders().await.unwrap();
    assert_eq!(
        ids(&open),
        sorted(vec![
            bracket[1].client_id.clone(),
            bracket[2].client_id.clone()
        ])
    );
    assert!(open
        .iter()
        .all(|o| o.side == Side::Sell && o.quantity == d("0.001")));

    let stop = client
        .order("BTC", &bracket[1].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stop.state, OrderState::Open);
    assert!(!stop.venue_id.is_empty());
    let filled = client
        .order("BTC", &bracket[0].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(filled.state, OrderState::Filled);
    assert_eq!(filled.average_price, Some(d("64000")));
    assert!(filled.fee > Decimal::ZERO);
}

#[tokio::test]
async fn a_resting_entry_arms_its_stop_and_target_when_it_fills() {
    let (fake, master) = venue().await;
    let client = client(&fake);
    let bracket = long_bracket(
        "HL|BTC|test|2",
        OrderKind::Limit {
            price: d("63500"),
            expires_at_ms: None,
        },
    );
    let results = client.place(&bracket).await;
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap().state == OrderState::Open));
    assert_eq!(fake.position(master, "BTC"), Decimal::ZERO);
    // The entry rests with its stop and target as children.
    let open = client.open_orders().await.unwrap();
    assert_eq!(
        ids(&open),
        sorted(bracket.iter().map(|o| o.client_id.clone()).collect())
    );

    fake.set_mid("BTC", d("63400"));
    assert_eq!(fake.position(master, "BTC"), d("0.001"));
    let entry = client
        .order("BTC", &bracket[0].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, OrderState::Filled);
    assert_eq!(entry.average_price, Some(d("63500")));
    let open = client.open_orders().await.unwrap();
    assert_eq!(
        ids(&open),
        sorted(vec![
            bracket[1].client_id.clone(),
            bracket[2].client_id.clone()
        ])
    );
}

#[tokio::test]
async fn a_request_signed_by_another_key_is_refused() {
    let (fake, master) = venue().await;
    let stranger = client_with(&fake, STRANGER_KEY, Duration::from_secs(5));
    let results = stranger
        .place(&long_bracket("HL|BTC|test|3", OrderKind::Market))
        .await;
    for result in results {
        match result {
            Err(TradeError::Refused { message, .. }) => {
                assert_eq!(
                    message,
                    format!(
                        "User or API Wallet {} does not exist.",
                        hex(&address(STRANGER_KEY))
                    )
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(fake.position(master, "BTC"), Decimal::ZERO);
    assert_eq!(fake.open_orders(master), 0);
}

/// Signs a cancelByCloid with the agent key and `nonce`, as raw JSON.
fn signed_cancel(nonce: u64) -> String {
    let action = Action::CancelByCloid(CancelByCloidAction {
        cancels: vec![CancelByCloidWire {
            asset: 0,
            cloid: Cloid::from_u128(7),
        }],
    });
    let key = signing_key_from_hex(AGENT_KEY).unwrap();
    let signature = sign_l1_action(&key, &action, nonce, None, None, Network::Testnet).unwrap();
    serde_json::to_string(&ExchangeRequest {
        action,
        nonce,
        signature,
        vault_address: None,
        expires_after: None,
    })
    .unwrap()
}

async fn post_exchange(fake: &FakeHyperliquid, body: String) -> Value {
    reqwest::Client::new()
        .post(format!("{}/exchange", fake.url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_reused_nonce_is_refused() {
    let (fake, _) = venue().await;
    let now = 1_765_000_000_000u64;
    fake.set_time_ms(Some(now));

    let first = post_exchange(&fake, signed_cancel(now)).await;
    assert_eq!(first["status"], "ok", "{first}");
    assert_eq!(
        first["response"]["data"]["statuses"][0]["error"],
        ORDER_GONE
    );
    let replay = post_exchange(&fake, signed_cancel(now)).await;
    assert_eq!(replay["status"], "err");
    assert_eq!(
        replay["response"],
        format!("Invalid nonce: duplicate nonce {now}")
    );

    // With 100 higher nonces kept, one below the smallest of them is too low.
    for i in 1..=100 {
        let answer = post_exchange(&fake, signed_cancel(now + i)).await;
        assert_eq!(answer["status"], "ok", "{answer}");
    }
    let low = post_exchange(&fake, signed_cancel(now - 5)).await;
    assert_eq!(
        low["response"],
        format!("Invalid nonce: nonce too low {} < {}", now - 5, now + 1)
    );
    // Outside (now - 2 days, now + 1 day).
    let far = now + 2 * 86_400_000;
    let high = post_exchange(&fake, signed_cancel(far)).await;
    assert!(
        high["response"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Invalid nonce: nonce too high {far}")),
        "{high}"
    );
}

#[tokio::test]
async fn an_off_tick_price_and_a_five_dollar_order_are_refused_in_the_venues_words() {
    let (fake, master) = venue().await;
    let client = client(&fake);
    let refusal = |result: &Result<_, TradeError>| match result {
        Err(TradeError::Refused { message, .. }) => message.clone(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    // 6 significant figures for BTC (szDecimals 5).
    let off_tick = order(
        "HL|BTC|test|4",
        Leg::Entry,
        Side::Buy,
        OrderKind::Limit {
            price: d("63000.5"),
            expires_at_ms: None,
        },
        "0.001",
    );
    let results = client.place(&[off_tick]).await;
    assert_eq!(
        refusal(&results[0]),
        "Price must be divisible by tick size."
    );

    // 0.00008 BTC at 62500 is $5.
    let five_dollars = order(
        "HL|BTC|test|5",
        Leg::Entry,
        Side::Buy,
        OrderKind::Limit {
            price: d("62500"),
            expires_at_ms: None,
        },
        "0.00008",
    );
    let results = client.place(&[five_dollars]).await;
    assert_eq!(
        refusal(&results[0]),
        "Order must have minimum value of $10."
    );

    // A $5 bracket: no leg is placed.
    let mut bracket = long_bracket("HL|BTC|test|6", OrderKind::Market);
    for leg in &mut bracket {
        leg.quantity = d("0.00008");
    }
    let results = client.place(&bracket).await;
    assert_eq!(
        refusal(&results[0]),
        "Order must have minimum value of $10."
    );
    assert!(results.iter().all(Result::is_err));
    assert_eq!(fake.position(master, "BTC"), Decimal::ZERO);
    assert_eq!(fake.open_orders(master), 0);
}

#[tokio::test]
async fn a_lost_reply_is_looked_up_by_cloid_and_not_placed_twice() {
    for fault in [Fault::DropReply, Fault::Stall, Fault::ServerError] {
        let (fake, master) = venue().await;
        let client = client_with(&fake, AGENT_KEY, Duration::from_millis(200));
        let bracket = long_bracket("HL|BTC|test|7", OrderKind::Market);
        fake.fail_next_exchange(fault);
        let results = client.place(&bracket).await;
        for result in &results {
            assert!(
                matches!(result, Err(TradeError::Unknown { .. })),
                "{fault:?}: {result:?}"
            );
        }
        // What the executor does with an unknown outcome: ask, and resend
        // only what the venue never had.
        let mut resend = Vec::new();
        for leg in &bracket {
            if client.order("BTC", &leg.client_id).await.unwrap().is_none() {
                resend.push(leg.clone());
            }
        }
        assert!(resend.is_empty(), "{fault:?}: the venue has every leg");
        let entry = client
            .order("BTC", &bracket[0].client_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.state, OrderState::Filled, "{fault:?}");
        let cloid = HyperliquidTrading::cloid_of(&bracket[0].client_id);
        assert_eq!(fake.orders_with_cloid(master, &cloid), 1, "{fault:?}");
        assert_eq!(fake.position(master, "BTC"), d("0.001"), "{fault:?}");
        assert_eq!(client.positions().await.unwrap().len(), 1);
        assert_eq!(client.open_orders().await.unwrap().len(), 2, "{fault:?}");
    }
}

#[tokio::test]
async fn the_stop_fills_when_the_mid_crosses_it_and_the_position_is_flat() {
    let (fake, master) = venue().await;
    let client = client(&fake);
    let bracket = long_bracket("HL|BTC|test|8", OrderKind::Market);
    assert!(client.place(&bracket).await.iter().all(Result::is_ok));

    fake.set_mid("BTC", d("63000"));
    assert_eq!(fake.position(master, "BTC"), d("0.001"), "not yet");
    fake.set_mid("BTC", d("61900"));
    assert_eq!(fake.position(master, "BTC"), Decimal::ZERO);
    assert!(client.positions().await.unwrap().is_empty());
    assert!(client.open_orders().await.unwrap().is_empty());

    let stop = client
        .order("BTC", &bracket[1].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stop.state, OrderState::Filled);
    assert_eq!(stop.filled, d("0.001"));
    assert_eq!(stop.average_price, Some(d("61900")));
    let target = client
        .order("BTC", &bracket[2].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(target.state, OrderState::Canceled);
    // Lost 2100 × 0.001 plus fees.
    let equity = client.equity().await.unwrap();
    assert!(equity.total < d("9997.9"), "{equity:?}");
    assert!(equity.total > d("9997.8"), "{equity:?}");
}

#[tokio::test]
async fn a_new_client_reads_back_open_orders_and_positions() {
    let (fake, _) = venue().await;
    let bracket = long_bracket("HL|BTC|test|9", OrderKind::Market);
    {
        let first = client(&fake);
        assert!(first.place(&bracket).await.iter().all(Result::is_ok));
    }
    let restarted = client(&fake);
    let positions = restarted.positions().await.unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].quantity, d("0.001"));

    // Unknown to this process: reported by their cloids...
    let open = restarted.open_orders().await.unwrap();
    let cloids: Vec<ClientId> = bracket[1..]
        .iter()
        .map(|o| ClientId::parse(HyperliquidTrading::cloid_of(&o.client_id).as_str()).unwrap())
        .collect();
    assert_eq!(ids(&open), sorted(cloids.clone()));
    // ...which find the same orders.
    let by_cloid = restarted.order("BTC", &cloids[0]).await.unwrap().unwrap();
    assert_eq!(by_cloid.state, OrderState::Open);
    // Told of the journal's ids, it reports them.
    restarted.remember(bracket.iter().map(|o| o.client_id.clone()));
    let open = restarted.open_orders().await.unwrap();
    assert_eq!(
        ids(&open),
        sorted(bracket[1..].iter().map(|o| o.client_id.clone()).collect())
    );
    // A restart takes more than the millisecond of the last nonce.
    tokio::time::sleep(Duration::from_millis(2)).await;
    restarted
        .cancel("BTC", &bracket[2].client_id)
        .await
        .unwrap();
    let target = restarted
        .order("BTC", &bracket[2].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(target.state, OrderState::Canceled);
}

#[tokio::test]
async fn cancel_of_an_unknown_cloid_is_ok() {
    let (fake, _) = venue().await;
    let client = client(&fake);
    let never = ClientId::derive("HL|BTC|never", Leg::Stop);
    assert_eq!(client.order("BTC", &never).await.unwrap(), None);
    client.cancel("BTC", &never).await.unwrap();
    assert!(matches!(
        client.cancel("NOPE", &never).await,
        Err(TradeError::Invalid(_))
    ));
}

/// The next update, failing the test rather than hanging if none comes.
async fn next(updates: &mut tokio::sync::mpsc::Receiver<UserUpdate>) -> UserUpdate {
    tokio::time::timeout(Duration::from_secs(30), updates.recv())
        .await
        .expect("an update")
        .expect("the stream runs")
}

/// Updates until `done` says stop (that one included).
async fn until(
    updates: &mut tokio::sync::mpsc::Receiver<UserUpdate>,
    done: impl Fn(&UserUpdate) -> bool,
) -> Vec<UserUpdate> {
    let mut seen = Vec::new();
    loop {
        let update = next(updates).await;
        let stop = done(&update);
        seen.push(update);
        if stop {
            return seen;
        }
    }
}

fn fills(updates: &[UserUpdate]) -> Vec<&UserFill> {
    updates
        .iter()
        .filter_map(|u| match u {
            UserUpdate::Fill(fill) => Some(fill),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_user_stream_reports_orders_and_each_fill_once_across_reconnects() {
    let (fake, _) = venue().await;
    let client = client(&fake);
    let mut config = UserStreamConfig::new(fake.ws_url());
    config.reconnect.initial = Duration::from_millis(10);
    let (mut updates, task) = client.user_stream(config);
    assert_eq!(next(&mut updates).await, UserUpdate::Connected);

    let bracket = long_bracket("HL|BTC|test|10", OrderKind::Market);
    assert!(client.place(&bracket).await.iter().all(Result::is_ok));
    let seen = until(&mut updates, |u| matches!(u, UserUpdate::Fill(_))).await;
    let entry_fill = fills(&seen)[0].clone();
    assert_eq!(entry_fill.client_id, Some(bracket[0].client_id.clone()));
    assert_eq!(entry_fill.size, d("0.001"));
    assert_eq!(entry_fill.price, d("64000"));
    assert!(!entry_fill.from_snapshot);
    let orders: Vec<&OrderUpdate> = seen
        .iter()
        .filter_map(|u| match u {
            UserUpdate::Order(order) => Some(order),
            _ => None,
        })
        .collect();
    let entry = orders
        .iter()
        .find(|o| o.client_id.as_ref() == Some(&bracket[0].client_id))
        .expect("the entry's update");
    assert_eq!(entry.state, OrderState::Filled);
    for leg in &bracket[1..] {
        let update = orders
            .iter()
            .find(|o| o.client_id.as_ref() == Some(&leg.client_id))
            .expect("the stop's and the target's updates");
        assert_eq!(update.state, OrderState::Open);
    }

    // The socket drops; the stop fills while nothing is connected...
    fake.skip_user_events(true);
    fake.drop_user_streams();
    fake.set_mid("BTC", d("61000"));
    fake.skip_user_events(false);
    // ...and comes with the snapshot after the reconnect; the entry's fill,
    // in the snapshot too, is not passed on again.
    let seen = until(&mut updates, |u| matches!(u, UserUpdate::Fill(_))).await;
    assert!(matches!(seen[0], UserUpdate::Disconnected(_)), "{seen:?}");
    assert!(seen.contains(&UserUpdate::Connected));
    let stop_fill = fills(&seen)[0].clone();
    assert!(stop_fill.from_snapshot);
    assert_eq!(stop_fill.price, d("61000"));
    assert_eq!(stop_fill.side, Side::Sell);
    // No cloid on a fill: its order's update named the id.
    assert_eq!(stop_fill.client_id, Some(bracket[1].client_id.clone()));
    assert_ne!(stop_fill.trade_id, entry_fill.trade_id);

    // A live fill after the reconnect; no fill twice.
    let close = order(
        "HL|BTC|test|11",
        Leg::Entry,
        Side::Buy,
        OrderKind::Market,
        "0.001",
    );
    assert!(client.place(std::slice::from_ref(&close)).await[0].is_ok());
    let seen = until(&mut updates, |u| matches!(u, UserUpdate::Fill(_))).await;
    let live = fills(&seen)[0].clone();
    assert_eq!(live.client_id, Some(close.client_id.clone()));
    assert!(!live.from_snapshot);
    let mut trade_ids = vec![entry_fill.trade_id, stop_fill.trade_id, live.trade_id];
    trade_ids.sort_unstable();
    trade_ids.dedup();
    assert_eq!(trade_ids.len(), 3);
    task.abort();
}

#[tokio::test]
async fn a_batch_answers_each_order_in_turn() {
    let (fake, master) = venue().await;
    let client = client(&fake);
    fake.set_depth("BTC", Some(d("0.0015")));
    let limit = |price: &str| OrderKind::Limit {
        price: d(price),
        expires_at_ms: None,
    };
    let batch = [
        order(
            "HL|BTC|batch|1",
            Leg::Entry,
            Side::Buy,
            limit("60000"),
            "0.001",
        ),
        order(
            "HL|BTC|batch|2",
            Leg::Entry,
            Side::Buy,
            OrderKind::Market,
            "0.002",
        ),
        order(
            "HL|BTC|batch|3",
            Leg::Entry,
            Side::Buy,
            limit("60000.5"),
            "0.001",
        ),
        order(
            "HL|BTC|batch|4",
            Leg::Entry,
            Side::Buy,
            limit("65000"),
            "0.002",
        ),
    ];
    let results = client.place(&batch).await;
    assert_eq!(fake.exchange_requests(), 1);
    let resting = results[0].as_ref().unwrap();
    assert_eq!(resting.state, OrderState::Open);
    // An IOC against a shallow book: part filled, the rest canceled.
    let ioc = results[1].as_ref().unwrap();
    assert_eq!(
        (ioc.state.clone(), ioc.filled),
        (OrderState::Canceled, d("0.0015"))
    );
    assert!(
        matches!(&results[2], Err(TradeError::Refused { message, .. }) if message == "Price must be divisible by tick size.")
    );
    // A GTC: part filled, the rest rests.
    let gtc = results[3].as_ref().unwrap();
    assert_eq!(
        (gtc.state.clone(), gtc.filled),
        (OrderState::PartiallyFilled, d("0.0015"))
    );
    assert_eq!(fake.position(master, "BTC"), d("0.003"));

    let ioc = client
        .order("BTC", &batch[1].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ioc.state, ioc.filled), (OrderState::Canceled, d("0.0015")));
    let open = client.open_orders().await.unwrap();
    let gtc = open
        .iter()
        .find(|o| o.client_id == batch[3].client_id)
        .unwrap();
    assert_eq!(
        (gtc.state.clone(), gtc.filled, gtc.quantity),
        (OrderState::PartiallyFilled, d("0.0015"), d("0.002"))
    );
    assert_eq!(open.len(), 2);
}

#[tokio::test]
async fn an_order_beyond_the_margin_and_a_rate_limited_request_are_refused() {
    let (fake, master) = venue().await;
    let client = client(&fake);
    // 4 BTC is $256 000: $12 800 of margin at 20x, more than the $10 000.
    let big = order(
        "HL|BTC|big|1",
        Leg::Entry,
        Side::Buy,
        OrderKind::Market,
        "4",
    );
    let results = client.place(std::slice::from_ref(&big)).await;
    assert!(
        matches!(&results[0], Err(TradeError::Refused { message, .. }) if message == "Insufficient margin to place order. asset=0"),
        "{results:?}"
    );

    fake.fail_next_exchange(Fault::RateLimited);
    let results = client
        .place(&long_bracket("HL|BTC|test|12", OrderKind::Market))
        .await;
    for result in &results {
        assert!(
            matches!(result, Err(TradeError::Refused { code, .. }) if code == "429"),
            "{result:?}"
        );
    }
    assert_eq!(fake.position(master, "BTC"), Decimal::ZERO);
    assert_eq!(fake.open_orders(master), 0);
}

#[tokio::test]
async fn a_lookup_right_after_placing_may_not_find_the_order_yet() {
    let (fake, master) = venue().await;
    let client = client(&fake);
    let bracket = long_bracket("HL|BTC|test|13", OrderKind::Market);
    fake.lag_order_lookups(1);
    assert!(client.place(&bracket).await.iter().all(Result::is_ok));
    // The venue says it never had it: a caller that resent now would open a
    // second position, so it asks again before trusting a `None`.
    assert_eq!(
        client.order("BTC", &bracket[0].client_id).await.unwrap(),
        None
    );
    let entry = client
        .order("BTC", &bracket[0].client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.state, OrderState::Filled);
    assert_eq!(fake.position(master, "BTC"), d("0.001"));
}

#[tokio::test]
async fn a_stop_added_to_an_open_position_is_a_plain_trigger_that_closes_it() {
    let (fake, master) = venue().await;
    let client = client(&fake);
    let origin = "HL|BTC|test|14";
    let entry = order(origin, Leg::Entry, Side::Buy, OrderKind::Market, "0.001");
    assert_eq!(
        client.place(std::slice::from_ref(&entry)).await[0]
            .as_ref()
            .unwrap()
            .state,
        OrderState::Filled
    );
    // The position has no stop (say, it was lost): one is added on its own.
    let stop = order(
        origin,
        Leg::Stop,
        Side::Sell,
        OrderKind::StopMarket {
            trigger: d("63000"),
        },
        "0.001",
    );
    let placed = client.place(std::slice::from_ref(&stop)).await;
    assert_eq!(placed[0].as_ref().unwrap().state, OrderState::Open);
    assert_eq!(client.open_orders().await.unwrap().len(), 1);
    fake.set_mid("BTC", d("62950"));
    assert_eq!(fake.position(master, "BTC"), Decimal::ZERO);
    let stop = client.order("BTC", &stop.client_id).await.unwrap().unwrap();
    assert_eq!(stop.state, OrderState::Filled);
}

#[tokio::test]
async fn the_client_counts_its_weight_on_the_governors_hyperliquid_host() {
    use quantpro_sources::governor::{Governor, Host};
    let (fake, _) = venue().await;
    let governor = Governor::documented();
    let gate = governor.gate(Host::Hyperliquid);
    let client = client(&fake).with_gate(gate.clone());
    assert!(client
        .place(&long_bracket("HL|BTC|test|15", OrderKind::Market))
        .await
        .iter()
        .all(Result::is_ok));
    // meta 20 + allMids 2 + the order action 1.
    assert_eq!(gate.charged(), 23);
    client.positions().await.unwrap();
    assert_eq!(gate.charged(), 25);
}

#[tokio::test]
async fn flattening_cancels_the_orders_and_closes_the_position() {
    let (fake, master) = venue().await;
    let client = client(&fake);
    let bracket = long_bracket("HL|BTC|test|16", OrderKind::Market);
    assert!(client.place(&bracket).await.iter().all(Result::is_ok));

    // The kill switch: every open order canceled, every position closed
    // with a reduce-only market order (grouping na).
    for open in client.open_orders().await.unwrap() {
        client.cancel(&open.symbol, &open.client_id).await.unwrap();
    }
    for position in client.positions().await.unwrap() {
        let close = OrderRequest {
            client_id: ClientId::derive("HL|BTC|test|16|flatten", Leg::Close),
            leg: Leg::Close,
            symbol: position.symbol.clone(),
            side: if position.quantity > Decimal::ZERO {
                Side::Sell
            } else {
                Side::Buy
            },
            kind: OrderKind::Market,
            quantity: position.quantity.abs(),
            reduce_only: true,
        };
        let closed = client.place(&[close]).await;
        assert_eq!(closed[0].as_ref().unwrap().state, OrderState::Filled);
    }
    assert!(client.open_orders().await.unwrap().is_empty());
    assert!(client.positions().await.unwrap().is_empty());
    assert_eq!(fake.position(master, "BTC"), Decimal::ZERO);
    assert_eq!(fake.open_orders(master), 0);
    // A reduce-only close with nothing to reduce is the venue's refusal.
    let again = order(
        "HL|BTC|test|16|again",
        Leg::Close,
        Side::Sell,
        OrderKind::Market,
        "0.001",
    );
    assert!(matches!(
        &client.place(&[again]).await[0],
        Err(TradeError::Refused { message, .. }) if message == "Reduce only order would increase position."
    ));
}

/// Figures for the benchmark: a bracket from `place` to its answer
/// (entry acknowledged and stop and target in place: one `normalTpsl`
/// action), and the reads of a reconciliation after a restart with 50 open
/// positions (positions, open orders). Run with
/// `cargo test -p quantpro-fakes --test hyperliquid -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a benchmark: prints figures"]
async fn bench_bracket_round_trip_and_reconciliation_of_50_positions() {
    let (fake, _) = venue().await;
    fake.add_account(address(MASTER_KEY), d("100000000"));
    let coins: Vec<String> = (0..50).map(|n| format!("C{n:02}")).collect();
    for coin in &coins {
        fake.add_asset(coin, 3, d("1000"));
    }
    let venue = client(&fake);
    let mut brackets = Vec::new();
    for round in 0..200 {
        let coin = &coins[round % coins.len()];
        let mut bracket = long_bracket(&format!("bench-{round}"), OrderKind::Market);
        bracket[1].kind = OrderKind::StopMarket { trigger: d("900") };
        bracket[2].kind = OrderKind::TakeProfitMarket { trigger: d("1100") };
        for leg in &mut bracket {
            leg.symbol = coin.clone();
            leg.quantity = d("0.02");
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
    show(
        "Hyperliquid bracket (one normalTpsl action acknowledged)",
        brackets,
    );
    show(
        "Hyperliquid reconciliation (50 positions, 400 open orders)",
        reconciles,
    );
}
