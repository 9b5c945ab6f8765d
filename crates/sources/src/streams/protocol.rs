//! What differs between venues, behind one trait: the connection URL, the
//! subscribe and ping messages, and the decoding of a text frame into what
//! the connection acts on. The venue modules (`binance`, `hyperliquid`,
//! `mexc`) implement it; `connection` drives any of them the same way.

use super::{StreamKey, Venue};
use quantpro_model::Candle;
use quantpro_model::Interval;

/// Which pending subscribe message an answer belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AckRef {
    /// The request id (Binance).
    Id(u64),
    /// The subscription itself (Hyperliquid).
    Key(StreamKey),
    /// The oldest pending one: the answer does not say (MEXC).
    Oldest,
}

/// A subscribe message and how its answer is recognised.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    pub text: String,
    pub ack: AckRef,
}

/// A decoded text frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Inbound {
    /// A kline push. `closed` is the venue's flag where it has one; volume
    /// is in contracts where [`Protocol::volume_in_contracts`].
    Kline {
        symbol: String,
        interval: Interval,
        candle: Candle,
        closed: Option<bool>,
    },
    /// A subscription was accepted (or was already in place).
    Ack(AckRef),
    /// A subscription was refused.
    Refused { ack: AckRef, reason: String },
    /// The answer to our ping.
    Pong,
    /// The server will restart: reconnect now.
    ServerShutdown,
    /// An error about no subscription we can name.
    ServerError(String),
    /// Anything else the venue sends that needs no action.
    Other(&'static str),
}

/// The wire protocol of one venue.
pub(crate) trait Protocol: Send + Sync + 'static {
    fn venue(&self) -> Venue;

    /// The URL to connect to; `in_url` are the keys carried by the URL
    /// itself (empty unless [`super::StreamLimits::in_url`] allows some).
    fn url(&self, base: &str, in_url: &[StreamKey]) -> String;

    /// `Err(why)` if the venue cannot have this symbol.
    fn check_symbol(&self, symbol: &str) -> Result<(), String>;

    /// One message subscribing `keys` (at most `per_message` of them).
    fn subscribe(&self, keys: &[StreamKey], id: u64) -> Control;

    /// Messages ending the subscriptions of `keys` (answers are not awaited).
    fn unsubscribe(&self, keys: &[StreamKey], id: u64) -> Vec<String>;

    /// The application-level ping, if the venue expects one.
    fn ping(&self) -> Option<String> {
        None
    }

    /// Decodes one text frame (possibly several klines).
    fn decode(&self, text: &str) -> Result<Vec<Inbound>, String>;

    /// The venue flags closed candles (Binance `x`).
    fn flags_closes(&self) -> bool {
        false
    }

    /// The venue refuses a subscription by closing the socket (Hyperliquid,
    /// for an unknown coin), rather than with a message.
    fn refuses_by_closing(&self) -> bool {
        false
    }

    /// Kline volume comes in contracts (MEXC contract streams).
    fn volume_in_contracts(&self) -> bool {
        false
    }

    /// Expected pushes per second per subscription, for flood detection.
    fn pushes_per_second(&self) -> f64;
}

/// Reads a JSON frame, naming the problem when it is not one.
pub(crate) fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))
}

/// A field as a string, or why not.
pub(crate) fn str_field<'a>(
    value: &'a serde_json::Value,
    name: &'static str,
) -> Result<&'a str, String> {
    value
        .get(name)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| format!("field '{name}' missing or not a string"))
}

/// A price or volume field (number or decimal string), finite.
pub(crate) fn number_field(value: &serde_json::Value, name: &'static str) -> Result<f64, String> {
    value
        .get(name)
        .and_then(crate::json_fields::json_number)
        .ok_or_else(|| format!("field '{name}' missing or not a finite number"))
}

/// An integer time field.
pub(crate) fn millis_field(value: &serde_json::Value, name: &'static str) -> Result<i64, String> {
    value
        .get(name)
        .and_then(crate::json_fields::json_millis)
        .ok_or_else(|| format!("field '{name}' missing or not an integer"))
}

/// The six candle values from fields named `t o h l c v` (or as given).
pub(crate) fn candle_fields(
    data: &serde_json::Value,
    names: [&'static str; 6],
    time_scale: i64,
) -> Result<Candle, String> {
    let [t, o, h, l, c, v] = names;
    let t = millis_field(data, t)?
        .checked_mul(time_scale)
        .ok_or("open time overflows")?;
    Ok(Candle {
        t,
        o: number_field(data, o)?,
        h: number_field(data, h)?,
        l: number_field(data, l)?,
        c: number_field(data, c)?,
        v: number_field(data, v)?,
    })
}
