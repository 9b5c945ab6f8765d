//! How resources travel from the server-rendered page to the browser.
//!
//! Leptos' default resource codec decodes JSON from a `&str`, while server
//! function answers are decoded from bytes; every type that arrives both
//! ways would then be compiled into the WASM bundle with two JSON readers.
//! Decoding the resources from bytes too keeps one reader per type (the
//! bundle size budget is 400 KB gzipped).

use codee::{Decoder, Encoder};
use leptos::prelude::Resource;
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// JSON, decoded from the bytes of the text.
pub struct JsonBytes;

impl<T: Serialize> Encoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(text.as_bytes())
    }
}

/// `Resource::new` with the `JsonBytes` codec.
#[track_caller]
pub fn resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, JsonBytes>
where
    S: PartialEq + Clone + Send + Sync + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_like_the_default_codec() {
        let value = vec![(1u32, "BTC".to_string()), (2, "é\"\\".to_string())];
        let text = <JsonBytes as Encoder<_>>::encode(&value).unwrap();
        assert_eq!(text, serde_json::to_string(&value).unwrap());
        let back: Vec<(u32, String)> = JsonBytes::decode(&text).unwrap();
        assert_eq!(back, value);
        assert!(<JsonBytes as Decoder<Vec<u32>>>::decode("[1,").is_err());
    }
}
