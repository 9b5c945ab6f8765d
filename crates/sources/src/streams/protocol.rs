//! What differs between venues, behind one trait: the connection URL, the
//! subscribe and ping messages, and the decoding of a text frame into what
//! the connection acts on. The venue modules (`binance`, `hyperliquid`,
//! `mexc`) implement it; `connection` drives any of them the same way.
//! A frame that cannot be read is a [`FrameError`], whichever venue sent it.

use super::{StreamKey, Venue};
use quantpro_model::Candle;
use quantpro_model::Interval;
use std::fmt;

/// Why a frame from a stream cannot be read. The connection logs it (one
/// throttled line, with the start of the frame) and skips the frame.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("frame of {bytes} bytes exceeds {max}")]
    TooLarge { bytes: usize, max: usize },
    #[error("bad gzip data: {0}")]
    BadGzip(#[source] std::io::Error),
    /// A gzip bomb, or a frame far larger than any kline.
    #[error("gzip frame inflates beyond {limit} bytes")]
    InflatesTooFar { limit: usize },
    #[error("binary frame that is neither gzip nor UTF-8 text")]
    NotText,
    #[error("not JSON ({0})")]
    NotJson(#[source] serde_json::Error),
    #[error("field '{name}' missing or not {expected}")]
    Field {
        name: &'static str,
        expected: FieldType,
    },
    #[error("open time overflows")]
    OpenTimeOverflow,
    #[error("unknown interval '{0}'")]
    UnknownInterval(String),
    /// A kline whose close time does not end its interval (Binance `T`).
    #[error("close time {close_ms} is not open time {open_ms} + {interval} - 1")]
    CloseTime {
        open_ms: i64,
        close_ms: i64,
        interval: Interval,
    },
    /// Binance: JSON that is neither an event nor an answer to a request.
    #[error("neither a stream event nor a control answer")]
    NotAnEvent,
    /// Binance: a kline event without its kline.
    #[error("kline event without 'k'")]
    KlineMissing,
    /// Hyperliquid: a `candle` push whose `data` holds no candle.
    #[error("candle data is neither an object nor a non-empty array")]
    NoCandle,
}

/// What a frame's field should have held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    String,
    /// A number or a decimal string, finite.
    FiniteNumber,
    Integer,
    Boolean,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::String => "a string",
            FieldType::FiniteNumber => "a finite number",
            FieldType::Integer => "an integer",
            FieldType::Boolean => "a boolean",
        })
    }
}

/// A symbol the venue cannot have, refused before it is subscribed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{symbol}' is not {expected}")]
pub(crate) struct BadSymbol {
    pub symbol: String,
    /// What the venue's symbols look like: `"a MEXC contract (BASE_QUOTE, e.g. BTC_USDT)"`.
    pub expected: &'static str,
}

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
    fn check_symbol(&self, symbol: &str) -> Result<(), BadSymbol>;

    /// One message subscribing `keys` (at most `per_message` of them).
    fn subscribe(&self, keys: &[StreamKey], id: u64) -> Control;

    /// Messages ending the subscriptions of `keys` (answers are not awaited).
    fn unsubscribe(&self, keys: &[StreamKey], id: u64) -> Vec<String>;

    /// The application-level ping, if the venue expects one.
    fn ping(&self) -> Option<String> {
        None
    }

    /// Decodes one text frame (possibly several klines).
    fn decode(&self, text: &str) -> Result<Vec<Inbound>, FrameError>;

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
pub(crate) fn parse_json(text: &str) -> Result<serde_json::Value, FrameError> {
    serde_json::from_str(text).map_err(FrameError::NotJson)
}

/// A field as a string, or why not.
pub(crate) fn str_field<'a>(
    value: &'a serde_json::Value,
    name: &'static str,
) -> Result<&'a str, FrameError> {
    value
        .get(name)
        .and_then(serde_json::Value::as_str)
        .ok_or(FrameError::Field {
            name,
            expected: FieldType::String,
        })
}

/// A price or volume field (number or decimal string), finite.
pub(crate) fn number_field(
    value: &serde_json::Value,
    name: &'static str,
) -> Result<f64, FrameError> {
    value
        .get(name)
        .and_then(crate::json_fields::json_number)
        .ok_or(FrameError::Field {
            name,
            expected: FieldType::FiniteNumber,
        })
}

/// An integer time field.
pub(crate) fn millis_field(
    value: &serde_json::Value,
    name: &'static str,
) -> Result<i64, FrameError> {
    value
        .get(name)
        .and_then(crate::json_fields::json_millis)
        .ok_or(FrameError::Field {
            name,
            expected: FieldType::Integer,
        })
}

/// The six candle values from fields named `t o h l c v` (or as given).
pub(crate) fn candle_fields(
    data: &serde_json::Value,
    names: [&'static str; 6],
    time_scale: i64,
) -> Result<Candle, FrameError> {
    let [t, o, h, l, c, v] = names;
    let t = millis_field(data, t)?
        .checked_mul(time_scale)
        .ok_or(FrameError::OpenTimeOverflow)?;
    Ok(Candle {
        t,
        o: number_field(data, o)?,
        h: number_field(data, h)?,
        l: number_field(data, l)?,
        c: number_field(data, c)?,
        v: number_field(data, v)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_errors_name_the_field_and_what_it_should_hold() {
        let frame = json!({"s": 1, "o": "NaN", "t": "soon"});
        let text = |e: FrameError| e.to_string();
        assert_eq!(
            text(str_field(&frame, "s").unwrap_err()),
            "field 's' missing or not a string"
        );
        assert_eq!(
            text(number_field(&frame, "o").unwrap_err()),
            "field 'o' missing or not a finite number"
        );
        assert_eq!(
            text(millis_field(&frame, "t").unwrap_err()),
            "field 't' missing or not an integer"
        );
        assert!(
            text(parse_json("{oops").unwrap_err()).starts_with("not JSON (key must be a string")
        );
        let late = json!({"t": i64::MAX, "o": 1, "h": 1, "l": 1, "c": 1, "v": 1});
        assert!(matches!(
            candle_fields(&late, ["t", "o", "h", "l", "c", "v"], 1000),
            Err(FrameError::OpenTimeOverflow)
        ));
    }
}
