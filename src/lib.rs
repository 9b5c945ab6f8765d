//! QuantPro: a crypto market scanner and its dashboard.
//!
//! `model` and `app` compile for both the server and the browser; `core`
//! (the scanner), `sources` (external APIs) and `server` exist on the server
//! only. Data flows one way: sources -> candle files -> core -> master feed ->
//! server -> app.

// Leptos view types nest as deeply as the markup; the dashboard's table and
// panels exceed rustc's default query depth of 128.
#![recursion_limit = "256"]

pub mod app;
pub mod model;

#[cfg(feature = "ssr")]
pub mod charts;
#[cfg(feature = "ssr")]
pub mod core;
#[cfg(feature = "ssr")]
pub mod server;
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
