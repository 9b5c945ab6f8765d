//! Server functions: the dashboard's API. Their bodies run on the server and
//! call the feed store / scanner core; the browser gets typed stubs.

use crate::model::MasterFeed;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the dashboard shows: the feed (possibly empty), why it is empty when
/// it could not be read, and where the candles came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FeedView {
    pub feed: MasterFeed,
    /// A reader-facing message when the feed file is missing or corrupt.
    pub error: Option<String>,
    /// True when the candles are the project's generated sample, not market data.
    pub synthetic: bool,
    /// The server's clock when it answered (Unix ms), so ages render the
    /// same on the server and in the browser.
    pub server_time_ms: i64,
}

/// The master feed as the dashboard needs it; never fails because of a bad
/// feed file (that becomes `FeedView::error`).
#[server]
pub async fn get_feed() -> Result<FeedView, ServerFnError> {
    let state = expect_context::<crate::server::AppState>();
    Ok(state.feed_view().await)
}
