//! The Track Record page's static parts, rendered to HTML on the server
//! (as the signal views are): the filter form (a plain GET form, so it works
//! with JavaScript off), the statistics per strategy, the equity and
//! calibration charts, and the recent trades with links to their share
//! pages. Every figure is one of STRATEGIES.md §6.

use super::charts::{calibration_chart_svg, equity_chart_svg};
use super::page_document::{page_document, PageTopbar};
use super::to_html;
use leptos::prelude::*;
use quantpro_core::track::{track_record, StatsError};
use quantpro_model::format;
use quantpro_model::{
    symbol_key, Exchange, Origin, Outcome, Strategy, TrackQuery, TrackRecord, Trade, TradeStats,
};
use std::collections::BTreeMap;

/// Recent trades listed on the page (newest first).
pub const RECENT_TRADES: usize = 50;

/// The whole Track Record page of `query` over `trades` (already filtered
/// by it) and their statistics `record`, read from the journal at
/// `location`.
pub fn render_track_record_page(
    query: &TrackQuery,
    trades: &[Trade],
    record: &TrackRecord,
    location: &str,
    executed_html: &str,
) -> String {
    let chart = |result: Result<Option<String>, _>, empty: &str| match result {
        Ok(Some(svg)) => svg,
        Ok(None) => to_html(view! { <p class="muted chart-empty">{empty.to_string()}</p> }),
        Err(e) => to_html(view! { <p class="chart-error">{format!("Chart unavailable: {e}")}</p> }),
    };
    let equity = chart(
        equity_chart_svg(trades),
        "No closed trade yet: no equity curve.",
    );
    let calibration = chart(
        calibration_chart_svg(&record.by_score_bucket),
        "No closed trade yet: no calibration.",
    );
    let api_link = format!("/api/track-record?{}", query.to_query_string());
    let source = source_line(trades.len(), query.origin, location);
    let body = view! {
        <article class="track-article" data-testid="track-record-page">
            <Filters query=query.clone() />
            <p class="muted track-source">{source} " · " <a href=api_link>"as JSON"</a></p>
            <section class="panel">
                <h2>"Statistics per strategy"</h2>
                <StatsTable record=record.clone() />
            </section>
            <div class="track-charts">
                <section class="panel">
                    <h2>"Equity (cumulative R after fees)"</h2>
                    <div class="html-part" inner_html=equity></div>
                </section>
                <section class="panel">
                    <h2>"Calibration: win rate per score bucket (trades)"</h2>
                    <div class="html-part" inner_html=calibration></div>
                </section>
            </div>
            <section class="panel">
                <h2>"Recent trades"</h2>
                <RecentTrades trades=recent(trades) />
            </section>
            <div class="html-part" inner_html=executed_html.to_string()></div>
        </article>
    };
    track_page(to_html(body))
}

/// The Track Record page when it cannot be drawn: a filter that names
/// nothing, or a journal that cannot be read.
pub fn render_track_record_error(message: &str) -> String {
    let message = format!("Cannot load the track record: {message}");
    track_page(to_html(view! {
        <div class="error-banner" role="alert" data-testid="error-banner">{message}</div>
        <p><a href="/track-record">"All trades"</a></p>
    }))
}

/// The document around the page's `main` content: rendered whole on the
/// server, no script (nothing on it needs one: the filters are a GET form),
/// so it costs the browser bundle nothing.
fn track_page(main: String) -> String {
    let body = to_html(view! {
        <div class="app track-page">
            <PageTopbar subtitle=" track record">
                <a class="btn btn-ghost btn-small" href="/">"Scanner"</a>
            </PageTopbar>
            <main class="content track-content" inner_html=main></main>
        </div>
    });
    page_document("Track record", &body)
}

fn recent(trades: &[Trade]) -> Vec<Trade> {
    let mut sorted = trades.to_vec();
    sorted.sort_by_key(|t| std::cmp::Reverse(t.opened_at));
    sorted.truncate(RECENT_TRADES);
    sorted
}

/// The track records of each strategy over some journal trades: what the
/// track lines of the scanner rows, the detail panel and the share page
/// are read from (one line format, [`track_line`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StrategyRecords {
    by_strategy: BTreeMap<Strategy, TrackRecord>,
}

impl StrategyRecords {
    /// The records of `strategies` (each over its own trades of `trades`).
    pub fn of(
        trades: &[Trade],
        strategies: impl IntoIterator<Item = Strategy>,
    ) -> Result<StrategyRecords, StatsError> {
        let mut by_strategy = BTreeMap::new();
        for strategy in strategies {
            if by_strategy.contains_key(&strategy) {
                continue;
            }
            let own: Vec<Trade> = trades
                .iter()
                .filter(|t| t.strategy == strategy)
                .cloned()
                .collect();
            by_strategy.insert(strategy, track_record(&own)?);
        }
        Ok(StrategyRecords { by_strategy })
    }

    /// True when the journal holds a trade (closed or open) of `strategy`.
    pub fn has_trades(&self, strategy: Strategy) -> bool {
        self.by_strategy
            .get(&strategy)
            .is_some_and(|r| r.all.trades + r.all.open > 0)
    }

    /// The [`track_line`] of `strategy` on `symbol` of `exchange`.
    pub fn line(&self, strategy: Strategy, exchange: Exchange, symbol: &str) -> String {
        let record = self.by_strategy.get(&strategy).cloned().unwrap_or_default();
        let on_symbol = record
            .by_symbol
            .get(&symbol_key(exchange, symbol))
            .cloned()
            .unwrap_or_default();
        track_line(strategy, symbol, &on_symbol, &record.all)
    }
}

/// The one-line track record of a strategy on a symbol and overall, as the
/// scanner rows and the detail panel show it: "Breakout on SOLUSDT: 14
/// trades, 57% win, +0.41 R avg · all symbols: 230 trades, 48% win, +0.12 R
/// avg".
fn track_line(
    strategy: Strategy,
    symbol: &str,
    on_symbol: &TradeStats,
    overall: &TradeStats,
) -> String {
    format!(
        "{strategy} on {symbol}: {} · all symbols: {}",
        stats_phrase(on_symbol),
        stats_phrase(overall)
    )
}

fn stats_phrase(stats: &TradeStats) -> String {
    let open = if stats.open > 0 {
        format!(" ({} open)", stats.open)
    } else {
        String::new()
    };
    if stats.trades == 0 {
        return format!("no closed trade{open}");
    }
    format!(
        "{} trade{}, {} win, {} R avg{open}",
        stats.trades,
        if stats.trades == 1 { "" } else { "s" },
        percent(stats.win_rate),
        format::signed(stats.avg_r, 2)
    )
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".into(), |r| format!("{:.0}%", r * 100.0))
}

/// How the filter form and the page's source line name an origin.
fn origin_label(origin: Origin) -> &'static str {
    match origin {
        Origin::Live => "Live scans",
        Origin::Backtest => "Backtest",
    }
}

/// The page's line saying where its trades come from: "12 trades (live
/// and backtest) from the journal at data/journal.sqlite".
fn source_line(trades: usize, origin: Option<Origin>, location: &str) -> String {
    let which = match origin {
        None => "live and backtest",
        Some(Origin::Live) => "live scans only",
        Some(Origin::Backtest) => "backtest only",
    };
    let plural = if trades == 1 { "" } else { "s" };
    format!("{trades} trade{plural} ({which}) from the journal at {location}")
}

#[component]
fn Filters(query: TrackQuery) -> impl IntoView {
    let strategies = Strategy::ALL
        .iter()
        .map(|s| (s.as_str(), s.as_str()))
        .collect();
    let exchanges = Exchange::ALL
        .iter()
        .map(|e| (e.as_str(), e.as_str()))
        .collect();
    let origins = Origin::ALL
        .iter()
        .map(|o| (o.as_str(), origin_label(*o)))
        .collect();
    view! {
        <form class="track-filters" method="get" action="/track-record" data-testid="track-filters">
            <FilterSelect label="Strategy" name="strategy" choices=strategies
                current=query.strategy.map(|s| s.as_str()) />
            <FilterSelect label="Exchange" name="exchange" choices=exchanges
                current=query.exchange.map(|e| e.as_str()) />
            <FilterSelect label="Origin" name="origin" choices=origins current=query.origin.map(|o| o.as_str())
                help="Trades opened by scans of the live data, or replayed by `quantpro backtest --journal`" />
            <label class="field">
                <span>"Symbol"</span>
                <input type="search" name="symbol" placeholder="e.g. SOLUSDT" value=query.symbol.clone().unwrap_or_default() />
            </label>
            <button class="btn btn-small" type="submit">"Apply"</button>
            <a class="btn btn-ghost btn-small" href="/track-record">"Clear"</a>
        </form>
    }
}

/// One `<select>` of the filter form: "All" (the empty value), then the
/// `choices` as (value, text), the `current` value selected.
#[component]
fn FilterSelect(
    label: &'static str,
    name: &'static str,
    choices: Vec<(&'static str, &'static str)>,
    current: Option<&'static str>,
    #[prop(optional)] help: Option<&'static str>,
) -> impl IntoView {
    let options = choices
        .into_iter()
        .map(|(value, text)| view! { <option value=value selected=current == Some(value)>{text}</option> })
        .collect_view();
    view! {
        <label class="field" title=help>
            <span>{label}</span>
            <select name=name>
                <option value="" selected=current.is_none()>"All"</option>
                {options}
            </select>
        </label>
    }
}

#[component]
fn StatsTable(record: TrackRecord) -> impl IntoView {
    let rows = Strategy::ALL
        .iter()
        .map(|s| {
            let stats = record.by_strategy.get(s).cloned().unwrap_or_default();
            view! { <StatsRow label=s.as_str().to_string() stats /> }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="track-table" data-testid="track-stats">
                <thead>
                    <tr>
                        <th>"Strategy"</th>
                        <th class="num" title="Closed trades">"Trades"</th>
                        <th class="num" title="Closed trades with R > 0, of all closed">"Win rate"</th>
                        <th class="num" title="Mean R after fees">"Avg R"</th>
                        <th class="num" title="Sum of R after fees">"Net R"</th>
                        <th class="num" title="Sum of positive R / |sum of negative R|">"Profit factor"</th>
                        <th class="num" title="Largest fall of cumulative R from its running peak">"Max DD"</th>
                        <th class="num" title="Target hit / stop hit / expired">"TP / SL / exp."</th>
                        <th class="num" title="Mean LTF candles from opening to resolution">"Avg bars"</th>
                        <th class="num" title="Trades not resolved yet (not counted)">"Open"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows}
                    <StatsRow label="All".to_string() stats=record.all.clone() />
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn StatsRow(label: String, stats: TradeStats) -> impl IntoView {
    let class = if label == "All" { "total-row" } else { "" };
    let key = label.clone();
    view! {
        <tr class=class data-strategy=key>
            <th scope="row">{label}</th>
            <td class="num">{stats.trades}</td>
            <td class="num">{percent(stats.win_rate)}</td>
            <td class="num">{format::signed(stats.avg_r, 2)}</td>
            <td class="num">{format::signed(Some(stats.net_r), 2)}</td>
            <td class="num">{format::number(stats.profit_factor, 2)}</td>
            <td class="num">{format!("{:.2} R", stats.max_drawdown_r)}</td>
            <td class="num">{format!("{} / {} / {}", stats.tp_hits, stats.sl_hits, stats.expired)}</td>
            <td class="num">{format::number(stats.avg_bars, 1)}</td>
            <td class="num">{stats.open}</td>
        </tr>
    }
}

fn outcome_class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Win => "outcome outcome-win",
        Outcome::Loss => "outcome outcome-loss",
        Outcome::Expired => "outcome outcome-expired",
        Outcome::Open => "outcome outcome-open",
    }
}

#[component]
fn RecentTrades(trades: Vec<Trade>) -> impl IntoView {
    if trades.is_empty() {
        return view! {
            <p class="muted" data-testid="no-trades">
                "No trade recorded for this selection yet. Trades are recorded when a signal fires \
                 (a LONG or SHORT with a setup) in a scan or the live loop, or by `quantpro backtest --journal`."
            </p>
        }
        .into_any();
    }
    let rows = trades
        .into_iter()
        .map(|t| {
            let link = format!("/signal/{}/{}/{}", t.exchange, t.symbol, t.strategy);
            view! {
                <tr data-testid="trade-row">
                    <td title=format::utc_datetime(t.opened_at)>{format::utc_short(t.opened_at)}</td>
                    <td><a href=link>{t.symbol.clone()}</a></td>
                    <td class="muted">{t.exchange.as_str()}</td>
                    <td>{t.strategy.as_str()}</td>
                    <td>{t.side.as_str()}</td>
                    <td class="num">{format::number(Some(t.score), 1)}</td>
                    <td class="num">{format::price(t.entry)}</td>
                    <td class="num">{format::price(t.sl)}</td>
                    <td class="num">{format::price(t.tp)}</td>
                    <td><span class=outcome_class(t.outcome)>{t.outcome.as_str()}</span></td>
                    <td class="num">{format::signed(t.r, 2)}</td>
                    <td class="num">{format!("{:.2}", t.mfe_r)}</td>
                    <td class="num">{format!("{:.2}", t.mae_r)}</td>
                    <td class="num">{t.bars.map_or_else(|| "—".to_string(), |b| b.to_string())}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="track-table" data-testid="track-trades">
                <thead>
                    <tr>
                        <th title="Open time of the candle at whose close the signal fired (UTC)">"Opened"</th>
                        <th>"Symbol"</th>
                        <th>"Exchange"</th>
                        <th>"Strategy"</th>
                        <th>"Side"</th>
                        <th class="num" title="Total score at the opening">"Score"</th>
                        <th class="num">"Entry"</th>
                        <th class="num">"SL"</th>
                        <th class="num">"TP"</th>
                        <th>"Outcome"</th>
                        <th class="num" title="Result in risk units after fees">"R"</th>
                        <th class="num" title="Largest favourable move in R">"MFE"</th>
                        <th class="num" title="Largest adverse move in R">"MAE"</th>
                        <th class="num" title="LTF candles from opening to resolution">"Bars"</th>
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
    use quantpro_model::fixtures::sample_trade;

    #[test]
    fn the_track_line_reads_as_the_issue_asks() {
        let on_symbol = TradeStats {
            trades: 14,
            wins: 8,
            win_rate: Some(8.0 / 14.0),
            avg_r: Some(0.41),
            ..TradeStats::default()
        };
        let overall = TradeStats {
            open: 2,
            ..TradeStats::default()
        };
        assert_eq!(
            track_line(Strategy::Breakout, "SOLUSDT", &on_symbol, &overall),
            "Breakout on SOLUSDT: 14 trades, 57% win, +0.41 R avg · all symbols: no closed trade (2 open)"
        );
    }

    #[test]
    fn strategy_records_give_each_strategy_its_own_line() {
        let mut closed = sample_trade();
        closed.outcome = Outcome::Win;
        closed.closed_at = Some(closed.opened_at + 900_000);
        closed.r = Some(1.5);
        closed.bars = Some(1);
        let mut elsewhere = closed.clone();
        elsewhere.symbol = "ETHUSDT".into();
        elsewhere.opened_at += 1;
        elsewhere.r = Some(-1.0);
        elsewhere.outcome = Outcome::Loss;
        let strategy = closed.strategy;
        let other = *Strategy::ALL.iter().find(|s| **s != strategy).unwrap();
        let records = StrategyRecords::of(&[closed.clone(), elsewhere], [strategy, other]).unwrap();
        assert!(records.has_trades(strategy) && !records.has_trades(other));
        assert_eq!(
            records.line(strategy, closed.exchange, &closed.symbol),
            format!(
                "{strategy} on SOLUSDT: 1 trade, 100% win, +1.50 R avg · all symbols: \
                 2 trades, 50% win, +0.25 R avg"
            )
        );
        assert_eq!(
            records.line(other, closed.exchange, "SOLUSDT"),
            format!("{other} on SOLUSDT: no closed trade · all symbols: no closed trade")
        );
        assert!(
            records
                .line(strategy, Exchange::Mexc, "SOLUSDT")
                .starts_with(&format!(
                    "{strategy} on SOLUSDT: no closed trade · all symbols: 2 trades"
                )),
            "another exchange's SOLUSDT has no trade"
        );
    }

    #[test]
    fn the_page_lists_every_strategy_and_links_each_trade_to_its_share_page() {
        let trade = sample_trade();
        let record = track_record(std::slice::from_ref(&trade)).unwrap();
        let page = render_track_record_page(
            &TrackQuery {
                strategy: Some(trade.strategy),
                ..TrackQuery::default()
            },
            std::slice::from_ref(&trade),
            &record,
            "journal.sqlite",
            "",
        );
        for s in Strategy::ALL {
            assert!(page.contains(&format!("data-strategy=\"{s}\"")), "{s}");
        }
        assert!(page.contains(&format!(
            "href=\"/signal/{}/{}/{}\"",
            trade.exchange, trade.symbol, trade.strategy
        )));
        assert!(page.contains(&format!("<option value=\"{}\" selected", trade.strategy)));
        assert!(page.contains(&format!(
            "href=\"/api/track-record?strategy={}\"",
            trade.strategy
        )));
        assert!(page.contains("1 trade (live and backtest) from the journal at journal.sqlite"));
        assert!(
            page.contains("No closed trade yet"),
            "the one trade is open"
        );
        assert!(!page.contains("<script"), "rendered whole, no script");
    }

    #[test]
    fn an_error_page_says_what_failed() {
        let page = render_track_record_error("unknown strategy \"Martingale\"");
        assert!(page.contains("Cannot load the track record: unknown strategy"));
        assert!(page.contains("Martingale"));
    }
}
