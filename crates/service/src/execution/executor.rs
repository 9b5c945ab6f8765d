//! The executor: from a signal to a bracket at a venue, once, with its
//! stop. One per process, built by the server (or the CLI) with a venue
//! per exchange: the paper venue unless `[execution]` says live and the
//! keys are in the environment.
//!
//! Rules it keeps, whatever the venue:
//! - **Exactly once.** Client ids derive from the signal (exchange, symbol,
//!   strategy, candle, attempt) and the leg; the bracket is recorded before
//!   anything is sent; an order whose outcome is unknown is looked up by its
//!   id (up to four times, waiting longer each time) and sent again, with
//!   the same id, only when two lookups apart did not find it. One flow at a time: a
//!   double click finds the first bracket open and is refused.
//! - **Never an entry without its stop.** When the stop cannot be placed,
//!   whatever the entry filled is closed at once and the trader is told why.
//! - **Limits on the server** (`risk`), sizing from risk (`sizing`).
//! - `sync` follows fills to the close (stop, target, the trader, the kill
//!   switch) and puts back a stop that went missing while a position is
//!   held; run at start it reconciles the journal with the venue.

use super::bracket::{Bracket, BracketState, LegRecord};
use super::paper::{PaperCosts, PaperVenue};
use super::risk::{check_new_order, limits_in_words, Exposure, RiskRefusal};
use super::sizing::{size, Levels, Sizing, SizingError, SizingLimits};
use crate::journal::{JournalError, JournalHandle};
use crate::settings::{EntryKind, ExecutionSettings, JournalSettings};
use quantpro_model::{Action, Candle, Exchange, Signal};
use quantpro_sources::clock::Clock;
use quantpro_sources::trading::{
    ClientId, Leg, OrderKind, OrderReport, OrderRequest, OrderState, TradeError, TradingVenue,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Waits before each lookup of an order whose outcome is unknown.
const LOOKUP_WAITS: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_millis(1000),
    Duration::from_millis(2000),
];

/// Why an order is refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    #[error("{0} has no trade setup to act on (its action is WAIT)")]
    NoSetup(String),
    #[error(
        "the signal changed since the ticket was shown (its candle is {now}, the ticket's {ticket}): \
         look at it again"
    )]
    Stale { ticket: i64, now: i64 },
    #[error("the signal's candles are stale: no order on an old setup")]
    StaleData,
    #[error("{0}")]
    Risk(#[from] RiskRefusal),
    #[error("{0}")]
    Sizing(#[from] SizingError),
    #[error("{0}")]
    Venue(#[from] TradeError),
    #[error("{0}")]
    Journal(#[from] JournalError),
    #[error("no open position of {exchange} {symbol} was placed by QuantPro")]
    NoPosition { exchange: Exchange, symbol: String },
    #[error("no venue for {0}")]
    NoVenue(Exchange),
}

/// What the ticket shows before the trader confirms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub exchange: Exchange,
    pub symbol: String,
    pub strategy: quantpro_model::Strategy,
    /// The signal's candle: sent back with the confirmation.
    pub signal_candle: i64,
    pub venue: String,
    pub live: bool,
    pub sizing: Sizing,
    pub equity: Decimal,
    pub entry: String,
    pub limits: Vec<String>,
    /// Why a venue is paper only, and the like.
    pub notes: Vec<String>,
    /// A limit this order would break: the confirmation is refused.
    pub refusal: Option<String>,
}

/// One open position as the Positions panel shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionView {
    pub bracket: Bracket,
    pub quantity: Decimal,
    pub mark: Option<Decimal>,
    pub unrealized: Option<Decimal>,
    pub unrealized_r: Option<Decimal>,
}

/// The Positions panel: open brackets and today's account of losses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Positions {
    pub open: Vec<PositionView>,
    pub realized_today: Decimal,
    pub realized_today_r: Decimal,
    /// What may still be lost today before new orders are refused, in R.
    pub headroom_r: Decimal,
}

/// What the kill switch did.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Flattened {
    pub closed: Vec<String>,
    pub canceled: usize,
    pub errors: Vec<String>,
}

pub struct Executor {
    venues: BTreeMap<Exchange, Arc<dyn TradingVenue>>,
    papers: BTreeMap<Exchange, Arc<PaperVenue>>,
    journal: JournalHandle,
    journal_settings: JournalSettings,
    clock: Clock,
    /// One order flow at a time: the limits are checked against what the
    /// previous flow left.
    flow: tokio::sync::Mutex<()>,
    /// Rung by the venues' user streams: an order or a fill to follow now.
    wake: Arc<tokio::sync::Notify>,
    /// Why a venue cannot take orders, from its last readiness check.
    unready: std::sync::Mutex<BTreeMap<Exchange, String>>,
}

impl Executor {
    /// Paper venues for every exchange, kept in `data_dir`.
    pub fn paper(
        data_dir: &Path,
        settings: &ExecutionSettings,
        journal: JournalHandle,
        journal_settings: JournalSettings,
        clock: Clock,
    ) -> Result<Executor, ExecutionError> {
        let costs = PaperCosts {
            fee_bps: settings.fee_bps,
            slippage_bps: settings.slippage_bps,
        };
        let mut venues: BTreeMap<Exchange, Arc<dyn TradingVenue>> = BTreeMap::new();
        let mut papers = BTreeMap::new();
        for &exchange in Exchange::ALL {
            let paper = Arc::new(PaperVenue::open(
                data_dir,
                exchange,
                settings.paper_balance,
                costs,
            )?);
            venues.insert(exchange, paper.clone());
            papers.insert(exchange, paper);
        }
        Ok(Executor {
            venues,
            papers,
            journal,
            journal_settings,
            clock,
            flow: tokio::sync::Mutex::new(()),
            wake: Arc::new(tokio::sync::Notify::new()),
            unready: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// Asks every live venue whether it can take orders (its clock, its
    /// account mode); returns the problems, which tickets then show and
    /// which refuse the venue's orders until the next check passes.
    pub async fn check_venues(&self) -> Vec<String> {
        let mut problems = BTreeMap::new();
        for (exchange, venue) in &self.venues {
            if let Err(err) = venue.ready().await {
                problems.insert(*exchange, err.to_string());
            }
        }
        let listed = problems.values().cloned().collect();
        *self.unready.lock().unwrap_or_else(|e| e.into_inner()) = problems;
        listed
    }

    fn unready(&self, exchange: Exchange) -> Option<String> {
        self.unready
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&exchange)
            .cloned()
    }

    /// What a venue's user stream rings when it reports an order or a fill.
    pub fn waker(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// Returns when a user stream reported something to follow.
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// Trades `exchange` on `venue` (a live client) instead of paper.
    pub fn with_venue(mut self, exchange: Exchange, venue: Arc<dyn TradingVenue>) -> Executor {
        self.papers.remove(&exchange);
        self.venues.insert(exchange, venue);
        self
    }

    pub fn venue(&self, exchange: Exchange) -> Result<&Arc<dyn TradingVenue>, ExecutionError> {
        self.venues
            .get(&exchange)
            .ok_or(ExecutionError::NoVenue(exchange))
    }

    /// Why an exchange is paper only this round, if it is.
    fn paper_notes(&self, exchange: Exchange) -> Vec<String> {
        let mut notes = Vec::new();
        if exchange == Exchange::Mexc {
            notes.push(
                "MEXC takes no futures orders from API keys (closed since 2022-07-25): paper only"
                    .to_string(),
            );
        }
        if self.papers.contains_key(&exchange) {
            notes.push(format!(
                "PAPER: fills are simulated from the candles ({} trades live only with its \
                 [execution] key set to \"live\" and its API keys in the environment, and \
                 never for spot markets: a spot venue cannot short)",
                exchange.as_str()
            ));
        }
        notes
    }

    /// The ticket of `signal`: its sizing on the venue's equity and rules,
    /// and the limit it would break, if any.
    pub async fn ticket(
        &self,
        signal: &Signal,
        settings: &ExecutionSettings,
    ) -> Result<Ticket, ExecutionError> {
        let (levels, candle) = actionable(signal)?;
        let venue = self.venue(signal.exchange)?;
        self.note_signal_price(signal)?;
        let equity = venue.equity().await?.total;
        let sizing = self
            .size(venue.as_ref(), &levels, equity, settings, &signal.symbol)
            .await?;
        let exposure = self.exposure().await?;
        let refusal = check_new_order(settings, &exposure, equity, signal.exchange, &signal.symbol)
            .err()
            .map(|e| e.to_string());
        let refusal = self.unready(signal.exchange).or(refusal);

        Ok(Ticket {
            exchange: signal.exchange,
            symbol: signal.symbol.clone(),
            strategy: signal.strategy,
            signal_candle: candle,
            venue: venue.name().to_string(),
            live: venue.is_live(),
            sizing,
            equity,
            entry: match settings.entry {
                EntryKind::Market => "market".into(),
                EntryKind::Limit => format!(
                    "limit at the setup's entry, for {} minutes",
                    settings.limit_expiry_minutes
                ),
            },
            limits: limits_in_words(settings),
            notes: self.paper_notes(signal.exchange),
            refusal,
        })
    }

    /// Places the bracket of `signal`, whose ticket showed the candle
    /// `ticket_candle`. Returns the bracket as recorded (its note says what
    /// the trader must know).
    pub async fn open(
        &self,
        signal: &Signal,
        ticket_candle: i64,
        settings: &ExecutionSettings,
    ) -> Result<Bracket, ExecutionError> {
        let _flow = self.flow.lock().await;
        let (levels, candle) = actionable(signal)?;
        if candle != ticket_candle {
            return Err(ExecutionError::Stale {
                ticket: ticket_candle,
                now: candle,
            });
        }
        let venue = self.venue(signal.exchange)?.clone();
        if let Some(why) = self.unready(signal.exchange) {
            return Err(ExecutionError::Venue(TradeError::Unavailable(why)));
        }
        self.note_signal_price(signal)?;
        let equity = venue.equity().await?.total;
        let exposure = self.exposure().await?;
        check_new_order(settings, &exposure, equity, signal.exchange, &signal.symbol)?;
        let sizing = self
            .size(venue.as_ref(), &levels, equity, settings, &signal.symbol)
            .await?;
        let origin = self.next_origin(signal, candle).await?;
        let now = self.clock.now_ms();
        let entry_kind = match settings.entry {
            EntryKind::Market => OrderKind::Market,
            EntryKind::Limit => OrderKind::Limit {
                price: sizing.levels.entry,
                expires_at_ms: Some(now + i64::from(settings.limit_expiry_minutes) * 60_000),
            },
        };
        let legs = bracket_orders(&origin, &signal.symbol, &sizing, entry_kind);
        let mut bracket = Bracket {
            origin,
            exchange: signal.exchange,
            symbol: signal.symbol.clone(),
            strategy: signal.strategy,
            signal_candle: candle,
            venue: venue.name().to_string(),
            live: venue.is_live(),
            sizing,
            legs: legs.into_iter().map(LegRecord::new).collect(),
            state: BracketState::Sending,
            note: None,
            opened_at: now,
            closed_at: None,
            pnl: None,
            r: None,
        };
        // Recorded before anything is sent: a stop in the middle leaves
        // ids a restart asks the venue about.
        self.save(&bracket).await?;
        let requests: Vec<OrderRequest> = bracket.legs.iter().map(|l| l.request.clone()).collect();
        let results = venue.place(&requests).await;
        for (leg, result) in bracket.legs.iter_mut().zip(results) {
            settle(venue.as_ref(), leg, result).await;
        }
        self.protect(venue.as_ref(), &mut bracket).await;
        self.save(&bracket).await?;
        tracing::info!(
            "[EXEC] {} {} {} {}: {} ({})",
            bracket.venue,
            bracket.exchange,
            bracket.symbol,
            bracket.origin,
            bracket.state.as_str(),
            bracket
                .note
                .as_deref()
                .unwrap_or("entry, stop and target placed")
        );
        Ok(bracket)
    }

    /// Closes the position QuantPro opened on `exchange`/`symbol`: its stop
    /// and target are cancelled, then what it holds is sold (bought) back.
    pub async fn close(&self, exchange: Exchange, symbol: &str) -> Result<Bracket, ExecutionError> {
        let _flow = self.flow.lock().await;
        let mut bracket = self
            .live_brackets()
            .await?
            .into_iter()
            .find(|b| b.exchange == exchange && b.symbol == symbol)
            .ok_or_else(|| ExecutionError::NoPosition {
                exchange,
                symbol: symbol.to_string(),
            })?;
        let venue = self.venue(exchange)?.clone();
        self.refresh(venue.as_ref(), &mut bracket).await;
        self.close_bracket(venue.as_ref(), &mut bracket, "closed by the trader")
            .await;
        self.save(&bracket).await?;
        Ok(bracket)
    }

    /// The kill switch: every open order QuantPro placed is cancelled and
    /// every position it opened is closed, on every venue.
    pub async fn flatten(&self) -> Result<Flattened, ExecutionError> {
        let _flow = self.flow.lock().await;
        let mut report = Flattened::default();
        for mut bracket in self.live_brackets().await? {
            let venue = self.venue(bracket.exchange)?.clone();
            self.refresh(venue.as_ref(), &mut bracket).await;
            self.close_bracket(venue.as_ref(), &mut bracket, "closed by the kill switch")
                .await;
            if bracket.state.is_live() {
                report.errors.push(format!(
                    "{} {}: {}",
                    bracket.exchange,
                    bracket.symbol,
                    bracket.note.clone().unwrap_or_default()
                ));
            } else {
                report
                    .closed
                    .push(format!("{} {}", bracket.exchange, bracket.symbol));
            }
            self.save(&bracket).await?;
        }
        // Orders of QuantPro's the journal lost track of go too.
        for venue in self.venues.values() {
            match venue.open_orders().await {
                Ok(orders) => {
                    for order in orders
                        .iter()
                        .filter(|o| o.client_id.as_str().starts_with("qp-"))
                    {
                        match venue.cancel(&order.symbol, &order.client_id).await {
                            Ok(()) => report.canceled += 1,
                            Err(e) => report.errors.push(e.to_string()),
                        }
                    }
                }
                Err(e) => report.errors.push(e.to_string()),
            }
        }
        tracing::warn!(
            "[EXEC] kill switch: {} positions closed, {} stray orders cancelled, {} errors",
            report.closed.len(),
            report.canceled,
            report.errors.len()
        );
        Ok(report)
    }

    /// Follows every open bracket at its venue: fills, stop-outs, targets,
    /// expired entries; a position whose stop went missing gets one.
    /// Returns the brackets that changed state. Run at start, it is the
    /// reconciliation with the venues.
    pub async fn sync(&self) -> Result<Vec<Bracket>, ExecutionError> {
        let _flow = self.flow.lock().await;
        let mut changed = Vec::new();
        for mut bracket in self.live_brackets().await? {
            let venue = self.venue(bracket.exchange)?.clone();
            let before = bracket.clone();
            self.refresh(venue.as_ref(), &mut bracket).await;
            self.protect(venue.as_ref(), &mut bracket).await;
            if bracket != before {
                self.save(&bracket).await?;
                if bracket.state != before.state {
                    changed.push(bracket);
                }
            }
        }
        Ok(changed)
    }

    /// A closed candle of `exchange`/`symbol`: the paper venue fills what
    /// it reaches, then the brackets are followed. Returns those that
    /// changed state (fills and stop-outs are alert events).
    pub async fn on_candle(
        &self,
        exchange: Exchange,
        symbol: &str,
        candle: &Candle,
    ) -> Result<Vec<Bracket>, ExecutionError> {
        let Some(paper) = self.papers.get(&exchange) else {
            return Ok(Vec::new());
        };
        if paper.on_candle(symbol, candle)?.is_empty() {
            return Ok(Vec::new());
        }
        self.sync().await
    }

    /// Feeds the paper venues the closed 15m candles stored in `data_dir`
    /// since the last each has seen, for every symbol with an open
    /// bracket, then follows the brackets: how paper trades fill as the
    /// live loop stores candles. Returns the brackets that changed state.
    pub async fn follow_stored_candles(
        &self,
        data_dir: &Path,
    ) -> Result<Vec<Bracket>, ExecutionError> {
        let followed: std::collections::BTreeSet<(Exchange, String)> = self
            .live_brackets()
            .await?
            .into_iter()
            .filter(|b| self.papers.contains_key(&b.exchange))
            .map(|b| (b.exchange, b.symbol))
            .collect();
        if followed.is_empty() {
            return Ok(Vec::new());
        }
        let (dir, now) = (data_dir.to_path_buf(), self.clock.now_ms());
        let stored = tokio::task::spawn_blocking(move || {
            quantpro_core::scan::stored_ltf(&dir, followed, now)
        })
        .await
        .map_err(JournalError::Stopped)?;
        let mut fed = false;
        for ((exchange, symbol), candles) in stored {
            let paper = &self.papers[&exchange];
            let seen = paper.last_candle(&symbol).unwrap_or(i64::MIN);
            for candle in candles.iter().filter(|c| c.t > seen) {
                paper.on_candle(&symbol, candle)?;
                fed = true;
            }
        }
        if fed {
            self.sync().await
        } else {
            Ok(Vec::new())
        }
    }

    /// The Positions panel.
    pub async fn positions(
        &self,
        settings: &ExecutionSettings,
    ) -> Result<Positions, ExecutionError> {
        let mut open = Vec::new();
        let mut marks: BTreeMap<Exchange, Vec<quantpro_sources::trading::PositionReport>> =
            BTreeMap::new();
        for bracket in self.live_brackets().await? {
            if let std::collections::btree_map::Entry::Vacant(slot) = marks.entry(bracket.exchange)
            {
                let venue = self.venue(bracket.exchange)?;
                slot.insert(venue.positions().await.unwrap_or_default());
            }
            let mark = marks[&bracket.exchange]
                .iter()
                .find(|p| p.symbol == bracket.symbol)
                .and_then(|p| p.mark_price);
            let quantity = bracket.held();
            let entry = bracket
                .leg(Leg::Entry)
                .and_then(|l| l.report.as_ref())
                .and_then(|r| r.average_price);
            let sign = match bracket.sizing.levels.side {
                quantpro_sources::trading::Side::Buy => Decimal::ONE,
                quantpro_sources::trading::Side::Sell => Decimal::NEGATIVE_ONE,
            };
            let unrealized = match (mark, entry) {
                (Some(m), Some(e)) => Some(((m - e) * quantity * sign).round_dp(8)),
                _ => None,
            };
            let unrealized_r = unrealized
                .filter(|_| !bracket.sizing.risk.is_zero())
                .map(|u| (u / bracket.sizing.risk).round_dp(2));
            open.push(PositionView {
                bracket,
                quantity,
                mark,
                unrealized,
                unrealized_r,
            });
        }
        let exposure = self.exposure().await?;
        Ok(Positions {
            open,
            realized_today: exposure.realized_today,
            realized_today_r: exposure.realized_today_r,
            headroom_r: (settings.max_daily_loss_r + exposure.realized_today_r.min(Decimal::ZERO))
                .max(Decimal::ZERO),
        })
    }

    /// Every bracket, newest first (the Track Record's executed trades).
    pub async fn brackets(&self) -> Result<Vec<Bracket>, ExecutionError> {
        let mut all = self.load(&[]).await?;
        all.reverse();
        Ok(all)
    }

    async fn size(
        &self,
        venue: &dyn TradingVenue,
        levels: &Levels,
        equity: Decimal,
        settings: &ExecutionSettings,
        symbol: &str,
    ) -> Result<Sizing, ExecutionError> {
        let rules = venue.rules(symbol).await?;
        let limits = SizingLimits {
            risk_pct: settings.risk_pct,
            max_notional: settings.max_notional,
            max_leverage: settings.max_leverage,
            fee_bps: settings.fee_bps,
        };
        Ok(size(
            levels,
            equity,
            &limits,
            &rules,
            settings.entry == EntryKind::Market,
        )?)
    }

    /// The paper venue prices a market order at the signal's last close
    /// until a newer candle comes.
    fn note_signal_price(&self, signal: &Signal) -> Result<(), ExecutionError> {
        if let (Some(paper), Ok(price)) = (
            self.papers.get(&signal.exchange),
            Decimal::try_from(signal.price),
        ) {
            paper.note_price(
                &signal.symbol,
                price,
                signal.ltf.last_candle_time.unwrap_or(0),
            )?;
        }
        Ok(())
    }

    /// `EXCHANGE|SYMBOL|Strategy|candle|attempt`, the attempt one more than
    /// the brackets of this signal already recorded.
    async fn next_origin(&self, signal: &Signal, candle: i64) -> Result<String, ExecutionError> {
        let stem = format!(
            "{}|{}|{}|{candle}",
            signal.exchange.as_str(),
            signal.symbol,
            signal.strategy.as_str()
        );
        let earlier = self
            .load(&[])
            .await?
            .iter()
            .filter(|b| b.origin.starts_with(&format!("{stem}|")))
            .count();
        Ok(format!("{stem}|{}", earlier + 1))
    }

    /// Open brackets and today's (UTC) realised result.
    async fn exposure(&self) -> Result<Exposure, ExecutionError> {
        let day_start = self.clock.now_ms().div_euclid(86_400_000) * 86_400_000;
        let mut exposure = Exposure::default();
        for bracket in self.load(&[]).await? {
            if bracket.state.is_live() {
                exposure
                    .open
                    .push((bracket.exchange, bracket.symbol.clone()));
            } else if bracket.closed_at.is_some_and(|at| at >= day_start) {
                exposure.realized_today += bracket.pnl.unwrap_or_default();
                exposure.realized_today_r += bracket.r.unwrap_or_default();
            }
        }
        Ok(exposure)
    }

    async fn live_brackets(&self) -> Result<Vec<Bracket>, ExecutionError> {
        self.load(&BracketState::LIVE).await
    }

    async fn load(&self, states: &[&str]) -> Result<Vec<Bracket>, ExecutionError> {
        let states: Vec<String> = states.iter().map(|s| s.to_string()).collect();
        let rows = self
            .journal
            .with_journal(&self.journal_settings, |journal| async move {
                let states: Vec<&str> = states.iter().map(String::as_str).collect();
                journal.executions(&states).await
            })
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| match Bracket::from_row(row) {
                Ok(bracket) => Some(bracket),
                Err(reason) => {
                    tracing::error!("[EXEC] {reason}");
                    None
                }
            })
            .collect())
    }

    async fn save(&self, bracket: &Bracket) -> Result<(), ExecutionError> {
        let row = bracket.to_row();
        let now = self.clock.now_ms();
        self.journal
            .with_journal(&self.journal_settings, |journal| async move {
                journal.save_execution(&row, now).await
            })
            .await?;
        Ok(())
    }

    /// Asks the venue for every leg that may still change.
    async fn refresh(&self, venue: &dyn TradingVenue, bracket: &mut Bracket) {
        for leg in bracket.legs.iter_mut() {
            if leg.state().is_some_and(OrderState::is_final) {
                continue;
            }
            match venue
                .order(&leg.request.symbol, &leg.request.client_id)
                .await
            {
                Ok(Some(report)) => leg.took(report),
                // Recorded but never at the venue (a stop before sending,
                // a request lost on the way).
                Ok(None) if leg.report.is_none() => {
                    leg.error = Some("never reached the venue".into());
                    leg.unknown = false;
                }
                Ok(None) => {}
                Err(e) => leg.error = Some(e.to_string()),
            }
        }
    }

    /// Brings the bracket's state in line with its legs, and keeps the
    /// rule: a held position always has a resting stop.
    async fn protect(&self, venue: &dyn TradingVenue, bracket: &mut Bracket) {
        let entry = bracket.leg(Leg::Entry).cloned();
        let Some(entry) = entry else { return };
        let expired = matches!(
            entry.request.kind,
            OrderKind::Limit { expires_at_ms: Some(at), .. } if at <= self.clock.now_ms()
        );
        if entry.is_resting() && expired {
            // Not every venue expires a resting order (Hyperliquid has no
            // good-till-date): the executor cancels it at its expiry.
            self.cancel_resting(venue, bracket, &[Leg::Entry]).await;
            self.refresh(venue, bracket).await;
        }
        let entry = bracket.leg(Leg::Entry).cloned().unwrap_or(entry);
        let entry_filled = entry.filled();
        let entry_resting = entry.is_resting();
        let held = bracket.held();
        if entry_filled.is_zero() && !entry_resting {
            // Nothing entered and nothing will: the exits go.
            let why = match (&entry.error, entry.state()) {
                (Some(error), _) => format!("the entry was not placed: {error}"),
                (None, Some(OrderState::Expired)) => "the limit entry expired unfilled".into(),
                (None, Some(state)) => format!("the entry ended {state:?} with no fill"),
                (None, None) => "the entry's outcome is unknown".into(),
            };
            if entry.unknown {
                bracket.note = Some(why);
                return; // asked again at the next sync
            }
            self.cancel_resting(venue, bracket, &[Leg::Stop, Leg::Target])
                .await;
            bracket.state = BracketState::Refused;
            bracket.note = Some(why);
            bracket.closed_at = Some(self.clock.now_ms());
            return;
        }
        if held.is_zero() && !entry_resting {
            self.cancel_resting(venue, bracket, &[Leg::Stop, Leg::Target])
                .await;
            self.finish(bracket);
            return;
        }
        let stop_resting = bracket.leg(Leg::Stop).is_some_and(LegRecord::is_resting);
        if stop_resting {
            bracket.state = if held.is_zero() {
                BracketState::Pending
            } else {
                BracketState::Open
            };
            return;
        }
        // No stop at the venue while something is held or may fill.
        let stop_error = bracket
            .leg(Leg::Stop)
            .and_then(|l| {
                l.error
                    .clone()
                    .or_else(|| l.state().map(|s| format!("{s:?}")))
            })
            .unwrap_or_else(|| "no stop order".into());
        if bracket.state == BracketState::Open && !held.is_zero() {
            // It had one (cancelled by hand, rejected at trigger): put it back.
            if self.replace_stop(venue, bracket, held).await {
                bracket.note = Some(format!(
                    "the stop was missing at the venue ({stop_error}): a new one was placed"
                ));
                return;
            }
        }
        let why =
            format!("the stop could not be placed ({stop_error}): the position was closed at once");
        self.close_bracket(venue, bracket, &why).await;
    }

    /// Places a new stop for `held` at the bracket's level.
    async fn replace_stop(
        &self,
        venue: &dyn TradingVenue,
        bracket: &mut Bracket,
        held: Decimal,
    ) -> bool {
        let Some(old) = bracket.leg(Leg::Stop).map(|l| l.request.clone()) else {
            return false;
        };
        let n = bracket
            .legs
            .iter()
            .filter(|l| l.request.leg == Leg::Stop)
            .count();
        let request = OrderRequest {
            client_id: ClientId::derive(&format!("{}|stop{n}", bracket.origin), Leg::Stop),
            quantity: held,
            ..old
        };
        let mut leg = LegRecord::new(request.clone());
        let result = venue.place(std::slice::from_ref(&request)).await.remove(0);
        settle(venue, &mut leg, result).await;
        let placed = leg.is_resting();
        bracket.legs.push(leg);
        placed
    }

    /// Cancels the resting exits and entry, closes what is held at the
    /// market, and records the result.
    async fn close_bracket(&self, venue: &dyn TradingVenue, bracket: &mut Bracket, why: &str) {
        self.cancel_resting(venue, bracket, &[Leg::Entry, Leg::Stop, Leg::Target])
            .await;
        // An entry that filled while being cancelled is held too.
        self.refresh(venue, bracket).await;
        let held = bracket.held();
        if !held.is_zero() {
            let n = bracket
                .legs
                .iter()
                .filter(|l| l.request.leg == Leg::Close)
                .count();
            let request = OrderRequest {
                client_id: ClientId::derive(&format!("{}|close{n}", bracket.origin), Leg::Close),
                leg: Leg::Close,
                symbol: bracket.symbol.clone(),
                side: bracket.sizing.levels.side.opposite(),
                kind: OrderKind::Market,
                quantity: held,
                reduce_only: true,
            };
            let mut leg = LegRecord::new(request.clone());
            let result = venue.place(std::slice::from_ref(&request)).await.remove(0);
            settle(venue, &mut leg, result).await;
            let error = leg.error.clone();
            bracket.legs.push(leg);
            if let Some(error) = error {
                bracket.note = Some(format!(
                    "{why}; closing failed ({error}): the position is still open at the venue"
                ));
                tracing::error!(
                    "[EXEC] {} {}: {}",
                    bracket.exchange,
                    bracket.symbol,
                    bracket.note.as_deref().unwrap_or_default()
                );
                return;
            }
        }
        bracket.note = Some(why.to_string());
        self.finish(bracket);
    }

    fn finish(&self, bracket: &mut Bracket) {
        let pnl = bracket.realized().round_dp(8).normalize();
        bracket.state = BracketState::Closed;
        bracket.closed_at = Some(self.clock.now_ms());
        bracket.pnl = Some(pnl);
        bracket.r = (!bracket.sizing.risk.is_zero())
            .then(|| (pnl / bracket.sizing.risk).round_dp(4).normalize());
    }

    async fn cancel_resting(&self, venue: &dyn TradingVenue, bracket: &mut Bracket, legs: &[Leg]) {
        for leg in bracket.legs.iter_mut() {
            if !legs.contains(&leg.request.leg) || !leg.is_resting() {
                continue;
            }
            match venue
                .cancel(&leg.request.symbol, &leg.request.client_id)
                .await
            {
                Ok(()) => {
                    if let Some(report) = leg.report.as_mut() {
                        report.state = OrderState::Canceled;
                    }
                }
                Err(e) => leg.error = Some(format!("cancel failed: {e}")),
            }
        }
    }
}

/// The signal's levels and candle, or why it cannot be traded.
fn actionable(signal: &Signal) -> Result<(Levels, i64), ExecutionError> {
    let name = format!(
        "{} {} {}",
        signal.exchange.as_str(),
        signal.symbol,
        signal.strategy.as_str()
    );
    let setup = match (&signal.action, &signal.setup) {
        (Action::Long | Action::Short, Some(setup)) => setup,
        _ => return Err(ExecutionError::NoSetup(name)),
    };
    if signal.ltf.stale {
        return Err(ExecutionError::StaleData);
    }
    let candle = signal
        .ltf
        .last_candle_time
        .ok_or(ExecutionError::StaleData)?;
    Ok((Levels::from_setup(setup)?, candle))
}

/// Entry, stop and target of a sized bracket.
fn bracket_orders(
    origin: &str,
    symbol: &str,
    sizing: &Sizing,
    entry: OrderKind,
) -> Vec<OrderRequest> {
    let levels = &sizing.levels;
    let order = |leg: Leg, side, kind| OrderRequest {
        client_id: ClientId::derive(origin, leg),
        leg,
        symbol: symbol.to_string(),
        side,
        kind,
        quantity: sizing.quantity,
        reduce_only: leg != Leg::Entry,
    };
    let exit = levels.side.opposite();
    vec![
        order(Leg::Entry, levels.side, entry),
        order(
            Leg::Stop,
            exit,
            OrderKind::StopMarket {
                trigger: levels.stop,
            },
        ),
        order(
            Leg::Target,
            exit,
            OrderKind::TakeProfitMarket {
                trigger: levels.target,
            },
        ),
    ]
}

/// Records a leg's result. An unknown outcome is looked up by the leg's
/// client id, waiting longer each time; only when the venue says it never
/// had the order is it sent again, with the same id.
async fn settle(
    venue: &dyn TradingVenue,
    leg: &mut LegRecord,
    result: Result<OrderReport, TradeError>,
) {
    let mut result = result;
    let (mut not_found, mut resent) = (0, false);
    for wait in LOOKUP_WAITS {
        match result {
            Ok(report) => return leg.took(report),
            Err(TradeError::Unknown { .. }) => {
                tokio::time::sleep(wait).await;
                result = match venue
                    .order(&leg.request.symbol, &leg.request.client_id)
                    .await
                {
                    Ok(Some(report)) => Ok(report),
                    // A venue may not know an order it placed a moment ago
                    // (Hyperliquid's lag): sent again only when two lookups
                    // apart did not find it, with the same client id.
                    Ok(None) => {
                        not_found += 1;
                        if not_found >= 2 && !resent {
                            resent = true;
                            venue
                                .place(std::slice::from_ref(&leg.request))
                                .await
                                .remove(0)
                        } else {
                            Err(TradeError::Unknown {
                                venue: venue.name().into(),
                                reason: "not found at the venue yet".into(),
                            })
                        }
                    }
                    // A failed lookup says nothing about the order.
                    Err(e) => Err(TradeError::Unknown {
                        venue: venue.name().into(),
                        reason: format!("lookup failed: {e}"),
                    }),
                };
            }
            Err(e) => {
                leg.error = Some(e.to_string());
                return;
            }
        }
    }
    match result {
        Ok(report) => leg.took(report),
        Err(e) => {
            leg.unknown = true;
            leg.error = Some(e.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::JournalSettings;
    use async_trait::async_trait;
    use quantpro_model::fixtures::sample_signal;
    use quantpro_model::Strategy;
    use quantpro_sources::trading::{Equity, PositionReport, SymbolRules};
    use std::sync::Mutex;

    /// 2024-07-16 00:00 UTC, the fixture signal's candle.
    const T0: i64 = 1_721_088_000_000;

    /// The paper venue with faults of a real one on demand: a reply lost
    /// after the order was placed, or a leg refused as Binance refuses a
    /// stop that would trigger at once (-2021).
    struct Faulty {
        inner: Arc<PaperVenue>,
        lose_reply: Mutex<Vec<Leg>>,
        refuse: Mutex<Vec<Leg>>,
        sent: Mutex<Vec<ClientId>>,
    }

    #[async_trait]
    impl TradingVenue for Faulty {
        fn name(&self) -> &str {
            self.inner.name()
        }
        fn is_live(&self) -> bool {
            false
        }
        async fn equity(&self) -> Result<Equity, TradeError> {
            self.inner.equity().await
        }
        async fn rules(&self, symbol: &str) -> Result<SymbolRules, TradeError> {
            self.inner.rules(symbol).await
        }
        async fn place(&self, orders: &[OrderRequest]) -> Vec<Result<OrderReport, TradeError>> {
            let mut out = Vec::new();
            for order in orders {
                self.sent.lock().unwrap().push(order.client_id.clone());
                if self.refuse.lock().unwrap().contains(&order.leg) {
                    out.push(Err(TradeError::Refused {
                        venue: "FAKE".into(),
                        code: "-2021".into(),
                        message: "Order would immediately trigger.".into(),
                    }));
                    continue;
                }
                let placed = self
                    .inner
                    .place(std::slice::from_ref(order))
                    .await
                    .remove(0);
                let mut lose = self.lose_reply.lock().unwrap();
                if let Some(i) = lose.iter().position(|l| *l == order.leg) {
                    lose.remove(i);
                    out.push(Err(TradeError::Unknown {
                        venue: "FAKE".into(),
                        reason: "the connection dropped before the answer".into(),
                    }));
                } else {
                    out.push(placed);
                }
            }
            out
        }
        async fn order(
            &self,
            symbol: &str,
            id: &ClientId,
        ) -> Result<Option<OrderReport>, TradeError> {
            self.inner.order(symbol, id).await
        }
        async fn cancel(&self, symbol: &str, id: &ClientId) -> Result<(), TradeError> {
            self.inner.cancel(symbol, id).await
        }
        async fn open_orders(&self) -> Result<Vec<OrderReport>, TradeError> {
            self.inner.open_orders().await
        }
        async fn positions(&self) -> Result<Vec<PositionReport>, TradeError> {
            self.inner.positions().await
        }
    }

    struct Desk {
        _dir: tempfile::TempDir,
        dir: std::path::PathBuf,
        executor: Executor,
        venue: Arc<Faulty>,
        settings: ExecutionSettings,
        clock: Clock,
    }

    /// An executor whose BINANCE venue is a faulty paper venue, at `T0`
    /// plus a minute.
    fn desk() -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let clock = Clock::starting_at(T0 + 60_000, 1.0);
        let settings = ExecutionSettings::default();
        let (executor, venue) = reopen(&path, clock, &settings);
        Desk {
            _dir: dir,
            dir: path,
            executor,
            venue,
            settings,
            clock,
        }
    }

    /// The desk after a restart: a new executor on the same journal and
    /// the same paper account.
    fn reopen(dir: &Path, clock: Clock, settings: &ExecutionSettings) -> (Executor, Arc<Faulty>) {
        let free = ExecutionSettings {
            fee_bps: Decimal::ZERO,
            slippage_bps: Decimal::ZERO,
            ..settings.clone()
        };
        let journal = JournalHandle::new(dir);
        let mut executor =
            Executor::paper(dir, &free, journal, JournalSettings::default(), clock).unwrap();
        // The executor's own paper venue (prices and candles reach it),
        // seen through the faults.
        let venue = Arc::new(Faulty {
            inner: executor.papers[&Exchange::Binance].clone(),
            lose_reply: Mutex::new(Vec::new()),
            refuse: Mutex::new(Vec::new()),
            sent: Mutex::new(Vec::new()),
        });
        executor.venues.insert(Exchange::Binance, venue.clone());
        (executor, venue)
    }

    fn signal() -> Signal {
        sample_signal("BTCUSDT", Strategy::Legacy)
    }

    fn candle(o: f64, h: f64, l: f64, c: f64) -> Candle {
        Candle {
            t: T0 + 15 * 60_000,
            o,
            h,
            l,
            c,
            v: 1.0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_confirmed_ticket_opens_one_bracket_with_its_stop() {
        let d = desk();
        let ticket = d.executor.ticket(&signal(), &d.settings).await.unwrap();
        assert_eq!(ticket.refusal, None);
        assert!(!ticket.live);
        let bracket = d
            .executor
            .open(&signal(), ticket.signal_candle, &d.settings)
            .await
            .unwrap();
        assert_eq!(bracket.state, BracketState::Open, "{:?}", bracket.note);
        assert_eq!(bracket.sizing, ticket.sizing);
        assert!(bracket.leg(Leg::Stop).unwrap().is_resting());
        assert!(bracket.leg(Leg::Target).unwrap().is_resting());

        // A second confirmation (a double click) is refused: one position.
        let again = d
            .executor
            .open(&signal(), ticket.signal_candle, &d.settings)
            .await;
        assert!(matches!(
            again,
            Err(ExecutionError::Risk(RiskRefusal::AlreadyOpen { .. }))
        ));
        let positions = d.venue.positions().await.unwrap();
        assert_eq!(positions.len(), 1);
        assert_eq!(positions[0].quantity, ticket.sizing.quantity);
        let view = d.executor.positions(&d.settings).await.unwrap();
        assert_eq!(view.open.len(), 1);
        assert_eq!(view.open[0].unrealized, Some(Decimal::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_reply_is_looked_up_and_never_placed_twice() {
        let d = desk();
        d.venue.lose_reply.lock().unwrap().push(Leg::Entry);
        let bracket = d.executor.open(&signal(), T0, &d.settings).await.unwrap();
        assert_eq!(bracket.state, BracketState::Open);
        let entry_id = &bracket.leg(Leg::Entry).unwrap().request.client_id;
        let sends = d
            .venue
            .sent
            .lock()
            .unwrap()
            .iter()
            .filter(|id| *id == entry_id)
            .count();
        assert_eq!(sends, 1, "found by its client id, not sent again");
        assert_eq!(
            d.venue.positions().await.unwrap()[0].quantity,
            bracket.sizing.quantity
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_that_cannot_be_placed_closes_the_position_at_once() {
        let d = desk();
        d.venue.refuse.lock().unwrap().push(Leg::Stop);
        let bracket = d.executor.open(&signal(), T0, &d.settings).await.unwrap();
        assert_eq!(bracket.state, BracketState::Closed);
        let note = bracket.note.clone().unwrap();
        assert!(
            note.contains("the stop could not be placed") && note.contains("-2021"),
            "{note}"
        );
        assert!(
            d.venue.positions().await.unwrap().is_empty(),
            "no entry without its stop"
        );
        assert!(
            d.venue.open_orders().await.unwrap().is_empty(),
            "the target went too"
        );
        assert_eq!(
            bracket.pnl,
            Some(Decimal::ZERO),
            "in and out at the same price, no fees"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_out_closes_the_bracket_and_counts_against_the_day() {
        let d = desk();
        let bracket = d.executor.open(&signal(), T0, &d.settings).await.unwrap();
        let changed = d
            .executor
            .on_candle(
                Exchange::Binance,
                "BTCUSDT",
                &candle(64000.0, 64100.0, 63000.0, 63100.0),
            )
            .await
            .unwrap();
        assert_eq!(changed.len(), 1);
        let closed = &changed[0];
        assert_eq!(closed.state, BracketState::Closed);
        let loss =
            (Decimal::from(63500) - Decimal::try_from(64080.5).unwrap()) * bracket.sizing.quantity;
        assert_eq!(closed.pnl, Some(loss.round_dp(8).normalize()));
        assert_eq!(
            closed.r,
            Some(Decimal::NEGATIVE_ONE),
            "the stop loses what sizing risked: -1 R"
        );
        let view = d.executor.positions(&d.settings).await.unwrap();
        assert!(view.open.is_empty());
        assert_eq!(view.realized_today_r, Decimal::NEGATIVE_ONE);
        assert_eq!(view.headroom_r, Decimal::TWO);
    }

    #[tokio::test(start_paused = true)]
    async fn the_daily_loss_limit_refuses_new_orders() {
        let mut d = desk();
        d.settings.max_daily_loss_r = Decimal::ONE;
        d.executor.open(&signal(), T0, &d.settings).await.unwrap();
        d.executor
            .on_candle(
                Exchange::Binance,
                "BTCUSDT",
                &candle(64000.0, 64100.0, 63000.0, 63100.0),
            )
            .await
            .unwrap();
        let err = d
            .executor
            .open(&signal(), T0, &d.settings)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ExecutionError::Risk(RiskRefusal::DailyLossR { .. })),
            "{err}"
        );
        let ticket = d.executor.ticket(&signal(), &d.settings).await.unwrap();
        assert!(ticket.refusal.unwrap().contains("max_daily_loss_r"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_ticket_on_a_changed_signal_or_a_wait_is_refused() {
        let d = desk();
        let err = d
            .executor
            .open(&signal(), T0 - 15 * 60_000, &d.settings)
            .await
            .unwrap_err();
        assert!(matches!(err, ExecutionError::Stale { .. }), "{err}");
        let mut wait = signal();
        wait.action = Action::Wait;
        assert!(matches!(
            d.executor.open(&wait, T0, &d.settings).await,
            Err(ExecutionError::NoSetup(_))
        ));
        let mut wrong = signal();
        wrong.setup.as_mut().unwrap().sl = 65000.0;
        let err = d.executor.open(&wrong, T0, &d.settings).await.unwrap_err();
        assert!(err.to_string().contains("must be below the entry"), "{err}");
        assert!(d.venue.sent.lock().unwrap().is_empty(), "nothing was sent");
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_reconciles_and_puts_back_a_missing_stop() {
        let d = desk();
        let bracket = d.executor.open(&signal(), T0, &d.settings).await.unwrap();
        // Someone cancels the stop at the venue while QuantPro is down.
        let stop = bracket.leg(Leg::Stop).unwrap().request.client_id.clone();
        d.venue.cancel("BTCUSDT", &stop).await.unwrap();
        drop(d.executor);

        let (executor, venue) = reopen(&d.dir, d.clock, &d.settings);
        executor.sync().await.unwrap();
        let open = executor.positions(&d.settings).await.unwrap().open;
        assert_eq!(open.len(), 1);
        let reconciled = &open[0].bracket;
        assert_eq!(reconciled.state, BracketState::Open);
        assert!(reconciled
            .note
            .as_deref()
            .unwrap()
            .contains("a new one was placed"));
        let resting = venue.open_orders().await.unwrap();
        assert_eq!(resting.len(), 2, "the new stop and the target: {resting:?}");
        assert!(resting
            .iter()
            .any(|o| o.client_id != stop && o.client_id.as_str().starts_with("qp-sl-")));
    }

    #[tokio::test(start_paused = true)]
    async fn the_kill_switch_leaves_nothing_open() {
        let d = desk();
        d.executor.open(&signal(), T0, &d.settings).await.unwrap();
        let eth = sample_signal("ETHUSDT", Strategy::Legacy);
        d.executor.open(&eth, T0, &d.settings).await.unwrap();
        assert_eq!(d.venue.positions().await.unwrap().len(), 2);
        let done = d.executor.flatten().await.unwrap();
        assert_eq!(done.closed.len(), 2, "{done:?}");
        assert!(done.errors.is_empty(), "{done:?}");
        assert!(d.venue.positions().await.unwrap().is_empty());
        assert!(d.venue.open_orders().await.unwrap().is_empty());
        assert!(d
            .executor
            .positions(&d.settings)
            .await
            .unwrap()
            .open
            .is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn paper_trades_fill_from_the_candles_the_live_loop_stores() {
        use quantpro_core::candles::store::CandleStore;
        use quantpro_model::Interval;
        let d = desk();
        d.executor.open(&signal(), T0, &d.settings).await.unwrap();
        // The signal's candle, then one that runs through the target.
        let series = [
            Candle {
                t: T0,
                o: 64000.0,
                h: 64100.0,
                l: 63900.0,
                c: 64080.5,
                v: 1.0,
            },
            Candle {
                t: T0 + 15 * 60_000,
                o: 64080.0,
                h: 65600.0,
                l: 64000.0,
                c: 65550.0,
                v: 1.0,
            },
        ];
        for (interval, candles) in [(Interval::M15, &series[..]), (Interval::H4, &series[..1])] {
            let path =
                CandleStore::path_of(&d.dir, &(Exchange::Binance, "BTCUSDT".into(), interval));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, quantpro_core::candles::candles_to_json(candles)).unwrap();
        }
        d.clock.sleep_until_ms(T0 + 31 * 60_000).await;
        let changed = d.executor.follow_stored_candles(&d.dir).await.unwrap();
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert_eq!(changed[0].state, BracketState::Closed);
        assert!(
            changed[0].r.unwrap() > Decimal::TWO,
            "the target: {:?}",
            changed[0].r
        );
        // Fed once: the same files again change nothing.
        assert!(d
            .executor
            .follow_stored_candles(&d.dir)
            .await
            .unwrap()
            .is_empty());
    }
}
