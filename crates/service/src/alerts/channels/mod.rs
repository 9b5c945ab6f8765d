//! The outside channels an alert goes to: a generic JSON webhook, the
//! Telegram Bot API and a Discord webhook. Each is a protocol client over
//! the one outbound request loop (`sources::http::ApiClient`: the
//! governor's gate of its host, retries with backoff, `Retry-After`), with
//! its base URL from the settings or the environment. A [`Channel`] wraps a
//! client with its visible state (ready, failing and why, disabled and
//! why) and its counters; the `browser` channel is the alerter's own (the
//! dashboard's event stream), not a client.

mod discord;
mod telegram;
mod webhook;

pub use discord::{discord_api_url, DiscordClient, DiscordRules};
pub use telegram::{TelegramClient, TelegramRules};
pub use webhook::{signature, WebhookClient, SIGNATURE_HEADER};

use super::engine::Alert;
use super::rules::{AlertSettings, ChannelSettings};
use crate::settings::Environment;
use quantpro_sources::governor::Governor;
use quantpro_sources::http::RetryPolicy;
use quantpro_sources::keys::Secret;
use quantpro_sources::SourceError;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The channel cannot send at all (a variable is unset, the webhook
    /// was deleted); nothing is attempted until the settings change.
    #[error("the channel is disabled: {0}")]
    Disabled(String),
    #[error("no answer within {0} s; given up")]
    TimedOut(u64),
}

/// A protocol client of one channel kind.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync {
    /// `webhook`, `telegram` or `discord`.
    fn kind(&self) -> &'static str;
    /// Sends `alert` once (the request loop retries inside).
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError>;
}

/// Whether a channel sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelState {
    Ready,
    /// The last delivery failed (the next one is attempted all the same).
    Failing,
    /// Nothing is sent until the settings change.
    Disabled,
}

/// What the alert log shows of a channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelStatus {
    pub name: String,
    pub kind: &'static str,
    pub state: ChannelState,
    /// Why it is failing or disabled.
    pub reason: Option<String>,
    pub delivered: u64,
    pub failed: u64,
}

/// One configured channel: its client and its state.
pub struct Channel {
    name: String,
    client: Result<Box<dyn Deliver>, (&'static str, String)>,
    status: Mutex<ChannelStatus>,
}

impl Channel {
    pub fn new(name: &str, client: Box<dyn Deliver>) -> Channel {
        Channel {
            status: Mutex::new(ChannelStatus {
                name: name.to_string(),
                kind: client.kind(),
                state: ChannelState::Ready,
                reason: None,
                delivered: 0,
                failed: 0,
            }),
            name: name.to_string(),
            client: Ok(client),
        }
    }

    /// A channel that cannot send (`reason`), shown as disabled.
    pub fn disabled(name: &str, kind: &'static str, reason: String) -> Channel {
        Channel {
            status: Mutex::new(ChannelStatus {
                name: name.to_string(),
                kind,
                state: ChannelState::Disabled,
                reason: Some(reason.clone()),
                delivered: 0,
                failed: 0,
            }),
            name: name.to_string(),
            client: Err((kind, reason)),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn status(&self) -> ChannelStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends `alert`, giving up after `deadline`, and updates the state.
    pub async fn send(&self, alert: &Alert, deadline: Duration) -> Result<(), DeliveryError> {
        let outcome = match &self.client {
            Err((_, reason)) => Err(DeliveryError::Disabled(reason.clone())),
            Ok(_) if self.status().state == ChannelState::Disabled => Err(DeliveryError::Disabled(
                self.status().reason.unwrap_or_default(),
            )),
            Ok(client) => tokio::time::timeout(deadline, client.deliver(alert))
                .await
                .unwrap_or(Err(DeliveryError::TimedOut(deadline.as_secs()))),
        };
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        match &outcome {
            Ok(()) => {
                status.delivered += 1;
                status.state = ChannelState::Ready;
                status.reason = None;
            }
            Err(error) => {
                status.failed += 1;
                status.reason = Some(error.to_string());
                if status.state != ChannelState::Disabled {
                    status.state = if disables(error) {
                        ChannelState::Disabled
                    } else {
                        ChannelState::Failing
                    };
                }
            }
        }
        outcome
    }
}

/// Errors after which sending again cannot help (a deleted Discord
/// webhook: retrying it gets the IP restricted).
fn disables(error: &DeliveryError) -> bool {
    matches!(
        error,
        DeliveryError::Disabled(_)
            | DeliveryError::Source(SourceError::Api {
                code: discord::UNKNOWN_WEBHOOK,
                ..
            })
    )
}

/// How a channel client retries, from `[alerts]`.
pub fn retry_policy(settings: &AlertSettings) -> RetryPolicy {
    RetryPolicy {
        max_tries: settings.max_tries,
        backoff_base: Duration::from_millis(settings.backoff_ms),
        // Telegram asks for tens of seconds at most; a longer wait fails
        // the delivery instead of holding it.
        max_retry_after: Duration::from_secs(120),
    }
}

/// The longest a delivery may take, retries included.
pub fn delivery_deadline(settings: &AlertSettings) -> Duration {
    let policy = retry_policy(settings);
    let attempts = Duration::from_secs(settings.timeout_secs) * policy.max_tries;
    // Backoffs come between attempts: base, 2 base, 4 base ...
    let backoffs = policy.backoff_base * ((1u32 << (policy.max_tries.clamp(1, 16) - 1)) - 1);
    attempts + backoffs + policy.max_retry_after
}

/// The channels of `settings`, their secrets from `env`; a channel whose
/// variable is unset is built disabled (the log says which variable).
pub fn build_channels(
    settings: &AlertSettings,
    env: &Environment,
    governor: &Arc<Governor>,
) -> Vec<Arc<Channel>> {
    let retry = retry_policy(settings);
    let timeout = Duration::from_secs(settings.timeout_secs);
    settings
        .channels
        .iter()
        .map(|(name, channel)| {
            let secret = |var: &str| {
                env.get(var)
                    .map(Secret::new)
                    .ok_or_else(|| format!("set {var} in the environment or in .env"))
            };
            let built: Result<Box<dyn Deliver>, String> = match channel {
                ChannelSettings::Webhook {
                    url,
                    url_env,
                    secret_env,
                } => {
                    // Validation leaves exactly one of the two.
                    let url = match (url, url_env) {
                        (Some(url), _) => Ok(Secret::new(url.clone())),
                        (None, Some(var)) => secret(var),
                        (None, None) => Err("no url".to_string()),
                    };
                    let signing = secret_env.as_deref().map(secret).transpose();
                    url.and_then(|url| Ok((url, signing?)))
                        .and_then(|(url, secret)| {
                            WebhookClient::new(url.expose(), secret, governor, retry, timeout)
                                .map(|c| Box::new(c) as Box<dyn Deliver>)
                                .map_err(|e| e.to_string())
                        })
                }
                ChannelSettings::Telegram {
                    token_env,
                    chat_id_env,
                    base_url,
                } => secret(token_env).and_then(|token| {
                    let chat = env.get(chat_id_env).ok_or_else(|| {
                        format!("set {chat_id_env} in the environment or in .env")
                    })?;
                    TelegramClient::new(base_url, token, chat, governor, retry, timeout)
                        .map(|c| Box::new(c) as Box<dyn Deliver>)
                        .map_err(|e| e.to_string())
                }),
                ChannelSettings::Discord { url_env } => secret(url_env).and_then(|url| {
                    DiscordClient::new(url, governor, retry, timeout)
                        .map(|c| Box::new(c) as Box<dyn Deliver>)
                        .map_err(|e| e.to_string())
                }),
            };
            let kind = match channel {
                ChannelSettings::Webhook { .. } => "webhook",
                ChannelSettings::Telegram { .. } => "telegram",
                ChannelSettings::Discord { .. } => "discord",
            };
            Arc::new(match built {
                Ok(client) => Channel::new(name, client),
                Err(reason) => {
                    tracing::warn!("[ALERTS] channel {name} ({kind}) is disabled: {reason}");
                    Channel::disabled(name, kind, reason)
                }
            })
        })
        .collect()
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
pub(crate) fn at_most_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((cut, _)) if text.chars().count() > max => format!("{}…", &text[..cut]),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_on_a_character() {
        assert_eq!(at_most_chars("short", 10), "short");
        assert_eq!(at_most_chars("ééééé", 5), "ééééé");
        let cut = at_most_chars("éééééé", 5);
        assert_eq!(cut, "éééé…");
        assert_eq!(cut.chars().count(), 5);
    }

    #[test]
    fn the_deadline_covers_every_attempt_and_backoff() {
        let settings = AlertSettings {
            max_tries: 3,
            backoff_ms: 1000,
            timeout_secs: 10,
            ..AlertSettings::default()
        };
        // 3 x 10 s + (1 + 2) s + 120 s
        assert_eq!(delivery_deadline(&settings), Duration::from_secs(153));
    }
}
