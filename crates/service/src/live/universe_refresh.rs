//! Following a market's universe from the live loop: the cached universe
//! at start, the listings again every `refresh_minutes`, what joined and
//! what was delisted marked on the status board and cached for the next
//! start. The universe's rules (top N by volume, includes, excludes) are
//! `universe`'s; this is the runner's side of them.

use super::market::Listing;
use super::runner::{VenueRunner, STREAM_RETRY};
use super::universe::UniverseCache;
use quantpro_model::MarkKind;
use quantpro_sources::SourceError;

impl VenueRunner {
    /// The universe at start: the cached one, then the listings; waits
    /// while there is neither.
    pub(super) async fn load_universe(&mut self) {
        let cache = UniverseCache::load(&self.data_dir);
        if let Some(cached) = cache
            .markets
            .get(&UniverseCache::key(self.exchange, &self.market))
        {
            self.universe = cached.clone();
        }
        while !self.refresh_universe().await && self.universe.symbols.is_empty() {
            // No listings and nothing cached: nothing to follow yet.
            tokio::time::sleep(STREAM_RETRY).await;
        }
    }

    /// Reads the listings again; true when the universe changed.
    pub(super) async fn refresh_universe(&mut self) -> bool {
        let listings = self.venue.listings().await;
        self.apply_listings(listings)
    }

    /// Applies listings read (by `refresh_universe`, or by the loop's
    /// listings task, so that a ban never holds the stream up); true when
    /// the universe changed.
    pub(super) fn apply_listings(&mut self, listings: Result<Vec<Listing>, SourceError>) -> bool {
        let listings = match listings {
            Ok(listings) => listings,
            Err(err) => {
                let text = format!("listings unavailable, keeping the cached universe: {err}");
                tracing::warn!("[UNIVERSE] {} {}: {text}", self.exchange, self.market);
                self.status
                    .venue(self.exchange, &self.market, |s| s.last_error = Some(text));
                return false;
            }
        };
        let change = self
            .universe
            .refresh(&listings, &self.settings, self.clock.now_ms());
        for symbol in &change.listed {
            tracing::info!(
                "[UNIVERSE] {} {}: {symbol} joins",
                self.exchange,
                self.market
            );
            self.status.clear_stale(self.exchange, symbol);
        }
        for symbol in &change.delisted {
            tracing::warn!(
                "[UNIVERSE] {} {}: {symbol} was delisted; its rows stay, marked",
                self.exchange,
                self.market
            );
        }
        for (symbol, since) in &self.universe.delisted {
            self.status.mark(
                self.exchange,
                symbol,
                MarkKind::Delisted,
                format!(
                    "delisted by {} (noticed at {})",
                    self.exchange,
                    quantpro_model::format::utc_datetime(*since)
                ),
            );
        }
        let mut cache = UniverseCache::load(&self.data_dir);
        cache.markets.insert(
            UniverseCache::key(self.exchange, &self.market),
            self.universe.clone(),
        );
        if let Err(err) = cache.save(&self.data_dir) {
            tracing::warn!("[UNIVERSE] cannot cache the universe: {err}");
        }
        let (symbols, delisted) = (self.universe.symbols.len(), self.universe.delisted.len());
        self.status.venue(self.exchange, &self.market, |s| {
            s.symbols = symbols;
            s.delisted = delisted;
        });
        !change.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::scripted::{venue_runner, ScriptedMarket, T0};
    use quantpro_sources::clock::Clock;

    #[tokio::test(start_paused = true)]
    async fn a_venue_marks_its_delisted_symbols_and_caches_its_universe() {
        let dir = tempfile::tempdir().unwrap();
        let market = ScriptedMarket::new(Clock::starting_at(T0, 1.0));
        let (mut runner, _arrivals) = venue_runner(&market, dir.path());
        market.list(&["BTCUSDT", "ETHUSDT"]);
        assert!(runner.refresh_universe().await);
        assert_eq!(runner.status.current().venues[0].symbols, 2);

        market.list(&["BTCUSDT"]);
        assert!(runner.refresh_universe().await, "ETH left the listings");
        assert_eq!(runner.universe.live_symbols(), ["BTCUSDT"]);
        let status = runner.status.current();
        assert_eq!(
            (status.venues[0].symbols, status.venues[0].delisted),
            (1, 1),
            "a delisted symbol stays, marked"
        );
        assert_eq!(status.marks.len(), 1);
        assert_eq!(
            (status.marks[0].symbol.as_str(), status.marks[0].kind),
            ("ETHUSDT", MarkKind::Delisted)
        );
        assert!(!runner.refresh_universe().await, "nothing changed");
        assert_eq!(
            UniverseCache::load(dir.path()).markets["BINANCE:futures"],
            runner.universe
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_start_without_listings_follows_the_cached_universe() {
        let dir = tempfile::tempdir().unwrap();
        let market = ScriptedMarket::new(Clock::starting_at(T0, 1.0));
        market.list(&["BTCUSDT", "ETHUSDT"]);
        let (mut first, _arrivals) = venue_runner(&market, dir.path());
        first.load_universe().await;

        market.lose_listings();
        let (mut restarted, _arrivals) = venue_runner(&market, dir.path());
        let started = tokio::time::Instant::now();
        restarted.load_universe().await;
        assert_eq!(started.elapsed(), std::time::Duration::ZERO);
        assert_eq!(restarted.universe.symbols, ["BTCUSDT", "ETHUSDT"]);
        let error = restarted.status.current().venues[0].last_error.clone();
        assert!(error
            .unwrap()
            .starts_with("listings unavailable, keeping the cached universe"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_start_with_neither_listings_nor_cache_waits_for_the_listings() {
        let dir = tempfile::tempdir().unwrap();
        let market = ScriptedMarket::new(Clock::starting_at(T0, 1.0));
        market.lose_listings();
        let (mut runner, _arrivals) = venue_runner(&market, dir.path());
        let listing = market.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(45)).await;
            listing.list(&["BTCUSDT"]);
        });

        let started = tokio::time::Instant::now();
        runner.load_universe().await;
        assert_eq!(
            started.elapsed(),
            2 * STREAM_RETRY,
            "asked again every 30 s until the listings came"
        );
        assert_eq!(runner.universe.symbols, ["BTCUSDT"]);
    }
}
