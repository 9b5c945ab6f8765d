//! The signal journal seen from outside: scans through `ScanPipeline::run`
//! record each actionable signal once (two pipelines of one journal, as two
//! processes, included), later candles resolve the trades exactly as the
//! backtest resolves them, migrations are idempotent, a journal that
//! cannot be reached leaves the feed written and catches up, and
//! `quantpro backtest --journal` fills what `GET /api/track-record` reads.
//!
//! Every test runs against SQLite (a temporary directory), and against a
//! real PostgreSQL server when `QUANTPRO_TEST_DATABASE_URL` names one
//! (`scripts/test` starts a throw-away cluster): each test creates its own
//! database there.

mod common;
#[path = "common/journal_backends.rs"]
mod journal_backends;

use common::served_app::serve_pipeline;
use journal_backends::{admin_url, backends, fresh_postgres, Backend, URL_VAR};
use quantpro_core::backtest::{run_backtest, BacktestRequest};
use quantpro_core::scan::NoProgress;
use quantpro_model::{
    BacktestReport, Exchange, Outcome, ScannerConfig, Strategy, TrackRecord, Trade,
};
use quantpro_service::journal::{Journal, JournalEntry, JournalLocation, Origin, TradeFilter};
use quantpro_service::pipeline::{
    DataPaths, FirstTrackRecord, PipelineReport, PipelineRequest, ScanPipeline,
};
use quantpro_service::settings::Environment;
use quantpro_sources::keys::Secret;
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const M15: i64 = 900_000;
const SYMBOL: &str = "SOLUSDT";

/// A data directory with the real SOLUSDT Binance candles (15m and 4h).
fn data_dir_with_sol(root: &Path) -> PathBuf {
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for interval in ["15m", "4h"] {
        let name = format!("{SYMBOL}_BINANCE_{interval}.json");
        std::fs::copy(common::candles_dir().join(&name), data.join(&name)).unwrap();
    }
    data
}

fn paths(root: &Path, data_dir: &Path) -> DataPaths {
    DataPaths {
        data_dir: data_dir.to_path_buf(),
        feed_path: root.join("master_feed.json"),
        config_path: root.join("quantpro.toml"),
    }
}

/// The backtest of the symbol: the trades a live scan at each close opens
/// and how they end (the reference the journal must agree with).
fn replayed(data_dir: &Path) -> BacktestReport {
    let request = BacktestRequest {
        symbol: Some(SYMBOL.into()),
        exchange: Some(Exchange::Binance),
        ..BacktestRequest::new(data_dir)
    };
    run_backtest(&request, &ScannerConfig::default())
        .expect("the backtest runs")
        .report
}

fn first_with(report: &BacktestReport, outcome: Outcome) -> Trade {
    report
        .trades
        .iter()
        .find(|t| t.outcome == outcome)
        .cloned()
        .unwrap_or_else(|| panic!("the replay of {SYMBOL} has no {outcome} trade"))
}

/// A scan of the symbol at `now_ms` (the candles closed by then).
async fn scan_at(pipeline: &ScanPipeline, now_ms: i64) -> PipelineReport {
    let request = PipelineRequest {
        symbol: Some(SYMBOL.into()),
        exchange: Some(Exchange::Binance),
        now_ms: Some(now_ms),
        ..PipelineRequest::default()
    };
    pipeline
        .run(&request, Arc::new(NoProgress))
        .await
        .expect("the scan runs")
}

/// The trades the pipeline's journal holds that pass `filter`.
async fn journal_trades(pipeline: &ScanPipeline, filter: &TradeFilter) -> Vec<Trade> {
    let settings = pipeline.current_settings().unwrap();
    pipeline
        .journal()
        .trades(&settings.journal, filter)
        .await
        .expect("the journal opens")
}

fn same_trade(a: &Trade, b: &Trade) -> bool {
    (a.exchange, &a.symbol, a.strategy, a.opened_at)
        == (b.exchange, &b.symbol, b.strategy, b.opened_at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_are_recorded_once_and_resolved_as_the_backtest_resolves_them() {
    let reference_dir = tempfile::tempdir().unwrap();
    let report = replayed(&data_dir_with_sol(reference_dir.path()));
    let cases = [
        first_with(&report, Outcome::Win),
        first_with(&report, Outcome::Loss),
        first_with(&report, Outcome::Expired),
    ];
    for backend in backends("record").await {
        for expected in &cases {
            // One data directory and journal per case: the journal starts
            // empty, so nothing earlier blocks the trade.
            let root = tempfile::tempdir().unwrap();
            let data = data_dir_with_sol(root.path());
            let backend = match &backend {
                Backend::Postgres(_) => {
                    Backend::Postgres(fresh_postgres(&admin_url().unwrap(), "case").await)
                }
                sqlite => sqlite.clone(),
            };
            let what = format!(
                "{} {} trade on {}",
                backend.name(),
                expected.outcome,
                expected.opened_at
            );
            let first = ScanPipeline::build(paths(root.path(), &data), backend.env()).unwrap();
            let second = ScanPipeline::build(paths(root.path(), &data), backend.env()).unwrap();

            // The close of the opening candle: the signal fires, one trade opens.
            let opening_close = expected.opened_at + M15;
            let run = scan_at(&first, opening_close).await;
            assert_eq!(run.journal.error, None, "{what}");
            assert!(run.journal.recorded >= 1, "{what}: {:?}", run.journal);
            if matches!(backend, Backend::Sqlite) {
                assert!(
                    data.join("journal.sqlite").is_file(),
                    "the embedded journal is in the data dir"
                );
            }
            let recorded = journal_trades(&first, &TradeFilter::default()).await;
            let opened: Vec<&Trade> = recorded
                .iter()
                .filter(|t| same_trade(t, expected))
                .collect();
            assert_eq!(opened.len(), 1, "{what}: {recorded:?}");
            let opened = opened[0];
            assert_eq!(opened.outcome, Outcome::Open, "{what}");
            assert_eq!(
                (
                    opened.side,
                    opened.entry,
                    opened.sl,
                    opened.tp,
                    opened.rr,
                    opened.score
                ),
                (
                    expected.side,
                    expected.entry,
                    expected.sl,
                    expected.tp,
                    expected.rr,
                    expected.score
                ),
                "{what}: the signal's setup and score"
            );

            // The same close again, from this process and from another one.
            let again = scan_at(&first, opening_close).await;
            let other = scan_at(&second, opening_close).await;
            assert_eq!(
                (again.journal.recorded, other.journal.recorded),
                (0, 0),
                "{what}"
            );
            assert_eq!(other.journal.error, None, "{what}");
            let after = journal_trades(&first, &TradeFilter::default()).await;
            assert_eq!(after.len(), recorded.len(), "{what}: no duplicate");

            // The close of the resolution candle: the outcome is the backtest's.
            let closed_at = expected.closed_at.unwrap();
            let later = scan_at(&second, closed_at + M15).await;
            assert_eq!(later.journal.error, None, "{what}");
            let reported = later
                .journal
                .resolved
                .iter()
                .find(|t| same_trade(t, expected));
            assert_eq!(
                reported,
                Some(expected),
                "{what}: the report names the resolved trade as it closed"
            );
            let resolved = journal_trades(&first, &TradeFilter::default()).await;
            let resolved = resolved.iter().find(|t| same_trade(t, expected)).unwrap();
            assert_eq!(resolved, expected, "{what}: outcome, R, MFE/MAE and bars");

            // The row carries the signal's components and the config version.
            let settings = first.current_settings().unwrap();
            let url = match &backend {
                Backend::Postgres(url) => url.clone(),
                Backend::Sqlite => format!("sqlite://{}", data.join("journal.sqlite").display()),
            };
            let pool = sqlx::AnyPool::connect(&url).await.unwrap();
            let row = sqlx::query(
                "SELECT score_components, config_version, origin FROM journal_trades \
                 WHERE symbol = $1 AND strategy = $2 AND opened_at = $3",
            )
            .bind(SYMBOL)
            .bind(expected.strategy.as_str())
            .bind(expected.opened_at)
            .fetch_one(&pool)
            .await
            .unwrap();
            let components: serde_json::Value =
                serde_json::from_str(&row.get::<String, _>("score_components")).unwrap();
            for part in [
                "trend_score",
                "structure_score",
                "money_flow_score",
                "timing_score",
            ] {
                assert!(
                    components[part].is_number(),
                    "{what}: {part} in {components}"
                );
            }
            // The entry is the signal's last close.
            assert_eq!(
                components["close_price"].as_f64(),
                Some(expected.entry),
                "{what}"
            );
            assert_eq!(
                row.get::<String, _>("config_version"),
                quantpro_service::journal::config_version(&settings.scanner)
            );
            assert_eq!(row.get::<String, _>("origin"), "live");
            pool.close().await;
        }
    }
}

fn sample_trade(strategy: Strategy, opened_at: i64, outcome: Outcome) -> Trade {
    let closed = outcome != Outcome::Open;
    Trade {
        exchange: Exchange::Binance,
        symbol: SYMBOL.into(),
        strategy,
        side: quantpro_model::Side::Long,
        opened_at,
        entry: 100.0,
        sl: 98.0,
        tp: 105.0,
        rr: 2.5,
        score: 72.0,
        outcome,
        closed_at: closed.then_some(opened_at + 3 * M15),
        r: closed.then_some(if outcome == Outcome::Win { 2.4 } else { -1.1 }),
        mfe_r: 1.0,
        mae_r: 0.5,
        bars: closed.then_some(3),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_keep_recorded_trades() {
    for backend in backends("migrate").await {
        let root = tempfile::tempdir().unwrap();
        let location = match &backend {
            Backend::Sqlite => JournalLocation::Sqlite(root.path().join("new/dir/journal.sqlite")),
            Backend::Postgres(url) => JournalLocation::Url(Secret::new(url.clone())),
        };
        // Two processes starting together both migrate.
        let (a, b) = tokio::join!(Journal::open(&location), Journal::open(&location));
        let (a, _b) = (a.unwrap(), b.unwrap());
        let trades = [
            sample_trade(Strategy::Legacy, 0, Outcome::Win),
            sample_trade(Strategy::Breakout, 0, Outcome::Open),
        ];
        let entries: Vec<JournalEntry> = trades
            .iter()
            .map(|t| JournalEntry::replayed(t.clone(), "v1"))
            .collect();
        assert_eq!(
            a.record(&entries, 1).await.unwrap(),
            2,
            "{}",
            backend.name()
        );
        drop(a);
        let reopened = Journal::open(&location).await.unwrap();
        assert_eq!(
            reopened.trades(&TradeFilter::default()).await.unwrap(),
            trades.to_vec(),
            "{}: the trades survive a second migration",
            backend.name()
        );
        assert_eq!(reopened.record(&entries, 2).await.unwrap(), 0);
        // A trade overlapping the open Breakout trade is not a second one;
        // the Legacy trade closed on candle 3 lets one open at candle 3.
        let overlapping = JournalEntry::replayed(
            sample_trade(Strategy::Breakout, 2 * M15, Outcome::Win),
            "v1",
        );
        let next =
            JournalEntry::replayed(sample_trade(Strategy::Legacy, 3 * M15, Outcome::Open), "v1");
        let early =
            JournalEntry::replayed(sample_trade(Strategy::Legacy, 2 * M15, Outcome::Open), "v1");
        assert_eq!(reopened.record(&[overlapping, early], 3).await.unwrap(), 0);
        assert_eq!(reopened.record(&[next], 3).await.unwrap(), 1);

        let url = match &backend {
            Backend::Sqlite => format!(
                "sqlite://{}",
                root.path().join("new/dir/journal.sqlite").display()
            ),
            Backend::Postgres(url) => url.clone(),
        };
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let applied: i64 = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get("n");
        // 0001 trades, 0002 alerts, 0003 the alerts' content (for resends),
        // 0004 the executed brackets.
        assert_eq!(
            applied,
            4,
            "{}: each migration applied once",
            backend.name()
        );
        pool.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_journal_leaves_the_feed_written_and_catches_up() {
    let root = tempfile::tempdir().unwrap();
    let data = data_dir_with_sol(root.path());
    let report = replayed(&data);
    let expected = first_with(&report, Outcome::Win);
    let paths = paths(root.path(), &data);
    // Nothing listens on port 1: the connection is refused at once.
    std::fs::write(
        &paths.config_path,
        "[journal]\ndatabase_url = \"postgres://trader:pw-never-shown@127.0.0.1:1/quantpro\"\n",
    )
    .unwrap();
    let pipeline = ScanPipeline::build(paths.clone(), Environment::default()).unwrap();
    let down = scan_at(&pipeline, expected.opened_at + M15).await;
    let feed = std::fs::read_to_string(&paths.feed_path).expect("the feed is written");
    assert!(feed.contains(SYMBOL));
    let error = down
        .journal
        .error
        .clone()
        .expect("the journal error is reported");
    assert!(
        error.contains("cannot open the signal journal at postgres://127.0.0.1:1/quantpro"),
        "{error}"
    );
    assert!(!error.contains("pw-never-shown") && !format!("{down:?}").contains("pw-never-shown"));
    assert!(down.journal.waiting >= 1, "{:?}", down.journal);

    // The database is back (here: another one); the next run records what
    // waited and resolves it on the candles stored since.
    let back = root.path().join("back.sqlite");
    std::fs::write(
        &paths.config_path,
        format!(
            "[journal]\ndatabase_url = \"sqlite://{}?mode=rwc\"\n",
            back.display()
        ),
    )
    .unwrap();
    pipeline.settings().reload().unwrap();
    let up = scan_at(&pipeline, expected.closed_at.unwrap() + M15).await;
    assert_eq!(up.journal.error, None);
    assert_eq!(up.journal.waiting, 0);
    assert!(
        up.journal.recorded >= 1 && !up.journal.resolved.is_empty(),
        "{:?}",
        up.journal
    );
    let trades = journal_trades(&pipeline, &TradeFilter::default()).await;
    let caught_up = trades.iter().find(|t| same_trade(t, &expected)).unwrap();
    assert_eq!(caught_up, &expected);
}

/// A track record with every number to 12 significant digits: serde_json
/// reads floats to within one unit of the last place, and the report and
/// the API's answer are both read back from JSON here.
fn rounded(record: &TrackRecord) -> serde_json::Value {
    fn walk(value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Number(n) if n.is_f64() => {
                Value::String(format!("{:.11e}", n.as_f64().unwrap()))
            }
            Value::Array(items) => Value::Array(items.into_iter().map(walk).collect()),
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, walk(v))).collect())
            }
            other => other,
        }
    }
    walk(serde_json::to_value(record).unwrap())
}

/// GET `path` on `base`: status and JSON body.
async fn get(base: &str, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backtest_journal_fills_what_the_track_record_route_reads() {
    for backend in backends("api").await {
        let root = tempfile::tempdir().unwrap();
        let data = data_dir_with_sol(root.path());
        let out = root.path().join("report.json");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_quantpro"));
        command
            .current_dir(root.path())
            .args([
                "backtest",
                "--symbol",
                SYMBOL,
                "--exchange",
                "BINANCE",
                "--journal",
            ])
            .arg("--data-dir")
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .arg("--config")
            .arg(root.path().join("quantpro.toml"))
            .env_remove(URL_VAR);
        if let Backend::Postgres(url) = &backend {
            command.env(URL_VAR, url);
        }
        let done = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&done.stdout);
        assert!(
            done.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&done.stderr)
        );
        let report: BacktestReport = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert!(
            stdout.contains(&format!(
                "[JOURNAL] {} of {} trades recorded",
                report.trades.len(),
                report.trades.len()
            )),
            "{stdout}"
        );

        let pipeline = ScanPipeline::build(paths(root.path(), &data), backend.env()).unwrap();
        let (base, state) = serve_pipeline(pipeline, root.path()).await;

        let record =
            |value: serde_json::Value| -> TrackRecord { serde_json::from_value(value).unwrap() };
        let (status, all) = get(&base, "/api/track-record?strategy=&exchange=&symbol=").await;
        assert_eq!(status, 200, "{all}");
        assert_eq!(
            record(all),
            report.stats,
            "{}: the CLI report's numbers",
            backend.name()
        );
        let (_, backtest) = get(&base, "/api/track-record?origin=backtest").await;
        assert_eq!(rounded(&record(backtest)), rounded(&report.stats));
        let (_, live) = get(&base, "/api/track-record?origin=live").await;
        let live = record(live);
        assert_eq!((live.all.trades, live.all.open), (0, 0), "no scan ran");

        let (_, legacy) = get(&base, "/api/track-record?strategy=Legacy").await;
        let legacy = record(legacy);
        let stats_of = |stats: &quantpro_model::TradeStats| TrackRecord {
            all: stats.clone(),
            ..TrackRecord::default()
        };
        let legacy_stats = stats_of(&report.stats.by_strategy[&Strategy::Legacy]);
        assert_eq!(rounded(&stats_of(&legacy.all)), rounded(&legacy_stats));
        assert!(legacy.by_strategy[&Strategy::Breakout] == Default::default());
        let (_, sol) = get(&base, "/api/track-record?symbol=sol&exchange=BINANCE").await;
        assert_eq!(
            rounded(&stats_of(&record(sol).all)),
            rounded(&stats_of(&report.stats.by_symbol["BINANCE:SOLUSDT"]))
        );
        let (_, elsewhere) = get(&base, "/api/track-record?exchange=MEXC").await;
        assert_eq!(record(elsewhere).all.trades, 0);

        let (status, bad) = get(&base, "/api/track-record?strategy=Momentum").await;
        assert_eq!(status, 400);
        assert!(
            bad["error"]
                .as_str()
                .unwrap()
                .contains("Legacy, Breakout, BreakoutV2"),
            "{bad}"
        );

        // The server function reads the same numbers.
        let response = reqwest::Client::new()
            .post(format!("{base}/api/track_record"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("strategy=Legacy")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let via_fn: TrackRecord = response.json().await.unwrap();
        assert_eq!(rounded(&stats_of(&via_fn.all)), rounded(&legacy_stats));
        let direct = state
            .track_record(TradeFilter {
                origin: Some(Origin::Backtest),
                ..TradeFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(rounded(&direct), rounded(&report.stats));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_journal_gets_the_backtest_of_the_history_once() {
    let root = tempfile::tempdir().unwrap();
    let data = data_dir_with_sol(root.path());
    let pipeline = ScanPipeline::build(paths(root.path(), &data), Environment::default()).unwrap();
    let first = pipeline.backtest_into_empty_journal().await.unwrap();
    let all = BacktestRequest::new(&data);
    let reference = run_backtest(&all, &ScannerConfig::default())
        .unwrap()
        .report;
    assert!(!reference.trades.is_empty());
    assert_eq!(
        first,
        FirstTrackRecord::Recorded {
            trades: reference.trades.len(),
            recorded: reference.trades.len()
        }
    );
    let replayed = TradeFilter {
        origin: Some(Origin::Backtest),
        ..TradeFilter::default()
    };
    let recorded = journal_trades(&pipeline, &replayed).await;
    assert_eq!(recorded.len(), reference.trades.len());
    for trade in &reference.trades {
        assert!(
            recorded
                .iter()
                .any(|t| same_trade(t, trade) && t.outcome == trade.outcome),
            "{trade:?}"
        );
    }
    // A second start finds them there and replays nothing.
    let again = ScanPipeline::build(paths(root.path(), &data), Environment::default()).unwrap();
    assert_eq!(
        again.backtest_into_empty_journal().await.unwrap(),
        FirstTrackRecord::AlreadyThere
    );
    assert_eq!(
        journal_trades(&again, &replayed).await.len(),
        reference.trades.len()
    );
}

/// Executed brackets (migration 4) are kept and replaced by origin, and
/// selected by state, on both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_are_saved_replaced_and_selected_by_state() {
    use quantpro_service::journal::ExecutionRow;
    for backend in backends("executions").await {
        let root = tempfile::tempdir().unwrap();
        let location = match &backend {
            Backend::Sqlite => JournalLocation::Sqlite(root.path().join("journal.sqlite")),
            Backend::Postgres(url) => JournalLocation::Url(Secret::new(url.clone())),
        };
        let journal = Journal::open(&location).await.unwrap();
        let row = |origin: &str, state: &str| ExecutionRow {
            origin: origin.into(),
            exchange: "BINANCE".into(),
            symbol: "BTCUSDT".into(),
            strategy: "Legacy".into(),
            mode: "paper".into(),
            state: state.into(),
            opened_at: 1,
            closed_at: None,
            body: format!("{{\"state\":\"{state}\"}}"),
        };
        journal
            .save_execution(&row("a|1", "sending"), 1)
            .await
            .unwrap();
        journal
            .save_execution(&row("b|1", "open"), 2)
            .await
            .unwrap();
        let mut closed = row("a|1", "closed");
        closed.closed_at = Some(9);
        journal.save_execution(&closed, 9).await.unwrap();
        let all = journal.executions(&[]).await.unwrap();
        assert_eq!(all.len(), 2, "{}", backend.name());
        assert_eq!(all[0], closed, "{}: replaced by its origin", backend.name());
        let live = journal.executions(&["sending", "open"]).await.unwrap();
        assert_eq!(live, [row("b|1", "open")], "{}", backend.name());
    }
}
