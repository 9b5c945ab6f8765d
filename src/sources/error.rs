//! The one error type of the external clients: what went wrong with which API,
//! in words a trader running `quantpro` can act on.

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
        "{api}: access refused (HTTP {status}); check the API key, or whether this IP is blocked"
    )]
    Unauthorized { api: &'static str, status: u16 },
    #[error("{api}: unknown symbol '{symbol}'")]
    UnknownSymbol { api: &'static str, symbol: String },
    #[error("{api}: rate limited; the server asks to wait {wait_secs} s, longer than the {max_secs} s we wait")]
    RateLimited {
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
        last: String,
    },
    #[error("{api}: malformed response ({what}): {detail}")]
    Malformed {
        api: &'static str,
        what: &'static str,
        detail: String,
    },
    #[error("{api}: could not build the HTTP client: {detail}")]
    Client { api: &'static str, detail: String },
    #[error("file error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
            wait_secs: wait.as_secs(),
            max_secs: max.as_secs(),
        }
    }
}
