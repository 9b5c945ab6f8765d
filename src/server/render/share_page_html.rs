//! The share page of one signal (`GET /signal/{exchange}/{symbol}/{strategy}`),
//! rendered whole on the server: the dashboard's server-rendered parts of
//! the signal (`signal_html`: header, track record, charts, levels,
//! ObservabilityPanel) in a document with the Open Graph tags a chat app's
//! link preview reads. No script: it reads with JavaScript off and costs the
//! browser bundle nothing. The position-size calculator lives in the
//! dashboard, which the page links to with the signal selected.

use super::page_document::{page_document_with_head, PageTopbar};
use super::to_html;
use leptos::prelude::*;
use quantpro_model::{DataSourceBadgeText, SignalPanels};

/// The whole page of the signal `panels` describe.
pub fn render_share_page(panels: SignalPanels) -> String {
    let SignalPanels {
        header_html,
        track_html,
        charts_html,
        setup_html,
        observability_html,
        setup: _,
        title,
        description,
        dashboard_link,
        synthetic,
    } = panels;
    let head = to_html(view! {
        <meta name="description" content=description.clone() />
        {open_graph("og:title", title.clone())}
        {open_graph("og:description", description.clone())}
        {open_graph("og:type", "article".into())}
        {open_graph("og:site_name", "QuantPro".into())}
        <meta name="twitter:card" content="summary" />
    });
    let body = view! {
        <article class="share-article" data-testid="share-page">
            <div class="signal-header">
                <div class="html-part" inner_html=header_html></div>
                <div class="signal-actions">
                    {data_source_badge(synthetic)}
                    <a class="btn btn-ghost btn-small" href=dashboard_link.clone() data-testid="open-in-dashboard">
                        "Open in dashboard"
                    </a>
                </div>
            </div>
            <p class="share-summary" data-testid="share-summary">{description}</p>
            <div class="html-part" inner_html=track_html></div>
            <div class="share-grid">
                <section class="panel">
                    <div class="html-part" inner_html=charts_html></div>
                    <div class="setup-card" data-testid="setup-card">
                        <div class="html-part" inner_html=setup_html></div>
                        <a class="btn btn-ghost btn-small" href=dashboard_link data-testid="size-in-dashboard">
                            "Position size: open in the dashboard"
                        </a>
                    </div>
                </section>
                <div class="html-part" inner_html=observability_html></div>
            </div>
        </article>
    };
    share_document(&title, &head, to_html(body))
}

/// `<meta property="..." content="...">`: `property` is no attribute the
/// view macro knows, so the element is built with it as a custom one.
fn open_graph(property: &'static str, content: String) -> impl IntoView {
    use leptos::tachys::html::attribute::custom::CustomAttribute;
    leptos::html::meta()
        .attr("property", property)
        .attr("content", content)
}

/// The page of a signal the current feed does not have (or a path that
/// names no exchange or strategy): sent with a 404.
pub fn render_signal_not_found() -> String {
    share_document(
        "Signal not found · QuantPro",
        "",
        to_html(view! {
            <div class="not-found" data-testid="signal-not-found">
                <h2>"Signal not found"</h2>
                <p>
                    "The current feed has no signal for this exchange, symbol and strategy. "
                    "It may have been replaced by a newer scan, or the link is mistyped "
                    "(exchanges: MEXC, HYPERLIQUID, BINANCE; strategies: Legacy, Breakout, BreakoutV2)."
                </p>
                <p>
                    <a href="/">"Back to the dashboard"</a>
                </p>
            </div>
        }),
    )
}

/// The page when the feed cannot be read.
pub fn render_share_error(message: &str) -> String {
    let message = format!("Cannot load this signal: {message}");
    share_document(
        "Signal · QuantPro",
        "",
        to_html(
            view! { <div class="error-banner" role="alert" data-testid="error-banner">{message}</div> },
        ),
    )
}

fn share_document(title: &str, head: &str, main: String) -> String {
    let body = to_html(view! {
        <div class="app share-page">
            <PageTopbar subtitle=" signal">
                <span class="muted">"Shared view · rendered on the server"</span>
            </PageTopbar>
            <main class="content share-content" inner_html=main></main>
        </div>
    });
    page_document_with_head(title, head, &body)
}

/// The page's data-source badge (the dashboard's, from the same words).
fn data_source_badge(synthetic: bool) -> impl IntoView {
    let badge = DataSourceBadgeText::of(synthetic);
    view! { <span class=badge.class title=badge.title>{badge.label}</span> }
}
