//! AI commentary of one signal through Google Gemini `generateContent`.
//! The prompt is built from the signal's own numbers (setup, scores,
//! context) so the model explains rather than invents. Requests go through
//! the shared loop and the governor's Gemini gate ([`GeminiRules`] reads
//! `RetryInfo.retryDelay` from a 429 body, so the host waits that long);
//! failures are `SourceError`s, worded for the trader by [`GeminiError`].
//! Without `GEMINI_API_KEY` the answer is `SourceError::NoKey`.

use super::governor::{Cost, Governor, Host};
use super::http::{
    body_excerpt, error_verdict, retry_after, ApiClient, Classify, Response, RetryPolicy, Verdict,
};
use super::keys::{Secret, GEMINI_API_KEY};
use super::{LastFailure, SourceError};
use quantpro_model::Signal;
use serde::Deserialize;
use serde_json::json;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";
pub const DEFAULT_MODEL: &str = "gemini-2.0-flash";

const API: &str = "Gemini";

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

/// Why there is no commentary: the [`SourceError`], displayed in words for
/// the trader (`"AI commentary is off: set GEMINI_API_KEY ..."`).
#[derive(Debug)]
pub struct GeminiError {
    error: SourceError,
    model: String,
}

impl GeminiError {
    /// The error as every client reports it.
    pub fn source_error(&self) -> &SourceError {
        &self.error
    }
}

impl std::error::Error for GeminiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl std::fmt::Display for GeminiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let model = &self.model;
        match &self.error {
            SourceError::NoKey { .. } => write!(
                f,
                "AI commentary is off: set {GEMINI_API_KEY} in the environment or in .env"
            ),
            SourceError::Unauthorized {
                status: 403,
                detail,
                ..
            } => write!(
                f,
                "Gemini denied access; is the Generative Language API enabled for this key? ({detail})"
            ),
            SourceError::Unauthorized { detail, .. } => {
                write!(f, "Gemini rejected the API key; check {GEMINI_API_KEY} ({detail})")
            }
            SourceError::Api {
                code: 404, message, ..
            } => write!(
                f,
                "Gemini model '{model}' does not exist or this key cannot use it ({message})"
            ),
            SourceError::Api {
                code: 400, message, ..
            } => write!(f, "Gemini refused the request: {message}"),
            SourceError::Api { code, message, .. } => {
                write!(f, "Gemini refused the request: HTTP {code}: {message}")
            }
            SourceError::RateLimited { wait_secs, .. } => quota_exhausted(f, Some(*wait_secs)),
            SourceError::Exhausted {
                last: LastFailure::RateLimited { wait_secs, .. },
                ..
            } => quota_exhausted(f, *wait_secs),
            SourceError::Exhausted {
                last: LastFailure::Status { status, body },
                ..
            } => write!(
                f,
                "Gemini is unavailable (HTTP {status}): {body}; try again shortly"
            ),
            SourceError::Exhausted {
                last: LastFailure::Transport(reason),
                ..
            } => write!(f, "cannot reach Gemini: {reason}"),
            SourceError::Declined { reason, .. } => write!(f, "Gemini blocked the prompt ({reason})"),
            SourceError::Malformed { detail, .. } => {
                write!(f, "Gemini sent an answer that could not be read: {detail}")
            }
            other => write!(f, "{other}"),
        }
    }
}

fn quota_exhausted(f: &mut std::fmt::Formatter<'_>, wait_secs: Option<u64>) -> std::fmt::Result {
    match wait_secs {
        Some(secs) => write!(
            f,
            "Gemini quota exhausted (429 RESOURCE_EXHAUSTED); try again in {secs} s"
        ),
        None => write!(
            f,
            "Gemini quota exhausted (429 RESOURCE_EXHAUSTED); try again later"
        ),
    }
}

pub struct GeminiClient {
    api: ApiClient,
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
    pub fn new(
        config: GeminiConfig,
        governor: &Arc<Governor>,
    ) -> Result<GeminiClient, SourceError> {
        Ok(GeminiClient {
            api: ApiClient::new(
                API,
                governor.gate(Host::Gemini),
                config.retry,
                config.timeout,
            )?,
            config,
        })
    }

    /// A short commentary of `signal`.
    pub async fn explain_signal(&self, signal: &Signal) -> Result<String, GeminiError> {
        self.generate(&signal_prompt(signal)).await
    }

    /// The model's text for `prompt`; 429 and 5xx are retried by the shared
    /// loop (after the server's `retryDelay` when it gives one).
    pub async fn generate(&self, prompt: &str) -> Result<String, GeminiError> {
        let answer = self.request(prompt).await;
        self.api.record(&answer);
        answer.map_err(|error| GeminiError {
            error,
            model: self.config.model.clone(),
        })
    }

    async fn request(&self, prompt: &str) -> Result<String, SourceError> {
        let Some(key) = &self.config.api_key else {
            return Err(SourceError::NoKey {
                api: API,
                var: GEMINI_API_KEY,
            });
        };
        let url = format!(
            "{}/models/{}:generateContent",
            self.config.base_url.trim_end_matches('/'),
            self.config.model
        );
        let mut key_header =
            reqwest::header::HeaderValue::from_str(key.expose()).map_err(|_| {
                SourceError::Client {
                    api: API,
                    detail: format!("{GEMINI_API_KEY} holds characters a header cannot"),
                }
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
        let build = || {
            self.api
                .http()
                .post(&url)
                .header("x-goog-api-key", key_header.clone())
                .json(&body)
        };
        let answer = self.api.send(&build, Cost::weight(1), &GeminiRules).await?;
        answer_text(&answer)
    }
}

/// The concatenated text of the first candidate; a blocked prompt or an
/// empty answer is an error, a truncated one says so at its end.
fn answer_text(body: &[u8]) -> Result<String, SourceError> {
    let response: GenerateResponse =
        serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    let Some(candidate) = response.candidates.into_iter().next() else {
        let reason = response
            .prompt_feedback
            .and_then(|f| f.block_reason)
            .unwrap_or_else(|| "no candidates".to_string());
        return Err(SourceError::Declined { api: API, reason });
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
            Err(SourceError::Declined {
                api: API,
                reason: finish,
            })
        }
        (true, _) => Err(malformed(format!("empty answer (finishReason {finish})"))),
        (false, "STOP") => Ok(text),
        (false, "MAX_TOKENS") => Ok(format!(
            "{text}\n[answer cut short: output token limit reached]"
        )),
        (false, other) => Ok(format!("{text}\n[answer incomplete: {other}]")),
    }
}

fn malformed(detail: String) -> SourceError {
    SourceError::Malformed {
        api: API,
        what: "generateContent",
        detail,
    }
}

/// Gemini's error bodies (`{"error":{"code","message","status","details"}}`):
/// a 429 waits `RetryInfo.retryDelay` (else `Retry-After`), 5xx are retried
/// with the body's message, and 4xx become the error a trader can act on:
/// a refused key (400 `API_KEY_INVALID`, 401, 403), a bad request (400), an
/// unknown model (404).
pub struct GeminiRules;

impl Classify for GeminiRules {
    fn classify(&self, api: &'static str, response: &Response) -> Verdict {
        let status = response.status.as_u16();
        if response.status.is_success() {
            return Verdict::Accept;
        }
        let parsed = serde_json::from_slice::<ErrorEnvelope>(&response.body)
            .ok()
            .map(|e| e.error);
        let message = parsed
            .as_ref()
            .map(|e| e.message.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| body_excerpt(&response.body));
        let details = parsed.map(|e| e.details).unwrap_or_default();
        let reason_is = |reason: &str| {
            details
                .iter()
                .any(|d| d.get("reason").and_then(|r| r.as_str()) == Some(reason))
        };
        match status {
            400 if reason_is("API_KEY_INVALID") => Verdict::Fatal(SourceError::Unauthorized {
                api,
                status,
                detail: message,
            }),
            429 => Verdict::RateLimited {
                wait: retry_delay(&details).or_else(|| retry_after(&response.headers)),
                reason: "HTTP 429 RESOURCE_EXHAUSTED".to_string(),
            },
            _ => error_verdict(api, response, message),
        }
    }
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
        assert!(matches!(
            answer_text(body).unwrap_err(),
            SourceError::Declined { reason, .. } if reason == "SAFETY"
        ));
        assert!(matches!(
            answer_text(b"{not json"),
            Err(SourceError::Malformed { .. })
        ));
    }

    fn response(status: u16, body: &[u8]) -> Response {
        Response {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            headers: reqwest::header::HeaderMap::new(),
            body: body.to_vec(),
        }
    }

    fn worded(error: SourceError) -> String {
        GeminiError {
            error,
            model: "m".into(),
        }
        .to_string()
    }

    #[test]
    fn errors_map_by_status_and_reason() {
        let invalid_key = br#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#;
        let Verdict::Fatal(error) = GeminiRules.classify(API, &response(400, invalid_key)) else {
            panic!("a refused key is final");
        };
        assert!(matches!(
            error,
            SourceError::Unauthorized { status: 400, .. }
        ));
        assert_eq!(
            worded(error),
            "Gemini rejected the API key; check GEMINI_API_KEY (API key not valid.)"
        );
        let quota = br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}}"#;
        let Verdict::RateLimited { wait, .. } = GeminiRules.classify(API, &response(429, quota))
        else {
            panic!("429 is rate-limited");
        };
        assert_eq!(wait, Some(Duration::from_secs(17)));
        assert_eq!(
            worded(SourceError::RateLimited {
                api: API,
                wait_secs: 17,
                max_secs: 5
            }),
            "Gemini quota exhausted (429 RESOURCE_EXHAUSTED); try again in 17 s"
        );
        let Verdict::Retry(last) = GeminiRules.classify(API, &response(503, b"overloaded")) else {
            panic!("5xx is retried");
        };
        assert_eq!(
            last,
            LastFailure::Status {
                status: 503,
                body: "overloaded".into()
            }
        );
        let Verdict::Fatal(error) = GeminiRules.classify(
            API,
            &response(
                404,
                br#"{"error":{"code":404,"message":"models/x is not found"}}"#,
            ),
        ) else {
            panic!("404 is final");
        };
        assert_eq!(
            worded(error),
            "Gemini model 'm' does not exist or this key cannot use it (models/x is not found)"
        );
    }
}
