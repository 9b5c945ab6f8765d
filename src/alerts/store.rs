//! Where alert decisions and delivery outcomes are kept, so that a restart
//! sends nothing twice ("sent alerts are stored in the journal").
//!
//! [`AlertStore`] is the seam: the signal journal (SQLite/PostgreSQL,
//! `journal/`) implements it when it lands; until then [`FileAlertStore`]
//! keeps JSON lines in the data directory (`.alerts/log.jsonl`, hidden from
//! the candle listing). Decisions are recorded *before* the deliveries
//! start: a crash between the two loses an alert rather than repeating it.

use super::engine::Decision;
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// How one channel's delivery of one alert ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The alert's id.
    pub id: String,
    pub channel: String,
    pub at_ms: i64,
    pub delivered: bool,
    /// Why it failed (never holds a secret: URLs are left out of errors).
    pub reason: Option<String>,
}

/// Why the alert log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AlertStoreError {
    #[error("cannot use the alert log {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the alert log task stopped: {0}")]
    Stopped(String),
}

/// The record of what the alerter decided and delivered.
#[async_trait::async_trait]
pub trait AlertStore: Send + Sync {
    /// The decisions taken at or after `since_ms`.
    async fn past_decisions(&self, since_ms: i64) -> Result<Vec<Decision>, AlertStoreError>;
    /// Keeps `decisions` (before any of their alerts is sent).
    async fn record_decisions(&self, decisions: &[Decision]) -> Result<(), AlertStoreError>;
    /// Keeps how a delivery ended.
    async fn record_delivery(&self, delivery: &DeliveryRecord) -> Result<(), AlertStoreError>;
}

/// One line of the file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Decision(Decision),
    Delivery(DeliveryRecord),
}

/// JSON lines appended to one file: each record is one `write` of one
/// complete line followed by an fsync, so a crash can cut at most the last
/// line, which the reader then skips (with the file and the reason logged).
pub struct FileAlertStore {
    path: PathBuf,
    /// One writer at a time, so lines never interleave.
    lock: tokio::sync::Mutex<()>,
}

impl FileAlertStore {
    /// The store of a data directory: `DATA_DIR/.alerts/log.jsonl`.
    pub fn in_data_dir(data_dir: &Path) -> FileAlertStore {
        FileAlertStore::new(data_dir.join(".alerts").join("log.jsonl"))
    }

    pub fn new(path: PathBuf) -> FileAlertStore {
        FileAlertStore {
            path,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn append(&self, lines: Vec<Line>) -> Result<(), AlertStoreError> {
        let mut text = String::new();
        for line in &lines {
            // Our own types: serialising them cannot fail.
            text.push_str(&serde_json::to_string(line).unwrap_or_default());
            text.push('\n');
        }
        let _one_writer = self.lock.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || append_text(&path, &text))
            .await
            .map_err(|e| AlertStoreError::Stopped(e.to_string()))?
    }
}

fn append_text(path: &Path, text: &str) -> Result<(), AlertStoreError> {
    let io = |source| AlertStoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    // After a torn last line, start on a line of our own.
    let torn = ends_without_newline(&mut file).map_err(io)?;
    let text = if torn {
        format!("\n{text}")
    } else {
        text.to_string()
    };
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_data().map_err(io)
}

fn ends_without_newline(file: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    if file.metadata()?.len() == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// The decisions in `text` at or after `since_ms`; unreadable lines are
/// skipped and logged.
fn read_decisions(path: &Path, text: &str, since_ms: i64) -> Vec<Decision> {
    let mut decisions = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(line) {
            Ok(Line::Decision(decision)) if decision.at_ms >= since_ms => decisions.push(decision),
            Ok(_) => {}
            Err(e) => tracing::warn!(
                "[ALERTS] {} line {}: skipped, not a record ({e})",
                path.display(),
                number + 1
            ),
        }
    }
    decisions
}

#[async_trait::async_trait]
impl AlertStore for FileAlertStore {
    async fn past_decisions(&self, since_ms: i64) -> Result<Vec<Decision>, AlertStoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || match std::fs::read_to_string(&path) {
            Ok(text) => Ok(read_decisions(&path, &text, since_ms)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(AlertStoreError::Io { path, source }),
        })
        .await
        .map_err(|e| AlertStoreError::Stopped(e.to_string()))?
    }

    async fn record_decisions(&self, decisions: &[Decision]) -> Result<(), AlertStoreError> {
        if decisions.is_empty() {
            return Ok(());
        }
        self.append(decisions.iter().cloned().map(Line::Decision).collect())
            .await
    }

    async fn record_delivery(&self, delivery: &DeliveryRecord) -> Result<(), AlertStoreError> {
        self.append(vec![Line::Delivery(delivery.clone())]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(id: &str, at_ms: i64) -> Decision {
        Decision {
            id: id.into(),
            key: id.into(),
            at_ms,
            sent: true,
        }
    }

    #[tokio::test]
    async fn decisions_come_back_after_a_reopen_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileAlertStore::in_data_dir(dir.path());
        assert!(
            store.past_decisions(0).await.unwrap().is_empty(),
            "no file yet"
        );
        store
            .record_decisions(&[decision("a", 10), decision("b", 20)])
            .await
            .unwrap();
        store
            .record_delivery(&DeliveryRecord {
                id: "a".into(),
                channel: "tg".into(),
                at_ms: 11,
                delivered: false,
                reason: Some("HTTP 500".into()),
            })
            .await
            .unwrap();
        // A crash in the middle of a line.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(store.path())
            .unwrap();
        file.write_all(br#"{"type":"decision","id":"c","#).unwrap();
        drop(file);
        store.record_decisions(&[decision("d", 30)]).await.unwrap();

        let reopened = FileAlertStore::in_data_dir(dir.path());
        assert_eq!(
            reopened.past_decisions(0).await.unwrap(),
            [decision("a", 10), decision("b", 20), decision("d", 30)],
            "the torn line is skipped, the next record is whole"
        );
        assert_eq!(
            reopened.past_decisions(15).await.unwrap(),
            [decision("b", 20), decision("d", 30)]
        );
    }
}
