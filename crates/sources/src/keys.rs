//! API keys (`COINALYZE_API_KEY`, `GEMINI_API_KEY`, `COINGECKO_API_KEY`),
//! held as [`Secret`]s in [`ApiKeys`]. The service reads them from the
//! environment or a `.env` file (its `settings::Environment`) and hands them
//! to the clients (`SourceClients::new`); this crate never reads the
//! environment itself.
//!
//! A `Secret` prints `***` through both `Debug` and `Display` and has no
//! `Serialize`, so a key cannot reach a log line, the feed or the browser by
//! accident; the clients call [`Secret::expose`] only to set a request header.

use std::fmt;

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
}
