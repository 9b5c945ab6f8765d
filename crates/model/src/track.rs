//! The track record of STRATEGIES.md §6: the trades that signals opened, how
//! each one ended, the statistics of groups of them, and the backtest report
//! that carries trades and statistics together.
//!
//! Plain serde types shared by the server (the replay in `core::backtest`,
//! resolution and statistics in `core::track`, the signal journal) and the
//! browser (the Track Record page). The rules that fill them live in
//! `core::track`; here are only the shapes and their names, so this
//! compiles to WASM.

use super::config::ScannerConfig;
use super::enums::{string_enum, Exchange, Side, Strategy, UnknownVariant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

string_enum!(
    /// How a trade ended: `win` (target hit), `loss` (stop hit, also when
    /// one candle touched both), `expired` (neither within `track.max_bars`
    /// candles), or `open` (the data ends first).
    Outcome { Win => "win", Loss => "loss", Expired => "expired", Open => "open" }
);

string_enum!(
    /// Who opened a trade: a scan of the live data (`live`: the CLI, the
    /// dashboard, the live loop) or `quantpro backtest --journal`
    /// (`backtest`). The journal records it; the track record can be read
    /// for either.
    Origin { Live => "live", Backtest => "backtest" }
);

string_enum!(
    /// The calibration buckets of the signal's total score at the opening:
    /// `[0, 50)`, `[50, 60)`, ..., `[90, 100]` (100 falls in the last).
    ScoreBucket {
        Below50 => "0-50",
        From50 => "50-60",
        From60 => "60-70",
        From70 => "70-80",
        From80 => "80-90",
        From90 => "90-100",
    }
);

impl ScoreBucket {
    /// The bucket of a total score (scores are clamped to 0..100, so
    /// anything below 50 is the first bucket and 90 or more the last).
    pub fn of(score: f64) -> ScoreBucket {
        match score {
            s if s >= 90.0 => ScoreBucket::From90,
            s if s >= 80.0 => ScoreBucket::From80,
            s if s >= 70.0 => ScoreBucket::From70,
            s if s >= 60.0 => ScoreBucket::From60,
            s if s >= 50.0 => ScoreBucket::From50,
            _ => ScoreBucket::Below50,
        }
    }
}

/// One trade of one (symbol, exchange, strategy): the fields of the
/// backtest report's `trades` (STRATEGIES.md §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    pub exchange: Exchange,
    /// The symbol as the exchange spells it (`BTCUSDT`, `BTC_USDT`, `BTC`).
    pub symbol: String,
    pub strategy: Strategy,
    pub side: Side,
    /// Open time (Unix ms) of the LTF candle at whose close the signal
    /// fired; the fill is assumed at that close.
    pub opened_at: i64,
    /// The signal's setup.
    pub entry: f64,
    pub sl: f64,
    pub tp: f64,
    pub rr: f64,
    /// The signal's total score at the opening.
    pub score: f64,
    pub outcome: Outcome,
    /// Open time of the resolution candle; null while open.
    pub closed_at: Option<i64>,
    /// Result in risk units after fees; null while open.
    pub r: Option<f64>,
    /// Largest favourable move from the entry in R (no fees), floored at 0.
    pub mfe_r: f64,
    /// Largest adverse move from the entry in R (no fees), floored at 0.
    pub mae_r: f64,
    /// LTF candles from the opening candle to the resolution candle; null while open.
    pub bars: Option<usize>,
}

impl Trade {
    /// Price distance from entry to stop: one R.
    pub fn risk(&self) -> f64 {
        (self.entry - self.sl).abs()
    }

    pub fn is_open(&self) -> bool {
        self.outcome == Outcome::Open
    }

    /// The `by_symbol` key, `EXCHANGE:SYMBOL` (e.g. `BINANCE:SOLUSDT`).
    pub fn symbol_key(&self) -> String {
        symbol_key(self.exchange, &self.symbol)
    }

    pub fn score_bucket(&self) -> ScoreBucket {
        ScoreBucket::of(self.score)
    }
}

/// `EXCHANGE:SYMBOL`, the key of a symbol's statistics.
pub fn symbol_key(exchange: Exchange, symbol: &str) -> String {
    format!("{exchange}:{symbol}")
}

/// The statistics of one group of trades (STRATEGIES.md §6). Closed trades
/// are counted; open ones only in `open`. With no closed trade the ratios
/// and averages are null and the sums 0 (`TradeStats::default()`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TradeStats {
    /// Closed trades.
    pub trades: usize,
    /// Closed trades with R > 0.
    pub wins: usize,
    /// Closed trades with R <= 0 (`wins + losses = trades`).
    pub losses: usize,
    /// Outcome `win` (target hit).
    pub tp_hits: usize,
    /// Outcome `loss` (stop hit).
    pub sl_hits: usize,
    /// Outcome `expired` (`tp_hits + sl_hits + expired = trades`).
    pub expired: usize,
    /// Trades still open: listed, never counted in the figures here.
    pub open: usize,
    /// wins / trades.
    pub win_rate: Option<f64>,
    /// Mean R.
    pub avg_r: Option<f64>,
    /// Sum of R.
    pub net_r: f64,
    /// Sum of positive R / |sum of negative R|; null without a negative R.
    pub profit_factor: Option<f64>,
    /// Largest fall of cumulative R from its running peak; cumulative R
    /// starts at 0 and takes one step per resolution candle (the sum of
    /// the group's trades that closed on it).
    pub max_drawdown_r: f64,
    /// Mean candles from the opening candle to the resolution candle.
    pub avg_bars: Option<f64>,
}

/// The statistics of every group of STRATEGIES.md §6. `by_strategy` holds
/// all three strategies, even without trades; the other maps only groups
/// with at least one trade, open ones included.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrackRecord {
    pub all: TradeStats,
    pub by_strategy: BTreeMap<Strategy, TradeStats>,
    pub by_exchange: BTreeMap<Exchange, TradeStats>,
    /// Keyed `EXCHANGE:SYMBOL` ([`symbol_key`]).
    pub by_symbol: BTreeMap<String, TradeStats>,
    pub by_score_bucket: BTreeMap<ScoreBucket, TradeStats>,
}

/// Which trades a track record covers (`GET /api/track-record`, the Track
/// Record page): any of strategy, exchange, symbol and origin, or all trades.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TrackQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchange>,
    /// As the exchange spells it; matched without regard to case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Live scans' trades or a backtest's; `None`: both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

impl TrackQuery {
    /// A query of these fields; a blank symbol means any symbol.
    pub fn new(
        strategy: Option<Strategy>,
        exchange: Option<Exchange>,
        symbol: Option<String>,
        origin: Option<Origin>,
    ) -> TrackQuery {
        TrackQuery {
            strategy,
            exchange,
            symbol: symbol.filter(|s| !s.trim().is_empty()),
            origin,
        }
    }

    /// The query of `value(name)` (a URL's parameters): an empty value
    /// (or `all`) means "all"; a name that is no strategy, exchange or
    /// origin is an error.
    /// The page and `GET /api/track-record` read their URLs with it.
    pub fn parse<'a>(
        value: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<TrackQuery, UnknownVariant> {
        let field = |name: &str| {
            value(name)
                .map(str::trim)
                .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("all"))
        };
        Ok(TrackQuery {
            strategy: field("strategy").map(str::parse).transpose()?,
            exchange: field("exchange").map(str::parse).transpose()?,
            symbol: field("symbol").map(str::to_ascii_uppercase),
            origin: field("origin").map(str::parse).transpose()?,
        })
    }

    /// The query string of the page and the API (`strategy=Breakout&...`),
    /// empty for all trades.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.strategy {
            parts.push(format!("strategy={s}"));
        }
        if let Some(e) = self.exchange {
            parts.push(format!("exchange={e}"));
        }
        if let Some(symbol) = &self.symbol {
            // Symbols are letters, digits, `_` and `-`; anything else is dropped
            // rather than escaped.
            let safe: String = symbol
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            parts.push(format!("symbol={safe}"));
        }
        if let Some(o) = self.origin {
            parts.push(format!("origin={o}"));
        }
        parts.join("&")
    }
}

/// What `quantpro backtest --out FILE` writes (STRATEGIES.md §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    /// Open time of the first LTF candle replayed (of any symbol); null when none was.
    pub from: Option<i64>,
    /// Open time of the last LTF candle replayed.
    pub to: Option<i64>,
    /// The configuration the replay ran with.
    pub config: ScannerConfig,
    /// Every trade, open ones included, by opening time.
    pub trades: Vec<Trade>,
    pub stats: TrackRecord,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::sample_trade as trade;

    #[test]
    fn trade_serializes_with_the_report_fields() {
        let json = serde_json::to_value(trade()).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expected = vec![
            "exchange",
            "symbol",
            "strategy",
            "side",
            "opened_at",
            "entry",
            "sl",
            "tp",
            "rr",
            "score",
            "outcome",
            "closed_at",
            "r",
            "mfe_r",
            "mae_r",
            "bars",
        ];
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
        assert_eq!(json["outcome"], "open");
        assert!(json["closed_at"].is_null() && json["r"].is_null() && json["bars"].is_null());
        assert_eq!(json["side"], "LONG");
        assert_eq!(json["exchange"], "BINANCE");
        let back: Trade = serde_json::from_value(json).unwrap();
        assert_eq!(back, trade());
        let t = trade();
        assert_eq!((t.risk(), t.symbol_key()), (2.0, "BINANCE:SOLUSDT".into()));
        assert_eq!(t.score_bucket(), ScoreBucket::From60);
    }

    #[test]
    fn track_queries_read_and_write_urls() {
        let pairs = [
            ("strategy", "breakout"),
            ("exchange", " "),
            ("symbol", " solusdt "),
            ("origin", "Backtest"),
        ];
        let get = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let q = TrackQuery::parse(get).unwrap();
        assert_eq!(
            q,
            TrackQuery {
                strategy: Some(Strategy::Breakout),
                exchange: None,
                symbol: Some("SOLUSDT".into()),
                origin: Some(Origin::Backtest),
            }
        );
        assert_eq!(
            q.to_query_string(),
            "strategy=Breakout&symbol=SOLUSDT&origin=backtest"
        );
        assert_eq!(TrackQuery::parse(|_| None).unwrap(), TrackQuery::default());
        let every = TrackQuery::parse(|k| (k == "origin").then_some("all")).unwrap();
        assert_eq!(every, TrackQuery::default(), "`all` is no filter");
        assert_eq!(TrackQuery::default().to_query_string(), "");
        let err = TrackQuery::parse(|k| (k == "strategy").then_some("Martingale")).unwrap_err();
        assert!(err.to_string().contains("Martingale"), "{err}");
        let err = TrackQuery::parse(|k| (k == "origin").then_some("replay")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown Origin 'replay' (expected one of: live, backtest)"
        );
    }

    #[test]
    fn outcomes_are_lowercase() {
        let names: Vec<String> = Outcome::ALL
            .iter()
            .map(|o| serde_json::to_string(o).unwrap())
            .collect();
        assert_eq!(names, ["\"win\"", "\"loss\"", "\"expired\"", "\"open\""]);
        assert_eq!("EXPIRED".parse::<Outcome>().unwrap(), Outcome::Expired);
        assert_eq!(Origin::Backtest.as_str(), "backtest");
        assert_eq!("LIVE".parse::<Origin>().unwrap(), Origin::Live);
    }

    #[test]
    fn score_buckets_have_closed_lower_bounds_and_100_in_the_last() {
        let cases = [
            (0.0, "0-50"),
            (49.999, "0-50"),
            (50.0, "50-60"),
            (59.9, "50-60"),
            (60.0, "60-70"),
            (70.0, "70-80"),
            (89.99, "80-90"),
            (90.0, "90-100"),
            (100.0, "90-100"),
        ];
        for (score, name) in cases {
            assert_eq!(ScoreBucket::of(score).as_str(), name, "{score}");
        }
        let order: Vec<&str> = ScoreBucket::ALL.iter().map(|b| b.as_str()).collect();
        assert_eq!(
            order,
            ["0-50", "50-60", "60-70", "70-80", "80-90", "90-100"]
        );
    }

    #[test]
    fn track_record_maps_are_keyed_by_the_contract_strings() {
        let mut record = TrackRecord::default();
        for strategy in Strategy::ALL {
            record.by_strategy.insert(*strategy, TradeStats::default());
        }
        record
            .by_exchange
            .insert(Exchange::Hyperliquid, TradeStats::default());
        record
            .by_score_bucket
            .insert(ScoreBucket::From50, TradeStats::default());
        record.by_symbol.insert(
            symbol_key(Exchange::Binance, "SOLUSDT"),
            TradeStats::default(),
        );
        let json = serde_json::to_value(&record).unwrap();
        let mut strategies: Vec<&String> =
            json["by_strategy"].as_object().unwrap().keys().collect();
        strategies.sort();
        assert_eq!(strategies, ["Breakout", "BreakoutV2", "Legacy"]);
        assert!(json["by_exchange"]["HYPERLIQUID"].is_object());
        assert!(json["by_score_bucket"]["50-60"].is_object());
        assert!(json["by_symbol"]["BINANCE:SOLUSDT"].is_object());
        let empty = &json["all"];
        assert_eq!(empty["trades"], 0);
        assert!(empty["win_rate"].is_null() && empty["profit_factor"].is_null());
        assert_eq!(empty["net_r"], 0.0);
        let back: TrackRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, record);
    }
}
