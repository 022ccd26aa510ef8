//! The shared store suite and the Firestore specifics, against the Firestore emulator.
//!
//! The emulator is found through `FIRESTORE_EMULATOR_HOST` (`127.0.0.1:8086`):
//!
//! ```text
//! scripts/emulators.sh start firestore && eval "$(scripts/emulators.sh env)"
//! ```
//!
//! Every test gets its own project id, so tests run in parallel without seeing each other's
//! documents; the project is wiped through the emulator's DELETE endpoint before and after the
//! test. Without the emulator the tests fail and say what is missing: the suite's macro has no
//! way to skip a case, so these tests never pass by skipping.

mod firestore;

use aetherveil_store::Store;
use aetherveil_store::blob::FsBlobStore;
use aetherveil_store_firestore::{FirestoreConfig, FirestoreStore};
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The emulator's `host:port` from `FIRESTORE_EMULATOR_HOST`; panics with what to do when unset.
pub(crate) fn emulator_host() -> String {
    match std::env::var("FIRESTORE_EMULATOR_HOST") {
        Ok(v) if !v.trim().is_empty() => v.trim().trim_start_matches("http://").trim_end_matches('/').to_owned(),
        _ => panic!(
            "FIRESTORE_EMULATOR_HOST is not set: these tests need the Firestore emulator \
             (scripts/emulators.sh start firestore; eval \"$(scripts/emulators.sh env)\")"
        ),
    }
}

/// One test's project in the emulator, with the directory its blobs go to. Dropping it wipes
/// the project's documents.
pub(crate) struct TestProject {
    pub project_id: String,
    pub host: String,
    _blobs: tempfile::TempDir,
}

impl TestProject {
    /// Sends one plain HTTP request to the emulator and returns the status code. Only the status
    /// line is read: the emulator keeps the connection open even when asked to close it.
    fn request(host: &str, method: &str, path: &str) -> std::io::Result<u16> {
        let mut stream = std::net::TcpStream::connect(host)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        let mut status_line = String::new();
        std::io::BufReader::new(stream).read_line(&mut status_line)?;
        let status = status_line.split(' ').nth(1).and_then(|code| code.parse().ok());
        status.ok_or_else(|| std::io::Error::other(format!("no HTTP status in {status_line:?}")))
    }

    fn wipe(host: &str, project_id: &str) -> std::io::Result<u16> {
        Self::request(host, "DELETE", &format!("/emulator/v1/projects/{project_id}/databases/(default)/documents"))
    }
}

impl Drop for TestProject {
    fn drop(&mut self) {
        if let Err(e) = Self::wipe(&self.host, &self.project_id) {
            eprintln!("could not wipe emulator project {}: {e}", self.project_id);
        }
    }
}

/// A fresh, empty store on its own emulator project, with blobs in a temporary directory.
pub(crate) async fn firestore_store() -> (FirestoreStore, TestProject) {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let host = emulator_host();
    let project_id = format!("aetherveil-it-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
    match TestProject::wipe(&host, &project_id) {
        Ok(200) => {}
        Ok(status) => panic!("the Firestore emulator at {host} answered {status} to the wipe of {project_id}"),
        Err(e) => panic!(
            "the Firestore emulator at {host} (FIRESTORE_EMULATOR_HOST) does not answer: {e}; \
             start it with scripts/emulators.sh start firestore"
        ),
    }
    let blobs_dir = tempfile::tempdir().expect("tempdir");
    let blobs = Arc::new(FsBlobStore::new(blobs_dir.path()));
    let config = FirestoreConfig::emulator(&project_id, &host);
    let store = FirestoreStore::connect(&config, blobs).await.expect("connect to the emulator");
    (store, TestProject { project_id, host, _blobs: blobs_dir })
}

async fn suite_store() -> (Arc<dyn Store>, TestProject) {
    let (store, project) = firestore_store().await;
    (Arc::new(store), project)
}

mod suite {
    aetherveil_store::store_test_suite!(super::suite_store);
}
