//! The shared store suite, run against the SQLite backend.

use aetherveil_store::{SqliteStore, Store, Synchronous};
use std::sync::Arc;

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("aetherveil.db"), Synchronous::Normal).expect("open");
    (Arc::new(store), dir)
}

aetherveil_store::store_test_suite!(sqlite);
