//! Hand-written signals for unit tests.

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
    }
}
