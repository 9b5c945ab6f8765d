//! The executions in the journal (`journal_executions`, migration 4): one
//! row per bracket, written before its orders are sent and after every
//! change the venue reports. The journal keeps rows; `execution::ledger`
//! knows what a bracket is (its JSON `body`).

use super::store::{Journal, JournalError};
use sqlx::Row;

/// One bracket as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRow {
    pub origin: String,
    pub exchange: String,
    pub symbol: String,
    pub strategy: String,
    /// `paper` or `live`.
    pub mode: String,
    pub state: String,
    pub opened_at: i64,
    pub closed_at: Option<i64>,
    pub body: String,
}

const UPSERT: &str = "\
INSERT INTO journal_executions (origin, exchange, symbol, strategy, mode, state, opened_at, \
    closed_at, body, updated_at) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
ON CONFLICT (origin) DO UPDATE SET state = $6, closed_at = $8, body = $9, updated_at = $10";

const COLUMNS: &str = "origin, exchange, symbol, strategy, mode, state, opened_at, closed_at, body";

impl Journal {
    /// Inserts a bracket, or replaces what is known of it.
    pub async fn save_execution(
        &self,
        row: &ExecutionRow,
        now_ms: i64,
    ) -> Result<(), JournalError> {
        sqlx::query(UPSERT)
            .bind(row.origin.as_str())
            .bind(row.exchange.as_str())
            .bind(row.symbol.as_str())
            .bind(row.strategy.as_str())
            .bind(row.mode.as_str())
            .bind(row.state.as_str())
            .bind(row.opened_at)
            .bind(row.closed_at)
            .bind(row.body.as_str())
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// The brackets in one of `states` (all with none), oldest first.
    pub async fn executions(&self, states: &[&str]) -> Result<Vec<ExecutionRow>, JournalError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM journal_executions ORDER BY opened_at, origin"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.query_error(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let read = |c: &str| row.try_get::<String, _>(c).map_err(|e| self.query_error(e));
            let state = read("state")?;
            if !states.is_empty() && !states.contains(&state.as_str()) {
                continue;
            }
            out.push(ExecutionRow {
                origin: read("origin")?,
                exchange: read("exchange")?,
                symbol: read("symbol")?,
                strategy: read("strategy")?,
                mode: read("mode")?,
                state,
                opened_at: row.try_get("opened_at").map_err(|e| self.query_error(e))?,
                closed_at: row.try_get("closed_at").map_err(|e| self.query_error(e))?,
                body: read("body")?,
            });
        }
        Ok(out)
    }
}
