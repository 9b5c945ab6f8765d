//! What the journal records about one trade besides the trade itself: the
//! signal's score components, the configuration that produced it and
//! whether a scan or a replay opened it.

use quantpro_core::track::open_trade;
pub use quantpro_model::Origin;
use quantpro_model::{ScannerConfig, Signal, Trade};

/// One trade to record.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub trade: Trade,
    /// The signal's `ScoreComposition` as JSON (the score's components
    /// and their inputs); `None` for replayed trades.
    pub score_components: Option<String>,
    /// [`config_version`] of the configuration that produced the signal.
    pub config_version: String,
    pub origin: Origin,
}

impl JournalEntry {
    /// The trade an actionable signal (LONG/SHORT with a setup) opens;
    /// `None` for the rest.
    pub fn from_signal(signal: &Signal, config_version: &str) -> Option<JournalEntry> {
        let trade = open_trade(signal)?;
        Some(JournalEntry {
            trade,
            score_components: serde_json::to_string(&signal.observability.score_composition).ok(),
            config_version: config_version.to_string(),
            origin: Origin::Live,
        })
    }

    /// A trade of a backtest, with its outcome as the replay found it.
    pub fn replayed(trade: Trade, config_version: &str) -> JournalEntry {
        JournalEntry {
            trade,
            score_components: None,
            config_version: config_version.to_string(),
            origin: Origin::Backtest,
        }
    }
}

/// The configuration's fingerprint: CRC-32 and length of its JSON (as the
/// feed's ETag), e.g. `3fa2c1d0-4e1`. Any change of a threshold gives
/// another version, so trades can be grouped by the rules that made them.
pub fn config_version(config: &ScannerConfig) -> String {
    // A struct of numbers and flags always serializes.
    let json = serde_json::to_vec(config).unwrap_or_default();
    let mut crc = flate2::Crc::new();
    crc.update(&json);
    format!("{:08x}-{:x}", crc.sum(), json.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_versions_follow_the_configuration() {
        let config = ScannerConfig::default();
        assert_eq!(config_version(&config), config_version(&config.clone()));
        let mut stricter = config.clone();
        stricter.legacy.min_score += 1.0;
        assert_ne!(config_version(&config), config_version(&stricter));
        let mut fees = config.clone();
        fees.track.fee_bps = 10.0;
        assert_ne!(config_version(&config), config_version(&fees));
    }
}
