//! The executor of `quantpro-service` against the venue fakes, over real
//! HTTP on 127.0.0.1: a signal becomes one bracket at Binance (entry on
//! `/fapi/v1/order`, stop and target on the Algo API) and at Hyperliquid
//! (one `normalTpsl` action); a lost reply is looked up, never placed
//! twice; a stop the venue refuses closes the position at once; a restart
//! reconciles; the kill switch leaves nothing open.

use quantpro_fakes::binance::{FakeBinance, Fault, FaultOn, API_KEY, SECRET};
use quantpro_fakes::hyperliquid::FakeHyperliquid;
use quantpro_model::fixtures::sample_signal;
use quantpro_model::{Exchange, Signal, Strategy};
use quantpro_service::execution::{BracketState, Executor};
use quantpro_service::journal::JournalHandle;
use quantpro_service::settings::{ExecutionSettings, JournalSettings};
use quantpro_sources::clock::Clock;
use quantpro_sources::keys::Secret;
use quantpro_sources::trading::{Leg, TradingVenue};
use quantpro_sources::venues::binance::trading::{BinanceTrading, BinanceTradingConfig};
use quantpro_sources::venues::hyperliquid::signing::{address_of, signing_key_from_hex, Network};
use quantpro_sources::venues::hyperliquid::trading::{
    HyperliquidTrading, HyperliquidTradingConfig,
};
use rust_decimal::Decimal;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// The fixture's LONG BTCUSDT signal: entry 64080.5, stop 63500, target 65500.
fn signal() -> Signal {
    sample_signal("BTCUSDT", Strategy::Legacy)
}

fn executor(dir: &Path, exchange: Exchange, venue: Arc<dyn TradingVenue>) -> Executor {
    let settings = ExecutionSettings::default();
    Executor::paper(
        dir,
        &settings,
        JournalHandle::new(dir),
        JournalSettings::default(),
        Clock::real(),
    )
    .unwrap()
    .with_venue(exchange, venue)
}

async fn binance() -> (FakeBinance, Arc<BinanceTrading>) {
    let fake = FakeBinance::start_default().await;
    fake.set_mark("BTCUSDT", d("64080.5"));
    let client = BinanceTrading::new(
        BinanceTradingConfig::new(fake.url(), Secret::new(API_KEY), Secret::new(SECRET))
            .with_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    (fake, Arc::new(client))
}

fn open_algo_orders(fake: &FakeBinance) -> usize {
    fake.algo_orders()
        .iter()
        .filter(|a| a.status == "NEW")
        .count()
}

#[tokio::test]
async fn a_binance_bracket_is_placed_once_with_its_stop_even_when_the_reply_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, client) = binance().await;
    let executor = executor(dir.path(), Exchange::Binance, client);
    let settings = ExecutionSettings::default();
    // The entry is accepted but its answer never comes back in time.
    fake.fail_next(FaultOn::Order, Fault::Stall(Duration::from_secs(2)));
    let bracket = executor
        .open(&signal(), 1_721_088_000_000, &settings)
        .await
        .unwrap();
    assert_eq!(bracket.state, BracketState::Open, "{:?}", bracket.note);
    assert_eq!(fake.position("BTCUSDT").amount, bracket.sizing.quantity);
    let entry_id = bracket
        .leg(Leg::Entry)
        .unwrap()
        .request
        .client_id
        .to_string();
    let entries = fake
        .orders()
        .iter()
        .filter(|o| o.client_order_id == entry_id)
        .count();
    assert_eq!(entries, 1, "looked up by its client id, never placed twice");
    assert_eq!(
        open_algo_orders(&fake),
        2,
        "the stop and the target on the Algo API"
    );

    // A restart reads the bracket back and finds it whole at the venue.
    drop(executor);
    let client = BinanceTrading::new(BinanceTradingConfig::new(
        fake.url(),
        Secret::new(API_KEY),
        Secret::new(SECRET),
    ))
    .unwrap();
    let restarted = self::executor(dir.path(), Exchange::Binance, Arc::new(client));
    assert!(
        restarted.sync().await.unwrap().is_empty(),
        "nothing changed while it was down"
    );
    let positions = restarted.positions(&settings).await.unwrap();
    assert_eq!(positions.open.len(), 1);
    assert_eq!(positions.open[0].mark, Some(d("64080.5")));

    // The mark falls through the stop: the venue closes it, a sync sees it.
    fake.set_mark("BTCUSDT", d("63400"));
    let changed = restarted.sync().await.unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].state, BracketState::Closed);
    assert_eq!(fake.position("BTCUSDT").amount, Decimal::ZERO);
    assert_eq!(
        open_algo_orders(&fake),
        0,
        "the target went with the position"
    );
}

#[tokio::test]
async fn a_stop_binance_refuses_closes_the_entry_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, client) = binance().await;
    let executor = executor(dir.path(), Exchange::Binance, client);
    fake.fail_next(
        FaultOn::AlgoOrder,
        Fault::Refuse {
            status: 400,
            code: -2021,
            msg: "Order would immediately trigger.".into(),
        },
    );
    let bracket = executor
        .open(&signal(), 1_721_088_000_000, &ExecutionSettings::default())
        .await
        .unwrap();
    assert_eq!(bracket.state, BracketState::Closed);
    let note = bracket.note.unwrap();
    assert!(
        note.contains("the stop could not be placed") && note.contains("-2021"),
        "{note}"
    );
    assert_eq!(
        fake.position("BTCUSDT").amount,
        Decimal::ZERO,
        "no entry without its stop"
    );
    assert_eq!(open_algo_orders(&fake), 0);
}

#[tokio::test]
async fn the_kill_switch_leaves_nothing_open_at_binance() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, client) = binance().await;
    fake.set_mark("ETHUSDT", d("3000"));
    let executor = executor(dir.path(), Exchange::Binance, client);
    let settings = ExecutionSettings::default();
    executor
        .open(&signal(), 1_721_088_000_000, &settings)
        .await
        .unwrap();
    let mut eth = sample_signal("ETHUSDT", Strategy::Legacy);
    let setup = eth.setup.as_mut().unwrap();
    (setup.entry, setup.sl, setup.tp, eth.price) = (3000.0, 2950.0, 3100.0, 3000.0);
    executor
        .open(&eth, 1_721_088_000_000, &settings)
        .await
        .unwrap();
    assert_eq!(open_algo_orders(&fake), 4);
    let done = executor.flatten().await.unwrap();
    assert!(done.errors.is_empty(), "{done:?}");
    assert_eq!(done.closed.len(), 2);
    for symbol in ["BTCUSDT", "ETHUSDT"] {
        assert_eq!(fake.position(symbol).amount, Decimal::ZERO, "{symbol}");
    }
    assert_eq!(open_algo_orders(&fake), 0);
}

const MASTER_KEY: &str = "0x2222222222222222222222222222222222222222222222222222222222222222";
const AGENT_KEY: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

#[tokio::test]
async fn a_hyperliquid_bracket_is_one_action_with_its_stop_and_the_kill_switch_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeHyperliquid::start(Network::Testnet).await;
    let address = |key: &str| address_of(&signing_key_from_hex(key).unwrap());
    let master = address(MASTER_KEY);
    fake.add_account(master, d("10000"));
    fake.approve_agent(address(AGENT_KEY), master);
    fake.set_mid("BTC", d("64080"));
    let account: String = master.iter().map(|b| format!("{b:02x}")).collect();
    let client = HyperliquidTrading::new(
        HyperliquidTradingConfig::new(
            Network::Testnet,
            Secret::new(AGENT_KEY),
            format!("0x{account}"),
        )
        .with_base_url(fake.url()),
    )
    .unwrap();
    let executor = executor(dir.path(), Exchange::Hyperliquid, Arc::new(client));
    let mut btc = sample_signal("BTC", Strategy::Legacy);
    btc.exchange = Exchange::Hyperliquid;
    let bracket = executor
        .open(&btc, 1_721_088_000_000, &ExecutionSettings::default())
        .await
        .unwrap();
    assert_eq!(bracket.state, BracketState::Open, "{:?}", bracket.note);
    assert_eq!(
        fake.exchange_requests(),
        1,
        "entry, stop and target in one action"
    );
    assert_eq!(fake.position(master, "BTC"), bracket.sizing.quantity);
    assert_eq!(fake.open_orders(master), 2, "the stop and the target rest");

    let done = executor.flatten().await.unwrap();
    assert!(done.errors.is_empty(), "{done:?}");
    assert_eq!(fake.position(master, "BTC"), Decimal::ZERO);
    assert_eq!(fake.open_orders(master), 0);
}

/// The executor's figures against the Hyperliquid fake (a bench, ignored by
/// default: `cargo test -p quantpro-fakes --release --test executor --
/// --ignored --nocapture`): confirm -> bracket complete (entry, stop and
/// target acknowledged, recorded in the journal) for 50 symbols, and a
/// reconciliation (`sync`) with 50 open positions.
#[tokio::test]
#[ignore]
async fn bench_confirm_to_bracket_and_reconciliation_of_50_positions() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeHyperliquid::start(Network::Testnet).await;
    let address = |key: &str| address_of(&signing_key_from_hex(key).unwrap());
    let master = address(MASTER_KEY);
    fake.add_account(master, d("1000000"));
    fake.approve_agent(address(AGENT_KEY), master);
    let coins: Vec<String> = (0..50).map(|i| format!("C{i:02}")).collect();
    for coin in &coins {
        fake.add_asset(coin, 3, d("64080"));
    }
    let account: String = master.iter().map(|b| format!("{b:02x}")).collect();
    let client = HyperliquidTrading::new(
        HyperliquidTradingConfig::new(
            Network::Testnet,
            Secret::new(AGENT_KEY),
            format!("0x{account}"),
        )
        .with_base_url(fake.url()),
    )
    .unwrap();
    let settings = ExecutionSettings {
        max_open_positions: 100,
        max_notional: d("1000"),
        ..ExecutionSettings::default()
    };
    let executor = Executor::paper(
        dir.path(),
        &settings,
        JournalHandle::new(dir.path()),
        JournalSettings::default(),
        Clock::real(),
    )
    .unwrap()
    .with_venue(Exchange::Hyperliquid, Arc::new(client));
    let mut confirm = Vec::new();
    for coin in &coins {
        let mut signal = sample_signal(coin, Strategy::Legacy);
        signal.exchange = Exchange::Hyperliquid;
        let started = std::time::Instant::now();
        let bracket = executor
            .open(&signal, 1_721_088_000_000, &settings)
            .await
            .unwrap();
        confirm.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(bracket.state, BracketState::Open, "{:?}", bracket.note);
    }
    let mut sync = Vec::new();
    for _ in 0..10 {
        let started = std::time::Instant::now();
        executor.sync().await.unwrap();
        sync.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let stats = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.99))
    };
    let (median, p99) = stats(confirm);
    println!("confirm -> bracket complete (Hyperliquid fake, 50 symbols): median {median:.1} ms, p99 {p99:.1} ms");
    let (median, p99) = stats(sync);
    println!(
        "reconciliation of 50 open positions (150 orders): median {median:.1} ms, p99 {p99:.1} ms"
    );
}

/// Live Binance as `[execution]` configures it (keys from the environment
/// only): the user stream wakes the executor when the venue fills the stop,
/// without waiting for the 30 s poll.
#[tokio::test]
async fn the_user_stream_wakes_the_executor_when_the_venue_fills_the_stop() {
    use quantpro_service::execution::build_executor;
    use quantpro_service::settings::{Environment, SettingsStore};
    let dir = tempfile::tempdir().unwrap();
    let (fake, _) = binance().await;
    let config = dir.path().join("quantpro.toml");
    std::fs::write(
        &config,
        format!(
            "[execution]\nbinance = \"live\"\nbinance_url = \"{}\"\nbinance_stream_url = \"{}\"\n",
            fake.url(),
            fake.ws_url()
        ),
    )
    .unwrap();
    let env =
        Environment::from_pairs([("BINANCE_API_KEY", API_KEY), ("BINANCE_API_SECRET", SECRET)]);
    let settings = SettingsStore::new(&config, env.clone()).load().unwrap();
    let executor = build_executor(
        dir.path(),
        &settings,
        &env,
        JournalHandle::new(dir.path()),
        Clock::real(),
        true,
    )
    .unwrap();
    assert!(executor.venue(Exchange::Binance).unwrap().is_live());
    let bracket = executor
        .open(&signal(), 1_721_088_000_000, &settings.execution)
        .await
        .unwrap();
    assert_eq!(bracket.state, BracketState::Open, "{:?}", bracket.note);
    // The placement's own events ring first: their (single) stored wake-up
    // is taken, so the next one is the stop's.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = tokio::time::timeout(Duration::from_millis(50), executor.woken()).await;
    fake.set_mark("BTCUSDT", d("63400"));
    tokio::time::timeout(Duration::from_secs(10), executor.woken())
        .await
        .expect("the user stream reported the stop's fill");
    let changed = executor.sync().await.unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].state, BracketState::Closed);
}

/// A Binance account in hedge mode refuses one-way orders (-4061): the
/// readiness check says so before any order, the ticket shows it and the
/// confirmation is refused until the account is switched.
#[tokio::test]
async fn a_hedge_mode_account_is_refused_before_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, client) = binance().await;
    fake.set_hedge_mode(true);
    let executor = executor(dir.path(), Exchange::Binance, client);
    let problems = executor.check_venues().await;
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("hedge mode"), "{problems:?}");
    let settings = ExecutionSettings::default();
    let ticket = executor.ticket(&signal(), &settings).await.unwrap();
    assert!(ticket.refusal.unwrap().contains("hedge mode"));
    assert!(executor
        .open(&signal(), 1_721_088_000_000, &settings)
        .await
        .is_err());
    assert!(fake.orders().is_empty(), "nothing was sent");

    fake.set_hedge_mode(false);
    assert!(executor.check_venues().await.is_empty());
    let bracket = executor
        .open(&signal(), 1_721_088_000_000, &settings)
        .await
        .unwrap();
    assert_eq!(bracket.state, BracketState::Open);
}
