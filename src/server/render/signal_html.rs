//! The static parts of a signal's views, rendered to HTML on the server:
//! its header facts, the 15m and 4h charts, the setup's levels and the
//! ObservabilityPanel. The DetailPanel and the share page inject them
//! (`SignalPanels`), so the browser bundle carries no code to read or draw a
//! whole `Signal`: that was 63 KB of the gzipped WASM (budget 400 KB). The
//! interactive parts (position-size calculator, AI button, close and share
//! actions) stay components of the pages.

use super::charts::ChartSvgs;
use super::observability_panel::ObservabilityPanel;
use leptos::prelude::*;
use leptos_router::params::ParamsMap;
use quantpro_model::format;
use quantpro_model::{action_class, bias_class, row_key, SignalPanels, TableView};
use quantpro_model::{Outcome, Signal, Trade, TradeSetup};

/// One signal with its charts: what this module renders.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalDetail {
    pub signal: Signal,
    pub charts: Option<ChartSvgs>,
    /// Why there are no charts (candle file missing or changed since the scan).
    pub chart_error: Option<String>,
    pub synthetic: bool,
    /// The server's clock (Unix ms), for the data age.
    pub server_time_ms: i64,
    /// What the journal knows of this signal's strategy and symbol.
    pub track: SignalTrack,
}

/// The journal's view of one signal: its strategy's track record on the
/// symbol and overall, and its latest trade.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalTrack {
    Known {
        /// `track_line`: "Breakout on SOLUSDT: 14 trades, ...".
        line: String,
        /// The newest trade of this (exchange, symbol, strategy).
        last_trade: Option<Trade>,
    },
    /// The journal could not be read, and why.
    Unavailable(String),
}

/// Renders the parts of `detail` and gathers what the pages need besides.
pub fn render_panels(detail: SignalDetail) -> SignalPanels {
    let SignalDetail {
        signal,
        charts,
        chart_error,
        synthetic,
        server_time_ms,
        track,
    } = detail;
    let rsi_svg = charts.as_ref().map(|c| c.rsi.clone());
    let dashboard_view = TableView {
        selected: Some(row_key(&signal)),
        ..TableView::default()
    };
    SignalPanels {
        header_html: to_html(
            view! { <SignalSummary signal=signal.clone() now_ms=server_time_ms /> },
        ),
        track_html: to_html(view! { <TrackSummary track /> }),
        charts_html: to_html(view! { <PriceCharts charts error=chart_error /> }),
        setup_html: to_html(view! { <SetupLevels setup=signal.setup.clone() /> }),
        observability_html: to_html(view! { <ObservabilityPanel signal=signal.clone() rsi_svg /> }),
        setup: signal.setup.clone(),
        title: format!(
            "{} {} · {} · QuantPro",
            signal.symbol, signal.action, signal.strategy
        ),
        description: share_description(&signal),
        dashboard_link: format!(
            "/{}",
            dashboard_view
                .query_pairs()
                .into_iter()
                .collect::<ParamsMap>()
                .to_query_string()
        ),
        synthetic,
    }
}

/// A view as HTML, rendered in its own reactive owner (the parts read no
/// context, so they need nothing from the page being rendered).
pub(crate) fn to_html(view: impl IntoView) -> String {
    Owner::new().with(|| view.into_view().to_html())
}

/// The one-line summary used as the page description and link preview.
pub fn share_description(signal: &Signal) -> String {
    let mut text = format!(
        "{} on {} · {} · action {} · score {:.1}/100 · price {}",
        signal.symbol,
        signal.exchange,
        signal.strategy,
        signal.action,
        signal.score,
        format::price(signal.price)
    );
    if let Some(setup) = &signal.setup {
        text.push_str(&format!(
            " · {} entry {} SL {} TP {} RR {:.2}",
            setup.side,
            format::price(setup.entry),
            format::price(setup.sl),
            format::price(setup.tp),
            setup.rr
        ));
    }
    text
}

/// Symbol, exchange, strategy, action, score, price and data time: the
/// left part of the `signal-header` bar (the page adds its actions).
#[component]
fn SignalSummary(signal: Signal, now_ms: i64) -> impl IntoView {
    let calculated_ms = signal.observability.calculated_at * 1000;
    let candle = signal.ltf.last_candle_time;
    view! {
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
                {signal.quality.as_ref().map(quality_fact)}
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
    }
}

/// P(win) of an acting signal with the model it comes from, or that the
/// model has no skill on past data (docs/QUALITY.md).
fn quality_fact(quality: &quantpro_model::SignalQuality) -> impl IntoView {
    let title = format!(
        "Learned win probability (R > 0, STRATEGIES.md §6): model {} trained {} on {} closed trades; walk-forward Brier skill against the base rate {}",
        quality.model_id,
        format::utc_datetime(quality.trained_at),
        quality.n_train,
        quality
            .skill
            .map_or_else(|| "not measured".to_string(), |s| format!("{s:+.3}"))
    );
    let value = if quality.has_skill() {
        format!("{:.0} %", quality.p_win * 100.0)
    } else {
        "no skill on past data".to_string()
    };
    view! {
        <span title=title data-testid="p-win">
            <span class="fact-label">"P(win) "</span>
            <strong>{value}</strong>
        </span>
    }
}

/// The track line and the latest trade's outcome with the inputs it was
/// computed from (STRATEGIES.md §6).
#[component]
fn TrackSummary(track: SignalTrack) -> impl IntoView {
    match track {
        SignalTrack::Unavailable(reason) => view! {
            <p class="track-line muted" data-testid="track-line">
                {format!("Track record unavailable: {reason}")}
            </p>
        }
        .into_any(),
        SignalTrack::Known { line, last_trade } => view! {
            <div class="track-summary">
                <p class="track-line" data-testid="track-line" title="Closed trades of the signal journal (live and backtest), R after fees">
                    {line}
                    " · "
                    <a href="/track-record" rel="external">"track record"</a>
                </p>
                {last_trade.map(|t| view! { <p class="track-last muted" data-testid="track-last-trade">{last_trade_text(&t)}</p> })}
            </div>
        }
        .into_any(),
    }
}

/// "Last trade: LONG at the close of 12-01 10:45 UTC (score 67.5, entry
/// 5912.49, SL 5855.18, TP 6043.63): win, +2.18 R after 12 candles (MFE
/// 2.30 R, MAE 0.41 R)" — or "still open" while it is.
pub fn last_trade_text(t: &Trade) -> String {
    let inputs = format!(
        "Last trade: {} at the close of {} (score {}, entry {}, SL {}, TP {})",
        t.side,
        format::utc_datetime(t.opened_at),
        format::number(Some(t.score), 1),
        format::price(t.entry),
        format::price(t.sl),
        format::price(t.tp)
    );
    let moves = format!("MFE {:.2} R, MAE {:.2} R", t.mfe_r, t.mae_r);
    match (t.outcome, t.r, t.bars) {
        (Outcome::Open, _, _) => format!("{inputs}: still open ({moves} so far)"),
        (outcome, r, bars) => format!(
            "{inputs}: {outcome}, {} R after {} candles ({moves})",
            format::signed(r, 2),
            bars.map_or_else(|| "—".to_string(), |b| b.to_string())
        ),
    }
}

/// The LTF and HTF candle charts, injected as SVG (rendered on the server).
#[component]
fn PriceCharts(charts: Option<ChartSvgs>, error: Option<String>) -> impl IntoView {
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

/// Entry, SL, TP, RR, side and risk per unit: the static part of the
/// setup card (the page adds the position-size calculator beside it).
#[component]
fn SetupLevels(setup: Option<TradeSetup>) -> impl IntoView {
    let Some(setup) = setup else {
        return view! {
            <h3>"Trade setup"</h3>
            <p class="panel-note">"No setup: the strategy has no direction for this symbol."</p>
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
    let side_class = if setup.side == quantpro_model::Side::Long {
        "side side-long"
    } else {
        "side side-short"
    };
    view! {
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
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::fixtures::sample_signal;
    use quantpro_model::Strategy;

    #[test]
    fn the_description_carries_the_setup() {
        let text = share_description(&sample_signal("BTCUSDT", Strategy::Legacy));
        assert_eq!(
            text,
            "BTCUSDT on BINANCE · Legacy · action LONG · score 61.2/100 · price 64080.50 · LONG entry 64080.50 SL 63500.00 TP 65500.00 RR 2.44"
        );
    }

    #[test]
    fn the_parts_render_the_signal_and_a_link_back_to_it() {
        let signal = sample_signal("BTCUSDT", Strategy::Legacy);
        let panels = render_panels(SignalDetail {
            signal: signal.clone(),
            charts: Some(ChartSvgs {
                htf: "<svg id=\"htf\"></svg>".into(),
                ltf: "<svg id=\"ltf\"></svg>".into(),
                rsi: "<svg id=\"rsi\"></svg>".into(),
            }),
            chart_error: None,
            synthetic: true,
            server_time_ms: 0,
            track: SignalTrack::Known {
                line: "Legacy on BTCUSDT: 3 trades, 67% win, +0.50 R avg".into(),
                last_trade: Some(quantpro_model::fixtures::sample_trade()),
            },
        });
        assert!(
            panels.track_html.contains("Legacy on BTCUSDT: 3 trades"),
            "{}",
            panels.track_html
        );
        assert!(
            panels.track_html.contains("still open"),
            "{}",
            panels.track_html
        );
        assert!(
            panels.header_html.contains("BTCUSDT"),
            "{}",
            panels.header_html
        );
        assert!(panels.charts_html.contains("<svg id=\"ltf\">"));
        assert!(panels.charts_html.contains("<svg id=\"htf\">"));
        assert!(
            panels.setup_html.contains("64080.50"),
            "{}",
            panels.setup_html
        );
        assert!(panels.observability_html.contains("<svg id=\"rsi\">"));
        assert_eq!(panels.setup, signal.setup);
        assert!(
            panels.dashboard_link.contains("BTCUSDT"),
            "{}",
            panels.dashboard_link
        );
        assert_eq!(panels.title, "BTCUSDT LONG · Legacy · QuantPro");
    }

    #[test]
    fn a_signal_without_setup_or_charts_says_so() {
        let mut signal = sample_signal("ETHUSDT", Strategy::Breakout);
        signal.setup = None;
        let panels = render_panels(SignalDetail {
            signal,
            charts: None,
            chart_error: Some("no 4h candle file".into()),
            synthetic: false,
            server_time_ms: 0,
            track: SignalTrack::Unavailable("database is locked".into()),
        });
        assert!(
            panels.setup_html.contains("No setup"),
            "{}",
            panels.setup_html
        );
        assert!(
            panels.charts_html.contains("no 4h candle file"),
            "{}",
            panels.charts_html
        );
        assert!(panels
            .track_html
            .contains("Track record unavailable: database is locked"));
        assert_eq!(panels.setup, None);
    }
}
