//! The real app (router, access gate, middleware and all) served on
//! 127.0.0.1:0 with connection info, for the tests that call it over HTTP:
//! over a generated candle set in a temporary directory (`serve_app`), or
//! over a pipeline a test built itself (`serve_pipeline`).
//!
//! Crates that need nothing else of `common` include this file alone
//! (`#[path = "common/served_app.rs"] mod served_app;`), so they do not
//! compile the fake exchange.

// Each test crate that includes it uses only some of it.
#![allow(dead_code)]

use quantpro::server::{router, AppState};
use quantpro_core::synthetic::{generate_dataset, SyntheticSpec};
use quantpro_model::Exchange;
use quantpro_service::pipeline::{DataPaths, ScanPipeline};
use quantpro_service::settings::Environment;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// A running server and its directory.
pub struct ServedApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub state: AppState,
    /// Kept for the server's lifetime (dropping it deletes the files).
    pub _dir: tempfile::TempDir,
}

/// Serves the app over `symbols` generated symbols on each of `exchanges`,
/// with `config` as its `quantpro.toml` (none: no file) and exactly the
/// variables `env` (the machine's environment stays out of the test).
pub async fn serve_app(
    exchanges: &[Exchange],
    symbols: usize,
    config: Option<&str>,
    env: &[(&str, &str)],
) -> ServedApp {
    let dir = tempfile::tempdir().unwrap();
    let paths = generated_paths(dir.path(), exchanges, symbols, 11);
    if let Some(text) = config {
        std::fs::write(&paths.config_path, text).unwrap();
    }
    let env = Environment::from_pairs(env.iter().copied());
    let pipeline = ScanPipeline::build(paths, env).unwrap();
    let (base, state) = serve_pipeline(pipeline, dir.path()).await;
    ServedApp {
        base,
        state,
        _dir: dir,
    }
}

const H4_MS: i64 = 4 * 60 * 60 * 1000;

/// The paths of a server under `root` (`data/`, `master_feed.json`,
/// `quantpro.toml`), with `symbols` generated symbols per exchange of
/// `exchanges` in `data/` (400 15m and 260 4h candles up to the last 4h
/// close; seeds `first_seed`, `first_seed + 1`, ... per exchange).
pub fn generated_paths(
    root: &Path,
    exchanges: &[Exchange],
    symbols: usize,
    first_seed: u64,
) -> DataPaths {
    let data_dir = root.join("data");
    for (i, &exchange) in exchanges.iter().enumerate() {
        let spec = SyntheticSpec {
            n_symbols: symbols,
            first_index: 0,
            n_15m: 400,
            n_4h: 260,
            seed: first_seed + i as u64,
            // On the 4h grid: the 15m series then always ends at a 4h close,
            // so the same seed gives the same candles (and signals) at any
            // time of day; up to now, the 15m series would run on past the
            // last 4h close by a number of candles that depends on the hour.
            end_ms: quantpro_model::now_ms().div_euclid(H4_MS) * H4_MS,
            exchange,
        };
        generate_dataset(&data_dir, &spec).unwrap();
    }
    DataPaths {
        data_dir,
        feed_path: root.join("master_feed.json"),
        config_path: root.join("quantpro.toml"),
    }
}

/// Serves the app of `pipeline` (its data, feed, configuration and
/// journal), with an empty site root under `work`; returns the base URL
/// and the app's state.
pub async fn serve_pipeline(pipeline: ScanPipeline, work: &Path) -> (String, AppState) {
    let state = app_state(pipeline, work);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, state)
}

/// The app's state over `pipeline`, as a server builds it, with an empty
/// site root under `work` (for tests that call its methods directly).
pub fn app_state(pipeline: ScanPipeline, work: &Path) -> AppState {
    let site_root = work.join("site");
    std::fs::create_dir_all(&site_root).unwrap();
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("quantpro")
        .site_root(site_root.to_str().unwrap())
        .build();
    AppState::new(options, Arc::new(pipeline)).unwrap()
}
