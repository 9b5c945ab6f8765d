//! The exchange clock of the streams: "now" in Unix ms, and the tokio
//! instant at which a given Unix ms will be reached, so every wait is a
//! tokio sleep (virtual in tests) while candle times stay Unix ms.
//!
//! [`SystemClock`] is the wall clock. [`ScaledClock`] maps tokio time onto a
//! market timeline (`epoch_ms` at `epoch`, running `speed` times as fast):
//! the clock of a replayed or simulated market, under paused tokio time in
//! tests.

use std::fmt::Debug;
use std::time::Duration;
use tokio::time::Instant;

/// Unix milliseconds now, and when a later one will be reached.
pub trait Clock: Send + Sync + Debug {
    fn now_ms(&self) -> i64;

    /// The tokio instant at which `now_ms()` reaches `ms` (now, if passed).
    fn instant_at(&self, ms: i64) -> Instant {
        let ahead = (ms - self.now_ms()).max(0) as u64;
        Instant::now() + Duration::from_millis(ahead)
    }
}

/// The host's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::sources::unix_now_ms()
    }
}

/// A market timeline on tokio time: `epoch_ms` at the instant `epoch`,
/// advancing `speed` market ms per tokio ms.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    epoch_ms: i64,
    epoch: Instant,
    speed: f64,
}

impl ScaledClock {
    /// `speed` must be finite and positive (1.0 = real pace).
    pub fn new(epoch_ms: i64, epoch: Instant, speed: f64) -> ScaledClock {
        assert!(
            speed.is_finite() && speed > 0.0,
            "clock speed must be positive"
        );
        ScaledClock {
            epoch_ms,
            epoch,
            speed,
        }
    }

    /// Starts now at `epoch_ms`.
    pub fn starting_at(epoch_ms: i64, speed: f64) -> ScaledClock {
        ScaledClock::new(epoch_ms, Instant::now(), speed)
    }
}

impl Clock for ScaledClock {
    fn now_ms(&self) -> i64 {
        let elapsed_ns = Instant::now()
            .saturating_duration_since(self.epoch)
            .as_nanos() as f64;
        self.epoch_ms + (elapsed_ns * self.speed / 1e6).floor() as i64
    }

    fn instant_at(&self, ms: i64) -> Instant {
        let ahead_ms = (ms - self.epoch_ms).max(0) as f64;
        // Round up (plus a nanosecond against float error), so that the
        // clock shows at least `ms` at the returned instant.
        let ns = (ahead_ms * 1e6 / self.speed).ceil() + 1.0;
        self.epoch + Duration::from_nanos(ns as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_scaled_clock_reaches_each_time_at_its_instant() {
        for speed in [1.0, 60.0, 0.5, 7.3] {
            let clock = ScaledClock::starting_at(1_721_088_000_000, speed);
            for ahead in [1, 999, 900_000, 14_400_000] {
                let target = clock.now_ms() + ahead;
                tokio::time::sleep_until(clock.instant_at(target)).await;
                let now = clock.now_ms();
                assert!(now >= target, "speed {speed}: {now} < {target}");
                assert!(
                    now - target <= 1 + speed.ceil() as i64,
                    "speed {speed}: overshoot"
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_passed_time_is_now() {
        let clock = ScaledClock::starting_at(5_000, 1.0);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(clock.instant_at(1_000) <= Instant::now());
        assert_eq!(clock.now_ms(), 15_000);
    }
}
