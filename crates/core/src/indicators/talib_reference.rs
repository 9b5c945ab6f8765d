//! Test support: compares an indicator with TA-Lib's C library.
//!
//! The reference values live in `tests/fixtures/talib/reference.json`,
//! written by `scripts/talib_reference.py`: sampled indices of real candle
//! files (read here in place from `../shared/data/candles`) and small
//! hand-made series stored in full with their inputs.

use quantpro_model::Candle;

#[path = "../../../../tests/common/reference_candles.rs"]
mod common;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/talib/reference.json"
);

/// The spec's tolerance (STRATEGIES.md §1).
const MAX_RELATIVE_ERROR: f64 = 1e-9;

/// The input columns of one series.
pub struct Inputs<'a> {
    pub high: &'a [f64],
    pub low: &'a [f64],
    pub close: &'a [f64],
    pub volume: &'a [f64],
}

#[derive(Deserialize)]
struct Fixture {
    files: Vec<FileCase>,
    hand_made: BTreeMap<String, HandCase>,
}

/// TA-Lib values of one candle file at `indices`.
#[derive(Deserialize)]
struct FileCase {
    file: String,
    len: usize,
    indices: Vec<usize>,
    series: BTreeMap<String, Vec<Option<f64>>>,
}

#[derive(Deserialize)]
struct HandCase {
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
    series: BTreeMap<String, Vec<Option<f64>>>,
}

/// Columns of a candle file.
struct Columns {
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

impl Columns {
    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
        }
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE_DATA: OnceLock<Fixture> = OnceLock::new();
    FIXTURE_DATA.get_or_init(|| {
        let text = std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| {
            panic!("TA-Lib fixture missing at {FIXTURE} ({e}); regenerate it with scripts/talib_reference.py")
        });
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("TA-Lib fixture {FIXTURE} is malformed: {e}"))
    })
}

/// Reads a real candle file from the shared data directory.
pub fn load_candles(file: &str) -> Vec<Candle> {
    let path = common::candles_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read real candle file {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("candle file {} is malformed: {e}", path.display()))
}

fn columns(file: &str) -> &'static Columns {
    static FILES: OnceLock<BTreeMap<String, Columns>> = OnceLock::new();
    let files = FILES.get_or_init(|| {
        fixture()
            .files
            .iter()
            .map(|case| {
                let candles = load_candles(&case.file);
                let cols = Columns {
                    high: candles.iter().map(|c| c.h).collect(),
                    low: candles.iter().map(|c| c.l).collect(),
                    close: candles.iter().map(|c| c.c).collect(),
                    volume: candles.iter().map(|c| c.v).collect(),
                };
                (case.file.clone(), cols)
            })
            .collect()
    });
    &files[file]
}

/// The period of a fixture key `<indicator>_<period>` (0 for a key that is
/// just `<indicator>`), or `None` when the key is another indicator's.
fn period_of(key: &str, indicator: &str) -> Option<usize> {
    if key == indicator {
        return Some(0);
    }
    key.strip_prefix(indicator)?.strip_prefix('_')?.parse().ok()
}

/// The fixture series of `indicator` in one case, with their periods. Every
/// case must hold at least one: a renamed key would otherwise compare nothing.
fn series_of<'a>(
    series: &'a BTreeMap<String, Vec<Option<f64>>>,
    indicator: &str,
    case: &str,
) -> Vec<(&'a str, usize, &'a [Option<f64>])> {
    let found: Vec<_> = series
        .iter()
        .filter_map(|(key, values)| {
            Some((key.as_str(), period_of(key, indicator)?, values.as_slice()))
        })
        .collect();
    assert!(
        !found.is_empty(),
        "no {indicator} series for {case} in the TA-Lib fixture"
    );
    found
}

fn assert_close(actual: Option<f64>, expected: Option<f64>, what: &str) -> f64 {
    match (actual, expected) {
        (None, None) => 0.0,
        (Some(a), Some(e)) => {
            let rel = (a - e).abs() / e.abs().max(f64::MIN_POSITIVE);
            assert!(
                rel <= MAX_RELATIVE_ERROR,
                "{what}: {a} vs TA-Lib {e} (relative error {rel:e})"
            );
            rel
        }
        _ => panic!("{what}: {actual:?} vs TA-Lib {expected:?}"),
    }
}

/// How closely a set of values agreed with TA-Lib.
#[derive(Default)]
struct Agreement {
    compared: usize,
    worst: f64,
    worst_at: String,
}

impl Agreement {
    fn check(&mut self, actual: Option<f64>, expected: Option<f64>, at: String) {
        let rel = assert_close(actual, expected, &at);
        self.compared += 1;
        if rel > self.worst {
            (self.worst, self.worst_at) = (rel, at);
        }
    }
}

impl std::fmt::Display for Agreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} values, worst relative error {:e} ({})",
            self.compared, self.worst, self.worst_at
        )
    }
}

/// Asserts that `compute(inputs, period)` equals every TA-Lib series of
/// `indicator` in the fixture (real files at their sampled indices, hand-made
/// series in full) to a relative error of 1e-9, and `None` where TA-Lib has
/// no value.
pub fn check_against_talib(indicator: &str, compute: impl Fn(&Inputs, usize) -> Vec<Option<f64>>) {
    let fixture = fixture();
    let mut real = Agreement::default();
    for case in &fixture.files {
        let cols = columns(&case.file);
        assert_eq!(
            cols.close.len(),
            case.len,
            "{} changed since the fixture was written",
            case.file
        );
        for (key, period, expected) in series_of(&case.series, indicator, &case.file) {
            let actual = compute(&cols.inputs(), period);
            assert_eq!(actual.len(), case.len, "{key} length on {}", case.file);
            for (&i, &e) in case.indices.iter().zip(expected) {
                real.check(actual[i], e, format!("{key} at {i} of {}", case.file));
            }
        }
    }
    let mut hand_made = Agreement::default();
    for (name, case) in &fixture.hand_made {
        let inputs = Inputs {
            high: &case.high,
            low: &case.low,
            close: &case.close,
            volume: &case.volume,
        };
        for (key, period, expected) in series_of(&case.series, indicator, name) {
            let actual = compute(&inputs, period);
            assert_eq!(actual.len(), expected.len(), "{key} length on {name}");
            for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
                hand_made.check(a, e, format!("{key} at {i} of {name}"));
            }
        }
    }
    eprintln!("{indicator} vs TA-Lib: real candles {real}; hand-made {hand_made}");
}
#[test]
fn fixture_covers_binance_hyperliquid_and_flat_candles() {
    let fixture = fixture();
    let names: Vec<&str> = fixture.files.iter().map(|f| f.file.as_str()).collect();
    assert!(
        names.iter().any(|n| n.contains("_BINANCE_"))
            && names.iter().any(|n| n.contains("_HYPERLIQUID_"))
    );
    let flat_sampled = fixture.files.iter().any(|case| {
        let cols = columns(&case.file);
        case.indices
            .iter()
            .any(|&i| cols.volume[i] == 0.0 && cols.high[i] == cols.low[i])
    });
    assert!(
        flat_sampled,
        "no flat zero-volume candle among the sampled indices"
    );
    assert!(fixture.hand_made.contains_key("flat_zero_volume"));
}
