//! The backtest seen from outside (STRATEGIES.md §6): the replay's trades
//! are exactly those that live scans at every close would have opened
//! through the production strategies, truncating the data never changes a
//! trade opened before the cut (no look-ahead), and a whole data directory
//! (ours or freqtrade's, real candles or bad files) gives its report.

mod common;

use quantpro_core::backtest::{
    first_replayed, replay_symbol, run_backtest, scan_context_at, trades_csv, BacktestRequest,
    SymbolReplay, WalkForward,
};
use quantpro_core::candles::{read_candle_file, Candle};
use quantpro_core::context::SharedContext;
use quantpro_core::strategies::{evaluate, evaluate_all};
use quantpro_core::synthetic::{generate_series, SyntheticSpec};
use quantpro_core::track::update_open_trade;
use quantpro_model::{
    Action, BacktestReport, Exchange, Outcome, ScannerConfig, Strategy, Trade, TradeStats,
};
use std::path::Path;

/// Lower thresholds than the defaults so that short series open many
/// trades: the replay must be exact for any configuration.
fn eager_config() -> ScannerConfig {
    let mut config = ScannerConfig::default();
    config.legacy.min_score = 20.0;
    config.breakout.min_score = 20.0;
    config.v2.min_score = 20.0;
    config.v2.require_oi = false;
    config.v2.min_obv_slope = 0.0;
    config.track.max_bars = 24;
    config
}

fn real_series(symbol_file_stem: &str) -> (Vec<Candle>, Vec<Candle>) {
    let dir = common::candles_dir();
    let read = |interval: &str| {
        read_candle_file(&dir.join(format!("{symbol_file_stem}_{interval}.json"))).unwrap()
    };
    (read("15m"), read("4h"))
}

/// The context a live scan at the close of LTF candle `i` builds.
fn live_context(ltf: &[Candle], htf: &[Candle], i: usize, config: &ScannerConfig) -> SharedContext {
    scan_context_at("TESTUSDT", Exchange::Binance, ltf, htf, i, config)
}

#[test]
fn the_replays_signals_at_a_close_are_a_live_scans_on_real_data() {
    let config = ScannerConfig::default();
    for stem in ["BTC_HYPERLIQUID", "LINKUSDT_BINANCE"] {
        let (ltf, htf) = real_series(stem);
        let mut walk = WalkForward::new("TESTUSDT", Exchange::Binance, &ltf, &htf, &config);
        for i in [0, 48, 49, 50, 777, 2048, 3999, 4998, 4999] {
            let live = live_context(&ltf, &htf, i, &config);
            let ctx = walk.context_at(i, &config);
            assert_eq!(*ctx, live, "{stem}: the context at close {i}");
            assert_eq!(
                evaluate_all(ctx, &config),
                evaluate_all(&live, &config),
                "{stem} at {i}"
            );
        }
    }
}

/// Whether a trade of the replay still blocks its strategy at the close of
/// candle time `t`: opened before and not resolved before or on that candle.
fn blocks(trade: &Trade, t: i64) -> bool {
    trade.opened_at < t && trade.closed_at.is_none_or(|closed| closed > t)
}

/// Checks the replay of one series against plain scans: at every close in
/// `closes` a strategy without a blocking trade opens exactly when the live
/// signal acts, with the signal's setup and score; and every trade resolves
/// as `update_open_trade` resolves it from scratch.
fn check_against_live_scans(
    ltf: &[Candle],
    htf: &[Candle],
    config: &ScannerConfig,
    closes: impl Iterator<Item = usize>,
) -> SymbolReplay {
    let replay = replay_symbol(
        "TESTUSDT",
        Exchange::Binance,
        ltf,
        htf,
        config,
        Strategy::ALL,
        None,
    );
    let mut checked_openings = 0;
    for i in closes {
        let t = ltf[i].t;
        let free: Vec<Strategy> = Strategy::ALL
            .iter()
            .copied()
            .filter(|&s| {
                !replay
                    .trades
                    .iter()
                    .any(|tr| tr.strategy == s && blocks(tr, t))
            })
            .collect();
        if free.is_empty() {
            continue;
        }
        let ctx = live_context(ltf, htf, i, config);
        for strategy in free {
            let signal = evaluate(strategy, &ctx, config);
            let opened = replay
                .trades
                .iter()
                .find(|tr| tr.strategy == strategy && tr.opened_at == t);
            match (signal.action, opened) {
                (Action::Wait, None) => {}
                (Action::Wait, Some(trade)) => {
                    panic!("close {i}: {strategy} waits live but the replay opened {trade:?}")
                }
                (_, None) => {
                    panic!("close {i}: {strategy} acts live but the replay opened nothing")
                }
                (_, Some(trade)) => {
                    let setup = signal.setup.as_ref().unwrap();
                    assert_eq!(
                        (
                            trade.side,
                            trade.entry,
                            trade.sl,
                            trade.tp,
                            trade.rr,
                            trade.score
                        ),
                        (
                            setup.side,
                            setup.entry,
                            setup.sl,
                            setup.tp,
                            setup.rr,
                            signal.total_score
                        ),
                        "close {i}: {strategy}"
                    );
                    checked_openings += 1;
                }
            }
        }
    }
    for trade in &replay.trades {
        let mut fresh = Trade {
            outcome: Outcome::Open,
            closed_at: None,
            r: None,
            bars: None,
            ..trade.clone()
        };
        update_open_trade(&mut fresh, ltf, &config.track);
        assert_eq!(&fresh, trade, "the resolution of {trade:?}");
    }
    assert!(
        checked_openings > 0,
        "the check must see trades open (got {} trades)",
        replay.trades.len()
    );
    replay
}

#[test]
fn synthetic_replay_opens_exactly_what_live_scans_would() {
    let spec = SyntheticSpec {
        n_15m: 700,
        n_4h: 200,
        seed: 5,
        ..SyntheticSpec::default()
    };
    let config = eager_config();
    for index in 0..2 {
        let series = generate_series(&spec, index);
        let start = first_replayed(&series.ltf, &config, None);
        let replay =
            check_against_live_scans(&series.ltf, &series.htf, &config, start..series.ltf.len());
        assert_eq!(replay.closes, series.ltf.len() - start);
        assert!(replay.evaluations <= 3 * replay.closes);
    }
}

#[test]
fn real_replay_opens_exactly_what_live_scans_would() {
    // Two real symbols, the last 1200 candles of each (history enough for every indicator).
    for stem in ["SOLUSDT_BINANCE", "ETH_HYPERLIQUID"] {
        let (ltf, htf) = real_series(stem);
        let ltf = &ltf[ltf.len() - 1200..];
        let config = eager_config();
        let start = first_replayed(ltf, &config, None);
        check_against_live_scans(ltf, &htf, &config, (start..ltf.len()).step_by(3));
        // The defaults too, over the whole series at a coarser step.
        let (full_ltf, _) = real_series(stem);
        let config = ScannerConfig::default();
        let replay = replay_symbol(
            "X",
            Exchange::Binance,
            &full_ltf,
            &htf,
            &config,
            Strategy::ALL,
            None,
        );
        assert!(
            replay.trades.len() > 3,
            "{stem}: {} trades with the defaults",
            replay.trades.len()
        );
    }
}

/// Truncating the data after candle `cut` leaves every trade opened at or
/// before it as it was: resolved ones identical, the rest open there with
/// MFE / MAE of the candles so far.
fn check_no_look_ahead(ltf: &[Candle], htf: &[Candle], config: &ScannerConfig, cuts: &[usize]) {
    let full = replay_symbol(
        "X",
        Exchange::Binance,
        ltf,
        htf,
        config,
        Strategy::ALL,
        None,
    );
    assert!(full.trades.len() >= 5, "{} trades", full.trades.len());
    for &cut in cuts {
        let t_cut = ltf[cut].t;
        let known_htf: Vec<Candle> = htf.iter().copied().filter(|c| c.t <= t_cut).collect();
        let truncated = replay_symbol(
            "X",
            Exchange::Binance,
            &ltf[..=cut],
            &known_htf,
            config,
            Strategy::ALL,
            None,
        );
        let before: Vec<&Trade> = full
            .trades
            .iter()
            .filter(|t| t.opened_at <= t_cut)
            .collect();
        assert_eq!(
            truncated.trades.len(),
            before.len(),
            "trades opened by cut {cut}"
        );
        for (seen, was) in truncated.trades.iter().zip(before) {
            let opening = |t: &Trade| {
                (
                    t.strategy,
                    t.side,
                    t.opened_at,
                    t.entry,
                    t.sl,
                    t.tp,
                    t.rr,
                    t.score,
                )
            };
            assert_eq!(opening(seen), opening(was), "cut {cut}");
            if was.closed_at.is_some_and(|closed| closed <= t_cut) {
                assert_eq!(
                    seen, was,
                    "cut {cut}: a trade resolved by then is unchanged"
                );
            } else {
                assert_eq!(seen.outcome, Outcome::Open, "cut {cut}: {seen:?}");
                assert!(seen.mfe_r <= was.mfe_r && seen.mae_r <= was.mae_r);
            }
        }
    }
}

#[test]
fn no_look_ahead_on_synthetic_data_at_many_cuts() {
    let spec = SyntheticSpec {
        n_15m: 600,
        n_4h: 180,
        seed: 9,
        ..SyntheticSpec::default()
    };
    let series = generate_series(&spec, 3);
    let cuts: Vec<usize> = (49..600).step_by(11).collect();
    check_no_look_ahead(&series.ltf, &series.htf, &eager_config(), &cuts);
}

#[test]
fn no_look_ahead_on_real_data() {
    let (ltf, htf) = real_series("BTCUSDT_BINANCE");
    let ltf = &ltf[..1500];
    let cuts: Vec<usize> = (60..1500).step_by(97).chain([1499]).collect();
    check_no_look_ahead(ltf, &htf, &eager_config(), &cuts);
    check_no_look_ahead(ltf, &htf, &ScannerConfig::default(), &[700, 1100]);
}

fn backtest(
    dir: &Path,
    request: impl FnOnce(&mut BacktestRequest),
) -> quantpro_core::backtest::BacktestOutcome {
    let mut r = BacktestRequest::new(dir);
    request(&mut r);
    run_backtest(&r, &ScannerConfig::default()).expect("the backtest runs")
}

#[test]
fn real_data_directory_report() {
    let dir = common::candles_dir();
    let outcome = backtest(&dir, |r| r.exchange = Some(Exchange::Hyperliquid));
    let (report, summary) = (&outcome.report, &outcome.summary);
    assert_eq!((summary.symbols_total, summary.symbols_replayed), (10, 10));
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    assert_eq!(summary.closes, 10 * (5000 - 49));
    let htf_candles: usize = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_HYPERLIQUID_4h.json"))
        .map(|p| read_candle_file(&p).unwrap().len())
        .sum();
    assert_eq!(summary.candles, 10 * 5000 + htf_candles);
    // from / to: the first and last LTF candle replayed (index 49 and the
    // last), the earliest and the latest over the symbols.
    let series: Vec<Vec<Candle>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_HYPERLIQUID_15m.json"))
        .map(|p| read_candle_file(&p).unwrap())
        .collect();
    let first = series.iter().map(|s| s[49].t).min();
    let last = series.iter().map(|s| s.last().unwrap().t).max();
    assert_eq!((report.from, report.to), (first, last));
    assert!(report.trades.len() > 20, "{} trades", report.trades.len());
    assert!(report
        .trades
        .windows(2)
        .all(|w| w[0].opened_at <= w[1].opened_at));
    // The statistics describe the trades listed.
    let stats = &report.stats;
    let closed = report.trades.iter().filter(|t| !t.is_open()).count();
    assert_eq!(stats.all.trades, closed);
    assert_eq!(stats.all.open, report.trades.len() - closed);
    assert_eq!(stats.all.wins + stats.all.losses, stats.all.trades);
    assert_eq!(
        stats.all.tp_hits + stats.all.sl_hits + stats.all.expired,
        stats.all.trades
    );
    let net: f64 = report.trades.iter().filter_map(|t| t.r).sum();
    assert!((stats.all.net_r - net).abs() < 1e-9);
    assert_eq!(stats.by_strategy.len(), 3);
    assert_eq!(
        stats.by_exchange.keys().collect::<Vec<_>>(),
        [&Exchange::Hyperliquid]
    );
    assert!(stats
        .by_symbol
        .keys()
        .all(|k| k.starts_with("HYPERLIQUID:")));
    let per_strategy: usize = stats.by_strategy.values().map(|s| s.trades).sum();
    assert_eq!(per_strategy, stats.all.trades);
    let per_bucket: usize = stats
        .by_score_bucket
        .values()
        .map(|s| s.trades + s.open)
        .sum();
    assert_eq!(per_bucket, report.trades.len());

    // The JSON report has the shape of STRATEGIES.md §6 and reads back.
    let json = serde_json::to_value(report).unwrap();
    for key in ["from", "to", "config", "trades", "stats"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert_eq!(json["config"]["track"]["max_bars"], 96);
    let back: BacktestReport = serde_json::from_value(json).unwrap();
    assert_eq!(&back, report);
    let csv = String::from_utf8(trades_csv(&report.trades).unwrap()).unwrap();
    assert_eq!(csv.lines().count(), report.trades.len() + 1);
}

#[test]
fn strategy_and_range_filters() {
    let dir = common::candles_dir();
    let (ltf, _) = real_series("SOLUSDT_BINANCE");
    let (from, to) = (ltf[2000].t, ltf[3000].t);
    let outcome = backtest(&dir, |r| {
        r.symbol = Some("SOL".into());
        r.exchange = Some(Exchange::Binance);
        r.strategies = vec![Strategy::Breakout];
        r.from_ms = Some(from);
        r.to_ms = Some(to);
    });
    let report = &outcome.report;
    assert_eq!((report.from, report.to), (Some(from), Some(to)));
    assert_eq!(outcome.summary.closes, 1001);
    assert!(report
        .trades
        .iter()
        .all(|t| t.strategy == Strategy::Breakout));
    assert!(report
        .trades
        .iter()
        .all(|t| (from..=to).contains(&t.opened_at)));
    assert!(
        report
            .trades
            .iter()
            .all(|t| t.closed_at.is_none_or(|c| c <= to)),
        "the data ends at --to"
    );
    assert_eq!(
        report.stats.by_strategy[&Strategy::Legacy],
        TradeStats::default()
    );
    // --to is the end of the data: the same as a file that ends there.
    let truncated = replay_symbol(
        "SOLUSDT",
        Exchange::Binance,
        &ltf[..=3000],
        &real_series("SOLUSDT_BINANCE").1,
        &ScannerConfig::default(),
        &[Strategy::Breakout],
        Some(from),
    );
    assert_eq!(truncated.trades, report.trades);

    let err = run_backtest(
        &BacktestRequest {
            from_ms: Some(to),
            to_ms: Some(from),
            ..BacktestRequest::new(&dir)
        },
        &ScannerConfig::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("is after --to"), "{err}");
}

#[test]
fn corrupt_and_short_files_are_skipped_with_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SyntheticSpec {
        n_symbols: 3,
        n_15m: 300,
        n_4h: 100,
        ..SyntheticSpec::default()
    };
    quantpro_core::synthetic::generate_dataset(dir.path(), &spec).unwrap();
    std::fs::write(dir.path().join("SYN001USDT_BINANCE_15m.json"), "[[1,2,").unwrap();
    let sol = dir.path().join("SYN002USDT_BINANCE_15m.json");
    let short = &read_candle_file(&sol).unwrap()[..30];
    std::fs::write(&sol, quantpro_core::candles::candles_to_json(short)).unwrap();
    let outcome = backtest(dir.path(), |r| r.now_ms = Some(spec.end_ms));
    let summary = &outcome.summary;
    assert_eq!((summary.symbols_total, summary.symbols_replayed), (3, 1));
    let mut skipped: Vec<(&str, &str)> = summary
        .skipped
        .iter()
        .map(|s| (s.file.as_str(), s.reason.as_str()))
        .collect();
    skipped.sort();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0].0, "SYN001USDT_BINANCE_15m.json");
    assert!(
        skipped[0].1.starts_with("not a candle array"),
        "{}",
        skipped[0].1
    );
    assert_eq!(
        skipped[1],
        (
            "SYN002USDT_BINANCE_15m.json",
            "30 closed 15m candles: a replay needs at least 50 (data.min_ltf_candles)"
        )
    );
    assert!(outcome
        .report
        .trades
        .iter()
        .all(|t| t.symbol == "SYN000USDT"));

    let missing = run_backtest(
        &BacktestRequest::new("/nonexistent/quantpro"),
        &ScannerConfig::default(),
    );
    assert!(missing
        .unwrap_err()
        .to_string()
        .starts_with("cannot read the data directory"));
}

#[test]
fn a_freqtrade_folder_backtests_as_it_is() {
    // freqtrade's JSON kline arrays, written by the test from synthetic candles.
    let root = tempfile::tempdir().unwrap();
    let binance = root.path().join("user_data/data/binance");
    std::fs::create_dir_all(&binance).unwrap();
    let spec = SyntheticSpec {
        n_15m: 400,
        n_4h: 120,
        ..SyntheticSpec::default()
    };
    let series = generate_series(&spec, 0);
    let klines = |candles: &[Candle]| {
        let rows: Vec<serde_json::Value> = candles
            .iter()
            .map(|c| serde_json::json!([c.t, c.o, c.h, c.l, c.c, c.v]))
            .collect();
        serde_json::to_vec(&rows).unwrap()
    };
    std::fs::write(binance.join("BTC_USDT-15m.json"), klines(&series.ltf)).unwrap();
    std::fs::write(binance.join("BTC_USDT-4h.json"), klines(&series.htf)).unwrap();
    std::fs::write(binance.join("BTC_USDT-1m.json"), klines(&series.ltf)).unwrap();
    let config = eager_config();
    let request = BacktestRequest {
        now_ms: Some(spec.end_ms),
        ..BacktestRequest::new(root.path().join("user_data/data"))
    };
    let outcome = run_backtest(&request, &config).unwrap();
    assert_eq!(outcome.summary.symbols_replayed, 1);
    assert_eq!(outcome.summary.skipped.len(), 1);
    assert_eq!(outcome.summary.skipped[0].file, "binance/BTC_USDT-1m.json");
    let direct = replay_symbol(
        "BTCUSDT",
        Exchange::Binance,
        &series.ltf,
        &series.htf,
        &config,
        Strategy::ALL,
        None,
    );
    assert!(!direct.trades.is_empty());
    assert_eq!(
        outcome.report.trades, direct.trades,
        "the same candles give the same trades"
    );
    assert!(outcome.report.trades.iter().all(|t| t.symbol == "BTCUSDT"));
}

#[test]
fn cli_backtest_prints_the_table_and_writes_report_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (out, csv) = (
        dir.path().join("report.json"),
        dir.path().join("trades.csv"),
    );
    let data = common::candles_dir();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_quantpro"))
        .args(["backtest", "--data-dir", data.to_str().unwrap()])
        .args([
            "--symbol",
            "BTC",
            "--exchange",
            "BINANCE",
            "--from",
            "2024-08-20",
        ])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
        ])
        .args(["--config", dir.path().join("none.toml").to_str().unwrap()])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("1 of 1 symbols replayed"), "{stdout}");
    let header = stdout.lines().find(|l| l.starts_with("strategy")).unwrap();
    assert!(header.contains("win rate") && header.contains("PF") && header.contains("max DD"));
    for strategy in ["Legacy", "Breakout", "BreakoutV2", "all"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{strategy} "))),
            "{strategy}: {stdout}"
        );
    }
    let report: BacktestReport = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    // 2024-08-20T00:00:00Z is a candle's open time in the data.
    assert_eq!(report.from, Some(1_724_112_000_000));
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(rows.lines().count(), report.trades.len() + 1);

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_quantpro"))
        .args([
            "backtest",
            "--data-dir",
            data.to_str().unwrap(),
            "--from",
            "1724112000",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("looks like Unix seconds"));
}

#[test]
fn the_track_section_comes_from_the_file_and_the_environment() {
    use quantpro_service::settings::{Environment, SettingsStore};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quantpro.toml");
    std::fs::write(&path, "[track]\nfee_bps = 2.5\n").unwrap();
    let env = Environment::from_pairs([("QUANTPRO_TRACK__MAX_BARS", "48")]);
    let config = SettingsStore::new(&path, env).load().unwrap().scanner;
    assert_eq!((config.track.max_bars, config.track.fee_bps), (48, 2.5));
    let keys: Vec<&str> = ScannerConfig::fields().iter().map(|f| f.key).collect();
    assert!(keys.contains(&"track.max_bars") && keys.contains(&"track.fee_bps"));

    let bad = Environment::from_pairs([("QUANTPRO_TRACK__MAX_BARS", "0")]);
    let err = SettingsStore::new(&path, bad)
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("QUANTPRO_TRACK__MAX_BARS") && err.contains("track.max_bars"),
        "{err}"
    );
}
