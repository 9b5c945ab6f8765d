//! Signing in and out: `GET /login` is a server-rendered form (it works
//! without JavaScript and adds nothing to the WASM bundle), `POST /login`
//! checks the password against `auth.password_hash` and starts a session,
//! `POST /logout` ends it. Failed sign-ins are limited per client
//! (`SIGN_IN_LIMIT`); the gate's cross-site check covers both forms.

use super::gate::{Client, Identity};
use super::sessions::{cleared_cookie, session_cookie};
use crate::server::render::to_html;
use crate::server::AppState;
use axum::extract::rejection::FormRejection;
use axum::extract::{Extension, Form, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use leptos::prelude::*;
use quantpro_service::password::verify_password;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SignInForm {
    password: String,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    next: Option<String>,
}

/// `GET /login`: the form; an owner is sent on to the dashboard.
pub async fn sign_in_page(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Query(query): Query<SignInQuery>,
) -> Response {
    let next = local_path(query.next.as_deref());
    if !state.auth.has_password() {
        return page(StatusCode::OK, Notice::NoPassword, next);
    }
    if identity.is_owner() {
        return see_other(next);
    }
    page(StatusCode::OK, Notice::None, next)
}

/// `POST /login` (form: `password`, optional `next`): 303 to `next` with
/// the session cookie, or the form again with why not.
pub async fn sign_in(
    State(state): State<AppState>,
    Extension(client): Extension<Client>,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return page(StatusCode::BAD_REQUEST, Notice::BadForm, "/");
    };
    let next = local_path(form.next.as_deref());
    let auth = state.auth.clone();
    let Some(hash) = auth.settings().password_hash.clone() else {
        return page(StatusCode::FORBIDDEN, Notice::NoPassword, next);
    };
    if let Err(retry_after) = auth.sign_ins.check(client.ip) {
        tracing::warn!(
            "[AUTH] sign-in refused for {}: too many failures",
            client.ip
        );
        let mut response = page(
            StatusCode::TOO_MANY_REQUESTS,
            Notice::TooMany(retry_after.secs()),
            next,
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.secs()));
        return response;
    }
    let password = form.password;
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, hash.expose()))
        .await
        .unwrap_or(false);
    if !matches {
        auth.sign_ins.charge(client.ip);
        tracing::warn!("[AUTH] failed sign-in from {}", client.ip);
        return page(StatusCode::UNAUTHORIZED, Notice::WrongPassword, next);
    }
    let session = auth.sessions.start();
    tracing::info!("[AUTH] owner signed in from {}", client.ip);
    let mut response = see_other(next);
    response.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(&session, auth.sessions.ttl(), client.tls),
    );
    response
}

/// `POST /logout`: ends the request's session (if any), clears the cookie,
/// back to the dashboard.
pub async fn sign_out(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    Extension(client): Extension<Client>,
) -> Response {
    if let Identity::Session(session) = &identity {
        state.auth.sessions.end(&session.id);
        tracing::info!("[AUTH] owner signed out from {}", client.ip);
    }
    let mut response = see_other("/");
    response
        .headers_mut()
        .append(header::SET_COOKIE, cleared_cookie(client.tls));
    response
}

/// `next` when it is a path of this server, else the dashboard: a sign-in
/// link cannot send the owner to another site.
fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path
        }
        _ => "/",
    }
}

fn see_other(location: &str) -> Response {
    let location = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// What the form says above the password field.
enum Notice {
    None,
    WrongPassword,
    TooMany(u64),
    NoPassword,
    BadForm,
}

impl Notice {
    fn text(&self) -> Option<String> {
        match self {
            Notice::None => None,
            Notice::WrongPassword => Some("Wrong password.".into()),
            Notice::TooMany(secs) => Some(format!(
                "Too many failed sign-ins from this address: try again in {secs} s."
            )),
            Notice::NoPassword => Some(
                "No owner password is set on this server. Run `quantpro set-password` \
                 where it runs, then restart it."
                    .into(),
            ),
            Notice::BadForm => Some("The sign-in form was incomplete: enter the password.".into()),
        }
    }
}

fn page(status: StatusCode, notice: Notice, next: &str) -> Response {
    let form_open = !matches!(notice, Notice::NoPassword);
    let message = notice.text();
    let next = next.to_string();
    let body = to_html(view! {
        <main class="auth-page">
            <form class="panel auth-form" method="post" action="/login" data-testid="sign-in-form">
                <h1>"Sign in"</h1>
                <p class="panel-note">
                    "The owner signs in to scan, change the configuration and ask for AI analyses. "
                    "Anyone can read the dashboard."
                </p>
                {message.map(|m| view! { <p class="panel-note error" role="alert" data-testid="sign-in-message">{m}</p> })}
                {form_open.then(|| view! {
                    <label class="field">
                        <span class="field-label">"Password"</span>
                        <input type="password" name="password" autocomplete="current-password" required autofocus data-testid="password" />
                    </label>
                    <input type="hidden" name="next" value=next />
                    <button class="btn btn-primary" type="submit" data-testid="sign-in-submit">"Sign in"</button>
                })}
                <a class="auth-back" href="/">"Back to the dashboard"</a>
            </form>
        </main>
    });
    let document = crate::server::render::page_document("Sign in", &body);
    (status, Html(document)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/?ex=MEXC")), "/?ex=MEXC");
        assert_eq!(
            local_path(Some("/signal/MEXC/BTCUSDT/Legacy")),
            "/signal/MEXC/BTCUSDT/Legacy"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "/a\nb",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_path(None), "/");
    }
}
