//! Access control seen from outside: the real app behind its access gate,
//! called as a viewer (no credentials), as the owner (bearer token or a
//! signed-in session) and from other sites. The peer is always 127.0.0.1:
//! with a password configured, loopback requests are viewers like any
//! other, which is how these tests reach the viewer's side; single-user
//! mode (no password) has its own test. Expiry and limits move tokio's
//! clock (`pause`, `advance`, `resume` between requests), never wait.

#[path = "common/served_app.rs"]
mod served_app;

use quantpro::server::access_table;
use quantpro::server::auth::{hash_password, RouteKind};
use quantpro_model::{Exchange, ScanState};
use reqwest::{header, Method, StatusCode};
use serde_json::Value;
use served_app::{serve_app, ServedApp};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery staple";
const TOKEN: &str = "owner-token-for-the-access-tests-0123456789";
const GEMINI_KEY: &str = "gemini-key-that-must-never-leak-4242";

fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).unwrap())
}

/// `quantpro.toml` with the owner's password hash and `extra` lines of `[auth]`.
fn locked_config(extra: &str) -> String {
    format!("[auth]\npassword_hash = \"{}\"\n{extra}", password_hash())
}

/// The owner token and a Gemini key (its API unreachable: nothing leaves
/// the machine).
const ENV: [(&str, &str); 3] = [
    ("QUANTPRO_OWNER_TOKEN", TOKEN),
    ("GEMINI_API_KEY", GEMINI_KEY),
    ("QUANTPRO_SOURCES__GEMINI", "http://127.0.0.1:9/v1beta"),
];

async fn locked_server(extra: &str) -> ServedApp {
    serve_app(&[Exchange::Binance], 3, Some(&locked_config(extra)), &ENV).await
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A request body and its content type.
#[derive(Clone, Copy)]
enum Body {
    None,
    Json(&'static str),
    Form(&'static str),
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Viewer,
    Owner,
    /// The owner, rate-limited.
    Costly,
}

/// Every route of the router: (method, path as the router lists it, a
/// request to send, its body, who may call it). The test checks that this
/// list and the router's access table name the same routes, so a new
/// route fails here until its outcome is written down.
const EXPECTED: &[(&str, &str, &str, Body, Who)] = &[
    (
        "GET",
        "/api/results",
        "/api/results",
        Body::None,
        Who::Viewer,
    ),
    (
        "POST",
        "/api/scan/start",
        "/api/scan/start",
        Body::Json(r#"{"limit": 1}"#),
        Who::Costly,
    ),
    (
        "GET",
        "/api/scan/status",
        "/api/scan/status",
        Body::None,
        Who::Viewer,
    ),
    (
        "GET",
        "/api/scan/events",
        "/api/scan/events",
        Body::None,
        Who::Viewer,
    ),
    ("GET", "/api/config", "/api/config", Body::None, Who::Viewer),
    (
        "PUT",
        "/api/config",
        "/api/config",
        Body::Json("{}"),
        Who::Owner,
    ),
    (
        "GET",
        "/api/session",
        "/api/session",
        Body::None,
        Who::Viewer,
    ),
    (
        "GET",
        "/api/track-record",
        "/api/track-record",
        Body::None,
        Who::Viewer,
    ),
    ("GET", "/api/alerts", "/api/alerts", Body::None, Who::Owner),
    ("GET", "/alerts", "/alerts", Body::None, Who::Owner),
    (
        "GET",
        "/api/execution/ticket",
        "/api/execution/ticket?exchange=BINANCE&symbol=NOPEUSDT&strategy=Legacy",
        Body::None,
        Who::Owner,
    ),
    (
        "POST",
        "/api/execution/open",
        "/api/execution/open",
        Body::Json(r#"{"exchange":"BINANCE","symbol":"NOPEUSDT","strategy":"Legacy","candle":0}"#),
        Who::Owner,
    ),
    (
        "POST",
        "/api/execution/close",
        "/api/execution/close",
        Body::Json(r#"{"exchange":"BINANCE","symbol":"NOPEUSDT"}"#),
        Who::Owner,
    ),
    (
        "POST",
        "/api/execution/flatten",
        "/api/execution/flatten",
        Body::None,
        Who::Owner,
    ),
    (
        "GET",
        "/api/execution/positions",
        "/api/execution/positions",
        Body::None,
        Who::Owner,
    ),
    (
        "GET",
        "/trade/{exchange}/{symbol}/{strategy}",
        "/trade/BINANCE/NOPEUSDT/Legacy",
        Body::None,
        Who::Owner,
    ),
    ("GET", "/positions", "/positions", Body::None, Who::Owner),
    ("GET", "/healthz", "/healthz", Body::None, Who::Viewer),
    ("GET", "/login", "/login", Body::None, Who::Viewer),
    ("POST", "/login", "/login", Body::Form(""), Who::Viewer),
    ("POST", "/logout", "/logout", Body::Form(""), Who::Viewer),
    ("ANY", "/api/{*rest}", "/api/nope", Body::None, Who::Viewer),
    ("GET", "/", "/", Body::None, Who::Viewer),
    (
        "GET",
        "/signal/{exchange}/{symbol}/{strategy}",
        "/signal/BINANCE/NOPEUSDT/Legacy",
        Body::None,
        Who::Viewer,
    ),
    (
        "POST",
        "/api/table_feed",
        "/api/table_feed",
        Body::Form(""),
        Who::Viewer,
    ),
    (
        "POST",
        "/api/signal_panels",
        "/api/signal_panels",
        Body::Form("exchange=BINANCE&symbol=NOPEUSDT&strategy=Legacy"),
        Who::Viewer,
    ),
    (
        "POST",
        "/api/scanner_config",
        "/api/scanner_config",
        Body::Form(""),
        Who::Viewer,
    ),
    (
        "POST",
        "/api/track_record",
        "/api/track_record",
        Body::Form(""),
        Who::Viewer,
    ),
    (
        "GET",
        "/track-record",
        "/track-record",
        Body::None,
        Who::Viewer,
    ),
    (
        "POST",
        "/api/start_scan",
        "/api/start_scan",
        Body::Json(r#"{"request": {"limit": 1}}"#),
        Who::Costly,
    ),
    (
        "POST",
        "/api/analyze_signal",
        "/api/analyze_signal",
        Body::Form("exchange=BINANCE&symbol=NOPEUSDT&strategy=Legacy"),
        Who::Costly,
    ),
    (
        "POST",
        "/api/save_scanner_config",
        "/api/save_scanner_config",
        Body::Json("{}"),
        Who::Owner,
    ),
    (
        "POST",
        "/api/save_alert_settings",
        "/api/save_alert_settings",
        Body::Form("toml=%5Balerts%5D%0Amax_per_hour%20%3D%200%0A"),
        Who::Owner,
    ),
];

fn request(
    client: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    body: Body,
) -> reqwest::RequestBuilder {
    let method = if method == "ANY" { "GET" } else { method };
    let builder = client.request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{base}{path}"),
    );
    match body {
        Body::None => builder,
        Body::Json(text) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(text),
        Body::Form(text) => builder
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(text),
    }
}

async fn json(response: reqwest::Response) -> Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn every_route_and_server_function_answers_viewers_and_the_owner_as_listed() {
    let table = access_table();
    let listed: BTreeSet<(String, String)> = table
        .routes()
        .iter()
        .map(|r| {
            let method = r
                .method
                .as_ref()
                .map_or("ANY".to_string(), |m| m.to_string());
            (method, r.path.clone())
        })
        .collect();
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p, ..)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        listed, expected,
        "the router's routes (left) and this test's list (right) differ: add the new route's outcome to EXPECTED"
    );
    for kind in [RouteKind::Route, RouteKind::Page, RouteKind::ServerFn] {
        assert!(
            table.routes().iter().any(|r| r.kind == kind),
            "{kind:?} routes are enumerated"
        );
    }

    let server = locked_server("").await;
    // Scans started here stay running, so none of them touches the others.
    let _hold = server.state.scans.hold();
    let client = client();
    for &(method, pattern, path, body, who) in EXPECTED {
        let viewer = request(&client, &server.base, method, path, body)
            .send()
            .await
            .unwrap();
        let status = viewer.status();
        if who == Who::Viewer {
            assert!(
                !matches!(status.as_u16(), 401 | 403),
                "{method} {pattern}: a viewer may call it, got {status}"
            );
        } else {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {pattern} as a viewer"
            );
            assert_eq!(
                viewer.headers()[header::WWW_AUTHENTICATE],
                "Bearer realm=\"quantpro\"",
                "{method} {pattern}"
            );
            let body = json(viewer).await;
            assert!(
                body["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("this needs the owner: sign in at /login"),
                "{method} {pattern}: {body}"
            );
            assert_eq!(body["sign_in"], "/login");
        }

        let owner = request(&client, &server.base, method, path, body)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = owner.status();
        assert!(
            !matches!(status.as_u16(), 401 | 403 | 429),
            "{method} {pattern}: the owner may call it, got {status}: {}",
            owner.text().await.unwrap_or_default()
        );
    }
    assert_eq!(
        server.state.scans.status().state,
        ScanState::Running,
        "the owner's scan start went through"
    );

    // A wrong token is refused outright, even where viewers may read.
    let wrong = client
        .get(format!("{}/api/results", server.base))
        .bearer_auth("owner-token-for-the-access-tests-WRONG")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        json(wrong).await["error"],
        "the bearer token is not the owner token (QUANTPRO_OWNER_TOKEN)"
    );
}

/// The `Set-Cookie` values of a response.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// Signs in (from `forwarded_for` when given) and returns the response.
async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    password: &str,
    extra_headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut builder = client
        .post(format!("{base}/login"))
        .form(&[("password", password), ("next", "/?ex=BINANCE")]);
    for (name, value) in extra_headers {
        builder = builder.header(*name, *value);
    }
    builder.send().await.unwrap()
}

/// `quantpro_session=...` of a sign-in's `Set-Cookie`, ready for a `Cookie` header.
fn session_cookie(response: &reqwest::Response) -> String {
    let cookie = set_cookies(response)
        .into_iter()
        .find(|c| c.starts_with("quantpro_session="))
        .expect("a session cookie");
    cookie.split(';').next().unwrap().to_string()
}

/// The CSRF token a signed-in page carries in its head.
fn csrf_token_of(html: &str) -> String {
    let meta = html
        .find("name=\"csrf-token\"")
        .unwrap_or_else(|| panic!("no csrf-token meta in the page"));
    let rest = &html[meta..];
    let start = rest.find("content=\"").unwrap() + "content=\"".len();
    rest[start..start + rest[start..].find('"').unwrap()].to_string()
}

async fn role(client: &reqwest::Client, base: &str, cookie: Option<&str>) -> String {
    let mut builder = client.get(format!("{base}/api/session"));
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    json(builder.send().await.unwrap()).await["role"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_configuration_is_for_everyone_to_read_its_alert_rules_for_the_owner() {
    let server = locked_server("").await;
    let client = client();
    let config = |token: Option<&'static str>| {
        let mut call = request(
            &client,
            &server.base,
            "POST",
            "/api/scanner_config",
            Body::Form(""),
        );
        if let Some(token) = token {
            call = call.bearer_auth(token);
        }
        async move { json(call.send().await.unwrap()).await }
    };
    let viewer = config(None).await;
    assert!(viewer["texts"].is_array(), "{viewer}");
    assert!(
        viewer["alerts"].is_null(),
        "a viewer gets no alert rules: {viewer}"
    );
    let owner = config(Some(TOKEN)).await;
    assert!(owner["texts"].is_array(), "{owner}");
    assert!(
        owner["alerts"]["toml"].is_string(),
        "the owner gets them: {owner}"
    );
}

#[tokio::test]
async fn a_signed_in_owner_acts_with_the_csrf_token_of_the_page_and_signs_out() {
    let server = locked_server("").await;
    let base = server.base.as_str();
    let client = client();

    let form = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let html = form.text().await.unwrap();
    assert!(
        html.contains("<form") && html.contains("name=\"password\""),
        "{html}"
    );

    let wrong = sign_in(&client, base, "not the password", &[]).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookies(&wrong).is_empty());
    assert!(wrong.text().await.unwrap().contains("Wrong password."));

    let signed_in = sign_in(&client, base, PASSWORD, &[]).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_in.headers()[header::LOCATION], "/?ex=BINANCE");
    let set_cookie = set_cookies(&signed_in).pop().unwrap();
    let cookie = session_cookie(&signed_in);
    assert_eq!(
        set_cookie,
        format!("{cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"),
        "HttpOnly, SameSite=Strict, 12 h, not Secure without TLS"
    );
    assert_eq!(role(&client, base, Some(&cookie)).await, "signed-in");
    assert_eq!(role(&client, base, None).await, "viewer");

    // The signed-in page: owner role, its CSRF token, not cacheable.
    let page = client
        .get(format!("{base}/"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()[header::CACHE_CONTROL], "private, no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<meta name="quantpro-role" content="signed-in""#),
        "{html}"
    );
    assert!(html.contains("data-testid=\"sign-out\""));
    let token = csrf_token_of(&html);
    assert_eq!(token.len(), 64);
    let viewer_page = client
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(viewer_page.contains(r#"<meta name="quantpro-role" content="viewer""#));
    assert!(!viewer_page.contains("csrf-token"));
    assert!(viewer_page.contains("data-testid=\"sign-in\""));

    let put_config = |extra: &[(&'static str, String)]| {
        let mut builder = client
            .put(format!("{base}/api/config"))
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(r#"{"legacy": {"min_score": 65}}"#);
        for (name, value) in extra {
            builder = builder.header(*name, value);
        }
        builder.send()
    };
    let same_site = ("sec-fetch-site", "same-origin".to_string());
    let missing = put_config(std::slice::from_ref(&same_site)).await.unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert!(json(missing).await["error"]
        .as_str()
        .unwrap()
        .starts_with("missing or wrong CSRF token"));
    let forged = put_config(&[same_site.clone(), ("x-csrf-token", "0".repeat(64))])
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let cross_site = put_config(&[
        ("sec-fetch-site", "cross-site".into()),
        ("x-csrf-token", token.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert!(json(cross_site).await["error"]
        .as_str()
        .unwrap()
        .starts_with("cross-site request refused"));
    let foreign_origin = put_config(&[
        ("origin", "http://evil.example".into()),
        ("x-csrf-token", token.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(foreign_origin.status(), StatusCode::FORBIDDEN);
    let saved = put_config(&[same_site.clone(), ("x-csrf-token", token.clone())])
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
    assert_eq!(json(saved).await["config"]["legacy"]["min_score"], 65.0);
    let own_origin = put_config(&[
        ("origin", base.to_string()),
        ("x-csrf-token", token.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(
        own_origin.status(),
        StatusCode::OK,
        "Origin of this server, no Sec-Fetch-Site"
    );

    // The hydrated page's server-function call, as OwnerClient sends it.
    let saved_fn = client
        .post(format!("{base}/api/save_scanner_config"))
        .header(header::COOKIE, &cookie)
        .header("sec-fetch-site", "same-origin")
        .header("x-csrf-token", &token)
        .json(&serde_json::json!({ "texts": quantpro_model::ScannerConfig::default().texts() }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        saved_fn.status(),
        StatusCode::OK,
        "{}",
        saved_fn.text().await.unwrap()
    );

    // Signing out ends the session; the old cookie is then cleared.
    let out = client
        .post(format!("{base}/logout"))
        .header(header::COOKIE, &cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()[header::LOCATION], "/");
    assert_eq!(
        set_cookies(&out),
        ["quantpro_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"]
    );
    let after = put_config(&[same_site, ("x-csrf-token", token)])
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        set_cookies(&after),
        ["quantpro_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"]
    );
    assert_eq!(role(&client, base, Some(&cookie)).await, "viewer");
}

/// The `Retry-After` of a 429, in seconds.
fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Moves tokio's clock by `by` between requests (nothing in flight, so no
/// timer fires early) and lets it run on from there.
async fn jump_clock(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

#[tokio::test]
async fn a_session_ends_when_its_time_is_up() {
    let server = locked_server("session_hours = 2\n").await;
    let client = client();
    let signed_in = sign_in(&client, &server.base, PASSWORD, &[]).await;
    assert!(set_cookies(&signed_in)[0].contains("Max-Age=7200"));
    let cookie = session_cookie(&signed_in);
    jump_clock(Duration::from_secs(2 * 3600 - 60)).await;
    assert_eq!(
        role(&client, &server.base, Some(&cookie)).await,
        "signed-in",
        "a minute left"
    );
    jump_clock(Duration::from_secs(61)).await;
    let expired = client
        .get(format!("{}/api/session", server.base))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        set_cookies(&expired),
        ["quantpro_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"],
        "the expired cookie is cleared"
    );
    assert_eq!(json(expired).await["role"], "viewer");
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_client_behind_a_trusted_proxy() {
    let server = locked_server("trust_proxy = true\n").await;
    let client = client();
    let from = |ip: &'static str| [("x-forwarded-for", ip), ("x-forwarded-proto", "https")];
    for attempt in 0..5 {
        let wrong = sign_in(&client, &server.base, "guess", &from("203.0.113.10")).await;
        assert_eq!(
            wrong.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let limited = sign_in(&client, &server.base, PASSWORD, &from("203.0.113.10")).await;
    assert_eq!(
        limited.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    // 60 s for the next token, less what the real time of the attempts earned.
    let wait = retry_after(&limited);
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(set_cookies(&limited).is_empty());
    assert!(limited
        .text()
        .await
        .unwrap()
        .contains(&format!("try again in {wait} s")));

    // Another client is not affected, and over TLS its cookie is Secure.
    let other = sign_in(&client, &server.base, PASSWORD, &from("198.51.100.20")).await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookies(&other)[0].ends_with("; Secure"),
        "{:?}",
        set_cookies(&other)
    );

    jump_clock(Duration::from_secs(60)).await;
    let later = sign_in(&client, &server.base, PASSWORD, &from("203.0.113.10")).await;
    assert_eq!(
        later.status(),
        StatusCode::SEE_OTHER,
        "one failure forgiven per minute"
    );
}

#[tokio::test]
async fn costly_actions_are_rate_limited_for_the_owner_too() {
    let server = locked_server("").await;
    let client = client();
    let start = || {
        client
            .post(format!("{}/api/scan/start", server.base))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "limit": 1 }))
            .send()
    };
    let finished = |id: u64| {
        let mut updates = server.state.scans.subscribe();
        async move {
            updates
                .wait_for(|s| s.id == id && s.state == ScanState::Finished)
                .await
                .map(|_| ())
                .unwrap();
        }
    };
    // Requests that start nothing (a conflict with the running scan) do
    // not count.
    let hold = server.state.scans.hold();
    assert_eq!(start().await.unwrap().status(), StatusCode::ACCEPTED);
    for _ in 0..20 {
        assert_eq!(start().await.unwrap().status(), StatusCode::CONFLICT);
    }
    drop(hold);
    finished(1).await;
    // Ten started scans in a row (plus one per 6 s of the real time they
    // take), then a 429.
    let began = tokio::time::Instant::now();
    let mut accepted = 1;
    let limited = loop {
        let response = start().await.unwrap();
        if response.status() != StatusCode::ACCEPTED {
            break response;
        }
        accepted += 1;
        finished(accepted).await;
        assert!(accepted <= 30, "no limit after {accepted} scans");
    };
    let earned = began.elapsed().as_secs() / 6;
    assert!(
        (10..=10 + earned + 1).contains(&accepted),
        "{accepted} scans accepted, {earned} tokens earned meanwhile"
    );
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&limited);
    assert!((1..=6).contains(&wait), "{wait}");
    let body = json(limited).await;
    assert_eq!(
        body["error"],
        format!("too many scan starts from this client: try again in {wait} s")
    );
    assert_eq!(body["retry_after"], wait);
    // The dashboard's Scan button shares the limit.
    let from_page = client
        .post(format!("{}/api/start_scan", server.base))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "request": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(from_page.status(), StatusCode::TOO_MANY_REQUESTS);
    jump_clock(Duration::from_secs(6)).await;
    assert_eq!(start().await.unwrap().status(), StatusCode::ACCEPTED);

    let analyze = || {
        client
            .post(format!("{}/api/analyze_signal", server.base))
            .bearer_auth(TOKEN)
            .form(&[
                ("exchange", "BINANCE"),
                ("symbol", "NOPEUSDT"),
                ("strategy", "Legacy"),
            ])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(analyze().await.unwrap().status(), StatusCode::OK);
    }
    let limited = analyze().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=60).contains(&retry_after(&limited)));
    jump_clock(Duration::from_secs(60)).await;
    assert_eq!(analyze().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn without_a_password_this_machine_is_the_owner_and_nothing_else_is() {
    let server = serve_app(&[Exchange::Binance], 3, None, &[]).await;
    let client = client();
    let base = &server.base;
    assert_eq!(role(&client, base, None).await, "local");
    let put = |headers: &[(&'static str, &'static str)]| {
        let mut builder = client
            .put(format!("{base}/api/config"))
            .header(header::CONTENT_TYPE, "application/json")
            .body("{}");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.send()
    };
    type Headers = &'static [(&'static str, &'static str)];
    let cases: [(Headers, StatusCode, &str); 5] = [
        (&[], StatusCode::OK, "a local script"),
        (
            &[("sec-fetch-site", "same-origin")],
            StatusCode::OK,
            "the local browser's own page",
        ),
        (
            &[("sec-fetch-site", "cross-site")],
            StatusCode::FORBIDDEN,
            "another site's page in the local browser",
        ),
        (
            &[("host", "rebound.evil.example")],
            StatusCode::UNAUTHORIZED,
            "a foreign host name (DNS rebinding) is a viewer",
        ),
        (
            &[("x-forwarded-for", "203.0.113.50")],
            StatusCode::UNAUTHORIZED,
            "a local proxy relaying a visitor",
        ),
    ];
    for (headers, expected, why) in cases {
        assert_eq!(put(headers).await.unwrap().status(), expected, "{why}");
    }
    let page = client
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<meta name="quantpro-role" content="local""#));
    let login = client
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("No owner password is set"), "{login}");

    // Loopback trust switched off: a viewer until a token is used.
    let strict = serve_app(
        &[Exchange::Binance],
        3,
        Some("[auth]\ntrust_loopback = false\n"),
        &ENV,
    )
    .await;
    assert_eq!(role(&client, &strict.base, None).await, "viewer");
    let refused = client
        .put(format!("{}/api/config", strict.base))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

/// Everything the process logs, from the moment the first test asks.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,quantpro=trace,tower_http=trace",
            ))
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
    .clone()
}

#[tokio::test]
async fn secrets_never_reach_pages_the_feed_or_the_logs() {
    let logs = captured_logs();
    let server = locked_server("").await;
    let base = &server.base;
    let client = client();
    let secrets = [PASSWORD, password_hash(), TOKEN, GEMINI_KEY, "$argon2"];
    let check = |what: &str, text: &str| {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{what} contains a secret ({secret:.8}…)"
            );
        }
    };

    // A scan writes a feed, so pages and the share page have content.
    let started = client
        .post(format!("{base}/api/scan/start"))
        .bearer_auth(TOKEN)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let mut updates = server.state.scans.subscribe();
    updates
        .wait_for(|s| s.state == ScanState::Finished || s.state == ScanState::Failed)
        .await
        .unwrap();
    let feed_file = std::fs::read_to_string(&server.state.paths().feed_path).unwrap();
    check("the feed file", &feed_file);
    let feed: Value = serde_json::from_str(&feed_file).unwrap();
    let first = &feed["signals"][0];
    let share = format!(
        "/signal/{}/{}/{}",
        first["exchange"].as_str().unwrap(),
        first["symbol"].as_str().unwrap(),
        first["strategy"].as_str().unwrap()
    );

    let failed = sign_in(&client, base, "a wrong password typed by mistake", &[]).await;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let signed_in = sign_in(&client, base, PASSWORD, &[]).await;
    let cookie = session_cookie(&signed_in);

    let reads = [
        (Method::GET, "/".to_string(), None),
        (Method::GET, share.clone(), None),
        (Method::GET, "/login".to_string(), None),
        (Method::GET, "/api/results".to_string(), None),
        (Method::GET, "/api/config".to_string(), None),
        (Method::GET, "/api/session".to_string(), None),
        (Method::GET, "/api/scan/status".to_string(), None),
        (Method::POST, "/api/table_feed".to_string(), Some("")),
        (Method::POST, "/api/scanner_config".to_string(), Some("")),
        (
            Method::POST,
            "/api/analyze_signal".to_string(),
            Some("exchange=BINANCE&symbol=NOPEUSDT&strategy=Legacy"),
        ),
    ];
    for (method, path, form) in reads {
        for as_owner in [false, true] {
            let mut builder = client.request(method.clone(), format!("{base}{path}"));
            if as_owner {
                builder = builder.header(header::COOKIE, &cookie).bearer_auth(TOKEN);
            }
            if let Some(form) = form {
                builder = builder
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form);
            }
            let response = builder.send().await.unwrap();
            let headers = format!("{:?}", response.headers());
            check(&format!("the headers of {method} {path}"), &headers);
            let body = response.text().await.unwrap();
            check(&format!("{method} {path} (owner: {as_owner})"), &body);
        }
    }
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        logged.contains("[AUTH] failed sign-in from 127.0.0.1"),
        "the logs were captured"
    );
    assert!(logged.contains("[AUTH] owner signed in"));
    check("the logs", &logged);
    assert!(
        !logged.contains("a wrong password typed by mistake"),
        "a failed attempt's text"
    );
}
