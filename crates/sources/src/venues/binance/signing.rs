//! Signing of Binance USDⓈ-M futures (`fapi`) SIGNED requests.
//!
//! SIGNED endpoints (`TRADE`, `USER_DATA`) carry a `signature` parameter: the hex
//! HMAC-SHA256, keyed with the secret key, of the query string **directly
//! followed by** the request body (no `&` between them). Binance verifies the
//! bytes it received, so we sign exactly the string we send, after URL encoding.
//!
//! This module provides:
//! - [`sign`] / [`verify`] / [`split_signature`]: the raw signature, its
//!   constant-time check and how to cut it off a received string (the latter
//!   two are meant for a fake exchange in tests);
//! - [`SignedQueryBuilder`]: ordered parameters + `recvWindow` + `timestamp`,
//!   producing the exact query string with `signature` as the last parameter;
//! - [`ServerTimeOffset`]: the local-to-server clock offset used for `timestamp`;
//! - [`timestamp_accepted`]: the venue's documented acceptance window, for fakes.

use std::sync::atomic::{AtomicI64, Ordering};

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The largest `recvWindow` we ever send. Binance allows more, but our policy is
/// to keep it at most the 5000 ms default so a delayed order is refused rather
/// than executed late.
pub const MAX_RECV_WINDOW_MS: u64 = 5000;

/// How far ahead of the server clock Binance tolerates a `timestamp` (ms).
pub const MAX_TIMESTAMP_AHEAD_MS: i64 = 1000;

/// Names the builder adds itself; a caller supplying them would produce a
/// request with two values for one name, and the venue would pick one we did not
/// intend.
const RESERVED_PARAMS: [&str; 3] = ["timestamp", "recvWindow", "signature"];

/// Errors from building a signed query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// `recvWindow` above our policy limit.
    #[error("recvWindow {recv_window_ms} ms exceeds the maximum of {max_ms} ms")]
    RecvWindowTooLarge { recv_window_ms: u64, max_ms: u64 },
    /// The caller passed a parameter that the builder adds itself.
    #[error("parameter `{name}` is added by the builder and must not be supplied")]
    ReservedParam { name: String },
    /// A parameter with an empty name cannot be sent meaningfully.
    #[error("parameter name must not be empty")]
    EmptyParamName,
}

/// Errors from reading a `/fapi/v1/time` answer.
#[derive(Debug, thiserror::Error)]
pub enum TimeSyncError {
    /// The body was not the expected JSON object.
    #[error("malformed /fapi/v1/time answer: {0}")]
    Json(#[from] serde_json::Error),
    /// The local receive time is earlier than the send time.
    #[error("received_local_ms {received} is before sent_local_ms {sent}")]
    NegativeRoundTrip { sent: i64, received: i64 },
}

/// Builds the HMAC state for `secret`.
fn mac_for(secret: &str) -> HmacSha256 {
    // HMAC accepts keys of any length (long keys are hashed, short ones
    // padded), so `new_from_slice` cannot fail here.
    HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length")
}

/// Feeds the signed message into `mac`: the query string, then the body,
/// with nothing between them (Binance's rule: no `&`).
fn feed_message(mac: &mut HmacSha256, query: &str, body: &str) {
    mac.update(query.as_bytes());
    mac.update(body.as_bytes());
}

/// Returns the lowercase hex HMAC-SHA256 of `query` directly followed by `body`.
///
/// Pass `""` for whichever part the request does not have.
pub fn sign(secret: &str, query: &str, body: &str) -> String {
    let mut mac = mac_for(secret);
    feed_message(&mut mac, query, body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `signature` against `query_without_signature` + `body`, as the venue
/// does: hex compared without regard to case, in constant time (via
/// `hmac::Mac::verify_slice`, which uses `subtle`).
///
/// Returns `false` for anything that is not valid hex of the right length.
pub fn verify(secret: &str, query_without_signature: &str, body: &str, signature: &str) -> bool {
    // `hex::decode` accepts both cases, which gives the case-insensitive
    // comparison without a separate lowercase pass.
    let Ok(expected) = hex::decode(signature) else {
        return false;
    };
    let mut mac = mac_for(secret);
    feed_message(&mut mac, query_without_signature, body);
    mac.verify_slice(&expected).is_ok()
}

/// Splits a received parameter string into the signed part and the
/// `signature` value, when `signature` is the last parameter (as the builder
/// sends it). For a fake exchange: pass the first part to [`verify`].
pub fn split_signature(params: &str) -> Option<(&str, &str)> {
    if let Some(value) = params.strip_prefix("signature=") {
        return Some(("", value));
    }
    let at = params.rfind("&signature=")?;
    Some((&params[..at], &params[at + "&signature=".len()..]))
}

/// Percent-encodes one query component.
///
/// Everything outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`) is
/// encoded, spaces as `%20`. Binance verifies the signature over the bytes it
/// received, so the exact choice matters less than signing what is sent; this
/// conservative set keeps client ids such as `qp:sl/1` unambiguous.
pub fn url_encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Joins already-ordered parameters into `name=value&...`, encoding both sides.
fn encode_params(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                url_encode_component(name),
                url_encode_component(value)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A query string and its signature, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedQuery {
    /// The encoded query string without `signature`, exactly as signed.
    pub query: String,
    /// Lowercase hex HMAC-SHA256 of `query`.
    pub signature: String,
}

impl SignedQuery {
    /// The full query string to send: `query` then `&signature=...` as the last
    /// parameter.
    pub fn to_query_string(&self) -> String {
        format!("{}&signature={}", self.query, self.signature)
    }
}

/// Collects ordered parameters for a SIGNED request and signs them.
///
/// Parameters keep the order they were added in; the builder then appends
/// `recvWindow` and `timestamp` (in that order, as in Binance's own published
/// example) and signs the encoded string with an empty body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignedQueryBuilder {
    params: Vec<(String, String)>,
}

impl SignedQueryBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one parameter (value unencoded; the builder encodes it).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Checks the caller's parameter names before anything is signed.
    fn check_names(&self) -> Result<(), SigningError> {
        for (name, _) in &self.params {
            if name.is_empty() {
                return Err(SigningError::EmptyParamName);
            }
            if RESERVED_PARAMS.contains(&name.as_str()) {
                return Err(SigningError::ReservedParam { name: name.clone() });
            }
        }
        Ok(())
    }

    /// Appends `recvWindow` and `timestamp`, encodes, and signs.
    ///
    /// `timestamp_ms` should come from [`ServerTimeOffset::timestamp`] so that
    /// local clock drift does not cause -1021.
    pub fn build(
        &self,
        secret: &str,
        timestamp_ms: i64,
        recv_window_ms: u64,
    ) -> Result<SignedQuery, SigningError> {
        if recv_window_ms > MAX_RECV_WINDOW_MS {
            return Err(SigningError::RecvWindowTooLarge {
                recv_window_ms,
                max_ms: MAX_RECV_WINDOW_MS,
            });
        }
        self.check_names()?;
        let mut params = self.params.clone();
        params.push(("recvWindow".to_owned(), recv_window_ms.to_string()));
        params.push(("timestamp".to_owned(), timestamp_ms.to_string()));
        let query = encode_params(&params);
        let signature = sign(secret, &query, "");
        Ok(SignedQuery { query, signature })
    }
}

/// Binance's documented acceptance rule for a request `timestamp`:
/// `timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow`.
/// Failing it is error -1021 `INVALID_TIMESTAMP`. Meant for fakes and tests.
pub fn timestamp_accepted(timestamp_ms: i64, server_time_ms: i64, recv_window_ms: u64) -> bool {
    let window = i64::try_from(recv_window_ms).unwrap_or(i64::MAX);
    timestamp_ms < server_time_ms.saturating_add(MAX_TIMESTAMP_AHEAD_MS)
        && server_time_ms.saturating_sub(timestamp_ms) <= window
}

/// The body of `GET /fapi/v1/time`.
#[derive(Debug, serde::Deserialize)]
struct ServerTimeAnswer {
    #[serde(rename = "serverTime")]
    server_time: i64,
}

/// Extracts `serverTime` (ms) from a `/fapi/v1/time` answer such as
/// `{"serverTime":1499827319559}`.
pub fn parse_server_time(body: &str) -> Result<i64, TimeSyncError> {
    let answer: ServerTimeAnswer = serde_json::from_str(body)?;
    Ok(answer.server_time)
}

/// The offset between the exchange clock and ours, in ms (`server - local`).
///
/// Request timestamps are `local_now + offset`, so a local clock that is
/// behind or ahead does not push requests outside `recvWindow`.
///
/// Refresh it from `GET /fapi/v1/time` at start-up and **again after any -1021
/// `INVALID_TIMESTAMP`**: that error means our view of the server clock is
/// stale, and retrying with the same offset would fail the same way.
///
/// The offset is an atomic so one instance can be shared by every task that
/// signs requests, and refreshed by whichever task saw the -1021.
#[derive(Debug, Default)]
pub struct ServerTimeOffset {
    offset_ms: AtomicI64,
}

impl ServerTimeOffset {
    /// Starts with the given offset (0 = trust the local clock).
    pub fn new(offset_ms: i64) -> Self {
        Self {
            offset_ms: AtomicI64::new(offset_ms),
        }
    }

    /// The current offset, `server - local`, in ms.
    pub fn offset_ms(&self) -> i64 {
        // Relaxed: the offset is a lone value with no other data published
        // alongside it.
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Replaces the offset.
    pub fn set_offset_ms(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::Relaxed);
    }

    /// The `timestamp` to send when the local clock reads `local_now_ms`.
    pub fn timestamp(&self, local_now_ms: i64) -> i64 {
        local_now_ms.saturating_add(self.offset_ms())
    }

    /// Updates the offset from a `/fapi/v1/time` answer.
    ///
    /// `sent_local_ms`/`received_local_ms` bracket the request; the server read
    /// its clock somewhere in between, so we compare against the midpoint, which
    /// halves the error a slow round trip would otherwise add. Returns the new
    /// offset.
    pub fn update_from_time_answer(
        &self,
        body: &str,
        sent_local_ms: i64,
        received_local_ms: i64,
    ) -> Result<i64, TimeSyncError> {
        if received_local_ms < sent_local_ms {
            return Err(TimeSyncError::NegativeRoundTrip {
                sent: sent_local_ms,
                received: received_local_ms,
            });
        }
        let server_time = parse_server_time(body)?;
        let midpoint = sent_local_ms + (received_local_ms - sent_local_ms) / 2;
        let offset = server_time.saturating_sub(midpoint);
        self.set_offset_ms(offset);
        Ok(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // §11.1 test vector (Binance general-info, "SIGNED Endpoint Examples for
    // POST /fapi/v1/order - HMAC Keys").
    const SECRET: &str = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";
    const TOTAL_PARAMS: &str = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943";
    const SIGNATURE: &str = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9";

    #[test]
    fn published_vector_as_query() {
        assert_eq!(sign(SECRET, TOTAL_PARAMS, ""), SIGNATURE);
    }

    #[test]
    fn published_vector_as_body() {
        // Query and body are concatenated with no separator, so moving the
        // whole string to the body yields the same signature.
        assert_eq!(sign(SECRET, "", TOTAL_PARAMS), SIGNATURE);
    }

    #[test]
    fn split_between_query_and_body_has_no_ampersand() {
        let (query, body) = TOTAL_PARAMS.split_at(40);
        assert_eq!(sign(SECRET, query, body), SIGNATURE);
        // Inserting '&' between the parts must change the signature.
        assert_ne!(sign(SECRET, &format!("{query}&"), body), SIGNATURE);
    }

    #[test]
    fn builder_reproduces_published_vector() {
        let signed = SignedQueryBuilder::new()
            .param("symbol", "BTCUSDT")
            .param("side", "BUY")
            .param("type", "LIMIT")
            .param("quantity", "1")
            .param("price", "9000")
            .param("timeInForce", "GTC")
            .build(SECRET, 1_591_702_613_943, 5000)
            .unwrap();
        assert_eq!(signed.query, TOTAL_PARAMS);
        assert_eq!(signed.signature, SIGNATURE);
        assert_eq!(
            signed.to_query_string(),
            format!("{TOTAL_PARAMS}&signature={SIGNATURE}")
        );
    }

    #[test]
    fn builder_encodes_values_and_signs_encoded_bytes() {
        let signed = SignedQueryBuilder::new()
            .param("symbol", "BTCUSDT")
            .param("newClientOrderId", "qp:sl/1 x")
            .build(SECRET, 1, 1000)
            .unwrap();
        assert_eq!(
            signed.query,
            "symbol=BTCUSDT&newClientOrderId=qp%3Asl%2F1%20x&recvWindow=1000&timestamp=1"
        );
        assert_eq!(signed.signature, sign(SECRET, &signed.query, ""));
    }

    #[test]
    fn builder_rejects_large_recv_window() {
        let err = SignedQueryBuilder::new()
            .build(SECRET, 1, 5001)
            .unwrap_err();
        assert_eq!(
            err,
            SigningError::RecvWindowTooLarge {
                recv_window_ms: 5001,
                max_ms: 5000
            }
        );
    }

    #[test]
    fn builder_rejects_reserved_and_empty_names() {
        for name in ["timestamp", "recvWindow", "signature"] {
            let err = SignedQueryBuilder::new()
                .param(name, "1")
                .build(SECRET, 1, 5000)
                .unwrap_err();
            assert_eq!(
                err,
                SigningError::ReservedParam {
                    name: name.to_owned()
                }
            );
        }
        let err = SignedQueryBuilder::new()
            .param("", "1")
            .build(SECRET, 1, 5000)
            .unwrap_err();
        assert_eq!(err, SigningError::EmptyParamName);
    }

    #[test]
    fn url_encoding_keeps_unreserved_only() {
        assert_eq!(url_encode_component("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(url_encode_component("a b&c=d+"), "a%20b%26c%3Dd%2B");
        assert_eq!(url_encode_component("é"), "%C3%A9");
    }

    #[test]
    fn verify_accepts_any_case_and_rejects_tampering() {
        assert!(verify(SECRET, TOTAL_PARAMS, "", SIGNATURE));
        assert!(verify(SECRET, TOTAL_PARAMS, "", &SIGNATURE.to_uppercase()));
        assert!(verify(SECRET, "", TOTAL_PARAMS, SIGNATURE));
        assert!(!verify(
            SECRET,
            &TOTAL_PARAMS.replace("9000", "9001"),
            "",
            SIGNATURE
        ));
        assert!(!verify("wrong", TOTAL_PARAMS, "", SIGNATURE));
        assert!(!verify(SECRET, TOTAL_PARAMS, "", "not hex"));
        assert!(!verify(SECRET, TOTAL_PARAMS, "", &SIGNATURE[..62]));
        assert!(!verify(SECRET, TOTAL_PARAMS, "", ""));
    }

    #[test]
    fn split_signature_for_fakes() {
        let full = format!("{TOTAL_PARAMS}&signature={SIGNATURE}");
        let (signed, signature) = split_signature(&full).unwrap();
        assert_eq!((signed, signature), (TOTAL_PARAMS, SIGNATURE));
        assert!(verify(SECRET, signed, "", signature));
        assert_eq!(split_signature("signature=ab"), Some(("", "ab")));
        assert_eq!(split_signature(TOTAL_PARAMS), None);
    }

    #[test]
    fn timestamp_window_matches_docs() {
        let server = 1_000_000;
        assert!(timestamp_accepted(server, server, 5000));
        assert!(timestamp_accepted(server + 999, server, 5000));
        assert!(!timestamp_accepted(server + 1000, server, 5000));
        assert!(timestamp_accepted(server - 5000, server, 5000));
        assert!(!timestamp_accepted(server - 5001, server, 5000));
    }

    #[test]
    fn server_time_offset_from_answer() {
        let offset = ServerTimeOffset::default();
        assert_eq!(offset.timestamp(1_000), 1_000);
        // Request sent at local 1000, answered at 1100; the server read 2050 at
        // the midpoint 1050, so the server is 1000 ms ahead.
        let new = offset
            .update_from_time_answer(r#"{"serverTime":2050}"#, 1_000, 1_100)
            .unwrap();
        assert_eq!(new, 1_000);
        assert_eq!(offset.offset_ms(), 1_000);
        assert_eq!(offset.timestamp(5_000), 6_000);
    }

    #[test]
    fn server_time_offset_negative_and_errors() {
        let offset = ServerTimeOffset::new(7);
        offset
            .update_from_time_answer(
                r#"{"serverTime":1499827319559}"#,
                1499827320559,
                1499827320559,
            )
            .unwrap();
        assert_eq!(offset.offset_ms(), -1000);
        assert!(matches!(
            offset.update_from_time_answer("{}", 0, 0),
            Err(TimeSyncError::Json(_))
        ));
        assert!(matches!(
            offset.update_from_time_answer(r#"{"serverTime":1}"#, 10, 9),
            Err(TimeSyncError::NegativeRoundTrip { .. })
        ));
        // Failed updates leave the offset alone.
        assert_eq!(offset.offset_ms(), -1000);
        assert_eq!(parse_server_time(r#"{"serverTime":42}"#).unwrap(), 42);
    }
}
