//! Numbers and times out of the exchanges' JSON, where one venue writes a
//! number as a string and another as a number: shared by the REST and the
//! stream parsers of every venue.

/// A price or volume sent as a JSON number or a decimal string; `None` for
/// anything else, including "NaN" and infinities that Rust would parse.
pub(crate) fn json_number(value: &serde_json::Value) -> Option<f64> {
    let number = match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    number.is_finite().then_some(number)
}

/// Open time in ms, sent as an integer (or an integral float).
pub(crate) fn json_millis(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_come_as_numbers_or_strings_but_never_non_finite() {
        assert_eq!(json_number(&json!("64010.5")), Some(64010.5));
        assert_eq!(json_number(&json!(12)), Some(12.0));
        assert_eq!(json_number(&json!("NaN")), None);
        assert_eq!(json_number(&json!("inf")), None);
        assert_eq!(json_number(&json!(null)), None);
        assert_eq!(json_millis(&json!(1721088000000i64)), Some(1721088000000));
        assert_eq!(json_millis(&json!(1.5)), None);
    }
}
