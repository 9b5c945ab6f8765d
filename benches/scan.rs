//! Criterion benchmarks of the scanner core on synthetic data:
//! parsing one 5000-candle file, the indicators of one series, and the
//! reference full scan (500 symbols x (5000 15m + 1500 4h) candles, files to
//! signals; the target is under 1 s on 2 cores).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use quantpro_core::candles::candles_to_json;
use quantpro_core::candles::parse_candles_json;
use quantpro_core::indicators::compute_all;
use quantpro_core::scan::{run_scan, NoProgress, ScanRequest};
use quantpro_core::synthetic::{generate_dataset, generate_series, SyntheticSpec};
use quantpro_model::external::ExternalDataMap;
use quantpro_model::ScannerConfig;
use std::time::Duration;

fn reference_spec(n_symbols: usize) -> SyntheticSpec {
    SyntheticSpec {
        n_symbols,
        n_15m: 5000,
        n_4h: 1500,
        seed: 42,
        ..SyntheticSpec::default()
    }
}

fn parse_and_indicators(c: &mut Criterion) {
    let series = generate_series(&reference_spec(1), 0);
    let json = candles_to_json(&series.ltf);
    let mut group = c.benchmark_group("one_series_5000_candles");
    group.throughput(Throughput::Elements(series.ltf.len() as u64));
    group.bench_function("parse_json", |b| {
        b.iter(|| parse_candles_json(json.as_bytes()).unwrap())
    });
    group.bench_function("compute_all", |b| b.iter(|| compute_all(&series.ltf)));
    group.finish();
}

fn full_scan(c: &mut Criterion) {
    let n_symbols: usize = std::env::var("QUANTPRO_BENCH_SYMBOLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let spec = reference_spec(n_symbols);
    let dir = tempfile::tempdir().expect("a temporary directory");
    generate_dataset(dir.path(), &spec).expect("synthetic data");
    let request = ScanRequest {
        now_ms: Some(spec.aligned_end_ms()),
        ..ScanRequest::new(dir.path())
    };
    let config = ScannerConfig::default();
    let external = ExternalDataMap::new();

    let mut group = c.benchmark_group("full_scan");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(
        (n_symbols * (spec.n_15m + spec.n_4h)) as u64,
    ));
    group.bench_function(format!("{n_symbols}_symbols_from_files"), |b| {
        b.iter_batched(
            || (),
            |()| run_scan(&request, &config, &external, &NoProgress).expect("scan"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, parse_and_indicators, full_scan);
criterion_main!(benches);
