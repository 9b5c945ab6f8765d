//! What the ScannerTable shows: one `TableRow` per signal (the columns
//! only: the page carries these, not whole signals), the filters, the sort
//! order and the selected row, and how they are written in the page URL
//! (`/?ex=BINANCE&strategy=Breakout&bias=LONG&min=50&q=btc&sort=rr&dir=asc&sel=BINANCE:BTCUSDT:Legacy`)
//! so that a view can be shared as a link. Pure logic over the shared model:
//! the components read a `TableView` from the URL, render
//! `TableView::visible_rows`, and write a changed view back with `to_params`.

use crate::{Action, Bias, Exchange, Signal, Staleness, Strategy};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// The columns of one signal in the ScannerTable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRow {
    pub symbol: String,
    pub canonical_symbol: String,
    pub exchange: Exchange,
    pub strategy: Strategy,
    pub action: Action,
    pub bias: Bias,
    /// Total score 0..100.
    pub score: f64,
    /// Last closed 15m close.
    pub price: f64,
    /// The setup's reward/risk; `None` without a setup.
    pub rr: Option<f64>,
    /// RSI(14) of the last closed 15m candle.
    pub rsi: Option<f64>,
    /// OI z-score when valid.
    pub oi_z: Option<f64>,
    /// Open time (Unix ms) of the last closed 15m candle.
    pub last_candle_time: Option<i64>,
    /// Stale when the scan ran (`ltf.stale`); see `is_stale_at` for now.
    pub stale: bool,
    /// The strategy's track record on this symbol and overall, worded on
    /// the server from the signal journal ("Breakout on SOLUSDT: 14
    /// trades, 57% win, +0.41 R avg · all symbols: ..."); `None` while the
    /// journal holds no trade of the strategy, or cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<String>,
    /// Why a WAIT row waits: its first `wait_reasons` code, and the same
    /// in words (worded on the server; the code until then). `None` for
    /// LONG and SHORT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitNote>,
}

/// The main reason a signal waits, as its code and in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitNote {
    pub code: String,
    pub words: String,
}

impl From<&Signal> for TableRow {
    fn from(signal: &Signal) -> TableRow {
        let composition = &signal.observability.score_composition;
        TableRow {
            symbol: signal.symbol.clone(),
            canonical_symbol: signal.canonical_symbol.clone(),
            exchange: signal.exchange,
            strategy: signal.strategy,
            action: signal.action,
            bias: signal.bias,
            score: signal.score,
            price: signal.price,
            rr: signal.setup.as_ref().map(|s| s.rr),
            rsi: signal.ltf.rsi,
            oi_z: composition
                .oi_z_score_valid
                .then_some(composition.oi_z_score),
            last_candle_time: signal.ltf.last_candle_time,
            stale: signal.ltf.stale,
            track: None,
            wait: (signal.action == Action::Wait)
                .then(|| signal.wait_reasons.first())
                .flatten()
                .map(|code| WaitNote {
                    code: code.clone(),
                    words: code.clone(),
                }),
        }
    }
}

impl TableRow {
    /// See `row_key`.
    pub fn key(&self) -> String {
        signal_key(self.exchange, &self.symbol, self.strategy)
    }

    /// How old the row's data is, as a small copyable value for the
    /// cells that follow the page's clock.
    pub fn data_age(&self) -> DataAge {
        DataAge {
            last_candle_time: self.last_candle_time,
            stale_at_scan: self.stale,
        }
    }
}

/// The age of a row's data: its last 15m candle and whether the scan found
/// it stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataAge {
    pub last_candle_time: Option<i64>,
    pub stale_at_scan: bool,
}

impl DataAge {
    /// Seconds since the last 15m candle opened; `None` without one.
    pub fn seconds_at(&self, now_ms: i64) -> Option<i64> {
        self.last_candle_time
            .map(|t| now_ms.saturating_sub(t) / 1000)
    }

    /// Stale at `now_ms`: it was at scan time, or the last 15m candle
    /// opened more than `stale_after_ms` ago (the scan's rule,
    /// `data.stale_intervals` x 15 min, applied to the clock of a page left
    /// open).
    pub fn is_stale_at(&self, now_ms: i64, stale_after_ms: i64) -> bool {
        self.stale_at_scan
            || self.last_candle_time.is_some_and(|t| {
                Staleness {
                    after_ms: stale_after_ms,
                }
                .is_stale(t, now_ms)
            })
    }
}

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
    pub const ALL: [SortKey; 6] = [
        SortKey::Score,
        SortKey::Symbol,
        SortKey::Rr,
        SortKey::Rsi,
        SortKey::OiZ,
        SortKey::Age,
    ];

    /// The spelling in the URL (`sort=oiz`).
    pub fn as_param(self) -> &'static str {
        match self {
            SortKey::Score => "score",
            SortKey::Symbol => "symbol",
            SortKey::Rr => "rr",
            SortKey::Rsi => "rsi",
            SortKey::OiZ => "oiz",
            SortKey::Age => "age",
        }
    }

    pub fn from_param(text: &str) -> Option<SortKey> {
        SortKey::ALL
            .into_iter()
            .find(|key| key.as_param().eq_ignore_ascii_case(text))
    }

    /// Whether a first click sorts descending: numbers biggest first, symbols
    /// A to Z, ages freshest first.
    pub fn descending_by_default(self) -> bool {
        !matches!(self, SortKey::Symbol | SortKey::Age)
    }
}

/// Which actions the table lists (`act=` in the URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionFilter {
    Long,
    Short,
    /// LONG or SHORT.
    Actionable,
    Wait,
}

impl ActionFilter {
    pub const ALL: [ActionFilter; 4] = [
        ActionFilter::Actionable,
        ActionFilter::Long,
        ActionFilter::Short,
        ActionFilter::Wait,
    ];

    /// The spelling in the URL and the filter's `<option value>`.
    pub fn as_param(self) -> &'static str {
        match self {
            ActionFilter::Long => "long",
            ActionFilter::Short => "short",
            ActionFilter::Actionable => "actionable",
            ActionFilter::Wait => "wait",
        }
    }

    /// The filter's option text.
    pub fn label(self) -> &'static str {
        match self {
            ActionFilter::Long => "LONG",
            ActionFilter::Short => "SHORT",
            ActionFilter::Actionable => "LONG or SHORT",
            ActionFilter::Wait => "WAIT",
        }
    }

    pub fn from_param(text: &str) -> Option<ActionFilter> {
        ActionFilter::ALL
            .into_iter()
            .find(|filter| filter.as_param().eq_ignore_ascii_case(text))
    }

    pub fn admits(self, action: Action) -> bool {
        match self {
            ActionFilter::Long => action == Action::Long,
            ActionFilter::Short => action == Action::Short,
            ActionFilter::Actionable => action != Action::Wait,
            ActionFilter::Wait => action == Action::Wait,
        }
    }
}

/// Which signals the table lists; `None` / empty means "all".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignalFilter {
    /// The data source chosen in the ExchangePanel.
    pub exchange: Option<Exchange>,
    pub strategy: Option<Strategy>,
    pub bias: Option<Bias>,
    pub action: Option<ActionFilter>,
    /// Lowest total score (0..100) shown.
    pub min_score: Option<f64>,
    /// Case-insensitive part of the symbol or its base asset.
    pub text: String,
}

impl SignalFilter {
    pub fn matches(&self, signal: &TableRow) -> bool {
        self.exchange.is_none_or(|e| signal.exchange == e)
            && self.strategy.is_none_or(|s| signal.strategy == s)
            && self.bias.is_none_or(|b| signal.bias == b)
            && self.action.is_none_or(|a| a.admits(signal.action))
            && self.min_score.is_none_or(|min| signal.score >= min)
            && self.matches_text(signal)
    }

    fn matches_text(&self, signal: &TableRow) -> bool {
        let needle = self.text.trim();
        if needle.is_empty() {
            return true;
        }
        let needle = needle.to_ascii_lowercase();
        signal.symbol.to_ascii_lowercase().contains(&needle)
            || signal
                .canonical_symbol
                .to_ascii_lowercase()
                .contains(&needle)
    }

    /// True when nothing is filtered out.
    pub fn is_empty(&self) -> bool {
        *self == SignalFilter::default()
    }
}

/// The whole table state that lives in the URL.
#[derive(Debug, Clone, PartialEq)]
pub struct TableView {
    pub filter: SignalFilter,
    pub sort: SortKey,
    pub descending: bool,
    /// `row_key` of the selected signal, whose detail view is open.
    pub selected: Option<String>,
}

impl Default for TableView {
    fn default() -> Self {
        TableView {
            filter: SignalFilter::default(),
            sort: SortKey::Score,
            descending: true,
            selected: None,
        }
    }
}

/// The query parameters a `TableView` owns; others (such as `panel`) are kept.
pub const VIEW_PARAMS: [&str; 9] = [
    "ex", "strategy", "bias", "act", "min", "q", "sort", "dir", "sel",
];

impl TableView {
    /// Reads the view from query parameters (`get` answers a parameter's
    /// raw value). A value that does not parse (an old or hand-edited
    /// link) falls back to its default instead of failing the page.
    pub fn from_query<'a>(get: impl Fn(&str) -> Option<&'a str>) -> TableView {
        let value = |key: &str| get(key).map(str::trim).filter(|v| !v.is_empty());
        let sort = value("sort")
            .and_then(SortKey::from_param)
            .unwrap_or(SortKey::Score);
        let descending = match value("dir") {
            Some(dir) if dir.eq_ignore_ascii_case("asc") => false,
            Some(dir) if dir.eq_ignore_ascii_case("desc") => true,
            _ => sort.descending_by_default(),
        };
        TableView {
            filter: SignalFilter {
                exchange: value("ex").and_then(|v| v.parse().ok()),
                strategy: value("strategy").and_then(|v| v.parse().ok()),
                bias: value("bias").and_then(|v| v.parse().ok()),
                action: value("act").and_then(ActionFilter::from_param),
                min_score: value("min")
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite())
                    .map(|v| v.clamp(0.0, 100.0)),
                text: get("q").unwrap_or_default().to_string(),
            },
            sort,
            descending,
            selected: value("sel").map(str::to_string),
        }
    }

    /// The view's own query parameters, in URL order. Defaults are left
    /// out, so the plain dashboard URL stays `/`.
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let f = &self.filter;
        let dir = if self.descending { "desc" } else { "asc" };
        [
            ("ex", f.exchange.map(|e| e.as_str().to_string())),
            ("strategy", f.strategy.map(|s| s.as_str().to_string())),
            ("bias", f.bias.map(|b| b.as_str().to_string())),
            ("act", f.action.map(|a| a.as_param().to_string())),
            ("min", f.min_score.map(format_min_score)),
            ("q", Some(f.text.clone()).filter(|t| !t.trim().is_empty())),
            (
                "sort",
                (self.sort != SortKey::Score).then(|| self.sort.as_param().to_string()),
            ),
            (
                "dir",
                (self.descending != self.sort.descending_by_default()).then(|| dir.to_string()),
            ),
            ("sel", self.selected.clone()),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.map(|value| (key, value)))
        .collect()
    }

    /// The view after a click on the header of `key`: the same column flips
    /// its direction, another column starts in its default direction.
    pub fn sorted_by(&self, key: SortKey) -> TableView {
        let descending = if self.sort == key {
            !self.descending
        } else {
            key.descending_by_default()
        };
        TableView {
            sort: key,
            descending,
            ..self.clone()
        }
    }

    /// The signals that pass the filter, in the chosen order.
    pub fn visible_rows<'a>(&self, signals: &'a [TableRow]) -> Vec<&'a TableRow> {
        let mut rows: Vec<&TableRow> = signals.iter().filter(|s| self.filter.matches(s)).collect();
        sort_rows(&mut rows, self.sort, self.descending);
        rows
    }
}

/// `60` rather than `60.0`, `52.5` as is.
fn format_min_score(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// Sorts rows by `key`; undefined values (no setup, no RSI, invalid OI
/// z-score) sort last whatever the direction. By score (the default order)
/// the signals that act, LONG and SHORT, come before the WAITs whatever the
/// direction. The sort is stable, so ties keep the feed's order (best score
/// first).
pub fn sort_rows(rows: &mut [&TableRow], key: SortKey, descending: bool) {
    rows.sort_by(|a, b| {
        if key == SortKey::Score {
            let waits = |row: &TableRow| row.action == Action::Wait;
            let actionable_first = waits(a).cmp(&waits(b));
            if actionable_first != Ordering::Equal {
                return actionable_first;
            }
        }
        let ordering = match key {
            SortKey::Symbol => a.symbol.cmp(&b.symbol),
            _ => return compare_optional(sort_value(a, key), sort_value(b, key), descending),
        };
        if descending {
            ordering.reverse()
        } else {
            ordering
        }
    });
}

fn sort_value(row: &TableRow, key: SortKey) -> Option<f64> {
    match key {
        SortKey::Score => Some(row.score),
        SortKey::Rr => row.rr,
        SortKey::Rsi => row.rsi,
        SortKey::OiZ => row.oi_z,
        // Older candle = larger age = smaller open time.
        SortKey::Age => row.last_candle_time.map(|t| -(t as f64)),
        SortKey::Symbol => None,
    }
}

fn compare_optional(a: Option<f64>, b: Option<f64>, descending: bool) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => {
            let ord = x.total_cmp(&y);
            if descending {
                ord.reverse()
            } else {
                ord
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The row key shared by the table (`data-key`), the URL (`sel=`) and the
/// share page: `EXCHANGE:SYMBOL:Strategy`.
pub fn row_key(signal: &Signal) -> String {
    signal_key(signal.exchange, &signal.symbol, signal.strategy)
}

pub fn signal_key(exchange: Exchange, symbol: &str, strategy: Strategy) -> String {
    format!("{exchange}:{symbol}:{strategy}")
}

/// The parts of a row key; `None` when it names no exchange or strategy.
pub fn parse_row_key(key: &str) -> Option<(Exchange, String, Strategy)> {
    let (exchange, rest) = key.split_once(':')?;
    let (symbol, strategy) = rest.rsplit_once(':')?;
    if symbol.is_empty() {
        return None;
    }
    Some((
        exchange.parse().ok()?,
        symbol.to_string(),
        strategy.parse().ok()?,
    ))
}

/// The path of a signal's share page.
pub fn share_path(exchange: Exchange, symbol: &str, strategy: Strategy) -> String {
    format!("/signal/{}/{}/{}", exchange, symbol, strategy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::sample_signal;
    use crate::TradeSetup;

    fn signal(symbol: &str, strategy: Strategy, score: f64, bias: Bias) -> Signal {
        let mut s = sample_signal(symbol, strategy);
        s.score = score;
        s.total_score = score;
        s.bias = bias;
        s
    }

    fn feed() -> Vec<TableRow> {
        signals().iter().map(TableRow::from).collect()
    }

    fn signals() -> Vec<Signal> {
        let mut eth = signal("ETHUSDT", Strategy::Breakout, 72.0, Bias::Short);
        eth.setup = None;
        eth.ltf.rsi = Some(63.0);
        let mut sol = signal("SOL_USDT", Strategy::BreakoutV2, 55.0, Bias::Long);
        sol.exchange = Exchange::Mexc;
        sol.setup = Some(TradeSetup {
            rr: 3.1,
            ..sol.setup.unwrap()
        });
        sol.ltf.rsi = None;
        vec![
            signal("BTCUSDT", Strategy::Legacy, 61.25, Bias::Long),
            eth,
            sol,
        ]
    }

    fn symbols(rows: &[&TableRow]) -> Vec<String> {
        rows.iter().map(|s| s.symbol.clone()).collect()
    }

    #[test]
    fn filters_combine() {
        let signals = feed();
        let mut view = TableView::default();
        assert_eq!(
            symbols(&view.visible_rows(&signals)),
            ["ETHUSDT", "BTCUSDT", "SOL_USDT"]
        );
        view.filter.bias = Some(Bias::Long);
        assert_eq!(
            symbols(&view.visible_rows(&signals)),
            ["BTCUSDT", "SOL_USDT"]
        );
        view.filter.min_score = Some(60.0);
        assert_eq!(symbols(&view.visible_rows(&signals)), ["BTCUSDT"]);
        view.filter = SignalFilter {
            exchange: Some(Exchange::Mexc),
            ..Default::default()
        };
        assert_eq!(symbols(&view.visible_rows(&signals)), ["SOL_USDT"]);
        view.filter = SignalFilter {
            strategy: Some(Strategy::Breakout),
            ..Default::default()
        };
        assert_eq!(symbols(&view.visible_rows(&signals)), ["ETHUSDT"]);
        // The text matches the exchange symbol or the base asset, in any case.
        view.filter = SignalFilter {
            text: " sol ".into(),
            ..Default::default()
        };
        assert_eq!(symbols(&view.visible_rows(&signals)), ["SOL_USDT"]);
        view.filter.text = "Eth".into();
        assert_eq!(symbols(&view.visible_rows(&signals)), ["ETHUSDT"]);
        view.filter.text = "doge".into();
        assert!(view.visible_rows(&signals).is_empty());
    }

    #[test]
    fn sorting_puts_undefined_values_last_in_both_directions() {
        let signals = feed();
        let by = |key, descending| {
            let view = TableView {
                sort: key,
                descending,
                ..TableView::default()
            };
            symbols(&view.visible_rows(&signals))
        };
        // ETH has no setup (no RR).
        assert_eq!(by(SortKey::Rr, true), ["SOL_USDT", "BTCUSDT", "ETHUSDT"]);
        assert_eq!(by(SortKey::Rr, false), ["BTCUSDT", "SOL_USDT", "ETHUSDT"]);
        // SOL has no RSI.
        assert_eq!(by(SortKey::Rsi, true), ["ETHUSDT", "BTCUSDT", "SOL_USDT"]);
        assert_eq!(by(SortKey::Rsi, false), ["BTCUSDT", "ETHUSDT", "SOL_USDT"]);
        assert_eq!(
            by(SortKey::Symbol, false),
            ["BTCUSDT", "ETHUSDT", "SOL_USDT"]
        );
        assert_eq!(
            by(SortKey::Symbol, true),
            ["SOL_USDT", "ETHUSDT", "BTCUSDT"]
        );
        assert_eq!(
            by(SortKey::Score, false),
            ["SOL_USDT", "BTCUSDT", "ETHUSDT"]
        );
    }

    #[test]
    fn signals_that_act_come_first_and_the_action_filter_picks_them() {
        let mut signals = signals();
        // The best score waits: it still comes after LONG and SHORT.
        signals[1].score = 99.0;
        signals[1].action = Action::Wait;
        signals[1].wait_reasons = vec!["no_breakout".into()];
        signals[2].action = Action::Short;
        let rows: Vec<TableRow> = signals.iter().map(TableRow::from).collect();
        let view = |action: Option<ActionFilter>, descending: bool| {
            let view = TableView {
                filter: SignalFilter {
                    action,
                    ..SignalFilter::default()
                },
                descending,
                ..TableView::default()
            };
            symbols(&view.visible_rows(&rows))
        };
        assert_eq!(view(None, true), ["BTCUSDT", "SOL_USDT", "ETHUSDT"]);
        assert_eq!(view(None, false), ["SOL_USDT", "BTCUSDT", "ETHUSDT"]);
        assert_eq!(
            view(Some(ActionFilter::Actionable), true),
            ["BTCUSDT", "SOL_USDT"]
        );
        assert_eq!(view(Some(ActionFilter::Short), true), ["SOL_USDT"]);
        assert_eq!(view(Some(ActionFilter::Long), true), ["BTCUSDT"]);
        assert_eq!(view(Some(ActionFilter::Wait), true), ["ETHUSDT"]);
        let wait = rows[1].wait.clone().unwrap();
        assert_eq!(wait.code, "no_breakout");
        assert!(rows[0].wait.is_none(), "a LONG does not wait");
        let link = TableView {
            filter: SignalFilter {
                action: Some(ActionFilter::Actionable),
                ..SignalFilter::default()
            },
            ..TableView::default()
        };
        let pairs = link.query_pairs();
        assert_eq!(pairs, [("act", "actionable".to_string())]);
        let parsed = TableView::from_query(|key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
        });
        assert_eq!(parsed, link);
    }

    #[test]
    fn a_row_turns_stale_as_the_clock_passes_the_limit() {
        let mut signals = signals();
        signals[0].ltf.last_candle_time = Some(1_000_000);
        signals[0].ltf.stale = false;
        signals[1].ltf.last_candle_time = None;
        signals[1].ltf.stale = false;
        signals[2].ltf.stale = true;
        let ages: Vec<DataAge> = signals
            .iter()
            .map(|s| TableRow::from(s).data_age())
            .collect();
        let limit = 1_800_000; // 2 x 15 min
        assert!(!ages[0].is_stale_at(1_000_000 + limit, limit));
        assert!(ages[0].is_stale_at(1_000_000 + limit + 1, limit));
        assert_eq!(ages[0].seconds_at(1_000_000 + limit), Some(1800));
        assert!(
            !ages[1].is_stale_at(i64::MAX, limit),
            "no candle time, no age"
        );
        assert_eq!(ages[1].seconds_at(i64::MAX), None);
        assert!(
            ages[2].is_stale_at(0, limit),
            "stale at scan time stays stale"
        );
    }

    #[test]
    fn age_sorts_freshest_first_and_oi_z_needs_a_valid_value() {
        let mut signals = signals();
        signals[0].ltf.last_candle_time = Some(1_000);
        signals[1].ltf.last_candle_time = Some(3_000);
        signals[2].ltf.last_candle_time = Some(2_000);
        let rows: Vec<TableRow> = signals.iter().map(TableRow::from).collect();
        let view = TableView::default().sorted_by(SortKey::Age);
        assert_eq!(
            symbols(&view.visible_rows(&rows)),
            ["ETHUSDT", "SOL_USDT", "BTCUSDT"]
        );

        signals[0].observability.score_composition.oi_z_score = 2.0;
        signals[0].observability.score_composition.oi_z_score_valid = true;
        signals[1].observability.score_composition.oi_z_score = 9.0; // invalid: ignored
        signals[2].observability.score_composition.oi_z_score = -1.0;
        signals[2].observability.score_composition.oi_z_score_valid = true;
        let rows: Vec<TableRow> = signals.iter().map(TableRow::from).collect();
        assert_eq!(rows[1].oi_z, None);
        let view = TableView::default().sorted_by(SortKey::OiZ);
        assert_eq!(
            symbols(&view.visible_rows(&rows)),
            ["BTCUSDT", "SOL_USDT", "ETHUSDT"]
        );
    }

    #[test]
    fn row_keys_round_trip_even_with_underscores() {
        let mut s = sample_signal("BTC_USDT", Strategy::BreakoutV2);
        s.exchange = Exchange::Mexc;
        let key = row_key(&s);
        assert_eq!(key, "MEXC:BTC_USDT:BreakoutV2");
        assert_eq!(TableRow::from(&s).key(), key);
        assert_eq!(
            parse_row_key(&key),
            Some((Exchange::Mexc, "BTC_USDT".to_string(), Strategy::BreakoutV2))
        );
        assert_eq!(parse_row_key("MEXC::Legacy"), None);
        assert_eq!(parse_row_key("KRAKEN:BTC:Legacy"), None);
        assert_eq!(parse_row_key("garbage"), None);
        assert_eq!(
            share_path(Exchange::Binance, "ETHUSDT", Strategy::Legacy),
            "/signal/BINANCE/ETHUSDT/Legacy"
        );
    }
}
