//! REST rate limits of the fake, per venue: a weight budget per fixed window
//! (Binance 6000 / 2400 per minute, Hyperliquid 1200 per minute, MEXC 20
//! calls per 2 s), escalation from 429 to a 418 ban when a client keeps
//! calling during `Retry-After` (Binance), and the injected storms and bans.
//! Windows and bans run on tokio time.

use super::{FakeConfig, Venue};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// What a request gets from the limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// Served; `used` is the window's weight after this call.
    Served { used: u32 },
    /// Over the limit: retry after this many seconds.
    TooMany { retry_after_s: u64, used: u32 },
    /// Banned for this many more seconds.
    Banned { retry_after_s: u64, until: Instant },
}

#[derive(Debug)]
struct VenueLimit {
    budget: u32,
    window: Duration,
    window_index: u64,
    used: u32,
    /// A 429 told the client to wait until then.
    retry_until: Option<Instant>,
    violations: u32,
    /// Escalate to a ban (Binance).
    bans: bool,
    banned_until: Option<Instant>,
    storm: Option<(Instant, u64)>,
}

pub(crate) struct Limits {
    start: Instant,
    ban_after: u32,
    ban_duration: Duration,
    venues: Mutex<BTreeMap<Venue, VenueLimit>>,
}

fn secs_ceil(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

impl Limits {
    pub(crate) fn new(config: &FakeConfig) -> Limits {
        let b = config.budgets;
        let limit = |budget, window, bans| VenueLimit {
            budget,
            window,
            window_index: 0,
            used: 0,
            retry_until: None,
            violations: 0,
            bans,
            banned_until: None,
            storm: None,
        };
        let minute = Duration::from_secs(60);
        let venues = BTreeMap::from([
            (Venue::BinanceSpot, limit(b.binance_spot, minute, true)),
            (
                Venue::BinanceFutures,
                limit(b.binance_futures, minute, true),
            ),
            (Venue::Hyperliquid, limit(b.hyperliquid, minute, false)),
            (
                Venue::MexcFutures,
                limit(b.mexc_per_2s, Duration::from_secs(2), false),
            ),
        ]);
        Limits {
            start: Instant::now(),
            ban_after: config.ban_after_violations,
            ban_duration: config.ban_duration,
            venues: Mutex::new(venues),
        }
    }

    /// Charges `weight` to `venue` now, or refuses.
    pub(crate) fn charge(&self, venue: Venue, weight: u32) -> Verdict {
        let now = Instant::now();
        let mut venues = self.venues.lock().unwrap();
        let v = venues.get_mut(&venue).expect("every venue has a limit");
        if let Some(until) = v.banned_until.filter(|u| now < *u) {
            return Verdict::Banned {
                retry_after_s: secs_ceil(until - now),
                until,
            };
        }
        if let Some((until, retry_after_s)) = v.storm.filter(|(u, _)| now < *u) {
            let _ = until;
            return Verdict::TooMany {
                retry_after_s,
                used: v.used,
            };
        }
        let index = (now - self.start).as_nanos() as u64 / v.window.as_nanos() as u64;
        if index != v.window_index {
            v.window_index = index;
            v.used = 0;
        }
        if let Some(retry_until) = v.retry_until.filter(|u| now < *u) {
            v.violations += 1;
            if v.bans && v.violations >= self.ban_after {
                let until = now + self.ban_duration;
                v.banned_until = Some(until);
                v.violations = 0;
                return Verdict::Banned {
                    retry_after_s: secs_ceil(self.ban_duration),
                    until,
                };
            }
            return Verdict::TooMany {
                retry_after_s: secs_ceil(retry_until - now),
                used: v.used,
            };
        }
        if v.used + weight > v.budget {
            let window_end = self.start + v.window * (index as u32 + 1);
            v.retry_until = Some(window_end);
            return Verdict::TooMany {
                retry_after_s: secs_ceil(window_end - now),
                used: v.used,
            };
        }
        v.used += weight;
        Verdict::Served { used: v.used }
    }

    /// The weight used in the current window (for headers on refusals).
    pub(crate) fn used(&self, venue: Venue) -> u32 {
        self.venues.lock().unwrap()[&venue].used
    }

    pub(crate) fn storm(&self, venue: Venue, duration: Duration, retry_after_s: u64) {
        let mut venues = self.venues.lock().unwrap();
        venues.get_mut(&venue).unwrap().storm = Some((Instant::now() + duration, retry_after_s));
    }

    pub(crate) fn ban(&self, venue: Venue, duration: Duration) {
        let mut venues = self.venues.lock().unwrap();
        venues.get_mut(&venue).unwrap().banned_until = Some(Instant::now() + duration);
    }
}
