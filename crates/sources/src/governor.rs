//! The one rate-limit governor of a process: for every external host, the
//! budget of EXTERNAL_APIS.md, and what the host said about it (429, 418,
//! Binance's used-weight header). Every outbound request waits here before
//! it is sent, whoever makes it (a scan, `quantpro fetch`, the live loop's
//! backfill and repair, a universe refresh), so two callers of one host
//! share one budget and one pause.
//!
//! Per host:
//! - **Budget**: weight per sliding window, plus optional endpoint lanes
//!   (MEXC `/contract/detail`: 1 per 5 s) and a least spacing between request
//!   starts (Coinalyze). A call is counted from when it is sent until one
//!   window after its response arrived: the server counts it on receipt,
//!   which is later than our send, so our window must not close before its
//!   own. Weight known only after the response (Hyperliquid candles) is
//!   charged then ([`HostGate::charge`]).
//! - **Server's count**: a used-weight header (Binance
//!   `X-MBX-USED-WEIGHT-1M`) read from every response raises the local count
//!   to the server's when the server counts more (another process on the
//!   same IP, calls before our start). It never lowers it: a response can
//!   predate calls we sent since.
//! - **429**: the whole host waits `Retry-After`, every caller, not only
//!   the one that got it. A 429 that names no wait (Hyperliquid's, per
//!   EXTERNAL_APIS.md §3) makes the host wait its refusal backoff instead
//!   ([`HostLimits::refusal_backoff`]): 0.5 s after the first refusal in a
//!   row, doubled per refusal up to 60 s, half of it jittered. The streak is
//!   the host's, not a call's: the next call, for another symbol, waits the
//!   grown delay too, and only a served call ([`Permit::served`]) starts it
//!   over (a 418 counts as a refusal too). Calls already in flight when the
//!   host starts refusing are refused together; they count as one refusal.
//! - **Refused calls** (429, 418) cost what the server counts, no more. A
//!   refused call's weight leaves our window when its answer arrives; the
//!   used-weight header on the refusal (Binance sends one on every response,
//!   EXTERNAL_APIS.md §4) then puts back whatever the server did count. The
//!   other hosts document no count of refused calls (§2, §3), and the
//!   project's fakes count none, so none is charged: in a storm the refusal
//!   backoff paces the calls, and charging every refused retry to the budget
//!   would keep the host shut for up to a window after the storm ended.
//! - **418** (IP ban): no call at all to the host until the ban ends (from
//!   `Retry-After` or the body's "banned until <ms>"). A caller that will not
//!   wait that long fails at once with [`SourceError::Banned`]; likewise a
//!   429 pause longer than a caller's patience gives
//!   [`SourceError::RateLimited`] without a request.
//!
//! **Visibility**: [`Governor::subscribe`] gives a `watch` of
//! [`GovernorStatus`], one [`HostStatus`] per host, republished whenever a
//! host changes phase (open, throttled by its budget for a second or more,
//! rate-limited, banned). Each status has a human line, e.g. `"BINANCE
//! futures rate-limited, resuming in 14 s"`, and the Unix-ms time calls
//! resume, for a countdown. The server's progress stream shows the lines of
//! the hosts that are not open ([`GovernorStatus::waits`]).
//!
//! Time is `tokio::time`, so tests run it on a paused clock; the Unix-ms
//! "resumes at" times are read on the process's [`Clock`] (the live loop's,
//! [`Governor::use_clock`]), so a replayed or accelerated market shows them
//! in its own time.

use super::SourceError;
use crate::backoff::{Backoff, Jitter};
use crate::clock::Clock;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// An external API with a budget of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Host {
    BinanceSpot,
    BinanceFutures,
    MexcSpot,
    MexcFutures,
    Hyperliquid,
    Coinalyze,
    CoinGecko,
    Gemini,
    /// Alert channels (`alerts::channels`): Telegram Bot API, Discord
    /// webhooks, and every generic JSON webhook (one gate for all of them).
    Telegram,
    Discord,
    Webhook,
}

impl Host {
    pub const ALL: [Host; 11] = [
        Host::BinanceSpot,
        Host::BinanceFutures,
        Host::MexcSpot,
        Host::MexcFutures,
        Host::Hyperliquid,
        Host::Coinalyze,
        Host::CoinGecko,
        Host::Gemini,
        Host::Telegram,
        Host::Discord,
        Host::Webhook,
    ];

    /// The API's name in error messages (`"Binance futures: HTTP 400 ..."`).
    pub fn api(self) -> &'static str {
        match self {
            Host::BinanceSpot => "Binance spot",
            Host::BinanceFutures => "Binance futures",
            Host::MexcSpot => "MEXC spot",
            Host::MexcFutures => "MEXC futures",
            Host::Hyperliquid => "Hyperliquid",
            Host::Coinalyze => "Coinalyze",
            Host::CoinGecko => "CoinGecko",
            Host::Gemini => "Gemini",
            Host::Telegram => "Telegram",
            Host::Discord => "Discord",
            Host::Webhook => "Webhook",
        }
    }

    /// The host in status lines, exchanges spelled as the feed spells them.
    pub fn label(self) -> &'static str {
        match self {
            Host::BinanceSpot => "BINANCE spot",
            Host::BinanceFutures => "BINANCE futures",
            Host::MexcSpot => "MEXC spot",
            Host::MexcFutures => "MEXC futures",
            Host::Hyperliquid => "HYPERLIQUID",
            Host::Coinalyze => "COINALYZE",
            Host::CoinGecko => "COINGECKO",
            Host::Gemini => "GEMINI",
            Host::Telegram => "TELEGRAM",
            Host::Discord => "DISCORD",
            Host::Webhook => "WEBHOOK",
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// `weight` per sliding `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub weight: u32,
    pub window: Duration,
}

impl Budget {
    pub const fn per(weight: u32, window: Duration) -> Budget {
        Budget { weight, window }
    }
}

/// What one request costs: `weight` of the host's budget and, when `lane`
/// names one of the host's endpoint budgets, of that too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub weight: u32,
    pub lane: Option<&'static str>,
}

impl Cost {
    pub const fn weight(weight: u32) -> Cost {
        Cost { weight, lane: None }
    }

    pub const fn on_lane(lane: &'static str, weight: u32) -> Cost {
        Cost {
            weight,
            lane: Some(lane),
        }
    }
}

/// The MEXC contract endpoint with a budget of its own.
pub const MEXC_CONTRACT_DETAIL: &str = "contract/detail";

/// Binance's count of the weight this IP used in the current minute.
pub const BINANCE_USED_WEIGHT: &str = "x-mbx-used-weight-1m";

/// One host's rules.
#[derive(Debug, Clone, PartialEq)]
pub struct HostLimits {
    /// Weight per window for the whole host; `None`: no budget is published
    /// (Gemini's depends on the key's tier), only 429s pace it.
    pub budget: Option<Budget>,
    /// Endpoint budgets a request on that lane also draws on.
    pub lanes: Vec<(&'static str, Budget)>,
    /// Least time between the starts of two requests.
    pub min_spacing: Duration,
    /// A response header with the server's count of used weight in the
    /// budget's window.
    pub used_weight_header: Option<&'static str>,
    /// How long a 418 that says nothing about its end bans the host (the
    /// shortest ban Binance and MEXC document).
    pub default_ban: Duration,
    /// The host-wide wait after a 429 that names none: `initial` after the
    /// first refusal in a row, doubled per refusal up to `max`, a random
    /// half dropped; the first served call starts it over.
    pub refusal_backoff: Backoff,
}

const MINUTE: Duration = Duration::from_secs(60);
const SHORTEST_DOCUMENTED_BAN: Duration = Duration::from_secs(120);

/// 0.5 s, 1 s, 2 s ... 60 s: the first retry comes soon (a 429 is often one
/// burst too many), a storm is waited out at a minute per call at most.
const REFUSAL_BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(500),
    max: MINUTE,
};

impl HostLimits {
    /// A budget and nothing else.
    pub fn budget(budget: Budget) -> HostLimits {
        HostLimits {
            budget: Some(budget),
            lanes: Vec::new(),
            min_spacing: Duration::ZERO,
            used_weight_header: None,
            default_ban: SHORTEST_DOCUMENTED_BAN,
            refusal_backoff: REFUSAL_BACKOFF,
        }
    }

    /// These limits with a refusal backoff that starts at `initial`.
    fn first_refusal_wait(self, initial: Duration) -> HostLimits {
        HostLimits {
            refusal_backoff: Backoff {
                initial,
                ..self.refusal_backoff
            },
            ..self
        }
    }

    /// No published budget: only the host's 429s and 418s pace it.
    pub fn unbudgeted() -> HostLimits {
        HostLimits {
            budget: None,
            ..HostLimits::budget(Budget::per(1, MINUTE))
        }
    }

    /// The limits EXTERNAL_APIS.md gives for `host`.
    pub fn documented(host: Host) -> HostLimits {
        match host {
            Host::BinanceSpot => HostLimits {
                used_weight_header: Some(BINANCE_USED_WEIGHT),
                ..HostLimits::budget(Budget::per(6000, MINUTE))
            },
            Host::BinanceFutures => HostLimits {
                used_weight_header: Some(BINANCE_USED_WEIGHT),
                ..HostLimits::budget(Budget::per(2400, MINUTE))
            },
            // Each endpoint has 500 per 10 s; one budget for all is the safe reading.
            Host::MexcSpot => HostLimits::budget(Budget::per(500, Duration::from_secs(10))),
            Host::MexcFutures => HostLimits {
                lanes: vec![(MEXC_CONTRACT_DETAIL, Budget::per(1, Duration::from_secs(5)))],
                ..HostLimits::budget(Budget::per(20, Duration::from_secs(2)))
            },
            Host::Hyperliquid => HostLimits::budget(Budget::per(1200, MINUTE)),
            // 40 symbol-calls per minute per key, charged per symbol; 1.5 s
            // between starts spreads a scan's batches over the minute.
            // Slow APIs (here and below) retry a bare 429 no sooner than
            // their clients used to: 1 s, 2 s for Gemini.
            Host::Coinalyze => HostLimits {
                min_spacing: Duration::from_millis(1500),
                ..HostLimits::budget(Budget::per(40, MINUTE))
            }
            .first_refusal_wait(Duration::from_secs(1)),
            // Keyless access is "roughly 5 to 30 per minute": stay near the bottom.
            Host::CoinGecko => HostLimits::budget(Budget::per(10, MINUTE))
                .first_refusal_wait(Duration::from_secs(1)),
            Host::Gemini => HostLimits::unbudgeted().first_refusal_wait(Duration::from_secs(2)),
            // A group chat takes at most 20 messages a minute (Bot API FAQ).
            Host::Telegram => HostLimits::budget(Budget::per(20, MINUTE)),
            // The community figure of 5 per 2 s per webhook; 429s pace the rest.
            Host::Discord => HostLimits::budget(Budget::per(5, Duration::from_secs(2))),
            // Receivers publish no budget: only their 429s pace them.
            Host::Webhook => HostLimits::unbudgeted(),
        }
    }
}

/// The rules of every host.
#[derive(Debug, Clone, PartialEq)]
pub struct GovernorLimits(BTreeMap<Host, HostLimits>);

impl GovernorLimits {
    pub fn documented() -> GovernorLimits {
        GovernorLimits(
            Host::ALL
                .iter()
                .map(|&host| (host, HostLimits::documented(host)))
                .collect(),
        )
    }

    /// These limits with `host`'s replaced (tests scale budgets).
    pub fn with(mut self, host: Host, limits: HostLimits) -> GovernorLimits {
        self.0.insert(host, limits);
        self
    }

    pub fn get(&self, host: Host) -> &HostLimits {
        &self.0[&host]
    }
}

impl Default for GovernorLimits {
    fn default() -> Self {
        GovernorLimits::documented()
    }
}

/// Where a host stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HostPhase {
    /// Calls go out as the budget allows.
    Open,
    /// Its budget is spent; calls wait for it to refill.
    Throttled,
    /// It answered 429; every call waits.
    RateLimited,
    /// It banned this IP (418); no call is made until the ban ends.
    Banned,
}

/// One host's phase as last published.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostStatus {
    pub host: Host,
    pub phase: HostPhase,
    /// When calls resume (Unix ms); `None` while open.
    pub resumes_at_ms: Option<i64>,
    /// What a trader reads: `"BINANCE futures rate-limited, resuming in 14 s"`.
    pub line: String,
}

impl HostStatus {
    fn open(host: Host) -> HostStatus {
        HostStatus {
            host,
            phase: HostPhase::Open,
            resumes_at_ms: None,
            line: format!("{host} open"),
        }
    }

    /// A wait of `wait` that ends at `resumes_at_ms`.
    fn waiting(host: Host, phase: HostPhase, wait: Duration, resumes_at_ms: i64) -> HostStatus {
        let secs = wait.as_secs_f64().ceil() as u64;
        let what = match phase {
            HostPhase::Open => return HostStatus::open(host),
            HostPhase::Throttled => "at its request budget",
            HostPhase::RateLimited => "rate-limited",
            HostPhase::Banned => "banned this IP (HTTP 418), no calls until the ban ends",
        };
        HostStatus {
            host,
            phase,
            resumes_at_ms: Some(resumes_at_ms),
            line: format!("{host} {what}, resuming in {secs} s"),
        }
    }
}

impl HostStatus {
    /// What is left of the wait at `now_ms` (the loop's clock), `None`
    /// when open or once the wait is over.
    pub fn remaining_at(&self, now_ms: i64) -> Option<Duration> {
        let resumes = self
            .resumes_at_ms
            .filter(|_| self.phase != HostPhase::Open)?;
        (resumes > now_ms).then(|| Duration::from_millis((resumes - now_ms) as u64))
    }

    /// [`HostStatus::line`] as it reads at `now_ms` (the countdown moved
    /// on since it was published); `None` once the wait is over.
    pub fn line_at(&self, now_ms: i64) -> Option<String> {
        let remaining = self.remaining_at(now_ms)?;
        Some(HostStatus::waiting(self.host, self.phase, remaining, now_ms).line)
    }

    /// The wait in a few words at `now_ms`, for a row waiting on the host:
    /// "BINANCE futures (banned, resumes in 14 s)".
    pub fn short_at(&self, now_ms: i64) -> Option<String> {
        let remaining = self.remaining_at(now_ms)?;
        let what = match self.phase {
            HostPhase::Open => return None,
            HostPhase::Throttled => "at its request budget",
            HostPhase::RateLimited => "rate-limited",
            HostPhase::Banned => "banned",
        };
        Some(format!(
            "{} ({what}, resumes in {} s)",
            self.host,
            remaining.as_secs_f64().ceil() as u64
        ))
    }
}

/// Weight spent on each host within its window, stamped in Unix ms:
/// what a restart must not spend again (Hyperliquid, unlike Binance, says
/// nothing of what it counted). Saved by the live loop with the candle
/// store; see [`Governor::spent`] and [`Governor::restore_spent`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SpentWeight {
    pub hosts: BTreeMap<Host, Vec<SpentAt>>,
}

/// `weight` counted from `at_ms` (Unix ms) for one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpentAt {
    pub at_ms: i64,
    pub weight: u32,
}

/// Every host's status, in [`Host::ALL`] order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GovernorStatus {
    pub hosts: Vec<HostStatus>,
}

impl GovernorStatus {
    fn all_open() -> GovernorStatus {
        GovernorStatus {
            hosts: Host::ALL.iter().map(|&h| HostStatus::open(h)).collect(),
        }
    }

    pub fn get(&self, host: Host) -> &HostStatus {
        self.hosts
            .iter()
            .find(|s| s.host == host)
            .expect("every host has a status")
    }

    /// The hosts that make calls wait, for the progress stream.
    pub fn waits(&self) -> impl Iterator<Item = &HostStatus> {
        self.hosts.iter().filter(|s| s.phase != HostPhase::Open)
    }
}

/// Budget waits shorter than this are routine pacing, not news.
const VISIBLE_THROTTLE: Duration = Duration::from_secs(1);

/// The process's rate-limit governor; share it as `Arc<Governor>`.
pub struct Governor {
    hosts: BTreeMap<Host, HostState>,
    status: watch::Sender<GovernorStatus>,
    /// What "resumes at" times are read on (the wall clock until
    /// [`Governor::use_clock`]).
    clock: Mutex<Clock>,
}

impl fmt::Debug for Governor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Governor")
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

struct HostState {
    limits: HostLimits,
    book: Mutex<HostBook>,
}

struct HostBook {
    host_window: Option<Window>,
    lanes: Vec<(&'static str, Window)>,
    last_start: Option<Instant>,
    block: Option<Block>,
    phase: HostPhase,
    next_id: u64,
    charged: u64,
    refusals: Refusals,
    /// When the published wait ends (`None` while open).
    published_until: Option<Instant>,
}

/// The host's refusals in a row, for its refusal backoff.
struct Refusals {
    /// Refusals in a row; 0 again once a call is served.
    in_a_row: u32,
    /// Permits from this id on were granted after the last refusal arrived.
    /// Only their answers are news: calls in flight when the host started
    /// refusing are refused together and count once, and one of them served
    /// says nothing about the host since.
    news_from: u64,
    jitter: Jitter,
}

/// A 429 pause or a 418 ban: no call before `until`.
#[derive(Debug, Clone, Copy)]
struct Block {
    banned: bool,
    until: Instant,
}

impl Governor {
    /// A governor with the documented limits of every host.
    pub fn documented() -> Arc<Governor> {
        Governor::new(GovernorLimits::documented())
    }

    pub fn new(limits: GovernorLimits) -> Arc<Governor> {
        // Seeded by the wall clock, so two processes on one IP do not draw
        // the same waits (tests hold for any draw within the bounds).
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        let hosts = limits
            .0
            .into_iter()
            .map(|(host, limits)| {
                let book = HostBook {
                    host_window: limits.budget.map(Window::new),
                    lanes: limits
                        .lanes
                        .iter()
                        .map(|&(lane, budget)| (lane, Window::new(budget)))
                        .collect(),
                    last_start: None,
                    block: None,
                    phase: HostPhase::Open,
                    next_id: 0,
                    charged: 0,
                    published_until: None,
                    refusals: Refusals {
                        in_a_row: 0,
                        news_from: 0,
                        jitter: Jitter::new(seed ^ (host as u64).wrapping_mul(0x9E37_79B9)),
                    },
                };
                (
                    host,
                    HostState {
                        limits,
                        book: Mutex::new(book),
                    },
                )
            })
            .collect();
        let (status, _) = watch::channel(GovernorStatus::all_open());
        Arc::new(Governor {
            hosts,
            status,
            clock: Mutex::new(Clock::real()),
        })
    }

    /// Reads the times calls resume on `clock` (the scan pipeline's: the
    /// live loop's replayed or accelerated market) from now on.
    pub fn use_clock(&self, clock: Clock) {
        *self.clock.lock().unwrap_or_else(|e| e.into_inner()) = clock;
    }

    fn clock(&self) -> Clock {
        *self.clock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The gate of one host: what its clients wait on.
    pub fn gate(self: &Arc<Self>, host: Host) -> HostGate {
        HostGate {
            governor: self.clone(),
            host,
        }
    }

    /// The weight still counted in every host's window, stamped on the
    /// governor's clock ([`Governor::use_clock`]).
    pub fn spent(&self) -> SpentWeight {
        let clock = self.clock();
        let mut hosts = BTreeMap::new();
        for &host in self.hosts.keys() {
            let mut book = self.book(host);
            let now = Instant::now();
            let Some(window) = book.host_window.as_mut() else {
                continue;
            };
            window.forget_expired(now);
            let spent: Vec<SpentAt> = window
                .spent
                .iter()
                .map(|s| SpentAt {
                    at_ms: clock.ms_at(s.at),
                    weight: s.weight,
                })
                .collect();
            if !spent.is_empty() {
                hosts.insert(host, spent);
            }
        }
        SpentWeight { hosts }
    }

    /// Counts what a previous run spent (saved from [`Governor::spent`]) as
    /// spent here, for as long as it stays in each host's window: a restart
    /// within the minute does not spend the budget twice. Not charged.
    pub fn restore_spent(&self, spent: &SpentWeight) {
        let clock = self.clock();
        for (host, entries) in &spent.hosts {
            let Some(state) = self.hosts.get(host) else {
                continue;
            };
            let mut book = state.book.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let Some(span) = book.host_window.as_ref().map(|w| w.budget.window) else {
                continue;
            };
            for entry in entries {
                // Before this clock's origin (a process started since):
                // counted from the origin, longer than the server does.
                let at = clock.instant_at(entry.at_ms).min(now);
                if at + span <= now {
                    continue;
                }
                let id = book.next_id;
                book.next_id += 1;
                if let Some(window) = &mut book.host_window {
                    window.record(id, entry.weight, at);
                }
            }
        }
    }

    /// Every host's status from now on (the receiver starts at the current one).
    pub fn subscribe(&self) -> watch::Receiver<GovernorStatus> {
        self.status.subscribe()
    }

    /// Every host's status now.
    pub fn status(&self) -> GovernorStatus {
        self.status.borrow().clone()
    }

    pub fn limits(&self, host: Host) -> &HostLimits {
        &self.state(host).limits
    }

    fn state(&self, host: Host) -> &HostState {
        &self.hosts[&host]
    }

    fn book(&self, host: Host) -> MutexGuard<'_, HostBook> {
        self.state(host)
            .book
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Records a phase change and publishes it (and logs it) when it is one.
    fn set_phase(&self, host: Host, book: &mut HostBook, phase: HostPhase, wait: Duration) {
        let until = Instant::now() + wait;
        let changed = book.phase != phase;
        // A longer wait than the one published is news too (a throttle
        // that grows, a longer pause): the line counts down to the new end.
        let extended = phase != HostPhase::Open
            && book
                .published_until
                .is_none_or(|published| until > published + Duration::from_millis(500));
        if !changed && !extended {
            return;
        }
        book.phase = phase;
        book.published_until = (phase != HostPhase::Open).then_some(until);
        let resumes_at_ms = self.clock().ms_at(Instant::now() + wait);
        let status = HostStatus::waiting(host, phase, wait, resumes_at_ms);
        match phase {
            HostPhase::Open | HostPhase::Throttled => {
                tracing::info!("[RATE-LIMIT] {}", status.line)
            }
            _ => tracing::warn!("[RATE-LIMIT] {}", status.line),
        }
        self.status.send_modify(|all| {
            if let Some(slot) = all.hosts.iter_mut().find(|s| s.host == host) {
                *slot = status;
            }
        });
    }
}

/// One host of a governor: clients hold one and wait on it before every
/// request. Cloning is cheap; clones share the host's budget.
#[derive(Clone)]
pub struct HostGate {
    governor: Arc<Governor>,
    host: Host,
}

impl fmt::Debug for HostGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostGate({})", self.host)
    }
}

impl HostGate {
    pub fn host(&self) -> Host {
        self.host
    }

    pub fn governor(&self) -> &Arc<Governor> {
        &self.governor
    }

    pub fn limits(&self) -> &HostLimits {
        self.governor.limits(self.host)
    }

    /// Waits until a request of `cost` may be sent and counts it. Fails at
    /// once, sending nothing, when the host is paused or banned for longer
    /// than `max_wait`.
    pub async fn acquire(&self, cost: Cost, max_wait: Duration) -> Result<Permit, SourceError> {
        loop {
            let wait = {
                let mut book = self.governor.book(self.host);
                let now = Instant::now();
                match self.blocked_for(&mut book, now) {
                    Some((banned, remaining)) if remaining > max_wait => {
                        return Err(self.refusal(banned, remaining, max_wait));
                    }
                    Some((_, remaining)) => remaining,
                    None => {
                        let wait = self.budget_wait(&mut book, cost, now);
                        if wait.is_zero() {
                            let id = self.record(&mut book, cost, now);
                            self.governor
                                .set_phase(self.host, &mut book, HostPhase::Open, wait);
                            return Ok(Permit {
                                gate: self.clone(),
                                id,
                                cost,
                            });
                        }
                        if wait >= VISIBLE_THROTTLE {
                            self.governor.set_phase(
                                self.host,
                                &mut book,
                                HostPhase::Throttled,
                                wait,
                            );
                        }
                        wait
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Every caller of the host waits `wait` from now (a 429's pause; the
    /// refused call itself is settled by [`Permit::rate_limited`]).
    pub fn rate_limited(&self, wait: Duration) {
        self.block(false, wait);
    }

    /// The host banned this IP (418): no call for `wait` from now.
    pub fn banned(&self, wait: Duration) {
        self.block(true, wait);
    }

    /// Weight learnt only from a response (Hyperliquid charges per candle
    /// returned): counted now, possibly beyond the budget (later calls wait).
    pub fn charge(&self, weight: u32) {
        if weight == 0 {
            return;
        }
        let mut book = self.governor.book(self.host);
        let now = Instant::now();
        let id = book.next_id;
        book.next_id += 1;
        book.charged += u64::from(weight);
        if let Some(window) = &mut book.host_window {
            window.record(id, weight, now);
        }
    }

    /// Weight counted in the host's current window.
    pub fn used(&self) -> u64 {
        let mut book = self.governor.book(self.host);
        let now = Instant::now();
        book.host_window.as_mut().map_or(0, |w| w.used(now))
    }

    /// Weight charged since the governor was built (retries included,
    /// refused calls not; the server's header corrects only the window).
    pub fn charged(&self) -> u64 {
        self.governor.book(self.host).charged
    }

    /// Whether (and for how long) the host is closed to calls at `now`;
    /// clears a block that has ended.
    fn blocked_for(&self, book: &mut HostBook, now: Instant) -> Option<(bool, Duration)> {
        match book.block {
            Some(block) if block.until > now => Some((block.banned, block.until - now)),
            Some(_) => {
                book.block = None;
                None
            }
            None => None,
        }
    }

    fn budget_wait(&self, book: &mut HostBook, cost: Cost, now: Instant) -> Duration {
        let spacing = self.limits().min_spacing;
        let for_spacing = book.last_start.map_or(Duration::ZERO, |last| {
            (last + spacing).saturating_duration_since(now)
        });
        let for_host = book
            .host_window
            .as_mut()
            .map_or(Duration::ZERO, |w| w.wait_needed(cost.weight, now));
        let for_lane = cost
            .lane
            .and_then(|lane| book.lanes.iter_mut().find(|(name, _)| *name == lane))
            .map_or(Duration::ZERO, |(_, w)| w.wait_needed(cost.weight, now));
        for_spacing.max(for_host).max(for_lane)
    }

    fn record(&self, book: &mut HostBook, cost: Cost, now: Instant) -> u64 {
        let id = book.next_id;
        book.next_id += 1;
        book.charged += u64::from(cost.weight);
        book.last_start = Some(now);
        if let Some(window) = &mut book.host_window {
            window.record(id, cost.weight, now);
        }
        if let Some((_, window)) = cost
            .lane
            .and_then(|lane| book.lanes.iter_mut().find(|(name, _)| *name == lane))
        {
            window.record(id, cost.weight, now);
        }
        id
    }

    fn block(&self, banned: bool, wait: Duration) {
        let mut book = self.governor.book(self.host);
        let now = Instant::now();
        let asked = Block {
            banned,
            until: now + wait,
        };
        // A ban is never shortened by a pause, nor a pause by a shorter one.
        let block = match book.block.filter(|old| old.until > now) {
            Some(old) if old.until >= asked.until && (old.banned || !banned) => return,
            Some(old) => Block {
                banned: old.banned || banned,
                until: old.until.max(asked.until),
            },
            None => asked,
        };
        book.block = Some(block);
        let phase = if block.banned {
            HostPhase::Banned
        } else {
            HostPhase::RateLimited
        };
        self.governor
            .set_phase(self.host, &mut book, phase, block.until - now);
    }

    fn refusal(&self, banned: bool, wait: Duration, max_wait: Duration) -> SourceError {
        let api = self.host.api();
        if banned {
            SourceError::Banned {
                api,
                wait_secs: wait.as_secs_f64().ceil() as u64,
                max_secs: max_wait.as_secs(),
            }
        } else {
            SourceError::rate_limited(api, wait, max_wait)
        }
    }

    /// The answer (or the failure) of a permit's request arrived; for a
    /// refusal, the wait its refusal backoff draws.
    fn finished(&self, permit: &Permit, headers: Option<&HeaderMap>, outcome: Outcome) -> Duration {
        let mut book = self.governor.book(self.host);
        let now = Instant::now();
        let id = permit.id;
        if outcome == Outcome::Refused {
            // Counted only as the server's header (below) says.
            if let Some(window) = &mut book.host_window {
                window.remove(id);
            }
            for (_, window) in &mut book.lanes {
                window.remove(id);
            }
            book.charged = book.charged.saturating_sub(u64::from(permit.cost.weight));
        } else {
            if let Some(window) = &mut book.host_window {
                window.restamp(id, now);
            }
            for (_, window) in &mut book.lanes {
                window.restamp(id, now);
            }
        }
        let server_count =
            self.limits()
                .used_weight_header
                .zip(headers)
                .and_then(|(name, headers)| {
                    headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok()
                });
        if let (Some(server), Some(window)) = (server_count, &mut book.host_window) {
            let local = window.used(now);
            if server > local {
                let extra = u32::try_from(server - local).unwrap_or(u32::MAX);
                let id = book.next_id;
                book.next_id += 1;
                if let Some(window) = &mut book.host_window {
                    window.record(id, extra, now);
                }
            }
        }
        let news = id >= book.refusals.news_from;
        match outcome {
            Outcome::Answered => {}
            Outcome::Served if news => book.refusals.in_a_row = 0,
            Outcome::Served => {}
            Outcome::Refused => {
                if news {
                    book.refusals.in_a_row = book.refusals.in_a_row.saturating_add(1);
                    book.refusals.news_from = book.next_id;
                }
            }
        }
        let refusals = &mut book.refusals;
        self.limits()
            .refusal_backoff
            .delay(refusals.in_a_row, &mut refusals.jitter)
    }
}

/// How a permit's request ended, for the host's books.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// An answer that is neither served nor refused (5xx, an error status),
    /// or none at all (timeout, dropped connection).
    Answered,
    /// The answer the caller wanted.
    Served,
    /// 429 or 418.
    Refused,
}

/// The right to send one request; settle it with the response:
/// [`Permit::served`], [`Permit::rate_limited`], [`Permit::banned`], or
/// [`Permit::finish`] for anything else.
#[must_use = "settle the permit when the response arrives"]
pub struct Permit {
    gate: HostGate,
    id: u64,
    cost: Cost,
}

impl Permit {
    /// The response (or the failure) arrived: the call is counted from now,
    /// and the server's used-weight header, when the host sends one,
    /// corrects the local count.
    pub fn finish(self, headers: Option<&HeaderMap>) {
        self.gate.finished(&self, headers, Outcome::Answered);
    }

    /// The host served the call: [`Permit::finish`], and the host's
    /// refusals in a row are over (its refusal backoff starts again small).
    pub fn served(self, headers: Option<&HeaderMap>) {
        self.gate.finished(&self, headers, Outcome::Served);
    }

    /// The host refused the call (429, or its API's word for it): the call
    /// costs only what the used-weight header says the server counted, and
    /// every caller of the host waits `asked` (the server's word) or, when
    /// it names none, the host's refusal backoff, grown by this refusal.
    /// Returns that wait.
    pub fn rate_limited(self, headers: Option<&HeaderMap>, asked: Option<Duration>) -> Duration {
        let backoff = self.gate.finished(&self, headers, Outcome::Refused);
        let wait = asked.unwrap_or(backoff);
        self.gate.rate_limited(wait);
        wait
    }

    /// The host banned this IP (418): the call costs what the server
    /// counted, and no call goes to the host for `ban`.
    pub fn banned(self, headers: Option<&HeaderMap>, ban: Duration) {
        self.gate.finished(&self, headers, Outcome::Refused);
        self.gate.banned(ban);
    }
}

/// Weight spent inside a sliding window. Entries are restamped when their
/// response arrives, so they are not kept in time order.
#[derive(Debug)]
struct Window {
    budget: Budget,
    spent: Vec<Spent>,
}

#[derive(Debug, Clone, Copy)]
struct Spent {
    id: u64,
    at: Instant,
    weight: u32,
}

impl Window {
    fn new(budget: Budget) -> Window {
        Window {
            budget,
            spent: Vec::new(),
        }
    }

    fn forget_expired(&mut self, now: Instant) {
        let window = self.budget.window;
        self.spent.retain(|s| s.at + window > now);
    }

    fn used(&mut self, now: Instant) -> u64 {
        self.forget_expired(now);
        self.spent.iter().map(|s| u64::from(s.weight)).sum()
    }

    /// How long from `now` until `weight` more fits; a weight above the
    /// budget is clamped (it could never fit otherwise).
    fn wait_needed(&mut self, weight: u32, now: Instant) -> Duration {
        let limit = u64::from(self.budget.weight.max(1));
        let weight = u64::from(weight).min(limit);
        let mut used = self.used(now);
        if used + weight <= limit {
            return Duration::ZERO;
        }
        let mut expiries: Vec<(Instant, u32)> = self
            .spent
            .iter()
            .map(|s| (s.at + self.budget.window, s.weight))
            .collect();
        expiries.sort_by_key(|&(at, _)| at);
        for (expiry, w) in expiries {
            used -= u64::from(w);
            if used + weight <= limit {
                return expiry.saturating_duration_since(now);
            }
        }
        Duration::ZERO
    }

    fn record(&mut self, id: u64, weight: u32, at: Instant) {
        self.spent.push(Spent { id, at, weight });
    }

    fn restamp(&mut self, id: u64, at: Instant) {
        for spent in self.spent.iter_mut().filter(|s| s.id == id) {
            spent.at = spent.at.max(at);
        }
    }

    fn remove(&mut self, id: u64) {
        self.spent.retain(|s| s.id != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// One call that waits as long as the budget needs and gets its response at once.
    async fn call(gate: &HostGate, cost: Cost) {
        gate.acquire(cost, Duration::ZERO)
            .await
            .expect("no pause or ban")
            .finish(None);
    }

    fn governor_with(host: Host, limits: HostLimits) -> Arc<Governor> {
        Governor::new(GovernorLimits::documented().with(host, limits))
    }

    #[test]
    fn a_full_window_waits_until_enough_weight_expires() {
        let t0 = Instant::now();
        let secs = Duration::from_secs;
        let mut window = Window::new(Budget::per(40, secs(60)));
        window.record(0, 20, t0);
        window.record(1, 15, t0 + secs(10));
        assert_eq!(window.wait_needed(5, t0 + secs(11)), Duration::ZERO);
        // 35 used: 20 more needs the first 20 to leave, at t0 + 60 s.
        assert_eq!(window.wait_needed(20, t0 + secs(11)), secs(49));
        // 30 more needs both entries gone: t0 + 70 s.
        assert_eq!(window.wait_needed(30, t0 + secs(11)), secs(59));
        assert_eq!(
            window.used(t0 + secs(60)),
            15,
            "the first entry leaves exactly at the window"
        );
    }

    #[test]
    fn oversized_requests_are_clamped_to_the_budget() {
        let t0 = Instant::now();
        let mut window = Window::new(Budget::per(10, Duration::from_secs(1)));
        assert_eq!(window.wait_needed(25, t0), Duration::ZERO);
        window.record(0, 10, t0);
        assert_eq!(window.wait_needed(25, t0), Duration::from_secs(1));
    }

    #[test]
    fn restamp_moves_an_entry_forward_only_and_out_of_order() {
        let t0 = Instant::now();
        let mut window = Window::new(Budget::per(10, Duration::from_secs(1)));
        window.record(0, 5, t0);
        window.record(1, 5, t0 + 100 * MS);
        // The older request's response arrives last.
        window.restamp(0, t0 + 300 * MS);
        window.restamp(1, t0 + 200 * MS);
        assert_eq!(window.wait_needed(5, t0 + 500 * MS), 700 * MS);
        assert_eq!(window.wait_needed(10, t0 + 500 * MS), 800 * MS);
        window.restamp(0, t0);
        assert_eq!(window.wait_needed(5, t0 + 500 * MS), 700 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_budget_waits_for_its_oldest_weight_to_leave_the_window() {
        let governor = governor_with(
            Host::MexcSpot,
            HostLimits::budget(Budget::per(10, 200 * MS)),
        );
        let gate = governor.gate(Host::MexcSpot);
        let start = Instant::now();
        call(&gate, Cost::weight(10)).await;
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "a fresh budget serves at once"
        );
        call(&gate, Cost::weight(5)).await;
        assert_eq!(start.elapsed(), 200 * MS);
        assert_eq!(gate.charged(), 15);
    }

    #[tokio::test(start_paused = true)]
    async fn weight_charged_after_the_response_delays_the_next_call() {
        let governor = governor_with(
            Host::Hyperliquid,
            HostLimits::budget(Budget::per(10, Duration::from_secs(10))),
        );
        let gate = governor.gate(Host::Hyperliquid);
        gate.charge(15);
        assert_eq!(gate.used(), 15, "in debt beyond the budget");
        let start = Instant::now();
        call(&gate, Cost::weight(1)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn request_starts_are_spaced() {
        let governor = governor_with(
            Host::Coinalyze,
            HostLimits {
                min_spacing: 60 * MS,
                ..HostLimits::budget(Budget::per(100, Duration::from_secs(1)))
            },
        );
        let gate = governor.gate(Host::Coinalyze);
        let start = Instant::now();
        for _ in 0..3 {
            call(&gate, Cost::weight(1)).await;
        }
        assert_eq!(start.elapsed(), 120 * MS);
        assert_eq!(gate.used(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lane_budget_binds_only_its_endpoint() {
        let governor = Governor::documented();
        let gate = governor.gate(Host::MexcFutures);
        let start = Instant::now();
        let detail = Cost::on_lane(MEXC_CONTRACT_DETAIL, 1);
        call(&gate, detail).await;
        call(&gate, Cost::weight(1)).await;
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "klines do not wait for detail's lane"
        );
        call(&gate, detail).await;
        assert_eq!(start.elapsed(), Duration::from_secs(5), "detail: 1 per 5 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_caller_and_a_long_one_refuses_at_once() {
        let governor = Governor::documented();
        let gate = governor.gate(Host::BinanceFutures);
        gate.rate_limited(Duration::from_secs(14));
        let status = governor.status();
        let futures = status.get(Host::BinanceFutures);
        assert_eq!(futures.phase, HostPhase::RateLimited);
        assert_eq!(
            futures.line,
            "BINANCE futures rate-limited, resuming in 14 s"
        );
        assert!(futures.resumes_at_ms.is_some());
        assert_eq!(
            status.waits().map(|s| s.host).collect::<Vec<_>>(),
            vec![Host::BinanceFutures],
            "other hosts are open"
        );

        let impatient = gate
            .acquire(Cost::weight(1), Duration::from_secs(5))
            .await
            .err()
            .expect("a 14 s pause is longer than 5 s");
        assert!(
            matches!(
                impatient,
                SourceError::RateLimited {
                    wait_secs: 14,
                    max_secs: 5,
                    ..
                }
            ),
            "{impatient}"
        );
        let start = Instant::now();
        let other = gate.clone();
        let waiting = tokio::spawn(async move {
            other
                .acquire(Cost::weight(1), Duration::from_secs(60))
                .await
                .map(|p| p.finish(None))
        });
        waiting.await.unwrap().unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(14));
        assert_eq!(
            governor.status().get(Host::BinanceFutures).phase,
            HostPhase::Open,
            "the first call after the pause reopens the host"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn calls_resume_at_a_time_of_the_governors_clock() {
        let governor = Governor::documented();
        // A replayed market 60 times faster than tokio's (virtual) time.
        let market = Clock::starting_at(1_721_088_000_000, 60.0);
        governor.use_clock(market);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let gate = governor.gate(Host::Hyperliquid);
        gate.rate_limited(Duration::from_secs(14));
        let status = governor.status();
        let host = status.get(Host::Hyperliquid);
        assert_eq!(host.line, "HYPERLIQUID rate-limited, resuming in 14 s");
        assert_eq!(
            host.resumes_at_ms,
            Some(1_721_088_000_000 + (2 + 14) * 60_000),
            "16 s of tokio time from the clock's origin, read at 60x"
        );
        tokio::time::sleep(Duration::from_secs(14)).await;
        assert_eq!(Some(market.now_ms()), host.resumes_at_ms);
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_counts_down_on_the_clock_and_a_longer_throttle_is_published() {
        let governor = Governor::documented();
        let clock = Clock::starting_at(1_721_088_000_000, 1.0);
        governor.use_clock(clock);
        let gate = governor.gate(Host::BinanceFutures);
        gate.banned(Duration::from_secs(14));
        tokio::time::sleep(Duration::from_secs(12)).await;
        let status = governor.status();
        let host = status.get(Host::BinanceFutures);
        let now = clock.now_ms();
        assert!(host.line.ends_with("resuming in 14 s"), "as published");
        assert!(
            host.line_at(now).unwrap().ends_with("resuming in 2 s"),
            "{:?}",
            host.line_at(now)
        );
        assert_eq!(
            host.short_at(now).as_deref(),
            Some("BINANCE futures (banned, resumes in 2 s)")
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(host.line_at(clock.now_ms()), None, "the ban is over");

        // A throttle that grows is published again with its new end.
        let hl = Host::Hyperliquid;
        {
            let mut book = governor.book(hl);
            governor.set_phase(hl, &mut book, HostPhase::Throttled, Duration::from_secs(2));
            governor.set_phase(hl, &mut book, HostPhase::Throttled, Duration::from_secs(25));
        }
        let status = governor.status();
        let line = status.get(hl).line_at(clock.now_ms()).unwrap();
        assert!(line.ends_with("resuming in 25 s"), "{line}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_counts_what_the_previous_run_spent_within_the_window() {
        let clock = Clock::starting_at(1_721_088_000_000, 1.0);
        let before = Governor::documented();
        before.use_clock(clock);
        let gate = before.gate(Host::Hyperliquid);
        for _ in 0..50 {
            call(&gate, Cost::weight(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(gate.used(), 1000);
        let saved: SpentWeight =
            serde_json::from_str(&serde_json::to_string(&before.spent()).unwrap()).unwrap();

        // A kill -9 and a start 20 s after those calls: they still count.
        let after = Governor::documented();
        after.use_clock(clock);
        after.restore_spent(&saved);
        let gate = after.gate(Host::Hyperliquid);
        assert_eq!(gate.used(), 1000);
        assert_eq!(gate.charged(), 0, "not charged to this run");
        let start = Instant::now();
        call(&gate, Cost::weight(300)).await;
        let waited = start.elapsed();
        assert!(
            (Duration::from_secs(40)..Duration::from_millis(40_010)).contains(&waited),
            "the previous run's calls leave the window a minute after they were made: {waited:?}"
        );
        assert_eq!(gate.used(), 300);
    }

    #[tokio::test(start_paused = true)]
    async fn a_ban_is_never_shortened_by_a_pause() {
        let governor = Governor::documented();
        let gate = governor.gate(Host::MexcSpot);
        gate.banned(Duration::from_secs(300));
        gate.rate_limited(Duration::from_secs(10));
        let status = governor.status();
        let mexc = status.get(Host::MexcSpot);
        assert_eq!(mexc.phase, HostPhase::Banned);
        assert!(
            mexc.line.starts_with("MEXC spot banned this IP"),
            "{}",
            mexc.line
        );
        assert!(mexc.line.ends_with("resuming in 300 s"), "{}", mexc.line);
        let refused = gate
            .acquire(Cost::weight(1), Duration::from_secs(120))
            .await
            .err()
            .expect("banned");
        assert!(
            matches!(refused, SourceError::Banned { wait_secs: 300, .. }),
            "{refused}"
        );
        tokio::time::advance(Duration::from_secs(300)).await;
        gate.acquire(Cost::weight(1), Duration::ZERO)
            .await
            .expect("the ban is over")
            .finish(None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_used_weight_header_only_raises_the_count() {
        let governor = Governor::documented();
        let gate = governor.gate(Host::BinanceFutures);
        let mut headers = HeaderMap::new();
        headers.insert(BINANCE_USED_WEIGHT, "2395".parse().unwrap());
        gate.acquire(Cost::weight(10), Duration::ZERO)
            .await
            .unwrap()
            .finish(Some(&headers));
        assert_eq!(gate.used(), 2395, "the server counts more: it is right");
        let start = Instant::now();
        headers.insert(BINANCE_USED_WEIGHT, "3".parse().unwrap());
        gate.acquire(Cost::weight(10), Duration::ZERO)
            .await
            .unwrap()
            .finish(Some(&headers));
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(60),
            "2395 + 10 > 2400: the next call waits for the minute to pass"
        );
        assert_eq!(gate.used(), 10, "a lower header lowers nothing");
    }

    /// The bounds of the host's wait after the `n`th refusal in a row
    /// (documented backoff: 0.5 s doubled per refusal up to 60 s, a random
    /// half dropped).
    fn refusal_wait_bounds(n: u32) -> (Duration, Duration) {
        let full = (500 * MS * 2u32.pow(n - 1)).min(Duration::from_secs(60));
        (full / 2, full)
    }

    fn assert_within(wait: Duration, (low, high): (Duration, Duration), what: &str) {
        assert!(
            low <= wait && wait <= high,
            "{what}: {wait:?} not in {low:?}..={high:?}"
        );
    }

    /// One call, through a gate of its own (as another symbol's fetcher
    /// would hold), that the host refuses without naming a wait; returns
    /// when it was sent.
    async fn refused_call(governor: &Arc<Governor>, host: Host) -> Instant {
        let permit = governor
            .gate(host)
            .acquire(Cost::weight(20), Duration::from_secs(120))
            .await
            .expect("the refusal backoff stays under the caller's patience");
        let sent = Instant::now();
        permit.rate_limited(None, None);
        sent
    }

    async fn served_call(governor: &Arc<Governor>, host: Host) -> Instant {
        let permit = governor
            .gate(host)
            .acquire(Cost::weight(20), Duration::from_secs(120))
            .await
            .unwrap();
        let sent = Instant::now();
        permit.served(None);
        sent
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_in_a_row_grow_the_wait_of_every_caller_of_the_host() {
        let governor = Governor::documented();
        let mut sent = Vec::new();
        for _ in 0..10 {
            sent.push(refused_call(&governor, Host::Hyperliquid).await);
        }
        let status = governor.status();
        assert_eq!(status.get(Host::Hyperliquid).phase, HostPhase::RateLimited);
        sent.push(served_call(&governor, Host::Hyperliquid).await);
        let gaps: Vec<Duration> = sent.windows(2).map(|w| w[1] - w[0]).collect();
        for (n, &gap) in (1..).zip(&gaps) {
            assert_within(gap, refusal_wait_bounds(n), &format!("after refusal {n}"));
        }
        // Below the cap each wait is at least the previous one's top.
        for n in 1..7 {
            assert!(gaps[n] >= gaps[n - 1], "{gaps:?}");
        }
        assert!(
            gaps[3] > 500 * MS,
            "no longer the 0.5 s of a fresh call: {gaps:?}"
        );
        assert!(
            gaps[7..].iter().all(|&gap| gap <= Duration::from_secs(60)),
            "capped: {gaps:?}"
        );
        assert_eq!(
            governor.status().get(Host::MexcSpot).phase,
            HostPhase::Open,
            "other hosts never waited"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_served_call_starts_the_refusal_backoff_over() {
        let governor = Governor::documented();
        for _ in 0..5 {
            refused_call(&governor, Host::Hyperliquid).await;
        }
        let served = served_call(&governor, Host::Hyperliquid).await;
        let refused = refused_call(&governor, Host::Hyperliquid).await;
        assert_eq!(refused, served, "nothing left to wait after a served call");
        let next = served_call(&governor, Host::Hyperliquid).await;
        assert_within(
            next - refused,
            refusal_wait_bounds(1),
            "first refusal again",
        );
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_when_the_host_starts_refusing_count_once() {
        let governor = Governor::documented();
        let gate = governor.gate(Host::Hyperliquid);
        let patience = Duration::from_secs(120);
        let mut in_flight = Vec::new();
        for _ in 0..4 {
            in_flight.push(gate.acquire(Cost::weight(20), patience).await.unwrap());
        }
        let start = Instant::now();
        let early = in_flight.remove(0);
        for permit in in_flight {
            permit.rate_limited(None, None);
        }
        // Served, but sent before the host started refusing: old news.
        early.served(None);
        let next = refused_call(&governor, Host::Hyperliquid).await;
        assert_within(
            next - start,
            refusal_wait_bounds(1),
            "three refusals at once",
        );
        let after = served_call(&governor, Host::Hyperliquid).await;
        assert_within(after - next, refusal_wait_bounds(2), "the second in a row");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_that_names_its_wait_is_obeyed_and_still_counts() {
        let governor = Governor::documented();
        let gate = governor.gate(Host::BinanceFutures);
        let patience = Duration::from_secs(120);
        let permit = gate.acquire(Cost::weight(10), patience).await.unwrap();
        let wait = permit.rate_limited(None, Some(Duration::from_secs(7)));
        assert_eq!(wait, Duration::from_secs(7));
        let start = Instant::now();
        let second = refused_call(&governor, Host::BinanceFutures).await;
        assert_eq!(
            second - start,
            Duration::from_secs(7),
            "Retry-After as asked"
        );
        let third = served_call(&governor, Host::BinanceFutures).await;
        assert_within(
            third - second,
            refusal_wait_bounds(2),
            "the second in a row",
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_call_costs_only_what_the_server_counts() {
        let governor = Governor::documented();
        let patience = Duration::from_secs(120);

        // Hyperliquid says nothing of its count: a refused call costs nothing.
        let hyperliquid = governor.gate(Host::Hyperliquid);
        for _ in 0..5 {
            refused_call(&governor, Host::Hyperliquid).await;
        }
        assert_eq!(hyperliquid.used(), 0, "five refusals spent nothing");
        assert_eq!(hyperliquid.charged(), 0);
        served_call(&governor, Host::Hyperliquid).await;
        assert_eq!(hyperliquid.used(), 20, "the served call alone");
        assert_eq!(hyperliquid.charged(), 20);

        // Binance's header on the refusal is the server's count.
        let binance = governor.gate(Host::BinanceFutures);
        let mut headers = HeaderMap::new();
        headers.insert(BINANCE_USED_WEIGHT, "2400".parse().unwrap());
        binance
            .acquire(Cost::weight(10), patience)
            .await
            .unwrap()
            .rate_limited(Some(&headers), Some(Duration::from_secs(1)));
        assert_eq!(binance.used(), 2400, "the server counted the whole minute");
        let spot = governor.gate(Host::BinanceSpot);
        spot.acquire(Cost::weight(10), patience)
            .await
            .unwrap()
            .rate_limited(None, Some(Duration::from_secs(1)));
        assert_eq!(spot.used(), 0, "no header: nothing counted");
        headers.insert(BINANCE_USED_WEIGHT, "0".parse().unwrap());
        tokio::time::advance(Duration::from_secs(1)).await;
        spot.acquire(Cost::weight(10), patience)
            .await
            .unwrap()
            .banned(Some(&headers), Duration::from_secs(1));
        assert_eq!(
            spot.used(),
            0,
            "a ban's refusal costs what the server says: 0"
        );
        assert_eq!(spot.charged(), 0);

        // A refused call on a lane leaves the lane's budget too.
        let mexc = governor.gate(Host::MexcFutures);
        let detail = Cost::on_lane(MEXC_CONTRACT_DETAIL, 1);
        mexc.acquire(detail, patience)
            .await
            .unwrap()
            .rate_limited(None, Some(Duration::ZERO));
        let start = Instant::now();
        call(&mexc, detail).await;
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "the refused detail call left its lane"
        );
    }
}
