//! The scanner core: candles -> indicators -> context -> strategies -> master
//! feed. Knows nothing of HTTP or Leptos.

pub mod candles;
pub mod external;
// pub mod indicators; (TEMP while the indicators helper writes it)
pub mod config;
pub mod feed_writer;
