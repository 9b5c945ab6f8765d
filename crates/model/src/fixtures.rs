//! Hand-written signals and trades for unit tests.

use super::*;

pub fn sample_signal(symbol: &str, strategy: Strategy) -> Signal {
    Signal {
        strategy_name: strategy,
        strategy,
        symbol: symbol.to_string(),
        canonical_symbol: canonical_symbol(symbol),
        exchange: Exchange::Binance,
        price: 64080.5,
        score: 61.25,
        total_score: 61.25,
        bias: Bias::Long,
        action: Action::Long,
        setup: Some(TradeSetup {
            side: Side::Long,
            entry: 64080.5,
            sl: 63500.0,
            tp: 65500.0,
            rr: 2.445,
        }),
        details: SignalDetails {
            total: 61.25,
            obv_slope: Some(0.12),
            cardwell_range: Some(CardwellRange::Bullish),
            ..Default::default()
        },
        wait_reasons: vec![],
        htf: HtfSummary {
            trend: Trend::Up,
            bias: Bias::Long,
            adx: Some(31.5),
            ema50: Some(63000.0),
            ema200: None,
        },
        ltf: LtfSummary {
            rsi: Some(47.2),
            bias: Bias::Long,
            cardwell_range: CardwellRange::Bullish,
            obv_slope: 0.12,
            atr: Some(150.0),
            ema20: Some(64000.0),
            ema50: Some(63900.0),
            last_candle_time: Some(1_721_088_000_000),
            stale: false,
        },
        observability: Observability {
            score_composition: ScoreComposition {
                rsi: Some(47.2),
                close_price: 64080.5,
                oi_z_score: 0.0,
                oi_z_score_valid: false,
                obv_slope: 0.12,
                cardwell_range: CardwellRange::Bullish,
                breakout_type: Some(BreakoutType::ResistanceBreak),
                atr: Some(150.0),
                trend_score: 15.75,
                structure_score: 25.0,
                money_flow_score: 12.0,
                timing_score: 25.0,
                filters_passed: FiltersPassed {
                    oi_zscore: false,
                    obv_slope: true,
                },
                oi_available: false,
                funding_available: false,
                ls_ratio_available: false,
                liquidations_available: false,
            },
            rsi_visuals: RsiVisuals {
                resistance: Some(RsiTrendline {
                    start_index: 4900,
                    start_rsi: 72.0,
                    end_index: 4980,
                    end_rsi: 60.0,
                    slope: -0.15,
                    value_now: 57.0,
                    broken: true,
                    break_index: Some(4998),
                }),
                support: None,
            },
            calculated_at: 1_721_088_100,
            candle_index: 4999,
        },
        oi_metadata: OiMetadata::default(),
        metadata: Some(MarketMetadata {
            mcap: Some(1.2e12),
            vol_24h: None,
        }),
        quality: None,
    }
}

/// Legacy LONG on BINANCE:SOLUSDT opened on the candle at t = 0 with score
/// 62: entry 100, stop 98 (risk 2), target 105 (RR 2.5), still open.
pub fn sample_trade() -> Trade {
    Trade {
        exchange: Exchange::Binance,
        symbol: "SOLUSDT".into(),
        strategy: Strategy::Legacy,
        side: Side::Long,
        opened_at: 0,
        entry: 100.0,
        sl: 98.0,
        tp: 105.0,
        rr: 2.5,
        score: 62.0,
        outcome: Outcome::Open,
        closed_at: None,
        r: None,
        mfe_r: 0.0,
        mae_r: 0.0,
        bars: None,
    }
}
