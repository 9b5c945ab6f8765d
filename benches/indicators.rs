//! Throughput of the scanner's indicator pass: `compute_all` (the nine
//! series of STRATEGIES.md §1) on a real 5000-candle 15m file, reported per
//! candle. For comparison, the same nine series through the separate batch
//! functions. TA-Lib's figure for the nine comes from
//! `scripts/talib_reference.py --bench`.
//!
//! Run: `cargo bench --features ssr --bench indicators`

#[path = "../tests/common/reference_candles.rs"]
mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use quantpro_core::indicators::{atr, compute_all, dmi, ema, obv, rsi};
use quantpro_model::Candle;

fn load() -> Vec<Candle> {
    let file = common::candles_dir().join("BTCUSDT_BINANCE_15m.json");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read benchmark candles {}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is malformed: {e}", file.display()))
}

fn indicators(c: &mut Criterion) {
    let candles = load();
    let mut group = c.benchmark_group("indicators");
    group.throughput(Throughput::Elements(candles.len() as u64));

    group.bench_function("compute_all", |b| {
        b.iter(|| compute_all(black_box(&candles)))
    });

    let h: Vec<f64> = candles.iter().map(|c| c.h).collect();
    let l: Vec<f64> = candles.iter().map(|c| c.l).collect();
    let cl: Vec<f64> = candles.iter().map(|c| c.c).collect();
    let v: Vec<f64> = candles.iter().map(|c| c.v).collect();
    group.bench_function("nine_batch_functions", |b| {
        b.iter(|| {
            let (h, l, cl, v) = (black_box(&h), black_box(&l), black_box(&cl), black_box(&v));
            (
                rsi(cl, 14),
                atr(h, l, cl, 14),
                dmi(h, l, cl, 14),
                ema(cl, 20),
                ema(cl, 50),
                ema(cl, 200),
                obv(cl, v),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, indicators);
criterion_main!(benches);
