//! Server-side rendering of one signal: the charts (plotters SVG, in
//! `charts`) and the static parts of its views as HTML (`signal_html`, with
//! the ObservabilityPanel), which the DetailPanel and the share page inject;
//! and the pages rendered whole without the app (`page_document`: the
//! share page of one signal (`share_page_html`), the Track Record page of
//! `track_record_html`, the alert log of
//! `alert_log_html`, the sign-in form).
//! The browser bundle carries none of this code.

mod alert_log_html;
pub mod charts;
mod observability_panel;
mod page_document;
mod share_page_html;
mod signal_html;
mod track_record_html;
pub mod trading_html;

pub use alert_log_html::render_alert_log_page;
pub use page_document::page_document;
pub use share_page_html::{render_share_error, render_share_page, render_signal_not_found};
pub(crate) use signal_html::to_html;
pub use signal_html::{
    last_trade_text, render_panels, share_description, SignalDetail, SignalTrack,
};
pub use track_record_html::{render_track_record_error, render_track_record_page, StrategyRecords};
