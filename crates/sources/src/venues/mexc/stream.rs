//! MEXC contract kline streams (EXTERNAL_APIS.md §9.3).
//!
//! `{"method":"sub.kline","param":{"symbol":"BTC_USDT","interval":"Min15"}}`
//! is answered `{"channel":"rs.sub.kline","data":"success"}` or
//! `{"channel":"rs.error","data":"contract not exists"}`, neither naming the
//! symbol: subscriptions go one at a time (`StreamLimits::in_flight` = 1).
//! Pushes: `{"channel":"push.kline","data":{"symbol","interval","t",...}}`
//! with `t` in **seconds**, JSON-number prices, `q` in contracts (the
//! connection multiplies by the contract size), undocumented `r*` fields
//! ignored. No close flag. Heartbeat `{"method":"ping"}` every 10-20 s ->
//! `{"channel":"pong"}`. Frames may come gzipped in binary messages (the
//! connection inflates them before `decode`).

use crate::streams::protocol::{
    candle_fields, parse_json, str_field, AckRef, BadSymbol, Control, FrameError, Inbound, Protocol,
};
use crate::streams::{StreamKey, Venue};
use quantpro_model::Interval;
use serde_json::{json, Value};

pub(crate) struct MexcContract;

fn interval_code(interval: Interval) -> &'static str {
    match interval {
        Interval::M15 => "Min15",
        Interval::H1 => "Min60",
        Interval::H4 => "Hour4",
        Interval::D1 => "Day1",
    }
}

fn interval_of(code: &str) -> Option<Interval> {
    Interval::ALL
        .iter()
        .copied()
        .find(|&i| interval_code(i) == code)
}

impl Protocol for MexcContract {
    fn venue(&self) -> Venue {
        Venue::MexcFutures
    }

    fn url(&self, base: &str, _in_url: &[StreamKey]) -> String {
        base.to_string()
    }

    fn check_symbol(&self, symbol: &str) -> Result<(), BadSymbol> {
        let ok = symbol.len() <= 32
            && symbol.split_once('_').is_some_and(|(base, quote)| {
                let part = |s: &str| {
                    !s.is_empty()
                        && s.chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                };
                part(base) && part(quote)
            });
        ok.then_some(()).ok_or_else(|| BadSymbol {
            symbol: symbol.to_string(),
            expected: "a MEXC contract (BASE_QUOTE, e.g. BTC_USDT)",
        })
    }

    fn subscribe(&self, keys: &[StreamKey], _id: u64) -> Control {
        let key = &keys[0];
        Control {
            text: json!({"method": "sub.kline", "param": {"symbol": key.symbol, "interval": interval_code(key.interval)}})
                .to_string(),
            ack: AckRef::Oldest,
        }
    }

    fn unsubscribe(&self, keys: &[StreamKey], _id: u64) -> Vec<String> {
        // The doc's unsubscribe names only the symbol (CHECK: whether that
        // drops every interval); we name the interval too.
        keys.iter()
            .map(|k| {
                json!({"method": "unsub.kline", "param": {"symbol": k.symbol, "interval": interval_code(k.interval)}})
                    .to_string()
            })
            .collect()
    }

    fn ping(&self) -> Option<String> {
        Some(r#"{"method":"ping"}"#.into())
    }

    fn decode(&self, text: &str) -> Result<Vec<Inbound>, FrameError> {
        let frame = parse_json(text)?;
        let data = frame.get("data").unwrap_or(&Value::Null);
        let answer = || {
            data.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| data.to_string())
        };
        Ok(vec![match str_field(&frame, "channel")? {
            "push.kline" => kline(data)?,
            "pong" => Inbound::Pong,
            "rs.sub.kline" if data.as_str() == Some("success") => Inbound::Ack(AckRef::Oldest),
            "rs.sub.kline" | "rs.error" => Inbound::Refused {
                ack: AckRef::Oldest,
                reason: answer(),
            },
            _ => Inbound::Other("another channel"),
        }])
    }

    fn volume_in_contracts(&self) -> bool {
        true
    }

    fn pushes_per_second(&self) -> f64 {
        // Pushed on every trade: undocumented, taken high.
        10.0
    }
}

fn kline(data: &Value) -> Result<Inbound, FrameError> {
    let code = str_field(data, "interval")?;
    let interval =
        interval_of(code).ok_or_else(|| FrameError::UnknownInterval(code.to_string()))?;
    Ok(Inbound::Kline {
        symbol: str_field(data, "symbol")?.to_string(),
        interval,
        candle: candle_fields(data, ["t", "o", "h", "l", "c", "q"], 1000)?,
        closed: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::Candle;

    #[test]
    fn the_documented_push_decodes_with_time_in_seconds_and_volume_in_contracts() {
        let text = r#"{"channel":"push.kline","symbol":"BTC_USDT","ts":1721088901234,"data":{"symbol":"BTC_USDT",
            "interval":"Min15","t":1721088000,"o":64010.5,"c":64080.0,"h":64120.0,"l":63990.0,
            "a":97512345.1,"q":15234,"ro":64010.5,"rc":64080.0,"rh":64120.0,"rl":63990.0}}"#;
        assert_eq!(
            MexcContract.decode(text).unwrap(),
            vec![Inbound::Kline {
                symbol: "BTC_USDT".into(),
                interval: Interval::M15,
                candle: Candle {
                    t: 1721088000000,
                    o: 64010.5,
                    h: 64120.0,
                    l: 63990.0,
                    c: 64080.0,
                    v: 15234.0
                },
                closed: None,
            }]
        );
    }

    #[test]
    fn acks_name_no_symbol_and_errors_refuse_the_oldest_pending() {
        let m = MexcContract;
        assert_eq!(
            m.decode(r#"{"channel":"rs.sub.kline","data":"success","ts":1}"#)
                .unwrap(),
            vec![Inbound::Ack(AckRef::Oldest)]
        );
        assert_eq!(
            m.decode(r#"{"channel":"rs.error","data":"contract not exists"}"#)
                .unwrap(),
            vec![Inbound::Refused {
                ack: AckRef::Oldest,
                reason: "contract not exists".into()
            }]
        );
        assert_eq!(
            m.decode(r#"{"channel":"pong","data":1587453241453}"#)
                .unwrap(),
            vec![Inbound::Pong]
        );
        let control = m.subscribe(
            &[StreamKey {
                venue: Venue::MexcFutures,
                symbol: "BTC_USDT".into(),
                interval: Interval::H1,
            }],
            0,
        );
        assert_eq!(
            serde_json::from_str::<Value>(&control.text).unwrap(),
            json!({"method":"sub.kline","param":{"symbol":"BTC_USDT","interval":"Min60"}})
        );
        assert!(m.check_symbol("BTC_USDT").is_ok());
        assert_eq!(
            m.check_symbol("BTCUSDT").unwrap_err().to_string(),
            "'BTCUSDT' is not a MEXC contract (BASE_QUOTE, e.g. BTC_USDT)"
        );
        let five = r#"{"channel":"push.kline","data":{"symbol":"BTC_USDT","interval":"Min5","t":1721088000}}"#;
        assert_eq!(
            m.decode(five).unwrap_err().to_string(),
            "unknown interval 'Min5'"
        );
    }
}
