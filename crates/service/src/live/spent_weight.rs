//! What the rate governor counted against each host's budget, kept with
//! the candle store (`DATA_DIR/.cache/spent_weight.json`, written
//! atomically every second while it changes): a restart, even after a
//! kill -9, counts what the previous run spent within the window as spent,
//! so it does not spend the budget twice in one minute (Hyperliquid, unlike
//! Binance, tells nothing of what it counted, and answers 429).

use quantpro_model::atomic_file::write_atomic;
use quantpro_sources::governor::{Governor, SpentWeight};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often the count is saved while it changes.
const SAVE_EVERY: Duration = Duration::from_secs(1);

pub(super) fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(".cache").join("spent_weight.json")
}

/// Counts what the saved file says was spent within the window (a missing
/// or unreadable file: nothing, said so in the log when unreadable).
pub(super) fn restore(governor: &Governor, data_dir: &Path) {
    let path = path(data_dir);
    let Ok(bytes) = std::fs::read(&path) else {
        return;
    };
    match serde_json::from_slice::<SpentWeight>(&bytes) {
        Ok(spent) => governor.restore_spent(&spent),
        Err(e) => tracing::warn!("[RATE-LIMIT] ignoring {}: {e}", path.display()),
    }
}

/// The task that keeps the count saved; it ends when dropped (the live
/// loop stops it after its venues, and saves once more with [`save`]).
pub(super) struct Saver(tokio::task::JoinHandle<()>);

impl Saver {
    pub(super) fn start(governor: Arc<Governor>, data_dir: PathBuf) -> Saver {
        Saver(tokio::spawn(keep_saved(governor, data_dir)))
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Saves the governor's count whenever it changed, every second.
async fn keep_saved(governor: Arc<Governor>, data_dir: PathBuf) {
    let mut saved = SpentWeight::default();
    loop {
        tokio::time::sleep(SAVE_EVERY).await;
        let spent = governor.spent();
        if spent != saved {
            save(&spent, &data_dir);
            saved = spent;
        }
    }
}

pub(super) fn save(spent: &SpentWeight, data_dir: &Path) {
    if spent.hosts.is_empty() && !path(data_dir).exists() {
        return;
    }
    let path = path(data_dir);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let json = serde_json::to_vec(spent).unwrap_or_default();
    if let Err(err) = write_atomic(&path, &json) {
        tracing::warn!("[RATE-LIMIT] cannot save {}: {err}", path.display());
    }
}
