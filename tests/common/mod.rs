//! Test support of the integration tests: the real candles (also included
//! on their own by the unit tests and the benchmarks, which need nothing
//! else), a fake of the exchanges that replays them, and the real app
//! served over HTTP.

mod reference_candles;
pub use reference_candles::*;

/// A fake of the exchanges (REST and streams) replaying the real candles.
#[cfg(feature = "ssr")]
pub mod fake_exchange;

/// Checks of stored candle files (the live loop's no-hole rule).
#[cfg(feature = "ssr")]
pub mod candle_files;

/// The real app served on 127.0.0.1:0 (also included on its own by the
/// server tests).
#[cfg(feature = "ssr")]
pub mod served_app;
