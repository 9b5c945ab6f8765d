//! The journal's schema, one migration per file of `migrations/`, embedded
//! in the binary and applied by sqlx's migrator at every open: applied
//! migrations are recorded in `_sqlx_migrations`, so a second open changes
//! nothing, and a migration only ever adds (tables, columns, indexes),
//! never drops recorded trades. The SQL is the dialect SQLite and
//! PostgreSQL share, so both backends run the same files.
//!
//! The files are embedded with `include_str!` through a small
//! `MigrationSource` rather than `sqlx::migrate!`, which would pull sqlx's
//! proc-macro crate (and a second build of both drivers) into the build.

use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};
use sqlx::AnyPool;
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

/// (version, description, SQL), oldest first. Never edit an applied file:
/// its checksum is recorded; add the next version instead.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "trades", include_str!("migrations/0001_trades.sql")),
    (2, "alerts", include_str!("migrations/0002_alerts.sql")),
    (
        3,
        "alert content",
        include_str!("migrations/0003_alert_content.sql"),
    ),
    (
        4,
        "executions",
        include_str!("migrations/0004_executions.sql"),
    ),
];

/// The migrations up to `last` (all of them: `i64::MAX`).
#[derive(Debug)]
struct Embedded {
    last: i64,
}

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .filter(|(version, ..)| *version <= self.last)
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Applies the migrations not yet applied (PostgreSQL: under sqlx's
/// advisory lock, so processes starting together do not race).
pub async fn run(pool: &AnyPool) -> Result<(), MigrateError> {
    Migrator::new(Embedded { last: i64::MAX })
        .await?
        .run(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    /// A journal of the first release (trades only) keeps its trades when
    /// the alert tables are added, and a second run changes nothing.
    #[tokio::test]
    async fn adding_the_alert_tables_keeps_recorded_trades() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("j.sqlite").display()
        );
        let pool = AnyPool::connect(&url).await.unwrap();
        Migrator::new(Embedded { last: 1 })
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO journal_trades (exchange, symbol, strategy, opened_at, side, entry, sl, \
             tp, rr, score, config_version, origin, outcome, mfe_r, mae_r, recorded_at, updated_at) \
             VALUES ('BINANCE', 'SOLUSDT', 'Legacy', 0, 'LONG', 100, 98, 105, 2.5, 62, 'v1', \
             'live', 'open', 0, 0, 1, 1)",
        )
        .execute(&pool)
        .await
        .unwrap();
        run(&pool).await.unwrap();
        run(&pool).await.unwrap();
        let count = |sql: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query(sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                    .get::<i64, _>("n")
            }
        };
        assert_eq!(count("SELECT COUNT(*) AS n FROM journal_trades").await, 1);
        assert_eq!(
            count("SELECT COUNT(*) AS n FROM journal_alert_decisions").await,
            0
        );
        assert_eq!(
            count("SELECT COUNT(*) AS n FROM _sqlx_migrations").await,
            MIGRATIONS.len() as i64
        );
    }
}
