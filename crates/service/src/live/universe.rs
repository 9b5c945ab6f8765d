//! Which symbols the live loop follows on each exchange market: the
//! market's listings, filtered by `[universe]` (minimum 24 h quote volume,
//! the top N by volume, include and exclude lists), refreshed hourly and
//! cached on disk so a restart without network still knows it. A refresh
//! reports what was listed and delisted; a delisted symbol stops being
//! fetched and its rows are marked, never silently dropped. A venue's loop
//! (`runner`) reads its universe here first, and again at each refresh
//! (when it changed, the new symbols are backfilled and the stream
//! reopened); the status line shows its symbols and the delisted rows.

use super::market::Listing;
use crate::settings::UniverseSettings;
use quantpro_model::atomic_file::write_atomic;
use quantpro_model::Exchange;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The symbols of one exchange market, highest volume first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MarketUniverse {
    pub symbols: Vec<String>,
    /// Symbols that were in the universe and are no longer listed, with the
    /// time (Unix ms) the loop noticed.
    pub delisted: BTreeMap<String, i64>,
    /// When the listings were last read (Unix ms).
    pub refreshed_ms: i64,
}

/// What a refresh changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UniverseChange {
    pub listed: Vec<String>,
    pub delisted: Vec<String>,
}

impl UniverseChange {
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty() && self.delisted.is_empty()
    }
}

/// The universe's symbols among `listings`.
pub fn select(listings: &[Listing], settings: &UniverseSettings) -> Vec<String> {
    let named = |list: &[String], symbol: &str| list.iter().any(|s| s.eq_ignore_ascii_case(symbol));
    let mut ranked: Vec<&Listing> = listings
        .iter()
        .filter(|l| !named(&settings.exclude, &l.symbol))
        .filter(|l| l.quote_volume_24h.is_finite())
        .collect();
    ranked.sort_by(|a, b| {
        b.quote_volume_24h
            .total_cmp(&a.quote_volume_24h)
            .then_with(|| a.symbol.cmp(&b.symbol))
    });
    let mut chosen: Vec<String> = ranked
        .iter()
        .filter(|l| l.quote_volume_24h >= settings.min_quote_volume)
        .take(settings.top_n)
        .map(|l| l.symbol.clone())
        .collect();
    for listing in &ranked {
        if named(&settings.include, &listing.symbol) && !chosen.contains(&listing.symbol) {
            chosen.push(listing.symbol.clone());
        }
    }
    chosen
}

impl MarketUniverse {
    /// Applies a fresh selection: new symbols join, symbols that left the
    /// listings are delisted (kept with the time), symbols that only fell
    /// out of the top N leave quietly (they are still listed).
    pub fn refresh(
        &mut self,
        listings: &[Listing],
        settings: &UniverseSettings,
        now_ms: i64,
    ) -> UniverseChange {
        let listed: BTreeSet<&str> = listings.iter().map(|l| l.symbol.as_str()).collect();
        let selected = select(listings, settings);
        let mut change = UniverseChange::default();
        for symbol in &self.symbols {
            if !listed.contains(symbol.as_str()) {
                self.delisted.entry(symbol.clone()).or_insert(now_ms);
                change.delisted.push(symbol.clone());
            }
        }
        for symbol in &selected {
            if !self.symbols.contains(symbol) {
                change.listed.push(symbol.clone());
            }
            // Listed again: no longer delisted.
            self.delisted.remove(symbol);
        }
        self.symbols = selected;
        self.refreshed_ms = now_ms;
        change
    }

    /// Symbols still listed.
    pub fn live_symbols(&self) -> Vec<String> {
        self.symbols
            .iter()
            .filter(|s| !self.delisted.contains_key(*s))
            .cloned()
            .collect()
    }
}

/// The universe of every market, cached in `DATA_DIR/.cache/universe.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UniverseCache {
    /// Keyed `EXCHANGE:market` (`BINANCE:futures`).
    pub markets: BTreeMap<String, MarketUniverse>,
}

impl UniverseCache {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(".cache").join("universe.json")
    }

    /// The cached universe; a missing or unreadable cache is empty (and
    /// said so in the log: the loop then needs the network to start).
    pub fn load(data_dir: &Path) -> UniverseCache {
        let path = UniverseCache::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("[UNIVERSE] ignoring {}: {e}", path.display());
                UniverseCache::default()
            }),
            Err(_) => UniverseCache::default(),
        }
    }

    pub fn save(&self, data_dir: &Path) -> Result<(), quantpro_model::atomic_file::WriteError> {
        let path = UniverseCache::path(data_dir);
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let json = serde_json::to_vec_pretty(self).unwrap_or_default();
        write_atomic(&path, &json)
    }

    pub fn key(exchange: Exchange, market: &str) -> String {
        format!("{exchange}:{market}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(symbol: &str, volume: f64) -> Listing {
        Listing::new(symbol, volume)
    }

    fn settings(top_n: usize) -> UniverseSettings {
        UniverseSettings {
            top_n,
            min_quote_volume: 1e6,
            include: vec!["tinyUSDT".into()],
            exclude: vec!["ETHUSDT".into()],
            ..UniverseSettings::default()
        }
    }

    #[test]
    fn top_n_by_volume_above_the_minimum_with_includes_and_excludes() {
        let listings = [
            listing("BTCUSDT", 9e9),
            listing("ETHUSDT", 5e9),
            listing("SOLUSDT", 2e9),
            listing("XRPUSDT", 1e9),
            listing("TINYUSDT", 10.0),
            listing("NANUSDT", f64::NAN),
        ];
        assert_eq!(
            select(&listings, &settings(2)),
            ["BTCUSDT", "SOLUSDT", "TINYUSDT"]
        );
    }

    #[test]
    fn a_refresh_reports_listings_and_keeps_delistings() {
        let mut universe = MarketUniverse::default();
        let first = universe.refresh(
            &[listing("BTCUSDT", 9e9), listing("OLDUSDT", 5e9)],
            &settings(5),
            1,
        );
        assert_eq!(first.listed, ["BTCUSDT", "OLDUSDT"]);
        let second = universe.refresh(
            &[listing("BTCUSDT", 9e9), listing("NEWUSDT", 4e9)],
            &settings(5),
            2,
        );
        assert_eq!(second.listed, ["NEWUSDT"]);
        assert_eq!(second.delisted, ["OLDUSDT"]);
        assert_eq!(universe.symbols, ["BTCUSDT", "NEWUSDT"]);
        assert_eq!(universe.delisted.get("OLDUSDT"), Some(&2));

        let dir = tempfile::tempdir().unwrap();
        let mut cache = UniverseCache::default();
        cache.markets.insert(
            UniverseCache::key(Exchange::Binance, "futures"),
            universe.clone(),
        );
        cache.save(dir.path()).unwrap();
        assert_eq!(
            UniverseCache::load(dir.path()),
            cache,
            "a restart knows the universe"
        );
    }
}
