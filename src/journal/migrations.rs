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
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "trades", include_str!("migrations/0001_trades.sql"))];

#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
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
    Migrator::new(Embedded).await?.run(pool).await
}
