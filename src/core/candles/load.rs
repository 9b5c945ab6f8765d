//! Reading candle files from the data directory: list which series exist,
//! read one file in whatever format it has, validate it and keep its closed
//! candles. The scan calls these per symbol from its worker threads.

use super::file_name::{CandleFileName, CandleFormat};
use super::validate::{drop_unclosed, validate_candles, ValidationError};
use super::{json, Candle};
use crate::model::Exchange;
use crate::model::Interval;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What went wrong with one candle file.
#[derive(Debug, thiserror::Error)]
pub enum CandleErrorKind {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a candle array: {0}")]
    Parse(String),
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("no closed candle: all {0} candles are still open")]
    NoClosedCandles(usize),
}

/// A candle file that cannot be used, with the file's name and the reason.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {kind}")]
pub struct CandleFileError {
    /// The file name (not the full path: the data directory is known).
    pub file: String,
    pub kind: CandleErrorKind,
}

/// A validated series of closed candles.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSeries {
    pub candles: Vec<Candle>,
    /// Candles dropped because they had not closed yet.
    pub dropped_unclosed: usize,
}

/// The file name of a path, for messages.
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Reads and parses a candle file by its extension (JSON when unknown), without validating it.
pub fn read_candle_file(path: &Path) -> Result<Vec<Candle>, CandleFileError> {
    let error = |kind| CandleFileError {
        file: display_name(path),
        kind,
    };
    match CandleFormat::from_path(path).unwrap_or(CandleFormat::Json) {
        CandleFormat::Json => {
            let bytes = std::fs::read(path).map_err(|e| error(CandleErrorKind::Io(e)))?;
            json::parse_candles_json(&bytes).map_err(|e| error(CandleErrorKind::Parse(e)))
        }
        format => read_columnar(path, format).map_err(error),
    }
}

fn read_columnar(path: &Path, format: CandleFormat) -> Result<Vec<Candle>, CandleErrorKind> {
    match format {
        CandleFormat::Csv => super::columnar::read_csv(path),
        _ => super::columnar::read_parquet(path),
    }
    .map_err(CandleErrorKind::Parse)
}

/// Reads, validates and keeps the closed candles of a file. `interval` is the
/// file's interval when known (from its name); without it no candle can be
/// judged open, so none is dropped.
pub fn load_candle_file(
    path: &Path,
    interval: Option<Interval>,
    now_ms: i64,
) -> Result<LoadedSeries, CandleFileError> {
    let mut candles = read_candle_file(path)?;
    let error = |kind| CandleFileError {
        file: display_name(path),
        kind,
    };
    validate_candles(&candles).map_err(|e| error(CandleErrorKind::Invalid(e)))?;
    let dropped_unclosed = match interval {
        Some(interval) => drop_unclosed(&mut candles, interval, now_ms),
        None => 0,
    };
    if candles.is_empty() {
        return Err(error(CandleErrorKind::NoClosedCandles(dropped_unclosed)));
    }
    Ok(LoadedSeries {
        candles,
        dropped_unclosed,
    })
}

/// The files of one (symbol, exchange), by interval.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolFiles {
    pub symbol: String,
    pub exchange: Exchange,
    pub files: BTreeMap<Interval, PathBuf>,
}

/// A file in the data directory that the listing could not use.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedFile {
    pub file: String,
    pub reason: String,
}

/// Every candle series of a data directory, sorted by symbol then exchange.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CandleInventory {
    pub symbols: Vec<SymbolFiles>,
    /// Files with a candle extension whose name does not parse, and
    /// duplicates of a series in a less preferred format.
    pub rejected: Vec<RejectedFile>,
}

/// The files found per (symbol, exchange) and interval, in every format, before choosing one.
type FoundSeries = BTreeMap<(String, Exchange), BTreeMap<Interval, Vec<(CandleFormat, PathBuf)>>>;

/// Lists the data directory. Hidden files (such as in-progress temporary
/// files) and files without a candle extension are ignored silently.
pub fn list_candle_files(dir: &Path) -> std::io::Result<CandleInventory> {
    let mut series = FoundSeries::new();
    let mut rejected = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || CandleFormat::from_path(&path).is_none() || !path.is_file() {
            continue;
        }
        match CandleFileName::parse(&name) {
            Ok(parsed) => series
                .entry((parsed.symbol, parsed.exchange))
                .or_default()
                .entry(parsed.interval)
                .or_default()
                .push((parsed.format, path)),
            Err(e) => rejected.push(RejectedFile {
                file: name,
                reason: e.to_string(),
            }),
        }
    }
    let mut symbols = Vec::with_capacity(series.len());
    for ((symbol, exchange), intervals) in series {
        let mut files = BTreeMap::new();
        for (interval, mut candidates) in intervals {
            candidates.sort();
            let mut candidates = candidates.into_iter();
            let (_, chosen) = candidates
                .next()
                .expect("an interval entry has at least one file");
            for (_, duplicate) in candidates {
                rejected.push(RejectedFile {
                    file: display_name(&duplicate),
                    reason: format!(
                        "duplicate of {} (the same series in another format)",
                        display_name(&chosen)
                    ),
                });
            }
            files.insert(interval, chosen);
        }
        symbols.push(SymbolFiles {
            symbol,
            exchange,
            files,
        });
    }
    rejected.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(CandleInventory { symbols, rejected })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"[{"t":0,"o":1,"h":2,"l":0.5,"c":1.5,"v":1},{"t":900000,"o":1.5,"h":2,"l":1,"c":1.2,"v":0}]"#;

    #[test]
    fn load_validates_and_drops_open_candles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BTCUSDT_BINANCE_15m.json");
        std::fs::write(&path, GOOD).unwrap();
        let now = 900_000 + 10; // the second candle is still open
        let loaded = load_candle_file(&path, Some(Interval::M15), now).unwrap();
        assert_eq!((loaded.candles.len(), loaded.dropped_unclosed), (1, 1));
        assert_eq!(load_candle_file(&path, None, now).unwrap().candles.len(), 2);
        let err = load_candle_file(&path, Some(Interval::M15), 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "BTCUSDT_BINANCE_15m.json: no closed candle: all 2 candles are still open"
        );
    }

    #[test]
    fn failures_name_the_file_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "A_BINANCE_15m.json",
                "[{\"t\":0",
                "A_BINANCE_15m.json: not a candle array: EOF while parsing",
            ),
            (
                "B_BINANCE_15m.json",
                "[]",
                "B_BINANCE_15m.json: the file holds no candles",
            ),
            (
                "C_BINANCE_15m.json",
                r#"[{"t":0,"o":1,"h":0.9,"l":0.5,"c":0.8,"v":1}]"#,
                "C_BINANCE_15m.json: candle #0 (t=0): high 0.9 is below max(open, close) 1",
            ),
            (
                "E_BINANCE_4h.json",
                r#"[[0,1,2,0.5,1.5,1],[0,1,2,0.5,1.5,1]]"#,
                "E_BINANCE_4h.json: candle #1 has time 0, which repeats the previous candle's time",
            ),
            (
                "F_MEXC_15m.json",
                r#"[[5,1,2,0.5,1.5,1],[4,1,2,0.5,1.5,1]]"#,
                "F_MEXC_15m.json: candle #1 has time 4, earlier than the previous candle's 5",
            ),
            (
                "G_BINANCE_15m.json",
                r#"[["0","1","2","0.5","1.5","1"],["900000","0","2","0.5","1.5","1"]]"#,
                "G_BINANCE_15m.json: candle #1 (t=900000): open must be a finite positive number, found 0",
            ),
            (
                "H_BINANCE_15m.json",
                r#"[{"t":0,"o":1,"h":2,"l":1.2,"c":1.5,"v":1}]"#,
                "H_BINANCE_15m.json: candle #0 (t=0): low 1.2 is above min(open, close) 1",
            ),
            (
                "I_BINANCE_15m.json",
                r#"[{"t":0,"o":1,"h":2,"l":0.5,"c":1.5,"v":"NaN"}]"#,
                "I_BINANCE_15m.json: candle #0 (t=0): volume must be a finite number >= 0, found NaN",
            ),
        ];
        for (name, text, expected) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let err = load_candle_file(&path, Some(Interval::M15), i64::MAX)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(expected),
                "'{err}' should start with '{expected}'"
            );
        }
        let missing = load_candle_file(&dir.path().join("D_BINANCE_15m.json"), None, 0)
            .unwrap_err()
            .to_string();
        assert!(
            missing.starts_with("D_BINANCE_15m.json: cannot read the file:"),
            "{missing}"
        );
    }

    #[test]
    fn listing_groups_series_and_reports_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "BTCUSDT_BINANCE_15m.json",
            "BTCUSDT_BINANCE_4h.json",
            "BTCUSDT_BINANCE_4h.csv",
            "ETH_HYPERLIQUID_15m.json",
            "ETH_KRAKEN_15m.json",
            ".BTCUSDT_BINANCE_15m.json.tmp",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), GOOD).unwrap();
        }
        let inventory = list_candle_files(dir.path()).unwrap();
        let summary: Vec<(String, Exchange, Vec<Interval>)> = inventory
            .symbols
            .iter()
            .map(|s| {
                (
                    s.symbol.clone(),
                    s.exchange,
                    s.files.keys().copied().collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "BTCUSDT".to_string(),
                    Exchange::Binance,
                    vec![Interval::M15, Interval::H4]
                ),
                (
                    "ETH".to_string(),
                    Exchange::Hyperliquid,
                    vec![Interval::M15]
                ),
            ]
        );
        assert_eq!(
            display_name(&inventory.symbols[0].files[&Interval::H4]),
            "BTCUSDT_BINANCE_4h.json"
        );
        let rejected: Vec<(&str, &str)> = inventory
            .rejected
            .iter()
            .map(|r| (r.file.as_str(), r.reason.as_str()))
            .collect();
        assert_eq!(rejected.len(), 2);
        assert_eq!(
            rejected[0],
            (
                "BTCUSDT_BINANCE_4h.csv",
                "duplicate of BTCUSDT_BINANCE_4h.json (the same series in another format)"
            )
        );
        assert_eq!(rejected[1].0, "ETH_KRAKEN_15m.json");
        assert!(rejected[1].1.contains("unknown Exchange 'KRAKEN'"));
    }
}
