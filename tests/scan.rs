//! The scanner core seen from outside: a full scan of the real candle data
//! in `../shared/data/candles`, bad files in a copy of it, the feed written
//! atomically, and properties that must hold for any candle series.

mod common;

use proptest::prelude::*;
use quantpro_core::candles::{parse_candles_json, Candle};
use quantpro_core::context::SharedContext;
use quantpro_core::feed_writer::write_feed;
use quantpro_core::scan::{run_scan, NoProgress, ScanOutcome, ScanRequest};
use quantpro_core::setup::compute_setup;
use quantpro_core::strategies::evaluate_all;
use quantpro_model::external::ExternalDataMap;
use quantpro_model::{
    Action, Exchange, Interval, MasterFeed, OiStatus, ScannerConfig, SetupConfig, Side, Signal,
    Strategy as StrategyName, TradeSetup,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// After every candle of the data set closed (2025-10-01): every series is stale.
const AFTER_ALL_DATA_MS: i64 = 1_759_276_800_000;

/// The real candles (third-party data, read in place, never copied into the repository).
fn data_dir() -> PathBuf {
    common::candles_dir()
}

fn scan(dir: &Path, now_ms: i64) -> ScanOutcome {
    let request = ScanRequest {
        now_ms: Some(now_ms),
        ..ScanRequest::new(dir)
    };
    run_scan(
        &request,
        &ScannerConfig::default(),
        &ExternalDataMap::new(),
        &NoProgress,
    )
    .expect("the scan runs")
}

/// The last candle of a file, read with a plain serde_json parse (not the scanner's parser).
fn last_candle(path: &Path, now_ms: i64, interval: Interval) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    value
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|c| c["t"].as_i64().unwrap() + interval.millis() <= now_ms)
        .unwrap()
        .clone()
}

#[test]
fn real_data_gives_three_signals_per_symbol() {
    let outcome = scan(&data_dir(), AFTER_ALL_DATA_MS);
    let summary = &outcome.summary;
    assert_eq!((summary.symbols_total, summary.symbols_processed), (20, 20));
    assert_eq!(outcome.feed.signals.len(), 60);
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    let counts = summary.signals_per_action;
    assert_eq!(counts.long + counts.short + counts.wait, 60);
    assert_eq!(
        summary.stale_symbols, 20,
        "data from 2024/2025 is stale in October 2025"
    );
    assert_eq!(outcome.feed.last_updated, AFTER_ALL_DATA_MS);

    let mut per_symbol: BTreeMap<(Exchange, String), BTreeSet<StrategyName>> = BTreeMap::new();
    for s in &outcome.feed.signals {
        assert!(
            per_symbol
                .entry((s.exchange, s.symbol.clone()))
                .or_default()
                .insert(s.strategy),
            "duplicate {:?}",
            s.key()
        );
        check_signal(s);
        assert!(s.ltf.stale);
        assert_eq!(s.oi_metadata.status, OiStatus::Neutral, "no Coinalyze data");
        let sc = &s.observability.score_composition;
        assert!(!sc.oi_z_score_valid && sc.oi_z_score == 0.0 && !sc.oi_available);
        if s.strategy == StrategyName::BreakoutV2 {
            assert!(
                s.wait_reasons.contains(&"oi_unavailable".to_string()),
                "V2 requires OI by default"
            );
        }
    }
    assert_eq!(per_symbol.len(), 20);
    assert!(per_symbol.values().all(|strategies| strategies.len() == 3));
    assert!(
        outcome
            .feed
            .signals
            .windows(2)
            .all(|w| w[0].score >= w[1].score),
        "sorted by score, best first"
    );

    // Price and last candle time come straight from the file's last candle.
    let btc = outcome
        .feed
        .signals
        .iter()
        .find(|s| s.symbol == "BTCUSDT")
        .unwrap();
    let last = last_candle(
        &data_dir().join("BTCUSDT_BINANCE_15m.json"),
        AFTER_ALL_DATA_MS,
        Interval::M15,
    );
    assert_eq!(btc.price, last["c"].as_f64().unwrap());
    assert_eq!(btc.ltf.last_candle_time, last["t"].as_i64());
    assert_eq!(btc.observability.candle_index, 4999);
    assert_eq!(btc.canonical_symbol, "BTC");
}

#[test]
fn candles_still_open_at_scan_time_are_not_used() {
    // Mid-July 2025: the Hyperliquid series run on for days after this instant.
    let now = 1_753_000_000_000;
    let outcome = scan(&data_dir(), now);
    assert_eq!(outcome.feed.signals.len(), 60);
    let hl_btc = outcome
        .feed
        .signals
        .iter()
        .find(|s| s.symbol == "BTC" && s.exchange == Exchange::Hyperliquid)
        .unwrap();
    let last = last_candle(
        &data_dir().join("BTC_HYPERLIQUID_15m.json"),
        now,
        Interval::M15,
    );
    assert_eq!(hl_btc.price, last["c"].as_f64().unwrap());
    assert_eq!(hl_btc.ltf.last_candle_time, last["t"].as_i64());
    assert_eq!(
        hl_btc.observability.candle_index, 4437,
        "4438 of the 5000 candles had closed"
    );
    assert!(
        !hl_btc.ltf.stale,
        "the last closed candle is the latest possible one"
    );
}

/// Copies the 15m and 4h files of the real data into a temporary directory.
fn copy_of_real_data() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with("_15m.json") || name.ends_with("_4h.json") {
            std::fs::copy(&path, copy.path().join(&name)).unwrap();
        }
    }
    copy
}

fn edit_candles(path: &Path, edit: impl FnOnce(&mut Vec<serde_json::Value>)) {
    let mut candles: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(&mut candles);
    std::fs::write(path, serde_json::to_vec(&candles).unwrap()).unwrap();
}

#[test]
fn corrupt_files_are_skipped_with_reasons_and_the_rest_scans() {
    let copy = copy_of_real_data();
    let file = |name: &str| copy.path().join(name);
    let text = std::fs::read_to_string(file("BTCUSDT_BINANCE_15m.json")).unwrap();
    std::fs::write(file("BTCUSDT_BINANCE_15m.json"), &text[..text.len() / 2]).unwrap();
    edit_candles(&file("ETH_HYPERLIQUID_4h.json"), |c| {
        c[10]["h"] = serde_json::json!(1.0)
    });
    edit_candles(&file("SOLUSDT_BINANCE_15m.json"), |c| {
        let t = c[99]["t"].clone();
        c[100]["t"] = t;
    });
    edit_candles(&file("XRP_HYPERLIQUID_15m.json"), |c| {
        c[7]["v"] = serde_json::json!(-3.0)
    });
    std::fs::remove_file(file("DOGE_HYPERLIQUID_4h.json")).unwrap();
    std::fs::write(file("notes.json"), "{}").unwrap();

    let outcome = scan(copy.path(), AFTER_ALL_DATA_MS);
    assert_eq!(outcome.summary.symbols_processed, 15);
    assert_eq!(outcome.feed.signals.len(), 45);
    let reasons: BTreeMap<&str, &str> = outcome
        .summary
        .skipped
        .iter()
        .map(|s| (s.file.as_str(), s.reason.as_str()))
        .collect();
    let expected = [
        (
            "BTCUSDT_BINANCE_15m.json",
            "not a candle array: EOF while parsing",
        ),
        (
            "ETH_HYPERLIQUID_4h.json",
            "candle #10 (t=1732046400000): high 1 is below max(open, close)",
        ),
        ("SOLUSDT_BINANCE_15m.json", "candle #100 has time"),
        (
            "XRP_HYPERLIQUID_15m.json",
            "candle #7 (t=1749012300000): volume must be a finite number >= 0, found -3",
        ),
        (
            "DOGE_HYPERLIQUID_15m.json",
            "no 4h file for DOGE on HYPERLIQUID",
        ),
        (
            "notes.json",
            "file name must look like SYMBOL_EXCHANGE_INTERVAL",
        ),
    ];
    assert_eq!(reasons.len(), expected.len(), "{reasons:?}");
    for (file, start) in expected {
        let reason = reasons
            .get(file)
            .unwrap_or_else(|| panic!("{file} should be skipped: {reasons:?}"));
        assert!(
            reason.starts_with(start),
            "{file}: '{reason}' should start with '{start}'"
        );
    }
    let scanned: BTreeSet<(&str, Exchange)> = outcome
        .feed
        .signals
        .iter()
        .map(|s| (s.symbol.as_str(), s.exchange))
        .collect();
    assert!(!scanned.contains(&("BTCUSDT", Exchange::Binance)));
    assert!(scanned.contains(&("BTC", Exchange::Hyperliquid)));
}

#[test]
fn the_feed_is_written_atomically_and_parses_back() {
    let outcome = scan(&data_dir(), AFTER_ALL_DATA_MS);
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("master_feed.json");
    std::fs::write(&path, "stale content").unwrap();
    write_feed(&path, &outcome.feed).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let feed = MasterFeed::parse(&text).expect("the written feed parses");
    assert_eq!(feed.last_updated, outcome.feed.last_updated);
    assert_eq!(feed.signals.len(), 60);
    let keys = |f: &MasterFeed| {
        f.signals
            .iter()
            .map(|s| format!("{:?}", s.key()))
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&feed), keys(&outcome.feed));
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("master_feed.json")],
        "no temporary file left"
    );
}

#[test]
fn a_scan_of_the_embedded_data_dir_reports_no_error_for_the_files_it_wrote_itself() {
    let dir = tempfile::tempdir().unwrap();
    let now_ms = 1_765_000_000_000;
    quantpro_core::synthetic::generate_demo_dataset(dir.path(), 6, now_ms).unwrap();
    let first = scan(dir.path(), now_ms);
    assert!(
        first.summary.skipped.is_empty(),
        "{:?}",
        first.summary.skipped
    );
    // What a running product leaves beside the candles: its feed, the
    // journal and its lock files.
    write_feed(&dir.path().join(quantpro_model::FEED_FILE), &first.feed).unwrap();
    for name in [
        "journal.sqlite",
        "journal.sqlite-wal",
        ".master_feed.json.lock",
    ] {
        std::fs::write(dir.path().join(name), b"x").unwrap();
    }
    let again = scan(dir.path(), now_ms);
    assert!(
        again.summary.skipped.is_empty(),
        "{:?}",
        again.summary.skipped
    );
    assert_eq!(again.feed.signals.len(), first.feed.signals.len());
}

/// Every number finite, scores in range, WAIT explained, setup consistent.
fn check_signal(s: &Signal) {
    for (name, value) in numbers(s) {
        assert!(
            value.is_finite(),
            "{} {} {}: {name} = {value}",
            s.symbol,
            s.exchange,
            s.strategy
        );
    }
    let sc = &s.observability.score_composition;
    for part in [
        sc.trend_score,
        sc.structure_score,
        sc.money_flow_score,
        sc.timing_score,
    ] {
        assert!((0.0..=25.0).contains(&part), "{part}");
    }
    assert!((0.0..=100.0).contains(&s.score));
    assert!((s.score - sc.total()).abs() < 1e-9);
    assert_eq!(s.score, s.total_score);
    assert_eq!(
        s.action == Action::Wait,
        !s.wait_reasons.is_empty(),
        "{:?} {:?}",
        s.action,
        s.wait_reasons
    );
    if let Some(setup) = &s.setup {
        check_setup(setup);
        assert_eq!(s.bias.side(), Some(setup.side));
    }
    if s.action != Action::Wait {
        assert!(s.setup.is_some());
    }
}

fn check_setup(setup: &TradeSetup) {
    let TradeSetup {
        side,
        entry,
        sl,
        tp,
        rr,
    } = *setup;
    match side {
        Side::Long => {
            assert!(
                sl < entry && entry < tp,
                "LONG needs SL < entry < TP: {setup:?}"
            );
            assert!(
                (rr - (tp - entry) / (entry - sl)).abs() <= 1e-12 * rr.abs().max(1.0),
                "{setup:?}"
            );
        }
        Side::Short => {
            assert!(
                tp < entry && entry < sl,
                "SHORT needs TP < entry < SL: {setup:?}"
            );
            assert!(
                (rr - (entry - tp) / (sl - entry)).abs() <= 1e-12 * rr.abs().max(1.0),
                "{setup:?}"
            );
        }
    }
    assert!(sl > 0.0 && tp > 0.0 && rr > 0.0);
}

/// Every number a signal carries, by name.
fn numbers(s: &Signal) -> Vec<(&'static str, f64)> {
    let sc = &s.observability.score_composition;
    let mut out = vec![
        ("price", s.price),
        ("score", s.score),
        ("total_score", s.total_score),
        ("details.total", s.details.total),
        ("ltf.obv_slope", s.ltf.obv_slope),
        ("close_price", sc.close_price),
        ("oi_z_score", sc.oi_z_score),
        ("obv_slope", sc.obv_slope),
        ("trend_score", sc.trend_score),
        ("structure_score", sc.structure_score),
        ("money_flow_score", sc.money_flow_score),
        ("timing_score", sc.timing_score),
    ];
    let optional = [
        ("details.oi_z_score", s.details.oi_z_score),
        ("details.obv_slope", s.details.obv_slope),
        ("htf.adx", s.htf.adx),
        ("htf.ema50", s.htf.ema50),
        ("htf.ema200", s.htf.ema200),
        ("ltf.rsi", s.ltf.rsi),
        ("ltf.atr", s.ltf.atr),
        ("ltf.ema20", s.ltf.ema20),
        ("ltf.ema50", s.ltf.ema50),
        ("rsi", sc.rsi),
        ("atr", sc.atr),
        ("oi_metadata.value", s.oi_metadata.value),
    ];
    out.extend(
        optional
            .into_iter()
            .filter_map(|(name, v)| v.map(|v| (name, v))),
    );
    if let Some(setup) = &s.setup {
        out.extend([
            ("entry", setup.entry),
            ("sl", setup.sl),
            ("tp", setup.tp),
            ("rr", setup.rr),
        ]);
    }
    let visuals = &s.observability.rsi_visuals;
    for line in [&visuals.resistance, &visuals.support]
        .into_iter()
        .flatten()
    {
        out.extend([
            ("line.start_rsi", line.start_rsi),
            ("line.end_rsi", line.end_rsi),
            ("line.slope", line.slope),
            ("line.value_now", line.value_now),
        ]);
    }
    if let Some(m) = &s.metadata {
        out.extend(
            [m.mcap, m.vol_24h]
                .into_iter()
                .flatten()
                .map(|v| ("metadata", v)),
        );
    }
    out
}

// ---------------------------------------------------------------------------
// Properties

/// Valid candle series of every shape: random walks over many magnitudes,
/// flat series, zero volume, a single candle.
fn candle_series(max_len: usize) -> impl Strategy<Value = Vec<Candle>> {
    let walk = (
        1..=max_len,
        -6.0f64..6.0,
        0.0f64..0.05,
        any::<u64>(),
        prop::bool::ANY,
    )
        .prop_map(|(len, magnitude, vol, seed, zero_volume)| {
            walk_series(len, 10f64.powf(magnitude), vol, seed, zero_volume)
        });
    let flat =
        (1..=max_len, 1e-6f64..1e6, prop::bool::ANY).prop_map(|(len, price, zero_volume)| {
            (0..len)
                .map(|i| Candle {
                    t: i as i64 * 900_000,
                    o: price,
                    h: price,
                    l: price,
                    c: price,
                    v: if zero_volume { 0.0 } else { 5.0 },
                })
                .collect()
        });
    let single = (1e-6f64..1e6, 0.0f64..0.1, 0.0f64..1e9).prop_map(|(price, wick, v)| {
        vec![Candle {
            t: 0,
            o: price,
            h: price * (1.0 + wick),
            l: price / (1.0 + wick),
            c: price,
            v,
        }]
    });
    prop_oneof![6 => walk, 2 => flat, 1 => single]
}

/// A deterministic random walk from a seed (xorshift), so shrinking stays meaningful.
fn walk_series(len: usize, start: f64, vol: f64, seed: u64, zero_volume: bool) -> Vec<Candle> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut close = start;
    (0..len)
        .map(|i| {
            let open = close;
            close = (open * (1.0 + vol * (next() * 2.0 - 1.0))).max(f64::MIN_POSITIVE * 1e10);
            let h = open.max(close) * (1.0 + vol * next());
            let l = open.min(close) * (1.0 - 0.5 * vol * next());
            let v = if zero_volume { 0.0 } else { next() * 1000.0 };
            Candle {
                t: i as i64 * 900_000,
                o: open,
                h,
                l,
                c: close,
                v,
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_nan_or_infinity_ever_reaches_the_feed(ltf in candle_series(260), htf in candle_series(230)) {
        let htf: Vec<Candle> = htf.into_iter().map(|c| Candle { t: c.t * 16, ..c }).collect();
        let now = ltf.last().unwrap().t + 900_000;
        let config = ScannerConfig::default();
        let ctx = SharedContext::build("TESTUSDT", Exchange::Binance, ltf, htf, None, &config, now);
        let signals = evaluate_all(&ctx, &config);
        prop_assert_eq!(signals.len(), 3);
        for s in &signals {
            check_signal(s);
        }
        let feed = MasterFeed { last_updated: now, signals };
        let text = feed.to_json();
        prop_assert!(!text.contains("NaN") && !text.contains("inf"));
        let back = MasterFeed::parse(&text).expect("the serialized feed parses");
        prop_assert_eq!(back.signals.len(), 3);
    }

    #[test]
    fn setups_put_the_stop_and_target_on_either_side_of_the_entry(
        ltf in candle_series(120),
        htf in candle_series(120),
        atr in prop_oneof![Just(0.0), 1e-9f64..1e3],
        sl_lookback in 1usize..30,
        tp_lookback in 1usize..150,
        sl_atr_buffer in 0.0f64..2.0,
        min_risk_atr in 0.0f64..3.0,
        tp_min_rr in 0.0f64..5.0,
        fallback_rr in 0.1f64..5.0,
    ) {
        let cfg = SetupConfig { sl_lookback, tp_lookback, sl_atr_buffer, min_risk_atr, tp_min_rr, fallback_rr, ..SetupConfig::default() };
        let atr = atr * ltf.last().unwrap().c / 100.0;
        for side in [Side::Long, Side::Short] {
            if let Some(setup) = compute_setup(&ltf, &htf, Some(atr), side, &cfg) {
                prop_assert_eq!(setup.side, side);
                prop_assert_eq!(setup.entry, ltf.last().unwrap().c);
                check_setup(&setup);
            }
        }
    }

    #[test]
    fn generated_json_parses_back_exactly(series in candle_series(50)) {
        let text = quantpro_core::candles::candles_to_json(&series);
        prop_assert_eq!(parse_candles_json(text.as_bytes()).unwrap(), series);
    }
}
