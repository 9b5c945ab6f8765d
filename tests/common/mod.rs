//! Test support of the integration tests: the real candles (also included
//! on their own by the unit tests and the benchmarks, which need nothing
//! else) and a fake of the exchanges that replays them.

mod reference_candles;
pub use reference_candles::*;

/// A fake of the exchanges (REST and streams) replaying the real candles.
#[cfg(feature = "ssr")]
pub mod fake_exchange;

/// Checks of stored candle files (the live loop's no-hole rule).
#[cfg(feature = "ssr")]
pub mod candle_files;
