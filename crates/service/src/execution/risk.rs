//! The risk limits every new order passes, on the server (a ticket, the
//! CLI, an alert rule alike): allowed symbols, at most `max_open_positions`
//! open, one position per symbol, and a daily loss limit in % of equity and
//! in R after which new orders are refused until the next UTC day. Closing
//! and flattening are never refused.

use crate::settings::ExecutionSettings;
use quantpro_model::Exchange;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What is open and what today cost, from the journal's brackets.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Exposure {
    /// The symbols with an open (or sending) bracket.
    pub open: Vec<(Exchange, String)>,
    /// Today's (UTC) realised profit and loss, fees included: negative is a loss.
    pub realized_today: Decimal,
    /// The same in R (each closed bracket's result over its risk).
    pub realized_today_r: Decimal,
}

/// Why a new order is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RiskRefusal {
    #[error("{symbol} is not in execution.symbols ({allowed})")]
    SymbolNotAllowed { symbol: String, allowed: String },
    #[error("{exchange} {symbol} already has an open position: one per symbol")]
    AlreadyOpen { exchange: Exchange, symbol: String },
    #[error("{open} positions are open: execution.max_open_positions is {max}")]
    TooManyPositions { open: usize, max: usize },
    #[error(
        "today's loss ({loss} = {pct} % of equity) reached execution.max_daily_loss_pct ({max} %): \
         new orders are refused until 00:00 UTC"
    )]
    DailyLossPct {
        loss: Decimal,
        pct: Decimal,
        max: Decimal,
    },
    #[error(
        "today's loss ({r} R) reached execution.max_daily_loss_r ({max} R): new orders are \
         refused until 00:00 UTC"
    )]
    DailyLossR { r: Decimal, max: Decimal },
}

/// Refuses a new order on `exchange`/`symbol` that a limit forbids.
pub fn check_new_order(
    settings: &ExecutionSettings,
    exposure: &Exposure,
    equity: Decimal,
    exchange: Exchange,
    symbol: &str,
) -> Result<(), RiskRefusal> {
    if !settings.symbols.is_empty() && !settings.symbols.iter().any(|s| s == symbol) {
        return Err(RiskRefusal::SymbolNotAllowed {
            symbol: symbol.to_string(),
            allowed: settings.symbols.join(", "),
        });
    }
    if exposure
        .open
        .iter()
        .any(|(e, s)| *e == exchange && s == symbol)
    {
        return Err(RiskRefusal::AlreadyOpen {
            exchange,
            symbol: symbol.to_string(),
        });
    }
    if exposure.open.len() >= settings.max_open_positions {
        return Err(RiskRefusal::TooManyPositions {
            open: exposure.open.len(),
            max: settings.max_open_positions,
        });
    }
    let loss = -exposure.realized_today.min(Decimal::ZERO);
    // Against the equity before today's loss: the limit does not shrink as
    // the loss grows.
    let day_start = equity + loss;
    if day_start > Decimal::ZERO {
        let pct = loss * Decimal::ONE_HUNDRED / day_start;
        if loss > Decimal::ZERO && pct >= settings.max_daily_loss_pct {
            return Err(RiskRefusal::DailyLossPct {
                loss: loss.round_dp(2),
                pct: pct.round_dp(2),
                max: settings.max_daily_loss_pct,
            });
        }
    }
    let r_loss = -exposure.realized_today_r.min(Decimal::ZERO);
    if r_loss > Decimal::ZERO && r_loss >= settings.max_daily_loss_r {
        return Err(RiskRefusal::DailyLossR {
            r: r_loss.round_dp(2),
            max: settings.max_daily_loss_r,
        });
    }
    Ok(())
}

/// The limits as the ticket lists them.
pub fn limits_in_words(settings: &ExecutionSettings) -> Vec<String> {
    let mut words = vec![
        format!("risk {} % of equity per trade", settings.risk_pct),
        format!(
            "position at most {} and {}x equity",
            settings.max_notional, settings.max_leverage
        ),
        format!(
            "at most {} open positions, one per symbol",
            settings.max_open_positions
        ),
        format!(
            "no new orders after a daily loss of {} % or {} R",
            settings.max_daily_loss_pct, settings.max_daily_loss_r
        ),
    ];
    if !settings.symbols.is_empty() {
        words.push(format!("symbols: {}", settings.symbols.join(", ")));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn open(symbols: &[&str]) -> Exposure {
        Exposure {
            open: symbols
                .iter()
                .map(|s| (Exchange::Binance, s.to_string()))
                .collect(),
            ..Exposure::default()
        }
    }

    #[test]
    fn one_position_per_symbol_and_at_most_the_maximum() {
        let settings = ExecutionSettings {
            max_open_positions: 2,
            ..ExecutionSettings::default()
        };
        let equity = d("10000");
        assert!(check_new_order(
            &settings,
            &open(&["ETHUSDT"]),
            equity,
            Exchange::Binance,
            "BTCUSDT"
        )
        .is_ok());
        assert!(matches!(
            check_new_order(
                &settings,
                &open(&["BTCUSDT"]),
                equity,
                Exchange::Binance,
                "BTCUSDT"
            ),
            Err(RiskRefusal::AlreadyOpen { .. })
        ));
        assert!(
            check_new_order(
                &settings,
                &open(&["BTCUSDT"]),
                equity,
                Exchange::Hyperliquid,
                "BTCUSDT"
            )
            .is_ok(),
            "another venue's symbol is another position"
        );
        assert_eq!(
            check_new_order(
                &settings,
                &open(&["A", "B"]),
                equity,
                Exchange::Binance,
                "C"
            ),
            Err(RiskRefusal::TooManyPositions { open: 2, max: 2 })
        );
    }

    #[test]
    fn the_daily_loss_limit_counts_against_the_days_starting_equity() {
        let settings = ExecutionSettings::default(); // 3 % or 3 R
        let mut exposure = Exposure {
            realized_today: d("-290"),
            realized_today_r: d("-2.9"),
            ..Exposure::default()
        };
        // 290 of 10 000 at the day's start: 2.9 %, under the limit.
        assert!(check_new_order(&settings, &exposure, d("9710"), Exchange::Binance, "X").is_ok());
        exposure.realized_today = d("-300");
        let err =
            check_new_order(&settings, &exposure, d("9700"), Exchange::Binance, "X").unwrap_err();
        assert!(err.to_string().contains("until 00:00 UTC"), "{err}");
        exposure.realized_today = d("-10");
        exposure.realized_today_r = d("-3");
        assert!(matches!(
            check_new_order(&settings, &exposure, d("9990"), Exchange::Binance, "X"),
            Err(RiskRefusal::DailyLossR { .. })
        ));
        exposure.realized_today = d("500");
        exposure.realized_today_r = d("2");
        assert!(check_new_order(&settings, &exposure, d("10500"), Exchange::Binance, "X").is_ok());
    }

    #[test]
    fn only_the_allowed_symbols() {
        let settings = ExecutionSettings {
            symbols: vec!["BTCUSDT".into()],
            ..ExecutionSettings::default()
        };
        let err = check_new_order(
            &settings,
            &Exposure::default(),
            d("1"),
            Exchange::Binance,
            "ETHUSDT",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ETHUSDT is not in execution.symbols (BTCUSDT)"
        );
        assert!(limits_in_words(&settings)
            .iter()
            .any(|w| w == "symbols: BTCUSDT"));
    }
}
