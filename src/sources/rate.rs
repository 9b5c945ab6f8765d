//! Token buckets for the exchanges' documented request weights (Binance
//! 2400/6000 per minute, MEXC 500 per 10 s, Hyperliquid 1200 per minute...):
//! a request takes its weight before it is sent and waits when the bucket is
//! short, so a fetch of many symbols never reaches the exchange's limit.

use super::http::RateGate;
use async_trait::async_trait;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `capacity` weight per `period`, refilled continuously; starts full.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    refill_per_sec: f64,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    last_refill: Instant,
}

/// A budget of `weight` per `period` (the exchange's documented limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightBudget {
    pub weight: u32,
    pub period: Duration,
}

impl TokenBucket {
    pub fn new(budget: WeightBudget) -> TokenBucket {
        let capacity = f64::from(budget.weight.max(1));
        let secs = budget.period.as_secs_f64().max(1e-3);
        TokenBucket {
            capacity,
            refill_per_sec: capacity / secs,
            state: Mutex::new(BucketState {
                tokens: capacity,
                last_refill: Instant::now(),
            }),
        }
    }

    /// Waits until `weight` tokens are available, then takes them. A weight
    /// above the capacity is clamped (it could never be satisfied otherwise).
    pub async fn acquire(&self, weight: u32) {
        let weight = f64::from(weight).min(self.capacity);
        loop {
            let wait = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                self.refill(&mut state);
                if state.tokens >= weight {
                    state.tokens -= weight;
                    return;
                }
                Duration::from_secs_f64((weight - state.tokens) / self.refill_per_sec)
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes weight that is only known after the response (Hyperliquid
    /// charges per candle returned); the bucket may go into debt.
    pub fn charge(&self, weight: u32) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.refill(&mut state);
        state.tokens -= f64::from(weight);
    }

    /// Tokens available now (may be negative after `charge`).
    pub fn available(&self) -> f64 {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.refill(&mut state);
        state.tokens
    }

    fn refill(&self, state: &mut BucketState) {
        let now = Instant::now();
        let elapsed = now.duration_since(state.last_refill).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.refill_per_sec).min(self.capacity);
        state.last_refill = now;
    }
}

/// One request's claim on a bucket: `weight` per attempt.
pub struct WeightedTurn<'a> {
    pub bucket: &'a TokenBucket,
    pub weight: u32,
}

#[async_trait]
impl RateGate for WeightedTurn<'_> {
    async fn wait_turn(&self) {
        self.bucket.acquire(self.weight).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bucket_waits_for_the_refill_it_needs() {
        let bucket = TokenBucket::new(WeightBudget {
            weight: 10,
            period: Duration::from_millis(200),
        });
        let start = Instant::now();
        bucket.acquire(10).await;
        assert!(
            start.elapsed() < Duration::from_millis(50),
            "a full bucket serves at once"
        );
        bucket.acquire(5).await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(95),
            "5 of 10 per 200 ms needs ~100 ms, waited {waited:?}"
        );
        assert!(waited < Duration::from_millis(400), "waited {waited:?}");
    }

    #[tokio::test]
    async fn charge_puts_the_bucket_into_debt() {
        let bucket = TokenBucket::new(WeightBudget {
            weight: 10,
            period: Duration::from_secs(10),
        });
        bucket.charge(15);
        assert!(bucket.available() < -4.9);
    }
}
