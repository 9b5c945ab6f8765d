//! Criterion benchmarks of the backtest (STRATEGIES.md §6): the replay of
//! one 5000-candle symbol with the three strategies (synthetic and real),
//! the naive alternative for one close (a full build + evaluate), the
//! statistics of the replay's trades, and the backtest of a synthetic data
//! directory from files (QUANTPRO_BENCH_SYMBOLS symbols, default 50; the
//! 500-symbol reference is `quantpro bench --backtest`).

#[path = "../tests/common/reference_candles.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use quantpro_core::backtest::{replay_symbol, run_backtest, BacktestRequest};
use quantpro_core::candles::read_candle_file;
use quantpro_core::context::SharedContext;
use quantpro_core::strategies::evaluate_all;
use quantpro_core::synthetic::{generate_dataset, generate_series, SyntheticSpec};
use quantpro_core::track::track_record;
use quantpro_model::{Exchange, ScannerConfig, Strategy};
use std::time::Duration;

fn one_symbol(c: &mut Criterion) {
    let config = ScannerConfig::default();
    let synthetic = generate_series(&SyntheticSpec::default(), 0);
    let dir = common::candles_dir();
    let real_ltf = read_candle_file(&dir.join("BTCUSDT_BINANCE_15m.json")).unwrap();
    let real_htf = read_candle_file(&dir.join("BTCUSDT_BINANCE_4h.json")).unwrap();

    let mut group = c.benchmark_group("replay_one_symbol_5000_candles");
    group.sample_size(20);
    group.throughput(Throughput::Elements(synthetic.ltf.len() as u64));
    group.bench_function("synthetic", |b| {
        b.iter(|| {
            replay_symbol(
                "BTCUSDT",
                Exchange::Binance,
                &synthetic.ltf,
                &synthetic.htf,
                &config,
                Strategy::ALL,
                None,
            )
        })
    });
    group.bench_function("real_BTCUSDT", |b| {
        b.iter(|| {
            replay_symbol(
                "BTCUSDT",
                Exchange::Binance,
                &real_ltf,
                &real_htf,
                &config,
                Strategy::ALL,
                None,
            )
        })
    });
    // What the naive replay pays for each single close (here the last one).
    group.throughput(Throughput::Elements(1));
    group.bench_function("naive_one_close_build_and_evaluate", |b| {
        b.iter_batched(
            || (synthetic.ltf.clone(), synthetic.htf.clone()),
            |(ltf, htf)| {
                let now = ltf.last().unwrap().t + 900_000;
                let ctx = SharedContext::build(
                    "BTCUSDT",
                    Exchange::Binance,
                    ltf,
                    htf,
                    None,
                    &config,
                    now,
                );
                evaluate_all(&ctx, &config)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();

    let replay = replay_symbol(
        "BTCUSDT",
        Exchange::Binance,
        &real_ltf,
        &real_htf,
        &config,
        Strategy::ALL,
        None,
    );
    let mut trades = Vec::new();
    for k in 0..(20_000 / replay.trades.len().max(1)).max(1) {
        trades.extend(replay.trades.iter().cloned().map(|mut t| {
            t.symbol = format!("S{k}");
            t
        }));
    }
    let mut group = c.benchmark_group("statistics");
    group.throughput(Throughput::Elements(trades.len() as u64));
    group.bench_function(format!("{}_trades", trades.len()), |b| {
        b.iter(|| track_record(&trades).unwrap())
    });
    group.finish();
}

fn directory(c: &mut Criterion) {
    let n_symbols: usize = std::env::var("QUANTPRO_BENCH_SYMBOLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let spec = SyntheticSpec {
        n_symbols,
        ..SyntheticSpec::default()
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    generate_dataset(dir.path(), &spec).expect("synthetic data");
    let request = BacktestRequest {
        now_ms: Some(spec.aligned_end_ms()),
        ..BacktestRequest::new(dir.path())
    };
    let config = ScannerConfig::default();
    let mut group = c.benchmark_group("backtest_from_files");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements((n_symbols * spec.n_15m) as u64));
    group.bench_function(format!("{n_symbols}_symbols_x_5000_candles"), |b| {
        b.iter(|| run_backtest(&request, &config).expect("backtest"))
    });
    group.finish();
}

criterion_group!(benches, one_symbol, directory);
criterion_main!(benches);
