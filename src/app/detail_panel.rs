//! DetailPanel: the selected signal's 15m and 4h charts (server-rendered
//! SVG with EMAs and the entry/SL/TP levels), its trade setup with a
//! position-size calculator, and the AI analysis button. `SidePanel` puts it
//! next to the ObservabilityPanel on the dashboard. The static parts come as
//! HTML rendered on the server (`signal_html`); the calculator and the AI
//! button are components here.

use super::api::{get_signal_panels, AnalyzeSignal};
use super::dashboard_state::use_set_view;
use super::position_size::{parse_amount, position_size, PositionSize, SizeError};
use super::session::use_visitor;
use super::table_view::ViewParams;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use quantpro_model::format;
use quantpro_model::{action_class, share_path, AiAnalysis, SignalPanels, TableRow, TableView};
use quantpro_model::{Exchange, Strategy, TradeSetup};

/// The account size and risk % of the position calculator, kept for the
/// page's lifetime so they survive a change of selection.
#[derive(Clone, Copy)]
pub struct CalculatorInputs {
    pub account: RwSignal<String>,
    pub risk_pct: RwSignal<String>,
}

impl CalculatorInputs {
    pub fn new() -> CalculatorInputs {
        CalculatorInputs {
            account: RwSignal::new("10000".to_string()),
            risk_pct: RwSignal::new("1".to_string()),
        }
    }
}

impl Default for CalculatorInputs {
    fn default() -> Self {
        CalculatorInputs::new()
    }
}

/// The dashboard's view of the selected row: its header at once, then the
/// signal's parts from `get_signal_panels` (rendered on the server) with
/// the calculator and the AI button.
#[component]
pub fn SidePanel(row: TableRow) -> impl IntoView {
    let (exchange, symbol, strategy) = (row.exchange, row.symbol.clone(), row.strategy);
    let detail = {
        let symbol = symbol.clone();
        super::codec::resource(
            || (),
            move |_| get_signal_panels(exchange, symbol.clone(), strategy),
        )
    };
    let set_view = use_set_view();
    let query = use_query_map();
    let close = move || {
        let mut view = TableView::from_params(&query.get_untracked());
        view.selected = None;
        set_view(&view, true);
    };
    let share_href = share_path(row.exchange, &row.symbol, row.strategy);
    let fallback = {
        let row = row.clone();
        move || {
            view! {
                <div class="signal-header">
                    <div class="signal-title">
                        <span class="signal-symbol">{row.symbol.clone()}</span>
                        <span class="muted">{row.exchange.as_str()}</span>
                        <span class="strategy-name">{row.strategy.as_str()}</span>
                        <span class=action_class(row.action)>{row.action.as_str()}</span>
                    </div>
                </div>
                <div class="detail-grid">
                    <section class="panel">
                        <ChartPlaceholders />
                    </section>
                    <section class="panel observability-panel">
                        <p class="panel-note">"Loading the signal…"</p>
                    </section>
                </div>
            }
        }
    };
    let back = close.clone();
    view! {
        <aside class="side-panel" data-testid="detail-panel">
            // On a phone the panel covers the screen; this leads back to the
            // table (CSS hides it from 641 px up, where ✕ closes the panel).
            <button class="btn back-button" data-testid="detail-back" on:click=move |_| back()>
                "← Signals"
            </button>
            <Suspense fallback>
                {move || {
                    let share_href = share_href.clone();
                    let close = close.clone();
                    let symbol = symbol.clone();
                    Suspend::new(async move {
                        match detail.await {
                            Ok(Some(panels)) => {
                                let SignalPanels { header_html, track_html, charts_html, setup_html, observability_html, setup, .. } = panels;
                                view! {
                                    <div class="signal-header">
                                        <div class="html-part" inner_html=header_html></div>
                                        <div class="signal-actions">
                                            {(use_visitor().is_owner() && setup.is_some()).then(|| view! {
                                                <a
                                                    class="btn btn-small"
                                                    href=share_href.replacen("/signal/", "/trade/", 1)
                                                    rel="external"
                                                    title="The trade ticket: a bracket sized from risk, paper unless a venue is live"
                                                    data-testid="trade-link"
                                                >
                                                    "Trade…"
                                                </a>
                                            })}
                                            <a
                                                class="btn btn-ghost btn-small"
                                                href=share_href
                                                target="_blank"
                                                rel="noopener"
                                                title="Server-rendered page of this signal, works without JavaScript"
                                                data-testid="share-link"
                                            >
                                                "Share ↗"
                                            </a>
                                            <button
                                                class="btn btn-ghost btn-small detail-close"
                                                title="Close the detail view"
                                                data-testid="detail-close"
                                                on:click=move |_| close()
                                            >
                                                "✕"
                                            </button>
                                        </div>
                                    </div>
                                    <div class="html-part" inner_html=track_html></div>
                                    <div class="detail-grid">
                                        <section class="panel detail-panel">
                                            <div class="html-part" inner_html=charts_html></div>
                                            <SetupCard levels_html=setup_html setup />
                                            <AiAnalysisBox exchange symbol=symbol.clone() strategy />
                                        </section>
                                        <div class="html-part" inner_html=observability_html></div>
                                    </div>
                                }
                                    .into_any()
                            }
                            Ok(None) => {
                                view! {
                                    <p class="panel-note panel-pad">
                                        "This signal is no longer in the feed (a newer scan replaced it)."
                                    </p>
                                }
                                    .into_any()
                            }
                            Err(err) => {
                                view! { <p class="panel-note error panel-pad">{format!("Cannot load this signal: {err}")}</p> }
                                    .into_any()
                            }
                        }
                    })
                }}
            </Suspense>
        </aside>
    }
}

#[component]
fn ChartPlaceholders() -> impl IntoView {
    view! {
        <div class="charts">
            <figure class="chart chart-loading price-chart-box"></figure>
            <figure class="chart chart-loading price-chart-box"></figure>
        </div>
    }
}

/// The setup's levels (HTML from the server) with the position-size
/// calculator beside them.
#[component]
pub fn SetupCard(levels_html: String, setup: Option<TradeSetup>) -> impl IntoView {
    view! {
        <div class="setup-card" data-testid="setup-card">
            <div class="html-part" inner_html=levels_html></div>
            {setup.map(|setup| view! { <PositionCalculator setup /> })}
        </div>
    }
}

/// size = account × risk% / risk per unit; notional = size × entry.
#[component]
fn PositionCalculator(setup: TradeSetup) -> impl IntoView {
    let CalculatorInputs {
        account,
        risk_pct: risk,
    } = use_context::<CalculatorInputs>().unwrap_or_default();
    let setup = StoredValue::new(setup);
    let sized = move || match (parse_amount(&account.get()), parse_amount(&risk.get())) {
        (Some(a), Some(r)) => setup.with_value(|s| position_size(a, r, s)),
        (None, _) => Err(SizeError::Account),
        (_, None) => Err(SizeError::RiskPercent),
    };
    let show = move |pick: fn(&PositionSize) -> String| {
        move || sized().map(|p| pick(&p)).unwrap_or_else(|_| "—".into())
    };
    view! {
        <div class="calculator" data-testid="position-calculator">
            <h4>"Position size"</h4>
            <div class="calc-inputs">
                <label class="field">
                    <span class="field-label">"Account (quote)"</span>
                    <input
                        type="text"
                        inputmode="decimal"
                        data-testid="calc-account"
                        value=account.get_untracked()
                        on:input=move |ev| account.set(event_target_value(&ev))
                    />
                </label>
                <label class="field">
                    <span class="field-label">"Risk %"</span>
                    <input
                        class="input-narrow"
                        type="text"
                        inputmode="decimal"
                        data-testid="calc-risk"
                        value=risk.get_untracked()
                        on:input=move |ev| risk.set(event_target_value(&ev))
                    />
                </label>
            </div>
            <table class="kv">
                <tbody>
                    <tr title="account × risk%: what is lost if the stop is hit">
                        <th>"Risk amount"</th>
                        <td class="num" data-testid="calc-risk-amount">{show(|p| format::money(p.risk_amount))}</td>
                    </tr>
                    <tr title="risk amount / risk per unit, in units of the base asset">
                        <th>"Size (units)"</th>
                        <td class="num" data-testid="calc-size">{show(|p| format::quantity(p.size))}</td>
                    </tr>
                    <tr title="size × entry, in quote currency">
                        <th>"Notional"</th>
                        <td class="num" data-testid="calc-notional">{show(|p| format::money(p.notional))}</td>
                    </tr>
                    <tr title="size × |TP − entry|: won if the target is hit">
                        <th>"Reward at TP"</th>
                        <td class="num" data-testid="calc-reward">{show(|p| format::money(p.reward_amount))}</td>
                    </tr>
                    <tr title="notional / account: the leverage the position needs">
                        <th>"Leverage"</th>
                        <td class="num" data-testid="calc-leverage">{show(|p| format!("{:.2}×", p.leverage))}</td>
                    </tr>
                </tbody>
            </table>
            {move || sized().err().map(|e| view! { <p class="panel-note error">{e.to_string()}</p> })}
        </div>
    }
}

/// The "AI analysis" button and Gemini's answer (or why there is none).
#[component]
fn AiAnalysisBox(exchange: Exchange, symbol: String, strategy: Strategy) -> impl IntoView {
    let analyze = ServerAction::<AnalyzeSignal>::new();
    let owner = use_visitor().is_owner();
    let answer = move || {
        analyze.value().get().map(|result| match result {
            Ok(AiAnalysis::Commentary(text)) => {
                view! { <p class="ai-text" data-testid="ai-text">{text}</p> }.into_any()
            }
            Ok(AiAnalysis::Unavailable(message)) => {
                view! { <p class="panel-note warn" data-testid="ai-message">{message}</p> }.into_any()
            }
            Err(err) => {
                view! { <p class="panel-note error" data-testid="ai-message">{format!("AI analysis failed: {err}")}</p> }
                    .into_any()
            }
        })
    };
    view! {
        <div class="ai-box">
            <div class="ai-head">
                <h3>"AI analysis"</h3>
                <button
                    class="btn btn-small"
                    data-testid="ai-button"
                    disabled=move || !owner || analyze.pending().get()
                    title=if owner {
                        "Ask Google Gemini to explain this signal from its own numbers"
                    } else {
                        "Sign in as the owner to ask Gemini (it spends the owner's API quota)"
                    }
                    on:click=move |_| {
                        analyze.dispatch(AnalyzeSignal { exchange, symbol: symbol.clone(), strategy });
                    }
                >
                    {move || if analyze.pending().get() { "Asking Gemini…" } else { "Analyze with Gemini" }}
                </button>
            </div>
            {answer}
        </div>
    }
}
