//! Support of the server tests: the real app (router, access gate,
//! middleware and all) served on 127.0.0.1:0 with connection info, over a
//! generated candle set in a temporary directory.

use quantpro::core::synthetic::{generate_dataset, SyntheticSpec};
use quantpro::model::Exchange;
use quantpro::pipeline::{DataPaths, ScanPipeline};
use quantpro::server::{router, AppState};
use quantpro::settings::Environment;
use std::net::SocketAddr;
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
    let data_dir = dir.path().join("data");
    for (i, &exchange) in exchanges.iter().enumerate() {
        let spec = SyntheticSpec {
            n_symbols: symbols,
            first_index: 0,
            n_15m: 400,
            n_4h: 260,
            seed: 11 + i as u64,
            end_ms: quantpro::now_ms(),
            exchange,
        };
        generate_dataset(&data_dir, &spec).unwrap();
    }
    let paths = DataPaths {
        data_dir,
        feed_path: dir.path().join("master_feed.json"),
        config_path: dir.path().join("quantpro.toml"),
    };
    if let Some(text) = config {
        std::fs::write(&paths.config_path, text).unwrap();
    }
    let site_root = dir.path().join("site");
    std::fs::create_dir_all(&site_root).unwrap();
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("quantpro")
        .site_root(site_root.to_str().unwrap())
        .build();
    let env = Environment::from_pairs(env.iter().copied());
    let pipeline = ScanPipeline::build(paths, env).unwrap();
    let state = AppState::new(options, Arc::new(pipeline)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    ServedApp {
        base,
        state,
        _dir: dir,
    }
}
