//! Owner sessions: a sign-in starts one, its id travels in the
//! `quantpro_session` cookie (HttpOnly, SameSite=Strict, Path=/, Max-Age,
//! Secure when the request came over TLS), and it ends at sign-out or when
//! its time is up. Each session has its own CSRF token, which the signed-in
//! page sends back in `X-CSRF-Token` with every action.
//!
//! Sessions live in memory: a restart signs the owner out. Expiry uses
//! `tokio::time::Instant`, so tests move the paused clock instead of waiting.

use axum::http::{header, HeaderMap, HeaderValue};
use quantpro_service::password::random_token;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

pub const SESSION_COOKIE: &str = "quantpro_session";

/// More live sessions than this (sign-ins from many browsers) drop the
/// oldest ones.
const MAX_SESSIONS: usize = 64;

/// A live session, as the request that carries its cookie sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub csrf_token: String,
    expires: Instant,
}

impl Session {
    /// How long the session has left (the cookie's Max-Age at sign-in).
    pub fn remaining(&self) -> Duration {
        self.expires.saturating_duration_since(Instant::now())
    }
}

#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    live: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    pub fn new(ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            live: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new session of `ttl` with fresh random id and CSRF token.
    pub fn start(&self) -> Session {
        let now = Instant::now();
        let session = Session {
            id: random_token(),
            csrf_token: random_token(),
            expires: now + self.ttl,
        };
        let mut live = self.lock();
        live.retain(|_, s| s.expires > now);
        while live.len() >= MAX_SESSIONS {
            let oldest = live
                .values()
                .min_by_key(|s| s.expires)
                .map(|s| s.id.clone());
            match oldest {
                Some(id) => live.remove(&id),
                None => break,
            };
        }
        live.insert(session.id.clone(), session.clone());
        session
    }

    /// The live session of `id`; an expired one is dropped and is `None`.
    pub fn find(&self, id: &str) -> Option<Session> {
        let mut live = self.lock();
        match live.get(id) {
            Some(session) if session.expires > Instant::now() => Some(session.clone()),
            Some(_) => {
                live.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends the session of `id` (sign-out); unknown ids are ignored.
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `Set-Cookie` value that hands a session of `max_age` (the store's
/// ttl) to the browser.
pub fn session_cookie(session: &Session, max_age: Duration, secure: bool) -> HeaderValue {
    cookie(&session.id, max_age.as_secs(), secure)
}

/// The `Set-Cookie` value that makes the browser forget its session cookie.
pub fn cleared_cookie(secure: bool) -> HeaderValue {
    cookie("", 0, secure)
}

fn cookie(value: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&text).expect("a cookie of hex digits and fixed text is a valid header")
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_session_lives_for_its_ttl_then_is_gone() {
        let sessions = Sessions::new(Duration::from_secs(3600));
        let session = sessions.start();
        assert_ne!(session.id, session.csrf_token);
        assert_eq!(sessions.find(&session.id), Some(session.clone()));
        tokio::time::advance(Duration::from_secs(3599)).await;
        assert!(sessions.find(&session.id).is_some(), "one second left");
        assert_eq!(session.remaining(), Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(sessions.find(&session.id), None, "expired");
        assert!(sessions.find("not-a-session").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn sign_out_ends_only_its_session_and_old_ones_make_room() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let (a, b) = (sessions.start(), sessions.start());
        sessions.end(&a.id);
        assert!(sessions.find(&a.id).is_none());
        assert!(sessions.find(&b.id).is_some());
        for _ in 0..MAX_SESSIONS {
            tokio::time::advance(Duration::from_millis(10)).await;
            sessions.start();
        }
        assert!(sessions.find(&b.id).is_none(), "the oldest was dropped");
        assert_eq!(sessions.lock().len(), MAX_SESSIONS);
    }

    #[tokio::test(start_paused = true)]
    async fn cookies_carry_the_flags_and_parse_back() {
        let sessions = Sessions::new(Duration::from_secs(7200));
        let session = sessions.start();
        let plain = session_cookie(&session, sessions.ttl(), false);
        assert_eq!(
            plain.to_str().unwrap(),
            format!(
                "quantpro_session={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=7200",
                session.id
            )
        );
        assert!(session_cookie(&session, sessions.ttl(), true)
            .to_str()
            .unwrap()
            .ends_with("; Secure"));
        assert_eq!(
            cleared_cookie(false).to_str().unwrap(),
            "quantpro_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );

        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; quantpro_session=abc123 ; x=1"),
        );
        assert_eq!(cookie_value(&headers, SESSION_COOKIE), Some("abc123"));
        assert_eq!(cookie_value(&headers, "missing"), None);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("quantpro_session="),
        );
        assert_eq!(cookie_value(&headers, SESSION_COOKIE), None);
    }
}
