//! The nine scanner indicators one candle at a time: what [`compute_all`]
//! computes over a whole series, extended by one value per series for each
//! new candle. The replay (`core::backtest`) grows a symbol's context this
//! way, so its indicators cost one pass over the data however many closes
//! it evaluates; the same `next` steps as the batch form give the same
//! numbers, bit for bit.
//!
//! [`compute_all`]: super::compute_all

use super::{
    AtrState, DmiState, EmaState, IndicatorSet, ObvState, RsiState, ATR_PERIOD, DMI_PERIOD,
    EMA_FAST, EMA_MID, EMA_SLOW, RSI_PERIOD,
};
use quantpro_model::Candle;

/// The running state of every series of an [`IndicatorSet`].
#[derive(Debug, Clone)]
pub struct IndicatorStream {
    rsi: RsiState,
    ema20: EmaState,
    ema50: EmaState,
    ema200: EmaState,
    obv: ObvState,
    atr: AtrState,
    dmi: DmiState,
}

impl Default for IndicatorStream {
    fn default() -> Self {
        Self::new()
    }
}

impl IndicatorStream {
    /// The state before the first candle.
    pub fn new() -> Self {
        IndicatorStream {
            rsi: RsiState::new(RSI_PERIOD),
            ema20: EmaState::new(EMA_FAST),
            ema50: EmaState::new(EMA_MID),
            ema200: EmaState::new(EMA_SLOW),
            obv: ObvState::new(),
            atr: AtrState::new(ATR_PERIOD),
            dmi: DmiState::new(DMI_PERIOD),
        }
    }

    /// Takes the next candle (oldest first) and appends its value to each
    /// series of `set`, which must hold the values of the candles before it.
    pub fn push(&mut self, candle: &Candle, set: &mut IndicatorSet) {
        set.rsi14.push(self.rsi.next(candle.c));
        set.ema20.push(self.ema20.next(candle.c));
        set.ema50.push(self.ema50.next(candle.c));
        set.ema200.push(self.ema200.next(candle.c));
        set.obv.push(self.obv.next(candle.c, candle.v));
        set.atr14.push(self.atr.next(candle.h, candle.l, candle.c));
        let d = self.dmi.next(candle.h, candle.l, candle.c);
        set.plus_di14.push(d.plus_di);
        set.minus_di14.push(d.minus_di);
        set.adx14.push(d.adx);
    }
}

impl IndicatorSet {
    /// An empty set with room for `n` candles per series.
    pub fn with_capacity(n: usize) -> IndicatorSet {
        IndicatorSet {
            rsi14: Vec::with_capacity(n),
            atr14: Vec::with_capacity(n),
            adx14: Vec::with_capacity(n),
            plus_di14: Vec::with_capacity(n),
            minus_di14: Vec::with_capacity(n),
            ema20: Vec::with_capacity(n),
            ema50: Vec::with_capacity(n),
            ema200: Vec::with_capacity(n),
            obv: Vec::with_capacity(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::compute_all;
    use super::*;

    #[test]
    fn streaming_equals_the_batch_at_every_length() {
        let candles: Vec<Candle> = (0..400)
            .map(|i| {
                let c = 100.0 + (i as f64 * 0.21).sin() * 7.0 + (i as f64 * 0.05).cos() * 3.0;
                Candle {
                    t: i * 900_000,
                    o: c - 0.3,
                    h: c + 0.9 + (i % 5) as f64 * 0.1,
                    l: c - 1.1,
                    c,
                    v: (i % 11) as f64 * 3.0,
                }
            })
            .collect();
        let mut stream = IndicatorStream::new();
        let mut set = IndicatorSet::with_capacity(candles.len());
        for (k, candle) in candles.iter().enumerate() {
            stream.push(candle, &mut set);
            if k % 37 == 0 || k == candles.len() - 1 {
                assert_eq!(set, compute_all(&candles[..=k]), "after candle {k}");
            }
        }
        assert!(set.ema200.last().unwrap().is_some() && set.adx14.last().unwrap().is_some());
    }
}
