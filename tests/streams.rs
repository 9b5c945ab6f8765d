#![cfg(feature = "ssr")]
