//! The indicator series of one candle file as JSON, for `quantpro
//! indicators FILE` and the dashboard's charts: one array per series,
//! index-aligned with the candles, `null` where a value is undefined.

use crate::candles::{load_candle_file, Candle, CandleFileError, CandleFileName};
use crate::indicators::compute_all;
use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
struct IndicatorColumns<'a> {
    t: Vec<i64>,
    rsi14: &'a [Option<f64>],
    atr14: &'a [Option<f64>],
    adx14: &'a [Option<f64>],
    plus_di14: &'a [Option<f64>],
    minus_di14: &'a [Option<f64>],
    ema20: &'a [Option<f64>],
    ema50: &'a [Option<f64>],
    ema200: &'a [Option<f64>],
    obv: &'a [f64],
}

/// `{"t":[...],"rsi14":[...],...,"obv":[...]}` for the candles.
pub fn indicators_json(candles: &[Candle]) -> String {
    let set = compute_all(candles);
    let columns = IndicatorColumns {
        t: candles.iter().map(|c| c.t).collect(),
        rsi14: &set.rsi14,
        atr14: &set.atr14,
        adx14: &set.adx14,
        plus_di14: &set.plus_di14,
        minus_di14: &set.minus_di14,
        ema20: &set.ema20,
        ema50: &set.ema50,
        ema200: &set.ema200,
        obv: &set.obv,
    };
    // serde_json writes a non-finite f64 as null, so the text is always valid JSON.
    serde_json::to_string(&columns).expect("plain numbers and arrays always serialize")
}

/// Loads and validates a candle file (any supported format; its closed
/// candles only when the name tells the interval) and returns its
/// indicators as JSON.
pub fn indicators_json_for_file(path: &Path, now_ms: i64) -> Result<String, CandleFileError> {
    let interval = path
        .file_name()
        .and_then(|n| CandleFileName::parse(&n.to_string_lossy()).ok())
        .map(|n| n.interval);
    let series = load_candle_file(path, interval, now_ms)?;
    Ok(indicators_json(&series.candles))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candles(n: usize) -> Vec<Candle> {
        (0..n)
            .map(|i| {
                let c = 100.0 + (i as f64 * 0.7).sin() * 5.0 + i as f64 * 0.1;
                Candle {
                    t: i as i64 * 900_000,
                    o: c - 0.5,
                    h: c + 1.0,
                    l: c - 1.5,
                    c,
                    v: 10.0 + i as f64,
                }
            })
            .collect()
    }

    #[test]
    fn columns_are_aligned_with_nulls_before_the_first_value() {
        let series = candles(60);
        let value: serde_json::Value = serde_json::from_str(&indicators_json(&series)).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 10);
        for key in [
            "t",
            "rsi14",
            "atr14",
            "adx14",
            "plus_di14",
            "minus_di14",
            "ema20",
            "ema50",
            "ema200",
            "obv",
        ] {
            assert_eq!(value[key].as_array().unwrap().len(), 60, "{key}");
        }
        assert_eq!(value["t"][1], 900_000);
        // First defined indices: RSI/ATR/DI at 14, ADX at 27, EMA(n) at n-1, EMA200 never in 60.
        for (key, first) in [
            ("rsi14", 14),
            ("atr14", 14),
            ("plus_di14", 14),
            ("adx14", 27),
            ("ema20", 19),
            ("ema50", 49),
        ] {
            assert!(value[key][first - 1].is_null(), "{key}");
            assert!(value[key][first].is_f64(), "{key}");
        }
        assert!(value["ema200"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.is_null()));
        assert_eq!(value["obv"][0], 10.0, "OBV starts at the first volume");
    }

    #[test]
    fn single_candle_and_file_loading() {
        let one: serde_json::Value = serde_json::from_str(&indicators_json(&candles(1))).unwrap();
        assert_eq!(one["rsi14"], serde_json::json!([null]));
        assert_eq!(
            indicators_json(&[]),
            r#"{"t":[],"rsi14":[],"atr14":[],"adx14":[],"plus_di14":[],"minus_di14":[],"ema20":[],"ema50":[],"ema200":[],"obv":[]}"#
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BTCUSDT_BINANCE_15m.json");
        std::fs::write(&path, crate::candles::candles_to_json(&candles(30))).unwrap();
        let text = indicators_json_for_file(&path, i64::MAX).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["t"]
                .as_array()
                .unwrap()
                .len(),
            30
        );
        // Judged at the open of the 30th candle, that candle is dropped.
        let text = indicators_json_for_file(&path, 29 * 900_000).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["t"]
                .as_array()
                .unwrap()
                .len(),
            29
        );

        std::fs::write(&path, r#"[{"t":0,"o":1,"h":0.5,"l":0.4,"c":1,"v":1}]"#).unwrap();
        let err = indicators_json_for_file(&path, i64::MAX)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "BTCUSDT_BINANCE_15m.json: candle #0 (t=0): high 0.5 is below max(open, close) 1"
        );
    }
}
