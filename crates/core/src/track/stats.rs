//! The statistics of STRATEGIES.md §6, computed with polars: trades become
//! a DataFrame (one row per trade), then one lazy group-by per grouping
//! (overall, strategy, exchange, symbol, score bucket) yields every figure.
//!
//! Closed trades are those with an R; open ones only add to `open`, so a
//! group of open trades alone is listed with null ratios. The drawdown
//! walks cumulative R from 0 in one step per resolution candle (the sum of
//! the group's trades that closed on it, so ties need no order).

use polars::prelude::*;
use quantpro_model::{Strategy, TrackRecord, Trade, TradeStats};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Why the statistics could not be computed (a polars failure: a bug, not bad input).
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("computing the trade statistics failed: {0}")]
    Polars(#[from] PolarsError),
    #[error("the statistics came back with an unknown group '{0}'")]
    UnknownGroup(String),
}

/// One row per trade with the report's fields, in the report's order
/// (`closed_at`, `r` and `bars` null while open).
pub fn trades_frame(trades: &[Trade]) -> PolarsResult<DataFrame> {
    let text = |f: fn(&Trade) -> &str| trades.iter().map(f).collect::<Vec<&str>>();
    let float = |f: fn(&Trade) -> f64| trades.iter().map(f).collect::<Vec<f64>>();
    DataFrame::new(
        trades.len(),
        vec![
            Column::new("exchange".into(), text(|t| t.exchange.as_str())),
            Column::new("symbol".into(), text(|t| &t.symbol)),
            Column::new("strategy".into(), text(|t| t.strategy.as_str())),
            Column::new("side".into(), text(|t| t.side.as_str())),
            Column::new(
                "opened_at".into(),
                trades.iter().map(|t| t.opened_at).collect::<Vec<i64>>(),
            ),
            Column::new("entry".into(), float(|t| t.entry)),
            Column::new("sl".into(), float(|t| t.sl)),
            Column::new("tp".into(), float(|t| t.tp)),
            Column::new("rr".into(), float(|t| t.rr)),
            Column::new("score".into(), float(|t| t.score)),
            Column::new("outcome".into(), text(|t| t.outcome.as_str())),
            Column::new(
                "closed_at".into(),
                trades.iter().map(|t| t.closed_at).collect::<Vec<_>>(),
            ),
            Column::new("r".into(), trades.iter().map(|t| t.r).collect::<Vec<_>>()),
            Column::new("mfe_r".into(), float(|t| t.mfe_r)),
            Column::new("mae_r".into(), float(|t| t.mae_r)),
            Column::new(
                "bars".into(),
                trades
                    .iter()
                    .map(|t| t.bars.map(|b| b as u64))
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// The group key columns the statistics add to the trades frame.
const ALL: &str = "all";
const SYMBOL_KEY: &str = "symbol_key";
const SCORE_BUCKET: &str = "score_bucket";

/// Every group's statistics of STRATEGIES.md §6.
pub fn track_record(trades: &[Trade]) -> Result<TrackRecord, StatsError> {
    let mut frame = trades_frame(trades)?;
    frame.with_column(Column::new(ALL.into(), vec![ALL; trades.len()]))?;
    frame.with_column(Column::new(
        SYMBOL_KEY.into(),
        trades
            .iter()
            .map(Trade::symbol_key)
            .collect::<Vec<String>>(),
    ))?;
    frame.with_column(Column::new(
        SCORE_BUCKET.into(),
        trades
            .iter()
            .map(|t| t.score_bucket().as_str())
            .collect::<Vec<&str>>(),
    ))?;

    let mut by_strategy: BTreeMap<Strategy, TradeStats> = keyed(group_stats(&frame, "strategy")?)?;
    for strategy in Strategy::ALL {
        by_strategy.entry(*strategy).or_default();
    }
    Ok(TrackRecord {
        all: group_stats(&frame, ALL)?
            .into_iter()
            .next()
            .map(|(_, stats)| stats)
            .unwrap_or_default(),
        by_strategy,
        by_exchange: keyed(group_stats(&frame, "exchange")?)?,
        by_symbol: group_stats(&frame, SYMBOL_KEY)?.into_iter().collect(),
        by_score_bucket: keyed(group_stats(&frame, SCORE_BUCKET)?)?,
    })
}

/// Parses the group names back into their enum.
fn keyed<K: FromStr + Ord>(
    groups: Vec<(String, TradeStats)>,
) -> Result<BTreeMap<K, TradeStats>, StatsError> {
    groups
        .into_iter()
        .map(|(name, stats)| match name.parse::<K>() {
            Ok(key) => Ok((key, stats)),
            Err(_) => Err(StatsError::UnknownGroup(name)),
        })
        .collect()
}

/// The statistics of each value of column `key` that has at least one trade.
fn group_stats(frame: &DataFrame, key: &str) -> PolarsResult<Vec<(String, TradeStats)>> {
    let r = || col("r");
    let is = |outcome: &str| col("outcome").eq(lit(outcome)).sum();
    let figures = frame
        .clone()
        .lazy()
        .group_by([col(key)])
        .agg([
            // count() skips nulls: only closed trades have an R.
            r().count().alias("trades"),
            r().null_count().alias("open"),
            r().gt(lit(0.0)).sum().alias("wins"),
            r().lt_eq(lit(0.0)).sum().alias("losses"),
            is("win").alias("tp_hits"),
            is("loss").alias("sl_hits"),
            is("expired").alias("expired"),
            r().mean().alias("avg_r"),
            r().sum().alias("net_r"),
            r().filter(r().gt(lit(0.0))).sum().alias("gains"),
            r().filter(r().lt(lit(0.0))).sum().alias("pains"),
            r().lt(lit(0.0)).sum().alias("negatives"),
            col("bars").mean().alias("avg_bars"),
        ])
        .with_columns([
            when(col("trades").gt(lit(0)))
                .then(col("wins").cast(DataType::Float64) / col("trades").cast(DataType::Float64))
                .otherwise(lit(NULL))
                .alias("win_rate"),
            when(col("negatives").gt(lit(0)))
                .then(col("gains") / (lit(0.0) - col("pains")))
                .otherwise(lit(NULL))
                .alias("profit_factor"),
        ]);
    let table = figures
        .left_join(drawdowns(frame, key), col(key), col(key))
        .with_column(col("max_drawdown_r").fill_null(lit(0.0)))
        .collect()?;
    read_stats(&table, key)
}

/// `max_drawdown_r` per value of `key`, for the groups with a closed trade.
fn drawdowns(frame: &DataFrame, key: &str) -> LazyFrame {
    let steps = frame
        .clone()
        .lazy()
        .filter(col("r").is_not_null())
        .group_by([col(key), col("closed_at")])
        .agg([col("r").sum().alias("step")]);
    let cumulative = col("step")
        .sort_by([col("closed_at")], SortMultipleOptions::default())
        .cum_sum(false);
    let running_max = cumulative.clone().cum_max(false);
    // The walk starts at 0, so the peak is never below 0.
    let peak = when(running_max.clone().gt(lit(0.0)))
        .then(running_max)
        .otherwise(lit(0.0));
    steps
        .group_by([col(key)])
        .agg([(peak - cumulative).max().alias("max_drawdown_r")])
}

/// The rows of the aggregated table as (group name, statistics).
fn read_stats(table: &DataFrame, key: &str) -> PolarsResult<Vec<(String, TradeStats)>> {
    let count = |name: &str| -> PolarsResult<Vec<usize>> {
        let column = table.column(name)?.cast(&DataType::UInt64)?;
        Ok(column
            .u64()?
            .iter()
            .map(|v| v.unwrap_or(0) as usize)
            .collect())
    };
    let float = |name: &str| -> PolarsResult<Vec<Option<f64>>> {
        let column = table.column(name)?.cast(&DataType::Float64)?;
        Ok(column.f64()?.iter().collect())
    };
    let names = table.column(key)?.str()?;
    let [trades, wins, losses, tp_hits, sl_hits, expired, open] = [
        "trades", "wins", "losses", "tp_hits", "sl_hits", "expired", "open",
    ]
    .map(count);
    let (trades, wins, losses, tp_hits, sl_hits, expired, open) =
        (trades?, wins?, losses?, tp_hits?, sl_hits?, expired?, open?);
    let [win_rate, avg_r, net_r, profit_factor, max_drawdown_r, avg_bars] = [
        "win_rate",
        "avg_r",
        "net_r",
        "profit_factor",
        "max_drawdown_r",
        "avg_bars",
    ]
    .map(float);
    let (win_rate, avg_r, net_r, profit_factor, max_drawdown_r, avg_bars) = (
        win_rate?,
        avg_r?,
        net_r?,
        profit_factor?,
        max_drawdown_r?,
        avg_bars?,
    );
    Ok((0..table.height())
        .map(|row| {
            let name = names.get(row).unwrap_or_default().to_string();
            let stats = TradeStats {
                trades: trades[row],
                wins: wins[row],
                losses: losses[row],
                tp_hits: tp_hits[row],
                sl_hits: sl_hits[row],
                expired: expired[row],
                open: open[row],
                win_rate: win_rate[row],
                avg_r: avg_r[row],
                net_r: net_r[row].unwrap_or(0.0),
                profit_factor: profit_factor[row],
                max_drawdown_r: max_drawdown_r[row].unwrap_or(0.0),
                avg_bars: avg_bars[row],
            };
            (name, stats)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::fixtures::sample_trade;
    use quantpro_model::{Exchange, Outcome, ScoreBucket};

    /// A trade with the given group keys and result (`r: None` = open).
    fn trade(
        strategy: Strategy,
        exchange: Exchange,
        symbol: &str,
        score: f64,
        closed: Option<(i64, f64, Outcome, usize)>,
    ) -> Trade {
        let (closed_at, r, outcome, bars) = match closed {
            Some((t, r, outcome, bars)) => (Some(t), Some(r), outcome, Some(bars)),
            None => (None, None, Outcome::Open, None),
        };
        Trade {
            exchange,
            symbol: symbol.into(),
            strategy,
            score,
            outcome,
            closed_at,
            r,
            bars,
            ..sample_trade()
        }
    }

    fn sample() -> Vec<Trade> {
        use Exchange::*;
        use Outcome::*;
        use Strategy::*;
        vec![
            trade(Legacy, Binance, "SOLUSDT", 62.0, Some((10, 2.0, Win, 4))),
            trade(Legacy, Binance, "SOLUSDT", 55.0, Some((20, -1.0, Loss, 2))),
            trade(
                Breakout,
                Hyperliquid,
                "BTC",
                75.0,
                Some((20, 0.5, Expired, 96)),
            ),
            trade(
                Breakout,
                Hyperliquid,
                "BTC",
                75.0,
                Some((30, -1.0, Loss, 5)),
            ),
            trade(Legacy, Binance, "SOLUSDT", 85.0, None),
            trade(
                BreakoutV2,
                Hyperliquid,
                "ETH",
                100.0,
                Some((40, -0.25, Expired, 96)),
            ),
            trade(Legacy, Hyperliquid, "ETH", 50.0, None),
        ]
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    #[test]
    fn overall_figures_by_hand() {
        let record = track_record(&sample()).unwrap();
        let all = &record.all;
        // Closed R: 2, -1, 0.5, -1, -0.25; two open.
        assert_eq!((all.trades, all.wins, all.losses, all.open), (5, 2, 3, 2));
        assert_eq!((all.tp_hits, all.sl_hits, all.expired), (1, 2, 2));
        assert_eq!(all.win_rate, Some(0.4));
        assert_eq!(all.net_r, 0.25);
        assert!(close(all.avg_r, 0.05), "{:?}", all.avg_r);
        assert!(close(all.profit_factor, 2.5 / 2.25));
        assert!(close(all.avg_bars, 203.0 / 5.0));
        // Steps per resolution candle: +2 (10), -0.5 (20: -1 and +0.5), -1 (30),
        // -0.25 (40): cumulative 2, 1.5, 0.5, 0.25 from a peak of 2.
        assert_eq!(all.max_drawdown_r, 1.75);
    }

    #[test]
    fn groups_by_strategy_exchange_symbol_and_score_bucket() {
        let record = track_record(&sample()).unwrap();
        let legacy = &record.by_strategy[&Strategy::Legacy];
        assert_eq!((legacy.trades, legacy.open, legacy.wins), (2, 2, 1));
        assert_eq!((legacy.net_r, legacy.max_drawdown_r), (1.0, 1.0));
        assert_eq!(
            (legacy.profit_factor, legacy.avg_bars),
            (Some(2.0), Some(3.0))
        );

        // Breakout: +0.5 then -1 from a peak of 0.5: cumulative goes to -0.5.
        let breakout = &record.by_strategy[&Strategy::Breakout];
        assert_eq!(
            (breakout.trades, breakout.expired, breakout.sl_hits),
            (2, 1, 1)
        );
        assert_eq!((breakout.avg_r, breakout.net_r), (Some(-0.25), -0.5));
        assert_eq!(
            (breakout.profit_factor, breakout.max_drawdown_r),
            (Some(0.5), 1.0)
        );
        assert_eq!(breakout.avg_bars, Some(50.5));

        // BreakoutV2: one expired loss; no positive R gives a profit factor of 0.
        let v2 = &record.by_strategy[&Strategy::BreakoutV2];
        assert_eq!(
            (v2.trades, v2.wins, v2.losses, v2.win_rate),
            (1, 0, 1, Some(0.0))
        );
        assert_eq!((v2.profit_factor, v2.max_drawdown_r), (Some(0.0), 0.25));

        let hyperliquid = &record.by_exchange[&Exchange::Hyperliquid];
        assert_eq!((hyperliquid.trades, hyperliquid.open), (3, 1));
        assert_eq!(hyperliquid.net_r, -0.75);
        assert!(close(hyperliquid.win_rate, 1.0 / 3.0));
        assert!(close(hyperliquid.profit_factor, 0.4));
        // 0.5, -0.5, -0.75 below a peak of 0.5.
        assert_eq!(hyperliquid.max_drawdown_r, 1.25);
        assert_eq!(record.by_exchange.len(), 2);

        let keys: Vec<&str> = record.by_symbol.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["BINANCE:SOLUSDT", "HYPERLIQUID:BTC", "HYPERLIQUID:ETH"]
        );
        assert_eq!(record.by_symbol["HYPERLIQUID:BTC"], *breakout);
        assert_eq!(
            record.by_symbol["BINANCE:SOLUSDT"],
            record.by_exchange[&Exchange::Binance]
        );

        let buckets: Vec<&str> = record.by_score_bucket.keys().map(|b| b.as_str()).collect();
        assert_eq!(buckets, ["50-60", "60-70", "70-80", "80-90", "90-100"]);
        // 80-90 holds only an open trade: listed, with null ratios and averages.
        let open_only = &record.by_score_bucket[&ScoreBucket::From80];
        assert_eq!(
            *open_only,
            TradeStats {
                open: 1,
                ..TradeStats::default()
            }
        );
        // 60-70: one win and no negative R: no profit factor.
        let one_win = &record.by_score_bucket[&ScoreBucket::From60];
        assert_eq!((one_win.win_rate, one_win.profit_factor), (Some(1.0), None));
        assert_eq!((one_win.max_drawdown_r, one_win.net_r), (0.0, 2.0));
        // A score of 100 is in the last bucket.
        assert_eq!(record.by_score_bucket[&ScoreBucket::From90].trades, 1);
        assert_eq!(record.by_score_bucket[&ScoreBucket::From50].open, 1);
    }

    #[test]
    fn trades_closing_on_one_candle_are_one_step_and_zero_r_is_a_loss() {
        use Outcome::*;
        let at = |r, outcome| {
            trade(
                Strategy::Legacy,
                Exchange::Mexc,
                "BTCUSDT",
                60.0,
                Some((50, r, outcome, 3)),
            )
        };
        // +1 and -1.5 on the same candle: one step of -0.5 from 0, whatever their order.
        let record = track_record(&[at(1.0, Win), at(-1.5, Loss)]).unwrap();
        assert_eq!(record.all.max_drawdown_r, 0.5);
        let record = track_record(&[at(-1.5, Loss), at(1.0, Win)]).unwrap();
        assert_eq!(record.all.max_drawdown_r, 0.5);
        // R = 0 counts as a loss but is not negative: no profit factor.
        let record = track_record(&[at(1.0, Win), at(0.0, Expired)]).unwrap();
        let all = &record.all;
        assert_eq!((all.wins, all.losses, all.profit_factor), (1, 1, None));
        assert_eq!(all.win_rate, Some(0.5));
    }

    #[test]
    fn no_trades_gives_null_ratios_and_all_three_strategies() {
        let record = track_record(&[]).unwrap();
        assert_eq!(record.all, TradeStats::default());
        assert_eq!(record.by_strategy.len(), 3);
        assert!(record
            .by_strategy
            .values()
            .all(|s| *s == TradeStats::default()));
        assert!(record.by_exchange.is_empty() && record.by_symbol.is_empty());
        assert!(record.by_score_bucket.is_empty());
    }

    #[test]
    fn the_frame_has_the_report_columns() {
        let frame = trades_frame(&sample()).unwrap();
        let names: Vec<&str> = frame
            .get_column_names()
            .iter()
            .map(|n| n.as_str())
            .collect();
        assert_eq!(
            names,
            [
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
                "bars"
            ]
        );
        assert_eq!(frame.height(), 7);
        assert_eq!(frame.column("r").unwrap().null_count(), 2);
    }
}
