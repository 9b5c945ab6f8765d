//! Defences against what a stream may send besides good klines: frames too
//! large to be a kline, gzip bombs, candles with impossible values, and
//! floods. Each check names what was wrong ([`FrameError`],
//! [`ImpossibleCandle`]), for the connection's one-line log of the skipped
//! frame.

use super::protocol::FrameError;
use quantpro_model::Candle;
use quantpro_model::Interval;
use std::io::Read;
use std::time::Duration;
use tokio::time::Instant;

/// Prices above this are not a market (BTC would need to gain 10^7 x).
const MAX_PRICE: f64 = 1e12;
/// Base volume per candle above this is not a market either.
const MAX_VOLUME: f64 = 1e18;
/// Open times before 2010 predate every venue.
const EARLIEST_OPEN_MS: i64 = 1_262_304_000_000;

/// Why a decoded kline cannot be a market's candle.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ImpossibleCandle {
    #[error("price out of range (o {o}, h {h}, l {l}, c {c}; must be in (0, {max:e}])", max = MAX_PRICE)]
    Price { o: f64, h: f64, l: f64, c: f64 },
    #[error("volume out of range ({0})")]
    Volume(f64),
    #[error("high/low do not bound the candle (o {o}, h {h}, l {l}, c {c})")]
    Unbounded { o: f64, h: f64, l: f64, c: f64 },
    #[error("open time {t} is not on a {interval} boundary")]
    OffBoundary { t: i64, interval: Interval },
    #[error("open time {t} is implausible (now {now_ms})")]
    Implausible { t: i64, now_ms: i64 },
}

/// Why a kline was refused.
pub(crate) fn check_candle(
    candle: &Candle,
    interval: Interval,
    now_ms: i64,
) -> Result<(), ImpossibleCandle> {
    let Candle { t, o, h, l, c, v } = *candle;
    let prices = [o, h, l, c];
    if prices
        .iter()
        .any(|p| !p.is_finite() || *p <= 0.0 || *p > MAX_PRICE)
    {
        return Err(ImpossibleCandle::Price { o, h, l, c });
    }
    if !v.is_finite() || !(0.0..=MAX_VOLUME).contains(&v) {
        return Err(ImpossibleCandle::Volume(v));
    }
    if h < o.max(c).max(l) || l > o.min(c) {
        return Err(ImpossibleCandle::Unbounded { o, h, l, c });
    }
    let step = interval.millis();
    if t.rem_euclid(step) != 0 {
        return Err(ImpossibleCandle::OffBoundary { t, interval });
    }
    // A venue clock slightly ahead of ours is tolerated: one interval.
    if t < EARLIEST_OPEN_MS || t > now_ms + step {
        return Err(ImpossibleCandle::Implausible { t, now_ms });
    }
    Ok(())
}

/// The start of a frame for a log line: at most 120 characters, control
/// characters escaped.
pub(crate) fn preview(text: &str) -> String {
    const MAX: usize = 120;
    let mut out: String = text
        .chars()
        .take(MAX)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// Decompresses a gzip frame, refusing more than `limit` bytes of output.
pub(crate) fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(FrameError::BadGzip)?;
    if out.len() > limit {
        return Err(FrameError::InflatesTooFar { limit });
    }
    Ok(out)
}

pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Counts frames per one-second window; trips above `limit`.
#[derive(Debug)]
pub(crate) struct FloodGuard {
    limit: u32,
    window_start: Instant,
    count: u32,
}

const FLOOD_WINDOW: Duration = Duration::from_secs(1);

impl FloodGuard {
    pub(crate) fn new(limit: u32) -> FloodGuard {
        FloodGuard {
            limit,
            window_start: Instant::now(),
            count: 0,
        }
    }

    pub(crate) fn limit(&self) -> u32 {
        self.limit
    }

    pub(crate) fn set_limit(&mut self, limit: u32) {
        self.limit = limit;
    }

    /// Counts one frame; `Err(frames)` when the window holds too many.
    pub(crate) fn admit(&mut self, now: Instant) -> Result<(), u32> {
        if now.duration_since(self.window_start) >= FLOOD_WINDOW {
            self.window_start = now;
            self.count = 0;
        }
        self.count += 1;
        if self.count > self.limit {
            Err(self.count)
        } else {
            Ok(())
        }
    }
}

/// Limits a repeated warning to `max` lines per minute, counting the rest,
/// so a hostile stream cannot flood the log.
#[derive(Debug)]
pub(crate) struct LogThrottle {
    max: u32,
    window_start: Instant,
    logged: u32,
    suppressed: u32,
}

const LOG_WINDOW: Duration = Duration::from_secs(60);

impl LogThrottle {
    pub(crate) fn new(max: u32) -> LogThrottle {
        LogThrottle {
            max,
            window_start: Instant::now(),
            logged: 0,
            suppressed: 0,
        }
    }

    /// `Some(n)`: log this one, mentioning `n` suppressed since the last
    /// line; `None`: stay quiet.
    pub(crate) fn admit(&mut self, now: Instant) -> Option<u32> {
        if now.duration_since(self.window_start) >= LOG_WINDOW {
            self.window_start = now;
            self.logged = 0;
        }
        if self.logged < self.max {
            self.logged += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_721_088_000_000;

    fn candle() -> Candle {
        Candle {
            t: T,
            o: 100.0,
            h: 110.0,
            l: 95.0,
            c: 105.0,
            v: 12.0,
        }
    }

    #[test]
    fn a_plausible_candle_passes_and_each_impossibility_is_named() {
        let now = T + 60_000;
        assert_eq!(check_candle(&candle(), Interval::M15, now), Ok(()));
        let bad = |f: fn(&mut Candle)| {
            let mut c = candle();
            f(&mut c);
            check_candle(&c, Interval::M15, now)
                .unwrap_err()
                .to_string()
        };
        assert!(bad(|c| c.c = f64::NAN).contains("price"));
        assert!(bad(|c| c.o = -1.0).contains("price"));
        assert!(bad(|c| c.h = 1e300).contains("price"));
        assert!(bad(|c| c.v = -3.0).contains("volume"));
        assert!(bad(|c| c.v = f64::INFINITY).contains("volume"));
        assert!(bad(|c| c.h = 101.0).contains("bound"));
        assert!(bad(|c| c.l = 102.0).contains("bound"));
        assert!(bad(|c| c.t += 1).contains("boundary"));
        assert!(bad(|c| c.t += 100 * 900_000).contains("implausible"));
        assert!(bad(|c| c.t = 0).contains("implausible"));
        assert_eq!(
            bad(|c| c.o = -1.0),
            "price out of range (o -1, h 110, l 95, c 105; must be in (0, 1e12])"
        );
        assert_eq!(
            bad(|c| c.t += 1),
            "open time 1721088000001 is not on a 15m boundary"
        );
    }

    #[test]
    fn previews_are_short_and_escaped() {
        assert_eq!(preview("a\nb"), "a\\nb");
        let long = "x".repeat(500);
        assert_eq!(preview(&long).chars().count(), 121);
    }

    #[test]
    fn gunzip_refuses_bombs() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&vec![b'a'; 10_000]).unwrap();
        let zipped = enc.finish().unwrap();
        assert!(is_gzip(&zipped));
        assert_eq!(gunzip(&zipped, 10_000).unwrap().len(), 10_000);
        assert_eq!(
            gunzip(&zipped, 9_999).unwrap_err().to_string(),
            "gzip frame inflates beyond 9999 bytes"
        );
        assert!(matches!(
            gunzip(&[0x1f, 0x8b, 1, 2], 100),
            Err(FrameError::BadGzip(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn the_log_throttle_keeps_a_few_lines_a_minute_and_counts_the_rest() {
        let mut throttle = LogThrottle::new(2);
        let now = Instant::now();
        assert_eq!(throttle.admit(now), Some(0));
        assert_eq!(throttle.admit(now), Some(0));
        assert_eq!(throttle.admit(now), None);
        assert_eq!(throttle.admit(now), None);
        tokio::time::sleep(LOG_WINDOW).await;
        assert_eq!(throttle.admit(Instant::now()), Some(2));
    }

    #[tokio::test(start_paused = true)]
    async fn the_flood_guard_counts_per_second() {
        let mut guard = FloodGuard::new(3);
        let now = Instant::now();
        for _ in 0..3 {
            assert!(guard.admit(now).is_ok());
        }
        assert_eq!(guard.admit(now), Err(4));
        tokio::time::sleep(FLOOD_WINDOW).await;
        assert!(guard.admit(Instant::now()).is_ok());
    }
}
