//! [ssr] Alerts: a live scanner calls the trader when a signal turns.
//!
//! In the flow `live loop -> feed -> server -> (alerts)`, this is the end
//! that leaves the machine: `rules` (`[alerts]` of `quantpro.toml`: which
//! changes fire, to which channels, how calmly), `engine` (the decision:
//! once per rule, symbol, exchange, strategy and candle, a cooldown per
//! key, an hourly cap with one summary), `store` (what was decided and
//! delivered, so a restart sends nothing twice and resumes what a stop
//! cut short), `channels` (the webhook,
//! Telegram and Discord clients over the shared request loop) and
//! `alerter` (the service the server owns: follows the live loop's
//! rescans, spawns the deliveries, keeps the alert log and feeds the
//! dashboard's `alert` events).

pub mod alerter;
pub mod channels;
pub mod engine;
pub mod rules;
pub mod store;

pub use alerter::{AlertLogEntry, AlertLogView, Alerter, DeliveryState};
pub use engine::{
    turned_signals, Alert, AlertEngine, AlertEvent, AlertKind, Decided, Decision, ExecutionEvent,
};
pub use rules::{AlertRule, AlertSettings, AutoExecute, ChannelSettings, Trigger, BROWSER};
pub use store::{AlertStore, AlertStoreError, DeliveryRecord, JournalAlertStore, UnfinishedAlert};
