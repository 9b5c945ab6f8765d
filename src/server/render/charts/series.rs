//! The candles a signal was computed from: its 15m and 4h files, read again
//! and cut back to what the scan saw, so a chart and the signal's indices
//! (trendline pivots, break point) line up.

use super::ChartError;
use quantpro_core::candles::{load_candle_file, Candle, CandleFileName, CandleFormat};
use quantpro_model::Interval;
use quantpro_model::Signal;
use std::path::{Path, PathBuf};

/// The LTF and HTF candles of a signal, ending where the scan's ended.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalSeries {
    pub ltf: Vec<Candle>,
    pub htf: Vec<Candle>,
    /// Add to an LTF index of the signal (`candle_index`, trendline indices)
    /// to get the index into `ltf`: non-zero when the file gained or lost
    /// old candles at its start since the scan.
    pub index_offset: isize,
}

impl SignalSeries {
    /// Index into `ltf` of the signal's LTF index `i`, when it exists.
    pub fn ltf_index(&self, i: usize) -> Option<usize> {
        usize::try_from(i as isize + self.index_offset)
            .ok()
            .filter(|&j| j < self.ltf.len())
    }
}

/// Reads the signal's candle files (JSON, Parquet or CSV, as the scan
/// prefers them) with the scan's clock, and aligns them to the signal.
pub fn load_signal_series(data_dir: &Path, signal: &Signal) -> Result<SignalSeries, ChartError> {
    // The scan kept candles closed at `calculated_at` (Unix seconds); the
    // second's fraction is unknown, so allow all of it.
    let scan_now_ms = (signal.observability.calculated_at + 1) * 1000;
    let ltf_path = candle_path(data_dir, signal, Interval::M15)?;
    let htf_path = candle_path(data_dir, signal, Interval::H4)?;
    let mut ltf = load_candle_file(&ltf_path, Some(Interval::M15), scan_now_ms)?.candles;
    let htf = load_candle_file(&htf_path, Some(Interval::H4), scan_now_ms)?.candles;

    let candle_index = signal.observability.candle_index;
    let last = match signal.ltf.last_candle_time {
        Some(t) => ltf
            .binary_search_by_key(&t, |c| c.t)
            .map_err(|_| ChartError::OutOfDate)?,
        None if candle_index < ltf.len() => candle_index,
        None => return Err(ChartError::OutOfDate),
    };
    ltf.truncate(last + 1);
    Ok(SignalSeries {
        ltf,
        htf,
        index_offset: last as isize - candle_index as isize,
    })
}

fn candle_path(
    data_dir: &Path,
    signal: &Signal,
    interval: Interval,
) -> Result<PathBuf, ChartError> {
    CandleFormat::PREFERENCE
        .into_iter()
        .map(|format| {
            let name = CandleFileName {
                symbol: signal.symbol.clone(),
                exchange: signal.exchange,
                interval,
                format,
            };
            data_dir.join(name.file_name())
        })
        .find(|path| path.is_file())
        .ok_or_else(|| ChartError::MissingFile {
            symbol: signal.symbol.clone(),
            exchange: signal.exchange,
            interval,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::fixtures::sample_signal;
    use quantpro_model::{Exchange, Strategy};

    const M15: i64 = 900_000;
    const H4: i64 = 4 * 3_600_000;

    fn write_series(dir: &Path, name: &str, start: i64, step: i64, n: usize) {
        let candles: Vec<Candle> = (0..n)
            .map(|i| {
                let p = 100.0 + i as f64 * 0.1;
                Candle {
                    t: start + i as i64 * step,
                    o: p,
                    h: p + 1.0,
                    l: p - 1.0,
                    c: p + 0.5,
                    v: 1.0,
                }
            })
            .collect();
        std::fs::write(dir.join(name), serde_json::to_string(&candles).unwrap()).unwrap();
    }

    /// A signal computed at the close of LTF candle `index` of a series starting at 0.
    fn signal_at(index: usize) -> Signal {
        let mut s = sample_signal("BTCUSDT", Strategy::Legacy);
        s.exchange = Exchange::Binance;
        s.observability.candle_index = index;
        s.ltf.last_candle_time = Some(index as i64 * M15);
        s.observability.calculated_at = ((index as i64 + 1) * M15) / 1000;
        s
    }

    #[test]
    fn the_series_ends_at_the_signals_candle_even_when_the_file_grew() {
        let dir = tempfile::tempdir().unwrap();
        write_series(dir.path(), "BTCUSDT_BINANCE_15m.json", 0, M15, 200);
        write_series(dir.path(), "BTCUSDT_BINANCE_4h.json", 0, H4, 30);
        let series = load_signal_series(dir.path(), &signal_at(119)).unwrap();
        assert_eq!(series.ltf.len(), 120);
        assert_eq!(series.ltf.last().unwrap().t, 119 * M15);
        assert_eq!(series.index_offset, 0);
        // HTF candles still open at the scan (close after 120 x 15m = 30 h) are left out.
        assert_eq!(series.htf.len(), 7);
        assert_eq!(series.ltf_index(119), Some(119));
        assert_eq!(series.ltf_index(120), None);
    }

    #[test]
    fn a_file_trimmed_at_its_start_shifts_the_indices() {
        let dir = tempfile::tempdir().unwrap();
        // The scan saw candles from t = 0; the file now starts 10 candles later.
        write_series(dir.path(), "BTCUSDT_BINANCE_15m.json", 10 * M15, M15, 190);
        write_series(dir.path(), "BTCUSDT_BINANCE_4h.json", 0, H4, 30);
        let series = load_signal_series(dir.path(), &signal_at(119)).unwrap();
        assert_eq!(series.index_offset, -10);
        assert_eq!(series.ltf.len(), 110);
        assert_eq!(series.ltf[series.ltf_index(119).unwrap()].t, 119 * M15);
    }

    #[test]
    fn missing_files_and_vanished_candles_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_signal_series(dir.path(), &signal_at(10)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no 15m candle file for BTCUSDT on BINANCE in the data directory"
        );
        write_series(dir.path(), "BTCUSDT_BINANCE_15m.json", 0, M15, 50);
        write_series(dir.path(), "BTCUSDT_BINANCE_4h.json", 0, H4, 10);
        let mut signal = signal_at(40);
        signal.ltf.last_candle_time = Some(40 * M15 + 1);
        assert!(matches!(
            load_signal_series(dir.path(), &signal),
            Err(ChartError::OutOfDate)
        ));
    }
}
