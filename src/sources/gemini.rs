//! AI commentary of one signal through Google Gemini `generateContent`.
//! The prompt is built from the signal's own numbers (setup, scores,
//! context) so the model explains rather than invents; errors become a
//! [`GeminiError`] whose message a trader can act on, and 429/5xx are
//! retried with backoff. Without `GEMINI_API_KEY` the answer is `NoKey`.

use super::http::{backoff_delay, body_excerpt, retry_after, RetryPolicy};
use super::keys::Secret;
use crate::model::Signal;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;
use std::fmt::Write;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";
pub const DEFAULT_MODEL: &str = "gemini-2.0-flash";

const SYSTEM_INSTRUCTION: &str = "You are a terse crypto derivatives analyst. In at most five sentences, tell a \
trader what this scanner signal says, what supports it, what argues against it, and where the risk is. Use only \
the numbers given; never invent prices or levels.";

#[derive(Debug, Clone)]
pub struct GeminiConfig {
    pub base_url: String,
    /// Goes in the path: `models/{model}:generateContent`.
    pub model: String,
    pub api_key: Option<Secret>,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    pub temperature: f64,
    pub max_output_tokens: u32,
}

impl GeminiConfig {
    pub fn new(api_key: Option<Secret>) -> GeminiConfig {
        GeminiConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            model: DEFAULT_MODEL.to_string(),
            api_key,
            retry: RetryPolicy {
                max_tries: 3,
                backoff_base: Duration::from_secs(2),
                max_retry_after: Duration::from_secs(60),
            },
            timeout: Duration::from_secs(60),
            temperature: 0.2,
            max_output_tokens: 512,
        }
    }
}

/// Why there is no commentary, in words for the trader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeminiError {
    #[error("AI commentary is off: set GEMINI_API_KEY in the environment or in .env")]
    NoKey,
    #[error("Gemini rejected the API key; check GEMINI_API_KEY ({0})")]
    InvalidKey(String),
    #[error("Gemini refused the request: {0}")]
    InvalidRequest(String),
    #[error("Gemini denied access; is the Generative Language API enabled for this key? ({0})")]
    PermissionDenied(String),
    #[error("Gemini model '{model}' does not exist or this key cannot use it ({message})")]
    ModelNotFound { model: String, message: String },
    #[error("Gemini quota exhausted (429 RESOURCE_EXHAUSTED); {}", retry_hint(*retry_after_secs))]
    QuotaExhausted { retry_after_secs: Option<u64> },
    #[error("Gemini is unavailable (HTTP {status}): {message}; try again shortly")]
    Unavailable { status: u16, message: String },
    #[error("Gemini blocked the prompt ({0})")]
    Blocked(String),
    #[error("Gemini sent an answer that could not be read: {0}")]
    Malformed(String),
    #[error("cannot reach Gemini: {0}")]
    Network(String),
}

fn retry_hint(secs: Option<u64>) -> String {
    match secs {
        Some(secs) => format!("try again in {secs} s"),
        None => "try again later".to_string(),
    }
}

impl GeminiError {
    /// Worth another try after a wait.
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            GeminiError::QuotaExhausted { .. }
                | GeminiError::Unavailable { .. }
                | GeminiError::Network(_)
        )
    }
}

pub struct GeminiClient {
    http: reqwest::Client,
    config: GeminiConfig,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GenerateResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<serde_json::Value>,
}

impl GeminiClient {
    pub fn new(config: GeminiConfig) -> Result<GeminiClient, GeminiError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| GeminiError::Network(e.to_string()))?;
        Ok(GeminiClient { http, config })
    }

    /// A short commentary of `signal`.
    pub async fn explain_signal(&self, signal: &Signal) -> Result<String, GeminiError> {
        self.generate(&signal_prompt(signal)).await
    }

    /// The model's text for `prompt`, retrying 429 and 5xx with backoff
    /// (or the server's `retryDelay` when it gives one).
    pub async fn generate(&self, prompt: &str) -> Result<String, GeminiError> {
        let Some(key) = &self.config.api_key else {
            return Err(GeminiError::NoKey);
        };
        let tries = self.config.retry.max_tries.max(1);
        let mut attempt = 1;
        loop {
            let (error, server_wait) = match self.attempt(key, prompt).await {
                Ok(text) => return Ok(text),
                Err(failure) => failure,
            };
            if !error.is_retryable() || attempt >= tries {
                return Err(error);
            }
            let wait = server_wait
                .unwrap_or_else(|| backoff_delay(self.config.retry.backoff_base, attempt));
            if wait > self.config.retry.max_retry_after {
                return Err(error);
            }
            tracing::warn!("Gemini: {error}; retrying in {wait:?}");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        key: &Secret,
        prompt: &str,
    ) -> Result<String, (GeminiError, Option<Duration>)> {
        let url = format!(
            "{}/models/{}:generateContent",
            self.config.base_url.trim_end_matches('/'),
            self.config.model
        );
        let mut key_header =
            reqwest::header::HeaderValue::from_str(key.expose()).map_err(|_| {
                (
                    GeminiError::InvalidKey("the key holds characters a header cannot".into()),
                    None,
                )
            })?;
        key_header.set_sensitive(true);
        let body = json!({
            "contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "systemInstruction": {"parts": [{"text": SYSTEM_INSTRUCTION}]},
            "generationConfig": {
                "temperature": self.config.temperature,
                "maxOutputTokens": self.config.max_output_tokens,
                "responseMimeType": "text/plain",
            },
        });
        let response = self
            .http
            .post(&url)
            .header("x-goog-api-key", key_header)
            .json(&body)
            .send()
            .await
            .map_err(|e| (GeminiError::Network(network_reason(&e)), None))?;
        let status = response.status();
        let header_wait = retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| (GeminiError::Network(network_reason(&e)), None))?;
        if status.is_success() {
            return answer_text(&bytes).map_err(|e| (e, None));
        }
        let (error, body_wait) = classify_error(status, &bytes, &self.config.model);
        Err((error, body_wait.or(header_wait)))
    }
}

fn network_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the request timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "the request failed".to_string()
    }
}

/// The concatenated text of the first candidate; a blocked prompt or an
/// empty answer is an error, a truncated one says so at its end.
fn answer_text(body: &[u8]) -> Result<String, GeminiError> {
    let response: GenerateResponse =
        serde_json::from_slice(body).map_err(|e| GeminiError::Malformed(e.to_string()))?;
    let Some(candidate) = response.candidates.into_iter().next() else {
        let reason = response
            .prompt_feedback
            .and_then(|f| f.block_reason)
            .unwrap_or_else(|| "no candidates".to_string());
        return Err(GeminiError::Blocked(reason));
    };
    let text: String = candidate
        .content
        .map(|c| c.parts.into_iter().filter_map(|p| p.text).collect())
        .unwrap_or_default();
    let finish = candidate
        .finish_reason
        .unwrap_or_else(|| "STOP".to_string());
    match (text.trim().is_empty(), finish.as_str()) {
        (true, "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT") => {
            Err(GeminiError::Blocked(finish))
        }
        (true, _) => Err(GeminiError::Malformed(format!(
            "empty answer (finishReason {finish})"
        ))),
        (false, "STOP") => Ok(text),
        (false, "MAX_TOKENS") => Ok(format!(
            "{text}\n[answer cut short: output token limit reached]"
        )),
        (false, other) => Ok(format!("{text}\n[answer incomplete: {other}]")),
    }
}

/// Maps an error response to a `GeminiError`, with the `RetryInfo` delay
/// when the body carries one.
fn classify_error(status: StatusCode, body: &[u8], model: &str) -> (GeminiError, Option<Duration>) {
    let parsed = serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .map(|e| e.error);
    let message = parsed
        .as_ref()
        .map(|e| e.message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| body_excerpt(body));
    let details = parsed.map(|e| e.details).unwrap_or_default();
    let reason_is = |reason: &str| {
        details
            .iter()
            .any(|d| d.get("reason").and_then(|r| r.as_str()) == Some(reason))
    };
    let error = match status.as_u16() {
        400 if reason_is("API_KEY_INVALID") => GeminiError::InvalidKey(message),
        400 => GeminiError::InvalidRequest(message),
        401 => GeminiError::InvalidKey(message),
        403 => GeminiError::PermissionDenied(message),
        404 => GeminiError::ModelNotFound {
            model: model.to_string(),
            message,
        },
        429 => GeminiError::QuotaExhausted {
            retry_after_secs: retry_delay(&details).map(|d| d.as_secs()),
        },
        code if code >= 500 => GeminiError::Unavailable {
            status: code,
            message,
        },
        code => GeminiError::InvalidRequest(format!("HTTP {code}: {message}")),
    };
    (error, retry_delay(&details))
}

/// `google.rpc.RetryInfo.retryDelay` (`"17s"`, `"0.5s"`).
fn retry_delay(details: &[serde_json::Value]) -> Option<Duration> {
    details.iter().find_map(|d| {
        let text = d.get("retryDelay")?.as_str()?;
        let secs: f64 = text.strip_suffix('s')?.parse().ok()?;
        (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
    })
}

/// The signal as the model sees it: its numbers, labelled, one per line.
pub fn signal_prompt(signal: &Signal) -> String {
    let sc = &signal.observability.score_composition;
    let num = |v: Option<f64>| v.map(significant).unwrap_or_else(|| "n/a".to_string());
    let mut p = String::new();
    let _ = writeln!(
        p,
        "Signal: {} on {} ({} strategy)",
        signal.symbol, signal.exchange, signal.strategy
    );
    let _ = writeln!(
        p,
        "Action: {}; bias: {}; price: {}",
        signal.action,
        signal.bias,
        num(Some(signal.price))
    );
    let _ = writeln!(p, "Total score: {:.1}/100", signal.total_score);
    match &signal.setup {
        Some(s) => {
            let _ = writeln!(
                p,
                "Setup: {} entry {} stop {} target {} reward/risk {}",
                s.side,
                num(Some(s.entry)),
                num(Some(s.sl)),
                num(Some(s.tp)),
                num(Some(s.rr))
            );
        }
        None => {
            let _ = writeln!(p, "Setup: none");
        }
    }
    let _ = writeln!(
        p,
        "Score parts (each 0-25): trend {:.1}, structure {:.1}, money flow {:.1}, timing {:.1}",
        sc.trend_score, sc.structure_score, sc.money_flow_score, sc.timing_score
    );
    let _ = writeln!(
        p,
        "LTF (15m): RSI {}, Cardwell range {}, OBV slope {:.4}, ATR {}",
        num(sc.rsi),
        sc.cardwell_range,
        sc.obv_slope,
        num(sc.atr)
    );
    let _ = writeln!(
        p,
        "HTF (4h): trend {}, bias {}, ADX {}",
        signal.htf.trend,
        signal.htf.bias,
        num(signal.htf.adx)
    );
    let breakout = sc.breakout_type.map(|b| b.as_str()).unwrap_or("none");
    let _ = writeln!(p, "RSI trendline breakout: {breakout}");
    let oi = if sc.oi_z_score_valid {
        format!("{:.2}", sc.oi_z_score)
    } else {
        "unavailable".to_string()
    };
    let _ = writeln!(p, "Open interest z-score (24h): {oi}");
    let _ = writeln!(
        p,
        "Filters passed: OI z-score {}, OBV slope {}",
        sc.filters_passed.oi_zscore, sc.filters_passed.obv_slope
    );
    if !signal.wait_reasons.is_empty() {
        let _ = writeln!(p, "Why waiting: {}", signal.wait_reasons.join(", "));
    }
    if let Some(meta) = &signal.metadata {
        let _ = writeln!(
            p,
            "Market cap: {}; 24h volume: {}",
            num(meta.mcap),
            num(meta.vol_24h)
        );
    }
    p
}

/// Six significant digits without trailing zeros: `64080.5`, `0.00001234`,
/// `47.2341` (prices of very different coins all keep their precision).
fn significant(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".to_string();
    }
    let decimals = (5 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_six_significant_digits() {
        assert_eq!(significant(64080.5), "64080.5");
        assert_eq!(significant(0.000012345678), "0.0000123457");
        assert_eq!(significant(47.23412), "47.2341");
        assert_eq!(significant(2.445), "2.445");
        assert_eq!(significant(1_262_000_000_000.0), "1262000000000");
        assert_eq!(significant(-0.5), "-0.5");
    }

    #[test]
    fn answer_text_joins_parts_and_flags_truncation() {
        let body = br#"{"candidates":[{"content":{"parts":[{"text":"BTC: "},{"text":"long"}]},"finishReason":"STOP"}]}"#;
        assert_eq!(answer_text(body).unwrap(), "BTC: long");
        let body = br#"{"candidates":[{"content":{"parts":[{"text":"half"}]},"finishReason":"MAX_TOKENS"}]}"#;
        assert!(answer_text(body).unwrap().contains("cut short"));
        let body = br#"{"promptFeedback":{"blockReason":"SAFETY"}}"#;
        assert_eq!(
            answer_text(body).unwrap_err(),
            GeminiError::Blocked("SAFETY".into())
        );
        assert!(matches!(
            answer_text(b"{not json"),
            Err(GeminiError::Malformed(_))
        ));
    }

    #[test]
    fn errors_map_by_status_and_reason() {
        let invalid_key = br#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#;
        assert!(matches!(
            classify_error(StatusCode::BAD_REQUEST, invalid_key, "m").0,
            GeminiError::InvalidKey(_)
        ));
        let quota = br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}}"#;
        let (error, wait) = classify_error(StatusCode::TOO_MANY_REQUESTS, quota, "m");
        assert_eq!(
            error,
            GeminiError::QuotaExhausted {
                retry_after_secs: Some(17)
            }
        );
        assert_eq!(wait, Some(Duration::from_secs(17)));
        assert_eq!(
            error.to_string(),
            "Gemini quota exhausted (429 RESOURCE_EXHAUSTED); try again in 17 s"
        );
        let (error, _) = classify_error(StatusCode::SERVICE_UNAVAILABLE, b"overloaded", "m");
        assert_eq!(
            error,
            GeminiError::Unavailable {
                status: 503,
                message: "overloaded".into()
            }
        );
    }
}
