//! [ssr] Replacing a file atomically, the one way every writer of QuantPro
//! writes (master feed, candle files, caches, `quantpro.toml`): the bytes go
//! to a temporary file in the same directory, are flushed to disk, and the
//! temporary file is renamed over the target. A reader sees the old file or
//! the new one, never half of one, and a crash (or a full disk) leaves at
//! most a hidden temporary file behind, which the failed write removes.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Replaces `path` with `bytes` atomically (temp file + fsync + rename +
/// directory fsync). The parent directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let error = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let temp = temp_path(path).map_err(error)?;
    let written = write_and_sync(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = written {
        // Best effort: the temp file is hidden and harmless, but do not litter.
        let _ = std::fs::remove_file(&temp);
        return Err(error(e));
    }
    sync_parent_dir(path).map_err(error)
}

/// `.{name}.tmp.{pid}.{n}` next to the target: same directory, hence the
/// same file system, so the rename is atomic; unique per process and call,
/// so concurrent writers never share a temp file.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?
        .to_string_lossy();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(path.with_file_name(format!(".{name}.tmp.{}.{n}", std::process::id())))
}

fn write_and_sync(temp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(temp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the rename itself durable: without it a power loss may forget
/// which inode the name points to.
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if cfg!(unix) {
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect()
    }

    #[test]
    fn writes_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master_feed.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        // Renaming a file over a non-empty directory fails after the temp
        // file was fully written: the stand-in for a crash before the rename.
        let target = dir.path().join("feed.json");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), b"old").unwrap();
        let err = write_atomic(&target, b"new").unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot write {}", target.display())),
            "{err}"
        );
        assert_eq!(fs::read(target.join("keep")).unwrap(), b"old");
        assert!(leftovers(dir.path()).is_empty(), "the temp file is removed");

        let missing_dir = dir.path().join("nope").join("feed.json");
        assert!(write_atomic(&missing_dir, b"x").is_err());
    }
}
