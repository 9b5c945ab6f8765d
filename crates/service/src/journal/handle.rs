//! The journal of a process, as the scan pipeline, the backtest and the
//! server use it: opened at first use (a database that is down when the
//! process starts does not stop it), with the trades that could not be
//! written kept until the database is back.

use super::entry::{config_version, JournalEntry};
use super::store::{Journal, JournalError, JournalLocation, TradeFilter};

use crate::settings::JournalSettings;
use quantpro_core::scan::stored_ltf;
use quantpro_core::track::{track_record, update_open_trade};
use quantpro_model::{BacktestReport, Exchange, TrackConfig, TrackRecord, Trade};
use quantpro_sources::clock::holding_virtual_time;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Trades kept in memory while the database is unreachable; past this the
/// oldest are dropped (and the drop logged).
const MAX_WAITING: usize = 10_000;

/// What one run did to the journal.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JournalReport {
    /// The database (file, or URL without credentials).
    pub location: String,
    /// Trades recorded by this run (new ones; repeats are not counted).
    pub recorded: usize,
    /// The trades this run resolved (win, loss or expiry) from the stored
    /// candles, as they closed: the live loop passes them on to the
    /// alerter (the `resolution` trigger).
    pub resolved: Vec<Trade>,
    /// Trades waiting in memory for the database to come back.
    pub waiting: usize,
    /// Why the journal could not be brought up to date; the feed was
    /// written regardless, and the next run catches up.
    pub error: Option<String>,
}

/// The journal of one process: one per `ScanPipeline`, shared by the server.
///
/// Its database work runs on the caller's runtime, each call wrapped in
/// `clock::holding_virtual_time`: a caller whose clock is virtual (the live
/// loop's tests) neither has its time jump while a query waits on the
/// driver's thread or the server, nor sees the pool's timeouts fire on it.
/// This handle is the one door to the database: every use goes through it.
#[derive(Debug, Clone)]
pub struct JournalHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    data_dir: PathBuf,
    journal: tokio::sync::Mutex<Option<Arc<Journal>>>,
    waiting: Mutex<Vec<JournalEntry>>,
}

impl JournalHandle {
    /// The journal of the data directory `data_dir` (the embedded SQLite
    /// file lives there); nothing is opened yet.
    pub fn new(data_dir: impl Into<PathBuf>) -> JournalHandle {
        JournalHandle {
            inner: Arc::new(Inner {
                data_dir: data_dir.into(),
                journal: tokio::sync::Mutex::new(None),
                waiting: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn location(&self, settings: &JournalSettings) -> JournalLocation {
        self.inner.location(settings)
    }

    /// After a scan: records what waited for the database, resolves the
    /// open trades of the `scanned` symbols against their stored candles
    /// (closed by `now_ms`), then records `entries`. Never fails: a
    /// journal that cannot be reached is the report's `error`, and the
    /// entries wait for the next run.
    pub async fn sync(
        &self,
        settings: &JournalSettings,
        entries: Vec<JournalEntry>,
        scanned: &BTreeSet<(Exchange, String)>,
        track: &TrackConfig,
        now_ms: i64,
    ) -> JournalReport {
        holding_virtual_time(self.inner.sync(settings, entries, scanned, track, now_ms)).await
    }

    /// Records the trades of a backtest (origin `backtest`); returns how
    /// many were new (a trade already there, or overlapping a recorded one
    /// of the same strategy and symbol, is not recorded twice).
    pub async fn record_backtest(
        &self,
        settings: &JournalSettings,
        report: &BacktestReport,
        now_ms: i64,
    ) -> Result<usize, JournalError> {
        let version = config_version(&report.config);
        let entries: Vec<JournalEntry> = report
            .trades
            .iter()
            .map(|trade| JournalEntry::replayed(trade.clone(), &version))
            .collect();
        self.with_journal(settings, |journal| async move {
            journal.record(&entries, now_ms).await
        })
        .await
    }

    /// The journal's trades that pass `filter`, in the backtest report's
    /// order.
    pub async fn trades(
        &self,
        settings: &JournalSettings,
        filter: &TradeFilter,
    ) -> Result<Vec<Trade>, JournalError> {
        self.with_journal(
            settings,
            |journal| async move { journal.trades(filter).await },
        )
        .await
    }

    /// The statistics of the journal's trades that pass `filter` (the
    /// figures of `core::track`, as `quantpro backtest` prints them).
    pub async fn track_record(
        &self,
        settings: &JournalSettings,
        filter: &TradeFilter,
    ) -> Result<TrackRecord, JournalError> {
        let trades = self.trades(settings, filter).await?;
        tokio::task::spawn_blocking(move || track_record(&trades))
            .await
            .map_err(JournalError::Stopped)?
            .map_err(JournalError::from)
    }

    /// Runs `work` on the open journal (opened and migrated on first use,
    /// and tried again on the next call after a failure; the location is
    /// read at the first successful open: changing it needs a restart).
    /// The one way other services (the alerter's store) use the journal.
    pub async fn with_journal<T, F, Fut>(
        &self,
        settings: &JournalSettings,
        work: F,
    ) -> Result<T, JournalError>
    where
        F: FnOnce(Arc<Journal>) -> Fut,
        Fut: Future<Output = Result<T, JournalError>>,
    {
        holding_virtual_time(async move { work(self.inner.journal(settings).await?).await }).await
    }
}

impl Inner {
    fn location(&self, settings: &JournalSettings) -> JournalLocation {
        JournalLocation::resolve(settings, &self.data_dir)
    }

    async fn journal(&self, settings: &JournalSettings) -> Result<Arc<Journal>, JournalError> {
        let mut slot = self.journal.lock().await;
        if let Some(journal) = slot.as_ref() {
            return Ok(journal.clone());
        }
        let location = self.location(settings);
        let journal = Arc::new(Journal::open(&location).await?);
        tracing::info!("[JOURNAL] signal journal at {}", journal.location());
        *slot = Some(journal.clone());
        Ok(journal)
    }

    async fn sync(
        &self,
        settings: &JournalSettings,
        entries: Vec<JournalEntry>,
        scanned: &BTreeSet<(Exchange, String)>,
        track: &TrackConfig,
        now_ms: i64,
    ) -> JournalReport {
        let older = std::mem::take(&mut *self.waiting());
        let mut report = JournalReport {
            location: self.location(settings).describe(),
            ..JournalReport::default()
        };
        let result = self
            .bring_up_to_date(settings, &older, &entries, scanned, track, now_ms)
            .await;
        match result {
            Ok((recorded, resolved)) => {
                report.recorded = recorded;
                report.resolved = resolved;
            }
            Err(err) => {
                tracing::warn!("[JOURNAL] {err}; the next run catches up");
                report.error = Some(err.to_string());
                // Recording twice is harmless (the key), so all of it waits.
                let mut waiting = self.waiting();
                let mut kept = older;
                kept.extend(entries);
                kept.append(&mut waiting);
                if kept.len() > MAX_WAITING {
                    let dropped = kept.len() - MAX_WAITING;
                    tracing::warn!(
                        "[JOURNAL] {dropped} trades dropped: too many waiting for the journal"
                    );
                    kept.drain(..dropped);
                }
                *waiting = kept;
            }
        }
        report.waiting = self.waiting().len();
        report
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Vec<JournalEntry>> {
        // The list stays consistent even if a holder panicked.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn bring_up_to_date(
        &self,
        settings: &JournalSettings,
        older: &[JournalEntry],
        newer: &[JournalEntry],
        scanned: &BTreeSet<(Exchange, String)>,
        track: &TrackConfig,
        now_ms: i64,
    ) -> Result<(usize, Vec<Trade>), JournalError> {
        let journal = self.journal(settings).await?;
        // What waited is older: recorded (and resolved) before this run's
        // signals, which it may still block (one trade at a time).
        let mut recorded = journal.record(older, now_ms).await?;
        let resolved = self.resolve(&journal, scanned, track, now_ms).await?;
        recorded += journal.record(newer, now_ms).await?;
        Ok((recorded, resolved))
    }

    /// Brings the open trades of `scanned` up to date with the candles
    /// stored for them; returns the ones that closed.
    async fn resolve(
        &self,
        journal: &Journal,
        scanned: &BTreeSet<(Exchange, String)>,
        track: &TrackConfig,
        now_ms: i64,
    ) -> Result<Vec<Trade>, JournalError> {
        let open: Vec<Trade> = journal
            .open_trades()
            .await?
            .into_iter()
            .filter(|t| scanned.contains(&(t.exchange, t.symbol.clone())))
            .collect();
        if open.is_empty() {
            return Ok(Vec::new());
        }
        let symbols: BTreeSet<(Exchange, String)> = open
            .iter()
            .map(|t| (t.exchange, t.symbol.clone()))
            .collect();
        let data_dir = self.data_dir.clone();
        let candles = tokio::task::spawn_blocking(move || stored_ltf(&data_dir, symbols, now_ms))
            .await
            .map_err(JournalError::Stopped)?;
        let mut resolved = Vec::new();
        for mut trade in open {
            let Some(ltf) = candles.get(&(trade.exchange, trade.symbol.clone())) else {
                continue;
            };
            let before = trade.clone();
            update_open_trade(&mut trade, ltf, track);
            if trade != before && journal.update_outcome(&trade, now_ms).await? && !trade.is_open()
            {
                resolved.push(trade);
            }
        }
        Ok(resolved)
    }
}
