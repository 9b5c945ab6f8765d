//! The one request loop every client shares ([`ApiClient::send`]): wait on
//! the governor's gate of the host, send, judge the response ([`Classify`]:
//! by status, or the API's own rules for 200 bodies and error bodies), tell
//! the governor how it ended: served, refused with a 429 (the whole host
//! waits `Retry-After` or, without one, the host's refusal backoff, which
//! grows across calls until one is served) or a 418 (no call until the ban
//! ends); back off exponentially on 5xx, timeouts and dropped connections,
//! give up after a fixed number of tries, and count what happened. The loop
//! adds no wait of its own after a refusal: the governor's host-wide wait is
//! the one rule. Each API module only builds its request and reads its JSON.

use super::error::LastFailure;
use super::governor::{Cost, HostGate};
use super::SourceError;
use crate::backoff::backoff_delay;
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
    /// Wait before the second attempt after a 5xx, a timeout or a dropped
    /// connection; doubled before each later one. (A 429 without a wait is
    /// the host's: [`crate::governor::HostLimits::refusal_backoff`].)
    pub backoff_base: Duration,
    /// A wait longer than this is not waited out: a `Retry-After`, or a
    /// pause or ban the governor already holds for the host, fails the call
    /// at once with `RateLimited` or `Banned` (a Binance ban can last days).
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

/// A response as the retry loop judges it.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// What the loop does with a response.
#[derive(Debug)]
pub enum Verdict {
    /// The body is the answer.
    Accept,
    /// Too many requests: the whole host waits `wait` (the server's word) or,
    /// without one, the host's refusal backoff; then this call tries again.
    RateLimited {
        wait: Option<Duration>,
        reason: String,
    },
    /// The IP is banned: no call to the host for `wait` (the host's default
    /// ban when the server does not say).
    Banned { wait: Option<Duration> },
    /// Worth another try after a backoff (5xx).
    Retry(LastFailure),
    /// The call's final answer.
    Fatal(SourceError),
}

/// How a client reads its API's responses. The default judges by status
/// alone ([`status_verdict`]); an API that signals "too many requests" in a
/// 200 body (MEXC contract code 510) or puts the wait in its error body
/// (Gemini's `RetryInfo`) overrides it and calls `status_verdict` for the rest.
pub trait Classify: Send + Sync {
    fn classify(&self, api: &'static str, response: &Response) -> Verdict {
        status_verdict(api, response)
    }
}

/// The status-code rules.
pub struct ByStatus;

impl Classify for ByStatus {}

/// 2xx accepted; 429 rate-limited (`Retry-After`); 418 banned (`Retry-After`
/// or the body's "banned until <ms>"); 5xx retried; 401/403 refused; any
/// other status is final (the same request would fail the same way).
pub fn status_verdict(api: &'static str, response: &Response) -> Verdict {
    let status = response.status;
    if status.is_success() {
        Verdict::Accept
    } else if status == StatusCode::TOO_MANY_REQUESTS {
        Verdict::RateLimited {
            wait: retry_after(&response.headers),
            reason: "HTTP 429".to_string(),
        }
    } else if status.as_u16() == 418 {
        Verdict::Banned {
            wait: retry_after(&response.headers).or_else(|| banned_until(&response.body)),
        }
    } else if status.is_server_error() {
        Verdict::Retry(LastFailure::Status {
            status: status.as_u16(),
            body: body_excerpt(&response.body),
        })
    } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        Verdict::Fatal(SourceError::Unauthorized {
            api,
            status: status.as_u16(),
            detail: String::new(),
        })
    } else {
        Verdict::Fatal(SourceError::Status {
            api,
            status: status.as_u16(),
            body: body_excerpt(&response.body),
        })
    }
}

/// An error status whose body said `message` (the API's own words):
/// 401/403 refused, 5xx retried, any other 4xx final; the rest by status.
/// For clients that read their API's error bodies (Gemini, the alert
/// channels) after their own special cases.
pub fn error_verdict(api: &'static str, response: &Response, message: String) -> Verdict {
    let status = response.status.as_u16();
    match status {
        401 | 403 => Verdict::Fatal(SourceError::Unauthorized {
            api,
            status,
            detail: message,
        }),
        500.. => Verdict::Retry(LastFailure::Status {
            status,
            body: message,
        }),
        400..=499 => Verdict::Fatal(SourceError::Api {
            api,
            code: i64::from(status),
            message,
        }),
        _ => status_verdict(api, response),
    }
}

/// The end of a ban a body announces as "banned until <Unix ms>" (Binance:
/// `{"code":-1003,"msg":"Way too much request weight used; IP banned until
/// 1721088000000."}`), as a wait from now.
pub fn banned_until(body: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(body).ok()?;
    let rest = &text[text.find("banned until")? + "banned until".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let until_ms: i64 = digits.parse().ok()?;
    let wait_ms = until_ms.saturating_sub(quantpro_model::now_ms()).max(0);
    Some(Duration::from_millis(wait_ms as u64))
}

/// One API as its client sees it: the HTTP client, the governor's gate of
/// its host, its retry policy and its request counters. Every outbound
/// request of every client goes through [`ApiClient::send`].
pub struct ApiClient {
    api: &'static str,
    http: reqwest::Client,
    gate: HostGate,
    retry: RetryPolicy,
    stats: RequestStats,
}

impl ApiClient {
    /// `api` names the API in errors (usually `gate.host().api()`).
    pub fn new(
        api: &'static str,
        gate: HostGate,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<ApiClient, SourceError> {
        Ok(ApiClient {
            api,
            http: build_client(api, timeout)?,
            gate,
            retry,
            stats: RequestStats::default(),
        })
    }

    pub fn api(&self) -> &'static str {
        self.api
    }

    /// For building requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn gate(&self) -> &HostGate {
        &self.gate
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Counts an answer served from a cache instead of a request.
    pub fn record_cached(&self) {
        self.stats.record_cached();
    }

    /// One request with retries: `build` makes a fresh request per attempt,
    /// each attempt first waits on the host's gate for `cost`. Returns the
    /// body of the first accepted response.
    pub async fn send(
        &self,
        build: &(dyn Fn() -> RequestBuilder + Send + Sync),
        cost: Cost,
        classify: &dyn Classify,
    ) -> Result<Vec<u8>, SourceError> {
        let (api, policy) = (self.api, &self.retry);
        let tries = policy.max_tries.max(1);
        let mut last_failure = LastFailure::Transport("no attempt was made".to_string());
        for attempt in 1..=tries {
            let permit = self.gate.acquire(cost, policy.max_retry_after).await?;
            // The permit is settled below, by how the attempt ended.
            let (verdict, headers) = match attempt_once(build).await {
                Ok(response) => match classify.classify(api, &response) {
                    Verdict::Accept => {
                        permit.served(Some(&response.headers));
                        return Ok(response.body);
                    }
                    verdict => (verdict, Some(response.headers)),
                },
                Err(failure) => (
                    Verdict::Retry(LastFailure::Transport(failure.to_string())),
                    None,
                ),
            };
            let headers = headers.as_ref();
            let local_wait = match verdict {
                Verdict::Accept => unreachable!("accepted responses returned above"),
                Verdict::Fatal(error) => {
                    permit.finish(headers);
                    return Err(error);
                }
                Verdict::RateLimited { wait, reason } => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    // Every caller of the host waits, this one included (in
                    // `acquire`); no wait of our own on top.
                    let pause = permit.rate_limited(headers, wait);
                    if pause > policy.max_retry_after {
                        return Err(SourceError::rate_limited(
                            api,
                            pause,
                            policy.max_retry_after,
                        ));
                    }
                    tracing::warn!(
                        "[RATE-LIMIT] {api}: {reason}, the host waits {pause:?}{}",
                        if wait.is_some() {
                            " as asked"
                        } else {
                            " (the host's backoff)"
                        }
                    );
                    last_failure = LastFailure::RateLimited {
                        reason,
                        wait_secs: wait.map(|w| w.as_secs_f64().ceil() as u64),
                    };
                    Duration::ZERO
                }
                Verdict::Banned { wait } => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    let ban = wait.unwrap_or(self.gate.limits().default_ban);
                    permit.banned(headers, ban);
                    if ban > policy.max_retry_after {
                        return Err(SourceError::Banned {
                            api,
                            wait_secs: ban.as_secs_f64().ceil() as u64,
                            max_secs: policy.max_retry_after.as_secs(),
                        });
                    }
                    last_failure = LastFailure::RateLimited {
                        reason: "HTTP 418 (IP banned)".to_string(),
                        wait_secs: Some(ban.as_secs_f64().ceil() as u64),
                    };
                    Duration::ZERO
                }
                Verdict::Retry(failure) => {
                    permit.finish(headers);
                    last_failure = failure;
                    backoff_delay(policy.backoff_base, attempt)
                }
            };
            if attempt < tries {
                self.stats.retried.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    "{api}: attempt {attempt} failed ({last_failure}); retrying in {local_wait:?}"
                );
                tokio::time::sleep(local_wait).await;
            }
        }
        Err(SourceError::Exhausted {
            api,
            tries,
            last: last_failure,
        })
    }

    /// [`ApiClient::send`] by status, then JSON decoding; the call counts as
    /// successful only when the body decodes.
    pub async fn fetch_json<T: DeserializeOwned>(
        &self,
        what: &'static str,
        build: &(dyn Fn() -> RequestBuilder + Send + Sync),
        cost: Cost,
    ) -> Result<T, SourceError> {
        self.fetch_json_with(what, build, cost, &ByStatus).await
    }

    /// [`ApiClient::fetch_json`] with the API's own reading of responses.
    pub async fn fetch_json_with<T: DeserializeOwned>(
        &self,
        what: &'static str,
        build: &(dyn Fn() -> RequestBuilder + Send + Sync),
        cost: Cost,
        classify: &dyn Classify,
    ) -> Result<T, SourceError> {
        let decoded = self
            .send(build, cost, classify)
            .await
            .and_then(|body| decode_json(self.api, what, &body));
        self.record(&decoded);
        decoded
    }

    /// Counts a call's outcome (for answers decoded by the client itself).
    pub fn record<T>(&self, outcome: &Result<T, SourceError>) {
        match outcome {
            Ok(_) => self.stats.record_success(),
            Err(_) => self.stats.record_failure(),
        }
    }
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

async fn attempt_once(
    build: &(dyn Fn() -> RequestBuilder + Send + Sync),
) -> Result<Response, TransportError> {
    let response = build().send().await.map_err(TransportError::from)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(TransportError::from)?
        .to_vec();
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// An attempt that got no response (a retry may): reqwest's message
/// without the URL (query strings may carry symbols we log anyway, but
/// never keys: keys go in headers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum TransportError {
    #[error("timeout: {0}")]
    Timeout(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("response body interrupted: {0}")]
    Body(String),
    #[error("request failed: {0}")]
    Request(String),
}

impl From<reqwest::Error> for TransportError {
    fn from(e: reqwest::Error) -> TransportError {
        let mut text = e.to_string();
        if let Some(url) = e.url() {
            text = text.replace(url.as_str(), "<url>");
        }
        if e.is_timeout() {
            TransportError::Timeout(text)
        } else if e.is_connect() {
            TransportError::Connect(text)
        } else if e.is_body() || e.is_decode() {
            TransportError::Body(text)
        } else {
            TransportError::Request(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governor::{Governor, Host};
    use reqwest::header::{HeaderValue, RETRY_AFTER};
    use std::sync::{Arc, Mutex};
    use tokio::time::Instant;

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

    fn response(status: u16, headers: &[(&'static str, &'static str)], body: &str) -> Response {
        let mut map = HeaderMap::new();
        for &(name, value) in headers {
            map.insert(name, HeaderValue::from_static(value));
        }
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_become_verdicts() {
        let verdict = |r: &Response| status_verdict("X", r);
        assert!(matches!(
            verdict(&response(200, &[], "[]")),
            Verdict::Accept
        ));
        assert!(matches!(
            verdict(&response(429, &[("retry-after", "14")], "")),
            Verdict::RateLimited { wait: Some(w), .. } if w == Duration::from_secs(14)
        ));
        assert!(matches!(
            verdict(&response(418, &[("retry-after", "7200")], "")),
            Verdict::Banned { wait: Some(w) } if w == Duration::from_secs(7200)
        ));
        assert!(matches!(
            verdict(&response(502, &[], "bad gateway")),
            Verdict::Retry(LastFailure::Status { status: 502, .. })
        ));
        assert!(matches!(
            verdict(&response(403, &[], "")),
            Verdict::Fatal(SourceError::Unauthorized { status: 403, .. })
        ));
        assert!(matches!(
            verdict(&response(400, &[], r#"{"code":-1121}"#)),
            Verdict::Fatal(SourceError::Status { status: 400, .. })
        ));
    }

    #[test]
    fn a_ban_without_retry_after_ends_when_its_body_says() {
        let until = quantpro_model::now_ms() + 3_600_000;
        let body = format!(
            r#"{{"code":-1003,"msg":"Way too much request weight used; IP banned until {until}."}}"#
        );
        let wait = banned_until(body.as_bytes()).expect("the body names the end");
        assert!(
            wait <= Duration::from_secs(3600) && wait > Duration::from_secs(3590),
            "{wait:?}"
        );
        let Verdict::Banned {
            wait: Some(from_status),
        } = status_verdict(
            "X",
            &Response {
                body: body.into_bytes(),
                ..response(418, &[], "")
            },
        )
        else {
            panic!("418 is a ban");
        };
        assert!(from_status > Duration::from_secs(3590));
        assert_eq!(
            banned_until(b"banned until 1000"),
            Some(Duration::ZERO),
            "a past end: no wait"
        );
        assert_eq!(banned_until(b"{\"msg\":\"Too many requests\"}"), None);
    }

    #[test]
    fn body_excerpt_cuts_long_bodies_on_a_char_boundary() {
        let long = "é".repeat(400);
        let excerpt = body_excerpt(long.as_bytes());
        assert!(excerpt.ends_with("..."));
        assert_eq!(excerpt.chars().count(), 303);
    }

    #[tokio::test]
    async fn a_refused_connection_is_named_without_its_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/api/v3/klines?symbol=BTCUSDT",
            listener.local_addr().unwrap()
        );
        drop(listener);
        let client = reqwest::Client::new();
        let failure = attempt_once(&|| client.get(&url)).await.unwrap_err();
        assert!(matches!(failure, TransportError::Connect(_)), "{failure}");
        let text = failure.to_string();
        assert!(text.starts_with("connection failed: "), "{text}");
        assert!(
            text.contains("<url>") && !text.contains("BTCUSDT"),
            "{text}"
        );
    }

    /// A loopback server in the test's runtime (so on its paused clock):
    /// answers the first `refusals` requests 429 without `Retry-After`,
    /// later ones 200 `[]`, and records when each path arrived.
    struct StormServer {
        uri: String,
        refusals: Arc<Mutex<usize>>,
        arrivals: Arc<Mutex<Vec<(Instant, String)>>>,
    }

    impl StormServer {
        /// Refuses the first `refusals` requests with a 429 (no
        /// Retry-After), then answers `[]`; notes every arrival.
        async fn start(refusals: usize) -> StormServer {
            let refusals = Arc::new(Mutex::new(refusals));
            let arrivals: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
            let (left, seen) = (refusals.clone(), arrivals.clone());
            let uri = crate::loopback::serve(move |request| {
                seen.lock().unwrap().push((Instant::now(), request.path));
                let mut left = left.lock().unwrap();
                let refuse = *left > 0;
                *left = left.saturating_sub(1);
                if refuse {
                    (429, String::new())
                } else {
                    (200, "[]".to_string())
                }
            })
            .await;
            StormServer {
                uri,
                refusals,
                arrivals,
            }
        }

        fn refuse(&self, more: usize) {
            *self.refusals.lock().unwrap() = more;
        }

        /// The times between consecutive requests.
        fn gaps(&self) -> Vec<Duration> {
            let arrivals = self.arrivals.lock().unwrap();
            arrivals.windows(2).map(|w| w[1].0 - w[0].0).collect()
        }

        fn paths(&self) -> Vec<String> {
            let arrivals = self.arrivals.lock().unwrap();
            arrivals.iter().map(|(_, path)| path.clone()).collect()
        }
    }

    /// The documented refusal backoff's bounds after the `n`th refusal in a
    /// row: 0.5 s doubled per refusal, a random half dropped.
    fn refusal_wait_bounds(n: u32) -> (Duration, Duration) {
        let full = (Duration::from_millis(500) * 2u32.pow(n - 1)).min(Duration::from_secs(60));
        (full / 2, full)
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_storm_without_retry_after_grows_the_hosts_wait_across_symbols() {
        // Seven refusals: BTC's three tries, ETH's three, SOL's first.
        let server = StormServer::start(7).await;
        let governor = Governor::documented();
        let client = ApiClient::new(
            "Hyperliquid",
            governor.gate(Host::Hyperliquid),
            RetryPolicy::default(),
            Duration::from_secs(300),
        )
        .unwrap();
        let weight = Cost::weight(20);
        let candles = |coin: &str| {
            let url = format!("{}/candles?coin={coin}", server.uri);
            let http = client.http().clone();
            move || http.get(&url)
        };
        for coin in ["BTC", "ETH"] {
            let error = client
                .send(&candles(coin), weight, &ByStatus)
                .await
                .unwrap_err();
            assert!(
                matches!(error, SourceError::Exhausted { tries: 3, .. }),
                "{error}"
            );
        }
        let served = client.send(&candles("SOL"), weight, &ByStatus).await;
        assert_eq!(served.unwrap(), b"[]");

        let gaps = server.gaps();
        assert_eq!(gaps.len(), 7, "{gaps:?}");
        for (n, &gap) in (1..).zip(&gaps) {
            let (low, high) = refusal_wait_bounds(n);
            assert!(
                low <= gap && gap <= high,
                "after refusal {n}: {gap:?} not in {low:?}..={high:?}"
            );
        }
        assert!(
            gaps.windows(2).all(|w| w[1] >= w[0]),
            "each wait at least the last: {gaps:?}"
        );
        assert!(
            gaps[3] >= Duration::from_secs(2),
            "ETH's first refusal is the fourth in a row, not a fresh 0.5 s: {gaps:?}"
        );
        let paths = server.paths();
        assert!(
            paths[3].ends_with("coin=ETH") && paths[6].ends_with("coin=SOL"),
            "{paths:?}"
        );
        assert_eq!(
            client.gate().used(),
            20,
            "seven refused calls cost nothing; the served one its weight"
        );
        assert_eq!(client.gate().charged(), 20);
        assert_eq!(client.stats().rate_limited, 7);

        // SOL was served: the next storm starts small again.
        server.refuse(1);
        client
            .send(&candles("DOGE"), weight, &ByStatus)
            .await
            .unwrap();
        let gaps = server.gaps();
        let (low, high) = refusal_wait_bounds(1);
        let last = gaps[gaps.len() - 1];
        assert!(
            low <= last && last <= high,
            "a fresh first refusal: {last:?}"
        );
        assert_eq!(client.gate().charged(), 40);
    }
}
