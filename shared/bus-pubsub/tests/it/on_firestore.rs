//! The bus suite with Firestore as the store: `WriteBatch::publish` writes `outbox` documents in
//! the data's transaction, and the relay publishes them.

use crate::{Guard, config};
use aetherveil_bus::testsuite::Harness;
use aetherveil_bus_pubsub::PubsubBus;
use aetherveil_store::Store;
use aetherveil_store::blob::FsBlobStore;
use aetherveil_store_firestore::{FirestoreConfig, FirestoreStore};
use std::io::{BufRead, Write};
use std::sync::Arc;

/// The Firestore emulator's `host:port` from `FIRESTORE_EMULATOR_HOST`; panics with what to do
/// when it is unset.
fn firestore_host() -> String {
    match std::env::var("FIRESTORE_EMULATOR_HOST") {
        Ok(v) if !v.trim().is_empty() => v.trim().trim_start_matches("http://").trim_end_matches('/').to_owned(),
        _ => panic!(
            "FIRESTORE_EMULATOR_HOST is not set: the Firestore run of the bus suite needs the Firestore emulator \
             (scripts/emulators.sh start firestore pubsub; eval \"$(scripts/emulators.sh env)\")"
        ),
    }
}

/// One test's Firestore project; dropping it wipes the project's documents.
pub struct Project {
    host: String,
    id: String,
    _guard: Guard,
}

impl Drop for Project {
    fn drop(&mut self) {
        let path = format!("/emulator/v1/projects/{}/databases/(default)/documents", self.id);
        let wipe = || -> std::io::Result<String> {
            let mut stream = std::net::TcpStream::connect(&self.host)?;
            stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
            write!(
                stream,
                "DELETE {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.host
            )?;
            let mut status = String::new();
            std::io::BufReader::new(stream).read_line(&mut status)?;
            Ok(status)
        };
        match wipe() {
            Ok(status) if status.contains(" 200") => {}
            other => eprintln!("could not wipe firestore project {}: {other:?}", self.id),
        }
    }
}

async fn pubsub_on_firestore() -> (Harness, Project) {
    let host = firestore_host();
    let config = config();
    let project = format!("bus{}", config.resource_prefix.trim_end_matches('-').replace('-', ""));
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = Arc::new(FsBlobStore::new(dir.path()));
    let store: Arc<dyn Store> = Arc::new(
        FirestoreStore::connect(&FirestoreConfig::emulator(&project, &host), blobs)
            .await
            .unwrap_or_else(|e| panic!("connecting to the firestore emulator at {host}: {e}")),
    );
    let bus = PubsubBus::start(config, store.clone(), None).await.expect("start the bus against the pub/sub emulator");
    (Harness { bus: Arc::new(bus), store }, Project { host, id: project, _guard: Guard { _dir: dir } })
}

aetherveil_bus::bus_test_suite!(pubsub_on_firestore);
