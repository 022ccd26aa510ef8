//! The push subscription and its receiver.

use crate::{PROJECT, config, emulator, start};
use aetherveil_bus::testsuite::{Recorder, dead_letter, eventually, message};
use aetherveil_bus::{Bus, HandlerError};
use aetherveil_runtime::oidc::{OidcConfig, OidcVerifier};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The emulator's REST API, for what the bus does not expose.
async fn rest(method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let url = format!("http://{}/v1/projects/{PROJECT}/{path}", emulator());
    let mut request = reqwest::Client::new().request(method, &url);
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(response.status().is_success(), "{url}: {}", response.status());
    response.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_push_subscription_has_ordering_backoff_and_a_dead_letter_policy() {
    let c = config();
    let prefix = c.resource_prefix.clone();
    let (h, bus, _store, _guard) = start(c).await;
    let rec = Recorder::accepting();
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    // A publish waits until the subscriptions of its topic exist.
    h.bus.publish(message("m", "t", None)).await.expect("publish");
    let sub = rest(reqwest::Method::GET, &format!("subscriptions/{prefix}s"), None).await;
    assert_eq!(sub["topic"], format!("projects/{PROJECT}/topics/{prefix}t"));
    assert_eq!(sub["pushConfig"]["pushEndpoint"], bus.push_endpoint("s"));
    assert_eq!(sub["enableMessageOrdering"], true);
    assert_eq!(sub["deadLetterPolicy"]["deadLetterTopic"], format!("projects/{PROJECT}/topics/{prefix}t-dead-letter"));
    assert_eq!(sub["deadLetterPolicy"]["maxDeliveryAttempts"], 5);
    assert!(sub["retryPolicy"]["minimumBackoff"].is_string(), "{sub}");
    eventually("the delivery", || !rec.seen().is_empty()).await;
    bus.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_also_reach_the_dead_letter_topic() {
    let c = config();
    let prefix = c.resource_prefix.clone();
    let (h, bus, _store, _guard) = start(c).await;
    let rec = Recorder::new(|_| Err(HandlerError::Permanent("cannot ever work".into())));
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    h.bus.publish(message("bad", "t", Some("run-9"))).await.expect("publish");
    let doc = dead_letter(h.store.as_ref(), "s:bad").await;
    assert_eq!(doc.data["key"], "run-9");
    let mut received = Vec::new();
    for _ in 0..50 {
        let pulled = rest(
            reqwest::Method::POST,
            &format!("subscriptions/{prefix}t-dead-letter:pull"),
            Some(serde_json::json!({"maxMessages": 10, "returnImmediately": true})),
        )
        .await;
        if let Some(msgs) = pulled["receivedMessages"].as_array() {
            received.extend(msgs.iter().cloned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(received.len(), 1, "one dead letter on the topic: {received:?}");
    let attributes = &received[0]["message"]["attributes"];
    assert_eq!(attributes["subscription"], "s");
    assert_eq!(attributes["last_error"], "cannot ever work");
    assert_eq!(attributes["attempts"], "1");
    assert_eq!(attributes["source"], "testsuite", "the original attributes travel along");
    bus.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_process_takes_the_subscription_over_at_its_new_address() {
    let c = config();
    let (h1, first, _s1, _g1) = start(c.clone()).await;
    let old = Recorder::accepting();
    h1.bus.subscribe("s", "t", old.clone()).expect("subscribe");
    h1.bus.publish(message("before", "t", None)).await.expect("publish");
    eventually("the first process's delivery", || !old.seen().is_empty()).await;
    first.shutdown().await;

    let (h2, second, _s2, _g2) = start(c).await;
    assert_ne!(first.push_endpoint("s"), second.push_endpoint("s"));
    let new = Recorder::accepting();
    h2.bus.subscribe("s", "t", new.clone()).expect("subscribe");
    h2.bus.publish(message("after", "t", None)).await.expect("publish");
    eventually("the second process's delivery", || !new.seen().is_empty()).await;
    assert_eq!(new.attempts_of("after"), [1]);
    assert!(old.attempts_of("after").is_empty());
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_push_auth_a_push_without_a_token_is_refused() {
    let mut c = config();
    let mut oidc = OidcConfig::google("https://aetherveil.example/push");
    // Never fetched: a request without a token is refused before any key is needed.
    oidc.jwks_url = "http://127.0.0.1:9/certs".into();
    c.push_auth = Some(Arc::new(OidcVerifier::new(oidc).expect("verifier")));
    let (h, bus, _store, _guard) = start(c).await;
    h.bus.subscribe("s", "t", Recorder::accepting()).expect("subscribe");
    let response = reqwest::Client::new()
        .post(bus.push_endpoint("s"))
        .json(&serde_json::json!({"message": {"data": "", "messageId": "1"}}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert!(response.text().await.expect("body").contains("missing bearer token"));
    bus.shutdown().await;
}
