//! Telegram Bot API `sendMessage` (EXTERNAL_APIS.md §10.1):
//! `POST {base}/bot<TOKEN>/sendMessage` with `{"chat_id","text",
//! "link_preview_options":{"is_disabled":true}}`. The text is plain (no
//! `parse_mode`: a symbol never breaks entity parsing) and cut to 4096
//! characters. The token is in the path, so the URL is a [`Secret`] and
//! never logged.
//!
//! Answers ([`TelegramRules`]): `{"ok":true,...}` is delivered; a 200 that
//! is not a Bot API answer is garbled and retried; 429 waits
//! `parameters.retry_after` (else `Retry-After`); a group that became a
//! supergroup (`parameters.migrate_to_chat_id`) is sent again to the new
//! chat; 401/404 (a bad token) and 403 (the bot was blocked) fail at once;
//! 5xx is retried.

use super::{at_most_chars, Deliver, DeliveryError};
use crate::alerts::engine::Alert;
use quantpro_sources::governor::{Cost, Governor, Host};
use quantpro_sources::http::{
    body_excerpt, error_verdict, retry_after, ApiClient, Classify, Response, RetryPolicy, Verdict,
};
use quantpro_sources::keys::Secret;
use quantpro_sources::{LastFailure, SourceError};
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const API: &str = "Telegram";
/// `text` is 1-4096 characters.
const MAX_TEXT: usize = 4096;

pub struct TelegramClient {
    api: ApiClient,
    /// `{base}/bot<TOKEN>/sendMessage`
    url: Secret,
    /// The chat as configured, or the supergroup it migrated to.
    chat_id: Mutex<String>,
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    migrate_to_chat_id: Option<i64>,
}

impl TelegramClient {
    pub fn new(
        base_url: &str,
        token: Secret,
        chat_id: &str,
        governor: &Arc<Governor>,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<TelegramClient, SourceError> {
        let url = format!(
            "{}/bot{}/sendMessage",
            base_url.trim_end_matches('/'),
            token.expose()
        );
        Ok(TelegramClient {
            api: ApiClient::new(API, governor.gate(Host::Telegram), retry, timeout)?,
            url: Secret::new(url),
            chat_id: Mutex::new(chat_id.to_string()),
        })
    }

    fn chat_id(&self) -> String {
        self.chat_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// One `sendMessage` to `chat`; `Some(new chat)` when the group moved.
    async fn send_to(&self, chat: &str, text: &str) -> Result<Option<i64>, SourceError> {
        // A numeric id goes as a number, `@channel` as a string.
        let chat_id = chat
            .parse::<i64>()
            .map(serde_json::Value::from)
            .unwrap_or_else(|_| chat.into());
        let body = serde_json::json!({
            "chat_id": chat_id,
            "text": text,
            "link_preview_options": {"is_disabled": true},
        });
        let build = || self.api.http().post(self.url.expose()).json(&body);
        let answer = self
            .api
            .send(&build, Cost::weight(1), &TelegramRules)
            .await?;
        // TelegramRules accepts only `ok:true` and migrations.
        Ok(parse(&answer)
            .and_then(|a| a.parameters)
            .and_then(|p| p.migrate_to_chat_id))
    }
}

fn parse(body: &[u8]) -> Option<Answer> {
    serde_json::from_slice(body).ok()
}

#[async_trait::async_trait]
impl Deliver for TelegramClient {
    fn kind(&self) -> &'static str {
        "telegram"
    }

    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let text = at_most_chars(&alert.text(), MAX_TEXT);
        let mut outcome = self.send_to(&self.chat_id(), &text).await;
        if let Ok(Some(moved_to)) = outcome {
            tracing::info!(
                "[ALERTS] Telegram: the group moved to supergroup {moved_to}; resending there"
            );
            *self.chat_id.lock().unwrap_or_else(|e| e.into_inner()) = moved_to.to_string();
            outcome = match self.send_to(&moved_to.to_string(), &text).await {
                Ok(None) => Ok(None),
                Ok(Some(_)) => Err(SourceError::Api {
                    api: API,
                    code: 400,
                    message: "the chat migrated twice in a row".into(),
                }),
                Err(e) => Err(e),
            };
        }
        self.api.record(&outcome);
        outcome.map(|_| ()).map_err(DeliveryError::from)
    }
}

/// How the Bot API answers (see the module doc).
pub struct TelegramRules;

impl Classify for TelegramRules {
    fn classify(&self, api: &'static str, response: &Response) -> Verdict {
        let status = response.status.as_u16();
        let answer = parse(&response.body);
        let described = || {
            answer
                .as_ref()
                .and_then(|a| a.description.clone())
                .unwrap_or_else(|| body_excerpt(&response.body))
        };
        let migrates = answer
            .as_ref()
            .and_then(|a| a.parameters.as_ref())
            .is_some_and(|p| p.migrate_to_chat_id.is_some());
        match status {
            200..=299 => match &answer {
                Some(a) if a.ok => Verdict::Accept,
                _ => Verdict::Retry(LastFailure::Garbled(format!(
                    "HTTP {status} without a Bot API answer: {}",
                    body_excerpt(&response.body)
                ))),
            },
            _ if migrates => Verdict::Accept,
            429 => Verdict::RateLimited {
                wait: answer
                    .as_ref()
                    .and_then(|a| a.parameters.as_ref())
                    .and_then(|p| p.retry_after)
                    .map(Duration::from_secs)
                    .or_else(|| retry_after(&response.headers)),
                reason: format!("HTTP 429: {}", described()),
            },
            401 | 404 => Verdict::Fatal(SourceError::Unauthorized {
                api,
                status,
                detail: format!("{}; check the bot token", described()),
            }),
            // "Forbidden: bot was blocked by the user": the chat refuses, not the token.
            403 => Verdict::Fatal(SourceError::Api {
                api,
                code: 403,
                message: described(),
            }),
            _ => error_verdict(api, response, described()),
        }
    }
}
