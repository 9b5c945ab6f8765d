//! API keys (`COINALYZE_API_KEY`, `GEMINI_API_KEY`, `COINGECKO_API_KEY`) from the
//! environment or a `.env` file ([`Environment`]), held as [`Secret`]s.
//!
//! A `Secret` prints `***` through both `Debug` and `Display` and has no
//! `Serialize`, so a key cannot reach a log line, the feed or the browser by
//! accident; the clients call [`Secret::expose`] only to set a request header.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub const COINALYZE_API_KEY: &str = "COINALYZE_API_KEY";
pub const GEMINI_API_KEY: &str = "GEMINI_API_KEY";
pub const COINGECKO_API_KEY: &str = "COINGECKO_API_KEY";

/// A credential whose text is only reachable through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The key itself, for the one place that puts it in a request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The keys QuantPro's clients may use; `None` when not configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeys {
    pub coinalyze: Option<Secret>,
    pub gemini: Option<Secret>,
    pub coingecko: Option<Secret>,
}

impl ApiKeys {
    /// The keys set in `env` (the process environment over `.env`, see
    /// [`Environment`]); empty values count as absent.
    pub fn from_environment(env: &Environment) -> ApiKeys {
        let pick = |name: &str| env.get(name).map(Secret::new);
        ApiKeys {
            coinalyze: pick(COINALYZE_API_KEY),
            gemini: pick(GEMINI_API_KEY),
            coingecko: pick(COINGECKO_API_KEY),
        }
    }
}

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
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let secret = Secret::new("sk-live-123");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "***");
        let keys = ApiKeys {
            coinalyze: Some(secret.clone()),
            ..Default::default()
        };
        assert!(!format!("{keys:?}").contains("sk-live"));
        assert_eq!(secret.expose(), "sk-live-123");
    }

    #[test]
    fn keys_come_from_the_environment_and_empty_is_absent() {
        let env =
            Environment::from_pairs([("COINALYZE_API_KEY", "from-env"), ("GEMINI_API_KEY", "  ")]);
        let keys = ApiKeys::from_environment(&env);
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
