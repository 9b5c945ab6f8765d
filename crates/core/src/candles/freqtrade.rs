//! freqtrade data directories, read as they are: `user_data/data/<exchange>/`
//! with spot candles named `BTC_USDT-15m.json|feather|parquet` and futures
//! under `futures/` named `BTC_USDT_USDT-15m-futures.feather`.
//!
//! The listing (`load::list_candle_files`) asks here which exchange a
//! folder is (freqtrade's folder names `binance`, `mexc`, `hyperliquid`)
//! and what a file name says; the files themselves load like ours (JSON
//! kline arrays `[[ts_ms, o, h, l, c, v], ...]`; feather and parquet with
//! a `date` column through polars, `columnar`). A freqtrade pair becomes
//! the exchange's own symbol, as `quantpro fetch` names it:
//!
//! | folder | spot `BASE_QUOTE` | futures `BASE_QUOTE_SETTLE` |
//! | --- | --- | --- |
//! | binance | `BASEQUOTE` | `BASEQUOTE` (futures preferred over spot) |
//! | mexc | `BASEQUOTE` | `BASE_QUOTE` |
//! | hyperliquid | not read (perpetuals only) | `BASE` |
//!
//! What is not read is said, with the reason: other timeframes, mark /
//! index / premium-index / funding-rate series, trades files, gzip JSON and
//! HDF5 files, inverse (coin-margined) contracts, other exchanges' folders.

use super::file_name::CandleFormat;
use quantpro_model::{Exchange, Interval};
use std::path::Path;

/// freqtrade's folder name of each exchange QuantPro reads.
const FOLDERS: [(&str, Exchange); 3] = [
    ("binance", Exchange::Binance),
    ("mexc", Exchange::Mexc),
    ("hyperliquid", Exchange::Hyperliquid),
];

/// The futures subfolder of an exchange folder.
pub(super) const FUTURES_FOLDER: &str = "futures";

/// Which market a freqtrade file is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Market {
    /// Listed first: preferred when spot and futures give the same symbol.
    Futures,
    Spot,
}

/// The exchange a freqtrade exchange folder holds, by its name.
pub(super) fn folder_exchange(folder: &Path) -> Option<Exchange> {
    let name = folder.file_name()?.to_str()?;
    FOLDERS
        .iter()
        .find(|(folder_name, _)| folder_name.eq_ignore_ascii_case(name))
        .map(|&(_, exchange)| exchange)
}

/// The names of the exchange folders QuantPro reads, for messages.
pub(super) fn folder_names() -> String {
    FOLDERS.map(|(name, _)| name).join(", ")
}

/// What a freqtrade candle file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FreqtradeFile {
    pub symbol: String,
    pub interval: Interval,
    pub format: CandleFormat,
    pub market: Market,
}

/// Why a freqtrade data file is not read: the listing reports it with the
/// file's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum NotRead {
    #[error("gzip-compressed JSON (freqtrade's jsongz) is not read: convert it with `freqtrade convert-data --format-from jsongz --format-to feather`")]
    JsonGz,
    #[error("HDF5 files are not read: convert them with `freqtrade convert-data --format-from hdf5 --format-to feather`")]
    Hdf5,
    #[error("not a freqtrade candle file name (PAIR-TIMEFRAME.ext)")]
    NotACandleName,
    #[error("a trades file, not candles")]
    Trades,
    #[error("a futures folder's candles end in -futures")]
    FuturesWithoutSuffix,
    /// `mark`, `index`, `premiumIndex` or `funding_rate`.
    #[error("a {0} series, not the contract's candles")]
    OtherSeries(String),
    #[error("unknown freqtrade candle type '{0}'")]
    UnknownCandleType(String),
    #[error("timeframe {0} is not read (QuantPro reads {known})", known = known_intervals())]
    Timeframe(String),
    #[error("cannot tell base and quote in '{pair}' (expected {})", market.pair_shape())]
    PairShape { pair: String, market: Market },
    #[error("Hyperliquid spot pairs are not read (QuantPro reads Hyperliquid perpetuals, under futures/)")]
    HyperliquidSpot,
    #[error(
        "an inverse (coin-margined) contract settled in {settle}: only linear contracts are read"
    )]
    Inverse { settle: String },
}

impl Market {
    /// How freqtrade names a pair of this market.
    fn pair_shape(self) -> &'static str {
        match self {
            Market::Spot => "BASE_QUOTE",
            Market::Futures => "BASE_QUOTE_SETTLE",
        }
    }
}

/// The timeframes QuantPro reads, for messages: `15m, 1h, 4h, 1d`.
fn known_intervals() -> String {
    let known: Vec<&str> = Interval::ALL.iter().map(|i| i.as_str()).collect();
    known.join(", ")
}

/// Whether `file_name` is shaped like a freqtrade data file
/// (`PAIR-TIMEFRAME[-TYPE].ext` or `PAIR-trades.ext`), whatever its content.
pub(super) fn looks_like_freqtrade(file_name: &str) -> bool {
    split_extension(file_name).is_some_and(|(stem, _)| stem.contains('-'))
}

/// Reads a freqtrade file name found in the exchange folder of `exchange`
/// (`market` by the folder: the root is spot, `futures/` futures). `Ok(None)`
/// for a file that is no freqtrade data file at all (ignored silently);
/// `Err` says why a freqtrade file is not read.
pub(super) fn parse_file_name(
    file_name: &str,
    exchange: Exchange,
    market: Market,
) -> Result<Option<FreqtradeFile>, NotRead> {
    let Some((stem, ext)) = split_extension(file_name) else {
        return Ok(None);
    };
    let format = match ext {
        Ext::Candles(format) => format,
        Ext::JsonGz => return Err(NotRead::JsonGz),
        Ext::Hdf5 => return Err(NotRead::Hdf5),
    };
    let mut parts = stem.rsplitn(3, '-');
    let (Some(last), Some(middle)) = (parts.next(), parts.next()) else {
        return Err(NotRead::NotACandleName);
    };
    let rest = parts.next();
    if last == "trades" && rest.is_none() {
        return Err(NotRead::Trades);
    }
    let (pair, timeframe, candle_type) = match rest {
        Some(pair) => (pair, middle, Some(last)),
        None => (middle, last, None),
    };
    match (market, candle_type) {
        (Market::Futures, Some("futures")) | (Market::Spot, None) => {}
        (Market::Futures, None) => return Err(NotRead::FuturesWithoutSuffix),
        (_, Some(kind @ ("mark" | "index" | "premiumIndex" | "funding_rate"))) => {
            return Err(NotRead::OtherSeries(kind.to_string()))
        }
        (_, Some(other)) => return Err(NotRead::UnknownCandleType(other.to_string())),
    }
    let interval = timeframe
        .parse::<Interval>()
        .ok()
        .filter(|i| i.as_str() == timeframe)
        .ok_or_else(|| NotRead::Timeframe(timeframe.to_string()))?;
    Ok(Some(FreqtradeFile {
        symbol: exchange_symbol(pair, exchange, market)?,
        interval,
        format,
        market,
    }))
}

/// The exchange's symbol for a freqtrade pair file stem (`BTC_USDT`, `BTC_USDT_USDT`).
fn exchange_symbol(pair: &str, exchange: Exchange, market: Market) -> Result<String, NotRead> {
    let parts: Vec<&str> = pair.split('_').collect();
    let shape_error = || NotRead::PairShape {
        pair: pair.to_string(),
        market,
    };
    if parts.iter().any(|p| p.is_empty()) {
        return Err(shape_error());
    }
    match (market, parts.as_slice()) {
        (Market::Spot, [_, _]) if exchange == Exchange::Hyperliquid => {
            Err(NotRead::HyperliquidSpot)
        }
        (Market::Spot, [base, quote]) => Ok(format!("{base}{quote}")),
        (Market::Futures, [_, quote, settle]) if quote != settle => Err(NotRead::Inverse {
            settle: settle.to_string(),
        }),
        (Market::Futures, [base, quote, _]) => Ok(match exchange {
            Exchange::Binance => format!("{base}{quote}"),
            Exchange::Mexc => format!("{base}_{quote}"),
            Exchange::Hyperliquid => base.to_string(),
        }),
        _ => Err(shape_error()),
    }
}

/// The extensions of freqtrade's data formats.
enum Ext {
    Candles(CandleFormat),
    JsonGz,
    Hdf5,
}

/// Splits `name.ext` into the stem and a known data extension.
fn split_extension(file_name: &str) -> Option<(&str, Ext)> {
    if let Some(stem) = strip_suffix_ignore_case(file_name, ".json.gz") {
        return Some((stem, Ext::JsonGz));
    }
    let (stem, ext) = file_name.rsplit_once('.')?;
    let ext = match ext.to_ascii_lowercase().as_str() {
        "json" => Ext::Candles(CandleFormat::Json),
        "feather" => Ext::Candles(CandleFormat::Feather),
        "parquet" => Ext::Candles(CandleFormat::Parquet),
        "h5" => Ext::Hdf5,
        _ => return None,
    };
    Some((stem, ext))
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    (text.is_char_boundary(cut) && text[cut..].eq_ignore_ascii_case(suffix)).then(|| &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        name: &str,
        exchange: Exchange,
        market: Market,
    ) -> Result<Option<(String, Interval, CandleFormat)>, NotRead> {
        parse_file_name(name, exchange, market).map(|f| f.map(|f| (f.symbol, f.interval, f.format)))
    }

    #[test]
    fn pairs_become_the_exchanges_symbols() {
        use CandleFormat::*;
        use Exchange::*;
        let ok = |symbol: &str, interval, format| Ok(Some((symbol.to_string(), interval, format)));
        assert_eq!(
            parse("BTC_USDT-15m.json", Binance, Market::Spot),
            ok("BTCUSDT", Interval::M15, Json)
        );
        assert_eq!(
            parse("BTC_USDT_USDT-4h-futures.feather", Binance, Market::Futures),
            ok("BTCUSDT", Interval::H4, Feather)
        );
        assert_eq!(
            parse("ETH_USDT-1h.parquet", Mexc, Market::Spot),
            ok("ETHUSDT", Interval::H1, Parquet)
        );
        assert_eq!(
            parse("ETH_USDT_USDT-15m-futures.parquet", Mexc, Market::Futures),
            ok("ETH_USDT", Interval::M15, Parquet)
        );
        assert_eq!(
            parse(
                "kPEPE_USDC_USDC-15m-futures.feather",
                Hyperliquid,
                Market::Futures
            ),
            ok("kPEPE", Interval::M15, Feather)
        );
        assert_eq!(parse("notes.txt", Binance, Market::Spot), Ok(None));
        assert_eq!(
            parse("BTC_USDT-trades.feather", Binance, Market::Spot),
            Err(NotRead::Trades)
        );
    }

    #[test]
    fn what_is_not_read_says_why() {
        use Exchange::*;
        let reason =
            |name: &str, exchange, market| parse(name, exchange, market).unwrap_err().to_string();
        assert!(reason("BTC_USDT-5m.feather", Binance, Market::Spot)
            .starts_with("timeframe 5m is not read (QuantPro reads 15m, 1h, 4h, 1d)"));
        assert!(reason("BTC_USDT-1M.feather", Binance, Market::Spot).starts_with("timeframe 1M"));
        assert_eq!(
            reason(
                "BTC_USDT_USDT-8h-funding_rate.feather",
                Binance,
                Market::Futures
            ),
            "a funding_rate series, not the contract's candles"
        );
        assert_eq!(
            reason("BTC_USDT_USDT-1h-mark.feather", Binance, Market::Futures),
            "a mark series, not the contract's candles"
        );
        assert_eq!(
            reason("BTC_USDT-trades.feather", Binance, Market::Spot),
            "a trades file, not candles"
        );
        assert!(reason("BTC_USDT-15m.json.gz", Binance, Market::Spot)
            .starts_with("gzip-compressed JSON"));
        assert!(
            reason("BTC_USDT-15m.h5", Binance, Market::Spot).starts_with("HDF5 files are not read")
        );
        assert!(
            reason("BTC_USD_BTC-15m-futures.feather", Binance, Market::Futures)
                .starts_with("an inverse (coin-margined) contract settled in BTC")
        );
        assert!(reason("HYPE_USDC-15m.feather", Hyperliquid, Market::Spot)
            .starts_with("Hyperliquid spot pairs are not read"));
        assert_eq!(
            reason("BTC_USDT_USDT-15m.feather", Binance, Market::Futures),
            "a futures folder's candles end in -futures"
        );
        assert!(reason("BTCUSDT-15m.json", Binance, Market::Spot)
            .starts_with("cannot tell base and quote in 'BTCUSDT'"));
    }

    #[test]
    fn exchange_folders_by_name() {
        assert_eq!(
            folder_exchange(Path::new("user_data/data/binance")),
            Some(Exchange::Binance)
        );
        assert_eq!(
            folder_exchange(Path::new("/x/Hyperliquid")),
            Some(Exchange::Hyperliquid)
        );
        assert_eq!(folder_exchange(Path::new("/x/kraken")), None);
        assert!(looks_like_freqtrade("BTC_USDT-15m.feather"));
        assert!(!looks_like_freqtrade("BTCUSDT_BINANCE_15m.json"));
    }

    /// freqtrade files written the way freqtrade writes them: JSON kline
    /// arrays, and feather / parquet frames with a UTC `date` column.
    mod directories {
        use crate::candles::{list_candle_files, load_candle_file, Candle};
        use polars::prelude::*;
        use quantpro_model::{Exchange, Interval};
        use std::path::Path;

        /// `n` candles of `interval` from 2024-08-01, prices around `base`
        /// on a 0.01 tick grid (as exchanges quote them).
        fn candles(n: usize, interval: Interval, base: f64) -> Vec<Candle> {
            (0..n)
                .map(|i| {
                    let cents = ((base + (i as f64 * 0.3).sin()) * 100.0).round();
                    let price = |offset: f64| (cents + offset) / 100.0;
                    Candle {
                        t: 1_722_470_400_000 + i as i64 * interval.millis(),
                        o: price(-25.0),
                        h: price(50.0),
                        l: price(-75.0),
                        c: price(0.0),
                        v: 10.0 + i as f64,
                    }
                })
                .collect()
        }

        fn write_json(path: &Path, candles: &[Candle]) {
            let rows: Vec<serde_json::Value> = candles
                .iter()
                .map(|c| serde_json::json!([c.t, c.o, c.h, c.l, c.c, c.v]))
                .collect();
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, serde_json::to_vec(&rows).unwrap()).unwrap();
        }

        /// The frame freqtrade stores: `date` (datetime in `unit`, UTC) and OHLCV.
        fn frame(candles: &[Candle], unit: TimeUnit) -> DataFrame {
            let per_ms = match unit {
                TimeUnit::Nanoseconds => 1_000_000,
                TimeUnit::Microseconds => 1_000,
                TimeUnit::Milliseconds => 1,
            };
            let raw: Vec<i64> = candles.iter().map(|c| c.t * per_ms).collect();
            let date = Column::new("date".into(), raw)
                .cast(&DataType::Datetime(unit, Some(TimeZone::UTC)))
                .unwrap();
            let field = |f: fn(&Candle) -> f64| candles.iter().map(f).collect::<Vec<f64>>();
            DataFrame::new(
                candles.len(),
                vec![
                    date,
                    Column::new("open".into(), field(|c| c.o)),
                    Column::new("high".into(), field(|c| c.h)),
                    Column::new("low".into(), field(|c| c.l)),
                    Column::new("close".into(), field(|c| c.c)),
                    Column::new("volume".into(), field(|c| c.v)),
                ],
            )
            .unwrap()
        }

        fn write_feather(path: &Path, candles: &[Candle]) {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let mut file = std::fs::File::create(path).unwrap();
            IpcWriter::new(&mut file)
                .with_compression(Some(IpcCompression::LZ4))
                .finish(&mut frame(candles, TimeUnit::Nanoseconds))
                .unwrap();
        }

        fn write_parquet(path: &Path, candles: &[Candle]) {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let file = std::fs::File::create(path).unwrap();
            ParquetWriter::new(file)
                .finish(&mut frame(candles, TimeUnit::Microseconds))
                .unwrap();
        }

        #[test]
        fn all_three_formats_load_the_same_candles() {
            let dir = tempfile::tempdir().unwrap();
            let series = candles(30, Interval::M15, 64_000.0);
            let json = dir.path().join("BTC_USDT-15m.json");
            let feather = dir.path().join("BTC_USDT-15m.feather");
            let parquet = dir.path().join("BTC_USDT-15m.parquet");
            write_json(&json, &series);
            write_feather(&feather, &series);
            write_parquet(&parquet, &series);
            for path in [&json, &feather, &parquet] {
                let loaded = load_candle_file(path, Some(Interval::M15), i64::MAX).unwrap();
                assert_eq!(loaded.candles, series, "{}", path.display());
            }
        }

        #[test]
        fn a_user_data_folder_lists_every_exchange_and_says_what_it_skips() {
            let root = tempfile::tempdir().unwrap();
            let data = root.path().join("user_data").join("data");
            let (ltf, htf) = (
                candles(60, Interval::M15, 100.0),
                candles(20, Interval::H4, 100.0),
            );
            let binance = data.join("binance");
            // Spot and futures of the same pair: futures is read, spot reported.
            write_feather(&binance.join("BTC_USDT-15m.feather"), &ltf);
            write_feather(&binance.join("BTC_USDT-4h.feather"), &htf);
            write_feather(
                &binance.join("futures/BTC_USDT_USDT-15m-futures.feather"),
                &ltf,
            );
            write_parquet(
                &binance.join("futures/BTC_USDT_USDT-4h-futures.parquet"),
                &htf,
            );
            write_feather(
                &binance.join("futures/BTC_USDT_USDT-8h-funding_rate.feather"),
                &htf,
            );
            write_json(&binance.join("ETH_USDT-15m.json"), &ltf);
            write_json(&binance.join("ETH_USDT-4h.json"), &htf);
            write_json(&binance.join("ETH_USDT-5m.json"), &ltf);
            std::fs::write(binance.join("ETH_USDT-15m.json.gz"), b"gzip").unwrap();
            let mexc = data.join("mexc");
            write_parquet(&mexc.join("SOL_USDT-15m.parquet"), &ltf);
            write_parquet(
                &mexc.join("futures/SOL_USDT_USDT-15m-futures.parquet"),
                &ltf,
            );
            let hyperliquid = data.join("hyperliquid");
            write_feather(
                &hyperliquid.join("futures/kPEPE_USDC_USDC-15m-futures.feather"),
                &ltf,
            );
            write_feather(&hyperliquid.join("HYPE_USDC-15m.feather"), &ltf);
            write_json(&data.join("kraken/XBT_USD-15m.json"), &ltf);
            std::fs::create_dir_all(data.join("notes")).unwrap();

            let inventory = list_candle_files(&data).unwrap();
            let listed: Vec<(Exchange, &str, Vec<Interval>, Vec<String>)> = inventory
                .symbols
                .iter()
                .map(|s| {
                    let names = s
                        .files
                        .values()
                        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                        .collect();
                    (
                        s.exchange,
                        s.symbol.as_str(),
                        s.files.keys().copied().collect(),
                        names,
                    )
                })
                .collect();
            assert_eq!(
                listed,
                vec![
                    (
                        Exchange::Binance,
                        "BTCUSDT",
                        vec![Interval::M15, Interval::H4],
                        vec![
                            "BTC_USDT_USDT-15m-futures.feather".to_string(),
                            "BTC_USDT_USDT-4h-futures.parquet".to_string()
                        ]
                    ),
                    (
                        Exchange::Binance,
                        "ETHUSDT",
                        vec![Interval::M15, Interval::H4],
                        vec![
                            "ETH_USDT-15m.json".to_string(),
                            "ETH_USDT-4h.json".to_string()
                        ]
                    ),
                    (
                        Exchange::Mexc,
                        "SOLUSDT",
                        vec![Interval::M15],
                        vec!["SOL_USDT-15m.parquet".to_string()]
                    ),
                    (
                        Exchange::Mexc,
                        "SOL_USDT",
                        vec![Interval::M15],
                        vec!["SOL_USDT_USDT-15m-futures.parquet".to_string()]
                    ),
                    (
                        Exchange::Hyperliquid,
                        "kPEPE",
                        vec![Interval::M15],
                        vec!["kPEPE_USDC_USDC-15m-futures.feather".to_string()]
                    ),
                ]
            );
            let rejected: Vec<(&str, &str)> = inventory
                .rejected
                .iter()
                .map(|r| (r.file.as_str(), r.reason.as_str()))
                .collect();
            let reason = |file: &str| {
                rejected
                    .iter()
                    .find(|(f, _)| *f == file)
                    .unwrap_or_else(|| panic!("{file} not reported: {rejected:?}"))
                    .1
            };
            assert!(reason("binance/BTC_USDT-15m.feather")
                .starts_with("not used: BTCUSDT on BINANCE is read from freqtrade futures files"));
            assert!(reason("binance/BTC_USDT-4h.feather").starts_with("not used:"));
            assert_eq!(
                reason("binance/futures/BTC_USDT_USDT-8h-funding_rate.feather"),
                "a funding_rate series, not the contract's candles"
            );
            assert!(reason("binance/ETH_USDT-5m.json").starts_with("timeframe 5m is not read"));
            assert!(reason("binance/ETH_USDT-15m.json.gz").starts_with("gzip-compressed JSON"));
            assert!(reason("hyperliquid/HYPE_USDC-15m.feather")
                .starts_with("Hyperliquid spot pairs are not read"));
            assert!(
                reason("kraken/").contains("does not read (it reads binance, mexc, hyperliquid)")
            );
            assert_eq!(rejected.len(), 7, "{rejected:?}");

            // The exchange folder itself is a data directory too.
            let binance_only = list_candle_files(&binance).unwrap();
            assert_eq!(binance_only.symbols.len(), 2);
            let loaded = load_candle_file(
                &binance_only.symbols[0].files[&Interval::H4],
                Some(Interval::H4),
                i64::MAX,
            )
            .unwrap();
            assert_eq!(loaded.candles, htf);
        }
    }
}
