//! The `quantpro` binary seen from a shell: demo data, scan, indicators and
//! the errors a user gets for bad input.

#![cfg(feature = "ssr")]

use quantpro_model::{Action, Exchange, MasterFeed};
use std::path::Path;
use std::process::{Command, Output};

fn quantpro(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quantpro"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .env_remove("RUST_BACKTRACE")
        .env_remove("COINALYZE_API_KEY")
        .output()
        .expect("run quantpro")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn demo_data_then_scan_writes_a_feed_of_three_signals_per_symbol() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();

    let out = quantpro(
        &["demo-data", "--data-dir", data_arg, "--symbols", "6"],
        dir.path(),
    );
    assert!(out.status.success(), "{out:?}");
    assert!(data.join(quantpro_model::SYNTHETIC_MARKER).exists());

    let out = quantpro(
        &["scan", "--data-dir", data_arg, "--config", "none.toml"],
        dir.path(),
    );
    assert!(out.status.success(), "{out:?}");
    let summary = stdout(&out);
    assert!(
        summary.contains("6 of 6 symbols processed, 18 signals"),
        "{summary}"
    );
    assert!(
        summary.contains("0 stale"),
        "a fresh sample is not stale: {summary}"
    );

    let feed = MasterFeed::parse(&std::fs::read_to_string(data.join("master_feed.json")).unwrap())
        .unwrap();
    assert_eq!(feed.signals.len(), 18);
    assert!(feed.last_updated > 0);
    for signal in &feed.signals {
        assert_eq!(
            signal.action == Action::Wait,
            !signal.wait_reasons.is_empty(),
            "{}",
            signal.symbol
        );
    }
}

#[test]
fn scan_filters_by_symbol_merges_a_partial_scan_and_reports_skipped_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    assert!(quantpro(
        &["demo-data", "--data-dir", data_arg, "--symbols", "3"],
        dir.path()
    )
    .status
    .success());
    std::fs::write(data.join("BROKEN_BINANCE_15m.json"), "[{\"t\": 1, \"o\": ").unwrap();
    std::fs::write(data.join("BROKEN_BINANCE_4h.json"), "[]").unwrap();
    let out_file = dir.path().join("feed.json");

    let out = quantpro(
        &[
            "scan",
            "--data-dir",
            data_arg,
            "--out",
            out_file.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{out:?}");
    let summary = stdout(&out);
    assert!(
        summary.contains("[SKIP] BROKEN_BINANCE_15m.json"),
        "{summary}"
    );

    let out_arg = out_file.to_str().unwrap();
    let scan_btc = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            "--data-dir",
            data_arg,
            "--symbol",
            "SYN000",
            "--out",
            out_arg,
        ];
        args.extend_from_slice(extra);
        let out = quantpro(&args, dir.path());
        assert!(out.status.success(), "{out:?}");
        let feed = MasterFeed::parse(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
        (stdout(&out), feed)
    };

    // A partial scan updates SYN000's three signals (BINANCE) and keeps the
    // other six (SYN001 on MEXC, SYN002 on HYPERLIQUID in the demo set).
    let (summary, merged) = scan_btc(&[]);
    assert!(
        summary.contains("(9 signals, 6 kept from the previous feed)"),
        "{summary}"
    );
    assert_eq!(merged.signals.len(), 9);
    let mut exchanges: Vec<Exchange> = merged.signals.iter().map(|s| s.exchange).collect();
    exchanges.sort();
    exchanges.dedup();
    assert_eq!(exchanges.len(), 3, "every exchange of the demo set");

    let (_, feed) = scan_btc(&["--replace"]);
    assert_eq!(feed.signals.len(), 3);
    assert!(feed.signals.iter().all(|s| s.canonical_symbol == "SYN000"));
    assert!(feed.last_updated >= merged.last_updated);
}

#[test]
fn indicators_prints_aligned_series_with_nulls_before_the_first_value() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(quantpro(
        &[
            "demo-data",
            "--data-dir",
            data.to_str().unwrap(),
            "--symbols",
            "1"
        ],
        dir.path()
    )
    .status
    .success());
    let file = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("_4h.json"))
        .unwrap();

    let out = quantpro(&["indicators", file.to_str().unwrap()], dir.path());
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = json["t"].as_array().unwrap().len();
    assert!(n > 200);
    for key in [
        "rsi14",
        "atr14",
        "adx14",
        "plus_di14",
        "minus_di14",
        "ema20",
        "ema50",
        "ema200",
        "obv",
    ] {
        assert_eq!(json[key].as_array().unwrap().len(), n, "{key}");
    }
    assert!(json["rsi14"][13].is_null() && json["rsi14"][14].is_number());
    assert!(json["adx14"][26].is_null() && json["adx14"][27].is_number());
    assert!(json["ema200"][198].is_null() && json["ema200"][199].is_number());
}

#[test]
fn bad_input_gives_a_clear_error_and_a_failing_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = quantpro(&["indicators", "missing_BINANCE_4h.json"], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing_BINANCE_4h.json") && err.contains("No such file"),
        "{err}"
    );

    let out = quantpro(&["scan", "--data-dir", "no-such-dir"], dir.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-dir"));

    let out = quantpro(&["scan", "--exchange", "KRAKEN"], dir.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("expected one of: MEXC, HYPERLIQUID, BINANCE"));
}

/// Runs `quantpro` with `stdin` as its standard input.
fn quantpro_with_input(args: &[&str], cwd: &Path, stdin: &str, env: &[(&str, &str)]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_quantpro"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run quantpro");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn set_password_stores_a_hash_that_verifies_and_never_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("quantpro.toml");
    std::fs::write(&config, "[legacy]\nmin_score = 65.0\n").unwrap();
    let config_arg = config.to_str().unwrap();

    let out = quantpro_with_input(
        &["set-password", "--config", config_arg],
        dir.path(),
        "short\n",
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at least 8 characters"),
        "{out:?}"
    );

    let out = quantpro_with_input(
        &["set-password", "--config", config_arg],
        dir.path(),
        "a long enough password\n",
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let printed = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains("Owner password set"), "{printed}");
    assert!(
        !printed.contains("$argon2") && !printed.contains("a long enough"),
        "{printed}"
    );

    let table: toml::Table = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(
        table["legacy"]["min_score"].as_float(),
        Some(65.0),
        "other tables kept"
    );
    let hash = table["auth"]["password_hash"].as_str().unwrap();
    assert!(quantpro::server::auth::verify_password(
        "a long enough password",
        hash
    ));
    assert!(!quantpro::server::auth::verify_password(
        "a long enough passwor",
        hash
    ));
}

#[test]
fn serving_beyond_loopback_without_a_password_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = quantpro_with_input(
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--config",
            "none.toml",
        ],
        dir.path(),
        "",
        &[
            ("LEPTOS_SITE_ADDR", "0.0.0.0:0"),
            ("LEPTOS_OUTPUT_NAME", "quantpro"),
        ],
    );
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to serve on 0.0.0.0:0 without an owner password")
            && stderr.contains("Run `quantpro set-password`"),
        "{stderr}"
    );
}

/// Starts `quantpro ARGS` in `cwd`, waits for a standard-output line with
/// `ready`, sends SIGTERM and returns the exit status with what it printed
/// after the signal.
fn stop_with_sigterm(args: &[&str], cwd: &Path, ready: &str) -> (std::process::ExitStatus, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_quantpro"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("LEPTOS_OUTPUT_NAME", "quantpro")
        .env_remove("COINALYZE_API_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run quantpro");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut before = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let is_ready = line.contains(ready);
        before.push(line);
        if is_ready {
            break;
        }
    }
    assert!(
        before.last().is_some_and(|l| l.contains(ready)),
        "never ready: {before:#?}"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let after: Vec<String> = lines.map(|l| l.unwrap()).collect();
    (child.wait().unwrap(), after.join("\n"))
}

#[test]
fn serve_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let args = [
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--config",
        "none.toml",
    ];
    let (status, after) = stop_with_sigterm(&args, dir.path(), "QuantPro dashboard: http://");
    assert!(status.success(), "{status:?}\n{after}");
    assert!(after.contains("[STOP] SIGTERM: stopping"), "{after}");
}

#[test]
fn watch_stops_gracefully_on_sigterm_after_its_rescan() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        dir.path().join("quantpro.toml"),
        "[universe]\nmarkets = [\"simulated\"]\nsimulated_symbols = 3\nltf_history = 300\nhtf_history = 100\n",
    )
    .unwrap();
    let args = [
        "watch",
        "--data-dir",
        data.to_str().unwrap(),
        "--config",
        "quantpro.toml",
    ];
    let (status, after) = stop_with_sigterm(&args, dir.path(), "[LIVE]");
    assert!(status.success(), "{status:?}\n{after}");
    assert!(after.contains("[STOP] SIGTERM: stopping"), "{after}");
}

/// `quantpro trade`: a paper bracket from a signal of the feed, read back
/// by `positions`, refused a second time, closed by `flatten`; without a
/// terminal nothing is placed unless `--yes` says so.
#[test]
fn trade_opens_a_paper_bracket_lists_it_and_flattens_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let signal =
        quantpro_model::fixtures::sample_signal("BTCUSDT", quantpro_model::Strategy::Legacy);
    let feed = quantpro_model::MasterFeed {
        last_updated: 1_721_088_900_000,
        signals: vec![signal],
    };
    std::fs::write(
        data.join("master_feed.json"),
        serde_json::to_string(&feed).unwrap(),
    )
    .unwrap();
    let open = [
        "trade",
        "open",
        "--exchange",
        "BINANCE",
        "--symbol",
        "BTCUSDT",
        "--strategy",
        "Legacy",
    ];

    let asked = quantpro_with_input(&open, dir.path(), "", &[]);
    assert!(!asked.status.success());
    assert!(String::from_utf8_lossy(&asked.stderr).contains("pass --yes"));

    let placed = quantpro(&[&open[..], &["--yes"]].concat(), dir.path());
    assert!(
        placed.status.success(),
        "{}",
        String::from_utf8_lossy(&placed.stderr)
    );
    let text = stdout(&placed);
    assert!(text.contains("\"state\": \"open\""), "{text}");
    assert!(text.contains("PAPER BINANCE"));
    assert!(
        data.join("paper-BINANCE.json").is_file(),
        "the paper account is kept"
    );

    let again = quantpro(&[&open[..], &["--yes"]].concat(), dir.path());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("one per symbol"));

    let positions = quantpro(&["trade", "positions"], dir.path());
    let listed: serde_json::Value = serde_json::from_str(&stdout(&positions)).unwrap();
    assert_eq!(listed["open"].as_array().unwrap().len(), 1);

    let flat = quantpro(&["trade", "flatten"], dir.path());
    assert!(
        flat.status.success(),
        "{}",
        String::from_utf8_lossy(&flat.stderr)
    );
    let positions = quantpro(&["trade", "positions"], dir.path());
    let listed: serde_json::Value = serde_json::from_str(&stdout(&positions)).unwrap();
    assert!(listed["open"].as_array().unwrap().is_empty());
}

/// `quantpro model train` puts a model in force in the data directory: the
/// next scan gives every acting signal its `quality` (P(win) with the
/// model's id and training size), and no WAIT signal one; the model file is
/// never taken for candles.
#[test]
fn a_trained_model_gives_every_acting_signal_its_quality() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let out = quantpro(
        &["demo-data", "--data-dir", data_arg, "--symbols", "40"],
        dir.path(),
    );
    assert!(out.status.success(), "{out:?}");
    let trained = quantpro(
        &[
            "model",
            "train",
            "--data-dir",
            data_arg,
            "--config",
            "none.toml",
        ],
        dir.path(),
    );
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("quality_model.json")).unwrap())
            .unwrap();

    let out = quantpro(
        &["scan", "--data-dir", data_arg, "--config", "none.toml"],
        dir.path(),
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("40 of 40 symbols processed"),
        "{}",
        stdout(&out)
    );
    let feed = MasterFeed::parse(&std::fs::read_to_string(data.join("master_feed.json")).unwrap())
        .unwrap();
    let acting: Vec<_> = feed
        .signals
        .iter()
        .filter(|s| s.action != Action::Wait)
        .collect();
    assert!(!acting.is_empty(), "the demo market has acting signals");
    for signal in &feed.signals {
        match (&signal.quality, signal.action) {
            (None, Action::Wait) => {}
            (Some(q), Action::Long | Action::Short) => {
                assert!(q.p_win > 0.0 && q.p_win < 1.0, "{q:?}");
                assert_eq!(q.model_id, model["model_id"].as_str().unwrap());
                assert_eq!(q.n_train as u64, model["n_train"].as_u64().unwrap());
            }
            other => panic!("{} {}: {other:?}", signal.symbol, signal.strategy),
        }
    }
}
