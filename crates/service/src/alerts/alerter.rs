//! The alerter: the one service (owned by the server's `AppState`) that
//! turns feed changes into delivered alerts. After each live rescan it
//! compares the feed with the one before ([`turned_signals`]), adds the
//! journal trades the rescan resolved ([`Rescan::resolved`]), lets the
//! engine decide (once, cooldown, hourly cap), records the decisions in the
//! [`AlertStore`] before sending (skipping what another process on the
//! same journal decided first), and hands each alert to its channels:
//! the `browser` channel is the dashboard's event stream
//! ([`Alerter::subscribe`]), every outside channel gets a task of its own
//! with a deadline, so a slow or failing channel never holds up another
//! one or the scan. A bounded log in memory ([`Alerter::log`]) shows each
//! alert with every channel's outcome (delivered, failed and why).
//! [`Alerter::restore`] also resumes, once per start, the deliveries a
//! stop cut short (an outside channel with no recorded outcome): the same
//! alert, same id, through the same channel, marked `resent` in the log.
//! [`Alerter::replace_settings`] puts rules saved from the dashboard in
//! force without a restart.

use super::channels::{build_channels, delivery_deadline, Channel, ChannelStatus};
use super::engine::{turned_signals, Alert, AlertEngine, AlertEvent, AlertKind};
use super::rules::{AlertSettings, BROWSER};
use super::store::{AlertStore, AlertStoreError, DeliveryRecord, UnfinishedAlert};
use crate::feed_store::{FeedSnapshot, FeedStore};
use crate::live::Rescan;
use crate::settings::Environment;
use quantpro_model::{Exchange, Signal, Strategy, Trade};
use quantpro_sources::clock::Clock;
use quantpro_sources::governor::Governor;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Entries the in-memory log keeps (the newest).
pub const LOG_CAPACITY: usize = 200;

/// How one channel's delivery of one alert stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered { at_ms: i64 },
    Failed { at_ms: i64, reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelDelivery {
    pub channel: String,
    #[serde(flatten)]
    pub state: DeliveryState,
    /// Sent again at this start: the process before stopped while this
    /// delivery was under way (the receiver may have it already).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resent: bool,
}

/// One alert in the log: time, rule, signal, channels and their outcomes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertLogEntry {
    pub id: String,
    pub at_ms: i64,
    pub rule: String,
    pub kind: AlertKind,
    pub title: String,
    pub exchange: Option<Exchange>,
    pub symbol: Option<String>,
    pub strategy: Option<Strategy>,
    pub link: Option<String>,
    /// Held back by the hourly cap: named in the summary, never sent.
    pub held: bool,
    pub deliveries: Vec<ChannelDelivery>,
}

/// `GET /api/alerts`: the log (newest first) and each channel's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertLogView {
    pub entries: Vec<AlertLogEntry>,
    pub channels: Vec<ChannelStatus>,
}

pub struct Alerter {
    engine: Mutex<AlertEngine>,
    channels: Mutex<BTreeMap<String, Arc<Channel>>>,
    /// Where channel secrets come from, and the request loop they share:
    /// kept to rebuild the channels when the settings change.
    env: Environment,
    governor: Arc<Governor>,
    store: Arc<dyn AlertStore>,
    entries: Arc<Mutex<VecDeque<AlertLogEntry>>>,
    browser: broadcast::Sender<Alert>,
    /// Every decided alert whose rule also trades (`execute`), sent or held
    /// by the hour's cap: the cap limits messages, not the owner's rules.
    orders: broadcast::Sender<Alert>,
    clock: Clock,
    deliveries: Mutex<Vec<JoinHandle<()>>>,
    /// The deliveries a stop cut short were resumed (once per start).
    resumed: AtomicBool,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Alerter {
    /// The alerter of `[alerts]`: channels with their secrets from `env`,
    /// sending through `governor`, deciding by `clock`. Knows nothing of
    /// the past until [`Alerter::restore`].
    pub fn new(
        settings: AlertSettings,
        env: &Environment,
        governor: &Arc<Governor>,
        store: Arc<dyn AlertStore>,
        clock: Clock,
    ) -> Alerter {
        let (browser, _) = broadcast::channel(64);
        let (orders, _) = broadcast::channel(64);
        Alerter {
            channels: Mutex::new(channel_map(&settings, env, governor)),
            engine: Mutex::new(AlertEngine::new(settings, Vec::new())),
            env: env.clone(),
            governor: governor.clone(),
            store,
            entries: Arc::new(Mutex::new(VecDeque::new())),
            browser,
            orders,
            clock,
            deliveries: Mutex::new(Vec::new()),
            resumed: AtomicBool::new(false),
        }
    }

    /// Loads what was decided before (the cooldown's and the cap's span)
    /// so that nothing is sent twice; returns how many decisions. The
    /// first call also resumes the deliveries of that span a stop cut
    /// short ([`Alerter::settled`] waits for them too).
    pub async fn restore(&self) -> Result<usize, AlertStoreError> {
        let since = {
            let engine = locked(&self.engine);
            self.clock.now_ms() - engine.memory_ms()
        };
        let past = self.store.past_decisions(since).await?;
        let count = past.len();
        {
            let mut engine = locked(&self.engine);
            let settings = engine.settings().clone();
            *engine = AlertEngine::new(settings, past);
        }
        if !self.resumed.swap(true, Ordering::SeqCst) {
            match self.store.unfinished(since).await {
                Ok(unfinished) => {
                    for alert in &unfinished {
                        self.resume(alert);
                    }
                }
                Err(err) => {
                    self.resumed.store(false, Ordering::SeqCst);
                    tracing::warn!("[ALERTS] {err}; deliveries a stop cut short are not resumed");
                }
            }
        }
        Ok(count)
    }

    /// Sends `unfinished` again to its outside channels without a recorded
    /// outcome; the log shows the recorded outcomes beside them.
    fn resume(&self, unfinished: &UnfinishedAlert) {
        let alert = &unfinished.alert;
        let pending: Vec<String> = alert
            .channels
            .iter()
            .filter(|c| *c != BROWSER && !unfinished.ended.iter().any(|d| &d.channel == *c))
            .cloned()
            .collect();
        if pending.is_empty() {
            return;
        }
        let configured = locked(&self.channels).clone();
        let deliveries = alert
            .channels
            .iter()
            .filter(|c| *c != BROWSER)
            .map(|channel| {
                let ended = unfinished.ended.iter().find(|d| &d.channel == channel);
                ChannelDelivery {
                    channel: channel.clone(),
                    state: ended.map_or(DeliveryState::Pending, recorded_state),
                    resent: ended.is_none() && configured.contains_key(channel),
                }
            })
            .collect();
        self.push_entry(entry(alert, false, deliveries));
        tracing::info!(
            "[ALERTS] {} ({}): resending to {} after a restart",
            alert.title,
            alert.rule,
            pending.join(", ")
        );
        self.start_deliveries(alert, &pending);
    }

    /// Puts `settings` (validated: `SettingsStore::save_alerts`) in force:
    /// the next events meet the new rules, limits and channels. What was
    /// decided before still counts (once, cooldown, cap); the channels are
    /// built anew (their failure states start over), and deliveries under
    /// way end on the channels they started on.
    pub fn replace_settings(&self, settings: AlertSettings) {
        let channels = channel_map(&settings, &self.env, &self.governor);
        *locked(&self.channels) = channels;
        locked(&self.engine).replace_settings(settings);
        tracing::info!("[ALERTS] new rules in force");
    }

    /// The rules, limits and channels in force.
    pub fn settings(&self) -> AlertSettings {
        locked(&self.engine).settings().clone()
    }

    /// The alerts as the dashboards receive them (the `browser` channel).
    pub fn subscribe(&self) -> broadcast::Receiver<Alert> {
        self.browser.subscribe()
    }

    /// The alerts whose rule also places the signal's bracket (`execute`).
    pub fn subscribe_orders(&self) -> broadcast::Receiver<Alert> {
        self.orders.subscribe()
    }

    /// The log, newest first, and every channel's state.
    pub fn log(&self) -> AlertLogView {
        AlertLogView {
            entries: locked(&self.entries).iter().rev().cloned().collect(),
            channels: locked(&self.channels)
                .values()
                .map(|c| c.status())
                .collect(),
        }
    }

    /// Waits until every delivery started so far has ended.
    pub async fn settled(&self) {
        loop {
            let pending: Vec<JoinHandle<()>> = std::mem::take(&mut *locked(&self.deliveries));
            if pending.is_empty() {
                return;
            }
            for handle in pending {
                let _ = handle.await;
            }
        }
    }

    /// The alerts a feed change fires (`before` -> `after`).
    pub async fn on_feed_change(&self, before: &[Signal], after: &[Signal]) -> Vec<Alert> {
        self.on_rescan(before, after, &[]).await
    }

    /// Decides on `events`, records the decisions, and starts the
    /// deliveries of what fires; returns the alerts sent.
    pub async fn fire(&self, events: &[AlertEvent]) -> Vec<Alert> {
        if events.is_empty() {
            return Vec::new();
        }
        let now_ms = self.clock.now_ms();
        let mut decided = locked(&self.engine).decide(events, now_ms);
        match self
            .store
            .record_decisions(&decided.decisions, &decided.alerts)
            .await
        {
            Ok(known) if !known.is_empty() => {
                // Another process on the same journal decided these first: its alerts.
                tracing::info!(
                    "[ALERTS] {} alerts already decided by another process: not sent here",
                    known.len()
                );
                decided.alerts.retain(|a| !known.contains(&a.id));
                decided.held.retain(|a| !known.contains(&a.id));
            }
            Ok(_) => {}
            // Sending matters more than remembering: a restart may repeat these.
            Err(err) => {
                tracing::warn!("[ALERTS] {err}; these alerts may be sent again after a restart")
            }
        }
        for alert in decided.alerts.iter().chain(&decided.held) {
            if alert.execute.is_some() {
                let _ = self.orders.send(alert.clone());
            }
        }
        for alert in &decided.held {
            self.push_entry(entry(alert, true, Vec::new()));
        }
        for alert in &decided.alerts {
            self.deliver(alert);
        }
        decided.alerts
    }

    fn push_entry(&self, entry: AlertLogEntry) {
        let mut entries = locked(&self.entries);
        entries.push_back(entry);
        while entries.len() > LOG_CAPACITY {
            entries.pop_front();
        }
    }

    fn deliver(&self, alert: &Alert) {
        let now_ms = self.clock.now_ms();
        let deliveries = alert
            .channels
            .iter()
            .map(|channel| ChannelDelivery {
                channel: channel.clone(),
                state: if channel == BROWSER {
                    self.to_browser(alert, now_ms)
                } else {
                    DeliveryState::Pending
                },
                resent: false,
            })
            .collect();
        self.push_entry(entry(alert, false, deliveries));
        tracing::info!("[ALERTS] {} ({})", alert.title, alert.rule);
        let outside: Vec<String> = alert
            .channels
            .iter()
            .filter(|c| *c != BROWSER)
            .cloned()
            .collect();
        self.start_deliveries(alert, &outside);
    }

    /// A task per channel of `names` sending `alert` (a channel no longer
    /// configured fails at once, with that reason).
    fn start_deliveries(&self, alert: &Alert, names: &[String]) {
        let deadline = delivery_deadline(locked(&self.engine).settings());
        for name in names {
            let task = Delivery {
                name: name.clone(),
                channel: locked(&self.channels).get(name).cloned(),
                alert: alert.clone(),
                store: self.store.clone(),
                entries: self.entries.clone(),
                clock: self.clock,
                deadline,
            };
            let mut deliveries = locked(&self.deliveries);
            // Only the running ones matter (to `settled`).
            deliveries.retain(|handle| !handle.is_finished());
            deliveries.push(tokio::spawn(task.run()));
        }
    }

    /// The browser channel: every open dashboard's event stream.
    fn to_browser(&self, alert: &Alert, now_ms: i64) -> DeliveryState {
        match self.browser.send(alert.clone()) {
            Ok(_) => DeliveryState::Delivered { at_ms: now_ms },
            Err(_) => DeliveryState::Failed {
                at_ms: now_ms,
                reason: "no dashboard was open".into(),
            },
        }
    }

    /// The alerts of one rescan: the signals that turned between `before`
    /// and `after`, and the journal trades it resolved.
    pub async fn on_rescan(
        &self,
        before: &[Signal],
        after: &[Signal],
        resolved: &[Trade],
    ) -> Vec<Alert> {
        let mut events = turned_signals(before, after);
        events.extend(resolved.iter().map(|trade| AlertEvent::Resolved {
            trade: trade.clone(),
        }));
        self.fire(&events).await
    }

    /// Follows the live loop's feed changes until they end: each rescan's
    /// feed is compared with the one before it, and the trades it resolved
    /// are passed on. Without a feed at start, the first one is the
    /// baseline (a first scan is not a change).
    pub async fn follow(
        self: Arc<Self>,
        feed: Arc<FeedStore>,
        mut changes: broadcast::Receiver<Rescan>,
    ) {
        if let Err(err) = self.restore().await {
            tracing::warn!("[ALERTS] {err}; alerts sent before the restart may be sent again");
        }
        let mut before: Option<Arc<FeedSnapshot>> = feed.load().await.ok();
        loop {
            let resolved = match changes.recv().await {
                Ok(rescan) => rescan.resolved,
                // Missed some: the comparison of feeds catches up all the
                // same; the resolutions of the missed ones are not alerted.
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        "[ALERTS] {missed} rescans missed: their resolutions are not alerted"
                    );
                    Vec::new()
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let after = match feed.load().await {
                Ok(after) => after,
                Err(err) => {
                    tracing::warn!("[ALERTS] {err}");
                    continue;
                }
            };
            let before_signals = before
                .as_ref()
                .map_or(&after.feed.signals, |b| &b.feed.signals);
            self.on_rescan(before_signals, &after.feed.signals, &resolved)
                .await;
            before = Some(after);
        }
    }
}

fn channel_map(
    settings: &AlertSettings,
    env: &Environment,
    governor: &Arc<Governor>,
) -> BTreeMap<String, Arc<Channel>> {
    build_channels(settings, env, governor)
        .into_iter()
        .map(|c| (c.name().to_string(), c))
        .collect()
}

fn entry(alert: &Alert, held: bool, deliveries: Vec<ChannelDelivery>) -> AlertLogEntry {
    AlertLogEntry {
        id: alert.id.clone(),
        at_ms: alert.created_ms,
        rule: alert.rule.clone(),
        kind: alert.kind,
        title: alert.title.clone(),
        exchange: alert.exchange,
        symbol: alert.symbol.clone(),
        strategy: alert.strategy,
        link: alert.link.clone(),
        held,
        deliveries,
    }
}

/// Puts the outcome of one channel's delivery in the log (a failure's
/// reason is text: the log shows it, the store keeps it).
fn settle_entry(
    entries: &Mutex<VecDeque<AlertLogEntry>>,
    id: &str,
    channel: &str,
    state: DeliveryState,
) {
    let mut entries = locked(entries);
    let Some(delivery) = entries
        .iter_mut()
        .rev()
        .find(|e| e.id == id)
        .and_then(|e| e.deliveries.iter_mut().find(|d| d.channel == channel))
    else {
        return;
    };
    delivery.state = state;
}

/// The log's state of a recorded outcome.
fn recorded_state(record: &DeliveryRecord) -> DeliveryState {
    if record.delivered {
        DeliveryState::Delivered {
            at_ms: record.at_ms,
        }
    } else {
        DeliveryState::Failed {
            at_ms: record.at_ms,
            reason: record.reason.clone().unwrap_or_default(),
        }
    }
}

/// One alert to one outside channel, as a task of its own.
struct Delivery {
    name: String,
    /// None: no channel of that name is configured (any more).
    channel: Option<Arc<Channel>>,
    alert: Alert,
    store: Arc<dyn AlertStore>,
    entries: Arc<Mutex<VecDeque<AlertLogEntry>>>,
    clock: Clock,
    deadline: Duration,
}

impl Delivery {
    async fn run(self) {
        let name = self.name;
        let outcome = match &self.channel {
            Some(channel) => channel
                .send(&self.alert, self.deadline)
                .await
                .map_err(|err| err.to_string()),
            // Validation names every channel of a rule; one missing here
            // was decided under settings since replaced.
            None => Err(format!("no channel named {name:?} in the configuration")),
        };
        let at_ms = self.clock.now_ms();
        let reason = match outcome {
            Ok(()) => {
                tracing::info!("[ALERTS] {name}: delivered {}", self.alert.id);
                None
            }
            Err(err) => {
                tracing::warn!("[ALERTS] {name}: {} failed: {err}", self.alert.id);
                Some(err)
            }
        };
        let state = match &reason {
            None => DeliveryState::Delivered { at_ms },
            Some(reason) => DeliveryState::Failed {
                at_ms,
                reason: reason.clone(),
            },
        };
        settle_entry(&self.entries, &self.alert.id, &name, state);
        let record = DeliveryRecord {
            id: self.alert.id.clone(),
            channel: name,
            at_ms,
            delivered: reason.is_none(),
            reason,
        };
        if let Err(err) = self.store.record_delivery(&record).await {
            tracing::warn!("[ALERTS] {err}");
        }
    }
}
