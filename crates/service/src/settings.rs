//! [ssr] `quantpro.toml` and the environment, read in one place: the
//! scanner thresholds (`model::ScannerConfig`, the sections `[legacy]`,
//! `[breakout]`, `[v2]`, `[setup]`, `[indicators]`, `[data]`) and the
//! server-side settings (`[sources]`: every external base URL; `[auth]`:
//! who may act on the dashboard, see `server::auth`; `[journal]`: where the
//! signal journal lives, see `journal`; `[alerts]`: rules and channels, see
//! `alerts::rules`).
//!
//! Each value can be overridden from the environment: `QUANTPRO_` + the
//! section + `__` + the field, in capitals (`legacy.min_score` ->
//! `QUANTPRO_LEGACY__MIN_SCORE`, `sources.coinalyze` ->
//! `QUANTPRO_SOURCES__COINALYZE`). The owner's token for scripts comes from
//! the environment only (`QUANTPRO_OWNER_TOKEN`), never from the file. The
//! environment is captured once per
//! process ([`Environment`], the process environment over `.env`), so every
//! entry point (CLI, dashboard, live loop) applies the same overrides.

use crate::alerts::AlertSettings;
use quantpro_model::atomic_file::{write_atomic, WriteError};
use quantpro_model::{ConfigError, Exchange, ScannerConfig};
use quantpro_model::{Market, UnknownMarket, UnknownVariant};
pub use quantpro_sources::keys::Environment;
use quantpro_sources::keys::Secret;
pub use quantpro_sources::urls::SourceUrls;
use quantpro_sources::urls::{UrlError, URL_FIELDS};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// One market the live loop follows (`[universe] markets`): an exchange
/// market, or the built-in simulated market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniverseMarket {
    Simulated,
    Exchange(Exchange, Market),
}

/// A `[universe] markets` entry that names no market: its exchange or its
/// market part is unknown (the message lists the valid names).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownUniverseMarket {
    #[error(transparent)]
    Exchange(#[from] UnknownVariant),
    #[error(transparent)]
    Market(#[from] UnknownMarket),
}

impl std::str::FromStr for UniverseMarket {
    type Err = UnknownUniverseMarket;

    /// `simulated`, `binance:futures`, `binance:spot`, `mexc:futures`,
    /// `mexc:spot`, `hyperliquid` (its perps); the market defaults to the
    /// exchange's usual one.
    fn from_str(text: &str) -> Result<UniverseMarket, UnknownUniverseMarket> {
        if text.eq_ignore_ascii_case("simulated") {
            return Ok(UniverseMarket::Simulated);
        }
        let (exchange, market) = match text.split_once(':') {
            Some((e, m)) => (e, Some(m)),
            None => (text, None),
        };
        let exchange: Exchange = exchange.parse()?;
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
    pub fn parsed_markets(&self) -> Result<Vec<UniverseMarket>, UnknownUniverseMarket> {
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
    pub auth: AuthSettings,
    /// `[alerts]`: no rules (nothing fires) without the table.
    pub alerts: AlertSettings,
    pub journal: JournalSettings,
}

/// `[journal]` of `quantpro.toml` (and `QUANTPRO_JOURNAL__DATABASE_URL`):
/// where the signal journal is kept. Without a URL it is the SQLite file
/// `journal.sqlite` in the data directory.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JournalSettings {
    /// `journal.database_url`: `postgres://user:password@host/db` for a
    /// journal shared by several processes, or `sqlite://path`. A
    /// [`Secret`]: it may hold a password.
    pub database_url: Option<Secret>,
}

/// The schemes `journal.database_url` may use.
pub const JOURNAL_URL_SCHEMES: [&str; 3] = ["sqlite:", "postgres:", "postgresql:"];

/// `[journal]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JournalSection {
    database_url: Option<String>,
}

/// The environment variable holding the owner's token for scripts
/// (`Authorization: Bearer <token>`).
pub const OWNER_TOKEN_VAR: &str = "QUANTPRO_OWNER_TOKEN";

/// A shorter owner token is refused at start: it could be guessed.
pub const MIN_OWNER_TOKEN_CHARS: usize = 20;

/// Sessions last this long unless `auth.session_hours` says otherwise.
pub const DEFAULT_SESSION_HOURS: f64 = 12.0;

/// The longest session `auth.session_hours` may ask for (30 days).
const MAX_SESSION_HOURS: f64 = 24.0 * 30.0;

/// `[auth]` of `quantpro.toml` plus `QUANTPRO_OWNER_TOKEN`: who may act on
/// the dashboard (`server::auth` applies it). The hash and the token are
/// [`Secret`]s: they print as `***`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthSettings {
    /// `auth.password_hash`: the argon2 PHC string `quantpro set-password`
    /// writes. With none, loopback requests are the owner (single-user mode).
    pub password_hash: Option<Secret>,
    /// `QUANTPRO_OWNER_TOKEN`: scripts send it as a bearer token.
    pub owner_token: Option<Secret>,
    /// `auth.session_hours`: how long a sign-in lasts.
    pub session_ttl: Duration,
    /// `auth.trust_proxy`: the server runs behind a reverse proxy that sets
    /// `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host`; only
    /// then are those headers believed (client address, TLS, host).
    pub trust_proxy: bool,
    /// `auth.trust_loopback`: without a password, requests from this
    /// machine are the owner (on by default; off makes every visitor a
    /// viewer until a password or token is set).
    pub trust_loopback: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            password_hash: None,
            owner_token: None,
            session_ttl: Duration::from_secs_f64(DEFAULT_SESSION_HOURS * 3600.0),
            trust_proxy: false,
            trust_loopback: true,
        }
    }
}

/// `[auth]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthSection {
    password_hash: Option<String>,
    session_hours: Option<f64>,
    trust_proxy: Option<bool>,
    trust_loopback: Option<bool>,
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
    /// Every problem of `[alerts]`, each naming its field
    /// (`'alerts.rules[1].min_score' must be between 0 and 100, got 150`).
    #[error("{path} has invalid [alerts]: {}", .problems.join("; "))]
    Alerts {
        path: PathBuf,
        problems: Vec<String>,
    },
    /// A value of `[auth]` or `QUANTPRO_OWNER_TOKEN` that cannot be used;
    /// the message never contains the secret itself.
    #[error("{0}")]
    Auth(String),
    /// A `[journal]` value that cannot be used; the message never quotes
    /// the URL (it may hold a password).
    #[error("{0}")]
    Journal(String),
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

/// `quantpro.toml` plus the environment: read and validated once (the
/// first [`SettingsStore::current`], at the start of a process), held in
/// memory for every scan and request, and replaced by every save through
/// this store (the ConfigPanel's, `quantpro set-password`'s). Clones share
/// the settings in force.
#[derive(Debug, Clone)]
pub struct SettingsStore {
    path: PathBuf,
    env: Environment,
    /// The settings in force once read; `None` before the first read.
    in_force: Arc<watch::Sender<Option<Arc<Settings>>>>,
}

impl SettingsStore {
    pub fn new(path: impl Into<PathBuf>, env: Environment) -> SettingsStore {
        SettingsStore {
            path: path.into(),
            env,
            in_force: Arc::new(watch::channel(None).0),
        }
    }

    /// The settings in force, from memory; the first call reads and
    /// validates the file (an error then names the file and every problem).
    pub fn current(&self) -> Result<Arc<Settings>, SettingsError> {
        if let Some(settings) = self.in_force.borrow().clone() {
            return Ok(settings);
        }
        let loaded = Arc::new(self.load()?);
        self.in_force.send_replace(Some(loaded.clone()));
        Ok(loaded)
    }

    /// Every change of the settings in force (each save), for whoever must
    /// follow them without asking.
    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<Settings>>> {
        self.in_force.subscribe()
    }

    /// Reads the file again and puts it in force (an edit made outside the
    /// dashboard: `kill -HUP` of `serve` or `watch`); a file that is not
    /// valid leaves the settings in force as they were.
    pub fn reload(&self) -> Result<Arc<Settings>, SettingsError> {
        let loaded = Arc::new(self.load()?);
        self.in_force.send_replace(Some(loaded.clone()));
        Ok(loaded)
    }

    /// Reads the file again after a save and puts it in force (when the
    /// settings were read before; otherwise the first `current` reads it).
    fn put_saved_in_force(&self) -> Result<(), SettingsError> {
        if self.in_force.borrow().is_none() {
            return Ok(());
        }
        let saved = Arc::new(self.load()?);
        self.in_force.send_replace(Some(saved));
        Ok(())
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
        let journal = match table.remove("journal") {
            Some(value) => JournalSection::deserialize(value).map_err(|e| self.syntax(e))?,
            None => JournalSection::default(),
        };
        let journal = self.journal_settings(journal)?;
        let alerts = match table.remove("alerts") {
            Some(value) => AlertSettings::deserialize(value).map_err(|e| self.alerts_syntax(e))?,
            None => AlertSettings::default(),
        };
        self.check_alerts(&alerts)?;
        let (mut scanner, mut sources, auth) = self.parse(table)?;
        self.apply_overrides(&mut scanner, &mut sources)?;
        let auth = self.auth_settings(auth)?;
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
            auth,
            alerts,
            journal,
        })
    }

    /// `[journal]` with `QUANTPRO_JOURNAL__DATABASE_URL` on top; an empty
    /// value means the embedded SQLite file.
    fn journal_settings(&self, section: JournalSection) -> Result<JournalSettings, SettingsError> {
        let var = env_var_name("journal.database_url");
        let (url, origin) = match self.env.get(&var) {
            Some(value) => (Some(value.to_string()), var),
            None => (
                section.database_url,
                format!("'journal.database_url' in {}", self.path.display()),
            ),
        };
        let url = url.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
        if let Some(url) = &url {
            let lower = url.to_ascii_lowercase();
            if !JOURNAL_URL_SCHEMES.iter().any(|s| lower.starts_with(s)) {
                let scheme = url.split_once(':').map_or("none", |(scheme, _)| scheme);
                return Err(SettingsError::Journal(format!(
                    "{origin} must start with {} (its scheme is {scheme:?}); leave it out for the \
                     embedded SQLite journal",
                    JOURNAL_URL_SCHEMES.join(", ")
                )));
            }
        }
        Ok(JournalSettings {
            database_url: url.map(Secret::new),
        })
    }

    /// `[alerts]` that cannot be used, every problem with its field.
    fn check_alerts(&self, alerts: &AlertSettings) -> Result<(), SettingsError> {
        let problems = alerts.validate();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SettingsError::Alerts {
                path: self.path.clone(),
                problems,
            })
        }
    }

    /// A syntax error inside `[alerts]`: serde names the key but not the
    /// table it sits in, so the message says it.
    fn alerts_syntax(&self, e: toml::de::Error) -> SettingsError {
        SettingsError::Alerts {
            path: self.path.clone(),
            problems: vec![e.to_string().trim_end().to_string()],
        }
    }

    /// `[alerts]` as the ConfigPanel edits it: a TOML document of that
    /// one table. It holds no secret: channels name the environment
    /// variables of their tokens, never the tokens.
    pub fn alerts_text(alerts: &AlertSettings) -> Result<String, SettingsError> {
        let mut document = toml::Table::new();
        let value =
            toml::Value::try_from(alerts).map_err(|e| SettingsError::Encode(e.to_string()))?;
        document.insert("alerts".to_string(), value);
        toml::to_string_pretty(&document).map_err(|e| SettingsError::Encode(e.to_string()))
    }

    /// The `[alerts]` of a text from the ConfigPanel (as [`Self::alerts_text`]
    /// writes it), validated: a syntax error, another table, an unknown
    /// field or an invalid rule is refused with the field named.
    pub fn parse_alerts_text(&self, text: &str) -> Result<AlertSettings, SettingsError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| self.alerts_syntax(e))?;
        let alerts = match table.remove("alerts") {
            Some(value) => AlertSettings::deserialize(value).map_err(|e| self.alerts_syntax(e))?,
            None => AlertSettings::default(),
        };
        if let Some(other) = table.keys().next() {
            return Err(SettingsError::Alerts {
                path: self.path.clone(),
                problems: vec![format!(
                    "only [alerts] is edited here; '{other}' belongs elsewhere in the file"
                )],
            });
        }
        self.check_alerts(&alerts)?;
        Ok(alerts)
    }

    /// Validates `alerts` and writes it as `[alerts]`, atomically, keeping
    /// the file's other tables; a refused one leaves the file alone.
    pub fn save_alerts(&self, alerts: &AlertSettings) -> Result<(), SettingsError> {
        self.check_alerts(alerts)?;
        let mut document = self.read_table()?;
        let value =
            toml::Value::try_from(alerts).map_err(|e| SettingsError::Encode(e.to_string()))?;
        document.insert("alerts".to_string(), value);
        let text =
            toml::to_string_pretty(&document).map_err(|e| SettingsError::Encode(e.to_string()))?;
        write_atomic(&self.path, text.as_bytes())?;
        self.put_saved_in_force()
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
        self.put_saved_in_force()?;
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
                message: redact_password_hashes(e.to_string().trim_end()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
            Err(source) => Err(SettingsError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// A syntax error naming the file; a password hash quoted from the file
    /// is blanked out.
    fn syntax(&self, e: toml::de::Error) -> SettingsError {
        SettingsError::Syntax {
            path: self.path.clone(),
            message: redact_password_hashes(e.to_string().trim_end()),
        }
    }

    fn parse(
        &self,
        mut table: toml::Table,
    ) -> Result<(ScannerConfig, SourceUrls, AuthSection), SettingsError> {
        let sources = match table.remove("sources") {
            Some(value) => SourceUrls::deserialize(value).map_err(|e| self.syntax(e))?,
            None => SourceUrls::default(),
        };
        let auth = match table.remove("auth") {
            Some(value) => AuthSection::deserialize(value).map_err(|e| self.syntax(e))?,
            None => AuthSection::default(),
        };
        let scanner =
            ScannerConfig::deserialize(toml::Value::Table(table)).map_err(|e| self.syntax(e))?;
        Ok((scanner, sources, auth))
    }

    /// `[auth]` with its overrides (`QUANTPRO_AUTH__PASSWORD_HASH`,
    /// `QUANTPRO_AUTH__SESSION_HOURS`, `QUANTPRO_AUTH__TRUST_PROXY`,
    /// `QUANTPRO_AUTH__TRUST_LOOPBACK`) and the owner token, checked.
    fn auth_settings(&self, section: AuthSection) -> Result<AuthSettings, SettingsError> {
        let defaults = AuthSettings::default();
        let var = |key: &str| {
            let name = env_var_name(key);
            self.env.get(&name).map(|value| (name, value.to_string()))
        };
        let flag = |key: &str, saved: Option<bool>, default: bool| match var(key) {
            Some((name, value)) => value.parse::<bool>().map_err(|_| {
                SettingsError::Auth(format!("{name} must be true or false, got {value:?}"))
            }),
            None => Ok(saved.unwrap_or(default)),
        };
        let hours = match var("auth.session_hours") {
            Some((name, value)) => value.parse::<f64>().map_err(|_| {
                SettingsError::Auth(format!("{name} must be a number of hours, got {value:?}"))
            })?,
            None => section.session_hours.unwrap_or(DEFAULT_SESSION_HOURS),
        };
        if !(hours > 0.0 && hours <= MAX_SESSION_HOURS) {
            return Err(SettingsError::Auth(format!(
                "'auth.session_hours' must be above 0 and at most {MAX_SESSION_HOURS}, got {hours}"
            )));
        }
        let password_hash = var("auth.password_hash")
            .map(|(_, value)| value)
            .or(section.password_hash)
            .filter(|hash| !hash.trim().is_empty());
        if let Some(hash) = &password_hash {
            if !crate::password::is_password_hash(hash) {
                return Err(SettingsError::Auth(format!(
                    "'auth.password_hash' in {} is not an argon2 hash (PHC string); \
                     set it with `quantpro set-password`",
                    self.path.display()
                )));
            }
        }
        let owner_token = self.env.get(OWNER_TOKEN_VAR);
        if let Some(token) = owner_token {
            if token.chars().count() < MIN_OWNER_TOKEN_CHARS {
                return Err(SettingsError::Auth(format!(
                    "{OWNER_TOKEN_VAR} must have at least {MIN_OWNER_TOKEN_CHARS} characters \
                     (for example the output of `openssl rand -hex 32`)"
                )));
            }
        }
        Ok(AuthSettings {
            password_hash: password_hash.map(Secret::new),
            owner_token: owner_token.map(Secret::new),
            session_ttl: Duration::from_secs_f64(hours * 3600.0),
            trust_proxy: flag(
                "auth.trust_proxy",
                section.trust_proxy,
                defaults.trust_proxy,
            )?,
            trust_loopback: flag(
                "auth.trust_loopback",
                section.trust_loopback,
                defaults.trust_loopback,
            )?,
        })
    }

    /// Stores the owner's password hash as `auth.password_hash`, atomically,
    /// keeping the file's other tables; a file that is not valid TOML is
    /// left alone and reported.
    pub fn save_password_hash(&self, hash: &str) -> Result<(), SettingsError> {
        let mut document = self.read_table()?;
        let auth = document
            .entry("auth")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(auth) = auth.as_table_mut() else {
            return Err(SettingsError::Auth(format!(
                "'auth' in {} is not a table",
                self.path.display()
            )));
        };
        auth.insert(
            "password_hash".to_string(),
            toml::Value::String(hash.to_string()),
        );
        let text =
            toml::to_string_pretty(&document).map_err(|e| SettingsError::Encode(e.to_string()))?;
        write_atomic(&self.path, text.as_bytes())?;
        self.put_saved_in_force()
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

/// A TOML error quotes the offending line, which may be the password hash
/// (an unterminated string, say): every argon2 hash in `message` becomes
/// `$argon2…` so the error can be printed and logged.
fn redact_password_hashes(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("$argon2") {
        out.push_str(&rest[..start]);
        out.push_str("$argon2…");
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
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

    #[test]
    fn auth_comes_from_its_table_the_overrides_and_the_owner_token() {
        let hash = crate::password::hash_password("long enough").unwrap();
        let text =
            format!("[auth]\npassword_hash = \"{hash}\"\nsession_hours = 2\ntrust_proxy = true\n");
        let (_dir, configured) = store(
            Some(&text),
            &[
                ("QUANTPRO_OWNER_TOKEN", "a-token-of-more-than-twenty"),
                ("QUANTPRO_AUTH__TRUST_LOOPBACK", "false"),
            ],
        );
        let auth = configured.load().unwrap().auth;
        assert_eq!(auth.password_hash.as_ref().unwrap().expose(), hash);
        assert_eq!(
            auth.owner_token.unwrap().expose(),
            "a-token-of-more-than-twenty"
        );
        assert_eq!(auth.session_ttl, Duration::from_secs(7200));
        assert!(auth.trust_proxy);
        assert!(!auth.trust_loopback);
        assert!(!format!("{:?}", auth.password_hash).contains("argon2"));

        let (_dir, empty) = store(None, &[]);
        assert_eq!(empty.load().unwrap().auth, AuthSettings::default());
        assert!(AuthSettings::default().trust_loopback);
    }

    #[test]
    fn unusable_auth_values_are_refused_without_showing_them() {
        // (file, environment, expected message)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case; 5] = [
            (
                "[auth]\npassword_hash = \"hunter2\"\n",
                &[],
                "is not an argon2 hash (PHC string); set it with `quantpro set-password`",
            ),
            (
                "[auth]\nsession_hours = 0\n",
                &[],
                "'auth.session_hours' must be above 0",
            ),
            (
                "[auth]\npasword_hash = \"x\"\n",
                &[],
                "unknown field `pasword_hash`",
            ),
            (
                "",
                &[("QUANTPRO_OWNER_TOKEN", "short-token")],
                "QUANTPRO_OWNER_TOKEN must have at least 20 characters",
            ),
            (
                "",
                &[("QUANTPRO_AUTH__TRUST_PROXY", "yes")],
                "QUANTPRO_AUTH__TRUST_PROXY must be true or false",
            ),
        ];
        for (text, env, expected) in cases {
            let (_dir, store) = store(Some(text), env);
            let err = store.load().unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "'{err}' should contain '{expected}'"
            );
            assert!(
                !err.contains("hunter2") && !err.contains("short-token"),
                "{err}"
            );
        }
        // A broken line quoting a hash: the error names the place, not the hash.
        let (_dir, store) = store(
            Some("[auth]\npassword_hash = \"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\n"),
            &[],
        );
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("is not a valid configuration"), "{err}");
        assert!(!err.contains("c2FsdA"), "{err}");
    }

    #[test]
    fn the_password_hash_is_saved_with_the_other_tables_kept() {
        let (_dir, store) = store(
            Some("[v2]\nmin_oi_z = 1.5\n\n[auth]\nsession_hours = 3\n"),
            &[],
        );
        let hash = crate::password::hash_password("long enough").unwrap();
        store.save_password_hash(&hash).unwrap();
        let settings = store.load().unwrap();
        assert_eq!(settings.auth.password_hash.unwrap().expose(), hash);
        assert_eq!(settings.auth.session_ttl, Duration::from_secs(3 * 3600));
        assert_eq!(settings.scanner.v2.min_oi_z, 1.5);
        // The scanner's Save keeps the hash.
        store.save_scanner(&settings.scanner).unwrap();
        assert!(store.load().unwrap().auth.password_hash.is_some());

        std::fs::write(store.path(), "[auth\n").unwrap();
        assert!(store.save_password_hash(&hash).is_err());
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), "[auth\n");
    }

    #[test]
    fn alerts_are_read_checked_at_load_and_before_a_save() {
        let text = "[alerts]\ncooldown_minutes = 30\n[[alerts.rules]]\nname = \"strong\"\nmin_score = 70\nchannels = [\"hook\", \"browser\"]\n[alerts.channels.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n[v2]\nmin_oi_z = 1.5\n";
        let (_dir, saved) = store(Some(text), &[]);
        let alerts = saved.load().unwrap().alerts;
        assert_eq!(alerts.cooldown_minutes, 30);
        assert_eq!(alerts.rules[0].min_score, Some(70.0));

        let mut bad = alerts.clone();
        bad.rules[0].min_rr = Some(-1.0);
        let err = saved.save_alerts(&bad).unwrap_err().to_string();
        assert!(
            err.contains("invalid [alerts]: 'alerts.rules[0].min_rr' must be 0 or more, got -1"),
            "{err}"
        );
        let mut good = alerts.clone();
        good.max_per_hour = 5;
        saved.save_alerts(&good).unwrap();
        let settings = saved.load().unwrap();
        assert_eq!(settings.alerts, good);
        assert_eq!(settings.scanner.v2.min_oi_z, 1.5, "other tables are kept");

        let (_dir, refused) = store(
            Some("[[alerts.rules]]\nname = \"x\"\nchannels = [\"tg\"]\n"),
            &[],
        );
        let err = refused.load().unwrap_err().to_string();
        assert!(
            err.contains("'alerts.rules[0].channels' names \"tg\", which is not a channel"),
            "{err}"
        );
        let (_dir, typo) = store(Some("[[alerts.rules]]\nname = \"x\"\nmin_scor = 3\n"), &[]);
        let err = typo.load().unwrap_err().to_string();
        assert!(
            err.contains("invalid [alerts]") && err.contains("unknown field `min_scor`"),
            "{err}"
        );
    }

    #[test]
    fn the_alerts_text_of_the_config_panel_round_trips_and_bad_text_names_the_field() {
        let text = "[alerts]\ncooldown_minutes = 30\n[[alerts.rules]]\nname = \"strong\"\nmin_score = 70\nchannels = [\"tg\"]\n[alerts.channels.tg]\nkind = \"telegram\"\n";
        let (_dir, store) = store(None, &[("QUANTPRO_TELEGRAM_TOKEN", "123:never-shown")]);
        let alerts = store.parse_alerts_text(text).unwrap();
        let written = SettingsStore::alerts_text(&alerts).unwrap();
        assert_eq!(store.parse_alerts_text(&written).unwrap(), alerts);
        assert!(
            written.contains("token_env = \"QUANTPRO_TELEGRAM_TOKEN\""),
            "{written}"
        );
        assert!(!written.contains("never-shown"), "{written}");
        let refused = |text: &str| store.parse_alerts_text(text).unwrap_err().to_string();
        assert!(refused(&text.replace("min_score = 70", "min_rr = -2"))
            .contains("'alerts.rules[0].min_rr' must be 0 or more, got -2"));
        assert!(refused("[alerts]\ncooldown = 3\n").contains("unknown field `cooldown`"));
        assert!(refused("[v2]\nmin_oi_z = 1\n").contains("only [alerts] is edited here; 'v2'"));
        assert!(refused("[alerts\n").contains("invalid [alerts]"));
    }

    #[test]
    fn the_journal_url_comes_from_its_table_or_the_environment_and_is_checked() {
        let (_dir, plain) = store(None, &[]);
        assert_eq!(plain.load().unwrap().journal.database_url, None);
        let table = "[journal]\ndatabase_url = \"postgres://qp:secret@db:5432/journal\"\n";
        let (_dir, file) = store(Some(table), &[]);
        let url = file.load().unwrap().journal.database_url.unwrap();
        assert_eq!(url.expose(), "postgres://qp:secret@db:5432/journal");
        assert_eq!(format!("{url:?}"), "***", "the URL may hold a password");
        let (_dir, env) = store(
            Some(table),
            &[("QUANTPRO_JOURNAL__DATABASE_URL", "sqlite:///tmp/j.sqlite")],
        );
        let url = env.load().unwrap().journal.database_url.unwrap();
        assert_eq!(
            url.expose(),
            "sqlite:///tmp/j.sqlite",
            "the environment wins"
        );
        // A blank variable is unset (as every override); a blank value in the
        // file is the embedded journal.
        let (_dir, blank) = store(Some(table), &[("QUANTPRO_JOURNAL__DATABASE_URL", " ")]);
        assert!(blank.load().unwrap().journal.database_url.is_some());
        let (_dir, empty) = store(Some("[journal]\ndatabase_url = \" \"\n"), &[]);
        assert_eq!(empty.load().unwrap().journal.database_url, None);

        let (_dir, bad) = store(
            Some("[journal]\ndatabase_url = \"mysql://qp:secret@db/journal\"\n"),
            &[],
        );
        let err = bad.load().unwrap_err().to_string();
        assert!(
            err.contains("must start with sqlite:, postgres:, postgresql:"),
            "{err}"
        );
        assert!(!err.contains("secret"), "{err}");
        let (_dir, typo) = store(Some("[journal]\ndatabase_uri = \"x\"\n"), &[]);
        assert!(typo
            .load()
            .unwrap_err()
            .to_string()
            .contains("unknown field `database_uri`"));
    }

    fn store_with_env(env: &[(&str, &str)]) -> (tempfile::TempDir, SettingsStore) {
        store(None, env)
    }
}
