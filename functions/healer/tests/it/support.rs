//! What the tests against a small GitHub share: a healer on a fresh SQLite store, calling the
//! GitHub a router serves on loopback.

use aetherveil_github::{Config, GitHub};
use aetherveil_healer::names::mode_id;
use aetherveil_healer::{Healer, HealerConfig};
use aetherveil_models::names;
use aetherveil_store::{SqliteStore, Store, Synchronous};
use serde_json::{Value, json};
use std::sync::Arc;

/// What `POST /repos/{repo}/issues` does: the issue `body` asks for, opened as the next number.
pub fn open_issue(issues: &mut Vec<Value>, body: &Value) -> Value {
    let number = issues.len() as u64 + 1;
    let issue = json!({"id": number, "number": number, "title": body["title"], "body": body["body"],
                       "state": "open", "labels": []});
    issues.push(issue.clone());
    issue
}

/// A healer, its store, and the state of the GitHub it calls.
pub struct Env<G> {
    pub healer: Healer,
    pub store: Arc<dyn Store>,
    pub github: G,
    _dir: tempfile::TempDir,
}

/// Serves `router` (whose state is `github`) and gives a healer with `acme/app` in `mode`.
pub async fn env<G>(router: axum::Router, github: G, mode: &str) -> Env<G> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("db.sqlite"), Synchronous::Normal).expect("open"));
    store.put(names::CONFIG, &mode_id("acme/app"), json!({"mode": mode})).await.expect("mode");
    let client = GitHub::new(Config::new(format!("http://{addr}"), "test-token")).expect("client");
    let healer = Healer::new(store.clone(), client, HealerConfig::default());
    healer.ensure_indexes().await.expect("indexes");
    Env { healer, store, github, _dir: dir }
}
