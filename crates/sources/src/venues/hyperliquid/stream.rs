//! Hyperliquid `candle` subscriptions (EXTERNAL_APIS.md §9.2).
//!
//! One message per coin and interval:
//! `{"method":"subscribe","subscription":{"type":"candle","coin":"BTC","interval":"15m"}}`,
//! answered by a `subscriptionResponse` echoing the subscription. Pushes are
//! `{"channel":"candle","data":{...}}` with the whole current candle; the
//! docs say `data` is an array of numbers, the wire sends one object of
//! decimal strings: both are read. No close flag. Heartbeat:
//! `{"method":"ping"}` -> `{"channel":"pong"}`. A duplicate subscribe is
//! answered `Already subscribed` (taken as an acknowledgement); an unknown
//! coin makes the server close the socket. A non-JSON greeting is ignored.

use crate::streams::protocol::{
    candle_fields, parse_json, str_field, AckRef, BadSymbol, Control, FrameError, Inbound, Protocol,
};
use crate::streams::{StreamKey, Venue};
use quantpro_model::Interval;
use serde_json::{json, Value};

/// The greeting text some servers send on connect (not JSON).
const GREETING: &str = "Websocket connection established";

pub(crate) struct Hyperliquid;

fn subscription(key: &StreamKey) -> Value {
    json!({"type": "candle", "coin": key.symbol, "interval": key.interval.as_str()})
}

/// The key a `{"type":"candle","coin","interval"}` object names.
fn key_of(subscription: &Value) -> Option<StreamKey> {
    if subscription.get("type")?.as_str()? != "candle" {
        return None;
    }
    Some(StreamKey {
        venue: Venue::Hyperliquid,
        symbol: subscription.get("coin")?.as_str()?.to_string(),
        interval: subscription.get("interval")?.as_str()?.parse().ok()?,
    })
}

impl Protocol for Hyperliquid {
    fn venue(&self) -> Venue {
        Venue::Hyperliquid
    }

    fn url(&self, base: &str, _in_url: &[StreamKey]) -> String {
        base.to_string()
    }

    fn check_symbol(&self, coin: &str) -> Result<(), BadSymbol> {
        // Perp names are case-sensitive (`kPEPE`); spot names look like `@107`.
        let ok = !coin.is_empty()
            && coin.len() <= 32
            && coin
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '/' | ':' | '-'));
        ok.then_some(()).ok_or_else(|| BadSymbol {
            symbol: coin.to_string(),
            expected: "a Hyperliquid coin name (e.g. BTC, kPEPE)",
        })
    }

    fn subscribe(&self, keys: &[StreamKey], _id: u64) -> Control {
        let key = &keys[0];
        Control {
            text: json!({"method": "subscribe", "subscription": subscription(key)}).to_string(),
            ack: AckRef::Key(key.clone()),
        }
    }

    fn unsubscribe(&self, keys: &[StreamKey], _id: u64) -> Vec<String> {
        keys.iter()
            .map(|k| json!({"method": "unsubscribe", "subscription": subscription(k)}).to_string())
            .collect()
    }

    fn ping(&self) -> Option<String> {
        Some(r#"{"method":"ping"}"#.into())
    }

    fn decode(&self, text: &str) -> Result<Vec<Inbound>, FrameError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with(GREETING) {
            return Ok(vec![Inbound::Other("greeting")]);
        }
        let frame = parse_json(trimmed)?;
        let data = frame.get("data").unwrap_or(&Value::Null);
        match str_field(&frame, "channel")? {
            "candle" => candles(data),
            "pong" => Ok(vec![Inbound::Pong]),
            "subscriptionResponse" => Ok(vec![subscription_response(data)]),
            "error" => Ok(vec![error(data)]),
            _ => Ok(vec![Inbound::Other("another channel")]),
        }
    }

    fn refuses_by_closing(&self) -> bool {
        true
    }

    fn pushes_per_second(&self) -> f64 {
        // About 1-2 per second on BTC, driven by trades.
        2.0
    }
}

/// `data` as one candle object or an array of them.
fn candles(data: &Value) -> Result<Vec<Inbound>, FrameError> {
    let items: Vec<&Value> = match data {
        Value::Array(items) if !items.is_empty() => items.iter().collect(),
        Value::Object(_) => vec![data],
        _ => return Err(FrameError::NoCandle),
    };
    items.into_iter().map(candle).collect()
}

fn candle(data: &Value) -> Result<Inbound, FrameError> {
    let code = str_field(data, "i")?;
    let interval: Interval = code
        .parse()
        .map_err(|_| FrameError::UnknownInterval(code.to_string()))?;
    Ok(Inbound::Kline {
        symbol: str_field(data, "s")?.to_string(),
        interval,
        candle: candle_fields(data, ["t", "o", "h", "l", "c", "v"], 1)?,
        closed: None,
    })
}

fn subscription_response(data: &Value) -> Inbound {
    let method = data.get("method").and_then(Value::as_str);
    match (method, data.get("subscription").and_then(key_of)) {
        (Some("subscribe"), Some(key)) => Inbound::Ack(AckRef::Key(key)),
        _ => Inbound::Other("subscription response"),
    }
}

/// `Already subscribed: {...}` is an acknowledgement; another error naming
/// a candle subscription refuses it.
fn error(data: &Value) -> Inbound {
    let text = data
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| data.to_string());
    let named = text
        .find('{')
        .and_then(|start| serde_json::from_str::<Value>(&text[start..]).ok())
        .and_then(|sub| key_of(&sub));
    match named {
        Some(key) if text.starts_with("Already subscribed") => Inbound::Ack(AckRef::Key(key)),
        Some(key) => Inbound::Refused {
            ack: AckRef::Key(key),
            reason: text,
        },
        None => Inbound::ServerError(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::Candle;

    fn btc() -> StreamKey {
        StreamKey {
            venue: Venue::Hyperliquid,
            symbol: "BTC".into(),
            interval: Interval::M15,
        }
    }

    fn expected() -> Inbound {
        Inbound::Kline {
            symbol: "BTC".into(),
            interval: Interval::M15,
            candle: Candle {
                t: 1721088000000,
                o: 64010.0,
                h: 64120.0,
                l: 63990.0,
                c: 64080.0,
                v: 152.34,
            },
            closed: None,
        }
    }

    #[test]
    fn candles_come_as_strings_or_numbers_in_an_object_or_an_array() {
        let h = Hyperliquid;
        let strings = r#"{"channel":"candle","data":{"t":1721088000000,"T":1721088899999,"s":"BTC","i":"15m",
            "o":"64010.0","c":"64080.0","h":"64120.0","l":"63990.0","v":"152.34","n":1890}}"#;
        let numbers = r#"{"channel":"candle","data":[{"t":1721088000000,"T":1721088899999,"s":"BTC","i":"15m",
            "o":64010.0,"c":64080.0,"h":64120.0,"l":63990.0,"v":152.34,"n":1890}]}"#;
        assert_eq!(h.decode(strings).unwrap(), vec![expected()]);
        assert_eq!(h.decode(numbers).unwrap(), vec![expected()]);
    }

    #[test]
    fn answers_greeting_and_errors() {
        let h = Hyperliquid;
        let sub = h.subscribe(&[btc()], 0);
        assert_eq!(
            serde_json::from_str::<Value>(&sub.text).unwrap(),
            json!({"method":"subscribe","subscription":{"type":"candle","coin":"BTC","interval":"15m"}})
        );
        let response = r#"{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"candle","coin":"BTC","interval":"15m"}}}"#;
        assert_eq!(
            h.decode(response).unwrap(),
            vec![Inbound::Ack(AckRef::Key(btc()))]
        );
        let already = r#"{"channel":"error","data":"Already subscribed: {\"type\":\"candle\",\"coin\":\"BTC\",\"interval\":\"15m\"}"}"#;
        assert_eq!(
            h.decode(already).unwrap(),
            vec![Inbound::Ack(AckRef::Key(btc()))]
        );
        assert_eq!(
            h.decode(r#"{"channel":"error","data":"Bad things"}"#)
                .unwrap(),
            vec![Inbound::ServerError("Bad things".into())]
        );
        assert_eq!(
            h.decode(r#"{"channel":"pong"}"#).unwrap(),
            vec![Inbound::Pong]
        );
        assert_eq!(
            h.decode("Websocket connection established.").unwrap(),
            vec![Inbound::Other("greeting")]
        );
        assert!(matches!(
            h.decode("hello there"),
            Err(FrameError::NotJson(_))
        ));
        assert_eq!(
            h.decode(r#"{"channel":"candle","data":[]}"#)
                .unwrap_err()
                .to_string(),
            "candle data is neither an object nor a non-empty array"
        );
        assert_eq!(
            h.decode(r#"{"data":1}"#).unwrap_err().to_string(),
            "field 'channel' missing or not a string"
        );
        assert!(h.check_symbol("kPEPE").is_ok());
        assert!(h.check_symbol("BTC USD").is_err());
    }
}
