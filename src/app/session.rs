//! Who is looking at the page, for the UI: a viewer (owner actions
//! disabled, a Sign in link) or the owner (signed in, with a Sign out
//! button; or on this machine in single-user mode). The server decides it
//! per request (`server::auth`) and writes it into the page's `<head>`
//! (`<meta name="quantpro-role">`, plus `<meta name="csrf-token">` for a
//! signed-in owner); the browser reads it back from there, so both render
//! the same markup and the WASM carries no session logic.
//!
//! `OwnerClient` is the server-function client of the owner's actions: it
//! adds the page's CSRF token (`X-CSRF-Token`) to the request and turns a
//! refusal of the access layer (401, 403, 429 with a JSON `error`) into an
//! error that reads as the server worded it.

use leptos::prelude::*;

use quantpro_model::Visitor;

/// The visitor of the request being rendered (server) or of the page
/// that was served (browser).
pub fn current_visitor() -> Visitor {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Visitor>().cloned())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        let token = page_meta("csrf-token");
        match (page_meta("quantpro-role").as_deref(), token) {
            (Some("signed-in"), Some(csrf_token)) => Visitor::SignedIn { csrf_token },
            (Some("local"), _) => Visitor::LocalOwner,
            (Some("token"), _) => Visitor::TokenOwner,
            _ => Visitor::Viewer,
        }
    }
}

/// The visitor the App put in context (a viewer outside it).
pub fn use_visitor() -> Visitor {
    use_context::<Visitor>().unwrap_or_default()
}

/// The `<meta>` tags of the page head that carry the visitor.
#[component]
pub fn VisitorMeta() -> impl IntoView {
    let visitor = current_visitor();
    let role = visitor.role_name();
    let token = visitor.csrf_token().map(str::to_string);
    view! {
        <meta name="quantpro-role" content=role />
        {token.map(|token| view! { <meta name="csrf-token" content=token /> })}
    }
}

#[cfg(not(feature = "ssr"))]
fn page_meta(name: &str) -> Option<String> {
    document()
        .query_selector(&format!("meta[name='{name}']"))
        .ok()
        .flatten()
        .and_then(|meta| meta.get_attribute("content"))
}

/// The top bar's Sign in link (a plain link: the sign-in page is a
/// server-rendered form) or Sign out button (a plain form POST).
#[component]
pub fn SessionControl() -> impl IntoView {
    match use_visitor() {
        Visitor::Viewer => view! {
            <a
                class="btn btn-ghost session-sign-in"
                href="/login"
                rel="external"
                data-testid="sign-in"
                title="Sign in as the owner to scan, change the configuration and ask for AI analyses"
            >
                "Sign in"
            </a>
        }
        .into_any(),
        Visitor::SignedIn { .. } => view! {
            <form class="session-sign-out" method="post" action="/logout">
                <button class="btn btn-ghost" type="submit" data-testid="sign-out">
                    "Sign out"
                </button>
            </form>
        }
        .into_any(),
        Visitor::LocalOwner => view! {
            <span
                class="badge session-local"
                data-testid="session-local"
                title="Single-user mode: no password is set, so this machine is the owner. Run `quantpro set-password` to require signing in."
            >
                "local"
            </span>
        }
        .into_any(),
        Visitor::TokenOwner => ().into_any(),
    }
}

/// The server-function client of the owner's actions (see the module doc).
pub struct OwnerClient;

mod owner_client {
    use super::OwnerClient;
    use leptos::server_fn::client::{browser::BrowserClient, Client};
    use leptos::server_fn::error::FromServerFnError;
    use leptos::server_fn::request::browser::BrowserRequest;
    use leptos::server_fn::response::browser::BrowserResponse;
    use leptos::server_fn::Bytes;
    use std::future::Future;

    impl<E, IS, OS> Client<E, IS, OS> for OwnerClient
    where
        E: FromServerFnError,
        IS: FromServerFnError,
        OS: FromServerFnError,
    {
        type Request = BrowserRequest;
        type Response = BrowserResponse;

        // Not an `async fn`: the token is read when the call is made.
        #[allow(clippy::manual_async_fn)]
        fn send(req: BrowserRequest) -> impl Future<Output = Result<BrowserResponse, E>> + Send {
            #[cfg(not(feature = "ssr"))]
            if let Some(token) = super::current_visitor().csrf_token() {
                req.headers().set(quantpro_model::CSRF_HEADER, token);
            }
            async move {
                let response = <BrowserClient as Client<E, IS, OS>>::send(req).await?;
                refusal_as_error(response).await
            }
        }

        fn open_websocket(
            path: &str,
        ) -> impl Future<
            Output = Result<
                (
                    impl futures_util::Stream<Item = Result<Bytes, Bytes>> + Send + 'static,
                    impl futures_util::Sink<Bytes> + Send + 'static,
                ),
                E,
            >,
        > + Send {
            <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
        }

        fn spawn(future: impl Future<Output = ()> + Send + 'static) {
            <BrowserClient as Client<E, IS, OS>>::spawn(future)
        }
    }

    /// A 401, 403 or 429 of the access layer carries `{"error": "..."}`,
    /// not a server-function error: its message becomes the error.
    async fn refusal_as_error<E: FromServerFnError>(
        response: BrowserResponse,
    ) -> Result<BrowserResponse, E> {
        use leptos::server_fn::error::ServerFnErrorErr;
        use leptos::server_fn::response::ClientRes;
        if !matches!(ClientRes::<E>::status(&response), 401 | 403 | 429) {
            return Ok(response);
        }
        #[derive(serde::Deserialize)]
        struct Refusal {
            error: String,
        }
        let text = ClientRes::<E>::try_into_string(response).await?;
        let message = serde_json::from_str::<Refusal>(&text)
            .map(|r| r.error)
            .unwrap_or(text);
        Err(E::from_server_fn_error(ServerFnErrorErr::ServerError(
            message,
        )))
    }
}
