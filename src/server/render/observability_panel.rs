//! ObservabilityPanel: why a signal scored what it did. The four mapped
//! scores as bars out of 25 with their definitions, the raw metrics behind
//! them, the BreakoutV2 filter badges (`filters_passed`), which external
//! data was available, the wait reasons, and the RSI chart with its
//! trendlines and break point (SVG from the server).

use leptos::prelude::*;
use quantpro_core::strategies::wait_reason_words;
use quantpro_model::format;
use quantpro_model::{RsiTrendline, Signal, Strategy};

/// Each mapped score is clamped to 0..25 (STRATEGIES.md §3).
pub const COMPONENT_MAX: f64 = 25.0;

/// One mapped score with the formula that produced it for this strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreBar {
    pub name: &'static str,
    pub value: f64,
    pub definition: &'static str,
}

/// The four bars of a signal, with STRATEGIES.md §3's definitions (which
/// differ between Legacy/Breakout and BreakoutV2).
pub fn score_bars(signal: &Signal) -> [ScoreBar; 4] {
    let c = &signal.observability.score_composition;
    let v2 = signal.strategy == Strategy::BreakoutV2;
    let bar = |name, value, definition| ScoreBar {
        name,
        value,
        definition,
    };
    [
        bar(
            "Trend",
            c.trend_score,
            if v2 { "OI z-score × 10" } else { "HTF ADX / 2 when the HTF bias is the signal's direction, else 0" },
        ),
        bar(
            "Structure",
            c.structure_score,
            if v2 {
                "|OBV slope| × 100"
            } else {
                "12.5 if 15m EMA20 is on the direction's side of EMA50, + 12.5 if the last close is"
            },
        ),
        bar(
            "Money flow",
            c.money_flow_score,
            if v2 { "last 15m RSI / 4" } else { "|OBV slope| × 100 when its sign is the direction, else 0" },
        ),
        bar(
            "Timing",
            c.timing_score,
            "Cardwell score. LONG: BULLISH with RSI 40–50 → 25, BULLISH otherwise 15, NEUTRAL 10, TRANSITION 8, \
             OVERSOLD 5, OVERBOUGHT or BEARISH 0; SHORT mirrors it (BEARISH with RSI 50–60 → 25)",
        ),
    ]
}

#[component]
pub fn ObservabilityPanel(signal: Signal, rsi_svg: Option<String>) -> impl IntoView {
    view! {
        <section class="panel observability-panel" data-testid="observability-panel">
            <ScoreBreakdown signal=signal.clone() />
            <SignalBadges signal=signal.clone() />
            <RawMetrics signal=signal.clone() />
            <div class="rsi-section">
                <h3>"RSI & trendlines (15m)"</h3>
                {rsi_svg.map(|svg| view! { <RsiChartFigure svg /> })}
                <TrendlineTable signal />
            </div>
        </section>
    }
}

#[component]
pub fn RsiChartFigure(svg: String) -> impl IntoView {
    view! {
        <figure class="chart" data-testid="rsi-chart">
            <div class="chart-svg-box" inner_html=svg></div>
        </figure>
    }
}

/// The four mapped scores as bars out of 25, and the total out of 100.
#[component]
pub fn ScoreBreakdown(signal: Signal) -> impl IntoView {
    let bars = score_bars(&signal)
        .into_iter()
        .map(|bar| {
            let width = format!("{:.1}%", 100.0 * (bar.value / COMPONENT_MAX).clamp(0.0, 1.0));
            view! {
                <div class="score-row" title=bar.definition data-testid="score-bar">
                    <span class="score-name">{bar.name}</span>
                    <span class="bar-track">
                        <span class="bar-fill" style:width=width></span>
                    </span>
                    <span class="score-value num">{format!("{:.1}", bar.value)}<span class="muted">" /25"</span></span>
                </div>
            }
        })
        .collect_view();
    view! {
        <div class="score-breakdown">
            <h3>
                "Score composition "
                <span class="score-total" title="Total score: the sum of the four, 0–100">
                    {format::number(Some(signal.score), 1)}
                    <span class="muted">" /100"</span>
                </span>
            </h3>
            {bars}
        </div>
    }
}

/// filters_passed, data availability and wait reasons as badges.
#[component]
pub fn SignalBadges(signal: Signal) -> impl IntoView {
    let c = &signal.observability.score_composition;
    let pass = |ok: bool| {
        if ok {
            "badge badge-pass"
        } else {
            "badge badge-fail"
        }
    };
    let have = |ok: bool| {
        if ok {
            "badge badge-have"
        } else {
            "badge badge-missing"
        }
    };
    let mark = |ok: bool| if ok { "✓" } else { "✗" };
    let filters = [
        (
            "oi_zscore",
            c.filters_passed.oi_zscore,
            "OI z-score valid and ≥ v2.min_oi_z (default 1.0)",
        ),
        (
            "obv_slope",
            c.filters_passed.obv_slope,
            "OBV slope in the direction with |slope| ≥ v2.min_obv_slope (default 0.05)",
        ),
    ]
    .map(|(name, ok, help)| {
        view! {
            <span class=pass(ok) title=help data-testid="filter-badge">
                {format!("{} {name}", mark(ok))}
            </span>
        }
    });
    // The simulated market's derivatives are simulated too, and say so.
    let simulated = signal.oi_metadata.status == quantpro_model::OiStatus::Synthetic;
    let source = if simulated {
        "synthetic: simulated from the candles, docs/STRATEGIES.md §7"
    } else {
        "Coinalyze"
    };
    let data = [
        (
            "OI",
            c.oi_available,
            "Open-interest history",
            "open-interest-history",
        ),
        (
            "Funding",
            c.funding_available,
            "Latest funding rate",
            "funding-rate-history",
        ),
        (
            "L/S ratio",
            c.ls_ratio_available,
            "Latest long/short ratio",
            "long-short-ratio-history",
        ),
        (
            "Liquidations",
            c.liquidations_available,
            "Liquidations of the last 24 h",
            "liquidation-history",
        ),
    ]
    .map(|(name, ok, help, series)| {
        let help = format!("{help} ({source})");
        // A value that was fetched but too old says how old it was.
        let age = signal
            .oi_metadata
            .stale
            .iter()
            .find(|s| s.series == series)
            .map(|s| format::age(s.age_secs));
        let (text, help) = match (ok, age) {
            (true, _) if simulated => (format!("{name} · synthetic"), format!("{help}: available")),
            (true, _) => (name.to_string(), format!("{help}: available")),
            (false, Some(age)) => (
                format!("{name} · {age} old"),
                format!("{help}: not current (its newest value was {age} old when fetched)"),
            ),
            (false, None) => (
                name.to_string(),
                format!("{help}: not available (no COINALYZE_API_KEY or no data)"),
            ),
        };
        view! {
            <span class=have(ok) title=help data-testid="data-badge">
                {text}
            </span>
        }
    });
    let reasons = if signal.wait_reasons.is_empty() {
        view! { <span class="muted">"none"</span> }.into_any()
    } else {
        signal
            .wait_reasons
            .iter()
            .map(|code| {
                let words = wait_reason_words(code).to_string();
                view! {
                    <span class="badge badge-reason" title=code.clone() data-testid="wait-reason">
                        {words}
                    </span>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <div class="badges">
            <div class="badge-line">
                <span class="badge-label" title="STRATEGIES.md §4: the two BreakoutV2 filters (reported by every strategy)">
                    "Filters"
                </span>
                {filters}
            </div>
            <div class="badge-line">
                <span class="badge-label">"Data"</span>
                {data}
            </div>
            <div class="badge-line">
                <span class="badge-label" title="Why the action is WAIT">
                    "Wait reasons"
                </span>
                {reasons}
            </div>
        </div>
    }
}

/// The raw metrics of `observability.score_composition` and the HTF/LTF summaries.
#[component]
pub fn RawMetrics(signal: Signal) -> impl IntoView {
    let c = &signal.observability.score_composition;
    let oi = if c.oi_z_score_valid {
        format::signed(Some(c.oi_z_score), 2)
    } else {
        "— (invalid)".to_string()
    };
    let rows: Vec<(&str, String, &str)> = vec![
        (
            "RSI(14) 15m",
            format::number(c.rsi, 2),
            "RSI(14) of the last closed 15m candle",
        ),
        (
            "Cardwell range",
            c.cardwell_range.as_str().to_string(),
            "Classification of the last 50 15m RSI values",
        ),
        (
            "OBV slope",
            format::signed(Some(c.obv_slope), 4),
            "Least-squares slope of OBV over the last 20 15m candles / their mean volume",
        ),
        (
            "OI z-score",
            oi,
            "(last − mean) / std of the last 24 hourly OI closes; needs 24 points and std > 0",
        ),
        (
            "ATR(14) 15m",
            c.atr.map(format::price).unwrap_or_else(|| "—".into()),
            "Average true range of the 15m candles (Wilder, 14)",
        ),
        (
            "Close",
            format::price(c.close_price),
            "Last closed 15m close",
        ),
        (
            "Breakout",
            c.breakout_type
                .map(|b| b.as_str().to_string())
                .unwrap_or_else(|| "none".into()),
            "Which RSI trendline broke in the last 3 candles",
        ),
        (
            "HTF trend",
            signal.htf.trend.as_str().to_string(),
            "4h: UP if close > EMA50 > EMA200, DOWN for the mirror, else RANGE",
        ),
        (
            "HTF ADX(14)",
            format::number(signal.htf.adx, 1),
            "ADX(14) of the 4h candles",
        ),
        (
            "HTF bias",
            signal.htf.bias.as_str().to_string(),
            "LONG / SHORT / NONE for an UP / DOWN / RANGE 4h trend",
        ),
        (
            "HTF EMA50",
            price_or_dash(signal.htf.ema50),
            "EMA50 of the 4h closes",
        ),
        (
            "HTF EMA200",
            price_or_dash(signal.htf.ema200),
            "EMA200 of the 4h closes (needs 200 candles)",
        ),
        (
            "15m EMA20",
            price_or_dash(signal.ltf.ema20),
            "EMA20 of the 15m closes",
        ),
        (
            "15m EMA50",
            price_or_dash(signal.ltf.ema50),
            "EMA50 of the 15m closes",
        ),
    ];
    let cells = rows
        .into_iter()
        .map(|(name, value, help)| {
            view! {
                <div class="metric" title=help>
                    <span class="metric-name">{name}</span>
                    <span class="metric-value num">{value}</span>
                </div>
            }
        })
        .collect_view();
    view! {
        <div class="metrics" data-testid="raw-metrics">
            {cells}
        </div>
    }
}

fn price_or_dash(value: Option<f64>) -> String {
    value.map(format::price).unwrap_or_else(|| "—".into())
}

/// The trendlines' pivots, slope, value now and break point in numbers.
#[component]
pub fn TrendlineTable(signal: Signal) -> impl IntoView {
    let visuals = &signal.observability.rsi_visuals;
    let lines: Vec<(&str, RsiTrendline)> = [
        ("Resistance", visuals.resistance.clone()),
        ("Support", visuals.support.clone()),
    ]
    .into_iter()
    .filter_map(|(name, line)| line.map(|l| (name, l)))
    .collect();
    if lines.is_empty() {
        return view! { <p class="panel-note">"No RSI trendline: fewer than two suitable pivots in the last 100 candles."</p> }
            .into_any();
    }
    let last = signal.observability.candle_index;
    let rows = lines
        .into_iter()
        .map(|(name, line)| {
            let broken = match (line.broken, line.break_index) {
                (true, Some(k)) => match last.saturating_sub(k) {
                    0 => "yes, last candle".to_string(),
                    ago => format!("yes, {ago} ago"),
                },
                (true, None) => "yes".to_string(),
                (false, _) => "no".to_string(),
            };
            view! {
                <tr>
                    <th>{name}</th>
                    <td class="num">{format!("{:.1} → {:.1}", line.start_rsi, line.end_rsi)}</td>
                    <td class="num">{format!("{} / {} ago", last.saturating_sub(line.start_index), last.saturating_sub(line.end_index))}</td>
                    <td class="num">{format!("{:+.3}", line.slope)}</td>
                    <td class="num">{format!("{:.1}", line.value_now)}</td>
                    <td class:broken=line.broken>{broken}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
        <table class="grid-table trendlines" data-testid="trendline-table">
            <thead>
                <tr>
                    <th></th>
                    <th class="num" title="RSI at the two pivots P1 → P2">"Pivots RSI"</th>
                    <th class="num" title="Candles since P1 / since P2">"Pivots age"</th>
                    <th class="num" title="RSI points per 15m candle">"Slope"</th>
                    <th class="num" title="The line's value at the last candle">"Line now"</th>
                    <th title="RSI crossed the line within the last 3 candles and is still beyond it">"Broken"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::fixtures::sample_signal;

    #[test]
    fn bars_carry_the_mapped_scores_and_the_strategys_definitions() {
        let legacy = sample_signal("BTCUSDT", Strategy::Legacy);
        let bars = score_bars(&legacy);
        let values: Vec<f64> = bars.iter().map(|b| b.value).collect();
        assert_eq!(values, [15.75, 25.0, 12.0, 25.0]);
        assert!(bars[0].definition.contains("ADX"));
        let v2 = sample_signal("BTCUSDT", Strategy::BreakoutV2);
        let bars = score_bars(&v2);
        assert_eq!(bars[0].definition, "OI z-score × 10");
        assert_eq!(bars[2].definition, "last 15m RSI / 4");
        // The bars add up to the composition's total.
        let sum: f64 = bars.iter().map(|b| b.value).sum();
        assert_eq!(sum, v2.observability.score_composition.total());
    }

    #[test]
    fn a_value_too_old_to_use_is_shown_with_its_age() {
        let mut signal = sample_signal("SOLUSDT", Strategy::BreakoutV2);
        signal.observability.score_composition.ls_ratio_available = false;
        signal.oi_metadata.stale = vec![quantpro_model::StaleSeries {
            series: "long-short-ratio-history".into(),
            age_secs: 730 * 86_400 + 3 * 3600,
        }];
        let html = super::super::to_html(view! { <SignalBadges signal /> });
        assert!(html.contains("L/S ratio · 730d 3h old"), "{html}");
        assert!(
            html.contains("not current (its newest value was 730d 3h old when fetched)"),
            "{html}"
        );
    }

    #[test]
    fn the_simulated_markets_derivatives_are_labelled_synthetic() {
        let mut signal = sample_signal("SYN000USDT", Strategy::BreakoutV2);
        let c = &mut signal.observability.score_composition;
        (c.oi_available, c.funding_available) = (true, true);
        signal.oi_metadata.status = quantpro_model::OiStatus::Synthetic;
        let html = super::super::to_html(view! { <SignalBadges signal=signal.clone() /> });
        assert!(html.contains("OI · synthetic"), "{html}");
        assert!(html.contains("Funding · synthetic"), "{html}");
        assert!(
            html.contains("Open-interest history (synthetic: simulated from the candles"),
            "{html}"
        );
        assert!(!html.contains("Coinalyze"), "{html}");
        // Coinalyze's data is named as such, and not called synthetic.
        signal.oi_metadata.status = quantpro_model::OiStatus::Aggregated;
        let html = super::super::to_html(view! { <SignalBadges signal /> });
        assert!(
            html.contains("Open-interest history (Coinalyze): available"),
            "{html}"
        );
        assert!(!html.contains("synthetic"), "{html}");
    }
}
