//! The one error type of the external clients: what went wrong with which API,
//! in words a trader running `quantpro` can act on. Every client, Gemini
//! included, reports through it; `gemini::GeminiError` only words it for the
//! AI panel.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Why a request to an external API produced no usable data.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{api}: no API key (set {var} in the environment or in .env)")]
    NoKey {
        api: &'static str,
        var: &'static str,
    },
    #[error(
        "{api}: access refused (HTTP {status}{}); check the API key, or whether this IP is blocked",
        detail_suffix(detail)
    )]
    Unauthorized {
        api: &'static str,
        status: u16,
        /// The API's own words, when it gave any.
        detail: String,
    },
    #[error("{api}: unknown symbol '{symbol}'")]
    UnknownSymbol { api: &'static str, symbol: String },
    #[error("{api}: rate limited; the server asks to wait {wait_secs} s, longer than the {max_secs} s we wait")]
    RateLimited {
        api: &'static str,
        wait_secs: u64,
        max_secs: u64,
    },
    #[error("{api}: this IP is banned (HTTP 418) for another {wait_secs} s; no request is sent until the ban ends (we wait at most {max_secs} s)")]
    Banned {
        api: &'static str,
        wait_secs: u64,
        max_secs: u64,
    },
    #[error("{api}: HTTP {status}: {body}")]
    Status {
        api: &'static str,
        status: u16,
        body: String,
    },
    #[error("{api}: API error {code}: {message}")]
    Api {
        api: &'static str,
        code: i64,
        message: String,
    },
    #[error("{api}: gave up after {tries} tries; last failure: {last}")]
    Exhausted {
        api: &'static str,
        tries: u32,
        last: LastFailure,
    },
    #[error("{api}: malformed response ({what}): {detail}")]
    Malformed {
        api: &'static str,
        what: &'static str,
        detail: String,
    },
    #[error("{api} declined to answer ({reason})")]
    Declined { api: &'static str, reason: String },
    #[error("{api}: could not build the HTTP client: {detail}")]
    Client { api: &'static str, detail: String },
    #[error("file error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the last of several failed attempts ran into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastFailure {
    /// A server error status and what its body says.
    Status { status: u16, body: String },
    /// "Too many requests" (HTTP 429, or a code in a 200 body) and the wait
    /// the server asked for, if it named one.
    RateLimited {
        reason: String,
        wait_secs: Option<u64>,
    },
    /// No response: a timeout, a refused connection, an interrupted body.
    Transport(String),
    /// A success status whose body is not the API's answer (an HTML page
    /// from a proxy, a truncated JSON): what was wrong with it.
    Garbled(String),
}

impl fmt::Display for LastFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LastFailure::Status { status, body } => write!(f, "HTTP {status}: {body}"),
            LastFailure::RateLimited { reason, .. } => f.write_str(reason),
            LastFailure::Transport(reason) | LastFailure::Garbled(reason) => f.write_str(reason),
        }
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl SourceError {
    /// True when retrying the same call later cannot help this run (a refused
    /// key): the batch processor stops instead of spending quota on failures.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            SourceError::Unauthorized { .. } | SourceError::NoKey { .. }
        )
    }

    pub(crate) fn rate_limited(api: &'static str, wait: Duration, max: Duration) -> SourceError {
        SourceError::RateLimited {
            api,
            wait_secs: wait.as_secs_f64().ceil() as u64,
            max_secs: max.as_secs(),
        }
    }
}
