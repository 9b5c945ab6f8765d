//! A generic JSON webhook: `POST <url>` with the alert as JSON
//! (`{"event":"alert","alert":{...}}`), its id in `X-QuantPro-Event-Id` (a
//! receiver drops repeats by it), and, with a secret, the signature
//! `X-QuantPro-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` (the
//! GitHub scheme of EXTERNAL_APIS.md §10.3; the body carries `created_ms`
//! for a receiver that refuses stale deliveries). Any 2xx is delivered;
//! 429 waits `Retry-After`, 5xx and timeouts are retried by the request
//! loop, other statuses fail the delivery.

use super::{Deliver, DeliveryError};
use crate::alerts::engine::Alert;
use hmac::{Hmac, Mac};
use quantpro_sources::governor::{Cost, Governor, Host};
use quantpro_sources::http::{ApiClient, ByStatus, RetryPolicy};
use quantpro_sources::keys::Secret;
use quantpro_sources::SourceError;
use sha2::Sha256;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

pub const SIGNATURE_HEADER: &str = "X-QuantPro-Signature";
pub const EVENT_ID_HEADER: &str = "X-QuantPro-Event-Id";

pub struct WebhookClient {
    api: ApiClient,
    /// May hold a token of the receiver: never logged (errors leave URLs out).
    url: Secret,
    secret: Option<Secret>,
}

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `body`).
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(body);
    let mut hex = String::from("sha256=");
    for byte in mac.finalize().into_bytes() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

impl WebhookClient {
    pub fn new(
        url: &str,
        secret: Option<Secret>,
        governor: &Arc<Governor>,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<WebhookClient, SourceError> {
        Ok(WebhookClient {
            api: ApiClient::new("Webhook", governor.gate(Host::Webhook), retry, timeout)?,
            url: Secret::new(url),
            secret,
        })
    }
}

#[async_trait::async_trait]
impl Deliver for WebhookClient {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&serde_json::json!({ "event": "alert", "alert": alert }))
            .unwrap_or_default();
        let signed = self.secret.as_ref().map(|s| signature(s, &body));
        let build = || {
            let request = self
                .api
                .http()
                .post(self.url.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(EVENT_ID_HEADER, alert.id.as_str())
                .body(body.clone());
            match &signed {
                Some(signature) => request.header(SIGNATURE_HEADER, signature.as_str()),
                None => request,
            }
        };
        let outcome = self.api.send(&build, Cost::weight(1), &ByStatus).await;
        self.api.record(&outcome);
        outcome.map(|_| ()).map_err(DeliveryError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_published_test_vector() {
        // docs.github.com, "Validating webhook deliveries".
        let secret = Secret::new("It's a Secret to Everybody");
        assert_eq!(
            signature(&secret, b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
