//! Which alerts go out, once and calmly. Events (a signal turning LONG or
//! SHORT at a close, a journal trade resolving) meet the rules; what
//! matches fires at most once per (rule, symbol, exchange, strategy,
//! candle), at most once per cooldown per (rule, symbol, exchange,
//! strategy), and at most `max_per_hour` times an hour over all rules: the
//! rest of an hour are summarised in one message. The decisions are
//! recorded (the journal keeps them), so a restart sends nothing twice.

use super::rules::{AlertRule, AlertSettings, AutoExecute, Trigger};
use quantpro_model::{canonical_symbol, format, Action, Exchange, Side, Signal, Strategy, Trade};
use serde::{Deserialize, Serialize};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Something that may deserve an alert.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertEvent {
    /// `signal` acts (LONG/SHORT) at its close; before it, the same key's
    /// action was `from`. `rank` is its place in the table by score (1 = best).
    Turned {
        signal: Box<Signal>,
        from: Action,
        rank: usize,
    },
    /// An open trade resolved.
    Resolved { trade: Trade },
    /// A bracket QuantPro placed changed state (`execution::alert_event`).
    Executed(Box<ExecutionEvent>),
}

/// What an alert says of a bracket that changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionEvent {
    pub exchange: Exchange,
    pub symbol: String,
    pub strategy: Strategy,
    /// The bracket's origin: with `state`, what fires once.
    pub origin: String,
    /// `open`, `closed`, `refused`...
    pub state: String,
    pub title: String,
    pub lines: Vec<String>,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Signal,
    Resolution,
    Execution,
    /// The alerts an hour's cap held back, in one message.
    Summary,
}

/// One alert, as every channel words it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// `rule|EXCHANGE|SYMBOL|Strategy|candle|kind`: what fires once.
    pub id: String,
    pub rule: String,
    pub kind: AlertKind,
    pub exchange: Option<Exchange>,
    pub symbol: Option<String>,
    pub strategy: Option<Strategy>,
    /// Open time of the candle it is about (the signal's, or the resolution candle).
    pub candle_ms: i64,
    pub title: String,
    pub lines: Vec<String>,
    /// The trade it is about: side, score, entry/SL/TP/RR.
    pub setup: Option<AlertSetup>,
    /// The signal's share page.
    pub link: Option<String>,
    pub channels: Vec<String>,
    pub created_ms: i64,
    /// The rule also trades this signal (`execute` of the rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execute: Option<AutoExecute>,
}

/// The numbers of the signal or trade an alert is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSetup {
    pub side: Side,
    /// The signal's total score (0-100).
    pub score: f64,
    pub entry: f64,
    pub sl: f64,
    pub tp: f64,
    /// Reward over risk (STRATEGIES.md, the setup).
    pub rr: f64,
}

impl Alert {
    /// The message as plain text: title, lines, link (Telegram, Discord).
    pub fn text(&self) -> String {
        let mut text = self.title.clone();
        for line in &self.lines {
            text.push('\n');
            text.push_str(line);
        }
        if let Some(link) = &self.link {
            text.push('\n');
            text.push_str(link);
        }
        text
    }
}

/// What one [`AlertEngine::decide`] found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decided {
    /// To send now (a summary last when the cap held some back).
    pub alerts: Vec<Alert>,
    /// Held back by the hourly cap (named in the summary, never sent).
    pub held: Vec<Alert>,
    /// To record, so that nothing is decided twice (restarts included).
    pub decisions: Vec<Decision>,
}

/// What the log keeps of each decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub id: String,
    /// `rule|EXCHANGE|SYMBOL|Strategy`: the cooldown's key.
    pub key: String,
    pub at_ms: i64,
    /// False when the hour's cap held it back (summarised instead).
    pub sent: bool,
}

pub struct AlertEngine {
    settings: AlertSettings,
    past: Vec<Decision>,
}

impl AlertEngine {
    /// An engine that knows what was decided before (from the journal).
    pub fn new(settings: AlertSettings, past: Vec<Decision>) -> AlertEngine {
        AlertEngine { settings, past }
    }

    pub fn settings(&self) -> &AlertSettings {
        &self.settings
    }

    /// New rules and limits; what was decided before still counts.
    pub fn replace_settings(&mut self, settings: AlertSettings) {
        self.settings = settings;
    }

    /// How far back decisions matter: the cooldown or the cap's hour,
    /// whichever is longer (a restart loads this much of the log).
    pub fn memory_ms(&self) -> i64 {
        (self.settings.cooldown_minutes as i64 * 60_000).max(HOUR_MS)
    }

    /// The alerts `events` fire at `now_ms`, those the cap holds back, and
    /// the decisions to record.
    pub fn decide(&mut self, events: &[AlertEvent], now_ms: i64) -> Decided {
        let cooldown_ms = self.settings.cooldown_minutes as i64 * 60_000;
        // Older decisions can no longer hold anything back: an id names a
        // candle, and an old candle does not come back as a new event.
        let horizon = now_ms - self.memory_ms() - DAY_MS;
        self.past.retain(|d| d.at_ms >= horizon);
        let mut decided = Decided::default();
        for event in events {
            for rule in self.settings.rules.iter().filter(|r| matches(r, event)) {
                let alert = self.word(rule, event, now_ms);
                let key = cooldown_key(&alert);
                let already =
                    self.past.iter().chain(&decided.decisions).any(|d| {
                        d.id == alert.id || (d.key == key && now_ms - d.at_ms < cooldown_ms)
                    });
                if already {
                    continue;
                }
                let sent_this_hour = self
                    .past
                    .iter()
                    .chain(&decided.decisions)
                    .filter(|d| d.sent && now_ms - d.at_ms < HOUR_MS)
                    .count();
                let sent = sent_this_hour < self.settings.max_per_hour;
                decided.decisions.push(Decision {
                    id: alert.id.clone(),
                    key,
                    at_ms: now_ms,
                    sent,
                });
                if sent {
                    decided.alerts.push(alert);
                } else {
                    decided.held.push(alert);
                }
            }
        }
        if let Some(summary) = self.summary(&decided.held, now_ms) {
            decided.decisions.push(Decision {
                id: summary.id.clone(),
                key: summary.id.clone(),
                at_ms: now_ms,
                sent: true,
            });
            decided.alerts.push(summary);
        }
        self.past.extend(decided.decisions.iter().cloned());
        decided
    }

    /// One message for what the cap held back, at most one an hour.
    fn summary(&self, held: &[Alert], now_ms: i64) -> Option<Alert> {
        if held.is_empty() {
            return None;
        }
        let summarised_this_hour = self
            .past
            .iter()
            .any(|d| d.id.starts_with("summary|") && now_ms - d.at_ms < HOUR_MS);
        if summarised_this_hour {
            return None;
        }
        let mut channels: Vec<String> = held.iter().flat_map(|a| a.channels.clone()).collect();
        channels.sort();
        channels.dedup();
        let mut lines: Vec<String> = held.iter().take(10).map(|a| a.title.clone()).collect();
        if held.len() > 10 {
            lines.push(format!("and {} more (see the alert log)", held.len() - 10));
        }
        Some(Alert {
            id: format!("summary|{now_ms}"),
            rule: "rate cap".into(),
            kind: AlertKind::Summary,
            exchange: None,
            symbol: None,
            strategy: None,
            candle_ms: now_ms,
            title: format!(
                "{} more alerts held back (at most {} an hour)",
                held.len(),
                self.settings.max_per_hour
            ),
            lines,
            setup: None,
            link: Some(self.settings.public_url.trim_end_matches('/').to_string() + "/"),
            channels,
            created_ms: now_ms,
            execute: None,
        })
    }

    fn word(&self, rule: &AlertRule, event: &AlertEvent, now_ms: i64) -> Alert {
        let base = self.settings.public_url.trim_end_matches('/');
        match event {
            AlertEvent::Turned { signal, .. } => {
                let mut lines = vec![format!("score {:.1}", signal.score)];
                if let Some(setup) = &signal.setup {
                    lines.push(format!(
                        "entry {} · SL {} · TP {} · RR {:.2}",
                        format::price(setup.entry),
                        format::price(setup.sl),
                        format::price(setup.tp),
                        setup.rr
                    ));
                }
                let candle_ms = signal.ltf.last_candle_time.unwrap_or(0);
                Alert {
                    id: alert_id(
                        &rule.name,
                        signal.exchange,
                        &signal.symbol,
                        signal.strategy,
                        candle_ms,
                        "signal",
                    ),
                    rule: rule.name.clone(),
                    kind: AlertKind::Signal,
                    exchange: Some(signal.exchange),
                    symbol: Some(signal.symbol.clone()),
                    strategy: Some(signal.strategy),
                    candle_ms,
                    title: format!(
                        "{} {} · {} · {}",
                        signal.symbol, signal.action, signal.strategy, signal.exchange
                    ),
                    lines,
                    setup: signal.setup.as_ref().map(|setup| AlertSetup {
                        side: setup.side,
                        score: signal.score,
                        entry: setup.entry,
                        sl: setup.sl,
                        tp: setup.tp,
                        rr: setup.rr,
                    }),
                    link: Some(share_link(
                        base,
                        signal.exchange,
                        &signal.symbol,
                        signal.strategy,
                    )),
                    channels: rule.channels.clone(),
                    created_ms: now_ms,
                    execute: rule.execute,
                }
            }
            AlertEvent::Resolved { trade } => {
                let candle_ms = trade.closed_at.unwrap_or(0);
                let how = match trade.outcome {
                    quantpro_model::Outcome::Win => "target hit",
                    quantpro_model::Outcome::Loss => "stop hit",
                    quantpro_model::Outcome::Expired => "expired",
                    quantpro_model::Outcome::Open => "open",
                };
                Alert {
                    id: alert_id(
                        &rule.name,
                        trade.exchange,
                        &trade.symbol,
                        trade.strategy,
                        candle_ms,
                        "resolution",
                    ),
                    rule: rule.name.clone(),
                    kind: AlertKind::Resolution,
                    exchange: Some(trade.exchange),
                    symbol: Some(trade.symbol.clone()),
                    strategy: Some(trade.strategy),
                    candle_ms,
                    title: format!(
                        "{} {} {} · {}: {how} ({} R)",
                        trade.symbol,
                        trade.side,
                        trade.strategy,
                        trade.exchange,
                        format::signed(trade.r, 2)
                    ),
                    lines: vec![format!(
                        "opened {} at {} · SL {} · TP {} · after {} candles",
                        format::utc_datetime(trade.opened_at),
                        format::price(trade.entry),
                        format::price(trade.sl),
                        format::price(trade.tp),
                        trade.bars.unwrap_or(0)
                    )],
                    setup: Some(AlertSetup {
                        side: trade.side,
                        score: trade.score,
                        entry: trade.entry,
                        sl: trade.sl,
                        tp: trade.tp,
                        rr: trade.rr,
                    }),
                    link: Some(share_link(
                        base,
                        trade.exchange,
                        &trade.symbol,
                        trade.strategy,
                    )),
                    channels: rule.channels.clone(),
                    created_ms: now_ms,
                    execute: None,
                }
            }
            AlertEvent::Executed(event) => Alert {
                id: format!("{}|{}|{}", rule.name, event.origin, event.state),
                rule: rule.name.clone(),
                kind: AlertKind::Execution,
                exchange: Some(event.exchange),
                symbol: Some(event.symbol.clone()),
                strategy: Some(event.strategy),
                candle_ms: event.at_ms,
                title: event.title.clone(),
                lines: event.lines.clone(),
                setup: None,
                link: Some(format!("{base}/positions")),
                channels: rule.channels.clone(),
                created_ms: now_ms,
                execute: None,
            },
        }
    }
}

fn alert_id(
    rule: &str,
    exchange: Exchange,
    symbol: &str,
    strategy: Strategy,
    candle_ms: i64,
    kind: &str,
) -> String {
    format!("{rule}|{exchange}|{symbol}|{strategy}|{candle_ms}|{kind}")
}

fn cooldown_key(alert: &Alert) -> String {
    // Every change of the owner's own bracket is sent (a stop-out right
    // after the fill is not "the same alert again").
    if alert.kind == AlertKind::Execution {
        return alert.id.clone();
    }
    match (&alert.exchange, &alert.symbol, &alert.strategy) {
        (Some(e), Some(s), Some(st)) => format!("{}|{e}|{s}|{st}", alert.rule),
        _ => alert.id.clone(),
    }
}

/// The share page of a signal.
pub fn share_link(base: &str, exchange: Exchange, symbol: &str, strategy: Strategy) -> String {
    format!("{base}/signal/{exchange}/{symbol}/{strategy}")
}

/// Whether `rule` fires for `event`.
fn matches(rule: &AlertRule, event: &AlertEvent) -> bool {
    let (trigger, exchange, symbol, strategy) = match event {
        AlertEvent::Turned { signal, .. } => (
            Trigger::Signal,
            signal.exchange,
            &signal.symbol,
            signal.strategy,
        ),
        AlertEvent::Resolved { trade } => (
            Trigger::Resolution,
            trade.exchange,
            &trade.symbol,
            trade.strategy,
        ),
        AlertEvent::Executed(event) => (
            Trigger::Execution,
            event.exchange,
            &event.symbol,
            event.strategy,
        ),
    };
    let listed = |wanted: &[String]| {
        wanted.is_empty()
            || wanted.iter().any(|w| {
                w.eq_ignore_ascii_case(symbol) || w.eq_ignore_ascii_case(&canonical_symbol(symbol))
            })
    };
    // A rule that trades (`execute`) also hears of the orders.
    let hears =
        rule.on.contains(&trigger) || (trigger == Trigger::Execution && rule.execute.is_some());
    if !hears
        || !(rule.exchanges.is_empty() || rule.exchanges.contains(&exchange))
        || !(rule.strategies.is_empty() || rule.strategies.contains(&strategy))
        || !listed(&rule.symbols)
    {
        return false;
    }
    match event {
        AlertEvent::Turned { signal, rank, .. } => {
            let rr = signal.setup.as_ref().map(|s| s.rr);
            rule.min_score.is_none_or(|m| signal.score >= m)
                && rule.min_rr.is_none_or(|m| rr.is_some_and(|rr| rr >= m))
                && rule.top_n.is_none_or(|n| *rank <= n)
                && rule.min_p_win.is_none_or(|m| {
                    // A model without skill never filters (docs/QUALITY.md).
                    signal
                        .quality
                        .as_ref()
                        .filter(|q| q.has_skill())
                        .is_none_or(|q| q.p_win >= m)
                })
        }
        AlertEvent::Resolved { trade } => rule.min_score.is_none_or(|m| trade.score >= m),
        // The owner's own orders: every change is news.
        AlertEvent::Executed(_) => true,
    }
}

/// The events of a rescan: every signal of `after` that acts at a newer
/// candle than its twin in `before` (or has none) and did not act the same
/// way there. `rank` comes from `after` ordered by score.
pub fn turned_signals(before: &[Signal], after: &[Signal]) -> Vec<AlertEvent> {
    let mut ranked: Vec<&Signal> = after.iter().collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    ranked
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.action, Action::Long | Action::Short))
        .filter_map(|(i, signal)| {
            let twin = before.iter().find(|b| {
                b.exchange == signal.exchange
                    && b.symbol == signal.symbol
                    && b.strategy == signal.strategy
            });
            let from = twin.map_or(Action::Wait, |b| b.action);
            let newer = twin.is_none_or(|b| b.ltf.last_candle_time < signal.ltf.last_candle_time);
            (newer && from != signal.action).then(|| AlertEvent::Turned {
                signal: Box::new((*signal).clone()),
                from,
                rank: i + 1,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::{AlertRule, Trigger};
    use quantpro_model::fixtures::sample_signal;

    fn settings(rules: Vec<AlertRule>) -> AlertSettings {
        AlertSettings {
            rules,
            max_per_hour: 3,
            cooldown_minutes: 240,
            ..AlertSettings::default()
        }
    }

    fn rule(name: &str) -> AlertRule {
        AlertRule {
            name: name.into(),
            ..AlertRule::default()
        }
    }

    fn acting(symbol: &str, candle: i64, action: Action) -> Signal {
        let mut s = sample_signal(symbol, Strategy::Breakout);
        s.action = action;
        s.ltf.last_candle_time = Some(candle);
        s
    }

    #[test]
    fn a_signal_that_turns_fires_once_and_not_again_within_the_cooldown() {
        let before = vec![acting("BTCUSDT", 0, Action::Wait)];
        let after = vec![acting("BTCUSDT", 900_000, Action::Long)];
        let events = turned_signals(&before, &after);
        assert_eq!(events.len(), 1);
        let mut engine = AlertEngine::new(settings(vec![rule("all")]), vec![]);
        let Decided {
            alerts, decisions, ..
        } = engine.decide(&events, 1_000_000);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].setup.as_ref().unwrap().rr, 2.445);
        let text = alerts[0].text();
        assert!(
            text.contains("entry 64080.50 · SL 63500.00 · TP 65500.00 · RR 2.44"),
            "{text}"
        );
        assert!(
            alerts[0].title.starts_with("BTCUSDT LONG · Breakout"),
            "{}",
            alerts[0].title
        );
        assert!(alerts[0]
            .link
            .as_deref()
            .unwrap()
            .ends_with("/signal/BINANCE/BTCUSDT/Breakout"));
        assert_eq!(
            engine.decide(&events, 1_000_001).alerts,
            vec![],
            "the same candle fires once"
        );

        // A restart that knows the decisions sends nothing again.
        let mut restarted = AlertEngine::new(settings(vec![rule("all")]), decisions);
        assert!(restarted.decide(&events, 1_000_002).alerts.is_empty());

        // The next act of the same key inside the cooldown is quiet, after it not.
        let later = turned_signals(
            &[acting("BTCUSDT", 900_000, Action::Wait)],
            &[acting("BTCUSDT", 1_800_000, Action::Short)],
        );
        assert!(engine
            .decide(&later, 1_000_000 + 3_600_000)
            .alerts
            .is_empty());
        assert_eq!(
            engine
                .decide(&later, 1_000_000 + 4 * 3_600_000)
                .alerts
                .len(),
            1
        );
    }

    #[test]
    fn an_unchanged_or_repeated_action_is_not_an_event() {
        let long = acting("BTCUSDT", 0, Action::Long);
        let same = std::slice::from_ref(&long);
        assert!(turned_signals(same, same).is_empty());
        let next = acting("BTCUSDT", 900_000, Action::Long);
        assert!(
            turned_signals(&[long], &[next]).is_empty(),
            "still LONG is not a turn"
        );
    }

    #[test]
    fn filters_narrow_what_fires() {
        let signal = acting("ETHUSDT", 900_000, Action::Short);
        let events = turned_signals(&[], std::slice::from_ref(&signal));
        let narrow = AlertRule {
            min_score: Some(signal.score + 1.0),
            ..rule("strong")
        };
        let other = AlertRule {
            strategies: vec![Strategy::Legacy],
            ..rule("legacy")
        };
        let resolutions = AlertRule {
            on: vec![Trigger::Resolution],
            ..rule("outcomes")
        };
        let by_base = AlertRule {
            symbols: vec!["eth".into()],
            top_n: Some(1),
            ..rule("eth")
        };
        let mut engine =
            AlertEngine::new(settings(vec![narrow, other, resolutions, by_base]), vec![]);
        let alerts = engine.decide(&events, 0).alerts;
        assert_eq!(
            alerts.iter().map(|a| a.rule.as_str()).collect::<Vec<_>>(),
            ["eth"]
        );
    }

    #[test]
    fn a_storm_is_capped_and_the_rest_summarised_once() {
        let after: Vec<Signal> = (0..8)
            .map(|i| acting(&format!("S{i}USDT"), 900_000, Action::Long))
            .collect();
        let events = turned_signals(&[], &after);
        let mut engine = AlertEngine::new(settings(vec![rule("all")]), vec![]);
        let Decided {
            alerts,
            held,
            decisions,
        } = engine.decide(&events, 0);
        assert_eq!(alerts.len(), 4, "three alerts and one summary");
        assert_eq!(held.len(), 5);
        let summary = alerts.last().unwrap();
        assert_eq!(summary.kind, AlertKind::Summary);
        assert_eq!(summary.title, "5 more alerts held back (at most 3 an hour)");
        assert_eq!(decisions.iter().filter(|d| !d.sent).count(), 5);
        let more: Vec<Signal> = (8..12)
            .map(|i| acting(&format!("S{i}USDT"), 1_800_000, Action::Long))
            .collect();
        let alerts = engine.decide(&turned_signals(&[], &more), 60_000).alerts;
        assert!(
            alerts.is_empty(),
            "the hour's cap and summary are spent: {alerts:?}"
        );
        let next_hour = engine
            .decide(&turned_signals(&[], &more), 60_000 + 3_600_000)
            .alerts;
        assert!(next_hour.is_empty(), "what was held back is not sent later");
    }

    fn executed(state: &str) -> AlertEvent {
        AlertEvent::Executed(Box::new(ExecutionEvent {
            exchange: Exchange::Binance,
            symbol: "BTCUSDT".into(),
            strategy: Strategy::Legacy,
            origin: "BINANCE|BTCUSDT|Legacy|0|1".into(),
            state: state.into(),
            title: format!("PAPER BTCUSDT LONG · Legacy · BINANCE: {state}"),
            lines: vec![],
            at_ms: 0,
        }))
    }

    #[test]
    fn each_change_of_a_bracket_fires_once_for_a_rule_on_execution() {
        let on_execution = AlertRule {
            on: vec![Trigger::Execution],
            ..rule("orders")
        };
        let mut engine = AlertEngine::new(settings(vec![on_execution, rule("signals")]), vec![]);
        let filled = engine.decide(&[executed("open")], 1_000);
        assert_eq!(filled.alerts.len(), 1, "only the rule on execution");
        assert_eq!(filled.alerts[0].kind, AlertKind::Execution);
        assert!(filled.alerts[0]
            .link
            .as_deref()
            .unwrap()
            .ends_with("/positions"));
        // The stop-out a minute later is news, not a repeat within the cooldown.
        let closed = engine.decide(&[executed("closed")], 61_000);
        assert_eq!(closed.alerts.len(), 1);
        assert!(
            engine
                .decide(&[executed("closed")], 62_000)
                .alerts
                .is_empty(),
            "once"
        );
    }

    #[test]
    fn min_p_win_filters_only_with_a_model_that_has_skill() {
        let rule = AlertRule {
            min_p_win: Some(0.5),
            ..rule("likely")
        };
        let quality = |p_win: f64, skill: f64| quantpro_model::SignalQuality {
            p_win,
            model_id: "logit-test".into(),
            trained_at: 0,
            n_train: 100,
            skill: Some(skill),
        };
        let turned = |q: Option<quantpro_model::SignalQuality>| {
            let mut signal = acting("BTCUSDT", 900_000, Action::Long);
            signal.quality = q;
            AlertEvent::Turned {
                signal: Box::new(signal),
                from: Action::Wait,
                rank: 1,
            }
        };
        assert!(
            !matches(&rule, &turned(Some(quality(0.4, 0.02)))),
            "below, with skill"
        );
        assert!(matches(&rule, &turned(Some(quality(0.6, 0.02)))));
        assert!(
            matches(&rule, &turned(Some(quality(0.4, -0.01)))),
            "no skill: no filter"
        );
        assert!(matches(&rule, &turned(None)), "no model: no filter");
    }
}
