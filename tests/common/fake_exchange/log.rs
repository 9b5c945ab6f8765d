//! What the fake was asked and did, for assertions: one record per REST
//! request and per notable stream event.

use super::Venue;
use serde_json::Value;
use std::sync::Mutex;

/// One REST request.
#[derive(Debug, Clone)]
pub struct RestRecord {
    pub venue: Venue,
    pub method: String,
    pub path: String,
    /// The raw query string ("" without one).
    pub query: String,
    /// The JSON body (Hyperliquid `/info`).
    pub body: Option<Value>,
    pub status: u16,
    /// Weight charged (0 when refused).
    pub weight: u32,
    /// Arrived while the IP was banned.
    pub during_ban: bool,
    /// Market time of arrival.
    pub at_ms: i64,
}

impl RestRecord {
    /// A query parameter's value.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }
}

/// A stream event.
#[derive(Debug, Clone, PartialEq)]
pub enum WsKind {
    /// A socket was accepted (path and query as asked).
    Opened(String),
    /// A connection attempt refused (outage).
    Refused,
    /// A text message from the client.
    ClientText(String),
    /// A pong frame; `matched`: it carried the payload of our last ping.
    Pong { matched: bool },
    /// A protocol ping frame sent to the client.
    PingSent,
    /// The client broke a limit (rate, stream count, pong deadline, idle).
    Breach(String),
    /// The socket ended, and why.
    Closed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct WsRecord {
    pub venue: Venue,
    pub connection: u64,
    pub at_ms: i64,
    pub kind: WsKind,
}

#[derive(Debug, Default)]
pub struct Log {
    rest: Mutex<Vec<RestRecord>>,
    ws: Mutex<Vec<WsRecord>>,
}

impl Log {
    pub(crate) fn rest_request(&self, record: RestRecord) {
        self.rest.lock().unwrap().push(record);
    }

    pub(crate) fn ws_event(&self, venue: Venue, connection: u64, at_ms: i64, kind: WsKind) {
        self.ws.lock().unwrap().push(WsRecord {
            venue,
            connection,
            at_ms,
            kind,
        });
    }

    /// Every REST request to `venue`, in order.
    pub fn rest(&self, venue: Venue) -> Vec<RestRecord> {
        self.rest
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.venue == venue)
            .cloned()
            .collect()
    }

    /// REST requests that reached `venue` while it had banned the IP.
    pub fn requests_during_ban(&self, venue: Venue) -> Vec<RestRecord> {
        self.rest(venue)
            .into_iter()
            .filter(|r| r.during_ban)
            .collect()
    }

    /// Every stream event of `venue`, in order.
    pub fn ws(&self, venue: Venue) -> Vec<WsRecord> {
        self.ws
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.venue == venue)
            .cloned()
            .collect()
    }

    /// Stream connections accepted by `venue`.
    pub fn connections(&self, venue: Venue) -> usize {
        self.ws(venue)
            .iter()
            .filter(|r| matches!(r.kind, WsKind::Opened(_)))
            .count()
    }

    /// Limits the clients broke on `venue`.
    pub fn breaches(&self, venue: Venue) -> Vec<String> {
        self.ws(venue)
            .into_iter()
            .filter_map(|r| match r.kind {
                WsKind::Breach(why) => Some(why),
                _ => None,
            })
            .collect()
    }

    /// Text messages clients sent to `venue`, with their market time.
    pub fn client_messages(&self, venue: Venue) -> Vec<(i64, String)> {
        self.ws(venue)
            .into_iter()
            .filter_map(|r| match r.kind {
                WsKind::ClientText(text) => Some((r.at_ms, text)),
                _ => None,
            })
            .collect()
    }
}
