//! Exponential backoff with "equal jitter" (half the delay fixed, half
//! random), for every wait that grows while a server keeps saying no: the
//! streams' reconnects, and the governor's host-wide wait after 429s that do
//! not say how long to wait. Many clients turned away at once (a server
//! restart, a rate-limit storm) then do not all come back in the same
//! instant. The random part comes from a seeded generator, so a test knows
//! the delays it will see.

use std::time::Duration;

/// Exponential backoff: `base * 2^(attempt-1)` after failed attempt `attempt` (1-based).
pub fn backoff_delay(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
}

/// Delay before attempt `n` (a reconnect; a call after the `n`th refusal in
/// a row): `initial * 2^(n-1)`, at most `max`, of which a random half is
/// dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (1-based), in `[d/2, d]` where
    /// `d = min(max, initial * 2^(attempt-1))`.
    pub fn delay(&self, attempt: u32, jitter: &mut Jitter) -> Duration {
        let full = backoff_delay(self.initial, attempt.max(1)).min(self.max);
        let half = full / 2;
        half + half.mul_f64(jitter.next_fraction())
    }
}

/// A small seeded generator (splitmix64): jitter needs no more.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Jitter {
        Jitter(seed)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_fraction(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_attempt() {
        let base = Duration::from_millis(100);
        assert_eq!(backoff_delay(base, 1), Duration::from_millis(100));
        assert_eq!(backoff_delay(base, 2), Duration::from_millis(200));
        assert_eq!(backoff_delay(base, 3), Duration::from_millis(400));
    }

    #[test]
    fn delays_double_up_to_the_cap_and_keep_at_least_half() {
        let backoff = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
        };
        let mut jitter = Jitter::new(7);
        for (attempt, full) in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 30), (20, 30)] {
            for _ in 0..50 {
                let d = backoff.delay(attempt, &mut jitter);
                let full = Duration::from_secs(full);
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn jitter_spreads_and_repeats_with_its_seed() {
        let backoff = Backoff::default();
        let run = |seed| {
            let mut j = Jitter::new(seed);
            (0..20)
                .map(|_| backoff.delay(4, &mut j))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let delays = run(3);
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(
            distinct.len() > 15,
            "jitter should spread delays: {delays:?}"
        );
    }
}
