//! Reading candle files from the data directory: list which series exist
//! (QuantPro's file names, and freqtrade exchange folders through
//! `freqtrade`), read one file in whatever format it has, validate it and
//! keep its closed candles. The scan and the backtest call these per
//! symbol from their worker threads.

use super::file_name::{CandleFileName, CandleFormat};
use super::freqtrade::{self, Market};
use super::validate::{drop_unclosed, validate_candles, ValidationError};
use super::{json, Candle};
use quantpro_model::Exchange;
use quantpro_model::Interval;
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
            json::parse_candles_json(&bytes)
                .map_err(|e| error(CandleErrorKind::Parse(e.to_string())))
        }
        format => read_columnar(path, format).map_err(error),
    }
}

fn read_columnar(path: &Path, format: CandleFormat) -> Result<Vec<Candle>, CandleErrorKind> {
    match format {
        CandleFormat::Csv => super::columnar::read_csv(path),
        CandleFormat::Feather => super::columnar::read_feather(path),
        _ => super::columnar::read_parquet(path),
    }
    .map_err(|e| CandleErrorKind::Parse(e.to_string()))
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

/// Where a listed file comes from: QuantPro's own names first, then a
/// freqtrade folder's futures, then its spot files. One symbol is read from
/// one origin only (spot and futures prices differ, so they never mix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    QuantPro,
    Freqtrade(Market),
}

impl Origin {
    fn label(self) -> &'static str {
        match self {
            Origin::QuantPro => "QuantPro's own files",
            Origin::Freqtrade(Market::Futures) => "freqtrade futures files",
            Origin::Freqtrade(Market::Spot) => "freqtrade spot files",
        }
    }
}

/// A file of one series, before one is chosen, with its name for messages
/// (relative to the listed directory).
type Candidate = (Origin, CandleFormat, PathBuf, String);

/// The files found per (symbol, exchange) and interval, before choosing one.
type FoundSeries = BTreeMap<(String, Exchange), BTreeMap<Interval, Vec<Candidate>>>;

/// What the listing has found so far.
#[derive(Default)]
struct Listing {
    series: FoundSeries,
    rejected: Vec<RejectedFile>,
}

/// Lists the data directory: QuantPro's `{SYMBOL}_{EXCHANGE}_{INTERVAL}`
/// files, and freqtrade exchange folders (`DIR` itself, or its
/// subfolders, named `binance`, `mexc` or `hyperliquid`; see `freqtrade`).
/// Hidden files (such as in-progress temporary files) and files without a
/// candle extension are ignored silently.
pub fn list_candle_files(dir: &Path) -> std::io::Result<CandleInventory> {
    let mut listing = Listing::default();
    match freqtrade::folder_exchange(dir) {
        Some(exchange) => listing.freqtrade_folder(dir, exchange, "")?,
        None => listing.data_dir(dir)?,
    }
    Ok(listing.into_inventory())
}

/// A file QuantPro writes in a data directory: the master feed, the
/// signal-quality model and the paper trading accounts (the journal, lock files and caches are not
/// candle formats or are hidden).
fn is_product_file(name: &str) -> bool {
    name == quantpro_model::FEED_FILE
        || name == quantpro_model::QUALITY_MODEL_FILE
        || quantpro_model::Exchange::ALL
            .iter()
            .any(|e| name == quantpro_model::paper_account_file(*e))
}

/// The visible entries of a directory: (path, name, is a directory).
fn visible_entries(dir: &Path) -> std::io::Result<Vec<(PathBuf, String, bool)>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            let path = entry.path();
            let is_dir = path.is_dir();
            entries.push((path, name, is_dir));
        }
    }
    Ok(entries)
}

impl Listing {
    /// A QuantPro data directory, with freqtrade exchange folders inside it.
    fn data_dir(&mut self, dir: &Path) -> std::io::Result<()> {
        for (path, name, is_dir) in visible_entries(dir)? {
            if is_dir {
                let label = format!("{name}/");
                let read = match freqtrade::folder_exchange(&path) {
                    Some(exchange) => self.freqtrade_folder(&path, exchange, &label),
                    None => self.unknown_folder(&path, &name),
                };
                // A subfolder that cannot be read costs its files, not the listing.
                if let Err(e) = read {
                    self.rejected.push(RejectedFile {
                        file: label,
                        reason: format!("cannot read the folder: {e}"),
                    });
                }
            } else if is_product_file(&name) {
                // What QuantPro writes itself beside the candles is never a
                // candidate, and never reported as a foreign file.
            } else if CandleFormat::from_path(&path).is_some() && path.is_file() {
                self.own_file(path, name);
            }
        }
        Ok(())
    }

    /// A file with QuantPro's naming, or rejected with the naming's reason.
    fn own_file(&mut self, path: PathBuf, name: String) {
        match CandleFileName::parse(&name) {
            Ok(parsed) => self.add(
                parsed.symbol,
                parsed.exchange,
                parsed.interval,
                (Origin::QuantPro, parsed.format, path, name),
            ),
            Err(e) => self.rejected.push(RejectedFile {
                file: name,
                reason: e.to_string(),
            }),
        }
    }

    /// A freqtrade `<exchange>/` folder: spot files in it, futures in `futures/`.
    /// `label` prefixes the names in messages (`binance/`).
    fn freqtrade_folder(
        &mut self,
        folder: &Path,
        exchange: Exchange,
        label: &str,
    ) -> std::io::Result<()> {
        for (path, name, is_dir) in visible_entries(folder)? {
            if is_dir && name == freqtrade::FUTURES_FOLDER {
                let entries = match visible_entries(&path) {
                    Ok(entries) => entries,
                    Err(e) => {
                        self.rejected.push(RejectedFile {
                            file: format!("{label}{name}/"),
                            reason: format!("cannot read the folder: {e}"),
                        });
                        continue;
                    }
                };
                for (path, file, is_dir) in entries {
                    if !is_dir {
                        let label = format!("{label}{name}/{file}");
                        self.freqtrade_file(path, &file, label, exchange, Market::Futures);
                    }
                }
            } else if !is_dir {
                if CandleFileName::parse(&name).is_ok() {
                    self.own_file(path, name);
                } else {
                    let label = format!("{label}{name}");
                    self.freqtrade_file(path, &name, label, exchange, Market::Spot);
                }
            }
        }
        Ok(())
    }

    fn freqtrade_file(
        &mut self,
        path: PathBuf,
        name: &str,
        label: String,
        exchange: Exchange,
        market: Market,
    ) {
        match freqtrade::parse_file_name(name, exchange, market) {
            Ok(Some(file)) => self.add(
                file.symbol,
                exchange,
                file.interval,
                (Origin::Freqtrade(file.market), file.format, path, label),
            ),
            Ok(None) => {}
            Err(reason) => self.rejected.push(RejectedFile {
                file: label,
                reason: reason.to_string(),
            }),
        }
    }

    /// A subfolder that is no exchange QuantPro reads: said when it holds
    /// freqtrade data (another exchange's folder), ignored otherwise.
    fn unknown_folder(&mut self, folder: &Path, name: &str) -> std::io::Result<()> {
        let holds_freqtrade_data = visible_entries(folder)?
            .iter()
            .any(|(_, file, is_dir)| !is_dir && freqtrade::looks_like_freqtrade(file));
        if holds_freqtrade_data {
            self.rejected.push(RejectedFile {
                file: format!("{name}/"),
                reason: format!(
                    "a freqtrade folder of an exchange QuantPro does not read (it reads {})",
                    freqtrade::folder_names()
                ),
            });
        }
        Ok(())
    }

    fn add(&mut self, symbol: String, exchange: Exchange, interval: Interval, file: Candidate) {
        self.series
            .entry((symbol, exchange))
            .or_default()
            .entry(interval)
            .or_default()
            .push(file);
    }

    /// One file per series: the symbol's first origin, then the preferred
    /// format; every other file is reported with the reason.
    fn into_inventory(self) -> CandleInventory {
        let Listing {
            series,
            mut rejected,
        } = self;
        let mut symbols = Vec::with_capacity(series.len());
        for ((symbol, exchange), intervals) in series {
            let origin = intervals
                .values()
                .flatten()
                .map(|(origin, ..)| *origin)
                .min()
                .expect("a symbol entry has at least one file");
            let mut files = BTreeMap::new();
            for (interval, mut candidates) in intervals {
                candidates.sort();
                let mut chosen: Option<(PathBuf, String)> = None;
                for (candidate_origin, _, path, label) in candidates {
                    let reason = if candidate_origin != origin {
                        format!(
                            "not used: {symbol} on {exchange} is read from {} (QuantPro's names before freqtrade's, futures before spot)",
                            origin.label()
                        )
                    } else if let Some((_, chosen)) = &chosen {
                        format!("duplicate of {chosen} (the same series in another format)")
                    } else {
                        chosen = Some((path, label));
                        continue;
                    };
                    rejected.push(RejectedFile {
                        file: label,
                        reason,
                    });
                }
                if let Some((path, _)) = chosen {
                    files.insert(interval, path);
                }
            }
            symbols.push(SymbolFiles {
                symbol,
                exchange,
                files,
            });
        }
        rejected.sort_by(|a, b| a.file.cmp(&b.file));
        CandleInventory { symbols, rejected }
    }
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
    fn what_quantpro_writes_itself_is_never_a_candidate_nor_reported() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "BTCUSDT_BINANCE_15m.json",
            "BTCUSDT_BINANCE_4h.json",
            quantpro_model::FEED_FILE,
            ".master_feed.json.lock",
            "journal.sqlite",
            "journal.sqlite-wal",
            "journal.sqlite-shm",
            "paper-BINANCE.json",
            quantpro_model::QUALITY_MODEL_FILE,
            quantpro_model::SYNTHETIC_MARKER,
        ] {
            std::fs::write(dir.path().join(name), GOOD).unwrap();
        }
        std::fs::create_dir(dir.path().join(".cache")).unwrap();
        let inventory = list_candle_files(dir.path()).unwrap();
        assert_eq!(inventory.symbols.len(), 1);
        assert!(inventory.rejected.is_empty(), "{:?}", inventory.rejected);
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
