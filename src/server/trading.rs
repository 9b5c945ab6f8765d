//! The owner's trading routes: the JSON API (`/api/execution/*`, the same
//! actions as `quantpro trade`) and the two pages rendered whole on the
//! server (the ticket of a signal, the positions with the kill switch),
//! which call the API from a few lines of inline script, so trading adds
//! nothing to the browser bundle. The access table makes every one of them
//! the owner's: a viewer gets 401/403 before a handler runs, and a signed-in
//! change needs the session's CSRF token like every other.

use super::api_error::ApiError;
use super::auth::Identity;
use super::render::trading_html::{render_positions_page, render_ticket_page};
use super::state::{AppState, SignalKey};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::Json;
use quantpro_model::{Exchange, Strategy};
use quantpro_service::execution::{Bracket, Flattened, Positions, Ticket};
use serde::Deserialize;

/// `POST /api/execution/open`: the signal and the candle its ticket showed.
#[derive(Debug, Deserialize)]
pub struct OpenRequest {
    #[serde(flatten)]
    pub key: SignalKey,
    pub candle: i64,
}

/// `POST /api/execution/close`.
#[derive(Debug, Deserialize)]
pub struct CloseRequest {
    pub exchange: Exchange,
    pub symbol: String,
}

fn bad_json(rejection: JsonRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

/// `GET /api/execution/ticket?exchange=&symbol=&strategy=`.
pub async fn ticket(
    State(state): State<AppState>,
    query: Result<Query<SignalKey>, QueryRejection>,
) -> Result<Json<Ticket>, ApiError> {
    let Query(key) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    Ok(Json(state.trade_ticket(&key).await?))
}

pub async fn open(
    State(state): State<AppState>,
    body: Result<Json<OpenRequest>, JsonRejection>,
) -> Result<Json<Bracket>, ApiError> {
    let Json(request) = body.map_err(bad_json)?;
    Ok(Json(state.open_trade(&request.key, request.candle).await?))
}

pub async fn close(
    State(state): State<AppState>,
    body: Result<Json<CloseRequest>, JsonRejection>,
) -> Result<Json<Bracket>, ApiError> {
    let Json(request) = body.map_err(bad_json)?;
    Ok(Json(
        state.close_trade(request.exchange, &request.symbol).await?,
    ))
}

/// `POST /api/execution/flatten`: the kill switch.
pub async fn flatten(State(state): State<AppState>) -> Result<Json<Flattened>, ApiError> {
    Ok(Json(state.flatten().await?))
}

pub async fn positions(State(state): State<AppState>) -> Result<Json<Positions>, ApiError> {
    Ok(Json(state.positions().await?))
}

/// `GET /trade/{exchange}/{symbol}/{strategy}`: the ticket page.
pub async fn ticket_page(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Path((exchange, symbol, strategy)): Path<(String, String, String)>,
) -> (StatusCode, Html<String>) {
    let token = identity.visitor().csrf_token().map(str::to_string);
    let (Ok(exchange), Ok(strategy)) = (exchange.parse::<Exchange>(), strategy.parse::<Strategy>())
    else {
        return (
            StatusCode::NOT_FOUND,
            Html(render_ticket_page(
                Err("no such exchange or strategy"),
                token,
            )),
        );
    };
    let key = SignalKey {
        exchange,
        symbol,
        strategy,
    };
    match state.trade_ticket(&key).await {
        Ok(ticket) => (StatusCode::OK, Html(render_ticket_page(Ok(&ticket), token))),
        Err(err) => (
            err.status(),
            Html(render_ticket_page(Err(&err.to_string()), token)),
        ),
    }
}

/// `GET /positions`: open positions, today's result, the kill switch.
pub async fn positions_page(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
) -> (StatusCode, Html<String>) {
    let token = identity.visitor().csrf_token().map(str::to_string);
    match state.positions().await {
        Ok(positions) => (
            StatusCode::OK,
            Html(render_positions_page(Ok(&positions), token)),
        ),
        Err(err) => (
            err.status(),
            Html(render_positions_page(Err(&err.to_string()), token)),
        ),
    }
}
