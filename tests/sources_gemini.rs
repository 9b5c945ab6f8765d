//! The Gemini client against a local fake of `generateContent`: the key
//! header, a prompt made of the signal's numbers, error mapping, and retries
//! of 429/5xx.

#![cfg(feature = "ssr")]

use quantpro::model::*;
use quantpro::sources::gemini::{signal_prompt, GeminiClient, GeminiConfig, GeminiError};
use quantpro::sources::http::RetryPolicy;
use quantpro::sources::keys::Secret;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

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
    }
}

fn config(server: &MockServer, key: Option<&str>) -> GeminiConfig {
    let mut config = GeminiConfig::new(key.map(Secret::new));
    config.base_url = server.uri();
    config.retry = RetryPolicy {
        max_tries: 3,
        backoff_base: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(5),
    };
    config
}

fn answer(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "candidates":[{"content":{"role":"model","parts":[{"text":text}]},"finishReason":"STOP","index":0}],
        "usageMetadata":{"promptTokenCount":85,"candidatesTokenCount":40,"totalTokenCount":125},
        "modelVersion":"gemini-2.0-flash"}))
}

fn google_error(code: u16, status: &str, message: &str, details: Value) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(
        json!({"error":{"code":code,"message":message,"status":status,"details":details}}),
    )
}

#[tokio::test]
async fn explains_a_signal_from_its_numbers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MODEL_PATH))
        .and(header("x-goog-api-key", "g-key"))
        .respond_with(answer("BTC: RSI breakout long, RR 2.4."))
        .mount(&server)
        .await;
    let client = GeminiClient::new(config(&server, Some("g-key"))).unwrap();
    assert_eq!(
        client.explain_signal(&signal()).await.unwrap(),
        "BTC: RSI breakout long, RR 2.4."
    );

    let requests = server.received_requests().await.unwrap();
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
        !requests[0].url.as_str().contains("g-key"),
        "the key goes in a header, not the URL"
    );
}

#[tokio::test]
async fn no_key_is_a_clear_answer_without_a_request() {
    let server = MockServer::start().await;
    let error = GeminiClient::new(config(&server, None))
        .unwrap()
        .explain_signal(&signal())
        .await
        .unwrap_err();
    assert_eq!(error, GeminiError::NoKey);
    assert!(error.to_string().contains("set GEMINI_API_KEY"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
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
        let server = MockServer::start().await;
        Mock::given(path(MODEL_PATH))
            .respond_with(response)
            .mount(&server)
            .await;
        let error = GeminiClient::new(config(&server, Some("k")))
            .unwrap()
            .generate("hi")
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "'{error}' should contain '{expected}'"
        );
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "{expected}: not retried"
        );
    }
}

#[tokio::test]
async fn quota_exhaustion_waits_the_retry_delay_and_5xx_backs_off() {
    let server = MockServer::start().await;
    let quota = google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded",
        json!([{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1s"}]),
    );
    Mock::given(path(MODEL_PATH))
        .respond_with(quota)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(MODEL_PATH))
        .respond_with(google_error(
            503,
            "UNAVAILABLE",
            "The model is overloaded.",
            json!([]),
        ))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(path(MODEL_PATH))
        .respond_with(answer("ok"))
        .mount(&server)
        .await;
    let client = GeminiClient::new(config(&server, Some("k"))).unwrap();
    let started = Instant::now();
    assert_eq!(client.generate("hi").await.unwrap(), "ok");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retryDelay honoured"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    let server = MockServer::start().await;
    Mock::given(path(MODEL_PATH))
        .respond_with(google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded",
            json!([{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3600s"}]),
        ))
        .mount(&server)
        .await;
    let error = GeminiClient::new(config(&server, Some("k")))
        .unwrap()
        .generate("hi")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        GeminiError::QuotaExhausted {
            retry_after_secs: Some(3600)
        }
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "an hour-long delay is not waited out"
    );

    let server = MockServer::start().await;
    Mock::given(path(MODEL_PATH))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&server)
        .await;
    let error = GeminiClient::new(config(&server, Some("k")))
        .unwrap()
        .generate("hi")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        GeminiError::Unavailable {
            status: 500,
            message: "boom".into()
        }
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn blocked_prompts_and_malformed_answers_are_typed() {
    let server = MockServer::start().await;
    Mock::given(path(MODEL_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"promptFeedback":{"blockReason":"SAFETY"}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(MODEL_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"candidates\":["))
        .mount(&server)
        .await;
    let client = GeminiClient::new(config(&server, Some("k"))).unwrap();
    assert_eq!(
        client.generate("hi").await.unwrap_err(),
        GeminiError::Blocked("SAFETY".into())
    );
    assert!(matches!(
        client.generate("hi").await.unwrap_err(),
        GeminiError::Malformed(_)
    ));
}
