//! The shared bus suite, and what is particular to Pub/Sub, against the Pub/Sub emulator.
//!
//! The emulator is found through `PUBSUB_EMULATOR_HOST` (e.g. `127.0.0.1:8085`):
//!
//! ```text
//! scripts/emulators.sh start pubsub && eval "$(scripts/emulators.sh env)"
//! ```
//!
//! Without it the tests fail and say what is missing: the suite's macro has no way to skip a
//! case, so these tests never pass by skipping. Every test gets its own resource prefix, so its
//! topics and subscriptions (the suite names them all `s` and `t`) are its own.
//!
//! The shared bus suite runs with Firestore as the store ([`on_firestore`], which also needs
//! `FIRESTORE_EMULATOR_HOST`): that is the cloud pairing, where `WriteBatch::publish` writes
//! `outbox` documents that the bus relays. Over SQLite, `WriteBatch::publish` goes to the SQLite
//! outbox table, which only the local bus reads, so `batch_publish_commits_with_the_data_or_not_at_all`
//! cannot pass there; the Pub/Sub-specific tests ([`push`], [`relay`]) use SQLite.

mod on_firestore;
mod push;
mod relay;

use aetherveil_bus::RetryPolicy;
use aetherveil_bus::testsuite::{Harness, MAX_ATTEMPTS};
use aetherveil_bus_pubsub::{PubsubBus, PubsubConfig};
use aetherveil_store::{SqliteStore, Synchronous};
use std::sync::Arc;
use std::time::Duration;

pub const PROJECT: &str = "aetherveil-test";

/// The emulator's `host:port` from `PUBSUB_EMULATOR_HOST`; panics with what to do when unset.
pub fn emulator() -> String {
    match std::env::var("PUBSUB_EMULATOR_HOST") {
        Ok(v) if !v.trim().is_empty() => v.trim().trim_start_matches("http://").trim_end_matches('/').to_owned(),
        _ => panic!(
            "PUBSUB_EMULATOR_HOST is not set: these tests need the Pub/Sub emulator \
             (scripts/emulators.sh start pubsub; eval \"$(scripts/emulators.sh env)\")"
        ),
    }
}

/// A configuration for one test: the emulator, a prefix of its own, the suite's retry policy.
pub fn config() -> PubsubConfig {
    let mut config = PubsubConfig::emulator(PROJECT, &emulator());
    config.resource_prefix = format!("it-{}-", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    config.retry = RetryPolicy {
        max_attempts: MAX_ATTEMPTS,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(80),
        ..RetryPolicy::default()
    };
    config.ack_deadline = Duration::from_secs(10);
    config.relay_interval = Duration::from_millis(100);
    config.relay_lease = Duration::from_secs(5);
    config
}

pub struct Guard {
    pub _dir: tempfile::TempDir,
}

pub async fn start(config: PubsubConfig) -> (Harness, PubsubBus, SqliteStore, Guard) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("aetherveil.db"), Synchronous::Normal).expect("open");
    let (harness, bus) = start_on(config, store.clone()).await;
    (harness, bus, store, Guard { _dir: dir })
}

/// A bus over an existing store (a second process of the same deployment).
pub async fn start_on(config: PubsubConfig, store: SqliteStore) -> (Harness, PubsubBus) {
    let endpoint = config.endpoint.clone().unwrap_or_default();
    let bus = PubsubBus::start(config, Arc::new(store.clone()), None)
        .await
        .unwrap_or_else(|e| panic!("starting the bus against the emulator at {endpoint}: {e}"));
    (Harness { bus: Arc::new(bus.clone()), store: Arc::new(store) }, bus)
}
