//! Coinalyze's rate limit, kept locally: 40 calls per minute per key, where a
//! request costs one call per symbol it names, and 200 responses carry no
//! quota headers, so the client must count. A sliding window of what was
//! spent, plus a minimum spacing between request starts.

use crate::sources::http::RateGate;
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Symbol-calls spent inside the last `window` (pure: instants are passed in).
#[derive(Debug)]
pub struct SymbolQuota {
    limit: u32,
    window: Duration,
    spent: VecDeque<(Instant, u32)>,
}

impl SymbolQuota {
    pub fn new(limit: u32, window: Duration) -> SymbolQuota {
        SymbolQuota {
            limit: limit.max(1),
            window,
            spent: VecDeque::new(),
        }
    }

    /// Symbol-calls counted at `now`.
    pub fn used(&mut self, now: Instant) -> u32 {
        self.forget_before(now);
        self.spent.iter().map(|(_, w)| w).sum()
    }

    /// How long from `now` until `weight` more calls fit: zero when they fit
    /// now, else until enough old calls leave the window.
    pub fn wait_needed(&mut self, weight: u32, now: Instant) -> Duration {
        let weight = weight.min(self.limit);
        let mut used = self.used(now);
        for &(at, w) in &self.spent {
            if used + weight <= self.limit {
                break;
            }
            used -= w;
            if used + weight <= self.limit {
                return (at + self.window).saturating_duration_since(now);
            }
        }
        Duration::ZERO
    }

    pub fn record(&mut self, weight: u32, at: Instant) {
        self.spent.push_back((at, weight));
    }

    /// Re-stamps the newest entry: the server counts a call when it receives
    /// it, which is after we sent it, so counting from the response keeps our
    /// window from closing before the server's does.
    pub fn restamp_newest(&mut self, at: Instant) {
        if let Some(newest) = self.spent.back_mut() {
            newest.0 = newest.0.max(at);
        }
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some(&(at, _)) = self.spent.front() {
            if now.saturating_duration_since(at) >= self.window {
                self.spent.pop_front();
            } else {
                break;
            }
        }
    }
}

/// The async side: waits for both the quota and the spacing before a request.
#[derive(Debug)]
pub struct QuotaGate {
    spacing: Duration,
    state: Mutex<GateState>,
    /// Symbol-calls charged since creation (retries included).
    charged: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct GateState {
    quota: SymbolQuota,
    last_start: Option<Instant>,
}

impl QuotaGate {
    pub fn new(limit: u32, window: Duration, spacing: Duration) -> QuotaGate {
        QuotaGate {
            spacing,
            state: Mutex::new(GateState {
                quota: SymbolQuota::new(limit, window),
                last_start: None,
            }),
            charged: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Waits until a request of `weight` symbols may start, and counts it.
    pub async fn acquire(&self, weight: u32) {
        loop {
            let wait = {
                let mut state = self.lock();
                let now = Instant::now();
                let for_quota = state.quota.wait_needed(weight, now);
                let for_spacing = state
                    .last_start
                    .map(|last| (last + self.spacing).saturating_duration_since(now))
                    .unwrap_or(Duration::ZERO);
                let wait = for_quota.max(for_spacing);
                if wait.is_zero() {
                    state.quota.record(weight, now);
                    state.last_start = Some(now);
                    self.charged
                        .fetch_add(u64::from(weight), std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Marks the newest request as answered (see [`SymbolQuota::restamp_newest`]).
    pub fn finished(&self) {
        self.lock().quota.restamp_newest(Instant::now());
    }

    /// Symbol-calls charged since the gate was created.
    pub fn total_charged(&self) -> u64 {
        self.charged.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Symbol-calls currently counted in the window.
    pub fn used(&self) -> u32 {
        self.lock().quota.used(Instant::now())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The least time `symbol_calls` can take at `per_window` calls per
/// `window`: the benchmark's yardstick (the last window need not be waited
/// out, so a run can finish slightly under it).
pub fn quota_floor(symbol_calls: u64, per_window: u32, window: Duration) -> Duration {
    window.mul_f64(symbol_calls as f64 / f64::from(per_window.max(1)))
}

/// One request's claim on the quota: `weight` symbol-calls per attempt.
pub struct QuotaTurn<'a> {
    pub gate: &'a QuotaGate,
    pub weight: u32,
}

#[async_trait]
impl RateGate for QuotaTurn<'_> {
    async fn wait_turn(&self) {
        self.gate.acquire(self.weight).await;
    }

    fn attempt_finished(&self) {
        self.gate.finished();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_window_waits_until_enough_calls_expire() {
        let t0 = Instant::now();
        let minute = Duration::from_secs(60);
        let mut quota = SymbolQuota::new(40, minute);
        quota.record(20, t0);
        quota.record(15, t0 + Duration::from_secs(10));
        assert_eq!(
            quota.wait_needed(5, t0 + Duration::from_secs(11)),
            Duration::ZERO
        );
        // 35 used: 20 more needs the first 20 to leave, at t0 + 60 s.
        assert_eq!(
            quota.wait_needed(20, t0 + Duration::from_secs(11)),
            Duration::from_secs(49)
        );
        // 30 more needs both entries gone: t0 + 70 s.
        assert_eq!(
            quota.wait_needed(30, t0 + Duration::from_secs(11)),
            Duration::from_secs(59)
        );
        assert_eq!(
            quota.used(t0 + minute),
            15,
            "the first entry leaves exactly at the window"
        );
    }

    #[test]
    fn oversized_requests_are_clamped_to_the_limit() {
        let t0 = Instant::now();
        let mut quota = SymbolQuota::new(10, Duration::from_secs(1));
        assert_eq!(quota.wait_needed(25, t0), Duration::ZERO);
        quota.record(10, t0);
        assert_eq!(quota.wait_needed(25, t0), Duration::from_secs(1));
    }

    #[test]
    fn restamp_moves_the_newest_entry_forward_only() {
        let t0 = Instant::now();
        let mut quota = SymbolQuota::new(10, Duration::from_secs(1));
        quota.record(10, t0);
        quota.restamp_newest(t0 + Duration::from_millis(300));
        assert_eq!(
            quota.wait_needed(1, t0 + Duration::from_millis(500)),
            Duration::from_millis(800)
        );
        quota.restamp_newest(t0);
        assert_eq!(
            quota.wait_needed(1, t0 + Duration::from_millis(500)),
            Duration::from_millis(800)
        );
    }

    #[tokio::test]
    async fn gate_spaces_request_starts() {
        let gate = QuotaGate::new(100, Duration::from_secs(1), Duration::from_millis(60));
        let start = Instant::now();
        for _ in 0..3 {
            gate.acquire(1).await;
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(120), "{elapsed:?}");
        assert_eq!(gate.used(), 3);
    }
}
