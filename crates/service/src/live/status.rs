//! The live loop's status board: each venue's `VenueStatus` and the row
//! marks, published as one `model::LiveStatus` on a watch channel that the
//! server's event stream (and `quantpro watch`'s log) follow.

use quantpro_model::{Exchange, FeedMode, LiveStatus, MarkKind, RowMark, VenueStatus};
use quantpro_sources::clock::Clock;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio::sync::watch;

pub struct StatusBoard {
    clock: Clock,
    simulated: bool,
    inner: Mutex<Board>,
    sender: watch::Sender<LiveStatus>,
}

#[derive(Default)]
struct Board {
    venues: BTreeMap<String, VenueStatus>,
    marks: BTreeMap<(Exchange, String), RowMark>,
}

impl StatusBoard {
    pub fn new(clock: Clock, simulated: bool) -> StatusBoard {
        let (sender, _) = watch::channel(LiveStatus {
            simulated,
            ..LiveStatus::default()
        });
        StatusBoard {
            clock,
            simulated,
            inner: Mutex::new(Board::default()),
            sender,
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<LiveStatus> {
        self.sender.subscribe()
    }

    pub fn current(&self) -> LiveStatus {
        self.sender.borrow().clone()
    }

    /// Changes one venue's status (created in `Starting` mode on first use).
    pub fn venue(&self, exchange: Exchange, market: &str, change: impl FnOnce(&mut VenueStatus)) {
        self.edit(|board| {
            let status = board
                .venues
                .entry(format!("{exchange}:{market}"))
                .or_insert_with(|| VenueStatus {
                    exchange,
                    market: market.to_string(),
                    mode: FeedMode::Starting,
                    symbols: 0,
                    current: 0,
                    stale: 0,
                    delisted: 0,
                    last_close_ms: None,
                    next_close_ms: None,
                    rate_limit: None,
                    last_error: None,
                });
            change(status);
        });
    }

    /// Marks a row (stale with the reason, or delisted); replaces its mark.
    pub fn mark(&self, exchange: Exchange, symbol: &str, kind: MarkKind, reason: String) {
        let key = (exchange, symbol.to_string());
        let same = self
            .lock()
            .marks
            .get(&key)
            .is_some_and(|m| m.kind == kind && m.reason == reason);
        if same {
            return;
        }
        self.edit(|board| {
            board.marks.insert(
                (exchange, symbol.to_string()),
                RowMark {
                    exchange,
                    symbol: symbol.to_string(),
                    kind,
                    reason,
                },
            );
        });
    }

    /// Clears a row's stale mark (its candles arrived); delisted marks stay.
    pub fn clear_stale(&self, exchange: Exchange, symbol: &str) {
        let key = (exchange, symbol.to_string());
        let marked = self
            .lock()
            .marks
            .get(&key)
            .is_some_and(|m| m.kind == MarkKind::Stale);
        if marked {
            self.edit(|board| {
                board.marks.remove(&key);
            });
        }
    }

    /// Rows of `exchange` marked `kind`.
    pub fn marked(&self, exchange: Exchange, kind: MarkKind) -> usize {
        self.lock()
            .marks
            .values()
            .filter(|m| m.exchange == exchange && m.kind == kind)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Board> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn edit(&self, change: impl FnOnce(&mut Board)) {
        let mut board = self.lock();
        change(&mut board);
        let status = LiveStatus {
            venues: board.venues.values().cloned().collect(),
            marks: board.marks.values().cloned().collect(),
            simulated: self.simulated,
            at_ms: self.clock.now_ms(),
        };
        drop(board);
        self.sender.send_replace(status);
    }
}
