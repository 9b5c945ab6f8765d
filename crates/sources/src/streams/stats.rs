//! The counters of one venue's streams, shared by its connections (so
//! atomics) and read as a [`StreamCounts`] snapshot by status lines and tests.

use super::DisconnectReason;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one handle's connections (shared with them, so atomics).
#[derive(Debug, Default)]
pub struct StreamStats {
    pub(crate) frames: AtomicU64,
    pub(crate) klines: AtomicU64,
    pub(crate) closes: AtomicU64,
    pub(crate) revisions: AtomicU64,
    pub(crate) missed: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) out_of_order: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) oversized: AtomicU64,
    pub(crate) floods: AtomicU64,
    pub(crate) disconnects: AtomicU64,
    pub(crate) idle_disconnects: AtomicU64,
    pub(crate) rejected: AtomicU64,
}

/// A snapshot of [`StreamStats`], for status lines and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounts {
    /// Every frame read, control frames included.
    pub frames: u64,
    /// Valid kline pushes.
    pub klines: u64,
    pub closes: u64,
    pub revisions: u64,
    pub missed: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Frames skipped as malformed (bad JSON, impossible values, too large).
    pub malformed: u64,
    /// Of those, frames skipped for their size alone.
    pub oversized: u64,
    /// Connections dropped for a flood.
    pub floods: u64,
    pub disconnects: u64,
    pub idle_disconnects: u64,
    pub rejected: u64,
}

impl StreamStats {
    pub(crate) fn count(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_disconnect(&self, reason: &DisconnectReason) {
        self.count(&self.disconnects);
        if matches!(reason, DisconnectReason::Idle(_)) {
            self.count(&self.idle_disconnects);
        }
    }

    pub fn snapshot(&self) -> StreamCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StreamCounts {
            frames: get(&self.frames),
            klines: get(&self.klines),
            closes: get(&self.closes),
            revisions: get(&self.revisions),
            missed: get(&self.missed),
            duplicates: get(&self.duplicates),
            out_of_order: get(&self.out_of_order),
            malformed: get(&self.malformed),
            oversized: get(&self.oversized),
            floods: get(&self.floods),
            disconnects: get(&self.disconnects),
            idle_disconnects: get(&self.idle_disconnects),
            rejected: get(&self.rejected),
        }
    }
}
