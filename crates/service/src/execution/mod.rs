//! [ssr] Trade execution: from a signal to a bracket order (entry, stop,
//! target) in one confirmed step, for the owner only.
//!
//! Flow: the ticket (`executor::Executor::ticket`) sizes the signal's setup
//! from risk (`sizing`) on the venue's equity and rules and shows the
//! limits (`risk`); the confirmation (`Executor::open`) checks them again
//! on the server, records the bracket (`bracket`, in the journal) and sends
//! it to the exchange's venue: the paper venue (`paper`, the default, fills
//! from candles) or a live client of `quantpro_sources::venues` through the
//! one `TradingVenue` trait. `Executor::sync` follows fills to the close and
//! reconciles after a restart; `Executor::flatten` is the kill switch.

pub mod bracket;
pub mod executor;
pub mod paper;
pub mod risk;
pub mod sizing;
pub mod venues;

pub use bracket::{Bracket, BracketState, LegRecord};
pub use executor::{ExecutionError, Executor, Flattened, PositionView, Positions, Ticket};
pub use venues::build_executor;
