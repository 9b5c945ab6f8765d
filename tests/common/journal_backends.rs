//! Where a test's journal lives: SQLite always (a temporary directory),
//! and a fresh database on a real PostgreSQL server when
//! `QUANTPRO_TEST_DATABASE_URL` names one (`scripts/test` starts a
//! throw-away cluster, scripts/test-postgres.sh). Shared by the journal's
//! and the alerts' tests.

#![allow(dead_code)]

use quantpro_service::settings::Environment;
use std::sync::atomic::{AtomicUsize, Ordering};

const ADMIN_URL_VAR: &str = "QUANTPRO_TEST_DATABASE_URL";
pub const URL_VAR: &str = "QUANTPRO_JOURNAL__DATABASE_URL";

/// Where a test's journal lives.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded default: `journal.sqlite` in the data directory.
    Sqlite,
    /// A fresh database on the test server.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The environment of a process using this journal.
    pub fn env(&self) -> Environment {
        Environment::from_pairs(self.env_pairs())
    }

    /// The same as variables, to add to others.
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        match self {
            Backend::Sqlite => Vec::new(),
            Backend::Postgres(url) => vec![(URL_VAR.to_string(), url.clone())],
        }
    }
}

/// SQLite always; PostgreSQL too when the test server is configured.
pub fn admin_url() -> Option<String> {
    let url = std::env::var(ADMIN_URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        println!("note: {ADMIN_URL_VAR} is not set: the PostgreSQL half of this test is skipped");
    }
    url
}

/// A new, empty database on the test server; its URL.
pub async fn fresh_postgres(admin: &str, test: &str) -> String {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    sqlx::any::install_default_drivers();
    let name = format!(
        "qp_{test}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin)
        .await
        .expect("the test PostgreSQL server answers");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin, String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{name}{query}")
}

pub async fn backends(test: &str) -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if let Some(admin) = admin_url() {
        all.push(Backend::Postgres(fresh_postgres(&admin, test).await));
    }
    all
}
