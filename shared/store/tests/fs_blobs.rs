//! The shared blob suite, run against the filesystem backend.

use aetherveil_store::blob::{BlobStore, FsBlobStore};
use std::sync::Arc;

async fn fs() -> (Arc<dyn BlobStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (Arc::new(FsBlobStore::new(dir.path())), dir)
}

aetherveil_store::blob_test_suite!(fs);
