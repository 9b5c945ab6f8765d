//! The access gate: the one middleware that decides, for every request,
//! who sent it and whether they may. It finds the sender ([`Client`]: the
//! address, TLS, host; the trusted proxy's headers only when
//! `auth.trust_proxy`), identifies them ([`Identity`]: bearer token, session
//! cookie, loopback in single-user mode, or viewer), looks the route up in
//! the [`AccessTable`], and answers refusals itself with a JSON `ApiError`:
//!
//! - 401: an owner route without owner credentials, or a wrong bearer token;
//! - 403: a cross-site change (`Sec-Fetch-Site`, or `Origin` against the
//!   host), or a cookie-authenticated change without the session's
//!   `X-CSRF-Token`; bearer-token requests carry no ambient credentials and
//!   skip both checks;
//! - 429 with `Retry-After`: a costly action over its per-client limit.
//!
//! Admitted requests carry the [`Client`], the [`Identity`] and the UI's
//! `Visitor` as extensions for the handlers and the page render.

use super::access::{Access, AccessTable, CostlyAction};
use super::limits::{ClientLimiter, RateRule};
use super::sessions::{cleared_cookie, cookie_value, Session, Sessions, SESSION_COOKIE};
use crate::server::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quantpro_model::{Visitor, CSRF_HEADER};
use quantpro_service::settings::AuthSettings;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Failed sign-ins: 5 at once, then one more per minute, per client.
pub const SIGN_IN_LIMIT: RateRule = RateRule {
    burst: 5,
    refill: Duration::from_secs(60),
};

/// The per-client limit of a costly action, for the owner too: a scan reads
/// every candle file (10 at once, then one per 6 s; only one runs at a
/// time anyway); an AI analysis spends the owner's Gemini quota (5 at once,
/// then one per minute). Only requests that succeed count (a refused or
/// conflicting one gets its token back).
pub fn costly_limit(action: CostlyAction) -> RateRule {
    match action {
        CostlyAction::Scan => RateRule {
            burst: 10,
            refill: Duration::from_secs(6),
        },
        CostlyAction::AiAnalysis => RateRule {
            burst: 5,
            refill: Duration::from_secs(60),
        },
    }
}

/// The access state of a server: settings, live sessions, limiters.
#[derive(Debug)]
pub struct AuthGate {
    settings: AuthSettings,
    pub sessions: Sessions,
    pub sign_ins: ClientLimiter,
    costly: Vec<(CostlyAction, ClientLimiter)>,
}

/// Who sent a request, as far as the network tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The TCP peer (`None` when the server was not given connection info).
    pub peer: Option<IpAddr>,
    /// The address limits count: the peer, or with a trusted proxy the
    /// address it appended to `X-Forwarded-For`.
    pub ip: IpAddr,
    /// Whether the browser reached us over HTTPS (only a trusted proxy can say).
    pub tls: bool,
    /// The host the browser addressed (`Host`, or a trusted `X-Forwarded-Host`).
    pub host: Option<String>,
    /// The request carries a proxy's forwarding headers.
    pub proxied: bool,
}

/// Who the request is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Viewer,
    /// Loopback peer, no password configured, `auth.trust_loopback`.
    LocalOwner,
    Session(Session),
    /// `Authorization: Bearer` with the owner token.
    Token,
}

impl Identity {
    pub fn is_owner(&self) -> bool {
        !matches!(self, Identity::Viewer)
    }

    pub fn visitor(&self) -> Visitor {
        match self {
            Identity::Viewer => Visitor::Viewer,
            Identity::LocalOwner => Visitor::LocalOwner,
            Identity::Session(session) => Visitor::SignedIn {
                csrf_token: session.csrf_token.clone(),
            },
            Identity::Token => Visitor::TokenOwner,
        }
    }
}

const FORWARDING_HEADERS: [&str; 5] = [
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "forwarded",
    "x-real-ip",
];

impl AuthGate {
    pub fn new(settings: AuthSettings) -> AuthGate {
        AuthGate {
            sessions: Sessions::new(settings.session_ttl),
            sign_ins: ClientLimiter::new(SIGN_IN_LIMIT),
            costly: CostlyAction::ALL
                .into_iter()
                .map(|action| (action, ClientLimiter::new(costly_limit(action))))
                .collect(),
            settings,
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Whether sign-in with a password is possible at all.
    pub fn has_password(&self) -> bool {
        self.settings.password_hash.is_some()
    }

    fn costly(&self, action: CostlyAction) -> &ClientLimiter {
        self.costly
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, limiter)| limiter)
            .expect("a limiter for every costly action")
    }

    /// The sender of a request with these headers from `peer`.
    pub fn client(
        &self,
        headers: &HeaderMap,
        authority: Option<&str>,
        peer: Option<IpAddr>,
    ) -> Client {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let first = |name: &str| text(name).and_then(|v| v.split(',').next()).map(str::trim);
        let proxied = FORWARDING_HEADERS
            .iter()
            .any(|name| headers.contains_key(*name));
        let own_host = text(header::HOST.as_str())
            .or(authority)
            .map(str::to_string);
        let unknown = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        if !self.settings.trust_proxy {
            return Client {
                peer,
                ip: peer.unwrap_or(unknown),
                tls: false,
                host: own_host,
                proxied,
            };
        }
        // The proxy appends the address it saw: the last entry is the one
        // to believe (earlier ones are whatever the client sent).
        let forwarded_ip = text("x-forwarded-for")
            .and_then(|v| v.rsplit(',').next())
            .and_then(|ip| ip.trim().parse::<IpAddr>().ok());
        Client {
            peer,
            ip: forwarded_ip.or(peer).unwrap_or(unknown),
            tls: first("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https")),
            host: first("x-forwarded-host").map(str::to_string).or(own_host),
            proxied,
        }
    }

    /// Who sent the request; a wrong bearer token is refused outright. The
    /// flag is set when the request carried a session cookie that is no
    /// longer valid (the response then clears it).
    pub fn identify(
        &self,
        headers: &HeaderMap,
        client: &Client,
    ) -> Result<(Identity, bool), ApiError> {
        if let Some(token) = bearer_token(headers) {
            return match &self.settings.owner_token {
                Some(owner) if bool::from(token.as_bytes().ct_eq(owner.expose().as_bytes())) => {
                    Ok((Identity::Token, false))
                }
                Some(_) => Err(ApiError::BadToken(
                    "the bearer token is not the owner token (QUANTPRO_OWNER_TOKEN)",
                )),
                None => Err(ApiError::BadToken(
                    "this server accepts no bearer token: set QUANTPRO_OWNER_TOKEN in its environment",
                )),
            };
        }
        let mut stale_cookie = false;
        if let Some(id) = cookie_value(headers, SESSION_COOKIE) {
            match self.sessions.find(id) {
                Some(session) => return Ok((Identity::Session(session), false)),
                None => stale_cookie = true,
            }
        }
        let identity = if self.is_local_owner(client) {
            Identity::LocalOwner
        } else {
            Identity::Viewer
        };
        Ok((identity, stale_cookie))
    }

    /// Single-user mode: no password, loopback trusted, a loopback peer that
    /// is not a proxy relaying someone else, addressed by a loopback name
    /// (a page of another site resolved to 127.0.0.1, DNS rebinding, has its
    /// own host name and stays a viewer).
    fn is_local_owner(&self, client: &Client) -> bool {
        self.settings.password_hash.is_none()
            && self.settings.trust_loopback
            && client.peer.is_some_and(|ip| ip.is_loopback())
            && !client.proxied
            && client.host.as_deref().is_some_and(is_loopback_host)
    }

    /// Whether `identity` may send this request to a route of `access`; for
    /// a costly action, the action whose token it took.
    pub fn admit(
        &self,
        method: &Method,
        headers: &HeaderMap,
        client: &Client,
        identity: &Identity,
        access: Access,
    ) -> Result<Option<CostlyAction>, ApiError> {
        let changes = !matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        );
        if changes && *identity != Identity::Token {
            same_origin(headers, client).map_err(|e| ApiError::CrossSite(e.to_string()))?;
        }
        if !access.needs_owner() {
            return Ok(None);
        }
        match identity {
            Identity::Viewer => return Err(ApiError::SignInRequired),
            Identity::Session(session) if changes => {
                let sent = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes);
                let valid =
                    sent.is_some_and(|sent| bool::from(sent.ct_eq(session.csrf_token.as_bytes())));
                if !valid {
                    return Err(ApiError::CsrfToken);
                }
            }
            _ => {}
        }
        let Access::Costly(action) = access else {
            return Ok(None);
        };
        self.costly(action)
            .try_take(client.ip)
            .map_err(|retry_after| ApiError::RateLimited {
                what: action.label(),
                retry_after,
            })?;
        Ok(Some(action))
    }

    /// Gives back the token of a costly request that did not succeed.
    fn refund(&self, action: CostlyAction, client: IpAddr) {
        self.costly(action).refund(client);
    }
}

/// `Authorization: Bearer <token>` (other schemes, such as a proxy's Basic
/// authentication, are not ours and are ignored).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Why a change is taken for one a browser sent from another site.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrossSite {
    #[error("the browser sent it from another site (Sec-Fetch-Site: {0})")]
    OtherSite(String),
    #[error("Origin {origin} is not this server ({server})")]
    OtherOrigin { origin: String, server: String },
    #[error("Origin {0} cannot be checked: the request names no host")]
    NoHost(String),
}

/// Refuses a change a browser sent from another site. `Sec-Fetch-Site`
/// (every current browser sends it) must be `same-origin` or `none` (typed
/// by the user); without it, an `Origin` must be this server's. A request
/// with neither is not from a browser page and carries no risk of forgery.
fn same_origin(headers: &HeaderMap, client: &Client) -> Result<(), CrossSite> {
    let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text(&HeaderName::from_static("sec-fetch-site")) {
        return match site {
            "same-origin" | "none" => Ok(()),
            other => Err(CrossSite::OtherSite(other.to_string())),
        };
    }
    let Some(origin) = text(&header::ORIGIN) else {
        return Ok(());
    };
    let scheme = if client.tls { "https" } else { "http" };
    match &client.host {
        Some(host) if origin.eq_ignore_ascii_case(&format!("{scheme}://{host}")) => Ok(()),
        Some(host) => Err(CrossSite::OtherOrigin {
            origin: origin.to_string(),
            server: format!("{scheme}://{host}"),
        }),
        None => Err(CrossSite::NoHost(origin.to_string())),
    }
}

/// The gate's state: the server's `AuthGate` and the router's access table.
#[derive(Clone)]
pub struct Guard {
    pub auth: Arc<AuthGate>,
    pub table: Arc<AccessTable>,
}

/// The middleware (see the module doc).
pub async fn enforce(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let authority = request.uri().authority().map(|a| a.as_str().to_string());
    let client = guard
        .auth
        .client(request.headers(), authority.as_deref(), peer);
    let (identity, stale_cookie) = match guard.auth.identify(request.headers(), &client) {
        Ok(found) => found,
        Err(refusal) => return refused(&request, &client, refusal),
    };
    let access = guard.table.access(request.method(), request.uri().path());
    let admitted = guard.auth.admit(
        request.method(),
        request.headers(),
        &client,
        &identity,
        access,
    );
    let costly = match admitted {
        Ok(costly) => costly,
        Err(refusal) => {
            let mut response = refused(&request, &client, refusal);
            if stale_cookie {
                clear_session_cookie(&mut response, client.tls);
            }
            return response;
        }
    };
    let owner = identity.is_owner();
    let (tls, ip) = (client.tls, client.ip);
    request.extensions_mut().insert(identity.visitor());
    request.extensions_mut().insert(identity);
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    if let Some(action) = costly.filter(|_| !response.status().is_success()) {
        guard.auth.refund(action, ip);
    }
    if stale_cookie && !response.headers().contains_key(header::SET_COOKIE) {
        clear_session_cookie(&mut response, tls);
    }
    if owner {
        // An owner's page carries its CSRF token: no cache may keep it.
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("private, no-store"));
    }
    response
}

fn refused(request: &Request, client: &Client, refusal: ApiError) -> Response {
    tracing::info!(
        "[AUTH] {} {} {} from {}: {refusal}",
        refusal.status().as_u16(),
        request.method(),
        request.uri().path(),
        client.ip
    );
    refusal.into_response()
}

fn clear_session_cookie(response: &mut Response, secure: bool) {
    response
        .headers_mut()
        .append(header::SET_COOKIE, cleared_cookie(secure));
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_sources::keys::Secret;

    fn gate(password: bool, trust_proxy: bool) -> AuthGate {
        AuthGate::new(AuthSettings {
            password_hash: password
                .then(|| Secret::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")),
            owner_token: Some(Secret::new("owner-token-of-twenty-chars")),
            trust_proxy,
            ..AuthSettings::default()
        })
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn identity(gate: &AuthGate, pairs: &[(&str, &str)], peer: Option<IpAddr>) -> Identity {
        let headers = headers(pairs);
        let client = gate.client(&headers, None, peer);
        gate.identify(&headers, &client).unwrap().0
    }

    #[test]
    fn loopback_is_the_owner_only_without_a_password_and_without_a_proxy() {
        let open = gate(false, false);
        let local = [("host", "127.0.0.1:3000")];
        assert_eq!(
            identity(&open, &local, ip("127.0.0.1")),
            Identity::LocalOwner
        );
        assert_eq!(
            identity(&open, &[("host", "localhost:3000")], ip("::1")),
            Identity::LocalOwner
        );
        assert_eq!(
            identity(&open, &[("host", "[::1]:3000")], ip("::1")),
            Identity::LocalOwner
        );
        assert_eq!(
            identity(&open, &local, ip("192.168.1.20")),
            Identity::Viewer,
            "another machine"
        );
        assert_eq!(
            identity(&open, &local, None),
            Identity::Viewer,
            "unknown peer"
        );
        assert_eq!(
            identity(&open, &[("host", "evil.example:3000")], ip("127.0.0.1")),
            Identity::Viewer,
            "DNS rebinding: a foreign host name"
        );
        assert_eq!(
            identity(
                &open,
                &[
                    ("host", "127.0.0.1:3000"),
                    ("x-forwarded-for", "203.0.113.9")
                ],
                ip("127.0.0.1")
            ),
            Identity::Viewer,
            "a local proxy relaying a visitor"
        );
        let locked = gate(true, false);
        assert_eq!(
            identity(&locked, &local, ip("127.0.0.1")),
            Identity::Viewer,
            "a password is set"
        );
        let untrusting = AuthGate::new(AuthSettings {
            trust_loopback: false,
            ..AuthSettings::default()
        });
        assert_eq!(
            identity(&untrusting, &local, ip("127.0.0.1")),
            Identity::Viewer
        );
    }

    #[test]
    fn bearer_tokens_are_the_owner_or_refused() {
        let gate = gate(true, false);
        let peer = ip("203.0.113.5");
        assert_eq!(
            identity(
                &gate,
                &[("authorization", "Bearer owner-token-of-twenty-chars")],
                peer
            ),
            Identity::Token
        );
        assert_eq!(
            identity(
                &gate,
                &[("authorization", "bearer  owner-token-of-twenty-chars ")],
                peer
            ),
            Identity::Token
        );
        let wrong = headers(&[("authorization", "Bearer owner-token-of-twenty-chaRs")]);
        let client = gate.client(&wrong, None, peer);
        assert!(matches!(
            gate.identify(&wrong, &client),
            Err(ApiError::BadToken(_))
        ));
        assert_eq!(
            identity(&gate, &[("authorization", "Basic dXNlcjpwYXNz")], peer),
            Identity::Viewer,
            "a proxy's Basic auth is not ours"
        );
    }

    #[test]
    fn proxy_headers_count_only_when_trusted() {
        let pairs = [
            ("host", "127.0.0.1:3000"),
            ("x-forwarded-for", "198.51.100.1, 203.0.113.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "scanner.example.com"),
        ];
        let headers = headers(&pairs);
        let trusted = gate(true, true).client(&headers, None, ip("127.0.0.1"));
        assert_eq!(
            trusted.ip,
            "203.0.113.7".parse::<IpAddr>().unwrap(),
            "the proxy's own entry"
        );
        assert!(trusted.tls);
        assert_eq!(trusted.host.as_deref(), Some("scanner.example.com"));
        let untrusted = gate(true, false).client(&headers, None, ip("127.0.0.1"));
        assert_eq!(untrusted.ip, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert!(!untrusted.tls, "a client cannot claim TLS");
        assert_eq!(untrusted.host.as_deref(), Some("127.0.0.1:3000"));
        assert!(untrusted.proxied);
    }

    #[test]
    fn changes_from_other_sites_are_refused() {
        let gate = gate(false, false);
        let check = |pairs: &[(&str, &str)]| {
            let headers = headers(pairs);
            let client = gate.client(&headers, None, ip("127.0.0.1"));
            gate.admit(
                &Method::POST,
                &headers,
                &client,
                &Identity::LocalOwner,
                Access::Owner,
            )
        };
        let host = ("host", "127.0.0.1:3000");
        assert!(check(&[host, ("sec-fetch-site", "same-origin")]).is_ok());
        assert!(check(&[host, ("sec-fetch-site", "none")]).is_ok());
        assert!(matches!(
            check(&[host, ("sec-fetch-site", "cross-site")]),
            Err(ApiError::CrossSite(_))
        ));
        assert!(matches!(
            check(&[host, ("sec-fetch-site", "same-site")]),
            Err(ApiError::CrossSite(_))
        ));
        assert!(check(&[host, ("origin", "http://127.0.0.1:3000")]).is_ok());
        let foreign = check(&[host, ("origin", "http://evil.example")]).unwrap_err();
        assert_eq!(
            foreign.to_string(),
            "cross-site request refused: Origin http://evil.example is not this server (http://127.0.0.1:3000); \
             changes are only accepted from this server's own pages"
        );
        assert!(check(&[host, ("origin", "null")]).is_err());
        assert!(
            check(&[host]).is_ok(),
            "no browser, no forgery (curl, scripts)"
        );
    }

    #[test]
    fn a_session_needs_its_csrf_token_for_changes() {
        let gate = gate(true, false);
        let session = gate.sessions.start();
        let identity = Identity::Session(session.clone());
        let check = |method: Method, pairs: &[(&str, &str)]| {
            let headers = headers(pairs);
            let client = gate.client(&headers, None, ip("198.51.100.3"));
            gate.admit(&method, &headers, &client, &identity, Access::Owner)
        };
        let same = ("sec-fetch-site", "same-origin");
        assert!(check(Method::POST, &[same, ("x-csrf-token", &session.csrf_token)]).is_ok());
        assert!(matches!(
            check(Method::POST, &[same]),
            Err(ApiError::CsrfToken)
        ));
        assert!(matches!(
            check(Method::PUT, &[same, ("x-csrf-token", "0000")]),
            Err(ApiError::CsrfToken)
        ));
        assert!(check(Method::GET, &[same]).is_ok(), "reads need no token");
        assert!(matches!(
            check(
                Method::POST,
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("x-csrf-token", &session.csrf_token)
                ]
            ),
            Err(ApiError::CrossSite(_))
        ));
    }

    #[test]
    fn loopback_names_are_recognised() {
        for host in [
            "localhost",
            "LOCALHOST:3000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:3000",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "10.0.0.1:3000",
            "localhost.evil.example",
            "[2001:db8::1]:3000",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
