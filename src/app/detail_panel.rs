//! DetailPanel: the selected signal's 15m and 4h charts (server-rendered
//! SVG with EMAs and the entry/SL/TP levels), its trade setup with a
//! position-size calculator, and the AI analysis button. `SidePanel` puts it
//! next to the ObservabilityPanel on the dashboard; the share page reuses
//! the pieces.

use super::api::{get_signal_detail, AiAnalysis, AnalyzeSignal, ChartSvgs, SignalDetail};
use super::dashboard::use_set_view;
use super::format;
use super::observability_panel::ObservabilityPanel;
use super::position_size::{parse_amount, position_size, PositionSize, SizeError};
use super::scanner_table::{action_class, bias_class};
use super::table_view::{share_path, TableRow, TableView};
use crate::model::{Signal, TradeSetup};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

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
/// full signal and its charts from `get_signal_detail`.
#[component]
pub fn SidePanel(row: TableRow) -> impl IntoView {
    let (exchange, symbol, strategy) = (row.exchange, row.symbol.clone(), row.strategy);
    let detail = super::codec::resource(
        || (),
        move |_| get_signal_detail(exchange, symbol.clone(), strategy),
    );
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
    view! {
        <aside class="side-panel" data-testid="detail-panel">
            <Suspense fallback>
                {move || {
                    let share_href = share_href.clone();
                    let close = close.clone();
                    Suspend::new(async move {
                        match detail.await {
                            Ok(Some(detail)) => {
                                let SignalDetail { signal, charts, chart_error, server_time_ms, .. } = detail;
                                let rsi_svg = charts.as_ref().map(|c| c.rsi.clone());
                                view! {
                                    <SignalHeader signal=signal.clone() now_ms=server_time_ms>
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
                                            class="btn btn-ghost btn-small"
                                            title="Close the detail view"
                                            data-testid="detail-close"
                                            on:click=move |_| close()
                                        >
                                            "✕"
                                        </button>
                                    </SignalHeader>
                                    <div class="detail-grid">
                                        <DetailPanel signal=signal.clone() charts chart_error />
                                        <ObservabilityPanel signal rsi_svg />
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

/// Symbol, exchange, strategy, action, score, price and data time, with
/// room for actions on the right (`children`).
#[component]
pub fn SignalHeader(signal: Signal, now_ms: i64, children: Children) -> impl IntoView {
    let calculated_ms = signal.observability.calculated_at * 1000;
    let candle = signal.ltf.last_candle_time;
    view! {
        <div class="signal-header">
            <div class="signal-title">
                <span class="signal-symbol" data-testid="detail-symbol">{signal.symbol.clone()}</span>
                <span class="muted">{signal.exchange.as_str()}</span>
                <span class="strategy-name">{signal.strategy.as_str()}</span>
                <span class=action_class(signal.action)>{signal.action.as_str()}</span>
                <span class=bias_class(signal.bias) title="Bias: the direction the strategy leans to">
                    {format!("bias {}", signal.bias)}
                </span>
            </div>
            <div class="signal-facts">
                <span title="Total score 0–100 (sum of the four mapped scores)">
                    <span class="fact-label">"Score "</span>
                    <strong>{format::number(Some(signal.score), 1)}</strong>
                    <span class="muted">"/100"</span>
                </span>
                <span title="Last closed 15m close">
                    <span class="fact-label">"Price "</span>
                    <strong>{format::price(signal.price)}</strong>
                </span>
                <span title=candle.map(format::utc_datetime).unwrap_or_default()>
                    <span class="fact-label">"15m candle "</span>
                    {candle.map(|t| format!("{} ago", format::age((now_ms - t) / 1000))).unwrap_or_else(|| "—".into())}
                    {signal.ltf.stale.then(|| view! { <span class="stale-flag" title="stale: older than the configured intervals">" ⚠ stale"</span> })}
                </span>
                <span class="muted" title="When the scanner computed this signal">
                    {format!("computed {}", format::utc_datetime(calculated_ms))}
                </span>
            </div>
            <div class="signal-actions">{children()}</div>
        </div>
    }
}

/// The dashboard's DetailPanel: charts, setup, calculator, AI analysis.
#[component]
pub fn DetailPanel(
    signal: Signal,
    charts: Option<ChartSvgs>,
    chart_error: Option<String>,
) -> impl IntoView {
    view! {
        <section class="panel detail-panel">
            <PriceCharts charts error=chart_error />
            <SetupCard setup=signal.setup.clone() />
            <AiAnalysisBox signal />
        </section>
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

/// The LTF and HTF candle charts, injected as SVG (rendered on the server).
#[component]
pub fn PriceCharts(charts: Option<ChartSvgs>, error: Option<String>) -> impl IntoView {
    match charts {
        Some(charts) => view! {
            <div class="charts">
                <figure class="chart" data-testid="ltf-chart">
                    <figcaption>
                        "15m candles · EMA20 / EMA50 · entry, SL, TP"
                    </figcaption>
                    <div class="chart-svg-box" inner_html=charts.ltf></div>
                </figure>
                <figure class="chart" data-testid="htf-chart">
                    <figcaption>
                        "4h candles · EMA50 / EMA200 · entry, SL, TP"
                    </figcaption>
                    <div class="chart-svg-box" inner_html=charts.htf></div>
                </figure>
            </div>
        }
        .into_any(),
        None => view! {
            <p class="panel-note error" data-testid="chart-error">
                {format!("No charts: {}", error.unwrap_or_else(|| "unknown reason".into()))}
            </p>
        }
        .into_any(),
    }
}

/// Entry, SL, TP, RR, side and risk per unit, and the calculator.
#[component]
pub fn SetupCard(setup: Option<TradeSetup>) -> impl IntoView {
    let Some(setup) = setup else {
        return view! {
            <div class="setup-card" data-testid="setup-card">
                <h3>"Trade setup"</h3>
                <p class="panel-note">"No setup: the strategy has no direction for this symbol."</p>
            </div>
        }
        .into_any();
    };
    let risk = setup.risk_per_unit();
    let pct = |level: f64| {
        if setup.entry > 0.0 {
            format!("{:+.2}%", 100.0 * (level - setup.entry) / setup.entry)
        } else {
            String::new()
        }
    };
    let risk_pct = if setup.entry > 0.0 {
        format!("{:.2}%", 100.0 * risk / setup.entry)
    } else {
        String::new()
    };
    let side_class = if setup.side == crate::model::Side::Long {
        "side side-long"
    } else {
        "side side-short"
    };
    view! {
        <div class="setup-card" data-testid="setup-card">
            <h3>
                "Trade setup "
                <span class=side_class data-testid="setup-side">{setup.side.as_str()}</span>
            </h3>
            <table class="kv setup-levels">
                <tbody>
                    <tr title="Entry = last closed 15m close">
                        <th>"Entry"</th>
                        <td class="num" data-testid="setup-entry">{format::price(setup.entry)}</td>
                        <td class="num muted"></td>
                    </tr>
                    <tr class="level-sl" title="Stop: beyond the extreme of the last 10 15m candles ± 0.25 ATR, at least 1 ATR from entry (defaults)">
                        <th>"Stop loss"</th>
                        <td class="num" data-testid="setup-sl">{format::price(setup.sl)}</td>
                        <td class="num muted">{pct(setup.sl)}</td>
                    </tr>
                    <tr class="level-tp" title="Target: the 100-candle 4h extreme if at least 1.5 risks away, else 2 risks (defaults)">
                        <th>"Take profit"</th>
                        <td class="num" data-testid="setup-tp">{format::price(setup.tp)}</td>
                        <td class="num muted">{pct(setup.tp)}</td>
                    </tr>
                    <tr title="Reward/risk: |TP − entry| / |entry − SL|">
                        <th>"Reward/risk"</th>
                        <td class="num" data-testid="setup-rr">{format::number(Some(setup.rr), 2)}</td>
                        <td></td>
                    </tr>
                    <tr title="Risk per unit: |entry − SL| in quote currency per unit of the base asset">
                        <th>"Risk / unit"</th>
                        <td class="num" data-testid="setup-risk">{format::price(risk)}</td>
                        <td class="num muted">{risk_pct}</td>
                    </tr>
                </tbody>
            </table>
            <PositionCalculator setup />
        </div>
    }
    .into_any()
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
fn AiAnalysisBox(signal: Signal) -> impl IntoView {
    let analyze = ServerAction::<AnalyzeSignal>::new();
    let (exchange, symbol, strategy) = (signal.exchange, signal.symbol.clone(), signal.strategy);
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
                    disabled=move || analyze.pending().get()
                    title="Ask Google Gemini to explain this signal from its own numbers"
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
