//! [ssr] The signal journal: every trade that a scan's actionable signals
//! open (STRATEGIES.md §6), kept in a real database, followed to its
//! outcome, and read back as the track record.
//!
//! Flow: `pipeline::ScanPipeline::run` writes the feed, then hands the
//! scan's LONG/SHORT signals to [`JournalHandle::sync`]: trades that
//! waited for an unreachable database are recorded first, the open trades
//! of the scanned symbols are resolved against the candles now stored
//! (`core::track::update_open_trade`, the backtest's `apply_candle` rules),
//! then the new signals are recorded. `quantpro backtest --journal` records
//! the replayed trades ([`Origin::Backtest`]). The server's
//! `GET /api/track-record` and the Track Record page read it back through
//! [`JournalHandle::track_record`] (statistics by `core::track`).
//!
//! Where: the SQLite file `journal.sqlite` in the data directory, created
//! on first use; `[journal] database_url` (or
//! `QUANTPRO_JOURNAL__DATABASE_URL`) selects PostgreSQL for a journal that
//! several processes share. One code path serves both (sqlx's `any`
//! driver, one SQL dialect), and the key (exchange, symbol, strategy,
//! opening candle) makes every writer insert a trade once.

mod alert_records;
mod entry;
mod execution_records;
mod handle;
mod migrations;
mod store;

pub use entry::{config_version, JournalEntry, Origin};
pub use execution_records::ExecutionRow;
pub use handle::{JournalHandle, JournalReport};
pub use store::{Journal, JournalError, JournalLocation, TradeFilter, SQLITE_FILE};
