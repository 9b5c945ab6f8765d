//! [ssr] The clock of the scan pipeline and the live loop: Unix
//! milliseconds that run at real pace, or faster for a demo of the
//! simulated market (`--accelerate 60`: a 15m
//! candle closes every 15 s). It counts on tokio's clock, so a test that
//! pauses tokio's time (`#[tokio::test(start_paused = true)]`) runs the loop
//! on virtual time: sleeps end at once, in order, and nothing waits for real.

use tokio::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin_ms: i64,
    origin: Instant,
    speed: f64,
}

impl Clock {
    /// Wall-clock time at real pace.
    pub fn real() -> Clock {
        Clock::starting_at(crate::now_ms(), 1.0)
    }

    /// Starts at the wall-clock time and runs `speed` times faster.
    pub fn accelerated(speed: f64) -> Clock {
        Clock::starting_at(crate::now_ms(), speed)
    }

    /// Starts at `origin_ms` (tests pick a fixed time) and runs `speed`
    /// times faster than tokio's clock.
    pub fn starting_at(origin_ms: i64, speed: f64) -> Clock {
        Clock {
            origin_ms,
            origin: Instant::now(),
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn now_ms(&self) -> i64 {
        let elapsed = self.origin.elapsed().as_secs_f64() * 1000.0 * self.speed;
        self.origin_ms + elapsed as i64
    }

    /// Returns once the clock reads `at_ms` or later.
    pub async fn sleep_until_ms(&self, at_ms: i64) {
        let wait_ms = (at_ms - self.origin_ms).max(0) as f64 / self.speed;
        tokio::time::sleep_until(self.origin + Duration::from_secs_f64(wait_ms / 1000.0)).await;
        // Rounding can leave the clock a millisecond short.
        while self.now_ms() < at_ms {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// A span of clock time as a tokio duration (what to pass to a timeout).
    pub fn real_duration(&self, clock_ms: i64) -> Duration {
        Duration::from_secs_f64(clock_ms.max(0) as f64 / self.speed / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn runs_on_tokios_clock_at_its_speed() {
        let clock = Clock::starting_at(1_000_000, 60.0);
        assert_eq!(clock.now_ms(), 1_000_000);
        clock.sleep_until_ms(1_000_000 + 15 * 60_000).await;
        assert!(clock.now_ms() >= 1_000_000 + 15 * 60_000);
        assert!(clock.now_ms() < 1_000_000 + 15 * 60_000 + 100);
        let before = Instant::now();
        clock.sleep_until_ms(clock.now_ms() + 60_000).await;
        assert_eq!(
            before.elapsed().as_secs(),
            1,
            "one clock minute is one second at 60x"
        );
        assert_eq!(clock.real_duration(60_000), Duration::from_secs(1));
    }
}
