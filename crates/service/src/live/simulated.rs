//! The built-in simulated market: the embedded default when there is no
//! network and no key. Synthetic candles (`core::synthetic::SymbolWalk`)
//! are produced as the loop's clock passes each 15m close, at real pace or
//! faster (`[universe] accelerate`), on three simulated venues named like
//! the real exchanges (distinct assets on each), and the data directory is
//! marked SYNTHETIC. The walk is anchored once (`.cache/simulated.json`), so
//! a restarted server continues the same series it stored.

use super::market::{CloseEvent, Listing, LiveMarket};
use async_trait::async_trait;
use quantpro_core::synthetic::{aggregate_walk_candles, SymbolWalk};
use quantpro_model::atomic_file::write_atomic;
use quantpro_model::Candle;
use quantpro_model::Market;
use quantpro_model::{Exchange, Interval};
use quantpro_sources::clock::Clock;
use quantpro_sources::SourceError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

const M15: i64 = 15 * 60_000;
const H4: i64 = 4 * 60 * 60_000;
const EXCHANGES: [Exchange; 3] = [Exchange::Binance, Exchange::Mexc, Exchange::Hyperliquid];

/// Where the simulated walk starts: chosen once, kept in the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulationAnchor {
    pub seed: u64,
    /// Open time of every symbol's first 15m candle (on the 4h grid).
    pub first_open_ms: i64,
    pub symbols: usize,
}

impl SimulationAnchor {
    /// The anchor stored in `data_dir`, or a new one whose history reaches
    /// `history_15m` candles back from `now_ms` (then stored, with the
    /// SYNTHETIC marker that labels the data in the UI).
    pub fn load_or_create(
        data_dir: &Path,
        symbols: usize,
        history_15m: usize,
        now_ms: i64,
    ) -> std::io::Result<SimulationAnchor> {
        let path = data_dir.join(".cache").join("simulated.json");
        if let Ok(bytes) = std::fs::read(&path) {
            match serde_json::from_slice::<SimulationAnchor>(&bytes) {
                Ok(anchor) if anchor.symbols == symbols => return Ok(anchor),
                Ok(_) => tracing::info!("[SIMULATED] symbol count changed: new simulation"),
                Err(e) => tracing::warn!("[SIMULATED] ignoring {}: {e}", path.display()),
            }
        }
        let start = now_ms - history_15m as i64 * M15;
        let anchor = SimulationAnchor {
            seed: 7,
            first_open_ms: start.div_euclid(H4) * H4,
            symbols,
        };
        std::fs::create_dir_all(path.parent().unwrap_or(data_dir))?;
        write_atomic(&path, &serde_json::to_vec(&anchor).unwrap_or_default())
            .map_err(|e| e.source)?;
        std::fs::write(
            data_dir.join(quantpro_model::SYNTHETIC_MARKER),
            "simulated market (quantpro live::simulated): synthetic candles produced as time passes\n",
        )?;
        Ok(anchor)
    }
}

/// One symbol's walk and the closed candles it has produced so far.
struct SimulatedSymbol {
    walk: SymbolWalk,
    ltf: Vec<Candle>,
    quote_volume_24h: f64,
}

/// One simulated exchange.
pub struct SimulatedMarket {
    exchange: Exchange,
    clock: Clock,
    symbols: Arc<Mutex<BTreeMap<String, SimulatedSymbol>>>,
}

impl SimulatedMarket {
    /// The three venues of a simulation: the anchor's symbols spread over
    /// BINANCE, MEXC and HYPERLIQUID as the demo data set spreads them.
    pub fn all(anchor: SimulationAnchor, clock: Clock) -> Vec<SimulatedMarket> {
        let mut first = 0;
        EXCHANGES
            .iter()
            .enumerate()
            .map(|(k, &exchange)| {
                let count = anchor.symbols / 3 + usize::from(k < anchor.symbols % 3);
                let symbols = (first..first + count)
                    .map(|index| {
                        let walk =
                            SymbolWalk::new(anchor.seed, index, exchange, anchor.first_open_ms);
                        let symbol = walk.symbol.clone();
                        let simulated = SimulatedSymbol {
                            walk,
                            ltf: Vec::new(),
                            quote_volume_24h: 2e9 / (index as f64 + 1.0),
                        };
                        (symbol, simulated)
                    })
                    .collect();
                first += count;
                SimulatedMarket {
                    exchange,
                    clock,
                    symbols: Arc::new(Mutex::new(symbols)),
                }
            })
            .filter(|venue| !venue.lock().is_empty())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SimulatedSymbol>> {
        self.symbols.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Walks every symbol on until its candles closed by `now_ms` exist.
fn produce_until(symbols: &mut BTreeMap<String, SimulatedSymbol>, now_ms: i64) {
    for symbol in symbols.values_mut() {
        while symbol.walk.next_open() + M15 <= now_ms {
            let candle = symbol.walk.next_candle();
            symbol.ltf.push(candle);
        }
    }
}

/// The closed candles of one symbol opening in `[start, end)`.
fn candles_of(symbol: &SimulatedSymbol, interval: Interval, start: i64, end: i64) -> Vec<Candle> {
    match interval {
        Interval::M15 => symbol
            .ltf
            .iter()
            .filter(|c| c.t >= start && c.t < end)
            .copied()
            .collect(),
        Interval::H4 => symbol
            .ltf
            .chunks_exact(16)
            .filter(|w| w[0].t % H4 == 0)
            .filter_map(aggregate_walk_candles)
            .filter(|c| c.t >= start && c.t < end)
            .collect(),
        // The scanner reads 15m and 4h only.
        _ => Vec::new(),
    }
}

#[async_trait]
impl LiveMarket for SimulatedMarket {
    fn exchange(&self) -> Exchange {
        self.exchange
    }

    fn market(&self) -> Market {
        Market::Futures
    }

    async fn listings(&self) -> Result<Vec<Listing>, SourceError> {
        Ok(self
            .lock()
            .iter()
            .map(|(symbol, s)| Listing::new(symbol.clone(), s.quote_volume_24h))
            .collect())
    }

    async fn candles(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Candle>, SourceError> {
        let mut symbols = self.lock();
        produce_until(&mut symbols, self.clock.now_ms());
        let simulated = symbols
            .get(symbol)
            .ok_or_else(|| SourceError::UnknownSymbol {
                api: "simulated market",
                symbol: symbol.to_string(),
            })?;
        Ok(candles_of(simulated, interval, start_ms, end_ms))
    }

    fn stream(
        &self,
        symbols: &[String],
        intervals: &[Interval],
    ) -> Option<mpsc::Receiver<CloseEvent>> {
        let (sender, receiver) = mpsc::channel(4 * symbols.len().max(16));
        let (shared, clock) = (self.symbols.clone(), self.clock);
        let (wanted, intervals) = (symbols.to_vec(), intervals.to_vec());
        tokio::spawn(async move {
            if sender.send(CloseEvent::Connected).await.is_err() {
                return;
            }
            loop {
                let close = (clock.now_ms().div_euclid(M15) + 1) * M15;
                clock.sleep_until_ms(close).await;
                let events: Vec<CloseEvent> = {
                    let mut symbols = shared.lock().unwrap_or_else(|e| e.into_inner());
                    produce_until(&mut symbols, close);
                    closes_at(&symbols, &wanted, &intervals, close)
                };
                for event in events {
                    if sender.send(event).await.is_err() {
                        return;
                    }
                }
            }
        });
        Some(receiver)
    }
}

/// The candles that closed at `close` for the wanted symbols.
fn closes_at(
    symbols: &BTreeMap<String, SimulatedSymbol>,
    wanted: &[String],
    intervals: &[Interval],
    close: i64,
) -> Vec<CloseEvent> {
    let mut events = Vec::new();
    for name in wanted {
        let Some(symbol) = symbols.get(name) else {
            continue;
        };
        for &interval in intervals {
            let start = close - interval.millis();
            if start.rem_euclid(interval.millis()) != 0 {
                continue;
            }
            if let Some(candle) = candles_of(symbol, interval, start, close).pop() {
                events.push(CloseEvent::Closed {
                    symbol: name.clone(),
                    interval,
                    candle,
                });
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01, on the 4h grid

    #[tokio::test(start_paused = true)]
    async fn candles_appear_as_the_clock_passes_each_close() {
        let anchor = SimulationAnchor {
            seed: 7,
            first_open_ms: T0 - 100 * H4,
            symbols: 6,
        };
        let clock = Clock::starting_at(T0 + 60_000, 60.0);
        let venues = SimulatedMarket::all(anchor, clock);
        assert_eq!(venues.len(), 3);
        let binance = &venues[0];
        let listings = binance.listings().await.unwrap();
        assert_eq!(listings.len(), 2);
        let symbol = listings[0].symbol.clone();
        let ltf = binance
            .candles(&symbol, Interval::M15, 0, i64::MAX)
            .await
            .unwrap();
        assert_eq!(ltf.len(), 1600);
        assert_eq!(ltf.last().unwrap().t + M15, T0, "only closed candles");
        let htf = binance
            .candles(&symbol, Interval::H4, 0, i64::MAX)
            .await
            .unwrap();
        assert_eq!(htf.len(), 100);

        let mut stream = binance
            .stream(
                std::slice::from_ref(&symbol),
                &[Interval::M15, Interval::H4],
            )
            .unwrap();
        assert_eq!(stream.recv().await, Some(CloseEvent::Connected));
        let Some(CloseEvent::Closed {
            interval, candle, ..
        }) = stream.recv().await
        else {
            panic!("a close")
        };
        assert_eq!((interval, candle.t), (Interval::M15, T0));
        assert!(clock.now_ms() >= T0 + M15);
        let same = binance
            .candles(&symbol, Interval::M15, T0, T0 + M15)
            .await
            .unwrap();
        assert_eq!(same, vec![candle], "REST and stream agree");
    }

    #[test]
    fn the_anchor_is_kept_and_the_data_marked_synthetic() {
        let dir = tempfile::tempdir().unwrap();
        let first = SimulationAnchor::load_or_create(dir.path(), 30, 1000, T0).unwrap();
        assert_eq!(first.first_open_ms % H4, 0);
        assert!(first.first_open_ms <= T0 - 1000 * M15);
        let again = SimulationAnchor::load_or_create(dir.path(), 30, 5000, T0 + H4).unwrap();
        assert_eq!(again, first);
        assert!(dir.path().join(quantpro_model::SYNTHETIC_MARKER).is_file());
    }
}
