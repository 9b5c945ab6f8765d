//! Where the real third-party candles live. They are read in place by tests
//! and benchmarks and never copied into the repository, so their folder is
//! found rather than assumed: a clone may sit beside `shared/` (the usual
//! layout) or elsewhere on a machine that has `/work/shared`.

use std::path::PathBuf;

/// Overrides the search: the folder holding the real candle files.
pub const ENV_VAR: &str = "QUANTPRO_REFERENCE_CANDLES";

/// The real candle folder: `$QUANTPRO_REFERENCE_CANDLES`, else
/// `shared/data/candles` beside the repository, else `/work/shared/data/candles`.
/// Panics with the places it looked when none exists, because a test that
/// needs real data must fail loudly rather than pass on nothing.
pub fn candles_dir() -> PathBuf {
    let candidates = candidate_dirs();
    candidates
        .iter()
        .find(|dir| dir.is_dir())
        .cloned()
        .unwrap_or_else(|| {
            let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
            panic!(
                "the real candle data is missing: looked in {} (set {ENV_VAR} to its folder)",
                looked.join(", ")
            )
        })
}

fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os(ENV_VAR) {
        dirs.push(PathBuf::from(dir));
    }
    // `shared/` beside the repository, seen from whichever crate of the
    // workspace compiles this file.
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in manifest_dir.ancestors().skip(1) {
        dirs.push(folder.join("shared/data/candles"));
    }
    dirs.push(PathBuf::from("/work/shared/data/candles"));
    dirs
}
