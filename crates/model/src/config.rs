//! The scanner's configuration: every threshold of STRATEGIES.md as a typed
//! value with its documented default.
//!
//! Shared by the server (which loads it from `quantpro.toml`, see
//! `core::config`) and the browser (whose ConfigPanel edits it through the
//! generic field table: `ScannerConfig::fields`, `get`, `set`). Serde only:
//! no file or TOML access here, so it compiles to WASM.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Legacy (trend pullback) thresholds, STRATEGIES.md §4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyConfig {
    /// Minimum total score for a LONG/SHORT action.
    pub min_score: f64,
    /// LONG pullback: last RSI within [long_rsi_min, long_rsi_max].
    pub long_rsi_min: f64,
    pub long_rsi_max: f64,
    /// SHORT pullback: last RSI within [short_rsi_min, short_rsi_max].
    pub short_rsi_min: f64,
    pub short_rsi_max: f64,
}

impl Default for LegacyConfig {
    fn default() -> Self {
        LegacyConfig {
            min_score: 60.0,
            long_rsi_min: 40.0,
            long_rsi_max: 55.0,
            short_rsi_min: 45.0,
            short_rsi_max: 60.0,
        }
    }
}

/// Breakout thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakoutConfig {
    pub min_score: f64,
}

impl Default for BreakoutConfig {
    fn default() -> Self {
        BreakoutConfig { min_score: 55.0 }
    }
}

/// BreakoutV2 thresholds and filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakoutV2Config {
    pub min_score: f64,
    /// The `oi_zscore` filter passes when the OI z-score is valid and at least this.
    pub min_oi_z: f64,
    /// The `obv_slope` filter passes when |obv_slope| is at least this (in the breakout's direction).
    pub min_obv_slope: f64,
    /// When false the OI filter is reported but does not block the action.
    pub require_oi: bool,
}

impl Default for BreakoutV2Config {
    fn default() -> Self {
        BreakoutV2Config {
            min_score: 50.0,
            min_oi_z: 1.0,
            min_obv_slope: 0.05,
            require_oi: true,
        }
    }
}

/// Trade setup parameters, STRATEGIES.md §5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SetupConfig {
    /// A setup whose reward/risk is below this turns the action into WAIT (`rr_below_min`).
    pub min_rr: f64,
    /// Stop below the lowest low (above the highest high) of this many LTF candles.
    pub sl_lookback: usize,
    /// ... minus this many LTF ATRs.
    pub sl_atr_buffer: f64,
    /// The stop is at least this many LTF ATRs away from the entry.
    pub min_risk_atr: f64,
    /// The target is the extreme of this many HTF candles ...
    pub tp_lookback: usize,
    /// ... when it lies at least this many risks away; otherwise ...
    pub tp_min_rr: f64,
    /// ... the target is this many risks away.
    pub fallback_rr: f64,
}

impl Default for SetupConfig {
    fn default() -> Self {
        SetupConfig {
            min_rr: 1.5,
            sl_lookback: 10,
            sl_atr_buffer: 0.25,
            min_risk_atr: 1.0,
            tp_lookback: 100,
            tp_min_rr: 1.5,
            fallback_rr: 2.0,
        }
    }
}

/// Parameters of the derived indicators, STRATEGIES.md §1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndicatorConfig {
    pub pivot_span: usize,
    pub trendline_lookback: usize,
    /// RSI points an intermediate value may exceed the trendline by.
    pub trendline_tolerance: f64,
    /// A trendline break must have happened within this many last candles.
    pub break_window: usize,
    pub cardwell_window: usize,
    pub obv_slope_window: usize,
    /// Hourly OI closes in the z-score window.
    pub oi_z_window: usize,
}

impl Default for IndicatorConfig {
    fn default() -> Self {
        IndicatorConfig {
            pivot_span: 3,
            trendline_lookback: 100,
            trendline_tolerance: 0.5,
            break_window: 3,
            cardwell_window: 50,
            obv_slope_window: 20,
            oi_z_window: 24,
        }
    }
}

/// Data sufficiency and freshness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Fewer closed LTF candles than this: every strategy answers `insufficient_data`.
    pub min_ltf_candles: usize,
    /// A last LTF candle older than this many intervals is flagged `stale`.
    pub stale_intervals: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            min_ltf_candles: 50,
            stale_intervals: 2,
        }
    }
}

/// Trade tracking, STRATEGIES.md §6: how long a trade may stay open and
/// what a round trip costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackConfig {
    /// A trade that hits neither stop nor target within this many LTF
    /// candles closes at the close of the last of them (`expired`).
    pub max_bars: usize,
    /// Fee per side in basis points; a closed trade's R pays it twice.
    pub fee_bps: f64,
}

impl Default for TrackConfig {
    fn default() -> Self {
        TrackConfig {
            max_bars: 96,
            fee_bps: 5.0,
        }
    }
}

/// All scanner thresholds. Every section is `#[serde(default)]`, so a
/// partial `quantpro.toml` keeps the defaults of whatever it leaves out.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ScannerConfig {
    pub legacy: LegacyConfig,
    pub breakout: BreakoutConfig,
    pub v2: BreakoutV2Config,
    pub setup: SetupConfig,
    pub indicators: IndicatorConfig,
    pub data: DataConfig,
    pub track: TrackConfig,
}

/// A configuration value as the ConfigPanel edits it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    Bool(bool),
    Number(f64),
}

impl ConfigValue {
    /// How the value is written in its input (`60`, `0.05`, `true`).
    pub fn text(self) -> String {
        match self {
            ConfigValue::Bool(b) => b.to_string(),
            ConfigValue::Number(n) => format!("{n}"),
        }
    }
}

/// Every field's key and text (`ConfigValue::text`): the configuration as
/// the ConfigPanel sends and receives it. The browser reads it back with
/// `set_from_str`, so it carries no deserializer of `ScannerConfig` (the
/// largest one in the bundle).
pub type ConfigTexts = Vec<(String, String)>;

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Bool(b) => write!(f, "{b}"),
            ConfigValue::Number(n) => write!(f, "{n}"),
        }
    }
}

/// What kind of input a field needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// Any finite number in [min, max].
    Float,
    /// A whole number in [min, max].
    Integer,
    /// true / false (min and max are 0 and 1).
    Bool,
}

/// One row of the ConfigPanel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigField {
    /// Dotted key, e.g. `legacy.min_score` (the TOML section and field).
    pub key: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub kind: FieldKind,
    pub default: ConfigValue,
    pub min: f64,
    pub max: f64,
}

/// Why a configuration value was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown configuration key '{0}'")]
    UnknownKey(String),
    #[error("'{key}' expects {expected}, got {got}")]
    WrongType {
        key: String,
        expected: &'static str,
        got: ConfigValue,
    },
    #[error("'{key}' must be between {min} and {max}, got {value}")]
    OutOfRange {
        key: String,
        value: f64,
        min: f64,
        max: f64,
    },
    #[error("'{key}' must be a whole number, got {value}")]
    NotInteger { key: String, value: f64 },
    #[error("'{key}': '{text}' is not a valid value ({expected})")]
    Unparsable {
        key: String,
        text: String,
        expected: &'static str,
    },
    #[error("'{low_key}' ({low}) must not exceed '{high_key}' ({high})")]
    Inverted {
        low_key: &'static str,
        low: f64,
        high_key: &'static str,
        high: f64,
    },
}

impl ConfigError {
    /// The field the problem is about (the lower one of an inverted pair).
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey(key)
            | ConfigError::WrongType { key, .. }
            | ConfigError::OutOfRange { key, .. }
            | ConfigError::NotInteger { key, .. }
            | ConfigError::Unparsable { key, .. } => Some(key),
            ConfigError::Inverted { low_key, .. } => Some(low_key),
        }
    }

    /// All the problems of one configuration in one line, `; `-separated.
    pub fn join_all(errors: &[ConfigError]) -> String {
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// How to read, range-check and write one field; one table serves
/// `fields`, `get`, `set` and `validate`.
struct FieldSpec {
    key: &'static str,
    label: &'static str,
    description: &'static str,
    kind: FieldKind,
    min: f64,
    max: f64,
    get: fn(&ScannerConfig) -> ConfigValue,
    /// Writes an already checked value.
    put: fn(&mut ScannerConfig, ConfigValue),
}

macro_rules! read_value {
    (Float, $e:expr) => {
        ConfigValue::Number($e)
    };
    (Integer, $e:expr) => {
        ConfigValue::Number($e as f64)
    };
    (Bool, $e:expr) => {
        ConfigValue::Bool($e)
    };
}

macro_rules! write_value {
    (Float, $place:expr, $v:expr) => {
        if let ConfigValue::Number(n) = $v {
            $place = n;
        }
    };
    (Integer, $place:expr, $v:expr) => {
        if let ConfigValue::Number(n) = $v {
            $place = n as usize;
        }
    };
    (Bool, $place:expr, $v:expr) => {
        if let ConfigValue::Bool(b) = $v {
            $place = b;
        }
    };
}

macro_rules! field_specs {
    ($( $section:ident . $name:ident : $kind:ident [$min:expr, $max:expr] $label:literal, $desc:literal; )+) => {
        static FIELD_SPECS: &[FieldSpec] = &[$(
            FieldSpec {
                key: concat!(stringify!($section), ".", stringify!($name)),
                label: $label,
                description: $desc,
                kind: FieldKind::$kind,
                min: $min,
                max: $max,
                get: |c| read_value!($kind, c.$section.$name),
                put: |c, v| write_value!($kind, c.$section.$name, v),
            }
        ),+];
    };
}

field_specs! {
    legacy.min_score: Float [0.0, 100.0] "Legacy min score",
        "Minimum total score (0-100) for Legacy to act.";
    legacy.long_rsi_min: Float [0.0, 100.0] "Legacy LONG RSI low",
        "LONG pullback holds when the last RSI is at least this (and rising).";
    legacy.long_rsi_max: Float [0.0, 100.0] "Legacy LONG RSI high",
        "LONG pullback holds when the last RSI is at most this.";
    legacy.short_rsi_min: Float [0.0, 100.0] "Legacy SHORT RSI low",
        "SHORT pullback holds when the last RSI is at least this.";
    legacy.short_rsi_max: Float [0.0, 100.0] "Legacy SHORT RSI high",
        "SHORT pullback holds when the last RSI is at most this (and falling).";
    breakout.min_score: Float [0.0, 100.0] "Breakout min score",
        "Minimum total score (0-100) for Breakout to act.";
    v2.min_score: Float [0.0, 100.0] "BreakoutV2 min score",
        "Minimum total score (0-100) for BreakoutV2 to act.";
    v2.min_oi_z: Float [0.0, 10.0] "Min OI z-score",
        "The oi_zscore filter passes when the open-interest z-score is valid and at least this.";
    v2.min_obv_slope: Float [0.0, 10.0] "Min OBV slope",
        "The obv_slope filter passes when |OBV slope| is at least this, in the breakout's direction.";
    v2.require_oi: Bool [0.0, 1.0] "Require OI filter",
        "When off, the OI filter is reported but does not block a BreakoutV2 action.";
    setup.min_rr: Float [0.0, 20.0] "Min reward/risk",
        "A setup with a lower reward/risk turns the action into WAIT (rr_below_min).";
    setup.sl_lookback: Integer [1.0, 1000.0] "Stop lookback (LTF candles)",
        "The stop sits beyond the extreme of this many last 15m candles.";
    setup.sl_atr_buffer: Float [0.0, 10.0] "Stop ATR buffer",
        "Extra distance beyond that extreme, in LTF ATRs.";
    setup.min_risk_atr: Float [0.0, 20.0] "Min stop distance (ATR)",
        "The stop is at least this many LTF ATRs from the entry.";
    setup.tp_lookback: Integer [1.0, 5000.0] "Target lookback (HTF candles)",
        "The target is the extreme of this many last 4h candles when far enough.";
    setup.tp_min_rr: Float [0.0, 20.0] "Target min reward/risk",
        "The HTF extreme is used as target only if it is at least this many risks away.";
    setup.fallback_rr: Float [0.1, 20.0] "Fallback reward/risk",
        "Otherwise the target is this many risks away.";
    indicators.pivot_span: Integer [1.0, 50.0] "RSI pivot span",
        "A pivot must beat this many RSI values on each side.";
    indicators.trendline_lookback: Integer [10.0, 5000.0] "Trendline lookback",
        "RSI trendlines use pivots within this many last LTF candles.";
    indicators.trendline_tolerance: Float [0.0, 50.0] "Trendline tolerance",
        "RSI points an intermediate value may cross the trendline by.";
    indicators.break_window: Integer [1.0, 100.0] "Break window",
        "A trendline break counts when it happened within this many last candles.";
    indicators.cardwell_window: Integer [1.0, 1000.0] "Cardwell window",
        "Number of last LTF RSI values classified into a Cardwell range.";
    indicators.obv_slope_window: Integer [2.0, 1000.0] "OBV slope window",
        "LTF candles in the OBV least-squares slope.";
    indicators.oi_z_window: Integer [2.0, 1000.0] "OI z-score window",
        "Hourly open-interest closes in the z-score.";
    data.min_ltf_candles: Integer [20.0, 100000.0] "Min LTF candles",
        "With fewer closed 15m candles every strategy answers insufficient_data.";
    data.stale_intervals: Integer [1.0, 1000.0] "Stale after (intervals)",
        "A last candle older than this many intervals is flagged stale.";
    track.max_bars: Integer [1.0, 10000.0] "Trade expiry (LTF candles)",
        "A trade that hits neither stop nor target within this many 15m candles closes at the last one's close.";
    track.fee_bps: Float [0.0, 100.0] "Fee per side (bps)",
        "Taker fee per side in basis points; a closed trade's R pays it on entry and exit.";
}

/// Pairs of fields where the first must not exceed the second.
const ORDERED_PAIRS: &[(&str, &str)] = &[
    ("legacy.long_rsi_min", "legacy.long_rsi_max"),
    ("legacy.short_rsi_min", "legacy.short_rsi_max"),
];

impl ScannerConfig {
    /// The ConfigPanel's rows, in display order, with their defaults.
    pub fn fields() -> Vec<ConfigField> {
        let defaults = ScannerConfig::default();
        FIELD_SPECS
            .iter()
            .map(|spec| ConfigField {
                key: spec.key,
                label: spec.label,
                description: spec.description,
                kind: spec.kind,
                default: (spec.get)(&defaults),
                min: spec.min,
                max: spec.max,
            })
            .collect()
    }

    /// The current value of a dotted key; `None` for an unknown key.
    pub fn get(&self, key: &str) -> Option<ConfigValue> {
        find_spec(key).map(|spec| (spec.get)(self))
    }

    /// Sets a dotted key after checking its type and range; on error the
    /// configuration is unchanged.
    pub fn set(&mut self, key: &str, value: ConfigValue) -> Result<(), ConfigError> {
        let spec = find_spec(key).ok_or_else(|| ConfigError::UnknownKey(key.to_string()))?;
        check_value(spec, value)?;
        (spec.put)(self, value);
        Ok(())
    }

    /// Sets a dotted key from text (`"65"`, `"true"`), as the command line
    /// and environment overrides give it.
    pub fn set_from_str(&mut self, key: &str, text: &str) -> Result<(), ConfigError> {
        let spec = find_spec(key).ok_or_else(|| ConfigError::UnknownKey(key.to_string()))?;
        let text = text.trim();
        let value = match spec.kind {
            FieldKind::Bool => text
                .parse::<bool>()
                .map(ConfigValue::Bool)
                .map_err(|_| "true or false"),
            FieldKind::Float | FieldKind::Integer => text
                .parse::<f64>()
                .map(ConfigValue::Number)
                .map_err(|_| "a number"),
        }
        .map_err(|expected| ConfigError::Unparsable {
            key: key.to_string(),
            text: text.to_string(),
            expected,
        })?;
        self.set(key, value)
    }

    /// The text of every field, in `fields()` order.
    pub fn texts(&self) -> ConfigTexts {
        FIELD_SPECS
            .iter()
            .map(|spec| (spec.key.to_string(), (spec.get)(self).text()))
            .collect()
    }

    /// The configuration that `texts` describe (a key left out keeps its
    /// default), or every text that is no valid value of its field (by
    /// `set_from_str`, which checks each value's type and range; `validate`
    /// checks the whole).
    pub fn from_texts<'a>(
        texts: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ScannerConfig, Vec<ConfigError>> {
        let mut config = ScannerConfig::default();
        let errors: Vec<ConfigError> = texts
            .into_iter()
            .filter_map(|(key, text)| config.set_from_str(key, text).err())
            .collect();
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// Checks every field's range and the ordered pairs; returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors: Vec<ConfigError> = FIELD_SPECS
            .iter()
            .filter_map(|spec| check_value(spec, (spec.get)(self)).err())
            .collect();
        for &(low_key, high_key) in ORDERED_PAIRS {
            if let (Some(ConfigValue::Number(low)), Some(ConfigValue::Number(high))) =
                (self.get(low_key), self.get(high_key))
            {
                if low > high {
                    errors.push(ConfigError::Inverted {
                        low_key,
                        low,
                        high_key,
                        high,
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn find_spec(key: &str) -> Option<&'static FieldSpec> {
    FIELD_SPECS.iter().find(|spec| spec.key == key)
}

fn check_value(spec: &FieldSpec, value: ConfigValue) -> Result<(), ConfigError> {
    let key = || spec.key.to_string();
    match (spec.kind, value) {
        (FieldKind::Bool, ConfigValue::Bool(_)) => Ok(()),
        (FieldKind::Bool, got) => Err(ConfigError::WrongType {
            key: key(),
            expected: "true or false",
            got,
        }),
        (_, got @ ConfigValue::Bool(_)) => Err(ConfigError::WrongType {
            key: key(),
            expected: "a number",
            got,
        }),
        (kind, ConfigValue::Number(value)) => {
            // NaN fails this comparison too, so it is reported as out of range.
            if !(value >= spec.min && value <= spec.max) {
                return Err(ConfigError::OutOfRange {
                    key: key(),
                    value,
                    min: spec.min,
                    max: spec.max,
                });
            }
            if kind == FieldKind::Integer && value.fract() != 0.0 {
                return Err(ConfigError::NotInteger { key: key(), value });
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_values() {
        let c = ScannerConfig::default();
        assert_eq!(c.legacy.min_score, 60.0);
        assert_eq!(c.breakout.min_score, 55.0);
        assert_eq!(c.v2.min_score, 50.0);
        assert_eq!(c.v2.min_oi_z, 1.0);
        assert_eq!(c.v2.min_obv_slope, 0.05);
        assert!(c.v2.require_oi);
        assert_eq!(c.setup.min_rr, 1.5);
        assert_eq!((c.setup.sl_lookback, c.setup.tp_lookback), (10, 100));
        assert_eq!((c.setup.sl_atr_buffer, c.setup.min_risk_atr), (0.25, 1.0));
        assert_eq!((c.setup.tp_min_rr, c.setup.fallback_rr), (1.5, 2.0));
        assert_eq!(
            (
                c.indicators.pivot_span,
                c.indicators.trendline_lookback,
                c.indicators.break_window
            ),
            (3, 100, 3)
        );
        assert_eq!(c.indicators.trendline_tolerance, 0.5);
        assert_eq!(
            (
                c.indicators.cardwell_window,
                c.indicators.obv_slope_window,
                c.indicators.oi_z_window
            ),
            (50, 20, 24)
        );
        assert_eq!(c.data.min_ltf_candles, 50);
        assert_eq!((c.track.max_bars, c.track.fee_bps), (96, 5.0));
        assert_eq!((c.legacy.long_rsi_min, c.legacy.long_rsi_max), (40.0, 55.0));
        assert_eq!(
            (c.legacy.short_rsi_min, c.legacy.short_rsi_max),
            (45.0, 60.0)
        );
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn field_table_covers_every_value_and_reports_defaults() {
        let fields = ScannerConfig::fields();
        // Every field of every section, and no key twice.
        let json = serde_json::to_value(ScannerConfig::default()).unwrap();
        let leaf_count: usize = json
            .as_object()
            .unwrap()
            .values()
            .map(|s| s.as_object().unwrap().len())
            .sum();
        assert_eq!(fields.len(), leaf_count);
        let mut keys: Vec<_> = fields.iter().map(|f| f.key).collect();
        keys.dedup();
        assert_eq!(keys.len(), fields.len());
        for field in &fields {
            let (section, name) = field.key.split_once('.').unwrap();
            let from_json = &json[section][name];
            let expected = match field.default {
                ConfigValue::Bool(b) => serde_json::json!(b),
                ConfigValue::Number(n) => serde_json::json!(n),
            };
            assert_eq!(
                from_json
                    .as_f64()
                    .map(|f| serde_json::json!(f))
                    .unwrap_or(from_json.clone()),
                expected,
                "{}",
                field.key
            );
            assert!(field.min <= field.max);
        }
        let min_score = fields.iter().find(|f| f.key == "legacy.min_score").unwrap();
        assert_eq!(min_score.default, ConfigValue::Number(60.0));
    }

    #[test]
    fn set_checks_type_range_and_integers() {
        let mut c = ScannerConfig::default();
        c.set("legacy.min_score", ConfigValue::Number(65.0))
            .unwrap();
        assert_eq!(c.legacy.min_score, 65.0);
        assert_eq!(c.get("legacy.min_score"), Some(ConfigValue::Number(65.0)));
        c.set("v2.require_oi", ConfigValue::Bool(false)).unwrap();
        assert!(!c.v2.require_oi);
        c.set("setup.sl_lookback", ConfigValue::Number(12.0))
            .unwrap();
        assert_eq!(c.setup.sl_lookback, 12);

        let before = c.clone();
        let err = c
            .set("legacy.min_score", ConfigValue::Number(150.0))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "'legacy.min_score' must be between 0 and 100, got 150"
        );
        assert!(matches!(
            c.set("legacy.min_score", ConfigValue::Number(f64::NAN)),
            Err(ConfigError::OutOfRange { .. })
        ));
        assert!(matches!(
            c.set("setup.sl_lookback", ConfigValue::Number(2.5)),
            Err(ConfigError::NotInteger { .. })
        ));
        assert!(matches!(
            c.set("v2.require_oi", ConfigValue::Number(1.0)),
            Err(ConfigError::WrongType { .. })
        ));
        assert!(matches!(
            c.set("v2.min_oi_z", ConfigValue::Bool(true)),
            Err(ConfigError::WrongType { .. })
        ));
        assert_eq!(
            c.set("legacy.nope", ConfigValue::Number(1.0)),
            Err(ConfigError::UnknownKey("legacy.nope".into()))
        );
        assert_eq!(c, before, "a refused set leaves the config unchanged");
    }

    #[test]
    fn set_from_str_parses_by_kind() {
        let mut c = ScannerConfig::default();
        c.set_from_str("v2.min_oi_z", " 1.5 ").unwrap();
        c.set_from_str("v2.require_oi", "false").unwrap();
        assert_eq!((c.v2.min_oi_z, c.v2.require_oi), (1.5, false));
        let err = c.set_from_str("v2.require_oi", "yes").unwrap_err();
        assert!(matches!(err, ConfigError::Unparsable { .. }), "{err}");
        assert!(c.set_from_str("v2.min_oi_z", "abc").is_err());
    }

    #[test]
    fn validate_reports_every_problem() {
        let mut c = ScannerConfig::default();
        c.breakout.min_score = -1.0;
        c.indicators.pivot_span = 0;
        c.legacy.long_rsi_min = 70.0;
        let errors = c.validate().unwrap_err();
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 3, "{text:?}");
        assert!(text.iter().any(|t| t.contains("breakout.min_score")));
        assert!(text.iter().any(|t| t.contains("indicators.pivot_span")));
        assert!(text.contains(
            &"'legacy.long_rsi_min' (70) must not exceed 'legacy.long_rsi_max' (55)".to_string()
        ));
    }

    #[test]
    fn partial_json_keeps_defaults_and_unknown_fields_are_refused() {
        let c: ScannerConfig = serde_json::from_str(r#"{"v2": {"min_oi_z": 2.0}}"#).unwrap();
        assert_eq!(c.v2.min_oi_z, 2.0);
        assert_eq!(c.v2.min_score, 50.0);
        assert_eq!(c.legacy, LegacyConfig::default());
        assert!(serde_json::from_str::<ScannerConfig>(r#"{"v2": {"min_oi": 2.0}}"#).is_err());
    }
}
