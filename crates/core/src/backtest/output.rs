//! What a backtest writes and prints: the JSON report (`--out`), the trades
//! as CSV (`--csv`, written by polars from the same frame the statistics
//! use), and the summary table per strategy. Files are written atomically.

use crate::track::trades_frame;
use polars::prelude::{CsvWriter, PolarsError, SerWriter};
use quantpro_model::atomic_file::{write_atomic, WriteError};
use quantpro_model::{format, BacktestReport, Strategy, TrackRecord, Trade, TradeStats};
use std::fmt;
use std::path::Path;

/// Why an output file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("cannot encode the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot encode the trades as CSV: {0}")]
    Csv(#[from] PolarsError),
}

/// Writes the report as JSON (STRATEGIES.md §6), atomically.
pub fn write_report(path: &Path, report: &BacktestReport) -> Result<(), OutputError> {
    let mut bytes = serde_json::to_vec(report)?;
    bytes.push(b'\n');
    Ok(write_atomic(path, &bytes)?)
}

/// The trades as CSV with a header row: the report's fields in its order,
/// empty cells for the nulls of open trades.
pub fn trades_csv(trades: &[Trade]) -> Result<Vec<u8>, PolarsError> {
    let mut frame = trades_frame(trades)?;
    let mut out = Vec::new();
    CsvWriter::new(&mut out)
        .include_header(true)
        .finish(&mut frame)?;
    Ok(out)
}

/// Writes [`trades_csv`] to `path`, atomically.
pub fn write_trades_csv(path: &Path, trades: &[Trade]) -> Result<(), OutputError> {
    Ok(write_atomic(path, &trades_csv(trades)?)?)
}

/// The summary table the CLI prints: one row per strategy and one for all
/// (trades, open, win rate, avg R, net R, profit factor, max drawdown).
pub struct StrategyTable<'a>(pub &'a TrackRecord);

impl fmt::Display for StrategyTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<11} {:>7} {:>5} {:>9} {:>8} {:>9} {:>6} {:>8}",
            "strategy", "trades", "open", "win rate", "avg R", "net R", "PF", "max DD"
        )?;
        let empty = TradeStats::default();
        for strategy in Strategy::ALL {
            let stats = self.0.by_strategy.get(strategy).unwrap_or(&empty);
            writeln!(f, "{}", row(strategy.as_str(), stats))?;
        }
        write!(f, "{}", row("all", &self.0.all))
    }
}

fn row(name: &str, s: &TradeStats) -> String {
    let win_rate = match s.win_rate {
        Some(rate) => format!("{:.1}%", rate * 100.0),
        None => format::number(None, 1),
    };
    format!(
        "{:<11} {:>7} {:>5} {:>9} {:>8} {:>9} {:>6} {:>8}",
        name,
        s.trades,
        s.open,
        win_rate,
        format::signed(s.avg_r, 3),
        format::signed(Some(s.net_r), 2),
        format::number(s.profit_factor, 2),
        format::number(Some(s.max_drawdown_r), 2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::{Exchange, Outcome};

    fn trade(outcome: Outcome, r: Option<f64>) -> Trade {
        Trade {
            exchange: Exchange::Mexc,
            symbol: "BTC_USDT".into(),
            strategy: Strategy::Breakout,
            opened_at: 1_722_470_400_000,
            entry: 64_000.5,
            sl: 63_000.0,
            tp: 66_000.0,
            rr: 1.999,
            score: 57.25,
            outcome,
            closed_at: r.map(|_| 1_722_471_300_000),
            r,
            mfe_r: 1.5,
            bars: r.map(|_| 1),
            ..quantpro_model::fixtures::sample_trade()
        }
    }

    #[test]
    fn csv_has_the_report_columns_and_empty_cells_for_open_trades() {
        let csv = String::from_utf8(
            trades_csv(&[trade(Outcome::Win, Some(1.9)), trade(Outcome::Open, None)]).unwrap(),
        )
        .unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "exchange,symbol,strategy,side,opened_at,entry,sl,tp,rr,score,outcome,closed_at,r,mfe_r,mae_r,bars"
        );
        assert_eq!(
            lines[1],
            "MEXC,BTC_USDT,Breakout,LONG,1722470400000,64000.5,63000.0,66000.0,1.999,57.25,win,1722471300000,1.9,1.5,0.0,1"
        );
        assert_eq!(
            lines[2],
            "MEXC,BTC_USDT,Breakout,LONG,1722470400000,64000.5,63000.0,66000.0,1.999,57.25,open,,,1.5,0.0,"
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn table_rows_per_strategy_and_all() {
        let mut record = TrackRecord::default();
        record.by_strategy.insert(
            Strategy::Legacy,
            TradeStats {
                trades: 4,
                wins: 1,
                losses: 3,
                win_rate: Some(0.25),
                avg_r: Some(0.125),
                net_r: 0.5,
                profit_factor: Some(1.1666),
                max_drawdown_r: 2.0,
                ..TradeStats::default()
            },
        );
        let text = StrategyTable(&record).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].starts_with("strategy") && lines[0].ends_with("max DD"));
        let legacy: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            legacy,
            ["Legacy", "4", "0", "25.0%", "+0.125", "+0.50", "1.17", "2.00"]
        );
        let breakout: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            breakout,
            ["Breakout", "0", "0", "—", "—", "+0.00", "—", "0.00"]
        );
        assert!(lines[4].starts_with("all"));
    }
}
