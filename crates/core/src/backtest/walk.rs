//! The contexts a live scan would have built at the close of each LTF
//! candle of a history, for the price of one scan.
//!
//! A live scan at the close of candle i (time `t_i + 15m`) sees LTF candles
//! 0..=i, the HTF candles closed by then and, historically, no external
//! data. `WalkForward` keeps one `SharedContext` per symbol and grows its
//! series in place: each new candle is pushed with its indicator values
//! (the indicators' `next` steps, `IndicatorStream`), then the context's
//! derived state is refreshed from the newest values. Nothing at i reads a
//! candle after i, no series is copied per close, and the context equals
//! what `SharedContext::build` makes of the data truncated after i (the
//! tests hold it to that, field by field).

use crate::candles::{is_closed, Candle};
use crate::context::{ExternalContext, SeriesWithIndicators, SharedContext};
use crate::indicators::{IndicatorSet, IndicatorStream};
use crate::scan::{HTF, LTF};
use quantpro_model::{Exchange, ScannerConfig};

/// A symbol's history, walked forward one LTF close at a time.
#[derive(Debug)]
pub struct WalkForward<'a> {
    ltf: &'a [Candle],
    htf: &'a [Candle],
    ltf_stream: IndicatorStream,
    htf_stream: IndicatorStream,
    ctx: SharedContext,
}

impl<'a> WalkForward<'a> {
    /// Starts before the first candle. `ltf` and `htf` are the symbol's
    /// closed candles, oldest first (validated, as the scan loads them).
    pub fn new(
        symbol: &str,
        exchange: Exchange,
        ltf: &'a [Candle],
        htf: &'a [Candle],
        config: &ScannerConfig,
    ) -> WalkForward<'a> {
        let series = SeriesWithIndicators {
            ltf: Vec::with_capacity(ltf.len()),
            htf: Vec::with_capacity(htf.len()),
            ltf_indicators: IndicatorSet::with_capacity(ltf.len()),
            htf_indicators: IndicatorSet::with_capacity(htf.len()),
        };
        let ctx = SharedContext::from_series(
            symbol,
            exchange,
            series,
            ExternalContext::unavailable(),
            config,
            0,
        );
        WalkForward {
            ltf,
            htf,
            ltf_stream: IndicatorStream::new(),
            htf_stream: IndicatorStream::new(),
            ctx,
        }
    }

    /// The moment LTF candle `i` closes: when a live scan first sees it.
    pub fn close_time(&self, i: usize) -> i64 {
        self.ltf[i].t.saturating_add(LTF.millis())
    }

    /// Moves to the close of LTF candle `i` and returns the context of a
    /// live scan at that moment. `i` may skip closes but never go back.
    ///
    /// # Panics
    /// When `i` is past the history or before the current position.
    pub fn context_at(&mut self, i: usize, config: &ScannerConfig) -> &SharedContext {
        assert!(i < self.ltf.len(), "candle {i} is past the history");
        assert!(
            self.ctx.ltf.len() <= i + 1,
            "the walk moves forward only (at {}, asked {i})",
            self.ctx.ltf.len().saturating_sub(1)
        );
        for candle in &self.ltf[self.ctx.ltf.len()..=i] {
            self.ltf_stream.push(candle, &mut self.ctx.ltf_indicators);
            self.ctx.ltf.push(*candle);
        }
        let now_ms = self.close_time(i);
        while let Some(candle) = self
            .htf
            .get(self.ctx.htf.len())
            .filter(|c| is_closed(c, HTF, now_ms))
        {
            self.htf_stream.push(candle, &mut self.ctx.htf_indicators);
            self.ctx.htf.push(*candle);
        }
        self.ctx.refresh(config, now_ms);
        &self.ctx
    }

    /// [`WalkForward::context_at`] with the external data known at that
    /// close (the simulated market's synthetic derivatives).
    pub fn context_with_external_at(
        &mut self,
        i: usize,
        config: &ScannerConfig,
        external: ExternalContext,
    ) -> &SharedContext {
        self.context_at(i, config);
        self.ctx.external = external;
        &self.ctx
    }
}

/// The context a plain scan at the close of LTF candle `i` builds from the
/// whole series, keeping what it would know then (LTF 0..=i, the HTF
/// candles closed by then, no external data): what the walk equals at `i`,
/// and what the naive replay pays at every close.
pub fn scan_context_at(
    symbol: &str,
    exchange: Exchange,
    ltf: &[Candle],
    htf: &[Candle],
    i: usize,
    config: &ScannerConfig,
) -> SharedContext {
    let now_ms = ltf[i].t.saturating_add(LTF.millis());
    let closed_htf = htf.partition_point(|c| is_closed(c, HTF, now_ms));
    SharedContext::build(
        symbol,
        exchange,
        ltf[..=i].to_vec(),
        htf[..closed_htf].to_vec(),
        None,
        config,
        now_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::evaluate_all;
    use crate::synthetic::{generate_series, SyntheticSpec};

    /// What a live scan at the close of `i` builds when its files hold
    /// all of the data (it drops the candles not closed yet).
    fn live_scan_context(
        ltf: &[Candle],
        htf: &[Candle],
        i: usize,
        config: &ScannerConfig,
    ) -> SharedContext {
        let now = ltf[i].t + LTF.millis();
        let mut known_htf = htf.to_vec();
        crate::candles::drop_unclosed(&mut known_htf, HTF, now);
        SharedContext::build(
            "ETHUSDT",
            Exchange::Binance,
            ltf[..=i].to_vec(),
            known_htf,
            None,
            config,
            now,
        )
    }

    #[test]
    fn the_context_at_each_close_is_the_one_a_live_scan_builds() {
        let spec = SyntheticSpec {
            n_15m: 420,
            n_4h: 150,
            seed: 11,
            ..SyntheticSpec::default()
        };
        let series = generate_series(&spec, 1);
        let config = ScannerConfig::default();
        let mut walk = WalkForward::new(
            "ETHUSDT",
            Exchange::Binance,
            &series.ltf,
            &series.htf,
            &config,
        );
        let mut checked = 0;
        for i in (0..series.ltf.len()).filter(|i| i % 23 == 0 || (47..=52).contains(i) || *i == 419)
        {
            let expected = live_scan_context(&series.ltf, &series.htf, i, &config);
            assert_eq!(
                scan_context_at(
                    "ETHUSDT",
                    Exchange::Binance,
                    &series.ltf,
                    &series.htf,
                    i,
                    &config
                ),
                expected
            );
            let ctx = walk.context_at(i, &config);
            assert_eq!(*ctx, expected, "context at close {i}");
            assert_eq!(evaluate_all(ctx, &config), evaluate_all(&expected, &config));
            // The newest HTF candle has closed; the next one (already in the data) has not.
            let now = walk.close_time(i);
            let ctx = walk.context_at(i, &config);
            if let Some(last) = ctx.htf.last() {
                assert!(last.t + HTF.millis() <= now);
            }
            if let Some(next) = series.htf.get(ctx.htf.len()) {
                assert!(
                    next.t + HTF.millis() > now,
                    "an HTF candle still open at {i} is not seen"
                );
            }
            checked += 1;
        }
        assert!(checked > 20);
    }

    #[test]
    #[should_panic(expected = "moves forward only")]
    fn the_walk_never_goes_back() {
        let series = generate_series(
            &SyntheticSpec {
                n_15m: 60,
                n_4h: 20,
                ..SyntheticSpec::default()
            },
            0,
        );
        let config = ScannerConfig::default();
        let mut walk = WalkForward::new(
            "BTCUSDT",
            Exchange::Binance,
            &series.ltf,
            &series.htf,
            &config,
        );
        walk.context_at(55, &config);
        walk.context_at(54, &config);
    }
}
