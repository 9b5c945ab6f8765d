//! Close detection: turns the pushes of one connection (the forming candle,
//! again and again) into one [`StreamEvent::Closed`] per key and open time,
//! following EXTERNAL_APIS.md §9.
//!
//! A candle is closed when (a) the venue flags it (Binance `x:true`), (b) a
//! push of a later open time arrives for the same key (venues without a
//! flag; on Binance the flag is awaited instead, since the new bar's first
//! push may come before the old bar's final one), or (c) the clock passes
//! its close time plus a grace period.
//!
//! Duplicates and disorder: a push for a closed candle with the same values
//! is a duplicate; with other values it is a revision (on Binance only a
//! flagged push can revise, elsewhere a push with less volume is an older
//! partial state arriving late). A push older than the newest one seen is
//! out of order and ignored. A push that skips open times reports the
//! skipped ones as missed, so the loop fetches them over REST.
//!
//! On a disconnect the forming candles are forgotten: they are partial, and
//! what closed meanwhile is reported as missed by the first push after the
//! reconnect.

use super::{CloseSignal, StreamEvent, StreamKey};
use quantpro_model::Candle;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Closed candles kept per key to recognise duplicates and revisions.
const CLOSED_KEPT: usize = 8;

/// The candles of one key.
#[derive(Debug, Default)]
struct KeyState {
    /// Open candles by open time: usually one; two on Binance between the
    /// new bar's first push and the old bar's flag.
    forming: BTreeMap<i64, Candle>,
    /// The latest closed candles, oldest first.
    closed: VecDeque<Candle>,
    newest_closed: Option<i64>,
    /// Open time of the newest push seen (forming or closed).
    newest_seen: Option<i64>,
    /// The newest open time already reported missed.
    missed_through: Option<i64>,
}

/// What a push did, for the connection's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Observed {
    /// Part of the normal flow (a forming update, a close, a revision).
    Applied,
    /// The same values as a candle already closed.
    Duplicate,
    /// Older than what was seen, or an earlier partial state.
    OutOfOrder,
    /// Not a key this tracker follows.
    Untracked,
}

/// Close detection for the keys of one connection.
#[derive(Debug)]
pub(crate) struct CandleTracker {
    /// The venue flags closes (Binance): wait for the flag, not the next bar.
    flagged: bool,
    grace_ms: i64,
    report_forming: bool,
    keys: HashMap<StreamKey, KeyState>,
    /// Earliest timer deadline, or earlier (recomputed on `tick`).
    next_deadline: Option<i64>,
}

impl CandleTracker {
    pub(crate) fn new(flagged: bool, grace_ms: i64, report_forming: bool) -> CandleTracker {
        CandleTracker {
            flagged,
            grace_ms,
            report_forming,
            keys: HashMap::new(),
            next_deadline: None,
        }
    }

    pub(crate) fn track(&mut self, key: StreamKey) {
        self.keys.entry(key).or_default();
    }

    pub(crate) fn untrack(&mut self, key: &StreamKey) {
        self.keys.remove(key);
    }

    /// One push: `flag` is the venue's closed flag where it has one.
    pub(crate) fn observe(
        &mut self,
        key: &StreamKey,
        candle: Candle,
        flag: Option<bool>,
        out: &mut Vec<StreamEvent>,
    ) -> Observed {
        let interval_ms = key.interval.millis();
        let flagged_venue = self.flagged;
        let Some(state) = self.keys.get_mut(key) else {
            return Observed::Untracked;
        };
        let t = candle.t;
        let closing = flag == Some(true);
        if state.newest_closed.is_some_and(|n| t <= n) {
            return revise(key, state, candle, closing, flagged_venue, out);
        }
        let known_open = state.forming.contains_key(&t);
        // An older candle after a newer one is not a close. Binance's flagged
        // final of the old bar may follow the new bar's first push.
        if state.newest_seen.is_some_and(|n| t < n) && !known_open && !(flagged_venue && closing) {
            return Observed::OutOfOrder;
        }
        let missed_from = state
            .newest_seen
            .map(|n| n + interval_ms)
            .filter(|&from| from < t && !known_open);
        state.newest_seen = Some(state.newest_seen.map_or(t, |n| n.max(t)));
        if closing || !flagged_venue {
            close_older(key, state, t, CloseSignal::NextCandle, out);
        }
        if let Some(from) = missed_from {
            state.missed_through = Some(t - interval_ms);
            out.push(StreamEvent::Missed {
                key: key.clone(),
                from_open_ms: from,
                to_open_ms: t - interval_ms,
            });
        }
        if closing {
            state.forming.remove(&t);
            close(key, state, candle, CloseSignal::Flag, out);
        } else {
            state.forming.insert(t, candle);
            let deadline = t + interval_ms + self.grace_ms;
            self.next_deadline = Some(self.next_deadline.map_or(deadline, |d| d.min(deadline)));
            if self.report_forming {
                out.push(StreamEvent::Forming {
                    key: key.clone(),
                    candle,
                });
            }
        }
        Observed::Applied
    }

    /// Closes, by timer, every forming candle whose close time plus grace
    /// has passed.
    pub(crate) fn tick(&mut self, now_ms: i64, out: &mut Vec<StreamEvent>) {
        let grace = self.grace_ms;
        let mut next: Option<i64> = None;
        for (key, state) in self.keys.iter_mut() {
            let interval_ms = key.interval.millis();
            while let Some((&t, _)) = state.forming.first_key_value() {
                let deadline = t + interval_ms + grace;
                if deadline > now_ms {
                    next = Some(next.map_or(deadline, |n| n.min(deadline)));
                    break;
                }
                let candle = state.forming.remove(&t).expect("first key exists");
                close(key, state, candle, CloseSignal::Timer, out);
            }
        }
        self.next_deadline = next;
    }

    /// The clock time at which `tick` has something to close (or earlier).
    pub(crate) fn next_deadline_ms(&self) -> Option<i64> {
        self.next_deadline
    }

    /// The connection dropped: forming candles are partial and forgotten.
    pub(crate) fn connection_lost(&mut self) {
        for state in self.keys.values_mut() {
            state.forming.clear();
            state.newest_seen = state.newest_closed.max(state.missed_through);
        }
        self.next_deadline = None;
    }
}

/// A push for an open time already closed: duplicate, revision or stale.
fn revise(
    key: &StreamKey,
    state: &mut KeyState,
    candle: Candle,
    closing: bool,
    flagged_venue: bool,
    out: &mut Vec<StreamEvent>,
) -> Observed {
    let Some(previous) = state.closed.iter_mut().find(|c| c.t == candle.t) else {
        return Observed::OutOfOrder;
    };
    if *previous == candle {
        return Observed::Duplicate;
    }
    let earlier_state = if flagged_venue {
        !closing
    } else {
        candle.v < previous.v
    };
    if earlier_state {
        return Observed::OutOfOrder;
    }
    out.push(StreamEvent::Revised {
        key: key.clone(),
        previous: *previous,
        revised: candle,
    });
    *previous = candle;
    Observed::Applied
}

/// Closes the forming candles older than `t`.
fn close_older(
    key: &StreamKey,
    state: &mut KeyState,
    t: i64,
    by: CloseSignal,
    out: &mut Vec<StreamEvent>,
) {
    while let Some((&older, _)) = state.forming.first_key_value() {
        if older >= t {
            break;
        }
        let candle = state.forming.remove(&older).expect("first key exists");
        close(key, state, candle, by, out);
    }
}

fn close(
    key: &StreamKey,
    state: &mut KeyState,
    candle: Candle,
    by: CloseSignal,
    out: &mut Vec<StreamEvent>,
) {
    state.newest_closed = Some(state.newest_closed.map_or(candle.t, |n| n.max(candle.t)));
    state.newest_seen = Some(state.newest_seen.map_or(candle.t, |n| n.max(candle.t)));
    state.closed.push_back(candle);
    if state.closed.len() > CLOSED_KEPT {
        state.closed.pop_front();
    }
    out.push(StreamEvent::Closed {
        key: key.clone(),
        candle,
        by,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::Venue;
    use quantpro_model::Interval;

    const I: i64 = 15 * 60_000;
    const T0: i64 = 1_721_088_000_000;

    fn key() -> StreamKey {
        StreamKey {
            venue: Venue::Hyperliquid,
            symbol: "BTC".into(),
            interval: Interval::M15,
        }
    }

    /// Bar `k` at fraction `f` of its life (f = 1: the final candle).
    fn bar(k: i64, f: f64) -> Candle {
        let o = 100.0 + k as f64;
        Candle {
            t: T0 + k * I,
            o,
            h: o + 2.0 * f,
            l: o - f,
            c: o + f,
            v: 10.0 * f,
        }
    }

    fn tracker(flagged: bool) -> CandleTracker {
        let mut t = CandleTracker::new(flagged, 5_000, false);
        t.track(key());
        t
    }

    fn push(tr: &mut CandleTracker, c: Candle, flag: Option<bool>) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        tr.observe(&key(), c, flag, &mut out);
        out
    }

    fn closed(candle: Candle, by: CloseSignal) -> StreamEvent {
        StreamEvent::Closed {
            key: key(),
            candle,
            by,
        }
    }

    #[test]
    fn without_a_flag_the_next_open_time_closes_the_last_state() {
        let mut tr = tracker(false);
        assert!(push(&mut tr, bar(0, 0.2), None).is_empty());
        assert!(push(&mut tr, bar(0, 0.9), None).is_empty());
        assert_eq!(
            push(&mut tr, bar(1, 0.1), None),
            vec![closed(bar(0, 0.9), CloseSignal::NextCandle)]
        );
    }

    #[test]
    fn a_resent_closed_candle_is_not_a_second_close_and_an_older_one_is_not_a_close() {
        let mut tr = tracker(false);
        push(&mut tr, bar(0, 1.0), None);
        push(&mut tr, bar(1, 0.5), None);
        let mut out = Vec::new();
        assert_eq!(
            tr.observe(&key(), bar(0, 1.0), None, &mut out),
            Observed::Duplicate
        );
        // Bar 1 is forming; a partial of bar 0 (less volume) arrives late.
        assert_eq!(
            tr.observe(&key(), bar(0, 0.5), None, &mut out),
            Observed::OutOfOrder
        );
        assert!(out.is_empty());
        // A push older than anything kept.
        let mut tr = tracker(false);
        push(&mut tr, bar(5, 0.5), None);
        assert_eq!(
            tr.observe(&key(), bar(3, 0.5), None, &mut out),
            Observed::OutOfOrder
        );
        assert!(out.is_empty());
    }

    #[test]
    fn a_candle_changed_after_its_close_is_a_revision() {
        let mut tr = tracker(false);
        push(&mut tr, bar(0, 1.0), None);
        push(&mut tr, bar(1, 0.5), None);
        let mut revised = bar(0, 1.0);
        revised.c += 0.5;
        revised.v += 1.0;
        assert_eq!(
            push(&mut tr, revised, None),
            vec![StreamEvent::Revised {
                key: key(),
                previous: bar(0, 1.0),
                revised
            }]
        );
        // The same revision again is a duplicate of the revised candle.
        assert!(push(&mut tr, revised, None).is_empty());
    }

    #[test]
    fn binance_waits_for_the_flag_even_after_the_next_bar_started() {
        let mut tr = tracker(true);
        push(&mut tr, bar(0, 0.9), Some(false));
        assert!(push(&mut tr, bar(1, 0.0), Some(false)).is_empty());
        assert_eq!(
            push(&mut tr, bar(0, 1.0), Some(true)),
            vec![closed(bar(0, 1.0), CloseSignal::Flag)]
        );
        // A partial state after the flag is stale, a flagged change a revision.
        assert!(push(&mut tr, bar(0, 0.95), Some(false)).is_empty());
        let mut revised = bar(0, 1.0);
        revised.h += 1.0;
        assert_eq!(push(&mut tr, revised, Some(true)).len(), 1);
    }

    #[test]
    fn the_timer_closes_after_close_time_plus_grace() {
        let mut tr = tracker(true);
        push(&mut tr, bar(0, 0.9), Some(false));
        let deadline = T0 + I + 5_000;
        assert_eq!(tr.next_deadline_ms(), Some(deadline));
        let mut out = Vec::new();
        tr.tick(deadline - 1, &mut out);
        assert!(out.is_empty());
        tr.tick(deadline, &mut out);
        assert_eq!(out, vec![closed(bar(0, 0.9), CloseSignal::Timer)]);
        assert_eq!(tr.next_deadline_ms(), None);
        // The late flag with the same values is a duplicate; other values revise.
        assert!(push(&mut tr, bar(0, 0.9), Some(true)).is_empty());
        assert!(matches!(
            push(&mut tr, bar(0, 1.0), Some(true)).as_slice(),
            [StreamEvent::Revised { .. }]
        ));
    }

    #[test]
    fn skipped_open_times_are_reported_missed() {
        let mut tr = tracker(false);
        push(&mut tr, bar(0, 0.5), None);
        let out = push(&mut tr, bar(3, 0.1), None);
        assert_eq!(
            out,
            vec![
                closed(bar(0, 0.5), CloseSignal::NextCandle),
                StreamEvent::Missed {
                    key: key(),
                    from_open_ms: T0 + I,
                    to_open_ms: T0 + 2 * I
                }
            ]
        );
    }

    #[test]
    fn after_a_disconnect_the_partial_is_dropped_and_reported_missed() {
        let mut tr = tracker(false);
        push(&mut tr, bar(0, 1.0), None);
        push(&mut tr, bar(1, 0.4), None);
        tr.connection_lost();
        assert_eq!(tr.next_deadline_ms(), None);
        let out = push(&mut tr, bar(2, 0.1), None);
        assert_eq!(
            out,
            vec![StreamEvent::Missed {
                key: key(),
                from_open_ms: T0 + I,
                to_open_ms: T0 + I
            }]
        );
        // A second loss does not report the same candles again.
        tr.connection_lost();
        assert!(push(&mut tr, bar(2, 0.3), None).is_empty());
        // Back within the same bar: nothing missed, it closes normally.
        let mut tr = tracker(false);
        push(&mut tr, bar(0, 0.4), None);
        tr.connection_lost();
        assert!(push(&mut tr, bar(0, 0.6), None).is_empty());
        assert_eq!(
            push(&mut tr, bar(1, 0.0), None),
            vec![closed(bar(0, 0.6), CloseSignal::NextCandle)]
        );
    }

    #[test]
    fn untracked_keys_are_ignored() {
        let mut tr = tracker(false);
        tr.untrack(&key());
        let mut out = Vec::new();
        assert_eq!(
            tr.observe(&key(), bar(0, 1.0), None, &mut out),
            Observed::Untracked
        );
        assert!(out.is_empty());
    }
}
