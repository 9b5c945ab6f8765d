//! Where alert decisions and delivery outcomes are kept, so that a restart
//! sends nothing twice: the signal journal ("sent alerts are stored in the
//! journal"; SQLite or PostgreSQL, `journal/alert_records.rs`).
//!
//! [`AlertStore`] is the seam the alerter writes through; [`JournalAlertStore`]
//! is the one implementation the server uses. Decisions are recorded
//! *before* the deliveries start: a crash between the two loses an alert
//! rather than repeating it, and an alert whose decision another process
//! on the same journal recorded first is left to that process.
//!
//! Each decision keeps its alert too: a delivery with no recorded outcome
//! (the process stopped before it ended) is found by
//! [`AlertStore::unfinished`] at the next start and sent again, once,
//! with the same alert id (a webhook receiver drops repeats by it).
//!
//! The JSON-lines file of the first version (`DATA_DIR/.alerts/log.jsonl`)
//! is no longer read: its decisions are not imported (a restart right
//! after the upgrade may repeat an alert of the last cooldown); the start
//! says so when the file is there.

use super::engine::{Alert, Decision};
use crate::journal::{JournalError, JournalHandle};
use crate::settings::JournalSettings;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How one channel's delivery of one alert ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The alert's id.
    pub id: String,
    pub channel: String,
    pub at_ms: i64,
    pub delivered: bool,
    /// Why it failed (never holds a secret: URLs are left out of errors).
    pub reason: Option<String>,
}

/// A decided alert (sent, not held) and the delivery outcomes recorded
/// for it so far: its channels without one never ended.
#[derive(Debug, Clone, PartialEq)]
pub struct UnfinishedAlert {
    pub alert: Alert,
    pub ended: Vec<DeliveryRecord>,
}

/// Why the alert records could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AlertStoreError {
    #[error("cannot keep the alert records: {0}")]
    Journal(#[from] JournalError),
}

/// The record of what the alerter decided and delivered.
#[async_trait::async_trait]
pub trait AlertStore: Send + Sync {
    /// The decisions taken at or after `since_ms`.
    async fn past_decisions(&self, since_ms: i64) -> Result<Vec<Decision>, AlertStoreError>;
    /// Keeps `decisions` (before any of their alerts is sent), each with
    /// its alert of `alerts` (those to send); returns the ids that were
    /// recorded already, by another writer: not to send.
    async fn record_decisions(
        &self,
        decisions: &[Decision],
        alerts: &[Alert],
    ) -> Result<Vec<String>, AlertStoreError>;
    /// Keeps how a delivery ended.
    async fn record_delivery(&self, delivery: &DeliveryRecord) -> Result<(), AlertStoreError>;
    /// The alerts sent at or after `since_ms` that were kept, each with
    /// its recorded deliveries (a channel without one is to resume).
    async fn unfinished(&self, since_ms: i64) -> Result<Vec<UnfinishedAlert>, AlertStoreError>;
}

/// The alert records in the signal journal of `settings` (opened on first
/// use, like every other user of the journal).
pub struct JournalAlertStore {
    journal: JournalHandle,
    settings: JournalSettings,
}

impl JournalAlertStore {
    pub fn new(journal: JournalHandle, settings: JournalSettings) -> JournalAlertStore {
        JournalAlertStore { journal, settings }
    }
}

/// The first version's file, in a data directory.
const OLD_LOG: &str = ".alerts/log.jsonl";

/// Says (once, at start) that the first version's alert log is no longer read.
pub fn warn_of_old_log(data_dir: &Path) {
    let old = data_dir.join(OLD_LOG);
    if old.exists() {
        tracing::warn!(
            "[ALERTS] {} is no longer read: sent alerts are kept in the signal journal now; \
             its decisions were not imported (an alert of the last cooldown may be sent again); \
             delete the file to silence this",
            old.display()
        );
    }
}

#[async_trait::async_trait]
impl AlertStore for JournalAlertStore {
    async fn past_decisions(&self, since_ms: i64) -> Result<Vec<Decision>, AlertStoreError> {
        let decisions = self
            .journal
            .with_journal(&self.settings, move |journal| async move {
                journal.alert_decisions_since(since_ms).await
            })
            .await?;
        Ok(decisions)
    }

    async fn record_decisions(
        &self,
        decisions: &[Decision],
        alerts: &[Alert],
    ) -> Result<Vec<String>, AlertStoreError> {
        if decisions.is_empty() {
            return Ok(Vec::new());
        }
        let decisions = decisions.to_vec();
        let alerts = alerts.to_vec();
        let known = self
            .journal
            .with_journal(&self.settings, move |journal| async move {
                journal.record_alert_decisions(&decisions, &alerts).await
            })
            .await?;
        Ok(known)
    }

    async fn record_delivery(&self, delivery: &DeliveryRecord) -> Result<(), AlertStoreError> {
        let delivery = delivery.clone();
        self.journal
            .with_journal(&self.settings, move |journal| async move {
                journal.record_alert_delivery(&delivery).await
            })
            .await?;
        Ok(())
    }

    async fn unfinished(&self, since_ms: i64) -> Result<Vec<UnfinishedAlert>, AlertStoreError> {
        let unfinished = self
            .journal
            .with_journal(&self.settings, move |journal| async move {
                journal.unfinished_alerts(since_ms).await
            })
            .await?;
        Ok(unfinished)
    }
}
