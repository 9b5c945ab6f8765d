//! The JSON candle parser against serde_json on the same real files
//! (`../shared/data/candles`, every `.json` file): `parse_candles_json` (the
//! loader's parser), `serde_json::from_slice::<Vec<Candle>>` (the derived
//! deserializer) and `parse_any_form` (the loader's serde path, which also
//! reads the kline form and long names). Throughput is bytes of JSON.
//!
//! Run: `cargo bench --features ssr --bench candle_json`

#[path = "../tests/common/reference_candles.rs"]
mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use quantpro_core::candles::{parse_any_form, parse_candles_json, Candle};

/// Every real JSON candle file, as bytes.
fn real_files() -> Vec<(String, Vec<u8>)> {
    let dir = common::candles_dir();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "json").then_some(path)
        })
        .map(|path| {
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (path.display().to_string(), bytes)
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no JSON candle files in {}",
        dir.display()
    );
    files
}

fn candle_json(c: &mut Criterion) {
    let files = real_files();
    // The three parsers must agree, or the comparison means nothing.
    for (name, bytes) in &files {
        let ours = parse_candles_json(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let derived: Vec<Candle> =
            serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ours, derived, "{name}: parsers disagree");
    }
    let total_bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let mut group = c.benchmark_group("candle_json_real_files");
    group.throughput(Throughput::Bytes(total_bytes as u64));
    group.bench_function("parse_candles_json", |b| {
        b.iter(|| {
            for (_, bytes) in &files {
                black_box(parse_candles_json(black_box(bytes)).expect("parses"));
            }
        })
    });
    group.bench_function("serde_json_vec_candle", |b| {
        b.iter(|| {
            for (_, bytes) in &files {
                let candles: Vec<Candle> =
                    serde_json::from_slice(black_box(bytes)).expect("parses");
                black_box(candles);
            }
        })
    });
    group.bench_function("parse_any_form", |b| {
        b.iter(|| {
            for (_, bytes) in &files {
                black_box(parse_any_form(black_box(bytes)).expect("parses"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, candle_json);
criterion_main!(benches);
