//! QuantPro: a crypto market scanner and its dashboard.
//!
//! `model` and `app` compile for both the server and the browser; the rest
//! exists on the server only: `sources` (external APIs), `core` (the
//! scanner), `settings` (`quantpro.toml` and the environment), `pipeline`
//! (the one way a scan runs and reaches the feed) and `server` (HTTP,
//! server-side rendering). Data flows one way: sources -> candle files ->
//! core -> master feed -> server -> app.

// Leptos view types nest as deeply as the markup; the dashboard's table and
// panels exceed rustc's default query depth of 128.
#![recursion_limit = "256"]

pub mod app;
pub mod model;

#[cfg(feature = "ssr")]
pub mod alerts;
#[cfg(feature = "ssr")]
pub mod atomic_file;
#[cfg(feature = "ssr")]
pub mod clock;
#[cfg(feature = "ssr")]
pub mod core;
#[cfg(feature = "ssr")]
pub mod journal;
#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod pipeline;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod settings;
#[cfg(feature = "ssr")]
pub mod sources;

/// File in a data directory that marks its candles as generated, not market data.
pub const SYNTHETIC_MARKER: &str = "SYNTHETIC";

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
    #[cfg(target_arch = "wasm32")]
    {
        js_sys_now()
    }
}

#[cfg(target_arch = "wasm32")]
fn js_sys_now() -> i64 {
    #[wasm_bindgen::prelude::wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = Date, js_name = now)]
        fn date_now() -> f64;
    }
    date_now() as i64
}

/// Browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
