//! Plain JSON routes for scripts; thin handlers over `AppState`. Every
//! failure is an `ApiError` (`{"error": "..."}` with a 4xx/5xx status).

use super::api_error::ApiError;
use super::auth::Identity;
use super::state::AppState;
use axum::{
    body::Bytes,
    extract::{
        rejection::{BytesRejection, QueryRejection},
        Extension, Path, Query, State,
    },
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use quantpro_model::{
    ConfigField, Exchange, ScanStartRequest, ScanStatus, ScannerConfig, TrackQuery, TrackRecord,
};
use quantpro_service::journal::TradeFilter;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// `GET /api/results[?source=MEXC|HYPERLIQUID|BINANCE]`: the master feed,
/// or only the signals of one exchange; gzip-compressed when the client
/// accepts it (served from the snapshot's cache either way). Every answer
/// carries an `ETag`; a client that sends it back in `If-None-Match` gets
/// `304 Not Modified` without a body until a scan changes the feed.
/// No feed yet: 503 `{"error": "No master feed at ...: run a scan ..."}`,
/// or, while the live loop or a scan job writes the first one, 503 with
/// `Retry-After` and `{"error": "Warming up: ...", "warming_up": true,
/// "retry_after": 3}`.
pub async fn results(
    State(state): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let source = query
        .get("source")
        .map(|text| parse_source(text))
        .transpose()?;
    let snapshot = state.load_feed().await?;
    let body = snapshot.body(source);
    let mut response = if matches_if_none_match(&headers, &body.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(&headers) {
        let mut response = body.gzip.clone().into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        body.json.clone().into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response_headers.insert(header::ETAG, body.etag.clone());
    // Stored copies must be revalidated: the feed changes with every scan.
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Ok(response)
}

/// True when `If-None-Match` is `*` or lists `etag`, compared weakly (the
/// `W/` prefix ignored), as RFC 9110 prescribes for this header.
fn matches_if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    let wanted = opaque_tag(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || opaque_tag(tag) == wanted)
}

/// An entity tag without its weakness mark: `W/"x"` and `"x"` are `"x"`.
fn opaque_tag(tag: &str) -> &str {
    tag.trim().trim_start_matches("W/")
}

fn parse_source(text: &str) -> Result<Exchange, ApiError> {
    text.parse::<Exchange>().map_err(|_| {
        let valid: Vec<&str> = Exchange::ALL.iter().map(|e| e.as_str()).collect();
        ApiError::BadRequest(format!(
            "unknown source {text:?}: expected one of {}",
            valid.join(", ")
        ))
    })
}

/// True when `Accept-Encoding` lists gzip (or `*`) without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.replace(' ', "")
                    .parse::<QValue>()
                    .is_ok_and(|q| q.0 == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

/// The `q=...` parameter of an `Accept-Encoding` item.
struct QValue(f64);

impl std::str::FromStr for QValue {
    type Err = ();
    fn from_str(text: &str) -> Result<QValue, ()> {
        let value = text
            .strip_prefix("q=")
            .or_else(|| text.strip_prefix("Q="))
            .ok_or(())?;
        value.parse::<f64>().map(QValue).map_err(|_| ())
    }
}

/// `GET /api/track-record[?strategy=&exchange=&symbol=&origin=]`: the
/// statistics of the journal's trades (STRATEGIES.md §6: overall, per
/// strategy, exchange, symbol and score bucket). Empty values mean no
/// filter (as does `origin=all`); `symbol` is the exchange symbol or the
/// base asset; `origin` is `live` or `backtest`. 400 for an unknown key or value, 503 when the
/// journal cannot be read.
pub async fn track_record(
    State(state): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<TrackRecord>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let filter = parse_track_filter(&query)?;
    Ok(Json(state.track_record(filter).await?))
}

/// `GET /track-record[?strategy=&exchange=&symbol=&origin=]`: the Track
/// Record page, rendered whole on the server (statistics per strategy,
/// equity and calibration charts, recent trades; its filters are a GET form).
/// The query is read as `GET /api/track-record` reads it, unknown keys
/// aside (a bookmarked page keeps working); a value that names nothing is a
/// 400 page that says which, a journal that cannot be read a 503 page.
pub async fn track_record_page(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> (StatusCode, axum::response::Html<String>) {
    use super::render::render_track_record_error;
    let page = |status, html| (status, axum::response::Html(html));
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => {
            let html = render_track_record_error(&rejection.body_text());
            return page(StatusCode::BAD_REQUEST, html);
        }
    };
    let query = match TrackQuery::parse(|key| query.get(key).map(String::as_str)) {
        Ok(query) => query,
        Err(err) => {
            return page(
                StatusCode::BAD_REQUEST,
                render_track_record_error(&err.to_string()),
            )
        }
    };
    match state.track_record_page(query, identity.is_owner()).await {
        Ok(html) => page(StatusCode::OK, html),
        Err(err) => {
            tracing::warn!("track record page: {err}");
            let status = ApiError::from(err);
            page(
                status.status(),
                render_track_record_error(&status.to_string()),
            )
        }
    }
}

/// `GET /signal/{exchange}/{symbol}/{strategy}`: the share page of one
/// signal of the current feed, rendered whole on the server (Open Graph
/// tags for link previews). 404 for a signal the feed does not have or a
/// path that names no exchange or strategy; 503 when the feed cannot be read.
pub async fn share_page(
    State(state): State<AppState>,
    Path((exchange, symbol, strategy)): Path<(String, String, String)>,
) -> (StatusCode, axum::response::Html<String>) {
    use super::render::{render_share_error, render_share_page, render_signal_not_found};
    let page = |status, html| (status, axum::response::Html(html));
    let (Ok(exchange), Ok(strategy)) = (exchange.parse::<Exchange>(), strategy.parse()) else {
        return page(StatusCode::NOT_FOUND, render_signal_not_found());
    };
    match state.signal_panels(exchange, &symbol, strategy).await {
        Ok(Some(panels)) => page(StatusCode::OK, render_share_page(panels)),
        Ok(None) => page(StatusCode::NOT_FOUND, render_signal_not_found()),
        Err(err) => {
            let err = ApiError::from(err);
            page(err.status(), render_share_error(&err.to_string()))
        }
    }
}

const TRACK_FILTERS: [&str; 4] = ["strategy", "exchange", "symbol", "origin"];

fn parse_track_filter(query: &HashMap<String, String>) -> Result<TradeFilter, ApiError> {
    if let Some(unknown) = query.keys().find(|k| !TRACK_FILTERS.contains(&k.as_str())) {
        return Err(ApiError::BadRequest(format!(
            "unknown filter {unknown:?}: expected {}",
            TRACK_FILTERS.join(", ")
        )));
    }
    let value = |key: &str| query.get(key).map(String::as_str);
    let query = TrackQuery::parse(value).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(TradeFilter::from(query))
}

/// The body of `POST /api/scan/start`: `ScanStartRequest` with unknown
/// fields refused, so a typo cannot silently turn into a full scan.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanStartBody {
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default)]
    exchange: Option<Exchange>,
}

/// The answer of `POST /api/scan/start`: the new job's id.
#[derive(Serialize)]
pub struct ScanStarted {
    pub id: u64,
}

/// `POST /api/scan/start`: 202 `{"id": n}`; an empty body scans everything.
pub async fn start_scan(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ScanStarted>), ApiError> {
    let body = body.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        ScanStartRequest::default()
    } else {
        let bad =
            |message: String| ApiError::BadRequest(format!("invalid scan request: {message}"));
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
        // serde would also take a struct from an array; only an object is meant.
        if !value.is_object() {
            return Err(bad("expected a JSON object such as {\"limit\": 10}".into()));
        }
        let parsed: ScanStartBody =
            serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        ScanStartRequest {
            limit: parsed.limit,
            symbol: parsed.symbol,
            exchange: parsed.exchange,
        }
    };
    let id = state.start_scan(request)?;
    Ok((StatusCode::ACCEPTED, Json(ScanStarted { id })))
}

/// `GET /api/scan/status`: the current (or last) scan job.
pub async fn scan_status(State(state): State<AppState>) -> Json<ScanStatus> {
    Json(state.scans.status())
}

/// `GET /api/config` and the answer of `PUT /api/config`.
#[derive(Serialize)]
pub struct ConfigView {
    pub config: ScannerConfig,
    pub fields: Vec<ConfigField>,
}

/// `GET /api/config`: the configuration the next scan uses, and every field
/// with its label, range and default.
pub async fn get_config(State(state): State<AppState>) -> Result<Json<ConfigView>, ApiError> {
    let config = state.scanner_config().await?;
    Ok(Json(ConfigView {
        config,
        fields: ScannerConfig::fields(),
    }))
}

/// `PUT /api/config`: replaces the configuration (absent fields take their
/// defaults) after validating it; 400 lists every problem. The answer is the
/// configuration in force (environment overrides included).
pub async fn put_config(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ConfigView>, ApiError> {
    let body = body.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let config = state.save_scanner_config(parse_config_body(&body)?).await?;
    Ok(Json(ConfigView {
        config,
        fields: ScannerConfig::fields(),
    }))
}

/// A `ScannerConfig` from JSON. The sections refuse unknown fields
/// themselves; an unknown section is refused here, as serde would drop it
/// and a typo would reset that whole section to its defaults.
fn parse_config_body(body: &[u8]) -> Result<ScannerConfig, ApiError> {
    let bad =
        |message: String| ApiError::BadRequest(format!("invalid configuration body: {message}"));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let Some(object) = value.as_object() else {
        return Err(bad("expected a JSON object of sections".into()));
    };
    let defaults =
        serde_json::to_value(ScannerConfig::default()).map_err(|e| bad(e.to_string()))?;
    let known: Vec<&String> = defaults
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    if let Some(unknown) = object.keys().find(|key| !known.contains(key)) {
        let known: Vec<&str> = known.iter().map(|k| k.as_str()).collect();
        return Err(bad(format!(
            "unknown section {unknown:?} (expected {})",
            known.join(", ")
        )));
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// `GET /api/session`: who the request is from, as the access gate sees it.
#[derive(Serialize)]
pub struct SessionView {
    /// `viewer`, `local` (single-user mode), `signed-in` or `token`.
    pub role: &'static str,
    pub owner: bool,
    /// Where a viewer signs in.
    pub sign_in: &'static str,
}

pub async fn session(Extension(identity): Extension<Identity>) -> Json<SessionView> {
    let visitor = identity.visitor();
    Json(SessionView {
        role: visitor.role_name(),
        owner: visitor.is_owner(),
        sign_in: "/login",
    })
}

/// `GET /alerts` (the owner's): the alert log page, rendered whole on the
/// server (no script).
pub async fn alert_log_page(State(state): State<AppState>) -> axum::response::Html<String> {
    axum::response::Html(state.alert_log_page())
}

/// `GET /api/alerts` (the owner's): the alerts sent lately, newest first,
/// each with every channel's outcome (delivered, failed and why), and
/// every channel's state (ready, failing, disabled).
pub async fn alerts(State(state): State<AppState>) -> Json<quantpro_service::alerts::AlertLogView> {
    Json(state.alert_log())
}

/// `GET /healthz`: liveness for scripts and the browser tests.
pub async fn health() -> &'static str {
    "ok"
}

/// Unknown `/api/...` paths: a JSON 404 rather than the app's HTML page.
pub async fn api_not_found() -> ApiError {
    ApiError::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).unwrap(),
        );
        headers
    }

    #[test]
    fn if_none_match_compares_entity_tags_weakly() {
        let etag = HeaderValue::from_static("W/\"0badf00d-2a\"");
        let request = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(matches_if_none_match(&request("W/\"0badf00d-2a\""), &etag));
        assert!(matches_if_none_match(&request("\"0badf00d-2a\""), &etag));
        assert!(matches_if_none_match(
            &request("\"x\", W/\"0badf00d-2a\""),
            &etag
        ));
        assert!(matches_if_none_match(&request("*"), &etag));
        assert!(!matches_if_none_match(&request("W/\"0badf00d-2b\""), &etag));
        assert!(!matches_if_none_match(&HeaderMap::new(), &etag));
    }

    #[test]
    fn gzip_is_used_only_when_accepted() {
        assert!(accepts_gzip(&headers("gzip")));
        assert!(accepts_gzip(&headers("br, gzip;q=0.5, deflate")));
        assert!(accepts_gzip(&headers("*")));
        assert!(!accepts_gzip(&headers("gzip;q=0")));
        assert!(!accepts_gzip(&headers("br, deflate")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn sources_parse_in_any_case_and_bad_ones_list_the_valid_values() {
        assert_eq!(parse_source("hyperliquid").unwrap(), Exchange::Hyperliquid);
        let err = parse_source("KRAKEN").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown source \"KRAKEN\": expected one of MEXC, HYPERLIQUID, BINANCE"
        );
    }

    #[test]
    fn track_filters_parse_and_refuse_unknown_keys_and_values() {
        let query = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let empty = query(&[("strategy", ""), ("exchange", " "), ("symbol", "")]);
        assert_eq!(parse_track_filter(&empty).unwrap(), TradeFilter::default());
        let full = query(&[
            ("strategy", "breakoutv2"),
            ("exchange", "BINANCE"),
            ("symbol", "sol"),
            ("origin", "backtest"),
        ]);
        assert_eq!(
            parse_track_filter(&full).unwrap(),
            TradeFilter {
                strategy: Some(quantpro_model::Strategy::BreakoutV2),
                exchange: Some(Exchange::Binance),
                symbol: Some("SOL".into()),
                origin: Some(quantpro_service::journal::Origin::Backtest),
            }
        );
        let typo = parse_track_filter(&query(&[("strat", "Legacy")])).unwrap_err();
        assert!(
            typo.to_string().contains("unknown filter \"strat\""),
            "{typo}"
        );
        let bad = parse_track_filter(&query(&[("strategy", "Momentum")])).unwrap_err();
        assert!(
            bad.to_string().contains("Legacy, Breakout, BreakoutV2"),
            "{bad}"
        );
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let bad = parse_track_filter(&query(&[("origin", "paper")])).unwrap_err();
        assert!(bad.to_string().contains("live, backtest"), "{bad}");
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn config_bodies_refuse_unknown_sections() {
        assert_eq!(parse_config_body(b"{}").unwrap(), ScannerConfig::default());
        let err = parse_config_body(br#"{"legacyy": {"min_score": 50}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown section \"legacyy\""), "{err}");
        assert!(parse_config_body(b"[1]").is_err());
    }
}
