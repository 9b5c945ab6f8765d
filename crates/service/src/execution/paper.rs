//! The paper venue: a [`TradingVenue`] that fills from the candles the
//! product already follows, so paper trading needs no key and works on the
//! simulated market and on any data. One per exchange, each with its own
//! account (`execution.paper_balance` to start).
//!
//! Fills follow STRATEGIES.md §6 as the backtest does: a market order fills
//! at the last price; a resting limit entry fills when a candle trades
//! through it; a stop or target fills when a candle reaches it, **the stop
//! first when both are inside one candle**, at its level or at the open when
//! the candle opened beyond it (a gap). Every fill pays `fee_bps` of its
//! value and is `slippage_bps` worse than its level. When a position is
//! flat its remaining stop or target is cancelled, as a venue expires the
//! conditional legs of a closed position.
//!
//! The book (balance, orders, positions, last prices) is written atomically
//! to `paper-<EXCHANGE>.json` in the data directory after every change and
//! read back before every use: like a real venue it outlives QuantPro's
//! restarts (a restart reconciles with it), and the CLI and the server see
//! one account. (Two processes changing it in the same millisecond could
//! lose one change: the executor's one-flow-at-a-time lock is per process.)

use async_trait::async_trait;
use quantpro_model::atomic_file::write_atomic;
use quantpro_model::{Candle, Exchange};
use quantpro_sources::trading::{
    ClientId, Equity, Leg, OrderKind, OrderReport, OrderRequest, OrderState, PositionReport, Side,
    SymbolRules, TradeError, TradingVenue,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The paper venue's grid: fine enough for any coin's price and size.
const TICK: Decimal = Decimal::from_parts(1, 0, 0, false, 8);
const STEP: Decimal = Decimal::from_parts(1, 0, 0, false, 6);

/// Fill costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperCosts {
    pub fee_bps: Decimal,
    pub slippage_bps: Decimal,
}

/// One exchange's paper account.
#[derive(Debug)]
pub struct PaperVenue {
    name: String,
    path: PathBuf,
    costs: PaperCosts,
    book: Mutex<Book>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Book {
    /// Cash: the starting balance plus realised PnL minus fees.
    balance: Decimal,
    orders: BTreeMap<ClientId, PaperOrder>,
    /// Signed quantity and average entry per symbol.
    positions: BTreeMap<String, Position>,
    /// The last price seen per symbol, with its candle's open time.
    marks: BTreeMap<String, Mark>,
    next_id: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PaperOrder {
    request: OrderRequest,
    report: OrderReport,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Position {
    quantity: Decimal,
    entry_price: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Mark {
    price: Decimal,
    candle_ms: i64,
}

impl PaperVenue {
    /// The paper account of `exchange` kept in `data_dir`; a new one starts
    /// with `balance`. A book that cannot be read is an error (never
    /// silently a fresh account: positions would be forgotten).
    pub fn open(
        data_dir: &Path,
        exchange: Exchange,
        balance: Decimal,
        costs: PaperCosts,
    ) -> Result<PaperVenue, TradeError> {
        let path = data_dir.join(quantpro_model::paper_account_file(exchange));
        let book = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                TradeError::Unavailable(format!(
                    "the paper account {} cannot be read: {e}",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Book {
                balance,
                ..Book::default()
            },
            Err(e) => {
                return Err(TradeError::Unavailable(format!(
                    "the paper account {} cannot be read: {e}",
                    path.display()
                )))
            }
        };
        Ok(PaperVenue {
            name: format!("PAPER {}", exchange.as_str()),
            path,
            costs,
            book: Mutex::new(book),
        })
    }

    /// The file the account is kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A closed candle of `symbol`: its close is the new last price, and the
    /// resting orders it reaches fill (§6 order: stop before target).
    /// Returns the orders that changed.
    pub fn on_candle(&self, symbol: &str, candle: &Candle) -> Result<Vec<OrderReport>, TradeError> {
        let costs = self.costs;
        self.change(|book| {
            let Some(close) = decimal(candle.c) else {
                return Vec::new();
            };
            let newer = book
                .marks
                .get(symbol)
                .is_none_or(|m| m.candle_ms <= candle.t);
            if newer {
                book.marks.insert(
                    symbol.to_string(),
                    Mark {
                        price: close,
                        candle_ms: candle.t,
                    },
                );
            }
            book.fill_reached(symbol, candle, costs)
        })
    }

    /// Sets the last price of `symbol` when the venue has none newer (the
    /// signal's price when a ticket opens before any candle came).
    pub fn note_price(
        &self,
        symbol: &str,
        price: Decimal,
        candle_ms: i64,
    ) -> Result<(), TradeError> {
        self.change(|book| {
            if book
                .marks
                .get(symbol)
                .is_none_or(|m| m.candle_ms < candle_ms)
            {
                book.marks
                    .insert(symbol.to_string(), Mark { price, candle_ms });
            }
        })
    }

    /// Open time of the newest candle the venue has seen for `symbol`.
    pub fn last_candle(&self, symbol: &str) -> Option<i64> {
        self.read(|book| book.marks.get(symbol).map(|m| m.candle_ms))
    }

    /// The last price of `symbol`.
    pub fn mark(&self, symbol: &str) -> Option<Decimal> {
        self.read(|book| book.marks.get(symbol).map(|m| m.price))
    }

    fn read<T>(&self, f: impl FnOnce(&Book) -> T) -> T {
        let mut guard = self.book.lock().unwrap_or_else(|e| e.into_inner());
        self.reload(&mut guard);
        f(&guard)
    }

    /// The file is the account: another process (`quantpro trade` beside
    /// the server) may have changed it since this one last did. A file
    /// that cannot be read now keeps the last book read (logged).
    fn reload(&self, book: &mut Book) {
        match std::fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(read) => *book = read,
                Err(e) => tracing::error!(
                    "[EXEC] the paper account {} cannot be read: {e}; keeping the last one read",
                    self.path.display()
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::error!(
                "[EXEC] the paper account {} cannot be read: {e}",
                self.path.display()
            ),
        }
    }

    /// Applies `f` and writes the book; a book that cannot be written is
    /// not changed (the venue refuses rather than forget).
    fn change<T>(&self, f: impl FnOnce(&mut Book) -> T) -> Result<T, TradeError> {
        let mut guard = self.book.lock().unwrap_or_else(|e| e.into_inner());
        self.reload(&mut guard);
        let mut book = guard.clone();
        let out = f(&mut book);
        if book != *guard {
            let bytes = serde_json::to_vec_pretty(&book)
                .map_err(|e| TradeError::Unavailable(e.to_string()))?;
            write_atomic(&self.path, &bytes).map_err(|e| {
                TradeError::Unavailable(format!(
                    "the paper account {} cannot be written: {e}",
                    self.path.display()
                ))
            })?;
            *guard = book;
        }
        Ok(out)
    }
}

/// Six significant figures of `price` (5910.04 moves by 0.01), as the
/// prices a venue quotes; never finer than 1e-8.
fn paper_tick(price: Decimal) -> Decimal {
    use rust_decimal::prelude::ToPrimitive;
    let Some(log) = price.to_f64().filter(|p| *p > 0.0).map(f64::log10) else {
        return TICK;
    };
    let exponent = log.floor() as i64 - 5;
    if exponent >= 0 {
        Decimal::from(10u64.pow(exponent.min(18) as u32))
    } else {
        Decimal::new(1, (-exponent).min(8) as u32)
    }
}

fn decimal(value: f64) -> Option<Decimal> {
    Decimal::try_from(value).ok().filter(|d| *d > Decimal::ZERO)
}

fn bps(value: Decimal, bps: Decimal) -> Decimal {
    value * bps / Decimal::from(10_000)
}

impl Book {
    fn unrealized(&self) -> Decimal {
        self.positions
            .iter()
            .map(|(symbol, p)| {
                let mark = self.marks.get(symbol).map_or(p.entry_price, |m| m.price);
                (mark - p.entry_price) * p.quantity
            })
            .sum()
    }

    fn place(
        &mut self,
        request: &OrderRequest,
        costs: PaperCosts,
    ) -> Result<OrderReport, TradeError> {
        if self.orders.contains_key(&request.client_id) {
            return Err(TradeError::Refused {
                venue: "PAPER".into(),
                code: "duplicate".into(),
                message: format!("an order with client id {} exists", request.client_id),
            });
        }
        if request.quantity <= Decimal::ZERO {
            return Err(TradeError::Invalid(format!(
                "quantity {} must be positive",
                request.quantity
            )));
        }
        let mark = self.marks.get(&request.symbol).map(|m| m.price);
        if request.reduce_only
            && request.leg == Leg::Close
            && self.position(&request.symbol).is_zero()
        {
            return Err(TradeError::Refused {
                venue: "PAPER".into(),
                code: "reduce_only".into(),
                message: format!("no position in {} to close", request.symbol),
            });
        }
        self.next_id += 1;
        let mut report = OrderReport {
            client_id: request.client_id.clone(),
            venue_id: format!("paper-{}", self.next_id),
            symbol: request.symbol.clone(),
            side: request.side,
            state: OrderState::Open,
            quantity: request.quantity,
            filled: Decimal::ZERO,
            average_price: None,
            fee: Decimal::ZERO,
        };
        if request.kind == OrderKind::Market {
            let Some(mark) = mark else {
                return Err(TradeError::Refused {
                    venue: "PAPER".into(),
                    code: "no_price".into(),
                    message: format!("no price for {} yet", request.symbol),
                });
            };
            let quantity = if request.reduce_only {
                request.quantity.min(self.position(&request.symbol).abs())
            } else {
                request.quantity
            };
            self.fill(&mut report, request.side, quantity, mark, costs);
        }
        self.orders.insert(
            request.client_id.clone(),
            PaperOrder {
                request: request.clone(),
                report: report.clone(),
            },
        );
        Ok(report)
    }

    fn position(&self, symbol: &str) -> Decimal {
        self.positions
            .get(symbol)
            .map_or(Decimal::ZERO, |p| p.quantity)
    }

    /// Fills `quantity` of `report` at `level` made worse by the slippage,
    /// moves the position and the cash.
    fn fill(
        &mut self,
        report: &mut OrderReport,
        side: Side,
        quantity: Decimal,
        level: Decimal,
        costs: PaperCosts,
    ) {
        let slip = bps(level, costs.slippage_bps);
        let price = match side {
            Side::Buy => level + slip,
            Side::Sell => level - slip,
        }
        .round_dp(8)
        .normalize();
        let fee = bps(price * quantity, costs.fee_bps).round_dp(8);
        let signed = match side {
            Side::Buy => quantity,
            Side::Sell => -quantity,
        };
        let position = self
            .positions
            .get(&report.symbol)
            .copied()
            .unwrap_or(Position {
                quantity: Decimal::ZERO,
                entry_price: price,
            });
        let new_quantity = position.quantity + signed;
        let same_way = position.quantity.is_zero()
            || position.quantity.is_sign_positive() == signed.is_sign_positive();
        let realized = if same_way {
            Decimal::ZERO
        } else {
            let closed = quantity.min(position.quantity.abs());
            (price - position.entry_price)
                * closed
                * if position.quantity.is_sign_negative() {
                    Decimal::NEGATIVE_ONE
                } else {
                    Decimal::ONE
                }
        };
        let entry_price = if same_way {
            let total = position.quantity.abs() + quantity;
            ((position.entry_price * position.quantity.abs() + price * quantity) / total)
                .round_dp(8)
        } else if new_quantity.is_sign_positive() != position.quantity.is_sign_positive()
            && !new_quantity.is_zero()
        {
            price
        } else {
            position.entry_price
        };
        if new_quantity.is_zero() {
            self.positions.remove(&report.symbol);
        } else {
            self.positions.insert(
                report.symbol.clone(),
                Position {
                    quantity: new_quantity,
                    entry_price,
                },
            );
        }
        self.balance += realized - fee;
        let before = report.filled;
        report.filled += quantity;
        report.average_price = Some(match report.average_price {
            Some(avg) if !before.is_zero() => {
                ((avg * before + price * quantity) / report.filled).round_dp(8)
            }
            _ => price,
        });
        report.fee += fee;
        report.state = if report.filled >= report.quantity {
            OrderState::Filled
        } else {
            OrderState::PartiallyFilled
        };
    }

    /// The resting orders of `symbol` that `candle` reaches, in §6 order.
    fn fill_reached(
        &mut self,
        symbol: &str,
        candle: &Candle,
        costs: PaperCosts,
    ) -> Vec<OrderReport> {
        let (Some(open), Some(high), Some(low)) =
            (decimal(candle.o), decimal(candle.h), decimal(candle.l))
        else {
            return Vec::new();
        };
        let mut changed = Vec::new();
        // Entries first (a limit entry filled in this candle is protected
        // from the next one on: §6 checks exits from the candle after entry).
        let ids: Vec<ClientId> = self.resting(symbol, |o| o.request.leg == Leg::Entry);
        for id in ids {
            let order = self.orders[&id].clone();
            let OrderKind::Limit {
                price,
                expires_at_ms,
            } = order.request.kind
            else {
                continue;
            };
            let mut report = order.report.clone();
            if expires_at_ms.is_some_and(|at| candle.t >= at) {
                report.state = OrderState::Expired;
            } else {
                let reached = match order.request.side {
                    Side::Buy => low <= price,
                    Side::Sell => high >= price,
                };
                if !reached {
                    continue;
                }
                let level = match order.request.side {
                    Side::Buy => price.min(open),
                    Side::Sell => price.max(open),
                };
                let remaining = report.quantity - report.filled;
                self.fill(
                    &mut report,
                    order.request.side,
                    remaining,
                    level,
                    PaperCosts {
                        slippage_bps: Decimal::ZERO,
                        ..costs
                    },
                );
            }
            self.orders.get_mut(&id).expect("listed").report = report.clone();
            changed.push(report);
        }
        if changed.iter().any(|r| r.state == OrderState::Filled) {
            return changed;
        }
        // Exits: the stop first when both levels are inside the candle.
        let mut exits: Vec<ClientId> = self.resting(symbol, |o| o.request.reduce_only);
        exits.sort_by_key(|id| (self.orders[id].request.leg != Leg::Stop, id.clone()));
        for id in exits {
            let position = self.position(symbol);
            if position.is_zero() {
                break;
            }
            let order = self.orders[&id].clone();
            let trigger = match order.request.kind {
                OrderKind::StopMarket { trigger } | OrderKind::TakeProfitMarket { trigger } => {
                    trigger
                }
                _ => continue,
            };
            let is_stop = matches!(order.request.kind, OrderKind::StopMarket { .. });
            // A sell stop fires when the price falls to it; a sell target
            // when it rises to it; a buy mirrors both.
            let falls_to = (order.request.side == Side::Sell) == is_stop;
            let (reached, level) = if falls_to {
                (low <= trigger, trigger.min(open))
            } else {
                (high >= trigger, trigger.max(open))
            };
            if !reached {
                continue;
            }
            let mut report = order.report.clone();
            let quantity = (report.quantity - report.filled).min(position.abs());
            self.fill(&mut report, order.request.side, quantity, level, costs);
            self.orders.get_mut(&id).expect("listed").report = report.clone();
            changed.push(report);
        }
        changed.extend(self.expire_orphans(symbol));
        changed
    }

    /// Cancels the reduce-only orders of a symbol that is flat.
    fn expire_orphans(&mut self, symbol: &str) -> Vec<OrderReport> {
        if !self.position(symbol).is_zero() {
            return Vec::new();
        }
        let pending_entry = !self
            .resting(symbol, |o| o.request.leg == Leg::Entry)
            .is_empty();
        if pending_entry {
            return Vec::new();
        }
        let ids = self.resting(symbol, |o| o.request.reduce_only);
        ids.into_iter()
            .map(|id| {
                let order = self.orders.get_mut(&id).expect("listed");
                order.report.state = OrderState::Expired;
                order.report.clone()
            })
            .collect()
    }

    fn resting(&self, symbol: &str, wanted: impl Fn(&PaperOrder) -> bool) -> Vec<ClientId> {
        self.orders
            .iter()
            .filter(|(_, o)| o.request.symbol == symbol && !o.report.state.is_final() && wanted(o))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

#[async_trait]
impl TradingVenue for PaperVenue {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_live(&self) -> bool {
        false
    }

    async fn equity(&self) -> Result<Equity, TradeError> {
        Ok(self.read(|book| {
            let total = book.balance + book.unrealized();
            Equity {
                total,
                available: total,
            }
        }))
    }

    async fn rules(&self, symbol: &str) -> Result<SymbolRules, TradeError> {
        Ok(SymbolRules::Paper {
            tick: self.mark(symbol).map_or(TICK, paper_tick),
            step: STEP,
        })
    }

    async fn place(&self, orders: &[OrderRequest]) -> Vec<Result<OrderReport, TradeError>> {
        let costs = self.costs;
        let mut results = Vec::with_capacity(orders.len());
        for order in orders {
            let placed = self
                .change(|book| book.place(order, costs))
                .and_then(|placed| placed);
            results.push(placed);
        }
        results
    }

    async fn order(&self, _symbol: &str, id: &ClientId) -> Result<Option<OrderReport>, TradeError> {
        Ok(self.read(|book| book.orders.get(id).map(|o| o.report.clone())))
    }

    async fn cancel(&self, _symbol: &str, id: &ClientId) -> Result<(), TradeError> {
        self.change(|book| {
            if let Some(order) = book.orders.get_mut(id) {
                if !order.report.state.is_final() {
                    order.report.state = OrderState::Canceled;
                }
            }
        })
    }

    async fn open_orders(&self) -> Result<Vec<OrderReport>, TradeError> {
        Ok(self.read(|book| {
            book.orders
                .values()
                .filter(|o| !o.report.state.is_final())
                .map(|o| o.report.clone())
                .collect()
        }))
    }

    async fn positions(&self) -> Result<Vec<PositionReport>, TradeError> {
        Ok(self.read(|book| {
            book.positions
                .iter()
                .map(|(symbol, p)| {
                    let mark = book.marks.get(symbol).map(|m| m.price);
                    PositionReport {
                        symbol: symbol.clone(),
                        quantity: p.quantity,
                        entry_price: p.entry_price,
                        mark_price: mark,
                        unrealized_pnl: mark
                            .map_or(Decimal::ZERO, |m| (m - p.entry_price) * p.quantity),
                    }
                })
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn free() -> PaperCosts {
        PaperCosts {
            fee_bps: Decimal::ZERO,
            slippage_bps: Decimal::ZERO,
        }
    }

    fn order(leg: Leg, side: Side, kind: OrderKind, qty: &str) -> OrderRequest {
        OrderRequest {
            client_id: ClientId::derive("BTCUSDT|test", leg),
            leg,
            symbol: "BTCUSDT".into(),
            side,
            kind,
            quantity: d(qty),
            reduce_only: leg != Leg::Entry,
        }
    }

    fn bracket() -> Vec<OrderRequest> {
        vec![
            order(Leg::Entry, Side::Buy, OrderKind::Market, "2"),
            order(
                Leg::Stop,
                Side::Sell,
                OrderKind::StopMarket { trigger: d("98") },
                "2",
            ),
            order(
                Leg::Target,
                Side::Sell,
                OrderKind::TakeProfitMarket { trigger: d("106") },
                "2",
            ),
        ]
    }

    fn candle(t: i64, o: f64, h: f64, l: f64, c: f64) -> Candle {
        Candle {
            t,
            o,
            h,
            l,
            c,
            v: 1.0,
        }
    }

    fn venue(dir: &Path, costs: PaperCosts) -> PaperVenue {
        let venue = PaperVenue::open(dir, Exchange::Binance, d("10000"), costs).unwrap();
        venue
            .on_candle("BTCUSDT", &candle(0, 100.0, 100.0, 100.0, 100.0))
            .unwrap();
        venue
    }

    #[tokio::test]
    async fn a_bracket_fills_its_entry_and_rests_its_exits() {
        let dir = tempfile::tempdir().unwrap();
        let venue = venue(dir.path(), free());
        let placed: Vec<OrderReport> = venue
            .place(&bracket())
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(placed[0].state, OrderState::Filled);
        assert_eq!(placed[0].average_price, Some(d("100")));
        assert_eq!(
            (placed[1].state.clone(), placed[2].state.clone()),
            (OrderState::Open, OrderState::Open)
        );
        let positions = venue.positions().await.unwrap();
        assert_eq!(
            (positions[0].quantity, positions[0].entry_price),
            (d("2"), d("100"))
        );
        assert_eq!(venue.open_orders().await.unwrap().len(), 2);

        // The same client id again is refused, not a second position.
        let again = venue.place(&bracket()[..1]).await;
        assert!(matches!(again[0], Err(TradeError::Refused { .. })));
        assert_eq!(venue.positions().await.unwrap()[0].quantity, d("2"));
    }

    #[tokio::test]
    async fn the_stop_fills_first_when_both_levels_are_in_one_candle() {
        let dir = tempfile::tempdir().unwrap();
        let venue = venue(dir.path(), free());
        venue.place(&bracket()).await;
        let changed = venue
            .on_candle("BTCUSDT", &candle(1, 100.0, 107.0, 97.0, 101.0))
            .unwrap();
        assert_eq!(changed[0].client_id, bracket()[1].client_id, "the stop");
        assert_eq!(changed[0].average_price, Some(d("98")));
        assert_eq!(
            changed[1].state,
            OrderState::Expired,
            "the target of a flat position"
        );
        assert!(venue.positions().await.unwrap().is_empty());
        assert_eq!(
            venue.equity().await.unwrap().total,
            d("9996"),
            "lost 2 x 2.00"
        );
        assert!(venue.open_orders().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_gap_through_the_stop_fills_at_the_open_with_fees_and_slippage() {
        let dir = tempfile::tempdir().unwrap();
        let costs = PaperCosts {
            fee_bps: d("10"),
            slippage_bps: d("10"),
        };
        let venue = venue(dir.path(), costs);
        let entry = venue.place(&bracket()).await.remove(0).unwrap();
        assert_eq!(entry.average_price, Some(d("100.1")), "10 bp worse");
        assert_eq!(entry.fee, d("0.2002"));
        venue
            .on_candle("BTCUSDT", &candle(1, 95.0, 96.0, 94.0, 95.0))
            .unwrap();
        let stop = venue
            .order("BTCUSDT", &bracket()[1].client_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stop.average_price,
            Some(d("94.905")),
            "the open, 10 bp worse"
        );
        assert!(venue.positions().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_account_outlives_a_restart_and_a_corrupt_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let venue = venue(dir.path(), free());
        venue.place(&bracket()).await;
        let reopened = PaperVenue::open(dir.path(), Exchange::Binance, d("1"), free()).unwrap();
        assert_eq!(reopened.positions().await.unwrap().len(), 1);
        assert_eq!(reopened.open_orders().await.unwrap().len(), 2);
        assert_eq!(reopened.equity().await.unwrap().total, d("10000"));
        std::fs::write(reopened.path(), b"{not json").unwrap();
        let err = PaperVenue::open(dir.path(), Exchange::Binance, d("1"), free()).unwrap_err();
        assert!(err.to_string().contains("cannot be read"), "{err}");
    }

    #[tokio::test]
    async fn a_resting_limit_entry_fills_when_reached_and_expires_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let venue = venue(dir.path(), free());
        let mut orders = bracket();
        orders[0].kind = OrderKind::Limit {
            price: d("99"),
            expires_at_ms: Some(10),
        };
        venue.place(&orders).await;
        assert!(venue.positions().await.unwrap().is_empty());
        venue
            .on_candle("BTCUSDT", &candle(1, 100.0, 100.5, 99.5, 100.0))
            .unwrap();
        assert!(venue.positions().await.unwrap().is_empty(), "not reached");
        venue
            .on_candle("BTCUSDT", &candle(2, 100.0, 100.0, 98.5, 99.0))
            .unwrap();
        assert_eq!(venue.positions().await.unwrap()[0].entry_price, d("99"));

        let dir = tempfile::tempdir().unwrap();
        let venue = self::venue(dir.path(), free());
        venue.place(&orders).await;
        venue
            .on_candle("BTCUSDT", &candle(10, 100.0, 100.0, 98.0, 99.0))
            .unwrap();
        let entry = venue
            .order("BTCUSDT", &orders[0].client_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.state, OrderState::Expired);
        assert!(
            venue.open_orders().await.unwrap().is_empty(),
            "its exits went with it"
        );
    }

    #[test]
    fn the_paper_grid_has_six_significant_figures() {
        assert_eq!(paper_tick(d("5910.04")), d("0.01"));
        assert_eq!(paper_tick(d("64080.5")), d("0.1"));
        assert_eq!(paper_tick(d("0.00001234")), d("0.00000001"));
        assert_eq!(paper_tick(d("2500000")), d("10"));
    }

    #[tokio::test]
    async fn two_processes_see_one_account() {
        let dir = tempfile::tempdir().unwrap();
        let server = venue(dir.path(), free());
        let cli = PaperVenue::open(dir.path(), Exchange::Binance, d("1"), free()).unwrap();
        cli.place(&bracket()).await;
        assert_eq!(
            server.positions().await.unwrap().len(),
            1,
            "the server sees the CLI's order"
        );
        server
            .cancel("BTCUSDT", &bracket()[1].client_id)
            .await
            .unwrap();
        assert_eq!(
            cli.open_orders().await.unwrap().len(),
            1,
            "and the CLI the server's cancel"
        );
    }
}
