//! Writing the master feed atomically (`atomic_file`), so the server never
//! serves half of one while a scan replaces it.

use quantpro_model::atomic_file::write_atomic;
pub use quantpro_model::atomic_file::WriteError;
use quantpro_model::MasterFeed;
use std::path::Path;

/// Writes the feed as compact JSON to `path`, atomically.
pub fn write_feed(path: &Path, feed: &MasterFeed) -> Result<(), WriteError> {
    write_atomic(path, feed.to_json().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::Strategy;
    use std::fs;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect()
    }

    #[test]
    fn readers_never_see_a_partial_feed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master_feed.json");
        let feeds: Vec<MasterFeed> = (0..4)
            .map(|n| MasterFeed {
                last_updated: n,
                signals: (0..(n as usize * 40))
                    .map(|i| {
                        quantpro_model::fixtures::sample_signal(
                            &format!("S{i}USDT"),
                            Strategy::Legacy,
                        )
                    })
                    .collect(),
            })
            .collect();
        write_feed(&path, &feeds[0]).unwrap();
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                for round in 0..30 {
                    write_feed(&path, &feeds[round % feeds.len()]).unwrap();
                }
            });
            let mut reads = 0;
            while !writer.is_finished() || reads < 10 {
                let text = fs::read_to_string(&path).unwrap();
                let feed = MasterFeed::parse(&text).expect("every read sees a whole feed");
                assert_eq!(feed.signals.len(), feed.last_updated as usize * 40);
                reads += 1;
            }
        });
        assert!(leftovers(dir.path()).is_empty());
    }
}
