//! Which venue trades each exchange: paper unless `[execution]` says
//! `"live"` for it **and** its keys are in the environment (never in
//! `quantpro.toml`): `BINANCE_API_KEY` + `BINANCE_API_SECRET`,
//! `HYPERLIQUID_PRIVATE_KEY` (an API/agent wallet's key) +
//! `HYPERLIQUID_ACCOUNT_ADDRESS` (the master account). MEXC takes no
//! futures orders from API keys: always paper.

use super::executor::{ExecutionError, Executor};
use crate::journal::JournalHandle;
use crate::settings::{Environment, Settings, VenueMode};
use quantpro_model::Exchange;
use quantpro_sources::clock::Clock;
use quantpro_sources::keys::Secret;
use quantpro_sources::trading::TradeError;
use quantpro_sources::venues::binance::trading::{BinanceTrading, BinanceTradingConfig};
use quantpro_sources::venues::binance::user_stream as binance_stream;
use quantpro_sources::venues::hyperliquid::trading::{
    HyperliquidTrading, HyperliquidTradingConfig, Network,
};
use quantpro_sources::venues::hyperliquid::user_stream as hyperliquid_stream;
use std::path::Path;
use std::sync::Arc;

pub const BINANCE_API_KEY: &str = "BINANCE_API_KEY";
pub const BINANCE_API_SECRET: &str = "BINANCE_API_SECRET";
pub const HYPERLIQUID_PRIVATE_KEY: &str = "HYPERLIQUID_PRIVATE_KEY";
pub const HYPERLIQUID_ACCOUNT_ADDRESS: &str = "HYPERLIQUID_ACCOUNT_ADDRESS";

/// The executor of a process: paper venues, replaced by live clients where
/// the settings and the environment both say so. A venue set to live
/// without its keys is an error (never a silent fall back to paper).
///
/// `follow`: the live venues' user-data streams are opened and each order
/// or fill they report wakes the executor (`Executor::woken`) to follow its
/// brackets at once (the server; a one-off CLI command does not).
pub fn build_executor(
    data_dir: &Path,
    settings: &Settings,
    env: &Environment,
    journal: JournalHandle,
    clock: Clock,
    follow: bool,
) -> Result<Executor, ExecutionError> {
    let execution = &settings.execution;
    let mut executor = Executor::paper(
        data_dir,
        execution,
        journal,
        settings.journal.clone(),
        clock,
    )?;
    let spot_only = |exchange: Exchange| spot_only(settings, exchange);
    if execution.binance == VenueMode::Live && !spot_only(Exchange::Binance) {
        let (key, secret) = (
            secret(env, BINANCE_API_KEY)?,
            secret(env, BINANCE_API_SECRET)?,
        );
        let client = Arc::new(BinanceTrading::new(BinanceTradingConfig::new(
            execution.binance_url.clone(),
            key,
            secret,
        ))?);
        if follow {
            let (events, _) = binance_stream::spawn_user_stream(
                client.clone(),
                binance_stream::UserStreamConfig::new(execution.binance_stream_url.clone()),
            );
            wake_on(events, executor.waker(), "BINANCE", |e| match e {
                binance_stream::AccountEvent::Disconnected(why) => Some(why),
                _ => None,
            });
        }
        executor = executor.with_venue(Exchange::Binance, client);
    }
    if execution.hyperliquid == VenueMode::Live && !spot_only(Exchange::Hyperliquid) {
        let key = secret(env, HYPERLIQUID_PRIVATE_KEY)?;
        let account = secret(env, HYPERLIQUID_ACCOUNT_ADDRESS)?;
        let network = if execution.hyperliquid_testnet {
            Network::Testnet
        } else {
            Network::Mainnet
        };
        let config = HyperliquidTradingConfig::new(network, key, account.expose())
            .with_base_url(execution.hyperliquid_url.clone());
        let client = Arc::new(HyperliquidTrading::new(config)?);
        if follow {
            let (events, _) = client.user_stream(hyperliquid_stream::UserStreamConfig::new(
                execution.hyperliquid_stream_url.clone(),
            ));
            wake_on(events, executor.waker(), "HYPERLIQUID", |e| match e {
                hyperliquid_stream::UserUpdate::Disconnected(why) => Some(why),
                _ => None,
            });
        }
        executor = executor.with_venue(Exchange::Hyperliquid, client);
    }
    Ok(executor)
}

/// True when the universe follows `exchange`'s spot market and not its
/// futures: those signals are paper only (a spot venue cannot short, and
/// the live clients trade perpetuals).
fn spot_only(settings: &Settings, exchange: Exchange) -> bool {
    use crate::settings::UniverseMarket;
    use quantpro_model::Market;
    let Some(markets) = settings
        .universe
        .as_ref()
        .and_then(|u| u.parsed_markets().ok())
    else {
        return false;
    };
    let has = |market| markets.contains(&UniverseMarket::Exchange(exchange, market));
    has(Market::Spot) && !has(Market::Futures)
}

/// Wakes the executor at every event of a venue's user stream but a
/// disconnection, which is logged (the reconnect's `Connected` wakes it,
/// and REST is read then).
fn wake_on<E: Send + 'static>(
    mut events: tokio::sync::mpsc::Receiver<E>,
    waker: Arc<tokio::sync::Notify>,
    venue: &'static str,
    down: impl Fn(&E) -> Option<&String> + Send + 'static,
) {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match down(&event) {
                Some(why) => tracing::warn!("[EXEC] {venue} user stream down: {why}"),
                None => waker.notify_one(),
            }
        }
    });
}

fn secret(env: &Environment, name: &str) -> Result<Secret, ExecutionError> {
    env.get(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(Secret::new)
        .ok_or_else(|| {
            ExecutionError::Venue(TradeError::Unavailable(format!(
                "live trading is configured but {name} is not set in the environment or .env"
            )))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{ExecutionSettings, JournalSettings};

    /// The defaults of a missing `quantpro.toml`, with `execution`.
    fn settings(execution: ExecutionSettings) -> Settings {
        let store = crate::settings::SettingsStore::new(
            Path::new("/nonexistent/quantpro.toml").to_path_buf(),
            Environment::default(),
        );
        let mut settings = store.load().unwrap();
        settings.execution = execution;
        settings.journal = JournalSettings::default();
        settings
    }

    #[tokio::test]
    async fn paper_by_default_and_live_only_with_keys() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::real();
        let journal = JournalHandle::new(dir.path());
        let paper = build_executor(
            dir.path(),
            &settings(ExecutionSettings::default()),
            &Environment::from_pairs([(BINANCE_API_KEY, "k"), (BINANCE_API_SECRET, "s")]),
            journal.clone(),
            clock,
            false,
        )
        .unwrap();
        for exchange in Exchange::ALL {
            assert!(!paper.venue(*exchange).unwrap().is_live(), "{exchange}");
        }
        let live = ExecutionSettings {
            binance: VenueMode::Live,
            ..ExecutionSettings::default()
        };
        let err = build_executor(
            dir.path(),
            &settings(live.clone()),
            &Environment::default(),
            journal.clone(),
            clock,
            false,
        )
        .err()
        .unwrap();
        assert!(
            err.to_string().contains("BINANCE_API_KEY is not set"),
            "{err}"
        );
        let executor = build_executor(
            dir.path(),
            &settings(live),
            &Environment::from_pairs([
                (BINANCE_API_KEY, "key-123"),
                (BINANCE_API_SECRET, "secret-456"),
            ]),
            journal,
            clock,
            false,
        )
        .unwrap();
        let binance = executor.venue(Exchange::Binance).unwrap();
        assert!(binance.is_live());
        assert_eq!(binance.name(), "BINANCE");
        assert!(!executor.venue(Exchange::Mexc).unwrap().is_live());
    }

    #[tokio::test]
    async fn signals_of_a_spot_market_stay_on_paper() {
        let dir = tempfile::tempdir().unwrap();
        let mut spot = settings(ExecutionSettings {
            binance: VenueMode::Live,
            ..ExecutionSettings::default()
        });
        spot.universe = Some(crate::settings::UniverseSettings {
            markets: vec!["binance:spot".into()],
            ..crate::settings::UniverseSettings::default()
        });
        let keys = Environment::from_pairs([(BINANCE_API_KEY, "k"), (BINANCE_API_SECRET, "s")]);
        let executor = build_executor(
            dir.path(),
            &spot,
            &keys,
            JournalHandle::new(dir.path()),
            Clock::real(),
            false,
        )
        .unwrap();
        assert!(!executor.venue(Exchange::Binance).unwrap().is_live());
        spot.universe
            .as_mut()
            .unwrap()
            .markets
            .push("binance:futures".into());
        let executor = build_executor(
            dir.path(),
            &spot,
            &keys,
            JournalHandle::new(dir.path()),
            Clock::real(),
            false,
        )
        .unwrap();
        assert!(executor.venue(Exchange::Binance).unwrap().is_live());
    }
}
