//! Local fakes of the trading venues, for tests only: each serves the
//! venue's protocol on 127.0.0.1 and checks what the venue checks
//! (signatures, timestamps, filters, nonces), with the faults of
//! EXTERNAL_APIS.md §11.4 on demand. The clients of `quantpro-sources` are
//! tested against them, and so is the executor of `quantpro-service`.
//!
//! A fake is not a mock: it keeps the venue's state (orders, positions,
//! balances) and answers from it, so a client that resends an order blindly
//! ends up with two positions here as it would there.

pub mod binance;
pub mod hyperliquid;
