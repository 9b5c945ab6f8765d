//! API keys (`COINALYZE_API_KEY`, `GEMINI_API_KEY`, `COINGECKO_API_KEY`) from the
//! environment or a `.env` file, held as [`Secret`]s.
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

/// A `.env` file that exists but cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {source}", path.display())]
pub struct KeysError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl ApiKeys {
    /// Reads each key from the process environment, falling back to the
    /// `.env` file at `dotenv` (a missing file is fine: keys are optional).
    /// The environment wins so a deployment can override a checked-out `.env`.
    pub fn load(dotenv: &Path) -> Result<ApiKeys, KeysError> {
        let file = match std::fs::read_to_string(dotenv) {
            Ok(text) => parse_dotenv(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(source) => {
                return Err(KeysError {
                    path: dotenv.to_path_buf(),
                    source,
                })
            }
        };
        Ok(ApiKeys::from_lookup(|name| std::env::var(name).ok(), &file))
    }

    /// Builds the keys from an environment lookup and parsed `.env` entries;
    /// empty values count as absent.
    pub fn from_lookup(
        env: impl Fn(&str) -> Option<String>,
        dotenv: &HashMap<String, String>,
    ) -> ApiKeys {
        let pick = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .or_else(|| dotenv.get(name).cloned().filter(|v| !v.is_empty()))
                .map(Secret::new)
        };
        ApiKeys {
            coinalyze: pick(COINALYZE_API_KEY),
            gemini: pick(GEMINI_API_KEY),
            coingecko: pick(COINGECKO_API_KEY),
        }
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
    fn environment_wins_over_dotenv_and_empty_is_absent() {
        let dotenv = parse_dotenv(
            "COINALYZE_API_KEY=from-file\nGEMINI_API_KEY=from-file\nCOINGECKO_API_KEY=\n",
        );
        let env = |name: &str| match name {
            "COINALYZE_API_KEY" => Some("from-env".to_string()),
            "GEMINI_API_KEY" => Some("  ".to_string()),
            _ => None,
        };
        let keys = ApiKeys::from_lookup(env, &dotenv);
        assert_eq!(keys.coinalyze.unwrap().expose(), "from-env");
        assert_eq!(keys.gemini.unwrap().expose(), "from-file");
        assert!(keys.coingecko.is_none());
    }

    #[test]
    fn missing_dotenv_file_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ApiKeys::load(&dir.path().join(".env")).is_ok());
        std::fs::write(dir.path().join(".env"), "COINGECKO_API_KEY=file-key\n").unwrap();
        let keys = ApiKeys::load(&dir.path().join(".env")).unwrap();
        if std::env::var(COINGECKO_API_KEY).is_err() {
            assert_eq!(keys.coingecko.unwrap().expose(), "file-key");
        }
    }
}
