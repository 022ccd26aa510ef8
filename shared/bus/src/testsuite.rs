//! The behaviour every [`Bus`] backend must show. The harness must use a fast retry policy:
//! at most [`MAX_ATTEMPTS`] deliveries and backoffs of a few tens of milliseconds.

use crate::{Bus, Delivery, Handler, HandlerError, Message};
use aetherveil_store::{Store, WriteBatch};
use async_trait::async_trait;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The retry limit the harness's bus must be configured with.
pub const MAX_ATTEMPTS: u32 = 3;

pub struct Harness {
    pub bus: Arc<dyn Bus>,
    pub store: Arc<dyn Store>,
}

type Behaviour = dyn Fn(&Delivery) -> Result<(), HandlerError> + Send + Sync;

/// Records every delivery and answers as `behaviour` says.
pub struct Recorder {
    pub seen: Mutex<Vec<(String, u32)>>,
    behaviour: Box<Behaviour>,
}

impl Recorder {
    pub fn new(behaviour: impl Fn(&Delivery) -> Result<(), HandlerError> + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self { seen: Mutex::new(Vec::new()), behaviour: Box::new(behaviour) })
    }

    pub fn accepting() -> Arc<Self> {
        Self::new(|_| Ok(()))
    }

    pub fn seen(&self) -> Vec<(String, u32)> {
        self.seen.lock().expect("lock").clone()
    }

    pub fn attempts_of(&self, id: &str) -> Vec<u32> {
        self.seen().into_iter().filter(|(m, _)| m == id).map(|(_, a)| a).collect()
    }
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        self.seen.lock().expect("lock").push((delivery.message.id.clone(), delivery.attempt));
        (self.behaviour)(delivery)
    }
}

pub fn message(id: &str, topic: &str, key: Option<&str>) -> Message {
    Message {
        id: id.into(),
        topic: topic.into(),
        key: key.map(Into::into),
        attributes: BTreeMap::from([("source".to_owned(), "testsuite".to_owned())]),
        data: json!({"id": id}).to_string().into_bytes(),
    }
}

/// Waits (bounded) until `cond` holds; panics with `what` if it never does.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Waits (bounded) for the dead letter `id` and returns it.
pub async fn dead_letter(store: &dyn Store, id: &str) -> aetherveil_store::Doc {
    for _ in 0..500 {
        if let Some(doc) = store.get("dead_letters", id).await.expect("get") {
            return doc;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for dead letter {id}");
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

pub async fn delivers_every_message_once_in_key_order(h: Harness) {
    let rec = Recorder::accepting();
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    for i in 0..50 {
        let key = format!("k{}", i % 5);
        assert!(h.bus.publish(message(&format!("m{i:02}"), "t", Some(&key))).await.expect("publish"));
    }
    h.bus.publish(message("other-topic", "elsewhere", None)).await.expect("publish");
    eventually("50 deliveries", || rec.seen().len() >= 50).await;
    settle().await;
    let seen = rec.seen();
    assert_eq!(seen.len(), 50, "each message exactly once: {seen:?}");
    assert!(seen.iter().all(|(id, attempt)| *attempt == 1 && id != "other-topic"));
    for k in 0..5 {
        let order: Vec<_> =
            seen.iter().map(|(id, _)| id.clone()).filter(|id| id[1..].parse::<usize>().expect("n") % 5 == k).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "per-key order for key k{k}");
    }
}

pub async fn publishing_an_id_twice_delivers_once(h: Harness) {
    let rec = Recorder::accepting();
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    assert!(h.bus.publish(message("same", "t", None)).await.expect("publish"));
    assert!(!h.bus.publish(message("same", "t", None)).await.expect("publish"));
    eventually("one delivery", || !rec.seen().is_empty()).await;
    settle().await;
    assert_eq!(rec.attempts_of("same"), [1]);
}

pub async fn retryable_failures_are_redelivered_until_they_succeed(h: Harness) {
    let rec = Recorder::new(|d| {
        if d.message.id == "flaky" && d.attempt < MAX_ATTEMPTS {
            Err(HandlerError::Retry("not yet".into()))
        } else {
            Ok(())
        }
    });
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    h.bus.publish(message("flaky", "t", None)).await.expect("publish");
    h.bus.publish(message("steady", "t", None)).await.expect("publish");
    eventually("third attempt", || rec.attempts_of("flaky").len() as u32 >= MAX_ATTEMPTS).await;
    settle().await;
    assert_eq!(rec.attempts_of("flaky"), (1..=MAX_ATTEMPTS).collect::<Vec<_>>());
    assert_eq!(rec.attempts_of("steady"), [1]);
    assert!(h.store.get("dead_letters", "s:flaky").await.expect("get").is_none());
}

pub async fn messages_that_keep_failing_are_dead_lettered(h: Harness) {
    let rec =
        Recorder::new(|d| if d.message.id == "poison" { Err(HandlerError::Retry("boom".into())) } else { Ok(()) });
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    h.bus.publish(message("poison", "t", None)).await.expect("publish");
    h.bus.publish(message("after", "t", None)).await.expect("publish");
    eventually("the message after the poison one", || !rec.attempts_of("after").is_empty()).await;
    let dead = dead_letter(h.store.as_ref(), "s:poison").await;
    assert_eq!(dead.data["attempts"], MAX_ATTEMPTS);
    assert_eq!(dead.data["last_error"], "boom");
    assert_eq!(dead.data["topic"], "t");
    settle().await;
    assert_eq!(rec.attempts_of("poison").len() as u32, MAX_ATTEMPTS, "no delivery after dead-lettering");
    let stats = h.bus.stats().await.expect("stats");
    let s = stats.iter().find(|s| s.subscription == "s").expect("stats for s");
    assert_eq!((s.backlog, s.retrying), (0, 0));
}

pub async fn a_panicking_handler_fails_only_its_message(h: Harness) {
    let rec = Recorder::new(|d| {
        if d.message.id == "panics" {
            panic!("handler bug");
        }
        Ok(())
    });
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    h.bus.publish(message("panics", "t", None)).await.expect("publish");
    h.bus.publish(message("fine", "t", None)).await.expect("publish");
    let dead = dead_letter(h.store.as_ref(), "s:panics").await;
    assert!(dead.data["last_error"].as_str().expect("error").contains("panicked"), "{}", dead.data);
    assert_eq!(rec.attempts_of("panics").len() as u32, MAX_ATTEMPTS);
    assert_eq!(rec.attempts_of("fine"), [1]);
}

pub async fn permanent_failures_are_dead_lettered_at_once(h: Harness) {
    let rec = Recorder::new(|_| Err(HandlerError::Permanent("cannot ever work".into())));
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    h.bus.publish(message("bad", "t", None)).await.expect("publish");
    eventually("one attempt", || !rec.seen().is_empty()).await;
    settle().await;
    assert_eq!(rec.attempts_of("bad"), [1]);
    let dead = h.store.get("dead_letters", "s:bad").await.expect("get").expect("dead letter");
    assert_eq!(dead.data["last_error"], "cannot ever work");
}

pub async fn every_subscription_gets_every_message(h: Harness) {
    let (a, b) = (Recorder::accepting(), Recorder::accepting());
    h.bus.subscribe("a", "t", a.clone()).expect("subscribe");
    h.bus.subscribe("b", "t", b.clone()).expect("subscribe");
    assert!(h.bus.subscribe("a", "t", a.clone()).is_err(), "a name is registered once");
    for i in 0..10 {
        h.bus.publish(message(&format!("m{i}"), "t", None)).await.expect("publish");
    }
    eventually("both subscriptions", || a.seen().len() >= 10 && b.seen().len() >= 10).await;
    settle().await;
    assert_eq!((a.seen().len(), b.seen().len()), (10, 10));
}

pub async fn batch_publish_commits_with_the_data_or_not_at_all(h: Harness) {
    let rec = Recorder::accepting();
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    let ok = WriteBatch::new().create("things", "one", json!({})).publish(message("with-data", "t", None));
    h.store.commit(ok).await.expect("commit");
    let refused = WriteBatch::new().create("things", "one", json!({})).publish(message("without-data", "t", None));
    assert!(h.store.commit(refused).await.is_err());
    eventually("the committed message", || !rec.seen().is_empty()).await;
    settle().await;
    assert_eq!(rec.attempts_of("with-data"), [1]);
    assert!(rec.attempts_of("without-data").is_empty());
}

/// Expands to one `#[tokio::test]` per case. `$make` is an async function returning
/// `(Harness, guard)`.
#[macro_export]
macro_rules! bus_test_suite {
    ($make:path) => {
        $crate::bus_test_suite!(@cases $make;
            delivers_every_message_once_in_key_order,
            publishing_an_id_twice_delivers_once,
            retryable_failures_are_redelivered_until_they_succeed,
            messages_that_keep_failing_are_dead_lettered,
            a_panicking_handler_fails_only_its_message,
            permanent_failures_are_dead_lettered_at_once,
            every_subscription_gets_every_message,
            batch_publish_commits_with_the_data_or_not_at_all,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (harness, _guard) = $make().await;
                let bus = harness.bus.clone();
                $crate::testsuite::$case(harness).await;
                bus.shutdown().await;
            }
        )*
    };
}
