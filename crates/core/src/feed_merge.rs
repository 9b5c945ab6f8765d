//! How a scan's signals reach the master feed. A full scan replaces the
//! feed; a partial one (one exchange, one symbol, the first N symbols)
//! replaces only the signals of the symbols it scanned and keeps every
//! other signal, so scanning MEXC from the dashboard does not wipe the
//! BINANCE rows. Kept signals keep their own `calculated_at` and candle
//! times, so their age stays visible.
//!
//! Read, merge and write happen under an exclusive lock on a hidden file
//! beside the feed, so a CLI scan and a dashboard scan finishing at the same
//! moment cannot drop each other's signals (readers need no lock: the file
//! is replaced by rename).

use super::feed_writer::{write_feed, WriteError};
use super::scan::{sort_signals, ScanRequest};
use quantpro_model::{Exchange, MasterFeed};
use std::collections::HashSet;
use std::path::Path;

/// Whether a scan's feed replaces the file or is merged into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedUpdate {
    Replace,
    MergeIntoExisting,
}

impl FeedUpdate {
    /// Merge for a partial request, replace for a scan of everything.
    pub fn for_request(request: &ScanRequest) -> FeedUpdate {
        if request.is_partial() {
            FeedUpdate::MergeIntoExisting
        } else {
            FeedUpdate::Replace
        }
    }
}

/// What `update_feed` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedWritten {
    /// Signals in the written file.
    pub signals: usize,
    /// Of those, signals kept from the previous feed.
    pub kept: usize,
    /// Why the previous feed could not be merged (it was then replaced).
    pub warning: Option<String>,
}

/// Writes `scanned` to `path` (atomically), merged into the feed already
/// there when `update` says so. A missing previous feed is simply replaced;
/// an unreadable or corrupt one too, with a warning that says so.
pub fn update_feed(
    path: &Path,
    scanned: MasterFeed,
    update: FeedUpdate,
) -> Result<FeedWritten, WriteError> {
    let _lock = lock_feed(path)?;
    let (previous, warning) = match update {
        FeedUpdate::Replace => (None, None),
        FeedUpdate::MergeIntoExisting => match read_previous(path) {
            Ok(previous) => (previous, None),
            Err(reason) => (None, Some(reason)),
        },
    };
    let (feed, kept) = match previous {
        Some(previous) => merge_scanned_into(previous, scanned),
        None => (scanned, 0),
    };
    write_feed(path, &feed)?;
    Ok(FeedWritten {
        signals: feed.signals.len(),
        kept,
        warning,
    })
}

/// Holds the exclusive lock on `.{feed name}.lock` until dropped (closing
/// the file releases it, also when the process dies).
fn lock_feed(path: &Path) -> Result<std::fs::File, WriteError> {
    let error = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| error(std::io::Error::other("the feed path has no file name")))?;
    let lock_path = path.with_file_name(format!(".{}.lock", name.to_string_lossy()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(error)?;
    file.lock().map_err(error)?;
    Ok(file)
}

/// The previous feed, `None` when there is none yet.
fn read_previous(path: &Path) -> Result<Option<MasterFeed>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(format!(
                "cannot read the previous feed {} ({err}): replaced by this scan's signals",
                path.display()
            ))
        }
    };
    MasterFeed::parse(&text).map(Some).map_err(|err| {
        format!(
            "the previous feed {} is corrupt ({err}): replaced by this scan's signals",
            path.display()
        )
    })
}

/// `previous` without the signals of the symbols `scanned` has signals for,
/// plus `scanned`'s signals, best first; returns it with the number kept. A
/// symbol the scan skipped (a corrupt file, say) keeps its old signals, whose
/// age then shows how old they are.
pub fn merge_scanned_into(previous: MasterFeed, scanned: MasterFeed) -> (MasterFeed, usize) {
    let mut signals: Vec<_> = {
        let rescanned: HashSet<(Exchange, &str)> = scanned
            .signals
            .iter()
            .map(|s| (s.exchange, s.symbol.as_str()))
            .collect();
        previous
            .signals
            .into_iter()
            .filter(|s| !rescanned.contains(&(s.exchange, s.symbol.as_str())))
            .collect()
    };
    let kept = signals.len();
    signals.extend(scanned.signals);
    sort_signals(&mut signals);
    let feed = MasterFeed {
        last_updated: scanned.last_updated,
        signals,
    };
    (feed, kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::fixtures::sample_signal;
    use quantpro_model::{Signal, Strategy};

    fn signal(exchange: Exchange, symbol: &str, strategy: Strategy, score: f64) -> Signal {
        let mut signal = sample_signal(symbol, strategy);
        signal.exchange = exchange;
        signal.score = score;
        signal.total_score = score;
        signal
    }

    fn keys(feed: &MasterFeed) -> Vec<(Exchange, &str, Strategy, f64)> {
        feed.signals
            .iter()
            .map(|s| (s.exchange, s.symbol.as_str(), s.strategy, s.score))
            .collect()
    }

    fn previous() -> MasterFeed {
        MasterFeed {
            last_updated: 1,
            signals: vec![
                signal(Exchange::Binance, "BTCUSDT", Strategy::Legacy, 70.0),
                signal(Exchange::Binance, "BTCUSDT", Strategy::Breakout, 20.0),
                signal(Exchange::Mexc, "BTC_USDT", Strategy::Legacy, 50.0),
                signal(Exchange::Mexc, "ETH_USDT", Strategy::Legacy, 10.0),
            ],
        }
    }

    #[test]
    fn a_partial_scan_replaces_its_symbols_and_keeps_the_rest() {
        let scanned = MasterFeed {
            last_updated: 2,
            signals: vec![
                signal(Exchange::Mexc, "BTC_USDT", Strategy::Legacy, 90.0),
                signal(Exchange::Mexc, "BTC_USDT", Strategy::Breakout, 5.0),
            ],
        };
        let (merged, kept) = merge_scanned_into(previous(), scanned);
        assert_eq!(kept, 3);
        assert_eq!(merged.last_updated, 2);
        assert_eq!(
            keys(&merged),
            [
                (Exchange::Mexc, "BTC_USDT", Strategy::Legacy, 90.0),
                (Exchange::Binance, "BTCUSDT", Strategy::Legacy, 70.0),
                (Exchange::Binance, "BTCUSDT", Strategy::Breakout, 20.0),
                (Exchange::Mexc, "ETH_USDT", Strategy::Legacy, 10.0),
                (Exchange::Mexc, "BTC_USDT", Strategy::Breakout, 5.0),
            ]
        );
    }

    #[test]
    fn the_request_decides_between_replace_and_merge() {
        let all = ScanRequest::new("data");
        assert_eq!(FeedUpdate::for_request(&all), FeedUpdate::Replace);
        for partial in [
            ScanRequest {
                limit: Some(3),
                ..all.clone()
            },
            ScanRequest {
                symbol: Some("BTC".into()),
                ..all.clone()
            },
            ScanRequest {
                exchange: Some(Exchange::Mexc),
                ..all.clone()
            },
            ScanRequest {
                only: Some([(Exchange::Mexc, "BTC_USDT".to_string())].into()),
                ..all.clone()
            },
        ] {
            assert_eq!(
                FeedUpdate::for_request(&partial),
                FeedUpdate::MergeIntoExisting
            );
        }
    }

    #[test]
    fn concurrent_partial_scans_keep_each_others_signals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master_feed.json");
        const WRITERS: usize = 6;
        const ROUNDS: usize = 15;
        std::thread::scope(|scope| {
            for writer in 0..WRITERS {
                let path = &path;
                scope.spawn(move || {
                    for round in 0..ROUNDS {
                        let symbol = format!("W{writer}R{round}USDT");
                        let scanned = MasterFeed {
                            last_updated: round as i64,
                            signals: vec![signal(
                                Exchange::Binance,
                                &symbol,
                                Strategy::Legacy,
                                1.0,
                            )],
                        };
                        update_feed(path, scanned, FeedUpdate::MergeIntoExisting).unwrap();
                    }
                });
            }
        });
        let feed = MasterFeed::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(feed.signals.len(), WRITERS * ROUNDS, "no update lost");
    }

    #[test]
    fn update_feed_merges_replaces_and_survives_a_corrupt_previous_feed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master_feed.json");
        let scanned = || MasterFeed {
            last_updated: 3,
            signals: vec![signal(Exchange::Hyperliquid, "SOL", Strategy::Legacy, 40.0)],
        };
        let read = || MasterFeed::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();

        // No previous feed: merging writes the scan alone.
        let written = update_feed(&path, scanned(), FeedUpdate::MergeIntoExisting).unwrap();
        assert_eq!(
            (written.signals, written.kept, written.warning),
            (1, 0, None)
        );

        write_feed(&path, &previous()).unwrap();
        let written = update_feed(&path, scanned(), FeedUpdate::MergeIntoExisting).unwrap();
        assert_eq!((written.signals, written.kept), (5, 4));
        assert_eq!(read().signals.len(), 5);

        let written = update_feed(&path, scanned(), FeedUpdate::Replace).unwrap();
        assert_eq!((written.signals, written.kept), (1, 0));
        assert_eq!(read(), scanned());

        std::fs::write(&path, "{\"last_updated\": 1, \"sig").unwrap();
        let written = update_feed(&path, scanned(), FeedUpdate::MergeIntoExisting).unwrap();
        assert_eq!(written.signals, 1);
        let warning = written.warning.expect("a warning about the corrupt feed");
        assert!(warning.contains("master_feed.json is corrupt"), "{warning}");
        assert_eq!(read(), scanned());
    }
}
