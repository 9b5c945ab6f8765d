//! `[alerts]` of `quantpro.toml`: the rules (what fires), the channels
//! (where it goes), the calm limits (cooldown per key, global cap per
//! hour) and how patiently a delivery is retried. Secrets (bot tokens,
//! webhook URLs that hold a token, signing secrets) are never in the file:
//! a channel names the environment variables that hold them. Read and
//! validated by `settings` at start and before a save.

use quantpro_model::{Exchange, Strategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What makes a rule fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A (symbol, exchange, strategy) turns LONG or SHORT at a close, from
    /// WAIT or from the opposite side.
    Signal,
    /// An open trade of the journal resolves (target, stop or expiry).
    Resolution,
    /// A bracket QuantPro placed changes: entry filled, stopped out,
    /// target hit, closed, refused (docs/TRADING.md).
    Execution,
}

/// What a rule may do besides telling: place the signal's bracket
/// (docs/TRADING.md), on a paper venue or, with `execution.allow_auto`, a
/// live one. Off unless a rule says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoExecute {
    Paper,
    Live,
}

/// One `[[alerts.rules]]` entry. Empty lists mean "any".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertRule {
    pub name: String,
    pub on: Vec<Trigger>,
    pub strategies: Vec<Strategy>,
    pub exchanges: Vec<Exchange>,
    /// Exchange spelling or base asset (`BTCUSDT` or `BTC`), any case.
    pub symbols: Vec<String>,
    pub min_score: Option<f64>,
    pub min_rr: Option<f64>,
    /// Only signals among the N best of the table (by score).
    pub top_n: Option<usize>,
    /// Only signals whose learned win probability (0-1, docs/QUALITY.md)
    /// is at least this. Applies only while the model in force has skill on
    /// past data; without a model, or one without skill, it filters nothing.
    pub min_p_win: Option<f64>,
    /// Channel names (`[alerts.channels.NAME]`, or the built-in `browser`).
    pub channels: Vec<String>,
    /// `execute = "paper"` or `"live"`: each signal the rule fires for is
    /// also traded, under every `[execution]` limit.
    pub execute: Option<AutoExecute>,
}

impl Default for AlertRule {
    fn default() -> Self {
        AlertRule {
            name: String::new(),
            on: vec![Trigger::Signal],
            strategies: Vec::new(),
            exchanges: Vec::new(),
            symbols: Vec::new(),
            min_score: None,
            min_rr: None,
            top_n: None,
            min_p_win: None,
            channels: vec![BROWSER.to_string()],
            execute: None,
        }
    }
}

/// The channel every dashboard tab is: a toast and, with permission, a
/// desktop notification.
pub const BROWSER: &str = "browser";

/// One `[alerts.channels.NAME]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelSettings {
    /// A generic JSON webhook (POST) to `url`, or to the URL in the
    /// variable `url_env` (for a URL that holds a token: it then never
    /// appears in the file or the dashboard); signed
    /// (`X-QuantPro-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`)
    /// when `secret_env` names a variable holding the secret.
    Webhook {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url_env: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_env: Option<String>,
    },
    /// Telegram Bot API `sendMessage`; the bot token and chat id come from
    /// the environment.
    Telegram {
        #[serde(default = "default_telegram_token_env")]
        token_env: String,
        #[serde(default = "default_telegram_chat_env")]
        chat_id_env: String,
        #[serde(default = "default_telegram_url")]
        base_url: String,
    },
    /// A Discord webhook; its URL (which holds the webhook's token, and
    /// whose host is the base URL) comes from the environment.
    Discord {
        #[serde(default = "default_discord_env")]
        url_env: String,
    },
}

fn default_telegram_token_env() -> String {
    "QUANTPRO_TELEGRAM_TOKEN".into()
}
fn default_telegram_chat_env() -> String {
    "QUANTPRO_TELEGRAM_CHAT_ID".into()
}
fn default_telegram_url() -> String {
    "https://api.telegram.org".into()
}
fn default_discord_env() -> String {
    "QUANTPRO_DISCORD_WEBHOOK".into()
}

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// A (rule, symbol, exchange, strategy) fires at most once per this long.
    pub cooldown_minutes: u64,
    /// At most this many alerts per hour over all rules; the rest are
    /// summarised in one message.
    pub max_per_hour: usize,
    /// Where share links point (the dashboard as the recipient reaches it).
    pub public_url: String,
    /// Attempts per delivery, the first included.
    pub max_tries: u32,
    /// Wait before the second attempt; doubled before each later one.
    pub backoff_ms: u64,
    /// One attempt that takes longer than this has failed.
    pub timeout_secs: u64,
    pub rules: Vec<AlertRule>,
    pub channels: BTreeMap<String, ChannelSettings>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            cooldown_minutes: 240,
            max_per_hour: 20,
            public_url: "http://127.0.0.1:3000".into(),
            max_tries: 4,
            backoff_ms: 2_000,
            timeout_secs: 10,
            rules: Vec::new(),
            channels: BTreeMap::new(),
        }
    }
}

impl AlertSettings {
    /// Every problem, each naming its field (`alerts.rules[1].min_score`).
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_per_hour == 0 {
            problems.push("'alerts.max_per_hour' must be at least 1".to_string());
        }
        if !is_http_url(&self.public_url) {
            problems.push(format!(
                "'alerts.public_url' must be an http:// or https:// URL, got {:?}",
                self.public_url
            ));
        }
        if !(1..=10).contains(&self.max_tries) {
            problems.push(format!(
                "'alerts.max_tries' must be between 1 and 10, got {}",
                self.max_tries
            ));
        }
        if !(1..=600).contains(&self.timeout_secs) {
            problems.push(format!(
                "'alerts.timeout_secs' must be between 1 and 600, got {}",
                self.timeout_secs
            ));
        }
        if self.backoff_ms > 600_000 {
            problems.push(format!(
                "'alerts.backoff_ms' must be at most 600000, got {}",
                self.backoff_ms
            ));
        }
        for (name, channel) in &self.channels {
            if name == BROWSER {
                problems.push(format!(
                    "'alerts.channels.{BROWSER}' is built in; pick another name"
                ));
            }
            match channel {
                ChannelSettings::Webhook { url, url_env, .. } => match (url, url_env) {
                    (Some(url), None) if !is_http_url(url) => problems.push(format!(
                        "'alerts.channels.{name}.url' must be an http:// or https:// URL, got {url:?}"
                    )),
                    (Some(_), Some(_)) => problems.push(format!(
                        "'alerts.channels.{name}' has both url and url_env; keep one"
                    )),
                    (None, None) => problems.push(format!(
                        "'alerts.channels.{name}.url' is missing (or name its variable in url_env)"
                    )),
                    _ => {}
                },
                ChannelSettings::Telegram { base_url, .. } if !is_http_url(base_url) => {
                    problems.push(format!(
                        "'alerts.channels.{name}.base_url' must be an http:// or https:// URL, got {base_url:?}"
                    ));
                }
                _ => {}
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let field = |f: &str| format!("'alerts.rules[{i}].{f}'");
            if rule.name.trim().is_empty() {
                problems.push(format!("{} must not be empty", field("name")));
            } else if !names.insert(rule.name.clone()) {
                problems.push(format!(
                    "{} {:?} is used by another rule",
                    field("name"),
                    rule.name
                ));
            }
            if rule.on.is_empty() {
                problems.push(format!(
                    "{} must list \"signal\" and/or \"resolution\"",
                    field("on")
                ));
            }
            if let Some(score) = rule.min_score {
                if !(0.0..=100.0).contains(&score) {
                    problems.push(format!(
                        "{} must be between 0 and 100, got {score}",
                        field("min_score")
                    ));
                }
            }
            if let Some(rr) = rule.min_rr {
                if !(rr.is_finite() && rr >= 0.0) {
                    problems.push(format!("{} must be 0 or more, got {rr}", field("min_rr")));
                }
            }
            if rule.execute.is_some() && !rule.on.contains(&Trigger::Signal) {
                problems.push(format!(
                    "{} trades signals: its 'on' must list \"signal\"",
                    field("execute")
                ));
            }
            if let Some(p) = rule.min_p_win {
                if !(0.0..=1.0).contains(&p) {
                    problems.push(format!(
                        "{} must be between 0 and 1, got {p}",
                        field("min_p_win")
                    ));
                }
            }
            if rule.top_n == Some(0) {
                problems.push(format!("{} must be at least 1", field("top_n")));
            }
            if rule.channels.is_empty() {
                problems.push(format!(
                    "{} must name at least one channel",
                    field("channels")
                ));
            }
            for channel in &rule.channels {
                if channel != BROWSER && !self.channels.contains_key(channel) {
                    problems.push(format!(
                        "{} names {channel:?}, which is not a channel (add [alerts.channels.{channel}] or use \"{BROWSER}\")",
                        field("channels")
                    ));
                }
            }
        }
        problems
    }
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_channels_read_from_toml_and_bad_ones_name_the_field() {
        let text = r#"
            cooldown_minutes = 60
            [[rules]]
            name = "strong"
            strategies = ["Breakout"]
            exchanges = ["BINANCE"]
            min_score = 60
            channels = ["tg", "browser"]
            [[rules]]
            name = "outcomes"
            on = ["resolution"]
            channels = ["hook"]
            [channels.tg]
            kind = "telegram"
            [channels.hook]
            kind = "webhook"
            url = "http://127.0.0.1:9/hook"
            secret_env = "QUANTPRO_WEBHOOK_SECRET"
        "#;
        let settings: AlertSettings = toml::from_str(text).unwrap();
        assert_eq!(settings.validate(), Vec::<String>::new());
        assert_eq!(settings.rules[0].on, [Trigger::Signal]);
        assert_eq!(settings.rules[1].on, [Trigger::Resolution]);
        assert!(
            matches!(settings.channels["tg"], ChannelSettings::Telegram { ref token_env, .. } if token_env == "QUANTPRO_TELEGRAM_TOKEN")
        );

        let mut bad = settings.clone();
        bad.rules[0].min_score = Some(150.0);
        bad.rules[1].channels = vec!["nowhere".into()];
        bad.rules[1].name = "strong".into();
        let problems = bad.validate();
        assert!(
            problems.contains(
                &"'alerts.rules[0].min_score' must be between 0 and 100, got 150".to_string()
            ),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("'alerts.rules[1].channels' names \"nowhere\"")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("'alerts.rules[1].name' \"strong\" is used")),
            "{problems:?}"
        );
        assert!(toml::from_str::<AlertSettings>("[[rules]]\nname = \"x\"\nminscore = 1").is_err());
    }

    #[test]
    fn a_webhook_url_with_a_token_can_come_from_the_environment() {
        let settings: AlertSettings = toml::from_str(
            "[channels.slack]\nkind = \"webhook\"\nurl_env = \"QUANTPRO_SLACK_URL\"\n",
        )
        .unwrap();
        assert_eq!(settings.validate(), Vec::<String>::new());
        let written = toml::to_string(&settings).unwrap();
        assert!(
            written.contains("url_env = \"QUANTPRO_SLACK_URL\""),
            "{written}"
        );
        assert!(
            !written.contains("\nurl = "),
            "no empty url written: {written}"
        );
        let both: AlertSettings = toml::from_str(
            "[channels.slack]\nkind = \"webhook\"\nurl = \"https://x\"\nurl_env = \"V\"\n",
        )
        .unwrap();
        assert_eq!(
            both.validate(),
            ["'alerts.channels.slack' has both url and url_env; keep one"]
        );
        let neither: AlertSettings =
            toml::from_str("[channels.slack]\nkind = \"webhook\"\n").unwrap();
        assert!(neither.validate()[0].starts_with("'alerts.channels.slack.url' is missing"));
    }

    #[test]
    fn the_readme_example_is_valid() {
        let readme = include_str!("../../../../README.md");
        let section = &readme[readme.find("## Alerts").expect("an Alerts section")..];
        let start = section.find("```toml\n").expect("a TOML example") + 8;
        let example = &section[start..start + section[start..].find("```").unwrap()];
        let table: toml::Table = toml::from_str(example).unwrap();
        let settings = AlertSettings::deserialize(table["alerts"].clone()).unwrap();
        assert_eq!(settings.validate(), Vec::<String>::new());
        assert_eq!(settings.rules[0].min_rr, Some(2.0));
        assert_eq!(settings.channels.len(), 3);
    }
}
