//! Cardwell's RSI range rules (STRATEGIES.md §1): which regime the RSI has
//! been living in over the last `window` (default 50) LTF values. The
//! strategies use it to favour longs in a bullish range and shorts in a
//! bearish one.
//!
//! OVERBOUGHT if the last RSI >= 80, else OVERSOLD if <= 20; else BULLISH if
//! at least 90% of the window lies in [40, 80] and fewer than 90% in
//! [20, 60], BEARISH for the mirror case, NEUTRAL if both hold, otherwise
//! TRANSITION. Undefined values are left out of the window's count (early in
//! a series the window holds fewer than `window` RSI values); an undefined
//! last RSI gives TRANSITION.

use quantpro_model::CardwellRange;

const OVERBOUGHT: f64 = 80.0;
const OVERSOLD: f64 = 20.0;
const BULL_BAND: (f64, f64) = (40.0, 80.0);
const BEAR_BAND: (f64, f64) = (20.0, 60.0);

/// Cardwell range of the last `window` RSI values (a window of 0 is taken as 1).
pub fn cardwell_range(rsi: &[Option<f64>], window: usize) -> CardwellRange {
    let defined = |v: &Option<f64>| v.filter(|x| x.is_finite());
    let Some(last) = rsi.last().and_then(defined) else {
        return CardwellRange::Transition;
    };
    if last >= OVERBOUGHT {
        return CardwellRange::Overbought;
    }
    if last <= OVERSOLD {
        return CardwellRange::Oversold;
    }
    let window = &rsi[rsi.len() - window.clamp(1, rsi.len())..];
    let (mut count, mut bull, mut bear) = (0usize, 0usize, 0usize);
    for v in window.iter().filter_map(defined) {
        count += 1;
        bull += usize::from((BULL_BAND.0..=BULL_BAND.1).contains(&v));
        bear += usize::from((BEAR_BAND.0..=BEAR_BAND.1).contains(&v));
    }
    // "at least 90%" in integers: 10 * in_band >= 9 * count
    let mostly = |in_band: usize| 10 * in_band >= 9 * count;
    match (mostly(bull), mostly(bear)) {
        (true, true) => CardwellRange::Neutral,
        (true, false) => CardwellRange::Bullish,
        (false, true) => CardwellRange::Bearish,
        (false, false) => CardwellRange::Transition,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window_of(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().map(|&v| Some(v)).collect()
    }

    /// 50 values: `inside` copies of `a`, then `50 - inside - 1` of `b`, then `last`.
    fn mixed(a: f64, inside: usize, b: f64, last: f64) -> Vec<Option<f64>> {
        let mut v = vec![a; inside];
        v.resize(49, b);
        v.push(last);
        window_of(&v)
    }

    #[test]
    fn overbought_and_oversold_look_only_at_the_last_value() {
        assert_eq!(
            cardwell_range(&mixed(30.0, 49, 30.0, 80.0), 50),
            CardwellRange::Overbought
        );
        assert_eq!(
            cardwell_range(&mixed(70.0, 49, 70.0, 20.0), 50),
            CardwellRange::Oversold
        );
    }

    #[test]
    fn bullish_needs_ninety_percent_in_40_80() {
        // 44 at 70 + last 70 = 45 of 50 (90%) in [40, 80]; 5 at 30: in [20, 60] only those 5.
        assert_eq!(
            cardwell_range(&mixed(70.0, 44, 30.0, 70.0), 50),
            CardwellRange::Bullish
        );
        // One fewer: 44 of 50 = 88% -> transition
        assert_eq!(
            cardwell_range(&mixed(70.0, 43, 30.0, 70.0), 50),
            CardwellRange::Transition
        );
    }

    #[test]
    fn bearish_is_the_mirror() {
        assert_eq!(
            cardwell_range(&mixed(30.0, 44, 70.0, 30.0), 50),
            CardwellRange::Bearish
        );
        assert_eq!(
            cardwell_range(&mixed(30.0, 43, 70.0, 30.0), 50),
            CardwellRange::Transition
        );
    }

    #[test]
    fn stuck_between_40_and_60_is_neutral() {
        assert_eq!(
            cardwell_range(&mixed(45.0, 49, 45.0, 55.0), 50),
            CardwellRange::Neutral
        );
        // band edges are inclusive
        assert_eq!(
            cardwell_range(&mixed(40.0, 25, 60.0, 50.0), 50),
            CardwellRange::Neutral
        );
    }

    #[test]
    fn only_the_last_window_counts() {
        let mut v = vec![Some(30.0); 100];
        v.extend(mixed(70.0, 49, 70.0, 70.0));
        assert_eq!(cardwell_range(&v, 50), CardwellRange::Bullish);
        // 150 values: 100 at 30, 50 at 70 -> neither band holds 90%
        assert_eq!(cardwell_range(&v, 150), CardwellRange::Transition);
        // 55 values: 5 at 30, 50 at 70 -> 91% in [40, 80]
        assert_eq!(cardwell_range(&v, 55), CardwellRange::Bullish);
    }

    #[test]
    fn undefined_values_are_left_out_and_undefined_last_is_transition() {
        let mut v = vec![None; 20];
        v.extend(window_of(&[70.0; 30]));
        assert_eq!(cardwell_range(&v, 50), CardwellRange::Bullish);
        v.push(None);
        assert_eq!(cardwell_range(&v, 50), CardwellRange::Transition);
        assert_eq!(cardwell_range(&[], 50), CardwellRange::Transition);
        assert_eq!(
            cardwell_range(&[Some(f64::NAN)], 50),
            CardwellRange::Transition
        );
    }
}
