//! The Track Record page `/track-record?strategy=&exchange=&symbol=&origin=`: how
//! the signals that fired turned out (STRATEGIES.md §6). Rendered whole on
//! the server (`SsrMode::Async`), like the share page: the statistics per
//! strategy, the equity curve in R, the calibration chart and the recent
//! trades are server HTML (`server::render::track_record_html`), the filter
//! form a plain GET form, so the page reads with JavaScript off and costs the
//! browser bundle only this component. The URL's query goes to the server
//! as it is and is read there (`TrackQuery::parse`, as the API reads it): the
//! browser carries no parser of its own.

use super::api::{get_track_record_page, TrackRecordPanels};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The query of the page's URL (`TrackQuery::parse`, as the API reads it).
#[cfg(feature = "ssr")]
fn track_query(
    params: &leptos_router::params::ParamsMap,
) -> Result<crate::model::TrackQuery, crate::model::UnknownVariant> {
    crate::model::TrackQuery::parse(|name| params.get_str(name))
}

#[component]
pub fn TrackRecordPage() -> impl IntoView {
    let query = use_query_map();
    // A filter value that names nothing is the caller's mistake: the page
    // says which, with a 400 (as `GET /api/track-record` answers it).
    #[cfg(feature = "ssr")]
    if track_query(&query.read_untracked()).is_err() {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::BAD_REQUEST);
        }
    }
    let panels = super::codec::resource(
        move || query.read().to_query_string(),
        |query| async move {
            get_track_record_page(query)
                .await
                .map_err(|e| e.to_string())
        },
    );
    view! {
        <Title text="Track record · QuantPro" />
        <div class="app track-page">
            <header class="topbar">
                <a class="brand" href="/">
                    "QuantPro"
                    <span class="brand-sub">" track record"</span>
                </a>
                <a class="btn btn-ghost btn-small" href="/">"Scanner"</a>
            </header>
            <main class="content track-content">
                <Suspense fallback=|| view! { <p class="loading">"Loading the track record…"</p> }>
                    {move || Suspend::new(async move {
                        match panels.await {
                            Ok(panels) => view! { <TrackBody panels /> }.into_any(),
                            Err(err) => view! {
                                <div class="error-banner" role="alert" data-testid="error-banner">
                                    {format!("Cannot load the track record: {err}")}
                                </div>
                            }
                            .into_any(),
                        }
                    })}
                </Suspense>
            </main>
        </div>
    }
}

#[component]
fn TrackBody(panels: TrackRecordPanels) -> impl IntoView {
    let TrackRecordPanels {
        filters_html,
        stats_html,
        equity_html,
        calibration_html,
        trades_html,
        source,
        query_string,
    } = panels;
    let api_link = format!("/api/track-record?{query_string}");
    view! {
        <article class="track-article" data-testid="track-record-page">
            <div class="html-part" inner_html=filters_html></div>
            <p class="muted track-source">
                {source}
                " · "
                <a href=api_link>"as JSON"</a>
            </p>
            <section class="panel">
                <h2>"Statistics per strategy"</h2>
                <div class="html-part" inner_html=stats_html></div>
            </section>
            <div class="track-charts">
                <section class="panel">
                    <h2>"Equity (cumulative R after fees)"</h2>
                    <div class="html-part" inner_html=equity_html></div>
                </section>
                <section class="panel">
                    <h2>"Calibration: win rate per score bucket (trades)"</h2>
                    <div class="html-part" inner_html=calibration_html></div>
                </section>
            </div>
            <section class="panel">
                <h2>"Recent trades"</h2>
                <div class="html-part" inner_html=trades_html></div>
            </section>
        </article>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::model::{Exchange, Origin, Strategy, TrackQuery};
    use leptos_router::params::ParamsMap;

    fn params(pairs: &[(&str, &str)]) -> ParamsMap {
        let mut map = ParamsMap::new();
        for (k, v) in pairs {
            map.insert(k.to_string(), v.to_string());
        }
        map
    }

    #[test]
    fn the_url_gives_the_query_and_a_bad_name_an_error() {
        assert_eq!(track_query(&params(&[])).unwrap(), TrackQuery::default());
        let q = track_query(&params(&[
            ("strategy", "breakout"),
            ("exchange", ""),
            ("symbol", " solusdt "),
            ("origin", "live"),
        ]))
        .unwrap();
        assert_eq!(q.strategy, Some(Strategy::Breakout));
        assert_eq!(q.exchange, None);
        assert_eq!(q.symbol.as_deref(), Some("SOLUSDT"));
        assert_eq!(q.origin, Some(Origin::Live));
        let q = track_query(&params(&[("exchange", "binance")])).unwrap();
        assert_eq!(q.exchange, Some(Exchange::Binance));
        let err = track_query(&params(&[("strategy", "Martingale")])).unwrap_err();
        assert!(err.to_string().contains("Martingale"), "{err}");
    }
}
