//! The streams of one venue as one handle: [`spawn`] starts a supervisor
//! task that checks each subscription, spreads the keys over connections
//! (at most `StreamLimits::max_per_connection` each, e.g. Binance's 1024
//! streams) and runs one `connection` task per connection. Dropping the
//! handle stops everything; [`StreamHandle::stop`] also closes the sockets
//! cleanly and waits.

use super::connection::{Command, Connection};
use super::protocol::Protocol;
use super::stats::StreamCounts;
use super::stats::StreamStats;
use super::{StreamConfig, StreamEvent, StreamKey, Subscription, Venue};
use quantpro_model::Interval;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

enum SetCommand {
    Subscribe(Vec<Subscription>),
    Unsubscribe(Vec<(String, Interval)>),
    Stop,
}

/// The running streams of one venue.
pub struct StreamHandle {
    venue: Venue,
    commands: mpsc::UnboundedSender<SetCommand>,
    stats: Arc<StreamStats>,
    task: Option<JoinHandle<()>>,
}

/// Starts the streams of `config.venue` for `subscriptions`; events go to
/// `events` (a full channel slows the streams down, a closed one stops them).
/// Must be called within a tokio runtime.
pub(crate) fn spawn(
    config: StreamConfig,
    protocol: Box<dyn Protocol>,
    subscriptions: Vec<Subscription>,
    events: mpsc::Sender<StreamEvent>,
) -> StreamHandle {
    let (commands, receiver) = mpsc::unbounded_channel();
    let stats = Arc::new(StreamStats::default());
    let venue = config.venue;
    let supervisor = Supervisor {
        protocol: Arc::from(protocol),
        config: Arc::new(config),
        events,
        stats: stats.clone(),
        connections: Vec::new(),
        owner: HashMap::new(),
        tasks: JoinSet::new(),
    };
    if !subscriptions.is_empty() {
        let _ = commands.send(SetCommand::Subscribe(subscriptions));
    }
    StreamHandle {
        venue,
        commands,
        stats,
        task: Some(tokio::spawn(supervisor.run(receiver))),
    }
}

impl StreamHandle {
    pub fn venue(&self) -> Venue {
        self.venue
    }

    /// Adds subscriptions (already followed ones are ignored). Refused ones
    /// come back as [`StreamEvent::Rejected`].
    pub fn subscribe(&self, subscriptions: impl IntoIterator<Item = Subscription>) {
        let subscriptions: Vec<Subscription> = subscriptions.into_iter().collect();
        if !subscriptions.is_empty() {
            let _ = self.commands.send(SetCommand::Subscribe(subscriptions));
        }
    }

    /// Ends subscriptions (a delisted symbol, a smaller universe).
    pub fn unsubscribe<S: Into<String>>(&self, keys: impl IntoIterator<Item = (S, Interval)>) {
        let keys: Vec<(String, Interval)> = keys.into_iter().map(|(s, i)| (s.into(), i)).collect();
        if !keys.is_empty() {
            let _ = self.commands.send(SetCommand::Unsubscribe(keys));
        }
    }

    pub fn stats(&self) -> StreamCounts {
        self.stats.snapshot()
    }

    /// Closes every connection and waits for the tasks to end.
    pub async fn stop(mut self) {
        let _ = self.commands.send(SetCommand::Stop);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// One connection task and how many keys it carries.
struct Slot {
    commands: mpsc::UnboundedSender<Command>,
    keys: usize,
}

struct Supervisor {
    protocol: Arc<dyn Protocol>,
    config: Arc<StreamConfig>,
    events: mpsc::Sender<StreamEvent>,
    stats: Arc<StreamStats>,
    connections: Vec<Slot>,
    owner: HashMap<StreamKey, usize>,
    /// Dropped with the supervisor, which aborts the connections.
    tasks: JoinSet<()>,
}

impl Supervisor {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<SetCommand>) {
        loop {
            match commands.recv().await {
                None | Some(SetCommand::Stop) => break,
                Some(SetCommand::Subscribe(subscriptions)) => {
                    if !self.subscribe(subscriptions).await {
                        break;
                    }
                }
                Some(SetCommand::Unsubscribe(keys)) => self.unsubscribe(keys),
            }
        }
        for slot in &self.connections {
            let _ = slot.commands.send(Command::Stop);
        }
        while self.tasks.join_next().await.is_some() {}
    }

    fn key(&self, symbol: String, interval: Interval) -> StreamKey {
        StreamKey {
            venue: self.config.venue,
            symbol,
            interval,
        }
    }

    /// Why the venue cannot take this subscription, before asking it.
    fn refusal(&self, subscription: &Subscription) -> Option<String> {
        if let Err(why) = self.protocol.check_symbol(&subscription.symbol) {
            return Some(why.to_string());
        }
        let size_ok = subscription
            .contract_size
            .is_some_and(|s| s.is_finite() && s > 0.0);
        if self.protocol.volume_in_contracts() && !size_ok {
            return Some(format!(
                "no positive contract size for {} (contractSize of /api/v1/contract/detail): volumes would be in contracts",
                subscription.symbol
            ));
        }
        None
    }

    async fn subscribe(&mut self, subscriptions: Vec<Subscription>) -> bool {
        let mut batches: HashMap<usize, Vec<(StreamKey, Option<f64>)>> = HashMap::new();
        for subscription in subscriptions {
            let refusal = self.refusal(&subscription);
            let key = self.key(subscription.symbol, subscription.interval);
            if self.owner.contains_key(&key) {
                continue;
            }
            if let Some(reason) = refusal {
                tracing::warn!("[STREAM] subscription {key} refused: {reason}");
                self.stats.count(&self.stats.rejected);
                if self
                    .events
                    .send(StreamEvent::Rejected { key, reason })
                    .await
                    .is_err()
                {
                    return false;
                }
                continue;
            }
            let slot = self.slot_with_room();
            self.connections[slot].keys += 1;
            self.owner.insert(key.clone(), slot);
            batches
                .entry(slot)
                .or_default()
                .push((key, subscription.contract_size));
        }
        for (slot, keys) in batches {
            let _ = self.connections[slot]
                .commands
                .send(Command::Subscribe(keys));
        }
        true
    }

    fn unsubscribe(&mut self, keys: Vec<(String, Interval)>) {
        let mut batches: HashMap<usize, Vec<StreamKey>> = HashMap::new();
        for (symbol, interval) in keys {
            let key = self.key(symbol, interval);
            if let Some(slot) = self.owner.remove(&key) {
                self.connections[slot].keys -= 1;
                batches.entry(slot).or_default().push(key);
            }
        }
        for (slot, keys) in batches {
            let _ = self.connections[slot]
                .commands
                .send(Command::Unsubscribe(keys));
        }
    }

    /// A connection with room for one more key, started if need be.
    fn slot_with_room(&mut self) -> usize {
        let max = self.config.limits.max_per_connection.max(1);
        if let Some(slot) = self.connections.iter().position(|s| s.keys < max) {
            return slot;
        }
        let id = self.connections.len();
        let (commands, receiver) = mpsc::unbounded_channel();
        let connection = Connection::new(
            id,
            self.protocol.clone(),
            self.config.clone(),
            self.events.clone(),
            receiver,
            self.stats.clone(),
        );
        self.tasks.spawn(connection.run());
        self.connections.push(Slot { commands, keys: 0 });
        id
    }
}
