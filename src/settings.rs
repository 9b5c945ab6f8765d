//! [ssr] `quantpro.toml` and the environment, read in one place: the
//! scanner thresholds (`model::ScannerConfig`, the sections `[legacy]`,
//! `[breakout]`, `[v2]`, `[setup]`, `[indicators]`, `[data]`) and the
//! server-side settings (`[sources]`: every external base URL).
//!
//! Each value can be overridden from the environment: `QUANTPRO_` + the
//! section + `__` + the field, in capitals (`legacy.min_score` ->
//! `QUANTPRO_LEGACY__MIN_SCORE`, `sources.coinalyze` ->
//! `QUANTPRO_SOURCES__COINALYZE`). The environment is captured once per
//! process ([`Environment`], the process environment over `.env`), so every
//! entry point (CLI, dashboard, live loop) applies the same overrides.

use crate::atomic_file::{write_atomic, WriteError};
use crate::model::{ConfigError, Exchange, ScannerConfig};
use crate::sources::exchanges::Market;
pub use crate::sources::keys::Environment;
pub use crate::sources::urls::SourceUrls;
use crate::sources::urls::{UrlError, URL_FIELDS};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One market the live loop follows (`[universe] markets`): an exchange
/// market, or the built-in simulated market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniverseMarket {
    Simulated,
    Exchange(Exchange, Market),
}

impl std::str::FromStr for UniverseMarket {
    type Err = String;

    /// `simulated`, `binance:futures`, `binance:spot`, `mexc:futures`,
    /// `mexc:spot`, `hyperliquid` (its perps); the market defaults to the
    /// exchange's usual one.
    fn from_str(text: &str) -> Result<UniverseMarket, String> {
        if text.eq_ignore_ascii_case("simulated") {
            return Ok(UniverseMarket::Simulated);
        }
        let (exchange, market) = match text.split_once(':') {
            Some((e, m)) => (e, Some(m)),
            None => (text, None),
        };
        let exchange: Exchange = exchange
            .parse()
            .map_err(|e: crate::model::UnknownVariant| e.to_string())?;
        let market = match market {
            Some(m) => m.parse()?,
            None => Market::default_for(exchange),
        };
        Ok(UniverseMarket::Exchange(exchange, market))
    }
}

/// `[universe]`: what the live loop (`quantpro serve`, `quantpro watch`)
/// keeps current by itself. Without this table the server only shows the
/// feed and scans on demand (the embedded demo runs the simulated market).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UniverseSettings {
    /// `simulated`, or exchange markets such as `binance:futures`,
    /// `hyperliquid`, `mexc:futures`.
    pub markets: Vec<String>,
    /// The N symbols of each market with the highest 24 h quote volume.
    pub top_n: usize,
    /// Symbols below this 24 h quote volume (USD) are left out.
    pub min_quote_volume: f64,
    /// Always followed while listed (exchange spelling, any case).
    pub include: Vec<String>,
    /// Never followed.
    pub exclude: Vec<String>,
    /// How often the listings are read again.
    pub refresh_minutes: u64,
    /// Closed 15m candles kept per symbol (indicator warm-up + lookbacks).
    pub ltf_history: usize,
    /// Closed 4h candles kept per symbol (EMA200 + the target lookback).
    pub htf_history: usize,
    /// After a close, how long the loop waits for the stream before it asks
    /// REST for the candles that did not come.
    pub settle_secs: u64,
    /// The simulated market: symbols over the three exchanges.
    pub simulated_symbols: usize,
    /// The simulated market's clock speed (1 = real pace; 60 = a 15m candle
    /// every 15 s, for demos).
    pub accelerate: f64,
}

impl Default for UniverseSettings {
    fn default() -> Self {
        UniverseSettings {
            markets: Vec::new(),
            top_n: 50,
            min_quote_volume: 1e6,
            include: Vec::new(),
            exclude: Vec::new(),
            refresh_minutes: 60,
            ltf_history: 1000,
            htf_history: 300,
            settle_secs: 20,
            simulated_symbols: 45,
            accelerate: 1.0,
        }
    }
}

impl UniverseSettings {
    /// The configured markets, each parsed.
    pub fn parsed_markets(&self) -> Result<Vec<UniverseMarket>, String> {
        self.markets.iter().map(|m| m.parse()).collect()
    }

    /// The simulated market alone, as the embedded demo runs it.
    pub fn simulated() -> UniverseSettings {
        UniverseSettings {
            markets: vec!["simulated".into()],
            ..UniverseSettings::default()
        }
    }

    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = self.parsed_markets() {
            problems.push(format!("'universe.markets': {e}"));
        }
        if self.top_n == 0 && self.include.is_empty() {
            problems.push(
                "'universe.top_n' must be at least 1 (or list symbols in 'universe.include')"
                    .into(),
            );
        }
        if self.ltf_history < 100 || self.htf_history < 50 {
            problems.push(format!(
                "'universe.ltf_history' must be at least 100 and 'universe.htf_history' at least 50 (got {} and {})",
                self.ltf_history, self.htf_history
            ));
        }
        if !(self.accelerate.is_finite() && (1.0..=3600.0).contains(&self.accelerate)) {
            problems.push(format!(
                "'universe.accelerate' must be between 1 and 3600, got {}",
                self.accelerate
            ));
        }
        if self.refresh_minutes == 0 {
            problems.push("'universe.refresh_minutes' must be at least 1".into());
        }
        problems
    }
}

/// Everything `quantpro.toml` and the environment configure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    pub scanner: ScannerConfig,
    pub sources: SourceUrls,
    /// `None` without a `[universe]` table.
    pub universe: Option<UniverseSettings>,
}

/// Why the settings could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid configuration: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path} has invalid values: {}", ConfigError::join_all(.errors))]
    Invalid {
        path: PathBuf,
        errors: Vec<ConfigError>,
    },
    #[error("invalid environment override {var}: {error}")]
    Override { var: String, error: ConfigError },
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Urls(Vec<UrlError>),
    #[error("{path} has an invalid [universe]: {}", .problems.join("; "))]
    Universe {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("cannot encode the configuration as TOML: {0}")]
    Encode(String),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// The environment variable overriding a dotted key: `legacy.min_score` ->
/// `QUANTPRO_LEGACY__MIN_SCORE` (the double underscore stands for the dot).
pub fn env_var_name(key: &str) -> String {
    format!("QUANTPRO_{}", key.replace('.', "__").to_ascii_uppercase())
}

/// `quantpro.toml` plus the environment: loaded for every scan (so an edit
/// of the file applies to the next one) and saved by the ConfigPanel.
#[derive(Debug, Clone)]
pub struct SettingsStore {
    path: PathBuf,
    env: Environment,
}

impl SettingsStore {
    pub fn new(path: impl Into<PathBuf>, env: Environment) -> SettingsStore {
        SettingsStore {
            path: path.into(),
            env,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn environment(&self) -> &Environment {
        &self.env
    }

    /// The file (defaults for a missing one) with the environment's
    /// overrides applied, validated. A file that is not valid TOML, has an
    /// unknown key inside a known section, or holds out-of-range values is an
    /// error naming the file and every problem. Tables this module does not
    /// know are ignored (the file may configure other tools).
    pub fn load(&self) -> Result<Settings, SettingsError> {
        let mut table = self.read_table()?;
        let universe = match table.remove("universe") {
            Some(value) => Some(UniverseSettings::deserialize(value).map_err(|e| self.syntax(e))?),
            None => None,
        };
        if let Some(problems) = universe
            .as_ref()
            .map(UniverseSettings::validate)
            .filter(|p| !p.is_empty())
        {
            return Err(SettingsError::Universe {
                path: self.path.clone(),
                problems,
            });
        }
        let (mut scanner, mut sources) = self.parse(table)?;
        self.apply_overrides(&mut scanner, &mut sources)?;
        scanner
            .validate()
            .map_err(|errors| SettingsError::Invalid {
                path: self.path.clone(),
                errors,
            })?;
        let url_errors = sources.validate();
        if !url_errors.is_empty() {
            return Err(SettingsError::Urls(url_errors));
        }
        Ok(Settings {
            scanner,
            sources,
            universe,
        })
    }

    /// Validates `config` once and writes its sections to the file
    /// atomically; other tables of the file are kept (comments are not), and
    /// a file that is not valid TOML is left alone and reported rather than
    /// overwritten. Returns the configuration now in force: the saved one
    /// with the environment's overrides on top.
    pub fn save_scanner(&self, config: &ScannerConfig) -> Result<ScannerConfig, SettingsError> {
        config.validate().map_err(|errors| SettingsError::Invalid {
            path: self.path.clone(),
            errors,
        })?;
        let mut document = self.read_table()?;
        match toml::Value::try_from(config).map_err(|e| SettingsError::Encode(e.to_string()))? {
            toml::Value::Table(sections) => document.extend(sections),
            other => {
                return Err(SettingsError::Encode(format!(
                    "expected a table, got {other}"
                )))
            }
        }
        let text =
            toml::to_string_pretty(&document).map_err(|e| SettingsError::Encode(e.to_string()))?;
        write_atomic(&self.path, text.as_bytes())?;
        let mut in_force = config.clone();
        let mut sources = SourceUrls::default();
        self.apply_overrides(&mut in_force, &mut sources)?;
        Ok(in_force)
    }

    /// The scanner keys the environment overrides, with their variables.
    pub fn overridden_keys(&self) -> Vec<(&'static str, String)> {
        ScannerConfig::fields()
            .into_iter()
            .filter_map(|field| {
                let var = env_var_name(field.key);
                self.env.get(&var).map(|_| (field.key, var))
            })
            .collect()
    }

    fn read_table(&self) -> Result<toml::Table, SettingsError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => toml::from_str(&text).map_err(|e| SettingsError::Syntax {
                path: self.path.clone(),
                message: e.to_string().trim_end().to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
            Err(source) => Err(SettingsError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn syntax(&self, e: toml::de::Error) -> SettingsError {
        SettingsError::Syntax {
            path: self.path.clone(),
            message: e.to_string().trim_end().to_string(),
        }
    }

    fn parse(&self, mut table: toml::Table) -> Result<(ScannerConfig, SourceUrls), SettingsError> {
        let sources = match table.remove("sources") {
            Some(value) => SourceUrls::deserialize(value).map_err(|e| self.syntax(e))?,
            None => SourceUrls::default(),
        };
        let scanner =
            ScannerConfig::deserialize(toml::Value::Table(table)).map_err(|e| self.syntax(e))?;
        Ok((scanner, sources))
    }

    fn apply_overrides(
        &self,
        scanner: &mut ScannerConfig,
        sources: &mut SourceUrls,
    ) -> Result<(), SettingsError> {
        for field in ScannerConfig::fields() {
            let var = env_var_name(field.key);
            if let Some(value) = self.env.get(&var) {
                scanner.set_from_str(field.key, value).map_err(|error| {
                    SettingsError::Override {
                        var: var.clone(),
                        error,
                    }
                })?;
            }
        }
        for field in URL_FIELDS {
            if let Some(value) = self
                .env
                .get(&env_var_name(&format!("sources.{}", field.key)))
            {
                *(field.slot)(sources) = value.to_string();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(text: Option<&str>, env: &[(&str, &str)]) -> (tempfile::TempDir, SettingsStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quantpro.toml");
        if let Some(text) = text {
            std::fs::write(&path, text).unwrap();
        }
        let env = Environment::from_pairs(env.iter().copied());
        (dir, SettingsStore::new(path, env))
    }

    #[test]
    fn missing_file_gives_defaults() {
        let (_dir, store) = store(None, &[]);
        assert_eq!(store.load().unwrap(), Settings::default());
    }

    #[test]
    fn partial_file_keeps_other_defaults_and_ignores_other_tables() {
        let (_dir, store) = store(
            Some("[server]\nport = 3000\n\n[v2]\nmin_oi_z = 1.5\nrequire_oi = false\n\n[setup]\nsl_lookback = 12\n\n[sources]\ncoinalyze = \"http://127.0.0.1:9000/v1\"\n"),
            &[],
        );
        let settings = store.load().unwrap();
        let config = &settings.scanner;
        assert_eq!(
            (
                config.v2.min_oi_z,
                config.v2.require_oi,
                config.setup.sl_lookback
            ),
            (1.5, false, 12)
        );
        assert_eq!(config.v2.min_score, 50.0);
        assert_eq!(config.legacy, ScannerConfig::default().legacy);
        assert_eq!(settings.sources.coinalyze, "http://127.0.0.1:9000/v1");
        assert_eq!(
            settings.sources.gemini,
            SourceUrls::default().gemini,
            "unset URLs keep the real service"
        );
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let cases = [
            ("[legacy\nmin_score = 1", "is not a valid configuration: TOML parse error at line 1"),
            ("[legacy]\nmin_scor = 70", "unknown field `min_scor`"),
            ("[legacy]\nmin_score = \"high\"", "invalid type: string \"high\", expected f64"),
            ("[legacy]\nmin_score = 170\n[setup]\nsl_lookback = 0", "has invalid values: 'legacy.min_score' must be between 0 and 100, got 170; 'setup.sl_lookback' must be between 1 and 1000, got 0"),
            ("[sources]\ncoinalyzer = \"http://x\"", "unknown field `coinalyzer`"),
        ];
        for (text, expected) in cases {
            let (_dir, store) = store(Some(text), &[]);
            let err = store.load().unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "'{err}' should contain '{expected}'"
            );
            assert!(err.contains("quantpro.toml"), "{err}");
        }
        let (_dir, store) = store(
            Some("[sources]\ngemini = \"ftp://x\"\nhyperliquid_stream = \"https://api.hyperliquid.xyz/ws\""),
            &[],
        );
        let err = store.load().unwrap_err().to_string();
        assert!(
            err.contains("'sources.gemini' must be an http:// or https:// URL, got \"ftp://x\"")
                && err.contains("'sources.hyperliquid_stream' must be a ws:// or wss:// URL"),
            "{err}"
        );
    }

    #[test]
    fn save_then_load_round_trips_and_keeps_other_tables() {
        let (_dir, store) = store(Some("[server]\nport = 3000\n\n[v2]\nmin_oi_z = 1.5\n"), &[]);
        let mut config = store.load().unwrap().scanner;
        config.breakout.min_score = 57.5;
        config.indicators.cardwell_window = 60;
        assert_eq!(store.save_scanner(&config).unwrap(), config);
        assert_eq!(store.load().unwrap().scanner, config);
        let text = std::fs::read_to_string(store.path()).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(table["server"]["port"].as_integer(), Some(3000));

        config.legacy.min_score = -3.0;
        assert!(matches!(
            store.save_scanner(&config),
            Err(SettingsError::Invalid { .. })
        ));
        assert_eq!(
            store.load().unwrap().scanner.legacy.min_score,
            60.0,
            "a refused save leaves the file alone"
        );

        std::fs::write(store.path(), "[v2\n").unwrap();
        let err = store
            .save_scanner(&ScannerConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a valid configuration"), "{err}");
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), "[v2\n");
    }

    #[test]
    fn the_universe_table_is_read_and_checked() {
        let (_dir, good) = store(
            Some("[universe]\nmarkets = [\"binance:futures\", \"hyperliquid\", \"simulated\"]\ntop_n = 20\n"),
            &[],
        );
        let universe = good.load().unwrap().universe.unwrap();
        assert_eq!(universe.top_n, 20);
        assert_eq!(
            universe.parsed_markets().unwrap(),
            [
                UniverseMarket::Exchange(Exchange::Binance, Market::Futures),
                UniverseMarket::Exchange(Exchange::Hyperliquid, Market::Futures),
                UniverseMarket::Simulated
            ]
        );
        let (_dir, bad) = store(
            Some("[universe]\nmarkets = [\"kraken\"]\naccelerate = 0\n"),
            &[],
        );
        let err = bad.load().unwrap_err().to_string();
        assert!(
            err.contains("invalid [universe]: 'universe.markets': unknown Exchange 'kraken'")
                && err.contains("'universe.accelerate' must be between 1 and 3600, got 0"),
            "{err}"
        );
        let (_dir, none) = store_with_env(&[]);
        assert_eq!(none.load().unwrap().universe, None);
    }

    #[test]
    fn the_environment_overrides_the_file() {
        assert_eq!(env_var_name("v2.min_oi_z"), "QUANTPRO_V2__MIN_OI_Z");
        let (_dir, store) = store(
            Some("[setup]\nmin_rr = 3\n"),
            &[
                ("QUANTPRO_SETUP__MIN_RR", "2"),
                ("QUANTPRO_SOURCES__GEMINI", "http://127.0.0.1:1/v1beta"),
            ],
        );
        let settings = store.load().unwrap();
        assert_eq!(settings.scanner.setup.min_rr, 2.0);
        assert_eq!(settings.sources.gemini, "http://127.0.0.1:1/v1beta");
        assert_eq!(
            store.overridden_keys(),
            vec![("setup.min_rr", "QUANTPRO_SETUP__MIN_RR".to_string())]
        );
        let saved = store.save_scanner(&ScannerConfig::default()).unwrap();
        assert_eq!(saved.setup.min_rr, 2.0, "the override stays in force");

        let (_dir, bad) = store_with_env(&[("QUANTPRO_SETUP__MIN_RR", "lots")]);
        let err = bad.load().unwrap_err().to_string();
        assert!(
            err.contains(
                "QUANTPRO_SETUP__MIN_RR: 'setup.min_rr': 'lots' is not a valid value (a number)"
            ),
            "{err}"
        );
    }

    fn store_with_env(env: &[(&str, &str)]) -> (tempfile::TempDir, SettingsStore) {
        store(None, env)
    }
}
