//! [ssr] The server-side sections of `quantpro.toml` besides the scanner's
//! and `[sources]`: `[universe]` (what the live loop follows), `[journal]`
//! (where the signal journal lives, see `journal`) and `[auth]` (who may
//! act on the dashboard, see `server::auth`), each with its defaults and
//! its checks. `[journal]` and `[auth]` are read as written and resolved
//! here with their `QUANTPRO_*` overrides, so an error can name where a
//! value came from (never the value, which may be a secret).

use super::environment::{env_var_name, Environment};
use super::SettingsError;
use quantpro_model::{Exchange, Market, UnknownMarket, UnknownVariant};
use quantpro_sources::keys::Secret;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

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

    /// Every problem of the table, each naming its field; empty when it
    /// can be used.
    pub(super) fn validate(&self) -> Vec<String> {
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
pub(super) struct JournalSection {
    database_url: Option<String>,
}

impl JournalSection {
    /// The section with `QUANTPRO_JOURNAL__DATABASE_URL` on top; an empty
    /// value means the embedded SQLite file. `path` is the file, for the
    /// error.
    pub(super) fn resolve(
        self,
        env: &Environment,
        path: &Path,
    ) -> Result<JournalSettings, SettingsError> {
        let var = env_var_name("journal.database_url");
        let (url, origin) = match env.get(&var) {
            Some(value) => (Some(value.to_string()), var),
            None => (
                self.database_url,
                format!("'journal.database_url' in {}", path.display()),
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
pub(super) struct AuthSection {
    password_hash: Option<String>,
    session_hours: Option<f64>,
    trust_proxy: Option<bool>,
    trust_loopback: Option<bool>,
}

impl AuthSection {
    /// The section with its overrides (`QUANTPRO_AUTH__PASSWORD_HASH`,
    /// `QUANTPRO_AUTH__SESSION_HOURS`, `QUANTPRO_AUTH__TRUST_PROXY`,
    /// `QUANTPRO_AUTH__TRUST_LOOPBACK`) and the owner token, checked. `path`
    /// is the file, for the error.
    pub(super) fn resolve(
        self,
        env: &Environment,
        path: &Path,
    ) -> Result<AuthSettings, SettingsError> {
        let defaults = AuthSettings::default();
        let var = |key: &str| {
            let name = env_var_name(key);
            env.get(&name).map(|value| (name, value.to_string()))
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
            None => self.session_hours.unwrap_or(DEFAULT_SESSION_HOURS),
        };
        if !(hours > 0.0 && hours <= MAX_SESSION_HOURS) {
            return Err(SettingsError::Auth(format!(
                "'auth.session_hours' must be above 0 and at most {MAX_SESSION_HOURS}, got {hours}"
            )));
        }
        let password_hash = var("auth.password_hash")
            .map(|(_, value)| value)
            .or(self.password_hash)
            .filter(|hash| !hash.trim().is_empty());
        if let Some(hash) = &password_hash {
            if !crate::password::is_password_hash(hash) {
                return Err(SettingsError::Auth(format!(
                    "'auth.password_hash' in {} is not an argon2 hash (PHC string); \
                     set it with `quantpro set-password`",
                    path.display()
                )));
            }
        }
        let owner_token = env.get(OWNER_TOKEN_VAR);
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
            trust_proxy: flag("auth.trust_proxy", self.trust_proxy, defaults.trust_proxy)?,
            trust_loopback: flag(
                "auth.trust_loopback",
                self.trust_loopback,
                defaults.trust_loopback,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{store, store_with_env};
    use super::*;

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
}
