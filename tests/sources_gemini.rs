//! The Gemini client against a local fake of `generateContent`: the key
//! header, a prompt made of the signal's numbers, error mapping, and retries
//! of 429/5xx through the shared loop. The fake runs in the test's runtime
//! on a paused clock.

#![cfg(feature = "ssr")]

#[path = "common/http_fake.rs"]
mod http_fake;

use http_fake::{FakeServer, Reply};
use quantpro_model::*;
use quantpro_sources::gemini::{signal_prompt, GeminiClient, GeminiConfig};
use quantpro_sources::governor::Governor;
use quantpro_sources::http::RetryPolicy;
use quantpro_sources::keys::Secret;
use quantpro_sources::{LastFailure, SourceError};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;

const MODEL_PATH: &str = "/models/gemini-2.0-flash:generateContent";

fn signal() -> Signal {
    Signal {
        strategy_name: Strategy::BreakoutV2,
        strategy: Strategy::BreakoutV2,
        symbol: "BTCUSDT".into(),
        canonical_symbol: "BTC".into(),
        exchange: Exchange::Binance,
        price: 64080.5,
        score: 61.25,
        total_score: 61.25,
        bias: Bias::Long,
        action: Action::Long,
        setup: Some(TradeSetup {
            side: Side::Long,
            entry: 64080.5,
            sl: 63500.0,
            tp: 65500.0,
            rr: 2.445,
        }),
        details: SignalDetails {
            total: 61.25,
            ..Default::default()
        },
        wait_reasons: vec![],
        htf: HtfSummary {
            trend: Trend::Up,
            bias: Bias::Long,
            adx: Some(31.5),
            ema50: None,
            ema200: None,
        },
        ltf: LtfSummary {
            rsi: Some(47.2),
            bias: Bias::Long,
            cardwell_range: CardwellRange::Bullish,
            obv_slope: 0.12,
            atr: Some(150.0),
            ema20: None,
            ema50: None,
            last_candle_time: None,
            stale: false,
        },
        observability: Observability {
            score_composition: ScoreComposition {
                rsi: Some(47.2),
                close_price: 64080.5,
                oi_z_score: 1.73,
                oi_z_score_valid: true,
                obv_slope: 0.12,
                cardwell_range: CardwellRange::Bullish,
                breakout_type: Some(BreakoutType::ResistanceBreak),
                atr: Some(150.0),
                trend_score: 17.3,
                structure_score: 12.0,
                money_flow_score: 11.8,
                timing_score: 25.0,
                filters_passed: FiltersPassed {
                    oi_zscore: true,
                    obv_slope: true,
                },
                oi_available: true,
                funding_available: true,
                ls_ratio_available: true,
                liquidations_available: true,
            },
            rsi_visuals: RsiVisuals::default(),
            calculated_at: 1_721_088_100,
            candle_index: 4999,
        },
        oi_metadata: OiMetadata::default(),
        metadata: None,
        quality: None,
    }
}

fn config(server: &FakeServer, key: Option<&str>) -> GeminiConfig {
    let mut config = GeminiConfig::new(key.map(Secret::new));
    config.base_url = server.uri.clone();
    config.retry = RetryPolicy {
        max_tries: 3,
        backoff_base: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(5),
    };
    config
}

fn client(server: &FakeServer, key: Option<&str>) -> GeminiClient {
    GeminiClient::new(config(server, key), &Governor::documented()).unwrap()
}

fn answer(text: &str) -> Reply {
    Reply::json(
        200,
        json!({
        "candidates":[{"content":{"role":"model","parts":[{"text":text}]},"finishReason":"STOP","index":0}],
        "usageMetadata":{"promptTokenCount":85,"candidatesTokenCount":40,"totalTokenCount":125},
        "modelVersion":"gemini-2.0-flash"}),
    )
}

fn google_error(code: u16, status: &str, message: &str, details: Value) -> Reply {
    Reply::json(
        code,
        json!({"error":{"code":code,"message":message,"status":status,"details":details}}),
    )
}

/// A fake `generateContent` that answers `reply` to a POST on the model's
/// path carrying the key header `key`, and 404 to anything else.
async fn gemini(key: &'static str, reply: Reply) -> FakeServer {
    FakeServer::start(move |request| {
        let on_model = request.method == "POST" && request.path == MODEL_PATH;
        if on_model && request.header("x-goog-api-key") == Some(key) {
            reply.clone()
        } else {
            Reply::status(404)
        }
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn explains_a_signal_from_its_numbers() {
    let server = gemini("g-key", answer("BTC: RSI breakout long, RR 2.4.")).await;
    let client = client(&server, Some("g-key"));
    assert_eq!(
        client.explain_signal(&signal()).await.unwrap(),
        "BTC: RSI breakout long, RR 2.4."
    );

    let requests = server.requests();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    let prompt = body["contents"][0]["parts"][0]["text"].as_str().unwrap();
    assert_eq!(prompt, signal_prompt(&signal()));
    for needle in [
        "BTCUSDT",
        "BINANCE",
        "BreakoutV2",
        "64080.5",
        "63500",
        "65500",
        "2.445",
        "61.2",
        "RSI 47.2",
        "BULLISH",
        "1.73",
        "RSI_RESISTANCE_BREAK",
        "ADX 31.5",
    ] {
        assert!(prompt.contains(needle), "prompt lacks {needle}: {prompt}");
    }
    assert!(body["systemInstruction"]["parts"][0]["text"]
        .as_str()
        .unwrap()
        .contains("analyst"));
    assert!(
        !requests[0].path.contains("g-key")
            && !requests[0].query.values().any(|v| v.contains("g-key")),
        "the key goes in a header, not the URL"
    );
}

#[tokio::test(start_paused = true)]
async fn no_key_is_a_clear_answer_without_a_request() {
    let server = gemini("k", answer("unused")).await;
    let error = client(&server, None)
        .explain_signal(&signal())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error.source_error(),
            SourceError::NoKey {
                var: "GEMINI_API_KEY",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("set GEMINI_API_KEY"));
    assert_eq!(
        error.to_string(),
        "AI commentary is off: set GEMINI_API_KEY in the environment or in .env"
    );
    assert!(server.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn client_errors_are_not_retried_and_read_clearly() {
    let cases = [
        (
            google_error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                json!([{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]),
            ),
            "rejected the API key",
        ),
        (
            google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload", json!([])),
            "refused the request: Invalid JSON payload",
        ),
        (
            google_error(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers",
                json!([]),
            ),
            "denied access",
        ),
        (
            google_error(404, "NOT_FOUND", "models/gemini-9 is not found", json!([])),
            "model 'gemini-2.0-flash' does not exist",
        ),
    ];
    for (response, expected) in cases {
        let server = gemini("k", response).await;
        let error = client(&server, Some("k")).generate("hi").await.unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "'{error}' should contain '{expected}'"
        );
        assert_eq!(server.requests().len(), 1, "{expected}: not retried");
    }
}

#[tokio::test(start_paused = true)]
async fn quota_exhaustion_waits_the_retry_delay_and_5xx_backs_off() {
    let server = gemini("k", answer("ok")).await;
    server.script(
        MODEL_PATH,
        1,
        google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded",
            json!([{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1s"}]),
        ),
    );
    server.script(
        MODEL_PATH,
        1,
        google_error(503, "UNAVAILABLE", "The model is overloaded.", json!([])),
    );
    let retried = client(&server, Some("k"));
    let started = Instant::now();
    assert_eq!(retried.generate("hi").await.unwrap(), "ok");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retryDelay honoured"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[1].at - requests[0].at >= Duration::from_secs(1),
        "no request inside the retryDelay"
    );

    let server = gemini(
        "k",
        google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded",
            json!([{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3600s"}]),
        ),
    )
    .await;
    let error = client(&server, Some("k")).generate("hi").await.unwrap_err();
    assert!(
        matches!(
            error.source_error(),
            SourceError::RateLimited {
                wait_secs: 3600,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "Gemini quota exhausted (429 RESOURCE_EXHAUSTED); try again in 3600 s"
    );
    assert_eq!(
        server.requests().len(),
        1,
        "an hour-long delay is not waited out"
    );

    let server = FakeServer::start(|_| Reply::text(500, "boom")).await;
    let error = client(&server, Some("k")).generate("hi").await.unwrap_err();
    assert!(
        matches!(
            error.source_error(),
            SourceError::Exhausted {
                last: LastFailure::Status { status: 500, body },
                ..
            } if body == "boom"
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "Gemini is unavailable (HTTP 500): boom; try again shortly"
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn blocked_prompts_and_malformed_answers_are_typed() {
    let server = gemini("k", Reply::text(200, "{\"candidates\":[")).await;
    server.script(
        MODEL_PATH,
        1,
        Reply::json(200, json!({"promptFeedback":{"blockReason":"SAFETY"}})),
    );
    let client = client(&server, Some("k"));
    let blocked = client.generate("hi").await.unwrap_err();
    assert!(
        matches!(
            blocked.source_error(),
            SourceError::Declined { reason, .. } if reason == "SAFETY"
        ),
        "{blocked:?}"
    );
    assert_eq!(blocked.to_string(), "Gemini blocked the prompt (SAFETY)");
    let malformed = client.generate("hi").await.unwrap_err();
    assert!(
        matches!(malformed.source_error(), SourceError::Malformed { .. }),
        "{malformed:?}"
    );
}
