//! The share page `/signal/{exchange}/{symbol}/{strategy}`: one signal,
//! rendered completely on the server (the route uses `SsrMode::Async`), so
//! it works with JavaScript off and a chat app's link preview finds its Open
//! Graph tags. Charts, setup and score breakdown are the dashboard's parts
//! (`signal_html`, the calculator); an unknown signal gets a 404 with a way
//! back.

use super::api::{get_signal_panels, SignalPanels};
use super::dashboard::DataSourceBadge;
use super::detail_panel::SetupCard;
use crate::model::{Exchange, Strategy};
use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;
use leptos_router::params::ParamsMap;

/// The signal a share path names, when its parts parse.
fn share_target(params: &ParamsMap) -> Option<(Exchange, String, Strategy)> {
    let exchange = params.get_str("exchange")?.parse().ok()?;
    let symbol = params
        .get_str("symbol")
        .filter(|s| !s.is_empty())?
        .to_string();
    let strategy = params.get_str("strategy")?.parse().ok()?;
    Some((exchange, symbol, strategy))
}

#[component]
pub fn SharePage() -> impl IntoView {
    let params = use_params_map();
    let detail = super::codec::resource(
        move || share_target(&params.read()),
        |target| async move {
            match target {
                Some((exchange, symbol, strategy)) => {
                    get_signal_panels(exchange, symbol, strategy).await
                }
                None => Ok(None),
            }
        },
    );
    view! {
        <div class="app share-page">
            <header class="topbar">
                <a class="brand" href="/">
                    "QuantPro"
                    <span class="brand-sub">" signal"</span>
                </a>
                <span class="muted">"Shared view · rendered on the server"</span>
            </header>
            <main class="content share-content">
                <Suspense fallback=|| view! { <p class="loading">"Loading signal…"</p> }>
                    {move || Suspend::new(async move {
                        match detail.await {
                            Ok(Some(panels)) => view! { <ShareBody panels /> }.into_any(),
                            Ok(None) => view! { <SignalNotFound /> }.into_any(),
                            Err(err) => {
                                view! {
                                    <div class="error-banner" role="alert" data-testid="error-banner">
                                        {format!("Cannot load this signal: {err}")}
                                    </div>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Suspense>
            </main>
        </div>
    }
}

#[component]
fn ShareBody(panels: SignalPanels) -> impl IntoView {
    let SignalPanels {
        header_html,
        track_html,
        charts_html,
        setup_html,
        observability_html,
        setup,
        title,
        description,
        dashboard_link,
        synthetic,
    } = panels;
    view! {
        <Title text=title.clone() />
        <Meta name="description" content=description.clone() />
        <Meta property="og:title" content=title />
        <Meta property="og:description" content=description.clone() />
        <Meta property="og:type" content="article" />
        <Meta property="og:site_name" content="QuantPro" />
        <Meta name="twitter:card" content="summary" />
        <article class="share-article" data-testid="share-page">
            <div class="signal-header">
                <div class="html-part" inner_html=header_html></div>
                <div class="signal-actions">
                    <DataSourceBadge synthetic />
                    <a class="btn btn-ghost btn-small" href=dashboard_link data-testid="open-in-dashboard">
                        "Open in dashboard"
                    </a>
                </div>
            </div>
            <p class="share-summary" data-testid="share-summary">{description}</p>
            <div class="html-part" inner_html=track_html></div>
            <div class="share-grid">
                <section class="panel">
                    <div class="html-part" inner_html=charts_html></div>
                    <SetupCard levels_html=setup_html setup />
                </section>
                <div class="html-part" inner_html=observability_html></div>
            </div>
        </article>
    }
}

#[component]
fn SignalNotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Signal not found · QuantPro" />
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_targets_parse_from_path_params() {
        let params: ParamsMap = [
            ("exchange", "binance"),
            ("symbol", "BTCUSDT"),
            ("strategy", "BreakoutV2"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
        assert_eq!(
            share_target(&params),
            Some((Exchange::Binance, "BTCUSDT".into(), Strategy::BreakoutV2))
        );
        let bad: ParamsMap = [
            ("exchange", "KRAKEN"),
            ("symbol", "BTCUSDT"),
            ("strategy", "Legacy"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
        assert_eq!(share_target(&bad), None);
    }
}
