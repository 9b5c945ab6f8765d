//! Serde types shared by the server and the browser: the signal, its trade
//! setup and score breakdown, and the master feed that carries them.
//!
//! These are the JSON contract of `shared/docs/SIGNAL.md` (and of
//! STRATEGIES.md §6 for the track record); the scanner core produces them,
//! the server serves them and the UI renders them.

mod config;
mod enums;
mod feed;
pub mod format;
mod freshness;
mod live;
mod scan_job;
mod signal;
mod track;

#[cfg(test)]
pub(crate) mod fixtures;

pub use config::*;
pub use enums::*;
pub use feed::*;
pub use freshness::*;
pub use live::*;
pub use scan_job::*;
pub use signal::*;
pub use track::*;
