//! What the test suites of every crate share (a dev-dependency only).

use std::path::{Path, PathBuf};

/// `../shared/datasets/<name>` beside the repository, for the tests that score real data: `None`
/// (with a notice) when it is missing, and a failure instead under CI (`CI=true`), where a skipped
/// dataset test would pass without testing anything.
pub fn dataset(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets").join(name);
    if path.is_dir() {
        return Some(path);
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "dataset {} is missing under CI", path.display());
    eprintln!("skipping: dataset {} is missing", path.display());
    None
}
