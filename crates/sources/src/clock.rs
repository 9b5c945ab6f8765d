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
        Clock::starting_at(quantpro_model::now_ms(), 1.0)
    }

    /// Starts at the wall-clock time and runs `speed` times faster.
    pub fn accelerated(speed: f64) -> Clock {
        Clock::starting_at(quantpro_model::now_ms(), speed)
    }

    /// Starts at `origin_ms` (tests pick a fixed time) and runs `speed`
    /// times faster than tokio's clock.
    pub fn starting_at(origin_ms: i64, speed: f64) -> Clock {
        Clock::anchored(origin_ms, Instant::now(), speed)
    }

    /// Reads `origin_ms` at the tokio instant `origin` and runs `speed`
    /// times faster from there: the timeline of a replayed market whose
    /// origin was fixed elsewhere (the fake exchange of the tests). A speed
    /// that is not finite and positive is taken as 1.
    pub fn anchored(origin_ms: i64, origin: Instant, speed: f64) -> Clock {
        Clock {
            origin_ms,
            origin,
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
        self.ms_at(Instant::now())
    }

    /// What the clock reads at the tokio instant `at` (the origin's time
    /// for an instant before it): when a wait of tokio time ends, in Unix ms.
    pub fn ms_at(&self, at: Instant) -> i64 {
        let elapsed_ns = at.saturating_duration_since(self.origin).as_nanos() as f64;
        self.origin_ms + (elapsed_ns * self.speed / 1e6).floor() as i64
    }

    /// The tokio instant at which the clock reads `at_ms` (a time before
    /// the origin: just after the origin), so that every wait is a tokio
    /// sleep while times stay Unix ms.
    pub fn instant_at(&self, at_ms: i64) -> Instant {
        let ahead_ms = (at_ms - self.origin_ms).max(0) as f64;
        // Rounded up, plus a nanosecond against float error, so that the
        // clock shows at least `at_ms` at the returned instant.
        let ns = (ahead_ms * 1e6 / self.speed).ceil() + 1.0;
        self.origin + Duration::from_nanos(ns as u64)
    }

    /// Returns once the clock reads `at_ms` or later.
    pub async fn sleep_until_ms(&self, at_ms: i64) {
        tokio::time::sleep_until(self.instant_at(at_ms)).await;
        // Float rounding must never leave the clock short of `at_ms`.
        while self.now_ms() < at_ms {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// A span of clock time as a tokio duration (what to pass to a timeout).
    pub fn real_duration(&self, clock_ms: i64) -> Duration {
        Duration::from_secs_f64(clock_ms.max(0) as f64 / self.speed / 1000.0)
    }
}

/// Awaits `work` that waits on something tokio does not see (a database
/// driver's own thread, a database server's answer), without letting a
/// paused test clock jump ahead meanwhile.
///
/// Why: with tokio's time paused (`start_paused`, the virtual time of the
/// live loop's tests), the clock advances to the next timer whenever the
/// runtime is idle, and a task waiting on another thread looks idle: a pool's
/// acquire timeout would fire, or the loop's next close would come, while a
/// query takes a millisecond of real time. Tokio holds its paused clock while
/// a blocking task is in flight, so one is parked for the duration of `work`.
/// On a real clock this costs a parked blocking-pool thread per call in
/// flight; `work` itself runs on the caller's runtime.
pub async fn holding_virtual_time<F: std::future::Future>(work: F) -> F::Output {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let marker = tokio::task::spawn_blocking(move || {
        // Returns when `done` is dropped: `work` ended or was cancelled.
        let _ = wait.recv();
    });
    let output = work.await;
    drop(done);
    let _ = marker.await;
    output
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

    #[tokio::test(start_paused = true)]
    async fn reaches_each_time_at_its_instant() {
        for speed in [1.0, 60.0, 0.5, 7.3] {
            let clock = Clock::starting_at(1_721_088_000_000, speed);
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
    async fn reads_the_time_of_a_future_instant() {
        let clock = Clock::starting_at(1_000_000, 60.0);
        let in_14_s = Instant::now() + Duration::from_secs(14);
        assert_eq!(clock.ms_at(in_14_s), 1_000_000 + 14 * 60_000);
        tokio::time::sleep_until(in_14_s).await;
        assert_eq!(clock.now_ms(), clock.ms_at(in_14_s));
    }

    #[tokio::test(start_paused = true)]
    async fn a_passed_time_is_now() {
        let clock = Clock::starting_at(5_000, 1.0);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(clock.instant_at(1_000) <= Instant::now());
        assert_eq!(clock.now_ms(), 15_000);
    }

    #[tokio::test(start_paused = true)]
    async fn an_anchored_clock_counts_from_its_origin() {
        let origin = Instant::now();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let clock = Clock::anchored(1_000_000, origin, 60.0);
        assert_eq!(clock.now_ms(), 1_000_000 + 180_000);
        assert_eq!(
            clock.instant_at(1_000_000),
            origin + Duration::from_nanos(1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn work_on_another_thread_does_not_let_virtual_time_jump() {
        let before = Instant::now();
        // A timer far ahead is pending while a thread tokio cannot see works.
        let far = tokio::spawn(tokio::time::sleep(Duration::from_secs(3600)));
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let _ = tx.send(());
        });
        holding_virtual_time(rx).await.unwrap();
        assert!(
            before.elapsed() < Duration::from_secs(1),
            "virtual time moved by {:?}",
            before.elapsed()
        );
        // Without the hold, the same wait lets the clock run to the timer.
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let _ = tx.send(());
        });
        rx.await.unwrap();
        assert!(before.elapsed() >= Duration::from_secs(3600));
        far.abort();
    }
}
