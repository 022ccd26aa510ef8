//! The behaviour every [`Store`] backend must show. Each case takes a fresh, empty store.
//! Run the whole suite against a backend with [`crate::store_test_suite!`].

use crate::{Message, Op, Order, Precondition, Query, Store, StoreError, WriteBatch};
use serde_json::json;
use std::sync::Arc;

pub async fn get_of_a_missing_document_is_none(store: Arc<dyn Store>) {
    assert!(store.get("things", "nope").await.expect("get").is_none());
}

pub async fn put_then_get_round_trips_and_bumps_the_version(store: Arc<dyn Store>) {
    store.put("things", "a", json!({"n": 1, "s": "x", "nested": {"k": [1, 2]}})).await.expect("put");
    let first = store.get("things", "a").await.expect("get").expect("present");
    assert_eq!(first.data, json!({"n": 1, "s": "x", "nested": {"k": [1, 2]}}));
    store.put("things", "a", json!({"n": 2})).await.expect("put");
    let second = store.get("things", "a").await.expect("get").expect("present");
    assert_eq!(second.data, json!({"n": 2}));
    assert_eq!(second.version, first.version + 1);
}

pub async fn collections_are_separate_namespaces(store: Arc<dyn Store>) {
    store.put("left", "same", json!({"side": "left"})).await.expect("put");
    store.put("right", "same", json!({"side": "right"})).await.expect("put");
    assert_eq!(store.get("left", "same").await.expect("get").expect("present").data["side"], "left");
    assert_eq!(store.get("right", "same").await.expect("get").expect("present").data["side"], "right");
}

pub async fn create_is_conditional(store: Arc<dyn Store>) {
    assert!(store.create("things", "a", json!({"v": "first"})).await.expect("create"));
    assert!(!store.create("things", "a", json!({"v": "second"})).await.expect("create"));
    assert_eq!(store.get("things", "a").await.expect("get").expect("present").data["v"], "first");
}

pub async fn concurrent_creates_have_exactly_one_winner(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.create("things", "contended", json!({"by": i})).await }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.expect("join").expect("create") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

pub async fn stale_versions_are_refused(store: Arc<dyn Store>) {
    store.put("things", "a", json!({"n": 1})).await.expect("put");
    let doc = store.get("things", "a").await.expect("get").expect("present");
    let fresh = WriteBatch::new().put_with("things", "a", json!({"n": 2}), Precondition::Version(doc.version));
    store.commit(fresh).await.expect("fresh version applies");
    let stale = WriteBatch::new().put_with("things", "a", json!({"n": 3}), Precondition::Version(doc.version));
    assert!(matches!(store.commit(stale).await, Err(StoreError::Conflict { .. })));
    assert_eq!(store.get("things", "a").await.expect("get").expect("present").data["n"], 2);
}

pub async fn a_failed_precondition_rolls_back_the_whole_batch(store: Arc<dyn Store>) {
    store.put("things", "taken", json!({"v": 0})).await.expect("put");
    let batch = WriteBatch::new()
        .put("things", "other", json!({"v": 1}))
        .blob("raw", "k", b"bytes".to_vec())
        .publish(Message {
            id: "m-1".into(),
            topic: "t".into(),
            key: None,
            attributes: Default::default(),
            data: b"{}".to_vec(),
        })
        .create("things", "taken", json!({"v": 2}));
    assert!(matches!(store.commit(batch).await, Err(StoreError::Conflict { .. })));
    assert!(store.get("things", "other").await.expect("get").is_none());
    assert!(store.get_blob("raw", "k").await.expect("blob").is_none());
    assert_eq!(store.get("things", "taken").await.expect("get").expect("present").data["v"], 0);
}

pub async fn put_if_newer_keeps_the_newest_state(store: Arc<dyn Store>) {
    let write = |v: &str, order: &str| WriteBatch::new().put_if_newer("runs", "1", json!({"v": v}), order.to_owned());
    assert_eq!(store.commit(write("b", "0002")).await.expect("commit"), vec![true]);
    assert_eq!(store.commit(write("a", "0001")).await.expect("commit"), vec![false], "older state skipped");
    assert_eq!(store.commit(write("b2", "0002")).await.expect("commit"), vec![false], "same order is a redelivery");
    assert_eq!(store.get("runs", "1").await.expect("get").expect("present").data["v"], "b");
    assert_eq!(store.commit(write("c", "0003")).await.expect("commit"), vec![true]);
    assert_eq!(store.get("runs", "1").await.expect("get").expect("present").data["v"], "c");
}

pub async fn delete_removes(store: Arc<dyn Store>) {
    store.put("things", "a", json!({})).await.expect("put");
    store.delete("things", "a").await.expect("delete");
    assert!(store.get("things", "a").await.expect("get").is_none());
    store.delete("things", "a").await.expect("deleting a missing document is fine");
}

pub async fn queries_filter_order_and_limit(store: Arc<dyn Store>) {
    for (id, repo, n, ok) in
        [("1", "o/a", 5, true), ("2", "o/b", 3, false), ("3", "o/a", 9, false), ("4", "o/a", 2, true)]
    {
        store.put("runs", id, json!({"repo": repo, "n": n, "ok": ok, "meta": {"tier": n % 2}})).await.expect("put");
    }
    store.put("other", "5", json!({"repo": "o/a", "n": 100})).await.expect("put");

    // The same answers with and without the declared indexes.
    for indexed in [false, true] {
        if indexed {
            store.ensure_index("runs", &["repo", "n"]).await.expect("index");
            store.ensure_index("runs", &["meta.tier"]).await.expect("index");
            store.ensure_index("runs", &["repo", "n"]).await.expect("declaring twice is fine");
        }
        query_cases(store.as_ref()).await;
    }
    assert!(store.ensure_index("runs", &["bad field!"]).await.is_err());
}

async fn query_cases(store: &dyn Store) {
    let ids = |docs: Vec<crate::Doc>| docs.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let q = Query::new().eq("repo", "o/a").order_by("n", Order::Desc);
    assert_eq!(ids(store.query("runs", q).await.expect("query")), ["3", "1", "4"]);
    let q = Query::new().eq("repo", "o/a").order_by("n", Order::Asc).limit(2);
    assert_eq!(ids(store.query("runs", q).await.expect("query")), ["4", "1"]);
    let q = Query::new().filter("n", Op::Ge, 3).filter("n", Op::Lt, 9).order_by("n", Order::Asc);
    assert_eq!(ids(store.query("runs", q).await.expect("query")), ["2", "1"]);
    let q = Query::new().eq("ok", true).order_by("n", Order::Asc);
    assert_eq!(ids(store.query("runs", q).await.expect("query")), ["4", "1"]);
    let q = Query::new().eq("meta.tier", 1).order_by("n", Order::Asc);
    assert_eq!(ids(store.query("runs", q).await.expect("query")), ["2", "1", "3"]);
    assert!(store.query("runs", Query::new().eq("repo", "none")).await.expect("query").is_empty());
}

pub async fn bad_field_names_are_refused(store: Arc<dyn Store>) {
    let q = Query::new().eq("x') OR ('1'='1", 1);
    assert!(matches!(store.query("runs", q).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.query("runs' OR 1=1 --", Query::new()).await, Err(StoreError::Invalid(_))));
}

pub async fn blobs_round_trip(store: Arc<dyn Store>) {
    let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    store.commit(WriteBatch::new().blob("raw", "big", bytes.clone())).await.expect("commit");
    assert_eq!(store.get_blob("raw", "big").await.expect("get").expect("present"), bytes);
    assert!(store.get_blob("raw", "missing").await.expect("get").is_none());
    // Incompressible bytes too (a backend may compress).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..10_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    store.commit(WriteBatch::new().blob("raw", "noise", noise.clone())).await.expect("commit");
    assert_eq!(store.get_blob("raw", "noise").await.expect("get").expect("present"), noise);
    store.commit(WriteBatch::new().blob("raw", "empty", Vec::new())).await.expect("commit");
    assert_eq!(store.get_blob("raw", "empty").await.expect("get").expect("present"), Vec::<u8>::new());
}

pub async fn update_is_safe_under_concurrency(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            crate::update(store.as_ref(), "counters", "c", |cur| {
                let n = cur.and_then(|v| v["n"].as_i64()).unwrap_or(0);
                json!({"n": n + 1})
            })
            .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("update");
    }
    assert_eq!(store.get("counters", "c").await.expect("get").expect("present").data["n"], 20);
}

/// Expands to one `#[tokio::test]` per case. `$make` is an async function returning
/// `(Arc<dyn Store>, guard)`; the guard (a temp dir, an emulator handle) lives as long as the test.
#[macro_export]
macro_rules! store_test_suite {
    ($make:path) => {
        $crate::store_test_suite!(@cases $make;
            get_of_a_missing_document_is_none,
            put_then_get_round_trips_and_bumps_the_version,
            collections_are_separate_namespaces,
            create_is_conditional,
            concurrent_creates_have_exactly_one_winner,
            stale_versions_are_refused,
            a_failed_precondition_rolls_back_the_whole_batch,
            put_if_newer_keeps_the_newest_state,
            delete_removes,
            queries_filter_order_and_limit,
            bad_field_names_are_refused,
            blobs_round_trip,
            update_is_safe_under_concurrency,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $make().await;
                $crate::testsuite::$case(store).await;
            }
        )*
    };
}

/// The behaviour every [`crate::blob::BlobStore`] must show. Each case gets a fresh store.
pub mod blobs {
    use crate::StoreError;
    use crate::blob::BlobStore;
    use std::sync::Arc;

    /// `n` bytes of xorshift noise from seed `x`: incompressible, reproducible content.
    pub fn noise(n: usize, mut x: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    pub async fn a_missing_object_reads_as_none(blobs: Arc<dyn BlobStore>) {
        assert!(blobs.get("raw-deliveries", "nope").await.expect("get").is_none());
        assert!(blobs.get("raw-deliveries", "a/b/nope").await.expect("get").is_none());
    }

    pub async fn objects_round_trip_byte_for_byte(blobs: Arc<dyn BlobStore>) {
        for (key, bytes) in [
            ("empty", Vec::new()),
            ("small", b"hello".to_vec()),
            ("nested/deeper/noise", noise(300_000, 7)),
            // Every character a key may have: escaped repository names put `%` in keys.
            ("acme%2Fapi~CI~test", b"escaped".to_vec()),
            ("a+b=c@d:e,f-g.h_i%25", b"alphabet".to_vec()),
            ("large", noise(6 * 1024 * 1024 + 5, 11)),
        ] {
            assert!(blobs.put("models", key, bytes.clone(), false).await.expect("put"));
            assert_eq!(blobs.get("models", key).await.expect("get").as_deref(), Some(&bytes[..]), "{key}");
        }
    }

    pub async fn an_unconditional_put_replaces(blobs: Arc<dyn BlobStore>) {
        blobs.put("models", "m/1", b"old".to_vec(), false).await.expect("put");
        assert!(blobs.put("models", "m/1", b"new".to_vec(), false).await.expect("put"));
        assert_eq!(blobs.get("models", "m/1").await.expect("get").as_deref(), Some(&b"new"[..]));
    }

    pub async fn put_if_absent_never_overwrites(blobs: Arc<dyn BlobStore>) {
        assert!(blobs.put("raw-deliveries", "d-1", b"first".to_vec(), true).await.expect("put"));
        assert!(!blobs.put("raw-deliveries", "d-1", b"second".to_vec(), true).await.expect("put"));
        assert_eq!(blobs.get("raw-deliveries", "d-1").await.expect("get").as_deref(), Some(&b"first"[..]));
    }

    pub async fn concurrent_creates_have_exactly_one_winner(blobs: Arc<dyn BlobStore>) {
        let mut tasks = Vec::new();
        for i in 0..8u8 {
            let blobs = blobs.clone();
            tasks.push(tokio::spawn(async move { blobs.put("raw-deliveries", "race", vec![i; 64], true).await }));
        }
        let mut wins = 0;
        for t in tasks {
            if t.await.expect("join").expect("put") {
                wins += 1;
            }
        }
        assert_eq!(wins, 1);
        let kept = blobs.get("raw-deliveries", "race").await.expect("get").expect("present");
        assert!(kept.len() == 64 && kept.iter().all(|b| *b == kept[0]), "one writer's whole object");
    }

    pub async fn namespaces_are_separate(blobs: Arc<dyn BlobStore>) {
        blobs.put("models", "k", b"m".to_vec(), false).await.expect("put");
        blobs.put("log-profiles", "k", b"p".to_vec(), false).await.expect("put");
        assert_eq!(blobs.get("models", "k").await.expect("get").as_deref(), Some(&b"m"[..]));
        assert_eq!(blobs.get("log-profiles", "k").await.expect("get").as_deref(), Some(&b"p"[..]));
        assert_eq!(blobs.list("models", "").await.expect("list"), vec!["k".to_owned()]);
    }

    pub async fn list_is_sorted_and_filtered_by_prefix(blobs: Arc<dyn BlobStore>) {
        for key in ["b/2", "a/1", "b/1", "c", "b/10"] {
            blobs.put("models", key, key.as_bytes().to_vec(), false).await.expect("put");
        }
        assert_eq!(blobs.list("models", "").await.expect("list"), ["a/1", "b/1", "b/10", "b/2", "c"]);
        assert_eq!(blobs.list("models", "b/").await.expect("list"), ["b/1", "b/10", "b/2"]);
        assert!(blobs.list("models", "zzz").await.expect("list").is_empty());
        assert!(blobs.list("never-written", "").await.expect("list").is_empty());
    }

    pub async fn delete_removes_and_tolerates_missing(blobs: Arc<dyn BlobStore>) {
        blobs.put("models", "gone", b"x".to_vec(), false).await.expect("put");
        blobs.delete("models", "gone").await.expect("delete");
        assert!(blobs.get("models", "gone").await.expect("get").is_none());
        blobs.delete("models", "gone").await.expect("second delete");
        // A deleted key can be created again.
        assert!(blobs.put("models", "gone", b"y".to_vec(), true).await.expect("put"));
    }

    pub async fn names_that_could_escape_are_refused(blobs: Arc<dyn BlobStore>) {
        for (ns, key) in [("models", "../x"), ("models", "a//b"), ("models", ""), ("../etc", "x"), ("a/b", "x")] {
            let r = blobs.put(ns, key, b"x".to_vec(), false).await;
            assert!(matches!(r, Err(StoreError::Invalid(_))), "{ns:?}/{key:?} gave {r:?}");
        }
    }
}

/// Expands to one `#[tokio::test]` per blob case. `$make` is an async function returning
/// `(Arc<dyn BlobStore>, guard)`.
#[macro_export]
macro_rules! blob_test_suite {
    ($make:path) => {
        $crate::blob_test_suite!(@cases $make;
            a_missing_object_reads_as_none,
            objects_round_trip_byte_for_byte,
            an_unconditional_put_replaces,
            put_if_absent_never_overwrites,
            concurrent_creates_have_exactly_one_winner,
            namespaces_are_separate,
            list_is_sorted_and_filtered_by_prefix,
            delete_removes_and_tolerates_missing,
            names_that_could_escape_are_refused,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (blobs, _guard) = $make().await;
                $crate::testsuite::blobs::$case(blobs).await;
            }
        )*
    };
}
