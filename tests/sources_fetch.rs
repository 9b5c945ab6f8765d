//! `quantpro fetch` end to end against a fake Binance USD-M API: new files in
//! the scanner's format, incremental appends, the open candle dropped, top-N
//! selection, and one bad series not stopping the others.

#![cfg(feature = "ssr")]

use quantpro_model::now_ms as unix_now_ms;
use quantpro_model::Candle;
use quantpro_model::Exchange;
use quantpro_model::Interval;
use quantpro_service::fetch::{
    candle_file_path, run_fetch, FetchArgs, FetchError, SymbolSelection,
};
use quantpro_sources::http::RetryPolicy;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Candles of one interval ending with the one open now; values derived
/// from the open time so any candle can be recomputed.
fn candle_at(t: i64) -> Candle {
    let x = (t / 60_000 % 10_000) as f64;
    Candle {
        t,
        o: 100.0 + x,
        h: 102.0 + x,
        l: 99.0 + x,
        c: 101.0 + x,
        v: 5.0 + x,
    }
}

fn open_candle_time(interval: Interval, now: i64) -> i64 {
    now - now.rem_euclid(interval.millis())
}

/// Binance USD-M klines for BTCUSDT and ETHUSDT over the last 400 candles of
/// each interval, including the still-open one; records `startTime`s.
struct FakeBinance {
    starts: Arc<Mutex<Vec<(String, String, i64)>>>,
}

impl Respond for FakeBinance {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let q: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        if !["BTCUSDT", "ETHUSDT"].contains(&q["symbol"].as_str()) {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"code":-1121,"msg":"Invalid symbol."}));
        }
        let interval: Interval = q["interval"].parse().unwrap();
        let start: i64 = q["startTime"].parse().unwrap();
        let end: i64 = q["endTime"].parse().unwrap();
        let limit: usize = q["limit"].parse().unwrap();
        self.starts
            .lock()
            .unwrap()
            .push((q["symbol"].clone(), q["interval"].clone(), start));
        let step = interval.millis();
        let open = open_candle_time(interval, unix_now_ms());
        let rows: Vec<Value> = (0..400)
            .rev()
            .map(|k| candle_at(open - k * step))
            .filter(|c| c.t >= start && c.t <= end)
            .take(limit)
            .map(|c| {
                json!([
                    c.t,
                    c.o.to_string(),
                    c.h.to_string(),
                    c.l.to_string(),
                    c.c.to_string(),
                    c.v.to_string(),
                    c.t + step - 1,
                    "0",
                    1,
                    "0",
                    "0",
                    "0"
                ])
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(rows)
    }
}

async fn fake() -> (MockServer, Arc<Mutex<Vec<(String, String, i64)>>>) {
    let server = MockServer::start().await;
    let starts = Arc::new(Mutex::new(Vec::new()));
    Mock::given(path("/fapi/v1/klines"))
        .respond_with(FakeBinance {
            starts: starts.clone(),
        })
        .mount(&server)
        .await;
    let tickers = json!([{"symbol":"ETHUSDT","quoteVolume":"900"},{"symbol":"BTCUSDT","quoteVolume":"1000"},{"symbol":"XUSDT","quoteVolume":"1"}]);
    Mock::given(path("/fapi/v1/ticker/24hr"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tickers))
        .mount(&server)
        .await;
    // The market list: what trades (the tickers give the volume).
    let perp = |symbol: &str| json!({"symbol": symbol, "status": "TRADING", "quoteAsset": "USDT", "contractType": "PERPETUAL"});
    let info = json!({"symbols": [perp("ETHUSDT"), perp("BTCUSDT"), perp("XUSDT")]});
    Mock::given(path("/fapi/v1/exchangeInfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(info))
        .mount(&server)
        .await;
    (server, starts)
}

fn args(server: &MockServer, symbols: SymbolSelection, dir: &Path) -> FetchArgs {
    let mut args = FetchArgs::new(
        Exchange::Binance,
        symbols,
        vec![Interval::M15, Interval::H4],
        dir,
    );
    args.urls.binance_futures = server.uri();
    args.initial_candles = 100;
    args.show_progress = false;
    args.retry = RetryPolicy {
        max_tries: 2,
        backoff_base: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(2),
    };
    args
}

fn read(path: &Path) -> Vec<Candle> {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn list(symbols: &[&str]) -> SymbolSelection {
    SymbolSelection::List(symbols.iter().map(|s| s.to_string()).collect())
}

#[tokio::test]
async fn new_files_hold_the_closed_candles_in_the_scanner_format() {
    let (server, _) = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let report = run_fetch(args(&server, list(&["BTCUSDT"]), dir.path()))
        .await
        .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let now = unix_now_ms();
    for interval in [Interval::M15, Interval::H4] {
        let path = candle_file_path(dir.path(), "BTCUSDT", Exchange::Binance, interval);
        assert!(path.ends_with(format!("BTCUSDT_BINANCE_{interval}.json")));
        let candles = read(&path);
        let last = *candles.last().unwrap();
        assert!(
            last.t + interval.millis() <= now,
            "the open candle is dropped"
        );
        assert_eq!(
            last.t,
            open_candle_time(interval, now) - interval.millis(),
            "up to the newest closed candle"
        );
        assert!(
            candles.len() >= 99 && candles.len() <= 100,
            "{}",
            candles.len()
        );
        assert!(candles
            .windows(2)
            .all(|w| w[1].t - w[0].t == interval.millis()));
        assert!(candles.iter().all(|c| *c == candle_at(c.t)));
        let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let keys: Vec<&String> = raw[0].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 6, "exactly t, o, h, l, c, v: {keys:?}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary files: {leftovers:?}");
}

#[tokio::test]
async fn existing_files_only_get_newer_candles() {
    let (server, starts) = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let step = Interval::M15.millis();
    let open = open_candle_time(Interval::M15, unix_now_ms());
    // A file that stopped 30 candles ago.
    let old: Vec<Candle> = (31..80).rev().map(|k| candle_at(open - k * step)).collect();
    let path = candle_file_path(dir.path(), "ETHUSDT", Exchange::Binance, Interval::M15);
    std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();

    let mut fetch = args(&server, list(&["ETHUSDT"]), dir.path());
    fetch.intervals = vec![Interval::M15];
    let report = run_fetch(fetch).await.unwrap();
    let update = &report.updated[0];
    let candles = read(&path);
    assert_eq!(
        &candles[..old.len()],
        &old[..],
        "existing candles are kept as they were"
    );
    let expected_new = (candles.last().unwrap().t - old.last().unwrap().t) / step;
    assert_eq!(update.added as i64, expected_new);
    assert!(
        (30..=31).contains(&update.added),
        "30 closed candles are newer (31 if one closed meanwhile): {}",
        update.added
    );
    assert_eq!(
        starts.lock().unwrap()[0].2,
        old.last().unwrap().t + step,
        "asks only for candles after the file's last"
    );
    assert!(candles.windows(2).all(|w| w[1].t - w[0].t == step));
}

#[tokio::test]
async fn top_n_follows_quote_volume_and_a_bad_series_does_not_stop_the_rest() {
    let (server, _) = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let report = run_fetch(args(&server, SymbolSelection::Top(2), dir.path()))
        .await
        .unwrap();
    assert_eq!(report.symbols, vec!["BTCUSDT", "ETHUSDT"]);
    assert_eq!(report.updated.len(), 4);

    let corrupt = candle_file_path(dir.path(), "BTCUSDT", Exchange::Binance, Interval::H4);
    std::fs::write(&corrupt, b"{not candles").unwrap();
    let report = run_fetch(args(&server, list(&["NOPEUSDT", "BTCUSDT"]), dir.path()))
        .await
        .unwrap();
    let failed: Vec<(String, Interval)> = report
        .failed
        .iter()
        .map(|f| (f.symbol.clone(), f.interval))
        .collect();
    assert_eq!(
        failed,
        vec![
            ("NOPEUSDT".into(), Interval::M15),
            ("NOPEUSDT".into(), Interval::H4),
            ("BTCUSDT".into(), Interval::H4)
        ]
    );
    assert!(matches!(
        report.failed[2].error,
        FetchError::CorruptFile { .. }
    ));
    assert_eq!(
        std::fs::read(&corrupt).unwrap(),
        b"{not candles",
        "a file we cannot read is left untouched"
    );
    assert_eq!(report.updated.len(), 1);
    assert!(
        report.updated[0].added <= 1,
        "BTCUSDT 15m was up to date (one more only if a candle closed meanwhile)"
    );

    let empty = run_fetch(args(&server, SymbolSelection::List(vec![]), dir.path()))
        .await
        .unwrap_err();
    assert!(matches!(empty, FetchError::NoSymbols));
}
