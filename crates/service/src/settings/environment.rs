//! [ssr] The process environment over `.env`, captured once per process
//! ([`Environment`]), and what QuantPro reads from it: the API keys of the
//! external sources ([`Environment::api_keys`], handed to the sources'
//! clients) and the `QUANTPRO_*` overrides of `quantpro.toml`
//! ([`env_var_name`]: `legacy.min_score` -> `QUANTPRO_LEGACY__MIN_SCORE`).
//! Every entry point (CLI, dashboard, live loop) captures it at start and
//! gives it to its `SettingsStore`, so all of them apply the same overrides
//! and use the same keys.

use super::SettingsError;
use quantpro_model::ScannerConfig;
use quantpro_sources::keys::{
    ApiKeys, Secret, COINALYZE_API_KEY, COINGECKO_API_KEY, GEMINI_API_KEY,
};
use quantpro_sources::urls::{SourceUrls, URL_FIELDS};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The process environment over the entries of a `.env` file, captured
/// once: API keys and `QUANTPRO_*` overrides are read from it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: HashMap<String, String>,
}

/// A `.env` file that exists but cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {source}", path.display())]
pub struct DotenvError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl Environment {
    /// The process environment, falling back to `dotenv` (a missing file is
    /// fine). The process environment wins, so a deployment can override a
    /// checked-out `.env`.
    pub fn capture(dotenv: &Path) -> Result<Environment, DotenvError> {
        let mut vars = match std::fs::read_to_string(dotenv) {
            Ok(text) => parse_dotenv(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(source) => {
                return Err(DotenvError {
                    path: dotenv.to_path_buf(),
                    source,
                })
            }
        };
        vars.extend(std::env::vars());
        Ok(Environment { vars })
    }

    /// Exactly these variables (tests, and callers that build their own).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Environment {
        Environment {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A variable's value, trimmed; empty counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The API keys set here (`COINALYZE_API_KEY`, `GEMINI_API_KEY`,
    /// `COINGECKO_API_KEY`); empty values count as absent.
    pub fn api_keys(&self) -> ApiKeys {
        let pick = |name: &str| self.get(name).map(Secret::new);
        ApiKeys {
            coinalyze: pick(COINALYZE_API_KEY),
            gemini: pick(GEMINI_API_KEY),
            coingecko: pick(COINGECKO_API_KEY),
        }
    }

    /// Puts the overrides set here over `scanner` (each checked as the
    /// field's type) and `sources` (the `[sources]` URLs, checked later
    /// with the file's).
    pub(super) fn apply_overrides(
        &self,
        scanner: &mut ScannerConfig,
        sources: &mut SourceUrls,
    ) -> Result<(), SettingsError> {
        for field in ScannerConfig::fields() {
            let var = env_var_name(field.key);
            if let Some(value) = self.get(&var) {
                scanner.set_from_str(field.key, value).map_err(|error| {
                    SettingsError::Override {
                        var: var.clone(),
                        error,
                    }
                })?;
            }
        }
        for field in URL_FIELDS {
            if let Some(value) = self.get(&env_var_name(&format!("sources.{}", field.key))) {
                *(field.slot)(sources) = value.to_string();
            }
        }
        Ok(())
    }

    /// The scanner keys overridden here, with their variables.
    pub(super) fn overridden_keys(&self) -> Vec<(&'static str, String)> {
        ScannerConfig::fields()
            .into_iter()
            .filter_map(|field| {
                let var = env_var_name(field.key);
                self.get(&var).map(|_| (field.key, var))
            })
            .collect()
    }
}

/// Values may be secrets: only the names are shown.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Environment")
            .field("names", &names)
            .finish()
    }
}

/// The environment variable overriding a dotted key: `legacy.min_score` ->
/// `QUANTPRO_LEGACY__MIN_SCORE` (the double underscore stands for the dot).
pub fn env_var_name(key: &str) -> String {
    format!("QUANTPRO_{}", key.replace('.', "__").to_ascii_uppercase())
}

/// Parses `KEY=VALUE` lines: blank lines and `#` comments are skipped, an
/// `export ` prefix is allowed, values may be wrapped in single or double
/// quotes, and an unquoted value ends at ` #`.
pub fn parse_dotenv(text: &str) -> HashMap<String, String> {
    text.lines().filter_map(parse_dotenv_line).collect()
}

fn parse_dotenv_line(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() {
        return None;
    }
    Some((key.to_string(), unquote(value.trim())))
}

fn unquote(value: &str) -> String {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return value[1..value.len() - 1].to_string();
        }
    }
    match value.find(" #") {
        Some(i) => value[..i].trim_end().to_string(),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{store, store_with_env};
    use super::*;

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
    fn keys_come_from_the_environment_and_empty_is_absent() {
        let env =
            Environment::from_pairs([("COINALYZE_API_KEY", "from-env"), ("GEMINI_API_KEY", "  ")]);
        let keys = env.api_keys();
        assert_eq!(keys.coinalyze.unwrap().expose(), "from-env");
        assert!(keys.gemini.is_none());
        assert!(keys.coingecko.is_none());
    }

    #[test]
    fn dotenv_lines_are_parsed_like_a_shell_would() {
        let text = "# comment\n\nCOINALYZE_API_KEY=abc\nexport GEMINI_API_KEY=\"g k\"\nCOINGECKO_API_KEY='cg' \nX=plain # note\nbroken line\n=nokey\n";
        let map = parse_dotenv(text);
        assert_eq!(map["COINALYZE_API_KEY"], "abc");
        assert_eq!(map["GEMINI_API_KEY"], "g k");
        assert_eq!(map["COINGECKO_API_KEY"], "cg");
        assert_eq!(map["X"], "plain");
        assert_eq!(map.len(), 4);
    }

    #[test]
    fn captured_environment_puts_the_process_over_dotenv_and_hides_values() {
        let dir = tempfile::tempdir().unwrap();
        let dotenv = dir.path().join(".env");
        assert!(
            Environment::capture(&dotenv).is_ok(),
            "a missing .env is fine"
        );
        std::fs::write(
            &dotenv,
            "QUANTPRO_TEST_ONLY_DOTENV_KEY=file-value\nPATH=from-file\n",
        )
        .unwrap();
        let env = Environment::capture(&dotenv).unwrap();
        assert_eq!(env.get("QUANTPRO_TEST_ONLY_DOTENV_KEY"), Some("file-value"));
        assert_ne!(env.get("PATH"), Some("from-file"), "the process wins");
        let env = Environment::from_pairs([("SECRET_KEY", "sk-live-123"), ("EMPTY", "  ")]);
        assert_eq!(env.get("EMPTY"), None);
        assert!(!format!("{env:?}").contains("sk-live"));
    }
}
