//! The master feed: the scanner's output and the dashboard's input.

use super::signal::Signal;
use serde::{Deserialize, Serialize};

/// `{"last_updated": ms, "signals": [...]}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MasterFeed {
    /// Unix milliseconds of the scan that wrote the feed.
    pub last_updated: i64,
    pub signals: Vec<Signal>,
}

/// Why a feed could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the feed is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("the feed must be an object {{\"last_updated\", \"signals\"}} or an array of signals, found {0}")]
    WrongShape(&'static str),
    #[error("the feed object has no '{0}' field")]
    MissingField(&'static str),
    #[error("signal #{index} is invalid: {source}")]
    BadSignal {
        index: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("'last_updated' must be an integer of Unix milliseconds")]
    BadTimestamp,
}

impl MasterFeed {
    /// Reads a feed in the object form, or the legacy bare-array form (whose
    /// `last_updated` is then 0: unknown). Anything else is rejected with the
    /// reason, naming the first bad signal.
    pub fn parse(text: &str) -> Result<MasterFeed, FeedError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(FeedError::Json)?;
        match value {
            serde_json::Value::Array(items) => Ok(MasterFeed {
                last_updated: 0,
                signals: parse_signals(items)?,
            }),
            serde_json::Value::Object(mut map) => {
                let last_updated = map
                    .remove("last_updated")
                    .ok_or(FeedError::MissingField("last_updated"))?
                    .as_i64()
                    .ok_or(FeedError::BadTimestamp)?;
                let signals = match map
                    .remove("signals")
                    .ok_or(FeedError::MissingField("signals"))?
                {
                    serde_json::Value::Array(items) => parse_signals(items)?,
                    other => return Err(FeedError::WrongShape(json_kind(&other))),
                };
                Ok(MasterFeed {
                    last_updated,
                    signals,
                })
            }
            other => Err(FeedError::WrongShape(json_kind(&other))),
        }
    }

    /// The feed as compact JSON (what the server and the scanner write).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a feed of finite numbers always serializes")
    }
}

fn parse_signals(items: Vec<serde_json::Value>) -> Result<Vec<Signal>, FeedError> {
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            serde_json::from_value(item).map_err(|source| FeedError::BadSignal { index, source })
        })
        .collect()
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::sample_signal;
    use crate::Strategy;

    #[test]
    fn feed_round_trips_through_json() {
        let feed = MasterFeed {
            last_updated: 1_768_556_245_031,
            signals: vec![
                sample_signal("BTCUSDT", Strategy::Legacy),
                sample_signal("ETHUSDT", Strategy::BreakoutV2),
            ],
        };
        let text = feed.to_json();
        assert_eq!(MasterFeed::parse(&text).unwrap(), feed);
        assert!(text.starts_with("{\"last_updated\":1768556245031,\"signals\":["));
    }

    #[test]
    fn legacy_array_form_is_accepted() {
        let signals = vec![sample_signal("SOLUSDT", Strategy::Breakout)];
        let text = serde_json::to_string(&signals).unwrap();
        let feed = MasterFeed::parse(&text).unwrap();
        assert_eq!(feed.last_updated, 0);
        assert_eq!(feed.signals, signals);
    }

    #[test]
    fn other_shapes_are_rejected_with_a_reason() {
        let cases = [
            ("42", "found a number"),
            ("\"feed\"", "found a string"),
            ("{\"signals\": []}", "no 'last_updated'"),
            ("{\"last_updated\": 1}", "no 'signals'"),
            ("{\"last_updated\": 1, \"signals\": {}}", "found an object"),
            (
                "{\"last_updated\": \"yesterday\", \"signals\": []}",
                "Unix milliseconds",
            ),
            ("[{\"symbol\": \"BTC\"}]", "signal #0 is invalid"),
            ("{\"last_updated\": 1, \"signals\": [", "not valid JSON"),
        ];
        for (text, expected) in cases {
            let err = MasterFeed::parse(text).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{text}: '{err}' should contain '{expected}'"
            );
        }
    }

    #[test]
    fn setup_risk_is_entry_to_stop_distance() {
        let setup = sample_signal("BTCUSDT", Strategy::Legacy).setup.unwrap();
        assert!((setup.risk_per_unit() - 580.5).abs() < 1e-9);
    }
}
