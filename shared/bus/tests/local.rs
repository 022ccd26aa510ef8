//! The shared bus suite against the local backend, plus what only the local backend can show:
//! a restart resumes from the durable cursor.

use aetherveil_bus::testsuite::{Harness, Recorder, eventually, message};
use aetherveil_bus::{Bus, LocalBus, RetryPolicy};
use aetherveil_store::{SqliteStore, Synchronous};
use std::sync::Arc;
use std::time::Duration;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: aetherveil_bus::testsuite::MAX_ATTEMPTS,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(80),
        ..RetryPolicy::default()
    }
}

async fn local() -> (Harness, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("aetherveil.db"), Synchronous::Normal).expect("open");
    let bus = LocalBus::new(store.clone(), policy());
    (Harness { bus: Arc::new(bus), store: Arc::new(store) }, dir)
}

aetherveil_bus::bus_test_suite!(local);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_where_the_subscription_left_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("aetherveil.db");
    {
        let store = SqliteStore::open(&path, Synchronous::Normal).expect("open");
        let bus = LocalBus::new(store.clone(), policy());
        let rec = Recorder::accepting();
        bus.subscribe("s", "t", rec.clone()).expect("subscribe");
        bus.publish(message("before", "t", None)).await.expect("publish");
        eventually("first delivery", || !rec.seen().is_empty()).await;
        bus.shutdown().await;
        // Published while nobody listens.
        bus.publish(message("while-down", "t", None)).await.expect("publish");
        store.close();
    }
    let store = SqliteStore::open(&path, Synchronous::Normal).expect("reopen");
    let bus = LocalBus::new(store, policy());
    let rec = Recorder::accepting();
    bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    eventually("the message published while down", || !rec.seen().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rec.seen(), [("while-down".to_owned(), 1)], "acknowledged messages are not redelivered");
    bus.shutdown().await;
}

/// Never answers, like a handler waiting out a long rate limit.
struct Stuck;

#[async_trait::async_trait]
impl aetherveil_bus::Handler for Stuck {
    async fn handle(&self, _delivery: &aetherveil_bus::Delivery) -> Result<(), aetherveil_bus::HandlerError> {
        std::future::pending().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_forever_and_the_unfinished_delivery_comes_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("aetherveil.db");
    {
        let store = SqliteStore::open(&path, Synchronous::Normal).expect("open");
        let bus = LocalBus::new(store.clone(), policy());
        bus.subscribe("s", "t", Arc::new(Stuck)).expect("subscribe");
        bus.publish(message("stuck", "t", None)).await.expect("publish");
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::time::timeout(Duration::from_secs(30), bus.shutdown()).await.expect("shutdown returns");
        store.close();
    }
    let store = SqliteStore::open(&path, Synchronous::Normal).expect("reopen");
    let bus = LocalBus::new(store, policy());
    let rec = Recorder::accepting();
    bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    eventually("the unacknowledged message again", || !rec.seen().is_empty()).await;
    assert_eq!(rec.attempts_of("stuck"), [1]);
    bus.shutdown().await;
}
