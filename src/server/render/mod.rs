//! Server-side rendering of one signal: the charts (plotters SVG, in
//! `charts`) and the static parts of its views as HTML (`signal_html`, with
//! the ObservabilityPanel), which the DetailPanel and the share page inject;
//! and the Track Record page's parts (`track_record_html`).
//! The browser bundle carries none of this code.

pub mod charts;
mod observability_panel;
mod signal_html;
mod track_record_html;

pub(crate) use signal_html::to_html;
pub use signal_html::{
    last_trade_text, render_panels, share_description, SignalDetail, SignalTrack,
};
pub use track_record_html::{render_track_record, StrategyRecords};
