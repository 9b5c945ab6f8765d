//! JSON candle arrays: the object form `[{"t","o","h","l","c","v"}, ...]`
//! and the exchange kline form `[[t, o, h, l, c, v, ...], ...]` whose values
//! may be numbers or numeric strings.
//!
//! A full scan reads hundreds of megabytes of the object form, so that form
//! first goes through a tight hand-written scanner (`parse_object_form`) that
//! never builds an intermediate value. Anything it does not recognise (other
//! key order is fine; extra keys, strings, kline arrays, or malformed JSON are
//! not) falls back to the general serde path, which accepts every form and
//! gives the error message with line and column.
//!
//! It earns its place (issue 9; `cargo bench --features ssr --bench
//! candle_json`, release build, 2-core machine, 2026-12-01): on every real
//! file of `shared/data/candles` (13.3 MB) it parses 855 MiB/s against
//! 369 MiB/s for `serde_json::from_slice::<Vec<Candle>>` (2.3x) and
//! 259 MiB/s for the general path. A full scan of 500 symbols (287 MB of
//! JSON, `quantpro bench`) takes 0.226 s, of which this parser is about
//! 0.16 s over the two cores; with the derived deserializer that part would
//! be about 0.37 s, so the scan would take about 0.44 s (1.9x).

use super::Candle;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::fmt::Write as _;

/// Parses a JSON candle array, oldest first (order is checked by validation, not here).
pub fn parse_candles_json(bytes: &[u8]) -> Result<Vec<Candle>, serde_json::Error> {
    match parse_object_form(bytes) {
        Some(candles) => Ok(candles),
        None => parse_any_form(bytes),
    }
}

/// The general path: every accepted form. Its error is serde_json's, which
/// says what was wrong and where (line and column).
pub fn parse_any_form(bytes: &[u8]) -> Result<Vec<Candle>, serde_json::Error> {
    let rows: Vec<CandleRow> = serde_json::from_slice(bytes)?;
    Ok(rows.into_iter().map(|row| row.0).collect())
}

// ---------------------------------------------------------------------------
// Fast path

/// Parses `[{"t":int,"o":num,"h":num,"l":num,"c":num,"v":num}, ...]` with
/// exactly those six one-letter keys in any order and JSON whitespace
/// anywhere. Returns `None` on anything else, leaving the verdict to the
/// general path.
pub fn parse_object_form(bytes: &[u8]) -> Option<Vec<Candle>> {
    let mut cur = Cursor { bytes, pos: 0 };
    cur.expect(b'[')?;
    // About 90 bytes per candle in exchange data; a slight over-estimate avoids regrowth.
    let mut candles = Vec::with_capacity(bytes.len() / 64 + 1);
    if cur.peek_after_ws()? == b']' {
        cur.pos += 1;
    } else {
        loop {
            candles.push(cur.candle_object()?);
            match cur.next_after_ws()? {
                b',' => continue,
                b']' => break,
                _ => return None,
            }
        }
    }
    cur.skip_ws();
    (cur.pos == bytes.len()).then_some(candles)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// Exact powers of ten representable in an f64 (10^22 is the largest).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

const POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// How many of the 8 bytes (first byte lowest) are ASCII digits before the first non-digit.
#[inline]
fn leading_digit_count(chunk: u64) -> usize {
    // A byte is a digit when b - '0' (no borrow) is below 10: then neither
    // it nor it + 0x76 reaches 0x80. Bytes above '9' or below '0' set bit 7.
    let values = chunk.wrapping_sub(0x3030_3030_3030_3030);
    let non_digit =
        (values | values.wrapping_add(0x7676_7676_7676_7676) | chunk) & 0x8080_8080_8080_8080;
    (non_digit.trailing_zeros() / 8) as usize
}

/// The value of 8 digit values (0..=9, most significant in the lowest byte).
#[inline]
fn eight_digits_value(values: u64) -> u64 {
    let pairs = (values & 0x0F00_0F00_0F00_0F00) >> 8;
    let values = pairs + (values & 0x000F_000F_000F_000F) * 10;
    let quads = (values & 0x00FF_0000_00FF_0000) >> 16;
    let values = quads + (values & 0x0000_00FF_0000_00FF) * 100;
    let octet = (values & 0x0000_FFFF_0000_0000) >> 32;
    octet + (values & 0x0000_0000_0000_FFFF) * 10_000
}

impl Cursor<'_> {
    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    #[inline]
    fn peek_after_ws(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn next_after_ws(&mut self) -> Option<u8> {
        let byte = self.peek_after_ws()?;
        self.pos += 1;
        Some(byte)
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next_after_ws()? == byte).then_some(())
    }

    fn candle_object(&mut self) -> Option<Candle> {
        self.expect(b'{')?;
        let mut candle = Candle {
            t: 0,
            o: 0.0,
            h: 0.0,
            l: 0.0,
            c: 0.0,
            v: 0.0,
        };
        let mut seen = 0u8;
        loop {
            self.expect(b'"')?;
            let key = *self.bytes.get(self.pos)?;
            if self.bytes.get(self.pos + 1) != Some(&b'"') {
                return None;
            }
            self.pos += 2;
            self.expect(b':')?;
            self.skip_ws();
            let bit = match key {
                b't' => {
                    candle.t = self.integer()?;
                    1
                }
                b'o' => {
                    candle.o = self.number()?;
                    2
                }
                b'h' => {
                    candle.h = self.number()?;
                    4
                }
                b'l' => {
                    candle.l = self.number()?;
                    8
                }
                b'c' => {
                    candle.c = self.number()?;
                    16
                }
                b'v' => {
                    candle.v = self.number()?;
                    32
                }
                _ => return None,
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            match self.next_after_ws()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
        (seen == 0b11_1111).then_some(candle)
    }

    /// Consumes a run of ASCII digits into `mantissa` (wrapping: callers
    /// bound the digit count), returning how many there were. Eight bytes
    /// are examined at a time while eight remain: numbers are most of the file.
    #[inline]
    fn digits(&mut self, mantissa: &mut u64) -> usize {
        let start = self.pos;
        while let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
            let chunk = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            let n = leading_digit_count(chunk);
            if n == 0 {
                return self.pos - start;
            }
            // Keep the n digits, shifted up so the dropped bytes become leading zeros.
            let values = chunk.wrapping_sub(0x3030_3030_3030_3030) << (8 * (8 - n));
            *mantissa = mantissa
                .wrapping_mul(POW10_U64[n])
                .wrapping_add(eight_digits_value(values));
            self.pos += n;
            if n < 8 {
                return self.pos - start;
            }
        }
        while let Some(&d @ b'0'..=b'9') = self.bytes.get(self.pos) {
            *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            self.pos += 1;
        }
        self.pos - start
    }

    /// A JSON integer that fits an i64 (a time in ms); fractions and exponents go to the general path.
    fn integer(&mut self) -> Option<i64> {
        let negative = self.bytes.get(self.pos) == Some(&b'-');
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        let mut value = 0u64;
        let len = self.digits(&mut value);
        if len == 0 || len > 18 || (len > 1 && self.bytes[start] == b'0') {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = self.bytes.get(self.pos) {
            return None;
        }
        let value = value as i64;
        Some(if negative { -value } else { value })
    }

    /// A JSON number as the correctly rounded f64. Short mantissas with small
    /// exponents (all exchange prices) take the exact `m * 10^e` route; the
    /// rest use the standard library's parser on the same text.
    fn number(&mut self) -> Option<f64> {
        let start = self.pos;
        let negative = self.bytes.get(self.pos) == Some(&b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        let mut mantissa = 0u64;
        let int_len = self.digits(&mut mantissa);
        if int_len == 0 || (int_len > 1 && self.bytes[int_start] == b'0') {
            return None;
        }
        let mut frac_len = 0;
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            frac_len = self.digits(&mut mantissa);
            if frac_len == 0 {
                return None;
            }
        }
        let mut exponent = -(frac_len as i64);
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            let exp_negative = match self.bytes.get(self.pos) {
                Some(b'-') => {
                    self.pos += 1;
                    true
                }
                Some(b'+') => {
                    self.pos += 1;
                    false
                }
                _ => false,
            };
            let mut exp = 0u64;
            let exp_len = self.digits(&mut exp);
            if exp_len == 0 || exp_len > 6 {
                return None;
            }
            exponent += if exp_negative {
                -(exp as i64)
            } else {
                exp as i64
            };
        }
        // Both operands exact and one IEEE operation: the result is correctly rounded.
        let exact =
            int_len + frac_len <= 19 && mantissa <= (1u64 << 53) && (-22..=22).contains(&exponent);
        let magnitude = if exact {
            let m = mantissa as f64;
            if exponent < 0 {
                m / POW10[(-exponent) as usize]
            } else {
                m * POW10[exponent as usize]
            }
        } else {
            let text = std::str::from_utf8(&self.bytes[start..self.pos]).ok()?;
            return text.parse::<f64>().ok();
        };
        Some(if negative { -magnitude } else { magnitude })
    }
}

// ---------------------------------------------------------------------------
// General path

/// One candle in any accepted JSON form.
struct CandleRow(Candle);

/// Field names of the object form; the long names are accepted too.
#[derive(Deserialize)]
#[serde(field_identifier)]
enum Field {
    #[serde(alias = "time", alias = "timestamp", alias = "open_time")]
    #[serde(rename = "t")]
    T,
    #[serde(rename = "o", alias = "open")]
    O,
    #[serde(rename = "h", alias = "high")]
    H,
    #[serde(rename = "l", alias = "low")]
    L,
    #[serde(rename = "c", alias = "close")]
    C,
    #[serde(rename = "v", alias = "volume")]
    V,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for CandleRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CandleRowVisitor)
    }
}

struct CandleRowVisitor;

impl<'de> Visitor<'de> for CandleRowVisitor {
    type Value = CandleRow;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a candle: {\"t\",\"o\",\"h\",\"l\",\"c\",\"v\"} or [t, o, h, l, c, v, ...]")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CandleRow, A::Error> {
        let mut t = None;
        let mut prices: [Option<f64>; 5] = [None; 5];
        const NAMES: [&str; 5] = ["o", "h", "l", "c", "v"];
        while let Some(field) = map.next_key::<Field>()? {
            let slot = match field {
                Field::T => {
                    if t.is_some() {
                        return Err(de::Error::duplicate_field("t"));
                    }
                    t = Some(map.next_value::<Time>()?.0);
                    continue;
                }
                Field::O => 0,
                Field::H => 1,
                Field::L => 2,
                Field::C => 3,
                Field::V => 4,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if prices[slot].is_some() {
                return Err(de::Error::duplicate_field(NAMES[slot]));
            }
            prices[slot] = Some(map.next_value::<Number>()?.0);
        }
        let t = t.ok_or_else(|| de::Error::missing_field("t"))?;
        let mut values = [0.0; 5];
        for (slot, value) in prices.iter().enumerate() {
            values[slot] = value.ok_or_else(|| de::Error::missing_field(NAMES[slot]))?;
        }
        let [o, h, l, c, v] = values;
        Ok(CandleRow(Candle { t, o, h, l, c, v }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CandleRow, A::Error> {
        let t = seq
            .next_element::<Time>()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?
            .0;
        let mut values = [0.0; 5];
        for (i, value) in values.iter_mut().enumerate() {
            *value = seq
                .next_element::<Number>()?
                .ok_or_else(|| de::Error::invalid_length(i + 1, &self))?
                .0;
        }
        // Exchanges append close time, quote volume, trade count...: ignored.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        let [o, h, l, c, v] = values;
        Ok(CandleRow(Candle { t, o, h, l, c, v }))
    }
}

/// A price or volume: a JSON number or a numeric string (`"64718.18"`).
struct Number(f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl Visitor<'_> for NumberVisitor {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a numeric string")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                v.trim()
                    .parse::<f64>()
                    .map(Number)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_any(NumberVisitor)
    }
}

/// An open time in Unix ms: an integer, an integral float or a numeric string.
struct Time(i64);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimeVisitor;
        impl Visitor<'_> for TimeVisitor {
            type Value = Time;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a time in Unix milliseconds (an integer)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Time, E> {
                Ok(Time(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Time, E> {
                i64::try_from(v)
                    .map(Time)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Time, E> {
                // 2^63 as f64 is itself out of range, hence the strict bound.
                if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
                    Ok(Time(v as i64))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Time, E> {
                let text = v.trim();
                match text.parse::<i64>() {
                    Ok(t) => Ok(Time(t)),
                    Err(_) => text
                        .parse::<f64>()
                        .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
                        .and_then(|f| self.visit_f64(f)),
                }
            }
        }
        deserializer.deserialize_any(TimeVisitor)
    }
}

/// The candles as the exchange-style JSON object array. `f64`'s `Display`
/// is the shortest text that parses back to the same value, never in
/// exponent form, so the files are plain JSON and read back exactly.
pub fn candles_to_json(candles: &[Candle]) -> String {
    let mut out = String::with_capacity(candles.len() * 96 + 2);
    out.push('[');
    for (i, c) in candles.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"t\":{},\"o\":{},\"h\":{},\"l\":{},\"c\":{},\"v\":{}}}",
            c.t, c.o, c.h, c.l, c.c, c.v
        );
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(t: i64, o: f64, h: f64, l: f64, c: f64, v: f64) -> Candle {
        Candle { t, o, h, l, c, v }
    }

    #[test]
    fn object_form_takes_the_fast_path() {
        let text = br#"[{"t":1721097900000,"o":64718.18,"h":64839.07,"l":64550.03,"c":64819.91,"v":259.2047},
            { "v" : 0, "c" : 1e2, "l" : 0.5, "h" : 1.5E+2, "o" : 100, "t" : -5 } ]"#;
        let fast = parse_object_form(text).expect("fast path accepts the common form");
        assert_eq!(
            fast,
            vec![
                candle(
                    1721097900000,
                    64718.18,
                    64839.07,
                    64550.03,
                    64819.91,
                    259.2047
                ),
                candle(-5, 100.0, 150.0, 0.5, 100.0, 0.0),
            ]
        );
        assert_eq!(parse_any_form(text).unwrap(), fast, "both paths agree");
        assert_eq!(parse_object_form(b" [ ] ").unwrap(), vec![]);
    }

    #[test]
    fn fast_path_numbers_are_correctly_rounded() {
        let cases = [
            "0.1",
            "64718.18",
            "0.000012345",
            "123456789012345678",
            "1234567890123456789012",
            "9007199254740993",
            "1.7976931348623157e308",
            "5e-324",
            "2.2250738585072014e-308",
            "0.30000000000000004",
            "1e23",
            "-42.5",
        ];
        for case in cases {
            let mut cur = Cursor {
                bytes: case.as_bytes(),
                pos: 0,
            };
            assert_eq!(cur.number(), Some(case.parse::<f64>().unwrap()), "{case}");
            assert_eq!(cur.pos, case.len());
        }
    }

    #[test]
    fn digit_runs_of_every_length_and_position() {
        // Runs shorter and longer than the 8-byte step, ending at the buffer's
        // end or followed by each kind of terminator.
        for len in 1..=20 {
            let digits: String = (0..len)
                .map(|i| char::from(b'1' + (i * 7 % 9) as u8))
                .collect();
            for tail in ["", ",", "}", " ", ".5,", "e3}", "x"] {
                let text = format!("{digits}{tail}");
                let mut cur = Cursor {
                    bytes: text.as_bytes(),
                    pos: 0,
                };
                let mut value = 0u64;
                assert_eq!(cur.digits(&mut value), len, "{text}");
                if len <= 19 {
                    assert_eq!(value, digits.parse::<u64>().unwrap(), "{text}");
                }
                let number_text = text.trim_end_matches([',', '}', ' ', 'x']);
                let mut cur = Cursor {
                    bytes: text.as_bytes(),
                    pos: 0,
                };
                assert_eq!(
                    cur.number(),
                    Some(number_text.parse::<f64>().unwrap()),
                    "{text}"
                );
            }
        }
        assert_eq!(leading_digit_count(u64::from_le_bytes(*b"12/:9\xff00")), 2);
        assert_eq!(leading_digit_count(u64::from_le_bytes(*b"\x801234567")), 0);
    }

    proptest::proptest! {
        #[test]
        fn any_finite_number_parses_like_the_standard_library(bits in proptest::prelude::any::<u64>(), short in 0.0f64..1e7) {
            for x in [f64::from_bits(bits), short] {
                proptest::prop_assume!(x.is_finite());
                for text in [format!("{x}"), format!("{x:e}"), format!("{x:.4}"), format!("{x:.2E}")] {
                    let mut cur = Cursor { bytes: text.as_bytes(), pos: 0 };
                    let expected = text.parse::<f64>().unwrap();
                    proptest::prop_assert_eq!(cur.number().map(f64::to_bits), Some(expected.to_bits()), "{}", text);
                    proptest::prop_assert_eq!(cur.pos, text.len());
                }
            }
        }
    }

    #[test]
    fn fast_path_declines_what_it_does_not_know() {
        let declined: [&[u8]; 9] = [
            br#"[{"t":1,"o":1,"h":1,"l":1,"c":1,"v":1,"n":3}]"#, // extra key
            br#"[{"t":1,"o":"1","h":1,"l":1,"c":1,"v":1}]"#,     // string value
            br#"[{"t":1.5,"o":1,"h":1,"l":1,"c":1,"v":1}]"#,     // fractional time
            br#"[{"t":1,"o":1,"h":1,"l":1,"c":1}]"#,             // missing key
            br#"[{"t":1,"t":1,"o":1,"h":1,"l":1,"c":1,"v":1}]"#, // duplicate key
            br#"[[1,2,3,1,2,5]]"#,                               // kline form
            br#"[{"t":01,"o":1,"h":1,"l":1,"c":1,"v":1}]"#,      // leading zero
            br#"[{"t":1,"o":1,"h":1,"l":1,"c":1,"v":1}] x"#,     // trailing garbage
            br#"[{"t":1,"o":1.,"h":1,"l":1,"c":1,"v":1}]"#,      // bad number
        ];
        for text in declined {
            assert!(
                parse_object_form(text).is_none(),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn kline_array_form_with_strings_and_numbers() {
        let text = br#"[[1721097900000,"64718.18","64839.07","64550.03","64819.91","259.2047",1721098799999,"16795566.4",3021,"130.1","8421.3","0"],
                        ["1721098800000", 64819.67, 64820, 64730, 64810.48, 268.20636]]"#;
        let candles = parse_candles_json(text).unwrap();
        assert_eq!(
            candles,
            vec![
                candle(
                    1721097900000,
                    64718.18,
                    64839.07,
                    64550.03,
                    64819.91,
                    259.2047
                ),
                candle(
                    1721098800000,
                    64819.67,
                    64820.0,
                    64730.0,
                    64810.48,
                    268.20636
                ),
            ]
        );
    }

    #[test]
    fn general_path_accepts_long_names_strings_and_extra_keys() {
        let text = br#"[{"time":"1000","open":"1.5","high":2,"low":1,"close":1.75,"volume":"10","trades":5}]"#;
        assert_eq!(
            parse_candles_json(text).unwrap(),
            vec![candle(1000, 1.5, 2.0, 1.0, 1.75, 10.0)]
        );
    }

    #[test]
    fn malformed_input_is_an_error_with_a_position() {
        let cases: [(&[u8], &str); 7] = [
            (br#"[{"t":1,"o":1,"h":1,"l":1,"c":1}]"#, "missing field `v`"),
            (
                br#"[{"t":1,"o":"abc","h":1,"l":1,"c":1,"v":1}]"#,
                "invalid value: string \"abc\"",
            ),
            (br#"[[1,2,3]]"#, "invalid length 3"),
            (br#"{"t":1}"#, "invalid type: map, expected a sequence"),
            (
                br#"[{"t":1.5,"o":1,"h":1,"l":1,"c":1,"v":1}]"#,
                "invalid value: floating point `1.5`",
            ),
            (
                br#"[{"t":1,"o":1,"h":1,"l":1,"c":1,"v":1}"#,
                "EOF while parsing a list",
            ),
            (b"", "EOF while parsing a value at line 1 column 0"),
        ];
        for (text, expected) in cases {
            let err = parse_candles_json(text).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{}: '{err}' should contain '{expected}'",
                String::from_utf8_lossy(text)
            );
        }
        assert!(parse_any_form(b"[").unwrap_err().is_eof());
        assert!(parse_any_form(br#"[{"t":1}]"#).unwrap_err().is_data());
    }
}
