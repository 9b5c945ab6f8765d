//! The alerter's records in the journal (`journal_alert_decisions`,
//! `journal_alert_deliveries`, migrations 2 and 3): each decision before
//! its alert is sent (with the alert itself, migration 3), each channel's
//! delivery when it ends. The alert's id (and the id with the channel) is
//! the key, so a restart or a second process on the same journal records
//! each once, and learns from the insert whether another writer decided
//! it first. A decided alert with a channel whose delivery has no record
//! was cut short by a stop: [`Journal::unfinished_alerts`] finds it for
//! the next start to resume.

use super::store::{Journal, JournalError};
use crate::alerts::{Alert, Decision, DeliveryRecord, UnfinishedAlert};
use sqlx::any::AnyRow;
use sqlx::Row;

const INSERT_DECISION: &str = "\
INSERT INTO journal_alert_decisions (id, cooldown_key, decided_at, sent, alert) \
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING";

const INSERT_DELIVERY: &str = "\
INSERT INTO journal_alert_deliveries (alert_id, channel, ended_at, delivered, reason) \
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (alert_id, channel) DO NOTHING";

impl Journal {
    /// Records `decisions` in one transaction, each with its alert of
    /// `alerts` (the ones to send; a held one has none); returns the ids
    /// that were recorded already (by an earlier run or another process):
    /// those alerts are not this writer's to send.
    pub async fn record_alert_decisions(
        &self,
        decisions: &[Decision],
        alerts: &[Alert],
    ) -> Result<Vec<String>, JournalError> {
        if decisions.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await.map_err(|e| self.query_error(e))?;
        let mut known = Vec::new();
        for decision in decisions {
            let alert = alerts
                .iter()
                .find(|a| a.id == decision.id)
                .map(|a| serde_json::to_string(a).expect("an alert serializes"));
            let done = sqlx::query(INSERT_DECISION)
                .bind(decision.id.as_str())
                .bind(decision.key.as_str())
                .bind(decision.at_ms)
                .bind(i64::from(decision.sent))
                .bind(alert)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.query_error(e))?;
            if done.rows_affected() == 0 {
                known.push(decision.id.clone());
            }
        }
        tx.commit().await.map_err(|e| self.query_error(e))?;
        Ok(known)
    }

    /// The decisions taken at or after `since_ms`, oldest first.
    pub async fn alert_decisions_since(
        &self,
        since_ms: i64,
    ) -> Result<Vec<Decision>, JournalError> {
        let rows = sqlx::query(
            "SELECT id, cooldown_key, decided_at, sent FROM journal_alert_decisions \
             WHERE decided_at >= $1 ORDER BY decided_at, id",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.query_error(e))?;
        rows.iter()
            .map(|row| {
                Ok(Decision {
                    id: row.try_get("id").map_err(|e| self.query_error(e))?,
                    key: row
                        .try_get("cooldown_key")
                        .map_err(|e| self.query_error(e))?,
                    at_ms: row.try_get("decided_at").map_err(|e| self.query_error(e))?,
                    sent: row
                        .try_get::<i64, _>("sent")
                        .map_err(|e| self.query_error(e))?
                        != 0,
                })
            })
            .collect()
    }

    /// Records how one channel's delivery of one alert ended; false when
    /// it was recorded already.
    pub async fn record_alert_delivery(
        &self,
        delivery: &DeliveryRecord,
    ) -> Result<bool, JournalError> {
        let done = sqlx::query(INSERT_DELIVERY)
            .bind(delivery.id.as_str())
            .bind(delivery.channel.as_str())
            .bind(delivery.at_ms)
            .bind(i64::from(delivery.delivered))
            .bind(delivery.reason.as_deref())
            .execute(&self.pool)
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Every delivery record of `alert_id`, by channel name.
    pub async fn alert_deliveries(
        &self,
        alert_id: &str,
    ) -> Result<Vec<DeliveryRecord>, JournalError> {
        let rows = sqlx::query(
            "SELECT alert_id, channel, ended_at, delivered, reason FROM journal_alert_deliveries \
             WHERE alert_id = $1 ORDER BY channel",
        )
        .bind(alert_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.query_error(e))?;
        rows.iter().map(|row| self.delivery(row)).collect()
    }

    /// The alerts decided (and sent, not held) at or after `since_ms` whose
    /// content is kept, oldest first, each with the deliveries recorded
    /// for it: a channel of the alert without a record never ended. A kept
    /// alert that no longer reads is left out (with a warning).
    pub async fn unfinished_alerts(
        &self,
        since_ms: i64,
    ) -> Result<Vec<UnfinishedAlert>, JournalError> {
        let rows = sqlx::query(
            "SELECT id, alert FROM journal_alert_decisions \
             WHERE decided_at >= $1 AND sent = 1 AND alert IS NOT NULL ORDER BY decided_at, id",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.query_error(e))?;
        let ended = sqlx::query(
            "SELECT d.alert_id, d.channel, d.ended_at, d.delivered, d.reason \
             FROM journal_alert_deliveries d JOIN journal_alert_decisions a ON a.id = d.alert_id \
             WHERE a.decided_at >= $1 ORDER BY d.alert_id, d.channel",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.query_error(e))?;
        let ended = ended
            .iter()
            .map(|row| self.delivery(row))
            .collect::<Result<Vec<_>, _>>()?;
        let mut unfinished = Vec::new();
        for row in &rows {
            let id: String = row.try_get("id").map_err(|e| self.query_error(e))?;
            let text: String = row.try_get("alert").map_err(|e| self.query_error(e))?;
            let alert = match serde_json::from_str::<Alert>(&text) {
                Ok(alert) => alert,
                Err(err) => {
                    tracing::warn!(
                        "[ALERTS] the journal at {} keeps alert {id} unreadably ({err}): \
                         its deliveries are not resumed",
                        self.location()
                    );
                    continue;
                }
            };
            let ended = ended.iter().filter(|d| d.id == id).cloned().collect();
            unfinished.push(UnfinishedAlert { alert, ended });
        }
        Ok(unfinished)
    }

    fn delivery(&self, row: &AnyRow) -> Result<DeliveryRecord, JournalError> {
        Ok(DeliveryRecord {
            id: row.try_get("alert_id").map_err(|e| self.query_error(e))?,
            channel: row.try_get("channel").map_err(|e| self.query_error(e))?,
            at_ms: row.try_get("ended_at").map_err(|e| self.query_error(e))?,
            delivered: row
                .try_get::<i64, _>("delivered")
                .map_err(|e| self.query_error(e))?
                != 0,
            reason: row.try_get("reason").map_err(|e| self.query_error(e))?,
        })
    }
}
