//! Discord execute webhook (EXTERNAL_APIS.md §10.2): `POST
//! {url}?wait=true` with `{"content","username":"QuantPro",
//! "allowed_mentions":{"parse":[]}}` (no pings), the content cut to 2000
//! characters. The URL the user pastes (`.../api/webhooks/{id}/{token}`,
//! from the environment) gets `/v10` inserted; it holds the webhook's
//! token, so it is a [`Secret`] and never logged.
//!
//! Answers ([`DiscordRules`]): 200 with a message object or 204 is
//! delivered; a 200 that is not a message is garbled and retried; 429
//! waits the body's `retry_after` (a float) or `Retry-After`, except a 429
//! without a `Via` header (Cloudflare, not the API), which is not retried;
//! 404 code 10015 (the webhook was deleted) disables the channel; 401/403
//! fail; 5xx is retried.

use super::{at_most_chars, Deliver, DeliveryError};
use crate::alerts::engine::Alert;
use quantpro_sources::governor::{Cost, Governor, Host};
use quantpro_sources::http::{
    body_excerpt, error_verdict, retry_after, ApiClient, Classify, Response, RetryPolicy, Verdict,
};
use quantpro_sources::keys::Secret;
use quantpro_sources::{LastFailure, SourceError};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

const API: &str = "Discord";
const MAX_CONTENT: usize = 2000;
/// Discord's JSON error code of a deleted webhook.
pub const UNKNOWN_WEBHOOK: i64 = 10015;

pub struct DiscordClient {
    api: ApiClient,
    url: Secret,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    retry_after: Option<f64>,
}

#[derive(Deserialize)]
struct Message {
    id: String,
}

/// The webhook URL on API v10 (unversioned routes go to a deprecated
/// default version), asking for the message back (`wait=true`).
pub fn discord_api_url(pasted: &str) -> String {
    let url = pasted.trim().trim_end_matches('/');
    let versioned = match url.find("/api/webhooks/") {
        Some(at) => format!("{}/api/v10/webhooks/{}", &url[..at], &url[at + 14..]),
        None => url.to_string(),
    };
    let separator = if versioned.contains('?') { '&' } else { '?' };
    format!("{versioned}{separator}wait=true")
}

impl DiscordClient {
    pub fn new(
        url: Secret,
        governor: &Arc<Governor>,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<DiscordClient, SourceError> {
        Ok(DiscordClient {
            api: ApiClient::new(API, governor.gate(Host::Discord), retry, timeout)?,
            url: Secret::new(discord_api_url(url.expose())),
        })
    }
}

#[async_trait::async_trait]
impl Deliver for DiscordClient {
    fn kind(&self) -> &'static str {
        "discord"
    }

    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let body = serde_json::json!({
            "content": at_most_chars(&alert.text(), MAX_CONTENT),
            "username": "QuantPro",
            "allowed_mentions": {"parse": []},
        });
        let build = || self.api.http().post(self.url.expose()).json(&body);
        let outcome = self.api.send(&build, Cost::weight(1), &DiscordRules).await;
        self.api.record(&outcome);
        outcome.map(|_| ()).map_err(DeliveryError::from)
    }
}

/// How a Discord webhook answers (see the module doc).
pub struct DiscordRules;

impl Classify for DiscordRules {
    fn classify(&self, api: &'static str, response: &Response) -> Verdict {
        let status = response.status.as_u16();
        let error = serde_json::from_slice::<ErrorBody>(&response.body).ok();
        let described = || {
            error
                .as_ref()
                .and_then(|e| e.message.clone())
                .unwrap_or_else(|| body_excerpt(&response.body))
        };
        match status {
            204 => Verdict::Accept,
            200..=299 => match serde_json::from_slice::<Message>(&response.body) {
                Ok(message) if !message.id.is_empty() => Verdict::Accept,
                _ => Verdict::Retry(LastFailure::Garbled(format!(
                    "HTTP {status} without a message object: {}",
                    body_excerpt(&response.body)
                ))),
            },
            429 if !response.headers.contains_key("via") => Verdict::Fatal(SourceError::Api {
                api,
                code: 429,
                message: "blocked by Cloudflare (a 429 without Via), not retried".into(),
            }),
            429 => Verdict::RateLimited {
                wait: error
                    .as_ref()
                    .and_then(|e| e.retry_after)
                    .filter(|secs| secs.is_finite() && *secs >= 0.0)
                    .map(Duration::from_secs_f64)
                    .or_else(|| retry_after(&response.headers)),
                reason: "HTTP 429: You are being rate limited".into(),
            },
            404 if error.as_ref().and_then(|e| e.code) == Some(UNKNOWN_WEBHOOK) => {
                Verdict::Fatal(SourceError::Api {
                    api,
                    code: UNKNOWN_WEBHOOK,
                    message: "Unknown Webhook: it was deleted; set a new URL".into(),
                })
            }
            _ => error_verdict(api, response, described()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_urls_go_to_api_v10_and_wait_for_the_message() {
        assert_eq!(
            discord_api_url("https://discord.com/api/webhooks/123/abc"),
            "https://discord.com/api/v10/webhooks/123/abc?wait=true"
        );
        assert_eq!(
            discord_api_url("http://127.0.0.1:9/api/v10/webhooks/1/t?thread_id=5"),
            "http://127.0.0.1:9/api/v10/webhooks/1/t?thread_id=5&wait=true"
        );
    }
}
