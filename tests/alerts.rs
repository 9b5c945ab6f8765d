//! Alerts seen from outside, on virtual time: rules from `quantpro.toml`,
//! the alerter deciding and delivering to local fakes of each protocol on
//! 127.0.0.1 (Telegram Bot API, Discord webhook, a signed JSON webhook),
//! each fake a task of the test's runtime so it shares the paused clock.
//! Flaky, failing, slow and garbled channels; once, cooldown and cap; a
//! restart and a second process over the same journal (SQLite, and
//! PostgreSQL when `QUANTPRO_TEST_DATABASE_URL` names a server); rules
//! saved from the dashboard taking effect; and the simulated live loop
//! driving it, signal turns and resolved journal trades alike.

#![cfg(feature = "ssr")]

#[path = "common/http_fake.rs"]
mod http_fake;
#[path = "common/journal_backends.rs"]
mod journal_backends;
#[path = "common/served_app.rs"]
mod served_app;

use http_fake::{FakeServer, Received, Reply};
use journal_backends::backends;
use quantpro_core::scan::NoProgress;
use quantpro_core::synthetic::{generate_dataset, SyntheticSpec};
use quantpro_model::{
    Action, Exchange, MasterFeed, Outcome, Side, Signal, Strategy, Trade, TradeSetup,
};
use quantpro_service::alerts::channels::{signature, ChannelState};
use quantpro_service::alerts::{
    turned_signals, AlertKind, AlertLogEntry, Alerter, DeliveryState, JournalAlertStore,
};
use quantpro_service::alerts::{AlertEngine, AlertStore, Decision, DeliveryRecord};
use quantpro_service::feed_store::FeedStore;
use quantpro_service::journal::{JournalEntry, JournalHandle};
use quantpro_service::live::LiveLoop;
use quantpro_service::pipeline::{DataPaths, PipelineRequest, ScanPipeline};
use quantpro_service::settings::{Environment, Settings, SettingsStore, UniverseSettings};
use quantpro_sources::clock::Clock;
use quantpro_sources::governor::Governor;
use quantpro_sources::keys::Secret;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// 2026-03-02 10:07 UTC.
const T0: i64 = 1_772_446_020_000;
const M15: i64 = 900_000;
const TOKEN: &str = "123456:ABC-secret-token";
const CHAT: &str = "-1001234567890";
const DISCORD_TOKEN: &str = "discord-webhook-token";
const HOOK_SECRET: &str = "whsec_test";

fn paths(dir: &Path) -> DataPaths {
    DataPaths {
        data_dir: dir.join("data"),
        feed_path: dir.join("data").join("master_feed.json"),
        config_path: dir.join("quantpro.toml"),
    }
}

/// Real signals: a scan of a small generated data set.
async fn scanned_signals() -> Vec<Signal> {
    let dir = tempfile::tempdir().unwrap();
    let paths = paths(dir.path());
    let spec = SyntheticSpec {
        n_symbols: 2,
        first_index: 0,
        n_15m: 400,
        n_4h: 260,
        seed: 7,
        end_ms: T0,
        exchange: Exchange::Binance,
    };
    generate_dataset(&paths.data_dir, &spec).unwrap();
    let feed_path = paths.feed_path.clone();
    let pipeline = ScanPipeline::build(paths, Environment::default()).unwrap();
    let request = PipelineRequest {
        now_ms: Some(T0),
        ..PipelineRequest::default()
    };
    pipeline.run(&request, Arc::new(NoProgress)).await.unwrap();
    let feed = MasterFeed::parse(&std::fs::read_to_string(feed_path).unwrap()).unwrap();
    assert!(!feed.signals.is_empty());
    feed.signals
}

/// `template` as `symbol`'s Breakout signal acting `action` at `candle`.
fn acting(template: &Signal, symbol: &str, candle: i64, action: Action) -> Signal {
    let mut signal = template.clone();
    signal.symbol = symbol.to_string();
    signal.canonical_symbol = symbol.trim_end_matches("USDT").to_string();
    signal.exchange = Exchange::Binance;
    signal.strategy = Strategy::Breakout;
    signal.action = action;
    signal.score = 72.5;
    signal.ltf.last_candle_time = Some(candle);
    signal.setup = match action {
        Action::Long => Some(TradeSetup {
            side: Side::Long,
            entry: 100.0,
            sl: 95.0,
            tp: 112.5,
            rr: 2.5,
        }),
        Action::Short => Some(TradeSetup {
            side: Side::Short,
            entry: 100.0,
            sl: 105.0,
            tp: 87.5,
            rr: 2.5,
        }),
        _ => None,
    };
    signal
}

fn telegram_protocol(r: &Received) -> Reply {
    if r.path != format!("/bot{TOKEN}/sendMessage") {
        return Reply::json(
            404,
            serde_json::json!({"ok": false, "error_code": 404, "description": "Not Found"}),
        );
    }
    let body = r.json();
    if body["text"].as_str().is_none_or(str::is_empty) || body["chat_id"].is_null() {
        return Reply::json(
            400,
            serde_json::json!({"ok": false, "error_code": 400, "description": "Bad Request: message text is empty"}),
        );
    }
    Reply::json(
        200,
        serde_json::json!({"ok": true, "result": {"message_id": 42, "date": 1721088905,
            "chat": {"id": body["chat_id"], "type": "supergroup"}, "text": body["text"]}}),
    )
}

fn discord_protocol(r: &Received) -> Reply {
    if r.path != format!("/api/v10/webhooks/42/{DISCORD_TOKEN}") {
        return Reply::json(
            404,
            serde_json::json!({"message": "Unknown Webhook", "code": 10015}),
        );
    }
    let content = r.json()["content"].as_str().unwrap_or("").to_string();
    if content.is_empty() {
        return Reply::json(
            400,
            serde_json::json!({"message": "Cannot send an empty message", "code": 50006}),
        );
    }
    if r.query.get("wait").map(String::as_str) == Some("true") {
        Reply::json(
            200,
            serde_json::json!({"id": "1100000000000000001", "content": content}),
        )
    } else {
        Reply::status(204)
    }
}

/// A receiver that checks the signature like a real one would.
fn hook_protocol(r: &Received) -> Reply {
    let expected = signature(&Secret::new(HOOK_SECRET), &r.body);
    if r.header("x-quantpro-signature") != Some(expected.as_str()) {
        return Reply::text(401, "bad signature");
    }
    Reply::status(204)
}

/// A receiver that answers only after `delay` (on the test's clock).
async fn slow_server(delay: Duration) -> String {
    let app = axum::Router::new().fallback(move || async move {
        tokio::time::sleep(delay).await;
        "ok"
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    uri
}

struct Fakes {
    telegram: FakeServer,
    discord: FakeServer,
    hook: FakeServer,
}

impl Fakes {
    async fn start() -> Fakes {
        Fakes {
            telegram: FakeServer::start(telegram_protocol).await,
            discord: FakeServer::start(discord_protocol).await,
            hook: FakeServer::start(hook_protocol).await,
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("QUANTPRO_TELEGRAM_TOKEN".into(), TOKEN.into()),
            ("QUANTPRO_TELEGRAM_CHAT_ID".into(), CHAT.into()),
            (
                "QUANTPRO_DISCORD_WEBHOOK".into(),
                format!("{}/api/webhooks/42/{DISCORD_TOKEN}", self.discord.uri),
            ),
            ("QUANTPRO_WEBHOOK_SECRET".into(), HOOK_SECRET.into()),
        ]
    }

    /// `[alerts]` with the three fakes as channels tg, discord and hook.
    fn config(&self, rule_channels: &str, extra: &str) -> String {
        format!(
            r#"[alerts]
max_tries = 4
backoff_ms = 1000
timeout_secs = 10
[[alerts.rules]]
name = "turns"
channels = [{rule_channels}]
[alerts.channels.tg]
kind = "telegram"
base_url = "{}"
[alerts.channels.discord]
kind = "discord"
[alerts.channels.hook]
kind = "webhook"
url = "{}/hook"
secret_env = "QUANTPRO_WEBHOOK_SECRET"
{extra}"#,
            self.telegram.uri, self.hook.uri
        )
    }
}

/// What most tests start from: a real signal to vary, a directory, the fakes.
struct Bench {
    template: Signal,
    dir: tempfile::TempDir,
    fakes: Fakes,
}

impl Bench {
    async fn start() -> Bench {
        Bench {
            template: scanned_signals().await.remove(0),
            dir: tempfile::tempdir().unwrap(),
            fakes: Fakes::start().await,
        }
    }
}

/// An alerter over `config` (a whole `quantpro.toml`) read the way the
/// server reads it, with its records in the journal of `dir/data` (or of
/// `QUANTPRO_JOURNAL__DATABASE_URL` in `env`).
async fn alerter(dir: &Path, config: &str, env: Vec<(String, String)>, clock: Clock) -> Alerter {
    let path = dir.join("quantpro.toml");
    std::fs::write(&path, config).unwrap();
    let env = Environment::from_pairs(env);
    let settings = SettingsStore::new(path, env.clone()).load().unwrap();
    let journal = JournalHandle::new(dir.join("data"));
    let store = Arc::new(JournalAlertStore::new(journal, settings.journal));
    let alerter = Alerter::new(settings.alerts, &env, &Governor::documented(), store, clock);
    alerter.restore().await.unwrap();
    alerter
}

fn delivery<'a>(entry: &'a AlertLogEntry, channel: &str) -> &'a DeliveryState {
    &entry
        .deliveries
        .iter()
        .find(|d| d.channel == channel)
        .unwrap_or_else(|| panic!("{channel} in {entry:?}"))
        .state
}

fn failure(state: &DeliveryState) -> &str {
    match state {
        DeliveryState::Failed { reason, .. } => reason,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_turn_reaches_every_channel_once_in_its_protocol() {
    let Bench {
        template,
        dir,
        fakes,
    } = Bench::start().await;
    let config = fakes.config(r#""tg", "discord", "hook", "browser""#, "");
    let alerter = alerter(
        dir.path(),
        &config,
        fakes.env(),
        Clock::starting_at(T0, 1.0),
    )
    .await;
    let mut browser = alerter.subscribe();

    let before = vec![
        acting(&template, "AAAUSDT", T0 - 2 * M15, Action::Wait),
        acting(&template, "BBBUSDT", T0 - 2 * M15, Action::Long),
        acting(&template, "CCCUSDT", T0 - 2 * M15, Action::Wait),
    ];
    let after = vec![
        acting(&template, "AAAUSDT", T0 - M15, Action::Long),
        // Still LONG and still WAIT: no change, no alert.
        acting(&template, "BBBUSDT", T0 - M15, Action::Long),
        acting(&template, "CCCUSDT", T0 - M15, Action::Wait),
    ];
    let fired = alerter.on_feed_change(&before, &after).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    alerter.settled().await;

    let telegram = fakes.telegram.requests();
    assert_eq!(telegram.len(), 1);
    let message = telegram[0].json();
    assert_eq!(message["chat_id"], serde_json::json!(-1001234567890i64));
    assert_eq!(message["link_preview_options"]["is_disabled"], true);
    let text = message["text"].as_str().unwrap();
    for part in [
        "AAAUSDT LONG · Breakout · BINANCE",
        "score 72.5",
        "entry 100.0000 · SL 95.0000 · TP 112.5000 · RR 2.50",
        "/signal/BINANCE/AAAUSDT/Breakout",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }

    let discord = fakes.discord.requests();
    assert_eq!(discord.len(), 1);
    let posted = discord[0].json();
    assert_eq!(posted["content"].as_str().unwrap(), text);
    assert_eq!(posted["allowed_mentions"]["parse"], serde_json::json!([]));

    let hook = fakes.hook.requests();
    assert_eq!(hook.len(), 1, "the signature was accepted at once");
    let alert = &hook[0].json()["alert"];
    assert_eq!(alert["symbol"], "AAAUSDT");
    assert_eq!(alert["setup"]["side"], "LONG");
    assert_eq!(alert["setup"]["rr"], 2.5);
    assert_eq!(
        hook[0].header("x-quantpro-event-id"),
        alert["id"].as_str(),
        "the id a receiver deduplicates by"
    );

    let toast = browser.try_recv().unwrap();
    assert_eq!(toast.symbol.as_deref(), Some("AAAUSDT"));

    let log = alerter.log();
    assert_eq!(log.entries.len(), 1);
    for channel in ["tg", "discord", "hook", "browser"] {
        assert!(
            matches!(
                delivery(&log.entries[0], channel),
                DeliveryState::Delivered { .. }
            ),
            "{channel}: {:?}",
            log.entries[0]
        );
    }
    assert!(log
        .channels
        .iter()
        .all(|c| c.state == ChannelState::Ready && c.delivered == 1));
    let shown = serde_json::to_string(&log).unwrap();
    assert!(
        !shown.contains(TOKEN) && !shown.contains(DISCORD_TOKEN) && !shown.contains(HOOK_SECRET),
        "no secret in the log: {shown}"
    );

    // The same change seen again (a second rescan of the same candle): nothing.
    assert!(alerter.on_feed_change(&before, &after).await.is_empty());
    alerter.settled().await;
    assert_eq!(fakes.telegram.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_flaky_a_dead_and_a_slow_channel_each_keep_their_trouble_to_themselves() {
    let Bench {
        template,
        dir,
        fakes,
    } = Bench::start().await;
    // Two 500s, then the protocol's answer.
    fakes
        .hook
        .script("/hook", 2, Reply::text(500, "upstream down"));
    let dead = FakeServer::start(|_| Reply::text(503, "maintenance")).await;
    let slow = slow_server(Duration::from_secs(3600)).await;
    let extra = format!(
        "[alerts.channels.dead]\nkind = \"webhook\"\nurl = \"{}/in\"\n[alerts.channels.slow]\nkind = \"webhook\"\nurl = \"{slow}/in\"\n",
        dead.uri
    );
    let config = fakes.config(r#""slow", "dead", "hook", "tg""#, &extra);
    let clock = Clock::starting_at(T0, 1.0);
    let alerter = alerter(dir.path(), &config, fakes.env(), clock).await;

    let started = tokio::time::Instant::now();
    let fired = alerter
        .on_feed_change(
            &[],
            &[acting(&template, "AAAUSDT", T0 - M15, Action::Short)],
        )
        .await;
    assert_eq!(fired.len(), 1);
    // The decision returns at once: deliveries run on their own.
    assert_eq!(tokio::time::Instant::now(), started);

    // One second later Telegram has it while the others are still at it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let entry = alerter.log().entries[0].clone();
    assert!(
        matches!(delivery(&entry, "tg"), DeliveryState::Delivered { at_ms } if *at_ms < T0 + 1000)
    );
    assert_eq!(delivery(&entry, "slow"), &DeliveryState::Pending);
    assert_eq!(fakes.telegram.requests().len(), 1);

    alerter.settled().await;
    let log = alerter.log();
    let entry = &log.entries[0];
    assert!(matches!(
        delivery(entry, "hook"),
        DeliveryState::Delivered { .. }
    ));
    let hook = fakes.hook.requests();
    assert_eq!(hook.len(), 3, "two failures, then delivered");
    assert!(
        hook[2].at - hook[1].at >= Duration::from_secs(2)
            && hook[1].at - hook[0].at >= Duration::from_secs(1),
        "backoff doubles between attempts"
    );
    let dead_reason = failure(delivery(entry, "dead"));
    assert!(
        dead_reason.contains("gave up after 4 tries")
            && dead_reason.contains("HTTP 503: maintenance"),
        "{dead_reason}"
    );
    assert_eq!(dead.requests().len(), 4);
    let slow_reason = failure(delivery(entry, "slow"));
    assert!(slow_reason.contains("timeout"), "{slow_reason}");

    let state = |name: &str| {
        log.channels
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .clone()
    };
    assert_eq!(state("hook").state, ChannelState::Ready);
    assert_eq!(state("dead").state, ChannelState::Failing);
    assert_eq!(state("dead").reason.as_deref(), Some(dead_reason));
    assert_eq!(
        (state("slow").state, state("slow").failed),
        (ChannelState::Failing, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn garbage_answers_are_failed_deliveries_with_the_reason() {
    let Bench {
        template,
        dir,
        fakes,
    } = Bench::start().await;
    let proxy_page = Reply::text(200, "<html><body>Welcome to nginx!</body></html>");
    fakes.telegram.script("/", 100, proxy_page.clone());
    fakes
        .discord
        .script("/", 100, Reply::text(200, "{\"truncated\":"));
    let config = fakes.config(r#""tg", "discord""#, "");
    let alerter = alerter(
        dir.path(),
        &config,
        fakes.env(),
        Clock::starting_at(T0, 1.0),
    )
    .await;
    alerter
        .on_feed_change(&[], &[acting(&template, "AAAUSDT", T0 - M15, Action::Long)])
        .await;
    alerter.settled().await;
    let entry = &alerter.log().entries[0];
    let telegram = failure(delivery(entry, "tg"));
    assert!(
        telegram.contains("HTTP 200 without a Bot API answer: <html><body>Welcome to nginx!"),
        "{telegram}"
    );
    let discord = failure(delivery(entry, "discord"));
    assert!(
        discord.contains("HTTP 200 without a message object"),
        "{discord}"
    );
    assert_eq!(fakes.telegram.requests().len(), 4, "garbage is retried");
    assert_eq!(fakes.discord.requests().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn cooldown_and_the_hourly_cap_hold() {
    let Bench {
        template,
        dir,
        fakes,
    } = Bench::start().await;
    let config = fakes.config(r#""tg""#, "");
    let clock = Clock::starting_at(T0, 1.0);
    let alerter = alerter(dir.path(), &config, fakes.env(), clock).await;

    // A storm: 21 symbols turn at one close; the cap is 20 an hour.
    let symbols: Vec<String> = (0..21).map(|i| format!("S{i:02}USDT")).collect();
    let after: Vec<Signal> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut signal = acting(&template, s, T0 - M15, Action::Long);
            signal.score = 90.0 - i as f64;
            signal
        })
        .collect();
    let fired = alerter.on_feed_change(&[], &after).await;
    assert_eq!(fired.len(), 21, "20 alerts and one summary");
    assert_eq!(fired[20].kind, AlertKind::Summary);
    assert_eq!(
        fired[20].title,
        "1 more alerts held back (at most 20 an hour)"
    );
    assert_eq!(fired[20].lines, ["S20USDT LONG · Breakout · BINANCE"]);
    alerter.settled().await;
    let sent = fakes.telegram.requests();
    assert_eq!(sent.len(), 21);
    let log = alerter.log();
    let held: Vec<&AlertLogEntry> = log.entries.iter().filter(|e| e.held).collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].symbol.as_deref(), Some("S20USDT"));

    // Within the hour another symbol turns: capped, and the hour's summary is spent.
    let late = acting(&template, "LATEUSDT", T0, Action::Short);
    assert!(alerter.on_feed_change(&[], &[late]).await.is_empty());

    // S00 turns SHORT one close later: inside its 4 h cooldown, quiet.
    tokio::time::advance(Duration::from_secs(2 * 3600)).await;
    let flip = |candle| vec![acting(&template, "S00USDT", candle, Action::Short)];
    assert!(alerter
        .on_feed_change(&after[..1], &flip(T0))
        .await
        .is_empty());
    // After the cooldown the next turn fires.
    tokio::time::advance(Duration::from_secs(2 * 3600 + 60)).await;
    let fired = alerter
        .on_feed_change(
            &flip(T0),
            &[acting(&template, "S00USDT", T0 + 16 * M15, Action::Long)],
        )
        .await;
    assert_eq!(fired.len(), 1);
    alerter.settled().await;
    assert_eq!(fakes.telegram.requests().len(), 22);
}

/// The alert records of the journal a test's alerters share (the one
/// `alerter` opens): the decisions, and the deliveries of `id`. Read on the
/// journal's own runtime (the test's clock is paused).
async fn alert_records(
    dir: &Path,
    env: &[(String, String)],
    id: &str,
) -> (Vec<Decision>, Vec<DeliveryRecord>) {
    let settings = SettingsStore::new(
        dir.join("quantpro.toml"),
        Environment::from_pairs(env.to_vec()),
    )
    .load()
    .unwrap();
    let id = id.to_string();
    JournalHandle::new(dir.join("data"))
        .with_journal(&settings.journal, move |journal| async move {
            Ok((
                journal.alert_decisions_since(0).await?,
                journal.alert_deliveries(&id).await?,
            ))
        })
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_restart_over_the_same_journal_sends_nothing_twice() {
    let template = scanned_signals().await.remove(0);
    for backend in backends("alerts_restart").await {
        let what = backend.name();
        let dir = tempfile::tempdir().unwrap();
        let fakes = Fakes::start().await;
        let mut env = fakes.env();
        env.extend(backend.env_pairs());
        let config = fakes.config(r#""tg", "hook""#, "");
        let before = vec![acting(&template, "AAAUSDT", T0 - 2 * M15, Action::Wait)];
        let after = vec![acting(&template, "AAAUSDT", T0 - M15, Action::Long)];

        let first = alerter(
            dir.path(),
            &config,
            env.clone(),
            Clock::starting_at(T0, 1.0),
        )
        .await;
        let fired = first.on_feed_change(&before, &after).await;
        assert_eq!(fired.len(), 1, "{what}");
        first.settled().await;
        drop(first);

        // Ten minutes later a new process over the same journal.
        let second = alerter(
            dir.path(),
            &config,
            env.clone(),
            Clock::starting_at(T0 + 600_000, 1.0),
        )
        .await;
        assert!(
            second.on_feed_change(&before, &after).await.is_empty(),
            "{what}"
        );
        // The cooldown survives the restart too.
        let flipped = vec![acting(&template, "AAAUSDT", T0, Action::Short)];
        assert!(
            second.on_feed_change(&after, &flipped).await.is_empty(),
            "{what}"
        );
        second.settled().await;
        assert_eq!(fakes.telegram.requests().len(), 1, "{what}");
        assert_eq!(fakes.hook.requests().len(), 1, "{what}");

        let (decisions, deliveries) = alert_records(dir.path(), &env, &fired[0].id).await;
        assert_eq!(
            deliveries
                .iter()
                .map(|d| (d.channel.as_str(), d.delivered, d.reason.clone()))
                .collect::<Vec<_>>(),
            [("hook", true, None), ("tg", true, None)],
            "{what}: each channel's delivery recorded once"
        );
        assert_eq!(decisions.len(), 1, "{what}: {decisions:?}");
        assert!(decisions.iter().all(|d| !d.id.contains(TOKEN)));
    }
}

/// Two processes on one journal, neither knowing of the other's alerts
/// (both started before either fired): the one that records the decision
/// first sends, the other leaves it alone.
#[tokio::test(start_paused = true)]
async fn a_second_process_on_the_same_journal_never_sends_the_same_alert() {
    let template = scanned_signals().await.remove(0);
    for backend in backends("alerts_two_writers").await {
        let what = backend.name();
        let dir = tempfile::tempdir().unwrap();
        let fakes = Fakes::start().await;
        let mut env = fakes.env();
        env.extend(backend.env_pairs());
        let config = fakes.config(r#""tg""#, "");
        let clock = Clock::starting_at(T0, 1.0);
        let one = alerter(dir.path(), &config, env.clone(), clock).await;
        let other = alerter(dir.path(), &config, env.clone(), clock).await;
        let after = vec![acting(&template, "AAAUSDT", T0 - M15, Action::Long)];
        assert_eq!(one.on_feed_change(&[], &after).await.len(), 1, "{what}");
        assert!(other.on_feed_change(&[], &after).await.is_empty(), "{what}");
        one.settled().await;
        other.settled().await;
        assert_eq!(fakes.telegram.requests().len(), 1, "{what}");
        assert!(
            other.log().entries.is_empty(),
            "{what}: not the other's alert"
        );
    }
}

/// Rules saved from the dashboard are in force for the next events, and
/// what was decided before still counts.
#[tokio::test(start_paused = true)]
async fn replaced_rules_take_effect_without_a_restart() {
    let Bench {
        template,
        dir,
        fakes,
    } = Bench::start().await;
    let config = fakes.config(r#""tg""#, "");
    let alerter = alerter(
        dir.path(),
        &config,
        fakes.env(),
        Clock::starting_at(T0, 1.0),
    )
    .await;
    let turn = |symbol| vec![acting(&template, symbol, T0 - M15, Action::Long)];
    assert_eq!(alerter.on_feed_change(&[], &turn("AAAUSDT")).await.len(), 1);

    let mut strict = alerter.settings();
    strict.rules[0].min_score = Some(90.0);
    strict.rules[0].channels = vec!["hook".into()];
    alerter.replace_settings(strict);
    assert!(
        alerter
            .on_feed_change(&[], &turn("BBBUSDT"))
            .await
            .is_empty(),
        "score 72.5 is below the new minimum"
    );
    let mut loose = alerter.settings();
    loose.rules[0].min_score = None;
    alerter.replace_settings(loose);
    assert!(
        alerter
            .on_feed_change(&[], &turn("AAAUSDT"))
            .await
            .is_empty(),
        "the same candle still fires once"
    );
    assert_eq!(alerter.on_feed_change(&[], &turn("CCCUSDT")).await.len(), 1);
    alerter.settled().await;
    assert_eq!(fakes.telegram.requests().len(), 1);
    assert_eq!(fakes.hook.requests().len(), 1, "the new rule's channel");
}

#[tokio::test]
async fn an_invalid_rule_is_refused_at_start_with_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let paths = paths(dir.path());
    let cases = [
        (
            "[[alerts.rules]]\nname = \"x\"\nmin_score = 150\n",
            "'alerts.rules[0].min_score' must be between 0 and 100, got 150",
        ),
        (
            "[[alerts.rules]]\nname = \"x\"\nchannels = [\"pager\"]\n",
            "'alerts.rules[0].channels' names \"pager\", which is not a channel",
        ),
        (
            "[alerts.channels.hook]\nkind = \"webhook\"\nurl = \"ftp://x\"\n",
            "'alerts.channels.hook.url' must be an http:// or https:// URL",
        ),
        (
            "[[alerts.rules]]\nname = \"x\"\nstrategies = [\"Brekout\"]\n",
            "invalid [alerts]",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&paths.config_path, text).unwrap();
        let err = ScanPipeline::build(paths.clone(), Environment::default())
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains(expected),
            "'{err}' should contain '{expected}'"
        );
    }
}

/// The simulated market of `symbols` symbols on `clock`, with an alerter
/// over `config` following its rescans as the server wires it.
struct LiveBench {
    pipeline: Arc<ScanPipeline>,
    settings: quantpro_service::settings::Settings,
    feed: Arc<FeedStore>,
    alerter: Arc<Alerter>,
    /// The rescans, for the test to follow too.
    rescans: tokio::sync::broadcast::Receiver<quantpro_service::live::Rescan>,
    running: Running,
}

/// The loop and the alerter's task, until `finish`.
struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    live: tokio::task::JoinHandle<()>,
    following: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the loop; the alerter ends with its last rescan.
    async fn finish(self) {
        self.stop.send_replace(true);
        self.live.await.unwrap();
        self.following.await.unwrap();
    }
}

impl LiveBench {
    async fn start(
        dir: &Path,
        fakes: &Fakes,
        config: &str,
        symbols: usize,
        clock: Clock,
    ) -> LiveBench {
        std::fs::write(paths(dir).config_path, config).unwrap();
        let pipeline = Arc::new(
            ScanPipeline::build(paths(dir), Environment::from_pairs(fakes.env()))
                .unwrap()
                .with_clock(clock),
        );
        let settings = Settings::clone(&pipeline.current_settings().unwrap());
        let universe = UniverseSettings {
            simulated_symbols: symbols,
            ltf_history: 400,
            htf_history: 60,
            ..UniverseSettings::simulated()
        };
        let live = Arc::new(LiveLoop::build(pipeline.clone(), universe).unwrap());
        let feed = Arc::new(FeedStore::new(paths(dir).feed_path));
        let alerter = Arc::new(Alerter::new(
            settings.alerts.clone(),
            pipeline.settings().environment(),
            &pipeline.sources().governor,
            Arc::new(JournalAlertStore::new(
                pipeline.journal().as_ref().clone(),
                settings.journal.clone(),
            )),
            clock,
        ));
        let rescans = live.rescans();
        let following = tokio::spawn(alerter.clone().follow(feed.clone(), live.rescans()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        // The loop holds the last sender of its rescans: they end with it.
        let live = tokio::spawn(live.run(stopped));
        LiveBench {
            pipeline,
            settings,
            feed,
            alerter,
            rescans,
            running: Running {
                stop,
                live,
                following,
            },
        }
    }
}

/// The simulated market drives the alerter as the server wires it: every
/// signal that turned LONG or SHORT between two closes alerts once.
#[tokio::test(start_paused = true)]
async fn the_simulated_live_loop_drives_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let fakes = Fakes::start().await;
    let clock = Clock::starting_at(T0, 1.0);
    let config = fakes.config(r#""tg""#, "").replace(
        "[alerts]\n",
        "[alerts]\ncooldown_minutes = 1\nmax_per_hour = 1000\n",
    );
    let LiveBench {
        feed,
        alerter,
        mut rescans,
        running,
        ..
    } = LiveBench::start(dir.path(), &fakes, &config, 9, clock).await;

    // Record each feed the alerter sees, to recompute the expected turns.
    let mut feeds = Vec::new();
    while clock.now_ms() < T0 + 12 * M15 {
        rescans.recv().await.unwrap();
        feeds.push(MasterFeed::parse(&std::fs::read_to_string(feed.path()).unwrap()).unwrap());
    }
    running.finish().await;
    alerter.settled().await;

    let mut expected = Vec::new();
    for pair in feeds.windows(2) {
        for event in turned_signals(&pair[0].signals, &pair[1].signals) {
            if let quantpro_service::alerts::AlertEvent::Turned { signal, .. } = event {
                expected.push(format!(
                    "{} {} · {} · {}",
                    signal.symbol, signal.action, signal.strategy, signal.exchange
                ));
            }
        }
    }
    assert!(
        !expected.is_empty(),
        "three hours of the simulated market turn some signal"
    );
    let mut sent: Vec<String> = fakes
        .telegram
        .requests()
        .iter()
        .map(|r| {
            r.json()["text"]
                .as_str()
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    expected.sort();
    sent.sort();
    assert_eq!(sent, expected);
    let log = alerter.log();
    assert!(log
        .entries
        .iter()
        .all(|e| matches!(delivery(e, "tg"), DeliveryState::Delivered { .. })));
}

/// A journal trade that the live market's next candle resolves (a LONG
/// whose target is its entry, the close it opened at: the next candle
/// opens there) reaches the alerter through the rescan that resolved it,
/// and fires one resolution alert.
#[tokio::test(start_paused = true)]
async fn a_trade_the_live_loop_resolves_fires_one_resolution_alert() {
    let dir = tempfile::tempdir().unwrap();
    let fakes = Fakes::start().await;
    let clock = Clock::starting_at(T0, 1.0);
    let config = fakes
        .config(r#""tg""#, "")
        .replace(
            "[alerts]\n",
            "[alerts]\ncooldown_minutes = 1\nmax_per_hour = 1000\n",
        )
        .replace(
            "name = \"turns\"",
            "name = \"outcomes\"\non = [\"resolution\"]",
        );
    let LiveBench {
        pipeline,
        settings,
        feed,
        alerter,
        mut rescans,
        running,
    } = LiveBench::start(dir.path(), &fakes, &config, 3, clock).await;

    // After the first rescan: a trade at the close of one symbol's last candle.
    rescans.recv().await.unwrap();
    let signals = MasterFeed::parse(&std::fs::read_to_string(feed.path()).unwrap())
        .unwrap()
        .signals;
    let journal = pipeline.journal();
    let mut planted = None;
    for signal in &signals {
        let trade = Trade {
            exchange: signal.exchange,
            symbol: signal.symbol.clone(),
            strategy: signal.strategy,
            side: Side::Long,
            opened_at: signal.ltf.last_candle_time.unwrap(),
            entry: signal.price,
            sl: signal.price * 0.5,
            tp: signal.price,
            rr: 0.0,
            score: 50.0,
            outcome: Outcome::Open,
            closed_at: None,
            r: None,
            mfe_r: 0.0,
            mae_r: 0.0,
            bars: None,
        };
        let entry = JournalEntry::replayed(trade.clone(), "test");
        // Another open trade of the same strategy would block it: try the next.
        let now_ms = clock.now_ms();
        let recorded = journal
            .with_journal(&settings.journal, move |j| async move {
                j.record(&[entry], now_ms).await
            })
            .await
            .unwrap();
        if recorded == 1 {
            planted = Some(trade);
            break;
        }
    }
    let planted = planted.expect("a signal without an open trade");
    let until = planted.opened_at + 4 * M15;
    while clock.now_ms() < until {
        rescans.recv().await.unwrap();
    }
    running.finish().await;
    alerter.settled().await;

    let title = format!(
        "{} LONG {} · {}: target hit",
        planted.symbol, planted.strategy, planted.exchange
    );
    let texts: Vec<String> = fakes
        .telegram
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts.iter().filter(|t| t.starts_with(&title)).count(),
        1,
        "{title} in {texts:?}"
    );
    let log = alerter.log();
    assert!(log.entries.iter().all(|e| e.kind == AlertKind::Resolution));
    let entry = log
        .entries
        .iter()
        .find(|e| e.title.starts_with(&title))
        .unwrap();
    assert_eq!(entry.rule, "outcomes");
    assert!(matches!(
        delivery(entry, "tg"),
        DeliveryState::Delivered { .. }
    ));
    let resolved = journal
        .with_journal(&settings.journal, |j| async move {
            j.trades(&Default::default()).await
        })
        .await
        .unwrap()
        .into_iter()
        .find(|t| {
            t.symbol == planted.symbol
                && t.opened_at == planted.opened_at
                && t.strategy == planted.strategy
        })
        .unwrap();
    assert_eq!(resolved.outcome, Outcome::Win);
    assert_eq!(resolved.bars, Some(1), "the next candle hit the target");
}

/// The served app: the `browser` channel is the dashboard's event stream
/// (`event: alert`), and `GET /api/alerts` shows the log to the owner
/// (this machine, in single-user mode).
#[tokio::test]
async fn the_dashboard_gets_the_alert_event_and_the_owner_the_log() {
    let template = scanned_signals().await.remove(0);
    let config = "[[alerts.rules]]\nname = \"toasts\"\nchannels = [\"browser\"]\n";
    let server = served_app::serve_app(&[Exchange::Binance], 2, Some(config), &[]).await;
    let client = reqwest::Client::new();
    let mut events = client
        .get(format!("{}/api/scan/events", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);

    let fired = server
        .state
        .alerter
        .on_feed_change(&[], &[acting(&template, "AAAUSDT", T0 - M15, Action::Long)])
        .await;
    assert_eq!(fired.len(), 1);
    let mut text = String::new();
    let data = loop {
        let chunk = events
            .chunk()
            .await
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(at) = text.find("event: alert\ndata: ") {
            let rest = &text[at + "event: alert\ndata: ".len()..];
            if let Some(end) = rest.find('\n') {
                break rest[..end].to_string();
            }
        }
    };
    let alert: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(alert["symbol"], "AAAUSDT");
    assert_eq!(alert["title"], "AAAUSDT LONG · Breakout · BINANCE");

    let log: serde_json::Value = client
        .get(format!("{}/api/alerts", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = &log["entries"][0];
    assert_eq!(entry["rule"], "toasts");
    assert_eq!(entry["deliveries"][0]["channel"], "browser");
    assert_eq!(entry["deliveries"][0]["state"], "delivered");

    // The same log as the owner's page, rendered on the server.
    let page = client
        .get(format!("{}/alerts", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<title>Alert log · QuantPro</title>"),
        "{html}"
    );
    assert!(html.contains("AAAUSDT LONG · Breakout · BINANCE"), "{html}");
    assert!(html.contains("data-channel=\"browser\""), "{html}");
    assert!(html.contains("delivered "), "{html}");
}

/// The ConfigPanel's Alerts section through its server functions: the
/// `[alerts]` text (no secret in it), an invalid rule refused with its
/// field and the file left alone, a valid one saved and in force at once.
#[tokio::test]
async fn alert_rules_saved_from_the_dashboard_are_checked_and_in_force() {
    let config = "[[alerts.rules]]\nname = \"toasts\"\nchannels = [\"tg\"]\n[alerts.channels.tg]\nkind = \"telegram\"\n";
    let server = served_app::serve_app(
        &[Exchange::Binance],
        1,
        Some(config),
        &[
            ("QUANTPRO_TELEGRAM_TOKEN", TOKEN),
            ("QUANTPRO_TELEGRAM_CHAT_ID", CHAT),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let call = |endpoint: &str, form: Vec<(&str, String)>| {
        client
            .post(format!("{}/api/{endpoint}", server.base))
            .form(&form)
            .send()
    };
    // The owner's configuration carries the [alerts] table (this machine is
    // the owner: no password is set).
    let loaded: serde_json::Value = call("scanner_config", vec![])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = loaded["alerts"]["toml"].as_str().unwrap().to_string();
    assert!(text.contains("name = \"toasts\""), "{text}");
    assert!(
        text.contains("token_env = \"QUANTPRO_TELEGRAM_TOKEN\""),
        "{text}"
    );
    assert!(
        !text.contains(TOKEN) && !text.contains(CHAT),
        "no secret: {text}"
    );

    let config_path = server.state.paths().config_path.clone();
    let before = std::fs::read_to_string(&config_path).unwrap();
    let invalid = text.replace("name = \"toasts\"", "name = \"toasts\"\nmin_rr = -1");
    let refused: serde_json::Value = call("save_alert_settings", vec![("toml", invalid)])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        refused["Invalid"][0]
            .as_str()
            .unwrap()
            .contains("'alerts.rules[0].min_rr' must be 0 or more, got -1"),
        "{refused}"
    );
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), before);
    assert_eq!(server.state.alerter.settings().rules[0].min_rr, None);

    let stricter = text.replace("name = \"toasts\"", "name = \"strong\"\nmin_score = 80");
    let saved: serde_json::Value = call("save_alert_settings", vec![("toml", stricter)])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        saved["Saved"]
            .as_str()
            .unwrap()
            .contains("name = \"strong\""),
        "{saved}"
    );
    let in_force = server.state.alerter.settings();
    assert_eq!(
        (in_force.rules[0].name.as_str(), in_force.rules[0].min_score),
        ("strong", Some(80.0)),
        "in force without a restart"
    );
    let settings = server.state.pipeline.settings();
    let reloaded = SettingsStore::new(settings.path(), settings.environment().clone())
        .load()
        .unwrap()
        .alerts;
    assert_eq!(reloaded, in_force, "and saved to the file");
}

#[tokio::test(start_paused = true)]
async fn the_services_own_answers_are_followed() {
    let Bench {
        template,
        dir,
        fakes,
    } = Bench::start().await;
    fakes.telegram.script(
        "/",
        1,
        Reply::json(
            429,
            serde_json::json!({"ok": false, "error_code": 429,
                "description": "Too Many Requests: retry after 35", "parameters": {"retry_after": 35}}),
        ),
    );
    fakes.telegram.script(
        "/",
        1,
        Reply::json(
            400,
            serde_json::json!({"ok": false, "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": -1009876543210i64}}),
        ),
    );
    fakes.discord.script(
        "/",
        1,
        Reply::json(
            404,
            serde_json::json!({"message": "Unknown Webhook", "code": 10015}),
        ),
    );
    let config = fakes.config(r#""tg", "discord""#, "");
    let alerter = alerter(
        dir.path(),
        &config,
        fakes.env(),
        Clock::starting_at(T0, 1.0),
    )
    .await;
    let turn = |symbol| acting(&template, symbol, T0 - M15, Action::Long);
    alerter.on_feed_change(&[], &[turn("AAAUSDT")]).await;
    alerter.settled().await;
    alerter.on_feed_change(&[], &[turn("BBBUSDT")]).await;
    alerter.settled().await;

    let telegram = fakes.telegram.requests();
    assert_eq!(
        telegram.len(),
        4,
        "429, migration, resent, then the second alert"
    );
    assert!(
        telegram[1].at - telegram[0].at >= Duration::from_secs(35),
        "the wait Telegram asked for"
    );
    assert_eq!(
        telegram[1].json()["chat_id"],
        serde_json::json!(-1001234567890i64)
    );
    for resent in &telegram[2..] {
        assert_eq!(
            resent.json()["chat_id"],
            serde_json::json!(-1009876543210i64)
        );
    }

    let log = alerter.log();
    assert_eq!(
        fakes.discord.requests().len(),
        1,
        "a deleted webhook is not called again"
    );
    let discord = log.channels.iter().find(|c| c.name == "discord").unwrap();
    assert_eq!(discord.state, ChannelState::Disabled);
    let [second, first] = &log.entries[..] else {
        panic!("two entries: {:?}", log.entries)
    };
    assert!(failure(delivery(first, "discord")).contains("Unknown Webhook"));
    assert!(failure(delivery(second, "discord")).starts_with("the channel is disabled"));
    assert!(matches!(
        delivery(second, "tg"),
        DeliveryState::Delivered { .. }
    ));
}

/// Records that `channel` delivered the alert `id` (half a second after T0).
async fn record_delivered(store: &JournalAlertStore, id: &str, channel: &str) {
    store
        .record_delivery(&DeliveryRecord {
            id: id.to_string(),
            channel: channel.into(),
            at_ms: T0 + 500,
            delivered: true,
            reason: None,
        })
        .await
        .unwrap();
}

/// The next start over the same journal, a minute later, with its resends done.
async fn restart_a_minute_later(dir: &Path, config: &str, env: &[(String, String)]) -> Alerter {
    let restarted = alerter(
        dir,
        config,
        env.to_vec(),
        Clock::starting_at(T0 + 60_000, 1.0),
    )
    .await;
    restarted.settled().await;
    restarted
}

/// A process that stopped while its webhook delivery was under way: the
/// decision is in the journal (with the alert), the Telegram delivery's
/// outcome too, the webhook's not. The next start sends it to the webhook
/// once, with the same event id, records the outcome, and says in the log
/// that it was resent; a channel since removed fails with that reason; a
/// second restore, or a third start, sends nothing more.
#[tokio::test(start_paused = true)]
async fn a_delivery_a_stop_cut_short_is_resent_once_after_a_restart() {
    let template = scanned_signals().await.remove(0);
    for backend in backends("alerts_resume").await {
        let what = backend.name();
        let dir = tempfile::tempdir().unwrap();
        let fakes = Fakes::start().await;
        let mut env = fakes.env();
        env.extend(backend.env_pairs());
        let config = fakes.config(r#""tg", "hook", "browser""#, "");
        let path = dir.path().join("quantpro.toml");
        std::fs::write(&path, &config).unwrap();
        let settings = SettingsStore::new(path, Environment::from_pairs(env.clone()))
            .load()
            .unwrap();

        // The process before: decided, recorded, Telegram delivered, then stopped.
        let mut engine = AlertEngine::new(settings.alerts.clone(), Vec::new());
        let after = vec![acting(&template, "AAAUSDT", T0 - M15, Action::Long)];
        let mut decided = engine.decide(&turned_signals(&[], &after), T0);
        assert_eq!(decided.alerts.len(), 1, "{what}");
        decided.alerts[0].channels.push("gone".into());
        let alert = decided.alerts[0].clone();
        let store = JournalAlertStore::new(
            JournalHandle::new(dir.path().join("data")),
            settings.journal,
        );
        let known = store
            .record_decisions(&decided.decisions, &decided.alerts)
            .await
            .unwrap();
        assert!(known.is_empty(), "{what}");
        record_delivered(&store, &alert.id, "tg").await;

        // A minute later the next start over the same journal.
        let restarted = restart_a_minute_later(dir.path(), &config, &env).await;
        let hooks = fakes.hook.requests();
        assert_eq!(hooks.len(), 1, "{what}: the webhook gets it once");
        assert_eq!(
            hooks[0].header("x-quantpro-event-id"),
            Some(alert.id.as_str()),
            "{what}: the same event id"
        );
        assert_eq!(hooks[0].json()["alert"]["id"], alert.id.as_str(), "{what}");
        assert!(
            fakes.telegram.requests().is_empty(),
            "{what}: Telegram had it"
        );

        let (_, deliveries) = alert_records(dir.path(), &env, &alert.id).await;
        let recorded: Vec<(&str, bool)> = deliveries
            .iter()
            .map(|d| (d.channel.as_str(), d.delivered))
            .collect();
        assert_eq!(
            recorded,
            [("gone", false), ("hook", true), ("tg", true)],
            "{what}"
        );
        let gone = deliveries.iter().find(|d| d.channel == "gone").unwrap();
        assert!(
            gone.reason
                .as_deref()
                .is_some_and(|r| r.contains("no channel named \"gone\"")),
            "{what}: {gone:?}"
        );

        // Once per start, and once over the journal.
        restarted.restore().await.unwrap();
        restarted.settled().await;
        let third = alerter(
            dir.path(),
            &config,
            env.clone(),
            Clock::starting_at(T0 + 120_000, 1.0),
        )
        .await;
        third.settled().await;
        assert_eq!(fakes.hook.requests().len(), 1, "{what}: nothing more");
        assert!(third.log().entries.is_empty(), "{what}");
    }
}

/// The log (`GET /api/alerts` and the page) says which delivery was
/// resent after a restart, beside the outcomes recorded before it.
#[tokio::test(start_paused = true)]
async fn the_log_says_a_delivery_was_resent_after_a_restart() {
    let template = scanned_signals().await.remove(0);
    let dir = tempfile::tempdir().unwrap();
    let fakes = Fakes::start().await;
    let env = fakes.env();
    let config = fakes.config(r#""tg", "discord""#, "");
    let path = dir.path().join("quantpro.toml");
    std::fs::write(&path, &config).unwrap();
    let settings = SettingsStore::new(path, Environment::from_pairs(env.clone()))
        .load()
        .unwrap();
    let mut engine = AlertEngine::new(settings.alerts.clone(), Vec::new());
    let after = vec![acting(&template, "AAAUSDT", T0 - M15, Action::Long)];
    let decided = engine.decide(&turned_signals(&[], &after), T0);
    let store = JournalAlertStore::new(
        JournalHandle::new(dir.path().join("data")),
        settings.journal,
    );
    store
        .record_decisions(&decided.decisions, &decided.alerts)
        .await
        .unwrap();
    record_delivered(&store, &decided.alerts[0].id, "discord").await;

    let restarted = restart_a_minute_later(dir.path(), &config, &env).await;
    assert_eq!(fakes.telegram.requests().len(), 1);
    assert!(fakes.discord.requests().is_empty());

    let log = restarted.log();
    assert_eq!(log.entries.len(), 1);
    let entry = &log.entries[0];
    assert_eq!(entry.id, decided.alerts[0].id);
    let tg = entry.deliveries.iter().find(|d| d.channel == "tg").unwrap();
    assert!(tg.resent);
    assert!(matches!(tg.state, DeliveryState::Delivered { .. }));
    let discord = entry
        .deliveries
        .iter()
        .find(|d| d.channel == "discord")
        .unwrap();
    assert!(!discord.resent);
    assert_eq!(discord.state, DeliveryState::Delivered { at_ms: T0 + 500 });

    let json = serde_json::to_value(&log).unwrap();
    let deliveries = json["entries"][0]["deliveries"].as_array().unwrap();
    let by_channel = |name: &str| {
        deliveries
            .iter()
            .find(|d| d["channel"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_channel("tg")["resent"], true);
    assert_eq!(by_channel("tg")["state"], "delivered");
    assert!(by_channel("discord").get("resent").is_none());

    let html = quantpro::server::render::render_alert_log_page(&log);
    let tg_html = &html[html.find("data-channel=\"tg\"").expect("tg in the page")..];
    let tg_html = &tg_html[..tg_html.find("</div>").unwrap()];
    assert!(tg_html.contains("resent after a restart"), "{html}");
    let discord_html = &html[html.find("data-channel=\"discord\"").unwrap()..];
    let discord_html = &discord_html[..discord_html.find("</div>").unwrap()];
    assert!(!discord_html.contains("resent"), "{html}");
}
