//! Per-client rate limits that refuse rather than wait: failed sign-ins (the
//! brute-force limit) and the costly owner actions (scan start, AI
//! analysis). Each client has a token bucket of `burst` tokens that refills
//! one token per `refill`; a refusal says when the next token is back (the
//! `Retry-After` of a 429). Time is `tokio::time::Instant`, so tests run on
//! the paused clock.
//!
//! A client is its IP address; IPv6 clients are grouped by /64, the block
//! one host usually has, so a client cannot dodge the limit by rotating
//! addresses inside it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// `burst` requests at once, then one per `refill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRule {
    pub burst: u32,
    pub refill: Duration,
}

/// A refused request: the wait until the client's next token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, rounded up (what `Retry-After` carries), at least 1.
    pub fn secs(self) -> u64 {
        let secs = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// Buckets of more clients than this are pruned of the full ones (clients
/// that have not been limited lately) before a new one is added.
const PRUNE_ABOVE: usize = 4096;

#[derive(Debug)]
pub struct ClientLimiter {
    rule: RateRule,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl ClientLimiter {
    pub fn new(rule: RateRule) -> ClientLimiter {
        ClientLimiter {
            rule: RateRule {
                burst: rule.burst.max(1),
                refill: rule.refill.max(Duration::from_millis(1)),
            },
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn rule(&self) -> RateRule {
        self.rule
    }

    /// Takes one of `client`'s tokens, or says how long until one is back.
    pub fn try_take(&self, client: IpAddr) -> Result<(), RetryAfter> {
        self.with_bucket(client, |bucket, rule| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                Err(rule.wait_for_one(bucket.tokens))
            }
        })
    }

    /// Whether `client` has a token, without taking it (a sign-in is
    /// checked first and charged only when it fails).
    pub fn check(&self, client: IpAddr) -> Result<(), RetryAfter> {
        self.with_bucket(client, |bucket, rule| {
            if bucket.tokens >= 1.0 {
                Ok(())
            } else {
                Err(rule.wait_for_one(bucket.tokens))
            }
        })
    }

    /// Gives back a token taken for a request that did nothing (refused as
    /// invalid, or a conflict): only what was done counts.
    pub fn refund(&self, client: IpAddr) {
        self.with_bucket(client, |bucket, rule| {
            bucket.tokens = (bucket.tokens + 1.0).min(f64::from(rule.burst));
        });
    }

    /// Takes a token even if none is left (a failed sign-in counts always).
    pub fn charge(&self, client: IpAddr) {
        self.with_bucket(client, |bucket, _| {
            bucket.tokens = (bucket.tokens - 1.0).max(0.0)
        });
    }

    fn with_bucket<T>(&self, client: IpAddr, f: impl FnOnce(&mut Bucket, &RateRule) -> T) -> T {
        let now = Instant::now();
        let rule = self.rule;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let key = client_key(client);
        if !buckets.contains_key(&key) && buckets.len() >= PRUNE_ABOVE {
            buckets.retain(|_, bucket| rule.refilled(*bucket, now).tokens < f64::from(rule.burst));
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: f64::from(rule.burst),
            at: now,
        });
        *bucket = rule.refilled(*bucket, now);
        f(bucket, &rule)
    }
}

impl RateRule {
    fn refilled(&self, bucket: Bucket, now: Instant) -> Bucket {
        let earned = now.duration_since(bucket.at).as_secs_f64() / self.refill.as_secs_f64();
        Bucket {
            tokens: (bucket.tokens + earned).min(f64::from(self.burst)),
            at: now,
        }
    }

    fn wait_for_one(&self, tokens: f64) -> RetryAfter {
        RetryAfter(self.refill.mul_f64((1.0 - tokens).clamp(0.0, 1.0)))
    }
}

/// The address a client is counted under: itself, or its /64 for IPv6.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: RateRule = RateRule {
        burst: 3,
        refill: Duration::from_secs(60),
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_gets_its_burst_then_waits_for_the_refill() {
        let limiter = ClientLimiter::new(RULE);
        let client = ip("203.0.113.7");
        for _ in 0..3 {
            assert_eq!(limiter.try_take(client), Ok(()));
        }
        let refused = limiter.try_take(client).unwrap_err();
        assert_eq!(refused, RetryAfter(Duration::from_secs(60)));
        assert_eq!(refused.secs(), 60);

        tokio::time::advance(Duration::from_secs(45)).await;
        let refused = limiter.try_take(client).unwrap_err();
        assert_eq!(refused.secs(), 15, "a quarter of the refill left");
        tokio::time::advance(Duration::from_secs(15)).await;
        assert_eq!(limiter.try_take(client), Ok(()));
        assert!(limiter.try_take(client).is_err());

        // Other clients have their own buckets.
        assert_eq!(limiter.try_take(ip("203.0.113.8")), Ok(()));
        // The bucket never holds more than the burst.
        tokio::time::advance(Duration::from_secs(3600)).await;
        for _ in 0..3 {
            assert_eq!(limiter.try_take(client), Ok(()));
        }
        assert!(limiter.try_take(client).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn check_does_not_spend_and_charge_always_does() {
        let limiter = ClientLimiter::new(RULE);
        let client = ip("198.51.100.1");
        for _ in 0..10 {
            assert_eq!(limiter.check(client), Ok(()));
        }
        for _ in 0..5 {
            limiter.charge(client);
        }
        assert_eq!(limiter.check(client).unwrap_err().secs(), 60);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            limiter.check(client),
            Ok(()),
            "one failure forgiven per minute"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refund_gives_back_one_token_up_to_the_burst() {
        let limiter = ClientLimiter::new(RULE);
        let client = ip("192.0.2.9");
        for _ in 0..3 {
            limiter.try_take(client).unwrap();
        }
        limiter.refund(client);
        assert_eq!(limiter.try_take(client), Ok(()));
        assert!(limiter.try_take(client).is_err());
        for _ in 0..10 {
            limiter.refund(client);
        }
        for _ in 0..3 {
            assert_eq!(limiter.try_take(client), Ok(()));
        }
        assert!(
            limiter.try_take(client).is_err(),
            "never more than the burst"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ipv6_clients_share_their_64_block() {
        let limiter = ClientLimiter::new(RateRule { burst: 1, ..RULE });
        assert_eq!(limiter.try_take(ip("2001:db8:1:2::1")), Ok(()));
        assert!(limiter.try_take(ip("2001:db8:1:2:ffff::9")).is_err());
        assert_eq!(limiter.try_take(ip("2001:db8:1:3::1")), Ok(()));
        assert_eq!(limiter.try_take(ip("::ffff:192.0.2.1")), Ok(()));
        assert!(
            limiter.try_take(ip("192.0.2.1")).is_err(),
            "an IPv4-mapped address is its IPv4 client"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(RetryAfter(Duration::from_millis(1500)).secs(), 2);
        assert_eq!(RetryAfter(Duration::from_secs(3)).secs(), 3);
        assert_eq!(RetryAfter(Duration::ZERO).secs(), 1);
    }
}
