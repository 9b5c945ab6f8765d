//! Candle file names: `{SYMBOL}_{EXCHANGE}_{INTERVAL}.{json|csv|parquet|feather}`
//! (freqtrade's own names are read by `freqtrade`).
//!
//! The name is the only place a file's symbol, exchange and interval are
//! recorded, so the data directory listing starts here.

use quantpro_model::Exchange;
use quantpro_model::Interval;
use std::path::Path;

/// How a candle file is encoded, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CandleFormat {
    Json,
    Parquet,
    /// Arrow IPC (freqtrade's default `feather` format).
    Feather,
    Csv,
}

impl CandleFormat {
    /// Preference order when one series exists in several formats: the
    /// first is used and the others are reported as duplicates.
    pub const PREFERENCE: [CandleFormat; 4] = [
        CandleFormat::Json,
        CandleFormat::Parquet,
        CandleFormat::Feather,
        CandleFormat::Csv,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            CandleFormat::Json => "json",
            CandleFormat::Parquet => "parquet",
            CandleFormat::Feather => "feather",
            CandleFormat::Csv => "csv",
        }
    }

    /// The format of a path by its extension (case-insensitive), if it is a candle format.
    pub fn from_path(path: &Path) -> Option<CandleFormat> {
        let ext = path.extension()?.to_str()?;
        CandleFormat::PREFERENCE
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(ext))
    }
}

/// What a candle file's name says about its content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CandleFileName {
    /// The symbol as the exchange spells it (may itself contain `_`, e.g. MEXC's `BTC_USDT`).
    pub symbol: String,
    pub exchange: Exchange,
    pub interval: Interval,
    pub format: CandleFormat,
}

/// Why a file name is not a candle file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    #[error("file name must look like SYMBOL_EXCHANGE_INTERVAL.json|csv|parquet|feather")]
    Shape,
    #[error("unknown extension (expected json, csv, parquet or feather)")]
    Extension,
    #[error("{0}")]
    Exchange(quantpro_model::UnknownVariant),
    #[error("{0}")]
    Interval(quantpro_model::UnknownVariant),
}

impl CandleFileName {
    /// Splits a name from the right, so symbols containing `_` survive:
    /// `BTC_USDT_MEXC_15m.json` is symbol `BTC_USDT`, exchange MEXC, interval 15m.
    pub fn parse(file_name: &str) -> Result<CandleFileName, FileNameError> {
        let (stem, ext) = file_name.rsplit_once('.').ok_or(FileNameError::Shape)?;
        let format =
            CandleFormat::from_path(Path::new(file_name)).ok_or(FileNameError::Extension)?;
        debug_assert!(format.extension().eq_ignore_ascii_case(ext));
        let mut parts = stem.rsplitn(3, '_');
        let interval = parts.next().ok_or(FileNameError::Shape)?;
        let exchange = parts.next().ok_or(FileNameError::Shape)?;
        let symbol = parts
            .next()
            .filter(|s| !s.is_empty())
            .ok_or(FileNameError::Shape)?;
        Ok(CandleFileName {
            symbol: symbol.to_string(),
            exchange: exchange.parse().map_err(FileNameError::Exchange)?,
            interval: interval.parse().map_err(FileNameError::Interval)?,
            format,
        })
    }

    /// The canonical file name, the inverse of `parse`.
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}.{}",
            self.symbol,
            self.exchange,
            self.interval,
            self.format.extension()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_symbol_exchange_interval_and_format() {
        let n = CandleFileName::parse("BTCUSDT_BINANCE_15m.json").unwrap();
        assert_eq!(
            (n.symbol.as_str(), n.exchange, n.interval, n.format),
            (
                "BTCUSDT",
                Exchange::Binance,
                Interval::M15,
                CandleFormat::Json
            )
        );
        let n = CandleFileName::parse("BTC_USDT_MEXC_4h.parquet").unwrap();
        assert_eq!(
            (n.symbol.as_str(), n.exchange, n.interval, n.format),
            (
                "BTC_USDT",
                Exchange::Mexc,
                Interval::H4,
                CandleFormat::Parquet
            )
        );
        let n = CandleFileName::parse("kPEPE_HYPERLIQUID_1d.CSV").unwrap();
        assert_eq!(
            (n.symbol.as_str(), n.interval, n.format),
            ("kPEPE", Interval::D1, CandleFormat::Csv)
        );
        assert_eq!(
            CandleFileName::parse("ETH_HYPERLIQUID_4h.json")
                .unwrap()
                .file_name(),
            "ETH_HYPERLIQUID_4h.json"
        );
    }

    #[test]
    fn bad_names_say_what_is_wrong() {
        assert_eq!(
            CandleFileName::parse("BTCUSDT_BINANCE_15m.txt"),
            Err(FileNameError::Extension)
        );
        assert_eq!(
            CandleFileName::parse("BINANCE_15m.json"),
            Err(FileNameError::Shape)
        );
        assert_eq!(CandleFileName::parse("README"), Err(FileNameError::Shape));
        let err = CandleFileName::parse("BTCUSDT_KRAKEN_15m.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown Exchange 'KRAKEN'"), "{err}");
        let err = CandleFileName::parse("BTCUSDT_BINANCE_5m.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown Interval '5m'"), "{err}");
    }
}
