//! ScannerTable: one row per signal, sortable by clicking a column header;
//! clicking a row selects it.

use super::format;
use crate::model::{Action, Signal};
use leptos::prelude::*;
use std::cmp::Ordering;

/// Columns the table can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Score,
    Symbol,
    Rr,
    Rsi,
    OiZ,
    Age,
}

impl SortKey {
    /// Whether a first click sorts descending (numbers: biggest first).
    fn descending_by_default(self) -> bool {
        !matches!(self, SortKey::Symbol | SortKey::Age)
    }
}

/// Sorts signals by `key`; undefined values sort last whatever the direction.
pub fn sort_signals(signals: &mut [Signal], key: SortKey, descending: bool) {
    signals.sort_by(|a, b| {
        let ordering = match key {
            SortKey::Symbol => Some(a.symbol.cmp(&b.symbol)),
            _ => compare_optional(sort_value(a, key), sort_value(b, key), descending),
        };
        let ordering = ordering.unwrap_or(Ordering::Equal);
        if descending && key == SortKey::Symbol {
            ordering.reverse()
        } else {
            ordering
        }
    });
}

fn sort_value(signal: &Signal, key: SortKey) -> Option<f64> {
    match key {
        SortKey::Score => Some(signal.score),
        SortKey::Rr => signal.setup.as_ref().map(|s| s.rr),
        SortKey::Rsi => signal.ltf.rsi,
        SortKey::OiZ => signal
            .observability
            .score_composition
            .oi_z_score_valid
            .then_some(signal.observability.score_composition.oi_z_score),
        // Older candle = larger age = smaller open time.
        SortKey::Age => signal.ltf.last_candle_time.map(|t| -(t as f64)),
        SortKey::Symbol => None,
    }
}

fn compare_optional(a: Option<f64>, b: Option<f64>, descending: bool) -> Option<Ordering> {
    Some(match (a, b) {
        (Some(x), Some(y)) => {
            let ord = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
            if descending {
                ord.reverse()
            } else {
                ord
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    })
}

/// The row key shared by the table, the URL and the share page.
pub fn row_key(signal: &Signal) -> String {
    format!("{}:{}:{}", signal.exchange, signal.symbol, signal.strategy)
}

#[component]
pub fn ScannerTable(signals: Vec<Signal>, now_ms: i64) -> impl IntoView {
    let sort_key = RwSignal::new(SortKey::Score);
    let descending = RwSignal::new(true);
    let selected = RwSignal::new(None::<String>);
    let signals = StoredValue::new(signals);

    let rows = move || {
        let mut rows = signals.get_value();
        sort_signals(&mut rows, sort_key.get(), descending.get());
        rows
    };
    let on_sort = move |key: SortKey| {
        if sort_key.get_untracked() == key {
            descending.update(|d| *d = !*d);
        } else {
            sort_key.set(key);
            descending.set(key.descending_by_default());
        }
    };
    let header = move |key: SortKey, label: &'static str| {
        let arrow = move || match (sort_key.get() == key, descending.get()) {
            (false, _) => "",
            (true, true) => " ▼",
            (true, false) => " ▲",
        };
        view! {
            <th
                class="sortable"
                class:sorted=move || sort_key.get() == key
                on:click=move |_| on_sort(key)
            >
                {label}
                {arrow}
            </th>
        }
    };

    view! {
        <table class="scanner-table" data-testid="scanner-table">
            <thead>
                <tr>
                    {header(SortKey::Symbol, "Symbol")}
                    <th>"Exchange"</th>
                    <th>"Strategy"</th>
                    <th>"Action"</th>
                    {header(SortKey::Score, "Score")}
                    <th>"Bias"</th>
                    <th class="num">"Price"</th>
                    {header(SortKey::Rr, "RR")}
                    {header(SortKey::Rsi, "RSI")}
                    {header(SortKey::OiZ, "OI z")}
                    {header(SortKey::Age, "Age")}
                </tr>
            </thead>
            <tbody>
                {move || {
                    let rows = rows();
                    if rows.is_empty() {
                        return view! {
                            <tr class="empty-row">
                                <td colspan="11">"No signals."</td>
                            </tr>
                        }
                            .into_any();
                    }
                    rows.into_iter()
                        .map(|signal| {
                            let key = row_key(&signal);
                            view! { <SignalRow signal key selected now_ms /> }
                        })
                        .collect_view()
                        .into_any()
                }}
            </tbody>
        </table>
    }
}

#[component]
fn SignalRow(signal: Signal, key: String, selected: RwSignal<Option<String>>, now_ms: i64) -> impl IntoView {
    let action_class = match signal.action {
        Action::Long => "action action-long",
        Action::Short => "action action-short",
        Action::Wait => "action action-wait",
    };
    let age = signal.ltf.last_candle_time.map(|t| format::age((now_ms - t) / 1000));
    let stale = signal.ltf.stale;
    let oi = &signal.observability.score_composition;
    let oi_z = oi.oi_z_score_valid.then_some(oi.oi_z_score);
    let is_selected = {
        let key = key.clone();
        move || selected.get().as_deref() == Some(key.as_str())
    };
    let select_key = key.clone();
    view! {
        <tr
            class="signal-row"
            class:selected=is_selected
            data-key=key
            on:click=move |_| selected.set(Some(select_key.clone()))
        >
            <td class="symbol">{signal.symbol.clone()}</td>
            <td>{signal.exchange.as_str()}</td>
            <td>{signal.strategy.as_str()}</td>
            <td>
                <span class=action_class>{signal.action.as_str()}</span>
            </td>
            <td class="num score">{format::number(Some(signal.score), 1)}</td>
            <td>{signal.bias.as_str()}</td>
            <td class="num">{format::price(signal.price)}</td>
            <td class="num">{format::number(signal.setup.as_ref().map(|s| s.rr), 2)}</td>
            <td class="num">{format::number(signal.ltf.rsi, 1)}</td>
            <td class="num">{format::number(oi_z, 2)}</td>
            <td class="num" class:stale=stale title=if stale { "stale: last candle older than two intervals" } else { "" }>
                {age.unwrap_or_else(|| "—".to_string())}
                {stale.then_some(" ⚠")}
            </td>
        </tr>
    }
}
