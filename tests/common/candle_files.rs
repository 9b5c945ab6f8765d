//! Checks of the candle files a test left in its data directory.

// Each test crate that includes `common` uses only some of it.
#![allow(dead_code)]

/// Every stored candle file of `data_dir` has no hole: consecutive candles
/// are exactly one interval apart (the live loop's no-hole rule).
pub fn assert_no_holes(data_dir: &std::path::Path) {
    use quantpro_core::candles::{list_candle_files, read_candle_file};
    let inventory = list_candle_files(data_dir).unwrap();
    assert!(!inventory.symbols.is_empty());
    for files in inventory.symbols {
        for (interval, path) in files.files {
            let candles = read_candle_file(&path).unwrap();
            assert!(
                candles
                    .windows(2)
                    .all(|w| w[1].t - w[0].t == interval.millis()),
                "{} has a hole",
                path.display()
            );
        }
    }
}
