//! QuantPro's services: everything that turns the scanner core and the
//! external sources into a running product, shared by the CLI, the web
//! server and the live loop.
//!
//! - `settings`: `quantpro.toml` and environment overrides, validated once;
//! - `pipeline`: the one scan pipeline, settings -> external data -> core -> feed + journal;
//! - `feed_store`: the master feed held in memory, as the server serves it;
//! - `fetch`: `quantpro fetch`, candles from an exchange into the data directory;
//! - `live`: the live loop (universe, backfill, stream closes, rescans);
//! - `journal`: the signal journal (SQLite or PostgreSQL);
//! - `alerts`: alert rules, decisions and their delivery;
//! - `execution`: trade execution, paper by default (sizing, risk limits, the executor);
//! - `password`: the owner's password hash;
//! - `shutdown`: Ctrl-C or SIGTERM, and how long a stop waits for alerts.

pub mod alerts;
pub mod execution;
pub mod feed_store;
pub mod fetch;
pub mod journal;
pub mod live;
pub mod password;
pub mod pipeline;
pub mod settings;
pub mod shutdown;
