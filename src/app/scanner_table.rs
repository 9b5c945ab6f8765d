//! ScannerTable: one row per signal, filtered and sorted as the URL's
//! `TableView` says; clicking a header sorts, clicking a row selects it
//! (which opens the side panel). The FilterBar above it edits the same view.

use super::dashboard_state::use_set_view;
use leptos::prelude::*;
use quantpro_model::format;
use quantpro_model::{action_class, bias_class, ActionFilter, SortKey, TableRow, TableView};
use quantpro_model::{Bias, Strategy};

/// Column header tooltips: what each number is (STRATEGIES.md).
const SCORE_HELP: &str =
    "Total score 0–100: trend + structure + money flow + timing, each 0–25 (STRATEGIES.md §3)";
const RR_HELP: &str = "Reward/risk of the setup: |TP − entry| / |entry − SL|";
const RSI_HELP: &str = "RSI(14) of the last closed 15m candle";
const OI_HELP: &str =
    "Open-interest z-score over the last 24 hourly closes: (last − mean) / std; — when unavailable";
const AGE_HELP: &str = "Time since the last closed 15m candle opened; ⚠ = stale (opened longer ago than data.stale_intervals x 15 min; updates while the page is open)";
const PRICE_HELP: &str = "Last closed 15m close";
const TRACK_HELP: &str =
    "Closed trades of the signal journal (live and backtest), R after fees (STRATEGIES.md §6)";

/// Rows rendered before "Show all".
pub const ROW_LIMIT: usize = 200;

#[component]
pub fn ScannerTable(
    rows: StoredValue<Vec<TableRow>>,
    view: Memo<TableView>,
    /// The clock the ages are measured against (ticks in the browser).
    now_ms: Signal<i64>,
    /// See `TableFeed::stale_after_ms`.
    stale_after_ms: i64,
) -> impl IntoView {
    let set_view = use_set_view();
    // Long tables render their first rows only until asked: the page stays
    // light with 1500 signals, and the best scores come first anyway.
    let show_all = RwSignal::new(false);
    let matching = Memo::new(move |_| {
        view.with(|v| rows.with_value(|all| all.iter().filter(|r| v.filter.matches(r)).count()))
    });
    let visible = move || {
        let limit = if show_all.get() {
            usize::MAX
        } else {
            ROW_LIMIT
        };
        view.with(|v| {
            rows.with_value(|all| {
                v.visible_rows(all)
                    .into_iter()
                    .take(limit)
                    .cloned()
                    .collect::<Vec<_>>()
            })
        })
    };
    let header = {
        let set_view = set_view.clone();
        move |key: SortKey, label: &'static str, help: &'static str, numeric: bool| {
            let set_view = set_view.clone();
            let sorted = move || view.with(|v| v.sort == key);
            let arrow = move || {
                view.with(|v| match (v.sort == key, v.descending) {
                    (false, _) => "",
                    (true, true) => " ▼",
                    (true, false) => " ▲",
                })
            };
            let aria = move || {
                view.with(|v| match (v.sort == key, v.descending) {
                    (false, _) => "none",
                    (true, true) => "descending",
                    (true, false) => "ascending",
                })
            };
            view! {
                <th
                    class="sortable"
                    class:num=numeric
                    class:sorted=sorted
                    aria-sort=aria
                    title=help
                    data-sort=key.as_param()
                    on:click=move |_| set_view(&view.get_untracked().sorted_by(key), false)
                >
                    {label}
                    {arrow}
                </th>
            }
        }
    };

    view! {
        <table class="scanner-table" data-testid="scanner-table">
            <thead>
                <tr>
                    {header(SortKey::Symbol, "Symbol", "Exchange symbol", false)}
                    <th>"Exchange"</th>
                    <th>"Strategy"</th>
                    <th>"Action"</th>
                    {header(SortKey::Score, "Score", SCORE_HELP, true)}
                    <th title="Direction the strategy leans to (LONG, SHORT or NONE)">"Bias"</th>
                    <th class="num" title=PRICE_HELP>
                        "Price"
                    </th>
                    {header(SortKey::Rr, "RR", RR_HELP, true)}
                    {header(SortKey::Rsi, "RSI", RSI_HELP, true)}
                    {header(SortKey::OiZ, "OI z", OI_HELP, true)}
                    {header(SortKey::Age, "Age", AGE_HELP, true)}
                </tr>
            </thead>
            <tbody>
                <Show
                    when=move || { matching.get() > 0 }
                    fallback=move || {
                        let message = if rows.with_value(Vec::is_empty) {
                            "No signals. Run a scan to fill the table."
                        } else {
                            "No signal matches the filters."
                        };
                        view! {
                            <tr class="empty-row">
                                <td colspan="11">{message}</td>
                            </tr>
                        }
                    }
                >
                    <For
                        each=visible
                        key=TableRow::key
                        children=move |row: TableRow| {
                            view! { <SignalRow row view now_ms stale_after_ms /> }
                        }
                    />
                </Show>
            </tbody>
            <Show when=move || { !show_all.get() && matching.get() > ROW_LIMIT }>
                <tfoot>
                    <tr class="more-row">
                        <td colspan="11">
                            {move || format!("Showing the first {ROW_LIMIT} of {} rows. ", matching.get())}
                            <button
                                class="btn btn-ghost btn-small"
                                data-testid="show-all-rows"
                                on:click=move |_| show_all.set(true)
                            >
                                "Show all"
                            </button>
                        </td>
                    </tr>
                </tfoot>
            </Show>
        </table>
    }
}

#[component]
fn SignalRow(
    row: TableRow,
    view: Memo<TableView>,
    now_ms: Signal<i64>,
    stale_after_ms: i64,
) -> impl IntoView {
    let set_view = use_set_view();
    let key = row.key();
    let data_age = row.data_age();
    let age = move || {
        data_age
            .seconds_at(now_ms.get())
            .map_or_else(|| "—".to_string(), format::age)
    };
    let stale = move || data_age.is_stale_at(now_ms.get(), stale_after_ms);
    let signal = row;
    let is_selected = {
        let key = key.clone();
        move || view.with(|v| v.selected.as_deref() == Some(key.as_str()))
    };
    let select = {
        let key = key.clone();
        move |_| {
            let mut next = view.get_untracked();
            next.selected = Some(key.clone());
            set_view(&next, true);
        }
    };
    let score = signal.score;
    // The track line goes on a line of its own under the row (on phones
    // too), part of the row for the pointer and the selection.
    let has_track = signal.track.is_some();
    let track = signal.track.clone().map(|line| {
        let (is_selected, select) = (is_selected.clone(), select.clone());
        view! {
            <tr class="track-row" class:selected=is_selected data-key-of=key.clone() on:click=select>
                <td colspan="11" data-testid="row-track" title=TRACK_HELP>{line}</td>
            </tr>
        }
    });
    view! {
        <tr class="signal-row" class:selected=is_selected class:with-track=has_track data-key=key on:click=select>
            <td class="symbol">{signal.symbol.clone()}</td>
            <td class="muted">{signal.exchange.as_str()}</td>
            <td>
                <span class=strategy_class(signal.strategy)>{signal.strategy.as_str()}</span>
            </td>
            <td>
                <span class=action_class(signal.action)>{signal.action.as_str()}</span>
                {signal.wait.clone().map(|wait| view! {
                    <span class="wait-reason" title=wait.code data-testid="row-wait-reason">{wait.words}</span>
                })}
            </td>
            <td class="num score" title=SCORE_HELP>
                <span class="score-track">
                    <span class="score-fill" style:width=format!("{:.0}%", score.clamp(0.0, 100.0))></span>
                </span>
                {format::number(Some(score), 1)}
            </td>
            <td>
                <span class=bias_class(signal.bias)>{signal.bias.as_str()}</span>
            </td>
            <td class="num">{format::price(signal.price)}</td>
            <td class="num">{format::number(signal.rr, 2)}</td>
            <td class="num">{format::number(signal.rsi, 1)}</td>
            <td class="num">{format::signed(signal.oi_z, 2)}</td>
            <td
                class="num age"
                class:stale=stale
                title=move || if stale() { "stale: the last 15m candle is older than the configured intervals" } else { "" }
            >
                {age}
                {move || stale().then_some(" ⚠")}
            </td>
        </tr>
        {track}
    }
}

fn strategy_class(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Legacy => "strategy strategy-legacy",
        Strategy::Breakout => "strategy strategy-breakout",
        Strategy::BreakoutV2 => "strategy strategy-v2",
    }
}

/// Strategy, bias, minimum score and text search; the exchange is the
/// ExchangePanel's data source. Every change rewrites the URL. On a phone
/// the fields fold behind the "Filters" button (CSS hides the button and
/// shows the fields from 641 px up).
#[component]
pub fn FilterBar(view: Memo<TableView>) -> impl IntoView {
    let set_view = use_set_view();
    let update = move |change: &dyn Fn(&mut TableView)| {
        let mut next = view.get_untracked();
        change(&mut next);
        set_view(&next, false);
    };
    let strategy_now = move || view.with(|v| v.filter.strategy.map(|s| s.as_str()).unwrap_or(""));
    let bias_now = move || view.with(|v| v.filter.bias.map(|b| b.as_str()).unwrap_or(""));
    let action_now = move || view.with(|v| v.filter.action.map(|a| a.as_param()).unwrap_or(""));
    let min_now = move || {
        view.with(|v| {
            v.filter
                .min_score
                .map(|m| format!("{m}"))
                .unwrap_or_default()
        })
    };
    // The search box is not driven by the URL while typing (a late URL
    // update would fight the caret); it starts from the URL and is cleared
    // by "Clear filters" through this reference.
    let initial_text = view.get_untracked().filter.text;
    let search_box = NodeRef::<leptos::html::Input>::new();
    let strategy_options = Strategy::ALL
        .iter()
        .map(|s| {
            let value = s.as_str();
            view! {
                <option value=value selected=move || strategy_now() == value>
                    {value}
                </option>
            }
        })
        .collect_view();
    let bias_options = [Bias::Long, Bias::Short]
        .iter()
        .map(|b| {
            let value = b.as_str();
            view! {
                <option value=value selected=move || bias_now() == value>
                    {value}
                </option>
            }
        })
        .collect_view();
    let action_options = ActionFilter::ALL
        .iter()
        .map(|a| {
            let value = a.as_param();
            view! {
                <option value=value selected=move || action_now() == value>
                    {a.label()}
                </option>
            }
        })
        .collect_view();
    let update_action = update.clone();
    let update_strategy = update.clone();
    let update_bias = update.clone();
    let update_min = update.clone();
    let update_text = update.clone();
    let clear = update.clone();
    let open = RwSignal::new(false);
    let any_active = move || {
        view.with(|v| {
            v.filter.strategy.is_some()
                || v.filter.bias.is_some()
                || v.filter.action.is_some()
                || v.filter.min_score.is_some()
                || !v.filter.text.trim().is_empty()
        })
    };

    view! {
        <button
            class="btn btn-ghost filters-toggle"
            class:active=any_active
            aria-controls="filter-bar"
            aria-expanded=move || open.get().to_string()
            data-testid="filters-toggle"
            on:click=move |_| open.update(|o| *o = !*o)
        >
            {move || if any_active() { "Filters ●" } else { "Filters" }}
        </button>
        <div class="filter-bar" class:open=open id="filter-bar" data-testid="filter-bar">
            <label class="field" title="LONG and SHORT signals act; WAIT ones say why not">
                <span class="field-label">"Action"</span>
                <select
                    data-testid="filter-action"
                    prop:value=action_now
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        update_action(&|v| v.filter.action = ActionFilter::from_param(&value));
                    }
                >
                    <option value="" selected=move || action_now().is_empty()>
                        "All"
                    </option>
                    {action_options}
                </select>
            </label>
            <label class="field">
                <span class="field-label">"Strategy"</span>
                <select
                    data-testid="filter-strategy"
                    prop:value=strategy_now
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        update_strategy(&|v| v.filter.strategy = value.parse().ok());
                    }
                >
                    <option value="" selected=move || strategy_now().is_empty()>
                        "All"
                    </option>
                    {strategy_options}
                </select>
            </label>
            <label class="field">
                <span class="field-label">"Bias"</span>
                <select
                    data-testid="filter-bias"
                    prop:value=bias_now
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        update_bias(&|v| v.filter.bias = value.parse().ok());
                    }
                >
                    <option value="" selected=move || bias_now().is_empty()>
                        "All"
                    </option>
                    {bias_options}
                </select>
            </label>
            <label class="field" title="Hide signals whose total score (0–100) is below this">
                <span class="field-label">"Min score"</span>
                <input
                    class="input-narrow"
                    type="number"
                    min="0"
                    max="100"
                    step="5"
                    placeholder="0"
                    data-testid="filter-min-score"
                    value=min_now
                    prop:value=min_now
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        update_min(&|v| {
                            v.filter.min_score = value
                                .trim()
                                .parse::<f64>()
                                .ok()
                                .filter(|m| m.is_finite())
                                .map(|m| m.clamp(0.0, 100.0));
                        });
                    }
                />
            </label>
            <label class="field field-grow">
                <span class="field-label">"Search"</span>
                <input
                    type="search"
                    placeholder="Symbol, e.g. BTC"
                    data-testid="filter-search"
                    node_ref=search_box
                    value=initial_text
                    on:input=move |ev| {
                        let value = event_target_value(&ev);
                        update_text(&|v| v.filter.text = value.clone());
                    }
                />
            </label>
            <Show when=any_active>
                {
                    let clear = clear.clone();
                    view! {
                        <button
                            class="btn btn-ghost btn-small"
                            data-testid="filter-clear"
                            on:click=move |_| {
                                if let Some(input) = search_box.get_untracked() {
                                    input.set_value("");
                                }
                                clear(&|v| {
                                    let exchange = v.filter.exchange;
                                    v.filter = Default::default();
                                    v.filter.exchange = exchange;
                                })
                            }
                        >
                            "Clear filters"
                        </button>
                    }
                }
            </Show>
        </div>
    }
}

/// The row key that ↑/↓ select next among the `visible` rows (in table
/// order): the neighbour of the selected row, or the first row when none is
/// selected (or the selection is filtered out). Stays put at either end.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn next_row_key(visible: &[&TableRow], selected: Option<&str>, step: isize) -> Option<String> {
    let position = selected.and_then(|key| visible.iter().position(|row| row.key() == key));
    let index = match position {
        None => 0,
        Some(i) => (i as isize + step).clamp(0, visible.len() as isize - 1) as usize,
    };
    visible.get(index).map(|row| row.key())
}

/// Keyboard control of the table: ↓/j and ↑/k move the selection through
/// the rows shown, Esc closes the detail view. Keys typed into a field are
/// left alone. Browser only.
pub fn use_keyboard_navigation(view: Memo<TableView>, rows: StoredValue<Vec<TableRow>>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let set_view = use_set_view();
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
                return;
            }
            let in_field = ev
                .target()
                .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
                .is_some_and(|el| {
                    matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA")
                });
            if in_field {
                return;
            }
            let step = match ev.key().as_str() {
                "ArrowDown" | "j" => 1,
                "ArrowUp" | "k" => -1,
                "Escape" => 0,
                _ => return,
            };
            let mut next = view.get_untracked();
            next.selected = if step == 0 {
                None
            } else {
                rows.with_value(|all| {
                    let visible: Vec<&TableRow> =
                        next.visible_rows(all).into_iter().take(ROW_LIMIT).collect();
                    next_row_key(&visible, next.selected.as_deref(), step)
                })
            };
            if next.selected == view.get_untracked().selected {
                return;
            }
            ev.prevent_default();
            if let Some(key) = &next.selected {
                scroll_row_into_view(key);
            }
            set_view(&next, false);
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (view, rows);
}

/// Scrolls the table (not the page) so the row of `key` is visible below
/// the sticky header. Offsets are within `.table-wrap` (positioned in CSS).
#[cfg(feature = "hydrate")]
pub fn scroll_row_into_view(key: &str) {
    use leptos::web_sys::HtmlElement;
    use wasm_bindgen::JsCast;
    let html =
        |el: Option<leptos::web_sys::Element>| el.and_then(|e| e.dyn_into::<HtmlElement>().ok());
    let selector = format!("tr.signal-row[data-key=\"{key}\"]");
    let Some(row) = html(document().query_selector(&selector).ok().flatten()) else {
        return;
    };
    let Some(wrap) = html(row.closest(".table-wrap").ok().flatten()) else {
        return;
    };
    let table_top = html(row.closest("table").ok().flatten()).map_or(0, |t| t.offset_top());
    let header = html(wrap.query_selector("thead").ok().flatten()).map_or(0, |h| h.offset_height());
    let top = table_top + row.offset_top();
    let bottom = top + row.offset_height();
    let view_top = wrap.scroll_top() + header;
    let view_bottom = wrap.scroll_top() + wrap.client_height();
    if top < view_top {
        wrap.set_scroll_top(top - header);
    } else if bottom > view_bottom {
        wrap.set_scroll_top(bottom - wrap.client_height());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::fixtures::sample_signal;

    fn rows(symbols: &[&str]) -> Vec<TableRow> {
        symbols
            .iter()
            .map(|s| TableRow::from(&sample_signal(s, Strategy::Legacy)))
            .collect()
    }

    #[test]
    fn arrows_walk_the_visible_rows_and_stop_at_the_ends() {
        let all = rows(&["AUSDT", "BUSDT", "CUSDT"]);
        let visible: Vec<&TableRow> = all.iter().collect();
        let key = |i: usize| all[i].key();
        assert_eq!(next_row_key(&visible, None, 1), Some(key(0)));
        assert_eq!(next_row_key(&visible, Some(&key(0)), 1), Some(key(1)));
        assert_eq!(next_row_key(&visible, Some(&key(2)), 1), Some(key(2)));
        assert_eq!(next_row_key(&visible, Some(&key(1)), -1), Some(key(0)));
        assert_eq!(next_row_key(&visible, Some(&key(0)), -1), Some(key(0)));
        // A selection hidden by the filters restarts at the top.
        assert_eq!(
            next_row_key(&visible, Some("BINANCE:ZZZ:Legacy"), 1),
            Some(key(0))
        );
        assert_eq!(next_row_key(&[], None, 1), None);
    }
}
