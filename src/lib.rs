//! QuantPro's app crate: the Leptos dashboard (`app`, compiled for the
//! browser and the server) and, on the server only, the web server
//! (`server`: routes, access control, rendering) and the CLI (`main.rs`).
//!
//! The workspace's crates follow the data flow, each using only the ones
//! before it:
//!
//! ```text
//! quantpro-model ─┬─> quantpro-core ────┬─> quantpro-service ──> quantpro (app + server + CLI)
//!  (shared types) └─> quantpro-sources ─┘    (settings, pipeline,
//!                      (external APIs)        live loop, journal, alerts)
//! ```
//!
//! The WASM build compiles `quantpro-model` and `app` only. Inside this
//! crate the two edges every Leptos app has are the only ones between the
//! halves: the server mounts `app::App`, and the bodies of the server
//! functions (`app::api`) call the server's `AppState`.

// Leptos view types nest as deeply as the markup; the dashboard's table and
// panels exceed rustc's default query depth of 128.
#![recursion_limit = "256"]

pub mod app;

#[cfg(feature = "ssr")]
pub mod server;

/// Browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
