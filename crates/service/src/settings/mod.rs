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
//! environment is captured once per process ([`Environment`], the process
//! environment over `.env`), so every entry point (CLI, dashboard, live
//! loop) applies the same overrides.
//!
//! This module holds [`Settings`] and the [`SettingsStore`] that reads the
//! file once and keeps it in memory; the rest is one module per concern:
//! `sections` (`[universe]`, `[journal]`, `[auth]`: defaults and checks),
//! `environment` (the captured environment, API keys and overrides),
//! `save` (writing sections back) and `redact` (no password hash in a
//! message).

mod environment;
mod execution;
mod redact;
mod save;
mod sections;

pub use environment::{env_var_name, parse_dotenv, DotenvError, Environment};
pub use execution::{EntryKind, ExecutionSettings, VenueMode};
pub use quantpro_sources::urls::SourceUrls;
pub use sections::{
    AuthSettings, JournalSettings, UniverseMarket, UniverseSettings, UnknownUniverseMarket,
    DEFAULT_SESSION_HOURS, JOURNAL_URL_SCHEMES, MIN_OWNER_TOKEN_CHARS, OWNER_TOKEN_VAR,
};

use crate::alerts::AlertSettings;
use quantpro_model::atomic_file::WriteError;
use quantpro_model::{ConfigError, ScannerConfig};
use quantpro_sources::urls::UrlError;
use redact::redact_password_hashes;
use sections::{AuthSection, JournalSection};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

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
    /// `[execution]`: paper everywhere without the table.
    pub execution: ExecutionSettings,
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
    #[error("{path} has invalid [execution]: {}", .problems.join("; "))]
    Execution {
        path: PathBuf,
        problems: Vec<String>,
    },
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
        self.reload()
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
        self.reload().map(drop)
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
        let journal = journal.resolve(&self.env, &self.path)?;
        let execution = match table.remove("execution") {
            Some(value) => {
                execution::ExecutionSection::deserialize(value).map_err(|e| self.syntax(e))?
            }
            None => execution::ExecutionSection::default(),
        };
        let execution = execution
            .resolve()
            .map_err(|problems| SettingsError::Execution {
                path: self.path.clone(),
                problems,
            })?;
        let alerts = match table.remove("alerts") {
            Some(value) => AlertSettings::deserialize(value).map_err(|e| self.alerts_syntax(e))?,
            None => AlertSettings::default(),
        };
        self.check_alerts(&alerts)?;
        let (mut scanner, mut sources, auth) = self.parse(table)?;
        self.env.apply_overrides(&mut scanner, &mut sources)?;
        let auth = auth.resolve(&self.env, &self.path)?;
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
            execution,
        })
    }

    /// The scanner keys the environment overrides, with their variables.
    pub fn overridden_keys(&self) -> Vec<(&'static str, String)> {
        self.env.overridden_keys()
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

    /// The file as a TOML table; an empty one when there is no file.
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

    /// `[sources]`, `[auth]` as written, and the scanner's sections from
    /// the rest of the table.
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
}

/// The stores the tests of every module here read and save through.
#[cfg(test)]
mod test_support {
    use super::{Environment, SettingsStore};

    /// A store of `quantpro.toml` in a new directory, holding `text` (no
    /// file for `None`), over exactly the variables `env`.
    pub fn store(text: Option<&str>, env: &[(&str, &str)]) -> (tempfile::TempDir, SettingsStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("quantpro.toml");
        if let Some(text) = text {
            std::fs::write(&path, text).unwrap();
        }
        let env = Environment::from_pairs(env.iter().copied());
        (dir, SettingsStore::new(path, env))
    }

    /// A store without a file.
    pub fn store_with_env(env: &[(&str, &str)]) -> (tempfile::TempDir, SettingsStore) {
        store(None, env)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::store;
    use super::*;

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
}
