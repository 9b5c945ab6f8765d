//! A small HTTP fake for the sources tests that runs inside the test's own
//! runtime: an axum app on 127.0.0.1:0 spawned as a task, so it shares the
//! test's paused tokio clock (wiremock answers from a thread of its own,
//! which races a paused clock that advances whenever the runtime idles).
//!
//! The test gives the protocol as a function from request to reply;
//! scripted replies answer the next N matching requests first (a 429, a
//! ban, a 5xx); every request is logged with its arrival on the tokio clock.
//! Include it with `#[path = "common/http_fake.rs"] mod http_fake;`.

#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// When it arrived, on the test's tokio clock.
    pub at: Instant,
    /// Answered by a scripted reply rather than the protocol function.
    pub scripted: bool,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A response to send.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, value: serde_json::Value) -> Reply {
        Reply::text(status, &value.to_string()).header("content-type", "application/json")
    }

    pub fn text(status: u16, text: &str) -> Reply {
        Reply {
            body: text.as_bytes().to_vec(),
            ..Reply::status(status)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (
            StatusCode::from_u16(self.status).expect("a valid status"),
            self.body,
        )
            .into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
                HeaderValue::from_str(&value).expect("a valid header value"),
            );
        }
        response
    }
}

type Protocol = dyn Fn(&Received) -> Reply + Send + Sync;

struct Script {
    path_prefix: String,
    remaining: usize,
    reply: Reply,
}

struct Fake {
    protocol: Box<Protocol>,
    scripts: Mutex<Vec<Script>>,
    log: Mutex<Vec<Received>>,
}

/// A running fake; clones share it.
#[derive(Clone)]
pub struct FakeServer {
    /// `http://127.0.0.1:<port>`
    pub uri: String,
    fake: Arc<Fake>,
}

impl FakeServer {
    /// Serves `protocol` on a free loopback port, as a task of the current runtime.
    pub async fn start(
        protocol: impl Fn(&Received) -> Reply + Send + Sync + 'static,
    ) -> FakeServer {
        let fake = Arc::new(Fake {
            protocol: Box::new(protocol),
            scripts: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(handle).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let uri = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the fake serves") });
        FakeServer { uri, fake }
    }

    /// The next `times` requests whose path starts with `path_prefix` get
    /// `reply` instead of the protocol's answer (earlier scripts first).
    pub fn script(&self, path_prefix: &str, times: usize, reply: Reply) {
        self.fake.scripts.lock().unwrap().push(Script {
            path_prefix: path_prefix.to_string(),
            remaining: times,
            reply,
        });
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.fake.log.lock().unwrap().clone()
    }

    /// The requests the protocol function answered.
    pub fn protocol_requests(&self) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| !r.scripted)
            .collect()
    }
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let mut received = Received {
        method,
        path: uri.path().to_string(),
        query,
        headers,
        body: body.to_vec(),
        at: Instant::now(),
        scripted: false,
    };
    let scripted = {
        let mut scripts = fake.scripts.lock().unwrap();
        scripts
            .iter_mut()
            .find(|s| s.remaining > 0 && received.path.starts_with(&s.path_prefix))
            .map(|s| {
                s.remaining -= 1;
                s.reply.clone()
            })
    };
    received.scripted = scripted.is_some();
    let reply = scripted.unwrap_or_else(|| (fake.protocol)(&received));
    fake.log.lock().unwrap().push(received);
    reply
}

/// The most weight that arrived within any `window`, from `(arrival, weight)`
/// pairs: what a server that counts on receipt would have seen at its busiest.
pub fn busiest_window(arrivals: &[(Instant, u32)], window: std::time::Duration) -> u32 {
    arrivals
        .iter()
        .map(|&(start, _)| {
            arrivals
                .iter()
                .filter(|&&(at, _)| at >= start && at - start < window)
                .map(|&(_, w)| w)
                .sum()
        })
        .max()
        .unwrap_or(0)
}
