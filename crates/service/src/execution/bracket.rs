//! A bracket as QuantPro records it: the signal it came from, its sizing,
//! each leg's request and the venue's last report, and its state. It is
//! written to the journal before any order is sent and after every change,
//! so the journal always knows which client ids may exist at a venue.

use super::sizing::Sizing;
use crate::alerts::{AlertEvent, ExecutionEvent};
use crate::journal::ExecutionRow;
use quantpro_model::{Exchange, Strategy};
use quantpro_sources::trading::{Leg, OrderReport, OrderRequest, OrderState};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Where a bracket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BracketState {
    /// Recorded, orders being sent: a restart asks the venue for its ids.
    Sending,
    /// A resting limit entry waits for its fill (stop and target placed).
    Pending,
    /// A position with its stop (and target) at the venue.
    Open,
    /// Flat: closed by its stop, its target, the trader or the kill switch.
    Closed,
    /// Nothing was opened (the venue refused the entry, or it expired).
    Refused,
}

impl BracketState {
    pub fn as_str(self) -> &'static str {
        match self {
            BracketState::Sending => "sending",
            BracketState::Pending => "pending",
            BracketState::Open => "open",
            BracketState::Closed => "closed",
            BracketState::Refused => "refused",
        }
    }

    /// States in which orders or a position may exist at the venue.
    pub const LIVE: [&'static str; 3] = ["sending", "pending", "open"];

    pub fn is_live(self) -> bool {
        Self::LIVE.contains(&self.as_str())
    }
}

/// One leg: what was sent and what the venue last said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegRecord {
    pub request: OrderRequest,
    pub report: Option<OrderReport>,
    /// Why the leg is not at the venue (refused, outcome unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Sent, but the venue's answer was lost and lookups did not find it
    /// yet: asked again at the next sync, never sent again blindly.
    #[serde(default)]
    pub unknown: bool,
}

impl LegRecord {
    pub fn new(request: OrderRequest) -> LegRecord {
        LegRecord {
            request,
            report: None,
            error: None,
            unknown: false,
        }
    }

    /// What the venue now says of the order: known, so no error and no
    /// doubt left.
    pub fn took(&mut self, report: OrderReport) {
        self.report = Some(report);
        self.error = None;
        self.unknown = false;
    }

    pub fn state(&self) -> Option<&OrderState> {
        self.report.as_ref().map(|r| &r.state)
    }

    pub fn filled(&self) -> Decimal {
        self.report.as_ref().map_or(Decimal::ZERO, |r| r.filled)
    }

    /// Resting at the venue (waiting for a fill or a trigger).
    pub fn is_resting(&self) -> bool {
        self.state()
            .is_some_and(|s| matches!(s, OrderState::Open | OrderState::PartiallyFilled))
    }
}

/// A bracket and everything known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bracket {
    /// `EXCHANGE|SYMBOL|Strategy|candle|attempt`: the client ids derive from it.
    pub origin: String,
    pub exchange: Exchange,
    pub symbol: String,
    pub strategy: Strategy,
    /// Open time of the signal's last LTF candle.
    pub signal_candle: i64,
    pub venue: String,
    pub live: bool,
    pub sizing: Sizing,
    pub legs: Vec<LegRecord>,
    pub state: BracketState,
    /// What the trader must know (a stop that could not be placed, a
    /// refusal, an order whose outcome is not known yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub opened_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
    /// Realised result once closed, fees included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pnl: Option<Decimal>,
    /// pnl / the risk the sizing took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r: Option<Decimal>,
}

impl Bracket {
    pub fn leg(&self, leg: Leg) -> Option<&LegRecord> {
        self.legs.iter().rev().find(|l| l.request.leg == leg)
    }

    pub fn leg_mut(&mut self, leg: Leg) -> Option<&mut LegRecord> {
        self.legs.iter_mut().rev().find(|l| l.request.leg == leg)
    }

    /// The filled entry quantity minus what the exits filled: what the
    /// bracket holds at the venue.
    pub fn held(&self) -> Decimal {
        let entered = self
            .leg(Leg::Entry)
            .map_or(Decimal::ZERO, LegRecord::filled);
        let exited: Decimal = self
            .legs
            .iter()
            .filter(|l| l.request.reduce_only)
            .map(LegRecord::filled)
            .sum();
        (entered - exited).max(Decimal::ZERO)
    }

    /// Fees of every leg so far.
    pub fn fees(&self) -> Decimal {
        self.legs
            .iter()
            .filter_map(|l| l.report.as_ref())
            .map(|r| r.fee)
            .sum()
    }

    /// Cash in minus cash out of every fill, minus fees: the realised
    /// result (complete once the bracket is flat).
    pub fn realized(&self) -> Decimal {
        let flows: Decimal = self
            .legs
            .iter()
            .filter_map(|l| l.report.as_ref())
            .filter_map(|r| r.average_price.map(|p| (r.side, p * r.filled)))
            .map(|(side, value)| match side {
                quantpro_sources::trading::Side::Sell => value,
                quantpro_sources::trading::Side::Buy => -value,
            })
            .sum();
        flows - self.fees()
    }

    /// The alert event of this bracket's present state (the `execution`
    /// trigger of `[[alerts.rules]]`).
    pub fn alert_event(&self) -> AlertEvent {
        let mode = if self.live { "LIVE" } else { "PAPER" };
        let side = self.sizing.levels.direction();
        let what = match self.state {
            BracketState::Sending => "being placed".to_string(),
            BracketState::Pending => "placed, the limit entry waits".to_string(),
            BracketState::Open => {
                let entry = self
                    .leg(Leg::Entry)
                    .and_then(|l| l.report.as_ref())
                    .and_then(|r| r.average_price)
                    .map_or_else(String::new, |p| format!(" at {p}"));
                format!("filled{entry}")
            }
            BracketState::Closed => match self.r {
                Some(r) => format!("closed, {r} R"),
                None => "closed".to_string(),
            },
            BracketState::Refused => "not placed".to_string(),
        };
        let levels = &self.sizing.levels;
        let mut lines = vec![format!(
            "{} on {} · entry {} · stop {} · target {} · risk {}",
            self.sizing.quantity,
            self.venue,
            levels.entry,
            levels.stop,
            levels.target,
            self.sizing.risk
        )];
        lines.extend(self.note.clone());
        AlertEvent::Executed(Box::new(ExecutionEvent {
            exchange: self.exchange,
            symbol: self.symbol.clone(),
            strategy: self.strategy,
            origin: self.origin.clone(),
            state: self.state.as_str().to_string(),
            title: format!(
                "{mode} {} {side} · {} · {}: {what}",
                self.symbol, self.strategy, self.exchange
            ),
            lines,
            at_ms: self.closed_at.unwrap_or(self.opened_at),
        }))
    }

    pub fn to_row(&self) -> ExecutionRow {
        ExecutionRow {
            origin: self.origin.clone(),
            exchange: self.exchange.as_str().to_string(),
            symbol: self.symbol.clone(),
            strategy: self.strategy.as_str().to_string(),
            mode: if self.live { "live" } else { "paper" }.to_string(),
            state: self.state.as_str().to_string(),
            opened_at: self.opened_at,
            closed_at: self.closed_at,
            body: serde_json::to_string(self).expect("a bracket serializes"),
        }
    }

    pub fn from_row(row: &ExecutionRow) -> Result<Bracket, String> {
        serde_json::from_str(&row.body)
            .map_err(|e| format!("execution {} cannot be read: {e}", row.origin))
    }
}
