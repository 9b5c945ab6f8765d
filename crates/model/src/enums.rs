//! The closed vocabularies of a signal, serialized as the strings of SIGNAL.md.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Defines a string-backed enum with `Display`, `FromStr`, `as_str` and `ALL`,
/// so the JSON spelling, the URL spelling and the UI label are one string.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| UnknownVariant {
                        kind: stringify!($name),
                        value: s.to_string(),
                        expected: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                    })
            }
        }
    };
}

// The track record's score buckets (`model::track`) use the same shape.
pub(crate) use string_enum;

/// A string that names none of an enum's variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}' (expected one of: {expected})")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

string_enum!(
    /// The three strategies of STRATEGIES.md §4.
    Strategy { Legacy => "Legacy", Breakout => "Breakout", BreakoutV2 => "BreakoutV2" }
);

string_enum!(
    /// Direction a signal leans to; `NONE` when there is no direction.
    Bias { Long => "LONG", Short => "SHORT", None => "NONE" }
);

string_enum!(
    /// What the trader should do now.
    Action { Long => "LONG", Short => "SHORT", Wait => "WAIT" }
);

string_enum!(
    /// The side of a trade setup: a setup always has a direction.
    Side { Long => "LONG", Short => "SHORT" }
);

string_enum!(
    /// Exchanges whose candles the scanner reads.
    Exchange { Mexc => "MEXC", Hyperliquid => "HYPERLIQUID", Binance => "BINANCE" }
);

string_enum!(
    /// Candle intervals the scanner reads: 15m is the LTF, 4h the HTF, 1h the
    /// OI z-score's and 1d a file a data directory may hold.
    Interval { M15 => "15m", H1 => "1h", H4 => "4h", D1 => "1d" }
);

string_enum!(
    /// HTF trend from close, EMA50 and EMA200 (STRATEGIES.md §2).
    Trend { Up => "UP", Down => "DOWN", Range => "RANGE" }
);

string_enum!(
    /// Cardwell RSI range over the last 50 LTF RSI values (STRATEGIES.md §1).
    CardwellRange {
        Overbought => "OVERBOUGHT",
        Oversold => "OVERSOLD",
        Bullish => "BULLISH",
        Bearish => "BEARISH",
        Neutral => "NEUTRAL",
        Transition => "TRANSITION",
    }
);

string_enum!(
    /// Which RSI trendline broke.
    BreakoutType { ResistanceBreak => "RSI_RESISTANCE_BREAK", SupportBreak => "RSI_SUPPORT_BREAK" }
);

string_enum!(
    /// Where derivatives data came from: Coinalyze (`aggregated`), the
    /// simulated market's own simulation (`synthetic`), or nowhere (`neutral`).
    OiStatus { Aggregated => "aggregated", Synthetic => "synthetic", Neutral => "neutral" }
);

impl Interval {
    /// Length of one candle in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Interval::M15 => 15 * 60_000,
            Interval::H1 => 60 * 60_000,
            Interval::H4 => 4 * 60 * 60_000,
            Interval::D1 => 24 * 60 * 60_000,
        }
    }
}

impl Side {
    /// +1 for LONG, -1 for SHORT: the `dir` of STRATEGIES.md.
    pub fn sign(self) -> f64 {
        match self {
            Side::Long => 1.0,
            Side::Short => -1.0,
        }
    }

    pub fn opposite(self) -> Side {
        match self {
            Side::Long => Side::Short,
            Side::Short => Side::Long,
        }
    }
}

impl From<Side> for Bias {
    fn from(side: Side) -> Self {
        match side {
            Side::Long => Bias::Long,
            Side::Short => Bias::Short,
        }
    }
}

impl From<Side> for Action {
    fn from(side: Side) -> Self {
        match side {
            Side::Long => Action::Long,
            Side::Short => Action::Short,
        }
    }
}

impl Bias {
    /// The side of a directional bias; `None` for `NONE`.
    pub fn side(self) -> Option<Side> {
        match self {
            Bias::Long => Some(Side::Long),
            Bias::Short => Some(Side::Short),
            Bias::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_serialize_as_the_contract_strings() {
        assert_eq!(
            serde_json::to_string(&Strategy::BreakoutV2).unwrap(),
            "\"BreakoutV2\""
        );
        assert_eq!(
            serde_json::to_string(&Exchange::Hyperliquid).unwrap(),
            "\"HYPERLIQUID\""
        );
        assert_eq!(
            serde_json::to_string(&OiStatus::Neutral).unwrap(),
            "\"neutral\""
        );
        assert_eq!(
            serde_json::to_string(&BreakoutType::SupportBreak).unwrap(),
            "\"RSI_SUPPORT_BREAK\""
        );
        let back: Action = serde_json::from_str("\"WAIT\"").unwrap();
        assert_eq!(back, Action::Wait);
    }

    #[test]
    fn from_str_is_case_insensitive_and_names_the_choices_on_error() {
        assert_eq!("mexc".parse::<Exchange>().unwrap(), Exchange::Mexc);
        let err = "KRAKEN".parse::<Exchange>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown Exchange 'KRAKEN' (expected one of: MEXC, HYPERLIQUID, BINANCE)"
        );
    }

    #[test]
    fn intervals_parse_like_the_other_enums() {
        assert_eq!("4H".parse::<Interval>().unwrap(), Interval::H4);
        assert_eq!(serde_json::to_string(&Interval::M15).unwrap(), "\"15m\"");
        assert_eq!(
            "5m".parse::<Interval>().unwrap_err().to_string(),
            "unknown Interval '5m' (expected one of: 15m, 1h, 4h, 1d)"
        );
        assert_eq!(Interval::H4.millis(), 16 * Interval::M15.millis());
    }

    #[test]
    fn side_maps_to_bias_and_action() {
        assert_eq!(Bias::from(Side::Short), Bias::Short);
        assert_eq!(Action::from(Side::Long), Action::Long);
        assert_eq!(Bias::None.side(), None);
        assert_eq!(Side::Long.opposite().sign(), -1.0);
    }
}
