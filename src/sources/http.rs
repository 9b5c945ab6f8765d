//! The one request loop every client shares: wait for the rate gate, send,
//! honour `Retry-After` on 429/418, back off exponentially on 5xx, timeouts
//! and dropped connections, give up after a fixed number of tries, and count
//! what happened. Each API module only builds its request and reads its JSON.

use super::SourceError;
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often and how patiently a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included.
    pub max_tries: u32,
    /// Wait before the second attempt; doubled before each later one.
    pub backoff_base: Duration,
    /// A `Retry-After` longer than this is not waited out: the call fails
    /// with `RateLimited` (a Binance ban can last days).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_tries: 3,
            backoff_base: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// Exponential backoff: `base * 2^(attempt-1)` after failed attempt `attempt` (1-based).
pub fn backoff_delay(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
}

/// The `Retry-After` header as a duration; only the delay-seconds form is
/// used by the APIs we call (an HTTP date yields `None`, and we back off).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs: f64 = text.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Counters of one client's requests (successful, failed, served from cache,
/// rate-limited responses, retries); shared by reference, so atomics.
#[derive(Debug, Default)]
pub struct RequestStats {
    successful: AtomicU64,
    failed: AtomicU64,
    cached: AtomicU64,
    rate_limited: AtomicU64,
    retried: AtomicU64,
}

/// A copy of [`RequestStats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    pub successful: u64,
    pub failed: u64,
    pub cached: u64,
    pub rate_limited: u64,
    pub retried: u64,
}

impl RequestStats {
    pub fn record_cached(&self) {
        self.cached.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_success(&self) {
        self.successful.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_failure(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            successful: self.successful.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            cached: self.cached.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} successful, {} failed, {} cached, {} rate-limited, {} retried",
            self.successful, self.failed, self.cached, self.rate_limited, self.retried
        )
    }
}

/// What a request waits on before each attempt (a token bucket, the
/// Coinalyze quota); a retry waits again because the API charges it again.
#[async_trait]
pub trait RateGate: Send + Sync {
    /// Returns when one more attempt may be sent.
    async fn wait_turn(&self);
    /// Called when the attempt's response (or failure) has arrived.
    fn attempt_finished(&self) {}
}

/// No rate limit to respect.
pub struct Ungated;

#[async_trait]
impl RateGate for Ungated {
    async fn wait_turn(&self) {}
}

/// A reqwest client with a whole-request timeout (timeouts are retried).
pub fn build_client(api: &'static str, timeout: Duration) -> Result<reqwest::Client, SourceError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("quantpro/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SourceError::Client {
            api,
            detail: e.to_string(),
        })
}

/// One request with retries: `build` makes a fresh request per attempt.
/// Returns the body of the first 2xx response. 401/403 and other 4xx are not
/// retried (the same request would fail the same way).
pub async fn send_with_retry(
    api: &'static str,
    build: &(dyn Fn() -> RequestBuilder + Send + Sync),
    gate: &dyn RateGate,
    policy: &RetryPolicy,
    stats: &RequestStats,
) -> Result<Vec<u8>, SourceError> {
    let tries = policy.max_tries.max(1);
    let mut last_failure = String::new();
    for attempt in 1..=tries {
        gate.wait_turn().await;
        let outcome = attempt_once(build).await;
        gate.attempt_finished();
        let wait = match outcome {
            Attempt::Success(body) => return Ok(body),
            Attempt::Fatal(status, body) => return Err(status_error(api, status, body)),
            Attempt::RateLimited(status, retry_after) => {
                stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                last_failure = format!("HTTP {}", status.as_u16());
                match retry_after {
                    Some(wait) if wait > policy.max_retry_after => {
                        return Err(SourceError::rate_limited(api, wait, policy.max_retry_after));
                    }
                    Some(wait) => {
                        tracing::warn!(
                            "[RATE-LIMIT] {api}: HTTP {}, waiting {wait:?} as Retry-After asks",
                            status.as_u16()
                        );
                        wait
                    }
                    None => {
                        let wait = backoff_delay(policy.backoff_base, attempt);
                        tracing::warn!(
                            "[RATE-LIMIT] {api}: HTTP {} without Retry-After, backing off {wait:?}",
                            status.as_u16()
                        );
                        wait
                    }
                }
            }
            Attempt::Transient(reason) => {
                last_failure = reason;
                backoff_delay(policy.backoff_base, attempt)
            }
        };
        if attempt < tries {
            stats.retried.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                "{api}: attempt {attempt} failed ({last_failure}); retrying in {wait:?}"
            );
            tokio::time::sleep(wait).await;
        }
    }
    Err(SourceError::Exhausted {
        api,
        tries,
        last: last_failure,
    })
}

/// [`send_with_retry`] then JSON decoding, counting the call in `stats` as
/// successful only when the body decodes.
pub async fn fetch_json<T: DeserializeOwned>(
    api: &'static str,
    what: &'static str,
    build: &(dyn Fn() -> RequestBuilder + Send + Sync),
    gate: &dyn RateGate,
    policy: &RetryPolicy,
    stats: &RequestStats,
) -> Result<T, SourceError> {
    let decoded = send_with_retry(api, build, gate, policy, stats)
        .await
        .and_then(|body| decode_json(api, what, &body));
    match &decoded {
        Ok(_) => stats.record_success(),
        Err(_) => stats.record_failure(),
    }
    decoded
}

/// Decodes a JSON body, naming the API and the response on failure.
pub fn decode_json<T: DeserializeOwned>(
    api: &'static str,
    what: &'static str,
    body: &[u8],
) -> Result<T, SourceError> {
    serde_json::from_slice(body).map_err(|e| SourceError::Malformed {
        api,
        what,
        detail: e.to_string(),
    })
}

/// The start of a response body, for error messages (bodies can be pages of HTML).
pub fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    match trimmed.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

enum Attempt {
    Success(Vec<u8>),
    Fatal(StatusCode, Vec<u8>),
    RateLimited(StatusCode, Option<Duration>),
    Transient(String),
}

async fn attempt_once(build: &(dyn Fn() -> RequestBuilder + Send + Sync)) -> Attempt {
    let response = match build().send().await {
        Ok(response) => response,
        Err(e) => return Attempt::Transient(describe_transport_error(&e)),
    };
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = match response.bytes().await {
        Ok(body) => body.to_vec(),
        Err(e) => return Attempt::Transient(describe_transport_error(&e)),
    };
    if status.is_success() {
        Attempt::Success(body)
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.as_u16() == 418 {
        Attempt::RateLimited(status, retry_after)
    } else if status.is_server_error() {
        Attempt::Transient(format!("HTTP {}: {}", status.as_u16(), body_excerpt(&body)))
    } else {
        Attempt::Fatal(status, body)
    }
}

fn status_error(api: &'static str, status: StatusCode, body: Vec<u8>) -> SourceError {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SourceError::Unauthorized {
            api,
            status: status.as_u16(),
        },
        _ => SourceError::Status {
            api,
            status: status.as_u16(),
            body: body_excerpt(&body),
        },
    }
}

/// reqwest's message without the URL (query strings may carry symbols we
/// log anyway, but never keys: keys go in headers).
fn describe_transport_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body interrupted"
    } else {
        "request failed"
    };
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    format!("{kind}: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn backoff_doubles_per_attempt() {
        let base = Duration::from_millis(100);
        assert_eq!(backoff_delay(base, 1), Duration::from_millis(100));
        assert_eq!(backoff_delay(base, 2), Duration::from_millis(200));
        assert_eq!(backoff_delay(base, 3), Duration::from_millis(400));
    }

    #[test]
    fn retry_after_reads_seconds_and_ignores_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(500)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("-3"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn body_excerpt_cuts_long_bodies_on_a_char_boundary() {
        let long = "é".repeat(400);
        let excerpt = body_excerpt(long.as_bytes());
        assert!(excerpt.ends_with("..."));
        assert_eq!(excerpt.chars().count(), 303);
    }
}
