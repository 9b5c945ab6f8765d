//! Binance spot and USD-M kline streams (EXTERNAL_APIS.md §9.1).
//!
//! Combined streams: `<base>/stream?streams=btcusdt@kline_15m/...` (names
//! lowercase), every frame wrapped as `{"stream", "data"}`. Further streams
//! are added with `{"method":"SUBSCRIBE","params":[...],"id":n}`, answered
//! `{"result":null,"id":n}` or `{"code":2,"msg":"...","id":n}`. The kline's
//! `x` flags the close; prices are strings. The server sends protocol ping
//! frames (tungstenite answers each with a pong of the same payload) and
//! announces restarts with `serverShutdown`. The futures base is
//! `wss://fstream.binance.com/market` (the legacy URL sends no klines).

use crate::streams::protocol::{
    candle_fields, millis_field, parse_json, str_field, AckRef, BadSymbol, Control, FieldType,
    FrameError, Inbound, Protocol,
};
use crate::streams::{StreamKey, Venue};
use quantpro_model::Interval;
use serde_json::{json, Value};

pub(crate) struct Binance {
    venue: Venue,
}

impl Binance {
    pub(crate) fn spot() -> Binance {
        Binance {
            venue: Venue::BinanceSpot,
        }
    }

    pub(crate) fn futures() -> Binance {
        Binance {
            venue: Venue::BinanceFutures,
        }
    }
}

/// `btcusdt@kline_15m`: Binance spells our intervals as we do.
fn stream_name(key: &StreamKey) -> String {
    format!(
        "{}@kline_{}",
        key.symbol.to_ascii_lowercase(),
        key.interval.as_str()
    )
}

impl Protocol for Binance {
    fn venue(&self) -> Venue {
        self.venue
    }

    fn url(&self, base: &str, in_url: &[StreamKey]) -> String {
        if in_url.is_empty() {
            return format!("{base}/stream");
        }
        let names: Vec<String> = in_url.iter().map(stream_name).collect();
        format!("{base}/stream?streams={}", names.join("/"))
    }

    fn check_symbol(&self, symbol: &str) -> Result<(), BadSymbol> {
        let ok = !symbol.is_empty()
            && symbol.len() <= 32
            && symbol
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        ok.then_some(()).ok_or_else(|| BadSymbol {
            symbol: symbol.to_string(),
            expected: "a Binance symbol (uppercase letters and digits, e.g. BTCUSDT)",
        })
    }

    fn subscribe(&self, keys: &[StreamKey], id: u64) -> Control {
        let names: Vec<String> = keys.iter().map(stream_name).collect();
        Control {
            text: json!({"method": "SUBSCRIBE", "params": names, "id": id}).to_string(),
            ack: AckRef::Id(id),
        }
    }

    fn unsubscribe(&self, keys: &[StreamKey], id: u64) -> Vec<String> {
        let names: Vec<String> = keys.iter().map(stream_name).collect();
        vec![json!({"method": "UNSUBSCRIBE", "params": names, "id": id}).to_string()]
    }

    fn decode(&self, text: &str) -> Result<Vec<Inbound>, FrameError> {
        let frame = parse_json(text)?;
        if let Some(answer) = control_answer(&frame) {
            return Ok(vec![answer]);
        }
        // Combined streams wrap each event; a raw stream does not.
        let data = frame.get("data").unwrap_or(&frame);
        if frame.get("stream").and_then(Value::as_str) == Some("!serverShutdown") {
            return Ok(vec![Inbound::ServerShutdown]);
        }
        match data.get("e").and_then(Value::as_str) {
            Some("kline") => Ok(vec![kline(data)?]),
            Some("serverShutdown") => Ok(vec![Inbound::ServerShutdown]),
            Some(_) => Ok(vec![Inbound::Other("another event type")]),
            None => Err(FrameError::NotAnEvent),
        }
    }

    fn flags_closes(&self) -> bool {
        true
    }

    fn pushes_per_second(&self) -> f64 {
        match self.venue {
            // Updates every 2000 ms on spot, 250 ms on futures.
            Venue::BinanceSpot => 0.5,
            _ => 4.0,
        }
    }
}

/// `{"result":null,"id":n}` or `{"code":c,"msg":"...","id":n}`.
fn control_answer(frame: &Value) -> Option<Inbound> {
    let id = frame.get("id")?;
    let id = id.as_u64();
    if let Some(code) = frame.get("code") {
        let msg = frame.get("msg").and_then(Value::as_str).unwrap_or("");
        let reason = format!("code {code}: {msg}");
        return Some(match id {
            Some(id) => Inbound::Refused {
                ack: AckRef::Id(id),
                reason,
            },
            None => Inbound::ServerError(reason),
        });
    }
    if frame.get("result").is_some_and(Value::is_null) {
        return Some(match id {
            Some(id) => Inbound::Ack(AckRef::Id(id)),
            None => Inbound::Other("answer without id"),
        });
    }
    Some(Inbound::Other("control answer"))
}

fn kline(data: &Value) -> Result<Inbound, FrameError> {
    let k = data.get("k").ok_or(FrameError::KlineMissing)?;
    let code = str_field(k, "i")?;
    let interval: Interval = code
        .parse()
        .map_err(|_| FrameError::UnknownInterval(code.to_string()))?;
    let candle = candle_fields(k, ["t", "o", "h", "l", "c", "v"], 1)?;
    let close_time = millis_field(k, "T")?;
    if close_time != candle.t + interval.millis() - 1 {
        return Err(FrameError::CloseTime {
            open_ms: candle.t,
            close_ms: close_time,
            interval,
        });
    }
    let closed = k
        .get("x")
        .and_then(Value::as_bool)
        .ok_or(FrameError::Field {
            name: "x",
            expected: FieldType::Boolean,
        })?;
    Ok(Inbound::Kline {
        symbol: str_field(k, "s")?.to_string(),
        interval,
        candle,
        closed: Some(closed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::Candle;

    fn key(symbol: &str, interval: Interval) -> StreamKey {
        StreamKey {
            venue: Venue::BinanceSpot,
            symbol: symbol.into(),
            interval,
        }
    }

    #[test]
    fn urls_and_subscribe_messages_use_lowercase_stream_names() {
        let b = Binance::spot();
        let keys = [key("BTCUSDT", Interval::M15), key("ETHUSDT", Interval::H4)];
        assert_eq!(
            b.url("wss://stream.binance.com:9443", &keys),
            "wss://stream.binance.com:9443/stream?streams=btcusdt@kline_15m/ethusdt@kline_4h"
        );
        assert_eq!(b.url("ws://x/market", &[]), "ws://x/market/stream");
        let control = b.subscribe(&keys[..1], 7);
        assert_eq!(
            serde_json::from_str::<Value>(&control.text).unwrap(),
            json!({"method": "SUBSCRIBE", "params": ["btcusdt@kline_15m"], "id": 7})
        );
        assert_eq!(control.ack, AckRef::Id(7));
        assert!(b.check_symbol("BTCUSDT").is_ok());
        assert!(b.check_symbol("btcusdt").is_err());
        assert!(b.check_symbol("BTC/USDT").is_err());
    }

    #[test]
    fn the_documented_kline_decodes_with_its_flag() {
        let text = r#"{"stream":"btcusdt@kline_15m","data":{"e":"kline","E":1721088901234,"s":"BTCUSDT","k":{
            "t":1721088000000,"T":1721088899999,"s":"BTCUSDT","i":"15m","f":100,"L":200,
            "o":"64010.00","c":"64080.00","h":"64120.00","l":"63990.00","v":"152.340","n":1890,
            "x":true,"q":"9751234.56","V":"80.120","Q":"5130001.22","B":"0"}}}"#;
        assert_eq!(
            Binance::spot().decode(text).unwrap(),
            vec![Inbound::Kline {
                symbol: "BTCUSDT".into(),
                interval: Interval::M15,
                candle: Candle {
                    t: 1721088000000,
                    o: 64010.0,
                    h: 64120.0,
                    l: 63990.0,
                    c: 64080.0,
                    v: 152.34
                },
                closed: Some(true),
            }]
        );
    }

    #[test]
    fn answers_shutdowns_and_bad_frames() {
        let b = Binance::futures();
        assert_eq!(
            b.decode(r#"{"result":null,"id":3}"#).unwrap(),
            vec![Inbound::Ack(AckRef::Id(3))]
        );
        assert_eq!(
            b.decode(r#"{"code":2,"msg":"Invalid request: bad stream","id":4}"#)
                .unwrap(),
            vec![Inbound::Refused {
                ack: AckRef::Id(4),
                reason: "code 2: Invalid request: bad stream".into()
            }]
        );
        assert_eq!(
            b.decode(
                r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}"#
            )
            .unwrap(),
            vec![Inbound::ServerShutdown]
        );
        assert_eq!(
            b.decode(r#"{"e":"serverShutdown","E":1770123456789}"#)
                .unwrap(),
            vec![Inbound::ServerShutdown]
        );
        let why = |text: &str| b.decode(text).unwrap_err();
        assert!(matches!(why("{not json"), FrameError::NotJson(_)));
        assert!(why("{not json").to_string().starts_with("not JSON ("));
        let nan = r#"{"data":{"e":"kline","k":{"t":1721088000000,"T":1721088899999,"s":"BTCUSDT","i":"15m","o":"NaN","c":"1","h":"1","l":"1","v":"1","x":false}}}"#;
        assert_eq!(
            why(nan).to_string(),
            "field 'o' missing or not a finite number"
        );
        let bad_close = r#"{"data":{"e":"kline","k":{"t":1721088000000,"T":1721088000001,"s":"BTCUSDT","i":"15m","o":"1","c":"1","h":"1","l":"1","v":"1","x":false}}}"#;
        assert_eq!(
            why(bad_close).to_string(),
            "close time 1721088000001 is not open time 1721088000000 + 15m - 1"
        );
        let no_flag = r#"{"data":{"e":"kline","k":{"t":1721088000000,"T":1721088899999,"s":"BTCUSDT","i":"15m","o":"1","c":"1","h":"1","l":"1","v":"1"}}}"#;
        assert_eq!(
            why(no_flag).to_string(),
            "field 'x' missing or not a boolean"
        );
        let five = r#"{"data":{"e":"kline","k":{"i":"5m"}}}"#;
        assert_eq!(why(five).to_string(), "unknown interval '5m'");
        assert!(matches!(
            why(r#"{"data":{"e":"kline"}}"#),
            FrameError::KlineMissing
        ));
        assert!(matches!(why(r#"{"hello":1}"#), FrameError::NotAnEvent));
    }
}
