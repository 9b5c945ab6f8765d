//! The journal's database: where it is, opening it (migrations included),
//! and the few statements the journal runs. Both backends go through
//! sqlx's `any` driver with `$n` placeholders, which SQLite and PostgreSQL
//! both read, so there is one statement of each kind.

use super::entry::{JournalEntry, Origin};
use super::migrations;
use crate::settings::JournalSettings;
use quantpro_model::{Exchange, Outcome, Side, Strategy, Trade, UnknownVariant};
use quantpro_sources::keys::Secret;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The embedded journal's file name, in the data directory.
pub const SQLITE_FILE: &str = "journal.sqlite";

/// How long a connection attempt (or a wait for a free connection) may
/// take before the run reports the journal unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Tries of the migrations before an open fails (see `Journal::open`).
const MIGRATION_ATTEMPTS: usize = 3;

/// Where the journal lives.
#[derive(Debug, Clone, PartialEq)]
pub enum JournalLocation {
    /// The embedded default: a SQLite file, created when missing.
    Sqlite(PathBuf),
    /// `journal.database_url`: PostgreSQL (or a SQLite URL).
    Url(Secret),
}

impl JournalLocation {
    /// `journal.database_url` when set, else `DATA_DIR/journal.sqlite`.
    pub fn resolve(settings: &JournalSettings, data_dir: &Path) -> JournalLocation {
        match &settings.database_url {
            Some(url) => JournalLocation::Url(url.clone()),
            None => JournalLocation::Sqlite(data_dir.join(SQLITE_FILE)),
        }
    }

    /// For messages and logs: the file, or the URL without its user,
    /// password and parameters (`postgres://db.example:5432/quantpro`).
    pub fn describe(&self) -> String {
        match self {
            JournalLocation::Sqlite(path) => path.display().to_string(),
            JournalLocation::Url(url) => {
                let url = url.expose();
                let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                let host = host.split('?').next().unwrap_or(host);
                format!("{scheme}://{host}")
            }
        }
    }

    fn is_sqlite(&self) -> bool {
        match self {
            JournalLocation::Sqlite(_) => true,
            JournalLocation::Url(url) => url.expose().to_ascii_lowercase().starts_with("sqlite:"),
        }
    }

    /// The URL to connect to (the one place that exposes the secret).
    fn connect_url(&self) -> Result<String, std::io::Error> {
        match self {
            JournalLocation::Sqlite(path) => {
                let path = std::path::absolute(path)?;
                Ok(format!("sqlite://{}?mode=rwc", percent_encode_path(&path)))
            }
            JournalLocation::Url(url) => Ok(url.expose().to_string()),
        }
    }
}

/// A path as the SQLite URL wants it: `%`, `?`, `#` and anything outside
/// plain ASCII escaped (sqlx decodes it again).
fn percent_encode_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/._-~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Why the journal could not do what a run asked.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot create the journal's directory {}: {source}", .path.display())]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the signal journal at {location}: {source}{hint}")]
    Open {
        location: String,
        hint: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot bring the signal journal at {location} up to date: {source}")]
    Migrate {
        location: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("the signal journal at {location} failed: {source}")]
    Query {
        location: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("the signal journal at {location} has a row it cannot read ({key}): {reason}")]
    Corrupt {
        location: String,
        key: String,
        #[source]
        reason: UnreadableRow,
    },
    #[error(transparent)]
    Stats(#[from] quantpro_core::track::StatsError),
    #[error("the journal's settings cannot be read: {0}")]
    Settings(#[from] crate::settings::SettingsError),
    /// A task of the journal's work panicked or was cancelled.
    #[error("the journal task stopped unexpectedly: {0}")]
    Stopped(#[source] tokio::task::JoinError),
    /// The journal did not answer within the time a caller can wait (the
    /// dashboard's table does not wait for a slow database).
    #[error("the journal gave no answer within {} s", .0.as_secs())]
    NoAnswer(Duration),
}

/// Why a row of `journal_trades` cannot be read back as a trade.
#[derive(Debug, thiserror::Error)]
pub enum UnreadableRow {
    /// A column that is missing or of another type.
    #[error("{column}: {source}")]
    Column {
        column: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A name that is no exchange, strategy, side or outcome.
    #[error(transparent)]
    Value(#[from] UnknownVariant),
    #[error("bars: {0} is negative")]
    NegativeBars(i64),
}

/// Which trades to read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TradeFilter {
    pub strategy: Option<Strategy>,
    pub exchange: Option<Exchange>,
    /// The exchange symbol (`BTCUSDT`) or the base asset (`BTC`), any
    /// case, as in a scan's `--symbol`.
    pub symbol: Option<String>,
    pub origin: Option<Origin>,
}

impl From<quantpro_model::TrackQuery> for TradeFilter {
    /// The trades of a page's or an API call's query.
    fn from(query: quantpro_model::TrackQuery) -> TradeFilter {
        TradeFilter {
            strategy: query.strategy,
            exchange: query.exchange,
            symbol: query.symbol,
            origin: query.origin,
        }
    }
}

/// An open journal: a connection pool with the schema up to date.
#[derive(Debug)]
pub struct Journal {
    pub(super) pool: AnyPool,
    location: String,
}

const COLUMNS: &str = "exchange, symbol, strategy, opened_at, side, entry, sl, tp, rr, score, \
                       outcome, closed_at, r, mfe_r, mae_r, bars";

/// Inserts a trade unless it is there already (the key) or overlaps a
/// trade of the same (exchange, symbol, strategy): one trade at a time,
/// the opening rule of §6 across every writer. Trades span
/// `[opened_at, closed_at)`, open ones to the end, so a trade resolved on
/// candle j leaves a signal at the close of j free to open the next.
const INSERT_TRADE: &str = "\
INSERT INTO journal_trades (exchange, symbol, strategy, opened_at, side, entry, sl, tp, rr, score, \
    outcome, closed_at, r, mfe_r, mae_r, bars, score_components, config_version, origin, \
    recorded_at, updated_at) \
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20 \
WHERE NOT EXISTS (SELECT 1 FROM journal_trades o \
    WHERE o.exchange = $1 AND o.symbol = $2 AND o.strategy = $3 \
    AND (o.closed_at IS NULL OR o.closed_at > $4) \
    AND ($12 IS NULL OR o.opened_at < $12)) \
ON CONFLICT (exchange, symbol, strategy, opened_at) DO NOTHING";

/// Writes the outcome of a trade that is still open in the journal
/// (another writer may have resolved it: the same candles give the same
/// outcome, so either write is right).
const UPDATE_OUTCOME: &str = "\
UPDATE journal_trades SET outcome = $5, closed_at = $6, r = $7, mfe_r = $8, mae_r = $9, bars = $10, \
    updated_at = $11 \
WHERE exchange = $1 AND symbol = $2 AND strategy = $3 AND opened_at = $4 AND outcome = 'open'";

impl Journal {
    /// Connects (creating the SQLite file and its directory when missing)
    /// and applies the migrations.
    pub async fn open(location: &JournalLocation) -> Result<Journal, JournalError> {
        sqlx::any::install_default_drivers();
        let described = location.describe();
        if let JournalLocation::Sqlite(path) = location {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| JournalError::Directory {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
        }
        let hint = if location.is_sqlite() {
            ""
        } else {
            " (is the PostgreSQL server running, and are the host, database and credentials of journal.database_url right?)"
        };
        let open_error = |source: sqlx::Error| JournalError::Open {
            location: described.clone(),
            hint,
            source,
        };
        let url = location
            .connect_url()
            .map_err(|e| open_error(sqlx::Error::Io(e)))?;
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect(&url)
            .await
            .map_err(open_error)?;
        if location.is_sqlite() {
            // Readers never block the writer, and several processes can
            // share the file; a failure leaves SQLite's default journal.
            if let Err(e) = sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
            {
                tracing::warn!("[JOURNAL] {described}: WAL mode not set: {e}");
            }
        }
        let mut attempts = 0;
        while let Err(source) = migrations::run(&pool).await {
            attempts += 1;
            // Two processes opening a new SQLite journal at once both try to
            // apply the migration (SQLite has no migration lock); the loser's
            // transaction rolls back, and its next try finds it applied.
            if attempts >= MIGRATION_ATTEMPTS {
                return Err(JournalError::Migrate {
                    location: described,
                    source,
                });
            }
        }
        Ok(Journal {
            pool,
            location: described,
        })
    }

    /// Where it is, for messages (no credentials).
    pub fn location(&self) -> &str {
        &self.location
    }

    pub(super) fn query_error(&self, source: sqlx::Error) -> JournalError {
        JournalError::Query {
            location: self.location.clone(),
            source,
        }
    }

    /// Records the entries in one transaction; returns how many were new
    /// (the rest were recorded already, by this or another process, or
    /// overlap a trade of the same strategy).
    pub async fn record(
        &self,
        entries: &[JournalEntry],
        now_ms: i64,
    ) -> Result<usize, JournalError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await.map_err(|e| self.query_error(e))?;
        let mut inserted = 0;
        for entry in entries {
            let t = &entry.trade;
            let done = sqlx::query(INSERT_TRADE)
                .bind(t.exchange.as_str())
                .bind(t.symbol.as_str())
                .bind(t.strategy.as_str())
                .bind(t.opened_at)
                .bind(t.side.as_str())
                .bind(t.entry)
                .bind(t.sl)
                .bind(t.tp)
                .bind(t.rr)
                .bind(t.score)
                .bind(t.outcome.as_str())
                .bind(t.closed_at)
                .bind(t.r)
                .bind(t.mfe_r)
                .bind(t.mae_r)
                .bind(t.bars.map(|b| b as i64))
                .bind(entry.score_components.as_deref())
                .bind(entry.config_version.as_str())
                .bind(entry.origin.as_str())
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.query_error(e))?;
            inserted += done.rows_affected() as usize;
        }
        tx.commit().await.map_err(|e| self.query_error(e))?;
        Ok(inserted)
    }

    /// Every trade still open.
    pub async fn open_trades(&self) -> Result<Vec<Trade>, JournalError> {
        let sql = format!("SELECT {COLUMNS} FROM journal_trades WHERE outcome = 'open'");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.query_error(e))?;
        rows.iter().map(|row| self.trade(row)).collect()
    }

    /// Stores a trade's new state (MFE/MAE so far, or its outcome) if the
    /// journal still has it open; true when a row changed.
    pub async fn update_outcome(&self, trade: &Trade, now_ms: i64) -> Result<bool, JournalError> {
        let done = sqlx::query(UPDATE_OUTCOME)
            .bind(trade.exchange.as_str())
            .bind(trade.symbol.as_str())
            .bind(trade.strategy.as_str())
            .bind(trade.opened_at)
            .bind(trade.outcome.as_str())
            .bind(trade.closed_at)
            .bind(trade.r)
            .bind(trade.mfe_r)
            .bind(trade.mae_r)
            .bind(trade.bars.map(|b| b as i64))
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(done.rows_affected() > 0)
    }

    /// The trades of `filter`, in the backtest report's order.
    pub async fn trades(&self, filter: &TradeFilter) -> Result<Vec<Trade>, JournalError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM journal_trades \
             WHERE ($1 IS NULL OR strategy = $1) AND ($2 IS NULL OR exchange = $2) \
             AND ($3 IS NULL OR origin = $3)"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.strategy.map(|s| s.as_str()))
            .bind(filter.exchange.map(|e| e.as_str()))
            .bind(filter.origin.map(|o| o.as_str()))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.query_error(e))?;
        let mut trades = Vec::with_capacity(rows.len());
        for row in &rows {
            let trade = self.trade(row)?;
            let wanted = filter
                .symbol
                .as_deref()
                .is_none_or(|wanted| quantpro_core::scan::symbol_matches(&trade.symbol, wanted));
            if wanted {
                trades.push(trade);
            }
        }
        quantpro_core::track::sort_trades(&mut trades);
        Ok(trades)
    }

    /// A row as a trade, or which row is unreadable and why.
    fn trade(&self, row: &AnyRow) -> Result<Trade, JournalError> {
        read_trade(row).map_err(|reason| JournalError::Corrupt {
            location: self.location.clone(),
            key: ["exchange", "symbol", "strategy"]
                .iter()
                .map(|c| row.try_get::<String, _>(*c).unwrap_or_default())
                .chain([row
                    .try_get::<i64, _>("opened_at")
                    .map(|t| t.to_string())
                    .unwrap_or_default()])
                .collect::<Vec<_>>()
                .join(" "),
            reason,
        })
    }
}

fn read_trade(row: &AnyRow) -> Result<Trade, UnreadableRow> {
    fn column<T>(row: &AnyRow, column: &'static str) -> Result<T, UnreadableRow>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        row.try_get::<T, _>(column)
            .map_err(|source| UnreadableRow::Column { column, source })
    }
    let text = |c: &'static str| column::<String>(row, c);
    let float = |c: &'static str| column::<f64>(row, c);
    let bars = column::<Option<i64>>(row, "bars")?;
    Ok(Trade {
        exchange: text("exchange")?.parse::<Exchange>()?,
        symbol: text("symbol")?,
        strategy: text("strategy")?.parse::<Strategy>()?,
        side: text("side")?.parse::<Side>()?,
        opened_at: column::<i64>(row, "opened_at")?,
        entry: float("entry")?,
        sl: float("sl")?,
        tp: float("tp")?,
        rr: float("rr")?,
        score: float("score")?,
        outcome: text("outcome")?.parse::<Outcome>()?,
        closed_at: column::<Option<i64>>(row, "closed_at")?,
        r: column::<Option<f64>>(row, "r")?,
        mfe_r: float("mfe_r")?,
        mae_r: float("mae_r")?,
        bars: bars
            .map(|b| usize::try_from(b).map_err(|_| UnreadableRow::NegativeBars(b)))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn described_urls_keep_no_credentials() {
        let url = JournalLocation::Url(Secret::new(
            "postgres://trader:s3cret@db.example:5432/quantpro?sslmode=require",
        ));
        assert_eq!(url.describe(), "postgres://db.example:5432/quantpro");
        let file = JournalLocation::resolve(&JournalSettings::default(), Path::new("data"));
        assert_eq!(
            file,
            JournalLocation::Sqlite(PathBuf::from("data/journal.sqlite"))
        );
        assert!(file.is_sqlite() && !url.is_sqlite());
    }

    #[test]
    fn sqlite_paths_are_escaped_for_the_url() {
        assert_eq!(
            percent_encode_path(Path::new("/tmp/my data/j#1?.sqlite")),
            "/tmp/my%20data/j%231%3F.sqlite"
        );
    }
}
